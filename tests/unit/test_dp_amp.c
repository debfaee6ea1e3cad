/*
 * test_dp_amp.c — address validation (dp_amp.c, wire.h "Trailers"): the
 * cookie's mint, verify and rotation, the per-source reply rate, the
 * per-opcode rule against the egress backstop, and the real worker code on
 * the fake port (dp_fakeport.h): an unverified GET of a big value gets a
 * 56-byte COOKIE, the same GET with the cookie gets the value, a spoofed
 * cookie is refused, a PUT needs none, every op let through unverified
 * gets an answer no larger than its request, rate-limited per source.
 * The clock is virtual; the node allows RATE replies per second to an
 * unverified source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_fakeport.h"
#include "dp_frames.h"
#include "dp_internal.h"

static const uint8_t CLIENT_MAC[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t CLIENT_IP[4] = {10, 214, 0, 1};
static const uint8_t OTHER_IP[4] = {10, 214, 0, 9};
static const uint8_t NODE_IP[4] = {10, 214, 0, 2};
#define CLIENT_PORT 41000u
#define NODE_PORT 7700u
#define RATE 20u
#define MAXF 64
#define HDR ((uint32_t)sizeof(struct weft_wire_hdr))

static struct {
	struct dp_fakeport fp;
	uint64_t now;
	uint64_t rid;
} T;

static struct dp_counters *ctr(void)
{
	return &T.fp.dp->lc[0].c;
}

/* A frame's weft datagram (the whole UDP payload, trailers included). */
struct ans {
	struct weft_wire_hdr h;
	uint32_t bytes;
	uint8_t d[1500];
};

/* A request datagram; with WEFT_F_COOKIE in flags, cookie (NULL: zeros)
 * ends it. Returns its length. */
static uint32_t build(uint8_t *buf, uint8_t op, uint8_t flags, const char *name, const void *key,
		      uint16_t kl, const void *x, uint16_t xl, const void *v, uint32_t vl,
		      const uint8_t *cookie)
{
	struct weft_wire_hdr h;
	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = op;
	h.flags = flags;
	h.name_len = (uint8_t)(name ? strlen(name) : 0);
	h.key_len = kl;
	h.extras_len = xl;
	h.client_id = 0xa3a3;
	h.request_id = ++T.rid;
	h.msg_len = h.name_len + kl + xl + vl;
	memcpy(buf, &h, sizeof(h));
	uint8_t *p = buf + sizeof(h);
	if (h.name_len)
		memcpy(p, name, h.name_len);
	p += h.name_len;
	if (kl)
		memcpy(p, key, kl);
	p += kl;
	if (xl)
		memcpy(p, x, xl);
	p += xl;
	if (vl)
		memcpy(p, v, vl);
	p += vl;
	if (flags & WEFT_F_COOKIE) {
		if (cookie)
			memcpy(p, cookie, WEFT_COOKIE_LEN);
		else
			memset(p, 0, WEFT_COOKIE_LEN);
		p += WEFT_COOKIE_LEN;
	}
	return (uint32_t)(p - buf);
}

static void push_from(const uint8_t src[4], const void *d, uint32_t len)
{
	assert_true(len <= 1472);
	assert_int_equal(dp_fakeport_push(&T.fp, CLIENT_MAC, src, CLIENT_PORT, NODE_IP, NODE_PORT, d,
					  len),
			 0);
}

/* Runs the worker until the rx ring is empty; decodes what it sent. */
static unsigned poll_node(struct ans *out, unsigned max)
{
	unsigned n = 0;
	struct rte_mbuf *m[MAXF];
	unsigned got = dp_fakeport_run(&T.fp, m, MAXF);
	for (unsigned i = 0; i < got; i++) {
		const uint8_t *f = rte_pktmbuf_mtod(m[i], const uint8_t *);
		uint32_t ul = rd16(f + 14 + 24) - 8u;
		if (n < max && ul >= HDR) {
			memcpy(&out[n].h, f + 42, HDR);
			out[n].bytes = ul;
			memcpy(out[n].d, f + 42, ul);
			n++;
		}
		rte_pktmbuf_free(m[i]);
	}
	return n;
}

/* Sends one datagram from src, expects exactly one answer. */
static void one(const uint8_t src[4], const uint8_t *d, uint32_t len, struct ans *a)
{
	push_from(src, d, len);
	assert_int_equal(poll_node(a, 1), 1);
	assert_true(a->h.flags & WEFT_F_RESPONSE);
}

