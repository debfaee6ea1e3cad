/*
 * Randomized model test of a msg/ queue (fixed seeds, bounded steps):
 * random publishes, receives (immediate and parked), acks, nacks,
 * unsubscribes and clock advances (visibility timeouts, leases, waiter
 * deadlines) against a reference that tracks every message. Checked after
 * every step:
 *  - every accepted message is acked exactly once, dead-lettered exactly
 *    once, or still held: depth == published - acked - dead, never lost;
 *  - FULL exactly when the model's depth is at max_depth;
 *  - no message is delivered after its ack or its dead-lettering, each
 *    delivery's count is the model's count + 1, the ids of one answer
 *    increase, and a message dies only after max_deliveries deliveries;
 *  - a backup applying the primary's records holds as many messages, and
 *    its DLQ as many as the primary's.
 * At the end the queue is drained: everything is acked or dead. The heap
 * and id map under the queue are checked against naive ones first.
 */
#include "test_msg_sink.h"

#include "msg_internal.h" /* the containers, checked against naive ones */

#define STEPS 3000
#define MAXMSG (STEPS + 16)
#define CONSUMERS 5

struct model {
	uint64_t ids[MAXMSG]; /* accepted ids, increasing */
	uint32_t deliveries[MAXMSG];
	uint8_t state[MAXMSG]; /* 0 held, 1 acked, 2 dead */
	uint64_t holder[MAXMSG]; /* consumer the module last delivered it to */
	unsigned n;
	uint64_t acked, dead;
	uint64_t inflight_of[CONSUMERS][64 * 8];
	unsigned n_inflight_of[CONSUMERS];
};

static struct model *md;

