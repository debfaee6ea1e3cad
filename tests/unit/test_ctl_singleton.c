/*
 * test_ctl_singleton.c — singleton placement (control/ctl_singleton.c):
 * a little in-test cluster of 3-5 state machines sharing one in-memory
 * claim store with real CAS semantics (versions), scripted views, crashes
 * (the machine and its running daemons vanish; its store operations already
 * sent still land), restarts, undeploys, partitions and store faults.
 *
 * After every event the harness checks: a (name, epoch) is started once in
 * the whole run (so at most one node per fencing epoch); every HELD write
 * raises the epoch; only hosting nodes start; nothing starts without quorum;
 * and, in healthy runs (views accurate and shared, no partition), at most
 * one node runs a singleton at any moment (from START until the glue
 * reports the daemon stopped). Time is virtual; every run is bounded.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "ctl_singleton.h"

#define NN 5
#define NS 3
#define NPEND 1024
#define NREC 8192
#define STEP 250u
#define POLL 1000u
#define UNIX0 1790000000000ull

static const char *const NAMES[NS] = {"app/counter", "app/mailer", "web/sweeper"};

struct node {
	struct weft_ctl_sgl *m;
	struct weft_swim_id id;
	bool started, up, left;
	unsigned life;
	int side;
	bool hosts[NS];
	bool running[NS], stopping[NS];
	uint64_t run_epoch[NS], stop_due[NS], start_ms[NS];
	unsigned starts[NS];
	uint64_t next_ms;
	struct weft_ctl_sgl_member mem[NN];
	struct weft_ctl_sgl_view v;
};

struct pend {
	int node;
	unsigned life;
	uint64_t due;
	struct weft_ctl_sgl_action a;
};

struct cl {
	unsigned seed;
	int n;
	struct node nd[NN];
	struct weft_ctl_sgl_claim store[NS];
	uint64_t version;
	struct pend p[NPEND];
	int np;
	uint64_t now;
	uint64_t op_delay, stop_delay; /* maxima; random in [0, max] */
	bool op_fixed;                 /* store ops take exactly op_delay */
	uint64_t poll_ms;
	unsigned fail_pct;
	uint64_t rng;
	bool healthy, quorum_mode;
	uint64_t view_ctr[2];
	struct { int s; uint64_t epoch; int node; } rec[NREC];
	int nrec;
	unsigned cas_ok, cas_fail;
	struct weft_ctl_sgl_action act[2 * NS];
};

#define VIOLATION(c, ...)                                                             \
	do {                                                                          \
		print_error("seed %u t=%llu: ", (c)->seed, (unsigned long long)(c)->now); \
		fail_msg(__VA_ARGS__);                                                \
	} while (0)

static uint32_t rnd(struct cl *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return (uint32_t)(c->rng >> 11);
}

static uint64_t rnd_upto(struct cl *c, uint64_t max)
{
	return max ? rnd(c) % (max + 1) : 0;
}

static struct weft_ctl_sgl_time tm(const struct cl *c)
{
	return (struct weft_ctl_sgl_time){.mono_ms = c->now, .unix_ms = UNIX0 + c->now};
}

static int sidx(const char *name)
{
	for (int s = 0; s < NS; s++)
		if (strcmp(NAMES[s], name) == 0)
			return s;
	return -1;
}

static struct weft_ctl_sgl_out out_of(struct cl *c)
{
	return (struct weft_ctl_sgl_out){.act = c->act, .cap = 2 * NS};
}

static int running_count(const struct cl *c, int s)
{
	int k = 0;
	for (int i = 0; i < c->n; i++)
		k += c->nd[i].up && c->nd[i].running[s];
	return k;
}

/* Performs node k's actions: store operations are queued (they land after
 * a delay, even if k crashes meanwhile); START/STOP drive the fake daemon. */
static void apply(struct cl *c, int k, const struct weft_ctl_sgl_out *out)
{
	struct node *nd = &c->nd[k];

	nd->next_ms = out->next_ms;
	for (uint32_t i = 0; i < out->n; i++) {
		const struct weft_ctl_sgl_action *a = &out->act[i];
		int s = sidx(a->name);
		assert_true(s >= 0);
		switch (a->kind) {
		case WEFT_CTL_SGL_READ:
		case WEFT_CTL_SGL_CAS:
		case WEFT_CTL_SGL_RELEASE:
			assert_true(c->np < NPEND);
			c->p[c->np++] = (struct pend){.node = k, .life = nd->life,
						      .due = c->now + (c->op_fixed ? c->op_delay : rnd_upto(c, c->op_delay)),
						      .a = *a};
			break;
		case WEFT_CTL_SGL_START:
			if (!nd->hosts[s])
				VIOLATION(c, "node %d starts %s it does not host", k, a->name);
			if (nd->running[s])
				VIOLATION(c, "node %d starts %s twice", k, a->name);
			if (nd->v.no_quorum)
				VIOLATION(c, "node %d starts %s without quorum", k, a->name);
			for (int r = 0; r < c->nrec; r++)
				if (c->rec[r].s == s && c->rec[r].epoch == a->epoch)
					VIOLATION(c, "%s epoch %llu run by node %d then node %d",
						  a->name, (unsigned long long)a->epoch,
						  c->rec[r].node, k);
			assert_true(c->nrec < NREC);
			c->rec[c->nrec].s = s;
			c->rec[c->nrec].epoch = a->epoch;
			c->rec[c->nrec++].node = k;
			if (c->healthy && running_count(c, s) != 0)
				VIOLATION(c, "node %d starts %s while another runs it", k, a->name);
			assert_int_equal(a->value.epoch, a->epoch);
			nd->running[s] = true;
			nd->run_epoch[s] = a->epoch;
			nd->start_ms[s] = c->now;
			nd->starts[s]++;
			break;
		case WEFT_CTL_SGL_STOP:
			if (!nd->running[s] || nd->stopping[s])
				VIOLATION(c, "node %d stops %s it does not run", k, a->name);
			nd->stopping[s] = true;
			nd->stop_due[s] = c->now + rnd_upto(c, c->stop_delay);
			break;
		}
	}
}

