/*
 * libweft codec and argument checks, without a network: every request
 * opcode's datagram byte by byte against wire.h, splitting of long requests,
 * FETCH, response matching, MULTI_GET bodies, TOPOLOGY values (well formed
 * and malformed) and the key -> owner rule, status strings, and that bad
 * arguments are refused before anything is sent.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "client_internal.h"
#include "test_client_peer.h"

static uint64_t le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Checks the 40 header bytes at their wire.h offsets. */
static void check_hdr_bytes(const uint8_t *d, uint8_t opcode, uint8_t flags, size_t name_len,
			    size_t key_len, size_t extras_len, uint32_t client_id, uint64_t rid,
			    size_t msg_len, size_t frag_offset)
{
	assert_int_equal(d[0], 0x46); /* 'F' */
	assert_int_equal(d[1], 0x57); /* 'W' */
	assert_int_equal(d[2], WEFT_WIRE_VERSION);
	assert_int_equal(d[3], opcode);
	assert_int_equal(d[4], flags);
	assert_int_equal(d[5], name_len);
	assert_int_equal(le(d + 6, 2), key_len);
	assert_int_equal(le(d + 8, 2), 0); /* status */
	assert_int_equal(le(d + 10, 2), extras_len);
	assert_int_equal(le(d + 12, 4), client_id);
	assert_int_equal(le(d + 16, 8), rid);
	assert_int_equal(le(d + 24, 4), 0); /* epoch */
	assert_int_equal(le(d + 28, 4), msg_len);
	assert_int_equal(le(d + 32, 4), frag_offset);
	assert_int_equal(le(d + 36, 4), 0); /* reserved */
}

static void test_encode_every_op(void **state)
{
	(void)state;
	static const uint8_t ops[] = {
		WEFT_OP_PING, WEFT_OP_GET, WEFT_OP_MULTI_GET, WEFT_OP_PUT, WEFT_OP_PUT_IF_ABSENT,
		WEFT_OP_REPLACE, WEFT_OP_CAS, WEFT_OP_DELETE, WEFT_OP_INCR, WEFT_OP_TOUCH,
		WEFT_OP_CACHE_OPEN, WEFT_OP_STATS, WEFT_OP_MEMBERS, WEFT_OP_TOPOLOGY,
	};
	uint8_t extras[sizeof(struct weft_x_replicate)]; /* the largest extras */
	uint8_t out[WEFT_MAX_DGRAM_LEN];
	for (size_t i = 0; i < sizeof(extras); i++)
		extras[i] = (uint8_t)(0xa0 + i);

	for (size_t i = 0; i < sizeof(ops); i++) {
		uint16_t xl = weft_wire_request_extras_len(ops[i]);
		struct weft_msg m = { .opcode = ops[i], .name = "users", .name_len = 5,
				      .key = "alice", .key_len = 5, .extras = extras,
				      .extras_len = xl, .value = "v4lue", .value_len = 5 };
		size_t len = weft_msg_encode(&m, 0xdeadbeef, 0x0102030405060708ull, 0, 0, out);
		assert_int_equal(len, 40 + 15 + xl);
		check_hdr_bytes(out, ops[i], 0, 5, 5, xl, 0xdeadbeef, 0x0102030405060708ull,
				15 + xl, 0);
		assert_memory_equal(out + 40, "users", 5);
		assert_memory_equal(out + 45, "alice", 5);
		if (xl)
			assert_memory_equal(out + 50, extras, xl);
		assert_memory_equal(out + 50 + xl, "v4lue", 5);
		assert_int_equal(weft_wire_check((struct weft_wire_hdr *)out, len), WEFT_ST_OK);
	}
}

