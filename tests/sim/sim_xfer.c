/*
 * sim_xfer.c — state transfer in the simulator's data layer: each node's
 * sender, a replica of control/ctl_rebalance.c's job lifecycle driven by
 * the REAL planner (weft_ctl_plan_init / weft_ctl_plan_segment,
 * control/ctl_plan.c) over the node's own published topologies.
 *
 * On every new view with this node (cur): abort the running job (late acks
 * match nothing), then plan the moves this node sends: plan(base -> cur)
 * and, when prev differs from base, plan(prev -> cur), where base is the
 * last view whose transfer this node completed with no destination failed
 * and prev the view before cur. Every segment this node does not own in
 * cur is given away (the drop rule, weft_ctl_gives_away in
 * control/ctl_rebalance_internal.h): what it holds of it goes to every
 * owner in cur, and it is marked to drop. Each destination's entries
 * (held keys of its moved segments, scanned in key order from a cursor) go
 * out in batches of SIM_XFER_BATCH, at most SIM_XFER_WINDOW messages in
 * flight per node, retransmitted every 200 ms; a destination silent for
 * 20 s fails. When every destination is done or failed: base = cur (if
 * none failed), then, once every destination not failed has been ALIVE in
 * the node's SWIM table (as ctl_cluster.c publishes it) for
 * WEFT_CTL_DROP_GRACE_MS (weft_ctl_drop_due), the marked segments are
 * dropped (except those of a failed move, and a key whose version now is
 * not the one sent to every destination: ctl_rebalance_tx.c's sent set);
 * a new view aborts the wait. The
 * receiver applies each entry iff newer and acks.
 *
 * Every move the planner returns is checked against its contract (the
 * receiver owns the segment in cur and did not in the old view; the
 * sender owned it and is in cur): a break fails the run as a planner bug.
 *
 * Invariants: at most one job per node; n_inflight <= SIM_XFER_WINDOW;
 * dest[] is sized by cur.t.n of the view the job was planned for.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_data.h"

#define ENTRY_BYTES (sizeof(struct weft_repl_entry) + SIM_DKEY_LEN + SIM_DVAL_LEN)
#define MSG_OVERHEAD (sizeof(struct weft_wire_hdr) + 8u + sizeof(struct weft_x_replicate))

static bool topo_same(const struct sim_dtopo *a, const struct sim_dtopo *b)
{
	return a->t.view == b->t.view && a->t.n == b->t.n &&
	       memcmp(a->m, b->m, a->t.n * sizeof(*a->m)) == 0;
}

void sim_xfer_clear(struct sim *s, uint32_t node)
{
	struct sim_dnode *d = &s->data->n[node];

	free(d->dest);
	d->dest = NULL;
	d->n_inflight = 0;
	d->job = false;
	d->drop_wait = false;
}

static void check_move(struct sim *s, uint32_t node, const struct weft_ctl_plan *p,
		       uint32_t seg, const struct weft_ctl_move *mv)
{
	uint32_t old_to = mv->to < p->new_t->n ? p->new_to_old[mv->to]
					       : WEFT_CTL_PLAN_NONE;

	if (mv->seg != seg || mv->to >= p->new_t->n || mv->from >= p->old_t->n ||
	    !weft_ctl_topo_owns(p->new_t, WEFT_CTL_PLAN_DISTRIBUTED, seg, mv->to) ||
	    (old_to != WEFT_CTL_PLAN_NONE &&
	     weft_ctl_topo_owns(p->old_t, WEFT_CTL_PLAN_DISTRIBUTED, seg, old_to)) ||
	    !weft_ctl_topo_owns(p->old_t, WEFT_CTL_PLAN_DISTRIBUTED, seg, mv->from) ||
	    p->old_to_new[mv->from] == WEFT_CTL_PLAN_NONE)
		sim_fail(s, "planner bug at n%u: move of seg %u to %u from %u "
			 "(views %llu -> %llu) breaks weft_ctl_plan_segment's "
			 "contract", node, seg, mv->to, mv->from,
			 (unsigned long long)p->old_t->view,
			 (unsigned long long)p->new_t->view);
}

/* Adds move (seg -> cur member to) unless planned already; counted: in
 * the move figures (ctl_rebalance.c add_move). */
