/*
 * cache — named in-memory caches: the module's one public header.
 *
 * A cache is a bucketized hash index (cache-line buckets of 16-bit tags and
 * entry pointers, looked up in bursts with staged prefetch) over immutable
 * entries allocated with jemalloc. Readers never lock: they must be online
 * liburcu QSBR readers (urcu_qsbr_register_thread + online), and a value
 * pointer they get stays valid until their next quiescent state. Writers of
 * one key serialize on that key's bucket lock; a replaced or deleted entry is
 * retired with call_rcu and freed after a grace period. There is no global
 * lock on any read or write path.
 *
 * Time is always passed in (now_ms, a monotonic millisecond clock the caller
 * reads once per burst): the module reads no clock, so tests drive expiry
 * with virtual time.
 *
 * Tombstones: a delete that other nodes must order against older writes
 * (weft_cache_apply_delete always; weft_cache_delete in DISTRIBUTED and
 * REPLICATED caches) leaves the key with the delete's version and no value
 * for WEFT_CACHE_TOMBSTONE_MS. A tombstone is invisible to every read and
 * every local write ("absent"), but a replicated write (apply_put /
 * apply_delete) as old or older than it is refused with -ESTALE, and scan
 * reports it (img->deleted) so state transfer sends the delete. Memory
 * pressure evicts tombstones before any live entry.
 *
 * Return-code rule (the project's): constructors return NULL and set errno;
 * int functions return 0 or a negative errno; burst functions return a count.
 * Errors used here: -ENOENT (no live entry), -EEXIST (put-if-absent found
 * one), -ESTALE (CAS or delete_if version mismatch), -EINVAL (bad argument,
 * or INCR on a non-numeric value), -ERANGE (INCR overflow), -E2BIG (key or
 * value too long), -ENOMEM (memory bound reached and eviction freed too
 * little, or allocation failed).
 */
#ifndef WEFT_CACHE_H
#define WEFT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct weft_cache;          /* one named cache */
struct weft_cache_registry; /* name -> cache, lookup-or-create */

#define WEFT_CACHE_NO_EXPIRY UINT64_MAX

/* How long a tombstone outlives its delete (ms of now_ms): an older PUT of
 * the key that arrives later than this (a very late retransmission or
 * state transfer) can store the key again. */
#define WEFT_CACHE_TOMBSTONE_MS 10000u

/* How a cluster keeps a cache's entries (values equal the wire's
 * enum weft_cache_mode_wire). The cache module only stores the mode: the
 * dataplane and the control thread act on it. */
enum weft_cache_mode {
	WEFT_CACHE_MODE_LOCAL = 1,
	WEFT_CACHE_MODE_DISTRIBUTED = 2,
	WEFT_CACHE_MODE_REPLICATED = 3,
	WEFT_CACHE_MODE_INVALIDATED = 4,
};

struct weft_cache_opts {
	uint32_t mode;                /* enum weft_cache_mode; 0 = LOCAL (get_opts returns
	                                 it resolved); above INVALIDATED: EINVAL */
	uint64_t max_bytes;           /* memory bound on entries (key+value+overhead); 0 = default (256 MiB) */
	uint64_t max_entries;         /* 0 = unbounded */
	uint64_t default_ttl_ms;      /* 0 = entries never expire unless a write says so */
	uint64_t default_max_idle_ms; /* 0 = no idle expiry unless a write says so */
};

/* A key with its XXH3-64 hash computed once at ingress (weft_cache_hash). */
struct weft_cache_key {
	const void *data;
	uint16_t len;
	uint64_t hash;
};

/* What a lookup returns for one key. data points into the entry: valid until
 * the calling reader's next quiescent state. */
struct weft_cache_value {
	const uint8_t *data;
	uint32_t len;
	uint64_t version;
};

/* Per-write expiry. ttl_ms / max_idle_ms: 0 = the cache's default,
 * WEFT_CACHE_NO_EXPIRY = never. */
struct weft_cache_write {
	uint64_t ttl_ms;
	uint64_t max_idle_ms;
};

