/*
 * Concurrency tests of cache/: reader threads (registered QSBR readers that
 * report a quiescent state after every burst) run against writer threads
 * hammering overlapping keys while the main thread does maintenance (so the
 * index grows under them, from a tiny table). Writers do a fixed number of
 * operations; readers stop when the writers are done: every loop is bounded.
 *
 * What is checked:
 *  - every value read belongs to the key it was read for and was written by
 *    a writer (value = key|writer|counter);
 *  - per reader, per key and writer, counters and versions never go back
 *    (reads are linearizable per key: a slot holds the latest entry);
 *  - INCR from all writers adds up exactly; private keys (one writer each)
 *    follow their writer's own put / put-if-absent / CAS / delete exactly;
 *  - the final state is each key's last write; under a memory bound, bytes
 *    never pass it and evictions happen;
 *  - the same in a REPLICATED cache, where each delete leaves a tombstone
 *    (a later put-if-absent must replace it; tombstones are no entries);
 *  - under ASan, no entry or bucket is read after it is freed (grace
 *    periods are honoured).
 * Failures inside threads are counted (cmocka is not thread-safe) and
 * asserted by the main thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <urcu/urcu-qsbr.h>

#include "cache.h"
#include "cache_internal.h" /* weft_cache_create: a tiny initial table */

#define WRITERS 2
#define READERS 2
#define SHARED_KEYS 1024
#define PRIV_KEYS 64
#define OPS_PER_WRITER 100000

struct run {
	struct weft_cache *c;
	unsigned key_space;          /* shared keys in use */
	bool bounded;                /* memory-bound run: keys may be evicted */
	_Atomic uint64_t now;
	_Atomic unsigned writers_left;
	_Atomic uint64_t errors;
	_Atomic uint64_t reads;
	_Atomic uint64_t incr_done;
	/* per writer, per shared key: last counter and version written */
	uint64_t last_ctr[WRITERS][SHARED_KEYS];
	uint64_t last_ver[WRITERS][SHARED_KEYS];
	bool priv_present[WRITERS][PRIV_KEYS];
};

struct targ {
	struct run *r;
	unsigned id;
};

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static struct weft_cache_key key_of(char *buf, size_t cap, const char *fmt, unsigned a, unsigned b)
{
	int n = snprintf(buf, cap, fmt, a, b);
	return (struct weft_cache_key){buf, (uint16_t)n, weft_cache_hash(buf, (size_t)n)};
}

static void note_fail(struct run *r)
{
	atomic_fetch_add(&r->errors, 1);
}

static void *writer(void *arg)
{
	struct targ *ta = arg;
	struct run *r = ta->r;
	unsigned w = ta->id;
	uint64_t seed = 0x1234567ull + w * 7919, ctr = 0, priv_ver[PRIV_KEYS] = {0};
	char kb[64], val[128];
	urcu_qsbr_register_thread();
	for (unsigned op = 0; op < OPS_PER_WRITER; op++) {
		uint64_t now = atomic_load(&r->now);
		unsigned i = (unsigned)(xs(&seed) % r->key_space);
		struct weft_cache_key k = key_of(kb, sizeof(kb), "s%u%.0u", i, 0);
		ctr++;
		/* lengths vary so replacements change the charge */
		int n = snprintf(val, sizeof(val), "s%u|w%u|%" PRIu64 "|%.*s", i, w, ctr,
				 (int)(ctr % 60), "................................................"
				 "............");
		uint64_t ver = 0;
		int rc = weft_cache_put(r->c, &k, val, (uint32_t)n, WEFT_CACHE_PUT, 0, NULL, now,
					&ver);
		if (rc != 0)
			note_fail(r);
		else if (i < SHARED_KEYS) {
			r->last_ctr[w][i] = ctr;
			r->last_ver[w][i] = ver;
		}
		if (op % 8 == 0) {
			struct weft_cache_key ck = key_of(kb, sizeof(kb), "ctr%.0u%.0u", 0, 0);
			int64_t v;
			if (weft_cache_incr(r->c, &ck, 1, NULL, now, &v, NULL) != 0 || v <= 0)
				note_fail(r);
			else
				atomic_fetch_add(&r->incr_done, 1);
		}
		if (op % 4 == 0 && !r->bounded) {
			unsigned j = (unsigned)(xs(&seed) % PRIV_KEYS);
			struct weft_cache_key pk = key_of(kb, sizeof(kb), "p%u-%u", w, j);
			if (r->priv_present[w][j]) {
				uint64_t nv = 0;
				/* CAS with the version we wrote must win (nobody else
				 * writes this key), then delete */
				if (weft_cache_put(r->c, &pk, "cas", 3, WEFT_CACHE_CAS, priv_ver[j],
						   NULL, now, &nv) != 0 || nv <= priv_ver[j])
					note_fail(r);
				if (weft_cache_delete(r->c, &pk, now, NULL) != 0)
					note_fail(r);
				if (weft_cache_delete(r->c, &pk, now, NULL) != -ENOENT)
					note_fail(r);
				r->priv_present[w][j] = false;
			} else {
				n = snprintf(val, sizeof(val), "p%u-%u|%" PRIu64, w, j, ctr);
				if (weft_cache_put(r->c, &pk, val, (uint32_t)n, WEFT_CACHE_PUT_IF_ABSENT,
						   0, NULL, now, &priv_ver[j]) != 0)
					note_fail(r);
				r->priv_present[w][j] = true;
			}
		}
		urcu_qsbr_quiescent_state();
	}
	urcu_qsbr_unregister_thread();
	atomic_fetch_sub(&r->writers_left, 1);
	return NULL;
}

