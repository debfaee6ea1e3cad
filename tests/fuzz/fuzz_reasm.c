/*
 * fuzz_reasm.c — libFuzzer target for multi-datagram request reassembly
 * (dataplane/dp_reasm.c) against a shadow model of what it promises.
 *
 * Input: byte 0 picks the bounds (bit 0 clear: weftd's real ones, 64 MiB
 * and 4096 entries as dp_setup.c creates the table; set: 8 MiB and 16
 * entries, so the entry bounds are reached too). Then 8-byte records:
 *   b0 & 3 == 0 or 1: a piece. Source s = (b0 >> 2) & 3 (sources 0 and 1
 *     share an IPv4 address with different ports: one source for the
 *     bounds), request id b1 & 31, msg_len from b2..b4 (b0 & 0x10: 16 bits,
 *     else 24 bits, both modulo WEFT_MAX_MSG_LEN + 1), slot from b5..b6,
 *     b0 & 0x20: offset off the slot boundary by b7 >> 2, b7 & 3: slice
 *     length exact / a full 1368 / short (b7 >> 2) / one more than exact;
 *     b0 & 0x40: opcode CAS instead of PUT, b0 & 0x80: extras 8 not 16.
 *     A piece whose header fails weft_wire_check is skipped (the caller
 *     never passes one). Payload bytes are a function of (source, id,
 *     offset), so a whole message has known contents.
 *   b0 & 3 == 2: time advances by b1 | b2 << 8 ms, then dp_reasm_expire.
 *   b0 & 3 == 3: time advances by WEFT_REASM_TIMEOUT_MS + 1 (b1 & 1) or
 *     not, then dp_reasm_expire.
 *
 * Asserted (abort on violation): every result is the one the model
 * predicts (stored, duplicate, complete, busy, mismatch, misaligned); a
 * COMPLETE message equals the bytes put in; the table's entries and bytes
 * equal the model's and stay within the global bounds, and each source's
 * within its share (dp_tables.h DP_REASM_SRC_SHARE); dp_reasm_expire drops
 * exactly the entries idle for more than WEFT_REASM_TIMEOUT_MS or older
 * than DP_REASM_MAX_AGE_MS. The table is destroyed at the end (ASan's leak
 * check covers the buffers of incomplete messages).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_tables.h"

#define P WEFT_MAX_DGRAM_PAYLOAD
#define NSRC 4u
#define NRID 32u
#define MAX_SLOTS ((WEFT_MAX_MSG_LEN + P - 1) / P)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct shadow {
	bool active;
	uint8_t opcode;
	uint16_t extras_len;
	uint32_t msg_len, have, slots;
	uint64_t first_ms, last_ms;
	uint8_t got[MAX_SLOTS];
};

static struct shadow model[NSRC][NRID];

static void check(int ok)
{
	if (!ok)
		abort();
}

static uint32_t src_ip(unsigned s)
{
	return s < 2 ? 0x0100eb0au : 0x0100eb0au + ((uint32_t)s << 24);
}

static uint8_t content(unsigned s, unsigned rid, uint32_t off)
{
	return (uint8_t)(off * 131u + s * 29u + rid * 7u + (off >> 8));
}

/* The model's sums for one bound group: all (ip 0) or one source address. */
static void sums(bool all, uint32_t ip, uint64_t *bytes, unsigned *entries)
{
	*bytes = 0;
	*entries = 0;
	for (unsigned s = 0; s < NSRC; s++)
		for (unsigned i = 0; i < NRID; i++)
			if (model[s][i].active && (all || src_ip(s) == ip)) {
				*bytes += model[s][i].msg_len;
				(*entries)++;
			}
}

struct bounds {
	uint64_t bytes, src_bytes;
	unsigned entries, src_entries;
};

static void bounds_of(struct bounds *b, uint64_t bytes, unsigned entries)
{
	b->bytes = bytes;
	b->entries = entries;
	b->src_bytes = bytes / DP_REASM_SRC_SHARE;
	if (b->src_bytes < WEFT_MAX_MSG_LEN)
		b->src_bytes = WEFT_MAX_MSG_LEN < bytes ? WEFT_MAX_MSG_LEN : bytes;
	b->src_entries = entries / DP_REASM_SRC_SHARE;
	unsigned least = entries < DP_REASM_SRC_MIN_ENTRIES ? entries : DP_REASM_SRC_MIN_ENTRIES;
	if (b->src_entries < least)
		b->src_entries = least;
}

static void check_table(struct dp_reasm *r, const struct bounds *b)
{
	struct dp_reasm_stats st;
	dp_reasm_get_stats(r, &st);
	uint64_t bytes;
	unsigned entries;
	sums(true, 0, &bytes, &entries);
	check(st.bytes == bytes && st.entries == entries);
	check(bytes <= b->bytes && entries <= b->entries);
	for (unsigned s = 1; s < NSRC; s++) {
		sums(false, src_ip(s), &bytes, &entries);
		check(bytes <= b->src_bytes && entries <= b->src_entries);
	}
}

