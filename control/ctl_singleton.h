/*
 * ctl_singleton.h — singleton placement (issue 6): which node runs each
 * singleton daemon or job "<app>/<name>", as a pure (sans-I/O) state machine
 * per node. Internal to control/ (the glue in weftd and the simulator drive
 * it); docs/jobs.md "## Singletons" is the operator's view.
 *
 * The cluster-wide record is a CLAIM in a replicated cache, one key per
 * singleton ("<app>/<name>"), written only by compare-and-swap on the key's
 * version (the glue does the I/O; a missing key has version 0 and versions
 * grow with every write). A claim is HELD (owner, fencing epoch, since) or
 * RELEASED (keeps the last owner and epoch, so epochs keep growing after a
 * release). Each node knows only the singletons it hosts (app deployed).
 *
 * Rules (this machine, per hosted singleton):
 *  1. No move back: while the claim's owner is a live member (ALIVE or
 *     SUSPECT) of this node's view, nobody else claims. Nor does a node
 *     whose run was just taken over claim it back from the taker until its
 *     next view input (when views disagree, e.g. a partition in allow mode
 *     with the store reachable from both sides, ownership does not flap).
 *  2. When the claim is absent or RELEASED, or its owner is not live
 *     (DEAD, LEFT or not in the view), this node claims it after
 *     rank * step_ms, rank = its position among the view's live members
 *     ordered by rendezvous score XXH3(name || member id), highest first
 *     (ties: smaller id first). A failed CAS re-reads and decides again.
 *  3. START only right after this node's own CAS succeeded. A HELD claim
 *     naming this node that this life did not start (control restart, or
 *     quorum came back after a stop) is never resumed as is: the node
 *     re-claims it at once by CAS with a new epoch, so every run has its
 *     own fencing epoch. STOP when a read claim differs from the one the
 *     run started on (another owner, or a newer epoch), on undeploy and on
 *     shutdown (both then RELEASE, once the glue reports the daemon
 *     stopped), and when the view has no quorum (no release: the majority
 *     takes over once it sees this node gone). Without quorum, or before
 *     the first view, or while this node is not live in its own view,
 *     nothing is claimed.
 *  4. Fencing: a claim's epoch is max(view id, previous epoch + 1), the
 *     previous claim being the value the CAS replaces: epochs strictly grow
 *     along the key's history, so one (name, epoch) is run by one node.
 *  5. Every-node daemons are not singletons: the glue never hosts them here.
 * Every node re-reads each hosted claim every poll_ms (a running owner
 * notices a takeover; idle nodes notice a release); the glue may also push
 * claim values from a cache listener at any time (claim_changed).
 *
 * Invariants: at most one store operation (READ, CAS, RELEASE) in flight
 * per singleton; START is emitted only by a successful CAS outcome and
 * only while not running; RELEASE only when not running (STOP acknowledged
 * by weft_ctl_singletons_stopped) and the claim read is this node's; an
 * undeployed singleton is forgotten once its claim is not this node's.
 *
 * Calling context: one thread owns an instance (weftd: the control thread);
 * no locks, no clock, no I/O. Every input call fills `out` (out->n actions,
 * which the glue performs in order, and out->next_ms: call
 * weft_ctl_singletons_tick at or after it; UINT64_MAX for none); out->cap
 * must be at least weft_ctl_singletons_out_min(). t.mono_ms must never go
 * backwards; t.unix_ms only stamps claims ("since").
 */
#ifndef WEFT_CTL_SINGLETON_H
#define WEFT_CTL_SINGLETON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "membership.h"

#define WEFT_CTL_SGL_NAME_MAX 128u     /* "<app>/<name>", bytes without NUL */
#define WEFT_CTL_SGL_STEP_MS 250u      /* default rank delay step */
#define WEFT_CTL_SGL_POLL_MS 1000u     /* default claim re-read period */
#define WEFT_CTL_SGL_CLAIM_BYTES 33u   /* encoded claim value */

enum weft_ctl_sgl_kind {
	WEFT_CTL_SGL_ABSENT = 0,   /* no key (version 0) */
	WEFT_CTL_SGL_HELD = 1,
	WEFT_CTL_SGL_RELEASED = 2,
};

/* A claim as stored (version: the key's version as read; 0 when absent). */
struct weft_ctl_sgl_claim {
	enum weft_ctl_sgl_kind kind;
	struct weft_swim_id owner;
	uint64_t epoch;    /* fencing token */
	uint64_t since_ms; /* unix ms of the write */
	uint64_t version;
};

/* Claim values in the cache: kind (1 byte), owner (16), epoch and since
 * (8 each, little-endian). Encode writes WEFT_CTL_SGL_CLAIM_BYTES (version
 * is not encoded). Decode: 0, or -EINVAL for a wrong length or kind
 * (ABSENT is never stored). */
void weft_ctl_singletons_encode(const struct weft_ctl_sgl_claim *c,
				uint8_t buf[WEFT_CTL_SGL_CLAIM_BYTES]);
int weft_ctl_singletons_decode(const uint8_t *buf, size_t len, uint64_t version,
			       struct weft_ctl_sgl_claim *c);

struct weft_ctl_sgl_member {
	struct weft_swim_id id;
	enum weft_swim_state state;
};

/* This node's current view: id (counter), members, and the quorum flag of
 * --partition-handling quorum (false in allow mode). */
struct weft_ctl_sgl_view {
	uint64_t id;
	const struct weft_ctl_sgl_member *members;
	uint32_t n;
	bool no_quorum;
};

struct weft_ctl_sgl_time {
	uint64_t mono_ms;
	uint64_t unix_ms;
};

