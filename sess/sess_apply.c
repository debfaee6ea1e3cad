/*
 * sess_apply.c — one SESSION action on one record (sess.h): request checks,
 * the new record, the answer, the event, and the slack rule.
 *
 * Invariants:
 *  - nothing is changed on an error status (outcome UNCHANGED, no record),
 *    but for the removal of a session found past its deadline;
 *  - a record made here is valid (weft_sess_decode) and at most
 *    WEFT_SESSION_MAX_BYTES; SET replaces a same-named attribute in place,
 *    so names stay unique;
 *  - write actions set access_ms = now; reads (GET, LIST, LOAD, TOUCH with
 *    no new timeout, a REMOVE that found nothing) set it only when it is
 *    older than the slack; INFO, CREATE's EXISTS and EXPIRE's EXISTS never.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sess.h"

uint16_t weft_sess_check_request(const struct weft_x_session *x, const uint8_t *value,
				 uint32_t value_len)
{
	uint8_t a = x->action;
	if (x->reserved != 0 || a == 0 || a >= WEFT_SESS__COUNT)
		return WEFT_ST_BAD_REQUEST;
	if (a != WEFT_SESS_SET && x->attr_len != 0)
		return WEFT_ST_BAD_REQUEST;
	if ((a != WEFT_SESS_CREATE && a != WEFT_SESS_TOUCH && x->max_inactive_s != 0) ||
	    x->max_inactive_s > WEFT_SESSION_MAX_MAX_INACTIVE_S)
		return WEFT_ST_BAD_REQUEST;
	switch (a) {
	case WEFT_SESS_GET:
	case WEFT_SESS_REMOVE:
		return weft_sess_name_ok(value, value_len) ? WEFT_ST_OK : WEFT_ST_BAD_REQUEST;
	case WEFT_SESS_SET:
		return x->attr_len <= value_len && weft_sess_name_ok(value, x->attr_len)
			       ? WEFT_ST_OK
			       : WEFT_ST_BAD_REQUEST;
	default:
		return value_len == 0 ? WEFT_ST_OK : WEFT_ST_BAD_REQUEST;
	}
}

void weft_sess_result_free(struct weft_sess_result *r)
{
	free(r->record);
	free(r->answer);
	r->record = NULL;
	r->answer = NULL;
}

/* The attribute named name, if any. */
static bool find(const struct weft_sess_record *r, const uint8_t *name, uint32_t len,
		 struct weft_sess_attr *out)
{
	uint32_t pos = 0;
	while (weft_sess_attr_next(r, &pos, out))
		if (out->name_len == len && memcmp(out->name, name, len) == 0)
			return true;
	return false;
}

static uint8_t *put_attr(uint8_t *w, const struct weft_sess_attr *a, bool with_value)
{
	struct weft_session_attr_hdr h = {.name_len = a->name_len, .value_len = a->value_len};
	memcpy(w, &h, sizeof(h));
	w += sizeof(h);
	memcpy(w, a->name, a->name_len);
	w += a->name_len;
	if (with_value && a->value_len) {
		memcpy(w, a->value, a->value_len);
		w += a->value_len;
	}
	return w;
}

/* A new record: header nh, r's attributes with old (an attribute of r, or
 * NULL) replaced by add (NULL: removed), or add appended when old is NULL.
 * 0, -E2BIG (past WEFT_SESSION_MAX_BYTES), -ENOMEM. */
