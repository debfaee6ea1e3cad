/*
 * cache/entry.c — entry allocation, memory accounting and retirement.
 *
 * Invariants:
 *  - An entry is allocated with jemalloc, filled, and only then published;
 *    after publication it is never written again except its atime.
 *  - An entry's charge is malloc_usable_size() of its allocation (what the
 *    allocator really holds); c->bytes is the sum of the charges of the
 *    entries and tombstones linked in the index, c->entries the count of
 *    live entries, c->tombstones that of tombstones. bytes and entries
 *    change only through weft_cache_charge, whose growths are bounded
 *    compare-and-swaps; tombstones is a plain counter (bytes bounds them).
 *  - An unlinked entry is freed only through urcu_qsbr_call_rcu (a grace
 *    period after it left its slot); call_rcu never waits, so lcores may
 *    retire entries.
 */
#include <errno.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

#include "cache_internal.h"

static size_t tail_offset(uint16_t klen, uint32_t vlen)
{
	size_t off = sizeof(struct weft_cache_entry) + klen + vlen;
	return (off + 7) & ~(size_t)7;
}

struct weft_cache_entry *weft_cache_entry_new(const struct weft_cache_key *k, const void *value,
					      uint32_t vlen, uint64_t expire_at, uint64_t max_idle,
					      uint64_t now)
{
	size_t off = tail_offset(k->len, vlen);
	struct weft_cache_entry *e = malloc(off + sizeof(struct weft_cache_entry_tail));
	if (e == NULL)
		return NULL;
	e->hash = k->hash;
	e->version = 0;
	e->expire_at = expire_at;
	e->max_idle = max_idle;
	atomic_init(&e->atime, now);
	e->vlen = vlen;
	e->klen = k->len;
	e->flags = 0;
	memcpy(e->data, k->data, k->len);
	if (vlen > 0)
		memcpy(e->data + k->len, value, vlen);
	struct weft_cache_entry_tail *tail = (struct weft_cache_entry_tail *)((char *)e + off);
	tail->e = e;
	return e;
}

struct weft_cache_entry *weft_cache_tomb_new(const struct weft_cache_key *k, uint64_t version,
					     uint64_t now)
{
	uint64_t exp = now > UINT64_MAX - WEFT_CACHE_TOMBSTONE_MS ? UINT64_MAX
								    : now + WEFT_CACHE_TOMBSTONE_MS;
	struct weft_cache_entry *e = weft_cache_entry_new(k, NULL, 0, exp, UINT64_MAX, now);
	if (e != NULL) {
		e->version = version;
		e->flags = WEFT_ENTRY_TOMBSTONE;
	}
	return e;
}

uint64_t weft_cache_entry_charge(const struct weft_cache_entry *e)
{
	return malloc_usable_size((void *)e);
}

void weft_cache_entry_free(struct weft_cache_entry *e)
{
	free(e);
}

static void entry_free_cb(struct rcu_head *head)
{
	free(caa_container_of(head, struct weft_cache_entry_tail, rcu)->e);
}

void weft_cache_entry_retire(struct weft_cache_entry *e)
{
	struct weft_cache_entry_tail *tail =
		(struct weft_cache_entry_tail *)((char *)e + tail_offset(e->klen, e->vlen));
	urcu_qsbr_call_rcu(&tail->rcu, entry_free_cb);
}

static bool bounded_add(_Atomic uint64_t *ctr, int64_t d, uint64_t bound)
{
	if (d <= 0) {
		atomic_fetch_sub_explicit(ctr, (uint64_t)-d, memory_order_relaxed);
		return true;
	}
	uint64_t cur = atomic_load_explicit(ctr, memory_order_relaxed);
	do {
		if (cur + (uint64_t)d > bound)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(ctr, &cur, cur + (uint64_t)d,
							memory_order_relaxed, memory_order_relaxed));
	return true;
}

bool weft_cache_charge(struct weft_cache *c, int64_t dbytes, int64_t dentries)
{
	uint64_t max_entries = c->opts.max_entries ? c->opts.max_entries : UINT64_MAX;
	if (!bounded_add(&c->entries, dentries, max_entries))
		return false;
	if (!bounded_add(&c->bytes, dbytes, c->opts.max_bytes)) {
		bounded_add(&c->entries, -dentries, UINT64_MAX);
		return false;
	}
	return true;
}

bool weft_cache_charge_swap(struct weft_cache *c, const struct weft_cache_entry *old,
			    const struct weft_cache_entry *ne)
{
	int64_t dbytes = (int64_t)weft_cache_entry_charge(ne) -
			 (old != NULL ? (int64_t)weft_cache_entry_charge(old) : 0);
	int64_t dlive = (int64_t)!weft_cache_entry_is_tomb(ne) -
			(int64_t)(old != NULL && !weft_cache_entry_is_tomb(old));
	int64_t dtomb = (int64_t)weft_cache_entry_is_tomb(ne) -
			(int64_t)(old != NULL && weft_cache_entry_is_tomb(old));
	if (!weft_cache_charge(c, dbytes, dlive))
		return false;
	if (dtomb != 0)
		atomic_fetch_add_explicit(&c->tombstones, (uint64_t)dtomb, memory_order_relaxed);
	return true;
}

void weft_cache_drop(struct weft_cache *c, struct weft_cache_entry *e,
		     enum weft_cache_unlink_why why)
{
	if (weft_cache_entry_is_tomb(e)) {
		weft_cache_charge(c, -(int64_t)weft_cache_entry_charge(e), 0);
		atomic_fetch_sub_explicit(&c->tombstones, 1, memory_order_relaxed);
	} else {
		weft_cache_charge(c, -(int64_t)weft_cache_entry_charge(e), -1);
		struct weft_cache_tstats *st = weft_cache_my_stats(c);
		if (why == WEFT_UNLINK_EXPIRE)
			weft_cache_count(&st->expirations, 1);
		else if (why == WEFT_UNLINK_EVICT)
			weft_cache_count(&st->evictions, 1);
	}
	weft_cache_entry_retire(e);
}

void weft_cache_unlink(struct weft_cache *c, _Atomic uint64_t *slot, struct weft_cache_entry *e,
		       enum weft_cache_unlink_why why)
{
	atomic_store_explicit(slot, 0, memory_order_release);
	weft_cache_drop(c, e, why);
}

unsigned weft_cache_chain_reclaim_expired(struct weft_cache *c, struct weft_cache_bucket *head,
					  uint64_t now)
{
	unsigned n = 0;
	for (struct weft_cache_bucket *b = head; b != NULL;
	     b = weft_cache_bucket_next(atomic_load_explicit(&b->hdr, memory_order_relaxed)))
		for (unsigned s = 0; s < WEFT_CACHE_SLOTS; s++) {
			uint64_t v = atomic_load_explicit(&b->slot[s], memory_order_relaxed);
			if (v == 0)
				continue;
			struct weft_cache_entry *e = weft_cache_slot_entry(v);
			if (weft_cache_entry_expired(e, now)) {
				weft_cache_unlink(c, &b->slot[s], e, WEFT_UNLINK_EXPIRE);
				n++;
			}
		}
	return n;
}
