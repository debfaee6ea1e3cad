/*
 * test_swim.c — unit tests of the membership state machine through its
 * public API, on a tiny deterministic harness: a FIFO network with no loss
 * (or a black hole per node) and a manual clock ticked in 1 ms steps. Each
 * test asserts a protocol promise: join and one view, crash detection and a
 * view without the dead node, coordinator hand-over (crash and leave),
 * Lifeguard confirmations, refutation by incarnation, graceful leave,
 * restart as a new life, a view's word for a new life this node never
 * heard of (S5), a joiner listed in a view but never answered (H),
 * duplicate-id refusal with its explanation, no
 * amplification towards unvalidated addresses, and rejection of malformed
 * datagrams without any state change.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "membership.h"

#define MAXN 6
#define QMAX 8192

struct qmsg {
	int from, to;
	size_t len;
	uint8_t *data;
};

struct tnode {
	struct weft_swim *sm;
	uint64_t first_suspect_at, first_down_at;   /* about anyone */
	struct weft_swim_id id;
	uint64_t nonce;
	struct weft_swim_addr addr;
	bool blackhole;
	int ev[8];
	uint32_t last_up_inc;
	char reason[400];
	struct weft_swim_sink sink;
	int idx;
};

static struct {
	struct tnode n[MAXN];
	int count;
	struct qmsg q[QMAX];
	unsigned qh, qt;
	uint64_t now;
	uint8_t last_ping[2048];
	size_t last_ping_len;
	bool group;                  /* make_node: set a discovery group */
	size_t stray_bytes;          /* sent to addresses of no node */
	uint32_t stray_types;        /* bit per message type */
	uint8_t stray[128];          /* the last such datagram (head) */
} H;

static int node_of(const struct weft_swim_addr *a)
{
	for (int i = 0; i < H.count; i++)
		if (H.n[i].addr.ip == a->ip && H.n[i].addr.port == a->port)
			return i;
	return -1;
}

static void on_send(void *ctx, const struct weft_swim_addr *to,
		    const void *buf, size_t len)
{
	struct tnode *n = ctx;
	int dst = node_of(to);

	if (((const uint8_t *)buf)[3] == 1 && len <= sizeof(H.last_ping)) {
		memcpy(H.last_ping, buf, len);
		H.last_ping_len = len;
	}
	if (dst < 0) {
		H.stray_bytes += len;
		H.stray_types |= 1u << ((const uint8_t *)buf)[3];
		memcpy(H.stray, buf, len < sizeof(H.stray) ? len : sizeof(H.stray));
		return;
	}
	if (n->blackhole || H.n[dst].blackhole ||
	    H.qt - H.qh >= QMAX)
		return;
	struct qmsg *m = &H.q[H.qt++ % QMAX];

	m->from = n->idx;
	m->to = dst;
	m->len = len;
	m->data = malloc(len);
	assert_non_null(m->data);
	memcpy(m->data, buf, len);
}

static void on_event(void *ctx, const struct weft_swim_event *ev)
{
	struct tnode *n = ctx;

	n->ev[ev->kind]++;
	if (ev->kind == WEFT_SWIM_EV_SUSPECT && !n->first_suspect_at)
		n->first_suspect_at = H.now;
	if (ev->kind == WEFT_SWIM_EV_DOWN && !n->first_down_at)
		n->first_down_at = H.now;
	if (ev->kind == WEFT_SWIM_EV_MEMBER_UP)
		n->last_up_inc = ev->incarnation;
	if (ev->kind == WEFT_SWIM_EV_REFUSED)
		snprintf(n->reason, sizeof(n->reason), "%s", ev->reason);
}

static void make_node(int i, uint8_t idbyte, uint64_t nonce, uint32_t ip)
{
	struct tnode *n = &H.n[i];
	struct weft_swim_config cfg;

	weft_swim_destroy(n->sm);
	memset(n, 0, sizeof(*n));
	n->idx = i;
	n->id.b[0] = idbyte;
	n->nonce = nonce;
	n->addr = (struct weft_swim_addr){ ip, 7800 };
	n->sink = (struct weft_swim_sink){ n, on_send, on_event };
	weft_swim_config_default(&cfg);
	cfg.max_members = 16;
	cfg.id = n->id;
	cfg.nonce = nonce;
	cfg.addr = n->addr;
	if (H.group)
		cfg.group = (struct weft_swim_addr){ 0xef010203u, 7900 };
	cfg.seed = 42 + (uint64_t)i;
	snprintf(cfg.name, sizeof(cfg.name), "node-%u", i);
	n->sm = weft_swim_create(&cfg, H.now);
	assert_non_null(n->sm);
	if (i >= H.count)
		H.count = i + 1;
}

static void deliver_all(void)
{
	for (unsigned k = 0; k < 100000 && H.qh != H.qt; k++) {
		struct qmsg m = H.q[H.qh++ % QMAX];
		struct tnode *d = &H.n[m.to];

		if (d->sm && !d->blackhole)
			weft_swim_recv(d->sm, H.now, &H.n[m.from].addr, m.data,
				       m.len, &d->sink);
		free(m.data);
	}
}

