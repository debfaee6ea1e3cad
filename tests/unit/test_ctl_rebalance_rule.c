/*
 * test_ctl_rebalance_rule.c — the state transfer's drop rule
 * (control/ctl_rebalance_internal.h: weft_ctl_gives_away, weft_ctl_drop_due),
 * which control/ctl_rebalance.c and the simulator's data layer
 * (tests/sim/sim_xfer.c) both follow.
 *
 * Asserted: a member gives away exactly the segments it does not own in its
 * current view — including those it never owned in any earlier view (a
 * stray copy: a replica applied by a new life at a replication target's
 * address, bugs F/G of docs/simulation.md; the rule before only swept the
 * segments owned in the last completed or the previous view), none when
 * it is not a member or the segment is out of range; the drop of a
 * completed transfer is due WEFT_CTL_DROP_GRACE_MS after the last ack while
 * every destination stays ALIVE, and a destination not ALIVE at any
 * evaluation moves it to that evaluation + the grace (an owner that acked
 * then crashed is suspected before this node's copy goes; the rule before
 * dropped at the last ack).
 *
 * Pure and deterministic: topologies come from weft_swim_seg_compute over
 * made-up node ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_rebalance_internal.h"

#define SEGS 256u
#define MAXN 8u

struct topo {
	struct weft_ctl_topo t;
	struct weft_swim_view_member members[MAXN];
	uint16_t seg[SEGS * 8];
};

/* A topology of nodes 0..n-1 (first lives), `owners` per segment. */
static void topo_make(struct topo *tp, uint32_t n, uint32_t owners)
{
	struct weft_swim_seg_table st = {.owner = tp->seg};

	memset(tp->members, 0, sizeof(tp->members));
	for (uint32_t i = 0; i < n; i++) {
		tp->members[i].id.b[0] = 0x5a;
		tp->members[i].id.b[3] = (uint8_t)i;
		tp->members[i].id.b[9] = (uint8_t)(i * 29u + 3u);
		tp->members[i].nonce = 1;
	}
	assert_int_equal(weft_swim_seg_compute(tp->members, n, SEGS, owners, &st), 0);
	tp->t = (struct weft_ctl_topo){.view = 7, .n = n, .members = tp->members,
				       .n_segments = SEGS, .owners = st.owners,
				       .seg_owner = tp->seg};
}

static void test_gives_away_every_segment_not_owned(void **state)
{
	(void)state;
	static struct topo cur;
	topo_make(&cur, 5, 2);

	for (uint32_t self = 0; self < cur.t.n; self++) {
		uint32_t away = 0;
		for (uint32_t s = 0; s < SEGS; s++) {
			bool owns = weft_ctl_topo_owns(&cur.t, WEFT_CTL_PLAN_DISTRIBUTED, s, self);
			assert_int_equal(weft_ctl_gives_away(&cur.t, self, s), !owns);
			away += !owns;
		}
		/* Two owners of five: this node keeps about 2/5 of them. */
		assert_true(away > SEGS / 2 && away < SEGS);
	}
}

/* Bug G's shape: node 4 is a new life in cur; its base (its first view:
 * itself alone) and prev gave it every segment, but it also holds a stray
 * copy of a segment it never owned in a view with other members — the rule
 * asks only about cur, so that segment is given away like the others. */
static void test_gives_away_a_segment_never_owned(void **state)
{
	(void)state;
	static struct topo before, cur;
	topo_make(&before, 4, 2); /* nodes 0..3: node 4 not a member */
	topo_make(&cur, 5, 2);
	uint32_t seg = SEGS;

	for (uint32_t s = 0; s < SEGS && seg == SEGS; s++)
		if (!weft_ctl_topo_owns(&cur.t, WEFT_CTL_PLAN_DISTRIBUTED, s, 4))
			seg = s;
	assert_true(seg < SEGS);
	/* Not owned by node 4 before (it was no member), nor now: given away. */
	assert_true(weft_ctl_gives_away(&cur.t, 4, seg));
	/* And by a node that owned nothing of it before either. */
	for (uint32_t i = 0; i < before.t.n; i++)
		if (!weft_ctl_topo_owns(&before.t, WEFT_CTL_PLAN_DISTRIBUTED, seg, i))
			assert_int_equal(weft_ctl_gives_away(&cur.t, i, seg),
					 !weft_ctl_topo_owns(&cur.t, WEFT_CTL_PLAN_DISTRIBUTED, seg,
							     i));
}

static void test_gives_away_nothing_outside(void **state)
{
	(void)state;
	static struct topo cur;
	topo_make(&cur, 3, 2);

	for (uint32_t s = 0; s < SEGS; s++)
		assert_false(weft_ctl_gives_away(&cur.t, WEFT_CTL_PLAN_NONE, s));
	assert_false(weft_ctl_gives_away(&cur.t, 0, SEGS));
	/* A view of one: it owns everything, gives nothing away. */
	topo_make(&cur, 1, 2);
	for (uint32_t s = 0; s < SEGS; s++)
		assert_false(weft_ctl_gives_away(&cur.t, 0, s));
}

static void test_drop_waits_the_grace_after_the_last_ack(void **state)
{
	(void)state;
	uint64_t acked = 10000, due = acked + WEFT_CTL_DROP_GRACE_MS;

	/* Not at the ack, nor just before the grace ends. */
	assert_true(weft_ctl_drop_due(due, true, acked) > acked);
	assert_true(weft_ctl_drop_due(due, true, due - 1) > due - 1);
	/* Once the grace passed with every destination ALIVE. */
	assert_int_equal(weft_ctl_drop_due(due, true, due), due);
	assert_int_equal(weft_ctl_drop_due(due, true, due + 5000), due);
}

/* Bug F's shape: an owner acks, then crashes; the node sees it SUSPECT
 * 400 ms later, before the grace ends: the drop moves past the suspicion,
 * and stays there while the owner is not ALIVE (then a view without it
 * aborts the job and the copy goes to the new owners). */
static void test_drop_starts_over_while_a_dest_is_not_alive(void **state)
{
	(void)state;
	uint64_t acked = 10000, due = acked + WEFT_CTL_DROP_GRACE_MS;

	due = weft_ctl_drop_due(due, true, acked + 100);
	assert_int_equal(due, acked + WEFT_CTL_DROP_GRACE_MS);
	due = weft_ctl_drop_due(due, false, acked + 400); /* suspected */
	assert_int_equal(due, acked + 400 + WEFT_CTL_DROP_GRACE_MS);
	for (uint64_t t = acked + 400; t < acked + 10000; t += 100) {
		due = weft_ctl_drop_due(due, false, t);
		assert_true(t < due); /* never due while not ALIVE */
	}
	/* Refuted at acked + 10 s: due a full grace later, not before. */
	uint64_t back = acked + 10000;
	due = weft_ctl_drop_due(due, false, back);
	due = weft_ctl_drop_due(due, true, back + 1);
	assert_int_equal(due, back + WEFT_CTL_DROP_GRACE_MS);
	assert_true(back + WEFT_CTL_DROP_GRACE_MS - 1 < due);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gives_away_every_segment_not_owned),
		cmocka_unit_test(test_gives_away_a_segment_never_owned),
		cmocka_unit_test(test_gives_away_nothing_outside),
		cmocka_unit_test(test_drop_waits_the_grace_after_the_last_ack),
		cmocka_unit_test(test_drop_starts_over_while_a_dest_is_not_alive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
