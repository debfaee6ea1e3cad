/*
 * sim_msg_node.c — what dataplane/dp_msg*.c does on one node, over the
 * node's real msg/ registry, with the same rules:
 *
 *  - PUBLISH and ACK are served by the destination's primary (the first
 *    owner of its segment in the node's table; a node alone or without a
 *    table is primary of everything); elsewhere NOT_OWNER (weftd forwards
 *    a PUBLISH: not modelled, counted). A write whose co-owner's address is
 *    unknown is refused BUSY before anything is applied (dp_msg.c
 *    owner_unknown). The records the op made (the sink's record calls) go
 *    to the other owners as MSG_REPL; the op is answered OK only once each
 *    of them acked (finish(): a held replication, retargeted to the new
 *    owners when a target leaves the view, BUSY after 5 s).
 *  - MSG_REPL is applied record by record (weft_dest_apply), creating the
 *    destination, on whatever node it reaches; TOPIC_JOIN is served by the
 *    topic's primary (weft_topic_join, then a pump); TOPIC_DELIVER hands a
 *    batch to the local subscriptions (weft_topic_local_deliver).
 *  - The pass (dp_msg_tick.c, every 50 ms or at once when the view moved):
 *    on a new view, state transfer (sim_msg_xfer.c). Then, per destination: the role reconciled
 *    with the view (weft_dest_set_role), weft_dest_tick, and for topics the
 *    join (every WEFT_TOPIC_JOIN_MS) and the pump (one TOPIC_DELIVER batch
 *    in flight per subscriber node; this node's own subscriptions by call).
 *    Records made by timers go out without a client waiting.
 *
 * Durable subscriptions, DEST_OPEN/STOP, TTLs and quorum are not modelled.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim_msg.h"

#define NODE_IP(i) (0x0a000000u | (i))

void sim_mcoll_add(struct sim_mcoll *c, uint32_t dest, const struct sim_mrec *r)
{
	if (c->n == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 64;
		uint32_t *d = realloc(c->dest, cap * sizeof(*d));
		struct sim_mrec *rr;

		if (d)
			c->dest = d;
		rr = realloc(c->r, cap * sizeof(*rr));
		if (rr)
			c->r = rr;
		if (!d || !rr) {
			c->oom = true;
			return;
		}
		c->cap = cap;
	}
	c->dest[c->n] = dest;
	c->r[c->n++] = *r;
}

void sim_mcoll_free(struct sim_mcoll *c)
{
	free(c->dest);
	free(c->r);
	memset(c, 0, sizeof(*c));
}

uint32_t sim_mpub_of(const struct weft_msg *m)
{
	uint64_t p = UINT64_MAX;

	if (m->body_len == sizeof(p))
		memcpy(&p, m->data + m->props_len, sizeof(p));
	return p < SIM_MMAX_PUBS ? (uint32_t)p : SIM_NONE;
}

static void sink_deliver(void *ctx, struct weft_dest *d, const struct weft_delivery *dl)
{
	struct sim_msink *k = ctx;

	(void)d;
	sim_mclient_delivery(k->s, k->node, dl);
}

static void sink_record(void *ctx, struct weft_dest *d, const char *sub, size_t sub_len,
			uint8_t kind, const struct weft_msg *m, uint64_t id)
{
	struct sim_msink *k = ctx;
	struct sim_mrec r = { .kind = kind, .id = m ? m->id : id,
			      .expires = m ? m->expires_ms : 0,
			      .p = m ? sim_mpub_of(m) : 0 };
	uint32_t dest = sim_mdest_index(d);

	(void)sub;
	if (sub_len || dest == SIM_NONE) {
		sim_fail(k->s, "n%u: a record of an unknown destination or a durable "
			 "subscription (not modelled)", k->node);
		return;
	}
	sim_mcoll_add(k->c, dest, &r);
}

struct weft_msg_sink sim_msink_make(struct sim_msink *k)
{
	return (struct weft_msg_sink){ k, sink_deliver, sink_record };
}

/* Sends the records of c (grouped by destination, SIM_MREC_BATCH each) to
 * the other owners: the first message as the held replication of hold hi
 * (SIM_NONE: none), the others as notifies. */
