/*
 * test_ctl_plan.c — the rebalancing planner (control/ctl_plan.c): join
 * (moves only to the newcomer, about 1/N of the owner slots), leave and
 * failure (owners restored to `owners` copies, each sent by a surviving old
 * owner), replicated caches, no moves between equal views (whatever the
 * member order), the graceful hand-off, exactly one sender per move, and
 * the read-through target (ctl_readthrough.c: an ALIVE old owner first).
 *
 * Pure and deterministic: topologies come from weft_swim_seg_compute over
 * made-up node ids; "data" is simulated as a holds[member][segment] table
 * that a move may only copy from a holder.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_rebalance_internal.h"

#define SEGS 256u
#define MAXN 16u

/* A topology over ids chosen by number (same number = same node). */
struct topo {
	struct weft_ctl_topo t;
	struct weft_swim_view_member members[MAXN];
	uint16_t seg[SEGS * 8];
};

static struct weft_swim_id node_id(uint32_t k)
{
	struct weft_swim_id id;
	memset(&id, 0, sizeof(id));
	id.b[0] = 0xa5;
	id.b[3] = (uint8_t)k;
	id.b[11] = (uint8_t)(k * 41u + 7u);
	return id;
}

/* Builds a topology over nodes[0..n) (node numbers, in this view order;
 * every node in its first life, nonce 1). */
static void topo_make(struct topo *tp, const uint32_t *nodes, uint32_t n, uint32_t owners)
{
	struct weft_swim_seg_table st = {.owner = tp->seg};

	memset(tp->members, 0, sizeof(tp->members));
	for (uint32_t i = 0; i < n; i++) {
		tp->members[i].id = node_id(nodes[i]);
		tp->members[i].nonce = 1;
	}
	assert_int_equal(weft_swim_seg_compute(tp->members, n, SEGS, owners, &st), 0);
	tp->t = (struct weft_ctl_topo){.view = n, .n = n, .members = tp->members,
				       .n_segments = SEGS, .owners = st.owners,
				       .seg_owner = tp->seg};
}

/* All moves of a plan for one kind, into mv (returns the count). */
static uint32_t all_moves(const struct weft_ctl_plan *p, enum weft_ctl_plan_kind kind,
			  struct weft_ctl_move *mv, uint32_t max)
{
	uint32_t n = 0;
	for (uint32_t s = 0; s < SEGS; s++) {
		int rc = weft_ctl_plan_segment(p, kind, s, mv + n, max - n);
		assert_true(rc >= 0);
		n += (uint32_t)rc;
	}
	return n;
}

/* Checks every move: `to` is a new owner that did not own the segment;
 * `from` owned it in the old view and is still a member; `from` is the
 * FIRST such old owner. Then simulates the data: after the moves, every
 * new owner of a segment holds it, except segments no old owner survived. */
static void check_moves(const struct topo *o, const struct topo *nw, enum weft_ctl_plan_kind kind,
			const struct weft_ctl_plan *p, const struct weft_ctl_move *mv, uint32_t n_mv)
{
	static uint8_t holds[MAXN][SEGS]; /* by new index */
	memset(holds, 0, sizeof(holds));
	for (uint32_t j = 0; j < nw->t.n; j++)
		for (uint32_t s = 0; s < SEGS; s++)
			if (p->new_to_old[j] != WEFT_CTL_PLAN_NONE)
				holds[j][s] = weft_ctl_topo_owns(&o->t, kind, s, p->new_to_old[j]);
	for (uint32_t k = 0; k < n_mv; k++) {
		const struct weft_ctl_move *m = &mv[k];
		assert_true(weft_ctl_topo_owns(&nw->t, kind, m->seg, m->to));
		uint32_t to_old = p->new_to_old[m->to];
		assert_false(to_old != WEFT_CTL_PLAN_NONE &&
			     weft_ctl_topo_owns(&o->t, kind, m->seg, to_old));
		assert_true(weft_ctl_topo_owns(&o->t, kind, m->seg, m->from));
		uint32_t from_new = p->old_to_new[m->from];
		assert_int_not_equal(from_new, WEFT_CTL_PLAN_NONE);
		if (kind == WEFT_CTL_PLAN_DISTRIBUTED) {
			/* No earlier owner in the old list survived. */
			const uint16_t *own = o->t.seg_owner + (size_t)m->seg * o->t.owners;
			for (uint32_t i = 0; own[i] != m->from; i++)
				assert_int_equal(p->old_to_new[own[i]], WEFT_CTL_PLAN_NONE);
		}
		assert_true(holds[from_new][m->seg]);
		holds[m->to][m->seg] = 1;
	}
	for (uint32_t s = 0; s < SEGS; s++) {
		bool survivor = false;
		for (uint32_t i = 0; i < o->t.n; i++)
			survivor |= weft_ctl_topo_owns(&o->t, kind, s, i) &&
				    p->old_to_new[i] != WEFT_CTL_PLAN_NONE;
		for (uint32_t j = 0; j < nw->t.n; j++)
			if (weft_ctl_topo_owns(&nw->t, kind, s, j))
				assert_int_equal(holds[j][s], survivor);
	}
}

