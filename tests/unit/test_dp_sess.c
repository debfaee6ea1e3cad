/*
 * test_dp_sess.c — SESSION requests through the real worker code on a fake
 * port (net_ring, as test_dp_cluster.c), peers played by hand: every action
 * on one node, the refusals (BAD_REQUEST cases, NO_SESSION, NOT_FOUND,
 * VALUE_TOO_LARGE, NO_QUORUM), and with a backup: the client hears OK only
 * after the backup acked a REPLICATE that carries the new record (or the
 * delete), a read that refreshes a stale access_ms is held and then
 * answered with its value, a silent backup ends in BUSY, a retransmitted
 * CREATE is answered from the at-most-once table, a non-primary forwards,
 * and events reach weft_dp_sess_events. The join window: a new primary
 * asks the segment's old owner about a session it does not hold yet (every
 * action but CREATE, client and node requests; not with a tombstone or the
 * window over; BUSY when that old owner is DEAD, the miss answered here
 * when it LEFT), and the old owner serves that request on
 * its copy and replicates to the new primary. A node in no view yet (the
 * self-only view 0) answers SESSION ops BUSY, node requests too; a CREATE
 * forwarded to a node that does not own its segment is BUSY. A session store opened in another
 * mode than DISTRIBUTED is BAD_CACHE_OPTS. EXPIRE racing another lcore's
 * access (a thread writing the record by CAS) never loses the access (the
 * compare-and-delete). One segment (seg_log2 0). The
 * dataplane's clock is virtual; the sessions' wall clock is the real one
 * (records the tests plant are dated relative to dp_unix_ms()).
 */
#define _GNU_SOURCE /* pthread_attr_setaffinity_np */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_internal.h"
#include "dp_node.h"
#include "sess.h"

static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x11};
static const uint8_t CLIENT_MAC[6] = {0x02, 0, 0, 0, 0, 0x99};
static const uint8_t PEER_IP[4] = {10, 215, 0, 11};
static const uint8_t PEER2_IP[4] = {10, 215, 0, 22};
static const uint8_t CLIENT_IP[4] = {10, 215, 0, 99};
static const uint8_t NODE_IP[4] = {10, 215, 0, 2};
#define NODE_PORT 7700u
#define CTL_PORT 7701u
#define CLIENT_PORT 5000u
#define STORE WEFT_SESSION_STORE
#define INFO_LEN ((uint16_t)sizeof(struct weft_x_session_info))

static struct dp_node T;
static uint8_t next_id; /* of new_id */

/* One request datagram from ip:sport with request id rid. */
static void send_raw(const uint8_t ip[4], uint16_t sport, uint64_t rid, uint8_t op, uint8_t flags,
		     const char *name, const uint8_t *key, uint16_t kl, const void *extras,
		     uint16_t xl, const void *value, uint32_t vl)
{
	dp_push_request(&T, CLIENT_MAC, ip, sport, rid, op, flags, name, key, kl, extras, xl, value,
			vl);
}

/* A SESSION request from the client; value = name (GET, REMOVE) or
 * name|value (SET, attr_len = strlen(name)). Returns its request id. */
static uint64_t sess(uint8_t action, const uint8_t id[16], const char *name, const char *value,
		     uint32_t mi)
{
	struct weft_x_session x = {.action = action, .max_inactive_s = mi};
	char v[1024] = "";
	if (name != NULL)
		snprintf(v, sizeof(v), "%s%s", name, value ? value : "");
	if (action == WEFT_SESS_SET)
		x.attr_len = (uint16_t)strlen(name);
	uint64_t rid = ++T.rid;
	send_raw(CLIENT_IP, CLIENT_PORT, rid, WEFT_OP_SESSION, 0, STORE, id, 16, &x, sizeof(x), v,
		 (uint32_t)strlen(v));
	return rid;
}

/* The client's answer to rid: status, and a copy of extras and value
 * (value_out: at least 1024 bytes, may be NULL). Returns the value length. */
static uint32_t expect_answer(uint64_t rid, uint16_t status, uint16_t extras_len,
			      struct weft_x_session_info *info, uint8_t *value_out)
{
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	dp_expect_one(&T, m, s, &n, CLIENT_IP, CLIENT_PORT);
	assert_int_equal(s[0].h.request_id, rid);
	assert_int_equal(s[0].h.flags & WEFT_F_RESPONSE, WEFT_F_RESPONSE);
	assert_int_equal(s[0].h.status, status);
	assert_int_equal(s[0].h.extras_len, extras_len);
	assert_int_equal(s[0].h.msg_len, s[0].len); /* one datagram */
	if (extras_len == INFO_LEN && info != NULL)
		memcpy(info, s[0].payload, INFO_LEN);
	uint32_t vl = s[0].len - extras_len;
	if (value_out != NULL) {
		assert_true(vl <= 1024);
		memcpy(value_out, s[0].payload + extras_len, vl);
	}
	dp_free_all(m, n);
	return vl;
}

/* Publishes a view of n members (self, PEER, PEER2; live, but member
 * dead_member when not UINT32_MAX: DEAD, or odd_state when that is not
 * ALIVE) with one segment owned by owner[0..n_owners), and the
 * read-through table prev (NULL: none) until prev_until_ms. */
static uint8_t odd_state = WEFT_DP_MEMBER_ALIVE;
static void publish_view(uint32_t n, const uint16_t *owner, uint16_t n_owners, bool no_quorum,
			 const uint16_t *prev, uint64_t prev_until_ms, uint32_t dead_member)
{
	static const uint8_t *ips[3] = {NODE_IP, PEER_IP, PEER2_IP};
	struct member_spec mm[3];
	assert_true(n <= 3);
	for (uint32_t i = 0; i < n; i++) {
		mm[i].ip = ips[i];
		mm[i].state = i != dead_member ? WEFT_DP_MEMBER_ALIVE
			      : odd_state != WEFT_DP_MEMBER_ALIVE ? odd_state : WEFT_DP_MEMBER_DEAD;
	}
	dp_publish(&T, ++T.view, mm, n, owner, n_owners, no_quorum, prev, prev_until_ms);
}

/* Publishes a view of n live members (self, PEER, PEER2) with one segment
 * owned by owner[0..n_owners). */
static void publish(uint32_t n, const uint16_t *owner, uint16_t n_owners, bool no_quorum)
{
	publish_view(n, owner, n_owners, no_quorum, NULL, 0, UINT32_MAX);
}

static void alone(void)
{
	static const uint16_t own[] = {0};
	publish(1, own, 1, false);
}

static void with_backup(void)
{
	static const uint16_t own[] = {0, 1};
	publish(2, own, 2, false);
}

static const struct dp_counters *lc0(void)
{
	return &T.fp.dp->lc[0].c;
}

static void new_id(uint8_t id[16])
{
	memset(id, 0, 16);
	id[0] = 0xa5;
	id[15] = ++next_id;
}

/* The session store's cache (created by the first SESSION op). */
static struct weft_cache *store(void)
{
	struct weft_cache *c = weft_cache_find(T.fp.reg, STORE, sizeof(STORE) - 1);
	assert_non_null(c);
	return c;
}

/* Plants a record (hdr + the given attribute bytes) for id, as a backup's
 * REPLICATE would have. */
static void plant(const uint8_t id[16], uint32_t mi, uint64_t access_ms, uint32_t attrs,
		  const void *attr_bytes, uint32_t attr_len)
{
	struct weft_cache_opts o = {.mode = WEFT_CACHE_MODE_DISTRIBUTED};
	struct weft_cache *c = weft_cache_open(T.fp.reg, STORE, sizeof(STORE) - 1, &o, NULL);
	assert_non_null(c);
	struct weft_session_record_hdr h = {.magic = WEFT_SESSION_RECORD_MAGIC,
					    .max_inactive_s = mi, .created_ms = access_ms,
					    .access_ms = access_ms, .attrs = attrs};
	uint8_t *rec = malloc(sizeof(h) + attr_len);
	assert_non_null(rec);
	memcpy(rec, &h, sizeof(h));
	if (attr_len)
		memcpy(rec + sizeof(h), attr_bytes, attr_len);
	struct weft_cache_key k = {id, 16, weft_cache_hash(id, 16)};
	struct weft_cache_write w = {WEFT_CACHE_NO_EXPIRY, WEFT_CACHE_NO_EXPIRY};
	assert_int_equal(weft_cache_put(c, &k, rec, (uint32_t)sizeof(h) + attr_len, WEFT_CACHE_PUT,
					0, &w, T.now, NULL),
			 0);
	free(rec);
}

