/*
 * membership.h — cluster membership (SWIM + Lifeguard), numbered views and
 * segment ownership, as pure state machines (the one header of
 * control/membership/).
 *
 * Sans-I/O: nothing here reads a clock, touches a socket or a ring, starts a
 * thread, or keeps global state. The caller feeds inputs — (now_ms, a datagram
 * from an address), (now_ms, the timer fired), commands (join, leave) — and the
 * state machine answers synchronously through a sink: datagrams to send
 * (destination + bytes) and events. After each call the caller reads
 * weft_swim_next_deadline() and calls weft_swim_tick() at (or after) it.
 * weftd's control thread drives it with the real port and clock; the
 * simulator (tests/sim/) drives the same code with a virtual clock.
 *
 * Determinism: the output of every call is a function of the config (which
 * carries the PRNG seed) and the sequence of calls. now_ms must never go
 * backwards for one instance (a monotonic clock in milliseconds).
 *
 * Calling context: one thread owns an instance (weftd: the control thread);
 * no locking inside. The sink callbacks run inside the call and must not call
 * back into the same instance. Byte buffers and view arrays handed to the
 * sink are valid only during the callback.
 *
 * Memory: weft_swim_create() allocates every table once (sized by
 * max_members); nothing is allocated afterwards.
 */
#ifndef WEFT_CONTROL_MEMBERSHIP_H
#define WEFT_CONTROL_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A node's identity: the 16-byte UUID in <home>/data/node-id. */
struct weft_swim_id {
	uint8_t b[16];
};

/* An IPv4 UDP endpoint, host byte order. ip == 0 means "none". */
struct weft_swim_addr {
	uint32_t ip;
	uint16_t port;
};

/* Longest node name (bytes, no NUL): a member announces it with its records. */
#define WEFT_SWIM_NAME_MAX 64u
/* Upper bound of max_members: a full-state message must fit one UDP
 * datagram (65507 bytes; names are left out of a full state that would not
 * fit) — see docs/membership.md "Message format". */
#define WEFT_SWIM_MAX_MEMBERS 1700u
/* Largest datagram the state machine ever emits. */
#define WEFT_SWIM_MSG_MAX 65507u
/* Seeds remembered for joining and for healing partitions. */
#define WEFT_SWIM_MAX_SEEDS 16u

struct weft_swim_config {
	struct weft_swim_id id;
	/* Instance nonce: differs on every start of the same home and grows
	 * across restarts (weftd: wall-clock microseconds at start). Of two
	 * live instances claiming one id, the larger nonce is refused. */
	uint64_t nonce;
	struct weft_swim_addr addr;      /* where peers reach this node */
	/* Human-readable node name (NUL-terminated, at most
	 * WEFT_SWIM_NAME_MAX bytes of printable ASCII 0x21-0x7e, may be
	 * empty); peers learn it from this node's records. Fixed for one
	 * life. */
	char name[WEFT_SWIM_NAME_MAX + 1];
	struct weft_swim_addr group;     /* discovery multicast group; ip 0: off */
	uint64_t seed;                   /* PRNG seed (probe order, k choice) */
	uint32_t max_members;            /* table capacity, self included */
	uint32_t probe_interval_ms;      /* one probe per interval (x health) */
	uint32_t probe_timeout_ms;       /* direct ack wait before ping-req */
	uint32_t indirect_checks;        /* k members asked to ping-req */
	uint32_t suspicion_mult;         /* min suspicion = mult*log10(N)*interval */
	uint32_t suspicion_max_mult;     /* max suspicion = this * min */
	uint32_t retransmit_mult;        /* gossip sends = mult*ceil(log10(N+1)) */
	uint32_t awareness_max;          /* Lifeguard local health multiplier cap */
	uint32_t sync_interval_ms;       /* full-state push-pull period */
	uint32_t join_retry_ms;          /* resend JOIN / ANNOUNCE */
	uint32_t join_timeout_ms;        /* then bootstrap a cluster alone */
	uint32_t dead_keep_ms;           /* dead/left records kept this long */
	uint32_t view_min_interval_ms;   /* coordinator batches view changes */
	uint32_t leave_linger_ms;        /* gossip the leave this long */
	uint32_t packet_budget;          /* max bytes of a ping/ack/gossip msg */
	uint32_t lease_ms;               /* the membership lease (weft_swim_lease_until);
	                                    0: none, and no lease pings */
};

/* Fills the defaults documented in docs/membership.md ("Timings"). The caller
 * then sets id, nonce, addr, group, seed. */
void weft_swim_config_default(struct weft_swim_config *cfg);

