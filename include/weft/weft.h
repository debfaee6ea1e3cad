/*
 * libweft — the weft client library: every cache op of the wire protocol
 * (include/weft/wire.h) over a kernel UDP socket. No DPDK needed.
 *
 * Model: a weft_client is opened on one node, the seed (IP[:PORT]). Each
 * call sends one request and waits for its response; it is retransmitted
 * with the same request_id (flag WEFT_F_RETRY) after each per-attempt
 * timeout, so the node's at-most-once table applies a write (PUT,
 * PUT_IF_ABSENT, REPLACE, CAS, DELETE, INCR) once however many copies
 * arrive. Requests longer than one datagram are split and resent whole on
 * a timeout; long responses are reassembled, pulling pieces with FETCH at
 * most WEFT_RESP_INITIAL_WINDOW datagrams in flight, so a 1 MiB value fits
 * the default kernel socket buffers. Datagrams that are not the awaited
 * response (from another address, another request id or client id, a
 * stale duplicate, garbage) are ignored.
 *
 * Routing (on by default; weft_client_set_routing): the client is
 * topology-aware. Its first keyed op fetches the cluster's segment table
 * (TOPOLOGY) from the seed; from then on each keyed request goes straight
 * to an owner of its key (wire.h "TOPOLOGY": segment = XXH3-64(key) &
 * (segments - 1)):
 *   - writes (put, put-if-absent, replace, CAS, delete, incr, touch) to the
 *     segment's primary;
 *   - get to the primary, and when it does not answer within one attempt,
 *     to the next owner (the last owner gets the remaining attempts);
 *   - multi-get split into one request per primary, the answers merged back
 *     in the caller's order (one block to free, as always);
 *   - ping, stats, members, topology and open-cache to the seed;
 *   - messaging (see "Messaging" below) like keyed ops, with the
 *     destination's routing name as the key, except plain topic
 *     subscriptions and DESTINATIONS, which go to the seed.
 * The table is fetched again before the next keyed op when a response
 * carries an epoch newer than the table's or an addressed node timed out
 * (the table is then asked from another member, the seed last), and at
 * once when a node answers NOT_OWNER (the op is then retried once at the
 * new owner: NOT_OWNER reaches the caller only if that fails too). An
 * idempotent write (put, touch) that timed out is sent once more if the
 * fresh table names another primary; the other writes are never re-sent to
 * another node, since the first node may have applied them: they return
 * -WEFT_ST_TIMEOUT (outcome unknown), as without routing. A table with a
 * single member, or with no owners yet, sends everything to the seed, at
 * the address the application gave. When the seed stops answering, the
 * client moves its non-keyed ops to another member it knows. Every wait,
 * table fetches included, is bounded by the attempts and by
 * opts.deadline_ms. With routing off, every request goes to the seed
 * (the nodes forward what they do not own). The client keeps one UDP
 * socket for every node and takes a response only from the address its
 * request went to.
 *
 * Thread-safety: a weft_client is NOT thread-safe: use one client per thread
 * (clients are cheap: one socket, ~3 KiB plus the segment table), or
 * serialize calls on a client with your own lock. Different clients are independent. weft_strerror and
 * weft_status_name are thread-safe (they return static strings).
 *
 * Return codes: every int function returns 0 on success or a negative
 * enum weft_status: the node's statuses (-WEFT_ST_NOT_FOUND, -WEFT_ST_EXISTS,
 * ...) or libweft's own:
 *   -WEFT_ST_TIMEOUT      no response after all attempts or past the deadline;
 *   -WEFT_ST_IO           socket error or local allocation failure
 *                         (weft_client_errno() gives the errno);
 *   -WEFT_ST_PROTOCOL     the node's response was malformed for the op;
 *   -WEFT_ST_INVALID_ARG  bad argument, caught before anything is sent:
 *                         NULL pointer, cache name not 1..64 bytes, key not
 *                         1..250 bytes, value > 1 MiB, too many keys.
 * weft_client_connect returns NULL and sets errno (EINVAL, or the socket's).
 *
 * Ownership: buffers returned through void ** / char ** are malloc'd for the
 * caller, who frees them with free(). On any error nothing is allocated and
 * out-parameters are left untouched, except that put-if-absent and CAS also
 * report the current version on -WEFT_ST_EXISTS / -WEFT_ST_VERSION_MISMATCH.
 * All out-pointers may be NULL when the caller does not want the value.
 */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef WEFT_API
