/*
 * sim_core.c — the simulator's engine: PRNG, event heap, simulated network
 * and the driving of the real membership state machines.
 *
 * Network model per datagram: a directed cut between partition groups drops
 * it; otherwise it is lost with P(loss), duplicated with P(dup) (each copy
 * with its own delay), and delayed by base + Exp(jitter), plus U(0, 20 ms)
 * with P(reorder), so datagrams overtake each other. Multicast to the
 * discovery group fans out to every other node.
 *
 * Node model: a local monotonic clock local_ms = (offset + t * (1 + drift))
 * / 1000; a crash destroys the state machine (memory lost); a restart makes
 * a new one with the same id and address and a larger nonce; a paused node
 * (stopped process) keeps datagrams and timers until it resumes, then runs
 * them late. Each node has at most one live timer event (timer_gen).
 *
 * Invariants: the heap is ordered by (t, seq) and seq is unique, so runs are
 * deterministic; an event never runs before s->now; every state-machine call
 * is followed by rescheduling that node's timer. With --data, data-layer
 * datagrams (sim_data.c) cross the same network model as membership ones,
 * and every crash, start and exit of a node is told to the data layer
 * (memory lost); without --data no random number is drawn for it, so
 * membership-only runs replay as before.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* ---- PRNG: splitmix64 to seed, xoshiro256** to draw ---- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sim_rand(struct sim_rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

uint32_t sim_below(struct sim_rng *r, uint32_t n)
{
	return n ? (uint32_t)(((sim_rand(r) >> 32) * (uint64_t)n) >> 32) : 0;
}

double sim_unit(struct sim_rng *r)
{
	return (double)(sim_rand(r) >> 11) * 0x1.0p-53;
}

/* ---- event heap ---- */

