/*
 * sim_dcheck.c — the invariants of the simulator's data layer (--data) and
 * its trace and summary output. The model they read (keys, holders,
 * exposure) is kept by sim_data.c; see sim_data.h.
 *
 * Invariants (any break fails the run with seed, replay and trace):
 *  (a) per acknowledged key: whenever its last live copy goes (a crash, a
 *      process exit, a drop by state transfer), at least r holder crashes
 *      happened since the key was last on r live nodes, r = the copies its
 *      primary made (itself + the targets it first sent to; with
 *      --strict-copies, the owners in its table whose life is really up);
 *      a drop never removes the last copy. Checked at each such event and,
 *      for every acknowledged key, at every 100 ms check.
 *  (b) at the end: every acknowledged key not lost as (a) allows is held,
 *      with its version, by every owner of its segment in the final view.
 *  (c) quorum mode: a write accepted at least SIM_QUORUM_SETTLE_US into a
 *      partition is not acknowledged by (c1) a node whose side holds at
 *      most half of the last view all live nodes agreed on, when no node
 *      crashed, started or exited since that agreement; (c2) nodes of both
 *      sides of one partition.
 *  (d) per node, held writes <= SIM_DHOLDS (checked every 100 ms; the
 *      state-transfer window is bounded by construction).
 */
#include <stdlib.h>
#include <string.h>

#include "sim_data.h"

void sim_data_print(FILE *f, const struct sim_trace_rec *t)
{
	static const char *names[] = {
		"accept", "ACKED", "refuse NO_QUORUM", "refuse NOT_OWNER",
		"gave up (BUSY)", "retarget", "view", "transfer done",
		"quorum", "LOST",
	};
	const char *nm = t->type < sizeof(names) / sizeof(names[0])
				 ? names[t->type] : "?";

	switch (t->type) {
	case SIM_DT_VIEW:
		fprintf(f, "data    view %llu: %u moves to send\n",
			(unsigned long long)t->arg, t->peer);
		break;
	case SIM_DT_JOB_DONE:
		fprintf(f, "data    transfer done (%u failed dests), %llu "
			"entries dropped\n", t->peer, (unsigned long long)t->arg);
		break;
	case SIM_DT_QUORUM:
		fprintf(f, "data    quorum %s\n", t->arg ? "LOST" : "regained");
		break;
	case SIM_DT_RETARGET:
		fprintf(f, "data    retarget key %llu -> n%u\n",
			(unsigned long long)t->arg, t->peer);
		break;
	default:
		fprintf(f, "data    %s key %llu (seg %u)\n", nm,
			(unsigned long long)t->arg, t->peer);
		break;
	}
}

void sim_dlost(struct sim *s, uint32_t key, uint32_t node, bool by_drop)
{
	struct sim_dkey *k = &s->data->key[key];

	if (!k->acked)
		return;
	if (by_drop || k->exposure < k->r)
		sim_fail(s, "acknowledged key %u (seg %u, version %llx, accepted "
			 "by n%u at %.6fs) lost: its last copy went %s n%u after "
			 "%u holder crash(es) since it was last on %u live "
			 "nodes (invariant a)", key, k->seg,
			 (unsigned long long)k->ver, k->primary,
			 (double)k->accepted_us / 1e6,
			 by_drop ? "by a state-transfer drop on" : "with",
			 node, k->exposure, k->r);
	k->lost = true;
	s->data->lost_excused++;
	sim_dtrace(s, SIM_DT_LOST, node, k->seg, key);
}

/* Invariant (c) at the acknowledgement of key k by node (quorum mode): the
 * sides are the partition groups of the simulated network. */
void sim_dcheck_quorum_ack(struct sim *s, uint32_t node, const struct sim_dkey *k)
{
	struct sim_data *D = s->data;
	uint32_t g = s->node[node].group, same = 0;

	if (!s->o.quorum || !s->part_since ||
	    k->accepted_us < s->part_since + SIM_QUORUM_SETTLE_US)
		return;
	if (D->n_agreed && D->agreed_epoch == s->life_epoch &&
	    D->agreed_at < s->part_since) {
		for (uint32_t a = 0; a < D->n_agreed; a++)
			same += s->node[D->agreed[a]].group == g;
		if (2 * same <= D->n_agreed)
			sim_fail(s, "quorum mode: n%u acknowledged key %u while "
				 "its side held %u of the %u members of the last "
				 "agreed view (partition since %.6fs; invariant c1)",
				 node, (uint32_t)(k - D->key), same, D->n_agreed,
				 (double)s->part_since / 1e6);
	}
	if (D->episode != s->part_since) {
		D->episode = s->part_since;
		D->side_acked = 0;
	}
	if (g < 2) {
		D->side_acked |= (uint8_t)(1u << g);
		D->side_key[g] = (uint32_t)(k - D->key);
	}
	if (D->side_acked == 3)
		sim_fail(s, "quorum mode: both sides of the partition (since "
			 "%.6fs) acknowledged writes: key %u on side 0, key %u "
			 "on side 1, the last by n%u (invariant c2)",
			 (double)s->part_since / 1e6, D->side_key[0],
			 D->side_key[1], node);
}

/* ---- checks ---- */

/* Every acknowledged key not excused-lost is on every owner of its segment
 * in the final view t (of node `at`); returns the first key that is not, or
 * SIM_NONE. *owner_out: that owner. */
