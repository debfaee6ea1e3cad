/*
 * ctl_services_spec.c — the text forms of jobs: weft_schedule's spec
 * (a Quartz cron expression, parsed by ctl_cron.c, or an interval
 * "every MS [count N] [start UNIX_MS] [until UNIX_MS]") and the job mark
 * stored in cache "weft.jobs" (created, last fire, fires: three 64-bit
 * little-endian integers). Pure; any thread.
 *
 * Interval grammar: words separated by spaces or tabs; "every" first, then
 * its period (decimal ms, > 0), then the options in any order, each at
 * most once: "count N" (N >= 1 fires in all), "start UNIX_MS" (first fire;
 * default: when the job is first scheduled), "until UNIX_MS" (last allowed
 * fire, inclusive, not before start). Numbers are plain decimal digits up
 * to INT64_MAX. Anything else is refused with a message naming the word.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl_services_internal.h"

#define SEPS " \t"

/* Next word of *p (advanced past it): its start and length, 0 at the end. */
static size_t word(const char **p, const char **w)
{
	const char *s = *p + strspn(*p, SEPS);
	size_t n = strcspn(s, SEPS);

	*w = s;
	*p = s + n;
	return n;
}

static bool number(const char *w, size_t n, int64_t *v)
{
	uint64_t x = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (w[i] < '0' || w[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(w[i] - '0');
		if (x > (uint64_t)INT64_MAX)
			return false;
	}
	*v = (int64_t)x;
	return true;
}

/* -EINVAL with fmt's message; fmt's one "%.*s" shows the word w (n bytes,
 * at most 40 shown). */
static int fail(char *err, size_t errlen, const char *fmt, const char *w, size_t n)
{
	if (errlen > 0)
		snprintf(err, errlen, fmt, (int)(n > 40 ? 40 : n), w);
	return -EINVAL;
}

static int fail_plain(char *err, size_t errlen, const char *msg)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s", msg);
	return -EINVAL;
}

static int interval_parse(const char *p, struct weft_ctl_interval *iv, char *err, size_t errlen)
{
	const char *w;
	size_t n;
	bool seen[3] = {false, false, false};
	static const char *const opt[3] = {"count", "start", "until"};

	n = word(&p, &w);
	if (!number(w, n, &iv->every_ms) || iv->every_ms == 0)
		return fail(err, errlen, "every: '%.*s' is not a period in ms (1..INT64_MAX)", w,
			    n);
	iv->start_ms = WEFT_CTL_AT_CREATION;
	iv->until_ms = WEFT_CTL_NO_UNTIL;
	iv->count = 0;
	while ((n = word(&p, &w)) > 0) {
		int k = 0;
		while (k < 3 && (strlen(opt[k]) != n || strncmp(opt[k], w, n) != 0))
			k++;
		if (k == 3)
			return fail(err, errlen, "unknown word '%.*s' (expected count, start or until)",
				    w, n);
		if (seen[k])
			return fail(err, errlen, "option '%.*s' given twice", w, n);
		seen[k] = true;
		const char *name = w;
		size_t name_n = n;
		int64_t v;
		n = word(&p, &w);
		if (!number(w, n, &v))
			return fail(err, errlen, "option '%.*s' needs a decimal number", name, name_n);
		if (k == 0 && v == 0)
			return fail(err, errlen, "'%.*s' must be at least 1", name, name_n);
		if (k == 0)
			iv->count = (uint64_t)v;
		else if (k == 1)
			iv->start_ms = v;
		else
			iv->until_ms = v;
	}
	if (weft_ctl_interval_check(iv) != 0)
		return fail_plain(err, errlen, "until is before start");
	return 0;
}

int sv_spec_parse(const char *spec, struct weft_ctl_sched *out, char *err, size_t errlen)
{
	struct weft_ctl_sched s;
	const char *p = spec, *w;
	size_t n;
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	if (spec == NULL || out == NULL)
		return fail_plain(err, errlen, "no spec");
	n = word(&p, &w);
	memset(&s, 0, sizeof(s));
	if (n == 5 && strncmp(w, "every", 5) == 0) {
		s.kind = WEFT_CTL_SCHED_INTERVAL;
		rc = interval_parse(p, &s.iv, err, errlen);
	} else {
		s.kind = WEFT_CTL_SCHED_CRON;
		rc = weft_ctl_cron_parse(spec, &s.cron, err, errlen);
	}
	if (rc == 0)
		*out = s;
	return rc;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void sv_mark_encode(const struct weft_ctl_job_mark *m, uint8_t buf[SV_MARK_BYTES])
{
	put_le64(buf, (uint64_t)m->created_ms);
	put_le64(buf + 8, (uint64_t)m->last_fire_ms);
	put_le64(buf + 16, m->fires);
}

int sv_mark_decode(const uint8_t *buf, size_t len, struct weft_ctl_job_mark *m)
{
	if (buf == NULL || m == NULL || len != SV_MARK_BYTES)
		return -EINVAL;
	m->created_ms = (int64_t)get_le64(buf);
	m->last_fire_ms = (int64_t)get_le64(buf + 8);
	m->fires = get_le64(buf + 16);
	return 0;
}
