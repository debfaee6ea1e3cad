/*
 * dp_msg_tick.c — worker 0's messaging timers and view changes:
 *
 *  - every pass (at most DP_MSG_PASS_MS apart, sooner when a destination
 *    has a timer due): weft_dest_tick of each destination (waits ending,
 *    visibility timeouts, expiry, leases; dead-letter records sent to the
 *    other owners), each destination's role reconciled with the view
 *    (PRIMARY / BACKUP / SUBSCRIBER), topics pumped to their subscriber
 *    nodes, and every WEFT_TOPIC_JOIN_MS a TOPIC_JOIN for each topic with
 *    local subscriptions;
 *  - on a view change, state transfer: every node that held a
 *    destination's log (primary or backup) sends it (weft_dest_snapshot as
 *    MSG_REPL batches, at most XFER_WINDOW in flight per target) to each
 *    new owner that was not an owner before — by life, not address: a
 *    restarted node is empty — and a node that is no longer an owner sends
 *    it to every new owner and clears its copy only once every owner of the
 *    view it holds then (by address and life) acked a transfer of it;
 *  - the rule for dropping a copy: a node that no longer owns a destination
 *    keeps its copy until a transfer it sent was acked by every owner of
 *    its current view, each by the life that view names. An owner whose
 *    address is not known yet, an owner that restarted (a new life) or
 *    joined since the transfer started, a failed send, or a record
 *    applied here after the transfer's snapshot (a late MSG_REPL from a
 *    stale primary) keeps the copy;
 *  - retries: an owner it could not send to (address unknown at the view
 *    change, no transfer slot, a failed send) is sent to again every
 *    DP_MSG_RETRY_MS while the view stands, and a node still holding a copy
 *    it does not own (kept, or made by a late MSG_REPL from a stale
 *    primary) sends it to every owner again the same way.
 *
 * Owners per destination before the change (address and life) are
 * remembered by routing hash (owners depend only on it). Transfers are idempotent on the receiver (by
 * id; removed ids are remembered there), so two old owners sending the
 * same log is harmless.
 *
 * Caller: worker 0, an online QSBR reader.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>

#include "dp_msg_internal.h"

#define DP_MSG_PASS_MS 50u
#define DP_MSG_RETRY_MS 1000u
#define OWNERS_MAX 8u
#define OWNER_SLOTS 4096u /* >= 2 * WEFT_MSG_DESTS_MAX, a power of two */
#define XFER_MAX 64u
#define XFER_WINDOW 8u

struct owners_ent {
	bool used;
	uint64_t route_hash;
	uint8_t n;
	uint32_t ip[OWNERS_MAX];
	uint16_t port[OWNERS_MAX]; /* network order */
	uint64_t life[OWNERS_MAX]; /* start_unix_ms: a restarted node is a new owner */
};

struct xfer {
	bool used;
	bool drop_after; /* this node is no longer an owner */
	bool failed;
	uint16_t gen;
	uint64_t appends_at_snap; /* the destination's appends_applied then */
	uint8_t name_len;
	char name[WEFT_MAX_NAME_LEN];
	unsigned n_targets;
	uint64_t route_hash;
	uint32_t ip[OWNERS_MAX];
	uint16_t port[OWNERS_MAX];
	uint64_t life[OWNERS_MAX];     /* the target's life the transfer was for */
	unsigned next[OWNERS_MAX];     /* next message to send to each target */
	unsigned inflight[OWNERS_MAX];
	unsigned n_msgs, cap_msgs;
	struct dp_rpc_msg **msgs;
};

struct dp_msg_state {
	uint64_t view;
	bool retry;                    /* some owner of the view lacks a transfer */
	uint64_t next_retry_ms;
	uint64_t next_pass_ms;
	uint64_t next_join_ms;
	uint16_t gen;
	struct owners_ent *owners;     /* OWNER_SLOTS, by routing hash */
	struct xfer xfer[XFER_MAX];
};