#define WEFT_API __attribute__((visibility("default")))
#endif

typedef struct weft_client weft_client;

#define WEFT_DEFAULT_TIMEOUT_MS 500u
#define WEFT_DEFAULT_RETRIES 3u

struct weft_client_opts {
	uint32_t timeout_ms;  /* per attempt, > 0; default WEFT_DEFAULT_TIMEOUT_MS */
	uint32_t retries;     /* retransmissions after the first attempt; default 3 */
	uint32_t deadline_ms; /* bound on a whole call (every attempt, every FETCH);
	                         0 = none beyond the attempts themselves */
	const char *key_file; /* client key (docs/client.md): every request is sealed
	                         with it and every answer must verify; NULL: none.
	                         Read once by weft_client_connect (a file only its
	                         owner may read; else connect fails, errno EPERM,
	                         EINVAL or the open errno). Ignored over a transport. */
};

/* Fills *opts with the defaults; key_file from the environment variable
 * WEFT_CLIENT_KEY_FILE (NULL when unset or empty). */
WEFT_API void weft_client_opts_init(struct weft_client_opts *opts);

/* Opens a client for the node at addr, "IPv4[:PORT]" (port default
 * WEFT_DEFAULT_PORT). opts NULL means defaults. Sends nothing. Returns NULL
 * with errno EINVAL (bad address or options) or a socket errno. */
WEFT_API weft_client *weft_client_connect(const char *addr, const struct weft_client_opts *opts);

/* A datagram transport other than the kernel's UDP sockets: how weftd's own
 * threads (apps, the control thread) use this API inside a node
 * (dataplane's in-node clients). Addresses and ports in network order. */
struct weft_transport {
	void *ctx;
	/* Sends one datagram; 0 (also when it was lost) or a negative errno. */
	int (*send)(void *ctx, uint32_t ip, uint16_t port, const void *buf, size_t len);
	/* Waits up to timeout_ms for one datagram: its length (at most cap
	 * bytes copied), its source in *ip / *port; 0 when the time is up; a
	 * negative errno on failure. */
	long (*recv)(void *ctx, void *buf, size_t cap, uint32_t *ip, uint16_t *port,
		     int timeout_ms);
};

/* As weft_client_connect, over transport t (copied; t->ctx must outlive the
 * client) with the given client_id (0: random). NULL + errno EINVAL. */
WEFT_API weft_client *weft_client_connect_transport(const char *addr,
						     const struct weft_client_opts *opts,
						     const struct weft_transport *t,
						     uint32_t client_id);

/* Writes a new random client (or cluster) key to path: 64 hex digits and
 * a newline, mode 0600; never overwrites (-EEXIST). 0 or a negative errno,
 * with a one-line reason in err (errlen bytes) when err is not NULL. */
WEFT_API int weft_key_generate(const char *path, char *err, size_t errlen);

/* Checks that path holds a usable key (owner-only mode, owned by this
 * user, 32 bytes or 64 hex digits). 0 or a negative errno, with the
 * reason (naming the file and its mode or length) in err. */
WEFT_API int weft_key_check(const char *path, char *err, size_t errlen);

/* Closes the socket and frees the client. NULL is a no-op. */
WEFT_API void weft_client_close(weft_client *c);

/* Turns topology-aware routing (the model above) on (the default) or off
 * (every request to the seed, the table is neither fetched nor used).
 * Takes effect at the next call. NULL is a no-op. */
