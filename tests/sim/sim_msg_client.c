/*
 * sim_msg_client.c — the messaging layer's clients (--msg): publishers,
 * queue consumers and topic subscribers. Clients are processes that do
 * not crash; a request to a node that is down or paused is lost (and
 * retried later), and a RECEIVE's answer carrying messages is lost with
 * P(loss) (its messages come back after their visibility timeout).
 *
 *  - Publishers: every --msg-ms from 1 s (with --msg-converged: from when
 *    every node holds one view of all of them) to T - 15 s, one publish of model
 *    number p to a random queue or topic, sent to the destination's primary
 *    as a random live node's table names it (weftd would forward from
 *    anywhere; a node that is not primary in its own table answers
 *    NOT_OWNER, counted). No retry: a publish not acknowledged is not in
 *    the model's acknowledged set.
 *  - Queue consumers (SIM_MCONS_PER_Q per queue): RECEIVE (max 8, wait
 *    500 ms) at the primary a random live node's table names; a parked
 *    request is answered through the sink (matched by its token); a
 *    consumer that hears nothing for wait + 1 s asks again. Each message
 *    received is acked 0-50 ms later at the node that delivered it (97%),
 *    nacked (2%) or forgotten (1%: redelivered after the visibility
 *    timeout).
 *  - Topic subscribers (SIM_MSUBS_PER_T per topic): RECEIVE without a
 *    durable name at their access node (a random live node); when that
 *    node's life ends they subscribe again at another one: a new
 *    subscription (invariant (4) is per subscription).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim_msg.h"

int sim_mclient_create(struct sim *s)
{
	struct sim_msg_layer *L = s->msgl;
	uint64_t end = s->o.duration_ms * 1000;

	L->n_cons = SIM_MQUEUES * SIM_MCONS_PER_Q + SIM_MTOPICS * SIM_MSUBS_PER_T;
	L->cons = calloc(L->n_cons, sizeof(*L->cons));
	if (!L->cons)
		return -ENOMEM;
	for (uint32_t i = 0; i < L->n_cons; i++) {
		struct sim_mcons *c = &L->cons[i];

		c->consumer_id = sim_rand(&s->rng) | 1;
		if (i < SIM_MQUEUES * SIM_MCONS_PER_Q) {
			c->dest = i / SIM_MCONS_PER_Q;
		} else {
			c->dest = 2 * SIM_MQUEUES + (i - SIM_MQUEUES * SIM_MCONS_PER_Q) / SIM_MSUBS_PER_T;
			c->topic = true;
			c->access = SIM_NONE;
		}
		c->next_us = 1000000;
	}
	L->feed = calloc((size_t)SIM_MMAX_PUBS * s->o.nodes, sizeof(*L->feed));
	if (!L->feed)
		return -ENOMEM;
	L->next_pub_us = 1000000;
	L->pubs_end_us = end > 15000000 ? end - 15000000 : 0;
	return 0;
}

/* A random node that is up, unpaused and in a view; SIM_NONE if none. */
static uint32_t any_node(struct sim *s)
{
	uint32_t cand[SIM_MMAX_NODES], n = 0;

	for (uint32_t i = 0; i < s->o.nodes; i++)
		if (sim_mreachable(s, i) && s->msgl->n[i].in_view)
			cand[n++] = i;
	return n ? cand[sim_below(&s->rng, n)] : SIM_NONE;
}

/* The primary of dest as a random live node's table names it. */
static uint32_t primary_as_seen(struct sim *s, uint32_t dest)
{
	uint32_t a = any_node(s), own[SIM_MOWNERS];

	if (a == SIM_NONE)
		return SIM_NONE;
	return sim_mowners_of(s, a, dest, own) ? own[0] : a;
}

static void publish_one(struct sim *s)
{
	struct sim_msg_layer *L = s->msgl;
	uint32_t r, dest, to, p;

	if (L->n_pubs == SIM_MMAX_PUBS)
		return;
	r = sim_below(&s->rng, SIM_MQUEUES + SIM_MTOPICS);
	dest = r < SIM_MQUEUES ? r : 2 * SIM_MQUEUES + (r - SIM_MQUEUES);
	p = L->n_pubs++;
	L->pub[p].dest = dest;
	L->published++;
	to = primary_as_seen(s, dest);
	if (to == SIM_NONE || !sim_mreachable(s, to))
		return;                    /* the request is lost */
	sim_mnode_publish(s, to, dest, p);
}

