/*
 * Unit tests of the pure parts of weftd's sessions service
 * (control/ctl_sessions_expire.c):
 *
 *  - a record's deadline is access_ms + slack + max_inactive * 1000 with
 *    wire.h's slack (clamped to 1..60 s), a timeout of 0 taken as the
 *    default; what is not a record (short, wrong magic) has none;
 *  - the scan callback over a real cache holding sessions with various
 *    access times picks exactly those due at now (now >= deadline), skips
 *    keys that are not session ids, values that are not records and
 *    tombstones, and never collects more than its room;
 *  - the EXPIRE datagram passes weft_wire_check and carries the store, the
 *    id and weft_x_session {EXPIRE}; its answer is matched by client_id,
 *    request_id, opcode and the response flag only;
 *  - an event's properties are event / session (32 lowercase hex) / store,
 *    and a bad kind or store is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <urcu/urcu-qsbr.h>

#include <weft/weft.h>

#include "ctl_sessions.h"

#define NOW 10000000000ull /* unix ms of the scan */

static size_t record(uint8_t *out, uint32_t max_s, uint64_t access_ms, uint32_t attrs)
{
	struct weft_session_record_hdr h = {.magic = WEFT_SESSION_RECORD_MAGIC,
					    .max_inactive_s = max_s, .created_ms = 1,
					    .access_ms = access_ms, .attrs = attrs};
	memcpy(out, &h, sizeof(h));
	size_t off = sizeof(h);
	for (uint32_t i = 0; i < attrs; i++) {
		struct weft_session_attr_hdr a = {.name_len = 1, .value_len = 2};
		memcpy(out + off, &a, sizeof(a));
		off += sizeof(a);
		memcpy(out + off, "kvv", 3);
		off += 3;
	}
	return off;
}

static void test_deadline(void **state)
{
	(void)state;
	uint8_t b[256];
	uint64_t d;
	/* 1800 s: slack 60 s (1800 / 8 = 225 s, clamped) */
	size_t n = record(b, 1800, 5000, 2);
	assert_true(ctl_sessions_deadline(b, (uint32_t)n, &d));
	assert_int_equal(d, 5000 + 60000 + 1800000);
	/* 40 s: slack 5 s */
	record(b, 40, 5000, 0);
	assert_true(ctl_sessions_deadline(b, sizeof(struct weft_session_record_hdr), &d));
	assert_int_equal(d, 5000 + 5000 + 40000);
	/* 2 s: slack clamped up to 1 s */
	record(b, 2, 0, 0);
	assert_true(ctl_sessions_deadline(b, 32, &d));
	assert_int_equal(d, 1000 + 2000);
	/* 0: the default timeout */
	record(b, 0, 7, 0);
	assert_true(ctl_sessions_deadline(b, 32, &d));
	assert_int_equal(d, 7 + weft_session_slack_ms(WEFT_SESSION_DEFAULT_MAX_INACTIVE_S) +
				    WEFT_SESSION_DEFAULT_MAX_INACTIVE_S * 1000ull);
	/* not records */
	assert_false(ctl_sessions_deadline(b, 31, &d));
	assert_false(ctl_sessions_deadline(NULL, 32, &d));
	b[0] ^= 1;
	assert_false(ctl_sessions_deadline(b, 32, &d));
}

static struct weft_cache_key key_of(const uint8_t *k, uint16_t len)
{
	return (struct weft_cache_key){k, len, weft_cache_hash(k, len)};
}

static void id_of(unsigned i, uint8_t id[WEFT_SESSION_ID_LEN])
{
	memset(id, 0xa5, WEFT_SESSION_ID_LEN);
	memcpy(id, &i, sizeof(i));
}

static void put(struct weft_cache *c, const uint8_t *k, uint16_t kl, const void *v, size_t vl)
{
	struct weft_cache_key key = key_of(k, kl);
	assert_int_equal(weft_cache_put(c, &key, v, (uint32_t)vl, WEFT_CACHE_PUT, 0, NULL, 1, NULL),
			 0);
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, WEFT_SESSION_ID_LEN);
}

/* 300 sessions with a timeout of 100 s (slack 12.5 s): session i was last
 * accessed (i * 1000) ms before NOW, so it is due iff i * 1000 >= 112500,
 * i.e. i >= 113: 187 due. */
