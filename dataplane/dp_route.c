/*
 * dp_route.c — where a keyed request is served in a cluster, and what a
 * local write must tell the other nodes, by cache mode (wire.h):
 *
 *   mode         reads                         writes
 *   LOCAL        here                          here
 *   DISTRIBUTED  an owner (else forwarded to   the segment's primary (else
 *                the primary)                  forwarded), then REPLICATE to
 *                                              the other owners
 *   REPLICATED   here                          the segment's primary (else
 *                                              forwarded), then REPLICATE to
 *                                              every other member
 *   INVALIDATED  here                          here, then INVALIDATE on every
 *                                              other member
 *
 * Read-through: for a while after a view change, a GET that misses on a
 * node that just became an owner of the key's segment is asked of the
 * segment's old owner (seg_prev in the snapshot) before NOT_FOUND: the
 * state transfer may not have brought the key yet. A SESSION op (not a
 * CREATE) that finds no record on a node that just became the segment's
 * acting primary is sent there too (dp_sess.c): the old owner, not the
 * acting primary of its view, serves it on its copy and replicates the
 * result to the new view's owners, this node included. When that old
 * owner is DEAD in the snapshot (a crashed primary not yet dropped from
 * the view, and no ALIVE old owner to pick instead: ctl_readthrough.c),
 * the op is answered BUSY rather than NO_SESSION from a store that may
 * not hold the record yet: the client retries, and the next view (which
 * drops the dead member) or the state transfer settles it.
 *
 * A clustered node that is in no view yet (started or restarted: only the
 * self-only snapshot of view 0) answers every SESSION op BUSY, a node
 * request too: its store is empty while the sessions live on the owners
 * of the cluster's view (the client retries, and the view comes within a
 * second or two). So does a node that does not own the segment of a
 * CREATE forwarded to it (the sender's view is older than its own).
 *
 * A node outside the view it holds (self NONE: it left and hears the view
 * without it, or a new life hears one listing its previous life) owns
 * nothing: a client's GET or write of a distributed or replicated cache
 * goes to the segment's acting primary in that view (BUSY when that is
 * this node's own address, a previous life not dropped yet); a node
 * request is answered BUSY; MULTI_GET marks every key NOT_OWNER. Served
 * here, a read would come from a stale or empty store and a write would
 * be acknowledged unreplicated.
 *
 * A request from a node (WEFT_F_NODE) is never forwarded again, but for
 * that session read-through: when two nodes briefly disagree on the view,
 * the receiver serves it rather than bounce it. A node request reaching
 * the session read-through is one a non-primary forwarded to this primary
 * (the usual path of a client with an old table); the old owner it goes
 * to, not the acting primary in the same view, serves it. Only views that
 * disagree (a segment moved away and back within one view's propagation)
 * could pass it on once more, until the views agree.
 *
 * In a quorum-less minority (snapshot no_quorum) every write to a shared
 * cache is refused with NO_QUORUM before anything is applied.
 *
 * While the membership lease has expired (dp_lease_ok: the node was paused
 * or its control thread stalled long enough that the others may have
 * declared it dead and moved its segments on), a GET or write of a
 * distributed or replicated cache, a SESSION op, a client's or a node's,
 * is answered BUSY before anything is read or applied.
 *
 * The client is answered only once every target acked the replication (or
 * left the view, the copy then re-sent to the segment's new owners):
 * synchronous replication, so an acknowledged write survives the loss of
 * fewer than `owners` nodes.
 *
 * Caller: the worker lcore, an online QSBR reader; topo is the snapshot
 * read once per burst (NULL when none is published).
 */
#include <string.h>

#include <rte_byteorder.h>
#include <urcu/urcu-qsbr.h>

#include "dp_internal.h"

uint8_t dp_cache_mode(const struct weft_dp *dp, const struct weft_cache *c)
{
	if (dp->ctl == NULL)
		return WEFT_MODE_LOCAL;
	struct weft_cache_opts o;
	weft_cache_get_opts(c, &o);
	return o.mode == 0 ? WEFT_MODE_LOCAL : (uint8_t)o.mode;
}

/* The keyed ops that change an entry. */
static bool is_write(uint8_t op)
{
	return op != WEFT_OP_GET && weft_wire_op_has_key(op);
}

static bool live(const struct weft_dp_member *m)
{
	return m->state == WEFT_DP_MEMBER_ALIVE || m->state == WEFT_DP_MEMBER_SUSPECT;
}

