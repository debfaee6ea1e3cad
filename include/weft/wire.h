/*
 * weft wire protocol, version 1: the binary request/response format spoken
 * over UDP between clients (libweft, weft-perf, any language) and weftd.
 *
 * This header is the specification; docs/protocol.md explains it in prose.
 * It holds only layout, constants and pure inline checks, so that the
 * server's parser (dataplane/) and the client (client/) agree by
 * construction.
 *
 * Invariants:
 *  - Every integer on the wire is little-endian (as in eRPC and MICA: every
 *    target weft runs on is little-endian; a big-endian port byte-swaps in
 *    the accessors below).
 *  - A message is one header (struct weft_wire_hdr, 40 bytes) per datagram
 *    followed by a slice of the message payload. The payload of a whole
 *    message is laid out as  [name][key][extras][value]  with the lengths
 *    carried in every datagram's header; a datagram carries payload bytes
 *    [frag_offset, frag_offset + datagram_len - 40) of it.
 *  - A message whose payload fits one datagram has frag_offset 0 and
 *    msg_len == datagram_len - 40: the fast path. Longer messages (values up
 *    to WEFT_MAX_VALUE_LEN) are split by the sender into datagrams of at most
 *    WEFT_MAX_DGRAM_PAYLOAD bytes of payload, in any order; the receiver
 *    reassembles by (source address, client_id, request_id) and drops an
 *    incomplete message after WEFT_REASM_TIMEOUT_MS.
 *  - The first datagram of a message (frag_offset 0) carries name, key and
 *    extras whole: name_len + key_len + extras_len <= WEFT_MAX_DGRAM_PAYLOAD.
 *  - Flow control for long responses (in the spirit of eRPC's
 *    request-for-response): a response longer than one datagram is kept by
 *    the node for WEFT_RESP_KEEP_MS after its last use; the node sends its
 *    first WEFT_RESP_INITIAL_WINDOW datagrams at once and the client pulls
 *    the rest with FETCH requests (same client_id and request_id, extras
 *    weft_x_fetch), at most WEFT_RESP_INITIAL_WINDOW datagrams in flight, so
 *    a 1 MiB value never overruns a default-sized kernel socket buffer. A
 *    FETCH for a response the node no longer holds gets status GONE; the
 *    client then repeats the original request (only idempotent ops — GET,
 *    MULTI_GET, STATS, MEMBERS, TOPOLOGY — have long responses). Datagrams
 *    sent in answer to a FETCH are datagrams of the original response: they
 *    carry its opcode, status and lengths, and their own frag_offset.
 *  - Long requests are sent whole; the node keeps the fragments it has for
 *    WEFT_REASM_TIMEOUT_MS, so a client that retransmits the message after a
 *    loss fills the holes.
 *  - At-most-once: the node remembers the response of every non-idempotent
 *    request (weft_wire_op_is_idempotent) per (client address, client_id,
 *    request_id) for WEFT_DEDUP_KEEP_MS and replays it to a retransmission
 *    instead of applying the op again.
 *  - A response copies opcode, client_id and request_id of its request, sets
 *    WEFT_F_RESPONSE and a status. It carries no name and echoes no key,
 *    except the entries of a MULTI_GET response (see below).
 */
#ifndef WEFT_WIRE_H
#define WEFT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_WIRE_MAGIC 0x5746u /* "FW" in memory order, 'W''F' as a LE u16 */
#define WEFT_WIRE_VERSION 1u

/* Default UDP port of the data service; a node adds its --offset. */
#define WEFT_DEFAULT_PORT 7700u

#define WEFT_MAX_NAME_LEN 64u         /* cache / destination name */
#define WEFT_MAX_KEY_LEN 250u         /* as memcached */
#define WEFT_MAX_VALUE_LEN (1u << 20) /* 1 MiB */
/* Room for payload in one datagram on a 1500-byte MTU:
 * 1500 - 20 (IPv4) - 8 (UDP) - 40 (weft header) - 64 (the largest trailers,
 * a cookie and an auth trailer: see "Trailers" below). */
#define WEFT_MAX_DGRAM_PAYLOAD 1368u
#define WEFT_MAX_TRAILERS_LEN (WEFT_COOKIE_LEN + sizeof(struct weft_wire_auth))
/* Header + payload slice, without trailers. */
#define WEFT_MAX_DGRAM_LEN (WEFT_MAX_DGRAM_PAYLOAD + sizeof(struct weft_wire_hdr))
/* Largest whole message payload: name + key + extras + value. */
#define WEFT_MAX_MSG_LEN (WEFT_MAX_VALUE_LEN + WEFT_MAX_NAME_LEN + WEFT_MAX_KEY_LEN + 256u)
#define WEFT_REASM_TIMEOUT_MS 1000u
#define WEFT_RESP_KEEP_MS 2000u
#define WEFT_RESP_INITIAL_WINDOW 32u
#define WEFT_DEDUP_KEEP_MS 10000u
/* Largest whole response payload (a MULTI_GET of several big values); a
 * response that would exceed it is answered with VALUE_TOO_LARGE. */
#define WEFT_MAX_RESP_LEN (16u << 20)
/* Keys in one MULTI_GET request. */
#define WEFT_MAX_MULTI_GET 64u

