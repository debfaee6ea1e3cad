/*
 * cache/evict.c — approximate LRU eviction by sampling, and maintenance
 * (expiry sweep + resize steps).
 *
 * Eviction (Redis-style sampling): visit random buckets (at most
 * WEFT_CACHE_EVICT_BUCKETS) until WEFT_CACHE_EVICT_SAMPLE entries are seen,
 * pick the one with the oldest atime (a tombstone or an expired one first),
 * then lock its bucket and unlink it if the slot still holds it. No index
 * of recency is kept: readers only refresh the entry's atime, coarsely.
 * Tombstones go first because they are cheap to lose: one only guards its
 * key against a replicated write older than its delete arriving late,
 * which synchronous replication makes rare, while evicting a live entry
 * always costs a miss.
 *
 * Maintenance (one thread): a resize step, then an expiry sweep that
 * resumes at a per-cache cursor (it reclaims tombstones past their
 * WEFT_CACHE_TOMBSTONE_MS too); both share the max_buckets budget. The
 * sweep looks at a bucket's entries without its lock and locks it only if
 * one has expired; it is skipped while no entry with a TTL or max-idle was
 * ever written to the cache.
 *
 * Invariants:
 *  - Eviction is called with no bucket lock held and takes one at a time.
 *  - A sampled entry is unlinked only if its slot still holds it under the
 *    lock (it may have been replaced or deleted since it was sampled).
 */
#include "cache_internal.h"

static __thread uint64_t tls_rand_state;

uint64_t weft_cache_rand(void)
{
	uint64_t x = tls_rand_state;
	if (x == 0) /* seeded per thread from its counter slot: reproducible */
		x = 0x9e3779b97f4a7c15ull * (weft_cache_tls_slot ? weft_cache_tls_slot
								 : weft_cache_tstats_slot_assign());
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	tls_rand_state = x;
	return x;
}

struct victim {
	struct weft_cache_bucket *head;
	struct weft_cache_entry *e;
	uint64_t at;     /* 0 for a tombstone or an expired entry (they go first) */
	bool expired;
};

static unsigned sample_chain(struct weft_cache_bucket *head, uint64_t now, struct victim *best)
{
	unsigned seen = 0;
	for (struct weft_cache_bucket *b = head; b != NULL;
	     b = weft_cache_bucket_next(atomic_load_explicit(&b->hdr, memory_order_acquire)))
		for (unsigned s = 0; s < WEFT_CACHE_SLOTS; s++) {
			uint64_t v = atomic_load_explicit(&b->slot[s], memory_order_acquire);
			if (v == 0)
				continue;
			struct weft_cache_entry *e = weft_cache_slot_entry(v);
			bool expired = weft_cache_entry_expired(e, now);
			uint64_t at = expired || weft_cache_entry_is_tomb(e)
					      ? 0
					      : atomic_load_explicit(&e->atime, memory_order_relaxed);
			if (best->e == NULL || at < best->at)
				*best = (struct victim){head, e, at, expired};
			seen++;
		}
	return seen;
}

bool weft_cache_evict_one(struct weft_cache *c, uint64_t now)
{
	struct weft_cache_table *t0 = atomic_load_explicit(&c->table, memory_order_acquire);
	struct victim best = {NULL, NULL, 0, false};
	unsigned seen = 0;

	for (unsigned i = 0; i < WEFT_CACHE_EVICT_BUCKETS && seen < WEFT_CACHE_EVICT_SAMPLE; i++) {
		uint64_t r = weft_cache_rand();
		struct weft_cache_table *t = t0;
		struct weft_cache_bucket *b = &t->buckets[r & t->mask];
		while (atomic_load_explicit(&b->hdr, memory_order_acquire) & WEFT_BKT_MOVED) {
			t = atomic_load_explicit(&t->next, memory_order_acquire);
			b = &t->buckets[r & t->mask];
		}
		seen += sample_chain(b, now, &best);
	}
	if (best.e == NULL)
		return false;

	weft_cache_bucket_lock(best.head);
	bool done = false;
	if (!(atomic_load_explicit(&best.head->hdr, memory_order_relaxed) & WEFT_BKT_MOVED)) {
		uint64_t want = weft_cache_slot_pack(weft_cache_tag(best.e->hash), best.e);
		for (struct weft_cache_bucket *b = best.head; b != NULL && !done;
		     b = weft_cache_bucket_next(atomic_load_explicit(&b->hdr, memory_order_relaxed)))
			for (unsigned s = 0; s < WEFT_CACHE_SLOTS; s++)
				if (atomic_load_explicit(&b->slot[s], memory_order_relaxed) == want) {
					weft_cache_unlink(c, &b->slot[s], best.e,
							  best.expired ? WEFT_UNLINK_EXPIRE
								       : WEFT_UNLINK_EVICT);
					done = true;
					break;
				}
	}
	weft_cache_bucket_unlock(best.head);
	return done;
}

static bool chain_has_expired(struct weft_cache_bucket *head, uint64_t now)
{
	for (struct weft_cache_bucket *b = head; b != NULL;
	     b = weft_cache_bucket_next(atomic_load_explicit(&b->hdr, memory_order_acquire)))
		for (unsigned s = 0; s < WEFT_CACHE_SLOTS; s++) {
			uint64_t v = atomic_load_explicit(&b->slot[s], memory_order_acquire);
			if (v != 0 && weft_cache_entry_expired(weft_cache_slot_entry(v), now))
				return true;
		}
	return false;
}

unsigned weft_cache_maintain(struct weft_cache *c, uint64_t now_ms, unsigned max_buckets)
{
	bool on = weft_cache_enter();
	unsigned budget = max_buckets;
	unsigned reclaimed = weft_cache_resize_step(c, now_ms, &budget);

	struct weft_cache_table *t = atomic_load_explicit(&c->table, memory_order_acquire);
	if (!atomic_load_explicit(&c->may_expire, memory_order_relaxed))
		budget = 0; /* nothing can expire: no sweep */
	if (budget > t->mask + 1)
		budget = (unsigned)(t->mask + 1);
	for (; budget > 0; budget--) {
		struct weft_cache_bucket *b = &t->buckets[c->expire_cursor++ & t->mask];
		if (atomic_load_explicit(&b->hdr, memory_order_acquire) & WEFT_BKT_MOVED)
			continue; /* its entries are in the new table, swept after the switch */
		if (!chain_has_expired(b, now_ms))
			continue; /* lock-free look first: most buckets need no lock */
		weft_cache_bucket_lock(b);
		if (!(atomic_load_explicit(&b->hdr, memory_order_relaxed) & WEFT_BKT_MOVED))
			reclaimed += weft_cache_chain_reclaim_expired(c, b, now_ms);
		weft_cache_bucket_unlock(b);
	}
	weft_cache_leave(on);
	return reclaimed;
}