void sim_mflush(struct sim *s, uint32_t node, struct sim_mcoll *c, uint32_t hi)
{
	for (uint32_t i = 0; i < c->n;) {
		uint32_t j = i, to[SIM_MOWNERS], nt;
		struct sim_mmsg *m;

		while (j < c->n && c->dest[j] == c->dest[i] && j - i < SIM_MREC_BATCH)
			j++;
		m = sim_mmsg_new(SIM_MM_REPL, c->dest[i], j - i);
		if (!m) {
			sim_fail(s, "out of memory for a MSG_REPL");
			return;
		}
		memcpy(m->r, &c->r[i], (j - i) * sizeof(m->r[0]));
		nt = sim_mtargets(s, node, c->dest[i], to);
		for (uint32_t k = 0; k < nt; k++) {
			if (hi != SIM_NONE) {
				if (sim_mrpc(s, node, to[k], m, SIM_MS_HELD, 0, hi, 0) != 0)
					s->msgl->n[node].hold[hi].failed = true;
			} else {
				sim_mrpc(s, node, to[k], m, SIM_MS_NOTIFY, SIM_MN_ASYNC, 0, 0);
			}
		}
		hi = SIM_NONE;
		free(m);
		i = j;
	}
	c->n = 0;
}

/* dp_msg.c finish(): h (used, waiting 0) is answered once every target
 * acked the op's records; at once when there is none. */
static void finish(struct sim *s, uint32_t node, uint32_t hi, struct sim_mcoll *c)
{
	struct sim_mnode *mn = &s->msgl->n[node];
	struct sim_mhold *h = &mn->hold[hi];
	uint32_t to[SIM_MOWNERS];

	h->waiting = 1;             /* guard while the slots are made */
	if (c->n && sim_mtargets(s, node, h->dest, to))
		sim_mflush(s, node, c, hi);
	h->copies = h->waiting;     /* this node + the targets sent to */
	sim_mhold_slot_done(s, node, hi, true);
}

static bool write_refused(struct sim *s, uint32_t node, uint32_t dest)
{
	uint32_t to[SIM_MOWNERS], n;

	if (!sim_mis_primary(s, node, dest)) {
		s->msgl->not_owner++;
		sim_mtrace(s, node, SIM_MT_NOT_OWNER, dest, 0);
		return true;
	}
	n = sim_mtargets(s, node, dest, to);
	for (uint32_t k = 0; k < n; k++)
		if (to[k] == SIM_NONE) {        /* owner_unknown: BUSY */
			s->msgl->busy++;
			sim_mtrace(s, node, SIM_MT_NOT_OWNER, dest, 1);
			return true;
		}
	return false;
}

static void pump(struct sim *s, uint32_t node, uint32_t dest);

void sim_mnode_publish(struct sim *s, uint32_t node, uint32_t dest, uint32_t p)
{
	struct sim_msg_layer *L = s->msgl;
	struct sim_mcoll c = { 0 };
	struct sim_msink k = { s, node, &c };
	struct weft_msg_sink sink = sim_msink_make(&k);
	uint64_t now = sim_mnow_ms(s, node), body = p;
	struct weft_dest *d;
	struct weft_msg *m;
	uint32_t hi;
	int rc;

	if (write_refused(s, node, dest))
		return;
	hi = sim_mhold_new(s, node);
	d = sim_mdest(s, node, dest);
	if (hi == SIM_NONE || !d) {
		if (hi != SIM_NONE) {
			L->n[node].hold[hi].used = false;
			L->n[node].n_holds--;
		}
		L->busy++;
		return;
	}
	weft_dest_lock(d);
	m = weft_msg_new(weft_dest_next_id(d, now), 0, NULL, 0, &body, sizeof(body));
	if (m) {   /* known before publish: waiting consumers get it at once */
		L->pub[p].id = m->id;
		L->pub[p].primary = node;
		L->pub[p].accepted_us = s->now;
	}
	rc = m ? weft_dest_publish(d, now, m, &sink) : -ENOMEM;
	weft_dest_unlock(d);
	if (rc < 0) {
		L->pub[p].id = 0;
		L->n[node].hold[hi].used = false;
		L->n[node].n_holds--;
		if (rc == -ENOSPC) {
			L->full++;
			sim_mtrace(s, node, SIM_MT_FULL, dest, p);
		} else {
			sim_fail(s, "n%u: weft_dest_publish(%s): %d", node,
				 sim_mdest_name(dest, &(size_t){ 0 }), rc);
		}
		weft_msg_unref(m);
		sim_mcoll_free(&c);
		return;
	}
	weft_msg_unref(m);
	sim_mtrace(s, node, SIM_MT_PUBLISH, p, L->pub[p].id);
	struct sim_mhold *h = &L->n[node].hold[hi];

	h->dest = dest;
	h->seg = sim_mdest_seg(dest);
	h->n_p = 1;
	h->p[0] = p;
	finish(s, node, hi, &c);
	sim_mcoll_free(&c);
	if (sim_mdest_topic(dest))
		pump(s, node, dest);
}

