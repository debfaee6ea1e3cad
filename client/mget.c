/*
 * libweft MULTI_GET bodies (layout in wire.h): the request's key list and
 * the response's entry list. Pure functions.
 *
 * Invariants: the decoder reads only inside [body, body + len), requires the
 * entries in request order with the request's keys echoed, and leaves a
 * value pointer into body (NULL for a miss).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

size_t weft_mget_encode(const struct weft_mget_item *items, size_t n, uint8_t **out)
{
	size_t len = sizeof(uint16_t);

	if (items == NULL || n == 0 || n > WEFT_MAX_MULTI_GET) {
		errno = EINVAL;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i].key == NULL || items[i].key_len == 0 ||
		    items[i].key_len > WEFT_MAX_KEY_LEN) {
			errno = EINVAL;
			return 0;
		}
		len += sizeof(uint16_t) + items[i].key_len;
	}
	uint8_t *p = malloc(len);
	if (p == NULL)
		return 0;
	*out = p;
	uint16_t u = (uint16_t)n;
	memcpy(p, &u, sizeof(u));
	p += sizeof(u);
	for (size_t i = 0; i < n; i++) {
		u = (uint16_t)items[i].key_len;
		memcpy(p, &u, sizeof(u));
		memcpy(p + sizeof(u), items[i].key, items[i].key_len);
		p += sizeof(u) + items[i].key_len;
	}
	return len;
}

int weft_mget_decode(const uint8_t *body, size_t len, struct weft_mget_item *items, size_t n)
{
	uint16_t count;
	size_t off = sizeof(count);

	if (len < sizeof(count))
		return -WEFT_ST_PROTOCOL;
	memcpy(&count, body, sizeof(count));
	if (count != n)
		return -WEFT_ST_PROTOCOL;
	for (size_t i = 0; i < n; i++) {
		struct weft_mget_entry_hdr e;
		if (len - off < sizeof(e))
			return -WEFT_ST_PROTOCOL;
		memcpy(&e, body + off, sizeof(e));
		off += sizeof(e);
		if (len - off < (size_t)e.key_len + e.value_len)
			return -WEFT_ST_PROTOCOL;
		if (e.key_len != items[i].key_len ||
		    memcmp(body + off, items[i].key, e.key_len) != 0)
			return -WEFT_ST_PROTOCOL;
		if (e.status != WEFT_ST_OK && e.value_len != 0)
			return -WEFT_ST_PROTOCOL;
		off += e.key_len;
		items[i].status = -(int)e.status;
		items[i].value = e.status == WEFT_ST_OK ? body + off : NULL;
		items[i].value_len = e.value_len;
		items[i].version = e.version;
		off += e.value_len;
	}
	return off == len ? 0 : -WEFT_ST_PROTOCOL;
}