/* Plants a record with one attribute name = value (timeout 600 s), last
 * accessed at access_ms. */
static void plant_attr(const uint8_t id[16], uint64_t access_ms, const char *name,
		       const void *value, uint32_t value_len)
{
	uint16_t nl = (uint16_t)strlen(name);
	uint32_t al = (uint32_t)sizeof(struct weft_session_attr_hdr) + nl + value_len;
	uint8_t *attr = malloc(al);
	assert_non_null(attr);
	struct weft_session_attr_hdr h = {.name_len = nl, .value_len = value_len};
	memcpy(attr, &h, sizeof(h));
	memcpy(attr + sizeof(h), name, nl);
	memcpy(attr + sizeof(h) + nl, value, value_len);
	plant(id, 600, access_ms, 1, attr, al);
	free(attr);
}

/* Plants id with the one attribute name = value (a string), last accessed
 * 120 s ago: past the slack (60 s), so a read refreshes it. Returns that
 * access time. */
static uint64_t plant_stale(const uint8_t id[16], const char *name, const char *value)
{
	uint64_t old = dp_unix_ms() - 120000;
	plant_attr(id, old, name, value, (uint32_t)strlen(value));
	return old;
}

/* The record stored here for id (decoded); false when none. */
static bool stored(const uint8_t id[16], struct weft_sess_record *out)
{
	struct weft_cache_key k = {id, 16, weft_cache_hash(id, 16)};
	struct weft_cache_image img;
	if (weft_cache_peek(store(), &k, T.now, &img) != 0)
		return false;
	assert_int_equal(weft_sess_decode(img.value, img.value_len, out), 0);
	return true;
}

/* The REPLICATE message r carries: its one entry, decoded (a session
 * store's are DISTRIBUTED). */
static void repl_entry(const struct sent *r, struct weft_repl_entry *e, const uint8_t **key,
		       const uint8_t **value)
{
	struct weft_x_replicate x;
	dp_repl_entry(r, STORE, e, key, value, &x);
	assert_int_equal(x.opts.mode, WEFT_MODE_DISTRIBUTED);
}

/* The backup's (PEER's) ack of the REPLICATE r: one entry applied. */
static void peer_ack(const struct sent *r)
{
	struct weft_x_repl_ack ack = {1, 0};
	dp_push_answer(&T, PEER_MAC, PEER_IP, r, WEFT_ST_OK, &ack, sizeof(ack), NULL, 0, 0);
}

/* With a backup: the node's REPLICATE for the op just sent (nothing to the
 * client yet), decoded into *e (and the record it carries into *rec when
 * a PUT); the client is answered only after peer_ack. */
static struct sent repl_of_next(struct rte_mbuf **m, struct weft_repl_entry *e,
				struct weft_sess_record *rec)
{
	static struct sent s[DP_MAXF];
	unsigned n;
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	const uint8_t *k, *v;
	repl_entry(&s[0], e, &k, &v);
	assert_int_equal(e->key_len, 16);
	if (e->kind == WEFT_REPL_PUT) {
		assert_int_equal(e->ttl_ms, WEFT_TTL_NONE);
		assert_int_equal(weft_sess_decode(v, e->value_len, rec), 0);
	}
	struct rte_mbuf *mm[DP_MAXF];
	struct sent ss[DP_MAXF];
	assert_int_equal(dp_poll(&T, mm, ss), 0); /* held: no answer before the ack */
	return s[0];
}

/* With a backup: repl_of_next for the op just sent, then the backup's ack
 * (the frame freed: *e and rec->hdr stay valid, rec->attrs does not). */
static void repl_acked(struct weft_repl_entry *e, struct weft_sess_record *rec)
{
	struct rte_mbuf *m[DP_MAXF];
	struct sent r = repl_of_next(m, e, rec);
	dp_free_all(m, 1);
	peer_ack(&r);
}

/* The one frame the node sends next: to ip:port, for request rid (the
 * frame freed: the payload is not valid, h and len are). */
static struct sent next_answer_to(const uint8_t ip[4], uint16_t port, uint64_t rid)
{
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	dp_expect_one(&T, m, s, &n, ip, port);
	assert_int_equal(s[0].h.request_id, rid);
	dp_free_all(m, n);
	return s[0];
}

/* next_answer_to PEER for its node request nrid, with status. */
static struct sent expect_to_peer(uint64_t nrid, uint16_t status)
{
	struct sent a = next_answer_to(PEER_IP, NODE_PORT, nrid);
	assert_int_equal(a.h.status, status);
	return a;
}

/* Lets the node's request to a silent peer go: past DP_RPC_GIVE_UP_MS,
 * polled (at most 10 times) until no request is in flight. */
static void let_rpc_give_up(void)
{
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	T.now += DP_RPC_GIVE_UP_MS + 1;
	for (unsigned step = 0; step < 10 && dp_rpc_busy(T.fp.dp->lc[0].rpc); step++) {
		dp_free_all(m, dp_poll(&T, m, s));
		T.now += DP_RPC_RTO_MAX_MS;
	}
	assert_false(dp_rpc_busy(T.fp.dp->lc[0].rpc));
}

/* --- one node ---------------------------------------------------------------------- */

static void test_every_action_on_one_node(void **state)
{
	(void)state;
	alone();
	uint8_t id[16], v[1024];
	new_id(id);
	struct weft_x_session_info info;
	uint64_t created0 = lc0()->sessions_created;
	expect_answer(sess(WEFT_SESS_CREATE, id, NULL, NULL, 0), WEFT_ST_OK, 0, NULL, NULL);
	assert_int_equal(lc0()->sessions_created - created0, 1);
	struct weft_cache_opts o;
	weft_cache_get_opts(store(), &o);
	assert_int_equal(o.mode, WEFT_CACHE_MODE_DISTRIBUTED);
	expect_answer(sess(WEFT_SESS_INFO, id, NULL, NULL, 0), WEFT_ST_OK, INFO_LEN, &info, NULL);
	assert_int_equal(info.attrs, 0);
	assert_int_equal(info.max_inactive_s, WEFT_SESSION_DEFAULT_MAX_INACTIVE_S);
	assert_int_equal(info.bytes, sizeof(struct weft_session_record_hdr));
	expect_answer(sess(WEFT_SESS_SET, id, "color", "blue", 0), WEFT_ST_OK, INFO_LEN, &info,
		      NULL);
	assert_int_equal(info.attrs, 0); /* as before the op */
	expect_answer(sess(WEFT_SESS_SET, id, "n", "7", 0), WEFT_ST_OK, INFO_LEN, NULL, NULL);
	assert_int_equal(expect_answer(sess(WEFT_SESS_GET, id, "color", NULL, 0), WEFT_ST_OK,
				       INFO_LEN, &info, v),
			 4);
	assert_memory_equal(v, "blue", 4);
	assert_int_equal(info.attrs, 2);
	expect_answer(sess(WEFT_SESS_GET, id, "nope", NULL, 0), WEFT_ST_NOT_FOUND, 0, NULL, NULL);
	/* LIST: [hdr]"color" [hdr]"n", value sizes kept, no values */
	uint32_t vl = expect_answer(sess(WEFT_SESS_LIST, id, NULL, NULL, 0), WEFT_ST_OK, INFO_LEN,
				    NULL, v);
	assert_int_equal(vl, 6 + 5 + 6 + 1);
	struct weft_session_attr_hdr ah;
	memcpy(&ah, v, sizeof(ah));
	assert_int_equal(ah.name_len, 5);
	assert_int_equal(ah.value_len, 4);
	assert_memory_equal(v + 6, "color", 5);
	/* LOAD: with values */
	vl = expect_answer(sess(WEFT_SESS_LOAD, id, NULL, NULL, 0), WEFT_ST_OK, INFO_LEN, NULL, v);
	assert_int_equal(vl, 6 + 5 + 4 + 6 + 1 + 1);
	assert_memory_equal(v + 11, "blue", 4);
	assert_memory_equal(v + 21, "n7", 2);
	expect_answer(sess(WEFT_SESS_REMOVE, id, "color", NULL, 0), WEFT_ST_OK, 0, NULL, NULL);
	expect_answer(sess(WEFT_SESS_REMOVE, id, "color", NULL, 0), WEFT_ST_NOT_FOUND, 0, NULL,
		      NULL);
	expect_answer(sess(WEFT_SESS_TOUCH, id, NULL, NULL, 120), WEFT_ST_OK, INFO_LEN, NULL, NULL);
	expect_answer(sess(WEFT_SESS_INFO, id, NULL, NULL, 0), WEFT_ST_OK, INFO_LEN, &info, NULL);
	assert_int_equal(info.max_inactive_s, 120);
	assert_int_equal(info.attrs, 1);
	/* a plain GET of the store reads the raw record */
	struct weft_sess_record rec;
	assert_true(stored(id, &rec));
	assert_int_equal(rec.hdr.max_inactive_s, 120);
	uint64_t inv0 = lc0()->sessions_invalidated;
	expect_answer(sess(WEFT_SESS_INVALIDATE, id, NULL, NULL, 0), WEFT_ST_OK, 0, NULL, NULL);
	assert_int_equal(lc0()->sessions_invalidated - inv0, 1);
	assert_false(stored(id, &rec));
	expect_answer(sess(WEFT_SESS_GET, id, "n", NULL, 0), WEFT_ST_NO_SESSION, 0, NULL, NULL);
	expect_answer(sess(WEFT_SESS_INVALIDATE, id, NULL, NULL, 0), WEFT_ST_NO_SESSION, 0, NULL,
		      NULL);
	/* events, in order: created, invalidated (each with store and id) */
	struct weft_dp_sess_event ev[8];
	assert_int_equal(weft_dp_sess_events(T.fp.dp, ev, 8), 2);
	assert_int_equal(ev[0].kind, WEFT_SESSION_CREATED);
	assert_int_equal(ev[1].kind, WEFT_SESSION_INVALIDATED);
	assert_int_equal(ev[1].store_len, strlen(STORE));
	assert_memory_equal(ev[1].store, STORE, strlen(STORE));
	assert_memory_equal(ev[1].id, id, 16);
	assert_int_equal(weft_dp_sess_events(T.fp.dp, ev, 8), 0);
	/* STATS names the op and the counters */
	char buf[1 << 16];
	size_t len = weft_dp_stats_format(T.fp.dp, buf, sizeof(buf));
	assert_true(len < sizeof(buf));
	assert_non_null(strstr(buf, "total.req.session 15\n"));
	assert_non_null(strstr(buf, "total.sessions_created 1\n"));
	assert_non_null(strstr(buf, "total.session_events_dropped 0\n"));
}