static void pend_add(struct sim *s, const struct sim_mpend *pd)
{
	struct sim_msg_layer *L = s->msgl;

	if (L->n_pend == L->cap_pend) {
		uint32_t cap = L->cap_pend ? L->cap_pend * 2 : 256;
		struct sim_mpend *p = realloc(L->pend, cap * sizeof(*p));

		if (!p) {
			sim_fail(s, "out of memory for pending acks");
			return;
		}
		L->pend = p;
		L->cap_pend = cap;
	}
	L->pend[L->n_pend++] = *pd;
}

static void recv_add(struct sim *s, uint32_t cons, uint32_t p, uint64_t id, uint32_t dropped)
{
	struct sim_msg_layer *L = s->msgl;

	if (L->n_recv == L->cap_recv) {
		uint32_t cap = L->cap_recv ? L->cap_recv * 2 : 1024;
		struct sim_mrecv *r = realloc(L->recv, cap * sizeof(*r));

		if (!r) {
			sim_fail(s, "out of memory for topic deliveries");
			return;
		}
		L->recv = r;
		L->cap_recv = cap;
	}
	uint32_t node = L->cons[cons].access, f = p < SIM_MMAX_PUBS && L->feed
			? L->feed[(size_t)p * s->o.nodes + node] : 0;

	L->recv[L->n_recv++] = (struct sim_mrecv){ cons, L->cons[cons].sub_epoch, id, s->now, dropped,
						   (uint16_t)((f & 0xff) - 1), (uint16_t)(f >> 8) };
}

/* An answer to consumer cons's RECEIVE, served by node. */
static void handle(struct sim *s, uint32_t cons, uint32_t node, const struct weft_delivery *dl)
{
	struct sim_msg_layer *L = s->msgl;
	struct sim_mcons *c = &L->cons[cons];

	c->waiting = false;
	c->next_us = s->now + SIM_MTICK_US;
	if (dl->status != WEFT_ST_OK || dl->n == 0)
		return;
	/* A queue's answer is lost with P(loss) (its messages come back after
	 * the visibility timeout); a topic's is not: a local subscription keeps
	 * no copy, so a lost answer is a gap no node can see (the client's
	 * network, not the fan-out invariant (4) checks). */
	if (!c->topic && sim_unit(&s->rng) < s->o.loss)
		return;
	if (c->topic)
		L->tdropped += dl->dropped;
	for (uint32_t i = 0; i < dl->n && !s->failed; i++) {
		const struct weft_msg *m = dl->msg[i];
		uint32_t p = sim_mpub_of(m);

		if (c->topic) {
			if (m->id <= c->last_id)
				sim_fail(s, "topic %s: subscriber %u (subscription %llu at n%u) got "
					 "id %llx after %llx: not in id order (invariant 4)",
					 sim_mdest_name(c->dest, &(size_t){ 0 }), cons,
					 (unsigned long long)c->sub_epoch, node,
					 (unsigned long long)m->id, (unsigned long long)c->last_id);
			sim_mtrace(s, node, SIM_MT_TDELIVER, p,
				   cons | (uint64_t)(i == 0 ? dl->dropped : 0) << 32);
			/* the drop count is the answer's: the missed ones may lie
			 * before any of its messages (weft_receive reports it per
			 * call), so each of them is "after a reported drop" */
			recv_add(s, cons, p, m->id, dl->dropped);
			c->last_id = m->id;
			L->tdelivered++;
			continue;
		}
		sim_mcheck_delivered(s, cons, p, m->id);
		double u = sim_unit(&s->rng);
		struct sim_mpend pd = { .cons = cons, .node = node, .nonce = s->node[node].nonce,
					.due_us = s->now + sim_below(&s->rng, 50000), .p = p,
					.id = m->id, .kind = WEFT_ACK_ACK };

		if (u < 0.01)
			continue;          /* forgotten: the visibility timeout redelivers */
		if (u < 0.03)
			pd.kind = WEFT_ACK_NACK;
		pend_add(s, &pd);
	}
}