static bool ev_less(const struct sim_event *a, const struct sim_event *b)
{
	return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

void sim_push(struct sim *s, uint64_t t, uint32_t kind, uint32_t node,
	      uint32_t gen, uint32_t arg, struct sim_msg *m)
{
	if (s->n_heap == s->cap_heap) {
		uint32_t cap = s->cap_heap ? s->cap_heap * 2 : 1024;
		struct sim_event *h = realloc(s->heap, cap * sizeof(*h));

		if (!h) {
			sim_fail(s, "out of memory growing the event heap");
			free(m);
			return;
		}
		s->heap = h;
		s->cap_heap = cap;
	}
	uint32_t i = s->n_heap++;
	struct sim_event ev = {
		.t = t < s->now ? s->now : t, .seq = s->seq++, .kind = kind,
		.node = node, .gen = gen, .arg = arg, .msg = m,
	};
	while (i > 0 && ev_less(&ev, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = ev;
}

static struct sim_event pop(struct sim *s)
{
	struct sim_event top = s->heap[0], last = s->heap[--s->n_heap];
	uint32_t i = 0;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= s->n_heap)
			break;
		if (c + 1 < s->n_heap && ev_less(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ev_less(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->n_heap)
		s->heap[i] = last;
	return top;
}

/* ---- clocks and timers ---- */

uint64_t sim_local_ms(const struct sim_node *n, uint64_t t_us)
{
	return (n->offset_us + (uint64_t)((double)t_us * (1.0 + n->drift))) / 1000;
}

static void schedule_timer(struct sim *s, uint32_t i)
{
	struct sim_node *n = &s->node[i];
	uint64_t d, t;

	if (n->exit_pending) {
		s->life_epoch++;
		sim_data_crash(s, i);       /* the process exits: memory lost */
		weft_swim_destroy(n->sm);
		n->sm = NULL;
		n->up = false;
		n->exit_pending = false;
		n->timer_gen++;
		return;
	}
	if (!n->up)
		return;
	d = weft_swim_next_deadline(n->sm);
	if (d == UINT64_MAX) {
		n->timer_gen++;
		n->timer_at = UINT64_MAX;
		return;
	}
	if (d * 1000 <= n->offset_us)
		t = s->now;
	else
		t = (uint64_t)ceil((double)(d * 1000 - n->offset_us) /
				   (1.0 + n->drift));
	for (int k = 0; k < 4 && sim_local_ms(n, t) < d; k++)
		t += 250;       /* float rounding: never wake before the deadline */
	if (sim_local_ms(n, t) < d)
		sim_fail(s, "node %u: cannot map deadline %llu to virtual time",
			 i, (unsigned long long)d);
	if (t < s->now)
		t = s->now;
	if (t == n->timer_at)
		return;
	n->timer_at = t;
	n->timer_gen++;
	sim_push(s, t, SIM_EV_TIMER, i, n->timer_gen, 0, NULL);
}

/* ---- network ---- */

static void net_send(struct sim *s, uint32_t src, uint32_t dst,
		     const void *buf, size_t len, uint32_t kind)
{
	struct sim_node *a = &s->node[src], *b = &s->node[dst];
	uint32_t copies = 1;

	if (s->cut[a->group][b->group] || sim_unit(&s->rng) < s->o.loss) {
		s->msgs_dropped++;
		sim_trace(s, SIM_T_DROP, src, dst, ((const uint8_t *)buf)[3],
			  (uint32_t)len, 0);
		return;
	}
	if (sim_unit(&s->rng) < s->o.dup)
		copies = 2;
	for (uint32_t c = 0; c < copies; c++) {
		uint64_t delay = s->o.lat_us +
			(uint64_t)(-log(1.0 - sim_unit(&s->rng)) * s->o.jitter_us);
		struct sim_msg *m;

		if (sim_unit(&s->rng) < s->o.reorder)
			delay += sim_below(&s->rng, 20000);
		m = malloc(sizeof(*m) + len);
		if (!m) {
			sim_fail(s, "out of memory for a datagram");
			return;
		}
		m->src = src;
		m->dst = dst;
		m->from = a->addr;
		m->len = (uint32_t)len;
		memcpy(m->data, buf, len);
		sim_push(s, s->now + delay, kind, dst, 0, 0, m);
	}
}

static int addr_node(const struct sim *s, const struct weft_swim_addr *a)
{
	for (uint32_t i = s->o.nodes; i < s->n_nodes; i++)   /* duplicates */
		if (s->node[i].addr.ip == a->ip && s->node[i].addr.port == a->port)
			return (int)i;
	if ((a->ip >> 16) != 0x0a00 || a->port != SIM_PORT)
		return -1;
	return (a->ip & 0xffffu) < s->o.nodes ? (int)(a->ip & 0xffffu) : -1;
}

static void on_send(void *ctx, const struct weft_swim_addr *to,
		    const void *buf, size_t len)
{
	struct sim_sink_ctx *c = ctx;
	struct sim *s = c->s;
	int dst;

	s->msgs_sent++;
	s->node[c->node].tx_msgs++;
	sim_trace(s, SIM_T_SEND, c->node, to->ip, ((const uint8_t *)buf)[3],
		  (uint32_t)len, 0);
	if (to->ip == SIM_GROUP_IP) {
		for (uint32_t j = 0; j < s->n_nodes; j++)
			if (j != c->node)
				net_send(s, c->node, j, buf, len,
					 SIM_EV_DELIVER);
		return;
	}
	dst = addr_node(s, to);
	if (dst < 0) {
		s->msgs_dropped++;
		return;
	}
	net_send(s, c->node, (uint32_t)dst, buf, len, SIM_EV_DELIVER);
}

void sim_net_data(struct sim *s, uint32_t src, uint32_t dst,
		  const void *buf, size_t len)
{
	sim_trace(s, SIM_T_SEND, src, s->node[dst].addr.ip,
		  ((const uint8_t *)buf)[3], (uint32_t)len, 0);
	net_send(s, src, dst, buf, len, SIM_EV_DDELIVER);
}

static void on_event(void *ctx, const struct weft_swim_event *ev)
{
	struct sim_sink_ctx *c = ctx;
	struct sim *s = c->s;
	struct sim_node *n = &s->node[c->node];

	sim_trace(s, SIM_T_EVENT, c->node,
		  ev->kind == WEFT_SWIM_EV_VIEW ? ev->n_view
			: (uint32_t)(ev->id.b[2] << 8 | ev->id.b[3]),
		  (uint16_t)ev->kind, ev->incarnation,
		  ev->kind == WEFT_SWIM_EV_VIEW ? ev->view_id.counter : ev->nonce);
	switch (ev->kind) {
	case WEFT_SWIM_EV_VIEW:
		sim_check_view_event(s, c->node, ev);
		break;
	case WEFT_SWIM_EV_REFUSED:
		n->refused = true;
		n->exit_pending = true;
		if (!n->is_dup)
			sim_fail(s, "node %u refused: %s", c->node, ev->reason);
		break;
	case WEFT_SWIM_EV_LEAVE_DONE:
		n->exit_pending = true;
		break;
	case WEFT_SWIM_EV_DOWN:
		sim_detect_down(s, c->node, ev);
		break;
	default:
		break;
	}
	sim_data_event(s, c->node, ev);
	if (s->hooks.event)
		s->hooks.event(s->hooks.ctx, c->node, ev);
}

/* ---- nodes ---- */

void sim_node_start(struct sim *s, uint32_t i, bool first)
{
	struct sim_node *n = &s->node[i];
	struct weft_swim_config cfg = s->base;
	struct weft_swim_addr seeds[WEFT_SWIM_MAX_SEEDS];
	unsigned n_seeds = 0;

	n->lives++;
	/* Grows across restarts, like weftd's start-time nonce. */
	n->nonce = (s->now + 1) * 4096 + n->lives;
	cfg.id = n->id;
	cfg.nonce = n->nonce;
	cfg.addr = n->addr;
	cfg.seed = sim_rand(&s->rng);
	if (s->o.discovery)
		cfg.group = (struct weft_swim_addr){ SIM_GROUP_IP, SIM_PORT };
	n->sm = weft_swim_create(&cfg, sim_local_ms(n, s->now));
	if (!n->sm) {
		sim_fail(s, "weft_swim_create(node %u): errno %d", i, errno);
		return;
	}
	n->up = true;
	n->paused = false;
	n->refused = false;
	n->started_at = s->now;
	s->life_epoch++;
	sim_data_start(s, i);
	n->has_view = false;
	n->timer_at = UINT64_MAX;
	if (!first && !s->o.discovery)
		for (uint32_t j = 0; j < s->o.nodes && n_seeds < s->n_seeds; j++)
			if (j != i)
				seeds[n_seeds++] = s->node[j].addr;
	sim_trace(s, SIM_T_RESTART, i, 0, 0, 0, n->nonce);
	weft_swim_join(n->sm, sim_local_ms(n, s->now), seeds, n_seeds,
		       &s->sinks[i]);
	schedule_timer(s, i);
}

void sim_node_crash(struct sim *s, uint32_t i)
{
	struct sim_node *n = &s->node[i];

	if (!n->up)
		return;
	sim_trace(s, SIM_T_CRASH, i, 0, 0, 0, n->nonce);
	sim_detect_crash(s, i);
	s->life_epoch++;
	sim_data_crash(s, i);
	weft_swim_destroy(n->sm);
	n->sm = NULL;
	n->up = false;
	n->paused = false;
	n->timer_gen++;
	n->timer_at = UINT64_MAX;
	n->down_at = s->now;
}

void sim_node_pause(struct sim *s, uint32_t i, uint64_t until_us)
{
	struct sim_node *n = &s->node[i];

	if (!n->up || n->paused)
		return;
	sim_trace(s, SIM_T_PAUSE, i, 0, 0, 0, until_us);
	n->paused = true;
	n->pause_until = until_us;
	n->calm_after = until_us + SIM_CALM_US;
}

void sim_node_leave(struct sim *s, uint32_t i)
{
	struct sim_node *n = &s->node[i];

	if (!n->up || n->paused)
		return;
	sim_trace(s, SIM_T_LEAVE, i, 0, 0, 0, n->nonce);
	weft_swim_leave(n->sm, sim_local_ms(n, s->now), &s->sinks[i]);
	schedule_timer(s, i);
}

uint32_t sim_add_dup_node(struct sim *s, uint32_t of)
{
	uint32_t i = s->n_nodes++;
	struct sim_node *n = &s->node[i];

	memset(n, 0, sizeof(*n));
	n->id = s->node[of].id;
	n->is_dup = true;
	n->addr = (struct weft_swim_addr){ 0x0a010000u | i, SIM_PORT };
	n->offset_us = s->node[of].offset_us;
	s->sink_ctx[i] = (struct sim_sink_ctx){ s, i };
	s->sinks[i] = (struct weft_swim_sink){ &s->sink_ctx[i], on_send, on_event };
	sim_node_start(s, i, false);
	return i;
}

void sim_heal(struct sim *s)
{
	static const uint8_t none[SIM_GROUPS][SIM_GROUPS];

	if (memcmp(s->cut, none, sizeof(s->cut)))
		sim_detect_partition(s, false);
	memset(s->cut, 0, sizeof(s->cut));
	s->part_since = 0;
	for (uint32_t i = 0; i < s->n_nodes; i++)
		s->node[i].group = 0;
	sim_trace(s, SIM_T_HEAL, 0, 0, 0, 0, 0);
}

/* ---- the loop ---- */

bool sim_step(struct sim *s)
{
	struct sim_event ev;
	struct sim_node *n;

	if (s->n_heap == 0)
		return false;
	ev = pop(s);
	s->now = ev.t;
	s->events_run++;
	n = ev.node < s->n_nodes ? &s->node[ev.node] : NULL;
	switch (ev.kind) {
	case SIM_EV_DELIVER:
		if (!n->up) {
			free(ev.msg);
			break;
		}
		if (n->paused) {
			sim_push(s, n->pause_until, SIM_EV_DELIVER, ev.node, 0, 0,
				 ev.msg);
			break;
		}
		sim_trace(s, SIM_T_DELIVER, ev.node, ev.msg->src,
			  ev.msg->data[3], ev.msg->len, 0);
		weft_swim_recv(n->sm, sim_local_ms(n, s->now), &ev.msg->from,
			       ev.msg->data, ev.msg->len, &s->sinks[ev.node]);
		free(ev.msg);
		schedule_timer(s, ev.node);
		break;
	case SIM_EV_TIMER:
		if (!n->up || ev.gen != n->timer_gen)
			break;
		if (n->paused) {
			n->timer_at = n->pause_until;
			sim_push(s, n->pause_until, SIM_EV_TIMER, ev.node,
				 ev.gen, 0, NULL);
			break;
		}
		n->timer_at = UINT64_MAX;
		weft_swim_tick(n->sm, sim_local_ms(n, s->now), &s->sinks[ev.node]);
		/* A tick must move the deadline past the local now. */
		if (n->up && weft_swim_next_deadline(n->sm) <=
			     sim_local_ms(n, s->now))
			sim_fail(s, "node %u: deadline did not advance after a "
				 "tick (busy loop)", ev.node);
		schedule_timer(s, ev.node);
		break;
	case SIM_EV_DDELIVER:
		if (!n->up) {
			free(ev.msg);
			break;
		}
		if (n->paused) {
			sim_push(s, n->pause_until, SIM_EV_DDELIVER, ev.node, 0,
				 0, ev.msg);
			break;
		}
		sim_trace(s, SIM_T_DELIVER, ev.node, ev.msg->src,
			  ev.msg->data[3], ev.msg->len, 0);
		sim_data_deliver(s, ev.msg);
		free(ev.msg);
		break;
	case SIM_EV_DTICK:
		sim_data_tick(s);
		break;
	case SIM_EV_FAULT:
		sim_apply_fault(s, ev.node, ev.arg);
		break;
	case SIM_EV_CHECK:
		sim_check_bounds(s);
		sim_data_check(s);
		if (s->now >= s->faults_end_us && !s->converged_at &&
		    sim_converged(s)) {
			s->converged_at = s->now;
			if (s->o.faults & SIM_F_DUPID)
				sim_push(s, s->now + 1000000, SIM_EV_FAULT,
					 FK_DUPID, 0,
					 sim_below(&s->rng, s->o.nodes), NULL);
		}
		sim_push(s, s->now + 100000, SIM_EV_CHECK, 0, 0, 0, NULL);
		break;
	}
	return true;
}

void sim_run_until(struct sim *s, uint64_t t_us)
{
	while (!s->failed && s->n_heap && s->heap[0].t <= t_us)
		sim_step(s);
	if (s->now < t_us)
		s->now = t_us;
}

/* ---- world ---- */

struct sim *sim_create(const struct sim_opts *o)
{
	struct sim *s = calloc(1, sizeof(*s));
	uint32_t cap = o->nodes + 1;

	if (!s || o->nodes < 1 || o->nodes > SIM_MAX_NODES) {
		free(s);
		return NULL;
	}
	s->o = *o;
	sim_rng_seed(&s->rng, o->seed);
	s->node = calloc(cap, sizeof(*s->node));
	s->sinks = calloc(cap, sizeof(*s->sinks));
	s->sink_ctx = calloc(cap, sizeof(*s->sink_ctx));
	s->reg = sim_reg_create();
	if (!s->node || !s->sinks || !s->sink_ctx || !s->reg) {
		sim_destroy(s);
		return NULL;
	}
	weft_swim_config_default(&s->base);
	/* No membership lease: the simulated data layers model none (their
	 * nodes never refuse on it), and its pings would only move every
	 * seed's course away from the one seeds.txt records. */
	s->base.lease_ms = 0;
	s->base.max_members = o->nodes + 16 < WEFT_SWIM_MAX_MEMBERS
				      ? o->nodes + 16 : WEFT_SWIM_MAX_MEMBERS;
	s->n_seeds = o->nodes < 4 ? o->nodes : 4;
	s->n_nodes = o->nodes;
	for (uint32_t i = 0; i < o->nodes; i++) {
		struct sim_node *n = &s->node[i];
		uint64_t r = sim_rand(&s->rng);

		n->id.b[0] = 0x57;
		n->id.b[2] = (uint8_t)(i >> 8);
		n->id.b[3] = (uint8_t)i;
		memcpy(&n->id.b[8], &r, 8);
		n->addr = (struct weft_swim_addr){ 0x0a000000u | i, SIM_PORT };
		n->offset_us = 1000000000ull + sim_below(&s->rng, 1000000000u);
		s->sink_ctx[i] = (struct sim_sink_ctx){ s, i };
		s->sinks[i] = (struct weft_swim_sink){ &s->sink_ctx[i], on_send,
						       on_event };
	}
	sim_push(s, 100000, SIM_EV_CHECK, 0, 0, 0, NULL);
	if (o->data && sim_data_create(s) != 0) {
		sim_destroy(s);
		return NULL;
	}
	return s;
}

void sim_destroy(struct sim *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_heap; i++)
		free(s->heap[i].msg);
	for (uint32_t i = 0; s->node && i < s->n_nodes; i++)
		weft_swim_destroy(s->node[i].sm);
	sim_data_destroy(s);
	free(s->heap);
	free(s->node);
	free(s->sinks);
	free(s->sink_ctx);
	sim_reg_destroy(s->reg);
	sim_detect_free(s);
	free(s);
}
