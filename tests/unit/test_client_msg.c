/*
 * libweft messaging (weft.h "Messaging") against a fake 3-node cluster on
 * loopback: three scripted fake nodes (test_client_peer.c) answer TOPOLOGY
 * with the table test_client_peer.c encodes (16 segments, 2 owners;
 * segment s's owners are node (s + rot) % 3 then (s + rot + 1) % 3),
 * answer the messaging ops as the test scripts them, and log every request
 * but FETCH.
 *
 * Asserted: PUBLISH carries the ttl, the property list and the body as
 * wire.h lays them out, and its weft_x_published is returned; FULL
 * surfaces as -WEFT_ST_FULL; RECEIVE's extras (consumer id, wait, max,
 * visibility, durable key) and its message lists (several messages with
 * properties; a long list pulled with FETCH) are parsed; malformed lists
 * are -WEFT_ST_PROTOCOL; a GONE answer is asked again once under a new
 * request id; ACK / NACK send the ids (in batches of WEFT_MAX_ACK); queue
 * and durable ops go to the primary of the routing name (".dlq" stripped),
 * plain topic ops to the seed; a RECEIVE that timed out at a dead primary
 * is re-sent to the new one, a PUBLISH is not; a RECEIVE held by the node
 * for its wait is not retransmitted; weft_listen acks and nacks as its
 * callback says; invalid arguments send nothing.
 *
 * Every wait is bounded: client timeouts are short, the peers poll with a
 * cap (test_client_peer.h), weft_listen gets a max_ms.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "client_internal.h"
#include "test_client_peer.h"

#define LOG_MAX 256u
#define SCRIPT_MAX 8u
#define LIST_MAX (64u << 10)

/* One scripted RECEIVE answer. */
struct answer {
	uint16_t status;
	uint32_t count, dropped;
	uint8_t *list; /* malloc'd, freed at teardown */
	size_t len;
	bool no_extras; /* a malformed OK: without weft_x_received */
};

struct cluster {
	struct peer_cluster pc; /* the nodes, the table, mu */
	/* scenario */
	uint16_t publish_status;
	unsigned hold_ms;            /* delay before a RECEIVE's answer */
	struct answer script[SCRIPT_MAX];
	unsigned n_script, next_answer;
	uint8_t long_resp[LIST_MAX + 64]; /* the kept long response, for FETCH */
	uint32_t long_len;
	uint16_t long_xlen;
	/* what happened */
	unsigned fetches; /* FETCH requests (not in the log) */
	struct peer_rec log[LOG_MAX]; /* pc's log */
};

/* The primary of destination name under rotation rot. */
static unsigned primary_of(unsigned rot, const char *name)
{
	size_t rl = weft_wire_dest_route_len(name, strlen(name));
	return (peer_cluster_seg(name, rl) + rot) % PEER_NODES;
}

/* A name "PREFIX<i>SUFFIX" whose primary (rot 0) is node. */
static void name_on(char *out, size_t cap, const char *prefix, const char *suffix, unsigned node)
{
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(out, cap, "%s%u%s", prefix, i, suffix);
		if (primary_of(0, out) == node)
			return;
	}
	fail_msg("no name found");
}

/* Sends extras + list, in pieces when longer than a datagram (the first
 * WEFT_RESP_INITIAL_WINDOW at once; the rest on FETCH). */
