/*
 * test_dp_auth.c — the dataplane's authentication hooks (dp_auth.c) on the
 * real worker code and the fake port (dp_node.h), a node with a cluster
 * key (MAC) and a client key:
 *  - a client request without a trailer, or sealed with another client
 *    key, is answered UNAUTHORIZED (a bare 40-byte header) and counted;
 *    one sealed with the client key is served and its answer is sealed
 *    with the client key;
 *  - a node request (F_NODE, or from another node's in-node clients: the
 *    data port + 2) without a trailer, sealed with the client
 *    key, outside the replay window or with one bit flipped, gets no
 *    answer and is counted per reason; sealed with the cluster key it is
 *    served (a forwarded PUT stores its value) and answered sealed;
 *  - the cluster channel seals what weft_dp_ctl_send sends (a membership
 *    datagram: RAW framing) and weft_dp_ctl_recv returns only datagrams
 *    that verify, stripped;
 *  - an in-node client's request to another node leaves sealed with the
 *    cluster key, and only a verified answer reaches it.
 * Requests carry the node's cookie first (dp_fakeport_cookie), then the
 * trailer: the order wire.h prescribes.
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

#include "dp_node.h"
#include "sec.h"

static const uint8_t NODE_IP[4] = {10, 216, 0, 2};
static const uint8_t PEER_IP[4] = {10, 216, 0, 3};
static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x03};
#define NODE_PORT 7700u
#define CTL_PORT 7701u
#define CLIENT_PORT 41000u
#define HDR ((uint32_t)sizeof(struct weft_wire_hdr))

static struct dp_node N;
static struct weft_sec_key cluster, client, other;
static struct weft_sec_tx tx;
static uint16_t src_port = CLIENT_PORT; /* of the requests push() makes */

static struct dp_counters *ctr(void)
{
	return &N.fp.dp->lc[0].c;
}

/* seal_with: NULL (no trailer) or the key; sent_ms 0: now. flip: a byte of
 * the sealed UDP payload to corrupt (-1: none). */
static void push(uint8_t flags, uint8_t op, const char *name, const char *key,
		 const void *extras, uint16_t xl, const char *value,
		 const struct weft_sec_key *seal_with, uint64_t sent_ms, int flip)
{
	uint8_t d[1472];
	size_t nl = name ? strlen(name) : 0, kl = key ? strlen(key) : 0;
	size_t vl = value ? strlen(value) : 0;
	struct weft_wire_hdr h = {.magic = WEFT_WIRE_MAGIC, .version = WEFT_WIRE_VERSION,
				  .opcode = op, .flags = flags, .name_len = (uint8_t)nl,
				  .key_len = (uint16_t)kl, .extras_len = xl, .client_id = 0xc11e,
				  .request_id = ++N.rid, .msg_len = (uint32_t)(nl + kl + xl + vl)};
	memcpy(d, &h, HDR);
	uint8_t *w = d + HDR;
	if (nl)
		memcpy(w, name, nl);
	if (kl)
		memcpy(w + nl, key, kl);
	if (xl)
		memcpy(w + nl + kl, extras, xl);
	if (vl)
		memcpy(w + nl + kl + xl, value, vl);
	uint32_t len = HDR + h.msg_len;
	uint8_t f[1600];
	uint32_t fl = frame_udp(f, N.fp.node_mac, PEER_MAC, PEER_IP, N.ip, src_port, N.port, 0,
				d, len);
	struct rte_mbuf *m = rte_pktmbuf_alloc(N.fp.pool);
	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)fl), f, fl);
	dp_fakeport_cookie(&N.fp, m); /* cookie first, then the trailer */
	if (seal_with != NULL) {
		uint32_t ulen = m->data_len - DP_HDRS_LEN;
		assert_non_null(rte_pktmbuf_append(m, WEFT_SEC_TRAILER_LEN));
		uint8_t *fr = rte_pktmbuf_mtod(m, uint8_t *);
		size_t sealed = weft_sec_seal(seal_with, &tx, sent_ms ? sent_ms : weft_sec_now_ms(),
					      true, fr + DP_HDRS_LEN, ulen);
		if (flip >= 0)
			fr[DP_HDRS_LEN + (size_t)flip % sealed] ^= 0x01;
		uint8_t *ip = fr + DP_ETH_HLEN;
		wr16(ip + 2, (uint16_t)(DP_IP_HLEN + DP_UDP_HLEN + sealed));
		dp_ipv4_finish(ip);
		wr16(ip + DP_IP_HLEN + 4, (uint16_t)(DP_UDP_HLEN + sealed));
	}
	assert_int_equal(rte_ring_enqueue(N.fp.rx, m), 0);
}

