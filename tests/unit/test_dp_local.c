/*
 * test_dp_local.c — in-node clients (dp_local.c): libweft over the
 * dataplane's rings instead of a socket, against the real worker code on a
 * fake port (net_ring). A thread plays worker 0 (polls and reports
 * quiescent states); the test thread is the in-node client: cache ops and
 * messaging round-trip with the same API remote clients use, two clients
 * get only their own answers, a remote node's answer (arriving on the port
 * for the local port) reaches the right client, and bad opens fail.
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

#include "dp_fakeport.h"
#include "dp_poller.h"
#include "dp_frames.h"
#include "dp_internal.h"

static const uint8_t NODE_IP[4] = {10, 215, 0, 2};
static const uint8_t PEER_IP[4] = {10, 215, 0, 9};
static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x09};
#define NODE_PORT 7700u

static struct dp_poller T;

static int t_send(void *ctx, uint32_t ip, uint16_t port, const void *buf, size_t len)
{
	return weft_dp_local_send(ctx, ip, port, buf, len);
}

static long t_recv(void *ctx, void *buf, size_t cap, uint32_t *ip, uint16_t *port,
		   int timeout_ms)
{
	return weft_dp_local_recv(ctx, buf, cap, ip, port, timeout_ms);
}

/* A libweft client over local client l, seeded with this node. */
static weft_client *client_over(struct weft_dp_local *l, uint32_t id)
{
	struct weft_transport t = {.ctx = l, .send = t_send, .recv = t_recv};
	struct weft_client_opts o;
	weft_client_opts_init(&o);
	o.timeout_ms = 200;
	weft_client *c = weft_client_connect_transport("10.215.0.2:7700", &o, &t, id);
	assert_non_null(c);
	return c;
}

static void test_cache_and_messaging_in_node(void **state)
{
	(void)state;
	struct weft_dp_local *l = weft_dp_local_open(T.fp.dp, 0x1234);
	assert_non_null(l);
	weft_client *c = client_over(l, 0x1234);
	assert_int_equal(weft_ping(c), 0);
	uint64_t v;
	assert_int_equal(weft_put(c, "apps", "k", 1, "value", 5, NULL, &v), 0);
	void *val = NULL;
	size_t len = 0;
	assert_int_equal(weft_get(c, "apps", "k", 1, &val, &len, NULL), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(val, "value", 5);
	free(val);
	/* A value longer than a datagram: pieces both ways, FETCH included. */
	size_t big = 100000;
	char *b = malloc(big);
	for (size_t i = 0; i < big; i++)
		b[i] = (char)('a' + i % 26);
	assert_int_equal(weft_put(c, "apps", "big", 3, b, big, NULL, &v), 0);
	assert_int_equal(weft_get(c, "apps", "big", 3, &val, &len, NULL), 0);
	assert_int_equal(len, big);
	assert_memory_equal(val, b, big);
	free(val);
	free(b);
	/* Messaging with the same calls as a remote client. */
	uint64_t id;
	assert_int_equal(weft_publish(c, "/queue/inner", "hi", 2, NULL, &id, NULL), 0);
	weft_consumer *k = weft_consumer_open(c, "/queue/inner", NULL);
	assert_non_null(k);
	struct weft_message m[4];
	size_t n = 0;
	void *block = NULL;
	struct weft_receive_opts ro = {.max = 4, .wait_ms = 500};
	assert_int_equal(weft_receive(k, &ro, m, &n, &block, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].body_len, 2);
	assert_memory_equal(m[0].body, "hi", 2);
	assert_int_equal(weft_ack(k, &m[0].id, 1, NULL), 0);
	free(block);
	weft_consumer_close(k, false);
	weft_client_close(c);
	weft_dp_local_close(l);
	assert_int_equal(__atomic_load_n(&T.fp.dp->n_locals, __ATOMIC_RELAXED), 0);
}

static void test_two_clients_own_answers(void **state)
{
	(void)state;
	struct weft_dp_local *l1 = weft_dp_local_open(T.fp.dp, 0x11);
	struct weft_dp_local *l2 = weft_dp_local_open(T.fp.dp, 0x22);
	assert_non_null(l1);
	assert_non_null(l2);
	weft_client *c1 = client_over(l1, 0x11), *c2 = client_over(l2, 0x22);
	for (int i = 0; i < 20; i++) {
		char key[16], val[16];
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "v%d", i);
		weft_client *w = i % 2 ? c1 : c2, *r = i % 2 ? c2 : c1;
		assert_int_equal(weft_put(w, "two", key, strlen(key), val, strlen(val), NULL, NULL),
				 0);
		char got[16];
		size_t len = 0;
		assert_int_equal(weft_get_into(r, "two", key, strlen(key), got, sizeof(got), &len,
					       NULL),
				 0);
		assert_int_equal(len, strlen(val));
		assert_memory_equal(got, val, len);
	}
	weft_client_close(c1);
	weft_client_close(c2);
	weft_dp_local_close(l1);
	weft_dp_local_close(l2);
}