WEFT_API void weft_client_set_routing(weft_client *c, bool on);

/* The errno behind the last -WEFT_ST_IO (or the last socket error seen,
 * e.g. ECONNREFUSED before a -WEFT_ST_TIMEOUT); 0 if none. */
WEFT_API int weft_client_errno(const weft_client *c);

/* The topology epoch the node put in its last whole response (wire.h
 * hdr.epoch; 0 before the first or from a node outside a cluster's first
 * view). When it differs from a fetched weft_topology's epoch, the table
 * is stale: fetch it again. */
WEFT_API uint32_t weft_client_epoch(const weft_client *c);

/* The random 32-bit identity the client puts in every request (0 for NULL). */
WEFT_API uint32_t weft_client_id(const weft_client *c);

/* Short name of a status, "NOT_FOUND"; rc may be negative or positive; an
 * unknown code gives "UNKNOWN". */
WEFT_API const char *weft_status_name(int rc);
/* One-line description of a status, "no such key (or it expired)". */
WEFT_API const char *weft_strerror(int rc);

/* Round trip with no effect on the node. */
WEFT_API int weft_ping(weft_client *c);

/* Reads key. On success *value is a malloc'd copy (NULL when the value is
 * empty) of *value_len bytes, and *version the entry's version.
 * -WEFT_ST_NOT_FOUND when absent or expired. */
WEFT_API int weft_get(weft_client *c, const char *cache, const void *key, size_t key_len,
		      void **value, size_t *value_len, uint64_t *version);

/* As weft_get, into the caller's buf of buf_len bytes: copies
 * min(buf_len, length) bytes and sets *value_len to the value's full length,
 * so *value_len > buf_len means the copy was truncated (as snprintf). */
WEFT_API int weft_get_into(weft_client *c, const char *cache, const void *key, size_t key_len,
			   void *buf, size_t buf_len, size_t *value_len, uint64_t *version);

/* TTL options of a write; NULL means both 0 = the cache's defaults.
 * WEFT_TTL_NONE means never. */
struct weft_write_opts {
	uint64_t ttl_ms;
	uint64_t max_idle_ms;
};

/* Stores value under key (value may be NULL when value_len is 0).
 * *version gets the new entry's version. */
WEFT_API int weft_put(weft_client *c, const char *cache, const void *key, size_t key_len,
		      const void *value, size_t value_len, const struct weft_write_opts *wo,
		      uint64_t *version);
/* Stores only if no live entry exists; -WEFT_ST_EXISTS (with the current
 * version in *version) otherwise. */
WEFT_API int weft_put_if_absent(weft_client *c, const char *cache, const void *key,
				size_t key_len, const void *value, size_t value_len,
				const struct weft_write_opts *wo, uint64_t *version);
/* Stores only if a live entry exists; -WEFT_ST_NOT_FOUND otherwise. */
WEFT_API int weft_replace(weft_client *c, const char *cache, const void *key, size_t key_len,
			  const void *value, size_t value_len, const struct weft_write_opts *wo,
			  uint64_t *version);
/* Stores only if the entry's version is expected_version;
 * -WEFT_ST_VERSION_MISMATCH (current version in *version) or
 * -WEFT_ST_NOT_FOUND otherwise. */
WEFT_API int weft_cas(weft_client *c, const char *cache, const void *key, size_t key_len,
		      uint64_t expected_version, const void *value, size_t value_len,
		      const struct weft_write_opts *wo, uint64_t *version);
/* As weft_put, conditioned on a singleton's fencing token (include/weft/
 * app.h weft_daemon_epoch / weft_job_epoch): the key's primary applies it
 * only while the claim of singleton ("<app>/<name>") is held with epoch;
 * -WEFT_ST_FENCED otherwise (the writer lost the singleton to another
 * node). Idempotent like weft_put. */