/* A fresh second: every source's bucket is full again. */
static void next_second(void)
{
	T.now += 1000;
}

/* --- cookies ------------------------------------------------------------ */

static void test_cookie_mint_verify_rotation(void **state)
{
	(void)state;
	struct dp_lcore *lc = &T.fp.dp->lc[0];
	uint64_t saved = lc->now_ms;
	uint32_t a = dp_ip4(CLIENT_IP), b = dp_ip4(OTHER_IP);
	uint8_t c[WEFT_COOKIE_LEN], c2[WEFT_COOKIE_LEN];
	/* Minted in the last millisecond of a window. */
	uint64_t k = 100;
	lc->now_ms = k * WEFT_COOKIE_VALID_MS - 1;
	dp_amp_mint(lc, a, c);
	assert_true(dp_amp_cookie_ok(lc, a, c));
	assert_true(dp_amp_cookie_ok(lc, a, c)); /* again: from the lcore's seen table */
	assert_false(dp_amp_cookie_ok(lc, b, c)); /* another address */
	memcpy(c2, c, sizeof(c));
	c2[7] ^= 1;
	assert_false(dp_amp_cookie_ok(lc, a, c2)); /* one bit off */
	dp_amp_mint(lc, b, c2);
	assert_memory_not_equal(c, c2, sizeof(c));
	/* Still valid WEFT_COOKIE_VALID_MS later (the next window)... */
	lc->now_ms += WEFT_COOKIE_VALID_MS;
	assert_true(dp_amp_cookie_ok(lc, a, c));
	assert_true(dp_amp_cookie_ok(lc, a, c));
	dp_amp_mint(lc, a, c2);
	assert_memory_not_equal(c, c2, sizeof(c)); /* a new window, a new cookie */
	/* ...and refused one window after that, seen before or not. */
	lc->now_ms += 1;
	assert_false(dp_amp_cookie_ok(lc, a, c));
	assert_false(dp_amp_cookie_ok(lc, a, c));
	assert_true(dp_amp_cookie_ok(lc, a, c2));
	/* Going back (another lcore's older clock reading) still verifies. */
	lc->now_ms = k * WEFT_COOKIE_VALID_MS - 1;
	dp_amp_mint(lc, a, c2);
	assert_memory_equal(c, c2, sizeof(c));
	lc->now_ms = saved;
}

static void test_exempt_sources(void **state)
{
	(void)state;
	struct weft_dp *dp = T.fp.dp;
	assert_true(dp_amp_exempt(dp, NULL, dp_ip4(NODE_IP))); /* in-node clients */
	assert_false(dp_amp_exempt(dp, NULL, dp_ip4(CLIENT_IP)));
	struct weft_dp_members *m = calloc(1, sizeof(*m) + 2 * sizeof(m->m[0]));
	assert_non_null(m);
	m->n = 2;
	m->m[0].ip = dp_ip4(NODE_IP);
	m->m[1].ip = dp_ip4(OTHER_IP);
	assert_true(dp_amp_exempt(dp, m, dp_ip4(OTHER_IP))); /* a member of the view */
	assert_false(dp_amp_exempt(dp, m, dp_ip4(CLIENT_IP)));
	/* dp_amp_rx: a member, and a datagram sealed with the cluster key,
	 * are verified; a client key proves no address. */
	struct dp_lcore *lc = &dp->lc[0];
	uint8_t d[HDR];
	memset(d, 0, sizeof(d));
	uint32_t len = HDR;
	struct dp_flow f = {.src_ip = dp_ip4(OTHER_IP)};
	dp_amp_rx(lc, m, d, &len, &f);
	assert_int_equal(f.amp_budget, 0);
	f = (struct dp_flow){.src_ip = dp_ip4(CLIENT_IP)};
	dp_amp_rx(lc, m, d, &len, &f);
	assert_int_equal(f.amp_budget, HDR);
	f = (struct dp_flow){.src_ip = dp_ip4(CLIENT_IP), .auth = WEFT_AUTH_CLIENT};
	dp_amp_rx(lc, m, d, &len, &f);
	assert_int_equal(f.amp_budget, HDR);
	f = (struct dp_flow){.src_ip = dp_ip4(CLIENT_IP), .auth = WEFT_AUTH_CLUSTER};
	dp_amp_rx(lc, m, d, &len, &f);
	assert_int_equal(f.amp_budget, 0);
	assert_int_equal(len, HDR);
	free(m);
}

