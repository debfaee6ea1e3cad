/*
 * sim_msg.h — the simulator's messaging layer (--msg), private to
 * sim_msg*.c. It drives the REAL msg/ state machines (one struct
 * weft_msg_reg per virtual node life, lost on a crash) the way
 * dataplane/dp_msg*.c drives them in weftd, over the simulator's
 * membership views and segment table (weft_swim_seg_compute):
 *
 *   sim_msg.c        lives, views, topologies, the node RPC layer (slots,
 *                    retransmission, give-up, retargeting on view changes),
 *                    its own event queue merged with the core's, the driver
 *   sim_msg_node.c   what dp_msg*.c does on a node: publish / ack served
 *                    at the primary and answered after every other owner
 *                    acked (finish()), MSG_REPL apply, the 50 ms pass
 *                    (roles, weft_dest_tick, topic joins and pumps)
 *   sim_msg_xfer.c   state transfer on view changes (dp_msg_tick.c's rule)
 *   sim_msg_client.c publishers, queue consumers, topic subscribers
 *   sim_msg_check.c  the model of messages and the invariants, trace and
 *                    summary
 *
 * Messages between nodes are simulator datagrams holding record fields
 * (no wire encoding), crossing the same network model as the rest
 * (partitions, loss, duplication, delay, reordering; paused nodes keep
 * them). They live in this layer's own event queue, which the driver
 * (sim_msg_run_until) merges with the core's by time.
 *
 * The model (sim_msg_check.c): every publish has a model number p (its
 * body holds p); per p: destination, the id its primary gave it, whether
 * the publish was acknowledged, whether a consumer's ack of it was
 * applied / acknowledged, the live nodes holding it (recounted from
 * weft_dest_snapshot), and its exposure (holder crashes since it was last
 * on r live nodes, r = the copies its primary made).
 */
#ifndef WEFT_TESTS_SIM_MSG_H
#define WEFT_TESTS_SIM_MSG_H

#include "msg.h"
#include "sim.h"

#define SIM_MQUEUES 4u             /* /queue/q0 .. q3 (each with its .dlq) */
#define SIM_MTOPICS 2u             /* /topic/t0, t1 */
#define SIM_MDESTS (2u * SIM_MQUEUES + SIM_MTOPICS)
#define SIM_MSEGS 256u
#define SIM_MOWNERS 2u
#define SIM_MMAX_NODES 64u         /* holder masks are 64-bit */
#define SIM_MMAX_PUBS 16384u
#define SIM_MTICK_US 10000u        /* clients' and RPC timers' tick */
#define SIM_MPASS_MS 50u           /* dp_msg_tick.c DP_MSG_PASS_MS */
#define SIM_MXFER_RETRY_MS 1000u   /* dp_msg_tick.c DP_MSG_RETRY_MS */
#define SIM_MSLOTS 1024u           /* RPC slots per node */
#define SIM_MHOLDS 512u            /* client ops held per node */
#define SIM_MXFERS 64u             /* dp_msg_tick.c XFER_MAX */
#define SIM_MXFER_WINDOW 8u
#define SIM_MREC_BATCH 64u         /* records per MSG_REPL message */
#define SIM_MCONS_PER_Q 2u
#define SIM_MSUBS_PER_T 2u
#define SIM_MDEPTH 512u            /* max_depth of every destination */
#define SIM_MVISIBILITY_MS 2000u
#define SIM_MDELIVERIES 3u
#define SIM_MWAIT_MS 500u          /* RECEIVE wait */
#ifndef SIM_NONE
#define SIM_NONE UINT32_MAX
#endif

enum sim_mm_type {
	SIM_MM_REPL = 0x50, SIM_MM_REPL_ACK, SIM_MM_JOIN, SIM_MM_JOINED,
	SIM_MM_TDELIVER, SIM_MM_TDELIVERED,
};

/* One record (MSG_REPL) or one message (TOPIC_DELIVER). */
struct sim_mrec {
	uint8_t kind;
	uint64_t id;
	uint64_t expires;
	uint64_t p;                /* body: the model number (APPEND / deliver) */
};

/* A node-to-node message (request or answer). */
struct sim_mmsg {
	uint32_t src, dst;
	uint32_t type;
	uint32_t dest;             /* destination index */
	uint64_t rid;
	uint16_t status;
	uint64_t next_id;          /* JOIN(ED), TDELIVER(ED) */
	uint32_t subs;             /* JOIN */
	uint32_t dropped;          /* TDELIVER */
	uint32_t n;
	struct sim_mrec r[];
};

/* Why an RPC slot exists (dp_rpc.c's hold kinds). */
enum { SIM_MS_HELD, SIM_MS_NOTIFY };
enum { SIM_MN_ASYNC, SIM_MN_XFER, SIM_MN_JOIN, SIM_MN_DELIVER };