static void add_move(struct sim *s, struct sim_dnode *d, uint32_t seg, uint32_t to,
		     bool counted)
{
	struct sim_xdest *x;

	if (to == d->cur.self || to >= d->cur.t.n)
		return;
	x = &d->dest[to];
	if (x->bits[seg / 8] & (1u << (seg % 8)))
		return;
	x->bits[seg / 8] |= (uint8_t)(1u << (seg % 8));
	if (!x->active) {
		x->active = true;
		x->heard_us = s->now;
	}
	if (counted) {
		x->moves++;
		d->moves_total++;
	}
}

/* Adds this node's moves of plan(from -> cur). */
static void plan_add(struct sim *s, uint32_t node, const struct sim_dtopo *from,
		     struct weft_ctl_move *mv)
{
	struct sim_dnode *d = &s->data->n[node];
	struct weft_ctl_plan p;
	int rc = weft_ctl_plan_init(&p, &from->t, &d->cur.t);

	if (rc < 0) {
		sim_fail(s, "weft_ctl_plan_init at n%u: %d", node, rc);
		return;
	}
	for (uint32_t seg = 0; from->self != WEFT_CTL_PLAN_NONE && seg < SIM_DSEGS; seg++) {
		rc = weft_ctl_plan_segment(&p, WEFT_CTL_PLAN_DISTRIBUTED, seg, mv,
					   d->cur.t.n);
		if (rc < 0) {
			sim_fail(s, "weft_ctl_plan_segment at n%u: %d", node, rc);
			break;
		}
		for (int k = 0; k < rc; k++) {
			check_move(s, node, &p, seg, &mv[k]);
			/* ctl_rebalance.c: every surviving old owner sends. */
			if ((mv[k].from != from->self &&
			     !weft_ctl_topo_owns(&from->t, WEFT_CTL_PLAN_DISTRIBUTED, seg,
						 from->self)) ||
			    mv[k].to == d->cur.self ||
			    mv[k].to >= d->cur.t.n)
				continue;
			add_move(s, d, seg, mv[k].to, true);
		}
	}
	weft_ctl_plan_fini(&p);
}

static bool owned_in(const struct sim_dtopo *t, uint32_t seg)
{
	return t->t.n && t->self != WEFT_CTL_PLAN_NONE &&
	       weft_ctl_topo_owns(&t->t, WEFT_CTL_PLAN_DISTRIBUTED, seg, t->self);
}

/* ctl_rebalance.c's mark_drops: every segment given away (not owned in
 * cur) goes to every owner it has in cur before it is dropped; only those
 * owned in base or prev count in the move figures. */
static void mark_drops(struct sim *s, struct sim_dnode *d)
{
	const struct weft_ctl_topo *c = &d->cur.t;

	for (uint32_t seg = 0; seg < SIM_DSEGS; seg++) {
		if (!weft_ctl_gives_away(c, d->cur.self, seg))
			continue;
		bool counted = owned_in(&d->base, seg) || owned_in(&d->prev, seg);

		d->drop[seg] = 1;
		for (uint32_t k = 0; k < c->owners; k++)
			add_move(s, d, seg, c->seg_owner[(size_t)seg * c->owners + k], counted);
	}
}

/* Member j of node's cur is ALIVE as ctl_cluster.c publishes it: its SWIM
 * record's state (DEAD without one), ALIVE when the record is of an older
 * life than the view lists (member_record). */
static bool dest_alive(const struct sim *s, uint32_t node, uint32_t j)
{
	const struct sim_dtopo *c = &s->data->n[node].cur;
	enum weft_swim_state st;
	uint64_t nonce;

	if (weft_swim_member_state(s->node[node].sm, &c->m[j].id, &st, &nonce))
		return false;
	return nonce < c->m[j].nonce || st == WEFT_SWIM_ALIVE;
}

/* ctl_rebalance.c's dests_alive. */
static bool dests_alive(const struct sim *s, uint32_t node)
{
	const struct sim_dnode *d = &s->data->n[node];

	for (uint32_t j = 0; j < d->cur.t.n; j++)
		if (d->dest[j].active && !d->dest[j].failed && !dest_alive(s, node, j))
			return false;
	return true;
}

/* The transfer is complete: base = cur (none failed), then wait to drop. */
static void job_done(struct sim *s, uint32_t node)
{
	struct sim_dnode *d = &s->data->n[node];

	if (d->failures == 0 && sim_dtopo_copy(&d->base, &d->cur) != 0)
		sim_fail(s, "out of memory keeping n%u's base view", node);
	d->drop_wait = true;
	d->drop_due_ms = s->now / 1000 + WEFT_CTL_DROP_GRACE_MS;
}

