/*
 * msg.h — queues and topics (the public header of msg/): destination
 * registry, message logs, consumers, acks, redelivery, dead letters, topic
 * fan-out bookkeeping and local subscriptions. The wire semantics are in
 * include/weft/wire.h ("Destinations"); this module is their state.
 *
 * Sans-I/O: nothing here reads a clock, touches a socket or a ring. Every
 * call takes `now` (unix ms) and reports what must happen outside through
 * a sink: answers to parked or immediate RECEIVEs (weft_msg_sink.deliver)
 * and records the other owners must apply (weft_msg_sink.record). The
 * dataplane drives it with the port and the clock; unit tests and the
 * simulator drive the same code with a virtual clock.
 *
 * Threads: the registry's find is lock-free (liburcu QSBR: the caller is
 * an online reader); open and stop take a mutex. Every weft_dest_* and
 * weft_queue_* / weft_topic_* call requires the caller to hold the
 * destination's lock (weft_dest_lock); sinks are called with it held and
 * must not call back into the same destination.
 * Note (msg/): a queue's calls lock its DLQ after it to dead-letter (and
 * then may call the sink for the DLQ's waiters with both locks held): never
 * lock a queue while holding its DLQ's lock, and take no destination lock
 * in a sink.
 *
 * Memory: messages are refcounted and immutable (struct weft_msg); a
 * delivery or record passed to a sink lends its references for the call
 * only (take weft_msg_ref to keep one). Every table is bounded: messages
 * by max_depth / max_bytes, waiters by WEFT_MSG_WAITERS_MAX, consumers and
 * subscriptions by WEFT_MSG_CONSUMERS_MAX, subscriber nodes by
 * WEFT_MSG_NODES_MAX, removed-id memory by WEFT_MSG_TOMBSTONES, and
 * destinations by WEFT_MSG_DESTS_MAX.
 */
#ifndef WEFT_MSG_H
#define WEFT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/wire.h>

#define WEFT_MSG_DESTS_MAX 1024u     /* destinations per node (DLQs included) */
#define WEFT_MSG_WAITERS_MAX 1024u   /* parked RECEIVEs per destination */
#define WEFT_MSG_CONSUMERS_MAX 4096u /* consumers / local subscriptions per destination */
#define WEFT_MSG_NODES_MAX 256u      /* subscriber nodes per topic */
#define WEFT_MSG_DURABLE_MAX 256u    /* durable subscriptions per topic */
#define WEFT_MSG_TOMBSTONES 65536u   /* removed ids remembered per destination */
#define WEFT_MSG_TOMBSTONE_MS 60000u /* ... for at most this long */
#define WEFT_MSG_TOKEN_LEN 96u       /* the dataplane's identity of a parked client */

/* Node defaults of a destination's options (0 in weft_x_dest_opts). */
#define WEFT_MSG_DEFAULT_DEPTH 100000u
#define WEFT_MSG_DEFAULT_BYTES (256ull << 20)
#define WEFT_MSG_DEFAULT_DELIVERIES 5u
#define WEFT_MSG_DEFAULT_VISIBILITY_MS 30000u

/* One message: immutable once made, refcounted (atomically: lcores share
 * them). data holds props_len bytes of properties, then the body. */
struct weft_msg {
	uint64_t id;         /* unique in its destination; increasing = order */
	uint64_t expires_ms; /* unix ms; 0 = never */
	uint32_t props_len, body_len;
	uint32_t refs;
	uint8_t data[];
};

/* A new message (refs 1) with copies of props and body; NULL when out of
 * memory. */
struct weft_msg *weft_msg_new(uint64_t id, uint64_t expires_ms, const void *props,
			      uint32_t props_len, const void *body, uint32_t body_len);
void weft_msg_ref(struct weft_msg *m);
void weft_msg_unref(struct weft_msg *m); /* NULL is a no-op */

/* Whether props (props_len bytes) is a valid property list (wire.h). Pure. */
bool weft_msg_props_valid(const uint8_t *props, uint32_t props_len);