static void exec_op(struct cl *c, const struct pend *p)
{
	int s = sidx(p->a.name);
	struct weft_ctl_sgl_claim *st = &c->store[s];
	struct node *nd = &c->nd[p->node];
	bool reply = nd->up && nd->life == p->life;
	struct weft_ctl_sgl_out out = out_of(c);
	bool fault = c->fail_pct && rnd(c) % 100 < c->fail_pct;

	if (p->a.kind == WEFT_CTL_SGL_READ) {
		if (!reply)
			return;
		if (fault)
			assert_int_equal(weft_ctl_singletons_cas_done(nd->m, tm(c), p->a.name,
								      false, 0, &out), 0);
		else
			assert_int_equal(weft_ctl_singletons_claim(nd->m, tm(c), p->a.name, st,
								   &out), 0);
		apply(c, p->node, &out);
		return;
	}
	/* CAS or RELEASE; a fault either drops the write or loses the reply. */
	bool applied = st->version == p->a.expected && !(fault && rnd(c) % 2);
	if (applied) {
		const struct weft_ctl_sgl_claim *v = &p->a.value;
		if (v->kind == WEFT_CTL_SGL_HELD && st->kind != WEFT_CTL_SGL_ABSENT &&
		    v->epoch <= st->epoch)
			VIOLATION(c, "%s: epoch %llu does not exceed %llu", p->a.name,
				  (unsigned long long)v->epoch, (unsigned long long)st->epoch);
		if (v->kind == WEFT_CTL_SGL_RELEASED &&
		    (st->kind != WEFT_CTL_SGL_HELD || v->epoch != st->epoch))
			VIOLATION(c, "%s: release of a claim not held", p->a.name);
		*st = *v;
		st->version = ++c->version;
	}
	bool ok = applied && !fault;
	if (p->a.kind == WEFT_CTL_SGL_CAS)
		ok ? c->cas_ok++ : c->cas_fail++;
	if (!reply)
		return;
	assert_int_equal(weft_ctl_singletons_cas_done(nd->m, tm(c), p->a.name, ok,
						      ok ? st->version : 0, &out), 0);
	apply(c, p->node, &out);
}

static struct weft_swim_id nid(int k)
{
	struct weft_swim_id x;
	memset(&x, 0, sizeof(x));
	x.b[0] = (uint8_t)(0x40 + k * 29);
	x.b[15] = (uint8_t)(k + 1);
	return x;
}

/* Gives every running node its view: members of its side alive; crashed
 * nodes DEAD (LEFT after a shutdown); other sides DEAD. One view counter
 * per side (sides may reuse ids). */
static void publish(struct cl *c)
{
	int live[2] = {0, 0}, total = 0;

	for (int i = 0; i < c->n; i++) {
		total += c->nd[i].started;
		live[c->nd[i].side] += c->nd[i].up;
	}
	c->view_ctr[0]++;
	c->view_ctr[1]++;
	for (int k = 0; k < c->n; k++) {
		struct node *nd = &c->nd[k];
		uint32_t n = 0;
		if (!nd->up)
			continue;
		for (int j = 0; j < c->n; j++) {
			const struct node *o = &c->nd[j];
			if (!o->started)
				continue;
			nd->mem[n].id = o->id;
			nd->mem[n].state = !o->up ? (o->left ? WEFT_SWIM_LEFT : WEFT_SWIM_DEAD)
				: o->side != nd->side ? WEFT_SWIM_DEAD : WEFT_SWIM_ALIVE;
			n++;
		}
		nd->v = (struct weft_ctl_sgl_view){
			.id = c->view_ctr[nd->side], .members = nd->mem, .n = n,
			.no_quorum = c->quorum_mode && 2 * live[nd->side] <= total,
		};
		struct weft_ctl_sgl_out out = out_of(c);
		assert_int_equal(weft_ctl_singletons_view(nd->m, tm(c), &nd->v, &out), 0);
		apply(c, k, &out);
	}
}