/* Opcodes. Values are stable: never renumber, only append. */
enum weft_op {
	WEFT_OP_PING = 0x00,          /* no payload; reply OK */
	WEFT_OP_GET = 0x01,           /* name, key -> extras weft_x_version, value */
	WEFT_OP_MULTI_GET = 0x02,     /* name, value = key list -> value = entry list */
	WEFT_OP_PUT = 0x03,           /* name, key, weft_x_write, value -> weft_x_version */
	WEFT_OP_PUT_IF_ABSENT = 0x04, /* as PUT; EXISTS (+ current version) if present */
	WEFT_OP_REPLACE = 0x05,       /* as PUT; NOT_FOUND if absent */
	WEFT_OP_CAS = 0x06,           /* name, key, weft_x_cas, value -> weft_x_version */
	WEFT_OP_DELETE = 0x07,        /* name, key -> (none) */
	WEFT_OP_INCR = 0x08,          /* name, key, weft_x_incr -> weft_x_counter */
	WEFT_OP_TOUCH = 0x09,         /* name, key, weft_x_write (ttl fields) -> weft_x_version */
	WEFT_OP_CACHE_OPEN = 0x0a,    /* name, weft_x_cache_opts: lookup-or-create */
	WEFT_OP_STATS = 0x0b,         /* no payload -> value = text, "key value\n" lines */
	WEFT_OP_FETCH = 0x0c,         /* weft_x_fetch -> datagrams of a kept long response */
	WEFT_OP_MEMBERS = 0x0d,       /* no payload -> value = text: the cluster view (below) */
	WEFT_OP_TOPOLOGY = 0x0e,      /* no payload -> value = binary segment table (below) */
	WEFT_OP_REPLICATE = 0x0f,     /* node to node: name, weft_x_replicate, value = entry
	                                 list (below) -> weft_x_repl_ack */
	/* Messaging (see "Destinations" below). */
	WEFT_OP_DEST_OPEN = 0x10,     /* name, weft_x_dest_opts: lookup-or-create */
	WEFT_OP_DEST_STOP = 0x11,     /* name -> (none); NOT_FOUND if none */
	WEFT_OP_PUBLISH = 0x12,       /* name, weft_x_publish, value = props|body
	                                 -> weft_x_published */
	WEFT_OP_RECEIVE = 0x13,       /* name, [key = durable subscription], weft_x_receive
	                                 -> weft_x_received, value = message list */
	WEFT_OP_ACK = 0x14,           /* name, [key], weft_x_ack, value = u64 ids
	                                 -> weft_x_acked */
	WEFT_OP_UNSUBSCRIBE = 0x15,   /* name, [key], weft_x_unsubscribe -> (none) */
	WEFT_OP_DESTINATIONS = 0x16,  /* no payload -> value = text (below) */
	WEFT_OP_MSG_REPL = 0x17,      /* node to node: name, [key], weft_x_msg_repl,
	                                 value = record list -> weft_x_repl_ack */
	WEFT_OP_TOPIC_JOIN = 0x18,    /* node to node: name, weft_x_topic_join
	                                 -> weft_x_topic_joined */
	WEFT_OP_TOPIC_DELIVER = 0x19, /* node to node: name, weft_x_topic_deliver, value =
	                                 message list -> weft_x_topic_delivered */
	WEFT_OP_APPS = 0x1a,          /* no payload -> value = text: this node's apps,
	                                 daemons and jobs (below) */
	WEFT_OP_PUT_FENCED = 0x1b,    /* name, key, weft_x_fenced_write, value ->
	                                 weft_x_version; FENCED when the singleton's
	                                 claim has another epoch (below) */
	WEFT_OP_SESSION = 0x1c,       /* name = session store, key = session id,
	                                 weft_x_session, value per action ->
	                                 weft_x_session_info, value (see "Sessions") */
	WEFT_OP__COUNT
};

/* Status codes. 0 is success; a response's status says how the request
 * ended. libweft returns them negated (-WEFT_ST_NOT_FOUND) and adds its own
 * local ones from WEFT_ST_CLIENT_BASE up. Values are stable. */
enum weft_status {
	WEFT_ST_OK = 0,
	WEFT_ST_NOT_FOUND = 1,        /* no such key (or it expired) */
	WEFT_ST_EXISTS = 2,           /* PUT_IF_ABSENT found a live entry */
	WEFT_ST_VERSION_MISMATCH = 3, /* CAS: the entry's version differs */
	WEFT_ST_NOT_NUMERIC = 4,      /* INCR on a value that is not a decimal int64 */
	WEFT_ST_OVERFLOW = 5,         /* INCR would leave the int64 range */
	WEFT_ST_KEY_TOO_LONG = 6,     /* key_len > WEFT_MAX_KEY_LEN (a missing key is BAD_REQUEST) */
	WEFT_ST_VALUE_TOO_LARGE = 7,  /* value > WEFT_MAX_VALUE_LEN */
	WEFT_ST_BAD_REQUEST = 8,      /* malformed: lengths, extras, name */
	WEFT_ST_UNKNOWN_OP = 9,       /* opcode not served by this node */
	WEFT_ST_BAD_VERSION = 10,     /* protocol version not spoken; see hdr.epoch */
	WEFT_ST_NO_MEMORY = 11,       /* memory bound reached and eviction freed too little */
	WEFT_ST_BUSY = 12,            /* transient: retry later (e.g. reassembly full) */
	WEFT_ST_INTERNAL = 13,        /* bug or resource failure on the node */
	WEFT_ST_BAD_CACHE_OPTS = 14,  /* CACHE_OPEN options invalid */
	WEFT_ST_GONE = 15,            /* FETCH: the long response is no longer kept */
	WEFT_ST_NOT_OWNER = 16,       /* the node neither owns the key nor can forward this
	                                 request (a long message or response): re-fetch
	                                 TOPOLOGY and send it to an owner */
	WEFT_ST_NO_QUORUM = 17,       /* write refused: the node is in a minority partition
	                                 (--partition-handling quorum); retry after the merge */
	WEFT_ST_FULL = 18,            /* PUBLISH refused: the destination holds max_depth
	                                 messages or max_bytes (back-pressure); retry later */
	WEFT_ST_FENCED = 19,          /* PUT_FENCED refused: the singleton's current claim
	                                 is not the writer's epoch (it lost the singleton) */
	WEFT_ST_NO_SESSION = 20,      /* SESSION: no such session (never created, or
	                                 invalidated, or expired) */
	WEFT_ST_COOKIE = 21,          /* the answer would be larger than the request and
	                                 the source address is not verified: repeat the
	                                 request with the cookie this response carries
	                                 (see "Trailers": address validation) */
	WEFT_ST_UNAUTHORIZED = 22,    /* the node requires a client key and the request
	                                 carries no valid client auth trailer */
	WEFT_ST__SERVER_COUNT,

	/* Statuses made by libweft itself, never on the wire. */
	WEFT_ST_CLIENT_BASE = 100,
	WEFT_ST_TIMEOUT = 100,        /* no response within the per-call timeout */
	WEFT_ST_IO = 101,             /* socket error (errno is kept in the client) */
	WEFT_ST_PROTOCOL = 102,       /* the node answered something unparseable */
	WEFT_ST_INVALID_ARG = 103,    /* the caller passed bad arguments */
};

/* Header flags. */
#define WEFT_F_RESPONSE 0x01u /* set on every response */
#define WEFT_F_RETRY 0x02u    /* set by a client on a retransmission (informative) */
#define WEFT_F_NODE 0x04u     /* sent by a node (a forwarded request, replication,
                                 state transfer): the receiver serves it itself and
                                 never forwards it again, whatever its table says */
#define WEFT_F_AUTH 0x08u     /* the datagram ends with a struct weft_wire_auth */
#define WEFT_F_COOKIE 0x10u   /* a WEFT_COOKIE_LEN-byte cookie precedes the auth
                                 trailer (or ends the datagram) */
#define WEFT_F__KNOWN 0x1fu   /* a request with any other bit set is BAD_REQUEST */

/* The header that opens every datagram. 40 bytes, packed, little-endian. */
struct __attribute__((packed)) weft_wire_hdr {
	uint16_t magic;       /* WEFT_WIRE_MAGIC */
	uint8_t version;      /* WEFT_WIRE_VERSION */
	uint8_t opcode;       /* enum weft_op */
	uint8_t flags;        /* WEFT_F_* */
	uint8_t name_len;     /* <= WEFT_MAX_NAME_LEN */
	uint16_t key_len;     /* <= WEFT_MAX_KEY_LEN */
	uint16_t status;      /* enum weft_status; 0 in requests */
	uint16_t extras_len;  /* length of the op's fixed extras struct */
	uint32_t client_id;   /* random per client instance: with request_id, the */
	uint64_t request_id;  /* at-most-once identity of a request */
	uint32_t epoch;       /* topology epoch the sender knows (0: none); every
	                         response carries the node's current epoch (the
	                         low 32 bits of its view counter), so a client
	                         whose table is older re-fetches TOPOLOGY; in a
	                         BAD_VERSION response, the highest version spoken */
	uint32_t msg_len;     /* payload bytes of the whole message */
	uint32_t frag_offset; /* where this datagram's payload starts in it */
	uint32_t reserved;    /* 0; ignored by receivers of version 1 */
};

