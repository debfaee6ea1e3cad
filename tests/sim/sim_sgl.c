/*
 * sim_sgl.c — the singleton layer (--sgl; sim_sgl.h): one REAL
 * weft_ctl_sgl machine per node life, its views from the node's membership
 * events, the linearizable claim store behind the simulated network, the
 * daemons' STOP -> stopped delay, and the driver merging this layer's
 * event queue with the core's by time.
 *
 * Invariants kept here: a machine's answer (claim, cas_done) is only given
 * for the request in flight of that life and name (n->rid; a late, lost or
 * duplicated response is dropped); a life's events never reach a later
 * life (nonce); store versions only grow (+1 per write, never deleted).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_sgl.h"

static const char *const names[SIM_SNAMES] = { "app/s0", "app/s1", "app/s2" };

const char *sim_sname(uint32_t k)
{
	return k < SIM_SNAMES ? names[k] : "-";
}

void sim_strace(struct sim *s, uint32_t node, uint32_t what, uint32_t name,
		uint64_t a, uint64_t b)
{
	struct sim_sgl_layer *L = s->sgl;

	L->trace[L->n_trace++ % SIM_TRACE] = (struct sim_strace){ s->now, node, what, name, a, b };
}

bool sim_slive(const struct sim *s, uint32_t node)
{
	return node < s->o.nodes && s->node[node].up && s->sgl->n[node].m != NULL;
}

/* ---- event queue (min-heap by (t, seq)) ---- */

