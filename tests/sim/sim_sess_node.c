/*
 * sim_sess_node.c — what one node of the sessions layer does (sim_sess.h):
 * its view (the real segment table and read-through targets; a view that
 * does not list this life puts it outside: no table, dp_route.c), serving
 * an op with the real weft_sess_apply (forwarding, read-through,
 * at-most-once table, BUSY without a view or outside it, for a forwarded
 * CREATE at a non-owner, or for a miss whose read-through target is DEAD),
 * synchronous replication of a change before its answer (and of the record
 * as it is for a retransmitted read, as dp_sess.c), the
 * state-transfer pushes and drop, tombstone reclaiming and the expiry pass
 * (with the discard of a due copy on NO_SESSION, owner or not).
 *
 * Invariants: an entry is replaced only by a newer version (apply iff
 * newer, as weft_cache_apply_put); a node's version counter is raised to
 * every version it stores; a held answer is sent once, when its last
 * target acked or, on a node outside its view, left it (dp_rpc.c
 * hold_slot_done), or BUSY after SIM_ZGIVE_UP_US; a push is resent until
 * acked (by whatever life answers at the destination's address, as
 * ctl_rebalance.c matches acks) or a view without the destination's node
 * comes; the drop waits for all of them, then for the drop rule's grace
 * (weft_ctl_drop_due, control/ctl_rebalance_internal.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ctl_rebalance_internal.h"
#include "sim_data.h"
#include "sim_sess.h"

/* ---- tables and topology ---- */

static uint32_t sess_seg(const struct sim *s, uint32_t sess)
{
	return s->sess->z[sess].seg;
}

/* The state of member j of node's view in its SWIM table (itself ALIVE;
 * one it has no record of DEAD, as ctl_cluster.c publishes it). */
static enum weft_swim_state member_state(const struct sim *s, uint32_t node, uint32_t j)
{
	const struct sim_znode *n = &s->sess->n[node];
	enum weft_swim_state st;
	uint64_t nonce;

	if (j == n->self)
		return WEFT_SWIM_ALIVE;
	if (weft_swim_member_state(s->node[node].sm, &n->mem[j].id, &st, &nonce))
		return WEFT_SWIM_DEAD;
	return st;
}

/* Member j of node's view is live in its SWIM table (itself always). */
static bool member_live(const struct sim *s, uint32_t node, uint32_t j)
{
	enum weft_swim_state st = member_state(s, node, j);

	return st == WEFT_SWIM_ALIVE || st == WEFT_SWIM_SUSPECT;
}

static uint32_t acting_primary(const struct sim *s, uint32_t node, uint32_t seg)
{
	const struct sim_znode *n = &s->sess->n[node];

	for (uint32_t k = 0; k < n->owners; k++)
		if (member_live(s, node, n->seg[seg * n->owners + k]))
			return n->seg[seg * n->owners + k];
	return SIM_NONE;
}

bool sim_zowns(const struct sim_znode *n, uint32_t seg)
{
	for (uint32_t k = 0; k < n->owners; k++)
		if (n->seg[seg * n->owners + k] == n->self)
			return true;
	return false;
}

static void store(struct sim *s, uint32_t node, uint32_t sess, uint64_t ver, bool tomb,
		  const uint8_t *rec, uint32_t len)
{
	struct sim_znode *n = &s->sess->n[node];
	struct sim_zent *e = &n->ent[sess];

	e->ver = ver;
	e->state = tomb ? 2 : 1;
	e->tomb_us = s->now;
	e->len = (uint8_t)(tomb ? 0 : len);
	if (!tomb)
		memcpy(e->rec, rec, len);
	if (ver > n->counter)
		n->counter = ver;
}

/* ---- transfer pushes ---- */

/* Whether node's view lists sim node i, any life (a push goes to an
 * address: a new life there answers it, as ctl_rebalance.c's acks). */
static bool in_view_any_life(const struct sim *s, uint32_t node, uint32_t i)
{
	const struct sim_znode *n = &s->sess->n[node];

	for (uint32_t j = 0; j < n->n_mem; j++)
		if (sim_dmember_node(s, &n->mem[j]) == i)
			return true;
	return false;
}