static void test_refusals(void **state)
{
	(void)state;
	alone();
	uint8_t id[16], zero[16] = {0};
	new_id(id);
	struct weft_x_session x = {.action = WEFT_SESS_INFO};
	/* unknown session */
	expect_answer(sess(WEFT_SESS_GET, id, "a", NULL, 0), WEFT_ST_NO_SESSION, 0, NULL, NULL);
	/* all-zero id, a 15-byte id, not a session store */
	expect_answer(sess(WEFT_SESS_CREATE, zero, NULL, NULL, 0), WEFT_ST_BAD_REQUEST, 0, NULL,
		      NULL);
	send_raw(CLIENT_IP, CLIENT_PORT, ++T.rid, WEFT_OP_SESSION, 0, STORE, id, 15, &x, sizeof(x),
		 NULL, 0);
	expect_answer(T.rid, WEFT_ST_BAD_REQUEST, 0, NULL, NULL);
	send_raw(CLIENT_IP, CLIENT_PORT, ++T.rid, WEFT_OP_SESSION, 0, "cache", id, 16, &x,
		 sizeof(x), NULL, 0);
	expect_answer(T.rid, WEFT_ST_BAD_REQUEST, 0, NULL, NULL);
	send_raw(CLIENT_IP, CLIENT_PORT, ++T.rid, WEFT_OP_SESSION, 0, "weft.sessionsX", id, 16, &x,
		 sizeof(x), NULL, 0);
	expect_answer(T.rid, WEFT_ST_BAD_REQUEST, 0, NULL, NULL);
	/* a named store of its own is one */
	send_raw(CLIENT_IP, CLIENT_PORT, ++T.rid, WEFT_OP_SESSION, 0, "weft.sessions.shop", id, 16,
		 &x, sizeof(x), NULL, 0);
	expect_answer(T.rid, WEFT_ST_NO_SESSION, 0, NULL, NULL);
	/* reserved bits, a max_inactive where none belongs */
	x.reserved = 1;
	send_raw(CLIENT_IP, CLIENT_PORT, ++T.rid, WEFT_OP_SESSION, 0, STORE, id, 16, &x, sizeof(x),
		 NULL, 0);
	expect_answer(T.rid, WEFT_ST_BAD_REQUEST, 0, NULL, NULL);
	expect_answer(sess(WEFT_SESS_GET, id, "a", NULL, 30), WEFT_ST_BAD_REQUEST, 0, NULL, NULL);
	/* plain writes to a session store; a plain GET is fine */
	expect_answer(sess(WEFT_SESS_CREATE, id, NULL, NULL, 0), WEFT_ST_OK, 0, NULL, NULL);
	struct weft_x_write w = {0, 0};
	send_raw(CLIENT_IP, CLIENT_PORT, ++T.rid, WEFT_OP_PUT, 0, STORE, id, 16, &w, sizeof(w), "x",
		 1);
	expect_answer(T.rid, WEFT_ST_BAD_REQUEST, 0, NULL, NULL);
	send_raw(CLIENT_IP, CLIENT_PORT, ++T.rid, WEFT_OP_DELETE, 0, STORE, id, 16, NULL, 0, NULL,
		 0);
	expect_answer(T.rid, WEFT_ST_BAD_REQUEST, 0, NULL, NULL);
	send_raw(CLIENT_IP, CLIENT_PORT, ++T.rid, WEFT_OP_GET, 0, STORE, id, 16, NULL, 0, NULL, 0);
	assert_int_equal(expect_answer(T.rid, WEFT_ST_OK, sizeof(struct weft_x_version), NULL, NULL),
			 sizeof(struct weft_session_record_hdr));
	/* EXPIRE: not from a client; from a node or an in-node client it is
	 * served (not due: EXISTS) */
	expect_answer(sess(WEFT_SESS_EXPIRE, id, NULL, NULL, 0), WEFT_ST_BAD_REQUEST, 0, NULL, NULL);
	struct weft_x_session ex = {.action = WEFT_SESS_EXPIRE};
	send_raw(CLIENT_IP, CLIENT_PORT, ++T.rid, WEFT_OP_SESSION, WEFT_F_NODE, STORE, id, 16, &ex,
		 sizeof(ex), NULL, 0);
	expect_answer(T.rid, WEFT_ST_EXISTS, 0, NULL, NULL);
	send_raw(NODE_IP, NODE_PORT + 2, ++T.rid, WEFT_OP_SESSION, 0, STORE, id, 16, &ex,
		 sizeof(ex), NULL, 0);
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	dp_expect_one(&T, m, s, &n, NODE_IP, NODE_PORT + 2);
	assert_int_equal(s[0].h.status, WEFT_ST_EXISTS);
	dp_free_all(m, n);
	/* a minority refuses session ops as writes */
	static const uint16_t own[] = {0, 1};
	publish(2, own, 2, true);
	expect_answer(sess(WEFT_SESS_GET, id, "a", NULL, 0), WEFT_ST_NO_QUORUM, 0, NULL, NULL);
}

static void test_value_too_large(void **state)
{
	(void)state;
	alone();
	uint8_t id[16];
	new_id(id);
	/* a session one attribute short of the limit: "big" = 1 MiB - 32 - 6 - 3 - 10 */
	uint32_t vl = WEFT_SESSION_MAX_BYTES - 32 - 6 - 3 - 10;
	uint8_t *big = malloc(vl);
	assert_non_null(big);
	memset(big, 'x', vl);
	plant_attr(id, dp_unix_ms(), "big", big, vl);
	free(big);
	/* 6 + 1 + 3 = 10 bytes fit exactly; 11 do not, and nothing changes */
	expect_answer(sess(WEFT_SESS_SET, id, "q", "abcd", 0), WEFT_ST_VALUE_TOO_LARGE, 0, NULL,
		      NULL);
	struct weft_sess_record rec;
	assert_true(stored(id, &rec));
	assert_int_equal(rec.hdr.attrs, 1);
	expect_answer(sess(WEFT_SESS_SET, id, "q", "abc", 0), WEFT_ST_OK, INFO_LEN, NULL, NULL);
	assert_true(stored(id, &rec));
	assert_int_equal(rec.bytes, WEFT_SESSION_MAX_BYTES);
}

