/*
 * libweft sessions (weft.h "Sessions", wire.h "Sessions"): session ids
 * (getrandom, hex), the SESSION request of every action, the decoding of
 * its answers (weft_x_session_info, one attribute's value, LIST / LOAD
 * attribute lists), and the event listener over "/topic/<store>.events".
 *
 * Routing: SESSION is a keyed op (wire.h weft_wire_op_has_key), so
 * weft_call sends it to the primary of the id's segment. A read action
 * (weft_wire_session_action_is_idempotent) that timed out is sent again,
 * under a new request id, to the primary of a re-fetched table (m.resend);
 * CREATE, REMOVE and INVALIDATE are not (the node's at-most-once table
 * answers their retransmissions to the same node; after a timeout the
 * outcome is unknown: -WEFT_ST_TIMEOUT).
 *
 * Invariants: nothing is sent for invalid arguments (-WEFT_ST_INVALID_ARG:
 * a store that wire.h's weft_wire_is_session_store refuses, a NULL or
 * all-zero id, an attribute name of 0 or more than 250 bytes, a timeout
 * above WEFT_SESSION_MAX_MAX_INACTIVE_S); every length of an answer is
 * checked against the bytes received before anything is read (a malformed
 * answer is -WEFT_ST_PROTOCOL); out-parameters are written only on
 * success; a response's payload is freed on every path that does not hand
 * it to the caller.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "client_internal.h"

/* CREATE draws a new id at most this many times when the id is taken
 * (2^-128 odds each: more than one draw means a broken random source). */
#define CREATE_DRAWS 4u

static const char hexdig[] = "0123456789abcdef";

