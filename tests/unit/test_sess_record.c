/*
 * test_sess_record.c — the sans-I/O session module (sess/): record
 * validation (every malformed shape is -EINVAL), request checks, every
 * action's status / outcome / record / answer / event, the size limit,
 * the slack rule for reads and the expiry deadline's edge.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sess.h"

#define T0 1700000000000ull /* a wall-clock ms */
#define MI 600u             /* max_inactive_s of the test sessions: slack 60 s */
#define SLACK 60000ull

/* A growable record under construction. */
struct rec {
	uint8_t *b;
	uint32_t len;
};

static void rec_hdr(struct rec *r, uint32_t mi, uint64_t created, uint64_t access, uint32_t attrs)
{
	struct weft_session_record_hdr h = {.magic = WEFT_SESSION_RECORD_MAGIC,
					    .max_inactive_s = mi, .created_ms = created,
					    .access_ms = access, .attrs = attrs};
	r->b = malloc(sizeof(h));
	assert_non_null(r->b);
	memcpy(r->b, &h, sizeof(h));
	r->len = sizeof(h);
}

static void rec_raw(struct rec *r, const void *p, uint32_t n)
{
	r->b = realloc(r->b, r->len + n);
	assert_non_null(r->b);
	memcpy(r->b + r->len, p, n);
	r->len += n;
}

static void rec_attr(struct rec *r, const char *name, const char *value)
{
	struct weft_session_attr_hdr a = {.name_len = (uint16_t)strlen(name),
					  .value_len = (uint32_t)strlen(value)};
	rec_raw(r, &a, sizeof(a));
	rec_raw(r, name, a.name_len);
	rec_raw(r, value, a.value_len);
}

/* A valid session (T0, MI) with attributes a=1, bb=22. */
static struct rec sample(void)
{
	struct rec r;
	rec_hdr(&r, MI, T0, T0, 2);
	rec_attr(&r, "a", "1");
	rec_attr(&r, "bb", "22");
	return r;
}

static struct weft_x_session xs(uint8_t action, uint16_t attr_len, uint32_t mi)
{
	struct weft_x_session x = {.action = action, .attr_len = attr_len, .max_inactive_s = mi};
	return x;
}

static void apply(const struct rec *r, uint8_t action, const char *value, uint16_t attr_len,
		  uint32_t mi, uint64_t now, struct weft_sess_result *out)
{
	struct weft_x_session x = xs(action, attr_len, mi);
	uint32_t vl = value ? (uint32_t)strlen(value) : 0;
	assert_int_equal(weft_sess_apply(r ? r->b : NULL, r ? r->len : 0, &x,
					 (const uint8_t *)value, vl, now, out),
			 0);
}

static void info_of(const struct weft_sess_result *res, struct weft_x_session_info *info)
{
	assert_non_null(res->answer);
	assert_int_equal(res->answer_extras_len, sizeof(*info));
	memcpy(info, res->answer, sizeof(*info));
}

/* Decodes res's new record (it must be valid). */
static void new_record(const struct weft_sess_result *res, struct weft_sess_record *out)
{
	assert_int_equal(res->outcome, WEFT_SESS_STORE);
	assert_int_equal(weft_sess_decode(res->record, res->record_len, out), 0);
}

/* The value of attribute name in r; NULL when absent. */
static const char *attr_value(const struct weft_sess_record *r, const char *name, uint32_t *len)
{
	uint32_t pos = 0;
	struct weft_sess_attr a;
	while (weft_sess_attr_next(r, &pos, &a))
		if (a.name_len == strlen(name) && memcmp(a.name, name, a.name_len) == 0) {
			*len = a.value_len;
			return (const char *)a.value;
		}
	return NULL;
}

/* --- decode ------------------------------------------------------------------ */

static void test_decode_valid(void **state)
{
	(void)state;
	struct rec r = sample();
	struct weft_sess_record d;
	assert_int_equal(weft_sess_decode(r.b, r.len, &d), 0);
	assert_int_equal(d.hdr.attrs, 2);
	assert_int_equal(d.bytes, r.len);
	uint32_t pos = 0, n = 0, len = 0;
	struct weft_sess_attr a;
	while (weft_sess_attr_next(&d, &pos, &a))
		n++;
	assert_int_equal(n, 2);
	assert_memory_equal(attr_value(&d, "bb", &len), "22", 2);
	assert_int_equal(len, 2);
	assert_int_equal(weft_sess_deadline_ms(&d.hdr), T0 + SLACK + MI * 1000ull);
	free(r.b);
}

