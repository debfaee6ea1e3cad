/*
 * test_dp_ctl.c — the cluster channel (dataplane/dp_ctl*.c, dp_arp.c,
 * dp_frag.c, dp_ctl_parse) through the real worker code on a fake port
 * (net_ring, as test_dp_serve.c): frames pushed on the port's rx ring reach
 * weft_dp_ctl_recv; weft_dp_ctl_send's frames leave on the tx ring after one
 * worker iteration. Virtual clock; one thread plays worker 0 and the
 * control thread in turn.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <urcu-qsbr.h>

#include "dp_fakeport.h"
#include "dp_frames.h"
#include "dp_internal.h"

static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x11};
static const uint8_t PEER2_MAC[6] = {0x02, 0, 0, 0, 0, 0x22};
static const uint8_t PEER_IP[4] = {10, 213, 0, 11};
static const uint8_t PEER2_IP[4] = {10, 213, 0, 22};
static const uint8_t NODE_IP[4] = {10, 213, 0, 2};
static const uint8_t GROUP_IP[4] = {239, 77, 0, 1};
#define NODE_PORT 7700u
#define CTL_PORT 7701u
#define PEER_PORT 5000u
#define MAXF 128

static struct {
	struct dp_fakeport fp;
	uint64_t now;
} T;

static uint64_t vclock(void *arg)
{
	(void)arg;
	return T.now;
}

static uint32_t ip4(const uint8_t b[4])
{
	uint32_t v;
	memcpy(&v, b, 4);
	return v;
}

static void push(const uint8_t *f, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(T.fp.pool);
	assert_non_null(m);
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	assert_non_null(d);
	memcpy(d, f, len);
	assert_int_equal(rte_ring_enqueue(T.fp.rx, m), 0);
}

/* A UDP datagram src_ip:PEER_PORT -> dst_ip:dport from src_mac. */
static void push_udp_from(const uint8_t src_mac[6], const uint8_t src_ip[4],
			  const uint8_t dst_ip[4], uint16_t dport, const void *payload, uint32_t plen)
{
	uint8_t f[1600];
	assert_true(plen <= 1472);
	push(f, frame_udp(f, T.fp.node_mac, src_mac, src_ip, dst_ip, PEER_PORT, dport, 0, payload,
			  plen));
}

static void push_arp(uint16_t oper, const uint8_t smac[6], const uint8_t sip[4],
		     const uint8_t tip[4])
{
	uint8_t f[60];
	memset(f, 0, sizeof(f));
	memset(f, 0xff, 6);
	memcpy(f + 6, smac, 6);
	wr16(f + 12, 0x0806);
	uint8_t *a = f + 14;
	wr16(a, 1);
	wr16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, oper);
	memcpy(a + 8, smac, 6);
	memcpy(a + 14, sip, 4);
	if (oper == 2)
		memcpy(a + 18, T.fp.node_mac, 6);
	memcpy(a + 24, tip, 4);
	push(f, 60);
}

/* One worker iteration; returns the frames it sent (caller frees). */
static unsigned poll_node(struct rte_mbuf **out)
{
	weft_dp_poll_once(T.fp.dp, 0);
	return rte_ring_dequeue_burst(T.fp.tx, (void **)out, MAXF, NULL);
}

static void free_all(struct rte_mbuf **m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(m[i]);
}

static const struct dp_counters *lc0(void)
{
	return &T.fp.dp->lc[0].c;
}

/* --- receiving ------------------------------------------------------------ */

