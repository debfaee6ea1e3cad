/*
 * ctl_cron.c — Quartz-style cron expressions with seconds: the parser and
 * the next-fire-time search (ctl_cron.h; syntax in docs/jobs.md).
 *
 * Pure and sans-I/O; calendar arithmetic is done here on UTC (no libc time
 * zone, no gmtime/timegm), over the years WEFT_CTL_CRON_YEAR_MIN..MAX.
 *
 * Parser: an expression is 6 or 7 whitespace-separated fields; a field is
 * '?' alone (day-of-month or day-of-week only) or a comma list of items,
 * an item being '*', a value or a range a-b, optionally followed by /step.
 * Each field becomes a bit set indexed by (value - field minimum); any
 * other input is refused with its 1-based byte position, the field and the
 * reason. Invariants of a parsed expression: ctl_cron.h.
 *
 * Search: from the first whole second after `after`, a cursor
 * (year, month, day, hour, minute, second) moves forward field by field,
 * from the year down: a field without a match at or after the cursor
 * carries into the next larger field and resets the smaller ones. Each
 * step either returns or advances the cursor to a later month, except for
 * at most four carries (second -> minute -> hour -> day) before a day with
 * a match is found, so the loop runs at most CRON_STEPS_MAX times.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl_cron.h"

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F_YEAR, F_COUNT };

/* How a field was written: matters only for the day-of-month/-week rule. */
enum field_kind { FK_STAR, FK_NONE, FK_SET };

struct field_spec {
	const char *name;
	unsigned lo, hi;
	const char *const *names; /* names[v - lo], or NULL */
	const char *names_hint;
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
					  "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static const struct field_spec fields[F_COUNT] = {
	[F_SEC] = {"second", 0, 59, NULL, NULL},
	[F_MIN] = {"minute", 0, 59, NULL, NULL},
	[F_HOUR] = {"hour", 0, 23, NULL, NULL},
	[F_DOM] = {"day-of-month", 1, 31, NULL, NULL},
	[F_MONTH] = {"month", 1, 12, month_names, "JAN-DEC"},
	[F_DOW] = {"day-of-week", 1, 7, day_names, "SUN-SAT"},
	[F_YEAR] = {"year", WEFT_CTL_CRON_YEAR_MIN, WEFT_CTL_CRON_YEAR_MAX, NULL, NULL},
};

#define FIELD_BITS 256u /* >= the widest field (years: 230 values) */
#define SYNTAX "SEC MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK [YEAR]"

struct parser {
	const char *expr;
	char *err;
	size_t errlen;
};

/* Writes "position N (field): reason" (field omitted when f < 0). */
__attribute__((format(printf, 4, 5))) static int fail(struct parser *p, const char *at, int f,
						     const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err == NULL || p->errlen == 0)
		return -EINVAL;
	if (f >= 0)
		n = snprintf(p->err, p->errlen, "position %zu (%s): ", (size_t)(at - p->expr) + 1,
			     fields[f].name);
	else
		n = snprintf(p->err, p->errlen, "position %zu: ", (size_t)(at - p->expr) + 1);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* The error for a character that cannot come where it stands. */
