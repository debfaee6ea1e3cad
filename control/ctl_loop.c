/*
 * ctl_loop.c — the control thread's loop and its signals.
 *
 * SIGINT/SIGTERM only set a flag (async-signal-safe); the loop notices it
 * within one tick (~10 ms) and returns, and weftd then stops the lcores and
 * frees everything. Each tick runs weft_dp_maintain, reports a QSBR
 * quiescent state, and sleeps OFFLINE so grace periods never wait on it.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>

#include "control.h"

#define CTL_TICK_NS 10000000L

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int weft_ctl_signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		return -errno;
	return 0;
}

void weft_ctl_run(struct weft_dp *dp)
{
	while (!stop_requested) {
		weft_dp_maintain(dp, weft_dp_now_ms(dp));
		urcu_qsbr_quiescent_state();
		urcu_qsbr_thread_offline();
		struct timespec ts = {0, CTL_TICK_NS};
		nanosleep(&ts, NULL);
		urcu_qsbr_thread_online();
	}
}
