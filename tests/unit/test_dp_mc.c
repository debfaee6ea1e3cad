/*
 * test_dp_mc.c — the memcached UDP endpoint (docs/memcached.md): the pure
 * parser and renderers (dp_mc_parse.c: every command, memcached's error
 * lines, exptime, incr arithmetic), then the real worker on a fake port
 * (dp_mc.c): every command's answer text, cas uniques, flags, a multi-key
 * get answered across several datagrams, noreply, malformed frames counted,
 * and the amplification rule for sources outside --memcached-trust.
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

#include "dp_fakeport.h"
#include "dp_frames.h"

static const uint8_t CLIENT_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t NODE_IP[4] = {10, 237, 9, 2};
static const uint8_t CLIENT_IP[4] = {10, 237, 9, 1};   /* trusted */
static const uint8_t STRANGER_IP[4] = {10, 99, 0, 1};  /* not trusted */
#define NODE_PORT 7700u
#define MC_PORT 11211u
#define CLIENT_PORT 40000u

/* --- pure parser ----------------------------------------------------------- */

/* A datagram: frame header (id, seq 0, total 1) + text. */
static uint32_t dgram(uint8_t *buf, uint16_t id, const char *text, uint32_t tl)
{
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = buf[3] = 0;
	buf[4] = 0;
	buf[5] = 1;
	buf[6] = buf[7] = 0;
	memcpy(buf + 8, text, tl);
	return 8 + tl;
}

static enum dp_mc_parse_rc parse(const char *text, struct dp_mc_cmd *c, const char **err)
{
	static uint8_t buf[4096];
	uint32_t n = dgram(buf, 0x1234, text, (uint32_t)strlen(text));
	return dp_mc_parse(buf, n, c, err);
}

static void expect_err(const char *text, const char *line)
{
	struct dp_mc_cmd c;
	const char *err;
	assert_int_equal(parse(text, &c, &err), DP_MC_ANSWER);
	assert_string_equal(err, line);
}

static void test_parse_commands(void **state)
{
	(void)state;
	struct dp_mc_cmd c;
	const char *err;
	assert_int_equal(parse("get a bb ccc\r\n", &c, &err), DP_MC_PARSED);
	assert_int_equal(c.req_id, 0x1234);
	assert_int_equal(c.op, DP_MC_GET);
	assert_int_equal(c.n_keys, 3);
	assert_memory_equal(c.key[2], "ccc", 3);
	assert_int_equal(c.key_len[1], 2);
	assert_int_equal(parse("gets k\n", &c, &err), DP_MC_PARSED); /* bare \n too */
	assert_int_equal(c.op, DP_MC_GETS);
	assert_int_equal(parse("set k 42 100 5\r\nhello\r\n", &c, &err), DP_MC_PARSED);
	assert_int_equal(c.op, DP_MC_SET);
	assert_int_equal(c.flags, 42);
	assert_int_equal(c.exptime, 100);
	assert_int_equal(c.bytes, 5);
	assert_memory_equal(c.data, "hello", 5);
	assert_false(c.noreply);
	assert_int_equal(parse("cas k 0 -1 2 99 noreply\r\nhi\r\n", &c, &err), DP_MC_PARSED);
	assert_int_equal(c.op, DP_MC_CAS);
	assert_int_equal(c.cas, 99);
	assert_int_equal(c.exptime, -1);
	assert_true(c.noreply);
	assert_int_equal(parse("add k 0 0 0\r\n\r\n", &c, &err), DP_MC_PARSED);
	assert_int_equal(c.bytes, 0);
	assert_int_equal(parse("delete k noreply\r\n", &c, &err), DP_MC_PARSED);
	assert_true(c.noreply);
	assert_int_equal(parse("delete k 0\r\n", &c, &err), DP_MC_PARSED);
	assert_int_equal(parse("incr k 18446744073709551615\r\n", &c, &err), DP_MC_PARSED);
	assert_true(c.delta == UINT64_MAX);
	assert_int_equal(parse("touch k 10\r\n", &c, &err), DP_MC_PARSED);
	assert_int_equal(c.op, DP_MC_TOUCH);
	assert_int_equal(parse("append k 0 0 1\r\nx\r\n", &c, &err), DP_MC_PARSED);
	assert_int_equal(parse("prepend k 0 0 1\r\nx\r\n", &c, &err), DP_MC_PARSED);
	assert_int_equal(parse("replace k 0 0 1\r\nx\r\n", &c, &err), DP_MC_PARSED);
	assert_int_equal(parse("decr k 1\r\n", &c, &err), DP_MC_PARSED);
}

