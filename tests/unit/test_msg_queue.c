/*
 * Unit tests of msg/ queues (msg.h): names, properties and options; the
 * registry (open with DLQ, find, stop); publish / receive / ack order;
 * NACK, visibility timeouts and delivery counts; dead-lettering after
 * max_deliveries; consumer leases; FULL by depth and by bytes; TTL; parked
 * waiters (least-loaded choice, deadline, -EBUSY bound); role changes;
 * replication records, tombstones and snapshots; stats.
 *
 * Time is the `now` argument (virtual, no sleeps). The test thread is a
 * registered QSBR reader, online as an lcore would be.
 */
#include "test_msg_sink.h"

/* --- tests ------------------------------------------------------------------- */

static void test_names_props_opts(void **state)
{
	(void)state;
	assert_int_equal(weft_dest_kind_of("/queue/a", 8), WEFT_DEST_QUEUE);
	assert_int_equal(weft_dest_kind_of("/topic/news", 11), WEFT_DEST_TOPIC);
	assert_int_equal(weft_dest_kind_of("/queue/", 7), WEFT_DEST_INVALID);
	assert_int_equal(weft_dest_kind_of("/queue/a b", 10), WEFT_DEST_INVALID);
	assert_int_equal(weft_dest_kind_of("/cache/a", 8), WEFT_DEST_INVALID);
	assert_int_equal(weft_dest_kind_of(NULL, 8), WEFT_DEST_INVALID);
	char longname[80];
	memset(longname, 'x', sizeof(longname));
	memcpy(longname, "/queue/", 7);
	/* A queue's name leaves room for its DLQ's ".dlq". */
	assert_int_equal(weft_dest_kind_of(longname, 60), WEFT_DEST_QUEUE);
	assert_int_equal(weft_dest_kind_of(longname, 61), WEFT_DEST_INVALID);
	memcpy(longname + 60, ".dlq", 4);
	assert_int_equal(weft_dest_kind_of(longname, 64), WEFT_DEST_QUEUE);
	assert_int_equal(weft_dest_kind_of(longname, 65), WEFT_DEST_INVALID);
	memcpy(longname, "/topic/", 7);
	assert_int_equal(weft_dest_kind_of(longname, 64), WEFT_DEST_TOPIC);

	struct weft_dest *d = NULL;
	assert_int_equal(weft_msg_open(reg, "/queue/a b", 10, NULL, &d), -EINVAL);
	assert_int_equal(weft_msg_open(reg, "queue", 5, NULL, &d), -EINVAL);
	assert_int_equal(weft_msg_count(reg), 0);

	/* properties: [u8 nl][name][u16 vl][value] */
	uint8_t p[64] = {12, 'c', 'o', 'n', 't', 'e', 'n', 't', '-', 't', 'y', 'p', 'e', 4, 0,
			 't', 'e', 'x', 't'};
	assert_true(weft_msg_props_valid(p, 19));
	assert_true(weft_msg_props_valid(NULL, 0));
	assert_false(weft_msg_props_valid(p, 18)); /* value cut */
	assert_false(weft_msg_props_valid(p, 14)); /* length cut */
	uint8_t bad[8] = {0, 1, 0, 'x'};
	assert_false(weft_msg_props_valid(bad, 4)); /* empty name */
	uint8_t big[8] = {1, 'a', 0x01, 0x04}; /* value_len 1025 */
	assert_false(weft_msg_props_valid(big, 4));
	uint8_t ctl[8] = {1, 0x07, 0, 0};
	assert_false(weft_msg_props_valid(ctl, 4));
	assert_false(weft_msg_props_valid(p, WEFT_MAX_PROPS_LEN + 1));

	struct weft_x_dest_opts w = {0};
	struct weft_dest_opts o;
	assert_int_equal(weft_dest_opts_from_wire(&w, &o), 0);
	assert_int_equal(o.max_depth, WEFT_MSG_DEFAULT_DEPTH);
	assert_int_equal(o.max_deliveries, WEFT_MSG_DEFAULT_DELIVERIES);
	assert_int_equal(o.visibility_ms, WEFT_MSG_DEFAULT_VISIBILITY_MS);
	assert_true(o.max_bytes == WEFT_MSG_DEFAULT_BYTES);
	assert_true(o.default_ttl_ms == 0);
	w.max_depth = 7;
	w.default_ttl_ms = 9;
	assert_int_equal(weft_dest_opts_from_wire(&w, &o), 0);
	struct weft_x_dest_opts w2;
	weft_dest_opts_to_wire(&o, &w2);
	assert_int_equal(w2.max_depth, 7);
	assert_true(w2.default_ttl_ms == 9);
	w.max_depth = 10000001;
	assert_int_equal(weft_dest_opts_from_wire(&w, &o), -EINVAL);
	w.max_depth = 0;
	w.visibility_ms = 12u * 3600u * 1000u + 1;
	assert_int_equal(weft_dest_opts_from_wire(&w, &o), -EINVAL);
	w.visibility_ms = 0;
	w.max_deliveries = 1001;
	assert_int_equal(weft_dest_opts_from_wire(&w, &o), -EINVAL);
}