static int rebuild(const struct weft_sess_record *r, struct weft_session_record_hdr nh,
		   const struct weft_sess_attr *old, const struct weft_sess_attr *add,
		   struct weft_sess_result *out)
{
	uint64_t size = r->bytes;
	if (old != NULL)
		size -= sizeof(struct weft_session_attr_hdr) + old->name_len + old->value_len;
	if (add != NULL)
		size += sizeof(struct weft_session_attr_hdr) + add->name_len + add->value_len;
	if (size > WEFT_SESSION_MAX_BYTES)
		return -E2BIG;
	nh.attrs = r->hdr.attrs - (old != NULL) + (add != NULL);
	uint8_t *rec = malloc(size);
	if (rec == NULL)
		return -ENOMEM;
	uint8_t *w = rec;
	memcpy(w, &nh, sizeof(nh));
	w += sizeof(nh);
	uint32_t pos = 0;
	struct weft_sess_attr a;
	while (weft_sess_attr_next(r, &pos, &a)) {
		if (old != NULL && a.name == old->name) {
			if (add != NULL)
				w = put_attr(w, add, true);
			continue;
		}
		w = put_attr(w, &a, true);
	}
	if (old == NULL && add != NULL)
		w = put_attr(w, add, true);
	out->record = rec;
	out->record_len = (uint32_t)size;
	out->outcome = WEFT_SESS_STORE;
	return 0;
}

/* The answer payload: info, then vlen bytes written by the caller at
 * *value. -ENOMEM. */
static int answer_new(const struct weft_sess_record *r, uint64_t now, uint64_t vlen,
		      struct weft_sess_result *out, uint8_t **value)
{
	struct weft_x_session_info info;
	weft_sess_info(r, now, &info);
	out->answer = malloc(sizeof(info) + vlen);
	if (out->answer == NULL)
		return -ENOMEM;
	memcpy(out->answer, &info, sizeof(info));
	out->answer_len = (uint32_t)(sizeof(info) + vlen);
	out->answer_extras_len = sizeof(info);
	*value = out->answer + sizeof(info);
	return 0;
}

/* A read's access: the record again with access_ms = now, only when its
 * access_ms is older than the slack. */
static int read_access(const struct weft_sess_record *r, uint64_t now,
		       struct weft_sess_result *out)
{
	uint64_t at = r->hdr.access_ms;
	if (now <= at || now - at <= weft_session_slack_ms(r->hdr.max_inactive_s))
		return 0;
	struct weft_session_record_hdr nh = r->hdr;
	nh.access_ms = now;
	out->slack_write = true;
	return rebuild(r, nh, NULL, NULL, out);
}

static int create(const struct weft_x_session *x, uint64_t now, struct weft_sess_result *out)
{
	uint32_t mi = x->max_inactive_s ? x->max_inactive_s : WEFT_SESSION_DEFAULT_MAX_INACTIVE_S;
	out->record = weft_sess_record_new(mi, now, now);
	if (out->record == NULL)
		return -ENOMEM;
	out->record_len = sizeof(struct weft_session_record_hdr);
	out->outcome = WEFT_SESS_STORE;
	out->event = WEFT_SESSION_CREATED;
	return 0;
}

static int list(const struct weft_sess_record *r, uint64_t now, bool values,
		struct weft_sess_result *out)
{
	uint64_t size = 0;
	uint32_t pos = 0;
	struct weft_sess_attr a;
	if (values) {
		size = r->attrs_len;
	} else {
		while (weft_sess_attr_next(r, &pos, &a))
			size += sizeof(struct weft_session_attr_hdr) + a.name_len;
	}
	uint8_t *w;
	if (answer_new(r, now, size, out, &w) != 0)
		return -ENOMEM;
	pos = 0;
	while (weft_sess_attr_next(r, &pos, &a))
		w = put_attr(w, &a, values);
	return read_access(r, now, out);
}

