/*
 * test_segments.c — unit tests of segment ownership (weft_swim_seg_*):
 * argument checks, distinct owners, the load caps, independence from view
 * order, and minimal-ish movement on join/leave. All deterministic.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "membership.h"

static void make_view(struct weft_swim_view_member *v, uint32_t n, uint8_t tag)
{
	for (uint32_t i = 0; i < n; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		v[i].id.b[0] = tag;
		v[i].id.b[1] = (uint8_t)(i >> 8);
		v[i].id.b[2] = (uint8_t)i;
		v[i].id.b[9] = (uint8_t)(i * 37);
		v[i].nonce = i + 1;
	}
}

static void test_bad_args(void **state)
{
	struct weft_swim_view_member v[3];
	uint16_t o[64];
	struct weft_swim_seg_table t = { .owner = o };

	(void)state;
	make_view(v, 3, 1);
	assert_int_equal(weft_swim_seg_compute(v, 3, 12, 2, &t), -EINVAL);
	assert_int_equal(weft_swim_seg_compute(v, 0, 16, 2, &t), -EINVAL);
	assert_int_equal(weft_swim_seg_compute(v, 3, 16, 0, &t), -EINVAL);
	assert_int_equal(weft_swim_seg_compute(NULL, 3, 16, 2, &t), -EINVAL);
}

static void check_table(const struct weft_swim_seg_table *t, uint32_t n)
{
	uint32_t *lp = calloc(n, 4), *lt = calloc(n, 4);
	uint32_t capp = (t->n_segments * 5 + n * 4 - 1) / (n * 4);
	uint32_t capt = (t->n_segments * t->owners * 5 + n * 4 - 1) / (n * 4);

	assert_non_null(lp);
	assert_non_null(lt);
	for (uint32_t s = 0; s < t->n_segments; s++) {
		for (uint32_t a = 0; a < t->owners; a++) {
			uint16_t x = t->owner[s * t->owners + a];

			assert_true(x < n);
			for (uint32_t b = a + 1; b < t->owners; b++)
				assert_int_not_equal(x, t->owner[s * t->owners + b]);
			lt[x]++;
			lp[x] += a == 0;
		}
	}
	for (uint32_t j = 0; j < n; j++) {
		assert_true(lp[j] <= capp);
		assert_true(lt[j] <= capt);
	}
	free(lp);
	free(lt);
}

static void test_caps_and_distinct(void **state)
{
	static const uint32_t sizes[] = { 1, 2, 3, 7, 10, 64, 300 };

	(void)state;
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t n = sizes[i];
		struct weft_swim_view_member *v = calloc(n, sizeof(*v));
		uint16_t *o = calloc(1024 * 2, sizeof(*o));
		struct weft_swim_seg_table t = { .owner = o };

		make_view(v, n, 2);
		assert_int_equal(weft_swim_seg_compute(v, n, 1024, 2, &t), 0);
		assert_int_equal(t.owners, n < 2 ? n : 2);
		check_table(&t, n);
		free(v);
		free(o);
	}
}

static void test_order_independent(void **state)
{
	enum { N = 20, S = 256 };
	struct weft_swim_view_member v[N], r[N];
	uint16_t o1[S * 2], o2[S * 2];
	struct weft_swim_seg_table a = { .owner = o1 }, b = { .owner = o2 };
	uint32_t pm, cm;

	(void)state;
	make_view(v, N, 3);
	for (uint32_t i = 0; i < N; i++)
		r[i] = v[N - 1 - i];
	assert_int_equal(weft_swim_seg_compute(v, N, S, 2, &a), 0);
	assert_int_equal(weft_swim_seg_compute(r, N, S, 2, &b), 0);
	for (uint32_t s = 0; s < S * 2; s++)
		assert_memory_equal(&v[o1[s]].id, &r[o2[s]].id, 16);
	assert_int_equal(weft_swim_seg_diff(v, &a, r, &b, &pm, &cm, NULL), 0);
	assert_int_equal(pm, 0);
	assert_int_equal(cm, 0);
}

static void test_join_leave_moves_little(void **state)
{
	enum { S = 4096 };
	static const uint32_t sizes[] = { 5, 10, 50 };

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		uint32_t n = sizes[i], pm, cm;
		struct weft_swim_view_member v[51];
		uint16_t *o0 = calloc(S * 2, 2), *o1 = calloc(S * 2, 2);
		uint8_t *moved = calloc(S, 1);
		struct weft_swim_seg_table t0 = { .owner = o0 }, t1 = { .owner = o1 };
		uint32_t flagged = 0;

		make_view(v, n + 1, 4);
		assert_int_equal(weft_swim_seg_compute(v, n, S, 2, &t0), 0);
		assert_int_equal(weft_swim_seg_compute(v, n + 1, S, 2, &t1), 0);
		assert_int_equal(weft_swim_seg_diff(v, &t0, v, &t1, &pm, &cm,
						    moved), 0);
		for (uint32_t s = 0; s < S; s++)
			flagged += moved[s];
		/* ideal: 1/(n+1) of the copies; allow 2x for the load cap */
		assert_true(cm > 0);
		assert_true((double)cm / (S * 2) < 2.0 / (n + 1));
		assert_true(flagged >= pm);
		/* and back: the leave of that node */
		assert_int_equal(weft_swim_seg_diff(v, &t1, v, &t0, &pm, &cm,
						    NULL), 0);
		assert_true((double)cm / (S * 2) < 2.0 / (n + 1));
		free(o0);
		free(o1);
		free(moved);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_caps_and_distinct),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_join_leave_moves_little),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
