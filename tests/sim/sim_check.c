/*
 * sim_check.c — what the simulator asserts, and the trace it dumps when an
 * assertion fails.
 *
 * Checked on every VIEW event (O(view) each):
 *  - per node life, view ids strictly increase;
 *  - one view id, one membership: a registry maps every view id ever
 *    installed to the hash of its member list; a second list for the same
 *    id fails (this also means one installer per view id, since the id
 *    names its coordinator life);
 *  - the view names its coordinator among its members;
 *  - a copied-home newcomer (duplicate id) never enters a view.
 * Checked every 100 virtual ms (O(N)): every table and queue of every live
 * state machine within its bound; the event heap within O(N).
 * Checked at the end: after the faults stop, within the bound, every live
 * node holds the same view, whose members are exactly the live node lives,
 * exactly one node is coordinator, and every live node holds every live
 * life ALIVE in its table.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define REG_SLOTS (1u << 16)

struct reg_ent {
	bool used;
	struct weft_swim_view_id id;
	uint64_t hash;
	uint32_t n;
};

struct sim_view_reg {
	struct reg_ent e[REG_SLOTS];
	uint32_t used;
};

struct sim_view_reg *sim_reg_create(void)
{
	return calloc(1, sizeof(struct sim_view_reg));
}

void sim_reg_destroy(struct sim_view_reg *r)
{
	free(r);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

void sim_trace(struct sim *s, uint16_t what, uint32_t node, uint32_t peer,
	       uint16_t type, uint32_t len, uint64_t arg)
{
	struct sim_trace_rec *r = &s->trace[s->n_trace++ % SIM_TRACE];

	*r = (struct sim_trace_rec){ s->now, what, type, node, peer, len, arg };
	if (s->o.trace)
		sim_print_rec(stdout, r);
}

void sim_fail(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->failed)
		return;
	s->failed = true;
	s->failed_at = s->now;
	va_start(ap, fmt);
	vsnprintf(s->failure, sizeof(s->failure), fmt, ap);
	va_end(ap);
}

static const char *msg_name(uint16_t t)
{
	static const char *names[] = {
		"?", "PING", "ACK", "PING_REQ", "NACK", "JOIN", "JOIN_ACK",
		"REJECT", "SYNC", "SYNC_ACK", "VIEW_REQ", "VIEW", "GOSSIP",
		"ANNOUNCE",
	};
	static const char *data_names[] = {   /* sim_data.c, SIM_DM_* */
		"WRITE", "REPL", "REPL_ACK", "XFER", "XFER_ACK",
	};

	if (t >= 0x40 && t < 0x40 + sizeof(data_names) / sizeof(data_names[0]))
		return data_names[t - 0x40];
	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static const char *ev_name(uint16_t k)
{
	static const char *names[] = {
		"JOINED", "MEMBER_UP", "SUSPECT", "DOWN", "LEFT", "VIEW",
		"REFUSED", "LEAVE_DONE",
	};
	return k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

void sim_print_rec(FILE *f, const struct sim_trace_rec *t)
{
	fprintf(f, "%10.6fs n%-4u ", (double)t->t / 1e6, t->node);
	switch (t->what) {
	case SIM_T_SEND:
		fprintf(f, "send    %-9s %5u B -> %u.%u.%u.%u\n", msg_name(t->type),
			t->len, t->peer >> 24, (t->peer >> 16) & 255,
			(t->peer >> 8) & 255, t->peer & 255);
		break;
	case SIM_T_DELIVER:
		fprintf(f, "recv    %-9s %5u B <- n%u\n", msg_name(t->type),
			t->len, t->peer);
		break;
	case SIM_T_DROP:
		fprintf(f, "drop    %-9s %5u B -> n%u\n", msg_name(t->type),
			t->len, t->peer);
		break;
	case SIM_T_EVENT:
		if (t->type == WEFT_SWIM_EV_VIEW)
			fprintf(f, "event   VIEW      counter %llu, %u members\n",
				(unsigned long long)t->arg, t->peer);
		else
			fprintf(f, "event   %-9s about n%u (nonce %llu, inc %u)\n",
				ev_name(t->type), t->peer,
				(unsigned long long)t->arg, t->len);
		break;
	case SIM_T_CRASH:
		fprintf(f, "CRASH\n");
		break;
	case SIM_T_RESTART:
		fprintf(f, "START   nonce %llu\n", (unsigned long long)t->arg);
		break;
	case SIM_T_PAUSE:
		fprintf(f, "PAUSE   until %.6fs\n", (double)t->arg / 1e6);
		break;
	case SIM_T_RESUME:
		fprintf(f, "RESUME\n");
		break;
	case SIM_T_PARTITION:
		fprintf(f, "PARTITION %s (group mask %llx)\n",
			t->type ? "one-way" : "symmetric",
			(unsigned long long)t->arg);
		break;
	case SIM_T_HEAL:
		fprintf(f, "HEAL    all partitions\n");
		break;
	case SIM_T_LEAVE:
		fprintf(f, "LEAVE\n");
		break;
	case SIM_T_DATA:
		sim_data_print(f, t);
		break;
	default:
		fprintf(f, "timer\n");
		break;
	}
}

void sim_check_view_event(struct sim *s, uint32_t node,
			  const struct weft_swim_event *ev)
{
	struct sim_node *n = &s->node[node];
	uint64_t h = 0xcbf29ce484222325ull, k;
	bool has_coord = false;
	struct reg_ent *e;

	if (n->has_view && weft_swim_view_id_cmp(&ev->view_id, &n->last_view) <= 0)
		sim_fail(s, "node %u: view id went from %llu to %llu", node,
			 (unsigned long long)n->last_view.counter,
			 (unsigned long long)ev->view_id.counter);
	n->has_view = true;
	n->last_view = ev->view_id;
	for (uint32_t i = 0; i < ev->n_view; i++) {
		const struct weft_swim_view_member *v = &ev->view[i];

		h = fnv(h, v, sizeof(*v));
		if (!memcmp(&v->id, &ev->view_id.coord.id, sizeof(v->id)) &&
		    v->nonce == ev->view_id.coord.nonce)
			has_coord = true;
		for (uint32_t d = s->o.nodes; d < s->n_nodes; d++)
			if (!memcmp(&v->id, &s->node[d].id, sizeof(v->id)) &&
			    v->nonce == s->node[d].nonce)
				sim_fail(s, "duplicate-id node %u admitted to view "
					 "%llu (seen by node %u)", d,
					 (unsigned long long)ev->view_id.counter,
					 node);
	}
	if (!has_coord)
		sim_fail(s, "view %llu does not list its coordinator",
			 (unsigned long long)ev->view_id.counter);
	k = fnv(0xcbf29ce484222325ull, &ev->view_id, sizeof(ev->view_id));
	for (uint32_t probe = 0; probe < REG_SLOTS; probe++) {
		e = &s->reg->e[(k + probe) & (REG_SLOTS - 1)];
		if (!e->used) {
			if (s->reg->used >= REG_SLOTS / 2)
				return;  /* registry full: stop recording */
			*e = (struct reg_ent){ true, ev->view_id, h, ev->n_view };
			s->reg->used++;
			return;
		}
		if (weft_swim_view_id_cmp(&e->id, &ev->view_id) == 0) {
			if (e->hash != h || e->n != ev->n_view)
				sim_fail(s, "view %llu has two memberships (%u "
					 "and %u members; node %u)",
					 (unsigned long long)ev->view_id.counter,
					 e->n, ev->n_view, node);
			return;
		}
	}
}

void sim_check_bounds(struct sim *s)
{
	struct weft_swim_stats st;

	for (uint32_t i = 0; i < s->n_nodes; i++) {
		const struct sim_node *n = &s->node[i];

		if (!n->up)
			continue;
		weft_swim_get_stats(n->sm, &st);
		if (st.members > s->base.max_members || st.broadcasts > st.members ||
		    st.pending_relays > 64 || st.awareness >= s->base.awareness_max ||
		    st.alive > st.members)
			sim_fail(s, "node %u: table bound broken (members %u, "
				 "queue %u, relays %u, awareness %u)", i,
				 st.members, st.broadcasts, st.pending_relays,
				 st.awareness);
	}
	if (s->n_heap > 4000u * (s->n_nodes + 1))
		sim_fail(s, "event queue grew to %u", s->n_heap);
}

bool sim_converged(const struct sim *s)
{
	const struct weft_swim_view_member *v0 = NULL;
	struct weft_swim_view_id id0, id;
	uint32_t n0 = 0, live = 0, coords = 0, n;

	for (uint32_t i = 0; i < s->n_nodes; i++) {
		const struct sim_node *nd = &s->node[i];
		const struct weft_swim_view_member *v;

		if (!nd->up || nd->refused || nd->is_dup)
			continue;
		if (nd->paused)
			return false;
		live++;
		v = weft_swim_view(nd->sm, &id, &n);
		if (!v)
			return false;
		if (!v0) {
			v0 = v;
			id0 = id;
			n0 = n;
		} else if (weft_swim_view_id_cmp(&id, &id0) != 0) {
			return false;
		}
		coords += weft_swim_is_coordinator(nd->sm);
	}
	if (!v0 || n0 != live || coords != 1)
		return false;
	for (uint32_t i = 0; i < n0; i++) {
		uint32_t idx = (uint32_t)v0[i].id.b[2] << 8 | v0[i].id.b[3];

		if (idx >= s->o.nodes || !s->node[idx].up ||
		    s->node[idx].nonce != v0[i].nonce ||
		    memcmp(&s->node[idx].id, &v0[i].id, sizeof(v0[i].id)))
			return false;
	}
	/* and every failure detector agrees: each live life ALIVE everywhere */
	for (uint32_t i = 0; i < s->o.nodes; i++)
		if (s->node[i].up && !sim_known_alive(s, i))
			return false;
	return true;
}

bool sim_known_alive(const struct sim *s, uint32_t i)
{
	const struct sim_node *t = &s->node[i];

	for (uint32_t j = 0; j < s->n_nodes; j++) {
		const struct sim_node *n = &s->node[j];
		enum weft_swim_state st;
		uint64_t nonce;

		if (!n->up || n->refused || n->is_dup)
			continue;
		if (weft_swim_member_state(n->sm, &t->id, &st, &nonce) ||
		    st != WEFT_SWIM_ALIVE || nonce != t->nonce)
			return false;
	}
	return true;
}

void sim_dump(const struct sim *s, FILE *f, const char *replay)
{
	uint32_t n = s->n_trace < SIM_TRACE ? s->n_trace : SIM_TRACE;

	fprintf(f, "FAIL seed=%llu at t=%.6fs: %s\n",
		(unsigned long long)s->o.seed, (double)s->failed_at / 1e6,
		s->failure);
	fprintf(f, "replay: %s --trace\n", replay);
	fprintf(f, "last %u events:\n", n);
	for (uint32_t i = 0; i < n; i++)
		sim_print_rec(f, &s->trace[(s->n_trace - n + i) % SIM_TRACE]);
}
