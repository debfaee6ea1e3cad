/*
 * msg_internal.h — the msg module's private state (see msg.h for the API).
 *
 * A destination (struct weft_dest) holds:
 *  - q: a message queue (struct mq) — a queue's messages, consumers and
 *    waiters; for a topic it stays empty (only its counters are unused);
 *  - durables: a topic's durable subscriptions, each a struct mq of its own;
 *  - the topic log (messages kept for subscriber nodes, in id order, each
 *    with a sequence number: seq = head_seq + index), subscriber nodes and
 *    local subscriptions (struct lsub);
 *  - waiters: every parked RECEIVE of the destination, in a heap by deadline
 *    (each also sits in its owner's arrival-order list).
 *
 * Invariants of a struct mq:
 *  - every held message is in ids; it is either ready (in the ready heap,
 *    ordered by id, consumer NULL) or in flight (in the flight heap, ordered
 *    by deadline, linked in its consumer's list);
 *  - a message with expires_ms != 0 is in the expiry heap while ready;
 *  - the heaps' capacities are reserved at insertion so moving a message
 *    between them never allocates (no failure mid-operation);
 *  - depth / bytes are the count and props+body bytes of held messages;
 *  - a consumer with parked waiters is never forgotten; the lease list is in
 *    renewal order (the clock is taken as non-decreasing).
 * Locks: everything here is under the destination's lock; a queue's DLQ is
 * locked after its queue (never the reverse), only to append dead letters.
 */
#ifndef WEFT_MSG_INTERNAL_H
#define WEFT_MSG_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <urcu/urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include "msg.h"

/* --- containers (ds.c) ---------------------------------------------------- */

#define HEAP_NONE UINT32_MAX
/* Ids a subscriber node remembers having handed on: below its cursor, an id
 * not among them is another primary's late message (reported dropped). */
#define MSG_RECENT_IDS 256u

/* Min-heap of pointers; each item stores its index (uint32_t) at idx_off. */
struct heap {
	void **a;
	uint32_t n, cap;
	bool (*less)(const void *x, const void *y);
	size_t idx_off;
};
void msg_heap_init(struct heap *h, bool (*less)(const void *, const void *), size_t idx_off);
int msg_heap_reserve(struct heap *h, uint32_t cap); /* 0 / -ENOMEM */
void msg_heap_push(struct heap *h, void *x);       /* capacity reserved before */
void *msg_heap_top(const struct heap *h);
void msg_heap_remove(struct heap *h, void *x);
void msg_heap_free(struct heap *h);

/* Open-addressing map u64 -> non-NULL pointer (linear probing, backward
 * shift deletion). */
struct idmap {
	uint64_t *keys;
	void **vals;
	uint32_t cap, n; /* cap a power of two or 0 */
};
void *msg_idmap_get(const struct idmap *m, uint64_t k);
int msg_idmap_reserve(struct idmap *m, uint32_t n); /* room for n entries; -ENOMEM */
void msg_idmap_put(struct idmap *m, uint64_t k, void *v); /* k absent, room reserved */
void *msg_idmap_del(struct idmap *m, uint64_t k);
void msg_idmap_free(struct idmap *m);

/* --- queues (mq.c) -------------------------------------------------------- */

struct consumer;
struct mq;
struct lsub;

struct qmsg {
	struct weft_msg *m;
	struct consumer *c; /* in flight to; NULL when ready */
	struct qmsg *cprev, *cnext;
	uint64_t deadline;
	uint32_t deliveries;
	uint32_t ready_idx, flight_idx, exp_idx;
};

struct consumer {
	uint64_t id, lease, delivered;
	uint64_t served;        /* q->serves when it was last given messages (0: never) */
	uint32_t inflight, waiting;
	struct qmsg *flight;
	struct consumer *lprev, *lnext;
};

struct waiter {
	uint8_t token[WEFT_MSG_TOKEN_LEN];
	uint64_t consumer_id, deadline, seq;
	uint32_t max, visibility_ms;
	uint32_t heap_idx;
	struct mq *q;          /* queue / durable waiter, or */
	struct lsub *ls;       /* local topic subscription waiter */
	struct consumer *c;    /* q's consumer */
	struct waiter *prev, *next;
};

struct tomb {
	uint64_t id, at;
};

struct mq {
	struct weft_dest *d;
	char *sub; /* durable subscription name (NULL: the destination itself) */
	size_t sub_len;
	struct mq *next; /* next durable subscription */
	struct idmap ids;
	struct heap ready, flight, expiry;
	uint64_t depth, bytes;
	uint64_t serves;        /* deliveries to consumers so far (orders them) */
	struct idmap consumers;
	struct consumer *lru_head, *lru_tail;
	uint32_t n_consumers;
	struct waiter *wh, *wt;
	/* removed ids: FIFO ring (oldest first) + set */
	struct tomb *tombs;
	uint32_t tomb_cap, tomb_head, tomb_n;
	struct idmap tomb_set;
};

