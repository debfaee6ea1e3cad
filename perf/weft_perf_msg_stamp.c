/*
 * weft_perf_msg_stamp.c — the send stamp weft-perf --msg and
 * redis_msg_bench put at the start of every message body: who sent it
 * (publisher index, sequence number) and when (CLOCK_MONOTONIC ns), so a
 * receiver in the same process computes the end-to-end latency as its own
 * clock minus the stamp, whatever the system in between did with the body.
 *
 * Invariants: pure; the encoding is fixed little-endian whatever the host;
 * the filler after the stamp is written once per publisher buffer (a
 * function of the publisher and the offset), the stamp once per message,
 * so a 4 KiB body costs the publisher 24 bytes of writing, not 4 KiB.
 */
#include <errno.h>
#include <string.h>

#include "weft_perf_msg_internal.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void wp_msg_fill(uint8_t *body, size_t len, uint32_t publisher)
{
	for (size_t i = WP_MSG_STAMP_LEN; i < len; i++)
		body[i] = (uint8_t)('a' + (publisher + i) % 26);
}

void wp_msg_stamp_write(uint8_t *body, const struct wp_msg_stamp *s)
{
	put32(body, WP_MSG_STAMP_MAGIC);
	put32(body + 4, s->publisher);
	put64(body + 8, s->seq);
	put64(body + 16, s->sent_ns);
}

int wp_msg_stamp_read(const void *body, size_t len, struct wp_msg_stamp *s)
{
	const uint8_t *b = body;
	if (body == NULL || len < WP_MSG_STAMP_LEN || get32(b) != WP_MSG_STAMP_MAGIC)
		return -EINVAL;
	s->publisher = get32(b + 4);
	s->seq = get64(b + 8);
	s->sent_ns = get64(b + 16);
	return 0;
}
