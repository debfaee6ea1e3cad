/*
 * cache/lookup.c — the lock-free read paths: weft_cache_get_burst, and
 * weft_cache_peek (one key, for replication: no atime, no counters).
 *
 * A burst is looked up in three stages so that the memory accesses of all
 * its keys overlap instead of serialising:
 *   1. bucket index from the carried hash; prefetch every head bucket;
 *   2. load each head (following MOVED into a newer table, and overflow
 *      links), compare the 16-bit tags (SSE2: four 16-byte compares and one
 *      mask per bucket), prefetch the first matching entry: the lines of
 *      its first byte and of its key's last byte, unconditionally (entries
 *      are not line-aligned and half of the 96-byte ones straddle: a branch
 *      on that is mispredicted half the time, which cost ~30% of the burst
 *      rate with entries in cache, while a repeated prefetch of one line is
 *      nearly free);
 *   3. full key compare in the entry (a tag collision falls back to a full
 *      scan of the chain), expiry and tombstone check (the flag shares the
 *      line of the header just compared: misses and other keys never read
 *      it), atime refresh, fill the output.
 * A single key (n = 1) takes the same steps in one short function without
 * the stage arrays and prefetches (get_one).
 *
 * Invariants:
 *  - The caller is an online QSBR reader: every bucket, overflow bucket and
 *    entry read here stays allocated until its next quiescent state.
 *  - Only acquire loads of headers and slots (the SSE2 tag compare reads the
 *    line with vector loads as a hint, then re-reads the chosen slot
 *    atomically and re-checks its tag); the only store is the entry's
 *    atime (relaxed), done only when it moved by WEFT_CACHE_ATIME_GRAIN_MS
 *    (or by 1 ms for entries with max-idle, whose expiry depends on it), so
 *    hot entries are not bounced between cores.
 *  - Counters go to the calling thread's slot, once per burst.
 */
#include "cache_internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define BURST 64u

static inline const struct weft_cache_bucket *bucket_head(const struct weft_cache_table *t,
							  uint64_t hash)
{
	const struct weft_cache_bucket *b = &t->buckets[hash & t->mask];
	while (weft_unlikely(atomic_load_explicit(&((struct weft_cache_bucket *)b)->hdr,
						  memory_order_acquire) & WEFT_BKT_MOVED)) {
		t = atomic_load_explicit(&((struct weft_cache_table *)t)->next,
					 memory_order_acquire);
		b = &t->buckets[hash & t->mask];
	}
	return b;
}

static inline const struct weft_cache_bucket *bucket_next(const struct weft_cache_bucket *b)
{
	return weft_cache_bucket_next(
		atomic_load_explicit(&((struct weft_cache_bucket *)b)->hdr, memory_order_acquire));
}

/* First entry of the chain whose tag matches. */
static inline struct weft_cache_entry *tag_scan_scalar(const struct weft_cache_bucket *b,
						       uint16_t tag)
{
	do {
		for (unsigned s = 0; s < WEFT_CACHE_SLOTS; s++) {
			uint64_t v = atomic_load_explicit(
				&((struct weft_cache_bucket *)b)->slot[s], memory_order_acquire);
			if (v != 0 && (uint16_t)(v >> 48) == tag)
				return weft_cache_slot_entry(v);
		}
		b = bucket_next(b);
	} while (b != NULL);
	return NULL;
}

#ifdef __SSE2__
/* The same with SSE2: the 16-bit tags sit in the top lane of each 64-bit
 * word, so four 16-byte loads and compares give a mask of the matching
 * words (word 0, the header, is masked out). The vector loads are only a
 * hint: the chosen slot is re-read atomically and re-checked, and anything
 * unusual (tag 0, which an empty slot also has; a slot that changed; an
 * overflow chain) takes the scalar path. */