static void run_ms(uint64_t ms)
{
	for (uint64_t end = H.now + ms; H.now < end; H.now++) {
		for (int i = 0; i < H.count; i++)
			if (H.n[i].sm && !H.n[i].blackhole &&
			    weft_swim_next_deadline(H.n[i].sm) <= H.now)
				weft_swim_tick(H.n[i].sm, H.now, &H.n[i].sink);
		deliver_all();
	}
}

static int setup(void **state)
{
	(void)state;
	memset(&H, 0, sizeof(H));
	H.now = 1000;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < MAXN; i++)
		weft_swim_destroy(H.n[i].sm);
	while (H.qh != H.qt)
		free(H.q[H.qh++ % QMAX].data);
	return 0;
}

/* Node 0 forms the cluster; the others join through it. */
static void form(int n)
{
	for (int i = 0; i < n; i++)
		make_node(i, (uint8_t)(0x10 + i), 100 + (uint64_t)i,
			  0x0a000001u + (uint32_t)i);
	assert_int_equal(weft_swim_join(H.n[0].sm, H.now, NULL, 0, &H.n[0].sink), 0);
	for (int i = 1; i < n; i++)
		assert_int_equal(weft_swim_join(H.n[i].sm, H.now, &H.n[0].addr, 1,
						&H.n[i].sink), 0);
	run_ms(3000);
}

static void assert_one_view(int expect_members)
{
	struct weft_swim_view_id id0, id;
	uint32_t n0, n;
	int coords = 0;

	assert_non_null(weft_swim_view(H.n[0].sm, &id0, &n0));
	assert_int_equal(n0, (uint32_t)expect_members);
	for (int i = 0; i < H.count; i++) {
		if (!H.n[i].sm || H.n[i].blackhole)
			continue;
		if (H.n[i].ev[WEFT_SWIM_EV_REFUSED] || H.n[i].ev[WEFT_SWIM_EV_LEAVE_DONE])
			continue;
		assert_non_null(weft_swim_view(H.n[i].sm, &id, &n));
		assert_int_equal(weft_swim_view_id_cmp(&id, &id0), 0);
		assert_int_equal(n, n0);
		coords += weft_swim_is_coordinator(H.n[i].sm);
	}
	assert_int_equal(coords, 1);
}

static void test_bad_config(void **state)
{
	struct weft_swim_config cfg;

	(void)state;
	weft_swim_config_default(&cfg);
	errno = 0;
	assert_null(weft_swim_create(&cfg, 0));      /* no address */
	assert_int_equal(errno, EINVAL);
	cfg.addr.ip = 1;
	cfg.probe_timeout_ms = cfg.probe_interval_ms;
	assert_null(weft_swim_create(&cfg, 0));
	cfg.probe_timeout_ms = 100;
	cfg.max_members = WEFT_SWIM_MAX_MEMBERS + 1;
	assert_null(weft_swim_create(&cfg, 0));
	cfg.max_members = 16;
	snprintf(cfg.name, sizeof(cfg.name), "two words");  /* receivers refuse it */
	assert_null(weft_swim_create(&cfg, 0));
	cfg.name[3] = '\t';
	assert_null(weft_swim_create(&cfg, 0));
	memset(cfg.name, 'a', sizeof(cfg.name));            /* not terminated */
	assert_null(weft_swim_create(&cfg, 0));
	cfg.name[WEFT_SWIM_NAME_MAX] = '\0';                 /* 64 bytes: fine */
	struct weft_swim *sm = weft_swim_create(&cfg, 0);
	assert_non_null(sm);
	weft_swim_destroy(sm);
}

static void test_join_one_view(void **state)
{
	enum weft_swim_state st;

	(void)state;
	form(4);
	assert_one_view(4);
	assert_true(weft_swim_is_coordinator(H.n[0].sm));   /* oldest */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(H.n[i].ev[WEFT_SWIM_EV_JOINED], 1);
		for (int j = 0; j < 4; j++) {
			assert_int_equal(weft_swim_member_state(H.n[i].sm, &H.n[j].id,
								&st, NULL), 0);
			assert_int_equal(st, WEFT_SWIM_ALIVE);
		}
	}
	assert_int_equal(weft_swim_join(H.n[1].sm, H.now, NULL, 0, &H.n[1].sink),
			 -EALREADY);
}

static void test_idle_has_no_deadline(void **state)
{
	(void)state;
	make_node(0, 1, 1, 0x0a000001u);
	assert_int_equal(weft_swim_next_deadline(H.n[0].sm), UINT64_MAX);
	assert_int_equal(weft_swim_join(H.n[0].sm, H.now, NULL, 0, &H.n[0].sink), 0);
	assert_true(weft_swim_next_deadline(H.n[0].sm) >= H.now);
	assert_true(weft_swim_next_deadline(H.n[0].sm) < UINT64_MAX);
}

