/*
 * dp_sess.c — SESSION requests on the lcores (wire.h "Sessions") over the
 * sans-I/O sess/ module: the checks made before routing, and the
 * read-modify-write on the id's primary followed by synchronous
 * replication to the other owners.
 *
 * The primary's read-modify-write: peek the record (no access counted),
 * weft_sess_apply at the burst's wall clock, then store the new record with
 * a compare-and-swap on the version read (put-if-absent when there was
 * none) or delete it with a compare-and-delete on that version
 * (weft_cache_delete_if); an entry that moved meanwhile (another lcore's op
 * on the same session: an access that EXPIRE must not lose, a SET that
 * INVALIDATE must not resurrect) makes the whole op start again from the
 * peek, at most DP_SESS_TRIES times, then BUSY (nothing stored). A change
 * is replicated as dp_route_after_write replicates a write (one REPLICATE
 * entry made by dp_route_repl_msg: a PUT with the stored version, or a
 * DELETE with the delete's version; INVALIDATE entries in an INVALIDATED
 * cache), and the client is answered only when every target acked; a held
 * answer carries its extras and value in the hold's owned payload
 * (dp_rpc.c).
 *
 * The join window: right after a view change, the node that just became a
 * session's primary may not have its record yet (state transfer). When the
 * first peek finds neither a record nor a tombstone, and the snapshot names
 * a live old owner of the segment within the read-through window, the op
 * is forwarded to that old owner with WEFT_F_NODE
 * (dp_route_sess_read_through, counted in session_read_through; the
 * at-most-once entry claimed here is finished by the relayed answer). The
 * old owner serves it on its copy, as any node request, and replicates the
 * result to the segment's owners of its view, this node included. When
 * that old owner is DEAD in the snapshot (a crashed primary still listed,
 * with no ALIVE old owner to ask instead), the op is answered BUSY, never
 * NO_SESSION from a store the record may not have reached yet (counted in
 * session_read_through_busy; the claimed at-most-once entry is finished
 * with BUSY: nothing was applied, the client's next call is served). Every
 * action but CREATE: the id of a CREATE is a fresh random 128-bit one that
 * no node can hold (a retransmission is answered by the at-most-once
 * table), and a CREATE served by the old owner would leave a record on a
 * node that no longer owns the segment, one no owner's delete reaches.
 *
 * Events are queued when the primary stores the change, before the other
 * owners ack it: the sessions service may publish one before the client is
 * answered, and a change whose replication then ends BUSY (a silent
 * backup) has published its event all the same. The change stands on the
 * primary either way (a created session exists, an invalidated one is gone
 * here), so the event tells what the primary holds.
 *
 * Invariants:
 *  - CREATE, REMOVE, INVALIDATE and EXPIRE claim the at-most-once table
 *    before anything is read; their answers carry no extras;
 *  - an unchanged record is answered at once, with nothing sent to peers,
 *    but for a retried read (GET, LIST, LOAD, TOUCH with WEFT_F_RETRY on a
 *    live record): its first attempt may have refreshed access_ms by a
 *    slack write whose replication is still held, so the record is
 *    replicated as it is (same version: a backup that has it acks it
 *    stale, still OK) and the answer held until the acks, like a slack
 *    write (session_retry_writes); a first attempt costs nothing more;
 *  - session entries never expire by the cache's TTL (NO_EXPIRY both ways):
 *    the session layer removes them (EXPIRE, or an op finding one past its
 *    deadline);
 *  - an event is queued only after its change is stored here (not after
 *    the backups acked it), at most once per change (a full ring drops it,
 *    counted).
 *
 * Caller: the worker lcore, an online QSBR reader (record pointers from
 * the peek are used before the lcore's next quiescent state).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>

#include "dp_internal.h"
#include "sess.h"

#define DP_SESS_TRIES 16u

/* Whether req comes from a node: WEFT_F_NODE, or an in-node client (a
 * dp_local.c client sends from its node's IP and data port + 2) of this
 * node or of a member of the view. */
static bool from_node(const struct weft_dp *dp, const struct dp_req *req,
		      const struct weft_dp_members *topo)
{
	if (req->hdr.flags & WEFT_F_NODE)
		return true;
	uint16_t sport = rte_be_to_cpu_16(req->flow.src_port);
	if (req->flow.src_ip == dp->bind_ip &&
	    sport == (uint16_t)(rte_be_to_cpu_16(dp->udp_port) + 2u))
		return true;
	for (uint32_t i = 0; topo != NULL && i < topo->n; i++)
		if (topo->m[i].ip == req->flow.src_ip && (uint16_t)(topo->m[i].port + 2u) == sport)
			return true;
	return false;
}

