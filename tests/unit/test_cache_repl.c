/*
 * Unit tests of the cache's cluster-facing API (single thread): cache modes
 * in the options, the version a DELETE draws, peek (reads without touching
 * access time), and the version-conditioned replicated writes apply_put /
 * apply_delete (ordering, counter raise, expiry from the image, bounds,
 * stats). The scan has its own file (test_cache_scan.c).
 *
 * The test thread is a registered, online QSBR reader throughout, as an
 * lcore would be; it reports quiescent states between tests.
 */
#include <errno.h>
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
#include "cache_internal.h" /* weft_cache_create / destroy */
#include "cache_keys.h"

static int put_s(struct weft_cache *c, const struct weft_cache_key *k, const char *val,
		 const struct weft_cache_write *w, uint64_t now, uint64_t *ver)
{
	return weft_cache_put(c, k, val, (uint32_t)strlen(val), WEFT_CACHE_PUT, 0, w, now, ver);
}

static struct weft_cache_image img_s(const char *val, uint64_t version, uint64_t ttl,
				     uint64_t idle)
{
	return (struct weft_cache_image){(const uint8_t *)val, (uint32_t)strlen(val), version, ttl,
					 idle, false};
}

static void assert_value(const struct weft_cache_image *img, const char *want)
{
	assert_int_equal(img->value_len, strlen(want));
	assert_memory_equal(img->value, want, img->value_len);
}

