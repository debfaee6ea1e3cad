/*
 * cache/index.c — the bucketized index: tables, bucket locks, chains and
 * incremental resize.
 *
 * Resize (linear split by doubling, never blocking readers):
 *  1. The maintenance thread sees entries + tombstones (both take slots) >
 *     WEFT_CACHE_GROW_LOAD * buckets, allocates a table of twice the
 *     buckets (left uninitialised: a new bucket is written only when its
 *     source is moved) and publishes it as old->next. c->table still
 *     points to the old table.
 *  2. Old bucket i is moved under its LOCK: its unexpired entries and
 *     tombstones go to new
 *     buckets i and i + n (by hash bit n; tags do not change), which the
 *     mover initialises, then MOVED is set on old bucket i (release) and the
 *     LOCK dropped. Writers that lock an unmoved bucket of a growing table
 *     move it first; maintenance moves the rest, a bounded number per call.
 *  3. When every old bucket is MOVED, maintenance publishes the new table
 *     in c->table and retires the old one with call_rcu: its memory (and its
 *     overflow buckets) is freed after a grace period.
 *
 * Invariants:
 *  - New buckets i and i + n are reachable only through old bucket i's
 *    MOVED bit (or, after step 3, c->table), so they are complete before any
 *    thread can see them.
 *  - A MOVED bucket is frozen: nobody writes its slots again. A reader that
 *    read an old bucket's header before MOVED sees the state the key had at
 *    the move, which is a state it had during the read.
 *  - Readers and writers that meet MOVED follow t->next; a table keeps its
 *    next pointer until it is freed, so a stale table pointer (held within
 *    one read-side section) still leads to the live bucket.
 *  - At most one growth is in progress per cache (step 1 only starts when
 *    c->table has no next), and only the maintenance thread does steps 1
 *    and 3 and calls call_rcu on tables.
 *  - Overflow buckets are appended under the head's LOCK (link published
 *    with a release store after their slots) and never unlinked while their
 *    table lives.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <jemalloc/jemalloc.h>

#include "cache_internal.h"

#define HUGE_PAGE (2u << 20)

struct weft_cache_table *weft_cache_table_new(uint64_t nbuckets, bool zero)
{
	struct weft_cache_table *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	size_t sz = nbuckets * sizeof(struct weft_cache_bucket);
	/* Big tables are read at random: back them with transparent huge pages
	 * where the kernel allows it, so lookups do not miss the TLB. */
	t->buckets = aligned_alloc(sz >= HUGE_PAGE ? HUGE_PAGE : WEFT_CACHE_LINE, sz);
	if (t->buckets == NULL) {
		free(t);
		return NULL;
	}
	if (sz >= HUGE_PAGE)
		(void)madvise(t->buckets, sz, MADV_HUGEPAGE); /* advice only */
	if (zero)
		memset(t->buckets, 0, nbuckets * sizeof(struct weft_cache_bucket));
	t->mask = nbuckets - 1;
	return t;
}

void weft_cache_table_free(struct weft_cache_table *t)
{
	for (uint64_t i = 0; i <= t->mask; i++) {
		uint64_t hdr = atomic_load_explicit(&t->buckets[i].hdr, memory_order_relaxed);
		struct weft_cache_bucket *ov = weft_cache_bucket_next(hdr);
		while (ov != NULL) {
			struct weft_cache_bucket *nx = weft_cache_bucket_next(
				atomic_load_explicit(&ov->hdr, memory_order_relaxed));
			free(ov);
			ov = nx;
		}
	}
	free(t->buckets);
	free(t);
}

static void table_free_cb(struct rcu_head *head)
{
	weft_cache_table_free(caa_container_of(head, struct weft_cache_table, rcu));
}

void weft_cache_table_retire(struct weft_cache_table *t)
{
	urcu_qsbr_call_rcu(&t->rcu, table_free_cb);
}

void weft_cache_bucket_lock(struct weft_cache_bucket *b)
{
	for (;;) {
		uint64_t h = atomic_load_explicit(&b->hdr, memory_order_relaxed);
		if (!(h & WEFT_BKT_LOCK) &&
		    atomic_compare_exchange_weak_explicit(&b->hdr, &h, h | WEFT_BKT_LOCK,
							  memory_order_acquire, memory_order_relaxed))
			return;
		caa_cpu_relax();
	}
}

void weft_cache_bucket_unlock(struct weft_cache_bucket *b)
{
	atomic_fetch_and_explicit(&b->hdr, ~WEFT_BKT_LOCK, memory_order_release);
}