static void test_registry_dlq(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/jobs", NULL);
	assert_int_equal(weft_msg_count(reg), 2);
	struct weft_dest *dlq = weft_dest_dlq(d);
	assert_non_null(dlq);
	assert_ptr_equal(weft_msg_find(reg, "/queue/jobs.dlq", 15), dlq);
	assert_ptr_equal(weft_msg_find(reg, "/queue/jobs", 11), d);
	assert_null(weft_msg_find(reg, "/queue/other", 12));
	assert_null(weft_dest_dlq(dlq));
	assert_true(weft_dest_route_hash(d) == weft_dest_route_hash(dlq));
	size_t len;
	assert_memory_equal(weft_dest_name(dlq, &len), "/queue/jobs.dlq", 15);
	assert_int_equal(len, 15);
	assert_int_equal(weft_dest_kind(d), WEFT_DEST_QUEUE);
	assert_int_equal(weft_dest_role(d), WEFT_ROLE_PRIMARY);

	/* an existing destination keeps its options */
	struct weft_dest_opts o = {.max_depth = 3, .max_deliveries = 1, .visibility_ms = 10,
				   .max_bytes = 100};
	struct weft_dest *again = open_q("/queue/jobs", &o);
	assert_ptr_equal(again, d);
	assert_int_equal(weft_dest_get_opts(d)->max_depth, WEFT_MSG_DEFAULT_DEPTH);
	struct weft_dest *t = open_q("/topic/t", &o);
	assert_int_equal(weft_dest_get_opts(t)->max_depth, 3);
	assert_null(weft_dest_dlq(t));
	assert_int_equal(weft_msg_count(reg), 3);
}