/* Exactly one sender per (segment, new owner): count per pair. */
static void check_one_sender(const struct weft_ctl_move *mv, uint32_t n_mv)
{
	static uint8_t seen[SEGS][MAXN];
	memset(seen, 0, sizeof(seen));
	for (uint32_t k = 0; k < n_mv; k++) {
		assert_int_equal(seen[mv[k].seg][mv[k].to], 0);
		seen[mv[k].seg][mv[k].to] = 1;
	}
}

static struct weft_ctl_move mv[SEGS * MAXN];

static void test_join(void **state)
{
	(void)state;
	static struct topo a, b;
	const uint32_t three[] = {1, 2, 3}, four[] = {1, 2, 3, 4};
	struct weft_ctl_plan p;

	topo_make(&a, three, 3, 2);
	topo_make(&b, four, 4, 2);
	assert_int_equal(weft_ctl_plan_init(&p, &a.t, &b.t), 0);
	uint32_t n = all_moves(&p, WEFT_CTL_PLAN_DISTRIBUTED, mv, SEGS * MAXN);
	for (uint32_t k = 0; k < n; k++)
		assert_int_equal(mv[k].to, 3); /* only the newcomer receives */
	/* It gets exactly what it owns: about 1/N of the owner slots, within
	 * the load cap (1.25 x fair). */
	uint32_t owned = 0;
	for (uint32_t s = 0; s < SEGS; s++)
		owned += weft_ctl_topo_owns(&b.t, WEFT_CTL_PLAN_DISTRIBUTED, s, 3);
	assert_int_equal(n, owned);
	uint32_t fair = SEGS * 2 / 4;
	assert_true(n >= fair * 3 / 4 && n <= fair * 5 / 4 + 1);
	check_moves(&a, &b, WEFT_CTL_PLAN_DISTRIBUTED, &p, mv, n);
	check_one_sender(mv, n);
	weft_ctl_plan_fini(&p);
}

static void test_leave_and_failure(void **state)
{
	(void)state;
	static struct topo a, b, c;
	const uint32_t four[] = {1, 2, 3, 4}, three[] = {1, 3, 4}, two[] = {1, 4};
	struct weft_ctl_plan p;

	topo_make(&a, four, 4, 2);
	topo_make(&b, three, 3, 2); /* node 2 left or failed */
	assert_int_equal(weft_ctl_plan_init(&p, &a.t, &b.t), 0);
	uint32_t n = all_moves(&p, WEFT_CTL_PLAN_DISTRIBUTED, mv, SEGS * MAXN);
	assert_true(n > 0);
	for (uint32_t k = 0; k < n; k++)
		assert_int_not_equal(mv[k].from, 1); /* never the departed node */
	/* Every segment is back at 2 copies. */
	check_moves(&a, &b, WEFT_CTL_PLAN_DISTRIBUTED, &p, mv, n);
	check_one_sender(mv, n);
	weft_ctl_plan_fini(&p);

	/* Two of four fail at once with owners = 2: segments they both owned
	 * have no surviving sender (no move), all others are restored. */
	topo_make(&c, two, 2, 2);
	assert_int_equal(weft_ctl_plan_init(&p, &a.t, &c.t), 0);
	n = all_moves(&p, WEFT_CTL_PLAN_DISTRIBUTED, mv, SEGS * MAXN);
	uint32_t lost = 0;
	for (uint32_t s = 0; s < SEGS; s++)
		lost += !weft_ctl_topo_owns(&a.t, WEFT_CTL_PLAN_DISTRIBUTED, s, 0) &&
			!weft_ctl_topo_owns(&a.t, WEFT_CTL_PLAN_DISTRIBUTED, s, 3);
	assert_true(lost > 0);
	uint32_t expected = 0;
	for (uint32_t s = 0; s < SEGS; s++) {
		bool survivor = weft_ctl_topo_owns(&a.t, WEFT_CTL_PLAN_DISTRIBUTED, s, 0) ||
				weft_ctl_topo_owns(&a.t, WEFT_CTL_PLAN_DISTRIBUTED, s, 3);
		for (uint32_t j = 0; survivor && j < 2; j++)
			expected += !weft_ctl_topo_owns(&a.t, WEFT_CTL_PLAN_DISTRIBUTED, s,
							p.new_to_old[j]);
	}
	assert_int_equal(n, expected);
	check_moves(&a, &c, WEFT_CTL_PLAN_DISTRIBUTED, &p, mv, n);
	weft_ctl_plan_fini(&p);
}

