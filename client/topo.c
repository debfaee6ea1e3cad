/*
 * topo.c — the TOPOLOGY op: parsing the node's segment table (wire.h) into
 * one caller-freed block, and mapping a key to its owners with the node's
 * rule (segment = XXH3-64(key) & (n_segments - 1)).
 *
 * Invariants of a parsed struct weft_topology: n_members >= 1; owners <=
 * n_members; n_segments == 1 << n_segments_log2 <= 65536; every owner index
 * is < n_members and distinct within its segment; members and owner point
 * into the same allocation as the struct (one free).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "client_internal.h"

/* Owners per segment libweft accepts (the node allows at most 8). */
#define TOPO_OWNERS_MAX 64u

/* The members' wire records: checks them and returns the bytes they take,
 * or 0 when truncated. */
static size_t members_span(const uint8_t *p, size_t len, unsigned n)
{
	size_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		struct weft_topo_member m;
		if (len - off < sizeof(m))
			return 0;
		memcpy(&m, p + off, sizeof(m));
		if (m.name_len > WEFT_MAX_NAME_LEN || len - off - sizeof(m) < m.name_len)
			return 0;
		off += sizeof(m) + m.name_len;
	}
	return off;
}

static bool owners_valid(const uint8_t *p, size_t n_seg, unsigned k, unsigned n_members)
{
	for (size_t s = 0; s < n_seg; s++) {
		uint16_t o[TOPO_OWNERS_MAX]; /* k <= TOPO_OWNERS_MAX: checked first */
		for (unsigned i = 0; i < k; i++) {
			memcpy(&o[i], p + (s * k + i) * 2, 2);
			if (o[i] >= n_members)
				return false;
			for (unsigned j = 0; j < i; j++)
				if (o[j] == o[i])
					return false;
		}
	}
	return true;
}

int weft_topology_decode(const uint8_t *body, size_t len, struct weft_topology **out)
{
	struct weft_topo_hdr h;
	if (body == NULL || len < sizeof(h))
		return -WEFT_ST_PROTOCOL;
	memcpy(&h, body, sizeof(h));
	if (h.n_segments_log2 > WEFT_TOPO_SEG_LOG2_MAX || h.n_members == 0 ||
	    h.owners > h.n_members || h.owners > TOPO_OWNERS_MAX)
		return -WEFT_ST_PROTOCOL;
	const uint8_t *p = body + sizeof(h);
	size_t rest = len - sizeof(h);
	size_t span = members_span(p, rest, h.n_members);
	size_t n_seg = (size_t)1 << h.n_segments_log2;
	size_t table = (size_t)h.owners * n_seg;
	if (span == 0 || rest - span != table * 2)
		return -WEFT_ST_PROTOCOL;
	if (!owners_valid(p + span, n_seg, h.owners, h.n_members))
		return -WEFT_ST_PROTOCOL;

	size_t bytes = sizeof(struct weft_topology) +
		       h.n_members * sizeof(struct weft_topology_member) + table * 2;
	struct weft_topology *t = calloc(1, bytes);
	if (t == NULL)
		return -WEFT_ST_IO;
	t->epoch = h.epoch;
	t->n_segments = (uint32_t)n_seg;
	t->n_segments_log2 = h.n_segments_log2;
	t->owners = h.owners;
	t->n_members = h.n_members;
	t->members = (struct weft_topology_member *)(t + 1);
	t->owner = (uint16_t *)(void *)(t->members + h.n_members);
	size_t off = 0;
	for (unsigned i = 0; i < h.n_members; i++) {
		struct weft_topo_member m;
		memcpy(&m, p + off, sizeof(m));
		struct weft_topology_member *tm = &t->members[i];
		tm->ip = m.ip;
		tm->port = m.port;
		memcpy(tm->id, m.id, sizeof(tm->id));
		memcpy(tm->name, p + off + sizeof(m), m.name_len);
		tm->name[m.name_len] = '\0';
		off += sizeof(m) + m.name_len;
	}
	if (table)
		memcpy(t->owner, p + span, table * 2);
	*out = t;
	return 0;
}

int weft_topology(weft_client *c, struct weft_topology **out)
{
	if (c == NULL || out == NULL)
		return -WEFT_ST_INVALID_ARG;
	struct weft_msg m = {.opcode = WEFT_OP_TOPOLOGY};
	struct weft_resp r;
	int rc = weft_call(c, &m, &r);
	return rc < 0 ? rc : weft_topology_from_resp(c, &r, out);
}

int weft_topology_from_resp(struct weft_client *c, struct weft_resp *r,
			    struct weft_topology **out)
{
	int rc = -(int)r->status;
	if (r->status == WEFT_ST_OK) {
		rc = weft_topology_decode(r->payload + r->head_len, r->msg_len - r->head_len, out);
		if (rc == -WEFT_ST_IO)
			c->last_errno = ENOMEM;
	}
	free(r->payload);
	return rc;
}

void weft_topology_free(struct weft_topology *t)
{
	free(t);
}

uint32_t weft_topology_segment(const struct weft_topology *t, const void *key, size_t len)
{
	if (t == NULL || (key == NULL && len > 0))
		return 0;
	return weft_wire_segment(XXH3_64bits(key, len), t->n_segments_log2);
}

int weft_topology_owner(const struct weft_topology *t, const void *key, size_t len,
			unsigned replica)
{
	if (t == NULL || (key == NULL && len > 0) || replica >= t->owners)
		return -WEFT_ST_INVALID_ARG;
	uint32_t s = weft_topology_segment(t, key, len);
	return t->owner[(size_t)s * t->owners + replica];
}