static void test_publish_receive_ack_order(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	uint64_t ids[5];
	for (int i = 0; i < 5; i++)
		ids[i] = pub(d, T0, "hello");
	for (int i = 1; i < 5; i++)
		assert_true(ids[i] > ids[i - 1]);
	assert_int_equal(count_rec(WEFT_MSGREC_APPEND), 5);

	uint64_t got[64];
	uint16_t dv[64];
	assert_int_equal(recv_ids(d, T0, 11, 3, 0, got, dv), 3);
	for (int i = 0; i < 3; i++) {
		assert_true(got[i] == ids[i]);
		assert_int_equal(dv[i], 1);
	}
	assert_int_equal(recv_ids(d, T0, 12, 64, 0, got + 3, dv), 2);
	assert_true(got[3] == ids[3] && got[4] == ids[4]);
	assert_int_equal(recv_ids(d, T0, 12, 64, 0, NULL, NULL), 0);

	uint32_t done = 0, unknown = 0;
	ack(d, T0, 12, WEFT_ACK_ACK, got, 5, &done, &unknown); /* 12 holds only 2 */
	assert_int_equal(done, 2);
	assert_int_equal(unknown, 3);
	ack(d, T0, 11, WEFT_ACK_ACK, got, 3, &done, &unknown);
	assert_int_equal(done, 3);
	assert_int_equal(unknown, 0);
	ack(d, T0, 11, WEFT_ACK_ACK, got, 1, &done, &unknown); /* twice */
	assert_int_equal(done, 0);
	assert_int_equal(unknown, 1);
	assert_int_equal(count_rec(WEFT_MSGREC_REMOVE), 5);
	struct weft_dest_stats st = stats(d);
	assert_int_equal(st.depth, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(st.published, 5);
	assert_int_equal(st.delivered, 5);
	assert_int_equal(st.acked, 5);
	assert_int_equal(st.redelivered, 0);
	assert_int_equal(st.consumers, 2);
	assert_int_equal(st.kind, WEFT_DEST_QUEUE);
	assert_int_equal(st.role, WEFT_ROLE_PRIMARY);

	/* a duplicate id (held or removed) changes nothing */
	struct weft_msg *dup = weft_msg_new(ids[0], 0, NULL, 0, "x", 1);
	weft_dest_lock(d);
	assert_int_equal(weft_dest_publish(d, T0, dup, &sink), -EEXIST);
	weft_dest_unlock(d);
	weft_msg_unref(dup);
}

static void test_nack_returns_first(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	uint64_t a = pub(d, T0, "a"), b = pub(d, T0, "b"), c = pub(d, T0, "c");
	uint64_t got[3];
	assert_int_equal(recv_ids(d, T0, 1, 2, 0, got, NULL), 2);
	uint32_t done, unknown;
	ack(d, T0, 1, WEFT_ACK_NACK, &b, 1, &done, &unknown);
	assert_int_equal(done, 1);
	/* b came back: it leaves before the newer c */
	uint16_t dv[3];
	assert_int_equal(recv_ids(d, T0, 2, 3, 0, got, dv), 2);
	assert_true(got[0] == b && got[1] == c);
	assert_int_equal(dv[0], 2);
	assert_int_equal(dv[1], 1);
	assert_int_equal(stats(d).redelivered, 1);
	assert_int_equal(stats(d).inflight, 3);
	(void)a;
}

static void test_visibility_timeout(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	assert_true(tick(d, T0) == UINT64_MAX); /* nothing timed */
	uint64_t id = pub(d, T0, "a");
	uint64_t got;
	assert_int_equal(recv_ids(d, T0, 1, 1, 1000, &got, NULL), 1);
	/* keep the consumer alive with acks of nothing, so only visibility acts */
	uint64_t next = tick(d, T0 + 1);
	assert_true(next <= T0 + 1000);
	assert_int_equal(stats(d).inflight, 1);
	ack(d, T0 + 999, 1, WEFT_ACK_ACK, NULL, 0, NULL, NULL);
	tick(d, T0 + 999);
	assert_int_equal(stats(d).inflight, 1);
	tick(d, T0 + 1000);
	assert_int_equal(stats(d).inflight, 0);
	uint16_t dv;
	assert_int_equal(recv_ids(d, T0 + 1000, 2, 1, 0, &got, &dv), 1);
	assert_true(got == id);
	assert_int_equal(dv, 2);
	/* the first consumer's late ack is refused: it is not its message now */
	uint32_t done, unknown;
	ack(d, T0 + 1001, 1, WEFT_ACK_ACK, &id, 1, &done, &unknown);
	assert_int_equal(done, 0);
	assert_int_equal(unknown, 1);
	assert_int_equal(stats(d).redelivered, 1);
	/* default visibility: the destination's */
	assert_true(tick(d, T0 + 1001) <= T0 + 1000 + WEFT_MSG_DEFAULT_VISIBILITY_MS);
}

static void test_dead_letter_after_max_deliveries(void **state)
{
	(void)state;
	struct weft_dest_opts o = {.max_deliveries = 2};
	struct weft_dest *d = open_q("/queue/q", &o);
	struct weft_dest *dlq = weft_dest_dlq(d);
	uint64_t id = pub(d, T0, "poison");
	uint64_t got;
	uint32_t done, unknown;
	assert_int_equal(recv_ids(d, T0, 1, 1, 0, &got, NULL), 1);
	ack(d, T0, 1, WEFT_ACK_NACK, &id, 1, &done, &unknown);
	assert_int_equal(stats(d).depth, 1);
	assert_int_equal(count_rec(WEFT_MSGREC_DEAD), 0);
	/* second delivery times out: max_deliveries reached, dead */
	assert_int_equal(recv_ids(d, T0, 1, 1, 50, &got, NULL), 1);
	tick(d, T0 + 50);
	struct weft_dest_stats st = stats(d);
	assert_int_equal(st.depth, 0);
	assert_int_equal(st.dead, 1);
	assert_int_equal(count_rec(WEFT_MSGREC_DEAD), 1);
	assert_true(sb->rec[sb->n_rec - 1].id == id);
	assert_ptr_equal(sb->rec[sb->n_rec - 1].d, d);
	st = stats(dlq);
	assert_int_equal(st.depth, 1);
	assert_int_equal(st.published, 1);
	uint16_t dv;
	assert_int_equal(recv_ids(dlq, T0 + 60, 5, 1, 0, &got, &dv), 1);
	assert_true(got == id);
	assert_int_equal(dv, 1);
	/* an id dead-lettered is remembered: a late APPEND stays out */
	struct weft_msg *m = weft_msg_new(id, 0, NULL, 0, "x", 1);
	weft_dest_lock(d);
	assert_int_equal(weft_dest_publish(d, T0 + 70, m, &sink), -EEXIST);
	assert_int_equal(weft_dest_apply(d, T0 + 70, NULL, 0, WEFT_MSGREC_APPEND, m, 0), 0);
	weft_dest_unlock(d);
	weft_msg_unref(m);

	/* NACK path dead-letters too */
	struct weft_dest_opts o1 = {.max_deliveries = 1};
	struct weft_dest *d1 = open_q("/queue/one", &o1);
	uint64_t id1 = pub(d1, T0, "p");
	assert_int_equal(recv_ids(d1, T0, 1, 1, 0, &got, NULL), 1);
	ack(d1, T0, 1, WEFT_ACK_NACK, &id1, 1, &done, &unknown);
	assert_int_equal(done, 1);
	assert_int_equal(stats(d1).dead, 1);
	assert_int_equal(stats(weft_dest_dlq(d1)).depth, 1);
}

static void test_lease_expiry_releases(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	uint64_t id = pub(d, T0, "a");
	uint64_t got;
	assert_int_equal(recv_ids(d, T0, 1, 1, 600000, &got, NULL), 1);
	assert_int_equal(stats(d).consumers, 1);
	uint64_t next = tick(d, T0 + 1);
	assert_true(next == T0 + WEFT_CONSUMER_LEASE_MS);
	tick(d, T0 + WEFT_CONSUMER_LEASE_MS - 1);
	assert_int_equal(stats(d).inflight, 1);
	tick(d, T0 + WEFT_CONSUMER_LEASE_MS);
	struct weft_dest_stats st = stats(d);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(st.consumers, 0);
	uint16_t dv;
	assert_int_equal(recv_ids(d, T0 + WEFT_CONSUMER_LEASE_MS, 2, 1, 0, &got, &dv), 1);
	assert_true(got == id);
	assert_int_equal(dv, 2);
	assert_int_equal(stats(d).redelivered, 1);

	/* an ACK renews the lease */
	uint64_t t = T0 + WEFT_CONSUMER_LEASE_MS;
	uint64_t id2 = pub(d, t, "b");
	assert_int_equal(recv_ids(d, t, 3, 1, 600000, &got, NULL), 1);
	ack(d, t + 4000, 3, WEFT_ACK_ACK, NULL, 0, NULL, NULL);
	tick(d, t + WEFT_CONSUMER_LEASE_MS);
	/* consumer 2 (last seen at t) is gone, consumer 3 (acked at t+4000) not */
	assert_int_equal(stats(d).inflight, 1);
	assert_int_equal(stats(d).consumers, 1);
	uint32_t done, unknown;
	ack(d, t + WEFT_CONSUMER_LEASE_MS, 3, WEFT_ACK_ACK, &id2, 1, &done, &unknown);
	assert_int_equal(done, 1);
}

static void test_full_by_depth_and_bytes(void **state)
{
	(void)state;
	struct weft_dest_opts o = {.max_depth = 2};
	struct weft_dest *d = open_q("/queue/d", &o);
	pub(d, T0, "a");
	pub(d, T0, "b");
	int rc;
	assert_true(pub_ttl(d, T0, "c", 0, &rc) == 0);
	assert_int_equal(rc, -ENOSPC);
	struct weft_dest_stats st = stats(d);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.depth, 2);
	assert_int_equal(st.published, 2);
	/* in flight still counts; an ack makes room */
	uint64_t got[2];
	assert_int_equal(recv_ids(d, T0, 1, 2, 0, got, NULL), 2);
	assert_true(pub_ttl(d, T0, "c", 0, &rc) == 0);
	ack(d, T0, 1, WEFT_ACK_ACK, got, 1, NULL, NULL);
	pub(d, T0, "c");

	struct weft_dest_opts ob = {.max_bytes = 10};
	struct weft_dest *b = open_q("/queue/b", &ob);
	pub(b, T0, "123456");
	assert_true(pub_ttl(b, T0, "12345", 0, &rc) == 0);
	assert_int_equal(rc, -ENOSPC);
	pub(b, T0, "1234");
	assert_int_equal(stats(b).bytes, 10);
	assert_int_equal(stats(b).full, 1);
}

