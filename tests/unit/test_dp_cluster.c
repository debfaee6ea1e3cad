/*
 * test_dp_cluster.c — a node in a cluster, through the real worker code on
 * a fake port (net_ring, as test_dp_ctl.c), playing its peers by hand:
 * synchronous replication (the client hears OK only after the backup's
 * ack; retransmission with the same id; give-up; a backup leaving the
 * view), forwarding by a non-owner (relayed answer, long answers sent to
 * the owner with NOT_OWNER), serving REPLICATE (version order, deletes,
 * invalid lists), NO_QUORUM, CACHE_OPEN modes and per-key NOT_OWNER in
 * MULTI_GET. One segment (seg_log2 0): every key has the same owners.
 * Virtual clock.
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

#include "dp_internal.h"
#include "dp_node.h"

static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x11};
static const uint8_t PEER2_MAC[6] = {0x02, 0, 0, 0, 0, 0x22};
static const uint8_t CLIENT_MAC[6] = {0x02, 0, 0, 0, 0, 0x99};
static const uint8_t PEER_IP[4] = {10, 214, 0, 11};
static const uint8_t PEER2_IP[4] = {10, 214, 0, 22};
static const uint8_t CLIENT_IP[4] = {10, 214, 0, 99};
static const uint8_t NODE_IP[4] = {10, 214, 0, 2};
#define NODE_PORT 7700u
#define CTL_PORT 7701u
#define CLIENT_PORT 5000u

static struct dp_node T;

/* Sends one request (one datagram) from src; returns its request id. */
static uint64_t send_msg(const uint8_t mac[6], const uint8_t ip[4], uint16_t sport, uint8_t op,
			 uint8_t flags, const char *name, const char *key, const void *extras,
			 uint16_t xl, const void *value, uint32_t vl)
{
	uint64_t rid = ++T.rid;
	dp_push_request(&T, mac, ip, sport, rid, op, flags, name, key,
			(uint16_t)(key ? strlen(key) : 0), extras, xl, value, vl);
	return rid;
}

static uint64_t client_put(const char *cache, const char *key, const char *value)
{
	struct weft_x_write x = {0, 0};
	return send_msg(CLIENT_MAC, CLIENT_IP, CLIENT_PORT, WEFT_OP_PUT, 0, cache, key, &x,
			sizeof(x), value, (uint32_t)strlen(value));
}

static uint64_t client_get(const char *cache, const char *key)
{
	return send_msg(CLIENT_MAC, CLIENT_IP, CLIENT_PORT, WEFT_OP_GET, 0, cache, key, NULL, 0,
			NULL, 0);
}

/* Publishes a new view of n live members (self first, then PEER, PEER2)
 * with one segment owned by owner[0..n_owners). */
static void publish(uint32_t n, const uint16_t *owner, uint16_t n_owners, bool no_quorum)
{
	static const struct member_spec all[3] = {{NODE_IP, WEFT_DP_MEMBER_ALIVE},
						  {PEER_IP, WEFT_DP_MEMBER_ALIVE},
						  {PEER2_IP, WEFT_DP_MEMBER_ALIVE}};
	dp_publish(&T, ++T.view, all, n, owner, n_owners, no_quorum, NULL, 0);
}

static const struct dp_counters *lc0(void)
{
	return &T.fp.dp->lc[0].c;
}

/* Client answers of latency kind k (DP_LAT_*) counted on lcore 0. */
static uint64_t lat_answers(unsigned k)
{
	uint64_t n = 0;
	for (unsigned i = 0; i <= DP_LAT_INF; i++)
		n += lc0()->lat_bucket[k][i];
	return n;
}

static void expect_get(const char *cache, const char *key, uint16_t status, uint64_t version,
		       const char *value);

/* --- synchronous replication ------------------------------------------------ */

