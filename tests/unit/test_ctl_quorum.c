/*
 * test_ctl_quorum.c — the quorum rule of --partition-handling quorum
 * (control/ctl_quorum.c): a 2|1 partition leaves the minority without
 * quorum and the majority with it; graceful leaves 3 -> 2 -> 1 keep quorum
 * (in either order of the LEFT event and the view); the merge regains it;
 * an even split has quorum on neither side; successive failures lose it
 * once the survivors are no majority of the last stable view.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_rebalance_internal.h"

static struct weft_swim_id id(uint8_t k)
{
	struct weft_swim_id x;
	memset(&x, 0, sizeof(x));
	x.b[0] = k;
	x.b[15] = (uint8_t)(k ^ 0x5a);
	return x;
}

/* Installs the view of the given node numbers (0-terminated list). */
static int view(struct weft_ctl_quorum *q, const uint8_t *nodes)
{
	struct weft_swim_id v[8];
	uint32_t n = 0;
	while (nodes[n]) {
		v[n] = id(nodes[n]);
		n++;
	}
	return weft_ctl_quorum_view(q, v, n);
}

static void test_partition_2_1(void **state)
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

	/* The link of node 3 goes down. */
	assert_int_equal(view(&maj, (const uint8_t[]){1, 2, 0}), 0);
	assert_false(maj.no_quorum);
	assert_int_equal(view(&min, (const uint8_t[]){3, 0}), 1);
	assert_true(min.no_quorum);
	assert_int_equal(weft_ctl_quorum_present(&min), 1);
	assert_int_equal(min.n_stable, 3);
	assert_int_equal(min.last_present, 1); /* what the log says: 1 of 3 */
	assert_int_equal(min.last_stable, 3);

	/* Heals: the merged view has quorum on both sides. */
	assert_int_equal(view(&min, (const uint8_t[]){1, 2, 3, 0}), 1);
	assert_false(min.no_quorum);
	assert_int_equal(view(&maj, (const uint8_t[]){1, 2, 3, 0}), 0);
	assert_false(maj.no_quorum);
	weft_ctl_quorum_fini(&maj);
	weft_ctl_quorum_fini(&min);
}

static void test_graceful_scale_down(void **state)
{
	(void)state;
	struct weft_ctl_quorum q;
	struct weft_swim_id two = id(2), three = id(3);
	assert_int_equal(weft_ctl_quorum_init(&q, 8), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 3, 0}), 0);

	/* 3 leaves: the LEFT event, then the view without it. */
	assert_int_equal(weft_ctl_quorum_left(&q, &three), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 0}), 0);
	assert_false(q.no_quorum);
	/* 2 leaves: the view first (1 of {1,2} is no majority for a moment),
	 * then its LEFT event gives quorum back. */
	assert_int_equal(view(&q, (const uint8_t[]){1, 0}), 1);
	assert_true(q.no_quorum);
	assert_int_equal(weft_ctl_quorum_left(&q, &two), 1);
	assert_false(q.no_quorum);
	assert_int_equal(q.n_stable, 1);
	/* Nodes join again: still fine. */
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 0}), 0);
	assert_false(q.no_quorum);
	weft_ctl_quorum_fini(&q);
}

static void test_left_before_view_not_readopted(void **state)
{
	(void)state;
	struct weft_ctl_quorum q;
	struct weft_swim_id two = id(2);
	assert_int_equal(weft_ctl_quorum_init(&q, 8), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 2, 0}), 0);
	/* LEFT of 2 arrives while the view still holds it; then the view. */
	assert_int_equal(weft_ctl_quorum_left(&q, &two), 0);
	assert_int_equal(view(&q, (const uint8_t[]){1, 0}), 0);
	assert_false(q.no_quorum);
	weft_ctl_quorum_fini(&q);
}

static void test_even_split_and_failures(void **state)
{
	(void)state;
	struct weft_ctl_quorum a, b;
	assert_int_equal(weft_ctl_quorum_init(&a, 8), 0);
	assert_int_equal(weft_ctl_quorum_init(&b, 8), 0);
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 4, 0}), 0);
	assert_int_equal(view(&b, (const uint8_t[]){1, 2, 3, 4, 0}), 0);
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 0}), 1);
	assert_int_equal(view(&b, (const uint8_t[]){3, 4, 0}), 1);
	assert_true(a.no_quorum && b.no_quorum);
	/* A view of strangers is no majority either. */
	assert_int_equal(view(&a, (const uint8_t[]){1, 7, 8, 9, 0}), 0);
	assert_true(a.no_quorum);
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 3, 0}), 1);
	assert_false(a.no_quorum);
	assert_int_equal(a.last_present, 3); /* regained: 3 of the 4 */
	assert_int_equal(a.last_stable, 4);
	assert_int_equal(a.n_stable, 3);

	/* Failures one at a time: {1,2,3} -> {1,2} (2 of 3) keeps quorum and
	 * becomes stable; -> {1} (1 of 2) loses it. */
	assert_int_equal(view(&a, (const uint8_t[]){1, 2, 0}), 0);
	assert_false(a.no_quorum);
	assert_int_equal(view(&a, (const uint8_t[]){1, 0}), 1);
	assert_true(a.no_quorum);
	weft_ctl_quorum_fini(&a);
	weft_ctl_quorum_fini(&b);
}

static void test_bad_args(void **state)
{
	(void)state;
	struct weft_ctl_quorum q;
	struct weft_swim_id v[3] = {id(1), id(2), id(3)};
	assert_int_equal(weft_ctl_quorum_init(&q, 0), -EINVAL);
	assert_int_equal(weft_ctl_quorum_init(&q, 2), 0);
	assert_int_equal(weft_ctl_quorum_view(&q, v, 3), -EINVAL);
	assert_int_equal(weft_ctl_quorum_view(&q, v, 0), -EINVAL);
	assert_int_equal(weft_ctl_quorum_left(&q, &v[0]), 0); /* no view yet */
	weft_ctl_quorum_fini(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partition_2_1),
		cmocka_unit_test(test_graceful_scale_down),
		cmocka_unit_test(test_left_before_view_not_readopted),
		cmocka_unit_test(test_even_split_and_failures),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
