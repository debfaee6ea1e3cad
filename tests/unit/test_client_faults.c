/*
 * libweft against a scripted fake node (test_client_peer.c) on loopback:
 * retransmission with the same request_id after a dropped reply, timeouts
 * within the deadline, stale and garbage datagrams ignored, long responses
 * reassembled out of order with FETCH (a lost piece re-fetched, at most a
 * window in flight), GONE → the request repeated, long requests split and
 * resent whole, a 1 MiB value through default socket buffers, and BUSY
 * asked again under new ids within the call's retry budget.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "client_internal.h"
#include "test_client_peer.h"

static struct weft_wire_hdr hdr_of(const uint8_t *d)
{
	struct weft_wire_hdr h;
	memcpy(&h, d, sizeof(h));
	return h;
}

static weft_client *client_for(const struct peer *p, uint32_t timeout_ms, uint32_t retries,
			       uint32_t deadline_ms)
{
	struct weft_client_opts o = { .timeout_ms = timeout_ms, .retries = retries,
				      .deadline_ms = deadline_ms };
	weft_client *c = weft_client_connect(p->addr, &o);
	assert_non_null(c);
	/* One node, whose every answer the test scripts: no TOPOLOGY fetch
	 * (routing is test_client_route's subject). */
	weft_client_set_routing(c, false);
	return c;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *b = malloc(n ? n : 1);
	assert_non_null(b);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (uint8_t)x;
	}
	return b;
}

/* --- a dropped reply: the retransmission carries the same id --- */

struct retry_ctx {
	int seen;
	struct weft_wire_hdr req[4];
};

static void retry_handler(struct peer *p, const uint8_t *d, size_t len)
{
	struct retry_ctx *x = p->ctx;
	(void)len;
	if (x->seen < 4)
		x->req[x->seen] = hdr_of(d);
	if (x->seen++ == 0)
		return; /* the "lost" reply */
	struct weft_x_counter ctr = { .value = 42, .version = 3 };
	peer_reply(p, &x->req[1], WEFT_ST_OK, &ctr, sizeof(ctr), NULL, 0);
}

static void test_retry_reuses_request_id(void **state)
{
	(void)state;
	struct retry_ctx x = { 0 };
	struct peer p;
	peer_start(&p, retry_handler, &x);
	weft_client *c = client_for(&p, 100, 3, 0);
	int64_t v = 0;
	assert_int_equal(weft_incr(c, "c", "n", 1, 5, 0, &v), 0);
	assert_int_equal(v, 42);
	weft_client_close(c);
	peer_stop(&p);
	assert_int_equal(x.seen, 2);
	assert_int_equal(x.req[0].request_id, x.req[1].request_id);
	assert_int_equal(x.req[0].client_id, x.req[1].client_id);
	assert_int_equal(x.req[0].flags, 0);
	assert_int_equal(x.req[1].flags, WEFT_F_RETRY);
}

/* --- BUSY: asked again under a new id, within the budget --- */

struct busy_ctx {
	int seen;
	int busy_answers;   /* answer the first this many BUSY, then OK */
	uint64_t ids[64];
};

static void busy_handler(struct peer *p, const uint8_t *d, size_t len)
{
	struct busy_ctx *x = p->ctx;
	(void)len;
	struct weft_wire_hdr h = hdr_of(d);
	if (x->seen < 64)
		x->ids[x->seen] = h.request_id;
	if (x->seen++ < x->busy_answers) {
		peer_reply(p, &h, WEFT_ST_BUSY, NULL, 0, NULL, 0);
		return;
	}
	peer_reply(p, &h, WEFT_ST_OK, NULL, 0, NULL, 0);
}

static void test_busy_asked_again_with_new_id(void **state)
{
	(void)state;
	struct busy_ctx x = { .busy_answers = 3 };
	struct peer p;
	peer_start(&p, busy_handler, &x);
	weft_client *c = client_for(&p, 500, 3, 0);
	assert_int_equal(weft_delete(c, "c", "k", 1), 0); /* non-idempotent: BUSY applied nothing */
	assert_int_equal(c->busy_retries, 3);
	weft_client_close(c);
	peer_stop(&p);
	assert_int_equal(x.seen, 4);
	for (int i = 1; i < 4; i++)
		assert_int_not_equal(x.ids[i], x.ids[i - 1]);
}