void sim_mnode_ack(struct sim *s, uint32_t node, uint32_t cons, const uint32_t *p,
		   const uint64_t *ids, const uint8_t *kinds, uint32_t n)
{
	struct sim_msg_layer *L = s->msgl;
	uint32_t dest = L->cons[cons].dest, hi;
	struct sim_mcoll c = { 0 };
	struct sim_msink k = { s, node, &c };
	struct weft_msg_sink sink = sim_msink_make(&k);
	uint64_t now = sim_mnow_ms(s, node);
	struct weft_dest *d;
	struct sim_mhold *h;

	if (write_refused(s, node, dest))
		return;
	hi = sim_mhold_new(s, node);
	if (hi == SIM_NONE) {
		L->busy++;
		return;
	}
	h = &L->n[node].hold[hi];
	h->is_ack = true;
	h->dest = dest;
	h->seg = sim_mdest_seg(dest);
	d = sim_mdest(s, node, dest);
	weft_dest_lock(d);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t done = 0, unknown = 0;

		weft_dest_ack(d, now, L->cons[cons].consumer_id, NULL, 0,
			      (enum weft_ack_kind)kinds[i], &ids[i], 1, &done, &unknown, &sink);
		if (done && kinds[i] == WEFT_ACK_ACK && p[i] != SIM_NONE) {
			L->pub[p[i]].ack_applied = true;
			h->p[h->n_p++] = p[i];
			sim_mtrace(s, node, SIM_MT_ACK, p[i], ids[i]);
		}
	}
	weft_dest_unlock(d);
	finish(s, node, hi, &c);
	sim_mcoll_free(&c);
}

void sim_mnode_hold_end(struct sim *s, uint32_t node, struct sim_mhold *h, bool ok)
{
	struct sim_msg_layer *L = s->msgl;

	if (h->is_ack) {
		for (uint32_t i = 0; ok && i < h->n_p; i++) {
			struct sim_mpub *pb = &L->pub[h->p[i]];
			uint64_t mask = h->acked_mask | 1ull << node;

			pb->ack_acked_us = s->now;
			pb->n_ackers = 0;
			for (uint32_t j = 0; j < s->o.nodes && pb->n_ackers < 4; j++)
				if (mask & (1ull << j)) {
					pb->acker[pb->n_ackers] = j;
					pb->acker_life[pb->n_ackers++] = s->node[j].lives;
				}
			L->acks_acked++;
			sim_mtrace(s, node, SIM_MT_ACK_ACKED, h->p[i], 0);
		}
		return;
	}
	if (!ok) {
		L->gave_up++;
		sim_mtrace(s, node, SIM_MT_PUB_BUSY, h->p[0], 0);
		return;
	}
	struct sim_mpub *pb = &L->pub[h->p[0]];
	uint64_t mask = h->acked_mask | 1ull << node;

	pb->acked_us = s->now;
	for (uint32_t j = 0; j < s->o.nodes && pb->n_holders0 < 4; j++)
		if (mask & (1ull << j)) {
			pb->holder0[pb->n_holders0] = j;
			pb->holder0_life[pb->n_holders0++] = s->node[j].lives;
		}
	pb->r = (uint8_t)h->copies;
	L->pub_acked++;
	sim_mtrace(s, node, SIM_MT_PUB_ACKED, h->p[0], h->copies);
	if (pb->holders == 0)       /* fresh: not recounted yet */
		pb->holders = 1ull << node;
}

