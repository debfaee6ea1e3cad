/*
 * Unit tests of the cache's tombstones (cache.h, "Tombstones"): the trace a
 * delete leaves so that an older replicated PUT arriving after it is
 * refused.
 *
 * What is checked:
 *  - no read sees a tombstone (get_burst single and burst, peek) and every
 *    local write treats it as absent (put-if-absent, replace, CAS, incr,
 *    touch, delete); LOCAL caches leave none on a local delete;
 *  - apply_put / apply_delete against a tombstone: as old or older
 *    refused, newer applied (the crossing DELETE / PUT of docs/cluster.md);
 *  - tombstones last WEFT_CACHE_TOMBSTONE_MS of virtual time, are then
 *    reclaimed by weft_cache_maintain (and an older PUT is accepted again:
 *    the documented window), never counted as entries or expirations;
 *  - scan visits tombstones with deleted = true (never as live);
 *  - discard removes without a tombstone;
 *  - delete_if removes only the entry of the version given (else -ESTALE
 *    with the current one), leaving weft_cache_delete's tombstone;
 *  - bounds: tombstones are charged in bytes, evicted before live entries,
 *    not counted by max_entries, and a delete never fails for lack of room;
 *  - two threads applying one key's PUTs and DELETEs in opposite orders
 *    while a reader reads: the final state is the newest write's.
 *
 * The test thread is a registered, online QSBR reader throughout, as an
 * lcore would be; it reports quiescent states between tests.
 */
#include <errno.h>
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
#include "cache_internal.h" /* weft_cache_create / destroy, tiny tables */
#include "cache_keys.h"

static int put_s(struct weft_cache *c, const struct weft_cache_key *k, const char *val,
		 uint64_t now, uint64_t *ver)
{
	return weft_cache_put(c, k, val, (uint32_t)strlen(val), WEFT_CACHE_PUT, 0, NULL, now, ver);
}

static struct weft_cache_image img_s(const char *val, uint64_t version)
{
	return (struct weft_cache_image){.value = (const uint8_t *)val,
					 .value_len = (uint32_t)strlen(val),
					 .version = version,
					 .ttl_ms = WEFT_CACHE_NO_EXPIRY};
}

static struct weft_cache *make(const char *name, uint32_t mode, uint64_t max_bytes,
			       uint64_t max_entries, uint64_t buckets)
{
	struct weft_cache_opts o = {.mode = mode, .max_bytes = max_bytes,
				    .max_entries = max_entries};
	struct weft_cache *c = weft_cache_create(name, strlen(name), &o, buckets);
	assert_non_null(c);
	return c;
}

static void done(struct weft_cache *c)
{
	weft_cache_destroy(c);
	urcu_qsbr_quiescent_state();
}

static struct weft_cache_stats stats(const struct weft_cache *c)
{
	struct weft_cache_stats st;
	weft_cache_get_stats(c, &st);
	return st;
}

/* The tombstone of key k as scan reports it: its version, or 0 if none. */
struct find_tomb {
	const struct weft_cache_key *k;
	uint64_t version;
	uint64_t ttl;
	unsigned live; /* visits of k as a live entry */
};

static void find_tomb_fn(void *arg, const struct weft_cache_key *key,
			 const struct weft_cache_image *img)
{
	struct find_tomb *f = arg;
	if (key->len != f->k->len || memcmp(key->data, f->k->data, key->len) != 0)
		return;
	if (img->deleted) {
		f->version = img->version;
		f->ttl = img->ttl_ms;
	} else {
		f->live++;
	}
}

static struct find_tomb scan_key(struct weft_cache *c, const struct weft_cache_key *k,
				 uint64_t now)
{
	struct find_tomb f = {k, 0, 0, 0};
	uint64_t cur = 0;
	unsigned calls = 0;
	do {
		cur = weft_cache_scan(c, cur, 1u << 20, now, find_tomb_fn, &f);
		assert_true(++calls < 1000);
	} while (cur != 0);
	return f;
}

