/*
 * sim_sgl_check.c — the singleton layer's runs and invariants (sim_sgl.h):
 * the active runs (one entry per START, removed at its `stopped` or its
 * life's end), the per-name last epoch, the checks after every event, the
 * trace and the summary.
 *
 * Invariants checked: (1) and (3) at every START, (2) and (4) after every
 * event (sim_scheck); overlaps (two runs of a name at once) are counted at
 * the START that makes them.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_sgl.h"

void sim_scheck_write(struct sim *s, uint32_t name, const struct weft_ctl_sgl_claim *prev,
		      const struct weft_ctl_sgl_claim *c)
{
	struct sim_sgl_layer *L = s->sgl;

	if (prev->kind != WEFT_CTL_SGL_ABSENT && c->epoch <= prev->epoch) {
		sim_fail(s, "(1) a claim of %s with epoch %llu replaces one of epoch %llu",
			 sim_sname(name), (unsigned long long)c->epoch,
			 (unsigned long long)prev->epoch);
		return;
	}
	if (L->n_log[name] == SIM_SLOG) {
		sim_fail(s, "(4) more than %u claims of %s in one run", SIM_SLOG,
			 sim_sname(name));
		return;
	}
	L->log[name][L->n_log[name]++] = (struct sim_sclaim){ c->epoch, c->owner, false };
}

void sim_scheck_start(struct sim *s, uint32_t node, uint32_t name, uint64_t epoch)
{
	struct sim_sgl_layer *L = s->sgl;
	bool other = false;

	if (!(L->n[node].hosts & (1u << name))) {
		sim_fail(s, "(3) n%u runs %s, which it does not host", node, sim_sname(name));
		return;
	}
	struct sim_sclaim *w = NULL;

	for (uint32_t j = L->n_log[name]; j-- > 0;)
		if (L->log[name][j].epoch == epoch) {
			w = &L->log[name][j];
			break;
		}
	if (!w || memcmp(&w->owner, &s->node[node].id, sizeof(w->owner)) || w->started) {
		sim_fail(s, "(1) n%u starts %s with epoch %llu: %s", node, sim_sname(name),
			 (unsigned long long)epoch,
			 !w ? "no such claim was written" :
			 w->started ? "a run with that epoch was already started" :
			 "the claim of that epoch names another node");
		return;
	}
	for (uint32_t r = 0; r < L->n_active; r++) {
		const struct sim_srun *a = &L->active[r];

		if (a->name != name)
			continue;
		if (a->node == node && a->nonce == L->n[node].nonce) {
			sim_fail(s, "n%u starts %s while its own run (epoch %llu) goes on",
				 node, sim_sname(name), (unsigned long long)a->epoch);
			return;
		}
		other = true;
	}
	if (L->n_active == SIM_SMAX_ACTIVE) {
		sim_fail(s, "(4) more than %u singleton runs at once", SIM_SMAX_ACTIVE);
		return;
	}
	w->started = true;
	L->runs++;
	L->overlaps += other;
	L->active[L->n_active++] = (struct sim_srun){ node, name, L->n[node].nonce, epoch,
						      s->now };
}

void sim_scheck_end(struct sim *s, uint32_t node, uint32_t name)
{
	struct sim_sgl_layer *L = s->sgl;

	for (uint32_t r = 0; r < L->n_active;) {
		const struct sim_srun *a = &L->active[r];

		if (a->node == node && a->nonce == L->n[node].nonce &&
		    (name == SIM_SNAMES || a->name == name))
			L->active[r] = L->active[--L->n_active];
		else
			r++;
	}
}

void sim_scheck(struct sim *s)
{
	struct sim_sgl_layer *L = s->sgl;
	uint32_t bound = 16u * s->o.nodes * SIM_SNAMES + 64;

	if (L->n_heap > bound) {
		sim_fail(s, "(4) singleton event queue holds %u events (bound %u)",
			 L->n_heap, bound);
		return;
	}
	if (!L->healthy_since || s->now < L->healthy_since + SIM_SBOUND_US)
		return;
	for (uint32_t k = 0; k < SIM_SNAMES; k++) {
		uint32_t hosts = 0, running = 0, who = 0;

		for (uint32_t i = 0; i < s->o.nodes; i++)
			hosts += sim_slive(s, i) && (L->n[i].hosts & (1u << k));
		for (uint32_t r = 0; r < L->n_active; r++)
			if (L->active[r].name == k) {
				running++;
				who = L->active[r].node;
			}
		if (running > 1) {
			sim_fail(s, "(2) %u runs of %s at once %.1fs into a healthy period",
				 running, sim_sname(k),
				 (double)(s->now - L->healthy_since) / 1e6);
			return;
		}
		if (hosts && !running) {
			sim_fail(s, "(2) nobody runs %s %.1fs into a healthy period (%u "
				 "live nodes host it)", sim_sname(k),
				 (double)(s->now - L->healthy_since) / 1e6, hosts);
			return;
		}
		if (running && !sim_slive(s, who)) {
			sim_fail(s, "(2) %s runs on n%u, not live", sim_sname(k), who);
			return;
		}
	}
}

static bool sees_live(const struct sim_snode *n, const struct weft_swim_id *id)
{
	for (uint32_t j = 0; j < n->n_mem; j++)
		if (!memcmp(&n->mem[j].id, id, sizeof(*id)))
			return n->mem[j].state <= WEFT_SWIM_SUSPECT;
	return false;
}

void sim_scheck_health(struct sim *s)
{
	struct sim_sgl_layer *L = s->sgl;
	bool ok = s->converged_at != 0;

	for (uint32_t i = 0; i < s->o.nodes && ok; i++) {
		if (!sim_slive(s, i))
			continue;
		for (uint32_t j = 0; j < s->o.nodes && ok; j++)
			ok = !sim_slive(s, j) || sees_live(&L->n[i], &s->node[j].id);
	}
	if (!ok)
		L->healthy_since = 0;
	else if (!L->healthy_since)
		L->healthy_since = s->now;
}

/* ---- output ---- */

