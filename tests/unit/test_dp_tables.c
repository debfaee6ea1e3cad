/*
 * test_dp_tables.c — the dataplane's slow-path tables on virtual time:
 * reassembly (out of order, duplicates, timeouts, memory bound, mismatched
 * and misaligned pieces, per-source bounds, maximum age), response memory (keep, FETCH, GONE, expiry, LRU
 * eviction under the byte bound) and at-most-once dedup (replay, in-flight,
 * eviction, expiry).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_tables.h"

#define P WEFT_MAX_DGRAM_PAYLOAD

static struct dp_msg_id id_of(uint64_t request_id)
{
	struct dp_msg_id id = {.ip = 0x0100d50a, .port = 0x409c, .client_id = 42,
			       .request_id = request_id};
	return id;
}

static struct weft_wire_hdr piece_hdr(uint32_t msg_len, uint32_t off)
{
	struct weft_wire_hdr h;
	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = WEFT_OP_PUT;
	h.name_len = 1;
	h.key_len = 1;
	h.extras_len = 16;
	h.msg_len = msg_len;
	h.frag_offset = off;
	return h;
}

static uint8_t *pattern(uint32_t len)
{
	uint8_t *p = malloc(len);
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	return p;
}

static enum dp_reasm_result add(struct dp_reasm *r, uint64_t rid, const uint8_t *msg,
				uint32_t msg_len, uint32_t slot, uint64_t now, uint8_t **out,
				struct weft_wire_hdr *hout)
{
	uint32_t off = slot * P;
	uint32_t len = msg_len - off < P ? msg_len - off : P;
	struct weft_wire_hdr h = piece_hdr(msg_len, off);
	struct dp_msg_id id = id_of(rid);
	return dp_reasm_add(r, &id, &h, msg + off, len, now, out, hout);
}

static void test_reasm_out_of_order_and_duplicates(void **state)
{
	(void)state;
	struct dp_reasm *r = dp_reasm_create(1 << 20, 16);
	uint32_t len = 4 * P + 100; /* 5 pieces */
	uint8_t *msg = pattern(len);
	uint8_t *out = NULL;
	struct weft_wire_hdr h;
	static const uint32_t order[] = {3, 0, 4, 1};
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(add(r, 1, msg, len, order[i], 10, &out, &h), DP_REASM_STORED);
	assert_int_equal(add(r, 1, msg, len, 4, 11, &out, &h), DP_REASM_DUPLICATE);
	assert_int_equal(add(r, 1, msg, len, 0, 11, &out, &h), DP_REASM_DUPLICATE);
	assert_int_equal(add(r, 1, msg, len, 2, 12, &out, &h), DP_REASM_COMPLETE);
	assert_non_null(out);
	assert_memory_equal(out, msg, len);
	assert_int_equal(h.msg_len, len);
	assert_int_equal(h.frag_offset, 0);
	free(out);
	struct dp_reasm_stats st;
	dp_reasm_get_stats(r, &st);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.duplicates, 2);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	free(msg);
	dp_reasm_destroy(r);
}

static void test_reasm_timeout(void **state)
{
	(void)state;
	struct dp_reasm *r = dp_reasm_create(1 << 20, 16);
	uint32_t len = 3 * P;
	uint8_t *msg = pattern(len);
	uint8_t *out = NULL;
	struct weft_wire_hdr h;
	assert_int_equal(add(r, 1, msg, len, 0, 1000, &out, &h), DP_REASM_STORED);
	assert_int_equal(add(r, 1, msg, len, 2, 1500, &out, &h), DP_REASM_STORED);
	/* Idle time counts from the last piece. */
	assert_int_equal(dp_reasm_expire(r, 1500 + WEFT_REASM_TIMEOUT_MS), 0);
	assert_int_equal(dp_reasm_expire(r, 1501 + WEFT_REASM_TIMEOUT_MS), 1);
	struct dp_reasm_stats st;
	dp_reasm_get_stats(r, &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.entries, 0);
	/* The missing piece alone now starts a new, incomplete message. */
	assert_int_equal(add(r, 1, msg, len, 1, 3000, &out, &h), DP_REASM_STORED);
	free(msg);
	dp_reasm_destroy(r);
}

