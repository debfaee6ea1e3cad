/*
 * ctl_cron.h — internals of the control module's job schedules: Quartz-style
 * cron expressions with seconds (ctl_cron.c). Shared by the job scheduler
 * (ctl_jobsched.h: interval schedules and the job state machine) and the
 * unit tests; not for other modules. User documentation: docs/jobs.md,
 * "Schedules".
 *
 * Pure and sans-I/O: no clock, no time zone, no global state, no
 * allocation; any thread. All times are unix milliseconds, and calendar
 * fields are UTC. Fire times lie in the years
 * WEFT_CTL_CRON_YEAR_MIN..WEFT_CTL_CRON_YEAR_MAX and fall on whole
 * seconds.
 *
 * A parsed expression is a set of bit masks, one per field; a time fires
 * when every field's bit is set. Invariants after a successful parse: each
 * mask is non-empty and has no bit outside its field's range; at most one
 * of day-of-month and day-of-week is restricted (the other is all days),
 * so a day matches when its bit is set in both.
 */
#ifndef WEFT_CONTROL_CRON_H
#define WEFT_CONTROL_CRON_H

#include <stddef.h>
#include <stdint.h>

#define WEFT_CTL_CRON_YEAR_MIN 1970
#define WEFT_CTL_CRON_YEAR_MAX 2199
/* Room for parse error messages: this many bytes always suffice. */
#define WEFT_CTL_CRON_ERR_MAX 160u

struct weft_ctl_cron {
	uint64_t sec;     /* bit s: second s (0-59) */
	uint64_t min;     /* bit m: minute m (0-59) */
	uint32_t hour;    /* bit h: hour h (0-23) */
	uint32_t dom;     /* bit d: day of month d (1-31) */
	uint16_t month;   /* bit m: month m (1-12) */
	uint8_t dow;      /* bit d: day of week d (1 = SUN .. 7 = SAT) */
	uint64_t year[4]; /* bit (y - 1970): year y (1970-2199) */
};

/* Parses `SEC MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK [YEAR]` (fields
 * separated by spaces or tabs; syntax in docs/jobs.md). 0, or -EINVAL with
 * a NUL-terminated message in err (when errlen > 0; truncated to errlen)
 * saying where (1-based byte position and field) and why, e.g.
 * "position 11 (day-of-month): 'L' is not supported (...)". *out is
 * written only on success. */
int weft_ctl_cron_parse(const char *expr, struct weft_ctl_cron *out, char *err, size_t errlen);

/* The first fire time strictly after after_ms (unix ms, UTC; any value),
 * a multiple of 1000; -1 when there is none up to the end of
 * WEFT_CTL_CRON_YEAR_MAX (a past year, or a date that never exists such as
 * 31 February). Skips by field (year, month, day, hour, minute, second);
 * bounded: at most one step per month of the supported years. */
int64_t weft_ctl_cron_next(const struct weft_ctl_cron *c, int64_t after_ms);

#endif /* WEFT_CONTROL_CRON_H */
