/*
 * it_app.h — small helpers shared by the integration tests' apps
 * (singleton_check.c, cron_job.c): the wall clock in unix ms, a sleep that
 * survives signals, the node's name, and one-line output.
 *
 * The node's name is weftd's --node-name, read from /proc/self/cmdline (the
 * app runs inside weftd, and every integration test names its nodes), so
 * the nodes' logs can be compared line by line; outside weftd (the probe,
 * weft-app-check) it is "pid<PID>". The wall clock is CLOCK_REALTIME: every
 * node of a test runs on this one machine, so their times compare directly.
 *
 * Everything here is static and thread-safe (it_say writes one line with
 * one printf and flushes it, so lines of several threads never interleave
 * inside a line).
 */
#ifndef WEFT_IT_APP_H
#define WEFT_IT_APP_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IT_NODE_MAX 64

static inline uint64_t it_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void it_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* weftd's --node-name NAME (or --node-name=NAME) into buf; "pid<PID>"
 * when there is none. */
static inline void it_node_name(char *buf, size_t cap)
{
	snprintf(buf, cap, "pid%ld", (long)getpid());
	FILE *f = fopen("/proc/self/cmdline", "r");
	if (f == NULL)
		return;
	char args[4096];
	size_t n = fread(args, 1, sizeof(args) - 1, f);
	fclose(f);
	args[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(&args[i]) + 1) {
		const char *a = &args[i];
		if (strncmp(a, "--node-name=", 12) == 0 && a[12] != '\0') {
			snprintf(buf, cap, "%s", a + 12);
			return;
		}
		size_t next = i + strlen(a) + 1;
		if (strcmp(a, "--node-name") == 0 && next < n && args[next] != '\0') {
			snprintf(buf, cap, "%s", &args[next]);
			return;
		}
	}
}

__attribute__((format(printf, 1, 2))) static inline void it_say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("%s\n", line);
	fflush(stdout);
}

#endif /* WEFT_IT_APP_H */