static void test_encode_extras_layout(void **state)
{
	(void)state;
	/* The extras structs' field offsets, as the node reads them. */
	struct weft_x_cas cas = { .expected_version = 1, .ttl_ms = 2, .max_idle_ms = 3 };
	const uint8_t *b = (const uint8_t *)&cas;
	assert_int_equal(sizeof(cas), 24);
	assert_int_equal(le(b, 8), 1);
	assert_int_equal(le(b + 8, 8), 2);
	assert_int_equal(le(b + 16, 8), 3);
	struct weft_x_incr inc = { .delta = -2, .ttl_ms = 9 };
	b = (const uint8_t *)&inc;
	assert_int_equal(sizeof(inc), 16);
	assert_int_equal(le(b, 8), (uint64_t)-2);
	assert_int_equal(le(b + 8, 8), 9);
}

static void test_split_long_request(void **state)
{
	(void)state;
	size_t vlen = 5000;
	uint8_t *value = malloc(vlen), *whole = malloc(vlen + 100);
	uint8_t out[WEFT_MAX_DGRAM_LEN];
	struct weft_x_write x = { .ttl_ms = 1000, .max_idle_ms = 0 };
	assert_non_null(value);
	assert_non_null(whole);
	for (size_t i = 0; i < vlen; i++)
		value[i] = (uint8_t)(i * 7);
	struct weft_msg m = { .opcode = WEFT_OP_PUT, .name = "c", .name_len = 1, .key = "key",
			      .key_len = 3, .extras = &x, .extras_len = sizeof(x),
			      .value = value, .value_len = vlen };
	size_t total = 1 + 3 + sizeof(x) + vlen;
	assert_int_equal(weft_msg_len(&m), total);
	assert_int_equal(weft_msg_dgram_count(&m), 4); /* 5020 bytes / WEFT_MAX_DGRAM_PAYLOAD */
	for (size_t i = 0; i < 4; i++) {
		size_t len = weft_msg_encode(&m, 7, 9, WEFT_F_RETRY, i, out);
		size_t off = i * WEFT_MAX_DGRAM_PAYLOAD;
		size_t slice = total - off < WEFT_MAX_DGRAM_PAYLOAD ? total - off : WEFT_MAX_DGRAM_PAYLOAD;
		assert_int_equal(len, 40 + slice);
		check_hdr_bytes(out, WEFT_OP_PUT, WEFT_F_RETRY, 1, 3, sizeof(x), 7, 9, total, off);
		assert_int_equal(weft_wire_check((struct weft_wire_hdr *)out, len), WEFT_ST_OK);
		memcpy(whole + off, out + 40, slice);
	}
	assert_memory_equal(whole, "ckey", 4);
	assert_memory_equal(whole + 4, &x, sizeof(x));
	assert_memory_equal(whole + 4 + sizeof(x), value, vlen);
	free(value);
	free(whole);

	struct weft_msg ping = { .opcode = WEFT_OP_PING };
	assert_int_equal(weft_msg_dgram_count(&ping), 1);
	assert_int_equal(weft_msg_encode(&ping, 1, 2, 0, 0, out), 40);
	/* The sender's topology epoch goes in hdr.epoch; flags never NODE. */
	ping.epoch = 0x0a0b0c0d;
	weft_msg_encode(&ping, 1, 2, 0, 0, out);
	assert_int_equal(le(out + 24, 4), 0x0a0b0c0d);
	assert_int_equal(out[4] & WEFT_F_NODE, 0);
}

static void test_fetch_encode(void **state)
{
	(void)state;
	uint8_t out[WEFT_MAX_DGRAM_LEN];
	size_t len = weft_fetch_encode(0x11223344, 77, 0, 3 * WEFT_MAX_DGRAM_PAYLOAD, 32, out);
	assert_int_equal(len, 48);
	check_hdr_bytes(out, WEFT_OP_FETCH, 0, 0, 0, 8, 0x11223344, 77, 8, 0);
	assert_int_equal(le(out + 40, 4), 3 * WEFT_MAX_DGRAM_PAYLOAD);
	assert_int_equal(le(out + 44, 4), 32);
	assert_int_equal(weft_wire_check((struct weft_wire_hdr *)out, len), WEFT_ST_OK);
}

