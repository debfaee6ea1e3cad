/*
 * hist_register.c — the register checks, key by key (a register history
 * is linearizable iff each key's is: P-compositionality): which ops go to
 * the search and with which bounds, the report of a key that is not
 * linearizable (a window of the history around the op that cannot take
 * effect), and lost writes.
 *
 * What enters the search for a key: every ok op, and every info write or
 * info cas whose new value some ok read or some cas OLD names. An info
 * write nobody observed can be left out: linearizing it can never help
 * another op (no op needs its value), so dropping it changes no verdict,
 * and it keeps the search from trying it at every point. Failed ops and
 * info reads constrain nothing and are left out too. With opts->plain
 * nothing but failed ops and info reads is left out and no bound is
 * tightened (the cross-check of these prunings).
 *
 * Lost writes (docs/history.md): per key with at least one acknowledged
 * write, the final read is the ok read with the latest invoke among those
 * invoked after every acknowledged write of the key returned. It must
 * return the value of a write that could be last: an acknowledged write
 * that returned after every other acknowledged write was invoked, or an
 * info write invoked before the final read returned. Otherwise the key
 * counts one lost write. A key without a final read is unverified.
 */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

#define WINDOW_BEFORE 4
#define WINDOW_MAX 24
#define REPORT_STATES 1000000

static int by_key_call(const void *pa, const void *pb, void *arg)
{
	const struct hist_op *ops = arg;
	const struct hist_op *a = &ops[*(const size_t *)pa], *b = &ops[*(const size_t *)pb];
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->call != b->call)
		return a->call < b->call ? -1 : 1;
	return *(const size_t *)pa < *(const size_t *)pb ? -1 : 1;
}

static void print_op(const struct hist *h, const struct hist_op *op, FILE *out)
{
	char c[32], r[32];
	hist_fmt_time(h, op->call, c, sizeof(c));
	hist_fmt_time(h, op->ret, r, sizeof(r));
	fprintf(out, "    [%s, %s] %s ", c, r, hist_str(h, op->proc));
	if (op->kind == HIST_READ)
		fprintf(out, "read -> %s", hist_str(h, op->a));
	else if (op->kind == HIST_WRITE)
		fprintf(out, "write %s", hist_str(h, op->a));
	else
		fprintf(out, "cas %s -> %s", hist_str(h, op->a), hist_str(h, op->b));
	fprintf(out, "%s  (%s:%u)\n", op->status == HIST_INFO ? " (unknown outcome)" : "",
		h->files[op->file], op->line);
}

/* The ops around x, in invoke order: those overlapping it (info ops: those
 * invoked since the WINDOW_BEFORE ops that returned last before x was
 * invoked), those WINDOW_BEFORE ops, and the writes of the value x reads
 * (or its cas OLD) and of the value the register holds. */
static void print_window(const struct hist *h, const size_t *idx, size_t n,
			 const struct hist_wgl_stuck *st, FILE *out)
{
	const struct hist_op *x = &h->ops[st->op];
	char t[32];
	hist_fmt_time(h, h->t0, t, sizeof(t));
	fprintf(out, "key %s: not linearizable (%zu ops)\n", hist_str(h, x->key), n);
	fprintf(out, "  after the longest linearizable prefix (%zu ops) the register holds '%s';\n",
		st->depth, hist_str(h, st->state));
	fprintf(out, "  this op cannot take effect before it returns:\n");
	print_op(h, x, out);
	/* Cut-off for "before": the WINDOW_BEFORE-th largest ret < x->call. */
	uint64_t before[WINDOW_BEFORE] = {0};
	size_t nb = 0;
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *op = &h->ops[idx[i]];
		if (op->ret >= x->call)
			continue;
		size_t k;
		if (nb < WINDOW_BEFORE)
			k = nb++;
		else if (op->ret > before[WINDOW_BEFORE - 1])
			k = WINDOW_BEFORE - 1;
		else
			continue;
		before[k] = op->ret;
		for (; k > 0 && before[k] > before[k - 1]; k--) {
			uint64_t tmp = before[k];
			before[k] = before[k - 1];
			before[k - 1] = tmp;
		}
	}
	uint64_t from = nb ? before[nb - 1] : 0;
	size_t shown = 0, hidden = 0;
	fprintf(out, "  history around it (ms from the start, [invoke, return]):\n");
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *op = &h->ops[idx[i]];
		uint32_t wrote = op->kind == HIST_CAS ? op->b : op->a;
		bool writes = op->kind != HIST_READ;
		bool shows = op->ret == HIST_T_NEVER
				     ? op->call <= x->ret && (!nb || op->call >= from)
				     : op->call <= x->ret && op->ret >= x->call;
		shows = shows || (op->ret < x->call && op->ret >= from && nb);
		/* The writes of the value x needs and of the value held. */
		shows = shows || (writes && x->kind != HIST_WRITE && wrote == x->a);
		shows = shows || (writes && wrote == st->state);
		if (!shows)
			continue;
		if (shown == WINDOW_MAX) {
			hidden++;
			continue;
		}
		print_op(h, op, out);
		shown++;
	}
	if (hidden)
		fprintf(out, "    ... and %zu more ops around it\n", hidden);
}

