/*
 * sim_data.c — the data layer of the simulator (--data): a client
 * workload, synchronous replication from the primary (as dataplane/
 * dp_rpc.c does it), the quorum rule, and the acknowledged-write model
 * with its invariants. State transfer is sim_xfer.c. Model: sim_data.h.
 *
 * Workload: every --write-ms a client writes the next key id. It asks a
 * random live node for its published table and sends the write to the
 * key's acting primary in THAT table (its first live owner). The primary
 * refuses it unless it is the acting primary in its own table (NOT_OWNER;
 * weftd would forward — not modelled) or, in quorum mode, when its real
 * quorum rule says no majority (NO_QUORUM). Otherwise it applies the write
 * with a version from its counter (raised to its clock in ms << 20, the
 * hybrid logical clock), sends REPL to the other live owners of its table,
 * retransmits (20 ms doubling to 320 ms) and gives up after 5 s (BUSY: not
 * acknowledged). A target that leaves the primary's view (on a view change)
 * is dropped and the copy is sent to the segment's owners in the new view
 * instead. The write is ACKNOWLEDGED when no target is left.
 *
 * The invariants are checked in sim_dcheck.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "sim_data.h"

uint32_t sim_dkey_seg(uint32_t key)
{
	return (uint32_t)XXH3_64bits(&key, sizeof(key)) & (SIM_DSEGS - 1);
}

void sim_dtrace(struct sim *s, uint16_t what, uint32_t node, uint32_t peer,
		uint64_t arg)
{
	sim_trace(s, SIM_T_DATA, node, peer, what, 0, arg);
}

/* ---- the model of keys and copies ---- */

static bool data_node(const struct sim *s, uint32_t i)
{
	return s->data && i < s->o.nodes && s->data->n[i].live;
}

void sim_dstore(struct sim *s, uint32_t node, uint32_t key, uint64_t ver)
{
	struct sim_dnode *d = &s->data->n[node];
	struct sim_dkey *k = &s->data->key[key];

	if (d->ver[key] >= ver)
		return;                    /* apply iff newer */
	if (d->ver[key] == 0)
		k->holders++;
	d->ver[key] = ver;
	if (ver > d->counter)
		d->counter = ver;          /* raises the version counter */
	if (k->holders >= k->r)
		k->exposure = 0;
}

void sim_dunstore(struct sim *s, uint32_t node, uint32_t key)
{
	struct sim_dnode *d = &s->data->n[node];
	struct sim_dkey *k = &s->data->key[key];

	if (d->ver[key] == 0)
		return;
	d->ver[key] = 0;
	if (--k->holders == 0)
		sim_dlost(s, key, node, true);
}

uint32_t sim_dmember_node(const struct sim *s, const struct weft_swim_view_member *m)
{
	uint32_t idx = (uint32_t)m->id.b[2] << 8 | m->id.b[3];

	if (idx >= s->o.nodes || memcmp(&s->node[idx].id, &m->id, sizeof(m->id)))
		return SIM_NONE;
	return idx;
}

/* ---- topologies ---- */

void sim_dtopo_free(struct sim_dtopo *t)
{
	free(t->m);
	free(t->seg);
	memset(t, 0, sizeof(*t));
}

static int dtopo_reserve(struct sim_dtopo *t, uint32_t n)
{
	if (n <= t->cap)
		return 0;
	struct weft_swim_view_member *m = realloc(t->m, n * sizeof(*m));
	if (m)
		t->m = m;
	if (!t->seg)
		t->seg = malloc(SIM_DSEGS * SIM_DOWNERS * sizeof(*t->seg));
	if (!m || !t->seg)
		return -ENOMEM;
	t->cap = n;
	return 0;
}

int sim_dtopo_copy(struct sim_dtopo *dst, const struct sim_dtopo *src)
{
	if (dtopo_reserve(dst, src->t.n) != 0)
		return -ENOMEM;
	memcpy(dst->m, src->m, src->t.n * sizeof(*dst->m));
	memcpy(dst->seg, src->seg, SIM_DSEGS * src->t.owners * sizeof(*dst->seg));
	dst->self = src->self;
	dst->t = src->t;
	dst->t.members = dst->m;
	dst->t.seg_owner = dst->seg;
	return 0;
}