static void check_value(struct run *r, unsigned key, const struct weft_cache_value *v,
			uint64_t seen_ctr[SHARED_KEYS][WRITERS], uint64_t seen_ver[SHARED_KEYS])
{
	char buf[160];
	if (v->len >= sizeof(buf)) {
		note_fail(r);
		return;
	}
	memcpy(buf, v->data, v->len);
	buf[v->len] = '\0';
	unsigned k, w;
	uint64_t ctr;
	if (sscanf(buf, "s%u|w%u|%" SCNu64 "|", &k, &w, &ctr) != 3 || k != key || w >= WRITERS) {
		note_fail(r);
		return;
	}
	if (key < SHARED_KEYS) {
		if (ctr < seen_ctr[key][w] || v->version < seen_ver[key])
			note_fail(r);
		seen_ctr[key][w] = ctr;
		seen_ver[key] = v->version;
	}
}

static void *reader(void *arg)
{
	struct targ *ta = arg;
	struct run *r = ta->r;
	uint64_t seed = 0xabcdefull + ta->id * 104729;
	static _Thread_local uint64_t seen_ctr[SHARED_KEYS][WRITERS], seen_ver[SHARED_KEYS];
	char kb[32][32];
	struct weft_cache_key keys[32];
	unsigned idx[32];
	struct weft_cache_value out[32];
	bool found[32];
	int64_t last_ctr = 0;
	uint64_t reads = 0;

	memset(seen_ctr, 0, sizeof(seen_ctr));
	memset(seen_ver, 0, sizeof(seen_ver));
	urcu_qsbr_register_thread();
	while (atomic_load(&r->writers_left) > 0) {
		uint64_t now = atomic_load(&r->now);
		for (unsigned j = 0; j < 32; j++) {
			if (j == 31) {
				keys[j] = key_of(kb[j], sizeof(kb[j]), "ctr%.0u%.0u", 0, 0);
				continue;
			}
			idx[j] = (unsigned)(xs(&seed) % r->key_space);
			keys[j] = key_of(kb[j], sizeof(kb[j]), "s%u%.0u", idx[j], 0);
		}
		weft_cache_get_burst(r->c, keys, 32, now, out, found);
		for (unsigned j = 0; j < 31; j++)
			if (found[j])
				check_value(r, idx[j], &out[j], seen_ctr, seen_ver);
		if (found[31]) {
			char b[32];
			int64_t v;
			if (out[31].len == 0 || out[31].len >= sizeof(b)) {
				note_fail(r);
			} else {
				memcpy(b, out[31].data, out[31].len);
				b[out[31].len] = '\0';
				v = strtoll(b, NULL, 10);
				if (!r->bounded && v < last_ctr)
					note_fail(r);
				last_ctr = v;
			}
		}
		reads += 32;
		urcu_qsbr_quiescent_state();
	}
	urcu_qsbr_unregister_thread();
	atomic_fetch_add(&r->reads, reads);
	return NULL;
}