/* The lost-write check of one key (ops g[0..n), sorted by invoke). */
static void check_lost(const struct hist *h, const size_t *g, size_t n, struct hist_result *r,
		       FILE *out)
{
	uint64_t last_ret = 0, max_call = 0;
	bool acked = false;
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *op = &h->ops[g[i]];
		if (op->status == HIST_OK && op->kind != HIST_READ) {
			acked = true;
			last_ret = op->ret > last_ret ? op->ret : last_ret;
			max_call = op->call > max_call ? op->call : max_call;
		}
	}
	if (!acked)
		return;
	const struct hist_op *fr = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *op = &h->ops[g[i]];
		if (op->kind == HIST_READ && op->status == HIST_OK && op->call > last_ret)
			fr = op;
	}
	if (!fr) {
		r->unverified_keys++;
		return;
	}
	uint32_t got = fr->a;
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *op = &h->ops[g[i]];
		if (op->kind == HIST_READ || op->status == HIST_FAIL)
			continue;
		uint32_t v = op->kind == HIST_WRITE ? op->a : op->b;
		bool could_be_last = op->status == HIST_OK ? op->ret >= max_call : op->call < fr->ret;
		if (could_be_last && v == got)
			return;
	}
	r->lost_writes++;
	if (!out)
		return;
	fprintf(out, "key %s: lost write: the final read returned '%s'; writes that could be last:\n",
		hist_str(h, fr->key), hist_str(h, got));
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *op = &h->ops[g[i]];
		if (op->kind != HIST_READ && op->status == HIST_OK && op->ret >= max_call)
			print_op(h, op, out);
	}
	fprintf(out, "  final read:\n");
	print_op(h, fr, out);
}

/* Per-check scratch: sel/kops for one key's search; per string id, the
 * stamp of the key that observed it (any read or cas OLD), the stamp of
 * the key where an ok read or ok cas observed it, and the earliest return
 * of such an observer. */
struct scratch {
	size_t *sel;
	struct hist_op *kops;
	bool *observed;
	uint32_t *seen, *forced, *written;
	uint64_t *obs_ret;
};

/* The search of one key (ops g[0..n)). When the key's writes have
 * distinct values (the format's rule; checked, since the prunings need
 * it): each op that writes a value an ok op observed must take effect
 * before the first such observer returns, so its ret is tightened to that
 * (an info op so observed gets a finite ret: it did take effect), and the
 * search learns which written values must be observed (hist_wgl). */