enum weft_cache_put_mode {
	WEFT_CACHE_PUT,           /* insert or overwrite */
	WEFT_CACHE_PUT_IF_ABSENT, /* -EEXIST if a live entry exists */
	WEFT_CACHE_REPLACE,       /* -ENOENT if no live entry exists */
	WEFT_CACHE_CAS,           /* -ESTALE unless the live entry's version == expected_version
	                             (-ENOENT if absent) */
};

struct weft_cache_stats {
	uint64_t entries;        /* live entries (tombstones not included) */
	uint64_t tombstones;     /* deleted keys remembered (see WEFT_CACHE_TOMBSTONE_MS) */
	uint64_t bytes;          /* accounted memory of live entries and tombstones */
	uint64_t max_bytes;
	uint64_t hits, misses;
	uint64_t puts, deletes;
	uint64_t evictions;      /* live entries removed to respect max_bytes / max_entries */
	uint64_t expirations;    /* live entries removed because TTL or max-idle passed
	                            (tombstones reclaimed or evicted count in neither) */
	uint64_t resizes;        /* index growths */
};

/* --- hashing ---------------------------------------------------------- */

/* XXH3-64 of the key: computed once per request at ingress and carried. */
uint64_t weft_cache_hash(const void *key, size_t len);

/* --- registry (any thread) ------------------------------------------- */

/* Creates an empty registry. NULL + errno on failure. */
struct weft_cache_registry *weft_cache_registry_create(void);

/* Frees every cache and the registry. Caller: no reader may still use it
 * (after all lcores stopped). */
void weft_cache_registry_destroy(struct weft_cache_registry *reg);

/* Finds a cache by name. Lock-free; caller is an online QSBR reader.
 * Returns NULL if there is none. */
struct weft_cache *weft_cache_find(struct weft_cache_registry *reg, const char *name,
				   size_t name_len);

/* A registry holds at most this many caches: any client may name a new
 * cache (lookup-or-create), so their number must be bounded. */
#define WEFT_CACHE_MAX_CACHES 1024

/* Lookup-or-create: returns the cache of that name, creating it with opts
 * (NULL = defaults) if it does not exist (an existing cache keeps its
 * options). Names are 1..64 printable ASCII bytes without spaces (they are
 * printed in STATS lines). *created (if not NULL) tells which happened.
 * Callable from lcores (creation takes a registry mutex: rare, off the
 * per-key path). NULL + errno on failure: EINVAL (bad name or opts, such as
 * an unknown mode, also when the cache exists),
 * ENOSPC (WEFT_CACHE_MAX_CACHES caches exist already), ENOMEM. */
struct weft_cache *weft_cache_open(struct weft_cache_registry *reg, const char *name,
				   size_t name_len, const struct weft_cache_opts *opts,
				   bool *created);

/* Calls fn for every cache (for stats and maintenance). Any thread. */
void weft_cache_foreach(struct weft_cache_registry *reg,
			void (*fn)(struct weft_cache *c, void *arg), void *arg);

const char *weft_cache_name(const struct weft_cache *c);
void weft_cache_get_opts(const struct weft_cache *c, struct weft_cache_opts *out);

/* --- reads (online QSBR reader, lock-free) ---------------------------- */

/* Looks up n keys (n <= 64) in stages: bucket prefetch for all, then tag
 * compare, entry prefetch, full-key compare. found[i] says whether out[i] is
 * filled. Expired entries and tombstones are not returned (and are counted
 * as misses).
 * Updates the entries' last-access time (for max-idle and LRU). Returns the
 * number found. */
unsigned weft_cache_get_burst(struct weft_cache *c, const struct weft_cache_key *keys,
			      unsigned n, uint64_t now_ms, struct weft_cache_value *out,
			      bool *found);

/* --- writes (online QSBR reader or any registered thread) ------------- */

/* Stores value under key according to mode. *version_out (if not NULL)
 * receives the new version on success, or the current one on -EEXIST /
 * -ESTALE. expected_version is read only for WEFT_CACHE_CAS. Versions are
 * unique and increasing per cache. A tombstone counts as absent (and is
 * replaced; every local version is above it). */