static void test_write_waits_for_backup_ack(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	static const uint16_t own[] = {0, 1}; /* self primary, peer backup */
	publish(2, own, 2, false);
	uint64_t writes = lat_answers(DP_LAT_WRITE);
	uint64_t rid = client_put("sync", "k1", "v1");
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	struct weft_repl_entry e;
	const uint8_t *k, *v;
	dp_repl_entry(&s[0], "sync", &e, &k, &v, NULL);
	assert_int_equal(e.kind, WEFT_REPL_PUT);
	assert_int_equal(e.key_len, 2);
	assert_memory_equal(k, "k1", 2);
	assert_int_equal(e.value_len, 2);
	assert_memory_equal(v, "v1", 2);
	assert_int_equal(e.ttl_ms, WEFT_TTL_NONE);
	struct sent first = s[0];
	uint64_t version = e.version;
	dp_free_all(m, n);

	/* No ack: nothing for the client; after the timeout the same request
	 * (same id) goes again. */
	assert_int_equal(dp_poll(&T, m, s), 0);
	T.now += DP_RPC_RTO_MS + 1;
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	assert_int_equal(s[0].h.request_id, first.h.request_id);
	assert_int_equal(s[0].h.client_id, first.h.client_id);
	dp_free_all(m, n);

	struct weft_x_repl_ack ack = {1, 0};
	assert_int_equal(lat_answers(DP_LAT_WRITE), writes); /* held: not answered yet */
	dp_push_answer(&T, PEER_MAC, PEER_IP, &first, WEFT_ST_OK, &ack, sizeof(ack), NULL, 0, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(lat_answers(DP_LAT_WRITE), writes + 1); /* once, at the answer */
	assert_int_equal(s[0].h.request_id, rid);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	struct weft_x_version xv;
	memcpy(&xv, s[0].payload, sizeof(xv));
	assert_int_equal(xv.version, version);
	dp_free_all(m, n);

	/* A duplicate ack matches nothing: counted, no second answer. */
	uint64_t stray0 = lc0()->rpc_stray;
	dp_push_answer(&T, PEER_MAC, PEER_IP, &first, WEFT_ST_OK, &ack, sizeof(ack), NULL, 0, 0);
	assert_int_equal(dp_poll(&T, m, s), 0);
	assert_int_equal(lc0()->rpc_stray - stray0, 1);

	/* The backup's copy is only a promise here; the primary serves reads. */
	client_get("sync", "k1");
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);
}

static void test_backup_leaving_view_completes_write(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	static const uint16_t own[] = {0, 1};
	publish(2, own, 2, false);
	client_put("sync", "k2", "v2");
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	dp_free_all(m, n);
	static const uint16_t alone[] = {0};
	publish(1, alone, 1, false);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);
}

