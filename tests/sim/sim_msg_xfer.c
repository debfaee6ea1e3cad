/*
 * sim_msg_xfer.c — state transfer of the messaging layer (--msg), with the
 * rule of dataplane/dp_msg_tick.c: on each view change a node runs, for
 * every destination its registry holds, view_dest():
 *
 *  - the destination's owners in the new view whose address is known and
 *    that were not owners at the previous view change — that very life:
 *    weftd compares address and start time, a restarted node is empty —
 *    get its whole state (weft_dest_snapshot, as MSG_REPL batches of
 *    SIM_MREC_BATCH records, SIM_MXFER_WINDOW in flight per target);
 *  - a node that is no longer an owner sends it to every new owner (it
 *    cannot know what they hold: views differ) and clears its copy
 *    (weft_dest_clear) only once the transfer was acked by every owner of
 *    the view it holds then, each by the life that view names — not when a
 *    send failed, an owner's address is unknown, an owner restarted or
 *    joined since the transfer started, or its role is no longer
 *    subscriber by then;
 *  - retries while the view stands (every SIM_MXFER_RETRY_MS): an owner
 *    sends to each owner it has not reached (address unknown at the view
 *    change, no transfer slot, a failed send: SIM_NONE in the owners
 *    remembered), and a node holding a copy it does not own sends it to
 *    every owner once all their addresses are known;
 *  - a destination that held no log (subscriber role, depth 0) moves
 *    nothing, and neither does a node without a table (alone).
 *
 * The owners remembered per destination are those of the view handled
 * last; a destination created since has none remembered (every other
 * owner is a target). Invariants: at most SIM_MXFERS transfers per node
 * (more wait for the next view change, as in weftd); a transfer's slots
 * carry (index, target, generation), so a late answer to a finished one
 * matches nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_msg.h"


static bool owners_has(const struct sim_mowners *o, uint32_t node)
{
	for (uint32_t i = 0; o && o->used && i < o->n; i++)
		if (o->node[i] == node)
			return true;
	return false;
}

/* That very life of the node (restarted since: empty, a new owner). */
static bool owners_has_life(const struct sim_mowners *o, uint32_t node, uint64_t life)
{
	for (uint32_t i = 0; o && o->used && i < o->n; i++)
		if (o->node[i] == node && o->life[i] == life)
			return true;
	return false;
}

enum weft_dest_role sim_mrole_in(struct sim *s, uint32_t node, uint32_t dest)
{
	uint32_t own[SIM_MOWNERS], n;
	struct sim_mowners o = { .used = true };

	if (sim_mis_primary(s, node, dest))
		return WEFT_ROLE_PRIMARY;
	n = sim_mowners_of(s, node, dest, own);
	o.n = n;
	memcpy(o.node, own, n * sizeof(own[0]));
	return owners_has(&o, node) ? WEFT_ROLE_BACKUP : WEFT_ROLE_SUBSCRIBER;
}

/* Drops node's copy of d once every new owner acked its transfer. */
static void sim_mclear(struct sim *s, uint32_t node, struct weft_dest *d)
{
	struct sim_mcoll c = { 0 };
	struct sim_msink k = { s, node, &c };
	struct weft_msg_sink sink = sim_msink_make(&k);

	weft_dest_lock(d);
	weft_dest_clear(d, &sink);
	weft_dest_unlock(d);
	sim_mflush(s, node, &c, SIM_NONE);
	sim_mcoll_free(&c);
	sim_mtrace(s, node, SIM_MT_CLEAR, sim_mdest_index(d), 0);
	sim_mcheck_recount(s, "a clear after state transfer", node);
}

static void xfer_free(struct sim_mxfer *x)
{
	for (uint32_t k = 0; k < x->n_msgs; k++)
		free(x->msgs[k]);
	free(x->msgs);
	memset(x, 0, sizeof(*x));
}

/* Whether every owner in node's current view (but node) acked x, each as
 * the life the view names (dp_msg_tick.c xfer_covers). */
