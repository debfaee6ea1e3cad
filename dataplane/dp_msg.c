/*
 * dp_msg.c — the client ops of messaging (wire.h "Destinations") on a
 * worker lcore: where each is served, then DEST_OPEN, DEST_STOP, PUBLISH,
 * RECEIVE, ACK and UNSUBSCRIBE against msg/.
 *
 * Routing: a destination lives on the owners of its routing name's
 * segment. Its primary serves everything but plain topic subscriptions
 * (RECEIVE/ACK/UNSUBSCRIBE on a topic without a durable name), which the
 * node the client talks to serves itself. Elsewhere PUBLISH, DEST_OPEN and
 * DEST_STOP are forwarded to the primary (short answers: relayed); RECEIVE,
 * ACK and UNSUBSCRIBE are answered NOT_OWNER (the client re-fetches the
 * topology: a relayed long-poll would hold an RPC slot for its whole
 * wait). A request from a node (WEFT_F_NODE) is served where it lands.
 *
 * A primary whose membership lease has expired (dp_lease_ok) answers
 * everything but plain topic subscriptions BUSY.
 *
 * Writes (PUBLISH, ACK, UNSUBSCRIBE of a durable subscription, DEST_OPEN,
 * DEST_STOP) are answered once every other owner acked their records
 * (MSG_REPL); in a quorum-less minority they are refused NO_QUORUM, and
 * while an owner's address is unknown BUSY, before anything is applied.
 *
 * Caller: the worker lcore, an online QSBR reader; topo read once per
 * burst (NULL when none).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>

#include "dp_msg_internal.h"

static uint32_t seg_of(const struct weft_dp_members *t, uint64_t h)
{
	return weft_wire_segment(h, t->seg_log2);
}

bool dp_msg_is_primary(const struct weft_dp_members *t, uint64_t route_hash)
{
	if (!dp_members_has_table(t))
		return true;
	return t->seg_owner[(size_t)seg_of(t, route_hash) * t->owners] == t->self;
}

unsigned dp_msg_targets(const struct weft_dp_members *t, uint64_t route_hash, uint32_t *to,
			unsigned max)
{
	if (!dp_members_has_table(t))
		return 0;
	return dp_route_targets(t, WEFT_MODE_DISTRIBUTED, seg_of(t, route_hash), to, max);
}

void dp_msg_default_opts(struct weft_dest_opts *o)
{
	struct weft_x_dest_opts w;
	memset(&w, 0, sizeof(w));
	weft_dest_opts_from_wire(&w, o);
}

static uint64_t route_hash_of(const struct dp_req *req)
{
	const char *name = (const char *)req->name;
	return weft_cache_hash(name, weft_wire_dest_route_len(name, req->hdr.name_len));
}

/* The status of a msg/ error. */
static uint16_t status_of(int rc)
{
	switch (rc) {
	case -ENOENT: /* stopped since it was found */
		return WEFT_ST_NOT_FOUND;
	case -ENOSPC: /* a bound: depth, bytes, durable subscriptions */
		return WEFT_ST_FULL;
	case -EBUSY: /* waiters or consumers at their bound */
		return WEFT_ST_BUSY;
	case -EINVAL:
		return WEFT_ST_BAD_REQUEST;
	case -ENOMEM:
		return WEFT_ST_NO_MEMORY;
	default:
		return WEFT_ST_INTERNAL;
	}
}

static void fail(struct dp_lcore *lc, const struct dp_req *req, bool amo, uint16_t st)
{
	dp_answer_final(lc, req, amo, st, NULL, 0, NULL, 0);
}

/* --- replication of an op's records ---------------------------------------- */

struct async_arg {
	struct dp_lcore *lc;
	const struct weft_dp_members *topo;
};

static void repl_done(struct dp_lcore *lc, const struct dp_rpc_cookie *ck, uint16_t status,
		      const void *extras, uint16_t extras_len)
{
	(void)ck;
	(void)extras;
	(void)extras_len;
	/* A peer that left the view gets nothing more: the new view's state
	 * transfer brings the destination to its new owners. */
	if (status != WEFT_ST_OK && status != WEFT_ST_NOT_OWNER)
		lc->c.msg_repl_lost++;
}

