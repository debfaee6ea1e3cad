/*
 * ctl_services_jobs.c — jobs at runtime (include/weft/app.h):
 * weft_schedule and the accessors, and the firing of jobs on the services
 * thread with the schedule state machine of ctl_jobsched.h.
 *
 * Every-node jobs are scheduled at registration (weft_ctl_job_init) and
 * fire on each node, with no claim and no mark. A singleton job is
 * scheduled on the node the singleton machine STARTs it on: that node
 * first reads the job's mark (cache "weft.jobs", key "<app>/<name>") and
 * resumes from it (weft_ctl_job_resume: at most one catch-up fire), or
 * writes a first mark when there is none (so later owners keep the phase
 * of the first node). Then, for each due fire, it records the new mark by
 * CAS on the version it last read or wrote, and only once that write
 * succeeded hands the job's function to the pool. So a fire is recorded
 * BEFORE it runs: at most once per fire time in the cluster (a node that
 * dies during a fire does not have it repeated elsewhere; a write whose
 * outcome is unknown skips that fire). A failed CAS means another node
 * wrote the mark: the owner re-reads and resumes from it.
 *
 * A fire does not start while the previous fire of the same job still
 * runs: the job stays due and fires once when it ends (the misfire
 * policy collapses the slots missed meanwhile). STOP (ownership lost,
 * undeploy, shutdown) ends the scheduling at once and is reported to the
 * machine when no fire is running any more.
 *
 * Services thread with sv->lock held, except the pool task (fire_task)
 * and the public calls; store I/O drops the lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "ctl_services_internal.h"

int weft_schedule(weft_app *app, const char *name, const char *spec, weft_job_fn fn, void *ctx,
		  const struct weft_job_opts *opts)
{
	struct ctl_services *sv = sv_of_app(app);
	char err[WEFT_CTL_CRON_ERR_MAX];
	struct weft_job *j;
	int rc;

	if (sv == NULL || fn == NULL)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	rc = sv_spec_parse(spec, &j->sched, err, sizeof(err));
	if (rc != 0) {
		weft_ctl_log(WEFT_LOG_WARN, "app %s: job %s: bad schedule '%s': %s", app->name,
			     name != NULL ? name : "(null)", spec != NULL ? spec : "(null)", err);
		free(j);
		return rc;
	}
	j->u.kind = SV_JOB;
	j->u.every_node = opts != NULL && opts->every_node;
	j->fn = fn;
	j->ctx = ctx;
	j->last_fire_ms = -1;
	rc = sv_unit_add(sv, app, name, &j->u);
	if (rc != 0)
		free(j);
	return rc;
}

uint64_t weft_job_epoch(const weft_job *j)
{
	return j != NULL ? atomic_load(&j->epoch_pub) : 0;
}

weft_app *weft_job_app(weft_job *j)
{
	return j != NULL ? j->u.app : NULL;
}

const char *weft_job_name(const weft_job *j)
{
	return j != NULL ? j->u.name : NULL;
}

static void fire_task(void *arg)
{
	struct weft_job *j = arg;
	struct ctl_services *sv = j->u.sv;
	int rc = j->fn(j, j->ctx);

	pthread_mutex_lock(&sv->lock);
	j->last_result = rc;
	j->have_result = true;
	j->firing = false;
	sv_unit_release_locked(&j->u);
	pthread_mutex_unlock(&sv->lock);
}

/* A schedule that cannot start: logged, the job is done. */
static void job_init(struct weft_job *j, int64_t now)
{
	if (weft_ctl_job_init(&j->job, &j->sched, now) != 0) {
		weft_ctl_log(WEFT_LOG_WARN, "services: job %s: schedule cannot start", j->u.full);
		memset(&j->job, 0, sizeof(j->job));
		j->job.next_ms = -1;
		j->job.last_fire_ms = -1;
	}
}

void sv_job_start(struct weft_job *j, uint64_t epoch, uint64_t since_ms)
{
	j->u.active = true;
	j->u.stopping = false;
	j->u.epoch = epoch;
	j->u.since_ms = since_ms;
	atomic_store(&j->epoch_pub, epoch);
	j->retry_ms = 0;
	if (j->u.every_node) {
		job_init(j, (int64_t)sv_unix(j->u.sv));
		j->need_mark = false;
	} else {
		j->need_mark = true;
	}
	sv_kick_locked(j->u.sv);
}

void sv_job_stop(struct weft_job *j)
{
	j->u.stopping = true;
	j->need_mark = false;
	j->fire_wanted = false; /* recorded but not begun: dropped (at most once) */
	sv_kick_locked(j->u.sv);
}

bool sv_job_idle(const struct weft_job *j)
{
	return !j->firing;
}

/* Store I/O with the lock dropped. */
static int store_get(struct weft_job *j, uint8_t *buf, size_t cap, size_t *len, uint64_t *ver)
{
	struct ctl_services *sv = j->u.sv;
	int rc;

	pthread_mutex_unlock(&sv->lock);
	rc = sv->env.store.get(sv->env.store.ctx, SV_CACHE_JOBS, j->u.full, buf, cap, len, ver);
	pthread_mutex_lock(&sv->lock);
	return rc;
}