static void boot(struct cl *c, int k)
{
	struct node *nd = &c->nd[k];
	struct weft_ctl_sgl_config cfg = {.self = nd->id, .max_singletons = NS,
					  .max_members = NN, .step_ms = STEP, .poll_ms = c->poll_ms};

	nd->m = weft_ctl_singletons_create(&cfg);
	assert_non_null(nd->m);
	nd->started = nd->up = true;
	nd->left = false;
	nd->life++;
	for (int s = 0; s < NS; s++) {
		if (!nd->hosts[s])
			continue;
		struct weft_ctl_sgl_out out = out_of(c);
		assert_int_equal(weft_ctl_singletons_host(nd->m, tm(c), NAMES[s], &out), 0);
		apply(c, k, &out);
	}
}

static void crash(struct cl *c, int k)
{
	struct node *nd = &c->nd[k];

	weft_ctl_singletons_destroy(nd->m);
	nd->m = NULL;
	nd->up = false;
	memset(nd->running, 0, sizeof(nd->running));
	memset(nd->stopping, 0, sizeof(nd->stopping));
}

static void check(struct cl *c)
{
	for (int s = 0; s < NS; s++)
		if (c->healthy && running_count(c, s) > 1)
			VIOLATION(c, "%s runs on %d nodes", NAMES[s], running_count(c, s));
}

/* Runs every event due up to `until` (virtual ms), checking after each. */
static void run(struct cl *c, uint64_t until)
{
	for (;;) {
		bool progress = true;
		for (unsigned guard = 0; progress; guard++) {
			assert_true(guard < 100000);
			progress = false;
			for (int i = 0; i < c->np; i++) {
				if (c->p[i].due > c->now)
					continue;
				struct pend p = c->p[i];
				memmove(&c->p[i], &c->p[i + 1], (size_t)(c->np - i - 1) * sizeof(p));
				c->np--;
				exec_op(c, &p);
				check(c);
				progress = true;
				break;
			}
			for (int k = 0; k < c->n && !progress; k++) {
				struct node *nd = &c->nd[k];
				struct weft_ctl_sgl_out out = out_of(c);
				if (!nd->up)
					continue;
				for (int s = 0; s < NS && !progress; s++) {
					if (!nd->stopping[s] || nd->stop_due[s] > c->now)
						continue;
					nd->running[s] = nd->stopping[s] = false;
					assert_int_equal(weft_ctl_singletons_stopped(
						nd->m, tm(c), NAMES[s], &out), 0);
					apply(c, k, &out);
					progress = true;
				}
				if (!progress && nd->next_ms <= c->now) {
					assert_int_equal(weft_ctl_singletons_tick(nd->m, tm(c), &out), 0);
					apply(c, k, &out);
					assert_true(nd->next_ms > c->now);
					progress = true;
				}
				check(c);
			}
		}
		uint64_t next = UINT64_MAX;
		for (int i = 0; i < c->np; i++)
			next = c->p[i].due < next ? c->p[i].due : next;
		for (int k = 0; k < c->n; k++) {
			if (!c->nd[k].up)
				continue;
			next = c->nd[k].next_ms < next ? c->nd[k].next_ms : next;
			for (int s = 0; s < NS; s++)
				if (c->nd[k].stopping[s] && c->nd[k].stop_due[s] < next)
					next = c->nd[k].stop_due[s];
		}
		if (next > until)
			break;
		c->now = next;
	}
	c->now = until;
}

static struct cl *cluster(int n, unsigned hosts_mask_per_node)
{
	struct cl *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->n = n;
	c->healthy = true;
	c->rng = 0x9e3779b97f4a7c15ull;
	c->now = 1000;
	c->poll_ms = POLL;
	for (int k = 0; k < n; k++) {
		c->nd[k].id = nid(k);
		for (int s = 0; s < NS; s++)
			c->nd[k].hosts[s] = (hosts_mask_per_node >> s) & 1u;
	}
	return c;
}

static void cluster_free(struct cl *c)
{
	for (int k = 0; k < c->n; k++)
		weft_ctl_singletons_destroy(c->nd[k].m);
	free(c);
}

static void boot_all(struct cl *c)
{
	for (int k = 0; k < c->n; k++)
		boot(c, k);
	publish(c);
}

/* The node running s (-1 if none; fails if several). */
static int runner(const struct cl *c, int s)
{
	int r = -1;
	for (int k = 0; k < c->n; k++) {
		if (c->nd[k].up && c->nd[k].running[s]) {
			assert_int_equal(r, -1);
			r = k;
		}
	}
	return r;
}

/* The hosting live node with the highest rendezvous score for s. */
static int best(const struct cl *c, int s, int excluded)
{
	uint8_t buf[64];
	size_t len = strlen(NAMES[s]);
	uint64_t top = 0;
	int b = -1;

	memcpy(buf, NAMES[s], len);
	for (int k = 0; k < c->n; k++) {
		if (k == excluded || !c->nd[k].up)
			continue;
		memcpy(buf + len, c->nd[k].id.b, 16);
		uint64_t sc = XXH3_64bits(buf, len + 16);
		if (b < 0 || sc > top) {
			top = sc;
			b = k;
		}
	}
	return b;
}

