/*
 * sess_record.c — the session record codec (sess.h): validation of a
 * stored record, attribute iteration, the deadline and the info extras.
 *
 * Invariants: every length read from a record is checked against the
 * bytes left before it is used (sizes summed in 64 bits), so a corrupt or
 * truncated record is -EINVAL, never a read past its end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sess.h"

bool weft_sess_name_ok(const uint8_t *name, uint32_t len)
{
	return len >= 1 && len <= WEFT_SESSION_MAX_ATTR_NAME && memchr(name, 0, len) == NULL;
}

/* One attribute at p (left bytes); its total size in *size. */
static bool attr_at(const uint8_t *p, uint32_t left, struct weft_sess_attr *a, uint32_t *size)
{
	struct weft_session_attr_hdr h;
	if (left < sizeof(h))
		return false;
	memcpy(&h, p, sizeof(h));
	uint64_t total = (uint64_t)sizeof(h) + h.name_len + h.value_len;
	if (total > left)
		return false;
	a->name = p + sizeof(h);
	a->name_len = h.name_len;
	a->value = a->name + h.name_len;
	a->value_len = h.value_len;
	*size = (uint32_t)total;
	return true;
}

int weft_sess_decode(const uint8_t *rec, uint32_t len, struct weft_sess_record *out)
{
	if (rec == NULL || len < sizeof(out->hdr) || len > WEFT_SESSION_MAX_BYTES)
		return -EINVAL;
	memcpy(&out->hdr, rec, sizeof(out->hdr));
	const struct weft_session_record_hdr *h = &out->hdr;
	if (h->magic != WEFT_SESSION_RECORD_MAGIC || h->reserved != 0 || h->max_inactive_s == 0 ||
	    h->max_inactive_s > WEFT_SESSION_MAX_MAX_INACTIVE_S)
		return -EINVAL;
	out->attrs = rec + sizeof(*h);
	out->attrs_len = len - (uint32_t)sizeof(*h);
	out->bytes = len;
	uint32_t pos = 0, seen = 0;
	while (pos < out->attrs_len) {
		struct weft_sess_attr a;
		uint32_t size;
		if (seen == h->attrs || !attr_at(out->attrs + pos, out->attrs_len - pos, &a, &size) ||
		    !weft_sess_name_ok(a.name, a.name_len))
			return -EINVAL;
		pos += size;
		seen++;
	}
	return seen == h->attrs ? 0 : -EINVAL;
}

bool weft_sess_attr_next(const struct weft_sess_record *r, uint32_t *pos,
			 struct weft_sess_attr *out)
{
	uint32_t size;
	if (*pos >= r->attrs_len || !attr_at(r->attrs + *pos, r->attrs_len - *pos, out, &size))
		return false;
	*pos += size;
	return true;
}

uint64_t weft_sess_deadline_ms(const struct weft_session_record_hdr *h)
{
	return h->access_ms + weft_session_slack_ms(h->max_inactive_s) +
	       (uint64_t)h->max_inactive_s * 1000u;
}

void weft_sess_info(const struct weft_sess_record *r, uint64_t now_ms,
		    struct weft_x_session_info *out)
{
	memset(out, 0, sizeof(*out));
	out->created_ms = r->hdr.created_ms;
	out->access_ms = r->hdr.access_ms;
	out->idle_ms = now_ms > r->hdr.access_ms ? now_ms - r->hdr.access_ms : 0;
	out->max_inactive_s = r->hdr.max_inactive_s;
	out->attrs = r->hdr.attrs;
	out->bytes = r->bytes;
}

uint8_t *weft_sess_record_new(uint32_t max_inactive_s, uint64_t created_ms, uint64_t access_ms)
{
	if (max_inactive_s == 0 || max_inactive_s > WEFT_SESSION_MAX_MAX_INACTIVE_S) {
		errno = EINVAL;
		return NULL;
	}
	struct weft_session_record_hdr h = {.magic = WEFT_SESSION_RECORD_MAGIC,
					    .max_inactive_s = max_inactive_s,
					    .created_ms = created_ms,
					    .access_ms = access_ms};
	uint8_t *p = malloc(sizeof(h));
	if (p != NULL)
		memcpy(p, &h, sizeof(h));
	return p;
}