WEFT_API int weft_put_fenced(weft_client *c, const char *cache, const void *key, size_t key_len,
			     const void *value, size_t value_len,
			     const struct weft_write_opts *wo, const char *singleton,
			     uint64_t epoch, uint64_t *version);
/* Removes key; -WEFT_ST_NOT_FOUND if there was none. */
WEFT_API int weft_delete(weft_client *c, const char *cache, const void *key, size_t key_len);
/* Adds delta to the decimal int64 stored at key (created as delta, with
 * ttl_ms, when absent) and returns the result in *new_value.
 * -WEFT_ST_NOT_NUMERIC, -WEFT_ST_OVERFLOW. */
WEFT_API int weft_incr(weft_client *c, const char *cache, const void *key, size_t key_len,
		       int64_t delta, uint64_t ttl_ms, int64_t *new_value);
/* Resets key's TTL / idle timer to wo's (NULL = cache defaults). */
WEFT_API int weft_touch(weft_client *c, const char *cache, const void *key, size_t key_len,
			const struct weft_write_opts *wo, uint64_t *version);

/* Options of weft_open_cache; NULL means all 0 = node defaults. */
struct weft_open_opts {
	uint64_t max_bytes;           /* memory bound; 0 = node default */
	uint64_t max_entries;         /* 0 = unbounded */
	uint64_t default_ttl_ms;      /* 0 = never expires */
	uint64_t default_max_idle_ms; /* 0 = no idle expiry */
	uint32_t mode;                /* enum weft_cache_mode_wire: WEFT_MODE_LOCAL,
	                                 _DISTRIBUTED, _REPLICATED, _INVALIDATED;
	                                 0 (WEFT_MODE_DEFAULT) = the node's default */
};
/* Looks up or creates the named cache. -WEFT_ST_BAD_CACHE_OPTS (also for an
 * unknown mode). */
WEFT_API int weft_open_cache(weft_client *c, const char *cache, const struct weft_open_opts *oo);

/* One key of a multi-get: key/key_len in; the rest out. */
struct weft_mget_item {
	const void *key;
	size_t key_len;
	int status;        /* 0 or a negative status (-WEFT_ST_NOT_FOUND) */
	const void *value; /* points into *block; NULL unless status is 0 */
	size_t value_len;
	uint64_t version;
};
/* Reads n keys (1..WEFT_MAX_MULTI_GET) in one request. On success the
 * items' out fields are set and *block (never NULL then) holds every value:
 * free(*block) once, after use. A per-key miss is items[i].status, not the
 * call's return. */
WEFT_API int weft_multi_get(weft_client *c, const char *cache, struct weft_mget_item *items,
			    size_t n, void **block);

/* The node's statistics as "key value\n" lines: *text is malloc'd and
 * NUL-terminated, *len excludes the NUL. */
WEFT_API int weft_stats(weft_client *c, char **text, size_t *len);

/* The node's view of its cluster (wire.h MEMBERS): a header line
 * "view <counter> coordinator <name>\n", then per member
 * "<name> <ip>:<port> <state> <uptime_s> <node-id>\n". *text is malloc'd and
 * NUL-terminated, *len excludes the NUL. A single node lists itself. */
WEFT_API int weft_members(weft_client *c, char **text, size_t *len);

/* The node's segment table (wire.h TOPOLOGY), one for every cache. */
struct weft_topology_member {
	char name[WEFT_MAX_NAME_LEN + 1]; /* NUL-terminated ("" when unknown) */
	uint8_t id[16];                   /* node id bytes (zero when unknown) */
	uint32_t ip;                      /* IPv4, network order */
	uint16_t port;                    /* data port, host order */
};
struct weft_topology {
	uint32_t epoch;            /* the view counter (low 32 bits) */
	uint32_t n_segments;       /* a power of two */
	uint16_t n_segments_log2;
	uint16_t owners;           /* per segment, primary first; 0: no table yet */
	uint16_t n_members;        /* >= 1 */
	struct weft_topology_member *members;  /* [n_members] */
	uint16_t *owner;           /* [n_segments * owners]: segment s's owners
	                              are owner[s * owners .. s * owners + owners) */
};
/* Fetches and parses the table: *out is malloc'd (one block), free it with
 * weft_topology_free. 0, -WEFT_ST_PROTOCOL (malformed answer), or a call
 * error. */