static void test_scan_picks_due(void **state)
{
	(void)state;
	urcu_qsbr_register_thread();
	struct weft_cache_registry *reg = weft_cache_registry_create();
	assert_non_null(reg);
	struct weft_cache_opts o = {.mode = WEFT_CACHE_MODE_DISTRIBUTED};
	struct weft_cache *c = weft_cache_open(reg, "weft.sessions", 13, &o, NULL);
	assert_non_null(c);
	uint8_t id[WEFT_SESSION_ID_LEN], rec[256];
	for (unsigned i = 0; i < 300; i++) {
		id_of(i, id);
		size_t n = record(rec, 100, NOW - i * 1000ull, i % 3);
		put(c, id, sizeof(id), rec, n);
	}
	/* not sessions: a longer key, a value that is no record, a tombstone */
	put(c, (const uint8_t *)"a-much-longer-key", 17, rec, 32);
	id_of(1000, id);
	put(c, id, sizeof(id), "garbage", 7);
	id_of(1001, id);
	size_t n = record(rec, 1, 0, 0); /* long due */
	put(c, id, sizeof(id), rec, n);
	struct weft_cache_key dk = key_of(id, sizeof(id));
	assert_int_equal(weft_cache_delete(c, &dk, 1, NULL), 0);

	uint8_t due[400][WEFT_SESSION_ID_LEN];
	struct ctl_sess_scan a = {.now_unix_ms = NOW, .due = due, .cap = 400};
	uint64_t cursor = 0;
	unsigned steps = 0;
	do {
		cursor = weft_cache_scan(c, cursor, 8, 1, ctl_sessions_scan_fn, &a);
		assert_true(++steps < 1000000u);
	} while (cursor != 0);
	assert_int_equal(a.seen, 300);
	assert_int_equal(a.bad, 2);
	assert_int_equal(a.n, 187);
	qsort(due, a.n, WEFT_SESSION_ID_LEN, cmp_id);
	for (unsigned i = 113; i < 300; i++) {
		id_of(i, id);
		assert_non_null(bsearch(id, due, a.n, WEFT_SESSION_ID_LEN, cmp_id));
	}
	/* with due_version: each due id with the version of the record seen
	 * (what a stray copy is discarded up to) */
	uint8_t due2[400][WEFT_SESSION_ID_LEN];
	uint64_t ver[400];
	struct ctl_sess_scan v = {.now_unix_ms = NOW, .due = due2, .due_version = ver, .cap = 400};
	cursor = 0;
	do
		cursor = weft_cache_scan(c, cursor, 64, 1, ctl_sessions_scan_fn, &v);
	while (cursor != 0);
	assert_int_equal(v.n, 187);
	for (unsigned i = 0; i < v.n; i++) {
		struct weft_cache_key vk = key_of(due2[i], WEFT_SESSION_ID_LEN);
		struct weft_cache_image img;
		assert_int_equal(weft_cache_peek(c, &vk, 1, &img), 0);
		assert_int_not_equal(ver[i], 0);
		assert_int_equal(ver[i], img.version);
	}
	/* room for 10: 10 taken, the rest left for a later pass */
	struct ctl_sess_scan b = {.now_unix_ms = NOW, .due = due, .cap = 10};
	cursor = 0;
	do
		cursor = weft_cache_scan(c, cursor, 64, 1, ctl_sessions_scan_fn, &b);
	while (cursor != 0);
	assert_int_equal(b.n, 10);
	/* at its deadline exactly a session is due (sess.h: now >= deadline);
	 * a millisecond before, not: session 113's deadline is NOW - 500 */
	struct ctl_sess_scan e = {.now_unix_ms = NOW - 500, .due = due, .cap = 400};
	cursor = 0;
	do
		cursor = weft_cache_scan(c, cursor, 64, 1, ctl_sessions_scan_fn, &e);
	while (cursor != 0);
	assert_int_equal(e.n, 300 - 113);
	struct ctl_sess_scan f = {.now_unix_ms = NOW - 501, .due = due, .cap = 400};
	cursor = 0;
	do
		cursor = weft_cache_scan(c, cursor, 64, 1, ctl_sessions_scan_fn, &f);
	while (cursor != 0);
	assert_int_equal(f.n, 300 - 114);
	weft_cache_registry_destroy(reg);
	urcu_qsbr_unregister_thread();
}