/* --- the rate limiter ------------------------------------------------------ */

static void test_rate_limiter(void **state)
{
	(void)state;
	next_second();
	struct dp_lcore *lc = &T.fp.dp->lc[0];
	lc->now_ms = T.now;
	struct dp_flow f = {.src_ip = dp_ip4(OTHER_IP), .amp_budget = 1000};
	uint64_t drops = ctr()->amp_rate_drops;
	for (unsigned i = 0; i < RATE; i++)
		assert_true(dp_amp_tx_allow(lc, &f, 40));
	assert_false(dp_amp_tx_allow(lc, &f, 40));
	assert_int_equal(ctr()->amp_rate_drops, drops + 1);
	lc->now_ms += 1000 / RATE; /* one token back */
	assert_true(dp_amp_tx_allow(lc, &f, 40));
	assert_false(dp_amp_tx_allow(lc, &f, 40));
	lc->now_ms += 60000; /* idle for long: a one-second burst, no more */
	for (unsigned i = 0; i < RATE; i++)
		assert_true(dp_amp_tx_allow(lc, &f, 40));
	assert_false(dp_amp_tx_allow(lc, &f, 40));
	assert_int_equal(ctr()->amp_rate_drops, drops + 3);
	/* Larger than the request: dropped whatever the tokens. */
	lc->now_ms += 60000;
	uint64_t bd = ctr()->amp_budget_drops;
	assert_false(dp_amp_tx_allow(lc, &f, 1001));
	assert_int_equal(ctr()->amp_budget_drops, bd + 1);
	/* A verified flow is never limited. */
	struct dp_flow v = {.src_ip = dp_ip4(OTHER_IP), .amp_budget = 0};
	for (unsigned i = 0; i < 10 * RATE; i++)
		assert_true(dp_amp_tx_allow(lc, &v, 1500));
	T.now = lc->now_ms;
}

/* --- the per-opcode rule and the backstop agree ----------------------------- */

static bool unbounded(uint8_t op)
{
	return op == WEFT_OP_GET || op == WEFT_OP_MULTI_GET || op == WEFT_OP_STATS ||
	       op == WEFT_OP_FETCH || op == WEFT_OP_MEMBERS || op == WEFT_OP_TOPOLOGY ||
	       op == WEFT_OP_RECEIVE || op == WEFT_OP_DESTINATIONS || op == WEFT_OP_APPS ||
	       op == WEFT_OP_SESSION;
}

static void test_rule_and_backstop_agree(void **state)
{
	(void)state;
	struct dp_lcore *lc = &T.fp.dp->lc[0];
	static const uint32_t budgets[] = {40, 47, 48, 55, 56, 57, 63, 64, 100, 1408, 70000};
	uint64_t bd = ctr()->amp_budget_drops;
	for (unsigned op = 0; op < WEFT_OP__COUNT; op++) {
		uint32_t max = dp_amp_answer_max((uint8_t)op);
		assert_int_equal(max == UINT32_MAX, unbounded((uint8_t)op));
		for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
			struct dp_req r;
			memset(&r, 0, sizeof(r));
			r.hdr.opcode = (uint8_t)op;
			r.flow.amp_budget = budgets[i];
			if (dp_amp_needs_cookie(&r)) {
				/* its COOKIE answer: 56 bytes to a request that had a
				 * cookie trailer (so at least 56), else 40 */
				uint32_t cookie_ans = budgets[i] >= HDR + WEFT_COOKIE_LEN
							      ? HDR + WEFT_COOKIE_LEN : HDR;
				assert_true(dp_amp_fits(lc, &r.flow, cookie_ans));
			} else {
				/* let through: its largest answer, and any error
				 * (a bare header), pass the backstop */
				assert_false(unbounded((uint8_t)op));
				assert_true(dp_amp_fits(lc, &r.flow, (uint64_t)HDR + max));
				assert_true(dp_amp_fits(lc, &r.flow, HDR));
			}
			r.flow.amp_budget = 0; /* verified: nothing needs a cookie */
			assert_false(dp_amp_needs_cookie(&r));
		}
	}
	assert_int_equal(ctr()->amp_budget_drops, bd);
	assert_int_equal(dp_amp_answer_max(0xee), UINT32_MAX); /* an op added later: unbounded */
}