WEFT_API int weft_topology(weft_client *c, struct weft_topology **out);
WEFT_API void weft_topology_free(struct weft_topology *t);
/* The segment of a key: XXH3-64 of the key bytes & (n_segments - 1), as the
 * node computes it. */
WEFT_API uint32_t weft_topology_segment(const struct weft_topology *t, const void *key,
					size_t len);
/* Index into t->members of the key's owner number `replica` (0 = primary),
 * or -WEFT_ST_INVALID_ARG (t or key NULL, replica >= t->owners: also when
 * the node has no table yet). Pure. */
WEFT_API int weft_topology_owner(const struct weft_topology *t, const void *key, size_t len,
				 unsigned replica);

/* --- Messaging (wire.h "Destinations") -------------------------------------
 *
 * Destinations are "/queue/NAME" (each message to one consumer) and
 * "/topic/NAME" (each message to every subscriber). Publishing and the
 * consumers of a queue (and of a durable topic subscription) talk to the
 * destination's primary, found through the topology like a key's (the
 * routing name is the destination name without ".dlq"); when it stops
 * answering, the client re-fetches the table and goes on with the new
 * primary. A plain topic subscription lives on the node the client talks to
 * (the seed, or the member it moved to when the seed stopped answering): the
 * client re-subscribes there by itself, from the next message on.
 *
 * At-least-once: a received message must be acked (weft_ack) or it comes
 * back (after the visibility timeout, a nack, or when the consumer stops
 * polling for WEFT_CONSUMER_LEASE_MS); messages carry their delivery count.
 * Topic messages on a plain subscription need no ack (weft_ack is accepted
 * and does nothing).
 */

/* A message property: name (NUL-terminated, 1..64 printable ASCII) and a
 * value of value_len bytes (<= WEFT_MAX_PROP_VALUE_LEN). */
struct weft_prop {
	const char *name;
	const void *value;
	size_t value_len;
};

struct weft_publish_opts {
	uint64_t ttl_ms;              /* 0 = the destination's default; WEFT_TTL_NONE never */
	const struct weft_prop *props;
	size_t n_props;
};

/* Publishes body (body_len <= WEFT_MAX_BODY_LEN) to dest; po may be NULL.
 * Returns once the destination's owners hold it: *id gets its id,
 * *fanout (topics) how many subscriber nodes and durable subscriptions it
 * went to. -WEFT_ST_FULL: the destination is at its bound (retry later);
 * -WEFT_ST_INVALID_ARG: bad name, body too large, bad properties. Both
 * out-pointers may be NULL. -WEFT_ST_TIMEOUT: outcome unknown (the
 * primary may hold it): a PUBLISH is never re-sent to another node by the
 * library; the caller retries, accepting a possible duplicate (this is
 * how publishing goes on after the primary's failover). */
WEFT_API int weft_publish(weft_client *c, const char *dest, const void *body, size_t body_len,
			  const struct weft_publish_opts *po, uint64_t *id, uint32_t *fanout);

/* Options of a destination (DEST_OPEN); 0 fields = node defaults. */
struct weft_dest_opts_c {
	uint32_t max_depth;      /* messages held (default 100000) */
	uint32_t max_deliveries; /* deliveries before the dead-letter queue (default 5) */
	uint32_t visibility_ms;  /* in flight before redelivery (default 30000) */
	uint64_t max_bytes;      /* bytes held (default 256 MiB) */
	uint64_t default_ttl_ms; /* message lifetime (default: never) */
};
/* Looks up or creates dest (o NULL: defaults). */
WEFT_API int weft_dest_open(weft_client *c, const char *dest, const struct weft_dest_opts_c *o);
/* Stops dest: its messages are dropped, waiting consumers get NOT_FOUND.
 * -WEFT_ST_NOT_FOUND if there was none. */
