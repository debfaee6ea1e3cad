/*
 * libweft topology-aware routing (the model is described at the top of
 * weft.h): the client's copy of the segment table, when and from whom it is
 * re-fetched, and where each single-key op and each non-keyed op is sent.
 * MULTI_GET's split and merge are in mget_route.c.
 *
 * Invariants:
 *  - Routing is active only with a table that has owners, more than one
 *    member and an address (IP and port not 0) for every member; otherwise
 *    everything goes to c->home (a single node is reached at the address
 *    the application gave, whatever it calls itself).
 *  - The table is fetched lazily, before a keyed op, when absent or stale.
 *    It becomes stale when a response carries a newer epoch (serial-number
 *    comparison) and when an addressed node times out (that node, the
 *    suspect, is not asked for it unless it is the seed, asked last). A
 *    NOT_OWNER answer, and a timeout of an idempotent write, fetch it at
 *    once (the op is then retried).
 *  - A table fetch asks at most FETCH_NODES nodes and then the seed, one
 *    attempt each but the last, which gets the client's full attempt
 *    count; after a failed fetch, the old table (or none: the seed) is
 *    used and no fetch is tried for FETCH_BACKOFF_MS.
 *  - Destination ops (wire.h "Destinations") route like keyed ops with
 *    their routing name as the key (m->route); a plain topic RECEIVE goes
 *    to c->home, with the table fetched first (m->home_table) so that home
 *    can move to another member when it stops answering.
 *  - One op makes at most: a table fetch, its call, and after NOT_OWNER or
 *    (idempotent ops and those marked resend only) a timeout, a second
 *    fetch and one more call; when the table could not be routed by and
 *    home answered NOT_OWNER, a fetch more before routing;
 *    each bounded by its attempts and all by the call's deadline. A
 *    response from home also marks the table stale when it carries a
 *    newer epoch. A
 *    non-idempotent op (its effect may have happened) is never re-sent to
 *    another node after a timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

#define FETCH_NODES 3u
#define FETCH_BACKOFF_MS 1000u
/* Owners a GET tries in turn (the node allows at most 8 per segment). */
#define READ_OWNERS_MAX 8u

static uint32_t full_attempts(const struct weft_client *c)
{
	return c->opts.retries + 1u;
}

bool weft_route_active(const struct weft_client *c)
{
	return c->routing && c->topo_routable;
}

static bool routable(const struct weft_topology *t)
{
	if (t->owners == 0 || t->n_members < 2)
		return false;
	for (unsigned i = 0; i < t->n_members; i++)
		if (t->members[i].ip == 0 || t->members[i].port == 0)
			return false;
	return true;
}

unsigned weft_route_owner(const struct weft_client *c, const void *key, size_t len,
			  unsigned replica)
{
	return (unsigned)weft_topology_owner(c->topo, key, len, replica);
}

void weft_route_member_addr(const struct weft_client *c, unsigned i, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = c->topo->members[i].ip;
	sa->sin_port = htons(c->topo->members[i].port);
}

void weft_route_observe(struct weft_client *c, uint32_t epoch)
{
	if (c->topo != NULL && epoch != 0 && (int32_t)(epoch - c->topo->epoch) > 0)
		c->topo_stale = true;
}

void weft_route_suspect(struct weft_client *c, const struct sockaddr_in *sa)
{
	c->suspect = *sa;
	c->has_suspect = true;
	c->topo_stale = true;
	c->topo_retry_ms = 0;
}

static bool is_suspect(const struct weft_client *c, const struct sockaddr_in *sa)
{
	return c->has_suspect && weft_addr_eq(&c->suspect, sa);
}

static bool listed(const struct sockaddr_in *v, unsigned n, const struct sockaddr_in *sa)
{
	for (unsigned i = 0; i < n; i++)
		if (weft_addr_eq(&v[i], sa))
			return true;
	return false;
}

static void add_candidate(struct weft_client *c, struct sockaddr_in *v, unsigned *n,
			  const struct sockaddr_in *sa)
{
	if (*n < FETCH_NODES && sa->sin_addr.s_addr != 0 && sa->sin_port != 0 &&
	    !is_suspect(c, sa) && !listed(v, *n, sa))
		v[(*n)++] = *sa;
}

/* Whom to ask for the table, in order: the hint, home, other members of the
 * last table (rotating), then the seed as a last resort even if suspect. */
