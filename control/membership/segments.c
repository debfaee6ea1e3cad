/*
 * segments.c — segment ownership from a view: rendezvous (HRW) hashing with
 * bounded loads.
 *
 * For segment s every member j gets the score XXH3(id_j, seed(s)); owners
 * are taken in decreasing score order, skipping a member that already holds
 * its cap: ceil(1.25 * S / N) primaries, ceil(1.25 * S * k / N) owned
 * segments. Segments are processed in index order, so the result depends
 * only on the set of member ids (not their order in the view) and the node
 * id (not the instance nonce): a restarted node gets its segments back.
 *
 * Why HRW rather than jump hash: jump hash maps keys to buckets 0..N-1 and
 * only moves minimally when the *last* bucket comes or goes; a view loses
 * arbitrary members, which jump hash would turn into ~50% movement. HRW
 * moves only the segments whose top-scoring owners changed (1/N of them per
 * join/leave) and yields ordered backups for free. Plain HRW balances like
 * balls-in-bins (max/fair ~2x at N=1000, S=4096); the cap bounds every node
 * at 1.25x fair (+1) at a small cost in extra movement (measured by
 * `weft-sim --scale`, see docs/simulation.md).
 *
 * Invariants: each segment's owners are distinct; no member exceeds either
 * cap (the caps sum to >= S resp. S*k, so a candidate always exists); the
 * work is O(S * N * tries) with tries small, and bounded by S * N * k scans.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "swim_internal.h"

#define SEG_SEED 0x5745465453454731ull   /* "WEFTSEG1" */
#define SEG_CAP_NUM 5u                    /* cap = ceil(5/4 * fair) */
#define SEG_CAP_DEN 4u

static uint32_t cap(uint64_t total, uint32_t n)
{
	uint64_t c = (total * SEG_CAP_NUM + (uint64_t)n * SEG_CAP_DEN - 1) /
		     ((uint64_t)n * SEG_CAP_DEN);
	return c ? (uint32_t)c : 1u;
}

/* Highest score among members not yet taken for this segment. */
static uint32_t best(const uint64_t *score, const uint8_t *taken,
		     const struct weft_swim_view_member *view, uint32_t n)
{
	uint32_t b = UINT32_MAX;

	for (uint32_t j = 0; j < n; j++) {
		if (taken[j])
			continue;
		if (b == UINT32_MAX || score[j] > score[b] ||
		    (score[j] == score[b] &&
		     memcmp(view[j].id.b, view[b].id.b, 16) < 0))
			b = j;
	}
	return b;
}

int weft_swim_seg_compute(const struct weft_swim_view_member *view, uint32_t n,
			  uint32_t n_segments, uint32_t owners,
			  struct weft_swim_seg_table *t)
{
	uint32_t k, cap_p, cap_t;
	uint64_t *score;
	uint32_t *load_p, *load_t;
	uint8_t *taken;

	if (!view || !t || !t->owner || n == 0 || n > 65535 || owners == 0 ||
	    n_segments == 0 || (n_segments & (n_segments - 1)))
		return -EINVAL;
	k = owners < n ? owners : n;
	cap_p = cap(n_segments, n);
	cap_t = cap((uint64_t)n_segments * k, n);
	score = malloc(n * sizeof(*score));
	load_p = calloc(n, sizeof(*load_p));
	load_t = calloc(n, sizeof(*load_t));
	taken = malloc(n);
	if (!score || !load_p || !load_t || !taken) {
		free(score);
		free(load_p);
		free(load_t);
		free(taken);
		return -ENOMEM;
	}
	t->n_segments = n_segments;
	t->owners = k;
	t->n_members = n;
	for (uint32_t s = 0; s < n_segments; s++) {
		uint64_t seed = SEG_SEED ^ ((uint64_t)s * 0x9e3779b97f4a7c15ull);

		for (uint32_t j = 0; j < n; j++)
			score[j] = XXH3_64bits_withSeed(view[j].id.b, 16, seed);
		memset(taken, 0, n);
		for (uint32_t pos = 0; pos < k; pos++) {
			/* At most n candidates per position: bounded. */
			for (uint32_t tries = 0; tries < n; tries++) {
				uint32_t j = best(score, taken, view, n);

				if (j == UINT32_MAX)
					break;
				taken[j] = 1;
				if (load_t[j] >= cap_t ||
				    (pos == 0 && load_p[j] >= cap_p))
					continue;
				t->owner[s * k + pos] = (uint16_t)j;
				load_t[j]++;
				if (pos == 0)
					load_p[j]++;
				break;
			}
			/* Members skipped for the primary may still back up. */
			if (pos == 0)
				for (uint32_t j = 0; j < n; j++)
					taken[j] = j == t->owner[s * k];
		}
	}
	free(score);
	free(load_p);
	free(load_t);
	free(taken);
	return 0;
}

static bool owns(const struct weft_swim_view_member *v,
		 const struct weft_swim_seg_table *t, uint32_t s,
		 const struct weft_swim_id *id)
{
	for (uint32_t i = 0; i < t->owners; i++)
		if (memcmp(v[t->owner[s * t->owners + i]].id.b, id->b, 16) == 0)
			return true;
	return false;
}

int weft_swim_seg_diff(const struct weft_swim_view_member *va,
		       const struct weft_swim_seg_table *a,
		       const struct weft_swim_view_member *vb,
		       const struct weft_swim_seg_table *b,
		       uint32_t *primary_moved, uint32_t *copies_moved,
		       uint8_t *moved)
{
	uint32_t pm = 0, cm = 0;

	if (a->n_segments != b->n_segments)
		return -EINVAL;
	for (uint32_t s = 0; s < a->n_segments; s++) {
		const struct weft_swim_id *pa = &va[a->owner[s * a->owners]].id;
		const struct weft_swim_id *pb = &vb[b->owner[s * b->owners]].id;
		bool changed = memcmp(pa->b, pb->b, 16) != 0 ||
			       a->owners != b->owners;

		pm += memcmp(pa->b, pb->b, 16) != 0;
		for (uint32_t i = 0; i < b->owners; i++) {
			const struct weft_swim_id *o =
				&vb[b->owner[s * b->owners + i]].id;

			if (!owns(va, a, s, o)) {
				cm++;
				changed = true;
			}
			if (i < a->owners &&
			    memcmp(va[a->owner[s * a->owners + i]].id.b, o->b, 16))
				changed = true;
		}
		if (moved)
			moved[s] = changed;
	}
	if (primary_moved)
		*primary_moved = pm;
	if (copies_moved)
		*copies_moved = cm;
	return 0;
}
