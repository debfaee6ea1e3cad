/*
 * sim_sess.c — the sessions layer's world (--sess; model in sim_sess.h):
 * node lives (a crash loses the table), the trace, wall clocks, this
 * layer's event queue and network, the tick, and the driver merging this
 * layer's queue with the core's by time. What a node does is
 * sim_sess_node.c; the visitors and the invariants sim_sess_client.c.
 *
 * Invariants kept here: a life's table starts empty; an answer reaches the
 * visitor only through the life of the entry node it was sent from; a
 * paused node's events wait until it resumes; events run in (time, seq)
 * order, this layer's and the core's merged.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "sim_sess.h"

void sim_ztrace(struct sim *s, uint32_t node, uint32_t what, uint32_t sess, uint64_t a,
		uint64_t b)
{
	struct sim_sess_layer *L = s->sess;

	struct sim_ztrace *t = &L->trace[L->n_trace++ % SIM_TRACE];

	*t = (struct sim_ztrace){ s->now, node, what, sess, a, b };
	if (sess < L->n_z) {
		struct sim_zsess *z = &L->z[sess];

		z->hist[z->n_hist++ % SIM_ZHIST] = *t;
	}
	if (s->o.trace)
		sim_zprint(stdout, t);
}

bool sim_zlive(const struct sim *s, uint32_t node)
{
	return node < s->o.nodes && s->node[node].up && s->sess->n[node].live;
}

uint64_t sim_zwall_ms(const struct sim *s, uint32_t node, uint64_t t_us)
{
	double t = (double)t_us * (1.0 + s->node[node].drift) + (double)s->sess->n[node].woff_us;

	return SIM_ZWALL_BASE + (uint64_t)(t > 0 ? t : 0) / 1000;
}

/* ---- event queue (min-heap by (t, seq)) ---- */

static bool ev_less(const struct sim_zev *a, const struct sim_zev *b)
{
	return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

void sim_zpush(struct sim *s, uint64_t t, struct sim_zev ev)
{
	struct sim_sess_layer *L = s->sess;

	if (L->n_heap == L->cap_heap) {
		uint32_t cap = L->cap_heap ? L->cap_heap * 2 : 1024;
		struct sim_zev *h = realloc(L->heap, cap * sizeof(*h));

		if (!h) {
			sim_fail(s, "out of memory growing the sessions queue");
			return;
		}
		L->heap = h;
		L->cap_heap = cap;
	}
	ev.t = t < s->now ? s->now : t;
	ev.seq = L->seq++;
	uint32_t i = L->n_heap++;
	while (i > 0 && ev_less(&ev, &L->heap[(i - 1) / 2])) {
		L->heap[i] = L->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	L->heap[i] = ev;
}

static struct sim_zev zpop(struct sim_sess_layer *L)
{
	struct sim_zev top = L->heap[0], last = L->heap[--L->n_heap];
	uint32_t i = 0;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= L->n_heap)
			break;
		if (c + 1 < L->n_heap && ev_less(&L->heap[c + 1], &L->heap[c]))
			c++;
		if (!ev_less(&L->heap[c], &last))
			break;
		L->heap[i] = L->heap[c];
		i = c;
	}
	if (L->n_heap)
		L->heap[i] = last;
	return top;
}

/* ---- network: the core's model (cuts, loss, duplication, delay) ---- */

void sim_zsend(struct sim *s, const struct sim_zev *ev)
{
	uint32_t copies = 1;

	if (ev->src == ev->dst) {             /* in-node: no network */
		sim_zpush(s, s->now, *ev);
		return;
	}
	if (s->cut[s->node[ev->src].group][s->node[ev->dst].group] ||
	    sim_unit(&s->rng) < s->o.loss)
		return;
	if (sim_unit(&s->rng) < s->o.dup)
		copies = 2;
	for (uint32_t c = 0; c < copies; c++) {
		uint64_t delay = s->o.lat_us +
			(uint64_t)(-log(1.0 - sim_unit(&s->rng)) * s->o.jitter_us);

		if (sim_unit(&s->rng) < s->o.reorder)
			delay += sim_below(&s->rng, 20000);
		sim_zpush(s, s->now + delay, *ev);
	}
}

/* ---- lives ---- */

static void life_end(struct sim *s, uint32_t i)
{
	struct sim_znode *n = &s->sess->n[i];

	sim_ztrace(s, i, SIM_ZT_LIFE, SIM_ZMAX, n->nonce, 0);
	sim_zmodel_crash(s, i);
	n->live = false;
}

static void life_start(struct sim *s, uint32_t i)
{
	struct sim_znode *n = &s->sess->n[i];

	memset(n->ent, 0, SIM_ZMAX * sizeof(*n->ent));
	n->live = true;
	n->nonce = s->node[i].nonce;
	n->in_view = n->outside = false;
	memset(&n->view_id, 0, sizeof(n->view_id));
	n->n_mem = n->prev_n = 0;
	n->counter = 0;
	n->n_hold = n->n_xf = n->n_dedup = 0;
	n->rt_until_us = 0;
	n->drop_pending = false;
	n->drop_wait = false;
	n->next_pass_us = s->now + sim_below(&s->rng, SIM_ZPASS_US);
	sim_ztrace(s, i, SIM_ZT_LIFE, SIM_ZMAX, n->nonce, 1);
}

static void sync_life(struct sim *s, uint32_t i)
{
	struct sim_znode *n = &s->sess->n[i];
	bool up = s->node[i].up && s->node[i].sm;

	if (n->live && (!up || n->nonce != s->node[i].nonce))
		life_end(s, i);
	if (up && !n->live)
		life_start(s, i);
}