/* ---- Scripted scenarios ----------------------------------------------- */

/* First placement on the rank-0 node at once (zero-latency store), epoch =
 * view id; failover on a crash to the next rank-0 node with a higher epoch
 * as soon as the view shows the owner dead; no move back on rejoin. */
static void test_failover_and_no_move_back(void **state)
{
	(void)state;
	struct cl *c = cluster(3, 1u);
	boot_all(c);
	run(c, c->now);
	int o = runner(c, 0);
	assert_int_equal(o, best(c, 0, -1));
	assert_int_equal(c->nd[o].run_epoch[0], c->view_ctr[0]);
	uint64_t e1 = c->nd[o].run_epoch[0];
	run(c, c->now + 5000);
	assert_int_equal(runner(c, 0), o);
	assert_int_equal(c->nd[o].starts[0], 1); /* polls do not restart it */

	publish(c); /* two more views (member changes elsewhere): the */
	publish(c); /* next claim's epoch is the view id, not epoch + 1 */
	run(c, c->now + 100);
	assert_int_equal(runner(c, 0), o);
	crash(c, o);
	run(c, c->now + 1500); /* failure detection: the view still has it */
	assert_int_equal(runner(c, 0), -1);
	publish(c);
	uint64_t t_view = c->now;
	run(c, c->now);
	int o2 = runner(c, 0);
	assert_int_equal(o2, best(c, 0, o));
	assert_int_equal(c->nd[o2].start_ms[0], t_view);
	assert_true(c->nd[o2].run_epoch[0] > e1);
	assert_int_equal(c->nd[o2].run_epoch[0], c->view_ctr[0]);

	/* The old owner comes back (even if it would be the best node). */
	boot(c, o);
	publish(c);
	run(c, c->now + 10000);
	assert_int_equal(runner(c, 0), o2);
	assert_int_equal(c->nd[o].starts[0], 1); /* its first life only */
	assert_int_equal(c->nd[o2].starts[0], 1);
	struct weft_ctl_sgl_status st;
	assert_int_equal(weft_ctl_singletons_status(c->nd[o].m, 0, &st), 0);
	assert_int_equal(st.state, WEFT_CTL_SGL_IDLE);
	assert_true(st.claim.kind == WEFT_CTL_SGL_HELD);
	assert_memory_equal(st.claim.owner.b, c->nd[o2].id.b, 16);
	assert_int_equal(weft_ctl_singletons_status(c->nd[o2].m, 0, &st), 0);
	assert_int_equal(st.state, WEFT_CTL_SGL_RUNNING);
	assert_int_equal(st.epoch, c->nd[o2].run_epoch[0]);
	assert_int_equal(st.since_ms, UNIX0 + t_view);
	assert_int_equal(weft_ctl_singletons_status(c->nd[o2].m, 1, &st), -ENOENT);
	cluster_free(c);
}

/* The rank delay: with the rank-0 node not hosting, the rank-1 node claims
 * exactly one step after the view; non-hosting nodes never run it. */
static void test_rank_delay_and_hosting(void **state)
{
	(void)state;
	struct cl *c = cluster(4, 0u);
	for (int k = 0; k < 4; k++)
		c->nd[k].up = true; /* for best() */
	int b0 = best(c, 0, -1);
	int b1 = best(c, 0, b0);
	for (int k = 0; k < 4; k++)
		c->nd[k].up = false;
	c->nd[b1].hosts[0] = true;
	c->nd[(b1 + 1) % 4 == b0 ? (b1 + 2) % 4 : (b1 + 1) % 4].hosts[0] = true;
	boot_all(c);
	uint64_t t0 = c->now;
	run(c, t0 + STEP - 1);
	assert_int_equal(runner(c, 0), -1);
	run(c, t0 + STEP);
	assert_int_equal(runner(c, 0), b1);
	assert_int_equal(c->nd[b1].start_ms[0], t0 + STEP);
	run(c, c->now + 5000);
	/* The only other hosting node takes over when b1 dies. */
	crash(c, b1);
	publish(c);
	run(c, c->now + 2 * STEP + 1);
	int o = runner(c, 0);
	assert_true(o >= 0 && o != b1 && c->nd[o].hosts[0]);
	/* It dies too: nobody else hosts it, nobody runs it. */
	crash(c, o);
	publish(c);
	run(c, c->now + 10000);
	assert_int_equal(runner(c, 0), -1);
	for (int k = 0; k < 4; k++)
		if (!c->nd[k].hosts[0])
			assert_int_equal(c->nd[k].starts[0], 0);
	cluster_free(c);
}

/* Undeploy on the owner: stop, then (only once stopped) release; another
 * hosting node takes over after its next read. Undeploy everywhere: the
 * claim ends RELEASED and nothing runs. */