bool dp_sess_precheck(struct dp_lcore *lc, const struct dp_req *req,
		      const struct weft_dp_members *topo)
{
	struct weft_x_session x;
	memcpy(&x, req->extras, sizeof(x));
	uint16_t st = weft_sess_check_request(&x, req->value, req->value_len);
	if (st == WEFT_ST_OK && x.action == WEFT_SESS_EXPIRE && !from_node(lc->dp, req, topo))
		st = WEFT_ST_BAD_REQUEST;
	if (st == WEFT_ST_OK)
		return true;
	lc->c.errors++;
	dp_answer(lc, req, st, NULL, 0, NULL, 0);
	return false;
}

/* Stores or deletes what res says. 0, -EAGAIN (the entry moved: start
 * again), or a cache errno. *version: the stored / delete version. */
static int commit(struct dp_lcore *lc, struct weft_cache *c, const struct weft_cache_key *k,
		  const struct weft_sess_result *res, bool had, uint64_t had_version,
		  uint64_t *version)
{
	int rc = 0;
	if (res->outcome == WEFT_SESS_STORE) {
		struct weft_cache_write w = {WEFT_CACHE_NO_EXPIRY, WEFT_CACHE_NO_EXPIRY};
		rc = weft_cache_put(c, k, res->record, res->record_len,
				    had ? WEFT_CACHE_CAS : WEFT_CACHE_PUT_IF_ABSENT, had_version, &w,
				    lc->now_ms, version);
		if (rc == -ESTALE || rc == -EEXIST || rc == -ENOENT)
			rc = -EAGAIN;
	} else if (res->outcome == WEFT_SESS_DELETE) { /* only of a record read: had */
		rc = weft_cache_delete_if(c, k, had_version, lc->now_ms, version);
		if (rc == -ESTALE || rc == -ENOENT)
			rc = -EAGAIN;
	}
	return rc;
}

/* One event on the ring (a full ring counts a drop). */
static void event_push(struct dp_lcore *lc, const struct dp_req *req, uint8_t kind)
{
	struct weft_dp_sess_event e;
	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.store_len = req->hdr.name_len; /* <= WEFT_SESSION_STORE_MAX_LEN: dp_req.c */
	memcpy(e.store, req->name, e.store_len);
	memcpy(e.id, req->key, WEFT_SESSION_ID_LEN);
	if (dp_sess_event_push(lc->dp, &e) != 0)
		lc->c.session_events_dropped++;
}

static void count_change(struct dp_lcore *lc, const struct weft_sess_result *res)
{
	lc->c.session_slack_writes += res->slack_write;
	if (res->event == WEFT_SESSION_CREATED)
		lc->c.sessions_created++;
	else if (res->event == WEFT_SESSION_INVALIDATED)
		lc->c.sessions_invalidated++;
	else if (res->event == WEFT_SESSION_EXPIRED)
		lc->c.sessions_expired++;
}

/* A stored change (or, for a retried read, the record as it is: rec,
 * rec_len): replicated to the other owners, the client answered once they
 * acked (at once without any). Takes res->answer. */
static void replicate(struct dp_lcore *lc, const struct weft_dp_members *topo,
		      const struct dp_req *req, struct weft_cache *c, bool amo,
		      struct weft_sess_result *res, const uint8_t *rec, uint32_t rec_len,
		      uint64_t version)
{
	struct dp_hold_init h = {.req = req, .amo = amo, .resp = {.status = res->status},
				 .payload = res->answer, .payload_len = res->answer_len,
				 .payload_extras_len = res->answer_extras_len};
	res->answer = NULL;
	uint32_t to[WEFT_DP_MEMBERS_MAX];
	unsigned n = 0;
	struct dp_rpc_msg *msg = NULL;
	uint8_t mode = dp_cache_mode(lc->dp, c);
	if (lc->rpc != NULL && dp_members_has_table(topo) && mode != WEFT_MODE_LOCAL) {
		h.seg = weft_wire_segment(req->key_hash, topo->seg_log2);
		h.mode = mode;
		n = dp_route_targets(topo, mode, h.seg, to, WEFT_DP_MEMBERS_MAX);
	}
	if (n > 0) {
		struct weft_repl_entry e = {.key_len = req->hdr.key_len, .version = version};
		if (mode == WEFT_MODE_INVALIDATED) {
			e.kind = WEFT_REPL_INVALIDATE;
			e.version = 0;
		} else if (res->outcome == WEFT_SESS_DELETE) {
			e.kind = WEFT_REPL_DELETE;
		} else {
			e.kind = WEFT_REPL_PUT;
			e.value_len = rec_len;
			e.ttl_ms = WEFT_TTL_NONE;
		}
		msg = dp_route_repl_msg(c, mode, &e, req->key, rec);
		if (msg == NULL) {
			h.resp.status = WEFT_ST_NO_MEMORY;
			free(h.payload);
			h.payload = NULL;
			n = 0;
		}
	}
	dp_rpc_replicate(lc, topo, &h, msg, to, n); /* n == 0: answers now */
	dp_rpc_msg_put(msg);
}

