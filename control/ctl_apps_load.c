/*
 * ctl_apps_load.c — deploying and undeploying one app, on a pool thread.
 *
 * Load: the source (a deployments/ file or a cache value) is written to a
 * private copy home/apps/NAME-GEN.so (GEN distinct for every load: dlopen
 * of a new path always gives a new handle, and the folder's file may
 * change under us); the copy is run once in the probe (weft-app-check, a
 * separate process, CTL_APPS_PROBE_MS at most), so that a missing
 * weft_app_init, an init that fails or an init that crashes or hangs is
 * refused without harm to the node; then it is dlopen'ed (RTLD_NOW |
 * RTLD_LOCAL: every symbol resolved now, against weftd's exported API and
 * libweft) and its init runs here. Every refusal is one log line
 * "app NAME refused: CAUSE".
 *
 * Undeploy: listeners end (bounded), the services stop the app's daemons
 * and jobs, fini runs, the handle is closed and the copy removed. If a
 * listener's callback, a daemon or a job does not end in time, the code
 * stays loaded (it is still running), that is logged, and the app goes to
 * rt->kept: shutdown frees it once no thread can run its code.
 *
 * Shutdown (rt->closing, see ctl_apps_internal.h): an op that starts
 * after it began loads nothing; an op whose load was running undoes it
 * (unloads the new app) instead of installing it.
 *
 * The probe's protocol: it prints "weft-app-check: " lines on stdout /
 * stderr as it goes ("loading", "calling init", "calling fini", "ok: ..."
 * or "refused: CAUSE") and exits 0 when the app is fine, 1 when refused.
 * A signal means a crash in the stage of its last line.
 */
#define _GNU_SOURCE /* pipe2, strsignal */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl_apps_internal.h"

extern char **environ;

#define PROBE_TAG "weft-app-check: "

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Reads the probe's output until EOF or deadline; keeps the last
 * PROBE_TAG line (without the tag) in last[]. */
static void probe_read(int fd, uint64_t deadline, char *last, size_t cap)
{
	char line[512];
	size_t ll = 0;
	for (;;) {
		uint64_t now = mono_ms();
		if (now >= deadline)
			return;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		char buf[1024];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = '\0';
			if (strncmp(line, PROBE_TAG, strlen(PROBE_TAG)) == 0)
				snprintf(last, cap, "%s", line + strlen(PROBE_TAG));
			ll = 0;
		}
	}
}

/* Reaps pid by deadline, killing it then. Returns its wait status; *killed
 * tells whether the deadline killed it. */
