/*
 * ctl_rebalance_internal.h — internals of the control module's state
 * transfer (rebalancing, graceful hand-off) and partition handling, shared
 * by ctl_cluster.c, ctl_rebalance*.c and the unit tests. Not for other
 * modules: they use control.h.
 *
 * Three layers:
 *  - the planner (ctl_plan.c) and the quorum rule (ctl_quorum.c): pure,
 *    sans-I/O (no clock, no port, no cache), so that tests and the
 *    simulator (tests/sim/) can drive them;
 *  - the REPLICATE message codec (ctl_repl_msg.c): pure byte building;
 *  - the sender (ctl_rebalance.c, ctl_rebalance_scan.c): control thread,
 *    drives the planner with the real caches and the cluster channel.
 */
#ifndef WEFT_CONTROL_REBALANCE_INTERNAL_H
#define WEFT_CONTROL_REBALANCE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/wire.h>

#include "cache.h"
#include "dataplane.h"
#include "membership.h"

/* ---- The planner (ctl_plan.c, pure) -------------------------------------
 *
 * A topology is what a published snapshot says about ownership: the
 * members (node id + instance nonce) by view index and the segment table
 * over those indices. Members are matched across views by id AND nonce: a
 * node restarted under the same id lost its memory, so it is a new owner
 * (the segment table, computed from ids, gives it the same segments). Owners of segment s:
 *  - DISTRIBUTED caches: seg_owner[s * owners .. + owners), primary first;
 *  - REPLICATED caches: every member — the segment's owner list first, then
 *    the other members in view order (so the "first owner" of a segment is
 *    its primary, which spreads the sending over the nodes);
 *  - LOCAL and INVALIDATED caches never move.
 *
 * Moves from an old topology to a new one: for each segment s and each node
 * n that owns s in the new topology but not in the old one, the sender is
 * the first owner of s in the old topology that is still a member of the
 * new one. Every node computes the same from the same two snapshots, so
 * exactly one node sends each move (none when every old owner is gone: the
 * data of that segment is lost, which owners >= 2 makes take two failures).
 */

#define WEFT_CTL_PLAN_NONE UINT32_MAX

enum weft_ctl_plan_kind {
	WEFT_CTL_PLAN_DISTRIBUTED,
	WEFT_CTL_PLAN_REPLICATED,
};

struct weft_ctl_topo {
	uint64_t view;                  /* view counter (for logs) */
	uint32_t n;                     /* members, >= 1 */
	const struct weft_swim_view_member *members; /* [n] by view index */
	uint32_t n_segments;            /* a power of two */
	uint32_t owners;                /* owners per segment, 1..min(n, 8) */
	const uint16_t *seg_owner;      /* [n_segments * owners], indices < n */
};

/* Read-through (ctl_readthrough.c, pure): for each of new_t's segments,
 * the index in new_t of the member that a new owner `self` (an index in
 * new_t) asks on a miss while the segment moves in — the first owner of
 * the segment in old_t still a member of new_t (id and nonce) that
 * alive[] says is ALIVE, else the first one still a member whatever its
 * state — or WEFT_DP_READ_THROUGH_NONE when self owned it in old_t (it
 * has the data), no old owner is left, or old_t is NULL. alive: new_t->n
 * entries (true: ALIVE in this node's table), or NULL (all alive). out:
 * new_t->n_segments entries. */
void weft_ctl_read_through(const struct weft_ctl_topo *old_t, const struct weft_ctl_topo *new_t,
			   uint32_t self, const bool *alive, uint16_t *out);

/* One transfer: segment seg to new-topology member `to`, sent by
 * old-topology member `from`. */
struct weft_ctl_move {
	uint32_t seg;
	uint32_t to;   /* index in the new topology */
	uint32_t from; /* index in the old topology */
};

/* A plan between two topologies: the maps between their member indices.
 * The topologies are borrowed and must outlive the plan. */
struct weft_ctl_plan {
	const struct weft_ctl_topo *old_t, *new_t;
	uint32_t *old_to_new; /* [old_t->n]: index in new, or WEFT_CTL_PLAN_NONE */
	uint32_t *new_to_old; /* [new_t->n] */
};

/* 0, -EINVAL (a topology malformed, or segment counts differ), -ENOMEM. */
int weft_ctl_plan_init(struct weft_ctl_plan *p, const struct weft_ctl_topo *old_t,
		       const struct weft_ctl_topo *new_t);
