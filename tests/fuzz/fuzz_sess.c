/*
 * fuzz_sess.c — libFuzzer target for the session layer (sess/): the record
 * codec, attribute iteration, the request check and the action state
 * machine, on hostile records, extras, values and clocks; and libweft's
 * SESSION answer decoders (client/session.c: weft_session_info_decode,
 * weft_session_attrs_decode) on what apply answers and on raw bytes.
 *
 * Input layout (little-endian; a short input reads missing bytes as 0):
 *   [0..8)    now_ms, the clock weft_sess_apply runs at
 *   [8..16)   struct weft_x_session, the request extras (raw)
 *   [16..20)  rec_len: 0xffffffff = no existing record (NULL), else the
 *             existing record is the next min(rec_len, what is left) bytes
 *   [...]     the record, then everything left is the request value.
 * tests/fuzz/gen_corpus_sess.py writes corpus_sess/ in this layout.
 *
 * Asserted (abort on violation):
 *  - a record that decodes has bytes == its length, attrs_len + header ==
 *    bytes, and its attributes (hdr.attrs of them, valid names) sum
 *    exactly to attrs_len;
 *  - weft_sess_check_request answers OK or BAD_REQUEST, and apply answers
 *    BAD_REQUEST whenever it does;
 *  - apply returns 0 or -ENOMEM, a valid wire status and outcome; a STORE
 *    record is at most WEFT_SESSION_MAX_BYTES and re-decodes; an answer
 *    only comes with status OK and holds its extras; a stored record is
 *    not corrupt to a following INFO (never INTERNAL);
 *  - libweft accepts what sess produces: a decoded record's attribute
 *    list, an OK answer's info extras, and LIST/LOAD answers' lists, with
 *    the count and sizes they claim; on raw bytes its decoders return 0
 *    or -WEFT_ST_PROTOCOL.
 * Every result is freed (ASan's leak check runs at exit).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "sess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static uint64_t take_le(const uint8_t **p, size_t *left, size_t bytes)
{
	uint64_t v = 0;
	size_t n = *left < bytes ? *left : bytes;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)(*p)[i] << (8 * i);
	*p += n;
	*left -= n;
	return v;
}

/* libweft's decoder on an attribute list sess made: it must accept it,
 * with count attributes. */
static void client_attrs_checked(const uint8_t *p, uint32_t len, uint32_t count, bool values)
{
	struct weft_session_attr *a = NULL;
	size_t n = 99;
	int rc = weft_session_attrs_decode(p, len, count, values, &a, &n);
	check(rc == 0 || rc == -WEFT_ST_IO);
	if (rc == 0)
		check(n == count && (count == 0) == (a == NULL));
	free(a);
}

/* An OK answer as libweft reads it: info extras, then (LIST, LOAD) the
 * attribute list. */
static void client_answer_checked(const struct weft_sess_result *res, uint8_t action)
{
	if (res->answer == NULL || res->answer_extras_len == 0)
		return;
	check(res->answer_extras_len == sizeof(struct weft_x_session_info));
	struct weft_resp r = {
		.status = res->status,
		.extras_len = res->answer_extras_len,
		.msg_len = res->answer_len,
		.head_len = res->answer_extras_len,
		.payload = res->answer,
	};
	struct weft_session_info info;
	check(weft_session_info_decode(&r, &info) == 0);
	if (action == WEFT_SESS_LIST || action == WEFT_SESS_LOAD)
		client_attrs_checked(res->answer + res->answer_extras_len,
				     res->answer_len - res->answer_extras_len, info.attrs,
				     action == WEFT_SESS_LOAD);
}

/* libweft's decoders on raw bytes: an info answer whose payload is the
 * value (extras at its end), and the value as an attribute list. */
static void client_raw_checked(const struct weft_x_session *x, const uint8_t *value,
			       uint32_t value_len)
{
	if (value_len >= sizeof(struct weft_x_session_info)) {
		uint8_t *copy = malloc(value_len);
		check(copy != NULL);
		memcpy(copy, value, value_len);
		struct weft_resp r = {
			.extras_len = sizeof(struct weft_x_session_info),
			.msg_len = value_len,
			.head_len = (uint32_t)sizeof(struct weft_x_session_info) + (x->attr_len % 64u),
			.payload = copy,
		};
		if (r.head_len > r.msg_len)
			r.head_len = r.msg_len;
		int rc = weft_session_info_decode(&r, NULL);
		check(rc == 0 || rc == -WEFT_ST_PROTOCOL);
		free(copy);
	}
	struct weft_session_attr *a = NULL;
	size_t n = 0;
	int rc = weft_session_attrs_decode(value, value_len, x->max_inactive_s % 4096u,
					   (x->reserved & 1u) != 0, &a, &n);
	check(rc == 0 || rc == -WEFT_ST_PROTOCOL || rc == -WEFT_ST_IO);
	if (rc == 0)
		check(n == x->max_inactive_s % 4096u);
	free(a);
}

