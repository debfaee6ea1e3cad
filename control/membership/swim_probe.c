/*
 * swim_probe.c — failure detection: one probe per (health-scaled) interval
 * over a shuffled round-robin of live members; a direct PING, then PING_REQ
 * through k random members if no ACK by the probe timeout; suspicion if no
 * ACK (direct or relayed) by the end of the interval. Relays answer the
 * requester with the target's ACK or, at 80% of the probe timeout, a NACK.
 *
 * Lifeguard local health (awareness score a in [0, awareness_max)): probe
 * interval and timeout are multiplied by (1 + a). a += 1 on a failed probe
 * with no NACK expected, += missed NACKs otherwise, += 1 when refuting a
 * suspicion of ourselves; a -= 1 on every successful probe.
 *
 * Invariants: at most one probe in flight; relays[] bounded by
 * SWIM_MAX_RELAYS (excess PING_REQs are dropped and counted); an ACK counts
 * only if it names the life (id + nonce) we probed and our current seq.
 */
#include <string.h>

#include "swim_wire.h"

void swim_awareness(struct weft_swim *s, int delta)
{
	int64_t a = (int64_t)s->awareness + delta;

	if (a < 0)
		a = 0;
	if (a > (int64_t)s->cfg.awareness_max - 1)
		a = (int64_t)s->cfg.awareness_max - 1;
	s->awareness = (uint32_t)a;
}

uint64_t swim_scaled(const struct weft_swim *s, uint32_t ms)
{
	return (uint64_t)ms * (1u + s->awareness);
}

/* Message with a fixed part and as much gossip as the budget allows;
 * buddy: the member the message probes (SWIM_NO_SLOT if none), whose
 * suspicion goes first (swim_put_gossip). */
static void send_with_gossip(struct weft_swim *s, struct swim_cur *c,
			     const struct weft_swim_addr *to, uint16_t buddy)
{
	size_t used = (size_t)(c->p - s->buf);

	if (c->bad || used >= s->cfg.packet_budget)
		return;
	used += swim_put_gossip(s, c->p, s->cfg.packet_budget - used, buddy);
	swim_send(s, to, s->buf, used);
}

static void send_ping(struct weft_swim *s, const struct weft_swim_addr *to,
		      uint32_t seq, const struct weft_swim_id *id,
		      uint64_t nonce)
{
	struct swim_cur c = swim_msg_begin(s, SWIM_MSG_PING);

	swim_w_u32(&c, seq);
	swim_w_id(&c, id);
	swim_w_u64(&c, nonce);
	uint16_t slot = swim_find(s, id);
	send_with_gossip(s, &c, to, slot != SWIM_NO_SLOT && s->m[slot].nonce == nonce ? slot : SWIM_NO_SLOT);
}

static void send_ack(struct weft_swim *s, const struct weft_swim_addr *to,
		     bool gossip, uint32_t seq, const struct weft_swim_id *id,
		     uint64_t nonce)
{
	struct swim_cur c = swim_msg_begin(s, SWIM_MSG_ACK);

	swim_w_u32(&c, seq);
	swim_w_id(&c, id);
	swim_w_u64(&c, nonce);
	if (gossip) {
		send_with_gossip(s, &c, to, SWIM_NO_SLOT);
		return;
	}
	swim_w_u8(&c, 0);               /* unvalidated address: no gossip */
	if (!c.bad)
		swim_send(s, to, s->buf, (size_t)(c.p - s->buf));
}

/* Next live member in this round; reshuffles at the end of a round. */
static uint16_t next_target(struct weft_swim *s)
{
	for (int pass = 0; pass < 2; pass++) {
		while (s->order_pos < s->n_order) {
			uint16_t slot = s->order[s->order_pos++];

			if (slot < s->n_slots && swim_live_state(s->m[slot].state))
				return slot;
		}
		s->n_order = 0;
		s->order_pos = 0;
		for (uint32_t i = 1; i < s->n_slots; i++)
			if (swim_live_state(s->m[i].state))
				s->order[s->n_order++] = (uint16_t)i;
		for (uint32_t i = s->n_order; i > 1; i--) {
			uint32_t j = swim_rand_below(s, i);
			uint16_t t = s->order[i - 1];

			s->order[i - 1] = s->order[j];
			s->order[j] = t;
		}
	}
	return SWIM_NO_SLOT;
}