static void test_reads_and_local_writes(void **state)
{
	(void)state;
	struct weft_cache *c = make("rep", WEFT_CACHE_MODE_REPLICATED, 0, 0, 0);
	struct kbuf ka, kb;
	const struct weft_cache_key *a = mk(&ka, "a%u", 0);
	uint64_t v1 = 0, dv = 0, v;

	assert_int_equal(put_s(c, a, "one", 0, &v1), 0);
	assert_int_equal(weft_cache_delete(c, a, 5, &dv), 0);
	assert_true(dv > v1);
	struct weft_cache_stats st = stats(c);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.tombstones, 1);
	assert_true(st.bytes > 0); /* the tombstone is charged */
	struct find_tomb f = scan_key(c, a, 5);
	assert_int_equal(f.version, dv);
	assert_int_equal(f.live, 0);

	/* reads: single, burst, peek; misses counted as for an absent key */
	struct weft_cache_value out[2];
	bool found[2] = {true, true};
	assert_int_equal(weft_cache_get_burst(c, a, 1, 6, out, found), 0);
	assert_false(found[0]);
	const struct weft_cache_key *b = mk(&kb, "b%u", 0);
	assert_int_equal(put_s(c, b, "bee", 6, NULL), 0);
	struct weft_cache_key both[2] = {*a, *b};
	assert_int_equal(weft_cache_get_burst(c, both, 2, 6, out, found), 1);
	assert_false(found[0]);
	assert_true(found[1]);
	struct weft_cache_image img;
	assert_int_equal(weft_cache_peek(c, a, 6, &img), -ENOENT);
	st = stats(c);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.hits, 1);

	/* local writes see "absent" */
	assert_int_equal(weft_cache_delete(c, a, 6, &v), -ENOENT);
	assert_int_equal(weft_cache_put(c, a, "x", 1, WEFT_CACHE_REPLACE, 0, NULL, 6, NULL), -ENOENT);
	assert_int_equal(weft_cache_put(c, a, "x", 1, WEFT_CACHE_CAS, dv, NULL, 6, NULL), -ENOENT);
	assert_int_equal(weft_cache_touch(c, a, NULL, 6, NULL), -ENOENT);
	assert_int_equal(stats(c).tombstones, 1); /* none of them touched it */
	int64_t n = 0;
	assert_int_equal(weft_cache_incr(c, a, 5, NULL, 6, &n, &v), 0);
	assert_int_equal(n, 5); /* from 0, not from the deleted value */
	assert_true(v > dv);
	st = stats(c);
	assert_int_equal(st.tombstones, 0);
	assert_int_equal(st.entries, 2);

	/* put-if-absent over a tombstone succeeds; so does a plain put */
	assert_int_equal(weft_cache_delete(c, a, 7, &dv), 0);
	assert_int_equal(weft_cache_put(c, a, "new", 3, WEFT_CACHE_PUT_IF_ABSENT, 0, NULL, 7, &v), 0);
	assert_true(v > dv);
	assert_int_equal(weft_cache_peek(c, a, 7, &img), 0);
	assert_int_equal(img.version, v);
	assert_false(img.deleted);
	assert_int_equal(stats(c).tombstones, 0);
	assert_int_equal(weft_cache_delete(c, a, 8, NULL), 0);
	assert_int_equal(put_s(c, a, "again", 8, NULL), 0);
	st = stats(c);
	assert_int_equal(st.tombstones, 0);
	assert_int_equal(st.deletes, 3);
	done(c);

	/* DISTRIBUTED caches keep them too; LOCAL and INVALIDATED ones, whose
	 * deletes carry no version to other nodes, do not */
	uint32_t modes[] = {WEFT_CACHE_MODE_DISTRIBUTED, WEFT_CACHE_MODE_LOCAL,
			    WEFT_CACHE_MODE_INVALIDATED};
	for (unsigned i = 0; i < 3; i++) {
		c = make("m", modes[i], 0, 0, 0);
		assert_int_equal(put_s(c, a, "one", 0, NULL), 0);
		assert_int_equal(weft_cache_delete(c, a, 0, NULL), 0);
		st = stats(c);
		assert_int_equal(st.tombstones, i == 0 ? 1 : 0);
		assert_int_equal(st.bytes == 0, i != 0);
		done(c);
	}
}