_Static_assert(sizeof(struct weft_wire_hdr) == 40, "weft header is 40 bytes");

/*
 * Trailers. A datagram is
 *
 *     [header 40][payload slice][cookie 16, if F_COOKIE][auth 48, if F_AUTH]
 *
 * and every rule above about "datagram_len - 40" means the slice: a receiver
 * strips the trailers first (auth, then cookie), a sender appends them last
 * (cookie, then auth). WEFT_MAX_DGRAM_PAYLOAD leaves room for both.
 *
 * Authentication (F_AUTH; docs/SECURITY.md). With a cluster key every
 * datagram between nodes (F_NODE requests, their responses, and the cluster
 * port's membership datagrams, which have no weft header: there the trailer
 * ends the UDP payload) carries an auth trailer of kind CLUSTER; with a
 * client key every client request (and the node's response to it) carries
 * one of kind CLIENT. Keys are 32 bytes. alg MAC: tag = keyed BLAKE2b-128
 * (libsodium crypto_generichash) over every byte before the tag. alg AEAD:
 * the bytes between the header and the trailer are encrypted in place with
 * XChaCha20-Poly1305-IETF (libsodium), nonce = sent_ms (8 bytes LE) || salt,
 * associated data = the header and the trailer up to the tag (for the
 * cluster port: the trailer up to the tag). A receiver refuses (drops and
 * counts, never answers) a datagram whose trailer is missing, of the wrong
 * kind, key_id or alg, whose tag does not verify, or whose sent_ms is more
 * than WEFT_AUTH_WINDOW_MS from its own clock, except that a client request
 * refused for its client key is answered UNAUTHORIZED (a 40-byte header).
 *
 * Address validation (F_COOKIE; in the spirit of QUIC's Retry and DTLS's
 * HelloVerifyRequest). A node never sends to an unverified address more
 * bytes than the request it answers: a request whose answer could be
 * larger is answered COOKIE unless it carries a valid cookie. A cookie is a
 * keyed hash of the client's IPv4 address and a time window that the node
 * mints (a secret of its own, rotated; a cookie stays valid for at least
 * WEFT_COOKIE_VALID_MS). A client that has no cookie yet sends F_COOKIE with
 * 16 zero bytes: the COOKIE response then carries F_COOKIE and the cookie
 * (40 + 16 bytes, no more than the request); a request without F_COOKIE is
 * answered COOKIE with no trailer (40 bytes). Node-to-node datagrams from a
 * member of the node's view are exempt. Replies to unverified sources are
 * also rate-limited per source address (counted drops).
 */
#define WEFT_COOKIE_LEN 16u
#define WEFT_COOKIE_VALID_MS 60000u
#define WEFT_AUTH_KEY_LEN 32u
#define WEFT_AUTH_WINDOW_MS 30000u

enum weft_auth_kind { WEFT_AUTH_CLUSTER = 1, WEFT_AUTH_CLIENT = 2 };
enum weft_auth_alg { WEFT_AUTH_MAC = 0, WEFT_AUTH_AEAD = 1 };

struct __attribute__((packed)) weft_wire_auth {
	uint8_t kind;         /* enum weft_auth_kind */
	uint8_t alg;          /* enum weft_auth_alg */
	uint16_t reserved;    /* 0 */
	uint32_t key_id;      /* first 4 bytes of BLAKE2b-256 of the key: a wrong key
	                         is told from a forged or damaged datagram */
	uint64_t sent_ms;     /* sender's Unix time in ms (replay window) */
	uint8_t salt[16];     /* unique per datagram per key: 8 random bytes per sender
	                         thread + a 64-bit counter */
	uint8_t tag[16];      /* MAC or AEAD tag */
};

_Static_assert(sizeof(struct weft_wire_auth) == 48, "auth trailer is 48 bytes");

/* Extras, per opcode. All packed, little-endian. A field of 0 in a TTL means
 * "the cache's default"; WEFT_TTL_NONE means "never expires". */
#define WEFT_TTL_NONE UINT64_MAX

struct __attribute__((packed)) weft_x_write {   /* PUT, PUT_IF_ABSENT, REPLACE, TOUCH */
	uint64_t ttl_ms;      /* lifetime from now; 0 = cache default */
	uint64_t max_idle_ms; /* expire after this long unread; 0 = cache default */
};

struct __attribute__((packed)) weft_x_cas {     /* CAS */
	uint64_t expected_version;
	uint64_t ttl_ms;
	uint64_t max_idle_ms;
};

struct __attribute__((packed)) weft_x_incr {    /* INCR request */
	int64_t delta;        /* may be negative */
	uint64_t ttl_ms;      /* used when the counter is created */
};

struct __attribute__((packed)) weft_x_fetch {   /* FETCH request */
	uint32_t offset;      /* payload offset of the first datagram wanted; a
	                         multiple of WEFT_MAX_DGRAM_PAYLOAD */
	uint32_t count;       /* datagrams wanted, 1..WEFT_RESP_INITIAL_WINDOW */
};

struct __attribute__((packed)) weft_x_version { /* responses of GET, PUT*, CAS, TOUCH */
	uint64_t version;     /* the entry's version after the op (current one on
	                         EXISTS / VERSION_MISMATCH) */
};

struct __attribute__((packed)) weft_x_counter { /* INCR response */
	int64_t value;        /* the counter after the op */
	uint64_t version;
};

/* Cache modes (weft_x_cache_opts.mode), as in the tutorial:
 *  LOCAL        this node only (the default on a node not in a cluster);
 *  DISTRIBUTED  each key on `owners` nodes (primary + backups) whatever the
 *               cluster size (the default in a cluster);
 *  REPLICATED   every entry on every node, reads served locally;
 *  INVALIDATED  entries stay on the node that wrote them; a write or delete
 *               evicts the key on every other node before it is answered. */
enum weft_cache_mode_wire {
	WEFT_MODE_DEFAULT = 0,
	WEFT_MODE_LOCAL = 1,
	WEFT_MODE_DISTRIBUTED = 2,
	WEFT_MODE_REPLICATED = 3,
	WEFT_MODE_INVALIDATED = 4,
	WEFT_MODE__COUNT
};

struct __attribute__((packed)) weft_x_cache_opts { /* CACHE_OPEN request */
	uint64_t max_bytes;          /* memory bound; 0 = node default */
	uint64_t max_entries;        /* 0 = unbounded (memory bound only) */
	uint64_t default_ttl_ms;     /* 0 = never expires */
	uint64_t default_max_idle_ms;/* 0 = no idle expiry */
	uint32_t mode;               /* enum weft_cache_mode_wire; others BAD_CACHE_OPTS */
	uint32_t reserved;           /* 0 */
};