static void test_reasm_bounds(void **state)
{
	(void)state;
	struct dp_reasm *r = dp_reasm_create(5 * P, 2); /* bytes for one 3-piece message */
	uint32_t len = 3 * P;
	uint8_t *msg = pattern(len);
	uint8_t *out = NULL;
	struct weft_wire_hdr h;
	assert_int_equal(add(r, 1, msg, len, 0, 1, &out, &h), DP_REASM_STORED);
	assert_int_equal(add(r, 2, msg, len, 0, 1, &out, &h), DP_REASM_BUSY); /* bytes */
	assert_int_equal(add(r, 3, msg, 2 * P, 0, 1, &out, &h), DP_REASM_STORED);
	assert_int_equal(add(r, 4, msg, P + 1, 0, 1, &out, &h), DP_REASM_BUSY); /* entries */
	struct dp_reasm_stats st;
	dp_reasm_get_stats(r, &st);
	assert_int_equal(st.refused, 2);
	assert_int_equal(st.bytes, 5 * P);
	/* Completing one frees its room. */
	assert_int_equal(add(r, 3, msg, 2 * P, 1, 1, &out, &h), DP_REASM_COMPLETE);
	free(out);
	assert_int_equal(add(r, 4, msg, P + 1, 0, 1, &out, &h), DP_REASM_STORED);
	free(msg);
	dp_reasm_destroy(r); /* frees the incomplete ones (checked by ASan) */
}

static void test_reasm_mismatch_and_misaligned(void **state)
{
	(void)state;
	struct dp_reasm *r = dp_reasm_create(1 << 20, 16);
	uint8_t buf[P];
	memset(buf, 1, sizeof(buf));
	uint8_t *out = NULL;
	struct weft_wire_hdr hout;
	struct dp_msg_id id = id_of(5);
	struct weft_wire_hdr h = piece_hdr(3 * P, 0);
	assert_int_equal(dp_reasm_add(r, &id, &h, buf, P, 1, &out, &hout), DP_REASM_STORED);
	h = piece_hdr(3 * P + 1, P); /* another msg_len for the same id */
	assert_int_equal(dp_reasm_add(r, &id, &h, buf, P, 1, &out, &hout), DP_REASM_MISMATCH);
	h = piece_hdr(3 * P, P);
	h.opcode = WEFT_OP_CAS;
	assert_int_equal(dp_reasm_add(r, &id, &h, buf, P, 1, &out, &hout), DP_REASM_MISMATCH);
	h = piece_hdr(3 * P, 100); /* not at a piece boundary */
	assert_int_equal(dp_reasm_add(r, &id, &h, buf, P, 1, &out, &hout), DP_REASM_MISALIGNED);
	h = piece_hdr(3 * P, P); /* a short piece that is not the last */
	assert_int_equal(dp_reasm_add(r, &id, &h, buf, P - 1, 1, &out, &hout),
			 DP_REASM_MISALIGNED);
	dp_reasm_destroy(r);
}

/* One piece of message rid from source address ip. */
static enum dp_reasm_result add_from(struct dp_reasm *r, uint32_t ip, uint64_t rid,
				     const uint8_t *msg, uint32_t msg_len, uint32_t slot,
				     uint64_t now, uint8_t **out)
{
	uint32_t off = slot * P;
	uint32_t len = msg_len - off < P ? msg_len - off : P;
	struct weft_wire_hdr h = piece_hdr(msg_len, off), hout;
	struct dp_msg_id id = id_of(rid);
	id.ip = ip;
	id.port = (uint16_t)rid; /* a flooder varies ports: still one source */
	return dp_reasm_add(r, &id, &h, msg + off, len, now, out, &hout);
}

/* A source flooding half-finished largest messages reaches its share
 * (a quarter of the bytes) and gets BUSY; another source still
 * reassembles; timeouts give the flooder's room back. */
static void test_reasm_per_source_bytes(void **state)
{
	(void)state;
	struct dp_reasm *r = dp_reasm_create(16u << 20, 4096);
	const uint32_t big = WEFT_MAX_MSG_LEN, A = 0x0a0aeb0a, B = 0x0b0aeb0a;
	uint8_t *msg = pattern(big);
	uint8_t *out = NULL;
	unsigned stored = 0;
	for (uint64_t rid = 1; rid <= 100; rid++) {
		enum dp_reasm_result res = add_from(r, A, rid, msg, big, 0, 10, &out);
		assert_true(res == DP_REASM_STORED || res == DP_REASM_BUSY);
		stored += res == DP_REASM_STORED;
	}
	assert_int_equal(stored, (4u << 20) / big); /* the source's share, whole messages */
	struct dp_reasm_stats st;
	dp_reasm_get_stats(r, &st);
	assert_int_equal(st.src_refused, 100 - stored);
	assert_true(st.bytes <= 4u << 20);
	assert_int_equal(st.sources, 1);
	/* Another source: a whole message completes. */
	uint32_t len = 3 * P + 5;
	for (uint32_t k = 0; k < 3; k++)
		assert_int_equal(add_from(r, B, 7, msg, len, k, 11, &out), DP_REASM_STORED);
	assert_int_equal(add_from(r, B, 7, msg, len, 3, 11, &out), DP_REASM_COMPLETE);
	assert_memory_equal(out, msg, len);
	free(out);
	/* Idle entries time out; the flooder may start again. */
	assert_int_equal(dp_reasm_expire(r, 11 + WEFT_REASM_TIMEOUT_MS), stored);
	dp_reasm_get_stats(r, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.sources, 0);
	assert_int_equal(add_from(r, A, 500, msg, big, 0, 2000, &out), DP_REASM_STORED);
	free(msg);
	dp_reasm_destroy(r);
}

