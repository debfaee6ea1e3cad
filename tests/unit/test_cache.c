/*
 * Unit tests of cache/ (single thread): every operation and status,
 * versions, CAS, INCR edge cases, TTL and max-idle with virtual time,
 * eviction under small bounds, overflow buckets, tag collisions, resize,
 * and the registry. Concurrency lives in test_cache_concurrency.c.
 *
 * The test thread is a registered, online QSBR reader throughout, as an
 * lcore would be; it reports quiescent states between steps.
 */
#include <errno.h>
#include <inttypes.h>
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
#include "cache_internal.h"
#include "cache_keys.h"

/* Looks one key up; returns whether it was found and copies the value. */
static bool get1(struct weft_cache *c, const struct weft_cache_key *k, uint64_t now, char *val,
		 size_t cap, uint64_t *version)
{
	struct weft_cache_value v;
	bool found = false;
	unsigned n = weft_cache_get_burst(c, k, 1, now, &v, &found);
	assert_int_equal(n, found ? 1 : 0);
	if (found && val != NULL) {
		assert_true(v.len < cap);
		memcpy(val, v.data, v.len);
		val[v.len] = '\0';
	}
	if (found && version != NULL)
		*version = v.version;
	return found;
}

static int put_s(struct weft_cache *c, const struct weft_cache_key *k, const char *val,
		 enum weft_cache_put_mode mode, uint64_t expected, uint64_t now, uint64_t *ver)
{
	return weft_cache_put(c, k, val, (uint32_t)strlen(val), mode, expected, NULL, now, ver);
}

static int setup(void **state)
{
	struct weft_cache *c = weft_cache_create("t", 1, NULL, 0);
	assert_non_null(c);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	weft_cache_destroy(*state);
	urcu_qsbr_quiescent_state();
	return 0;
}

static void test_put_get_delete(void **state)
{
	struct weft_cache *c = *state;
	struct kbuf kb;
	const struct weft_cache_key *k = mk(&kb, "key-%u", 1);
	char val[64];
	uint64_t v1 = 0, v2 = 0, got = 0;

	assert_false(get1(c, k, 0, val, sizeof(val), NULL));
	assert_int_equal(put_s(c, k, "hello", WEFT_CACHE_PUT, 0, 0, &v1), 0);
	assert_true(get1(c, k, 0, val, sizeof(val), &got));
	assert_string_equal(val, "hello");
	assert_int_equal(got, v1);
	assert_int_equal(put_s(c, k, "world!", WEFT_CACHE_PUT, 0, 0, &v2), 0);
	assert_true(v2 > v1);
	assert_true(get1(c, k, 0, val, sizeof(val), &got));
	assert_string_equal(val, "world!");
	assert_int_equal(got, v2);

	/* empty value is a value */
	struct kbuf kb2;
	assert_int_equal(weft_cache_put(c, mk(&kb2, "empty%u", 0), NULL, 0, WEFT_CACHE_PUT, 0, NULL,
					0, NULL), 0);
	assert_true(get1(c, &kb2.k, 0, val, sizeof(val), NULL));
	assert_string_equal(val, "");

	assert_int_equal(weft_cache_delete(c, k, 0, NULL), 0);
	assert_false(get1(c, k, 0, val, sizeof(val), NULL));
	assert_int_equal(weft_cache_delete(c, k, 0, NULL), -ENOENT);

	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 1);
	assert_true(st.bytes > 0);
	assert_int_equal(st.puts, 3);
	assert_int_equal(st.deletes, 1);
	assert_int_equal(st.hits, 3);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.max_bytes, 256ull << 20);
	urcu_qsbr_quiescent_state();
}

