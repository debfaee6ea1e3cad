/*
 * libweft MULTI_GET: one request, or, with routing active (route.c), one
 * request per primary owner, the answers merged back in the caller's order.
 *
 * Round one sends each group of keys with the same primary to it (groups in
 * order of their first key, keys in the caller's order). Keys answered
 * NOT_OWNER (per key, or a whole group), and the keys of a group whose
 * node timed out, make one table re-fetch and one second round: grouped by
 * the new primaries, or, after a timeout, by their first owner that did not
 * time out. A key still NOT_OWNER after that keeps the status; a group
 * that times out again fails the call with -WEFT_ST_TIMEOUT.
 *
 * Invariants: each answer's payload is kept until the merge, which copies
 * every value into one malloc'd block (the caller's single free); with a
 * single group the answer's payload is that block, as without routing; on
 * any error every payload is freed and every item's value pointer is NULL
 * (the other out fields are unspecified).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

#define NO_NODE 0xffffu

struct mget_run {
	const char *cache;
	size_t name_len;
	struct weft_mget_item *items;
	size_t n;
	uint16_t node[WEFT_MAX_MULTI_GET]; /* member index each key goes to */
	bool redo[WEFT_MAX_MULTI_GET];     /* key to send again in round two */
	uint8_t *payload[2 * WEFT_MAX_MULTI_GET];
	unsigned n_payloads;
	uint64_t deadline;
};

static void free_payloads(struct mget_run *run)
{
	for (unsigned i = 0; i < run->n_payloads; i++)
		free(run->payload[i]);
	run->n_payloads = 0;
}

/* Sends the keys idx[0..k) to `to` (NULL: home, unrouted) and decodes the
 * answer into their items. 0, or a negative status for the whole group. */
static int send_group(struct weft_client *c, struct mget_run *run, const uint8_t *idx, size_t k,
		      const struct sockaddr_in *to)
{
	struct weft_mget_item sub[WEFT_MAX_MULTI_GET];
	uint8_t *keys = NULL;
	for (size_t j = 0; j < k; j++)
		sub[j] = (struct weft_mget_item){ .key = run->items[idx[j]].key,
						  .key_len = run->items[idx[j]].key_len };
	size_t klen = weft_mget_encode(sub, k, &keys);
	if (klen == 0) {
		c->last_errno = ENOMEM; /* the keys were checked by the caller */
		return -WEFT_ST_IO;
	}
	struct weft_msg m = { .opcode = WEFT_OP_MULTI_GET, .name = run->cache,
			      .name_len = run->name_len, .value = keys, .value_len = klen };
	struct weft_resp r;
	int rc;
	if (to == NULL) {
		rc = weft_call(c, &m, &r);
	} else {
		m.epoch = c->topo->epoch;
		rc = weft_call_at(c, to, &m, c->opts.retries + 1u, run->deadline, &r);
	}
	free(keys);
	if (rc < 0)
		return rc;
	if (to != NULL)
		weft_route_observe(c, r.epoch);
	rc = -(int)r.status;
	if (r.status == WEFT_ST_OK)
		rc = weft_mget_decode(r.payload + r.head_len, r.msg_len - r.head_len, sub, k);
	if (rc < 0) {
		free(r.payload);
		return rc;
	}
	run->payload[run->n_payloads++] = r.payload;
	for (size_t j = 0; j < k; j++) {
		struct weft_mget_item *it = &run->items[idx[j]];
		it->status = sub[j].status;
		it->value = sub[j].value;
		it->value_len = sub[j].value_len;
		it->version = sub[j].version;
	}
	return 0;
}

/* Sends every key with want[i] set, grouped by run->node. Keys of a group
 * answered NOT_OWNER, or whose node timed out, get redo set. 0, or the
 * first whole-group error other than those. *timed_out tells whether a
 * group timed out. */
static int send_round(struct weft_client *c, struct mget_run *run, const bool *want,
		      bool *timed_out)
{
	bool done[WEFT_MAX_MULTI_GET] = { false };
	*timed_out = false;
	for (size_t i = 0; i < run->n; i++) {
		if (!want[i] || done[i])
			continue;
		uint8_t idx[WEFT_MAX_MULTI_GET];
		size_t k = 0;
		for (size_t j = i; j < run->n; j++)
			if (want[j] && !done[j] && run->node[j] == run->node[i]) {
				idx[k++] = (uint8_t)j;
				done[j] = true;
			}
		struct sockaddr_in to;
		weft_route_member_addr(c, run->node[i], &to);
		int rc = send_group(c, run, idx, k, &to);
		if (rc == -WEFT_ST_TIMEOUT) {
			weft_route_suspect(c, &to);
			*timed_out = true;
		}
		if (rc < 0 && rc != -WEFT_ST_TIMEOUT && rc != -WEFT_ST_NOT_OWNER)
			return rc;
		for (size_t j = 0; j < k; j++) {
			struct weft_mget_item *it = &run->items[idx[j]];
			if (rc < 0)
				it->status = rc;
			run->redo[idx[j]] = it->status == -WEFT_ST_NOT_OWNER ||
					    it->status == -WEFT_ST_TIMEOUT;
		}
	}
	return 0;
}