static size_t make_resp(uint8_t *buf, uint8_t opcode, uint8_t flags, uint32_t cid, uint64_t rid,
			uint32_t msg_len, uint32_t frag, size_t slice)
{
	struct weft_wire_hdr h = { .magic = WEFT_WIRE_MAGIC, .version = WEFT_WIRE_VERSION,
				   .opcode = opcode, .flags = flags, .client_id = cid,
				   .request_id = rid, .msg_len = msg_len, .frag_offset = frag };
	memcpy(buf, &h, sizeof(h));
	memset(buf + sizeof(h), 0, slice);
	return sizeof(h) + slice;
}

static void test_resp_matches(void **state)
{
	(void)state;
	uint8_t b[WEFT_MAX_DGRAM_LEN + 8];
	size_t n = make_resp(b, WEFT_OP_GET, WEFT_F_RESPONSE, 5, 6, 10, 0, 10);
	assert_true(weft_resp_matches(b, n, 5, 6, WEFT_OP_GET));
	assert_false(weft_resp_matches(b, n, 4, 6, WEFT_OP_GET));   /* other client */
	assert_false(weft_resp_matches(b, n, 5, 7, WEFT_OP_GET));   /* other request */
	assert_false(weft_resp_matches(b, n, 5, 6, WEFT_OP_PUT));   /* other op */
	assert_false(weft_resp_matches(b, 39, 5, 6, WEFT_OP_GET));  /* short */
	n = make_resp(b, WEFT_OP_FETCH, WEFT_F_RESPONSE, 5, 6, 5000, WEFT_MAX_DGRAM_PAYLOAD, WEFT_MAX_DGRAM_PAYLOAD);
	assert_true(weft_resp_matches(b, n, 5, 6, WEFT_OP_GET));    /* a FETCHed piece */
	n = make_resp(b, WEFT_OP_GET, 0, 5, 6, 10, 0, 10);
	assert_false(weft_resp_matches(b, n, 5, 6, WEFT_OP_GET));   /* not a response */
	/* WEFT_F_NODE is a known flag: a response carrying it is still taken;
	 * an unknown flag is not. */
	n = make_resp(b, WEFT_OP_GET, WEFT_F_RESPONSE | WEFT_F_NODE, 5, 6, 10, 0, 10);
	assert_true(weft_resp_matches(b, n, 5, 6, WEFT_OP_GET));
	n = make_resp(b, WEFT_OP_GET, WEFT_F_RESPONSE | 0x80, 5, 6, 10, 0, 10);
	assert_false(weft_resp_matches(b, n, 5, 6, WEFT_OP_GET));
	n = make_resp(b, WEFT_OP_GET, WEFT_F_RESPONSE, 5, 6, 100, 95, 10);
	assert_false(weft_resp_matches(b, n, 5, 6, WEFT_OP_GET));   /* past msg_len */
	n = make_resp(b, WEFT_OP_GET, WEFT_F_RESPONSE, 5, 6, 2000, 0, WEFT_MAX_DGRAM_PAYLOAD + 1);
	assert_false(weft_resp_matches(b, n, 5, 6, WEFT_OP_GET));   /* oversized */
	/* A MULTI_GET answer may exceed the 1 MiB value bound of requests... */
	n = make_resp(b, WEFT_OP_MULTI_GET, WEFT_F_RESPONSE, 5, 6, WEFT_MAX_VALUE_LEN + 100, WEFT_MAX_DGRAM_PAYLOAD, WEFT_MAX_DGRAM_PAYLOAD);
	assert_true(weft_resp_matches(b, n, 5, 6, WEFT_OP_MULTI_GET));
	/* ...but not libweft's bound on any response. */
	n = make_resp(b, WEFT_OP_MULTI_GET, WEFT_F_RESPONSE, 5, 6, WEFT_MAX_RESP_LEN + 1, WEFT_MAX_DGRAM_PAYLOAD, WEFT_MAX_DGRAM_PAYLOAD);
	assert_false(weft_resp_matches(b, n, 5, 6, WEFT_OP_MULTI_GET));
	n = make_resp(b, WEFT_OP_GET, WEFT_F_RESPONSE, 5, 6, 10, 0, 10);
	b[2] = 2;
	assert_false(weft_resp_matches(b, n, 5, 6, WEFT_OP_GET));   /* other version */
	n = make_resp(b, WEFT_OP_GET, WEFT_F_RESPONSE, 5, 6, 10, 0, 10);
	b[0] ^= 1;
	assert_false(weft_resp_matches(b, n, 5, 6, WEFT_OP_GET));   /* bad magic */
}

