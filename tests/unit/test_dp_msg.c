/*
 * test_dp_msg.c — messaging served by the real worker code (weft_dp_poll_once)
 * on a fake port (net_ring), one node alone: PUBLISH / RECEIVE / ACK on a
 * queue, long-poll parking answered by a publish and by the wait's end,
 * GONE for a retransmitted RECEIVE that carried messages, nack and
 * dead-lettering, the FULL bound, a topic subscription fed by the node's
 * own fan-out, DESTINATIONS, and bad requests answered with a status.
 *
 * Messaging runs on the wall clock: waits are a few ms, and every wait for
 * an answer is a bounded poll loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dp_fakeport.h"
#include "dp_frames.h"
#include "dp_internal.h"

static const uint8_t CLIENT_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t CLIENT_IP[4] = {10, 214, 0, 1};
static const uint8_t NODE_IP[4] = {10, 214, 0, 2};
#define CLIENT_PORT 40000u
#define NODE_PORT 7700u
#define MAXF 64

static struct {
	struct dp_fakeport fp;
	uint64_t next_rid;
	unsigned n_kept; /* frames answering other requests, for later waits */
	struct rte_mbuf *kept[MAXF];
} T;

struct resp {
	struct weft_wire_hdr h;
	uint32_t len;
	uint8_t payload[16 * WEFT_MAX_DGRAM_PAYLOAD];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void push_req(uint8_t op, uint8_t flags, const char *name, const char *key,
		     const void *extras, uint16_t extras_len, const void *value, uint32_t value_len,
		     uint64_t rid)
{
	uint8_t buf[1500], f[1600];
	struct weft_wire_hdr h;
	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = op;
	h.flags = flags;
	h.name_len = (uint8_t)strlen(name);
	h.key_len = (uint16_t)strlen(key);
	h.extras_len = extras_len;
	h.client_id = 0xc0ffee;
	h.request_id = rid;
	h.msg_len = h.name_len + h.key_len + extras_len + value_len;
	assert_true(sizeof(h) + h.msg_len <= sizeof(buf));
	memcpy(buf, &h, sizeof(h));
	uint8_t *p = buf + sizeof(h);
	memcpy(p, name, h.name_len);
	p += h.name_len;
	memcpy(p, key, h.key_len);
	p += h.key_len;
	if (extras_len)
		memcpy(p, extras, extras_len);
	p += extras_len;
	if (value_len)
		memcpy(p, value, value_len);
	uint32_t len = (uint32_t)sizeof(h) + h.msg_len;
	struct rte_mbuf *m = rte_pktmbuf_alloc(T.fp.pool);
	assert_non_null(m);
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, 1600);
	assert_non_null(d);
	uint32_t fl = frame_udp(f, T.fp.node_mac, CLIENT_MAC, CLIENT_IP, NODE_IP, CLIENT_PORT,
				NODE_PORT, 0xbeef, buf, len);
	memcpy(d, f, fl);
	rte_pktmbuf_trim(m, (uint16_t)(1600 - fl));
	dp_fakeport_cookie(&T.fp, m); /* a verified client */
	assert_int_equal(rte_ring_enqueue(T.fp.rx, m), 0);
}

/* Polls the node until it sent the whole response to rid (or 2 s passed);
 * a response of several datagrams is put together by frag_offset (they
 * all come in its first window here). */
static bool wait_resp(uint64_t rid, struct resp *r)
{
	uint64_t end = mono_ms() + 2000;
	uint32_t have = 0;
	bool any = false;
	while (mono_ms() < end) {
		struct rte_mbuf *out[2 * MAXF];
		unsigned n = T.n_kept;
		memcpy(out, T.kept, n * sizeof(out[0]));
		T.n_kept = 0;
		weft_dp_poll_once(T.fp.dp, 0);
		n += rte_ring_dequeue_burst(T.fp.tx, (void **)out + n, MAXF, NULL);
		for (unsigned i = 0; i < n; i++) {
			const uint8_t *f = rte_pktmbuf_mtod(out[i], const uint8_t *);
			struct weft_wire_hdr h;
			if (out[i]->data_len < 42 + sizeof(h)) {
				rte_pktmbuf_free(out[i]);
				continue;
			}
			memcpy(&h, f + 42, sizeof(h));
			uint32_t len = out[i]->data_len - 42 - (uint32_t)sizeof(h);
			if (h.request_id != rid) {
				if (T.n_kept < MAXF)
					T.kept[T.n_kept++] = out[i];
				else
					rte_pktmbuf_free(out[i]);
				continue;
			}
			if (h.msg_len <= sizeof(r->payload) && h.frag_offset + len <= h.msg_len) {
				r->h = h;
				memcpy(r->payload + h.frag_offset, f + 42 + sizeof(h), len);
				have += len;
				any = true;
			}
			rte_pktmbuf_free(out[i]);
		}
		if (any && have >= r->h.msg_len) {
			r->h.frag_offset = 0;
			r->len = have;
			return true;
		}
	}
	return false;
}

