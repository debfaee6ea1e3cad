/*
 * cache internals: the index layout, entries and per-thread counters shared
 * by the files of cache/. Nothing outside cache/ may include this header,
 * except its unit tests (which need weft_cache_create for tiny tables and
 * look at the index to check overflow and resize).
 *
 * Index layout (one table; see index.c for the resize algorithm):
 *
 *   struct weft_cache_bucket (64 bytes, one cache line)
 *     hdr      = overflow-bucket pointer | MOVED | LOCK   (pointer is 64-aligned,
 *                so its 6 low bits are free for the flags)
 *     slot[7]  = tag (16 high bits) | entry pointer (48 low bits), 0 = empty
 *
 * One XXH3-64 hash per key: bucket = hash & mask (low bits), tag = hash >> 48
 * (high bits), so growing the table by doubling splits bucket i into i and
 * i + n by the next hash bit and never changes a tag.
 *
 * Invariants:
 *  - A key occupies at most one slot in a table's bucket chain (head bucket +
 *    overflow buckets); all writers of the chain hold the head's LOCK bit.
 *  - Only LOCK holders store to slots or links; readers use acquire loads.
 *  - An entry is immutable once its slot is published (release store),
 *    except atime (relaxed atomic). A replaced or removed entry is retired
 *    with urcu_qsbr_call_rcu and freed after a grace period.
 *  - Overflow buckets live as long as their table; a table is freed only
 *    after a grace period (index.c).
 *  - bytes / entries never exceed max_bytes / max_entries: every growth is
 *    charged with a bounded compare-and-swap before its slot is published.
 *  - A tombstone (WEFT_ENTRY_TOMBSTONE) is an entry like the others (a
 *    slot, key, version, expire_at = delete + WEFT_CACHE_TOMBSTONE_MS, no
 *    value) charged in bytes but counted in tombstones, not entries. Its
 *    flag is read only after the key compare matched, so readers of other
 *    keys and misses pay nothing for it.
 */
#ifndef WEFT_CACHE_INTERNAL_H
#define WEFT_CACHE_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <urcu/urcu-qsbr.h>

#include <weft/wire.h>

#include "cache.h"

#define WEFT_CACHE_LINE 64
#define WEFT_CACHE_SLOTS 7            /* slots per bucket */
#define WEFT_CACHE_MAX_KEY 250
#define WEFT_CACHE_MAX_VALUE (1u << 20)
#define WEFT_CACHE_NAME_MAX 64
_Static_assert(WEFT_CACHE_MAX_KEY == WEFT_MAX_KEY_LEN, "key limit as on the wire");
_Static_assert(WEFT_CACHE_MAX_VALUE == WEFT_MAX_VALUE_LEN, "value limit as on the wire");
_Static_assert(WEFT_CACHE_NAME_MAX == WEFT_MAX_NAME_LEN, "name limit as on the wire");
#define WEFT_CACHE_DEFAULT_MAX_BYTES (256ull << 20)
#define WEFT_CACHE_DEFAULT_BUCKETS 1024u /* initial table of a new cache */
#define WEFT_CACHE_MAX_BUCKETS (1ull << 30)
#define WEFT_CACHE_GROW_LOAD 3u       /* grow when entries > 3 * buckets (43% of slots: few overflow chains) */
#define WEFT_CACHE_STAT_SLOTS 128u    /* per-thread counter slots (power of two) */
#define WEFT_CACHE_ATIME_GRAIN_MS 8u  /* LRU atime precision for entries without max-idle */
#define WEFT_CACHE_EVICT_SAMPLE 16u   /* candidates compared per eviction */
#define WEFT_CACHE_EVICT_BUCKETS 32u  /* buckets sampled at most per eviction */
#define WEFT_CACHE_WRITE_TRIES 64u    /* evict-and-retry rounds before -ENOMEM */

#define WEFT_BKT_LOCK 1ull
#define WEFT_BKT_MOVED 2ull
#define WEFT_BKT_FLAGS 63ull
#define WEFT_SLOT_PTR_MASK ((1ull << 48) - 1)

#if defined(__GNUC__)
#define weft_likely(x) __builtin_expect(!!(x), 1)
#define weft_unlikely(x) __builtin_expect(!!(x), 0)
#else
#define weft_likely(x) (x)
#define weft_unlikely(x) (x)
#endif

struct weft_cache_bucket {
	_Atomic uint64_t hdr;
	_Atomic uint64_t slot[WEFT_CACHE_SLOTS];
} __attribute__((aligned(WEFT_CACHE_LINE)));

