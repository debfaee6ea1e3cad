/*
 * test_ctl_quorum.c — the quorum rule of --partition-handling quorum
 * (control/ctl_quorum.c): quorum is judged on the LIVE members of the
 * current view against a stable set that failures never shrink.
 * Partitions detected gradually (2|1 with no new view on the cut-off node,
 * 4|6 with the minority's views shrinking 10 -> 6 -> 5 -> 4) leave the
 * minority without quorum; 5|5 leaves both sides without; 1 crash of 3
 * keeps quorum, 2 lose it, a rejoin restores it; graceful leaves
 * 3 -> 2 -> 1 keep it (in either order of the LEFT event and the view);
 * joiners grow the stable set (once live, in a view with a majority).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_rebalance_internal.h"

/* A node number in a view list: k live; DN(k) in the view but suspect,
 * dead or left as the observer sees it. */
#define DN(k) ((uint8_t)((k) | 0x80u))

static struct weft_swim_id id(uint8_t k)
{
	struct weft_swim_id x;
	memset(&x, 0, sizeof(x));
	x.b[0] = (uint8_t)(k * 37u); /* not in node order: the rule sorts */
	x.b[15] = (uint8_t)(k ^ 0x5a);
	return x;
}

/* Publishes the view of the given node numbers (0-terminated list). */
static int view(struct weft_ctl_quorum *q, const uint8_t *nodes)
{
	struct weft_swim_id v[16];
	bool live[16];
	uint32_t n = 0;
	while (nodes[n]) {
		v[n] = id(nodes[n] & 0x7fu);
		live[n] = !(nodes[n] & 0x80u);
		n++;
	}
	return weft_ctl_quorum_view(q, v, live, n);
}

static int left(struct weft_ctl_quorum *q, uint8_t k)
{
	struct weft_swim_id x = id(k);
	return weft_ctl_quorum_left(q, &x);
}

/* D1: node 3 is cut off alone. It is not the coordinator: it installs no
 * view for a while, and sees the others go suspect one by one. */
static void test_partition_2_1_gradual(void **state)
{
	(void)state;
	struct weft_ctl_quorum maj, min;
	assert_int_equal(weft_ctl_quorum_init(&maj, 8), 0);
	assert_int_equal(weft_ctl_quorum_init(&min, 8), 0);

	/* Both sides see {1,2,3} form (through a first view of their own). */
	assert_int_equal(view(&maj, (const uint8_t[]){1, 0}), 0);
	assert_int_equal(view(&maj, (const uint8_t[]){1, 2, 3, 0}), 0);
	assert_int_equal(view(&min, (const uint8_t[]){3, 0}), 0);
	assert_int_equal(view(&min, (const uint8_t[]){1, 2, 3, 0}), 0);
	assert_false(maj.no_quorum);
	assert_false(min.no_quorum);
	assert_int_equal(min.n_stable, 3);

	/* Node 3's side: 2 suspect (2 of 3 still live), then 1 too: quorum is
	 * lost under the same view. */
	assert_int_equal(view(&min, (const uint8_t[]){1, DN(2), 3, 0}), 0);
	assert_false(min.no_quorum);
	assert_int_equal(view(&min, (const uint8_t[]){DN(1), DN(2), 3, 0}), 1);
	assert_true(min.no_quorum);
	assert_int_equal(min.last_present, 1); /* what the log says: 1 of 3 */
	assert_int_equal(min.last_stable, 3);
	/* Later it installs a view of its own: still no majority. */
	assert_int_equal(view(&min, (const uint8_t[]){3, 0}), 0);
	assert_true(min.no_quorum);
	assert_int_equal(min.n_stable, 3);

	/* The other side: 3 suspect, then the view without it: 2 of 3. */
	assert_int_equal(view(&maj, (const uint8_t[]){1, 2, DN(3), 0}), 0);
	assert_int_equal(view(&maj, (const uint8_t[]){1, 2, 0}), 0);
	assert_false(maj.no_quorum);
	assert_int_equal(maj.n_stable, 3); /* failures do not shrink it */

	/* Heals: the merged view has quorum on both sides. */
	assert_int_equal(view(&min, (const uint8_t[]){1, 2, 3, 0}), 1);
	assert_false(min.no_quorum);
	assert_int_equal(view(&maj, (const uint8_t[]){1, 2, 3, 0}), 0);
	assert_false(maj.no_quorum);
	weft_ctl_quorum_fini(&maj);
	weft_ctl_quorum_fini(&min);
}

