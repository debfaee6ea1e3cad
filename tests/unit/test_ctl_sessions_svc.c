/*
 * test_ctl_sessions_svc.c — weftd's sessions service thread
 * (control/ctl_sessions.c) against the real dataplane on a fake port
 * (net_ring, one node): a poller thread plays worker 0, the test thread is
 * an in-node client (ctl_local.h) subscribed to "/topic/weft.sessions.events".
 *
 * Asserted: the service publishes the lcores' events (created,
 * invalidated) with the event / session / store properties; its expiry
 * pass finds a session past its deadline (timeout 1 s, slack 1 s) and has
 * the node remove it with EXPIRE — the "expired" event arrives without any
 * client op on the session, and the session is then gone (NO_SESSION); a
 * session in use is not expired; stop joins the thread and frees its local
 * clients (none left open). The discard of a due copy after NO_SESSION
 * (ctl_sessions_discard_due): owner or not, only up to the version its
 * scan saw.
 *
 * Every wait is bounded: RECEIVE waits of at most 1 s, at most
 * EVENT_WAIT_TRIES of them per expected event.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <weft/weft.h>

#include "ctl_local.h"
#include "ctl_sessions.h"
#include "dp_fakeport.h"
#include "dp_poller.h"

static const uint8_t NODE_IP[4] = {10, 215, 0, 2};
#define NODE_PORT 7700u
#define EVENT_WAIT_TRIES 15

static struct dp_poller T;

/* Waits (bounded) for the next session event on k: 0 with *ev / *id, or
 * -1 when none came. Checks the store property too. */
static int next_event(weft_consumer *k, enum weft_session_event *ev, struct weft_session_id *id)
{
	for (int i = 0; i < EVENT_WAIT_TRIES; i++) {
		struct weft_message m[1];
		size_t n = 0;
		void *block = NULL;
		struct weft_receive_opts ro = {.max = 1, .wait_ms = 1000};
		int rc = weft_receive(k, &ro, m, &n, &block, NULL);
		if (rc != 0 || n == 0) {
			free(block);
			continue;
		}
		const void *v;
		size_t vl;
		assert_int_equal(weft_message_prop(&m[0], "store", &v, &vl), 0);
		assert_int_equal(vl, 13);
		assert_memory_equal(v, "weft.sessions", 13);
		assert_int_equal(m[0].body_len, 0);
		assert_int_equal(weft_message_prop(&m[0], "event", &v, &vl), 0);
		*ev = 0;
		for (int e = WEFT_SESSION_CREATED; e <= WEFT_SESSION_INVALIDATED; e++) {
			const char *name = weft_session_event_name((enum weft_session_event)e);
			if (strlen(name) == vl && memcmp(name, v, vl) == 0)
				*ev = (enum weft_session_event)e;
		}
		assert_int_not_equal(*ev, 0);
		char hex[33];
		assert_int_equal(weft_message_prop(&m[0], "session", &v, &vl), 0);
		assert_int_equal(vl, 32);
		memcpy(hex, v, 32);
		hex[32] = '\0';
		assert_int_equal(weft_session_id_parse(hex, id), 0);
		free(block);
		return 0;
	}
	return -1;
}

static void expect_event(weft_consumer *k, enum weft_session_event want,
			 const struct weft_session_id *want_id)
{
	enum weft_session_event ev;
	struct weft_session_id id;
	assert_int_equal(next_event(k, &ev, &id), 0);
	assert_int_equal(ev, want);
	assert_memory_equal(id.b, want_id->b, WEFT_SESSION_ID_LEN);
}