static int store_cas(struct weft_job *j, uint64_t expected, const struct weft_ctl_job_mark *m,
		     uint64_t *ver)
{
	struct ctl_services *sv = j->u.sv;
	uint8_t buf[SV_MARK_BYTES];
	int rc;

	sv_mark_encode(m, buf);
	pthread_mutex_unlock(&sv->lock);
	rc = sv->env.store.cas(sv->env.store.ctx, SV_CACHE_JOBS, j->u.full, expected, buf,
			       sizeof(buf), ver);
	pthread_mutex_lock(&sv->lock);
	return rc;
}

static bool scheduling(const struct weft_job *j)
{
	return j->u.active && !j->u.stopping;
}

/* The owner's first step: resume from the mark, or write the first one.
 * True when the job is scheduled. */
static bool load_mark(struct weft_job *j, int64_t now)
{
	uint8_t buf[SV_MARK_BYTES + 1];
	struct weft_ctl_job_mark m;
	struct weft_ctl_job tmp;
	size_t len = 0;
	uint64_t ver = 0;
	int rc = store_get(j, buf, sizeof(buf), &len, &ver);

	if (!scheduling(j))
		return false;
	if (rc == 0 && sv_mark_decode(buf, len, &m) == 0 &&
	    weft_ctl_job_resume(&tmp, &j->sched, &m, now) >= 0) {
		j->job = tmp;
		j->mark_version = ver;
		j->last_fire_ms = m.last_fire_ms;
		j->fires = m.fires;
		j->need_mark = false;
		return true;
	}
	if (rc != 0 && rc != -ENOENT)
		return false;
	if (rc == 0)
		weft_ctl_log(WEFT_LOG_WARN, "services: job %s: recorded mark does not fit the "
					    "schedule; starting it afresh", j->u.full);
	else
		ver = 0;
	job_init(j, now);
	m = weft_ctl_job_get_mark(&j->job);
	rc = store_cas(j, ver, &m, &ver);
	if (rc != 0 || !scheduling(j))
		return false;
	j->mark_version = ver;
	j->fires = 0;
	j->last_fire_ms = -1;
	j->need_mark = false;
	return true;
}

static void submit_fire(struct weft_job *j)
{
	struct ctl_services *sv = j->u.sv;
	int rc;

	j->u.refs++;
	j->firing = true;
	rc = sv->env.submit(sv->env.ctx, fire_task, j);
	if (rc == 0) {
		j->fire_wanted = false;
		return;
	}
	j->u.refs--;
	j->firing = false;
	j->fire_wanted = rc == -EBUSY; /* the fire is recorded: run it later */
	if (!j->fire_wanted)
		weft_ctl_log(WEFT_LOG_WARN, "services: job %s: app pool refused a fire: %s",
			     j->u.full, strerror(-rc));
}

/* Records (singletons) and starts one due fire at now. */
static void fire(struct weft_job *j, int64_t now)
{
	struct weft_ctl_job tmp = j->job;
	uint64_t ver = 0;

	if (weft_ctl_job_fired(&tmp, now) != 0)
		return;
	if (!j->u.every_node) {
		struct weft_ctl_job_mark m = weft_ctl_job_get_mark(&tmp);
		int rc = store_cas(j, j->mark_version, &m, &ver);
		if (rc != 0) {
			/* Another writer, or an unknown outcome: re-read. */
			weft_ctl_log(WEFT_LOG_DEBUG, "services: job %s: mark not recorded (%s)",
				     j->u.full, strerror(-rc));
			j->need_mark = scheduling(j);
			j->retry_ms = sv_mono(j->u.sv) + SV_RETRY_MS;
			return;
		}
		j->mark_version = ver;
	}
	/* Recorded: it runs even if a stop came meanwhile (the stop then
	 * waits for it), since no other node will run this fire. */
	j->job = tmp;
	j->last_fire_ms = now;
	j->fires = tmp.fires;
	submit_fire(j);
}

int64_t sv_job_step(struct weft_job *j)
{
	struct ctl_services *sv = j->u.sv;
	int64_t now = (int64_t)sv_unix(sv);
	uint64_t mono = sv_mono(sv);

	if (j->fire_wanted && !j->firing)
		submit_fire(j);
	if (!scheduling(j) || j->firing || j->fire_wanted)
		return INT64_MAX;
	if (mono < j->retry_ms)
		return now + (int64_t)(j->retry_ms - mono);
	if (j->need_mark && !load_mark(j, now)) {
		if (scheduling(j) && j->need_mark)
			j->retry_ms = sv_mono(sv) + SV_RETRY_MS;
		return INT64_MAX;
	}
	now = (int64_t)sv_unix(sv);
	if (scheduling(j) && !j->firing && weft_ctl_job_due(&j->job, now))
		fire(j, now);
	if (!scheduling(j) || j->firing || j->fire_wanted)
		return INT64_MAX;
	int64_t next = weft_ctl_job_next(&j->job);
	return next < 0 ? INT64_MAX : next;
}
