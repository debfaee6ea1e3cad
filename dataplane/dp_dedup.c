/*
 * dp_dedup.c — at-most-once for non-idempotent ops (PUT, PUT_IF_ABSENT, REPLACE,
 * CAS, DELETE, INCR): (client IPv4, client port, client_id, request_id) ->
 * the response, kept WEFT_DEDUP_KEEP_MS.
 *
 * An entry is INFLIGHT from dp_dedup_begin until dp_dedup_finish stores the
 * response (DONE). A retransmission that finds DONE is answered with the
 * stored response and never applied again; one that finds INFLIGHT (the
 * first copy is being applied on another lcore) is dropped: the client
 * retries and then finds DONE.
 *
 * Concurrency: DEDUP_SHARDS shards, each with its own mutex, picked by the
 * id's hash, so lcores serving different clients rarely meet on a lock.
 *
 * A shard is a ring of slots in insertion order (which is time order) named
 * by sequence numbers: entry q lives in slot q & mask, and the live entries
 * are exactly head <= q < tail. Hash chains link sequence numbers, newest
 * first. Removing the oldest entries (expiry, or eviction when the shard is
 * full) only advances head: a chain walk stops at the first link below
 * head, since everything after it is older still. So removal touches no
 * chain and hashes nothing (it was 6% of a worker's cycles on the memif
 * put path when it unlinked each evicted slot), and a slot is reused only
 * once its entry is below head. There are four chains per slot, so a new
 * id's walk mostly ends at its chain head without reading a slot, and
 * dp_dedup_prefetch lets the burst's writes start those reads early. Bounds: the capacity rounded up to a power
 * of two per shard; inserting into a full shard evicts its oldest entry
 * (counted). No allocation after create.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dp_tables.h"

#define DEDUP_SHARDS 16u

enum { ST_INFLIGHT = 1, ST_DONE };

struct dedup_slot {
	struct dp_msg_id id;
	uint64_t born_ms;
	uint64_t next; /* hash chain: the next older entry's sequence number */
	uint8_t state;
	struct dp_dedup_resp resp;
};

struct dedup_shard {
	pthread_mutex_t lock;
	uint64_t head, tail; /* live entries: head <= q < tail; head starts at 1 */
	uint64_t inserted, replayed, inflight, evicted, expired;
	struct dedup_slot *slots;
	uint64_t *chain; /* nbuckets heads: the newest entry's number, 0 none */
} __attribute__((aligned(64)));

struct dp_dedup {
	uint32_t cap;     /* slots per shard, power of two */
	uint32_t nbuckets;/* per shard, power of two */
	struct dedup_shard shard[DEDUP_SHARDS];
};

static inline struct dedup_slot *slot_at(const struct dp_dedup *d, const struct dedup_shard *sh,
					 uint64_t q)
{
	return &sh->slots[q & (d->cap - 1)];
}

struct dp_dedup *dp_dedup_create(unsigned capacity)
{
	if (capacity < DEDUP_SHARDS) {
		errno = EINVAL;
		return NULL;
	}
	struct dp_dedup *d = aligned_alloc(64, sizeof(*d));
	if (d == NULL)
		return NULL;
	memset(d, 0, sizeof(*d));
	d->cap = 1;
	while (d->cap < capacity / DEDUP_SHARDS)
		d->cap <<= 1;
	d->nbuckets = 4 * d->cap; /* most chains empty: a new id's walk reads no slot */
	for (unsigned s = 0; s < DEDUP_SHARDS; s++) {
		struct dedup_shard *sh = &d->shard[s];
		pthread_mutex_init(&sh->lock, NULL);
		sh->head = sh->tail = 1;
		sh->slots = calloc(d->cap, sizeof(*sh->slots));
		sh->chain = calloc(d->nbuckets, sizeof(*sh->chain));
		if (sh->slots == NULL || sh->chain == NULL) {
			dp_dedup_destroy(d);
			errno = ENOMEM;
			return NULL;
		}
	}
	return d;
}

void dp_dedup_destroy(struct dp_dedup *d)
{
	if (d == NULL)
		return;
	for (unsigned s = 0; s < DEDUP_SHARDS; s++) {
		free(d->shard[s].slots);
		free(d->shard[s].chain);
		pthread_mutex_destroy(&d->shard[s].lock);
	}
	free(d);
}

