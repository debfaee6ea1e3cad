/*
 * dp_serve.c — serving validated weft requests against the caches.
 *
 * Stages over a burst: (1) resolve each request's cache (lookup, or
 * lookup-or-create with default options as the tutorial's caches do), hash
 * its key once (weft_cache_hash) and count a key whose segment this node
 * does not own (topology snapshot read once per burst); (2) all single-key
 * GETs of the burst, grouped per cache, go to weft_cache_get_burst, one call
 * per cache; (3) the other ops run one by one (a write is per key).
 *
 * SESSION ops (dp_sess.c) are keyed writes: checked in stage 1 (before they
 * could be forwarded), routed like writes, served in stage 3; the wall
 * clock they need is read once per burst. Plain keyed writes to a session
 * store never get here (dp_req.c refuses them).
 *
 * Address validation (dp_amp.c): first in stage 1, a request from an
 * unverified source whose answer could outgrow it is answered COOKIE and
 * goes no further (no cache created, nothing forwarded or applied).
 *
 * At-most-once: a non-idempotent op (weft_wire_op_is_idempotent false) first
 * claims its (client address, client_id, request_id) in the dedup table: a
 * retransmission of an applied op is answered with the remembered response,
 * one of an op still being applied elsewhere is dropped (counted).
 *
 * Value pointers returned by the cache are valid only until this lcore's
 * next quiescent state: they are copied into response datagrams (or into the
 * response memory) before dp_serve_burst returns.
 *
 * Caller: the worker lcore, an online QSBR reader.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <urcu-qsbr.h>

#include "dp_msg_internal.h"

bool dp_is_error_status(uint16_t st)
{
	return st != WEFT_ST_OK && st != WEFT_ST_NOT_FOUND && st != WEFT_ST_EXISTS &&
	       st != WEFT_ST_VERSION_MISMATCH && st != WEFT_ST_FENCED && st != WEFT_ST_NO_SESSION;
}

static void answer(struct dp_lcore *lc, const struct dp_req *req, uint16_t st, const void *x,
		   uint16_t xl, const void *v, uint32_t vl)
{
	if (dp_is_error_status(st))
		lc->c.errors++;
	dp_answer(lc, req, st, x, xl, v, vl);
}

uint16_t dp_status_of(int rc, uint8_t opcode, uint16_t key_len)
{
	switch (rc) {
	case 0:
		return WEFT_ST_OK;
	case -ENOENT:
		return WEFT_ST_NOT_FOUND;
	case -EEXIST:
		return WEFT_ST_EXISTS;
	case -ESTALE:
		return WEFT_ST_VERSION_MISMATCH;
	case -EINVAL:
		return opcode == WEFT_OP_INCR ? WEFT_ST_NOT_NUMERIC : WEFT_ST_BAD_REQUEST;
	case -ERANGE:
		return WEFT_ST_OVERFLOW;
	case -E2BIG:
		return key_len > WEFT_MAX_KEY_LEN ? WEFT_ST_KEY_TOO_LONG : WEFT_ST_VALUE_TOO_LARGE;
	case -ENOMEM:
		return WEFT_ST_NO_MEMORY;
	case -EPERM:
		return WEFT_ST_FENCED;
	default:
		return WEFT_ST_INTERNAL;
	}
}

static uint16_t status_of(int rc, const struct dp_req *req)
{
	return dp_status_of(rc, req->hdr.opcode, req->hdr.key_len);
}

/* The mode a cache opened without one gets: distributed in a cluster. */
static uint32_t default_mode(const struct weft_dp *dp)
{
	return dp->ctl != NULL ? WEFT_MODE_DISTRIBUTED : WEFT_MODE_LOCAL;
}

/* The request's cache, created with defaults if absent; NULL with *st set. */
static struct weft_cache *cache_of(struct dp_lcore *lc, const struct dp_req *req, uint16_t *st)
{
	const char *name = (const char *)req->name;
	struct weft_cache *c = weft_cache_find(lc->dp->reg, name, req->hdr.name_len);
	if (c != NULL)
		return c;
	struct weft_cache_opts o = {.mode = default_mode(lc->dp)};
	c = weft_cache_open(lc->dp->reg, name, req->hdr.name_len, &o, NULL);
	if (c == NULL)
		*st = errno == ENOMEM || errno == ENOSPC ? WEFT_ST_NO_MEMORY : WEFT_ST_BAD_REQUEST;
	return c;
}