static void send_receive_answer(struct cluster *cl, struct peer *p, const struct weft_wire_hdr *h,
				const struct answer *a)
{
	struct weft_x_received x = { .count = a->count, .dropped = a->dropped };
	uint16_t xlen = a->status == WEFT_ST_OK && !a->no_extras ? sizeof(x) : 0;
	if (xlen + a->len <= WEFT_MAX_DGRAM_PAYLOAD) {
		peer_reply(p, h, a->status, &x, xlen, a->list, (uint32_t)a->len);
		return;
	}
	memcpy(cl->long_resp, &x, sizeof(x));
	memcpy(cl->long_resp + sizeof(x), a->list, a->len);
	cl->long_len = (uint32_t)(sizeof(x) + a->len);
	cl->long_xlen = sizeof(x);
	uint32_t pieces = (cl->long_len + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
	for (uint32_t k = 0; k < pieces && k < WEFT_RESP_INITIAL_WINDOW; k++)
		peer_send_piece(p, h, WEFT_OP_RECEIVE, a->status, cl->long_resp, cl->long_len,
				cl->long_xlen, k);
}

static void serve_fetch(struct cluster *cl, struct peer *p, const struct weft_wire_hdr *h,
			const uint8_t *extras)
{
	struct weft_x_fetch f;
	memcpy(&f, extras, sizeof(f));
	cl->fetches++;
	uint32_t first = f.offset / WEFT_MAX_DGRAM_PAYLOAD;
	uint32_t pieces = (cl->long_len + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
	for (uint32_t k = first; k < first + f.count && k < pieces; k++)
		peer_send_piece(p, h, WEFT_OP_RECEIVE, WEFT_ST_OK, cl->long_resp, cl->long_len,
				cl->long_xlen, k);
}

static void answer_req(void *ctx, struct peer *p, const struct peer_req *q)
{
	struct cluster *cl = ctx;
	const struct weft_wire_hdr h = q->h;
	const uint8_t *name = q->name, *extras = q->extras;
	switch (h.opcode) {
	case WEFT_OP_PUBLISH: {
		struct weft_x_published x = { .id = 77, .fanout = 3 };
		bool ok = cl->publish_status == WEFT_ST_OK;
		peer_reply(p, &h, cl->publish_status, &x, ok ? sizeof(x) : 0, NULL, 0);
		break;
	}
	case WEFT_OP_RECEIVE: {
		struct answer empty = { .status = WEFT_ST_OK };
		const struct answer *a = cl->next_answer < cl->n_script
						 ? &cl->script[cl->next_answer++]
						 : &empty;
		if (cl->hold_ms)
			usleep(cl->hold_ms * 1000u);
		send_receive_answer(cl, p, &h, a);
		break;
	}
	case WEFT_OP_FETCH:
		serve_fetch(cl, p, &h, extras);
		break;
	case WEFT_OP_ACK: {
		struct weft_x_ack a;
		memcpy(&a, extras, sizeof(a));
		struct weft_x_acked x = { .done = a.count };
		peer_reply(p, &h, WEFT_ST_OK, &x, sizeof(x), NULL, 0);
		break;
	}
	case WEFT_OP_DEST_STOP:
		peer_reply(p, &h, strstr((const char *)name, "none") ? WEFT_ST_NOT_FOUND : WEFT_ST_OK,
			   NULL, 0, NULL, 0);
		break;
	case WEFT_OP_DESTINATIONS: {
		static const char text[] = "/queue/a primary depth=3 inflight=1\n";
		peer_reply(p, &h, WEFT_ST_OK, NULL, 0, text, sizeof(text) - 1);
		break;
	}
	default:
		peer_reply(p, &h, WEFT_ST_OK, NULL, 0, NULL, 0);
	}
}

static int setup(void **state)
{
	struct cluster *cl = calloc(1, sizeof(*cl));
	assert_non_null(cl);
	peer_cluster_start(&cl->pc, answer_req, cl, cl->log, LOG_MAX);
	*state = cl;
	return 0;
}

static int teardown(void **state)
{
	struct cluster *cl = *state;
	peer_cluster_destroy(&cl->pc);
	for (unsigned i = 0; i < cl->n_script; i++)
		free(cl->script[i].list);
	free(cl);
	return 0;
}

/* --- message lists ---------------------------------------------------- */

struct list {
	uint8_t *buf;
	size_t len;
};

static void list_add(struct list *l, uint64_t id, uint16_t deliveries, const void *props,
		     uint32_t props_len, const void *body, uint32_t body_len)
{
	struct weft_msg_hdr h = { .id = id, .expires_ms = id * 1000u, .props_len = props_len,
				  .body_len = body_len, .deliveries = deliveries };
	l->buf = realloc(l->buf, l->len + sizeof(h) + props_len + body_len);
	assert_non_null(l->buf);
	memcpy(l->buf + l->len, &h, sizeof(h));
	if (props_len)
		memcpy(l->buf + l->len + sizeof(h), props, props_len);
	if (body_len)
		memcpy(l->buf + l->len + sizeof(h) + props_len, body, body_len);
	l->len += sizeof(h) + props_len + body_len;
}

/* Scripts the next RECEIVE answer (takes l's buffer). */
static void script(struct cluster *cl, uint16_t status, uint32_t count, struct list *l)
{
	pthread_mutex_lock(&cl->pc.mu);
	assert_true(cl->n_script < SCRIPT_MAX);
	cl->script[cl->n_script++] = (struct answer){ .status = status, .count = count,
						      .list = l ? l->buf : NULL,
						      .len = l ? l->len : 0 };
	pthread_mutex_unlock(&cl->pc.mu);
	if (l)
		*l = (struct list){ 0 };
}

static size_t encode_props(const struct weft_prop *p, size_t n, uint8_t *out)
{
	uint8_t *b;
	size_t len;
	assert_int_equal(weft_props_encode(p, n, &b, &len), 0);
	if (len)
		memcpy(out, b, len);
	free(b);
	return len;
}

/* --- tests ------------------------------------------------------------- */

static void test_publish_encodes(void **state)
{
	struct cluster *cl = *state;
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	char dest[64];
	name_on(dest, sizeof(dest), "/queue/pub", "", 1);
	const struct weft_prop props[] = {
		{ .name = "content-type", .value = "text/plain", .value_len = 10 },
		{ .name = "cid", .value = "42", .value_len = 2 },
		{ .name = "empty", .value = NULL, .value_len = 0 },
	};
	struct weft_publish_opts po = { .ttl_ms = 5000, .props = props, .n_props = 3 };
	uint64_t id = 0;
	uint32_t fanout = 0;
	assert_int_equal(weft_publish(c, dest, "hello", 5, &po, &id, &fanout), 0);
	assert_int_equal(id, 77);
	assert_int_equal(fanout, 3);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);

	struct peer_rec r[4];
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_PUBLISH, r, 4), 1);
	assert_int_equal(r[0].node, 1); /* the primary */
	assert_string_equal(r[0].name, dest);
	assert_string_equal(r[0].key, "");
	struct weft_x_publish x;
	assert_int_equal(r[0].extras_len, sizeof(x));
	memcpy(&x, r[0].extras, sizeof(x));
	assert_int_equal(x.ttl_ms, 5000);
	/* [12]content-type[10]text/plain [3]cid[2]42 [5]empty[0] */
	static const uint8_t want[] = "\x0c" "content-type" "\x0a\x00" "text/plain"
				      "\x03" "cid" "\x02\x00" "42"
				      "\x05" "empty" "\x00\x00"
				      "hello";
	assert_int_equal(x.props_len, sizeof(want) - 1 - 5);
	assert_int_equal(r[0].value_len, sizeof(want) - 1);
	assert_memory_equal(r[0].value, want, sizeof(want) - 1);
}

