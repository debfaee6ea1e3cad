/*
 * Unit tests of msg/ topics (msg.h): durable subscriptions (fed by publish
 * and by applied APPENDs, acked like a queue, dead letters dropped, bound),
 * subscriber nodes on the primary (join, batches, cursors, log trimming,
 * dropped counts, leases), local subscriptions (fan-out, waiters, bound and
 * dropped counts, leases), and the topic's snapshot.
 *
 * Time is the `now` argument (virtual, no sleeps).
 */
#include "test_msg_sink.h"

#define IP1 0x0100000au
#define IP2 0x0200000au
#define PORT 7700

static int recv_sub(struct weft_dest *d, uint64_t now, const char *sub, uint64_t cid,
		    uint32_t max, uint32_t wait, uint8_t token0, struct weft_delivery *dl)
{
	tok[0] = token0;
	struct weft_receive rq = {.consumer_id = cid, .max = max, .wait_ms = wait,
				  .sub = sub, .sub_len = strlen(sub), .token = tok};
	weft_dest_lock(d);
	int rc = weft_dest_receive(d, now, &rq, dl, &sink);
	weft_dest_unlock(d);
	return rc;
}

static void ack_sub(struct weft_dest *d, uint64_t now, const char *sub, uint64_t cid,
		    enum weft_ack_kind k, const uint64_t *ids, uint32_t n, uint32_t *done,
		    uint32_t *unknown)
{
	weft_dest_lock(d);
	weft_dest_ack(d, now, cid, sub, strlen(sub), k, ids, n, done, unknown, &sink);
	weft_dest_unlock(d);
}

static int publish_fanout(struct weft_dest *d, uint64_t now, const char *body, uint64_t *id)
{
	weft_dest_lock(d);
	*id = weft_dest_next_id(d, now);
	struct weft_msg *m = weft_msg_new(*id, 0, NULL, 0, body, (uint32_t)strlen(body));
	int rc = weft_dest_publish(d, now, m, &sink);
	weft_dest_unlock(d);
	weft_msg_unref(m);
	return rc;
}

static void test_durable_subscription(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	uint64_t id;
	assert_int_equal(publish_fanout(t, T0, "before", &id), 0); /* nobody */
	struct weft_delivery dl;
	assert_int_equal(recv_sub(t, T0, "s1", 1, 8, 0, 0, &dl), 1);
	assert_int_equal(dl.n, 0); /* from the next message on */
	assert_int_equal(count_rec(WEFT_MSGREC_SUB), 1);
	assert_int_equal(stats(t).durable, 1);
	uint64_t a, b;
	assert_int_equal(publish_fanout(t, T0 + 1, "a", &a), 1);
	assert_int_equal(publish_fanout(t, T0 + 2, "b", &b), 1);
	assert_int_equal(recv_sub(t, T0 + 3, "s1", 1, 8, 0, 0, &dl), 1);
	assert_int_equal(dl.n, 2);
	assert_true(dl.msg[0]->id == a && dl.msg[1]->id == b);
	uint64_t ids[2] = {a, b};
	dl_unref(&dl);
	uint32_t done, unknown;
	ack_sub(t, T0 + 4, "s1", 1, WEFT_ACK_ACK, ids, 2, &done, &unknown);
	assert_int_equal(done, 2);
	assert_int_equal(unknown, 0);
	ack_sub(t, T0 + 4, "nope", 1, WEFT_ACK_ACK, ids, 2, &done, &unknown);
	assert_int_equal(unknown, 2);
	/* records of the subscription name it */
	unsigned removes = 0;
	for (unsigned i = 0; i < sb->n_rec; i++)
		if (sb->rec[i].kind == WEFT_MSGREC_REMOVE) {
			assert_int_equal(sb->rec[i].sub_len, 2);
			assert_memory_equal(sb->rec[i].sub, "s1", 2);
			removes++;
		}
	assert_int_equal(removes, 2);
	assert_int_equal(stats(t).acked, 2);

	/* a parked durable receive is answered by a publish */
	assert_int_equal(recv_sub(t, T0 + 5, "s1", 1, 8, 1000, 77, &dl), 0);
	uint64_t c;
	publish_fanout(t, T0 + 6, "c", &c);
	assert_int_equal(sb->n_got, 1);
	assert_int_equal(sb->got[0].token0, 77);
	assert_true(sb->got[0].ids[0] == c);

	/* unsubscribe with the key removes it */
	weft_dest_lock(t);
	assert_int_equal(weft_dest_unsubscribe(t, T0 + 7, 1, "s1", 2, &sink), 0);
	assert_int_equal(weft_dest_unsubscribe(t, T0 + 7, 1, "s1", 2, &sink), -ENOENT);
	weft_dest_unlock(t);
	assert_int_equal(count_rec(WEFT_MSGREC_UNSUB), 1);
	assert_int_equal(stats(t).durable, 0);
	/* No subscriber node: the log goes once the re-join grace is over. */
	tick(t, T0 + 7 + WEFT_CONSUMER_LEASE_MS + 1);
	assert_int_equal(stats(t).depth, 0);
}

