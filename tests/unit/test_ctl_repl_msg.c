/*
 * test_ctl_repl_msg.c — REPLICATE messages of state transfer
 * (control/ctl_repl_msg.c): a batch's payload layout (name, extras with the
 * count and the cache's options, entries with version and TTL), the ~32 KiB
 * batch bound and the protocol's value limit, the split into datagrams
 * (every header passes weft_wire_check; offsets are multiples of WEFT_MAX_DGRAM_PAYLOAD and
 * cover the payload exactly once), and the parsing of acks.
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

#include "ctl_rebalance_internal.h"

static const struct weft_x_cache_opts OPTS = {
	.max_bytes = 1u << 20, .default_ttl_ms = 5000, .mode = WEFT_MODE_DISTRIBUTED};

static void add_entries(struct weft_ctl_repl_batch *b, unsigned n, uint32_t value_len)
{
	uint8_t *val = malloc(value_len + 1);
	assert_non_null(val);
	for (unsigned i = 0; i < n; i++) {
		char key[16];
		int kl = snprintf(key, sizeof(key), "key-%u", i);
		memset(val, 'a' + (int)(i % 26), value_len);
		struct weft_cache_image img = {.value = val, .value_len = value_len,
					       .version = 100 + i, .ttl_ms = i ? 1000 * i : UINT64_MAX,
					       .max_idle_ms = 7};
		assert_true(weft_ctl_repl_fits(b, (size_t)kl, value_len));
		assert_int_equal(weft_ctl_repl_add(b, key, (size_t)kl, &img), 0);
	}
	free(val);
}

static void test_batch_layout(void **state)
{
	(void)state;
	struct weft_ctl_repl_batch b = {0};
	assert_int_equal(weft_ctl_repl_begin(&b, "sessions", 8, &OPTS), 0);
	add_entries(&b, 3, 10);
	assert_int_equal(b.count, 3);

	struct weft_x_replicate x;
	assert_memory_equal(b.buf, "sessions", 8);
	memcpy(&x, b.buf + 8, sizeof(x));
	assert_int_equal(x.count, 3);
	assert_int_equal(x.opts.mode, WEFT_MODE_DISTRIBUTED);
	assert_int_equal(x.opts.default_ttl_ms, 5000);
	const uint8_t *p = b.buf + 8 + sizeof(x);
	for (unsigned i = 0; i < 3; i++) {
		struct weft_repl_entry e;
		memcpy(&e, p, sizeof(e));
		assert_int_equal(e.kind, WEFT_REPL_PUT);
		assert_int_equal(e.key_len, 5);
		assert_int_equal(e.value_len, 10);
		assert_int_equal(e.version, 100 + i);
		assert_true(e.ttl_ms == (i ? 1000u * i : WEFT_TTL_NONE));
		assert_int_equal(e.max_idle_ms, 7);
		p += sizeof(e) + e.key_len + e.value_len;
	}
	assert_ptr_equal(p, b.buf + b.len);

	/* Reuse for another cache resets it. */
	assert_int_equal(weft_ctl_repl_begin(&b, "c2", 2, &OPTS), 0);
	assert_int_equal(b.count, 0);
	assert_int_equal(b.len, 2 + sizeof(x));
	assert_int_equal(weft_ctl_repl_begin(&b, "", 0, &OPTS), -EINVAL);
	weft_ctl_repl_free(&b);
}