/* Polls once: how many frames the node sent (in m/s). */
static unsigned poll_node(struct rte_mbuf **m, struct sent *s)
{
	return dp_poll(&N, m, s);
}

/* Opens the answer s (in m) with key (kind's slot); returns its status. */
static uint16_t open_answer(struct rte_mbuf *m, const struct weft_sec_key *key)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	size_t len = m->data_len - DP_HDRS_LEN, plain;
	uint8_t kind;
	struct weft_wire_hdr h;
	memcpy(&h, f + DP_HDRS_LEN, HDR);
	assert_true(h.flags & WEFT_F_AUTH);
	assert_int_equal(weft_sec_open(key->kind == WEFT_AUTH_CLUSTER ? key : NULL,
				       key->kind == WEFT_AUTH_CLIENT ? key : NULL,
				       weft_sec_now_ms(), true, f + DP_HDRS_LEN, len, &plain,
				       &kind),
			 WEFT_SEC_OK);
	assert_int_equal(kind, key->kind);
	memcpy(&h, f + DP_HDRS_LEN, HDR);
	return h.status;
}

static void test_client_without_key_unauthorized(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	uint64_t una = ctr()->auth_unauthorized, miss = ctr()->auth_refused[WEFT_SEC_MISSING];
	push(0, WEFT_OP_GET, "c", "k", NULL, 0, NULL, NULL, 0, -1);
	unsigned k = poll_node(m, s);
	assert_int_equal(k, 1);
	assert_int_equal(s[0].h.status, WEFT_ST_UNAUTHORIZED);
	assert_int_equal(s[0].h.flags, WEFT_F_RESPONSE); /* unsealed, no cookie */
	assert_int_equal(m[0]->data_len, DP_HDRS_LEN + HDR);
	assert_int_equal(ctr()->auth_unauthorized, una + 1);
	assert_int_equal(ctr()->auth_refused[WEFT_SEC_MISSING], miss + 1);
	dp_free_all(m, k);
	/* another client key: key_id */
	uint64_t kid = ctr()->auth_refused[WEFT_SEC_KEY_ID];
	push(0, WEFT_OP_PING, NULL, NULL, NULL, 0, NULL, &other, 0, -1);
	k = poll_node(m, s);
	assert_int_equal(k, 1);
	assert_int_equal(s[0].h.status, WEFT_ST_UNAUTHORIZED);
	assert_int_equal(ctr()->auth_refused[WEFT_SEC_KEY_ID], kid + 1);
	dp_free_all(m, k);
}

static void test_client_with_key_served_and_sealed(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	push(0, WEFT_OP_PING, NULL, NULL, NULL, 0, NULL, &client, 0, -1);
	unsigned k = poll_node(m, s);
	assert_int_equal(k, 1);
	assert_int_equal(open_answer(m[0], &client), WEFT_ST_OK);
	dp_free_all(m, k);
}