static void send_ping_reqs(struct weft_swim *s)
{
	struct swim_probe *p = &s->probe;
	const struct swim_member *t = &s->m[p->slot];
	uint32_t want = s->cfg.indirect_checks, sent = 0;
	uint32_t cands = s->n_live > 2 ? s->n_live - 2 : 0;

	/* Walk the table from a random slot, asking every ALIVE member but
	 * the target until k are asked: O(table), no scratch. */
	if (cands == 0 || s->n_slots < 2)
		return;
	uint32_t start = swim_rand_below(s, s->n_slots - 1);

	for (uint32_t i = 0; i < s->n_slots - 1 && sent < want; i++) {
		uint16_t slot = (uint16_t)(1 + (start + i) % (s->n_slots - 1));
		const struct swim_member *m = &s->m[slot];

		if (slot == p->slot || m->state != WEFT_SWIM_ALIVE)
			continue;
		struct swim_cur c = swim_msg_begin(s, SWIM_MSG_PING_REQ);

		swim_w_u32(&c, p->seq);
		swim_w_id(&c, &t->id);
		swim_w_u64(&c, t->nonce);
		swim_w_u32(&c, t->addr.ip);
		swim_w_u16(&c, t->addr.port);
		send_with_gossip(s, &c, &m->addr, SWIM_NO_SLOT);
		sent++;
	}
	p->nacks_expected = sent;
}

void swim_probe_tick(struct weft_swim *s, uint64_t now)
{
	struct swim_probe *p = &s->probe;

	if (p->active && !p->indirect_sent && now >= p->direct_deadline) {
		p->indirect_sent = true;
		uint16_t slot = swim_find(s, &p->id);

		if (slot != SWIM_NO_SLOT && s->m[slot].nonce == p->nonce &&
		    swim_live_state(s->m[slot].state)) {
			p->slot = slot;   /* the slot may have been recycled */
			send_ping_reqs(s);
		}
	}
	if (p->active && now >= p->end_deadline) {
		uint16_t slot = swim_find(s, &p->id);

		p->active = false;
		if (p->nacks_expected > 0)
			swim_awareness(s, (int)(p->nacks_expected - p->nacks_got));
		else
			swim_awareness(s, 1);
		if (slot != SWIM_NO_SLOT && s->m[slot].nonce == p->nonce)
			swim_suspect(s, now, slot, &s->cfg.id);
	}
	if (p->active || now < s->next_probe_ms)
		return;
	uint16_t slot = next_target(s);

	s->next_probe_ms = now + swim_scaled(s, s->cfg.probe_interval_ms);
	if (slot == SWIM_NO_SLOT)
		return;
	memset(p, 0, sizeof(*p));
	p->active = true;
	p->slot = slot;
	p->id = s->m[slot].id;
	p->nonce = s->m[slot].nonce;
	p->seq = ++s->seq;
	p->sent_ms = now;
	p->direct_deadline = now + swim_scaled(s, s->cfg.probe_timeout_ms);
	p->end_deadline = s->next_probe_ms;
	send_ping(s, &s->m[slot].addr, p->seq, &p->id, p->nonce);
}

/* The lease is due for renewal: in a view with others, half of it gone
 * since the last evidence. The probes renew it as they go (every probe
 * interval); this covers the gaps — Lifeguard stretching the interval up
 * to 8x on a slow node, the first moments in a new view — with a ping
 * to a random live view member whose loss suspects nobody. */
uint64_t swim_lease_deadline(const struct weft_swim *s)
{
	if (s->cfg.lease_ms == 0 || (s->phase != SWIM_MEMBER && s->phase != SWIM_LEAVING) ||
	    !s->have_view || s->n_view < 2)
		return UINT64_MAX;
	uint64_t due = s->confirmed_ms + s->cfg.lease_ms / 2;
	return due > s->next_lease_ms ? due : s->next_lease_ms;
}

void swim_lease_tick(struct weft_swim *s, uint64_t now)
{
	if (now < swim_lease_deadline(s))
		return;
	/* Round robin over the view, from where the last ping went. */
	for (uint32_t i = 1; i <= s->n_view; i++) {
		const struct weft_swim_view_member *v = &s->view[(s->lease_rr + i) % s->n_view];
		uint16_t slot = swim_find(s, &v->id);
		if (slot == SWIM_NO_SLOT || slot == 0 || s->m[slot].nonce != v->nonce ||
		    !swim_live_state(s->m[slot].state))
			continue;
		s->lease_seq = ++s->seq;
		s->lease_sent_ms = now;
		s->lease_id = v->id;
		s->lease_nonce = v->nonce;
		send_ping(s, &s->m[slot].addr, s->lease_seq, &v->id, v->nonce);
		s->lease_rr = (s->lease_rr + i) % s->n_view;
		break;
	}
	s->next_lease_ms = now + s->cfg.lease_ms / 4;
}

uint64_t swim_probe_deadline(const struct weft_swim *s)
{
	const struct swim_probe *p = &s->probe;
	uint64_t d = s->next_probe_ms;

	if (p->active) {
		d = p->end_deadline;
		if (!p->indirect_sent && p->direct_deadline < d)
			d = p->direct_deadline;
	}
	for (uint32_t i = 0; i < SWIM_MAX_RELAYS; i++)
		if (s->relays[i].used && s->relays[i].nack_at < d)
			d = s->relays[i].nack_at;
	return d;
}

