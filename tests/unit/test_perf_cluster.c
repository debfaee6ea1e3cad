/*
 * weft-perf --cluster routing (perf/weft_perf_cluster.c): puts go to the
 * key's primary, gets to owner number pick % owners, the seed (NULL) when
 * the table cannot route (one member, no owners yet, a member without an
 * address); epochs compare in serial order and a worker's report of a newer
 * epoch only ever raises the shared one; the epoch is read from a datagram.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <weft/weft.h>
#include <weft/wire.h>

#include "weft_perf_internal.h"

/* A hand-made table in one block (weft_topology_free frees one block):
 * n members 10.0.0.(i+1):7700+i, two segments owned by {0,1} and {2,0}. */
static struct weft_topology *table(uint16_t n, uint16_t owners)
{
	size_t sz = sizeof(struct weft_topology) + 3 * sizeof(struct weft_topology_member) +
		    4 * sizeof(uint16_t);
	struct weft_topology *t = calloc(1, sz);
	assert_non_null(t);
	t->members = (struct weft_topology_member *)(t + 1);
	t->owner = (uint16_t *)(t->members + 3);
	t->epoch = 7;
	t->n_segments = 2;
	t->n_segments_log2 = 1;
	t->owners = owners;
	t->n_members = n;
	for (unsigned i = 0; i < 3; i++) {
		t->members[i].ip = htonl(0x0a000001u + i);
		t->members[i].port = (uint16_t)(7700 + i);
	}
	static const uint16_t own[4] = { 0, 1, 2, 0 };
	memcpy(t->owner, own, sizeof(own));
	return t;
}

static void test_cluster_route(void **state)
{
	(void)state;
	struct wp_route *r = wp_route_build(table(3, 2));
	assert_non_null(r);
	assert_true(r->direct);
	assert_int_equal(r->epoch, 7);
	unsigned seen_seg[2] = { 0 };
	for (uint64_t i = 0; i < 64; i++) {
		char key[16];
		wp_key(key, sizeof(key), i);
		uint32_t seg = weft_topology_segment(r->topo, key, sizeof(key));
		seen_seg[seg]++;
		uint16_t primary = r->topo->owner[seg * 2], backup = r->topo->owner[seg * 2 + 1];
		const struct sockaddr_in *put = wp_route_dest(r, key, sizeof(key), false, i);
		assert_non_null(put);
		assert_int_equal(put->sin_family, AF_INET);
		assert_int_equal(ntohl(put->sin_addr.s_addr), 0x0a000001u + primary);
		assert_int_equal(ntohs(put->sin_port), 7700 + primary);
		/* gets: owner number pick % owners */
		const struct sockaddr_in *g0 = wp_route_dest(r, key, sizeof(key), true, 4);
		const struct sockaddr_in *g1 = wp_route_dest(r, key, sizeof(key), true, 5);
		assert_ptr_equal(g0, &r->addr[primary]);
		assert_ptr_equal(g1, &r->addr[backup]);
	}
	assert_true(seen_seg[0] > 0 && seen_seg[1] > 0); /* both segments exercised */
	/* a member without an address: its keys go to the seed */
	r->addr[0].sin_family = 0;
	char key[16];
	uint64_t i = 0;
	do
		wp_key(key, sizeof(key), i++);
	while (weft_topology_segment(r->topo, key, sizeof(key)) != 0);
	assert_null(wp_route_dest(r, key, sizeof(key), false, 0));
	assert_non_null(wp_route_dest(r, key, sizeof(key), true, 1));
	wp_route_free(r);

	/* one member, or no owners yet: everything to the seed */
	r = wp_route_build(table(1, 1));
	assert_non_null(r);
	assert_false(r->direct);
	assert_null(wp_route_dest(r, key, sizeof(key), false, 0));
	wp_route_free(r);
	r = wp_route_build(table(3, 0));
	assert_non_null(r);
	assert_false(r->direct);
	assert_null(wp_route_dest(r, key, sizeof(key), true, 0));
	wp_route_free(r);
	assert_null(wp_route_dest(NULL, key, sizeof(key), true, 0));
}

static void test_cluster_epochs(void **state)
{
	(void)state;
	assert_true(wp_epoch_newer(8, 7));
	assert_false(wp_epoch_newer(7, 7));
	assert_false(wp_epoch_newer(6, 7));
	assert_true(wp_epoch_newer(1, 0xffffffffu)); /* wraps */
	struct wp_cluster c;
	memset(&c, 0, sizeof(c));
	atomic_store(&c.seen, 7);
	wp_cluster_saw(&c, 7, 7);  /* not newer than the route's */
	wp_cluster_saw(&c, 7, 5);
	assert_int_equal(atomic_load(&c.seen), 7);
	wp_cluster_saw(&c, 7, 9);
	assert_int_equal(atomic_load(&c.seen), 9);
	wp_cluster_saw(&c, 7, 8);  /* newer than the route, older than seen */
	assert_int_equal(atomic_load(&c.seen), 9);

	uint8_t d[sizeof(struct weft_wire_hdr)] = { 0 };
	struct weft_wire_hdr h = { .magic = WEFT_WIRE_MAGIC, .epoch = 0x01020304u };
	memcpy(d, &h, sizeof(h));
	assert_int_equal(wp_weft_epoch(d, sizeof(d)), 0x01020304u);
	assert_int_equal(wp_weft_epoch(d, sizeof(d) - 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cluster_route),
		cmocka_unit_test(test_cluster_epochs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