void weft_ctl_plan_fini(struct weft_ctl_plan *p);

/* True when member `idx` of t owns segment seg for caches of `kind`. */
bool weft_ctl_topo_owns(const struct weft_ctl_topo *t, enum weft_ctl_plan_kind kind,
			uint32_t seg, uint32_t idx);

/* The moves of segment seg (< n_segments) for caches of `kind`, in new-owner
 * order, into out (at most max; new_t->n always suffices). Returns the
 * number of moves (moves with no surviving sender are left out), or
 * -EINVAL (seg out of range), -ENOSPC (max too small). */
int weft_ctl_plan_segment(const struct weft_ctl_plan *p, enum weft_ctl_plan_kind kind,
			  uint32_t seg, struct weft_ctl_move *out, uint32_t max);

/* Graceful hand-off: old_t is the current topology, new_t the same view
 * without the leaving member `leaver` (an old index). The moves of seg that
 * the leaver makes before it goes: if it owns seg in old_t, every owner of
 * seg in new_t that does not own it in old_t gets it from the leaver
 * (from = leaver). Same returns as weft_ctl_plan_segment. */
int weft_ctl_plan_handoff(const struct weft_ctl_plan *p, enum weft_ctl_plan_kind kind,
			  uint32_t seg, uint32_t leaver, struct weft_ctl_move *out, uint32_t max);

/* ---- The quorum rule (ctl_quorum.c, pure) -------------------------------
 *
 * --partition-handling quorum: the node has quorum while the LIVE members
 * of its current view (those it sees ALIVE: not suspect, dead or left)
 * are more than half of the stable set. The first view's members are the
 * first stable set; it grows by the live members of any view that holds
 * such a majority (joiners), and shrinks only when a member LEFT
 * gracefully — never by failures: a crashed member counts (absent) until
 * it is live again or leaves. An N-member stable set tolerates
 * floor((N-1)/2) crashes; an even split has quorum on neither side.
 * Membership is compared by node id. Calling context: any one thread. */
struct weft_ctl_quorum {
	uint32_t cap;                /* most members of a view */
	struct weft_swim_id *stable; /* [2 * cap] the stable set, sorted */
	uint32_t n_stable;
	struct weft_swim_id *cur;    /* [cap] live members of the current
	                                view, sorted, no repeats */
	uint32_t n_cur;
	bool have_view;
	bool no_quorum;
	uint32_t last_present;       /* of the last evaluation (for logs): */
	uint32_t last_stable;        /* stable members present, of the stable
	                                set's size before it grew */
};

/* 0, -EINVAL (cap 0 or > UINT32_MAX / 2), -ENOMEM. */
int weft_ctl_quorum_init(struct weft_ctl_quorum *q, uint32_t cap);
void weft_ctl_quorum_fini(struct weft_ctl_quorum *q);
/* The current view (n ids, n <= cap, in any order; an id may repeat, e.g.
 * two lives) and live[i]: member i is ALIVE as this node sees it (the
 * caller counts itself live). Call on every publication of the view: a new
 * view and every member state change. Returns 1 when no_quorum changed,
 * 0 when not, -EINVAL (n 0 or > cap, ids or live NULL). */
int weft_ctl_quorum_view(struct weft_ctl_quorum *q, const struct weft_swim_id *ids,
			 const bool *live, uint32_t n);
/* Member id left gracefully (it is not live any more either). Returns 1
 * when no_quorum changed, else 0. */
int weft_ctl_quorum_left(struct weft_ctl_quorum *q, const struct weft_swim_id *id);
/* Members of the stable set live in the current view. */
uint32_t weft_ctl_quorum_present(const struct weft_ctl_quorum *q);

/* ---- REPLICATE messages (ctl_repl_msg.c, pure) --------------------------
 *
 * A batch is the payload of one REPLICATE request being built:
 * [name][struct weft_x_replicate][entries], each entry
 * [struct weft_repl_entry][key][value]. */

/* Target payload of one state-transfer message: ~32 KiB (23 datagrams). */
#define WEFT_CTL_REPL_TARGET (32u * 1024u)

struct weft_ctl_repl_batch {
	uint8_t *buf;
	size_t len, cap;
	uint32_t count;    /* entries */
	uint8_t name_len;
};