static void test_publish_full(void **state)
{
	struct cluster *cl = *state;
	cl->publish_status = WEFT_ST_FULL;
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	uint64_t id = 12345;
	assert_int_equal(weft_publish(c, "/queue/full", "x", 1, NULL, &id, NULL), -WEFT_ST_FULL);
	assert_int_equal(id, 12345); /* untouched on error */
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);
	struct peer_rec r[4];
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_PUBLISH, r, 4), 1); /* not retried */
	assert_int_equal(r[0].value_len, 1);
}

static void test_invalid_args_send_nothing(void **state)
{
	struct cluster *cl = *state;
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	static const char *const bad_names[] = {
		"/queue/", "/topic/", "/foo/x", "queue/x", "/queue/a b", "/queue/a\tb", "",
		"/queue/0123456789012345678901234567890123456789012345678901234567", /* 65 */
	};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		assert_int_equal(weft_publish(c, bad_names[i], "x", 1, NULL, NULL, NULL),
				 -WEFT_ST_INVALID_ARG);
		assert_int_equal(weft_dest_open(c, bad_names[i], NULL), -WEFT_ST_INVALID_ARG);
		assert_int_equal(weft_dest_stop(c, bad_names[i]), -WEFT_ST_INVALID_ARG);
		errno = 0;
		assert_null(weft_consumer_open(c, bad_names[i], NULL));
		assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(weft_publish(c, NULL, "x", 1, NULL, NULL, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_publish(NULL, "/queue/a", "x", 1, NULL, NULL, NULL),
			 -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_publish(c, "/queue/a", NULL, 1, NULL, NULL, NULL),
			 -WEFT_ST_INVALID_ARG);
	static uint8_t big[WEFT_MAX_BODY_LEN + 1];
	assert_int_equal(weft_publish(c, "/queue/a", big, sizeof(big), NULL, NULL, NULL),
			 -WEFT_ST_INVALID_ARG);

	char long_name[WEFT_MAX_NAME_LEN + 2];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	static char long_value[WEFT_MAX_PROP_VALUE_LEN + 1];
	const struct weft_prop bad_props[][1] = {
		{ { .name = "", .value = "v", .value_len = 1 } },
		{ { .name = NULL, .value = "v", .value_len = 1 } },
		{ { .name = long_name, .value = "v", .value_len = 1 } },
		{ { .name = "ctl\x01", .value = "v", .value_len = 1 } },
		{ { .name = "n", .value = NULL, .value_len = 1 } },
		{ { .name = "n", .value = long_value, .value_len = sizeof(long_value) } },
	};
	for (size_t i = 0; i < sizeof(bad_props) / sizeof(bad_props[0]); i++) {
		struct weft_publish_opts po = { .props = bad_props[i], .n_props = 1 };
		assert_int_equal(weft_publish(c, "/queue/a", "x", 1, &po, NULL, NULL),
				 -WEFT_ST_INVALID_ARG);
	}
	/* Each valid, together over WEFT_MAX_PROPS_LEN. */
	struct weft_prop many[5];
	for (unsigned i = 0; i < 5; i++)
		many[i] = (struct weft_prop){ .name = "p", .value = long_value,
					      .value_len = WEFT_MAX_PROP_VALUE_LEN };
	struct weft_publish_opts po = { .props = many, .n_props = 5 };
	assert_int_equal(weft_publish(c, "/queue/a", "x", 1, &po, NULL, NULL), -WEFT_ST_INVALID_ARG);
	po = (struct weft_publish_opts){ .props = NULL, .n_props = 1 };
	assert_int_equal(weft_publish(c, "/queue/a", "x", 1, &po, NULL, NULL), -WEFT_ST_INVALID_ARG);

	/* Consumers: a durable name on a queue, or too long, or empty. */
	char long_key[WEFT_MAX_NAME_LEN + 2];
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	assert_null(weft_consumer_open(c, "/queue/a", "d"));
	assert_null(weft_consumer_open(c, "/topic/a", ""));
	assert_null(weft_consumer_open(c, "/topic/a", long_key));
	assert_null(weft_consumer_open(c, "/topic/a", "sub a"));
	assert_null(weft_consumer_open(NULL, "/topic/a", NULL));
	weft_consumer *k = weft_consumer_open(c, "/queue/a", NULL);
	assert_non_null(k);
	struct weft_message m[2];
	size_t n;
	void *block;
	struct weft_receive_opts ro = { .max = WEFT_MAX_RECEIVE + 1 };
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, NULL), -WEFT_ST_INVALID_ARG);
	ro = (struct weft_receive_opts){ .max = 1, .wait_ms = WEFT_MAX_RECEIVE_WAIT_MS + 1 };
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_receive(k, NULL, NULL, &n, &block, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_ack(k, NULL, 3, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_ack(NULL, NULL, 0, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_consumer_close(k, false), 0); /* never subscribed: nothing sent */
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);
	assert_int_equal(cl->pc.n_log, 0);
}