/* ctl_rebalance.c's dests_alive: every owner of a segment this node gives
 * away (the job's destinations) is ALIVE in its SWIM table. */
static bool push_dests_alive(const struct sim *s, uint32_t node)
{
	const struct sim_znode *n = &s->sess->n[node];
	bool dest[SIM_ZMAX_NODES * 2] = { false };

	for (uint32_t seg = 0; seg < SIM_ZSEGS; seg++)
		if (!sim_zowns(n, seg))
			for (uint32_t k = 0; k < n->owners; k++)
				dest[n->seg[seg * n->owners + k]] = true;
	for (uint32_t j = 0; j < n->n_mem; j++)
		if (dest[j] && j != n->self && member_state(s, node, j) != WEFT_SWIM_ALIVE)
			return false;
	return true;
}

static void xfer_send(struct sim *s, uint32_t node, const struct sim_zxfer *x)
{
	const struct sim_zent *e = &s->sess->n[node].ent[x->sess];
	struct sim_zev ev = { .kind = SIM_ZE_REPL, .src = node, .dst = x->node, .sess = x->sess,
			      .rid = x->rid, .ver = e->ver, .tomb = e->state == 2, .xfer = 1,
			      .rec_len = e->len };

	memcpy(ev.rec, e->rec, e->len);
	sim_zsend(s, &ev);
}

static void xfer_add(struct sim *s, uint32_t node, uint32_t to, uint32_t sess)
{
	struct sim_znode *n = &s->sess->n[node];

	for (uint32_t i = 0; i < n->n_xf; i++)
		if (n->xf[i].node == to && n->xf[i].sess == sess) {
			n->xf[i].next_us = s->now;    /* resend the current entry */
			return;
		}
	if (n->n_xf == SIM_ZMAX * SIM_ZOWNERS * 2) {
		sim_fail(s, "(4) n%u: %u state-transfer pushes in flight", node, n->n_xf);
		return;
	}
	struct sim_zxfer *x = &n->xf[n->n_xf++];

	*x = (struct sim_zxfer){ to, sess, ++n->next_rid, s->now + SIM_ZXFER_RTO_US };
	xfer_send(s, node, x);
}

/* Whether view members v (n_v) list sim node i's current life. */
static bool listed(const struct sim *s, const struct weft_swim_view_member *v, uint32_t n_v,
		   uint32_t i)
{
	for (uint32_t j = 0; j < n_v; j++)
		if (sim_dmember_node(s, &v[j]) == i && s->node[i].nonce == v[j].nonce)
			return true;
	return false;
}

/* The sim nodes owning seg in node's view, itself excluded. */
static uint32_t owner_nodes(const struct sim *s, uint32_t node, uint32_t seg, uint32_t *out)
{
	const struct sim_znode *n = &s->sess->n[node];
	uint32_t k = 0;

	for (uint32_t o = 0; o < n->owners; o++) {
		uint32_t j = n->seg[seg * n->owners + o], i;

		if (j == n->self || (i = sim_dmember_node(s, &n->mem[j])) == SIM_NONE)
			continue;
		out[k++] = i;
	}
	return k;
}

/* ---- the at-most-once table (dp_dedup.c) ---- */

#define SIM_ZDEDUP_INFLIGHT UINT16_MAX

static bool dedup_find(const struct sim_znode *n, uint64_t op, uint16_t *st)
{
	uint32_t m = n->n_dedup < SIM_ZDEDUP ? n->n_dedup : SIM_ZDEDUP;

	for (uint32_t i = 0; i < m; i++)
		if (n->dedup_op[i] == op) {
			*st = n->dedup_st[i];
			return true;
		}
	return false;
}

