/*
 * dp_poller.h — a one-node fixture of the dataplane tests whose test thread
 * is an in-node client (test_dp_local, test_ctl_sessions_svc): the fake
 * port of dp_fakeport.h (one busy-polling worker bound to ip:port) and a
 * thread that plays worker 0 — it polls, reports quiescent states and
 * frees the port's output, which these tests do not look at.
 *
 * Invariants: between dp_poller_open and dp_poller_close the test thread
 * is QSBR-offline (it holds no RCU pointer); only the poller thread runs
 * weft_dp_poll_once. Test-only; header-only so each test stays one
 * executable.
 */
#ifndef WEFT_TESTS_DP_POLLER_H
#define WEFT_TESTS_DP_POLLER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "dp_fakeport.h"

struct dp_poller {
	struct dp_fakeport fp;
	pthread_t thread;
	atomic_bool stop;
};

static inline void *dp_poller_main(void *arg)
{
	struct dp_poller *t = arg;
	urcu_qsbr_register_thread();
	while (!atomic_load(&t->stop)) {
		weft_dp_poll_once(t->fp.dp, 0);
		urcu_qsbr_quiescent_state();
		struct rte_mbuf *out[32];
		unsigned n = rte_ring_dequeue_burst(t->fp.tx, (void **)out, 32, NULL);
		if (n)
			rte_pktmbuf_free_bulk(out, n);
	}
	urcu_qsbr_unregister_thread();
	return NULL;
}

/* Opens the fake port for program prog (a node at ip:port) and starts the
 * poller; the calling thread goes QSBR-offline. 0, or -1 (a cmocka group
 * setup's failure). */
static inline int dp_poller_open(struct dp_poller *t, const char *prog, const uint8_t ip[4],
				 uint16_t port)
{
	uint32_t bind_ip;
	memcpy(&bind_ip, ip, 4);
	struct weft_dp_config cfg = {.bind_ip = bind_ip, .udp_port = port, .n_workers = 1,
				     .poll = WEFT_DP_POLL_BUSY};
	if (dp_fakeport_open(&t->fp, prog, 1024, 1024, 4095, &cfg) != 0)
		return -1;
	urcu_qsbr_thread_offline();
	atomic_store(&t->stop, false);
	return pthread_create(&t->thread, NULL, dp_poller_main, t) == 0 ? 0 : -1;
}

/* Stops and joins the poller, brings the calling thread back online and
 * closes the fake port. */
static inline void dp_poller_close(struct dp_poller *t)
{
	atomic_store(&t->stop, true);
	pthread_join(t->thread, NULL);
	urcu_qsbr_thread_online();
	dp_fakeport_close(&t->fp);
}

#endif /* WEFT_TESTS_DP_POLLER_H */
