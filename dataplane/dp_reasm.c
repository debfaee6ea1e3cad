/*
 * dp_reasm.c — reassembly of multi-datagram requests (values up to 1 MiB).
 *
 * Keyed by (client IPv4, client UDP port, client_id, request_id). Pieces
 * arrive in any order; each covers payload slot frag_offset /
 * WEFT_MAX_DGRAM_PAYLOAD (senders split a message at multiples of
 * WEFT_MAX_DGRAM_PAYLOAD, every piece full but the last — docs/protocol.md),
 * so a bitmap of slots detects duplicates and completion. Every piece must
 * agree with the first one seen on opcode and the name/key/extras/message
 * lengths; a disagreeing piece is refused (counted), the entry is kept.
 *
 * Concurrency: ONE mutex for the whole table, shared by all lcores. This is
 * the slow path (only messages longer than one datagram come here) and
 * af_packet's fanout may move a flow from one queue to another mid-message,
 * so a per-lcore table could split one message's pieces across lcores; one
 * lock keeps it simple and correct. The memcpy of a piece happens under the
 * lock (<= 1368 bytes).
 *
 * Bounds: at most max_entries messages and max_bytes buffered payload in
 * all, and per source IPv4 address (any port or client_id: a flooder picks
 * those freely) at most src_max_entries / src_max_bytes, a share of each
 * (DP_REASM_SRC_SHARE in dp_tables.h), so one source flooding half-finished
 * 1 MiB messages gets BUSY while other sources still reassemble. A new
 * message that would exceed any bound is refused (DP_REASM_BUSY). An entry
 * idle (no piece) for WEFT_REASM_TIMEOUT_MS, or older than
 * DP_REASM_MAX_AGE_MS whatever comes, is dropped by dp_reasm_expire
 * (counted as a timeout).
 *
 * Invariants (under the lock): bytes / entries are the sums over all
 * entries of msg_len / 1; each source record's are the sums over its
 * entries, and a source record exists exactly while it has an entry.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dp_tables.h"

#define REASM_BUCKETS 1024u
#define SRC_BUCKETS 256u

/* What one source address holds. */
struct reasm_src {
	struct reasm_src *next;
	uint32_t ip;
	unsigned entries;
	uint64_t bytes;
};

struct reasm_entry {
	struct reasm_entry *next;
	struct reasm_src *src;
	struct dp_msg_id id;
	struct weft_wire_hdr hdr; /* first piece seen */
	uint8_t *buf;
	uint64_t *bitmap;
	uint32_t slots, have;
	uint64_t first_ms, last_ms;
};

struct dp_reasm {
	pthread_mutex_t lock;
	uint64_t max_bytes, bytes, src_max_bytes;
	unsigned max_entries, entries, src_max_entries, sources;
	struct dp_reasm_stats st;
	struct reasm_entry *bucket[REASM_BUCKETS];
	struct reasm_src *src_bucket[SRC_BUCKETS];
};