static void test_put_modes_and_versions(void **state)
{
	struct weft_cache *c = *state;
	struct kbuf a, b;
	uint64_t v[8] = {0}, cur = 0;
	char val[64];

	mk(&a, "a%u", 0);
	mk(&b, "b%u", 0);
	assert_int_equal(put_s(c, &a.k, "1", WEFT_CACHE_PUT, 0, 0, &v[0]), 0);
	assert_int_equal(put_s(c, &b.k, "1", WEFT_CACHE_PUT, 0, 0, &v[1]), 0);
	assert_true(v[1] > v[0]); /* unique and increasing across keys */

	assert_int_equal(put_s(c, &a.k, "2", WEFT_CACHE_PUT_IF_ABSENT, 0, 0, &cur), -EEXIST);
	assert_int_equal(cur, v[0]);
	assert_true(get1(c, &a.k, 0, val, sizeof(val), NULL));
	assert_string_equal(val, "1");

	struct kbuf n;
	mk(&n, "new%u", 0);
	assert_int_equal(put_s(c, &n.k, "x", WEFT_CACHE_REPLACE, 0, 0, &cur), -ENOENT);
	assert_false(get1(c, &n.k, 0, NULL, 0, NULL));
	assert_int_equal(put_s(c, &n.k, "x", WEFT_CACHE_CAS, 1, 0, &cur), -ENOENT);
	assert_int_equal(put_s(c, &n.k, "x", WEFT_CACHE_PUT_IF_ABSENT, 0, 0, &v[2]), 0);
	assert_true(v[2] > v[1]);

	assert_int_equal(put_s(c, &a.k, "3", WEFT_CACHE_REPLACE, 0, 0, &v[3]), 0);
	assert_true(v[3] > v[2]);
	assert_true(get1(c, &a.k, 0, val, sizeof(val), &cur));
	assert_string_equal(val, "3");
	assert_int_equal(cur, v[3]);

	/* CAS: stale version fails and reports the current one */
	assert_int_equal(put_s(c, &a.k, "4", WEFT_CACHE_CAS, v[0], 0, &cur), -ESTALE);
	assert_int_equal(cur, v[3]);
	assert_int_equal(put_s(c, &a.k, "4", WEFT_CACHE_CAS, v[3], 0, &v[4]), 0);
	assert_true(v[4] > v[3]);
	assert_int_equal(put_s(c, &a.k, "5", WEFT_CACHE_CAS, v[3], 0, &cur), -ESTALE);
	assert_int_equal(cur, v[4]);
	assert_true(get1(c, &a.k, 0, val, sizeof(val), &cur));
	assert_string_equal(val, "4");
	assert_int_equal(cur, v[4]);

	/* after a delete the key is absent for every mode */
	assert_int_equal(weft_cache_delete(c, &a.k, 0, NULL), 0);
	assert_int_equal(put_s(c, &a.k, "6", WEFT_CACHE_CAS, v[4], 0, &cur), -ENOENT);
	assert_int_equal(put_s(c, &a.k, "6", WEFT_CACHE_REPLACE, 0, 0, &cur), -ENOENT);
	assert_int_equal(put_s(c, &a.k, "6", WEFT_CACHE_PUT_IF_ABSENT, 0, 0, &v[5]), 0);
	assert_true(v[5] > v[4]);
}

static void test_limits_and_bad_input(void **state)
{
	struct weft_cache *c = *state;
	char key[WEFT_CACHE_MAX_KEY + 1];
	memset(key, 'k', sizeof(key));
	struct weft_cache_key k250 = {key, 250, weft_cache_hash(key, 250)};
	struct weft_cache_key k251 = {key, 251, weft_cache_hash(key, 251)};
	struct weft_cache_key k0 = {key, 0, weft_cache_hash(key, 0)};
	struct weft_cache_key knull = {NULL, 3, 1};

	assert_int_equal(put_s(c, &k250, "v", WEFT_CACHE_PUT, 0, 0, NULL), 0);
	assert_true(get1(c, &k250, 0, NULL, 0, NULL));
	assert_int_equal(put_s(c, &k251, "v", WEFT_CACHE_PUT, 0, 0, NULL), -E2BIG);
	assert_false(get1(c, &k251, 0, NULL, 0, NULL));
	assert_int_equal(weft_cache_delete(c, &k251, 0, NULL), -E2BIG);
	assert_int_equal(weft_cache_incr(c, &k251, 1, NULL, 0, NULL, NULL), -E2BIG);
	assert_int_equal(weft_cache_touch(c, &k251, NULL, 0, NULL), -E2BIG);
	assert_int_equal(put_s(c, &k0, "v", WEFT_CACHE_PUT, 0, 0, NULL), -EINVAL);
	assert_int_equal(put_s(c, &knull, "v", WEFT_CACHE_PUT, 0, 0, NULL), -EINVAL);
	assert_int_equal(put_s(c, &k250, "v", (enum weft_cache_put_mode)9, 0, 0, NULL), -EINVAL);
	assert_int_equal(weft_cache_put(c, &k250, NULL, 3, WEFT_CACHE_PUT, 0, NULL, 0, NULL),
			 -EINVAL);

	uint8_t *big = calloc(1, WEFT_CACHE_MAX_VALUE + 1);
	assert_non_null(big);
	uint64_t ver = 0;
	assert_int_equal(weft_cache_put(c, &k250, big, WEFT_CACHE_MAX_VALUE, WEFT_CACHE_PUT, 0,
					NULL, 0, &ver), 0);
	struct weft_cache_value v;
	bool found;
	assert_int_equal(weft_cache_get_burst(c, &k250, 1, 0, &v, &found), 1);
	assert_int_equal(v.len, WEFT_CACHE_MAX_VALUE);
	assert_int_equal(v.version, ver);
	assert_int_equal(weft_cache_put(c, &k250, big, WEFT_CACHE_MAX_VALUE + 1, WEFT_CACHE_PUT, 0,
					NULL, 0, NULL), -E2BIG);
	free(big);
	urcu_qsbr_quiescent_state();
}