static void test_undeploy_hands_over(void **state)
{
	(void)state;
	struct cl *c = cluster(3, 1u);
	c->stop_delay = 300;
	boot_all(c);
	run(c, c->now + 100);
	int o = runner(c, 0);
	assert_true(o >= 0);
	uint64_t e1 = c->nd[o].run_epoch[0];
	struct weft_ctl_sgl_out out = out_of(c);
	c->nd[o].hosts[0] = false;
	assert_int_equal(weft_ctl_singletons_unhost(c->nd[o].m, tm(c), NAMES[0], &out), 0);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.act[0].kind, WEFT_CTL_SGL_STOP);
	apply(c, o, &out);
	struct weft_ctl_sgl_status st;
	assert_int_equal(weft_ctl_singletons_status(c->nd[o].m, 0, &st), 0);
	assert_int_equal(st.state, WEFT_CTL_SGL_STOPPING);
	run(c, c->now + 299);
	assert_true(c->store[0].kind == WEFT_CTL_SGL_HELD); /* not before stopped */
	run(c, c->now + POLL + 2 * STEP + 1);
	int o2 = runner(c, 0);
	assert_true(o2 >= 0 && o2 != o);
	assert_true(c->nd[o2].run_epoch[0] > e1);
	/* o forgot it */
	assert_int_equal(weft_ctl_singletons_status(c->nd[o].m, 0, &st), -ENOENT);

	for (int k = 0; k < 3; k++) {
		if (!c->nd[k].hosts[0])
			continue;
		c->nd[k].hosts[0] = false;
		out = out_of(c);
		assert_int_equal(weft_ctl_singletons_unhost(c->nd[k].m, tm(c), NAMES[0], &out), 0);
		apply(c, k, &out);
	}
	run(c, c->now + 5000);
	assert_int_equal(runner(c, 0), -1);
	assert_true(c->store[0].kind == WEFT_CTL_SGL_RELEASED);
	for (int k = 0; k < 3; k++)
		assert_true(weft_ctl_singletons_quiet(c->nd[k].m));
	cluster_free(c);
}

/* --partition-handling quorum: the owner cut off alone stops (without
 * releasing) and claims nothing; the majority takes over with a higher
 * epoch; after healing the old owner stays idle. */
static void test_quorum_loss_stops_minority(void **state)
{
	(void)state;
	struct cl *c = cluster(3, 1u);
	c->quorum_mode = true;
	boot_all(c);
	run(c, c->now + 100);
	int o = runner(c, 0);
	assert_true(o >= 0);
	uint64_t e1 = c->nd[o].run_epoch[0];
	c->healthy = false;
	c->nd[o].side = 1;
	publish(c);
	run(c, c->now);
	assert_true(c->nd[o].v.no_quorum);
	assert_false(c->nd[o].running[0]);
	int o2 = -1;
	for (int k = 0; k < 3; k++)
		if (k != o && c->nd[k].running[0])
			o2 = k;
	assert_true(o2 >= 0);
	assert_true(c->nd[o2].run_epoch[0] > e1);
	run(c, c->now + 10000);
	assert_int_equal(c->nd[o].starts[0], 1);

	c->nd[o].side = 0;
	c->healthy = true;
	publish(c);
	run(c, c->now + 10000);
	assert_int_equal(runner(c, 0), o2);
	assert_int_equal(c->nd[o2].starts[0], 1);
	cluster_free(c);
}

/* --partition-handling allow: the owner cut off alone keeps running (it
 * cannot tell), the other side takes over with a higher epoch, and the old
 * owner stops at its next read of the claim (within poll_ms), before the
 * partition heals, and does not claim it back (no flapping) while cut off
 * nor after healing. */
static void test_takeover_seen_by_poll(void **state)
{
	(void)state;
	struct cl *c = cluster(3, 1u);
	boot_all(c);
	run(c, c->now + 100);
	int o = runner(c, 0);
	assert_true(o >= 0);
	c->healthy = false;
	c->nd[o].side = 1;
	publish(c);
	uint64_t t_cut = c->now;
	run(c, c->now);
	assert_true(c->nd[o].running[0]); /* allow mode: no quorum rule */
	int o2 = -1;
	for (int k = 0; k < 3; k++)
		if (k != o && c->nd[k].running[0])
			o2 = k;
	assert_true(o2 >= 0);
	assert_true(c->nd[o2].run_epoch[0] > c->nd[o].run_epoch[0]);
	run(c, t_cut + POLL);
	assert_false(c->nd[o].running[0]);
	struct weft_ctl_sgl_status st;
	assert_int_equal(weft_ctl_singletons_status(c->nd[o].m, 0, &st), 0);
	assert_int_equal(st.state, WEFT_CTL_SGL_IDLE);
	assert_memory_equal(st.claim.owner.b, c->nd[o2].id.b, 16);
	/* No flapping while the views disagree: o yielded to o2. */
	run(c, c->now + 10000);
	assert_int_equal(c->nd[o].starts[0], 1);
	assert_int_equal(c->nd[o2].starts[0], 1);
	assert_true(c->nd[o2].running[0]);
	c->nd[o].side = 0;
	c->healthy = true;
	publish(c);
	run(c, c->now + 10000);
	assert_int_equal(runner(c, 0), o2);
	assert_int_equal(c->nd[o].starts[0], 1);
	cluster_free(c);
}

/* A paused owner (the others' views drop it; its own view still has
 * everyone alive): it stops at its next read and stays idle. */