struct dp_reasm *dp_reasm_create(uint64_t max_bytes, unsigned max_entries)
{
	if (max_bytes == 0 || max_entries == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct dp_reasm *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	r->max_bytes = max_bytes;
	r->max_entries = max_entries;
	r->src_max_bytes = max_bytes / DP_REASM_SRC_SHARE;
	if (r->src_max_bytes < WEFT_MAX_MSG_LEN)
		r->src_max_bytes = WEFT_MAX_MSG_LEN < max_bytes ? WEFT_MAX_MSG_LEN : max_bytes;
	r->src_max_entries = max_entries / DP_REASM_SRC_SHARE;
	unsigned least = max_entries < DP_REASM_SRC_MIN_ENTRIES ? max_entries
								: DP_REASM_SRC_MIN_ENTRIES;
	if (r->src_max_entries < least)
		r->src_max_entries = least;
	return r;
}

static struct reasm_src **src_slot(struct dp_reasm *r, uint32_t ip)
{
	unsigned b = (unsigned)(((uint64_t)ip * 0x9e3779b97f4a7c15ull) >> 56) % SRC_BUCKETS;
	struct reasm_src **pp = &r->src_bucket[b];
	while (*pp != NULL && (*pp)->ip != ip)
		pp = &(*pp)->next;
	return pp;
}

static void entry_free(struct dp_reasm *r, struct reasm_entry *e)
{
	r->bytes -= e->hdr.msg_len;
	r->entries--;
	struct reasm_src *s = e->src;
	s->bytes -= e->hdr.msg_len;
	if (--s->entries == 0) {
		struct reasm_src **pp = src_slot(r, s->ip);
		*pp = s->next;
		free(s);
		r->sources--;
	}
	free(e->buf);
	free(e->bitmap);
	free(e);
}

void dp_reasm_destroy(struct dp_reasm *r)
{
	if (r == NULL)
		return;
	for (unsigned b = 0; b < REASM_BUCKETS; b++) {
		while (r->bucket[b] != NULL) {
			struct reasm_entry *e = r->bucket[b];
			r->bucket[b] = e->next;
			entry_free(r, e);
		}
	}
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static bool same_message(const struct weft_wire_hdr *a, const struct weft_wire_hdr *b)
{
	return a->opcode == b->opcode && a->msg_len == b->msg_len && a->name_len == b->name_len &&
	       a->key_len == b->key_len && a->extras_len == b->extras_len;
}

/* A new entry for id, charged to its source; NULL when a bound (global or
 * the source's) is reached or memory is short. */
static struct reasm_entry *entry_new(struct dp_reasm *r, const struct dp_msg_id *id,
				     const struct weft_wire_hdr *h, uint64_t now_ms)
{
	if (r->entries >= r->max_entries || r->bytes + h->msg_len > r->max_bytes)
		return NULL;
	struct reasm_src **sp = src_slot(r, id->ip), *s = *sp;
	if (s != NULL && (s->entries >= r->src_max_entries ||
			  s->bytes + h->msg_len > r->src_max_bytes)) {
		r->st.src_refused++;
		return NULL;
	}
	struct reasm_entry *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->slots = (h->msg_len + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
	e->buf = malloc(h->msg_len);
	e->bitmap = calloc((e->slots + 63) / 64, sizeof(uint64_t));
	if (s == NULL)
		s = calloc(1, sizeof(*s));
	if (e->buf == NULL || e->bitmap == NULL || s == NULL) {
		if (s != NULL && s->entries == 0)
			free(s);
		free(e->buf);
		free(e->bitmap);
		free(e);
		return NULL;
	}
	if (s->entries == 0) {
		s->ip = id->ip;
		*sp = s;
		r->sources++;
	}
	s->entries++;
	s->bytes += h->msg_len;
	e->src = s;
	e->id = *id;
	e->hdr = *h;
	e->hdr.frag_offset = 0;
	e->first_ms = now_ms;
	r->entries++;
	r->bytes += h->msg_len;
	r->st.started++;
	return e;
}

enum dp_reasm_result dp_reasm_add(struct dp_reasm *r, const struct dp_msg_id *id,
				  const struct weft_wire_hdr *h, const uint8_t *slice,
				  uint32_t slice_len, uint64_t now_ms, uint8_t **msg_out,
				  struct weft_wire_hdr *hdr_out)
{
	if (h->frag_offset % WEFT_MAX_DGRAM_PAYLOAD != 0 ||
	    (slice_len != WEFT_MAX_DGRAM_PAYLOAD && h->frag_offset + slice_len != h->msg_len) ||
	    slice_len == 0) {
		pthread_mutex_lock(&r->lock);
		r->st.mismatched++;
		pthread_mutex_unlock(&r->lock);
		return DP_REASM_MISALIGNED;
	}
	uint32_t slot = h->frag_offset / WEFT_MAX_DGRAM_PAYLOAD;
	unsigned b = (unsigned)(dp_msg_id_hash(id) % REASM_BUCKETS);
	enum dp_reasm_result res;

	pthread_mutex_lock(&r->lock);
	struct reasm_entry **pp = &r->bucket[b], *e;
	while ((e = *pp) != NULL && !dp_msg_id_eq(&e->id, id))
		pp = &e->next;
	if (e == NULL) {
		e = entry_new(r, id, h, now_ms);
		if (e == NULL) {
			r->st.refused++;
			res = DP_REASM_BUSY;
			goto out;
		}
		e->next = r->bucket[b];
		r->bucket[b] = e;
		pp = &r->bucket[b];
	} else if (!same_message(&e->hdr, h)) {
		r->st.mismatched++;
		res = DP_REASM_MISMATCH;
		goto out;
	}
	e->last_ms = now_ms;
	if (e->bitmap[slot / 64] & (1ull << (slot % 64))) {
		r->st.duplicates++;
		res = DP_REASM_DUPLICATE;
		goto out;
	}
	e->bitmap[slot / 64] |= 1ull << (slot % 64);
	memcpy(e->buf + h->frag_offset, slice, slice_len);
	if (++e->have < e->slots) {
		res = DP_REASM_STORED;
		goto out;
	}
	*pp = e->next;
	*msg_out = e->buf;
	*hdr_out = e->hdr;
	e->buf = NULL;
	entry_free(r, e);
	r->st.completed++;
	res = DP_REASM_COMPLETE;
out:
	pthread_mutex_unlock(&r->lock);
	return res;
}

unsigned dp_reasm_expire(struct dp_reasm *r, uint64_t now_ms)
{
	unsigned n = 0;
	pthread_mutex_lock(&r->lock);
	for (unsigned b = 0; b < REASM_BUCKETS && r->entries > 0; b++) {
		struct reasm_entry **pp = &r->bucket[b], *e;
		while ((e = *pp) != NULL) {
			if ((now_ms > e->last_ms && now_ms - e->last_ms > WEFT_REASM_TIMEOUT_MS) ||
			    (now_ms > e->first_ms && now_ms - e->first_ms > DP_REASM_MAX_AGE_MS)) {
				*pp = e->next;
				entry_free(r, e);
				n++;
			} else {
				pp = &e->next;
			}
		}
	}
	r->st.timeouts += n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

void dp_reasm_get_stats(struct dp_reasm *r, struct dp_reasm_stats *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->st;
	out->entries = r->entries;
	out->bytes = r->bytes;
	out->sources = r->sources;
	pthread_mutex_unlock(&r->lock);
}