static void test_durable_dead_and_bound(void **state)
{
	(void)state;
	struct weft_dest_opts o = {.max_deliveries = 1, .max_depth = 3};
	struct weft_dest *t = open_q("/topic/t", &o);
	struct weft_delivery dl;
	assert_int_equal(recv_sub(t, T0, "s", 1, 1, 0, 0, &dl), 1);
	uint64_t id;
	publish_fanout(t, T0, "x", &id);
	assert_int_equal(recv_sub(t, T0, "s", 1, 1, 0, 0, &dl), 1);
	assert_int_equal(dl.n, 1);
	dl_unref(&dl);
	uint32_t done, unknown;
	ack_sub(t, T0, "s", 1, WEFT_ACK_NACK, &id, 1, &done, &unknown);
	struct weft_dest_stats st = stats(t);
	assert_int_equal(st.dead, 1); /* dropped: no dead-letter queue for a subscription */
	assert_int_equal(count_rec(WEFT_MSGREC_DEAD), 1);
	/* a full subscription loses its oldest */
	uint64_t ids[5];
	for (int i = 0; i < 5; i++)
		publish_fanout(t, T0 + 1 + i, "y", &ids[i]);
	st = stats(t);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(recv_sub(t, T0 + 10, "s", 1, 8, 0, 0, &dl), 1);
	assert_int_equal(dl.n, 3);
	assert_true(dl.msg[0]->id == ids[2]);
	dl_unref(&dl);
	/* too many subscriptions */
	char name[16];
	for (unsigned i = 1; i < WEFT_MSG_DURABLE_MAX; i++) {
		snprintf(name, sizeof(name), "d%u", i);
		assert_int_equal(recv_sub(t, T0, name, 1, 1, 0, 0, &dl), 1);
	}
	assert_int_equal(recv_sub(t, T0, "more", 1, 1, 0, 0, &dl), -ENOSPC);
}