static void test_expiry_on_the_primary(void **state)
{
	(void)state;
	alone();
	uint8_t id[16], id2[16];
	new_id(id);
	new_id(id2);
	/* timeout 1 s (slack 1 s): last access 5 s ago is past the deadline */
	plant(id, 1, dp_unix_ms() - 5000, 0, NULL, 0);
	plant(id2, 1, dp_unix_ms() - 5000, 0, NULL, 0);
	uint64_t exp0 = lc0()->sessions_expired;
	struct weft_x_session ex = {.action = WEFT_SESS_EXPIRE};
	send_raw(CLIENT_IP, CLIENT_PORT, ++T.rid, WEFT_OP_SESSION, WEFT_F_NODE, STORE, id, 16, &ex,
		 sizeof(ex), NULL, 0);
	expect_answer(T.rid, WEFT_ST_OK, 0, NULL, NULL);
	struct weft_sess_record rec;
	assert_false(stored(id, &rec));
	/* a client finding one past its deadline finds it gone (and it goes) */
	expect_answer(sess(WEFT_SESS_GET, id2, "a", NULL, 0), WEFT_ST_NO_SESSION, 0, NULL, NULL);
	assert_false(stored(id2, &rec));
	assert_int_equal(lc0()->sessions_expired - exp0, 2);
	struct weft_dp_sess_event ev[4];
	assert_int_equal(weft_dp_sess_events(T.fp.dp, ev, 4), 2);
	assert_int_equal(ev[0].kind, WEFT_SESSION_EXPIRED);
	assert_memory_equal(ev[0].id, id, 16);
	assert_int_equal(ev[1].kind, WEFT_SESSION_EXPIRED);
}

static void test_event_ring_full_counts_drops(void **state)
{
	(void)state;
	struct weft_dp_sess_event e;
	memset(&e, 0, sizeof(e));
	e.kind = WEFT_SESSION_CREATED;
	unsigned pushed = 0;
	while (pushed < WEFT_DP_SESS_EVENTS_RING && dp_sess_event_push(T.fp.dp, &e) == 0)
		pushed++;
	assert_int_equal(pushed, WEFT_DP_SESS_EVENTS_RING - 1); /* a ring keeps one slot free */
	/* a CREATE now: served, its event dropped and counted */
	alone();
	uint8_t id[16];
	new_id(id);
	uint64_t d0 = lc0()->session_events_dropped;
	expect_answer(sess(WEFT_SESS_CREATE, id, NULL, NULL, 0), WEFT_ST_OK, 0, NULL, NULL);
	assert_int_equal(lc0()->session_events_dropped - d0, 1);
	struct weft_dp_sess_event out[100];
	unsigned got = 0, n;
	while ((n = weft_dp_sess_events(T.fp.dp, out, 100)) > 0)
		got += n;
	assert_int_equal(got, pushed);
}

/* --- with a backup ------------------------------------------------------------------- */

static void test_writes_reach_the_backup_first(void **state)
{
	(void)state;
	with_backup();
	uint8_t id[16], v[1024];
	new_id(id);
	struct rte_mbuf *m[DP_MAXF];
	struct weft_repl_entry e;
	struct weft_sess_record rec;
	uint64_t rid = sess(WEFT_SESS_CREATE, id, NULL, NULL, 0);
	repl_acked(&e, &rec);
	assert_int_equal(e.kind, WEFT_REPL_PUT);
	assert_int_equal(rec.hdr.attrs, 0);
	expect_answer(rid, WEFT_ST_OK, 0, NULL, NULL);
	/* SET: the backup gets the record with the attribute before the OK */
	rid = sess(WEFT_SESS_SET, id, "cart", "3 items", 0);
	struct sent r = repl_of_next(m, &e, &rec);
	assert_int_equal(e.kind, WEFT_REPL_PUT);
	assert_int_equal(rec.hdr.attrs, 1);
	uint32_t pos = 0;
	struct weft_sess_attr a;
	assert_true(weft_sess_attr_next(&rec, &pos, &a));
	assert_memory_equal(a.name, "cart", 4);
	assert_memory_equal(a.value, "3 items", 7);
	struct weft_sess_record here;
	assert_true(stored(id, &here)); /* applied here first */
	struct weft_cache_key k = {id, 16, weft_cache_hash(id, 16)};
	struct weft_cache_image img;
	assert_int_equal(weft_cache_peek(store(), &k, T.now, &img), 0);
	assert_int_equal(e.version, img.version);
	dp_free_all(m, 1);
	peer_ack(&r);
	struct weft_x_session_info info;
	expect_answer(rid, WEFT_ST_OK, INFO_LEN, &info, NULL);
	assert_int_equal(info.attrs, 0);
	/* a read within the slack: answered at once, nothing replicated */
	assert_int_equal(expect_answer(sess(WEFT_SESS_GET, id, "cart", NULL, 0), WEFT_ST_OK,
				       INFO_LEN, NULL, v),
			 7);
	/* INVALIDATE: a DELETE on the backup, with the delete's version */
	rid = sess(WEFT_SESS_INVALIDATE, id, NULL, NULL, 0);
	repl_acked(&e, &rec);
	assert_int_equal(e.kind, WEFT_REPL_DELETE);
	assert_int_equal(e.value_len, 0);
	assert_true(e.version > img.version);
	expect_answer(rid, WEFT_ST_OK, 0, NULL, NULL);
	struct weft_dp_sess_event ev[4];
	assert_int_equal(weft_dp_sess_events(T.fp.dp, ev, 4), 2);
	assert_int_equal(ev[0].kind, WEFT_SESSION_CREATED);
	assert_int_equal(ev[1].kind, WEFT_SESSION_INVALIDATED);
}

/* A GET of "hi" on a fresh session planted stale (plant_stale: "hi" =
 * value): one slack write, held for the backup. */
struct stale_get {
	uint8_t id[16];
	uint64_t old;      /* the planted access time */
	uint64_t sw0, rw0; /* slack / retry writes before the GET */
	uint64_t rid;
	struct rte_mbuf *m[DP_MAXF];
	struct weft_repl_entry e;
	struct weft_sess_record rec; /* the refreshed record, to the backup */
	struct sent r;               /* its REPLICATE, not acked yet */
};

/* With a backup: sends g's GET and checks its held slack write (the
 * access time moved past the slack, 60 s of the 600 s timeout). */
static void stale_get(struct stale_get *g, const char *value)
{
	with_backup();
	new_id(g->id);
	g->old = plant_stale(g->id, "hi", value);
	g->sw0 = lc0()->session_slack_writes;
	g->rw0 = lc0()->session_retry_writes;
	g->rid = sess(WEFT_SESS_GET, g->id, "hi", NULL, 0);
	g->r = repl_of_next(g->m, &g->e, &g->rec);
	assert_int_equal(lc0()->session_slack_writes - g->sw0, 1);
	assert_true(g->rec.hdr.access_ms > g->old + 60000);
}

static void test_stale_read_is_held_with_its_value(void **state)
{
	(void)state;
	uint8_t v[1024];
	/* timeout 600 s (slack 60 s), last access 120 s ago: a read refreshes */
	struct stale_get g;
	stale_get(&g, "there");
	assert_int_equal(g.rec.hdr.attrs, 1);
	dp_free_all(g.m, 1);
	peer_ack(&g.r);
	struct weft_x_session_info info;
	assert_int_equal(expect_answer(g.rid, WEFT_ST_OK, INFO_LEN, &info, v), 5);
	assert_memory_equal(v, "there", 5);
	assert_int_equal(info.access_ms, g.old); /* as the primary saw it */
	assert_true(info.idle_ms >= 120000);
	/* the next read is within the slack: at once */
	expect_answer(sess(WEFT_SESS_GET, g.id, "hi", NULL, 0), WEFT_ST_OK, INFO_LEN, NULL, v);
	assert_int_equal(lc0()->session_slack_writes - g.sw0, 1);
}

