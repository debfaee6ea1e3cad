/*
 * sim_msg.c — the messaging layer's engine (--msg): node lives (one real
 * struct weft_msg_reg per life, destroyed at a crash or exit), each node's
 * published topology (view members + the real segment table), the node
 * RPC layer of dataplane/dp_rpc.c (slots retransmitted 20 ms doubling to
 * 320 ms, given up after 5 s; on a view change a slot whose peer left the
 * view is retargeted to the segment's new owners when it holds a client's
 * replication, or ended NOT_OWNER when it is a notify), this layer's event
 * queue and the driver that merges it with the core's.
 *
 * The core (sim_core.c) knows nothing of this layer: the driver steps the
 * core, then compares every node's life (up, nonce) with the registry it
 * holds (a crash, exit or restart happens inside one core step); VIEW
 * events arrive through the core's event hook. Datagrams of this layer
 * cross the same network model as the core's (directed partition cuts,
 * loss, duplication, delay + Exp(jitter), reordering; a paused node keeps
 * them until it resumes) and draw from the run's one generator.
 *
 * Invariants: a node's reg is non-NULL iff its life is up; rids are unique
 * across lives (nonce << 24 + counter), so a late answer to a previous life
 * matches nothing; slots <= SIM_MSLOTS and holds <= SIM_MHOLDS by
 * construction (a full table refuses, counted BUSY as in dp_rpc.c).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>
#include <xxhash.h>

#include "sim_msg.h"

#define RPC_RTO0_US 20000u
#define RPC_RTO_MAX_US 320000u
#define RPC_GIVE_UP_US 5000000u

static const char *const dest_names[SIM_MDESTS] = {
	"/queue/q0", "/queue/q1", "/queue/q2", "/queue/q3",
	"/queue/q0.dlq", "/queue/q1.dlq", "/queue/q2.dlq", "/queue/q3.dlq",
	"/topic/t0", "/topic/t1",
};

const char *sim_mdest_name(uint32_t dest, size_t *len)
{
	*len = strlen(dest_names[dest]);
	return dest_names[dest];
}

uint32_t sim_mdest_index(struct weft_dest *d)
{
	size_t len;
	const char *name = weft_dest_name(d, &len);

	for (uint32_t i = 0; i < SIM_MDESTS; i++)
		if (strlen(dest_names[i]) == len && !memcmp(dest_names[i], name, len))
			return i;
	return SIM_NONE;
}

bool sim_mdest_topic(uint32_t dest)
{
	return dest >= 2 * SIM_MQUEUES;
}

uint32_t sim_mdest_seg(uint32_t dest)
{
	size_t len;
	const char *name = sim_mdest_name(dest, &len);

	return (uint32_t)XXH3_64bits(name, weft_wire_dest_route_len(name, len)) &
	       (SIM_MSEGS - 1);
}

struct weft_dest *sim_mdest(struct sim *s, uint32_t node, uint32_t dest)
{
	struct sim_msg_layer *L = s->msgl;
	struct weft_dest *d = NULL;
	size_t len;
	const char *name = sim_mdest_name(dest, &len);
	int rc = weft_msg_open(L->n[node].reg, name, len, &L->opts, &d);

	if (rc != 0) {
		sim_fail(s, "weft_msg_open(%s) at n%u: %d", name, node, rc);
		return NULL;
	}
	return d;
}

/* msg/'s clock is the wall clock (dp_unix_ms): NTP-synchronised nodes,
 * each off by a fixed -5..+5 ms (the core's per-node clocks, offset by
 * 1000-2000 s and drifting up to 1%, model monotonic clocks, not this). */
uint64_t sim_mnow_ms(const struct sim *s, uint32_t node)
{
	int64_t skew = (int64_t)(s->node[node].offset_us % 11u) - 5;

	return (uint64_t)(1700000000000ll + (int64_t)(s->now / 1000) + skew);
}

bool sim_mreachable(const struct sim *s, uint32_t node)
{
	return node < s->o.nodes && s->node[node].up && !s->node[node].paused &&
	       s->msgl->n[node].reg != NULL;
}