/* Decodes rec and checks the codec's invariants; true when it decoded. */
static bool decode_checked(const uint8_t *rec, uint32_t len)
{
	struct weft_sess_record r;
	int rc = weft_sess_decode(rec, len, &r);
	check(rc == 0 || rc == -EINVAL);
	if (rc != 0)
		return false;
	check(r.bytes == len && len <= WEFT_SESSION_MAX_BYTES);
	check((uint64_t)r.attrs_len + sizeof(struct weft_session_record_hdr) == r.bytes);
	uint64_t sum = 0;
	uint32_t count = 0, pos = 0;
	struct weft_sess_attr a;
	while (count <= r.hdr.attrs && weft_sess_attr_next(&r, &pos, &a)) {
		check(weft_sess_name_ok(a.name, a.name_len));
		check(a.name >= r.attrs && a.value >= a.name + a.name_len);
		sum += sizeof(struct weft_session_attr_hdr) + a.name_len + a.value_len;
		check(sum <= r.attrs_len);
		count++;
	}
	check(count == r.hdr.attrs && sum == r.attrs_len);
	client_attrs_checked(r.attrs, r.attrs_len, r.hdr.attrs, true);
	struct weft_x_session_info info;
	weft_sess_info(&r, r.hdr.access_ms, &info);
	check(info.attrs == r.hdr.attrs && info.bytes == r.bytes && info.idle_ms == 0);
	return true;
}

static bool status_ok(uint16_t st)
{
	switch (st) {
	case WEFT_ST_OK:
	case WEFT_ST_BAD_REQUEST:
	case WEFT_ST_NO_SESSION:
	case WEFT_ST_EXISTS:
	case WEFT_ST_NOT_FOUND:
	case WEFT_ST_VALUE_TOO_LARGE:
	case WEFT_ST_INTERNAL:
	case WEFT_ST_NO_MEMORY:
		return true;
	default:
		return false;
	}
}

static void apply_checked(const uint8_t *rec, uint32_t rec_len, const struct weft_x_session *x,
			  const uint8_t *value, uint32_t value_len, uint64_t now,
			  uint16_t checked)
{
	struct weft_sess_result res;
	int rc = weft_sess_apply(rec, rec_len, x, value, value_len, now, &res);
	check(rc == 0 || rc == -ENOMEM);
	check(status_ok(res.status));
	check(res.outcome <= WEFT_SESS_DELETE);
	check(res.event <= WEFT_SESSION_INVALIDATED);
	if (checked == WEFT_ST_BAD_REQUEST)
		check(res.status == WEFT_ST_BAD_REQUEST);
	if (res.answer != NULL)
		check(res.status == WEFT_ST_OK && res.answer_len >= res.answer_extras_len);
	client_answer_checked(&res, x->action);
	if (res.outcome == WEFT_SESS_STORE) {
		check(res.record != NULL);
		check(res.record_len <= WEFT_SESSION_MAX_BYTES);
		check(decode_checked(res.record, res.record_len));
		/* The stored record is what the next op reads: never corrupt. */
		struct weft_x_session info_x = {.action = WEFT_SESS_INFO};
		struct weft_sess_result again;
		rc = weft_sess_apply(res.record, res.record_len, &info_x, NULL, 0, now, &again);
		check(rc == 0 || rc == -ENOMEM);
		check(again.status != WEFT_ST_INTERNAL && status_ok(again.status));
		weft_sess_result_free(&again);
	}
	weft_sess_result_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t left = size;
	uint64_t now = take_le(&p, &left, 8);
	struct weft_x_session x;
	memset(&x, 0, sizeof(x));
	size_t xn = left < sizeof(x) ? left : sizeof(x);
	memcpy(&x, p, xn);
	p += xn;
	left -= xn;
	uint32_t rec_len = (uint32_t)take_le(&p, &left, 4);
	const uint8_t *rec = NULL;
	if (rec_len != UINT32_MAX) {
		if (rec_len > left)
			rec_len = (uint32_t)left;
		rec = p;
		p += rec_len;
		left -= rec_len;
	} else {
		rec_len = 0;
	}
	const uint8_t *value = left > 0 ? p : NULL;
	uint32_t value_len = (uint32_t)left;

	if (rec != NULL)
		decode_checked(rec, rec_len);
	decode_checked(value, value_len); /* the value as a record too */
	client_raw_checked(&x, value, value_len);
	uint16_t checked = weft_sess_check_request(&x, value, value_len);
	check(checked == WEFT_ST_OK || checked == WEFT_ST_BAD_REQUEST);
	apply_checked(rec, rec_len, &x, value, value_len, now, checked);
	return 0;
}
