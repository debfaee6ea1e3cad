/*
 * sim_sess.h — the simulator's sessions layer (--sess), private to
 * sim_sess*.c. Every virtual node life runs the REAL sess/ module
 * (weft_sess_apply, the record codec, weft_sess_deadline_ms) on a session
 * table of its own (lost on a crash), over the node's actual membership
 * views: the segment table is weft_swim_seg_compute's (256 segments,
 * owners 2, as the data layer), a session's segment is XXH3-64(id) & 255
 * (weft_wire_segment), the acting primary the first owner its SWIM table
 * holds ALIVE or SUSPECT, and the read-through target the real
 * weft_ctl_read_through (control/ctl_readthrough.c; an old owner ALIVE in
 * the node's SWIM table at the view first), kept 60 s after each new view
 * (CL_READ_THROUGH_MS).
 *
 * What the nodes do, as dataplane/dp_sess.c and control/ctl_sessions*.c:
 *  - an op reaches a random live node (the visitor's app instance); a node
 *    in no view yet, or outside its view (it heard a view that does not
 *    list this life: dropped from the view while alive), answers it BUSY
 *    (a forwarded one too: dp_route.c sess_refused); a node that is
 *    not the acting primary in its table forwards it (WEFT_F_NODE: served
 *    by the receiver whatever its table says, but a CREATE for a segment
 *    the receiver does not own: BUSY); the primary applies
 *    it with weft_sess_apply at ITS wall clock and, on a change, stores it
 *    (version from its counter raised to its clock << 20, as the cache's)
 *    and replicates it to the other owners of its view (REPL, retransmitted
 *    20 ms doubling to 320 ms, BUSY after 5 s) before the visitor hears
 *    OK; a DELETE leaves a tombstone for 10 s (WEFT_CACHE_TOMBSTONE_MS);
 *  - a primary holding neither the record nor a tombstone forwards the op
 *    (not a CREATE) to the read-through target within the window (the old
 *    owner serves it and replicates to the owners of its view), or answers
 *    BUSY when its SWIM table holds that target DEAD (recorded in the
 *    at-most-once table for a claimed action, as dp_answer_final);
 *  - every node's expiry pass (every 1 s, CTL_SESS_PASS_MS) sends EXPIRE to
 *    its own node for each session its copy shows due by its wall clock:
 *    routed to the primary, which rechecks with weft_sess_apply; on
 *    NO_SESSION the node discards its copy, owner or not, up to the
 *    version it saw (ctl_sessions_discard_due);
 *  - state transfer (not the real planner: see docs): on each new view a
 *    node pushes every entry it holds to each owner of the entry's segment
 *    in that view, retransmitted until acked, and drops the segments it
 *    no longer owns once all its pushes are acked;
 *  - CREATE, REMOVE, INVALIDATE, EXPIRE are at most once per node life
 *    (a per-life table of op ids, as dp_dedup.c: claimed when applied, a
 *    repeat dropped while the change is replicated; finished by the final
 *    answer, held or not, which a repeat then gets).
 * Wall clocks: unix_ms = base + (t * (1 + drift) + woff) / 1000, drift the
 * node's (+-1% with the drift fault) and woff +-SIM_ZWOFF_US.
 *
 * Files: sim_sess.c (lives, network, queue, tick, driver), sim_sess_node.c
 * (views, serving, replication, transfer, expiry pass), sim_sess_client.c
 * (visitors, the model and the invariants, trace, summary).
 */
#ifndef WEFT_TESTS_SIM_SESS_H
#define WEFT_TESTS_SIM_SESS_H

#include "sess.h"
#include "sim.h"

#define SIM_ZMAX 400u               /* sessions (visitors) per run */
#define SIM_ZATTRS 4u               /* attribute names a0..a3 */
#define SIM_ZREC 128u               /* record bytes, at most (4 attrs of 8 B) */
#define SIM_ZSEGS 256u
#define SIM_ZOWNERS 2u
#define SIM_ZMAX_NODES 64u
#define SIM_ZTICK_US 10000u
#define SIM_ZPASS_US 1000000u       /* CTL_SESS_PASS_MS */
#define SIM_ZTOMB_US 10000000u      /* WEFT_CACHE_TOMBSTONE_MS */
#define SIM_ZRT_US 60000000u        /* CL_READ_THROUGH_MS */
#define SIM_ZRTO0_US 20000u
#define SIM_ZRTO_MAX_US 320000u
#define SIM_ZGIVE_UP_US 5000000u    /* replication: BUSY */
#define SIM_ZHOLDS 512u             /* held answers per node (dp_rpc's bound) */
#define SIM_ZXFER_RTO_US 200000u
#define SIM_ZCALL_US 600000u        /* a visitor's attempt (libweft timeout) */
#define SIM_ZOP_GIVE_UP_US 12000000u /* a visitor gives an op up (TIMEOUT) */
#define SIM_ZWOFF_US 20000u         /* wall-clock offsets: +-20 ms (NTP) */
#define SIM_ZFAILOVER_US 5000000u   /* invariant (3): after convergence */
#define SIM_ZDEDUP 256u
#define SIM_ZWALL_BASE 1700000000000ull
#define SIM_ZNONE UINT32_MAX