/* S6: a retransmission (WEFT_F_RETRY, same request id) of a read whose
 * first attempt made a slack write still held for the backup's ack finds
 * the record refreshed; it is replicated again as it is and held until the
 * backup acks, never answered at once. A first attempt on a fresh record
 * is answered at once with nothing sent to the backup. */
static void test_retried_read_is_held_until_replicated(void **state)
{
	(void)state;
	uint8_t v[1024];
	struct stale_get g; /* the slack write, held */
	stale_get(&g, "yo");
	/* the client's retransmission, before the backup acked */
	struct weft_x_session x = {.action = WEFT_SESS_GET};
	send_raw(CLIENT_IP, CLIENT_PORT, g.rid, WEFT_OP_SESSION, WEFT_F_RETRY, STORE, g.id, 16, &x,
		 sizeof(x), "hi", 2);
	struct rte_mbuf *m2[DP_MAXF];
	struct weft_repl_entry e2;
	struct weft_sess_record rec2;
	struct sent r2 = repl_of_next(m2, &e2, &rec2); /* replicated again, held */
	assert_int_equal(e2.kind, WEFT_REPL_PUT);
	assert_int_equal(e2.version, g.e.version); /* the record as it is */
	assert_int_equal(rec2.hdr.access_ms, g.rec.hdr.access_ms);
	assert_int_equal(lc0()->session_slack_writes - g.sw0, 1);
	assert_int_equal(lc0()->session_retry_writes - g.rw0, 1);
	/* each attempt is answered once its own replication is acked */
	peer_ack(&r2);
	dp_free_all(m2, 1);
	assert_int_equal(expect_answer(g.rid, WEFT_ST_OK, INFO_LEN, NULL, v), 2);
	assert_memory_equal(v, "yo", 2);
	peer_ack(&g.r);
	dp_free_all(g.m, 1);
	assert_int_equal(expect_answer(g.rid, WEFT_ST_OK, INFO_LEN, NULL, v), 2);
	assert_false(dp_rpc_busy(T.fp.dp->lc[0].rpc));
	/* a first attempt on the (now fresh) record: at once, nothing to the
	 * backup (expect_answer: exactly one frame, the client's) */
	expect_answer(sess(WEFT_SESS_GET, g.id, "hi", NULL, 0), WEFT_ST_OK, INFO_LEN, NULL, v);
	expect_answer(sess(WEFT_SESS_LOAD, g.id, NULL, NULL, 0), WEFT_ST_OK, INFO_LEN, NULL, v);
	assert_int_equal(lc0()->session_slack_writes - g.sw0, 1);
	assert_int_equal(lc0()->session_retry_writes - g.rw0, 1);
	/* STATS names it */
	char buf[1 << 16];
	assert_true(weft_dp_stats_format(T.fp.dp, buf, sizeof(buf)) < sizeof(buf));
	assert_non_null(strstr(buf, "total.session_retry_writes "));
}

static void test_silent_backup_gives_busy(void **state)
{
	(void)state;
	with_backup();
	uint8_t id[16];
	new_id(id);
	plant_stale(id, "a", "b");
	/* a held read (its value owned by the hold) that never gets its ack */
	uint64_t rid = sess(WEFT_SESS_LOAD, id, NULL, NULL, 0);
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n = dp_poll(&T, m, s);
	dp_free_all(m, n);
	bool answered = false;
	for (unsigned step = 0; step < 100 && !answered; step++) {
		T.now += 100;
		n = dp_poll(&T, m, s);
		for (unsigned i = 0; i < n; i++)
			if (s[i].dst_ip == dp_ip4(CLIENT_IP)) {
				assert_int_equal(s[i].h.request_id, rid);
				assert_int_equal(s[i].h.status, WEFT_ST_BUSY);
				assert_int_equal(s[i].len, 0); /* no value with BUSY */
				answered = true;
			}
		dp_free_all(m, n);
	}
	assert_true(answered);
	assert_false(dp_rpc_busy(T.fp.dp->lc[0].rpc));
}

static void test_retransmitted_create_is_answered_once(void **state)
{
	(void)state;
	with_backup();
	uint8_t id[16];
	new_id(id);
	struct weft_repl_entry e;
	struct weft_sess_record rec;
	uint64_t rid = sess(WEFT_SESS_CREATE, id, NULL, NULL, 0);
	repl_acked(&e, &rec);
	expect_answer(rid, WEFT_ST_OK, 0, NULL, NULL);
	uint64_t replays0 = lc0()->dedup_replays, created0 = lc0()->sessions_created;
	struct weft_x_session x = {.action = WEFT_SESS_CREATE};
	send_raw(CLIENT_IP, CLIENT_PORT, rid, WEFT_OP_SESSION, WEFT_F_RETRY, STORE, id, 16, &x,
		 sizeof(x), NULL, 0);
	expect_answer(rid, WEFT_ST_OK, 0, NULL, NULL); /* not EXISTS, nothing replicated */
	assert_int_equal(lc0()->dedup_replays - replays0, 1);
	assert_int_equal(lc0()->sessions_created, created0);
	/* a new request for the same id is another CREATE: EXISTS */
	expect_answer(sess(WEFT_SESS_CREATE, id, NULL, NULL, 0), WEFT_ST_EXISTS, 0, NULL, NULL);
	struct weft_dp_sess_event ev[4];
	assert_int_equal(weft_dp_sess_events(T.fp.dp, ev, 4), 1);
}

static void test_non_primary_forwards(void **state)
{
	(void)state;
	static const uint16_t own[] = {1, 0}; /* the peer is the primary */
	publish(2, own, 2, false);
	uint8_t id[16];
	new_id(id);
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	uint64_t rid = sess(WEFT_SESS_GET, id, "a", NULL, 0);
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	assert_int_equal(s[0].h.opcode, WEFT_OP_SESSION);
	assert_int_equal(s[0].h.flags, WEFT_F_NODE);
	assert_int_equal(s[0].h.key_len, 16);
	dp_free_all(m, n);
	/* unanswered, it is sent again, marked a retry (a session read at the
	 * primary is then held until replicated: dp_sess.c) */
	T.now += DP_RPC_RTO_MS + 1;
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	assert_int_equal(s[0].h.flags, WEFT_F_NODE | WEFT_F_RETRY);
	/* the primary's answer (info + value) is relayed */
	struct weft_x_session_info info = {.created_ms = 42, .attrs = 1};
	dp_free_all(m, n);
	dp_push_answer(&T, PEER_MAC, PEER_IP, &s[0], WEFT_ST_OK, &info, INFO_LEN, "val", 3, 0);
	uint8_t v[1024];
	struct weft_x_session_info got;
	assert_int_equal(expect_answer(rid, WEFT_ST_OK, INFO_LEN, &got, v), 3);
	assert_int_equal(got.created_ms, 42);
	assert_memory_equal(v, "val", 3);
	/* a client's EXPIRE is refused here, never forwarded */
	expect_answer(sess(WEFT_SESS_EXPIRE, id, NULL, NULL, 0), WEFT_ST_BAD_REQUEST, 0, NULL, NULL);
	/* neither is an idempotent op remembered as at-most-once on the way:
	 * a GET's retransmission is forwarded again */
	send_raw(CLIENT_IP, CLIENT_PORT, rid, WEFT_OP_SESSION, WEFT_F_RETRY, STORE, id, 16,
		 &(struct weft_x_session){.action = WEFT_SESS_GET}, 8, "a", 1);
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	assert_int_equal(s[0].h.flags, WEFT_F_NODE | WEFT_F_RETRY); /* the client's mark kept */
	dp_free_all(m, n);
	let_rpc_give_up(); /* the peer stays silent */
}

/* --- the join window (read-through to the segment's old owner) -------------------------- */


/* The one frame the node sends next: the SESSION op (action, id, value)
 * passed on to ip with WEFT_F_NODE as a request of its own. */
static struct sent expect_passed_on(struct rte_mbuf **m, const uint8_t ip[4], uint8_t action,
				    const uint8_t id[16], const char *value)
{
	static struct sent s[DP_MAXF];
	unsigned n;
	dp_expect_one(&T, m, s, &n, ip, NODE_PORT);
	assert_int_equal(s[0].h.opcode, WEFT_OP_SESSION);
	assert_int_equal(s[0].h.flags, WEFT_F_NODE);
	assert_true(s[0].h.request_id >> 63); /* the node's own request id */
	assert_int_equal(s[0].h.name_len, strlen(STORE));
	assert_int_equal(s[0].h.key_len, 16);
	assert_int_equal(s[0].h.extras_len, sizeof(struct weft_x_session));
	assert_int_equal(s[0].len, strlen(STORE) + 16 + 8 + strlen(value));
	assert_memory_equal(s[0].payload + strlen(STORE), id, 16);
	assert_int_equal(s[0].payload[strlen(STORE) + 16], action);
	assert_memory_equal(s[0].payload + strlen(STORE) + 24, value, strlen(value));
	return s[0];
}