static void test_crash_detected(void **state)
{
	enum weft_swim_state st;

	(void)state;
	form(4);
	H.n[3].blackhole = true;            /* crashed: silent both ways */
	run_ms(4000);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(weft_swim_member_state(H.n[i].sm, &H.n[3].id, &st,
							NULL), 0);
		assert_int_equal(st, WEFT_SWIM_DEAD);
		assert_true(H.n[i].ev[WEFT_SWIM_EV_DOWN] >= 1);
	}
	assert_one_view(3);
}

/* A node crashed for good stays out: once its DEAD record is collected on
 * some nodes (dead_keep_ms) while others still hold it, full-state syncs
 * carry it as SUSPECT; that must not re-admit it (it once came back every
 * ~40 s, changing the view twice each time). */
/* The lease (membership.h, docs/membership.md "The lease"): none before a
 * view or alone; in a healthy cluster it never lapses; a node paused past
 * failure detection wakes with a lapsed lease and does not renew it until
 * it is back in the others' view. */
static void test_lease(void **state)
{
	struct weft_swim_view_id id2, id0;
	uint32_t n;

	(void)state;
	make_node(0, 0x10, 100, 0x0a000001u);
	assert_int_equal(weft_swim_lease_until(H.n[0].sm), UINT64_MAX);
	assert_int_equal(weft_swim_join(H.n[0].sm, H.now, NULL, 0, &H.n[0].sink), 0);
	run_ms(3000);
	assert_non_null(weft_swim_view(H.n[0].sm, &id0, &n));
	assert_int_equal(n, 1); /* alone: nobody can take its place */
	assert_int_equal(weft_swim_lease_until(H.n[0].sm), UINT64_MAX);

	teardown(NULL);
	setup(NULL);
	form(3);
	assert_one_view(3);
	for (int t = 0; t < 3000; t++) {
		run_ms(1);
		for (int i = 0; i < 3; i++) {
			uint64_t until = weft_swim_lease_until(H.n[i].sm);
			assert_true(until > H.now);
			assert_true(until <= H.now + WEFT_SWIM_LEASE_MS);
		}
	}

	/* n2 paused (no ticks, nothing delivered) for 4 s: declared dead. */
	H.n[2].blackhole = true;
	run_ms(4000);
	assert_one_view(2);
	assert_true(weft_swim_lease_until(H.n[2].sm) <= H.now);
	/* Resumed: its probes are acknowledged under the newer view, which
	 * renews nothing, until it is in the others' view again. */
	H.n[2].blackhole = false;
	bool back = false;
	for (int t = 0; t < 5000 && !back; t++) {
		run_ms(1);
		assert_non_null(weft_swim_view(H.n[0].sm, &id0, &n));
		assert_non_null(weft_swim_view(H.n[2].sm, &id2, &n));
		back = weft_swim_view_id_cmp(&id2, &id0) == 0 && n == 3;
		if (!back)
			assert_true(weft_swim_lease_until(H.n[2].sm) <=
				    H.now);
	}
	assert_true(back);
	run_ms(1000);
	assert_true(weft_swim_lease_until(H.n[2].sm) > H.now);
}

static void test_dead_node_stays_out(void **state)
{
	unsigned ups[3];

	(void)state;
	/* Joins 2.5 s apart put the nodes' collection timers out of phase. */
	for (int i = 0; i < 4; i++)
		make_node(i, (uint8_t)(0x10 + i), 100 + (uint64_t)i, 0x0a000001u + (uint32_t)i);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(weft_swim_join(H.n[i].sm, H.now, i ? &H.n[0].addr : NULL,
						i ? 1 : 0, &H.n[i].sink),
				 0);
		run_ms(2500);
	}
	run_ms(10000);
	assert_one_view(4);
	H.n[3].blackhole = true;
	run_ms(4000);
	assert_one_view(3);
	for (int i = 0; i < 3; i++)
		ups[i] = H.n[i].ev[WEFT_SWIM_EV_MEMBER_UP];
	run_ms(120000);                     /* 4 x dead_keep_ms, 12 syncs */
	for (int i = 0; i < 3; i++)
		assert_int_equal(H.n[i].ev[WEFT_SWIM_EV_MEMBER_UP], ups[i]);
	assert_one_view(3);
}

/* Lifeguard: independent suspicions shorten the suspicion timeout from its
 * maximum (3 x 800 ms at this size) towards its minimum (800 ms). */
static void test_confirmations_shorten_suspicion(void **state)
{
	(void)state;
	form(5);
	H.n[4].blackhole = true;
	run_ms(6000);
	uint64_t longest = 0;

	for (int i = 0; i < 4; i++) {
		uint64_t d = H.n[i].first_down_at - H.n[i].first_suspect_at;

		assert_true(H.n[i].first_suspect_at > 0);
		assert_true(H.n[i].first_down_at > H.n[i].first_suspect_at);
		assert_true(d < 2400);
		longest = d > longest ? d : longest;
	}
	/* Whoever declared it dead did so on its own timer, never before the
	 * minimum (the others may learn it by gossip sooner). */
	assert_true(longest >= 800);
	assert_one_view(4);
}