static void test_parse_errors(void **state)
{
	(void)state;
	struct dp_mc_cmd c;
	const char *err;
	uint8_t b[16] = {0};
	assert_int_equal(dp_mc_parse(b, 7, &c, &err), DP_MC_DROP); /* no frame header */
	b[5] = 2;                                                  /* 2 datagrams */
	assert_int_equal(dp_mc_parse(b, 8, &c, &err), DP_MC_ANSWER);
	assert_string_equal(err, "SERVER_ERROR multi-packet request not supported\r\n");
	expect_err("bogus k\r\n", "ERROR\r\n");
	expect_err("get k", "ERROR\r\n"); /* no end of line */
	expect_err("\r\n", "ERROR\r\n");
	expect_err("get\r\n", "ERROR\r\n");
	expect_err("set k 0 0\r\n", "CLIENT_ERROR bad command line format\r\n");
	expect_err("set k x 0 1\r\na\r\n", "CLIENT_ERROR bad command line format\r\n");
	expect_err("set k 4294967296 0 1\r\na\r\n", "CLIENT_ERROR bad command line format\r\n");
	expect_err("set k 0 0 5\r\nabc\r\n", "CLIENT_ERROR bad data chunk\r\n");
	expect_err("set k 0 0 2\r\nabcd\r\n", "CLIENT_ERROR bad data chunk\r\n");
	expect_err("set k 0 0 2000000\r\nab\r\n", "SERVER_ERROR object too large for cache\r\n");
	expect_err("incr k x\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n");
	expect_err("incr k 18446744073709551616\r\n",
		   "CLIENT_ERROR invalid numeric delta argument\r\n");
	expect_err("delete k 5\r\n", "CLIENT_ERROR bad command line format\r\n");
	expect_err("cas k 0 0 1\r\na\r\n", "CLIENT_ERROR bad command line format\r\n");
	char line[400];
	memset(line, 'k', sizeof(line));
	memcpy(line, "get ", 4);
	memcpy(line + 4 + 251, "\r\n", 3); /* a 251-byte key */
	expect_err(line, "CLIENT_ERROR bad command line format\r\n");
	line[4 + 250] = '\r'; /* 250 bytes: fine */
	line[4 + 251] = '\n';
	line[4 + 252] = '\0';
	assert_int_equal(parse(line, &c, &err), DP_MC_PARSED);
	assert_int_equal(c.key_len[0], 250);
	/* noreply still set on a command that fails after its line */
	assert_int_equal(parse("set k 0 0 3 noreply\r\nab\r\n", &c, &err), DP_MC_ANSWER);
	assert_true(c.noreply);
	/* too many keys for one get */
	char many[1200] = "get";
	for (unsigned i = 0; i < DP_MC_MAX_KEYS + 1; i++)
		strcat(many, " k");
	strcat(many, "\r\n");
	expect_err(many, "CLIENT_ERROR bad command line format\r\n");
}

