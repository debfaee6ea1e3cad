/*
 * libweft sessions (weft.h "Sessions", client/session.c) against a fake
 * 3-node cluster on loopback: three scripted fake nodes
 * (test_client_peer.c) answer TOPOLOGY with the table test_client_peer.c
 * encodes (16 segments, 2 owners; segment s's owners are node (s + rot) % 3
 * then (s + rot + 1) % 3), answer SESSION as the test scripts it, and log
 * every request.
 *
 * Asserted: ids round-trip through hex (lowercase out, either case in),
 * bad hex and the all-zero id are refused; every action's request carries
 * weft_x_session and the value wire.h specifies (SET: name then value,
 * attr_len = the name's length) and goes to the primary of the id's
 * segment; CREATE draws a new id (a new key) on EXISTS and gives up after a
 * bounded number of draws; answers are decoded (info, the GET value, LIST
 * and LOAD attribute lists into one block); NO_SESSION and NOT_FOUND
 * surface as such; malformed answers (no info, a truncated or overlong
 * list, a zero-length name, a NUL in a name, an impossible count) are
 * -WEFT_ST_PROTOCOL; invalid arguments send nothing; a read that timed out
 * at a dead primary is re-sent to the new one, an INVALIDATE is not;
 * weft_session_listen decodes the events of "/topic/<store>.events" and
 * skips messages that are not events.
 *
 * Every wait is bounded: client timeouts are short, the peers poll with a
 * cap (test_client_peer.h), weft_session_listen gets a max_ms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_internal.h"
#include "test_client_peer.h"

#define LOG_MAX 64u

struct cluster {
	struct peer_cluster pc; /* the nodes, the table, mu */
	/* scenario */
	unsigned create_exists;      /* CREATEs answered EXISTS before an OK */
	uint16_t status;             /* the status of other actions (0: OK) */
	bool no_info;                /* OK without the info extras */
	struct weft_x_session_info info;
	uint8_t body[1024];          /* GET value, LIST / LOAD list */
	size_t body_len;
	uint8_t recv[1024];          /* one RECEIVE answer's message list */
	size_t recv_len;
	uint32_t recv_count;
	/* what happened */
	struct peer_rec log[LOG_MAX]; /* pc's log */
};

static unsigned primary_of(unsigned rot, const void *id)
{
	return (peer_cluster_seg(id, WEFT_SESSION_ID_LEN) + rot) % PEER_NODES;
}

static void answer_session(struct cluster *cl, struct peer *p, const struct weft_wire_hdr *h,
			   const struct weft_x_session *x)
{
	if (x->action == WEFT_SESS_CREATE) {
		bool taken = cl->create_exists > 0;
		if (taken)
			cl->create_exists--;
		peer_reply(p, h, taken ? WEFT_ST_EXISTS : WEFT_ST_OK, NULL, 0, NULL, 0);
		return;
	}
	if (cl->status != WEFT_ST_OK) {
		peer_reply(p, h, cl->status, NULL, 0, NULL, 0);
		return;
	}
	bool at_most_once = x->action == WEFT_SESS_REMOVE || x->action == WEFT_SESS_INVALIDATE;
	bool body = x->action == WEFT_SESS_GET || x->action == WEFT_SESS_LIST ||
		    x->action == WEFT_SESS_LOAD;
	uint16_t xl = at_most_once || cl->no_info ? 0 : sizeof(cl->info);
	peer_reply(p, h, WEFT_ST_OK, &cl->info, xl, cl->body, body ? (uint32_t)cl->body_len : 0);
}

static void answer_req(void *ctx, struct peer *p, const struct peer_req *q)
{
	struct cluster *cl = ctx;
	switch (q->h.opcode) {
	case WEFT_OP_SESSION: {
		struct weft_x_session x = { 0 }; /* zero when q has none */
		if (q->h.extras_len == sizeof(x))
			memcpy(&x, q->extras, sizeof(x));
		answer_session(cl, p, &q->h, &x);
		break;
	}
	case WEFT_OP_RECEIVE: {
		struct weft_x_received rx = { .count = cl->recv_count };
		peer_reply(p, &q->h, WEFT_ST_OK, &rx, sizeof(rx), cl->recv, (uint32_t)cl->recv_len);
		cl->recv_count = 0; /* then empty waits */
		cl->recv_len = 0;
		break;
	}
	default:
		peer_reply(p, &q->h, WEFT_ST_OK, NULL, 0, NULL, 0);
	}
}

