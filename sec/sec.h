/*
 * sec — authentication and encryption of weft datagrams (wire.h
 * "Trailers": F_AUTH, struct weft_wire_auth): the module's one public
 * header.
 *
 * Keys are 32 bytes read from a file only its owner may read (raw bytes,
 * or 64 hex digits and an optional newline). A datagram is sealed by
 * appending a 48-byte trailer (kind, alg, key_id, sent_ms, salt, tag):
 *  - alg MAC: tag = keyed BLAKE2b-128 (libsodium crypto_generichash) of
 *    every byte before the tag;
 *  - alg AEAD: the bytes between the weft header and the trailer (for a
 *    raw datagram: all of them) are encrypted in place with
 *    XChaCha20-Poly1305-IETF, nonce = sent_ms (8 bytes LE) || salt,
 *    associated data = the header and the trailer up to the tag (raw: the
 *    trailer up to the tag).
 * Two framings: WIRE (the datagram opens with a struct weft_wire_hdr: the
 * seal sets WEFT_F_AUTH in it, the open clears it) and RAW (the cluster
 * port's membership datagrams, no weft header).
 *
 * Invariants:
 *  - a salt is never reused under one key: 8 random bytes per sender
 *    context (struct weft_sec_tx, one per sending thread: no lock) and a
 *    64-bit counter that never wraps in practice;
 *  - weft_sec_open accepts a datagram only if its tag verifies under the
 *    configured key of its kind, alg and key_id agree with that key, and
 *    sent_ms is within WEFT_AUTH_WINDOW_MS of now; it never reads or
 *    writes outside buf[0..len). Replays inside the window are NOT
 *    refused here (the at-most-once tables of the receiver are the only
 *    defence: see docs/SECURITY.md).
 *
 * Every function is pure over its arguments (plus libsodium's random
 * generator for weft_sec_tx_init and key generation), callable from any
 * thread, no DPDK: unit tests and fuzz targets use them directly.
 * Return-code rule: int functions return 0 or a negative errno.
 */
#ifndef WEFT_SEC_H
#define WEFT_SEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/wire.h>

#define WEFT_SEC_TRAILER_LEN ((uint32_t)sizeof(struct weft_wire_auth)) /* 48 */

/* A loaded key. Treat as secret: weft_sec_key_wipe it when done. */
struct weft_sec_key {
	uint8_t key[WEFT_AUTH_KEY_LEN];
	uint32_t key_id; /* as on the wire (first 4 bytes of BLAKE2b-256 of key) */
	uint8_t kind;    /* enum weft_auth_kind: the trailers it makes and opens */
	uint8_t alg;     /* enum weft_auth_alg */
};

/* One sender's salt source: used by one thread at a time. */
struct weft_sec_tx {
	uint8_t salt[8];
	uint64_t counter;
};

/* Why a datagram was refused. Names: weft_sec_refusal_name. */
enum weft_sec_refusal {
	WEFT_SEC_OK = 0,
	WEFT_SEC_MISSING,  /* no trailer (WIRE: F_AUTH clear; RAW: the last 48 bytes
	                      name no kind), or too short for one */
	WEFT_SEC_KIND,     /* a kind this receiver has no key for */
	WEFT_SEC_ALG,      /* the key's alg differs */
	WEFT_SEC_KEY_ID,   /* another key (key_id differs) */
	WEFT_SEC_BAD_TAG,  /* forged or damaged */
	WEFT_SEC_WINDOW,   /* sent_ms more than WEFT_AUTH_WINDOW_MS from now */
	WEFT_SEC__COUNT
};

/* "missing", "kind", "alg", "key_id", "bad_tag", "window" ("ok" for 0). */
const char *weft_sec_refusal_name(enum weft_sec_refusal r);

/* Initialises libsodium (once per process; any thread, idempotent).
 * 0, or -EIO. Every other function calls it when it needs to. */
int weft_sec_init(void);

/* Makes a key of raw bytes: computes key_id. 0, or -EIO (no libsodium). */
int weft_sec_key_from_bytes(struct weft_sec_key *k, const uint8_t raw[WEFT_AUTH_KEY_LEN],
			    uint8_t kind, uint8_t alg);

/* Loads a key file: 32 raw bytes, or 64 hex digits + an optional "\n".
 * Refuses a file that is not a regular file, is readable or writable by
 * group or others, or is not owned by the running (effective) uid. 0, or a
 * negative errno with a one-line message naming the file (and its mode or
 * owner, or its length) in err (errlen bytes, NUL-terminated): -EPERM
 * (mode, owner), -EINVAL (content), or the open/read errno. */
int weft_sec_key_load(struct weft_sec_key *k, const char *path, uint8_t kind, uint8_t alg,
		      char *err, size_t errlen);

/* Writes a new random key to path as 64 hex digits + "\n", mode 0600;
 * refuses to overwrite (-EEXIST). 0 or a negative errno (err as above). */
int weft_sec_key_generate(const char *path, char *err, size_t errlen);

/* Forgets the key bytes (sodium_memzero). */
void weft_sec_key_wipe(struct weft_sec_key *k);

/* Draws a sender context's random salt prefix, counter 0. */
void weft_sec_tx_init(struct weft_sec_tx *tx);

/* Seals buf[0..len) in place: appends the trailer (buf must have room for
 * len + WEFT_SEC_TRAILER_LEN bytes) and returns the new length. wire: buf
 * opens with a weft header (len >= 40; F_AUTH is set in it); else RAW.
 * now_ms: the sender's Unix time in ms. */
size_t weft_sec_seal(const struct weft_sec_key *k, struct weft_sec_tx *tx, uint64_t now_ms,
		     bool wire, uint8_t *buf, size_t len);

/* Opens buf[0..len): checks the trailer against the key of its kind
 * (cluster for WEFT_AUTH_CLUSTER, client for WEFT_AUTH_CLIENT; NULL: that
 * kind is refused), verifies the tag and the window, decrypts (AEAD) in
 * place and, with wire, clears F_AUTH. On WEFT_SEC_OK *plain_len = len -
 * WEFT_SEC_TRAILER_LEN and *kind is the trailer's kind. On a refusal the
 * contents of buf are unspecified (an AEAD failure may zero the
 * ciphertext): the caller drops it. */
enum weft_sec_refusal weft_sec_open(const struct weft_sec_key *cluster,
				    const struct weft_sec_key *client, uint64_t now_ms,
				    bool wire, uint8_t *buf, size_t len, size_t *plain_len,
				    uint8_t *kind);

/* Wall-clock milliseconds (CLOCK_REALTIME_COARSE: a few ns, ms-accurate
 * enough for a 30 s window). */
uint64_t weft_sec_now_ms(void);

#endif /* WEFT_SEC_H */