/* REPLICATE: node to node only (WEFT_F_NODE set; a request without it is
 * BAD_REQUEST). Carries entries of one cache, from a primary to its backups
 * (synchronous replication), from a writer to the other nodes (replicated
 * and invalidated modes) and in state transfer (rebalancing). name = the
 * cache (created on the receiver with opts if absent); value = count times
 * [struct weft_repl_entry][key bytes][value bytes] (count 0: no entry, the
 * message only creates the cache with opts — how CACHE_OPEN reaches every
 * node). The value may exceed WEFT_MAX_VALUE_LEN by one entry header and
 * key (WEFT_MAX_REPL_VALUE_LEN). Idempotent: a PUT or
 * DELETE entry is applied only if its version is newer than the receiver's
 * entry (versions order the writes of a key across nodes); INVALIDATE
 * removes the receiver's entry whatever its version. The response carries
 * weft_x_repl_ack. */
enum weft_repl_kind {
	WEFT_REPL_PUT = 1,
	WEFT_REPL_DELETE = 2,
	WEFT_REPL_INVALIDATE = 3,
};

struct __attribute__((packed)) weft_x_replicate {
	struct weft_x_cache_opts opts; /* of the cache, mode resolved (never DEFAULT) */
	uint32_t count;                /* entries in the value */
	uint32_t reserved;             /* 0 */
};

struct __attribute__((packed)) weft_repl_entry {
	uint8_t kind;          /* enum weft_repl_kind */
	uint8_t reserved;      /* 0 */
	uint16_t key_len;      /* 1..WEFT_MAX_KEY_LEN */
	uint32_t value_len;    /* 0 unless kind is PUT */
	uint64_t version;      /* the writer's version (a DELETE's: newer than the
	                          entry it removed) */
	uint64_t ttl_ms;       /* remaining lifetime; WEFT_TTL_NONE: never expires */
	uint64_t max_idle_ms;  /* 0: no idle expiry */
};

struct __attribute__((packed)) weft_x_repl_ack {
	uint32_t applied;      /* entries applied */
	uint32_t stale;        /* entries ignored: the receiver had a newer version */
};

/* A REPLICATE value holds at least one largest entry. */
#define WEFT_MAX_REPL_VALUE_LEN \
	(WEFT_MAX_VALUE_LEN + sizeof(struct weft_repl_entry) + WEFT_MAX_KEY_LEN)

_Static_assert(sizeof(struct weft_x_cache_opts) == 40, "cache opts are 40 bytes");
_Static_assert(sizeof(struct weft_x_replicate) == 48, "replicate extras are 48 bytes");
_Static_assert(sizeof(struct weft_repl_entry) == 32, "replication entry is 32 bytes");

/* --- Destinations (messaging) ---------------------------------------------
 *
 * A destination is named "/queue/NAME" (each message goes to one consumer)
 * or "/topic/NAME" (each message goes to every subscriber); NAME is
 * printable ASCII bytes without spaces, the whole name <= WEFT_MAX_NAME_LEN
 * (a queue's: <= WEFT_MAX_NAME_LEN - 4, so that its "NAME.dlq" is valid).
 * It is created by DEST_OPEN or by its first PUBLISH / RECEIVE (with the
 * node's default options) and removed by DEST_STOP. A queue "/queue/N" has
 * a dead-letter queue "/queue/N.dlq" (created with it), where a message
 * goes after max_deliveries failed deliveries.
 *
 * Where a destination lives: on the owners of the segment of its routing
 * name (weft_wire_dest_route_len: the name without a ".dlq" suffix, so a
 * queue and its dead letters share owners) -- segment = XXH3-64(routing
 * name) & (n_segments - 1), as for keys. The primary serves PUBLISH,
 * RECEIVE and ACK of queues and of durable subscriptions and keeps the
 * in-flight state; every accepted message (and every ack) is copied to the
 * other owners (MSG_REPL) before the client hears OK, so killing the
 * primary loses no acknowledged message: a backup takes over with every
 * message not yet acked (in-flight ones become deliverable again: at least
 * once).
 *
 * Queues: RECEIVE (consumer_id chosen by the consumer, random per consumer)
 * returns up to `max` messages, waiting up to wait_ms for the first one;
 * each message returned is in flight to that consumer until it is acked
 * (ACK kind ACK), nacked (kind NACK: deliverable again at once), its
 * visibility timeout passes, or the consumer is gone (no RECEIVE or ACK from
 * it for WEFT_CONSUMER_LEASE_MS beyond its last wait). A message delivered
 * max_deliveries times without an ack moves to the dead-letter queue.
 * Waiting consumers are served least-loaded first (fewest messages in
 * flight), then round-robin (the one served longest ago). Messages leave a
 * queue in id order.
 *
 * Topics: a RECEIVE without key on "/topic/NAME" is served by the node it
 * is sent to (the subscriber's node, never forwarded): its first RECEIVE
 * subscribes consumer_id there from the next message on; the node
 * registers itself with the topic's primary (TOPIC_JOIN, renewed every
 * WEFT_TOPIC_JOIN_MS), which sends it each message once (TOPIC_DELIVER, in
 * id order, one batch in flight per node); the node hands every message to
 * each of its local subscribers. A subscription is dropped by UNSUBSCRIBE
 * or after WEFT_CONSUMER_LEASE_MS without a RECEIVE. A subscriber that
 * falls more than max_depth messages behind loses the oldest (counted in
 * weft_x_received.dropped). A RECEIVE with key K on a topic names the
 * durable subscription K (1..64 printable ASCII bytes without spaces; any
 * other key is BAD_REQUEST), kept on the topic's owners like a queue (created
 * by its first RECEIVE; removed by UNSUBSCRIBE with key K): it keeps every
 * message published while its subscriber is away, up to max_depth, and is
 * acked like a queue.
 *
 * Message properties (PUBLISH value, before the body; props_len bytes):
 * a sequence of [u8 name_len][name][u16 value_len][value], names 1..64
 * printable ASCII, values <= 1024 bytes, props_len <= WEFT_MAX_PROPS_LEN.
 * The node checks and keeps them as given.
 *
 * DESTINATIONS text: one line per destination this node holds, as
 * "<name> <role> key=value ..." with role primary, backup or subscriber
 * (a node holding only local topic subscriptions), keys depth, bytes,
 * inflight, consumers, waiting, published, delivered, redelivered, acked,
 * dead, expired, full, subscriber_nodes, subscriptions, durable, dropped.
 * A single node is the primary of every destination. Long answers come
 * through FETCH.
 */