/* The backstop itself: an answer the rule would never let through. */
static void test_backstop_drops_long_answers(void **state)
{
	(void)state;
	next_second();
	struct dp_lcore *lc = &T.fp.dp->lc[0];
	lc->now_ms = T.now;
	struct dp_req r;
	memset(&r, 0, sizeof(r));
	r.hdr.magic = WEFT_WIRE_MAGIC;
	r.hdr.version = WEFT_WIRE_VERSION;
	r.hdr.opcode = WEFT_OP_GET;
	r.hdr.request_id = ++T.rid;
	memcpy(r.flow.src_mac, CLIENT_MAC, 6);
	r.flow.src_ip = dp_ip4(CLIENT_IP);
	r.flow.dst_ip = dp_ip4(NODE_IP);
	r.flow.src_port = rte_cpu_to_be_16(CLIENT_PORT);
	r.flow.dst_port = rte_cpu_to_be_16(NODE_PORT);
	r.flow.amp_budget = 60;
	static uint8_t big[5000];
	struct weft_x_version xv = {1};
	uint64_t bd = ctr()->amp_budget_drops, kept = ctr()->long_responses;
	dp_answer(lc, &r, WEFT_ST_OK, &xv, 8, big, sizeof(big)); /* long: kept, FETCHed */
	dp_answer(lc, &r, WEFT_ST_OK, &xv, 8, big, 13);          /* 61 bytes: one too many */
	dp_answer(lc, &r, WEFT_ST_OK, &xv, 8, big, 12);          /* 60 bytes: fits */
	dp_tx_flush(lc);
	struct ans a[4];
	struct rte_mbuf *m[MAXF];
	unsigned got = rte_ring_dequeue_burst(T.fp.tx, (void **)m, MAXF, NULL);
	assert_int_equal(got, 1);
	memcpy(&a[0].h, rte_pktmbuf_mtod(m[0], const uint8_t *) + 42, HDR);
	assert_int_equal(a[0].h.msg_len, 20);
	assert_int_equal(a[0].h.extras_len, 8);
	rte_pktmbuf_free(m[0]);
	assert_int_equal(ctr()->amp_budget_drops, bd + 2);
	assert_int_equal(ctr()->long_responses, kept); /* nothing kept for FETCH */
	/* The same answers to a verified source all go. */
	r.flow.amp_budget = 0;
	dp_answer(lc, &r, WEFT_ST_OK, &xv, 8, big, 13);
	dp_tx_flush(lc);
	got = rte_ring_dequeue_burst(T.fp.tx, (void **)m, MAXF, NULL);
	assert_int_equal(got, 1);
	rte_pktmbuf_free(m[0]);
}

/* --- on the fake port ------------------------------------------------------- */

static const char VALUE_BYTE = 'v';

