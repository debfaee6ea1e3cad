/*
 * weft_app_check.c — weft-app-check FILE.so [NAME]: the probe weftd runs
 * on every app before loading it into the node (control/ctl_apps_load.c),
 * in a process of its own so that a crash costs nothing. NAME is what
 * weft_app_name answers (default: the file name up to its first dot).
 *
 * It dlopens FILE (RTLD_NOW: every symbol must resolve, against the app
 * API defined here and libweft), resolves weft_app_init (required) and
 * weft_app_fini (optional), runs init against a recording no-op weft_app
 * (every call succeeds without effect and is counted; weft_app_client
 * returns NULL with errno ENOTCONN, so grid calls fail with INVALID_ARG),
 * then fini. It reports each stage on stderr as a "weft-app-check: " line
 * — "loading FILE", "calling init", "calling fini", then "ok: ..." (exit
 * 0) or "refused: CAUSE" (exit 1) — so weftd tells where a crash (a
 * signal) happened. Exit 2: usage.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/app.h>

struct weft_app {
	char name[65];
};

static struct {
	unsigned listeners, daemons, jobs, publishes;
} rec;

static void say(const char *fmt, const char *arg)
{
	fflush(stdout);
	fprintf(stderr, "weft-app-check: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	fflush(stderr);
}

/* --- the recording no-op app API ------------------------------------------- */

const char *weft_app_name(const weft_app *app)
{
	return app ? app->name : NULL;
}

weft_client *weft_app_client(weft_app *app)
{
	(void)app;
	errno = ENOTCONN;
	return NULL;
}

int weft_app_publish(weft_app *app, const char *dest, const void *body, size_t len,
		     const struct weft_publish_opts *po)
{
	(void)app, (void)dest, (void)body, (void)len, (void)po;
	rec.publishes++;
	return 0;
}

int weft_app_listen(weft_app *app, const char *dest, const char *durable, weft_listener_fn fn,
		    void *ctx)
{
	(void)app, (void)durable, (void)ctx;
	if (dest == NULL || fn == NULL)
		return -EINVAL;
	rec.listeners++;
	return 0;
}

int weft_app_session_listen(weft_app *app, const char *store, weft_session_event_fn fn,
			    void *ctx)
{
	(void)app, (void)store, (void)ctx;
	if (fn == NULL)
		return -EINVAL;
	rec.listeners++;
	return 0;
}

int weft_daemonize(weft_app *app, const char *name, weft_daemon_fn start, weft_daemon_fn stop,
		   void *ctx, const struct weft_daemon_opts *opts)
{
	(void)app, (void)stop, (void)ctx, (void)opts;
	if (name == NULL || start == NULL)
		return -EINVAL;
	rec.daemons++;
	return 0;
}

uint64_t weft_daemon_epoch(const weft_daemon *d)
{
	(void)d;
	return 0;
}

bool weft_daemon_stopping(const weft_daemon *d)
{
	(void)d;
	return true;
}

weft_app *weft_daemon_app(weft_daemon *d)
{
	(void)d;
	return NULL;
}

const char *weft_daemon_name(const weft_daemon *d)
{
	(void)d;
	return NULL;
}

int weft_schedule(weft_app *app, const char *name, const char *spec, weft_job_fn fn, void *ctx,
		  const struct weft_job_opts *opts)
{
	(void)app, (void)ctx, (void)opts;
	if (name == NULL || spec == NULL || fn == NULL)
		return -EINVAL;
	rec.jobs++;
	return 0;
}

uint64_t weft_job_epoch(const weft_job *j)
{
	(void)j;
	return 0;
}

weft_app *weft_job_app(weft_job *j)
{
	(void)j;
	return NULL;
}

const char *weft_job_name(const weft_job *j)
{
	(void)j;
	return NULL;
}

/* --- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: weft-app-check FILE.so [NAME]\n");
		return 2;
	}
	struct weft_app app;
	const char *base = strrchr(argv[1], '/');
	base = base ? base + 1 : argv[1];
	if (argc == 3)
		snprintf(app.name, sizeof(app.name), "%s", argv[2]);
	else
		snprintf(app.name, sizeof(app.name), "%.*s", (int)strcspn(base, "."), base);
	say("loading %s", argv[1]);
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		say("refused: cannot load: %s", dlerror());
		return 1;
	}
	weft_app_init_fn init = (weft_app_init_fn)dlsym(h, WEFT_APP_INIT_SYMBOL);
	weft_app_fini_fn fini = (weft_app_fini_fn)dlsym(h, WEFT_APP_FINI_SYMBOL);
	if (init == NULL) {
		say("refused: %s", "weft_app_init missing");
		return 1;
	}
	say("calling init%s", "");
	int rc = init(&app);
	if (rc != 0) {
		char n[32];
		snprintf(n, sizeof(n), "%d", rc);
		say("refused: init returned %s", n);
		return 1;
	}
	if (fini != NULL) {
		say("calling fini%s", "");
		fini(&app);
	}
	char sum[128];
	snprintf(sum, sizeof(sum), "%u listener(s), %u daemon(s), %u job(s)", rec.listeners,
		 rec.daemons, rec.jobs);
	say("ok: %s", sum);
	return 0;
}
