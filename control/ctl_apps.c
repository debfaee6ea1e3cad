/*
 * ctl_apps.c — the app runtime of weftd: creation and shutdown, the tick,
 * the app API that is not about daemons or jobs (weft_app_name /
 * weft_app_client / weft_app_publish / weft_app_listen /
 * weft_app_session_listen) and listeners. A session listener is a
 * listener on "/topic/<store>.events" whose messages are decoded into
 * (event, id) before its callback (undecodable ones are skipped).
 *
 * A listener is a pool job that owns one consumer on its thread's in-node
 * client and runs weft_listen in slices of CTL_APPS_LISTEN_SLICE_MS,
 * looking at its app's stopping flag between slices: each message's
 * callback runs on that pool thread; a message that arrives once the app
 * is stopping is nacked (another consumer gets it). Failures are logged
 * once per distinct status and retried every second until the app is
 * undeployed; the listener ends for good when fn returns < 0 or the
 * destination name is refused.
 *
 * Status: every tick also queues a status job that composes the APPS
 * text (wire.h: "app" lines for the loaded apps, then the services'
 * daemon and job lines) and publishes it with weft_dp_apps_publish.
 *
 * Shutdown (ctl_apps_destroy): rt->closing is set, so no op installs an
 * app any more (ctl_apps_load.c); destroy waits until no op is in flight
 * and no app is installed, submitting an undeploy op (listeners, daemons
 * and jobs, fini) for every app installed, then the services stop, then
 * the pool; last, the apps whose undeploy could not finish (rt->kept) are
 * freed, since no thread can run their code any more. The caller goes
 * QSBR offline meanwhile, since pool threads close their in-node clients
 * (a grace period) as they end. Bounds: each undeploy's (listeners and
 * services, 10 s each); an op in flight whose init does not return is
 * waited for (logged every 5 s), as is app code that never returns (the
 * pool's stop joins its threads).
 */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <urcu-qsbr.h>

#include "ctl_apps_internal.h"

bool ctl_apps_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > WEFT_CTL_NAME_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* The probe: cfg's, else weft-app-check next to the running executable. */
static void probe_find(struct ctl_apps *rt, const char *given)
{
	char exe[CTL_APPS_HOME_MAX];
	if (given != NULL) {
		snprintf(rt->probe, sizeof(rt->probe), "%s", given);
	} else {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash != NULL)
			*slash = '\0';
		snprintf(rt->probe, sizeof(rt->probe), "%s/weft-app-check", exe);
	}
	if (access(rt->probe, X_OK) != 0) {
		weft_ctl_log(WEFT_LOG_WARN,
			     "app probe %s not found: every app will be refused", rt->probe);
		rt->probe[0] = '\0';
	}
}

/* home/apps holds the private copies of one run: empty it. */
static int apps_dir_prepare(const char *home)
{
	char dir[CTL_APPS_PATH + 8], f[2 * CTL_APPS_PATH];
	snprintf(dir, sizeof(dir), "%s/apps", home);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	DIR *d = opendir(dir);
	if (d == NULL)
		return -errno;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t n = strlen(e->d_name);
		if (n > 3 && strcmp(e->d_name + n - 3, ".so") == 0) {
			snprintf(f, sizeof(f), "%s/%s", dir, e->d_name);
			unlink(f);
		}
	}
	closedir(d);
	return 0;
}