static void test_get_cookie_round_trip(void **state)
{
	(void)state;
	next_second();
	static uint8_t buf[1500];
	struct ans a[MAXF];
	/* A PUT needs no cookie (a 48-byte answer to a larger request); this
	 * one fits a datagram. */
	static uint8_t val[1200];
	memset(val, VALUE_BYTE, sizeof(val));
	struct weft_x_write x = {0, 0};
	uint32_t len = build(buf, WEFT_OP_PUT, 0, "amp", "big", 3, &x, sizeof(x), val, sizeof(val),
			     NULL);
	one(CLIENT_IP, buf, len, &a[0]);
	assert_int_equal(a[0].h.status, WEFT_ST_OK);
	assert_int_equal(a[0].bytes, HDR + 8);
	uint64_t sent = ctr()->cookies_sent, valid = ctr()->cookies_valid;
	/* GET with F_COOKIE and no cookie yet: a 56-byte COOKIE carrying one. */
	len = build(buf, WEFT_OP_GET, WEFT_F_COOKIE, "amp", "big", 3, NULL, 0, NULL, 0, NULL);
	one(CLIENT_IP, buf, len, &a[0]);
	assert_int_equal(a[0].h.status, WEFT_ST_COOKIE);
	assert_int_equal(a[0].h.flags, WEFT_F_RESPONSE | WEFT_F_COOKIE);
	assert_int_equal(a[0].h.msg_len, 0);
	assert_int_equal(a[0].bytes, HDR + WEFT_COOKIE_LEN);
	assert_true(a[0].bytes <= len);
	assert_int_equal(a[0].h.request_id, T.rid);
	uint8_t cookie[WEFT_COOKIE_LEN];
	memcpy(cookie, a[0].d + HDR, sizeof(cookie));
	/* Without F_COOKIE: a bare 40-byte COOKIE. */
	len = build(buf, WEFT_OP_GET, 0, "amp", "big", 3, NULL, 0, NULL, 0, NULL);
	one(CLIENT_IP, buf, len, &a[0]);
	assert_int_equal(a[0].h.status, WEFT_ST_COOKIE);
	assert_int_equal(a[0].h.flags, WEFT_F_RESPONSE);
	assert_int_equal(a[0].bytes, HDR);
	/* F_COOKIE on a datagram with no room for the trailer: bare too. */
	uint64_t bd = ctr()->amp_budget_drops;
	len = build(buf, WEFT_OP_STATS, 0, NULL, NULL, 0, NULL, 0, NULL, 0, NULL);
	buf[offsetof(struct weft_wire_hdr, flags)] |= WEFT_F_COOKIE;
	one(CLIENT_IP, buf, len, &a[0]);
	assert_int_equal(len, HDR);
	assert_int_equal(a[0].h.status, WEFT_ST_COOKIE);
	assert_int_equal(a[0].bytes, HDR);
	assert_int_equal(ctr()->amp_budget_drops, bd);
	assert_int_equal(ctr()->cookies_sent, sent + 3);
	/* With the cookie: the value. */
	len = build(buf, WEFT_OP_GET, WEFT_F_COOKIE, "amp", "big", 3, NULL, 0, NULL, 0, cookie);
	one(CLIENT_IP, buf, len, &a[0]);
	assert_int_equal(a[0].h.status, WEFT_ST_OK);
	assert_int_equal(a[0].h.msg_len, 8 + sizeof(val));
	assert_int_equal(a[0].bytes, HDR + 8 + sizeof(val));
	assert_memory_equal(a[0].d + HDR + 8, val, sizeof(val));
	assert_int_equal(ctr()->cookies_valid, valid + 1);
	/* A cookie keeps working for the whole window after. */
	T.now += WEFT_COOKIE_VALID_MS;
	len = build(buf, WEFT_OP_GET, WEFT_F_COOKIE, "amp", "big", 3, NULL, 0, NULL, 0, cookie);
	one(CLIENT_IP, buf, len, &a[0]);
	assert_int_equal(a[0].h.status, WEFT_ST_OK);
}

