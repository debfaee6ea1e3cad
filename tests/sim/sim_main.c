/*
 * sim_main.c — weft-sim, the command line of the deterministic simulator.
 *
 *   weft-sim [--nodes N] [--seed S] [--duration-ms T] [--quiet-ms Q]
 *            [--loss P] [--dup P] [--reorder P] [--latency-us U]
 *            [--jitter-us J] [--faults LIST] [--discovery] [--trace]
 *            [--runs K] [--nodes-max M]
 *            [--data [--quorum] [--strict-copies] [--write-ms W]
 *             [--write-start-ms S] [--write-end-ms E] [--write-converged]]
 *            [--partition-max-ms P] [--msg [--msg-ms M] [--msg-converged]]
 *            [--sgl] [--sess]
 *   weft-sim --scale [--seed S] [--sizes 10,100,1000]
 *   weft-sim --data-scale [--seed S] [--sizes 10,100,1000]
 *
 * --data adds the data layer (sim_data.c: client writes, replication,
 * state transfer by the real planner, acknowledged-write invariants);
 * --quorum runs it with --partition-handling quorum (the real quorum rule).
 * --msg adds the messaging layer (sim_msg*.c: queues and topics over the
 * real msg/ state machines, replication, state transfer, consumers; its
 * invariants in sim_msg_check.c).
 * --sgl adds the singleton layer (sim_sgl*.c: the real ctl_singleton.c
 * machines over a linearizable claim store behind the simulated network;
 * invariants in sim_sgl_check.c).
 * --sess adds the sessions layer (sim_sess*.c: the real sess/ module on every
 * node life, replication, read-through, expiry passes, visitors; invariants
 * in sim_sess_client.c). --msg, --sgl, --sess and --data exclude each other.
 *
 * LIST is a comma list of crash,pause,partition,oneway,drift,leave,dupid,
 * all, none. --runs K runs seeds S..S+K-1; with --nodes-max M each run draws
 * its node count in [N, M] from its seed. A failing run prints its seed, the
 * exact command that replays it alone, and the last 200 events; exit 1.
 * The last line sums the runs for tests/sim/run:
 *   stats runs=K failed=F events=E nodes_max=M detections=D false_downs=X
 *         excused_downs=Y detect_ms=MS:COUNT,...   (or detect_ms=-)
 *         acked=A                                  (acknowledged writes)
 *         msg_acked=P msg_delivered=D msg_dups=U   (--msg: acknowledged
 *                                                   publishes, deliveries
 *                                                   to consumers, repeats)
 *         sgl_runs=R sgl_overlaps=O                (--sgl: singleton runs
 *                                                   started, and those that
 *                                                   began while another run
 *                                                   of the name went on)
 *         sess_runs=R sess_failed=F sess_acked=A  (--sess: runs, failed runs,
 *                                                   acknowledged session ops)
 * detect_ms is the histogram of detection samples in whole ms (sim_detect.c;
 * samples of 65535 ms or more fall in the last bucket).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: weft-sim [--nodes N] [--seed S] [--duration-ms T] "
		"[--quiet-ms Q]\n"
		"                [--loss P] [--dup P] [--reorder P] "
		"[--latency-us U] [--jitter-us J]\n"
		"                [--faults crash,pause,partition,oneway,drift,"
		"leave,dupid|all|none]\n"
		"                [--discovery] [--trace] [--runs K] "
		"[--nodes-max M]\n"
		"                [--data [--quorum] [--write-ms W]] "
		"[--partition-max-ms P]\n"
		"                [--msg [--msg-ms M] [--msg-converged]] [--sgl] [--sess]\n"
		"       weft-sim --scale [--seed S] [--sizes 10,100,1000]\n"
		"       weft-sim --data-scale [--seed S] [--sizes 10,100,1000]\n");
	exit(2);
}

static unsigned parse_faults(const char *arg)
{
	static const struct { const char *name; unsigned bit; } f[] = {
		{ "crash", SIM_F_CRASH }, { "pause", SIM_F_PAUSE },
		{ "partition", SIM_F_PARTITION }, { "oneway", SIM_F_ONEWAY },
		{ "drift", SIM_F_DRIFT }, { "leave", SIM_F_LEAVE },
		{ "dupid", SIM_F_DUPID }, { "all", SIM_F_ALL }, { "none", 0 },
	};
	unsigned bits = 0;
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned i;

		for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			if (!strcmp(tok, f[i].name))
				break;
		if (i == sizeof(f) / sizeof(f[0])) {
			fprintf(stderr, "weft-sim: unknown fault '%s'\n", tok);
			usage();
		}
		bits |= f[i].bit;
	}
	return bits;
}

static void faults_str(unsigned bits, char *buf, size_t n)
{
	static const char *names[] = {
		"crash", "pause", "partition", "oneway", "drift", "leave", "dupid",
	};
	size_t off = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < 7; i++)
		if (bits & (1u << i))
			off += (size_t)snprintf(buf + off, n - off, "%s%s",
						off ? "," : "", names[i]);
	if (!off)
		snprintf(buf, n, "none");
}

static const char *prog = "weft-sim";

#define HIST_MS 65536u

/* Sums over the runs of one invocation. */
struct totals {
	uint64_t events, detections, false_downs, excused_downs, acked;
	uint64_t msg_acked, msg_delivered, msg_dups;
	uint64_t sgl_runs, sgl_overlaps;
	uint64_t sess_runs, sess_failed, sess_acked;
	uint32_t nodes_max;
	uint64_t hist[HIST_MS];     /* detection samples per whole ms */
};