/* A message waiting in a local subscription, with the count of messages
 * the subscription missed just before it. */
struct lmsg {
	struct weft_msg *m;
	uint64_t gap;
};

struct lsub {
	uint64_t id, lease;
	uint64_t dropped; /* missed after the newest waiting message (before
			     the next one handed on) */
	struct lmsg *ring;
	uint32_t cap, head, n;
	uint32_t waiting;
	struct waiter *wh, *wt;
	struct lsub *lprev, *lnext;
};

struct tnode {
	uint32_t ip;
	uint16_t port;
	bool in_flight;
	uint64_t seq, lease, batch_end_seq, batch_next_id;
	uint64_t dropped; /* missed, not yet reported in an acked batch */
	uint64_t batch_dropped; /* of them, reported by the batch in flight */
	uint64_t flight_missed; /* of them, late messages put where the batch in
				   flight had passed: sent again if it fails */
};

/* A topic log's memory of what it trimmed, per id tag (the life that made
 * the ids): the newest id trimmed. */
struct tag_mark {
	uint64_t id;
	uint16_t tag;
};

struct dest_counters {
	uint64_t published, delivered, redelivered, acked, dead, expired, full, dropped;
	uint64_t appends_applied;
};

struct weft_dest {
	pthread_spinlock_t lock;
	struct cds_lfht_node node;
	struct rcu_head rcu;
	char name[WEFT_MAX_NAME_LEN + 8];
	size_t name_len;
	uint64_t hash, route_hash;
	enum weft_dest_kind kind;
	bool is_dlq, stopped;
	struct weft_dest_opts opts;
	struct weft_dest *dlq;

	enum weft_dest_role role;
	uint16_t id_tag;        /* low bits of every id this node makes (weft_msg_reg_set_tag) */
	uint64_t primary_since; /* 0: not known yet (set at the first check) */
	uint64_t last_id;
	struct dest_counters st;

	struct mq q;
	struct mq *durables;
	uint32_t n_durables;

	struct heap waiters; /* by deadline */
	uint32_t n_waiters;
	uint64_t wseq;

	/* topic log */
	struct weft_msg **log;
	uint64_t log_cap, log_head, log_n, head_seq, log_bytes, log_last_id, trimmed_last_id;
	uint64_t trim_sent; /* primary: the last TRIM record's id */
	struct tag_mark *tag_marks; /* per tag seen trimmed, the newest id trimmed */
	uint32_t n_tag_marks, tag_marks_cap;
	/* subscriber nodes */
	struct tnode *nodes;
	uint32_t n_nodes, nodes_cap;
	/* local subscriptions */
	struct idmap lsubs;
	struct lsub *ls_head, *ls_tail;
	uint32_t n_lsubs;
	uint64_t local_next;
	uint64_t recent[MSG_RECENT_IDS]; /* ids handed to local subscriptions lately */
	unsigned recent_pos;
};

/* mq.c */
void msg_mq_init(struct mq *q, struct weft_dest *d);
/* Drops messages, consumers, tombstones; waiters must be gone. */
void msg_mq_fini(struct mq *q);
/* Inserts m as ready (takes a reference). -ENOMEM. */
int msg_mq_insert(struct mq *q, struct weft_msg *m);
bool msg_mq_holds_or_removed(const struct mq *q, uint64_t id);
/* Removes a held id (tombstone left when tomb). true if it was held. */
bool msg_mq_remove_id(struct mq *q, uint64_t id, uint64_t now, bool tomb);
void msg_mq_tomb_add(struct mq *q, uint64_t id, uint64_t now);
/* Removes held messages whose expiry passed (ready ones). */
void msg_mq_expire(struct mq *q, uint64_t now);
/* Drops the oldest held message (counted by the caller). */
void msg_mq_drop_oldest(struct mq *q);
int msg_mq_receive(struct mq *q, uint64_t now, const struct weft_receive *rq,
	       struct weft_delivery *dl);
void msg_mq_ack(struct mq *q, uint64_t now, uint64_t consumer_id, enum weft_ack_kind kind,
	    const uint64_t *ids, uint32_t n, uint32_t *done, uint32_t *unknown,
	    const struct weft_msg_sink *s);
/* Answers parked waiters while messages are deliverable. */
void msg_mq_serve(struct mq *q, uint64_t now, const struct weft_msg_sink *s);
/* Releases a consumer's in-flight messages, answers its waiters empty and
 * forgets it. */
void msg_mq_unsubscribe(struct mq *q, uint64_t now, uint64_t consumer_id,
		    const struct weft_msg_sink *s);