/* Where a key goes in round two: the fresh table's primary, or its first
 * owner that is not the node that just timed out. */
static uint16_t second_node(const struct weft_client *c, const struct weft_mget_item *it)
{
	for (unsigned r = 0; r < c->topo->owners; r++) {
		unsigned o = weft_route_owner(c, it->key, it->key_len, r);
		struct sockaddr_in sa;
		weft_route_member_addr(c, o, &sa);
		if (!c->has_suspect || !weft_addr_eq(&sa, &c->suspect))
			return (uint16_t)o;
	}
	return (uint16_t)weft_route_owner(c, it->key, it->key_len, 0);
}

/* Copies every value into one block and points the items at it. */
static int merge(struct weft_client *c, struct mget_run *run, void **block)
{
	if (run->n_payloads == 1) {
		*block = run->payload[0];
		run->n_payloads = 0;
		return 0;
	}
	size_t total = 0;
	for (size_t i = 0; i < run->n; i++)
		total += run->items[i].status == 0 ? run->items[i].value_len : 0;
	uint8_t *b = malloc(total ? total : 1);
	if (b == NULL) {
		c->last_errno = ENOMEM;
		return -WEFT_ST_IO;
	}
	size_t off = 0;
	for (size_t i = 0; i < run->n; i++) {
		struct weft_mget_item *it = &run->items[i];
		if (it->status != 0)
			continue;
		if (it->value_len)
			memcpy(b + off, it->value, it->value_len);
		it->value = b + off;
		off += it->value_len;
	}
	free_payloads(run);
	*block = b;
	return 0;
}

static int routed_mget(struct weft_client *c, struct mget_run *run, void **block)
{
	bool want[WEFT_MAX_MULTI_GET], timed_out;
	for (size_t i = 0; i < run->n; i++) {
		run->node[i] = (uint16_t)weft_route_owner(c, run->items[i].key,
							  run->items[i].key_len, 0);
		want[i] = true;
	}
	int rc = send_round(c, run, want, &timed_out);
	bool again = false;
	for (size_t i = 0; i < run->n && rc == 0; i++)
		again |= run->redo[i];
	if (rc == 0 && again) {
		memcpy(want, run->redo, sizeof(want));
		if (weft_route_refresh(c, NULL, run->deadline) < 0 && !timed_out) {
			rc = 0; /* no fresher table: the NOT_OWNER statuses stand */
			again = false;
		}
	}
	if (rc == 0 && again) {
		if (!weft_route_active(c)) {
			rc = -WEFT_ST_TIMEOUT; /* the cluster shrank to one node: start over */
		} else {
			for (size_t i = 0; i < run->n; i++)
				if (want[i])
					run->node[i] = second_node(c, &run->items[i]);
			rc = send_round(c, run, want, &timed_out);
			if (rc == 0 && timed_out)
				rc = -WEFT_ST_TIMEOUT;
		}
	}
	for (size_t i = 0; i < run->n && rc == 0; i++)
		if (run->items[i].status == -WEFT_ST_TIMEOUT)
			rc = -WEFT_ST_TIMEOUT;
	if (rc == 0)
		rc = merge(c, run, block);
	if (rc < 0)
		free_payloads(run);
	return rc;
}

int weft_multi_get(weft_client *c, const char *cache, struct weft_mget_item *items, size_t n,
		   void **block)
{
	if (c == NULL || block == NULL || cache == NULL || items == NULL || n == 0 ||
	    n > WEFT_MAX_MULTI_GET)
		return -WEFT_ST_INVALID_ARG;
	size_t nl = strnlen(cache, WEFT_MAX_NAME_LEN + 1);
	if (nl == 0 || nl > WEFT_MAX_NAME_LEN)
		return -WEFT_ST_INVALID_ARG;
	for (size_t i = 0; i < n; i++)
		if (items[i].key == NULL || items[i].key_len == 0 ||
		    items[i].key_len > WEFT_MAX_KEY_LEN)
			return -WEFT_ST_INVALID_ARG;

	struct mget_run *run = calloc(1, sizeof(*run));
	if (run == NULL) {
		c->last_errno = ENOMEM;
		return -WEFT_ST_IO;
	}
	*run = (struct mget_run){ .cache = cache, .name_len = nl, .items = items, .n = n,
				  .deadline = weft_call_deadline(c) };
	int rc = c->routing ? weft_route_prepare(c, run->deadline) : 0;
	if (rc == 0 && weft_route_active(c)) {
		rc = routed_mget(c, run, block);
	} else if (rc == 0) {
		uint8_t idx[WEFT_MAX_MULTI_GET];
		for (size_t i = 0; i < n; i++)
			idx[i] = (uint8_t)i;
		rc = send_group(c, run, idx, n, NULL);
		if (rc == 0)
			rc = merge(c, run, block);
	}
	free(run);
	if (rc < 0)
		for (size_t i = 0; i < n; i++)
			items[i].value = NULL;
	return rc;
}