/* A RECEIVE at node for consumer cons (dp_msg.c serve_receive). */
int sim_mnode_receive(struct sim *s, uint32_t node, uint32_t cons, struct weft_delivery *dl)
{
	struct sim_msg_layer *L = s->msgl;
	struct sim_mcons *cs = &L->cons[cons];
	struct sim_mcoll c = { 0 };
	struct sim_msink k = { s, node, &c };
	struct weft_msg_sink sink = sim_msink_make(&k);
	uint8_t token[WEFT_MSG_TOKEN_LEN] = { 0 };
	struct weft_dest *d;
	unsigned before = 0, after = 0;
	int rc;

	if (!cs->topic && !sim_mis_primary(s, node, cs->dest))
		return -EPERM;             /* NOT_OWNER */
	d = sim_mdest(s, node, cs->dest);
	if (!d)
		return -ENOMEM;
	memcpy(token, &cons, sizeof(cons));
	memcpy(token + 4, &cs->wait_seq, sizeof(cs->wait_seq));
	struct weft_receive rq = { .consumer_id = cs->consumer_id, .max = 8,
				   .wait_ms = SIM_MWAIT_MS, .token = token };

	weft_dest_lock(d);
	if (cs->topic)
		before = weft_topic_local_subs(d);
	rc = weft_dest_receive(d, sim_mnow_ms(s, node), &rq, dl, &sink);
	if (cs->topic)
		after = weft_topic_local_subs(d);
	weft_dest_unlock(d);
	sim_mflush(s, node, &c, SIM_NONE);
	sim_mcoll_free(&c);
	if (before == 0 && after > 0)
		sim_mnode_join(s, node, cs->dest, after);
	return rc;
}

/* ---- node messages ---- */

static void answer(struct sim *s, const struct sim_mmsg *req, uint32_t type, uint16_t st,
		   uint64_t next_id)
{
	struct sim_mmsg a = { .type = type, .dest = req->dest, .rid = req->rid,
			      .status = st, .next_id = next_id };

	sim_mnet(s, req->dst, req->src, &a);
}

static void serve_repl(struct sim *s, const struct sim_mmsg *m)
{
	uint32_t node = m->dst;
	struct weft_dest *d = sim_mdest(s, node, m->dest);
	uint64_t now = sim_mnow_ms(s, node);
	uint16_t st = WEFT_ST_OK;

	if (!d)
		return;
	weft_dest_lock(d);
	for (uint32_t i = 0; i < m->n; i++) {
		const struct sim_mrec *r = &m->r[i];
		struct weft_msg *msg = NULL;
		int rc;

		if (r->kind == WEFT_MSGREC_APPEND) {
			msg = weft_msg_new(r->id, r->expires, NULL, 0, &r->p, sizeof(r->p));
			if (!msg) {
				st = WEFT_ST_NO_MEMORY;
				break;
			}
		}
		rc = weft_dest_apply(d, now, NULL, 0, r->kind, msg, r->id);
		weft_msg_unref(msg);
		if (rc < 0) {
			sim_fail(s, "n%u: weft_dest_apply(%s, kind %u, id %llx): %d", node,
				 sim_mdest_name(m->dest, &(size_t){ 0 }), r->kind,
				 (unsigned long long)r->id, rc);
			st = WEFT_ST_BAD_REQUEST;
			break;
		}
	}
	weft_dest_unlock(d);
	answer(s, m, SIM_MM_REPL_ACK, st, 0);
}

static void serve_join(struct sim *s, const struct sim_mmsg *m)
{
	uint32_t node = m->dst;
	struct weft_dest *d;
	uint64_t resume = 0;
	int rc;

	if (!sim_mis_primary(s, node, m->dest)) {
		answer(s, m, SIM_MM_JOINED, WEFT_ST_NOT_OWNER, 0);
		return;
	}
	d = sim_mdest(s, node, m->dest);
	if (!d)
		return;
	weft_dest_lock(d);
	rc = weft_topic_join(d, sim_mnow_ms(s, node), NODE_IP(m->src), SIM_PORT, m->next_id,
			     m->subs, &resume);
	weft_dest_unlock(d);
	answer(s, m, SIM_MM_JOINED, rc ? WEFT_ST_BUSY : WEFT_ST_OK, resume);
	pump(s, node, m->dest);
}

static void serve_deliver(struct sim *s, const struct sim_mmsg *m)
{
	uint32_t node = m->dst;
	struct weft_dest *d = sim_mdest(s, node, m->dest);
	struct weft_msg *msgs[WEFT_MAX_RECEIVE];
	struct sim_mcoll c = { 0 };
	struct sim_msink k = { s, node, &c };
	struct weft_msg_sink sink = sim_msink_make(&k);
	uint64_t next;
	uint32_t n = 0;

	if (!d || m->n > WEFT_MAX_RECEIVE)
		return;
	for (; n < m->n; n++) {
		msgs[n] = weft_msg_new(m->r[n].id, m->r[n].expires, NULL, 0, &m->r[n].p,
				       sizeof(m->r[n].p));
		if (!msgs[n])
			break;
	}
	if (n == m->n) {
		for (uint32_t i = 0; i < n; i++)
			sim_mfed(s, node, m->r[i].p, m->src);
		weft_dest_lock(d);
		next = weft_topic_local_deliver(d, sim_mnow_ms(s, node), msgs, n, m->dropped,
						&sink);
		weft_dest_unlock(d);
		answer(s, m, SIM_MM_TDELIVERED, WEFT_ST_OK, next);
	}
	for (uint32_t i = 0; i < n; i++)
		weft_msg_unref(msgs[i]);
	sim_mflush(s, node, &c, SIM_NONE);
	sim_mcoll_free(&c);
}