enum { SIM_ZE_REQ, SIM_ZE_RESP, SIM_ZE_REPL, SIM_ZE_ACK, SIM_ZE_ANSWER, SIM_ZE_TICK };

/* A datagram or event of this layer. */
struct sim_zev {
	uint64_t t, seq;
	uint32_t kind;
	uint32_t src, dst;         /* nodes */
	uint64_t dst_nonce;        /* ANSWER: the entry node's life */
	uint32_t sess;
	uint32_t entry;            /* REQ/RESP: the visitor's node */
	uint64_t op;               /* the visitor's op id (0: an EXPIRE) */
	uint64_t rid;              /* REPL/ACK */
	uint8_t action, flags_node, tomb, xfer;
	uint8_t retry;             /* REQ: a retransmission of the op (WEFT_F_RETRY) */
	uint8_t no_table;          /* RESP: served by a life without a table, or
	                              not the life the forwarder's view names */
	uint64_t to_nonce;         /* REQ forwarded: the life the sender's view names */
	uint16_t status;
	uint32_t attr;             /* SET/GET/REMOVE */
	uint64_t val;              /* SET value; GET answer */
	uint32_t max_inactive_s;
	uint64_t ver;              /* REPL */
	uint64_t seen_ver;         /* EXPIRE REQ/RESP: the version the pass saw */
	uint64_t apply_us;         /* RESP: when the access was applied */
	uint32_t served_by;        /* RESP: the node that applied it */
	uint32_t rec_len;
	uint8_t rec[SIM_ZREC];
};

/* One session entry of a node's table. */
struct sim_zent {
	uint64_t ver;
	uint64_t tomb_us;          /* tombstone since (state 2) */
	uint8_t state;             /* 0 none, 1 record, 2 tombstone */
	uint8_t len;
	uint64_t push_ver;         /* the version the last view's pushes took
	                              (ctl_rebalance.c's sent set: the drop
	                              deletes only that one) */
	uint8_t rec[SIM_ZREC];
};

struct sim_zslot {
	uint32_t node;
	uint64_t rid, next_us;
	uint32_t rto_us;
};

/* A change stored on its primary, its answer held until the owners ack. */
struct sim_zhold {
	struct sim_zev ans;        /* the RESP to send (dst = entry node) */
	uint64_t first_us;
	uint32_t n_slot;
	struct sim_zslot slot[SIM_ZOWNERS * 2];
};

/* A state-transfer push in flight. */
struct sim_zxfer {
	uint32_t node, sess;
	uint64_t rid, next_us;
};

struct sim_znode {
	bool live;                 /* a life of this layer runs */
	uint64_t nonce;
	bool in_view;
	bool outside;              /* its last view does not list this life */
	struct weft_swim_view_id view_id;
	uint32_t n_mem, self;
	struct weft_swim_view_member mem[SIM_ZMAX_NODES * 2];
	uint16_t seg[SIM_ZSEGS * SIM_ZOWNERS];
	uint32_t owners;
	uint16_t rt[SIM_ZSEGS];    /* read-through target (index), or NONE */
	uint64_t rt_until_us;
	bool had_prev;
	uint32_t prev_n, prev_owners;
	struct weft_swim_view_member prev_mem[SIM_ZMAX_NODES * 2];
	uint16_t prev_seg[SIM_ZSEGS * SIM_ZOWNERS];
	struct sim_zent *ent;      /* [SIM_ZMAX] */
	uint64_t counter;
	struct sim_zhold *hold;    /* [SIM_ZHOLDS] */
	uint32_t n_hold;
	struct sim_zxfer *xf;      /* [SIM_ZMAX * SIM_ZOWNERS * 2] */
	uint32_t n_xf;
	bool drop_pending;
	bool drop_wait;            /* pushes acked: dropping at drop_due_ms */
	uint64_t drop_due_ms;      /* weft_ctl_drop_due */
	uint64_t dedup_op[SIM_ZDEDUP];
	uint16_t dedup_st[SIM_ZDEDUP];
	uint32_t n_dedup;
	uint64_t next_pass_us, next_rid;
	int64_t woff_us;
};

/* One trace record of this layer. */
struct sim_ztrace {
	uint64_t t;
	uint32_t node, what, sess;
	uint64_t a, b;
};

#define SIM_ZHIST 24u                /* trace records kept per session */