static void test_mget_codec(void **state)
{
	(void)state;
	struct weft_mget_item it[2] = { { .key = "ab", .key_len = 2 }, { .key = "c", .key_len = 1 } };
	uint8_t *body = NULL;
	size_t len = weft_mget_encode(it, 2, &body);
	static const uint8_t want[] = { 2, 0, 2, 0, 'a', 'b', 1, 0, 'c' };
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(body, want, sizeof(want));
	free(body);
	assert_int_equal(weft_mget_encode(it, 0, &body), 0);
	struct weft_mget_item bad = { .key = "", .key_len = 0 };
	assert_int_equal(weft_mget_encode(&bad, 1, &body), 0);

	/* count, then [status][key_len][value_len][version][key][value] */
	static const uint8_t resp[] = {
		2, 0,
		0, 0, 2, 0, 3, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'x', 'y', 'z',
		1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'c',
	};
	assert_int_equal(weft_mget_decode(resp, sizeof(resp), it, 2), 0);
	assert_int_equal(it[0].status, 0);
	assert_int_equal(it[0].value_len, 3);
	assert_memory_equal(it[0].value, "xyz", 3);
	assert_int_equal(it[0].version, 9);
	assert_int_equal(it[1].status, -WEFT_ST_NOT_FOUND);
	assert_null(it[1].value);
	/* Truncations, a wrong count, an unechoed key, trailing bytes. */
	for (size_t cut = 0; cut < sizeof(resp); cut++)
		assert_int_equal(weft_mget_decode(resp, cut, it, 2), -WEFT_ST_PROTOCOL);
	assert_int_equal(weft_mget_decode(resp, sizeof(resp), it, 1), -WEFT_ST_PROTOCOL);
	uint8_t mod[sizeof(resp) + 1];
	memcpy(mod, resp, sizeof(resp));
	mod[18] = 'q';
	assert_int_equal(weft_mget_decode(mod, sizeof(resp), it, 2), -WEFT_ST_PROTOCOL);
	memcpy(mod, resp, sizeof(resp));
	mod[sizeof(resp)] = 0;
	assert_int_equal(weft_mget_decode(mod, sizeof(mod), it, 2), -WEFT_ST_PROTOCOL);
}

static void test_status_strings(void **state)
{
	(void)state;
	for (int s = 0; s < WEFT_ST__SERVER_COUNT; s++) {
		assert_string_not_equal(weft_status_name(s), "UNKNOWN");
		assert_string_equal(weft_status_name(-s), weft_status_name(s));
		assert_non_null(weft_strerror(-s));
	}
	for (int s = WEFT_ST_TIMEOUT; s <= WEFT_ST_INVALID_ARG; s++)
		assert_string_not_equal(weft_status_name(-s), "UNKNOWN");
	assert_string_equal(weft_status_name(-WEFT_ST_NOT_FOUND), "NOT_FOUND");
	assert_string_equal(weft_status_name(-WEFT_ST_TIMEOUT), "TIMEOUT");
	assert_string_equal(weft_status_name(-WEFT_ST_NOT_OWNER), "NOT_OWNER");
	assert_string_equal(weft_status_name(WEFT_ST_NO_QUORUM), "NO_QUORUM");
	assert_string_not_equal(weft_strerror(-WEFT_ST_NO_QUORUM), "unknown status");
	assert_string_equal(weft_status_name(50), "UNKNOWN");
	assert_string_equal(weft_status_name(-104), "UNKNOWN");
	assert_string_equal(weft_status_name(-2147483647 - 1), "UNKNOWN");
}