static void test_node_requests_need_the_cluster_key(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	const uint64_t *r = ctr()->auth_refused;
	uint64_t before[WEFT_SEC__COUNT];
	memcpy(before, r, sizeof(before));
	uint64_t una = ctr()->auth_unauthorized;
	push(WEFT_F_NODE, WEFT_OP_PING, NULL, NULL, NULL, 0, NULL, NULL, 0, -1);
	push(WEFT_F_NODE, WEFT_OP_PING, NULL, NULL, NULL, 0, NULL, &client, 0, -1);
	push(WEFT_F_NODE, WEFT_OP_PING, NULL, NULL, NULL, 0, NULL, &cluster,
	     weft_sec_now_ms() - WEFT_AUTH_WINDOW_MS - 5000, -1);
	push(WEFT_F_NODE, WEFT_OP_PING, NULL, NULL, NULL, 0, NULL, &cluster, 0, 20);
	assert_int_equal(poll_node(m, s), 0); /* refused node datagrams get no answer */
	assert_int_equal(r[WEFT_SEC_MISSING], before[WEFT_SEC_MISSING] + 1);
	assert_int_equal(r[WEFT_SEC_KIND], before[WEFT_SEC_KIND] + 1);
	assert_int_equal(r[WEFT_SEC_WINDOW], before[WEFT_SEC_WINDOW] + 1);
	assert_int_equal(r[WEFT_SEC_BAD_TAG], before[WEFT_SEC_BAD_TAG] + 1);
	assert_int_equal(ctr()->auth_unauthorized, una);
	/* from another node's in-node clients (data port + 2): node traffic too */
	src_port = NODE_PORT + 2;
	push(0, WEFT_OP_PING, NULL, NULL, NULL, 0, NULL, NULL, 0, -1);
	assert_int_equal(poll_node(m, s), 0);
	assert_int_equal(r[WEFT_SEC_MISSING], before[WEFT_SEC_MISSING] + 2);
	push(0, WEFT_OP_PING, NULL, NULL, NULL, 0, NULL, &cluster, 0, -1);
	unsigned k = poll_node(m, s);
	assert_int_equal(k, 1);
	assert_int_equal(open_answer(m[0], &cluster), WEFT_ST_OK);
	dp_free_all(m, k);
	src_port = CLIENT_PORT;
	/* sealed with the cluster key: a forwarded PUT is stored, answered sealed */
	struct weft_x_write wx = {0};
	push(WEFT_F_NODE, WEFT_OP_PUT, "fwd", "key", &wx, sizeof(wx), "value", &cluster, 0, -1);
	k = poll_node(m, s);
	assert_int_equal(k, 1);
	assert_int_equal(open_answer(m[0], &cluster), WEFT_ST_OK);
	dp_free_all(m, k);
	push(0, WEFT_OP_GET, "fwd", "key", NULL, 0, NULL, &client, 0, -1);
	k = poll_node(m, s);
	assert_int_equal(k, 1);
	assert_int_equal(open_answer(m[0], &client), WEFT_ST_OK);
	const uint8_t *v = rte_pktmbuf_mtod(m[0], const uint8_t *) + DP_HDRS_LEN + HDR +
			   sizeof(struct weft_x_version);
	assert_memory_equal(v, "value", 5);
	dp_free_all(m, k);
}

static void test_cluster_channel(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	dp_learn(&N, PEER_MAC, PEER_IP);
	/* send: a membership datagram leaves sealed (RAW framing) */
	const char wm[] = "WM\x01\x01-a-membership-datagram";
	assert_int_equal(weft_dp_ctl_send(N.fp.dp, dp_ip4(PEER_IP), CTL_PORT, wm, sizeof(wm)), 0);
	unsigned k = poll_node(m, s);
	assert_int_equal(k, 1);
	uint8_t *f = rte_pktmbuf_mtod(m[0], uint8_t *);
	size_t len = m[0]->data_len - DP_HDRS_LEN, plain;
	uint8_t kind;
	assert_int_equal(len, sizeof(wm) + WEFT_SEC_TRAILER_LEN);
	assert_int_equal(weft_sec_open(&cluster, NULL, weft_sec_now_ms(), false, f + DP_HDRS_LEN,
				       len, &plain, &kind),
			 WEFT_SEC_OK);
	assert_memory_equal(f + DP_HDRS_LEN, wm, sizeof(wm));
	dp_free_all(m, k);
	/* receive: an unsealed datagram is refused, a sealed one comes stripped */
	uint8_t d[256];
	memcpy(d, wm, sizeof(wm));
	uint8_t fr[512];
	uint32_t fl = frame_udp(fr, N.fp.node_mac, PEER_MAC, PEER_IP, N.ip, CTL_PORT, CTL_PORT, 0,
				d, sizeof(wm));
	struct rte_mbuf *in = rte_pktmbuf_alloc(N.fp.pool);
	memcpy(rte_pktmbuf_append(in, (uint16_t)fl), fr, fl);
	assert_int_equal(rte_ring_enqueue(N.fp.rx, in), 0);
	size_t sl = weft_sec_seal(&cluster, &tx, weft_sec_now_ms(), false, d, sizeof(wm));
	fl = frame_udp(fr, N.fp.node_mac, PEER_MAC, PEER_IP, N.ip, CTL_PORT, CTL_PORT, 0, d,
		       (uint32_t)sl);
	in = rte_pktmbuf_alloc(N.fp.pool);
	memcpy(rte_pktmbuf_append(in, (uint16_t)fl), fr, fl);
	assert_int_equal(rte_ring_enqueue(N.fp.rx, in), 0);
	dp_free_all(m, poll_node(m, s)); /* the lcore hands both to the channel */
	uint64_t miss = N.fp.dp->auth->ctl_refused[WEFT_SEC_MISSING];
	struct weft_dp_datagram out[4];
	unsigned n = weft_dp_ctl_recv(N.fp.dp, N.now, out, 4);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].len, sizeof(wm));
	assert_memory_equal(out[0].payload, wm, sizeof(wm));
	assert_int_equal(N.fp.dp->auth->ctl_refused[WEFT_SEC_MISSING], miss + 1);
}

