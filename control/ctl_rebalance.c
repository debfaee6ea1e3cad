/*
 * ctl_rebalance.c — state transfer on the control thread: the lifecycle of
 * a rebalancing job (ctl_sender_internal.h). On every published view it
 * plans, with the pure planner (ctl_plan.c), the moves this node sends;
 * ctl_rebalance_tx.c then scans the caches and sends them as REPLICATE
 * messages. On SIGTERM the hand-off adds the moves of "this view without
 * me" (weft_swim_seg_compute) so a graceful stop takes no data away.
 *
 * Which moves this node sends for a new view cur:
 *  - those of plan(prev -> cur), where prev is the view published before
 *    cur: the one plan every node of a stable cluster computes alike —
 *    the moves it names this node's, plus, for distributed caches, every
 *    move of a segment this node owned in prev (every surviving old owner
 *    sends: see plan_add);
 *  - those of plan(base -> cur), where base is the last view whose
 *    transfer this node completed: a view that arrives while a job runs
 *    restarts planning from there, so moves cut short are made again (to a
 *    node that got part of them already: REPLICATE is idempotent and
 *    versions order the entries, so a repeat is harmless);
 *  - the drop rule's (ctl_rebalance_internal.h): every distributed segment
 *    this node does not own in cur goes to each of its owners in cur,
 *    whatever this node owned before, so a copy it holds without having
 *    owned the segment (a stray replica, a drop kept back) reaches them;
 *    the drop then waits for the acks and the grace (weft_ctl_drop_due).
 *
 * A hand-off makes two passes (ctl_sender_internal.h): between them the
 * cluster stops owning (switch_fn), and the second pass sends only what
 * changed since the first.
 *
 * Invariants:
 *  - at most one job; a new view aborts it (its messages are freed, late
 *    acks match no request id and are dropped) and plans a new one;
 *  - base moves to cur only when a job ends with no destination failed;
 *  - entries are deleted only in the drop pass, only in DISTRIBUTED
 *    caches, only of segments this node does not own in cur (the drop rule,
 *    ctl_rebalance_internal.h: whatever it holds of them went to every
 *    owner in cur), none of whose moves failed; after every move of the job
 *    is acked and every destination stayed ALIVE for WEFT_CTL_DROP_GRACE_MS
 *    since (weft_ctl_drop_due); never while leaving.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "control.h"
#include "ctl_sender_internal.h"

/* ---- Topology copies -------------------------------------------------- */

static void topo_free(struct rb_topo *c)
{
	free(c->members);
	free(c->seg);
	free(c->ip);
	free(c->port);
	free(c->state);
	memset(c, 0, sizeof(*c));
}

/* Makes room for n members and s segment-owner entries. */
static int topo_reserve(struct rb_topo *c, uint32_t n, uint32_t s)
{
	if (n > c->cap_n) {
		struct weft_swim_view_member *mb = realloc(c->members, n * sizeof(*mb));
		if (mb)
			c->members = mb;
		uint32_t *ip = realloc(c->ip, n * sizeof(*ip));
		if (ip)
			c->ip = ip;
		uint16_t *port = realloc(c->port, n * sizeof(*port));
		if (port)
			c->port = port;
		uint8_t *state = realloc(c->state, n * sizeof(*state));
		if (state)
			c->state = state;
		if (!mb || !ip || !port || !state)
			return -ENOMEM;
		c->cap_n = n;
	}
	if (s > c->cap_seg) {
		uint16_t *seg = realloc(c->seg, s * sizeof(*seg));
		if (seg == NULL)
			return -ENOMEM;
		c->seg = seg;
		c->cap_seg = s;
	}
	return 0;
}