/* Starts a batch for cache `name` with its options (mode resolved).
 * Reuses b->buf. 0, -EINVAL (name 0 or > WEFT_MAX_NAME_LEN bytes), -ENOMEM. */
int weft_ctl_repl_begin(struct weft_ctl_repl_batch *b, const char *name, size_t name_len,
			const struct weft_x_cache_opts *opts);
/* Whether an entry of key_len + value_len bytes may be added: the batch is
 * empty, or stays within WEFT_CTL_REPL_TARGET; and the entry list stays
 * within WEFT_MAX_REPL_VALUE_LEN (so one entry of any size a cache holds
 * fits an empty batch). */
bool weft_ctl_repl_fits(const struct weft_ctl_repl_batch *b, size_t key_len, size_t value_len);
/* Appends a PUT entry (img: version, remaining TTL, max idle), or a DELETE
 * entry with img's version if img->deleted (a tombstone: value_len 0), and
 * updates the count in the extras. 0, -EINVAL (key_len 0 or > WEFT_MAX_KEY_LEN),
 * -E2BIG (the entry list would exceed WEFT_MAX_REPL_VALUE_LEN), -ENOMEM. */
int weft_ctl_repl_add(struct weft_ctl_repl_batch *b, const void *key, size_t key_len,
		      const struct weft_cache_image *img);
void weft_ctl_repl_free(struct weft_ctl_repl_batch *b);

/* Identity of a node-to-node request. */
struct weft_ctl_req_id {
	uint32_t client_id;
	uint64_t request_id;
	uint32_t epoch;
};

/* Datagrams a message of msg_len payload bytes needs (>= 1). */
size_t weft_ctl_dgram_count(size_t msg_len);
/* Writes datagram idx (< weft_ctl_dgram_count) of the REPLICATE request
 * whose payload is payload[0..msg_len) (name_len name bytes, then the
 * extras) into out (WEFT_MAX_DGRAM_LEN bytes): a header with WEFT_F_NODE,
 * frag_offset = idx * WEFT_MAX_DGRAM_PAYLOAD, then that slice, exactly as a
 * client splits a long request (docs/protocol.md, "Fragmentation").
 * Returns the datagram length. */
size_t weft_ctl_repl_dgram(const uint8_t *payload, size_t msg_len, uint8_t name_len,
			   const struct weft_ctl_req_id *rid, size_t idx, uint8_t *out);

/* Parses a REPLICATE response datagram: true when it is one (magic,
 * version, WEFT_F_RESPONSE, opcode REPLICATE, a single whole datagram),
 * filling *rid (client_id, request_id), *status and *ack (zeros when the
 * response carries no weft_x_repl_ack). */
bool weft_ctl_repl_parse_ack(const uint8_t *d, size_t len, struct weft_ctl_req_id *rid,
			     uint16_t *status, struct weft_x_repl_ack *ack);

/* ---- The drop rule (pure; ctl_rebalance.c and tests/sim/sim_xfer.c) -----
 *
 * What a node deletes after a transfer, and when. The simulator's data
 * layer follows these same functions, so both keep one rule.
 *
 * Which segments: every DISTRIBUTED segment this node does not own in its
 * current view cur — not only those it owned in an earlier view. A node can
 * hold entries of a segment it never owned: a replica applied by a new life
 * at the address a primary still replicates to (the write is acknowledged
 * with that copy), a transfer from a node that saw other views, a drop kept
 * back by a failed destination or an aborted job. Whatever it holds of such
 * a segment goes, on every view, to every owner of the segment in cur, and
 * is deleted only once all of them acked under that view (a new view aborts
 * the job and starts over; a destination given up keeps the segment here).
 *
 * When: an owner that acked may crash right after its ack; deleted at once,
 * the copy here would be gone while the failure detector has not noticed
 * that crash yet, and one more crash would lose the write. So the deletion
 * waits until every destination of the job has been ALIVE in this node's
 * membership table for WEFT_CTL_DROP_GRACE_MS after the last ack: long enough
 * for a crash to be suspected (a probe interval, its timeout and the
 * indirect probes, then the gossip), and a suspect or dead destination
 * restarts the wait. A crash that turns into a new view aborts the job
 * before the drop, and the next job sends the segment to the new owners. */

#define WEFT_CTL_DROP_GRACE_MS 2000u

/* True when `self` (an index in cur, or WEFT_CTL_PLAN_NONE) gives segment
 * seg of DISTRIBUTED caches away under cur: it is a member and not an owner
 * (every entry it holds of seg goes to the owners, then is deleted). */
