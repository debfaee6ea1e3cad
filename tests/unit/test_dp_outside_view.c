/*
 * test_dp_outside_view.c — a clustered node whose published view does not
 * list it (it left gracefully and hears the view without it; or it is a
 * new life hearing a view that still lists its previous one) owns no
 * segment: its store is a stale copy or empty and replication no longer
 * reaches it. Through the real worker code on a fake port (dp_node.h), the
 * peers played by hand: a client's GET or PUT of a distributed cache is
 * forwarded to the segment's acting primary (never served from the local
 * copy, never applied here unreplicated); a node request is refused BUSY;
 * so is a request whose acting primary is this node's own address (its
 * previous life). A node whose membership lease expired answers BUSY
 * (test_expired_lease_refuses_busy). A write held for its replication
 * when the next view lists neither this node nor its targets is answered
 * BUSY, not OK on this node's copy alone
 * (test_held_write_whose_targets_left_is_busy). One segment (seg_log2 0).
 * Virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_mbuf.h>

#include "dp_internal.h"
#include "dp_node.h"

static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x11};
static const uint8_t CLIENT_MAC[6] = {0x02, 0, 0, 0, 0, 0x99};
static const uint8_t PEER_IP[4] = {10, 215, 0, 11};
static const uint8_t PEER2_IP[4] = {10, 215, 0, 22};
static const uint8_t CLIENT_IP[4] = {10, 215, 0, 99};
static const uint8_t NODE_IP[4] = {10, 215, 0, 2};
#define NODE_PORT 7700u
#define CTL_PORT 7701u
#define CLIENT_PORT 5000u

static struct dp_node T;

static uint64_t client_req(uint8_t op, uint8_t flags, const char *key, const char *value)
{
	struct weft_x_write x = {0, 0};
	bool put = op == WEFT_OP_PUT;
	uint64_t rid = ++T.rid;
	dp_push_request(&T, flags & WEFT_F_NODE ? PEER_MAC : CLIENT_MAC,
			flags & WEFT_F_NODE ? PEER_IP : CLIENT_IP, CLIENT_PORT, rid, op, flags, "ov",
			key, (uint16_t)strlen(key), put ? &x : NULL, put ? sizeof(x) : 0, value,
			value ? (uint32_t)strlen(value) : 0);
	return rid;
}

/* Publishes the next view of members ip[0..k) (all alive), this node at
 * index self (WEFT_DP_SELF_NONE: not listed), one segment owned by
 * owner[0..n_owners). */
static void publish_view(const uint8_t *const *ip, uint32_t k, uint32_t self,
			 const uint16_t *owner, uint16_t n_owners)
{
	struct member_spec mm[3];
	assert_true(k <= 3);
	for (uint32_t i = 0; i < k; i++)
		mm[i] = (struct member_spec){ip[i], WEFT_DP_MEMBER_ALIVE};
	dp_publish_as(&T, ++T.view, self, mm, k, owner, n_owners, false, NULL, 0);
}

/* While this node is the only member (its own table: served here), the
 * client writes key = value; the node then leaves: the view it hears is
 * PEER and PEER2, which own the segment (PEER primary). */
static void stale_copy_then_leave(const char *key, const char *value)
{
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	static const uint16_t alone[] = {0};
	const uint8_t *self_only[] = {NODE_IP};
	publish_view(self_only, 1, 0, alone, 1);
	client_req(WEFT_OP_PUT, 0, key, value);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);
	static const uint16_t peers_own[] = {0, 1};
	const uint8_t *peers[] = {PEER_IP, PEER2_IP};
	publish_view(peers, 2, WEFT_DP_SELF_NONE, peers_own, 2);
}

/* The value this node's own store holds for key (NULL: none). */
static bool local_value_is(const char *key, const char *value)
{
	struct weft_cache *c = weft_cache_find(T.fp.reg, "ov", 2);
	assert_non_null(c);
	struct weft_cache_key k = {key, strlen(key), weft_cache_hash(key, strlen(key))};
	struct weft_cache_image img;
	if (weft_cache_peek(c, &k, T.now, &img) != 0)
		return value == NULL;
	return value != NULL && img.value_len == strlen(value) &&
	       memcmp(img.value, value, img.value_len) == 0;
}

static void test_read_is_forwarded_not_served_stale(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	stale_copy_then_leave("rk", "old");
	uint64_t rid = client_req(WEFT_OP_GET, 0, "rk", NULL);
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT); /* not answered "old" */
	struct sent f = s[0];
	assert_int_equal(f.h.opcode, WEFT_OP_GET);
	assert_true(f.h.flags & WEFT_F_NODE);
	dp_free_all(m, n);
	struct weft_x_version xv = {7};
	dp_push_answer(&T, PEER_MAC, PEER_IP, &f, WEFT_ST_OK, &xv, sizeof(xv), "new", 3, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.request_id, rid);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	assert_int_equal(s[0].len, sizeof(xv) + 3);
	assert_memory_equal(s[0].payload + sizeof(xv), "new", 3);
	dp_free_all(m, n);
}

static void test_write_is_forwarded_not_applied_here(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	stale_copy_then_leave("wk", "old");
	uint64_t rid = client_req(WEFT_OP_PUT, 0, "wk", "mine");
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT); /* no answer before the owner's */
	struct sent f = s[0];
	assert_int_equal(f.h.opcode, WEFT_OP_PUT);
	dp_free_all(m, n);
	assert_true(local_value_is("wk", "old")); /* nothing applied here */
	struct weft_x_version xv = {8};
	dp_push_answer(&T, PEER_MAC, PEER_IP, &f, WEFT_ST_OK, &xv, sizeof(xv), NULL, 0, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.request_id, rid);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);
	assert_true(local_value_is("wk", "old"));
}