struct weft_cache_bucket *weft_cache_lock_key(struct weft_cache *c, uint64_t hash, uint64_t now)
{
	struct weft_cache_table *t = atomic_load_explicit(&c->table, memory_order_acquire);
	for (;;) {
		uint64_t idx = hash & t->mask;
		struct weft_cache_bucket *b = &t->buckets[idx];
		if (atomic_load_explicit(&b->hdr, memory_order_acquire) & WEFT_BKT_MOVED) {
			t = atomic_load_explicit(&t->next, memory_order_acquire);
			continue;
		}
		weft_cache_bucket_lock(b);
		if (atomic_load_explicit(&b->hdr, memory_order_relaxed) & WEFT_BKT_MOVED) {
			weft_cache_bucket_unlock(b);
			t = atomic_load_explicit(&t->next, memory_order_acquire);
			continue;
		}
		struct weft_cache_table *nt = atomic_load_explicit(&t->next, memory_order_acquire);
		if (nt != NULL && weft_cache_bucket_move(c, t, idx, now) >= 0) {
			weft_cache_bucket_unlock(b);
			t = nt;
			continue;
		}
		/* Not growing, or the move lacked memory: the old bucket stays
		 * authoritative until a later move succeeds. */
		return b;
	}
}

static struct weft_cache_bucket *bucket_alloc(void)
{
	struct weft_cache_bucket *b = aligned_alloc(WEFT_CACHE_LINE, sizeof(*b));
	if (b != NULL)
		memset(b, 0, sizeof(*b));
	return b;
}

int weft_cache_chain_insert(struct weft_cache_bucket *head, uint64_t v)
{
	struct weft_cache_bucket *b = head, *last = head;
	for (; b != NULL; b = weft_cache_bucket_next(atomic_load_explicit(&b->hdr,
									  memory_order_relaxed))) {
		for (unsigned s = 0; s < WEFT_CACHE_SLOTS; s++) {
			if (atomic_load_explicit(&b->slot[s], memory_order_relaxed) == 0) {
				atomic_store_explicit(&b->slot[s], v, memory_order_release);
				return 0;
			}
		}
		last = b;
	}
	struct weft_cache_bucket *ov = bucket_alloc();
	if (ov == NULL)
		return -ENOMEM;
	atomic_store_explicit(&ov->slot[0], v, memory_order_relaxed);
	/* last's link is empty; its flag bits (LOCK on the head) are kept. */
	atomic_fetch_or_explicit(&last->hdr, (uint64_t)(uintptr_t)ov, memory_order_release);
	return 0;
}

bool weft_cache_chain_full(const struct weft_cache_bucket *head)
{
	for (const struct weft_cache_bucket *b = head; b != NULL;
	     b = weft_cache_bucket_next(atomic_load_explicit(&((struct weft_cache_bucket *)b)->hdr,
							     memory_order_relaxed)))
		for (unsigned s = 0; s < WEFT_CACHE_SLOTS; s++)
			if (atomic_load_explicit(&((struct weft_cache_bucket *)b)->slot[s],
						 memory_order_relaxed) == 0)
				return false;
	return true;
}

/* A chain being built by a move: the head and preallocated overflow buckets
 * are filled in order. */
struct chain_fill {
	struct weft_cache_bucket *b;
	unsigned s;
};

static void fill_push(struct chain_fill *f, uint64_t v)
{
	if (f->s == WEFT_CACHE_SLOTS) {
		f->b = weft_cache_bucket_next(atomic_load_explicit(&f->b->hdr, memory_order_relaxed));
		f->s = 0;
	}
	atomic_store_explicit(&f->b->slot[f->s++], v, memory_order_relaxed);
}

/* Initialises new head bucket b with an overflow chain able to hold cnt
 * slots. false (b untouched, nothing leaked) if out of memory. */
static bool chain_prepare(struct weft_cache_bucket *b, unsigned cnt)
{
	struct weft_cache_bucket *first = NULL, *prev = NULL;
	for (unsigned have = WEFT_CACHE_SLOTS; have < cnt; have += WEFT_CACHE_SLOTS) {
		struct weft_cache_bucket *ov = bucket_alloc();
		if (ov == NULL) {
			while (first != NULL) {
				struct weft_cache_bucket *nx = weft_cache_bucket_next(
					atomic_load_explicit(&first->hdr, memory_order_relaxed));
				free(first);
				first = nx;
			}
			return false;
		}
		if (prev != NULL)
			atomic_store_explicit(&prev->hdr, (uint64_t)(uintptr_t)ov, memory_order_relaxed);
		else
			first = ov;
		prev = ov;
	}
	memset(b, 0, sizeof(*b));
	atomic_store_explicit(&b->hdr, (uint64_t)(uintptr_t)first, memory_order_relaxed);
	return true;
}

static void chain_unprepare(struct weft_cache_bucket *b)
{
	struct weft_cache_bucket *ov =
		weft_cache_bucket_next(atomic_load_explicit(&b->hdr, memory_order_relaxed));
	while (ov != NULL) {
		struct weft_cache_bucket *nx =
			weft_cache_bucket_next(atomic_load_explicit(&ov->hdr, memory_order_relaxed));
		free(ov);
		ov = nx;
	}
}

