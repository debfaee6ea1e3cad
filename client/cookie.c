/*
 * libweft address validation (wire.h "Trailers", F_COOKIE): the cookie
 * each node minted for this client's address, kept per node address, and
 * the trailer on every datagram the client sends.
 *
 * Invariants:
 *  - Every datagram libweft sends (requests, their retransmissions and
 *    FETCHes) carries F_COOKIE and WEFT_COOKIE_LEN bytes: the cookie the
 *    node at that address last gave, or zeros when none is known yet (the
 *    node then answers COOKIE with one; call.c resends at once, at most
 *    WEFT_COOKIE_TRIPS times per call).
 *  - The cache has WEFT_COOKIE_SLOTS entries; a new address replaces the
 *    oldest entry (it costs that node one more round trip later).
 */
#include <string.h>

#include "client_internal.h"

static struct weft_cookie_slot *find(struct weft_client *c, const struct sockaddr_in *to)
{
	for (unsigned i = 0; i < WEFT_COOKIE_SLOTS; i++) {
		struct weft_cookie_slot *s = &c->cookies[i];
		if (s->used && s->ip == to->sin_addr.s_addr && s->port == to->sin_port)
			return s;
	}
	return NULL;
}

size_t weft_cookie_append(struct weft_client *c, const struct sockaddr_in *to, size_t len)
{
	const struct weft_cookie_slot *s = find(c, to);
	if (s != NULL)
		memcpy(c->tx + len, s->cookie, WEFT_COOKIE_LEN);
	else
		memset(c->tx + len, 0, WEFT_COOKIE_LEN);
	c->tx[offsetof(struct weft_wire_hdr, flags)] |= WEFT_F_COOKIE;
	return len + WEFT_COOKIE_LEN;
}

bool weft_cookie_strip(const uint8_t *d, size_t *len, uint8_t cookie[WEFT_COOKIE_LEN])
{
	if (*len < sizeof(struct weft_wire_hdr) + WEFT_COOKIE_LEN ||
	    !(d[offsetof(struct weft_wire_hdr, flags)] & WEFT_F_COOKIE))
		return false;
	*len -= WEFT_COOKIE_LEN;
	memcpy(cookie, d + *len, WEFT_COOKIE_LEN);
	return true;
}

void weft_cookie_store(struct weft_client *c, const struct sockaddr_in *to,
		       const uint8_t cookie[WEFT_COOKIE_LEN])
{
	struct weft_cookie_slot *s = find(c, to);
	if (s == NULL) {
		s = &c->cookies[c->cookie_next];
		c->cookie_next = (c->cookie_next + 1) % WEFT_COOKIE_SLOTS;
		s->used = true;
		s->ip = to->sin_addr.s_addr;
		s->port = to->sin_port;
	}
	memcpy(s->cookie, cookie, WEFT_COOKIE_LEN);
}