/* Claims op (in flight) or finishes it with its answer's status. */
static void dedup_set(struct sim_znode *n, uint64_t op, uint16_t st)
{
	uint32_t m = n->n_dedup < SIM_ZDEDUP ? n->n_dedup : SIM_ZDEDUP;

	for (uint32_t i = 0; i < m; i++)
		if (n->dedup_op[i] == op) {
			n->dedup_st[i] = st;
			return;
		}
	n->dedup_op[n->n_dedup % SIM_ZDEDUP] = op;
	n->dedup_st[n->n_dedup++ % SIM_ZDEDUP] = st;
}

/* ---- replication (dp_rpc.c) ---- */

/* The final answer of an op (held or not): a claimed action's entry is
 * finished with it (dp_answer_final), so a repeat gets the same answer. */
static void answer_send(struct sim *s, struct sim_zev *ans)
{
	if (ans->src < s->o.nodes && ans->op != 0 &&
	    !weft_wire_session_action_is_idempotent(ans->action))
		dedup_set(&s->sess->n[ans->src], ans->op, ans->status);
	ans->kind = SIM_ZE_RESP;
	sim_zsend(s, ans);
}

static void hold_slot(struct sim *s, uint32_t node, struct sim_zhold *h, uint32_t to)
{
	struct sim_znode *n = &s->sess->n[node];

	for (uint32_t k = 0; k < h->n_slot; k++)
		if (h->slot[k].node == to)
			return;
	if (h->n_slot == SIM_ZOWNERS * 2)
		return;
	struct sim_zslot *sl = &h->slot[h->n_slot++];

	*sl = (struct sim_zslot){ to, ++n->next_rid, s->now + SIM_ZRTO0_US, SIM_ZRTO0_US };
	const struct sim_zent *e = &n->ent[h->ans.sess];
	struct sim_zev ev = { .kind = SIM_ZE_REPL, .src = node, .dst = to, .sess = h->ans.sess,
			      .rid = sl->rid, .ver = e->ver, .tomb = e->state == 2,
			      .rec_len = e->len };

	memcpy(ev.rec, e->rec, e->len);
	sim_zsend(s, &ev);
}

/* Hold hi of node after a view change: the slots whose peer the view
 * (members v, n_v) no longer lists are dropped. With `table` (a view that
 * lists node) the segment's owners in node's view are targets too, and a
 * hold waits for them; without (a view without node: no table, dp_rpc.c
 * peer_gone finds no target) a hold left with no slot is answered
 * (hold_slot_done). False when it was answered (hold hi then holds
 * another). */
static bool hold_retarget(struct sim *s, uint32_t node, uint32_t hi,
			  const struct weft_swim_view_member *v, uint32_t n_v, bool table)
{
	struct sim_znode *n = &s->sess->n[node];
	struct sim_zhold *h = &n->hold[hi];
	uint32_t to[SIM_ZOWNERS], k;

	for (uint32_t q = 0; q < h->n_slot;)
		if (!listed(s, v, n_v, h->slot[q].node))
			h->slot[q] = h->slot[--h->n_slot];
		else
			q++;
	if (table) {
		k = owner_nodes(s, node, sess_seg(s, h->ans.sess), to);
		for (uint32_t i = 0; i < k; i++)
			hold_slot(s, node, h, to[i]);
		return true;
	}
	if (h->n_slot > 0)
		return true;
	answer_send(s, &h->ans);
	*h = n->hold[--n->n_hold];
	return false;
}

/* A stored change: replicate to the owners of node's view, answer after. */
static void replicate(struct sim *s, uint32_t node, const struct sim_zev *ans)
{
	struct sim_znode *n = &s->sess->n[node];
	uint32_t to[SIM_ZOWNERS], k;

	if (n->n_hold == SIM_ZHOLDS) {
		sim_fail(s, "(4) n%u holds %u answers (dp_rpc's bound)", node, n->n_hold);
		return;
	}
	struct sim_zhold *h = &n->hold[n->n_hold++];

	*h = (struct sim_zhold){ .ans = *ans, .first_us = s->now };
	k = owner_nodes(s, node, sess_seg(s, ans->sess), to);
	for (uint32_t i = 0; i < k; i++)
		hold_slot(s, node, h, to[i]);
	if (h->n_slot == 0) {
		answer_send(s, &h->ans);
		*h = n->hold[--n->n_hold];
	}
}