struct ctl_apps *ctl_apps_create(const struct ctl_apps_cfg *cfg)
{
	if (cfg == NULL || cfg->dp == NULL || cfg->home == NULL || cfg->reg == NULL ||
	    cfg->node_name == NULL || cfg->node_id == NULL || cfg->threads > CTL_APPS_POOL_MAX ||
	    strlen(cfg->home) >= CTL_APPS_HOME_MAX) {
		errno = EINVAL;
		return NULL;
	}
	struct ctl_apps *rt = calloc(1, sizeof(*rt));
	if (rt == NULL)
		return NULL;
	rt->cfg = *cfg;
	snprintf(rt->home, sizeof(rt->home), "%s", cfg->home);
	snprintf(rt->node_name, sizeof(rt->node_name), "%s", cfg->node_name);
	rt->cfg.home = rt->home;
	rt->cfg.node_name = rt->node_name;
	memcpy(rt->node_id, cfg->node_id, 16);
	rt->cfg.node_id = rt->node_id;
	rt->cfg.probe = NULL;
	char ip[INET_ADDRSTRLEN] = "";
	inet_ntop(AF_INET, &cfg->bind_ip, ip, sizeof(ip));
	snprintf(rt->addr, sizeof(rt->addr), "%s:%u", ip, cfg->udp_port);
	int n = snprintf(rt->node_cache, sizeof(rt->node_cache), "weft.deploy.%s",
			 cfg->node_name);
	if (n < 0 || (size_t)n >= sizeof(rt->node_cache)) {
		weft_ctl_log(WEFT_LOG_WARN, "node name %s too long for cache weft.deploy.NAME: "
			     "only weft.apps and deployments/ deploy apps here", cfg->node_name);
		rt->node_cache[0] = '\0';
	}
	probe_find(rt, cfg->probe);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rt->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&rt->mu, NULL);
	int rc = apps_dir_prepare(rt->home);
	if (rc == 0)
		rc = ctl_apps_clients_init(rt);
	if (rc == 0) {
		rc = ctl_pool_init(&rt->pool, cfg->threads ? cfg->threads : CTL_APPS_POOL_DEFAULT);
		if (rc < 0)
			pthread_key_delete(rt->tkey);
	}
	if (rc == 0) {
		rt->sv = ctl_services_create(rt, cfg->dp, rt->node_id);
		if (rt->sv == NULL) {
			rc = -errno;
			ctl_pool_fini(&rt->pool);
			pthread_key_delete(rt->tkey);
		}
	}
	if (rc < 0) {
		pthread_mutex_destroy(&rt->mu);
		pthread_cond_destroy(&rt->cv);
		free(rt);
		errno = -rc;
		return NULL;
	}
	weft_ctl_log(WEFT_LOG_INFO, "apps: watching %s/deployments, caches %s and weft.apps "
		     "(pool of %u threads)", rt->home, rt->node_cache[0] ? rt->node_cache : "-",
		     ctl_pool_threads(&rt->pool));
	return rt;
}

/* The APPS text (wire.h): "app" lines for the loaded apps, then the
 * services' daemon and job lines. A pool job (the services' lock must not
 * be waited for on the control thread); publishes and clears
 * rt->status_busy. */
static void status_job(void *arg)
{
	struct ctl_apps *rt = arg;
	size_t cap = 4096, len = 0;
	char *buf = NULL;
	for (int attempt = 0; attempt < 4; attempt++) {
		char *nb = realloc(buf, cap);
		if (nb == NULL)
			break;
		buf = nb;
		len = 0;
		pthread_mutex_lock(&rt->mu);
		for (const struct ctl_app_slot *s = rt->slots; s; s = s->next) {
			if (s->app == NULL)
				continue;
			int n = snprintf(len < cap ? buf + len : NULL, len < cap ? cap - len : 0,
					 "app %s loaded %llu generation %llu\n", s->name,
					 (unsigned long long)s->app->loaded_unix_ms,
					 (unsigned long long)s->app->pub.generation);
			len += n > 0 ? (size_t)n : 0;
		}
		pthread_mutex_unlock(&rt->mu);
		len += ctl_services_status(rt->sv, len < cap ? buf + len : NULL,
					   len < cap ? cap - len : 0);
		if (len < cap) {
			weft_dp_apps_publish(rt->cfg.dp, buf, len);
			break;
		}
		cap = len + 256; /* grown meanwhile: try once more, bigger */
	}
	free(buf);
	pthread_mutex_lock(&rt->mu);
	rt->status_busy = false;
	pthread_cond_broadcast(&rt->cv);
	pthread_mutex_unlock(&rt->mu);
}

void ctl_apps_tick(struct ctl_apps *rt, uint64_t now_ms)
{
	if (rt == NULL || now_ms < rt->next_tick_ms)
		return;
	rt->next_tick_ms = now_ms + 1000u;
	ctl_apps_reconcile(rt, true, now_ms);
	pthread_mutex_lock(&rt->mu);
	bool submit = !rt->status_busy;
	rt->status_busy = true;
	pthread_mutex_unlock(&rt->mu);
	if (submit && ctl_apps_submit(rt, status_job, rt) < 0) {
		pthread_mutex_lock(&rt->mu);
		rt->status_busy = false;
		pthread_mutex_unlock(&rt->mu);
	}
}

/* True when no op or status job is in flight and no app is loaded (rt->mu
 * held). */
static bool all_gone(const struct ctl_apps *rt)
{
	if (rt->status_busy)
		return false;
	for (const struct ctl_app_slot *s = rt->slots; s; s = s->next)
		if (s->busy || s->app != NULL)
			return false;
	return true;
}

