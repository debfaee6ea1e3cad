/*
 * ctl_quorum.c — the quorum rule of --partition-handling quorum
 * (ctl_rebalance_internal.h): does this side of a partition hold a
 * majority of the stable membership?
 *
 * Pure and sans-I/O. State: the stable set S (node ids) and the live
 * members L of the current view (ids of the members this node sees ALIVE).
 * Rule, evaluated on every publication of the view (a new view or any
 * member state change) and on every graceful leave:
 *   present  = |L ∩ S|
 *   quorum   = 2 * present > |S|
 * With quorum, S grows by L (joiners count once they are live in a view
 * that holds a majority). Failures never shrink S: a crashed member keeps
 * counting until it is live again (a rejoin: present again) or leaves
 * gracefully (a LEFT event removes it from S, so 3 -> 2 -> 1 by clean
 * stops keeps quorum). So quorum mode tolerates floor((|S|-1)/2) crashes,
 * a partition detected gradually cannot walk S down on the minority side,
 * and an even split has quorum on neither side. The first view's members
 * (live or not) are the first S.
 *
 * Invariants: S and L are sorted by id bytes, without repeats; |L| <= cap;
 * |S| <= 2 * cap - 1 (S grows only with a majority present, so at most
 * |S| - present < |S| / 2 of its members are outside L, plus |L| <= cap);
 * |S| >= 1 once a view was seen (a graceful leave never removes the last
 * member: a node does not see its own LEFT).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_rebalance_internal.h"

int weft_ctl_quorum_init(struct weft_ctl_quorum *q, uint32_t cap)
{
	memset(q, 0, sizeof(*q));
	if (cap == 0 || cap > UINT32_MAX / 2)
		return -EINVAL;
	q->stable = calloc(2u * (size_t)cap, sizeof(*q->stable));
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

static int id_cmp(const void *a, const void *b)
{
	return memcmp(((const struct weft_swim_id *)a)->b, ((const struct weft_swim_id *)b)->b,
		      sizeof(((const struct weft_swim_id *)a)->b));
}

/* Sorts set[0..n) and drops repeats; returns the new count. */
static uint32_t sort_unique(struct weft_swim_id *set, uint32_t n)
{
	uint32_t k = 0;

	if (n == 0)
		return 0;
	qsort(set, n, sizeof(*set), id_cmp);
	for (uint32_t i = 1; i < n; i++)
		if (id_cmp(&set[k], &set[i]) != 0)
			set[++k] = set[i];
	return k + 1;
}

uint32_t weft_ctl_quorum_present(const struct weft_ctl_quorum *q)
{
	uint32_t present = 0, i = 0, j = 0;

	while (i < q->n_cur && j < q->n_stable) {
		int c = id_cmp(&q->cur[i], &q->stable[j]);
		present += c == 0;
		i += c <= 0;
		j += c >= 0;
	}
	return present;
}

/* S := S ∪ L, both sorted: merged from the back, in place (S has room for
 * 2 * cap - 1 ids, see the invariants). */
static void grow(struct weft_ctl_quorum *q, uint32_t present)
{
	uint32_t add = q->n_cur - present;
	uint32_t i = q->n_cur, j = q->n_stable, k = q->n_stable + add;

	if (add == 0)
		return;
	while (i > 0) {
		int c = j > 0 ? id_cmp(&q->cur[i - 1], &q->stable[j - 1]) : 1;
		if (c > 0) {
			q->stable[--k] = q->cur[--i];
		} else {
			q->stable[--k] = q->stable[--j];
			i -= c == 0; /* in both: once */
		}
	}
	q->n_stable += add;
}

/* Applies the rule; 1 when no_quorum changed. */
static int evaluate(struct weft_ctl_quorum *q)
{
	bool was = q->no_quorum;

	q->last_present = weft_ctl_quorum_present(q);
	q->last_stable = q->n_stable;
	q->no_quorum = !(2u * q->last_present > q->n_stable);
	if (!q->no_quorum)
		grow(q, q->last_present);
	return was != q->no_quorum;
}

int weft_ctl_quorum_view(struct weft_ctl_quorum *q, const struct weft_swim_id *ids,
			 const bool *live, uint32_t n)
{
	uint32_t n_live = 0;

	if (n == 0 || n > q->cap || ids == NULL || live == NULL)
		return -EINVAL;
	if (!q->have_view) {
		q->have_view = true;
		memcpy(q->stable, ids, n * sizeof(*ids));
		q->n_stable = sort_unique(q->stable, n);
	}
	for (uint32_t i = 0; i < n; i++)
		if (live[i])
			q->cur[n_live++] = ids[i];
	q->n_cur = sort_unique(q->cur, n_live);
	return evaluate(q);
}

int weft_ctl_quorum_left(struct weft_ctl_quorum *q, const struct weft_swim_id *id)
{
	struct weft_swim_id *hit;

	if (!q->have_view)
		return 0;
	/* It is not live any more, whatever the last publication said: the
	 * evaluation below must neither count it nor add it back to S. */
	hit = bsearch(id, q->cur, q->n_cur, sizeof(*q->cur), id_cmp);
	if (hit != NULL) {
		memmove(hit, hit + 1, (size_t)(q->cur + q->n_cur - (hit + 1)) * sizeof(*hit));
		q->n_cur--;
	}
	hit = bsearch(id, q->stable, q->n_stable, sizeof(*q->stable), id_cmp);
	if (hit == NULL || q->n_stable == 1)
		return 0; /* not counted; or the last member: never empty S */
	memmove(hit, hit + 1, (size_t)(q->stable + q->n_stable - (hit + 1)) * sizeof(*hit));
	q->n_stable--;
	return evaluate(q);
}