static void test_big_value_needs_the_cookie(void **state)
{
	(void)state;
	next_second();
	static uint8_t buf[1500];
	struct ans a[MAXF];
	/* A 100 KiB value put by a verified client (fetch a cookie first). */
	uint32_t len = build(buf, WEFT_OP_STATS, WEFT_F_COOKIE, NULL, NULL, 0, NULL, 0, NULL, 0,
			     NULL);
	one(CLIENT_IP, buf, len, &a[0]);
	assert_int_equal(a[0].h.status, WEFT_ST_COOKIE);
	uint8_t cookie[WEFT_COOKIE_LEN];
	memcpy(cookie, a[0].d + HDR, sizeof(cookie));
	struct weft_cache_opts o = {.mode = WEFT_MODE_LOCAL};
	struct weft_cache *c = weft_cache_open(T.fp.reg, "amp", 3, &o, NULL);
	assert_non_null(c);
	size_t vl = 100u << 10;
	uint8_t *v = malloc(vl);
	assert_non_null(v);
	memset(v, 'z', vl);
	struct weft_cache_key k = {.data = (const uint8_t *)"huge", .len = 4,
				   .hash = weft_cache_hash("huge", 4)};
	struct weft_cache_write w = {0, 0};
	assert_int_equal(weft_cache_put(c, &k, v, vl, WEFT_CACHE_PUT, 0, &w, T.now, NULL), 0);
	free(v);
	/* A spoofed GET of it: 56 bytes back, never the value. */
	uint64_t bd = ctr()->amp_budget_drops, kept = ctr()->long_responses;
	len = build(buf, WEFT_OP_GET, WEFT_F_COOKIE, "amp", "huge", 4, NULL, 0, NULL, 0, NULL);
	one(OTHER_IP, buf, len, &a[0]);
	assert_int_equal(a[0].h.status, WEFT_ST_COOKIE);
	assert_int_equal(a[0].bytes, HDR + WEFT_COOKIE_LEN);
	assert_int_equal(ctr()->long_responses, kept);
	/* A forged cookie (random bytes; another address's) is refused. */
	uint64_t inval = ctr()->cookies_invalid;
	uint8_t forged[WEFT_COOKIE_LEN];
	for (unsigned i = 0; i < sizeof(forged); i++)
		forged[i] = (uint8_t)(i * 37 + 11);
	len = build(buf, WEFT_OP_GET, WEFT_F_COOKIE, "amp", "huge", 4, NULL, 0, NULL, 0, forged);
	one(OTHER_IP, buf, len, &a[0]);
	assert_int_equal(a[0].h.status, WEFT_ST_COOKIE);
	len = build(buf, WEFT_OP_GET, WEFT_F_COOKIE, "amp", "huge", 4, NULL, 0, NULL, 0, cookie);
	one(OTHER_IP, buf, len, &a[0]);
	assert_int_equal(a[0].h.status, WEFT_ST_COOKIE);
	assert_int_equal(a[0].bytes, HDR + WEFT_COOKIE_LEN);
	assert_int_equal(ctr()->cookies_invalid, inval + 2);
	assert_int_equal(ctr()->long_responses, kept);
	/* The client whose cookie it is gets the value's first window. */
	len = build(buf, WEFT_OP_GET, WEFT_F_COOKIE, "amp", "huge", 4, NULL, 0, NULL, 0, cookie);
	push_from(CLIENT_IP, buf, len);
	unsigned n = poll_node(a, MAXF);
	assert_int_equal(n, WEFT_RESP_INITIAL_WINDOW);
	assert_int_equal(a[0].h.status, WEFT_ST_OK);
	assert_int_equal(a[0].h.msg_len, 8 + vl);
	assert_int_equal(ctr()->long_responses, kept + 1);
	/* Its FETCH needs the cookie too: without, 56 bytes; with, pieces. */
	struct weft_x_fetch fx = {.offset = WEFT_RESP_INITIAL_WINDOW * WEFT_MAX_DGRAM_PAYLOAD,
				  .count = 2};
	struct weft_wire_hdr gh;
	memcpy(&gh, buf, sizeof(gh));
	len = build(buf, WEFT_OP_FETCH, WEFT_F_COOKIE, NULL, NULL, 0, &fx, sizeof(fx), NULL, 0,
		    NULL);
	struct weft_wire_hdr fh;
	memcpy(&fh, buf, sizeof(fh));
	fh.request_id = gh.request_id; /* a FETCH names the GET it continues */
	memcpy(buf, &fh, sizeof(fh));
	one(CLIENT_IP, buf, len, &a[0]);
	assert_int_equal(a[0].h.status, WEFT_ST_COOKIE);
	len = build(buf, WEFT_OP_FETCH, WEFT_F_COOKIE, NULL, NULL, 0, &fx, sizeof(fx), NULL, 0,
		    cookie);
	memcpy(&fh, buf, sizeof(fh));
	fh.request_id = gh.request_id;
	memcpy(buf, &fh, sizeof(fh));
	push_from(CLIENT_IP, buf, len);
	assert_int_equal(poll_node(a, MAXF), 2);
	assert_int_equal(a[0].h.frag_offset, fx.offset);
	assert_int_equal(ctr()->amp_budget_drops, bd);
}

/* Every op whose answer can outgrow its request is answered COOKIE, before
 * any side effect, and the answer is never larger than the request. */