static void test_unicast_reaches_control(void **state)
{
	(void)state;
	struct weft_dp_datagram d[8];
	assert_false(weft_dp_ctl_wait(T.fp.dp, 0));
	uint64_t rx0 = lc0()->ctl_rx;
	push_udp_from(PEER_MAC, PEER_IP, NODE_IP, CTL_PORT, "hello, node", 11);
	struct rte_mbuf *out[MAXF];
	assert_int_equal(poll_node(out), 0);
	assert_int_equal(lc0()->ctl_rx - rx0, 1);
	assert_true(weft_dp_ctl_wait(T.fp.dp, 0));
	assert_int_equal(weft_dp_ctl_recv(T.fp.dp, T.now, d, 8), 1);
	assert_int_equal(d[0].src_ip, ip4(PEER_IP));
	assert_int_equal(d[0].src_port, PEER_PORT);
	assert_int_equal(d[0].dst_ip, ip4(NODE_IP));
	assert_int_equal(d[0].len, 11);
	assert_memory_equal(d[0].payload, "hello, node", 11);
	assert_int_equal(weft_dp_ctl_recv(T.fp.dp, T.now, d, 8), 0);
	assert_false(weft_dp_ctl_wait(T.fp.dp, 2)); /* bounded: ~2 ms of nanosleep */
}

static void test_group_reaches_control(void **state)
{
	(void)state;
	struct weft_dp_datagram d[8];
	struct rte_mbuf *out[MAXF];
	uint64_t wrong0 = lc0()->drops[DP_DROP_WRONG_IP];
	push_udp_from(PEER_MAC, PEER_IP, GROUP_IP, CTL_PORT, "announce", 8);
	push_udp_from(PEER_MAC, PEER_IP, GROUP_IP, NODE_PORT, "not here", 8);
	static const uint8_t other_group[4] = {239, 77, 0, 2};
	push_udp_from(PEER_MAC, PEER_IP, other_group, CTL_PORT, "nor here", 8);
	assert_int_equal(poll_node(out), 0);
	assert_int_equal(lc0()->drops[DP_DROP_WRONG_IP] - wrong0, 2);
	assert_int_equal(weft_dp_ctl_recv(T.fp.dp, T.now, d, 8), 1);
	assert_int_equal(d[0].src_ip, ip4(PEER_IP));
	assert_int_equal(d[0].dst_ip, ip4(GROUP_IP));
	assert_memory_equal(d[0].payload, "announce", 8);

	/* Our own multicast, echoed back by the medium: counted, not delivered. */
	uint64_t self0 = lc0()->ctl_drop_self;
	push_udp_from(T.fp.node_mac, NODE_IP, GROUP_IP, CTL_PORT, "echo", 4);
	assert_int_equal(poll_node(out), 0);
	assert_int_equal(lc0()->ctl_drop_self - self0, 1);
	assert_int_equal(weft_dp_ctl_recv(T.fp.dp, T.now, d, 8), 0);
}

static void test_data_port_unchanged(void **state)
{
	(void)state;
	struct rte_mbuf *out[MAXF];
	struct weft_wire_hdr h;
	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = WEFT_OP_PING;
	h.request_id = 7;
	push_udp_from(PEER_MAC, PEER_IP, NODE_IP, NODE_PORT, &h, sizeof(h));
	assert_int_equal(poll_node(out), 1);
	struct weft_wire_hdr r;
	memcpy(&r, rte_pktmbuf_mtod(out[0], uint8_t *) + 42, sizeof(r));
	assert_int_equal(r.flags, WEFT_F_RESPONSE);
	assert_int_equal(r.status, WEFT_ST_OK);
	rte_pktmbuf_free(out[0]);

	uint64_t port0 = lc0()->drops[DP_DROP_UDP_PORT], rx0 = lc0()->ctl_rx;
	push_udp_from(PEER_MAC, PEER_IP, NODE_IP, CTL_PORT + 1, "x", 1);
	assert_int_equal(poll_node(out), 0);
	assert_int_equal(lc0()->drops[DP_DROP_UDP_PORT] - port0, 1);
	assert_int_equal(lc0()->ctl_rx, rx0);
	struct weft_dp_datagram d[4];
	assert_int_equal(weft_dp_ctl_recv(T.fp.dp, T.now, d, 4), 0);
}

/* --- sending -------------------------------------------------------------- */