static bool xfer_covers(struct sim *s, uint32_t node, const struct sim_mxfer *x)
{
	uint32_t own[SIM_MOWNERS];
	uint64_t life[SIM_MOWNERS];
	uint32_t n = sim_mowners_lives(s, node, x->dest, own, life);

	if (!n)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		bool acked = false;

		if (own[i] == node)
			continue;
		for (uint32_t k = 0; k < x->n_targets && !acked; k++)
			acked = x->to[k] == own[i] && x->life[k] == life[i];
		if (own[i] == SIM_NONE || !acked)
			return false;
	}
	return true;
}

static void xfer_finish(struct sim *s, uint32_t node, struct sim_mxfer *x)
{
	struct sim_mnode *mn = &s->msgl->n[node];

	sim_mtrace(s, node, SIM_MT_XFER_DONE, x->dest, x->failed);
	if (x->failed && !x->drop_after) {
		struct sim_mowners *o = &mn->owners[x->dest];

		for (uint32_t i = 0; o->used && i < o->n; i++)
			for (uint32_t k = 0; k < x->n_targets; k++)
				if (o->node[i] == x->to[k])
					o->node[i] = SIM_NONE;
		mn->xretry = true;
	}
	struct weft_dest *d = x->drop_after ? sim_mdest(s, node, x->dest) : NULL;
	bool fresh = false;

	if (d) {     /* nothing applied since the snapshot (a late MSG_REPL) */
		struct weft_dest_stats st;

		weft_dest_lock(d);
		weft_dest_get_stats(d, &st);
		weft_dest_unlock(d);
		fresh = st.appends_applied == x->appends_at_snap;
	}
	if (x->drop_after && (x->failed || !fresh || !xfer_covers(s, node, x)))
		mn->xretry = true;
	else if (x->drop_after && sim_mrole_in(s, node, x->dest) == WEFT_ROLE_SUBSCRIBER) {
		if (d)
			sim_mclear(s, node, d);
	}
	xfer_free(x);
}

static void xfer_pump(struct sim *s, uint32_t node, uint32_t xi)
{
	struct sim_mxfer *x = &s->msgl->n[node].xfer[xi];
	bool busy = false;

	for (uint32_t t = 0; t < x->n_targets; t++) {
		while (!x->failed && x->next[t] < x->n_msgs && x->inflight[t] < SIM_MXFER_WINDOW) {
			if (sim_mrpc(s, node, x->to[t], x->msgs[x->next[t]], SIM_MS_NOTIFY,
				     SIM_MN_XFER, 0, xi | t << 8 | (uint32_t)x->gen << 16) != 0) {
				x->failed = true;
				break;
			}
			x->next[t]++;
			x->inflight[t]++;
		}
		busy |= x->inflight[t] > 0;
	}
	if (!busy)
		xfer_finish(s, node, x);
}

struct snap {
	struct sim *s;
	struct sim_mcoll c;
};

static void snap_fn(void *ctx, const char *sub, size_t sub_len, uint8_t kind,
		    const struct weft_msg *m, uint64_t id)
{
	struct snap *a = ctx;
	struct sim_mrec r = { .kind = kind, .id = m ? m->id : id,
			      .expires = m ? m->expires_ms : 0, .p = m ? sim_mpub_of(m) : 0 };

	(void)sub;
	if (sub_len) {
		sim_fail(a->s, "a durable subscription in a snapshot (not modelled)");
		return;
	}
	sim_mcoll_add(&a->c, 0, &r);
}

