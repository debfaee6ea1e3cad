/*
 * test_ctl_jobsched.c — interval schedules and the job schedule state
 * machine (control/ctl_jobsched.c): slots with start, until (inclusive)
 * and count; due/fired on cron and interval jobs; the misfire policy (a job
 * due long ago fires once, then continues from the first slot after now);
 * resuming on another node from the cluster's record (no fire repeated, at
 * most one catch-up fire); and a simulated cluster that kills the job's
 * node at random moments and checks those promises over every fire.
 *
 * Deterministic: times are arguments, the simulation's clock is virtual and
 * its randomness has a fixed seed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_jobsched.h"

#define SEC 1000
#define T0 1795780800000 /* 2026-11-27 12:00:00 UTC */

static struct weft_ctl_sched cron(const char *expr)
{
	struct weft_ctl_sched s;
	char err[WEFT_CTL_CRON_ERR_MAX];
	memset(&s, 0, sizeof(s));
	s.kind = WEFT_CTL_SCHED_CRON;
	if (weft_ctl_cron_parse(expr, &s.cron, err, sizeof(err)) != 0)
		fail_msg("'%s': %s", expr, err);
	return s;
}

static struct weft_ctl_sched interval(int64_t every, int64_t start, int64_t until, uint64_t count)
{
	struct weft_ctl_sched s;
	memset(&s, 0, sizeof(s));
	s.kind = WEFT_CTL_SCHED_INTERVAL;
	s.iv = (struct weft_ctl_interval){every, start, until, count};
	return s;
}

/* ---- Interval slots ---- */