static bool ev_less(const struct sim_sev *a, const struct sim_sev *b)
{
	return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

static void spush(struct sim *s, uint64_t t, struct sim_sev ev)
{
	struct sim_sgl_layer *L = s->sgl;

	if (L->n_heap == L->cap_heap) {
		uint32_t cap = L->cap_heap ? L->cap_heap * 2 : 256;
		struct sim_sev *h = realloc(L->heap, cap * sizeof(*h));

		if (!h) {
			sim_fail(s, "out of memory growing the singleton queue");
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

static struct sim_sev spop(struct sim_sgl_layer *L)
{
	struct sim_sev top = L->heap[0], last = L->heap[--L->n_heap];
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

/* ---- network: node <-> the store (in partition group 0) ---- */

static void snet(struct sim *s, uint32_t node, bool to_store, const struct sim_sev *ev)
{
	uint32_t g = s->node[node].group;
	uint32_t copies = 1;

	if ((to_store ? s->cut[g][0] : s->cut[0][g]) || sim_unit(&s->rng) < s->o.loss)
		return;
	if (sim_unit(&s->rng) < s->o.dup)
		copies = 2;
	for (uint32_t c = 0; c < copies; c++) {
		uint64_t delay = s->o.lat_us +
			(uint64_t)(-log(1.0 - sim_unit(&s->rng)) * s->o.jitter_us);

		if (sim_unit(&s->rng) < s->o.reorder)
			delay += sim_below(&s->rng, 20000);
		spush(s, s->now + delay, *ev);
	}
}

/* ---- driving a machine ---- */

static struct weft_ctl_sgl_time now_of(const struct sim *s, uint32_t node)
{
	return (struct weft_ctl_sgl_time){ sim_local_ms(&s->node[node], s->now),
					   1700000000000ull + s->now / 1000 };
}

static uint32_t name_index(const char *name)
{
	for (uint32_t k = 0; k < SIM_SNAMES; k++)
		if (!strcmp(name, names[k]))
			return k;
	return SIM_SNAMES;
}

/* Performs the actions of one input call (rc its return code). */
static void take(struct sim *s, uint32_t i, int rc, const struct weft_ctl_sgl_out *out,
		 const char *what)
{
	struct sim_sgl_layer *L = s->sgl;
	struct sim_snode *n = &L->n[i];

	if (rc != 0) {
		sim_fail(s, "singleton machine of n%u refused %s: %d", i, what, rc);
		return;
	}
	n->next_ms = out->next_ms;
	for (uint32_t a = 0; a < out->n && !s->failed; a++) {
		const struct weft_ctl_sgl_action *x = &out->act[a];
		uint32_t k = name_index(x->name);
		struct sim_sev ev = { .node = i, .name = k, .nonce = n->nonce };

		if (k == SIM_SNAMES) {
			sim_fail(s, "n%u's machine acted on unknown name %s", i, x->name);
			return;
		}
		switch (x->kind) {
		case WEFT_CTL_SGL_READ:
		case WEFT_CTL_SGL_CAS:
		case WEFT_CTL_SGL_RELEASE:
			if (n->rid[k]) {
				sim_fail(s, "n%u: two store operations in flight for %s",
					 i, names[k]);
				return;
			}
			ev.kind = SIM_SE_REQ;
			ev.op = x->kind;
			ev.rid = n->rid[k] = ++L->next_rid;
			n->deadline[k] = s->now + SIM_SREQ_TIMEOUT_MS * 1000ull;
			ev.expected = x->expected;
			ev.c = x->value;
			L->reqs++;
			sim_strace(s, i, x->kind == WEFT_CTL_SGL_READ ? SIM_ST_READ :
				   x->kind == WEFT_CTL_SGL_CAS ? SIM_ST_CAS : SIM_ST_RELEASE,
				   k, x->expected, x->value.epoch);
			snet(s, i, true, &ev);
			ev.kind = SIM_SE_TIMEOUT;
			spush(s, n->deadline[k], ev);
			break;
		case WEFT_CTL_SGL_START:
			sim_strace(s, i, SIM_ST_START, k, x->epoch, 0);
			sim_scheck_start(s, i, k, x->epoch);
			break;
		case WEFT_CTL_SGL_STOP:
			sim_strace(s, i, SIM_ST_STOP, k, 0, 0);
			ev.kind = SIM_SE_STOPPED;
			spush(s, s->now + SIM_SSTOP_MS * 1000ull, ev);
			break;
		}
	}
}

#define OUT(L) (struct weft_ctl_sgl_out){ .act = (L)->act, .cap = (L)->cap_act }

/* Feeds node i's member list to its machine (weftd's join grace: a lone
 * young life waits for the others before its first view). */
static void feed(struct sim *s, uint32_t i)
{
	struct sim_sgl_layer *L = s->sgl;
	struct sim_snode *n = &L->n[i];
	struct weft_ctl_sgl_out out = OUT(L);
	uint32_t live = 0;

	for (uint32_t j = 0; j < n->n_mem; j++)
		live += n->mem[j].state <= WEFT_SWIM_SUSPECT;
	if (live <= 1 && !n->fed &&
	    now_of(s, i).mono_ms - n->born_ms < SIM_SGRACE_MS)
		return;
	n->fed = true;
	sim_scheck_health(s);     /* before the machine acts on it */
	struct weft_ctl_sgl_view v = { .id = n->view_id, .members = n->mem, .n = n->n_mem };
	sim_strace(s, i, SIM_ST_VIEW, SIM_SNAMES, n->view_id, n->n_mem);
	take(s, i, weft_ctl_singletons_view(n->m, now_of(s, i), &v, &out), &out, "a view");
}

/* ---- lives ---- */

static void life_end(struct sim *s, uint32_t i)
{
	struct sim_snode *n = &s->sgl->n[i];

	sim_strace(s, i, SIM_ST_END, SIM_SNAMES, n->nonce, 0);
	sim_scheck_end(s, i, SIM_SNAMES);     /* the daemons die with weftd */
	weft_ctl_singletons_destroy(n->m);
	n->m = NULL;
	memset(n->rid, 0, sizeof(n->rid));
}

static void life_start(struct sim *s, uint32_t i)
{
	struct sim_sgl_layer *L = s->sgl;
	struct sim_snode *n = &L->n[i];
	struct weft_ctl_sgl_config cfg = { .self = s->node[i].id,
					   .max_singletons = SIM_SNAMES,
					   .max_members = SIM_SMAX_NODES * 2 };

	n->m = weft_ctl_singletons_create(&cfg);
	if (!n->m) {
		sim_fail(s, "weft_ctl_singletons_create: errno %d", errno);
		return;
	}
	n->nonce = s->node[i].nonce;
	n->born_ms = now_of(s, i).mono_ms;
	n->fed = false;
	n->n_mem = 0;
	n->view_id = 0;
	sim_strace(s, i, SIM_ST_LIFE, SIM_SNAMES, n->nonce, n->hosts);
	for (uint32_t k = 0; k < SIM_SNAMES && !s->failed; k++)
		if (n->hosts & (1u << k)) {
			struct weft_ctl_sgl_out out = OUT(L);
			take(s, i, weft_ctl_singletons_host(n->m, now_of(s, i), names[k], &out),
			     &out, "host");
		}
}

static void sync_life(struct sim *s, uint32_t i)
{
	struct sim_snode *n = &s->sgl->n[i];
	bool up = s->node[i].up && s->node[i].sm;

	if (n->m && (!up || n->nonce != s->node[i].nonce))
		life_end(s, i);
	if (up && !n->m && !s->failed)
		life_start(s, i);
}

static void on_event(void *ctx, uint32_t node, const struct weft_swim_event *ev)
{
	struct sim *s = ctx;
	struct sim_snode *n;
	enum weft_swim_state st;

	if (node >= s->o.nodes)
		return;
	sync_life(s, node);
	n = &s->sgl->n[node];
	if (!n->m || s->failed)
		return;
	switch (ev->kind) {
	case WEFT_SWIM_EV_VIEW:
		n->view_id = ev->view_id.counter;
		n->n_mem = 0;
		for (uint32_t j = 0; j < ev->n_view && n->n_mem < SIM_SMAX_NODES * 2; j++)
			n->mem[n->n_mem++] = (struct weft_ctl_sgl_member){ ev->view[j].id,
									  WEFT_SWIM_ALIVE };
		feed(s, node);
		return;
	case WEFT_SWIM_EV_MEMBER_UP: st = WEFT_SWIM_ALIVE; break;
	case WEFT_SWIM_EV_SUSPECT: st = WEFT_SWIM_SUSPECT; break;
	case WEFT_SWIM_EV_DOWN: st = WEFT_SWIM_DEAD; break;
	case WEFT_SWIM_EV_LEFT: st = WEFT_SWIM_LEFT; break;
	default: return;
	}
	for (uint32_t j = 0; j < n->n_mem; j++)
		if (!memcmp(&n->mem[j].id, &ev->id, sizeof(ev->id)) && n->mem[j].state != st) {
			n->mem[j].state = st;
			sim_strace(s, node, SIM_ST_MEMBER, SIM_SNAMES,
				   (uint32_t)ev->id.b[2] << 8 | ev->id.b[3], st);
			feed(s, node);
			return;
		}
}

/* ---- events ---- */

static void store_op(struct sim *s, struct sim_sev *ev)
{
	struct weft_ctl_sgl_claim *c = &s->sgl->store[ev->name];

	ev->kind = SIM_SE_RESP;
	if (ev->op == WEFT_CTL_SGL_READ) {
		ev->c = *c;
		ev->ok = true;
	} else {
		ev->ok = c->version == ev->expected;
		if (ev->ok) {
			uint64_t v = c->version + 1;

			if (ev->c.kind == WEFT_CTL_SGL_HELD)
				sim_scheck_write(s, ev->name, c, &ev->c);
			*c = ev->c;
			c->version = v;
		}
		ev->c.version = c->version;
	}
	snet(s, ev->node, false, ev);
}

static void answer(struct sim *s, struct sim_sev *ev)
{
	struct sim_sgl_layer *L = s->sgl;
	struct sim_snode *n = &L->n[ev->node];
	struct weft_ctl_sgl_out out = OUT(L);
	const char *name = names[ev->name];
	int rc;

	if (!n->m || n->nonce != ev->nonce || n->rid[ev->name] != ev->rid)
		return;     /* an old life's, a late or a duplicated answer */
	n->rid[ev->name] = 0;
	/* Past its deadline (the node was paused), an answer is a timeout:
	 * the glue gave up on it. */
	if (ev->kind == SIM_SE_TIMEOUT || s->now >= n->deadline[ev->name]) {
		L->timeouts++;
		sim_strace(s, ev->node, SIM_ST_TIMEOUT, ev->name, ev->op, 0);
		rc = weft_ctl_singletons_cas_done(n->m, now_of(s, ev->node), name, false, 0, &out);
	} else {
		sim_strace(s, ev->node, SIM_ST_ANSWER, ev->name, ev->ok, ev->c.version);
		if (ev->op == WEFT_CTL_SGL_READ)
			rc = weft_ctl_singletons_claim(n->m, now_of(s, ev->node), name, &ev->c, &out);
		else
			rc = weft_ctl_singletons_cas_done(n->m, now_of(s, ev->node), name, ev->ok,
							  ev->c.version, &out);
	}
	take(s, ev->node, rc, &out, "an answer");
}

static void run_event(struct sim *s, struct sim_sev *ev)
{
	struct sim_sgl_layer *L = s->sgl;
	struct sim_snode *n = &L->n[ev->node];

	if (ev->kind == SIM_SE_TICK) {
		sim_scheck_health(s);
		for (uint32_t i = 0; i < s->o.nodes && !s->failed; i++) {
			struct weft_ctl_sgl_out out = OUT(L);
			struct weft_ctl_sgl_time t;

			if (!sim_slive(s, i) || s->node[i].paused)
				continue;
			t = now_of(s, i);
			if (t.mono_ms >= L->n[i].next_ms)
				take(s, i, weft_ctl_singletons_tick(L->n[i].m, t, &out), &out, "tick");
		}
		spush(s, s->now + SIM_STICK_US, *ev);
		return;
	}
	if (ev->kind == SIM_SE_REQ) {
		store_op(s, ev);
		return;
	}
	if (!n->m || n->nonce != ev->nonce)
		return;
	if (s->node[ev->node].paused) {       /* handled when it resumes */
		spush(s, s->node[ev->node].pause_until, *ev);
		return;
	}
	if (ev->kind == SIM_SE_STOPPED) {
		struct weft_ctl_sgl_out out = OUT(L);

		sim_strace(s, ev->node, SIM_ST_STOPPED, ev->name, 0, 0);
		sim_scheck_end(s, ev->node, ev->name);
		take(s, ev->node, weft_ctl_singletons_stopped(n->m, now_of(s, ev->node),
							      names[ev->name], &out),
		     &out, "stopped");
		return;
	}
	answer(s, ev);
}

void sim_sgl_run_until(struct sim *s, uint64_t t_us)
{
	struct sim_sgl_layer *L = s->sgl;

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
			struct sim_sev ev = spop(L);

			s->now = ev.t;
			s->events_run++;
			run_event(s, &ev);
		}
		if (!s->failed)
			sim_scheck(s);
	}
	if (s->now < t_us)
		s->now = t_us;
}

/* ---- world ---- */

int sim_sgl_create(struct sim *s)
{
	struct sim_sgl_layer *L;

	if (s->o.nodes > SIM_SMAX_NODES)
		return -EINVAL;
	L = calloc(1, sizeof(*L));
	if (!L)
		return -ENOMEM;
	s->sgl = L;
	L->n = calloc(s->o.nodes, sizeof(*L->n));
	L->cap_act = 2 * SIM_SNAMES;
	L->act = calloc(L->cap_act, sizeof(*L->act));
	if (!L->n || !L->act)
		return -ENOMEM;
	for (uint32_t k = 0; k < SIM_SNAMES; k++)
		if (!(L->log[k] = calloc(SIM_SLOG, sizeof(*L->log[k]))))
			return -ENOMEM;
	/* Each node hosts each name with probability 2/3 (fixed per seed). */
	for (uint32_t i = 0; i < s->o.nodes; i++)
		for (uint32_t k = 0; k < SIM_SNAMES; k++)
			if (sim_below(&s->rng, 3) != 0)
				L->n[i].hosts |= 1u << k;
	s->hooks = (struct sim_hooks){ s, on_event };
	spush(s, SIM_STICK_US, (struct sim_sev){ .kind = SIM_SE_TICK });
	return 0;
}

void sim_sgl_destroy(struct sim *s)
{
	struct sim_sgl_layer *L = s->sgl;

	if (!L)
		return;
	for (uint32_t i = 0; L->n && i < s->o.nodes; i++)
		weft_ctl_singletons_destroy(L->n[i].m);
	for (uint32_t k = 0; k < SIM_SNAMES; k++)
		free(L->log[k]);
	free(L->n);
	free(L->act);
	free(L->heap);
	free(L);
	s->sgl = NULL;
}
