/*
 * fuzz_sec.c — libFuzzer target for sec/'s open path (the first code every
 * datagram meets on a node with keys: dp_auth.c, the cluster channel,
 * libweft with a client key) and its seal/open round trip.
 *
 * Input layout: byte 0 = mode bits (bit 0: WIRE framing, else RAW; bit 1:
 * the cluster key is AEAD, else MAC; bit 2: no client key configured),
 * bytes 1..8 = now_ms (LE), bytes 9..10 = a byte index to flip (LE), the
 * rest = the datagram (at most 65536 bytes). Keys are fixed: cluster =
 * 32 x 0x11, client = 32 x 0x22 (gen_corpus_sec.py seals its seeds with
 * them, so valid datagrams are in the corpus).
 *
 * Asserted (abort on violation):
 *  - weft_sec_open on the datagram returns a known reason; on OK the plain
 *    length is the input's minus 48, the kind is one with a key, and with
 *    WIRE F_AUTH is cleared;
 *  - sealing the datagram's bytes (as a body) with the cluster key and
 *    opening the result gives back exactly those bytes; the same sealed
 *    bytes with one bit flipped at the fuzzed index are refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sec.h"

#define MAX_DGRAM 65536u

static uint8_t buf[MAX_DGRAM + 64], copy[MAX_DGRAM + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 11 || size - 11 > MAX_DGRAM)
		return 0;
	uint8_t mode = data[0];
	bool wire = mode & 1;
	uint64_t now;
	uint16_t flip;
	memcpy(&now, data + 1, 8);
	memcpy(&flip, data + 9, 2);
	size_t len = size - 11;
	uint8_t raw[WEFT_AUTH_KEY_LEN];
	struct weft_sec_key cluster, client;
	memset(raw, 0x11, sizeof(raw));
	if (weft_sec_key_from_bytes(&cluster, raw, WEFT_AUTH_CLUSTER,
				    (mode & 2) ? WEFT_AUTH_AEAD : WEFT_AUTH_MAC) != 0)
		abort();
	memset(raw, 0x22, sizeof(raw));
	if (weft_sec_key_from_bytes(&client, raw, WEFT_AUTH_CLIENT, WEFT_AUTH_MAC) != 0)
		abort();
	const struct weft_sec_key *cli = (mode & 4) ? NULL : &client;

	/* 1. open what came in */
	memcpy(buf, data + 11, len);
	size_t plain = 0;
	uint8_t kind = 0;
	enum weft_sec_refusal r = weft_sec_open(&cluster, cli, now, wire, buf, len, &plain, &kind);
	if ((unsigned)r >= WEFT_SEC__COUNT)
		abort();
	if (r == WEFT_SEC_OK) {
		if (plain + WEFT_SEC_TRAILER_LEN != len)
			abort();
		if (kind != WEFT_AUTH_CLUSTER && !(kind == WEFT_AUTH_CLIENT && cli != NULL))
			abort();
		if (wire && (buf[offsetof(struct weft_wire_hdr, flags)] & WEFT_F_AUTH))
			abort();
	}

	/* 2. round trip of the same bytes as a body */
	if (wire && len < sizeof(struct weft_wire_hdr))
		return 0;
	struct weft_sec_tx tx = {.salt = {1, 2, 3, 4, 5, 6, 7, 8}, .counter = now};
	memcpy(buf, data + 11, len);
	if (wire)
		buf[offsetof(struct weft_wire_hdr, flags)] &= (uint8_t)~WEFT_F_AUTH;
	memcpy(copy, buf, len);
	size_t sealed = weft_sec_seal(&cluster, &tx, now, wire, buf, len);
	if (sealed != len + WEFT_SEC_TRAILER_LEN)
		abort();
	uint8_t *tampered = malloc(sealed);
	if (tampered == NULL)
		return 0;
	memcpy(tampered, buf, sealed);
	tampered[flip % sealed] ^= (uint8_t)(1u << (flip % 8));
	if (weft_sec_open(&cluster, cli, now, wire, buf, sealed, &plain, &kind) != WEFT_SEC_OK ||
	    plain != len || kind != WEFT_AUTH_CLUSTER || memcmp(buf, copy, len) != 0)
		abort();
	if (weft_sec_open(&cluster, cli, now, wire, tampered, sealed, &plain, &kind) ==
	    WEFT_SEC_OK)
		abort();
	free(tampered);
	weft_sec_key_wipe(&cluster);
	weft_sec_key_wipe(&client);
	return 0;
}