static void test_backup_replaced_gets_the_write(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	static const uint16_t own[] = {0, 1};
	publish(3, own, 2, false);
	client_put("sync", "k3", "v3");
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	dp_free_all(m, n);
	/* PEER is declared dead but still in the view: it stays a target
	 * (were it alive after all, its ack would count). */
	const struct member_spec peer_dead[3] = {{NODE_IP, WEFT_DP_MEMBER_ALIVE},
						 {PEER_IP, WEFT_DP_MEMBER_DEAD},
						 {PEER2_IP, WEFT_DP_MEMBER_ALIVE}};
	dp_publish(&T, ++T.view, peer_dead, 3, own, 2, false, NULL, 0);
	assert_int_equal(dp_poll(&T, m, s), 0);
	assert_true(dp_rpc_busy(T.fp.dp->lc[0].rpc));
	/* The next view drops PEER; PEER2 is the new backup: the write goes
	 * to PEER2 before OK. */
	const struct member_spec without_peer[2] = {{NODE_IP, WEFT_DP_MEMBER_ALIVE},
						    {PEER2_IP, WEFT_DP_MEMBER_ALIVE}};
	static const uint16_t own2[] = {0, 1};
	dp_publish(&T, ++T.view, without_peer, 2, own2, 2, false, NULL, 0);
	/* PEER2 is not in the ARP table yet: it is asked (ARP request), and
	 * the replication goes out at the next retransmission once known. */
	uint64_t re0 = lc0()->rpc_retargeted;
	n = dp_poll(&T, m, s);
	assert_int_equal(n, 1);
	assert_int_equal(rd16(rte_pktmbuf_mtod(m[0], const uint8_t *) + 12), 0x0806);
	assert_int_equal(lc0()->rpc_retargeted - re0, 1);
	dp_free_all(m, n);
	dp_learn(&T, PEER2_MAC, PEER2_IP);
	T.now += DP_RPC_RTO_MS + 1;
	dp_expect_one(&T, m, s, &n, PEER2_IP, NODE_PORT);
	struct sent r = s[0];
	struct weft_repl_entry e;
	const uint8_t *k, *val;
	dp_repl_entry(&r, "sync", &e, &k, &val, NULL);
	assert_memory_equal(k, "k3", 2);
	dp_free_all(m, n);
	struct weft_x_repl_ack ack = {1, 0};
	dp_push_answer(&T, PEER2_MAC, PEER2_IP, &r, WEFT_ST_OK, &ack, sizeof(ack), NULL, 0, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);
}

/* A co-owner in the view whose record (address) has not reached this node
 * yet: the write is refused BUSY before anything is applied, since acked
 * without it, it would miss an owner no state transfer fills. */
static void test_unknown_co_owner_refuses_writes(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	struct member_spec mm[2] = {{NODE_IP, WEFT_DP_MEMBER_ALIVE},
				    {NULL, WEFT_DP_MEMBER_DEAD}}; /* no record: 0.0.0.0 */
	static const uint16_t own[] = {0, 1};
	dp_publish(&T, ++T.view, mm, 2, own, 2, false, NULL, 0);
	client_put("sync", "unk", "v");
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_BUSY);
	dp_free_all(m, n);
	expect_get("sync", "unk", WEFT_ST_NOT_FOUND, 0, NULL); /* nothing applied */
	/* Its record arrives: writes go through again. */
	mm[1] = (struct member_spec){PEER_IP, WEFT_DP_MEMBER_ALIVE};
	dp_publish(&T, T.view, mm, 2, own, 2, false, NULL, 0); /* same view */
	client_put("sync", "unk", "v");
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	struct sent r = s[0];
	dp_free_all(m, n);
	struct weft_x_repl_ack ack = {1, 0};
	dp_push_answer(&T, PEER_MAC, PEER_IP, &r, WEFT_ST_OK, &ack, sizeof(ack), NULL, 0, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);
}

static void test_silent_backup_gives_busy(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	static const uint16_t own[] = {0, 1};
	publish(2, own, 2, false);
	uint64_t rid = client_put("sync", "k4", "v4");
	n = dp_poll(&T, m, s);
	dp_free_all(m, n);
	uint64_t gave0 = lc0()->rpc_gave_up, rt0 = lc0()->rpc_retransmits;
	bool answered = false;
	for (unsigned step = 0; step < 100 && !answered; step++) {
		T.now += 100;
		n = dp_poll(&T, m, s);
		for (unsigned i = 0; i < n; i++)
			if (s[i].dst_ip == dp_ip4(CLIENT_IP)) {
				assert_int_equal(s[i].h.request_id, rid);
				assert_int_equal(s[i].h.status, WEFT_ST_BUSY);
				answered = true;
			}
		dp_free_all(m, n);
	}
	assert_true(answered);
	assert_int_equal(lc0()->rpc_gave_up - gave0, 1);
	assert_true(lc0()->rpc_retransmits - rt0 >= 5);
	assert_false(dp_rpc_busy(T.fp.dp->lc[0].rpc));
}

/* --- forwarding ------------------------------------------------------------- */

