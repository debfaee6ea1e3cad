/*
 * weft-perf's pure parts: the log-linear histogram's precision and
 * quantiles, the exact Zipf sampler's CDF, fixed-size keys, and both
 * protocols' encode → decode round trip (ids, hit / miss / stored / error),
 * multi-key gets included (--mget).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <weft/wire.h>

#include "weft_perf_internal.h"

static void test_hist_precision(void **state)
{
	(void)state;
	unsigned prev = 0;
	for (uint64_t v = 0; v < 5000000; v += 1 + v / 1000) {
		unsigned i = wp_hist_index(v);
		assert_true(i < WP_HIST_BUCKETS);
		assert_true(i >= prev); /* monotonic */
		prev = i;
		uint64_t up = wp_hist_upper(i);
		assert_true(up >= v);
		assert_true((double)(up - v) <= (double)v / 128.0);
		if (i > 0)
			assert_true(wp_hist_upper(i - 1) < v);
	}
	assert_true(wp_hist_index(UINT64_MAX) == WP_HIST_BUCKETS - 1);
	assert_true(wp_hist_upper(WP_HIST_BUCKETS - 1) == UINT64_MAX);
}

static void test_hist_quantiles(void **state)
{
	(void)state;
	struct wp_hist *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(wp_hist_quantile(a, 0.5), 0);
	for (uint64_t v = 1; v <= 500; v++)
		wp_hist_record(a, v * 1000);
	for (uint64_t v = 501; v <= 1000; v++)
		wp_hist_record(b, v * 1000);
	wp_hist_merge(a, b);
	assert_int_equal(a->count, 1000);
	assert_int_equal(a->max, 1000000);
	uint64_t p50 = wp_hist_quantile(a, 0.5), p99 = wp_hist_quantile(a, 0.99);
	assert_true(p50 >= 501000 && p50 <= 501000 + 501000 / 128);
	assert_true(p99 >= 991000 && p99 <= 991000 + 991000 / 128);
	assert_int_equal(wp_hist_quantile(a, 1.0), 1000000);
	free(a);
	free(b);
}

static void test_zipf_exact(void **state)
{
	(void)state;
	struct wp_zipf z;
	assert_int_equal(wp_zipf_init(&z, 1000, 0.99), 0);
	double h = 0;
	for (int i = 1; i <= 1000; i++)
		h += 1.0 / pow(i, 0.99);
	assert_true(fabs(z.cdf[0] - 1.0 / h) < 1e-12);
	assert_true(fabs(z.cdf[1] - z.cdf[0] - 1.0 / pow(2, 0.99) / h) < 1e-12);
	assert_true(z.cdf[999] == 1.0);
	assert_int_equal(wp_zipf_sample(&z, 0.0), 0);
	assert_int_equal(wp_zipf_sample(&z, z.cdf[0] * 0.999), 0);
	assert_int_equal(wp_zipf_sample(&z, z.cdf[0]), 1);
	assert_int_equal(wp_zipf_sample(&z, z.cdf[41]), 42);
	assert_int_equal(wp_zipf_sample(&z, 0.999999999999), 999);
	wp_zipf_free(&z);
	assert_int_equal(wp_zipf_init(&z, 0, 0.99), -22);
	/* theta 0 is uniform */
	assert_int_equal(wp_zipf_init(&z, 4, 0), 0);
	assert_int_equal(wp_zipf_sample(&z, 0.26), 1);
	assert_int_equal(wp_zipf_sample(&z, 0.76), 3);
	wp_zipf_free(&z);
}

static void test_keys_and_rng(void **state)
{
	(void)state;
	char k[8];
	wp_key(k, 8, 1234);
	assert_memory_equal(k, "k0001234", 8);
	wp_key(k, 3, 0);
	assert_memory_equal(k, "k00", 3);
	struct wp_rng r1, r2;
	wp_rng_seed(&r1, 5);
	wp_rng_seed(&r2, 5);
	for (int i = 0; i < 100; i++) {
		assert_true(wp_rng_next(&r1) == wp_rng_next(&r2));
		double u = wp_rng_unit(&r1);
		wp_rng_unit(&r2);
		assert_true(u >= 0 && u < 1);
	}
}

