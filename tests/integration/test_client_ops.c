/*
 * test_client_ops — every cache op of libweft against a real weftd (the
 * address is argv[1]; tests/integration/single_node.sh starts the node in a
 * namespace and runs this). Each test uses its own cache name so tests do
 * not see each other's entries. Also checks, with raw datagrams, that a
 * retransmitted INCR (same client_id and request_id) is applied once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/weft.h>

static const char *node_addr;

static int setup(void **state)
{
	weft_client *c = weft_client_connect(node_addr, NULL);
	if (!c)
		return -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	weft_client_close(*state);
	return 0;
}

#define K(s) s, strlen(s)

static void test_put_get_versions(void **state)
{
	weft_client *c = *state;
	uint64_t v1 = 0, v2 = 0, got_version = 0;
	assert_int_equal(weft_put(c, "ops_put", K("k"), K("one"), NULL, &v1), 0);
	assert_int_equal(weft_put(c, "ops_put", K("k"), K("two"), NULL, &v2), 0);
	assert_true(v2 > v1);
	void *val = NULL;
	size_t len = 0;
	assert_int_equal(weft_get(c, "ops_put", K("k"), &val, &len, &got_version), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(val, "two", 3);
	assert_int_equal(got_version, v2);
	free(val);

	char small[2];
	assert_int_equal(weft_get_into(c, "ops_put", K("k"), small, sizeof(small), &len, NULL), 0);
	assert_int_equal(len, 3); /* full length reported, copy truncated */
	assert_memory_equal(small, "tw", 2);

	assert_int_equal(weft_get(c, "ops_put", K("absent"), &val, &len, NULL), -WEFT_ST_NOT_FOUND);
}

static void test_empty_value(void **state)
{
	weft_client *c = *state;
	assert_int_equal(weft_put(c, "ops_empty", K("k"), NULL, 0, NULL, NULL), 0);
	void *val = (void *)1;
	size_t len = 99;
	assert_int_equal(weft_get(c, "ops_empty", K("k"), &val, &len, NULL), 0);
	assert_int_equal(len, 0);
	free(val);
}

