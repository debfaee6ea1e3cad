/*
 * libweft's address validation (cookie.c, call.c) against a scripted fake
 * node (test_client_peer.c): every request carries F_COOKIE (zeros before
 * the node gave one), a COOKIE answer is resent at once with its cookie
 * (same request id, not a timeout retry), the cookie is kept per node for
 * later calls, and a node that keeps answering COOKIE ends the call with
 * -WEFT_ST_COOKIE after two round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_internal.h"
#include "test_client_peer.h"

static const uint8_t GOOD[WEFT_COOKIE_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

struct node {
	bool stubborn;    /* answer COOKIE whatever the cookie */
	bool bare;        /* COOKIE answers carry no trailer */
	unsigned requests, cookie_answers, served;
	uint64_t rid[8];
	uint8_t seen[8][WEFT_COOKIE_LEN];
};

static void send_cookie(struct peer *p, const struct weft_wire_hdr *req, bool bare)
{
	uint8_t buf[sizeof(struct weft_wire_hdr) + WEFT_COOKIE_LEN];
	struct weft_wire_hdr h;
	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = req->opcode;
	h.flags = WEFT_F_RESPONSE | (bare ? 0 : WEFT_F_COOKIE);
	h.status = WEFT_ST_COOKIE;
	h.client_id = req->client_id;
	h.request_id = req->request_id;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), GOOD, sizeof(GOOD));
	peer_send_raw(p, buf, bare ? sizeof(h) : sizeof(buf));
}

/* A node that wants GOOD before it answers a GET. */
static void handler(struct peer *p, const uint8_t *d, size_t len)
{
	struct node *n = p->ctx;
	struct weft_wire_hdr h;
	(void)len;
	memcpy(&h, d, sizeof(h));
	unsigned i = n->requests++;
	if (i < 8) {
		n->rid[i] = h.request_id;
		memcpy(n->seen[i], p->cookie, WEFT_COOKIE_LEN);
	}
	if (n->stubborn || memcmp(p->cookie, GOOD, sizeof(GOOD)) != 0) {
		n->cookie_answers++;
		send_cookie(p, &h, n->bare);
		return;
	}
	n->served++;
	struct weft_x_version v = {9};
	peer_reply(p, &h, WEFT_ST_OK, &v, sizeof(v), "value", 5);
}

static weft_client *client_for(const struct peer *p)
{
	struct weft_client_opts o = {.timeout_ms = 200, .retries = 2, .deadline_ms = 5000};
	weft_client *c = weft_client_connect(p->addr, &o);
	assert_non_null(c);
	weft_client_set_routing(c, false);
	return c;
}

static void test_round_trip_then_kept(void **state)
{
	(void)state;
	struct node n = {0};
	struct peer p;
	peer_start(&p, handler, &n);
	weft_client *c = client_for(&p);
	void *v = NULL;
	size_t vl = 0;
	assert_int_equal(weft_get(c, "c", "k", 1, &v, &vl, NULL), 0);
	assert_int_equal(vl, 5);
	assert_memory_equal(v, "value", 5);
	free(v);
	/* A second call carries the cookie at once. */
	assert_int_equal(weft_get(c, "c", "k", 1, &v, &vl, NULL), 0);
	free(v);
	weft_client_close(c);
	peer_stop(&p);
	assert_int_equal(p.cookies, n.requests); /* every request had F_COOKIE */
	assert_int_equal(n.requests, 3);
	assert_int_equal(n.cookie_answers, 1);
	uint8_t zero[WEFT_COOKIE_LEN] = {0};
	assert_memory_equal(n.seen[0], zero, WEFT_COOKIE_LEN); /* none known yet */
	assert_memory_equal(n.seen[1], GOOD, WEFT_COOKIE_LEN);
	assert_memory_equal(n.seen[2], GOOD, WEFT_COOKIE_LEN);
	assert_int_equal(n.rid[1], n.rid[0]); /* resent under the same id */
	assert_int_not_equal(n.rid[2], n.rid[1]);
}

static void test_stubborn_node_is_an_error(void **state)
{
	(void)state;
	for (int bare = 0; bare < 2; bare++) {
		struct node n = {.stubborn = true, .bare = bare};
		struct peer p;
		peer_start(&p, handler, &n);
		weft_client *c = client_for(&p);
		void *v = NULL;
		size_t vl = 0;
		assert_int_equal(weft_get(c, "c", "k", 1, &v, &vl, NULL), -WEFT_ST_COOKIE);
		assert_null(v);
		assert_int_equal(c->cookie_trips, WEFT_COOKIE_TRIPS);
		weft_client_close(c);
		peer_stop(&p);
		/* the first send and two cookie round trips, no timeout retry */
		assert_int_equal(n.requests, 1 + WEFT_COOKIE_TRIPS);
	}
}

static void test_trailer_codec(void **state)
{
	(void)state;
	uint8_t d[sizeof(struct weft_wire_hdr) + WEFT_COOKIE_LEN];
	struct weft_wire_hdr h = {.magic = WEFT_WIRE_MAGIC, .flags = WEFT_F_RESPONSE};
	memcpy(d, &h, sizeof(h));
	memcpy(d + sizeof(h), GOOD, sizeof(GOOD));
	uint8_t got[WEFT_COOKIE_LEN];
	size_t len = sizeof(d);
	assert_false(weft_cookie_strip(d, &len, got)); /* no F_COOKIE: no trailer */
	assert_int_equal(len, sizeof(d));
	d[offsetof(struct weft_wire_hdr, flags)] |= WEFT_F_COOKIE;
	assert_true(weft_cookie_strip(d, &len, got));
	assert_int_equal(len, sizeof(h));
	assert_memory_equal(got, GOOD, sizeof(GOOD));
	len = sizeof(h) + 3; /* too short for a trailer */
	assert_false(weft_cookie_strip(d, &len, got));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_then_kept),
		cmocka_unit_test(test_stubborn_node_is_an_error),
		cmocka_unit_test(test_trailer_codec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