static void expect_bad(const struct rec *r)
{
	struct weft_sess_record d;
	assert_int_equal(weft_sess_decode(r->b, r->len, &d), -EINVAL);
	/* ... and an op on it changes nothing. */
	struct weft_sess_result res;
	apply(r, WEFT_SESS_GET, "a", 0, 0, T0, &res);
	assert_int_equal(res.status, WEFT_ST_INTERNAL);
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
	assert_null(res.record);
	assert_null(res.answer);
}

static void test_decode_malformed(void **state)
{
	(void)state;
	struct weft_sess_record d;
	assert_int_equal(weft_sess_decode(NULL, 0, &d), -EINVAL);
	struct rec r = sample();
	/* truncated anywhere: inside the header, inside an attribute */
	for (uint32_t cut = 0; cut < r.len; cut++) {
		struct rec t = {r.b, cut};
		assert_int_equal(weft_sess_decode(t.b, t.len, &d), -EINVAL);
	}
	struct weft_session_record_hdr *h = (struct weft_session_record_hdr *)r.b;
	h->magic ^= 1;
	expect_bad(&r);
	h->magic ^= 1;
	h->reserved = 1;
	expect_bad(&r);
	h->reserved = 0;
	h->max_inactive_s = 0;
	expect_bad(&r);
	h->max_inactive_s = WEFT_SESSION_MAX_MAX_INACTIVE_S + 1;
	expect_bad(&r);
	h->max_inactive_s = MI;
	h->attrs = 3; /* fewer attributes than said */
	expect_bad(&r);
	h->attrs = 1; /* more than said */
	expect_bad(&r);
	h->attrs = 2;
	assert_int_equal(weft_sess_decode(r.b, r.len, &d), 0);
	rec_raw(&r, "x", 1); /* trailing garbage */
	h = (struct weft_session_record_hdr *)r.b;
	expect_bad(&r);
	free(r.b);

	/* a value_len past the end (huge: no wrap-around) */
	rec_hdr(&r, MI, T0, T0, 1);
	struct weft_session_attr_hdr a = {.name_len = 1, .value_len = UINT32_MAX};
	rec_raw(&r, &a, sizeof(a));
	rec_raw(&r, "n", 1);
	expect_bad(&r);
	free(r.b);
	/* names: empty, too long, with a NUL */
	rec_hdr(&r, MI, T0, T0, 1);
	rec_attr(&r, "", "v");
	expect_bad(&r);
	free(r.b);
	char longname[WEFT_SESSION_MAX_ATTR_NAME + 2];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	rec_hdr(&r, MI, T0, T0, 1);
	rec_attr(&r, longname, "v");
	expect_bad(&r);
	free(r.b);
	longname[WEFT_SESSION_MAX_ATTR_NAME] = 0; /* exactly 250: fine */
	rec_hdr(&r, MI, T0, T0, 1);
	rec_attr(&r, longname, "v");
	assert_int_equal(weft_sess_decode(r.b, r.len, &d), 0);
	free(r.b);
	rec_hdr(&r, MI, T0, T0, 1);
	struct weft_session_attr_hdr an = {.name_len = 3, .value_len = 0};
	rec_raw(&r, &an, sizeof(an));
	rec_raw(&r, "a\0b", 3);
	expect_bad(&r);
	free(r.b);
	/* larger than WEFT_SESSION_MAX_BYTES */
	assert_int_equal(weft_sess_decode((const uint8_t *)"", WEFT_SESSION_MAX_BYTES + 1, &d),
			 -EINVAL);
}

/* --- request checks ------------------------------------------------------------ */

static void check(uint8_t action, uint16_t attr_len, uint32_t mi, const char *v, uint16_t want)
{
	struct weft_x_session x = xs(action, attr_len, mi);
	assert_int_equal(weft_sess_check_request(&x, (const uint8_t *)v, v ? (uint32_t)strlen(v) : 0),
			 want);
}