static void send_async(void *arg, struct weft_dest *d, struct dp_rpc_msg *m)
{
	struct async_arg *a = arg;
	uint32_t to[WEFT_DP_MEMBERS_MAX];
	unsigned n = dp_msg_targets(a->topo, weft_dest_route_hash(d), to, WEFT_DP_MEMBERS_MAX);
	for (unsigned i = 0; i < n; i++) {
		struct dp_rpc_cookie ck = {.ip = a->topo->m[to[i]].ip,
					   .port = rte_cpu_to_be_16(a->topo->m[to[i]].port)};
		if (dp_rpc_notify(a->lc, ck.ip, ck.port, m, repl_done, &ck) == 0)
			a->lc->c.msg_repl_sent++;
		else
			a->lc->c.msg_repl_lost++;
	}
	dp_rpc_msg_put(m);
}

void dp_msg_replicate_async(struct dp_msg_ctx *x)
{
	if (x->n_recs == 0)
		return;
	if (x->lc->rpc == NULL || !dp_members_has_table(x->topo)) {
		dp_msg_ctx_release(x);
		return;
	}
	struct async_arg a = {x->lc, x->topo};
	dp_msg_ctx_flush(x, send_async, &a);
}

struct held_arg {
	struct async_arg a;
	const struct dp_hold_init *h;
	uint64_t route_hash;
	bool client_sent;
};

static void send_held(void *arg, struct weft_dest *d, struct dp_rpc_msg *m)
{
	struct held_arg *ha = arg;
	if (ha->client_sent) {
		send_async(&ha->a, d, m);
		return;
	}
	ha->client_sent = true;
	uint32_t to[WEFT_DP_MEMBERS_MAX];
	unsigned n = dp_msg_targets(ha->a.topo, ha->route_hash, to, WEFT_DP_MEMBERS_MAX);
	ha->a.lc->c.msg_repl_sent += n;
	dp_rpc_replicate(ha->a.lc, ha->a.topo, ha->h, m, to, n);
	dp_rpc_msg_put(m);
}

/* Answers req with (st, extras) once x's records reached the other owners
 * (at once when there are none or no other owner). */
static void finish(struct dp_msg_ctx *x, const struct dp_req *req, bool amo, uint16_t st,
		   const void *extras, uint16_t xl, uint64_t route_hash, struct dp_rpc_msg *extra)
{
	struct dp_lcore *lc = x->lc;
	uint32_t to[WEFT_DP_MEMBERS_MAX];
	unsigned n = lc->rpc != NULL ? dp_msg_targets(x->topo, route_hash, to, WEFT_DP_MEMBERS_MAX)
				     : 0;
	if (n == 0 || (x->n_recs == 0 && extra == NULL)) {
		dp_msg_ctx_release(x);
		dp_rpc_msg_put(extra);
		dp_answer_final(lc, req, amo, st, extras, xl, NULL, 0);
		return;
	}
	struct dp_hold_init h = {.req = req, .amo = amo,
				 .seg = seg_of(x->topo, route_hash), .mode = WEFT_MODE_DISTRIBUTED};
	h.resp.status = st;
	if (xl > 0 && xl <= DP_DEDUP_EXTRAS_MAX) {
		h.resp.extras_len = (uint8_t)xl;
		memcpy(h.resp.extras, extras, xl);
	}
	struct held_arg ha = {.a = {lc, x->topo}, .h = &h, .route_hash = route_hash};
	if (extra != NULL)
		send_held(&ha, NULL, extra);
	dp_msg_ctx_flush(x, send_held, &ha);
}

/* Whether a write must wait: an owner of its segment has no address yet
 * (its member record has not arrived): acked without it, the write would
 * miss an owner no transfer will fill. */
static bool owner_unknown(const struct weft_dp_members *t, uint64_t route_hash)
{
	uint32_t to[WEFT_DP_MEMBERS_MAX];
	unsigned n = dp_msg_targets(t, route_hash, to, WEFT_DP_MEMBERS_MAX);
	for (unsigned i = 0; i < n; i++)
		if (t->m[to[i]].ip == 0)
			return true;
	return false;
}

/* --- the ops ----------------------------------------------------------------- */

static struct weft_dest *dest_of(struct dp_lcore *lc, const struct weft_dp_members *topo,
				 const struct dp_req *req, uint16_t *st)
{
	struct weft_dest *d = weft_msg_find(lc->dp->msgs, (const char *)req->name,
					    req->hdr.name_len);
	if (d != NULL)
		return d;
	struct weft_dest_opts o;
	dp_msg_default_opts(&o);
	int rc = weft_msg_open(lc->dp->msgs, (const char *)req->name, req->hdr.name_len, &o, &d);
	if (rc == 0) {
		dp_msg_adopt(lc, topo, d);
		return d;
	}
	*st = rc == -EINVAL ? WEFT_ST_BAD_REQUEST : WEFT_ST_NO_MEMORY;
	return NULL;
}

