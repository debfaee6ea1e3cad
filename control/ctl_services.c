/*
 * ctl_services.c — the services of the app runtime (ctl_app.h): the
 * services thread, the unit list, app_gone, destroy. Locking and ownership
 * rules are in ctl_services_internal.h.
 *
 * The services thread is a registered QSBR reader, offline except while it
 * copies the view. Each loop, under sv->lock: feed the view when it
 * changed, walk the units (host new singletons, start every-node daemons,
 * schedule every-node jobs, turn app_gone into unhost/stop, submit what
 * the pool refused earlier, report finished stops, fire due jobs), tick
 * the singleton machine when due, perform its actions, unlink settled
 * units, then sleep until the next deadline or a kick (a registration,
 * app_gone, a pool task's end, destroy), at most SV_LOOP_MS. The status
 * (ctl_services_status) is read by the runtime, which composes and
 * publishes the APPS text.
 *
 * Invariants: a unit is hosted by the machine at most once at a time per
 * full name (a new unit waits until an older one of that name, being
 * undeployed, is forgotten); a unit is freed only when unlinked and no
 * pool task refers to it; app_gone returns once every unit of the app is
 * unlinked, or after env.gone_timeout_ms (then the leftovers finish
 * later, logged).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-qsbr.h>

#include "control.h"
#include "ctl_services_internal.h"

/* Instances by the key apps reach them with (app->rt). */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ctl_services *reg_head;

struct ctl_services *sv_of_app(const weft_app *app)
{
	struct ctl_services *sv;

	if (app == NULL)
		return NULL;
	pthread_mutex_lock(&reg_lock);
	for (sv = reg_head; sv != NULL; sv = sv->reg_next)
		if (sv->key == (const void *)app->rt)
			break;
	pthread_mutex_unlock(&reg_lock);
	return sv;
}

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sv_mono(const struct ctl_services *sv)
{
	return sv->env.mono_ms ? sv->env.mono_ms(sv->env.ctx) : clock_ms(CLOCK_MONOTONIC);
}

uint64_t sv_unix(const struct ctl_services *sv)
{
	return sv->env.unix_ms ? sv->env.unix_ms(sv->env.ctx) : clock_ms(CLOCK_REALTIME);
}

struct weft_ctl_sgl_time sv_sgl_now(const struct ctl_services *sv)
{
	return (struct weft_ctl_sgl_time){.mono_ms = sv_mono(sv), .unix_ms = sv_unix(sv)};
}

void sv_kick_locked(struct ctl_services *sv)
{
	sv->kicked = true;
	pthread_cond_signal(&sv->wake);
}

static bool name_valid(const char *name)
{
	size_t n = 0;

	if (name == NULL)
		return false;
	for (; name[n] != '\0'; n++)
		if (name[n] <= ' ' || name[n] > '~' || n >= SV_NAME_MAX)
			return false;
	return n > 0;
}

int sv_unit_add(struct ctl_services *sv, weft_app *app, const char *name, struct sv_unit *u)
{
	if (!name_valid(name) || strlen(app->name) + 1 + strlen(name) > WEFT_CTL_SGL_NAME_MAX)
		return -EINVAL;
	pthread_mutex_lock(&sv->lock);
	for (struct sv_unit *o = sv->units; o != NULL; o = o->next)
		if (o->app == app && !o->gone && strcmp(o->name, name) == 0) {
			pthread_mutex_unlock(&sv->lock);
			return -EEXIST;
		}
	u->sv = sv;
	u->app = app;
	strcpy(u->name, name);
	snprintf(u->full, sizeof(u->full), "%s/%s", app->name, name);
	u->gone = sv->quit;
	u->next = sv->units;
	sv->units = u;
	sv_kick_locked(sv);
	pthread_mutex_unlock(&sv->lock);
	return 0;
}

void sv_unit_release_locked(struct sv_unit *u)
{
	u->refs--;
	sv_kick_locked(u->sv);
}

static void unit_free(struct sv_unit *u)
{
	free(u); /* struct weft_daemon / weft_job embed the unit first */
}

/* ---- The loop's steps ---------------------------------------------------- */

