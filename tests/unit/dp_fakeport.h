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

/* Address validation (dp_amp.c): the tests' clients do what libweft does.
 * A frame m that is a weft request to the node (IPv4/UDP, weft magic, not
 * a response, no F_COOKIE yet) gets F_COOKIE and the node's valid cookie
 * for its source address now (the dataplane's clock); IPv4 and UDP
 * lengths and the IPv4 checksum follow. Other frames are left as they
 * are. The test thread polls the node (lcore 0 is not running). */
static inline void dp_fakeport_cookie(struct dp_fakeport *f, struct rte_mbuf *m)
{
	uint8_t *fr = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = m->data_len;
	uint32_t w = DP_HDRS_LEN;
	if (len < w + sizeof(struct weft_wire_hdr) || fr[12] != 0x08 || fr[13] != 0x00 ||
	    fr[14] != 0x45 || fr[14 + 9] != 17 || len + WEFT_COOKIE_LEN > 1514)
		return;
	struct weft_wire_hdr h;
	memcpy(&h, fr + w, sizeof(h));
	if (h.magic != WEFT_WIRE_MAGIC || (h.flags & (WEFT_F_RESPONSE | WEFT_F_COOKIE)))
		return;
	uint32_t src;
	memcpy(&src, fr + 14 + 12, 4);
	struct dp_lcore *lc = &f->dp->lc[0];
	uint64_t saved = lc->now_ms;
	lc->now_ms = weft_dp_now_ms(f->dp);
	uint8_t *tail = (uint8_t *)rte_pktmbuf_append(m, WEFT_COOKIE_LEN);
	if (tail == NULL)
		return;
	fr = rte_pktmbuf_mtod(m, uint8_t *);
	dp_amp_mint(lc, src, tail);
	lc->now_ms = saved;
	fr[w + offsetof(struct weft_wire_hdr, flags)] |= WEFT_F_COOKIE;
	uint8_t *ip = fr + 14;
	uint16_t tot = (uint16_t)((ip[2] << 8 | ip[3]) + WEFT_COOKIE_LEN);
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	dp_ipv4_finish(ip);
	uint16_t ul = (uint16_t)((ip[24] << 8 | ip[25]) + WEFT_COOKIE_LEN);
	ip[24] = (uint8_t)(ul >> 8);
	ip[25] = (uint8_t)ul;
	ip[26] = ip[27] = 0; /* no UDP checksum (the node checks none) */
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