static void test_non_primary_forwards_writes(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	static const uint16_t own[] = {1, 0}; /* peer primary, self backup */
	publish(2, own, 2, false);
	uint64_t rid = client_put("fw", "fk", "fv");
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	struct sent f = s[0];
	assert_int_equal(f.h.opcode, WEFT_OP_PUT);
	assert_int_equal(f.h.flags, WEFT_F_NODE);
	assert_int_not_equal(f.h.request_id, rid);
	assert_int_equal(f.h.msg_len, 2 + 2 + sizeof(struct weft_x_write) + 2);
	assert_memory_equal(f.payload, "fwfk", 4);
	dp_free_all(m, n);
	struct weft_x_version xv = {4242};
	dp_push_answer(&T, PEER_MAC, PEER_IP, &f, WEFT_ST_OK, &xv, sizeof(xv), NULL, 0, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.request_id, rid);
	assert_int_equal(s[0].h.client_id, 0xc11e);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	memcpy(&xv, s[0].payload, sizeof(xv));
	assert_int_equal(xv.version, 4242);
	dp_free_all(m, n);
	/* Reads are served by any owner: here, locally (nothing stored here). */
	client_get("fw", "fk");
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_NOT_FOUND);
	dp_free_all(m, n);
	/* A request from a node is never forwarded again, even when the views
	 * disagree: served here, replicated to the segment's other owner. */
	struct weft_x_write x = {0, 0};
	send_msg(PEER_MAC, PEER_IP, NODE_PORT, WEFT_OP_PUT, WEFT_F_NODE, "fw", "fk2", &x,
		 sizeof(x), "z", 1);
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	struct sent r = s[0];
	assert_int_equal(r.h.opcode, WEFT_OP_REPLICATE);
	dp_free_all(m, n);
	struct weft_x_repl_ack ack = {1, 0};
	dp_push_answer(&T, PEER_MAC, PEER_IP, &r, WEFT_ST_OK, &ack, sizeof(ack), NULL, 0, 0);
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	assert_int_equal(s[0].h.flags, WEFT_F_RESPONSE);
	assert_int_equal(s[0].h.opcode, WEFT_OP_PUT);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);
}

static void test_non_owner_forwards_reads(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	static const uint16_t own[] = {1, 2}; /* self owns nothing */
	publish(3, own, 2, false);
	uint64_t reads = lat_answers(DP_LAT_READ);
	uint64_t rid = client_get("fw", "gk");
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	struct sent f = s[0];
	assert_int_equal(f.h.opcode, WEFT_OP_GET);
	dp_free_all(m, n);
	assert_int_equal(lat_answers(DP_LAT_READ), reads); /* forwarded: not answered yet */
	struct weft_x_version xv = {9};
	dp_push_answer(&T, PEER_MAC, PEER_IP, &f, WEFT_ST_OK, &xv, sizeof(xv), "hello", 5, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(lat_answers(DP_LAT_READ), reads + 1);
	assert_int_equal(s[0].h.request_id, rid);
	assert_int_equal(s[0].h.msg_len, sizeof(xv) + 5);
	assert_memory_equal(s[0].payload + sizeof(xv), "hello", 5);
	dp_free_all(m, n);

	/* An answer longer than a datagram cannot be relayed: NOT_OWNER. */
	client_get("fw", "gk");
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	f = s[0];
	dp_free_all(m, n);
	dp_push_answer(&T, PEER_MAC, PEER_IP, &f, WEFT_ST_OK, &xv, sizeof(xv), "part", 4, 5000);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_NOT_OWNER);
	dp_free_all(m, n);

	/* The owner leaves the view before answering: BUSY (the client retries
	 * with the new table). */
	client_get("fw", "gk");
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	dp_free_all(m, n);
	static const uint16_t alone[] = {0};
	publish(1, alone, 1, false);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_BUSY);
	dp_free_all(m, n);
}