/* Right after a view change: this node, the segment's new primary, has not
 * yet received a session by state transfer; a miss is asked of the old
 * owner (every action but CREATE, client and node requests), never when a
 * tombstone is here or the window is over; with the old owner DEAD (sim
 * bug S3) the miss is BUSY, not NO_SESSION (a claimed action's
 * at-most-once entry finished: its retransmission is answered BUSY again,
 * not dropped, and nothing is applied); with the old owner LEFT (it handed
 * its segments over) the miss is answered here. */
static void test_join_window_reads_through(void **state)
{
	(void)state;
	static const uint16_t own[] = {0, 1}; /* self the new primary, the peer its backup */
	static const uint16_t prev[] = {1};   /* the peer held the segment before */
	publish_view(2, own, 2, false, prev, T.now + 60000, UINT32_MAX);
	uint8_t id[16], id2[16], v[1024];
	new_id(id);
	new_id(id2);
	uint64_t srt0 = lc0()->session_read_through, rt0 = lc0()->read_through;
	struct rte_mbuf *m[DP_MAXF];

	/* a GET: the old owner's answer (info + value) is relayed */
	uint64_t rid = sess(WEFT_SESS_GET, id, "cart", NULL, 0);
	struct sent f = expect_passed_on(m, PEER_IP, WEFT_SESS_GET, id, "cart");
	struct weft_x_session_info info = {.created_ms = 7, .attrs = 1}, got;
	dp_push_answer(&T, PEER_MAC, PEER_IP, &f, WEFT_ST_OK, &info, INFO_LEN, "3 items", 7, 0);
	dp_free_all(m, 1);
	assert_int_equal(expect_answer(rid, WEFT_ST_OK, INFO_LEN, &got, v), 7);
	assert_memory_equal(v, "3 items", 7);
	assert_int_equal(got.created_ms, 7);
	assert_int_equal(lc0()->session_read_through - srt0, 1);
	assert_int_equal(lc0()->read_through, rt0); /* GETs' counter is another */

	/* never a CREATE: no node can hold the fresh random id, and the old
	 * owner, no longer an owner, would keep a copy no owner's delete
	 * reaches; it is created here and replicated to the backup, and a
	 * retransmission is answered from the at-most-once table */
	rid = sess(WEFT_SESS_CREATE, id2, NULL, NULL, 0);
	struct weft_repl_entry e;
	struct weft_sess_record rec;
	repl_acked(&e, &rec);
	assert_int_equal(e.kind, WEFT_REPL_PUT);
	expect_answer(rid, WEFT_ST_OK, 0, NULL, NULL);
	uint64_t replays0 = lc0()->dedup_replays;
	send_raw(CLIENT_IP, CLIENT_PORT, rid, WEFT_OP_SESSION, WEFT_F_RETRY, STORE, id2, 16,
		 &(struct weft_x_session){.action = WEFT_SESS_CREATE}, 8, NULL, 0);
	expect_answer(rid, WEFT_ST_OK, 0, NULL, NULL); /* and nothing to the peer */
	assert_int_equal(lc0()->dedup_replays - replays0, 1);
	assert_int_equal(lc0()->session_read_through - srt0, 1);
	assert_true(stored(id2, &rec));

	/* a node request (the old owner itself forwarding the op of a client
	 * whose table is old) goes back to it as a request of this node's */
	uint64_t nrid = ++T.rid;
	send_raw(PEER_IP, NODE_PORT, nrid, WEFT_OP_SESSION, WEFT_F_NODE, STORE, id, 16,
		 &(struct weft_x_session){.action = WEFT_SESS_GET}, 8, "cart", 4);
	f = expect_passed_on(m, PEER_IP, WEFT_SESS_GET, id, "cart");
	assert_int_not_equal(f.h.request_id, nrid);
	dp_push_answer(&T, PEER_MAC, PEER_IP, &f, WEFT_ST_OK, &info, INFO_LEN, "3 items", 7, 0);
	dp_free_all(m, 1);
	struct sent a = expect_to_peer(nrid, WEFT_ST_OK);
	assert_int_equal(a.h.flags & WEFT_F_RESPONSE, WEFT_F_RESPONSE);
	assert_int_equal(a.len, INFO_LEN + 7);
	assert_int_equal(lc0()->session_read_through - srt0, 2);

	/* a record here is served here */
	uint8_t id3[16];
	new_id(id3);
	plant(id3, 600, dp_unix_ms(), 0, NULL, 0);
	expect_answer(sess(WEFT_SESS_INFO, id3, NULL, NULL, 0), WEFT_ST_OK, INFO_LEN, NULL, NULL);
	/* deleted here (a tombstone): not asked, the old owner may still hold it */
	struct weft_cache_key k3 = {id3, 16, weft_cache_hash(id3, 16)};
	assert_int_equal(weft_cache_delete(store(), &k3, T.now, NULL), 0);
	expect_answer(sess(WEFT_SESS_INFO, id3, NULL, NULL, 0), WEFT_ST_NO_SESSION, 0, NULL, NULL);
	/* the old owner dead (crashed, still in the view): BUSY, client and
	 * node requests alike, and nothing stored or sent to a peer */
	publish_view(2, own, 2, false, prev, T.now + 60000, 1);
	uint64_t busy0 = lc0()->session_read_through_busy;
	expect_answer(sess(WEFT_SESS_GET, id, "cart", NULL, 0), WEFT_ST_BUSY, 0, NULL, NULL);
	nrid = ++T.rid;
	send_raw(PEER_IP, NODE_PORT, nrid, WEFT_OP_SESSION, WEFT_F_NODE, STORE, id, 16,
		 &(struct weft_x_session){.action = WEFT_SESS_LOAD}, 8, NULL, 0);
	expect_to_peer(nrid, WEFT_ST_BUSY);
	/* a claimed action: BUSY, and its retransmission BUSY again from the
	 * at-most-once table (finished, not left in flight: not dropped) */
	rid = sess(WEFT_SESS_INVALIDATE, id, NULL, NULL, 0);
	expect_answer(rid, WEFT_ST_BUSY, 0, NULL, NULL);
	replays0 = lc0()->dedup_replays;
	send_raw(CLIENT_IP, CLIENT_PORT, rid, WEFT_OP_SESSION, WEFT_F_RETRY, STORE, id, 16,
		 &(struct weft_x_session){.action = WEFT_SESS_INVALIDATE}, 8, NULL, 0);
	expect_answer(rid, WEFT_ST_BUSY, 0, NULL, NULL);
	assert_int_equal(lc0()->dedup_replays - replays0, 1);
	assert_int_equal(lc0()->session_read_through_busy - busy0, 3);
	struct weft_cache_key k1 = {id, 16, weft_cache_hash(id, 16)};
	assert_false(stored(id, &rec));
	assert_false(weft_cache_is_deleted(store(), &k1, T.now));
	/* the old owner LEFT (it handed its segments over), then the window
	 * over: the miss is answered here */
	odd_state = WEFT_DP_MEMBER_LEFT;
	publish_view(2, own, 2, false, prev, T.now + 60000, 1);
	odd_state = WEFT_DP_MEMBER_ALIVE;
	expect_answer(sess(WEFT_SESS_GET, id, "cart", NULL, 0), WEFT_ST_NO_SESSION, 0, NULL, NULL);
	publish_view(2, own, 2, false, prev, T.now, UINT32_MAX);
	expect_answer(sess(WEFT_SESS_GET, id, "cart", NULL, 0), WEFT_ST_NO_SESSION, 0, NULL, NULL);
	assert_int_equal(lc0()->session_read_through - srt0, 2);
	assert_int_equal(lc0()->session_read_through_busy - busy0, 3);
	/* STATS names the counter */
	char buf[1 << 16];
	assert_true(weft_dp_stats_format(T.fp.dp, buf, sizeof(buf)) < sizeof(buf));
	assert_non_null(strstr(buf, "total.session_read_through "));
	assert_non_null(strstr(buf, "total.session_read_through_busy "));
}