static struct dedup_shard *shard_of(struct dp_dedup *d, const struct dp_msg_id *id, uint32_t *b)
{
	uint64_t h = dp_msg_id_hash(id);
	*b = (uint32_t)(h >> 32) & (d->nbuckets - 1);
	return &d->shard[h % DEDUP_SHARDS];
}

static struct dedup_slot *slot_find(struct dp_dedup *d, struct dedup_shard *sh, uint32_t b,
				    const struct dp_msg_id *id)
{
	for (uint64_t q = sh->chain[b]; q >= sh->head; q = slot_at(d, sh, q)->next)
		if (dp_msg_id_eq(&slot_at(d, sh, q)->id, id))
			return slot_at(d, sh, q);
	return NULL;
}

void dp_dedup_prefetch(struct dp_dedup *d, const struct dp_msg_id *id)
{
	uint32_t b;
	struct dedup_shard *sh = shard_of(d, id, &b);
	__builtin_prefetch(&sh->chain[b], 0, 3);
	/* racy read of tail, a hint only: the slot the insert will most likely write */
	__builtin_prefetch(slot_at(d, sh, __atomic_load_n(&sh->tail, __ATOMIC_RELAXED)), 1, 3);
}

enum dp_dedup_result dp_dedup_begin(struct dp_dedup *d, const struct dp_msg_id *id,
				    uint64_t now_ms, struct dp_dedup_resp *resp_out)
{
	uint32_t b;
	struct dedup_shard *sh = shard_of(d, id, &b);
	enum dp_dedup_result res;

	pthread_mutex_lock(&sh->lock);
	struct dedup_slot *s = slot_find(d, sh, b, id);
	if (s != NULL && s->state == ST_DONE) {
		*resp_out = s->resp;
		sh->replayed++;
		res = DP_DEDUP_DONE;
	} else if (s != NULL) {
		sh->inflight++;
		res = DP_DEDUP_INFLIGHT;
	} else {
		if (sh->tail - sh->head == d->cap) {
			sh->head++; /* the oldest goes: its slot is the one reused */
			sh->evicted++;
		}
		s = slot_at(d, sh, sh->tail);
		s->id = *id;
		s->born_ms = now_ms;
		s->state = ST_INFLIGHT;
		s->next = sh->chain[b];
		sh->chain[b] = sh->tail++;
		sh->inserted++;
		res = DP_DEDUP_NEW;
	}
	pthread_mutex_unlock(&sh->lock);
	return res;
}

void dp_dedup_finish(struct dp_dedup *d, const struct dp_msg_id *id,
		     const struct dp_dedup_resp *resp)
{
	uint32_t b;
	struct dedup_shard *sh = shard_of(d, id, &b);
	pthread_mutex_lock(&sh->lock);
	struct dedup_slot *s = slot_find(d, sh, b, id);
	if (s != NULL && s->state == ST_INFLIGHT) {
		s->resp = *resp;
		s->state = ST_DONE;
	}
	pthread_mutex_unlock(&sh->lock);
}

unsigned dp_dedup_expire(struct dp_dedup *d, uint64_t now_ms)
{
	unsigned n = 0;
	for (unsigned i = 0; i < DEDUP_SHARDS; i++) {
		struct dedup_shard *sh = &d->shard[i];
		pthread_mutex_lock(&sh->lock);
		while (sh->head < sh->tail) {
			const struct dedup_slot *s = slot_at(d, sh, sh->head);
			if (!(now_ms > s->born_ms && now_ms - s->born_ms > WEFT_DEDUP_KEEP_MS))
				break;
			sh->head++;
			sh->expired++;
			n++;
		}
		pthread_mutex_unlock(&sh->lock);
	}
	return n;
}

void dp_dedup_get_stats(struct dp_dedup *d, struct dp_dedup_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < DEDUP_SHARDS; i++) {
		struct dedup_shard *sh = &d->shard[i];
		pthread_mutex_lock(&sh->lock);
		out->inserted += sh->inserted;
		out->replayed += sh->replayed;
		out->inflight += sh->inflight;
		out->evicted += sh->evicted;
		out->expired += sh->expired;
		out->entries += sh->tail - sh->head;
		pthread_mutex_unlock(&sh->lock);
	}
}