static void test_replicated(void **state)
{
	(void)state;
	static struct topo a, b;
	const uint32_t three[] = {1, 2, 3}, four[] = {1, 2, 3, 4};
	struct weft_ctl_plan p;

	/* Join: the newcomer gets every segment, each from the segment's
	 * (surviving) primary. */
	topo_make(&a, three, 3, 2);
	topo_make(&b, four, 4, 2);
	assert_int_equal(weft_ctl_plan_init(&p, &a.t, &b.t), 0);
	uint32_t n = all_moves(&p, WEFT_CTL_PLAN_REPLICATED, mv, SEGS * MAXN);
	assert_int_equal(n, SEGS);
	for (uint32_t k = 0; k < n; k++) {
		assert_int_equal(mv[k].to, 3);
		assert_int_equal(mv[k].from, a.t.seg_owner[mv[k].seg * a.t.owners]);
	}
	check_moves(&a, &b, WEFT_CTL_PLAN_REPLICATED, &p, mv, n);
	check_one_sender(mv, n);
	weft_ctl_plan_fini(&p);

	/* Leave: everyone left already has everything. */
	assert_int_equal(weft_ctl_plan_init(&p, &b.t, &a.t), 0);
	assert_int_equal(all_moves(&p, WEFT_CTL_PLAN_REPLICATED, mv, SEGS * MAXN), 0);
	weft_ctl_plan_fini(&p);
}

static void test_equal_views(void **state)
{
	(void)state;
	static struct topo a, b;
	const uint32_t x[] = {1, 2, 3, 4, 5}, y[] = {4, 2, 5, 1, 3};
	struct weft_ctl_plan p;

	topo_make(&a, x, 5, 3);
	topo_make(&b, y, 5, 3); /* same members, another order */
	for (int same = 0; same < 2; same++) {
		assert_int_equal(weft_ctl_plan_init(&p, &a.t, same ? &a.t : &b.t), 0);
		assert_int_equal(all_moves(&p, WEFT_CTL_PLAN_DISTRIBUTED, mv, SEGS * MAXN), 0);
		assert_int_equal(all_moves(&p, WEFT_CTL_PLAN_REPLICATED, mv, SEGS * MAXN), 0);
		weft_ctl_plan_fini(&p);
	}
}

/* A node restarted under the same id (new nonce) lost its memory: it gets
 * every segment it owns again, although the table did not change. */
static void test_restart_same_id(void **state)
{
	(void)state;
	static struct topo a, b;
	const uint32_t three[] = {1, 2, 3};
	struct weft_ctl_plan p;

	topo_make(&a, three, 3, 2);
	topo_make(&b, three, 3, 2);
	b.members[2].nonce = 2; /* node 3, second life */
	assert_memory_equal(a.seg, b.seg, sizeof(a.seg));
	assert_int_equal(weft_ctl_plan_init(&p, &a.t, &b.t), 0);
	uint32_t n = all_moves(&p, WEFT_CTL_PLAN_DISTRIBUTED, mv, SEGS * MAXN);
	uint32_t owned = 0;
	for (uint32_t s = 0; s < SEGS; s++)
		owned += weft_ctl_topo_owns(&b.t, WEFT_CTL_PLAN_DISTRIBUTED, s, 2);
	assert_int_equal(n, owned);
	for (uint32_t k = 0; k < n; k++) {
		assert_int_equal(mv[k].to, 2);
		assert_int_not_equal(mv[k].from, 2); /* not from its old life */
	}
	check_moves(&a, &b, WEFT_CTL_PLAN_DISTRIBUTED, &p, mv, n);
	weft_ctl_plan_fini(&p);
}