static void test_interval_check(void **state)
{
	(void)state;
	static const struct weft_ctl_interval good[] = {
		{1, 0, WEFT_CTL_NO_UNTIL, 0},
		{1000, WEFT_CTL_AT_CREATION, WEFT_CTL_NO_UNTIL, 3},
		{1000, WEFT_CTL_AT_CREATION, 0, 0}, /* until checked against the creation */
		{1000, 5000, 5000, 0},
		{INT64_MAX, INT64_MAX, INT64_MAX, UINT64_MAX},
	};
	static const struct weft_ctl_interval bad[] = {
		{0, 0, WEFT_CTL_NO_UNTIL, 0},   {-5, 0, WEFT_CTL_NO_UNTIL, 0},
		{1000, -2, WEFT_CTL_NO_UNTIL, 0}, {1000, 0, -2, 0},
		{1000, 5000, 4999, 0},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(weft_ctl_interval_check(&good[i]), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(weft_ctl_interval_check(&bad[i]), -EINVAL);
	assert_int_equal(weft_ctl_interval_check(NULL), -EINVAL);
}

static void test_interval_next(void **state)
{
	(void)state;
	struct weft_ctl_interval iv = {500, 1000, WEFT_CTL_NO_UNTIL, 0};
	assert_int_equal(weft_ctl_interval_next(&iv, INT64_MIN), 1000);
	assert_int_equal(weft_ctl_interval_next(&iv, -5), 1000);
	assert_int_equal(weft_ctl_interval_next(&iv, 999), 1000);
	assert_int_equal(weft_ctl_interval_next(&iv, 1000), 1500);
	assert_int_equal(weft_ctl_interval_next(&iv, 1499), 1500);
	assert_int_equal(weft_ctl_interval_next(&iv, 1000 + 500 * 1000000 + 1), 1000 + 500 * 1000001);
	/* until is inclusive. */
	iv.until_ms = 2000;
	assert_int_equal(weft_ctl_interval_next(&iv, 1999), 2000);
	assert_int_equal(weft_ctl_interval_next(&iv, 2000), -1);
	iv.until_ms = 1999;
	assert_int_equal(weft_ctl_interval_next(&iv, 1500), -1);
	/* Beyond INT64_MAX: none. */
	struct weft_ctl_interval big = {100, INT64_MAX - 10, WEFT_CTL_NO_UNTIL, 0};
	assert_int_equal(weft_ctl_interval_next(&big, INT64_MAX - 10), -1);
	assert_int_equal(weft_ctl_interval_next(&big, INT64_MAX), -1);
	struct weft_ctl_interval huge = {INT64_MAX, 0, WEFT_CTL_NO_UNTIL, 0};
	assert_int_equal(weft_ctl_interval_next(&huge, 0), INT64_MAX);
	assert_int_equal(weft_ctl_interval_next(&huge, INT64_MAX - 1), INT64_MAX);
	assert_int_equal(weft_ctl_interval_next(&huge, INT64_MAX), -1);
	/* every 1 ms from 0, after INT64_MAX: the slot count itself would pass
	 * INT64_MAX (found by fuzz_cron: a signed overflow before the fix). */
	struct weft_ctl_interval each_ms = {1, 0, WEFT_CTL_NO_UNTIL, 0};
	assert_int_equal(weft_ctl_interval_next(&each_ms, INT64_MAX), -1);
	assert_int_equal(weft_ctl_interval_next(&each_ms, INT64_MAX - 1), INT64_MAX);
}

/* ---- Jobs ---- */

static void test_cron_job(void **state)
{
	(void)state;
	struct weft_ctl_sched s = cron("*/5 * * * * ?");
	struct weft_ctl_job j, before;

	assert_int_equal(weft_ctl_job_init(&j, &s, T0 + 3500), 0);
	assert_int_equal(weft_ctl_job_next(&j), T0 + 5 * SEC);
	assert_false(weft_ctl_job_due(&j, T0 + 5 * SEC - 1));
	before = j;
	assert_int_equal(weft_ctl_job_fired(&j, T0 + 5 * SEC - 1), -EINVAL); /* not due */
	assert_memory_equal(&j, &before, sizeof(j));
	assert_true(weft_ctl_job_due(&j, T0 + 5 * SEC));
	assert_int_equal(weft_ctl_job_fired(&j, T0 + 5 * SEC), 0);
	assert_int_equal(weft_ctl_job_next(&j), T0 + 10 * SEC);
	assert_int_equal(j.fires, 1);
	assert_int_equal(j.last_fire_ms, T0 + 5 * SEC);
	assert_false(weft_ctl_job_due(&j, T0 + 5 * SEC)); /* once per slot */
	/* A little late (within the slot): on schedule, not a misfire. */
	assert_int_equal(weft_ctl_job_fired(&j, T0 + 10 * SEC + 20), 0);
	assert_int_equal(weft_ctl_job_next(&j), T0 + 15 * SEC);
	assert_int_equal(j.misfires, 0);

	/* Created exactly on a slot: that slot is the first. */
	assert_int_equal(weft_ctl_job_init(&j, &s, T0 + 5 * SEC), 0);
	assert_int_equal(weft_ctl_job_next(&j), T0 + 5 * SEC);
	/* A cron with no future slot is done at once. */
	s = cron("0 0 0 1 1 ? 2020");
	assert_int_equal(weft_ctl_job_init(&j, &s, T0), 0);
	assert_int_equal(weft_ctl_job_next(&j), -1);
	assert_false(weft_ctl_job_due(&j, INT64_MAX));
	assert_int_equal(weft_ctl_job_fired(&j, INT64_MAX), -EINVAL);
}

static void test_interval_job(void **state)
{
	(void)state;
	struct weft_ctl_sched s = interval(SEC, T0 + 5 * SEC, WEFT_CTL_NO_UNTIL, 3);
	struct weft_ctl_job j;

	/* count 3: three fires in all. */
	assert_int_equal(weft_ctl_job_init(&j, &s, T0), 0);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(weft_ctl_job_next(&j), T0 + (5 + k) * SEC);
		assert_int_equal(weft_ctl_job_fired(&j, T0 + (5 + k) * SEC), 0);
	}
	assert_int_equal(weft_ctl_job_next(&j), -1);
	assert_int_equal(j.fires, 3);

	/* until (inclusive). */
	s = interval(SEC, T0, T0 + 2500, 0);
	assert_int_equal(weft_ctl_job_init(&j, &s, T0), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(weft_ctl_job_fired(&j, T0 + k * SEC), 0);
	assert_int_equal(weft_ctl_job_next(&j), -1);
	s = interval(SEC, T0, T0 + 2 * SEC, 0);
	assert_int_equal(weft_ctl_job_init(&j, &s, T0), 0);
	assert_int_equal(weft_ctl_job_fired(&j, T0 + SEC), 0); /* slot 0 late */
	assert_int_equal(weft_ctl_job_next(&j), T0 + 2 * SEC);

	/* Start at creation: fires at once, then every period from there. */
	s = interval(250, WEFT_CTL_AT_CREATION, WEFT_CTL_NO_UNTIL, 0);
	assert_int_equal(weft_ctl_job_init(&j, &s, T0 + 12345), 0);
	assert_true(weft_ctl_job_due(&j, T0 + 12345));
	assert_int_equal(weft_ctl_job_fired(&j, T0 + 12345), 0);
	assert_int_equal(weft_ctl_job_next(&j), T0 + 12595);
	assert_int_equal(j.sched.iv.start_ms, T0 + 12345);

	/* Start at creation, past until: done at once. */
	s = interval(SEC, WEFT_CTL_AT_CREATION, T0, 0);
	assert_int_equal(weft_ctl_job_init(&j, &s, T0 + 1), 0);
	assert_int_equal(weft_ctl_job_next(&j), -1);

	/* Bad schedules and times are refused. */
	s = interval(0, 0, WEFT_CTL_NO_UNTIL, 0);
	assert_int_equal(weft_ctl_job_init(&j, &s, T0), -EINVAL);
	s = interval(SEC, 0, WEFT_CTL_NO_UNTIL, 0);
	assert_int_equal(weft_ctl_job_init(&j, &s, -1), -EINVAL);
	s.kind = (enum weft_ctl_sched_kind)7;
	assert_int_equal(weft_ctl_job_init(&j, &s, T0), -EINVAL);
	s = cron("* * * * * ?");
	s.cron.hour |= 1u << 24; /* not what the parser makes */
	assert_int_equal(weft_ctl_job_init(&j, &s, T0), -EINVAL);
	s = cron("* * * * * ?");
	s.cron.sec = 0;
	assert_int_equal(weft_ctl_job_init(&j, &s, T0), -EINVAL);
	assert_int_equal(weft_ctl_job_init(&j, NULL, T0), -EINVAL);
}

/* Misfire: due long ago -> one fire now, then the first slot after now. */
static void test_misfire(void **state)
{
	(void)state;
	struct weft_ctl_sched s = cron("* * * * * ?");
	struct weft_ctl_job j;
	int64_t now;

	assert_int_equal(weft_ctl_job_init(&j, &s, T0), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(weft_ctl_job_fired(&j, T0 + k * SEC), 0);
	assert_int_equal(weft_ctl_job_next(&j), T0 + 3 * SEC);
	/* The runner stalls for an hour. */
	now = T0 + 3600 * SEC + 300;
	assert_true(weft_ctl_job_due(&j, now));
	assert_int_equal(weft_ctl_job_fired(&j, now), 0);
	assert_int_equal(j.fires, 4); /* once, not 3598 times */
	assert_int_equal(j.misfires, 1);
	assert_false(weft_ctl_job_due(&j, now));
	assert_int_equal(weft_ctl_job_next(&j), T0 + 3601 * SEC);

	/* Hourly, 2 s late: late but nothing skipped, not a misfire. */
	s = cron("0 0 * * * ?");
	assert_int_equal(weft_ctl_job_init(&j, &s, T0 - 1), 0);
	assert_int_equal(weft_ctl_job_fired(&j, T0 + 2 * SEC), 0);
	assert_int_equal(j.misfires, 0);
	assert_int_equal(weft_ctl_job_next(&j), T0 + 3600 * SEC);

	/* Interval with a count: the late fire counts once. */
	s = interval(SEC, T0, WEFT_CTL_NO_UNTIL, 2);
	assert_int_equal(weft_ctl_job_init(&j, &s, T0), 0);
	assert_int_equal(weft_ctl_job_fired(&j, T0 + 10 * SEC + 500), 0);
	assert_int_equal(weft_ctl_job_next(&j), T0 + 11 * SEC);
	assert_int_equal(weft_ctl_job_fired(&j, T0 + 11 * SEC), 0);
	assert_int_equal(weft_ctl_job_next(&j), -1);
	assert_int_equal(j.fires, 2);

	/* The last slot before until was missed: it fires once, then done. */
	s = interval(SEC, T0, T0 + 5 * SEC, 0);
	assert_int_equal(weft_ctl_job_init(&j, &s, T0), 0);
	assert_int_equal(weft_ctl_job_fired(&j, T0), 0);
	assert_true(weft_ctl_job_due(&j, T0 + 60 * SEC));
	assert_int_equal(weft_ctl_job_fired(&j, T0 + 60 * SEC), 0);
	assert_int_equal(weft_ctl_job_next(&j), -1);

	/* A start in the past is due at once, and fires once. */
	s = interval(SEC, T0 - 3600 * SEC, WEFT_CTL_NO_UNTIL, 0);
	assert_int_equal(weft_ctl_job_init(&j, &s, T0 + 500), 0);
	assert_true(weft_ctl_job_due(&j, T0 + 500));
	assert_int_equal(weft_ctl_job_fired(&j, T0 + 500), 0);
	assert_int_equal(weft_ctl_job_next(&j), T0 + SEC);
}

/* Resuming on another node from the recorded mark. */
static void test_resume(void **state)
{
	(void)state;
	struct weft_ctl_sched s = cron("*/10 * * * * ?");
	struct weft_ctl_job a, b;
	struct weft_ctl_job_mark m;

	/* Never fired, first slot not yet passed: nothing due. */
	assert_int_equal(weft_ctl_job_init(&a, &s, T0 + 3 * SEC), 0);
	m = weft_ctl_job_get_mark(&a);
	assert_int_equal(m.created_ms, T0 + 3 * SEC);
	assert_int_equal(m.last_fire_ms, -1);
	assert_int_equal(weft_ctl_job_resume(&b, &s, &m, T0 + 4 * SEC), 0);
	assert_int_equal(weft_ctl_job_next(&b), T0 + 10 * SEC);
	/* Never fired, first slot passed: one catch-up fire. */
	assert_int_equal(weft_ctl_job_resume(&b, &s, &m, T0 + 35 * SEC), 1);
	assert_int_equal(weft_ctl_job_fired(&b, T0 + 35 * SEC), 0);
	assert_int_equal(weft_ctl_job_next(&b), T0 + 40 * SEC);
	assert_int_equal(b.misfires, 1);

	/* Fired at 10 s, node died at 12 s, taken over at 15 s: no fire
	 * repeated, the next slot as the old node had it. */
	assert_int_equal(weft_ctl_job_fired(&a, T0 + 10 * SEC), 0);
	m = weft_ctl_job_get_mark(&a);
	assert_int_equal(weft_ctl_job_resume(&b, &s, &m, T0 + 15 * SEC), 0);
	assert_int_equal(weft_ctl_job_next(&b), weft_ctl_job_next(&a));
	assert_int_equal(b.fires, 1);
	assert_false(weft_ctl_job_due(&b, T0 + 15 * SEC));
	/* Taken over at 45 s: 20, 30 and 40 were missed -> one fire now. */
	assert_int_equal(weft_ctl_job_resume(&b, &s, &m, T0 + 45 * SEC), 1);
	assert_int_equal(weft_ctl_job_next(&b), T0 + 20 * SEC);
	assert_int_equal(weft_ctl_job_fired(&b, T0 + 45 * SEC), 0);
	assert_false(weft_ctl_job_due(&b, T0 + 49 * SEC));
	assert_int_equal(weft_ctl_job_next(&b), T0 + 50 * SEC);
	assert_int_equal(b.fires, 2);

	/* A late last fire (10.7 s): the next slot is 20 s. */
	m.last_fire_ms = T0 + 10 * SEC + 700;
	assert_int_equal(weft_ctl_job_resume(&b, &s, &m, T0 + 11 * SEC), 0);
	assert_int_equal(weft_ctl_job_next(&b), T0 + 20 * SEC);

	/* Interval starting at creation: the new node derives the same
	 * start from the mark, so the phase is kept. */
	s = interval(3 * SEC, WEFT_CTL_AT_CREATION, WEFT_CTL_NO_UNTIL, 5);
	assert_int_equal(weft_ctl_job_init(&a, &s, T0 + 100), 0);
	assert_int_equal(weft_ctl_job_fired(&a, T0 + 100), 0);
	assert_int_equal(weft_ctl_job_fired(&a, T0 + 3100), 0);
	m = weft_ctl_job_get_mark(&a);
	assert_int_equal(weft_ctl_job_resume(&b, &s, &m, T0 + 4 * SEC), 0);
	assert_int_equal(weft_ctl_job_next(&b), T0 + 6100);
	assert_int_equal(b.sched.iv.start_ms, T0 + 100);
	/* The count carries over: 5 in all across nodes. */
	assert_int_equal(weft_ctl_job_fired(&b, T0 + 6100), 0);
	assert_int_equal(weft_ctl_job_fired(&b, T0 + 9100), 0);
	assert_int_equal(weft_ctl_job_fired(&b, T0 + 12100), 0);
	assert_int_equal(weft_ctl_job_next(&b), -1);
	m = weft_ctl_job_get_mark(&b);
	assert_int_equal(m.fires, 5);
	assert_int_equal(weft_ctl_job_resume(&a, &s, &m, T0 + 99 * SEC), 0);
	assert_int_equal(weft_ctl_job_next(&a), -1);

	/* Inconsistent marks are refused, the job untouched. */
	static const struct weft_ctl_job_mark bad[] = {
		{-1, -1, 0},             /* no creation time */
		{T0, T0 + SEC, 0},       /* a last fire but no fire */
		{T0, -1, 2},             /* fires but no last fire */
		{T0, T0 - SEC, 1},       /* fired before it existed */
		{T0, T0 + SEC, 6},       /* beyond the count */
		{T0, -7, 0},             /* not a time */
	};
	struct weft_ctl_job keep = a;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(weft_ctl_job_resume(&a, &s, &bad[i], T0), -EINVAL);
		assert_memory_equal(&a, &keep, sizeof(a));
	}
	assert_int_equal(weft_ctl_job_resume(&a, NULL, &m, T0), -EINVAL);
	assert_int_equal(weft_ctl_job_resume(&a, &s, NULL, T0), -EINVAL);
}

/* ---- A simulated cluster with failovers ---- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

/* The job runs on one node at a time, stepping a virtual clock by `tick`
 * ms; after each fire the node records the mark (the cluster's record).
 * At random moments the node dies; after a random gap another node
 * resumes from the record. Checks, for every fire:
 *  - no repeat: it comes at or after the first slot after the previous
 *    fire (two fires never stand for the same slot);
 *  - on time: without a failover since the previous fire, it comes at the
 *    first tick at or after that slot (nothing missed, nothing late);
 *  - at most one catch-up: after a failover, it is at the resume instant
 *    when that slot passed during the gap (one fire, however many slots
 *    were missed), else on time;
 *  - the count is never exceeded. */
static void simulate(const struct weft_ctl_sched *s, int64_t tick, int64_t run_ms,
		     unsigned *n_fires, unsigned *n_catchups)
{
	struct weft_ctl_job j;
	struct weft_ctl_job_mark record;
	int64_t now = T0 + 37, last = -1, end = T0 + run_ms, resumed_at = -1;
	bool alive = true, failover = false;
	int64_t down_until = 0;
	uint64_t count = s->kind == WEFT_CTL_SCHED_INTERVAL ? s->iv.count : 0;

	assert_int_equal(weft_ctl_job_init(&j, s, now), 0);
	record = weft_ctl_job_get_mark(&j);
	*n_fires = *n_catchups = 0;
	for (; now < end; now += tick) {
		if (alive && rnd(200) == 0) { /* the node dies */
			alive = false;
			down_until = now + (int64_t)rnd(8000);
			continue;
		}
		if (!alive) {
			if (now < down_until)
				continue;
			alive = true; /* another node takes over */
			failover = true;
			resumed_at = now;
			int rc = weft_ctl_job_resume(&j, s, &record, now);
			assert_true(rc == 0 || rc == 1);
			assert_int_equal(rc == 1, weft_ctl_job_due(&j, now));
		}
		if (!weft_ctl_job_due(&j, now))
			continue;
		/* The slot this fire stands for, from the schedule alone. */
		int64_t slot = last < 0 ? j.next_ms
				: s->kind == WEFT_CTL_SCHED_CRON ? weft_ctl_cron_next(&s->cron, last)
								 : weft_ctl_interval_next(&j.sched.iv, last);
		assert_true(slot >= 0);
		assert_true(now >= slot); /* no repeat */
		if (failover && resumed_at == now && slot < now - tick + 1) {
			(*n_catchups)++; /* missed during the gap: once, now */
		} else {
			assert_true(now - slot < tick); /* on time */
		}
		assert_int_equal(weft_ctl_job_fired(&j, now), 0);
		assert_false(weft_ctl_job_due(&j, now));
		record = weft_ctl_job_get_mark(&j);
		last = now;
		failover = false;
		(*n_fires)++;
		if (count != 0)
			assert_true(j.fires <= count);
	}
	if (count != 0)
		assert_true(record.fires <= count);
}

static void test_failover_simulation(void **state)
{
	(void)state;
	unsigned fires, catchups;
	struct weft_ctl_sched s;

	/* Every second, ticks of 100 ms, 2 virtual hours. */
	s = cron("* * * * * ?");
	simulate(&s, 100, 2 * 3600 * SEC, &fires, &catchups);
	assert_true(fires > 5000);
	assert_true(catchups > 20);
	/* Every 5 s at odd ticks. */
	s = cron("*/5 * * * * ?");
	simulate(&s, 70, 3600 * SEC, &fires, &catchups);
	assert_true(fires > 500);
	assert_true(catchups > 5);
	/* Interval of 1.3 s from creation, limited to 2000 fires. */
	s = interval(1300, WEFT_CTL_AT_CREATION, WEFT_CTL_NO_UNTIL, 2000);
	simulate(&s, 100, 2 * 3600 * SEC, &fires, &catchups);
	assert_int_equal(fires, 2000);
	assert_true(catchups > 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interval_check),
		cmocka_unit_test(test_interval_next),
		cmocka_unit_test(test_cron_job),
		cmocka_unit_test(test_interval_job),
		cmocka_unit_test(test_misfire),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_failover_simulation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