/* Entry share: a quarter of max_entries per source. */
static void test_reasm_per_source_entries(void **state)
{
	(void)state;
	struct dp_reasm *r = dp_reasm_create(64u << 20, 64);
	uint8_t *msg = pattern(2 * P);
	uint8_t *out = NULL;
	for (uint64_t rid = 1; rid <= 16; rid++)
		assert_int_equal(add_from(r, 1, rid, msg, 2 * P, 0, 1, &out), DP_REASM_STORED);
	assert_int_equal(add_from(r, 1, 17, msg, 2 * P, 0, 1, &out), DP_REASM_BUSY);
	/* Pieces of messages it already has are still taken. */
	assert_int_equal(add_from(r, 1, 3, msg, 2 * P, 1, 1, &out), DP_REASM_COMPLETE);
	free(out);
	assert_int_equal(add_from(r, 1, 17, msg, 2 * P, 0, 1, &out), DP_REASM_STORED);
	for (uint64_t rid = 1; rid <= 16; rid++)
		assert_int_equal(add_from(r, 2, rid, msg, 2 * P, 0, 1, &out), DP_REASM_STORED);
	struct dp_reasm_stats st;
	dp_reasm_get_stats(r, &st);
	assert_int_equal(st.src_refused, 1);
	assert_int_equal(st.sources, 2);
	assert_int_equal(st.entries, 32);
	free(msg);
	dp_reasm_destroy(r);
}

/* A message kept alive by a trickle of pieces still goes after
 * DP_REASM_MAX_AGE_MS. */
static void test_reasm_max_age(void **state)
{
	(void)state;
	struct dp_reasm *r = dp_reasm_create(16u << 20, 64);
	uint32_t len = 200 * P;
	uint8_t *msg = pattern(len);
	uint8_t *out = NULL;
	uint64_t now = 100;
	uint32_t slot = 0;
	while (now - 100 <= DP_REASM_MAX_AGE_MS) {
		assert_int_equal(add_from(r, 1, 1, msg, len, slot++, now, &out), DP_REASM_STORED);
		assert_int_equal(dp_reasm_expire(r, now), 0);
		now += WEFT_REASM_TIMEOUT_MS / 2;
	}
	assert_int_equal(dp_reasm_expire(r, now), 1);
	struct dp_reasm_stats st;
	dp_reasm_get_stats(r, &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.entries, 0);
	free(msg);
	dp_reasm_destroy(r);
}

/* --- response memory ---------------------------------------------- */

struct sink {
	unsigned n;
	uint32_t offsets[64];
	uint32_t lens[64];
	uint8_t data[64 * P];
};

static void sink_emit(void *ctx, const struct weft_wire_hdr *hdr, const uint8_t *slice,
		      uint32_t len)
{
	struct sink *s = ctx;
	s->offsets[s->n] = hdr->frag_offset;
	s->lens[s->n] = len;
	memcpy(s->data + hdr->frag_offset, slice, len);
	s->n++;
}

static struct weft_wire_hdr resp_hdr(uint32_t msg_len)
{
	struct weft_wire_hdr h = piece_hdr(msg_len, 0);
	h.opcode = WEFT_OP_GET;
	h.flags = WEFT_F_RESPONSE;
	h.name_len = 0;
	h.key_len = 0;
	h.extras_len = 8;
	return h;
}