#define WEFT_MAX_BODY_LEN WEFT_MAX_VALUE_LEN /* 1 MiB */
#define WEFT_MAX_PROPS_LEN 4096u
#define WEFT_MAX_PROP_VALUE_LEN 1024u
#define WEFT_MAX_RECEIVE 64u             /* messages per RECEIVE */
#define WEFT_MAX_RECEIVE_WAIT_MS 20000u
#define WEFT_MAX_ACK 128u                /* ids per ACK */
#define WEFT_CONSUMER_LEASE_MS 5000u
#define WEFT_TOPIC_JOIN_MS 1000u
/* A message list (RECEIVE, TOPIC_DELIVER, MSG_REPL) holds messages up to
 * this many bytes, or one message of any size. */
#define WEFT_MSG_BATCH_BYTES (256u << 10)
/* Value limit of PUBLISH, MSG_REPL and TOPIC_DELIVER requests: one largest
 * message with its header. */
#define WEFT_MAX_MSG_VALUE_LEN (WEFT_MAX_BODY_LEN + WEFT_MAX_PROPS_LEN + 64u)

struct __attribute__((packed)) weft_x_dest_opts { /* DEST_OPEN; 0 = node default */
	uint32_t max_depth;      /* messages held (default 100000) */
	uint32_t max_deliveries; /* deliveries before dead-lettering (default 5) */
	uint32_t visibility_ms;  /* in flight before redelivery (default 30000) */
	uint32_t reserved;       /* 0 */
	uint64_t max_bytes;      /* bytes held (default 256 MiB) */
	uint64_t default_ttl_ms; /* message lifetime (default: never expires) */
};

struct __attribute__((packed)) weft_x_publish {   /* PUBLISH request */
	uint64_t ttl_ms;         /* 0 = the destination's default; WEFT_TTL_NONE never */
	uint32_t props_len;      /* properties at the start of the value */
	uint32_t reserved;       /* 0 */
};

struct __attribute__((packed)) weft_x_published { /* PUBLISH response */
	uint64_t id;             /* the message's id in its destination */
	uint32_t fanout;         /* topic: subscriber nodes + durable subscriptions it
	                            went to; queue: 0 */
	uint32_t reserved;
};

struct __attribute__((packed)) weft_x_receive {   /* RECEIVE request */
	uint64_t consumer_id;    /* != 0; the consumer's (or subscriber's) identity */
	uint32_t wait_ms;        /* wait for a first message, <= WEFT_MAX_RECEIVE_WAIT_MS */
	uint32_t visibility_ms;  /* 0 = the destination's */
	uint16_t max;            /* 1..WEFT_MAX_RECEIVE */
	uint16_t reserved;       /* 0 */
	uint32_t reserved2;      /* 0 */
};

struct __attribute__((packed)) weft_x_received {  /* RECEIVE response */
	uint32_t count;          /* messages in the value */
	uint32_t dropped;        /* topic subscription: messages lost since the last
	                            RECEIVE (it fell behind) */
};

/* One message in a message list: header, props_len bytes of properties,
 * body_len bytes of body. */
struct __attribute__((packed)) weft_msg_hdr {
	uint64_t id;
	uint64_t expires_ms;     /* unix ms; 0 = never */
	uint32_t props_len;
	uint32_t body_len;
	uint16_t deliveries;     /* RECEIVE: 1 on the first delivery */
	uint8_t kind;            /* MSG_REPL: enum weft_msg_rec_kind; else 0 */
	uint8_t reserved;
	uint32_t reserved2;
};

enum weft_ack_kind { WEFT_ACK_ACK = 1, WEFT_ACK_NACK = 2 };

struct __attribute__((packed)) weft_x_ack {       /* ACK request */
	uint64_t consumer_id;
	uint32_t kind;           /* enum weft_ack_kind */
	uint32_t count;          /* u64 ids in the value, 1..WEFT_MAX_ACK */
};

struct __attribute__((packed)) weft_x_acked {     /* ACK response */
	uint32_t done;           /* ids acked / nacked */
	uint32_t unknown;        /* ids not in flight to this consumer (already acked,
	                            redelivered elsewhere, or unknown) */
};

struct __attribute__((packed)) weft_x_unsubscribe {
	uint64_t consumer_id;    /* queue: its in-flight messages are released;
	                            topic: its subscription on this node ends;
	                            with a key: the durable subscription is removed */
};

/* MSG_REPL: node to node only (WEFT_F_NODE). Records of one destination
 * (key: of its durable subscription named key), from the primary to the
 * other owners and in state transfer; idempotent (by id; an id removed is
 * remembered for a while so a late APPEND cannot bring it back). */
enum weft_msg_rec_kind {
	WEFT_MSGREC_APPEND = 1,  /* the message (props, body) */
	WEFT_MSGREC_REMOVE = 2,  /* id acked (lengths 0) */
	WEFT_MSGREC_DEAD = 3,    /* id moved to the dead-letter queue */
	WEFT_MSGREC_SUB = 4,     /* durable subscription key created (id 0) */
	WEFT_MSGREC_UNSUB = 5,   /* durable subscription key removed (id 0) */
	WEFT_MSGREC_STOP = 6,    /* destination stopped (id 0) */
	WEFT_MSGREC_TRIM = 7,    /* topic: every subscriber node has every message up
	                            to id; the log drops them */
};

struct __attribute__((packed)) weft_x_msg_repl {
	struct weft_x_dest_opts opts; /* of the destination (created if absent) */
	uint32_t count;               /* records in the value */
	uint32_t reserved;            /* 0 */
};

struct __attribute__((packed)) weft_x_topic_join {
	uint64_t next_id;        /* first id the node still wants; 0 = from now on */
	uint32_t subscriptions;  /* local subscriptions (0: the node leaves) */
	uint32_t reserved;
};

struct __attribute__((packed)) weft_x_topic_joined {
	uint64_t next_id;        /* where delivery to the node resumes */
};

struct __attribute__((packed)) weft_x_topic_deliver {
	uint64_t next_id;        /* the id after this batch */
	uint32_t count;          /* messages in the value */
	uint32_t dropped;        /* messages the node missed (the log no longer held them) */
};

struct __attribute__((packed)) weft_x_topic_delivered {
	uint64_t next_id;        /* the first id the node wants next */
};

_Static_assert(sizeof(struct weft_x_dest_opts) == 32, "dest opts are 32 bytes");
_Static_assert(sizeof(struct weft_msg_hdr) == 32, "message header is 32 bytes");
_Static_assert(sizeof(struct weft_x_receive) == 24, "receive extras are 24 bytes");

/* The routing name of a destination: its first weft_wire_dest_route_len
 * bytes ("/queue/N.dlq" routes as "/queue/N"). Pure. */
static inline size_t weft_wire_dest_route_len(const char *name, size_t len)
{
	if (len > 11 && __builtin_memcmp(name, "/queue/", 7) == 0 &&
	    __builtin_memcmp(name + len - 4, ".dlq", 4) == 0)
		return len - 4;
	return len;
}