static bool full_hosted_elsewhere(const struct ctl_services *sv, const struct sv_unit *u)
{
	for (const struct sv_unit *o = sv->units; o != NULL; o = o->next)
		if (o != u && o->hosted && strcmp(o->full, u->full) == 0)
			return true;
	return false;
}

/* Host a new singleton, or hand a gone one back to the machine. */
static void singleton_step(struct ctl_services *sv, struct sv_unit *u)
{
	struct weft_ctl_sgl_out out = {.act = sv->out, .cap = sv->out_cap};
	int rc;

	if (!u->hosted && !u->gone) {
		if (full_hosted_elsewhere(sv, u))
			return;
		rc = weft_ctl_singletons_host(sv->sgl, sv_sgl_now(sv), u->full, &out);
		if (rc != 0) {
			weft_ctl_log(WEFT_LOG_ERROR, "services: cannot host singleton %s: %s", u->full,
				     strerror(-rc));
			u->gone = true;
			u->finished = true;
			return;
		}
		u->hosted = true;
		sv_sgl_take(sv, &out);
	} else if (u->hosted && u->gone && !u->unhosted && !sv->shut) {
		rc = weft_ctl_singletons_unhost(sv->sgl, sv_sgl_now(sv), u->full, &out);
		u->unhosted = true;
		if (rc == 0)
			sv_sgl_take(sv, &out);
	} else if (!u->hosted && u->gone) {
		u->finished = true;
	}
}

/* Every-node units: start at registration, stop when gone. */
static void every_node_step(struct ctl_services *sv, struct sv_unit *u)
{
	if (u->finished)
		return;
	if (!u->active && !u->stopping) {
		if (u->gone) {
			u->finished = true;
			return;
		}
		if (u->kind == SV_DAEMON)
			sv_daemon_start((struct weft_daemon *)u, 0, sv_unix(sv));
		else
			sv_job_start((struct weft_job *)u, 0, sv_unix(sv));
	} else if (u->active && u->gone && !u->stopping) {
		if (u->kind == SV_DAEMON)
			sv_daemon_stop((struct weft_daemon *)u);
		else
			sv_job_stop((struct weft_job *)u);
	}
}

void sv_unit_stopped(struct sv_unit *u)
{
	struct ctl_services *sv = u->sv;
	struct weft_ctl_sgl_out out = {.act = sv->out, .cap = sv->out_cap};

	u->stopping = false;
	u->active = false;
	if (u->every_node) {
		u->finished = u->gone;
		return;
	}
	if (weft_ctl_singletons_stopped(sv->sgl, sv_sgl_now(sv), u->full, &out) == 0)
		sv_sgl_take(sv, &out);
}

/* One pass over the units; returns the earliest job due time (unix ms). */
static int64_t units_step(struct ctl_services *sv)
{
	int64_t due = INT64_MAX;

	for (struct sv_unit *u = sv->units; u != NULL; u = u->next) {
		if (u->every_node)
			every_node_step(sv, u);
		else
			singleton_step(sv, u);
		if (u->kind == SV_DAEMON) {
			struct weft_daemon *d = (struct weft_daemon *)u;
			sv_daemon_step(d);
			if (u->stopping && sv_daemon_idle(d))
				sv_unit_stopped(u);
		} else {
			struct weft_job *j = (struct weft_job *)u;
			int64_t t = sv_job_step(j);
			if (t < due)
				due = t;
			if (u->stopping && sv_job_idle(j))
				sv_unit_stopped(u);
		}
	}
	return due;
}

/* Unlinks finished units that no pool task holds; true if any went. */
static bool reap(struct ctl_services *sv)
{
	bool any = false;

	for (struct sv_unit **p = &sv->units; *p != NULL;) {
		struct sv_unit *u = *p;
		bool settled = u->finished ||
			       (u->hosted && u->unhosted && !sv_sgl_find(sv, u->full, NULL));
		if (u->gone && settled && u->refs == 0 && !u->active) {
			*p = u->next;
			unit_free(u);
			any = true;
		} else {
			p = &u->next;
		}
	}
	return any;
}