void sim_zon_ack(struct sim *s, const struct sim_zev *ev)
{
	struct sim_znode *n = &s->sess->n[ev->dst];

	for (uint32_t hi = 0; hi < n->n_hold; hi++) {
		struct sim_zhold *h = &n->hold[hi];

		for (uint32_t k = 0; k < h->n_slot; k++) {
			if (h->slot[k].rid != ev->rid || h->slot[k].node != ev->src)
				continue;
			h->slot[k] = h->slot[--h->n_slot];
			if (h->n_slot == 0) {
				answer_send(s, &h->ans);
				n->hold[hi] = n->hold[--n->n_hold];
			}
			return;
		}
	}
	for (uint32_t i = 0; i < n->n_xf; i++)
		if (n->xf[i].rid == ev->rid && n->xf[i].node == ev->src) {
			n->xf[i] = n->xf[--n->n_xf];
			return;
		}
}

void sim_zon_repl(struct sim *s, const struct sim_zev *ev)
{
	struct sim_znode *n = &s->sess->n[ev->dst];
	struct sim_zev ack = { .kind = SIM_ZE_ACK, .src = ev->dst, .dst = ev->src, .rid = ev->rid };

	if (ev->ver > n->ent[ev->sess].ver)
		store(s, ev->dst, ev->sess, ev->ver, ev->tomb, ev->rec, ev->rec_len);
	sim_zsend(s, &ack);
}

/* ---- serving (dp_sess.c) ---- */

static void forward(struct sim *s, uint32_t node, const struct sim_zev *req, uint32_t j)
{
	struct sim_zev f = *req;

	f.src = node;
	f.dst = sim_dmember_node(s, &s->sess->n[node].mem[j]);
	f.flags_node = 1;
	f.to_nonce = s->sess->n[node].mem[j].nonce;
	if (f.dst != SIM_NONE)
		sim_zsend(s, &f);
}

/* A retransmitted read (GET, LIST, LOAD, TOUCH) on a live record: its
 * first attempt's slack write may still be held, so it is replicated again
 * and held, never answered at once (dp_sess.c retried_read). */
static bool retried_read(const struct sim_zev *req, const struct sim_zent *e,
			 const struct weft_sess_result *res)
{
	if (!req->retry || e->state != 1)
		return false;
	if (res->status != WEFT_ST_OK && res->status != WEFT_ST_NOT_FOUND)
		return false;
	return req->action == WEFT_SESS_GET || req->action == WEFT_SESS_LIST ||
	       req->action == WEFT_SESS_LOAD || req->action == WEFT_SESS_TOUCH;
}