static void test_request_checks(void **state)
{
	(void)state;
	const uint16_t OK = WEFT_ST_OK, BAD = WEFT_ST_BAD_REQUEST;
	check(WEFT_SESS_CREATE, 0, 0, NULL, OK);
	check(WEFT_SESS_CREATE, 0, WEFT_SESSION_MAX_MAX_INACTIVE_S, NULL, OK);
	check(WEFT_SESS_CREATE, 0, WEFT_SESSION_MAX_MAX_INACTIVE_S + 1, NULL, BAD);
	check(WEFT_SESS_CREATE, 0, 0, "v", BAD);
	check(0, 0, 0, NULL, BAD);
	check(WEFT_SESS__COUNT, 0, 0, NULL, BAD);
	struct weft_x_session x = xs(WEFT_SESS_INFO, 0, 0);
	x.reserved = 1;
	assert_int_equal(weft_sess_check_request(&x, NULL, 0), BAD);
	check(WEFT_SESS_GET, 0, 0, "name", OK);
	check(WEFT_SESS_GET, 0, 0, NULL, BAD);         /* no name */
	check(WEFT_SESS_GET, 1, 0, "name", BAD);       /* attr_len is SET's */
	check(WEFT_SESS_GET, 0, 5, "name", BAD);       /* max_inactive is CREATE/TOUCH's */
	check(WEFT_SESS_REMOVE, 0, 0, "n", OK);
	struct weft_x_session g = xs(WEFT_SESS_GET, 0, 0);
	assert_int_equal(weft_sess_check_request(&g, (const uint8_t *)"a\0b", 3), BAD);
	uint8_t big[WEFT_SESSION_MAX_ATTR_NAME + 1];
	memset(big, 'x', sizeof(big));
	assert_int_equal(weft_sess_check_request(&g, big, sizeof(big)), BAD);
	assert_int_equal(weft_sess_check_request(&g, big, sizeof(big) - 1), OK);
	check(WEFT_SESS_SET, 1, 0, "kv", OK);
	check(WEFT_SESS_SET, 2, 0, "kv", OK);         /* empty value */
	check(WEFT_SESS_SET, 3, 0, "kv", BAD);        /* name past the value */
	check(WEFT_SESS_SET, 0, 0, "kv", BAD);        /* empty name */
	check(WEFT_SESS_TOUCH, 0, 60, NULL, OK);
	check(WEFT_SESS_TOUCH, 0, 0, "v", BAD);
	check(WEFT_SESS_LIST, 0, 0, "v", BAD);
	check(WEFT_SESS_LOAD, 0, 0, NULL, OK);
	check(WEFT_SESS_INVALIDATE, 0, 0, NULL, OK);
	check(WEFT_SESS_EXPIRE, 0, 1, NULL, BAD);
	check(WEFT_SESS_INFO, 0, 0, "v", BAD);
}

/* --- actions ---------------------------------------------------------------------- */

static void test_create(void **state)
{
	(void)state;
	struct weft_sess_result res;
	apply(NULL, WEFT_SESS_CREATE, NULL, 0, 0, T0, &res);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_int_equal(res.event, WEFT_SESSION_CREATED);
	assert_null(res.answer); /* at-most-once answers carry nothing */
	struct weft_sess_record d;
	new_record(&res, &d);
	assert_int_equal(d.hdr.max_inactive_s, WEFT_SESSION_DEFAULT_MAX_INACTIVE_S);
	assert_int_equal(d.hdr.created_ms, T0);
	assert_int_equal(d.hdr.access_ms, T0);
	assert_int_equal(d.hdr.attrs, 0);
	weft_sess_result_free(&res);
	apply(NULL, WEFT_SESS_CREATE, NULL, 0, 90, T0, &res);
	new_record(&res, &d);
	assert_int_equal(d.hdr.max_inactive_s, 90);
	weft_sess_result_free(&res);
	/* the id is taken */
	struct rec r = sample();
	apply(&r, WEFT_SESS_CREATE, NULL, 0, 0, T0 + 1, &res);
	assert_int_equal(res.status, WEFT_ST_EXISTS);
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
	assert_int_equal(res.event, 0);
	free(r.b);
}

static void test_no_session(void **state)
{
	(void)state;
	static const struct {
		uint8_t a;
		const char *v;
		uint16_t al;
	} ops[] = {{WEFT_SESS_GET, "a", 0},   {WEFT_SESS_SET, "av", 1}, {WEFT_SESS_REMOVE, "a", 0},
		   {WEFT_SESS_LIST, NULL, 0}, {WEFT_SESS_LOAD, NULL, 0}, {WEFT_SESS_TOUCH, NULL, 0},
		   {WEFT_SESS_INVALIDATE, NULL, 0}, {WEFT_SESS_EXPIRE, NULL, 0},
		   {WEFT_SESS_INFO, NULL, 0}};
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct weft_sess_result res;
		apply(NULL, ops[i].a, ops[i].v, ops[i].al, 0, T0, &res);
		assert_int_equal(res.status, WEFT_ST_NO_SESSION);
		assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
		assert_null(res.answer);
	}
}