void sim_mnode_recv(struct sim *s, const struct sim_mmsg *m)
{
	switch (m->type) {
	case SIM_MM_REPL:
		serve_repl(s, m);
		break;
	case SIM_MM_JOIN:
		serve_join(s, m);
		break;
	case SIM_MM_TDELIVER:
		serve_deliver(s, m);
		break;
	}
}

/* ---- topics: pump and join (dp_msg_pump.c) ---- */

struct ready {
	uint32_t n;
	uint32_t ip[WEFT_MSG_NODES_MAX];
};

static void ready_fn(void *ctx, uint32_t ip, uint16_t port)
{
	struct ready *r = ctx;

	(void)port;
	if (r->n < WEFT_MSG_NODES_MAX)
		r->ip[r->n++] = ip;
}

static bool local_batch(struct sim *s, uint32_t node, struct weft_dest *d)
{
	struct weft_topic_batch b;
	struct sim_mcoll c = { 0 };
	struct sim_msink k = { s, node, &c };
	struct weft_msg_sink sink = sim_msink_make(&k);
	uint64_t now = sim_mnow_ms(s, node);
	bool got;

	weft_dest_lock(d);
	got = weft_topic_next_batch(d, now, NODE_IP(node), SIM_PORT, &b);
	if (got) {
		uint64_t next;

		for (uint32_t i = 0; i < b.n; i++)
			sim_mfed(s, node, sim_mpub_of(b.msg[i]), node);
		next = weft_topic_local_deliver(d, now, b.msg, b.n, b.dropped, &sink);

		weft_topic_batch_done(d, now, NODE_IP(node), SIM_PORT, true, next);
	}
	weft_dest_unlock(d);
	if (got)
		weft_topic_batch_free(&b);
	sim_mflush(s, node, &c, SIM_NONE);
	sim_mcoll_free(&c);
	return got;
}

static void pump(struct sim *s, uint32_t node, uint32_t dest)
{
	struct weft_dest *d = sim_mdest(s, node, dest);
	struct ready r = { 0 };

	if (!d)
		return;
	weft_dest_lock(d);
	if (weft_dest_role(d) == WEFT_ROLE_PRIMARY)
		weft_topic_foreach_ready_node(d, ready_fn, &r);
	weft_dest_unlock(d);
	for (uint32_t i = 0; i < r.n; i++) {
		uint32_t to = r.ip[i] & 0xffffu;
		struct weft_topic_batch b;
		bool got;

		if (r.ip[i] == NODE_IP(node)) {
			for (unsigned k = 0; k < 16 && local_batch(s, node, d); k++)
				;
			continue;
		}
		weft_dest_lock(d);
		got = weft_topic_next_batch(d, sim_mnow_ms(s, node), r.ip[i], SIM_PORT, &b);
		weft_dest_unlock(d);
		if (!got)
			continue;
		struct sim_mmsg *m = sim_mmsg_new(SIM_MM_TDELIVER, dest, b.n);
		int rc = -ENOMEM;

		if (m) {
			m->next_id = b.next_id;
			m->dropped = b.dropped;
			for (uint32_t k = 0; k < b.n; k++)
				m->r[k] = (struct sim_mrec){ .id = b.msg[k]->id,
							     .expires = b.msg[k]->expires_ms,
							     .p = sim_mpub_of(b.msg[k]) };
			rc = to < s->o.nodes ? sim_mrpc(s, node, to, m, SIM_MS_NOTIFY,
							SIM_MN_DELIVER, 0, dest)
					     : -EINVAL;
			free(m);
		}
		weft_topic_batch_free(&b);
		if (rc != 0) {
			weft_dest_lock(d);
			weft_topic_batch_done(d, sim_mnow_ms(s, node), r.ip[i], SIM_PORT, false, 0);
			weft_dest_unlock(d);
		}
	}
}