static void add_totals(struct totals *t, const struct sim *s, int failed)
{
	if (s->sess)
		t->sess_failed += failed != 0;
	sim_sess_totals(s, &t->sess_runs, &t->sess_acked);
	t->events += s->events_run;
	t->acked += sim_data_acked(s);
	sim_msg_totals(s, &t->msg_acked, &t->msg_delivered, &t->msg_dups);
	sim_sgl_totals(s, &t->sgl_runs, &t->sgl_overlaps);
	t->false_downs += s->det.false_downs;
	t->excused_downs += s->det.excused_downs;
	t->detections += s->det.n_sample;
	t->nodes_max = s->o.nodes > t->nodes_max ? s->o.nodes : t->nodes_max;
	for (uint32_t k = 0; k < s->det.n_sample; k++)
		t->hist[s->det.sample_ms[k] < HIST_MS ? s->det.sample_ms[k]
						       : HIST_MS - 1]++;
}

static void print_totals(const struct totals *t, uint32_t runs, int failed)
{
	bool any = false;

	printf("stats runs=%u failed=%d events=%llu nodes_max=%u detections=%llu "
	       "false_downs=%llu excused_downs=%llu detect_ms=", runs, failed,
	       (unsigned long long)t->events, t->nodes_max,
	       (unsigned long long)t->detections,
	       (unsigned long long)t->false_downs,
	       (unsigned long long)t->excused_downs);
	for (uint32_t ms = 0; ms < HIST_MS; ms++)
		if (t->hist[ms]) {
			printf("%s%u:%llu", any ? "," : "", ms,
			       (unsigned long long)t->hist[ms]);
			any = true;
		}
	printf("%s acked=%llu msg_acked=%llu msg_delivered=%llu msg_dups=%llu "
	       "sgl_runs=%llu sgl_overlaps=%llu sess_runs=%llu sess_failed=%llu sess_acked=%llu\n",
	       any ? "" : "-", (unsigned long long)t->acked,
	       (unsigned long long)t->msg_acked, (unsigned long long)t->msg_delivered,
	       (unsigned long long)t->msg_dups, (unsigned long long)t->sgl_runs,
	       (unsigned long long)t->sgl_overlaps, (unsigned long long)t->sess_runs,
	       (unsigned long long)t->sess_failed, (unsigned long long)t->sess_acked);
}

static void replay_cmd(const struct sim_opts *o, char *buf, size_t n)
{
	char f[128], extra[160] = "";

	faults_str(o->faults, f, sizeof(f));
	if (o->data && o->write_ms != 10)
		snprintf(extra, sizeof(extra), " --write-ms %u", o->write_ms);
	if (o->data && o->write_start_ms != 1000)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			 " --write-start-ms %u", o->write_start_ms);
	if (o->data && o->write_end_ms)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			 " --write-end-ms %u", o->write_end_ms);
	if (o->partition_max_ms != 8000)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			 " --partition-max-ms %u", o->partition_max_ms);
	snprintf(buf, n,
		 "%s --nodes %u --seed %llu --duration-ms %llu "
		 "--quiet-ms %llu --loss %g --dup %g --reorder %g "
		 "--latency-us %u --jitter-us %u --faults %s%s%s%s%s",
		 prog, o->nodes, (unsigned long long)o->seed,
		 (unsigned long long)o->duration_ms,
		 (unsigned long long)o->quiet_ms, o->loss, o->dup, o->reorder,
		 o->lat_us, o->jitter_us, f, o->discovery ? " --discovery" : "",
		 o->data ? " --data" : "", o->quorum ? " --quorum" : "", extra);
	if (o->strict_copies)
		snprintf(buf + strlen(buf), n - strlen(buf), " --strict-copies");
	if (o->write_converged)
		snprintf(buf + strlen(buf), n - strlen(buf), " --write-converged");
	if (o->msg)
		snprintf(buf + strlen(buf), n - strlen(buf), " --msg");
	if (o->msg_converged)
		snprintf(buf + strlen(buf), n - strlen(buf), " --msg-converged");
	if (o->sgl)
		snprintf(buf + strlen(buf), n - strlen(buf), " --sgl");
	if (o->sess)
		snprintf(buf + strlen(buf), n - strlen(buf), " --sess");
	if (o->msg && o->msg_ms != 10)
		snprintf(buf + strlen(buf), n - strlen(buf), " --msg-ms %u", o->msg_ms);
}