static void test_ttl_expiry(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	int rc;
	pub_ttl(d, T0, "short", T0 + 100, &rc);
	uint64_t keep = pub(d, T0, "keep");
	pub_ttl(d, T0, "short2", T0 + 200, &rc);
	assert_true(tick(d, T0) == T0 + 100);
	tick(d, T0 + 100);
	assert_int_equal(stats(d).expired, 1);
	assert_int_equal(stats(d).depth, 2);
	/* an expired message is never delivered, even before a tick */
	uint64_t got[4];
	assert_int_equal(recv_ids(d, T0 + 500, 1, 4, 0, got, NULL), 1);
	assert_true(got[0] == keep);
	assert_int_equal(stats(d).expired, 2);
	assert_int_equal(stats(d).depth, 1);
	/* a message that expires in flight is dropped when it comes back */
	uint64_t e = pub_ttl(d, T0 + 500, "e", T0 + 700, &rc);
	assert_int_equal(recv_ids(d, T0 + 500, 2, 1, 0, got, NULL), 1);
	ack(d, T0 + 800, 2, WEFT_ACK_NACK, &e, 1, NULL, NULL);
	assert_int_equal(stats(d).expired, 3);
}

static void test_waiter_deadline_and_answer(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	struct weft_delivery dl;
	assert_int_equal(recv_full(d, T0, 7, 2, 500, 0, 42, &dl), 0);
	assert_int_equal(stats(d).waiting, 1);
	assert_true(tick(d, T0 + 10) == T0 + 500);
	tick(d, T0 + 499);
	assert_int_equal(sb->n_got, 0);
	tick(d, T0 + 500);
	assert_int_equal(sb->n_got, 1);
	assert_int_equal(sb->got[0].status, WEFT_ST_OK);
	assert_int_equal(sb->got[0].n, 0);
	assert_int_equal(sb->got[0].token0, 42);
	assert_true(sb->got[0].consumer_id == 7);
	assert_int_equal(stats(d).waiting, 0);

	/* a publish answers a parked waiter with up to its max */
	assert_int_equal(recv_full(d, T0 + 600, 8, 2, 5000, 0, 43, &dl), 0);
	uint64_t id = pub(d, T0 + 700, "x");
	assert_int_equal(sb->n_got, 2);
	assert_int_equal(sb->got[1].n, 1);
	assert_true(sb->got[1].ids[0] == id);
	assert_int_equal(sb->got[1].deliveries[0], 1);
	assert_int_equal(sb->got[1].token0, 43);
	assert_int_equal(stats(d).inflight, 1);
	/* wait_ms 0 with nothing: answered at once, empty */
	assert_int_equal(recv_full(d, T0 + 700, 9, 2, 0, 0, 44, &dl), 1);
	assert_int_equal(dl.n, 0);
	assert_int_equal(dl.status, WEFT_ST_OK);
	assert_int_equal(dl.token[0], 44);
}

