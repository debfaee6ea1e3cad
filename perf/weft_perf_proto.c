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
 *  - multi-key gets (--mget N): weft's MULTI_GET, [name][u16 N][N x (u16
 *    key_len, key)], answered with one entry per key (wire.h); memcached's
 *    "get k1 .. kN\r\n", answered (memcached 1.6 over UDP) with several
 *    datagrams, all sequence 0 of 1: one per key ("VALUE ..." block, or just
 *    the 8-byte header for a missing key), the last one ending "END\r\n"
 *    (wp_decode_mc_mget).
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

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

size_t wp_max_request_len(const struct wp_config *cfg)
{
	size_t m = cfg->mget;
	if (cfg->proto == WP_PROTO_WEFT)
		return max_size(sizeof(struct weft_wire_hdr) + strlen(cfg->cache) + cfg->key_size +
					sizeof(struct weft_x_write) + cfg->value_size,
				sizeof(struct weft_wire_hdr) + strlen(cfg->cache) + 2 +
					m * (2 + cfg->key_size)) +
		       WEFT_COOKIE_LEN;
	/* "set " KEY " 0 0 " N "\r\n" DATA "\r\n"  |  "get" N x (" " KEY) "\r\n" */
	return MC_HDR + max_size(4 + cfg->key_size + 5 + digits(cfg->value_size) + 2 +
					 cfg->value_size + 2,
				 3 + m * (1 + cfg->key_size) + 2);
}

size_t wp_max_response_len(const struct wp_config *cfg)
{
	size_t m = cfg->mget ? cfg->mget : 1;
	if (cfg->proto == WP_PROTO_WEFT)
		return max_size(sizeof(struct weft_wire_hdr) + sizeof(struct weft_x_version) +
					cfg->value_size,
				sizeof(struct weft_wire_hdr) + 2 +
					m * (sizeof(struct weft_mget_entry_hdr) + cfg->key_size +
					     cfg->value_size));
	/* N x ("VALUE " KEY " 0 " N "\r\n" DATA "\r\n") "END\r\n" */
	return MC_HDR + m * (6 + cfg->key_size + 3 + digits(cfg->value_size) + 2 +
			     cfg->value_size + 2) + 5;
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

size_t wp_encode_mget(const struct wp_config *cfg, uint32_t client_id, uint64_t req_id,
		      const uint64_t *keys, const uint8_t *cookie, uint8_t *out)
{
	if (cfg->proto == WP_PROTO_MEMCACHED) {
		uint8_t *p = out;
		size_t n = encode_memcached(cfg, req_id, true, keys[0], NULL, out);
		p += n - 2; /* before "\r\n" */
		for (unsigned i = 1; i < cfg->mget; i++) {
			*p++ = ' ';
			wp_key((char *)p, cfg->key_size, keys[i]);
			p += cfg->key_size;
		}
		memcpy(p, "\r\n", 2);
		return (size_t)(p + 2 - out);
	}
	struct weft_wire_hdr h = {
		.magic = WEFT_WIRE_MAGIC, .version = WEFT_WIRE_VERSION,
		.opcode = WEFT_OP_MULTI_GET, .flags = WEFT_F_COOKIE,
		.client_id = client_id, .request_id = req_id,
	};
	size_t nl = strlen(cfg->cache);
	uint8_t *p = out + sizeof(h);
	uint16_t count = (uint16_t)cfg->mget, kl = (uint16_t)cfg->key_size;
	h.name_len = (uint8_t)nl;
	memcpy(p, cfg->cache, nl);
	p += nl;
	memcpy(p, &count, 2);
	p += 2;
	for (unsigned i = 0; i < cfg->mget; i++) {
		memcpy(p, &kl, 2);
		wp_key((char *)p + 2, cfg->key_size, keys[i]);
		p += 2 + cfg->key_size;
	}
	h.msg_len = (uint32_t)(p - out - sizeof(h));
	memcpy(out, &h, sizeof(h));
	wp_cookie_put(p, cookie);
	return (size_t)(p + WEFT_COOKIE_LEN - out);
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

/* A MULTI_GET response value (n bytes at v): HIT when it holds its count
 * of well-formed entries, each OK; MISS when well-formed with any other
 * status; ERROR when malformed. */
static enum wp_result mget_result(const uint8_t *v, size_t n)
{
	uint16_t count;
	size_t pos = 2;
	bool all = true;
	if (n < 2)
		return WP_R_ERROR;
	memcpy(&count, v, 2);
	for (unsigned i = 0; i < count; i++) {
		struct weft_mget_entry_hdr e;
		if (n - pos < sizeof(e))
			return WP_R_ERROR;
		memcpy(&e, v + pos, sizeof(e));
		pos += sizeof(e);
		if (n - pos < (size_t)e.key_len + e.value_len)
			return WP_R_ERROR;
		pos += (size_t)e.key_len + e.value_len;
		all = all && e.status == WEFT_ST_OK;
	}
	return pos == n ? (all ? WP_R_HIT : WP_R_MISS) : WP_R_ERROR;
}

bool wp_decode_mc_mget(const uint8_t *d, size_t len, uint64_t *req_id, unsigned *values,
		       bool *end)
{
	if (len < MC_HDR || d[2] != 0 || d[3] != 0)
		return false;
	*req_id = (uint64_t)d[0] << 8 | d[1];
	d += MC_HDR;
	len -= MC_HDR;
	*values = 0;
	for (size_t i = 0; i + 6 <= len; i++)
		if ((i == 0 || d[i - 1] == '\n') && memcmp(d + i, "VALUE ", 6) == 0)
			(*values)++;
	*end = len >= 5 && memcmp(d + len - 5, "END\r\n", 5) == 0;
	return true;
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
		else if (h.status == WEFT_ST_OK && h.msg_len == len - sizeof(h) &&
			 h.opcode == WEFT_OP_MULTI_GET)
			*res = mget_result(d + sizeof(h), h.msg_len);
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