static void call(uint8_t op, const char *name, const char *key, const void *extras,
		 uint16_t extras_len, const void *value, uint32_t value_len, struct resp *r)
{
	uint64_t rid = ++T.next_rid;
	push_req(op, 0, name, key, extras, extras_len, value, value_len, rid);
	assert_true(wait_resp(rid, r));
	assert_int_equal(r->h.opcode, op);
}

static uint64_t publish(const char *dest, const char *body, uint16_t want)
{
	struct weft_x_publish p = {0};
	struct resp r;
	call(WEFT_OP_PUBLISH, dest, "", &p, sizeof(p), body, (uint32_t)strlen(body), &r);
	assert_int_equal(r.h.status, want);
	if (want != WEFT_ST_OK)
		return 0;
	struct weft_x_published out;
	assert_int_equal(r.h.extras_len, sizeof(out));
	memcpy(&out, r.payload, sizeof(out));
	assert_true(out.id > 0);
	return out.id;
}

static struct weft_x_receive rx_opts(uint64_t consumer, uint16_t max, uint32_t wait_ms)
{
	struct weft_x_receive x = {.consumer_id = consumer, .wait_ms = wait_ms, .max = max};
	return x;
}

/* Decodes a RECEIVE answer: count messages, the first one's id, body and
 * deliveries. */
static uint32_t received(const struct resp *r, uint64_t *id, char *body, size_t cap,
			 uint16_t *deliveries)
{
	assert_int_equal(r->h.status, WEFT_ST_OK);
	struct weft_x_received x;
	assert_int_equal(r->h.extras_len, sizeof(x));
	memcpy(&x, r->payload, sizeof(x));
	if (x.count > 0) {
		struct weft_msg_hdr h;
		memcpy(&h, r->payload + sizeof(x), sizeof(h));
		*id = h.id;
		*deliveries = h.deliveries;
		assert_true(h.body_len < cap);
		memcpy(body, r->payload + sizeof(x) + sizeof(h) + h.props_len, h.body_len);
		body[h.body_len] = '\0';
	}
	return x.count;
}

