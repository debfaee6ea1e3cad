/*
 * weft-perf --msg's pure parts (perf/weft_perf_msg_args.c and
 * perf/weft_perf_msg_stamp.c), shared with redis_msg_bench: the option
 * parser (defaults, every option, each program refusing the other's
 * options, every bound, destination names, node lists) and the body's
 * send stamp (fixed little-endian layout, round trip, refusal of foreign
 * bodies, latency never negative).
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
#include <weft/wire.h>

#include "weft_perf_msg_internal.h"

#define MAX_ARGS 32

/* Parses a NULL-terminated list of arguments (after the program name). */
static int parse_v(enum wp_msg_prog prog, struct wp_msg_config *c, char *err, size_t n, ...)
{
	char *argv[MAX_ARGS + 2];
	char store[MAX_ARGS + 1][256];
	int argc = 0;
	va_list ap;

	snprintf(store[0], sizeof(store[0]), "prog");
	argv[argc] = store[argc];
	argc++;
	va_start(ap, n);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
		assert_true(argc <= MAX_ARGS);
		snprintf(store[argc], sizeof(store[argc]), "%s", a);
		argv[argc] = store[argc];
		argc++;
	}
	va_end(ap);
	argv[argc] = NULL;
	return wp_msg_parse(argc, argv, prog, c, err, n);
}

#define PARSE(prog, c, ...) parse_v(prog, c, err, sizeof(err), __VA_ARGS__, (const char *)NULL)

static void test_parse_defaults(void **state)
{
	(void)state;
	struct wp_msg_config c;
	char err[160];
	assert_int_equal(PARSE(WP_MSG_PROG_WEFT, &c, "--msg", "queue", "--nodes", "10.240.0.11"), 0);
	assert_int_equal(c.prog, WP_MSG_PROG_WEFT);
	assert_int_equal(c.kind, WP_MSG_QUEUE);
	assert_int_equal(c.n_nodes, 1);
	assert_string_equal(c.node[0].host, "10.240.0.11");
	assert_int_equal(c.node[0].port, 0);
	assert_int_equal(c.subs, 1);
	assert_int_equal(c.publishers, 1);
	assert_int_equal(c.size, 64);
	assert_true(c.duration_s == 5);
	assert_int_equal(c.rate, 0);
	assert_int_equal(c.batch, WP_MSG_MAX_BATCH);
	assert_int_equal(c.timeout_ms, 500);
	assert_int_equal(c.drain_ms, 2000);
	assert_string_equal(c.dest, "");
	wp_msg_default_dest(&c, 4242);
	assert_string_equal(c.dest, "/queue/wperf-4242");
	assert_string_equal(wp_msg_variant(&c), "ack");
	wp_msg_default_dest(&c, 7); /* kept once set */
	assert_string_equal(c.dest, "/queue/wperf-4242");
}

static void test_parse_all_options(void **state)
{
	(void)state;
	struct wp_msg_config c;
	char err[160];
	assert_int_equal(PARSE(WP_MSG_PROG_WEFT, &c, "--msg", "topic", "--nodes",
			       "10.240.0.11,10.240.0.12:7800,10.240.0.13", "--subs", "10",
			       "--publishers", "4", "--size", "4096", "--duration", "2.5", "--rate",
			       "20000", "--dest", "/topic/t1", "--batch", "16", "--timeout-ms", "250",
			       "--drain-ms", "0"), 0);
	assert_int_equal(c.kind, WP_MSG_TOPIC);
	assert_int_equal(c.n_nodes, 3);
	assert_string_equal(c.node[1].host, "10.240.0.12");
	assert_int_equal(c.node[1].port, 7800);
	assert_string_equal(c.node[2].host, "10.240.0.13");
	assert_int_equal(c.subs, 10);
	assert_int_equal(c.publishers, 4);
	assert_int_equal(c.size, 4096);
	assert_true(c.duration_s == 2.5);
	assert_int_equal(c.rate, 20000);
	assert_string_equal(c.dest, "/topic/t1");
	assert_int_equal(c.batch, 16);
	assert_int_equal(c.timeout_ms, 250);
	assert_int_equal(c.drain_ms, 0);
	assert_string_equal(wp_msg_variant(&c), "sub");
	wp_msg_default_dest(&c, 1);
	assert_string_equal(c.dest, "/topic/t1");

	/* --server is --nodes with one address; the parser can run again. */
	assert_int_equal(PARSE(WP_MSG_PROG_REDIS, &c, "--msg", "queue", "--server",
			       "127.0.0.1:6390", "--queue-cmd", "brpop"), 0);
	assert_int_equal(c.prog, WP_MSG_PROG_REDIS);
	assert_int_equal(c.n_nodes, 1);
	assert_int_equal(c.node[0].port, 6390);
	assert_int_equal(c.redis_queue, WP_MSG_RQ_BRPOP);
	assert_string_equal(wp_msg_variant(&c), "brpop");
	assert_int_equal(PARSE(WP_MSG_PROG_REDIS, &c, "--msg", "queue", "--server", "127.0.0.1"), 0);
	assert_int_equal(c.redis_queue, WP_MSG_RQ_BLMOVE);
	assert_string_equal(wp_msg_variant(&c), "blmove");
	assert_int_equal(PARSE(WP_MSG_PROG_REDIS, &c, "--msg", "topic", "--server", "127.0.0.1"), 0);
	assert_string_equal(wp_msg_variant(&c), "pubsub");
	assert_int_equal(PARSE(WP_MSG_PROG_WEFT, &c, "--help"), 1);
	assert_int_equal(PARSE(WP_MSG_PROG_WEFT, &c, "--msg", "x", "--help"), 1);
}