/* Member j of t is live in node's membership table (dp_route's live()). */
static bool member_live(const struct sim *s, uint32_t node,
			const struct sim_dtopo *t, uint32_t j)
{
	enum weft_swim_state st;
	uint64_t nonce;

	if (j == t->self)
		return true;
	if (weft_swim_member_state(s->node[node].sm, &t->m[j].id, &st, &nonce))
		return false;
	return st == WEFT_SWIM_ALIVE || st == WEFT_SWIM_SUSPECT;
}

/* The acting primary of seg in node's table (first live owner), or NONE. */
static uint32_t acting_primary(const struct sim *s, uint32_t node, uint32_t seg)
{
	const struct sim_dtopo *t = &s->data->n[node].cur;

	for (uint32_t k = 0; k < t->t.owners; k++) {
		uint32_t j = t->seg[seg * t->t.owners + k];

		if (member_live(s, node, t, j))
			return j;
	}
	return SIM_NONE;
}

/* An owner of seg in node's table (not itself) whose record node has not
 * heard yet (the snapshot would show it at 0.0.0.0). */
static bool owner_unknown(const struct sim *s, uint32_t node, uint32_t seg)
{
	const struct sim_dtopo *t = &s->data->n[node].cur;
	enum weft_swim_state st;
	uint64_t nonce;

	for (uint32_t k = 0; k < t->t.owners; k++) {
		uint32_t j = t->seg[seg * t->t.owners + k];

		if (j != t->self && weft_swim_member_state(s->node[node].sm, &t->m[j].id, &st, &nonce))
			return true;
	}
	return false;
}

/* ---- lives ---- */

void sim_data_start(struct sim *s, uint32_t i)
{
	struct sim_dnode *d;

	if (!s->data || i >= s->o.nodes)
		return;
	d = &s->data->n[i];
	d->live = true;
	d->in_view = false;
	d->counter = 0;
	d->n_hold = 0;
	memset(&d->view_id, 0, sizeof(d->view_id));
	if (weft_ctl_quorum_init(&d->q, s->base.max_members) != 0 ||
	    dtopo_reserve(&d->cur, 1) != 0) {
		sim_fail(s, "out of memory starting the data layer of n%u", i);
		return;
	}
	/* ctl_cluster.c's rebalance_first: this node alone, view 0, owners 1. */
	d->cur.m[0] = (struct weft_swim_view_member){ .id = s->node[i].id,
						      .nonce = s->node[i].nonce };
	memset(d->cur.seg, 0, SIM_DSEGS * sizeof(*d->cur.seg));
	d->cur.self = 0;
	d->cur.t = (struct weft_ctl_topo){ .view = 0, .n = 1, .members = d->cur.m,
					   .n_segments = SIM_DSEGS, .owners = 1,
					   .seg_owner = d->cur.seg };
	d->prev.t.n = 0;
	if (sim_dtopo_copy(&d->base, &d->cur) != 0)
		sim_fail(s, "out of memory starting the data layer of n%u", i);
}

void sim_data_crash(struct sim *s, uint32_t i)
{
	struct sim_dnode *d;

	if (!data_node(s, i))
		return;
	d = &s->data->n[i];
	d->live = false;
	sim_xfer_clear(s, i);
	weft_ctl_quorum_fini(&d->q);
	d->n_hold = 0;                 /* held clients never hear OK */
	for (uint32_t key = 0; key < s->data->n_keys; key++) {
		struct sim_dkey *k = &s->data->key[key];

		if (!d->ver[key])
			continue;
		d->ver[key] = 0;
		k->exposure++;
		if (--k->holders == 0)
			sim_dlost(s, key, i, false);
	}
}

/* ---- replication (dp_rpc.c) ---- */

static void send_msg(struct sim *s, uint32_t src, uint32_t dst, uint8_t type,
		     uint64_t rid, uint32_t key, uint64_t ver)
{
	struct sim_dmsg m = { .magic = { 'S', 'D', 'M' }, .type = type,
			      .rid = rid, .key = key, .ver = ver };

	sim_net_data(s, src, dst, &m, sizeof(m));
}

static void slot_send(struct sim *s, uint32_t node, struct sim_dhold *h,
		      struct sim_dslot *sl)
{
	send_msg(s, node, sl->node, SIM_DM_REPL, sl->rid, h->key,
		 s->data->key[h->key].ver);
	s->data->n[node].repl_msgs++;
}