static void serve(struct sim *s, uint32_t node, const struct sim_zev *req)
{
	struct sim_sess_layer *L = s->sess;
	struct sim_znode *n = &L->n[node];
	struct sim_zent *e = &n->ent[req->sess];
	uint32_t seg = sess_seg(s, req->sess);
	bool amo = !weft_wire_session_action_is_idempotent(req->action);
	struct sim_zev ans = { .src = node, .dst = req->entry, .entry = req->entry,
			       .dst_nonce = req->dst_nonce, .sess = req->sess, .op = req->op,
			       .action = req->action, .apply_us = s->now, .served_by = node,
			       .attr = req->attr, .seen_ver = req->seen_ver };
	uint16_t st;

	ans.no_table = !n->in_view ||
		       (req->flags_node && req->to_nonce != s->node[node].nonce);
	if (amo && dedup_find(n, req->op, &st)) {
		if (st == SIM_ZDEDUP_INFLIGHT)
			return;           /* being replicated: dropped (DP_DEDUP_INFLIGHT) */
		ans.status = st;
		answer_send(s, &ans);
		return;
	}
	if (e->state == 0 && req->action != WEFT_SESS_CREATE && n->rt_until_us > s->now &&
	    n->rt[seg] != WEFT_DP_READ_THROUGH_NONE && acting_primary(s, node, seg) == n->self) {
		if (member_live(s, node, n->rt[seg])) {
			L->read_through++;
			sim_ztrace(s, node, SIM_ZT_RT, req->sess, req->op,
				   sim_dmember_node(s, &n->mem[n->rt[seg]]));
			forward(s, node, req, n->rt[seg]);
			return;
		}
		if (member_state(s, node, n->rt[seg]) == WEFT_SWIM_DEAD) {
			/* the old owner is down: BUSY, the at-most-once entry
			 * finished with it (dp_route_sess_read_through) */
			L->rt_busy++;
			sim_ztrace(s, node, SIM_ZT_RTBUSY, req->sess, req->op,
				   sim_dmember_node(s, &n->mem[n->rt[seg]]));
			ans.status = WEFT_ST_BUSY;
			answer_send(s, &ans);
			return;
		}
	}
	/* the request, as dp_sess.c builds it */
	struct weft_x_session x = { .action = req->action, .max_inactive_s = req->max_inactive_s };
	uint8_t value[2 + 8];
	uint32_t vlen = 0;

	if (req->action == WEFT_SESS_GET || req->action == WEFT_SESS_SET ||
	    req->action == WEFT_SESS_REMOVE) {
		value[0] = 'a';
		value[1] = (uint8_t)('0' + req->attr);
		vlen = 2;
		if (req->action == WEFT_SESS_SET) {
			x.attr_len = 2;
			memcpy(value + 2, &req->val, 8);
			vlen = 10;
		}
	}
	struct weft_sess_result res;
	uint64_t now_ms = sim_zwall_ms(s, node, s->now);

	if (weft_sess_apply(e->state == 1 ? e->rec : NULL, e->state == 1 ? e->len : 0, &x, value,
			    vlen, now_ms, &res) != 0) {
		sim_fail(s, "weft_sess_apply: out of memory");
		return;
	}
	ans.status = res.status;
	sim_ztrace(s, node, SIM_ZT_SERVE, req->sess, req->op,
		   (uint64_t)req->action << 32 | res.status << 8 | res.outcome);
	if (res.answer && req->action == WEFT_SESS_GET && res.answer_len == res.answer_extras_len + 8u)
		memcpy(&ans.val, res.answer + res.answer_extras_len, 8);
	if (req->action != WEFT_SESS_INFO && req->action != WEFT_SESS_EXPIRE &&
	    (res.status == WEFT_ST_OK || res.status == WEFT_ST_NOT_FOUND))
		sim_zmodel_access(s, req->sess);
	if (res.event == WEFT_SESSION_EXPIRED) {
		L->expired++;
		sim_ztrace(s, node, SIM_ZT_EXPIRE, req->sess, req->op, req->action);
		sim_zmodel_expired(s, node, req->sess);
	}
	L->slack_writes += res.slack_write;
	if (res.outcome != WEFT_SESS_UNCHANGED) {
		uint64_t v = now_ms << 20;

		v = v > n->counter ? v : n->counter + 1;
		if (res.outcome == WEFT_SESS_STORE && res.record_len > SIM_ZREC) {
			sim_fail(s, "a session record of %u bytes (model holds %u)", res.record_len,
				 SIM_ZREC);
			weft_sess_result_free(&res);
			return;
		}
		store(s, node, req->sess, v, res.outcome == WEFT_SESS_DELETE, res.record,
		      res.record_len);
		ans.ver = v;
	}
	if (amo)     /* claimed before anything is stored, finished by the answer */
		dedup_set(n, req->op, SIM_ZDEDUP_INFLIGHT);
	if (res.outcome == WEFT_SESS_UNCHANGED && retried_read(req, e, &res)) {
		L->retry_writes++;    /* the record as it is, held until acked */
		ans.ver = e->ver;     /* the access acked is in that version */
		replicate(s, node, &ans);
	} else if (res.outcome == WEFT_SESS_UNCHANGED) {
		answer_send(s, &ans);
	} else {
		replicate(s, node, &ans);
	}
	weft_sess_result_free(&res);
}