enum weft_dest_kind { WEFT_DEST_INVALID = 0, WEFT_DEST_QUEUE = 1, WEFT_DEST_TOPIC = 2 };
/* The kind a name denotes ("/queue/N", "/topic/N", N 1.. printable ASCII
 * without spaces, whole name <= WEFT_MAX_NAME_LEN, a queue's <= 60 unless it
 * is a DLQ "N.dlq", so that every queue's DLQ has a valid name); INVALID
 * otherwise.
 * Pure. */
enum weft_dest_kind weft_dest_kind_of(const char *name, size_t len);

/* A destination's options, resolved (no 0 left but default_ttl_ms). */
struct weft_dest_opts {
	uint32_t max_depth, max_deliveries, visibility_ms;
	uint64_t max_bytes, default_ttl_ms;
};
/* Resolves wire options (0 = default). -EINVAL when a value is absurd
 * (max_depth > 10M, visibility_ms > 12 h, max_deliveries > 1000). */
int weft_dest_opts_from_wire(const struct weft_x_dest_opts *w, struct weft_dest_opts *out);
void weft_dest_opts_to_wire(const struct weft_dest_opts *o, struct weft_x_dest_opts *w);

/* The role this node has for a destination in the current view. */
enum weft_dest_role {
	WEFT_ROLE_PRIMARY = 0,    /* serves it (also: a node alone) */
	WEFT_ROLE_BACKUP = 1,     /* holds a copy of its log */
	WEFT_ROLE_SUBSCRIBER = 2, /* topic only: holds local subscriptions, no log */
};

struct weft_dest;
struct weft_msg_reg;

struct weft_msg_reg *weft_msg_reg_create(void);
/* The tag (low WEFT_MSG_ID_TAG_BITS bits) in the ids of messages this node
 * accepts as primary: distinct per node life (weftd draws it at random).
 * Destinations created afterwards take it. */
#define WEFT_MSG_ID_TAG_BITS 12u
#define WEFT_MSG_ID_TAG_MASK ((1u << WEFT_MSG_ID_TAG_BITS) - 1u)
void weft_msg_reg_set_tag(struct weft_msg_reg *reg, uint16_t tag);
/* Frees every destination (no thread may use the registry any more). */
void weft_msg_reg_destroy(struct weft_msg_reg *reg);

/* Looks up or creates name (a queue also creates its "N.dlq"). o NULL:
 * defaults; an existing destination keeps its options. New destinations
 * start with role PRIMARY. 0 and *out; -EINVAL (bad name), -ENOSPC
 * (WEFT_MSG_DESTS_MAX reached), -ENOMEM. */
int weft_msg_open(struct weft_msg_reg *reg, const char *name, size_t len,
		  const struct weft_dest_opts *o, struct weft_dest **out);
/* The destination, or NULL. Lock-free (online QSBR reader). */
struct weft_dest *weft_msg_find(struct weft_msg_reg *reg, const char *name, size_t len);
/* Calls fn for every destination (online QSBR reader; fn takes the lock
 * itself if it needs it). */
void weft_msg_foreach(struct weft_msg_reg *reg, void (*fn)(void *ctx, struct weft_dest *d),
		      void *ctx);
unsigned weft_msg_count(struct weft_msg_reg *reg);

/* Removes name (and a queue's DLQ) from the registry: with d's lock held
 * it answers every parked waiter (status NOT_FOUND) through s, then drops
 * the messages; the memory is freed after an RCU grace period. -ENOENT.
 * Note (msg/): no record goes through s (the caller replicates STOP); a
 * DLQ named while its queue exists is emptied (waiters answered NOT_FOUND),
 * not removed. */
struct weft_msg_sink;
int weft_msg_stop(struct weft_msg_reg *reg, const char *name, size_t len,
		  const struct weft_msg_sink *s);

void weft_dest_lock(struct weft_dest *d);
void weft_dest_unlock(struct weft_dest *d);