static void test_apply_against_tombstone(void **state)
{
	(void)state;
	struct weft_cache *c = make("loc", 0, 0, 0, 0); /* apply_delete keeps one in any mode */
	struct kbuf ka;
	const struct weft_cache_key *a = mk(&ka, "a%u", 0);
	struct weft_cache_image in, out;

	/* a DELETE that overtook the PUT it follows */
	assert_int_equal(weft_cache_apply_delete(c, a, 100, 0), -ENOENT);
	assert_int_equal(stats(c).tombstones, 1);
	in = img_s("old", 99);
	assert_int_equal(weft_cache_apply_put(c, a, &in, 1), -ESTALE);
	in = img_s("same", 100);
	assert_int_equal(weft_cache_apply_put(c, a, &in, 1), -ESTALE);
	assert_int_equal(weft_cache_peek(c, a, 1, &out), -ENOENT);
	assert_int_equal(weft_cache_apply_delete(c, a, 90, 1), -ESTALE); /* older delete */
	assert_int_equal(scan_key(c, a, 1).version, 100);
	assert_int_equal(weft_cache_apply_delete(c, a, 150, 1), -ENOENT); /* newer: refreshed */
	assert_int_equal(scan_key(c, a, 1).version, 150);
	in = img_s("older", 120);
	assert_int_equal(weft_cache_apply_put(c, a, &in, 1), -ESTALE);
	struct weft_cache_stats st = stats(c);
	assert_int_equal(st.tombstones, 1);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.puts, 0);
	assert_int_equal(st.deletes, 0); /* no live entry went */

	/* a newer PUT replaces it */
	in = img_s("newer", 151);
	assert_int_equal(weft_cache_apply_put(c, a, &in, 2), 0);
	assert_int_equal(weft_cache_peek(c, a, 2, &out), 0);
	assert_int_equal(out.version, 151);
	assert_memory_equal(out.value, "newer", 5);
	st = stats(c);
	assert_int_equal(st.tombstones, 0);
	assert_int_equal(st.entries, 1);

	/* a DELETE of a live entry leaves its version behind */
	assert_int_equal(weft_cache_apply_delete(c, a, 200, 3), 0);
	in = img_s("late", 199);
	assert_int_equal(weft_cache_apply_put(c, a, &in, 4), -ESTALE);
	st = stats(c);
	assert_int_equal(st.tombstones, 1);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.deletes, 1);

	/* a local write is newer (the counter was raised) and replaces it */
	uint64_t v = 0;
	assert_int_equal(put_s(c, a, "local", 5, &v), 0);
	assert_true(v > 200);
	assert_int_equal(stats(c).tombstones, 0);
	done(c);

	/* the case of docs/cluster.md: a primary's PUT and DELETE reach a
	 * backup in the opposite order (a retransmission crossing the delete) */
	struct weft_cache *pri = make("pri", WEFT_CACHE_MODE_DISTRIBUTED, 0, 0, 0);
	struct weft_cache *bak = make("bak", WEFT_CACHE_MODE_DISTRIBUTED, 0, 0, 0);
	uint64_t dv = 0;
	assert_int_equal(put_s(pri, a, "v", 10, NULL), 0);
	assert_int_equal(weft_cache_peek(pri, a, 10, &in), 0);
	assert_int_equal(weft_cache_delete(pri, a, 11, &dv), 0);
	assert_int_equal(weft_cache_apply_delete(bak, a, dv, 12), -ENOENT);
	assert_int_equal(weft_cache_apply_put(bak, a, &in, 13), -ESTALE);
	assert_int_equal(weft_cache_peek(bak, a, 13, &out), -ENOENT);
	/* and a state transfer scanned from the primary carries the delete */
	struct find_tomb f = scan_key(pri, a, 14);
	assert_int_equal(f.version, dv);
	assert_int_equal(f.live, 0);
	done(pri);
	done(bak);
}

