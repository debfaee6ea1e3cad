/*
 * swim.c — the public face of the membership state machine: life cycle,
 * join / leave commands, the timer, anti-entropy sync, introspection
 * (datagrams are dispatched in swim_recv.c).
 *
 * Every public entry point: (1) remembers the caller's sink for the call,
 * (2) does its work, (3) lets the coordinator re-evaluate the view and
 * recomputes the cached deadline (swim_finish).
 *
 * Invariants: phase only moves IDLE -> JOINING -> MEMBER -> LEAVING -> DONE,
 * or to REFUSED from JOINING/MEMBER; in DONE/REFUSED no message is sent and
 * the deadline is UINT64_MAX. After any call, deadline > now_ms unless a
 * timer is already due (the driver then ticks at once).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "swim_wire.h"

/* ---- helpers shared by the module ---- */

uint64_t swim_rand(struct weft_swim *s)
{
	/* splitmix64 */
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t swim_rand_below(struct weft_swim *s, uint32_t n)
{
	return n ? (uint32_t)(((swim_rand(s) >> 32) * (uint64_t)n) >> 32) : 0;
}

void swim_send(struct weft_swim *s, const struct weft_swim_addr *to,
	       const void *buf, size_t len)
{
	if (!to->ip || !s->sink || !s->sink->send)
		return;
	s->st.tx_msgs++;
	s->sink->send(s->sink->ctx, to, buf, len);
}

void swim_emit(struct weft_swim *s, const struct weft_swim_event *ev)
{
	if (s->sink && s->sink->event)
		s->sink->event(s->sink->ctx, ev);
}

int swim_id_cmp(const struct weft_swim_id *a, const struct weft_swim_id *b)
{
	return memcmp(a->b, b->b, sizeof(a->b));
}

bool swim_addr_eq(const struct weft_swim_addr *a, const struct weft_swim_addr *b)
{
	return a->ip == b->ip && a->port == b->port;
}

/* ---- configuration and life cycle ---- */

void weft_swim_config_default(struct weft_swim_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_members = 1024;
	cfg->probe_interval_ms = 200;
	cfg->probe_timeout_ms = 100;
	cfg->indirect_checks = 3;
	cfg->suspicion_mult = 4;
	cfg->suspicion_max_mult = 3;
	cfg->retransmit_mult = 4;
	cfg->awareness_max = 8;
	cfg->sync_interval_ms = 10000;
	cfg->join_retry_ms = 500;
	cfg->join_timeout_ms = 2000;
	cfg->dead_keep_ms = 30000;
	cfg->view_min_interval_ms = 200;
	cfg->leave_linger_ms = 1000;
	cfg->packet_budget = 1400;
	cfg->lease_ms = WEFT_SWIM_LEASE_MS;
}

/* NUL-terminated within its array, printable ASCII without spaces (what
 * receivers accept, swim_wire.h). */
static bool name_ok(const char *name, size_t size)
{
	const char *end = memchr(name, 0, size);

	if (end == NULL)
		return false;
	for (const char *p = name; p < end; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return false;
	return true;
}

static bool config_ok(const struct weft_swim_config *c)
{
	return c->max_members >= 2 && c->max_members <= WEFT_SWIM_MAX_MEMBERS &&
	       c->probe_interval_ms > 0 && c->probe_timeout_ms > 0 &&
	       c->probe_timeout_ms < c->probe_interval_ms &&
	       c->suspicion_mult > 0 && c->suspicion_max_mult > 0 &&
	       c->retransmit_mult > 0 && c->retransmit_mult <= 50 &&
	       c->awareness_max > 0 && c->sync_interval_ms > 0 &&
	       c->join_retry_ms > 0 && c->dead_keep_ms > 0 &&
	       c->packet_budget >= 256 && c->packet_budget <= WEFT_SWIM_MSG_MAX &&
	       c->addr.ip != 0 && name_ok(c->name, sizeof(c->name));
}

struct weft_swim *weft_swim_create(const struct weft_swim_config *cfg,
				   uint64_t now_ms)
{
	struct weft_swim *s;
	uint32_t n;

	if (!cfg || !config_ok(cfg)) {
		errno = EINVAL;
		return NULL;
	}
	n = cfg->max_members;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->cfg = *cfg;
	s->rng = cfg->seed ^ cfg->nonce;
	s->cookie_key = swim_rand(s);
	s->m = calloc(n, sizeof(*s->m));
	s->by_id = calloc(n, sizeof(*s->by_id));
	s->bq = calloc(n, sizeof(*s->bq));
	s->order = calloc(n, sizeof(*s->order));
	s->view = calloc(n, sizeof(*s->view));
	s->vscratch = calloc(n, sizeof(*s->vscratch));
	s->buf = malloc(WEFT_SWIM_MSG_MAX);
	if (!s->m || !s->by_id || !s->bq || !s->order || !s->view ||
	    !s->vscratch || !s->buf) {
		weft_swim_destroy(s);
		goto nomem;
	}
	for (uint32_t i = 0; i < n; i++)
		s->m[i].state = SWIM_STATE_FREE;
	s->m[0].id = cfg->id;
	s->m[0].nonce = cfg->nonce;
	s->m[0].addr = cfg->addr;
	s->m[0].name_len = (uint8_t)strlen(cfg->name);
	memcpy(s->m[0].name, cfg->name, (size_t)s->m[0].name_len + 1);
	s->m[0].state = WEFT_SWIM_ALIVE;
	s->m[0].since_ms = now_ms;
	s->n_slots = 1;
	s->n_used = 1;
	s->n_live = 1;
	s->by_id[0] = 0;
	s->next_suspect_ms = UINT64_MAX;
	s->deadline = UINT64_MAX;
	return s;
nomem:
	free(s);
	errno = ENOMEM;
	return NULL;
}

void weft_swim_destroy(struct weft_swim *s)
{
	if (!s)
		return;
	free(s->m);
	free(s->by_id);
	free(s->bq);
	free(s->order);
	free(s->view);
	free(s->vscratch);
	free(s->buf);
	free(s);
}

/* ---- deadlines ---- */

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void swim_finish(struct weft_swim *s, uint64_t now)
{
	uint64_t d = UINT64_MAX;

	if (s->phase == SWIM_MEMBER)
		swim_view_tick(s, now);
	switch (s->phase) {
	case SWIM_JOINING:
		d = min64(s->next_join_ms, s->join_deadline);
		break;
	case SWIM_LEAVING:
		d = s->leave_done_ms;
		/* fall through */
	case SWIM_MEMBER:
		d = min64(d, swim_probe_deadline(s));
		/* At least 1 ms ahead: a view installed just now, after this
		 * tick's lease check, makes the lease due at once. */
		uint64_t lease = swim_lease_deadline(s);
		d = min64(d, lease > now ? lease : now + 1);
		d = min64(d, s->next_suspect_ms);
		d = min64(d, s->next_sync_ms);
		d = min64(d, s->next_gc_ms);
		if (s->view_dirty && s->phase == SWIM_MEMBER)
			d = min64(d, s->next_view_ms);
		break;
	default:
		break;
	}
	s->deadline = d;
	s->sink = NULL;
}

uint64_t weft_swim_next_deadline(const struct weft_swim *s)
{
	return s->deadline;
}

uint64_t weft_swim_lease_until(const struct weft_swim *s)
{
	if (s->cfg.lease_ms == 0 || !s->have_view || s->n_view < 2)
		return UINT64_MAX;
	return s->confirmed_ms != 0 ? s->confirmed_ms + s->cfg.lease_ms : 0;
}

/* ---- join, leave, sync ---- */

static void send_self_rec(struct weft_swim *s, uint8_t type,
			  const struct weft_swim_addr *to)
{
	struct swim_cur c = swim_msg_begin(s, type);
	struct swim_rec r;

	swim_member_to_rec(&s->m[0], &r);
	r.has_from = false;
	swim_w_rec(&c, &r);
	if (!c.bad)
		swim_send(s, to, s->buf, (size_t)(c.p - s->buf));
}

void swim_send_join(struct weft_swim *s, const struct weft_swim_addr *to,
		    uint64_t cookie)
{
	struct swim_cur c = swim_msg_begin(s, SWIM_MSG_JOIN);
	struct swim_rec r;

	swim_member_to_rec(&s->m[0], &r);
	r.has_from = false;
	swim_w_rec(&c, &r);
	swim_w_u64(&c, cookie);
	if (!c.bad)
		swim_send(s, to, s->buf, (size_t)(c.p - s->buf));
}

void swim_send_sync(struct weft_swim *s, const struct weft_swim_addr *to,
		    uint64_t cookie)
{
	struct swim_cur c = swim_msg_begin(s, SWIM_MSG_SYNC);

	swim_w_u64(&c, cookie);
	swim_w_state(s, &c);
	if (c.bad)
		return;
	if (!cookie)    /* remember it: only then is a COOKIE for it honoured */
		s->sync_sent[s->sync_sent_pos++ % 4] = *to;
	swim_send(s, to, s->buf, (size_t)(c.p - s->buf));
}

void swim_send_state(struct weft_swim *s, uint8_t type,
		       const struct weft_swim_addr *to)
{
	struct swim_cur c = swim_msg_begin(s, type);

	swim_w_state(s, &c);
	if (!c.bad)
		swim_send(s, to, s->buf, (size_t)(c.p - s->buf));
}

void swim_become_member(struct weft_swim *s, uint64_t now)
{
	s->phase = SWIM_MEMBER;
	s->next_probe_ms = now;
	/* Alone with seeds or discovery (formed first, or every node started
	 * at once): look for the others at the join pace, as sync_tick does. */
	s->next_sync_ms = now + (s->n_live <= 1 && (s->n_seeds || s->cfg.group.ip)
					 ? s->cfg.join_timeout_ms
					 : s->cfg.sync_interval_ms);
	s->next_gc_ms = now + s->cfg.dead_keep_ms / 4 + 1;
	s->view_dirty = true;
	struct weft_swim_event ev = {
		.kind = WEFT_SWIM_EV_JOINED, .id = s->cfg.id,
		.nonce = s->cfg.nonce, .addr = s->cfg.addr,
	};
	swim_emit(s, &ev);
}

int weft_swim_join(struct weft_swim *s, uint64_t now_ms,
		   const struct weft_swim_addr *seeds, unsigned n_seeds,
		   const struct weft_swim_sink *sink)
{
	if (n_seeds > WEFT_SWIM_MAX_SEEDS || (n_seeds && !seeds))
		return -EINVAL;
	if (s->phase != SWIM_IDLE)
		return -EALREADY;
	s->sink = sink;
	for (unsigned i = 0; i < n_seeds; i++)
		if (seeds[i].ip && !swim_addr_eq(&seeds[i], &s->cfg.addr))
			s->seeds[s->n_seeds++] = seeds[i];
	if (s->n_seeds == 0 && !s->cfg.group.ip) {
		swim_become_member(s, now_ms);
		swim_view_bootstrap(s, now_ms);
	} else {
		s->phase = SWIM_JOINING;
		s->next_join_ms = now_ms;
		s->join_deadline = now_ms + s->cfg.join_timeout_ms;
	}
	weft_swim_tick(s, now_ms, sink);
	return 0;
}

int weft_swim_leave(struct weft_swim *s, uint64_t now_ms,
		    const struct weft_swim_sink *sink)
{
	struct swim_cur c;
	uint32_t sent = 0, start;

	if (s->phase != SWIM_MEMBER && s->phase != SWIM_JOINING)
		return -EALREADY;
	s->sink = sink;
	if (s->phase == SWIM_JOINING) {
		s->phase = SWIM_DONE;
		struct weft_swim_event ev = { .kind = WEFT_SWIM_EV_LEAVE_DONE };
		swim_emit(s, &ev);
		swim_finish(s, now_ms);
		return 0;
	}
	struct swim_rec me;

	swim_member_to_rec(&s->m[0], &me);
	me.state = WEFT_SWIM_LEFT;
	me.inc = s->m[0].inc + 1;
	me.has_from = false;
	s->m[0].state = WEFT_SWIM_LEFT;      /* self: not live any more */
	s->m[0].inc = me.inc;
	s->n_live--;
	s->view_dirty = true;
	swim_enqueue(s, 0);
	s->phase = SWIM_LEAVING;
	s->leave_done_ms = now_ms + s->cfg.leave_linger_ms;
	/* Tell a few members at once; probes piggyback it to the rest. */
	start = s->n_slots > 1 ? swim_rand_below(s, s->n_slots - 1) : 0;
	for (uint32_t i = 0; i + 1 < s->n_slots && sent <= s->cfg.indirect_checks; i++) {
		uint16_t slot = (uint16_t)(1 + (start + i) % (s->n_slots - 1));

		if (!swim_live_state(s->m[slot].state))
			continue;
		c = swim_msg_begin(s, SWIM_MSG_GOSSIP);
		swim_w_u8(&c, 1);
		swim_w_rec(&c, &me);
		if (!c.bad)
			swim_send(s, &s->m[slot].addr, s->buf,
				  (size_t)(c.p - s->buf));
		sent++;
	}
	swim_finish(s, now_ms);
	return 0;
}

static uint16_t random_member(struct weft_swim *s, bool dead)
{
	uint32_t start;

	if (s->n_slots < 2)
		return SWIM_NO_SLOT;
	start = swim_rand_below(s, s->n_slots - 1);
	for (uint32_t i = 0; i + 1 < s->n_slots; i++) {
		uint16_t slot = (uint16_t)(1 + (start + i) % (s->n_slots - 1));
		uint8_t st = s->m[slot].state;

		if (dead ? st == WEFT_SWIM_DEAD : swim_live_state(st))
			return slot;
	}
	return SWIM_NO_SLOT;
}

static bool addr_is_live_member(const struct weft_swim *s,
				const struct weft_swim_addr *a)
{
	for (uint32_t i = 0; i < s->n_slots; i++)
		if (swim_live_state(s->m[i].state) && swim_addr_eq(&s->m[i].addr, a))
			return true;
	return false;
}

/* Anti-entropy with a live member, plus one attempt to reach beyond the
 * cluster we see (a dead member or a seed; multicast announce if we
 * coordinate) so that partitions and split bootstraps merge. */
static void sync_tick(struct weft_swim *s, uint64_t now)
{
	uint16_t slot;

	bool reached = false;

	if (now < s->next_sync_ms)
		return;
	/* Alone with seeds (every node of a cluster restarted at once, so
	 * each formed its own): look for the others as often as joins do. */
	s->next_sync_ms = now + (s->n_live <= 1 &&
				 (s->n_seeds || s->cfg.group.ip)
					 ? s->cfg.join_timeout_ms
					 : s->cfg.sync_interval_ms);
	s->sync_round++;
	slot = random_member(s, false);
	if (slot != SWIM_NO_SLOT)
		swim_send_sync(s, &s->m[slot].addr, 0);
	if (s->sync_round & 1u) {
		slot = random_member(s, true);
		if (slot != SWIM_NO_SLOT) {
			swim_send_sync(s, &s->m[slot].addr, 0);
			reached = true;
		}
	}
	for (unsigned i = 0; i < s->n_seeds && !reached; i++) {
		const struct weft_swim_addr *a = &s->seeds[s->seed_rr++ % s->n_seeds];

		if (!addr_is_live_member(s, a)) {
			swim_send_sync(s, a, 0);
			reached = true;
		}
	}
	if (s->cfg.group.ip && swim_view_is_coord(s))
		send_self_rec(s, SWIM_MSG_ANNOUNCE, &s->cfg.group);
}

void weft_swim_tick(struct weft_swim *s, uint64_t now_ms,
		    const struct weft_swim_sink *sink)
{
	s->sink = sink;
	switch (s->phase) {
	case SWIM_JOINING:
		if (now_ms < s->join_deadline) {
			if (now_ms >= s->next_join_ms) {
				for (unsigned i = 0; i < s->n_seeds; i++)
					swim_send_join(s, &s->seeds[i], 0);
				if (s->have_join_via)
					swim_send_join(s, &s->join_via, 0);
				if (s->cfg.group.ip)
					send_self_rec(s, SWIM_MSG_ANNOUNCE,
						      &s->cfg.group);
				s->next_join_ms = now_ms + s->cfg.join_retry_ms;
			}
			break;
		}
		/* Nobody answered: this is the first node; form a cluster
		 * and start probing in this very tick. */
		swim_become_member(s, now_ms);
		swim_view_bootstrap(s, now_ms);
		/* fall through */
	case SWIM_MEMBER:
	case SWIM_LEAVING:
		swim_relays_tick(s, now_ms);
		swim_probe_tick(s, now_ms);
		swim_lease_tick(s, now_ms);
		swim_check_suspicions(s, now_ms);
		sync_tick(s, now_ms);
		swim_gc(s, now_ms);
		if (s->phase == SWIM_LEAVING && now_ms >= s->leave_done_ms) {
			s->phase = SWIM_DONE;
			struct weft_swim_event ev = { .kind = WEFT_SWIM_EV_LEAVE_DONE };
			swim_emit(s, &ev);
		}
		break;
	default:
		break;
	}
	swim_finish(s, now_ms);
}

/* ---- introspection ---- */

void weft_swim_get_stats(const struct weft_swim *s, struct weft_swim_stats *st)
{
	*st = s->st;
	st->members = s->n_used;
	st->alive = s->n_live;
	st->broadcasts = s->n_bq;
	st->pending_relays = 0;
	for (uint32_t i = 0; i < SWIM_MAX_RELAYS; i++)
		st->pending_relays += s->relays[i].used;
	st->awareness = s->awareness;
}

const struct weft_swim_view_member *
weft_swim_view(const struct weft_swim *s, struct weft_swim_view_id *id,
	       uint32_t *n)
{
	if (!s->have_view) {
		*n = 0;
		return NULL;
	}
	if (id)
		*id = s->view_id;
	*n = s->n_view;
	return s->view;
}

bool weft_swim_is_coordinator(const struct weft_swim *s)
{
	return s->phase == SWIM_MEMBER && swim_view_is_coord(s);
}

int weft_swim_member_state(const struct weft_swim *s,
			   const struct weft_swim_id *id,
			   enum weft_swim_state *state, uint64_t *nonce)
{
	uint16_t slot = swim_find(s, id);

	if (slot == SWIM_NO_SLOT)
		return -ENOENT;
	if (state)
		*state = (enum weft_swim_state)s->m[slot].state;
	if (nonce)
		*nonce = s->m[slot].nonce;
	return 0;
}