void ctl_apps_destroy(struct ctl_apps *rt)
{
	if (rt == NULL)
		return;
	bool online = urcu_qsbr_read_ongoing();
	if (online)
		urcu_qsbr_thread_offline();
	pthread_mutex_lock(&rt->mu);
	rt->closing = true;
	unsigned waited_s = 0;
	while (!all_gone(rt)) {
		pthread_mutex_unlock(&rt->mu);
		ctl_apps_reconcile(rt, false, 0); /* unload ops for idle slots */
		pthread_mutex_lock(&rt->mu);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		if (pthread_cond_timedwait(&rt->cv, &rt->mu, &ts) != 0 && ++waited_s % 5 == 0)
			weft_ctl_log(WEFT_LOG_WARN, "apps: still waiting for apps to stop (%u s)",
				     waited_s);
	}
	pthread_mutex_unlock(&rt->mu);
	ctl_apps_reconcile(rt, false, 0); /* frees the idle slots */
	ctl_services_destroy(rt->sv);
	weft_dp_apps_publish(rt->cfg.dp, "", 0); /* none any more */
	ctl_pool_fini(&rt->pool);
	ctl_apps_release_kept(rt); /* every thread that ran app code is joined */
	pthread_key_delete(rt->tkey);
	pthread_mutex_destroy(&rt->mu);
	pthread_cond_destroy(&rt->cv);
	free(rt);
	if (online)
		urcu_qsbr_thread_online();
}

struct ctl_services *ctl_apps_services(struct ctl_apps *rt)
{
	return rt ? rt->sv : NULL;
}

/* --- the app API ------------------------------------------------------------ */

const char *weft_app_name(const weft_app *app)
{
	return app ? app->name : NULL;
}

weft_client *weft_app_client(weft_app *app)
{
	if (app == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return ctl_apps_thread_client(app->rt);
}

int weft_app_publish(weft_app *app, const char *dest, const void *body, size_t len,
		     const struct weft_publish_opts *po)
{
	weft_client *c = weft_app_client(app);
	if (c == NULL)
		return -WEFT_ST_IO;
	return weft_publish(c, dest, body, len, po, NULL, NULL);
}

static bool app_stopping(struct ctl_app *a)
{
	return __atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE);
}

/* Waits up to ms for the app to be stopping. */
static void wait_stopping(struct ctl_apps *rt, struct ctl_app *a, unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000u;
	ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rt->mu);
	while (!a->stopping && pthread_cond_timedwait(&rt->cv, &rt->mu, &ts) == 0)
		;
	pthread_mutex_unlock(&rt->mu);
}

static int on_message(void *ctx, const struct weft_message *m)
{
	struct ctl_listener *ls = ctx;
	if (app_stopping(ls->app))
		return 1; /* nack: another consumer takes it */
	int v;
	if (ls->sess_fn != NULL) {
		enum weft_session_event ev;
		struct weft_session_id id;
		if (weft_session_event_of(m, &ev, &id) != 0)
			return 0; /* not a session event: skipped */
		v = ls->sess_fn(ls->ctx, ev, &id) < 0 ? -1 : 0;
	} else {
		v = ls->fn(ls->ctx, m);
	}
	if (v < 0)
		ls->ended = true;
	return v;
}

static void listen_main(void *arg)
{
	struct ctl_listener *ls = arg;
	struct ctl_app *a = ls->app;
	struct ctl_apps *rt = a->pub.rt;
	weft_consumer *k = NULL;
	int last = 0;
	while (!app_stopping(a) && !ls->ended) {
		int rc;
		if (k == NULL) {
			weft_client *c = ctl_apps_thread_client(rt);
			k = c ? weft_consumer_open(c, ls->dest, ls->has_durable ? ls->durable : NULL)
			      : NULL;
			rc = k ? 0 : -WEFT_ST_IO;
		} else {
			rc = weft_listen(k, on_message, ls, CTL_APPS_LISTEN_SLICE_MS);
		}
		if (rc == -WEFT_ST_INVALID_ARG || rc == -WEFT_ST_BAD_REQUEST) {
			weft_ctl_log(WEFT_LOG_ERROR, "app %s: listener on %s ended: %s",
				     a->pub.name, ls->dest, weft_strerror(rc));
			break;
		}
		if (rc < 0 && rc != last)
			weft_ctl_log(WEFT_LOG_WARN, "app %s: listener on %s: %s (retrying)",
				     a->pub.name, ls->dest, weft_strerror(rc));
		else if (rc == 0 && last != 0)
			weft_ctl_log(WEFT_LOG_INFO, "app %s: listener on %s receiving again",
				     a->pub.name, ls->dest);
		last = rc;
		if (rc < 0)
			wait_stopping(rt, a, 1000u);
	}
	weft_consumer_close(k, false);
	pthread_mutex_lock(&rt->mu);
	a->listeners_running--;
	pthread_cond_broadcast(&rt->cv);
	pthread_mutex_unlock(&rt->mu);
}