static uint32_t final_missing(const struct sim *s, uint32_t at, uint32_t *owner_out)
{
	const struct sim_data *D = s->data;
	const struct sim_dtopo *t = &D->n[at].cur;

	for (uint32_t key = 0; key < D->n_keys; key++) {
		const struct sim_dkey *k = &D->key[key];

		if (!k->acked || k->lost)
			continue;
		for (uint32_t o = 0; o < t->t.owners; o++) {
			uint32_t node = sim_dmember_node(s,
				&t->m[t->seg[k->seg * t->t.owners + o]]);

			if (node == SIM_NONE || D->n[node].ver[key] < k->ver) {
				*owner_out = node;
				return key;
			}
		}
	}
	return SIM_NONE;
}

static void record_agreed(struct sim *s)
{
	struct sim_data *D = s->data;

	D->n_agreed = 0;
	for (uint32_t i = 0; i < s->o.nodes; i++)
		if (s->node[i].up && !s->node[i].refused)
			D->agreed[D->n_agreed++] = i;
	D->agreed_epoch = s->life_epoch;
	D->agreed_at = s->now;
}

void sim_data_check(struct sim *s)
{
	struct sim_data *D = s->data;
	uint32_t owner, first = SIM_NONE;

	if (!D)
		return;
	for (uint32_t i = 0; i < s->o.nodes; i++)
		if (D->n[i].n_hold > SIM_DHOLDS)
			sim_fail(s, "n%u holds %u writes, above %u (invariant d)",
				 i, D->n[i].n_hold, SIM_DHOLDS);
	for (uint32_t key = 0; key < D->n_keys; key++)
		if (D->key[key].acked && !D->key[key].holders && !D->key[key].lost)
			sim_fail(s, "acknowledged key %u held by no live node "
				 "(invariant a)", key);
	if (!s->part_since && D->agreed_epoch != s->life_epoch &&
	    sim_converged(s))
		record_agreed(s);
	if (!D->formed && s->now >= D->next_write_us &&
	    D->agreed_epoch == s->life_epoch && D->n_agreed == s->o.nodes) {
		D->formed = true;          /* --write-converged: writes start */
		D->next_write_us = s->now;
	}
	if (!s->converged_at || D->data_converged_at || s->now < D->writes_end_us)
		return;
	for (uint32_t i = 0; i < s->o.nodes && first == SIM_NONE; i++)
		if (s->node[i].up && D->n[i].in_view)
			first = i;
	if (first != SIM_NONE && final_missing(s, first, &owner) == SIM_NONE)
		D->data_converged_at = s->now;
}

void sim_data_end(struct sim *s)
{
	struct sim_data *D = s->data;
	uint32_t at = SIM_NONE, owner = SIM_NONE, key;

	if (!D || s->failed)
		return;
	/* The bookkeeping itself: recount every key's holders. */
	for (key = 0; key < D->n_keys; key++) {
		uint32_t c = 0;

		for (uint32_t i = 0; i < s->o.nodes; i++)
			c += D->n[i].live && D->n[i].ver[key] != 0;
		if (c != D->key[key].holders) {
			sim_fail(s, "simulator bookkeeping: key %u has %u holders, "
				 "counted %u", key, c, D->key[key].holders);
			return;
		}
	}
	for (uint32_t i = 0; i < s->o.nodes && at == SIM_NONE; i++)
		if (s->node[i].up && D->n[i].in_view)
			at = i;
	if (at == SIM_NONE)
		return;
	key = final_missing(s, at, &owner);
	if (key != SIM_NONE)
		sim_fail(s, "acknowledged key %u (seg %u, accepted by n%u at "
			 "%.6fs) is not on n%u, an owner in the final view %llu, "
			 "%.1fs after writes stopped (invariant b)", key,
			 D->key[key].seg, D->key[key].primary,
			 (double)D->key[key].accepted_us / 1e6, owner,
			 (unsigned long long)D->n[at].cur.t.view,
			 (double)(s->now - D->writes_end_us) / 1e6);
}

uint64_t sim_data_acked(const struct sim *s)
{
	return s->data ? s->data->acked : 0;
}

void sim_data_summary(const struct sim *s, char *buf, size_t n)
{
	const struct sim_data *D = s->data;
	uint64_t e = 0, b = 0, xm = 0, rm = 0;

	if (!D) {
		buf[0] = 0;
		return;
	}
	for (uint32_t i = 0; i < s->o.nodes; i++) {
		e += D->n[i].xfer_entries;
		b += D->n[i].xfer_bytes;
		xm += D->n[i].xfer_msgs;
		rm += D->n[i].repl_msgs;
	}
	snprintf(buf, n, "; data: %llu writes, %llu acked, %llu refused "
		 "NO_QUORUM, %llu NOT_OWNER, %llu BUSY (co-owner unknown), %llu gave up, %llu fewer copies "
		 "than up owners, %llu lost (excused), "
		 "REPL %.1f and transfer %.1f messages, %.1f entries, %.0f B per "
		 "node, every copy in place "
		 "%.1fs after writes stopped",
		 (unsigned long long)D->writes, (unsigned long long)D->acked,
		 (unsigned long long)D->refused_nq,
		 (unsigned long long)D->not_owner,
		 (unsigned long long)D->refused_busy,
		 (unsigned long long)D->gave_up,
		 (unsigned long long)D->degraded,
		 (unsigned long long)D->lost_excused,
		 (double)rm / s->o.nodes, (double)xm / s->o.nodes,
		 (double)e / s->o.nodes, (double)b / s->o.nodes,
		 D->data_converged_at
			 ? (double)(D->data_converged_at - D->writes_end_us) / 1e6
			 : -1.0);
}