/* A replication target: every member of the view but one that left
 * gracefully (it handed its segments over). A member declared dead is
 * still a target while the view lists it: if it is alive after all (a
 * false DOWN that it refutes), it gets the copy; if not, the next view
 * drops it and the copy goes to the segment's new owners (dp_rpc.c). */
static bool target(const struct weft_dp_member *m)
{
	return m->state != WEFT_DP_MEMBER_LEFT;
}

unsigned dp_route_targets(const struct weft_dp_members *t, uint8_t mode, uint32_t seg,
			  uint32_t *to, unsigned max)
{
	unsigned n = 0;
	if (!dp_members_has_table(t))
		return 0;
	if (mode == WEFT_MODE_DISTRIBUTED) {
		const uint16_t *o = t->seg_owner + (size_t)seg * t->owners;
		for (unsigned i = 0; i < t->owners && n < max; i++)
			if (o[i] != t->self && target(&t->m[o[i]]))
				to[n++] = o[i];
		return n;
	}
	if (mode == WEFT_MODE_REPLICATED || mode == WEFT_MODE_INVALIDATED)
		for (uint32_t i = 0; i < t->n && n < max; i++)
			if (i != t->self && target(&t->m[i]))
				to[n++] = i;
	return n;
}

/* Whether a write of segment seg must be refused for now: one of its
 * targets is in the view but this node has no address for it yet (its
 * record has not arrived: the snapshot shows it dead at 0.0.0.0). Acked
 * without it, the write would miss an owner that no state transfer will
 * fill (the planner takes view owners to hold their segments). */
static bool target_unknown(const struct weft_dp_members *t, uint8_t mode, uint32_t seg)
{
	uint32_t to[WEFT_DP_MEMBERS_MAX];
	unsigned n = dp_route_targets(t, mode, seg, to, WEFT_DP_MEMBERS_MAX);
	for (unsigned i = 0; i < n; i++)
		if (t->m[to[i]].ip == 0)
			return true;
	return false;
}

/* Whether the snapshot is a view that does not list this node: it left
 * (its hand-off is done and it hears the view without it) or it is a new
 * life that hears a view listing its previous one, or one it has not
 * joined yet. Such a node owns no segment: its store is a stale copy
 * (left) or empty (new life), replication no longer reaches it, and
 * dp_members_has_table is false for it, so without this check it would
 * serve reads and apply writes locally (no replication) and answer them. */
static bool outside_view(const struct weft_dp_members *topo)
{
	return topo != NULL && topo->self == WEFT_DP_SELF_NONE && topo->n > 0 &&
	       topo->owners > 0 && topo->seg_owner != NULL;
}

bool dp_route_owns(const struct weft_dp_members *topo, uint8_t mode, uint64_t h)
{
	if (mode == WEFT_MODE_DISTRIBUTED && outside_view(topo))
		return false; /* a view without this node: it owns nothing */
	if (mode != WEFT_MODE_DISTRIBUTED || !dp_members_has_table(topo))
		return true;
	const uint16_t *o = topo->seg_owner +
			    (size_t)weft_wire_segment(h, topo->seg_log2) * topo->owners;
	for (unsigned i = 0; i < topo->owners; i++)
		if (o[i] == topo->self)
			return true;
	return false;
}

/* The first live owner of the segment (its acting primary), or NONE. */
static uint32_t acting_primary(const struct weft_dp_members *t, uint32_t seg)
{
	const uint16_t *o = t->seg_owner + (size_t)seg * t->owners;
	for (unsigned i = 0; i < t->owners; i++)
		if (live(&t->m[o[i]]) || o[i] == t->self)
			return o[i];
	return WEFT_DP_SELF_NONE;
}

/* Whether this clustered node is in a view yet: a snapshot of a view
 * (counter > 0, not the self-only one weftd publishes at start) that
 * lists this node. */
static bool in_view(const struct weft_dp_members *topo)
{
	return topo != NULL && topo->view != 0 && topo->self != WEFT_DP_SELF_NONE;
}

/* Refused BUSY, nothing applied (the client retries). */
static enum dp_route busy(struct dp_lcore *lc, const struct dp_req *req)
{
	lc->c.errors++;
	dp_answer(lc, req, WEFT_ST_BUSY, NULL, 0, NULL, 0);
	return DP_ROUTE_ANSWERED;
}

/* Refused BUSY while the membership lease has expired (dp_lease_ok). */
static enum dp_route lease_busy(struct dp_lcore *lc, const struct dp_req *req)
{
	lc->c.lease_busy++;
	dp_answer(lc, req, WEFT_ST_BUSY, NULL, 0, NULL, 0);
	return DP_ROUTE_ANSWERED;
}