/* The other end: the old owner, not the primary of its view, serves the
 * primary's read-through on its copy and replicates the result to the
 * view's owners (the new primary included) before answering; a miss there
 * is answered, never passed on again. */
static void test_old_owner_serves_the_read_through(void **state)
{
	(void)state;
	static const uint16_t own[] = {1, 0}; /* the peer is the new primary */
	publish(2, own, 2, false);
	uint8_t id[16];
	new_id(id);
	plant(id, 600, dp_unix_ms(), 0, NULL, 0);
	uint64_t nrid = ++T.rid;
	struct weft_x_session x = {.action = WEFT_SESS_SET, .attr_len = 4};
	send_raw(PEER_IP, NODE_PORT, nrid, WEFT_OP_SESSION, WEFT_F_NODE, STORE, id, 16, &x,
		 sizeof(x), "cartfull", 8);
	struct weft_repl_entry e;
	struct weft_sess_record rec;
	repl_acked(&e, &rec); /* to the peer, the answer held */
	assert_int_equal(e.kind, WEFT_REPL_PUT);
	assert_int_equal(rec.hdr.attrs, 1);
	struct sent a = expect_to_peer(nrid, WEFT_ST_OK);
	assert_int_equal(a.h.flags & WEFT_F_RESPONSE, WEFT_F_RESPONSE);
	assert_true(stored(id, &rec));
	assert_int_equal(rec.hdr.attrs, 1);

	/* a miss on a node that is not the acting primary is answered even
	 * with a read-through table of its own (no second hop) */
	static const uint16_t own3[] = {1, 0};
	static const uint16_t prev3[] = {2};
	publish_view(3, own3, 2, false, prev3, T.now + 60000, UINT32_MAX);
	uint8_t id2[16];
	new_id(id2);
	uint64_t srt0 = lc0()->session_read_through;
	nrid = ++T.rid;
	send_raw(PEER_IP, NODE_PORT, nrid, WEFT_OP_SESSION, WEFT_F_NODE, STORE, id2, 16,
		 &(struct weft_x_session){.action = WEFT_SESS_GET}, 8, "cart", 4);
	expect_to_peer(nrid, WEFT_ST_NO_SESSION);
	assert_int_equal(lc0()->session_read_through, srt0);
}

/* --- nodes that must not serve ------------------------------------------------------------ */

/* What weftd publishes at start (weft_ctl_publish_self): this node alone,
 * view 0, one owner per segment. */
static void publish_self_only(void)
{
	static const uint16_t own[] = {0};
	static const struct member_spec self = {NODE_IP, WEFT_DP_MEMBER_ALIVE};
	dp_publish(&T, 0, &self, 1, own, 1, false, NULL, 0);
}

/* A clustered node in no view yet (started or restarted: its store is
 * empty, the sessions live on the cluster's owners) answers every SESSION
 * op BUSY, a node request too, and stores nothing; once in a view it
 * serves. */
static void test_no_view_is_busy(void **state)
{
	(void)state;
	publish_self_only();
	uint8_t id[16];
	new_id(id);
	uint64_t created0 = lc0()->sessions_created;
	uint64_t rid = sess(WEFT_SESS_CREATE, id, NULL, NULL, 0);
	expect_answer(rid, WEFT_ST_BUSY, 0, NULL, NULL);
	expect_answer(sess(WEFT_SESS_GET, id, "a", NULL, 0), WEFT_ST_BUSY, 0, NULL, NULL);
	/* a planted record is not served either: the view decides */
	plant(id, 600, dp_unix_ms(), 0, NULL, 0);
	expect_answer(sess(WEFT_SESS_INFO, id, NULL, NULL, 0), WEFT_ST_BUSY, 0, NULL, NULL);
	uint64_t nrid = ++T.rid;
	send_raw(PEER_IP, NODE_PORT, nrid, WEFT_OP_SESSION, WEFT_F_NODE, STORE, id, 16,
		 &(struct weft_x_session){.action = WEFT_SESS_GET}, 8, "a", 1);
	expect_to_peer(nrid, WEFT_ST_BUSY);
	assert_int_equal(lc0()->sessions_created, created0);
	/* the BUSY CREATE was not remembered: its retransmission, once the
	 * node is in a view, creates the session */
	uint8_t id2[16];
	new_id(id2);
	rid = sess(WEFT_SESS_CREATE, id2, NULL, NULL, 0);
	expect_answer(rid, WEFT_ST_BUSY, 0, NULL, NULL);
	alone();
	send_raw(CLIENT_IP, CLIENT_PORT, rid, WEFT_OP_SESSION, WEFT_F_RETRY, STORE, id2, 16,
		 &(struct weft_x_session){.action = WEFT_SESS_CREATE}, 8, NULL, 0);
	expect_answer(rid, WEFT_ST_OK, 0, NULL, NULL);
	assert_int_equal(lc0()->sessions_created - created0, 1);
	expect_answer(sess(WEFT_SESS_INFO, id, NULL, NULL, 0), WEFT_ST_OK, INFO_LEN, NULL, NULL);
}

/* A CREATE forwarded by a node whose view names this node the primary,
 * while this node's view does not make it an owner of the segment (the
 * sender's view is older): BUSY, nothing created (a record here would be
 * replicated to owners that exclude this node: a copy no delete reaches).
 * Another action on a copy held here is still served (the read-through's
 * old owner), and the same CREATE from a client is forwarded. */
static void test_forwarded_create_at_a_non_owner_is_busy(void **state)
{
	(void)state;
	static const uint16_t own[] = {1, 2}; /* this node owns nothing */
	publish(3, own, 2, false);
	uint8_t id[16];
	new_id(id);
	uint64_t created0 = lc0()->sessions_created;
	uint64_t nrid = ++T.rid;
	send_raw(PEER_IP, NODE_PORT, nrid, WEFT_OP_SESSION, WEFT_F_NODE, STORE, id, 16,
		 &(struct weft_x_session){.action = WEFT_SESS_CREATE}, 8, NULL, 0);
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned n;
	struct sent a = expect_to_peer(nrid, WEFT_ST_BUSY);
	assert_int_equal(a.h.flags & WEFT_F_RESPONSE, WEFT_F_RESPONSE);
	assert_int_equal(lc0()->sessions_created, created0);
	assert_false(stored(id, &(struct weft_sess_record){0}));
	/* an INFO on a copy held here is served (read-only: nothing sent) */
	uint8_t id2[16];
	new_id(id2);
	plant(id2, 600, dp_unix_ms(), 0, NULL, 0);
	nrid = ++T.rid;
	send_raw(PEER_IP, NODE_PORT, nrid, WEFT_OP_SESSION, WEFT_F_NODE, STORE, id2, 16,
		 &(struct weft_x_session){.action = WEFT_SESS_INFO}, 8, NULL, 0);
	expect_to_peer(nrid, WEFT_ST_OK);
	/* a client's CREATE goes to the primary */
	sess(WEFT_SESS_CREATE, id, NULL, NULL, 0);
	dp_expect_one(&T, m, s, &n, PEER_IP, NODE_PORT);
	assert_int_equal(s[0].h.opcode, WEFT_OP_SESSION);
	assert_int_equal(s[0].h.flags, WEFT_F_NODE);
	dp_free_all(m, n);
	let_rpc_give_up(); /* the peer stays silent */
}

/* --- a session store stays distributed --------------------------------------------------- */

static uint16_t cache_open(const char *name, uint32_t mode)
{
	struct weft_x_cache_opts o = {.mode = mode};
	uint64_t rid = ++T.rid;
	send_raw(CLIENT_IP, CLIENT_PORT, rid, WEFT_OP_CACHE_OPEN, 0, name, NULL, 0, &o, sizeof(o),
		 NULL, 0);
	return next_answer_to(CLIENT_IP, CLIENT_PORT, rid).h.status;
}