static bool hold_targets(const struct sim_dhold *h, uint32_t node)
{
	for (uint32_t k = 0; k < h->n_slot; k++)
		if (h->slot[k].node == node)
			return true;
	return false;
}

/* Adds a slot to target (sim index) and sends the first copy. */
static void slot_add(struct sim *s, uint32_t node, struct sim_dhold *h,
		     uint32_t target)
{
	struct sim_dnode *d = &s->data->n[node];
	struct sim_dslot *sl;

	if (h->n_slot == SIM_DSLOTS || hold_targets(h, target))
		return;
	sl = &h->slot[h->n_slot++];
	*sl = (struct sim_dslot){ .node = target, .rid = ++d->next_rid,
				  .rto_us = SIM_RPC_RTO0_US,
				  .next_us = s->now + SIM_RPC_RTO0_US };
	slot_send(s, node, h, sl);
}

/* Adds slots for the owners of seg in node's table other than itself,
 * whatever their state (dp_route_targets: a member declared dead is a
 * target while the view lists it). */
static void target_owners(struct sim *s, uint32_t node, struct sim_dhold *h,
			  bool retarget)
{
	const struct sim_dtopo *t = &s->data->n[node].cur;

	for (uint32_t k = 0; k < t->t.owners; k++) {
		uint32_t j = t->seg[h->seg * t->t.owners + k], to;

		if (j == t->self)
			continue;
		to = sim_dmember_node(s, &t->m[j]);
		if (to == SIM_NONE || hold_targets(h, to))
			continue;
		if (retarget)
			sim_dtrace(s, SIM_DT_RETARGET, node, to, h->key);
		slot_add(s, node, h, to);
	}
}

static void hold_done(struct sim *s, uint32_t node, uint32_t hi)
{
	struct sim_dnode *d = &s->data->n[node];
	struct sim_dhold *h = &d->hold[hi];
	struct sim_dkey *k = &s->data->key[h->key];

	k->acked = true;
	s->data->acked++;
	sim_dtrace(s, SIM_DT_ACK, node, h->seg, h->key);
	if (k->holders == 0)
		sim_fail(s, "n%u acknowledged key %u, which no live node holds "
			 "(invariant a)", node, h->key);
	sim_dcheck_quorum_ack(s, node, k);
	d->hold[hi] = d->hold[--d->n_hold];
}

/* Owners of seg in node's table whose life is really up (ground truth). */
static uint32_t up_owners(const struct sim *s, uint32_t node, uint32_t seg)
{
	const struct sim_dtopo *t = &s->data->n[node].cur;
	uint32_t up = 0;

	for (uint32_t k = 0; k < t->t.owners; k++) {
		const struct weft_swim_view_member *m = &t->m[t->seg[seg * t->t.owners + k]];
		uint32_t i = sim_dmember_node(s, m);

		up += i != SIM_NONE && s->node[i].up && s->node[i].nonce == m->nonce;
	}
	return up;
}

static void on_write(struct sim *s, uint32_t node, uint32_t key)
{
	struct sim_data *D = s->data;
	struct sim_dnode *d = &D->n[node];
	struct sim_dkey *k = &D->key[key];
	uint32_t seg = sim_dkey_seg(key), up;
	uint64_t v;

	if (!d->in_view || k->ver)
		return;      /* not in a cluster yet; or a duplicated datagram */
	if (s->o.quorum && d->q.no_quorum) {
		D->refused_nq++;
		sim_dtrace(s, SIM_DT_REFUSE_NQ, node, seg, key);
		return;
	}
	if (acting_primary(s, node, seg) != d->cur.self) {
		D->not_owner++;
		sim_dtrace(s, SIM_DT_NOT_OWNER, node, seg, key);
		return;
	}
	if (owner_unknown(s, node, seg)) { /* dp_route's local_write: BUSY */
		D->refused_busy++;
		sim_dtrace(s, SIM_DT_NOT_OWNER, node, seg, key);
		return;
	}
	if (d->n_hold == d->max_hold) {
		sim_fail(s, "n%u: %u held writes (invariant d)", node, d->n_hold);
		return;
	}
	v = sim_local_ms(&s->node[node], s->now) << 20;
	v = v > d->counter ? v : d->counter + 1;
	*k = (struct sim_dkey){ .seg = seg, .primary = node, .ver = v,
				.accepted_us = s->now, .r = 1 };
	sim_dstore(s, node, key, v);
	sim_dtrace(s, SIM_DT_ACCEPT, node, seg, key);
	struct sim_dhold *h = &d->hold[d->n_hold++];

	*h = (struct sim_dhold){ .key = key, .seg = seg, .first_us = s->now };
	target_owners(s, node, h, false);
	k->r = (uint8_t)(1 + h->n_slot);
	up = up_owners(s, node, seg);
	if (up > k->r) {
		D->degraded++;
		if (s->o.strict_copies)
			k->r = (uint8_t)up;
	}
	if (h->n_slot == 0)
		hold_done(s, node, d->n_hold - 1);
}