static int setup(void **state)
{
	struct cluster *cl = calloc(1, sizeof(*cl));
	assert_non_null(cl);
	cl->info = (struct weft_x_session_info){ .created_ms = 1000, .access_ms = 2000,
						 .idle_ms = 30, .max_inactive_s = 600,
						 .attrs = 0, .bytes = 32 };
	peer_cluster_start(&cl->pc, answer_req, cl, cl->log, LOG_MAX);
	*state = cl;
	return 0;
}

static int teardown(void **state)
{
	struct cluster *cl = *state;
	peer_cluster_destroy(&cl->pc);
	free(cl);
	return 0;
}

/* Appends one attribute (wire.h weft_session_attr_hdr, name, value when
 * with_value) to b; value_len is what the header says. */
static size_t attr_add(uint8_t *b, size_t off, const char *name, size_t nl, const void *v,
		       uint32_t value_len, bool with_value)
{
	struct weft_session_attr_hdr h = { .name_len = (uint16_t)nl, .value_len = value_len };
	memcpy(b + off, &h, sizeof(h));
	off += sizeof(h);
	memcpy(b + off, name, nl);
	off += nl;
	if (with_value && value_len) {
		memcpy(b + off, v, value_len);
		off += value_len;
	}
	return off;
}

static struct weft_session_id some_id(uint8_t seed)
{
	struct weft_session_id id;
	for (unsigned i = 0; i < WEFT_SESSION_ID_LEN; i++)
		id.b[i] = (uint8_t)(seed * 31u + i * 7u + 1u);
	return id;
}

/* --- tests ----------------------------------------------------------------- */