enum weft_swim_state {
	WEFT_SWIM_ALIVE = 0,
	WEFT_SWIM_SUSPECT = 1,
	WEFT_SWIM_DEAD = 2,
	WEFT_SWIM_LEFT = 3,
};

/* One member of a view: a node id and the instance (life) that joined. */
struct weft_swim_view_member {
	struct weft_swim_id id;
	uint64_t nonce;
};

/* A view id is ordered by (counter, coordinator id, coordinator nonce); the
 * coordinator life that installs a view never reuses a counter, so one view
 * id names one membership. `counter` is the topology epoch clients see. */
struct weft_swim_view_id {
	uint64_t counter;
	struct weft_swim_view_member coord;
};

enum weft_swim_event_kind {
	WEFT_SWIM_EV_JOINED,      /* this node is part of a cluster (or formed one) */
	WEFT_SWIM_EV_MEMBER_UP,   /* member: alive (new, or refuted suspicion) */
	WEFT_SWIM_EV_SUSPECT,     /* member: suspected */
	WEFT_SWIM_EV_DOWN,        /* member: declared dead */
	WEFT_SWIM_EV_LEFT,        /* member: left gracefully */
	WEFT_SWIM_EV_VIEW,        /* view installed: view_id, view, n_view */
	WEFT_SWIM_EV_REFUSED,     /* this node may not join; see `reason` */
	WEFT_SWIM_EV_LEAVE_DONE,  /* leave gossiped; the caller may stop */
};

struct weft_swim_event {
	enum weft_swim_event_kind kind;
	struct weft_swim_id id;             /* member events */
	uint64_t nonce;
	struct weft_swim_addr addr;
	uint32_t incarnation;
	struct weft_swim_view_id view_id;   /* VIEW */
	const struct weft_swim_view_member *view;  /* VIEW, seniority order */
	uint32_t n_view;
	const char *reason;                 /* REFUSED: cause and fix, one line */
	const char *name;                   /* member events, REFUSED: the
					       member's name ("" if unknown) */
};

struct weft_swim_sink {
	void *ctx;
	void (*send)(void *ctx, const struct weft_swim_addr *to,
		     const void *buf, size_t len);
	void (*event)(void *ctx, const struct weft_swim_event *ev);
};

struct weft_swim;

/* Returns NULL and sets errno: EINVAL (bad config: max_members outside
 * [2, WEFT_SWIM_MAX_MEMBERS], zero timings, probe_timeout >= interval, no
 * addr, a name that is not terminated or has a space or control byte),
 * ENOMEM. The instance starts idle; call weft_swim_join(). */
struct weft_swim *weft_swim_create(const struct weft_swim_config *cfg,
				   uint64_t now_ms);
void weft_swim_destroy(struct weft_swim *s);

/* Joins through `seeds` (n_seeds <= WEFT_SWIM_MAX_SEEDS; this node's own
 * address is skipped) and, if cfg.group is set, by multicast announce. With
 * neither, forms a one-node cluster at once. With them, retries every
 * join_retry_ms and forms a cluster alone after join_timeout_ms (the first
 * node); seeds stay remembered to merge partitions later.
 * Returns 0, -EINVAL (too many seeds), -EALREADY (joined or joining). */
int weft_swim_join(struct weft_swim *s, uint64_t now_ms,
		   const struct weft_swim_addr *seeds, unsigned n_seeds,
		   const struct weft_swim_sink *sink);

/* Graceful leave: gossips LEFT for leave_linger_ms, then emits LEAVE_DONE and
 * goes quiet. Returns 0 or -EALREADY. */
int weft_swim_leave(struct weft_swim *s, uint64_t now_ms,
		    const struct weft_swim_sink *sink);

/* A datagram arrived from `from`. Malformed input is counted and dropped.
 * Returns 0, or -EBADMSG (dropped: malformed, wrong magic/version). */
int weft_swim_recv(struct weft_swim *s, uint64_t now_ms,
		   const struct weft_swim_addr *from, const void *buf,
		   size_t len, const struct weft_swim_sink *sink);

/* The timer fired (now_ms >= next deadline; early calls are harmless). */
void weft_swim_tick(struct weft_swim *s, uint64_t now_ms,
		    const struct weft_swim_sink *sink);

/* Absolute time of the next tick; UINT64_MAX when nothing is pending. */
uint64_t weft_swim_next_deadline(const struct weft_swim *s);