static void test_batch_bounds(void **state)
{
	(void)state;
	struct weft_ctl_repl_batch b = {0};
	assert_int_equal(weft_ctl_repl_begin(&b, "c", 1, &OPTS), 0);
	/* 1000-byte values: the batch stops at ~32 KiB. */
	unsigned n = 0;
	for (;; n++) {
		if (!weft_ctl_repl_fits(&b, 5, 1000))
			break;
		add_entries(&b, 1, 1000);
	}
	assert_true(b.len <= WEFT_CTL_REPL_TARGET);
	assert_true(b.len + 1000 + 5 + sizeof(struct weft_repl_entry) > WEFT_CTL_REPL_TARGET);

	/* An entry above the target fits an empty batch alone... */
	assert_int_equal(weft_ctl_repl_begin(&b, "c", 1, &OPTS), 0);
	assert_true(weft_ctl_repl_fits(&b, 5, 100000));
	/* ...up to the largest entry a cache holds... */
	assert_true(weft_ctl_repl_fits(&b, WEFT_MAX_KEY_LEN, WEFT_MAX_VALUE_LEN));
	/* ...but never beyond the protocol's REPLICATE value limit. */
	assert_false(weft_ctl_repl_fits(&b, WEFT_MAX_KEY_LEN, WEFT_MAX_VALUE_LEN + 1));
	uint8_t k = 'k';
	struct weft_cache_image img = {.value = NULL, .value_len = WEFT_MAX_REPL_VALUE_LEN};
	assert_int_equal(weft_ctl_repl_add(&b, &k, 1, &img), -E2BIG);
	img.value_len = 0;
	assert_int_equal(weft_ctl_repl_add(&b, &k, 0, &img), -EINVAL);
	assert_int_equal(weft_ctl_repl_add(&b, &k, WEFT_MAX_KEY_LEN + 1, &img), -EINVAL);
	assert_int_equal(b.count, 0);
	weft_ctl_repl_free(&b);
}

