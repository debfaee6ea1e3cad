/*
 * dp_fakeport.h — the fixture of the dataplane tests that run the real
 * worker code (test_dp_serve, test_dp_ctl, test_dp_cluster): an EAL without
 * hugepages (its own file prefix), a net_ring port over two rings the test
 * pushes frames into and reads frames from, this thread a registered QSBR
 * reader, a cache registry and the dataplane on the port; and what the
 * tests driving it share: a virtual clock, pushing a datagram in, running
 * the worker and taking what it sent. Test-only; header-only so each test
 * stays one executable.
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

#include "dp_frames.h"
#include "dp_internal.h"

#define DP_FAKEPORT_PAYLOAD_MAX 2000u /* the longest UDP payload dp_fakeport_push takes */

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

/* An IPv4 address's network-order value. */
static inline uint32_t dp_ip4(const uint8_t b[4])
{
	uint32_t v;
	memcpy(&v, b, 4);
	return v;
}

/* A virtual clock for weft_dp_config.clock: clock_arg points to the test's
 * uint64_t of milliseconds, which the test advances. */
static inline uint64_t dp_fakeport_clock(void *arg)
{
	return *(const uint64_t *)arg;
}

/* The configuration of a node with one busy-polling worker at ip:port on
 * a virtual clock: *now, in ms, which the test advances. */
static inline struct weft_dp_config dp_fakeport_config(const uint8_t ip[4], uint16_t port,
						       uint64_t *now)
{
	return (struct weft_dp_config){.bind_ip = dp_ip4(ip), .udp_port = port, .n_workers = 1,
				       .poll = WEFT_DP_POLL_BUSY, .clock = dp_fakeport_clock,
				       .clock_arg = now};
}

/* Pushes one UDP datagram of plen (at most DP_FAKEPORT_PAYLOAD_MAX) bytes
 * from src_mac, src_ip:sport to the node's dst_ip:dport, as it is (no
 * cookie added: an unverified source unless trusted). 0, or -1 (too long,
 * no mbuf, or the rx ring full). */
static inline int dp_fakeport_push(struct dp_fakeport *f, const uint8_t src_mac[6],
				   const uint8_t src_ip[4], uint16_t sport, const uint8_t dst_ip[4],
				   uint16_t dport, const void *payload, uint32_t plen)
{
	uint8_t fr[DP_HDRS_LEN + DP_FAKEPORT_PAYLOAD_MAX];
	if (plen > DP_FAKEPORT_PAYLOAD_MAX)
		return -1;
	uint32_t len = frame_udp(fr, f->node_mac, src_mac, src_ip, dst_ip, sport, dport, 0,
				 payload, plen);
	struct rte_mbuf *m = rte_pktmbuf_alloc(f->pool);
	if (m == NULL)
		return -1;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	if (p != NULL)
		memcpy(p, fr, len);
	if (p == NULL || rte_ring_enqueue(f->rx, m) != 0) {
		rte_pktmbuf_free(m);
		return -1;
	}
	return 0;
}

/* Runs the worker (lcore 0, from the test thread) until it has taken every
 * frame pushed (at most 64 iterations), then once more; moves up to max
 * frames it sent into m (the caller frees them) and returns how many. */
static inline unsigned dp_fakeport_run(struct dp_fakeport *f, struct rte_mbuf **m, unsigned max)
{
	for (int i = 0; i < 64 && rte_ring_count(f->rx) > 0; i++)
		weft_dp_poll_once(f->dp, 0);
	weft_dp_poll_once(f->dp, 0);
	return rte_ring_dequeue_burst(f->tx, (void **)m, max, NULL);
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

/* A cmocka group teardown: closes the struct dp_fakeport the group's
 * setup left in *state. */
static inline int dp_fakeport_teardown(void **state)
{
	dp_fakeport_close(*state);
	return 0;
}

#endif /* WEFT_TESTS_DP_FAKEPORT_H */
