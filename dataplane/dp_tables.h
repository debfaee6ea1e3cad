/*
 * dp_tables.h — the dataplane's three node-wide slow-path tables, private to
 * dataplane/ (and its unit tests):
 *
 *  - reassembly of multi-datagram requests   (dp_reasm.c)
 *  - response memory for long responses/FETCH (dp_resp.c)
 *  - at-most-once dedup of non-idempotent ops (dp_dedup.c)
 *
 * All three are keyed by the same identity, struct dp_msg_id (client IPv4
 * address and UDP port, client_id, request_id), read no clock (now_ms is
 * passed in, so tests use virtual time) and are safe to call from any number
 * of lcores at once: each guards itself with its own lock(s), documented at
 * the top of its file. Memory is bounded; what does not fit is refused and
 * counted, never queued without limit.
 */
#ifndef WEFT_DP_TABLES_H
#define WEFT_DP_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/wire.h>

struct dp_msg_id {
	uint32_t ip;        /* client IPv4, network order */
	uint16_t port;      /* client UDP port, network order */
	uint16_t auth;      /* reassembly: the pieces' auth kind (dp_auth.c), so
	                       unauthenticated pieces never join an authenticated
	                       message; 0 elsewhere */
	uint32_t client_id;
	uint64_t request_id;
};

static inline bool dp_msg_id_eq(const struct dp_msg_id *a, const struct dp_msg_id *b)
{
	return a->ip == b->ip && a->port == b->port && a->client_id == b->client_id &&
	       a->request_id == b->request_id && a->auth == b->auth;
}

static inline uint64_t dp_msg_id_hash(const struct dp_msg_id *id)
{
	uint64_t h = ((uint64_t)id->ip << 16 | id->port) * 0x9e3779b97f4a7c15ull;
	h ^= (id->request_id + id->client_id) * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 29;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 32);
}

/* --- reassembly (dp_reasm.c) ---------------------------------------- */

struct dp_reasm;

/* refused counts every BUSY; src_refused those of them refused by the
 * per-source bound alone. timeouts counts idle and over-age drops. */
struct dp_reasm_stats {
	uint64_t started, completed, timeouts, duplicates, refused, mismatched, entries, bytes;
	uint64_t src_refused, sources;
};

/* An incomplete message is dropped after this long even if pieces keep
 * coming (a slow sender cannot pin a buffer by trickling pieces). */
#define DP_REASM_MAX_AGE_MS (8u * WEFT_REASM_TIMEOUT_MS)
/* One source address (any port, any client_id) may hold at most 1 /
 * DP_REASM_SRC_SHARE of each bound, but never less than one largest
 * message and min(max_entries, DP_REASM_SRC_MIN_ENTRIES) entries. */
#define DP_REASM_SRC_SHARE 4u
#define DP_REASM_SRC_MIN_ENTRIES 8u

enum dp_reasm_result {
	DP_REASM_STORED,    /* kept; message not complete yet */
	DP_REASM_DUPLICATE, /* that piece was already there: ignored */
	DP_REASM_COMPLETE,  /* *msg_out holds the whole payload (caller frees) */
	DP_REASM_BUSY,      /* memory or entry bound (global or the source's) reached */
	DP_REASM_MISMATCH,  /* piece disagrees with the message's header */
	DP_REASM_MISALIGNED,/* frag_offset not a multiple of WEFT_MAX_DGRAM_PAYLOAD,
	                       or a non-final piece shorter than that */
};

/* max_bytes bounds the sum of buffered message payloads, max_entries the
 * messages in progress; each source IPv4 address gets its share (above).
 * NULL + errno. */
struct dp_reasm *dp_reasm_create(uint64_t max_bytes, unsigned max_entries);
void dp_reasm_destroy(struct dp_reasm *r);

/* Adds one piece. h is the piece's header (already passed weft_wire_check),
 * slice its payload bytes. On DP_REASM_COMPLETE *msg_out is a malloc'd
 * buffer of h->msg_len bytes that the caller owns, and *hdr_out the first
 * piece's header. */
enum dp_reasm_result dp_reasm_add(struct dp_reasm *r, const struct dp_msg_id *id,
				  const struct weft_wire_hdr *h, const uint8_t *slice,
				  uint32_t slice_len, uint64_t now_ms, uint8_t **msg_out,
				  struct weft_wire_hdr *hdr_out);

/* Drops messages idle for more than WEFT_REASM_TIMEOUT_MS or started more
 * than DP_REASM_MAX_AGE_MS ago. Returns count. */
