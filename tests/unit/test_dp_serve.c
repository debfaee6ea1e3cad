/*
 * test_dp_serve.c — the real worker code (weft_dp_poll_once: parse, serve,
 * build, tx) on a fake port: DPDK's net_ring PMD (rte_eth_from_rings). The
 * test enqueues crafted frames on the port's rx ring, runs one worker
 * iteration on this thread (a registered QSBR reader), and reads the
 * response frames from the tx ring. The clock is virtual. Also the
 * topology snapshot: MEMBERS text, TOPOLOGY bytes, hdr.epoch.
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
#include <xxhash.h>

#include "dp_fakeport.h"
#include "dp_frames.h"
#include "dp_internal.h"

static const uint8_t CLIENT_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t CLIENT_IP[4] = {10, 213, 0, 1};
static const uint8_t NODE_IP[4] = {10, 213, 0, 2};
#define CLIENT_PORT 40000u
#define NODE_PORT 7700u
#define MAXF 64

static struct {
	struct dp_fakeport fp;
	uint64_t now;
	uint64_t next_rid;
} T;

static uint64_t vclock(void *arg)
{
	(void)arg;
	return T.now;
}

static void push(const uint8_t *f, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(T.fp.pool);
	assert_non_null(m);
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	assert_non_null(d);
	memcpy(d, f, len);
	dp_fakeport_cookie(&T.fp, m); /* a verified client */
	assert_int_equal(rte_ring_enqueue(T.fp.rx, m), 0);
}

/* One UDP datagram from the client to port dport. */
static void push_udp(const void *payload, uint32_t plen, uint16_t dport)
{
	uint8_t f[1600];
	assert_true(plen <= 1500 - 28);
	push(f, frame_udp(f, T.fp.node_mac, CLIENT_MAC, CLIENT_IP, NODE_IP, CLIENT_PORT, dport,
			  0xbeef /* not verified */, payload, plen));
}

struct resp {
	struct weft_wire_hdr h;
	uint32_t len; /* payload bytes in this datagram */
	uint8_t payload[WEFT_MAX_DGRAM_PAYLOAD];
};

/* Runs one worker iteration; returns the frames it sent (caller frees). */
static unsigned poll_node(struct rte_mbuf **out)
{
	weft_dp_poll_once(T.fp.dp, 0);
	return rte_ring_dequeue_burst(T.fp.tx, (void **)out, MAXF, NULL);
}

/* Checks one weft response frame's L2-L4 headers and decodes it. */
static void decode(struct rte_mbuf *m, struct resp *r)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = m->data_len;
	assert_true(len >= 42 + sizeof(r->h) && len <= 1514);
	assert_memory_equal(f, CLIENT_MAC, 6);
	assert_memory_equal(f + 6, T.fp.node_mac, 6);
	const uint8_t *ip = f + 14;
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(rd16(ip + 2), len - 14);
	assert_int_equal(rd16(ip + 6), 0x4000); /* DF */
	assert_int_equal(csum(ip, 20), 0xffff);
	assert_memory_equal(ip + 12, NODE_IP, 4);
	assert_memory_equal(ip + 16, CLIENT_IP, 4);
	assert_int_equal(rd16(ip + 20), NODE_PORT);
	assert_int_equal(rd16(ip + 22), CLIENT_PORT);
	assert_int_equal(rd16(ip + 24), len - 34);
	memcpy(&r->h, f + 42, sizeof(r->h));
	r->len = len - 42 - (uint32_t)sizeof(r->h);
	memcpy(r->payload, f + 42 + sizeof(r->h), r->len);
	assert_int_equal(r->h.magic, WEFT_WIRE_MAGIC);
	assert_int_equal(r->h.flags, WEFT_F_RESPONSE);
	assert_int_equal(r->h.name_len, 0);
}

static uint32_t build(uint8_t *buf, uint8_t op, const char *name, const void *key,
		      uint16_t key_len, const void *extras, uint16_t extras_len, const void *value,
		      uint32_t value_len, uint64_t rid)
{
	struct weft_wire_hdr h;
	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = op;
	h.name_len = (uint8_t)strlen(name);
	h.key_len = key_len;
	h.extras_len = extras_len;
	h.client_id = 0xc0ffee;
	h.request_id = rid;
	h.msg_len = h.name_len + key_len + extras_len + value_len;
	memcpy(buf, &h, sizeof(h));
	uint8_t *p = buf + sizeof(h);
	memcpy(p, name, h.name_len);
	p += h.name_len;
	if (key_len)
		memcpy(p, key, key_len);
	p += key_len;
	if (extras_len)
		memcpy(p, extras, extras_len);
	p += extras_len;
	if (value_len)
		memcpy(p, value, value_len);
	return (uint32_t)sizeof(h) + h.msg_len;
}

/* Sends one single-datagram request and returns its one response. */
static void call_rid(uint8_t op, const char *name, const char *key, const void *extras,
		     uint16_t extras_len, const void *value, uint32_t value_len, uint64_t rid,
		     struct resp *r)
{
	uint8_t buf[1500];
	uint32_t len = build(buf, op, name, key, (uint16_t)strlen(key), extras, extras_len, value,
			     value_len, rid);
	push_udp(buf, len, NODE_PORT);
	struct rte_mbuf *out[MAXF];
	unsigned n = poll_node(out);
	assert_int_equal(n, 1);
	decode(out[0], r);
	rte_pktmbuf_free(out[0]);
	assert_int_equal(r->h.opcode, op);
	assert_int_equal(r->h.request_id, rid);
	assert_int_equal(r->h.client_id, 0xc0ffee);
}

static void call(uint8_t op, const char *name, const char *key, const void *extras,
		 uint16_t extras_len, const void *value, uint32_t value_len, struct resp *r)
{
	call_rid(op, name, key, extras, extras_len, value, value_len, ++T.next_rid, r);
}

