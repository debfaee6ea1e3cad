/*
 * weft-perf's two protocols, one datagram per request and per response:
 *  - weft: wire.h; GET = [name][key], PUT = [name][key][weft_x_write 0,0]
 *    [value], then F_COOKIE's trailer (the node's cookie for this address,
 *    or zeros: wire.h "Trailers"); the response status gives hit (OK), miss
 *    (NOT_FOUND), COOKIE (send again with the cookie it carries) or error.
 *  - memcached's UDP text protocol: an 8-byte frame header (request id,
 *    sequence number, total datagrams, reserved; big-endian u16 each) then
 *    "get KEY\r\n" or "set KEY 0 0 N\r\n<data>\r\n"; answers "VALUE ..."
 *    (hit), "END" (miss), "STORED", anything else is an error.
 * Invariants: encoders write at most wp_max_request_len() bytes; decoders
 * read only inside [d, d + len).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <weft/wire.h>

#include "weft_perf_internal.h"

#define MC_HDR 8u

static size_t digits(uint64_t v)
{
	size_t n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

size_t wp_max_request_len(const struct wp_config *cfg)
{
	if (cfg->proto == WP_PROTO_WEFT)
		return sizeof(struct weft_wire_hdr) + strlen(cfg->cache) + cfg->key_size +
		       sizeof(struct weft_x_write) + cfg->value_size + WEFT_COOKIE_LEN;
	/* "set " KEY " 0 0 " N "\r\n" DATA "\r\n" */
	return MC_HDR + 4 + cfg->key_size + 5 + digits(cfg->value_size) + 2 + cfg->value_size + 2;
}

size_t wp_max_response_len(const struct wp_config *cfg)
{
	if (cfg->proto == WP_PROTO_WEFT)
		return sizeof(struct weft_wire_hdr) + sizeof(struct weft_x_version) + cfg->value_size;
	/* "VALUE " KEY " 0 " N "\r\n" DATA "\r\nEND\r\n" */
	return MC_HDR + 6 + cfg->key_size + 3 + digits(cfg->value_size) + 2 + cfg->value_size + 7;
}

static size_t encode_weft(const struct wp_config *cfg, uint32_t client_id, uint64_t req_id,
			  bool is_get, uint64_t key_idx, const uint8_t *value,
			  const uint8_t *cookie, uint8_t *out)
{
	struct weft_wire_hdr h = {
		.magic = WEFT_WIRE_MAGIC, .version = WEFT_WIRE_VERSION,
		.opcode = is_get ? WEFT_OP_GET : WEFT_OP_PUT, .flags = WEFT_F_COOKIE,
		.client_id = client_id, .request_id = req_id,
	};
	size_t nl = strlen(cfg->cache);
	uint8_t *p = out + sizeof(h);

	h.name_len = (uint8_t)nl;
	h.key_len = (uint16_t)cfg->key_size;
	memcpy(p, cfg->cache, nl);
	p += nl;
	wp_key((char *)p, cfg->key_size, key_idx);
	p += cfg->key_size;
	if (!is_get) {
		struct weft_x_write x = { 0 };
		h.extras_len = sizeof(x);
		memcpy(p, &x, sizeof(x));
		p += sizeof(x);
		memcpy(p, value, cfg->value_size);
		p += cfg->value_size;
	}
	h.msg_len = (uint32_t)(p - out - sizeof(h));
	memcpy(out, &h, sizeof(h));
	wp_cookie_put(p, cookie);
	return (size_t)(p + WEFT_COOKIE_LEN - out);
}

void wp_cookie_put(uint8_t *trailer, const uint8_t *cookie)
{
	if (cookie != NULL)
		memcpy(trailer, cookie, WEFT_COOKIE_LEN);
	else
		memset(trailer, 0, WEFT_COOKIE_LEN);
}

