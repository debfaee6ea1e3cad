/*
 * test_ctl_cron.c — Quartz-style cron expressions (control/ctl_cron.c):
 * the parser accepts the documented syntax (with the expected bit sets)
 * and refuses everything else with the exact position and reason; next()
 * is checked per feature (steps, ranges, lists, names, '?', years, month
 * lengths, leap years, year rollover, day-of-month/-week combinations,
 * the domain's ends), returns -1 for dates that never come, and agrees
 * with a naive second-by-second search (libc gmtime_r for the calendar) on
 * random expressions over bounded windows (fixed seed).
 *
 * Deterministic: times are arguments; no clock is read.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ctl_cron.h"

/* ---- Helpers: "YYYY-MM-DD HH:MM:SS[.mmm]" <-> unix ms, via libc ---- */

static int64_t ms(const char *s)
{
	struct tm tm;
	int msec = 0;
	memset(&tm, 0, sizeof(tm));
	int n = sscanf(s, "%d-%d-%d %d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		       &tm.tm_min, &tm.tm_sec, &msec);
	assert_true(n >= 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + msec;
}

static char out_buf[4][32];
static unsigned out_i;

static const char *str(int64_t t)
{
	char *b = out_buf[out_i++ % 4];
	struct tm tm;
	time_t s;
	if (t < 0)
		return "none";
	assert_int_equal(t % 1000, 0); /* fires on whole seconds */
	s = (time_t)(t / 1000);
	gmtime_r(&s, &tm);
	strftime(b, sizeof(out_buf[0]), "%Y-%m-%d %H:%M:%S", &tm);
	return b;
}

static struct weft_ctl_cron parse_ok(const char *expr)
{
	struct weft_ctl_cron c;
	char err[WEFT_CTL_CRON_ERR_MAX];
	int rc = weft_ctl_cron_parse(expr, &c, err, sizeof(err));
	if (rc != 0)
		fail_msg("'%s' refused: %s", expr, err);
	return c;
}

/* The next fire after `after`, formatted. */
static const char *nx(const char *expr, const char *after)
{
	struct weft_ctl_cron c = parse_ok(expr);
	return str(weft_ctl_cron_next(&c, ms(after)));
}

/* ---- Parser ---- */

static void test_parse_accept(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"*/5 * * * * ?", "0 0 12 * * ?", "0 15 10 ? * MON-FRI", "0 0/5 14,18 * * ?",
		"0 0 0 * * *", "0 0 0 ? * sun", "0 0 0 1 jan-mar/2 ?", "0 0 0 ? * MON/2",
		"  0\t0 0 * * ?  ", "0 0 0 1 1 ? 2030", "0 0 0 1 1 ? *", "0-59/15 * * * * ?",
		"1,2,3-5,10/20 * * * * ?", "0 0 0 ? * 1-7", "0 0 0 31 2 ?", "0 0 0 13 * *",
		"0 0 0 * * FRI", "59 59 23 31 12 ? 2199", "0 0 0 1 1 ? 1970-2199/100", "* * * * * ?",
		"0 0 0 ? Dec Sat", "*/1 */1 */1 ? */1 */1",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		(void)parse_ok(ok[i]);

	struct weft_ctl_cron c = parse_ok("0 15 10 ? * MON-FRI");
	assert_int_equal(c.sec, 1);
	assert_int_equal(c.min, 1ull << 15);
	assert_int_equal(c.hour, 1u << 10);
	assert_int_equal(c.dom, 0xfffffffeu); /* days 1-31 */
	assert_int_equal(c.month, 0x1ffe);    /* months 1-12 */
	assert_int_equal(c.dow, 0x7c);        /* MON=2 .. FRI=6 */
	assert_int_equal(c.year[0], UINT64_MAX);
	assert_int_equal(c.year[3], (1ull << 38) - 1); /* up to 2199 */

	c = parse_ok("1,2,3-5,10/20 * * * * ?");
	assert_int_equal(c.sec, (1ull << 1) | (1ull << 2) | (1ull << 3) | (1ull << 4) | (1ull << 5) |
					(1ull << 10) | (1ull << 30) | (1ull << 50));
	assert_int_equal(parse_ok("0 0 0 1 jan-mar/2 ?").month, (1u << 1) | (1u << 3));
	assert_int_equal(parse_ok("0 0 0 ? * MON/2").dow, (1u << 2) | (1u << 4) | (1u << 6));
	assert_int_equal(parse_ok("0 0 0 ? Dec Sat").dow, 1u << 7);
	assert_int_equal(parse_ok("0 0 0 ? Dec Sat").month, 1u << 12);
	assert_int_equal(parse_ok("0 0/5 14,18 * * ?").min, 0x0084210842108421ull);
	assert_int_equal(parse_ok("0 0 0/5 14,18 * ?").dom, (1u << 14) | (1u << 18));
	c = parse_ok("0 0 0 1 1 ? 2030");
	assert_int_equal(c.year[0], 1ull << 60);
	assert_int_equal(c.year[1] | c.year[2] | c.year[3], 0);
	c = parse_ok("0 0 0 1 1 ? 1970-2199/100"); /* 1970, 2070, 2170 */
	assert_int_equal(c.year[0], 1);
	assert_int_equal(c.year[1], 1ull << 36);
	assert_int_equal(c.year[2], 0);
	assert_int_equal(c.year[3], 1ull << (200 - 192));
	/* '?' and '*' in a day field both mean every day. */
	assert_int_equal(parse_ok("0 0 0 13 * *").dow, 0xfe);
	assert_int_equal(parse_ok("0 0 0 13 * *").dom, 1u << 13);
}

static void test_parse_reject(void **state)
{
	(void)state;
	static const char *const LWH =
		"is not supported: weft cron has no L, W or # "
		"(Quartz's last-day, weekday and nth-weekday forms)";
	static const struct {
		const char *expr;
		const char *msg; /* "%s" stands for LWH */
	} bad[] = {
		{"", "position 1: expected 6 or 7 fields (SEC MIN HOUR DAY-OF-MONTH MONTH "
		     "DAY-OF-WEEK [YEAR]), got 0"},
		{"   ", "position 4: expected 6 or 7 fields (SEC MIN HOUR DAY-OF-MONTH MONTH "
			"DAY-OF-WEEK [YEAR]), got 0"},
		{"* * * * *", "position 10: expected 6 or 7 fields (SEC MIN HOUR DAY-OF-MONTH MONTH "
			      "DAY-OF-WEEK [YEAR]), got 5"},
		{"0 0 0 1 1 ? 2030 x", "position 18: too many fields: at most 7 (SEC MIN HOUR "
				       "DAY-OF-MONTH MONTH DAY-OF-WEEK [YEAR])"},
		{"60 * * * * ?", "position 1 (second): 60 is out of range 0-59"},
		{"* 60 * * * ?", "position 3 (minute): 60 is out of range 0-59"},
		{"* * 24 * * ?", "position 5 (hour): 24 is out of range 0-23"},
		{"* * * 0 * ?", "position 7 (day-of-month): 0 is out of range 1-31"},
		{"* * * 32 * ?", "position 7 (day-of-month): 32 is out of range 1-31"},
		{"* * * ? 13 *", "position 9 (month): 13 is out of range 1-12"},
		{"* * * ? 0 *", "position 9 (month): 0 is out of range 1-12"},
		{"* * * ? * 0", "position 11 (day-of-week): 0 is out of range 1-7 (SUN=1 ... SAT=7, "
				"as in Quartz; or SUN-SAT)"},
		{"* * * ? * 1-8", "position 13 (day-of-week): 8 is out of range 1-7 (SUN=1 ... SAT=7, "
				  "as in Quartz; or SUN-SAT)"},
		{"0 0 0 1 1 ? 1969", "position 13 (year): 1969 is out of range 1970-2199"},
		{"0 0 0 1 1 ? 2200", "position 13 (year): 2200 is out of range 1970-2199"},
		{"99999999999999 * * * * ?",
		 "position 1 (second): 999999999999... is out of range 0-59"},
		{"0 0 0 L * ?", "position 7 (day-of-month): 'L' %s"},
		{"0 0 0 L-3 * ?", "position 7 (day-of-month): 'L' %s"},
		{"0 0 0 LW * ?", "position 7 (day-of-month): 'L' %s"},
		{"0 0 0 15W * ?", "position 9 (day-of-month): 'W' %s"},
		{"0 0 0 W * ?", "position 7 (day-of-month): 'W' %s"},
		{"0 0 0 ? * 6#3", "position 12 (day-of-week): '#' %s"},
		{"0 0 0 ? * 5L", "position 12 (day-of-week): 'L' %s"},
		{"0 0 0 ? * L", "position 11 (day-of-week): 'L' %s"},
		{"0 0 0 ? * FRIDAY", "position 11 (day-of-week): unknown name 'FRIDAY' (expected SUN-SAT)"},
		{"0 0 0 1 JANUARY ?", "position 9 (month): unknown name 'JANUARY' (expected JAN-DEC)"},
		{"0 0 0 ? JAN FOO", "position 13 (day-of-week): unknown name 'FOO' (expected SUN-SAT)"},
		{"0 0 MON * * ?", "position 5 (hour): 'MON': this field takes numbers only"},
		{"0 0 0 ? * ?", "position 11 (day-of-week): '?' in both day-of-month and day-of-week: "
				"at most one may be '?'"},
		{"0 0 0 1 * MON", "position 11 (day-of-week): day-of-month and day-of-week are both "
				  "restricted: put '?' in one of them"},
		{"0 0 0 */2 * 1-7", "position 13 (day-of-week): day-of-month and day-of-week are both "
				    "restricted: put '?' in one of them"},
		{"? * * * * *", "position 1 (second): '?' is only allowed in day-of-month and "
				"day-of-week"},
		{"0 0 0 1 1 ? ?", "position 13 (year): '?' is only allowed in day-of-month and "
				  "day-of-week"},
		{"0 0 0 ?/2 * *", "position 7 (day-of-month): '?' must stand alone (it means no "
				  "specific value)"},
		{"0 0 0 1,? * *", "position 9 (day-of-month): '?' must stand alone (it means no "
				  "specific value)"},
		{"*/0 * * * * ?", "position 3 (second): step 0: a step must be at least 1"},
		{"*/61 * * * * ?", "position 3 (second): step 61 is larger than the field's 60 values"},
		{"0 0 22-2 * * ?", "position 5 (hour): range 22-2 is reversed (start after end); write "
				   "it as two ranges"},
		{"0 0 0 ? * FRI-MON", "position 11 (day-of-week): range FRI-MON is reversed (start after "
				      "end); write it as two ranges"},
		{"0 0 0 1 1 ? 2030-2020", "position 13 (year): range 2030-2020 is reversed (start after "
					  "end); write it as two ranges"},
		{"0 0 1,,2 * * ?", "position 7 (hour): expected a number, got ','"},
		{"0 0 1, * * ?", "position 7 (hour): expected a value after ','"},
		{"0 0 1- * * ?", "position 7 (hour): expected a number at the end of the field"},
		{"0 0 0 ? * MON-", "position 15 (day-of-week): expected a number or a name SUN-SAT at "
				   "the end of the field"},
		{"0 0 0 ? -JAN *", "position 9 (month): expected a number or a name JAN-DEC, got '-'"},
		{"0 0 */ * * ?", "position 7 (hour): expected a step number after '/'"},
		{"0 0 5/x * * ?", "position 7 (hour): expected a step number after '/', got 'x'"},
		{"0 0 *,5 * * ?", "position 6 (hour): '*' cannot be part of a list"},
		{"0 0 *-5 * * ?", "position 6 (hour): unexpected character '-'"},
		{"0 0 1.5 * * ?", "position 6 (hour): unexpected character '.'"},
		{"0 0 1/2/3 * * ?", "position 8 (hour): unexpected character '/'"},
		{"0 0 0 ? * *\n", "position 12 (day-of-week): unexpected byte 0x0a"},
		{"0 0 0 ? * \xc3\xa9", "position 11 (day-of-week): unexpected byte 0xc3"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct weft_ctl_cron c;
		char err[WEFT_CTL_CRON_ERR_MAX], want[WEFT_CTL_CRON_ERR_MAX];
		memset(&c, 0x5a, sizeof(c));
		struct weft_ctl_cron before = c;
		snprintf(want, sizeof(want), bad[i].msg, LWH);
		assert_int_equal(weft_ctl_cron_parse(bad[i].expr, &c, err, sizeof(err)), -EINVAL);
		if (strcmp(err, want) != 0)
			fail_msg("'%s':\n got  %s\n want %s", bad[i].expr, err, want);
		assert_memory_equal(&c, &before, sizeof(c)); /* untouched */
	}
	assert_true(sizeof(bad) / sizeof(bad[0]) >= 30);
}

static void test_parse_err_buffer(void **state)
{
	(void)state;
	struct weft_ctl_cron c;
	char err[16];
	/* No room for a message, or no buffer: still refused. */
	assert_int_equal(weft_ctl_cron_parse("0 0 0 L * ?", &c, NULL, 0), -EINVAL);
	assert_int_equal(weft_ctl_cron_parse("0 0 0 L * ?", &c, err, 0), -EINVAL);
	/* Truncated, NUL-terminated. */
	assert_int_equal(weft_ctl_cron_parse("0 0 0 L * ?", &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "position 7 (day");
	assert_int_equal(weft_ctl_cron_parse("0 0 0 L * ?", &c, err, 8), -EINVAL);
	assert_string_equal(err, "positio");
	assert_int_equal(weft_ctl_cron_parse(NULL, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "no expression");
}

/* ---- next(): per feature (2026-11-27 is a Friday) ---- */

static void test_next_examples(void **state)
{
	(void)state;
	/* Steps on seconds; strictly after; ms precision. */
	assert_string_equal(nx("*/5 * * * * ?", "2026-11-27 12:00:03"), "2026-11-27 12:00:05");
	assert_string_equal(nx("*/5 * * * * ?", "2026-11-27 12:00:05"), "2026-11-27 12:00:10");
	assert_string_equal(nx("*/5 * * * * ?", "2026-11-27 12:00:04.999"), "2026-11-27 12:00:05");
	assert_string_equal(nx("*/5 * * * * ?", "2026-11-27 12:00:05.001"), "2026-11-27 12:00:10");
	assert_string_equal(nx("*/5 * * * * ?", "2026-11-27 12:00:55"), "2026-11-27 12:01:00");
	/* Every day at noon. */
	assert_string_equal(nx("0 0 12 * * ?", "2026-11-27 11:59:59"), "2026-11-27 12:00:00");
	assert_string_equal(nx("0 0 12 * * ?", "2026-11-27 12:00:00"), "2026-11-28 12:00:00");
	/* Weekdays at 10:15: Friday after 10:15 -> Monday. */
	assert_string_equal(nx("0 15 10 ? * MON-FRI", "2026-11-27 11:00:00"), "2026-11-30 10:15:00");
	assert_string_equal(nx("0 15 10 ? * MON-FRI", "2026-11-27 10:14:59"), "2026-11-27 10:15:00");
	assert_string_equal(nx("0 15 10 ? * 2-6", "2026-11-28 00:00:00"), "2026-11-30 10:15:00");
	/* Every 5 minutes from 14:00 and from 18:00, for an hour each. */
	assert_string_equal(nx("0 0/5 14,18 * * ?", "2026-11-27 13:00:00"), "2026-11-27 14:00:00");
	assert_string_equal(nx("0 0/5 14,18 * * ?", "2026-11-27 14:02:00"), "2026-11-27 14:05:00");
	assert_string_equal(nx("0 0/5 14,18 * * ?", "2026-11-27 14:55:00"), "2026-11-27 18:00:00");
	assert_string_equal(nx("0 0/5 14,18 * * ?", "2026-11-27 18:55:00"), "2026-11-28 14:00:00");
	/* Ranges, a-b/n, a/n. */
	assert_string_equal(nx("0 10-12 * * * ?", "2026-11-27 10:12:00"), "2026-11-27 11:10:00");
	assert_string_equal(nx("0 0 8-18/4 * * ?", "2026-11-27 12:00:00"), "2026-11-27 16:00:00");
	assert_string_equal(nx("0 0 8-18/4 * * ?", "2026-11-27 16:00:00"), "2026-11-28 08:00:00");
	assert_string_equal(nx("0 50/5 * * * ?", "2026-11-27 10:55:00"), "2026-11-27 11:50:00");
	assert_string_equal(nx("30/45 * * * * ?", "2026-11-27 10:00:30"), "2026-11-27 10:01:30");
	/* Lists of days and of months by name. */
	assert_string_equal(nx("0 0 0 1,15 * ?", "2026-11-15 00:00:00"), "2026-12-01 00:00:00");
	assert_string_equal(nx("0 0 0 1 JAN,jul ?", "2026-01-01 00:00:00"), "2026-07-01 00:00:00");
	assert_string_equal(nx("0 0 0 1 JAN,jul ?", "2026-07-01 00:00:00"), "2027-01-01 00:00:00");
	assert_string_equal(nx("0 0 0 1 jan-mar/2 ?", "2026-01-01 00:00:00"), "2026-03-01 00:00:00");
	/* Day-of-week: '?' in the day of month; names, numbers, steps. */
	assert_string_equal(nx("0 0 0 ? * SUN", "2026-11-27 00:00:00"), "2026-11-29 00:00:00");
	assert_string_equal(nx("0 0 0 ? * 1", "2026-11-27 00:00:00"), "2026-11-29 00:00:00");
	assert_string_equal(nx("0 0 0 ? * SAT", "2026-11-27 00:00:00"), "2026-11-28 00:00:00");
	assert_string_equal(nx("0 0 0 ? * MON/2", "2026-11-30 00:00:00"), "2026-12-02 00:00:00");
	assert_string_equal(nx("0 0 0 ? * MON/2", "2026-12-04 00:00:00"), "2026-12-07 00:00:00");
	/* Day-of-month / day-of-week combinations. */
	assert_string_equal(nx("0 0 0 * * MON", "2026-11-27 00:00:00"), "2026-11-30 00:00:00");
	assert_string_equal(nx("0 0 0 13 * *", "2026-11-27 00:00:00"), "2026-12-13 00:00:00");
	assert_string_equal(nx("0 0 0 13 * ?", "2026-11-27 00:00:00"), "2026-12-13 00:00:00");
	assert_string_equal(nx("0 0 0 * * *", "2026-11-27 00:00:00"), "2026-11-28 00:00:00");
	assert_string_equal(nx("0 0 0 * * ?", "2026-11-27 00:00:00"), "2026-11-28 00:00:00");
	assert_string_equal(nx("0 0 0 ? * *", "2026-11-27 00:00:00"), "2026-11-28 00:00:00");
	assert_string_equal(nx("0 0 0 ? FEB MON", "2026-11-27 00:00:00"), "2027-02-01 00:00:00");
	/* Years. */
	assert_string_equal(nx("0 0 0 1 1 ? 2030", "2026-11-27 00:00:00"), "2030-01-01 00:00:00");
	assert_string_equal(nx("0 0 0 1 1 ? 2030", "2030-01-01 00:00:00"), "none");
	assert_string_equal(nx("0 0 0 1 1 ? 2028-2032/2", "2028-01-01 00:00:00"),
			    "2030-01-01 00:00:00");
	assert_string_equal(nx("* * * * * ? 1999", "2026-11-27 00:00:00"), "none");
	assert_string_equal(nx("* * * * * ? 2027", "2026-11-27 00:00:00"), "2027-01-01 00:00:00");
	assert_string_equal(nx("0 0 0 1 1 ? *", "2026-11-27 00:00:00"), "2027-01-01 00:00:00");
}

static void test_next_calendar(void **state)
{
	(void)state;
	/* Month lengths: the 31st skips short months, the 30th skips February. */
	assert_string_equal(nx("0 0 0 31 * ?", "2026-01-31 00:00:00"), "2026-03-31 00:00:00");
	assert_string_equal(nx("0 0 0 31 * ?", "2026-03-31 00:00:00"), "2026-05-31 00:00:00");
	assert_string_equal(nx("0 0 0 31 * ?", "2026-07-31 00:00:00"), "2026-08-31 00:00:00");
	assert_string_equal(nx("0 0 0 30 * ?", "2026-01-30 00:00:00"), "2026-03-30 00:00:00");
	assert_string_equal(nx("0 0 0 29 * ?", "2026-01-29 00:00:00"), "2026-03-29 00:00:00");
	assert_string_equal(nx("0 0 0 29 * ?", "2028-01-29 00:00:00"), "2028-02-29 00:00:00");
	/* Leap years: every 4 years, not 2100, but 2000. */
	assert_string_equal(nx("0 0 0 29 2 ?", "2026-01-01 00:00:00"), "2028-02-29 00:00:00");
	assert_string_equal(nx("0 0 0 29 2 ?", "2028-02-29 00:00:00"), "2032-02-29 00:00:00");
	assert_string_equal(nx("0 0 0 29 2 ?", "2096-03-01 00:00:00"), "2104-02-29 00:00:00");
	assert_string_equal(nx("0 0 0 29 2 ?", "1999-03-01 00:00:00"), "2000-02-29 00:00:00");
	assert_string_equal(nx("0 0 0 1 3 ?", "2100-02-28 00:00:00"), "2100-03-01 00:00:00");
	assert_string_equal(nx("0 0 0 * 2 ?", "2100-02-28 00:00:00"), "2101-02-01 00:00:00");
	assert_string_equal(nx("0 0 0 * 2 ?", "2024-02-28 00:00:00"), "2024-02-29 00:00:00");
	/* Leap day on a given weekday: Feb 29 2032 is a Sunday. */
	assert_string_equal(nx("0 0 12 ? 2 SUN", "2032-02-28 00:00:00"), "2032-02-29 12:00:00");
	/* End of year rollover, in every field at once. */
	assert_string_equal(nx("* * * * * ?", "2026-12-31 23:59:59"), "2027-01-01 00:00:00");
	assert_string_equal(nx("* * * * * ?", "2026-12-31 23:59:59.999"), "2027-01-01 00:00:00");
	assert_string_equal(nx("59 59 23 31 12 ?", "2026-12-31 23:59:59"), "2027-12-31 23:59:59");
	assert_string_equal(nx("0 0 0 1 1 ?", "2026-12-31 23:59:59"), "2027-01-01 00:00:00");
	assert_string_equal(nx("0 0 0 ? * MON", "2026-12-29 00:00:00"), "2027-01-04 00:00:00");
	/* The first fire after a carry resets the smaller fields. */
	assert_string_equal(nx("10-20 10-20 10-20 * * ?", "2026-11-27 10:20:21"),
			    "2026-11-27 11:10:10");
	assert_string_equal(nx("10-20 10-20 10-20 * * ?", "2026-11-27 20:20:20"),
			    "2026-11-28 10:10:10");
	assert_string_equal(nx("10-20 10-20 10-20 * * ?", "2026-11-27 09:30:30"),
			    "2026-11-27 10:10:10");
}

static void test_next_domain_ends(void **state)
{
	(void)state;
	struct weft_ctl_cron c = parse_ok("* * * * * ?");
	/* Before 1970: the first fire is 1970-01-01 00:00:00. */
	assert_int_equal(weft_ctl_cron_next(&c, -1), 0);
	assert_int_equal(weft_ctl_cron_next(&c, -1000), 0);
	assert_int_equal(weft_ctl_cron_next(&c, -1001), 0);
	assert_int_equal(weft_ctl_cron_next(&c, INT64_MIN), 0);
	assert_int_equal(weft_ctl_cron_next(&c, 0), 1000);
	assert_int_equal(weft_ctl_cron_next(&c, 999), 1000);
	c = parse_ok("0 0 0 1 1 ?");
	assert_int_equal(weft_ctl_cron_next(&c, -5000), 0);
	assert_string_equal(str(weft_ctl_cron_next(&c, 0)), "1971-01-01 00:00:00");
	/* After 2199: none. */
	assert_string_equal(nx("* * * * * ?", "2199-12-31 23:59:58"), "2199-12-31 23:59:59");
	assert_string_equal(nx("* * * * * ?", "2199-12-31 23:59:59"), "none");
	assert_string_equal(nx("0 0 0 1 1 ?", "2199-01-01 00:00:00"), "none");
	c = parse_ok("* * * * * ?");
	assert_int_equal(weft_ctl_cron_next(&c, INT64_MAX), -1);
}

/* Dates that never exist: -1, after a bounded search. */
static void test_next_impossible(void **state)
{
	(void)state;
	static const char *const never[] = {
		"0 0 0 31 2 ?",         "0 0 0 30 2 ?",       "0 0 0 30-31 FEB ?",
		"0 0 0 31 4,6,9,11 ?",  "0 0 0 29 2 ? 2100",  "0 0 0 29 2 ? 2101-2103",
		"0 0 0 31 2 ? 1970-2199", "0 0 0 29 2 ? 2197-2199",
	};
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		struct weft_ctl_cron c = parse_ok(never[i]);
		assert_int_equal(weft_ctl_cron_next(&c, ms("1970-01-01 00:00:00")), -1);
		assert_int_equal(weft_ctl_cron_next(&c, -1), -1);
		assert_int_equal(weft_ctl_cron_next(&c, ms("2026-11-27 11:52:00")), -1);
	}
	/* The same month and day in a leap year do come. */
	assert_string_equal(nx("0 0 0 29 2 ? 2101-2104", "2026-01-01 00:00:00"),
			    "2104-02-29 00:00:00");
}

/* ---- Cross-check against a naive search on random expressions ---- */

struct expect {
	bool sec[60], min[60], hour[24], dom[32], month[13], dow[8], year[256];
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

static const char *const MONTHS[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
				     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const DAYS[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

/* Appends one value of a field, as a name half of the time when it has
 * names. */
static void put_value(char *out, size_t cap, unsigned v, unsigned lo, const char *const *names)
{
	size_t n = strlen(out);
	if (names != NULL && rnd(2))
		snprintf(out + n, cap - n, "%s", names[v - lo]);
	else
		snprintf(out + n, cap - n, "%u", v);
}

/* A random field over [lo, hi] (items chosen from [plo, phi] to keep
 * matches likely within a window), its text appended to out, its members
 * set in set[v]. Never '?'. */
static void gen_field(char *out, size_t cap, bool *set, unsigned lo, unsigned hi, unsigned plo,
		      unsigned phi, const char *const *names)
{
	unsigned items = rnd(4) == 0 ? 1 : 1 + rnd(3);
	if (rnd(4) == 0) {
		strncat(out, "*", cap - strlen(out) - 1);
		for (unsigned v = lo; v <= hi; v++)
			set[v] = true;
		return;
	}
	for (unsigned i = 0; i < items; i++) {
		unsigned a = plo + rnd(phi - plo + 1), b = a + rnd(phi - a + 1);
		unsigned step = 1 + rnd(rnd(2) ? 3 : hi - lo + 1);
		size_t n;
		if (i > 0)
			strncat(out, ",", cap - strlen(out) - 1);
		n = strlen(out);
		switch (rnd(5)) {
		case 0: /* a */
			put_value(out, cap, a, lo, names);
			set[a] = true;
			break;
		case 1: /* a-b */
			put_value(out, cap, a, lo, names);
			strncat(out, "-", cap - strlen(out) - 1);
			put_value(out, cap, b, lo, names);
			for (unsigned v = a; v <= b; v++)
				set[v] = true;
			break;
		case 2: /* a/n */
			put_value(out, cap, a, lo, names);
			n = strlen(out);
			snprintf(out + n, cap - n, "/%u", step);
			for (unsigned v = a; v <= hi; v += step)
				set[v] = true;
			break;
		case 3: /* a-b/n */
			put_value(out, cap, a, lo, names);
			strncat(out, "-", cap - strlen(out) - 1);
			put_value(out, cap, b, lo, names);
			n = strlen(out);
			snprintf(out + n, cap - n, "/%u", step);
			for (unsigned v = a; v <= b; v += step)
				set[v] = true;
			break;
		default: /* star/n */
			snprintf(out + n, cap - n, "*/%u", step);
			for (unsigned v = lo; v <= hi; v += step)
				set[v] = true;
			break;
		}
	}
}

static void gen_expr(char *out, size_t cap, struct expect *x)
{
	memset(x, 0, sizeof(*x));
	out[0] = '\0';
	gen_field(out, cap, x->sec, 0, 59, 0, 59, NULL);
	strncat(out, " ", cap - strlen(out) - 1);
	gen_field(out, cap, x->min, 0, 59, 0, 59, NULL);
	strncat(out, " ", cap - strlen(out) - 1);
	gen_field(out, cap, x->hour, 0, 23, 0, 23, NULL);
	strncat(out, " ", cap - strlen(out) - 1);
	switch (rnd(4)) {
	case 0: /* restricted day of month, '?' or '*' day of week */
		gen_field(out, cap, x->dom, 1, 31, 1, 31, NULL);
		strncat(out, " ", cap - strlen(out) - 1);
		gen_field(out, cap, x->month, 1, 12, 1, 12, MONTHS);
		strncat(out, rnd(2) ? " ?" : " *", cap - strlen(out) - 1);
		for (unsigned v = 1; v <= 7; v++)
			x->dow[v] = true;
		break;
	case 1: /* '?' or '*' day of month, restricted day of week */
		strncat(out, rnd(2) ? "? " : "* ", cap - strlen(out) - 1);
		for (unsigned v = 1; v <= 31; v++)
			x->dom[v] = true;
		gen_field(out, cap, x->month, 1, 12, 1, 12, MONTHS);
		strncat(out, " ", cap - strlen(out) - 1);
		gen_field(out, cap, x->dow, 1, 7, 1, 7, DAYS);
		break;
	case 2: /* late days of month: month lengths */
		gen_field(out, cap, x->dom, 1, 31, 28, 31, NULL);
		strncat(out, " ", cap - strlen(out) - 1);
		gen_field(out, cap, x->month, 1, 12, 1, 12, MONTHS);
		strncat(out, " ?", cap - strlen(out) - 1);
		for (unsigned v = 1; v <= 7; v++)
			x->dow[v] = true;
		break;
	default: /* every day */
		strncat(out, rnd(2) ? "* " : "? ", cap - strlen(out) - 1);
		gen_field(out, cap, x->month, 1, 12, 1, 12, MONTHS);
		strncat(out, " *", cap - strlen(out) - 1);
		for (unsigned v = 1; v <= 31; v++)
			x->dom[v] = true;
		for (unsigned v = 1; v <= 7; v++)
			x->dow[v] = true;
		break;
	}
	if (rnd(3) == 0) { /* a year field around the test window */
		bool ys[2200] = {false};
		strncat(out, " ", cap - strlen(out) - 1);
		gen_field(out, cap, ys, 1970, 2199, 2024, 2031, NULL);
		for (unsigned y = 1970; y <= 2199; y++)
			x->year[y - 1970] = ys[y];
	} else {
		if (rnd(2))
			strncat(out, " *", cap - strlen(out) - 1);
		for (unsigned y = 1970; y <= 2199; y++)
			x->year[y - 1970] = true;
	}
}

/* The first matching second after after_ms and before end_s, checking the
 * day once per day and then each second of a matching day; -1 if none. */
static int64_t naive_next(const struct expect *x, int64_t after_ms, int64_t end_s)
{
	int64_t t = after_ms / 1000 + 1; /* after_ms >= 0 here */
	while (t < end_s) {
		struct tm tm;
		time_t tt = (time_t)t;
		gmtime_r(&tt, &tm);
		if (!(x->year[tm.tm_year + 1900 - 1970] && x->month[tm.tm_mon + 1] &&
		      x->dom[tm.tm_mday] && x->dow[tm.tm_wday + 1])) {
			t = (t / 86400 + 1) * 86400;
			continue;
		}
		for (int64_t sod = t % 86400; sod < 86400 && t < end_s; sod++, t++)
			if (x->hour[sod / 3600] && x->min[sod / 60 % 60] && x->sec[sod % 60])
				return t * 1000;
	}
	return -1;
}

static void test_next_cross_check(void **state)
{
	(void)state;
	const int64_t base = ms("2024-01-01 00:00:00");
	const int64_t span = ms("2032-01-01 00:00:00") - base;
	const int64_t window_s = 2 * 366 * 86400;
	unsigned fired = 0, none = 0;

	for (unsigned it = 0; it < 5000; it++) {
		char expr[256], err[WEFT_CTL_CRON_ERR_MAX];
		struct expect x;
		struct weft_ctl_cron c;
		int64_t after;

		gen_expr(expr, sizeof(expr), &x);
		if (weft_ctl_cron_parse(expr, &c, err, sizeof(err)) != 0)
			fail_msg("'%s' refused: %s", expr, err);
		after = base + (int64_t)(((uint64_t)rnd(1u << 30) << 16 | rnd(1u << 16)) %
					 (uint64_t)span);
		if (rnd(4) == 0)
			after -= after % 86400000; /* midnight: day and month edges */
		for (unsigned k = 0; k < 3; k++) {
			int64_t end_s = after / 1000 + 1 + window_s;
			int64_t want = naive_next(&x, after, end_s);
			int64_t got = weft_ctl_cron_next(&c, after);
			if (want >= 0) {
				if (got != want)
					fail_msg("'%s' after %lld: got %s, naive %s", expr,
						 (long long)after, str(got), str(want));
				fired++;
				after = got; /* chained: strictly after a fire time */
			} else {
				if (got >= 0 && got < end_s * 1000)
					fail_msg("'%s' after %lld: got %s, naive none in window",
						 expr, (long long)after, str(got));
				none++;
				break;
			}
		}
	}
	/* The generator exercised both outcomes. */
	assert_true(fired > 10000);
	assert_true(none > 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accept),
		cmocka_unit_test(test_parse_reject),
		cmocka_unit_test(test_parse_err_buffer),
		cmocka_unit_test(test_next_examples),
		cmocka_unit_test(test_next_calendar),
		cmocka_unit_test(test_next_domain_ends),
		cmocka_unit_test(test_next_impossible),
		cmocka_unit_test(test_next_cross_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