static void test_paused_owner_stops(void **state)
{
	(void)state;
	struct cl *c = cluster(3, 1u);
	boot_all(c);
	run(c, c->now + 100);
	int o = runner(c, 0);
	assert_true(o >= 0);
	c->healthy = false;
	c->nd[o].up = false; /* others see it DEAD; it gets no view */
	publish(c);
	c->nd[o].up = true;
	uint64_t t_cut = c->now;
	run(c, c->now);
	int o2 = -1;
	for (int k = 0; k < 3; k++)
		if (k != o && c->nd[k].running[0])
			o2 = k;
	assert_true(o2 >= 0);
	run(c, t_cut + POLL);
	assert_false(c->nd[o].running[0]);
	run(c, c->now + 10000);
	assert_int_equal(c->nd[o].starts[0], 1);
	assert_true(c->nd[o2].running[0]);
	cluster_free(c);
}

/* Quorum lost and back with nobody taking over (an even split of 2 nodes):
 * the owner stops, keeps its claim, and re-claims it with a new epoch. */
static void test_quorum_back_reclaims(void **state)
{
	(void)state;
	struct cl *c = cluster(2, 1u);
	c->quorum_mode = true;
	boot_all(c);
	run(c, c->now + 100);
	int o = runner(c, 0);
	assert_true(o >= 0);
	uint64_t e1 = c->nd[o].run_epoch[0];
	c->healthy = false;
	c->nd[1].side = 1;
	publish(c);
	run(c, c->now + 10000);
	assert_int_equal(runner(c, 0), -1);
	assert_true(c->store[0].kind == WEFT_CTL_SGL_HELD);
	c->nd[1].side = 0;
	c->healthy = true;
	publish(c);
	run(c, c->now + 100);
	assert_int_equal(runner(c, 0), o);
	assert_true(c->nd[o].run_epoch[0] > e1);
	cluster_free(c);
}

/* 5 nodes, store operations slow enough (5 s) that every node's CAS is
 * sent against the same version before any lands: exactly one wins, the
 * losers re-read and stay idle, one node runs it. */
static void test_racing_claims(void **state)
{
	(void)state;
	struct cl *c = cluster(5, 1u);
	c->poll_ms = 60000;
	for (int k = 0; k < 5; k++)
		boot(c, k);
	run(c, c->now); /* no view yet: every node only read ABSENT */
	assert_int_equal(c->np, 0);
	c->op_delay = 5000;
	c->op_fixed = true;
	publish(c);
	run(c, c->now + 4 * STEP);
	assert_int_equal(c->np, 5);
	for (int i = 0; i < c->np; i++) {
		assert_int_equal(c->p[i].a.kind, WEFT_CTL_SGL_CAS);
		assert_int_equal(c->p[i].a.expected, 0);
	}
	run(c, c->now + 12000);
	assert_int_equal(c->cas_ok, 1);
	assert_int_equal(c->cas_fail, 4);
	int o = runner(c, 0);
	assert_true(o >= 0);
	for (int k = 0; k < 5; k++)
		assert_int_equal(c->nd[k].starts[0], k == o ? 1u : 0u);
	cluster_free(c);
}

/* A control restart on the owner finds its own claim: it re-claims it at
 * once with epoch + 1 (same view id), never resuming the old epoch. */
static void test_restart_reclaims_with_new_epoch(void **state)
{
	(void)state;
	struct cl *c = cluster(3, 1u);
	boot_all(c);
	run(c, c->now + 100);
	int o = runner(c, 0);
	uint64_t e1 = c->nd[o].run_epoch[0];
	crash(c, o);
	boot(c, o); /* back before anyone noticed: same view */
	struct weft_ctl_sgl_out out = out_of(c);
	assert_int_equal(weft_ctl_singletons_view(c->nd[o].m, tm(c), &c->nd[o].v, &out), 0);
	apply(c, o, &out);
	run(c, c->now + 100);
	assert_int_equal(runner(c, 0), o);
	assert_int_equal(c->nd[o].run_epoch[0], e1 + 1);
	cluster_free(c);
}

/* Graceful shutdown: stop, release, quiet; another node takes over on its
 * next read, before it even sees the node leave. */
static void test_shutdown_releases(void **state)
{
	(void)state;
	struct cl *c = cluster(3, 7u);
	boot_all(c);
	run(c, c->now + 100);
	int o = runner(c, 1);
	struct weft_ctl_sgl_out out = out_of(c);
	assert_int_equal(weft_ctl_singletons_shutdown(c->nd[o].m, tm(c), &out), 0);
	apply(c, o, &out);
	run(c, c->now + 10);
	assert_true(weft_ctl_singletons_quiet(c->nd[o].m));
	for (int s = 0; s < NS; s++)
		assert_false(c->nd[o].running[s]);
	run(c, c->now + POLL + 2 * STEP + 1);
	for (int s = 0; s < NS; s++) {
		int r = runner(c, s);
		assert_true(r >= 0 && r != o);
	}
	cluster_free(c);
}

/* ---- Randomized runs --------------------------------------------------- */