static int topo_copy(struct rb_topo *dst, const struct rb_topo *src)
{
	uint32_t n = src->t.n, s = src->t.n_segments * src->t.owners;

	if (topo_reserve(dst, n, s) != 0)
		return -ENOMEM;
	memcpy(dst->members, src->members, n * sizeof(*dst->members));
	memcpy(dst->seg, src->seg, s * sizeof(*dst->seg));
	memcpy(dst->ip, src->ip, n * sizeof(*dst->ip));
	memcpy(dst->port, src->port, n * sizeof(*dst->port));
	memcpy(dst->state, src->state, n * sizeof(*dst->state));
	dst->self = src->self;
	dst->t = src->t;
	dst->t.members = dst->members;
	dst->t.seg_owner = dst->seg;
	return 0;
}

static int topo_set(struct rb_topo *dst, const struct weft_ctl_topo *t,
		    const struct weft_dp_members *snap)
{
	uint32_t s = t->n_segments * t->owners;

	if (topo_reserve(dst, t->n, s) != 0)
		return -ENOMEM;
	memcpy(dst->members, t->members, t->n * sizeof(*dst->members));
	memcpy(dst->seg, t->seg_owner, s * sizeof(*dst->seg));
	for (uint32_t i = 0; i < t->n; i++) {
		dst->ip[i] = snap->m[i].ip;
		dst->port[i] = snap->m[i].port;
		dst->state[i] = snap->m[i].state;
	}
	dst->self = snap->self < t->n ? snap->self : WEFT_CTL_PLAN_NONE;
	dst->t = *t;
	dst->t.members = dst->members;
	dst->t.seg_owner = dst->seg;
	return 0;
}

/* Same view: same counter and the same members in the same order. */
static bool topo_same(const struct rb_topo *a, const struct rb_topo *b)
{
	return a->t.view == b->t.view && a->t.n == b->t.n &&
	       memcmp(a->members, b->members, a->t.n * sizeof(*a->members)) == 0;
}

/* next = cur without this node, segment table recomputed over it. */
static int topo_without_self(struct rb_topo *next, const struct rb_topo *cur)
{
	uint32_t n = cur->t.n - 1, s = cur->t.n_segments;
	int rc = topo_reserve(next, n, s * WEFT_DP_OWNERS_MAX);

	for (uint32_t i = 0, j = 0; rc == 0 && i < cur->t.n; i++) {
		if (i == cur->self)
			continue;
		next->members[j] = cur->members[i];
		next->ip[j] = cur->ip[i];
		next->port[j] = cur->port[i];
		next->state[j] = cur->state[i];
		j++;
	}
	struct weft_swim_seg_table st = {.owner = next->seg};
	if (rc == 0)
		rc = weft_swim_seg_compute(next->members, n, s, cur->t.owners, &st);
	if (rc < 0)
		return rc;
	next->self = WEFT_CTL_PLAN_NONE;
	next->t = (struct weft_ctl_topo){.view = cur->t.view, .n = n, .members = next->members,
					 .n_segments = s, .owners = st.owners,
					 .seg_owner = next->seg};
	return 0;
}

/* ---- Jobs -------------------------------------------------------------- */

static void job_clear(struct weft_ctl_rebalance *rb)
{
	rb_msgs_clear(rb);
	if (rb->dests)
		for (uint32_t i = 0; i < rb->cur.t.n; i++) {
			free(rb->dests[i].bits[0]);
			free(rb->dests[i].bits[1]);
		}
	free(rb->dests);
	free(rb->active_dests);
	free(rb->want[0]);
	free(rb->want[1]);
	rb->want[0] = rb->want[1] = NULL;
	free(rb->drop);
	free(rb->caches);
	rb->dests = NULL;
	rb->active_dests = NULL;
	rb->drop = NULL;
	rb->caches = NULL;
	rb->n_active = rb->n_caches = rb->cache_i = 0;
	rb->has_kind[0] = rb->has_kind[1] = false;
	rb->moves_total = rb->failures = 0;
	rb->active = rb->dropping = rb->scan_done = rb->any_drop = rb->catchup = false;
	rb->drop_wait = false;
	rb_sent_free(&rb->sent);
	rb->job_entries = rb->job_bytes = rb->too_large = 0;
	rb->cache = NULL;
	rb->cursor = 0;
}