static void test_set_get_remove(void **state)
{
	(void)state;
	struct rec r = sample();
	struct weft_sess_result res;
	struct weft_sess_record d;
	struct weft_x_session_info info;
	uint32_t len;
	/* SET a new attribute: appended, access_ms = now, info as before */
	apply(&r, WEFT_SESS_SET, "cccvalue", 3, 0, T0 + 5, &res);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_false(res.slack_write);
	new_record(&res, &d);
	assert_int_equal(d.hdr.attrs, 3);
	assert_int_equal(d.hdr.access_ms, T0 + 5);
	assert_memory_equal(attr_value(&d, "ccc", &len), "value", 5);
	info_of(&res, &info);
	assert_int_equal(info.attrs, 2);
	assert_int_equal(info.idle_ms, 5);
	assert_int_equal(info.access_ms, T0);
	assert_int_equal(info.bytes, r.len);
	assert_int_equal(res.answer_len, sizeof(info));
	free(r.b);
	r.b = res.record;
	r.len = res.record_len;
	res.record = NULL;
	weft_sess_result_free(&res);
	/* SET an existing one: replaced in place, names stay unique */
	apply(&r, WEFT_SESS_SET, "anew", 1, 0, T0 + 6, &res);
	new_record(&res, &d);
	assert_int_equal(d.hdr.attrs, 3);
	assert_memory_equal(attr_value(&d, "a", &len), "new", 3);
	uint32_t pos = 0;
	struct weft_sess_attr first;
	assert_true(weft_sess_attr_next(&d, &pos, &first));
	assert_int_equal(first.name_len, 1);
	assert_memory_equal(first.name, "a", 1);
	free(r.b);
	r.b = res.record;
	r.len = res.record_len;
	res.record = NULL;
	weft_sess_result_free(&res);
	/* GET */
	apply(&r, WEFT_SESS_GET, "ccc", 0, 0, T0 + 7, &res);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
	assert_int_equal(res.answer_len, sizeof(info) + 5);
	assert_memory_equal(res.answer + sizeof(info), "value", 5);
	weft_sess_result_free(&res);
	apply(&r, WEFT_SESS_GET, "zz", 0, 0, T0 + 7, &res);
	assert_int_equal(res.status, WEFT_ST_NOT_FOUND);
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
	assert_null(res.answer);
	/* REMOVE */
	apply(&r, WEFT_SESS_REMOVE, "bb", 0, 0, T0 + 8, &res);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_null(res.answer);
	new_record(&res, &d);
	assert_int_equal(d.hdr.attrs, 2);
	assert_int_equal(d.hdr.access_ms, T0 + 8);
	assert_null(attr_value(&d, "bb", &len));
	assert_non_null(attr_value(&d, "a", &len));
	weft_sess_result_free(&res);
	apply(&r, WEFT_SESS_REMOVE, "nope", 0, 0, T0 + 8, &res);
	assert_int_equal(res.status, WEFT_ST_NOT_FOUND);
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
	free(r.b);
}

static void test_list_load(void **state)
{
	(void)state;
	struct rec r = sample();
	struct weft_sess_result res;
	struct weft_x_session_info info;
	apply(&r, WEFT_SESS_LIST, NULL, 0, 0, T0 + 1, &res);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
	info_of(&res, &info);
	assert_int_equal(info.attrs, 2);
	/* [hdr{1,1}]"a" [hdr{2,2}]"bb": sizes kept, no value bytes */
	const uint8_t *p = res.answer + sizeof(info);
	assert_int_equal(res.answer_len, sizeof(info) + 6 + 1 + 6 + 2);
	struct weft_session_attr_hdr h;
	memcpy(&h, p, sizeof(h));
	assert_int_equal(h.name_len, 1);
	assert_int_equal(h.value_len, 1);
	assert_memory_equal(p + 6, "a", 1);
	memcpy(&h, p + 7, sizeof(h));
	assert_int_equal(h.name_len, 2);
	assert_int_equal(h.value_len, 2);
	assert_memory_equal(p + 13, "bb", 2);
	weft_sess_result_free(&res);
	/* LOAD: the attribute list as stored */
	apply(&r, WEFT_SESS_LOAD, NULL, 0, 0, T0 + 1, &res);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_int_equal(res.answer_len, sizeof(info) + r.len - sizeof(struct weft_session_record_hdr));
	assert_memory_equal(res.answer + sizeof(info), r.b + sizeof(struct weft_session_record_hdr),
			    res.answer_len - sizeof(info));
	weft_sess_result_free(&res);
	free(r.b);
}