int weft_cache_put(struct weft_cache *c, const struct weft_cache_key *key, const void *value,
		   uint32_t value_len, enum weft_cache_put_mode mode, uint64_t expected_version,
		   const struct weft_cache_write *w, uint64_t now_ms, uint64_t *version_out);

/* Removes the live entry. -ENOENT if there is none. *version_out (if not
 * NULL) receives, on success, a fresh version drawn under the key's bucket
 * lock: newer than the removed entry and than every earlier write of the
 * key, older than every later one (what a replicated DELETE carries). In a
 * DISTRIBUTED or REPLICATED cache the entry is replaced by a tombstone with
 * that version (in LOCAL and INVALIDATED caches, whose deletes carry no
 * version to other nodes, it just goes); should the tombstone not fit in
 * memory, the key is removed without one. */
int weft_cache_delete(struct weft_cache *c, const struct weft_cache_key *key, uint64_t now_ms,
		      uint64_t *version_out);

/* As weft_cache_delete (the same fresh version and tombstone), but only if
 * the live entry's version is expected_version: a compare-and-delete, for
 * a read-modify-write that decided the removal on the entry it read.
 * -ENOENT if there is no live entry (a tombstone included); -ESTALE if its
 * version differs (nothing changed; *version_out, if not NULL, receives
 * the current version). */
int weft_cache_delete_if(struct weft_cache *c, const struct weft_cache_key *key,
			 uint64_t expected_version, uint64_t now_ms, uint64_t *version_out);

/* Adds delta to the decimal int64 counter stored under key (created as 0 +
 * delta with w's TTL if absent or a tombstone). -EINVAL if the value is not a decimal int64,
 * -ERANGE on overflow. */
int weft_cache_incr(struct weft_cache *c, const struct weft_cache_key *key, int64_t delta,
		    const struct weft_cache_write *w, uint64_t now_ms, int64_t *value_out,
		    uint64_t *version_out);

/* Resets the live entry's expiry as w says (a fresh TTL from now).
 * -ENOENT if there is none (a tombstone included). */
int weft_cache_touch(struct weft_cache *c, const struct weft_cache_key *key,
		     const struct weft_cache_write *w, uint64_t now_ms, uint64_t *version_out);

/* --- replication and state transfer (online QSBR reader) ------------- */

/* An entry as it travels between nodes. value is valid until the reader's
 * next quiescent state when it comes from the cache. */
struct weft_cache_image {
	const uint8_t *value;
	uint32_t value_len;
	uint64_t version;
	uint64_t ttl_ms;      /* remaining lifetime at now_ms; WEFT_CACHE_NO_EXPIRY: none */
	uint64_t max_idle_ms; /* 0: no idle expiry */
	bool deleted;         /* a tombstone (scan only): value NULL, value_len 0,
	                         version the delete's, ttl_ms what is left of it;
	                         false for live entries and for inputs of apply_put */
};

/* Reads the live entry of key without touching its access time (neither
 * max-idle nor LRU see it) and without counting a hit or miss: for
 * replication and state transfer. out->ttl_ms is what is left of the
 * entry's absolute expiry at now_ms; out->deleted is false. -ENOENT if none
 * (a tombstone included); -EINVAL / -E2BIG for a bad key. */
int weft_cache_peek(struct weft_cache *c, const struct weft_cache_key *key, uint64_t now_ms,
		    struct weft_cache_image *out);

/* Whether key holds a tombstone (deleted less than WEFT_CACHE_TOMBSTONE_MS
 * ago). The dataplane does not read such a key through to the segment's
 * old owner, which may still hold the value deleted here. */
bool weft_cache_is_deleted(struct weft_cache *c, const struct weft_cache_key *key,
			   uint64_t now_ms);

/* Stores img under key iff there is no live entry or tombstone, or its
 * version is older than img->version; the entry keeps img->version (not a
 * new one), and replaces the tombstone if there was one. img->deleted is
 * ignored (a deleted image is applied with weft_cache_apply_delete). Raises the cache's version counter to img->version (whatever
 * the outcome), so that every later local write is newer. The entry
 * expires img->ttl_ms after now_ms (0: at once, so it only supersedes an
 * older entry) and after img->max_idle_ms unread, counted from now_ms.
 * Bounds are kept as by a put (eviction); counted as a put. 0 (applied),
 * -ESTALE (the live entry or tombstone is as new or newer: nothing
 * changed), -EINVAL
 * (bad key, img NULL, NULL value with a length), -E2BIG, -ENOMEM. */
