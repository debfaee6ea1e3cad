/*
 * ctl_loop.c — the control thread's loop and its signals.
 *
 * SIGINT/SIGTERM only set a flag (async-signal-safe); the loop notices it
 * within one tick (~10 ms). A single node then returns at once; a clustered
 * node first leaves the cluster gracefully (LEFT gossiped until the state
 * machine says LEAVE_DONE, at most CTL_LEAVE_MAX_MS) and keeps serving and
 * maintaining meanwhile. weftd then stops the lcores and frees everything.
 *
 * Each iteration runs weft_dp_maintain when due (every CTL_TICK_MS), the
 * membership when clustered, reports a QSBR quiescent state, and waits
 * OFFLINE (a datagram on the cluster channel, the next membership deadline
 * or the next maintenance, whichever comes first) so grace periods never
 * wait on it.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>

#include "control.h"

#define CTL_TICK_MS 10u
#define CTL_LEAVE_MAX_MS 2000u

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

/* One membership step; true when the loop should return (*rc set). */
static bool cluster_step(struct weft_ctl_cluster *cl, uint64_t now, uint64_t *next,
			 uint64_t *leave_by, int *rc)
{
	uint64_t d = weft_ctl_cluster_poll(cl, now);
	if (weft_ctl_cluster_refused(cl)) {
		*rc = -EPERM;
		return true;
	}
	if (stop_requested && *leave_by == 0) {
		if (weft_ctl_cluster_leave(cl, now) != 0)
			return true; /* not a member: nothing to leave */
		*leave_by = now + CTL_LEAVE_MAX_MS;
		d = weft_ctl_cluster_poll(cl, now);
	}
	if (*leave_by != 0 && (weft_ctl_cluster_left(cl) || now >= *leave_by))
		return true;
	if (d < *next)
		*next = d;
	return false;
}

int weft_ctl_run(struct weft_dp *dp, struct weft_ctl_cluster *cl)
{
	uint64_t next_maint = 0, leave_by = 0;
	int rc = 0;

	for (;;) {
		uint64_t now = weft_dp_now_ms(dp);
		if (now >= next_maint) {
			weft_dp_maintain(dp, now);
			next_maint = now + CTL_TICK_MS;
		}
		uint64_t next = next_maint;
		if (cl != NULL) {
			if (cluster_step(cl, now, &next, &leave_by, &rc))
				return rc;
		} else if (stop_requested) {
			return 0;
		}
		urcu_qsbr_quiescent_state();
		unsigned wait_ms = next > now ? (unsigned)(next - now) : 0;
		if (wait_ms > CTL_TICK_MS)
			wait_ms = CTL_TICK_MS;
		urcu_qsbr_thread_offline();
		if (cl != NULL) {
			weft_dp_ctl_wait(dp, wait_ms);
		} else {
			struct timespec ts = {0, (long)wait_ms * 1000000L};
			nanosleep(&ts, NULL);
		}
		urcu_qsbr_thread_online();
	}
}