static void test_multi_get_marks_foreign_keys(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	uint8_t list[2 + 2 * 4] = {2, 0, 2, 0, 'a', '1', 2, 0, 'a', '2'};
	static const uint16_t other[] = {1, 2};
	publish(3, other, 2, false);
	send_msg(CLIENT_MAC, CLIENT_IP, CLIENT_PORT, WEFT_OP_MULTI_GET, 0, "mg", NULL, NULL, 0,
		 list, sizeof(list));
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	struct weft_mget_entry_hdr e;
	memcpy(&e, s[0].payload + 2, sizeof(e));
	assert_int_equal(e.status, WEFT_ST_NOT_OWNER);
	dp_free_all(m, n);
	static const uint16_t mine[] = {0, 1};
	publish(2, mine, 2, false);
	send_msg(CLIENT_MAC, CLIENT_IP, CLIENT_PORT, WEFT_OP_MULTI_GET, 0, "mg", NULL, NULL, 0,
		 list, sizeof(list));
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	memcpy(&e, s[0].payload + 2, sizeof(e));
	assert_int_equal(e.status, WEFT_ST_NOT_FOUND);
	dp_free_all(m, n);
}

/* --- read-through while a segment moves in --------------------------------- */

static void test_miss_reads_through_to_old_owner(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	const struct member_spec both[2] = {{NODE_IP, WEFT_DP_MEMBER_ALIVE},
					    {PEER_IP, WEFT_DP_MEMBER_ALIVE}};
	static const uint16_t own[] = {0, 1};
	static const uint16_t prev[] = {1}; /* the peer held the segment before */
	dp_publish(&T, ++T.view, both, 2, own, 2, false, prev, T.now + 1000);

	/* A miss here is asked of the old owner, whose answer is relayed. */
	uint64_t rt0 = lc0()->read_through;
	uint64_t rid = client_get("rt", "moving");
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	struct sent f = s[0];
	assert_int_equal(f.h.opcode, WEFT_OP_GET);
	assert_int_equal(f.h.flags, WEFT_F_NODE);
	dp_free_all(m, n);
	assert_int_equal(lc0()->read_through - rt0, 1);
	struct weft_x_version xv = {31};
	dp_push_answer(&T, PEER_MAC, PEER_IP, &f, WEFT_ST_OK, &xv, sizeof(xv), "old", 3, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.request_id, rid);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	assert_memory_equal(s[0].payload + sizeof(xv), "old", 3);
	dp_free_all(m, n);

	/* A hit is served here; a node's own GET is never read through. */
	client_put("rt", "here", "v");
	n = dp_poll(&T, m, s); /* replication to the peer */
	struct sent r = s[0];
	dp_free_all(m, n);
	struct weft_x_repl_ack ack = {1, 0};
	dp_push_answer(&T, PEER_MAC, PEER_IP, &r, WEFT_ST_OK, &ack, sizeof(ack), NULL, 0, 0);
	dp_free_all(m, dp_poll(&T, m, s));
	expect_get("rt", "here", WEFT_ST_OK, 0, NULL);
	send_msg(PEER_MAC, PEER_IP, NODE_PORT, WEFT_OP_GET, WEFT_F_NODE, "rt", "moving", NULL, 0,
		 NULL, 0);
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	assert_int_equal(s[0].h.flags, WEFT_F_RESPONSE);
	assert_int_equal(s[0].h.status, WEFT_ST_NOT_FOUND);
	dp_free_all(m, n);

	/* A key deleted here is not asked of the old owner (which may still
	 * hold the deleted value): its tombstone answers NOT_FOUND. */
	send_msg(CLIENT_MAC, CLIENT_IP, CLIENT_PORT, WEFT_OP_DELETE, 0, "rt", "here", NULL, 0,
		 NULL, 0);
	n = dp_poll(&T, m, s); /* the DELETE replicated to the peer */
	assert_int_equal(n, 1);
	r = s[0];
	struct weft_repl_entry e;
	const uint8_t *k, *val;
	dp_repl_entry(&r, "rt", &e, &k, &val, NULL);
	assert_int_equal(e.kind, WEFT_REPL_DELETE);
	dp_free_all(m, n);
	dp_push_answer(&T, PEER_MAC, PEER_IP, &r, WEFT_ST_OK, &ack, sizeof(ack), NULL, 0, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);
	expect_get("rt", "here", WEFT_ST_NOT_FOUND, 0, NULL);
	assert_int_equal(lc0()->read_through - rt0, 1);

	/* Once the window is over, a miss is a miss. */
	T.now += 1001;
	expect_get("rt", "moving", WEFT_ST_NOT_FOUND, 0, NULL);
	assert_int_equal(lc0()->read_through - rt0, 1);
}