static bool xfer_start(struct sim *s, uint32_t node, uint32_t dest, struct weft_dest *d,
		       const uint32_t *to, const uint64_t *life, uint32_t n_to, bool drop_after)
{
	struct sim_mnode *mn = &s->msgl->n[node];
	struct snap a = { .s = s };
	uint32_t xi = 0;

	while (xi < SIM_MXFERS && mn->xfer[xi].used)
		xi++;
	if (xi == SIM_MXFERS) {
		mn->xretry = true;   /* the retry pass tries again */
		return false;
	}
	struct sim_mxfer *x = &mn->xfer[xi];

	memset(x, 0, sizeof(*x));
	x->used = true;
	x->gen = ++mn->xgen;
	x->drop_after = drop_after;
	x->dest = dest;
	x->n_targets = n_to;
	memcpy(x->to, to, n_to * sizeof(*to));
	memcpy(x->life, life, n_to * sizeof(*life));
	struct weft_dest_stats st;

	weft_dest_lock(d);
	weft_dest_snapshot(d, snap_fn, &a);
	weft_dest_get_stats(d, &st);
	weft_dest_unlock(d);
	x->appends_at_snap = st.appends_applied;
	uint32_t n_msgs = a.c.n ? (a.c.n + SIM_MREC_BATCH - 1) / SIM_MREC_BATCH : 1;

	x->msgs = calloc(n_msgs, sizeof(*x->msgs));
	for (uint32_t k = 0; x->msgs && k < n_msgs; k++) {
		uint32_t first = k * SIM_MREC_BATCH;
		uint32_t cnt = a.c.n - first < SIM_MREC_BATCH ? a.c.n - first : SIM_MREC_BATCH;

		if (!a.c.n)
			cnt = 0;
		x->msgs[k] = sim_mmsg_new(SIM_MM_REPL, dest, cnt);
		if (!x->msgs[k]) {
			x->failed = true;
			break;
		}
		if (cnt)   /* an empty snapshot: one empty MSG_REPL creates it */
			memcpy(x->msgs[k]->r, a.c.r + first, cnt * sizeof(a.c.r[0]));
		x->n_msgs++;
	}
	if (!x->msgs || a.c.oom)
		x->failed = true;
	sim_mcoll_free(&a.c);
	s->msgl->xfers++;
	sim_mtrace(s, node, SIM_MT_XFER, dest, to[0] | (n_to > 1 ? (uint64_t)to[1] << 32 : 0));
	xfer_pump(s, node, xi);
	return true;
}

static void view_dest(struct sim *s, uint32_t node, uint32_t dest, struct weft_dest *d,
		      struct sim_mowners *fresh)
{
	struct sim_mnode *mn = &s->msgl->n[node];
	const struct sim_mowners *prev = &mn->owners[dest];
	struct sim_mowners *slot = &fresh[dest];
	struct weft_dest_stats st;
	uint32_t to[SIM_MOWNERS], n_to = 0;
	uint64_t life[SIM_MOWNERS];
	bool owner;

	slot->used = true;
	slot->n = sim_mowners_lives(s, node, dest, slot->node, slot->life);
	weft_dest_lock(d);
	weft_dest_get_stats(d, &st);
	weft_dest_unlock(d);
	if ((st.role == WEFT_ROLE_SUBSCRIBER && st.depth == 0 && st.durable == 0) ||
	    slot->n == 0)
		return;
	owner = owners_has(slot, node);
	for (uint32_t i = 0; i < slot->n; i++) {
		if (slot->node[i] == node)
			continue;
		if (slot->node[i] == SIM_NONE) {   /* address unknown: retried */
			mn->xretry = true;
			continue;
		}
		if (owner && owners_has_life(prev, slot->node[i], slot->life[i]))
			continue;
		life[n_to] = slot->life[i];
		to[n_to++] = slot->node[i];
	}
	if (n_to && !xfer_start(s, node, dest, d, to, life, n_to, !owner))
		for (uint32_t i = 0; i < slot->n; i++)   /* none reached: all again */
			if (slot->node[i] != node)
				slot->node[i] = SIM_NONE;
}

static bool xfer_running(struct sim *s, uint32_t node, uint32_t dest)
{
	for (uint32_t i = 0; i < SIM_MXFERS; i++)
		if (s->msgl->n[node].xfer[i].used && s->msgl->n[node].xfer[i].dest == dest)
			return true;
	return false;
}