static inline struct weft_cache_entry *tag_scan(const struct weft_cache_bucket *b, uint16_t tag)
{
	if (weft_unlikely(tag == 0))
		return tag_scan_scalar(b, tag);
	const __m128i *p = (const __m128i *)(const void *)b;
	const __m128i t = _mm_set1_epi16((short)tag);
	uint64_t m = (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_load_si128(p), t)) |
		     (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_load_si128(p + 1), t)) << 16 |
		     (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_load_si128(p + 2), t)) << 32 |
		     (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_load_si128(p + 3), t)) << 48;
	m &= 0x8080808080808000ull; /* top byte of each slot word's tag lane, not the header */
	if (weft_likely(m != 0)) {
		unsigned s = (unsigned)(__builtin_ctzll(m) >> 3) - 1;
		uint64_t v = atomic_load_explicit(&((struct weft_cache_bucket *)b)->slot[s],
						  memory_order_acquire);
		if (weft_likely((uint16_t)(v >> 48) == tag))
			return weft_cache_slot_entry(v);
	}
	if (weft_likely(bucket_next(b) == NULL) && m == 0)
		return NULL;
	return tag_scan_scalar(b, tag);
}
#else
#define tag_scan tag_scan_scalar
#endif

/* Full scan after a tag collision. */
static struct weft_cache_entry *full_scan(const struct weft_cache_bucket *b,
					  const struct weft_cache_key *k)
{
	uint16_t tag = weft_cache_tag(k->hash);
	do {
		for (unsigned s = 0; s < WEFT_CACHE_SLOTS; s++) {
			uint64_t v = atomic_load_explicit(
				&((struct weft_cache_bucket *)b)->slot[s], memory_order_acquire);
			if (v != 0 && (uint16_t)(v >> 48) == tag &&
			    weft_cache_entry_matches(weft_cache_slot_entry(v), k))
				return weft_cache_slot_entry(v);
		}
		b = bucket_next(b);
	} while (b != NULL);
	return NULL;
}

static inline void touch_atime(struct weft_cache_entry *e, uint64_t now)
{
	uint64_t at = atomic_load_explicit(&e->atime, memory_order_relaxed);
	uint64_t grain = e->max_idle != UINT64_MAX ? 1 : WEFT_CACHE_ATIME_GRAIN_MS;
	if (now > at && now - at >= grain)
		atomic_store_explicit(&e->atime, now, memory_order_relaxed);
}

/* Stage 3 for one key whose tag matched entry e (or nothing: NULL) in the
 * chain at head. Returns 1 and fills out on a live hit, else 0. */
static inline __attribute__((always_inline)) unsigned
read_entry(const struct weft_cache_bucket *head, struct weft_cache_entry *e,
	   const struct weft_cache_key *k, uint64_t now, struct weft_cache_value *out, bool *found)
{
	if (e != NULL && weft_unlikely(!weft_cache_entry_matches(e, k)))
		e = k->len <= WEFT_CACHE_MAX_KEY ? full_scan(head, k) : NULL;
	if (e == NULL || weft_cache_entry_expired(e, now) || weft_cache_entry_is_tomb(e)) {
		*found = false;
		return 0;
	}
	touch_atime(e, now);
	out->data = weft_cache_entry_value(e);
	out->len = e->vlen;
	/* the caller copies the value out next: start its first and last lines */
	__builtin_prefetch(out->data, 0, 3);
	__builtin_prefetch(out->data + (e->vlen ? e->vlen - 1 : 0), 0, 3);
	out->version = e->version;
	*found = true;
	return 1;
}