static void ack(const char *dest, uint64_t consumer, uint32_t kind, uint64_t id, uint32_t done)
{
	struct weft_x_ack a = {.consumer_id = consumer, .kind = kind, .count = 1};
	struct resp r;
	call(WEFT_OP_ACK, dest, "", &a, sizeof(a), &id, sizeof(id), &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	struct weft_x_acked out;
	memcpy(&out, r.payload, sizeof(out));
	assert_int_equal(out.done, done);
}

/* The value of key=N on dest's DESTINATIONS line. */
static long dest_stat(const char *dest, const char *key)
{
	struct resp r;
	call(WEFT_OP_DESTINATIONS, "", "", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	assert_true(r.len == r.h.msg_len); /* one datagram in this test */
	r.payload[r.len] = '\0';
	char want[96];
	snprintf(want, sizeof(want), "%s ", dest);
	const char *line = (const char *)r.payload;
	while (line != NULL && strncmp(line, want, strlen(want)) != 0) {
		line = strchr(line, '\n');
		line = line != NULL ? line + 1 : NULL;
	}
	assert_non_null(line);
	char k[48];
	snprintf(k, sizeof(k), " %s=", key);
	const char *at = strstr(line, k);
	assert_non_null(at);
	return strtol(at + strlen(k), NULL, 10);
}

static void test_queue_publish_receive_ack(void **state)
{
	(void)state;
	uint64_t id = publish("/queue/q1", "hello", WEFT_ST_OK);
	assert_int_equal(dest_stat("/queue/q1", "depth"), 1);
	struct weft_x_receive x = rx_opts(7, 10, 0);
	struct resp r;
	call(WEFT_OP_RECEIVE, "/queue/q1", "", &x, sizeof(x), NULL, 0, &r);
	uint64_t got = 0;
	uint16_t dl = 0;
	char body[64];
	assert_int_equal(received(&r, &got, body, sizeof(body), &dl), 1);
	assert_true(got == id);
	assert_string_equal(body, "hello");
	assert_int_equal(dl, 1);
	/* In flight: nobody else gets it. */
	x = rx_opts(8, 10, 0);
	call(WEFT_OP_RECEIVE, "/queue/q1", "", &x, sizeof(x), NULL, 0, &r);
	assert_int_equal(received(&r, &got, body, sizeof(body), &dl), 0);
	ack("/queue/q1", 7, WEFT_ACK_ACK, id, 1);
	ack("/queue/q1", 7, WEFT_ACK_ACK, id, 0); /* twice: nothing left to ack */
	assert_int_equal(dest_stat("/queue/q1", "depth"), 0);
	assert_int_equal(dest_stat("/queue/q1", "acked"), 1);
}

static void test_parked_receive(void **state)
{
	(void)state;
	/* A waiting consumer gets the next message as soon as it is published. */
	struct weft_x_receive x = rx_opts(11, 4, 10000);
	uint64_t rid = ++T.next_rid;
	push_req(WEFT_OP_RECEIVE, 0, "/queue/q2", "", &x, sizeof(x), NULL, 0, rid);
	weft_dp_poll_once(T.fp.dp, 0);
	assert_int_equal(rte_ring_count(T.fp.tx), 0); /* parked: no answer yet */
	assert_int_equal(dest_stat("/queue/q2", "waiting"), 1);
	uint64_t id = publish("/queue/q2", "wake", WEFT_ST_OK);
	struct resp r;
	assert_true(wait_resp(rid, &r));
	uint64_t got = 0;
	uint16_t dl;
	char body[64];
	assert_int_equal(received(&r, &got, body, sizeof(body), &dl), 1);
	assert_true(got == id);
	assert_string_equal(body, "wake");
	/* Its retransmission is told GONE (no message list is kept). */
	push_req(WEFT_OP_RECEIVE, WEFT_F_RETRY, "/queue/q2", "", &x, sizeof(x), NULL, 0, rid);
	assert_true(wait_resp(rid, &r));
	assert_int_equal(r.h.status, WEFT_ST_GONE);
	ack("/queue/q2", 11, WEFT_ACK_ACK, id, 1);

	/* A wait with nothing published ends empty, by itself. */
	x = rx_opts(12, 4, 30);
	call(WEFT_OP_RECEIVE, "/queue/q2", "", &x, sizeof(x), NULL, 0, &r);
	assert_int_equal(received(&r, &got, body, sizeof(body), &dl), 0);
}

static void test_nack_and_dead_letters(void **state)
{
	(void)state;
	struct weft_x_dest_opts o = {.max_deliveries = 2};
	struct resp r;
	call(WEFT_OP_DEST_OPEN, "/queue/q3", "", &o, sizeof(o), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	uint64_t id = publish("/queue/q3", "poison", WEFT_ST_OK);
	uint64_t got;
	uint16_t dl;
	char body[64];
	for (uint16_t i = 1; i <= 2; i++) {
		struct weft_x_receive x = rx_opts(21, 1, 0);
		call(WEFT_OP_RECEIVE, "/queue/q3", "", &x, sizeof(x), NULL, 0, &r);
		assert_int_equal(received(&r, &got, body, sizeof(body), &dl), 1);
		assert_true(got == id);
		assert_int_equal(dl, i);
		ack("/queue/q3", 21, WEFT_ACK_NACK, id, 1);
	}
	struct weft_x_receive x = rx_opts(21, 1, 0);
	call(WEFT_OP_RECEIVE, "/queue/q3", "", &x, sizeof(x), NULL, 0, &r);
	assert_int_equal(received(&r, &got, body, sizeof(body), &dl), 0);
	assert_int_equal(dest_stat("/queue/q3", "dead"), 1);
	call(WEFT_OP_RECEIVE, "/queue/q3.dlq", "", &x, sizeof(x), NULL, 0, &r);
	assert_int_equal(received(&r, &got, body, sizeof(body), &dl), 1);
	assert_string_equal(body, "poison");
}

static void test_full_bound(void **state)
{
	(void)state;
	struct weft_x_dest_opts o = {.max_depth = 2};
	struct resp r;
	call(WEFT_OP_DEST_OPEN, "/queue/q4", "", &o, sizeof(o), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	publish("/queue/q4", "a", WEFT_ST_OK);
	publish("/queue/q4", "b", WEFT_ST_OK);
	publish("/queue/q4", "c", WEFT_ST_FULL);
	assert_int_equal(dest_stat("/queue/q4", "full"), 1);
	assert_int_equal(dest_stat("/queue/q4", "depth"), 2);
}

static void test_topic_local_subscription(void **state)
{
	(void)state;
	/* Two subscribers on this node: each gets every message. */
	struct weft_x_receive a = rx_opts(31, 8, 0), b = rx_opts(32, 8, 0);
	struct resp r;
	uint64_t got;
	uint16_t dl;
	char body[64];
	call(WEFT_OP_RECEIVE, "/topic/t1", "", &a, sizeof(a), NULL, 0, &r);
	assert_int_equal(received(&r, &got, body, sizeof(body), &dl), 0);
	call(WEFT_OP_RECEIVE, "/topic/t1", "", &b, sizeof(b), NULL, 0, &r);
	assert_int_equal(received(&r, &got, body, sizeof(body), &dl), 0);
	publish("/topic/t1", "news", WEFT_ST_OK);
	a.wait_ms = b.wait_ms = 1000;
	call(WEFT_OP_RECEIVE, "/topic/t1", "", &a, sizeof(a), NULL, 0, &r);
	assert_int_equal(received(&r, &got, body, sizeof(body), &dl), 1);
	assert_string_equal(body, "news");
	call(WEFT_OP_RECEIVE, "/topic/t1", "", &b, sizeof(b), NULL, 0, &r);
	assert_int_equal(received(&r, &got, body, sizeof(body), &dl), 1);
	assert_string_equal(body, "news");
	assert_int_equal(dest_stat("/topic/t1", "subscriptions"), 2);
}

static void test_bad_requests(void **state)
{
	(void)state;
	struct resp r;
	struct weft_x_dest_opts o = {0};
	call(WEFT_OP_DEST_OPEN, "/queue/qb", "", &o, sizeof(o), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_OK);
	struct weft_x_publish p = {0};
	call(WEFT_OP_PUBLISH, "/nope/x", "", &p, sizeof(p), "v", 1, &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	call(WEFT_OP_PUBLISH, "/queue/", "", &p, sizeof(p), "v", 1, &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	p.props_len = 5; /* "v" is not a property list */
	call(WEFT_OP_PUBLISH, "/queue/qb", "", &p, sizeof(p), "vvvvvv", 6, &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	struct weft_x_receive x = rx_opts(0, 1, 0); /* consumer 0 */
	call(WEFT_OP_RECEIVE, "/queue/qb", "", &x, sizeof(x), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	x = rx_opts(5, 0, 0); /* max 0 */
	call(WEFT_OP_RECEIVE, "/queue/qb", "", &x, sizeof(x), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	x = rx_opts(5, 1, WEFT_MAX_RECEIVE_WAIT_MS + 1);
	call(WEFT_OP_RECEIVE, "/queue/qb", "", &x, sizeof(x), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	x = rx_opts(5, 1, 0); /* a durable name on a queue */
	call(WEFT_OP_RECEIVE, "/queue/qb", "dur", &x, sizeof(x), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	struct weft_x_ack a = {.consumer_id = 5, .kind = WEFT_ACK_ACK, .count = 2};
	uint64_t id = 1; /* count says 2 ids, 1 sent */
	call(WEFT_OP_ACK, "/queue/qb", "", &a, sizeof(a), &id, sizeof(id), &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	a.count = 1;
	a.kind = 9;
	call(WEFT_OP_ACK, "/queue/qb", "", &a, sizeof(a), &id, sizeof(id), &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	/* Node-only ops from a client. */
	struct weft_x_msg_repl mr = {0};
	call(WEFT_OP_MSG_REPL, "/queue/qb", "", &mr, sizeof(mr), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	struct weft_x_topic_join j = {0};
	call(WEFT_OP_TOPIC_JOIN, "/topic/t1", "", &j, sizeof(j), NULL, 0, &r);
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	/* A malformed record list from a node changes nothing. */
	mr.count = 1;
	uint64_t rid = ++T.next_rid;
	push_req(WEFT_OP_MSG_REPL, WEFT_F_NODE, "/queue/qb", "", &mr, sizeof(mr), "xx", 2, rid);
	assert_true(wait_resp(rid, &r));
	assert_int_equal(r.h.status, WEFT_ST_BAD_REQUEST);
	assert_int_equal(dest_stat("/queue/qb", "depth"), 0);
}

static int setup(void **state)
{
	(void)state;
	uint32_t ip;
	memcpy(&ip, NODE_IP, 4);
	struct weft_dp_config cfg = {.bind_ip = ip, .udp_port = NODE_PORT, .n_workers = 1,
				     .poll = WEFT_DP_POLL_BUSY};
	return dp_fakeport_open(&T.fp, "test_dp_msg", 1024, 1024, 2047, &cfg);
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < T.n_kept; i++)
		rte_pktmbuf_free(T.kept[i]);
	dp_fakeport_close(&T.fp);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_publish_receive_ack),
		cmocka_unit_test(test_parked_receive),
		cmocka_unit_test(test_nack_and_dead_letters),
		cmocka_unit_test(test_full_bound),
		cmocka_unit_test(test_topic_local_subscription),
		cmocka_unit_test(test_bad_requests),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