/* D2: a 4 | 6 split of 10, detected a few nodes at a time: the minority's
 * views shrink 10 -> 6 -> 5 -> 4, each a majority of the one before; the
 * stable set stays 10, so it loses quorum once 5 or fewer are live. */
static void test_partition_4_6_gradual(void **state)
{
	(void)state;
	static const uint8_t all[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0};
	struct weft_ctl_quorum a, b;
	assert_int_equal(weft_ctl_quorum_init(&a, 16), 0);
	assert_int_equal(weft_ctl_quorum_init(&b, 16), 0);
	assert_int_equal(view(&a, all), 0);
	assert_int_equal(view(&b, all), 0);
	assert_int_equal(a.n_stable, 10);

	/* Side a = {1..4}. */
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 4, 5, 6, DN(7), 8, DN(9), 10, 0}), 0);
	assert_false(a.no_quorum);                              /* 8 of 10 */
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 4, 5, 6, 0}), 0);
	assert_false(a.no_quorum);                              /* 6 of 10 */
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 4, DN(5), 6, 0}), 1);
	assert_true(a.no_quorum);                               /* 5 of 10 */
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 4, 5, 0}), 0);
	assert_true(a.no_quorum);                               /* 5 of 10 */
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 4, 0}), 0);
	assert_true(a.no_quorum);                               /* 4 of 10 */
	assert_int_equal(a.n_stable, 10);
	assert_int_equal(a.last_present, 4);

	/* Side b = {5..10}: keeps quorum all the way down to its 6. */
	assert_int_equal(view(&b, (const uint8_t[]){DN(1), 2, DN(3), 4, 5, 6, 7, 8, 9, 10, 0}), 0);
	assert_int_equal(view(&b, (const uint8_t[]){2, 4, 5, 6, 7, 8, 9, 10, 0}), 0);
	assert_int_equal(view(&b, (const uint8_t[]){DN(2), 4, 5, 6, 7, 8, 9, 10, 0}), 0);
	assert_int_equal(view(&b, (const uint8_t[]){5, 6, 7, 8, 9, 10, 0}), 0);
	assert_false(b.no_quorum);
	assert_int_equal(b.n_stable, 10);

	/* Heals. */
	assert_int_equal(view(&a, all), 1);
	assert_false(a.no_quorum);
	weft_ctl_quorum_fini(&a);
	weft_ctl_quorum_fini(&b);
}

/* An even split has no majority on either side, however it is detected. */
static void test_even_split_5_5(void **state)
{
	(void)state;
	static const uint8_t all[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0};
	struct weft_ctl_quorum a, b;
	assert_int_equal(weft_ctl_quorum_init(&a, 16), 0);
	assert_int_equal(weft_ctl_quorum_init(&b, 16), 0);
	assert_int_equal(view(&a, all), 0);
	assert_int_equal(view(&b, all), 0);
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 4, 5, 6, 7, 0}), 0);
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 4, 5, 6, 0}), 0);
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 4, 5, 0}), 1);
	assert_int_equal(view(&b, (const uint8_t[]){4, 5, 6, 7, 8, 9, 10, 0}), 0);
	assert_int_equal(view(&b, (const uint8_t[]){DN(5), 6, 7, 8, 9, 10, 0}), 1);
	assert_int_equal(view(&b, (const uint8_t[]){6, 7, 8, 9, 10, 0}), 0);
	assert_true(a.no_quorum && b.no_quorum);
	assert_int_equal(a.last_present, 5);
	assert_int_equal(b.last_present, 5);
	/* A view of strangers is no majority either, and adds nobody. */
	assert_int_equal(view(&a, (const uint8_t[]){1, 11, 12, 13, 14, 15, 0}), 0);
	assert_true(a.no_quorum);
	assert_int_equal(a.n_stable, 10);
	weft_ctl_quorum_fini(&a);
	weft_ctl_quorum_fini(&b);
}