_Static_assert(sizeof(struct weft_cache_bucket) == WEFT_CACHE_LINE, "bucket is one line");

/* An immutable cache entry: header, then key bytes, then value bytes, then
 * (8-aligned) its retirement tail. The compare-relevant header and a short
 * key share the first cache line. */
struct weft_cache_entry {
	uint64_t hash;
	uint64_t version;
	uint64_t expire_at;       /* absolute ms; UINT64_MAX = no TTL */
	uint64_t max_idle;        /* ms; UINT64_MAX = no idle expiry */
	_Atomic uint64_t atime;   /* last access, ms (relaxed; readers update it) */
	uint32_t vlen;
	uint16_t klen;
	uint16_t flags;           /* WEFT_ENTRY_* */
	uint8_t data[];           /* key[klen] value[vlen] */
};

#define WEFT_ENTRY_TOMBSTONE 1u /* a deleted key: vlen 0, never read as live */

/* 48 bytes of header: a key of up to 16 bytes shares the entry's first line.
 * The accounted size ("charge") is malloc_usable_size() of the allocation. */
_Static_assert(__builtin_offsetof(struct weft_cache_entry, data) == 48, "entry header");

/* Retirement tail placed after the payload: call_rcu needs a head, and the
 * head's callback must find the allocation. */
struct weft_cache_entry_tail {
	struct rcu_head rcu;
	struct weft_cache_entry *e;
};

struct weft_cache_table {
	uint64_t mask;                                /* nbuckets - 1 */
	struct weft_cache_bucket *buckets;
	_Atomic(struct weft_cache_table *) next;      /* new table while growing */
	_Atomic uint64_t moved;                       /* buckets moved to next */
	uint64_t move_cursor;                         /* maintenance thread only */
	struct rcu_head rcu;
};

/* Per-thread counters: one cache line per slot, written only by the thread
 * owning the slot (relaxed load + store, no lock prefix), summed by readers. */
struct weft_cache_tstats {
	_Atomic uint64_t hits, misses, puts, deletes, evictions, expirations;
} __attribute__((aligned(WEFT_CACHE_LINE)));

struct weft_cache {
	_Atomic(struct weft_cache_table *) table;
	struct weft_cache_opts opts;                  /* effective (defaults resolved) */
	char name[WEFT_CACHE_NAME_MAX + 1];
	size_t name_len;

	/* write-path shared words, apart from the read-mostly fields above */
	_Alignas(WEFT_CACHE_LINE) _Atomic uint64_t version; /* last handed out; replicated
	                                                       writes raise it to theirs */
	_Alignas(WEFT_CACHE_LINE) _Atomic uint64_t bytes;
	_Atomic uint64_t entries;
	_Atomic uint64_t tombstones;                  /* not bounded: bytes bounds them */

	_Atomic bool may_expire;                      /* set once an entry with TTL/idle is written */

	/* maintenance thread only */
	_Alignas(WEFT_CACHE_LINE) uint64_t expire_cursor;
	_Atomic uint64_t resizes;

	struct weft_cache_tstats tstats[WEFT_CACHE_STAT_SLOTS];
};

/* --- small inline helpers --------------------------------------------- */

static inline uint16_t weft_cache_tag(uint64_t hash) { return (uint16_t)(hash >> 48); }

static inline uint64_t weft_cache_slot_pack(uint16_t tag, const struct weft_cache_entry *e)
{
	return ((uint64_t)tag << 48) | ((uintptr_t)e & WEFT_SLOT_PTR_MASK);
}

static inline struct weft_cache_entry *weft_cache_slot_entry(uint64_t v)
{
	return (struct weft_cache_entry *)(uintptr_t)(v & WEFT_SLOT_PTR_MASK);
}

static inline struct weft_cache_bucket *weft_cache_bucket_next(uint64_t hdr)
{
	return (struct weft_cache_bucket *)(uintptr_t)(hdr & ~WEFT_BKT_FLAGS);
}

static inline const uint8_t *weft_cache_entry_key(const struct weft_cache_entry *e)
{
	return e->data;
}

static inline const uint8_t *weft_cache_entry_value(const struct weft_cache_entry *e)
{
	return e->data + e->klen;
}

static inline bool weft_cache_entry_is_tomb(const struct weft_cache_entry *e)
{
	return (e->flags & WEFT_ENTRY_TOMBSTONE) != 0;
}

static inline bool weft_cache_entry_expired(const struct weft_cache_entry *e, uint64_t now)
{
	if (now >= e->expire_at)
		return true;
	if (e->max_idle != UINT64_MAX) {
		uint64_t at = atomic_load_explicit(&e->atime, memory_order_relaxed);
		if (now > at && now - at >= e->max_idle)
			return true;
	}
	return false;
}