static unsigned get_chunk(const struct weft_cache_table *t, const struct weft_cache_key *keys,
			  unsigned n, uint64_t now, struct weft_cache_value *out, bool *found)
{
	const struct weft_cache_bucket *head[BURST];
	struct weft_cache_entry *cand[BURST];
	unsigned hits = 0;

	for (unsigned i = 0; i < n; i++) {
		head[i] = &t->buckets[keys[i].hash & t->mask];
		__builtin_prefetch(head[i], 0, 3);
	}
	for (unsigned i = 0; i < n; i++) {
		head[i] = bucket_head(t, keys[i].hash);
		cand[i] = tag_scan(head[i], weft_cache_tag(keys[i].hash));
		if (cand[i] != NULL) {
			/* header + key may straddle two lines (entries are not
			 * line-aligned): fetch the lines of the first and the
			 * last byte the compare reads, without a branch on
			 * which (it would be a coin toss, mispredicted half
			 * the time; a second prefetch of the same line is
			 * merged with the first) */
			__builtin_prefetch(cand[i], 0, 3);
			__builtin_prefetch((const char *)cand[i] + sizeof(struct weft_cache_entry) +
						   keys[i].len - 1,
					   0, 3);
		}
	}
	for (unsigned i = 0; i < n; i++)
		hits += read_entry(head[i], cand[i], &keys[i], now, &out[i], &found[i]);
	return hits;
}

/* The entry of key (live, expired or a tombstone), or NULL: the slow-path
 * single-key lookup of peek and is_deleted (key already checked). */
static const struct weft_cache_entry *find_entry(const struct weft_cache *c,
						 const struct weft_cache_key *key)
{
	const struct weft_cache_table *t = atomic_load_explicit(&c->table, memory_order_acquire);
	const struct weft_cache_bucket *head = bucket_head(t, key->hash);
	struct weft_cache_entry *e = tag_scan(head, weft_cache_tag(key->hash));
	if (e != NULL && !weft_cache_entry_matches(e, key))
		e = full_scan(head, key);
	return e;
}

/* One key: the same steps without the stage arrays and prefetches. They
 * only pay when other keys' misses can overlap; for a single key the staged
 * path was a third slower (perf/bench_cache, cache_get_single at 1M keys:
 * 4.7-5.2 against 7.1-7.3 M/s); a short path also lets the caller's next
 * lookup start while this one waits for its entry. */
static unsigned get_one(const struct weft_cache_table *t, const struct weft_cache_key *k,
			uint64_t now, struct weft_cache_value *out, bool *found)
{
	const struct weft_cache_bucket *head = bucket_head(t, k->hash);
	return read_entry(head, tag_scan(head, weft_cache_tag(k->hash)), k, now, out, found);
}

unsigned weft_cache_get_burst(struct weft_cache *c, const struct weft_cache_key *keys,
			      unsigned n, uint64_t now_ms, struct weft_cache_value *out,
			      bool *found)
{
	const struct weft_cache_table *t = atomic_load_explicit(&c->table, memory_order_acquire);
	unsigned hits = 0;
	if (n == 1)
		hits = get_one(t, keys, now_ms, out, found);
	else
		for (unsigned off = 0; off < n; off += BURST) {
			unsigned m = n - off < BURST ? n - off : BURST;
			hits += get_chunk(t, keys + off, m, now_ms, out + off, found + off);
		}
	struct weft_cache_tstats *st = weft_cache_my_stats(c);
	weft_cache_count(&st->hits, hits);
	weft_cache_count(&st->misses, n - hits);
	return hits;
}

int weft_cache_peek(struct weft_cache *c, const struct weft_cache_key *key, uint64_t now_ms,
		    struct weft_cache_image *out)
{
	int rc = weft_cache_check_key(key);
	if (rc < 0)
		return rc;
	const struct weft_cache_entry *e = find_entry(c, key);
	if (e == NULL || weft_cache_entry_expired(e, now_ms) || weft_cache_entry_is_tomb(e))
		return -ENOENT;
	weft_cache_entry_image(e, now_ms, out);
	return 0;
}

bool weft_cache_is_deleted(struct weft_cache *c, const struct weft_cache_key *key,
			   uint64_t now_ms)
{
	if (weft_cache_check_key(key) < 0)
		return false;
	const struct weft_cache_entry *e = find_entry(c, key);
	return e != NULL && weft_cache_entry_is_tomb(e) && !weft_cache_entry_expired(e, now_ms);
}