static void test_graceful_scale_down(void **state)
{
	(void)state;
	struct weft_ctl_quorum q;
	assert_int_equal(weft_ctl_quorum_init(&q, 8), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 3, 0}), 0);

	/* 3 leaves: the LEFT event, the publication (3 shows LEFT), then the
	 * view without it. */
	assert_int_equal(left(&q, 3), 0);
	assert_int_equal(q.n_stable, 2);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, DN(3), 0}), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 0}), 0);
	assert_false(q.no_quorum);
	/* 2 leaves: the view first (1 of {1,2} is no majority for a moment),
	 * then its LEFT event gives quorum back. */
	assert_int_equal(view(&q, (const uint8_t[]){1, 0}), 1);
	assert_true(q.no_quorum);
	assert_int_equal(left(&q, 2), 1);
	assert_false(q.no_quorum);
	assert_int_equal(q.n_stable, 1);
	/* A LEFT for the last member is ignored: S is never empty. */
	assert_int_equal(left(&q, 1), 0);
	assert_int_equal(q.n_stable, 1);
	/* Nodes join again: they grow S. */
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 0}), 0);
	assert_false(q.no_quorum);
	assert_int_equal(q.n_stable, 2);
	weft_ctl_quorum_fini(&q);
}

static void test_left_before_view_not_readopted(void **state)
{
	(void)state;
	struct weft_ctl_quorum q;
	assert_int_equal(weft_ctl_quorum_init(&q, 8), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 0}), 0);
	/* LEFT of 2 arrives while the view still holds it; the publication
	 * shows it LEFT, then the view without it. */
	assert_int_equal(left(&q, 2), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, DN(2), 0}), 0);
	assert_int_equal(q.n_stable, 1);
	assert_int_equal(view(&q, (const uint8_t[]){1, 0}), 0);
	assert_false(q.no_quorum);
	assert_int_equal(q.n_stable, 1);
	weft_ctl_quorum_fini(&q);
}

/* Crashes: 1 of 3 keeps quorum, 2 of 3 lose it (the view of the lone
 * survivor changes nothing), a rejoin restores it. */
static void test_crashes_and_rejoin(void **state)
{
	(void)state;
	struct weft_ctl_quorum q;
	assert_int_equal(weft_ctl_quorum_init(&q, 8), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 3, 0}), 0);

	assert_int_equal(view(&q, (const uint8_t[]){1, 2, DN(3), 0}), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 0}), 0);
	assert_false(q.no_quorum);
	assert_int_equal(q.n_stable, 3);
	assert_int_equal(weft_ctl_quorum_present(&q), 2);

	assert_int_equal(view(&q, (const uint8_t[]){1, DN(2), 0}), 1);
	assert_true(q.no_quorum);
	assert_int_equal(view(&q, (const uint8_t[]){1, 0}), 0);
	assert_true(q.no_quorum);
	assert_int_equal(q.last_present, 1);
	assert_int_equal(q.last_stable, 3);

	/* 3 restarts and rejoins (same id, a new life): present again. */
	assert_int_equal(view(&q, (const uint8_t[]){1, 3, 0}), 1);
	assert_false(q.no_quorum);
	assert_int_equal(q.n_stable, 3);
	/* With 2 of 3, a suspicion of 3 takes quorum until it is refuted. */
	assert_int_equal(view(&q, (const uint8_t[]){1, DN(3), 0}), 1);
	assert_int_equal(view(&q, (const uint8_t[]){1, 3, 0}), 1);
	assert_false(q.no_quorum);
	weft_ctl_quorum_fini(&q);
}

/* Joiners grow the stable set once they are live in a view that holds a
 * majority; the grown set then decides the next partition. */
