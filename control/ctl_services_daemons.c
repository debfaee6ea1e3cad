/*
 * ctl_services_daemons.c — daemons at runtime (include/weft/app.h):
 * weft_daemonize and the accessors, and one run of a daemon: its start on
 * a pool thread (it may keep that thread for the daemon's whole life), its
 * stop on another pool thread when the run must end.
 *
 * A run (sv_daemon_start .. sv_unit_stopped): the start task is queued,
 * then runs start(d, ctx) until it returns. sv_daemon_stop raises the
 * stopping flag; if start has not begun yet it is skipped (start never
 * runs, so stop is not called either); otherwise stop(d, ctx) is queued.
 * The run is over (sv_daemon_idle) once start has returned or been
 * skipped and stop has returned: only then does the singleton machine
 * hear "stopped" (and release the claim), so two runs of one daemon never
 * overlap on a node. When the pool refuses a task (-EBUSY) the services
 * thread submits it again on its next pass; when the pool is gone
 * (-ECANCELED, node shutting down) a start is dropped and a stop is called
 * on the services thread itself, so shutdown still asks start to end.
 *
 * Locking: the run's fields are guarded by sv->lock; the stopping flag
 * and the epoch are atomics the app reads without it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "ctl_services_internal.h"

int weft_daemonize(weft_app *app, const char *name, weft_daemon_fn start, weft_daemon_fn stop,
		   void *ctx, const struct weft_daemon_opts *opts)
{
	struct ctl_services *sv = sv_of_app(app);
	struct weft_daemon *d;
	int rc;

	if (sv == NULL || start == NULL)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->u.kind = SV_DAEMON;
	d->u.every_node = opts != NULL && opts->every_node;
	d->start = start;
	d->stop = stop;
	d->ctx = ctx;
	rc = sv_unit_add(sv, app, name, &d->u);
	if (rc != 0)
		free(d);
	return rc;
}

uint64_t weft_daemon_epoch(const weft_daemon *d)
{
	return d != NULL ? atomic_load(&d->epoch_pub) : 0;
}

bool weft_daemon_stopping(const weft_daemon *d)
{
	return d == NULL || atomic_load(&d->stop_flag);
}

weft_app *weft_daemon_app(weft_daemon *d)
{
	return d != NULL ? d->u.app : NULL;
}

const char *weft_daemon_name(const weft_daemon *d)
{
	return d != NULL ? d->u.name : NULL;
}

static void start_task(void *arg)
{
	struct weft_daemon *d = arg;
	struct ctl_services *sv = d->u.sv;

	pthread_mutex_lock(&sv->lock);
	if (atomic_load(&d->stop_flag)) {
		d->start_state = SV_START_DONE; /* stopped before it began */
		sv_unit_release_locked(&d->u);
		pthread_mutex_unlock(&sv->lock);
		return;
	}
	d->start_state = SV_START_RUNNING;
	d->started = true;
	pthread_mutex_unlock(&sv->lock);
	d->start(d, d->ctx);
	pthread_mutex_lock(&sv->lock);
	d->start_state = SV_START_DONE;
	sv_unit_release_locked(&d->u);
	pthread_mutex_unlock(&sv->lock);
}

static void stop_task(void *arg)
{
	struct weft_daemon *d = arg;
	struct ctl_services *sv = d->u.sv;

	if (d->stop != NULL)
		d->stop(d, d->ctx);
	pthread_mutex_lock(&sv->lock);
	d->stop_running = false;
	sv_unit_release_locked(&d->u);
	pthread_mutex_unlock(&sv->lock);
}

/* Submits fn for d: true when queued (d referenced), false when the pool
 * refused; *gone set when it never will take it. */
static bool submit(struct weft_daemon *d, void (*fn)(void *), bool *gone)
{
	struct ctl_services *sv = d->u.sv;
	int rc;

	d->u.refs++;
	rc = sv->env.submit(sv->env.ctx, fn, d);
	if (rc == 0)
		return true;
	d->u.refs--;
	*gone = rc != -EBUSY;
	if (*gone)
		weft_ctl_log(WEFT_LOG_WARN, "services: daemon %s: app pool refused a task: %s",
			     d->u.full, strerror(-rc));
	return false;
}

void sv_daemon_step(struct weft_daemon *d)
{
	struct ctl_services *sv = d->u.sv;
	bool gone = false;

	if (d->start_wanted) {
		if (submit(d, start_task, &gone)) {
			d->start_wanted = false;
			d->start_state = SV_START_QUEUED;
		} else if (gone) {
			d->start_wanted = false; /* never runs */
		}
	}
	if (d->stop_wanted) {
		if (submit(d, stop_task, &gone)) {
			d->stop_wanted = false;
			d->stop_running = true;
		} else if (gone) {
			d->stop_wanted = false;
			d->stop_running = true;
			pthread_mutex_unlock(&sv->lock);
			if (d->stop != NULL)
				d->stop(d, d->ctx);
			pthread_mutex_lock(&sv->lock);
			d->stop_running = false;
		}
	}
}

void sv_daemon_start(struct weft_daemon *d, uint64_t epoch, uint64_t since_ms)
{
	d->u.active = true;
	d->u.stopping = false;
	d->u.epoch = epoch;
	d->u.since_ms = since_ms;
	atomic_store(&d->epoch_pub, epoch);
	atomic_store(&d->stop_flag, false);
	d->start_state = SV_START_NONE;
	d->started = false;
	if (!d->u.gone) { /* being undeployed: it never begins */
		d->start_wanted = true;
		sv_daemon_step(d);
	}
	sv_kick_locked(d->u.sv);
}

void sv_daemon_stop(struct weft_daemon *d)
{
	d->u.stopping = true;
	atomic_store(&d->stop_flag, true);
	d->start_wanted = false;
	if (d->started) {
		/* start began in this run: ask it to end. A start still queued
		 * sees the flag and never begins. */
		d->stop_wanted = true;
		sv_daemon_step(d);
	}
	sv_kick_locked(d->u.sv);
}

bool sv_daemon_idle(const struct weft_daemon *d)
{
	return d->start_state != SV_START_QUEUED && d->start_state != SV_START_RUNNING &&
	       !d->start_wanted && !d->stop_wanted && !d->stop_running;
}
