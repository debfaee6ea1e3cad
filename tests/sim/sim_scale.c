/*
 * sim_scale.c — `weft-sim --scale`: the figures of docs/simulation.md, per
 * cluster size, with 1% loss and no other fault:
 *  - join: time until N nodes started within 1 s share one view;
 *  - steady state (20 s): membership datagrams sent per node per second,
 *    suspicions and false DOWN declarations about live nodes;
 *  - failure detection: crash one node (repeatedly), time until each live
 *    node declares it DOWN: p50 / p99 over all observers, first detection;
 *  - ownership: segments moved on a single join and a single leave (mean
 *    of 8 each) vs the ideal 1/(N+1) and 1/N, and balance (max load /
 *    fair share);
 *  - rebalancing traffic per node on that join / leave: segment copies a
 *    node receives (a new owner) and sends (the first old owner still in
 *    the view), mean over nodes and the busiest node, also as MiB per GiB
 *    of data set (one copy of one segment = 1/SEGMENTS of the data set);
 *  - convergence after 10% of the nodes crash at once.
 * Every phase is bounded in virtual time; CPU seconds are reported. Each
 * size ends with one "fig n=N key=value ..." line (perf/sim_scale.sh reads
 * it; -1 = not reached).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define SEGMENTS 4096u
#define OWNERS 2u
#define SEG_MIB_PER_GIB (1024.0 / SEGMENTS)   /* one segment copy, per GiB */

/* The figures of one size, printed as the "fig" line. */
struct fig {
	double join_s, pkts, det_p50, det_p99, det_max, det_first;
	double move_join, move_leave, prim_join, prim_leave;
	double bal_primary, bal_owned, crash_s, cpu_s;
	double reb_mean[2], reb_rx_max[2], reb_tx_max[2];   /* [join, leave] */
	uint64_t suspects, false_downs;
};

struct obs {
	struct sim *s;
	uint32_t target;
	uint64_t target_nonce;
	uint64_t t0;
	uint64_t *seen;           /* per observer: detection time, 0 = not yet */
	uint32_t n_seen;
	bool steady;
	uint64_t suspects, false_downs;
};

static void hook(void *ctx, uint32_t node, const struct weft_swim_event *ev)
{
	struct obs *o = ctx;
	struct sim *s = o->s;
	uint32_t idx = (uint32_t)ev->id.b[2] << 8 | ev->id.b[3];

	if (ev->kind != WEFT_SWIM_EV_DOWN && ev->kind != WEFT_SWIM_EV_SUSPECT)
		return;
	if (o->steady && idx < s->o.nodes && s->node[idx].up &&
	    s->node[idx].nonce == ev->nonce) {
		if (ev->kind == WEFT_SWIM_EV_DOWN)
			o->false_downs++;
		else
			o->suspects++;
	}
	if (ev->kind == WEFT_SWIM_EV_DOWN && o->seen && idx == o->target &&
	    ev->nonce == o->target_nonce && !o->seen[node]) {
		o->seen[node] = s->now - o->t0;
		o->n_seen++;
	}
}

/* Steps until converged; returns the virtual us it took or UINT64_MAX. */
static uint64_t until_converged(struct sim *s, uint64_t limit_us)
{
	uint64_t t0 = s->now;

	while (s->now - t0 < limit_us && !s->failed) {
		sim_run_until(s, s->now + 100000);
		if (sim_converged(s))
			return s->now - t0;
	}
	return UINT64_MAX;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t tx_total(const struct sim *s)
{
	uint64_t t = 0;

	for (uint32_t i = 0; i < s->n_nodes; i++)
		t += s->node[i].tx_msgs;
	return t;
}

static uint32_t up_count(const struct sim *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->o.nodes; i++)
		n += s->node[i].up;
	return n;
}

#define OWN_TRIALS 8u

static bool same_id(const struct weft_swim_view_member *a,
		    const struct weft_swim_view_member *b)
{
	return !memcmp(&a->id, &b->id, sizeof(a->id));
}

/* Rebalancing traffic from table a (view va) to table b (view vb, m
 * members): per node of vb, copies received (owners in b not in a) and
 * sent (by the first owner in a still in vb). Sets the busiest node's rx
 * and tx; rx and tx are scratch of m entries. */