static void test_expiry_and_maintain(void **state)
{
	(void)state;
	enum { N = 200 };
	struct weft_cache *c = make("exp", WEFT_CACHE_MODE_REPLICATED, 0, 0, 64);
	struct kbuf kb;
	const uint64_t t0 = 1000, tend = t0 + WEFT_CACHE_TOMBSTONE_MS;
	uint64_t dv[N];
	struct weft_cache_image in;

	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(put_s(c, mk(&kb, "k%u", i), "value", t0 - 10, NULL), 0);
		assert_int_equal(weft_cache_delete(c, &kb.k, t0, &dv[i]), 0);
	}
	assert_int_equal(stats(c).tombstones, N);

	/* one ms before the end: maintenance keeps them, they still refuse */
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(weft_cache_maintain(c, tend - 1, 1024), 0);
	assert_int_equal(stats(c).tombstones, N);
	in = img_s("late", dv[0] - 1);
	assert_int_equal(weft_cache_apply_put(c, mk(&kb, "k%u", 0), &in, tend - 1), -ESTALE);
	struct find_tomb f = scan_key(c, &kb.k, tend - 1);
	assert_int_equal(f.version, dv[0]);
	assert_int_equal(f.ttl, 1);

	/* at the end: gone from scans at once, reclaimed by bounded steps */
	assert_int_equal(scan_key(c, &kb.k, tend).version, 0);
	unsigned reclaimed = 0, calls = 0;
	while (stats(c).tombstones > 0) {
		reclaimed += weft_cache_maintain(c, tend, 16);
		assert_true(++calls < 10000);
	}
	assert_int_equal(reclaimed, N);
	struct weft_cache_stats st = stats(c);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.expirations, 0); /* tombstones are no data */

	/* past the window, a very late older PUT is stored again: the limit
	 * docs/cluster.md states */
	assert_int_equal(weft_cache_apply_put(c, mk(&kb, "k%u", 1), &in, tend), 0);
	/* a write that meets an expired tombstone reclaims it itself */
	assert_int_equal(weft_cache_apply_delete(c, mk(&kb, "k%u", 2), dv[2], tend), -ENOENT);
	assert_int_equal(stats(c).tombstones, 1);
	in = img_s("late", dv[2] - 1);
	assert_int_equal(weft_cache_apply_put(c, &kb.k, &in, tend + WEFT_CACHE_TOMBSTONE_MS), 0);
	st = stats(c);
	assert_int_equal(st.tombstones, 0);
	assert_int_equal(st.entries, 2);
	done(c);
}

/* Scan of a cache with every third key deleted. */
struct scan_all {
	unsigned n;
	unsigned live[600], dead[600];
	uint64_t dv[600];
	unsigned bad;
};

static void scan_all_fn(void *arg, const struct weft_cache_key *key,
			const struct weft_cache_image *img)
{
	struct scan_all *s = arg;
	char name[16];
	unsigned i;
	if (key->len >= sizeof(name)) {
		s->bad++;
		return;
	}
	memcpy(name, key->data, key->len);
	name[key->len] = '\0';
	if (sscanf(name, "s%u", &i) != 1 || i >= s->n) {
		s->bad++;
		return;
	}
	if (img->deleted) {
		if (img->value != NULL || img->value_len != 0 || img->version != s->dv[i] ||
		    img->max_idle_ms != 0)
			s->bad++;
		s->dead[i]++;
	} else {
		if (img->value == NULL || img->value_len != 3)
			s->bad++;
		s->live[i]++;
	}
}

