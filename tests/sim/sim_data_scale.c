/*
 * sim_data_scale.c — `weft-sim --data-scale`: rebalancing traffic per node
 * on one join and one leave at each cluster size, computed with the REAL
 * planner (weft_ctl_plan_init / weft_ctl_plan_segment) over real segment
 * tables (weft_swim_seg_compute), for a data set of DS_KEYS entries of
 * SIM_DKEY_LEN-byte keys and SIM_DVAL_LEN-byte values held `owners` times.
 *
 * Per trial (8 joins of a fresh id, 8 leaves of a random member, as
 * sim_scale.c's ownership figures): every move (segment, to, from) carries
 * the entries of that segment (keys hashed with XXH3 to DS_SEGS segments);
 * a move costs entries x (weft_repl_entry + key + value) bytes, and each
 * (sender, receiver) pair's bytes go in messages of WEFT_CTL_REPL_TARGET
 * (each with one header, cache name and weft_x_replicate). Reported per
 * node of the new view: entries and bytes sent, mean over nodes and the
 * busiest sender, and what the busiest receiver (the joiner, on a join)
 * gets. Also checks that every new owner gets every segment (no move
 * without a sender on a single join or leave with owners 2).
 * Pure computation, bounded: O(trials x (N^2 + segments x owners)).
 *
 * For N <= DYN_MAX_N the same join and leave also run in the full
 * simulation (--data, 1% loss, no other fault): N nodes, DYN_KEYS writes
 * (SIM_DSEGS segments), then a node joins, then one leaves (exits: no
 * hand-off is modelled), 10 virtual seconds each; reported: entries and
 * bytes each node's state transfer sent (retransmissions included).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "sim_data.h"

#define DS_SEGS 4096u
#define DS_KEYS 1000000u
#define DS_TRIALS 8u
#define ENTRY_BYTES (sizeof(struct weft_repl_entry) + SIM_DKEY_LEN + SIM_DVAL_LEN)
#define MSG_OVERHEAD (sizeof(struct weft_wire_hdr) + 8u + sizeof(struct weft_x_replicate))

struct pair {
	uint32_t from, to;
	uint64_t bytes;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return x->to < y->to ? -1 : x->to > y->to;
}

struct acc {
	double mean_e, max_tx_e, max_rx_e, mean_b, max_tx_b, max_rx_b, msgs;
	uint32_t unsent;
};

/* One trial: old view (va, n) -> new view (vb, m). */
static int trial(const struct weft_swim_view_member *va, uint32_t n,
		 const struct weft_swim_view_member *vb, uint32_t m,
		 const uint32_t *hist, struct acc *acc)
{
	uint16_t *sa = malloc(DS_SEGS * SIM_DOWNERS * 2);
	uint16_t *sb = malloc(DS_SEGS * SIM_DOWNERS * 2);
	struct weft_swim_seg_table ta = { .owner = sa }, tb = { .owner = sb };
	uint64_t *tx_e = calloc(m, 8), *rx_e = calloc(m, 8);
	uint64_t *tx_b = calloc(m, 8), *rx_b = calloc(m, 8);
	struct pair *pr = malloc(DS_SEGS * SIM_DOWNERS * sizeof(*pr));
	struct weft_ctl_move mv[SIM_DOWNERS + 1];
	struct weft_ctl_plan p;
	uint32_t n_pr = 0;
	uint64_t te = 0, tb_ = 0, mx_tx_e = 0, mx_rx_e = 0, mx_tx_b = 0,
		 mx_rx_b = 0, msgs = 0;
	int rc = -1;

	if (!sa || !sb || !tx_e || !rx_e || !tx_b || !rx_b || !pr ||
	    weft_swim_seg_compute(va, n, DS_SEGS, SIM_DOWNERS, &ta) ||
	    weft_swim_seg_compute(vb, m, DS_SEGS, SIM_DOWNERS, &tb))
		goto out;
	struct weft_ctl_topo to = { .n = n, .members = va, .n_segments = DS_SEGS,
				    .owners = ta.owners, .seg_owner = sa };
	struct weft_ctl_topo tn = { .view = 1, .n = m, .members = vb,
				    .n_segments = DS_SEGS, .owners = tb.owners,
				    .seg_owner = sb };

	if (weft_ctl_plan_init(&p, &to, &tn))
		goto out;
	for (uint32_t s = 0; s < DS_SEGS; s++) {
		int k = weft_ctl_plan_segment(&p, WEFT_CTL_PLAN_DISTRIBUTED, s, mv,
					      SIM_DOWNERS + 1);
		uint32_t fresh = 0;

		for (uint32_t o = 0; o < tb.owners; o++) {
			uint32_t old = p.new_to_old[sb[s * tb.owners + o]];

			fresh += old == WEFT_CTL_PLAN_NONE ||
				 !weft_ctl_topo_owns(&to, WEFT_CTL_PLAN_DISTRIBUTED, s, old);
		}
		if (k < 0) {
			weft_ctl_plan_fini(&p);
			goto out;
		}
		acc->unsent += fresh - (uint32_t)k;
		for (int i = 0; i < k; i++) {
			uint32_t from = p.old_to_new[mv[i].from];
			uint64_t b = (uint64_t)hist[s] * ENTRY_BYTES;

			tx_e[from] += hist[s];
			rx_e[mv[i].to] += hist[s];
			tx_b[from] += b;
			rx_b[mv[i].to] += b;
			pr[n_pr++] = (struct pair){ from, mv[i].to, b };
		}
	}
	weft_ctl_plan_fini(&p);
	qsort(pr, n_pr, sizeof(*pr), cmp_pair);
	for (uint32_t i = 0; i < n_pr;) {
		uint64_t b = 0;
		uint32_t j = i;

		for (; j < n_pr && pr[j].from == pr[i].from && pr[j].to == pr[i].to; j++)
			b += pr[j].bytes;
		uint64_t k = (b + WEFT_CTL_REPL_TARGET - 1) / WEFT_CTL_REPL_TARGET;

		msgs += k;
		tx_b[pr[i].from] += k * MSG_OVERHEAD;
		i = j;
	}
	for (uint32_t j = 0; j < m; j++) {
		te += tx_e[j];
		tb_ += tx_b[j];
		mx_tx_e = tx_e[j] > mx_tx_e ? tx_e[j] : mx_tx_e;
		mx_rx_e = rx_e[j] > mx_rx_e ? rx_e[j] : mx_rx_e;
		mx_tx_b = tx_b[j] > mx_tx_b ? tx_b[j] : mx_tx_b;
		mx_rx_b = rx_b[j] > mx_rx_b ? rx_b[j] : mx_rx_b;
	}
	acc->mean_e += (double)te / m / DS_TRIALS;
	acc->mean_b += (double)tb_ / m / DS_TRIALS;
	acc->max_tx_e += (double)mx_tx_e / DS_TRIALS;
	acc->max_rx_e += (double)mx_rx_e / DS_TRIALS;
	acc->max_tx_b += (double)mx_tx_b / DS_TRIALS;
	acc->max_rx_b += (double)mx_rx_b / DS_TRIALS;
	acc->msgs += (double)msgs / DS_TRIALS;
	rc = 0;
out:
	free(sa);
	free(sb);
	free(tx_e);
	free(rx_e);
	free(tx_b);
	free(rx_b);
	free(pr);
	return rc;
}