static void traffic(const struct weft_swim_view_member *va,
		    const struct weft_swim_seg_table *a,
		    const struct weft_swim_view_member *vb, uint32_t m,
		    const struct weft_swim_seg_table *b, uint32_t *rx,
		    uint32_t *tx, uint32_t *rx_max, uint32_t *tx_max)
{
	memset(rx, 0, m * sizeof(*rx));
	memset(tx, 0, m * sizeof(*tx));
	*rx_max = *tx_max = 0;
	for (uint32_t s = 0; s < SEGMENTS; s++) {
		const uint16_t *oa = &a->owner[s * a->owners];
		const uint16_t *ob = &b->owner[s * b->owners];
		int src = -1;

		for (uint32_t k = 0; k < a->owners && src < 0; k++)
			for (uint32_t j = 0; j < m; j++)
				if (same_id(&va[oa[k]], &vb[j])) {
					src = (int)j;
					break;
				}
		for (uint32_t k = 0; k < b->owners; k++) {
			bool had = false;

			for (uint32_t q = 0; q < a->owners && !had; q++)
				had = same_id(&va[oa[q]], &vb[ob[k]]);
			if (had)
				continue;
			rx[ob[k]]++;
			if (src >= 0)
				tx[src]++;
		}
	}
	for (uint32_t j = 0; j < m; j++) {
		*rx_max = rx[j] > *rx_max ? rx[j] : *rx_max;
		*tx_max = tx[j] > *tx_max ? tx[j] : *tx_max;
	}
}

/* Balance of the table of view v, and the movement and traffic of
 * OWN_TRIALS single joins (a fresh id) and leaves (a random member),
 * averaged, into f. */
static void ownership(const struct weft_swim_view_member *v, uint32_t n,
		      struct sim_rng *rng, struct fig *f)
{
	struct weft_swim_view_member *v2 = malloc((n + 1) * sizeof(*v2));
	uint16_t *o0 = malloc(SEGMENTS * OWNERS * 2);
	uint16_t *o1 = malloc(SEGMENTS * OWNERS * 2);
	uint32_t *lp = calloc(n, 4), *lt = calloc(n, 4), maxp = 0, maxt = 0;
	uint32_t *rx = calloc(n + 1, 4), *tx = calloc(n + 1, 4);
	struct weft_swim_seg_table t0 = { .owner = o0 }, t1 = { .owner = o1 };
	double jc = 0, jp = 0, lc = 0, lpm = 0, jmax = 0, lmax = 0, copies;
	clock_t c0;
	double ms;

	if (!v2 || !o0 || !o1 || !lp || !lt || !rx || !tx || n < 2)
		goto out;
	c0 = clock();
	if (weft_swim_seg_compute(v, n, SEGMENTS, OWNERS, &t0))
		goto out;
	ms = (double)(clock() - c0) * 1000.0 / CLOCKS_PER_SEC;
	copies = (double)SEGMENTS * t0.owners;
	for (uint32_t k = 0; k < 2 * OWN_TRIALS; k++) {
		bool join = k < OWN_TRIALS;
		uint32_t m = join ? n + 1 : n - 1, pm, cm, rmax, tmax;

		if (join) {
			memcpy(v2, v, n * sizeof(*v));
			v2[n] = v[0];
			v2[n].id.b[0] = 0x99;            /* a new node id */
			v2[n].id.b[14] = (uint8_t)k;
			v2[n].id.b[15] ^= 0x5a;
		} else {
			uint32_t gone = sim_below(rng, n);

			for (uint32_t i = 0, j = 0; i < n; i++)
				if (i != gone)
					v2[j++] = v[i];
		}
		if (weft_swim_seg_compute(v2, m, SEGMENTS, OWNERS, &t1) ||
		    weft_swim_seg_diff(v, &t0, v2, &t1, &pm, &cm, NULL))
			goto out;
		traffic(v, &t0, v2, m, &t1, rx, tx, &rmax, &tmax);
		f->reb_mean[!join] += (double)cm / m / OWN_TRIALS;
		f->reb_rx_max[!join] += (double)rmax / OWN_TRIALS;
		f->reb_tx_max[!join] += (double)tmax / OWN_TRIALS;
		if (join) {
			jc += cm / copies / OWN_TRIALS;
			jp += pm / (double)SEGMENTS / OWN_TRIALS;
			jmax = cm / copies > jmax ? cm / copies : jmax;
		} else {
			lc += cm / copies / OWN_TRIALS;
			lpm += pm / (double)SEGMENTS / OWN_TRIALS;
			lmax = cm / copies > lmax ? cm / copies : lmax;
		}
	}
	for (uint32_t s = 0; s < SEGMENTS; s++)
		for (uint32_t k = 0; k < t0.owners; k++) {
			uint16_t j = o0[s * t0.owners + k];

			lt[j]++;
			lp[j] += k == 0;
		}
	for (uint32_t j = 0; j < n; j++) {
		maxp = lp[j] > maxp ? lp[j] : maxp;
		maxt = lt[j] > maxt ? lt[j] : maxt;
	}
	printf("  ownership (S=%u, owners=%u, %.1f ms per table):\n",
	       SEGMENTS, t0.owners, ms);
	printf("    balance: max primaries %.2fx fair, max owned %.2fx fair\n",
	       maxp / ((double)SEGMENTS / n), maxt / (copies / n));
	printf("    join  (mean of %u): %.4f of copies moved (max %.4f), %.4f "
	       "of primaries; ideal %.4f\n", OWN_TRIALS, jc, jmax, jp,
	       1.0 / (n + 1));
	printf("    leave (mean of %u): %.4f of copies moved (max %.4f), %.4f "
	       "of primaries; ideal %.4f\n", OWN_TRIALS, lc, lmax, lpm,
	       1.0 / n);
	for (int k = 0; k < 2; k++)
		printf("    rebalancing on a %s: %.3f segment copies per node "
		       "(%.3f MiB per GiB of data), busiest node receives "
		       "%.1f (%.2f MiB/GiB), sends %.1f (%.2f MiB/GiB)\n",
		       k ? "leave" : "join ", f->reb_mean[k],
		       f->reb_mean[k] * SEG_MIB_PER_GIB, f->reb_rx_max[k],
		       f->reb_rx_max[k] * SEG_MIB_PER_GIB, f->reb_tx_max[k],
		       f->reb_tx_max[k] * SEG_MIB_PER_GIB);
	f->move_join = jc;
	f->move_leave = lc;
	f->prim_join = jp;
	f->prim_leave = lpm;
	f->bal_primary = maxp / ((double)SEGMENTS / n);
	f->bal_owned = maxt / (copies / n);
out:
	free(rx);
	free(tx);
	free(v2);
	free(o0);
	free(o1);
	free(lp);
	free(lt);
}

