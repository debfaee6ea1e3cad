/*
 * sim_faults.c — the random fault schedule of a run. Faults are drawn up
 * front from the run's PRNG (so the schedule is part of the seed) inside
 * [2 s, duration - quiet]; at the end of that window every partition heals
 * and every downed node restarts (new instance nonce, memory lost), so the
 * quiet tail must show convergence.
 *
 * Kinds: crash (restart 0.5-5 s later), pause (0.2-4 s: a stopped process
 * whose datagrams and timers run late), symmetric partition into two random
 * halves (1-8 s; --partition-max-ms raises the 8), one-way partition
 * (1-8 s), graceful leave, a node started
 * from a copy of another's home (duplicate id: started 1 s after the
 * cluster has converged in the quiet tail, when the original is live in
 * every table, so it must be refused; if the original were down somewhere
 * the copy could legitimately take the id), per-node
 * clock drift up to +-1%. At least one node always stays up and unpaused.
 */
#include "sim.h"

static uint32_t usable(const struct sim *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->o.nodes; i++)
		n += s->node[i].up && !s->node[i].paused;
	return n;
}

void sim_schedule_faults(struct sim *s)
{
	uint64_t start = 2000000, end;
	unsigned kinds[8], n_kinds = 0;

	if (s->o.duration_ms * 1000 > s->o.quiet_ms * 1000 + start)
		end = s->o.duration_ms * 1000 - s->o.quiet_ms * 1000;
	else
		end = start;
	s->faults_end_us = end;
	sim_push(s, end, SIM_EV_FAULT, FK_END, 0, 0, NULL);
	if (s->o.faults & SIM_F_DRIFT)
		for (uint32_t i = 0; i < s->o.nodes; i++)
			s->node[i].drift = (sim_unit(&s->rng) * 2.0 - 1.0) * 0.01;
	if (s->o.faults & SIM_F_CRASH)
		kinds[n_kinds++] = FK_CRASH;
	if (s->o.faults & SIM_F_PAUSE)
		kinds[n_kinds++] = FK_PAUSE;
	if (s->o.faults & SIM_F_PARTITION)
		kinds[n_kinds++] = FK_PARTITION;
	if (s->o.faults & SIM_F_ONEWAY)
		kinds[n_kinds++] = FK_ONEWAY;
	if (s->o.faults & SIM_F_LEAVE)
		kinds[n_kinds++] = FK_LEAVE;
	if (!n_kinds)
		return;
	for (uint64_t t = start; t < end;
	     t += 500000 + sim_below(&s->rng, 2500000)) {
		unsigned k = kinds[sim_below(&s->rng, n_kinds)];

		sim_push(s, t, SIM_EV_FAULT, k, 0,
			 sim_below(&s->rng, s->o.nodes), NULL);
	}
}

static void split(struct sim *s, bool oneway)
{
	uint64_t mask = 0;

	for (uint32_t i = 0; i < s->n_nodes; i++) {
		s->node[i].group = sim_below(&s->rng, 2);
		mask |= (uint64_t)s->node[i].group << (i & 63);
	}
	s->cut[0][1] = 1;
	s->cut[1][0] = !oneway;
	s->part_since = s->now;
	sim_detect_partition(s, true);
	sim_trace(s, SIM_T_PARTITION, 0, 0, oneway, 0, mask);
	sim_push(s, s->now + 1000000 +
		 sim_below(&s->rng, s->o.partition_max_ms > 1000
				    ? (s->o.partition_max_ms - 1000) * 1000
				    : 7000000),
		 SIM_EV_FAULT, FK_HEAL, 0, 0, NULL);
}

void sim_apply_fault(struct sim *s, uint32_t kind, uint32_t arg)
{
	struct sim_node *n = arg < s->n_nodes ? &s->node[arg] : NULL;

	switch (kind) {
	case FK_CRASH:
		if (n->up && !n->paused && usable(s) > 1) {
			sim_node_crash(s, arg);
			sim_push(s, s->now + 500000 + sim_below(&s->rng, 4500000),
				 SIM_EV_FAULT, FK_RESTART, 0, arg, NULL);
		}
		break;
	case FK_RESTART:
		if (!n->up && s->now < s->faults_end_us)
			sim_node_start(s, arg, false);
		break;
	case FK_PAUSE:
		if (n->up && !n->paused && usable(s) > 1) {
			uint64_t until = s->now + 200000 + sim_below(&s->rng, 3800000);

			sim_node_pause(s, arg, until);
			sim_push(s, until, SIM_EV_FAULT, FK_RESUME, 0, arg, NULL);
		}
		break;
	case FK_RESUME:
		if (n->paused) {
			n->paused = false;
			sim_trace(s, SIM_T_RESUME, arg, 0, 0, 0, 0);
		}
		break;
	case FK_PARTITION:
	case FK_ONEWAY:
		if (!s->cut[0][1] && !s->cut[1][0])
			split(s, kind == FK_ONEWAY);
		break;
	case FK_HEAL:
		sim_heal(s);
		break;
	case FK_LEAVE:
		if (n->up && !n->paused && usable(s) > 1)
			sim_node_leave(s, arg);
		break;
	case FK_DUPID: {
		uint32_t of = arg;

		/* Leave it 5 s to be refused before the run ends. */
		if (s->now + 5000000 >= s->o.duration_ms * 1000)
			break;
		if (!n->up || n->paused || !sim_known_alive(s, of)) {
			/* Not yet live in every table: try again soon. */
			sim_push(s, s->now + 200000, SIM_EV_FAULT, FK_DUPID, 0,
				 arg, NULL);
			break;
		}
		sim_add_dup_node(s, of);
		break;
	}
	case FK_END:
		sim_heal(s);
		for (uint32_t i = 0; i < s->o.nodes; i++)
			if (!s->node[i].up)
				sim_node_start(s, i, false);
		break;
	}
}