/* At-most-once for a non-idempotent op on a destination (created with
 * defaults on first use): the destination, or NULL when req is answered
 * already (a retransmission, or no destination could be made). */
static struct weft_dest *claim_dest(struct dp_msg_ctx *x, const struct dp_req *req)
{
	if (!dp_dedup_claim(x->lc, req))
		return NULL;
	uint16_t st = WEFT_ST_INTERNAL;
	struct weft_dest *d = dest_of(x->lc, x->topo, req, &st);
	if (d == NULL)
		fail(x->lc, req, true, st);
	return d;
}

static void serve_open(struct dp_msg_ctx *x, const struct dp_req *req, uint64_t h)
{
	struct weft_x_dest_opts w;
	memcpy(&w, req->extras, sizeof(w));
	struct weft_dest_opts o;
	if (w.reserved != 0 || weft_dest_opts_from_wire(&w, &o) != 0) {
		fail(x->lc, req, false, WEFT_ST_BAD_REQUEST);
		return;
	}
	struct weft_dest *d;
	int rc = weft_msg_open(x->lc->dp->msgs, (const char *)req->name, req->hdr.name_len, &o,
			       &d);
	if (rc != 0) {
		fail(x->lc, req, false, rc == -EINVAL ? WEFT_ST_BAD_REQUEST : WEFT_ST_NO_MEMORY);
		return;
	}
	dp_msg_adopt(x->lc, x->topo, d);
	/* Every owner gets the destination with its options (an empty
	 * MSG_REPL creates it) before the client hears OK. */
	finish(x, req, false, WEFT_ST_OK, NULL, 0, h, dp_msg_repl_build(d, NULL, 0, NULL, 0));
}

static void serve_stop(struct dp_msg_ctx *x, const struct dp_req *req, uint64_t h)
{
	if (!dp_dedup_claim(x->lc, req))
		return;
	struct weft_msg_reg *reg = x->lc->dp->msgs;
	struct weft_dest *d = weft_msg_find(reg, (const char *)req->name, req->hdr.name_len);
	if (d == NULL) {
		fail(x->lc, req, true, WEFT_ST_NOT_FOUND);
		return;
	}
	struct dp_msg_rec stop = {.d = d, .kind = WEFT_MSGREC_STOP};
	struct dp_rpc_msg *m = dp_msg_repl_build(d, NULL, 0, &stop, 1);
	/* d stays readable until this lcore's next quiescent state. */
	if (weft_msg_stop(reg, (const char *)req->name, req->hdr.name_len, &x->sink) != 0) {
		dp_rpc_msg_put(m);
		fail(x->lc, req, true, WEFT_ST_NOT_FOUND);
		return;
	}
	finish(x, req, true, WEFT_ST_OK, NULL, 0, h, m);
}

static void serve_publish(struct dp_msg_ctx *x, const struct dp_req *req, uint64_t h)
{
	struct dp_lcore *lc = x->lc;
	struct weft_x_publish p;
	memcpy(&p, req->extras, sizeof(p));
	if (p.reserved != 0 || p.props_len > req->value_len || p.props_len > WEFT_MAX_PROPS_LEN ||
	    !weft_msg_props_valid(req->value, p.props_len)) {
		fail(lc, req, false, WEFT_ST_BAD_REQUEST);
		return;
	}
	if (req->value_len - p.props_len > WEFT_MAX_BODY_LEN) {
		fail(lc, req, false, WEFT_ST_VALUE_TOO_LARGE);
		return;
	}
	struct weft_dest *d = claim_dest(x, req);
	if (d == NULL)
		return;
	uint64_t now = dp_unix_ms();
	weft_dest_lock(d);
	uint64_t ttl = p.ttl_ms != 0 ? p.ttl_ms : weft_dest_get_opts(d)->default_ttl_ms;
	uint64_t expires = ttl == 0 || ttl == WEFT_TTL_NONE || ttl > UINT64_MAX - now ? 0 : now + ttl;
	struct weft_msg *m = weft_msg_new(weft_dest_next_id(d, now), expires, req->value,
					  p.props_len, req->value + p.props_len,
					  req->value_len - p.props_len);
	int rc = m != NULL ? weft_dest_publish(d, now, m, &x->sink) : -ENOMEM;
	weft_dest_unlock(d);
	struct weft_x_published out = {.id = m != NULL ? m->id : 0};
	weft_msg_unref(m);
	if (rc < 0) {
		dp_msg_ctx_release(x);
		fail(lc, req, true, status_of(rc));
		return;
	}
	out.fanout = (uint32_t)rc;
	finish(x, req, true, WEFT_ST_OK, &out, sizeof(out), h, NULL);
	if (weft_dest_kind(d) == WEFT_DEST_TOPIC)
		dp_msg_pump(lc, d, x->topo);
}