/* Identity (immutable; no lock needed). */
const char *weft_dest_name(const struct weft_dest *d, size_t *len);
enum weft_dest_kind weft_dest_kind(const struct weft_dest *d);
const struct weft_dest_opts *weft_dest_get_opts(const struct weft_dest *d);
/* XXH3-64 of the routing name (wire.h weft_wire_dest_route_len). */
uint64_t weft_dest_route_hash(const struct weft_dest *d);
/* A queue's dead-letter queue (NULL for topics and DLQs). */
struct weft_dest *weft_dest_dlq(struct weft_dest *d);

/* --- effects ------------------------------------------------------------ */

/* An answer to one RECEIVE: the waiter's token (or the caller's, for an
 * immediate answer), a status (OK; NOT_OWNER when the node stopped being
 * primary while it waited; NOT_FOUND when the destination was stopped) and
 * up to WEFT_MAX_RECEIVE messages with their delivery counts. n == 0 with
 * OK: the wait ended empty. */
struct weft_delivery {
	uint8_t token[WEFT_MSG_TOKEN_LEN];
	uint64_t consumer_id;
	uint16_t status;
	uint32_t n;
	uint32_t dropped;
	struct weft_msg *msg[WEFT_MAX_RECEIVE];
	uint16_t deliveries[WEFT_MAX_RECEIVE];
};

struct weft_msg_sink {
	void *ctx;
	/* A RECEIVE is answered (parked ones, from publish/ack/tick/role
	 * changes/stop). */
	void (*deliver)(void *ctx, struct weft_dest *d, const struct weft_delivery *dl);
	/* The other owners must apply this record (primary only): kind
	 * weft_msg_rec_kind; sub/sub_len the durable subscription (0: the
	 * destination); m the message for APPEND (else NULL), id otherwise. */
	void (*record)(void *ctx, struct weft_dest *d, const char *sub, size_t sub_len,
		       uint8_t kind, const struct weft_msg *m, uint64_t id);
};

/* --- serving (primary; topics' local subscriptions on any node) --------- */

/* The next message id: bits 63..20 the wall clock (ms), 19..12 a sequence
 * within the ms, 11..0 the node's tag (weft_msg_reg_set_tag); always above
 * every id the destination held or applied. Ids grow with the clock, so a
 * new primary's ids follow the ones it inherited, and two nodes acting as
 * primary at once (a split brain) never make the same id. */
uint64_t weft_dest_next_id(struct weft_dest *d, uint64_t now);

/* PUBLISH of m (the destination takes its own reference). Queue: appended,
 * handed to waiting consumers. Topic: appended to the log (the oldest
 * dropped beyond max_depth/max_bytes), fanned into each durable
 * subscription (whose waiters may be answered). Records APPEND. Returns
 * the fan-out (topic: subscriber nodes + durable subscriptions; queue: 0)
 * or -ENOSPC (queue or durable subscription... a queue: FULL; nothing was
 * appended), -EEXIST when the id is already held or removed (a duplicate:
 * nothing changes).
 * Note (msg/): a topic never answers -ENOSPC: a full durable subscription
 * loses its oldest message (counted in stats.dropped), as a subscriber that
 * falls behind does. Every weft_dest_* call on a destination stopped after
 * the caller found it does nothing; publish and receive return -ENOENT. */
int weft_dest_publish(struct weft_dest *d, uint64_t now, struct weft_msg *m,
		      const struct weft_msg_sink *s);

struct weft_receive {
	uint64_t consumer_id;
	uint32_t max;           /* 1..WEFT_MAX_RECEIVE */
	uint32_t wait_ms;
	uint32_t visibility_ms; /* 0 = the destination's */
	const char *sub;        /* durable subscription of a topic (sub_len 0: none) */
	size_t sub_len;
	const uint8_t *token;   /* WEFT_MSG_TOKEN_LEN bytes, kept if parked */
};