/* Splits the payload, checks every datagram, reassembles and compares. */
static void split_and_check(const uint8_t *payload, size_t len, uint8_t name_len)
{
	struct weft_ctl_req_id rid = {.client_id = 0xabcdef01u, .request_id = 77, .epoch = 9};
	size_t n = weft_ctl_dgram_count(len);
	uint8_t *re = calloc(1, len + 1);
	uint8_t *covered = calloc(1, len + 1);
	uint8_t dg[WEFT_MAX_DGRAM_LEN];

	assert_non_null(re);
	assert_non_null(covered);
	assert_int_equal(n, (len + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD);
	for (size_t i = 0; i < n; i++) {
		size_t dl = weft_ctl_repl_dgram(payload, len, name_len, &rid, i, dg);
		struct weft_wire_hdr h;
		memcpy(&h, dg, sizeof(h));
		assert_int_equal(weft_wire_check(&h, dl), WEFT_ST_OK);
		assert_true(dl <= WEFT_MAX_DGRAM_LEN);
		assert_int_equal(h.opcode, WEFT_OP_REPLICATE);
		assert_int_equal(h.flags, WEFT_F_NODE);
		assert_int_equal(h.name_len, name_len);
		assert_int_equal(h.key_len, 0);
		assert_int_equal(h.extras_len, sizeof(struct weft_x_replicate));
		assert_int_equal(h.extras_len, weft_wire_request_extras_len(WEFT_OP_REPLICATE));
		assert_int_equal(h.client_id, rid.client_id);
		assert_int_equal(h.request_id, rid.request_id);
		assert_int_equal(h.epoch, rid.epoch);
		assert_int_equal(h.msg_len, len);
		assert_int_equal(h.frag_offset, i * WEFT_MAX_DGRAM_PAYLOAD);
		size_t slice = dl - sizeof(h);
		/* Every piece but the last is full. */
		if (i + 1 < n)
			assert_int_equal(slice, WEFT_MAX_DGRAM_PAYLOAD);
		for (size_t k = 0; k < slice; k++) {
			assert_int_equal(covered[h.frag_offset + k], 0);
			covered[h.frag_offset + k] = 1;
		}
		memcpy(re + h.frag_offset, dg + sizeof(h), slice);
	}
	for (size_t k = 0; k < len; k++)
		assert_int_equal(covered[k], 1);
	assert_memory_equal(re, payload, len);
	free(re);
	free(covered);
}

static void test_split(void **state)
{
	(void)state;
	struct weft_ctl_repl_batch b = {0};

	/* One datagram. */
	assert_int_equal(weft_ctl_repl_begin(&b, "small", 5, &OPTS), 0);
	add_entries(&b, 1, 20);
	assert_int_equal(weft_ctl_dgram_count(b.len), 1);
	split_and_check(b.buf, b.len, b.name_len);

	/* Exactly full pieces, and a ragged end. */
	assert_int_equal(weft_ctl_repl_begin(&b, "cache-with-a-longer-name", 24, &OPTS), 0);
	add_entries(&b, 30, 1000);
	assert_true(b.len > 20 * WEFT_MAX_DGRAM_PAYLOAD);
	split_and_check(b.buf, b.len, b.name_len);

	/* A single big entry (above the ~32 KiB target, a message of its own),
	 * up to the largest value: the REPLICATE limit admits it. */
	assert_int_equal(weft_ctl_repl_begin(&b, "big", 3, &OPTS), 0);
	add_entries(&b, 1, 300000);
	split_and_check(b.buf, b.len, b.name_len);
	assert_int_equal(weft_ctl_repl_begin(&b, "big", 3, &OPTS), 0);
	add_entries(&b, 1, WEFT_MAX_VALUE_LEN);
	split_and_check(b.buf, b.len, b.name_len);
	weft_ctl_repl_free(&b);
}

static void test_parse_ack(void **state)
{
	(void)state;
	uint8_t d[sizeof(struct weft_wire_hdr) + sizeof(struct weft_x_repl_ack)];
	struct weft_wire_hdr h = {.magic = WEFT_WIRE_MAGIC, .version = WEFT_WIRE_VERSION,
				  .opcode = WEFT_OP_REPLICATE,
				  .flags = WEFT_F_RESPONSE | WEFT_F_NODE,
				  .extras_len = sizeof(struct weft_x_repl_ack),
				  .client_id = 5, .request_id = 6,
				  .msg_len = sizeof(struct weft_x_repl_ack)};
	struct weft_x_repl_ack a = {.applied = 3, .stale = 1}, got;
	struct weft_ctl_req_id rid;
	uint16_t st;

	memcpy(d, &h, sizeof(h));
	memcpy(d + sizeof(h), &a, sizeof(a));
	assert_true(weft_ctl_repl_parse_ack(d, sizeof(d), &rid, &st, &got));
	assert_int_equal(rid.client_id, 5);
	assert_int_equal(rid.request_id, 6);
	assert_int_equal(st, WEFT_ST_OK);
	assert_int_equal(got.applied, 3);
	assert_int_equal(got.stale, 1);

	/* An error status without extras. */
	h.status = WEFT_ST_BUSY;
	h.extras_len = 0;
	h.msg_len = 0;
	memcpy(d, &h, sizeof(h));
	assert_true(weft_ctl_repl_parse_ack(d, sizeof(h), &rid, &st, &got));
	assert_int_equal(st, WEFT_ST_BUSY);
	assert_int_equal(got.applied, 0);

	/* Not an ack: a request, another opcode, truncated, lengths lying. */
	h.flags = WEFT_F_NODE;
	memcpy(d, &h, sizeof(h));
	assert_false(weft_ctl_repl_parse_ack(d, sizeof(h), &rid, &st, &got));
	h.flags = WEFT_F_RESPONSE;
	h.opcode = WEFT_OP_GET;
	memcpy(d, &h, sizeof(h));
	assert_false(weft_ctl_repl_parse_ack(d, sizeof(h), &rid, &st, &got));
	assert_false(weft_ctl_repl_parse_ack(d, sizeof(h) - 1, &rid, &st, &got));
	h.opcode = WEFT_OP_REPLICATE;
	h.msg_len = 100;
	memcpy(d, &h, sizeof(h));
	assert_false(weft_ctl_repl_parse_ack(d, sizeof(d), &rid, &st, &got));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_layout),
		cmocka_unit_test(test_batch_bounds),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_parse_ack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