static void on_repl_ack(struct sim *s, uint32_t node, const struct sim_msg *m,
			uint64_t rid)
{
	struct sim_dnode *d = &s->data->n[node];

	for (uint32_t hi = 0; hi < d->n_hold; hi++) {
		struct sim_dhold *h = &d->hold[hi];

		for (uint32_t k = 0; k < h->n_slot; k++) {
			if (h->slot[k].rid != rid || h->slot[k].node != m->src)
				continue;
			h->slot[k] = h->slot[--h->n_slot];
			if (h->n_slot == 0)
				hold_done(s, node, hi);
			return;
		}
	}
}

static void repl_tick(struct sim *s, uint32_t node)
{
	struct sim_dnode *d = &s->data->n[node];

	for (uint32_t hi = 0; hi < d->n_hold;) {
		struct sim_dhold *h = &d->hold[hi];
		bool gave_up = false;

		for (uint32_t k = 0; k < h->n_slot && !gave_up; k++) {
			struct sim_dslot *sl = &h->slot[k];

			if (s->now < sl->next_us)
				continue;
			if (s->now - h->first_us >= SIM_RPC_GIVE_UP_US) {
				gave_up = true;
				break;
			}
			sl->rto_us = sl->rto_us * 2 > SIM_RPC_RTO_MAX_US
					     ? SIM_RPC_RTO_MAX_US : sl->rto_us * 2;
			sl->next_us = s->now + sl->rto_us;
			slot_send(s, node, h, sl);
		}
		if (gave_up) {
			s->data->gave_up++;
			sim_dtrace(s, SIM_DT_GAVE_UP, node, h->seg, h->key);
			d->hold[hi] = d->hold[--d->n_hold];
			continue;
		}
		hi++;
	}
}

/* dp_rpc_tick on a view change: targets no longer members of the view
 * are dropped and the copy goes to the segment's owners in the new view. */
static void repl_view_change(struct sim *s, uint32_t node)
{
	struct sim_dnode *d = &s->data->n[node];

	for (uint32_t hi = 0; hi < d->n_hold;) {
		struct sim_dhold *h = &d->hold[hi];
		bool gone = false;

		for (uint32_t k = 0; k < h->n_slot;) {
			uint32_t j, to = h->slot[k].node;

			for (j = 0; j < d->cur.t.n; j++) /* still in the view, any state */
				if (sim_dmember_node(s, &d->cur.m[j]) == to)
					break;
			if (j < d->cur.t.n) {
				k++;
				continue;
			}
			h->slot[k] = h->slot[--h->n_slot];
			gone = true;
		}
		if (gone)
			target_owners(s, node, h, true);
		if (h->n_slot == 0) {
			hold_done(s, node, hi);
			continue;
		}
		hi++;
	}
}

/* ---- views and quorum (ctl_cluster.c's publish) ---- */

/* The quorum rule on node's current view and its members' states now, as
 * ctl_cluster.c's publish feeds it: on every new view and every member
 * state change. A member is live when node's record of its id says ALIVE;
 * node itself always is. */