/* --- quorum ------------------------------------------------------------------ */

static void test_minority_refuses_writes(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	static const uint16_t own[] = {0, 1};
	publish(2, own, 2, true);
	client_put("q", "qk", "qv");
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_NO_QUORUM);
	dp_free_all(m, n);
	client_get("q", "qk");
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_NOT_FOUND);
	dp_free_all(m, n);
}

/* --- serving REPLICATE --------------------------------------------------------- */

static uint64_t send_repl(uint8_t flags, uint32_t mode, uint32_t count, const uint8_t *entries,
			  uint32_t len)
{
	struct weft_x_replicate x;
	memset(&x, 0, sizeof(x));
	x.opts.mode = mode;
	x.count = count;
	return send_msg(PEER_MAC, PEER_IP, NODE_PORT, WEFT_OP_REPLICATE, flags, "rc", NULL, &x,
			sizeof(x), entries, len);
}

static uint32_t entry(uint8_t *w, uint8_t kind, const char *key, const char *value,
		      uint64_t version)
{
	struct weft_repl_entry e = {.kind = kind, .key_len = (uint16_t)strlen(key),
				    .value_len = value ? (uint32_t)strlen(value) : 0,
				    .version = version, .ttl_ms = WEFT_TTL_NONE};
	memcpy(w, &e, sizeof(e));
	memcpy(w + sizeof(e), key, e.key_len);
	if (value)
		memcpy(w + sizeof(e) + e.key_len, value, e.value_len);
	return (uint32_t)sizeof(e) + e.key_len + e.value_len;
}

static void expect_ack(uint16_t status, uint32_t applied, uint32_t stale)
{
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	assert_int_equal(s[0].h.status, status);
	if (status == WEFT_ST_OK) {
		struct weft_x_repl_ack a;
		memcpy(&a, s[0].payload, sizeof(a));
		assert_int_equal(a.applied, applied);
		assert_int_equal(a.stale, stale);
	}
	dp_free_all(m, n);
}

static void expect_get(const char *cache, const char *key, uint16_t status, uint64_t version,
		       const char *value)
{
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	client_get(cache, key);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, status);
	if (status == WEFT_ST_OK && value != NULL) {
		struct weft_x_version xv;
		memcpy(&xv, s[0].payload, sizeof(xv));
		assert_int_equal(xv.version, version);
		assert_int_equal(s[0].len, sizeof(xv) + strlen(value));
		assert_memory_equal(s[0].payload + sizeof(xv), value, strlen(value));
	}
	dp_free_all(m, n);
}