static void test_receive_parses_list(void **state)
{
	struct cluster *cl = *state;
	uint8_t props[256];
	const struct weft_prop pr[] = {
		{ .name = "content-type", .value = "application/json", .value_len = 16 },
		{ .name = "cid", .value = "c-1", .value_len = 3 },
	};
	size_t plen = encode_props(pr, 2, props);
	struct list l = { 0 };
	list_add(&l, 10, 1, props, (uint32_t)plen, "first", 5);
	list_add(&l, 11, 2, NULL, 0, "", 0);
	list_add(&l, 12, 1, NULL, 0, "third", 5);
	script(cl, WEFT_ST_OK, 3, &l);

	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	char dest[64];
	name_on(dest, sizeof(dest), "/topic/dur", "", 2);
	weft_consumer *k = weft_consumer_open(c, dest, "sub-a");
	assert_non_null(k);
	assert_int_not_equal(weft_consumer_id(k), 0);
	struct weft_message m[8];
	size_t n = 0;
	void *block = NULL;
	uint32_t dropped = 99;
	struct weft_receive_opts ro = { .max = 8, .wait_ms = 0, .visibility_ms = 1234 };
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, &dropped), 0);
	assert_int_equal(n, 3);
	assert_int_equal(dropped, 0);
	assert_non_null(block);
	assert_int_equal(m[0].id, 10);
	assert_int_equal(m[0].deliveries, 1);
	assert_int_equal(m[0].expires_ms, 10000);
	assert_int_equal(m[0].body_len, 5);
	assert_memory_equal(m[0].body, "first", 5);
	assert_int_equal(m[0].props_len, plen);
	const void *v;
	size_t vl;
	assert_int_equal(weft_message_prop(&m[0], "cid", &v, &vl), 0);
	assert_int_equal(vl, 3);
	assert_memory_equal(v, "c-1", 3);
	assert_int_equal(weft_message_prop(&m[0], "content-type", &v, &vl), 0);
	assert_int_equal(vl, 16);
	assert_memory_equal(v, "application/json", 16);
	assert_int_equal(weft_message_prop(&m[0], "cidx", &v, &vl), -WEFT_ST_NOT_FOUND);
	assert_int_equal(weft_message_prop(&m[1], "cid", &v, &vl), -WEFT_ST_NOT_FOUND);
	assert_int_equal(m[1].id, 11);
	assert_int_equal(m[1].deliveries, 2);
	assert_int_equal(m[1].body_len, 0);
	assert_int_equal(m[2].id, 12);
	assert_memory_equal(m[2].body, "third", 5);
	free(block);

	/* Nothing more: 0 messages, no block. */
	block = (void *)1;
	assert_int_equal(weft_receive(k, NULL, m, &n, &block, NULL), 0);
	assert_int_equal(n, 0);
	assert_null(block);
	uint64_t kid = weft_consumer_id(k);
	assert_int_equal(weft_consumer_close(k, true), 0);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);

	struct peer_rec r[4];
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_RECEIVE, r, 4), 2);
	assert_int_equal(r[0].node, 2); /* a durable subscription: the topic's primary */
	assert_string_equal(r[0].name, dest);
	assert_string_equal(r[0].key, "sub-a");
	struct weft_x_receive x;
	assert_int_equal(r[0].extras_len, sizeof(x));
	memcpy(&x, r[0].extras, sizeof(x));
	assert_int_equal(x.consumer_id, kid);
	assert_int_equal(x.max, 8);
	assert_int_equal(x.wait_ms, 0);
	assert_int_equal(x.visibility_ms, 1234);
	memcpy(&x, r[1].extras, sizeof(x));
	assert_int_equal(x.max, 1); /* ro NULL */
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_UNSUBSCRIBE, r, 4), 1);
	assert_int_equal(r[0].node, 2);
	assert_string_equal(r[0].key, "sub-a"); /* remove_durable */
	struct weft_x_unsubscribe u;
	memcpy(&u, r[0].extras, sizeof(u));
	assert_int_equal(u.consumer_id, kid);
}