/* Checks one frame of ours to dst_mac/dst_ip; returns its IPv4 header. */
static const uint8_t *check_frame(struct rte_mbuf *m, const uint8_t dst_mac[6],
				  const uint8_t dst_ip[4], uint8_t ttl)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	assert_true(m->data_len >= 34 && m->data_len <= 1514);
	assert_memory_equal(f, dst_mac, 6);
	assert_memory_equal(f + 6, T.fp.node_mac, 6);
	assert_int_equal(rd16(f + 12), 0x0800);
	const uint8_t *ip = f + 14;
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(rd16(ip + 2), m->data_len - 14);
	assert_int_equal(ip[8], ttl);
	assert_int_equal(ip[9], 17);
	assert_int_equal(csum(ip, 20), 0xffff);
	assert_memory_equal(ip + 12, NODE_IP, 4);
	assert_memory_equal(ip + 16, dst_ip, 4);
	return ip;
}

static void test_send_to_learned_peer(void **state)
{
	(void)state;
	/* PEER was learned from its datagram in the first test. */
	struct rte_mbuf *out[MAXF];
	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(PEER_IP), PEER_PORT, "ping!", 5), 0);
	assert_int_equal(poll_node(out), 1);
	const uint8_t *ip = check_frame(out[0], PEER_MAC, PEER_IP, 64);
	assert_int_equal(out[0]->data_len, 42 + 5);
	assert_int_equal(rd16(ip + 6), 0x4000); /* DF, not a fragment */
	assert_int_equal(rd16(ip + 20), CTL_PORT);
	assert_int_equal(rd16(ip + 22), PEER_PORT);
	assert_int_equal(rd16(ip + 24), 8 + 5);
	assert_memory_equal(ip + 28, "ping!", 5);
	rte_pktmbuf_free(out[0]);

	/* To the group: the 01:00:5e mapping, TTL 1, no ARP. */
	static const uint8_t gmac[6] = {0x01, 0x00, 0x5e, 0x4d, 0x00, 0x01};
	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(GROUP_IP), CTL_PORT, "all", 3), 0);
	assert_int_equal(poll_node(out), 1);
	check_frame(out[0], gmac, GROUP_IP, 1);
	rte_pktmbuf_free(out[0]);

	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(NODE_IP), CTL_PORT, "me", 2), -EINVAL);
	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(PEER_IP), 0, "x", 1), -EINVAL);
	static uint8_t big[WEFT_DP_CTL_MAX_PAYLOAD + 1];
	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(PEER_IP), PEER_PORT, big, sizeof(big)),
			 -EINVAL);
}