static unsigned fetch_candidates(struct weft_client *c, const struct sockaddr_in *hint,
				 struct sockaddr_in v[FETCH_NODES + 1])
{
	unsigned n = 0;
	if (hint)
		add_candidate(c, v, &n, hint);
	add_candidate(c, v, &n, &c->home);
	if (c->topo != NULL) {
		unsigned m = c->topo->n_members;
		for (unsigned k = 0; k < m && n < FETCH_NODES; k++) {
			struct sockaddr_in sa;
			weft_route_member_addr(c, (c->fetch_cursor + k) % m, &sa);
			add_candidate(c, v, &n, &sa);
		}
		c->fetch_cursor++;
	}
	if (!listed(v, n, &c->seed))
		v[n++] = c->seed;
	return n;
}

/* One TOPOLOGY call at `to`: 0 with *out, or a negative status. */
static int fetch_from(struct weft_client *c, const struct sockaddr_in *to, uint32_t attempts,
		      uint64_t deadline, struct weft_topology **out)
{
	struct weft_msg m = { .opcode = WEFT_OP_TOPOLOGY };
	struct weft_resp r;
	int rc = weft_call_at(c, to, &m, attempts, deadline, &r);
	return rc < 0 ? rc : weft_topology_from_resp(c, &r, out);
}

static void install(struct weft_client *c, struct weft_topology *t, const struct sockaddr_in *from)
{
	weft_topology_free(c->topo);
	c->topo = t;
	c->topo_routable = routable(t);
	c->topo_stale = false;
	c->topo_retry_ms = 0;
	c->topo_fetches++;
	/* A home that stopped answering is replaced by the node that did. */
	if (is_suspect(c, &c->home))
		c->home = *from;
	c->has_suspect = false;
}

int weft_route_refresh(struct weft_client *c, const struct sockaddr_in *hint, uint64_t deadline)
{
	struct sockaddr_in v[FETCH_NODES + 1];
	unsigned n = fetch_candidates(c, hint, v);
	int rc = -WEFT_ST_TIMEOUT;

	for (unsigned i = 0; i < n && weft_now_ms() < deadline; i++) {
		struct weft_topology *t;
		rc = fetch_from(c, &v[i], i + 1 == n ? full_attempts(c) : 1u, deadline, &t);
		if (rc == 0) {
			install(c, t, &v[i]);
			return 0;
		}
		if (rc == -WEFT_ST_UNKNOWN_OP) {
			c->topo_unsupported = true; /* a node that predates TOPOLOGY */
			return rc;
		}
		if (rc == -WEFT_ST_TIMEOUT)
			weft_route_suspect(c, &v[i]);
		else if (rc == -WEFT_ST_IO)
			return rc;
	}
	c->topo_retry_ms = weft_now_ms() + FETCH_BACKOFF_MS;
	return rc;
}

int weft_route_prepare(struct weft_client *c, uint64_t deadline)
{
	if (!c->routing || c->topo_unsupported)
		return 0;
	if (c->topo != NULL && (!c->topo_stale || weft_now_ms() < c->topo_retry_ms))
		return 0;
	if (c->topo == NULL && weft_now_ms() < c->topo_retry_ms)
		return 0;
	int rc = weft_route_refresh(c, NULL, deadline);
	/* Without any table, a silent or failing cluster fails the op; a node
	 * that answered with an error status is served as a single node. */
	if (rc < 0 && c->topo == NULL && (rc == -WEFT_ST_TIMEOUT || rc == -WEFT_ST_IO))
		return rc;
	return 0;
}

/* A non-keyed op: to home; when home times out and other members are
 * known, once more to another member, which becomes home. */
static int call_home(struct weft_client *c, const struct weft_msg *m, uint64_t deadline,
		     struct weft_resp *r)
{
	int rc = weft_call_at(c, &c->home, m, full_attempts(c), deadline, r);
	if (rc != -WEFT_ST_TIMEOUT || !weft_route_active(c) || weft_now_ms() >= deadline)
		return rc;
	weft_route_suspect(c, &c->home);
	for (unsigned k = 0; k < c->topo->n_members; k++) {
		struct sockaddr_in sa;
		weft_route_member_addr(c, (c->fetch_cursor + k) % c->topo->n_members, &sa);
		if (!is_suspect(c, &sa)) {
			c->home = sa;
			c->fetch_cursor++;
			return weft_call_at(c, &c->home, m, full_attempts(c), deadline, r);
		}
	}
	return rc;
}

/* Whether m goes to an owner: a keyed op, or a destination op with a
 * routing name (the others go to c->home). */
static bool is_routed(const struct weft_msg *m)
{
	return m->route != NULL || weft_wire_op_has_key(m->opcode);
}

/* The address of the primary of m's routing name, else of its key. */
static void primary_addr(const struct weft_client *c, const struct weft_msg *m,
			 struct sockaddr_in *sa)
{
	unsigned o = m->route ? weft_route_owner(c, m->route, m->route_len, 0)
			      : weft_route_owner(c, m->key, m->key_len, 0);
	weft_route_member_addr(c, o, sa);
}