static void test_scan_visits_tombstones(void **state)
{
	(void)state;
	struct weft_cache *c = make("scan", WEFT_CACHE_MODE_DISTRIBUTED, 0, 0, 16);
	struct scan_all *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->n = 600;
	struct kbuf kb;
	for (unsigned i = 0; i < s->n; i++)
		assert_int_equal(put_s(c, mk(&kb, "s%u", i), "val", 0, NULL), 0);
	for (unsigned i = 0; i < s->n; i += 3)
		assert_int_equal(weft_cache_delete(c, mk(&kb, "s%u", i), 0, &s->dv[i]), 0);
	uint64_t cur = 0;
	unsigned calls = 0;
	do {
		cur = weft_cache_scan(c, cur, 4, 0, scan_all_fn, s);
		assert_true(++calls < 100000);
	} while (cur != 0);
	assert_int_equal(s->bad, 0);
	for (unsigned i = 0; i < s->n; i++) {
		assert_int_equal(s->live[i], i % 3 ? 1 : 0);
		assert_int_equal(s->dead[i], i % 3 ? 0 : 1);
	}
	free(s);
	done(c);
}

static void test_discard(void **state)
{
	(void)state;
	struct weft_cache *c = make("drop", WEFT_CACHE_MODE_DISTRIBUTED, 0, 0, 0);
	struct kbuf ka, kb;
	const struct weft_cache_key *a = mk(&ka, "a%u", 0), *b = mk(&kb, "b%u", 0);
	struct weft_cache_image in = img_s("v", 10), out;

	assert_int_equal(weft_cache_apply_put(c, a, &in, 0), 0);
	assert_int_equal(weft_cache_discard(c, a, 9, 0), -ESTALE); /* newer kept */
	assert_int_equal(weft_cache_discard(c, a, 10, 0), 0);
	struct weft_cache_stats st = stats(c);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.tombstones, 0);
	assert_int_equal(st.deletes, 1);
	/* the segment comes back: the same entry is accepted again */
	assert_int_equal(weft_cache_apply_put(c, a, &in, 1), 0);
	assert_int_equal(weft_cache_peek(c, a, 1, &out), 0);

	/* tombstones go too, and are no delete */
	assert_int_equal(weft_cache_apply_delete(c, b, 20, 1), -ENOENT);
	assert_int_equal(weft_cache_discard(c, b, 19, 1), -ESTALE);
	assert_int_equal(weft_cache_discard(c, b, 20, 1), 0);
	assert_int_equal(weft_cache_discard(c, b, 20, 1), -ENOENT);
	st = stats(c);
	assert_int_equal(st.tombstones, 0);
	assert_int_equal(st.deletes, 1);
	assert_int_equal(weft_cache_discard(c, NULL, 1, 1), -EINVAL);
	done(c);
}

/* delete_if: a compare-and-delete on the live entry's version, with
 * weft_cache_delete's version and tombstone when it matches. */