static int check_key(const struct hist *h, const struct hist_opts *o, const size_t *g, size_t n,
		     struct scratch *sc, uint32_t stamp, struct hist_result *r, FILE *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *op = &h->ops[g[i]];
		bool reads = op->kind == HIST_READ || op->kind == HIST_CAS;
		if (!reads || op->status == HIST_FAIL ||
		    (op->kind == HIST_READ && op->status != HIST_OK))
			continue;
		sc->seen[op->a] = stamp;
		if (op->status != HIST_OK)
			continue;
		if (sc->forced[op->a] != stamp || op->ret < sc->obs_ret[op->a])
			sc->obs_ret[op->a] = op->ret;
		sc->forced[op->a] = stamp;
	}
	size_t ns = 0;
	bool unique = !o->plain;
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *op = &h->ops[g[i]];
		if (op->status == HIST_FAIL || (op->status == HIST_INFO && op->kind == HIST_READ))
			continue;
		uint32_t v = op->kind == HIST_CAS ? op->b : op->a;
		if (op->status == HIST_INFO && sc->seen[v] != stamp && !o->plain)
			continue;
		if (op->kind != HIST_READ) {
			unique = unique && sc->written[v] != stamp;
			sc->written[v] = stamp;
		}
		sc->kops[ns] = *op;
		sc->sel[ns++] = g[i];
	}
	for (size_t i = 0; i < ns && unique; i++) {
		struct hist_op *k = &sc->kops[i];
		uint32_t v = k->kind == HIST_CAS ? k->b : k->a;
		sc->observed[i] = k->kind != HIST_READ && sc->forced[v] == stamp;
		if (sc->observed[i] && sc->obs_ret[v] < k->ret)
			k->ret = sc->obs_ret[v] > k->call ? sc->obs_ret[v] : k->call;
	}
	struct hist_wgl_stuck st;
	uint64_t states;
	int rc = hist_wgl(sc->kops, unique ? sc->observed : NULL, ns, o->max_states, o->max_bytes,
			  &st, &states);
	if (rc < 0)
		return rc;
	if (rc == HIST_LIN_NO) {
		r->keys_not_linearizable++;
		if (out && unique) {
			/* The plain search's stuck point reads better (the prunings
			 * stop earlier, at a write); within a budget, for the report. */
			struct hist_wgl_stuck plain;
			for (size_t i = 0; i < ns; i++)
				sc->kops[i] = h->ops[sc->sel[i]];
			if (hist_wgl(sc->kops, NULL, ns, REPORT_STATES, o->max_bytes, &plain,
				     &states) == HIST_LIN_NO)
				st = plain;
		}
		st.op = sc->sel[st.op];
		if (out)
			print_window(h, sc->sel, ns, &st, out);
	} else if (rc == HIST_LIN_UNKNOWN) {
		r->keys_unknown++;
		if (out)
			fprintf(out, "key %s: unknown: search budget exceeded after %" PRIu64
				" configurations (%zu ops)\n",
				hist_str(h, h->ops[g[0]].key), states, ns);
	}
	return 0;
}

int hist_check_registers(const struct hist *h, const struct hist_opts *o, struct hist_result *r,
			 FILE *out)
{
	size_t *order = malloc((h->nops + 1) * sizeof(*order));
	struct scratch sc = {
		.sel = malloc((h->nops + 1) * sizeof(*sc.sel)),
		.kops = malloc((h->nops + 1) * sizeof(*sc.kops)),
		.observed = malloc((h->nops + 1) * sizeof(*sc.observed)),
		.written = calloc(h->st.n, sizeof(*sc.written)),
		.seen = calloc(h->st.n, sizeof(*sc.seen)),
		.forced = calloc(h->st.n, sizeof(*sc.forced)),
		.obs_ret = calloc(h->st.n, sizeof(*sc.obs_ret)),
	};
	int rc = -ENOMEM;
	if (!order || !sc.sel || !sc.kops || !sc.observed || !sc.seen || !sc.forced ||
	    !sc.written || !sc.obs_ret)
		goto out;
	for (size_t i = 0; i < h->nops; i++) {
		order[i] = i;
		r->acked_writes += h->ops[i].status == HIST_OK && h->ops[i].kind != HIST_READ;
	}
	qsort_r(order, h->nops, sizeof(*order), by_key_call, (void *)h->ops);
	rc = 0;
	for (size_t s = 0, e; s < h->nops && rc == 0; s = e) {
		for (e = s + 1; e < h->nops && h->ops[order[e]].key == h->ops[order[s]].key; e++)
			;
		r->keys++;
		rc = check_key(h, o, order + s, e - s, &sc, (uint32_t)r->keys, r, out);
		check_lost(h, order + s, e - s, r, out);
	}
out:
	free(order);
	free(sc.sel);
	free(sc.kops);
	free(sc.observed);
	free(sc.written);
	free(sc.seen);
	free(sc.forced);
	free(sc.obs_ret);
	return rc;
}