static int unexpected(struct parser *p, int f, const char *q)
{
	char c = upper(*q);

	if (c == 'L' || c == 'W' || c == '#')
		return fail(p, q, f,
			    "'%c' is not supported: weft cron has no L, W or # "
			    "(Quartz's last-day, weekday and nth-weekday forms)",
			    *q);
	if (*q == '?')
		return fail(p, q, f,
			    f == F_DOM || f == F_DOW
				    ? "'?' must stand alone (it means no specific value)"
				    : "'?' is only allowed in day-of-month and day-of-week");
	if ((unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f)
		return fail(p, q, f, "unexpected character '%c'", *q);
	return fail(p, q, f, "unexpected byte 0x%02x", (unsigned char)*q);
}

/* A number or (month, day-of-week) a three-letter name at *q, before e. */
static int parse_value(struct parser *p, int f, const char **q, const char *e, unsigned *v)
{
	const struct field_spec *fs = &fields[f];
	const char *s = *q;

	if (s < e && is_digit(*s)) {
		unsigned long n = 0;
		while (*q < e && is_digit(**q)) {
			if (n < 1000000)
				n = n * 10 + (unsigned long)(**q - '0');
			(*q)++;
		}
		if (n < fs->lo || n > fs->hi)
			return fail(p, s, f, "%.*s%s is out of range %u-%u%s",
				    (int)(*q - s > 12 ? 12 : *q - s), s, *q - s > 12 ? "..." : "", fs->lo, fs->hi,
				    f == F_DOW ? " (SUN=1 ... SAT=7, as in Quartz; or SUN-SAT)" : "");
		*v = (unsigned)n;
		return 0;
	}
	if (s < e && is_alpha(*s)) {
		size_t len;
		while (*q < e && is_alpha(**q))
			(*q)++;
		len = (size_t)(*q - s);
		if (fs->names != NULL && len == 3)
			for (unsigned i = 0; i <= fs->hi - fs->lo; i++)
				if (upper(s[0]) == fs->names[i][0] && upper(s[1]) == fs->names[i][1] &&
				    upper(s[2]) == fs->names[i][2]) {
					*v = fs->lo + i;
					return 0;
				}
		if ((len == 1 && (upper(*s) == 'L' || upper(*s) == 'W')) ||
		    (len == 2 && upper(s[0]) == 'L' && upper(s[1]) == 'W'))
			return unexpected(p, f, s);
		if (fs->names != NULL)
			return fail(p, s, f, "unknown name '%.*s' (expected %s)", (int)(len > 12 ? 12 : len),
				    s, fs->names_hint);
		return fail(p, s, f, "'%.*s': this field takes numbers only", (int)(len > 12 ? 12 : len),
			    s);
	}
	if (s < e)
		return (*s == '*' || *s == '-' || *s == '/' || *s == ',')
			       ? fail(p, s, f, "expected a number%s%s, got '%c'",
				      fs->names ? " or a name " : "", fs->names ? fs->names_hint : "", *s)
			       : unexpected(p, f, s);
	return fail(p, s, f, "expected a number%s%s at the end of the field",
		    fs->names ? " or a name " : "", fs->names ? fs->names_hint : "");
}

/* The number after '/': 1 .. the field's count of values. */
static int parse_step(struct parser *p, int f, const char **q, const char *e, unsigned *step)
{
	unsigned span = fields[f].hi - fields[f].lo + 1;
	const char *s = *q;
	unsigned long n = 0;

	if (s >= e || !is_digit(*s))
		return s < e ? fail(p, s, f, "expected a step number after '/', got '%c'", *s)
			     : fail(p, s, f, "expected a step number after '/'");
	while (*q < e && is_digit(**q)) {
		if (n < 1000000)
			n = n * 10 + (unsigned long)(**q - '0');
		(*q)++;
	}
	if (n == 0)
		return fail(p, s, f, "step 0: a step must be at least 1");
	if (n > span)
		return fail(p, s, f, "step %.*s is larger than the field's %u values",
			    (int)(*q - s > 12 ? 12 : *q - s), s, span);
	*step = (unsigned)n;
	return 0;
}

/* One field, the bytes [s, e) (non-empty, no whitespace). */
static int parse_field(struct parser *p, int f, const char *s, const char *e, uint64_t set[4],
		       enum field_kind *kind)
{
	const struct field_spec *fs = &fields[f];
	const char *q = s;
	int rc;

	memset(set, 0, FIELD_BITS / 8);
	if (e - s == 1 && (*s == '?' || *s == '*')) {
		if (*s == '?' && f != F_DOM && f != F_DOW)
			return unexpected(p, f, s);
		for (unsigned v = 0; v <= fs->hi - fs->lo; v++)
			set[v / 64] |= 1ull << (v % 64);
		*kind = *s == '?' ? FK_NONE : FK_STAR;
		return 0;
	}
	*kind = FK_SET;
	for (;;) {
		const char *item = q;
		unsigned a, b, step = 1;
		bool star = false, range = false;

		if (*q == '*') {
			a = fs->lo;
			b = fs->hi;
			star = true;
			q++;
		} else {
			if ((rc = parse_value(p, f, &q, e, &a)) != 0)
				return rc;
			b = a;
			if (q < e && *q == '-') {
				q++;
				range = true;
				if ((rc = parse_value(p, f, &q, e, &b)) != 0)
					return rc;
				if (b < a)
					return fail(p, item, f,
						    "range %.*s is reversed (start after end); "
						    "write it as two ranges",
						    (int)(q - item), item);
			}
		}
		if (q < e && *q == '/') {
			q++;
			if ((rc = parse_step(p, f, &q, e, &step)) != 0)
				return rc;
			if (!star && !range)
				b = fs->hi; /* a/n: from a to the end */
		} else if (star && q < e) {
			return *q == ',' ? fail(p, q, f, "'*' cannot be part of a list")
					 : unexpected(p, f, q);
		}
		for (unsigned v = a; v <= b; v += step)
			set[(v - fs->lo) / 64] |= 1ull << ((v - fs->lo) % 64);
		if (q == e)
			return 0;
		if (*q != ',')
			return unexpected(p, f, q);
		if (++q == e)
			return fail(p, q, f, "expected a value after ','");
	}
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int weft_ctl_cron_parse(const char *expr, struct weft_ctl_cron *out, char *err, size_t errlen)
{
	struct parser p = {expr, err, errlen};
	const char *start[F_COUNT], *end[F_COUNT];
	uint64_t set[F_COUNT][4];
	enum field_kind kind[F_COUNT];
	struct weft_ctl_cron c;
	unsigned n = 0;
	const char *q = expr;
	int rc;

	if (expr == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "no expression");
		return -EINVAL;
	}
	for (;;) {
		while (is_blank(*q))
			q++;
		if (*q == '\0')
			break;
		if (n == F_COUNT)
			return fail(&p, q, -1, "too many fields: at most 7 (" SYNTAX ")");
		start[n] = q;
		while (*q != '\0' && !is_blank(*q))
			q++;
		end[n++] = q;
	}
	if (n < F_COUNT - 1)
		return fail(&p, q, -1, "expected 6 or 7 fields (" SYNTAX "), got %u", n);
	for (unsigned f = 0; f < n; f++)
		if ((rc = parse_field(&p, (int)f, start[f], end[f], set[f], &kind[f])) != 0)
			return rc;
	if (n == F_COUNT - 1) { /* no year: every year */
		memset(set[F_YEAR], 0, sizeof(set[F_YEAR]));
		for (unsigned v = 0; v <= WEFT_CTL_CRON_YEAR_MAX - WEFT_CTL_CRON_YEAR_MIN; v++)
			set[F_YEAR][v / 64] |= 1ull << (v % 64);
	}
	if (kind[F_DOM] == FK_NONE && kind[F_DOW] == FK_NONE)
		return fail(&p, start[F_DOW], F_DOW,
			    "'?' in both day-of-month and day-of-week: at most one may be '?'");
	if (kind[F_DOM] == FK_SET && kind[F_DOW] == FK_SET)
		return fail(&p, start[F_DOW], F_DOW,
			    "day-of-month and day-of-week are both restricted: "
			    "put '?' in one of them");
	c.sec = set[F_SEC][0];
	c.min = set[F_MIN][0];
	c.hour = (uint32_t)set[F_HOUR][0];
	c.dom = (uint32_t)(set[F_DOM][0] << 1);
	c.month = (uint16_t)(set[F_MONTH][0] << 1);
	c.dow = (uint8_t)(set[F_DOW][0] << 1);
	memcpy(c.year, set[F_YEAR], sizeof(c.year));
	*out = c;
	return 0;
}

/* ---- Calendar (UTC, proleptic Gregorian) -------------------------------- */

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int y, unsigned m)
{
	static const unsigned char dim[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : dim[m];
}

/* Days from 1970-01-01 to y-m-d (y >= 1970). */
static int64_t days_of(int y, unsigned m, unsigned d)
{
	static const unsigned short before[13] = {0,   0,   31,  59,  90,  120, 151,
						  181, 212, 243, 273, 304, 334};
	int p = y - 1; /* leap years in [1970, y) */
	int64_t leaps = (p / 4 - p / 100 + p / 400) - (1969 / 4 - 1969 / 100 + 1969 / 400);

	return 365 * (int64_t)(y - 1970) + leaps + before[m] + (m > 2 && leap(y)) + d - 1;
}

/* Day of week of a day number: 1 = SUN .. 7 = SAT (1970-01-01 = THU = 5). */
static unsigned weekday(int64_t days)
{
	return (unsigned)((days + 4) % 7) + 1;
}

/* ---- Search ------------------------------------------------------------- */

#define CRON_YEARS (WEFT_CTL_CRON_YEAR_MAX - WEFT_CTL_CRON_YEAR_MIN + 1)
#define CRON_STEPS_MAX (CRON_YEARS * 13 + 8)

/* The lowest set bit >= from in mask, or -1. */
static int bit_next(uint64_t mask, unsigned from)
{
	if (from >= 64)
		return -1;
	mask &= ~0ull << from;
	return mask ? __builtin_ctzll(mask) : -1;
}

static int year_next(const struct weft_ctl_cron *c, int y)
{
	for (unsigned i = (unsigned)(y - WEFT_CTL_CRON_YEAR_MIN); i < CRON_YEARS; i = (i / 64 + 1) * 64) {
		int b = bit_next(c->year[i / 64], i % 64);
		if (b >= 0)
			return WEFT_CTL_CRON_YEAR_MIN + (int)(i / 64 * 64) + b;
	}
	return -1;
}

/* The first day >= d of y-m that both day fields allow, or -1. */
static int day_next(const struct weft_ctl_cron *c, int y, unsigned m, unsigned d)
{
	unsigned dim = days_in_month(y, m);
	unsigned wd;

	if (d > dim)
		return -1;
	wd = weekday(days_of(y, m, d));
	for (; d <= dim; d++, wd = wd % 7 + 1)
		if ((c->dom >> d & 1) && (c->dow >> wd & 1))
			return (int)d;
	return -1;
}

int64_t weft_ctl_cron_next(const struct weft_ctl_cron *c, int64_t after_ms)
{
	const int64_t end_s = days_of(WEFT_CTL_CRON_YEAR_MAX + 1, 1, 1) * 86400;
	int64_t t = (after_ms >= 0 ? after_ms / 1000 : -((-(after_ms + 1)) / 1000) - 1) + 1;
	int64_t days;
	unsigned m, d, h, mi, s;
	int y;

	if (t < 0)
		t = 0;
	if (t >= end_s)
		return -1;
	days = t / 86400;
	for (y = WEFT_CTL_CRON_YEAR_MIN + (int)(days / 366); days_of(y + 1, 1, 1) <= days; y++)
		;
	for (m = 1; m < 12 && days_of(y, m + 1, 1) <= days; m++)
		;
	d = (unsigned)(days - days_of(y, m, 1)) + 1;
	h = (unsigned)(t % 86400 / 3600);
	mi = (unsigned)(t % 3600 / 60);
	s = (unsigned)(t % 60);

	for (unsigned step = 0; step < CRON_STEPS_MAX; step++) {
		int ny = y <= WEFT_CTL_CRON_YEAR_MAX ? year_next(c, y) : -1;
		int nm, nd, nh, nmi, ns;

		if (ny < 0)
			return -1;
		if (ny != y) {
			y = ny;
			m = d = 1;
			h = mi = s = 0;
		}
		if ((nm = bit_next(c->month, m)) < 0) {
			y++;
			m = d = 1;
			h = mi = s = 0;
			continue;
		}
		if ((unsigned)nm != m) {
			m = (unsigned)nm;
			d = 1;
			h = mi = s = 0;
		}
		if ((nd = day_next(c, y, m, d)) < 0) {
			if (++m > 12) {
				y++;
				m = 1;
			}
			d = 1;
			h = mi = s = 0;
			continue;
		}
		if ((unsigned)nd != d) {
			d = (unsigned)nd;
			h = mi = s = 0;
		}
		if ((nh = bit_next(c->hour, h)) < 0) {
			d++;
			h = mi = s = 0;
			continue;
		}
		if ((unsigned)nh != h) {
			h = (unsigned)nh;
			mi = s = 0;
		}
		if ((nmi = bit_next(c->min, mi)) < 0) {
			h++;
			mi = s = 0;
			continue;
		}
		if ((unsigned)nmi != mi) {
			mi = (unsigned)nmi;
			s = 0;
		}
		if ((ns = bit_next(c->sec, s)) < 0) {
			mi++;
			s = 0;
			continue;
		}
		return ((days_of(y, m, d) * 86400) + h * 3600 + mi * 60 + (unsigned)ns) * 1000;
	}
	return -1;
}