static void serve_receive(struct dp_msg_ctx *x, const struct dp_req *req)
{
	struct dp_lcore *lc = x->lc;
	struct weft_x_receive r;
	memcpy(&r, req->extras, sizeof(r));
	if (r.consumer_id == 0 || r.max == 0 || r.max > WEFT_MAX_RECEIVE ||
	    r.wait_ms > WEFT_MAX_RECEIVE_WAIT_MS || r.reserved != 0 || r.reserved2 != 0) {
		fail(lc, req, false, WEFT_ST_BAD_REQUEST);
		return;
	}
	struct weft_dest *d = claim_dest(x, req);
	if (d == NULL)
		return;
	uint8_t token[WEFT_MSG_TOKEN_LEN];
	dp_msg_token_of(req, true, token);
	struct weft_receive rq = {.consumer_id = r.consumer_id, .max = r.max, .wait_ms = r.wait_ms,
				  .visibility_ms = r.visibility_ms,
				  .sub = (const char *)req->key, .sub_len = req->hdr.key_len,
				  .token = token};
	struct weft_delivery dl;
	bool topic_local = weft_dest_kind(d) == WEFT_DEST_TOPIC && req->hdr.key_len == 0;
	weft_dest_lock(d);
	unsigned subs_before = topic_local ? weft_topic_local_subs(d) : 0;
	int rc = weft_dest_receive(d, dp_unix_ms(), &rq, &dl, &x->sink);
	unsigned subs_after = topic_local ? weft_topic_local_subs(d) : 0;
	weft_dest_unlock(d);
	if (rc == 1) {
		dp_msg_answer_delivery(lc, &dl);
		for (uint32_t i = 0; i < dl.n; i++)
			weft_msg_unref(dl.msg[i]);
	} else if (rc == 0) {
		lc->c.msg_parked++;
	} else {
		fail(lc, req, true, status_of(rc));
	}
	dp_msg_replicate_async(x); /* a durable subscription's creation */
	if (subs_before == 0 && subs_after > 0)
		dp_msg_join(lc, d, x->topo, subs_after); /* the node's first subscriber */
}

static void serve_ack(struct dp_msg_ctx *x, const struct dp_req *req, uint64_t h)
{
	struct dp_lcore *lc = x->lc;
	struct weft_x_ack a;
	memcpy(&a, req->extras, sizeof(a));
	if (a.consumer_id == 0 || (a.kind != WEFT_ACK_ACK && a.kind != WEFT_ACK_NACK) ||
	    a.count == 0 || a.count > WEFT_MAX_ACK || req->value_len != a.count * 8u) {
		fail(lc, req, false, WEFT_ST_BAD_REQUEST);
		return;
	}
	if (!dp_dedup_claim(lc, req))
		return;
	struct weft_x_acked out = {.unknown = a.count};
	struct weft_dest *d = weft_msg_find(lc->dp->msgs, (const char *)req->name,
					    req->hdr.name_len);
	if (d == NULL) {
		dp_answer_final(lc, req, true, WEFT_ST_OK, &out, sizeof(out), NULL, 0);
		return;
	}
	uint64_t ids[WEFT_MAX_ACK];
	memcpy(ids, req->value, req->value_len);
	weft_dest_lock(d);
	weft_dest_ack(d, dp_unix_ms(), a.consumer_id, (const char *)req->key, req->hdr.key_len,
		      (enum weft_ack_kind)a.kind, ids, a.count, &out.done, &out.unknown, &x->sink);
	weft_dest_unlock(d);
	finish(x, req, true, WEFT_ST_OK, &out, sizeof(out), h, NULL);
}

