/*
 * libweft's public operations against a scripted fake node: the request each
 * op puts on the wire (opcode, name, key, extras fields, value, ids) and how
 * each response (statuses, versions, counters, MULTI_GET entries, stats
 * text, malformed answers) comes back to the caller.
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

/* The last request seen, and the answer scripted for the next one. */
struct api_ctx {
	struct weft_wire_hdr req;
	uint8_t payload[WEFT_MAX_DGRAM_PAYLOAD];
	size_t payload_len;
	int seen;
	uint16_t status;
	uint8_t extras[32];
	uint16_t extras_len;
	uint8_t value[WEFT_MAX_DGRAM_PAYLOAD];
	uint32_t value_len;
};

static void api_handler(struct peer *p, const uint8_t *d, size_t len)
{
	struct api_ctx *x = p->ctx;
	memcpy(&x->req, d, sizeof(x->req));
	x->payload_len = len - sizeof(x->req);
	memcpy(x->payload, d + sizeof(x->req), x->payload_len);
	x->seen++;
	peer_reply(p, &x->req, x->status, x->extras, x->extras_len, x->value, x->value_len);
}

struct fixture {
	struct peer p;
	struct api_ctx x;
	weft_client *c;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	peer_start(&f->p, api_handler, &f->x);
	struct weft_client_opts o = { .timeout_ms = 2000, .retries = 0 };
	f->c = weft_client_connect(f->p.addr, &o);
	assert_non_null(f->c);
	/* One scripted node: no TOPOLOGY fetch (see test_client_route). */
	weft_client_set_routing(f->c, false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	weft_client_close(f->c);
	peer_stop(&f->p);
	free(f);
	return 0;
}

static void answer(struct fixture *f, uint16_t status, const void *extras, uint16_t xl,
		   const void *value, uint32_t vl)
{
	f->x.status = status;
	f->x.extras_len = xl;
	if (xl)
		memcpy(f->x.extras, extras, xl);
	f->x.value_len = vl;
	if (vl)
		memcpy(f->x.value, value, vl);
}

/* Checks the recorded request: header fields and payload = name key extras value. */
static void expect_req(struct fixture *f, uint8_t opcode, const char *name, const char *key,
		       const void *extras, size_t xl, const void *value, size_t vl)
{
	const struct weft_wire_hdr *h = &f->x.req;
	size_t nl = name ? strlen(name) : 0, kl = key ? strlen(key) : 0;
	assert_int_equal(h->magic, WEFT_WIRE_MAGIC);
	assert_int_equal(h->version, WEFT_WIRE_VERSION);
	assert_int_equal(h->opcode, opcode);
	assert_int_equal(h->flags, 0);
	assert_int_equal(h->status, 0);
	assert_int_equal(h->client_id, weft_client_id(f->c));
	assert_int_equal(h->request_id, f->c->next_request_id - 1);
	assert_int_equal(h->name_len, nl);
	assert_int_equal(h->key_len, kl);
	assert_int_equal(h->extras_len, weft_wire_request_extras_len(opcode));
	assert_int_equal(h->extras_len, xl);
	assert_int_equal(h->msg_len, nl + kl + xl + vl);
	assert_int_equal(h->frag_offset, 0);
	assert_int_equal(f->x.payload_len, h->msg_len);
	assert_memory_equal(f->x.payload, name ? name : "", nl);
	assert_memory_equal(f->x.payload + nl, key ? key : "", kl);
	if (xl)
		assert_memory_equal(f->x.payload + nl + kl, extras, xl);
	if (vl)
		assert_memory_equal(f->x.payload + nl + kl + xl, value, vl);
}

static void test_ping_stats(void **state)
{
	struct fixture *f = *state;
	answer(f, WEFT_ST_OK, NULL, 0, NULL, 0);
	assert_int_equal(weft_ping(f->c), 0);
	expect_req(f, WEFT_OP_PING, NULL, NULL, NULL, 0, NULL, 0);
	answer(f, WEFT_ST_OK, NULL, 0, "gets 5\nputs 2\n", 14);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(weft_stats(f->c, &text, &len), 0);
	expect_req(f, WEFT_OP_STATS, NULL, NULL, NULL, 0, NULL, 0);
	assert_int_equal(len, 14);
	assert_string_equal(text, "gets 5\nputs 2\n");
	free(text);
	answer(f, WEFT_ST_UNKNOWN_OP, NULL, 0, NULL, 0);
	assert_int_equal(weft_stats(f->c, &text, &len), -WEFT_ST_UNKNOWN_OP);
}

static void test_members(void **state)
{
	struct fixture *f = *state;
	static const char view[] = "view 3 coordinator n1\n"
				   "n1 10.0.0.1:7700 alive 5 00000000-0000-4000-8000-000000000001\n";
	answer(f, WEFT_ST_OK, NULL, 0, view, sizeof(view) - 1);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(weft_members(f->c, &text, &len), 0);
	expect_req(f, WEFT_OP_MEMBERS, NULL, NULL, NULL, 0, NULL, 0);
	assert_int_equal(len, sizeof(view) - 1);
	assert_string_equal(text, view);
	free(text);
	answer(f, WEFT_ST_UNKNOWN_OP, NULL, 0, NULL, 0);
	text = NULL;
	assert_int_equal(weft_members(f->c, &text, &len), -WEFT_ST_UNKNOWN_OP);
	assert_null(text);
}

/* A TOPOLOGY value: 2 members, 2 segments of 2 owners. */
static size_t topo_value(uint8_t *v)
{
	struct weft_topo_hdr h = {.epoch = 4, .n_segments_log2 = 1, .owners = 2, .n_members = 2};
	uint8_t *w = v;
	memcpy(w, &h, sizeof(h));
	w += sizeof(h);
	for (unsigned i = 0; i < 2; i++) {
		struct weft_topo_member m = {.port = (uint16_t)(7700 + i), .ip = 0x0100000au + i,
					     .name_len = 2};
		m.id[15] = (uint8_t)(i + 1);
		memcpy(w, &m, sizeof(m));
		w[sizeof(m)] = 'n';
		w[sizeof(m) + 1] = (uint8_t)('1' + i);
		w += sizeof(m) + 2;
	}
	const uint16_t own[4] = {1, 0, 0, 1};
	memcpy(w, own, sizeof(own));
	return (size_t)(w - v) + sizeof(own);
}

static void test_topology(void **state)
{
	struct fixture *f = *state;
	uint8_t v[256];
	size_t vl = topo_value(v);
	f->p.epoch = 4;
	answer(f, WEFT_ST_OK, NULL, 0, v, (uint32_t)vl);
	struct weft_topology *t = NULL;
	assert_int_equal(weft_topology(f->c, &t), 0);
	expect_req(f, WEFT_OP_TOPOLOGY, NULL, NULL, NULL, 0, NULL, 0);
	assert_int_equal(weft_client_epoch(f->c), 4);
	assert_non_null(t);
	assert_int_equal(t->epoch, 4);
	assert_int_equal(t->n_segments, 2);
	assert_int_equal(t->owners, 2);
	assert_int_equal(t->n_members, 2);
	assert_string_equal(t->members[1].name, "n2");
	assert_int_equal(t->members[1].port, 7701);
	assert_int_equal(t->members[1].ip, 0x0100000bu);
	assert_int_equal(t->members[1].id[15], 2);
	assert_int_equal(t->owner[0], 1);
	assert_int_equal(t->owner[3], 1);
	weft_topology_free(t);

	/* A malformed value (a truncated table) is a protocol error. */
	answer(f, WEFT_ST_OK, NULL, 0, v, (uint32_t)vl - 1);
	t = NULL;
	assert_int_equal(weft_topology(f->c, &t), -WEFT_ST_PROTOCOL);
	assert_null(t);
	answer(f, WEFT_ST_UNKNOWN_OP, NULL, 0, NULL, 0);
	assert_int_equal(weft_topology(f->c, &t), -WEFT_ST_UNKNOWN_OP);
	assert_null(t);
	assert_int_equal(weft_topology(NULL, &t), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_topology(f->c, NULL), -WEFT_ST_INVALID_ARG);
	f->p.epoch = 0;
}

static void test_get(void **state)
{
	struct fixture *f = *state;
	struct weft_x_version ver = { .version = 0x1122334455667788ull };
	answer(f, WEFT_ST_OK, &ver, sizeof(ver), "hello", 5);
	void *v = NULL;
	size_t vl = 0;
	uint64_t version = 0;
	assert_int_equal(weft_get(f->c, "users", "alice", 5, &v, &vl, &version), 0);
	expect_req(f, WEFT_OP_GET, "users", "alice", NULL, 0, NULL, 0);
	assert_int_equal(vl, 5);
	assert_memory_equal(v, "hello", 5);
	assert_int_equal(version, ver.version);
	free(v);
	answer(f, WEFT_ST_OK, &ver, sizeof(ver), NULL, 0); /* empty value */
	v = &vl;
	assert_int_equal(weft_get(f->c, "users", "alice", 5, &v, &vl, NULL), 0);
	assert_null(v);
	assert_int_equal(vl, 0);
	answer(f, WEFT_ST_NOT_FOUND, NULL, 0, NULL, 0);
	v = NULL;
	assert_int_equal(weft_get(f->c, "users", "bob", 3, &v, &vl, &version), -WEFT_ST_NOT_FOUND);
	assert_null(v);
	answer(f, WEFT_ST_OK, NULL, 0, "noversion", 9); /* OK must carry a version */
	assert_int_equal(weft_get(f->c, "users", "bob", 3, &v, &vl, &version), -WEFT_ST_PROTOCOL);
	assert_null(v);
}

static void test_writes(void **state)
{
	struct fixture *f = *state;
	struct weft_x_version ver = { .version = 9 };
	struct weft_write_opts wo = { .ttl_ms = 60000, .max_idle_ms = 5000 };
	struct weft_x_write xw = { .ttl_ms = 60000, .max_idle_ms = 5000 };
	struct weft_x_write x0 = { 0 };
	uint64_t version = 0;

	answer(f, WEFT_ST_OK, &ver, sizeof(ver), NULL, 0);
	assert_int_equal(weft_put(f->c, "c", "k", 1, "val", 3, &wo, &version), 0);
	expect_req(f, WEFT_OP_PUT, "c", "k", &xw, sizeof(xw), "val", 3);
	assert_int_equal(version, 9);
	assert_int_equal(weft_put(f->c, "c", "k", 1, NULL, 0, NULL, NULL), 0);
	expect_req(f, WEFT_OP_PUT, "c", "k", &x0, sizeof(x0), NULL, 0);

	answer(f, WEFT_ST_EXISTS, &ver, sizeof(ver), NULL, 0);
	version = 0;
	assert_int_equal(weft_put_if_absent(f->c, "c", "k", 1, "v", 1, NULL, &version),
			 -WEFT_ST_EXISTS);
	expect_req(f, WEFT_OP_PUT_IF_ABSENT, "c", "k", &x0, sizeof(x0), "v", 1);
	assert_int_equal(version, 9);

	answer(f, WEFT_ST_NOT_FOUND, NULL, 0, NULL, 0);
	assert_int_equal(weft_replace(f->c, "c", "k", 1, "v", 1, &wo, &version), -WEFT_ST_NOT_FOUND);
	expect_req(f, WEFT_OP_REPLACE, "c", "k", &xw, sizeof(xw), "v", 1);

	struct weft_x_cas xc = { .expected_version = 8, .ttl_ms = 60000, .max_idle_ms = 5000 };
	answer(f, WEFT_ST_VERSION_MISMATCH, &ver, sizeof(ver), NULL, 0);
	version = 0;
	assert_int_equal(weft_cas(f->c, "c", "k", 1, 8, "new", 3, &wo, &version),
			 -WEFT_ST_VERSION_MISMATCH);
	expect_req(f, WEFT_OP_CAS, "c", "k", &xc, sizeof(xc), "new", 3);
	assert_int_equal(version, 9);

	answer(f, WEFT_ST_OK, &ver, sizeof(ver), NULL, 0);
	assert_int_equal(weft_touch(f->c, "c", "k", 1, &wo, &version), 0);
	expect_req(f, WEFT_OP_TOUCH, "c", "k", &xw, sizeof(xw), NULL, 0);

	answer(f, WEFT_ST_OK, NULL, 0, NULL, 0); /* a PUT answer without its version */
	assert_int_equal(weft_put(f->c, "c", "k", 1, "v", 1, NULL, &version), -WEFT_ST_PROTOCOL);
	answer(f, WEFT_ST_NO_MEMORY, NULL, 0, NULL, 0);
	assert_int_equal(weft_put(f->c, "c", "k", 1, "v", 1, NULL, &version), -WEFT_ST_NO_MEMORY);
}

static void test_delete_incr_open(void **state)
{
	struct fixture *f = *state;
	answer(f, WEFT_ST_OK, NULL, 0, NULL, 0);
	assert_int_equal(weft_delete(f->c, "c", "gone", 4), 0);
	expect_req(f, WEFT_OP_DELETE, "c", "gone", NULL, 0, NULL, 0);
	answer(f, WEFT_ST_NOT_FOUND, NULL, 0, NULL, 0);
	assert_int_equal(weft_delete(f->c, "c", "gone", 4), -WEFT_ST_NOT_FOUND);

	struct weft_x_counter ctr = { .value = -7, .version = 3 };
	struct weft_x_incr xi = { .delta = -10, .ttl_ms = 100 };
	int64_t nv = 0;
	answer(f, WEFT_ST_OK, &ctr, sizeof(ctr), NULL, 0);
	assert_int_equal(weft_incr(f->c, "c", "n", 1, -10, 100, &nv), 0);
	expect_req(f, WEFT_OP_INCR, "c", "n", &xi, sizeof(xi), NULL, 0);
	assert_int_equal(nv, -7);
	answer(f, WEFT_ST_NOT_NUMERIC, NULL, 0, NULL, 0);
	assert_int_equal(weft_incr(f->c, "c", "n", 1, 1, 0, &nv), -WEFT_ST_NOT_NUMERIC);
	answer(f, WEFT_ST_OK, NULL, 0, NULL, 0);
	assert_int_equal(weft_incr(f->c, "c", "n", 1, 1, 0, &nv), -WEFT_ST_PROTOCOL);

	struct weft_open_opts oo = { .max_bytes = 1 << 20, .max_entries = 1000,
				     .default_ttl_ms = 30000, .default_max_idle_ms = 4000,
				     .mode = WEFT_MODE_REPLICATED };
	struct weft_x_cache_opts xo = { .max_bytes = 1 << 20, .max_entries = 1000,
					.default_ttl_ms = 30000, .default_max_idle_ms = 4000,
					.mode = WEFT_MODE_REPLICATED };
	assert_int_equal(sizeof(xo), 40);
	assert_int_equal(offsetof(struct weft_x_cache_opts, mode), 32);
	answer(f, WEFT_ST_OK, NULL, 0, NULL, 0);
	assert_int_equal(weft_open_cache(f->c, "sessions", &oo), 0);
	expect_req(f, WEFT_OP_CACHE_OPEN, "sessions", NULL, &xo, sizeof(xo), NULL, 0);
	answer(f, WEFT_ST_BAD_CACHE_OPTS, NULL, 0, NULL, 0);
	assert_int_equal(weft_open_cache(f->c, "sessions", NULL), -WEFT_ST_BAD_CACHE_OPTS);
}

static void test_multi_get(void **state)
{
	struct fixture *f = *state;
	static const uint8_t resp[] = {
		3, 0,
		0, 0, 2, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 'k', '1', 'v', '1',
		1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'k', '2',
		0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 'k', '3',
	};
	static const uint8_t keys[] = { 3, 0, 2, 0, 'k', '1', 2, 0, 'k', '2', 2, 0, 'k', '3' };
	struct weft_mget_item it[3] = {
		{ .key = "k1", .key_len = 2 }, { .key = "k2", .key_len = 2 }, { .key = "k3", .key_len = 2 },
	};
	void *block = NULL;
	answer(f, WEFT_ST_OK, NULL, 0, resp, sizeof(resp));
	assert_int_equal(weft_multi_get(f->c, "c", it, 3, &block), 0);
	expect_req(f, WEFT_OP_MULTI_GET, "c", NULL, NULL, 0, keys, sizeof(keys));
	assert_non_null(block);
	assert_int_equal(it[0].status, 0);
	assert_memory_equal(it[0].value, "v1", 2);
	assert_int_equal(it[0].version, 1);
	assert_int_equal(it[1].status, -WEFT_ST_NOT_FOUND);
	assert_null(it[1].value);
	assert_int_equal(it[2].status, 0);
	assert_int_equal(it[2].value_len, 0);
	assert_int_equal(it[2].version, 3);
	free(block);
	answer(f, WEFT_ST_OK, NULL, 0, resp, sizeof(resp) - 1); /* truncated */
	block = NULL;
	assert_int_equal(weft_multi_get(f->c, "c", it, 3, &block), -WEFT_ST_PROTOCOL);
	assert_null(block);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ping_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topology, setup, teardown),
		cmocka_unit_test_setup_teardown(test_members, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_incr_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_get, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