static void test_connect_args(void **state)
{
	(void)state;
	static const char *bad[] = { "", ":7700", "1.2.3", "1.2.3.4:", "1.2.3.4:0",
				     "1.2.3.4:65536", "1.2.3.4:12x", "host.example:1",
				     "1.2.3.4.5.6.7.8.9.10:1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_null(weft_client_connect(bad[i], NULL));
		assert_int_equal(errno, EINVAL);
	}
	assert_null(weft_client_connect(NULL, NULL));
	struct weft_client_opts o;
	weft_client_opts_init(&o);
	assert_int_equal(o.timeout_ms, WEFT_DEFAULT_TIMEOUT_MS);
	assert_int_equal(o.retries, WEFT_DEFAULT_RETRIES);
	o.timeout_ms = 0;
	assert_null(weft_client_connect("127.0.0.1", &o));
	weft_client *c = weft_client_connect("127.0.0.1", NULL);
	assert_non_null(c);
	weft_client_close(c);
	weft_client_close(NULL);
}

static void count_handler(struct peer *p, const uint8_t *d, size_t len)
{
	(void)d;
	(void)len;
	(*(int *)p->ctx)++;
}

/* Every invalid argument is refused locally: the peer receives nothing. */
static void test_invalid_args_send_nothing(void **state)
{
	(void)state;
	int received = 0;
	struct peer p;
	peer_start(&p, count_handler, &received);
	weft_client *c = weft_client_connect(p.addr, NULL);
	assert_non_null(c);
	char key251[251], name65[66];
	memset(key251, 'k', sizeof(key251));
	memset(name65, 'n', 65);
	name65[65] = '\0';
	void *v;
	size_t vl;
	uint64_t ver;
	int64_t nv;
	const int inval = -WEFT_ST_INVALID_ARG;

	assert_int_equal(weft_get(c, "c", "", 0, &v, &vl, &ver), inval);
	assert_int_equal(weft_get(c, "c", key251, 251, &v, &vl, &ver), inval);
	assert_int_equal(weft_get(c, "c", NULL, 3, &v, &vl, &ver), inval);
	assert_int_equal(weft_get(c, "", "k", 1, &v, &vl, &ver), inval);
	assert_int_equal(weft_get(c, name65, "k", 1, &v, &vl, &ver), inval);
	assert_int_equal(weft_get(c, NULL, "k", 1, &v, &vl, &ver), inval);
	assert_int_equal(weft_get(NULL, "c", "k", 1, &v, &vl, &ver), inval);
	assert_int_equal(weft_get_into(c, "c", "k", 1, NULL, 5, &vl, &ver), inval);
	assert_int_equal(weft_put(c, "c", "k", 1, "x", WEFT_MAX_VALUE_LEN + 1, NULL, &ver), inval);
	assert_int_equal(weft_put(c, "c", "k", 1, NULL, 1, NULL, &ver), inval);
	assert_int_equal(weft_put_if_absent(c, "c", key251, 251, "x", 1, NULL, &ver), inval);
	assert_int_equal(weft_replace(c, "", "k", 1, "x", 1, NULL, &ver), inval);
	assert_int_equal(weft_cas(c, "c", "", 0, 1, "x", 1, NULL, &ver), inval);
	assert_int_equal(weft_delete(c, "c", key251, 251), inval);
	assert_int_equal(weft_incr(c, name65, "k", 1, 1, 0, &nv), inval);
	assert_int_equal(weft_touch(c, "c", NULL, 1, NULL, &ver), inval);
	assert_int_equal(weft_open_cache(c, name65, NULL), inval);
	assert_int_equal(weft_open_cache(c, "", NULL), inval);
	struct weft_mget_item items[WEFT_MAX_MULTI_GET + 1];
	for (size_t i = 0; i <= WEFT_MAX_MULTI_GET; i++)
		items[i] = (struct weft_mget_item){ .key = "k", .key_len = 1 };
	void *block;
	assert_int_equal(weft_multi_get(c, "c", items, 0, &block), inval);
	assert_int_equal(weft_multi_get(c, "c", items, WEFT_MAX_MULTI_GET + 1, &block), inval);
	assert_int_equal(weft_multi_get(c, "c", items, 1, NULL), inval);
	items[3].key_len = 0;
	assert_int_equal(weft_multi_get(c, "c", items, 4, &block), inval);
	assert_int_equal(weft_stats(c, NULL, &vl), inval);
	assert_int_equal(weft_members(c, NULL, &vl), inval);
	char *text = NULL;
	assert_int_equal(weft_members(NULL, &text, &vl), inval);
	assert_int_equal(weft_ping(NULL), inval);

	weft_client_close(c);
	peer_stop(&p); /* drains anything queued: sends on loopback are synchronous */
	assert_int_equal(received, 0);
}

