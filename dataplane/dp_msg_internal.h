/*
 * dp_msg_internal.h — messaging in the dataplane (dp_msg*.c): serving the
 * destination ops of wire.h on the worker lcores over msg/'s state.
 *
 *   dp_msg.c       client ops: routing to the primary, DEST_OPEN/STOP,
 *                  PUBLISH, RECEIVE (parking), ACK, UNSUBSCRIBE
 *   dp_msg_wire.c  message lists, parked-client tokens, the msg sink
 *                  (answers to RECEIVEs, records collected for the backups)
 *   dp_msg_node.c  node ops: MSG_REPL, TOPIC_JOIN, TOPIC_DELIVER
 *   dp_msg_pump.c  topic delivery to subscriber nodes and joins
 *   dp_msg_tick.c  worker 0's timers and view changes (roles, state
 *                  transfer), DESTINATIONS text
 *
 * Invariants:
 *  - A destination's state is touched only with its lock held; a sink is
 *    called with it held and only emits datagrams or collects records.
 *  - Every record a primary makes reaches the other owners (MSG_REPL over
 *    node RPC) before the client op that made it is answered; records made
 *    by timers are sent without a client waiting.
 *  - The clock of msg/ is the wall clock (dp_unix_ms), read once per op.
 *
 * Caller: worker lcores, online QSBR readers.
 */
#ifndef WEFT_DP_MSG_INTERNAL_H
#define WEFT_DP_MSG_INTERNAL_H

#include "dp_internal.h"
#include "msg.h"

/* What a parked RECEIVE needs to be answered later (stored in a waiter's
 * token). */
struct dp_msg_token {
	struct dp_flow flow;
	struct weft_wire_hdr hdr;
	uint8_t amo;
};
_Static_assert(sizeof(struct dp_msg_token) <= WEFT_MSG_TOKEN_LEN, "token fits");

/* An op makes at most WEFT_MAX_ACK records; a timer pass flushes when full. */
#define DP_MSG_RECS_MAX 160u

/* Records collected while one op (or one timer pass) runs under a
 * destination's lock, flushed as MSG_REPL messages afterwards. */
struct dp_msg_rec {
	struct weft_dest *d;
	uint8_t kind;
	uint8_t sub_len;
	char sub[WEFT_MAX_NAME_LEN]; /* durable subscription names are <= 64 bytes */
	struct weft_msg *m; /* APPEND: a reference */
	uint64_t id;
};

struct dp_msg_ctx {
	struct dp_lcore *lc;
	const struct weft_dp_members *topo;
	bool async;           /* no client waits: records are sent when full */
	unsigned n_recs;
	struct dp_msg_rec recs[DP_MSG_RECS_MAX];
	struct weft_msg_sink sink;
};

/* dp_msg_wire.c */
/* async: records made under x are sent by dp_msg_replicate_async (also
 * whenever DP_MSG_RECS_MAX fill up); else the op's caller holds its client
 * until they are acked (an op makes at most WEFT_MAX_ACK of them). */
void dp_msg_ctx_init(struct dp_msg_ctx *x, struct dp_lcore *lc,
		     const struct weft_dp_members *topo, bool async);
/* Drops the references the collected records hold. */
void dp_msg_ctx_release(struct dp_msg_ctx *x);
/* The bytes of a message list of n messages (wire.h), with deliveries[i]
 * (may be NULL: 0) and kinds (MSG_REPL records; NULL: 0). */
size_t dp_msg_list_size(struct weft_msg *const *msgs, uint32_t n);
uint8_t *dp_msg_list_write(uint8_t *w, struct weft_msg *const *msgs, const uint16_t *deliveries,
			   uint32_t n);
/* Iterates a message list: *pos from 0; false at its end or when the
 * next message is malformed (*bad set). */
/* Whether list[0..len) is exactly count well-formed messages (records:
 * MSG_REPL records, APPEND carrying data and the others none; else
 * messages of kind 0), each with valid properties. Pure. */
bool dp_msg_list_ok(const uint8_t *list, uint32_t len, uint32_t count, bool records);
bool dp_msg_list_next(const uint8_t *list, uint32_t len, uint32_t *pos, struct weft_msg_hdr *h,
		      const uint8_t **data, bool *bad);