struct dp_msg_state *dp_msg_state_create(void)
{
	struct dp_msg_state *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->owners = calloc(OWNER_SLOTS, sizeof(*s->owners));
	if (s->owners == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static void xfer_free(struct xfer *x)
{
	for (unsigned i = 0; i < x->n_msgs; i++)
		dp_rpc_msg_put(x->msgs[i]);
	free(x->msgs);
	memset(x, 0, sizeof(*x));
}

void dp_msg_state_destroy(struct dp_msg_state *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < XFER_MAX; i++)
		if (s->xfer[i].used)
			xfer_free(&s->xfer[i]);
	free(s->owners);
	free(s);
}

/* --- owners ---------------------------------------------------------------- */

static void owners_of(const struct weft_dp_members *t, uint64_t h, struct owners_ent *o)
{
	memset(o, 0, sizeof(*o));
	o->used = true;
	o->route_hash = h;
	if (!dp_members_has_table(t))
		return;
	const uint16_t *s = t->seg_owner + (size_t)weft_wire_segment(h, t->seg_log2) * t->owners;
	for (unsigned i = 0; i < t->owners && o->n < OWNERS_MAX; i++) {
		o->ip[o->n] = t->m[s[i]].ip;
		o->port[o->n] = rte_cpu_to_be_16(t->m[s[i]].port);
		o->life[o->n] = t->m[s[i]].start_unix_ms;
		o->n++;
	}
}

/* Whether o lists the node at ip:port (any life). */
static bool owners_has(const struct owners_ent *o, uint32_t ip, uint16_t port)
{
	for (unsigned i = 0; o != NULL && i < o->n; i++)
		if (o->ip[i] == ip && o->port[i] == port)
			return true;
	return false;
}

/* Whether o lists that very life of the node (a node restarted since is
 * empty: it is a new owner). */
static bool owners_has_life(const struct owners_ent *o, uint32_t ip, uint16_t port,
			    uint64_t life)
{
	for (unsigned i = 0; o != NULL && i < o->n; i++)
		if (o->ip[i] == ip && o->port[i] == port && o->life[i] == life)
			return true;
	return false;
}

static bool is_self(const struct weft_dp *dp, uint32_t ip, uint16_t port)
{
	return ip == dp->bind_ip && port == dp->udp_port;
}

/* The owners of `now` a transfer of a destination goes to, into targets:
 * every one but this node; when this node is itself an owner, only those
 * `had` does not list by that very life (a new owner, or one restarted
 * since). An owner whose address is not known yet is left for the retry
 * pass (marked due); returns whether there was one. */
static bool transfer_targets(struct weft_dp *dp, const struct owners_ent *now, bool owner,
			     const struct owners_ent *had, struct owners_ent *targets)
{
	bool unknown = false;
	for (unsigned i = 0; i < now->n; i++) {
		if (is_self(dp, now->ip[i], now->port[i]))
			continue;
		if (now->ip[i] == 0) {
			dp->msg_state->retry = unknown = true;
			continue;
		}
		if (owner && owners_has_life(had, now->ip[i], now->port[i], now->life[i]))
			continue;
		targets->ip[targets->n] = now->ip[i];
		targets->port[targets->n] = now->port[i];
		targets->life[targets->n] = now->life[i];
		targets->n++;
	}
	return unknown;
}

static struct owners_ent *owners_slot(struct owners_ent *tab, uint64_t h, bool insert)
{
	for (unsigned i = 0, p = (unsigned)h & (OWNER_SLOTS - 1); i < OWNER_SLOTS;
	     i++, p = (p + 1) & (OWNER_SLOTS - 1)) {
		if (tab[p].used && tab[p].route_hash == h)
			return &tab[p];
		if (!tab[p].used)
			return insert ? &tab[p] : NULL;
	}
	return NULL;
}

enum weft_dest_role dp_msg_role(const struct weft_dp_members *t, const struct weft_dp *dp,
			       uint64_t h)
{
	if (dp_msg_is_primary(t, h))
		return WEFT_ROLE_PRIMARY;
	struct owners_ent o;
	owners_of(t, h, &o);
	return owners_has(&o, dp->bind_ip, dp->udp_port) ? WEFT_ROLE_BACKUP : WEFT_ROLE_SUBSCRIBER;
}

void dp_msg_adopt(struct dp_lcore *lc, const struct weft_dp_members *topo, struct weft_dest *d)
{
	struct weft_dest *dlq = weft_dest_dlq(d); /* made with its queue */
	if (dlq != NULL)
		dp_msg_adopt(lc, topo, dlq);
	enum weft_dest_role role = dp_msg_role(topo, lc->dp, weft_dest_route_hash(d));
	weft_dest_lock(d);
	bool differs = weft_dest_role(d) != role;
	weft_dest_unlock(d);
	if (!differs)
		return;
	struct dp_msg_ctx *c = malloc(sizeof(*c));
	if (c == NULL)
		return; /* the next pass sets it */
	dp_msg_ctx_init(c, lc, topo, true);
	weft_dest_lock(d);
	weft_dest_set_role(d, dp_unix_ms(), role, &c->sink);
	weft_dest_unlock(d);
	dp_msg_replicate_async(c);
	dp_msg_ctx_release(c);
	free(c);
}

/* --- state transfer ---------------------------------------------------------- */

static void xfer_pump(struct dp_lcore *lc, unsigned xi);

/* Whether every owner of t (but this node) acked x: each a target of x,
 * by address and by the life t names. */
static bool xfer_covers(const struct weft_dp *dp, const struct xfer *x,
			const struct weft_dp_members *t)
{
	struct owners_ent o;
	owners_of(t, x->route_hash, &o);
	if (o.n == 0)
		return false; /* no table: nothing says who holds it */
	for (unsigned i = 0; i < o.n; i++) {
		if (is_self(dp, o.ip[i], o.port[i]))
			continue;
		bool acked = false;
		for (unsigned k = 0; k < x->n_targets && !acked; k++)
			acked = x->ip[k] == o.ip[i] && x->port[k] == o.port[i] &&
				x->life[k] == o.life[i];
		if (o.ip[i] == 0 || !acked)
			return false;
	}
	return true;
}

static void xfer_finish(struct dp_lcore *lc, struct xfer *x)
{
	struct dp_msg_state *s = lc->dp->msg_state;
	const struct weft_dp_members *t = dp_members_current(lc->dp);
	if (x->failed && !x->drop_after) {
		/* the owners it did not reach are sent to again (retry pass) */
		struct owners_ent *slot = owners_slot(s->owners, x->route_hash, false);
		for (unsigned i = 0; slot != NULL && i < slot->n; i++)
			for (unsigned k = 0; k < x->n_targets; k++)
				if (slot->ip[i] == x->ip[k] && slot->port[i] == x->port[k])
					slot->ip[i] = 0;
		s->retry = true;
	}
	struct weft_dest *d = x->drop_after ? weft_msg_find(lc->dp->msgs, x->name, x->name_len) : NULL;
	bool fresh = false;
	if (d != NULL) { /* nothing applied since the snapshot (a late MSG_REPL) */
		struct weft_dest_stats st;
		weft_dest_lock(d);
		weft_dest_get_stats(d, &st);
		weft_dest_unlock(d);
		fresh = st.appends_applied == x->appends_at_snap;
	}
	if (x->drop_after && (x->failed || t == NULL || !fresh || !xfer_covers(lc->dp, x, t)))
		s->retry = true; /* kept: sent again to the owners of the view */
	else if (x->drop_after) {
		if (d != NULL && dp_msg_role(t, lc->dp, weft_dest_route_hash(d)) == WEFT_ROLE_SUBSCRIBER) {
			struct dp_msg_ctx *c = malloc(sizeof(*c));
			if (c != NULL) {
				dp_msg_ctx_init(c, lc, t, true);
				weft_dest_lock(d);
				weft_dest_clear(d, &c->sink);
				weft_dest_unlock(d);
				dp_msg_ctx_release(c);
				free(c);
			}
		}
	}
	xfer_free(x);
}

static void xfer_done(struct dp_lcore *lc, const struct dp_rpc_cookie *ck, uint16_t status,
		      const void *extras, uint16_t extras_len)
{
	(void)extras;
	(void)extras_len;
	struct dp_msg_state *s = lc->dp->msg_state;
	unsigned xi = (unsigned)(ck->arg & 0xff), ti = (unsigned)(ck->arg >> 8 & 0xff);
	struct xfer *x = xi < XFER_MAX ? &s->xfer[xi] : NULL;
	if (x == NULL || !x->used || x->gen != (uint16_t)(ck->arg >> 16) || ti >= x->n_targets)
		return;
	x->inflight[ti]--;
	if (status != WEFT_ST_OK)
		x->failed = true;
	xfer_pump(lc, xi);
}

/* Sends what the window allows; finishes the transfer when all is acked. */
static void xfer_pump(struct dp_lcore *lc, unsigned xi)
{
	struct xfer *x = &lc->dp->msg_state->xfer[xi];
	bool busy = false;
	for (unsigned t = 0; t < x->n_targets; t++) {
		while (!x->failed && x->next[t] < x->n_msgs && x->inflight[t] < XFER_WINDOW) {
			struct dp_rpc_cookie ck = {.ip = x->ip[t], .port = x->port[t],
						   .arg = xi | t << 8 | (uint64_t)x->gen << 16};
			if (dp_rpc_notify(lc, x->ip[t], x->port[t], x->msgs[x->next[t]], xfer_done,
					  &ck) != 0) {
				x->failed = true;
				break;
			}
			x->next[t]++;
			x->inflight[t]++;
		}
		busy |= x->inflight[t] > 0;
	}
	if (!busy)
		xfer_finish(lc, x);
}

struct snap_arg {
	struct weft_dest *d;
	unsigned n, cap;
	struct dp_msg_rec *recs;
	bool oom;
};

static void snap_rec(void *ctx, const char *sub, size_t sub_len, uint8_t kind,
		     const struct weft_msg *m, uint64_t id)
{
	struct snap_arg *a = ctx;
	if (a->oom)
		return;
	if (a->n == a->cap) {
		unsigned cap = a->cap ? a->cap * 2 : 256;
		struct dp_msg_rec *r = realloc(a->recs, cap * sizeof(*r));
		if (r == NULL) {
			a->oom = true;
			return;
		}
		a->recs = r;
		a->cap = cap;
	}
	struct dp_msg_rec *r = &a->recs[a->n++];
	memset(r, 0, sizeof(*r));
	r->d = a->d;
	r->kind = kind;
	r->sub_len = (uint8_t)(sub_len <= sizeof(r->sub) ? sub_len : sizeof(r->sub));
	if (r->sub_len > 0)
		memcpy(r->sub, sub, r->sub_len);
	r->id = m != NULL ? m->id : id;
	if (m != NULL && kind == WEFT_MSGREC_APPEND) {
		r->m = (struct weft_msg *)m;
		weft_msg_ref(r->m);
	}
}

static void collect_msg(void *arg, struct weft_dest *d, struct dp_rpc_msg *m)
{
	(void)d;
	struct xfer *x = arg;
	if (x->n_msgs == x->cap_msgs) {
		unsigned cap = x->cap_msgs ? x->cap_msgs * 2 : 16;
		struct dp_rpc_msg **p = realloc(x->msgs, cap * sizeof(*p));
		if (p == NULL) {
			x->failed = true;
			dp_rpc_msg_put(m);
			return;
		}
		x->msgs = p;
		x->cap_msgs = cap;
	}
	x->msgs[x->n_msgs++] = m;
}

/* false: no transfer slot free (counted; the retry pass tries again). */
static bool xfer_start(struct dp_lcore *lc, struct weft_dest *d, const struct owners_ent *targets,
		       bool drop_after)
{
	struct dp_msg_state *s = lc->dp->msg_state;
	unsigned xi = 0;
	while (xi < XFER_MAX && s->xfer[xi].used)
		xi++;
	if (xi == XFER_MAX) {
		lc->c.msg_repl_lost++;
		s->retry = true;
		return false;
	}
	struct xfer *x = &s->xfer[xi];
	memset(x, 0, sizeof(*x));
	x->used = true;
	x->gen = ++s->gen;
	x->drop_after = drop_after;
	size_t len;
	const char *name = weft_dest_name(d, &len);
	x->name_len = (uint8_t)len;
	memcpy(x->name, name, len);
	x->route_hash = weft_dest_route_hash(d);
	x->n_targets = targets->n;
	memcpy(x->ip, targets->ip, sizeof(x->ip));
	memcpy(x->port, targets->port, sizeof(x->port));
	memcpy(x->life, targets->life, sizeof(x->life));
	struct snap_arg a = {.d = d};
	struct weft_dest_stats st;
	weft_dest_lock(d);
	weft_dest_snapshot(d, snap_rec, &a);
	weft_dest_get_stats(d, &st);
	weft_dest_unlock(d);
	x->appends_at_snap = st.appends_applied;
	if (a.n == 0) { /* an empty destination: create it there all the same */
		struct dp_rpc_msg *m = dp_msg_repl_build(d, NULL, 0, NULL, 0);
		if (m != NULL)
			collect_msg(x, d, m);
	}
	dp_msg_recs_flush(lc, a.recs, a.n, collect_msg, x);
	for (unsigned i = 0; i < a.n; i++) {
		if (a.recs[i].kind == WEFT_MSGREC_APPEND)
			lc->c.msg_transfer += targets->n;
		weft_msg_unref(a.recs[i].m);
	}
	free(a.recs);
	x->failed |= a.oom;
	xfer_pump(lc, xi);
	return true;
}

struct view_arg {
	struct dp_lcore *lc;
	const struct weft_dp_members *topo;
	struct owners_ent *old;   /* the previous view's owners table */
	struct owners_ent *now;   /* the new one, being filled */
};

static void view_dest(void *ctx, struct weft_dest *d)
{
	struct view_arg *v = ctx;
	struct weft_dp *dp = v->lc->dp;
	uint64_t h = weft_dest_route_hash(d);
	struct owners_ent *slot = owners_slot(v->now, h, true);
	if (slot == NULL)
		return;
	if (!slot->used)
		owners_of(v->topo, h, slot);
	const struct owners_ent *prev = owners_slot(v->old, h, false);
	struct weft_dest_stats st;
	weft_dest_lock(d);
	weft_dest_get_stats(d, &st);
	weft_dest_unlock(d);
	if ((st.role == WEFT_ROLE_SUBSCRIBER && st.depth == 0 && st.durable == 0) || slot->n == 0)
		return; /* held no log, or no table (alone): nothing moves */
	/* Targets: each new owner that did not hold it (a new owner, or an
	 * owner restarted since: same address, empty). A node that is no
	 * longer an owner sends to every new owner whatever it believes they
	 * hold (views differ between nodes: under a one-way partition "they
	 * had it already" can be false), and drops its copy only once they
	 * all acked. */
	bool owner = owners_has(slot, dp->bind_ip, dp->udp_port);
	struct owners_ent targets = {.used = true};
	transfer_targets(dp, slot, owner, prev, &targets);
	if (targets.n > 0 && v->lc->rpc != NULL && !xfer_start(v->lc, d, &targets, !owner))
		for (unsigned i = 0; i < slot->n; i++) /* none reached: all again */
			if (!is_self(dp, slot->ip[i], slot->port[i]))
				slot->ip[i] = 0;
}

/* --- retries while the view stands ------------------------------------------ */

static bool xfer_running(const struct dp_msg_state *s, struct weft_dest *d)
{
	size_t len;
	const char *name = weft_dest_name(d, &len);
	for (unsigned i = 0; i < XFER_MAX; i++)
		if (s->xfer[i].used && s->xfer[i].name_len == len &&
		    memcmp(s->xfer[i].name, name, len) == 0)
			return true;
	return false;
}

/* A destination's transfers still owed under the current view: an owner
 * sends to each owner of the view it has not reached (address unknown
 * then, or a failed send: its entry in the owners table has no address);
 * a node holding a copy it does not own sends to every owner, and clears
 * once they all acked (xfer_finish). */
static void retry_dest(void *ctx, struct weft_dest *d)
{
	struct view_arg *v = ctx;
	struct weft_dp *dp = v->lc->dp;
	struct dp_msg_state *s = dp->msg_state;
	uint64_t h = weft_dest_route_hash(d);
	struct weft_dest_stats st;
	weft_dest_lock(d);
	weft_dest_get_stats(d, &st);
	weft_dest_unlock(d);
	if (st.role == WEFT_ROLE_SUBSCRIBER && st.depth == 0 && st.durable == 0)
		return;
	struct owners_ent o;
	owners_of(v->topo, h, &o);
	if (o.n == 0)
		return;
	bool owner = owners_has(&o, dp->bind_ip, dp->udp_port);
	struct owners_ent *slot = owners_slot(s->owners, h, false);
	if (owner && slot == NULL)
		return; /* made here since the view change: replication covers it */
	if (xfer_running(s, d)) {
		s->retry = true; /* its end decides */
		return;
	}
	struct owners_ent targets = {.used = true};
	bool unknown = transfer_targets(dp, &o, owner, slot, &targets);
	if (!owner && unknown)
		return; /* it could not clear anyway: when every address is known */
	if (targets.n == 0 || !xfer_start(v->lc, d, &targets, !owner))
		return;
	if (owner) { /* reached now (a failure marks them again) */
		for (unsigned i = 0; i < slot->n && i < o.n; i++)
			if (o.ip[i] != 0) {
				slot->ip[i] = o.ip[i];
				slot->port[i] = o.port[i];
			}
	}
}

static void retry_pass(struct dp_lcore *lc, const struct weft_dp_members *topo)
{
	struct dp_msg_state *s = lc->dp->msg_state;
	s->retry = false;
	struct view_arg v = {lc, topo, s->owners, s->owners};
	weft_msg_foreach(lc->dp->msgs, retry_dest, &v);
}

static void view_changed(struct dp_lcore *lc, const struct weft_dp_members *topo)
{
	struct dp_msg_state *s = lc->dp->msg_state;
	struct owners_ent *fresh = calloc(OWNER_SLOTS, sizeof(*fresh));
	if (fresh == NULL)
		return; /* tried again at the next pass */
	struct view_arg v = {lc, topo, s->owners, fresh};
	weft_msg_foreach(lc->dp->msgs, view_dest, &v);
	free(s->owners);
	s->owners = fresh;
	s->view = topo->view;
}

/* --- the pass ---------------------------------------------------------------- */

struct pass_arg {
	struct dp_lcore *lc;
	const struct weft_dp_members *topo;
	struct dp_msg_ctx *ctx;
	uint64_t now;
	uint64_t next_due;
	bool join;
};

static void pass_dest(void *arg, struct weft_dest *d)
{
	struct pass_arg *p = arg;
	enum weft_dest_role role = dp_msg_role(p->topo, p->lc->dp, weft_dest_route_hash(d));
	weft_dest_lock(d);
	if (weft_dest_role(d) != role)
		weft_dest_set_role(d, p->now, role, &p->ctx->sink);
	uint64_t due = weft_dest_tick(d, p->now, &p->ctx->sink);
	unsigned subs = weft_dest_kind(d) == WEFT_DEST_TOPIC ? weft_topic_local_subs(d) : 0;
	if (role == WEFT_ROLE_SUBSCRIBER) { /* a copy it does not own (a late
					       MSG_REPL): owed to the owners */
		struct weft_dest_stats st;
		weft_dest_get_stats(d, &st);
		if (st.depth > 0 || st.durable > 0)
			p->lc->dp->msg_state->retry = true;
	}
	weft_dest_unlock(d);
	if (due < p->next_due)
		p->next_due = due;
	if (weft_dest_kind(d) != WEFT_DEST_TOPIC)
		return;
	if (p->join && subs > 0)
		dp_msg_join(p->lc, d, p->topo, subs);
	dp_msg_pump(p->lc, d, p->topo);
}

void dp_msg_tick(struct dp_lcore *lc)
{
	struct weft_dp *dp = lc->dp;
	struct dp_msg_state *s = dp->msg_state;
	if (weft_msg_count(dp->msgs) == 0)
		return;
	const struct weft_dp_members *topo = dp_members_current(dp);
	uint64_t now = dp_unix_ms();
	bool moved = topo != NULL && topo->view != s->view;
	if (!moved && now < s->next_pass_ms)
		return;
	if (moved)
		view_changed(lc, topo);
	else if (s->retry && topo != NULL && lc->rpc != NULL && now >= s->next_retry_ms) {
		s->next_retry_ms = now + DP_MSG_RETRY_MS;
		retry_pass(lc, topo);
	}
	struct dp_msg_ctx *c = malloc(sizeof(*c));
	if (c == NULL)
		return;
	dp_msg_ctx_init(c, lc, topo, true);
	struct pass_arg p = {lc, topo, c, now, now + DP_MSG_PASS_MS, now >= s->next_join_ms};
	if (p.join)
		s->next_join_ms = now + WEFT_TOPIC_JOIN_MS;
	weft_msg_foreach(dp->msgs, pass_dest, &p);
	dp_msg_replicate_async(c);
	dp_msg_ctx_release(c);
	free(c);
	s->next_pass_ms = p.next_due;
}

/* --- DESTINATIONS ---------------------------------------------------------- */

static const char *const role_names[] = {"primary", "backup", "subscriber"};

static void put_dest(void *arg, struct weft_dest *d)
{
	struct dp_text *o = arg;
	struct weft_dest_stats st;
	weft_dest_lock(d);
	weft_dest_get_stats(d, &st);
	weft_dest_unlock(d);
	if (st.kind == WEFT_DEST_QUEUE && st.role == WEFT_ROLE_SUBSCRIBER && st.depth == 0)
		return; /* the emptied copy of a queue this node no longer owns */
	size_t len;
	const char *name = weft_dest_name(d, &len);
	dp_text_put(o,
		    "%.*s %s depth=%" PRIu64 " bytes=%" PRIu64 " inflight=%" PRIu64
		    " consumers=%" PRIu64 " waiting=%" PRIu64 " published=%" PRIu64
		    " delivered=%" PRIu64 " redelivered=%" PRIu64 " acked=%" PRIu64 " dead=%" PRIu64
		    " expired=%" PRIu64 " full=%" PRIu64 " subscriber_nodes=%" PRIu64
		    " subscriptions=%" PRIu64 " durable=%" PRIu64 " dropped=%" PRIu64 "\n",
		    (int)len, name, st.role <= WEFT_ROLE_SUBSCRIBER ? role_names[st.role] : "?",
		    st.depth, st.bytes, st.inflight, st.consumers, st.waiting, st.published,
		    st.delivered, st.redelivered, st.acked, st.dead, st.expired, st.full,
		    st.subscriber_nodes, st.subscriptions, st.durable, st.dropped);
}

void dp_msg_serve_destinations(struct dp_lcore *lc, const struct dp_req *req)
{
	struct dp_text o = {NULL, 0, 0};
	weft_msg_foreach(lc->dp->msgs, put_dest, &o);
	size_t need = o.len + 1;
	o.buf = need <= WEFT_MAX_RESP_LEN ? malloc(need + 4096) : NULL;
	if (o.buf == NULL) {
		dp_answer(lc, req, WEFT_ST_NO_MEMORY, NULL, 0, NULL, 0);
		return;
	}
	o.cap = need + 4096; /* destinations made meanwhile: cut, never overrun */
	o.len = 0;
	weft_msg_foreach(lc->dp->msgs, put_dest, &o);
	size_t len = o.len < o.cap ? o.len : o.cap - 1;
	dp_answer_owned(lc, req, WEFT_ST_OK, 0, (uint8_t *)o.buf, (uint32_t)len);
}