/* An in-node client's request to another node leaves sealed with the node
 * (cluster) key; the peer's answer reaches the client only if it verifies,
 * and stripped. */
static void test_in_node_client(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	dp_learn(&N, PEER_MAC, PEER_IP);
	struct weft_dp_local *l = weft_dp_local_open(N.fp.dp, 0x10ca1);
	assert_non_null(l);
	struct weft_wire_hdr h = {.magic = WEFT_WIRE_MAGIC, .version = WEFT_WIRE_VERSION,
				  .opcode = WEFT_OP_PING, .client_id = 0x10ca1, .request_id = 5};
	assert_int_equal(weft_dp_local_send(l, dp_ip4(PEER_IP), rte_cpu_to_be_16(NODE_PORT), &h,
					    HDR),
			 0);
	unsigned k = poll_node(m, s);
	assert_int_equal(k, 1);
	assert_int_equal(open_answer(m[0], &cluster), WEFT_ST_OK); /* a request: status 0 */
	dp_free_all(m, k);
	/* the peer's answers to bind_ip:NODE_PORT + 2: unsealed, then sealed */
	struct weft_wire_hdr a = h;
	a.flags = WEFT_F_RESPONSE;
	uint8_t d[256], fr[512];
	for (int sealed = 0; sealed < 2; sealed++) {
		memcpy(d, &a, HDR);
		size_t len = sealed ? weft_sec_seal(&cluster, &tx, weft_sec_now_ms(), true, d, HDR)
				    : HDR;
		uint32_t fl = frame_udp(fr, N.fp.node_mac, PEER_MAC, PEER_IP, N.ip, NODE_PORT,
					NODE_PORT + 2, 0, d, (uint32_t)len);
		struct rte_mbuf *in = rte_pktmbuf_alloc(N.fp.pool);
		memcpy(rte_pktmbuf_append(in, (uint16_t)fl), fr, fl);
		assert_int_equal(rte_ring_enqueue(N.fp.rx, in), 0);
	}
	uint64_t miss = ctr()->auth_refused[WEFT_SEC_MISSING];
	dp_free_all(m, poll_node(m, s));
	assert_int_equal(ctr()->auth_refused[WEFT_SEC_MISSING], miss + 1);
	uint8_t buf[256];
	uint32_t ip;
	uint16_t port;
	assert_int_equal(weft_dp_local_recv(l, buf, sizeof(buf), &ip, &port, 0), (ssize_t)HDR);
	assert_memory_equal(buf, &a, HDR); /* the sealed one, F_AUTH cleared */
	assert_int_equal(weft_dp_local_recv(l, buf, sizeof(buf), &ip, &port, 0), 0);
	weft_dp_local_close(l);
}

static int setup(void **state)
{
	(void)state;
	uint8_t raw[WEFT_AUTH_KEY_LEN];
	memset(raw, 0x5c, sizeof(raw));
	if (weft_sec_key_from_bytes(&cluster, raw, WEFT_AUTH_CLUSTER, WEFT_AUTH_MAC) != 0)
		return -1;
	memset(raw, 0xc1, sizeof(raw));
	if (weft_sec_key_from_bytes(&client, raw, WEFT_AUTH_CLIENT, WEFT_AUTH_MAC) != 0)
		return -1;
	memset(raw, 0x07, sizeof(raw));
	if (weft_sec_key_from_bytes(&other, raw, WEFT_AUTH_CLIENT, WEFT_AUTH_MAC) != 0)
		return -1;
	weft_sec_tx_init(&tx);
	memcpy(N.ip, NODE_IP, 4);
	N.port = NODE_PORT;
	N.now = 1000000;
	struct weft_dp_config cfg = {.bind_ip = dp_ip4(NODE_IP), .udp_port = NODE_PORT,
				     .n_workers = 1, .poll = WEFT_DP_POLL_BUSY,
				     .clock = dp_node_clock, .clock_arg = &N, .ctl_port = CTL_PORT,
				     .cluster_key = &cluster, .client_key = &client};
	return dp_fakeport_open(&N.fp, "test_dp_auth", 1024, 1024, 2047, &cfg);
}

static int teardown(void **state)
{
	(void)state;
	dp_fakeport_close(&N.fp);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_without_key_unauthorized),
		cmocka_unit_test(test_client_with_key_served_and_sealed),
		cmocka_unit_test(test_node_requests_need_the_cluster_key),
		cmocka_unit_test(test_cluster_channel),
		cmocka_unit_test(test_in_node_client),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
