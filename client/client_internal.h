/*
 * libweft internals: the client struct, the datagram codec (codec.c), the
 * call engine (call.c), topology-aware routing (route.c, mget_route.c) and
 * the multi-get body codec (mget.c). Not installed; unit tests link the
 * static libweft and use these directly.
 *
 * Invariants:
 *  - A request is described by a struct weft_msg (four payload segments,
 *    none copied until a datagram is encoded); its payload is
 *    [name][key][extras][value] as wire.h lays it out.
 *  - request ids only grow; a retransmission reuses the id of the call.
 *  - The client owns exactly one UDP socket, not connected (it talks to
 *    every node of a cluster); a call accepts datagrams only from the
 *    address it sent its request to, so the source check the kernel made
 *    for a connected socket is made in call.c.
 *  - c->topo is NULL or a table from weft_topology_decode; c->home is the
 *    node non-keyed ops go to (the seed until the seed stops answering).
 */
#ifndef WEFT_CLIENT_INTERNAL_H
#define WEFT_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include <weft/weft.h>
#include <weft/wire.h>

#include "sec.h"

/* A node address's cookie (cookie.c). */
#define WEFT_COOKIE_SLOTS 32u
/* COOKIE answers one call resends before it returns -WEFT_ST_COOKIE. */
#define WEFT_COOKIE_TRIPS 2u
struct weft_cookie_slot {
	bool used;
	uint16_t port;            /* network order */
	uint32_t ip;              /* network order */
	uint8_t cookie[WEFT_COOKIE_LEN];
};

