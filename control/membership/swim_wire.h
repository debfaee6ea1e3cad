/*
 * swim_wire.h — the membership wire format (private to control/membership/).
 *
 * Every datagram: a 60-byte header, then a type-specific body. Integers are
 * little-endian, no padding, no alignment assumed. Version 2 (1 had no
 * names).
 *
 *   off len  header
 *     0   2  magic 'W','M'
 *     2   1  version (1)
 *     3   1  type (enum swim_msg)
 *     4  16  sender node id
 *    20   8  sender instance nonce
 *    28   8  sender's view counter  (0: no view yet)
 *    36  16  sender's view coordinator id
 *    52   8  sender's view coordinator nonce
 *
 * A record (member state, 35 bytes, +16 when flag bit 7 says `from`
 * follows, +1+name_len when flag bit 6 says a name follows):
 *   flags u8 (bits 0-1 state, bit 6 has_name, bit 7 has_from), id 16,
 *   nonce u64, ip u32, port u16, incarnation u32 [, from id 16]
 *   [, name_len u8 (1..64), name (printable ASCII 0x21-0x7e)]
 * A full state leaves every name out when the names would not fit one
 * datagram (only clusters of hundreds of long-named nodes).
 * Gossip section: count u8, then `count` records.
 *
 * Address validation (anti-amplification, as RFC 9000 §8.1): a request
 * whose answer is large (JOIN, SYNC, VIEW_REQ) from a sender we do not hold
 * at that address is answered only with a small COOKIE, a keyed hash of
 * (address, id, nonce); the sender repeats the request with it. Gossip is
 * piggybacked only on datagrams to peers held at their address.
 *
 * Decoding never reads past `len`, rejects unknown types/versions, counts
 * above what `len` can hold, states > 3, views larger than max_members and
 * trailing garbage; a rejected datagram changes no state.
 */
#ifndef WEFT_CONTROL_SWIM_WIRE_H
#define WEFT_CONTROL_SWIM_WIRE_H

#include "swim_internal.h"

#define SWIM_MAGIC0 'W'
#define SWIM_MAGIC1 'M'
#define SWIM_VERSION 2u
#define SWIM_HDR_LEN 60u
#define SWIM_REC_LEN 35u        /* without a name */
#define SWIM_REC_FROM_LEN 51u
/* Bytes a name adds to a record. */
#define SWIM_NAME_LEN(n) ((n) ? 1u + (n) : 0u)
#define SWIM_VMEM_LEN 24u

enum swim_msg {
	SWIM_MSG_PING = 1,      /* seq u32, target id, target nonce; gossip */
	SWIM_MSG_ACK = 2,       /* seq u32, subject id, subject nonce; gossip */
	SWIM_MSG_PING_REQ = 3,  /* seq u32, target id, nonce, ip, port; gossip */
	SWIM_MSG_NACK = 4,      /* seq u32 */
	SWIM_MSG_JOIN = 5,      /* record of the sender, cookie u64 */
	SWIM_MSG_JOIN_ACK = 6,  /* count u16, records: full state */
	SWIM_MSG_REJECT = 7,    /* reason u8, loser id+nonce, winner record */
	SWIM_MSG_SYNC = 8,      /* cookie u64, count u16, records: full state */
	SWIM_MSG_SYNC_ACK = 9,  /* count u16, records: full state */
	SWIM_MSG_VIEW_REQ = 10, /* cookie u64: "send me your current view" */
	SWIM_MSG_VIEW = 11,     /* counter u64, coord id+nonce, count u16, members */
	SWIM_MSG_GOSSIP = 12,   /* gossip only (leave) */
	SWIM_MSG_ANNOUNCE = 13, /* record of the sender (multicast discovery) */
	SWIM_MSG_COOKIE = 14,   /* for-type u8, cookie u64: validate your address */
	SWIM_MSG_MAX_TYPE = 14,
};

#define SWIM_REJECT_DUPLICATE_ID 1u

struct swim_hdr {
	uint8_t type;
	struct weft_swim_id sender;
	uint64_t sender_nonce;
	struct weft_swim_view_id view;
};

/* Bounded cursor over a buffer; `bad` latches on any overrun. */
struct swim_cur {
	uint8_t *p;             /* writer */
	const uint8_t *r;       /* reader */
	const uint8_t *end;
	bool bad;
};

void swim_w_u8(struct swim_cur *c, uint8_t v);
void swim_w_u16(struct swim_cur *c, uint16_t v);
void swim_w_u32(struct swim_cur *c, uint32_t v);
void swim_w_u64(struct swim_cur *c, uint64_t v);
void swim_w_id(struct swim_cur *c, const struct weft_swim_id *id);
void swim_w_rec(struct swim_cur *c, const struct swim_rec *r);
uint8_t swim_r_u8(struct swim_cur *c);
uint16_t swim_r_u16(struct swim_cur *c);
uint32_t swim_r_u32(struct swim_cur *c);
uint64_t swim_r_u64(struct swim_cur *c);
void swim_r_id(struct swim_cur *c, struct weft_swim_id *id);
/* Reads one record; false (and c->bad) when malformed. */
bool swim_r_rec(struct swim_cur *c, struct swim_rec *r);

/* Starts a message in s->buf with this node's header; returns the cursor. */
struct swim_cur swim_msg_begin(struct weft_swim *s, uint8_t type);
/* Parses and validates the header. */
bool swim_hdr_parse(struct swim_cur *c, struct swim_hdr *h);
/* Appends a full-state body (count u16 + every used record). */
void swim_w_state(struct weft_swim *s, struct swim_cur *c);
/* The cookie a sender at `from` with this life must echo. */
uint64_t swim_cookie(const struct weft_swim *s, const struct weft_swim_addr *from,
		     const struct weft_swim_id *id, uint64_t nonce);

#endif