/* Whether an unchanged result is a retransmitted read's access (GET,
 * LIST, LOAD, TOUCH with WEFT_F_RETRY, on a live record): its first
 * attempt may have made a slack write whose replication is still held, so
 * the record as it is is replicated again and the answer held until the
 * acks, never acknowledged at once. */
static bool retried_read(const struct dp_req *req, const struct weft_x_session *x, bool had,
			 const struct weft_sess_result *res)
{
	if (!(req->hdr.flags & WEFT_F_RETRY) || !had)
		return false;
	if (res->status != WEFT_ST_OK && res->status != WEFT_ST_NOT_FOUND)
		return false;
	return x->action == WEFT_SESS_GET || x->action == WEFT_SESS_LIST ||
	       x->action == WEFT_SESS_LOAD || x->action == WEFT_SESS_TOUCH;
}

void dp_sess_serve(struct dp_lcore *lc, const struct dp_req *req, struct weft_cache *c,
		   const struct weft_dp_members *topo)
{
	struct weft_x_session x;
	memcpy(&x, req->extras, sizeof(x));
	bool amo = !weft_wire_session_action_is_idempotent(x.action);
	if (amo && !dp_dedup_claim(lc, req))
		return;
	struct weft_cache_key k = {.data = req->key, .len = req->hdr.key_len,
				   .hash = req->key_hash};
	struct weft_sess_result res;
	struct weft_cache_image img;
	bool had = false;
	uint64_t version = 0;
	int rc = -EAGAIN;
	for (unsigned t = 0; t < DP_SESS_TRIES && rc == -EAGAIN; t++) {
		if (t > 0) {
			weft_sess_result_free(&res);
			lc->c.session_cas_retries++;
		}
		had = weft_cache_peek(c, &k, lc->now_ms, &img) == 0;
		if (!had && t == 0 && x.action != WEFT_SESS_CREATE &&
		    dp_route_sess_read_through(lc, topo, req, c, amo))
			return; /* the old owner answers, relayed; or BUSY */
		weft_sess_apply(had ? img.value : NULL, had ? img.value_len : 0, &x, req->value,
				req->value_len, lc->unix_ms, &res);
		rc = commit(lc, c, &k, &res, had, had ? img.version : 0, &version);
	}
	if (rc != 0) { /* nothing stored: BUSY after the retries, or the cache's error */
		weft_sess_result_free(&res);
		uint16_t st = rc == -EAGAIN ? WEFT_ST_BUSY
					    : dp_status_of(rc, WEFT_OP_SESSION, req->hdr.key_len);
		dp_answer_final(lc, req, amo, st, NULL, 0, NULL, 0);
		return;
	}
	if (res.outcome == WEFT_SESS_UNCHANGED && retried_read(req, &x, had, &res)) {
		lc->c.session_retry_writes++;
		replicate(lc, topo, req, c, amo, &res, img.value, img.value_len, img.version);
		weft_sess_result_free(&res);
		return;
	}
	if (res.outcome == WEFT_SESS_UNCHANGED) {
		if (res.answer != NULL) { /* an idempotent action: no dedup entry */
			dp_answer_owned(lc, req, res.status, res.answer_extras_len, res.answer,
					res.answer_len);
			res.answer = NULL;
		} else {
			dp_answer_final(lc, req, amo, res.status, NULL, 0, NULL, 0);
		}
		weft_sess_result_free(&res);
		return;
	}
	count_change(lc, &res);
	if (res.event != 0)
		event_push(lc, req, res.event);
	replicate(lc, topo, req, c, amo, &res, res.record, res.record_len, version);
	weft_sess_result_free(&res);
}