static void test_unknown_peer_is_resolved(void **state)
{
	(void)state;
	struct rte_mbuf *out[MAXF];
	uint64_t req0 = T.fp.dp->ctl->c.arp_requests, unr0 = T.fp.dp->ctl->c.unresolved;
	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(PEER2_IP), PEER_PORT, "hi", 2), -EHOSTUNREACH);
	assert_int_equal(poll_node(out), 1);
	const uint8_t *f = rte_pktmbuf_mtod(out[0], const uint8_t *);
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	assert_int_equal(out[0]->data_len, 60);
	assert_memory_equal(f, bcast, 6);
	assert_memory_equal(f + 6, T.fp.node_mac, 6);
	assert_int_equal(rd16(f + 12), 0x0806);
	assert_int_equal(rd16(f + 14 + 6), 1); /* request */
	assert_memory_equal(f + 14 + 8, T.fp.node_mac, 6);
	assert_memory_equal(f + 14 + 14, NODE_IP, 4);
	assert_memory_equal(f + 14 + 24, PEER2_IP, 4);
	rte_pktmbuf_free(out[0]);

	/* Retries within the second send no second request. */
	T.now += 500;
	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(PEER2_IP), PEER_PORT, "hi", 2), -EHOSTUNREACH);
	assert_int_equal(poll_node(out), 0);
	assert_int_equal(T.fp.dp->ctl->c.arp_requests - req0, 1);
	assert_int_equal(T.fp.dp->ctl->c.unresolved - unr0, 2);

	/* A gratuitous ARP from a stranger teaches nothing (arp_other). */
	uint64_t other0 = lc0()->drops[DP_DROP_ARP_OTHER];
	push_arp(1, PEER2_MAC, PEER2_IP, PEER2_IP);
	assert_int_equal(poll_node(out), 0);
	assert_int_equal(lc0()->drops[DP_DROP_ARP_OTHER] - other0, 1);
	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(PEER2_IP), PEER_PORT, "hi", 2), -EHOSTUNREACH);

	/* The reply arrives: the next send goes out. */
	push_arp(2, PEER2_MAC, PEER2_IP, NODE_IP);
	assert_int_equal(poll_node(out), 0);
	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(PEER2_IP), PEER_PORT, "hi", 2), 0);
	assert_int_equal(poll_node(out), 1);
	check_frame(out[0], PEER2_MAC, PEER2_IP, 64);
	rte_pktmbuf_free(out[0]);

	/* A gratuitous ARP of a known peer moves it (failover to a new NIC). */
	static const uint8_t moved[6] = {0x02, 0, 0, 0, 0, 0x23};
	push_arp(1, moved, PEER2_IP, PEER2_IP);
	assert_int_equal(poll_node(out), 0);
	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(PEER2_IP), PEER_PORT, "hi", 2), 0);
	assert_int_equal(poll_node(out), 1);
	check_frame(out[0], moved, PEER2_IP, 64);
	rte_pktmbuf_free(out[0]);

	/* Entries expire after 5 minutes: ask again. */
	T.now += DP_CTL_ARP_TTL_MS + 1;
	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(PEER2_IP), PEER_PORT, "hi", 2), -EHOSTUNREACH);
	assert_int_equal(poll_node(out), 1);
	assert_int_equal(rd16(rte_pktmbuf_mtod(out[0], uint8_t *) + 12), 0x0806);
	rte_pktmbuf_free(out[0]);
	/* An ARP request for us teaches its sender, too (and is answered). */
	push_arp(1, PEER2_MAC, PEER2_IP, NODE_IP);
	assert_int_equal(poll_node(out), 1);
	free_all(out, 1);
	push_arp(1, PEER_MAC, PEER_IP, NODE_IP); /* PEER expired as well */
	assert_int_equal(poll_node(out), 1);
	free_all(out, 1);
	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(PEER2_IP), PEER_PORT, "hi", 2), 0);
	assert_int_equal(poll_node(out), 1);
	check_frame(out[0], PEER2_MAC, PEER2_IP, 64);
	rte_pktmbuf_free(out[0]);
}

/* --- fragmentation and reassembly ----------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* Sends len bytes to PEER:CTL_PORT and collects its frames (checked). */
static unsigned send_collect(const uint8_t *buf, uint32_t len, struct rte_mbuf **frames)
{
	assert_int_equal(weft_dp_ctl_send(T.fp.dp, ip4(PEER_IP), CTL_PORT, buf, len), 0);
	unsigned n = 0;
	for (int i = 0; i < 4; i++)
		n += poll_node(frames + n);
	uint32_t expect = (len + 8 + 1479) / 1480;
	assert_int_equal(n, expect);
	uint16_t id = 0;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *ip = check_frame(frames[i], PEER_MAC, PEER_IP, 64);
		uint16_t fo = rd16(ip + 6);
		assert_int_equal(fo & 0x4000, 0); /* DF clear */
		assert_int_equal((fo & 0x1fff) * 8, i * 1480);
		assert_int_equal(!!(fo & 0x2000), i + 1 < n); /* MF on all but the last */
		if (i == 0)
			id = rd16(ip + 4);
		assert_int_equal(rd16(ip + 4), id);
	}
	return n;
}

/* Turns our frame into the same frame from PEER to us (a looped-back copy). */
static void mirror(struct rte_mbuf *m)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	memcpy(f, T.fp.node_mac, 6);
	memcpy(f + 6, PEER_MAC, 6);
	memcpy(f + 14 + 12, PEER_IP, 4);
	memcpy(f + 14 + 16, NODE_IP, 4);
	dp_ipv4_finish(f + 14);
}

static void shuffle_push(struct rte_mbuf **frames, unsigned n)
{
	for (unsigned i = n; i > 1; i--) {
		unsigned j = rnd() % i;
		struct rte_mbuf *t = frames[i - 1];
		frames[i - 1] = frames[j];
		frames[j] = t;
	}
	for (unsigned i = 0; i < n; i++) {
		mirror(frames[i]);
		assert_int_equal(rte_ring_enqueue(T.fp.rx, frames[i]), 0);
	}
}

