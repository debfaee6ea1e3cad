/*
 * dp_node.h — the fixture of the dataplane tests that play a node's peers
 * and clients by hand (test_dp_cluster, test_dp_sess): the node on the
 * fake port of dp_fakeport.h with a virtual clock, request and answer
 * datagrams pushed in as frames, the frames it sends polled and decoded,
 * ARP entries learned, and views published. Test-only; header-only so each
 * test stays one executable.
 *
 * Invariants: one worker (lcore 0), polled only by the test thread; the
 * dataplane's clock is n->now; every struct sent points into an mbuf the
 * test still holds (valid until dp_free_all).
 */
#ifndef WEFT_TESTS_DP_NODE_H
#define WEFT_TESTS_DP_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_fakeport.h"
#include "dp_frames.h"
#include "dp_internal.h"

#define DP_MAXF 256 /* the most frames one poll may hand back */

struct dp_node {
	struct dp_fakeport fp;
	uint8_t ip[4];  /* the node's address */
	uint16_t port;  /* its UDP port */
	uint64_t now;   /* the dataplane's (virtual) clock */
	uint64_t view;  /* the last view published */
	uint64_t rid;   /* the last request id a test drew */
};

/* One frame the node sent, decoded (dst_ip 0 for an ARP frame). */
struct sent {
	uint32_t dst_ip;
	uint16_t dst_port;
	struct weft_wire_hdr h;
	const uint8_t *payload; /* into the mbuf */
	uint32_t len;
};

/* One member of a published view: its address (NULL: its record has not
 * reached this node, the snapshot shows 0.0.0.0:0) and its state. */
struct member_spec {
	const uint8_t *ip;
	uint8_t state;
};

static inline uint64_t dp_node_clock(void *arg)
{
	return ((const struct dp_node *)arg)->now;
}

/* Opens the node (one busy worker at ip:port, the control port ctl_port,
 * clock n->now from 1000000) for program prog. 0, or -1 (a cmocka group
 * setup's failure). */
static inline int dp_node_open(struct dp_node *n, const char *prog, const uint8_t ip[4],
			       uint16_t port, uint16_t ctl_port)
{
	memcpy(n->ip, ip, 4);
	n->port = port;
	n->now = 1000000;
	struct weft_dp_config cfg = {.bind_ip = dp_ip4(ip), .udp_port = port, .n_workers = 1,
				     .poll = WEFT_DP_POLL_BUSY, .clock = dp_node_clock,
				     .clock_arg = n, .ctl_port = ctl_port};
	return dp_fakeport_open(&n->fp, prog, 4096, 4096, 8191, &cfg);
}

/* Pushes one UDP datagram from src_ip:sport (src_mac) to the node. */
static inline void dp_push_frame(struct dp_node *n, const uint8_t src_mac[6],
				 const uint8_t src_ip[4], uint16_t sport, const void *payload,
				 uint32_t plen)
{
	uint8_t f[1600];
	assert_true(plen <= 1472);
	uint32_t len = frame_udp(f, n->fp.node_mac, src_mac, src_ip, n->ip, sport, n->port, 0,
				 payload, plen);
	struct rte_mbuf *m = rte_pktmbuf_alloc(n->fp.pool);
	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), f, len);
	dp_fakeport_cookie(&n->fp, m); /* a verified client */
	assert_int_equal(rte_ring_enqueue(n->fp.rx, m), 0);
}

/* Pushes one request datagram (name, key, extras, value as wire.h lays
 * them out; name may be NULL) with request id rid, client id 0xc11e. */