static void test_id_hex(void **state)
{
	(void)state;
	struct weft_session_id id = some_id(3), back;
	id.b[0] = 0xab;
	id.b[15] = 0x0f;
	char hex[WEFT_SESSION_HEX_LEN + 1];
	weft_session_id_hex(&id, hex);
	assert_int_equal(strlen(hex), 32);
	assert_memory_equal(hex, "ab", 2);
	assert_memory_equal(hex + 30, "0f", 2);
	for (unsigned i = 0; i < 32; i++)
		assert_true((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'));
	assert_int_equal(weft_session_id_parse(hex, &back), 0);
	assert_memory_equal(back.b, id.b, 16);
	/* either case in */
	char up[33];
	for (unsigned i = 0; i < 33; i++)
		up[i] = (char)(hex[i] >= 'a' && hex[i] <= 'f' ? hex[i] - 32 : hex[i]);
	memset(&back, 0, sizeof(back));
	assert_int_equal(weft_session_id_parse(up, &back), 0);
	assert_memory_equal(back.b, id.b, 16);
	/* refused: zero id, wrong lengths, non-hex, NULLs; *id untouched */
	struct weft_session_id keep = some_id(9), t = keep;
	static const char *const bad[] = {
		"00000000000000000000000000000000", "", "0123", "0123456789abcdef0123456789abcde",
		"0123456789abcdef0123456789abcdef0", "0123456789abcdef0123456789abcdeg",
		"0123456789abcdef 123456789abcdef", "0x23456789abcdef0123456789abcdef",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(weft_session_id_parse(bad[i], &t), -WEFT_ST_INVALID_ARG);
	assert_memory_equal(t.b, keep.b, 16);
	assert_int_equal(weft_session_id_parse(NULL, &t), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_id_parse(hex, NULL), -WEFT_ST_INVALID_ARG);
	assert_string_equal(weft_session_event_name(WEFT_SESSION_CREATED), "created");
	assert_string_equal(weft_session_event_name(WEFT_SESSION_EXPIRED), "expired");
	assert_string_equal(weft_session_event_name(WEFT_SESSION_INVALIDATED), "invalidated");
	assert_null(weft_session_event_name((enum weft_session_event)0));
	assert_null(weft_session_event_name((enum weft_session_event)4));
	assert_string_equal(weft_status_name(-WEFT_ST_NO_SESSION), "NO_SESSION");
}

static void test_create_redraws_on_exists(void **state)
{
	struct cluster *cl = *state;
	cl->create_exists = 2;
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	struct weft_session_id id;
	assert_int_equal(weft_session_create(c, "weft.sessions.shop", 600, &id), 0);
	/* taken every time: bounded, EXISTS */
	struct weft_session_id keep = some_id(1), id2 = keep;
	cl->create_exists = 100;
	assert_int_equal(weft_session_create(c, NULL, 0, &id2), -WEFT_ST_EXISTS);
	assert_memory_equal(id2.b, keep.b, 16);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);

	struct peer_rec r[16];
	unsigned n = peer_cluster_find(&cl->pc, WEFT_OP_SESSION, r, 16);
	assert_int_equal(n, 3 + 4);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(r[i].x.action, WEFT_SESS_CREATE);
		assert_int_equal(r[i].extras_len, sizeof(struct weft_x_session));
		assert_int_equal(r[i].x.attr_len, 0);
		assert_int_equal(r[i].key_len, WEFT_SESSION_ID_LEN);
		assert_int_equal(r[i].value_len, 0);
		assert_int_equal(r[i].node, primary_of(0, r[i].key));
		struct weft_session_id z = { 0 };
		assert_memory_not_equal(r[i].key, z.b, 16);
		for (unsigned k = 0; k < i; k++) /* a fresh id each draw */
			assert_memory_not_equal(r[i].key, r[k].key, 16);
	}
	assert_string_equal(r[0].name, "weft.sessions.shop");
	assert_int_equal(r[0].x.max_inactive_s, 600);
	assert_memory_equal(r[2].key, id.b, 16); /* the id that was accepted */
	assert_string_equal(r[3].name, WEFT_SESSION_STORE);
	assert_int_equal(r[3].x.max_inactive_s, 0);
}

static void test_actions_encode_and_decode(void **state)
{
	struct cluster *cl = *state;
	struct weft_session_id id = some_id(5);
	unsigned prim = primary_of(0, id.b);
	memcpy(cl->body, "blue", 4);
	cl->body_len = 4;
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);

	assert_int_equal(weft_session_set(c, NULL, &id, "color", "blue", 4), 0);
	void *v = NULL;
	size_t vl = 0;
	struct weft_session_info si;
	assert_int_equal(weft_session_get(c, NULL, &id, "color", &v, &vl, &si), 0);
	assert_int_equal(vl, 4);
	assert_memory_equal(v, "blue", 4);
	free(v);
	assert_int_equal(si.created_ms, 1000);
	assert_int_equal(si.access_ms, 2000);
	assert_int_equal(si.idle_ms, 30);
	assert_int_equal(si.max_inactive_s, 600);
	assert_int_equal(si.bytes, 32);
	cl->body_len = 0; /* an empty attribute: no buffer */
	v = (void *)1;
	assert_int_equal(weft_session_get(c, NULL, &id, "e", &v, &vl, NULL), 0);
	assert_null(v);
	assert_int_equal(vl, 0);
	assert_int_equal(weft_session_remove(c, NULL, &id, "color"), 0);
	assert_int_equal(weft_session_touch(c, NULL, &id, 120), 0);
	memset(&si, 0, sizeof(si));
	assert_int_equal(weft_session_info(c, NULL, &id, &si), 0);
	assert_int_equal(si.max_inactive_s, 600);
	assert_int_equal(weft_session_invalidate(c, NULL, &id), 0);
	cl->status = WEFT_ST_NO_SESSION;
	assert_int_equal(weft_session_get(c, NULL, &id, "color", &v, &vl, NULL),
			 -WEFT_ST_NO_SESSION);
	cl->status = WEFT_ST_NOT_FOUND;
	assert_int_equal(weft_session_get(c, NULL, &id, "nope", &v, &vl, NULL), -WEFT_ST_NOT_FOUND);
	cl->status = WEFT_ST_VALUE_TOO_LARGE;
	assert_int_equal(weft_session_set(c, NULL, &id, "big", "x", 1), -WEFT_ST_VALUE_TOO_LARGE);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);

	struct peer_rec r[16];
	unsigned n = peer_cluster_find(&cl->pc, WEFT_OP_SESSION, r, 16);
	assert_int_equal(n, 10);
	static const uint8_t actions[] = { WEFT_SESS_SET, WEFT_SESS_GET, WEFT_SESS_GET,
					   WEFT_SESS_REMOVE, WEFT_SESS_TOUCH, WEFT_SESS_INFO,
					   WEFT_SESS_INVALIDATE, WEFT_SESS_GET, WEFT_SESS_GET,
					   WEFT_SESS_SET };
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(r[i].x.action, actions[i]);
		assert_int_equal(r[i].node, prim);
		assert_memory_equal(r[i].key, id.b, 16);
		assert_string_equal(r[i].name, WEFT_SESSION_STORE);
	}
	assert_int_equal(r[0].x.attr_len, 5);
	assert_int_equal(r[0].value_len, 9);
	assert_memory_equal(r[0].value, "colorblue", 9);
	assert_int_equal(r[1].x.attr_len, 0);
	assert_int_equal(r[1].value_len, 5);
	assert_memory_equal(r[1].value, "color", 5);
	assert_int_equal(r[3].value_len, 5);
	assert_int_equal(r[4].x.max_inactive_s, 120);
	assert_int_equal(r[5].value_len, 0);
	assert_int_equal(r[6].value_len, 0);
}