void weft_session_id_hex(const struct weft_session_id *id, char out[WEFT_SESSION_HEX_LEN + 1])
{
	for (unsigned i = 0; i < WEFT_SESSION_ID_LEN; i++) {
		out[2 * i] = hexdig[id->b[i] >> 4];
		out[2 * i + 1] = hexdig[id->b[i] & 15];
	}
	out[WEFT_SESSION_HEX_LEN] = '\0';
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool id_is_zero(const struct weft_session_id *id)
{
	uint8_t acc = 0;
	for (unsigned i = 0; i < WEFT_SESSION_ID_LEN; i++)
		acc |= id->b[i];
	return acc == 0;
}

int weft_session_id_parse(const char *hex, struct weft_session_id *id)
{
	struct weft_session_id v;
	if (hex == NULL || id == NULL || strnlen(hex, WEFT_SESSION_HEX_LEN + 1) != WEFT_SESSION_HEX_LEN)
		return -WEFT_ST_INVALID_ARG;
	for (unsigned i = 0; i < WEFT_SESSION_ID_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -WEFT_ST_INVALID_ARG;
		v.b[i] = (uint8_t)(hi << 4 | lo);
	}
	if (id_is_zero(&v))
		return -WEFT_ST_INVALID_ARG;
	*id = v;
	return 0;
}

const char *weft_session_event_name(enum weft_session_event ev)
{
	switch (ev) {
	case WEFT_SESSION_CREATED:
		return "created";
	case WEFT_SESSION_EXPIRED:
		return "expired";
	case WEFT_SESSION_INVALIDATED:
		return "invalidated";
	}
	return NULL;
}

int weft_session_store_check(const char *store, const char **name, size_t *len)
{
	const char *s = store ? store : WEFT_SESSION_STORE;
	size_t n = strnlen(s, WEFT_SESSION_STORE_MAX_LEN + 1);
	if (!weft_wire_is_session_store(s, n))
		return -WEFT_ST_INVALID_ARG;
	for (size_t i = 0; i < n; i++) /* a cache name: printable, no spaces */
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return -WEFT_ST_INVALID_ARG;
	*name = s;
	*len = n;
	return 0;
}

/* An attribute name: 1..WEFT_SESSION_MAX_ATTR_NAME bytes; its length. */
static int attr_check(const char *attr, size_t *len)
{
	if (attr == NULL)
		return -WEFT_ST_INVALID_ARG;
	size_t n = strnlen(attr, WEFT_SESSION_MAX_ATTR_NAME + 1);
	if (n == 0 || n > WEFT_SESSION_MAX_ATTR_NAME)
		return -WEFT_ST_INVALID_ARG;
	*len = n;
	return 0;
}

/* --- answers (pure) ------------------------------------------------------ */

int weft_session_info_decode(const struct weft_resp *r, struct weft_session_info *out)
{
	struct weft_x_session_info x;
	if (r->extras_len < sizeof(x) || r->head_len > r->msg_len)
		return -WEFT_ST_PROTOCOL;
	memcpy(&x, r->payload + (r->head_len - r->extras_len), sizeof(x));
	if (x.bytes > WEFT_SESSION_MAX_BYTES || x.max_inactive_s > WEFT_SESSION_MAX_MAX_INACTIVE_S ||
	    x.attrs > x.bytes / (sizeof(struct weft_session_attr_hdr) + 1u))
		return -WEFT_ST_PROTOCOL;
	if (out)
		*out = (struct weft_session_info){ .created_ms = x.created_ms, .access_ms = x.access_ms,
						   .idle_ms = x.idle_ms,
						   .max_inactive_s = x.max_inactive_s,
						   .attrs = x.attrs, .bytes = x.bytes };
	return 0;
}

/* Walks an attribute list of count attributes over [p, p + len): checks
 * every length and, with values, that the value bytes follow each name.
 * Sums the bytes names (+ NUL) and values take in *need. 0 or
 * -WEFT_ST_PROTOCOL. */
static int attrs_walk(const uint8_t *p, size_t len, uint32_t count, bool values, size_t *need)
{
	size_t off = 0, sum = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct weft_session_attr_hdr h;
		if (len - off < sizeof(h))
			return -WEFT_ST_PROTOCOL;
		memcpy(&h, p + off, sizeof(h));
		off += sizeof(h);
		if (h.name_len == 0 || h.name_len > WEFT_SESSION_MAX_ATTR_NAME ||
		    h.value_len > WEFT_SESSION_MAX_BYTES || len - off < h.name_len ||
		    memchr(p + off, '\0', h.name_len) != NULL)
			return -WEFT_ST_PROTOCOL;
		off += h.name_len;
		sum += (size_t)h.name_len + 1u;
		if (values) {
			if (len - off < h.value_len)
				return -WEFT_ST_PROTOCOL;
			off += h.value_len;
			sum += h.value_len;
		}
	}
	if (off != len)
		return -WEFT_ST_PROTOCOL;
	*need = sum;
	return 0;
}

int weft_session_attrs_decode(const uint8_t *p, size_t len, uint32_t count, bool values,
			      struct weft_session_attr **out, size_t *n)
{
	size_t need;
	/* Each attribute takes at least 7 bytes: a count beyond that is a lie. */
	if ((len > 0 && p == NULL) || count > len / (sizeof(struct weft_session_attr_hdr) + 1u))
		return -WEFT_ST_PROTOCOL;
	int rc = attrs_walk(p, len, count, values, &need);
	if (rc < 0)
		return rc;
	*out = NULL;
	*n = 0;
	if (count == 0)
		return 0;
	struct weft_session_attr *a = malloc((size_t)count * sizeof(*a) + need);
	if (a == NULL)
		return -WEFT_ST_IO;
	uint8_t *w = (uint8_t *)(a + count);
	size_t off = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct weft_session_attr_hdr h;
		memcpy(&h, p + off, sizeof(h));
		off += sizeof(h);
		memcpy(w, p + off, h.name_len);
		w[h.name_len] = '\0';
		a[i].name = (const char *)w;
		w += h.name_len + 1u;
		off += h.name_len;
		a[i].value_len = h.value_len;
		a[i].value = NULL;
		if (values) {
			if (h.value_len)
				memcpy(w, p + off, h.value_len);
			a[i].value = w;
			w += h.value_len;
			off += h.value_len;
		}
	}
	*out = a;
	*n = count;
	return 0;
}

