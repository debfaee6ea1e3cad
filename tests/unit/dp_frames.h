/*
 * dp_frames.h — frame-building helpers shared by the dataplane's unit tests
 * (test_dp_parse, test_dp_serve, test_dp_ctl): big-endian 16-bit fields, the
 * Internet checksum, and an Ethernet + IPv4 + UDP frame around a payload.
 * Test-only; header-only so each test stays one executable.
 */
#ifndef WEFT_TESTS_DP_FRAMES_H
#define WEFT_TESTS_DP_FRAMES_H

#include <stdint.h>
#include <string.h>

#include "dp_internal.h"

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* One's-complement sum of len bytes, folded (0xffff over a valid header). */
static inline uint32_t csum(const uint8_t *p, uint32_t len)
{
	uint32_t s = 0;
	for (uint32_t i = 0; i + 1 < len; i += 2)
		s += rd16(p + i);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/* Writes dst_mac <- src_mac, src_ip:sport -> dst_ip:dport UDP around
 * payload into f (room for 42 + plen bytes), with a valid IPv4 checksum and
 * udp_csum as the UDP checksum field (the node does not verify it). Returns
 * the frame length. */
static inline uint32_t frame_udp(uint8_t *f, const uint8_t dst_mac[6], const uint8_t src_mac[6],
				 const uint8_t src_ip[4], const uint8_t dst_ip[4], uint16_t sport,
				 uint16_t dport, uint16_t udp_csum, const void *payload,
				 uint32_t plen)
{
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	wr16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)(28 + plen));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, src_ip, 4);
	memcpy(ip + 16, dst_ip, 4);
	dp_ipv4_finish(ip);
	wr16(ip + 20, sport);
	wr16(ip + 22, dport);
	wr16(ip + 24, (uint16_t)(8 + plen));
	wr16(ip + 26, udp_csum);
	memcpy(ip + 28, payload, plen);
	return 42 + plen;
}

#endif /* WEFT_TESTS_DP_FRAMES_H */