static void test_coordinator_leaves(void **state)
{
	(void)state;
	form(4);
	assert_true(weft_swim_is_coordinator(H.n[0].sm));
	assert_int_equal(weft_swim_leave(H.n[0].sm, H.now, &H.n[0].sink), 0);
	assert_false(weft_swim_is_coordinator(H.n[0].sm));
	run_ms(2000);
	assert_true(weft_swim_is_coordinator(H.n[1].sm));
	for (int i = 1; i < 4; i++)
		assert_int_equal(H.n[i].ev[WEFT_SWIM_EV_DOWN], 0);
	assert_one_view(3);
}

static void test_coordinator_crash(void **state)
{
	(void)state;
	form(4);
	H.n[0].blackhole = true;
	run_ms(5000);
	assert_true(weft_swim_is_coordinator(H.n[1].sm));   /* next oldest */
	{
		struct weft_swim_view_id id;
		uint32_t n;

		assert_non_null(weft_swim_view(H.n[1].sm, &id, &n));
		assert_int_equal(n, 3);
		assert_memory_equal(&id.coord.id, &H.n[1].id, 16);
	}
}

/* Helpers to craft raw datagrams (format: docs/membership.md). */
static size_t put_hdr(uint8_t *p, uint8_t type, uint8_t sender)
{
	memset(p, 0, 60);
	p[0] = 'W';
	p[1] = 'M';
	p[2] = 2;
	p[3] = type;
	p[4] = sender;
	p[20] = 1;                           /* nonce 1 */
	return 60;
}

static size_t put_rec(uint8_t *p, uint8_t state, const struct tnode *n,
		      uint32_t inc, uint8_t from)
{
	size_t o = 0;

	p[o++] = (uint8_t)(state | (from ? 0x80 : 0) | 0x40);  /* + name */
	memcpy(p + o, n->id.b, 16);
	o += 16;
	for (int i = 0; i < 8; i++)
		p[o++] = (uint8_t)(n->nonce >> (8 * i));
	for (int i = 0; i < 4; i++)
		p[o++] = (uint8_t)(n->addr.ip >> (8 * i));
	p[o++] = (uint8_t)n->addr.port;
	p[o++] = (uint8_t)(n->addr.port >> 8);
	for (int i = 0; i < 4; i++)
		p[o++] = (uint8_t)(inc >> (8 * i));
	if (from) {
		memset(p + o, 0, 16);
		p[o] = from;
		o += 16;
	}
	p[o++] = 2;                          /* name "tx" */
	p[o++] = 't';
	p[o++] = 'x';
	return o;
}

static void test_refutation(void **state)
{
	uint8_t b[256];
	size_t len;
	struct weft_swim_addr fake = { 0x0a0000f0u, 7800 };
	enum weft_swim_state st;

	(void)state;
	form(3);
	/* Someone claims node 1 is suspect at its current incarnation 0. */
	len = put_hdr(b, 12, 0xee);
	b[len++] = 1;
	len += put_rec(b + len, WEFT_SWIM_SUSPECT, &H.n[1], 0, 0xee);
	assert_int_equal(weft_swim_recv(H.n[0].sm, H.now, &fake, b, len,
					&H.n[0].sink), 0);
	assert_int_equal(H.n[0].ev[WEFT_SWIM_EV_SUSPECT], 1);
	run_ms(2000);
	/* Node 1 refuted with incarnation 1; nobody declared it down. */
	assert_int_equal(weft_swim_member_state(H.n[0].sm, &H.n[1].id, &st, NULL), 0);
	assert_int_equal(st, WEFT_SWIM_ALIVE);
	assert_int_equal(H.n[0].last_up_inc, 1);
	assert_int_equal(H.n[0].ev[WEFT_SWIM_EV_DOWN], 0);
	assert_int_equal(H.n[2].ev[WEFT_SWIM_EV_DOWN], 0);
}

static void test_graceful_leave(void **state)
{
	enum weft_swim_state st;

	(void)state;
	form(4);
	assert_int_equal(weft_swim_leave(H.n[3].sm, H.now, &H.n[3].sink), 0);
	assert_int_equal(weft_swim_leave(H.n[3].sm, H.now, &H.n[3].sink), -EALREADY);
	run_ms(2000);
	assert_int_equal(H.n[3].ev[WEFT_SWIM_EV_LEAVE_DONE], 1);
	assert_int_equal(weft_swim_next_deadline(H.n[3].sm), UINT64_MAX);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(weft_swim_member_state(H.n[i].sm, &H.n[3].id, &st,
							NULL), 0);
		assert_int_equal(st, WEFT_SWIM_LEFT);
		assert_int_equal(H.n[i].ev[WEFT_SWIM_EV_DOWN], 0);
	}
	assert_one_view(3);
}