/* Singletons and fencing. Where each singleton (an app's daemon or job)
 * runs is recorded cluster-wide as a claim: key "<app>/<name>" in the
 * replicated cache WEFT_SINGLETON_CACHE, value struct weft_singleton_claim.
 * A singleton's run holds the claim's epoch as its fencing token; a
 * PUT_FENCED write carries it, and the key's primary applies it (as a PUT)
 * only if its copy of the claim is held with that very epoch, else answers
 * FENCED: a singleton that lost its claim (a partition, a pause) cannot
 * overwrite what its successor writes. */
#define WEFT_SINGLETON_CACHE "weft.singletons"
#define WEFT_SINGLETON_NAME_MAX 128u

enum weft_singleton_claim_kind { WEFT_CLAIM_HELD = 1, WEFT_CLAIM_RELEASED = 2 };

struct __attribute__((packed)) weft_singleton_claim {
	uint8_t kind;          /* enum weft_singleton_claim_kind */
	uint8_t owner[16];     /* node id (UUID bytes) */
	uint64_t epoch;        /* the fencing token: above every earlier claim's */
	uint64_t since_ms;     /* unix ms of the claim */
};

struct __attribute__((packed)) weft_x_fenced_write { /* PUT_FENCED */
	uint64_t ttl_ms;
	uint64_t max_idle_ms;
	uint64_t epoch;                /* the writer's fencing token */
	uint8_t singleton_len;         /* 1..WEFT_SINGLETON_NAME_MAX */
	uint8_t reserved[7];           /* 0 */
	char singleton[WEFT_SINGLETON_NAME_MAX]; /* "<app>/<name>", unused bytes 0 */
};

_Static_assert(sizeof(struct weft_singleton_claim) == 33, "a claim is 33 bytes");
_Static_assert(sizeof(struct weft_x_fenced_write) == 160, "fenced write extras are 160 bytes");

/* Sessions (docs/sessions.md). A session store is a DISTRIBUTED cache named
 * WEFT_SESSION_STORE or "weft.sessions.<anything>" (created on first use
 * with the node's default owners); its entries are sessions: key = the
 * 16-byte session id, value = the session record (below). Session ids are
 * made by the client from a cryptographic source (libweft: getrandom(2));
 * an all-zero id is refused (BAD_REQUEST). Plain cache writes (PUT, DELETE,
 * ...) to a session store are refused with BAD_REQUEST; GET returns the raw
 * record.
 *
 * Every SESSION op is routed as a keyed write: it is served by the primary
 * of the id's segment (any other node forwards it there). The primary reads
 * the record, applies the action, stores the new record (compare-and-swap
 * on the entry's version, retried, so concurrent ops on one session
 * serialize) and replicates it to the other owners before answering
 * (synchronous, as a PUT; INVALIDATE and EXPIRE as a DELETE).
 *
 * Idle tracking. record.access_ms (unix ms) is the last access that every
 * owner knows. Each write action sets it to the primary's now; a read
 * action (GET, LIST, LOAD, TOUCH) that finds it older than the session's
 * slack weft_session_slack_ms() sets it and replicates before answering;
 * other reads replicate nothing (one replicated write per session per slack
 * at most, never one per read). Hence every owner's access_ms is within the
 * slack of the true last access, and every owner computes the same
 * deadline: access_ms + slack + max_inactive_s * 1000. The primary's expiry
 * pass removes a session past its deadline (EXPIRE); after a failover the
 * new primary uses the same replicated deadline, so a session used within
 * its timeout is never expired, and an idle one is gone between
 * max_inactive and max_inactive + slack after its last access.
 *
 * Events. The primary that creates, invalidates or expires a session
 * publishes one message to the topic
 * "/topic/<store>.events" (at most once: lost if that node dies first) with
 * properties "event" (created | expired | invalidated), "session" (the id
 * in 32 lowercase hex digits) and "store"; the body is empty. The event is
 * queued when the primary stores the change, before the other owners ack
 * it, so it may be published before the answer, and also for a change
 * answered BUSY (it stands on the primary). */
#define WEFT_SESSION_STORE "weft.sessions"
#define WEFT_SESSION_STORE_PREFIX "weft.sessions."
#define WEFT_SESSION_STORE_MAX_LEN 50u        /* "/topic/<store>.events" fits a name */
#define WEFT_SESSION_ID_LEN 16u
#define WEFT_SESSION_DEFAULT_MAX_INACTIVE_S 1800u /* 30 min */
#define WEFT_SESSION_MAX_MAX_INACTIVE_S (30u * 86400u)
#define WEFT_SESSION_MAX_ATTR_NAME 250u       /* bytes, 1..250, any bytes but NUL */
#define WEFT_SESSION_MAX_BYTES WEFT_MAX_VALUE_LEN /* a whole record, headers included */

enum weft_session_action {
	WEFT_SESS_CREATE = 1,     /* max_inactive_s (0: default) -> OK; EXISTS when the id
	                             is taken (the client draws another) */
	WEFT_SESS_GET = 2,        /* value = attribute name -> value = the attribute;
	                             NOT_FOUND: no such attribute */
	WEFT_SESS_SET = 3,        /* value = name (attr_len bytes) then the attribute -> OK;
	                             VALUE_TOO_LARGE when the record would pass
	                             WEFT_SESSION_MAX_BYTES (nothing changed) */
	WEFT_SESS_REMOVE = 4,     /* value = attribute name -> OK; NOT_FOUND */
	WEFT_SESS_LIST = 5,       /* -> value = attribute list, names only */
	WEFT_SESS_LOAD = 6,       /* -> value = attribute list with values */
	WEFT_SESS_TOUCH = 7,      /* an access; max_inactive_s != 0 sets a new timeout -> OK */
	WEFT_SESS_INVALIDATE = 8, /* -> OK: the session is gone from every owner */
	WEFT_SESS_EXPIRE = 9,     /* node only (WEFT_F_NODE or in-node): removes the session
	                             iff its deadline passed -> OK; EXISTS: not due */
	WEFT_SESS_INFO = 10,      /* -> OK (the info extras; not an access) */
	WEFT_SESS__COUNT
};

/* Whether an action may be applied twice with the effect of once (CREATE,
 * REMOVE, INVALIDATE and EXPIRE are answered from the node's at-most-once
 * table on a retransmission, and never re-sent to another node). */
static inline bool weft_wire_session_action_is_idempotent(uint8_t action)
{
	return action != WEFT_SESS_CREATE && action != WEFT_SESS_REMOVE &&
	       action != WEFT_SESS_INVALIDATE && action != WEFT_SESS_EXPIRE;
}

/* The slack of a session with timeout max_inactive_s: clamp(max_inactive / 8,
 * 1 s, 60 s), in ms. Pure. */
static inline uint64_t weft_session_slack_ms(uint32_t max_inactive_s)
{
	uint64_t s = (uint64_t)max_inactive_s * 1000u / 8u;
	return s < 1000u ? 1000u : s > 60000u ? 60000u : s;
}

struct __attribute__((packed)) weft_x_session { /* SESSION request */
	uint8_t action;          /* enum weft_session_action */
	uint8_t reserved;        /* 0 */
	uint16_t attr_len;       /* SET: the name's length in the value; else 0 (the
	                            whole value is the name for GET and REMOVE) */
	uint32_t max_inactive_s; /* CREATE, TOUCH: 0 or 1..WEFT_SESSION_MAX_MAX_INACTIVE_S;
	                            0 for the other actions */
};