static int probe_reap(pid_t pid, uint64_t deadline, bool *killed)
{
	int st = 0;
	*killed = false;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return st;
		if (mono_ms() >= deadline)
			break;
		struct timespec ts = {0, 2000000L};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	*killed = true;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

int ctl_apps_probe(const struct ctl_apps *rt, const char *path, const char *name, char *why,
		   size_t cap)
{
	if (rt->probe[0] == '\0') {
		snprintf(why, cap, "the probe weft-app-check was not found");
		return -1;
	}
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(why, cap, "cannot run the probe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	char *argv[] = {(char *)rt->probe, (char *)path, (char *)name, NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, rt->probe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		snprintf(why, cap, "cannot run the probe %s: %s", rt->probe, strerror(rc));
		return -1;
	}
	uint64_t deadline = mono_ms() + CTL_APPS_PROBE_MS;
	char last[512] = "";
	probe_read(fds[0], deadline, last, sizeof(last));
	bool killed;
	int st = probe_reap(pid, deadline, &killed);
	close(fds[0]);
	const char *stage = strcmp(last, "calling init") == 0   ? "in init"
			    : strcmp(last, "calling fini") == 0 ? "in fini"
			    : strncmp(last, "loading", 7) == 0   ? "while loading"
								 : "in the probe";
	if (killed) {
		snprintf(why, cap, "did not return %s within %u s (probe killed)", stage,
			 CTL_APPS_PROBE_MS / 1000u);
		return -1;
	}
	if (WIFSIGNALED(st)) {
		snprintf(why, cap, "crashed %s (signal %d, %s)", stage, WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
		return -1;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && strncmp(last, "ok", 2) == 0)
		return 0;
	if (strncmp(last, "refused: ", 9) == 0)
		snprintf(why, cap, "%s", last + 9);
	else
		snprintf(why, cap, "exited %s (status %d)", stage, WEXITSTATUS(st));
	return -1;
}

/* Writes len bytes of buf (or the file src when buf is NULL) to dst. */
static int write_copy(const char *dst, const char *src, const void *buf, size_t len)
{
	void *mem = NULL;
	if (buf == NULL) {
		FILE *in = fopen(src, "rb");
		if (in == NULL)
			return -errno;
		fseek(in, 0, SEEK_END);
		long sz = ftell(in);
		fseek(in, 0, SEEK_SET);
		mem = sz >= 0 ? malloc((size_t)sz + 1) : NULL;
		bool ok = mem != NULL && fread(mem, 1, (size_t)sz, in) == (size_t)sz;
		fclose(in);
		if (!ok) {
			free(mem);
			return -EIO;
		}
		buf = mem;
		len = (size_t)sz;
	}
	int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = fd < 0 ? -errno : 0;
	if (fd >= 0) {
		if (write(fd, buf, len) != (ssize_t)len)
			rc = -EIO;
		close(fd);
	}
	free(mem);
	return rc;
}

static const char *src_name(enum ctl_app_src s)
{
	return s == CTL_SRC_DIR ? "deployments/" : s == CTL_SRC_NODE ? "weftctl deploy"
						     : "weftctl deploy --all";
}

static void app_free(struct ctl_app *a)
{
	for (struct ctl_listener *l = a->listeners, *n; l; l = n) {
		n = l->next;
		free(l);
	}
	free(a);
}

/* Stops a's listeners, daemons and jobs, runs fini (run_fini), unloads
 * and frees it. false when a listener is still in a callback or a daemon
 * or job did not end: a stays loaded (its code is running) and goes to
 * rt->kept. */
static bool teardown(struct ctl_apps *rt, struct ctl_app *a, bool run_fini)
{
	bool ok = ctl_apps_stop_listeners(rt, a);
	if (ctl_services_app_gone(rt->sv, &a->pub) != 0)
		ok = false;
	if (!ok) {
		pthread_mutex_lock(&rt->mu);
		a->kept_next = rt->kept;
		rt->kept = a;
		pthread_mutex_unlock(&rt->mu);
		return false;
	}
	if (run_fini && a->fini != NULL)
		a->fini(&a->pub);
	dlclose(a->handle);
	unlink(a->path);
	app_free(a);
	return true;
}

/* Loads op's source as a new generation of name. NULL when refused. */
static struct ctl_app *load(struct ctl_apps *rt, const char *name, const struct ctl_app_op *op)
{
	pthread_mutex_lock(&rt->mu);
	uint64_t gen = ++rt->generation;
	pthread_mutex_unlock(&rt->mu);
	struct ctl_app *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		weft_ctl_log(WEFT_LOG_ERROR, "app %s refused: out of memory", name);
		return NULL;
	}
	snprintf(a->pub.name, sizeof(a->pub.name), "%s", name);
	a->pub.rt = rt;
	a->pub.generation = gen;
	snprintf(a->path, sizeof(a->path), "%s/apps/%s-%llu.so", rt->home, name,
		 (unsigned long long)gen);
	int rc = write_copy(a->path, op->path, op->want.src == CTL_SRC_DIR ? NULL : op->bytes,
			    op->len);
	if (rc < 0) {
		weft_ctl_log(WEFT_LOG_ERROR, "app %s refused: cannot copy it to %s: %s", name,
			     a->path, strerror(-rc));
		unlink(a->path);
		app_free(a);
		return NULL;
	}
	char why[640];
	const char *cause = NULL;
	if (ctl_apps_probe(rt, a->path, name, why, sizeof(why)) != 0) {
		cause = why;
	} else if ((a->handle = dlopen(a->path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(why, sizeof(why), "cannot load: %s", dlerror());
		cause = why;
	}
	weft_app_init_fn init = NULL;
	if (cause == NULL) {
		init = (weft_app_init_fn)dlsym(a->handle, WEFT_APP_INIT_SYMBOL);
		a->fini = (weft_app_fini_fn)dlsym(a->handle, WEFT_APP_FINI_SYMBOL);
		if (init == NULL)
			cause = "weft_app_init missing";
	}
	if (cause == NULL) {
		weft_ctl_log(WEFT_LOG_INFO, "app %s: generation %llu from %s, running init", name,
			     (unsigned long long)gen, src_name(op->want.src));
		rc = init(&a->pub);
		if (rc != 0) {
			snprintf(why, sizeof(why), "init returned %d", rc);
			cause = why;
			teardown(rt, a, false); /* init failed: no fini */
			a = NULL;
		}
	}
	if (cause != NULL) {
		weft_ctl_log(WEFT_LOG_WARN, "app %s refused: %s", name, cause);
		if (a != NULL) {
			if (a->handle != NULL)
				dlclose(a->handle);
			unlink(a->path);
			app_free(a);
		}
		return NULL;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	a->loaded_unix_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
	weft_ctl_log(WEFT_LOG_INFO, "app %s deployed (generation %llu)", name,
		     (unsigned long long)gen);
	return a;
}

void ctl_apps_unload(struct ctl_apps *rt, struct ctl_app *a)
{
	char name[sizeof(a->pub.name)];
	memcpy(name, a->pub.name, sizeof(name));
	uint64_t gen = a->pub.generation;
	if (teardown(rt, a, true))
		weft_ctl_log(WEFT_LOG_INFO, "app %s undeployed (generation %llu)", name,
			     (unsigned long long)gen);
}

void ctl_apps_release_kept(struct ctl_apps *rt)
{
	pthread_mutex_lock(&rt->mu);
	struct ctl_app *a = rt->kept;
	rt->kept = NULL;
	pthread_mutex_unlock(&rt->mu);
	for (struct ctl_app *next; a != NULL; a = next) {
		next = a->kept_next;
		weft_ctl_log(WEFT_LOG_WARN, "app %s (generation %llu): its undeploy did not finish; "
			     "released at shutdown without fini (its code stays mapped)",
			     a->pub.name, (unsigned long long)a->pub.generation);
		unlink(a->path);
		app_free(a);
	}
}

static bool closing(struct ctl_apps *rt)
{
	pthread_mutex_lock(&rt->mu);
	bool c = rt->closing;
	pthread_mutex_unlock(&rt->mu);
	return c;
}

void ctl_apps_op_run(void *arg)
{
	struct ctl_app_op *op = arg;
	struct ctl_apps *rt = op->rt;
	struct ctl_app_slot *s = op->slot;
	/* Out of the slot before it is freed (the status job reads s->app);
	 * the slot stays busy until the end. */
	pthread_mutex_lock(&rt->mu);
	struct ctl_app *old = s->app;
	s->app = NULL;
	pthread_mutex_unlock(&rt->mu);
	if (old != NULL)
		ctl_apps_unload(rt, old);
	struct ctl_app_want want = op->want;
	if (want.src != CTL_SRC_NONE && closing(rt))
		want = (struct ctl_app_want){0}; /* shutting down: nothing loads */
	struct ctl_app *a = want.src != CTL_SRC_NONE ? load(rt, s->name, op) : NULL;
	pthread_mutex_lock(&rt->mu);
	if (a != NULL && rt->closing) {
		/* Shutdown began during the load: undone, not installed. */
		pthread_mutex_unlock(&rt->mu);
		ctl_apps_unload(rt, a);
		a = NULL;
		want = (struct ctl_app_want){0};
		pthread_mutex_lock(&rt->mu);
	}
	s->app = a;
	s->cur = want;
	s->busy = false;
	pthread_cond_broadcast(&rt->cv);
	pthread_mutex_unlock(&rt->mu);
	free(op->bytes);
	free(op);
}