static void test_proto_roundtrip(void **state)
{
	(void)state;
	struct wp_config c = { .proto = WP_PROTO_WEFT, .key_size = 6, .value_size = 4, .cache = "pc" };
	uint8_t out[WP_MAX_DGRAM];
	uint64_t id;
	enum wp_result res;

	size_t n = wp_encode(&c, 77, 0x1234, false, 9, (const uint8_t *)"vvvv", NULL, out);
	assert_int_equal(n, wp_max_request_len(&c));
	struct weft_wire_hdr h;
	memcpy(&h, out, sizeof(h));
	/* F_COOKIE's trailer (zeros: no cookie yet) ends the datagram */
	assert_true(h.flags & WEFT_F_COOKIE);
	assert_int_equal(weft_wire_check(&h, n - WEFT_COOKIE_LEN), WEFT_ST_OK);
	uint8_t zero[WEFT_COOKIE_LEN] = {0};
	assert_memory_equal(out + n - WEFT_COOKIE_LEN, zero, WEFT_COOKIE_LEN);
	uint8_t ck[WEFT_COOKIE_LEN];
	memset(ck, 0xc5, sizeof(ck));
	assert_int_equal(wp_encode(&c, 77, 0x1234, false, 9, (const uint8_t *)"vvvv", ck, out), n);
	assert_memory_equal(out + n - WEFT_COOKIE_LEN, ck, WEFT_COOKIE_LEN);
	/* A COOKIE answer: its trailer is the cookie to send from now on. */
	uint8_t ans[sizeof(h) + WEFT_COOKIE_LEN];
	struct weft_wire_hdr a = h;
	a.flags = WEFT_F_RESPONSE | WEFT_F_COOKIE;
	a.status = WEFT_ST_COOKIE;
	a.name_len = 0;
	a.key_len = 0;
	a.extras_len = 0;
	a.msg_len = 0;
	memcpy(ans, &a, sizeof(a));
	memcpy(ans + sizeof(a), ck, sizeof(ck));
	assert_true(wp_decode(&c, 77, ans, sizeof(ans), &id, &res));
	assert_int_equal(res, WP_R_COOKIE);
	uint8_t got[WEFT_COOKIE_LEN];
	assert_true(wp_weft_cookie(ans, sizeof(ans), got));
	assert_memory_equal(got, ck, sizeof(ck));
	assert_false(wp_weft_cookie(ans, sizeof(a), got)); /* too short for one */
	wp_encode(&c, 77, 0x1234, false, 9, (const uint8_t *)"vvvv", NULL, out);
	memcpy(&h, out, sizeof(h));
	assert_int_equal(h.opcode, WEFT_OP_PUT);
	assert_memory_equal(out + 40, "pck00009", 8);
	/* the node's answer, as the node would build it */
	h.flags = WEFT_F_RESPONSE;
	h.name_len = 0;
	h.key_len = 0;
	h.extras_len = 8;
	h.msg_len = 8;
	memcpy(out, &h, sizeof(h));
	assert_true(wp_decode(&c, 77, out, 48, &id, &res));
	assert_int_equal(id, 0x1234);
	assert_int_equal(res, WP_R_STORED);
	assert_false(wp_decode(&c, 78, out, 48, &id, &res)); /* other client */
	h.opcode = WEFT_OP_GET;
	h.status = WEFT_ST_NOT_FOUND;
	h.msg_len = 0;
	h.extras_len = 0;
	memcpy(out, &h, sizeof(h));
	assert_true(wp_decode(&c, 77, out, 40, &id, &res));
	assert_int_equal(res, WP_R_MISS);
	assert_false(wp_decode(&c, 77, out, 39, &id, &res));

	c.proto = WP_PROTO_MEMCACHED;
	n = wp_encode(&c, 0, 0x10203, true, 5, NULL, NULL, out);
	assert_int_equal(n, 8 + 12);
	assert_memory_equal(out, "\x02\x03\x00\x00\x00\x01\x00\x00get k00005\r\n", n);
	n = wp_encode(&c, 0, 7, false, 5, (const uint8_t *)"abcd", NULL, out);
	assert_int_equal(n, wp_max_request_len(&c));
	assert_memory_equal(out + 8, "set k00005 0 0 4\r\nabcd\r\n", n - 8);
	static const struct {
		const char *body;
		enum wp_result res;
	} answers[] = {
		{ "VALUE k00005 0 4\r\nabcd\r\nEND\r\n", WP_R_HIT }, { "END\r\n", WP_R_MISS },
		{ "STORED\r\n", WP_R_STORED }, { "SERVER_ERROR out of memory\r\n", WP_R_ERROR },
	};
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		size_t bl = strlen(answers[i].body);
		memcpy(out, "\x00\x07\x00\x00\x00\x01\x00\x00", 8);
		memcpy(out + 8, answers[i].body, bl);
		assert_true(wp_decode(&c, 0, out, 8 + bl, &id, &res));
		assert_int_equal(id, 7);
		assert_int_equal(res, answers[i].res);
	}
	out[3] = 1; /* sequence 1 of a multi-datagram answer never completes */
	assert_false(wp_decode(&c, 0, out, 16, &id, &res));
	assert_false(wp_decode(&c, 0, out, 7, &id, &res));
}

/* Appends one MULTI_GET response entry (wire.h) at p; returns its end. */
static uint8_t *mget_entry(uint8_t *p, uint16_t status, const char *key, uint32_t vlen)
{
	struct weft_mget_entry_hdr e = { .status = status, .key_len = (uint16_t)strlen(key),
					 .value_len = vlen, .version = 1 };
	memcpy(p, &e, sizeof(e));
	p += sizeof(e);
	memcpy(p, key, e.key_len);
	p += e.key_len;
	memset(p, 'v', vlen);
	return p + vlen;
}