static void test_nodes_batches_cursors(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	uint64_t resume;
	weft_dest_lock(t);
	/* primary for a while: its re-join grace is over */
	weft_dest_set_role(t, T0 - WEFT_CONSUMER_LEASE_MS, WEFT_ROLE_BACKUP, NULL);
	weft_dest_set_role(t, T0 - WEFT_CONSUMER_LEASE_MS, WEFT_ROLE_PRIMARY, NULL);
	assert_int_equal(weft_topic_join(t, T0, IP1, PORT, 0, 1, &resume), 0);
	assert_int_equal(weft_topic_join(t, T0, IP2, PORT, 0, 1, &resume), 0);
	weft_dest_unlock(t);
	uint64_t ids[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(publish_fanout(t, T0 + i, "m", &ids[i]), 2);
	assert_int_equal(stats(t).subscriber_nodes, 2);
	assert_int_equal(stats(t).depth, 3);

	weft_dest_lock(t);
	struct weft_topic_batch b1, b2;
	assert_true(weft_topic_next_batch(t, T0 + 5, IP1, PORT, &b1));
	assert_int_equal(b1.n, 3);
	assert_true(b1.msg[0]->id == ids[0] && b1.msg[2]->id == ids[2]);
	assert_true(b1.next_id == ids[2] + 1);
	assert_int_equal(b1.dropped, 0);
	assert_false(weft_topic_next_batch(t, T0 + 5, IP1, PORT, &b2)); /* one in flight */
	/* a failed batch is offered again */
	weft_topic_batch_done(t, T0 + 6, IP1, PORT, false, 0);
	weft_topic_batch_free(&b1);
	assert_true(weft_topic_next_batch(t, T0 + 6, IP1, PORT, &b1));
	assert_int_equal(b1.n, 3);
	weft_topic_batch_done(t, T0 + 7, IP1, PORT, true, b1.next_id);
	weft_topic_batch_free(&b1);
	assert_false(weft_topic_next_batch(t, T0 + 7, IP1, PORT, &b1));
	weft_dest_unlock(t);
	/* node 2 is behind: the log keeps everything */
	assert_int_equal(stats(t).depth, 3);
	weft_dest_lock(t);
	assert_true(weft_topic_next_batch(t, T0 + 8, IP2, PORT, &b2));
	weft_topic_batch_done(t, T0 + 8, IP2, PORT, true, b2.next_id);
	weft_topic_batch_free(&b2);
	weft_dest_unlock(t);
	assert_int_equal(stats(t).depth, 0); /* both past: trimmed */

	/* a node joining from a held id resumes there; 0 subscriptions leaves */
	uint64_t c;
	publish_fanout(t, T0 + 9, "c", &c);
	weft_dest_lock(t);
	assert_int_equal(weft_topic_join(t, T0 + 9, IP1, PORT + 1, c, 1, &resume), 0);
	assert_true(resume == c);
	assert_int_equal(weft_topic_join(t, T0 + 9, IP1, PORT + 1, 0, 0, &resume), 0);
	weft_dest_unlock(t);
	assert_int_equal(stats(t).subscriber_nodes, 2);
}

struct ready_ctx {
	unsigned n;
	uint32_t ip[8];
};

static void on_ready(void *ctx, uint32_t ip, uint16_t port)
{
	struct ready_ctx *r = ctx;
	assert_int_equal(port, PORT);
	r->ip[r->n++] = ip;
}

static void test_ready_nodes_and_trim_bound(void **state)
{
	(void)state;
	struct weft_dest_opts o = {.max_depth = 2};
	struct weft_dest *t = open_q("/topic/t", &o);
	uint64_t resume, id;
	weft_dest_lock(t);
	assert_int_equal(weft_topic_join(t, T0, IP1, PORT, 0, 1, &resume), 0);
	weft_dest_unlock(t);
	struct ready_ctx r = {0};
	weft_dest_lock(t);
	weft_topic_foreach_ready_node(t, on_ready, &r);
	weft_dest_unlock(t);
	assert_int_equal(r.n, 0);
	uint64_t ids[5];
	for (int i = 0; i < 5; i++)
		publish_fanout(t, T0 + i, "m", &ids[i]);
	assert_int_equal(stats(t).depth, 2); /* the oldest went beyond max_depth */
	weft_dest_lock(t);
	weft_topic_foreach_ready_node(t, on_ready, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ip[0], IP1);
	struct weft_topic_batch b;
	assert_true(weft_topic_next_batch(t, T0 + 10, IP1, PORT, &b));
	assert_int_equal(b.n, 2);
	assert_int_equal(b.dropped, 3);
	assert_true(b.msg[0]->id == ids[3]);
	r.n = 0;
	weft_topic_foreach_ready_node(t, on_ready, &r);
	assert_int_equal(r.n, 0); /* batch in flight */
	weft_topic_batch_done(t, T0 + 11, IP1, PORT, true, b.next_id);
	weft_topic_batch_free(&b);
	/* the next batch reports no loss */
	weft_dest_unlock(t);
	publish_fanout(t, T0 + 12, "n", &id);
	weft_dest_lock(t);
	assert_true(weft_topic_next_batch(t, T0 + 12, IP1, PORT, &b));
	assert_int_equal(b.dropped, 0);
	assert_int_equal(b.n, 1);
	weft_topic_batch_free(&b);
	weft_dest_unlock(t);
	assert_int_equal(stats(t).dropped, 3);
}

static void test_node_lease_and_no_nodes(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	uint64_t resume, id;
	weft_dest_lock(t);
	weft_dest_set_role(t, T0, WEFT_ROLE_BACKUP, &sink);
	weft_dest_set_role(t, T0, WEFT_ROLE_PRIMARY, &sink);
	weft_dest_unlock(t);
	/* just promoted: the log is kept for nodes of the old primary to re-join */
	publish_fanout(t, T0 + 1, "a", &id);
	assert_int_equal(stats(t).depth, 1);
	weft_dest_lock(t);
	assert_int_equal(weft_topic_join(t, T0 + 100, IP1, PORT, id, 1, &resume), 0);
	assert_true(resume == id);
	weft_dest_unlock(t);
	assert_true(tick(t, T0 + 100) == T0 + 100 + WEFT_CONSUMER_LEASE_MS);
	tick(t, T0 + 100 + WEFT_CONSUMER_LEASE_MS);
	struct weft_dest_stats st = stats(t);
	assert_int_equal(st.subscriber_nodes, 0);
	assert_int_equal(st.depth, 0); /* no node, grace over: nothing kept */
	publish_fanout(t, T0 + 200 + WEFT_CONSUMER_LEASE_MS, "b", &id);
	assert_int_equal(stats(t).depth, 0);
	/* role change forgets subscriber nodes */
	weft_dest_lock(t);
	assert_int_equal(weft_topic_join(t, T0 + 10000, IP1, PORT, 0, 1, &resume), 0);
	weft_dest_set_role(t, T0 + 10000, WEFT_ROLE_BACKUP, &sink);
	weft_dest_unlock(t);
	assert_int_equal(stats(t).subscriber_nodes, 0);
	/* a backup keeps its log up to the bounds */
	publish_fanout(t, T0 + 10001, "c", &id);
	assert_int_equal(stats(t).depth, 1);
}

static void test_nodes_bounded(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	uint64_t resume;
	weft_dest_lock(t);
	for (uint32_t i = 0; i < WEFT_MSG_NODES_MAX; i++)
		assert_int_equal(weft_topic_join(t, T0, IP1 + i, PORT, 0, 1, &resume), 0);
	assert_int_equal(weft_topic_join(t, T0, IP2 + 9999, PORT, 0, 1, &resume), -ENOSPC);
	weft_dest_unlock(t);
}

static struct weft_msg *mk(uint64_t id)
{
	struct weft_msg *m = weft_msg_new(id, 0, NULL, 0, "body", 4);
	assert_non_null(m);
	return m;
}

static void local_deliver(struct weft_dest *t, uint64_t now, uint64_t first, uint32_t n,
			  uint32_t dropped)
{
	struct weft_msg *ms[64];
	for (uint32_t i = 0; i < n; i++)
		ms[i] = mk(first + i);
	weft_dest_lock(t);
	uint64_t next = weft_topic_local_deliver(t, now, ms, n, dropped, &sink);
	weft_dest_unlock(t);
	if (n > 0)
		assert_true(next >= first + n);
	for (uint32_t i = 0; i < n; i++)
		weft_msg_unref(ms[i]);
}

static void test_local_subscriptions(void **state)
{
	(void)state;
	struct weft_dest_opts o = {.max_depth = 4};
	struct weft_dest *t = open_q("/topic/t", &o);
	weft_dest_lock(t);
	weft_dest_set_role(t, T0, WEFT_ROLE_SUBSCRIBER, &sink);
	weft_dest_unlock(t);
	struct weft_delivery dl;
	assert_int_equal(recv_full(t, T0, 1, 8, 0, 0, 0, &dl), 1); /* subscribes */
	assert_int_equal(recv_full(t, T0, 2, 8, 0, 0, 0, &dl), 1);
	weft_dest_lock(t);
	assert_int_equal(weft_topic_local_subs(t), 2);
	assert_true(weft_topic_local_next(t) == 0);
	weft_dest_unlock(t);
	local_deliver(t, T0 + 1, 100, 3, 0);
	weft_dest_lock(t);
	assert_true(weft_topic_local_next(t) == 103);
	weft_dest_unlock(t);
	for (uint64_t c = 1; c <= 2; c++) {
		assert_int_equal(recv_full(t, T0 + 2, c, 8, 0, 0, 0, &dl), 1);
		assert_int_equal(dl.n, 3);
		assert_true(dl.msg[0]->id == 100 && dl.msg[2]->id == 102);
		assert_int_equal(dl.deliveries[0], 1);
		dl_unref(&dl);
	}
	/* ids below the local cursor are ignored */
	local_deliver(t, T0 + 3, 101, 2, 0);
	assert_int_equal(recv_full(t, T0 + 3, 1, 8, 0, 0, 0, &dl), 1);
	assert_int_equal(dl.n, 0);
	/* a parked receive is answered by the delivery */
	assert_int_equal(recv_full(t, T0 + 4, 1, 8, 1000, 0, 31, &dl), 0);
	local_deliver(t, T0 + 5, 200, 1, 0);
	assert_int_equal(sb->n_got, 1);
	assert_int_equal(sb->got[0].token0, 31);
	assert_int_equal(sb->got[0].n, 1);
	assert_true(sb->got[0].ids[0] == 200);
	/* subscriber 2 falls behind: max_depth kept, the rest dropped, counted */
	local_deliver(t, T0 + 6, 300, 6, 2);
	assert_int_equal(recv_full(t, T0 + 7, 2, 64, 0, 0, 0, &dl), 1);
	assert_int_equal(dl.n, 4);
	assert_true(dl.msg[0]->id == 302);
	assert_int_equal(dl.dropped, 3 + 2); /* 200, 300, 301 lost here; 2 upstream */
	dl_unref(&dl);
	assert_int_equal(recv_full(t, T0 + 7, 2, 64, 0, 0, 0, &dl), 1);
	assert_int_equal(dl.dropped, 0);
	/* acks on a local subscription are no-ops that count done */
	uint64_t ids[2] = {302, 303};
	uint32_t done, unknown;
	ack(t, T0 + 8, 2, WEFT_ACK_ACK, ids, 2, &done, &unknown);
	assert_int_equal(done, 2);
	assert_int_equal(unknown, 0);
	/* unsubscribe ends one; a lease ends the other; the cursor resets */
	weft_dest_lock(t);
	assert_int_equal(weft_dest_unsubscribe(t, T0 + 9, 2, NULL, 0, &sink), 0);
	assert_int_equal(weft_topic_local_subs(t), 1);
	weft_dest_unlock(t);
	tick(t, T0 + 7 + WEFT_CONSUMER_LEASE_MS);
	weft_dest_lock(t);
	assert_int_equal(weft_topic_local_subs(t), 0);
	assert_true(weft_topic_local_next(t) == 0);
	weft_dest_unlock(t);
}

static void test_publish_does_not_feed_local(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	struct weft_delivery dl;
	assert_int_equal(recv_full(t, T0, 1, 8, 0, 0, 0, &dl), 1);
	uint64_t id;
	assert_int_equal(publish_fanout(t, T0, "x", &id), 0);
	assert_int_equal(recv_full(t, T0, 1, 8, 0, 0, 0, &dl), 1);
	assert_int_equal(dl.n, 0);
	/* the dataplane hands the primary's own subscribers the message */
	struct weft_msg *m = mk(id);
	weft_dest_lock(t);
	weft_topic_local_deliver(t, T0, &m, 1, 0, &sink);
	weft_dest_unlock(t);
	weft_msg_unref(m);
	assert_int_equal(recv_full(t, T0, 1, 8, 0, 0, 0, &dl), 1);
	assert_int_equal(dl.n, 1);
	dl_unref(&dl);
	/* local subscriptions survive role changes and clear */
	weft_dest_lock(t);
	weft_dest_set_role(t, T0, WEFT_ROLE_SUBSCRIBER, &sink);
	weft_dest_clear(t, &sink);
	assert_int_equal(weft_topic_local_subs(t), 1);
	weft_dest_unlock(t);
}

static void test_local_waiters_all_answered(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	struct weft_delivery dl;
	for (uint64_t c = 1; c <= 3; c++)
		assert_int_equal(recv_full(t, T0, c, 8, 1000, 0, (uint8_t)c, &dl), 0);
	local_deliver(t, T0 + 1, 10, 2, 0);
	assert_int_equal(sb->n_got, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(sb->got[i].n, 2);
		assert_int_equal(sb->got[i].token0, i + 1);
	}
	assert_int_equal(stats(t).waiting, 0);
}

static void test_roles_and_stop_answer_waiters(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	struct weft_delivery dl;
	assert_int_equal(recv_sub(t, T0, "dur", 1, 8, 1000, 'D', &dl), 0);
	assert_int_equal(recv_full(t, T0, 2, 8, 1000, 0, 'L', &dl), 0);
	weft_dest_lock(t);
	weft_dest_set_role(t, T0 + 1, WEFT_ROLE_BACKUP, &sink);
	weft_dest_unlock(t);
	/* the durable waiter goes to the new primary; the local one stays */
	assert_int_equal(sb->n_got, 1);
	assert_int_equal(sb->got[0].token0, 'D');
	assert_int_equal(sb->got[0].status, WEFT_ST_NOT_OWNER);
	assert_int_equal(stats(t).waiting, 1);
	assert_int_equal(weft_msg_stop(reg, "/topic/t", 8, &sink), 0);
	assert_int_equal(sb->n_got, 2);
	assert_int_equal(sb->got[1].token0, 'L');
	assert_int_equal(sb->got[1].status, WEFT_ST_NOT_FOUND);
	assert_null(weft_msg_find(reg, "/topic/t", 8));
	urcu_qsbr_quiescent_state();
}

static void count_fn(void *ctx, struct weft_dest *d)
{
	(void)d;
	(*(unsigned *)ctx)++;
}

static void test_long_queue_name_and_foreach(void **state)
{
	(void)state;
	char name[WEFT_MAX_NAME_LEN + 1];
	memset(name, 'n', sizeof(name));
	memcpy(name, "/queue/", 7);
	struct weft_dest *d = NULL;
	assert_int_equal(weft_msg_open(reg, name, WEFT_MAX_NAME_LEN, NULL, &d), -EINVAL);
	assert_int_equal(weft_msg_open(reg, name, WEFT_MAX_NAME_LEN - 4, NULL, &d), 0);
	struct weft_dest *dlq = weft_dest_dlq(d);
	assert_non_null(dlq);
	size_t len;
	const char *dname = weft_dest_name(dlq, &len);
	assert_int_equal(len, WEFT_MAX_NAME_LEN); /* the longest name the wire carries */
	assert_ptr_equal(weft_msg_find(reg, dname, len), dlq);
	assert_true(weft_dest_route_hash(dlq) == weft_dest_route_hash(d));
	open_q("/topic/x", NULL);
	unsigned n = 0;
	weft_msg_foreach(reg, count_fn, &n);
	assert_int_equal(n, 3);
	assert_int_equal(weft_msg_count(reg), 3);
}

static void test_topic_apply_idempotent(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	struct weft_msg *m1 = mk(100), *m2 = mk(200);
	weft_dest_lock(t);
	weft_dest_set_role(t, T0, WEFT_ROLE_BACKUP, NULL);
	assert_int_equal(weft_dest_apply(t, T0, "s", 1, WEFT_MSGREC_SUB, NULL, 0), 1);
	assert_int_equal(weft_dest_apply(t, T0, "s", 1, WEFT_MSGREC_SUB, NULL, 0), 0);
	assert_int_equal(weft_dest_apply(t, T0, NULL, 0, WEFT_MSGREC_SUB, NULL, 0), -EINVAL);
	/* a topic APPEND feeds the subscription; twice is stale */
	assert_int_equal(weft_dest_apply(t, T0, NULL, 0, WEFT_MSGREC_APPEND, m1, 0), 1);
	assert_int_equal(weft_dest_apply(t, T0, NULL, 0, WEFT_MSGREC_APPEND, m1, 0), 0);
	assert_int_equal(weft_dest_apply(t, T0, "s", 1, WEFT_MSGREC_APPEND, m1, 0), 0);
	/* the subscription's REMOVE before the APPEND keeps 200 out of it */
	assert_int_equal(weft_dest_apply(t, T0, "s", 1, WEFT_MSGREC_REMOVE, NULL, 200), 1);
	assert_int_equal(weft_dest_apply(t, T0, NULL, 0, WEFT_MSGREC_APPEND, m2, 0), 1);
	assert_int_equal(weft_dest_apply(t, T0, "x", 1, WEFT_MSGREC_REMOVE, NULL, 100), 0);
	assert_int_equal(weft_dest_apply(t, T0, "x", 1, WEFT_MSGREC_UNSUB, NULL, 0), 0);
	weft_dest_unlock(t);
	struct weft_dest_stats st = stats(t);
	assert_int_equal(st.depth, 2 + 1); /* log 100, 200; subscription 100 */
	assert_int_equal(st.durable, 1);
	weft_dest_lock(t);
	assert_int_equal(weft_dest_apply(t, T0, "s", 1, WEFT_MSGREC_UNSUB, NULL, 0), 1);
	assert_int_equal(weft_dest_apply(t, T0, NULL, 0, WEFT_MSGREC_STOP, NULL, 0), 1);
	weft_dest_unlock(t);
	st = stats(t);
	assert_int_equal(st.depth, 0);
	assert_int_equal(st.durable, 0);
	weft_msg_unref(m1);
	weft_msg_unref(m2);
}

/* N1 (sim): a node paused past a parked RECEIVE's deadline handles a
 * TOPIC_DELIVER before its timers; the client stopped waiting, so the
 * waiter is answered empty and the message waits for the next RECEIVE. */
static void test_late_waiter_gets_no_messages(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	weft_dest_lock(t);
	weft_dest_set_role(t, T0, WEFT_ROLE_SUBSCRIBER, &sink);
	weft_dest_unlock(t);
	struct weft_delivery dl;
	assert_int_equal(recv_full(t, T0, 1, 8, 0, 0, 0, &dl), 1); /* subscribes */
	assert_int_equal(recv_full(t, T0 + 1, 1, 8, 500, 0, 41, &dl), 0); /* parked */
	local_deliver(t, T0 + 3000, 100, 1, 0); /* 2.5 s past its deadline */
	assert_int_equal(sb->n_got, 1);
	assert_int_equal(sb->got[0].token0, 41);
	assert_int_equal(sb->got[0].n, 0);
	assert_int_equal(recv_full(t, T0 + 3001, 1, 8, 500, 0, 42, &dl), 1);
	assert_int_equal(dl.n, 1);
	assert_true(dl.msg[0]->id == 100);
	assert_int_equal(dl.dropped, 0);
	dl_unref(&dl);
}

/* A drop is reported with the first message after it, never with the
 * messages before it; nor on an empty answer to a parked RECEIVE (that
 * answer may reach nobody). */
static void test_drop_reported_after_the_gap(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	weft_dest_lock(t);
	weft_dest_set_role(t, T0, WEFT_ROLE_SUBSCRIBER, &sink);
	weft_dest_unlock(t);
	struct weft_delivery dl;
	assert_int_equal(recv_full(t, T0, 1, 8, 0, 0, 0, &dl), 1);
	local_deliver(t, T0 + 1, 100, 2, 0);
	local_deliver(t, T0 + 2, 200, 1, 3); /* 3 missed before 200 */
	assert_int_equal(recv_full(t, T0 + 3, 1, 2, 0, 0, 0, &dl), 1);
	assert_int_equal(dl.n, 2);
	assert_true(dl.msg[1]->id == 101);
	assert_int_equal(dl.dropped, 0);
	dl_unref(&dl);
	assert_int_equal(recv_full(t, T0 + 4, 1, 2, 0, 0, 0, &dl), 1);
	assert_int_equal(dl.n, 1);
	assert_true(dl.msg[0]->id == 200);
	assert_int_equal(dl.dropped, 3);
	dl_unref(&dl);
	/* a late message from another primary: missed where the subscription
	 * is; a parked RECEIVE answered at its deadline does not carry it */
	local_deliver(t, T0 + 5, 150, 1, 0);
	assert_int_equal(recv_full(t, T0 + 6, 1, 8, 100, 0, 51, &dl), 0);
	tick(t, T0 + 200);
	assert_int_equal(sb->n_got, 1);
	assert_int_equal(sb->got[0].n, 0);
	assert_int_equal(sb->got[0].dropped, 0);
	local_deliver(t, T0 + 300, 300, 1, 0);
	assert_int_equal(recv_full(t, T0 + 301, 1, 8, 0, 0, 0, &dl), 1);
	assert_true(dl.n == 1 && dl.msg[0]->id == 300);
	assert_int_equal(dl.dropped, 1);
	dl_unref(&dl);
	/* with nothing after it, an immediate answer reports it */
	local_deliver(t, T0 + 302, 250, 1, 0);
	assert_int_equal(recv_full(t, T0 + 303, 1, 8, 0, 0, 0, &dl), 1);
	assert_int_equal(dl.n, 0);
	assert_int_equal(dl.dropped, 1);
}

/* A new primary keeps its log for WEFT_CONSUMER_LEASE_MS though a node (its
 * own subscriptions) joined and moved on: the nodes of the previous primary
 * re-join from where they were. */
static void test_rejoin_grace_with_a_node_joined(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	uint64_t resume, id;
	weft_dest_lock(t);
	weft_dest_set_role(t, T0, WEFT_ROLE_BACKUP, &sink);
	weft_dest_set_role(t, T0, WEFT_ROLE_PRIMARY, &sink);
	assert_int_equal(weft_topic_join(t, T0 + 1, IP1, PORT, 0, 1, &resume), 0);
	weft_dest_unlock(t);
	publish_fanout(t, T0 + 2, "a", &id);
	struct weft_topic_batch b;
	weft_dest_lock(t);
	assert_true(weft_topic_next_batch(t, T0 + 3, IP1, PORT, &b));
	weft_topic_batch_done(t, T0 + 3, IP1, PORT, true, b.next_id);
	weft_topic_batch_free(&b);
	weft_dest_unlock(t);
	assert_int_equal(stats(t).depth, 1); /* kept: the grace is not over */
	weft_dest_lock(t);
	assert_int_equal(weft_topic_join(t, T0 + 900, IP2, PORT, id, 1, &resume), 0);
	assert_true(resume == id);
	assert_true(weft_topic_next_batch(t, T0 + 901, IP2, PORT, &b));
	assert_int_equal(b.n, 1);
	assert_true(b.msg[0]->id == id);
	assert_int_equal(b.dropped, 0);
	weft_topic_batch_done(t, T0 + 902, IP2, PORT, true, b.next_id);
	weft_topic_batch_free(&b);
	weft_dest_unlock(t);
	tick(t, T0 + WEFT_CONSUMER_LEASE_MS);
	assert_int_equal(stats(t).depth, 0); /* grace over, both past: trimmed */
}

/* A message no node wanted (no node, grace over) counts as trimmed: a node
 * joining later from before it is told it missed one. */
static void test_discarded_message_is_a_drop(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	uint64_t resume, id, id2;
	weft_dest_lock(t);
	weft_dest_set_role(t, T0, WEFT_ROLE_BACKUP, &sink);
	weft_dest_set_role(t, T0, WEFT_ROLE_PRIMARY, &sink);
	weft_dest_unlock(t);
	uint64_t now = T0 + WEFT_CONSUMER_LEASE_MS;
	publish_fanout(t, now, "a", &id);
	assert_int_equal(stats(t).depth, 0);
	weft_dest_lock(t);
	assert_int_equal(weft_topic_join(t, now + 1, IP1, PORT, id, 1, &resume), 0);
	weft_dest_unlock(t);
	publish_fanout(t, now + 2, "b", &id2);
	struct weft_topic_batch b;
	weft_dest_lock(t);
	assert_true(weft_topic_next_batch(t, now + 3, IP1, PORT, &b));
	assert_int_equal(b.n, 1);
	assert_true(b.msg[0]->id == id2);
	assert_int_equal(b.dropped, 1);
	weft_topic_batch_free(&b);
	weft_dest_unlock(t);
}

/* An APPEND older than the log's head: held and trimmed before (its tag's
 * newest trimmed id reaches it) is a duplicate; never held (another
 * primary's, a split brain) is a drop for every subscriber node. */
static void test_late_append_before_the_head(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	uint64_t resume;
	weft_dest_lock(t);
	weft_dest_set_role(t, T0, WEFT_ROLE_BACKUP, &sink);
	weft_dest_set_role(t, T0, WEFT_ROLE_PRIMARY, &sink);
	uint64_t now = T0 + WEFT_CONSUMER_LEASE_MS;
	assert_int_equal(weft_topic_join(t, now, IP1, PORT, 0, 1, &resume), 0);
	/* tag 0x001's ids 0x1001000, 0x3001000, 0x5001000; tag 0x002 below */
	struct weft_msg *a = mk(0x1001001), *c = mk(0x5001001), *late = mk(0x3001002);
	struct weft_msg *again = mk(0x1001001);
	assert_int_equal(weft_dest_apply(t, now, NULL, 0, WEFT_MSGREC_APPEND, a, 0), 1);
	assert_int_equal(weft_dest_apply(t, now, NULL, 0, WEFT_MSGREC_APPEND, c, 0), 1);
	struct weft_topic_batch b;
	assert_true(weft_topic_next_batch(t, now + 1, IP1, PORT, &b));
	assert_int_equal(b.n, 2);
	weft_topic_batch_done(t, now + 2, IP1, PORT, true, b.next_id);
	weft_topic_batch_free(&b);
	weft_dest_unlock(t);
	assert_int_equal(stats(t).depth, 0); /* both trimmed */
	weft_dest_lock(t);
	assert_int_equal(weft_dest_apply(t, now, NULL, 0, WEFT_MSGREC_APPEND, again, 0), 0);
	assert_int_equal(weft_dest_apply(t, now, NULL, 0, WEFT_MSGREC_APPEND, late, 0), 1);
	struct weft_msg *d = mk(0x6001001);
	assert_int_equal(weft_dest_apply(t, now, NULL, 0, WEFT_MSGREC_APPEND, d, 0), 1);
	assert_true(weft_topic_next_batch(t, now + 3, IP1, PORT, &b));
	assert_int_equal(b.n, 1);
	assert_true(b.msg[0]->id == 0x6001001);
	assert_int_equal(b.dropped, 1); /* the late one, not the duplicate */
	weft_topic_batch_free(&b);
	weft_dest_unlock(t);
	weft_msg_unref(a);
	weft_msg_unref(c);
	weft_msg_unref(late);
	weft_msg_unref(again);
	weft_msg_unref(d);
}

/* A late message put where a batch in flight had passed is a drop if that
 * batch is acked, and is sent (no drop) if it failed. */
static void test_late_insert_and_failed_batch(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	uint64_t resume;
	weft_dest_lock(t);
	weft_dest_set_role(t, T0, WEFT_ROLE_PRIMARY, &sink);
	assert_int_equal(weft_topic_join(t, T0, IP1, PORT, 0, 1, &resume), 0);
	struct weft_msg *a = mk(0x2001001), *late = mk(0x1001002);
	assert_int_equal(weft_dest_apply(t, T0, NULL, 0, WEFT_MSGREC_APPEND, a, 0), 1);
	struct weft_topic_batch b;
	assert_true(weft_topic_next_batch(t, T0 + 1, IP1, PORT, &b));
	weft_topic_batch_free(&b);
	assert_int_equal(weft_dest_apply(t, T0 + 2, NULL, 0, WEFT_MSGREC_APPEND, late, 0), 1);
	weft_topic_batch_done(t, T0 + 3, IP1, PORT, false, 0);
	assert_true(weft_topic_next_batch(t, T0 + 4, IP1, PORT, &b));
	assert_int_equal(b.n, 2);
	assert_true(b.msg[0]->id == 0x1001002);
	assert_int_equal(b.dropped, 0);
	weft_topic_batch_free(&b);
	weft_dest_unlock(t);
	weft_msg_unref(a);
	weft_msg_unref(late);
}

static void snap_into(void *ctx, const char *sub, size_t sub_len, uint8_t kind,
		      const struct weft_msg *m, uint64_t id)
{
	struct weft_dest *to = ctx;
	assert_true(weft_dest_apply(to, T0, sub, sub_len, kind, (struct weft_msg *)m, id) >= 0);
}

/* A primary's trim reaches the backups as a TRIM record: their copy of the
 * log keeps only what some subscriber node still needs. */
static void test_trim_reaches_backup(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	uint64_t resume, ids[4];
	weft_dest_lock(t);
	/* primary for a while: its re-join grace is over */
	weft_dest_set_role(t, T0 - WEFT_CONSUMER_LEASE_MS, WEFT_ROLE_BACKUP, NULL);
	weft_dest_set_role(t, T0 - WEFT_CONSUMER_LEASE_MS, WEFT_ROLE_PRIMARY, NULL);
	weft_topic_join(t, T0, IP1, PORT, 0, 1, &resume);
	weft_dest_unlock(t);
	for (int i = 0; i < 4; i++)
		publish_fanout(t, T0 + (uint64_t)i, "m", &ids[i]);
	struct weft_msg_reg *reg2 = weft_msg_reg_create();
	struct weft_dest *bk = NULL;
	assert_int_equal(weft_msg_open(reg2, "/topic/t", 8, NULL, &bk), 0);
	weft_dest_lock(bk);
	weft_dest_set_role(bk, T0, WEFT_ROLE_BACKUP, NULL);
	for (unsigned i = 0; i < sb->n_rec; i++)
		assert_int_equal(weft_dest_apply(bk, T0, NULL, 0, sb->rec[i].kind, sb->rec[i].m,
						 sb->rec[i].id), 1);
	weft_dest_unlock(bk);
	assert_int_equal(stats(bk).depth, 4);
	sink_reset();
	/* the node got the first three */
	weft_dest_lock(t);
	struct weft_topic_batch b;
	assert_true(weft_topic_next_batch(t, T0 + 5, IP1, PORT, &b));
	weft_topic_batch_done(t, T0 + 5, IP1, PORT, true, ids[2] + 1);
	weft_topic_batch_free(&b);
	weft_dest_tick(t, T0 + 6, &sink);
	weft_dest_tick(t, T0 + 7, &sink); /* nothing new: no second record */
	weft_dest_unlock(t);
	assert_int_equal(count_rec(WEFT_MSGREC_TRIM), 1);
	assert_true(sb->rec[0].id == ids[2]);
	weft_dest_lock(bk);
	assert_int_equal(weft_dest_apply(bk, T0 + 8, NULL, 0, WEFT_MSGREC_TRIM, NULL, ids[2]), 1);
	weft_dest_unlock(bk);
	assert_int_equal(stats(bk).depth, 1);
	/* a primary ignores TRIM (its own cursors decide); a TRIM on a queue is bad */
	weft_dest_lock(t);
	assert_int_equal(weft_dest_apply(t, T0 + 8, NULL, 0, WEFT_MSGREC_TRIM, NULL, ids[3]), 0);
	weft_dest_unlock(t);
	struct weft_dest *q = NULL;
	assert_int_equal(weft_msg_open(reg2, "/queue/q", 8, NULL, &q), 0);
	weft_dest_lock(q);
	assert_int_equal(weft_dest_apply(q, T0, NULL, 0, WEFT_MSGREC_TRIM, NULL, 1), -EINVAL);
	weft_dest_unlock(q);
	weft_msg_reg_destroy(reg2);
}

static void test_topic_replication(void **state)
{
	(void)state;
	struct weft_dest *t = open_q("/topic/t", NULL);
	uint64_t resume, id;
	weft_dest_lock(t);
	weft_topic_join(t, T0, IP1, PORT, 0, 1, &resume);
	weft_dest_unlock(t);
	publish_fanout(t, T0, "old", &id); /* before the subscription */
	struct weft_delivery dl;
	assert_int_equal(recv_sub(t, T0, "s", 1, 1, 0, 0, &dl), 1);
	uint64_t a, b, c;
	publish_fanout(t, T0 + 1, "a", &a);
	publish_fanout(t, T0 + 2, "b", &b);
	publish_fanout(t, T0 + 3, "c", &c);
	assert_int_equal(recv_sub(t, T0 + 4, "s", 1, 1, 0, 0, &dl), 1);
	assert_true(dl.msg[0]->id == a);
	dl_unref(&dl);
	uint32_t done, unknown;
	ack_sub(t, T0 + 4, "s", 1, WEFT_ACK_ACK, &a, 1, &done, &unknown);

	/* the record stream on a backup */
	struct weft_msg_reg *reg2 = weft_msg_reg_create();
	struct weft_dest *bk = NULL;
	assert_int_equal(weft_msg_open(reg2, "/topic/t", 8, NULL, &bk), 0);
	weft_dest_lock(bk);
	weft_dest_set_role(bk, T0, WEFT_ROLE_BACKUP, NULL);
	for (unsigned i = 0; i < sb->n_rec; i++) {
		struct rec *r = &sb->rec[i];
		assert_true(weft_dest_apply(bk, T0, r->sub_len ? r->sub : NULL, r->sub_len,
					    r->kind, r->m, r->id) >= 0);
	}
	weft_dest_unlock(bk);
	struct weft_dest_stats sp = stats(t), sbk = stats(bk);
	assert_int_equal(sbk.durable, 1);
	assert_int_equal(sbk.depth, sp.depth); /* log 4 + subscription b, c */

	/* a snapshot into a fresh backup */
	struct weft_msg_reg *reg3 = weft_msg_reg_create();
	struct weft_dest *fr = NULL;
	assert_int_equal(weft_msg_open(reg3, "/topic/t", 8, NULL, &fr), 0);
	weft_dest_lock(fr);
	weft_dest_set_role(fr, T0, WEFT_ROLE_BACKUP, NULL);
	weft_dest_lock(t);
	weft_dest_snapshot(t, snap_into, fr);
	weft_dest_unlock(t);
	weft_dest_unlock(fr);
	struct weft_dest_stats sf = stats(fr);
	assert_int_equal(sf.durable, 1);
	assert_int_equal(sf.depth, sp.depth);
	/* the subscription holds b and c only (not "old", not the acked a) */
	weft_dest_lock(fr);
	weft_dest_set_role(fr, T0, WEFT_ROLE_PRIMARY, NULL);
	weft_dest_unlock(fr);
	assert_int_equal(recv_sub(fr, T0 + 5, "s", 2, 8, 0, 0, &dl), 1);
	assert_int_equal(dl.n, 2);
	assert_true(dl.msg[0]->id == b && dl.msg[1]->id == c);
	dl_unref(&dl);
	weft_msg_reg_destroy(reg2);
	weft_msg_reg_destroy(reg3);
}

int main(void)
{
	urcu_qsbr_register_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_durable_subscription, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durable_dead_and_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodes_batches_cursors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ready_nodes_and_trim_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_lease_and_no_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodes_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_subscriptions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_does_not_feed_local, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topic_replication, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_waiters_all_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roles_and_stop_answer_waiters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_queue_name_and_foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trim_reaches_backup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topic_apply_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_waiter_gets_no_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_reported_after_the_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejoin_grace_with_a_node_joined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discarded_message_is_a_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_append_before_the_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_insert_and_failed_batch, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	urcu_qsbr_thread_offline();
	urcu_qsbr_barrier();
	urcu_qsbr_unregister_thread();
	return rc;
}