/* A node whose membership lease has expired (weft_dp_set_lease; it was
 * paused past failure detection and may have been replaced) answers a GET
 * and a write of a distributed cache BUSY, a node's too, reading and
 * applying nothing, and counts them in lease_busy, not errors; once the
 * lease is renewed it serves again. */
static void test_expired_lease_refuses_busy(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	static const uint16_t alone[] = {0};
	const uint8_t *self_only[] = {NODE_IP};
	publish_view(self_only, 1, 0, alone, 1);
	client_req(WEFT_OP_PUT, 0, "lk", "old");
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);

	const struct dp_counters *c = &T.fp.dp->lc[0].c;
	uint64_t errors = c->errors, lease_busy = c->lease_busy;
	weft_dp_set_lease(T.fp.dp, T.now); /* expired: now is not before it */
	client_req(WEFT_OP_GET, 0, "lk", NULL);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_BUSY);
	assert_int_equal(s[0].len, 0); /* nothing read */
	dp_free_all(m, n);
	client_req(WEFT_OP_PUT, 0, "lk", "new");
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_BUSY);
	dp_free_all(m, n);
	client_req(WEFT_OP_PUT, WEFT_F_NODE, "lk", "theirs");
	dp_expect_one(&T, m, s, &n, PEER_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_BUSY);
	dp_free_all(m, n);
	assert_true(local_value_is("lk", "old"));
	assert_int_equal(c->lease_busy, lease_busy + 3);
	assert_int_equal(c->errors, errors);

	weft_dp_set_lease(T.fp.dp, T.now + 1); /* renewed */
	client_req(WEFT_OP_GET, 0, "lk", NULL);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);
	weft_dp_set_lease(T.fp.dp, UINT64_MAX);
}

static void test_node_request_is_refused(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	stale_copy_then_leave("nk", "old");
	/* A peer whose view still names this node sends it a write, then a
	 * read: neither is served from (nor applied to) the stale copy, and
	 * neither is forwarded again. */
	client_req(WEFT_OP_PUT, WEFT_F_NODE, "nk", "theirs");
	dp_expect_one(&T, m, s, &n, PEER_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_BUSY);
	dp_free_all(m, n);
	assert_true(local_value_is("nk", "old"));
	client_req(WEFT_OP_GET, WEFT_F_NODE, "nk", NULL);
	dp_expect_one(&T, m, s, &n, PEER_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_BUSY);
	dp_free_all(m, n);
}

static void test_previous_life_as_primary_gives_busy(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	/* A new life (empty store) hears a view that lists its previous life
	 * (same address, another nonce: not self) as the segment's primary. */
	static const uint16_t own[] = {0, 1};
	const uint8_t *members[] = {NODE_IP, PEER_IP};
	publish_view(members, 2, WEFT_DP_SELF_NONE, own, 2);
	client_req(WEFT_OP_GET, 0, "pk", NULL);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT); /* not NOT_FOUND */
	assert_int_equal(s[0].h.status, WEFT_ST_BUSY);
	dp_free_all(m, n);
	client_req(WEFT_OP_PUT, 0, "pk", "v");
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_BUSY);
	dp_free_all(m, n);
	assert_true(local_value_is("pk", NULL));
}

/* A write this node applied as the segment's primary, held for its
 * backup's ack, when the next view lists neither this node nor the
 * backup: no owner of the new view holds the copy and this node can send
 * it to none (outside the view it has no table), so the client is not
 * told OK on this node's copy alone: BUSY, and its retry goes to the
 * segment's acting primary in the new view. */
static void test_held_write_whose_targets_left_is_busy(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	static const uint16_t own[] = {0, 1}; /* this node primary, PEER backup */
	const uint8_t *both[] = {NODE_IP, PEER_IP};
	publish_view(both, 2, 0, own, 2);
	uint64_t rid = client_req(WEFT_OP_PUT, 0, "hk", "held");
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT); /* the REPLICATE; the client waits */
	assert_int_equal(s[0].h.opcode, WEFT_OP_REPLICATE);
	dp_free_all(m, n);
	assert_true(local_value_is("hk", "held"));
	static const uint16_t other_owns[] = {0};
	const uint8_t *other[] = {PEER2_IP};
	publish_view(other, 1, WEFT_DP_SELF_NONE, other_owns, 1);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.request_id, rid);
	assert_int_equal(s[0].h.status, WEFT_ST_BUSY);
	dp_free_all(m, n);
	assert_false(dp_rpc_busy(T.fp.dp->lc[0].rpc));
}

static int setup(void **state)
{
	(void)state;
	if (dp_node_open(&T, "test_dp_outside_view", NODE_IP, NODE_PORT, CTL_PORT) != 0)
		return -1;
	dp_learn(&T, PEER_MAC, PEER_IP);
	dp_learn(&T, CLIENT_MAC, CLIENT_IP);
	return 0;
}

static int per_test(void **state)
{
	(void)state;
	assert_false(dp_rpc_busy(T.fp.dp->lc[0].rpc));
	return 0;
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
		cmocka_unit_test_setup(test_read_is_forwarded_not_served_stale, per_test),
		cmocka_unit_test_setup(test_write_is_forwarded_not_applied_here, per_test),
		cmocka_unit_test_setup(test_node_request_is_refused, per_test),
		cmocka_unit_test_setup(test_previous_life_as_primary_gives_busy, per_test),
		cmocka_unit_test_setup(test_expired_lease_refuses_busy, per_test),
		cmocka_unit_test_setup(test_held_write_whose_targets_left_is_busy, per_test),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