static void test_session_store_stays_distributed(void **state)
{
	(void)state;
	alone();
	static const char *names[] = {STORE, "weft.sessions.open"};
	static const uint32_t other[] = {WEFT_MODE_LOCAL, WEFT_MODE_REPLICATED,
					 WEFT_MODE_INVALIDATED};
	for (unsigned i = 0; i < 2; i++)
		for (unsigned j = 0; j < 3; j++)
			assert_int_equal(cache_open(names[i], other[j]), WEFT_ST_BAD_CACHE_OPTS);
	/* refused before anything was created */
	assert_null(weft_cache_find(T.fp.reg, "weft.sessions.open", 18));
	assert_int_equal(cache_open("weft.sessions.open", WEFT_MODE_DEFAULT), WEFT_ST_OK);
	assert_int_equal(cache_open("weft.sessions.open", WEFT_MODE_DISTRIBUTED), WEFT_ST_OK);
	assert_int_equal(cache_open(STORE, WEFT_MODE_DISTRIBUTED), WEFT_ST_OK);
	struct weft_cache *c = weft_cache_find(T.fp.reg, "weft.sessions.open", 18);
	assert_non_null(c);
	struct weft_cache_opts o;
	weft_cache_get_opts(c, &o);
	assert_int_equal(o.mode, WEFT_CACHE_MODE_DISTRIBUTED);
	/* other caches take any mode; a near name is not a session store */
	assert_int_equal(cache_open("weft.sessionsX", WEFT_MODE_REPLICATED), WEFT_ST_OK);
	assert_int_equal(cache_open("web.sessions", WEFT_MODE_LOCAL), WEFT_ST_OK);
}

/* --- compare-and-delete: an access on another lcore is never lost ------------------------ */

#define RACE_N 256u

struct racer {
	uint8_t ids[RACE_N][16];
	struct weft_cache *c;
	uint64_t fresh_ms;
	atomic_uint go;     /* i + 1: the EXPIRE of session i is sent */
	atomic_uint done;   /* i + 1: the racer's access to session i is over */
	bool wrote[RACE_N]; /* its access was stored (CAS on the version it read) */
};

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Another lcore's access to each session, as soon as its EXPIRE is sent
 * (after a delay that varies, to land at different points of the
 * primary's read-modify-write): the record rewritten with access_ms =
 * fresh, CAS on the version it read. */
static void *racer_main(void *arg)
{
	struct racer *r = arg;
	urcu_qsbr_register_thread();
	for (unsigned i = 0; i < RACE_N; i++) {
		urcu_qsbr_thread_offline();
		uint64_t t0 = wall_ms();
		while (atomic_load(&r->go) < i + 1 && wall_ms() - t0 < 10000)
			;
		for (volatile unsigned spin = 0; spin < (i % 64u) * 300u; spin++)
			;
		urcu_qsbr_thread_online();
		struct weft_cache_key k = {r->ids[i], 16, weft_cache_hash(r->ids[i], 16)};
		struct weft_cache_image img;
		uint8_t rec[sizeof(struct weft_session_record_hdr)];
		if (weft_cache_peek(r->c, &k, 0, &img) == 0 && img.value_len == sizeof(rec)) {
			memcpy(rec, img.value, sizeof(rec));
			struct weft_session_record_hdr h;
			memcpy(&h, rec, sizeof(h));
			h.access_ms = r->fresh_ms;
			memcpy(rec, &h, sizeof(h));
			struct weft_cache_write w = {WEFT_CACHE_NO_EXPIRY, WEFT_CACHE_NO_EXPIRY};
			r->wrote[i] = weft_cache_put(r->c, &k, rec, sizeof(rec), WEFT_CACHE_CAS,
						     img.version, &w, 0, NULL) == 0;
		}
		urcu_qsbr_quiescent_state();
		atomic_store(&r->done, i + 1);
	}
	urcu_qsbr_unregister_thread();
	return NULL;
}

static void test_expire_never_loses_a_concurrent_access(void **state)
{
	(void)state;
	alone();
	static struct racer r;
	memset(&r, 0, sizeof(r));
	uint64_t now = dp_unix_ms();
	for (unsigned i = 0; i < RACE_N; i++) {
		new_id(r.ids[i]);
		r.ids[i][1] = (uint8_t)i; /* unique here and apart from other tests' ids */
		r.ids[i][2] = 0x5a;
		/* 60 s timeout, idle 10 min: due. The racer's access (at now)
		 * keeps a session from being due for 60 s + slack: far longer
		 * than this loop, however loaded the machine (with a 1 s
		 * timeout a slow run saw a stored access legitimately expire). */
		plant(r.ids[i], 60, now - 600000, 0, NULL, 0);
	}
	r.c = store();
	r.fresh_ms = now;
	/* the EAL pinned this thread to one core: let the racer run on any */
	cpu_set_t any;
	CPU_ZERO(&any);
	for (long cpu = 0; cpu < sysconf(_SC_NPROCESSORS_ONLN) && cpu < CPU_SETSIZE; cpu++)
		CPU_SET((int)cpu, &any);
	pthread_attr_t attr;
	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setaffinity_np(&attr, sizeof(any), &any), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, &attr, racer_main, &r), 0);
	pthread_attr_destroy(&attr);
	unsigned expired = 0, kept = 0;
	for (unsigned i = 0; i < RACE_N; i++) {
		struct weft_x_session ex = {.action = WEFT_SESS_EXPIRE};
		uint64_t rid = ++T.rid;
		atomic_store(&r.go, i + 1);
		send_raw(CLIENT_IP, CLIENT_PORT, rid, WEFT_OP_SESSION, WEFT_F_NODE, STORE, r.ids[i],
			 16, &ex, sizeof(ex), NULL, 0);
		uint16_t st = next_answer_to(CLIENT_IP, CLIENT_PORT, rid).h.status;
		uint64_t t0 = wall_ms();
		while (atomic_load(&r.done) < i + 1 && wall_ms() - t0 < 10000)
			;
		assert_true(atomic_load(&r.done) >= i + 1);
		struct weft_sess_record rec;
		if (r.wrote[i]) { /* the access was stored: the session stays, fresh */
			assert_int_equal(st, WEFT_ST_EXISTS);
			assert_true(stored(r.ids[i], &rec));
			assert_int_equal(rec.hdr.access_ms, now);
			kept++;
		} else { /* expired before the access could be stored */
			assert_int_equal(st, WEFT_ST_OK);
			assert_false(stored(r.ids[i], &rec));
			expired++;
		}
		urcu_qsbr_quiescent_state();
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(expired + kept, RACE_N);
	struct weft_dp_sess_event ev[RACE_N];
	assert_int_equal(weft_dp_sess_events(T.fp.dp, ev, RACE_N), expired);
}

/* --- setup ------------------------------------------------------------------------------ */

static int setup(void **state)
{
	(void)state;
	if (dp_node_open(&T, "test_dp_sess", NODE_IP, NODE_PORT, CTL_PORT) != 0)
		return -1;
	dp_learn(&T, PEER_MAC, PEER_IP);
	dp_learn(&T, CLIENT_MAC, CLIENT_IP);
	return 0;
}

static int per_test(void **state)
{
	(void)state;
	assert_false(dp_rpc_busy(T.fp.dp->lc[0].rpc));
	struct weft_dp_sess_event ev[64];
	while (weft_dp_sess_events(T.fp.dp, ev, 64) > 0)
		;
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
		cmocka_unit_test_setup(test_every_action_on_one_node, per_test),
		cmocka_unit_test_setup(test_refusals, per_test),
		cmocka_unit_test_setup(test_value_too_large, per_test),
		cmocka_unit_test_setup(test_expiry_on_the_primary, per_test),
		cmocka_unit_test_setup(test_event_ring_full_counts_drops, per_test),
		cmocka_unit_test_setup(test_writes_reach_the_backup_first, per_test),
		cmocka_unit_test_setup(test_stale_read_is_held_with_its_value, per_test),
		cmocka_unit_test_setup(test_retried_read_is_held_until_replicated, per_test),
		cmocka_unit_test_setup(test_silent_backup_gives_busy, per_test),
		cmocka_unit_test_setup(test_retransmitted_create_is_answered_once, per_test),
		cmocka_unit_test_setup(test_non_primary_forwards, per_test),
		cmocka_unit_test_setup(test_join_window_reads_through, per_test),
		cmocka_unit_test_setup(test_old_owner_serves_the_read_through, per_test),
		cmocka_unit_test_setup(test_no_view_is_busy, per_test),
		cmocka_unit_test_setup(test_forwarded_create_at_a_non_owner_is_busy, per_test),
		cmocka_unit_test_setup(test_session_store_stays_distributed, per_test),
		cmocka_unit_test_setup(test_expire_never_loses_a_concurrent_access, per_test),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