static void test_restart_new_life(void **state)
{
	enum weft_swim_state st;
	uint64_t nonce;
	struct weft_swim_view_id id;
	uint32_t n;
	const struct weft_swim_view_member *v;
	bool found = false;

	(void)state;
	form(3);
	/* Node 2 crashes and comes back at once: same id and address, larger
	 * nonce, empty memory. */
	make_node(2, 0x12, 5000, 0x0a000003u);
	assert_int_equal(weft_swim_join(H.n[2].sm, H.now, &H.n[0].addr, 1,
					&H.n[2].sink), 0);
	run_ms(3000);
	assert_int_equal(weft_swim_member_state(H.n[0].sm, &H.n[2].id, &st, &nonce), 0);
	assert_int_equal(st, WEFT_SWIM_ALIVE);
	assert_int_equal(nonce, 5000);
	v = weft_swim_view(H.n[1].sm, &id, &n);
	assert_non_null(v);
	for (uint32_t i = 0; i < n; i++)
		found |= !memcmp(&v[i].id, &H.n[2].id, 16) && v[i].nonce == 5000;
	assert_true(found);
	assert_one_view(3);
}

/* Every member learns every other member's name (and address) through the
 * join and gossip records. */
static void test_names_learned(void **state)
{
	struct weft_swim_member_info info;
	char want[WEFT_SWIM_NAME_MAX + 1];

	(void)state;
	form(3);
	assert_one_view(3);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			assert_int_equal(weft_swim_member_info(H.n[i].sm, &H.n[j].id,
							       &info), 0);
			snprintf(want, sizeof(want), "node-%d", j);
			assert_string_equal(info.name, want);
			assert_int_equal(info.addr.ip, H.n[j].addr.ip);
			assert_int_equal(info.state, WEFT_SWIM_ALIVE);
		}
	struct weft_swim_id unknown = { { 0x77 } };
	assert_int_equal(weft_swim_member_info(H.n[0].sm, &unknown, &info), -ENOENT);
}

static size_t big_max_len;

static void big_send(void *ctx, const struct weft_swim_addr *to, const void *buf,
		     size_t len)
{
	(void)ctx;
	(void)to;
	(void)buf;
	if (len > big_max_len)
		big_max_len = len;
}

static void big_event(void *ctx, const struct weft_swim_event *ev)
{
	(void)ctx;
	(void)ev;
}

/* A full state whose names would not fit one datagram goes out without
 * them (and within one datagram); gossip still carries the names. */
static void test_full_state_drops_names_to_fit(void **state)
{
	struct weft_swim_config cfg;
	struct weft_swim_sink sink = { NULL, big_send, big_event };
	struct weft_swim_addr from = { 0x0a0000f0u, 7800 };
	struct weft_swim_member_info info;
	static uint8_t b[WEFT_SWIM_MSG_MAX];
	const unsigned per = 250, rounds = 4, n = per * rounds;

	(void)state;
	weft_swim_config_default(&cfg);
	cfg.max_members = 1100;
	cfg.id.b[0] = 0x01;
	cfg.nonce = 1;
	cfg.addr = (struct weft_swim_addr){ 0x0a000001u, 7800 };
	snprintf(cfg.name, sizeof(cfg.name), "self");
	struct weft_swim *sm = weft_swim_create(&cfg, 1000);
	assert_non_null(sm);
	assert_int_equal(weft_swim_join(sm, 1000, NULL, 0, &sink), 0);
	for (unsigned k = 0; k < rounds; k++) {
		size_t len = put_hdr(b, 12, 0xee);
		b[len++] = (uint8_t)per;
		for (unsigned i = 0; i < per; i++) {
			unsigned id = k * per + i + 1;
			uint8_t *r = b + len;
			memset(r, 0, 35);
			r[0] = WEFT_SWIM_ALIVE | 0x40;
			r[1] = 0x80;
			r[2] = (uint8_t)(id >> 8);
			r[3] = (uint8_t)id;
			r[17] = 1;                           /* nonce 1 */
			r[25] = (uint8_t)id;                 /* ip 11.0.x.y */
			r[26] = (uint8_t)(id >> 8);
			r[28] = 11;
			r[29] = (uint8_t)7800;
			r[30] = (uint8_t)(7800 >> 8);
			r[35] = WEFT_SWIM_NAME_MAX;
			memset(r + 36, 'x', WEFT_SWIM_NAME_MAX);
			snprintf((char *)r + 36, 6, "m%04u", id);
			r[41] = 'x';                         /* snprintf's NUL */
			len += 36 + WEFT_SWIM_NAME_MAX;
		}
		assert_int_equal(weft_swim_recv(sm, 1000, &from, b, len, &sink), 0);
	}
	struct weft_swim_stats st;
	weft_swim_get_stats(sm, &st);
	assert_int_equal(st.members, n + 1);
	struct weft_swim_id one = { { 0x80, 0, 1 } };
	assert_int_equal(weft_swim_member_info(sm, &one, &info), 0);
	assert_int_equal(strlen(info.name), WEFT_SWIM_NAME_MAX);
	assert_memory_equal(info.name, "m0001x", 6);
	/* With every name the state would be ~100 KB: the periodic SYNC must
	 * carry all n + 1 records (35 bytes each) and no names. */
	big_max_len = 0;
	for (uint64_t t = 1000; t <= 12000; t += 10)
		if (weft_swim_next_deadline(sm) <= t)
			weft_swim_tick(sm, t, &sink);
	assert_true(big_max_len >= 60 + 8 + 2 + (size_t)(n + 1) * 35);
	assert_true(big_max_len < 60 + 8 + 2 + (size_t)(n + 1) * 35 + 8);
	assert_true(big_max_len <= WEFT_SWIM_MSG_MAX);
	weft_swim_destroy(sm);
}