struct sim_mslot {
	bool used;
	uint8_t kind;              /* SIM_MS_* */
	uint8_t notify;            /* SIM_MN_*: what its end means */
	uint32_t hold;             /* SIM_MS_HELD: index of its hold */
	uint32_t arg;              /* notify: xfer index | target << 8 ... */
	uint32_t to;               /* node index (its address) */
	uint64_t rid;
	uint64_t first_us, next_us;
	uint32_t rto_us;
	struct sim_mmsg *m;        /* owned copy, resent as is */
};

/* A client op answered once every other owner acked (dp_msg.c finish). */
struct sim_mhold {
	bool used;
	bool is_ack;               /* else a publish */
	bool failed;
	uint32_t waiting;
	uint32_t dest, seg;
	uint32_t n_p;
	uint32_t p[WEFT_MAX_RECEIVE];  /* model numbers (ack: those done) */
	uint32_t copies;           /* publish: 1 + targets first sent to */
	uint64_t acked_mask;       /* nodes that acked its records */
};

/* A state transfer of one destination (dp_msg_tick.c's struct xfer). */
struct sim_mxfer {
	bool used, drop_after, failed;
	uint32_t dest;
	uint32_t n_targets;
	uint32_t to[SIM_MOWNERS];
	uint64_t life[SIM_MOWNERS];    /* the target's life it was for */
	uint64_t appends_at_snap;      /* weft_dest_stats.appends_applied then */
	uint32_t next[SIM_MOWNERS], inflight[SIM_MOWNERS];
	uint32_t n_msgs;
	struct sim_mmsg **msgs;
	uint16_t gen;
};

/* A node's published topology: view members, segment table, self. */
struct sim_mtopo {
	uint64_t view;
	uint32_t n, self, owners;  /* self: index or UINT32_MAX */
	uint32_t *node;            /* [n] sim index of each member life, or SIM_NONE */
	struct weft_swim_view_member *m;
	uint16_t *seg;             /* [SIM_MSEGS * owners] */
	uint32_t cap;
};

/* Owners of each destination at the last view change (address and life). */
struct sim_mowners {
	bool used;
	uint32_t n;
	uint32_t node[SIM_MOWNERS];
	uint64_t life[SIM_MOWNERS]; /* the member's nonce in that view */
};

struct sim_mnode {
	struct weft_msg_reg *reg;  /* NULL: down */
	uint64_t nonce;            /* the life reg belongs to */
	bool in_view;
	struct sim_mtopo topo;
	uint64_t seen_view;        /* dp_msg_state.view: last view handled */
	bool xretry;               /* dp_msg_state.retry: a transfer still owed */
	uint64_t next_xretry_ms;
	struct sim_mowners owners[SIM_MDESTS];
	uint64_t next_pass_ms, next_join_ms;
	uint64_t next_rid;
	uint16_t xgen;
	struct sim_mslot *slot;    /* [SIM_MSLOTS] */
	uint32_t n_slots;
	struct sim_mhold *hold;    /* [SIM_MHOLDS] */
	uint32_t n_holds;
	struct sim_mxfer xfer[SIM_MXFERS];
};

/* A consumer of a queue, or a subscriber of a topic (a client process:
 * it does not crash; its requests to a down or paused node are lost). */
struct sim_mcons {
	uint64_t consumer_id;
	uint32_t dest;
	bool topic;
	bool waiting;              /* a RECEIVE parked (or in the air) */
	uint32_t wait_node;
	uint64_t wait_seq;         /* token: which request an answer is for */
	uint64_t wait_until_us;    /* gives up waiting (node silent) */
	uint64_t next_us;          /* next RECEIVE */
	/* topic subscription: its access node life and what it received */
	uint32_t access;
	uint64_t access_nonce;
	uint64_t sub_epoch;        /* +1 per new subscription */
	uint64_t last_id;          /* last id received in this subscription */
};

/* An ack the consumer will send (after its processing delay). */
struct sim_mpend {
	uint32_t cons;
	uint32_t node;
	uint64_t nonce;
	uint64_t due_us;
	uint32_t p;
	uint64_t id;
	uint8_t kind;              /* WEFT_ACK_ACK / NACK */
};

