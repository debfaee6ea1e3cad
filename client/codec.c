/*
 * libweft datagram codec: request messages → datagrams, and the check that a
 * received datagram is the response being awaited. Pure functions (no
 * socket, no clock), unit-tested byte by byte against wire.h.
 *
 * Invariants:
 *  - Datagram idx carries payload [idx * WEFT_MAX_DGRAM_PAYLOAD, ...), so
 *    every frag_offset is a multiple of WEFT_MAX_DGRAM_PAYLOAD and datagram 0
 *    holds name + key + extras whole (callers keep them under 1368 bytes:
 *    64 + 250 + the largest extras, 48).
 *  - Headers are written field by field in little-endian, which on the
 *    little-endian hosts weft supports is the struct's own layout.
 */
#include <string.h>

#include "client_internal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "wire.h is little-endian; add byte swaps for big-endian hosts");

size_t weft_msg_len(const struct weft_msg *m)
{
	return m->name_len + m->key_len + m->extras_len + m->value_len;
}

size_t weft_msg_dgram_count(const struct weft_msg *m)
{
	size_t len = weft_msg_len(m);
	return len == 0 ? 1 : (len + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
}

static void fill_hdr(struct weft_wire_hdr *h, uint8_t opcode, uint8_t flags, uint32_t client_id,
		     uint64_t request_id)
{
	memset(h, 0, sizeof(*h));
	h->magic = WEFT_WIRE_MAGIC;
	h->version = WEFT_WIRE_VERSION;
	h->opcode = opcode;
	h->flags = flags;
	h->client_id = client_id;
	h->request_id = request_id;
}

/* Copies the part of segment [seg, seg + seg_len) at message offset base that
 * falls in [from, to) into out (which holds message offset from). */
static void copy_seg(uint8_t *out, size_t from, size_t to, const void *seg, size_t base,
		     size_t seg_len)
{
	size_t lo = base > from ? base : from;
	size_t hi = base + seg_len < to ? base + seg_len : to;
	if (lo < hi)
		memcpy(out + (lo - from), (const uint8_t *)seg + (lo - base), hi - lo);
}

size_t weft_msg_encode(const struct weft_msg *m, uint32_t client_id, uint64_t request_id,
		       uint8_t flags, size_t idx, uint8_t *out)
{
	struct weft_wire_hdr *h = (struct weft_wire_hdr *)out;
	size_t total = weft_msg_len(m);
	size_t from = idx * WEFT_MAX_DGRAM_PAYLOAD;
	size_t to = from + WEFT_MAX_DGRAM_PAYLOAD < total ? from + WEFT_MAX_DGRAM_PAYLOAD : total;

	fill_hdr(h, m->opcode, flags, client_id, request_id);
	h->name_len = (uint8_t)m->name_len;
	h->key_len = (uint16_t)m->key_len;
	h->extras_len = (uint16_t)m->extras_len;
	h->msg_len = (uint32_t)total;
	h->frag_offset = (uint32_t)from;
	h->epoch = m->epoch;

	uint8_t *p = out + sizeof(*h);
	size_t base = 0;
	copy_seg(p, from, to, m->name, base, m->name_len);
	base += m->name_len;
	copy_seg(p, from, to, m->key, base, m->key_len);
	base += m->key_len;
	copy_seg(p, from, to, m->extras, base, m->extras_len);
	base += m->extras_len;
	copy_seg(p, from, to, m->value, base, m->value_len);
	return sizeof(*h) + (to - from);
}

size_t weft_fetch_encode(uint32_t client_id, uint64_t request_id, uint8_t flags,
			 uint32_t offset, uint32_t count, uint8_t *out)
{
	struct weft_wire_hdr *h = (struct weft_wire_hdr *)out;
	struct weft_x_fetch x = { .offset = offset, .count = count };

	fill_hdr(h, WEFT_OP_FETCH, flags, client_id, request_id);
	h->extras_len = sizeof(x);
	h->msg_len = sizeof(x);
	memcpy(out + sizeof(*h), &x, sizeof(x));
	return sizeof(*h) + sizeof(x);
}

bool weft_resp_matches(const uint8_t *d, size_t len, uint32_t client_id, uint64_t request_id,
		       uint8_t opcode)
{
	struct weft_wire_hdr h;

	if (len < sizeof(h))
		return false;
	memcpy(&h, d, sizeof(h));
	if (!(h.flags & WEFT_F_RESPONSE) || h.client_id != client_id ||
	    h.request_id != request_id)
		return false;
	if (h.opcode != opcode && h.opcode != WEFT_OP_FETCH)
		return false;
	/* Responses never set WEFT_F_NODE; it is a known flag, so one that did
	 * is still taken. */
	if (h.magic != WEFT_WIRE_MAGIC || h.version != WEFT_WIRE_VERSION ||
	    (h.flags & ~WEFT_F__KNOWN) || h.name_len > WEFT_MAX_NAME_LEN ||
	    h.key_len > WEFT_MAX_KEY_LEN || h.msg_len > WEFT_MAX_RESP_LEN)
		return false;
	size_t slice = len - sizeof(h);
	uint64_t head = (uint64_t)h.name_len + h.key_len + h.extras_len;
	if (slice > WEFT_MAX_DGRAM_PAYLOAD || head > h.msg_len ||
	    (uint64_t)h.frag_offset + slice > h.msg_len)
		return false;
	return h.frag_offset != 0 || head <= slice; /* piece 0 holds the head */
}

int weft_check_name_key(const char *name, const void *key, size_t key_len)
{
	if (name == NULL || key == NULL)
		return -WEFT_ST_INVALID_ARG;
	size_t n = strnlen(name, WEFT_MAX_NAME_LEN + 1);
	if (n == 0 || n > WEFT_MAX_NAME_LEN)
		return -WEFT_ST_INVALID_ARG;
	if (key_len == 0 || key_len > WEFT_MAX_KEY_LEN)
		return -WEFT_ST_INVALID_ARG;
	return 0;
}