/* The drop pass, once due: the segments given away, but those of a failed
 * move. */
static void drop_pass(struct sim *s, uint32_t node)
{
	struct sim_dnode *d = &s->data->n[node];
	uint8_t keep[SIM_DSEGS / 8] = { 0 };
	uint16_t dests[SIM_DSEGS] = { 0 };
	uint64_t dropped = 0;

	for (uint32_t j = 0; j < d->cur.t.n; j++) {
		if (d->dest[j].failed)
			for (uint32_t b = 0; b < SIM_DSEGS / 8; b++)
				keep[b] |= d->dest[j].bits[b];
		else if (d->dest[j].active)
			for (uint32_t seg = 0; seg < SIM_DSEGS; seg++)
				dests[seg] += !!(d->dest[j].bits[seg / 8] & (1u << (seg % 8)));
	}
	for (uint32_t key = 0; key < s->data->n_keys && !s->failed; key++) {
		uint32_t seg;

		if (!d->ver[key])
			continue;
		seg = sim_dkey_seg(key);
		/* ctl_rebalance_tx.c: only the version every destination got */
		if (d->drop[seg] && !(keep[seg / 8] & (1u << (seg % 8))) &&
		    d->xsent_ver[key] == d->ver[key] && d->xsent_n[key] >= dests[seg]) {
			sim_dunstore(s, node, key);
			dropped++;
		}
	}
	sim_dtrace(s, SIM_DT_JOB_DONE, node, d->failures, dropped);
	sim_xfer_clear(s, node);
}

void sim_xfer_view(struct sim *s, uint32_t node)
{
	struct sim_dnode *d = &s->data->n[node];
	struct weft_ctl_move *mv = calloc(d->cur.t.n, sizeof(*mv));

	sim_xfer_clear(s, node);
	d->dest = calloc(d->cur.t.n, sizeof(*d->dest));
	if (!mv || !d->dest) {
		free(mv);
		sim_fail(s, "out of memory planning n%u's transfer", node);
		return;
	}
	for (uint32_t j = 0; j < d->cur.t.n; j++)
		d->dest[j].node = sim_dmember_node(s, &d->cur.m[j]);
	memset(d->drop, 0, sizeof(d->drop));
	memset(d->xsent_ver, 0, SIM_DMAX_KEYS * sizeof(*d->xsent_ver));
	memset(d->xsent_n, 0, SIM_DMAX_KEYS * sizeof(*d->xsent_n));
	d->drop_wait = false;
	d->failures = d->moves_total = 0;
	d->rr = 0;
	if (!topo_same(&d->base, &d->cur)) {
		plan_add(s, node, &d->base, mv);
		if (d->prev.t.n && !topo_same(&d->prev, &d->base))
			plan_add(s, node, &d->prev, mv);
	}
	mark_drops(s, d);
	free(mv);
	d->job = true;
	sim_dtrace(s, SIM_DT_VIEW, node, d->moves_total, d->cur.t.view);
}

static void dest_fail(struct sim_dnode *d, uint32_t j)
{
	d->dest[j].failed = true;
	d->failures++;
	for (uint32_t i = 0; i < d->n_inflight;)
		if (d->inflight[i].dest == j)
			d->inflight[i] = d->inflight[--d->n_inflight];
		else
			i++;
	d->dest[j].outstanding = 0;
}

static void msg_send(struct sim *s, uint32_t node, const struct sim_xmsg *x)
{
	struct sim_dnode *d = &s->data->n[node];
	uint8_t buf[sizeof(struct sim_dmsg) + sizeof(x->e)];
	struct sim_dmsg h = { .magic = { 'S', 'D', 'M' }, .type = SIM_DM_XFER,
			      .count = x->n, .rid = x->rid };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), x->e, x->n * sizeof(x->e[0]));
	sim_net_data(s, node, d->dest[x->dest].node, buf,
		     sizeof(h) + x->n * sizeof(x->e[0]));
	d->xfer_entries += x->n;
	d->xfer_bytes += x->n * ENTRY_BYTES + MSG_OVERHEAD;
	d->xfer_msgs++;
}

/* The next batch for a destination with scanning left, into a free window
 * slot; false when no destination has anything left to scan. */
