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
 * A shard is a fixed array of slots used as a FIFO ring in insertion order
 * (which is time order, so expiry pops from the head) plus hash chains of
 * slot indexes. Bounds: capacity slots in all; inserting into a full shard
 * evicts its oldest entry (counted). No allocation after create.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dp_tables.h"

#define DEDUP_SHARDS 16u
#define NIL UINT32_MAX

enum { ST_FREE, ST_INFLIGHT, ST_DONE };

struct dedup_slot {
	struct dp_msg_id id;
	uint64_t born_ms;
	uint32_t next; /* hash chain */
	uint8_t state;
	struct dp_dedup_resp resp;
};

struct dedup_shard {
	pthread_mutex_t lock;
	uint32_t head, count; /* ring: oldest at head */
	uint64_t inserted, replayed, inflight, evicted, expired;
	struct dedup_slot *slots;
	uint32_t *chain; /* nbuckets heads */
} __attribute__((aligned(64)));

struct dp_dedup {
	uint32_t cap;     /* slots per shard */
	uint32_t nbuckets;/* per shard, power of two */
	struct dedup_shard shard[DEDUP_SHARDS];
};

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
	d->cap = capacity / DEDUP_SHARDS;
	d->nbuckets = 1;
	while (d->nbuckets < d->cap)
		d->nbuckets <<= 1;
	for (unsigned s = 0; s < DEDUP_SHARDS; s++) {
		struct dedup_shard *sh = &d->shard[s];
		pthread_mutex_init(&sh->lock, NULL);
		sh->slots = calloc(d->cap, sizeof(*sh->slots));
		sh->chain = malloc(d->nbuckets * sizeof(uint32_t));
		if (sh->slots == NULL || sh->chain == NULL) {
			dp_dedup_destroy(d);
			errno = ENOMEM;
			return NULL;
		}
		memset(sh->chain, 0xff, d->nbuckets * sizeof(uint32_t));
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
	(void)d;
	for (uint32_t i = sh->chain[b]; i != NIL; i = sh->slots[i].next)
		if (dp_msg_id_eq(&sh->slots[i].id, id))
			return &sh->slots[i];
	return NULL;
}

/* Removes the oldest slot of the shard. Lock held, count > 0. */
static void pop_oldest(struct dp_dedup *d, struct dedup_shard *sh)
{
	uint32_t i = sh->head;
	struct dedup_slot *s = &sh->slots[i];
	uint32_t b = (uint32_t)(dp_msg_id_hash(&s->id) >> 32) & (d->nbuckets - 1);
	uint32_t *pp = &sh->chain[b];
	while (*pp != i)
		pp = &sh->slots[*pp].next;
	*pp = s->next;
	s->state = ST_FREE;
	sh->head = (sh->head + 1) % d->cap;
	sh->count--;
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
		if (sh->count == d->cap) {
			pop_oldest(d, sh);
			sh->evicted++;
		}
		uint32_t i = (sh->head + sh->count) % d->cap;
		s = &sh->slots[i];
		s->id = *id;
		s->born_ms = now_ms;
		s->state = ST_INFLIGHT;
		s->next = sh->chain[b];
		sh->chain[b] = i;
		sh->count++;
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
		while (sh->count > 0) {
			const struct dedup_slot *s = &sh->slots[sh->head];
			if (!(now_ms > s->born_ms && now_ms - s->born_ms > WEFT_DEDUP_KEEP_MS))
				break;
			pop_oldest(d, sh);
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
		out->entries += sh->count;
		pthread_mutex_unlock(&sh->lock);
	}
}