static void test_touch_info_invalidate(void **state)
{
	(void)state;
	struct rec r = sample();
	struct weft_sess_result res;
	struct weft_sess_record d;
	struct weft_x_session_info info;
	apply(&r, WEFT_SESS_TOUCH, NULL, 0, 0, T0 + 10, &res);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED); /* within the slack */
	info_of(&res, &info);
	weft_sess_result_free(&res);
	apply(&r, WEFT_SESS_TOUCH, NULL, 0, MI, T0 + 10, &res); /* same timeout: a read */
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
	weft_sess_result_free(&res);
	apply(&r, WEFT_SESS_TOUCH, NULL, 0, 30, T0 + 10, &res);
	new_record(&res, &d);
	assert_int_equal(d.hdr.max_inactive_s, 30);
	assert_int_equal(d.hdr.access_ms, T0 + 10);
	assert_false(res.slack_write);
	weft_sess_result_free(&res);
	/* INFO: no access, even when stale */
	apply(&r, WEFT_SESS_INFO, NULL, 0, 0, T0 + SLACK + 1000, &res);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
	info_of(&res, &info);
	assert_int_equal(info.created_ms, T0);
	assert_int_equal(info.idle_ms, SLACK + 1000);
	assert_int_equal(info.max_inactive_s, MI);
	assert_int_equal(info.reserved, 0);
	weft_sess_result_free(&res);
	apply(&r, WEFT_SESS_INVALIDATE, NULL, 0, 0, T0 + 1, &res);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_int_equal(res.outcome, WEFT_SESS_DELETE);
	assert_int_equal(res.event, WEFT_SESSION_INVALIDATED);
	assert_null(res.answer);
	assert_null(res.record);
	free(r.b);
}

/* --- limits ------------------------------------------------------------------------- */

static void test_value_too_large(void **state)
{
	(void)state;
	struct rec r = sample();
	uint32_t room = WEFT_SESSION_MAX_BYTES - r.len - (uint32_t)sizeof(struct weft_session_attr_hdr);
	/* name "big" + value filling the record to the byte: fits */
	uint32_t vl = room - 3;
	uint8_t *v = malloc(room + 16);
	assert_non_null(v);
	memcpy(v, "big", 3);
	memset(v + 3, 'x', room + 13);
	struct weft_x_session x = xs(WEFT_SESS_SET, 3, 0);
	struct weft_sess_result res;
	assert_int_equal(weft_sess_apply(r.b, r.len, &x, v, 3 + vl, T0, &res), 0);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_int_equal(res.record_len, WEFT_SESSION_MAX_BYTES);
	weft_sess_result_free(&res);
	/* one byte more: refused, nothing changed */
	assert_int_equal(weft_sess_apply(r.b, r.len, &x, v, 3 + vl + 1, T0, &res), 0);
	assert_int_equal(res.status, WEFT_ST_VALUE_TOO_LARGE);
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
	assert_null(res.record);
	assert_null(res.answer);
	/* replacing "bb" (6 + 2 + 2 bytes) gives its room back: a value of
	 * room + 8 bytes fits exactly, one more does not */
	memcpy(v, "bb", 2);
	x.attr_len = 2;
	assert_int_equal(weft_sess_apply(r.b, r.len, &x, v, 2 + room + 8, T0, &res), 0);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_int_equal(res.record_len, WEFT_SESSION_MAX_BYTES);
	weft_sess_result_free(&res);
	assert_int_equal(weft_sess_apply(r.b, r.len, &x, v, 2 + room + 9, T0, &res), 0);
	assert_int_equal(res.status, WEFT_ST_VALUE_TOO_LARGE);
	free(v);
	free(r.b);
}

/* --- the slack rule and the deadline ------------------------------------------------ */