/* The actions on a live session (not past its deadline). */
static int act(const struct weft_sess_record *r, const struct weft_x_session *x,
	       const uint8_t *value, uint32_t value_len, uint64_t now,
	       struct weft_sess_result *out)
{
	struct weft_session_record_hdr nh = r->hdr;
	nh.access_ms = now;
	struct weft_sess_attr a;
	uint8_t *w;
	int rc;
	switch (x->action) {
	case WEFT_SESS_INVALIDATE:
		out->outcome = WEFT_SESS_DELETE;
		out->event = WEFT_SESSION_INVALIDATED;
		return 0;
	case WEFT_SESS_INFO:
		return answer_new(r, now, 0, out, &w);
	case WEFT_SESS_GET:
		if (!find(r, value, value_len, &a)) {
			out->status = WEFT_ST_NOT_FOUND;
			return read_access(r, now, out);
		}
		if (answer_new(r, now, a.value_len, out, &w) != 0)
			return -ENOMEM;
		if (a.value_len)
			memcpy(w, a.value, a.value_len);
		return read_access(r, now, out);
	case WEFT_SESS_LIST:
	case WEFT_SESS_LOAD:
		return list(r, now, x->action == WEFT_SESS_LOAD, out);
	case WEFT_SESS_TOUCH:
		if (answer_new(r, now, 0, out, &w) != 0)
			return -ENOMEM;
		if (x->max_inactive_s == 0 || x->max_inactive_s == r->hdr.max_inactive_s)
			return read_access(r, now, out);
		nh.max_inactive_s = x->max_inactive_s;
		return rebuild(r, nh, NULL, NULL, out);
	case WEFT_SESS_REMOVE:
		if (!find(r, value, value_len, &a)) {
			out->status = WEFT_ST_NOT_FOUND;
			return read_access(r, now, out);
		}
		return rebuild(r, nh, &a, NULL, out);
	case WEFT_SESS_SET: {
		struct weft_sess_attr add = {.name = value, .name_len = x->attr_len,
					     .value = value + x->attr_len,
					     .value_len = value_len - x->attr_len};
		bool had = find(r, value, x->attr_len, &a);
		rc = rebuild(r, nh, had ? &a : NULL, &add, out);
		if (rc == -E2BIG) {
			out->status = WEFT_ST_VALUE_TOO_LARGE;
			return 0;
		}
		if (rc == 0 && answer_new(r, now, 0, out, &w) != 0)
			return -ENOMEM;
		return rc;
	}
	default:
		out->status = WEFT_ST_BAD_REQUEST; /* not reached: checked first */
		return 0;
	}
}

int weft_sess_apply(const uint8_t *rec, uint32_t rec_len, const struct weft_x_session *x,
		    const uint8_t *value, uint32_t value_len, uint64_t now_ms,
		    struct weft_sess_result *out)
{
	memset(out, 0, sizeof(*out));
	out->status = weft_sess_check_request(x, value, value_len);
	if (out->status != WEFT_ST_OK)
		return 0;
	int rc = 0;
	struct weft_sess_record r;
	if (rec == NULL) {
		if (x->action == WEFT_SESS_CREATE)
			rc = create(x, now_ms, out);
		else
			out->status = WEFT_ST_NO_SESSION;
	} else if (weft_sess_decode(rec, rec_len, &r) != 0) {
		out->status = WEFT_ST_INTERNAL;
	} else if (x->action == WEFT_SESS_CREATE) {
		out->status = WEFT_ST_EXISTS;
	} else if (now_ms >= weft_sess_deadline_ms(&r.hdr)) {
		/* Past its deadline: gone, whoever asks first (EXPIRE or a client). */
		out->status = x->action == WEFT_SESS_EXPIRE ? WEFT_ST_OK : WEFT_ST_NO_SESSION;
		out->outcome = WEFT_SESS_DELETE;
		out->event = WEFT_SESSION_EXPIRED;
	} else if (x->action == WEFT_SESS_EXPIRE) {
		out->status = WEFT_ST_EXISTS;
	} else {
		rc = act(&r, x, value, value_len, now_ms, out);
	}
	if (rc != 0) {
		weft_sess_result_free(out);
		memset(out, 0, sizeof(*out));
		out->status = WEFT_ST_NO_MEMORY;
		return -ENOMEM;
	}
	return 0;
}