static uint64_t version_of(const struct resp *r)
{
	struct weft_x_version v;
	assert_int_equal(r->h.extras_len, sizeof(v));
	memcpy(&v, r->payload, sizeof(v));
	return v.version;
}

/* --- ARP / ICMP / drops ---------------------------------------------- */

static void test_arp_and_ping(void **state)
{
	(void)state;
	uint8_t f[128];
	memset(f, 0xff, 6);
	memcpy(f + 6, CLIENT_MAC, 6);
	wr16(f + 12, 0x0806);
	uint8_t *a = f + 14;
	wr16(a, 1);
	wr16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, 1);
	memcpy(a + 8, CLIENT_MAC, 6);
	memcpy(a + 14, CLIENT_IP, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, NODE_IP, 4);
	push(f, 42);
	struct rte_mbuf *out[MAXF];
	assert_int_equal(poll_node(out), 1);
	const uint8_t *r = rte_pktmbuf_mtod(out[0], const uint8_t *);
	assert_int_equal(out[0]->data_len, 60);
	assert_int_equal(rd16(r + 14 + 6), 2);
	assert_memory_equal(r + 14 + 8, T.fp.node_mac, 6);
	assert_memory_equal(r + 14 + 14, NODE_IP, 4);
	assert_memory_equal(r + 14 + 24, CLIENT_IP, 4);
	rte_pktmbuf_free(out[0]);

	/* ICMP echo request */
	memcpy(f, T.fp.node_mac, 6);
	wr16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	memset(ip, 0, 20 + 16);
	ip[0] = 0x45;
	wr16(ip + 2, 36);
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, CLIENT_IP, 4);
	memcpy(ip + 16, NODE_IP, 4);
	dp_ipv4_finish(ip);
	ip[20] = 8;
	memcpy(ip + 28, "pingpong", 8);
	wr16(ip + 22, (uint16_t)~csum(ip + 20, 16));
	push(f, 50);
	assert_int_equal(poll_node(out), 1);
	r = rte_pktmbuf_mtod(out[0], const uint8_t *);
	assert_int_equal(r[34], 0);
	assert_int_equal(csum(r + 34, 16), 0xffff);
	assert_memory_equal(r + 26, NODE_IP, 4);
	assert_memory_equal(r + 42, "pingpong", 8);
	rte_pktmbuf_free(out[0]);
	assert_int_equal(T.fp.dp->lc[0].c.arp_replies, 1);
	assert_int_equal(T.fp.dp->lc[0].c.icmp_replies, 1);
}

static void test_silent_drops(void **state)
{
	(void)state;
	struct dp_counters before = T.fp.dp->lc[0].c;
	uint8_t buf[256];
	uint32_t len = build(buf, WEFT_OP_PING, "", NULL, 0, NULL, 0, NULL, 0, 1);
	push_udp(buf, len, NODE_PORT + 1); /* other port */
	push_udp(buf, 20, NODE_PORT);      /* shorter than a header */
	buf[0] ^= 0x55;
	push_udp(buf, len, NODE_PORT); /* no magic */
	buf[0] ^= 0x55;
	buf[4] = WEFT_F_RESPONSE;
	push_udp(buf, len, NODE_PORT); /* a response */
	struct rte_mbuf *out[MAXF];
	assert_int_equal(poll_node(out), 0);
	const struct dp_counters *c = &T.fp.dp->lc[0].c;
	assert_int_equal(c->drops[DP_DROP_UDP_PORT] - before.drops[DP_DROP_UDP_PORT], 1);
	assert_int_equal(c->drops[DP_DROP_WEFT_SHORT] - before.drops[DP_DROP_WEFT_SHORT], 1);
	assert_int_equal(c->drops[DP_DROP_WEFT_MAGIC] - before.drops[DP_DROP_WEFT_MAGIC], 1);
	assert_int_equal(c->drops[DP_DROP_WEFT_RESPONSE] - before.drops[DP_DROP_WEFT_RESPONSE],
			 1);
}