static void test_resp_keep_fetch_gone(void **state)
{
	(void)state;
	struct dp_resp *r = dp_resp_create(1 << 20);
	uint32_t len = 40 * P + 17;
	uint8_t *payload = pattern(len);
	uint8_t *copy = pattern(len);
	struct weft_wire_hdr h = resp_hdr(len);
	struct dp_msg_id id = id_of(1);
	assert_int_equal(dp_resp_keep(r, &id, &h, payload, 100), 0);
	static struct sink s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(dp_resp_fetch(r, &id, 0, WEFT_RESP_INITIAL_WINDOW, 100, sink_emit, &s),
			 32);
	assert_int_equal(dp_resp_fetch(r, &id, 32 * P, 32, 200, sink_emit, &s), 9);
	assert_int_equal(s.n, 41);
	assert_int_equal(s.offsets[40], 40 * P);
	assert_int_equal(s.lens[40], 17);
	assert_memory_equal(s.data, copy, len);
	/* Past the end: nothing; misaligned: -EINVAL. */
	assert_int_equal(dp_resp_fetch(r, &id, 41 * P, 1, 200, sink_emit, &s), 0);
	assert_int_equal(dp_resp_fetch(r, &id, 3, 1, 200, sink_emit, &s), -EINVAL);
	/* Idle expiry counts from the last FETCH. */
	assert_int_equal(dp_resp_expire(r, 200 + WEFT_RESP_KEEP_MS), 0);
	assert_int_equal(dp_resp_expire(r, 201 + WEFT_RESP_KEEP_MS), 1);
	assert_int_equal(dp_resp_fetch(r, &id, 0, 1, 5000, sink_emit, &s), -ENOENT);
	struct dp_resp_stats st;
	dp_resp_get_stats(r, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.fetch_gone, 1);
	assert_int_equal(st.bytes, 0);
	free(copy);
	dp_resp_destroy(r);
}

static void test_resp_bound_evicts_lru(void **state)
{
	(void)state;
	struct dp_resp *r = dp_resp_create(3 * 10000);
	struct dp_msg_id a = id_of(1), b = id_of(2), c = id_of(3), d = id_of(4);
	struct weft_wire_hdr h = resp_hdr(10000);
	static struct sink s;
	assert_int_equal(dp_resp_keep(r, &a, &h, pattern(10000), 1), 0);
	assert_int_equal(dp_resp_keep(r, &b, &h, pattern(10000), 2), 0);
	assert_int_equal(dp_resp_keep(r, &c, &h, pattern(10000), 3), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dp_resp_fetch(r, &a, 0, 1, 4, sink_emit, &s), 1); /* a is now newest */
	assert_int_equal(dp_resp_keep(r, &d, &h, pattern(10000), 5), 0);   /* evicts b */
	assert_int_equal(dp_resp_fetch(r, &b, 0, 1, 6, sink_emit, &s), -ENOENT);
	assert_int_equal(dp_resp_fetch(r, &a, 0, 1, 6, sink_emit, &s), 1);
	/* Larger than the whole bound: refused, nothing evicted. */
	struct weft_wire_hdr big = resp_hdr(3 * 10000 + 1);
	assert_int_equal(dp_resp_keep(r, &b, &big, pattern(3 * 10000 + 1), 7), -ENOMEM);
	/* A second answer for a kept id (a retransmitted request) is dropped:
	 * the first one stays, so pieces of two answers never mix. */
	uint8_t *second = calloc(1, 10000);
	assert_int_equal(dp_resp_keep(r, &a, &h, second, 8), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dp_resp_fetch(r, &a, 0, 1, 9, sink_emit, &s), 1);
	uint8_t *first = pattern(10000);
	assert_memory_equal(s.data, first, P);
	free(first);
	struct dp_resp_stats st;
	dp_resp_get_stats(r, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.bytes, 30000);
	dp_resp_destroy(r);
}

/* --- dedup --------------------------------------------------------- */