static void test_duplicate_id_refused(void **state)
{
	enum weft_swim_state st;
	uint64_t nonce;

	(void)state;
	form(3);
	/* A copied home: node 1's id, another address, started later. */
	make_node(3, 0x11, 9000, 0x0a000009u);
	assert_int_equal(weft_swim_join(H.n[3].sm, H.now, &H.n[0].addr, 1,
					&H.n[3].sink), 0);
	run_ms(3000);
	assert_int_equal(H.n[3].ev[WEFT_SWIM_EV_REFUSED], 1);
	assert_int_equal(H.n[3].ev[WEFT_SWIM_EV_JOINED], 0);
	assert_non_null(strstr(H.n[3].reason, "duplicate node id"));
	assert_non_null(strstr(H.n[3].reason, "data/node-id"));
	assert_int_equal(weft_swim_next_deadline(H.n[3].sm), UINT64_MAX);
	/* The original is untouched. */
	assert_int_equal(weft_swim_member_state(H.n[0].sm, &H.n[1].id, &st, &nonce), 0);
	assert_int_equal(st, WEFT_SWIM_ALIVE);
	assert_int_equal(nonce, 101);
	H.count = 3;
	assert_one_view(3);
}

static void test_malformed_rejected(void **state)
{
	struct weft_swim_stats before, after;
	struct weft_swim_addr from = { 0x0a000001u, 7800 };
	uint8_t b[2048];
	size_t len;
	uint32_t x = 12345;

	(void)state;
	form(2);
	assert_true(H.last_ping_len > 60);
	len = H.last_ping_len;
	memcpy(b, H.last_ping, len);
	weft_swim_get_stats(H.n[1].sm, &before);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &from, b, cut,
						&H.n[1].sink), -EBADMSG);
	b[len] = 0;                                   /* trailing byte */
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &from, b, len + 1,
					&H.n[1].sink), -EBADMSG);
	b[2] = 1;                                     /* old version */
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &from, b, len,
					&H.n[1].sink), -EBADMSG);
	b[2] = 2;
	b[3] = 99;                                    /* unknown type */
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &from, b, len,
					&H.n[1].sink), -EBADMSG);
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &from, NULL, 0,
					&H.n[1].sink), -EBADMSG);
	/* A gossip count larger than the bytes that follow. */
	len = put_hdr(b, 12, 0xee);
	b[len++] = 3;
	len += put_rec(b + len, WEFT_SWIM_ALIVE, &H.n[0], 7, 0);
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &from, b, len,
					&H.n[1].sink), -EBADMSG);
	/* Names: too long, with a space, with a NUL byte. */
	len = put_hdr(b, 12, 0xee);
	b[len++] = 1;
	len += put_rec(b + len, WEFT_SWIM_ALIVE, &H.n[0], 7, 0);
	b[len - 3] = WEFT_SWIM_NAME_MAX + 1;
	memset(b + len - 2, 'a', WEFT_SWIM_NAME_MAX + 1);
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &from, b,
					len - 2 + WEFT_SWIM_NAME_MAX + 1,
					&H.n[1].sink), -EBADMSG);
	b[len - 3] = 2;
	b[len - 1] = ' ';
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &from, b, len,
					&H.n[1].sink), -EBADMSG);
	b[len - 1] = '\0';
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &from, b, len,
					&H.n[1].sink), -EBADMSG);
	b[len - 3] = 0;                               /* flagged, but empty */
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &from, b, len - 2,
					&H.n[1].sink), -EBADMSG);
	/* Reserved flag bits set. */
	len = put_hdr(b, 12, 0xee);
	b[len++] = 3;
	len += put_rec(b + len, WEFT_SWIM_ALIVE, &H.n[0], 7, 0);
	b[60] = 1;
	b[61] |= 0x10;
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &from, b, len,
					&H.n[1].sink), -EBADMSG);
	weft_swim_get_stats(H.n[1].sm, &after);
	assert_int_equal(after.members, before.members);
	assert_int_equal(after.broadcasts, before.broadcasts);
	assert_true(after.rx_dropped >= before.rx_dropped + H.last_ping_len + 9);
	/* Random corruption of a valid datagram: never a crash. */
	for (int k = 0; k < 2000; k++) {
		memcpy(b, H.last_ping, H.last_ping_len);
		x = x * 1103515245u + 12345u;
		b[60 + (x >> 8) % (H.last_ping_len - 60)] ^= (uint8_t)(x >> 24 | 1);
		weft_swim_recv(H.n[1].sm, H.now, &from, b, H.last_ping_len,
			       &H.n[1].sink);
	}
}

static size_t put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return 8;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* A VIEW datagram installed by `coord` (its life in H.n[coord]) listing
 * nodes idx[i] with lives nonce[i]. */
