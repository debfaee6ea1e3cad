/*
 * test_dp_msg_xfer.c — messaging state transfer on a view change, through
 * the real worker code (dataplane/dp_msg_tick.c on a fake port, peers
 * played by hand): a node that is no longer an owner keeps its copy of a
 * queue until every owner of its view acked a transfer of it (bug N2 of
 * the simulator: an owner whose address it did not know yet got nothing,
 * and the copy was dropped once the other owner acked), and sends it again
 * while the view stands once the address is known.
 *
 * Messaging timers run on the wall clock (dp_unix_ms): the retry is
 * awaited by a poll loop bounded in time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_internal.h"
#include "dp_node.h"
#include "msg.h"

static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x11};
static const uint8_t PEER2_MAC[6] = {0x02, 0, 0, 0, 0, 0x22};
static const uint8_t CLIENT_MAC[6] = {0x02, 0, 0, 0, 0, 0x99};
static const uint8_t PEER_IP[4] = {10, 216, 0, 11};
static const uint8_t PEER2_IP[4] = {10, 216, 0, 22};
static const uint8_t CLIENT_IP[4] = {10, 216, 0, 99};
static const uint8_t NODE_IP[4] = {10, 216, 0, 2};
#define NODE_PORT 7700u
#define CTL_PORT 7701u
#define CLIENT_PORT 5000u
#define QUEUE "/queue/q"

static struct dp_node T;

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct seen {
	unsigned repl[2];    /* MSG_REPL requests to PEER, PEER2 */
	uint16_t client;     /* the client's answer status (0: none yet) */
};

/* One poll: MSG_REPL requests to a peer are answered OK when ok[peer]. */
static void poll_once(const bool ok[2], struct seen *sn)
{
	struct rte_mbuf *m[DP_MAXF];
	struct sent s[DP_MAXF];
	unsigned k = dp_poll(&T, m, s);
	for (unsigned i = 0; i < k; i++) {
		if (s[i].dst_ip == 0)
			continue;
		if (s[i].dst_ip == dp_ip4(CLIENT_IP)) {
			sn->client = s[i].h.status == 0 ? 0xffff : s[i].h.status;
			continue;
		}
		if (s[i].h.opcode != WEFT_OP_MSG_REPL || (s[i].h.flags & WEFT_F_RESPONSE))
			continue;
		unsigned p = s[i].dst_ip == dp_ip4(PEER_IP) ? 0 : 1;
		sn->repl[p]++;
		if (ok[p])
			dp_push_answer(&T, p ? PEER2_MAC : PEER_MAC, p ? PEER2_IP : PEER_IP, &s[i],
				       WEFT_ST_OK, NULL, 0, NULL, 0, 0);
	}
	dp_free_all(m, k);
}

/* Polls until done(sn) or max_ms of wall time. */
static bool poll_until(const bool ok[2], struct seen *sn, bool (*done)(const struct seen *),
		       uint64_t max_ms)
{
	uint64_t end = wall_ms() + max_ms;
	while (wall_ms() < end) {
		poll_once(ok, sn);
		if (done(sn))
			return true;
	}
	return false;
}

static bool client_answered(const struct seen *sn)
{
	return sn->client != 0;
}

static bool peer_got_one(const struct seen *sn)
{
	return sn->repl[0] > 0;
}

static bool both_got_one(const struct seen *sn)
{
	return sn->repl[0] > 0 && sn->repl[1] > 0;
}

static uint64_t depth(void)
{
	struct weft_dest *d = weft_msg_find(T.fp.dp->msgs, QUEUE, strlen(QUEUE));
	assert_non_null(d);
	struct weft_dest_stats st;
	weft_dest_lock(d);
	weft_dest_get_stats(d, &st);
	weft_dest_unlock(d);
	return st.depth;
}

/* Publishes view `view`: this node, PEER, and (k 3) PEER2 at its address
 * or without one (its record not here yet), the one segment owned by
 * owner[0..2). */
static void view(uint64_t v, uint32_t k, bool peer2_known, const uint16_t owner[2])
{
	struct member_spec mm[3] = {{NODE_IP, WEFT_DP_MEMBER_ALIVE},
				    {PEER_IP, WEFT_DP_MEMBER_ALIVE},
				    {peer2_known ? PEER2_IP : NULL, WEFT_DP_MEMBER_ALIVE}};
	dp_publish(&T, v, mm, k, owner, 2, false, NULL, 0);
	T.view = v;
}

static void test_copy_kept_until_every_owner_acked(void **state)
{
	(void)state;
	static const bool all[2] = {true, true};
	static const uint16_t own1[2] = {0, 1}, own2[2] = {1, 2};
	view(1, 2, true, own1); /* this node primary, PEER backup */
	struct weft_x_publish x = {0};
	dp_push_request(&T, CLIENT_MAC, CLIENT_IP, CLIENT_PORT, ++T.rid, WEFT_OP_PUBLISH, 0, QUEUE,
			NULL, 0, &x, sizeof(x), "m1", 2);
	struct seen sn = {{0, 0}, 0};
	assert_true(poll_until(all, &sn, client_answered, 2000));
	assert_int_equal(sn.client, 0xffff); /* OK: PEER acked the APPEND */
	assert_int_equal(depth(), 1);

	/* View 2: the owners are PEER and PEER2, whose address this node does
	 * not know yet. Only PEER gets the transfer; the copy is kept. */
	view(2, 3, false, own2);
	memset(&sn, 0, sizeof(sn));
	assert_true(poll_until(all, &sn, peer_got_one, 2000));
	for (int i = 0; i < 200; i++)
		poll_once(all, &sn); /* the acks are in; the transfer ends */
	assert_int_equal(sn.repl[1], 0);
	assert_int_equal(depth(), 1);

	/* The same view with PEER2's address: the retry pass sends to every
	 * owner, and once both acked the copy goes. */
	view(2, 3, true, own2);
	memset(&sn, 0, sizeof(sn));
	assert_true(poll_until(all, &sn, both_got_one, 3000));
	for (int i = 0; i < 200; i++)
		poll_once(all, &sn);
	assert_int_equal(depth(), 0);
}

static int group_setup(void **state)
{
	(void)state;
	if (dp_node_open(&T, "test_dp_msg_xfer", NODE_IP, NODE_PORT, CTL_PORT) != 0)
		return -1;
	dp_learn(&T, PEER_MAC, PEER_IP);
	dp_learn(&T, PEER2_MAC, PEER2_IP);
	dp_learn(&T, CLIENT_MAC, CLIENT_IP);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	dp_fakeport_close(&T.fp);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_kept_until_every_owner_acked),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