/* Refused BUSY, nothing applied (dp_route.c busy). */
static void refuse(struct sim *s, uint32_t node, const struct sim_zev *req)
{
	struct sim_zev ans = { .src = node, .dst = req->entry, .entry = req->entry,
			       .dst_nonce = req->dst_nonce, .sess = req->sess, .op = req->op,
			       .action = req->action, .apply_us = s->now, .served_by = node,
			       .attr = req->attr, .status = WEFT_ST_BUSY };

	s->sess->refused++;
	sim_ztrace(s, node, SIM_ZT_REFUSED, req->sess, req->op, req->flags_node);
	ans.kind = SIM_ZE_RESP;           /* before any claim: nothing remembered */
	sim_zsend(s, &ans);
}

/* A request at node: from its visitor (or its own expiry pass), or
 * forwarded by another node (WEFT_F_NODE: served here whatever the table,
 * but a CREATE for a segment this node does not own). A node in no view
 * yet, or outside its view, refuses both (dp_route.c sess_refused). */
void sim_zon_req(struct sim *s, uint32_t node, const struct sim_zev *req)
{
	struct sim_znode *n = &s->sess->n[node];
	uint32_t p;

	if (!n->in_view || n->outside) {   /* no table: BUSY (dp_route.c sess_refused) */
		refuse(s, node, req);
		return;
	}
	if (req->flags_node) {
		if (req->action == WEFT_SESS_CREATE && n->n_mem > 1 &&
		    !sim_zowns(n, sess_seg(s, req->sess)))
			refuse(s, node, req);
		else
			serve(s, node, req);
		return;
	}
	p = acting_primary(s, node, sess_seg(s, req->sess));
	if (p == n->self) {
		serve(s, node, req);
	} else if (p != SIM_NONE) {
		s->sess->fwd++;
		sim_ztrace(s, node, SIM_ZT_FWD, req->sess, req->op,
			   sim_dmember_node(s, &n->mem[p]));
		forward(s, node, req, p);
	}
}

void sim_zsubmit(struct sim *s, uint32_t entry, const struct sim_zev *req)
{
	struct sim_zev r = *req;

	r.kind = SIM_ZE_REQ;
	r.src = r.dst = r.entry = entry;
	r.dst_nonce = s->node[entry].nonce;
	sim_zpush(s, s->now + 50, r);          /* app instance -> its node: local */
}

/* ---- views ---- */