static size_t put_view(uint8_t *p, uint64_t counter, int coord, const int *idx,
		       const uint64_t *nonce, int n)
{
	size_t o = put_hdr(p, 11, 0xee);

	o += put_u64(p + o, counter);
	memcpy(p + o, H.n[coord].id.b, 16);
	o += 16;
	o += put_u64(p + o, H.n[coord].nonce);
	p[o++] = (uint8_t)n;
	p[o++] = 0;
	for (int i = 0; i < n; i++) {
		memcpy(p + o, H.n[idx[i]].id.b, 16);
		o += 16;
		o += put_u64(p + o, nonce[i]);
	}
	return o;
}

/* Simulator bug S5 (docs/simulation.md): a node holds a member's previous
 * life DOWN and never gets a record of its new one, which the coordinator
 * lists in its views. Adopting such a view records the listed life ALIVE
 * (incarnation 0, the known address), so the node probes it and a later
 * coordinator keeps it; a view listing the very life the node holds DOWN
 * does not bring it back; and the recorded life still goes DOWN the
 * normal way when it does not answer. */
static void test_view_lists_new_life(void **state)
{
	struct weft_swim_addr fake = { 0x0a0000f0u, 7800 };
	static const int idx[4] = { 0, 1, 2, 3 };
	uint64_t nonce[4] = { 100, 101, 102, 103 };
	struct weft_swim_member_info info;
	struct weft_swim_view_id vid;
	uint8_t b[512];
	uint32_t n;
	int ups;

	(void)state;
	form(4);
	H.n[3].blackhole = true;
	run_ms(4000);
	assert_int_equal(weft_swim_member_info(H.n[2].sm, &H.n[3].id, &info), 0);
	assert_int_equal(info.state, WEFT_SWIM_DEAD);
	assert_int_equal(info.nonce, 103);
	assert_non_null(weft_swim_view(H.n[2].sm, &vid, &n));
	ups = H.n[2].ev[WEFT_SWIM_EV_MEMBER_UP];
	/* The life node 2 holds DOWN: adopted as a view, not resurrected. */
	assert_int_equal(weft_swim_recv(H.n[2].sm, H.now, &fake, b,
					put_view(b, vid.counter + 1, 0, idx, nonce, 4),
					&H.n[2].sink), 0);
	assert_non_null(weft_swim_view(H.n[2].sm, &vid, &n));
	assert_int_equal(n, 4);
	assert_int_equal(weft_swim_member_info(H.n[2].sm, &H.n[3].id, &info), 0);
	assert_int_equal(info.state, WEFT_SWIM_DEAD);
	assert_int_equal(info.nonce, 103);
	/* A newer life of node 3 that node 2 never heard of. */
	nonce[3] = 5000;
	assert_int_equal(weft_swim_recv(H.n[2].sm, H.now, &fake, b,
					put_view(b, vid.counter + 1, 0, idx, nonce, 4),
					&H.n[2].sink), 0);
	assert_int_equal(weft_swim_member_info(H.n[2].sm, &H.n[3].id, &info), 0);
	assert_int_equal(info.state, WEFT_SWIM_ALIVE);
	assert_int_equal(info.nonce, 5000);
	assert_int_equal(info.incarnation, 0);
	assert_int_equal(info.addr.ip, H.n[3].addr.ip);
	assert_int_equal(info.addr.port, H.n[3].addr.port);
	assert_string_equal(info.name, "node-3"); /* the name of the life before */
	assert_int_equal(H.n[2].ev[WEFT_SWIM_EV_MEMBER_UP], ups + 1);
	/* Node 3 is silent: that life fails its probes and goes DOWN. */
	run_ms(8000);
	assert_int_equal(weft_swim_member_info(H.n[2].sm, &H.n[3].id, &info), 0);
	assert_int_equal(info.state, WEFT_SWIM_DEAD);
	assert_int_equal(info.nonce, 5000);
	assert_one_view(3);
}

/* Known bug H (docs/simulation.md): a node joining by multicast announce
 * (no seeds; the harness delivers no multicast, like a lost announce) is
 * admitted and listed in a view, but its JOIN_ACK is lost; the coordinator
 * ignores the ANNOUNCEs of a node it holds live, so the node formed a
 * cluster of its own at its join deadline, a view every other node then
 * adopted. A VIEW that lists the joining life makes it JOIN its sender. */
static void test_listed_joiner_joins(void **state)
{
	static const int idx[4] = { 0, 1, 2, 3 };
	static const uint64_t nonce[4] = { 100, 101, 102, 5000 };
	struct weft_swim_view_id vid;
	uint8_t b[512];
	uint32_t n;

	(void)state;
	form(3);
	H.group = true;
	make_node(3, 0x13, 5000, 0x0a000004u);
	H.group = false;
	assert_int_equal(weft_swim_join(H.n[3].sm, H.now, NULL, 0, &H.n[3].sink), 0);
	run_ms(100);
	assert_int_equal(H.n[3].ev[WEFT_SWIM_EV_JOINED], 0);
	assert_non_null(weft_swim_view(H.n[0].sm, &vid, &n));
	/* Node 0's view, as if it had admitted node 3 (JOIN_ACK lost). */
	assert_int_equal(weft_swim_recv(H.n[3].sm, H.now, &H.n[0].addr, b,
					put_view(b, vid.counter + 1, 0, idx, nonce, 4),
					&H.n[3].sink), 0);
	run_ms(1000);                       /* before the join deadline */
	assert_int_equal(H.n[3].ev[WEFT_SWIM_EV_JOINED], 1);
	run_ms(3000);
	assert_int_equal(H.n[3].ev[WEFT_SWIM_EV_JOINED], 1);
	assert_one_view(4);
}

