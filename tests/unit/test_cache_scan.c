/*
 * Unit tests of weft_cache_scan: what it promises is that every entry live
 * for the whole scan is visited at least once (duplicates allowed), in
 * bounded steps, across writes and incremental index growth.
 *
 *  - a static cache of 10000 entries: each visited, with its value,
 *    version and remaining TTL; expired entries are not;
 *  - 10000 entries in a 16-bucket table (long overflow chains), scanned one
 *    bucket position per step while new keys are inserted and maintenance
 *    grows the index several times under the scan (asserted: some steps
 *    start on a table that is mid-growth), and some keys are deleted;
 *  - fn deleting the entry it is given, and other entries, and inserting;
 *  - a writer thread (put, overwrite, delete) racing the scanning thread,
 *    which also runs maintenance (bounded: the writer does a fixed number
 *    of operations at most and stops when the scan ends).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <urcu/urcu-qsbr.h>

#include "cache.h"
#include "cache_internal.h" /* tiny tables; whether a growth is in progress */

#define N 10000u
#define MAX_STEPS 10000000u /* bound on scan calls: the scan must end long before */

struct kbuf {
	char s[32];
	struct weft_cache_key k;
};

static const struct weft_cache_key *mk(struct kbuf *b, const char *fmt, unsigned i)
{
	int n = snprintf(b->s, sizeof(b->s), fmt, i);
	b->k = (struct weft_cache_key){b->s, (uint16_t)n, weft_cache_hash(b->s, (size_t)n)};
	return &b->k;
}

/* Visit counts of keys "s<i>" (i < N); other keys are counted apart. */
struct seen {
	struct weft_cache *c;
	unsigned count[N];
	unsigned others;
	unsigned bad;   /* a visit whose image does not match its key */
	uint64_t now;
	/* fn's writes (test_scan_writes_in_fn) */
	bool delete_self, delete_next, insert;
	unsigned deleted_next;
};

/* Parses "s<i>" (value "v<i>"); returns i or -1. */
static long key_index(const struct weft_cache_key *k)
{
	char buf[32];
	if (k->len < 2 || k->len >= sizeof(buf) || ((const char *)k->data)[0] != 's')
		return -1;
	memcpy(buf, k->data, k->len);
	buf[k->len] = '\0';
	char *end;
	unsigned long i = strtoul(buf + 1, &end, 10);
	return (*end == '\0' && i < N) ? (long)i : -1;
}

static void on_entry(void *arg, const struct weft_cache_key *k, const struct weft_cache_image *img)
{
	struct seen *s = arg;
	if (k->hash != weft_cache_hash(k->data, k->len))
		s->bad++;
	long i = key_index(k);
	if (i < 0) {
		s->others++;
		return;
	}
	char want[32];
	int n = snprintf(want, sizeof(want), "v%ld", i);
	/* "v<i>", or "v<i>|<counter>" from test_scan_concurrent_writer */
	if (img->value_len < (uint32_t)n || memcmp(img->value, want, (size_t)n) != 0 ||
	    (img->value_len > (uint32_t)n && img->value[n] != '|') || img->version == 0)
		s->bad++;
	s->count[i]++;
	struct kbuf kb;
	if (s->delete_self && weft_cache_delete(s->c, k, s->now, NULL) != 0)
		s->bad++;
	if (s->delete_next && i + 1 < (long)N &&
	    weft_cache_delete(s->c, mk(&kb, "s%u", (unsigned)i + 1), s->now, NULL) == 0)
		s->deleted_next++;
	if (s->insert &&
	    weft_cache_put(s->c, mk(&kb, "new%u", (unsigned)i), "n", 1, WEFT_CACHE_PUT, 0, NULL,
			   s->now, NULL) != 0)
		s->bad++;
}

static void put_s(struct weft_cache *c, unsigned i, const struct weft_cache_write *w, uint64_t now)
{
	struct kbuf kb;
	char v[32];
	int n = snprintf(v, sizeof(v), "v%u", i);
	assert_int_equal(weft_cache_put(c, mk(&kb, "s%u", i), v, (uint32_t)n, WEFT_CACHE_PUT, 0, w,
					now, NULL), 0);
}