enum weft_ctl_sgl_act_kind {
	WEFT_CTL_SGL_READ,    /* read the claim; answer weft_ctl_singletons_claim
				 (or cas_done(ok=false) if the read failed) */
	WEFT_CTL_SGL_CAS,     /* write value if version == expected; answer
				 weft_ctl_singletons_cas_done */
	WEFT_CTL_SGL_RELEASE, /* CAS to value (RELEASED); answer cas_done */
	WEFT_CTL_SGL_START,   /* start the daemon with fencing token epoch */
	WEFT_CTL_SGL_STOP,    /* stop it; answer weft_ctl_singletons_stopped */
};

struct weft_ctl_sgl_action {
	enum weft_ctl_sgl_act_kind kind;
	char name[WEFT_CTL_SGL_NAME_MAX + 1];
	uint64_t expected;               /* CAS, RELEASE */
	struct weft_ctl_sgl_claim value; /* CAS, RELEASE: to write; START: the claim */
	uint64_t epoch;                  /* START */
};

struct weft_ctl_sgl_out {
	struct weft_ctl_sgl_action *act; /* caller's array of cap entries */
	uint32_t cap;
	uint32_t n;
	uint64_t next_ms;
};

struct weft_ctl_sgl_config {
	struct weft_swim_id self;
	uint32_t max_singletons; /* hosted at once, >= 1 */
	uint32_t max_members;    /* largest view, >= 1 */
	uint64_t step_ms;        /* rank delay step; 0 = WEFT_CTL_SGL_STEP_MS */
	uint64_t poll_ms;        /* re-read period; 0 = WEFT_CTL_SGL_POLL_MS */
};

enum weft_ctl_sgl_state {
	WEFT_CTL_SGL_IDLE,     /* another node runs it, or nobody may yet */
	WEFT_CTL_SGL_CLAIMING, /* waiting for its rank delay or its CAS */
	WEFT_CTL_SGL_RUNNING,
	WEFT_CTL_SGL_STOPPING, /* STOP sent, or releasing the claim */
};

/* Operator status of one hosted singleton on this node. */
struct weft_ctl_sgl_status {
	char name[WEFT_CTL_SGL_NAME_MAX + 1];
	enum weft_ctl_sgl_state state;
	struct weft_ctl_sgl_claim claim; /* last read (kind ABSENT if unknown) */
	uint64_t epoch;                  /* of this node's run (RUNNING/STOPPING) */
	uint64_t since_ms;               /* unix ms the run's claim was made */
};

struct weft_ctl_sgl;

/* NULL + errno (EINVAL, ENOMEM). */
struct weft_ctl_sgl *weft_ctl_singletons_create(const struct weft_ctl_sgl_config *cfg);
void weft_ctl_singletons_destroy(struct weft_ctl_sgl *s);
/* Smallest out->cap every input call accepts (2 per hosted singleton). */
uint32_t weft_ctl_singletons_out_min(const struct weft_ctl_sgl *s);

/* Every input returns 0 or a negative errno: -EINVAL (bad argument, or an
 * answer nobody asked for: no such singleton or operation), -ENOBUFS
 * (out->cap too small), -ENOSPC/-EEXIST/-E2BIG as said; on error the state
 * is unchanged and out->n is 0. */

/* The app hosting name was deployed: -EEXIST (already hosted), -ENOSPC.
 * Hosting again a name being undeployed cancels the undeploy. */
int weft_ctl_singletons_host(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
			     const char *name, struct weft_ctl_sgl_out *out);
/* Undeployed: stops it, releases the claim if this node's, then forgets. */
int weft_ctl_singletons_unhost(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
			       const char *name, struct weft_ctl_sgl_out *out);
/* A new view or member state change. -E2BIG (more than max_members). */
int weft_ctl_singletons_view(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
			     const struct weft_ctl_sgl_view *v, struct weft_ctl_sgl_out *out);
/* The answer to READ (-EINVAL when no READ is in flight). A value older
 * (lower version) than the one known is stale and ignored; the glue must
 * never delete or expire a claim key, so its versions only grow. */
int weft_ctl_singletons_claim(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
			      const char *name, const struct weft_ctl_sgl_claim *c,
			      struct weft_ctl_sgl_out *out);
/* A claim value pushed by a cache listener, at any time: adopted when newer
 * than the one known and no write is in flight. Optional (polling every
 * poll_ms notices changes too); it only makes takeovers faster. */
int weft_ctl_singletons_claim_changed(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
				      const char *name, const struct weft_ctl_sgl_claim *c,
				      struct weft_ctl_sgl_out *out);
/* Outcome of the CAS/RELEASE in flight (new_version when ok), or of a READ
 * that failed (ok false). A failed or timed-out write may have happened:
 * the machine re-reads before deciding. */
int weft_ctl_singletons_cas_done(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
				 const char *name, bool ok, uint64_t new_version,
				 struct weft_ctl_sgl_out *out);
/* The daemon's stop returned (answer to STOP). -EINVAL if not stopping. */
int weft_ctl_singletons_stopped(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
				const char *name, struct weft_ctl_sgl_out *out);
int weft_ctl_singletons_tick(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
			     struct weft_ctl_sgl_out *out);
/* Graceful stop: stops and releases everything; claims nothing after. */
int weft_ctl_singletons_shutdown(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
				 struct weft_ctl_sgl_out *out);
/* True when nothing runs, no operation is in flight and no claim read is
 * this node's (after shutdown: everything was released). */
bool weft_ctl_singletons_quiet(const struct weft_ctl_sgl *s);

/* Status: hosted singletons in slot order; i from 0 while it returns 0
 * (-ENOENT past the last). */
int weft_ctl_singletons_status(const struct weft_ctl_sgl *s, uint32_t i,
			       struct weft_ctl_sgl_status *st);

#endif /* WEFT_CTL_SINGLETON_H */