int weft_cache_apply_put(struct weft_cache *c, const struct weft_cache_key *key,
			 const struct weft_cache_image *img, uint64_t now_ms);

/* Removes the live entry iff its version is older than version, leaving a
 * tombstone with version for WEFT_CACHE_TOMBSTONE_MS (in every cache mode);
 * with no live entry it leaves (or refreshes, if older) the tombstone all
 * the same, so that an older PUT arriving later is refused. Raises the
 * version counter to version (whatever the outcome). Counted as a delete
 * when a live entry went. 0 (live entry removed), -ESTALE (as new or newer
 * entry or tombstone kept), -ENOENT (no live entry; the tombstone is
 * recorded unless memory for it could not be found), -EINVAL / -E2BIG. */
int weft_cache_apply_delete(struct weft_cache *c, const struct weft_cache_key *key,
			    uint64_t version, uint64_t now_ms);

/* Removes key's live entry or tombstone iff its version is <= version, and
 * leaves no tombstone, whatever the mode: for a node that gave the key's
 * segment away (the new owners hold the key; a tombstone here would refuse
 * the entry should the segment come back within WEFT_CACHE_TOMBSTONE_MS).
 * The version counter is not raised. Counted as a delete when a live entry
 * went. 0, -ESTALE (newer kept), -ENOENT (neither), -EINVAL / -E2BIG. */
int weft_cache_discard(struct weft_cache *c, const struct weft_cache_key *key,
		       uint64_t version, uint64_t now_ms);

/* Raises the cache's version counter to at least floor (never lowers it):
 * every later write gets a version above floor. weftd raises it to the
 * wall clock in ms << 20 every maintenance tick, so versions drawn on
 * different nodes order writes made more than a tick (plus the clocks'
 * skew) apart, whichever node made them (a hybrid logical clock). Any
 * thread. */
void weft_cache_version_floor(struct weft_cache *c, uint64_t floor);

/* Visits live entries and tombstones in bounded steps: at most max_buckets
 * bucket positions per call (0 acts as 1; a position whose bucket a
 * concurrent growth split covers both halves), calling fn for each (key
 * with its hash, image with remaining TTL at now_ms, as peek gives it for
 * a live entry; img->deleted set, no value, for a tombstone: fn must check
 * it).
 * Start with cursor 0; returns the cursor for the next call, 0 when the
 * scan is complete. Every entry (or tombstone) present for the whole scan
 * is visited at least once, across concurrent writes and index resizes; an entry written
 * during the scan may or may not be, and some (e.g. a key deleted and
 * written again) may be visited twice. The cursor stays valid across
 * growths; nothing needs freeing if a scan is abandoned. fn runs with no
 * lock held and may write to the cache (including delete the entry it is
 * given); it must not report a quiescent state. A NULL fn visits nothing
 * and returns 0. Any registered QSBR thread (online for the call). */
typedef void (*weft_cache_scan_fn)(void *arg, const struct weft_cache_key *key,
				   const struct weft_cache_image *img);
uint64_t weft_cache_scan(struct weft_cache *c, uint64_t cursor, unsigned max_buckets,
			 uint64_t now_ms, weft_cache_scan_fn fn, void *arg);

/* --- maintenance (one non-lcore thread, registered QSBR, online) ------ */

/* Reclaims expired entries and tombstones older than WEFT_CACHE_TOMBSTONE_MS
 * and finishes any index resize, in a step bounded by max_buckets buckets
 * visited. Returns the number of entries and tombstones reclaimed.
 * Call it periodically for every cache (weftd does, ~every 10 ms). */
unsigned weft_cache_maintain(struct weft_cache *c, uint64_t now_ms, unsigned max_buckets);

/* Sums the cache's counters (approximate while writers run). Any thread. */
void weft_cache_get_stats(const struct weft_cache *c, struct weft_cache_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_CACHE_H */
