/*
 * ctl_plan.c — the rebalancing planner: which segments move to which node,
 * and who sends them, from two topologies (ctl_rebalance_internal.h).
 *
 * Pure and sans-I/O: no clock, no port, no cache, no global state; the
 * same two topologies give the same moves on every node (and in the
 * simulator). Member indices differ between the two views, so members are
 * matched by node id and instance nonce once, in weft_ctl_plan_init (O(n_old * n_new) id
 * compares, done once per view change), and every later question is
 * answered through the index maps.
 *
 * Invariants:
 *  - a move's `to` owns the segment in the new topology and not in the old
 *    one; its `from` owns it in the old one and is a member of the new one
 *    (weft_ctl_plan_segment), or is the leaver (weft_ctl_plan_handoff);
 *  - for one segment, each new owner appears in at most one move.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_rebalance_internal.h"

static bool topo_valid(const struct weft_ctl_topo *t)
{
	if (t == NULL || t->n == 0 || t->members == NULL || t->seg_owner == NULL ||
	    t->owners == 0 || t->owners > t->n || t->owners > WEFT_DP_OWNERS_MAX || t->n_segments == 0 ||
	    (t->n_segments & (t->n_segments - 1)))
		return false;
	return true;
}

int weft_ctl_plan_init(struct weft_ctl_plan *p, const struct weft_ctl_topo *old_t,
		       const struct weft_ctl_topo *new_t)
{
	memset(p, 0, sizeof(*p));
	if (!topo_valid(old_t) || !topo_valid(new_t) || old_t->n_segments != new_t->n_segments)
		return -EINVAL;
	p->old_to_new = malloc(old_t->n * sizeof(*p->old_to_new));
	p->new_to_old = malloc(new_t->n * sizeof(*p->new_to_old));
	if (p->old_to_new == NULL || p->new_to_old == NULL) {
		weft_ctl_plan_fini(p);
		return -ENOMEM;
	}
	for (uint32_t j = 0; j < new_t->n; j++)
		p->new_to_old[j] = WEFT_CTL_PLAN_NONE;
	for (uint32_t i = 0; i < old_t->n; i++) {
		p->old_to_new[i] = WEFT_CTL_PLAN_NONE;
		for (uint32_t j = 0; j < new_t->n; j++) {
			const struct weft_swim_view_member *a = &old_t->members[i];
			const struct weft_swim_view_member *b = &new_t->members[j];
			if (a->nonce == b->nonce && memcmp(a->id.b, b->id.b, sizeof(a->id.b)) == 0) {
				p->old_to_new[i] = j;
				p->new_to_old[j] = i;
				break;
			}
		}
	}
	p->old_t = old_t;
	p->new_t = new_t;
	return 0;
}

void weft_ctl_plan_fini(struct weft_ctl_plan *p)
{
	free(p->old_to_new);
	free(p->new_to_old);
	memset(p, 0, sizeof(*p));
}

bool weft_ctl_topo_owns(const struct weft_ctl_topo *t, enum weft_ctl_plan_kind kind,
			uint32_t seg, uint32_t idx)
{
	if (idx >= t->n || seg >= t->n_segments)
		return false;
	if (kind == WEFT_CTL_PLAN_REPLICATED)
		return true;
	const uint16_t *o = t->seg_owner + (size_t)seg * t->owners;
	for (uint32_t k = 0; k < t->owners; k++)
		if (o[k] == idx)
			return true;
	return false;
}

/* The first owner of seg in the old topology (owner list order for `kind`)
 * that is still a member of the new one; WEFT_CTL_PLAN_NONE if none. */
static uint32_t first_survivor(const struct weft_ctl_plan *p, enum weft_ctl_plan_kind kind,
			       uint32_t seg)
{
	const struct weft_ctl_topo *o = p->old_t;
	const uint16_t *own = o->seg_owner + (size_t)seg * o->owners;

	for (uint32_t k = 0; k < o->owners; k++)
		if (p->old_to_new[own[k]] != WEFT_CTL_PLAN_NONE)
			return own[k];
	if (kind != WEFT_CTL_PLAN_REPLICATED)
		return WEFT_CTL_PLAN_NONE;
	/* Replicated: then every other member, in view order. */
	for (uint32_t i = 0; i < o->n; i++)
		if (p->old_to_new[i] != WEFT_CTL_PLAN_NONE)
			return i;
	return WEFT_CTL_PLAN_NONE;
}

/* Writes every owner of seg in topology t into out (owner-list order for
 * `kind`, each once); returns their number. */
static uint32_t new_owners(const struct weft_ctl_topo *t, enum weft_ctl_plan_kind kind,
			   uint32_t seg, uint32_t *out)
{
	const uint16_t *own = t->seg_owner + (size_t)seg * t->owners;
	uint32_t n = 0;

	for (uint32_t k = 0; k < t->owners; k++)
		out[n++] = own[k];
	if (kind == WEFT_CTL_PLAN_REPLICATED)
		for (uint32_t i = 0; i < t->n; i++)
			if (!weft_ctl_topo_owns(t, WEFT_CTL_PLAN_DISTRIBUTED, seg, i))
				out[n++] = i;
	return n;
}

/* Shared by both planners: the moves to the new owners of seg that did not
 * own it in the old topology, all sent by `from`. */
static int moves_to_newcomers(const struct weft_ctl_plan *p, enum weft_ctl_plan_kind kind,
			      uint32_t seg, uint32_t from, struct weft_ctl_move *out,
			      uint32_t max)
{
	uint32_t stack_owners[WEFT_DP_OWNERS_MAX];
	uint32_t *owners = stack_owners;
	uint32_t n_owners, n = 0;
	int rc;

	if (kind == WEFT_CTL_PLAN_REPLICATED) {
		owners = malloc(p->new_t->n * sizeof(*owners));
		if (owners == NULL)
			return -ENOMEM;
	}
	n_owners = new_owners(p->new_t, kind, seg, owners);
	for (uint32_t k = 0; k < n_owners; k++) {
		uint32_t to = owners[k], old = p->new_to_old[to];

		if (old != WEFT_CTL_PLAN_NONE && weft_ctl_topo_owns(p->old_t, kind, seg, old))
			continue;
		if (from == WEFT_CTL_PLAN_NONE)
			continue; /* every old owner is gone: nothing to send */
		if (n == max) {
			rc = -ENOSPC;
			goto out;
		}
		out[n++] = (struct weft_ctl_move){.seg = seg, .to = to, .from = from};
	}
	rc = (int)n;
out:
	if (owners != stack_owners)
		free(owners);
	return rc;
}

int weft_ctl_plan_segment(const struct weft_ctl_plan *p, enum weft_ctl_plan_kind kind,
			  uint32_t seg, struct weft_ctl_move *out, uint32_t max)
{
	if (p->old_t == NULL || seg >= p->new_t->n_segments)
		return -EINVAL;
	return moves_to_newcomers(p, kind, seg, first_survivor(p, kind, seg), out, max);
}

int weft_ctl_plan_handoff(const struct weft_ctl_plan *p, enum weft_ctl_plan_kind kind,
			  uint32_t seg, uint32_t leaver, struct weft_ctl_move *out, uint32_t max)
{
	if (p->old_t == NULL || seg >= p->new_t->n_segments || leaver >= p->old_t->n)
		return -EINVAL;
	if (!weft_ctl_topo_owns(p->old_t, kind, seg, leaver))
		return 0;
	return moves_to_newcomers(p, kind, seg, leaver, out, max);
}