static int setup(void **state)
{
	struct weft_cache *c = weft_cache_create("r", 1, NULL, 0);
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

static void test_modes_stored(void **state)
{
	(void)state;
	struct weft_cache_registry *reg = weft_cache_registry_create();
	assert_non_null(reg);
	struct weft_cache_opts got;

	struct weft_cache *d = weft_cache_open(reg, "dflt", 4, NULL, NULL);
	assert_non_null(d);
	weft_cache_get_opts(d, &got);
	assert_int_equal(got.mode, WEFT_CACHE_MODE_LOCAL); /* NULL opts: LOCAL */
	struct weft_cache_opts zero = {.mode = 0};
	struct weft_cache *z = weft_cache_open(reg, "zero", 4, &zero, NULL);
	assert_non_null(z);
	weft_cache_get_opts(z, &got);
	assert_int_equal(got.mode, WEFT_CACHE_MODE_LOCAL); /* 0 resolves to LOCAL */

	static const char *const names[] = {"local", "dist", "repl", "inval"};
	struct weft_cache *cs[4];
	for (uint32_t m = WEFT_CACHE_MODE_LOCAL; m <= WEFT_CACHE_MODE_INVALIDATED; m++) {
		struct weft_cache_opts o = {.mode = m, .max_entries = 10 + m};
		bool created = false;
		cs[m - 1] = weft_cache_open(reg, names[m - 1], strlen(names[m - 1]), &o, &created);
		assert_non_null(cs[m - 1]);
		assert_true(created);
	}
	for (uint32_t m = WEFT_CACHE_MODE_LOCAL; m <= WEFT_CACHE_MODE_INVALIDATED; m++) {
		weft_cache_get_opts(cs[m - 1], &got);
		assert_int_equal(got.mode, m);
		assert_int_equal(got.max_entries, 10 + m);
	}
	/* lookup-or-create: an existing cache keeps its mode */
	struct weft_cache_opts other = {.mode = WEFT_CACHE_MODE_LOCAL};
	bool created = true;
	assert_ptr_equal(weft_cache_open(reg, "repl", 4, &other, &created), cs[2]);
	assert_false(created);
	weft_cache_get_opts(cs[2], &got);
	assert_int_equal(got.mode, WEFT_CACHE_MODE_REPLICATED);

	/* an unknown mode is bad options, for a new name or an existing one */
	struct weft_cache_opts bad = {.mode = WEFT_CACHE_MODE_INVALIDATED + 1};
	errno = 0;
	assert_null(weft_cache_open(reg, "new", 3, &bad, NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(weft_cache_find(reg, "new", 3));
	errno = 0;
	assert_null(weft_cache_open(reg, "repl", 4, &bad, NULL));
	assert_int_equal(errno, EINVAL);
	bad.mode = UINT32_MAX;
	errno = 0;
	assert_null(weft_cache_create("x", 1, &bad, 0));
	assert_int_equal(errno, EINVAL);

	weft_cache_registry_destroy(reg);
	urcu_qsbr_quiescent_state();
}

static void test_delete_version(void **state)
{
	struct weft_cache *c = *state;
	struct kbuf ka, kb;
	const struct weft_cache_key *a = mk(&ka, "a%u", 0), *b = mk(&kb, "b%u", 0);
	uint64_t v1 = 0, v2 = 0, v3 = 0, dv = 0;

	assert_int_equal(put_s(c, a, "1", NULL, 0, &v1), 0);
	assert_int_equal(put_s(c, b, "x", NULL, 0, &v2), 0);
	assert_int_equal(weft_cache_delete(c, a, 0, &dv), 0);
	assert_true(dv > v1); /* newer than the removed entry */
	assert_true(dv > v2); /* and than every earlier write */
	assert_int_equal(put_s(c, a, "2", NULL, 0, &v3), 0);
	assert_true(v3 > dv); /* older than every later write */

	/* absent: -ENOENT, version_out untouched */
	uint64_t untouched = 777;
	assert_int_equal(weft_cache_delete(c, b, 0, NULL), 0);
	assert_int_equal(weft_cache_delete(c, b, 0, &untouched), -ENOENT);
	assert_int_equal(untouched, 777);

	/* the drawn version orders the delete on a replica: a copy holding
	 * v3 is removed by apply_delete(dv2), a late apply_put(v3) is refused */
	struct weft_cache *rep = weft_cache_create("rep", 3, NULL, 0);
	assert_non_null(rep);
	struct weft_cache_image img;
	assert_int_equal(weft_cache_peek(c, a, 0, &img), 0);
	assert_int_equal(weft_cache_apply_put(rep, a, &img, 0), 0);
	uint64_t dv2 = 0;
	assert_int_equal(weft_cache_delete(c, a, 0, &dv2), 0);
	assert_true(dv2 > v3);
	assert_int_equal(weft_cache_apply_delete(rep, a, dv2, 0), 0);
	assert_int_equal(weft_cache_peek(rep, a, 0, &img), -ENOENT);

	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.deletes, 3);
	weft_cache_destroy(rep);
}

static void test_peek(void **state)
{
	struct weft_cache *c = *state;
	struct kbuf ka, kb, kn;
	const struct weft_cache_key *a = mk(&ka, "idle%u", 0), *b = mk(&kb, "read%u", 0);
	const struct weft_cache_key *n = mk(&kn, "never%u", 0);
	struct weft_cache_write w = {.ttl_ms = 100, .max_idle_ms = 50};
	uint64_t va = 0;
	struct weft_cache_image img;

	assert_int_equal(put_s(c, a, "va", &w, 1000, &va), 0);
	assert_int_equal(put_s(c, b, "vb", &w, 1000, NULL), 0);
	assert_int_equal(put_s(c, n, "vn", NULL, 1000, NULL), 0);
	struct weft_cache_stats before, after;
	weft_cache_get_stats(c, &before);

	assert_int_equal(weft_cache_peek(c, a, 1030, &img), 0);
	assert_value(&img, "va");
	assert_int_equal(img.version, va);
	assert_int_equal(img.ttl_ms, 70); /* remaining at now, from the absolute expiry */
	assert_int_equal(img.max_idle_ms, 50);
	assert_int_equal(weft_cache_peek(c, n, 1030, &img), 0);
	assert_int_equal(img.ttl_ms, WEFT_CACHE_NO_EXPIRY);
	assert_int_equal(img.max_idle_ms, 0);

	/* b is read at 1030, a only peeked (again at 1049): a idles out at
	 * 1050 (its last access is still the write at 1000), b does not */
	struct weft_cache_value v;
	bool found = false;
	assert_int_equal(weft_cache_get_burst(c, b, 1, 1030, &v, &found), 1);
	assert_int_equal(weft_cache_peek(c, a, 1049, &img), 0);
	assert_int_equal(weft_cache_peek(c, a, 1050, &img), -ENOENT);
	assert_int_equal(weft_cache_get_burst(c, a, 1, 1050, &v, &found), 0);
	assert_int_equal(weft_cache_peek(c, b, 1050, &img), 0);
	assert_int_equal(img.ttl_ms, 50);
	/* the TTL bounds it whatever the reads */
	assert_int_equal(weft_cache_get_burst(c, b, 1, 1070, &v, &found), 1);
	assert_int_equal(weft_cache_peek(c, b, 1099, &img), 0);
	assert_int_equal(img.ttl_ms, 1);
	assert_int_equal(weft_cache_peek(c, b, 1100, &img), -ENOENT);

	/* peek is not a read: no hit or miss counted */
	weft_cache_get_stats(c, &after);
	assert_int_equal(after.hits, before.hits + 2);
	assert_int_equal(after.misses, before.misses + 1);

	/* bad keys */
	struct weft_cache_key empty = {"", 0, 0};
	assert_int_equal(weft_cache_peek(c, &empty, 0, &img), -EINVAL);
	assert_int_equal(weft_cache_peek(c, NULL, 0, &img), -EINVAL);
	char longk[WEFT_CACHE_MAX_KEY + 1];
	memset(longk, 'k', sizeof(longk));
	struct weft_cache_key lk = {longk, sizeof(longk), weft_cache_hash(longk, sizeof(longk))};
	assert_int_equal(weft_cache_peek(c, &lk, 0, &img), -E2BIG);
}

static void test_apply_put_versions(void **state)
{
	struct weft_cache *c = *state;
	struct kbuf ka, kb;
	const struct weft_cache_key *a = mk(&ka, "a%u", 1), *b = mk(&kb, "b%u", 1);
	struct weft_cache_image in, out;

	in = img_s("v100", 100, WEFT_CACHE_NO_EXPIRY, 0);
	assert_int_equal(weft_cache_apply_put(c, a, &in, 0), 0); /* absent: applied */
	assert_int_equal(weft_cache_peek(c, a, 0, &out), 0);
	assert_value(&out, "v100");
	assert_int_equal(out.version, 100); /* keeps the given version */

	in = img_s("v50", 50, WEFT_CACHE_NO_EXPIRY, 0);
	assert_int_equal(weft_cache_apply_put(c, a, &in, 0), -ESTALE); /* older */
	in = img_s("again", 100, WEFT_CACHE_NO_EXPIRY, 0);
	assert_int_equal(weft_cache_apply_put(c, a, &in, 0), -ESTALE); /* as new */
	assert_int_equal(weft_cache_peek(c, a, 0, &out), 0);
	assert_value(&out, "v100");

	in = img_s("v150", 150, WEFT_CACHE_NO_EXPIRY, 0);
	assert_int_equal(weft_cache_apply_put(c, a, &in, 0), 0); /* newer */
	assert_int_equal(weft_cache_peek(c, a, 0, &out), 0);
	assert_value(&out, "v150");
	assert_int_equal(out.version, 150);

	/* later local writes, of this key or any other, are newer */
	uint64_t v = 0;
	assert_int_equal(put_s(c, b, "local", NULL, 0, &v), 0);
	assert_true(v > 150);
	in = img_s("far", 1000000, WEFT_CACHE_NO_EXPIRY, 0);
	assert_int_equal(weft_cache_apply_put(c, b, &in, 0), 0);
	assert_int_equal(put_s(c, a, "local-a", NULL, 0, &v), 0);
	assert_true(v > 1000000);
	int64_t cnt = 0;
	struct kbuf kc;
	assert_int_equal(weft_cache_incr(c, mk(&kc, "ctr%u", 0), 1, NULL, 0, &cnt, &v), 0);
	assert_true(v > 1000000);
	/* a stale image does not lower the counter either */
	in = img_s("old", 3, WEFT_CACHE_NO_EXPIRY, 0);
	assert_int_equal(weft_cache_apply_put(c, a, &in, 0), -ESTALE);
	uint64_t v2 = 0;
	assert_int_equal(put_s(c, a, "x", NULL, 0, &v2), 0);
	assert_true(v2 > v);

	/* an empty value is a value */
	struct kbuf ke;
	in = (struct weft_cache_image){NULL, 0, 5, WEFT_CACHE_NO_EXPIRY, 0, false};
	assert_int_equal(weft_cache_apply_put(c, mk(&ke, "empty%u", 0), &in, 0), 0);
	assert_int_equal(weft_cache_peek(c, &ke.k, 0, &out), 0);
	assert_int_equal(out.value_len, 0);

	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.puts, 8); /* 4 applied images, 4 local writes (incr included) */
}

/* The version floor (weftd: the wall clock << 20) makes later writes newer
 * than anything before it, never lowers the counter. */
static void test_version_floor(void **state)
{
	struct weft_cache *c = *state;
	struct kbuf ka;
	const struct weft_cache_key *a = mk(&ka, "f%u", 1);
	uint64_t v1 = 0, v2 = 0, v3 = 0;
	assert_int_equal(put_s(c, a, "one", NULL, 0, &v1), 0);
	weft_cache_version_floor(c, 1ull << 50);
	assert_int_equal(put_s(c, a, "two", NULL, 0, &v2), 0);
	assert_true(v2 > 1ull << 50);
	weft_cache_version_floor(c, 5); /* lower: no effect */
	assert_int_equal(put_s(c, a, "three", NULL, 0, &v3), 0);
	assert_true(v3 > v2);
	/* An inherited entry older than the floor loses to a local write. */
	struct weft_cache_image in = img_s("inherited", (1ull << 50) - 1, WEFT_CACHE_NO_EXPIRY, 0);
	struct kbuf kb;
	const struct weft_cache_key *b = mk(&kb, "f%u", 2);
	uint64_t vb = 0;
	assert_int_equal(put_s(c, b, "new", NULL, 0, &vb), 0);
	assert_int_equal(weft_cache_apply_put(c, b, &in, 0), -ESTALE);
}

static void test_apply_put_expiry(void **state)
{
	struct weft_cache *c = *state;
	struct kbuf ka, kb;
	const struct weft_cache_key *a = mk(&ka, "ttl%u", 0), *b = mk(&kb, "idle%u", 0);
	struct weft_cache_image in, out;

	in = img_s("t", 7, 100, 0); /* 100 ms left at now = 10 */
	assert_int_equal(weft_cache_apply_put(c, a, &in, 10), 0);
	assert_int_equal(weft_cache_peek(c, a, 60, &out), 0);
	assert_int_equal(out.ttl_ms, 50);
	assert_int_equal(out.max_idle_ms, 0);
	assert_int_equal(weft_cache_peek(c, a, 110, &out), -ENOENT);

	in = img_s("i", 8, WEFT_CACHE_NO_EXPIRY, 20); /* idle limit, idle from now */
	assert_int_equal(weft_cache_apply_put(c, b, &in, 10), 0);
	assert_int_equal(weft_cache_peek(c, b, 29, &out), 0);
	assert_int_equal(out.ttl_ms, WEFT_CACHE_NO_EXPIRY);
	assert_int_equal(out.max_idle_ms, 20);
	assert_int_equal(weft_cache_peek(c, b, 30, &out), -ENOENT);

	/* an expired live entry does not block an older image */
	in = img_s("back", 2, WEFT_CACHE_NO_EXPIRY, 0);
	assert_int_equal(weft_cache_apply_put(c, a, &in, 200), 0);
	assert_int_equal(weft_cache_peek(c, a, 200, &out), 0);
	assert_int_equal(out.version, 2);

	/* round trip: peek on one node, apply on another keeps what matters */
	struct weft_cache *rep = weft_cache_create("rep", 3, NULL, 0);
	assert_non_null(rep);
	struct weft_cache_write w = {.ttl_ms = 500, .max_idle_ms = 300};
	struct kbuf kr;
	uint64_t ver = 0;
	assert_int_equal(put_s(c, mk(&kr, "rt%u", 0), "payload", &w, 1000, &ver), 0);
	assert_int_equal(weft_cache_peek(c, &kr.k, 1100, &out), 0);
	assert_int_equal(weft_cache_apply_put(rep, &kr.k, &out, 1100), 0);
	struct weft_cache_image got;
	assert_int_equal(weft_cache_peek(rep, &kr.k, 1100, &got), 0);
	assert_value(&got, "payload");
	assert_int_equal(got.version, ver);
	assert_int_equal(got.ttl_ms, 400);
	assert_int_equal(got.max_idle_ms, 300);
	weft_cache_destroy(rep);
}

static void test_apply_delete(void **state)
{
	struct weft_cache *c = *state;
	struct kbuf ka, kb;
	const struct weft_cache_key *a = mk(&ka, "d%u", 0), *b = mk(&kb, "d%u", 1);
	struct weft_cache_image in = img_s("v", 100, WEFT_CACHE_NO_EXPIRY, 0), out;

	assert_int_equal(weft_cache_apply_put(c, a, &in, 0), 0);
	assert_int_equal(weft_cache_apply_delete(c, a, 99, 0), -ESTALE);  /* older */
	assert_int_equal(weft_cache_apply_delete(c, a, 100, 0), -ESTALE); /* as new */
	assert_int_equal(weft_cache_peek(c, a, 0, &out), 0);
	assert_int_equal(out.version, 100);
	assert_int_equal(weft_cache_apply_delete(c, a, 101, 0), 0); /* newer */
	assert_int_equal(weft_cache_peek(c, a, 0, &out), -ENOENT);
	assert_int_equal(weft_cache_apply_delete(c, a, 200, 0), -ENOENT);

	/* the counter is raised even when nothing was there */
	assert_int_equal(weft_cache_apply_delete(c, b, 5000, 0), -ENOENT);
	uint64_t v = 0;
	assert_int_equal(put_s(c, b, "x", NULL, 0, &v), 0);
	assert_true(v > 5000);

	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.deletes, 1);
	assert_int_equal(st.puts, 2);
	assert_int_equal(st.entries, 1);

	struct weft_cache_key empty = {"", 0, 0};
	assert_int_equal(weft_cache_apply_delete(c, &empty, 1, 0), -EINVAL);
}