/* ---- trace ---- */

void sim_mtrace(struct sim *s, uint32_t node, uint32_t what, uint64_t a, uint64_t b)
{
	struct sim_msg_layer *L = s->msgl;
	struct sim_mtrace *r = &L->trace[L->n_trace++ % SIM_TRACE];

	*r = (struct sim_mtrace){ s->now, node, what, a, b };
	if (s->o.trace)
		sim_mprint(stdout, r);
}

/* ---- event queue (min-heap by (t, seq)) ---- */

static bool ev_less(const struct sim_mev *a, const struct sim_mev *b)
{
	return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

void sim_mpush(struct sim *s, uint64_t t, uint32_t kind, struct sim_mmsg *m)
{
	struct sim_msg_layer *L = s->msgl;

	if (L->n_heap == L->cap_heap) {
		uint32_t cap = L->cap_heap ? L->cap_heap * 2 : 1024;
		struct sim_mev *h = realloc(L->heap, cap * sizeof(*h));

		if (!h) {
			sim_fail(s, "out of memory growing the messaging queue");
			free(m);
			return;
		}
		L->heap = h;
		L->cap_heap = cap;
	}
	uint32_t i = L->n_heap++;
	struct sim_mev ev = { .t = t < s->now ? s->now : t, .seq = L->seq++,
			      .kind = kind, .m = m };

	while (i > 0 && ev_less(&ev, &L->heap[(i - 1) / 2])) {
		L->heap[i] = L->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	L->heap[i] = ev;
}

static struct sim_mev mpop(struct sim_msg_layer *L)
{
	struct sim_mev top = L->heap[0], last = L->heap[--L->n_heap];
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

/* ---- network ---- */

static size_t mmsg_size(const struct sim_mmsg *m)
{
	return sizeof(*m) + m->n * sizeof(m->r[0]);
}

struct sim_mmsg *sim_mmsg_new(uint32_t type, uint32_t dest, uint32_t n)
{
	struct sim_mmsg *m = calloc(1, sizeof(*m) + n * sizeof(m->r[0]));

	if (m) {
		m->type = type;
		m->dest = dest;
		m->n = n;
	}
	return m;
}

void sim_mnet(struct sim *s, uint32_t src, uint32_t dst, const struct sim_mmsg *m)
{
	struct sim_node *a = &s->node[src], *b = &s->node[dst];
	uint32_t copies = 1;

	sim_mtrace(s, src, SIM_MT_SEND, m->type | (uint64_t)dst << 8, m->n);
	if (s->cut[a->group][b->group] || sim_unit(&s->rng) < s->o.loss) {
		sim_mtrace(s, src, SIM_MT_DROP, m->type | (uint64_t)dst << 8, m->n);
		return;
	}
	if (sim_unit(&s->rng) < s->o.dup)
		copies = 2;
	for (uint32_t c = 0; c < copies; c++) {
		uint64_t delay = s->o.lat_us +
			(uint64_t)(-log(1.0 - sim_unit(&s->rng)) * s->o.jitter_us);
		struct sim_mmsg *cp = malloc(mmsg_size(m));

		if (sim_unit(&s->rng) < s->o.reorder)
			delay += sim_below(&s->rng, 20000);
		if (!cp) {
			sim_fail(s, "out of memory for a messaging datagram");
			return;
		}
		memcpy(cp, m, mmsg_size(m));
		cp->src = src;
		cp->dst = dst;
		sim_mpush(s, s->now + delay, SIM_ME_DELIVER, cp);
	}
}

/* ---- topologies ---- */

static void topo_reset(struct sim_mtopo *t)
{
	t->view = 0;
	t->n = 0;
	t->self = UINT32_MAX;
	t->owners = 0;
}

static bool has_table(const struct sim_mtopo *t)
{
	return t->owners > 0 && t->self != UINT32_MAX && t->n > 1;
}

/* Whether node knows member j's address (its record arrived). */
static bool addr_known(const struct sim *s, uint32_t node, const struct sim_mtopo *t,
		       uint32_t j, enum weft_swim_state *st)
{
	uint64_t nonce;

	*st = WEFT_SWIM_ALIVE;
	if (j == t->self)
		return true;
	return weft_swim_member_state(s->node[node].sm, &t->m[j].id, st, &nonce) == 0;
}

uint32_t sim_mowners_lives(struct sim *s, uint32_t node, uint32_t dest, uint32_t *out,
			   uint64_t *life)
{
	const struct sim_mtopo *t = &s->msgl->n[node].topo;
	uint32_t seg = sim_mdest_seg(dest), n = 0;
	enum weft_swim_state st;

	if (!s->msgl->n[node].in_view || !has_table(t))
		return 0;
	for (uint32_t k = 0; k < t->owners; k++) {
		uint32_t j = t->seg[seg * t->owners + k];

		if (life)
			life[n] = t->m[j].nonce;
		out[n++] = addr_known(s, node, t, j, &st) ? t->node[j] : SIM_NONE;
	}
	return n;
}

uint32_t sim_mowners_of(struct sim *s, uint32_t node, uint32_t dest, uint32_t *out)
{
	return sim_mowners_lives(s, node, dest, out, NULL);
}

bool sim_mis_primary(struct sim *s, uint32_t node, uint32_t dest)
{
	const struct sim_mtopo *t = &s->msgl->n[node].topo;

	if (!s->msgl->n[node].in_view || !has_table(t))
		return true;
	return t->seg[sim_mdest_seg(dest) * t->owners] == t->self;
}

/* dp_route_targets (distributed): every owner but self not LEFT. */
static uint32_t seg_targets(struct sim *s, uint32_t node, uint32_t seg, uint32_t *out)
{
	const struct sim_mtopo *t = &s->msgl->n[node].topo;
	enum weft_swim_state st;
	uint32_t n = 0;

	if (!s->msgl->n[node].in_view || !has_table(t))
		return 0;
	for (uint32_t k = 0; k < t->owners; k++) {
		uint32_t j = t->seg[seg * t->owners + k];
		bool known = addr_known(s, node, t, j, &st);

		if (j == t->self || (known && st == WEFT_SWIM_LEFT))
			continue;
		out[n++] = known ? t->node[j] : SIM_NONE;
	}
	return n;
}

uint32_t sim_mtargets(struct sim *s, uint32_t node, uint32_t dest, uint32_t *out)
{
	return seg_targets(s, node, sim_mdest_seg(dest), out);
}

/* dp_rpc.c peer_in_view: the address is a member, not LEFT. */
static bool peer_in_view(struct sim *s, uint32_t node, uint32_t to)
{
	const struct sim_mtopo *t = &s->msgl->n[node].topo;
	enum weft_swim_state st;

	for (uint32_t j = 0; j < t->n; j++)
		if (t->node[j] == to && addr_known(s, node, t, j, &st))
			return st != WEFT_SWIM_LEFT;
	return false;
}

static int topo_reserve(struct sim_mtopo *t, uint32_t n)
{
	if (n <= t->cap)
		return 0;
	struct weft_swim_view_member *m = realloc(t->m, n * sizeof(*m));
	if (m)
		t->m = m;
	uint32_t *nd = realloc(t->node, n * sizeof(*nd));
	if (nd)
		t->node = nd;
	if (!t->seg)
		t->seg = malloc(SIM_MSEGS * SIM_MOWNERS * sizeof(*t->seg));
	if (!m || !nd || !t->seg)
		return -ENOMEM;
	t->cap = n;
	return 0;
}

static uint32_t member_node(const struct sim *s, const struct weft_swim_view_member *m)
{
	uint32_t idx = (uint32_t)m->id.b[2] << 8 | m->id.b[3];

	if (idx >= s->o.nodes || memcmp(&s->node[idx].id, &m->id, sizeof(m->id)))
		return SIM_NONE;
	return idx;
}

static void on_view(struct sim *s, uint32_t node, const struct weft_swim_event *ev)
{
	struct sim_mnode *mn = &s->msgl->n[node];
	struct sim_mtopo *t = &mn->topo;
	uint32_t self = UINT32_MAX;

	for (uint32_t j = 0; j < ev->n_view; j++)   /* this life: id and nonce */
		if (!memcmp(&ev->view[j].id, &s->node[node].id, sizeof(ev->view[j].id)) &&
		    ev->view[j].nonce == s->node[node].nonce)
			self = j;
	if (self == UINT32_MAX || (mn->in_view && ev->view_id.counter == t->view))
		return;
	if (topo_reserve(t, ev->n_view) != 0) {
		sim_fail(s, "out of memory for n%u's messaging view", node);
		return;
	}
	memcpy(t->m, ev->view, ev->n_view * sizeof(*ev->view));
	for (uint32_t j = 0; j < ev->n_view; j++)
		t->node[j] = member_node(s, &ev->view[j]);
	s->msgl->scratch.owner = t->seg;
	if (weft_swim_seg_compute(ev->view, ev->n_view, SIM_MSEGS, SIM_MOWNERS,
				  &s->msgl->scratch) != 0) {
		sim_fail(s, "weft_swim_seg_compute failed");
		return;
	}
	t->n = ev->n_view;
	t->self = self;
	t->owners = s->msgl->scratch.owners;
	t->view = ev->view_id.counter;
	mn->in_view = true;
	sim_mtrace(s, node, SIM_MT_VIEW, t->view, t->n);
}

/* ---- RPC ---- */

uint32_t sim_mhold_new(struct sim *s, uint32_t node)
{
	struct sim_mnode *mn = &s->msgl->n[node];

	for (uint32_t i = 0; i < SIM_MHOLDS; i++)
		if (!mn->hold[i].used) {
			memset(&mn->hold[i], 0, sizeof(mn->hold[i]));
			mn->hold[i].used = true;
			mn->n_holds++;
			return i;
		}
	return SIM_NONE;
}

int sim_mrpc(struct sim *s, uint32_t node, uint32_t to, const struct sim_mmsg *m,
	     uint8_t kind, uint8_t notify, uint32_t hold, uint32_t arg)
{
	struct sim_mnode *mn = &s->msgl->n[node];
	struct sim_mslot *sl = NULL;

	if (to == SIM_NONE || mn->n_slots == SIM_MSLOTS)
		return -EBUSY;
	for (uint32_t i = 0; i < SIM_MSLOTS && !sl; i++)
		if (!mn->slot[i].used)
			sl = &mn->slot[i];
	sl->m = malloc(mmsg_size(m));
	if (!sl->m)
		return -ENOMEM;
	memcpy(sl->m, m, mmsg_size(m));
	sl->used = true;
	sl->kind = kind;
	sl->notify = notify;
	sl->hold = hold;
	sl->arg = arg;
	sl->to = to;
	sl->rid = ++mn->next_rid;
	sl->m->rid = sl->rid;
	sl->first_us = s->now;
	sl->rto_us = RPC_RTO0_US;
	sl->next_us = s->now + RPC_RTO0_US;
	mn->n_slots++;
	if (kind == SIM_MS_HELD)
		mn->hold[hold].waiting++;
	if (m->type == SIM_MM_REPL)
		s->msgl->repl_msgs++;
	sim_mnet(s, node, to, sl->m);
	return 0;
}

static void slot_free(struct sim_mnode *mn, struct sim_mslot *sl)
{
	free(sl->m);
	sl->m = NULL;
	sl->used = false;
	mn->n_slots--;
}

/* One slot of hold hi ended; the hold is answered when it was the last. */
void sim_mhold_slot_done(struct sim *s, uint32_t node, uint32_t hi, bool ok)
{
	struct sim_mhold *h = &s->msgl->n[node].hold[hi];

	if (!ok)
		h->failed = true;
	if (--h->waiting > 0)
		return;
	sim_mnode_hold_end(s, node, h, !h->failed);
	h->used = false;
	s->msgl->n[node].n_holds--;
}

/* The slot ends; its hold or notify owner hears status. */
static void slot_end(struct sim *s, uint32_t node, struct sim_mslot *sl, uint16_t status,
		     const struct sim_mmsg *ans)
{
	struct sim_mnode *mn = &s->msgl->n[node];
	struct sim_mslot copy = *sl;

	sl->used = false;           /* its message is freed below, after its */
	sl->m = NULL;               /* owner ran (which may reuse the slot) */
	mn->n_slots--;
	if (copy.kind == SIM_MS_HELD) {
		if (status == WEFT_ST_OK && ans)
			mn->hold[copy.hold].acked_mask |= 1ull << copy.to;
		sim_mhold_slot_done(s, node, copy.hold, status == WEFT_ST_OK);
	}
	else
		sim_mnode_notify_end(s, node, &copy, status, ans);
	free(copy.m);
}

/* dp_rpc.c peer_gone: a held replication goes to the segment's owners in
 * the new view (not already targeted); a notify ends NOT_OWNER. */
static void peer_gone(struct sim *s, uint32_t node, struct sim_mslot *sl)
{
	struct sim_mnode *mn = &s->msgl->n[node];

	if (sl->kind == SIM_MS_HELD) {
		uint32_t to[SIM_MOWNERS], n = seg_targets(s, node, mn->hold[sl->hold].seg, to);

		for (uint32_t k = 0; k < n; k++) {
			bool already = false;

			for (uint32_t i = 0; i < SIM_MSLOTS; i++)
				already |= mn->slot[i].used && mn->slot[i].kind == SIM_MS_HELD &&
					   mn->slot[i].hold == sl->hold && mn->slot[i].to == to[k];
			if (already || to[k] == SIM_NONE)
				continue;
			sim_mtrace(s, node, SIM_MT_RETARGET, to[k], sl->m->dest);
			if (sim_mrpc(s, node, to[k], sl->m, SIM_MS_HELD, 0, sl->hold, 0) != 0)
				mn->hold[sl->hold].failed = true;
		}
		slot_end(s, node, sl, WEFT_ST_OK, NULL);
		return;
	}
	slot_end(s, node, sl, WEFT_ST_NOT_OWNER, NULL);
}

static void rpc_tick(struct sim *s, uint32_t node, bool view_changed)
{
	struct sim_mnode *mn = &s->msgl->n[node];

	for (uint32_t i = 0; i < SIM_MSLOTS && mn->n_slots; i++) {
		struct sim_mslot *sl = &mn->slot[i];

		if (!sl->used)
			continue;
		if (view_changed && !peer_in_view(s, node, sl->to)) {
			peer_gone(s, node, sl);
			continue;
		}
		if (s->now < sl->next_us)
			continue;
		if (s->now - sl->first_us >= RPC_GIVE_UP_US) {
			if (sl->kind == SIM_MS_HELD) {   /* hold_drop_slots */
				uint32_t hi = sl->hold;

				mn->hold[hi].failed = true;
				for (uint32_t k = 0; k < SIM_MSLOTS; k++) {
					struct sim_mslot *o = &mn->slot[k];

					if (o->used && o->kind == SIM_MS_HELD && o->hold == hi)
						slot_end(s, node, o, WEFT_ST_BUSY, NULL);
				}
			} else {
				slot_end(s, node, sl, WEFT_ST_BUSY, NULL);
			}
			continue;
		}
		sl->rto_us = sl->rto_us * 2 > RPC_RTO_MAX_US ? RPC_RTO_MAX_US : sl->rto_us * 2;
		sl->next_us = s->now + sl->rto_us;
		sim_mnet(s, node, sl->to, sl->m);
	}
}

/* An answer to one of node's slots (matched by rid and sender). */
static void rpc_answer(struct sim *s, const struct sim_mmsg *m)
{
	struct sim_mnode *mn = &s->msgl->n[m->dst];

	for (uint32_t i = 0; i < SIM_MSLOTS && mn->n_slots; i++) {
		struct sim_mslot *sl = &mn->slot[i];

		if (sl->used && sl->rid == m->rid && sl->to == m->src) {
			slot_end(s, m->dst, sl, m->status, m);
			return;
		}
	}
}

/* ---- lives ---- */

static void life_end(struct sim *s, uint32_t i)
{
	struct sim_mnode *mn = &s->msgl->n[i];

	sim_mtrace(s, i, SIM_MT_CRASH, mn->nonce, 0);
	sim_mcheck_crash(s, i);          /* exposure of what it held */
	for (uint32_t k = 0; k < SIM_MSLOTS; k++)
		if (mn->slot[k].used)
			slot_free(mn, &mn->slot[k]);
	for (uint32_t x = 0; x < SIM_MXFERS; x++) {
		for (uint32_t k = 0; k < mn->xfer[x].n_msgs; k++)
			free(mn->xfer[x].msgs[k]);
		free(mn->xfer[x].msgs);
	}
	memset(mn->xfer, 0, sizeof(mn->xfer));
	memset(mn->hold, 0, SIM_MHOLDS * sizeof(*mn->hold));
	mn->n_holds = 0;
	weft_msg_reg_destroy(mn->reg);
	mn->reg = NULL;
	sim_mcheck_recount(s, "a crash", i);
}

static void life_start(struct sim *s, uint32_t i)
{
	struct sim_mnode *mn = &s->msgl->n[i];

	mn->reg = weft_msg_reg_create();
	if (!mn->reg) {
		sim_fail(s, "weft_msg_reg_create: errno %d", errno);
		return;
	}
	mn->nonce = s->node[i].nonce;
	/* as weftd: a random tag per life in the ids it makes */
	weft_msg_reg_set_tag(mn->reg, (uint16_t)sim_rand(&s->rng));
	mn->in_view = false;
	topo_reset(&mn->topo);
	mn->seen_view = 0;
	mn->xretry = false;
	mn->next_xretry_ms = 0;
	memset(mn->owners, 0, sizeof(mn->owners));
	mn->next_pass_ms = mn->next_join_ms = 0;
	mn->next_rid = mn->nonce << 24;
	sim_mtrace(s, i, SIM_MT_START, mn->nonce, 0);
}

/* Matches node i's registry with its life in the core. */
static void sync_life(struct sim *s, uint32_t i)
{
	struct sim_mnode *mn = &s->msgl->n[i];
	bool up = s->node[i].up && s->node[i].sm;

	if (mn->reg && (!up || mn->nonce != s->node[i].nonce))
		life_end(s, i);
	if (up && !mn->reg && !s->failed)
		life_start(s, i);
}

static void on_event(void *ctx, uint32_t node, const struct weft_swim_event *ev)
{
	struct sim *s = ctx;

	if (node >= s->o.nodes)
		return;
	sync_life(s, node);
	if (ev->kind == WEFT_SWIM_EV_VIEW && s->msgl->n[node].reg)
		on_view(s, node, ev);
}

/* ---- the driver ---- */

static void run_event(struct sim *s, struct sim_mev *ev)
{
	struct sim_msg_layer *L = s->msgl;

	switch (ev->kind) {
	case SIM_ME_DELIVER: {
		uint32_t dst = ev->m->dst;

		if (!s->node[dst].up || !L->n[dst].reg) {
			free(ev->m);
			return;
		}
		if (s->node[dst].paused) {
			sim_mpush(s, s->node[dst].pause_until, SIM_ME_DELIVER, ev->m);
			return;
		}
		sim_mtrace(s, dst, SIM_MT_RECV, ev->m->type | (uint64_t)ev->m->src << 8,
			   ev->m->n);
		if (ev->m->type == SIM_MM_REPL_ACK || ev->m->type == SIM_MM_JOINED ||
		    ev->m->type == SIM_MM_TDELIVERED)
			rpc_answer(s, ev->m);
		else
			sim_mnode_recv(s, ev->m);
		free(ev->m);
		return;
	}
	case SIM_ME_TICK:
		sim_mclient_tick(s);
		for (uint32_t i = 0; i < s->o.nodes && !s->failed; i++) {
			struct sim_mnode *mn = &L->n[i];
			bool moved;

			if (!sim_mreachable(s, i))
				continue;
			moved = mn->in_view && mn->topo.view != mn->seen_view;
			rpc_tick(s, i, moved);
			if (moved || sim_mnow_ms(s, i) >= mn->next_pass_ms)
				sim_mnode_pass(s, i);
		}
		sim_mpush(s, s->now + SIM_MTICK_US, SIM_ME_TICK, NULL);
		return;
	case SIM_ME_CHECK:
		sim_mcheck_periodic(s);
		sim_mpush(s, s->now + 100000, SIM_ME_CHECK, NULL);
		return;
	}
}

void sim_msg_run_until(struct sim *s, uint64_t t_us)
{
	struct sim_msg_layer *L = s->msgl;

	while (!s->failed) {
		uint64_t tc = s->n_heap ? s->heap[0].t : UINT64_MAX;
		uint64_t tm = L->n_heap ? L->heap[0].t : UINT64_MAX;

		if ((tc < tm ? tc : tm) > t_us)
			break;
		if (tc <= tm) {
			sim_step(s);
			for (uint32_t i = 0; i < s->o.nodes && !s->failed; i++)
				sync_life(s, i);
			continue;
		}
		struct sim_mev ev = mpop(L);

		s->now = ev.t;
		s->events_run++;
		run_event(s, &ev);
	}
	if (s->now < t_us)
		s->now = t_us;
}

/* ---- world ---- */

int sim_msg_create(struct sim *s)
{
	static bool rcu_registered;
	struct sim_msg_layer *L;
	struct weft_x_dest_opts w = { .max_depth = SIM_MDEPTH,
				      .max_deliveries = SIM_MDELIVERIES,
				      .visibility_ms = SIM_MVISIBILITY_MS };

	if (s->o.nodes > SIM_MMAX_NODES)
		return -EINVAL;
	if (!rcu_registered) {      /* msg/'s registry: one online QSBR reader */
		urcu_qsbr_register_thread();
		rcu_registered = true;
	}
	L = calloc(1, sizeof(*L));
	if (!L)
		return -ENOMEM;
	s->msgl = L;
	L->n = calloc(s->o.nodes, sizeof(*L->n));
	L->pub = calloc(SIM_MMAX_PUBS, sizeof(*L->pub));
	if (!L->n || !L->pub || weft_dest_opts_from_wire(&w, &L->opts) != 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->o.nodes; i++) {
		L->n[i].slot = calloc(SIM_MSLOTS, sizeof(*L->n[i].slot));
		L->n[i].hold = calloc(SIM_MHOLDS, sizeof(*L->n[i].hold));
		if (!L->n[i].slot || !L->n[i].hold)
			return -ENOMEM;
		topo_reset(&L->n[i].topo);
	}
	if (sim_mclient_create(s) != 0)
		return -ENOMEM;
	s->hooks = (struct sim_hooks){ s, on_event };
	sim_mpush(s, SIM_MTICK_US, SIM_ME_TICK, NULL);
	sim_mpush(s, 100000, SIM_ME_CHECK, NULL);
	return 0;
}

void sim_msg_destroy(struct sim *s)
{
	struct sim_msg_layer *L = s->msgl;

	if (!L)
		return;
	for (uint32_t i = 0; L->n && i < s->o.nodes; i++) {
		struct sim_mnode *mn = &L->n[i];

		for (uint32_t k = 0; mn->slot && k < SIM_MSLOTS; k++)
			free(mn->slot[k].m);
		for (uint32_t x = 0; x < SIM_MXFERS; x++) {
			for (uint32_t k = 0; k < mn->xfer[x].n_msgs; k++)
				free(mn->xfer[x].msgs[k]);
			free(mn->xfer[x].msgs);
		}
		weft_msg_reg_destroy(mn->reg);
		free(mn->slot);
		free(mn->hold);
		free(mn->topo.m);
		free(mn->topo.node);
		free(mn->topo.seg);
	}
	for (uint32_t i = 0; i < L->n_heap; i++)
		free(L->heap[i].m);
	free(L->heap);
	free(L->n);
	free(L->pub);
	free(L->cons);
	free(L->pend);
	free(L->recv);
	free(L->feed);
	free(L);
	s->msgl = NULL;
}
