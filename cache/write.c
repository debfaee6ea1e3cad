/*
 * cache/write.c — put (all modes), delete (and its compare-and-delete,
 * delete_if), incr, touch, the replicated writes (apply_put, apply_delete)
 * and discard: one write path.
 *
 * A write locks the key's bucket (weft_cache_lock_key), finds the entry of
 * the key (reclaiming it if it has expired; a new key that finds its chain
 * full first reclaims the chain's expired entries), decides the outcome,
 * builds the replacement entry, charges the size change against the bounds
 * and swaps the slot, all under that one lock; the replaced entry is
 * retired after the unlock. If the charge does not fit, the write unlocks,
 * evicts one entry by sampled LRU and starts again, at most
 * WEFT_CACHE_WRITE_TRIES times, then fails with -ENOMEM.
 *
 * Tombstones: the key's entry may be a tombstone (a remembered delete).
 * Local writes see only the live entry (a tombstone is "absent" to them
 * and their entry replaces it in its slot); replicated writes compare
 * their version with either. A delete that must be ordered against older
 * replicated writes (apply_delete; delete in DISTRIBUTED / REPLICATED
 * caches) stores a tombstone in place of the entry. A tombstone that
 * cannot be allocated or charged is given up, never the delete: the key is
 * then removed as before tombstones existed.
 *
 * Invariants:
 *  - No write holds more than one bucket lock, and eviction runs with none
 *    held, so bucket locks cannot deadlock.
 *  - Versions come from one per-cache counter incremented under the key's
 *    bucket lock: unique per cache and increasing per key in write order.
 *    TOUCH keeps the version (the value did not change). A DELETE draws one
 *    too (returned, for replication), kept by its tombstone if it leaves one.
 *  - A replicated write (APPLY_PUT / APPLY_DELETE) carries its version: it
 *    changes the key only if the live entry or tombstone is older, keeps
 *    that version, and first raises the counter to it (under the same
 *    lock), so every later local write of any key is newer (and replaces a
 *    tombstone legitimately).
 *  - Nothing is published before it is charged: bytes <= max_bytes and
 *    entries <= max_entries at all times.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cache_internal.h"

enum write_op { OP_PUT, OP_DELETE, OP_INCR, OP_TOUCH, OP_APPLY_PUT, OP_APPLY_DELETE, OP_DISCARD };

struct write_req {
	enum write_op op;
	enum weft_cache_put_mode mode;
	uint64_t expected;                  /* OP_PUT CAS; OP_DELETE when if_version */
	bool if_version;                    /* OP_DELETE: only the entry of version expected */
	const void *value;
	uint32_t vlen;
	int64_t delta;
	const struct weft_cache_write *w;
	const struct weft_cache_image *img; /* OP_APPLY_PUT */
	uint64_t apply_version;             /* OP_APPLY_PUT / OP_APPLY_DELETE / OP_DISCARD */
	/* results */
	int64_t incr_value;
	uint64_t version;
	bool live_removed;                  /* a removal took a live entry (not a tombstone) */
};

/* Whether a local DELETE of c must leave a tombstone: in the modes whose
 * deletes travel to other nodes with a version. */
static bool keeps_tombstones(const struct weft_cache *c)
{
	return c->opts.mode == WEFT_CACHE_MODE_DISTRIBUTED ||
	       c->opts.mode == WEFT_CACHE_MODE_REPLICATED;
}

static void resolve_expiry(const struct weft_cache *c, const struct weft_cache_write *w,
			   uint64_t now, uint64_t *expire_at, uint64_t *max_idle)
{
	uint64_t ttl = w != NULL ? w->ttl_ms : 0;
	uint64_t idle = w != NULL ? w->max_idle_ms : 0;
	if (ttl == 0)
		ttl = c->opts.default_ttl_ms ? c->opts.default_ttl_ms : WEFT_CACHE_NO_EXPIRY;
	if (idle == 0)
		idle = c->opts.default_max_idle_ms ? c->opts.default_max_idle_ms
						   : WEFT_CACHE_NO_EXPIRY;
	*expire_at = (ttl == WEFT_CACHE_NO_EXPIRY || now > UINT64_MAX - ttl) ? UINT64_MAX
									  : now + ttl;
	*max_idle = idle;
}

/* Expiry of a replicated image: its remaining TTL from now (0: already
 * expired), max-idle 0 = none. */
static void image_expiry(const struct weft_cache_image *img, uint64_t now, uint64_t *expire_at,
			 uint64_t *max_idle)
{
	uint64_t ttl = img->ttl_ms;
	*expire_at = (ttl == WEFT_CACHE_NO_EXPIRY || now > UINT64_MAX - ttl) ? UINT64_MAX
									     : now + ttl;
	*max_idle = img->max_idle_ms == 0 ? UINT64_MAX : img->max_idle_ms;
}

