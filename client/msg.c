/*
 * libweft messaging, the destination side (wire.h "Destinations"):
 * destination names, the property codec, the message-list parser, and the
 * ops that name a destination but no consumer: publish, dest-open,
 * dest-stop, destinations. Consumers (receive, ack, listen) are in
 * msg_consumer.c.
 *
 * Routing: every op here but DESTINATIONS goes to the primary of the
 * destination's routing name (weft_wire_dest_route_len: "/queue/N.dlq"
 * routes as "/queue/N"), through route.c's keyed-op machinery (m->route).
 * A PUBLISH that timed out is never re-sent to another node (it may have
 * been applied): it returns -WEFT_ST_TIMEOUT and the caller decides.
 *
 * Invariants: nothing is sent for invalid arguments (-WEFT_ST_INVALID_ARG);
 * the codecs are pure and bounds-checked against their buffer's length, so
 * a malformed message list is -WEFT_ST_PROTOCOL and never a read past the
 * end; a response's payload is freed on every path but the one handing it
 * to the caller.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

#define PREFIX_LEN 7u /* "/queue/" and "/topic/" */

bool weft_dest_name_ok(const char *name, size_t len)
{
	if (name == NULL || len <= PREFIX_LEN || len > WEFT_MAX_NAME_LEN)
		return false;
	if (memcmp(name, "/queue/", PREFIX_LEN) != 0 && memcmp(name, "/topic/", PREFIX_LEN) != 0)
		return false;
	for (size_t i = PREFIX_LEN; i < len; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			return false;
	return true;
}

int weft_dest_check(const char *name, size_t *len)
{
	if (name == NULL)
		return -WEFT_ST_INVALID_ARG;
	size_t n = strnlen(name, WEFT_MAX_NAME_LEN + 1);
	if (!weft_dest_name_ok(name, n))
		return -WEFT_ST_INVALID_ARG;
	*len = n;
	return 0;
}

/* A property name: 1..64 printable ASCII bytes (space included, as the
 * node checks them). */
static bool prop_name_ok(const uint8_t *n, size_t len)
{
	if (len == 0 || len > WEFT_MAX_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (n[i] < 0x20 || n[i] > 0x7e)
			return false;
	return true;
}

bool weft_props_valid(const uint8_t *p, size_t len)
{
	size_t off = 0;
	if (len > WEFT_MAX_PROPS_LEN)
		return false;
	while (off < len) {
		size_t nl = p[off];
		if (len - off < 1 + nl + 2 || !prop_name_ok(p + off + 1, nl))
			return false;
		uint16_t vl;
		memcpy(&vl, p + off + 1 + nl, 2);
		off += 1 + nl + 2;
		if (vl > WEFT_MAX_PROP_VALUE_LEN || len - off < vl)
			return false;
		off += vl;
	}
	return true;
}

int weft_props_encode(const struct weft_prop *props, size_t n, uint8_t **out, size_t *out_len)
{
	size_t total = 0;
	if (n > 0 && props == NULL)
		return -WEFT_ST_INVALID_ARG;
	for (size_t i = 0; i < n; i++) {
		const struct weft_prop *pr = &props[i];
		if (pr->name == NULL || (pr->value == NULL && pr->value_len > 0) ||
		    pr->value_len > WEFT_MAX_PROP_VALUE_LEN)
			return -WEFT_ST_INVALID_ARG;
		size_t nl = strnlen(pr->name, WEFT_MAX_NAME_LEN + 1);
		if (!prop_name_ok((const uint8_t *)pr->name, nl))
			return -WEFT_ST_INVALID_ARG;
		total += 1 + nl + 2 + pr->value_len;
		if (total > WEFT_MAX_PROPS_LEN)
			return -WEFT_ST_INVALID_ARG;
	}
	*out = NULL;
	*out_len = total;
	if (total == 0)
		return 0;
	uint8_t *b = malloc(total);
	if (b == NULL)
		return -WEFT_ST_IO;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(props[i].name);
		uint16_t vl = (uint16_t)props[i].value_len;
		b[off] = (uint8_t)nl;
		memcpy(b + off + 1, props[i].name, nl);
		memcpy(b + off + 1 + nl, &vl, 2);
		if (vl)
			memcpy(b + off + 3 + nl, props[i].value, vl);
		off += 3 + nl + vl;
	}
	*out = b;
	return 0;
}

int weft_msglist_decode(const uint8_t *p, size_t len, uint32_t count,
			struct weft_message *msgs, size_t max)
{
	size_t off = 0;
	if (count > max || (len > 0 && p == NULL))
		return -WEFT_ST_PROTOCOL;
	for (uint32_t i = 0; i < count; i++) {
		struct weft_msg_hdr h;
		if (len - off < sizeof(h))
			return -WEFT_ST_PROTOCOL;
		memcpy(&h, p + off, sizeof(h));
		off += sizeof(h);
		if (h.props_len > WEFT_MAX_PROPS_LEN || h.body_len > WEFT_MAX_BODY_LEN ||
		    len - off < (size_t)h.props_len + h.body_len ||
		    !weft_props_valid(p + off, h.props_len))
			return -WEFT_ST_PROTOCOL;
		msgs[i] = (struct weft_message){
			.id = h.id,
			.expires_ms = h.expires_ms,
			.deliveries = h.deliveries,
			.props = h.props_len ? p + off : NULL,
			.props_len = h.props_len,
			.body = p + off + h.props_len,
			.body_len = h.body_len,
		};
		off += (size_t)h.props_len + h.body_len;
	}
	return off == len ? 0 : -WEFT_ST_PROTOCOL;
}

int weft_message_prop(const struct weft_message *m, const char *name, const void **value,
		      size_t *value_len)
{
	if (m == NULL || name == NULL || (m->props == NULL && m->props_len > 0))
		return -WEFT_ST_INVALID_ARG;
	size_t want = strlen(name), off = 0;
	const uint8_t *p = m->props;
	/* The list was checked when it was received; every step is still
	 * bounded by props_len, for a message the caller filled itself. */
	while (off < m->props_len) {
		size_t nl = p[off];
		uint16_t vl;
		if (m->props_len - off < 3 + nl)
			return -WEFT_ST_PROTOCOL;
		memcpy(&vl, p + off + 1 + nl, 2);
		if (m->props_len - off - 3 - nl < vl)
			return -WEFT_ST_PROTOCOL;
		if (nl == want && memcmp(p + off + 1, name, nl) == 0) {
			if (value)
				*value = p + off + 3 + nl;
			if (value_len)
				*value_len = vl;
			return 0;
		}
		off += 3 + nl + vl;
	}
	return -WEFT_ST_NOT_FOUND;
}

/* The response's extras (responses carry no name or key; skip them if
 * present); false when shorter than want. */
static bool extras_of(const struct weft_resp *r, void *out, size_t want)
{
	if (r->extras_len < want)
		return false;
	memcpy(out, r->payload + (r->head_len - r->extras_len), want);
	return true;
}

/* A destination op routed to the primary of dest's routing name. */
static struct weft_msg dest_msg(uint8_t opcode, const char *dest, size_t len)
{
	return (struct weft_msg){ .opcode = opcode, .name = dest, .name_len = len,
				  .route = dest, .route_len = weft_wire_dest_route_len(dest, len) };
}

int weft_publish(weft_client *c, const char *dest, const void *body, size_t body_len,
		 const struct weft_publish_opts *po, uint64_t *id, uint32_t *fanout)
{
	size_t dlen;
	int rc = c == NULL ? -WEFT_ST_INVALID_ARG : weft_dest_check(dest, &dlen);
	if (rc < 0)
		return rc;
	if (body_len > WEFT_MAX_BODY_LEN || (body == NULL && body_len > 0))
		return -WEFT_ST_INVALID_ARG;
	uint8_t *props = NULL;
	size_t props_len = 0;
	rc = weft_props_encode(po ? po->props : NULL, po ? po->n_props : 0, &props, &props_len);
	if (rc == -WEFT_ST_IO)
		c->last_errno = ENOMEM;
	if (rc < 0)
		return rc;
	/* The value is [props][body]: one buffer when there are properties. */
	const void *value = body;
	uint8_t *joined = NULL;
	if (props_len > 0) {
		joined = malloc(props_len + body_len);
		if (joined == NULL) {
			free(props);
			c->last_errno = ENOMEM;
			return -WEFT_ST_IO;
		}
		memcpy(joined, props, props_len);
		if (body_len)
			memcpy(joined + props_len, body, body_len);
		value = joined;
	}
	free(props);
	struct weft_x_publish x = { .ttl_ms = po ? po->ttl_ms : 0, .props_len = (uint32_t)props_len };
	struct weft_msg m = dest_msg(WEFT_OP_PUBLISH, dest, dlen);
	m.extras = &x;
	m.extras_len = sizeof(x);
	m.value = value;
	m.value_len = props_len + body_len;
	struct weft_resp r;
	rc = weft_call(c, &m, &r);
	free(joined);
	if (rc < 0)
		return rc;
	struct weft_x_published px;
	rc = -(int)r.status;
	if (r.status == WEFT_ST_OK) {
		if (!extras_of(&r, &px, sizeof(px))) {
			rc = -WEFT_ST_PROTOCOL;
		} else {
			if (id)
				*id = px.id;
			if (fanout)
				*fanout = px.fanout;
		}
	}
	free(r.payload);
	return rc;
}

static int dest_status(weft_client *c, const struct weft_msg *m)
{
	struct weft_resp r;
	int rc = weft_call(c, m, &r);
	if (rc < 0)
		return rc;
	free(r.payload);
	return -(int)r.status;
}

int weft_dest_open(weft_client *c, const char *dest, const struct weft_dest_opts_c *o)
{
	size_t dlen;
	int rc = c == NULL ? -WEFT_ST_INVALID_ARG : weft_dest_check(dest, &dlen);
	if (rc < 0)
		return rc;
	struct weft_x_dest_opts x = { 0 };
	if (o) {
		x.max_depth = o->max_depth;
		x.max_deliveries = o->max_deliveries;
		x.visibility_ms = o->visibility_ms;
		x.max_bytes = o->max_bytes;
		x.default_ttl_ms = o->default_ttl_ms;
	}
	struct weft_msg m = dest_msg(WEFT_OP_DEST_OPEN, dest, dlen);
	m.extras = &x;
	m.extras_len = sizeof(x);
	return dest_status(c, &m);
}

int weft_dest_stop(weft_client *c, const char *dest)
{
	size_t dlen;
	int rc = c == NULL ? -WEFT_ST_INVALID_ARG : weft_dest_check(dest, &dlen);
	if (rc < 0)
		return rc;
	struct weft_msg m = dest_msg(WEFT_OP_DEST_STOP, dest, dlen);
	return dest_status(c, &m);
}

int weft_destinations(weft_client *c, char **text, size_t *len)
{
	return weft_text_op(c, WEFT_OP_DESTINATIONS, text, len);
}