static void test_waiter_keeps_consumer_alive(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	pub(d, T0, "a");
	uint64_t got;
	assert_int_equal(recv_ids(d, T0, 1, 1, 600000, &got, NULL), 1);
	struct weft_delivery dl;
	assert_int_equal(recv_full(d, T0, 1, 1, 20000, 0, 1, &dl), 0);
	tick(d, T0 + WEFT_CONSUMER_LEASE_MS + 1);
	assert_int_equal(stats(d).inflight, 1); /* parked: alive */
	tick(d, T0 + 20000); /* answered empty: lease renewed from then */
	assert_int_equal(sb->n_got, 1);
	tick(d, T0 + 20000 + WEFT_CONSUMER_LEASE_MS - 1);
	assert_int_equal(stats(d).inflight, 1);
	tick(d, T0 + 20000 + WEFT_CONSUMER_LEASE_MS);
	assert_int_equal(stats(d).inflight, 0);
}

static void test_waiters_bounded(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	struct weft_delivery dl;
	for (uint32_t i = 0; i < WEFT_MSG_WAITERS_MAX; i++)
		assert_int_equal(recv_full(d, T0, 1000 + i, 1, 1000, 0, 0, &dl), 0);
	assert_int_equal(recv_full(d, T0, 1, 1, 1000, 0, 0, &dl), -EBUSY);
	assert_int_equal(stats(d).waiting, WEFT_MSG_WAITERS_MAX);
	tick(d, T0 + 1000);
	assert_int_equal(sb->n_got, WEFT_MSG_WAITERS_MAX);
	assert_int_equal(stats(d).waiting, 0);
}

static void test_consumers_bounded(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	struct weft_delivery dl;
	for (uint32_t i = 0; i < WEFT_MSG_CONSUMERS_MAX; i++)
		assert_int_equal(recv_full(d, T0, 1 + i, 1, 0, 0, 0, &dl), 1);
	assert_int_equal(recv_full(d, T0, 999999, 1, 0, 0, 0, &dl), -EBUSY);
	tick(d, T0 + WEFT_CONSUMER_LEASE_MS);
	assert_int_equal(stats(d).consumers, 0);
	assert_int_equal(recv_full(d, T0, 999999, 1, 0, 0, 0, &dl), 1);
}

static void test_least_loaded_waiter(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	uint64_t got[4];
	pub(d, T0, "1");
	pub(d, T0, "2");
	pub(d, T0, "3");
	/* A: 2 in flight; C: 1 delivered then acked; B: nothing yet */
	assert_int_equal(recv_ids(d, T0, 0xA, 2, 0, got, NULL), 2);
	assert_int_equal(recv_ids(d, T0, 0xC, 1, 0, got, NULL), 1);
	ack(d, T0, 0xC, WEFT_ACK_ACK, got, 1, NULL, NULL);
	struct weft_delivery dl;
	assert_int_equal(recv_full(d, T0, 0xA, 1, 5000, 0, 'A', &dl), 0);
	assert_int_equal(recv_full(d, T0, 0xC, 1, 5000, 0, 'C', &dl), 0);
	assert_int_equal(recv_full(d, T0, 0xB, 1, 5000, 0, 'B', &dl), 0);
	pub(d, T0 + 1, "4");
	assert_int_equal(sb->n_got, 1);
	assert_int_equal(sb->got[0].token0, 'B'); /* 0 in flight, 0 delivered */
	pub(d, T0 + 2, "5");
	assert_int_equal(sb->got[1].token0, 'C'); /* 0 in flight, 1 delivered */
	pub(d, T0 + 3, "6");
	assert_int_equal(sb->got[2].token0, 'A');

	/* one consumer with two parked requests: the oldest is answered */
	assert_int_equal(recv_full(d, T0 + 4, 0xD, 1, 5000, 0, 1, &dl), 0);
	assert_int_equal(recv_full(d, T0 + 4, 0xD, 1, 5000, 0, 2, &dl), 0);
	pub(d, T0 + 5, "7");
	assert_int_equal(sb->got[3].token0, 1);
	assert_int_equal(stats(d).waiting, 1);
}

/* A consumer that (re)starts joins the rotation: it does not take every
 * message until its count catches up with a consumer that has been
 * receiving for a long time. */
static void test_new_consumer_joins_rotation(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	uint64_t got[1];
	for (int i = 0; i < 20; i++) { /* A alone for a while */
		pub(d, T0, "old");
		assert_int_equal(recv_ids(d, T0, 0xA, 1, 0, got, NULL), 1);
		ack(d, T0, 0xA, WEFT_ACK_ACK, got, 1, NULL, NULL);
	}
	unsigned to_a = 0, to_b = 0;
	struct weft_delivery dl;
	for (int i = 0; i < 10; i++) {
		/* both wait; one message; the one answered acks and waits again */
		if (i == 0) {
			assert_int_equal(recv_full(d, T0, 0xA, 1, 5000, 0, 'A', &dl), 0);
			assert_int_equal(recv_full(d, T0, 0xB, 1, 5000, 0, 'B', &dl), 0);
		}
		unsigned before = sb->n_got;
		pub(d, T0 + 1, "new");
		assert_int_equal(sb->n_got, before + 1);
		struct got *g = &sb->got[before];
		uint64_t cid = g->token0 == 'A' ? 0xA : 0xB;
		to_a += g->token0 == 'A';
		to_b += g->token0 == 'B';
		ack(d, T0 + 1, cid, WEFT_ACK_ACK, g->ids, 1, NULL, NULL);
		assert_int_equal(recv_full(d, T0 + 1, cid, 1, 5000, 0, g->token0, &dl), 0);
	}
	assert_int_equal(to_a, 5);
	assert_int_equal(to_b, 5);
}