static void test_parse_bounds(void **state)
{
	(void)state;
	struct wp_msg_config c;
	char err[160];
	char big[16];
	enum wp_msg_prog W = WP_MSG_PROG_WEFT;
	const char *n = "10.0.0.1";

	snprintf(big, sizeof(big), "%u", (unsigned)WEFT_MAX_BODY_LEN + 1);
	assert_int_equal(PARSE(W, &c, "--nodes", n), -EINVAL);          /* no --msg */
	assert_non_null(strstr(err, "--msg"));
	assert_int_equal(PARSE(W, &c, "--msg", "queue"), -EINVAL);      /* no nodes */
	assert_int_equal(PARSE(W, &c, "--msg", "fanout", "--nodes", n), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--subs", "0"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--subs", "257"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--subs", "256"), 0);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--subs", "-1"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--publishers", "65"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--size", "23"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--size", "24"), 0);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--size", big), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--duration", "0"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--duration", "-1"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--duration", "3s"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--duration", "nan"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--rate", "x"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--batch", "65"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--batch", "0"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--timeout-ms", "0"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--drain-ms", "60001"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--bogus"), -EINVAL);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "extra"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes"), -EINVAL); /* no value */
	assert_non_null(strstr(err, "needs a value"));
}

static void test_parse_nodes_and_programs(void **state)
{
	(void)state;
	struct wp_msg_config c;
	char err[160];
	char many[17 * 12 + 1] = "";
	enum wp_msg_prog W = WP_MSG_PROG_WEFT, R = WP_MSG_PROG_REDIS;

	for (unsigned i = 0; i < 17; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.0.0.%u",
			 i ? "," : "", i + 1);
	assert_int_equal(PARSE(W, &c, "--msg", "topic", "--nodes", many), -EINVAL);
	assert_non_null(strstr(err, "at most"));
	many[strrchr(many, ',') - many] = '\0'; /* 16 fit */
	assert_int_equal(PARSE(W, &c, "--msg", "topic", "--nodes", many), 0);
	assert_int_equal(c.n_nodes, WP_MSG_MAX_NODES);
	assert_int_equal(PARSE(W, &c, "--msg", "topic", "--nodes", "10.0.0.1,"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "topic", "--nodes", ",10.0.0.1"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "topic", "--nodes", "10.0.0.1,,10.0.0.2"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "topic", "--nodes", "host.example"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "topic", "--nodes", "10.0.0.1:0"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "topic", "--nodes", "10.0.0.1:65536"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "topic", "--nodes", "10.0.0.1:"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "topic", "--server", "10.0.0.1,10.0.0.2"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "topic", "--nodes", "10.0.0.1", "--server",
			       "10.0.0.2"), -EINVAL);
	/* Each program refuses the other's options. */
	assert_int_equal(PARSE(R, &c, "--msg", "queue", "--nodes", "127.0.0.1,127.0.0.2"), -EINVAL);
	assert_int_equal(PARSE(R, &c, "--msg", "queue", "--server", "127.0.0.1", "--batch", "8"),
			 -EINVAL);
	assert_int_equal(PARSE(R, &c, "--msg", "queue", "--server", "127.0.0.1", "--timeout-ms",
			       "8"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", "10.0.0.1", "--queue-cmd",
			       "brpop"), -EINVAL);
	assert_int_equal(PARSE(R, &c, "--msg", "queue", "--server", "127.0.0.1", "--queue-cmd",
			       "rpop"), -EINVAL);

	struct wp_msg_addr a;
	assert_int_equal(wp_msg_parse_addr("127.0.0.1:6379", &a), 0);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 6379);
	assert_int_equal(wp_msg_parse_addr("255.255.255.2555", &a), -EINVAL);
	assert_int_equal(wp_msg_parse_addr(":7700", &a), -EINVAL);
}

