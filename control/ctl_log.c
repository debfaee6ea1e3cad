/*
 * ctl_log.c — weftd's log: one line per event on stderr,
 *
 *   2026-01-01T00:00:00.000Z LEVEL node subsystem: message
 *
 * (node: weft_ctl_log_set_node, "-" before it is known; subsystem: the
 * logging source file's name without its "ctl_" prefix, up to its first
 * '_' or '.': ctl_apps_load.c -> "apps", weftd.c -> "weftd"). Lines above
 * the level set by weft_ctl_log_set_level are skipped.
 *
 * Repeats are rate-limited per call site (its format string): at most
 * LOG_BURST lines per site per second; the rest are counted and reported
 * by one line, "N more like this were suppressed", with the site's next
 * line after the second is over or at weft_ctl_log_flush.
 *
 * Invariants: each line is written with one write(2), so lines of
 * different threads never interleave; the site table is guarded by a
 * mutex (the log is never on the hot path); a site that finds the table
 * full is not limited.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#define LOG_BURST 10u   /* lines per call site per second */
#define LOG_SITES 128u

struct site {
	const char *fmt;   /* the call site (NULL: free slot) */
	const char *subsys_file;
	enum weft_ctl_log_level lvl;
	uint64_t second;   /* CLOCK_MONOTONIC second of the window */
	unsigned lines;    /* written in it */
	unsigned dropped;  /* suppressed since the last report */
};

static _Atomic int max_level = WEFT_LOG_INFO;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char node[WEFT_CTL_NAME_MAX + 1] = "-";
static struct site sites[LOG_SITES];

void weft_ctl_log_set_level(enum weft_ctl_log_level lvl)
{
	atomic_store(&max_level, (int)lvl);
}

void weft_ctl_log_set_node(const char *name)
{
	pthread_mutex_lock(&mu);
	snprintf(node, sizeof(node), "%s", name != NULL && name[0] ? name : "-");
	pthread_mutex_unlock(&mu);
}

/* "apps" from ".../ctl_apps_load.c", "weftd" from "weftd.c". */
static void subsystem(const char *file, char *out, size_t size)
{
	const char *b = strrchr(file, '/');
	b = b != NULL ? b + 1 : file;
	if (strncmp(b, "ctl_", 4) == 0)
		b += 4;
	size_t n = strcspn(b, "_.");
	if (n >= size)
		n = size - 1;
	memcpy(out, b, n);
	out[n] = '\0';
}

/* Writes one line: header, then the formatted text. mu held. */
static void emit(enum weft_ctl_log_level lvl, const char *file, const char *fmt, va_list ap)
{
	static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char line[1024], sub[24];
	subsystem(file, sub, sizeof(sub));
	int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ %-5s %s %s: ",
		      ts.tv_nsec / 1000000L, names[lvl], node, sub);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

static void emit_fmt(enum weft_ctl_log_level lvl, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void emit_fmt(enum weft_ctl_log_level lvl, const char *file, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(lvl, file, fmt, ap);
	va_end(ap);
}

static void report_dropped(struct site *s)
{
	if (s->dropped == 0)
		return;
	emit_fmt(s->lvl, s->subsys_file, "%u more like \"%.60s\" were suppressed", s->dropped,
		 s->fmt);
	s->dropped = 0;
}

/* The site of fmt (a free slot taken for it), or NULL when the table is
 * full. mu held. */
static struct site *site_of(const char *fmt)
{
	struct site *free_slot = NULL;
	for (unsigned i = 0; i < LOG_SITES; i++) {
		if (sites[i].fmt == fmt)
			return &sites[i];
		if (sites[i].fmt == NULL && free_slot == NULL)
			free_slot = &sites[i];
	}
	if (free_slot != NULL)
		*free_slot = (struct site){.fmt = fmt};
	return free_slot;
}

void weft_ctl_log_at(enum weft_ctl_log_level lvl, const char *file, const char *fmt, ...)
{
	if ((int)lvl > atomic_load(&max_level))
		return;
	struct timespec mono;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	pthread_mutex_lock(&mu);
	struct site *s = site_of(fmt);
	if (s != NULL) {
		if ((uint64_t)mono.tv_sec != s->second) {
			report_dropped(s);
			s->second = (uint64_t)mono.tv_sec;
			s->lines = 0;
		}
		if (s->lines >= LOG_BURST) {
			s->dropped++;
			s->lvl = lvl;
			s->subsys_file = file;
			pthread_mutex_unlock(&mu);
			return;
		}
		s->lines++;
	}
	va_list ap;
	va_start(ap, fmt);
	emit(lvl, file, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&mu);
}

void weft_ctl_log_flush(void)
{
	pthread_mutex_lock(&mu);
	for (unsigned i = 0; i < LOG_SITES; i++)
		if (sites[i].fmt != NULL)
			report_dropped(&sites[i]);
	pthread_mutex_unlock(&mu);
}