static void test_unsubscribe_releases(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	uint64_t a = pub(d, T0, "a");
	uint64_t got;
	assert_int_equal(recv_ids(d, T0, 1, 1, 0, &got, NULL), 1);
	struct weft_delivery dl;
	assert_int_equal(recv_full(d, T0, 1, 1, 5000, 0, 9, &dl), 0);
	weft_dest_lock(d);
	assert_int_equal(weft_dest_unsubscribe(d, T0, 1, NULL, 0, &sink), 0);
	weft_dest_unlock(d);
	assert_int_equal(sb->n_got, 1);
	assert_int_equal(sb->got[0].n, 0);
	assert_int_equal(sb->got[0].status, WEFT_ST_OK);
	struct weft_dest_stats st = stats(d);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(st.consumers, 0);
	assert_int_equal(st.waiting, 0);
	assert_int_equal(recv_ids(d, T0, 2, 1, 0, &got, NULL), 1);
	assert_true(got == a);
}

static void test_set_role_not_owner(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	pub(d, T0, "a");
	uint64_t got;
	assert_int_equal(recv_ids(d, T0, 1, 1, 0, &got, NULL), 1);
	struct weft_delivery dl;
	assert_int_equal(recv_full(d, T0, 2, 1, 5000, 0, 5, &dl), 0);
	weft_dest_lock(d);
	weft_dest_set_role(d, T0 + 1, WEFT_ROLE_BACKUP, &sink);
	weft_dest_unlock(d);
	assert_int_equal(sb->n_got, 1);
	assert_int_equal(sb->got[0].status, WEFT_ST_NOT_OWNER);
	assert_int_equal(sb->got[0].token0, 5);
	struct weft_dest_stats st = stats(d);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(st.depth, 1);
	assert_int_equal(st.waiting, 0);
	assert_int_equal(st.role, WEFT_ROLE_BACKUP);
	/* back to primary: the message is deliverable (second delivery) */
	weft_dest_lock(d);
	weft_dest_set_role(d, T0 + 2, WEFT_ROLE_PRIMARY, &sink);
	weft_dest_unlock(d);
	uint16_t dv;
	assert_int_equal(recv_ids(d, T0 + 2, 3, 1, 0, &got, &dv), 1);
	assert_int_equal(dv, 2);

	/* clear: everything dropped, waiters answered NOT_OWNER */
	assert_int_equal(recv_full(d, T0 + 3, 4, 1, 5000, 0, 6, &dl), 0);
	weft_dest_lock(d);
	weft_dest_clear(d, &sink);
	weft_dest_unlock(d);
	assert_int_equal(sb->got[1].status, WEFT_ST_NOT_OWNER);
	st = stats(d);
	assert_int_equal(st.depth, 0);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(st.consumers, 0);
}

static void test_stop_not_found(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	pub(d, T0, "a");
	struct weft_delivery dl;
	struct weft_dest *dlq = weft_dest_dlq(d);
	assert_int_equal(recv_full(dlq, T0, 2, 1, 5000, 0, 8, &dl), 0);
	/* stopping the DLQ by name while its queue exists only empties it */
	assert_int_equal(weft_msg_stop(reg, "/queue/q.dlq", 12, &sink), 0);
	assert_int_equal(sb->n_got, 1);
	assert_int_equal(sb->got[0].status, WEFT_ST_NOT_FOUND);
	assert_ptr_equal(weft_msg_find(reg, "/queue/q.dlq", 12), dlq);

	assert_int_equal(recv_full(d, T0, 1, 1, 0, 0, 0, &dl), 1);
	dl_unref(&dl);
	assert_int_equal(recv_full(d, T0, 1, 1, 5000, 0, 7, &dl), 0);
	sink_reset();
	assert_int_equal(weft_msg_stop(reg, "/queue/q", 8, &sink), 0);
	assert_int_equal(sb->n_got, 1);
	assert_int_equal(sb->got[0].status, WEFT_ST_NOT_FOUND);
	assert_int_equal(sb->got[0].token0, 7);
	assert_int_equal(count_rec(WEFT_MSGREC_STOP), 0); /* the caller replicates STOP */
	/* the pointer is still safe until a grace period: calls do nothing */
	weft_dest_lock(d);
	struct weft_msg *m = weft_msg_new(1, 0, NULL, 0, "x", 1);
	assert_int_equal(weft_dest_publish(d, T0, m, &sink), -ENOENT);
	assert_int_equal(weft_dest_receive(d, T0, &(struct weft_receive){.consumer_id = 1, .max = 1,
									 .wait_ms = 100},
					   &dl, &sink),
			 -ENOENT);
	assert_true(weft_dest_tick(d, T0, &sink) == UINT64_MAX);
	weft_dest_unlock(d);
	weft_msg_unref(m);
	assert_null(weft_msg_find(reg, "/queue/q", 8));
	assert_null(weft_msg_find(reg, "/queue/q.dlq", 12));
	assert_int_equal(weft_msg_count(reg), 0);
	assert_int_equal(weft_msg_stop(reg, "/queue/q", 8, &sink), -ENOENT);
	/* open again: a new, empty destination */
	struct weft_dest *d2 = open_q("/queue/q", NULL);
	assert_ptr_not_equal(d2, d);
	assert_int_equal(stats(d2).depth, 0);
	urcu_qsbr_quiescent_state();
	urcu_qsbr_thread_offline();
	urcu_qsbr_barrier();
	urcu_qsbr_thread_online();
}