void sim_mclient_delivery(struct sim *s, uint32_t node, const struct weft_delivery *dl)
{
	struct sim_msg_layer *L = s->msgl;
	uint32_t cons;
	uint64_t seq;

	memcpy(&cons, dl->token, sizeof(cons));
	memcpy(&seq, dl->token + 4, sizeof(seq));
	if (cons >= L->n_cons || !L->cons[cons].waiting || L->cons[cons].wait_seq != seq ||
	    L->cons[cons].wait_node != node)
		return;                    /* nobody waits for it any more */
	handle(s, cons, node, dl);
}

static void consumer_tick(struct sim *s, uint32_t cons)
{
	struct sim_msg_layer *L = s->msgl;
	struct sim_mcons *c = &L->cons[cons];
	struct weft_delivery dl;
	uint32_t node;
	int rc;

	if (c->waiting) {
		if (s->now < c->wait_until_us)
			return;
		c->waiting = false;        /* nothing heard: ask again */
	}
	if (s->now < c->next_us)
		return;
	if (c->topic) {
		if (c->access == SIM_NONE || !s->node[c->access].up ||
		    s->node[c->access].nonce != c->access_nonce) {
			node = any_node(s);        /* a new subscription */
			if (node == SIM_NONE)
				return;
			c->access = node;
			c->access_nonce = s->node[node].nonce;
			c->sub_epoch++;
			c->last_id = 0;
		}
		node = c->access;
		if (!sim_mreachable(s, node))
			return;
	} else {
		node = primary_as_seen(s, c->dest);
		if (node == SIM_NONE || !sim_mreachable(s, node)) {
			c->next_us = s->now + 50000;
			return;
		}
	}
	c->wait_seq++;
	c->waiting = true;
	c->wait_node = node;
	c->wait_until_us = s->now + (SIM_MWAIT_MS + 1000) * 1000ull;
	rc = sim_mnode_receive(s, node, cons, &dl);
	if (rc == 1) {
		handle(s, cons, node, &dl);
		for (uint32_t i = 0; i < dl.n; i++)
			weft_msg_unref(dl.msg[i]);
		return;
	}
	if (rc == 0)
		return;                    /* parked: answered through the sink */
	c->waiting = false;
	c->next_us = s->now + (rc == -EPERM ? 50000 : 100000);
	if (rc != -EPERM)
		L->busy++;
}

static void acks_due(struct sim *s)
{
	struct sim_msg_layer *L = s->msgl;

	for (uint32_t i = 0; i < L->n_pend && !s->failed;) {
		struct sim_mpend pd = L->pend[i];

		if (s->now < pd.due_us) {
			i++;
			continue;
		}
		L->pend[i] = L->pend[--L->n_pend];
		if (!sim_mreachable(s, pd.node) || s->node[pd.node].nonce != pd.nonce)
			continue;          /* lost: the message comes back */
		sim_mnode_ack(s, pd.node, pd.cons, &pd.p, &pd.id, &pd.kind, 1);
	}
}

void sim_mclient_tick(struct sim *s)
{
	struct sim_msg_layer *L = s->msgl;

	if (!L->formed) {   /* --msg-converged: wait for one view of all */
		bool all = true;

		for (uint32_t i = 0; i < s->o.nodes && s->o.msg_converged; i++)
			all &= s->node[i].up && L->n[i].in_view;
		if (s->now < 1000000 || (s->o.msg_converged && (!all || !sim_converged(s))))
			return;
		L->formed = true;
		if (L->next_pub_us < s->now)
			L->next_pub_us = s->now;
		for (uint32_t i = 0; i < L->n_cons; i++)
			L->cons[i].next_us = s->now;
	}

	while (s->now >= L->next_pub_us && s->now < L->pubs_end_us && !s->failed) {
		publish_one(s);
		L->next_pub_us += s->o.msg_ms * 1000ull;
	}
	acks_due(s);
	for (uint32_t i = 0; i < L->n_cons && !s->failed; i++)
		consumer_tick(s, i);
}