static void test_receive_long_list_fetch(void **state)
{
	struct cluster *cl = *state;
	static uint8_t body[3][20000];
	struct list l = { 0 };
	for (unsigned i = 0; i < 3; i++) {
		for (size_t b = 0; b < sizeof(body[i]); b++)
			body[i][b] = (uint8_t)(b * 7 + i);
		list_add(&l, 100 + i, 1, NULL, 0, body[i], sizeof(body[i]));
	}
	script(cl, WEFT_ST_OK, 3, &l);
	weft_client *c = peer_cluster_client(&cl->pc, 300, 3);
	weft_consumer *k = weft_consumer_open(c, "/queue/long", NULL);
	struct weft_message m[4];
	size_t n;
	void *block;
	struct weft_receive_opts ro = { .max = 4 };
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, NULL), 0);
	assert_int_equal(n, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(m[i].id, 100 + i);
		assert_int_equal(m[i].body_len, sizeof(body[i]));
		assert_memory_equal(m[i].body, body[i], sizeof(body[i]));
	}
	free(block);
	weft_consumer_close(k, false);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);
	assert_true(cl->fetches > 0); /* 42 pieces: 10 beyond the first window */
}

static void test_malformed_lists(void **state)
{
	struct cluster *cl = *state;
	struct weft_message m[4];
	/* Through the network: count says 3, the list holds 2. */
	struct list l = { 0 };
	list_add(&l, 1, 1, NULL, 0, "a", 1);
	list_add(&l, 2, 1, NULL, 0, "b", 1);
	script(cl, WEFT_ST_OK, 3, &l);
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	weft_consumer *k = weft_consumer_open(c, "/queue/bad", NULL);
	size_t n = 42;
	void *block = NULL;
	struct weft_receive_opts ro = { .max = 4 };
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, NULL), -WEFT_ST_PROTOCOL);
	assert_int_equal(n, 42);
	assert_null(block);
	/* More messages than asked for. */
	list_add(&l, 1, 1, NULL, 0, "a", 1);
	list_add(&l, 2, 1, NULL, 0, "b", 1);
	script(cl, WEFT_ST_OK, 2, &l);
	ro.max = 1;
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, NULL), -WEFT_ST_PROTOCOL);
	/* OK without the weft_x_received extras. */
	script(cl, WEFT_ST_OK, 0, NULL);
	pthread_mutex_lock(&cl->pc.mu);
	cl->script[cl->n_script - 1].no_extras = true;
	pthread_mutex_unlock(&cl->pc.mu);
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, NULL), -WEFT_ST_PROTOCOL);
	weft_consumer_close(k, false);
	weft_client_close(c);

	/* The parser on its own. */
	struct list g = { 0 };
	list_add(&g, 5, 1, "\x01" "a" "\x01\x00" "v", 5, "body", 4);
	assert_int_equal(weft_msglist_decode(g.buf, g.len, 1, m, 4), 0);
	assert_int_equal(weft_msglist_decode(g.buf, g.len, 0, m, 4), -WEFT_ST_PROTOCOL); /* trailing */
	assert_int_equal(weft_msglist_decode(g.buf, g.len - 1, 1, m, 4), -WEFT_ST_PROTOCOL);
	assert_int_equal(weft_msglist_decode(g.buf, 31, 1, m, 4), -WEFT_ST_PROTOCOL); /* half a header */
	assert_int_equal(weft_msglist_decode(g.buf, g.len, 2, m, 4), -WEFT_ST_PROTOCOL);
	assert_int_equal(weft_msglist_decode(NULL, 0, 0, m, 4), 0);
	uint8_t *copy = malloc(g.len);
	struct weft_msg_hdr h;
	/* body_len pointing past the end (and overflowing 32 bits with props) */
	memcpy(copy, g.buf, g.len);
	memcpy(&h, copy, sizeof(h));
	h.body_len = UINT32_MAX;
	memcpy(copy, &h, sizeof(h));
	assert_int_equal(weft_msglist_decode(copy, g.len, 1, m, 4), -WEFT_ST_PROTOCOL);
	h.body_len = 4;
	h.props_len = UINT32_MAX - 2;
	memcpy(copy, &h, sizeof(h));
	assert_int_equal(weft_msglist_decode(copy, g.len, 1, m, 4), -WEFT_ST_PROTOCOL);
	/* a property whose value runs past props_len */
	memcpy(copy, g.buf, g.len);
	copy[sizeof(h) + 2] = 9;
	assert_int_equal(weft_msglist_decode(copy, g.len, 1, m, 4), -WEFT_ST_PROTOCOL);
	/* a property name with a control byte */
	memcpy(copy, g.buf, g.len);
	copy[sizeof(h) + 1] = 0x07;
	assert_int_equal(weft_msglist_decode(copy, g.len, 1, m, 4), -WEFT_ST_PROTOCOL);
	free(copy);
	free(g.buf);
}