static void test_dests_bounded(void **state)
{
	(void)state;
	char name[32];
	unsigned made = 0;
	int rc = 0;
	for (unsigned i = 0; i < WEFT_MSG_DESTS_MAX; i++) {
		snprintf(name, sizeof(name), "/queue/q%u", i);
		struct weft_dest *d;
		rc = weft_msg_open(reg, name, strlen(name), NULL, &d);
		if (rc != 0)
			break;
		made++;
	}
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(made, WEFT_MSG_DESTS_MAX / 2);
	assert_int_equal(weft_msg_count(reg), WEFT_MSG_DESTS_MAX);
}

/* Applies every record of the primary to a backup. */
static void replay(struct weft_dest *to, unsigned from_rec)
{
	weft_dest_lock(to);
	for (unsigned i = from_rec; i < sb->n_rec; i++) {
		struct rec *r = &sb->rec[i];
		int rc = weft_dest_apply(to, T0, r->sub_len ? r->sub : NULL, r->sub_len, r->kind,
					 r->m, r->id);
		assert_true(rc >= 0);
	}
	weft_dest_unlock(to);
}

static void test_apply_tombstones(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/b", NULL);
	weft_dest_lock(d);
	weft_dest_set_role(d, T0, WEFT_ROLE_BACKUP, &sink);
	struct weft_msg *m5 = weft_msg_new(5, 0, NULL, 0, "five", 4);
	struct weft_msg *m6 = weft_msg_new(6, 0, NULL, 0, "six", 3);
	struct weft_msg *m7 = weft_msg_new(7, 0, NULL, 0, "seven", 5);
	/* REMOVE before APPEND keeps it out */
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_REMOVE, NULL, 5), 1);
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_APPEND, m5, 0), 0);
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_APPEND, m6, 0), 1);
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_APPEND, m6, 0), 0);
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_APPEND, m7, 0), 1);
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_REMOVE, NULL, 6), 1);
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_REMOVE, NULL, 6), 0);
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_DEAD, NULL, 7), 1);
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, 99, NULL, 7), -EINVAL);
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_APPEND, NULL, 7), -EINVAL);
	assert_true(weft_dest_next_id(d, 0) == 1u << 12); /* the sequence above id 7 */
	weft_dest_unlock(d);
	struct weft_dest_stats st = stats(d);
	assert_int_equal(st.depth, 0);
	assert_int_equal(st.dead, 1);
	assert_int_equal(stats(weft_dest_dlq(d)).depth, 1);
	assert_int_equal(sb->n_rec, 0); /* a backup records nothing on apply */
	/* removed ids are forgotten after WEFT_MSG_TOMBSTONE_MS */
	assert_true(tick(d, T0) == T0 + WEFT_MSG_TOMBSTONE_MS);
	tick(d, T0 + WEFT_MSG_TOMBSTONE_MS);
	weft_dest_lock(d);
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_APPEND, m5, 0), 1);
	weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_STOP, NULL, 0);
	weft_dest_unlock(d);
	assert_int_equal(stats(d).depth, 0);
	weft_msg_unref(m5);
	weft_msg_unref(m6);
	weft_msg_unref(m7);
}

static void test_tombstones_bounded(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/b", NULL);
	weft_dest_lock(d);
	for (uint64_t id = 1; id <= WEFT_MSG_TOMBSTONES + 1; id++)
		weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_REMOVE, NULL, id);
	struct weft_msg *m1 = weft_msg_new(1, 0, NULL, 0, "a", 1);
	struct weft_msg *m2 = weft_msg_new(2, 0, NULL, 0, "b", 1);
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_APPEND, m1, 0), 1);
	assert_int_equal(weft_dest_apply(d, T0, NULL, 0, WEFT_MSGREC_APPEND, m2, 0), 0);
	weft_dest_unlock(d);
	weft_msg_unref(m1);
	weft_msg_unref(m2);
}

static void snap_into(void *ctx, const char *sub, size_t sub_len, uint8_t kind,
		      const struct weft_msg *m, uint64_t id)
{
	struct weft_dest *to = ctx;
	int rc = weft_dest_apply(to, T0, sub, sub_len, kind, (struct weft_msg *)m, id);
	assert_int_equal(rc, 1);
}