/* Every in-flight message back to ready; consumers forgotten. */
void msg_mq_release_all(struct mq *q);
/* Answers every waiter of q with status (then frees it). */
void msg_mq_answer_all(struct mq *q, uint16_t status, const struct weft_msg_sink *s);
/* Timers of q; returns its next due time. */
uint64_t msg_mq_tick(struct mq *q, uint64_t now, const struct weft_msg_sink *s);
/* Calls fn with q's held messages in id order. */
void msg_mq_foreach_sorted(struct mq *q, void (*fn)(void *ctx, struct weft_msg *m), void *ctx);
/* Calls fn with q's remembered removed ids, oldest first. */
void msg_mq_tombs_foreach(struct mq *q, void (*fn)(void *ctx, uint64_t id), void *ctx);
/* Drops every held message and removed id (consumers and waiters stay). */
/* Drops every message; the removed-id memory too unless keep_tombstones
 * (a clear: a late copy of a removed message must stay out). */
void msg_mq_drop_messages(struct mq *q, bool keep_tombstones);

/* waiters (mq.c) */
struct waiter *msg_waiter_park(struct weft_dest *d, uint64_t now, const struct weft_receive *rq);
void msg_waiter_unlink(struct weft_dest *d, struct waiter *w);
void msg_delivery_init(struct weft_delivery *dl, const uint8_t *token, uint64_t consumer_id,
		   uint16_t status);

/* topic.c */
void msg_topic_fini(struct weft_dest *d);
/* Appends m to the log (bounds enforced). -ENOMEM. */
int msg_topic_log_append(struct weft_dest *d, uint64_t now, struct weft_msg *m);
/* Appends m to every durable subscription (oldest dropped when full). */
void msg_topic_fan_durables(struct weft_dest *d, uint64_t now, struct weft_msg *m,
			const struct weft_msg_sink *s);
struct mq *msg_topic_durable_find(struct weft_dest *d, const char *sub, size_t len);
/* Finds or creates; *created. NULL with errno ENOSPC / ENOMEM. */
struct mq *msg_topic_durable_get(struct weft_dest *d, const char *sub, size_t len, bool *created);
void msg_topic_durable_remove(struct weft_dest *d, struct mq *q, const struct weft_msg_sink *s);
int msg_topic_local_receive(struct weft_dest *d, uint64_t now, const struct weft_receive *rq,
			struct weft_delivery *dl);
void msg_topic_local_end(struct weft_dest *d, uint64_t now, uint64_t consumer_id,
		     const struct weft_msg_sink *s);
/* Backups: drops the log's messages up to id (a TRIM record). */
void msg_topic_trim_to(struct weft_dest *d, uint64_t id);
/* A topic APPEND older than the log's newest and never held (another
 * primary's, in a split brain): put in at its place in id order; subscriber
 * nodes already past it are told they missed one. 1 inserted, 0 a
 * duplicate, -ENOMEM. */
int msg_topic_log_insert_late(struct weft_dest *d, struct weft_msg *m);
uint64_t msg_topic_tick(struct weft_dest *d, uint64_t now, const struct weft_msg_sink *s);
void msg_topic_forget_nodes(struct weft_dest *d);
/* Answers a local subscription waiter (w unlinked and freed), with its
 * pending messages when with_msgs. */
void msg_lsub_answer(struct weft_dest *d, struct lsub *ls, struct waiter *w, uint16_t status,
		 uint64_t now, const struct weft_msg_sink *s, bool with_msgs);

/* dest.c */
/* Answers w with status and no message (a local subscription's waiter with
 * its dropped count); w is unlinked and freed; OK renews the lease. */
void msg_dest_answer_waiter_empty(struct weft_dest *d, struct waiter *w, uint16_t status,
			      uint64_t now, const struct weft_msg_sink *s);
/* Moves a dead message to d's DLQ (appended there, takes its reference). */
void msg_dest_dead_letter(struct weft_dest *d, uint64_t now, struct weft_msg *m,
		      const struct weft_msg_sink *s);
/* Frees a destination's state (no thread uses it). */
void msg_dest_free(struct weft_dest *d);
struct weft_dest *msg_dest_new(const char *name, size_t len, enum weft_dest_kind kind,
			   const struct weft_dest_opts *o);
/* Answers queue / durable waiters with status, then drops messages,
 * durable subscriptions, the log and subscriber nodes (local subscriptions
 * stay). */
void msg_dest_drop_state(struct weft_dest *d, uint16_t status, bool keep_tombstones,
			 const struct weft_msg_sink *s);

static inline uint64_t msg_size(const struct weft_msg *m)
{
	return (uint64_t)m->props_len + m->body_len;
}

static inline uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline void record(const struct weft_msg_sink *s, struct weft_dest *d, const struct mq *q,
			  uint8_t kind, const struct weft_msg *m, uint64_t id)
{
	if (s != NULL && s->record != NULL)
		s->record(s->ctx, d, q->sub, q->sub ? q->sub_len : 0, kind, m, id);
}

static inline void deliver(const struct weft_msg_sink *s, struct weft_dest *d,
			   const struct weft_delivery *dl)
{
	if (s != NULL && s->deliver != NULL)
		s->deliver(s->ctx, d, dl);
}

#endif /* WEFT_MSG_INTERNAL_H */