static void test_expire_datagram(void **state)
{
	(void)state;
	uint8_t d[WEFT_MAX_DGRAM_LEN], id[WEFT_SESSION_ID_LEN];
	id_of(42, id);
	size_t n = ctl_sessions_expire_encode("weft.sessions.eu", 16, id, 0x1234, 77, 0, d);
	assert_int_equal(n, sizeof(struct weft_wire_hdr) + 16 + 16 + 8);
	struct weft_wire_hdr h;
	memcpy(&h, d, sizeof(h));
	assert_int_equal(weft_wire_check(&h, n), WEFT_ST_OK);
	assert_int_equal(h.opcode, WEFT_OP_SESSION);
	assert_int_equal(h.flags, 0); /* not WEFT_F_NODE: the node routes it */
	assert_int_equal(h.client_id, 0x1234);
	assert_int_equal(h.request_id, 77);
	assert_memory_equal(d + sizeof(h), "weft.sessions.eu", 16);
	assert_memory_equal(d + sizeof(h) + 16, id, 16);
	struct weft_x_session x;
	memcpy(&x, d + sizeof(h) + 32, sizeof(x));
	assert_int_equal(x.action, WEFT_SESS_EXPIRE);
	assert_int_equal(x.attr_len, 0);
	assert_int_equal(x.max_inactive_s, 0);
	n = ctl_sessions_expire_encode("weft.sessions.eu", 16, id, 0x1234, 78, WEFT_F_RETRY, d);
	memcpy(&h, d, sizeof(h));
	assert_int_equal(h.flags, WEFT_F_RETRY);
	assert_int_equal(ctl_sessions_expire_encode("cache", 5, id, 1, 1, 0, d), 0);
	assert_int_equal(ctl_sessions_expire_encode(NULL, 0, id, 1, 1, 0, d), 0);

	/* answers */
	struct weft_wire_hdr r = {.magic = WEFT_WIRE_MAGIC, .version = WEFT_WIRE_VERSION,
				  .opcode = WEFT_OP_SESSION, .flags = WEFT_F_RESPONSE,
				  .status = WEFT_ST_EXISTS, .client_id = 9, .request_id = 5};
	uint8_t a[64];
	memcpy(a, &r, sizeof(r));
	assert_int_equal(ctl_sessions_expire_match(a, sizeof(r), 9, 5), WEFT_ST_EXISTS);
	assert_int_equal(ctl_sessions_expire_match(a, sizeof(r) - 1, 9, 5), -1);
	assert_int_equal(ctl_sessions_expire_match(a, sizeof(r), 8, 5), -1);
	assert_int_equal(ctl_sessions_expire_match(a, sizeof(r), 9, 6), -1);
	r.flags = 0;
	memcpy(a, &r, sizeof(r));
	assert_int_equal(ctl_sessions_expire_match(a, sizeof(r), 9, 5), -1);
	r.flags = WEFT_F_RESPONSE;
	r.opcode = WEFT_OP_GET;
	memcpy(a, &r, sizeof(r));
	assert_int_equal(ctl_sessions_expire_match(a, sizeof(r), 9, 5), -1);
	r.opcode = WEFT_OP_SESSION;
	r.extras_len = 8; /* says 8 bytes of extras, carries none */
	memcpy(a, &r, sizeof(r));
	assert_int_equal(ctl_sessions_expire_match(a, sizeof(r), 9, 5), -1);
	assert_int_equal(ctl_sessions_expire_match(a, sizeof(r) + 8, 9, 5), WEFT_ST_EXISTS);
}

static void test_event_props(void **state)
{
	(void)state;
	struct weft_dp_sess_event ev = {.kind = WEFT_SESSION_INVALIDATED, .store_len = 13};
	memcpy(ev.store, "weft.sessions", 13);
	for (unsigned i = 0; i < WEFT_SESSION_ID_LEN; i++)
		ev.id[i] = (uint8_t)(0xf0 + i);
	char hex[33];
	struct weft_prop p[3];
	assert_true(ctl_sessions_event_props(&ev, hex, p));
	assert_string_equal(p[0].name, "event");
	assert_int_equal(p[0].value_len, 11);
	assert_memory_equal(p[0].value, "invalidated", 11);
	assert_string_equal(p[1].name, "session");
	assert_int_equal(p[1].value_len, 32);
	assert_memory_equal(p[1].value, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", 32);
	assert_string_equal(p[2].name, "store");
	assert_int_equal(p[2].value_len, 13);
	assert_memory_equal(p[2].value, "weft.sessions", 13);
	ev.kind = 0;
	assert_false(ctl_sessions_event_props(&ev, hex, p));
	ev.kind = 4;
	assert_false(ctl_sessions_event_props(&ev, hex, p));
	ev.kind = WEFT_SESSION_CREATED;
	ev.store_len = 5;
	assert_false(ctl_sessions_event_props(&ev, hex, p));
	ev.store_len = 200;
	assert_false(ctl_sessions_event_props(&ev, hex, p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_scan_picks_due),
		cmocka_unit_test(test_expire_datagram),
		cmocka_unit_test(test_event_props),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