unsigned dp_reasm_expire(struct dp_reasm *r, uint64_t now_ms);
void dp_reasm_get_stats(struct dp_reasm *r, struct dp_reasm_stats *out);

/* --- response memory (dp_resp.c) ------------------------------------ */

struct dp_resp;

struct dp_resp_stats {
	uint64_t kept, refused, evicted, expired, fetches, fetch_gone, entries, bytes;
};

/* Called once per datagram to send: hdr is the datagram's header (frag_offset
 * set), slice its payload. Runs under the table's lock: it must not call
 * back into the table. */
typedef void (*dp_resp_emit_fn)(void *ctx, const struct weft_wire_hdr *hdr,
				const uint8_t *slice, uint32_t slice_len);

struct dp_resp *dp_resp_create(uint64_t max_bytes);
void dp_resp_destroy(struct dp_resp *r);

/* Takes ownership of payload (malloc'd, hdr->msg_len bytes) and keeps it
 * under id. If a response is already kept under id (the request was
 * retransmitted), that one stays, its idle timer restarts and payload is
 * freed: a client re-asking mid-transfer never mixes two answers. 0, or
 * -ENOMEM when it exceeds the whole bound (payload is freed then). */
int dp_resp_keep(struct dp_resp *r, const struct dp_msg_id *id, const struct weft_wire_hdr *hdr,
		 uint8_t *payload, uint64_t now_ms);

/* Emits `count` datagrams of the kept response starting at payload offset
 * `offset` (a multiple of WEFT_MAX_DGRAM_PAYLOAD). Returns the number
 * emitted (0 if offset is past the end), or -ENOENT if nothing is kept
 * under id (answer GONE), -EINVAL for a misaligned offset. Refreshes the
 * idle timer. */
int dp_resp_fetch(struct dp_resp *r, const struct dp_msg_id *id, uint32_t offset, uint32_t count,
		  uint64_t now_ms, dp_resp_emit_fn emit, void *ctx);

unsigned dp_resp_expire(struct dp_resp *r, uint64_t now_ms);
void dp_resp_get_stats(struct dp_resp *r, struct dp_resp_stats *out);

/* Splits one message payload into datagrams, calling emit for
 * [first, first + count) of them. Returns the number emitted. */
unsigned dp_resp_split(const struct weft_wire_hdr *hdr, const uint8_t *payload, uint32_t first,
		       uint32_t count, dp_resp_emit_fn emit, void *ctx);

/* --- at-most-once dedup (dp_dedup.c) -------------------------------- */

struct dp_dedup;

#define DP_DEDUP_EXTRAS_MAX 16u

/* A remembered response: small by construction (non-idempotent ops answer
 * a status and at most weft_x_counter). */
struct dp_dedup_resp {
	uint16_t status;
	uint8_t extras_len;
	uint8_t extras[DP_DEDUP_EXTRAS_MAX];
};

enum dp_dedup_result {
	DP_DEDUP_NEW,      /* first sighting: apply, then dp_dedup_finish */
	DP_DEDUP_DONE,     /* applied before: *resp_out is its response */
	DP_DEDUP_INFLIGHT, /* being applied right now by someone else: drop */
};

struct dp_dedup_stats {
	uint64_t inserted, replayed, inflight, evicted, expired, entries;
};

/* capacity: entries in all (at least 16), rounded up to a power of two per
 * shard; NULL + errno on bad capacity or no memory. */
struct dp_dedup *dp_dedup_create(unsigned capacity);
void dp_dedup_destroy(struct dp_dedup *d);
enum dp_dedup_result dp_dedup_begin(struct dp_dedup *d, const struct dp_msg_id *id,
				    uint64_t now_ms, struct dp_dedup_resp *resp_out);
/* A hint, no lock: starts the memory reads dp_dedup_begin of id will do. */
void dp_dedup_prefetch(struct dp_dedup *d, const struct dp_msg_id *id);
/* Stores the response of an op begun with DP_DEDUP_NEW (no-op if it was
 * evicted meanwhile). */
void dp_dedup_finish(struct dp_dedup *d, const struct dp_msg_id *id,
		     const struct dp_dedup_resp *resp);
unsigned dp_dedup_expire(struct dp_dedup *d, uint64_t now_ms);
void dp_dedup_get_stats(struct dp_dedup *d, struct dp_dedup_stats *out);

#endif /* WEFT_DP_TABLES_H */