static void roundtrip(uint32_t len)
{
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(rnd() >> 7);
	struct rte_mbuf *frames[MAXF], *out[MAXF];
	uint64_t f0 = lc0()->frag_to_ctl, frag0 = T.fp.dp->ctl->c.tx_fragments;
	unsigned n = send_collect(buf, len, frames);
	assert_int_equal(T.fp.dp->ctl->c.tx_fragments - frag0, n);
	shuffle_push(frames, n);
	for (unsigned i = 0; i < n; i += 32)
		assert_int_equal(poll_node(out), 0);
	assert_int_equal(lc0()->frag_to_ctl - f0, n);
	struct weft_dp_datagram d[4];
	assert_int_equal(weft_dp_ctl_recv(T.fp.dp, T.now, d, 4), 1);
	assert_int_equal(d[0].src_ip, ip4(PEER_IP));
	assert_int_equal(d[0].src_port, CTL_PORT);
	assert_int_equal(d[0].dst_ip, ip4(NODE_IP));
	assert_int_equal(d[0].len, len);
	assert_memory_equal(d[0].payload, buf, len);
	free(buf);
}

static void test_fragmented_roundtrip(void **state)
{
	(void)state;
	uint64_t re0 = T.fp.dp->ctl->c.rx_reassembled;
	roundtrip(20000);
	roundtrip(1473); /* just over one frame: 2 fragments */
	roundtrip(WEFT_DP_CTL_MAX_PAYLOAD);
	assert_int_equal(T.fp.dp->ctl->c.rx_reassembled - re0, 3);
}