static inline void dp_push_request(struct dp_node *n, const uint8_t mac[6], const uint8_t ip[4],
				   uint16_t sport, uint64_t rid, uint8_t op, uint8_t flags,
				   const char *name, const void *key, uint16_t kl,
				   const void *extras, uint16_t xl, const void *value, uint32_t vl)
{
	uint8_t d[1472];
	struct weft_wire_hdr h;
	memset(&h, 0, sizeof(h));
	size_t nl = name ? strlen(name) : 0;
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = op;
	h.flags = flags;
	h.name_len = (uint8_t)nl;
	h.key_len = kl;
	h.extras_len = xl;
	h.client_id = 0xc11e;
	h.request_id = rid;
	h.msg_len = (uint32_t)(nl + kl + xl + vl);
	assert_true(sizeof(h) + h.msg_len <= sizeof(d));
	uint8_t *w = d + sizeof(h);
	memcpy(d, &h, sizeof(h));
	if (nl)
		memcpy(w, name, nl);
	if (kl)
		memcpy(w + nl, key, kl);
	if (xl)
		memcpy(w + nl + kl, extras, xl);
	if (vl)
		memcpy(w + nl + kl + xl, value, vl);
	dp_push_frame(n, mac, ip, sport, d, (uint32_t)sizeof(h) + h.msg_len);
}

/* A peer's (mac, ip:n->port) answer to r, a request the node sent it:
 * status, extras, value; msg_len claimed_len when not 0 (a lie), else
 * xl + vl. */
static inline void dp_push_answer(struct dp_node *n, const uint8_t mac[6], const uint8_t ip[4],
				  const struct sent *r, uint16_t status, const void *x,
				  uint16_t xl, const void *v, uint32_t vl, uint32_t claimed_len)
{
	uint8_t d[1472];
	struct weft_wire_hdr h;
	assert_true(sizeof(h) + xl + vl <= sizeof(d));
	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = r->h.opcode;
	h.flags = WEFT_F_RESPONSE;
	h.status = status;
	h.extras_len = xl;
	h.client_id = r->h.client_id;
	h.request_id = r->h.request_id;
	h.msg_len = claimed_len ? claimed_len : xl + vl;
	memcpy(d, &h, sizeof(h));
	if (xl)
		memcpy(d + sizeof(h), x, xl);
	if (vl)
		memcpy(d + sizeof(h) + xl, v, vl);
	dp_push_frame(n, mac, ip, n->port, d, (uint32_t)sizeof(h) + xl + vl);
}

/* One worker iteration; decodes what it sent into s[] (mbufs in m[], both
 * of DP_MAXF). */
static inline unsigned dp_poll(struct dp_node *n, struct rte_mbuf **m, struct sent *s)
{
	weft_dp_poll_once(n->fp.dp, 0);
	unsigned k = rte_ring_dequeue_burst(n->fp.tx, (void **)m, DP_MAXF, NULL);
	for (unsigned i = 0; i < k; i++) {
		const uint8_t *f = rte_pktmbuf_mtod(m[i], const uint8_t *);
		memset(&s[i], 0, sizeof(s[i]));
		if (rd16(f + 12) != 0x0800)
			continue; /* ARP */
		memcpy(&s[i].dst_ip, f + 30, 4);
		s[i].dst_port = rd16(f + 36);
		memcpy(&s[i].h, f + 42, sizeof(s[i].h));
		s[i].payload = f + 42 + sizeof(struct weft_wire_hdr);
		s[i].len = m[i]->data_len - 42 - (uint32_t)sizeof(struct weft_wire_hdr);
	}
	return k;
}

static inline void dp_free_all(struct rte_mbuf **m, unsigned k)
{
	for (unsigned i = 0; i < k; i++)
		rte_pktmbuf_free(m[i]);
}

/* Polls once and expects exactly one frame, to ip:port (*k: the count). */
static inline void dp_expect_one(struct dp_node *n, struct rte_mbuf **m, struct sent *s,
				 unsigned *k, const uint8_t ip[4], uint16_t port)
{
	*k = dp_poll(n, m, s);
	assert_int_equal(*k, 1);
	assert_int_equal(s[0].dst_ip, dp_ip4(ip));
	assert_int_equal(s[0].dst_port, port);
}