void sim_mnode_join(struct sim *s, uint32_t node, uint32_t dest, unsigned subs)
{
	struct weft_dest *d = sim_mdest(s, node, dest);
	uint32_t own[SIM_MOWNERS];
	uint64_t next, resume;

	if (!d)
		return;
	weft_dest_lock(d);
	next = weft_topic_local_next(d);
	weft_dest_unlock(d);
	if (sim_mis_primary(s, node, dest)) {
		weft_dest_lock(d);
		weft_topic_join(d, sim_mnow_ms(s, node), NODE_IP(node), SIM_PORT, next, subs,
				&resume);
		weft_dest_unlock(d);
		pump(s, node, dest);
		return;
	}
	if (sim_mowners_of(s, node, dest, own) == 0 || own[0] == SIM_NONE)
		return;             /* address unknown: the next pass tries again */
	struct sim_mmsg j = { .type = SIM_MM_JOIN, .dest = dest, .next_id = next,
			      .subs = subs };

	sim_mrpc(s, node, own[0], &j, SIM_MS_NOTIFY, SIM_MN_JOIN, 0, dest);
}

void sim_mnode_pass(struct sim *s, uint32_t node)
{
	struct sim_mnode *mn = &s->msgl->n[node];
	uint64_t now = sim_mnow_ms(s, node), next_due = now + SIM_MPASS_MS;
	struct sim_mcoll c = { 0 };
	struct sim_msink k = { s, node, &c };
	struct weft_msg_sink sink = sim_msink_make(&k);
	bool join = now >= mn->next_join_ms;
	struct sim_meach e;

	if (weft_msg_count(mn->reg) == 0) {
		mn->next_pass_ms = now + SIM_MPASS_MS;
		return;
	}
	if (mn->in_view && mn->topo.view != mn->seen_view) {
		sim_mxfer_view(s, node);
	} else if (mn->xretry && mn->in_view && now >= mn->next_xretry_ms) {
		mn->next_xretry_ms = now + SIM_MXFER_RETRY_MS;
		sim_mxfer_retry(s, node);
	}
	if (join)
		mn->next_join_ms = now + WEFT_TOPIC_JOIN_MS;
	sim_meach(s, node, &e);
	for (uint32_t i = 0; i < e.n && !s->failed; i++) {
		struct weft_dest *d = e.d[i];
		uint32_t dest = sim_mdest_index(d);
		enum weft_dest_role role = sim_mrole_in(s, node, dest);
		unsigned subs;
		uint64_t due;

		weft_dest_lock(d);
		if (weft_dest_role(d) != role) {
			weft_dest_set_role(d, now, role, &sink);
			sim_mtrace(s, node, SIM_MT_ROLE, dest, role);
		}
		due = weft_dest_tick(d, now, &sink);
		subs = weft_dest_kind(d) == WEFT_DEST_TOPIC ? weft_topic_local_subs(d) : 0;
		if (role == WEFT_ROLE_SUBSCRIBER) {  /* a copy it does not own (a late
						        MSG_REPL): owed to the owners */
			struct weft_dest_stats st;

			weft_dest_get_stats(d, &st);
			if (st.depth > 0 || st.durable > 0)
				mn->xretry = true;
		}
		weft_dest_unlock(d);
		if (due < next_due)
			next_due = due;
		sim_mflush(s, node, &c, SIM_NONE);
		if (!sim_mdest_topic(dest))
			continue;
		if (join && subs > 0)
			sim_mnode_join(s, node, dest, subs);
		pump(s, node, dest);
	}
	sim_mcoll_free(&c);
	mn->next_pass_ms = next_due;
}

/* ---- the end of a notify (dp_msg_tick.c xfer_done, dp_msg_pump.c
 * deliver_done; async records and joins need nothing) ---- */

void sim_mnode_notify_end(struct sim *s, uint32_t node, const struct sim_mslot *sl,
			  uint16_t status, const struct sim_mmsg *ans)
{
	switch (sl->notify) {
	case SIM_MN_XFER:
		sim_mxfer_done(s, node, sl->arg, status);
		return;
	case SIM_MN_DELIVER: {
		struct weft_dest *d = sim_mdest(s, node, sl->arg);
		bool ok = status == WEFT_ST_OK && ans;

		if (!d)
			return;
		weft_dest_lock(d);
		weft_topic_batch_done(d, sim_mnow_ms(s, node), NODE_IP(sl->to), SIM_PORT, ok,
				      ok ? ans->next_id : 0);
		weft_dest_unlock(d);
		if (ok)
			pump(s, node, sl->arg);
		return;
	}
	default:
		return;
	}
}