static void test_incr(void **state)
{
	struct weft_cache *c = *state;
	struct kbuf kb;
	const struct weft_cache_key *k = mk(&kb, "ctr%u", 0);
	int64_t out = 0;
	uint64_t v1 = 0, v2 = 0;
	char val[64];

	assert_int_equal(weft_cache_incr(c, k, 5, NULL, 0, &out, &v1), 0);
	assert_int_equal(out, 5);
	assert_true(get1(c, k, 0, val, sizeof(val), NULL));
	assert_string_equal(val, "5");
	assert_int_equal(weft_cache_incr(c, k, -12, NULL, 0, &out, &v2), 0);
	assert_int_equal(out, -7);
	assert_true(v2 > v1);
	assert_true(get1(c, k, 0, val, sizeof(val), NULL));
	assert_string_equal(val, "-7");

	/* absent + negative delta */
	struct kbuf kn;
	assert_int_equal(weft_cache_incr(c, mk(&kn, "neg%u", 0), -3, NULL, 0, &out, NULL), 0);
	assert_int_equal(out, -3);

	/* overflow both ways, value unchanged */
	assert_int_equal(put_s(c, k, "9223372036854775807", WEFT_CACHE_PUT, 0, 0, NULL), 0);
	assert_int_equal(weft_cache_incr(c, k, 1, NULL, 0, &out, NULL), -ERANGE);
	assert_int_equal(weft_cache_incr(c, k, 0, NULL, 0, &out, NULL), 0);
	assert_int_equal(out, INT64_MAX);
	assert_int_equal(put_s(c, k, "-9223372036854775808", WEFT_CACHE_PUT, 0, 0, NULL), 0);
	assert_int_equal(weft_cache_incr(c, k, -1, NULL, 0, &out, NULL), -ERANGE);
	assert_int_equal(weft_cache_incr(c, k, INT64_MAX, NULL, 0, &out, NULL), 0);
	assert_int_equal(out, -1);
	assert_true(get1(c, k, 0, val, sizeof(val), NULL));
	assert_string_equal(val, "-1");

	/* non-numeric values */
	static const char *bad[] = {"abc", "12a", "", "-", "+5", " 5", "5 ", "1.5",
				    "9223372036854775808", "-9223372036854775809",
				    "99999999999999999999", "000000000000000000001"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(put_s(c, k, bad[i], WEFT_CACHE_PUT, 0, 0, NULL), 0);
		assert_int_equal(weft_cache_incr(c, k, 1, NULL, 0, &out, NULL), -EINVAL);
		assert_true(get1(c, k, 0, val, sizeof(val), NULL));
		assert_string_equal(val, bad[i]);
	}
	assert_int_equal(put_s(c, k, "007", WEFT_CACHE_PUT, 0, 0, NULL), 0);
	assert_int_equal(weft_cache_incr(c, k, 1, NULL, 0, &out, NULL), 0);
	assert_int_equal(out, 8);

	/* an existing counter keeps its expiry; a new one takes w's TTL */
	struct weft_cache_write w = {.ttl_ms = 100};
	struct kbuf kt;
	k = mk(&kt, "ttlctr%u", 0);
	assert_int_equal(weft_cache_incr(c, k, 1, &w, 1000, &out, NULL), 0);
	assert_int_equal(weft_cache_incr(c, k, 1, NULL, 1050, &out, NULL), 0);
	assert_int_equal(out, 2);
	assert_true(get1(c, k, 1099, val, sizeof(val), NULL));
	assert_false(get1(c, k, 1100, val, sizeof(val), NULL));
	assert_int_equal(weft_cache_incr(c, k, 1, NULL, 1100, &out, NULL), 0);
	assert_int_equal(out, 1); /* expired counter is absent: restarts at 0 + delta */
	urcu_qsbr_quiescent_state();
}