/* A TOPOLOGY value of n members ("m0".."m9") and 2^log2 segments with k
 * owners each (segment s: members s, s+1, ... mod n). Returns its length. */
static size_t topo_build(uint8_t *v, uint16_t n, uint16_t log2, uint16_t k)
{
	struct weft_topo_hdr h = {.epoch = 77, .n_segments_log2 = log2, .owners = k,
				  .n_members = n};
	uint8_t *w = v;
	memcpy(w, &h, sizeof(h));
	w += sizeof(h);
	for (uint16_t i = 0; i < n; i++) {
		struct weft_topo_member m = {.port = 7700, .ip = 0x0100000au, .name_len = 2};
		memcpy(w, &m, sizeof(m));
		w[sizeof(m)] = 'm';
		w[sizeof(m) + 1] = (uint8_t)('0' + i % 10);
		w += sizeof(m) + 2;
	}
	for (uint32_t sg = 0; sg < (1u << log2); sg++)
		for (uint16_t r = 0; r < k; r++) {
			uint16_t o = (uint16_t)((sg + r) % n);
			memcpy(w, &o, 2);
			w += 2;
		}
	return (size_t)(w - v);
}

static void test_topology_decode(void **state)
{
	(void)state;
	static uint8_t v[1 << 19];
	struct weft_topology *t = NULL;
	size_t len = topo_build(v, 3, 8, 2);
	assert_int_equal(len, 10 + 3 * 25 + 256 * 2 * 2);
	assert_int_equal(weft_topology_decode(v, len, &t), 0);
	assert_int_equal(t->epoch, 77);
	assert_int_equal(t->n_segments, 256);
	assert_int_equal(t->n_segments_log2, 8);
	assert_int_equal(t->owners, 2);
	assert_int_equal(t->n_members, 3);
	assert_string_equal(t->members[2].name, "m2");

	/* Owner lookup: XXH3-64 of the key & (n_segments - 1), as the node. */
	const char *keys[] = {"", "a", "user:42", "a-key-of-some-length-0123456789"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t kl = strlen(keys[i]);
		uint32_t sg = (uint32_t)(XXH3_64bits(keys[i], kl) & 255u);
		assert_int_equal(weft_topology_segment(t, keys[i], kl), sg);
		assert_int_equal(weft_topology_owner(t, keys[i], kl, 0), sg % 3);
		assert_int_equal(weft_topology_owner(t, keys[i], kl, 1), (sg + 1) % 3);
		assert_int_equal(weft_topology_owner(t, keys[i], kl, 2), -WEFT_ST_INVALID_ARG);
	}
	assert_int_equal(weft_topology_owner(NULL, "a", 1, 0), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_topology_owner(t, NULL, 1, 0), -WEFT_ST_INVALID_ARG);
	weft_topology_free(t);
	weft_topology_free(NULL);

	/* Limits: one segment of one member; 2^16 segments. */
	len = topo_build(v, 1, 0, 1);
	assert_int_equal(weft_topology_decode(v, len, &t), 0);
	assert_int_equal(weft_topology_owner(t, "k", 1, 0), 0);
	weft_topology_free(t);
	len = topo_build(v, 2, 16, 2);
	assert_int_equal(weft_topology_decode(v, len, &t), 0);
	assert_int_equal(t->n_segments, 65536);
	weft_topology_free(t);

	/* No table yet (owners 0): members only, no owner. */
	len = topo_build(v, 1, 8, 0);
	assert_int_equal(len, 10 + 25);
	assert_int_equal(weft_topology_decode(v, len, &t), 0);
	assert_int_equal(t->owners, 0);
	assert_int_equal(weft_topology_owner(t, "k", 1, 0), -WEFT_ST_INVALID_ARG);
	weft_topology_free(t);
}