static void test_busy_is_the_answer_once_the_budget_is_spent(void **state)
{
	(void)state;
	struct busy_ctx x = { .busy_answers = 1 << 20 };
	struct peer p;
	peer_start(&p, busy_handler, &x);
	weft_client *c = client_for(&p, 500, 1, 0); /* budget: 2 x 500 ms */
	assert_int_equal(weft_delete(c, "c", "k", 1), -WEFT_ST_BUSY);
	weft_client_close(c);
	peer_stop(&p);
	/* Asked again at least once; at most 8 times in all, as the pauses
	 * (20, 40, 80, 160, 200, 200, 200 ms) leave the 1,000 ms budget. */
	assert_true(x.seen >= 2);
	assert_true(x.seen <= 8);
}

/* --- no reply at all --- */

struct silent_ctx {
	int seen;
	uint64_t ids[64];
};

static void silent_handler(struct peer *p, const uint8_t *d, size_t len)
{
	struct silent_ctx *x = p->ctx;
	(void)len;
	if (x->seen < 64)
		x->ids[x->seen] = hdr_of(d).request_id;
	x->seen++;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_timeout_after_retries(void **state)
{
	(void)state;
	struct silent_ctx x = { 0 };
	struct peer p;
	peer_start(&p, silent_handler, &x);
	weft_client *c = client_for(&p, 30, 2, 0);
	assert_int_equal(weft_delete(c, "c", "k", 1), -WEFT_ST_TIMEOUT);
	weft_client_close(c);
	peer_stop(&p);
	assert_int_equal(x.seen, 3); /* first attempt + 2 retries, one id */
	assert_int_equal(x.ids[0], x.ids[1]);
	assert_int_equal(x.ids[1], x.ids[2]);
}

static void test_timeout_within_deadline(void **state)
{
	(void)state;
	struct silent_ctx x = { 0 };
	struct peer p;
	peer_start(&p, silent_handler, &x);
	/* Many retries allowed, but a 150 ms deadline ends the call. */
	weft_client *c = client_for(&p, 40, 1000, 150);
	uint64_t t0 = mono_ms();
	assert_int_equal(weft_ping(c), -WEFT_ST_TIMEOUT);
	uint64_t took = mono_ms() - t0;
	weft_client_close(c);
	peer_stop(&p);
	assert_true(took >= 150);
	/* The promise is "bounded by the deadline": a generous margin for a
	 * loaded machine, not a performance threshold. */
	assert_true(took < 150 + 5000);
	assert_true(x.seen >= 1 && x.seen < 1000);
}

/* --- stale, foreign and garbage datagrams before the real answer --- */

static void garbage_handler(struct peer *p, const uint8_t *d, size_t len)
{
	(void)len;
	struct weft_wire_hdr req = hdr_of(d);
	struct weft_x_version ver = { .version = 11 };
	struct weft_wire_hdr h;

	peer_send_raw(p, "xyz", 3);                              /* short */
	uint8_t junk[60];
	memset(junk, 0x5a, sizeof(junk));
	peer_send_raw(p, junk, sizeof(junk));                    /* bad magic */
	h = req;
	h.request_id--;
	peer_reply(p, &h, WEFT_ST_OK, &ver, sizeof(ver), "stale", 5); /* older request */
	h = req;
	h.client_id ^= 1;
	peer_reply(p, &h, WEFT_ST_OK, &ver, sizeof(ver), "other", 5); /* other client */
	uint8_t echo[64];
	memcpy(echo, d, sizeof(req));                            /* no RESPONSE flag */
	peer_send_raw(p, echo, sizeof(req));
	h = req;
	h.opcode = WEFT_OP_PUT;
	peer_reply(p, &h, WEFT_ST_OK, &ver, sizeof(ver), "op", 2);     /* other opcode */
	peer_reply(p, &req, WEFT_ST_OK, &ver, sizeof(ver), "right", 5);
	peer_reply(p, &req, WEFT_ST_OK, &ver, sizeof(ver), "dup", 3);  /* left unread */
}

static void test_stale_and_garbage_ignored(void **state)
{
	(void)state;
	struct peer p;
	peer_start(&p, garbage_handler, NULL);
	weft_client *c = client_for(&p, 2000, 0, 0);
	c->next_request_id = 100;
	void *v = NULL;
	size_t vl = 0;
	uint64_t ver = 0;
	assert_int_equal(weft_get(c, "c", "k", 1, &v, &vl, &ver), 0);
	assert_int_equal(vl, 5);
	assert_memory_equal(v, "right", 5);
	assert_int_equal(ver, 11);
	assert_int_equal(c->ignored, 6);
	free(v);
	/* The next call skips the duplicate of the previous answer. */
	assert_int_equal(weft_get(c, "c", "k", 1, &v, &vl, &ver), 0);
	assert_memory_equal(v, "right", 5);
	assert_int_equal(c->ignored, 6 + 1 + 6);
	free(v);
	weft_client_close(c);
	peer_stop(&p);
}

/* --- long responses: out of order, a lost piece, FETCH, GONE --- */

struct long_ctx {
	uint8_t *payload;   /* [extras][value] */
	uint32_t msg_len;
	uint8_t opcode;     /* of the request answered */
	uint16_t extras_len;
	uint32_t npieces;
	int gets, fetches;
	uint64_t get_ids[8];
	bool drop_piece5_once;
	bool gone_on_first_fetch;
	bool refetched5;
	bool bad_fetch;     /* a FETCH outside the rules */
	uint32_t max_count;
};

static void long_handler(struct peer *p, const uint8_t *d, size_t len)
{
	struct long_ctx *x = p->ctx;
	struct weft_wire_hdr req = hdr_of(d);
	(void)len;
	if (req.opcode == x->opcode) {
		if (x->gets < 8)
			x->get_ids[x->gets] = req.request_id;
		x->gets++;
		uint32_t first = x->npieces < WEFT_RESP_INITIAL_WINDOW ? x->npieces : WEFT_RESP_INITIAL_WINDOW;
		for (uint32_t k = first; k-- > 0;) { /* reversed */
			if (k == 5 && x->drop_piece5_once) {
				x->drop_piece5_once = false;
				continue;
			}
			peer_send_piece(p, &req, x->opcode, WEFT_ST_OK, x->payload, x->msg_len,
					x->extras_len, k);
		}
		return;
	}
	if (req.opcode != WEFT_OP_FETCH || req.extras_len != sizeof(struct weft_x_fetch)) {
		x->bad_fetch = true;
		return;
	}
	struct weft_x_fetch f;
	memcpy(&f, d + sizeof(req), sizeof(f));
	x->fetches++;
	if (x->gone_on_first_fetch) {
		x->gone_on_first_fetch = false;
		peer_reply(p, &req, WEFT_ST_GONE, NULL, 0, NULL, 0);
		return;
	}
	if (f.offset % WEFT_MAX_DGRAM_PAYLOAD || f.count == 0 || f.count > WEFT_RESP_INITIAL_WINDOW ||
	    f.offset / WEFT_MAX_DGRAM_PAYLOAD + f.count > x->npieces) {
		x->bad_fetch = true;
		return;
	}
	if (f.count > x->max_count)
		x->max_count = f.count;
	uint32_t k0 = f.offset / WEFT_MAX_DGRAM_PAYLOAD;
	if (k0 <= 5 && 5 < k0 + f.count)
		x->refetched5 = true;
	for (uint32_t k = k0 + f.count; k-- > k0;)
		peer_send_piece(p, &req, WEFT_OP_FETCH, WEFT_ST_OK, x->payload, x->msg_len,
				x->extras_len, k);
}

static void long_setup(struct long_ctx *x, size_t vlen, unsigned seed)
{
	memset(x, 0, sizeof(*x));
	uint8_t *v = pattern(vlen, seed);
	struct weft_x_version ver = { .version = 77 };
	x->opcode = WEFT_OP_GET;
	x->extras_len = sizeof(ver);
	x->msg_len = (uint32_t)(sizeof(ver) + vlen);
	x->payload = malloc(x->msg_len);
	assert_non_null(x->payload);
	memcpy(x->payload, &ver, sizeof(ver));
	memcpy(x->payload + sizeof(ver), v, vlen);
	free(v);
	x->npieces = (x->msg_len + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
}

static void check_long_get(struct long_ctx *x, weft_client *c)
{
	void *v = NULL;
	size_t vl = 0;
	uint64_t ver = 0;
	assert_int_equal(weft_get(c, "c", "big", 3, &v, &vl, &ver), 0);
	assert_int_equal(vl, x->msg_len - 8);
	assert_memory_equal(v, x->payload + 8, vl);
	assert_int_equal(ver, 77);
	free(v);
}

static void test_long_response_lost_piece_refetched(void **state)
{
	(void)state;
	struct long_ctx x;
	long_setup(&x, 100000, 1); /* 70 pieces */
	x.drop_piece5_once = true;
	struct peer p;
	peer_start(&p, long_handler, &x);
	weft_client *c = client_for(&p, 100, 3, 0);
	check_long_get(&x, c);
	weft_client_close(c);
	peer_stop(&p);
	assert_int_equal(x.gets, 1);
	assert_true(x.refetched5);
	assert_false(x.bad_fetch);
	assert_true(x.fetches >= 2);
	assert_true(x.max_count <= WEFT_RESP_INITIAL_WINDOW);
	free(x.payload);
}

static void test_long_response_gone_repeats_request(void **state)
{
	(void)state;
	struct long_ctx x;
	long_setup(&x, 60000, 2);
	x.gone_on_first_fetch = true;
	struct peer p;
	peer_start(&p, long_handler, &x);
	weft_client *c = client_for(&p, 100, 3, 0);
	check_long_get(&x, c);
	weft_client_close(c);
	peer_stop(&p);
	assert_int_equal(x.gets, 2);
	/* A fresh id, so pieces of the dropped response cannot mix in. */
	assert_true(x.get_ids[1] > x.get_ids[0]);
	assert_false(x.bad_fetch);
	free(x.payload);
}

static void test_one_mib_value_default_buffers(void **state)
{
	(void)state;
	struct long_ctx x;
	long_setup(&x, WEFT_MAX_VALUE_LEN, 3);
	struct peer p;
	peer_start(&p, long_handler, &x);
	weft_client *c = client_for(&p, WEFT_DEFAULT_TIMEOUT_MS, WEFT_DEFAULT_RETRIES, 0);
	check_long_get(&x, c);
	/* Into a caller's buffer too, and truncated as documented. */
	uint8_t *buf = malloc(WEFT_MAX_VALUE_LEN);
	assert_non_null(buf);
	size_t vl = 0;
	assert_int_equal(weft_get_into(c, "c", "big", 3, buf, WEFT_MAX_VALUE_LEN, &vl, NULL), 0);
	assert_int_equal(vl, WEFT_MAX_VALUE_LEN);
	assert_memory_equal(buf, x.payload + 8, vl);
	memset(buf, 0, 16);
	assert_int_equal(weft_get_into(c, "c", "big", 3, buf, 10, &vl, NULL), 0);
	assert_int_equal(vl, WEFT_MAX_VALUE_LEN);
	assert_memory_equal(buf, x.payload + 8, 10);
	assert_int_equal(buf[10], 0);
	free(buf);
	weft_client_close(c);
	peer_stop(&p);
	assert_false(x.bad_fetch);
	assert_int_equal(x.gets, 3);
	free(x.payload);
}

/* A MULTI_GET answer holding a 1 MiB value is longer than 1 MiB itself. */
static void test_long_multi_get_over_one_mib(void **state)
{
	(void)state;
	struct long_ctx x = { 0 };
	uint8_t *v = pattern(WEFT_MAX_VALUE_LEN, 5);
	struct weft_mget_entry_hdr e = { .status = WEFT_ST_OK, .key_len = 3,
					 .value_len = WEFT_MAX_VALUE_LEN, .version = 4 };
	uint16_t count = 1;
	x.opcode = WEFT_OP_MULTI_GET;
	x.msg_len = (uint32_t)(sizeof(count) + sizeof(e) + 3 + WEFT_MAX_VALUE_LEN);
	x.npieces = (x.msg_len + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
	x.payload = malloc(x.msg_len);
	assert_non_null(x.payload);
	memcpy(x.payload, &count, sizeof(count));
	memcpy(x.payload + 2, &e, sizeof(e));
	memcpy(x.payload + 2 + sizeof(e), "big", 3);
	memcpy(x.payload + 2 + sizeof(e) + 3, v, WEFT_MAX_VALUE_LEN);
	struct peer p;
	peer_start(&p, long_handler, &x);
	weft_client *c = client_for(&p, WEFT_DEFAULT_TIMEOUT_MS, WEFT_DEFAULT_RETRIES, 0);
	struct weft_mget_item it = { .key = "big", .key_len = 3 };
	void *block = NULL;
	assert_int_equal(weft_multi_get(c, "c", &it, 1, &block), 0);
	assert_int_equal(it.status, 0);
	assert_int_equal(it.value_len, WEFT_MAX_VALUE_LEN);
	assert_int_equal(it.version, 4);
	assert_memory_equal(it.value, v, WEFT_MAX_VALUE_LEN);
	free(block);
	weft_client_close(c);
	peer_stop(&p);
	assert_int_equal(x.gets, 1);
	assert_false(x.bad_fetch);
	free(x.payload);
	free(v);
}

/* --- long requests: split, a lost datagram, resent whole --- */

struct put_ctx {
	uint8_t *msg;        /* reassembled payload */
	uint32_t msg_len;
	bool *have;
	uint32_t npieces, got;
	int dgrams, passes;
	bool bad;
	uint64_t rid;
};

static void put_handler(struct peer *p, const uint8_t *d, size_t len)
{
	struct put_ctx *x = p->ctx;
	struct weft_wire_hdr h = hdr_of(d);
	if (weft_wire_check(&h, len) != WEFT_ST_OK || h.opcode != WEFT_OP_PUT ||
	    h.frag_offset % WEFT_MAX_DGRAM_PAYLOAD != 0) {
		x->bad = true;
		return;
	}
	if (x->msg == NULL) {
		x->msg_len = h.msg_len;
		x->npieces = (h.msg_len + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
		x->msg = calloc(1, h.msg_len);
		x->have = calloc(x->npieces, sizeof(bool));
		x->rid = h.request_id;
	}
	if (h.request_id != x->rid || h.msg_len != x->msg_len)
		x->bad = true;
	uint32_t k = h.frag_offset / WEFT_MAX_DGRAM_PAYLOAD;
	x->dgrams++;
	if (k == 0)
		x->passes++;
	if (k == 3 && x->passes == 1)
		return; /* lost on the first pass */
	if (!x->have[k]) {
		x->have[k] = true;
		x->got++;
		memcpy(x->msg + h.frag_offset, d + sizeof(h), len - sizeof(h));
	}
	if (x->got == x->npieces && k == x->npieces - 1) {
		struct weft_x_version ver = { .version = 5 };
		peer_reply(p, &h, WEFT_ST_OK, &ver, sizeof(ver), NULL, 0);
	}
}

static void test_long_request_split_and_resent(void **state)
{
	(void)state;
	struct put_ctx x = { 0 };
	size_t vlen = 10001;
	uint8_t *v = pattern(vlen, 4);
	struct peer p;
	peer_start(&p, put_handler, &x);
	weft_client *c = client_for(&p, 100, 3, 0);
	struct weft_write_opts wo = { .ttl_ms = 1234, .max_idle_ms = 99 };
	uint64_t ver = 0;
	assert_int_equal(weft_put(c, "cache", "key", 3, v, vlen, &wo, &ver), 0);
	assert_int_equal(ver, 5);
	weft_client_close(c);
	peer_stop(&p);
	assert_false(x.bad);
	assert_int_equal(x.npieces, 8); /* 5 + 3 + 16 + 10001 = 10025 bytes */
	assert_int_equal(x.passes, 2);
	assert_int_equal(x.dgrams, 16);
	assert_memory_equal(x.msg, "cachekey", 8);
	assert_memory_equal(x.msg + 8, &wo, sizeof(wo));
	assert_memory_equal(x.msg + 24, v, vlen);
	free(x.msg);
	free(x.have);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_reuses_request_id),
		cmocka_unit_test(test_busy_asked_again_with_new_id),
		cmocka_unit_test(test_busy_is_the_answer_once_the_budget_is_spent),
		cmocka_unit_test(test_timeout_after_retries),
		cmocka_unit_test(test_timeout_within_deadline),
		cmocka_unit_test(test_stale_and_garbage_ignored),
		cmocka_unit_test(test_long_response_lost_piece_refetched),
		cmocka_unit_test(test_long_response_gone_repeats_request),
		cmocka_unit_test(test_one_mib_value_default_buffers),
		cmocka_unit_test(test_long_multi_get_over_one_mib),
		cmocka_unit_test(test_long_request_split_and_resent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