/* Records move (seg, kind) to cur member `to` (an index in cur); counted:
 * in the progress figures (moves, moves_total). */
static int add_move(struct weft_ctl_rebalance *rb, enum weft_ctl_plan_kind kind, uint32_t seg,
		    uint32_t to, bool counted)
{
	struct rb_dest *d = &rb->dests[to];

	if (to == rb->cur.self)
		return 0;
	if (d->bits[kind] == NULL) {
		d->bits[kind] = calloc((rb->cur.t.n_segments + 7) / 8, 1);
		if (d->bits[kind] == NULL)
			return -ENOMEM;
	}
	if (rb->want[kind] == NULL) {
		rb->want[kind] = calloc((rb->cur.t.n_segments + 7) / 8, 1);
		if (rb->want[kind] == NULL)
			return -ENOMEM;
	}
	rb->want[kind][seg / 8] |= (uint8_t)(1u << (seg % 8));
	if (d->bits[kind][seg / 8] & (1u << (seg % 8)))
		return 0; /* planned by the other plan too */
	d->bits[kind][seg / 8] |= (uint8_t)(1u << (seg % 8));
	if (!d->in_job) {
		d->in_job = true;
		rb->active_dests[rb->n_active++] = to;
		d->ip = rb->cur.ip[to];
		d->port = rb->cur.port[to];
		d->heard_ms = rb->now;
	}
	if (counted) {
		d->moves++;
		rb->moves_total++;
	}
	return 0;
}

/* Adds this node's moves of plan(from -> cur) (hand-off: cur -> next, whose
 * indices map to cur's by skipping self). */
static int plan_add(struct weft_ctl_rebalance *rb, const struct rb_topo *from,
		    const struct rb_topo *to, bool handoff, struct weft_ctl_move *mv)
{
	struct weft_ctl_plan p;
	int rc = weft_ctl_plan_init(&p, &from->t, &to->t);

	if (rc < 0 || from->self == WEFT_CTL_PLAN_NONE)
		return rc < 0 ? rc : 0;
	for (int kind = 0; rc >= 0 && kind < 2; kind++) {
		if (!rb->has_kind[kind])
			continue; /* no cache of that kind: nothing to move */
		for (uint32_t s = 0; rc >= 0 && s < to->t.n_segments; s++) {
			rc = handoff ? weft_ctl_plan_handoff(&p, kind, s, from->self, mv, to->t.n)
				     : weft_ctl_plan_segment(&p, kind, s, mv, to->t.n);
			/* Every surviving old owner of a distributed segment sends
			 * it, not only the planner's designated sender: a node
			 * that gives a segment away drops it once its own moves
			 * are acked, and nodes that saw different views plan
			 * differently; versions make the copies harmless. */
			bool held = !handoff && kind == WEFT_CTL_PLAN_DISTRIBUTED &&
				    weft_ctl_topo_owns(&from->t, kind, s, from->self);
			for (int k = 0; k < rc; k++) {
				if (mv[k].from != from->self && !held)
					continue;
				uint32_t t = mv[k].to;
				if (handoff && t >= rb->cur.self)
					t++; /* next skips self */
				if (add_move(rb, kind, s, t, true) < 0) {
					rc = -ENOMEM;
					break;
				}
			}
		}
	}
	weft_ctl_plan_fini(&p);
	return rc < 0 ? rc : 0;
}

static bool owned_in(const struct rb_topo *t, uint32_t seg)
{
	return t->t.n && t->self != WEFT_CTL_PLAN_NONE &&
	       weft_ctl_topo_owns(&t->t, WEFT_CTL_PLAN_DISTRIBUTED, seg, t->self);
}

/* Segments given away (DISTRIBUTED, the drop rule: weft_ctl_gives_away):
 * every one this node does not own in cur, whether or not it owned it
 * before (it may hold a stray copy). Each goes to every owner it has in cur,
 * not only to its newcomers: an owner the view still lists may have crashed
 * unnoticed (or be a new life that never held it), and the segment is
 * dropped here only once every one of them acked it and stayed ALIVE for
 * the grace (a destination given up keeps it here: ctl_rebalance_tx.c).
 * Only those owned in base or prev count in the progress figures. */