static void test_dedup_replay_and_inflight(void **state)
{
	(void)state;
	struct dp_dedup *d = dp_dedup_create(1024);
	struct dp_msg_id id = id_of(77);
	struct dp_dedup_resp r, got;
	assert_int_equal(dp_dedup_begin(d, &id, 10, &got), DP_DEDUP_NEW);
	assert_int_equal(dp_dedup_begin(d, &id, 11, &got), DP_DEDUP_INFLIGHT);
	memset(&r, 0, sizeof(r));
	r.status = WEFT_ST_OK;
	r.extras_len = 16;
	memset(r.extras, 0x5a, 16);
	dp_dedup_finish(d, &id, &r);
	memset(&got, 0, sizeof(got));
	assert_int_equal(dp_dedup_begin(d, &id, 12, &got), DP_DEDUP_DONE);
	assert_int_equal(got.status, WEFT_ST_OK);
	assert_int_equal(got.extras_len, 16);
	assert_memory_equal(got.extras, r.extras, 16);
	/* Same request id from another client port is another request. */
	struct dp_msg_id other = id;
	other.port++;
	assert_int_equal(dp_dedup_begin(d, &other, 12, &got), DP_DEDUP_NEW);
	/* Expiry after WEFT_DEDUP_KEEP_MS from the first sighting. */
	assert_int_equal(dp_dedup_expire(d, 10 + WEFT_DEDUP_KEEP_MS), 0);
	assert_int_equal(dp_dedup_expire(d, 13 + WEFT_DEDUP_KEEP_MS), 2);
	assert_int_equal(dp_dedup_begin(d, &id, 20000, &got), DP_DEDUP_NEW);
	struct dp_dedup_stats st;
	dp_dedup_get_stats(d, &st);
	assert_int_equal(st.replayed, 1);
	assert_int_equal(st.inflight, 1);
	assert_int_equal(st.expired, 2);
	assert_int_equal(st.entries, 1);
	dp_dedup_destroy(d);
}

static void test_dedup_bounded(void **state)
{
	(void)state;
	struct dp_dedup *d = dp_dedup_create(64); /* 4 per shard */
	struct dp_dedup_resp got;
	for (uint64_t i = 0; i < 1000; i++) {
		struct dp_msg_id id = id_of(i);
		assert_int_equal(dp_dedup_begin(d, &id, 1, &got), DP_DEDUP_NEW);
	}
	struct dp_dedup_stats st;
	dp_dedup_get_stats(d, &st);
	assert_true(st.entries <= 64);
	assert_int_equal(st.inserted, 1000);
	assert_int_equal(st.evicted, 1000 - st.entries);
	/* The newest are still remembered. */
	struct dp_msg_id last = id_of(999);
	assert_int_equal(dp_dedup_begin(d, &last, 1, &got), DP_DEDUP_INFLIGHT);
	/* finish() of an evicted entry is a no-op. */
	struct dp_msg_id first = id_of(0);
	struct dp_dedup_resp r = {.status = WEFT_ST_OK};
	dp_dedup_finish(d, &first, &r);
	assert_int_equal(dp_dedup_begin(d, &first, 1, &got), DP_DEDUP_NEW);
	dp_dedup_destroy(d);
}

#define RACE_IDS 20000u
#define RACE_THREADS 4

static struct dp_dedup *race_table;
static unsigned race_applied[RACE_IDS];

static void *race_worker(void *arg)
{
	(void)arg;
	struct dp_dedup_resp got, r = {.status = WEFT_ST_OK, .extras_len = 0};
	for (uint64_t i = 0; i < RACE_IDS; i++) {
		struct dp_msg_id id = id_of(i);
		if (dp_dedup_begin(race_table, &id, 1, &got) == DP_DEDUP_NEW) {
			__atomic_fetch_add(&race_applied[i], 1, __ATOMIC_RELAXED);
			dp_dedup_finish(race_table, &id, &r);
		}
	}
	return NULL;
}

/* Lcores racing on the same identities: each op is applied exactly once. */
static void test_dedup_concurrent_applies_once(void **state)
{
	(void)state;
	race_table = dp_dedup_create(4 * RACE_IDS);
	pthread_t t[RACE_THREADS];
	for (int i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race_worker, NULL), 0);
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_join(t[i], NULL);
	for (unsigned i = 0; i < RACE_IDS; i++)
		assert_int_equal(race_applied[i], 1);
	struct dp_dedup_stats st;
	dp_dedup_get_stats(race_table, &st);
	assert_int_equal(st.inserted, RACE_IDS);
	assert_int_equal(st.replayed + st.inflight, (RACE_THREADS - 1) * RACE_IDS);
	assert_int_equal(st.evicted, 0);
	dp_dedup_destroy(race_table);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reasm_out_of_order_and_duplicates),
		cmocka_unit_test(test_reasm_timeout),
		cmocka_unit_test(test_reasm_bounds),
		cmocka_unit_test(test_reasm_mismatch_and_misaligned),
		cmocka_unit_test(test_reasm_per_source_bytes),
		cmocka_unit_test(test_reasm_per_source_entries),
		cmocka_unit_test(test_reasm_max_age),
		cmocka_unit_test(test_resp_keep_fetch_gone),
		cmocka_unit_test(test_resp_bound_evicts_lru),
		cmocka_unit_test(test_dedup_replay_and_inflight),
		cmocka_unit_test(test_dedup_bounded),
		cmocka_unit_test(test_dedup_concurrent_applies_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
