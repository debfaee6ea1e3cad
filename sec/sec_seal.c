/*
 * sec_seal.c — sealing and opening one datagram (sec.h; wire.h
 * "Trailers").
 *
 * Layout: [header 40 (WIRE only)][body][trailer: 32 bytes of fields, tag 16].
 *  MAC:  tag = BLAKE2b-128_key(everything before the tag);
 *  AEAD: body encrypted in place, nonce = sent_ms LE || salt (24 bytes),
 *        ad = header || trailer fields (RAW: trailer fields).
 *
 * Invariants: open reads only buf[0..len) and checks the cheap fields
 * (length, flag, kind, alg, key_id) before any cryptography; the tag is
 * compared in constant time (libsodium); the body is decrypted only after
 * the tag verified.
 */
#include <string.h>

#include <sodium.h>

#include "sec.h"

#define HDR_LEN ((uint32_t)sizeof(struct weft_wire_hdr))
#define FIELDS_LEN ((uint32_t)offsetof(struct weft_wire_auth, tag)) /* 32 */
#define TAG_LEN 16u

_Static_assert(offsetof(struct weft_wire_auth, tag) == 32, "trailer fields are 32 bytes");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == 24, "nonce = sent_ms || salt");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == TAG_LEN, "AEAD tag is 16 bytes");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == WEFT_AUTH_KEY_LEN, "key size");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "wire.h is little-endian");

static const char *const refusal_names[WEFT_SEC__COUNT] = {
	[WEFT_SEC_OK] = "ok",          [WEFT_SEC_MISSING] = "missing", [WEFT_SEC_KIND] = "kind",
	[WEFT_SEC_ALG] = "alg",        [WEFT_SEC_KEY_ID] = "key_id",   [WEFT_SEC_BAD_TAG] = "bad_tag",
	[WEFT_SEC_WINDOW] = "window",
};

const char *weft_sec_refusal_name(enum weft_sec_refusal r)
{
	return (unsigned)r < WEFT_SEC__COUNT ? refusal_names[r] : "?";
}

static void nonce_of(const struct weft_wire_auth *t, uint8_t nonce[24])
{
	memcpy(nonce, &t->sent_ms, 8);
	memcpy(nonce + 8, t->salt, 16);
}

/* ad = [header][trailer fields] (WIRE) or [trailer fields] (RAW). */
static size_t ad_of(bool wire, const uint8_t *buf, const uint8_t *fields, uint8_t ad[HDR_LEN + 32])
{
	size_t n = 0;
	if (wire) {
		memcpy(ad, buf, HDR_LEN);
		n = HDR_LEN;
	}
	memcpy(ad + n, fields, FIELDS_LEN);
	return n + FIELDS_LEN;
}

size_t weft_sec_seal(const struct weft_sec_key *k, struct weft_sec_tx *tx, uint64_t now_ms,
		     bool wire, uint8_t *buf, size_t len)
{
	if (wire)
		buf[offsetof(struct weft_wire_hdr, flags)] |= WEFT_F_AUTH;
	struct weft_wire_auth t;
	memset(&t, 0, sizeof(t));
	t.kind = k->kind;
	t.alg = k->alg;
	t.key_id = k->key_id;
	t.sent_ms = now_ms;
	memcpy(t.salt, tx->salt, 8);
	uint64_t ctr = tx->counter++;
	memcpy(t.salt + 8, &ctr, 8);
	uint8_t *tr = buf + len;
	memcpy(tr, &t, FIELDS_LEN);
	if (k->alg == WEFT_AUTH_AEAD) {
		uint8_t nonce[24], ad[HDR_LEN + 32];
		nonce_of(&t, nonce);
		size_t body = wire ? HDR_LEN : 0;
		size_t adlen = ad_of(wire, buf, tr, ad);
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
			buf + body, tr + FIELDS_LEN, NULL, buf + body, len - body, ad, adlen, NULL,
			nonce, k->key);
	} else {
		crypto_generichash(tr + FIELDS_LEN, TAG_LEN, buf, len + FIELDS_LEN, k->key,
				   WEFT_AUTH_KEY_LEN);
	}
	return len + WEFT_SEC_TRAILER_LEN;
}

enum weft_sec_refusal weft_sec_open(const struct weft_sec_key *cluster,
				    const struct weft_sec_key *client, uint64_t now_ms,
				    bool wire, uint8_t *buf, size_t len, size_t *plain_len,
				    uint8_t *kind)
{
	size_t min = (wire ? HDR_LEN : 0) + WEFT_SEC_TRAILER_LEN;
	if (len < min)
		return WEFT_SEC_MISSING;
	if (wire && !(buf[offsetof(struct weft_wire_hdr, flags)] & WEFT_F_AUTH))
		return WEFT_SEC_MISSING;
	size_t plain = len - WEFT_SEC_TRAILER_LEN;
	uint8_t *tr = buf + plain;
	struct weft_wire_auth t;
	memcpy(&t, tr, sizeof(t));
	if (t.kind != WEFT_AUTH_CLUSTER && t.kind != WEFT_AUTH_CLIENT)
		return wire ? WEFT_SEC_KIND : WEFT_SEC_MISSING; /* RAW: no flag; no trailer */
	const struct weft_sec_key *k = t.kind == WEFT_AUTH_CLUSTER ? cluster
				       : t.kind == WEFT_AUTH_CLIENT ? client
								    : NULL;
	if (k == NULL)
		return WEFT_SEC_KIND;
	if (t.alg != k->alg)
		return WEFT_SEC_ALG;
	if (t.key_id != k->key_id)
		return WEFT_SEC_KEY_ID;
	if (k->alg == WEFT_AUTH_AEAD) {
		uint8_t nonce[24], ad[HDR_LEN + 32];
		nonce_of(&t, nonce);
		size_t body = wire ? HDR_LEN : 0;
		size_t adlen = ad_of(wire, buf, tr, ad);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
			    buf + body, NULL, buf + body, plain - body, t.tag, ad, adlen, nonce,
			    k->key) != 0)
			return WEFT_SEC_BAD_TAG;
	} else {
		uint8_t tag[TAG_LEN];
		crypto_generichash(tag, TAG_LEN, buf, plain + FIELDS_LEN, k->key,
				   WEFT_AUTH_KEY_LEN);
		if (crypto_verify_16(tag, t.tag) != 0)
			return WEFT_SEC_BAD_TAG;
	}
	uint64_t d = now_ms > t.sent_ms ? now_ms - t.sent_ms : t.sent_ms - now_ms;
	if (d > WEFT_AUTH_WINDOW_MS)
		return WEFT_SEC_WINDOW;
	if (wire)
		buf[offsetof(struct weft_wire_hdr, flags)] &= (uint8_t)~WEFT_F_AUTH;
	*plain_len = plain;
	*kind = t.kind;
	return WEFT_SEC_OK;
}
