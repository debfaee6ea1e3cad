/*
 * fuzz_cron.c — libFuzzer target for the job schedules' pure code: the
 * weft_schedule spec parser (control/ctl_services_spec.c: an interval
 * "every MS ..." or a cron expression, ctl_cron.c) and the next-fire walks
 * of both (ctl_cron.c, ctl_jobsched.c).
 *
 * Input layout: the cron expression is the bytes up to the first NUL (at
 * most SPEC_MAX of them; so a plain-text seed file is a bare spec). After
 * that NUL, little-endian int64s, each 0 when the input ends early:
 *   after_ms (the time the walks start after; also a parsed interval's
 *   start when it has none), then every_ms, start_ms, until_ms: a second,
 *   raw interval schedule for weft_ctl_interval_next's arithmetic.
 *
 * Asserted (abort on violation):
 *  - sv_spec_parse returns 0 or -EINVAL with a NUL-terminated message
 *    within its buffer; a parsed cron has every mask non-empty with no
 *    bit outside its field's range, a parsed interval passes
 *    weft_ctl_interval_check;
 *  - weft_ctl_cron_next from the fuzzed start, chained WALK times: each
 *    fire is -1 or a whole second strictly after the previous, no later
 *    than the end of WEFT_CTL_CRON_YEAR_MAX;
 *  - for an interval that passes weft_ctl_interval_check (start a time):
 *    each next is -1 or strictly after the previous, on the phase
 *    start + k * every, and <= until_ms.
 * Loops are bounded by WALK, so a hang is the code under test's.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_cron.h"
#include "ctl_jobsched.h"
#include "ctl_services_internal.h"

#define SPEC_MAX 512
#define WALK 32
/* 2200-01-01T00:00:00Z: no fire time lies at or past it. */
#define CRON_END_MS 7258118400000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static int64_t take_i64(const uint8_t **p, size_t *left)
{
	uint64_t v = 0;
	size_t n = *left < 8 ? *left : 8;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)(*p)[i] << (8 * i);
	*p += n;
	*left -= n;
	return (int64_t)v;
}

static void check_masks(const struct weft_ctl_cron *c)
{
	check(c->sec != 0 && (c->sec >> 60) == 0);
	check(c->min != 0 && (c->min >> 60) == 0);
	check(c->hour != 0 && (c->hour >> 24) == 0);
	check(c->dom != 0 && (c->dom & 1u) == 0);
	check(c->month != 0 && (c->month & 1u) == 0 && (c->month >> 13) == 0);
	check(c->dow != 0 && (c->dow & 1u) == 0);
	/* 230 years: bits 0..229, i.e. year[3] bits 0..37. */
	check((c->year[0] | c->year[1] | c->year[2] | c->year[3]) != 0);
	check((c->year[3] >> 38) == 0);
}

static void walk_cron(const struct weft_ctl_cron *c, int64_t after)
{
	int64_t prev = after;
	for (int i = 0; i < WALK; i++) {
		int64_t t = weft_ctl_cron_next(c, prev);
		if (t == -1)
			return;
		check(t > prev && t % 1000 == 0 && t >= 0 && t < CRON_END_MS);
		prev = t;
	}
}

static void walk_interval(const struct weft_ctl_interval *iv, int64_t after)
{
	if (weft_ctl_interval_check(iv) != 0 || iv->start_ms == WEFT_CTL_AT_CREATION)
		return;
	int64_t prev = after;
	for (int i = 0; i < WALK; i++) {
		int64_t t = weft_ctl_interval_next(iv, prev);
		if (t == -1)
			return;
		check(t > prev && t >= iv->start_ms);
		check((t - iv->start_ms) % iv->every_ms == 0);
		check(iv->until_ms == WEFT_CTL_NO_UNTIL || t <= iv->until_ms);
		prev = t;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char spec[SPEC_MAX + 1];
	size_t n = 0;
	while (n < size && n < SPEC_MAX && data[n] != 0)
		n++;
	memcpy(spec, data, n);
	spec[n] = '\0';
	const uint8_t *p = data + n;
	size_t left = size - n;
	if (left > 0 && *p == 0) { /* the separator */
		p++;
		left--;
	}
	int64_t after = take_i64(&p, &left);
	struct weft_ctl_interval iv = {
		.every_ms = take_i64(&p, &left),
		.start_ms = take_i64(&p, &left),
		.until_ms = take_i64(&p, &left),
	};

	struct weft_ctl_sched s;
	char err[WEFT_CTL_CRON_ERR_MAX];
	memset(err, 'x', sizeof(err));
	int rc = sv_spec_parse(spec, &s, err, sizeof(err));
	check(rc == 0 || rc == -EINVAL);
	if (rc != 0) {
		check(memchr(err, '\0', sizeof(err)) != NULL);
	} else if (s.kind == WEFT_CTL_SCHED_CRON) {
		check_masks(&s.cron);
		walk_cron(&s.cron, after);
	} else {
		check(s.kind == WEFT_CTL_SCHED_INTERVAL);
		check(weft_ctl_interval_check(&s.iv) == 0);
		if (s.iv.start_ms == WEFT_CTL_AT_CREATION) {
			s.iv.start_ms = after < 0 ? 0 : after;
			if (s.iv.until_ms != WEFT_CTL_NO_UNTIL && s.iv.until_ms < s.iv.start_ms)
				s.iv.until_ms = s.iv.start_ms;
		}
		walk_interval(&s.iv, after);
	}
	walk_interval(&iv, after);
	return 0;
}