/* A RECEIVE. Queue or durable subscription (created on first use): up to
 * max deliverable messages go in flight to the consumer and fill *dl
 * (returns 1). Topic without sub: the local subscription of consumer_id
 * (created on first use, from the next message on) gives its pending
 * messages (returns 1). When nothing is deliverable: wait_ms > 0 parks the
 * request (returns 0: it will be answered through the sink, with messages
 * or empty at its deadline); wait_ms 0 returns 1 with dl->n 0. -EBUSY:
 * too many waiters or consumers; -ENOSPC: too many durable subscriptions.
 * Either way the consumer's lease is renewed.
 * References: when it returns 1, each dl->msg[i] holds a reference that is
 * the caller's: call weft_msg_unref on each once the answer is sent (unlike
 * sink deliveries, whose references are only lent for the call). A
 * delivery holds at most WEFT_MSG_BATCH_BYTES of messages (or one). */
int weft_dest_receive(struct weft_dest *d, uint64_t now, const struct weft_receive *rq,
		      struct weft_delivery *dl, const struct weft_msg_sink *s);

/* ACK / NACK of ids in flight to consumer_id (of the durable subscription
 * sub when sub_len > 0). ACK removes them (records REMOVE); NACK makes them
 * deliverable again at once, or dead-letters those delivered
 * max_deliveries times (records DEAD). Waiters may be answered. On a
 * topic's local subscription it is a no-op that counts every id done. */
void weft_dest_ack(struct weft_dest *d, uint64_t now, uint64_t consumer_id, const char *sub,
		   size_t sub_len, enum weft_ack_kind kind, const uint64_t *ids, uint32_t n,
		   uint32_t *done, uint32_t *unknown, const struct weft_msg_sink *s);

/* UNSUBSCRIBE: queue: releases consumer_id's in-flight messages and parked
 * requests (answered empty); topic: ends its local subscription; with sub:
 * removes the durable subscription (records UNSUB; -ENOENT if none). */
int weft_dest_unsubscribe(struct weft_dest *d, uint64_t now, uint64_t consumer_id,
			  const char *sub, size_t sub_len, const struct weft_msg_sink *s);

/* Timers: parked RECEIVEs past their deadline (answered empty), visibility
 * timeouts (redelivery; DEAD after max_deliveries), expired messages
 * (removed, counted; no record: every owner expires them itself), consumers
 * and subscriptions past their lease (released), subscriber nodes past
 * theirs, removed-id memory. Returns the next time it has work (UINT64_MAX:
 * none). */
uint64_t weft_dest_tick(struct weft_dest *d, uint64_t now, const struct weft_msg_sink *s);

/* The role changed with the view. Leaving PRIMARY: every in-flight message
 * becomes deliverable (its consumer will get it from the new primary) and
 * parked RECEIVEs of queues and durable subscriptions are answered
 * NOT_OWNER; subscriber-node registrations are forgotten (they re-join the
 * new primary). Local topic subscriptions stay whatever the role. */
void weft_dest_set_role(struct weft_dest *d, uint64_t now, enum weft_dest_role role,
			const struct weft_msg_sink *s);
enum weft_dest_role weft_dest_role(const struct weft_dest *d);

/* --- replication (other owners) ------------------------------------------ */

/* Applies one record from the primary or a state transfer (wire.h
 * MSG_REPL). APPEND of an id held or removed is ignored (returns 0: stale);
 * REMOVE/DEAD of an unknown id is remembered (so a later APPEND stays
 * out). A topic APPEND is fanned into the durable subscriptions as the
 * primary does. Returns 1 applied, 0 stale/ignored, -EINVAL (bad kind),
 * -ENOMEM, -ENOSPC (too many durable subscriptions). */
int weft_dest_apply(struct weft_dest *d, uint64_t now, const char *sub, size_t sub_len,
		    uint8_t kind, struct weft_msg *m, uint64_t id);

/* Calls fn for the whole state another owner needs (state transfer), in
 * order: every durable subscription (kind SUB), every held message of the
 * destination and of each durable subscription (APPEND, in id order; in
 * flight ones too), then remembered removals (REMOVE).
 * Note (msg/): a topic's log messages (APPEND without sub) come first,
 * before the SUB records: applied after them they would feed the new
 * subscriptions with messages published before those existed. */