static enum dp_reasm_result predict(const struct bounds *b, unsigned s, unsigned rid,
				    const struct weft_wire_hdr *h, uint32_t slice_len)
{
	if (h->frag_offset % P != 0 || slice_len == 0 ||
	    (slice_len != P && h->frag_offset + slice_len != h->msg_len))
		return DP_REASM_MISALIGNED;
	struct shadow *m = &model[s][rid];
	uint32_t slot = h->frag_offset / P;
	if (!m->active) {
		uint64_t bytes, src_bytes;
		unsigned entries, src_entries;
		sums(true, 0, &bytes, &entries);
		sums(false, src_ip(s), &src_bytes, &src_entries);
		if (entries >= b->entries || bytes + h->msg_len > b->bytes)
			return DP_REASM_BUSY;
		if (src_entries > 0 && (src_entries >= b->src_entries ||
					src_bytes + h->msg_len > b->src_bytes))
			return DP_REASM_BUSY;
		uint32_t slots = (h->msg_len + P - 1) / P;
		return slots == 1 ? DP_REASM_COMPLETE : DP_REASM_STORED;
	}
	if (m->msg_len != h->msg_len || m->opcode != h->opcode || m->extras_len != h->extras_len)
		return DP_REASM_MISMATCH;
	if (m->got[slot])
		return DP_REASM_DUPLICATE;
	return m->have + 1 == m->slots ? DP_REASM_COMPLETE : DP_REASM_STORED;
}

static void piece(struct dp_reasm *r, const struct bounds *b, const uint8_t *rec, uint64_t now)
{
	unsigned s = (rec[0] >> 2) & 3, rid = rec[1] & (NRID - 1);
	uint32_t len = rec[2] | (uint32_t)rec[3] << 8;
	if (!(rec[0] & 0x10))
		len |= (uint32_t)rec[4] << 16;
	len %= WEFT_MAX_MSG_LEN + 1;
	uint32_t slots = (len + P - 1) / P;
	if (slots == 0)
		return;
	uint32_t slot = (rec[5] | (uint32_t)rec[6] << 8) % slots;
	uint32_t off = slot * P + ((rec[0] & 0x20) ? rec[7] >> 2 : 0);
	if (off >= len)
		return;
	uint32_t exact = len - off < P ? len - off : P, slice;
	switch (rec[7] & 3) {
	case 0: slice = exact; break;
	case 1: slice = P; break;
	case 2: slice = rec[7] >> 2; break;
	default: slice = exact + 1; break;
	}
	struct weft_wire_hdr h;
	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = (rec[0] & 0x40) ? WEFT_OP_CAS : WEFT_OP_PUT;
	h.name_len = 1;
	h.key_len = 1;
	h.extras_len = (rec[0] & 0x80) ? 8 : 16;
	h.msg_len = len;
	h.frag_offset = off;
	if (weft_wire_check(&h, sizeof(h) + slice) != WEFT_ST_OK)
		return;
	static uint8_t buf[P];
	for (uint32_t i = 0; i < slice; i++)
		buf[i] = content(s, rid, off + i);
	struct dp_msg_id id = {.ip = src_ip(s), .port = (uint16_t)(1000 + s), .client_id = 7,
			       .request_id = rid};
	enum dp_reasm_result want = predict(b, s, rid, &h, slice);
	uint8_t *msg = NULL;
	struct weft_wire_hdr whole;
	enum dp_reasm_result got = dp_reasm_add(r, &id, &h, buf, slice, now, &msg, &whole);
	check(got == want);
	struct shadow *m = &model[s][rid];
	switch (got) {
	case DP_REASM_STORED:
		if (!m->active) {
			memset(m, 0, sizeof(*m));
			m->active = true;
			m->opcode = h.opcode;
			m->extras_len = h.extras_len;
			m->msg_len = len;
			m->slots = slots;
			m->first_ms = now;
		}
		m->got[slot] = 1;
		m->have++;
		m->last_ms = now;
		break;
	case DP_REASM_DUPLICATE:
		m->last_ms = now;
		break;
	case DP_REASM_COMPLETE:
		check(msg != NULL && whole.msg_len == len && whole.frag_offset == 0 &&
		      whole.opcode == h.opcode);
		for (uint32_t i = 0; i < len; i++)
			check(msg[i] == content(s, rid, i));
		free(msg);
		m->active = false;
		break;
	default:
		break;
	}
}

static void expire(struct dp_reasm *r, uint64_t now)
{
	unsigned want = 0;
	for (unsigned s = 0; s < NSRC; s++)
		for (unsigned i = 0; i < NRID; i++) {
			struct shadow *m = &model[s][i];
			if (m->active && ((now > m->last_ms && now - m->last_ms > WEFT_REASM_TIMEOUT_MS) ||
					  (now > m->first_ms && now - m->first_ms > DP_REASM_MAX_AGE_MS))) {
				m->active = false;
				want++;
			}
		}
	check(dp_reasm_expire(r, now) == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 8 * 4096)
		return 0;
	struct bounds b;
	if (data[0] & 1)
		bounds_of(&b, 8u << 20, 16);
	else
		bounds_of(&b, 64ull << 20, 4096); /* dp_setup.c's defaults */
	struct dp_reasm *r = dp_reasm_create(b.bytes, b.entries);
	if (r == NULL)
		return 0;
	memset(model, 0, sizeof(model));
	uint64_t now = 1000;
	for (size_t i = 1; i + 8 <= size; i += 8) {
		const uint8_t *rec = data + i;
		switch (rec[0] & 3) {
		case 0:
		case 1:
			piece(r, &b, rec, now);
			break;
		case 2:
			now += rec[1] | (uint32_t)rec[2] << 8;
			expire(r, now);
			break;
		default:
			now += (rec[1] & 1) ? WEFT_REASM_TIMEOUT_MS + 1 : 0;
			expire(r, now);
			break;
		}
		check_table(r, &b);
	}
	dp_reasm_destroy(r);
	return 0;
}