/* A visitor and the model of its session. */
struct sim_zsess {
	uint8_t id[WEFT_SESSION_ID_LEN];
	uint32_t seg, mi_s;
	bool busy;                 /* kept busy until stop_us, then idle */
	uint8_t state;             /* SIM_ZS_* */
	uint64_t stop_us, next_op_us;
	/* the op in flight */
	bool pending;
	uint8_t p_action;
	uint32_t p_attr, p_entry;
	uint64_t p_val, p_op, p_first_us, p_sent_us;
	uint64_t p_snap[SIM_ZATTRS];   /* acked values when it was first sent */
	/* the model */
	uint64_t acked[SIM_ZATTRS];    /* last acknowledged SET value per attr */
	uint64_t next_val;
	uint64_t acc_us;               /* last acknowledged access: applied at */
	uint32_t acc_node;             /* ... by this node */
	bool has_acc;
	uint64_t touch_us;             /* last apply of any access anywhere */
	uint64_t expired_us;           /* last expiry deletion (0: none) */
	uint32_t expired_by;
	uint64_t acked_ver;            /* the version of the last acked change */
	uint16_t exposure;             /* holder crashes since 2 live holders */
	uint64_t lost_us;              /* when exposure last reached `owners`: what
	                                  was acked before may be lost (0: never) */
	uint64_t ack_us;               /* the last acked op (visitor's time) */
	uint64_t set_ack_us[SIM_ZATTRS];
	uint32_t ops;
	struct sim_ztrace hist[SIM_ZHIST];   /* its last events, for the dump */
	uint32_t n_hist;
};

enum { SIM_ZS_NEW, SIM_ZS_CREATING, SIM_ZS_LIVE, SIM_ZS_GONE, SIM_ZS_ABANDONED };

enum { SIM_ZT_OP, SIM_ZT_SERVE, SIM_ZT_FWD, SIM_ZT_RT, SIM_ZT_ANS, SIM_ZT_TIMEOUT,
       SIM_ZT_EXPIRE, SIM_ZT_VIEW, SIM_ZT_LIFE, SIM_ZT_BUSY, SIM_ZT_DROP, SIM_ZT_LOST,
       SIM_ZT_REFUSED, SIM_ZT_STRAY, SIM_ZT_RTBUSY, SIM_ZT_OUTSIDE };

struct sim_sess_layer {
	struct sim_znode *n;       /* [o.nodes] */
	struct sim_zsess *z;       /* [SIM_ZMAX] */
	uint32_t n_z;
	uint64_t next_create_us, create_end_us, next_op_id;
	struct sim_zev *heap;
	uint32_t n_heap, cap_heap;
	uint64_t seq;
	struct sim_ztrace trace[SIM_TRACE];
	uint32_t n_trace;
	uint64_t disturbed_us;     /* last tick a partition or a pause was in force */
	uint32_t focus;            /* the session a failure names (SIM_ZMAX: none) */
	struct weft_swim_seg_table scratch;
	/* results */
	uint64_t ops, acked, sets_acked, gave_up, busy, no_session_ok, expired,
		slack_writes, read_through, lost_excused, split_excused,
		checks_get, gone_checked, fwd, refused, discarded, rt_busy, retry_writes;
};

/* sim_sess.c */
void sim_ztrace(struct sim *s, uint32_t node, uint32_t what, uint32_t sess, uint64_t a,
		uint64_t b);
bool sim_zlive(const struct sim *s, uint32_t node);
uint64_t sim_zwall_ms(const struct sim *s, uint32_t node, uint64_t t_us);
void sim_zsend(struct sim *s, const struct sim_zev *ev);      /* node -> node */
void sim_zpush(struct sim *s, uint64_t t, struct sim_zev ev);
/* The segment of a session id: weft_cache_hash (XXH3-64) & 255, as the
 * dataplane routes it (weft_wire_segment). */
uint32_t sim_zseg_of(const uint8_t id[WEFT_SESSION_ID_LEN]);
/* sim_sess_node.c */
void sim_zon_view(struct sim *s, uint32_t node, const struct weft_swim_event *ev);
void sim_zon_req(struct sim *s, uint32_t node, const struct sim_zev *req);
void sim_zon_repl(struct sim *s, const struct sim_zev *ev);
void sim_zon_ack(struct sim *s, const struct sim_zev *ev);
/* At node a->dst: the answer to its own expiry pass's EXPIRE. */
void sim_zon_expire_answer(struct sim *s, const struct sim_zev *a);
void sim_znode_tick(struct sim *s, uint32_t node);
/* Whether n's view makes it an owner of seg (it keeps what it holds). */
bool sim_zowns(const struct sim_znode *n, uint32_t seg);
/* The visitor's op arrives at entry node (a local call, no network). */
void sim_zsubmit(struct sim *s, uint32_t entry, const struct sim_zev *req);

/* sim_sess_client.c */
void sim_zclient_tick(struct sim *s);
void sim_zclient_answer(struct sim *s, const struct sim_zev *ans);
/* The model hears what a node did: an access applied (OK/NOT_FOUND of a
 * live session), an expiry deletion. */
void sim_zmodel_access(struct sim *s, uint32_t sess);
void sim_zmodel_expired(struct sim *s, uint32_t node, uint32_t sess);
void sim_zmodel_crash(struct sim *s, uint32_t node);
void sim_zcheck(struct sim *s);            /* every tick */
void sim_zcheck_end(struct sim *s);
void sim_zprint(FILE *f, const struct sim_ztrace *t);
/* Clock error bound of node b at tb against node c at tc (us, >= 0). */
uint64_t sim_zskew_us(const struct sim *s, uint32_t b, uint64_t tb, uint32_t c, uint64_t tc);

#endif
