/*
 * ctl_clock_internal.h — the control module's millisecond clocks, shared
 * by its threads (ctl_admin.c's collector and HTTP server, ctl_sessions.c's
 * service thread).
 *
 * Monotonic time (ctl_mono_ms) is for deadlines and intervals; wall-clock
 * time (ctl_unix_ms) only for what is shown or compared across nodes.
 * Any thread; no state.
 */
#ifndef WEFT_CTL_CLOCK_INTERNAL_H
#define WEFT_CTL_CLOCK_INTERNAL_H

#include <stdint.h>
#include <time.h>

/* Clock id in whole milliseconds. */
static inline uint64_t ctl_clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* CLOCK_MONOTONIC in ms. */
static inline uint64_t ctl_mono_ms(void)
{
	return ctl_clock_ms(CLOCK_MONOTONIC);
}

/* CLOCK_REALTIME (ms since the Unix epoch). */
static inline uint64_t ctl_unix_ms(void)
{
	return ctl_clock_ms(CLOCK_REALTIME);
}

#endif