/* Runs maintenance until the index has grown to fit its entries. */
static void grow_fully(struct weft_cache *c, uint64_t now)
{
	for (unsigned i = 0; i < 64; i++) {
		struct weft_cache_table *t = atomic_load(&c->table);
		if (atomic_load(&t->next) == NULL &&
		    atomic_load(&c->entries) <= WEFT_CACHE_GROW_LOAD * (t->mask + 1))
			return;
		weft_cache_maintain(c, now, 1u << 20);
		urcu_qsbr_quiescent_state();
	}
	fail_msg("the index did not finish growing");
}

struct ttl_check {
	unsigned with_ttl, without;
};

static void on_ttl(void *arg, const struct weft_cache_key *k, const struct weft_cache_image *img)
{
	struct ttl_check *tc = arg;
	long i = key_index(k);
	if (i >= 0 && i % 10 == 0 && img->ttl_ms == 500) /* 100 + 1000 - 600 */
		tc->with_ttl++;
	else if (i >= 0 && i % 10 != 0 && img->ttl_ms == WEFT_CACHE_NO_EXPIRY)
		tc->without++;
}

/* Runs a whole scan with step positions per call; returns the calls made. */
static unsigned scan_all(struct weft_cache *c, unsigned step, struct seen *s)
{
	uint64_t cur = 0;
	unsigned calls = 0;
	do {
		cur = weft_cache_scan(c, cur, step, s->now, on_entry, s);
		calls++;
	} while (cur != 0 && calls < MAX_STEPS);
	assert_int_equal(cur, 0);
	return calls;
}