static void test_error_answers(void **state)
{
	(void)state;
	struct resp r;
	call(WEFT_OP_PING, "", "", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	call(0x33, "c", "k", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_UNKNOWN_OP);
	call(WEFT_OP_PUT, "c", "k", "short", 5, "v", 1, &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	call(WEFT_OP_GET, "c", "", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);

	uint8_t buf[256];
	uint32_t len = build(buf, WEFT_OP_PING, "", NULL, 0, NULL, 0, NULL, 0, 99);
	buf[2] = 7; /* version 7 */
	push_udp(buf, len, NODE_PORT);
	struct rte_mbuf *out[MAXF];
	assert_int_equal(poll_node(out), 1);
	decode(out[0], &r);
	rte_pktmbuf_free(out[0]);
	assert_int_equal(r.h.status, WEFT_ST_BAD_VERSION);
	assert_int_equal(r.h.epoch, WEFT_WIRE_VERSION);
	assert_int_equal(r.h.request_id, 99);
}

/* --- cache ops ------------------------------------------------------------ */

static void test_put_get_cas_delete(void **state)
{
	(void)state;
	struct resp r;
	struct weft_x_write w = {0, 0};
	call(WEFT_OP_GET, "sessions", "alice", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_NOT_FOUND);
	assert_int_equal(r.h.extras_len, 0);
	call(WEFT_OP_PUT, "sessions", "alice", &w, sizeof(w), "v1", 2, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	uint64_t v1 = version_of(&r);
	call(WEFT_OP_GET, "sessions", "alice", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	assert_int_equal(version_of(&r), v1);
	assert_int_equal(r.h.msg_len, 8 + 2);
	assert_memory_equal(r.payload + 8, "v1", 2);

	call(WEFT_OP_PUT_IF_ABSENT, "sessions", "alice", &w, sizeof(w), "v2", 2, &r);
	assert_int_equal(r.h.status, WEFT_ST_EXISTS);
	assert_int_equal(version_of(&r), v1);
	call(WEFT_OP_REPLACE, "sessions", "bob", &w, sizeof(w), "v2", 2, &r);
	assert_int_equal(r.h.status, WEFT_ST_NOT_FOUND);

	struct weft_x_cas cas = {v1 + 1000, 0, 0};
	call(WEFT_OP_CAS, "sessions", "alice", &cas, sizeof(cas), "v3", 2, &r);
	assert_int_equal(r.h.status, WEFT_ST_VERSION_MISMATCH);
	assert_int_equal(version_of(&r), v1);
	cas.expected_version = v1;
	call(WEFT_OP_CAS, "sessions", "alice", &cas, sizeof(cas), "v3", 2, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	assert_true(version_of(&r) > v1);

	call(WEFT_OP_TOUCH, "sessions", "alice", &w, sizeof(w), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	call(WEFT_OP_DELETE, "sessions", "alice", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	call(WEFT_OP_DELETE, "sessions", "alice", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_NOT_FOUND);
	call(WEFT_OP_GET, "sessions", "alice", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_NOT_FOUND);
}

static void test_ttl_expiry_on_virtual_time(void **state)
{
	(void)state;
	struct resp r;
	struct weft_x_write w = {500, 0};
	call(WEFT_OP_PUT, "ttl", "k", &w, sizeof(w), "v", 1, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	T.now += 400;
	call(WEFT_OP_GET, "ttl", "k", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	T.now += 200;
	call(WEFT_OP_GET, "ttl", "k", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_NOT_FOUND);
}

/* PUT_FENCED applies only while the singleton's claim is held with the
 * writer's epoch. */
static void test_fenced_put(void **state)
{
	(void)state;
	struct resp r;
	const char *sg = "app/counter";
	struct weft_x_fenced_write f;
	memset(&f, 0, sizeof(f));
	f.epoch = 7;
	f.singleton_len = (uint8_t)strlen(sg);
	memcpy(f.singleton, sg, strlen(sg));
	/* no claim at all: refused */
	call(WEFT_OP_PUT_FENCED, "fenced", "value", &f, sizeof(f), "5", 1, &r);
	assert_int_equal(r.h.status, WEFT_ST_FENCED);
	struct weft_singleton_claim c = {.kind = WEFT_CLAIM_HELD, .epoch = 7, .since_ms = 1};
	struct weft_x_write xw = {0, 0};
	call(WEFT_OP_PUT, WEFT_SINGLETON_CACHE, sg, &xw, sizeof(xw), &c, sizeof(c), &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	call(WEFT_OP_PUT_FENCED, "fenced", "value", &f, sizeof(f), "5", 1, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	assert_true(version_of(&r) > 0);
	call(WEFT_OP_GET, "fenced", "value", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	assert_memory_equal(r.payload + sizeof(struct weft_x_version), "5", 1);
	/* another node claimed it (epoch 8): the stale writer is refused */
	c.epoch = 8;
	call(WEFT_OP_PUT, WEFT_SINGLETON_CACHE, sg, &xw, sizeof(xw), &c, sizeof(c), &r);
	call(WEFT_OP_PUT_FENCED, "fenced", "value", &f, sizeof(f), "6", 1, &r);
	assert_int_equal(r.h.status, WEFT_ST_FENCED);
	call(WEFT_OP_GET, "fenced", "value", NULL, 0, NULL, 0, &r);
	assert_memory_equal(r.payload + sizeof(struct weft_x_version), "5", 1);
	/* released: refused too */
	c.kind = WEFT_CLAIM_RELEASED;
	f.epoch = 8;
	call(WEFT_OP_PUT, WEFT_SINGLETON_CACHE, sg, &xw, sizeof(xw), &c, sizeof(c), &r);
	call(WEFT_OP_PUT_FENCED, "fenced", "value", &f, sizeof(f), "6", 1, &r);
	assert_int_equal(r.h.status, WEFT_ST_FENCED);
	/* malformed extras */
	f.singleton_len = 0;
	call(WEFT_OP_PUT_FENCED, "fenced", "value", &f, sizeof(f), "6", 1, &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
}

static void test_incr_applies_once(void **state)
{
	(void)state;
	struct resp r;
	struct weft_x_incr inc = {5, 0};
	struct weft_x_counter c;
	uint64_t rid = ++T.next_rid;
	call_rid(WEFT_OP_INCR, "counters", "hits", &inc, sizeof(inc), NULL, 0, rid, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	assert_int_equal(r.h.extras_len, sizeof(c));
	memcpy(&c, r.payload, sizeof(c));
	assert_int_equal(c.value, 5);
	uint64_t replays = T.fp.dp->lc[0].c.dedup_replays;
	/* The retransmission gets the same answer and is not applied again. */
	call_rid(WEFT_OP_INCR, "counters", "hits", &inc, sizeof(inc), NULL, 0, rid, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	memcpy(&c, r.payload, sizeof(c));
	assert_int_equal(c.value, 5);
	assert_int_equal(T.fp.dp->lc[0].c.dedup_replays, replays + 1);
	call(WEFT_OP_GET, "counters", "hits", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.msg_len, 8 + 1);
	assert_memory_equal(r.payload + 8, "5", 1);
	/* A new request id is a new increment. */
	call(WEFT_OP_INCR, "counters", "hits", &inc, sizeof(inc), NULL, 0, &r);
	memcpy(&c, r.payload, sizeof(c));
	assert_int_equal(c.value, 10);

	struct weft_x_write w = {0, 0};
	call(WEFT_OP_PUT, "counters", "text", &w, sizeof(w), "abc", 3, &r);
	call(WEFT_OP_INCR, "counters", "text", &inc, sizeof(inc), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_NOT_NUMERIC);
	call(WEFT_OP_PUT, "counters", "big", &w, sizeof(w), "9223372036854775807", 19, &r);
	call(WEFT_OP_INCR, "counters", "big", &inc, sizeof(inc), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OVERFLOW);
}

static void test_get_burst_is_batched(void **state)
{
	(void)state;
	struct resp r;
	struct weft_x_write w = {0, 0};
	call(WEFT_OP_PUT, "batch", "k0", &w, sizeof(w), "x0", 2, &r);
	call(WEFT_OP_PUT, "batch", "k1", &w, sizeof(w), "x1", 2, &r);
	uint64_t bursts = T.fp.dp->lc[0].c.get_bursts;
	uint8_t buf[256];
	for (unsigned i = 0; i < 8; i++) {
		char key[4];
		snprintf(key, sizeof(key), "k%u", i % 3);
		uint32_t len = build(buf, WEFT_OP_GET, "batch", key, 2, NULL, 0, NULL, 0, 1000 + i);
		push_udp(buf, len, NODE_PORT);
	}
	struct rte_mbuf *out[MAXF];
	assert_int_equal(poll_node(out), 8);
	assert_int_equal(T.fp.dp->lc[0].c.get_bursts, bursts + 1); /* one call for one cache */
	for (unsigned i = 0; i < 8; i++) {
		decode(out[i], &r);
		unsigned k = (unsigned)(r.h.request_id - 1000) % 3;
		assert_int_equal(r.h.status, k == 2 ? WEFT_ST_NOT_FOUND : WEFT_ST_OK);
		if (k < 2)
			assert_int_equal(r.payload[8 + 1], '0' + k);
		rte_pktmbuf_free(out[i]);
	}
}

static void test_multi_get(void **state)
{
	(void)state;
	struct resp r;
	struct weft_x_write w = {0, 0};
	call(WEFT_OP_PUT, "mg", "a", &w, sizeof(w), "AAA", 3, &r);
	call(WEFT_OP_PUT, "mg", "b", &w, sizeof(w), "B", 1, &r);
	uint8_t list[64];
	uint16_t count = 3;
	memcpy(list, &count, 2);
	uint32_t p = 2;
	static const char *const keys[] = {"a", "zz", "b"};
	for (unsigned i = 0; i < 3; i++) {
		uint16_t kl = (uint16_t)strlen(keys[i]);
		memcpy(list + p, &kl, 2);
		memcpy(list + p + 2, keys[i], kl);
		p += 2 + kl;
	}
	call(WEFT_OP_MULTI_GET, "mg", "", NULL, 0, list, p, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	memcpy(&count, r.payload, 2);
	assert_int_equal(count, 3);
	const uint8_t *q = r.payload + 2;
	static const char *const vals[] = {"AAA", "", "B"};
	for (unsigned i = 0; i < 3; i++) {
		struct weft_mget_entry_hdr e;
		memcpy(&e, q, sizeof(e));
		q += sizeof(e);
		assert_int_equal(e.status, i == 1 ? WEFT_ST_NOT_FOUND : WEFT_ST_OK);
		assert_int_equal(e.key_len, strlen(keys[i]));
		assert_memory_equal(q, keys[i], e.key_len);
		q += e.key_len;
		assert_int_equal(e.value_len, strlen(vals[i]));
		assert_memory_equal(q, vals[i], e.value_len);
		q += e.value_len;
	}
	assert_int_equal(q - r.payload, r.h.msg_len);
}

static void test_cache_open(void **state)
{
	(void)state;
	struct resp r;
	struct weft_x_cache_opts o = {1 << 20, 100, 0, 0, 0, 0};
	call(WEFT_OP_CACHE_OPEN, "opened", "", &o, sizeof(o), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	struct weft_cache *c = weft_cache_find(T.fp.reg, "opened", 6);
	assert_non_null(c);
	struct weft_cache_opts got;
	weft_cache_get_opts(c, &got);
	assert_int_equal(got.max_entries, 100);
	assert_int_equal(got.max_bytes, 1 << 20);
}

/* --- long messages -------------------------------------------------------- */

/* Collects the datagrams of one long response into buf; returns how many. */
static unsigned collect(struct rte_mbuf **out, unsigned n, uint8_t *buf, uint32_t *msg_len,
			uint8_t *seen, uint64_t rid)
{
	unsigned got = 0;
	for (unsigned i = 0; i < n; i++) {
		struct resp r;
		decode(out[i], &r);
		rte_pktmbuf_free(out[i]);
		assert_int_equal(r.h.request_id, rid);
		assert_int_equal(r.h.frag_offset % WEFT_MAX_DGRAM_PAYLOAD, 0);
		*msg_len = r.h.msg_len;
		memcpy(buf + r.h.frag_offset, r.payload, r.len);
		seen[r.h.frag_offset / WEFT_MAX_DGRAM_PAYLOAD] = 1;
		got++;
	}
	return got;
}

static void fetch(uint64_t rid, uint32_t slot, uint32_t count, struct rte_mbuf **out,
		  unsigned *n)
{
	uint8_t buf[256];
	struct weft_x_fetch f = {slot * WEFT_MAX_DGRAM_PAYLOAD, count};
	uint32_t len = build(buf, WEFT_OP_FETCH, "", NULL, 0, &f, sizeof(f), NULL, 0, rid);
	push_udp(buf, len, NODE_PORT);
	*n = poll_node(out);
}

static void test_big_value_reassembly_and_fetch(void **state)
{
	(void)state;
	uint32_t vlen = 100 * 1000;
	uint8_t *value = malloc(vlen);
	for (uint32_t i = 0; i < vlen; i++)
		value[i] = (uint8_t)(i * 13 + 1);
	/* The whole PUT message, then its pieces in reverse order plus a duplicate. */
	uint8_t *msg = malloc(40 + 3 + 3 + 16 + vlen); /* header, name, key, extras */
	struct weft_x_write w = {0, 0};
	uint64_t rid = ++T.next_rid;
	uint32_t mlen = build(msg, WEFT_OP_PUT, "big", "key", 3, &w, sizeof(w), value, vlen, rid);
	uint32_t total = mlen - 40;
	uint32_t pieces = (total + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
	struct rte_mbuf *out[MAXF];
	for (int s = (int)pieces - 1; s >= 0; s--) {
		uint8_t dg[1500];
		struct weft_wire_hdr h;
		memcpy(&h, msg, sizeof(h));
		h.frag_offset = (uint32_t)s * WEFT_MAX_DGRAM_PAYLOAD;
		uint32_t sl = total - h.frag_offset;
		if (sl > WEFT_MAX_DGRAM_PAYLOAD)
			sl = WEFT_MAX_DGRAM_PAYLOAD;
		memcpy(dg, &h, sizeof(h));
		memcpy(dg + 40, msg + 40 + h.frag_offset, sl);
		push_udp(dg, 40 + sl, NODE_PORT);
		if (s == 10)
			push_udp(dg, 40 + sl, NODE_PORT); /* duplicate */
		if (s % 16 == 0 || s == 10)
			assert_int_equal(poll_node(out), s == 0 ? 1 : 0);
	}
	struct resp r;
	decode(out[0], &r);
	rte_pktmbuf_free(out[0]);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	assert_int_equal(r.h.opcode, WEFT_OP_PUT);

	/* GET: the first window at once, the rest by FETCH. */
	uint64_t grid = ++T.next_rid;
	uint8_t buf[256];
	uint32_t len = build(buf, WEFT_OP_GET, "big", "key", 3, NULL, 0, NULL, 0, grid);
	push_udp(buf, len, NODE_PORT);
	unsigned n = poll_node(out);
	assert_int_equal(n, WEFT_RESP_INITIAL_WINDOW);
	uint8_t *got = calloc(1, vlen + 8);
	uint8_t seen[128] = {0};
	uint32_t glen = 0;
	collect(out, n, got, &glen, seen, grid);
	assert_int_equal(glen, 8 + vlen);
	uint32_t slots = (glen + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
	for (uint32_t s = WEFT_RESP_INITIAL_WINDOW; s < slots; s += 32) {
		fetch(grid, s, 32, out, &n);
		assert_true(n > 0);
		collect(out, n, got, &glen, seen, grid);
	}
	for (uint32_t s = 0; s < slots; s++)
		assert_int_equal(seen[s], 1);
	assert_memory_equal(got + 8, value, vlen);

	/* Kept WEFT_RESP_KEEP_MS after its last use, then GONE. */
	T.now += WEFT_RESP_KEEP_MS + 1;
	weft_dp_maintain(T.fp.dp, T.now);
	fetch(grid, 1, 1, out, &n);
	assert_int_equal(n, 1);
	decode(out[0], &r);
	rte_pktmbuf_free(out[0]);
	assert_int_equal(r.h.status, WEFT_ST_GONE);
	assert_int_equal(r.h.opcode, WEFT_OP_FETCH);
	free(got);
	free(msg);
	free(value);
}

static void test_reassembly_timeout_and_stats(void **state)
{
	(void)state;
	uint8_t dg[1500];
	struct weft_wire_hdr h;
	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = WEFT_OP_PUT;
	h.name_len = 1;
	h.key_len = 1;
	h.extras_len = 16;
	h.client_id = 0xc0ffee;
	h.request_id = ++T.next_rid;
	h.msg_len = 3 * WEFT_MAX_DGRAM_PAYLOAD;
	memcpy(dg, &h, sizeof(h));
	memset(dg + 40, 'x', WEFT_MAX_DGRAM_PAYLOAD);
	push_udp(dg, 40 + WEFT_MAX_DGRAM_PAYLOAD, NODE_PORT);
	struct rte_mbuf *out[MAXF];
	assert_int_equal(poll_node(out), 0);
	T.now += WEFT_REASM_TIMEOUT_MS + 1;
	weft_dp_maintain(T.fp.dp, T.now);

	/* STATS is longer than a datagram: window, then FETCH. */
	uint64_t rid = ++T.next_rid;
	uint8_t buf[256];
	uint32_t len = build(buf, WEFT_OP_STATS, "", NULL, 0, NULL, 0, NULL, 0, rid);
	push_udp(buf, len, NODE_PORT);
	unsigned n = poll_node(out);
	assert_true(n >= 1);
	static uint8_t text[1 << 20];
	uint8_t seen[1024] = {0};
	uint32_t tlen = 0;
	collect(out, n, text, &tlen, seen, rid);
	uint32_t slots = (tlen + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
	for (uint32_t s = n; s < slots; s += 32) {
		fetch(rid, s, 32, out, &n);
		collect(out, n, text, &tlen, seen, rid);
	}
	text[tlen] = '\0';
	assert_non_null(strstr((char *)text, "\nreasm.timeouts 1\n"));
	assert_non_null(strstr((char *)text, "lcore.1.rx_packets "));
	assert_non_null(strstr((char *)text, "\ncache.sessions.entries "));
	assert_non_null(strstr((char *)text, "\ncache.counters.entries 3\n"));
	assert_non_null(strstr((char *)text, "\ndedup.replayed 1\n"));
	assert_int_equal(text[tlen - 1], '\n');
}

/* --- latency histograms ----------------------------------------------------- */

/* The answers of kind k counted on lcore 0 so far (its buckets summed). */
static uint64_t lat_answers(unsigned k)
{
	uint64_t n = 0;
	for (unsigned i = 0; i <= DP_LAT_INF; i++)
		n += T.fp.dp->lc[0].c.lat_bucket[k][i];
	return n;
}

/* The value of STATS line "name " in text (asserts it is there). */
static uint64_t stat_of(const char *text, const char *name)
{
	char pat[96];
	snprintf(pat, sizeof(pat), "\n%s ", name);
	const char *p = strstr(text, pat);
	assert_non_null(p);
	return strtoull(p + strlen(pat), NULL, 10);
}

static void test_latency_histograms(void **state)
{
	(void)state;
	uint64_t reads = lat_answers(DP_LAT_READ), writes = lat_answers(DP_LAT_WRITE);
	struct resp r;
	struct weft_x_write w = {0, 0};
	call(WEFT_OP_PUT, "lat", "a", &w, sizeof(w), "1", 1, &r);
	call(WEFT_OP_PUT, "lat", "b", &w, sizeof(w), "2", 1, &r);
	call(WEFT_OP_DELETE, "lat", "b", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	call(WEFT_OP_DELETE, "lat", "b", NULL, 0, NULL, 0, &r); /* NOT_FOUND: answered too */
	assert_int_equal(lat_answers(DP_LAT_WRITE), writes + 4);
	assert_int_equal(lat_answers(DP_LAT_READ), reads);

	/* Three GETs in one burst (a hit, a miss, a hit), then a MULTI_GET. */
	uint8_t buf[256];
	static const char *const keys[] = {"a", "b", "a"};
	for (unsigned i = 0; i < 3; i++) {
		uint32_t len = build(buf, WEFT_OP_GET, "lat", keys[i], 1, NULL, 0, NULL, 0,
				     ++T.next_rid);
		push_udp(buf, len, NODE_PORT);
	}
	struct rte_mbuf *out[MAXF];
	unsigned n = poll_node(out);
	assert_int_equal(n, 3);
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(out[i]);
	uint8_t list[16] = {1, 0, 1, 0, 'a'};
	call(WEFT_OP_MULTI_GET, "lat", "", NULL, 0, list, 5, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	/* Neither kind: PING. */
	call(WEFT_OP_PING, "", "", NULL, 0, NULL, 0, &r);
	assert_int_equal(lat_answers(DP_LAT_READ), reads + 4);
	assert_int_equal(lat_answers(DP_LAT_WRITE), writes + 4);

	/* STATS: cumulative buckets ending at le_inf == count, for both kinds,
	 * per lcore and in total. */
	static char text[1 << 20];
	text[0] = '\n';
	weft_dp_stats_format(T.fp.dp, text + 1, sizeof(text) - 1);
	static const char *const kinds[] = {"read", "write"};
	static const char *const pre[] = {"lcore.1", "total"};
	for (unsigned p = 0; p < 2; p++)
		for (unsigned k = 0; k < 2; k++) {
			char name[96];
			uint64_t prev = 0;
			for (unsigned i = 0; i < DP_LAT_INF; i++) {
				snprintf(name, sizeof(name), "%s.latency_us.%s.le_%llu", pre[p],
					 kinds[k], 1ull << i);
				uint64_t v = stat_of(text, name);
				assert_true(v >= prev);
				prev = v;
			}
			snprintf(name, sizeof(name), "%s.latency_us.%s.le_inf", pre[p], kinds[k]);
			uint64_t inf = stat_of(text, name);
			assert_true(inf >= prev);
			assert_int_equal(inf, lat_answers(k));
			snprintf(name, sizeof(name), "%s.latency_us.%s.count", pre[p], kinds[k]);
			assert_int_equal(stat_of(text, name), inf);
			snprintf(name, sizeof(name), "%s.latency_us.%s.sum", pre[p], kinds[k]);
			assert_int_equal(stat_of(text, name), T.fp.dp->lc[0].c.lat_sum_us[k]);
		}
}

/* --- MEMBERS --------------------------------------------------------------- */

/* Fills member i of a snapshot (start in the future: uptime 0 exactly). */
static void member(struct weft_dp_member *m, unsigned i, uint8_t state)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "n%u", i);
	snprintf(m->id, sizeof(m->id), "00000000-0000-4000-8000-%012u", i);
	uint8_t ip[4] = {10, 213, 1, (uint8_t)i};
	memcpy(&m->ip, ip, 4);
	m->port = 7700;
	m->state = state;
	m->start_unix_ms = UINT64_MAX;
}

/* Reads the answer to a no-payload op (MEMBERS, TOPOLOGY) of any length
 * (window, then FETCH) into buf; returns its length. *epoch (if not NULL)
 * gets the hdr.epoch of the first datagram. */
static uint32_t long_answer(uint8_t op, uint8_t *buf, uint32_t cap, uint32_t *epoch)
{
	uint64_t rid = ++T.next_rid;
	uint8_t req[256];
	uint32_t len = build(req, op, "", NULL, 0, NULL, 0, NULL, 0, rid);
	push_udp(req, len, NODE_PORT);
	struct rte_mbuf *out[MAXF];
	unsigned n = poll_node(out);
	assert_true(n >= 1);
	if (epoch != NULL) {
		struct resp r;
		decode(out[0], &r);
		assert_int_equal(r.h.status, WEFT_ST_OK);
		*epoch = r.h.epoch;
	}
	static uint8_t seen[1024];
	memset(seen, 0, sizeof(seen));
	uint32_t tlen = 0;
	collect(out, n, buf, &tlen, seen, rid);
	assert_true(tlen < cap);
	uint32_t slots = (tlen + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
	for (uint32_t sl = n; sl < slots; sl += 32) {
		fetch(rid, sl, 32, out, &n);
		collect(out, n, buf, &tlen, seen, rid);
	}
	for (uint32_t sl = 0; sl < slots; sl++)
		assert_int_equal(seen[sl], 1);
	return tlen;
}

static uint32_t members_text(char *text, uint32_t cap)
{
	uint32_t tlen = long_answer(WEFT_OP_MEMBERS, (uint8_t *)text, cap, NULL);
	text[tlen] = '\0';
	return tlen;
}

static void test_members(void **state)
{
	(void)state;
	static char text[1 << 20];

	/* Nothing published: the node alone. */
	members_text(text, sizeof(text));
	assert_memory_equal(text, "view 0 coordinator local\nlocal 10.213.0.2:7700 alive ", 51);
	assert_string_equal(text + strlen(text) - 3, " -\n"); /* no node id */

	/* A published view, answered exactly. */
	static struct {
		struct weft_dp_members h;
		struct weft_dp_member m[WEFT_DP_MEMBERS_MAX];
	} s;
	s.h.view = 7;
	s.h.coordinator = 1;
	s.h.n = 3;
	member(&s.m[0], 1, WEFT_DP_MEMBER_ALIVE);
	member(&s.m[1], 2, WEFT_DP_MEMBER_ALIVE);
	member(&s.m[2], 3, WEFT_DP_MEMBER_SUSPECT);
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), 0);
	members_text(text, sizeof(text));
	assert_string_equal(text, "view 7 coordinator n2\n"
				  "n1 10.213.1.1:7700 alive 0 00000000-0000-4000-8000-000000000001\n"
				  "n2 10.213.1.2:7700 alive 0 00000000-0000-4000-8000-000000000002\n"
				  "n3 10.213.1.3:7700 suspect 0 00000000-0000-4000-8000-000000000003\n");

	/* Bad snapshots are refused; the published one stays. */
	s.h.n = 0;
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), -EINVAL);
	s.h.n = WEFT_DP_MEMBERS_MAX + 1;
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), -EINVAL);
	s.h.n = 3;
	s.h.coordinator = 3;
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), -EINVAL);
	assert_int_equal(weft_dp_members_format(T.fp.dp, 0, NULL, 0), strlen(text));

	/* The largest view replaces it (the old one retired through
	 * call_rcu) and comes back whole through FETCH. */
	s.h.view = 8;
	s.h.coordinator = WEFT_DP_MEMBERS_MAX - 1;
	s.h.n = WEFT_DP_MEMBERS_MAX;
	for (unsigned i = 0; i < WEFT_DP_MEMBERS_MAX; i++)
		member(&s.m[i], i + 1, WEFT_DP_MEMBER_LEFT);
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), 0);
	uint32_t len = members_text(text, sizeof(text));
	assert_true(len > WEFT_MAX_DGRAM_PAYLOAD);
	assert_memory_equal(text, "view 8 coordinator n1024\nn1 10.213.1.1:7700 left 0 ", 50);
	unsigned lines = 0;
	for (uint32_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	assert_int_equal(lines, WEFT_DP_MEMBERS_MAX + 1);
	assert_non_null(strstr(text, "\nn1024 10.213.1.0:7700 left 0 "
				     "00000000-0000-4000-8000-000000001024\n"));
}

/* --- TOPOLOGY -------------------------------------------------------------- */

static void test_topology_alone(void **state)
{
	(void)state;
	static uint8_t v[256];
	uint32_t epoch = 99;
	uint32_t len = long_answer(WEFT_OP_TOPOLOGY, v, sizeof(v), &epoch);
	/* Nothing published: this node alone, epoch 0, no segment table. */
	assert_int_equal(epoch, 0);
	assert_int_equal(len, sizeof(struct weft_topo_hdr) + sizeof(struct weft_topo_member) + 5);
	struct weft_topo_hdr h;
	memcpy(&h, v, sizeof(h));
	assert_int_equal(h.epoch, 0);
	assert_int_equal(h.owners, 0);
	assert_int_equal(h.n_members, 1);
	struct weft_topo_member m;
	memcpy(&m, v + sizeof(h), sizeof(m));
	assert_int_equal(m.port, NODE_PORT);
	assert_memory_equal(&m.ip, NODE_IP, 4);
	assert_int_equal(m.name_len, 5);
	assert_memory_equal(v + sizeof(h) + sizeof(m), "local", 5);
}

/* The node's ingress hash is XXH3-64, so wire.h's key -> segment rule
 * (what libweft computes) is the node's. */
static void test_segment_rule(void **state)
{
	(void)state;
	const char *keys[] = {"", "a", "user:42", "a-key-of-some-length-0123456789"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t l = strlen(keys[i]);
		assert_true(weft_cache_hash(keys[i], l) == XXH3_64bits(keys[i], l));
		assert_int_equal(weft_wire_segment(weft_cache_hash(keys[i], l), 8),
				 XXH3_64bits(keys[i], l) & 255u);
	}
	assert_int_equal(weft_wire_segment(UINT64_MAX, 0), 0);
	assert_int_equal(weft_wire_segment(UINT64_MAX, 16), 65535);
}

static void test_topology(void **state)
{
	(void)state;
	static struct {
		struct weft_dp_members h;
		struct weft_dp_member m[3];
	} s;
	static uint16_t tab[2u << 16];
	static uint8_t v[1 << 20];

	/* 3 members, 4 segments of 2 owners. */
	s.h.view = 0x100000009ull; /* the epoch is its low 32 bits */
	s.h.coordinator = 0;
	s.h.n = 3;
	member(&s.m[0], 1, WEFT_DP_MEMBER_ALIVE);
	member(&s.m[1], 2, WEFT_DP_MEMBER_ALIVE);
	member(&s.m[2], 3, WEFT_DP_MEMBER_ALIVE);
	s.m[2].name[0] = '\0'; /* unknown name: name_len 0 */
	s.m[1].id[0] = '\0';   /* unknown id: zero bytes */
	const uint16_t t4[8] = {0, 1, 1, 2, 2, 0, 0, 2};
	memcpy(tab, t4, sizeof(t4));
	s.h.seg_log2 = 2;
	s.h.owners = 2;
	s.h.seg_owner = tab;
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), 0);
	tab[0] = 2; /* the snapshot holds a copy */
	uint32_t epoch = 0;
	uint32_t len = long_answer(WEFT_OP_TOPOLOGY, v, sizeof(v), &epoch);
	assert_int_equal(epoch, 9);
	assert_int_equal(len, 10 + 3 * 23 + 2 + 2 + 0 + 8 * 2);
	struct weft_topo_hdr h;
	memcpy(&h, v, sizeof(h));
	assert_int_equal(h.epoch, 9);
	assert_int_equal(h.n_segments_log2, 2);
	assert_int_equal(h.owners, 2);
	assert_int_equal(h.n_members, 3);
	const uint8_t *p = v + sizeof(h);
	struct weft_topo_member m;
	memcpy(&m, p, sizeof(m));
	const uint8_t id1[16] = {0, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 1};
	assert_memory_equal(m.id, id1, 16);
	assert_int_equal(m.port, 7700);
	const uint8_t ip1[4] = {10, 213, 1, 1};
	assert_memory_equal(&m.ip, ip1, 4);
	assert_int_equal(m.name_len, 2);
	assert_memory_equal(p + sizeof(m), "n1", 2);
	p += sizeof(m) + 2;
	memcpy(&m, p, sizeof(m));
	const uint8_t zero[16] = {0};
	assert_memory_equal(m.id, zero, 16);
	assert_memory_equal(p + sizeof(m), "n2", 2);
	p += sizeof(m) + 2;
	memcpy(&m, p, sizeof(m));
	assert_int_equal(m.name_len, 0);
	p += sizeof(m);
	assert_memory_equal(p, t4, sizeof(t4));

	/* Every response now carries the epoch. */
	struct resp r;
	call(WEFT_OP_PING, "", "", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.epoch, 9);

	/* This node is member 0 (self). Without a cluster channel every cache
	 * is LOCAL: a key of segment 1 (owners 1, 2) is served here like one
	 * of segment 0, never forwarded nor counted as misrouted
	 * (test_dp_cluster covers routing). */
	char k_other[8] = "", k_own[8] = "";
	for (unsigned i = 0; i < 100 && (!k_other[0] || !k_own[0]); i++) {
		char k[8];
		snprintf(k, sizeof(k), "k%u", i);
		uint32_t sg = weft_wire_segment(XXH3_64bits(k, strlen(k)), 2);
		if (sg == 1 && !k_other[0])
			memcpy(k_other, k, sizeof(k));
		if (sg == 0 && !k_own[0])
			memcpy(k_own, k, sizeof(k));
	}
	assert_true(k_other[0] && k_own[0]);
	uint64_t before = T.fp.dp->lc[0].c.not_owner;
	call(WEFT_OP_GET, "topo", k_own, NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_NOT_FOUND);
	assert_int_equal(r.h.epoch, 9);
	assert_int_equal(T.fp.dp->lc[0].c.not_owner, before);
	call(WEFT_OP_GET, "topo", k_other, NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_NOT_FOUND);
	assert_int_equal(T.fp.dp->lc[0].c.not_owner, before);
	s.h.self = 3; /* neither a member nor WEFT_DP_SELF_NONE */
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), -EINVAL);
	s.h.self = 0;

	/* Bad tables are refused; the published snapshot stays. */
	memcpy(tab, t4, sizeof(t4));
	tab[3] = 3; /* index out of range */
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), -EINVAL);
	tab[3] = 1; /* segment 1 owned twice by member 1 */
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), -EINVAL);
	tab[3] = 2;
	s.h.owners = 4; /* more owners than members */
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), -EINVAL);
	s.h.owners = 2;
	s.h.seg_log2 = 17;
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), -EINVAL);
	s.h.seg_log2 = 2;
	s.h.seg_owner = NULL; /* owners without a table */
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), -EINVAL);
	call(WEFT_OP_PING, "", "", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.epoch, 9);

	/* The largest table (2^16 segments x 2 owners) comes back through
	 * FETCH, with a new epoch. */
	s.h.view = 10;
	s.h.seg_log2 = 16;
	s.h.seg_owner = tab;
	for (uint32_t i = 0; i < (1u << 16); i++) {
		tab[2 * i] = (uint16_t)(i % 3);
		tab[2 * i + 1] = (uint16_t)((i + 1) % 3);
	}
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &s.h), 0);
	len = long_answer(WEFT_OP_TOPOLOGY, v, sizeof(v), &epoch);
	assert_int_equal(epoch, 10);
	assert_int_equal(len, 10 + 3 * 23 + 4 + (2u << 16) * 2);
	assert_true(len > WEFT_MAX_DGRAM_PAYLOAD * WEFT_RESP_INITIAL_WINDOW);
	assert_memory_equal(v + len - (2u << 16) * 2, tab, (2u << 16) * 2);
}

