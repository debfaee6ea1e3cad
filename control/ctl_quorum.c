/*
 * ctl_quorum.c — the quorum rule of --partition-handling quorum
 * (ctl_rebalance_internal.h): does this side of a partition hold a
 * majority of the last stable view?
 *
 * Pure and sans-I/O. State: the member ids of the last stable view and of
 * the current view. Rule, evaluated on every installed view and every
 * graceful leave:
 *   present   = |current view ∩ stable view|   (by node id)
 *   majority  = 2 * present > |stable view|
 * With a majority the current view becomes the stable view (so joins grow
 * it and failures shrink it one majority at a time); without one the stable
 * view is kept and the node has no quorum until a view holds a majority of
 * it again (a merge). A member that leaves gracefully is removed from the
 * stable view: 3 -> 2 -> 1 by clean stops keeps quorum all the way.
 *
 * Invariants: n_stable >= 1 once a view was seen (a graceful leave never
 * removes the last member: a node does not see its own LEFT); ids in
 * stable and cur are distinct.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_rebalance_internal.h"

int weft_ctl_quorum_init(struct weft_ctl_quorum *q, uint32_t cap)
{
	memset(q, 0, sizeof(*q));
	if (cap == 0)
		return -EINVAL;
	q->stable = calloc(cap, sizeof(*q->stable));
	q->cur = calloc(cap, sizeof(*q->cur));
	if (q->stable == NULL || q->cur == NULL) {
		weft_ctl_quorum_fini(q);
		return -ENOMEM;
	}
	q->cap = cap;
	return 0;
}

void weft_ctl_quorum_fini(struct weft_ctl_quorum *q)
{
	free(q->stable);
	free(q->cur);
	memset(q, 0, sizeof(*q));
}

static bool has(const struct weft_swim_id *set, uint32_t n, const struct weft_swim_id *id)
{
	for (uint32_t i = 0; i < n; i++)
		if (memcmp(set[i].b, id->b, sizeof(id->b)) == 0)
			return true;
	return false;
}

uint32_t weft_ctl_quorum_present(const struct weft_ctl_quorum *q)
{
	uint32_t present = 0;

	for (uint32_t i = 0; i < q->n_cur; i++)
		present += has(q->stable, q->n_stable, &q->cur[i]);
	return present;
}

/* Applies the rule to the current view; 1 when no_quorum changed. */
static int evaluate(struct weft_ctl_quorum *q)
{
	bool was = q->no_quorum;

	q->last_present = weft_ctl_quorum_present(q);
	q->last_stable = q->n_stable;
	if (2u * q->last_present > q->n_stable) {
		memcpy(q->stable, q->cur, q->n_cur * sizeof(*q->cur));
		q->n_stable = q->n_cur;
		q->no_quorum = false;
	} else {
		q->no_quorum = true;
	}
	return was != q->no_quorum;
}

int weft_ctl_quorum_view(struct weft_ctl_quorum *q, const struct weft_swim_id *ids, uint32_t n)
{
	if (n == 0 || n > q->cap || ids == NULL)
		return -EINVAL;
	memcpy(q->cur, ids, n * sizeof(*ids));
	q->n_cur = n;
	if (!q->have_view) {
		q->have_view = true;
		memcpy(q->stable, ids, n * sizeof(*ids));
		q->n_stable = n;
		return 0;
	}
	return evaluate(q);
}

int weft_ctl_quorum_left(struct weft_ctl_quorum *q, const struct weft_swim_id *id)
{
	if (!q->have_view)
		return 0;
	/* The view without it may come later: it is gone from this one too, so
	 * that the evaluation below does not adopt it back into the stable
	 * view. */
	for (uint32_t i = 0; i < q->n_cur; i++) {
		if (memcmp(q->cur[i].b, id->b, sizeof(id->b)) == 0 && q->n_cur > 1) {
			q->cur[i] = q->cur[--q->n_cur];
			break;
		}
	}
	for (uint32_t i = 0; i < q->n_stable; i++) {
		if (memcmp(q->stable[i].b, id->b, sizeof(id->b)) != 0)
			continue;
		if (q->n_stable == 1)
			return 0; /* never empty the stable view */
		q->stable[i] = q->stable[--q->n_stable];
		return evaluate(q);
	}
	return 0;
}
