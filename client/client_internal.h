/*
 * libweft internals: the client struct, the datagram codec (codec.c), the
 * call engine (call.c) and the multi-get body codec (mget.c). Not installed;
 * unit tests link the static libweft and use these directly.
 *
 * Invariants:
 *  - A request is described by a struct weft_msg (four payload segments,
 *    none copied until a datagram is encoded); its payload is
 *    [name][key][extras][value] as wire.h lays it out.
 *  - request ids only grow; a retransmission reuses the id of the call.
 *  - The client owns exactly one UDP socket, connect()ed to the node, so the
 *    kernel already drops datagrams from other addresses.
 */
#ifndef WEFT_CLIENT_INTERNAL_H
#define WEFT_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>
#include <weft/wire.h>

struct weft_client {
	int fd;
	uint32_t client_id;
	uint64_t next_request_id;
	struct weft_client_opts opts;
	int last_errno;
	uint64_t ignored; /* datagrams dropped as stale, foreign or garbage */
	uint32_t epoch;   /* hdr.epoch of the last whole response */
	/* one spare byte past the largest datagram detects oversized ones */
	uint8_t rx[WEFT_MAX_DGRAM_LEN + 1];
	uint8_t tx[WEFT_MAX_DGRAM_LEN];
};

/* One request message, by reference. */
struct weft_msg {
	uint8_t opcode;
	const char *name;
	size_t name_len;
	const void *key;
	size_t key_len;
	const void *extras;
	size_t extras_len;
	const void *value;
	size_t value_len;
};

/* The longest response libweft accepts is wire.h's WEFT_MAX_RESP_LEN.
 * Memory for a long response is allocated only once a datagram matched the
 * call's (client_id, request_id). */

/* A whole response: header fields and the reassembled payload. */
struct weft_resp {
	uint16_t status;
	uint16_t extras_len;
	uint32_t msg_len;
	uint32_t epoch;    /* the node's topology epoch when it answered */
	uint32_t head_len; /* name_len + key_len + extras_len: where the value starts */
	uint8_t *payload;  /* msg_len bytes, malloc'd; NULL when msg_len is 0 */
};

/* --- codec.c (pure) --- */

/* Payload length of the whole message. */
size_t weft_msg_len(const struct weft_msg *m);
/* Datagrams the message takes (>= 1). */
size_t weft_msg_dgram_count(const struct weft_msg *m);
/* Encodes datagram number idx (payload from idx * WEFT_MAX_DGRAM_PAYLOAD)
 * into out (WEFT_MAX_DGRAM_LEN bytes); returns the datagram's length. */
size_t weft_msg_encode(const struct weft_msg *m, uint32_t client_id, uint64_t request_id,
		       uint8_t flags, size_t idx, uint8_t *out);
/* Encodes a FETCH for count datagrams of a long response from offset. */
size_t weft_fetch_encode(uint32_t client_id, uint64_t request_id, uint8_t flags,
			 uint32_t offset, uint32_t count, uint8_t *out);
/* Whether a received datagram is a well-formed response to (client_id,
 * request_id, opcode): a FETCH response may carry opcode FETCH. The framing
 * rules are weft_wire_check's except the value bound: a MULTI_GET response
 * may exceed WEFT_MAX_VALUE_LEN, up to WEFT_MAX_RESP_LEN. */
bool weft_resp_matches(const uint8_t *d, size_t len, uint32_t client_id, uint64_t request_id,
		       uint8_t opcode);
/* Checks the request arguments every keyed op shares; 0 or -WEFT_ST_INVALID_ARG. */
int weft_check_name_key(const char *name, const void *key, size_t key_len);

/* --- call.c --- */

/* Sends m and waits for its whole response (retries, FETCH, GONE). Returns
 * 0 with *r filled (free r->payload), or -WEFT_ST_TIMEOUT / -WEFT_ST_IO. */
int weft_call(struct weft_client *c, const struct weft_msg *m, struct weft_resp *r);

/* --- mget.c (pure) --- */

/* Encodes the MULTI_GET request value into a malloc'd buffer. Returns its
 * length, or 0 on bad arguments / allocation failure (errno set). */
size_t weft_mget_encode(const struct weft_mget_item *items, size_t n, uint8_t **out);
/* Parses a MULTI_GET response value into items (values point into body).
 * 0 or -WEFT_ST_PROTOCOL. */
int weft_mget_decode(const uint8_t *body, size_t len, struct weft_mget_item *items, size_t n);

/* --- topo.c (pure) --- */

/* Parses a TOPOLOGY response value (wire.h) into a malloc'd table (free
 * with weft_topology_free). 0, -WEFT_ST_PROTOCOL (malformed: truncated,
 * trailing bytes, log2 > 16, owners > n_members, an index out of range or
 * repeated in a segment, no members), -WEFT_ST_IO with errno ENOMEM. */
int weft_topology_decode(const uint8_t *body, size_t len, struct weft_topology **out);

#endif /* WEFT_CLIENT_INTERNAL_H */