static int one_size(uint64_t seed, uint32_t n, const uint32_t *hist)
{
	struct weft_swim_view_member *v = calloc(n + 1, sizeof(*v));
	struct weft_swim_view_member *v2 = calloc(n + 1, sizeof(*v2));
	struct acc a[2];
	struct sim_rng rng;
	clock_t c0 = clock();
	int rc = 0;

	memset(a, 0, sizeof(a));
	sim_rng_seed(&rng, seed);
	if (!v || !v2) {
		rc = 1;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t r = sim_rand(&rng);

		v[i].id.b[0] = 0x57;
		v[i].id.b[2] = (uint8_t)(i >> 8);
		v[i].id.b[3] = (uint8_t)i;
		memcpy(&v[i].id.b[8], &r, 8);
		v[i].nonce = 1;
	}
	for (uint32_t k = 0; k < 2 * DS_TRIALS && !rc; k++) {
		bool join = k < DS_TRIALS;
		uint32_t m = join ? n + 1 : n - 1;

		if (join) {
			uint64_t r = sim_rand(&rng);

			memcpy(v2, v, n * sizeof(*v));
			v2[n] = v[0];
			v2[n].id.b[0] = 0x99;           /* a new node id */
			memcpy(&v2[n].id.b[8], &r, 8);
		} else {
			uint32_t gone = sim_below(&rng, n);

			for (uint32_t i = 0, j = 0; i < n; i++)
				if (i != gone)
					v2[j++] = v[i];
		}
		rc = trial(v, n, v2, m, hist, &a[!join]) ? 1 : 0;
	}
	if (rc)
		goto out;
	double set_b = (double)DS_KEYS * ENTRY_BYTES;

	printf("N=%u: %u entries (%u B keys, %u B values) x %u owners over %u "
	       "segments, mean of %u joins / %u leaves\n", n, DS_KEYS,
	       SIM_DKEY_LEN, SIM_DVAL_LEN, SIM_DOWNERS, DS_SEGS, DS_TRIALS,
	       DS_TRIALS);
	for (int k = 0; k < 2; k++)
		printf("  %s: sent per node %.0f entries / %.2f MB mean, busiest "
		       "sender %.0f / %.2f MB, busiest receiver %.0f / %.2f MB "
		       "(%.4f of the data set); %.0f messages; moves without a "
		       "sender %u\n", k ? "leave" : "join ", a[k].mean_e,
		       a[k].mean_b / 1e6, a[k].max_tx_e, a[k].max_tx_b / 1e6,
		       a[k].max_rx_e, a[k].max_rx_b / 1e6, a[k].max_rx_b / set_b,
		       a[k].msgs, a[k].unsent);
	printf("dfig n=%u join_tx_mean_entries=%.1f join_tx_mean_bytes=%.0f "
	       "join_tx_max_entries=%.0f join_tx_max_bytes=%.0f "
	       "join_rx_max_entries=%.0f join_rx_max_bytes=%.0f "
	       "leave_tx_mean_entries=%.1f leave_tx_mean_bytes=%.0f "
	       "leave_tx_max_entries=%.0f leave_tx_max_bytes=%.0f "
	       "leave_rx_max_entries=%.0f leave_rx_max_bytes=%.0f "
	       "unsent=%u cpu_s=%.2f\n", n, a[0].mean_e, a[0].mean_b,
	       a[0].max_tx_e, a[0].max_tx_b, a[0].max_rx_e, a[0].max_rx_b,
	       a[1].mean_e, a[1].mean_b, a[1].max_tx_e, a[1].max_tx_b,
	       a[1].max_rx_e, a[1].max_rx_b, a[0].unsent + a[1].unsent,
	       (double)(clock() - c0) / CLOCKS_PER_SEC);
	if (a[0].unsent + a[1].unsent)
		rc = 1;   /* a single join or leave must never strand a segment */
out:
	free(v);
	free(v2);
	return rc;
}