static void test_reassembly_survives_garbage(void **state)
{
	(void)state;
	struct rte_mbuf *frames[MAXF], *out[MAXF];
	struct weft_dp_datagram d[8];
	struct dp_frag_stats s0, s1;
	dp_frag_get_stats(T.fp.dp->ctl->frag, &s0);
	uint8_t *buf = malloc(6000);
	assert_non_null(buf);
	memset(buf, 0x5a, 6000);

	/* A fragment whose bytes run past 65535 and an unaligned middle one. */
	unsigned n = send_collect(buf, 6000, frames);
	assert_int_equal(n, 5);
	uint8_t *ip = rte_pktmbuf_mtod(frames[1], uint8_t *) + 14;
	wr16(ip + 6, 0x2000 | 8189); /* offset 65512 + 1480 bytes */
	wr16(ip + 2, (uint16_t)(rd16(ip + 2) - 3)); /* and 1477 bytes: not a multiple of 8 */
	frames[1]->data_len -= 3;
	frames[1]->pkt_len -= 3;
	shuffle_push(frames + 1, 1);
	free_all(frames + 2, 3);
	rte_pktmbuf_free(frames[0]);
	assert_int_equal(poll_node(out), 0);
	assert_int_equal(weft_dp_ctl_recv(T.fp.dp, T.now, d, 8), 0);

	/* Overlapping fragments: the datagram is dropped, nothing delivered. */
	n = send_collect(buf, 6000, frames);
	ip = rte_pktmbuf_mtod(frames[2], uint8_t *) + 14;
	wr16(ip + 6, (uint16_t)(0x2000 | ((rd16(ip + 6) & 0x1fff) - 1)));
	shuffle_push(frames, n);
	assert_int_equal(poll_node(out), 0);
	assert_int_equal(weft_dp_ctl_recv(T.fp.dp, T.now, d, 8), 0);

	/* Exact duplicates are ignored: the datagram still completes. */
	n = send_collect(buf, 6000, frames);
	struct rte_mbuf *copies[MAXF];
	for (unsigned i = 0; i + 1 < n; i++) {
		copies[i] = rte_pktmbuf_copy(frames[i], T.fp.pool, 0, UINT32_MAX);
		assert_non_null(copies[i]);
	}
	shuffle_push(frames, n - 1);
	shuffle_push(copies, n - 1);
	shuffle_push(frames + n - 1, 1); /* the last piece completes it */
	assert_int_equal(poll_node(out), 0);
	assert_int_equal(weft_dp_ctl_recv(T.fp.dp, T.now, d, 8), 1);
	assert_int_equal(d[0].len, 6000);
	assert_memory_equal(d[0].payload, buf, 6000);
	struct dp_frag_stats sd;
	dp_frag_get_stats(T.fp.dp->ctl->frag, &sd);
	assert_int_equal(sd.duplicates - s0.duplicates, n - 1);

	/* An incomplete datagram times out. */
	n = send_collect(buf, 6000, frames);
	shuffle_push(frames, n - 1);
	rte_pktmbuf_free(frames[n - 1]);
	assert_int_equal(poll_node(out), 0);
	assert_int_equal(weft_dp_ctl_recv(T.fp.dp, T.now, d, 8), 0);
	T.now += DP_CTL_FRAG_TIMEOUT_MS + 1;
	assert_int_equal(weft_dp_ctl_recv(T.fp.dp, T.now, d, 8), 0);

	/* More datagrams in progress than entries: the oldest are evicted. */
	for (unsigned k = 0; k < DP_CTL_FRAG_ENTRIES + 3; k++) {
		n = send_collect(buf, 3000, frames);
		shuffle_push(frames, 1);
		free_all(frames + 1, n - 1);
		assert_int_equal(poll_node(out), 0);
		T.now++;
		assert_int_equal(weft_dp_ctl_recv(T.fp.dp, T.now, d, 8), 0);
	}

	/* Random bytes in fragments to us: never a crash, never a delivery of
	 * a datagram that was not whole. */
	for (int k = 0; k < 2000; k++) {
		uint8_t f[200];
		memcpy(f, T.fp.node_mac, 6);
		memcpy(f + 6, PEER_MAC, 6);
		wr16(f + 12, 0x0800);
		uint8_t *h = f + 14;
		for (int i = 0; i < 186; i++)
			h[i] = (uint8_t)rnd();
		h[0] = 0x45;
		uint16_t tot = (uint16_t)(20 + rnd() % 166);
		wr16(h + 2, tot);
		wr16(h + 4, (uint16_t)(rnd() % 4));
		wr16(h + 6, (uint16_t)(rnd() & 0x3fff) | 1);
		h[9] = 17;
		memcpy(h + 12, PEER_IP, 4);
		memcpy(h + 16, NODE_IP, 4);
		dp_ipv4_finish(h);
		push(f, 14 + tot);
		if (k % 32 == 31) {
			assert_int_equal(poll_node(out), 0);
			unsigned got = weft_dp_ctl_recv(T.fp.dp, T.now, d, 8);
			assert_true(got <= 8);
		}
	}
	assert_int_equal(poll_node(out), 0);
	weft_dp_ctl_recv(T.fp.dp, T.now, d, 8);
	dp_frag_get_stats(T.fp.dp->ctl->frag, &s1);
	assert_true(s1.bad > s0.bad);
	assert_true(s1.overlaps > s0.overlaps);
	assert_true(s1.timeouts > s0.timeouts);
	assert_true(s1.evicted >= s0.evicted + 3);
	assert_true(s1.entries <= DP_CTL_FRAG_ENTRIES);

	/* And after all that, a whole datagram still comes through. */
	T.now += DP_CTL_FRAG_TIMEOUT_MS + 1;
	weft_dp_ctl_recv(T.fp.dp, T.now, d, 8);
	roundtrip(9000);
	free(buf);
}

/* Random frames that look like ARP, IPv4 to us or to the group, fragments
 * or not: the lcore and control paths survive them (ASan checks bounds). */
/* Found by fuzz_dp_parse: a packet shorter than an IPv4 header was read
 * past its end before its length was checked. */