static void random_run(unsigned seed, bool partitions)
{
	struct cl *c = cluster(5, 0u);
	c->seed = seed;
	c->rng = 0x2545f4914f6cdd1dull * (seed + 1);
	c->op_delay = 40;
	c->stop_delay = 60;
	c->fail_pct = 10;
	c->quorum_mode = partitions;
	c->healthy = !partitions;
	for (int k = 0; k < 5; k++)
		for (int s = 0; s < NS; s++)
			c->nd[k].hosts[s] = rnd(c) % 3 != 0;
	boot_all(c);
	for (int ev = 0; ev < 300; ev++) {
		run(c, c->now + 1 + rnd_upto(c, 800));
		int k = (int)(rnd(c) % 5), s = (int)(rnd(c) % NS);
		struct node *nd = &c->nd[k];
		struct weft_ctl_sgl_out out = out_of(c);
		switch (rnd(c) % 6) {
		case 0: { /* crash, detected after a while */
			int up = 0;
			for (int j = 0; j < 5; j++)
				up += c->nd[j].up;
			if (!nd->up || up < 2)
				break;
			crash(c, k);
			run(c, c->now + rnd_upto(c, 1500));
			publish(c);
			break;
		}
		case 1: /* restart */
			if (nd->up)
				break;
			boot(c, k);
			publish(c);
			break;
		case 2: /* deploy / undeploy */
			if (!nd->up)
				break;
			if (nd->hosts[s]) {
				nd->hosts[s] = false;
				assert_int_equal(weft_ctl_singletons_unhost(nd->m, tm(c), NAMES[s],
									    &out), 0);
			} else {
				nd->hosts[s] = true;
				assert_int_equal(weft_ctl_singletons_host(nd->m, tm(c), NAMES[s],
									  &out), 0);
			}
			apply(c, k, &out);
			break;
		case 3: /* graceful stop, then leave */
			if (!nd->up)
				break;
			assert_int_equal(weft_ctl_singletons_shutdown(nd->m, tm(c), &out), 0);
			apply(c, k, &out);
			for (int i = 0; i < 200 && !weft_ctl_singletons_quiet(nd->m); i++)
				run(c, c->now + 50);
			crash(c, k);
			nd->left = true;
			publish(c);
			break;
		case 4: /* partition change (partition runs only) */
			if (!partitions)
				break;
			nd->side ^= 1;
			publish(c);
			break;
		default: /* a listener pushes the current claim value */
			if (!nd->up || !nd->hosts[s])
				break;
			assert_int_equal(weft_ctl_singletons_claim_changed(nd->m, tm(c), NAMES[s],
									   &c->store[s], &out), 0);
			apply(c, k, &out);
			break;
		}
	}
	/* Heal: everyone back, one side, no faults. Each singleton hosted by
	 * a live node then runs on exactly one hosting node. */
	c->fail_pct = 0;
	for (int k = 0; k < 5; k++) {
		c->nd[k].side = 0;
		if (!c->nd[k].up)
			boot(c, k);
	}
	publish(c);
	c->healthy = true;
	run(c, c->now + 2 * POLL + 5 * STEP + 200);
	for (int s = 0; s < NS; s++) {
		bool hosted = false;
		for (int k = 0; k < 5; k++)
			hosted |= c->nd[k].hosts[s];
		int r = runner(c, s);
		if (hosted != (r >= 0))
			VIOLATION(c, "%s: hosted %d but runner %d after healing", NAMES[s], hosted, r);
		if (r >= 0)
			assert_true(c->nd[r].hosts[s]);
	}
	cluster_free(c);
}

static void test_random_healthy(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 40; seed++)
		random_run(seed, false);
}

static void test_random_partitions(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 40; seed++)
		random_run(seed, true);
}

/* ---- Codec and bad input ----------------------------------------------- */

static void test_codec(void **state)
{
	(void)state;
	struct weft_ctl_sgl_claim a = {.kind = WEFT_CTL_SGL_HELD, .owner = nid(3),
				       .epoch = 0x0102030405060708ull, .since_ms = UNIX0},
				  b;
	uint8_t buf[WEFT_CTL_SGL_CLAIM_BYTES];
	weft_ctl_singletons_encode(&a, buf);
	assert_int_equal(buf[0], WEFT_CTL_SGL_HELD);
	assert_int_equal(buf[17], 0x08); /* little-endian */
	assert_int_equal(weft_ctl_singletons_decode(buf, sizeof(buf), 9, &b), 0);
	assert_int_equal(b.kind, a.kind);
	assert_memory_equal(b.owner.b, a.owner.b, 16);
	assert_int_equal(b.epoch, a.epoch);
	assert_int_equal(b.since_ms, a.since_ms);
	assert_int_equal(b.version, 9);
	assert_int_equal(weft_ctl_singletons_decode(buf, sizeof(buf) - 1, 9, &b), -EINVAL);
	buf[0] = WEFT_CTL_SGL_ABSENT;
	assert_int_equal(weft_ctl_singletons_decode(buf, sizeof(buf), 9, &b), -EINVAL);
	buf[0] = 7;
	assert_int_equal(weft_ctl_singletons_decode(buf, sizeof(buf), 9, &b), -EINVAL);
	assert_int_equal(weft_ctl_singletons_decode(NULL, sizeof(buf), 9, &b), -EINVAL);
}