static void test_apply_put_bounds_and_bad_input(void **state)
{
	(void)state;
	struct weft_cache_opts o = {.max_entries = 10};
	struct weft_cache *c = weft_cache_create("bnd", 3, &o, 4); /* small: sampling finds victims */
	assert_non_null(c);
	struct kbuf kb;
	for (unsigned i = 0; i < 50; i++) {
		struct weft_cache_image in = img_s("value", 10 + i, WEFT_CACHE_NO_EXPIRY, 0);
		assert_int_equal(weft_cache_apply_put(c, mk(&kb, "k%u", i), &in, i), 0);
		struct weft_cache_stats st;
		weft_cache_get_stats(c, &st);
		assert_true(st.entries <= 10);
	}
	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 10);
	assert_int_equal(st.evictions, 40);
	assert_int_equal(st.puts, 50);
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();

	struct weft_cache_opts ob = {.max_bytes = 4096};
	c = weft_cache_create("small", 5, &ob, 0);
	assert_non_null(c);
	static uint8_t big[8192];
	struct weft_cache_image in = {big, sizeof(big), 1, WEFT_CACHE_NO_EXPIRY, 0, false};
	assert_int_equal(weft_cache_apply_put(c, mk(&kb, "big%u", 0), &in, 0), -ENOMEM);
	in.value_len = WEFT_CACHE_MAX_VALUE + 1;
	assert_int_equal(weft_cache_apply_put(c, &kb.k, &in, 0), -E2BIG);
	in = (struct weft_cache_image){NULL, 3, 1, WEFT_CACHE_NO_EXPIRY, 0, false};
	assert_int_equal(weft_cache_apply_put(c, &kb.k, &in, 0), -EINVAL);
	assert_int_equal(weft_cache_apply_put(c, &kb.k, NULL, 0), -EINVAL);
	weft_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.puts, 0);
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

int main(void)
{
	urcu_qsbr_register_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes_stored),
		cmocka_unit_test_setup_teardown(test_delete_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peek, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_put_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_put_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_floor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_delete, setup, teardown),
		cmocka_unit_test(test_apply_put_bounds_and_bad_input),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	urcu_qsbr_thread_offline();
	urcu_qsbr_barrier(); /* run pending frees so leak checkers see none */
	urcu_qsbr_unregister_thread();
	return rc;
}