static void test_frag_runt_is_bad(void **state)
{
	(void)state;
	struct dp_frag *f = dp_frag_create(2, 1000);
	assert_non_null(f);
	uint8_t *runt = malloc(12); /* heap, so ASan sees any read past it */
	assert_non_null(runt);
	memset(runt, 0, 12);
	runt[0] = 0x45;
	const uint8_t *hdr, *out;
	uint32_t out_len;
	for (uint32_t len = 0; len <= 12; len++)
		assert_int_equal(dp_frag_add(f, runt, len, 0, &hdr, &out, &out_len), DP_FRAG_BAD);
	struct dp_frag_stats st;
	dp_frag_get_stats(f, &st);
	assert_int_equal(st.bad, 13);
	free(runt);
	dp_frag_destroy(f);
}

static void test_random_frames_are_harmless(void **state)
{
	(void)state;
	struct rte_mbuf *out[MAXF];
	struct weft_dp_datagram d[16];
	for (int k = 0; k < 4000; k++) {
		uint8_t f[300];
		uint32_t len = rnd() % sizeof(f);
		for (uint32_t i = 0; i < len; i++)
			f[i] = (uint8_t)rnd();
		if (len >= 34) {
			unsigned kind = rnd() % 3;
			wr16(f + 12, kind == 0 ? 0x0806 : 0x0800);
			if (kind != 0) {
				uint8_t *h = f + 14;
				h[0] = 0x45;
				wr16(h + 2, (uint16_t)(rnd() % (len - 10)));
				h[9] = 17;
				memcpy(h + 16, kind == 1 ? NODE_IP : GROUP_IP, 4);
				if (rnd() & 1)
					wr16(h + 6, 0);
				dp_ipv4_finish(h);
				if (len >= 42 && (rnd() & 1))
					wr16(h + 22, CTL_PORT);
			}
		}
		push(f, len);
		if (k % 32 == 31) {
			unsigned n = poll_node(out); /* ARP requests for us are answered */
			free_all(out, n);
			assert_true(weft_dp_ctl_recv(T.fp.dp, T.now, d, 16) <= 16);
		}
	}
	free_all(out, poll_node(out));
	while (weft_dp_ctl_recv(T.fp.dp, T.now, d, 16) > 0)
		;
	T.now += DP_CTL_FRAG_TIMEOUT_MS + 1;
	weft_dp_ctl_recv(T.fp.dp, T.now, d, 16);
	roundtrip(3000); /* still works */
}

/* --- bounds and STATS ----------------------------------------------------- */

static void test_full_ring_is_a_counted_drop(void **state)
{
	(void)state;
	struct rte_mbuf *out[MAXF];
	uint64_t full0 = lc0()->ctl_drop_full;
	unsigned cap = rte_ring_get_capacity(T.fp.dp->ctl->rx);
	unsigned pushed = 0;
	while (pushed < cap + 40) {
		for (int i = 0; i < 32; i++, pushed++)
			push_udp_from(PEER_MAC, PEER_IP, NODE_IP, CTL_PORT, &pushed, 4);
		assert_int_equal(poll_node(out), 0);
	}
	assert_int_equal(lc0()->ctl_drop_full - full0, pushed - cap);
	/* The first cap datagrams are all there, in order, 64 per call. */
	struct weft_dp_datagram d[64];
	unsigned got = 0, k;
	while ((k = weft_dp_ctl_recv(T.fp.dp, T.now, d, 64)) > 0) {
		assert_true(k <= 64);
		for (unsigned i = 0; i < k; i++) {
			unsigned v;
			memcpy(&v, d[i].payload, 4);
			assert_int_equal(v, got + i);
		}
		got += k;
	}
	assert_int_equal(got, cap);
}