/* Lookup-or-create; a cache created in a cluster is announced to every
 * other member (with its options and mode) before the client hears OK. A
 * session store opened with a mode other than DISTRIBUTED (or the default)
 * is BAD_CACHE_OPTS. */
static void serve_cache_open(struct dp_lcore *lc, const struct dp_req *req,
			     const struct weft_dp_members *topo)
{
	struct weft_x_cache_opts x;
	memcpy(&x, req->extras, sizeof(x));
	/* A session store is DISTRIBUTED (wire.h "Sessions"): no other mode. */
	bool sessions = weft_wire_is_session_store((const char *)req->name, req->hdr.name_len);
	if (x.mode >= WEFT_MODE__COUNT || x.reserved != 0 ||
	    (sessions && x.mode != WEFT_MODE_DEFAULT && x.mode != WEFT_MODE_DISTRIBUTED)) {
		answer(lc, req, WEFT_ST_BAD_CACHE_OPTS, NULL, 0, NULL, 0);
		return;
	}
	struct weft_cache_opts o = {.mode = x.mode ? x.mode : default_mode(lc->dp),
				    .max_bytes = x.max_bytes, .max_entries = x.max_entries,
				    .default_ttl_ms = x.default_ttl_ms,
				    .default_max_idle_ms = x.default_max_idle_ms};
	bool created = false;
	struct weft_cache *c = weft_cache_open(lc->dp->reg, (const char *)req->name,
					       req->hdr.name_len, &o, &created);
	if (c == NULL) {
		answer(lc, req,
		       errno == ENOMEM || errno == ENOSPC ? WEFT_ST_NO_MEMORY : WEFT_ST_BAD_CACHE_OPTS,
		       NULL, 0, NULL, 0);
		return;
	}
	if (created)
		dp_route_after_open(lc, topo, req, c);
	else
		answer(lc, req, WEFT_ST_OK, NULL, 0, NULL, 0);
}

static void serve_stats(struct dp_lcore *lc, const struct dp_req *req)
{
	size_t need = weft_dp_stats_format(lc->dp, NULL, 0) + 1;
	char *buf = need <= WEFT_MAX_RESP_LEN ? malloc(need + 1024) : NULL;
	if (buf == NULL) {
		answer(lc, req, WEFT_ST_NO_MEMORY, NULL, 0, NULL, 0);
		return;
	}
	/* Counters move between the two calls: leave slack, clip at a line. */
	size_t len = weft_dp_stats_format(lc->dp, buf, need + 1024);
	if (len >= need + 1024) {
		len = need + 1023;
		while (len > 0 && buf[len - 1] != '\n')
			len--;
	}
	dp_answer_owned(lc, req, WEFT_ST_OK, 0, (uint8_t *)buf, (uint32_t)len);
}

static void serve_members(struct dp_lcore *lc, const struct dp_req *req)
{
	size_t len;
	char *buf = dp_members_text(lc->dp, dp_unix_ms(), &len);
	if (buf == NULL) {
		answer(lc, req, WEFT_ST_NO_MEMORY, NULL, 0, NULL, 0);
		return;
	}
	dp_answer_owned(lc, req, WEFT_ST_OK, 0, (uint8_t *)buf, (uint32_t)len);
}

static void serve_apps(struct dp_lcore *lc, const struct dp_req *req)
{
	size_t len = 0;
	uint8_t *text = dp_apps_text(lc->dp, &len);
	if (text == NULL)
		answer(lc, req, WEFT_ST_NO_MEMORY, NULL, 0, NULL, 0);
	else
		dp_answer_owned(lc, req, WEFT_ST_OK, 0, text, (uint32_t)len);
}

static void serve_topology(struct dp_lcore *lc, const struct dp_req *req)
{
	size_t len;
	uint8_t *buf = weft_dp_topology_encode(lc->dp, &len);
	if (buf == NULL) {
		answer(lc, req, WEFT_ST_NO_MEMORY, NULL, 0, NULL, 0);
		return;
	}
	dp_answer_owned(lc, req, WEFT_ST_OK, 0, buf, (uint32_t)len);
}