/* ---- the same, measured in the full simulation (N <= DYN_MAX_N) ---- */

#define DYN_MAX_N 100u
#define DYN_KEYS 15000u           /* one write per ms for 15 s */

struct dyn_snap {
	uint64_t *e, *b;
};

static void dyn_take(const struct sim *s, struct dyn_snap *x)
{
	for (uint32_t i = 0; i < s->o.nodes; i++) {
		x->e[i] = s->data->n[i].xfer_entries;
		x->b[i] = s->data->n[i].xfer_bytes;
	}
}

/* State-transfer entries and bytes sent per up node since snapshot x, mean
 * and busiest; and the entries node rx (the joiner; SIM_NONE: none) holds. */
static void dyn_report(const struct sim *s, const struct dyn_snap *x,
		       const char *what, uint32_t rx)
{
	double me = 0, mb = 0, xe = 0, xb = 0, n = 0, held = 0;

	for (uint32_t i = 0; i < s->o.nodes; i++) {
		double de = (double)(s->data->n[i].xfer_entries - x->e[i]);
		double db = (double)(s->data->n[i].xfer_bytes - x->b[i]);

		if (!s->node[i].up)
			continue;
		n++;
		me += de;
		mb += db;
		xe = de > xe ? de : xe;
		xb = db > xb ? db : xb;
	}
	printf("  simulated %s: sent per node %.0f entries / %.0f B mean, "
	       "busiest %.0f / %.0f B", what, me / n, mb / n, xe, xb);
	if (rx == SIM_NONE) {
		printf(" (%u entries, 2 copies)\n", s->data->n_keys);
		return;
	}
	for (uint32_t k = 0; k < s->data->n_keys; k++)
		held += s->data->n[rx].ver[k] != 0;
	printf("; the joiner holds %.0f of %u entries\n", held, s->data->n_keys);
}