static void test_slack_rule(void **state)
{
	(void)state;
	static const struct {
		uint8_t a;
		const char *v;
	} reads[] = {{WEFT_SESS_GET, "a"}, {WEFT_SESS_GET, "missing"}, {WEFT_SESS_LIST, NULL},
		     {WEFT_SESS_LOAD, NULL}, {WEFT_SESS_TOUCH, NULL}, {WEFT_SESS_REMOVE, "missing"}};
	struct rec r = sample();
	for (unsigned i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		struct weft_sess_result res;
		/* exactly the slack old: not older than it */
		apply(&r, reads[i].a, reads[i].v, 0, 0, T0 + SLACK, &res);
		assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
		assert_false(res.slack_write);
		weft_sess_result_free(&res);
		/* older: rewritten with access_ms = now, and nothing else */
		apply(&r, reads[i].a, reads[i].v, 0, 0, T0 + SLACK + 1, &res);
		struct weft_sess_record d;
		new_record(&res, &d);
		assert_true(res.slack_write);
		assert_int_equal(d.hdr.access_ms, T0 + SLACK + 1);
		assert_int_equal(res.record_len, r.len);
		assert_memory_equal(res.record + 24, r.b + 24, r.len - 24); /* after access_ms */
		assert_memory_equal(res.record, r.b, 16);
		weft_sess_result_free(&res);
	}
	/* a clock behind access_ms is no access to refresh */
	struct weft_sess_result res;
	apply(&r, WEFT_SESS_GET, "a", 0, 0, T0 - 5, &res);
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
	struct weft_x_session_info info;
	info_of(&res, &info);
	assert_int_equal(info.idle_ms, 0);
	weft_sess_result_free(&res);
	/* a short timeout's slack is clamped to 1 s, a long one's to 60 s */
	assert_int_equal(weft_session_slack_ms(1), 1000);
	assert_int_equal(weft_session_slack_ms(80), 10000);
	assert_int_equal(weft_session_slack_ms(WEFT_SESSION_MAX_MAX_INACTIVE_S), 60000);
	free(r.b);
}

static void test_expire_edge(void **state)
{
	(void)state;
	struct rec r = sample();
	uint64_t deadline = T0 + SLACK + MI * 1000ull;
	struct weft_sess_result res;
	apply(&r, WEFT_SESS_EXPIRE, NULL, 0, 0, deadline - 1, &res);
	assert_int_equal(res.status, WEFT_ST_EXISTS);
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
	assert_int_equal(res.event, 0);
	apply(&r, WEFT_SESS_EXPIRE, NULL, 0, 0, deadline, &res);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_int_equal(res.outcome, WEFT_SESS_DELETE);
	assert_int_equal(res.event, WEFT_SESSION_EXPIRED);
	assert_null(res.answer);
	/* a client's op one ms before the deadline works (and refreshes) */
	apply(&r, WEFT_SESS_GET, "a", 0, 0, deadline - 1, &res);
	assert_int_equal(res.status, WEFT_ST_OK);
	assert_true(res.slack_write);
	weft_sess_result_free(&res);
	/* at the deadline it finds the session gone, and removes it */
	apply(&r, WEFT_SESS_GET, "a", 0, 0, deadline, &res);
	assert_int_equal(res.status, WEFT_ST_NO_SESSION);
	assert_int_equal(res.outcome, WEFT_SESS_DELETE);
	assert_int_equal(res.event, WEFT_SESSION_EXPIRED);
	assert_null(res.answer);
	/* CREATE on a dead id still finds it taken */
	apply(&r, WEFT_SESS_CREATE, NULL, 0, 0, deadline, &res);
	assert_int_equal(res.status, WEFT_ST_EXISTS);
	assert_int_equal(res.outcome, WEFT_SESS_UNCHANGED);
	free(r.b);
}

static void test_record_new(void **state)
{
	(void)state;
	errno = 0;
	assert_null(weft_sess_record_new(0, T0, T0));
	assert_int_equal(errno, EINVAL);
	uint8_t *p = weft_sess_record_new(5, T0, T0 + 1);
	assert_non_null(p);
	struct weft_sess_record d;
	assert_int_equal(weft_sess_decode(p, sizeof(struct weft_session_record_hdr), &d), 0);
	assert_int_equal(d.hdr.access_ms, T0 + 1);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_valid),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_request_checks),
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_no_session),
		cmocka_unit_test(test_set_get_remove),
		cmocka_unit_test(test_list_load),
		cmocka_unit_test(test_touch_info_invalidate),
		cmocka_unit_test(test_value_too_large),
		cmocka_unit_test(test_slack_rule),
		cmocka_unit_test(test_expire_edge),
		cmocka_unit_test(test_record_new),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
