/*
 * ctl_loop.c — the control thread's loop and its signals.
 *
 * SIGINT/SIGTERM only set a flag (async-signal-safe); the loop notices it
 * within one tick (~10 ms). A single node then returns at once; a clustered
 * node first hands its segments over to the owners they get without it
 * (weft_ctl_cluster_handoff: state transfer until every message is acked,
 * at most CTL_HANDOFF_MAX_MS), then leaves the cluster gracefully (LEFT
 * gossiped until the state machine says LEAVE_DONE, at most
 * CTL_LEAVE_MAX_MS), and keeps serving and maintaining all along. weftd
 * then stops the lcores and frees everything.
 *
 * Each iteration runs weft_dp_maintain when due (every CTL_TICK_MS, with
 * the dataplane's authentication refusal reports, logged), the
 * app runtime's tick (deployments, once a second), the membership when
 * clustered, reports a QSBR quiescent state, and waits
 * OFFLINE (a datagram on the cluster channel, the next membership deadline
 * or the next maintenance, whichever comes first) so grace periods never
 * wait on it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>

#include "control.h"
#include "ctl_app.h"

#define CTL_TICK_MS 10u
#define CTL_LEAVE_MAX_MS 2000u
#define CTL_HANDOFF_MAX_MS 30000u

/* weft_dp_auth_reports' callback: refused datagrams (wrong or no key),
 * one line per reason per second at most. */
static void log_refusal(void *arg, const struct weft_dp_auth_report *r)
{
	(void)arg;
	char ip[INET_ADDRSTRLEN] = "?";
	inet_ntop(AF_INET, &r->ip, ip, sizeof(ip));
	weft_ctl_log(WEFT_LOG_WARN, "refused %llu datagram(s) on the %s: auth %s (last from %s:%u)",
		     (unsigned long long)r->count, r->where, r->reason, ip, r->port);
}

/* Where a clustered node is in its graceful stop. */
struct stop_state {
	uint64_t handoff_start, handoff_by; /* 0: hand-off not started */
	uint64_t leave_by;                  /* 0: leave not started */
};

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

/* The hand-off phase of a graceful stop: true once it is over (done, timed
 * out, or nothing to hand over). */
static bool handoff_over(struct weft_ctl_cluster *cl, uint64_t now, struct stop_state *st)
{
	if (st->handoff_by == 0) {
		st->handoff_start = now;
		st->handoff_by = now + CTL_HANDOFF_MAX_MS;
		if (weft_ctl_cluster_handoff(cl, now) != 0)
			return true;
		weft_ctl_log(WEFT_LOG_INFO, "handing segments over before leaving (at most %u s)",
			     CTL_HANDOFF_MAX_MS / 1000u);
		return false;
	}
	if (weft_ctl_cluster_handoff_done(cl)) {
		weft_ctl_log(WEFT_LOG_INFO, "hand-off complete in %llu ms",
			     (unsigned long long)(now - st->handoff_start));
		return true;
	}
	if (now >= st->handoff_by) {
		weft_ctl_log(WEFT_LOG_WARN,
			     "hand-off not acknowledged within %u s: leaving anyway (segments "
			     "not handed over rely on their other owners)", CTL_HANDOFF_MAX_MS / 1000u);
		return true;
	}
	return false;
}

/* One membership step; true when the loop should return (*rc set). */
static bool cluster_step(struct weft_ctl_cluster *cl, uint64_t now, uint64_t *next,
			 struct stop_state *st, int *rc)
{
	uint64_t d = weft_ctl_cluster_poll(cl, now);
	if (weft_ctl_cluster_refused(cl)) {
		*rc = -EPERM;
		return true;
	}
	if (stop_requested && st->leave_by == 0 && handoff_over(cl, now, st)) {
		if (weft_ctl_cluster_leave(cl, now) != 0)
			return true; /* not a member: nothing to leave */
		st->leave_by = now + CTL_LEAVE_MAX_MS;
		d = weft_ctl_cluster_poll(cl, now);
	}
	if (st->leave_by != 0 && (weft_ctl_cluster_left(cl) || now >= st->leave_by))
		return true;
	if (d < *next)
		*next = d;
	return false;
}

int weft_ctl_run(struct weft_dp *dp, struct weft_ctl_cluster *cl, struct ctl_apps *apps)
{
	uint64_t next_maint = 0;
	struct stop_state st = {0};
	int rc = 0;

	for (;;) {
		uint64_t now = weft_dp_now_ms(dp);
		if (now >= next_maint) {
			weft_dp_maintain(dp, now);
			weft_dp_auth_reports(dp, log_refusal, NULL);
			next_maint = now + CTL_TICK_MS;
		}
		if (apps != NULL && !stop_requested)
			ctl_apps_tick(apps, now); /* acts once a second */
		uint64_t next = next_maint;
		if (cl != NULL) {
			if (cluster_step(cl, now, &next, &st, &rc))
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