/* --- fixture -------------------------------------------------------------- */

static int setup(void **state)
{
	(void)state;
	T.now = 1000000;
	uint32_t ip;
	memcpy(&ip, NODE_IP, 4);
	struct weft_dp_config cfg = {.bind_ip = ip, .udp_port = NODE_PORT, .n_workers = 1,
				     .poll = WEFT_DP_POLL_BUSY, .clock = vclock};
	return dp_fakeport_open(&T.fp, "test_dp_serve", 1024, 1024, 2047, &cfg);
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
		cmocka_unit_test(test_arp_and_ping),
		cmocka_unit_test(test_silent_drops),
		cmocka_unit_test(test_error_answers),
		cmocka_unit_test(test_put_get_cas_delete),
		cmocka_unit_test(test_ttl_expiry_on_virtual_time),
		cmocka_unit_test(test_fenced_put),
		cmocka_unit_test(test_incr_applies_once),
		cmocka_unit_test(test_get_burst_is_batched),
		cmocka_unit_test(test_multi_get),
		cmocka_unit_test(test_cache_open),
		cmocka_unit_test(test_big_value_reassembly_and_fetch),
		cmocka_unit_test(test_reassembly_timeout_and_stats),
		cmocka_unit_test(test_latency_histograms),
		cmocka_unit_test(test_topology_alone),
		cmocka_unit_test(test_segment_rule),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_topology),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
