/*
 * msg/msg.c — messages (refcounted, immutable), property lists, names and
 * options: the pure parts of msg.h.
 *
 * Invariants: a message is written only by weft_msg_new, before anyone else
 * can see it; refs changes atomically; the last unref frees it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

#include "msg_internal.h"

struct weft_msg *weft_msg_new(uint64_t id, uint64_t expires_ms, const void *props,
			      uint32_t props_len, const void *body, uint32_t body_len)
{
	struct weft_msg *m = malloc(sizeof(*m) + (size_t)props_len + body_len);
	if (m == NULL)
		return NULL;
	m->id = id;
	m->expires_ms = expires_ms;
	m->props_len = props_len;
	m->body_len = body_len;
	m->refs = 1;
	if (props_len > 0)
		memcpy(m->data, props, props_len);
	if (body_len > 0)
		memcpy(m->data + props_len, body, body_len);
	return m;
}

void weft_msg_ref(struct weft_msg *m)
{
	__atomic_fetch_add(&m->refs, 1, __ATOMIC_RELAXED);
}

void weft_msg_unref(struct weft_msg *m)
{
	if (m != NULL && __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(m);
}

bool weft_msg_props_valid(const uint8_t *props, uint32_t props_len)
{
	if (props_len > WEFT_MAX_PROPS_LEN)
		return false;
	if (props_len > 0 && props == NULL)
		return false;
	uint32_t i = 0;
	while (i < props_len) {
		uint8_t nl = props[i++];
		if (nl < 1 || nl > 64 || props_len - i < nl)
			return false;
		for (uint8_t k = 0; k < nl; k++)
			if (props[i + k] < 0x20 || props[i + k] > 0x7e)
				return false;
		i += nl;
		if (props_len - i < 2)
			return false;
		uint16_t vl = (uint16_t)(props[i] | (props[i + 1] << 8));
		i += 2;
		if (vl > WEFT_MAX_PROP_VALUE_LEN || props_len - i < vl)
			return false;
		i += vl;
	}
	return true;
}

enum weft_dest_kind weft_dest_kind_of(const char *name, size_t len)
{
	if (name == NULL || len <= 7 || len > WEFT_MAX_NAME_LEN)
		return WEFT_DEST_INVALID;
	enum weft_dest_kind k;
	if (memcmp(name, "/queue/", 7) == 0)
		k = WEFT_DEST_QUEUE;
	else if (memcmp(name, "/topic/", 7) == 0)
		k = WEFT_DEST_TOPIC;
	else
		return WEFT_DEST_INVALID;
	for (size_t i = 7; i < len; i++)
		if (name[i] < 0x21 || name[i] > 0x7e)
			return WEFT_DEST_INVALID;
	/* A queue's dead-letter queue "NAME.dlq" must be a valid name too. */
	if (k == WEFT_DEST_QUEUE && weft_wire_dest_route_len(name, len) == len &&
	    len + 4 > WEFT_MAX_NAME_LEN)
		return WEFT_DEST_INVALID;
	return k;
}

int weft_dest_opts_from_wire(const struct weft_x_dest_opts *w, struct weft_dest_opts *out)
{
	struct weft_x_dest_opts z = {0};
	if (w == NULL)
		w = &z;
	if (w->max_depth > 10000000u || w->visibility_ms > 12u * 3600u * 1000u ||
	    w->max_deliveries > 1000u)
		return -EINVAL;
	out->max_depth = w->max_depth ? w->max_depth : WEFT_MSG_DEFAULT_DEPTH;
	out->max_deliveries = w->max_deliveries ? w->max_deliveries : WEFT_MSG_DEFAULT_DELIVERIES;
	out->visibility_ms = w->visibility_ms ? w->visibility_ms : WEFT_MSG_DEFAULT_VISIBILITY_MS;
	out->max_bytes = w->max_bytes ? w->max_bytes : WEFT_MSG_DEFAULT_BYTES;
	out->default_ttl_ms = w->default_ttl_ms;
	return 0;
}

void weft_dest_opts_to_wire(const struct weft_dest_opts *o, struct weft_x_dest_opts *w)
{
	memset(w, 0, sizeof(*w));
	w->max_depth = o->max_depth;
	w->max_deliveries = o->max_deliveries;
	w->visibility_ms = o->visibility_ms;
	w->max_bytes = o->max_bytes;
	w->default_ttl_ms = o->default_ttl_ms;
}