static void test_handoff(void **state)
{
	(void)state;
	static struct topo cur, next;
	const uint32_t three[] = {1, 2, 3}, without2[] = {1, 3};
	struct weft_ctl_plan p;
	const uint32_t leaver = 1; /* node 2 */

	topo_make(&cur, three, 3, 2);
	topo_make(&next, without2, 2, 2);
	assert_int_equal(weft_ctl_plan_init(&p, &cur.t, &next.t), 0);
	uint32_t n = 0;
	for (uint32_t s = 0; s < SEGS; s++) {
		int rc = weft_ctl_plan_handoff(&p, WEFT_CTL_PLAN_DISTRIBUTED, s, leaver, mv + n, 4);
		assert_true(rc >= 0);
		for (int k = 0; k < rc; k++)
			assert_int_equal(mv[n + (uint32_t)k].from, leaver);
		n += (uint32_t)rc;
	}
	assert_true(n > 0);
	/* Every segment the leaver owned is held by all its next owners. */
	for (uint32_t s = 0; s < SEGS; s++) {
		if (!weft_ctl_topo_owns(&cur.t, WEFT_CTL_PLAN_DISTRIBUTED, s, leaver))
			continue;
		for (uint32_t j = 0; j < next.t.n; j++) {
			if (!weft_ctl_topo_owns(&next.t, WEFT_CTL_PLAN_DISTRIBUTED, s, j))
				continue;
			bool had = weft_ctl_topo_owns(&cur.t, WEFT_CTL_PLAN_DISTRIBUTED, s,
						      p.new_to_old[j]);
			bool got = false;
			for (uint32_t k = 0; k < n; k++)
				got |= mv[k].seg == s && mv[k].to == j;
			assert_true(had || got);
		}
	}
	/* Segments it did not own: nothing from it. */
	assert_int_equal(weft_ctl_plan_handoff(&p, WEFT_CTL_PLAN_REPLICATED, 0, leaver, mv, 4), 0);
	weft_ctl_plan_fini(&p);
}

static void test_bad_args(void **state)
{
	(void)state;
	static struct topo a, b;
	const uint32_t three[] = {1, 2, 3};
	struct weft_ctl_plan p;

	topo_make(&a, three, 3, 2);
	b = a;
	b.t.n_segments = SEGS / 2;
	assert_int_equal(weft_ctl_plan_init(&p, &a.t, &b.t), -EINVAL);
	b = a;
	b.t.owners = 0;
	assert_int_equal(weft_ctl_plan_init(&p, &a.t, &b.t), -EINVAL);
	/* A join with a too small output array: -ENOSPC, never an overrun. */
	static struct topo c;
	const uint32_t four[] = {1, 2, 3, 4};
	topo_make(&c, four, 4, 2);
	assert_int_equal(weft_ctl_plan_init(&p, &a.t, &c.t), 0);
	int enospc = 0;
	for (uint32_t s = 0; s < SEGS; s++)
		enospc += weft_ctl_plan_segment(&p, WEFT_CTL_PLAN_REPLICATED, s, mv, 0) == -ENOSPC;
	assert_int_equal(enospc, SEGS);
	assert_int_equal(weft_ctl_plan_segment(&p, WEFT_CTL_PLAN_DISTRIBUTED, SEGS, mv, 4),
			 -EINVAL);
	weft_ctl_plan_fini(&p);
}

/* Read-through (ctl_readthrough.c): a node that becomes an owner of a
 * segment asks the segment's first old owner still present; one that owned
 * it already, none. */