static void test_delete_if(void **state)
{
	(void)state;
	struct weft_cache *c = make("cad", WEFT_CACHE_MODE_DISTRIBUTED, 0, 0, 0);
	struct kbuf ka, kb;
	const struct weft_cache_key *a = mk(&ka, "a%u", 0), *b = mk(&kb, "b%u", 0);
	uint64_t v1 = 0, v2 = 0, dv = 0, got = 0;
	struct weft_cache_image img;

	/* a version that is not the entry's: nothing changes, the current one
	 * is returned */
	assert_int_equal(put_s(c, a, "one", 0, &v1), 0);
	assert_int_equal(weft_cache_delete_if(c, a, v1 + 1, 1, &got), -ESTALE);
	assert_int_equal(got, v1);
	assert_int_equal(weft_cache_peek(c, a, 1, &img), 0);
	assert_int_equal(img.version, v1);
	struct weft_cache_stats st = stats(c);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.tombstones, 0);
	assert_int_equal(st.deletes, 0);

	/* the entry moved (a write between the read and the delete): the
	 * version read is refused */
	assert_int_equal(put_s(c, a, "two", 2, &v2), 0);
	assert_true(v2 > v1);
	got = 0;
	assert_int_equal(weft_cache_delete_if(c, a, v1, 3, &got), -ESTALE);
	assert_int_equal(got, v2);
	assert_int_equal(weft_cache_peek(c, a, 3, &img), 0);
	assert_memory_equal(img.value, "two", 3);

	/* TOUCH keeps the version: the entry is still the one read */
	assert_int_equal(weft_cache_touch(c, a, NULL, 4, NULL), 0);
	assert_int_equal(weft_cache_delete_if(c, a, v2, 5, &dv), 0);
	assert_true(dv > v2);
	assert_int_equal(weft_cache_peek(c, a, 5, &img), -ENOENT);
	st = stats(c);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.tombstones, 1);
	assert_int_equal(st.deletes, 1);
	assert_int_equal(scan_key(c, a, 5).version, dv); /* as weft_cache_delete's */

	/* a tombstone or no entry at all: -ENOENT, the tombstone untouched */
	got = 7;
	assert_int_equal(weft_cache_delete_if(c, a, dv, 6, &got), -ENOENT);
	assert_int_equal(weft_cache_delete_if(c, a, v2, 6, &got), -ENOENT);
	assert_int_equal(weft_cache_delete_if(c, b, 0, 6, &got), -ENOENT);
	assert_int_equal(got, 7);
	assert_int_equal(scan_key(c, a, 6).version, dv);
	/* the tombstone orders an older replicated PUT as weft_cache_delete's */
	struct weft_cache_image old = img_s("one", v2);
	assert_int_equal(weft_cache_apply_put(c, a, &old, 6), -ESTALE);
	assert_int_equal(weft_cache_delete_if(c, NULL, 0, 6, NULL), -EINVAL);
	done(c);

	/* LOCAL and INVALIDATED caches leave no tombstone, as weft_cache_delete */
	uint32_t modes[] = {WEFT_CACHE_MODE_LOCAL, WEFT_CACHE_MODE_INVALIDATED};
	for (unsigned i = 0; i < 2; i++) {
		c = make("m", modes[i], 0, 0, 0);
		assert_int_equal(put_s(c, a, "one", 0, &v1), 0);
		assert_int_equal(weft_cache_delete_if(c, a, v1, 0, NULL), 0);
		st = stats(c);
		assert_int_equal(st.entries, 0);
		assert_int_equal(st.tombstones, 0);
		assert_int_equal(st.bytes, 0);
		done(c);
	}
}