static void test_replicate_applies_in_version_order(void **state)
{
	(void)state;
	static const uint16_t own[] = {0, 1};
	publish(2, own, 2, false);
	uint8_t b[1024];
	uint32_t l = entry(b, WEFT_REPL_PUT, "r1", "new", 1000);
	l += entry(b + l, WEFT_REPL_PUT, "r2", "two", 5);
	send_repl(WEFT_F_NODE, WEFT_MODE_REPLICATED, 2, b, l);
	expect_ack(WEFT_ST_OK, 2, 0);
	expect_get("rc", "r1", WEFT_ST_OK, 1000, "new");

	l = entry(b, WEFT_REPL_PUT, "r1", "old", 999); /* late, older: ignored */
	send_repl(WEFT_F_NODE, WEFT_MODE_REPLICATED, 1, b, l);
	expect_ack(WEFT_ST_OK, 0, 1);
	expect_get("rc", "r1", WEFT_ST_OK, 1000, "new");

	l = entry(b, WEFT_REPL_DELETE, "r1", NULL, 1001);
	l += entry(b + l, WEFT_REPL_DELETE, "r2", NULL, 4); /* older than the entry */
	send_repl(WEFT_F_NODE, WEFT_MODE_REPLICATED, 2, b, l);
	expect_ack(WEFT_ST_OK, 1, 1);
	expect_get("rc", "r1", WEFT_ST_NOT_FOUND, 0, NULL);
	expect_get("rc", "r2", WEFT_ST_OK, 5, "two");

	l = entry(b, WEFT_REPL_INVALIDATE, "r2", NULL, 0);
	send_repl(WEFT_F_NODE, WEFT_MODE_REPLICATED, 1, b, l);
	expect_ack(WEFT_ST_OK, 1, 0);
	expect_get("rc", "r2", WEFT_ST_NOT_FOUND, 0, NULL);

	/* The receiver made the cache with the sender's mode. */
	struct weft_cache *c = weft_cache_find(T.fp.reg, "rc", 2);
	assert_non_null(c);
	struct weft_cache_opts o;
	weft_cache_get_opts(c, &o);
	assert_int_equal(o.mode, WEFT_CACHE_MODE_REPLICATED);
	/* A local write after replicated ones gets a newer version. */
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	client_put("rc", "r3", "x");
	n = dp_poll(&T, m, s); /* REPLICATE to the peer (replicated mode) */
	assert_int_equal(n, 1);
	struct weft_repl_entry e;
	const uint8_t *k, *v;
	struct sent r = s[0];
	dp_repl_entry(&r, "rc", &e, &k, &v, NULL);
	assert_true(e.version > 1001);
	dp_free_all(m, n);
	struct weft_x_repl_ack ack = {1, 0};
	dp_push_answer(&T, PEER_MAC, PEER_IP, &r, WEFT_ST_OK, &ack, sizeof(ack), NULL, 0, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);
}

static void test_bad_replicate_is_refused(void **state)
{
	(void)state;
	uint8_t b[1024];
	uint32_t l = entry(b, WEFT_REPL_PUT, "b1", "v", 7);
	send_repl(0, WEFT_MODE_DISTRIBUTED, 1, b, l); /* not from a node */
	expect_ack(WEFT_ST_BAD_REQUEST, 0, 0);
	send_repl(WEFT_F_NODE, WEFT_MODE_DISTRIBUTED, 2, b, l); /* count says 2 */
	expect_ack(WEFT_ST_BAD_REQUEST, 0, 0);
	send_repl(WEFT_F_NODE, WEFT_MODE_DEFAULT, 1, b, l); /* mode unresolved */
	expect_ack(WEFT_ST_BAD_REQUEST, 0, 0);
	b[0] = 9; /* unknown kind */
	send_repl(WEFT_F_NODE, WEFT_MODE_DISTRIBUTED, 1, b, l);
	expect_ack(WEFT_ST_BAD_REQUEST, 0, 0);
	l = entry(b, WEFT_REPL_DELETE, "b1", NULL, 7);
	b[4] = 1; /* a DELETE with a value length */
	send_repl(WEFT_F_NODE, WEFT_MODE_DISTRIBUTED, 1, b, l);
	expect_ack(WEFT_ST_BAD_REQUEST, 0, 0);
	assert_null(weft_cache_find(T.fp.reg, "rc-none", 7));
}

/* --- CACHE_OPEN ------------------------------------------------------------------ */

