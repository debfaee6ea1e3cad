/*
 * dp_fakeport.h — the fixture of the dataplane tests that run the real
 * worker code (test_dp_serve, test_dp_ctl, test_dp_cluster): an EAL without
 * hugepages (its own file prefix), a net_ring port over two rings the test
 * pushes frames into and reads frames from, this thread a registered QSBR
 * reader, a cache registry and the dataplane on the port. Test-only;
 * header-only so each test stays one executable.
 */
#ifndef WEFT_TESTS_DP_FAKEPORT_H
#define WEFT_TESTS_DP_FAKEPORT_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <urcu-qsbr.h>

#include "dp_internal.h"

struct dp_fakeport {
	struct rte_ring *rx, *tx;  /* frames to the node / from the node */
	struct rte_mempool *pool;  /* the test's own frames */
	struct weft_cache_registry *reg;
	struct weft_dp *dp;
	uint8_t node_mac[6];
};

/* Opens everything for program prog (names the EAL file prefix): rings of
 * rx_size / tx_size mbufs, a pool of pool_size, the dataplane of cfg.
 * 0, or -1 (a cmocka group setup's failure). */
static inline int dp_fakeport_open(struct dp_fakeport *f, const char *prog, unsigned rx_size,
				   unsigned tx_size, unsigned pool_size,
				   const struct weft_dp_config *cfg)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "weft-%s-%d", prog, (int)getpid());
	char *argv[] = {(char *)prog, "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
			"--file-prefix", prefix, "--log-level=warning", "--no-telemetry", "-l", "0",
			NULL};
	if (rte_eal_init(12, argv) < 0)
		return -1;
	f->rx = rte_ring_create("t_rx", rx_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	f->tx = rte_ring_create("t_tx", tx_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	f->pool = rte_pktmbuf_pool_create("t_pool", pool_size, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (!f->rx || !f->tx || !f->pool)
		return -1;
	int port = rte_eth_from_rings("net_ring_t", &f->rx, 1, &f->tx, 1, 0);
	if (port < 0)
		return -1;
	urcu_qsbr_register_thread();
	f->reg = weft_cache_registry_create();
	f->dp = f->reg != NULL ? weft_dp_create(cfg, (uint16_t)port, f->reg) : NULL;
	if (f->dp == NULL)
		return -1;
	memcpy(f->node_mac, f->dp->mac, 6);
	return 0;
}

/* Frees everything dp_fakeport_open made, frames left on the rings too. */
static inline void dp_fakeport_close(struct dp_fakeport *f)
{
	weft_dp_destroy(f->dp);
	weft_cache_registry_destroy(f->reg);
	urcu_qsbr_unregister_thread();
	struct rte_mbuf *m;
	while (rte_ring_dequeue(f->rx, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	while (rte_ring_dequeue(f->tx, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_mempool_free(f->pool);
	rte_ring_free(f->rx);
	rte_ring_free(f->tx);
	rte_eal_cleanup();
}

#endif /* WEFT_TESTS_DP_FAKEPORT_H */