/* Parses a decimal int64 (optional '-', then digits only). */
static int parse_i64(const uint8_t *p, uint32_t len, int64_t *out)
{
	uint32_t i = 0;
	bool neg = false;
	if (len > 0 && p[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len || len > 20)
		return -EINVAL;
	int64_t v = 0;
	for (; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		int d = p[i] - '0';
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, neg ? -d : d, &v))
			return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Finds the slot holding the key's entry in a locked chain. */
static _Atomic uint64_t *chain_find(struct weft_cache_bucket *head, const struct weft_cache_key *k)
{
	uint16_t tag = weft_cache_tag(k->hash);
	for (struct weft_cache_bucket *b = head; b != NULL;
	     b = weft_cache_bucket_next(atomic_load_explicit(&b->hdr, memory_order_relaxed)))
		for (unsigned s = 0; s < WEFT_CACHE_SLOTS; s++) {
			uint64_t v = atomic_load_explicit(&b->slot[s], memory_order_relaxed);
			if (v != 0 && (uint16_t)(v >> 48) == tag &&
			    weft_cache_entry_matches(weft_cache_slot_entry(v), k))
				return &b->slot[s];
		}
	return NULL;
}

/* Decides the outcome given the key's unexpired entry or tombstone (or
 * NULL) and builds the new entry (*ne: a tombstone for a delete that keeps
 * one; NULL for a removal without). 0 or a negative errno; a removal that
 * returns 0 with *ne NULL unlinks old. */
static int decide(struct weft_cache *c, const struct weft_cache_key *k, struct write_req *r,
		  const struct weft_cache_entry *any, uint64_t now, struct weft_cache_entry **ne)
{
	const struct weft_cache_entry *old =
		any != NULL && !weft_cache_entry_is_tomb(any) ? any : NULL; /* live */
	uint64_t exp, idle;
	*ne = NULL;
	switch (r->op) {
	case OP_PUT:
		if (r->mode == WEFT_CACHE_PUT_IF_ABSENT && old != NULL) {
			r->version = old->version;
			return -EEXIST;
		}
		if ((r->mode == WEFT_CACHE_REPLACE || r->mode == WEFT_CACHE_CAS) && old == NULL)
			return -ENOENT;
		if (r->mode == WEFT_CACHE_CAS && old->version != r->expected) {
			r->version = old->version;
			return -ESTALE;
		}
		resolve_expiry(c, r->w, now, &exp, &idle);
		*ne = weft_cache_entry_new(k, r->value, r->vlen, exp, idle, now);
		break;
	case OP_DELETE:
		if (old == NULL)
			return -ENOENT;
		if (r->if_version && old->version != r->expected) {
			r->version = old->version;
			return -ESTALE;
		}
		r->live_removed = true;
		if (keeps_tombstones(c))
			*ne = weft_cache_tomb_new(k, 0, now); /* version drawn at publication */
		return 0;
	case OP_DISCARD:
		if (any == NULL)
			return -ENOENT;
		if (any->version > r->apply_version) {
			r->version = any->version;
			return -ESTALE;
		}
		r->live_removed = old != NULL;
		return 0;
	case OP_APPLY_DELETE:
	case OP_APPLY_PUT:
		weft_cache_version_raise(c, r->apply_version);
		if (any != NULL && any->version >= r->apply_version) {
			r->version = any->version;
			return -ESTALE;
		}
		if (r->op == OP_APPLY_DELETE) {
			r->live_removed = old != NULL;
			*ne = weft_cache_tomb_new(k, r->apply_version, now);
			return old != NULL ? 0 : -ENOENT;
		}
		image_expiry(r->img, now, &exp, &idle);
		*ne = weft_cache_entry_new(k, r->img->value, r->img->value_len, exp, idle, now);
		if (*ne != NULL)
			(*ne)->version = r->apply_version;
		break;
	case OP_INCR: {
		int64_t v = 0;
		if (old != NULL) {
			int rc = parse_i64(weft_cache_entry_value(old), old->vlen, &v);
			if (rc < 0)
				return rc;
		}
		if (__builtin_add_overflow(v, r->delta, &v))
			return -ERANGE;
		char buf[24];
		int len = snprintf(buf, sizeof(buf), "%" PRId64, v);
		if (old != NULL) {
			exp = old->expire_at;
			idle = old->max_idle;
		} else {
			resolve_expiry(c, r->w, now, &exp, &idle);
		}
		r->incr_value = v;
		*ne = weft_cache_entry_new(k, buf, (uint32_t)len, exp, idle, now);
		break;
	}
	case OP_TOUCH:
		if (old == NULL)
			return -ENOENT;
		resolve_expiry(c, r->w, now, &exp, &idle);
		*ne = weft_cache_entry_new(k, weft_cache_entry_value(old), old->vlen, exp, idle, now);
		if (*ne != NULL)
			(*ne)->version = old->version;
		break;
	}
	return *ne != NULL ? 0 : -ENOMEM;
}

/* Undoes the charge of an entry that was not published after all. */
static void uncharge_new(struct weft_cache *c, const struct weft_cache_entry *ne)
{
	bool tomb = weft_cache_entry_is_tomb(ne);
	weft_cache_charge(c, -(int64_t)weft_cache_entry_charge(ne), tomb ? 0 : -1);
	if (tomb)
		atomic_fetch_sub_explicit(&c->tombstones, 1, memory_order_relaxed);
}

static int do_write(struct weft_cache *c, const struct weft_cache_key *k, struct write_req *r,
		    uint64_t now)
{
	for (unsigned tries = 0;; tries++) {
		struct weft_cache_bucket *head = weft_cache_lock_key(c, k->hash, now);
		_Atomic uint64_t *slot = chain_find(head, k);
		struct weft_cache_entry *old =
			slot ? weft_cache_slot_entry(atomic_load_explicit(slot, memory_order_relaxed))
			     : NULL;
		if (old != NULL && weft_cache_entry_expired(old, now)) {
			weft_cache_unlink(c, slot, old, WEFT_UNLINK_EXPIRE);
			old = NULL;
			slot = NULL;
		}
		struct weft_cache_entry *ne;
		int rc = decide(c, k, r, old, now, &ne);
		if (ne == NULL) {
			if (rc == 0) { /* a removal that leaves no tombstone */
				weft_cache_unlink(c, slot, old, WEFT_UNLINK_DELETE);
				if (r->op == OP_DELETE)
					r->version = atomic_fetch_add_explicit(
						&c->version, 1, memory_order_relaxed) + 1;
			}
			weft_cache_bucket_unlock(head);
			return rc;
		}
		/* A tombstone never makes its delete fail: if it does not fit
		 * (only possible with no entry to replace: a swap for a live
		 * entry shrinks), the delete goes on without it (rc as is). */
		bool tomb = weft_cache_entry_is_tomb(ne);
		if (!weft_cache_charge_swap(c, old, ne)) {
			uint64_t nsz = weft_cache_entry_charge(ne);
			weft_cache_bucket_unlock(head);
			weft_cache_entry_free(ne);
			if (nsz > c->opts.max_bytes || tries + 1 >= WEFT_CACHE_WRITE_TRIES)
				return tomb ? rc : -ENOMEM;
			weft_cache_evict_one(c, now);
			continue;
		}
		if (r->op != OP_TOUCH && r->op != OP_APPLY_PUT && r->op != OP_APPLY_DELETE)
			ne->version = atomic_fetch_add_explicit(&c->version, 1,
								memory_order_relaxed) + 1;
		if ((ne->expire_at != UINT64_MAX || ne->max_idle != UINT64_MAX) &&
		    !atomic_load_explicit(&c->may_expire, memory_order_relaxed))
			atomic_store_explicit(&c->may_expire, true, memory_order_relaxed);
		uint64_t v = weft_cache_slot_pack(weft_cache_tag(k->hash), ne);
		if (old == NULL && weft_cache_chain_full(head))
			/* before growing the chain, drop the expired entries it holds */
			weft_cache_chain_reclaim_expired(c, head, now);
		if (old != NULL) {
			atomic_store_explicit(slot, v, memory_order_release);
		} else if (weft_cache_chain_insert(head, v) < 0) {
			uncharge_new(c, ne);
			weft_cache_bucket_unlock(head);
			weft_cache_entry_free(ne);
			return tomb ? rc : -ENOMEM;
		}
		weft_cache_bucket_unlock(head);
		if (old != NULL)
			weft_cache_entry_retire(old);
		r->version = ne->version;
		return rc;
	}
}

int weft_cache_put(struct weft_cache *c, const struct weft_cache_key *key, const void *value,
		   uint32_t value_len, enum weft_cache_put_mode mode, uint64_t expected_version,
		   const struct weft_cache_write *w, uint64_t now_ms, uint64_t *version_out)
{
	int rc = weft_cache_check_key(key);
	if (rc < 0)
		return rc;
	if (value_len > WEFT_CACHE_MAX_VALUE)
		return -E2BIG;
	if ((value == NULL && value_len > 0) || (unsigned)mode > WEFT_CACHE_CAS)
		return -EINVAL;
	struct write_req r = {.op = OP_PUT, .mode = mode, .expected = expected_version,
			      .value = value, .vlen = value_len, .w = w};
	bool on = weft_cache_enter();
	rc = do_write(c, key, &r, now_ms);
	weft_cache_leave(on);
	if (rc == 0)
		weft_cache_count(&weft_cache_my_stats(c)->puts, 1);
	if (version_out != NULL && (rc == 0 || rc == -EEXIST || rc == -ESTALE))
		*version_out = r.version;
	return rc;
}

static int do_delete(struct weft_cache *c, const struct weft_cache_key *key, bool if_version,
		     uint64_t expected, uint64_t now_ms, uint64_t *version_out)
{
	int rc = weft_cache_check_key(key);
	if (rc < 0)
		return rc;
	struct write_req r = {.op = OP_DELETE, .if_version = if_version, .expected = expected};
	bool on = weft_cache_enter();
	rc = do_write(c, key, &r, now_ms);
	weft_cache_leave(on);
	if (rc == 0)
		weft_cache_count(&weft_cache_my_stats(c)->deletes, 1);
	if (version_out != NULL && (rc == 0 || rc == -ESTALE))
		*version_out = r.version;
	return rc;
}

int weft_cache_delete(struct weft_cache *c, const struct weft_cache_key *key, uint64_t now_ms,
		      uint64_t *version_out)
{
	return do_delete(c, key, false, 0, now_ms, version_out);
}

int weft_cache_delete_if(struct weft_cache *c, const struct weft_cache_key *key,
			 uint64_t expected_version, uint64_t now_ms, uint64_t *version_out)
{
	return do_delete(c, key, true, expected_version, now_ms, version_out);
}

int weft_cache_incr(struct weft_cache *c, const struct weft_cache_key *key, int64_t delta,
		    const struct weft_cache_write *w, uint64_t now_ms, int64_t *value_out,
		    uint64_t *version_out)
{
	int rc = weft_cache_check_key(key);
	if (rc < 0)
		return rc;
	struct write_req r = {.op = OP_INCR, .delta = delta, .w = w};
	bool on = weft_cache_enter();
	rc = do_write(c, key, &r, now_ms);
	weft_cache_leave(on);
	if (rc == 0) {
		weft_cache_count(&weft_cache_my_stats(c)->puts, 1);
		if (value_out != NULL)
			*value_out = r.incr_value;
		if (version_out != NULL)
			*version_out = r.version;
	}
	return rc;
}

int weft_cache_touch(struct weft_cache *c, const struct weft_cache_key *key,
		     const struct weft_cache_write *w, uint64_t now_ms, uint64_t *version_out)
{
	int rc = weft_cache_check_key(key);
	if (rc < 0)
		return rc;
	struct write_req r = {.op = OP_TOUCH, .w = w};
	bool on = weft_cache_enter();
	rc = do_write(c, key, &r, now_ms);
	weft_cache_leave(on);
	if (rc == 0 && version_out != NULL)
		*version_out = r.version;
	return rc;
}

int weft_cache_apply_put(struct weft_cache *c, const struct weft_cache_key *key,
			 const struct weft_cache_image *img, uint64_t now_ms)
{
	int rc = weft_cache_check_key(key);
	if (rc < 0)
		return rc;
	if (img == NULL || (img->value == NULL && img->value_len > 0))
		return -EINVAL;
	if (img->value_len > WEFT_CACHE_MAX_VALUE)
		return -E2BIG;
	struct write_req r = {.op = OP_APPLY_PUT, .img = img, .apply_version = img->version};
	bool on = weft_cache_enter();
	rc = do_write(c, key, &r, now_ms);
	weft_cache_leave(on);
	if (rc == 0)
		weft_cache_count(&weft_cache_my_stats(c)->puts, 1);
	return rc;
}

int weft_cache_apply_delete(struct weft_cache *c, const struct weft_cache_key *key,
			    uint64_t version, uint64_t now_ms)
{
	int rc = weft_cache_check_key(key);
	if (rc < 0)
		return rc;
	struct write_req r = {.op = OP_APPLY_DELETE, .apply_version = version};
	bool on = weft_cache_enter();
	rc = do_write(c, key, &r, now_ms);
	weft_cache_leave(on);
	if (rc == 0)
		weft_cache_count(&weft_cache_my_stats(c)->deletes, 1);
	return rc;
}

int weft_cache_discard(struct weft_cache *c, const struct weft_cache_key *key,
		       uint64_t version, uint64_t now_ms)
{
	int rc = weft_cache_check_key(key);
	if (rc < 0)
		return rc;
	struct write_req r = {.op = OP_DISCARD, .apply_version = version};
	bool on = weft_cache_enter();
	rc = do_write(c, key, &r, now_ms);
	weft_cache_leave(on);
	if (rc == 0 && r.live_removed)
		weft_cache_count(&weft_cache_my_stats(c)->deletes, 1);
	return rc;
}

void weft_cache_version_floor(struct weft_cache *c, uint64_t floor)
{
	weft_cache_version_raise(c, floor);
}
