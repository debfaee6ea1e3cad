/*
 * auth.c — libweft's client key (docs/client.md; wire.h "Trailers"): the
 * key a client loads at connect (opts.key_file, by default the file
 * WEFT_CLIENT_KEY_FILE names), sealing every datagram it sends with a
 * CLIENT trailer (after the cookie: the trailer is always last), and
 * verifying every datagram it receives before anything else reads it.
 *
 * Invariants: with a key, a received datagram is used only if its
 * trailer verifies (the node seals its answers to an authenticated
 * request with the same key) — except a bare 40-byte UNAUTHORIZED answer,
 * which a node without our key sends unsealed and which can only make
 * the call fail; anything else is dropped, counted in c->ignored and
 * c->auth_refused, like a stray datagram. Without a key nothing changes.
 * Clients over a transport (in-node clients) never use a key: their node
 * trusts them and seals what leaves it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

int weft_auth_load(struct weft_client *c, const char *path)
{
	if (path == NULL || path[0] == '\0')
		return 0;
	int rc = weft_sec_key_load(&c->key, path, WEFT_AUTH_CLIENT, WEFT_AUTH_MAC, NULL, 0);
	if (rc != 0)
		return rc;
	weft_sec_tx_init(&c->sec_tx);
	c->has_key = true;
	return 0;
}

size_t weft_auth_seal(struct weft_client *c, size_t len)
{
	if (!c->has_key)
		return len;
	return weft_sec_seal(&c->key, &c->sec_tx, weft_sec_now_ms(), true, c->tx, len);
}

bool weft_auth_open(struct weft_client *c, size_t *len)
{
	if (!c->has_key)
		return true;
	struct weft_wire_hdr h;
	if (*len == sizeof(h)) {
		memcpy(&h, c->rx, sizeof(h));
		if (h.magic == WEFT_WIRE_MAGIC && (h.flags & WEFT_F_RESPONSE) &&
		    !(h.flags & WEFT_F_AUTH) && h.status == WEFT_ST_UNAUTHORIZED)
			return true; /* our key is not the node's (or it has none) */
	}
	size_t plain;
	uint8_t kind;
	if (weft_sec_open(NULL, &c->key, weft_sec_now_ms(), true, c->rx, *len, &plain, &kind) !=
	    WEFT_SEC_OK) {
		c->auth_refused++;
		return false;
	}
	*len = plain;
	return true;
}

int weft_key_generate(const char *path, char *err, size_t errlen)
{
	return weft_sec_key_generate(path, err, errlen);
}

int weft_key_check(const char *path, char *err, size_t errlen)
{
	struct weft_sec_key k;
	int rc = weft_sec_key_load(&k, path, WEFT_AUTH_CLIENT, WEFT_AUTH_MAC, err, errlen);
	weft_sec_key_wipe(&k);
	return rc;
}