static void test_read_through(void **state)
{
	(void)state;
	static struct topo a, b;
	static const uint32_t three[] = {1, 2, 3}, four[] = {1, 2, 3, 4};
	topo_make(&a, three, 3, 2);
	topo_make(&b, four, 4, 2);
	uint16_t out[SEGS];
	unsigned asked = 0;
	for (uint32_t self = 0; self < 4; self++) {
		weft_ctl_read_through(&a.t, &b.t, self, NULL, out);
		for (uint32_t s = 0; s < SEGS; s++) {
			bool had = false, owns = false;
			for (uint32_t i = 0; i < a.t.owners; i++)
				had |= a.seg[s * a.t.owners + i] == self; /* same indices 0..2 */
			for (uint32_t i = 0; i < b.t.owners; i++)
				owns |= b.seg[s * b.t.owners + i] == self;
			if (had) {
				assert_int_equal(out[s], WEFT_DP_READ_THROUGH_NONE);
			} else {
				/* the old primary, in the new view's indices (same order) */
				assert_int_equal(out[s], a.seg[s * a.t.owners]);
				asked += owns;
			}
		}
	}
	assert_true(asked > 0); /* the newcomer (3) owns some segments */
	/* The old primary gone (node 1 left): the old backup is asked. */
	static struct topo c;
	static const uint32_t without1[] = {2, 3, 4};
	topo_make(&c, without1, 3, 2);
	weft_ctl_read_through(&a.t, &c.t, 2 /* node 4 */, NULL, out);
	for (uint32_t s = 0; s < SEGS; s++) {
		uint16_t p = a.seg[s * a.t.owners], bk = a.seg[s * a.t.owners + 1];
		uint16_t want = p == 0 ? (uint16_t)(bk - 1) : (uint16_t)(p - 1); /* 2->0, 3->1 */
		assert_int_equal(out[s], want);
	}
	/* No previous topology: nothing to read through. */
	weft_ctl_read_through(NULL, &b.t, 3, NULL, out);
	for (uint32_t s = 0; s < SEGS; s++)
		assert_int_equal(out[s], WEFT_DP_READ_THROUGH_NONE);
}

/* Read-through to a live old owner (sim bug S3): a restarted node joins
 * while the old primary of a segment has crashed but is still a member
 * (not declared DOWN): the ALIVE old backup is asked, not the dead
 * primary; with no old owner ALIVE, the first one still a member. */
static void test_read_through_prefers_alive(void **state)
{
	(void)state;
	static struct topo a, b;
	static const uint32_t three[] = {1, 2, 3}, four[] = {1, 2, 3, 4};
	topo_make(&a, three, 3, 2);
	topo_make(&b, four, 4, 2);
	uint16_t out[SEGS];
	bool alive[4] = {false, true, true, true}; /* node 1 (index 0) crashed */
	unsigned to_backup = 0;
	weft_ctl_read_through(&a.t, &b.t, 3, alive, out);
	for (uint32_t s = 0; s < SEGS; s++) {
		uint16_t p = a.seg[s * a.t.owners], bk = a.seg[s * a.t.owners + 1];
		assert_int_equal(out[s], p == 0 ? bk : p); /* never the dead one */
		to_backup += p == 0;
	}
	assert_true(to_backup > 0);
	/* Both old owners of a segment not ALIVE: the first one, as before
	 * (the lcores forward only to a live member). */
	bool none[4] = {false, false, false, true};
	weft_ctl_read_through(&a.t, &b.t, 3, none, out);
	for (uint32_t s = 0; s < SEGS; s++)
		assert_int_equal(out[s], a.seg[s * a.t.owners]);
	/* Self owned the segment before: none, whatever the states. */
	weft_ctl_read_through(&a.t, &b.t, 1, alive, out);
	for (uint32_t s = 0; s < SEGS; s++)
		if (a.seg[s * a.t.owners] == 1 || a.seg[s * a.t.owners + 1] == 1)
			assert_int_equal(out[s], WEFT_DP_READ_THROUGH_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_leave_and_failure),
		cmocka_unit_test(test_replicated),
		cmocka_unit_test(test_equal_views),
		cmocka_unit_test(test_restart_same_id),
		cmocka_unit_test(test_handoff),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_read_through),
		cmocka_unit_test(test_read_through_prefers_alive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