static void test_ttl_incr_render(void **state)
{
	(void)state;
	assert_int_equal(dp_mc_ttl_ms(0, 1000), 0);
	assert_int_equal(dp_mc_ttl_ms(-5, 1000), 1);
	assert_int_equal(dp_mc_ttl_ms(60, 1000), 60000);
	assert_int_equal(dp_mc_ttl_ms(2592000, 0), 2592000000ull);
	assert_int_equal(dp_mc_ttl_ms(1700000100, 1700000000), 100000);
	assert_int_equal(dp_mc_ttl_ms(1700000000, 1700000001), 1);
	uint64_t v;
	assert_int_equal(dp_mc_incr((const uint8_t *)"41", 2, 1, false, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(dp_mc_incr((const uint8_t *)"5  ", 3, 9, true, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(dp_mc_incr((const uint8_t *)"18446744073709551615", 20, 2, false, &v), 0);
	assert_int_equal(v, 1); /* wraps */
	assert_int_equal(dp_mc_incr((const uint8_t *)"4a", 2, 1, false, &v), -EINVAL);
	assert_int_equal(dp_mc_incr((const uint8_t *)"", 0, 1, false, &v), -EINVAL);
	assert_int_equal(dp_mc_incr((const uint8_t *)"-1", 2, 1, false, &v), -EINVAL);
	char line[300];
	uint32_t n = dp_mc_value_line(line, sizeof(line), (const uint8_t *)"key", 3, 7, 5, true, 9);
	assert_int_equal(n, strlen("VALUE key 7 5 9\r\n"));
	assert_memory_equal(line, "VALUE key 7 5 9\r\n", n);
	assert_string_equal(dp_mc_status_line(DP_MC_ADD, WEFT_ST_EXISTS), "NOT_STORED\r\n");
	assert_string_equal(dp_mc_status_line(DP_MC_CAS, WEFT_ST_VERSION_MISMATCH), "EXISTS\r\n");
	assert_string_equal(dp_mc_status_line(DP_MC_CAS, WEFT_ST_NOT_FOUND), "NOT_FOUND\r\n");
	assert_string_equal(dp_mc_status_line(DP_MC_DELETE, WEFT_ST_OK), "DELETED\r\n");
	assert_string_equal(dp_mc_status_line(DP_MC_TOUCH, WEFT_ST_OK), "TOUCHED\r\n");
	assert_string_equal(dp_mc_status_line(DP_MC_REPLACE, WEFT_ST_NOT_FOUND), "NOT_STORED\r\n");
}

/* --- the worker on a fake port ----------------------------------------------- */

static struct {
	struct dp_fakeport fp;
	uint64_t now;
	uint16_t id;
} T;

static void push_from(const uint8_t src[4], const void *d, uint32_t len)
{
	assert_int_equal(dp_fakeport_push(&T.fp, CLIENT_MAC, src, CLIENT_PORT, NODE_IP, MC_PORT, d,
					  len),
			 0);
}

struct reply {
	unsigned n;            /* datagrams */
	uint32_t bytes;        /* UDP payload bytes, headers included */
	size_t len;
	char text[65536];      /* reassembled in sequence order */
};

/* Runs the worker, collects every answer datagram of request id `id`
 * (checking frame headers: same id, total constant, each seq once). */
static void collect(uint16_t id, struct reply *r)
{
	memset(r, 0, sizeof(*r) - sizeof(r->text));
	struct rte_mbuf *m[256];
	unsigned got = dp_fakeport_run(&T.fp, m, 256);
	static char part[256][1400];
	static uint32_t part_len[256];
	unsigned total = 0;
	bool seen[256] = {false};
	for (unsigned i = 0; i < got; i++) {
		const uint8_t *f = rte_pktmbuf_mtod(m[i], const uint8_t *);
		assert_int_equal(rd16(f + 14 + 20), MC_PORT); /* from the memcached port */
		uint32_t ul = rd16(f + 14 + 24) - 8u;
		const uint8_t *h = f + 42;
		assert_true(ul >= 8);
		assert_int_equal(rd16(h), id);
		uint16_t seq = rd16(h + 2), tot = rd16(h + 4);
		assert_true(total == 0 || total == tot);
		total = tot;
		assert_true(seq < tot && seq < 256 && !seen[seq]);
		assert_true(ul <= DP_MC_DGRAM_MAX);
		seen[seq] = true;
		memcpy(part[seq], h + 8, ul - 8);
		part_len[seq] = ul - 8;
		r->bytes += ul;
		r->n++;
		rte_pktmbuf_free(m[i]);
	}
	assert_int_equal(r->n, total);
	for (unsigned s = 0; s < total; s++) {
		memcpy(r->text + r->len, part[s], part_len[s]);
		r->len += part_len[s];
	}
	r->text[r->len] = '\0';
}

static struct reply R;

/* Sends text from src, returns the answer (R). */
static const char *ask_from(const uint8_t src[4], const char *text, size_t tl)
{
	static uint8_t buf[2100];
	uint16_t id = ++T.id;
	uint32_t n = dgram(buf, id, text, (uint32_t)tl);
	push_from(src, buf, n);
	collect(id, &R);
	return R.text;
}

static const char *ask(const char *text)
{
	return ask_from(CLIENT_IP, text, strlen(text));
}

static void test_storage_and_get(void **state)
{
	(void)state;
	assert_string_equal(ask("set a 5 0 3\r\nabc\r\n"), "STORED\r\n");
	assert_string_equal(ask("get a\r\n"), "VALUE a 5 3\r\nabc\r\nEND\r\n");
	assert_string_equal(ask("get nothing\r\n"), "END\r\n");
	assert_string_equal(ask("add a 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
	assert_string_equal(ask("add b 1 0 1\r\nx\r\n"), "STORED\r\n");
	assert_string_equal(ask("replace c 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
	assert_string_equal(ask("replace b 2 0 2\r\nyy\r\n"), "STORED\r\n");
	assert_string_equal(ask("get b\r\n"), "VALUE b 2 2\r\nyy\r\nEND\r\n");
	assert_string_equal(ask("append a 9 0 2\r\nde\r\n"), "STORED\r\n");
	assert_string_equal(ask("prepend a 9 0 2\r\n<<\r\n"), "STORED\r\n");
	assert_string_equal(ask("get a\r\n"), "VALUE a 5 7\r\n<<abcde\r\nEND\r\n"); /* flags kept */
	assert_string_equal(ask("append zz 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
	/* gets: the cas unique, then cas with it, a stale one, a missing key */
	const char *g = ask("gets b\r\n");
	unsigned long long cas = 0;
	assert_int_equal(sscanf(g, "VALUE b 2 2 %llu\r\n", &cas), 1);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "cas b 3 0 1 %llu\r\nz\r\n", cas);
	assert_string_equal(ask(cmd), "STORED\r\n");
	assert_string_equal(ask(cmd), "EXISTS\r\n");
	snprintf(cmd, sizeof(cmd), "cas nob 3 0 1 %llu\r\nz\r\n", cas);
	assert_string_equal(ask(cmd), "NOT_FOUND\r\n");
	assert_string_equal(ask("delete b\r\n"), "DELETED\r\n");
	assert_string_equal(ask("delete b\r\n"), "NOT_FOUND\r\n");
	assert_string_equal(ask("get b\r\n"), "END\r\n");
}

static void test_incr_decr_touch(void **state)
{
	(void)state;
	assert_string_equal(ask("incr n 1\r\n"), "NOT_FOUND\r\n");
	assert_string_equal(ask("set n 0 0 2\r\n10\r\n"), "STORED\r\n");
	assert_string_equal(ask("incr n 5\r\n"), "15\r\n");
	assert_string_equal(ask("decr n 100\r\n"), "0\r\n");
	assert_string_equal(ask("incr n 18446744073709551615\r\n"), "18446744073709551615\r\n");
	assert_string_equal(ask("incr n 2\r\n"), "1\r\n"); /* wraps */
	assert_string_equal(ask("get n\r\n"), "VALUE n 0 1\r\n1\r\nEND\r\n");
	assert_string_equal(ask("set s 0 0 3\r\nabc\r\n"), "STORED\r\n");
	assert_string_equal(ask("incr s 1\r\n"),
			    "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
	/* touch, then expiry by the (virtual) clock */
	assert_string_equal(ask("touch nope 10\r\n"), "NOT_FOUND\r\n");
	assert_string_equal(ask("set t 0 10 1\r\nx\r\n"), "STORED\r\n");
	assert_string_equal(ask("touch t 100\r\n"), "TOUCHED\r\n");
	T.now += 50 * 1000;
	assert_string_equal(ask("get t\r\n"), "VALUE t 0 1\r\nx\r\nEND\r\n");
	T.now += 60 * 1000;
	assert_string_equal(ask("get t\r\n"), "END\r\n");
	assert_string_equal(ask("set u 0 -1 1\r\nx\r\n"), "STORED\r\n"); /* expired at once */
	T.now += 2;
	assert_string_equal(ask("get u\r\n"), "END\r\n");
}

static void test_multi_get_datagrams(void **state)
{
	(void)state;
	/* 20 values of 1000 bytes: one answer of ~20 KB over 15 datagrams */
	char cmd[1400];
	static char val[1000];
	memset(val, 'v', sizeof(val));
	for (unsigned i = 0; i < 20; i++) {
		int n = snprintf(cmd, sizeof(cmd), "set m%u %u 0 1000\r\n", i, i);
		memcpy(cmd + n, val, 1000);
		memcpy(cmd + n + 1000, "\r\n", 2);
		ask_from(CLIENT_IP, cmd, (size_t)n + 1002);
		assert_string_equal(R.text, "STORED\r\n");
	}
	strcpy(cmd, "get");
	for (unsigned i = 0; i < 20; i++)
		sprintf(cmd + strlen(cmd), " m%u", i);
	strcat(cmd, " missing\r\n");
	ask(cmd);
	assert_true(R.n >= 15);
	size_t expect = 0;
	for (unsigned i = 0; i < 20; i++) {
		char head[64];
		int hl = snprintf(head, sizeof(head), "VALUE m%u %u 1000\r\n", i, i);
		const char *p = strstr(R.text, head);
		assert_non_null(p);
		assert_memory_equal(p + hl, val, 1000);
		expect += (size_t)hl + 1002;
	}
	assert_int_equal(R.len, expect + 5);
	assert_string_equal(R.text + R.len - 5, "END\r\n");
}

static void stats_has(const char *needle)
{
	size_t need = weft_dp_stats_format(T.fp.dp, NULL, 0) + 1;
	char *text = malloc(need);
	assert_non_null(text);
	weft_dp_stats_format(T.fp.dp, text, need);
	if (strstr(text, needle) == NULL)
		fail_msg("STATS lacks \"%s\"", needle);
	free(text);
}

static void test_errors_and_noreply(void **state)
{
	(void)state;
	assert_string_equal(ask("frobnicate\r\n"), "ERROR\r\n");
	assert_string_equal(ask("set k 0 0 9\r\nab\r\n"), "CLIENT_ERROR bad data chunk\r\n");
	/* noreply: nothing comes back, but it happened */
	ask("set q 0 0 1 noreply\r\nq\r\n");
	assert_int_equal(R.n, 0);
	assert_string_equal(ask("get q\r\n"), "VALUE q 0 1\r\nq\r\nEND\r\n");
	ask("delete q noreply\r\n");
	assert_int_equal(R.n, 0);
	assert_string_equal(ask("get q\r\n"), "END\r\n");
	/* malformed frames: counted drops, no answer, the node goes on */
	uint8_t junk[5] = {1, 2, 3, 4, 5};
	push_from(CLIENT_IP, junk, sizeof(junk));
	collect(0, &R);
	assert_int_equal(R.n, 0);
	stats_has("mc.total.drop_short 1\n");
	for (unsigned len = 8; len < 64; len++) { /* garbage of every short length */
		uint8_t g[64];
		for (unsigned i = 0; i < len; i++)
			g[i] = (uint8_t)(i * 37 + len);
		g[4] = 0;
		g[5] = 1;
		g[2] = g[3] = 0;
		push_from(CLIENT_IP, g, len);
		collect(rd16(g), &R);
		assert_true(R.n <= 1);
	}
	assert_string_equal(ask("get a\r\n"), "VALUE a 5 7\r\n<<abcde\r\nEND\r\n");
	stats_has("mc.total.cmd.get ");
	stats_has("mc.lcore.1.rx ");
}

static void test_unverified_source(void **state)
{
	(void)state;
	/* A source outside --memcached-trust gets nothing larger than its
	 * request: a small answer is sent, a large one becomes an error line. */
	char big[600];
	int n = snprintf(big, sizeof(big), "set big-value-under-a-long-enough-key 0 0 500\r\n");
	memset(big + n, 'b', 500);
	memcpy(big + n + 500, "\r\n", 2);
	ask_from(CLIENT_IP, big, (size_t)n + 502);
	assert_string_equal(R.text, "STORED\r\n");
	const char *g = "get big-value-under-a-long-enough-key\r\n";
	ask_from(STRANGER_IP, g, strlen(g));
	assert_int_equal(R.n, 1);
	assert_true(R.bytes <= 8 + strlen(g));
	assert_string_equal(R.text, "SERVER_ERROR unverified source\r\n");
	const char *s = "set st 0 0 1\r\nx\r\n";
	ask_from(STRANGER_IP, s, strlen(s));
	assert_string_equal(R.text, "STORED\r\n");
	const char *mg = "get nothing-here\r\n";
	ask_from(STRANGER_IP, mg, strlen(mg));
	assert_string_equal(R.text, "END\r\n");
	/* a 1-byte-key get whose refusal line would not fit: nothing at all */
	ask_from(STRANGER_IP, "get a\r\n", 7);
	assert_int_equal(R.n, 0);
	stats_has("mc.total.amp_refused 2\n");
	/* the trusted client still gets everything */
	ask_from(CLIENT_IP, g, strlen(g));
	assert_true(R.len > 500);
}

static int setup(void **state)
{
	*state = &T.fp;
	T.now = 1000000;
	struct weft_dp_config cfg = dp_fakeport_config(NODE_IP, NODE_PORT, &T.now);
	cfg.mc_port = MC_PORT;
	cfg.mc_cache = "mc-test";
	cfg.n_mc_trust = 1;
	cfg.mc_trust[0].ip = dp_ip4(CLIENT_IP);
	cfg.mc_trust[0].mask = 0xffffffffu;
	return dp_fakeport_open(&T.fp, "test_dp_mc", 1024, 1024, 2047, &cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_commands),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_ttl_incr_render),
		cmocka_unit_test(test_storage_and_get),
		cmocka_unit_test(test_incr_decr_touch),
		cmocka_unit_test(test_multi_get_datagrams),
		cmocka_unit_test(test_errors_and_noreply),
		cmocka_unit_test(test_unverified_source),
	};
	return cmocka_run_group_tests(tests, setup, dp_fakeport_teardown);
}