WEFT_API int weft_dest_stop(weft_client *c, const char *dest);
/* DESTINATIONS of the node the client talks to (wire.h): *text malloc'd,
 * NUL-terminated, *len without the NUL. */
WEFT_API int weft_destinations(weft_client *c, char **text, size_t *len);

/* One received message; pointers into the block weft_receive returned. */
struct weft_message {
	uint64_t id;
	uint64_t expires_ms;      /* unix ms; 0 = never */
	uint32_t deliveries;      /* 1 on the first delivery */
	const void *body;
	size_t body_len;
	const uint8_t *props;     /* the encoded property list (wire.h) */
	size_t props_len;
};
/* Finds property name in m: *value / *value_len point into m's block.
 * -WEFT_ST_NOT_FOUND when absent. */
WEFT_API int weft_message_prop(const struct weft_message *m, const char *name,
			       const void **value, size_t *value_len);

/* A consumer (queue), a subscriber (topic), or a durable subscriber (topic
 * with a durable name): one identity (a random consumer id) on a client.
 * Not thread-safe, like its client; the client must outlive it. */
typedef struct weft_consumer weft_consumer;

/* Opens a consumer of dest; durable (NULL for none) names a durable topic
 * subscription (1..64 printable ASCII bytes, no spaces; topics only).
 * Sends nothing: the first weft_receive subscribes. NULL and errno EINVAL
 * (bad name) or ENOMEM. */
WEFT_API weft_consumer *weft_consumer_open(weft_client *c, const char *dest,
					   const char *durable);
/* Ends the consumer: UNSUBSCRIBE (its in-flight messages are released at
 * once; a plain topic subscription ends; a durable one stays unless
 * remove_durable), then frees it. Returns the UNSUBSCRIBE's status; the
 * consumer is freed whatever it is. NULL is a no-op (0). Nothing is sent
 * (0) for a consumer that never received, nor for a durable subscriber
 * without remove_durable (the wire has no UNSUBSCRIBE that keeps the
 * subscription: its in-flight messages come back after the lease). */
WEFT_API int weft_consumer_close(weft_consumer *k, bool remove_durable);
WEFT_API uint64_t weft_consumer_id(const weft_consumer *k);

struct weft_receive_opts {
	uint32_t max;            /* messages at most, 1..WEFT_MAX_RECEIVE (0: 1) */
	uint32_t wait_ms;        /* wait for the first, <= WEFT_MAX_RECEIVE_WAIT_MS */
	uint32_t visibility_ms;  /* 0 = the destination's */
};
/* Receives up to ro->max messages (ro NULL: 1, no wait). *n messages are
 * written to msgs (room for ro->max); their bodies live in *block (malloc'd,
 * free it after use; NULL when *n is 0). *dropped (may be NULL): messages
 * a plain topic subscription lost by falling behind. 0 with *n == 0: none
 * within wait_ms. Each attempt waits wait_ms + the client's timeout_ms; a
 * RECEIVE that timed out is sent again to a new primary; one answered GONE
 * (its messages were lost on the way) is sent once more with a new request
 * id. -WEFT_ST_PROTOCOL: the message list was malformed. */
WEFT_API int weft_receive(weft_consumer *k, const struct weft_receive_opts *ro,
			  struct weft_message *msgs, size_t *n, void **block, uint32_t *dropped);
/* Acks (or nacks: delivered again at once, or dead-lettered after
 * max_deliveries) ids received by k. *done (may be NULL): how many were
 * in flight to k. */