/* The key's owners' addresses, primary first (at most max). */
static unsigned owner_addrs(const struct weft_client *c, const struct weft_msg *m,
			    struct sockaddr_in *out, unsigned max)
{
	unsigned n = c->topo->owners < max ? c->topo->owners : max;
	for (unsigned i = 0; i < n; i++)
		weft_route_member_addr(c, weft_route_owner(c, m->key, m->key_len, i), &out[i]);
	return n;
}

/* GET: to the primary; after a timeout, to the next owner, ... The owners
 * before the last get one attempt each, the last the rest of the
 * client's attempts (at least one). */
static int call_read(struct weft_client *c, const struct weft_msg *m, uint64_t deadline,
		     struct weft_resp *r, struct sockaddr_in *target)
{
	struct sockaddr_in own[READ_OWNERS_MAX];
	unsigned n = owner_addrs(c, m, own, READ_OWNERS_MAX);
	uint32_t budget = full_attempts(c);
	int rc = -WEFT_ST_TIMEOUT;

	for (unsigned i = 0; i < n && weft_now_ms() < deadline; i++) {
		bool last = i + 1 == n;
		uint32_t a = last ? (budget > i ? budget - i : 1u) : 1u;
		*target = own[i];
		rc = weft_call_at(c, &own[i], m, a, deadline, r);
		if (rc != -WEFT_ST_TIMEOUT)
			return rc;
		weft_route_suspect(c, &own[i]);
	}
	return rc;
}

int weft_call(struct weft_client *c, const struct weft_msg *m, struct weft_resp *r)
{
	uint64_t deadline = weft_call_deadline(c);
	bool keyed = is_routed(m);

	if (!c->routing || (!keyed && !m->home_table))
		return call_home(c, m, deadline, r);
	int rc = weft_route_prepare(c, deadline);
	if (rc < 0)
		return rc;
	if (!keyed || !weft_route_active(c)) {
		rc = call_home(c, m, deadline, r);
		if (rc < 0)
			return rc;
		weft_route_observe(c, r->epoch);
		if (!keyed || r->status != WEFT_ST_NOT_OWNER)
			return 0;
		/* Home does not own the key and could not route it by a table
		 * (none we can use: e.g. fetched from a restarted node before
		 * it joined, a table of itself alone). Without this fetch the
		 * client would stay on that table, and on NOT_OWNER, for good. */
		free(r->payload);
		r->payload = NULL;
		c->topo_stale = true;
		if (weft_route_refresh(c, &c->home, deadline) < 0 || !weft_route_active(c))
			return -WEFT_ST_NOT_OWNER;
	}

	struct weft_msg routed = *m;
	struct sockaddr_in target;
	bool read = m->opcode == WEFT_OP_GET;
	routed.epoch = c->topo->epoch;
	if (read) {
		rc = call_read(c, &routed, deadline, r, &target);
	} else {
		primary_addr(c, m, &target);
		rc = weft_call_at(c, &target, &routed, full_attempts(c), deadline, r);
	}
	struct sockaddr_in from = target;
	const struct sockaddr_in *hint = NULL;
	if (rc == -WEFT_ST_TIMEOUT) {
		weft_route_suspect(c, &target);
		/* Only an op whose replay is harmless is sent again elsewhere:
		 * a timed-out write (or PUBLISH) may have been applied. */
		if (read || !(weft_wire_op_is_idempotent(m->opcode) || m->resend) ||
		    weft_now_ms() >= deadline)
			return rc;
	} else if (rc < 0) {
		return rc;
	} else {
		weft_route_observe(c, r->epoch);
		if (r->status != WEFT_ST_NOT_OWNER)
			return 0;
		free(r->payload);
		r->payload = NULL;
		hint = &from; /* it knows a newer table than ours */
		c->topo_stale = true;
	}
	/* Once more, at the owner of a fresh table. */
	rc = weft_route_refresh(c, hint, deadline);
	if (rc < 0)
		return hint ? -WEFT_ST_NOT_OWNER : -WEFT_ST_TIMEOUT;
	if (!weft_route_active(c))
		return call_home(c, m, deadline, r);
	routed.epoch = c->topo->epoch;
	primary_addr(c, m, &target);
	if (hint == NULL && weft_addr_eq(&target, &from))
		return -WEFT_ST_TIMEOUT; /* the same silent node: nobody else to ask */
	rc = read ? call_read(c, &routed, deadline, r, &target)
		  : weft_call_at(c, &target, &routed, full_attempts(c), deadline, r);
	if (rc == 0)
		weft_route_observe(c, r->epoch);
	else if (rc == -WEFT_ST_TIMEOUT)
		weft_route_suspect(c, &target);
	return rc;
}