/* Teaches the node mac for ip (an ARP request to it; its reply dropped). */
static inline void dp_learn(struct dp_node *n, const uint8_t mac[6], const uint8_t ip[4])
{
	uint8_t f[60];
	memset(f, 0, sizeof(f));
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	wr16(f + 12, 0x0806);
	uint8_t *a = f + 14;
	wr16(a, 1);
	wr16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, 1);
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, ip, 4);
	memcpy(a + 24, n->ip, 4);
	struct rte_mbuf *m = rte_pktmbuf_alloc(n->fp.pool);
	memcpy(rte_pktmbuf_append(m, 60), f, 60);
	rte_ring_enqueue(n->fp.rx, m);
	struct rte_mbuf *out[DP_MAXF];
	struct sent s[DP_MAXF];
	dp_free_all(out, dp_poll(n, out, s)); /* the ARP reply */
}

/* Publishes view `view` of k members mm[] (at most 3, named n<i>, each at
 * its ip:n->port), this node at index self (WEFT_DP_SELF_NONE: not
 * listed), with one segment owned by owner[0..n_owners), and the
 * read-through table prev (NULL: none) until prev_until_ms. */
static inline void dp_publish_as(struct dp_node *n, uint64_t view, uint32_t self,
				 const struct member_spec *mm, uint32_t k, const uint16_t *owner,
				 uint16_t n_owners, bool no_quorum, const uint16_t *prev,
				 uint64_t prev_until_ms)
{
	struct {
		struct weft_dp_members h;
		struct weft_dp_member m[3];
	} v;
	assert_true(k <= 3);
	memset(&v, 0, sizeof(v));
	for (uint32_t i = 0; i < k; i++) {
		snprintf(v.m[i].name, sizeof(v.m[i].name), "n%u", i);
		if (mm[i].ip != NULL) {
			v.m[i].ip = dp_ip4(mm[i].ip);
			v.m[i].port = n->port;
		}
		v.m[i].state = mm[i].state;
	}
	v.h.view = view;
	v.h.n = k;
	v.h.self = self;
	v.h.seg_log2 = 0;
	v.h.owners = n_owners;
	v.h.no_quorum = no_quorum;
	v.h.seg_owner = owner;
	v.h.seg_prev = prev;
	v.h.seg_prev_until_ms = prev_until_ms;
	assert_int_equal(weft_dp_publish_members(n->fp.dp, &v.h), 0);
}

/* dp_publish_as with this node at index 0 of mm[]. */
static inline void dp_publish(struct dp_node *n, uint64_t view, const struct member_spec *mm,
			      uint32_t k, const uint16_t *owner, uint16_t n_owners,
			      bool no_quorum, const uint16_t *prev, uint64_t prev_until_ms)
{
	dp_publish_as(n, view, 0, mm, k, owner, n_owners, no_quorum, prev, prev_until_ms);
}

/* The REPLICATE message r carries for cache: its one entry (*e, *key,
 * *value) and its extras (*x, may be NULL). */
static inline void dp_repl_entry(const struct sent *r, const char *cache,
				 struct weft_repl_entry *e, const uint8_t **key,
				 const uint8_t **value, struct weft_x_replicate *x_out)
{
	assert_int_equal(r->h.opcode, WEFT_OP_REPLICATE);
	assert_int_equal(r->h.flags, WEFT_F_NODE);
	assert_int_equal(r->h.name_len, strlen(cache));
	assert_memory_equal(r->payload, cache, strlen(cache));
	struct weft_x_replicate x;
	memcpy(&x, r->payload + r->h.name_len, sizeof(x));
	assert_int_equal(x.count, 1);
	const uint8_t *list = r->payload + r->h.name_len + sizeof(x);
	uint32_t pos = 0;
	assert_true(dp_repl_next(list, r->len - r->h.name_len - (uint32_t)sizeof(x), &pos, e, key,
				 value));
	if (x_out != NULL)
		*x_out = x;
}

#endif /* WEFT_TESTS_DP_NODE_H */