static int mark_drops(struct weft_ctl_rebalance *rb)
{
	if (rb->cur.self == WEFT_CTL_PLAN_NONE || !rb->has_kind[WEFT_CTL_PLAN_DISTRIBUTED])
		return 0;
	const struct weft_ctl_topo *c = &rb->cur.t;
	for (uint32_t s = 0; s < c->n_segments; s++) {
		if (!weft_ctl_gives_away(c, rb->cur.self, s))
			continue;
		bool counted = owned_in(&rb->base, s) || owned_in(&rb->prev, s);
		rb->drop[s] = 1;
		rb->any_drop = true;
		for (uint32_t k = 0; k < c->owners; k++)
			if (add_move(rb, WEFT_CTL_PLAN_DISTRIBUTED, s,
				     c->seg_owner[(size_t)s * c->owners + k], counted) < 0)
				return -ENOMEM;
	}
	return 0;
}

/* Every destination of the job that a drop waits for (not given up) is
 * ALIVE in the published snapshot. */
static bool dests_alive(const struct weft_ctl_rebalance *rb)
{
	for (uint32_t i = 0; i < rb->n_active; i++) {
		uint32_t d = rb->active_dests[i];
		if (!rb->dests[d].failed && rb->cur.state[d] != WEFT_DP_MEMBER_ALIVE)
			return false;
	}
	return true;
}

static void publish_progress(struct weft_ctl_rebalance *rb)
{
	uint32_t pending = 0;

	for (uint32_t i = 0; i < rb->n_active; i++) {
		const struct rb_dest *d = &rb->dests[rb->active_dests[i]];
		if (!d->complete && !d->failed)
			pending += d->moves;
	}
	rb->pub.view = rb->cur.t.view;
	rb->pub.moves_pending = rb->active ? pending : 0;
	rb->pub.handoff = rb->leaving;
	weft_dp_rebalance_publish(rb->dp, &rb->pub);
	rb->pub_dirty = false;
}

/* Plans and starts a job for cur (and the hand-off when leaving). */
static int job_start(struct weft_ctl_rebalance *rb, uint64_t now)
{
	uint32_t n = rb->cur.t.n;
	struct weft_ctl_move *mv = NULL;
	int rc = -ENOMEM;

	job_clear(rb);
	rb->now = now;
	rb->pub.moves_done = 0;
	rb->dests = calloc(n, sizeof(*rb->dests));
	rb->active_dests = calloc(n, sizeof(*rb->active_dests));
	rb->drop = calloc(rb->cur.t.n_segments, 1);
	mv = calloc(n, sizeof(*mv));
	if (!rb->dests || !rb->active_dests || !rb->drop || !mv)
		goto out;
	rb->seg_log2 = (uint32_t)__builtin_ctz(rb->cur.t.n_segments);
	rc = rb_caches_collect(rb);
	if (rc == 0 && !topo_same(&rb->base, &rb->cur)) {
		rc = plan_add(rb, &rb->base, &rb->cur, false, mv);
		if (rc == 0 && rb->prev.t.n && !topo_same(&rb->prev, &rb->base))
			rc = plan_add(rb, &rb->prev, &rb->cur, false, mv);
	}
	if (rc == 0 && rb->leaving && rb->cur.t.n > 1) {
		rc = topo_without_self(&rb->next, &rb->cur);
		if (rc == 0)
			rc = plan_add(rb, &rb->cur, &rb->next, true, mv);
	}
	if (rc == 0 && !rb->leaving)
		rc = mark_drops(rb);
	if (rc < 0)
		goto out;
	rb->active = true;
	rb->started_ms = now;
	rb->blocked_until = 0;
	if (rb->moves_total > 0)
		weft_ctl_log(WEFT_LOG_INFO, "%s for view %" PRIu64 ": %u segment moves to %u node(s)",
			     rb->leaving ? "hand-off" : "rebalance", rb->cur.t.view, rb->moves_total,
			     rb->n_active);
	rb->scan_done = rb->n_active == 0;
	rb->pub_dirty = true;
out:
	free(mv);
	if (rc < 0)
		job_clear(rb);
	return rc;
}