/* N nodes + one that joins later; DYN_KEYS writes; then the join, then a
 * leave, each followed by 10 virtual seconds with no writes. */
static int dyn_one(uint64_t seed, uint32_t n)
{
	struct sim_opts o = {
		.nodes = n + 1, .seed = seed, .duration_ms = 600000,
		.loss = 0.01, .lat_us = 200, .jitter_us = 300, .data = true,
		.write_ms = 1, .write_start_ms = 8000,
		.write_end_ms = 8000 + DYN_KEYS, .partition_max_ms = 8000,
	};
	struct sim *s = sim_create(&o);
	struct dyn_snap x = { calloc(n + 1, 8), calloc(n + 1, 8) };
	uint32_t gone;
	int rc = 0;

	if (!s || !x.e || !x.b) {
		rc = 1;
		goto out;
	}
	s->faults_end_us = UINT64_MAX;
	sim_node_start(s, 0, true);
	for (uint32_t i = 1; i < n; i++)
		sim_push(s, 100000 + sim_below(&s->rng, 1000000), SIM_EV_FAULT,
			 FK_RESTART, 0, i, NULL);
	sim_run_until(s, 8000000 + DYN_KEYS * 1000ull + 5000000);
	dyn_take(s, &x);
	sim_node_start(s, n, false);
	sim_run_until(s, s->now + 10000000);
	dyn_report(s, &x, "join ", n);
	dyn_take(s, &x);
	gone = 1 + sim_below(&s->rng, n - 1);
	sim_node_leave(s, gone);
	sim_run_until(s, s->now + 10000000);
	dyn_report(s, &x, "leave", SIM_NONE);
	if (s->failed) {
		sim_dump(s, stdout, "weft-sim --data-scale");
		rc = 1;
	}
out:
	free(x.e);
	free(x.b);
	sim_destroy(s);
	return rc;
}

int sim_data_scale(uint64_t seed, const uint32_t *sizes, unsigned n_sizes)
{
	uint32_t *hist = calloc(DS_SEGS, sizeof(*hist));
	int rc = 0;

	if (!hist)
		return 1;
	for (uint32_t k = 0; k < DS_KEYS; k++)
		hist[(uint32_t)XXH3_64bits(&k, sizeof(k)) & (DS_SEGS - 1)]++;
	for (unsigned i = 0; i < n_sizes && !rc; i++) {
		if (sizes[i] < 3 || sizes[i] > SIM_MAX_NODES) {
			fprintf(stderr, "weft-sim: --data-scale sizes in [3, %u]\n",
				SIM_MAX_NODES);
			rc = 1;
			break;
		}
		rc = one_size(seed, sizes[i], hist);
		if (!rc && sizes[i] <= DYN_MAX_N)
			rc = dyn_one(seed, sizes[i]);
		fflush(stdout);
	}
	free(hist);
	return rc;
}