void weft_dest_snapshot(struct weft_dest *d,
			void (*fn)(void *ctx, const char *sub, size_t sub_len, uint8_t kind,
				   const struct weft_msg *m, uint64_t id),
			void *ctx);
/* Drops every message, subscription and waiter (this node no longer owns
 * the destination; parked waiters are answered NOT_OWNER). Local topic
 * subscriptions stay, and so does the memory of removed ids: a late copy of
 * an acked message cannot come back. */
void weft_dest_clear(struct weft_dest *d, const struct weft_msg_sink *s);

/* --- topic fan-out between nodes ------------------------------------------ */

/* Primary: a subscriber node (ip, port: its data address, network order)
 * joins or renews its lease (WEFT_CONSUMER_LEASE_MS), wanting ids from
 * next_id (0: from the next message published). subscriptions 0 removes it.
 * *resume_id: where its delivery resumes (next_id if the log still holds
 * it, else the oldest held; the messages in between count as dropped).
 * -ENOSPC: WEFT_MSG_NODES_MAX nodes. */
int weft_topic_join(struct weft_dest *d, uint64_t now, uint32_t ip, uint16_t port,
		    uint64_t next_id, uint32_t subscriptions, uint64_t *resume_id);

/* A batch for one subscriber node: messages from its cursor (up to
 * WEFT_MSG_BATCH_BYTES or one message), references held by the batch until
 * weft_topic_batch_free. */
struct weft_topic_batch {
	uint32_t ip;
	uint16_t port;
	uint64_t next_id;  /* the node's cursor after this batch */
	uint32_t dropped;  /* messages it missed before this batch */
	uint32_t n;
	struct weft_msg *msg[WEFT_MAX_RECEIVE];
};
/* Fills *b for the node at (ip, port) when it has pending messages and no
 * batch in flight (marks one in flight); false otherwise. */
bool weft_topic_next_batch(struct weft_dest *d, uint64_t now, uint32_t ip, uint16_t port,
			   struct weft_topic_batch *b);
/* The node's batch ended: acked (ok, its cursor moves to next_id) or not
 * (the same messages are offered again). Trims the log below the slowest
 * cursor. */
void weft_topic_batch_done(struct weft_dest *d, uint64_t now, uint32_t ip, uint16_t port,
			   bool ok, uint64_t next_id);
void weft_topic_batch_free(struct weft_topic_batch *b);
/* Calls fn for each subscriber node with messages pending and no batch in
 * flight. */
void weft_topic_foreach_ready_node(struct weft_dest *d,
				   void (*fn)(void *ctx, uint32_t ip, uint16_t port), void *ctx);

/* Subscriber node: messages from the primary (ids increasing; those below
 * the local cursor are ignored), handed to every local subscription (its
 * waiters answered through s); dropped adds to each subscription's loss.
 * Returns the next id the node wants. */
uint64_t weft_topic_local_deliver(struct weft_dest *d, uint64_t now, struct weft_msg *const *msgs,
				  uint32_t n, uint32_t dropped, const struct weft_msg_sink *s);
/* The next id the node wants (0 before its first message). */
uint64_t weft_topic_local_next(const struct weft_dest *d);
/* Local subscriptions of the topic on this node. */
unsigned weft_topic_local_subs(const struct weft_dest *d);

/* --- observation ----------------------------------------------------------- */

struct weft_dest_stats {
	enum weft_dest_kind kind;
	enum weft_dest_role role;
	uint64_t depth, bytes, inflight, consumers, waiting;
	uint64_t published, delivered, redelivered, acked, dead, expired, full;
	uint64_t subscriber_nodes, subscriptions, durable, dropped;
	uint64_t appends_applied; /* APPENDs weft_dest_apply took in: a state
				     transfer's snapshot misses any taken since */
};
void weft_dest_get_stats(struct weft_dest *d, struct weft_dest_stats *out);

#endif /* WEFT_MSG_H */