static void on_event(void *ctx, uint32_t node, const struct weft_swim_event *ev)
{
	struct sim *s = ctx;

	if (node >= s->o.nodes)
		return;
	sync_life(s, node);
	if (ev->kind == WEFT_SWIM_EV_VIEW && s->sess->n[node].live && !s->failed)
		sim_zon_view(s, node, ev);
}

static void tick(struct sim *s)
{
	struct sim_sess_layer *L = s->sess;

	sim_zclient_tick(s);
	bool disturbed = s->cut[0][1] || s->cut[1][0];

	for (uint32_t i = 0; i < s->o.nodes && !s->failed; i++) {
		bool p = sim_zlive(s, i) && s->node[i].paused;

		disturbed |= p;
		if (sim_zlive(s, i) && !p)
			sim_znode_tick(s, i);
	}
	if (disturbed)
		L->disturbed_us = s->now;
	sim_zcheck(s);
	sim_zpush(s, s->now + SIM_ZTICK_US, (struct sim_zev){ .kind = SIM_ZE_TICK });
}

static void run_event(struct sim *s, struct sim_zev *ev)
{
	if (ev->kind == SIM_ZE_TICK) {
		tick(s);
		return;
	}
	if (ev->kind == SIM_ZE_ANSWER) {
		sim_zclient_answer(s, ev);
		return;
	}
	if (!sim_zlive(s, ev->dst))
		return;
	if (s->node[ev->dst].paused) {
		sim_zpush(s, s->node[ev->dst].pause_until, *ev);
		return;
	}
	switch (ev->kind) {
	case SIM_ZE_REQ:
		if (ev->dst == ev->entry && !ev->flags_node && ev->dst_nonce != s->node[ev->dst].nonce)
			return;
		sim_zon_req(s, ev->dst, ev);
		break;
	case SIM_ZE_RESP:   /* at the entry node: relayed to its visitor */
		if (ev->dst_nonce != s->node[ev->dst].nonce)
			return;
		if (ev->action == WEFT_SESS_EXPIRE) {   /* the node's own expiry pass */
			sim_zon_expire_answer(s, ev);
			return;
		}
		ev->kind = SIM_ZE_ANSWER;
		sim_zpush(s, s->now + 50, *ev);
		break;
	case SIM_ZE_REPL:
		sim_zon_repl(s, ev);
		break;
	case SIM_ZE_ACK:
		sim_zon_ack(s, ev);
		break;
	}
}

void sim_sess_run_until(struct sim *s, uint64_t t_us)
{
	struct sim_sess_layer *L = s->sess;

	while (!s->failed) {
		uint64_t tc = s->n_heap ? s->heap[0].t : UINT64_MAX;
		uint64_t tm = L->n_heap ? L->heap[0].t : UINT64_MAX;

		if ((tc < tm ? tc : tm) > t_us)
			break;
		if (tc <= tm) {
			sim_step(s);
			for (uint32_t i = 0; i < s->o.nodes && !s->failed; i++)
				sync_life(s, i);
		} else {
			struct sim_zev ev = zpop(L);

			s->now = ev.t;
			s->events_run++;
			run_event(s, &ev);
		}
	}
	if (s->now < t_us)
		s->now = t_us;
	if (!s->failed)
		sim_zcheck_end(s);
}

/* ---- world ---- */

int sim_sess_create(struct sim *s)
{
	struct sim_sess_layer *L;

	if (s->o.nodes > SIM_ZMAX_NODES)
		return -EINVAL;
	L = calloc(1, sizeof(*L));
	if (!L)
		return -ENOMEM;
	s->sess = L;
	L->n = calloc(s->o.nodes, sizeof(*L->n));
	L->z = calloc(SIM_ZMAX, sizeof(*L->z));
	if (!L->n || !L->z)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->o.nodes; i++) {
		struct sim_znode *n = &L->n[i];

		n->ent = calloc(SIM_ZMAX, sizeof(*n->ent));
		n->hold = calloc(SIM_ZHOLDS, sizeof(*n->hold));
		n->xf = calloc(SIM_ZMAX * SIM_ZOWNERS * 2, sizeof(*n->xf));
		if (!n->ent || !n->hold || !n->xf)
			return -ENOMEM;
		if (s->o.faults & SIM_F_DRIFT)
			n->woff_us = (int64_t)sim_below(&s->rng, 2 * SIM_ZWOFF_US) - SIM_ZWOFF_US;
	}
	L->focus = SIM_ZMAX;
	L->next_create_us = 2000000;
	/* visitors arrive until 25 s before the end: the rest shows expiry */
	L->create_end_us = s->o.duration_ms * 1000 > 25000000 ? s->o.duration_ms * 1000 - 25000000
							      : 0;
	s->hooks = (struct sim_hooks){ s, on_event };
	sim_zpush(s, SIM_ZTICK_US, (struct sim_zev){ .kind = SIM_ZE_TICK });
	return 0;
}

void sim_sess_destroy(struct sim *s)
{
	struct sim_sess_layer *L = s->sess;

	if (!L)
		return;
	for (uint32_t i = 0; L->n && i < s->o.nodes; i++) {
		free(L->n[i].ent);
		free(L->n[i].hold);
		free(L->n[i].xf);
	}
	free(L->n);
	free(L->z);
	free(L->heap);
	free(L);
	s->sess = NULL;
}

uint32_t sim_zseg_of(const uint8_t id[WEFT_SESSION_ID_LEN])
{
	return weft_wire_segment(XXH3_64bits(id, WEFT_SESSION_ID_LEN), 8);
}