WEFT_API int weft_ack(weft_consumer *k, const uint64_t *ids, size_t n, uint32_t *done);
WEFT_API int weft_nack(weft_consumer *k, const uint64_t *ids, size_t n, uint32_t *done);

/* A listener: returns 0 to ack m, > 0 to nack it, < 0 to ack it and stop. */
typedef int (*weft_listener_fn)(void *ctx, const struct weft_message *m);
/* Calls fn for each message k receives, acking or nacking as it says,
 * until fn returns < 0 (returns 0), max_ms passes (0 = no bound; returns
 * 0), or a call fails for good (returns its status). Waits in slices of
 * at most 1 s, receives up to 16 messages at a time and acks / nacks each
 * batch at once. TIMEOUT, BUSY, NOT_OWNER, NO_QUORUM and GONE (a failover
 * under way) are retried with backoff until max_ms, not returned. When fn
 * stops, the rest of its batch stays in flight until the consumer is
 * closed or their visibility timeout passes. */
WEFT_API int weft_listen(weft_consumer *k, weft_listener_fn fn, void *ctx, uint64_t max_ms);

/* --- Sessions (docs/sessions.md; wire.h "Sessions") --------------------
 *
 * Replicated web sessions: a session is a set of attributes (name -> bytes,
 * up to WEFT_SESSION_MAX_BYTES in all) under an unguessable 128-bit id,
 * kept by the owners of its id's segment (synchronous replication: an
 * acknowledged write survives the loss of a node) and removed everywhere
 * once idle for its max-inactive timeout (default 30 min; see wire.h for
 * the slack). Any node serves any session. store NULL means
 * WEFT_SESSION_STORE; another store is "weft.sessions.<name>". Session ops
 * go to the id's primary through the topology; a read that timed out is
 * sent again to a new primary, a CREATE, REMOVE or INVALIDATE is not
 * (-WEFT_ST_TIMEOUT: outcome unknown). -WEFT_ST_NO_SESSION: no such
 * session (never created, invalidated, or expired). */
struct weft_session_id {
	uint8_t b[WEFT_SESSION_ID_LEN];
};
#define WEFT_SESSION_HEX_LEN 32u

/* The id as 32 lowercase hex digits and a NUL. */
WEFT_API void weft_session_id_hex(const struct weft_session_id *id,
				  char out[WEFT_SESSION_HEX_LEN + 1]);
/* Parses 32 hex digits (either case, nothing else) into *id; 0 or
 * -WEFT_ST_INVALID_ARG (also for the all-zero id). */
WEFT_API int weft_session_id_parse(const char *hex, struct weft_session_id *id);

struct weft_session_info {
	uint64_t created_ms;     /* unix ms */
	uint64_t access_ms;      /* last access, within the slack (unix ms) */
	uint64_t idle_ms;        /* at the primary, before this call */
	uint32_t max_inactive_s;
	uint32_t attrs;
	uint32_t bytes;          /* the record's size (memory, without overhead) */
};

/* Creates a session with a fresh id from getrandom(2) (drawn again should
 * it be taken) and max_inactive_s (0: WEFT_SESSION_DEFAULT_MAX_INACTIVE_S,
 * at most WEFT_SESSION_MAX_MAX_INACTIVE_S). *id gets it. */
WEFT_API int weft_session_create(weft_client *c, const char *store, uint32_t max_inactive_s,
				 struct weft_session_id *id);
/* Reads attribute attr (NUL-terminated, 1..WEFT_SESSION_MAX_ATTR_NAME bytes):
 * *value malloc'd (NULL when empty), *value_len bytes. -WEFT_ST_NOT_FOUND:
 * no such attribute. An access. info (may be NULL) as in weft_session_info. */
WEFT_API int weft_session_get(weft_client *c, const char *store, const struct weft_session_id *id,
			      const char *attr, void **value, size_t *value_len,
			      struct weft_session_info *info);