static void test_cache_open_modes(void **state)
{
	(void)state;
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	static const uint16_t own[] = {0, 1};
	publish(2, own, 2, false);
	struct weft_x_cache_opts x;
	memset(&x, 0, sizeof(x));
	x.mode = 9;
	send_msg(CLIENT_MAC, CLIENT_IP, CLIENT_PORT, WEFT_OP_CACHE_OPEN, 0, "oc", NULL, &x,
		 sizeof(x), NULL, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_BAD_CACHE_OPTS);
	dp_free_all(m, n);

	/* A new replicated cache is announced to the other members first. */
	x.mode = WEFT_MODE_REPLICATED;
	x.max_entries = 77;
	uint64_t rid = send_msg(CLIENT_MAC, CLIENT_IP, CLIENT_PORT, WEFT_OP_CACHE_OPEN, 0, "oc",
				NULL, &x, sizeof(x), NULL, 0);
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	struct sent r = s[0];
	assert_int_equal(r.h.opcode, WEFT_OP_REPLICATE);
	struct weft_x_replicate xr;
	memcpy(&xr, r.payload + 2, sizeof(xr));
	assert_int_equal(xr.count, 0);
	assert_int_equal(xr.opts.mode, WEFT_MODE_REPLICATED);
	assert_int_equal(xr.opts.max_entries, 77);
	dp_free_all(m, n);
	struct weft_x_repl_ack ack = {0, 0};
	dp_push_answer(&T, PEER_MAC, PEER_IP, &r, WEFT_ST_OK, &ack, sizeof(ack), NULL, 0, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.request_id, rid);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);
	/* Opening it again finds it: no announcement. */
	send_msg(CLIENT_MAC, CLIENT_IP, CLIENT_PORT, WEFT_OP_CACHE_OPEN, 0, "oc", NULL, &x,
		 sizeof(x), NULL, 0);
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.status, WEFT_ST_OK);
	dp_free_all(m, n);
	/* A cache first named by a keyed request is distributed in a cluster. */
	client_get("implicit", "k");
	n = dp_poll(&T, m, s);
	dp_free_all(m, n);
	struct weft_cache_opts o;
	weft_cache_get_opts(weft_cache_find(T.fp.reg, "implicit", 8), &o);
	assert_int_equal(o.mode, WEFT_CACHE_MODE_DISTRIBUTED);
}

/* --- setup ------------------------------------------------------------------------ */

static int setup(void **state)
{
	(void)state;
	if (dp_node_open(&T, "test_dp_cluster", NODE_IP, NODE_PORT, CTL_PORT) != 0)
		return -1;
	dp_learn(&T, PEER_MAC, PEER_IP);
	dp_learn(&T, CLIENT_MAC, CLIENT_IP);
	return 0;
}

/* Each test starts with no pending request and the peer known (PEER2 is
 * learned only where a test needs it). */
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
		cmocka_unit_test_setup(test_write_waits_for_backup_ack, per_test),
		cmocka_unit_test_setup(test_backup_leaving_view_completes_write, per_test),
		cmocka_unit_test_setup(test_silent_backup_gives_busy, per_test),
		cmocka_unit_test_setup(test_unknown_co_owner_refuses_writes, per_test),
		cmocka_unit_test_setup(test_non_primary_forwards_writes, per_test),
		cmocka_unit_test_setup(test_non_owner_forwards_reads, per_test),
		cmocka_unit_test_setup(test_multi_get_marks_foreign_keys, per_test),
		cmocka_unit_test_setup(test_minority_refuses_writes, per_test),
		cmocka_unit_test_setup(test_miss_reads_through_to_old_owner, per_test),
		cmocka_unit_test_setup(test_replicate_applies_in_version_order, per_test),
		cmocka_unit_test_setup(test_bad_replicate_is_refused, per_test),
		cmocka_unit_test_setup(test_cache_open_modes, per_test),
		cmocka_unit_test_setup(test_backup_replaced_gets_the_write, per_test),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