struct weft_client {
	int fd;                   /* the UDP socket; -1 over a transport */
	bool has_transport;
	struct weft_transport transport; /* when has_transport */
	uint32_t client_id;
	uint64_t next_request_id;
	struct weft_client_opts opts;
	int last_errno;
	uint64_t ignored; /* datagrams dropped as stale, foreign or garbage */
	uint32_t epoch;   /* hdr.epoch of the last whole response */
	/* --- routing (route.c) --- */
	struct sockaddr_in seed;  /* the address given to weft_client_connect */
	struct sockaddr_in home;  /* where non-keyed ops go: the seed, or another
	                             member once the seed stopped answering */
	bool routing;             /* weft_client_set_routing; on by default */
	bool topo_stale;          /* re-fetch before the next keyed op */
	bool topo_unsupported;    /* the node answered TOPOLOGY with UNKNOWN_OP */
	bool topo_routable;       /* c->topo can route keys (see route.c) */
	bool has_suspect;         /* `suspect` timed out since the last fetch */
	struct sockaddr_in suspect;
	uint64_t topo_retry_ms;   /* after a failed fetch, none before this */
	uint32_t fetch_cursor;    /* rotates the members asked for the table */
	uint64_t topo_fetches;    /* TOPOLOGY tables installed (for tests) */
	struct weft_topology *topo; /* the segment table, NULL until fetched */
	/* --- address validation (cookie.c) --- */
	struct weft_cookie_slot cookies[WEFT_COOKIE_SLOTS];
	unsigned cookie_next;     /* the slot a new address takes */
	uint64_t cookie_trips;    /* COOKIE answers resent (for tests) */
	uint64_t busy_retries;    /* BUSY answers asked again (for tests) */
	/* --- client key (auth.c) --- */
	bool has_key;
	struct weft_sec_key key;
	struct weft_sec_tx sec_tx;
	uint64_t auth_refused;    /* received datagrams that failed verification */
	/* one spare byte past the largest datagram (and its trailers) detects
	 * oversized ones */
	uint8_t rx[WEFT_MAX_DGRAM_LEN + WEFT_MAX_TRAILERS_LEN + 1];
	uint8_t tx[WEFT_MAX_DGRAM_LEN + WEFT_MAX_TRAILERS_LEN];
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
	uint32_t epoch; /* the sender's topology epoch (hdr.epoch), 0: none */
	/* Destination ops (msg.c, msg_consumer.c); all 0 for cache ops. */
	const void *route;  /* routing name: the op goes to its primary, as a
	                       keyed op to its key's (NULL: keyed ops by key) */
	size_t route_len;
	uint32_t hold_ms;   /* the node may hold the request this long before
	                       answering (RECEIVE's wait_ms): added to each
	                       attempt's timeout */
	bool resend;        /* safe to send again, under a new request id, to
	                       another node after a timeout (RECEIVE, ACK) */
	bool home_table;    /* a non-routed op that should let c->home move to
	                       another member (plain topic RECEIVE): the table
	                       is fetched first when routing is on */
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

/* --- cookie.c --- */

/* Appends F_COOKIE and the cookie known for `to` (zeros: none yet) to the
 * datagram of len bytes in c->tx; returns its new length. */
size_t weft_cookie_append(struct weft_client *c, const struct sockaddr_in *to, size_t len);
/* Takes a received datagram's cookie trailer off: with F_COOKIE and room
 * for it, *len loses WEFT_COOKIE_LEN bytes, which are copied to cookie;
 * returns whether there was one. Pure. */
bool weft_cookie_strip(const uint8_t *d, size_t *len, uint8_t cookie[WEFT_COOKIE_LEN]);
/* Keeps cookie as the one the node at `to` gave. */
void weft_cookie_store(struct weft_client *c, const struct sockaddr_in *to,
		       const uint8_t cookie[WEFT_COOKIE_LEN]);

/* --- auth.c --- */

/* Loads the client key from path (NULL or "": none). 0 or a negative errno
 * (weft_sec_key_load's). */
int weft_auth_load(struct weft_client *c, const char *path);
/* Seals the datagram of len bytes in c->tx (cookie already appended) when
 * the client has a key; returns its new length. */
size_t weft_auth_seal(struct weft_client *c, size_t len);
/* Checks the datagram of *len bytes in c->rx when the client has a key:
 * true to use it (trailer stripped, *len reduced), false to drop it
 * (counted in c->auth_refused). */
bool weft_auth_open(struct weft_client *c, size_t *len);

/* --- call.c --- */

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t weft_now_ms(void);
/* The deadline of a public call starting now: now + opts.deadline_ms, or
 * UINT64_MAX when the client has none. */
uint64_t weft_call_deadline(const struct weft_client *c);
/* Sends m to the node at `to` and waits for its whole response (retries,
 * FETCH, GONE): at most `attempts` (>= 1) sends of the request, never past
 * deadline (weft_now_ms() scale). Only datagrams from `to` are taken.
 * Returns 0 with *r filled (free r->payload), or -WEFT_ST_TIMEOUT /
 * -WEFT_ST_IO. Sets c->epoch from the response. */
int weft_call_at(struct weft_client *c, const struct sockaddr_in *to, const struct weft_msg *m,
		 uint32_t attempts, uint64_t deadline, struct weft_resp *r);

/* --- route.c --- */

/* Runs m where the routing model (weft.h) sends it: a keyed op (GET and
 * the writes) to the key's owner, anything else to c->home; with the
 * re-fetches and the one retry the model allows. Same returns as
 * weft_call_at. */
int weft_call(struct weft_client *c, const struct weft_msg *m, struct weft_resp *r);
/* Makes sure a usable table is present when routing is on (fetching it if
 * absent or stale). 0, or -WEFT_ST_TIMEOUT / -WEFT_ST_IO when there is no
 * table at all and the fetch failed that way. */
int weft_route_prepare(struct weft_client *c, uint64_t deadline);
/* Whether keyed ops are routed by c->topo (routing on, a table with owners
 * and more than one member). */
bool weft_route_active(const struct weft_client *c);
/* Index into c->topo->members of the key's owner `replica`; requires
 * weft_route_active. */
unsigned weft_route_owner(const struct weft_client *c, const void *key, size_t len,
			  unsigned replica);
/* The address of member i of c->topo. */
void weft_route_member_addr(const struct weft_client *c, unsigned i, struct sockaddr_in *sa);
/* After a response from a routed call: marks the table stale when epoch is
 * newer than the table's. */
void weft_route_observe(struct weft_client *c, uint32_t epoch);
/* Notes that the node at sa timed out: the table is re-fetched (from
 * another node first) before the next keyed op. */
void weft_route_suspect(struct weft_client *c, const struct sockaddr_in *sa);
/* Fetches the table now (see route.c for the order nodes are asked in);
 * hint, if not NULL, is asked first. 0 or a negative status. */
int weft_route_refresh(struct weft_client *c, const struct sockaddr_in *hint, uint64_t deadline);
/* Whether two addresses are the same node. */
bool weft_addr_eq(const struct sockaddr_in *a, const struct sockaddr_in *b);

/* --- mget.c (pure) --- */

/* Encodes the MULTI_GET request value into a malloc'd buffer. Returns its
 * length, or 0 on bad arguments / allocation failure (errno set). */
size_t weft_mget_encode(const struct weft_mget_item *items, size_t n, uint8_t **out);
/* Parses a MULTI_GET response value into items (values point into body).
 * 0 or -WEFT_ST_PROTOCOL. */
int weft_mget_decode(const uint8_t *body, size_t len, struct weft_mget_item *items, size_t n);

/* --- msg.c (the codecs are pure) --- */

/* Whether name (len bytes) is a destination name wire.h accepts:
 * "/queue/N" or "/topic/N", N 1.. bytes of 0x21..0x7e, whole <= 64. */
bool weft_dest_name_ok(const char *name, size_t len);
/* Checks a NUL-terminated destination name; its length in *len. 0 or
 * -WEFT_ST_INVALID_ARG. */
int weft_dest_check(const char *name, size_t *len);
/* Encodes n properties (wire.h "Message properties") into a malloc'd
 * buffer *out of *out_len bytes (*out NULL when n is 0). 0,
 * -WEFT_ST_INVALID_ARG (a bad name or value, or more than
 * WEFT_MAX_PROPS_LEN bytes), or -WEFT_ST_IO (ENOMEM). */
int weft_props_encode(const struct weft_prop *props, size_t n, uint8_t **out, size_t *out_len);
/* Whether [p, p + len) is a well-formed property list. */
bool weft_props_valid(const uint8_t *p, size_t len);
/* Parses a message list of `count` messages (wire.h weft_msg_hdr + props +
 * body each) filling msgs[0..count) with pointers into p; count must be
 * <= max and the list must end exactly at len. 0 or -WEFT_ST_PROTOCOL. */
int weft_msglist_decode(const uint8_t *p, size_t len, uint32_t count,
			struct weft_message *msgs, size_t max);

/* --- topo.c (decode is pure) --- */

/* Parses a TOPOLOGY response value (wire.h) into a malloc'd table (free
 * with weft_topology_free). 0, -WEFT_ST_PROTOCOL (malformed: truncated,
 * trailing bytes, log2 > 16, owners > n_members, an index out of range or
 * repeated in a segment, no members), -WEFT_ST_IO with errno ENOMEM. */
int weft_topology_decode(const uint8_t *body, size_t len, struct weft_topology **out);
/* The table a TOPOLOGY response r carries (weft_topology_decode of its
 * value), or the negated status it answered; frees r->payload either way. */
int weft_topology_from_resp(struct weft_client *c, struct weft_resp *r,
			    struct weft_topology **out);

/* ops.c: an op with no payload whose answer is text (STATS, MEMBERS,
 * DESTINATIONS, APPS): *text malloc'd and NUL-terminated, *len (may be
 * NULL) without the NUL. */
int weft_text_op(weft_client *c, uint8_t opcode, char **text, size_t *len);

/* --- session.c (the codecs are pure) --- */

/* Checks a session store name (NULL: WEFT_SESSION_STORE): *name and *len
 * get the name used. 0 or -WEFT_ST_INVALID_ARG. */
int weft_session_store_check(const char *store, const char **name, size_t *len);
/* The weft_x_session_info of an OK SESSION answer into *out (may be NULL).
 * 0 or -WEFT_ST_PROTOCOL (absent, or a size or count out of wire.h's
 * bounds). */
int weft_session_info_decode(const struct weft_resp *r, struct weft_session_info *out);
/* Parses a LIST (values false) or LOAD (true) attribute list of count
 * attributes, which must end exactly at len, into one malloc'd block:
 * *out (NULL when count is 0) with names NUL-terminated and values in the
 * block. 0, -WEFT_ST_PROTOCOL (malformed), -WEFT_ST_IO (ENOMEM). */
int weft_session_attrs_decode(const uint8_t *p, size_t len, uint32_t count, bool values,
			      struct weft_session_attr **out, size_t *n);

#endif /* WEFT_CLIENT_INTERNAL_H */