static void test_ttl(void **state)
{
	(void)state;
	struct weft_cache_opts o = {.default_ttl_ms = 500};
	struct weft_cache *c = weft_cache_create("ttl", 3, &o, 0);
	assert_non_null(c);
	struct kbuf a, b, d, e;
	struct weft_cache_write w100 = {.ttl_ms = 100}, wnever = {.ttl_ms = WEFT_CACHE_NO_EXPIRY};

	assert_int_equal(weft_cache_put(c, mk(&a, "a%u", 0), "x", 1, WEFT_CACHE_PUT, 0, &w100, 1000,
					NULL), 0);
	assert_int_equal(weft_cache_put(c, mk(&b, "b%u", 0), "x", 1, WEFT_CACHE_PUT, 0, NULL, 1000,
					NULL), 0);
	assert_int_equal(weft_cache_put(c, mk(&d, "d%u", 0), "x", 1, WEFT_CACHE_PUT, 0, &wnever,
					1000, NULL), 0);
	assert_true(get1(c, &a.k, 1099, NULL, 0, NULL));
	assert_false(get1(c, &a.k, 1100, NULL, 0, NULL)); /* never returned once passed */
	assert_true(get1(c, &b.k, 1499, NULL, 0, NULL)); /* cache default */
	assert_false(get1(c, &b.k, 1500, NULL, 0, NULL));
	assert_true(get1(c, &d.k, UINT64_MAX - 1, NULL, 0, NULL)); /* NO_EXPIRY beats default */

	/* expired entries count as absent for every write mode */
	assert_int_equal(weft_cache_put(c, &a.k, "y", 1, WEFT_CACHE_REPLACE, 0, NULL, 1100, NULL),
			 -ENOENT);
	assert_int_equal(weft_cache_delete(c, &b.k, 1500, NULL), -ENOENT);
	assert_int_equal(weft_cache_touch(c, &b.k, NULL, 1500, NULL), -ENOENT);

	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.expirations, 2); /* reclaimed lazily by those writers */
	assert_int_equal(st.entries, 1);

	/* maintain reclaims what no writer met */
	assert_int_equal(weft_cache_put(c, mk(&e, "e%u", 0), "x", 1, WEFT_CACHE_PUT, 0, &w100, 2000,
					NULL), 0);
	assert_int_equal(weft_cache_maintain(c, 2099, 1u << 20), 0);
	assert_int_equal(weft_cache_maintain(c, 2100, 1u << 20), 1);
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.expirations, 3);
	assert_int_equal(st.entries, 1);
	assert_false(get1(c, &e.k, 2100, NULL, 0, NULL));

	/* touch restarts the TTL and keeps the version */
	uint64_t v0 = 0, v1 = 0;
	assert_int_equal(weft_cache_put(c, &e.k, "t", 1, WEFT_CACHE_PUT, 0, &w100, 3000, &v0), 0);
	assert_int_equal(weft_cache_touch(c, &e.k, &w100, 3090, &v1), 0);
	assert_int_equal(v1, v0);
	assert_true(get1(c, &e.k, 3189, NULL, 0, NULL));
	assert_false(get1(c, &e.k, 3190, NULL, 0, NULL));
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

static void test_max_idle(void **state)
{
	(void)state;
	struct weft_cache_opts o = {.default_max_idle_ms = 1000};
	struct weft_cache *c = weft_cache_create("idle", 4, &o, 0);
	assert_non_null(c);
	struct kbuf a, b;
	struct weft_cache_write w50 = {.max_idle_ms = 50};

	assert_int_equal(weft_cache_put(c, mk(&a, "a%u", 0), "x", 1, WEFT_CACHE_PUT, 0, &w50, 0,
					NULL), 0);
	assert_int_equal(weft_cache_put(c, mk(&b, "b%u", 0), "x", 1, WEFT_CACHE_PUT, 0, NULL, 0,
					NULL), 0);
	/* each read refreshes the idle clock */
	for (uint64_t t = 40; t <= 400; t += 40)
		assert_true(get1(c, &a.k, t, NULL, 0, NULL));
	assert_true(get1(c, &a.k, 449, NULL, 0, NULL));
	assert_false(get1(c, &a.k, 499, NULL, 0, NULL)); /* 50 ms idle since 449 */
	assert_true(get1(c, &b.k, 999, NULL, 0, NULL));   /* default idle 1000 */
	assert_false(get1(c, &b.k, 1999, NULL, 0, NULL));

	assert_int_equal(weft_cache_maintain(c, 1999, 1u << 20), 2);
	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.expirations, 2);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

/* A new key whose chain is full first reclaims the chain's expired
 * entries instead of growing it. */