static inline bool weft_ctl_gives_away(const struct weft_ctl_topo *cur, uint32_t self,
				       uint32_t seg)
{
	return self != WEFT_CTL_PLAN_NONE && seg < cur->n_segments &&
	       !weft_ctl_topo_owns(cur, WEFT_CTL_PLAN_DISTRIBUTED, seg, self);
}

/* The drop's due time, evaluated at now_ms: due_ms (set to the last ack +
 * WEFT_CTL_DROP_GRACE_MS when the transfer completed) while every
 * destination is ALIVE, else now_ms + WEFT_CTL_DROP_GRACE_MS (the wait starts
 * over). The caller deletes once now_ms >= the returned time. */
static inline uint64_t weft_ctl_drop_due(uint64_t due_ms, bool dests_alive, uint64_t now_ms)
{
	return dests_alive ? due_ms : now_ms + WEFT_CTL_DROP_GRACE_MS;
}

/* ---- The sender (ctl_rebalance.c, control thread) ----------------------- */

struct weft_ctl_rebalance;

/* Sends from dp's cluster channel the entries of reg's caches (both
 * borrowed: they must outlive it). switch_fn(switch_arg) is called during a
 * hand-off, once its first pass is acked: it must publish the view's table
 * without this node (so this node's lcores forward new writes to the
 * segments' next owners) and wait for a grace period (no lcore still writes
 * under the old table); the sender then sends, in a catch-up pass, the
 * entries written meanwhile. It is called from weft_ctl_rebalance_poll and
 * must not call back into the sender. NULL + errno (ENOMEM). */
struct weft_ctl_rebalance *weft_ctl_rebalance_create(struct weft_dp *dp,
						     struct weft_cache_registry *reg,
						     void (*switch_fn)(void *arg), void *switch_arg);
void weft_ctl_rebalance_destroy(struct weft_ctl_rebalance *rb);

/* A new snapshot that includes this node was published: t over snap's
 * members (both copied; snap gives where to reach each member — m[i].ip and
 * m[i].port, the data port that serves REPLICATE — and this node's index,
 * snap->self). The first call only records it (nothing to move yet). Later
 * calls abort any running job and plan the moves this node sends: those of
 * the last completed topology -> t and of the previous topology -> t.
 * 0, -EINVAL (t and snap disagree, or the segment count changed), -ENOMEM
 * (logged by the caller; no job runs, the next view plans again from the
 * last completed topology). */
int weft_ctl_rebalance_view(struct weft_ctl_rebalance *rb, const struct weft_ctl_topo *t,
			    const struct weft_dp_members *snap, uint64_t now_ms);

/* The snapshot of the current view was published again (member states or
 * addresses changed: a member's address may be unknown, 0, when its view
 * comes before its record). Takes the members' addresses from it. snap
 * must be of the view last given to weft_ctl_rebalance_view. */
void weft_ctl_rebalance_addresses(struct weft_ctl_rebalance *rb,
				  const struct weft_dp_members *snap);

/* Starts the graceful hand-off: the current view without this node is
 * computed (weft_swim_seg_compute), and every segment this node would take
 * away is pushed to its new owners, on top of any moves still due for the
 * current view. 0, -ENOTCONN (no view with this node yet), -ENOMEM. */
int weft_ctl_rebalance_handoff(struct weft_ctl_rebalance *rb, uint64_t now_ms);

/* A datagram on the cluster port that looks like a weft response (magic +
 * WEFT_F_RESPONSE): an ack of one of our REPLICATE messages, or dropped. */
void weft_ctl_rebalance_on_response(struct weft_ctl_rebalance *rb,
				    const struct weft_dp_datagram *dg, uint64_t now_ms);

/* Does a bounded amount of work (a few scan steps, sends up to the window,
 * retransmissions). Caller: a registered, online QSBR reader (it reads the
 * caches). Returns when it wants to run again (monotonic ms; UINT64_MAX when
 * idle). */
uint64_t weft_ctl_rebalance_poll(struct weft_ctl_rebalance *rb, uint64_t now_ms);

/* True when no transfer is running or waiting for acks. */
bool weft_ctl_rebalance_idle(const struct weft_ctl_rebalance *rb);

#endif /* WEFT_CONTROL_REBALANCE_INTERNAL_H */