static void expect_malformed(const uint8_t *v, size_t len)
{
	struct weft_topology *t = NULL;
	assert_int_equal(weft_topology_decode(v, len, &t), -WEFT_ST_PROTOCOL);
	assert_null(t);
}

static void test_topology_malformed(void **state)
{
	(void)state;
	static uint8_t v[4096];
	size_t len = topo_build(v, 3, 4, 2);
	/* Every truncation, and a trailing byte. */
	for (size_t l = 0; l < len; l++)
		expect_malformed(v, l);
	expect_malformed(v, len + 1);
	expect_malformed(NULL, 0);

	struct weft_topo_hdr h;
	uint8_t w[4096];
	/* no members */
	memcpy(w, v, len);
	memcpy(&h, w, sizeof(h));
	h.n_members = 0;
	memcpy(w, &h, sizeof(h));
	expect_malformed(w, len);
	/* more owners than members */
	len = topo_build(w, 2, 1, 2);
	memcpy(&h, w, sizeof(h));
	h.owners = 3;
	memcpy(w, &h, sizeof(h));
	expect_malformed(w, len + 2 * 2);
	/* 2^17 segments */
	len = topo_build(w, 1, 0, 1);
	memcpy(&h, w, sizeof(h));
	h.n_segments_log2 = 17;
	memcpy(w, &h, sizeof(h));
	expect_malformed(w, len);
	/* a name longer than WEFT_MAX_NAME_LEN */
	len = topo_build(w, 1, 0, 1);
	w[sizeof(h) + offsetof(struct weft_topo_member, name_len)] = WEFT_MAX_NAME_LEN + 1;
	expect_malformed(w, len);
	/* an owner index out of range */
	len = topo_build(w, 3, 4, 2);
	uint16_t bad = 3;
	memcpy(w + len - 2, &bad, 2);
	expect_malformed(w, len);
	/* the same member twice in one segment */
	bad = 0;
	len = topo_build(w, 3, 4, 2);
	memcpy(w + len - 2, &bad, 2);
	memcpy(w + len - 4, &bad, 2);
	expect_malformed(w, len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_every_op),
		cmocka_unit_test(test_encode_extras_layout),
		cmocka_unit_test(test_split_long_request),
		cmocka_unit_test(test_fetch_encode),
		cmocka_unit_test(test_resp_matches),
		cmocka_unit_test(test_mget_codec),
		cmocka_unit_test(test_status_strings),
		cmocka_unit_test(test_connect_args),
		cmocka_unit_test(test_invalid_args_send_nothing),
		cmocka_unit_test(test_topology_decode),
		cmocka_unit_test(test_topology_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