static void test_bounds(void **state)
{
	(void)state;
	struct kbuf kb;
	struct weft_cache_stats st;

	/* max_entries counts live entries only */
	struct weft_cache *c = make("ent", WEFT_CACHE_MODE_REPLICATED, 0, 10, 4);
	for (unsigned i = 0; i < 10; i++) {
		assert_int_equal(put_s(c, mk(&kb, "k%u", i), "v", 0, NULL), 0);
		assert_int_equal(weft_cache_delete(c, &kb.k, 0, NULL), 0);
	}
	for (unsigned i = 10; i < 20; i++)
		assert_int_equal(put_s(c, mk(&kb, "k%u", i), "v", 0, NULL), 0);
	st = stats(c);
	assert_int_equal(st.entries, 10);
	assert_int_equal(st.tombstones, 10);
	assert_int_equal(st.evictions, 0);
	done(c);

	/* max_bytes: thousands of tombstones in 64 KiB. They evict each other
	 * (never failing the delete), stay within the bound, and then make
	 * room for live entries before any live entry goes */
	const uint64_t max = 64 << 10;
	c = make("mem", WEFT_CACHE_MODE_REPLICATED, max, 0, 16);
	for (unsigned i = 0; i < 5000; i++) {
		assert_int_equal(weft_cache_apply_delete(c, mk(&kb, "t%u", i), 1000 + i, 0), -ENOENT);
		assert_true(stats(c).bytes <= max);
		if (i % 64 == 0)
			weft_cache_maintain(c, 0, 64); /* let the index grow */
	}
	st = stats(c);
	assert_int_equal(st.entries, 0);
	assert_true(st.tombstones > 100);
	assert_true(st.tombstones < 5000);
	assert_int_equal(st.evictions, 0); /* tombstones lost count as no eviction */
	assert_int_equal(st.expirations, 0);
	char val[100];
	memset(val, 'v', sizeof(val));
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(weft_cache_put(c, mk(&kb, "live%u", i), val, sizeof(val),
						WEFT_CACHE_PUT, 0, NULL, 1, NULL), 0);
		assert_true(stats(c).bytes <= max);
	}
	st = stats(c);
	assert_int_equal(st.entries, 100);
	assert_int_equal(st.evictions, 0); /* tombstones went first */
	uint64_t tombs = st.tombstones;

	/* fill with live entries until they evict each other: a delete then
	 * still succeeds (its tombstone is smaller than the entry it replaces) */
	for (unsigned i = 100; stats(c).evictions == 0; i++) {
		assert_int_equal(weft_cache_put(c, mk(&kb, "live%u", i), val, sizeof(val),
						WEFT_CACHE_PUT, 0, NULL, 2, NULL), 0);
		assert_true(i < 10000);
	}
	assert_true(stats(c).tombstones < tombs);
	struct weft_cache_image img;
	unsigned deleted = 0;
	for (unsigned i = 0; i < 10000 && deleted < 10; i++)
		if (weft_cache_peek(c, mk(&kb, "live%u", i), 3, &img) == 0) {
			uint64_t before = stats(c).tombstones;
			assert_int_equal(weft_cache_delete(c, &kb.k, 3, NULL), 0);
			assert_int_equal(stats(c).tombstones, before + 1);
			deleted++;
		}
	assert_int_equal(deleted, 10);
	st = stats(c);
	assert_true(st.bytes <= max);
	done(c);
}

/* Two threads apply one key's writes, versions 1..top, a DELETE when
 * version % 3 == 0 and a PUT otherwise: one thread ascending, the other
 * descending, each taking alternate versions, while a reader reads. */
#define RACE_KEYS 256u
#define RACE_TOP 600u

struct race {
	struct weft_cache *c;
	pthread_barrier_t start;             /* writers start together: they cross */
	_Atomic unsigned writers_left;
	_Atomic uint64_t errors;
};

struct race_arg {
	struct race *r;
	unsigned id;
};

static unsigned race_top(unsigned key)
{
	return RACE_TOP + key % 3; /* the newest write: a DELETE for every third key */
}

static void *race_writer(void *p)
{
	struct race_arg *a = p;
	struct race *r = a->r;
	urcu_qsbr_register_thread();
	pthread_barrier_wait(&r->start);
	for (unsigned step = 1; step <= RACE_TOP + 2; step++) {
		unsigned v = a->id == 0 ? step : RACE_TOP + 3 - step;
		if (v % 2 != a->id)
			continue;
		for (unsigned k = 0; k < RACE_KEYS; k++) {
			if (v > race_top(k))
				continue;
			struct kbuf kb;
			char val[16];
			int n = snprintf(val, sizeof(val), "%u", v);
			mk(&kb, "race%u", k);
			int rc;
			if (v % 3 == 0) {
				rc = weft_cache_apply_delete(r->c, &kb.k, v, 0);
			} else {
				struct weft_cache_image img = {.value = (const uint8_t *)val,
							       .value_len = (uint32_t)n,
							       .version = v,
							       .ttl_ms = WEFT_CACHE_NO_EXPIRY};
				rc = weft_cache_apply_put(r->c, &kb.k, &img, 0);
			}
			if (rc != 0 && rc != -ESTALE && rc != -ENOENT)
				atomic_fetch_add(&r->errors, 1);
		}
		urcu_qsbr_quiescent_state();
	}
	atomic_fetch_sub(&r->writers_left, 1);
	urcu_qsbr_unregister_thread();
	return NULL;
}