static int find(uint64_t id)
{
	int lo = 0, hi = (int)md->n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		if (md->ids[mid] == id)
			return mid;
		if (md->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	fail_msg("id %llu never published", (unsigned long long)id);
	return -1;
}

static void saw_delivery(uint64_t cid, uint32_t n, const uint64_t *ids, const uint16_t *dv)
{
	for (uint32_t i = 0; i < n; i++) {
		if (i > 0)
			assert_true(ids[i] > ids[i - 1]);
		int k = find(ids[i]);
		assert_int_equal(md->state[k], 0);
		md->deliveries[k]++;
		assert_int_equal(dv[i], md->deliveries[k]);
		md->holder[k] = cid;
		unsigned c = (unsigned)(cid - 1);
		if (md->n_inflight_of[c] < 64 * 8)
			md->inflight_of[c][md->n_inflight_of[c]++] = ids[i];
	}
}

static struct weft_dest *backup;
static struct weft_dest_opts opts = {.max_depth = 50, .max_deliveries = 3,
				     .visibility_ms = 1000};

/* Consumes the sink: deliveries into the model, records into the backup. */
static void drain_sink(void)
{
	for (unsigned i = 0; i < sb->n_got; i++) {
		struct got *g = &sb->got[i];
		assert_int_equal(g->status, WEFT_ST_OK);
		saw_delivery(g->consumer_id, g->n, g->ids, g->deliveries);
	}
	weft_dest_lock(backup);
	for (unsigned i = 0; i < sb->n_rec; i++) {
		struct rec *r = &sb->rec[i];
		if (r->kind == WEFT_MSGREC_REMOVE) {
			int k = find(r->id);
			assert_int_equal(md->state[k], 0);
			md->state[k] = 1;
			md->acked++;
		} else if (r->kind == WEFT_MSGREC_DEAD) {
			int k = find(r->id);
			assert_int_equal(md->state[k], 0);
			assert_true(md->deliveries[k] >= opts.max_deliveries);
			md->state[k] = 2;
			md->dead++;
		}
		assert_true(weft_dest_apply(backup, T0, NULL, 0, r->kind, r->m, r->id) >= 0);
	}
	weft_dest_unlock(backup);
	sink_reset();
}

static void check(struct weft_dest *d)
{
	struct weft_dest_stats st = stats(d), sbk = stats(backup);
	assert_int_equal(st.depth, md->n - md->acked - md->dead);
	assert_int_equal(st.acked, md->acked);
	assert_int_equal(st.dead, md->dead);
	assert_int_equal(sbk.depth, st.depth);
	assert_int_equal(stats(weft_dest_dlq(backup)).depth, stats(weft_dest_dlq(d)).depth);
	/* the DLQ has the queue's bounds: a dead letter beyond them is counted
	 * FULL there, never silently lost */
	struct weft_dest_stats sd = stats(weft_dest_dlq(d));
	assert_int_equal(sd.depth + sd.full, md->dead);
	assert_int_equal(sd.published, sd.depth);
}

static void run(unsigned seed)
{
	md = calloc(1, sizeof(*md));
	srand(seed);
	struct weft_dest *d = open_q("/queue/model", &opts);
	struct weft_msg_reg *reg2 = weft_msg_reg_create();
	assert_int_equal(weft_msg_open(reg2, "/queue/model", 12, &opts, &backup), 0);
	weft_dest_lock(backup);
	weft_dest_set_role(backup, T0, WEFT_ROLE_BACKUP, NULL);
	weft_dest_unlock(backup);
	uint64_t now = T0;
	for (int step = 0; step < STEPS; step++) {
		int op = rand() % 100;
		uint64_t cid = 1 + (uint64_t)(rand() % CONSUMERS);
		unsigned c = (unsigned)(cid - 1);
		if (op < 35) { /* publish */
			uint64_t held = md->n - md->acked - md->dead;
			int rc;
			uint64_t id = pub_ttl(d, now, "payload", 0, &rc);
			if (held >= opts.max_depth) {
				assert_int_equal(rc, -ENOSPC);
			} else {
				assert_int_equal(rc, 0);
				assert_true(md->n == 0 || id > md->ids[md->n - 1]);
				md->ids[md->n++] = id;
			}
		} else if (op < 60) { /* receive, immediate or parked */
			struct weft_delivery dl;
			uint32_t wait = rand() % 3 == 0 ? (uint32_t)(rand() % 3000) : 0;
			int rc = recv_full(d, now, cid, 1 + rand() % 6, wait, 0, 0, &dl);
			assert_true(rc == 0 || rc == 1);
			if (rc == 1) {
				uint64_t ids[WEFT_MAX_RECEIVE];
				for (uint32_t i = 0; i < dl.n; i++)
					ids[i] = dl.msg[i]->id;
				saw_delivery(cid, dl.n, ids, dl.deliveries);
				dl_unref(&dl);
			}
		} else if (op < 85) { /* ack or nack some of what it was given */
			uint64_t ids[8];
			uint32_t n = 0;
			while (n < 8 && md->n_inflight_of[c] > 0) {
				unsigned j = (unsigned)rand() % md->n_inflight_of[c];
				ids[n++] = md->inflight_of[c][j];
				md->inflight_of[c][j] = md->inflight_of[c][--md->n_inflight_of[c]];
				if (rand() % 2)
					break;
			}
			uint32_t done = 0, unknown = 0;
			enum weft_ack_kind k = rand() % 5 == 0 ? WEFT_ACK_NACK : WEFT_ACK_ACK;
			ack(d, now, cid, k, ids, n, &done, &unknown);
			assert_int_equal(done + unknown, n);
			/* done exactly for ids still held and last given to cid
			 * (unless a timeout / lease moved them meanwhile: the module
			 * says unknown, the model agrees only if not held by cid) */
			uint32_t expect_max = 0;
			for (uint32_t i = 0; i < n; i++) {
				int kk = find(ids[i]);
				expect_max += md->state[kk] == 0 && md->holder[kk] == cid;
			}
			assert_true(done <= expect_max);
		} else if (op < 90) {
			weft_dest_lock(d);
			assert_int_equal(weft_dest_unsubscribe(d, now, cid, NULL, 0, &sink), 0);
			weft_dest_unlock(d);
			md->n_inflight_of[c] = 0;
		} else { /* time passes */
			now += rand() % 10 == 0 ? 6000u : (uint64_t)(rand() % 600);
			uint64_t next = tick(d, now);
			assert_true(next > now);
		}
		drain_sink();
		check(d);
	}
	/* drain: let everything come back, then receive and ack all of it */
	for (int round = 0; round < 200; round++) {
		now += 10000;
		tick(d, now);
		drain_sink();
		struct weft_delivery dl;
		assert_int_equal(recv_full(d, now, 1, 64, 0, 0, 0, &dl), 1);
		uint64_t ids[WEFT_MAX_RECEIVE];
		for (uint32_t i = 0; i < dl.n; i++)
			ids[i] = dl.msg[i]->id;
		saw_delivery(1, dl.n, ids, dl.deliveries);
		dl_unref(&dl);
		uint32_t done = 0, unknown = 0;
		ack(d, now, 1, WEFT_ACK_ACK, ids, dl.n, &done, &unknown);
		assert_int_equal(done, dl.n);
		drain_sink();
		check(d);
		if (stats(d).depth == 0)
			break;
	}
	assert_int_equal(stats(d).depth, 0);
	for (unsigned i = 0; i < md->n; i++)
		assert_true(md->state[i] == 1 || md->state[i] == 2);
	assert_int_equal(md->acked + md->dead, md->n);
	assert_true(md->n > STEPS / 5);
	weft_msg_reg_destroy(reg2);
	free(md);
}

struct item {
	uint64_t key;
	uint32_t idx;
};

static bool item_less(const void *x, const void *y)
{
	return ((const struct item *)x)->key < ((const struct item *)y)->key;
}

/* The indexed heap and the id map against a plain array: random inserts,
 * removals of any member, pops of the minimum and lookups. */
static void test_containers(void **state)
{
	(void)state;
	enum { N = 2000 };
	static struct item items[N];
	static bool in[N];
	struct heap h;
	struct idmap m = {0};
	msg_heap_init(&h, item_less, offsetof(struct item, idx));
	assert_int_equal(msg_heap_reserve(&h, N), 0);
	srand(99);
	for (int i = 0; i < N; i++) {
		items[i].key = ((uint64_t)rand() << 20) ^ (uint64_t)i; /* distinct */
		items[i].idx = HEAP_NONE;
	}
	unsigned members = 0;
	for (int step = 0; step < 50000; step++) {
		int i = rand() % N, op = rand() % 4;
		if (op <= 1 && !in[i]) {
			assert_int_equal(msg_idmap_reserve(&m, members + 1), 0);
			msg_idmap_put(&m, items[i].key, &items[i]);
			msg_heap_push(&h, &items[i]);
			in[i] = true;
			members++;
		} else if (op == 2 && in[i]) {
			assert_ptr_equal(msg_idmap_del(&m, items[i].key), &items[i]);
			msg_heap_remove(&h, &items[i]);
			assert_int_equal(items[i].idx, HEAP_NONE);
			in[i] = false;
			members--;
		} else if (op == 3 && members > 0) {
			struct item *top = msg_heap_top(&h);
			for (int k = 0; k < N; k++)
				if (in[k])
					assert_true(items[k].key >= top->key);
			msg_heap_remove(&h, top);
			assert_ptr_equal(msg_idmap_del(&m, top->key), top);
			in[top - items] = false;
			members--;
		}
		assert_int_equal(h.n, members);
		assert_int_equal(m.n, members);
		int j = rand() % N;
		assert_ptr_equal(msg_idmap_get(&m, items[j].key), in[j] ? &items[j] : NULL);
	}
	msg_heap_free(&h);
	msg_idmap_free(&m);
}

static void test_model_seed1(void **state)
{
	(void)state;
	run(1);
}

static void test_model_seed2(void **state)
{
	(void)state;
	run(20261127);
}

static void test_model_seed3(void **state)
{
	(void)state;
	run(777);
}

int main(void)
{
	urcu_qsbr_register_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_containers),
		cmocka_unit_test_setup_teardown(test_model_seed1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_model_seed2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_model_seed3, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	urcu_qsbr_thread_offline();
	urcu_qsbr_barrier();
	urcu_qsbr_unregister_thread();
	return rc;
}
