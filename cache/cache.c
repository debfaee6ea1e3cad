/*
 * cache/cache.c — a cache's life cycle, options, hashing and counters.
 *
 * Invariants:
 *  - c->opts holds the effective options (max_bytes resolved to the default,
 *    mode 0 to WEFT_CACHE_MODE_LOCAL) and never changes after creation.
 *  - Each thread owns one counter slot (a thread-local index handed out once
 *    from a global counter); slots are shared modulo WEFT_CACHE_STAT_SLOTS
 *    only past that many threads, which makes the sums approximate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jemalloc/jemalloc.h>
#include <xxhash.h>

#include "cache_internal.h"

__thread unsigned weft_cache_tls_slot;
static _Atomic unsigned next_slot;

unsigned weft_cache_tstats_slot_assign(void)
{
	if (weft_cache_tls_slot == 0)
		weft_cache_tls_slot = atomic_fetch_add_explicit(&next_slot, 1,
								memory_order_relaxed) + 1;
	return weft_cache_tls_slot;
}

uint64_t weft_cache_hash(const void *key, size_t len)
{
	return XXH3_64bits(key, len);
}

struct weft_cache *weft_cache_create(const char *name, size_t name_len,
				     const struct weft_cache_opts *opts, uint64_t initial_buckets)
{
	if (name == NULL || name_len == 0 || name_len > WEFT_CACHE_NAME_MAX ||
	    !weft_cache_opts_valid(opts)) {
		errno = EINVAL;
		return NULL;
	}
	uint64_t nb = initial_buckets ? initial_buckets : WEFT_CACHE_DEFAULT_BUCKETS;
	if (nb > WEFT_CACHE_MAX_BUCKETS) {
		errno = EINVAL;
		return NULL;
	}
	uint64_t p2 = 1;
	while (p2 < nb)
		p2 <<= 1;

	struct weft_cache *c = aligned_alloc(WEFT_CACHE_LINE, sizeof(*c));
	if (c == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	struct weft_cache_table *t = weft_cache_table_new(p2, true);
	if (t == NULL) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&c->table, t);
	if (opts != NULL)
		c->opts = *opts;
	if (c->opts.max_bytes == 0)
		c->opts.max_bytes = WEFT_CACHE_DEFAULT_MAX_BYTES;
	if (c->opts.mode == 0)
		c->opts.mode = WEFT_CACHE_MODE_LOCAL;
	memcpy(c->name, name, name_len);
	c->name[name_len] = '\0';
	c->name_len = name_len;
	return c;
}

static void free_chain_entries(struct weft_cache_bucket *head)
{
	for (struct weft_cache_bucket *b = head; b != NULL;
	     b = weft_cache_bucket_next(atomic_load_explicit(&b->hdr, memory_order_relaxed)))
		for (unsigned s = 0; s < WEFT_CACHE_SLOTS; s++) {
			uint64_t v = atomic_load_explicit(&b->slot[s], memory_order_relaxed);
			if (v != 0)
				weft_cache_entry_free(weft_cache_slot_entry(v));
		}
}

void weft_cache_destroy(struct weft_cache *c)
{
	if (c == NULL)
		return;
	struct weft_cache_table *t = atomic_load_explicit(&c->table, memory_order_relaxed);
	struct weft_cache_table *nt = atomic_load_explicit(&t->next, memory_order_relaxed);
	uint64_t n = t->mask + 1;
	for (uint64_t i = 0; i < n; i++) {
		struct weft_cache_bucket *b = &t->buckets[i];
		if (!(atomic_load_explicit(&b->hdr, memory_order_relaxed) & WEFT_BKT_MOVED)) {
			free_chain_entries(b);
			if (nt != NULL) { /* never initialised: make them empty for table_free */
				memset(&nt->buckets[i], 0, sizeof(*b));
				memset(&nt->buckets[i + n], 0, sizeof(*b));
			}
		} else {
			free_chain_entries(&nt->buckets[i]);
			free_chain_entries(&nt->buckets[i + n]);
		}
	}
	if (nt != NULL)
		weft_cache_table_free(nt);
	weft_cache_table_free(t);
	free(c);
}

const char *weft_cache_name(const struct weft_cache *c)
{
	return c->name;
}

void weft_cache_get_opts(const struct weft_cache *c, struct weft_cache_opts *out)
{
	*out = c->opts;
}

void weft_cache_get_stats(const struct weft_cache *c, struct weft_cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < WEFT_CACHE_STAT_SLOTS; i++) {
		const struct weft_cache_tstats *s = &c->tstats[i];
		out->hits += atomic_load_explicit(&s->hits, memory_order_relaxed);
		out->misses += atomic_load_explicit(&s->misses, memory_order_relaxed);
		out->puts += atomic_load_explicit(&s->puts, memory_order_relaxed);
		out->deletes += atomic_load_explicit(&s->deletes, memory_order_relaxed);
		out->evictions += atomic_load_explicit(&s->evictions, memory_order_relaxed);
		out->expirations += atomic_load_explicit(&s->expirations, memory_order_relaxed);
	}
	out->entries = atomic_load_explicit(&c->entries, memory_order_relaxed);
	out->tombstones = atomic_load_explicit(&c->tombstones, memory_order_relaxed);
	out->bytes = atomic_load_explicit(&c->bytes, memory_order_relaxed);
	out->max_bytes = c->opts.max_bytes;
	out->resizes = atomic_load_explicit(&c->resizes, memory_order_relaxed);
}