static void test_writer_reclaims_full_chain(void **state)
{
	(void)state;
	struct weft_cache *c = weft_cache_create("rc", 2, NULL, 1);
	assert_non_null(c);
	struct weft_cache_write w10 = {.ttl_ms = 10};
	struct kbuf kb;
	for (unsigned i = 0; i < WEFT_CACHE_SLOTS; i++)
		assert_int_equal(weft_cache_put(c, mk(&kb, "key-%u", i), "v", 1, WEFT_CACHE_PUT, 0,
						&w10, 0, NULL), 0);
	struct weft_cache_table *t = atomic_load(&c->table);
	assert_true(weft_cache_chain_full(&t->buckets[0]));
	assert_int_equal(weft_cache_put(c, mk(&kb, "new-%u", 0), "v", 1, WEFT_CACHE_PUT, 0, NULL,
					20, NULL), 0);
	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.expirations, WEFT_CACHE_SLOTS);
	assert_int_equal(st.entries, 1);
	assert_null(weft_cache_bucket_next(atomic_load(&t->buckets[0].hdr))); /* no overflow */
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

/* A growth reclaims the expired entries of the buckets it moves, and never
 * brings them back. */
static void test_resize_drops_expired(void **state)
{
	(void)state;
	struct weft_cache *c = weft_cache_create("rx", 2, NULL, 2);
	assert_non_null(c);
	struct weft_cache_write w100 = {.ttl_ms = 100};
	struct kbuf kb;
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(weft_cache_put(c, mk(&kb, "ttl-%u", i), "v", 1, WEFT_CACHE_PUT, 0,
						&w100, 0, NULL), 0);
		assert_int_equal(weft_cache_put(c, mk(&kb, "keep-%u", i), "v", 1, WEFT_CACHE_PUT, 0,
						NULL, 0, NULL), 0);
	}
	/* one growth step at t=200 moves both buckets: everything expired goes */
	assert_int_equal(weft_cache_maintain(c, 200, 2), 100);
	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.resizes, 1);
	assert_int_equal(st.expirations, 100);
	assert_int_equal(st.entries, 100);
	for (unsigned i = 0; i < 100; i++) {
		assert_false(get1(c, mk(&kb, "ttl-%u", i), 200, NULL, 0, NULL));
		assert_true(get1(c, mk(&kb, "keep-%u", i), 200, NULL, 0, NULL));
	}
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

static void test_eviction_bytes_bound(void **state)
{
	(void)state;
	struct weft_cache_opts o = {.max_bytes = 64 * 1024};
	struct weft_cache *c = weft_cache_create("ev", 2, &o, 0);
	assert_non_null(c);
	char val[100];
	memset(val, 'v', sizeof(val));
	struct weft_cache_stats st;
	for (unsigned i = 0; i < 4000; i++) {
		struct kbuf kb;
		assert_int_equal(weft_cache_put(c, mk(&kb, "key-%u", i), val, sizeof(val),
						WEFT_CACHE_PUT, 0, NULL, i, NULL), 0);
		weft_cache_get_stats(c, &st);
		assert_true(st.bytes <= o.max_bytes);
		urcu_qsbr_quiescent_state();
	}
	assert_true(st.evictions > 0);
	assert_int_equal(st.entries + st.evictions, 4000);
	assert_true(st.bytes > o.max_bytes / 2); /* the bound is used, not wasted */

	/* a value that cannot fit at all is refused, evicting nothing */
	uint64_t ev = st.evictions;
	static uint8_t big[128 * 1024];
	struct kbuf kb;
	assert_int_equal(weft_cache_put(c, mk(&kb, "big%u", 0), big, sizeof(big), WEFT_CACHE_PUT,
					0, NULL, 5000, NULL), -ENOMEM);
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.evictions, ev);
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

static void test_eviction_entries_bound(void **state)
{
	(void)state;
	struct weft_cache_opts o = {.max_entries = 100};
	struct weft_cache *c = weft_cache_create("ev", 2, &o, 16);
	assert_non_null(c);
	struct weft_cache_stats st;
	for (unsigned i = 0; i < 300; i++) {
		struct kbuf kb;
		assert_int_equal(weft_cache_put(c, mk(&kb, "key-%u", i), "v", 1, WEFT_CACHE_PUT, 0,
						NULL, i, NULL), 0);
		weft_cache_get_stats(c, &st);
		assert_true(st.entries <= 100);
	}
	assert_int_equal(st.entries, 100);
	assert_int_equal(st.evictions, 200);
	/* overwriting an existing key needs no room */
	struct kbuf kb;
	assert_int_equal(weft_cache_put(c, mk(&kb, "key-%u", 299), "w", 1, WEFT_CACHE_PUT, 0, NULL,
					400, NULL), 0);
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.evictions, 200);
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