/* Every SESSION answer with status OK carries the session as the primary
 * saw it before this op's access, except those of CREATE, REMOVE,
 * INVALIDATE and EXPIRE (at-most-once answers), which carry no extras. */
struct __attribute__((packed)) weft_x_session_info {
	uint64_t created_ms;     /* unix ms */
	uint64_t access_ms;      /* the record's access_ms (within the slack of the truth) */
	uint64_t idle_ms;        /* the primary's now - access_ms */
	uint32_t max_inactive_s;
	uint32_t attrs;          /* attributes */
	uint32_t bytes;          /* the record's size */
	uint32_t reserved;       /* 0 */
};

/* The session record (the cache entry's value), and the attribute list of
 * LIST and LOAD answers: little-endian, packed. The record is a
 * weft_session_record_hdr then hdr.attrs attributes; an attribute is a
 * weft_session_attr_hdr, then name_len name bytes, then value_len value
 * bytes (LIST: no value bytes; value_len still gives the size). Names are
 * unique within a session. */
#define WEFT_SESSION_RECORD_MAGIC 0x53534557u /* "WESS" */
struct __attribute__((packed)) weft_session_record_hdr {
	uint32_t magic;
	uint32_t max_inactive_s;
	uint64_t created_ms;
	uint64_t access_ms;
	uint32_t attrs;
	uint32_t reserved;       /* 0 */
};
struct __attribute__((packed)) weft_session_attr_hdr {
	uint16_t name_len;       /* 1..WEFT_SESSION_MAX_ATTR_NAME */
	uint32_t value_len;
};

/* The session event kinds (the "event" property's values, in order). */
enum weft_session_event {
	WEFT_SESSION_CREATED = 1,
	WEFT_SESSION_EXPIRED = 2,
	WEFT_SESSION_INVALIDATED = 3,
};

_Static_assert(sizeof(struct weft_x_session) == 8, "session extras are 8 bytes");
_Static_assert(sizeof(struct weft_x_session_info) == 40, "session info is 40 bytes");
_Static_assert(sizeof(struct weft_session_record_hdr) == 32, "record header is 32 bytes");
_Static_assert(sizeof(struct weft_session_attr_hdr) == 6, "attribute header is 6 bytes");

/* Whether name (len bytes) names a session store. Pure. */
static inline bool weft_wire_is_session_store(const char *name, size_t len)
{
	size_t base = sizeof(WEFT_SESSION_STORE) - 1, pre = sizeof(WEFT_SESSION_STORE_PREFIX) - 1;
	if (len > WEFT_SESSION_STORE_MAX_LEN || len < base ||
	    __builtin_memcmp(name, WEFT_SESSION_STORE, base) != 0)
		return false;
	return len == base || (len > pre && name[base] == '.');
}

/* APPS. No name, key, extras or value; idempotent. Response value: text
 * lines about this node's deployed apps, daemons and jobs, as the node's
 * app runtime last published them (empty when it runs none):
 *   "app <name> loaded <unix_ms> generation <n>"
 *   "daemon <app>/<name> <singleton|every-node> <running|idle|claiming|
 *    stopping> epoch <e> since <unix_ms> owner <node-id|->"
 *   "job <app>/<name> <singleton|every-node> <running|idle|...> epoch <e>
 *    next <unix_ms|-> last <unix_ms|-> result <int|-> fires <n>
 *    owner <node-id|->"
 * A long answer comes through FETCH. */

/* MEMBERS. No name, key, extras or value. Response value: text lines, a
 * header "view <counter> coordinator <name>\n" (counter: the view id counter,
 * the topology epoch; 0 for a node not in a cluster), then one line per member
 * of the view "<name> <ip>:<port> <state> <uptime_s> <node-id>\n" where port is
 * the member's data port, state one of alive, suspect, dead, left, uptime_s
 * the seconds since the member's process started and node-id its UUID ("-"
 * when unknown). A single node answers with itself as the only member. Like
 * STATS, a long answer comes through FETCH. */

/* TOPOLOGY. No name, key, extras or value; idempotent. Response value
 * (binary, packed, little-endian):
 *   struct weft_topo_hdr
 *   n_members times: struct weft_topo_member, then name_len name bytes
 *   n_segments * owners times: u16 member index (into the list above),
 *     segment by segment, each segment's owners primary first
 * where n_segments = 1 << n_segments_log2. Owners 0 means the node has no
 * segment table yet (no owner indices follow). Indices are < n_members and
 * distinct within a segment. A single node answers with itself alone and
 * owns every segment. Like STATS, a long answer comes through FETCH.
 *
 * Keys to segments (clients and nodes compute the same):
 *   segment = XXH3_64bits(key bytes, key_len) & (n_segments - 1)
 * (XXH3-64 with seed 0, the hash the node computes once per request); the
 * owners of a key are that segment's owner list. One table serves every
 * cache. */
struct __attribute__((packed)) weft_topo_hdr {
	uint32_t epoch;           /* view counter (low 32 bits): = hdr.epoch */
	uint16_t n_segments_log2; /* <= 16 */
	uint16_t owners;          /* owners per segment (primary + backups) */
	uint16_t n_members;       /* >= 1 */
};

struct __attribute__((packed)) weft_topo_member {
	uint16_t port;            /* the member's data (client) UDP port */
	uint32_t ip;              /* IPv4, network order (not little-endian) */
	uint8_t id[16];           /* node id (UUID bytes; zero when unknown) */
	uint8_t name_len;         /* name bytes that follow, <= WEFT_MAX_NAME_LEN */
};

_Static_assert(sizeof(struct weft_topo_hdr) == 10, "topology header is 10 bytes");
_Static_assert(sizeof(struct weft_topo_member) == 23, "topology member is 23 bytes");

#define WEFT_TOPO_SEG_LOG2_MAX 16u

/* The segment of a key whose XXH3-64 is key_hash, in a table of
 * 2^n_segments_log2 segments. Pure. */
static inline uint32_t weft_wire_segment(uint64_t key_hash, unsigned n_segments_log2)
{
	return (uint32_t)(key_hash & ((1ull << n_segments_log2) - 1u));
}

/* MULTI_GET. Request value: key_count (u16) then key_count times
 * [u16 key_len][key bytes]. Response value: the same count, then per key in
 * request order [u16 status][u16 key_len][u32 value_len][u64 version]
 * [key bytes][value bytes] (value_len 0 unless status is OK). */
struct __attribute__((packed)) weft_mget_entry_hdr {
	uint16_t status;
	uint16_t key_len;
	uint32_t value_len;
	uint64_t version;
};