static void test_list_and_load(void **state)
{
	struct cluster *cl = *state;
	struct weft_session_id id = some_id(6);
	static const uint8_t bin[3] = { 0, 1, 2 };
	size_t off = attr_add(cl->body, 0, "cart", 4, "3 items", 7, true);
	off = attr_add(cl->body, off, "empty", 5, NULL, 0, true);
	off = attr_add(cl->body, off, "bin", 3, bin, 3, true);
	cl->body_len = off;
	cl->info.attrs = 3;
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	struct weft_session_attr *a = NULL;
	size_t n = 0;
	struct weft_session_info si;
	assert_int_equal(weft_session_load(c, NULL, &id, &a, &n, &si), 0);
	assert_int_equal(n, 3);
	assert_int_equal(si.attrs, 3);
	assert_string_equal(a[0].name, "cart");
	assert_int_equal(a[0].value_len, 7);
	assert_memory_equal(a[0].value, "3 items", 7);
	assert_string_equal(a[1].name, "empty");
	assert_int_equal(a[1].value_len, 0);
	assert_string_equal(a[2].name, "bin");
	assert_memory_equal(a[2].value, bin, 3);
	free(a);

	off = attr_add(cl->body, 0, "cart", 4, NULL, 7, false);
	off = attr_add(cl->body, off, "big", 3, NULL, 500000, false);
	cl->body_len = off;
	cl->info.attrs = 2;
	assert_int_equal(weft_session_list(c, "weft.sessions.a", &id, &a, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(a[1].name, "big");
	assert_int_equal(a[1].value_len, 500000);
	assert_null(a[0].value);
	free(a);

	cl->body_len = 0; /* no attributes: no block */
	cl->info.attrs = 0;
	a = (void *)1;
	assert_int_equal(weft_session_list(c, NULL, &id, &a, &n, NULL), 0);
	assert_null(a);
	assert_int_equal(n, 0);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);
	struct peer_rec r[8];
	assert_int_equal(peer_cluster_find(&cl->pc, WEFT_OP_SESSION, r, 8), 3);
	assert_int_equal(r[0].x.action, WEFT_SESS_LOAD);
	assert_int_equal(r[1].x.action, WEFT_SESS_LIST);
	assert_string_equal(r[1].name, "weft.sessions.a");
}

/* The attribute-list codec itself: every malformed shape is PROTOCOL. */
static void test_malformed_lists(void **state)
{
	(void)state;
	uint8_t b[256];
	struct weft_session_attr *a = NULL;
	size_t n = 99;
	size_t off = attr_add(b, 0, "ab", 2, "xyz", 3, true);
	assert_int_equal(weft_session_attrs_decode(b, off, 1, true, &a, &n), 0);
	assert_int_equal(n, 1);
	free(a);
	n = 99;
	/* truncated anywhere, or one byte too many */
	for (size_t cut = 0; cut < off; cut++)
		assert_int_equal(weft_session_attrs_decode(b, cut, 1, true, &a, &n),
				 -WEFT_ST_PROTOCOL);
	b[off] = 0;
	assert_int_equal(weft_session_attrs_decode(b, off + 1, 1, true, &a, &n), -WEFT_ST_PROTOCOL);
	/* the count disagrees with the bytes */
	assert_int_equal(weft_session_attrs_decode(b, off, 2, true, &a, &n), -WEFT_ST_PROTOCOL);
	assert_int_equal(weft_session_attrs_decode(b, off, 0, true, &a, &n), -WEFT_ST_PROTOCOL);
	assert_int_equal(weft_session_attrs_decode(b, off, UINT32_MAX, true, &a, &n),
			 -WEFT_ST_PROTOCOL);
	/* read as a LIST (no values), the value bytes are trailing garbage */
	assert_int_equal(weft_session_attrs_decode(b, off, 1, false, &a, &n), -WEFT_ST_PROTOCOL);
	/* a zero-length name, a NUL in a name, a name too long, a huge value */
	off = attr_add(b, 0, "", 0, "v", 1, true);
	assert_int_equal(weft_session_attrs_decode(b, off, 1, true, &a, &n), -WEFT_ST_PROTOCOL);
	off = attr_add(b, 0, "a\0b", 3, "v", 1, true);
	assert_int_equal(weft_session_attrs_decode(b, off, 1, true, &a, &n), -WEFT_ST_PROTOCOL);
	struct weft_session_attr_hdr h = { .name_len = 251, .value_len = 0 };
	memcpy(b, &h, sizeof(h));
	memset(b + sizeof(h), 'n', sizeof(b) - sizeof(h));
	assert_int_equal(weft_session_attrs_decode(b, sizeof(h) + 251, 1, false, &a, &n),
			 -WEFT_ST_PROTOCOL);
	h = (struct weft_session_attr_hdr){ .name_len = 1, .value_len = UINT32_MAX };
	memcpy(b, &h, sizeof(h));
	assert_int_equal(weft_session_attrs_decode(b, sizeof(h) + 1, 1, false, &a, &n),
			 -WEFT_ST_PROTOCOL);
	assert_int_equal(weft_session_attrs_decode(b, sizeof(h) + 200, 1, true, &a, &n),
			 -WEFT_ST_PROTOCOL);
	assert_int_equal(n, 99); /* never written on failure */
}

static void test_malformed_answers(void **state)
{
	struct cluster *cl = *state;
	struct weft_session_id id = some_id(7);
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	struct weft_session_attr *a = NULL;
	size_t n = 0;
	void *v = NULL;
	size_t vl;
	struct weft_session_info si;
	/* OK without the info extras */
	cl->no_info = true;
	assert_int_equal(weft_session_get(c, NULL, &id, "x", &v, &vl, NULL), -WEFT_ST_PROTOCOL);
	assert_int_equal(weft_session_info(c, NULL, &id, &si), -WEFT_ST_PROTOCOL);
	assert_int_equal(weft_session_set(c, NULL, &id, "x", "1", 1), -WEFT_ST_PROTOCOL);
	assert_int_equal(weft_session_load(c, NULL, &id, &a, &n, NULL), -WEFT_ST_PROTOCOL);
	cl->no_info = false;
	/* an info beyond wire.h's bounds */
	cl->info.bytes = WEFT_SESSION_MAX_BYTES + 1;
	assert_int_equal(weft_session_info(c, NULL, &id, &si), -WEFT_ST_PROTOCOL);
	cl->info.bytes = 64;
	cl->info.attrs = 1000; /* more attributes than 64 bytes can hold */
	assert_int_equal(weft_session_info(c, NULL, &id, &si), -WEFT_ST_PROTOCOL);
	/* a list that disagrees with info.attrs */
	cl->info.attrs = 2;
	cl->body_len = attr_add(cl->body, 0, "one", 3, "1", 1, true);
	assert_int_equal(weft_session_load(c, NULL, &id, &a, &n, NULL), -WEFT_ST_PROTOCOL);
	cl->info.attrs = 1;
	cl->body_len -= 1; /* truncated value */
	assert_int_equal(weft_session_load(c, NULL, &id, &a, &n, NULL), -WEFT_ST_PROTOCOL);
	weft_client_close(c);
}

static int ignore_event(void *ctx, enum weft_session_event ev, const struct weft_session_id *id)
{
	(void)ctx, (void)ev, (void)id;
	return 0;
}

static void test_invalid_args_send_nothing(void **state)
{
	struct cluster *cl = *state;
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	struct weft_session_id id = some_id(8), zero = { 0 };
	char long_name[300];
	memset(long_name, 'a', sizeof(long_name));
	long_name[251] = '\0';
	static const char *const bad_stores[] = {
		"weft.session", "weft.sessionsx", "weft.sessions.", "other", "",
		"weft.sessions.0123456789012345678901234567890123456789012345", /* 60 */
		"weft.sessions.a b",
	};
	void *v;
	size_t vl;
	struct weft_session_attr *a;
	size_t n;
	for (size_t i = 0; i < sizeof(bad_stores) / sizeof(bad_stores[0]); i++) {
		assert_int_equal(weft_session_get(c, bad_stores[i], &id, "x", &v, &vl, NULL),
				 -WEFT_ST_INVALID_ARG);
		assert_int_equal(weft_session_create(c, bad_stores[i], 0, &id),
				 -WEFT_ST_INVALID_ARG);
		assert_int_equal(weft_session_listen(c, bad_stores[i], ignore_event, NULL, 10),
				 -WEFT_ST_INVALID_ARG);
	}
	assert_int_equal(weft_session_get(c, NULL, &zero, "x", &v, &vl, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_get(c, NULL, NULL, "x", &v, &vl, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_get(c, NULL, &id, "", &v, &vl, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_get(c, NULL, &id, NULL, &v, &vl, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_set(c, NULL, &id, long_name, "x", 1), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_set(c, NULL, &id, "a", NULL, 1), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_set(c, NULL, &id, "a", "x", WEFT_SESSION_MAX_BYTES + 1),
			 -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_remove(c, NULL, &zero, "a"), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_touch(c, NULL, &id, WEFT_SESSION_MAX_MAX_INACTIVE_S + 1),
			 -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_create(c, NULL, WEFT_SESSION_MAX_MAX_INACTIVE_S + 1, &id),
			 -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_create(c, NULL, 0, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_list(c, NULL, &id, NULL, &n, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_load(c, NULL, &id, &a, NULL, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_invalidate(NULL, NULL, &id), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_info(c, NULL, &zero, NULL), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_listen(c, NULL, NULL, NULL, 10), -WEFT_ST_INVALID_ARG);
	/* the longest store whose events topic fits a destination name: 50 */
	char topic[WEFT_MAX_NAME_LEN + 1];
	assert_int_equal(weft_session_events_topic("weft.sessions.0123456789012345678901234567890123"
						   "45", topic), 0);
	assert_int_equal(strlen(topic), 64);
	assert_int_equal(weft_session_events_topic("weft.sessions.0123456789012345678901234567890123"
						   "456", topic), -WEFT_ST_INVALID_ARG);
	assert_int_equal(weft_session_events_topic(NULL, topic), 0);
	assert_string_equal(topic, "/topic/weft.sessions.events");
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);
	assert_int_equal(cl->pc.n_log, 0);
}

static void test_read_resent_after_failover_invalidate_not(void **state)
{
	struct cluster *cl = *state;
	struct weft_session_id id = some_id(11);
	unsigned dead = primary_of(0, id.b), next = primary_of(1, id.b);
	assert_int_not_equal(dead, next);
	weft_client *c = peer_cluster_client(&cl->pc, 100, 1);
	struct weft_session_info si;
	assert_int_equal(weft_session_info(c, NULL, &id, &si), 0); /* fetches the table */
	peer_cluster_set(&cl->pc, 1, 6, dead, true); /* table moves, old primary dead */
	assert_int_equal(weft_session_info(c, NULL, &id, &si), 0);
	weft_client_close(c);

	peer_cluster_set(&cl->pc, 0, 5, dead, false); /* back as it was */
	c = peer_cluster_client(&cl->pc, 100, 1);
	assert_int_equal(weft_session_info(c, NULL, &id, &si), 0);
	peer_cluster_set(&cl->pc, 1, 6, dead, true); /* table moves, old primary dead */
	assert_int_equal(weft_session_invalidate(c, NULL, &id), -WEFT_ST_TIMEOUT);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);

	struct peer_rec r[16];
	unsigned n = peer_cluster_find(&cl->pc, WEFT_OP_SESSION, r, 16);
	assert_int_equal(n, 1 + 3 + 1 + 2);
	assert_int_equal(r[1].node, dead);
	assert_int_equal(r[2].node, dead);
	assert_int_equal(r[1].rid, r[2].rid); /* a retransmission */
	assert_int_equal(r[3].node, next);     /* re-sent to the new primary */
	assert_int_not_equal(r[3].rid, r[1].rid);
	assert_int_equal(r[5].x.action, WEFT_SESS_INVALIDATE);
	assert_int_equal(r[5].node, dead);
	assert_int_equal(r[6].node, dead);     /* retransmitted there only */
	assert_int_equal(r[5].rid, r[6].rid);
}

/* --- events ---------------------------------------------------------------- */

static size_t msg_add(uint8_t *b, size_t off, uint64_t id, const struct weft_prop *p, size_t np)
{
	uint8_t *props;
	size_t pl;
	assert_int_equal(weft_props_encode(p, np, &props, &pl), 0);
	struct weft_msg_hdr h = { .id = id, .props_len = (uint32_t)pl, .deliveries = 1 };
	memcpy(b + off, &h, sizeof(h));
	if (pl)
		memcpy(b + off + sizeof(h), props, pl);
	free(props);
	return off + sizeof(h) + pl;
}

struct seen {
	unsigned n;
	enum weft_session_event ev[4];
	struct weft_session_id id[4];
};

static int on_event(void *ctx, enum weft_session_event ev, const struct weft_session_id *id)
{
	struct seen *s = ctx;
	s->ev[s->n] = ev;
	s->id[s->n] = *id;
	return ++s->n == 2 ? -1 : 0;
}

static void test_listen_decodes_events(void **state)
{
	struct cluster *cl = *state;
	struct weft_session_id a = some_id(20), b = some_id(21);
	char ha[33], hb[33];
	weft_session_id_hex(&a, ha);
	weft_session_id_hex(&b, hb);
	const struct weft_prop p1[] = { { "event", "created", 7 }, { "session", ha, 32 },
					{ "store", "weft.sessions", 13 } };
	const struct weft_prop bad1[] = { { "event", "renamed", 7 }, { "session", ha, 32 } };
	const struct weft_prop bad2[] = { { "event", "expired", 7 }, { "session", ha, 31 } };
	const struct weft_prop bad3[] = { { "session", hb, 32 } };
	const struct weft_prop p2[] = { { "event", "expired", 7 }, { "session", hb, 32 } };
	const struct weft_prop p3[] = { { "event", "invalidated", 11 }, { "session", ha, 32 } };
	size_t off = msg_add(cl->recv, 0, 1, p1, 3);
	off = msg_add(cl->recv, off, 2, bad1, 2);
	off = msg_add(cl->recv, off, 3, bad2, 2);
	off = msg_add(cl->recv, off, 4, bad3, 1);
	off = msg_add(cl->recv, off, 5, p2, 2);
	off = msg_add(cl->recv, off, 6, p3, 2);
	cl->recv_len = off;
	cl->recv_count = 6;
	weft_client *c = peer_cluster_client(&cl->pc, 200, 2);
	struct seen s = { 0 };
	assert_int_equal(weft_session_listen(c, "weft.sessions.x", on_event, &s, 10000), 0);
	assert_int_equal(s.n, 2); /* stopped at the second event; bad ones skipped */
	assert_int_equal(s.ev[0], WEFT_SESSION_CREATED);
	assert_memory_equal(s.id[0].b, a.b, 16);
	assert_int_equal(s.ev[1], WEFT_SESSION_EXPIRED);
	assert_memory_equal(s.id[1].b, b.b, 16);
	/* nothing comes: bounded by max_ms */
	assert_int_equal(weft_session_listen(c, NULL, on_event, &s, 50), 0);
	assert_int_equal(s.n, 2);
	weft_client_close(c);
	peer_cluster_stop(&cl->pc);
	struct peer_rec r[16];
	unsigned n = peer_cluster_find(&cl->pc, WEFT_OP_RECEIVE, r, 16);
	assert_true(n >= 2);
	assert_string_equal(r[0].name, "/topic/weft.sessions.x.events");
	assert_int_equal(r[0].node, 0); /* a plain topic: at the client's home */
	assert_string_equal(r[n - 1].name, "/topic/weft.sessions.events");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_hex),
		cmocka_unit_test_setup_teardown(test_create_redraws_on_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_actions_encode_and_decode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_and_load, setup, teardown),
		cmocka_unit_test(test_malformed_lists),
		cmocka_unit_test_setup_teardown(test_malformed_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_args_send_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_resent_after_failover_invalidate_not,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_decodes_events, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