static void test_unbounded_ops_are_cookied(void **state)
{
	(void)state;
	static uint8_t buf[1500];
	struct ans a[MAXF];
	uint8_t mget[5] = {1, 0, 1, 0, 'k'};
	struct weft_x_fetch fx = {0, 1};
	struct weft_x_receive rx = {.consumer_id = 7, .wait_ms = 1000, .max = 1};
	struct weft_x_session sx = {.action = WEFT_SESS_GET};
	const struct {
		uint8_t op;
		const char *name;
		const char *key;
		const void *x;
		uint16_t xl;
		const void *v;
		uint32_t vl;
	} ops[] = {
		{WEFT_OP_GET, "fresh", "k", NULL, 0, NULL, 0},
		{WEFT_OP_MULTI_GET, "fresh", "", NULL, 0, mget, sizeof(mget)},
		{WEFT_OP_STATS, NULL, "", NULL, 0, NULL, 0},
		{WEFT_OP_MEMBERS, NULL, "", NULL, 0, NULL, 0},
		{WEFT_OP_TOPOLOGY, NULL, "", NULL, 0, NULL, 0},
		{WEFT_OP_APPS, NULL, "", NULL, 0, NULL, 0},
		{WEFT_OP_DESTINATIONS, NULL, "", NULL, 0, NULL, 0},
		{WEFT_OP_FETCH, NULL, "", &fx, sizeof(fx), NULL, 0},
		{WEFT_OP_RECEIVE, "/queue/amp", "", &rx, sizeof(rx), NULL, 0},
		{WEFT_OP_SESSION, WEFT_SESSION_STORE, "0123456789abcdef", &sx,
		 sizeof(sx), "attr", 4},
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		next_second();
		for (int with = 0; with < 2; with++) {
			uint64_t parked = ctr()->msg_parked;
			uint32_t len = build(buf, ops[i].op, with ? WEFT_F_COOKIE : 0, ops[i].name,
					     ops[i].key, (uint16_t)strlen(ops[i].key), ops[i].x,
					     ops[i].xl, ops[i].v, ops[i].vl, NULL);
			one(OTHER_IP, buf, len, &a[0]);
			assert_int_equal(a[0].h.opcode, ops[i].op);
			assert_int_equal(a[0].h.status, WEFT_ST_COOKIE);
			assert_true(a[0].bytes <= len);
			assert_int_equal(a[0].bytes, with ? HDR + WEFT_COOKIE_LEN : HDR);
			assert_int_equal(ctr()->msg_parked, parked);
		}
	}
	/* No side effect: the GET did not create its cache. */
	assert_null(weft_cache_find(T.fp.reg, "fresh", 5));
	assert_null(weft_cache_find(T.fp.reg, WEFT_SESSION_STORE, strlen(WEFT_SESSION_STORE)));
}

/* Ops let through unverified (their answers are bounded and no larger than
 * their smallest request) are served, and the backstop never fires. */
static void test_bounded_ops_are_served(void **state)
{
	(void)state;
	static uint8_t buf[1500];
	struct ans a[MAXF];
	struct weft_x_write xw = {0, 0};
	struct weft_x_cas xc = {0, 0, 0};
	struct weft_x_incr xi = {1, 0};
	struct weft_x_cache_opts xo = {.mode = WEFT_MODE_DEFAULT};
	struct weft_x_dest_opts xd = {0};
	struct weft_x_publish xp = {0, 0, 0};
	struct weft_x_unsubscribe xu = {7};
	struct weft_x_fenced_write xf;
	memset(&xf, 0, sizeof(xf));
	xf.singleton_len = 3;
	memcpy(xf.singleton, "a/b", 3);
	uint8_t ack_v[8] = {1};
	struct weft_x_ack xa = {.consumer_id = 7, .kind = 0, .count = 1};
	const struct {
		uint8_t op;
		const char *name;
		const char *key;
		const void *x;
		uint16_t xl;
		const void *v;
		uint32_t vl;
	} ops[] = {
		{WEFT_OP_PING, NULL, "", NULL, 0, NULL, 0},
		{WEFT_OP_PUT, "b", "k", &xw, sizeof(xw), NULL, 0},
		{WEFT_OP_PUT_IF_ABSENT, "b", "k", &xw, sizeof(xw), NULL, 0},
		{WEFT_OP_REPLACE, "b", "k", &xw, sizeof(xw), NULL, 0},
		{WEFT_OP_CAS, "b", "k", &xc, sizeof(xc), NULL, 0},
		{WEFT_OP_TOUCH, "b", "k", &xw, sizeof(xw), NULL, 0},
		{WEFT_OP_DELETE, "b", "k", NULL, 0, NULL, 0},
		{WEFT_OP_PUT, "b", "n", &xw, sizeof(xw), "1", 1},
		{WEFT_OP_INCR, "b", "n", &xi, sizeof(xi), NULL, 0},
		{WEFT_OP_PUT_FENCED, "b", "k", &xf, sizeof(xf), NULL, 0},
		{WEFT_OP_CACHE_OPEN, "c", "", &xo, sizeof(xo), NULL, 0},
		{WEFT_OP_DEST_OPEN, "/queue/q", "", &xd, sizeof(xd), NULL, 0},
		{WEFT_OP_PUBLISH, "/queue/q", "", &xp, sizeof(xp), "m", 1},
		{WEFT_OP_ACK, "/queue/q", "", &xa, sizeof(xa), ack_v, sizeof(ack_v)},
		{WEFT_OP_UNSUBSCRIBE, "/queue/q", "", &xu, sizeof(xu), NULL, 0},
		{WEFT_OP_DEST_STOP, "/queue/q", "", NULL, 0, NULL, 0},
	};
	uint64_t bd = ctr()->amp_budget_drops, sent = ctr()->cookies_sent, piggybacked = 0;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		next_second();
		for (int with = 0; with < 2; with++) {
			uint32_t len = build(buf, ops[i].op, with ? WEFT_F_COOKIE : 0, ops[i].name,
					     ops[i].key, (uint16_t)strlen(ops[i].key), ops[i].x,
					     ops[i].xl, ops[i].v, ops[i].vl, NULL);
			one(OTHER_IP, buf, len, &a[0]);
			assert_int_equal(a[0].h.opcode, ops[i].op);
			assert_int_not_equal(a[0].h.status, WEFT_ST_COOKIE);
			assert_true(a[0].bytes <= len);
			/* A request with F_COOKIE (zeros) gets a valid cookie on
			 * any answer with room for one within its size, so a
			 * client that only writes is verified from then on. */
			if (!with) {
				assert_false(a[0].h.flags & WEFT_F_COOKIE);
				continue;
			}
			uint32_t plain = HDR + a[0].h.msg_len;
			if (plain + WEFT_COOKIE_LEN <= len) {
				assert_true(a[0].h.flags & WEFT_F_COOKIE);
				assert_int_equal(a[0].bytes, plain + WEFT_COOKIE_LEN);
				assert_true(dp_amp_cookie_ok(&T.fp.dp->lc[0], dp_ip4(OTHER_IP),
							     a[0].d + plain));
				piggybacked++;
			} else {
				assert_false(a[0].h.flags & WEFT_F_COOKIE);
			}
		}
	}
	assert_true(piggybacked > 0);
	assert_int_equal(ctr()->amp_budget_drops, bd);
	assert_int_equal(ctr()->cookies_sent, sent + piggybacked);
}