static int scale_one(uint64_t seed, uint32_t n)
{
	struct sim_opts opt = {
		.nodes = n, .seed = seed, .duration_ms = 0, .quiet_ms = 0,
		.loss = 0.01, .lat_us = 200, .jitter_us = 300,
	};
	struct sim *s = sim_create(&opt);
	struct obs o = { .s = s };
	struct fig f = { .join_s = -1, .det_p50 = -1, .det_p99 = -1,
			 .det_max = -1, .det_first = -1, .crash_s = -1 };
	clock_t c0 = clock();
	uint64_t t, tx0, *samples, first_sum = 0;
	uint32_t n_samples = 0, trials = n >= 1000 ? 5 : 10, done_trials = 0;
	const struct weft_swim_view_member *v;
	uint32_t nv;
	int rc = 0;

	if (!s)
		return 1;
	o.seen = calloc(n, sizeof(*o.seen));
	samples = calloc((size_t)n * trials, sizeof(*samples));
	if (!o.seen || !samples) {
		rc = 1;
		goto out;
	}
	s->hooks = (struct sim_hooks){ &o, hook };
	printf("N=%u (seed %llu, loss 1%%)\n", n, (unsigned long long)seed);
	s->faults_end_us = UINT64_MAX;     /* no fault schedule here */
	sim_node_start(s, 0, true);
	for (uint32_t i = 1; i < n; i++)
		sim_push(s, 100000 + sim_below(&s->rng, 1000000), SIM_EV_FAULT,
			 FK_RESTART, 0, i, NULL);
	sim_run_until(s, 1100000);         /* every node has started */
	t = until_converged(s, 120000000);
	if (t != UINT64_MAX)
		t += 1100000;
	f.join_s = t == UINT64_MAX ? -1.0 : (double)t / 1e6;
	printf("  join of %u nodes started within 1 s: one view after %.2f s\n",
	       n, f.join_s);

	o.steady = true;
	tx0 = tx_total(s);
	t = s->now;
	sim_run_until(s, s->now + 20000000);
	o.steady = false;
	f.pkts = (double)(tx_total(s) - tx0) / n / ((double)(s->now - t) / 1e6);
	f.suspects = o.suspects;
	f.false_downs = o.false_downs;
	printf("  steady 20 s: %.2f membership datagrams/node/s, %llu "
	       "suspicions, %llu false DOWN of live nodes (%.4f per node-hour)\n",
	       f.pkts, (unsigned long long)o.suspects,
	       (unsigned long long)o.false_downs,
	       (double)o.false_downs / n / ((double)(s->now - t) / 3.6e9));

	for (uint32_t k = 0; k < trials && !s->failed; k++) {
		uint32_t victim = 1 + sim_below(&s->rng, n - 1);
		uint64_t first = UINT64_MAX;

		memset(o.seen, 0, n * sizeof(*o.seen));
		o.n_seen = 0;
		o.target = victim;
		o.target_nonce = s->node[victim].nonce;
		o.t0 = s->now;
		sim_node_crash(s, victim);
		for (uint64_t lim = s->now + 30000000;
		     s->now < lim && o.n_seen < up_count(s) && !s->failed;)
			sim_run_until(s, s->now + 50000);
		for (uint32_t j = 0; j < n; j++) {
			if (!o.seen[j])
				continue;
			samples[n_samples++] = o.seen[j];
			first = o.seen[j] < first ? o.seen[j] : first;
		}
		if (first != UINT64_MAX) {
			first_sum += first;
			done_trials++;
		}
		o.target = UINT32_MAX;
		sim_node_start(s, victim, false);
		until_converged(s, 60000000);
	}
	qsort(samples, n_samples, sizeof(*samples), cmp_u64);
	if (n_samples) {
		f.det_p50 = samples[n_samples / 2] / 1e6;
		f.det_p99 = samples[(uint32_t)(n_samples * 0.99)] / 1e6;
		f.det_max = samples[n_samples - 1] / 1e6;
		f.det_first = done_trials ? (double)first_sum / done_trials / 1e6
					  : -1.0;
		printf("  detection (%u crashes, %u observations): p50 %.2f s, "
		       "p99 %.2f s, max %.2f s, first observer %.2f s avg\n",
		       trials, n_samples, f.det_p50, f.det_p99, f.det_max,
		       f.det_first);
	}

	v = weft_swim_view(s->node[0].sm, NULL, &nv);
	if (v)
		ownership(v, nv, &s->rng, &f);

	uint32_t kill = n / 10 ? n / 10 : 1;

	for (uint32_t k = 0, tries = 0; k < kill && tries < 100 * n; tries++) {
		uint32_t victim = 1 + sim_below(&s->rng, n - 1);

		if (s->node[victim].up) {
			sim_node_crash(s, victim);
			k++;
		}
	}
	t = until_converged(s, 60000000);
	f.crash_s = t == UINT64_MAX ? -1.0 : (double)t / 1e6;
	f.cpu_s = (double)(clock() - c0) / CLOCKS_PER_SEC;
	printf("  %u nodes (10%%) crash at once: one view of the %u survivors "
	       "after %.2f s\n", kill, n - kill, f.crash_s);
	printf("  cpu %.1f s for %.0f virtual s\n", f.cpu_s,
	       (double)s->now / 1e6);
	printf("fig n=%u join_s=%.3f pkts_node_s=%.3f suspicions=%llu "
	       "false_downs=%llu det_p50_s=%.3f det_p99_s=%.3f det_max_s=%.3f "
	       "det_first_s=%.3f move_join=%.5f ideal_join=%.5f "
	       "move_leave=%.5f ideal_leave=%.5f prim_join=%.5f "
	       "prim_leave=%.5f bal_primary=%.3f bal_owned=%.3f "
	       "reb_join_segs=%.4f reb_join_rx_max=%.3f reb_join_tx_max=%.3f "
	       "reb_leave_segs=%.4f reb_leave_rx_max=%.3f "
	       "reb_leave_tx_max=%.3f mib_per_gib_seg=%.4f crash10_s=%.3f "
	       "cpu_s=%.2f\n", n, f.join_s, f.pkts,
	       (unsigned long long)f.suspects,
	       (unsigned long long)f.false_downs, f.det_p50, f.det_p99,
	       f.det_max, f.det_first, f.move_join, 1.0 / (n + 1),
	       f.move_leave, 1.0 / n, f.prim_join, f.prim_leave,
	       f.bal_primary, f.bal_owned, f.reb_mean[0], f.reb_rx_max[0],
	       f.reb_tx_max[0], f.reb_mean[1], f.reb_rx_max[1],
	       f.reb_tx_max[1], SEG_MIB_PER_GIB, f.crash_s, f.cpu_s);
	if (s->failed) {
		sim_dump(s, stdout, "weft-sim --scale");
		rc = 1;
	}
out:
	free(o.seen);
	free(samples);
	sim_destroy(s);
	return rc;
}

int sim_scale(uint64_t seed, const uint32_t *sizes, unsigned n_sizes)
{
	int rc = 0;

	for (unsigned i = 0; i < n_sizes; i++) {
		if (sizes[i] < 3 || sizes[i] > SIM_MAX_NODES) {
			fprintf(stderr, "weft-sim: --scale sizes in [3, %u]\n",
				SIM_MAX_NODES);
			return 1;
		}
		rc |= scale_one(seed, sizes[i]);
		fflush(stdout);
	}
	return rc;
}