bool wp_weft_cookie(const uint8_t *d, size_t len, uint8_t out[WEFT_COOKIE_LEN])
{
	if (len < sizeof(struct weft_wire_hdr) + WEFT_COOKIE_LEN ||
	    !(d[offsetof(struct weft_wire_hdr, flags)] & WEFT_F_COOKIE))
		return false;
	memcpy(out, d + len - WEFT_COOKIE_LEN, WEFT_COOKIE_LEN);
	return true;
}

static size_t encode_memcached(const struct wp_config *cfg, uint64_t req_id, bool is_get,
			       uint64_t key_idx, const uint8_t *value, uint8_t *out)
{
	uint8_t *p = out;
	p[0] = (uint8_t)(req_id >> 8);
	p[1] = (uint8_t)req_id;
	p[2] = 0; /* sequence 0 */
	p[3] = 0;
	p[4] = 0; /* 1 datagram */
	p[5] = 1;
	p[6] = 0;
	p[7] = 0;
	p += MC_HDR;
	memcpy(p, is_get ? "get " : "set ", 4);
	p += 4;
	wp_key((char *)p, cfg->key_size, key_idx);
	p += cfg->key_size;
	if (is_get) {
		memcpy(p, "\r\n", 2);
		return (size_t)(p + 2 - out);
	}
	p += sprintf((char *)p, " 0 0 %u\r\n", cfg->value_size);
	memcpy(p, value, cfg->value_size);
	p += cfg->value_size;
	memcpy(p, "\r\n", 2);
	return (size_t)(p + 2 - out);
}

size_t wp_encode(const struct wp_config *cfg, uint32_t client_id, uint64_t req_id, bool is_get,
		 uint64_t key_idx, const uint8_t *value, const uint8_t *cookie, uint8_t *out)
{
	if (cfg->proto == WP_PROTO_WEFT)
		return encode_weft(cfg, client_id, req_id, is_get, key_idx, value, cookie, out);
	return encode_memcached(cfg, req_id, is_get, key_idx, value, out);
}

uint32_t wp_weft_epoch(const uint8_t *d, size_t len)
{
	struct weft_wire_hdr h;
	if (len < sizeof(h))
		return 0;
	memcpy(&h, d, sizeof(h));
	return h.epoch;
}

static bool starts(const uint8_t *d, size_t len, const char *s)
{
	size_t n = strlen(s);
	return len >= n && memcmp(d, s, n) == 0;
}

bool wp_decode(const struct wp_config *cfg, uint32_t client_id, const uint8_t *d, size_t len,
	       uint64_t *req_id, enum wp_result *res)
{
	if (cfg->proto == WP_PROTO_WEFT) {
		struct weft_wire_hdr h;
		if (len < sizeof(h))
			return false;
		memcpy(&h, d, sizeof(h));
		if (h.magic != WEFT_WIRE_MAGIC || !(h.flags & WEFT_F_RESPONSE) ||
		    h.client_id != client_id)
			return false;
		if ((h.flags & WEFT_F_COOKIE) && len >= sizeof(h) + WEFT_COOKIE_LEN)
			len -= WEFT_COOKIE_LEN; /* the trailer (wp_weft_cookie reads it) */
		*req_id = h.request_id;
		if (h.status == WEFT_ST_COOKIE)
			*res = WP_R_COOKIE;
		else if (h.status == WEFT_ST_OK && h.msg_len == len - sizeof(h))
			*res = h.opcode == WEFT_OP_GET ? WP_R_HIT : WP_R_STORED;
		else if (h.status == WEFT_ST_NOT_FOUND)
			*res = WP_R_MISS;
		else
			*res = WP_R_ERROR;
		return true;
	}
	if (len < MC_HDR || d[2] != 0 || d[3] != 0) /* only sequence 0 completes */
		return false;
	*req_id = (uint64_t)d[0] << 8 | d[1];
	d += MC_HDR;
	len -= MC_HDR;
	if (starts(d, len, "VALUE "))
		*res = WP_R_HIT;
	else if (starts(d, len, "END\r\n"))
		*res = WP_R_MISS;
	else if (starts(d, len, "STORED\r\n"))
		*res = WP_R_STORED;
	else
		*res = WP_R_ERROR;
	return true;
}