/* A destination name a consumer may open: /queue/X or /topic/X, at most
 * WEFT_MAX_NAME_LEN bytes of 0x21..0x7e. */
static bool dest_ok(const char *d, size_t *len)
{
	size_t n = strnlen(d, WEFT_MAX_NAME_LEN + 1);
	if (n > WEFT_MAX_NAME_LEN || n < 8 ||
	    (strncmp(d, "/queue/", 7) != 0 && strncmp(d, "/topic/", 7) != 0))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)d[i] < 0x21 || (unsigned char)d[i] > 0x7e)
			return false;
	*len = n;
	return true;
}

/* Adds a listener (fn or sess_fn) and submits its job. */
static int add_listener(weft_app *app, const char *dest, const char *durable,
			weft_listener_fn fn, weft_session_event_fn sess_fn, void *ctx)
{
	size_t dl, kl = 0;
	if (app == NULL || (fn == NULL && sess_fn == NULL) || dest == NULL || !dest_ok(dest, &dl))
		return -EINVAL;
	if (durable != NULL) {
		kl = strnlen(durable, WEFT_MAX_NAME_LEN + 1);
		if (strncmp(dest, "/topic/", 7) != 0 || kl == 0 || kl > WEFT_MAX_NAME_LEN)
			return -EINVAL;
		for (size_t i = 0; i < kl; i++)
			if ((unsigned char)durable[i] < 0x21 || (unsigned char)durable[i] > 0x7e)
				return -EINVAL;
	}
	struct ctl_app *a = (struct ctl_app *)app;
	struct ctl_apps *rt = app->rt;
	struct ctl_listener *ls = calloc(1, sizeof(*ls));
	if (ls == NULL)
		return -ENOMEM;
	ls->app = a;
	ls->fn = fn;
	ls->sess_fn = sess_fn;
	ls->ctx = ctx;
	memcpy(ls->dest, dest, dl);
	if (durable != NULL) {
		memcpy(ls->durable, durable, kl);
		ls->has_durable = true;
	}
	pthread_mutex_lock(&rt->mu);
	if (a->stopping) {
		pthread_mutex_unlock(&rt->mu);
		free(ls);
		return -ECANCELED;
	}
	ls->next = a->listeners;
	a->listeners = ls;
	a->listeners_running++;
	pthread_mutex_unlock(&rt->mu);
	int rc = ctl_apps_submit(rt, listen_main, ls);
	if (rc < 0) {
		pthread_mutex_lock(&rt->mu);
		a->listeners = ls->next;
		a->listeners_running--;
		pthread_mutex_unlock(&rt->mu);
		free(ls);
	}
	return rc;
}

int weft_app_listen(weft_app *app, const char *dest, const char *durable, weft_listener_fn fn,
		    void *ctx)
{
	return fn == NULL ? -EINVAL : add_listener(app, dest, durable, fn, NULL, ctx);
}

int weft_app_session_listen(weft_app *app, const char *store, weft_session_event_fn fn,
			    void *ctx)
{
	char topic[WEFT_MAX_NAME_LEN + 1];
	if (fn == NULL || weft_session_events_topic(store, topic) != 0)
		return -EINVAL;
	return add_listener(app, topic, NULL, NULL, fn, ctx);
}

bool ctl_apps_stop_listeners(struct ctl_apps *rt, struct ctl_app *a)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += CTL_APPS_STOP_MS / 1000u;
	pthread_mutex_lock(&rt->mu);
	__atomic_store_n(&a->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&rt->cv);
	while (a->listeners_running > 0 && pthread_cond_timedwait(&rt->cv, &rt->mu, &ts) == 0)
		;
	unsigned left = a->listeners_running;
	pthread_mutex_unlock(&rt->mu);
	if (left > 0)
		weft_ctl_log(WEFT_LOG_ERROR,
			     "app %s: %u listener(s) still in a callback after %u s: its code "
			     "stays loaded", a->pub.name, left, CTL_APPS_STOP_MS / 1000u);
	return left == 0;
}