/* A GET or a write of a shared cache on a node outside the view: sent to
 * the segment's acting primary in that view. Refused BUSY (nothing
 * applied) when it came from another node (its view still names this
 * node; forwarding again could bounce it back), when the view has no live
 * owner, or when the acting primary is this node's own address (a
 * previous life the view has not dropped yet). */
static enum dp_route outside_forward(struct dp_lcore *lc, const struct weft_dp_members *topo,
				     const struct dp_req *req)
{
	if (req->hdr.flags & WEFT_F_NODE)
		return busy(lc, req);
	uint32_t p = acting_primary(topo, weft_wire_segment(req->key_hash, topo->seg_log2));
	if (p == WEFT_DP_SELF_NONE ||
	    (topo->m[p].ip == lc->dp->bind_ip &&
	     rte_cpu_to_be_16(topo->m[p].port) == lc->dp->udp_port))
		return busy(lc, req);
	lc->c.not_owner++;
	dp_rpc_forward(lc, topo, req, p);
	return DP_ROUTE_FORWARDED;
}

/* A SESSION op this node must not serve from its store for now: it is in
 * no view yet (just started or restarted: its store is empty, the
 * session lives on the owners of the cluster's view, and the view that
 * comes next names them); or a CREATE that another node forwarded here
 * (its view names this node the acting primary) while this node does not
 * own the id's segment (a CREATE is never read through: only a sender
 * with an older view forwards it here, and a record created here would
 * be replicated to owners that do not include this node, a copy no owner
 * ever removes). */
static bool sess_refused(const struct weft_dp_members *topo, const struct dp_req *req)
{
	if (!in_view(topo))
		return true;
	if (!(req->hdr.flags & WEFT_F_NODE) || !dp_members_has_table(topo))
		return false;
	struct weft_x_session x;
	memcpy(&x, req->extras, sizeof(x));
	return x.action == WEFT_SESS_CREATE &&
	       !dp_route_owns(topo, WEFT_MODE_DISTRIBUTED, req->key_hash);
}

/* A write this node applies: refused BUSY (nothing applied) while one of
 * its replication targets has no address yet. */
static enum dp_route local_write(struct dp_lcore *lc, const struct weft_dp_members *topo,
				 const struct dp_req *req, uint8_t mode, uint32_t seg)
{
	if (!target_unknown(topo, mode, seg))
		return DP_ROUTE_LOCAL;
	lc->c.rpc_no_slot++;
	return busy(lc, req);
}

enum dp_route dp_route_request(struct dp_lcore *lc, const struct weft_dp_members *topo,
			       const struct dp_req *req, struct weft_cache *c)
{
	if (lc->rpc == NULL || req->hdr.key_len == 0)
		return DP_ROUTE_LOCAL;
	uint8_t op = req->hdr.opcode;
	uint8_t mode = dp_cache_mode(lc->dp, c);
	if (mode == WEFT_MODE_LOCAL)
		return DP_ROUTE_LOCAL;
	if (op == WEFT_OP_SESSION && sess_refused(topo, req))
		return busy(lc, req);
	if (topo == NULL)
		return DP_ROUTE_LOCAL;
	bool write = is_write(op);
	if (write && topo->no_quorum) {
		lc->c.no_quorum++;
		lc->c.errors++;
		dp_answer(lc, req, WEFT_ST_NO_QUORUM, NULL, 0, NULL, 0);
		return DP_ROUTE_ANSWERED;
	}
	if (op != WEFT_OP_GET && !write)
		return DP_ROUTE_LOCAL;
	if (mode != WEFT_MODE_INVALIDATED && !dp_lease_ok(lc))
		return lease_busy(lc, req);
	if (outside_view(topo) && mode != WEFT_MODE_INVALIDATED)
		return outside_forward(lc, topo, req);
	if (!dp_members_has_table(topo))
		return DP_ROUTE_LOCAL;
	uint32_t seg = weft_wire_segment(req->key_hash, topo->seg_log2);
	if ((req->hdr.flags & WEFT_F_NODE) || mode == WEFT_MODE_INVALIDATED)
		return write ? local_write(lc, topo, req, mode, seg) : DP_ROUTE_LOCAL;
	if (!write) {
		if (mode == WEFT_MODE_REPLICATED || dp_route_owns(topo, mode, req->key_hash))
			return DP_ROUTE_LOCAL;
	}
	uint32_t p = acting_primary(topo, seg);
	if (p == topo->self || p == WEFT_DP_SELF_NONE)
		return write ? local_write(lc, topo, req, mode, seg) : DP_ROUTE_LOCAL;
	if (!dp_route_owns(topo, mode, req->key_hash))
		lc->c.not_owner++;
	dp_rpc_forward(lc, topo, req, p);
	return DP_ROUTE_FORWARDED;
}

