/*
 * cache/scan.c — weft_cache_scan: a resumable walk over the live entries and
 * tombstones in bounded steps (state transfer and rebalancing read a cache
 * with it while lcores keep writing and the index keeps growing; a
 * tombstone is handed to fn with img->deleted set, so that the transfer
 * carries deletes as well as values).
 *
 * The cursor is a bucket index of the table the step sees, advanced in
 * reversed-bit order (increment the bit-reversed index, as Redis's SCAN
 * does). Growth splits bucket i of an n-bucket table into i and i + n;
 * bit-reversed, they become 2r and 2r + 1 where r is i's reversed index, so
 * the buckets visited so far stay exactly a prefix of the reversed order
 * after any number of doublings, and the cursor stays valid as it is. The
 * index never shrinks, so no bucket ever folds back behind the cursor.
 *
 * A cursor position names a hash class (hash & mask == position). Its
 * entries are read in the step's table; if that bucket is MOVED, in the two
 * buckets it split into (recursively, should the next table grow too).
 *
 * Why every entry live for the whole scan is visited:
 *  - its key's hash class is visited once, at some moment of the scan;
 *  - a key that stays live stays in its slot of its chain (a replacement
 *    stores into the same slot, and so does the tombstone of a delete;
 *    only a delete without tombstone, or expiry, frees it), and a
 *    move leaves the old chain frozen with every entry it held, so the
 *    chain read (without lock, acquire loads, like a reader) sees some
 *    entry of the key whether or not a move or a write runs meanwhile.
 *  - Entries inserted or deleted during the scan may or may not be seen;
 *    an entry may be seen twice (e.g. read in an old chain, and again in a
 *    new one through a later, finer cursor).
 *
 * fn runs with no lock held: a chain is read in batches of entry pointers,
 * then fn is called for each. The pointers stay valid because the caller
 * stays online (QSBR) for the whole call: fn must not report a quiescent
 * state. fn may write to the cache (its writes may move buckets; they do
 * not disturb the batch, which holds entries, not slots).
 */
#include "cache_internal.h"

#define SCAN_BATCH 32u

struct scan_ctx {
	weft_cache_scan_fn fn;
	void *arg;
	uint64_t now;
};

static uint64_t rev64(uint64_t v)
{
	v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
	v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
	v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
	return __builtin_bswap64(v);
}

static const struct weft_cache_bucket *chain_next(const struct weft_cache_bucket *b)
{
	return weft_cache_bucket_next(
		atomic_load_explicit(&((struct weft_cache_bucket *)b)->hdr, memory_order_acquire));
}

/* Reads the chain at head in batches of unexpired entries (tombstones
 * included) and calls fn for each. */
static void visit_chain(const struct weft_cache_bucket *head, const struct scan_ctx *x)
{
	const struct weft_cache_bucket *b = head;
	unsigned s = 0;
	while (b != NULL) {
		const struct weft_cache_entry *batch[SCAN_BATCH];
		unsigned n = 0;
		while (b != NULL && n < SCAN_BATCH) {
			uint64_t v = atomic_load_explicit(&((struct weft_cache_bucket *)b)->slot[s],
							  memory_order_acquire);
			if (v != 0 && !weft_cache_entry_expired(weft_cache_slot_entry(v), x->now))
				batch[n++] = weft_cache_slot_entry(v);
			if (++s == WEFT_CACHE_SLOTS) {
				b = chain_next(b);
				s = 0;
			}
		}
		for (unsigned i = 0; i < n; i++) {
			const struct weft_cache_entry *e = batch[i];
			struct weft_cache_key k = {e->data, e->klen, e->hash};
			struct weft_cache_image img;
			weft_cache_entry_image(e, x->now, &img);
			x->fn(x->arg, &k, &img);
		}
	}
}

/* Visits hash class idx of table t: its bucket, or the buckets it was
 * split into if it has been moved. */
static void visit_class(const struct weft_cache_table *t, uint64_t idx, const struct scan_ctx *x)
{
	const struct weft_cache_bucket *b = &t->buckets[idx];
	if (atomic_load_explicit(&((struct weft_cache_bucket *)b)->hdr, memory_order_acquire) &
	    WEFT_BKT_MOVED) {
		const struct weft_cache_table *nt = atomic_load_explicit(
			&((struct weft_cache_table *)t)->next, memory_order_acquire);
		visit_class(nt, idx, x);
		visit_class(nt, idx + t->mask + 1, x);
		return;
	}
	visit_chain(b, x);
}

uint64_t weft_cache_scan(struct weft_cache *c, uint64_t cursor, unsigned max_buckets,
			 uint64_t now_ms, weft_cache_scan_fn fn, void *arg)
{
	if (fn == NULL)
		return 0;
	struct scan_ctx x = {fn, arg, now_ms};
	bool on = weft_cache_enter();
	const struct weft_cache_table *t = atomic_load_explicit(&c->table, memory_order_acquire);
	uint64_t v = cursor & t->mask; /* a cursor from a smaller table is below its size */
	unsigned steps = max_buckets ? max_buckets : 1;
	do {
		visit_class(t, v, &x);
		v = rev64(rev64(v | ~t->mask) + 1);
	} while (v != 0 && --steps > 0);
	weft_cache_leave(on);
	return v;
}