/* Answers a RECEIVE (immediate or parked) with dl. */
void dp_msg_answer_delivery(struct dp_lcore *lc, const struct weft_delivery *dl);
/* The client behind req as a token. */
void dp_msg_token_of(const struct dp_req *req, bool amo, uint8_t token[WEFT_MSG_TOKEN_LEN]);
/* A MSG_REPL of d (sub: a durable subscription) carrying n records (n 0:
 * it only creates d with its options on the receiver); NULL when out of
 * memory. */
struct dp_rpc_msg *dp_msg_repl_build(struct weft_dest *d, const char *sub, uint8_t sub_len,
				     const struct dp_msg_rec *recs, unsigned n);
/* Builds the MSG_REPL messages of n records (grouped by destination and
 * subscription, in order, WEFT_MSG_BATCH_BYTES each) and calls fn for each
 * (a message with refs 1, which fn keeps or drops). */
void dp_msg_recs_flush(struct dp_lcore *lc, const struct dp_msg_rec *recs, unsigned n,
		       void (*fn)(void *arg, struct weft_dest *d, struct dp_rpc_msg *m), void *arg);
/* Builds the MSG_REPL messages of x's records, grouped by destination and
 * subscription, in order; calls fn for each (message with refs 1, passed
 * to fn which keeps or drops it). */
void dp_msg_ctx_flush(struct dp_msg_ctx *x,
		      void (*fn)(void *arg, struct weft_dest *d, struct dp_rpc_msg *m), void *arg);

/* dp_msg.c */
/* The other owners of d's segment (member indices), and whether this node
 * is d's primary (true with no cluster table). */
unsigned dp_msg_targets(const struct weft_dp_members *t, uint64_t route_hash, uint32_t *to,
			unsigned max);
bool dp_msg_is_primary(const struct weft_dp_members *t, uint64_t route_hash);
/* Sends records produced by timers or node ops (no client waiting) to the
 * other owners. */
void dp_msg_replicate_async(struct dp_msg_ctx *x);
void dp_msg_serve(struct dp_lcore *lc, const struct dp_req *req,
		  const struct weft_dp_members *topo);
/* The options a destination created on first use gets. */
void dp_msg_default_opts(struct weft_dest_opts *o);

/* dp_msg_node.c */
void dp_msg_serve_node(struct dp_lcore *lc, const struct dp_req *req,
		       const struct weft_dp_members *topo);

/* dp_msg_pump.c */
/* Offers every pending topic batch of d (primary) to its subscriber
 * nodes, and hands new messages to this node's own subscriptions. d's lock
 * is NOT held by the caller. */
void dp_msg_pump(struct dp_lcore *lc, struct weft_dest *d, const struct weft_dp_members *topo);
/* Sends TOPIC_JOIN for d (a topic with local subscriptions, or none any
 * more) to its primary. */
void dp_msg_join(struct dp_lcore *lc, struct weft_dest *d, const struct weft_dp_members *topo,
		 uint32_t subs);

/* dp_msg_tick.c */
struct dp_msg_state;
struct dp_msg_state *dp_msg_state_create(void);
void dp_msg_state_destroy(struct dp_msg_state *s);
/* Worker 0, often (each burst, and every few empty polls): timers, pumps,
 * joins, roles, and state transfer on view changes; returns at once when
 * nothing is due. */
void dp_msg_tick(struct dp_lcore *lc);
/* The role this node has for a destination of routing hash h in view t. */
enum weft_dest_role dp_msg_role(const struct weft_dp_members *t, const struct weft_dp *dp,
			       uint64_t h);
/* Gives a destination just created here its role in the view (a new one
 * starts PRIMARY). */
void dp_msg_adopt(struct dp_lcore *lc, const struct weft_dp_members *topo, struct weft_dest *d);
/* Serves DESTINATIONS. */
void dp_msg_serve_destinations(struct dp_lcore *lc, const struct dp_req *req);

#endif /* WEFT_DP_MSG_INTERNAL_H */