int weft_session_event_of(const struct weft_message *m, enum weft_session_event *ev,
			      struct weft_session_id *id)
{
	const void *v;
	size_t vl;
	if (weft_message_prop(m, "event", &v, &vl) != 0)
		return -WEFT_ST_PROTOCOL;
	enum weft_session_event k = 0;
	for (int e = WEFT_SESSION_CREATED; e <= WEFT_SESSION_INVALIDATED; e++) {
		const char *nm = weft_session_event_name((enum weft_session_event)e);
		if (strlen(nm) == vl && memcmp(nm, v, vl) == 0)
			k = (enum weft_session_event)e;
	}
	char hex[WEFT_SESSION_HEX_LEN + 1];
	if (k == 0 || weft_message_prop(m, "session", &v, &vl) != 0 || vl != WEFT_SESSION_HEX_LEN)
		return -WEFT_ST_PROTOCOL;
	memcpy(hex, v, vl);
	hex[vl] = '\0';
	if (weft_session_id_parse(hex, id) != 0)
		return -WEFT_ST_PROTOCOL;
	*ev = k;
	return 0;
}

/* --- requests ------------------------------------------------------------ */

/* One SESSION call: the status of its answer (r kept on 0 only). */
static int sess_call(weft_client *c, const char *store, const struct weft_session_id *id,
		     uint8_t action, uint16_t attr_len, uint32_t max_inactive_s, const void *value,
		     size_t value_len, struct weft_resp *r)
{
	const char *name;
	size_t nl;
	int rc = c == NULL ? -WEFT_ST_INVALID_ARG : weft_session_store_check(store, &name, &nl);
	if (rc < 0)
		return rc;
	if (id == NULL || id_is_zero(id) || max_inactive_s > WEFT_SESSION_MAX_MAX_INACTIVE_S)
		return -WEFT_ST_INVALID_ARG;
	struct weft_x_session x = { .action = action, .attr_len = attr_len,
				    .max_inactive_s = max_inactive_s };
	struct weft_msg m = { .opcode = WEFT_OP_SESSION, .name = name, .name_len = nl,
			      .key = id->b, .key_len = WEFT_SESSION_ID_LEN, .extras = &x,
			      .extras_len = sizeof(x), .value = value, .value_len = value_len,
			      .resend = weft_wire_session_action_is_idempotent(action) };
	rc = weft_call(c, &m, r);
	if (rc < 0)
		return rc;
	if (r->status != WEFT_ST_OK) {
		rc = -(int)r->status;
		free(r->payload);
		r->payload = NULL;
	}
	return rc;
}

/* A call whose answer carries the info extras (all actions but CREATE,
 * REMOVE, INVALIDATE, EXPIRE); r kept on 0 only. */
static int info_call(weft_client *c, const char *store, const struct weft_session_id *id,
		     uint8_t action, uint32_t max_inactive_s, const void *value, size_t value_len,
		     struct weft_session_info *info, struct weft_resp *r)
{
	int rc = sess_call(c, store, id, action, 0, max_inactive_s, value, value_len, r);
	if (rc < 0)
		return rc;
	rc = weft_session_info_decode(r, info);
	if (rc < 0) {
		free(r->payload);
		r->payload = NULL;
	}
	return rc;
}

/* A call whose answer is a status only. */
static int status_call(weft_client *c, const char *store, const struct weft_session_id *id,
		       uint8_t action, uint32_t max_inactive_s, const void *value, size_t len)
{
	struct weft_resp r;
	int rc = sess_call(c, store, id, action, 0, max_inactive_s, value, len, &r);
	if (rc == 0)
		free(r.payload);
	return rc;
}

