/*
 * ctl_sender_internal.h — the state of the state-transfer sender, shared by
 * ctl_rebalance.c (views, planning, job lifecycle, progress) and
 * ctl_rebalance_tx.c (scanning caches into REPLICATE messages, the send
 * window, acks, retransmission, the drop pass). Control thread only.
 *
 * A job is one transfer: the moves this node sends for the current view
 * (and, when leaving, its hand-off), grouped by destination as segment
 * bitmaps per cache kind. It scans every DISTRIBUTED / REPLICATED cache
 * once, appending each entry of a moved segment to the open batch of every
 * destination that gets that segment; a batch that reaches ~32 KiB becomes
 * a message. Messages wait in a FIFO; at most RB_WINDOW are in flight.
 *
 * A hand-off makes two passes: the first while this node still owns its
 * segments (it keeps serving reads of them), recording what it sent (key
 * hash and version) in the sent set; then the cluster publishes the table
 * without this node (its lcores forward every new write to the next
 * owners) and waits for a grace period; the catch-up pass then sends only
 * what changed meanwhile.
 */
#ifndef WEFT_CONTROL_SENDER_INTERNAL_H
#define WEFT_CONTROL_SENDER_INTERNAL_H

#include "ctl_rebalance_internal.h"

#define RB_WINDOW 8u             /* messages in flight */
#define RB_MAX_BUFFERED 16u      /* queued + in flight before the scan pauses */
#define RB_RETRANSMIT_MS 200u
#define RB_GIVE_UP_MS 20000u     /* no answer from a destination this long */
#define RB_DROP_CHECK_MS 10u     /* destinations' states checked while the
                                    drop waits (weft_ctl_drop_due) */
#define RB_SCAN_BUCKETS 256u     /* per weft_cache_scan call */
#define RB_SCAN_CALLS 16u        /* per poll */
#define RB_SEND_BUDGET 256u      /* datagrams per poll */

/* (cache, key hash) -> version of every entry a hand-off sent: open
 * addressing, linear probing, key 0 = empty (a zero key is stored as 1). */
struct rb_sent {
	uint64_t *key, *ver;
	size_t cap, n;            /* cap: a power of two, or 0 */
};

/* An owned copy of a published topology, with each member's address. */
struct rb_topo {
	struct weft_ctl_topo t;   /* points into the arrays below */
	struct weft_swim_view_member *members;
	uint16_t *seg;
	uint32_t *ip;             /* network order */
	uint16_t *port;           /* data port, host order */
	uint8_t *state;           /* enum weft_dp_member_state, as published */
	uint32_t self;            /* WEFT_CTL_PLAN_NONE: not a member */
	uint32_t cap_n, cap_seg;  /* allocated entries */
};

struct rb_dest {
	uint32_t ip;              /* network order */
	uint16_t port;
	uint8_t *bits[2];         /* per weft_ctl_plan_kind: segment bitmap, or NULL */
	bool in_job;              /* listed in active_dests */
	uint32_t moves;           /* (segment, kind) pairs to send, counted in
	                             progress: planned moves and segments given
	                             away that this node owned in base or prev
	                             (the sweep of the others is not counted) */
	uint32_t outstanding;     /* messages queued or in flight */
	uint64_t heard_ms;        /* its last answer (or the job's start) */
	bool failed, complete;
	struct weft_ctl_repl_batch batch; /* open batch of the cache being scanned */
};

struct rb_msg {
	struct rb_msg *next;      /* FIFO of messages not yet in flight */
	uint8_t *buf;             /* whole payload */
	size_t len;
	uint8_t name_len;
	uint32_t dest;            /* index in dests */
	uint32_t entries;
	uint64_t request_id;
	uint32_t n_dgrams, next_dgram; /* next_dgram < n_dgrams: still sending */
	uint64_t sent_ms;         /* when its last datagram went out */
};

struct weft_ctl_rebalance {
	struct weft_dp *dp;
	struct weft_cache_registry *reg;
	uint32_t client_id;       /* random per process */
	uint64_t next_request_id;
	bool have_view;
	struct rb_topo base;      /* the last topology whose transfer completed */
	struct rb_topo prev;      /* the topology before cur */
	struct rb_topo cur;       /* the latest published one */
	bool leaving;             /* hand-off requested */
	void (*switch_fn)(void *arg); /* hand-off: publish the table without us */
	void *switch_arg;
	struct rb_topo next;      /* leaving: cur without this node */

	/* The job. */
	bool active;
	bool drop_wait;           /* transfer done: waiting for drop_due_ms */
	uint64_t drop_due_ms;     /* weft_ctl_drop_due */
	bool dropping;            /* deleting segments given away */
	bool catchup;             /* hand-off: the second pass */
	struct rb_sent sent;      /* what was sent: hand-off (both passes), or
	                             entries of segments given away (the drop
	                             pass deletes only those) */
	uint64_t now;             /* of the running poll (scan callbacks) */
	uint64_t started_ms;
	uint32_t seg_log2;
	struct rb_dest *dests;    /* [cur.t.n], by index in cur */
	uint32_t *active_dests;   /* indices with moves */
	uint8_t *want[2];         /* per kind: segment bitmap, the union of the
	                             destinations' (NULL: none) */
	uint32_t n_active;
	uint32_t moves_total;
	uint8_t *drop;            /* [n_segments]: may delete once the job is done */
	bool any_drop;
	struct weft_cache **caches;
	uint32_t n_caches, cache_i;
	bool has_kind[2];         /* a cache of that kind exists: plan its moves */
	uint64_t cursor;
	bool scan_done;
	struct weft_cache *cache;  /* being scanned */
	enum weft_ctl_plan_kind cache_kind;
	struct rb_msg *q_head, *q_tail;
	uint32_t n_queued;
	struct rb_msg *inflight[RB_WINDOW];
	uint32_t n_inflight;
	uint64_t blocked_until;   /* -ENOBUFS: resume at this time */
	uint64_t job_entries, job_bytes, too_large;
	uint32_t failures;

	struct weft_dp_rebalance pub;
	bool pub_dirty;
};

/* ctl_rebalance_tx.c */
/* One bounded scan step of the job (sending or dropping); true when the
 * scan of every cache is complete. */
bool rb_scan_step(struct weft_ctl_rebalance *rb);
/* Sends what the window and the channel allow, retransmits overdue
 * messages. Returns when it wants to run again. */
uint64_t rb_tx(struct weft_ctl_rebalance *rb);
/* Frees every message and open batch of the job. */
void rb_msgs_clear(struct weft_ctl_rebalance *rb);
/* Gives up on destination d (logged by the caller): drops its messages. */
void rb_dest_fail(struct weft_ctl_rebalance *rb, uint32_t d, const char *why);
/* The sent set: whether (key, version) of cache number ci was sent;
 * records it (false when not recorded before). */
bool rb_sent_check_add(struct rb_sent *st, uint32_t ci, uint64_t key_hash, uint64_t version);
/* Whether (key, version) of cache number ci is in the sent set. */
bool rb_sent_has(const struct rb_sent *st, uint32_t ci, uint64_t key_hash, uint64_t version);
void rb_sent_free(struct rb_sent *st);
/* Collects the caches of the job (DISTRIBUTED and REPLICATED) and which
 * kinds exist (has_kind). 0 or -ENOMEM. */
int rb_caches_collect(struct weft_ctl_rebalance *rb);

#endif /* WEFT_CONTROL_SENDER_INTERNAL_H */