static void serve_unsubscribe(struct dp_msg_ctx *x, const struct dp_req *req, uint64_t h)
{
	struct weft_x_unsubscribe u;
	memcpy(&u, req->extras, sizeof(u));
	if (u.consumer_id == 0) {
		fail(x->lc, req, false, WEFT_ST_BAD_REQUEST);
		return;
	}
	struct weft_dest *d = weft_msg_find(x->lc->dp->msgs, (const char *)req->name,
					    req->hdr.name_len);
	if (d == NULL) {
		fail(x->lc, req, false, req->hdr.key_len ? WEFT_ST_NOT_FOUND : WEFT_ST_OK);
		return;
	}
	weft_dest_lock(d);
	int rc = weft_dest_unsubscribe(d, dp_unix_ms(), u.consumer_id, (const char *)req->key,
				       req->hdr.key_len, &x->sink);
	weft_dest_unlock(d);
	finish(x, req, false, rc == 0 ? WEFT_ST_OK : WEFT_ST_NOT_FOUND, NULL, 0, h, NULL);
}

/* A durable subscription name: 1..64 printable ASCII bytes, no spaces. */
static bool sub_valid(const struct dp_req *req)
{
	if (req->hdr.key_len > WEFT_MAX_NAME_LEN)
		return false;
	for (uint16_t i = 0; i < req->hdr.key_len; i++)
		if (req->key[i] < 0x21 || req->key[i] > 0x7e)
			return false;
	return true;
}

static bool is_write(uint8_t op, uint16_t key_len)
{
	return op == WEFT_OP_PUBLISH || op == WEFT_OP_ACK || op == WEFT_OP_DEST_OPEN ||
	       op == WEFT_OP_DEST_STOP || (op == WEFT_OP_UNSUBSCRIBE && key_len > 0);
}

void dp_msg_serve(struct dp_lcore *lc, const struct dp_req *req,
		  const struct weft_dp_members *topo)
{
	uint8_t op = req->hdr.opcode;
	enum weft_dest_kind kind = weft_dest_kind_of((const char *)req->name, req->hdr.name_len);
	if (kind == WEFT_DEST_INVALID || !sub_valid(req) ||
	    (req->hdr.key_len > 0 && kind != WEFT_DEST_TOPIC)) {
		fail(lc, req, false, WEFT_ST_BAD_REQUEST);
		return;
	}
	bool local_topic = kind == WEFT_DEST_TOPIC && req->hdr.key_len == 0 &&
			   (op == WEFT_OP_RECEIVE || op == WEFT_OP_ACK || op == WEFT_OP_UNSUBSCRIBE);
	uint64_t h = route_hash_of(req);
	if (!local_topic && !(req->hdr.flags & WEFT_F_NODE) && !dp_msg_is_primary(topo, h)) {
		lc->c.not_owner++;
		if (op == WEFT_OP_PUBLISH || op == WEFT_OP_DEST_OPEN || op == WEFT_OP_DEST_STOP)
			dp_rpc_forward(lc, topo, req,
				       topo->seg_owner[(size_t)seg_of(topo, h) * topo->owners]);
		else
			fail(lc, req, false, WEFT_ST_NOT_OWNER);
		return;
	}
	if (!local_topic && !dp_lease_ok(lc)) {
		lc->c.lease_busy++; /* dp_lease_ok: maybe replaced as primary */
		fail(lc, req, false, WEFT_ST_BUSY);
		return;
	}
	if (!local_topic && is_write(op, req->hdr.key_len) && topo != NULL) {
		if (topo->no_quorum) {
			lc->c.no_quorum++;
			fail(lc, req, false, WEFT_ST_NO_QUORUM);
			return;
		}
		if (owner_unknown(topo, h)) {
			fail(lc, req, false, WEFT_ST_BUSY);
			return;
		}
	}
	struct dp_msg_ctx *x = malloc(sizeof(*x));
	if (x == NULL) {
		fail(lc, req, false, WEFT_ST_NO_MEMORY);
		return;
	}
	dp_msg_ctx_init(x, lc, topo, false);
	switch (op) {
	case WEFT_OP_DEST_OPEN:
		serve_open(x, req, h);
		break;
	case WEFT_OP_DEST_STOP:
		serve_stop(x, req, h);
		break;
	case WEFT_OP_PUBLISH:
		serve_publish(x, req, h);
		break;
	case WEFT_OP_RECEIVE:
		serve_receive(x, req);
		break;
	case WEFT_OP_ACK:
		serve_ack(x, req, h);
		break;
	case WEFT_OP_UNSUBSCRIBE:
		serve_unsubscribe(x, req, h);
		break;
	default:
		fail(lc, req, false, WEFT_ST_UNKNOWN_OP);
		break;
	}
	dp_msg_ctx_release(x);
	free(x);
}