/* The old owner a miss of req is asked of (snapshot seg_prev, within its
 * window, a DISTRIBUTED or REPLICATED cache, no tombstone here: the old
 * owner may still hold the value deleted here), or NONE. A target that
 * is not live gives NONE, and *dead = true when the snapshot shows it
 * DEAD (crashed, or no record of it yet): a LEFT one handed its segments
 * over before it left, so what is not here is nowhere. */
static uint32_t old_owner(struct dp_lcore *lc, const struct weft_dp_members *topo,
			  const struct dp_req *req, struct weft_cache *c, bool *dead)
{
	*dead = false;
	if (lc->rpc == NULL || topo == NULL || topo->seg_prev == NULL ||
	    lc->now_ms >= topo->seg_prev_until_ms || !dp_members_has_table(topo))
		return WEFT_DP_SELF_NONE;
	uint8_t mode = dp_cache_mode(lc->dp, c);
	if (mode != WEFT_MODE_DISTRIBUTED && mode != WEFT_MODE_REPLICATED)
		return WEFT_DP_SELF_NONE;
	uint16_t p = topo->seg_prev[weft_wire_segment(req->key_hash, topo->seg_log2)];
	if (p == WEFT_DP_READ_THROUGH_NONE || p == topo->self)
		return WEFT_DP_SELF_NONE;
	struct weft_cache_key k = {req->key, req->hdr.key_len, req->key_hash};
	if (weft_cache_is_deleted(c, &k, lc->now_ms))
		return WEFT_DP_SELF_NONE;
	if (!live(&topo->m[p])) {
		*dead = topo->m[p].state == WEFT_DP_MEMBER_DEAD;
		return WEFT_DP_SELF_NONE;
	}
	return p;
}

bool dp_route_read_through(struct dp_lcore *lc, const struct weft_dp_members *topo,
			   const struct dp_req *req, struct weft_cache *c)
{
	if (req->hdr.flags & WEFT_F_NODE)
		return false;
	bool dead;
	uint32_t p = old_owner(lc, topo, req, c, &dead);
	if (p == WEFT_DP_SELF_NONE)
		return false;
	lc->c.read_through++;
	dp_rpc_forward(lc, topo, req, p);
	return true;
}

bool dp_route_sess_read_through(struct dp_lcore *lc, const struct weft_dp_members *topo,
				const struct dp_req *req, struct weft_cache *c, bool amo)
{
	if (dp_cache_mode(lc->dp, c) != WEFT_MODE_DISTRIBUTED)
		return false;
	bool dead;
	uint32_t p = old_owner(lc, topo, req, c, &dead);
	if ((p == WEFT_DP_SELF_NONE && !dead) ||
	    acting_primary(topo, weft_wire_segment(req->key_hash, topo->seg_log2)) != topo->self)
		return false;
	if (dead) { /* the one to ask is down: the record may be on its way here */
		lc->c.session_read_through_busy++;
		dp_answer_final(lc, req, amo, WEFT_ST_BUSY, NULL, 0, NULL, 0);
		return true;
	}
	lc->c.session_read_through++;
	dp_rpc_forward_claimed(lc, topo, req, p, amo);
	return true;
}

/* The REPLICATE extras for cache c. */
static void repl_extras(const struct weft_cache *c, uint8_t mode, uint32_t count,
			struct weft_x_replicate *x)
{
	struct weft_cache_opts o;
	weft_cache_get_opts(c, &o);
	memset(x, 0, sizeof(*x));
	x->opts.max_bytes = o.max_bytes;
	x->opts.max_entries = o.max_entries;
	x->opts.default_ttl_ms = o.default_ttl_ms;
	x->opts.default_max_idle_ms = o.default_max_idle_ms;
	x->opts.mode = mode;
	x->count = count;
}

