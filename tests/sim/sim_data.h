/*
 * sim_data.h — the simulator's data layer (--data), private to sim_data.c,
 * sim_dcheck.c, sim_xfer.c and sim_data_scale.c.
 *
 * Each virtual node has a store (key id -> version, 0 = absent) that
 * applies an entry iff it is newer than what it holds — the rule of
 * weft_cache_apply_put, implemented here as a compact per-node array (not
 * the cache module: one array of versions per node is all the invariants
 * need, and it keeps thousands of runs cheap). Keys are unique, increasing
 * ids; key k lives in segment XXH3_64(k) & (SIM_DSEGS - 1).
 *
 * What drives ownership and movement is the project's real code: the
 * segment table (weft_swim_seg_compute), the rebalance planner
 * (weft_ctl_plan_*, control/ctl_plan.c) and the quorum rule
 * (weft_ctl_quorum_*, control/ctl_quorum.c), fed from the real membership
 * state machine's VIEW and LEFT events exactly as control/ctl_cluster.c
 * feeds them.
 *
 * The acknowledged-write model: per key, its version, whether acked, the
 * live nodes holding it (holders), and the holder crashes since it was last
 * on r live nodes (exposure), r = the copies its primary made.
 */
#ifndef WEFT_TESTS_SIM_DATA_H
#define WEFT_TESTS_SIM_DATA_H

#include "ctl_rebalance_internal.h"
#include "sim.h"

#define SIM_DSEGS 256u            /* weftd's default --segments */
#define SIM_DOWNERS 2u            /* weftd's default --owners */
#define SIM_DMAX_KEYS 16384u      /* writes per run, at most */
#define SIM_DHOLDS 512u           /* held writes per node (dp_rpc's bound) */
#define SIM_DSLOTS 8u             /* replication targets per held write */
#define SIM_DKEY_LEN 16u          /* bytes of a key, for traffic figures */
#define SIM_DVAL_LEN 100u         /* bytes of a value */
#define SIM_DTICK_US 10000u       /* the data layer's tick (an lcore's) */
#define SIM_RPC_RTO0_US 20000u    /* dp_rpc.c: first retransmission */
#define SIM_RPC_RTO_MAX_US 320000u
#define SIM_RPC_GIVE_UP_US 5000000u
#define SIM_XFER_BATCH 32u        /* entries per state-transfer message */
#define SIM_XFER_WINDOW 8u        /* RB_WINDOW: messages in flight */
#define SIM_XFER_RTO_US 200000u   /* RB_RETRANSMIT_MS */
#define SIM_XFER_GIVE_UP_US 20000000u /* RB_GIVE_UP_MS */
#define SIM_QUORUM_SETTLE_US 6000000u /* partition older than this: checked */
#define SIM_NONE UINT32_MAX

/* Data datagram types (byte 3 of every datagram is its type, as in SWIM's
 * header, so the trace names it). */
enum {
	SIM_DM_WRITE = 0x40, SIM_DM_REPL, SIM_DM_REPL_ACK, SIM_DM_XFER,
	SIM_DM_XFER_ACK,
};

struct sim_dmsg {
	uint8_t magic[3];
	uint8_t type;
	uint32_t count;            /* XFER: entries that follow */
	uint64_t rid;              /* REPL/XFER and their acks */
	uint32_t key;              /* WRITE, REPL */
	uint32_t pad;
	uint64_t ver;              /* REPL */
};

struct sim_dentry {
	uint32_t key;
	uint32_t pad;
	uint64_t ver;
};

/* A node's copy of a published topology (ctl_rebalance.c's rb_topo). */
struct sim_dtopo {
	struct weft_ctl_topo t;
	struct weft_swim_view_member *m;
	uint16_t *seg;
	uint32_t self;             /* index, or WEFT_CTL_PLAN_NONE */
	uint32_t cap;
};

struct sim_dslot {
	uint32_t node;             /* target, by address (sim index) */
	uint64_t rid;
	uint64_t next_us;
	uint32_t rto_us;
};

/* A write applied on its primary, held until its replicas answer. */
struct sim_dhold {
	uint32_t key;
	uint32_t seg;
	uint64_t first_us;
	uint32_t n_slot;
	struct sim_dslot slot[SIM_DSLOTS];
};

struct sim_xdest {
	uint32_t node;             /* sim index of the cur member */
	uint8_t bits[SIM_DSEGS / 8];
	uint32_t moves;            /* counted (ctl_rebalance.c add_move) */
	uint32_t cursor;           /* next key id to scan */
	uint32_t outstanding;      /* messages in flight */
	uint64_t heard_us;
	bool active, scan_done, failed;
};

struct sim_xmsg {
	uint64_t rid;
	uint32_t dest;             /* cur index */
	uint64_t sent_us;
	uint32_t n;
	struct sim_dentry e[SIM_XFER_BATCH];
};

