/*
 * tool_join.h — how the load tools (weft_load, weft_mq, and
 * tests/faults' weft-faults-client) wait for their worker threads: join
 * each in turn, waking every 50 ms to take a pending SIGTERM or SIGINT
 * (blocked in every thread by the caller, before it created them) and set
 * the tool's stop flag, so that a signal ends a load cleanly and in
 * bounded time. Header only: the tools are single-file programs.
 */
#ifndef WEFT_TOOL_JOIN_H
#define WEFT_TOOL_JOIN_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

static inline void tool_join_watching(pthread_t *th, unsigned n, const sigset_t *signals,
				      atomic_bool *stop)
{
	for (unsigned i = 0; i < n; i++)
		for (;;) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(th[i], NULL, &ts) == 0)
				break;
			struct timespec zero = {0, 0};
			if (sigtimedwait(signals, NULL, &zero) > 0)
				atomic_store(stop, true);
		}
}

#endif /* WEFT_TOOL_JOIN_H */