/* One run, its measurements added to t; 0 if every invariant held. */
static int run_one(const struct sim_opts *o, struct totals *t)
{
	struct sim *s = sim_create(o);
	char replay[1024];
	int rc = 0;

	replay_cmd(o, replay, sizeof(replay));
	if (!s || (o->msg && sim_msg_create(s) != 0) ||
	    (o->sgl && sim_sgl_create(s) != 0) || (o->sess && sim_sess_create(s) != 0)) {
		fprintf(stderr, "weft-sim: cannot create the world\n");
		if (s) {
			sim_msg_destroy(s);
			sim_sgl_destroy(s);
			sim_sess_destroy(s);
		}
		sim_destroy(s);
		return 1;
	}
	sim_schedule_faults(s);
	sim_node_start(s, 0, true);
	for (uint32_t i = 1; i < o->nodes; i++)
		sim_push(s, 100000 + sim_below(&s->rng, 1000000), SIM_EV_FAULT,
			 FK_RESTART, 0, i, NULL);
	if (o->msg)
		sim_msg_run_until(s, o->duration_ms * 1000);
	else if (o->sgl)
		sim_sgl_run_until(s, o->duration_ms * 1000);
	else if (o->sess)
		sim_sess_run_until(s, o->duration_ms * 1000);
	else
		sim_run_until(s, o->duration_ms * 1000);
	if (!s->failed && !s->converged_at)
		sim_fail(s, "no convergence by the end (faults stopped at "
			 "%.1fs): live nodes do not share one view of exactly "
			 "the live nodes with one coordinator",
			 (double)s->faults_end_us / 1e6);
	for (uint32_t d = o->nodes; d < s->n_nodes && !s->failed; d++)
		if (!s->node[d].refused)
			sim_fail(s, "duplicate-id node %u was not refused", d);
	sim_data_end(s);
	if (o->msg)
		sim_mcheck_end(s);
	if (s->failed) {
		if (o->msg)
			sim_msg_dump(s, stdout, replay);
		else if (o->sgl)
			sim_sgl_dump(s, stdout, replay);
		else if (o->sess)
			sim_sess_dump(s, stdout, replay);
		else
			sim_dump(s, stdout, replay);
		rc = 1;
	} else {
		char data[512], msg[512], sgl[256], sess[512];

		sim_data_summary(s, data, sizeof(data));
		sim_msg_summary(s, msg, sizeof(msg));
		sim_sgl_summary(s, sgl, sizeof(sgl));
		sim_sess_summary(s, sess, sizeof(sess));
		printf("ok seed=%llu nodes=%u: converged %.2fs after faults "
		       "stopped; %llu datagrams (%llu dropped), %llu events%s%s%s%s\n",
		       (unsigned long long)o->seed, o->nodes,
		       (double)(s->converged_at - s->faults_end_us) / 1e6,
		       (unsigned long long)s->msgs_sent,
		       (unsigned long long)s->msgs_dropped,
		       (unsigned long long)s->events_run, data, msg, sgl, sess);
	}
	add_totals(t, s, rc);
	sim_msg_destroy(s);
	sim_sgl_destroy(s);
	sim_sess_destroy(s);
	sim_destroy(s);
	return rc;
}

static unsigned parse_sizes(const char *arg, uint32_t *out, unsigned max)
{
	unsigned n = 0;
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *tok = strtok_r(buf, ",", &save); tok && n < max;
	     tok = strtok_r(NULL, ",", &save))
		out[n++] = (uint32_t)strtoul(tok, NULL, 10);
	return n;
}