static void test_proto_mget(void **state)
{
	(void)state;
	struct wp_config c = { .proto = WP_PROTO_WEFT, .key_size = 6, .value_size = 4,
			       .cache = "pc", .mget = 3 };
	uint8_t out[WP_MAX_DGRAM];
	uint64_t keys[3] = { 1, 22, 333 }, id;
	enum wp_result res;

	/* weft: MULTI_GET [name][u16 3][3 x (u16 6, key)] + the cookie trailer */
	size_t n = wp_encode_mget(&c, 77, 0x55, keys, NULL, out);
	assert_true(n <= wp_max_request_len(&c));
	struct weft_wire_hdr h;
	memcpy(&h, out, sizeof(h));
	assert_int_equal(h.opcode, WEFT_OP_MULTI_GET);
	assert_int_equal(h.key_len, 0);
	assert_int_equal(h.msg_len, 2 + 2 + 3 * (2 + 6));
	assert_int_equal(n, sizeof(h) + h.msg_len + WEFT_COOKIE_LEN);
	assert_int_equal(weft_wire_check(&h, n - WEFT_COOKIE_LEN), WEFT_ST_OK);
	const uint8_t *v = out + sizeof(h) + 2;
	uint16_t u;
	memcpy(&u, v, 2);
	assert_int_equal(u, 3);
	memcpy(&u, v + 2, 2);
	assert_int_equal(u, 6);
	assert_memory_equal(v + 4, "k00001", 6);
	assert_memory_equal(v + 4 + 8, "k00022", 6);
	assert_memory_equal(v + 4 + 16, "k00333", 6);

	/* Its answer: a hit when every entry is OK, a miss when one is not,
	 * an error when the entries do not add up to msg_len. */
	uint8_t ans[512];
	struct weft_wire_hdr a = h;
	a.flags = WEFT_F_RESPONSE;
	a.status = WEFT_ST_OK;
	a.name_len = 0;
	uint8_t *p = ans + sizeof(a);
	uint16_t three = 3;
	memcpy(p, &three, 2);
	p = mget_entry(p + 2, WEFT_ST_OK, "k00001", 4);
	p = mget_entry(p, WEFT_ST_OK, "k00022", 4);
	uint8_t *third = p;
	p = mget_entry(p, WEFT_ST_OK, "k00333", 4);
	a.msg_len = (uint32_t)(p - ans - sizeof(a));
	memcpy(ans, &a, sizeof(a));
	assert_true(wp_decode(&c, 77, ans, (size_t)(p - ans), &id, &res));
	assert_int_equal(id, 0x55);
	assert_int_equal(res, WP_R_HIT);
	p = mget_entry(third, WEFT_ST_NOT_FOUND, "k00333", 0);
	a.msg_len = (uint32_t)(p - ans - sizeof(a));
	memcpy(ans, &a, sizeof(a));
	assert_true(wp_decode(&c, 77, ans, (size_t)(p - ans), &id, &res));
	assert_int_equal(res, WP_R_MISS);
	a.msg_len -= 1; /* a truncated last entry */
	memcpy(ans, &a, sizeof(a));
	assert_true(wp_decode(&c, 77, ans, (size_t)(p - ans) - 1, &id, &res));
	assert_int_equal(res, WP_R_ERROR);

	/* memcached: "get k1 k2 k3", answered one datagram per key then END */
	c.proto = WP_PROTO_MEMCACHED;
	n = wp_encode_mget(&c, 0, 0x0102, keys, NULL, out);
	assert_true(n <= wp_max_request_len(&c));
	assert_int_equal(n, 8 + strlen("get k00001 k00022 k00333\r\n"));
	assert_memory_equal(out + 8, "get k00001 k00022 k00333\r\n", n - 8);
	unsigned values;
	bool end;
	const uint8_t part[] = "\x01\x02\0\0\0\x01\0\0VALUE k00001 0 4\r\nvvvv\r\n";
	assert_true(wp_decode_mc_mget(part, sizeof(part) - 1, &id, &values, &end));
	assert_int_equal(id, 0x0102);
	assert_int_equal(values, 1);
	assert_false(end);
	const uint8_t last[] = "\x01\x02\0\0\0\x01\0\0VALUE k00333 0 4\r\nvvvv\r\nEND\r\n";
	assert_true(wp_decode_mc_mget(last, sizeof(last) - 1, &id, &values, &end));
	assert_int_equal(values, 1);
	assert_true(end);
	const uint8_t empty[] = "\x01\x02\0\0\0\0\0\0"; /* a missing key */
	assert_true(wp_decode_mc_mget(empty, sizeof(empty) - 1, &id, &values, &end));
	assert_int_equal(values, 0);
	assert_false(end);
	assert_false(wp_decode_mc_mget(empty, 7, &id, &values, &end));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_precision),
		cmocka_unit_test(test_hist_quantiles),
		cmocka_unit_test(test_zipf_exact),
		cmocka_unit_test(test_keys_and_rng),
		cmocka_unit_test(test_proto_roundtrip),
		cmocka_unit_test(test_proto_mget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