static void test_bad_input(void **state)
{
	(void)state;
	struct weft_ctl_sgl_config cfg = {.self = nid(0), .max_singletons = 1, .max_members = 2};
	struct weft_ctl_sgl_action act[2], small[1];
	struct weft_ctl_sgl_out out = {.act = act, .cap = 2};
	struct weft_ctl_sgl_out tiny = {.act = small, .cap = 1};
	struct weft_ctl_sgl_time t = {.mono_ms = 5, .unix_ms = UNIX0};
	struct weft_ctl_sgl_member mem[3] = {{nid(0), WEFT_SWIM_ALIVE}, {nid(1), WEFT_SWIM_ALIVE},
					     {nid(2), WEFT_SWIM_ALIVE}};
	struct weft_ctl_sgl_view v = {.id = 1, .members = mem, .n = 3};
	struct weft_ctl_sgl_claim bad = {.kind = WEFT_CTL_SGL_HELD, .version = 0};
	char long_name[WEFT_CTL_SGL_NAME_MAX + 2];

	errno = 0;
	assert_null(weft_ctl_singletons_create(NULL));
	assert_int_equal(errno, EINVAL);
	cfg.max_members = 0;
	assert_null(weft_ctl_singletons_create(&cfg));
	cfg.max_members = 2;
	struct weft_ctl_sgl *s = weft_ctl_singletons_create(&cfg);
	assert_non_null(s);
	assert_int_equal(weft_ctl_singletons_out_min(s), 2);
	assert_int_equal(weft_ctl_singletons_host(s, t, "a/b", &tiny), -ENOBUFS);
	assert_int_equal(weft_ctl_singletons_host(s, t, "", &out), -EINVAL);
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	assert_int_equal(weft_ctl_singletons_host(s, t, long_name, &out), -EINVAL);
	assert_int_equal(weft_ctl_singletons_host(s, t, "a/b", &out), 0);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.act[0].kind, WEFT_CTL_SGL_READ);
	assert_int_equal(weft_ctl_singletons_host(s, t, "a/b", &out), -EEXIST);
	assert_int_equal(out.n, 0);
	assert_int_equal(weft_ctl_singletons_host(s, t, "a/c", &out), -ENOSPC);
	assert_int_equal(weft_ctl_singletons_view(s, t, &v, &out), -E2BIG);
	assert_int_equal(weft_ctl_singletons_claim(s, t, "a/b", &bad, &out), -EINVAL);
	assert_int_equal(weft_ctl_singletons_claim(s, t, "a/x", &bad, &out), -EINVAL);
	/* answers nobody asked for */
	assert_int_equal(weft_ctl_singletons_cas_done(s, t, "a/b", true, 3, &out), -EINVAL);
	assert_int_equal(weft_ctl_singletons_stopped(s, t, "a/b", &out), -EINVAL);
	assert_int_equal(weft_ctl_singletons_unhost(s, t, "a/x", &out), -EINVAL);
	/* before any view nothing is claimed, even with the claim absent */
	struct weft_ctl_sgl_claim none = {.kind = WEFT_CTL_SGL_ABSENT};
	assert_int_equal(weft_ctl_singletons_claim(s, t, "a/b", &none, &out), 0);
	assert_int_equal(out.n, 0);
	assert_int_equal(out.next_ms, t.mono_ms + WEFT_CTL_SGL_POLL_MS);
	/* an answer with no READ in flight; a push is fine */
	assert_int_equal(weft_ctl_singletons_claim(s, t, "a/b", &none, &out), -EINVAL);
	assert_int_equal(weft_ctl_singletons_claim_changed(s, t, "a/b", &none, &out), 0);
	v.n = 1;
	assert_int_equal(weft_ctl_singletons_view(s, t, &v, &out), 0);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.act[0].kind, WEFT_CTL_SGL_CAS);
	assert_int_equal(out.act[0].expected, 0);
	assert_int_equal(out.act[0].value.epoch, 1);
	assert_int_equal(weft_ctl_singletons_cas_done(s, t, "a/b", true, 0, &out), -EINVAL);
	weft_ctl_singletons_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failover_and_no_move_back),
		cmocka_unit_test(test_rank_delay_and_hosting),
		cmocka_unit_test(test_undeploy_hands_over),
		cmocka_unit_test(test_quorum_loss_stops_minority),
		cmocka_unit_test(test_quorum_back_reclaims),
		cmocka_unit_test(test_takeover_seen_by_poll),
		cmocka_unit_test(test_paused_owner_stops),
		cmocka_unit_test(test_racing_claims),
		cmocka_unit_test(test_restart_reclaims_with_new_epoch),
		cmocka_unit_test(test_shutdown_releases),
		cmocka_unit_test(test_random_healthy),
		cmocka_unit_test(test_random_partitions),
		cmocka_unit_test(test_codec),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