bool dp_dedup_claim(struct dp_lcore *lc, const struct dp_req *req)
{
	struct dp_msg_id id = dp_req_msg_id(req);
	struct dp_dedup_resp r;
	switch (dp_dedup_begin(lc->dp->dedup, &id, lc->now_ms, &r)) {
	case DP_DEDUP_DONE:
		lc->c.dedup_replays++;
		answer(lc, req, r.status, r.extras, r.extras_len, NULL, 0);
		return false;
	case DP_DEDUP_INFLIGHT:
		lc->c.drops[DP_DROP_DEDUP_INFLIGHT]++;
		return false;
	case DP_DEDUP_NEW:
		break;
	}
	return true;
}

void dp_answer_final(struct dp_lcore *lc, const struct dp_req *req, bool amo, uint16_t status,
		     const void *extras, uint16_t extras_len, const void *value,
		     uint32_t value_len)
{
	if (amo) {
		struct dp_msg_id id = dp_req_msg_id(req);
		struct dp_dedup_resp d = {.status = status, .extras_len = 0};
		if (extras_len > 0 && extras_len <= DP_DEDUP_EXTRAS_MAX) {
			d.extras_len = (uint8_t)extras_len;
			memcpy(d.extras, extras, extras_len);
		}
		dp_dedup_finish(lc->dp->dedup, &id, &d);
	}
	answer(lc, req, status, extras, extras_len, value, value_len);
}

static void serve_fetch(struct dp_lcore *lc, const struct dp_req *req)
{
	struct weft_x_fetch f;
	memcpy(&f, req->extras, sizeof(f));
	struct dp_msg_id id = dp_req_msg_id(req);
	struct dp_emit_ctx x = {lc, &req->flow};
	int rc = dp_resp_fetch(lc->dp->resp, &id, f.offset, f.count, lc->now_ms, dp_emit_cb, &x);
	if (rc == -ENOENT)
		answer(lc, req, WEFT_ST_GONE, NULL, 0, NULL, 0);
	else if (rc < 0)
		answer(lc, req, WEFT_ST_BAD_REQUEST, NULL, 0, NULL, 0);
	else if (rc == 0) /* offset past the end of the kept response */
		answer(lc, req, WEFT_ST_BAD_REQUEST, NULL, 0, NULL, 0);
}

/* Keys this node does not own (a distributed cache, a client request) are
 * answered NOT_OWNER entry by entry: the client asks their owners. */
static void serve_multi_get(struct dp_lcore *lc, const struct dp_req *req, struct weft_cache *c,
			    const struct weft_dp_members *topo)
{
	uint8_t mode = (req->hdr.flags & WEFT_F_NODE) ? WEFT_MODE_LOCAL : dp_cache_mode(lc->dp, c);
	bool mine[WEFT_MAX_MULTI_GET];
	struct weft_cache_key keys[WEFT_MAX_MULTI_GET];
	struct weft_cache_value vals[WEFT_MAX_MULTI_GET];
	bool found[WEFT_MAX_MULTI_GET];
	uint16_t count;
	memcpy(&count, req->value, 2);
	uint32_t pos = 0;
	unsigned n = 0;
	const uint8_t *k;
	uint16_t kl;
	while (n < count && dp_mget_next(req->value, req->value_len, &pos, &k, &kl)) {
		keys[n].data = k;
		keys[n].len = kl;
		keys[n].hash = weft_cache_hash(k, kl);
		mine[n] = dp_route_owns(topo, mode, keys[n].hash);
		lc->c.not_owner += !mine[n];
		n++;
	}
	if (n > 0) {
		weft_cache_get_burst(c, keys, n, lc->now_ms, vals, found);
		lc->c.get_bursts++;
	}
	for (unsigned i = 0; i < n; i++)
		found[i] = found[i] && mine[i];
	uint64_t size = 2;
	for (unsigned i = 0; i < n; i++)
		size += sizeof(struct weft_mget_entry_hdr) + keys[i].len + (found[i] ? vals[i].len : 0);
	if (size > WEFT_MAX_RESP_LEN) {
		answer(lc, req, WEFT_ST_VALUE_TOO_LARGE, NULL, 0, NULL, 0);
		return;
	}
	uint8_t *out = malloc(size);
	if (out == NULL) {
		answer(lc, req, WEFT_ST_NO_MEMORY, NULL, 0, NULL, 0);
		return;
	}
	uint16_t cnt = (uint16_t)n;
	memcpy(out, &cnt, 2);
	uint8_t *p = out + 2;
	for (unsigned i = 0; i < n; i++) {
		struct weft_mget_entry_hdr e = {
			.status = found[i] ? WEFT_ST_OK : mine[i] ? WEFT_ST_NOT_FOUND : WEFT_ST_NOT_OWNER,
			.key_len = keys[i].len,
			.value_len = found[i] ? vals[i].len : 0,
			.version = found[i] ? vals[i].version : 0,
		};
		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
		memcpy(p, keys[i].data, keys[i].len);
		p += keys[i].len;
		if (found[i]) {
			memcpy(p, vals[i].data, vals[i].len);
			p += vals[i].len;
		}
	}
	dp_answer_owned(lc, req, WEFT_ST_OK, 0, out, (uint32_t)size);
}