static void test_stats_lines(void **state)
{
	(void)state;
	static char text[1 << 16];
	size_t len = weft_dp_stats_format(T.fp.dp, text, sizeof(text));
	assert_true(len < sizeof(text));
	assert_non_null(strstr(text, "\nlcore.1.ctl_rx "));
	assert_non_null(strstr(text, "\nlcore.1.frag_to_ctl "));
	assert_non_null(strstr(text, "\nlcore.1.ctl_drop_full "));
	assert_non_null(strstr(text, "\ntotal.arp_learned "));
	assert_non_null(strstr(text, "\nctl.tx_datagrams "));
	assert_non_null(strstr(text, "\nctl.tx_fragments "));
	assert_non_null(strstr(text, "\nctl.arp_requests 2\n"));
	assert_non_null(strstr(text, "\nctl.unresolved "));
	assert_non_null(strstr(text, "\nctl.rx_reassembled "));
	assert_non_null(strstr(text, "\nctl.frag.timeouts "));
	const char *a = strstr(text, "\narp.entries ");
	assert_non_null(a);
	unsigned long entries = strtoul(a + 13, NULL, 10);
	assert_true(entries >= 2 && entries <= DP_CTL_ARP_ENTRIES); /* + random senders */
}

/* A node without ctl_port runs as before: the channel is off. Bad channel
 * configurations are refused. */
static void test_channel_off_and_bad_config(void **state)
{
	(void)state;
	struct rte_ring *rx = rte_ring_create("t_rx2", 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	struct rte_ring *tx = rte_ring_create("t_tx2", 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	assert_non_null(rx);
	assert_non_null(tx);
	int port = rte_eth_from_rings("net_ring_off", &rx, 1, &tx, 1, 0);
	assert_true(port >= 0);
	struct weft_dp_config cfg = {.bind_ip = ip4(NODE_IP), .udp_port = NODE_PORT,
				     .n_workers = 1, .poll = WEFT_DP_POLL_BUSY, .clock = vclock};
	struct weft_dp_config bad = cfg;
	bad.ctl_port = NODE_PORT;
	errno = 0;
	assert_null(weft_dp_create(&bad, (uint16_t)port, T.fp.reg));
	assert_int_equal(errno, EINVAL);
	bad.ctl_port = 0;
	bad.group_ip = ip4(GROUP_IP); /* a group needs the port */
	assert_null(weft_dp_create(&bad, (uint16_t)port, T.fp.reg));
	bad.ctl_port = CTL_PORT;
	bad.group_ip = ip4(PEER_IP); /* not multicast */
	assert_null(weft_dp_create(&bad, (uint16_t)port, T.fp.reg));

	struct weft_dp *dp = weft_dp_create(&cfg, (uint16_t)port, T.fp.reg);
	assert_non_null(dp);
	assert_null(dp->ctl);
	struct weft_dp_datagram d[4];
	assert_int_equal(weft_dp_ctl_send(dp, ip4(PEER_IP), PEER_PORT, "x", 1), -ENOTCONN);
	assert_int_equal(weft_dp_ctl_recv(dp, T.now, d, 4), 0);
	assert_false(weft_dp_ctl_wait(dp, 1));
	weft_dp_destroy(dp);
	rte_ring_free(rx);
	rte_ring_free(tx);
}

/* --- fixture -------------------------------------------------------------- */

static int setup(void **state)
{
	(void)state;
	T.now = 1000000;
	struct weft_dp_config cfg = {.bind_ip = ip4(NODE_IP), .udp_port = NODE_PORT,
				     .n_workers = 1, .poll = WEFT_DP_POLL_BUSY, .clock = vclock,
				     .ctl_port = CTL_PORT, .group_ip = ip4(GROUP_IP)};
	return dp_fakeport_open(&T.fp, "test_dp_ctl", 4096, 1024, 4095, &cfg);
}

static int teardown(void **state)
{
	(void)state;
	dp_fakeport_close(&T.fp);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unicast_reaches_control),
		cmocka_unit_test(test_group_reaches_control),
		cmocka_unit_test(test_data_port_unchanged),
		cmocka_unit_test(test_send_to_learned_peer),
		cmocka_unit_test(test_unknown_peer_is_resolved),
		cmocka_unit_test(test_fragmented_roundtrip),
		cmocka_unit_test(test_reassembly_survives_garbage),
		cmocka_unit_test(test_frag_runt_is_bad),
		cmocka_unit_test(test_random_frames_are_harmless),
		cmocka_unit_test(test_full_ring_is_a_counted_drop),
		cmocka_unit_test(test_stats_lines),
		cmocka_unit_test(test_channel_off_and_bad_config),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