/* Requests from an address the cluster does not know get answers no
 * larger than 3x the request (RFC 9000 §8.1) until the sender proves it
 * receives at that address by echoing a cookie. */
static void test_no_amplification(void **state)
{
	struct tnode fake = { .nonce = 1, .addr = { 0x0a0000f0u, 7800 } };
	uint8_t b[512];
	size_t len;
	uint64_t cookie;
	enum weft_swim_state st;

	(void)state;
	fake.id.b[0] = 0xee;
	form(3);
	/* JOIN without a cookie: only a COOKIE comes back. */
	len = put_hdr(b, 5, 0xee);
	len += put_rec(b + len, WEFT_SWIM_ALIVE, &fake, 0, 0);
	len += put_u64(b + len, 0);
	H.stray_bytes = 0;
	H.stray_types = 0;
	assert_int_equal(weft_swim_recv(H.n[0].sm, H.now, &fake.addr, b, len,
					&H.n[0].sink), 0);
	assert_true(H.stray_bytes <= 3 * len);
	assert_int_equal(H.stray_types, 1u << 14);
	assert_int_equal(weft_swim_member_state(H.n[0].sm, &fake.id, &st, NULL),
			 -ENOENT);
	/* Echoing the cookie: admitted, and the full state comes back. */
	cookie = get_u64(H.stray + 61);
	put_u64(b + len - 8, cookie);
	H.stray_types = 0;
	assert_int_equal(weft_swim_recv(H.n[0].sm, H.now, &fake.addr, b, len,
					&H.n[0].sink), 0);
	assert_true(H.stray_types & (1u << 6));           /* JOIN_ACK */
	assert_int_equal(weft_swim_member_state(H.n[0].sm, &fake.id, &st, NULL), 0);
	assert_int_equal(st, WEFT_SWIM_ALIVE);
	/* SYNC, VIEW_REQ and PING from another stranger: small answers, and
	 * the SYNC's state is not merged. */
	fake.id.b[0] = 0xef;
	fake.addr.ip = 0x0a0000f1u;
	len = put_hdr(b, 8, 0xef);
	len += put_u64(b + len, 0);
	b[len++] = 1;
	b[len++] = 0;
	len += put_rec(b + len, WEFT_SWIM_ALIVE, &fake, 0, 0);
	H.stray_bytes = 0;
	H.stray_types = 0;
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &fake.addr, b, len,
					&H.n[1].sink), 0);
	assert_int_equal(H.stray_types, 1u << 14);
	assert_true(H.stray_bytes <= 3 * len);
	assert_int_equal(weft_swim_member_state(H.n[1].sm, &fake.id, &st, NULL),
			 -ENOENT);
	len = put_hdr(b, 10, 0xef);
	len += put_u64(b + len, 0);
	H.stray_bytes = 0;
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &fake.addr, b, len,
					&H.n[1].sink), 0);
	assert_true(H.stray_bytes <= 3 * len);
	len = put_hdr(b, 1, 0xef);
	memset(b + len, 0, 28);
	memcpy(b + len + 4, H.n[1].id.b, 16);
	put_u64(b + len + 20, H.n[1].nonce);
	len += 28;
	b[len++] = 0;
	H.stray_bytes = 0;
	H.stray_types = 0;
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &fake.addr, b, len,
					&H.n[1].sink), 0);
	assert_int_equal(H.stray_types, 1u << 2);          /* ACK */
	assert_true(H.stray_bytes <= 3 * len);
	/* PING_REQ from the stranger, naming node 2 at a third party's
	 * address: nothing is relayed anywhere (it once sent a PING with
	 * gossip to any address a stranger named, and a NACK back). */
	len = put_hdr(b, 3, 0xef);
	memset(b + len, 0, 34);
	memcpy(b + len + 4, H.n[2].id.b, 16);
	put_u64(b + len + 20, H.n[2].nonce);
	b[len + 28] = 9;                                     /* 10.9.9.9:53, LE */
	b[len + 29] = 9;
	b[len + 30] = 9;
	b[len + 31] = 10;
	b[len + 32] = 53;
	len += 34;
	b[len++] = 0;
	H.stray_bytes = 0;
	H.stray_types = 0;
	assert_int_equal(weft_swim_recv(H.n[1].sm, H.now, &fake.addr, b, len,
					&H.n[1].sink), 0);
	assert_int_equal(H.stray_bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_has_no_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_one_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_node_stays_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_leaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_confirmations_shorten_suspicion,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_refutation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_graceful_leave, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_new_life, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_lists_new_life, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listed_joiner_joins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_learned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_state_drops_names_to_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_id_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_amplification, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