/* Applies one write op; fills the response's status and extras (and a
 * DELETE's version in *delete_version). */
/* Whether a fenced write may apply: this node's copy of the singleton's
 * claim (WEFT_SINGLETON_CACHE, replicated to every node) is held with the
 * writer's epoch. 0, -EPERM (FENCED: no claim, released, or another
 * epoch), -EINVAL (malformed extras). */
static int fence_check(struct dp_lcore *lc, const struct weft_x_fenced_write *x)
{
	bool zero = true;
	for (unsigned i = 0; i < sizeof(x->reserved); i++)
		zero &= x->reserved[i] == 0;
	if (!zero || x->singleton_len == 0 || x->singleton_len > WEFT_SINGLETON_NAME_MAX)
		return -EINVAL;
	struct weft_cache *claims = weft_cache_find(lc->dp->reg, WEFT_SINGLETON_CACHE,
						    sizeof(WEFT_SINGLETON_CACHE) - 1);
	if (claims == NULL)
		return -EPERM;
	struct weft_cache_key k = {.data = (const uint8_t *)x->singleton,
				   .len = x->singleton_len,
				   .hash = weft_cache_hash(x->singleton, x->singleton_len)};
	struct weft_cache_image img;
	struct weft_singleton_claim claim;
	if (weft_cache_peek(claims, &k, lc->now_ms, &img) != 0 || img.value_len != sizeof(claim))
		return -EPERM;
	memcpy(&claim, img.value, sizeof(claim));
	return claim.kind == WEFT_CLAIM_HELD && claim.epoch == x->epoch ? 0 : -EPERM;
}

static void apply_write(struct dp_lcore *lc, const struct dp_req *req, struct weft_cache *c,
			struct dp_dedup_resp *r, uint64_t *delete_version)
{
	struct weft_cache_key key = {.data = req->key, .len = req->hdr.key_len,
				     .hash = req->key_hash};
	uint64_t version = 0;
	int rc;
	r->extras_len = 0;
	switch (req->hdr.opcode) {
	case WEFT_OP_PUT:
	case WEFT_OP_PUT_IF_ABSENT:
	case WEFT_OP_REPLACE:
	case WEFT_OP_TOUCH: {
		struct weft_x_write x;
		memcpy(&x, req->extras, sizeof(x));
		struct weft_cache_write w = {.ttl_ms = x.ttl_ms, .max_idle_ms = x.max_idle_ms};
		if (req->hdr.opcode == WEFT_OP_TOUCH) {
			rc = weft_cache_touch(c, &key, &w, lc->now_ms, &version);
		} else {
			enum weft_cache_put_mode mode =
				req->hdr.opcode == WEFT_OP_PUT ? WEFT_CACHE_PUT
				: req->hdr.opcode == WEFT_OP_REPLACE ? WEFT_CACHE_REPLACE
								      : WEFT_CACHE_PUT_IF_ABSENT;
			rc = weft_cache_put(c, &key, req->value, req->value_len, mode, 0, &w,
					    lc->now_ms, &version);
		}
		break;
	}
	case WEFT_OP_PUT_FENCED: {
		struct weft_x_fenced_write x;
		memcpy(&x, req->extras, sizeof(x));
		rc = fence_check(lc, &x);
		if (rc == 0) {
			struct weft_cache_write w = {.ttl_ms = x.ttl_ms, .max_idle_ms = x.max_idle_ms};
			rc = weft_cache_put(c, &key, req->value, req->value_len, WEFT_CACHE_PUT, 0,
					    &w, lc->now_ms, &version);
		}
		break;
	}
	case WEFT_OP_CAS: {
		struct weft_x_cas x;
		memcpy(&x, req->extras, sizeof(x));
		struct weft_cache_write w = {.ttl_ms = x.ttl_ms, .max_idle_ms = x.max_idle_ms};
		rc = weft_cache_put(c, &key, req->value, req->value_len, WEFT_CACHE_CAS,
				    x.expected_version, &w, lc->now_ms, &version);
		break;
	}
	case WEFT_OP_DELETE:
		rc = weft_cache_delete(c, &key, lc->now_ms, delete_version);
		r->status = status_of(rc, req);
		return;
	case WEFT_OP_INCR: {
		struct weft_x_incr x;
		memcpy(&x, req->extras, sizeof(x));
		struct weft_cache_write w = {.ttl_ms = x.ttl_ms, .max_idle_ms = 0};
		struct weft_x_counter out = {0, 0};
		rc = weft_cache_incr(c, &key, x.delta, &w, lc->now_ms, &out.value, &out.version);
		r->status = status_of(rc, req);
		if (rc == 0) {
			memcpy(r->extras, &out, sizeof(out));
			r->extras_len = sizeof(out);
		}
		return;
	}
	default:
		r->status = WEFT_ST_INTERNAL;
		return;
	}
	r->status = status_of(rc, req);
	if (rc == 0 || rc == -EEXIST || rc == -ESTALE) {
		struct weft_x_version xv = {version};
		memcpy(r->extras, &xv, sizeof(xv));
		r->extras_len = sizeof(xv);
	}
}