struct sim_mpub {
	uint32_t dest;
	uint64_t id;               /* 0: not applied by a primary */
	uint32_t primary;
	uint64_t accepted_us;
	uint64_t acked_us;         /* publish acknowledged (0: not) */
	uint64_t holders;          /* live nodes holding it, at the last recount */
	uint16_t exposure;
	uint8_t r;
	bool ack_applied;          /* a consumer's ack removed it at a primary */
	uint64_t ack_acked_us;     /* ... and that ack was acknowledged */
	uint8_t n_ackers;          /* the lives that applied that REMOVE: */
	uint32_t acker[4];         /* the primary and the owners that acked */
	uint32_t acker_life[4];    /* (node, its life counter then) */
	uint32_t deliveries;       /* to consumers (that heard them) */
	uint8_t n_holders0;        /* the lives that had applied its APPEND */
	uint32_t holder0[4];       /* when its publish was acknowledged (the */
	uint32_t holder0_life[4];  /* primary and the owners that acked) */
	bool lost;                 /* excused loss (fewer than r copies survived) */
	bool dead;                 /* seen in a dead-letter queue */
};

/* A topic subscription's history, for invariant (4) at its end. */
struct sim_mrecv {
	uint32_t cons;
	uint64_t epoch;
	uint64_t id;
	uint64_t at_us;            /* when the subscriber got it */
	uint32_t dropped_before;   /* drops reported with this delivery */
	uint16_t feeder;           /* the node that fed it to the access node */
	uint16_t feeder_life;      /* (its life counter, low 16 bits) */
};

struct sim_mev {
	uint64_t t, seq;
	uint32_t kind;             /* SIM_ME_* */
	struct sim_mmsg *m;
};
enum { SIM_ME_DELIVER, SIM_ME_TICK, SIM_ME_CHECK };

/* Trace records (own ring, merged with the core's in the dump). */
struct sim_mtrace {
	uint64_t t;
	uint32_t node;
	uint32_t what;             /* SIM_MT_* */
	uint64_t a, b;
};
enum {
	SIM_MT_SEND, SIM_MT_RECV, SIM_MT_DROP, SIM_MT_PUBLISH, SIM_MT_PUB_ACKED,
	SIM_MT_PUB_BUSY, SIM_MT_DELIVER, SIM_MT_ACK, SIM_MT_ACK_ACKED,
	SIM_MT_VIEW, SIM_MT_ROLE, SIM_MT_XFER, SIM_MT_XFER_DONE, SIM_MT_CLEAR,
	SIM_MT_LOST, SIM_MT_CRASH, SIM_MT_START, SIM_MT_NOT_OWNER, SIM_MT_FULL,
	SIM_MT_RETARGET, SIM_MT_TDELIVER,
};

struct sim_msg_layer {
	struct sim_mnode *n;       /* [o.nodes] */
	struct sim_mev *heap;
	uint32_t n_heap, cap_heap;
	uint64_t seq;
	struct sim_mpub *pub;      /* [SIM_MMAX_PUBS] */
	uint32_t n_pubs;
	struct sim_mcons *cons;
	uint32_t n_cons;
	struct sim_mpend *pend;
	uint32_t n_pend, cap_pend;
	struct sim_mrecv *recv;    /* topic deliveries, in order */
	uint32_t *feed;            /* [SIM_MMAX_PUBS * nodes]: who fed topic
	                              message p to node (node + life << 8) */
	uint32_t n_recv, cap_recv;
	uint64_t next_pub_us, pubs_end_us;
	bool formed;               /* --msg-converged: clients may start */
	struct sim_mtrace trace[SIM_TRACE];
	uint32_t n_trace;
	struct weft_dest_opts opts;
	struct weft_swim_seg_table scratch;
	/* results */
	uint64_t published, pub_acked, not_owner, busy, full, gave_up;
	uint64_t delivered, dups, dups_after_ack, acks_acked, lost_excused, dead, tdelivered,
		tdropped, xfers, repl_msgs;
	uint64_t max_depth_seen;
};

/* sim_msg.c */
void sim_mpush(struct sim *s, uint64_t t, uint32_t kind, struct sim_mmsg *m);
void sim_mtrace(struct sim *s, uint32_t node, uint32_t what, uint64_t a, uint64_t b);
struct sim_mmsg *sim_mmsg_new(uint32_t type, uint32_t dest, uint32_t n);
void sim_mnet(struct sim *s, uint32_t src, uint32_t dst, const struct sim_mmsg *m);
bool sim_mreachable(const struct sim *s, uint32_t node);
uint64_t sim_mnow_ms(const struct sim *s, uint32_t node);
const char *sim_mdest_name(uint32_t dest, size_t *len);
uint32_t sim_mdest_index(struct weft_dest *d);
bool sim_mdest_topic(uint32_t dest);
uint32_t sim_mdest_seg(uint32_t dest);
struct weft_dest *sim_mdest(struct sim *s, uint32_t node, uint32_t dest);
/* The owners of dest's segment in node's topology (sim indices; SIM_NONE
 * for a member whose address node does not know, like ip 0). */
