/*
 * swim_members.c — the member table: lookup by id, the precedence rules that
 * decide whether an update (gossip, full-state sync, join) wins over what we
 * hold, Lifeguard suspicion with confirmations, and the bounded broadcast
 * queue that piggybacks updates on outgoing messages.
 *
 * Precedence for one life (same id, same nonce), SWIM with incarnations:
 *   ALIVE(i) wins over anything with incarnation < i;
 *   SUSPECT(i) wins over ALIVE(j <= i) (and confirms SUSPECT(i));
 *   DEAD(i) wins over ALIVE/SUSPECT(j <= i); LEFT(i) over non-LEFT(j <= i).
 * Between two lives of one id (nonces differ): at the same address the larger
 * nonce is the newer start and wins; at different addresses, if both are live
 * that is a duplicate id — the larger nonce (the later start) is rejected
 * with REJECT, every node deciding alike; a live life replaces a down one.
 * A view listing a newer life than a down or left record installs it ALIVE
 * at incarnation 0 (swim_view_life; never the held life itself).
 *
 * Invariants: one record per id; n_live counts ALIVE+SUSPECT records;
 * bq is sorted by (tx ascending, bq_gen descending) and each entry leaves it
 * after retransmit_mult*ceil(log10(N+1)) sends, so an update is gossiped a
 * bounded number of times and the queue never exceeds the table.
 */
#include <math.h>
#include <string.h>

#include "swim_wire.h"

static uint32_t id_hash(const struct weft_swim_id *id)
{
	uint32_t h = 2166136261u;

	for (unsigned i = 0; i < sizeof(id->b); i++)
		h = (h ^ id->b[i]) * 16777619u;
	return h;
}

bool swim_live_state(uint8_t state)
{
	return state == WEFT_SWIM_ALIVE || state == WEFT_SWIM_SUSPECT;
}