/* dp_msg_tick.c retry_dest: the transfers of d still owed in this view. */
static void retry_dest(struct sim *s, uint32_t node, uint32_t dest, struct weft_dest *d)
{
	struct sim_mnode *mn = &s->msgl->n[node];
	struct sim_mowners *slot = &mn->owners[dest];
	struct sim_mowners o = { .used = true };
	struct weft_dest_stats st;
	uint32_t to[SIM_MOWNERS], n_to = 0;
	uint64_t life[SIM_MOWNERS];
	bool owner, unknown = false;

	weft_dest_lock(d);
	weft_dest_get_stats(d, &st);
	weft_dest_unlock(d);
	if (st.role == WEFT_ROLE_SUBSCRIBER && st.depth == 0 && st.durable == 0)
		return;
	o.n = sim_mowners_lives(s, node, dest, o.node, o.life);
	if (!o.n)
		return;
	owner = owners_has(&o, node);
	if (owner && !slot->used)
		return;              /* made here since the view change */
	if (xfer_running(s, node, dest)) {
		mn->xretry = true;
		return;
	}
	for (uint32_t i = 0; i < o.n; i++) {
		if (o.node[i] == node)
			continue;
		if (o.node[i] == SIM_NONE) {
			mn->xretry = unknown = true;
			continue;
		}
		if (owner && owners_has_life(slot, o.node[i], o.life[i]))
			continue;
		life[n_to] = o.life[i];
		to[n_to++] = o.node[i];
	}
	if (!owner && unknown)
		return;              /* it could not clear anyway */
	if (!n_to || !xfer_start(s, node, dest, d, to, life, n_to, !owner))
		return;
	for (uint32_t i = 0; owner && i < slot->n && i < o.n; i++)
		if (o.node[i] != SIM_NONE)
			slot->node[i] = o.node[i];
}

void sim_mxfer_retry(struct sim *s, uint32_t node)
{
	struct sim_meach e;

	s->msgl->n[node].xretry = false;
	sim_meach(s, node, &e);
	for (uint32_t i = 0; i < e.n && !s->failed; i++) {
		uint32_t dest = sim_mdest_index(e.d[i]);

		if (dest != SIM_NONE)
			retry_dest(s, node, dest, e.d[i]);
	}
}

static void each_fn(void *ctx, struct weft_dest *d)
{
	struct sim_meach *e = ctx;

	if (e->n < SIM_MDESTS)
		e->d[e->n++] = d;
}

/* Collected first: the calls below may create destinations. */
void sim_meach(struct sim *s, uint32_t node, struct sim_meach *e)
{
	e->s = s;
	e->node = node;
	e->n = 0;
	weft_msg_foreach(s->msgl->n[node].reg, each_fn, e);
}

void sim_mxfer_view(struct sim *s, uint32_t node)
{
	struct sim_mnode *mn = &s->msgl->n[node];
	struct sim_mowners fresh[SIM_MDESTS];
	struct sim_meach e;

	memset(fresh, 0, sizeof(fresh));
	sim_meach(s, node, &e);
	for (uint32_t i = 0; i < e.n && !s->failed; i++) {
		uint32_t dest = sim_mdest_index(e.d[i]);

		if (dest != SIM_NONE)
			view_dest(s, node, dest, e.d[i], fresh);
	}
	memcpy(mn->owners, fresh, sizeof(fresh));
	mn->seen_view = mn->topo.view;
}

/* A transfer slot ended (dp_msg_tick.c xfer_done): arg = index | target
 * << 8 | generation << 16. */
void sim_mxfer_done(struct sim *s, uint32_t node, uint32_t arg, uint16_t status)
{
	struct sim_mnode *mn = &s->msgl->n[node];
	uint32_t xi = arg & 0xff, ti = arg >> 8 & 0xff;
	struct sim_mxfer *x = xi < SIM_MXFERS ? &mn->xfer[xi] : NULL;

	if (!x || !x->used || x->gen != (uint16_t)(arg >> 16) || ti >= x->n_targets)
		return;
	x->inflight[ti]--;
	if (status != WEFT_ST_OK)
		x->failed = true;
	xfer_pump(s, node, xi);
}