uint32_t sim_mowners_of(struct sim *s, uint32_t node, uint32_t dest, uint32_t *out);
/* As sim_mowners_of, with each owner's life (its nonce in the view). */
uint32_t sim_mowners_lives(struct sim *s, uint32_t node, uint32_t dest, uint32_t *out,
			   uint64_t *life);
bool sim_mis_primary(struct sim *s, uint32_t node, uint32_t dest);
/* dp_msg_targets: other owners (not LEFT) — SIM_NONE when address unknown. */
uint32_t sim_mtargets(struct sim *s, uint32_t node, uint32_t dest, uint32_t *out);
/* Node RPC: a held replication (answered via hold) or a notify. */
int sim_mrpc(struct sim *s, uint32_t node, uint32_t to, const struct sim_mmsg *m,
	     uint8_t kind, uint8_t notify, uint32_t hold, uint32_t arg);
uint32_t sim_mhold_new(struct sim *s, uint32_t node);
void sim_mhold_slot_done(struct sim *s, uint32_t node, uint32_t hi, bool ok);

/* Records a sink collects under one op (sim_msg_node.c). */
struct sim_mcoll {
	uint32_t n, cap;
	uint32_t *dest;
	struct sim_mrec *r;
	bool oom;
};

struct sim_msink {
	struct sim *s;
	uint32_t node;
	struct sim_mcoll *c;
};

/* The destinations of a node's registry, collected first (the calls made
 * for each may create destinations). */
struct sim_meach {
	struct sim *s;
	uint32_t node;
	uint32_t n;
	struct weft_dest *d[SIM_MDESTS];
};

/* sim_msg_node.c */
void sim_mcoll_add(struct sim_mcoll *c, uint32_t dest, const struct sim_mrec *r);
void sim_mcoll_free(struct sim_mcoll *c);
/* A msg/ sink: deliveries go to the clients, records into k->c. */
struct weft_msg_sink sim_msink_make(struct sim_msink *k);
/* Sends c's records to the other owners (the first message as hold hi's
 * replication, SIM_NONE: none; the others as notifies); empties c. */
void sim_mflush(struct sim *s, uint32_t node, struct sim_mcoll *c, uint32_t hi);
void sim_mnode_publish(struct sim *s, uint32_t node, uint32_t dest, uint32_t p);
void sim_mnode_ack(struct sim *s, uint32_t node, uint32_t cons, const uint32_t *p,
		   const uint64_t *ids, const uint8_t *kinds, uint32_t n);
void sim_mnode_recv(struct sim *s, const struct sim_mmsg *m);
/* A RECEIVE of consumer cons at node: 1 (dl filled; its references are
 * the caller's), 0 parked, -EPERM (NOT_OWNER), or another -errno. */
int sim_mnode_receive(struct sim *s, uint32_t node, uint32_t cons, struct weft_delivery *dl);
void sim_mnode_join(struct sim *s, uint32_t node, uint32_t dest, unsigned subs);
void sim_mnode_pass(struct sim *s, uint32_t node);
void sim_mnode_view(struct sim *s, uint32_t node);
void sim_mnode_notify_end(struct sim *s, uint32_t node, const struct sim_mslot *sl,
			  uint16_t status, const struct sim_mmsg *ans);
void sim_mnode_hold_end(struct sim *s, uint32_t node, struct sim_mhold *h, bool ok);

/* sim_msg_xfer.c */
enum weft_dest_role sim_mrole_in(struct sim *s, uint32_t node, uint32_t dest);
void sim_meach(struct sim *s, uint32_t node, struct sim_meach *e);
void sim_mxfer_view(struct sim *s, uint32_t node);     /* the view moved */
void sim_mxfer_retry(struct sim *s, uint32_t node);    /* owed transfers */
void sim_mxfer_done(struct sim *s, uint32_t node, uint32_t arg, uint16_t status);

/* sim_msg_client.c */
void sim_mclient_tick(struct sim *s);
void sim_mclient_delivery(struct sim *s, uint32_t node, const struct weft_delivery *dl);
int sim_mclient_create(struct sim *s);

/* sim_msg_check.c */
void sim_mcheck_delivered(struct sim *s, uint32_t cons, uint32_t p, uint64_t id);
void sim_mcheck_recount(struct sim *s, const char *why, uint32_t node);
void sim_mcheck_crash(struct sim *s, uint32_t node);
void sim_mcheck_periodic(struct sim *s);
void sim_mcheck_end(struct sim *s);
/* Topic message p reaches node from feeder (TOPIC_DELIVER or its own log). */
void sim_mfed(struct sim *s, uint32_t node, uint64_t p, uint32_t feeder);
void sim_mprint(FILE *f, const struct sim_mtrace *t);
uint32_t sim_mpub_of(const struct weft_msg *m);

#endif