uint16_t swim_find(const struct weft_swim *s, const struct weft_swim_id *id)
{
	uint32_t lo = 0, hi = s->n_used;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		int c = swim_id_cmp(&s->m[s->by_id[mid]].id, id);

		if (c == 0)
			return s->by_id[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SWIM_NO_SLOT;
}

void swim_member_to_rec(const struct swim_member *m, struct swim_rec *r)
{
	r->id = m->id;
	r->nonce = m->nonce;
	r->addr = m->addr;
	r->inc = m->inc;
	r->state = m->state;
	r->has_from = m->state == WEFT_SWIM_SUSPECT;
	r->from = m->susp_from;
	r->name_len = m->name_len;
	memcpy(r->name, m->name, (size_t)m->name_len + 1);
}

static void emit_member(struct weft_swim *s, enum weft_swim_event_kind kind,
			const struct swim_member *m)
{
	struct weft_swim_event ev = {
		.kind = kind, .id = m->id, .nonce = m->nonce, .addr = m->addr,
		.incarnation = m->inc, .name = m->name,
	};
	swim_emit(s, &ev);
}

/* ---- broadcast queue ---- */

static bool bq_before(const struct weft_swim *s, uint16_t a, uint16_t b)
{
	const struct swim_member *x = &s->m[a], *y = &s->m[b];

	if (x->tx != y->tx)
		return x->tx < y->tx;
	return x->bq_gen > y->bq_gen;
}

static void bq_remove(struct weft_swim *s, uint16_t slot)
{
	for (uint32_t i = 0; i < s->n_bq; i++) {
		if (s->bq[i] == slot) {
			memmove(&s->bq[i], &s->bq[i + 1],
				(s->n_bq - i - 1) * sizeof(s->bq[0]));
			s->n_bq--;
			break;
		}
	}
	s->m[slot].queued = 0;
}

void swim_enqueue(struct weft_swim *s, uint16_t slot)
{
	struct swim_member *m = &s->m[slot];

	if (m->queued)
		bq_remove(s, slot);
	m->tx = 0;
	m->bq_gen = ++s->bq_gen;
	m->queued = 1;
	memmove(&s->bq[1], &s->bq[0], s->n_bq * sizeof(s->bq[0]));
	s->bq[0] = slot;
	s->n_bq++;
}

static uint32_t retransmit_limit(const struct weft_swim *s)
{
	double scale = ceil(log10((double)s->n_live + 1.0));

	if (scale < 1.0)
		scale = 1.0;
	return s->cfg.retransmit_mult * (uint32_t)scale;
}

size_t swim_put_gossip(struct weft_swim *s, uint8_t *p, size_t room, uint16_t buddy)
{
	struct swim_cur c = { .p = p, .end = p + room };
	uint32_t limit = retransmit_limit(s), picked = 0, keep = 0;
	bool buddy_sent = false;
	uint8_t *count_at = p;
	struct swim_rec r;

	if (room < 1)
		return 0;
	swim_w_u8(&c, 0);
	room--;
	/* Lifeguard's buddy system: a ping to a member we suspect carries that
	 * suspicion first, whatever its retransmit count, so the member hears
	 * it and refutes (otherwise a suspicion whose gossip budget went to
	 * others ends in DOWN for a member that answers every ping). */
	if (buddy != SWIM_NO_SLOT && s->m[buddy].state == WEFT_SWIM_SUSPECT &&
	    SWIM_REC_FROM_LEN + SWIM_NAME_LEN(s->m[buddy].name_len) <= room) {
		swim_member_to_rec(&s->m[buddy], &r);
		swim_w_rec(&c, &r);
		room -= SWIM_REC_FROM_LEN + SWIM_NAME_LEN(s->m[buddy].name_len);
		picked++;
		buddy_sent = true;
	}
	/* bq is sorted best-first: take a prefix, skipping records too big for
	 * what is left, at most 255 of them. */
	for (uint32_t i = 0; i < s->n_bq && picked < 255; i++) {
		if (buddy_sent && s->bq[i] == buddy)
			continue; /* already sent above */
		struct swim_member *m = &s->m[s->bq[i]];
		size_t len = (m->state == WEFT_SWIM_SUSPECT ? SWIM_REC_FROM_LEN
							    : SWIM_REC_LEN) +
			     SWIM_NAME_LEN(m->name_len);
		if (len > room)
			continue;
		swim_member_to_rec(m, &r);
		swim_w_rec(&c, &r);
		room -= len;
		m->tx++;
		picked++;
	}
	*count_at = (uint8_t)picked;
	/* Drop exhausted entries, then restore the order (insertion sort; the
	 * array is nearly sorted: only the sent prefix moved back by one). */
	for (uint32_t i = 0; i < s->n_bq; i++) {
		uint16_t slot = s->bq[i];

		if (s->m[slot].tx >= limit)
			s->m[slot].queued = 0;
		else
			s->bq[keep++] = slot;
	}
	s->n_bq = keep;
	for (uint32_t i = 1; i < s->n_bq; i++) {
		uint16_t v = s->bq[i];
		uint32_t j = i;

		while (j > 0 && bq_before(s, v, s->bq[j - 1])) {
			s->bq[j] = s->bq[j - 1];
			j--;
		}
		s->bq[j] = v;
	}
	return (size_t)(c.p - p);
}

/* ---- table ---- */

static void set_state(struct weft_swim *s, struct swim_member *m,
		      uint8_t state, uint64_t now)
{
	bool was = swim_live_state(m->state), is = swim_live_state(state);

	if (was && !is)
		s->n_live--;
	else if (!was && is)
		s->n_live++;
	if (was != is)
		s->view_dirty = true;
	m->state = state;
	m->since_ms = now;
}

static void index_remove(struct weft_swim *s, uint16_t slot)
{
	for (uint32_t i = 0; i < s->n_used; i++) {
		if (s->by_id[i] == slot) {
			memmove(&s->by_id[i], &s->by_id[i + 1],
				(s->n_used - i - 1) * sizeof(s->by_id[0]));
			s->n_used--;
			return;
		}
	}
}

static void free_slot(struct weft_swim *s, uint16_t slot)
{
	struct swim_member *m = &s->m[slot];

	if (m->queued)
		bq_remove(s, slot);
	index_remove(s, slot);
	if (swim_live_state(m->state)) {
		s->n_live--;
		s->view_dirty = true;
	}
	m->state = SWIM_STATE_FREE;
}

/* A free slot, else the down record held longest; SWIM_NO_SLOT if the table
 * is full of live members. */
static uint16_t alloc_slot(struct weft_swim *s)
{
	uint16_t victim = SWIM_NO_SLOT;

	for (uint32_t i = 1; i < s->n_slots; i++)
		if (s->m[i].state == SWIM_STATE_FREE)
			return (uint16_t)i;
	if (s->n_slots < s->cfg.max_members)
		return (uint16_t)s->n_slots++;
	for (uint32_t i = 1; i < s->n_slots; i++) {
		const struct swim_member *m = &s->m[i];

		if (!swim_live_state(m->state) &&
		    (victim == SWIM_NO_SLOT || m->since_ms < s->m[victim].since_ms))
			victim = (uint16_t)i;
	}
	if (victim != SWIM_NO_SLOT)
		free_slot(s, victim);
	return victim;
}

static void index_insert(struct weft_swim *s, uint16_t slot)
{
	uint32_t lo = 0, hi = s->n_used;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (swim_id_cmp(&s->m[s->by_id[mid]].id, &s->m[slot].id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&s->by_id[lo + 1], &s->by_id[lo],
		(s->n_used - lo) * sizeof(s->by_id[0]));
	s->by_id[lo] = slot;
	s->n_used++;
}

/* ---- suspicion (Lifeguard) ---- */

static uint64_t susp_timeout(const struct swim_member *m)
{
	uint32_t c = m->n_confirm ? m->n_confirm - 1u : 0u;
	double t;

	if (m->k_confirm < 1)
		return m->susp_min_ms;
	t = (double)m->susp_max_ms - ((double)m->susp_max_ms - m->susp_min_ms) *
		log((double)c + 1.0) / log((double)m->k_confirm + 1.0);
	if (t < m->susp_min_ms)
		t = m->susp_min_ms;
	return (uint64_t)floor(t);
}

static void susp_deadline(struct weft_swim *s, struct swim_member *m)
{
	m->suspect_deadline = m->since_ms + susp_timeout(m);
	if (m->suspect_deadline < s->next_suspect_ms)
		s->next_suspect_ms = m->suspect_deadline;
}

static void start_suspicion(struct weft_swim *s, uint64_t now,
			    struct swim_member *m, uint32_t inc,
			    const struct weft_swim_id *from)
{
	double n = (double)s->n_live;
	double scale = n > 10.0 ? log10(n) : 1.0;
	uint32_t k = s->cfg.suspicion_mult > 2 ? s->cfg.suspicion_mult - 2 : 0;

	if (k + 2 > s->n_live)
		k = s->n_live > 2 ? s->n_live - 2 : 0;
	if (k > SWIM_MAX_CONFIRM - 1)
		k = SWIM_MAX_CONFIRM - 1;
	m->inc = inc;
	set_state(s, m, WEFT_SWIM_SUSPECT, now);
	m->susp_min_ms = (uint32_t)(s->cfg.suspicion_mult * scale *
				    s->cfg.probe_interval_ms);
	m->susp_max_ms = s->cfg.suspicion_max_mult * m->susp_min_ms;
	m->k_confirm = (uint8_t)k;
	m->n_confirm = 1;
	m->confirm[0] = id_hash(from);
	m->susp_from = *from;
	susp_deadline(s, m);
	emit_member(s, WEFT_SWIM_EV_SUSPECT, m);
}

/* An independent suspicion of the same incarnation shortens the timeout;
 * re-gossip it so others can count it too. */
static void confirm_suspicion(struct weft_swim *s, struct swim_member *m,
			      uint16_t slot, const struct weft_swim_id *from)
{
	uint32_t h = id_hash(from);

	if (m->n_confirm >= (uint32_t)m->k_confirm + 1u)
		return;
	for (uint32_t i = 0; i < m->n_confirm; i++)
		if (m->confirm[i] == h)
			return;
	m->confirm[m->n_confirm++] = h;
	m->susp_from = *from;
	susp_deadline(s, m);
	swim_enqueue(s, slot);
}

void swim_check_suspicions(struct weft_swim *s, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (now < s->next_suspect_ms)
		return;
	for (uint32_t i = 1; i < s->n_slots; i++) {
		struct swim_member *m = &s->m[i];

		if (m->state != WEFT_SWIM_SUSPECT)
			continue;
		if (m->suspect_deadline <= now) {
			set_state(s, m, WEFT_SWIM_DEAD, now);
			swim_enqueue(s, (uint16_t)i);
			emit_member(s, WEFT_SWIM_EV_DOWN, m);
		} else if (m->suspect_deadline < next) {
			next = m->suspect_deadline;
		}
	}
	s->next_suspect_ms = next;
}

void swim_gc(struct weft_swim *s, uint64_t now)
{
	if (now < s->next_gc_ms)
		return;
	for (uint32_t i = 1; i < s->n_slots; i++) {
		struct swim_member *m = &s->m[i];

		if (m->state != SWIM_STATE_FREE && !swim_live_state(m->state) &&
		    now - m->since_ms >= s->cfg.dead_keep_ms)
			free_slot(s, (uint16_t)i);
	}
	s->next_gc_ms = now + s->cfg.dead_keep_ms / 4 + 1;
}

/* ---- applying updates ---- */

static void send_reject(struct weft_swim *s, const struct swim_rec *loser,
			const struct swim_rec *winner)
{
	struct swim_cur c = swim_msg_begin(s, SWIM_MSG_REJECT);
	struct swim_rec w = *winner;

	w.has_from = false;
	w.state = WEFT_SWIM_ALIVE;
	swim_w_u8(&c, SWIM_REJECT_DUPLICATE_ID);
	swim_w_id(&c, &loser->id);
	swim_w_u64(&c, loser->nonce);
	swim_w_rec(&c, &w);
	if (!c.bad) {
		s->st.duplicate_rejects++;
		swim_send(s, &loser->addr, s->buf, (size_t)(c.p - s->buf));
	}
}

/* Installs life `r` in `m` (new record or replacing another life). */
static void install_life(struct weft_swim *s, uint64_t now, uint16_t slot,
			 const struct swim_rec *r, uint8_t st)
{
	struct swim_member *m = &s->m[slot];
	static const struct weft_swim_id zero;

	m->id = r->id;
	m->nonce = r->nonce;
	m->addr = r->addr;
	m->inc = r->inc;
	m->name_len = r->name_len;
	memcpy(m->name, r->name, (size_t)r->name_len + 1);
	m->n_confirm = 0;
	s->view_dirty = true;
	if (st == WEFT_SWIM_SUSPECT) {
		set_state(s, m, WEFT_SWIM_ALIVE, now);
		emit_member(s, WEFT_SWIM_EV_MEMBER_UP, m);
		start_suspicion(s, now, m, r->inc, r->has_from ? &r->from : &zero);
	} else {
		set_state(s, m, st, now);
		if (st == WEFT_SWIM_ALIVE)
			emit_member(s, WEFT_SWIM_EV_MEMBER_UP, m);
	}
	swim_enqueue(s, slot);
}

static void apply_self(struct weft_swim *s, const struct swim_rec *r,
		       uint8_t st)
{
	struct swim_member *me = &s->m[0];

	if (r->nonce != me->nonce) {
		struct swim_rec mine;

		swim_member_to_rec(me, &mine);
		if (r->nonce > me->nonce && swim_live_state(st) &&
		    !swim_addr_eq(&r->addr, &me->addr))
			send_reject(s, r, &mine);       /* a later copy of us */
		else if (!me->queued)
			swim_enqueue(s, 0);             /* an older life: tell ours */
		return;
	}
	if (me->state == WEFT_SWIM_LEFT) {
		if (st != WEFT_SWIM_LEFT || r->inc > me->inc) {
			me->inc = (r->inc > me->inc ? r->inc : me->inc) + 1;
			swim_enqueue(s, 0);
		}
		return;
	}
	if (st != WEFT_SWIM_ALIVE && r->inc >= me->inc) {
		swim_refute(s, r->inc);
		swim_awareness(s, 1);
	} else if (st != WEFT_SWIM_ALIVE && !me->queued) {
		swim_enqueue(s, 0);     /* a stale accusation: repeat our state */
	}
}

void swim_heard_from(struct weft_swim *s, const struct weft_swim_id *id,
		     uint64_t nonce)
{
	uint16_t slot = swim_find(s, id);

	/* A member we hold down talks to us: make sure our next datagrams
	 * carry that verdict, so it refutes (or repeats its newer state). */
	if (slot != SWIM_NO_SLOT && slot != 0 && s->m[slot].nonce == nonce &&
	    s->m[slot].state == WEFT_SWIM_DEAD && !s->m[slot].queued)
		swim_enqueue(s, slot);
}

void swim_view_life(struct weft_swim *s, uint64_t now,
		    const struct weft_swim_id *id, uint64_t nonce)
{
	uint16_t slot = swim_find(s, id);
	struct swim_member *m;
	struct swim_rec r;

	if (slot == 0 || slot == SWIM_NO_SLOT)
		return;
	m = &s->m[slot];
	if (m->nonce >= nonce || swim_live_state(m->state))
		return;
	swim_member_to_rec(m, &r);
	r.nonce = nonce;
	r.inc = 0;
	r.has_from = false; /* the address and the name of the life before */
	install_life(s, now, slot, &r, WEFT_SWIM_ALIVE);
	if (m->queued)
		bq_remove(s, slot);     /* the view's word, not gossip of ours */
}

void swim_refute(struct weft_swim *s, uint32_t seen_inc)
{
	s->m[0].inc = seen_inc + 1;
	swim_enqueue(s, 0);
}

static void apply_other_life(struct weft_swim *s, uint64_t now, uint16_t slot,
			     const struct swim_rec *r, uint8_t st)
{
	struct swim_member *m = &s->m[slot];
	struct swim_rec held;

	swim_member_to_rec(m, &held);
	if (swim_addr_eq(&r->addr, &m->addr)) {
		if (r->nonce < m->nonce)
			return;                          /* older life: stale */
	} else if (swim_live_state(m->state)) {
		if (!swim_live_state(st))
			return;
		if (r->nonce > m->nonce) {               /* newcomer copies an id */
			send_reject(s, r, &held);
			return;
		}
		send_reject(s, &held, r);                /* we held the copy */
	} else if (!swim_live_state(st)) {
		return;
	}
	if (swim_live_state(m->state)) {
		set_state(s, m, WEFT_SWIM_DEAD, now);
		emit_member(s, WEFT_SWIM_EV_DOWN, m);
	}
	install_life(s, now, slot, r, st);
}

void swim_apply(struct weft_swim *s, uint64_t now, const struct swim_rec *r,
		enum swim_source src)
{
	static const struct weft_swim_id zero;
	uint8_t st = r->state;
	uint16_t slot;
	struct swim_member *m;

	/* A full-state merge turns DEAD into SUSPECT so that a live node
	 * declared dead elsewhere (e.g. across a healed partition) gets the
	 * chance to refute instead of being killed outright (as memberlist). */
	if (src == SWIM_SRC_SYNC && st == WEFT_SWIM_DEAD)
		st = WEFT_SWIM_SUSPECT;
	slot = swim_find(s, &r->id);
	if (slot == 0) {
		apply_self(s, r, st);
		return;
	}
	if (slot == SWIM_NO_SLOT) {
		/* Only a record that says ALIVE introduces a member: a suspicion
		 * (or a DEAD turned SUSPECT by a sync) about an id this node has
		 * forgotten is about a life already collected here, and admitting
		 * it would bring a crashed node back every dead_keep_ms. */
		if (r->state != WEFT_SWIM_ALIVE)
			return;
		slot = alloc_slot(s);
		if (slot == SWIM_NO_SLOT) {
			s->st.rx_dropped++;
			return;
		}
		s->m[slot].id = r->id;
		s->m[slot].state = WEFT_SWIM_DEAD;
		s->m[slot].queued = 0;
		index_insert(s, slot);
		install_life(s, now, slot, r, st);
		return;
	}
	m = &s->m[slot];
	if (r->nonce != m->nonce) {
		apply_other_life(s, now, slot, r, st);
		return;
	}
	if (m->name_len == 0 && r->name_len != 0) {   /* fixed per life: learn once */
		m->name_len = r->name_len;
		memcpy(m->name, r->name, (size_t)r->name_len + 1);
	}
	switch (st) {
	case WEFT_SWIM_ALIVE:
		if (r->inc > m->inc) {
			bool was_up = m->state == WEFT_SWIM_ALIVE;

			m->inc = r->inc;
			set_state(s, m, WEFT_SWIM_ALIVE, now);
			swim_enqueue(s, slot);
			if (!was_up)
				emit_member(s, WEFT_SWIM_EV_MEMBER_UP, m);
		}
		break;
	case WEFT_SWIM_SUSPECT: {
		const struct weft_swim_id *from = r->has_from ? &r->from : &zero;

		if (m->state == WEFT_SWIM_ALIVE && r->inc >= m->inc) {
			start_suspicion(s, now, m, r->inc, from);
			swim_enqueue(s, slot);
		} else if (m->state == WEFT_SWIM_SUSPECT && r->inc > m->inc) {
			start_suspicion(s, now, m, r->inc, from);
			swim_enqueue(s, slot);
		} else if (m->state == WEFT_SWIM_SUSPECT && r->inc == m->inc) {
			confirm_suspicion(s, m, slot, from);
		}
		break;
	}
	case WEFT_SWIM_DEAD:
		if (swim_live_state(m->state) && r->inc >= m->inc) {
			m->inc = r->inc;
			set_state(s, m, WEFT_SWIM_DEAD, now);
			swim_enqueue(s, slot);
			emit_member(s, WEFT_SWIM_EV_DOWN, m);
		}
		break;
	default: /* LEFT */
		if (m->state != WEFT_SWIM_LEFT && r->inc >= m->inc) {
			m->inc = r->inc;
			set_state(s, m, WEFT_SWIM_LEFT, now);
			swim_enqueue(s, slot);
			emit_member(s, WEFT_SWIM_EV_LEFT, m);
		}
		break;
	}
}

void swim_suspect(struct weft_swim *s, uint64_t now, uint16_t slot,
		  const struct weft_swim_id *from)
{
	struct swim_rec r;

	swim_member_to_rec(&s->m[slot], &r);
	if (!swim_live_state(r.state))
		return;
	r.state = WEFT_SWIM_SUSPECT;
	r.has_from = true;
	r.from = *from;
	swim_apply(s, now, &r, SWIM_SRC_GOSSIP);
}