/* Key equality without a library call: keys are short and this runs once
 * per looked-up key. */
static inline bool weft_cache_key_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint64_t x, y, diff = 0;
	for (; len >= 8; len -= 8, a += 8, b += 8) {
		__builtin_memcpy(&x, a, 8);
		__builtin_memcpy(&y, b, 8);
		diff |= x ^ y;
	}
	for (; len > 0; len--)
		diff |= (uint64_t)(*a++ ^ *b++);
	return diff == 0;
}

static inline bool weft_cache_entry_matches(const struct weft_cache_entry *e,
					    const struct weft_cache_key *k)
{
	return e->hash == k->hash && e->klen == k->len &&
	       weft_cache_key_eq(e->data, (const uint8_t *)k->data, k->len);
}

/* A key argument of the public API: -EINVAL (empty, NULL) or -E2BIG. */
static inline int weft_cache_check_key(const struct weft_cache_key *k)
{
	if (k == NULL || k->len == 0 || k->data == NULL)
		return -EINVAL;
	if (k->len > WEFT_CACHE_MAX_KEY)
		return -E2BIG;
	return 0;
}

/* The image of an entry at now (peek, scan): remaining TTL from its
 * absolute expiry, max-idle as stored (0 = none), value in place; for a
 * tombstone deleted and no value. */
static inline void weft_cache_entry_image(const struct weft_cache_entry *e, uint64_t now,
					  struct weft_cache_image *out)
{
	out->deleted = weft_cache_entry_is_tomb(e);
	out->value = out->deleted ? NULL : weft_cache_entry_value(e);
	out->value_len = e->vlen;
	out->version = e->version;
	out->ttl_ms = e->expire_at == UINT64_MAX ? WEFT_CACHE_NO_EXPIRY
		      : e->expire_at > now      ? e->expire_at - now
						: 0;
	out->max_idle_ms = e->max_idle == UINT64_MAX ? 0 : e->max_idle;
}

/* Raises the cache's version counter to at least v (replicated writes keep
 * their version; later local writes must be newer). Write path only. */
static inline void weft_cache_version_raise(struct weft_cache *c, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(&c->version, memory_order_relaxed);
	while (cur < v && !atomic_compare_exchange_weak_explicit(&c->version, &cur, v,
								 memory_order_relaxed,
								 memory_order_relaxed))
		;
}

/* Per-thread counter slot of the calling thread. */
extern __thread unsigned weft_cache_tls_slot;
unsigned weft_cache_tstats_slot_assign(void);

static inline struct weft_cache_tstats *weft_cache_my_stats(struct weft_cache *c)
{
	unsigned s = weft_cache_tls_slot;
	if (weft_unlikely(s == 0))
		s = weft_cache_tstats_slot_assign();
	return &c->tstats[(s - 1) & (WEFT_CACHE_STAT_SLOTS - 1)];
}