static void test_scan_static(void **state)
{
	(void)state;
	struct weft_cache *c = weft_cache_create("st", 2, NULL, 16);
	assert_non_null(c);
	struct weft_cache_write ttl = {.ttl_ms = 1000, .max_idle_ms = 0};
	for (unsigned i = 0; i < N; i++)
		put_s(c, i, i % 10 == 0 ? &ttl : NULL, 100);
	struct kbuf kb;
	struct weft_cache_write gone = {.ttl_ms = 50};
	for (unsigned i = 0; i < 100; i++) /* expired at the scan: not visited */
		assert_int_equal(weft_cache_put(c, mk(&kb, "gone%u", i), "g", 1, WEFT_CACHE_PUT, 0,
						&gone, 100, NULL), 0);
	grow_fully(c, 100);

	struct seen *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->c = c;
	s->now = 200;
	unsigned buckets = (unsigned)(atomic_load(&c->table)->mask + 1);
	unsigned calls = scan_all(c, 7, s);
	assert_int_equal(calls, (buckets + 6) / 7); /* bounded steps, each position once */
	assert_int_equal(s->bad, 0);
	assert_int_equal(s->others, 0);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(s->count[i], 1); /* no resize: exactly once */

	/* the image carries the remaining TTL */
	struct ttl_check tc = {0, 0};
	uint64_t cur = 0;
	do
		cur = weft_cache_scan(c, cur, 64, 600, on_ttl, &tc);
	while (cur != 0);
	assert_int_equal(tc.with_ttl, N / 10);
	assert_int_equal(tc.without, N - N / 10);

	/* an empty cache, a NULL fn and a cursor out of range are harmless */
	struct weft_cache *e = weft_cache_create("e", 1, NULL, 1);
	assert_non_null(e);
	memset(s, 0, sizeof(*s));
	assert_int_equal(weft_cache_scan(e, 0, 1, 0, on_entry, s), 0);
	assert_int_equal(weft_cache_scan(c, 0, 1, 0, NULL, NULL), 0);
	(void)weft_cache_scan(c, UINT64_MAX, 0, 200, on_entry, s);
	assert_int_equal(s->bad, 0);
	weft_cache_destroy(e);
	free(s);
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

static void test_scan_during_resize(void **state)
{
	(void)state;
	struct weft_cache *c = weft_cache_create("rs", 2, NULL, 16);
	assert_non_null(c);
	/* the scan starts in a growing table whose buckets writers have
	 * moved: the second half of the keys lives only in the new table */
	for (unsigned i = 0; i < N / 2; i++) /* no maintenance: 16 long chains */
		put_s(c, i, NULL, 0);
	weft_cache_maintain(c, 0, 1); /* starts a growth, moves one bucket */
	for (unsigned i = N / 2; i < N; i++)
		put_s(c, i, NULL, 0);
	struct weft_cache_table *t0 = atomic_load(&c->table);
	assert_int_equal(t0->mask + 1, 16);
	assert_non_null(atomic_load(&t0->next));
	assert_int_equal(atomic_load(&t0->moved), 16);

	struct seen *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->c = c;
	bool *deleted = calloc(N, sizeof(bool));
	assert_non_null(deleted);
	struct weft_cache_stats st0, st1;
	weft_cache_get_stats(c, &st0);

	uint64_t cur = 0;
	unsigned calls = 0, mid_growth = 0, inserted = 0;
	struct kbuf kb;
	do {
		if (atomic_load(&atomic_load(&c->table)->next) != NULL)
			mid_growth++;
		cur = weft_cache_scan(c, cur, 1, 0, on_entry, s);
		calls++;
		/* writes between the steps: new keys (which force growth and,
		 * in a growing table, move buckets), deletes of old keys */
		for (unsigned j = 0; j < 16 && inserted < 4 * N; j++, inserted++)
			assert_int_equal(weft_cache_put(c, mk(&kb, "new%u", inserted), "n", 1,
							WEFT_CACHE_PUT, 0, NULL, 0, NULL), 0);
		unsigned d = (calls * 7919u) % N;
		if (calls % 3 == 0 && !deleted[d]) {
			assert_int_equal(weft_cache_delete(c, mk(&kb, "s%u", d), 0, NULL), 0);
			deleted[d] = true;
		}
		weft_cache_maintain(c, 0, 8); /* a few bucket moves per step */
		urcu_qsbr_quiescent_state();
	} while (cur != 0 && calls < MAX_STEPS);
	assert_int_equal(cur, 0);
	weft_cache_get_stats(c, &st1);
	print_message("%u scan calls, %u mid-growth, %" PRIu64 " resizes during the scan, "
		      "%u inserted\n",
		      calls, mid_growth, st1.resizes - st0.resizes, inserted);
	assert_true(st1.resizes - st0.resizes >= 3); /* the index grew under the scan */
	assert_true(mid_growth > 0);
	assert_int_equal(s->bad, 0);
	unsigned missed = 0, twice = 0, ndel = 0;
	for (unsigned i = 0; i < N; i++) {
		ndel += deleted[i];
		if (!deleted[i] && s->count[i] == 0)
			missed++;
		twice += s->count[i] > 1;
	}
	assert_true(ndel > 0);
	assert_int_equal(missed, 0);
	/* beyond the promise: growth never makes this scan repeat a hash
	 * class (reversed-bit cursor), so keys not rewritten come once */
	assert_int_equal(twice, 0);
	free(deleted);
	free(s);
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

static void test_scan_writes_in_fn(void **state)
{
	(void)state;
	/* fn deletes the entry it is given: every entry visited, none left */
	struct weft_cache *c = weft_cache_create("fn", 2, NULL, 64);
	assert_non_null(c);
	for (unsigned i = 0; i < N; i++)
		put_s(c, i, NULL, 0);
	struct seen *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->c = c;
	s->delete_self = true;
	scan_all(c, 3, s);
	assert_int_equal(s->bad, 0);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(s->count[i], 1);
	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.deletes, N);
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();

	/* fn deletes another entry and inserts new ones (into a table that
	 * maintenance grows between the steps): every entry not deleted by
	 * then is visited, and the scan ends */
	c = weft_cache_create("fn2", 3, NULL, 64);
	assert_non_null(c);
	for (unsigned i = 0; i < N; i++)
		put_s(c, i, NULL, 0);
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->delete_next = true;
	s->insert = true;
	uint64_t cur = 0;
	unsigned calls = 0;
	do {
		cur = weft_cache_scan(c, cur, 2, 0, on_entry, s);
		weft_cache_maintain(c, 0, 16);
		urcu_qsbr_quiescent_state();
	} while (cur != 0 && ++calls < MAX_STEPS);
	assert_int_equal(cur, 0);
	assert_int_equal(s->bad, 0);
	struct weft_cache_value v;
	bool found;
	unsigned live = 0, visited = 0;
	for (unsigned i = 0; i < N; i++) {
		struct kbuf kb;
		visited += s->count[i] > 0;
		if (weft_cache_get_burst(c, mk(&kb, "s%u", i), 1, 0, &v, &found) == 1) {
			assert_true(s->count[i] >= 1); /* live throughout: visited */
			live++;
		}
	}
	weft_cache_get_stats(c, &st);
	assert_int_equal(live + s->deleted_next, N);
	assert_true(s->deleted_next > 0);
	assert_int_equal(st.entries, live + visited); /* one new key per visited key */
	free(s);
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

/* --- a writer thread racing the scan --------------------------------- */

#define STABLE 4000u
#define WRITER_OPS 2000000u

struct race {
	struct weft_cache *c;
	_Atomic bool scan_done, writer_done;
	_Atomic uint64_t ops; /* writer rounds so far */
	_Atomic unsigned errors;
};

static void *writer(void *arg)
{
	struct race *r = arg;
	urcu_qsbr_register_thread();
	struct kbuf kb;
	char v[32];
	uint64_t i = 0;
	for (; i < WRITER_OPS && !atomic_load(&r->scan_done); i++) {
		/* overwrite a stable key (it stays live), insert a new key,
		 * delete the new key inserted 1000 operations ago */
		unsigned sk = (unsigned)(i % STABLE);
		int n = snprintf(v, sizeof(v), "v%u|%" PRIu64, sk, i);
		if (weft_cache_put(r->c, mk(&kb, "s%u", sk), v, (uint32_t)n, WEFT_CACHE_PUT, 0, NULL,
				   0, NULL) != 0)
			atomic_fetch_add(&r->errors, 1);
		if (weft_cache_put(r->c, mk(&kb, "new%u", (unsigned)i), "n", 1, WEFT_CACHE_PUT, 0,
				   NULL, 0, NULL) != 0)
			atomic_fetch_add(&r->errors, 1);
		if (i >= 1000 &&
		    weft_cache_delete(r->c, mk(&kb, "new%u", (unsigned)(i - 1000)), 0, NULL) != 0)
			atomic_fetch_add(&r->errors, 1);
		if (i % 64 == 0)
			urcu_qsbr_quiescent_state();
		atomic_store_explicit(&r->ops, i + 1, memory_order_relaxed);
	}
	atomic_store(&r->writer_done, true);
	urcu_qsbr_unregister_thread();
	return NULL;
}

static void test_scan_concurrent_writer(void **state)
{
	(void)state;
	struct race r = {.c = weft_cache_create("cw", 2, NULL, 16)};
	assert_non_null(r.c);
	for (unsigned i = 0; i < STABLE; i++)
		put_s(r.c, i, NULL, 0);
	struct seen *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->c = r.c;
	struct weft_cache_stats st0, st1;
	weft_cache_get_stats(r.c, &st0);

	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, writer, &r), 0);
	uint64_t cur = 0, seen_ops = 0;
	unsigned calls = 0;
	do {
		/* let the writer do some rounds between two steps (it ends by
		 * itself after WRITER_OPS, so this wait is bounded) */
		while (atomic_load(&r.ops) < seen_ops + 20 && !atomic_load(&r.writer_done))
			caa_cpu_relax();
		seen_ops = atomic_load(&r.ops);
		cur = weft_cache_scan(r.c, cur, 1, 0, on_entry, s);
		weft_cache_maintain(r.c, 0, 4);
		urcu_qsbr_quiescent_state();
	} while (cur != 0 && ++calls < MAX_STEPS);
	atomic_store(&r.scan_done, true);
	urcu_qsbr_thread_offline(); /* the writer's grace periods must not wait for us */
	pthread_join(th, NULL);
	urcu_qsbr_thread_online();
	assert_int_equal(cur, 0);
	weft_cache_get_stats(r.c, &st1);
	print_message("%u scan calls against %" PRIu64 " writer rounds, %" PRIu64 " resizes\n",
		      calls, atomic_load(&r.ops), st1.resizes - st0.resizes);
	assert_int_equal(atomic_load(&r.errors), 0);
	assert_int_equal(s->bad, 0);
	for (unsigned i = 0; i < STABLE; i++)
		assert_true(s->count[i] >= 1);
	free(s);
	weft_cache_destroy(r.c);
	urcu_qsbr_quiescent_state();
}

int main(void)
{
	urcu_qsbr_register_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_static),
		cmocka_unit_test(test_scan_during_resize),
		cmocka_unit_test(test_scan_writes_in_fn),
		cmocka_unit_test(test_scan_concurrent_writer),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	urcu_qsbr_thread_offline();
	urcu_qsbr_barrier(); /* run pending frees so leak checkers see none */
	urcu_qsbr_unregister_thread();
	return rc;
}
