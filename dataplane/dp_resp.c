/*
 * dp_resp.c — response memory: long responses (GET of a big value,
 * MULTI_GET, STATS) kept for FETCH (wire.h flow control).
 *
 * Keyed by (client IPv4, client UDP port, client_id, request_id); the first
 * response kept under an identity stays until it expires (a retransmitted
 * request is answered from it). An entry owns a private copy of the whole response payload (a cache value pointer
 * is only valid until the reader's next quiescent state, so the payload is
 * always copied before it gets here) and the response header template.
 *
 * Concurrency: ONE mutex, shared by all lcores: FETCH is the slow path and a
 * client's FETCHes may land on another queue than its request. dp_resp_fetch
 * calls the emit callback under the lock (it copies <= 32 datagrams of
 * payload into mbufs), so an entry can never be freed while being sent.
 *
 * Bounds: the sum of kept payloads stays <= max_bytes: keeping a new
 * response evicts least-recently-used ones until it fits (counted); one
 * larger than the whole bound is refused. An entry unused for
 * WEFT_RESP_KEEP_MS is dropped by dp_resp_expire; a FETCH for it then
 * answers GONE.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dp_tables.h"

#define RESP_BUCKETS 1024u

struct resp_entry {
	struct resp_entry *next;               /* hash chain */
	struct resp_entry *lru_prev, *lru_next; /* lru_next: towards older */
	struct dp_msg_id id;
	struct weft_wire_hdr hdr;
	uint8_t *payload;
	uint64_t last_ms;
};

struct dp_resp {
	pthread_mutex_t lock;
	uint64_t max_bytes, bytes, entries;
	struct dp_resp_stats st;
	struct resp_entry *newest, *oldest;
	struct resp_entry *bucket[RESP_BUCKETS];
};

struct dp_resp *dp_resp_create(uint64_t max_bytes)
{
	if (max_bytes == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct dp_resp *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	r->max_bytes = max_bytes;
	return r;
}

static unsigned bucket_of(const struct dp_msg_id *id)
{
	return (unsigned)(dp_msg_id_hash(id) % RESP_BUCKETS);
}

static void lru_unlink(struct dp_resp *r, struct resp_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		r->newest = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		r->oldest = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push(struct dp_resp *r, struct resp_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = r->newest;
	if (r->newest)
		r->newest->lru_prev = e;
	r->newest = e;
	if (r->oldest == NULL)
		r->oldest = e;
}

/* Unlinks e from everything and frees it. Lock held. */
static void entry_remove(struct dp_resp *r, struct resp_entry *e)
{
	struct resp_entry **pp = &r->bucket[bucket_of(&e->id)];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	lru_unlink(r, e);
	r->bytes -= e->hdr.msg_len;
	r->entries--;
	free(e->payload);
	free(e);
}

static struct resp_entry *entry_find(struct dp_resp *r, const struct dp_msg_id *id)
{
	struct resp_entry *e = r->bucket[bucket_of(id)];
	while (e != NULL && !dp_msg_id_eq(&e->id, id))
		e = e->next;
	return e;
}

void dp_resp_destroy(struct dp_resp *r)
{
	if (r == NULL)
		return;
	while (r->oldest != NULL)
		entry_remove(r, r->oldest);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int dp_resp_keep(struct dp_resp *r, const struct dp_msg_id *id, const struct weft_wire_hdr *hdr,
		 uint8_t *payload, uint64_t now_ms)
{
	if (hdr->msg_len > r->max_bytes) {
		free(payload);
		pthread_mutex_lock(&r->lock);
		r->st.refused++;
		pthread_mutex_unlock(&r->lock);
		return -ENOMEM;
	}
	struct resp_entry *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		free(payload);
		return -ENOMEM;
	}
	n->id = *id;
	n->hdr = *hdr;
	n->payload = payload;
	n->last_ms = now_ms;

	pthread_mutex_lock(&r->lock);
	struct resp_entry *old = entry_find(r, id);
	if (old != NULL) {
		/* A retransmitted request: keep serving the first answer, so that a
		 * client re-asking mid-transfer never mixes pieces of two answers. */
		old->last_ms = now_ms;
		pthread_mutex_unlock(&r->lock);
		free(n->payload);
		free(n);
		return 0;
	}
	while (r->bytes + hdr->msg_len > r->max_bytes && r->oldest != NULL) {
		entry_remove(r, r->oldest);
		r->st.evicted++;
	}
	unsigned b = bucket_of(id);
	n->next = r->bucket[b];
	r->bucket[b] = n;
	lru_push(r, n);
	r->bytes += hdr->msg_len;
	r->entries++;
	r->st.kept++;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

unsigned dp_resp_split(const struct weft_wire_hdr *hdr, const uint8_t *payload, uint32_t first,
		       uint32_t count, dp_resp_emit_fn emit, void *ctx)
{
	struct weft_wire_hdr d = *hdr;
	unsigned n = 0;
	for (uint64_t off = (uint64_t)first * WEFT_MAX_DGRAM_PAYLOAD;
	     off < hdr->msg_len && n < count; off += WEFT_MAX_DGRAM_PAYLOAD, n++) {
		uint32_t len = hdr->msg_len - (uint32_t)off;
		if (len > WEFT_MAX_DGRAM_PAYLOAD)
			len = WEFT_MAX_DGRAM_PAYLOAD;
		d.frag_offset = (uint32_t)off;
		emit(ctx, &d, payload + off, len);
	}
	return n;
}

int dp_resp_fetch(struct dp_resp *r, const struct dp_msg_id *id, uint32_t offset, uint32_t count,
		  uint64_t now_ms, dp_resp_emit_fn emit, void *ctx)
{
	if (offset % WEFT_MAX_DGRAM_PAYLOAD != 0)
		return -EINVAL;
	int ret;
	pthread_mutex_lock(&r->lock);
	struct resp_entry *e = entry_find(r, id);
	if (e == NULL) {
		r->st.fetch_gone++;
		ret = -ENOENT;
	} else {
		e->last_ms = now_ms;
		lru_unlink(r, e);
		lru_push(r, e);
		r->st.fetches++;
		ret = (int)dp_resp_split(&e->hdr, e->payload, offset / WEFT_MAX_DGRAM_PAYLOAD,
					 count, emit, ctx);
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

unsigned dp_resp_expire(struct dp_resp *r, uint64_t now_ms)
{
	unsigned n = 0;
	pthread_mutex_lock(&r->lock);
	/* The LRU order is last-use order: expired entries are all at the old end. */
	while (r->oldest != NULL && now_ms > r->oldest->last_ms &&
	       now_ms - r->oldest->last_ms > WEFT_RESP_KEEP_MS) {
		entry_remove(r, r->oldest);
		n++;
	}
	r->st.expired += n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

void dp_resp_get_stats(struct dp_resp *r, struct dp_resp_stats *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->st;
	out->entries = r->entries;
	out->bytes = r->bytes;
	pthread_mutex_unlock(&r->lock);
}