static void test_gone_resent_with_new_id(void **state)
{
	struct cluster *cl = *state;
	struct list l = { 0 };
	script(cl, WEFT_ST_GONE, 0, NULL);
	list_add(&l, 7, 1, NULL, 0, "again", 5);
	script(cl, WEFT_ST_OK, 1, &l);
	script(cl, WEFT_ST_GONE, 0, NULL);
	script(cl, WEFT_ST_GONE, 0, NULL);
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	weft_consumer *k = weft_consumer_open(c, "/queue/g", NULL);
	struct weft_message m[2];
	size_t n;
	void *block;
	struct weft_receive_opts ro = { .max = 2 };
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, NULL), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(m[0].body, "again", 5);
	free(block);
	/* Gone twice: the second GONE is the answer. */
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, NULL), -WEFT_ST_GONE);
	weft_consumer_close(k, false);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);
	struct peer_rec r[8];
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_RECEIVE, r, 8), 4);
	assert_int_not_equal(r[0].rid, r[1].rid);
	assert_int_not_equal(r[2].rid, r[3].rid);
	assert_memory_equal(r[0].extras, r[1].extras, sizeof(struct weft_x_receive));
}

static void test_ack_nack_ids(void **state)
{
	struct cluster *cl = *state;
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	char dest[64];
	name_on(dest, sizeof(dest), "/queue/ack", "", 1);
	weft_consumer *k = weft_consumer_open(c, dest, NULL);
	uint64_t ids[200];
	for (unsigned i = 0; i < 200; i++)
		ids[i] = 1000 + i;
	uint32_t done = 0;
	assert_int_equal(weft_ack(k, ids, 3, &done), 0);
	assert_int_equal(done, 3);
	assert_int_equal(weft_nack(k, ids + 3, 1, &done), 0);
	assert_int_equal(done, 1);
	assert_int_equal(weft_ack(k, ids, 200, &done), 0);
	assert_int_equal(done, 200);
	assert_int_equal(weft_ack(k, ids, 0, &done), 0);
	assert_int_equal(done, 0);
	uint64_t kid = weft_consumer_id(k);
	weft_consumer_close(k, false);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);

	struct peer_rec r[8];
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_ACK, r, 8), 4);
	struct weft_x_ack x;
	memcpy(&x, r[0].extras, sizeof(x));
	assert_int_equal(r[0].node, 1);
	assert_int_equal(x.consumer_id, kid);
	assert_int_equal(x.kind, WEFT_ACK_ACK);
	assert_int_equal(x.count, 3);
	assert_int_equal(r[0].value_len, 3 * 8);
	assert_memory_equal(r[0].value, ids, 3 * 8);
	memcpy(&x, r[1].extras, sizeof(x));
	assert_int_equal(x.kind, WEFT_ACK_NACK);
	assert_int_equal(x.count, 1);
	assert_memory_equal(r[1].value, ids + 3, 8);
	memcpy(&x, r[2].extras, sizeof(x));
	assert_int_equal(x.count, WEFT_MAX_ACK);
	assert_int_equal(r[2].value_len, WEFT_MAX_ACK * 8);
	memcpy(&x, r[3].extras, sizeof(x));
	assert_int_equal(x.count, 200 - WEFT_MAX_ACK);
	/* r[3].value holds the ids from WEFT_MAX_ACK on (only the datagram's
	 * first part is logged, but 72 ids fit). */
	assert_memory_equal(r[3].value, ids + WEFT_MAX_ACK, (200 - WEFT_MAX_ACK) * 8);
	/* never received: no UNSUBSCRIBE */
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_UNSUBSCRIBE, r, 8), 0);
}

static void test_queue_ops_to_primary_of_routing_name(void **state)
{
	struct cluster *cl = *state;
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	char q[64], dlq[80];
	name_on(q, sizeof(q), "/queue/r", "", 2);
	snprintf(dlq, sizeof(dlq), "%s.dlq", q);
	assert_int_equal(primary_of(0, dlq), 2);
	assert_int_equal(weft_dest_open(c, q, NULL), 0);
	assert_int_equal(weft_publish(c, dlq, "d", 1, NULL, NULL, NULL), 0);
	weft_consumer *k = weft_consumer_open(c, dlq, NULL);
	struct weft_message m[1];
	size_t n;
	void *block;
	assert_int_equal(weft_receive(k, NULL, m, &n, &block, NULL), 0);
	uint64_t id = 5;
	assert_int_equal(weft_ack(k, &id, 1, NULL), 0);
	assert_int_equal(weft_consumer_close(k, false), 0);
	assert_int_equal(weft_dest_stop(c, q), 0);
	assert_int_equal(weft_dest_stop(c, "/queue/none"), -WEFT_ST_NOT_FOUND);
	char *text;
	size_t len;
	assert_int_equal(weft_destinations(c, &text, &len), 0);
	assert_string_equal(text, "/queue/a primary depth=3 inflight=1\n");
	assert_int_equal(len, strlen(text));
	free(text);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);

	unsigned none_node = primary_of(0, "/queue/none");
	for (unsigned i = 0; i < cl->pc.n_log; i++) {
		const struct peer_rec *r = &cl->pc.log[i];
		if (r->op == WEFT_OP_TOPOLOGY || r->op == WEFT_OP_DESTINATIONS)
			assert_int_equal(r->node, 0); /* the seed */
		else if (strcmp(r->name, "/queue/none") == 0)
			assert_int_equal(r->node, none_node);
		else
			assert_int_equal(r->node, 2);
	}
	struct peer_rec r[4];
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_PUBLISH, r, 4), 1);
	assert_string_equal(r[0].name, dlq); /* the name itself, routed by q */
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_DEST_OPEN, r, 4), 1);
	assert_int_equal(r[0].extras_len, sizeof(struct weft_x_dest_opts));
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_UNSUBSCRIBE, r, 4), 1);
	assert_string_equal(r[0].key, "");
}