/* The transfer is complete (every message acked or its destination given
 * up): log, then wait to drop the segments given away (the grace of the
 * drop rule), or finish. */
static void job_transfer_done(struct weft_ctl_rebalance *rb, uint64_t now)
{
	uint64_t ms = now - rb->started_ms;

	if (rb->moves_total > 0) {
		weft_ctl_log(rb->failures ? WEFT_LOG_WARN : WEFT_LOG_INFO,
			     "%s for view %" PRIu64 ": %u segment moves to %u node(s) done in %" PRIu64
			     " ms, %" PRIu64 " entries, %" PRIu64 " bytes%s",
			     rb->leaving ? "hand-off" : "rebalance", rb->cur.t.view, rb->moves_total,
			     rb->n_active, ms, rb->job_entries, rb->job_bytes,
			     rb->failures ? " (some destinations failed: see above)" : "");
		if (rb->too_large)
			weft_ctl_log(WEFT_LOG_WARN,
				     "rebalance: %" PRIu64 " entries too large for one REPLICATE "
				     "message were not moved", rb->too_large);
		rb->pub.last_duration_ms = ms;
	}
	if (rb->failures == 0 && topo_copy(&rb->base, &rb->cur) != 0)
		weft_ctl_log(WEFT_LOG_WARN, "rebalance: out of memory keeping the view");
	if (rb->any_drop && !rb->leaving && rb->n_caches > 0) {
		rb->drop_wait = true;
		rb->drop_due_ms = now + WEFT_CTL_DROP_GRACE_MS;
		return;
	}
	job_clear(rb);
}

/* Waiting to drop: starts the drop pass once due. Returns when to run
 * again: every RB_DROP_CHECK_MS meanwhile, so that a destination suspect
 * for a moment (a suspicion refuted) starts the wait over too. */
static uint64_t drop_wait_poll(struct weft_ctl_rebalance *rb, uint64_t now)
{
	rb->drop_due_ms = weft_ctl_drop_due(rb->drop_due_ms, dests_alive(rb), now);
	if (now < rb->drop_due_ms)
		return rb->drop_due_ms < now + RB_DROP_CHECK_MS ? rb->drop_due_ms
								 : now + RB_DROP_CHECK_MS;
	rb->drop_wait = false;
	rb->dropping = true;
	rb->cache_i = 0;
	rb->cache = NULL;
	rb->cursor = 0;
	rb->scan_done = false;
	return now;
}

/* ---- Public ----------------------------------------------------------- */

struct weft_ctl_rebalance *weft_ctl_rebalance_create(struct weft_dp *dp,
						     struct weft_cache_registry *reg,
						     void (*switch_fn)(void *arg), void *switch_arg)
{
	struct weft_ctl_rebalance *rb = calloc(1, sizeof(*rb));

	if (rb == NULL)
		return NULL;
	rb->dp = dp;
	rb->reg = reg;
	rb->switch_fn = switch_fn;
	rb->switch_arg = switch_arg;
	if (getrandom(&rb->client_id, sizeof(rb->client_id), 0) != (ssize_t)sizeof(rb->client_id))
		rb->client_id = (uint32_t)(uintptr_t)rb ^ (uint32_t)weft_dp_now_ms(dp);
	rb->next_request_id = 1;
	return rb;
}

void weft_ctl_rebalance_destroy(struct weft_ctl_rebalance *rb)
{
	if (rb == NULL)
		return;
	job_clear(rb);
	topo_free(&rb->base);
	topo_free(&rb->prev);
	topo_free(&rb->cur);
	topo_free(&rb->next);
	free(rb);
}