static const char *const what_s[] = {
	"READ", "CAS", "RELEASE", "answer", "timeout", "START", "STOP", "stopped",
	"view", "life", "end", "member",
};

static void sprint(FILE *f, const struct sim_strace *t)
{
	fprintf(f, "  %10.6f n%-3u sgl %-8s %-7s %llu %llu\n", (double)t->t / 1e6, t->node,
		what_s[t->what], sim_sname(t->name), (unsigned long long)t->a,
		(unsigned long long)t->b);
}

void sim_sgl_dump(const struct sim *s, FILE *f, const char *replay)
{
	const struct sim_sgl_layer *L = s->sgl;
	uint32_t n = L->n_trace < SIM_TRACE ? L->n_trace : SIM_TRACE;

	sim_dump(s, f, replay);
	fprintf(f, "last %u singleton-layer events (READ/CAS: expected version, "
		"epoch; answer: ok, version; START: epoch; view: id, members;\n"
		"member: its node, its new state 0 ALIVE 1 SUSPECT 2 DEAD 3 LEFT):\n", n);
	for (uint32_t i = L->n_trace - n; i < L->n_trace; i++)
		sprint(f, &L->trace[i % SIM_TRACE]);
	for (uint32_t r = 0; r < L->n_active; r++)
		fprintf(f, "  active: %s on n%u epoch %llu since %.3fs\n",
			sim_sname(L->active[r].name), L->active[r].node,
			(unsigned long long)L->active[r].epoch,
			(double)L->active[r].start_us / 1e6);
}

void sim_sgl_summary(const struct sim *s, char *buf, size_t n)
{
	const struct sim_sgl_layer *L = s->sgl;

	if (!L) {
		buf[0] = 0;
		return;
	}
	snprintf(buf, n, "; sgl: %llu runs, %llu overlaps, %llu store requests "
		 "(%llu timed out)", (unsigned long long)L->runs,
		 (unsigned long long)L->overlaps, (unsigned long long)L->reqs,
		 (unsigned long long)L->timeouts);
}

void sim_sgl_totals(const struct sim *s, uint64_t *runs, uint64_t *overlaps)
{
	if (s->sgl) {
		*runs += s->sgl->runs;
		*overlaps += s->sgl->overlaps;
	}
}