void sim_zon_view(struct sim *s, uint32_t node, const struct weft_swim_event *ev)
{
	struct sim_sess_layer *L = s->sess;
	struct sim_znode *n = &L->n[node];
	uint32_t self = SIM_NONE;

	for (uint32_t j = 0; j < ev->n_view; j++)
		if (!memcmp(&ev->view[j].id, &s->node[node].id, sizeof(ev->view[j].id)) &&
		    ev->view[j].nonce == s->node[node].nonce)
			self = j;
	if (ev->n_view > SIM_ZMAX_NODES * 2 || weft_swim_view_id_cmp(&ev->view_id, &n->view_id) == 0)
		return;
	if (self == SIM_NONE) {
		/* A view without this life: ctl_cluster.c publishes it with
		 * self NONE, so the node serves no SESSION op (dp_route.c
		 * sess_refused) until a view lists it again; its rebalancer
		 * does not follow it; held replications to members it drops
		 * end with no new target (no table: dp_rpc.c peer_gone). */
		if (!n->in_view)
			return;
		if (!n->outside)
			sim_ztrace(s, node, SIM_ZT_OUTSIDE, SIM_ZMAX, ev->view_id.counter,
				   ev->n_view);
		n->outside = true;
		for (uint32_t hi = 0; hi < n->n_hold;)
			hi += hold_retarget(s, node, hi, ev->view, ev->n_view, false);
		return;
	}
	n->outside = false;
	/* the previous view, for the read-through targets (ctl_cluster.c) */
	if (n->in_view) {
		memcpy(n->prev_mem, n->mem, n->n_mem * sizeof(*n->mem));
		memcpy(n->prev_seg, n->seg, sizeof(n->seg));
		n->prev_n = n->n_mem;
		n->prev_owners = n->owners;
	}
	n->view_id = ev->view_id;
	n->n_mem = ev->n_view;
	n->self = self;
	memcpy(n->mem, ev->view, ev->n_view * sizeof(*ev->view));
	L->scratch.owner = n->seg;
	if (weft_swim_seg_compute(ev->view, ev->n_view, SIM_ZSEGS, SIM_ZOWNERS, &L->scratch)) {
		sim_fail(s, "weft_swim_seg_compute failed");
		return;
	}
	n->owners = L->scratch.owners;
	struct weft_ctl_topo nt = { .n = n->n_mem, .members = n->mem, .n_segments = SIM_ZSEGS,
				    .owners = n->owners, .seg_owner = n->seg };
	struct weft_ctl_topo ot = { .n = n->prev_n, .members = n->prev_mem,
				    .n_segments = SIM_ZSEGS, .owners = n->prev_owners,
				    .seg_owner = n->prev_seg };
	if (!n->in_view && n->n_mem > 1) {   /* joined: the others' view without us */
		struct weft_swim_seg_table t = { .owner = n->prev_seg };

		for (uint32_t i = 0, j = 0; i < n->n_mem; i++)
			if (i != self)
				n->prev_mem[j++] = n->mem[i];
		if (weft_swim_seg_compute(n->prev_mem, n->n_mem - 1, SIM_ZSEGS, SIM_ZOWNERS, &t)) {
			sim_fail(s, "weft_swim_seg_compute failed");
			return;
		}
		ot.n = n->n_mem - 1;
		ot.owners = t.owners;
	}
	bool alive[SIM_ZMAX_NODES * 2];         /* ctl_cluster.c's cl->live */

	for (uint32_t j = 0; j < n->n_mem; j++)
		alive[j] = member_state(s, node, j) == WEFT_SWIM_ALIVE;
	weft_ctl_read_through(ot.n > 0 ? &ot : NULL, &nt, self, alive, n->rt);
	n->rt_until_us = s->now + SIM_ZRT_US;
	n->in_view = true;
	sim_ztrace(s, node, SIM_ZT_VIEW, SIM_ZMAX, ev->view_id.counter, ev->n_view);
	/* held answers: targets gone from the view are replaced (dp_rpc_tick) */
	for (uint32_t hi = 0; hi < n->n_hold;)
		hi += hold_retarget(s, node, hi, n->mem, n->n_mem, true);
	/* state transfer: push every entry to the owners of its segment */
	for (uint32_t z = 0; z < L->n_z && !s->failed; z++) {
		uint32_t to[SIM_ZOWNERS], k;

		n->ent[z].push_ver = n->ent[z].state ? n->ent[z].ver : 0;
		if (!n->ent[z].state)
			continue;
		k = owner_nodes(s, node, sess_seg(s, z), to);
		for (uint32_t i = 0; i < k; i++)
			xfer_add(s, node, to[i], z);
	}
	n->drop_pending = true;
	n->drop_wait = false;
}

/* ---- the tick: retransmissions, drops, tombstones, expiry pass ---- */