/* The membership lease (docs/membership.md "The lease"): until when this
 * node may go on serving as a member of its view, UINT64_MAX when no lease
 * applies (no view, or a view of this node alone). The lease is the send
 * time of this node's last probe that a member of its view acknowledged
 * with a view id not newer than its own, plus lease_ms: that member heard
 * this node after that time, and the others cannot declare it dead sooner
 * than a failed probe plus the minimum suspicion timeout after it. So a
 * node paused (SIGSTOP, a stalled VM) past its lease stops serving on
 * resuming until a fresh probe is acknowledged — by then it has heard of a
 * newer view, if there is one. lease_ms must stay below probe_timeout_ms +
 * the minimum suspicion timeout (WEFT_SWIM_LEASE_MS, the default, against
 * the default timings). 0 before the first acknowledged probe. cfg.lease_ms
 * 0: UINT64_MAX always, and no lease pings (the simulator, which models no
 * lease, keeps its seeds' courses). */
#define WEFT_SWIM_LEASE_MS 700u
uint64_t weft_swim_lease_until(const struct weft_swim *s);

/* Introspection (tests, weftctl members). */
struct weft_swim_stats {
	uint32_t members;        /* records in the table (any state) */
	uint32_t alive;          /* alive + suspect, self included */
	uint32_t broadcasts;     /* updates waiting to be gossiped */
	uint32_t pending_relays; /* ping-req relays in flight */
	uint32_t awareness;      /* Lifeguard health score, 0 = healthy */
	uint64_t rx_dropped;     /* malformed or foreign datagrams */
	uint64_t tx_msgs;
	uint64_t rx_msgs;
	uint64_t duplicate_rejects;  /* REJECTs sent for a duplicate id */
};
void weft_swim_get_stats(const struct weft_swim *s, struct weft_swim_stats *st);

/* The current view; *n gets its size. NULL before the first view. Valid
 * until the next call into the instance. */
const struct weft_swim_view_member *
weft_swim_view(const struct weft_swim *s, struct weft_swim_view_id *id,
	       uint32_t *n);
/* True when this node is the coordinator of its current view. */
bool weft_swim_is_coordinator(const struct weft_swim *s);
/* State of member `id` as this node sees it; -ENOENT if unknown. */
int weft_swim_member_state(const struct weft_swim *s,
			   const struct weft_swim_id *id,
			   enum weft_swim_state *state, uint64_t *nonce);
/* What this node holds about member `id` (view members included). */
struct weft_swim_member_info {
	uint64_t nonce;
	struct weft_swim_addr addr;
	enum weft_swim_state state;
	uint32_t incarnation;
	char name[WEFT_SWIM_NAME_MAX + 1];
};
/* Fills *out; 0 or -ENOENT if `id` is unknown. */
int weft_swim_member_info(const struct weft_swim *s,
			  const struct weft_swim_id *id,
			  struct weft_swim_member_info *out);
/* Orders view ids; <0, 0, >0. */
int weft_swim_view_id_cmp(const struct weft_swim_view_id *a,
			  const struct weft_swim_view_id *b);

/* ---- Segment ownership (pure functions, any thread) ----
 *
 * Each segment s in [0, n_segments) gets an ordered owner list
 * [primary, backup...] of `owners` distinct view positions (fewer when the
 * view is smaller). Scheme: rendezvous (HRW) hashing on the node id with a
 * load bound — a node takes at most ceil(1.25 * fair) primaries and
 * ceil(1.25 * fair) owned segments; see docs/membership.md "Ownership". */
struct weft_swim_seg_table {
	uint32_t n_segments;   /* power of two */
	uint32_t owners;       /* owners per segment (<= n_members) */
	uint32_t n_members;
	uint16_t *owner;       /* [n_segments * owners] indices into the view */
};

/* Computes `t` (t->owner must hold n_segments * min(owners, n) entries;
 * t->owners is set to min(owners, n)).
 * Returns 0, -EINVAL (n_segments not a power of two, n == 0 or > 65535,
 * owners == 0), -ENOMEM (scratch). Deterministic: same view members (in any
 * order) give the same owner ids per segment. */
int weft_swim_seg_compute(const struct weft_swim_view_member *view, uint32_t n,
			  uint32_t n_segments, uint32_t owners,
			  struct weft_swim_seg_table *t);

/* Diffs two tables over views va and vb (owners compared by node id):
 * *primary_moved counts segments whose primary changed, *copies_moved counts
 * owner copies to transfer (an owner in b absent from the owners in a), and
 * moved[s] (if not NULL; n_segments bytes) is set to 1 for every segment
 * whose owner list changed, else 0. Returns 0 or -EINVAL (n_segments
 * differ). */
int weft_swim_seg_diff(const struct weft_swim_view_member *va,
		       const struct weft_swim_seg_table *a,
		       const struct weft_swim_view_member *vb,
		       const struct weft_swim_seg_table *b,
		       uint32_t *primary_moved, uint32_t *copies_moved,
		       uint8_t *moved);

#endif