/* Sampled LRU: entries read recently survive a wave of inserts better than
 * cold ones. Deterministic: the sampling RNG is seeded per thread slot. */
static void test_eviction_prefers_cold(void **state)
{
	(void)state;
	struct weft_cache_opts o = {.max_entries = 200};
	struct weft_cache *c = weft_cache_create("lru", 3, &o, 32);
	assert_non_null(c);
	struct kbuf kb;
	for (unsigned i = 0; i < 200; i++)
		assert_int_equal(weft_cache_put(c, mk(&kb, "key-%u", i), "v", 1, WEFT_CACHE_PUT, 0,
						NULL, i, NULL), 0);
	for (unsigned i = 0; i < 100; i++) /* hot half: read at t=1000 */
		assert_true(get1(c, mk(&kb, "key-%u", i), 1000, NULL, 0, NULL));
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(weft_cache_put(c, mk(&kb, "new-%u", i), "v", 1, WEFT_CACHE_PUT, 0,
						NULL, 2000 + i, NULL), 0);
	unsigned hot = 0, cold = 0;
	for (unsigned i = 0; i < 200; i++)
		if (get1(c, mk(&kb, "key-%u", i), 3000, NULL, 0, NULL))
			*(i < 100 ? &hot : &cold) += 1;
	print_message("lru: %u/100 hot and %u/100 cold survived 100 evictions\n", hot, cold);
	assert_true(hot >= 85);
	assert_true(cold <= 30);
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

/* One bucket and no maintenance: every key lives in one overflow chain. */
static void test_overflow_buckets(void **state)
{
	(void)state;
	struct weft_cache *c = weft_cache_create("ovf", 3, NULL, 1);
	assert_non_null(c);
	struct kbuf kb;
	char val[32], want[32];
	for (unsigned i = 0; i < 300; i++) {
		snprintf(want, sizeof(want), "v%u", i);
		assert_int_equal(put_s(c, mk(&kb, "key-%u", i), want, WEFT_CACHE_PUT, 0, 0, NULL), 0);
	}
	for (unsigned i = 0; i < 300; i += 2)
		assert_int_equal(weft_cache_delete(c, mk(&kb, "key-%u", i), 0, NULL), 0);
	for (unsigned i = 1; i < 300; i += 4)
		assert_int_equal(put_s(c, mk(&kb, "key-%u", i), "upd", WEFT_CACHE_PUT, 0, 0, NULL), 0);
	for (unsigned i = 300; i < 400; i++) /* refill the holes */
		assert_int_equal(put_s(c, mk(&kb, "key-%u", i), "new", WEFT_CACHE_PUT, 0, 0, NULL), 0);
	for (unsigned i = 0; i < 400; i++) {
		bool f = get1(c, mk(&kb, "key-%u", i), 0, val, sizeof(val), NULL);
		if (i < 300 && i % 2 == 0) {
			assert_false(f);
		} else {
			assert_true(f);
			if (i >= 300)
				snprintf(want, sizeof(want), "new");
			else if (i % 4 == 1)
				snprintf(want, sizeof(want), "upd");
			else
				snprintf(want, sizeof(want), "v%u", i);
			assert_string_equal(val, want);
		}
	}
	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 250);
	assert_int_equal(st.resizes, 0);
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

/* Same hash (so same bucket and tag), different keys: the full compare
 * must tell them apart. */
static void test_tag_collision(void **state)
{
	struct weft_cache *c = *state;
	struct weft_cache_key a = {"alpha", 5, 0x1234567890abcdefull};
	struct weft_cache_key b = {"bravo", 5, 0x1234567890abcdefull};
	struct weft_cache_key x = {"xray", 4, 0x1234567890abcdefull};
	char val[16];
	assert_int_equal(put_s(c, &a, "A", WEFT_CACHE_PUT, 0, 0, NULL), 0);
	assert_int_equal(put_s(c, &b, "B", WEFT_CACHE_PUT, 0, 0, NULL), 0);
	assert_true(get1(c, &b, 0, val, sizeof(val), NULL));
	assert_string_equal(val, "B");
	assert_true(get1(c, &a, 0, val, sizeof(val), NULL));
	assert_string_equal(val, "A");
	assert_false(get1(c, &x, 0, val, sizeof(val), NULL));
	assert_int_equal(weft_cache_delete(c, &a, 0, NULL), 0);
	assert_false(get1(c, &a, 0, val, sizeof(val), NULL));
	assert_true(get1(c, &b, 0, val, sizeof(val), NULL));
	assert_string_equal(val, "B");
}

static void check_all(struct weft_cache *c, unsigned n, unsigned deleted_mod)
{
	struct kbuf kb[64];
	struct weft_cache_key keys[64];
	struct weft_cache_value out[64];
	bool found[64];
	for (unsigned base = 0; base < n; base += 64) {
		unsigned m = n - base < 64 ? n - base : 64;
		for (unsigned j = 0; j < m; j++)
			keys[j] = *mk(&kb[j], "key-%u", base + j);
		weft_cache_get_burst(c, keys, m, 0, out, found);
		for (unsigned j = 0; j < m; j++) {
			unsigned i = base + j;
			bool gone = deleted_mod && i % deleted_mod == 0;
			assert_int_equal(found[j], !gone);
			if (found[j]) {
				char want[32];
				int l = snprintf(want, sizeof(want), "v%u", i);
				assert_int_equal(out[j].len, l);
				assert_memory_equal(out[j].data, want, l);
			}
		}
	}
}

static void test_resize(void **state)
{
	(void)state;
	struct weft_cache *c = weft_cache_create("rsz", 3, NULL, 2);
	assert_non_null(c);
	struct kbuf kb;
	char val[32];
	const unsigned n = 20000;
	for (unsigned i = 0; i < n; i++) {
		snprintf(val, sizeof(val), "v%u", i);
		assert_int_equal(put_s(c, mk(&kb, "key-%u", i), val, WEFT_CACHE_PUT, 0, 0, NULL), 0);
		if (i % 97 == 0) {
			weft_cache_maintain(c, 0, 8); /* small steps: writers meet growing tables */
			urcu_qsbr_quiescent_state();
		}
		if (i % 5003 == 0)
			check_all(c, i + 1, 0);
	}
	/* deletes and a full check while a growth may still be in progress */
	for (unsigned i = 0; i < n; i += 3)
		assert_int_equal(weft_cache_delete(c, mk(&kb, "key-%u", i), 0, NULL), 0);
	check_all(c, n, 3);
	for (unsigned i = 0; i < 1000; i++) {
		weft_cache_maintain(c, 0, 1024);
		urcu_qsbr_quiescent_state();
	}
	check_all(c, n, 3);
	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	assert_true(st.resizes >= 8);
	assert_int_equal(st.entries, n - (n + 2) / 3);
	struct weft_cache_table *t = atomic_load(&c->table);
	assert_null(atomic_load(&t->next));
	assert_true(st.entries <= WEFT_CACHE_GROW_LOAD * (t->mask + 1));
	print_message("resize: %" PRIu64 " growths, %" PRIu64 " buckets for %" PRIu64
		      " entries\n", st.resizes, t->mask + 1, st.entries);
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

/* Destroying a cache in the middle of a growth frees both tables, every
 * entry and every overflow bucket exactly once (checked by ASan/LSan). */
static void test_destroy_mid_resize(void **state)
{
	(void)state;
	struct weft_cache *c = weft_cache_create("mid", 3, NULL, 4);
	assert_non_null(c);
	struct kbuf kb;
	for (unsigned i = 0; i < 200; i++) /* 50 per bucket: overflow chains */
		assert_int_equal(put_s(c, mk(&kb, "key-%u", i), "v", WEFT_CACHE_PUT, 0, 0, NULL), 0);
	assert_int_equal(weft_cache_maintain(c, 0, 1), 0); /* starts a growth, moves 1 of 4 */
	struct weft_cache_table *t = atomic_load(&c->table);
	assert_non_null(atomic_load(&t->next));
	assert_int_equal(atomic_load(&t->moved), 1);
	/* a write moves its own bucket first */
	assert_int_equal(put_s(c, mk(&kb, "key-%u", 7), "w", WEFT_CACHE_PUT, 0, 0, NULL), 0);
	uint64_t idx = weft_cache_hash("key-7", 5) & 3; /* bucket 0 was moved already */
	assert_int_equal(atomic_load(&t->moved), idx == 0 ? 1 : 2);
	for (unsigned i = 0; i < 200; i++)
		assert_true(get1(c, mk(&kb, "key-%u", i), 0, NULL, 0, NULL));
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

static void test_burst_over_64(void **state)
{
	struct weft_cache *c = *state;
	struct kbuf kb[150];
	struct weft_cache_key keys[150];
	struct weft_cache_value out[150];
	bool found[150];
	for (unsigned i = 0; i < 150; i++) {
		keys[i] = *mk(&kb[i], "bk-%u", i);
		if (i % 3 == 0)
			assert_int_equal(put_s(c, &keys[i], kb[i].s, WEFT_CACHE_PUT, 0, 0, NULL), 0);
	}
	assert_int_equal(weft_cache_get_burst(c, keys, 150, 0, out, found), 50);
	for (unsigned i = 0; i < 150; i++) {
		assert_int_equal(found[i], i % 3 == 0);
		if (found[i]) {
			assert_int_equal(out[i].len, keys[i].len);
			assert_memory_equal(out[i].data, kb[i].s, keys[i].len);
		}
	}
}

static void count_cb(struct weft_cache *c, void *arg)
{
	(void)c;
	(*(unsigned *)arg)++;
}

static void test_registry(void **state)
{
	(void)state;
	struct weft_cache_registry *reg = weft_cache_registry_create();
	assert_non_null(reg);
	bool created = false;
	struct weft_cache_opts o = {.max_entries = 10, .default_ttl_ms = 7};
	struct weft_cache *a = weft_cache_open(reg, "alpha", 5, &o, &created);
	assert_non_null(a);
	assert_true(created);
	assert_string_equal(weft_cache_name(a), "alpha");
	struct weft_cache_opts got;
	weft_cache_get_opts(a, &got);
	assert_int_equal(got.max_bytes, 256ull << 20);
	assert_int_equal(got.max_entries, 10);
	assert_int_equal(got.default_ttl_ms, 7);

	assert_ptr_equal(weft_cache_open(reg, "alpha", 5, NULL, &created), a);
	assert_false(created);
	weft_cache_get_opts(a, &got);
	assert_int_equal(got.max_entries, 10); /* existing cache keeps its options */
	assert_ptr_equal(weft_cache_find(reg, "alpha", 5), a);
	assert_null(weft_cache_find(reg, "alph", 4));
	assert_null(weft_cache_find(reg, "alphaX", 5 + 1));

	char name[66];
	memset(name, 'n', sizeof(name));
	errno = 0;
	assert_null(weft_cache_open(reg, name, 65, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(weft_cache_open(reg, name, 0, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	struct weft_cache *big = weft_cache_open(reg, name, 64, NULL, &created);
	assert_non_null(big);
	assert_true(created);
	assert_ptr_equal(weft_cache_find(reg, name, 64), big);
	for (unsigned i = 0; i < 100; i++) {
		char nm[16];
		int l = snprintf(nm, sizeof(nm), "c%u", i);
		assert_non_null(weft_cache_open(reg, nm, (size_t)l, NULL, NULL));
	}
	unsigned count = 0;
	weft_cache_foreach(reg, count_cb, &count);
	assert_int_equal(count, 102);

	/* names are printed in STATS lines: printable ASCII, no spaces */
	static const char *const bad[] = {"a b", "a\nb", "\x7f", "caf\xc3\xa9"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_null(weft_cache_open(reg, bad[i], strlen(bad[i]), NULL, NULL));
		assert_int_equal(errno, EINVAL);
	}
	/* any client may name a new cache: their number is bounded */
	for (unsigned i = count; i < WEFT_CACHE_MAX_CACHES; i++) {
		char nm[16];
		int l = snprintf(nm, sizeof(nm), "m%u", i);
		assert_non_null(weft_cache_open(reg, nm, (size_t)l, NULL, NULL));
	}
	errno = 0;
	assert_null(weft_cache_open(reg, "one-too-many", 12, NULL, NULL));
	assert_int_equal(errno, ENOSPC);
	assert_ptr_equal(weft_cache_open(reg, "alpha", 5, NULL, NULL), a); /* existing still open */

	struct kbuf kb;
	assert_int_equal(put_s(a, mk(&kb, "k%u", 0), "v", WEFT_CACHE_PUT, 0, 0, NULL), 0);
	weft_cache_registry_destroy(reg);
	urcu_qsbr_quiescent_state();
}

int main(void)
{
	urcu_qsbr_register_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_modes_and_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_and_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incr, setup, teardown),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_max_idle),
		cmocka_unit_test(test_writer_reclaims_full_chain),
		cmocka_unit_test(test_resize_drops_expired),
		cmocka_unit_test(test_eviction_bytes_bound),
		cmocka_unit_test(test_eviction_entries_bound),
		cmocka_unit_test(test_eviction_prefers_cold),
		cmocka_unit_test(test_overflow_buckets),
		cmocka_unit_test_setup_teardown(test_tag_collision, setup, teardown),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_destroy_mid_resize),
		cmocka_unit_test_setup_teardown(test_burst_over_64, setup, teardown),
		cmocka_unit_test(test_registry),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	urcu_qsbr_thread_offline();
	urcu_qsbr_barrier(); /* run pending frees so leak checkers see none */
	urcu_qsbr_unregister_thread();
	return rc;
}