static void test_plain_topic_to_seed(void **state)
{
	struct cluster *cl = *state;
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	char t[64];
	name_on(t, sizeof(t), "/topic/t", "", 2);
	weft_consumer *k = weft_consumer_open(c, t, NULL);
	struct weft_message m[1];
	size_t n;
	void *block;
	assert_int_equal(weft_receive(k, NULL, m, &n, &block, NULL), 0);
	uint64_t id = 9;
	uint32_t done = 5;
	assert_int_equal(weft_ack(k, &id, 1, &done), 0); /* nothing to ack */
	assert_int_equal(done, 0);
	assert_int_equal(weft_publish(c, t, "p", 1, NULL, NULL, NULL), 0);
	assert_int_equal(weft_consumer_close(k, false), 0);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);
	struct peer_rec r[4];
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_RECEIVE, r, 4), 1);
	assert_int_equal(r[0].node, 0);
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_UNSUBSCRIBE, r, 4), 1);
	assert_int_equal(r[0].node, 0);
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_ACK, r, 4), 0);
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_PUBLISH, r, 4), 1);
	assert_int_equal(r[0].node, 2); /* publishing goes to the topic's primary */
}

static void test_receive_resent_after_failover_publish_not(void **state)
{
	struct cluster *cl = *state;
	char q[64];
	name_on(q, sizeof(q), "/queue/f", "", 1);
	unsigned next = primary_of(1, q);
	assert_int_not_equal(next, 1);
	struct list l = { 0 };
	list_add(&l, 3, 1, NULL, 0, "x", 1);
	script(cl, WEFT_ST_OK, 1, &l);

	weft_client *c = peer_cluster_client(&cl->pc, 100, 1);
	assert_int_equal(weft_dest_open(c, q, NULL), 0); /* fetches the table */
	weft_consumer *k = weft_consumer_open(c, q, NULL);
	peer_cluster_set(&cl->pc, 1, 6, 1, true); /* table moves, old primary dead */
	struct weft_message m[1];
	size_t n;
	void *block;
	assert_int_equal(weft_receive(k, NULL, m, &n, &block, NULL), 0);
	assert_int_equal(n, 1);
	free(block);
	uint64_t id = 3;
	assert_int_equal(weft_ack(k, &id, 1, NULL), 0);
	weft_consumer_close(k, false);
	weft_client_close(c);

	/* PUBLISH in the same situation: not re-sent to the new primary. */
	peer_cluster_set(&cl->pc, 0, 5, 1, false); /* back as it was */
	c = peer_cluster_client(&cl->pc, 100, 1);
	assert_int_equal(weft_dest_open(c, q, NULL), 0);
	peer_cluster_set(&cl->pc, 1, 6, 1, true); /* table moves, old primary dead */
	assert_int_equal(weft_publish(c, q, "p", 1, NULL, NULL, NULL), -WEFT_ST_TIMEOUT);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);

	struct peer_rec r[8];
	/* 2 attempts at 1, then next */
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_RECEIVE, r, 8), 3);
	assert_int_equal(r[0].node, 1);
	assert_int_equal(r[1].node, 1);
	assert_int_equal(r[0].rid, r[1].rid); /* a retransmission */
	assert_int_equal(r[2].node, next);
	assert_int_not_equal(r[2].rid, r[0].rid);
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_ACK, r, 8), 1);
	assert_int_equal(r[0].node, next);
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_PUBLISH, r, 8), 2);
	assert_int_equal(r[0].node, 1);
	assert_int_equal(r[1].node, 1);
}

static void test_receive_held_not_retransmitted(void **state)
{
	struct cluster *cl = *state;
	struct list l = { 0 };
	list_add(&l, 1, 1, NULL, 0, "late", 4);
	script(cl, WEFT_ST_OK, 1, &l);
	weft_client *c = peer_cluster_client(&cl->pc, 100, 1);
	weft_consumer *k = weft_consumer_open(c, "/queue/hold", NULL);
	struct weft_message m[1];
	size_t n;
	void *block;
	struct weft_receive_opts ro = { .max = 1, .wait_ms = 3000 };
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, NULL), 0); /* fetches the table */
	free(block);
	pthread_mutex_lock(&cl->pc.mu);
	cl->hold_ms = 400; /* 4 attempt timeouts, well within wait_ms */
	pthread_mutex_unlock(&cl->pc.mu);
	list_add(&l, 2, 1, NULL, 0, "held", 4);
	script(cl, WEFT_ST_OK, 1, &l);
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, NULL), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(m[0].body, "held", 4);
	free(block);
	pthread_mutex_lock(&cl->pc.mu);
	cl->hold_ms = 0;
	pthread_mutex_unlock(&cl->pc.mu);
	weft_consumer_close(k, false);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);
	struct peer_rec r[4];
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_RECEIVE, r, 4), 2); /* no retransmission */
}