int main(int argc, char **argv)
{
	struct sim_opts o = {
		.nodes = 10, .seed = 1, .duration_ms = 60000, .quiet_ms = 35000,
		.loss = 0.01, .dup = 0.01, .reorder = 0.02, .lat_us = 200,
		.jitter_us = 300, .faults = SIM_F_ALL, .write_ms = 10,
		.write_start_ms = 1000,
		.partition_max_ms = 8000, .msg_ms = 10,
	};
	uint32_t runs = 1, nodes_max = 0, sizes[8] = { 10, 100, 1000 };
	unsigned n_sizes = 3;
	bool scale = false, data_scale = false;
	int failed = 0;
	struct totals *tot;

	prog = argv[0];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--trace")) { o.trace = true; continue; }
		if (!strcmp(a, "--discovery")) { o.discovery = true; continue; }
		if (!strcmp(a, "--scale")) { scale = true; continue; }
		if (!strcmp(a, "--data-scale")) { data_scale = true; continue; }
		if (!strcmp(a, "--data")) { o.data = true; continue; }
		if (!strcmp(a, "--quorum")) { o.quorum = true; continue; }
		if (!strcmp(a, "--strict-copies")) { o.strict_copies = true; continue; }
		if (!strcmp(a, "--write-converged")) { o.write_converged = true; continue; }
		if (!strcmp(a, "--msg")) { o.msg = true; continue; }
		if (!strcmp(a, "--msg-converged")) { o.msg_converged = true; continue; }
		if (!strcmp(a, "--sgl")) { o.sgl = true; continue; }
		if (!strcmp(a, "--sess")) { o.sess = true; continue; }
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--nodes")) o.nodes = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--nodes-max")) nodes_max = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--runs")) runs = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--duration-ms")) o.duration_ms = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--quiet-ms")) o.quiet_ms = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--loss")) o.loss = strtod(v, NULL);
		else if (!strcmp(a, "--dup")) o.dup = strtod(v, NULL);
		else if (!strcmp(a, "--reorder")) o.reorder = strtod(v, NULL);
		else if (!strcmp(a, "--latency-us")) o.lat_us = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--jitter-us")) o.jitter_us = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--faults")) o.faults = parse_faults(v);
		else if (!strcmp(a, "--sizes")) n_sizes = parse_sizes(v, sizes, 8);
		else if (!strcmp(a, "--write-ms")) o.write_ms = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--write-start-ms")) o.write_start_ms = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--write-end-ms")) o.write_end_ms = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--partition-max-ms")) o.partition_max_ms = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--msg-ms")) o.msg_ms = (uint32_t)strtoul(v, NULL, 10);
		else usage();
	}
	if (scale)
		return sim_scale(o.seed, sizes, n_sizes) ? 1 : 0;
	if (data_scale)
		return sim_data_scale(o.seed, sizes, n_sizes) ? 1 : 0;
	if (o.nodes < 1 || o.nodes > SIM_MAX_NODES || o.loss < 0 || o.loss >= 1 ||
	    o.dup < 0 || o.dup >= 1 || o.reorder < 0 || o.reorder > 1 ||
	    runs < 1 || (nodes_max && nodes_max < o.nodes) ||
	    o.write_ms < 1 || o.partition_max_ms < 1000 ||
	    ((o.quorum || o.strict_copies || o.write_converged) && !o.data) ||
	    nodes_max > SIM_MAX_NODES || o.msg_ms < 1 ||
	    (o.msg && (o.nodes > 64 || nodes_max > 64)) || (o.msg_converged && !o.msg) ||
	    (o.sgl && (o.msg || o.data || o.nodes > 64 || nodes_max > 64)) ||
	    (o.sess && (o.msg || o.data || o.sgl || o.nodes > 64 || nodes_max > 64)))
		usage();
	tot = calloc(1, sizeof(*tot));
	if (!tot) {
		fprintf(stderr, "weft-sim: out of memory\n");
		return 1;
	}
	for (uint32_t r = 0; r < runs; r++) {
		struct sim_opts one = o;
		struct sim_rng pick;

		one.seed = o.seed + r;
		if (nodes_max) {
			sim_rng_seed(&pick, one.seed);
			one.nodes = o.nodes + sim_below(&pick, nodes_max - o.nodes + 1);
		}
		failed += run_one(&one, tot);
	}
	if (runs > 1)
		printf("%u runs, %d failed\n", runs, failed);
	print_totals(tot, runs, failed);
	free(tot);
	return failed ? 1 : 0;
}