static void quorum_publish(struct sim *s, uint32_t node)
{
	struct sim_dnode *d = &s->data->n[node];
	uint32_t n = d->cur.t.n;
	struct weft_swim_id *ids;
	struct weft_swim_member_info info;
	bool *live;
	int rc;

	if (!s->o.quorum || !d->in_view)
		return;
	ids = malloc(n * sizeof(*ids));
	live = malloc(n * sizeof(*live));
	if (!ids || !live) {
		free(ids);
		free(live);
		sim_fail(s, "out of memory for n%u's quorum", node);
		return;
	}
	for (uint32_t j = 0; j < n; j++) {
		ids[j] = d->cur.m[j].id;
		live[j] = j == d->cur.self ||
			  (weft_swim_member_info(s->node[node].sm, &ids[j], &info) == 0 &&
			   info.state == WEFT_SWIM_ALIVE);
	}
	rc = weft_ctl_quorum_view(&d->q, ids, live, n);
	free(ids);
	free(live);
	if (rc < 0)
		sim_fail(s, "weft_ctl_quorum_view: %d", rc);
	if (rc == 1)
		sim_dtrace(s, SIM_DT_QUORUM, node, 0, d->q.no_quorum);
}

static void on_view(struct sim *s, uint32_t node, const struct weft_swim_event *ev)
{
	struct sim_dnode *d = &s->data->n[node];
	uint32_t self = WEFT_CTL_PLAN_NONE;
	int rc;

	for (uint32_t j = 0; j < ev->n_view; j++) /* this life: id and nonce */
		if (!memcmp(&ev->view[j].id, &s->node[node].id, sizeof(ev->view[j].id)) &&
		    ev->view[j].nonce == s->node[node].nonce)
			self = j;
	/* A view without this node is someone else's: not followed. */
	if (self == WEFT_CTL_PLAN_NONE ||
	    weft_swim_view_id_cmp(&ev->view_id, &d->view_id) == 0)
		return;
	d->view_id = ev->view_id;
	if (sim_dtopo_copy(&d->prev, &d->cur) != 0 ||
	    dtopo_reserve(&d->cur, ev->n_view) != 0) {
		sim_fail(s, "out of memory for n%u's view", node);
		return;
	}
	memcpy(d->cur.m, ev->view, ev->n_view * sizeof(*ev->view));
	s->data->scratch.owner = d->cur.seg;
	rc = weft_swim_seg_compute(ev->view, ev->n_view, SIM_DSEGS, SIM_DOWNERS,
				   &s->data->scratch);
	if (rc != 0) {
		sim_fail(s, "weft_swim_seg_compute: %d", rc);
		return;
	}
	d->cur.self = self;
	d->cur.t = (struct weft_ctl_topo){ .view = ev->view_id.counter,
					   .n = ev->n_view, .members = d->cur.m,
					   .n_segments = SIM_DSEGS,
					   .owners = s->data->scratch.owners,
					   .seg_owner = d->cur.seg };
	d->in_view = true;
	quorum_publish(s, node);
	repl_view_change(s, node);
	sim_xfer_view(s, node);
}

void sim_data_event(struct sim *s, uint32_t node, const struct weft_swim_event *ev)
{
	if (!data_node(s, node) || !s->node[node].up)
		return;
	switch (ev->kind) {
	case WEFT_SWIM_EV_VIEW:
		on_view(s, node, ev);
		break;
	case WEFT_SWIM_EV_LEFT:
		if (s->o.quorum &&
		    weft_ctl_quorum_left(&s->data->n[node].q, &ev->id) == 1)
			sim_dtrace(s, SIM_DT_QUORUM, node, 0,
				   s->data->n[node].q.no_quorum);
		quorum_publish(s, node);
		break;
	case WEFT_SWIM_EV_MEMBER_UP:
	case WEFT_SWIM_EV_SUSPECT:
	case WEFT_SWIM_EV_DOWN:
		quorum_publish(s, node);
		break;
	default:
		break;
	}
}

void sim_data_deliver(struct sim *s, struct sim_msg *m)
{
	struct sim_dmsg h;

	if (!data_node(s, m->dst) || m->len < sizeof(h))
		return;
	memcpy(&h, m->data, sizeof(h));
	switch (h.type) {
	case SIM_DM_WRITE:
		if (h.key < s->data->n_keys)
			on_write(s, m->dst, h.key);
		break;
	case SIM_DM_REPL:
		if (h.key < s->data->n_keys)
			sim_dstore(s, m->dst, h.key, h.ver);
		send_msg(s, m->dst, m->src, SIM_DM_REPL_ACK, h.rid, 0, 0);
		break;
	case SIM_DM_REPL_ACK:
		on_repl_ack(s, m->dst, m, h.rid);
		break;
	case SIM_DM_XFER:
		sim_xfer_recv(s, m->dst, m);
		break;
	case SIM_DM_XFER_ACK:
		sim_xfer_ack(s, m->dst, m);
		break;
	}
}