/* Sets attribute attr to value (an access). -WEFT_ST_VALUE_TOO_LARGE when
 * the session would pass WEFT_SESSION_MAX_BYTES (nothing changed). */
WEFT_API int weft_session_set(weft_client *c, const char *store, const struct weft_session_id *id,
			      const char *attr, const void *value, size_t value_len);
/* Removes attribute attr (an access). -WEFT_ST_NOT_FOUND: there was none. */
WEFT_API int weft_session_remove(weft_client *c, const char *store,
				 const struct weft_session_id *id, const char *attr);

/* One attribute of weft_session_list / weft_session_load: pointers into the
 * block the call returned (name NUL-terminated; value NULL from list). */
struct weft_session_attr {
	const char *name;
	const void *value;
	size_t value_len;
};
/* The session's attribute names (and sizes), an access: *attrs (n entries)
 * and their names live in one malloc'd block, *attrs itself (NULL when n
 * is 0): free(*attrs). info may be NULL. */
WEFT_API int weft_session_list(weft_client *c, const char *store, const struct weft_session_id *id,
			       struct weft_session_attr **attrs, size_t *n,
			       struct weft_session_info *info);
/* As weft_session_list, with every value: a whole session in one round
 * trip (what a web request does first). */
WEFT_API int weft_session_load(weft_client *c, const char *store, const struct weft_session_id *id,
			       struct weft_session_attr **attrs, size_t *n,
			       struct weft_session_info *info);
/* An access with no other effect; max_inactive_s != 0 also sets a new
 * timeout (<= WEFT_SESSION_MAX_MAX_INACTIVE_S). */
WEFT_API int weft_session_touch(weft_client *c, const char *store,
				const struct weft_session_id *id, uint32_t max_inactive_s);
/* Ends the session on every owner (listeners hear "invalidated"). */
WEFT_API int weft_session_invalidate(weft_client *c, const char *store,
				     const struct weft_session_id *id);
/* The session's info without counting an access. */
WEFT_API int weft_session_info(weft_client *c, const char *store, const struct weft_session_id *id,
			       struct weft_session_info *info);

/* A session event listener: called for each event of the store (its
 * primary's created / expired / invalidated, wire.h); return 0 to go on,
 * < 0 to stop listening. */
typedef int (*weft_session_event_fn)(void *ctx, enum weft_session_event ev,
				     const struct weft_session_id *id);
/* Listens to store's events (topic "/topic/<store>.events" through a plain
 * subscription on this client) until fn returns < 0 (0), max_ms passes
 * (0 = no bound; 0) or a call fails for good (its status). Events made
 * while nobody listens are not kept. */
WEFT_API int weft_session_listen(weft_client *c, const char *store, weft_session_event_fn fn,
				 void *ctx, uint64_t max_ms);
/* The session event a message of "/topic/<store>.events" carries (its
 * "event" and "session" properties): for code that receives that topic
 * itself (weft_consumer_open / weft_listen). 0 or -WEFT_ST_PROTOCOL (not
 * a session event). */
WEFT_API int weft_session_event_of(const struct weft_message *m, enum weft_session_event *ev,
				   struct weft_session_id *id);
/* The events topic of store (NULL: WEFT_SESSION_STORE) into out:
 * "/topic/<store>.events". 0 or -WEFT_ST_INVALID_ARG (not a session store
 * name). */
WEFT_API int weft_session_events_topic(const char *store, char out[WEFT_MAX_NAME_LEN + 1]);
/* The name of an event kind ("created"), NULL for an unknown one. */
WEFT_API const char *weft_session_event_name(enum weft_session_event ev);

/* Apps: APPS of the node the client talks to (wire.h WEFT_OP_APPS: "app ...",
 * "daemon ..." and "job ..." lines, empty when it runs no app): *text
 * malloc'd, NUL-terminated, *len without the NUL. */
WEFT_API int weft_apps(weft_client *c, char **text, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_WEFT_H */