static void serve_write(struct dp_lcore *lc, const struct dp_req *req, struct weft_cache *c,
			const struct weft_dp_members *topo)
{
	bool amo = !weft_wire_op_is_idempotent(req->hdr.opcode);
	if (amo && !dp_dedup_claim(lc, req))
		return;
	struct dp_dedup_resp r;
	uint64_t delete_version = 0;
	apply_write(lc, req, c, &r, &delete_version);
	dp_route_after_write(lc, topo, req, c, amo, &r, delete_version);
}

/* GETs of one cache, in one weft_cache_get_burst call. A miss may be read
 * through to the segment's old owner (dp_route_read_through). */
static void serve_gets(struct dp_lcore *lc, struct dp_req *reqs, struct weft_cache *c,
		       const unsigned *idx, unsigned n, const struct weft_dp_members *topo)
{
	struct weft_cache_key keys[DP_BURST];
	struct weft_cache_value vals[DP_BURST];
	bool found[DP_BURST];
	for (unsigned i = 0; i < n; i++) {
		const struct dp_req *r = &reqs[idx[i]];
		keys[i].data = r->key;
		keys[i].len = r->hdr.key_len;
		keys[i].hash = r->key_hash;
	}
	weft_cache_get_burst(c, keys, n, lc->now_ms, vals, found);
	lc->c.get_bursts++;
	for (unsigned i = 0; i < n; i++) {
		const struct dp_req *r = &reqs[idx[i]];
		if (!found[i]) {
			if (!dp_route_read_through(lc, topo, r, c))
				answer(lc, r, WEFT_ST_NOT_FOUND, NULL, 0, NULL, 0);
			continue;
		}
		struct weft_x_version xv = {vals[i].version};
		answer(lc, r, WEFT_ST_OK, &xv, sizeof(xv), vals[i].data, vals[i].len);
	}
}