struct sim_dnode {
	uint64_t *ver;             /* [SIM_DMAX_KEYS] */
	uint64_t counter;          /* the cache's version counter */
	bool live;                 /* a data life is running */
	bool in_view;              /* published a view with this node */
	struct weft_swim_view_id view_id;
	struct sim_dtopo base, prev, cur;
	struct weft_ctl_quorum q;
	struct sim_dhold *hold;    /* [SIM_DHOLDS * 2]: checked <= SIM_DHOLDS */
	uint32_t n_hold, max_hold;
	/* the state-transfer job (ctl_rebalance.c) */
	bool job;
	struct sim_xdest *dest;    /* [cur.t.n] */
	uint8_t drop[SIM_DSEGS];
	uint64_t *xsent_ver;       /* [SIM_DMAX_KEYS]: ctl_rebalance's sent set: */
	uint16_t *xsent_n;         /* the version the job's scans sent, to how
	                              many destinations (the drop pass deletes
	                              only a key sent to all, at that version) */
	bool drop_wait;            /* transfer done: dropping at drop_due_ms */
	uint64_t drop_due_ms;      /* weft_ctl_drop_due */
	uint32_t failures, moves_total;
	struct sim_xmsg inflight[SIM_XFER_WINDOW];
	uint32_t n_inflight, rr;
	uint64_t next_rid;
	/* measurements, over all lives */
	uint64_t xfer_entries, xfer_bytes, xfer_msgs, repl_msgs;
};

struct sim_dkey {
	uint64_t ver;              /* 0: never applied */
	uint32_t seg;
	uint32_t primary;
	uint64_t accepted_us;
	uint16_t holders;          /* live nodes holding ver */
	uint16_t exposure;         /* holder crashes since holders >= r */
	uint8_t r;                 /* copies the primary made (sim_data.c (a)) */
	bool acked, lost;
};

struct sim_data {
	struct sim_dnode *n;       /* [o.nodes] (the duplicate has no data) */
	struct sim_dkey *key;      /* [SIM_DMAX_KEYS] */
	uint32_t n_keys;
	uint64_t writes_end_us;
	uint64_t next_write_us;
	bool formed;               /* one agreed view seen after write_start */
	/* quorum checks */
	uint32_t *agreed;          /* node indices of the last agreed view */
	uint32_t n_agreed;
	uint64_t agreed_epoch;     /* life_epoch when it was recorded */
	uint64_t agreed_at;        /* virtual us it was recorded */
	uint64_t episode;          /* part_since of the split-brain record */
	uint8_t side_acked;        /* bit per group: acked in this episode */
	uint32_t side_key[2];
	/* results */
	uint64_t writes, acked, refused_nq, not_owner, refused_busy, gave_up, lost_excused;
	uint64_t degraded;         /* accepted with fewer targets than up owners */
	uint64_t data_converged_at;
	struct weft_swim_seg_table scratch;
};

/* sim_data.c, for sim_xfer.c */
uint32_t sim_dkey_seg(uint32_t key);
void sim_dstore(struct sim *s, uint32_t node, uint32_t key, uint64_t ver);
void sim_dunstore(struct sim *s, uint32_t node, uint32_t key);
uint32_t sim_dmember_node(const struct sim *s, const struct weft_swim_view_member *m);
void sim_dtrace(struct sim *s, uint16_t what, uint32_t node, uint32_t peer,
		uint64_t arg);
int sim_dtopo_copy(struct sim_dtopo *dst, const struct sim_dtopo *src);
void sim_dtopo_free(struct sim_dtopo *t);

/* sim_dcheck.c: invariants. sim_dlost: key's last copy went from node
 * (by a state-transfer drop, or a crash/exit): fails unless (a) allows it.
 * sim_dcheck_quorum_ack: (c) at an acknowledgement. */
void sim_dlost(struct sim *s, uint32_t key, uint32_t node, bool by_drop);
void sim_dcheck_quorum_ack(struct sim *s, uint32_t node, const struct sim_dkey *k);

/* sim_xfer.c: the state-transfer sender of one node (ctl_rebalance.c). */
void sim_xfer_view(struct sim *s, uint32_t node);   /* cur just changed */
void sim_xfer_clear(struct sim *s, uint32_t node);
void sim_xfer_tick(struct sim *s, uint32_t node);
void sim_xfer_recv(struct sim *s, uint32_t node, const struct sim_msg *m);
void sim_xfer_ack(struct sim *s, uint32_t node, const struct sim_msg *m);

/* Trace kinds of SIM_T_DATA records (type field). */
enum {
	SIM_DT_ACCEPT, SIM_DT_ACK, SIM_DT_REFUSE_NQ, SIM_DT_NOT_OWNER,
	SIM_DT_GAVE_UP, SIM_DT_RETARGET, SIM_DT_VIEW, SIM_DT_JOB_DONE,
	SIM_DT_QUORUM, SIM_DT_LOST,
};

#endif