static int draw_id(struct weft_client *c, struct weft_session_id *id)
{
	for (unsigned tries = 0; tries < 8; tries++) {
		ssize_t got = getrandom(id->b, sizeof(id->b), 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got != (ssize_t)sizeof(id->b)) {
			c->last_errno = got < 0 ? errno : EIO;
			return -WEFT_ST_IO;
		}
		if (!id_is_zero(id))
			return 0;
	}
	c->last_errno = EIO;
	return -WEFT_ST_IO;
}

int weft_session_create(weft_client *c, const char *store, uint32_t max_inactive_s,
			struct weft_session_id *id)
{
	const char *name;
	size_t nl;
	if (c == NULL || id == NULL || max_inactive_s > WEFT_SESSION_MAX_MAX_INACTIVE_S ||
	    weft_session_store_check(store, &name, &nl) < 0)
		return -WEFT_ST_INVALID_ARG;
	int rc = -WEFT_ST_EXISTS;
	for (unsigned i = 0; i < CREATE_DRAWS && rc == -WEFT_ST_EXISTS; i++) {
		struct weft_session_id v;
		rc = draw_id(c, &v);
		if (rc == 0)
			rc = status_call(c, store, &v, WEFT_SESS_CREATE, max_inactive_s, NULL, 0);
		if (rc == 0)
			*id = v;
	}
	return rc;
}

int weft_session_get(weft_client *c, const char *store, const struct weft_session_id *id,
		     const char *attr, void **value, size_t *value_len,
		     struct weft_session_info *info)
{
	size_t al;
	int rc = attr_check(attr, &al);
	if (rc < 0)
		return rc;
	struct weft_resp r;
	struct weft_session_info si;
	rc = info_call(c, store, id, WEFT_SESS_GET, 0, attr, al, &si, &r);
	if (rc < 0)
		return rc;
	size_t n = r.msg_len - r.head_len;
	uint8_t *p = r.payload;
	if (n > 0)
		memmove(p, p + r.head_len, n);
	else {
		free(p);
		p = NULL;
	}
	if (value)
		*value = p;
	else
		free(p);
	if (value_len)
		*value_len = n;
	if (info)
		*info = si;
	return 0;
}

int weft_session_set(weft_client *c, const char *store, const struct weft_session_id *id,
		     const char *attr, const void *value, size_t value_len)
{
	size_t al;
	int rc = c == NULL ? -WEFT_ST_INVALID_ARG : attr_check(attr, &al);
	if (rc < 0)
		return rc;
	if ((value == NULL && value_len > 0) || value_len > WEFT_SESSION_MAX_BYTES)
		return -WEFT_ST_INVALID_ARG;
	/* The request's value is [name][attribute]: one buffer. */
	uint8_t *joined = malloc(al + value_len);
	if (joined == NULL) {
		c->last_errno = ENOMEM;
		return -WEFT_ST_IO;
	}
	memcpy(joined, attr, al);
	if (value_len)
		memcpy(joined + al, value, value_len);
	struct weft_resp r;
	rc = sess_call(c, store, id, WEFT_SESS_SET, (uint16_t)al, 0, joined, al + value_len, &r);
	free(joined);
	if (rc == 0) {
		rc = weft_session_info_decode(&r, NULL);
		free(r.payload);
	}
	return rc;
}

int weft_session_remove(weft_client *c, const char *store, const struct weft_session_id *id,
			const char *attr)
{
	size_t al;
	int rc = attr_check(attr, &al);
	return rc < 0 ? rc : status_call(c, store, id, WEFT_SESS_REMOVE, 0, attr, al);
}

