/*
 * ctl_jobsched.c — interval schedules and the job schedule state machine
 * (ctl_jobsched.h): when a scheduled job is due, what a fire changes, and
 * how a node takes a job over from the cluster's record.
 *
 * Pure and sans-I/O: `now` is an argument, nothing is allocated. The
 * misfire policy is "fire once, then resume": a fire moves the due time to
 * the first slot strictly after the fire time, never to the slot after the
 * one that was due, so missed slots collapse into the single late fire.
 * Resuming recomputes the due time from the recorded last fire with that
 * same rule, so the old node and the new one agree on it.
 *
 * Invariants: see ctl_jobsched.h. A job's schedule copy always has its
 * interval start resolved to a time (>= 0).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ctl_jobsched.h"

int weft_ctl_interval_check(const struct weft_ctl_interval *iv)
{
	if (iv == NULL || iv->every_ms <= 0 || iv->start_ms < WEFT_CTL_AT_CREATION ||
	    iv->until_ms < WEFT_CTL_NO_UNTIL ||
	    (iv->start_ms >= 0 && iv->until_ms >= 0 && iv->until_ms < iv->start_ms))
		return -EINVAL;
	return 0;
}

int64_t weft_ctl_interval_next(const struct weft_ctl_interval *iv, int64_t after_ms)
{
	int64_t t = iv->start_ms;

	if (after_ms >= iv->start_ms) {
		int64_t k, off;
		if (__builtin_add_overflow((after_ms - iv->start_ms) / iv->every_ms, 1, &k) ||
		    __builtin_mul_overflow(k, iv->every_ms, &off) ||
		    __builtin_add_overflow(iv->start_ms, off, &t))
			return -1;
	}
	if (iv->until_ms >= 0 && t > iv->until_ms)
		return -1;
	return t;
}

/* A parsed cron expression: every mask non-empty, no bit out of range. */
static bool cron_valid(const struct weft_ctl_cron *c)
{
	const uint64_t sixty = (1ull << 60) - 1;

	return c->sec != 0 && !(c->sec & ~sixty) && c->min != 0 && !(c->min & ~sixty) &&
	       c->hour != 0 && !(c->hour >> 24) && (c->dom & ~1u) != 0 && !(c->dom & 1u) &&
	       (c->month & 0x1ffeu) != 0 && !(c->month & ~0x1ffeu) && (c->dow & 0xfeu) != 0 &&
	       !(c->dow & 1u) && (c->year[0] | c->year[1] | c->year[2] | c->year[3]) != 0 &&
	       !(c->year[3] >> (WEFT_CTL_CRON_YEAR_MAX - WEFT_CTL_CRON_YEAR_MIN + 1 - 192));
}

static int sched_check(const struct weft_ctl_sched *s)
{
	if (s == NULL)
		return -EINVAL;
	if (s->kind == WEFT_CTL_SCHED_CRON)
		return cron_valid(&s->cron) ? 0 : -EINVAL;
	if (s->kind == WEFT_CTL_SCHED_INTERVAL)
		return weft_ctl_interval_check(&s->iv);
	return -EINVAL;
}

/* The first slot of the schedule strictly after t, or -1. */
static int64_t slot_after(const struct weft_ctl_sched *s, int64_t t)
{
	return s->kind == WEFT_CTL_SCHED_CRON ? weft_ctl_cron_next(&s->cron, t)
					      : weft_ctl_interval_next(&s->iv, t);
}

/* The due time after a fire at t: the next slot, unless the count is
 * reached. */
static int64_t next_after_fire(const struct weft_ctl_job *j, int64_t t)
{
	if (j->sched.kind == WEFT_CTL_SCHED_INTERVAL && j->sched.iv.count != 0 &&
	    j->fires >= j->sched.iv.count)
		return -1;
	return slot_after(&j->sched, t);
}

/* A fresh job created at now (checked schedule, now >= 0). */
static void job_start(struct weft_ctl_job *j, const struct weft_ctl_sched *s, int64_t now)
{
	memset(j, 0, sizeof(*j));
	j->sched = *s;
	j->created_ms = now;
	j->last_fire_ms = -1;
	if (s->kind == WEFT_CTL_SCHED_INTERVAL) {
		if (j->sched.iv.start_ms == WEFT_CTL_AT_CREATION)
			j->sched.iv.start_ms = now;
		/* The first slot is start itself, even when it has passed. */
		j->next_ms = slot_after(&j->sched, j->sched.iv.start_ms - 1);
	} else {
		j->next_ms = slot_after(&j->sched, now - 1);
	}
}

int weft_ctl_job_init(struct weft_ctl_job *j, const struct weft_ctl_sched *s, int64_t now_ms)
{
	if (j == NULL || now_ms < 0 || sched_check(s) != 0)
		return -EINVAL;
	job_start(j, s, now_ms);
	return 0;
}

int weft_ctl_job_resume(struct weft_ctl_job *j, const struct weft_ctl_sched *s,
			const struct weft_ctl_job_mark *m, int64_t now_ms)
{
	struct weft_ctl_job r;

	if (j == NULL || m == NULL || sched_check(s) != 0 || m->created_ms < 0 ||
	    (m->fires == 0) != (m->last_fire_ms == -1) ||
	    (m->fires != 0 && m->last_fire_ms < m->created_ms) ||
	    (s->kind == WEFT_CTL_SCHED_INTERVAL && s->iv.count != 0 && m->fires > s->iv.count))
		return -EINVAL;
	job_start(&r, s, m->created_ms);
	if (m->fires != 0) {
		r.fires = m->fires;
		r.last_fire_ms = m->last_fire_ms;
		r.next_ms = next_after_fire(&r, m->last_fire_ms);
	}
	*j = r;
	return weft_ctl_job_due(j, now_ms) ? 1 : 0;
}

bool weft_ctl_job_due(const struct weft_ctl_job *j, int64_t now_ms)
{
	return j->next_ms >= 0 && now_ms >= j->next_ms;
}

int weft_ctl_job_fired(struct weft_ctl_job *j, int64_t now_ms)
{
	int64_t due = j->next_ms, after_due;

	if (!weft_ctl_job_due(j, now_ms))
		return -EINVAL;
	/* Another slot in (due, now]: this fire stands for it too. */
	after_due = slot_after(&j->sched, due);
	if (after_due >= 0 && after_due <= now_ms)
		j->misfires++;
	j->fires++;
	j->last_fire_ms = now_ms;
	j->next_ms = next_after_fire(j, now_ms);
	return 0;
}

int64_t weft_ctl_job_next(const struct weft_ctl_job *j)
{
	return j->next_ms;
}

struct weft_ctl_job_mark weft_ctl_job_get_mark(const struct weft_ctl_job *j)
{
	return (struct weft_ctl_job_mark){j->created_ms, j->last_fire_ms, j->fires};
}
