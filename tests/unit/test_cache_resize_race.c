/*
 * test_cache_resize_race — regression test: a bucket move during a resize
 * sized the new chains from the entries it judged live, then filled them
 * judging again; a reader that refreshed a max-idle entry in between (with
 * its older burst clock) made the fill overrun the chain and write through
 * NULL. The reader is injected at the only allocation between the two
 * passes, by interposing aligned_alloc in this test binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <urcu/urcu-qsbr.h>

#include "cache.h"
#include "cache_internal.h"

static struct weft_cache *cache;
static struct weft_cache_key idle_key;
static int allocs_until_reader;
static unsigned injected_hits;

void *aligned_alloc(size_t align, size_t size);

void *aligned_alloc(size_t align, size_t size)
{
	if (allocs_until_reader > 0 && --allocs_until_reader == 0) {
		/* another lcore reads the idle entry with its burst clock (101) */
		struct weft_cache_value v;
		bool found;
		injected_hits += weft_cache_get_burst(cache, &idle_key, 1, 101, &v, &found);
	}
	void *p = NULL;
	return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) ? NULL : p;
}

static void test_move_sizes_for_revived_entries(void **state)
{
	(void)state;
	static char keys[64][16];
	urcu_qsbr_register_thread();
	cache = weft_cache_create("race", 4, NULL, 1); /* one bucket: the next growth moves it */
	assert_non_null(cache);
	int half[2] = {0, 0}, n = 0;
	for (int i = 0; half[0] < 8 || half[1] < 8; i++) {
		snprintf(keys[n], sizeof(keys[n]), "k%d", i);
		uint64_t h = weft_cache_hash(keys[n], strlen(keys[n]));
		int bit = (int)(h & 1);
		if (half[bit] >= 8)
			continue;
		struct weft_cache_key k = {keys[n], (uint16_t)strlen(keys[n]), h};
		struct weft_cache_write w = {0, 0};
		if (bit == 0 && half[0] == 0) {
			w.max_idle_ms = 2; /* idle at 102, revived by a read at 101 */
			idle_key = k;
		}
		assert_int_equal(weft_cache_put(cache, &k, "v", 1, WEFT_CACHE_PUT, 0, &w, 100, NULL), 0);
		half[bit]++;
		n++;
		assert_true(n < 64);
	}
	allocs_until_reader = 2; /* 1st: the new table; 2nd: the low chain */
	weft_cache_maintain(cache, 102, 16);
	assert_int_equal(injected_hits, 1);
	/* every entry still readable after the move (the idle one was revived) */
	for (int i = 0; i < n; i++) {
		struct weft_cache_key k = {keys[i], (uint16_t)strlen(keys[i]),
					   weft_cache_hash(keys[i], strlen(keys[i]))};
		struct weft_cache_value v;
		bool found;
		assert_int_equal(weft_cache_get_burst(cache, &k, 1, 101, &v, &found), 1);
	}
	weft_cache_destroy(cache);
	urcu_qsbr_unregister_thread();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_move_sizes_for_revived_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