static void *race_reader(void *p)
{
	struct race *r = p;
	urcu_qsbr_register_thread();
	struct kbuf kb[RACE_KEYS];
	struct weft_cache_key keys[RACE_KEYS];
	for (unsigned k = 0; k < RACE_KEYS; k++)
		keys[k] = *mk(&kb[k], "race%u", k);
	for (unsigned round = 0; round < 1000000 && atomic_load(&r->writers_left) > 0; round++) {
		struct weft_cache_value out[RACE_KEYS];
		bool found[RACE_KEYS];
		weft_cache_get_burst(r->c, keys, RACE_KEYS, 0, out, found);
		for (unsigned k = 0; k < RACE_KEYS; k++) {
			if (!found[k])
				continue;
			char buf[16];
			unsigned v = 0;
			if (out[k].len >= sizeof(buf)) {
				atomic_fetch_add(&r->errors, 1);
				continue;
			}
			memcpy(buf, out[k].data, out[k].len);
			buf[out[k].len] = '\0';
			/* a value is a PUT's, carrying its own version */
			if (sscanf(buf, "%u", &v) != 1 || v != out[k].version || v % 3 == 0)
				atomic_fetch_add(&r->errors, 1);
		}
		urcu_qsbr_quiescent_state();
	}
	urcu_qsbr_unregister_thread();
	return NULL;
}

static void test_concurrent_order(void **state)
{
	(void)state;
	struct race r = {.c = make("race", WEFT_CACHE_MODE_REPLICATED, 0, 0, 4)};
	atomic_init(&r.writers_left, 2);
	assert_int_equal(pthread_barrier_init(&r.start, NULL, 2), 0);
	atomic_init(&r.errors, 0);
	struct race_arg args[2] = {{&r, 0}, {&r, 1}};
	pthread_t w[2], rd;
	urcu_qsbr_thread_offline();
	assert_int_equal(pthread_create(&rd, NULL, race_reader, &r), 0);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&w[i], NULL, race_writer, &args[i]), 0);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	pthread_join(rd, NULL);
	urcu_qsbr_thread_online();
	pthread_barrier_destroy(&r.start);
	assert_int_equal(atomic_load(&r.errors), 0);

	unsigned dead = 0;
	for (unsigned k = 0; k < RACE_KEYS; k++) {
		struct kbuf kb;
		struct weft_cache_image img;
		unsigned top = race_top(k);
		int rc = weft_cache_peek(r.c, mk(&kb, "race%u", k), 0, &img);
		if (top % 3 == 0) {
			assert_int_equal(rc, -ENOENT);
			assert_int_equal(scan_key(r.c, &kb.k, 0).version, top);
			dead++;
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(img.version, top);
		}
	}
	struct weft_cache_stats st = stats(r.c);
	assert_int_equal(st.tombstones, dead);
	assert_int_equal(st.entries, RACE_KEYS - dead);
	done(r.c);
}

int main(void)
{
	urcu_qsbr_register_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_and_local_writes),
		cmocka_unit_test(test_apply_against_tombstone),
		cmocka_unit_test(test_expiry_and_maintain),
		cmocka_unit_test(test_scan_visits_tombstones),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_delete_if),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_concurrent_order),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	urcu_qsbr_thread_offline();
	urcu_qsbr_barrier(); /* run pending frees so leak checkers see none */
	urcu_qsbr_unregister_thread();
	return rc;
}