int weft_cache_bucket_move(struct weft_cache *c, struct weft_cache_table *t, uint64_t idx,
			   uint64_t now)
{
	struct weft_cache_table *nt = atomic_load_explicit(&t->next, memory_order_acquire);
	uint64_t n = t->mask + 1;
	struct weft_cache_bucket *head = &t->buckets[idx];
	unsigned cnt[2] = {0, 0};

	for (struct weft_cache_bucket *b = head; b != NULL;
	     b = weft_cache_bucket_next(atomic_load_explicit(&b->hdr, memory_order_relaxed)))
		for (unsigned s = 0; s < WEFT_CACHE_SLOTS; s++) {
			uint64_t v = atomic_load_explicit(&b->slot[s], memory_order_relaxed);
			/* Size for every occupied slot, expired or not: readers
			 * refresh max-idle entries without the bucket lock and
			 * with their own (older) clock, so an entry expired now
			 * may be live again in the filling pass below. */
			if (v != 0)
				cnt[(weft_cache_slot_entry(v)->hash & n) != 0]++;
		}

	struct weft_cache_bucket *lo = &nt->buckets[idx], *hi = &nt->buckets[idx + n];
	if (!chain_prepare(lo, cnt[0]))
		return -ENOMEM;
	if (!chain_prepare(hi, cnt[1])) {
		chain_unprepare(lo);
		return -ENOMEM;
	}

	struct chain_fill f[2] = {{lo, 0}, {hi, 0}};
	int reclaimed = 0;
	for (struct weft_cache_bucket *b = head; b != NULL;
	     b = weft_cache_bucket_next(atomic_load_explicit(&b->hdr, memory_order_relaxed)))
		for (unsigned s = 0; s < WEFT_CACHE_SLOTS; s++) {
			uint64_t v = atomic_load_explicit(&b->slot[s], memory_order_relaxed);
			if (v == 0)
				continue;
			struct weft_cache_entry *e = weft_cache_slot_entry(v);
			if (weft_cache_entry_expired(e, now)) {
				/* The old slot is frozen after MOVED: leave it, readers
				 * that still see it find the entry expired. */
				weft_cache_drop(c, e, WEFT_UNLINK_EXPIRE);
				reclaimed++;
				continue;
			}
			fill_push(&f[(e->hash & n) != 0], v);
		}
	atomic_fetch_or_explicit(&head->hdr, WEFT_BKT_MOVED, memory_order_release);
	atomic_fetch_add_explicit(&t->moved, 1, memory_order_acq_rel);
	return reclaimed;
}

unsigned weft_cache_resize_step(struct weft_cache *c, uint64_t now, unsigned *budget)
{
	struct weft_cache_table *t = atomic_load_explicit(&c->table, memory_order_acquire);
	struct weft_cache_table *nt = atomic_load_explicit(&t->next, memory_order_acquire);
	uint64_t n = t->mask + 1;
	unsigned reclaimed = 0;

	if (nt == NULL) {
		/* tombstones take slots too */
		uint64_t entries = atomic_load_explicit(&c->entries, memory_order_relaxed) +
				   atomic_load_explicit(&c->tombstones, memory_order_relaxed);
		if (entries <= WEFT_CACHE_GROW_LOAD * n || 2 * n > WEFT_CACHE_MAX_BUCKETS)
			return 0;
		nt = weft_cache_table_new(2 * n, false);
		if (nt == NULL)
			return 0; /* retried at the next step */
		t->move_cursor = 0;
		atomic_store_explicit(&t->next, nt, memory_order_release);
		atomic_fetch_add_explicit(&c->resizes, 1, memory_order_relaxed);
	}
	while (*budget > 0 && t->move_cursor < n) {
		struct weft_cache_bucket *b = &t->buckets[t->move_cursor];
		if (!(atomic_load_explicit(&b->hdr, memory_order_acquire) & WEFT_BKT_MOVED)) {
			weft_cache_bucket_lock(b);
			int rc = 0;
			if (!(atomic_load_explicit(&b->hdr, memory_order_relaxed) & WEFT_BKT_MOVED))
				rc = weft_cache_bucket_move(c, t, t->move_cursor, now);
			weft_cache_bucket_unlock(b);
			if (rc < 0)
				return reclaimed; /* out of memory: retry this bucket later */
			reclaimed += (unsigned)rc;
		}
		t->move_cursor++;
		(*budget)--;
	}
	if (atomic_load_explicit(&t->moved, memory_order_acquire) == n) {
		atomic_store_explicit(&c->table, nt, memory_order_release);
		weft_cache_table_retire(t);
	}
	return reclaimed;
}