int weft_ctl_rebalance_view(struct weft_ctl_rebalance *rb, const struct weft_ctl_topo *t,
			    const struct weft_dp_members *snap, uint64_t now_ms)
{
	if (t == NULL || snap == NULL || t->n != snap->n || t->n == 0)
		return -EINVAL;
	if (rb->have_view && t->n_segments != rb->cur.t.n_segments)
		return -EINVAL;
	if (!rb->have_view) {
		int rc = topo_set(&rb->cur, t, snap);
		if (rc == 0)
			rc = topo_copy(&rb->base, &rb->cur);
		rb->have_view = rc == 0;
		return rc;
	}
	job_clear(rb); /* before cur changes: dests are sized by it */
	if (topo_copy(&rb->prev, &rb->cur) != 0 || topo_set(&rb->cur, t, snap) != 0)
		return -ENOMEM;
	return job_start(rb, now_ms);
}

void weft_ctl_rebalance_addresses(struct weft_ctl_rebalance *rb,
				  const struct weft_dp_members *snap)
{
	if (!rb->have_view || snap->n != rb->cur.t.n)
		return;
	for (uint32_t i = 0; i < snap->n; i++) {
		rb->cur.ip[i] = snap->m[i].ip;
		rb->cur.port[i] = snap->m[i].port;
		rb->cur.state[i] = snap->m[i].state;
		if (rb->dests && rb->dests[i].in_job) {
			rb->dests[i].ip = snap->m[i].ip;
			rb->dests[i].port = snap->m[i].port;
		}
	}
}

int weft_ctl_rebalance_handoff(struct weft_ctl_rebalance *rb, uint64_t now_ms)
{
	if (!rb->have_view || rb->cur.self == WEFT_CTL_PLAN_NONE)
		return -ENOTCONN;
	rb->leaving = true;
	int rc = job_start(rb, now_ms);
	if (rc < 0)
		rb->leaving = false;
	return rc;
}

bool weft_ctl_rebalance_idle(const struct weft_ctl_rebalance *rb)
{
	return !rb->active;
}

uint64_t weft_ctl_rebalance_poll(struct weft_ctl_rebalance *rb, uint64_t now_ms)
{
	uint64_t next = UINT64_MAX;

	rb->now = now_ms;
	if (rb->active && rb->drop_wait) {
		next = drop_wait_poll(rb, now_ms);
	} else if (rb->active && !rb->dropping) {
		if (!rb->scan_done && rb->n_queued + rb->n_inflight < RB_MAX_BUFFERED)
			rb->scan_done = rb_scan_step(rb);
		next = rb_tx(rb);
		if (!rb->scan_done && rb->n_queued + rb->n_inflight < RB_MAX_BUFFERED)
			next = now_ms;
		bool all = rb->scan_done;
		for (uint32_t i = 0; all && i < rb->n_active; i++) {
			const struct rb_dest *d = &rb->dests[rb->active_dests[i]];
			all = d->failed || d->outstanding == 0;
		}
		if (all && rb->leaving && !rb->catchup && rb->moves_total > 0) {
			/* Hand-off, first pass acked: stop owning (new writes go
			 * to the next owners), then send what changed meanwhile. */
			rb->switch_fn(rb->switch_arg);
			rb->catchup = true;
			rb->scan_done = false;
			rb->cache_i = 0;
			rb->cache = NULL;
			rb->cursor = 0;
			return now_ms;
		}
		if (all) {
			for (uint32_t i = 0; i < rb->n_active; i++) {
				struct rb_dest *d = &rb->dests[rb->active_dests[i]];
				if (!d->failed) {
					d->complete = true;
					rb->pub.moves_done += d->moves;
				}
			}
			job_transfer_done(rb, now_ms);
			rb->pub_dirty = true;
			next = rb->active ? now_ms : UINT64_MAX;
		}
	} else if (rb->active) {
		if (rb_scan_step(rb))
			job_clear(rb);
		next = rb->active ? now_ms : UINT64_MAX;
	}
	if (rb->pub_dirty)
		publish_progress(rb);
	return next;
}