void sim_znode_tick(struct sim *s, uint32_t node)
{
	struct sim_sess_layer *L = s->sess;
	struct sim_znode *n = &L->n[node];

	for (uint32_t hi = 0; hi < n->n_hold;) {
		struct sim_zhold *h = &n->hold[hi];

		if (s->now - h->first_us >= SIM_ZGIVE_UP_US) {
			L->busy++;
			sim_ztrace(s, node, SIM_ZT_BUSY, h->ans.sess, h->ans.op, 0);
			h->ans.status = WEFT_ST_BUSY;
			answer_send(s, &h->ans);
			*h = n->hold[--n->n_hold];
			continue;
		}
		for (uint32_t k = 0; k < h->n_slot; k++) {
			struct sim_zslot *sl = &h->slot[k];
			const struct sim_zent *e = &n->ent[h->ans.sess];

			if (s->now < sl->next_us)
				continue;
			sl->rto_us = sl->rto_us * 2 > SIM_ZRTO_MAX_US ? SIM_ZRTO_MAX_US : sl->rto_us * 2;
			sl->next_us = s->now + sl->rto_us;
			struct sim_zev ev = { .kind = SIM_ZE_REPL, .src = node, .dst = sl->node,
					      .sess = h->ans.sess, .rid = sl->rid, .ver = e->ver,
					      .tomb = e->state == 2, .rec_len = e->len };
			memcpy(ev.rec, e->rec, e->len);
			sim_zsend(s, &ev);
		}
		hi++;
	}
	for (uint32_t i = 0; i < n->n_xf;) {
		struct sim_zxfer *x = &n->xf[i];

		if (!in_view_any_life(s, node, x->node)) {
			*x = n->xf[--n->n_xf];       /* the destination left the view */
			continue;
		}
		if (s->now >= x->next_us) {
			x->next_us = s->now + SIM_ZXFER_RTO_US;
			xfer_send(s, node, x);
		}
		i++;
	}
	if (n->drop_pending && n->n_xf == 0 && !n->drop_wait) {
		n->drop_wait = true;
		n->drop_due_ms = s->now / 1000 + WEFT_CTL_DROP_GRACE_MS;
	}
	if (n->drop_wait)
		n->drop_due_ms = weft_ctl_drop_due(n->drop_due_ms, push_dests_alive(s, node),
						   s->now / 1000);
	if (n->drop_wait && s->now / 1000 >= n->drop_due_ms) {
		n->drop_pending = false;
		n->drop_wait = false;
		for (uint32_t z = 0; z < L->n_z; z++)
			if (n->ent[z].state && !sim_zowns(n, sess_seg(s, z)) &&
			    n->ent[z].ver == n->ent[z].push_ver) {
				sim_ztrace(s, node, SIM_ZT_DROP, z, n->ent[z].state, 0);
				n->ent[z].state = 0;
				n->ent[z].ver = 0;
			}
	}
	for (uint32_t z = 0; z < L->n_z; z++)
		if (n->ent[z].state == 2 && s->now - n->ent[z].tomb_us >= SIM_ZTOMB_US) {
			n->ent[z].state = 0;        /* the tombstone is reclaimed */
			n->ent[z].ver = 0;
		}
	if (s->now < n->next_pass_us)
		return;
	n->next_pass_us = s->now + SIM_ZPASS_US;
	uint64_t now_ms = sim_zwall_ms(s, node, s->now);
	uint32_t sent = 0;

	for (uint32_t z = 0; z < L->n_z && sent < 256; z++) {
		struct weft_sess_record r;

		if (n->ent[z].state != 1 || weft_sess_decode(n->ent[z].rec, n->ent[z].len, &r) ||
		    now_ms < weft_sess_deadline_ms(&r.hdr))
			continue;
		struct sim_zev req = { .sess = z, .action = WEFT_SESS_EXPIRE, .op = ++L->next_op_id,
				       .seen_ver = n->ent[z].ver };

		sent++;
		sim_zsubmit(s, node, &req);
	}
}

/* The answer to node's own EXPIRE (ctl_sessions.c expire_due): NO_SESSION
 * discards the node's due copy, owner or not, up to the version the pass
 * saw (ctl_sessions_discard_due: the primary is authoritative). */
void sim_zon_expire_answer(struct sim *s, const struct sim_zev *a)
{
	struct sim_znode *n = &s->sess->n[a->dst];
	struct sim_zent *e = &n->ent[a->sess];

	if (a->status != WEFT_ST_NO_SESSION || e->state == 0 || e->ver > a->seen_ver)
		return;
	s->sess->discarded++;
	sim_ztrace(s, a->dst, SIM_ZT_STRAY, a->sess, e->state, e->ver);
	e->state = 0;
	e->ver = 0;
}