static bool all_quiet(const struct ctl_services *sv)
{
	if (!weft_ctl_singletons_quiet(sv->sgl) || sv->fifo_n > 0)
		return false;
	for (const struct sv_unit *u = sv->units; u != NULL; u = u->next)
		if (u->active || u->stopping || u->refs > 0)
			return false;
	return true;
}

static void shutdown_all(struct ctl_services *sv)
{
	struct weft_ctl_sgl_out out = {.act = sv->out, .cap = sv->out_cap};

	for (struct sv_unit *u = sv->units; u != NULL; u = u->next)
		u->gone = true;
	if (weft_ctl_singletons_shutdown(sv->sgl, sv_sgl_now(sv), &out) == 0)
		sv_sgl_take(sv, &out);
	sv->shut = true;
}

static void wait_until(struct ctl_services *sv, uint64_t wake_mono)
{
	uint64_t now = clock_ms(CLOCK_MONOTONIC);
	uint64_t own = sv_mono(sv);
	uint64_t delay = wake_mono > own ? wake_mono - own : 0;
	struct timespec ts;

	if (sv->kicked || delay == 0) {
		sv->kicked = false;
		return;
	}
	now += delay;
	ts.tv_sec = (time_t)(now / 1000u);
	ts.tv_nsec = (long)(now % 1000u) * 1000000L;
	pthread_cond_timedwait(&sv->wake, &sv->lock, &ts);
	sv->kicked = false;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void *sv_main(void *arg)
{
	struct ctl_services *sv = arg;
	uint64_t deadline = UINT64_MAX;

	urcu_qsbr_register_thread();
	urcu_qsbr_thread_offline();
	pthread_mutex_lock(&sv->lock);
	for (;;) {
		uint64_t now = sv_mono(sv);
		sv->loops++;
		if (sv->quit && !sv->shut) {
			shutdown_all(sv);
			deadline = now + sv->env.gone_timeout_ms;
		}
		sv_view_poll(sv, now);
		int64_t due = units_step(sv);
		if (sv_mono(sv) >= sv->sgl_next_ms) {
			struct weft_ctl_sgl_out out = {.act = sv->out, .cap = sv->out_cap};
			if (weft_ctl_singletons_tick(sv->sgl, sv_sgl_now(sv), &out) == 0)
				sv_sgl_take(sv, &out);
		}
		sv_actions_run(sv);
		if (reap(sv))
			pthread_cond_broadcast(&sv->done);
		now = sv_mono(sv);
		if (sv->quit && (all_quiet(sv) || now >= deadline))
			break;
		uint64_t wake = min_u64(sv->sgl_next_ms, now + SV_LOOP_MS);
		if (due != INT64_MAX) {
			int64_t in = due - (int64_t)sv_unix(sv);
			wake = min_u64(wake, in <= 0 ? now : now + (uint64_t)in);
		}
		wait_until(sv, wake);
	}
	if (!all_quiet(sv))
		weft_ctl_log(WEFT_LOG_WARN, "services: shutdown bound reached with daemons or "
					    "jobs still running or claims not released");
	sv->exited = true;
	pthread_cond_broadcast(&sv->done);
	pthread_mutex_unlock(&sv->lock);
	urcu_qsbr_unregister_thread();
	return NULL;
}

/* ---- Life ---------------------------------------------------------------- */

/* Frees everything, unless a pool task still runs app code of a unit:
 * then that task will still take sv->lock when it ends, so the instance is
 * left allocated (logged) rather than freed under it. */
static void sv_free(struct ctl_services *sv)
{
	struct sv_unit *u;

	for (u = sv->units; u != NULL; u = u->next)
		if (u->refs > 0) {
			weft_ctl_log(WEFT_LOG_WARN, "services: %s %s still running at exit; "
						    "its state is left allocated",
				     u->kind == SV_DAEMON ? "daemon" : "job", u->full);
			return;
		}
	while ((u = sv->units) != NULL) {
		sv->units = u->next;
		unit_free(u);
	}
	weft_ctl_singletons_destroy(sv->sgl);
	free(sv->out);
	free(sv->fifo);
	free(sv->view_m);
	if (sv->env.fini != NULL)
		sv->env.fini(sv->env.ctx);
	pthread_cond_destroy(&sv->wake);
	pthread_cond_destroy(&sv->done);
	pthread_mutex_destroy(&sv->lock);
	free(sv);
}

struct ctl_services *sv_create(const struct sv_env *env, const void *key,
			       const uint8_t node_id[16])
{
	struct ctl_services *sv;
	pthread_condattr_t ca;
	int rc;

	if (env == NULL || env->submit == NULL || env->view == NULL || env->store.get == NULL ||
	    env->store.cas == NULL || node_id == NULL) {
		if (env != NULL && env->fini != NULL)
			env->fini(env->ctx);
		errno = EINVAL;
		return NULL;
	}
	sv = calloc(1, sizeof(*sv));
	if (sv == NULL) {
		if (env->fini != NULL)
			env->fini(env->ctx);
		errno = ENOMEM;
		return NULL;
	}
	sv->env = *env;
	if (sv->env.gone_timeout_ms == 0)
		sv->env.gone_timeout_ms = SV_GONE_TIMEOUT_MS;
	sv->key = key;
	sv->created_ms = sv_mono(sv);
	memcpy(sv->self.b, node_id, 16);
	weft_ctl_uuid_format(node_id, sv->self_text);
	pthread_mutex_init(&sv->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sv->wake, &ca);
	pthread_cond_init(&sv->done, &ca);
	pthread_condattr_destroy(&ca);
	rc = sv_sgl_create(sv);
	if (rc == 0)
		rc = -pthread_create(&sv->thread, NULL, sv_main, sv);
	if (rc != 0) {
		sv_free(sv);
		errno = -rc;
		return NULL;
	}
	sv->thread_started = true;
	pthread_mutex_lock(&reg_lock);
	sv->reg_next = reg_head;
	reg_head = sv;
	pthread_mutex_unlock(&reg_lock);
	return sv;
}

void ctl_services_destroy(struct ctl_services *sv)
{
	if (sv == NULL)
		return;
	pthread_mutex_lock(&reg_lock);
	for (struct ctl_services **p = &reg_head; *p != NULL; p = &(*p)->reg_next)
		if (*p == sv) {
			*p = sv->reg_next;
			break;
		}
	pthread_mutex_unlock(&reg_lock);
	pthread_mutex_lock(&sv->lock);
	sv->quit = true;
	sv_kick_locked(sv);
	pthread_mutex_unlock(&sv->lock);
	pthread_join(sv->thread, NULL);
	sv_free(sv);
}

static bool app_has_units(const struct ctl_services *sv, const weft_app *app)
{
	for (const struct sv_unit *u = sv->units; u != NULL; u = u->next)
		if (u->app == app)
			return true;
	return false;
}

int ctl_services_app_gone(struct ctl_services *sv, weft_app *app)
{
	struct timespec ts;
	uint64_t end;
	int rc = 0;

	if (sv == NULL || app == NULL)
		return 0;
	end = clock_ms(CLOCK_MONOTONIC) + sv->env.gone_timeout_ms;
	ts.tv_sec = (time_t)(end / 1000u);
	ts.tv_nsec = (long)(end % 1000u) * 1000000L;
	pthread_mutex_lock(&sv->lock);
	for (struct sv_unit *u = sv->units; u != NULL; u = u->next)
		if (u->app == app)
			u->gone = true;
	sv_kick_locked(sv);
	while (app_has_units(sv, app) && !sv->exited)
		if (pthread_cond_timedwait(&sv->done, &sv->lock, &ts) == ETIMEDOUT)
			break;
	if (app_has_units(sv, app)) {
		weft_ctl_log(WEFT_LOG_WARN,
			     "services: app %s: daemons or jobs did not stop within %llu ms; "
			     "they end in the background (the app stays loaded)",
			     app->name, (unsigned long long)sv->env.gone_timeout_ms);
		/* Leftovers keep their names but no longer the app. */
		for (struct sv_unit *u = sv->units; u != NULL; u = u->next)
			if (u->app == app)
				u->app = NULL;
		rc = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&sv->lock);
	return rc;
}