/* Extras length each request opcode must carry. */
static inline uint16_t weft_wire_request_extras_len(uint8_t opcode)
{
	switch (opcode) {
	case WEFT_OP_PUT:
	case WEFT_OP_PUT_IF_ABSENT:
	case WEFT_OP_REPLACE:
	case WEFT_OP_TOUCH:
		return sizeof(struct weft_x_write);
	case WEFT_OP_CAS:
		return sizeof(struct weft_x_cas);
	case WEFT_OP_INCR:
		return sizeof(struct weft_x_incr);
	case WEFT_OP_CACHE_OPEN:
		return sizeof(struct weft_x_cache_opts);
	case WEFT_OP_FETCH:
		return sizeof(struct weft_x_fetch);
	case WEFT_OP_REPLICATE:
		return sizeof(struct weft_x_replicate);
	case WEFT_OP_DEST_OPEN:
		return sizeof(struct weft_x_dest_opts);
	case WEFT_OP_PUBLISH:
		return sizeof(struct weft_x_publish);
	case WEFT_OP_RECEIVE:
		return sizeof(struct weft_x_receive);
	case WEFT_OP_ACK:
		return sizeof(struct weft_x_ack);
	case WEFT_OP_UNSUBSCRIBE:
		return sizeof(struct weft_x_unsubscribe);
	case WEFT_OP_MSG_REPL:
		return sizeof(struct weft_x_msg_repl);
	case WEFT_OP_TOPIC_JOIN:
		return sizeof(struct weft_x_topic_join);
	case WEFT_OP_TOPIC_DELIVER:
		return sizeof(struct weft_x_topic_deliver);
	case WEFT_OP_PUT_FENCED:
		return sizeof(struct weft_x_fenced_write);
	case WEFT_OP_SESSION:
		return sizeof(struct weft_x_session);
	default:
		return 0;
	}
}

/* Whether the op addresses one key (and so one segment's owners). */
static inline bool weft_wire_op_has_key(uint8_t opcode)
{
	switch (opcode) {
	case WEFT_OP_GET:
	case WEFT_OP_PUT:
	case WEFT_OP_PUT_IF_ABSENT:
	case WEFT_OP_REPLACE:
	case WEFT_OP_CAS:
	case WEFT_OP_DELETE:
	case WEFT_OP_INCR:
	case WEFT_OP_TOUCH:
	case WEFT_OP_PUT_FENCED:
	case WEFT_OP_SESSION:
		return true;
	default:
		return false;
	}
}

/* Whether applying the op again is harmless: false for the ops the node
 * remembers the responses of per (client_id, request_id). PUT and
 * PUT_FENCED are not idempotent in this sense: a retransmitted PUT X
 * applied again after another client's write of Y (which read X) puts X
 * back over Y, a write taking effect twice (found by tests/faults: kill9,
 * pause, loss). SESSION is false here: whether it is depends on its action
 * (weft_wire_session_action_is_idempotent). */
static inline bool weft_wire_op_is_idempotent(uint8_t opcode)
{
	switch (opcode) {
	case WEFT_OP_PING:
	case WEFT_OP_GET:
	case WEFT_OP_MULTI_GET:
	case WEFT_OP_TOUCH:
	case WEFT_OP_CACHE_OPEN:
	case WEFT_OP_STATS:
	case WEFT_OP_FETCH:
	case WEFT_OP_MEMBERS:
	case WEFT_OP_TOPOLOGY:
	case WEFT_OP_REPLICATE:
	case WEFT_OP_DEST_OPEN:
	case WEFT_OP_UNSUBSCRIBE:
	case WEFT_OP_DESTINATIONS:
	case WEFT_OP_APPS:
	case WEFT_OP_MSG_REPL:
	case WEFT_OP_TOPIC_JOIN:
	case WEFT_OP_TOPIC_DELIVER:
		return true;
	default:
		return false;
	}
}

/* Whether the op names a destination (and so its owners). */
static inline bool weft_wire_op_is_dest(uint8_t opcode)
{
	return opcode >= WEFT_OP_DEST_OPEN && opcode <= WEFT_OP_TOPIC_DELIVER &&
	       opcode != WEFT_OP_DESTINATIONS;
}

/* The largest value a request of opcode may carry. */
static inline uint32_t weft_wire_max_request_value(uint8_t opcode)
{
	switch (opcode) {
	case WEFT_OP_REPLICATE:
		return WEFT_MAX_REPL_VALUE_LEN;
	case WEFT_OP_PUBLISH:
	case WEFT_OP_MSG_REPL:
	case WEFT_OP_TOPIC_DELIVER:
		return WEFT_MAX_MSG_VALUE_LEN;
	case WEFT_OP_SESSION:
		return WEFT_MAX_VALUE_LEN + WEFT_SESSION_MAX_ATTR_NAME;
	default:
		return WEFT_MAX_VALUE_LEN;
	}
}

/* Checks one received REQUEST datagram's header against its length (the
 * value limit is the request's; a receiver of responses checks msg_len
 * against WEFT_MAX_RESP_LEN instead). Returns
 * WEFT_ST_OK, or the status to answer with (BAD_VERSION, BAD_REQUEST,
 * KEY_TOO_LONG, VALUE_TOO_LARGE). A datagram shorter than the header, or with
 * the wrong magic, cannot be answered: the caller drops and counts it
 * (this function returns BAD_REQUEST for it too; the caller checks
 * dgram_len and magic first). Pure: reads only its arguments. */
static inline enum weft_status weft_wire_check(const struct weft_wire_hdr *h, size_t dgram_len)
{
	if (dgram_len < sizeof(*h) || h->magic != WEFT_WIRE_MAGIC)
		return WEFT_ST_BAD_REQUEST;
	if (h->version != WEFT_WIRE_VERSION)
		return WEFT_ST_BAD_VERSION;
	if (h->flags & ~WEFT_F__KNOWN)
		return WEFT_ST_BAD_REQUEST;
	size_t slice = dgram_len - sizeof(*h);
	if (slice > WEFT_MAX_DGRAM_PAYLOAD)
		return WEFT_ST_BAD_REQUEST;
	if (h->key_len > WEFT_MAX_KEY_LEN)
		return WEFT_ST_KEY_TOO_LONG;
	if (h->name_len > WEFT_MAX_NAME_LEN)
		return WEFT_ST_BAD_REQUEST;
	uint64_t head = (uint64_t)h->name_len + h->key_len + h->extras_len;
	if (head > h->msg_len)
		return WEFT_ST_BAD_REQUEST;
	if (h->msg_len - head > weft_wire_max_request_value(h->opcode))
		return WEFT_ST_VALUE_TOO_LARGE;
	if ((uint64_t)h->frag_offset + slice > h->msg_len)
		return WEFT_ST_BAD_REQUEST;
	if (h->frag_offset == 0 && head > slice)
		return WEFT_ST_BAD_REQUEST; /* first datagram must hold name+key+extras */
	return WEFT_ST_OK;
}

/* The value length a message carries. */
static inline uint32_t weft_wire_value_len(const struct weft_wire_hdr *h)
{
	return h->msg_len - h->name_len - h->key_len - h->extras_len;
}

#ifdef __cplusplus
}
#endif
#endif /* WEFT_WIRE_H */