static int list_or_load(weft_client *c, const char *store, const struct weft_session_id *id,
			bool values, struct weft_session_attr **attrs, size_t *n,
			struct weft_session_info *info)
{
	if (attrs == NULL || n == NULL)
		return -WEFT_ST_INVALID_ARG;
	struct weft_resp r;
	struct weft_session_info si;
	int rc = info_call(c, store, id, values ? WEFT_SESS_LOAD : WEFT_SESS_LIST, 0, NULL, 0, &si,
			   &r);
	if (rc < 0)
		return rc;
	rc = weft_session_attrs_decode(r.payload + r.head_len, r.msg_len - r.head_len, si.attrs,
				       values, attrs, n);
	free(r.payload);
	if (rc == -WEFT_ST_IO)
		c->last_errno = ENOMEM;
	if (rc == 0 && info)
		*info = si;
	return rc;
}

int weft_session_list(weft_client *c, const char *store, const struct weft_session_id *id,
		      struct weft_session_attr **attrs, size_t *n, struct weft_session_info *info)
{
	return list_or_load(c, store, id, false, attrs, n, info);
}

int weft_session_load(weft_client *c, const char *store, const struct weft_session_id *id,
		      struct weft_session_attr **attrs, size_t *n, struct weft_session_info *info)
{
	return list_or_load(c, store, id, true, attrs, n, info);
}

static int info_only(weft_client *c, const char *store, const struct weft_session_id *id,
		     uint8_t action, uint32_t max_inactive_s, struct weft_session_info *info)
{
	struct weft_resp r;
	int rc = info_call(c, store, id, action, max_inactive_s, NULL, 0, info, &r);
	if (rc == 0)
		free(r.payload);
	return rc;
}

int weft_session_touch(weft_client *c, const char *store, const struct weft_session_id *id,
		       uint32_t max_inactive_s)
{
	return info_only(c, store, id, WEFT_SESS_TOUCH, max_inactive_s, NULL);
}

int weft_session_info(weft_client *c, const char *store, const struct weft_session_id *id,
		      struct weft_session_info *info)
{
	return info_only(c, store, id, WEFT_SESS_INFO, 0, info);
}

int weft_session_invalidate(weft_client *c, const char *store, const struct weft_session_id *id)
{
	return status_call(c, store, id, WEFT_SESS_INVALIDATE, 0, NULL, 0);
}

/* --- events -------------------------------------------------------------- */

struct listen_ctx {
	weft_session_event_fn fn;
	void *ctx;
};

static int on_event(void *arg, const struct weft_message *m)
{
	struct listen_ctx *l = arg;
	enum weft_session_event ev;
	struct weft_session_id id;
	if (weft_session_event_of(m, &ev, &id) != 0)
		return 0; /* not a session event: skipped */
	return l->fn(l->ctx, ev, &id) < 0 ? -1 : 0;
}

int weft_session_events_topic(const char *store, char out[WEFT_MAX_NAME_LEN + 1])
{
	const char *name;
	size_t nl;
	int rc = weft_session_store_check(store, &name, &nl);
	if (rc < 0)
		return rc;
	_Static_assert(7u + WEFT_SESSION_STORE_MAX_LEN + 7u == WEFT_MAX_NAME_LEN,
		       "every store has its events topic");
	memcpy(out, "/topic/", 7);
	memcpy(out + 7, name, nl);
	memcpy(out + 7 + nl, ".events", sizeof(".events"));
	return 0;
}

int weft_session_listen(weft_client *c, const char *store, weft_session_event_fn fn, void *ctx,
			uint64_t max_ms)
{
	char topic[WEFT_MAX_NAME_LEN + 1];
	if (c == NULL || fn == NULL || weft_session_events_topic(store, topic) < 0)
		return -WEFT_ST_INVALID_ARG;
	weft_consumer *k = weft_consumer_open(c, topic, NULL);
	if (k == NULL) {
		c->last_errno = errno;
		return errno == EINVAL ? -WEFT_ST_INVALID_ARG : -WEFT_ST_IO;
	}
	struct listen_ctx l = { fn, ctx };
	int rc = weft_listen(k, on_event, &l, max_ms);
	weft_consumer_close(k, false);
	return rc;
}