void swim_on_ping(struct weft_swim *s, const struct weft_swim_addr *from,
		  bool known, uint32_t seq, const struct weft_swim_id *target,
		  uint64_t target_nonce)
{
	/* A ping for another life of our id (a restart the prober has not
	 * learnt yet): ACK as ourselves and gossip our life; the prober does
	 * not count the ACK (nonce differs) but learns the new life. */
	if (swim_id_cmp(target, &s->cfg.id) != 0)
		return;
	if (target_nonce != s->cfg.nonce && !s->m[0].queued)
		swim_enqueue(s, 0);
	send_ack(s, from, known, seq, &s->cfg.id, s->cfg.nonce);
}

/* Whether an ACK of our probe of (subject, nonce) renews the lease: the
 * subject is a member of our view and the ACK's sender (the subject, or a
 * relay) had no view newer than ours when it sent it. */
static bool renews_lease(const struct weft_swim *s, const struct weft_swim_id *subject,
			 uint64_t nonce, const struct weft_swim_view_id *sender_view)
{
	if (!s->have_view || sender_view->counter == 0 ||
	    weft_swim_view_id_cmp(sender_view, &s->view_id) > 0)
		return false;
	for (uint32_t i = 0; i < s->n_view; i++)
		if (s->view[i].nonce == nonce && swim_id_cmp(&s->view[i].id, subject) == 0)
			return true;
	return false;
}

void swim_on_ack(struct weft_swim *s, uint32_t seq,
		 const struct weft_swim_id *subject, uint64_t subject_nonce,
		 const struct weft_swim_view_id *sender_view)
{
	struct swim_probe *p = &s->probe;

	if (s->lease_seq != 0 && seq == s->lease_seq && subject_nonce == s->lease_nonce &&
	    swim_id_cmp(subject, &s->lease_id) == 0) {
		s->lease_seq = 0;
		if (s->lease_sent_ms > s->confirmed_ms &&
		    renews_lease(s, subject, subject_nonce, sender_view))
			s->confirmed_ms = s->lease_sent_ms;
		return;
	}
	if (p->active && seq == p->seq && subject_nonce == p->nonce &&
	    swim_id_cmp(subject, &p->id) == 0) {
		p->active = false;
		swim_awareness(s, -1);
		/* The probe's send time, not now: an ACK that waited in a
		 * queue while this node was paused proves nothing newer. */
		if (p->sent_ms > s->confirmed_ms &&
		    renews_lease(s, subject, subject_nonce, sender_view))
			s->confirmed_ms = p->sent_ms;
		return;
	}
	for (uint32_t i = 0; i < SWIM_MAX_RELAYS; i++) {
		struct swim_relay *r = &s->relays[i];

		if (r->used && r->seq == seq && r->target_nonce == subject_nonce &&
		    swim_id_cmp(&r->target, subject) == 0) {
			r->used = false;
			send_ack(s, &r->req_addr, true, r->req_seq, subject,
				 subject_nonce);
			return;
		}
	}
}

void swim_on_ping_req(struct weft_swim *s, uint64_t now,
		      const struct weft_swim_addr *from, uint32_t seq,
		      const struct weft_swim_id *target, uint64_t target_nonce,
		      const struct weft_swim_addr *target_addr)
{
	struct swim_relay *r = NULL;
	uint16_t slot = swim_find(s, target);

	/* Probe only a member we know, at the address we know it by. */
	if (slot == SWIM_NO_SLOT || slot == 0 || s->m[slot].nonce != target_nonce ||
	    !swim_addr_eq(&s->m[slot].addr, target_addr)) {
		s->st.rx_dropped++;
		return;
	}
	for (uint32_t i = 0; i < SWIM_MAX_RELAYS && !r; i++)
		if (!s->relays[i].used)
			r = &s->relays[i];
	if (!r) {
		s->st.rx_dropped++;
		return;
	}
	r->used = true;
	r->seq = ++s->seq;
	r->req_seq = seq;
	r->req_addr = *from;
	r->target = *target;
	r->target_nonce = target_nonce;
	r->nack_at = now + (uint64_t)s->cfg.probe_timeout_ms * 4 / 5;
	send_ping(s, target_addr, r->seq, target, target_nonce);
}

void swim_relays_tick(struct weft_swim *s, uint64_t now)
{
	for (uint32_t i = 0; i < SWIM_MAX_RELAYS; i++) {
		struct swim_relay *r = &s->relays[i];

		if (!r->used || now < r->nack_at)
			continue;
		r->used = false;
		struct swim_cur c = swim_msg_begin(s, SWIM_MSG_NACK);

		swim_w_u32(&c, r->req_seq);
		if (!c.bad)
			swim_send(s, &r->req_addr, s->buf, (size_t)(c.p - s->buf));
	}
}

void swim_on_nack(struct weft_swim *s, uint32_t seq)
{
	struct swim_probe *p = &s->probe;

	if (p->active && seq == p->seq && p->nacks_got < p->nacks_expected)
		p->nacks_got++;
}