static bool fill_one(struct sim *s, uint32_t node)
{
	struct sim_dnode *d = &s->data->n[node];
	uint32_t n = d->cur.t.n;

	for (uint32_t k = 0; k < n; k++) {
		uint32_t j = (d->rr + k) % n;
		struct sim_xdest *x = &d->dest[j];
		struct sim_xmsg *m = &d->inflight[d->n_inflight];

		if (!x->active || x->failed || x->scan_done)
			continue;
		m->n = 0;
		while (m->n < SIM_XFER_BATCH && x->cursor < s->data->n_keys) {
			uint32_t key = x->cursor++, seg;

			if (!d->ver[key])
				continue;
			seg = sim_dkey_seg(key);
			if (!(x->bits[seg / 8] & (1u << (seg % 8))))
				continue;
			m->e[m->n++] = (struct sim_dentry){ .key = key, .ver = d->ver[key] };
			if (d->drop[seg] && d->xsent_ver[key] == d->ver[key]) {
				d->xsent_n[key]++;
			} else if (d->drop[seg]) {
				d->xsent_ver[key] = d->ver[key];
				d->xsent_n[key] = 1;
			}
		}
		x->scan_done = x->cursor >= s->data->n_keys;
		d->rr = j + 1;
		if (m->n == 0)
			return true;
		m->rid = ++d->next_rid;
		m->dest = j;
		m->sent_us = s->now;
		d->n_inflight++;
		x->outstanding++;
		msg_send(s, node, m);
		return true;
	}
	return false;
}

void sim_xfer_tick(struct sim *s, uint32_t node)
{
	struct sim_dnode *d = &s->data->n[node];
	bool all = true;

	if (!d->job)
		return;
	if (d->drop_wait) {
		/* every tick (10 ms): ctl_rebalance.c's RB_DROP_CHECK_MS */
		uint64_t now_ms = s->now / 1000;

		d->drop_due_ms = weft_ctl_drop_due(d->drop_due_ms, dests_alive(s, node), now_ms);
		if (now_ms >= d->drop_due_ms)
			drop_pass(s, node);
		return;
	}
	for (uint32_t j = 0; j < d->cur.t.n; j++) {
		struct sim_xdest *x = &d->dest[j];

		if (x->active && !x->failed && (x->outstanding || !x->scan_done) &&
		    s->now - x->heard_us >= SIM_XFER_GIVE_UP_US)
			dest_fail(d, j);
	}
	for (uint32_t i = 0; i < d->n_inflight; i++)
		if (s->now - d->inflight[i].sent_us >= SIM_XFER_RTO_US) {
			d->inflight[i].sent_us = s->now;
			msg_send(s, node, &d->inflight[i]);
		}
	while (d->n_inflight < SIM_XFER_WINDOW && fill_one(s, node))
		;
	for (uint32_t j = 0; j < d->cur.t.n && all; j++) {
		const struct sim_xdest *x = &d->dest[j];

		all = !x->active || x->failed || (x->scan_done && !x->outstanding);
	}
	if (all)
		job_done(s, node);
}

void sim_xfer_recv(struct sim *s, uint32_t node, const struct sim_msg *m)
{
	struct sim_dmsg h;
	struct sim_dentry e;

	memcpy(&h, m->data, sizeof(h));
	if (m->len < sizeof(h) + (size_t)h.count * sizeof(e))
		return;
	for (uint32_t i = 0; i < h.count; i++) {
		memcpy(&e, m->data + sizeof(h) + i * sizeof(e), sizeof(e));
		if (e.key < s->data->n_keys)
			sim_dstore(s, node, e.key, e.ver);
	}
	h.type = SIM_DM_XFER_ACK;
	h.count = 0;
	sim_net_data(s, node, m->src, &h, sizeof(h));
}

void sim_xfer_ack(struct sim *s, uint32_t node, const struct sim_msg *m)
{
	struct sim_dnode *d = &s->data->n[node];
	struct sim_dmsg h;

	if (!d->job || d->drop_wait)
		return;
	memcpy(&h, m->data, sizeof(h));
	for (uint32_t i = 0; i < d->n_inflight; i++) {
		struct sim_xdest *x = &d->dest[d->inflight[i].dest];

		if (d->inflight[i].rid != h.rid || x->node != m->src)
			continue;
		x->outstanding--;
		x->heard_us = s->now;
		d->inflight[i] = d->inflight[--d->n_inflight];
		return;
	}
}
