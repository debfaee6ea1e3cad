/*
 * ctl_jobsched.h — internals of the control module's scheduled jobs: the
 * interval schedule and the job schedule state machine (ctl_jobsched.c),
 * over cron expressions (ctl_cron.h). Shared by the job runner and the
 * unit tests; not for other modules. User documentation: docs/jobs.md,
 * "Schedules".
 *
 * Pure and sans-I/O: the caller passes `now` (the wall clock, unix ms,
 * UTC: cron fields are calendar fields) to every call; nothing here reads
 * a clock, allocates or keeps global state. A job is owned by one thread
 * (the control thread in weftd, the simulator in tests).
 *
 * Misfire policy ("fire once, then resume"): a job whose due time has
 * passed is due; when it fires, the next due time is the first slot of the
 * schedule strictly after the fire time, so any number of missed slots
 * (the node was busy, or the job ran nowhere during a failover) collapses
 * into the one late fire. A late fire of the last slot (past `until`, past
 * the cron's years) still happens once.
 *
 * Failover: after each fire the runner records the job's mark (creation
 * time, last fire time, fire count) cluster-wide; a new node resumes from
 * the mark and computes the very next due time the old node had (the first
 * slot after the last fire), so a recorded fire is never repeated and the
 * fires missed in between come back as at most one catch-up fire.
 *
 * Invariants of a job: next_ms is -1 (done) or a slot of the schedule;
 * next_ms > last_fire_ms once the job has fired; fires counts fire()
 * calls; with a count limit, fires <= count and next_ms == -1 once reached.
 */
#ifndef WEFT_CONTROL_JOBSCHED_H
#define WEFT_CONTROL_JOBSCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl_cron.h"

/* ---- Interval schedules ------------------------------------------------ */

#define WEFT_CTL_AT_CREATION (-1) /* start_ms: when the job is created */
#define WEFT_CTL_NO_UNTIL (-1)    /* until_ms: no end */

/* Fires at start_ms + k * every_ms, k = 0, 1, ..., as long as the fire
 * time is <= until_ms and, when count > 0, count times in all (the job
 * enforces count: it counts fires, a catch-up fire counting once). */
struct weft_ctl_interval {
	int64_t every_ms; /* > 0 */
	int64_t start_ms; /* unix ms >= 0, or WEFT_CTL_AT_CREATION */
	int64_t until_ms; /* inclusive, unix ms >= 0, or WEFT_CTL_NO_UNTIL */
	uint64_t count;   /* total fires; 0 = no limit */
};

/* 0 when iv is well formed: every_ms > 0; start_ms and until_ms >= 0 or
 * their "none" value; until_ms >= start_ms when both are times. Else
 * -EINVAL. */
int weft_ctl_interval_check(const struct weft_ctl_interval *iv);

/* The first slot start_ms + k * every_ms (k >= 0) strictly after after_ms
 * and <= until_ms, or -1 (none, or beyond INT64_MAX). iv must pass the
 * check with start_ms a time (not WEFT_CTL_AT_CREATION); count is not
 * looked at. */
int64_t weft_ctl_interval_next(const struct weft_ctl_interval *iv, int64_t after_ms);

/* ---- Schedules and jobs ------------------------------------------------ */

enum weft_ctl_sched_kind { WEFT_CTL_SCHED_CRON = 1, WEFT_CTL_SCHED_INTERVAL };

struct weft_ctl_sched {
	enum weft_ctl_sched_kind kind;
	union {
		struct weft_ctl_cron cron;    /* from weft_ctl_cron_parse */
		struct weft_ctl_interval iv;
	};
};

/* What the runner records cluster-wide after each fire, to resume from. */
struct weft_ctl_job_mark {
	int64_t created_ms;   /* `now` of weft_ctl_job_init on the first node */
	int64_t last_fire_ms; /* -1: never fired */
	uint64_t fires;
};

struct weft_ctl_job {
	struct weft_ctl_sched sched; /* interval start_ms resolved to a time */
	int64_t created_ms;
	int64_t next_ms;      /* next due time; -1: done */
	int64_t last_fire_ms; /* -1: never fired (on any node) */
	uint64_t fires;       /* in all, on every node */
	uint64_t misfires;    /* fires on this node that stood for >= 2 slots */
};

/* A new job created at now_ms (>= 0). Its first due time is the first
 * slot at or after now_ms (cron), or start_ms (interval; now_ms when
 * WEFT_CTL_AT_CREATION; a start in the past is due at once). -1 (done)
 * when there is none. 0, or -EINVAL (bad schedule or time); *j is
 * written only on success. */
int weft_ctl_job_init(struct weft_ctl_job *j, const struct weft_ctl_sched *s, int64_t now_ms);

/* A job taken over by this node from the cluster's record m (failover, or
 * a node that starts the job again): same schedule s as the first node,
 * next due time = the first slot after m->last_fire_ms (or the first slot
 * of the job when it never fired), as the old node had it. Returns 1 when
 * that time is <= now_ms (a fire was missed: the job is due once now), 0
 * when it is not (or the job is done), -EINVAL (bad schedule or mark:
 * created_ms < 0, fires and last_fire_ms disagreeing, a last fire before
 * the creation, fires beyond the count); *j is written only on success. */
int weft_ctl_job_resume(struct weft_ctl_job *j, const struct weft_ctl_sched *s,
			const struct weft_ctl_job_mark *m, int64_t now_ms);

/* True when the job is not done and its due time is <= now_ms. */
bool weft_ctl_job_due(const struct weft_ctl_job *j, int64_t now_ms);

/* The job fired at now_ms: records the fire and moves the due time to the
 * first slot strictly after now_ms (the misfire policy), or -1 when the
 * schedule or the count is exhausted. 0, or -EINVAL when it was not due. */
int weft_ctl_job_fired(struct weft_ctl_job *j, int64_t now_ms);

/* The next due time (unix ms), or -1 when the job is done. */
int64_t weft_ctl_job_next(const struct weft_ctl_job *j);

/* The record to store cluster-wide after a fire. */
struct weft_ctl_job_mark weft_ctl_job_get_mark(const struct weft_ctl_job *j);

#endif /* WEFT_CONTROL_JOBSCHED_H */