static inline void weft_cache_count(_Atomic uint64_t *ctr, uint64_t n)
{
	atomic_store_explicit(ctr, atomic_load_explicit(ctr, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* Thread-local xorshift for eviction sampling (deterministic per thread). */
uint64_t weft_cache_rand(void);

/* --- cache.c ---------------------------------------------------------- */

/* Creates a standalone cache with an initial table of initial_buckets
 * (rounded up to a power of two; 0 = default). Used by the registry and by
 * tests that need a tiny table. NULL + errno. */
struct weft_cache *weft_cache_create(const char *name, size_t name_len,
				     const struct weft_cache_opts *opts, uint64_t initial_buckets);
/* Whether opts (NULL = defaults) can create a cache: mode 0..4. */
static inline bool weft_cache_opts_valid(const struct weft_cache_opts *opts)
{
	return opts == NULL || opts->mode <= WEFT_CACHE_MODE_INVALIDATED;
}
/* Frees the cache, its tables and every entry. No thread may use it. */
void weft_cache_destroy(struct weft_cache *c);

/* Ensures the caller is online for the duration of a write / maintenance
 * call: returns true if it had to go online (caller then goes offline). */
static inline bool weft_cache_enter(void)
{
	if (urcu_qsbr_read_ongoing())
		return false;
	urcu_qsbr_thread_online();
	return true;
}

static inline void weft_cache_leave(bool went_online)
{
	if (went_online)
		urcu_qsbr_thread_offline();
}

/* --- index.c (bucket chains, locking, resize) ------------------------- */

struct weft_cache_table *weft_cache_table_new(uint64_t nbuckets, bool zero);
/* Frees a table no thread can reach (its overflow buckets too, not entries). */
void weft_cache_table_free(struct weft_cache_table *t);
/* Retires a table: freed after a grace period (maintenance thread). */
void weft_cache_table_retire(struct weft_cache_table *t);

void weft_cache_bucket_lock(struct weft_cache_bucket *b);
void weft_cache_bucket_unlock(struct weft_cache_bucket *b);

/* Locks and returns the head bucket that currently owns hash: follows moved
 * buckets into newer tables and first moves a not-yet-moved bucket of a
 * growing table (so writers drive the resize too). */
struct weft_cache_bucket *weft_cache_lock_key(struct weft_cache *c, uint64_t hash, uint64_t now);

/* Inserts slot value v into the first free slot of the locked chain at head,
 * appending an overflow bucket when full. 0 or -ENOMEM. */
int weft_cache_chain_insert(struct weft_cache_bucket *head, uint64_t v);
/* Whether every slot of the locked chain at head is taken. */
bool weft_cache_chain_full(const struct weft_cache_bucket *head);

/* Moves old bucket idx of t to t->next. Caller holds idx's LOCK and it is
 * not MOVED. Expired entries are reclaimed instead of moved. Returns how
 * many were reclaimed, or -ENOMEM (bucket left unmoved and intact). */
int weft_cache_bucket_move(struct weft_cache *c, struct weft_cache_table *t, uint64_t idx,
			   uint64_t now);

/* One bounded resize step (maintenance thread): starts a growth when the
 * load passes WEFT_CACHE_GROW_LOAD, moves up to *budget buckets, publishes
 * the new table and retires the old one when all are moved. Returns the
 * number of expired entries reclaimed on the way. */
unsigned weft_cache_resize_step(struct weft_cache *c, uint64_t now, unsigned *budget);

/* --- entries (entry.c) ------------------------------------------------ */

/* Allocates an unpublished entry (atime = now, flags 0). NULL if out of
 * memory. */
struct weft_cache_entry *weft_cache_entry_new(const struct weft_cache_key *k, const void *value,
					      uint32_t vlen, uint64_t expire_at, uint64_t max_idle,
					      uint64_t now);
/* Allocates an unpublished tombstone of key with version, expiring
 * WEFT_CACHE_TOMBSTONE_MS after now. NULL if out of memory. */
struct weft_cache_entry *weft_cache_tomb_new(const struct weft_cache_key *k, uint64_t version,
					     uint64_t now);
/* Accounted size of an entry. */
uint64_t weft_cache_entry_charge(const struct weft_cache_entry *e);
/* Frees an entry no reader can see any more (never published, or teardown). */
void weft_cache_entry_free(struct weft_cache_entry *e);
/* Frees an unlinked entry after a grace period (urcu_qsbr_call_rcu). */
void weft_cache_entry_retire(struct weft_cache_entry *e);

/* Charges a growth of dbytes / dentries against the bounds: false (nothing
 * charged) if it would pass max_bytes or max_entries. Shrinks always pass. */
bool weft_cache_charge(struct weft_cache *c, int64_t dbytes, int64_t dentries);

/* Charges the swap of old (or NULL) for ne in one slot: bytes, live entries
 * and tombstones. false (nothing charged) if a bound would be passed. */
bool weft_cache_charge_swap(struct weft_cache *c, const struct weft_cache_entry *old,
			    const struct weft_cache_entry *ne);

/* Uncharges and retires an entry just taken out of the index, counting it
 * as an expiration or an eviction (or neither; tombstones never count). */
enum weft_cache_unlink_why { WEFT_UNLINK_DELETE, WEFT_UNLINK_EXPIRE, WEFT_UNLINK_EVICT };
void weft_cache_drop(struct weft_cache *c, struct weft_cache_entry *e,
		     enum weft_cache_unlink_why why);

/* Unlinks the entry in *slot of a locked chain: clears the slot, then
 * weft_cache_drop. */
void weft_cache_unlink(struct weft_cache *c, _Atomic uint64_t *slot, struct weft_cache_entry *e,
		       enum weft_cache_unlink_why why);

/* Removes every expired entry of a locked chain; returns how many. */
unsigned weft_cache_chain_reclaim_expired(struct weft_cache *c, struct weft_cache_bucket *head,
					  uint64_t now);

/* --- evict.c ---------------------------------------------------------- */

/* Evicts one entry by sampled LRU (a tombstone or an expired entry if met).
 * True if one went. Caller holds no bucket lock. */
bool weft_cache_evict_one(struct weft_cache *c, uint64_t now);

#endif /* WEFT_CACHE_INTERNAL_H */