static void test_events_and_expiry(void **state)
{
	(void)state;
	uint32_t ip;
	memcpy(&ip, NODE_IP, 4);
	struct ctl_sessions_cfg sc = {.dp = T.fp.dp, .reg = T.fp.reg, .bind_ip = ip,
				      .udp_port = NODE_PORT};
	struct ctl_sessions *svc = ctl_sessions_start(&sc);
	assert_non_null(svc);

	uint32_t cid;
	struct weft_dp_local *l = ctl_local_open(T.fp.dp, &cid);
	assert_non_null(l);
	struct weft_client_opts o;
	weft_client_opts_init(&o);
	o.timeout_ms = 300;
	weft_client *c = ctl_local_client(l, cid, "10.215.0.2:7700", &o);
	assert_non_null(c);
	weft_consumer *k = weft_consumer_open(c, "/topic/weft.sessions.events", NULL);
	assert_non_null(k);
	/* subscribe (a plain topic keeps nothing for absent subscribers) */
	struct weft_message m[1];
	size_t n;
	void *block = NULL;
	struct weft_receive_opts ro = {.max = 1, .wait_ms = 0};
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, NULL), 0);
	free(block);

	/* created, then invalidated */
	struct weft_session_id a, b;
	assert_int_equal(weft_session_create(c, NULL, 600, &a), 0);
	expect_event(k, WEFT_SESSION_CREATED, &a);
	assert_int_equal(weft_session_invalidate(c, NULL, &a), 0);
	expect_event(k, WEFT_SESSION_INVALIDATED, &a);

	/* b: 1 s timeout (slack 1 s), never touched again: the service's pass
	 * expires it. A session with the default timeout stays. */
	struct weft_session_id keep;
	assert_int_equal(weft_session_create(c, NULL, 0, &keep), 0);
	expect_event(k, WEFT_SESSION_CREATED, &keep);
	assert_int_equal(weft_session_create(c, NULL, 1, &b), 0);
	expect_event(k, WEFT_SESSION_CREATED, &b);
	assert_int_equal(weft_session_set(c, NULL, &b, "k", "v", 1), 0);
	expect_event(k, WEFT_SESSION_EXPIRED, &b);
	struct weft_session_info si;
	assert_int_equal(weft_session_info(c, NULL, &b, &si), -WEFT_ST_NO_SESSION);
	assert_int_equal(weft_session_info(c, NULL, &keep, &si), 0);
	assert_int_equal(si.max_inactive_s, WEFT_SESSION_DEFAULT_MAX_INACTIVE_S);

	weft_consumer_close(k, false);
	weft_client_close(c);
	weft_dp_local_close(l);
	ctl_sessions_stop(svc);
	assert_int_equal(__atomic_load_n(&T.fp.dp->n_locals, __ATOMIC_RELAXED), 0);
	ctl_sessions_stop(NULL);

	/* STATS shows what the service did: the five events above published,
	 * b expired by its pass, nothing lost. */
	size_t len = weft_dp_stats_format(T.fp.dp, NULL, 0);
	char *text = malloc(len + 1);
	assert_non_null(text);
	weft_dp_stats_format(T.fp.dp, text, len + 1);
	assert_non_null(strstr(text, "\nsessions_service.published 5\n"));
	assert_non_null(strstr(text, "\nsessions_service.expired 1\n"));
	assert_non_null(strstr(text, "\nsessions_service.publish_failed 0\n"));
	free(text);
}

static void test_start_refuses_bad_cfg(void **state)
{
	(void)state;
	struct ctl_sessions_cfg sc = {.dp = NULL, .reg = T.fp.reg, .udp_port = NODE_PORT};
	errno = 0;
	assert_null(ctl_sessions_start(&sc));
	assert_int_equal(errno, EINVAL);
	assert_null(ctl_sessions_start(NULL));
}

/* Publishes a view of two members (this node, a peer) with one segment
 * (seg_log2 0) owned by owner[0..n_owners). */
static void publish_two(const uint16_t *owner, uint16_t n_owners)
{
	static uint64_t view;
	struct {
		struct weft_dp_members h;
		struct weft_dp_member m[2];
	} v;
	memset(&v, 0, sizeof(v));
	for (uint32_t i = 0; i < 2; i++) {
		snprintf(v.m[i].name, sizeof(v.m[i].name), "n%u", i);
		memcpy(&v.m[i].ip, NODE_IP, 4);
		v.m[i].ip += i << 24; /* 10.215.0.2, 10.215.0.3 */
		v.m[i].port = NODE_PORT;
		v.m[i].state = WEFT_DP_MEMBER_ALIVE;
	}
	v.h.view = ++view;
	v.h.n = 2;
	v.h.self = 0;
	v.h.owners = n_owners;
	v.h.seg_owner = owner;
	assert_int_equal(weft_dp_publish_members(T.fp.dp, &v.h), 0);
}