static void test_parse_dest(void **state)
{
	(void)state;
	struct wp_msg_config c;
	char err[160];
	char longest[WP_MSG_DEST_MAX + 2];
	enum wp_msg_prog W = WP_MSG_PROG_WEFT;
	const char *n = "10.0.0.1";

	memcpy(longest, "/queue/", 7);
	memset(longest + 7, 'q', WP_MSG_DEST_MAX - 7);
	longest[WP_MSG_DEST_MAX] = '\0';
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--dest", longest), 0);
	assert_string_equal(c.dest, longest);
	longest[WP_MSG_DEST_MAX] = 'q';
	longest[WP_MSG_DEST_MAX + 1] = '\0';
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--dest", longest), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--dest", "/topic/a"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "topic", "--nodes", n, "--dest", "/queue/a"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--dest", "/queue/"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--dest", "/queue/a b"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--dest", "queue/a"), -EINVAL);
	assert_int_equal(PARSE(W, &c, "--msg", "queue", "--nodes", n, "--dest", "/queue/a\x7f"),
			 -EINVAL);
}

static void test_stamp_layout(void **state)
{
	(void)state;
	uint8_t body[WP_MSG_STAMP_LEN + 40];
	struct wp_msg_stamp s = { .publisher = 3, .seq = 0x0102030405060708ull,
				  .sent_ns = 0x1112131415161718ull }, t;

	memset(body, 0, sizeof(body));
	wp_msg_fill(body, sizeof(body), 3);
	wp_msg_stamp_write(body, &s);
	/* Little-endian whatever the host. */
	static const uint8_t want[WP_MSG_STAMP_LEN] = {
		'W', 'P', 'M', 'S', 3, 0, 0, 0,
		8, 7, 6, 5, 4, 3, 2, 1,
		0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,
	};
	assert_memory_equal(body, want, sizeof(want));
	for (size_t i = WP_MSG_STAMP_LEN; i < sizeof(body); i++)
		assert_true(body[i] >= 'a' && body[i] <= 'z');
	/* The filler is not touched by a new stamp. */
	uint8_t filler[sizeof(body) - WP_MSG_STAMP_LEN];
	memcpy(filler, body + WP_MSG_STAMP_LEN, sizeof(filler));
	s.seq++;
	wp_msg_stamp_write(body, &s);
	assert_memory_equal(body + WP_MSG_STAMP_LEN, filler, sizeof(filler));

	assert_int_equal(wp_msg_stamp_read(body, sizeof(body), &t), 0);
	assert_int_equal(t.publisher, 3);
	assert_true(t.seq == s.seq);
	assert_true(t.sent_ns == s.sent_ns);
	/* Exactly a stamp is enough; one byte less, or another magic, is not. */
	assert_int_equal(wp_msg_stamp_read(body, WP_MSG_STAMP_LEN, &t), 0);
	assert_int_equal(wp_msg_stamp_read(body, WP_MSG_STAMP_LEN - 1, &t), -EINVAL);
	assert_int_equal(wp_msg_stamp_read(NULL, 64, &t), -EINVAL);
	body[0] = 'X';
	assert_int_equal(wp_msg_stamp_read(body, sizeof(body), &t), -EINVAL);
}

static void test_stamp_probe_and_latency(void **state)
{
	(void)state;
	uint8_t body[WP_MSG_STAMP_LEN];
	struct wp_msg_stamp s = { .publisher = WP_MSG_PROBE, .seq = 1, .sent_ns = UINT64_MAX }, t;

	wp_msg_stamp_write(body, &s);
	assert_int_equal(wp_msg_stamp_read(body, sizeof(body), &t), 0);
	assert_int_equal(t.publisher, WP_MSG_PROBE);
	assert_true(t.sent_ns == UINT64_MAX);
	assert_true(wp_msg_latency(1500, 1000) == 500);
	assert_true(wp_msg_latency(1000, 1000) == 0);
	assert_true(wp_msg_latency(1000, 1001) == 0); /* never negative */
	assert_true(wp_msg_latency(UINT64_MAX, 0) == UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_defaults),
		cmocka_unit_test(test_parse_all_options),
		cmocka_unit_test(test_parse_bounds),
		cmocka_unit_test(test_parse_nodes_and_programs),
		cmocka_unit_test(test_parse_dest),
		cmocka_unit_test(test_stamp_layout),
		cmocka_unit_test(test_stamp_probe_and_latency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