void dp_serve_burst(struct dp_lcore *lc, struct dp_req *reqs, unsigned n)
{
	struct weft_cache *cache[DP_BURST];
	bool get[DP_BURST];
	bool cookied[DP_BURST]; /* answered COOKIE: stage 3 skips it */
	unsigned n_get = 0;
	bool wall_read = false;
	const struct weft_dp_members *topo = dp_members_current(lc->dp);

	/* Stage 1: count, resolve caches, hash keys once. */
	for (unsigned i = 0; i < n; i++) {
		struct dp_req *r = &reqs[i];
		uint8_t op = r->hdr.opcode;
		lc->c.requests[op]++;
		cache[i] = NULL;
		get[i] = false;
		cookied[i] = false;
		if (unlikely(r->flow.amp_budget != 0) && dp_amp_needs_cookie(r)) {
			dp_amp_answer_cookie(lc, r); /* before any side effect */
			cookied[i] = true;
			continue;
		}
		if (op == WEFT_OP_SESSION) {
			if (!wall_read) { /* sessions' clock: once per burst */
				lc->unix_ms = dp_unix_ms();
				wall_read = true;
			}
			if (!dp_sess_precheck(lc, r, topo))
				continue; /* answered */
		}
		if (op == WEFT_OP_PING || op == WEFT_OP_STATS || op == WEFT_OP_FETCH ||
		    op == WEFT_OP_CACHE_OPEN || op == WEFT_OP_MEMBERS || op == WEFT_OP_TOPOLOGY ||
		    op == WEFT_OP_REPLICATE || weft_wire_op_is_dest(op) ||
		    op == WEFT_OP_DESTINATIONS || op == WEFT_OP_APPS)
			continue; /* no cache; messaging is served in stage 3 */
		uint16_t st = WEFT_ST_INTERNAL;
		cache[i] = cache_of(lc, r, &st);
		if (cache[i] == NULL) {
			answer(lc, r, st, NULL, 0, NULL, 0);
			continue;
		}
		if (r->hdr.key_len) {
			r->key_hash = weft_cache_hash(r->key, r->hdr.key_len);
			if (dp_route_request(lc, topo, r, cache[i]) != DP_ROUTE_LOCAL) {
				cache[i] = NULL; /* forwarded or answered */
				continue;
			}
		}
		if (op == WEFT_OP_GET) {
			get[i] = true;
			n_get++;
		} else if (!weft_wire_op_is_idempotent(op)) {
			struct dp_msg_id id = dp_req_msg_id(r);
			dp_dedup_prefetch(lc->dp->dedup, &id); /* read by stage 3's claim */
		}
	}

	/* Stage 2: GETs, one get_burst per distinct cache. */
	while (n_get > 0) {
		unsigned idx[DP_BURST], m = 0;
		struct weft_cache *c = NULL;
		for (unsigned i = 0; i < n; i++) {
			if (!get[i] || (c != NULL && cache[i] != c))
				continue;
			c = cache[i];
			get[i] = false;
			idx[m++] = i;
		}
		serve_gets(lc, reqs, c, idx, m, topo);
		n_get -= m;
	}

	/* Stage 3: everything else, in arrival order. */
	for (unsigned i = 0; i < n; i++) {
		const struct dp_req *r = &reqs[i];
		if (unlikely(cookied[i]))
			continue;
		switch (r->hdr.opcode) {
		case WEFT_OP_GET:
			break;
		case WEFT_OP_PING:
			answer(lc, r, WEFT_ST_OK, NULL, 0, NULL, 0);
			break;
		case WEFT_OP_STATS:
			serve_stats(lc, r);
			break;
		case WEFT_OP_MEMBERS:
			serve_members(lc, r);
			break;
		case WEFT_OP_TOPOLOGY:
			serve_topology(lc, r);
			break;
		case WEFT_OP_FETCH:
			serve_fetch(lc, r);
			break;
		case WEFT_OP_CACHE_OPEN:
			serve_cache_open(lc, r, topo);
			break;
		case WEFT_OP_REPLICATE:
			dp_repl_serve(lc, r);
			break;
		case WEFT_OP_DEST_OPEN:
		case WEFT_OP_DEST_STOP:
		case WEFT_OP_PUBLISH:
		case WEFT_OP_RECEIVE:
		case WEFT_OP_ACK:
		case WEFT_OP_UNSUBSCRIBE:
			dp_msg_serve(lc, r, topo);
			break;
		case WEFT_OP_DESTINATIONS:
			dp_msg_serve_destinations(lc, r);
			break;
		case WEFT_OP_APPS:
			serve_apps(lc, r);
			break;
		case WEFT_OP_MSG_REPL:
		case WEFT_OP_TOPIC_JOIN:
		case WEFT_OP_TOPIC_DELIVER:
			dp_msg_serve_node(lc, r, topo);
			break;
		case WEFT_OP_MULTI_GET:
			if (cache[i] != NULL)
				serve_multi_get(lc, r, cache[i], topo);
			break;
		case WEFT_OP_SESSION:
			if (cache[i] != NULL)
				dp_sess_serve(lc, r, cache[i], topo);
			break;
		default:
			if (cache[i] != NULL)
				serve_write(lc, r, cache[i], topo);
			break;
		}
	}
}
