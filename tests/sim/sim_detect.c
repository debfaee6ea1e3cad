/*
 * sim_detect.c — the failure-detection measurements of a run, which
 * tests/sim/run sums into detect_p99_ms and false_positive_rate
 * (definitions: docs/simulation.md "Measurements").
 *
 *  - detection sample: a node life crashes at virtual time t; each observer
 *    whose current life started before t and which later declares that life
 *    DOWN gives one sample, DOWN time - t, counted once per (crash,
 *    observer). Observers that never declare it (they crashed, or the life
 *    was restarted first) give none.
 *  - false DOWN: an observer declares DOWN a life that is up at that
 *    instant, while neither that life nor the observer has been paused and
 *    no partition has been in force within the last SIM_CALM_US. A DOWN of
 *    a live life that was unreachable (paused, partitioned, or the observer
 *    was the one paused) within that window is "excused": SWIM is meant to
 *    declare it, so it counts on neither side.
 *
 * Invariants: samples and crashes grow only; every sample is taken at a
 * DOWN event whose (id, nonce) names a recorded crash; memory is freed by
 * sim_detect_free() (sim_destroy).
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void sim_detect_crash(struct sim *s, uint32_t node)
{
	struct sim_detect *d = &s->det;
	struct sim_crash *c;

	if (d->n_crash == d->cap_crash) {
		uint32_t cap = d->cap_crash ? 2 * d->cap_crash : 16;
		struct sim_crash *p = realloc(d->crash, cap * sizeof(*p));

		if (!p) {
			sim_fail(s, "out of memory for the crash log");
			return;
		}
		d->crash = p;
		d->cap_crash = cap;
	}
	c = &d->crash[d->n_crash];
	c->seen = calloc(s->o.nodes + 1, 1);
	if (!c->seen) {
		sim_fail(s, "out of memory for the crash log");
		return;
	}
	c->node = node;
	c->nonce = s->node[node].nonce;
	c->t = s->now;
	d->n_crash++;
}

static void add_sample(struct sim *s, uint64_t us)
{
	struct sim_detect *d = &s->det;

	if (d->n_sample == d->cap_sample) {
		uint32_t cap = d->cap_sample ? 2 * d->cap_sample : 256;
		uint32_t *p = realloc(d->sample_ms, cap * sizeof(*p));

		if (!p) {
			sim_fail(s, "out of memory for detection samples");
			return;
		}
		d->sample_ms = p;
		d->cap_sample = cap;
	}
	d->sample_ms[d->n_sample++] = (uint32_t)(us / 1000);
}

void sim_detect_down(struct sim *s, uint32_t observer,
		     const struct weft_swim_event *ev)
{
	struct sim_detect *d = &s->det;
	uint32_t idx = (uint32_t)ev->id.b[2] << 8 | ev->id.b[3];
	const struct sim_node *obs = &s->node[observer], *tgt;

	if (idx >= s->o.nodes || observer > s->o.nodes)
		return;
	for (uint32_t k = d->n_crash; k-- > 0;) {
		struct sim_crash *c = &d->crash[k];

		if (c->node != idx || c->nonce != ev->nonce)
			continue;
		if (!c->seen[observer] && obs->started_at < c->t) {
			c->seen[observer] = 1;
			add_sample(s, s->now - c->t);
		}
		return;
	}
	tgt = &s->node[idx];
	if (!tgt->up || tgt->nonce != ev->nonce)
		return;            /* left, or an older life: not a crash */
	if (s->now >= d->calm_after && s->now >= tgt->calm_after &&
	    s->now >= obs->calm_after)
		d->false_downs++;
	else
		d->excused_downs++;
}

void sim_detect_partition(struct sim *s, bool cut)
{
	s->det.calm_after = cut ? UINT64_MAX : s->now + SIM_CALM_US;
}

void sim_detect_free(struct sim *s)
{
	for (uint32_t k = 0; k < s->det.n_crash; k++)
		free(s->det.crash[k].seen);
	free(s->det.crash);
	free(s->det.sample_ms);
	memset(&s->det, 0, sizeof(s->det));
}
