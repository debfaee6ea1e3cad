/*
 * ctl_repl_msg.c — REPLICATE messages as the control thread sends them in
 * state transfer: building the payload of one message (a batch of entries
 * of one cache), splitting it into datagrams, and reading the acks.
 *
 * Pure: byte building only (no socket, no clock, no cache).
 *
 * Invariants:
 *  - a batch's buffer always holds a whole message payload
 *    [name][weft_x_replicate][entries] whose extras count = b->count;
 *  - the entry list (the message's value) never exceeds
 *    WEFT_MAX_REPL_VALUE_LEN (one largest entry always fits);
 *  - datagram idx carries payload [idx * WEFT_MAX_DGRAM_PAYLOAD, ...) with
 *    the same header fields in every piece, so every frag_offset is a
 *    multiple of WEFT_MAX_DGRAM_PAYLOAD and piece 0 holds name + extras
 *    (<= 64 + 48 bytes) whole: the split docs/protocol.md requires.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_rebalance_internal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "wire.h is little-endian; add byte swaps for big-endian hosts");

static int reserve(struct weft_ctl_repl_batch *b, size_t more)
{
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->buf, cap);
	if (p == NULL)
		return -ENOMEM;
	b->buf = p;
	b->cap = cap;
	return 0;
}

static size_t head_len(const struct weft_ctl_repl_batch *b)
{
	return b->name_len + sizeof(struct weft_x_replicate);
}

int weft_ctl_repl_begin(struct weft_ctl_repl_batch *b, const char *name, size_t name_len,
			const struct weft_x_cache_opts *opts)
{
	struct weft_x_replicate x;

	if (name_len == 0 || name_len > WEFT_MAX_NAME_LEN)
		return -EINVAL;
	b->len = 0;
	b->count = 0;
	if (reserve(b, name_len + sizeof(x)) != 0)
		return -ENOMEM;
	memset(&x, 0, sizeof(x));
	x.opts = *opts;
	memcpy(b->buf, name, name_len);
	memcpy(b->buf + name_len, &x, sizeof(x));
	b->name_len = (uint8_t)name_len;
	b->len = name_len + sizeof(x);
	return 0;
}

bool weft_ctl_repl_fits(const struct weft_ctl_repl_batch *b, size_t key_len, size_t value_len)
{
	size_t entry = sizeof(struct weft_repl_entry) + key_len + value_len;
	size_t list = b->len - head_len(b);

	if (list + entry > WEFT_MAX_REPL_VALUE_LEN)
		return false;
	return b->count == 0 || b->len + entry <= WEFT_CTL_REPL_TARGET;
}

int weft_ctl_repl_add(struct weft_ctl_repl_batch *b, const void *key, size_t key_len,
		      const struct weft_cache_image *img)
{
	struct weft_repl_entry e;
	size_t entry = sizeof(e) + key_len + img->value_len;

	if (key_len == 0 || key_len > WEFT_MAX_KEY_LEN)
		return -EINVAL;
	if (b->len - head_len(b) + entry > WEFT_MAX_REPL_VALUE_LEN)
		return -E2BIG;
	if (reserve(b, entry) != 0)
		return -ENOMEM;
	memset(&e, 0, sizeof(e));
	e.kind = img->deleted ? WEFT_REPL_DELETE : WEFT_REPL_PUT; /* a tombstone: no value */
	e.key_len = (uint16_t)key_len;
	e.value_len = img->value_len;
	e.version = img->version;
	/* WEFT_CACHE_NO_EXPIRY == WEFT_TTL_NONE: "never" travels as is. */
	e.ttl_ms = img->ttl_ms;
	e.max_idle_ms = img->max_idle_ms;
	uint8_t *p = b->buf + b->len;
	memcpy(p, &e, sizeof(e));
	memcpy(p + sizeof(e), key, key_len);
	if (img->value_len)
		memcpy(p + sizeof(e) + key_len, img->value, img->value_len);
	b->len += entry;
	b->count++;
	uint32_t count = b->count;
	memcpy(b->buf + b->name_len + offsetof(struct weft_x_replicate, count), &count,
	       sizeof(count));
	return 0;
}

void weft_ctl_repl_free(struct weft_ctl_repl_batch *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

_Static_assert(WEFT_MAX_NAME_LEN + sizeof(struct weft_x_replicate) <= WEFT_MAX_DGRAM_PAYLOAD,
	       "the first piece holds name and extras whole");

size_t weft_ctl_dgram_count(size_t msg_len)
{
	return msg_len == 0 ? 1 : (msg_len + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
}

size_t weft_ctl_repl_dgram(const uint8_t *payload, size_t msg_len, uint8_t name_len,
			   const struct weft_ctl_req_id *rid, size_t idx, uint8_t *out)
{
	struct weft_wire_hdr h;
	size_t from = idx * WEFT_MAX_DGRAM_PAYLOAD;
	size_t to = from + WEFT_MAX_DGRAM_PAYLOAD < msg_len ? from + WEFT_MAX_DGRAM_PAYLOAD
							      : msg_len;

	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = WEFT_OP_REPLICATE;
	h.flags = WEFT_F_NODE;
	h.name_len = name_len;
	h.extras_len = sizeof(struct weft_x_replicate);
	h.client_id = rid->client_id;
	h.request_id = rid->request_id;
	h.epoch = rid->epoch;
	h.msg_len = (uint32_t)msg_len;
	h.frag_offset = (uint32_t)from;
	memcpy(out, &h, sizeof(h));
	if (to > from)
		memcpy(out + sizeof(h), payload + from, to - from);
	return sizeof(h) + (to > from ? to - from : 0);
}

bool weft_ctl_repl_parse_ack(const uint8_t *d, size_t len, struct weft_ctl_req_id *rid,
			     uint16_t *status, struct weft_x_repl_ack *ack)
{
	struct weft_wire_hdr h;

	if (len < sizeof(h))
		return false;
	memcpy(&h, d, sizeof(h));
	if (h.magic != WEFT_WIRE_MAGIC || h.version != WEFT_WIRE_VERSION ||
	    !(h.flags & WEFT_F_RESPONSE) || h.opcode != WEFT_OP_REPLICATE ||
	    h.frag_offset != 0 || h.msg_len != len - sizeof(h))
		return false;
	rid->client_id = h.client_id;
	rid->request_id = h.request_id;
	rid->epoch = h.epoch;
	*status = h.status;
	memset(ack, 0, sizeof(*ack));
	if (h.extras_len == sizeof(*ack) &&
	    (size_t)h.name_len + h.key_len + sizeof(*ack) <= h.msg_len)
		memcpy(ack, d + sizeof(h) + h.name_len + h.key_len, sizeof(*ack));
	return true;
}