struct dp_rpc_msg *dp_route_repl_msg(const struct weft_cache *c, uint8_t mode,
				     const struct weft_repl_entry *e, const void *key,
				     const void *value)
{
	const char *name = weft_cache_name(c);
	size_t nl = strlen(name);
	uint32_t body = e != NULL ? (uint32_t)sizeof(*e) + e->key_len + e->value_len : 0;
	struct dp_rpc_msg *m = dp_rpc_msg_new(WEFT_OP_REPLICATE, (uint8_t)nl, 0,
					      sizeof(struct weft_x_replicate),
					      (uint32_t)nl + sizeof(struct weft_x_replicate) + body);
	if (m == NULL)
		return NULL;
	struct weft_x_replicate x;
	repl_extras(c, mode, e != NULL ? 1 : 0, &x);
	uint8_t *w = m->payload;
	memcpy(w, name, nl);
	w += nl;
	memcpy(w, &x, sizeof(x));
	w += sizeof(x);
	if (e != NULL) {
		memcpy(w, e, sizeof(*e));
		w += sizeof(*e);
		memcpy(w, key, e->key_len);
		w += e->key_len;
		if (e->value_len)
			memcpy(w, value, e->value_len);
	}
	return m;
}

void dp_route_after_write(struct dp_lcore *lc, const struct weft_dp_members *topo,
			  const struct dp_req *req, struct weft_cache *c, bool amo,
			  const struct dp_dedup_resp *r, uint64_t delete_version)
{
	struct dp_hold_init h = {.req = req, .amo = amo, .resp = *r};
	uint32_t to[WEFT_DP_MEMBERS_MAX];
	unsigned n = 0;
	struct dp_rpc_msg *msg = NULL;
	uint8_t mode = dp_cache_mode(lc->dp, c);
	if (lc->rpc != NULL && r->status == WEFT_ST_OK && dp_members_has_table(topo) &&
	    mode != WEFT_MODE_LOCAL) {
		h.seg = weft_wire_segment(req->key_hash, topo->seg_log2);
		h.mode = mode;
		n = dp_route_targets(topo, mode, h.seg, to, WEFT_DP_MEMBERS_MAX);
	}
	if (n > 0) {
		struct weft_repl_entry e = {.key_len = req->hdr.key_len};
		const uint8_t *value = NULL;
		struct weft_cache_image img;
		struct weft_cache_key k = {req->key, req->hdr.key_len, req->key_hash};
		if (mode == WEFT_MODE_INVALIDATED) {
			e.kind = WEFT_REPL_INVALIDATE;
		} else if (req->hdr.opcode == WEFT_OP_DELETE) {
			e.kind = WEFT_REPL_DELETE;
			e.version = delete_version;
		} else if (weft_cache_peek(c, &k, lc->now_ms, &img) == 0) {
			e.kind = WEFT_REPL_PUT;
			e.version = img.version;
			e.value_len = img.value_len;
			e.ttl_ms = img.ttl_ms == WEFT_CACHE_NO_EXPIRY ? WEFT_TTL_NONE : img.ttl_ms;
			e.max_idle_ms = img.max_idle_ms;
			value = img.value;
		} else {
			n = 0; /* gone already (a later delete replicates itself) */
		}
		if (n > 0) {
			msg = dp_route_repl_msg(c, mode, &e, req->key, value);
			if (msg == NULL) {
				h.resp.status = WEFT_ST_NO_MEMORY;
				h.resp.extras_len = 0;
				n = 0;
			}
		}
	}
	dp_rpc_replicate(lc, topo, &h, msg, to, n); /* n == 0 (no cluster too): answers now */
	dp_rpc_msg_put(msg);
}

void dp_route_after_open(struct dp_lcore *lc, const struct weft_dp_members *topo,
			 const struct dp_req *req, struct weft_cache *c)
{
	struct dp_hold_init h = {.req = req, .amo = false, .resp = {.status = WEFT_ST_OK}};
	uint32_t to[WEFT_DP_MEMBERS_MAX];
	uint8_t mode = dp_cache_mode(lc->dp, c);
	unsigned n = lc->rpc != NULL
			     ? dp_route_targets(topo, WEFT_MODE_REPLICATED, 0, to, WEFT_DP_MEMBERS_MAX)
			     : 0;
	struct dp_rpc_msg *msg = n > 0 ? dp_route_repl_msg(c, mode, NULL, NULL, NULL)
				       : NULL;
	if (n > 0 && msg == NULL) {
		h.resp.status = WEFT_ST_NO_MEMORY;
		n = 0;
	}
	h.mode = WEFT_MODE_REPLICATED;
	dp_rpc_replicate(lc, topo, &h, msg, to, n);
	dp_rpc_msg_put(msg);
}

bool weft_dp_owns_hash(struct weft_dp *dp, uint64_t h)
{
	urcu_qsbr_read_lock();
	bool owns = dp_route_owns(dp_members_current(dp), WEFT_MODE_DISTRIBUTED, h);
	urcu_qsbr_read_unlock();
	return owns;
}