static void test_remote_answer_reaches_client(void **state)
{
	(void)state;
	struct weft_dp_local *l = weft_dp_local_open(T.fp.dp, 0x77);
	assert_non_null(l);
	/* A datagram from a peer to this node's local port, for client 0x77. */
	struct weft_wire_hdr h;
	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.flags = WEFT_F_RESPONSE;
	h.client_id = 0x77;
	h.request_id = 5;
	uint8_t f[256];
	uint32_t len = frame_udp(f, T.fp.node_mac, PEER_MAC, PEER_IP, NODE_IP, NODE_PORT,
				 NODE_PORT + 2, 0x4242, &h, sizeof(h));
	struct rte_mbuf *m = rte_pktmbuf_alloc(T.fp.pool);
	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), f, len);
	assert_int_equal(rte_ring_enqueue(T.fp.rx, m), 0);
	uint8_t buf[256];
	uint32_t ip = 0;
	uint16_t port = 0;
	long n = weft_dp_local_recv(l, buf, sizeof(buf), &ip, &port, 2000);
	assert_int_equal(n, sizeof(h));
	assert_memory_equal(&ip, PEER_IP, 4);
	assert_int_equal(rte_be_to_cpu_16(port), NODE_PORT);
	struct weft_wire_hdr got;
	memcpy(&got, buf, sizeof(got));
	assert_int_equal(got.request_id, 5);
	/* One for nobody is dropped, counted. */
	h.client_id = 0x78;
	len = frame_udp(f, T.fp.node_mac, PEER_MAC, PEER_IP, NODE_IP, NODE_PORT, NODE_PORT + 2,
			0x4242, &h, sizeof(h));
	m = rte_pktmbuf_alloc(T.fp.pool);
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), f, len);
	assert_int_equal(rte_ring_enqueue(T.fp.rx, m), 0);
	assert_int_equal(weft_dp_local_recv(l, buf, sizeof(buf), &ip, &port, 200), 0);
	weft_dp_local_close(l);
}

static void test_bad_opens_and_sends(void **state)
{
	(void)state;
	assert_null(weft_dp_local_open(T.fp.dp, 0));
	assert_int_equal(errno, EINVAL);
	struct weft_dp_local *l = weft_dp_local_open(T.fp.dp, 0x99);
	assert_non_null(l);
	assert_null(weft_dp_local_open(T.fp.dp, 0x99));
	assert_int_equal(errno, EEXIST);
	uint8_t big[WEFT_MAX_DGRAM_LEN + WEFT_MAX_TRAILERS_LEN + 1] = {0};
	uint32_t self;
	memcpy(&self, NODE_IP, 4);
	assert_int_equal(weft_dp_local_send(l, self, rte_cpu_to_be_16(NODE_PORT), big, sizeof(big)),
			 -EMSGSIZE);
	uint32_t other;
	memcpy(&other, PEER_IP, 4); /* no cluster channel: no way out */
	assert_int_equal(weft_dp_local_send(l, other, rte_cpu_to_be_16(NODE_PORT), big, 64),
			 -EHOSTUNREACH);
	weft_dp_local_close(l);
}

static int setup(void **state)
{
	(void)state;
	return dp_poller_open(&T, "test_dp_local", NODE_IP, NODE_PORT);
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
		cmocka_unit_test(test_cache_and_messaging_in_node),
		cmocka_unit_test(test_two_clients_own_answers),
		cmocka_unit_test(test_remote_answer_reaches_client),
		cmocka_unit_test(test_bad_opens_and_sends),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