/* ---- the workload and the tick ---- */

static void client_write(struct sim *s)
{
	struct sim_data *D = s->data;
	uint32_t cand[SIM_MAX_NODES], n = 0, a, j, p, key;

	for (uint32_t i = 0; i < s->o.nodes; i++)
		if (s->node[i].up && !s->node[i].paused && D->n[i].in_view)
			cand[n++] = i;
	if (!n || D->n_keys == SIM_DMAX_KEYS)
		return;
	a = cand[sim_below(&s->rng, n)];
	key = D->n_keys++;
	D->writes++;
	j = acting_primary(s, a, sim_dkey_seg(key));
	p = j == SIM_NONE ? SIM_NONE : sim_dmember_node(s, &D->n[a].cur.m[j]);
	if (p == SIM_NONE)
		return;
	if (p == a)
		on_write(s, a, key);
	else
		send_msg(s, a, p, SIM_DM_WRITE, 0, key, 0);
}

void sim_data_tick(struct sim *s)
{
	struct sim_data *D = s->data;

	if (!D)
		return;
	while (s->now >= D->next_write_us && s->now < D->writes_end_us &&
	       (!s->o.write_converged || D->formed)) {
		client_write(s);
		D->next_write_us += s->o.write_ms * 1000ull;
	}
	for (uint32_t i = 0; i < s->o.nodes; i++) {
		if (!data_node(s, i) || !s->node[i].up || s->node[i].paused)
			continue;
		repl_tick(s, i);
		sim_xfer_tick(s, i);
	}
	sim_push(s, s->now + SIM_DTICK_US, SIM_EV_DTICK, 0, 0, 0, NULL);
}

/* ---- world ---- */

int sim_data_create(struct sim *s)
{
	struct sim_data *D = calloc(1, sizeof(*D));
	uint64_t end = s->o.duration_ms * 1000;

	if (!D)
		return -ENOMEM;
	s->data = D;
	D->n = calloc(s->o.nodes, sizeof(*D->n));
	D->key = calloc(SIM_DMAX_KEYS, sizeof(*D->key));
	D->agreed = calloc(s->o.nodes, sizeof(*D->agreed));
	if (!D->n || !D->key || !D->agreed)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->o.nodes; i++) {
		D->n[i].ver = calloc(SIM_DMAX_KEYS, sizeof(uint64_t));
		D->n[i].xsent_ver = calloc(SIM_DMAX_KEYS, sizeof(uint64_t));
		D->n[i].xsent_n = calloc(SIM_DMAX_KEYS, sizeof(uint16_t));
		D->n[i].max_hold = 2 * SIM_DHOLDS;
		D->n[i].hold = calloc(D->n[i].max_hold, sizeof(*D->n[i].hold));
		if (!D->n[i].ver || !D->n[i].xsent_ver || !D->n[i].xsent_n || !D->n[i].hold)
			return -ENOMEM;
	}
	D->agreed_epoch = UINT64_MAX;
	D->next_write_us = s->o.write_start_ms * 1000ull;
	/* writes stop 15 s before the end: the rest is for state transfer */
	D->writes_end_us = end > 15000000 ? end - 15000000 : 0;
	if (s->o.write_end_ms && s->o.write_end_ms * 1000ull < D->writes_end_us)
		D->writes_end_us = s->o.write_end_ms * 1000ull;
	sim_push(s, SIM_DTICK_US, SIM_EV_DTICK, 0, 0, 0, NULL);
	return 0;
}

void sim_data_destroy(struct sim *s)
{
	struct sim_data *D = s->data;

	if (!D)
		return;
	for (uint32_t i = 0; D->n && i < s->o.nodes; i++) {
		struct sim_dnode *d = &D->n[i];

		sim_xfer_clear(s, i);
		if (d->live)
			weft_ctl_quorum_fini(&d->q);
		sim_dtopo_free(&d->base);
		sim_dtopo_free(&d->prev);
		sim_dtopo_free(&d->cur);
		free(d->ver);
		free(d->xsent_ver);
		free(d->xsent_n);
		free(d->hold);
	}
	free(D->n);
	free(D->key);
	free(D->agreed);
	free(D);
	s->data = NULL;
}