static void test_replies_are_rate_limited(void **state)
{
	(void)state;
	next_second();
	static uint8_t buf[64];
	struct ans a[MAXF];
	uint64_t drops = ctr()->amp_rate_drops;
	for (unsigned i = 0; i < 2 * RATE; i++) {
		uint32_t len = build(buf, WEFT_OP_PING, 0, NULL, NULL, 0, NULL, 0, NULL, 0, NULL);
		push_from(OTHER_IP, buf, len);
	}
	assert_int_equal(poll_node(a, MAXF), RATE);
	assert_int_equal(ctr()->amp_rate_drops, drops + RATE);
	/* A verified client from the same address is not limited. */
	uint8_t cookie[WEFT_COOKIE_LEN];
	struct dp_lcore *lc = &T.fp.dp->lc[0];
	lc->now_ms = T.now;
	dp_amp_mint(lc, dp_ip4(OTHER_IP), cookie);
	for (unsigned i = 0; i < 2 * RATE; i++) {
		uint32_t len = build(buf, WEFT_OP_PING, WEFT_F_COOKIE, NULL, NULL, 0, NULL, 0, NULL,
				     0, cookie);
		push_from(OTHER_IP, buf, len);
	}
	assert_int_equal(poll_node(a, MAXF), 2 * RATE);
	/* STATS shows the counters. */
	size_t need = weft_dp_stats_format(T.fp.dp, NULL, 0) + 1;
	char *text = malloc(need);
	assert_non_null(text);
	weft_dp_stats_format(T.fp.dp, text, need);
	assert_non_null(strstr(text, "total.amp_rate_drops "));
	assert_non_null(strstr(text, "total.cookies_sent "));
	assert_non_null(strstr(text, "total.amp_budget_drops "));
	free(text);
}

static int setup(void **state)
{
	*state = &T.fp;
	T.now = 1000000;
	struct weft_dp_config cfg = dp_fakeport_config(NODE_IP, NODE_PORT, &T.now);
	cfg.unverified_reply_rate = RATE;
	return dp_fakeport_open(&T.fp, "test_dp_amp", 1024, 1024, 2047, &cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_mint_verify_rotation),
		cmocka_unit_test(test_exempt_sources),
		cmocka_unit_test(test_rate_limiter),
		cmocka_unit_test(test_rule_and_backstop_agree),
		cmocka_unit_test(test_backstop_drops_long_answers),
		cmocka_unit_test(test_get_cookie_round_trip),
		cmocka_unit_test(test_big_value_needs_the_cookie),
		cmocka_unit_test(test_unbounded_ops_are_cookied),
		cmocka_unit_test(test_bounded_ops_are_served),
		cmocka_unit_test(test_replies_are_rate_limited),
	};
	return cmocka_run_group_tests(tests, setup, dp_fakeport_teardown);
}