static void test_conditional_writes(void **state)
{
	weft_client *c = *state;
	uint64_t v = 0, cur = 0;
	assert_int_equal(weft_replace(c, "ops_cond", K("k"), K("x"), NULL, NULL), -WEFT_ST_NOT_FOUND);
	assert_int_equal(weft_put_if_absent(c, "ops_cond", K("k"), K("first"), NULL, &v), 0);
	assert_int_equal(weft_put_if_absent(c, "ops_cond", K("k"), K("second"), NULL, &cur),
			 -WEFT_ST_EXISTS);
	assert_int_equal(cur, v); /* EXISTS reports the current version */
	assert_int_equal(weft_replace(c, "ops_cond", K("k"), K("third"), NULL, &v), 0);

	uint64_t stale = v - 1, now = 0;
	assert_int_equal(weft_cas(c, "ops_cond", K("k"), stale, K("lost"), NULL, &now),
			 -WEFT_ST_VERSION_MISMATCH);
	assert_int_equal(now, v);
	uint64_t after = 0;
	assert_int_equal(weft_cas(c, "ops_cond", K("k"), v, K("won"), NULL, &after), 0);
	assert_true(after > v);
	assert_int_equal(weft_cas(c, "ops_cond", K("nokey"), 1, K("x"), NULL, NULL),
			 -WEFT_ST_NOT_FOUND);

	void *val = NULL;
	size_t len = 0;
	assert_int_equal(weft_get(c, "ops_cond", K("k"), &val, &len, NULL), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(val, "won", 3);
	free(val);

	assert_int_equal(weft_delete(c, "ops_cond", K("k")), 0);
	assert_int_equal(weft_delete(c, "ops_cond", K("k")), -WEFT_ST_NOT_FOUND);
}

static void test_incr(void **state)
{
	weft_client *c = *state;
	int64_t n = 0;
	assert_int_equal(weft_incr(c, "ops_incr", K("n"), 5, 0, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(weft_incr(c, "ops_incr", K("n"), -7, 0, &n), 0);
	assert_int_equal(n, -2);
	assert_int_equal(weft_put(c, "ops_incr", K("max"), K("9223372036854775807"), NULL, NULL), 0);
	assert_int_equal(weft_incr(c, "ops_incr", K("max"), 1, 0, &n), -WEFT_ST_OVERFLOW);
	assert_int_equal(weft_put(c, "ops_incr", K("text"), K("abc"), NULL, NULL), 0);
	assert_int_equal(weft_incr(c, "ops_incr", K("text"), 1, 0, &n), -WEFT_ST_NOT_NUMERIC);
}

static void test_multi_get(void **state)
{
	weft_client *c = *state;
	assert_int_equal(weft_put(c, "ops_mget", K("a"), K("alpha"), NULL, NULL), 0);
	assert_int_equal(weft_put(c, "ops_mget", K("c"), K("gamma"), NULL, NULL), 0);
	struct weft_mget_item items[3] = {
		{.key = "a", .key_len = 1}, {.key = "b", .key_len = 1}, {.key = "c", .key_len = 1}};
	void *block = NULL;
	assert_int_equal(weft_multi_get(c, "ops_mget", items, 3, &block), 0);
	assert_int_equal(items[0].status, 0);
	assert_int_equal(items[0].value_len, 5);
	assert_memory_equal(items[0].value, "alpha", 5);
	assert_int_equal(items[1].status, -WEFT_ST_NOT_FOUND);
	assert_int_equal(items[2].status, 0);
	assert_memory_equal(items[2].value, "gamma", 5);
	free(block);
}

/* Polls (bounded) until key is gone; returns how many polls saw it. */
static int wait_gone(weft_client *c, const char *cache, const char *key, int max_polls)
{
	for (int i = 0; i < max_polls; i++) {
		if (weft_get(c, cache, key, strlen(key), NULL, NULL, NULL) == -WEFT_ST_NOT_FOUND)
			return i;
		usleep(50 * 1000);
	}
	return -1;
}

static void test_ttl_idle_touch(void **state)
{
	weft_client *c = *state;
	struct weft_write_opts short_ttl = {.ttl_ms = 300};
	assert_int_equal(weft_put(c, "ops_ttl", K("t"), K("v"), &short_ttl, NULL), 0);
	assert_int_equal(weft_get(c, "ops_ttl", K("t"), NULL, NULL, NULL), 0);
	assert_true(wait_gone(c, "ops_ttl", "t", 100) >= 0); /* gone within 5 s */

	/* touch replaces a short TTL with none: the entry outlives it */
	assert_int_equal(weft_put(c, "ops_ttl", K("kept"), K("v"), &short_ttl, NULL), 0);
	struct weft_write_opts forever = {.ttl_ms = WEFT_TTL_NONE};
	assert_int_equal(weft_touch(c, "ops_ttl", K("kept"), &forever, NULL), 0);
	usleep(600 * 1000); /* twice the old TTL: it would have expired */
	assert_int_equal(weft_get(c, "ops_ttl", K("kept"), NULL, NULL, NULL), 0);
	assert_int_equal(weft_touch(c, "ops_ttl", K("absent"), &forever, NULL), -WEFT_ST_NOT_FOUND);

	/* max-idle: expires once unread for 300 ms */
	struct weft_write_opts idle = {.ttl_ms = WEFT_TTL_NONE, .max_idle_ms = 300};
	assert_int_equal(weft_put(c, "ops_ttl", K("idle"), K("v"), &idle, NULL), 0);
	usleep(600 * 1000);
	assert_int_equal(weft_get(c, "ops_ttl", K("idle"), NULL, NULL, NULL), -WEFT_ST_NOT_FOUND);
}

static uint64_t stat_of(weft_client *c, const char *name)
{
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(weft_stats(c, &text, &len), 0);
	uint64_t value = 0;
	size_t nlen = strlen(name);
	for (char *line = text; line && *line;) {
		char *end = strchr(line, '\n');
		if (strncmp(line, name, nlen) == 0 && line[nlen] == ' ')
			value = strtoull(line + nlen + 1, NULL, 10);
		line = end ? end + 1 : NULL;
	}
	free(text);
	return value;
}

static void test_open_and_eviction(void **state)
{
	weft_client *c = *state;
	struct weft_open_opts oo = {.max_bytes = 64 * 1024};
	assert_int_equal(weft_open_cache(c, "ops_small", &oo), 0);
	char value[1024];
	memset(value, 'e', sizeof(value));
	char key[32];
	for (int i = 0; i < 400; i++) { /* ~400 KiB into a 64 KiB cache */
		snprintf(key, sizeof(key), "key%d", i);
		assert_int_equal(weft_put(c, "ops_small", key, strlen(key), value, sizeof(value),
					  NULL, NULL),
				 0);
	}
	assert_true(stat_of(c, "cache.ops_small.evictions") > 0);
	assert_true(stat_of(c, "cache.ops_small.bytes") <= 64 * 1024);
	assert_int_equal(stat_of(c, "cache.ops_small.max_bytes"), 64 * 1024);
	/* the newest entry survives */
	assert_int_equal(weft_get(c, "ops_small", K("key399"), NULL, NULL, NULL), 0);
}

static void test_big_value(void **state)
{
	weft_client *c = *state;
	size_t n = WEFT_MAX_VALUE_LEN;
	uint8_t *big = malloc(n);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_int_equal(weft_put(c, "ops_big", K("big"), big, n, NULL, NULL), 0);
	void *val = NULL;
	size_t len = 0;
	assert_int_equal(weft_get(c, "ops_big", K("big"), &val, &len, NULL), 0);
	assert_int_equal(len, n);
	assert_memory_equal(val, big, n);
	free(val);
	assert_int_equal(weft_put(c, "ops_big", K("big"), big, n + 1, NULL, NULL),
			 -WEFT_ST_INVALID_ARG);
	free(big);
}

/* Sends one raw INCR datagram with a fixed identity; returns the counter
 * value in the response, or INT64_MIN if none came within 1 s. */
static int64_t raw_incr(int sock, uint32_t client_id, uint64_t request_id)
{
	uint8_t buf[WEFT_MAX_DGRAM_LEN];
	struct weft_wire_hdr h = {
		.magic = WEFT_WIRE_MAGIC,
		.version = WEFT_WIRE_VERSION,
		.opcode = WEFT_OP_INCR,
		.name_len = 8,
		.key_len = 1,
		.extras_len = sizeof(struct weft_x_incr),
		.client_id = client_id,
		.request_id = request_id,
	};
	struct weft_x_incr x = {.delta = 1};
	h.msg_len = h.name_len + h.key_len + h.extras_len;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), "ops_once", 8);
	buf[sizeof(h) + 8] = 'n';
	memcpy(buf + sizeof(h) + 9, &x, sizeof(x));
	assert_true(send(sock, buf, sizeof(h) + h.msg_len, 0) > 0);
	for (int i = 0; i < 10; i++) {
		struct pollfd p = {.fd = sock, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = recv(sock, buf, sizeof(buf), 0);
		struct weft_wire_hdr r;
		if (n < (ssize_t)(sizeof(r) + sizeof(struct weft_x_counter)))
			continue;
		memcpy(&r, buf, sizeof(r));
		if (r.request_id != request_id || !(r.flags & WEFT_F_RESPONSE))
			continue;
		struct weft_x_counter cnt;
		memcpy(&cnt, buf + sizeof(r), sizeof(cnt));
		return cnt.value;
	}
	return INT64_MIN;
}

static void test_retransmission_applied_once(void **state)
{
	(void)state;
	int sock = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(sock >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(WEFT_DEFAULT_PORT)};
	assert_int_equal(inet_pton(AF_INET, node_addr, &sa.sin_addr), 1);
	assert_int_equal(connect(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	uint32_t client_id = 0x5eed0000u | (uint32_t)getpid();
	int64_t first = raw_incr(sock, client_id, 1);
	int64_t replay = raw_incr(sock, client_id, 1); /* same identity: a retransmission */
	int64_t next = raw_incr(sock, client_id, 2);   /* a new request */
	close(sock);
	assert_true(first != INT64_MIN);
	assert_int_equal(replay, first);
	assert_int_equal(next, first + 1);
}

static void test_stats(void **state)
{
	weft_client *c = *state;
	assert_int_equal(weft_ping(c), 0);
	assert_true(stat_of(c, "total.rx_packets") > 0);
	assert_true(stat_of(c, "total.req.get") > 0);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s NODE_IP[:PORT]\n", argv[0]);
		return 2;
	}
	node_addr = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conditional_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_idle_touch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_and_eviction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_value, setup, teardown),
		cmocka_unit_test(test_retransmission_applied_once),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