/* Runs writers and readers to completion while this thread maintains. */
static void run_all(struct run *r)
{
	pthread_t th[WRITERS + READERS];
	struct targ ta[WRITERS + READERS];
	atomic_store(&r->writers_left, WRITERS);
	for (unsigned i = 0; i < WRITERS + READERS; i++) {
		ta[i] = (struct targ){r, i < WRITERS ? i : i - WRITERS};
		assert_int_equal(pthread_create(&th[i], NULL, i < WRITERS ? writer : reader, &ta[i]),
				 0);
	}
	/* bounded: the writers do a fixed number of operations */
	while (atomic_load(&r->writers_left) > 0) {
		weft_cache_maintain(r->c, atomic_load(&r->now), 64);
		atomic_fetch_add(&r->now, 1);
		urcu_qsbr_quiescent_state();
		sched_yield();
	}
	urcu_qsbr_thread_offline();
	for (unsigned i = 0; i < WRITERS + READERS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	urcu_qsbr_thread_online();
}

/* *state: NULL (a LOCAL cache) or the cache mode to run in. */
static void test_readers_writers_resize(void **state)
{
	struct weft_cache_opts o = {.mode = *state != NULL ? *(const uint32_t *)*state : 0};
	struct run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->c = weft_cache_create("conc", 4, &o, 4); /* grows during the run */
	assert_non_null(r->c);
	r->key_space = SHARED_KEYS;
	run_all(r);

	assert_int_equal(atomic_load(&r->errors), 0);
	assert_true(atomic_load(&r->reads) > 0);
	struct weft_cache_stats st;
	weft_cache_get_stats(r->c, &st);
	assert_true(st.resizes > 0);

	/* final state: each shared key holds its latest write */
	char kb[64];
	for (unsigned i = 0; i < SHARED_KEYS; i++) {
		struct weft_cache_key k = key_of(kb, sizeof(kb), "s%u%.0u", i, 0);
		struct weft_cache_value v;
		bool found;
		unsigned lw = r->last_ver[0][i] > r->last_ver[1][i] ? 0 : 1;
		if (r->last_ver[lw][i] == 0) {
			assert_int_equal(weft_cache_get_burst(r->c, &k, 1, 0, &v, &found), 0);
			continue;
		}
		assert_int_equal(weft_cache_get_burst(r->c, &k, 1, 0, &v, &found), 1);
		assert_int_equal(v.version, r->last_ver[lw][i]);
		char want[64];
		int n = snprintf(want, sizeof(want), "s%u|w%u|%" PRIu64 "|", i, lw,
				 r->last_ctr[lw][i]);
		assert_true(v.len >= (uint32_t)n);
		assert_memory_equal(v.data, want, n);
	}
	struct weft_cache_key ck = key_of(kb, sizeof(kb), "ctr%.0u%.0u", 0, 0);
	int64_t total = 0;
	assert_int_equal(weft_cache_incr(r->c, &ck, 0, NULL, 0, &total, NULL), 0);
	assert_int_equal(total, (int64_t)atomic_load(&r->incr_done));
	assert_int_equal(total, WRITERS * (OPS_PER_WRITER / 8));
	uint64_t present = 0;
	for (unsigned w = 0; w < WRITERS; w++)
		for (unsigned j = 0; j < PRIV_KEYS; j++) {
			struct weft_cache_key pk = key_of(kb, sizeof(kb), "p%u-%u", w, j);
			struct weft_cache_value v;
			bool found;
			weft_cache_get_burst(r->c, &pk, 1, 0, &v, &found);
			assert_int_equal(found, r->priv_present[w][j]);
			present += found;
		}
	weft_cache_get_stats(r->c, &st);
	assert_int_equal(st.entries, SHARED_KEYS + 1 + present);
	if (o.mode == WEFT_CACHE_MODE_LOCAL || o.mode == 0)
		assert_int_equal(st.tombstones, 0);
	else /* at most one per private key not present (some may have expired) */
		assert_true(st.tombstones <= WRITERS * PRIV_KEYS - present);
	print_message("%" PRIu64 " reads, %" PRIu64 " resizes, %" PRIu64 " entries, %" PRIu64
		      " tombstones\n",
		      atomic_load(&r->reads), st.resizes, st.entries, st.tombstones);
	weft_cache_destroy(r->c);
	free(r);
	urcu_qsbr_quiescent_state();
}

static void test_readers_writers_resize_replicated(void **state)
{
	(void)state;
	uint32_t mode = WEFT_CACHE_MODE_REPLICATED;
	void *p = &mode;
	test_readers_writers_resize(&p);
}

static void test_concurrent_eviction(void **state)
{
	(void)state;
	struct run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	struct weft_cache_opts o = {.max_bytes = 256 * 1024};
	r->c = weft_cache_create("evc", 3, &o, 16);
	assert_non_null(r->c);
	r->key_space = 20000; /* far more than fits */
	r->bounded = true;
	run_all(r);

	assert_int_equal(atomic_load(&r->errors), 0);
	struct weft_cache_stats st;
	weft_cache_get_stats(r->c, &st);
	assert_true(st.bytes <= o.max_bytes);
	assert_true(st.evictions > 0);
	assert_true(st.entries > 0);
	print_message("%" PRIu64 " evictions, %" PRIu64 " entries, %" PRIu64 " bytes\n",
		      st.evictions, st.entries, st.bytes);
	weft_cache_destroy(r->c);
	free(r);
	urcu_qsbr_quiescent_state();
}

int main(void)
{
	urcu_qsbr_register_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readers_writers_resize),
		cmocka_unit_test(test_readers_writers_resize_replicated),
		cmocka_unit_test(test_concurrent_eviction),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	urcu_qsbr_thread_offline();
	urcu_qsbr_barrier();
	urcu_qsbr_unregister_thread();
	return rc;
}