/* A record for id in c; its version. */
static uint64_t put_record(struct weft_cache *c, const uint8_t id[WEFT_SESSION_ID_LEN])
{
	struct weft_session_record_hdr h = {.magic = WEFT_SESSION_RECORD_MAGIC,
					    .max_inactive_s = 1, .access_ms = 1};
	struct weft_cache_key k = {id, WEFT_SESSION_ID_LEN, weft_cache_hash(id, WEFT_SESSION_ID_LEN)};
	struct weft_cache_write w = {WEFT_CACHE_NO_EXPIRY, WEFT_CACHE_NO_EXPIRY};
	uint64_t ver = 0;
	assert_int_equal(weft_cache_put(c, &k, &h, sizeof(h), WEFT_CACHE_PUT, 0, &w, 1, &ver), 0);
	return ver;
}

static bool holds(struct weft_cache *c, const uint8_t id[WEFT_SESSION_ID_LEN])
{
	struct weft_cache_key k = {id, WEFT_SESSION_ID_LEN, weft_cache_hash(id, WEFT_SESSION_ID_LEN)};
	struct weft_cache_image img;
	return weft_cache_peek(c, &k, 1, &img) == 0;
}

/* What the expiry pass does when the primary answers NO_SESSION (sim bug
 * S4): the primary is authoritative, so the due copy goes whether this
 * node owns the segment or not, and with no segment table too (up to the
 * version the scan saw, no tombstone left); a copy newer than the one
 * seen stays. */
static void test_due_copy_discarded_on_no_session(void **state)
{
	(void)state;
	urcu_qsbr_thread_online();
	struct weft_cache_opts o = {.mode = WEFT_CACHE_MODE_DISTRIBUTED};
	struct weft_cache *c = weft_cache_open(T.fp.reg, "weft.sessions.stray", 19, &o, NULL);
	assert_non_null(c);
	uint8_t id[WEFT_SESSION_ID_LEN];
	memset(id, 0x5a, sizeof(id));
	struct weft_cache_key k = {id, WEFT_SESSION_ID_LEN, weft_cache_hash(id, WEFT_SESSION_ID_LEN)};

	/* no table (the self-only snapshot): discarded */
	uint64_t v1 = put_record(c, id);
	assert_true(ctl_sessions_discard_due(T.fp.dp, c, id, v1));
	assert_false(holds(c, id));
	/* an owner (backup here): discarded too, no tombstone */
	static const uint16_t with_self[] = {1, 0};
	publish_two(with_self, 2);
	v1 = put_record(c, id);
	assert_true(ctl_sessions_discard_due(T.fp.dp, c, id, v1));
	assert_false(holds(c, id));
	assert_false(weft_cache_is_deleted(c, &k, 1));
	/* the copy is newer than the one the scan saw: kept */
	static const uint16_t peer_only[] = {1};
	publish_two(peer_only, 1);
	v1 = put_record(c, id);
	uint64_t v2 = put_record(c, id);
	assert_true(v2 > v1);
	assert_false(ctl_sessions_discard_due(T.fp.dp, c, id, v1));
	assert_true(holds(c, id));
	/* not an owner, the copy seen: discarded, no tombstone */
	assert_true(ctl_sessions_discard_due(T.fp.dp, c, id, v2));
	assert_false(holds(c, id));
	assert_false(weft_cache_is_deleted(c, &k, 1));
	/* nothing left: nothing to discard */
	assert_false(ctl_sessions_discard_due(T.fp.dp, c, id, v2));
	urcu_qsbr_thread_offline();
}

static int setup(void **state)
{
	(void)state;
	return dp_poller_open(&T, "test_ctl_sessions_svc", NODE_IP, NODE_PORT);
}

static int teardown(void **state)
{
	(void)state;
	dp_poller_close(&T);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_refuses_bad_cfg),
		cmocka_unit_test(test_events_and_expiry),
		cmocka_unit_test(test_due_copy_discarded_on_no_session),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