static void test_replication_and_snapshot(void **state)
{
	(void)state;
	struct weft_dest *p = open_q("/queue/p", NULL);
	uint64_t ids[6];
	for (int i = 0; i < 6; i++)
		ids[i] = pub(p, T0, "m");
	uint64_t got[6];
	assert_int_equal(recv_ids(p, T0, 1, 3, 0, got, NULL), 3);
	ack(p, T0, 1, WEFT_ACK_ACK, got, 2, NULL, NULL); /* ids 0,1 acked; 2 in flight */

	/* records replayed on a backup give the same messages */
	struct weft_msg_reg *reg2 = weft_msg_reg_create();
	struct weft_dest *b = NULL;
	assert_int_equal(weft_msg_open(reg2, "/queue/p", 8, NULL, &b), 0);
	replay(b, 0);
	assert_int_equal(stats(b).depth, 4);

	/* a snapshot applied to a fresh registry reproduces the state */
	struct weft_msg_reg *reg3 = weft_msg_reg_create();
	struct weft_dest *c = NULL;
	assert_int_equal(weft_msg_open(reg3, "/queue/p", 8, NULL, &c), 0);
	weft_dest_lock(p);
	weft_dest_lock(c);
	weft_dest_snapshot(p, snap_into, c);
	weft_dest_unlock(c);
	weft_dest_unlock(p);
	struct weft_dest_stats sc = stats(c);
	assert_int_equal(sc.depth, 4);
	assert_int_equal(sc.inflight, 0);
	/* the acked ids stay out; the others are delivered in id order */
	weft_dest_lock(c);
	for (int i = 0; i < 6; i++) {
		struct weft_msg *m = weft_msg_new(ids[i], 0, NULL, 0, "m", 1);
		assert_int_equal(weft_dest_apply(c, T0, NULL, 0, WEFT_MSGREC_APPEND, m, 0), 0);
		weft_msg_unref(m);
	}
	assert_true(weft_dest_next_id(c, 0) == ((ids[5] >> 12) + 1) << 12);
	weft_dest_unlock(c);
	assert_int_equal(recv_ids(c, T0, 9, 6, 0, got, NULL), 4);
	for (int i = 0; i < 4; i++)
		assert_true(got[i] == ids[i + 2]);
	weft_msg_reg_destroy(reg2);
	weft_msg_reg_destroy(reg3);
}

static void test_next_id(void **state)
{
	(void)state;
	struct weft_dest *d = open_q("/queue/q", NULL);
	weft_dest_lock(d);
	assert_true(weft_dest_next_id(d, T0) == T0 << 20);
	weft_dest_unlock(d);
	uint64_t id = pub(d, T0, "a");
	weft_dest_lock(d);
	uint64_t step = 1u << WEFT_MSG_ID_TAG_BITS; /* the next in the same ms */
	assert_true(weft_dest_next_id(d, T0) == id + step);
	assert_true(weft_dest_next_id(d, T0 - 5) == id + step); /* the clock went back */
	assert_true(weft_dest_next_id(d, T0 + 1) == (T0 + 1) << 20);
	weft_dest_unlock(d);
}

/* Two nodes acting as primary of one destination at once (a split brain,
 * or an old primary before it installs the new view) never make the same
 * id, even in the same ms: their tags differ. */
static void test_ids_of_two_primaries_differ(void **state)
{
	(void)state;
	struct weft_msg_reg *r1 = weft_msg_reg_create(), *r2 = weft_msg_reg_create();
	weft_msg_reg_set_tag(r1, 0x123);
	weft_msg_reg_set_tag(r2, 0x456);
	struct weft_dest *a = NULL, *b = NULL;
	assert_int_equal(weft_msg_open(r1, "/queue/q", 8, NULL, &a), 0);
	assert_int_equal(weft_msg_open(r2, "/queue/q", 8, NULL, &b), 0);
	uint64_t ia[300], ib[300];
	weft_dest_lock(a);
	weft_dest_lock(b);
	for (int i = 0; i < 300; i++) { /* more than one ms's worth of sequence */
		ia[i] = weft_dest_next_id(a, T0);
		ib[i] = weft_dest_next_id(b, T0);
		struct weft_msg *ma = weft_msg_new(ia[i], 0, NULL, 0, "a", 1);
		struct weft_msg *mb = weft_msg_new(ib[i], 0, NULL, 0, "b", 1);
		assert_true(weft_dest_publish(a, T0, ma, NULL) >= 0);
		assert_true(weft_dest_publish(b, T0, mb, NULL) >= 0);
		weft_msg_unref(ma);
		weft_msg_unref(mb);
		assert_int_equal(ia[i] & WEFT_MSG_ID_TAG_MASK, 0x123);
		assert_int_equal(ib[i] & WEFT_MSG_ID_TAG_MASK, 0x456);
		assert_true(i == 0 || (ia[i] > ia[i - 1] && ib[i] > ib[i - 1]));
	}
	for (int i = 0; i < 300; i++)
		for (int j = 0; j < 300; j++)
			assert_true(ia[i] != ib[j]);
	weft_dest_unlock(b);
	weft_dest_unlock(a);
	weft_msg_reg_destroy(r1);
	weft_msg_reg_destroy(r2);
}

int main(void)
{
	urcu_qsbr_register_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names_props_opts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_dlq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_receive_ack_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nack_returns_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_visibility_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_letter_after_max_deliveries, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lease_expiry_releases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_by_depth_and_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waiter_deadline_and_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waiter_keeps_consumer_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waiters_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_consumers_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_least_loaded_waiter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_consumer_joins_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsubscribe_releases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_role_not_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dests_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_tombstones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tombstones_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_and_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_of_two_primaries_differ, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	urcu_qsbr_thread_offline();
	urcu_qsbr_barrier();
	urcu_qsbr_unregister_thread();
	return rc;
}