static void test_joins_grow_stable_set(void **state)
{
	(void)state;
	struct weft_ctl_quorum a, b;
	assert_int_equal(weft_ctl_quorum_init(&a, 8), 0);
	assert_int_equal(weft_ctl_quorum_init(&b, 8), 0);
	/* The first node forms a cluster alone, then 2 and 3 join. */
	assert_int_equal(view(&a, (const uint8_t[]){1, 0}), 0);
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 0}), 0);
	assert_int_equal(a.n_stable, 3);
	/* 4 and 5 join; 5's record is not in yet (not live): only 4 counts. */
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 4, DN(5), 0}), 0);
	assert_int_equal(a.n_stable, 4);
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 4, 5, 0}), 0);
	assert_int_equal(a.n_stable, 5);
	/* Node 4's first view is the 5-member one: the stable set. */
	assert_int_equal(view(&b, (const uint8_t[]){1, 2, 3, 4, 5, 0}), 0);
	assert_int_equal(b.n_stable, 5);

	/* {1,2} | {3,4,5}: 2 of 5 and 3 of 5. */
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 0}), 1);
	assert_true(a.no_quorum);
	assert_int_equal(view(&b, (const uint8_t[]){3, 4, 5, 0}), 0);
	assert_false(b.no_quorum);
	/* A joiner on the side without quorum is not adopted... */
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 6, 0}), 0);
	assert_true(a.no_quorum);
	assert_int_equal(a.n_stable, 5);
	/* ...until the merged view holds a majority. */
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 4, 5, 6, 0}), 1);
	assert_int_equal(a.n_stable, 6);
	weft_ctl_quorum_fini(&a);
	weft_ctl_quorum_fini(&b);
}

/* Crashed members replaced by fresh ids: the stable set outgrows the view
 * capacity (bounded by 2 * cap - 1) and quorum goes once half is gone. */
static void test_replacements_outgrow_cap(void **state)
{
	(void)state;
	struct weft_ctl_quorum q;
	assert_int_equal(weft_ctl_quorum_init(&q, 4), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 3, 4, 0}), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 3, 0}), 0);     /* 4 crashed */
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 3, 5, 0}), 0);  /* 3 of 4 */
	assert_int_equal(q.n_stable, 5);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 3, 0}), 0);     /* 5 crashed */
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 3, 6, 0}), 0);  /* 3 of 5 */
	assert_int_equal(q.n_stable, 6);
	assert_false(q.no_quorum);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 3, 0}), 1);     /* 3 of 6 */
	assert_true(q.no_quorum);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 3, 7, 0}), 0);  /* 3 of 6 */
	assert_true(q.no_quorum);
	assert_int_equal(q.n_stable, 6);
	weft_ctl_quorum_fini(&q);
}

/* Two lives of one id in a view (the old one not yet removed) count once. */
static void test_repeated_id_counts_once(void **state)
{
	(void)state;
	struct weft_ctl_quorum q;
	assert_int_equal(weft_ctl_quorum_init(&q, 8), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 3, 4, 0}), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 2, 0}), 1);
	assert_int_equal(q.last_present, 2);
	assert_true(q.no_quorum);
	assert_int_equal(q.n_stable, 4);
	weft_ctl_quorum_fini(&q);
}

static void test_bad_args(void **state)
{
	(void)state;
	struct weft_ctl_quorum q;
	struct weft_swim_id v[3] = {id(1), id(2), id(3)};
	bool live[3] = {true, true, true};
	assert_int_equal(weft_ctl_quorum_init(&q, 0), -EINVAL);
	assert_int_equal(weft_ctl_quorum_init(&q, 2), 0);
	assert_int_equal(weft_ctl_quorum_view(&q, v, live, 3), -EINVAL);
	assert_int_equal(weft_ctl_quorum_view(&q, v, live, 0), -EINVAL);
	assert_int_equal(weft_ctl_quorum_view(&q, NULL, live, 1), -EINVAL);
	assert_int_equal(weft_ctl_quorum_view(&q, v, NULL, 1), -EINVAL);
	assert_int_equal(weft_ctl_quorum_left(&q, &v[0]), 0); /* no view yet */
	assert_false(q.no_quorum);
	weft_ctl_quorum_fini(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partition_2_1_gradual),
		cmocka_unit_test(test_partition_4_6_gradual),
		cmocka_unit_test(test_even_split_5_5),
		cmocka_unit_test(test_graceful_scale_down),
		cmocka_unit_test(test_left_before_view_not_readopted),
		cmocka_unit_test(test_crashes_and_rejoin),
		cmocka_unit_test(test_joins_grow_stable_set),
		cmocka_unit_test(test_replacements_outgrow_cap),
		cmocka_unit_test(test_repeated_id_counts_once),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