struct listen_ctx {
	unsigned calls;
	uint64_t seen[8];
};

/* Nacks id 2, stops at id 4, acks the rest. */
static int listener(void *ctx, const struct weft_message *m)
{
	struct listen_ctx *lc = ctx;
	if (lc->calls < 8)
		lc->seen[lc->calls] = m->id;
	lc->calls++;
	if (m->id == 2)
		return 1;
	return m->id == 4 ? -1 : 0;
}

static void test_listen_acks_and_nacks(void **state)
{
	struct cluster *cl = *state;
	struct list l = { 0 };
	list_add(&l, 1, 1, NULL, 0, "a", 1);
	list_add(&l, 2, 1, NULL, 0, "b", 1);
	list_add(&l, 3, 1, NULL, 0, "c", 1);
	script(cl, WEFT_ST_OK, 3, &l);
	script(cl, WEFT_ST_OK, 0, NULL); /* an empty wait */
	list_add(&l, 4, 1, NULL, 0, "d", 1);
	list_add(&l, 5, 1, NULL, 0, "e", 1);
	script(cl, WEFT_ST_OK, 2, &l);
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	weft_consumer *k = weft_consumer_open(c, "/queue/listen", NULL);
	struct listen_ctx lc = { 0 };
	assert_int_equal(weft_listen(k, listener, &lc, 10000), 0);
	assert_int_equal(lc.calls, 4); /* id 5 was not handed out */
	assert_int_equal(lc.seen[3], 4);
	/* bounded by max_ms when nothing comes */
	assert_int_equal(weft_listen(k, listener, &lc, 50), 0);
	assert_int_equal(weft_listen(k, NULL, &lc, 50), -WEFT_ST_INVALID_ARG);
	weft_consumer_close(k, false);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);

	struct peer_rec r[8];
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_ACK, r, 8), 3);
	struct weft_x_ack x;
	uint64_t want_ack[] = { 1, 3 }, want_nack[] = { 2 }, want_stop[] = { 4 };
	memcpy(&x, r[0].extras, sizeof(x));
	assert_int_equal(x.kind, WEFT_ACK_ACK);
	assert_int_equal(r[0].value_len, sizeof(want_ack));
	assert_memory_equal(r[0].value, want_ack, sizeof(want_ack));
	memcpy(&x, r[1].extras, sizeof(x));
	assert_int_equal(x.kind, WEFT_ACK_NACK);
	assert_memory_equal(r[1].value, want_nack, sizeof(want_nack));
	memcpy(&x, r[2].extras, sizeof(x));
	assert_int_equal(x.kind, WEFT_ACK_ACK);
	assert_int_equal(r[2].value_len, sizeof(want_stop));
	assert_memory_equal(r[2].value, want_stop, sizeof(want_stop));
	struct weft_x_receive rx;
	assert_true(peer_cluster_find(&cl->pc, WEFT_OP_RECEIVE, r, 8) >= 3);
	memcpy(&rx, r[0].extras, sizeof(rx));
	assert_true(rx.wait_ms <= 1000 && rx.wait_ms > 0);
	assert_int_equal(rx.max, 16);
}

static void test_props_codec(void **state)
{
	(void)state;
	const struct weft_prop p[] = { { .name = "a", .value = "1", .value_len = 1 },
				       { .name = "bb", .value = "", .value_len = 0 } };
	uint8_t *b;
	size_t len;
	assert_int_equal(weft_props_encode(p, 2, &b, &len), 0);
	assert_int_equal(len, 4 + 1 + 5);
	assert_true(weft_props_valid(b, len));
	assert_false(weft_props_valid(b, len - 1));
	struct weft_message m = { .props = b, .props_len = len };
	const void *v;
	size_t vl = 9;
	assert_int_equal(weft_message_prop(&m, "bb", &v, &vl), 0);
	assert_int_equal(vl, 0);
	assert_int_equal(weft_message_prop(&m, "b", &v, &vl), -WEFT_ST_NOT_FOUND);
	/* A caller-made message with a truncated list: an error, no overread. */
	m.props_len = len - 1;
	assert_int_equal(weft_message_prop(&m, "zz", &v, &vl), -WEFT_ST_PROTOCOL);
	free(b);
	assert_int_equal(weft_props_encode(NULL, 0, &b, &len), 0);
	assert_null(b);
	assert_int_equal(len, 0);
	assert_true(weft_dest_name_ok("/queue/a.dlq", 12));
	assert_true(weft_dest_name_ok("/topic/x", 8));
	assert_false(weft_dest_name_ok("/topic/", 7));
	assert_int_equal(weft_wire_dest_route_len("/queue/a.dlq", 12), 8);
	assert_int_equal(weft_wire_dest_route_len("/topic/a.dlq", 12), 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_encodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_args_send_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_parses_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_long_list_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_resent_with_new_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_nack_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_ops_to_primary_of_routing_name, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plain_topic_to_seed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_resent_after_failover_publish_not,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_held_not_retransmitted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_listen_acks_and_nacks, setup, teardown),
		cmocka_unit_test(test_props_codec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
