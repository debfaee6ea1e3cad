/*
 * ctl_cluster.c — the node in a cluster: drives the membership state machine
 * (control/membership/) with the real monotonic clock and the dataplane's
 * cluster channel, logs its events, and publishes the topology snapshot
 * (weft_dp_publish_members: the view's members and its segment table,
 * computed by weft_swim_seg_compute) for the lcores.
 *
 * Runs on the control thread only (the state machine and the channel's
 * receive side are single-threaded). Addresses cross one boundary here:
 * the dataplane speaks network-order IPs, the state machine host order.
 *
 * It also owns what follows from each view: the rebalancer
 * (ctl_rebalance.c: state transfer when the view changes, hand-off before
 * a graceful leave) and, with --partition-handling quorum, the quorum rule
 * (ctl_quorum.c), whose verdict travels in the snapshot (no_quorum).
 *
 * Invariants:
 *  - every datagram returned by weft_dp_ctl_recv is handed to the state
 *    machine, or to the rebalancer when it is a weft response (magic
 *    0x5746 little-endian and WEFT_F_RESPONSE: acks of our REPLICATE
 *    messages), before the next weft_dp_ctl_recv (its payload dies then);
 *  - the sink callbacks only log and set flags; the view is read and the
 *    snapshot published after the state machine call returns;
 *  - the segment table published with a view is computed from exactly the
 *    members published with it (same order: indices agree), epoch = view
 *    counter; while handing off, it is that view's table without this node;
 *  - a new view is published only once every member's record (address) is
 *    known, or after CL_INFO_WAIT_MS: a member published without one would
 *    look dead to the lcores, which would then skip it; a record of an
 *    older life of that member (a graceful leave, then a restart) gives
 *    its address, not its state (LEFT would make the lcores skip it);
 *  - the rebalancer hears of a view once, only if it includes this node,
 *    and only after a grace period that follows its publication (no lcore
 *    still writes under the old table);
 *  - the quorum rule judges every publication of a view that includes this
 *    node (a new view or a member state change) on the members live here;
 *  - a send the channel cannot do now (-EHOSTUNREACH: ARP pending,
 *    -ENOBUFS) is dropped and counted: the protocol retransmits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <urcu-qsbr.h>

#include <weft/wire.h>

#include "control.h"
#include "ctl_rebalance_internal.h"
#include "membership.h"

#define CL_RX_BURST 16u
#define CL_RX_ROUNDS 8u /* at most 128 datagrams per poll */
/* A view may arrive before the records (address, name) of its new members:
 * its publication waits for them this long at most. */
#define CL_INFO_WAIT_MS 1000u

struct weft_ctl_cluster {
	struct weft_dp *dp;
	struct weft_swim *swim;
	struct weft_swim_sink sink;
	const char *home;
	char id_text[37];
	struct weft_swim_id id; /* this node's */
	uint64_t nonce;         /* this life's */
	uint32_t max_members;
	uint32_t segments;     /* --segments */
	uint32_t owners;       /* --owners */
	uint16_t *seg;         /* scratch: segments * owners owner indices */
	uint16_t *seg_pub;     /* hand-off: the table published (without us) */
	struct weft_swim_view_member *pub_view; /* the published view's members */
	uint32_t pub_n;
	struct weft_swim_view_id pub_id;        /* and its id */
	bool published;        /* a view was published (pub_* valid) */
	uint64_t info_wait_from; /* publication waiting for member records since */
	bool handing_off;      /* hand-off switched: publish tables without us */
	bool dirty;        /* member states or the view changed: publish */
	bool view_changed; /* a VIEW event since the last publish: log it */
	bool refused;
	bool leave_done;
	uint64_t tx_dropped;
	struct weft_dp_members *snap; /* scratch of max_members entries */
	struct weft_swim_id *ids;     /* scratch: the view's ids, by index */
	bool *live;                   /* scratch: ALIVE here (self always) */
	struct weft_ctl_rebalance *rb;
	struct weft_swim_view_id rb_view; /* view last given to rb */
	bool quorum_mode;             /* --partition-handling quorum */
	struct weft_ctl_quorum quorum;
	bool quorum_changed;          /* by a LEFT event: log at the publish */
	uint64_t now;                 /* of the running poll */
	/* read-through (ctl_readthrough.c): the topology of the last view
	 * given to the rebalancer, and the table published from it */
	struct weft_swim_view_member *prev_view;
	uint32_t prev_n;              /* 0: none yet */
	uint32_t prev_owners;
	uint16_t *prev_seg;           /* segments * owners */
	uint16_t *seg_prev;           /* segments: published as snap->seg_prev */
};

/* How long after a view change a new owner reads misses through to the
 * segment's old owner: longer than a state transfer of a large data set
 * takes (perf/RESULTS.md), short enough that misses soon cost one hop. */
#define CL_READ_THROUGH_MS 60000u

static uint64_t unix_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The 16 bytes as 8-4-4-4-12 hex (ids come from UUID text: no bit fixing). */
static void id_format(const struct weft_swim_id *id, char out[37])
{
	char *p = out;
	for (unsigned i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		snprintf(p, 3, "%02x", id->b[i]);
		p += 2;
	}
	*p = '\0';
}

static void addr_format(const struct weft_swim_addr *a, char out[24])
{
	snprintf(out, 24, "%u.%u.%u.%u:%u", a->ip >> 24, (a->ip >> 16) & 255u,
		 (a->ip >> 8) & 255u, a->ip & 255u, a->port);
}

static void on_send(void *ctx, const struct weft_swim_addr *to, const void *buf, size_t len)
{
	struct weft_ctl_cluster *cl = ctx;
	int rc = weft_dp_ctl_send(cl->dp, htonl(to->ip), to->port, buf, len);
	if (rc == -EHOSTUNREACH || rc == -ENOBUFS)
		cl->tx_dropped++;
	else if (rc < 0)
		weft_ctl_log(WEFT_LOG_DEBUG, "cluster send of %zu bytes failed: %s", len,
			     strerror(-rc));
}

static void on_event(void *ctx, const struct weft_swim_event *ev)
{
	struct weft_ctl_cluster *cl = ctx;
	char addr[24], id[37];
	const char *name = ev->name && ev->name[0] ? ev->name : "-";

	addr_format(&ev->addr, addr);
	id_format(&ev->id, id);
	switch (ev->kind) {
	case WEFT_SWIM_EV_JOINED:
		weft_ctl_log(WEFT_LOG_INFO, "joined a cluster");
		break;
	case WEFT_SWIM_EV_MEMBER_UP:
		weft_ctl_log(WEFT_LOG_INFO, "member up: %s at %s (node %s)", name, addr, id);
		cl->dirty = true;
		break;
	case WEFT_SWIM_EV_SUSPECT:
		weft_ctl_log(WEFT_LOG_WARN, "member suspect: %s at %s (node %s)", name, addr, id);
		cl->dirty = true;
		break;
	case WEFT_SWIM_EV_DOWN:
		weft_ctl_log(WEFT_LOG_WARN, "member down: %s at %s (node %s)", name, addr, id);
		cl->dirty = true;
		break;
	case WEFT_SWIM_EV_LEFT:
		weft_ctl_log(WEFT_LOG_INFO, "member left: %s at %s (node %s)", name, addr, id);
		cl->dirty = true;
		if (cl->quorum_mode && weft_ctl_quorum_left(&cl->quorum, &ev->id) == 1)
			cl->quorum_changed = true;
		break;
	case WEFT_SWIM_EV_VIEW:
		cl->dirty = true;
		cl->view_changed = true;
		break;
	case WEFT_SWIM_EV_REFUSED:
		weft_ctl_log(WEFT_LOG_ERROR,
			     "refused by the cluster: %s. (This node's id %s is in %s/data/node-id; "
			     "the node already using it is %s at %s.)",
			     ev->reason ? ev->reason : "duplicate node id", cl->id_text, cl->home,
			     name, addr);
		cl->refused = true;
		break;
	case WEFT_SWIM_EV_LEAVE_DONE:
		cl->leave_done = true;
		break;
	}
}

static void fill_member(struct weft_dp_member *m, const char *name, const char *id, uint32_t ip_host,
			uint16_t data_port, uint8_t state, uint64_t start_unix_ms)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->ip = htonl(ip_host);
	m->port = data_port;
	m->state = state;
	m->start_unix_ms = start_unix_ms;
}

/* Computes the segment table of view v (n members) into seg and points
 * snap at it. 0 or a negative errno (logged by the caller). */
static int seg_table(const struct weft_swim_view_member *v, uint32_t n, uint32_t segments,
		     uint32_t owners, uint16_t *seg, struct weft_dp_members *snap)
{
	struct weft_swim_seg_table t = {.owner = seg};
	int rc = weft_swim_seg_compute(v, n, segments, owners, &t);
	if (rc < 0)
		return rc;
	snap->seg_log2 = (uint16_t)__builtin_ctz(segments);
	snap->owners = (uint16_t)t.owners;
	snap->seg_owner = seg;
	return 0;
}

int weft_ctl_publish_self(struct weft_dp *dp, const struct weft_ctl_args *a, const char *id,
			  uint16_t data_port, uint64_t start_unix_ms)
{
	struct {
		struct weft_dp_members h;
		struct weft_dp_member m[1];
	} one = {.h = {.view = 0, .coordinator = 0, .self = 0, .n = 1}};
	/* A clustered node that ran before under this id (a restart, maybe
	 * after a kill -9) is, until it joins, outside the cluster's view,
	 * which may still list its previous life: published as not listed
	 * (self NONE), its lcores answer keyed ops of shared caches BUSY
	 * rather than from its empty store (dp_route.c): a read would say
	 * NOT_FOUND for a key the cluster holds, a write would be acknowledged
	 * unreplicated. A new node keeps serving before its first view. */
	if (a->restarted && (a->clustered || a->n_peers > 0))
		one.h.self = WEFT_DP_SELF_NONE;
	struct weft_swim_view_member self = {.nonce = start_unix_ms};
	fill_member(&one.h.m[0], a->node_name, id, ntohl(a->bind_ip), data_port,
		    WEFT_DP_MEMBER_ALIVE, start_unix_ms);
	if (weft_ctl_uuid_parse(id, self.id.b) != 0)
		return -EINVAL;
	uint16_t *seg = malloc(a->segments * sizeof(*seg)); /* one owner per segment */
	if (seg == NULL)
		return -ENOMEM;
	int rc = seg_table(&self, 1, a->segments, 1, seg, &one.h);
	if (rc == 0)
		rc = weft_dp_publish_members(dp, &one.h);
	free(seg);
	return rc;
}

/* The table of the published view without this node (index self), in the
 * view's indices, into cl->seg_pub; points snap at it. What a node handing
 * its segments over publishes: its lcores then forward every write to the
 * owners the segments get once it is gone. 0 or a negative errno. */
static int seg_table_without_self(struct weft_ctl_cluster *cl, uint32_t self,
				  struct weft_dp_members *snap)
{
	uint32_t n = cl->pub_n;
	struct weft_swim_view_member *w = malloc((n - 1) * sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	for (uint32_t i = 0, j = 0; i < n; i++)
		if (i != self)
			w[j++] = cl->pub_view[i];
	struct weft_swim_seg_table t = {.owner = cl->seg_pub};
	int rc = weft_swim_seg_compute(w, n - 1, cl->segments, cl->owners, &t);
	free(w);
	if (rc < 0)
		return rc;
	for (uint32_t k = 0; k < cl->segments * t.owners; k++)
		if (cl->seg_pub[k] >= self)
			cl->seg_pub[k]++; /* skip self: indices of the full view */
	snap->owners = (uint16_t)t.owners;
	snap->seg_owner = cl->seg_pub;
	return 0;
}

/* The record of view member m: 0, or -ENOENT when this node has none. A
 * record of an older life of that member (smaller nonce) gives its
 * address but not its state: a node that left gracefully and restarts
 * under the same id rejoins in a view that reaches the other members
 * before its new record does, and the old record says LEFT. Published
 * LEFT, the new life would be no replication target (dp_route.c): its
 * segments' writes would be acknowledged without the copy on it while it
 * serves their reads. The view's coordinator admitted the new life: it is
 * published ALIVE until its own record arrives. */
static int member_record(const struct weft_ctl_cluster *cl, const struct weft_swim_view_member *m,
			 struct weft_swim_member_info *info)
{
	if (weft_swim_member_info(cl->swim, &m->id, info) != 0)
		return -ENOENT;
	if (info->nonce < m->nonce)
		info->state = WEFT_SWIM_ALIVE;
	return 0;
}

/* True when this node holds the record (address) of every member of v. */
static bool members_known(const struct weft_ctl_cluster *cl, const struct weft_swim_view_member *v,
			  uint32_t n)
{
	struct weft_swim_member_info info;

	for (uint32_t i = 0; i < n; i++)
		if (member_record(cl, &v[i], &info) != 0 || info.addr.ip == 0)
			return false;
	return true;
}

/* Fills cl->seg_prev for the new view v (n members, table cl->seg with
 * `owners`, this node at self, cl->live filled for v: an ALIVE old owner
 * is preferred) from the previous one; a node's first view
 * (it just joined) compares with the same view without itself. Then keeps
 * v as the previous view. 0 or -ENOMEM. */
static int read_through(struct weft_ctl_cluster *cl, const struct weft_swim_view_member *v,
			uint32_t n, uint32_t self, uint32_t owners)
{
	struct weft_ctl_topo nt = {.n = n, .members = v, .n_segments = cl->segments,
				   .owners = owners, .seg_owner = cl->seg};
	struct weft_ctl_topo ot = {.n = cl->prev_n, .members = cl->prev_view,
				   .n_segments = cl->segments, .owners = cl->prev_owners,
				   .seg_owner = cl->prev_seg};
	if (cl->prev_n == 0 && n > 1) { /* joined: the others' view was v without us */
		for (uint32_t i = 0, j = 0; i < n; i++)
			if (i != self)
				cl->prev_view[j++] = v[i];
		struct weft_swim_seg_table t = {.owner = cl->prev_seg};
		int rc = weft_swim_seg_compute(cl->prev_view, n - 1, cl->segments, cl->owners, &t);
		if (rc < 0)
			return rc;
		ot.n = n - 1;
		ot.owners = t.owners;
	}
	weft_ctl_read_through(ot.n > 0 ? &ot : NULL, &nt, self, cl->live, cl->seg_prev);
	memcpy(cl->prev_view, v, n * sizeof(*v));
	memcpy(cl->prev_seg, cl->seg, (size_t)cl->segments * owners * sizeof(*cl->seg));
	cl->prev_n = n;
	cl->prev_owners = owners;
	return 0;
}

/* Logs the view (after a VIEW event) and publishes the snapshot. */
static void publish(struct weft_ctl_cluster *cl)
{
	struct weft_swim_view_id vid;
	uint32_t n = 0;
	const struct weft_swim_view_member *v = weft_swim_view(cl->swim, &vid, &n);
	struct weft_swim_member_info info;
	char list[512];
	size_t used = 0;

	cl->dirty = false;
	if (v == NULL || n == 0)
		return;
	if (n > cl->max_members)
		n = cl->max_members;
	if ((!cl->published || weft_swim_view_id_cmp(&vid, &cl->pub_id) != 0) &&
	    !members_known(cl, v, n)) {
		/* Published now, a member without a record would show dead with
		 * no address: the lcores would neither replicate nor forward to
		 * it, and writes would miss their new owner. Wait (bounded). */
		if (cl->info_wait_from == 0)
			cl->info_wait_from = cl->now ? cl->now : 1;
		if (cl->now - cl->info_wait_from < CL_INFO_WAIT_MS) {
			cl->dirty = true;
			return;
		}
	}
	cl->info_wait_from = 0;
	struct weft_dp_members *s = cl->snap;
	s->view = vid.counter;
	s->coordinator = 0;
	s->self = WEFT_DP_SELF_NONE;
	s->n = n;
	list[0] = '\0';
	for (uint32_t i = 0; i < n; i++) {
		char id[37];
		id_format(&v[i].id, id);
		if (member_record(cl, &v[i], &info) != 0) {
			memset(&info, 0, sizeof(info));
			info.state = WEFT_SWIM_DEAD;
		}
		/* weftd's convention: cluster port = data port + 1. */
		fill_member(&s->m[i], info.name, id, info.addr.ip,
			    (uint16_t)(info.addr.port ? info.addr.port - 1 : 0), (uint8_t)info.state,
			    v[i].nonce / 1000u);
		if (!memcmp(&v[i].id, &vid.coord.id, sizeof(vid.coord.id)))
			s->coordinator = i;
		/* This life, not a previous one under the same id that the
		 * view still lists: that member's data died with it. */
		if (!memcmp(&v[i].id, &cl->id, sizeof(cl->id)) && v[i].nonce == cl->nonce)
			s->self = i;
		if (used < sizeof(list))
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
						 i ? ", " : "", info.name[0] ? info.name : id);
	}
	if (cl->view_changed) {
		cl->view_changed = false;
		const struct weft_dp_member *c = &s->m[s->coordinator];
		weft_ctl_log(WEFT_LOG_INFO, "view %" PRIu64 " installed (coordinator %s): %u member(s): %s%s",
			     vid.counter, c->name[0] ? c->name : c->id, n, list,
			     used >= sizeof(list) ? "..." : "");
	}
	for (uint32_t i = 0; i < n; i++) {
		cl->ids[i] = v[i].id;
		cl->live[i] = i == s->self || s->m[i].state == WEFT_SWIM_ALIVE;
	}
	/* A view without this node (heard while joining or after leaving) is
	 * someone else's: neither quorum nor state transfer follow it. */
	bool new_view = weft_swim_view_id_cmp(&vid, &cl->rb_view) != 0 &&
			s->self != WEFT_DP_SELF_NONE;
	if (cl->quorum_mode && s->self != WEFT_DP_SELF_NONE &&
	    weft_ctl_quorum_view(&cl->quorum, cl->ids, cl->live, n) == 1)
		cl->quorum_changed = true;
	s->no_quorum = cl->quorum_mode && cl->quorum.no_quorum;
	if (cl->quorum_changed) {
		cl->quorum_changed = false;
		const struct weft_ctl_quorum *q = &cl->quorum;
		if (q->no_quorum)
			weft_ctl_log(WEFT_LOG_WARN,
				     "lost quorum: %u of %u members of the last stable view present; "
				     "writes refused until the partition heals "
				     "(--partition-handling quorum)", q->last_present, q->last_stable);
		else
			weft_ctl_log(WEFT_LOG_INFO,
				     "quorum regained: %u of %u members of the last stable view "
				     "present; writes accepted", q->last_present, q->last_stable);
	}
	memcpy(cl->pub_view, v, n * sizeof(*v));
	cl->pub_n = n;
	cl->pub_id = vid;
	cl->published = true;
	int rc = seg_table(v, n, cl->segments, cl->owners, cl->seg, s);
	uint16_t owners = s->owners; /* of the view's own table (cl->seg) */
	if (rc == 0 && new_view) {
		rc = read_through(cl, v, n, s->self, owners);
		s->seg_prev = cl->seg_prev;
		s->seg_prev_until_ms = weft_dp_now_ms(cl->dp) + CL_READ_THROUGH_MS;
	}
	if (rc == 0 && cl->handing_off && s->self != WEFT_DP_SELF_NONE && n > 1)
		rc = seg_table_without_self(cl, s->self, s);
	if (rc == 0)
		rc = weft_dp_publish_members(cl->dp, s);
	if (rc < 0) {
		weft_ctl_log(WEFT_LOG_WARN, "cannot publish the topology snapshot: %s",
			     strerror(-rc));
		return;
	}
	if (!new_view) {
		if (weft_swim_view_id_cmp(&vid, &cl->rb_view) == 0)
			weft_ctl_rebalance_addresses(cl->rb, s);
		return;
	}
	cl->rb_view = vid;
	/* Every write an lcore applies under the previous snapshot is done
	 * once a grace period has passed: the state transfer's scans start
	 * after it, so they see them all. */
	urcu_qsbr_synchronize_rcu();
	struct weft_ctl_topo t = {.view = vid.counter, .n = n, .members = v,
				  .n_segments = cl->segments, .owners = owners,
				  .seg_owner = cl->seg};
	rc = weft_ctl_rebalance_view(cl->rb, &t, s, cl->now);
	if (rc < 0)
		weft_ctl_log(WEFT_LOG_WARN, "rebalance for view %" PRIu64 " not started: %s",
			     vid.counter, strerror(-rc));
}

/* Gives the rebalancer the first snapshot: this node alone (view 0), so
 * that what clients wrote before the first view moves with it. */
static int rebalance_first(struct weft_ctl_cluster *cl, const struct weft_ctl_args *a,
			   uint16_t data_port)
{
	struct weft_dp_members *s = cl->snap;

	memset(s, 0, sizeof(*s));
	s->n = 1;
	s->self = 0;
	fill_member(&s->m[0], a->node_name, cl->id_text, ntohl(a->bind_ip), data_port,
		    WEFT_DP_MEMBER_ALIVE, 0);
	struct weft_swim_view_member self = {.id = cl->id, .nonce = cl->nonce};
	memset(cl->seg, 0, cl->segments * sizeof(*cl->seg));
	struct weft_ctl_topo t = {.view = 0, .n = 1, .members = &self, .n_segments = cl->segments,
				  .owners = 1, .seg_owner = cl->seg};
	return weft_ctl_rebalance_view(cl->rb, &t, s, cl->now);
}

/* The sender's hand-off hook (ctl_rebalance_internal.h): republish the
 * current snapshot with the table without this node, then wait for a grace
 * period so that no lcore still applies a write as an owner. */
static void handoff_switch(void *arg)
{
	struct weft_ctl_cluster *cl = arg;
	struct weft_dp_members *s = cl->snap;

	cl->handing_off = true;
	if (!cl->published || s->self == WEFT_DP_SELF_NONE || cl->pub_n < 2)
		return;
	int rc = seg_table_without_self(cl, s->self, s);
	if (rc == 0)
		rc = weft_dp_publish_members(cl->dp, s);
	if (rc < 0) {
		weft_ctl_log(WEFT_LOG_WARN, "hand-off: cannot publish the table without this "
			     "node: %s", strerror(-rc));
		return;
	}
	weft_ctl_log(WEFT_LOG_INFO, "hand-off: this node owns no segment now; new writes go "
		     "to their next owners");
	urcu_qsbr_synchronize_rcu();
}

struct weft_ctl_cluster *weft_ctl_cluster_create(struct weft_dp *dp,
						 struct weft_cache_registry *reg,
						 const struct weft_ctl_args *a,
						 const char *node_id, uint16_t ctl_port)
{
	struct weft_swim_config cfg;
	struct weft_ctl_cluster *cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return NULL;
	weft_swim_config_default(&cfg);
	if (weft_ctl_uuid_parse(node_id, cfg.id.b) != 0) {
		free(cl);
		errno = EINVAL;
		return NULL;
	}
	cl->dp = dp;
	cl->id = cfg.id;
	cl->home = a->home;
	snprintf(cl->id_text, sizeof(cl->id_text), "%s", node_id);
	cl->max_members = cfg.max_members;
	cfg.nonce = unix_us();
	cl->nonce = cfg.nonce;
	cfg.addr = (struct weft_swim_addr){ntohl(a->bind_ip), ctl_port};
	if (a->clustered)
		cfg.group = (struct weft_swim_addr){ntohl(a->mcast_group), ctl_port};
	if (getrandom(&cfg.seed, sizeof(cfg.seed), 0) != (ssize_t)sizeof(cfg.seed))
		cfg.seed = cfg.nonce ^ ((uint64_t)cfg.addr.ip << 32);
	snprintf(cfg.name, sizeof(cfg.name), "%s", a->node_name);
	cl->segments = a->segments;
	cl->owners = a->owners;
	cl->snap = calloc(1, sizeof(*cl->snap) + cfg.max_members * sizeof(struct weft_dp_member));
	cl->seg = malloc((size_t)a->segments * a->owners * sizeof(*cl->seg));
	cl->ids = malloc(cfg.max_members * sizeof(*cl->ids));
	cl->live = malloc(cfg.max_members * sizeof(*cl->live));
	cl->seg_pub = malloc((size_t)a->segments * a->owners * sizeof(*cl->seg_pub));
	cl->pub_view = malloc(cfg.max_members * sizeof(*cl->pub_view));
	cl->prev_view = malloc(cfg.max_members * sizeof(*cl->prev_view));
	cl->prev_seg = malloc((size_t)a->segments * a->owners * sizeof(*cl->prev_seg));
	cl->seg_prev = malloc((size_t)a->segments * sizeof(*cl->seg_prev));
	cl->rb = weft_ctl_rebalance_create(dp, reg, handoff_switch, cl);
	cl->quorum_mode = a->partition == WEFT_CTL_PARTITION_QUORUM;
	cl->now = weft_dp_now_ms(dp);
	bool ok = cl->snap && cl->seg && cl->seg_pub && cl->pub_view && cl->ids && cl->live && cl->rb &&
		  cl->prev_view && cl->prev_seg && cl->seg_prev &&
		  weft_ctl_quorum_init(&cl->quorum, cfg.max_members) == 0;
	cl->swim = ok ? weft_swim_create(&cfg, weft_dp_now_ms(dp)) : NULL;
	if (cl->swim == NULL) {
		int e = ok ? errno : ENOMEM;
		weft_ctl_cluster_destroy(cl);
		errno = e;
		return NULL;
	}
	cl->sink = (struct weft_swim_sink){cl, on_send, on_event};
	int rc = weft_ctl_publish_self(dp, a, node_id, (uint16_t)(ctl_port - 1),
				       cfg.nonce / 1000u);
	if (rc == 0)
		rc = rebalance_first(cl, a, (uint16_t)(ctl_port - 1));
	struct weft_swim_addr seeds[WEFT_CTL_MAX_PEERS];
	for (unsigned i = 0; i < a->n_peers; i++)
		seeds[i] = (struct weft_swim_addr){ntohl(a->peers[i]), ctl_port};
	if (rc == 0)
		rc = weft_swim_join(cl->swim, weft_dp_now_ms(dp), seeds, a->n_peers, &cl->sink);
	if (rc < 0) {
		weft_ctl_cluster_destroy(cl);
		errno = -rc;
		return NULL;
	}
	return cl;
}

void weft_ctl_cluster_destroy(struct weft_ctl_cluster *cl)
{
	if (cl == NULL)
		return;
	weft_swim_destroy(cl->swim);
	weft_ctl_rebalance_destroy(cl->rb);
	weft_ctl_quorum_fini(&cl->quorum);
	free(cl->ids);
	free(cl->live);
	free(cl->pub_view);
	free(cl->prev_view);
	free(cl->prev_seg);
	free(cl->seg_prev);
	free(cl->seg_pub);
	free(cl->seg);
	free(cl->snap);
	free(cl);
}

/* A weft response (magic "FW" little-endian, WEFT_F_RESPONSE): the ack of a
 * REPLICATE message this node sent. SWIM datagrams start with "WM". */
static bool is_weft_response(const struct weft_dp_datagram *dg)
{
	return dg->len >= sizeof(struct weft_wire_hdr) &&
	       dg->payload[0] == (WEFT_WIRE_MAGIC & 0xffu) &&
	       dg->payload[1] == (WEFT_WIRE_MAGIC >> 8) &&
	       (dg->payload[offsetof(struct weft_wire_hdr, flags)] & WEFT_F_RESPONSE);
}

uint64_t weft_ctl_cluster_poll(struct weft_ctl_cluster *cl, uint64_t now_ms)
{
	struct weft_dp_datagram dg[CL_RX_BURST];

	cl->now = now_ms;
	for (unsigned r = 0; r < CL_RX_ROUNDS; r++) {
		unsigned n = weft_dp_ctl_recv(cl->dp, now_ms, dg, CL_RX_BURST);
		for (unsigned i = 0; i < n; i++) {
			if (is_weft_response(&dg[i])) {
				weft_ctl_rebalance_on_response(cl->rb, &dg[i], now_ms);
				continue;
			}
			struct weft_swim_addr from = {ntohl(dg[i].src_ip), dg[i].src_port};
			weft_swim_recv(cl->swim, now_ms, &from, dg[i].payload, dg[i].len,
				       &cl->sink);
		}
		if (n < CL_RX_BURST)
			break;
	}
	if (now_ms >= weft_swim_next_deadline(cl->swim))
		weft_swim_tick(cl->swim, now_ms, &cl->sink);
	if ((cl->dirty || cl->quorum_changed) && !cl->refused)
		publish(cl);
	/* After the datagrams of this poll: an ACK renews the lease from its
	 * probe's send time, so a node resuming from a pause does not renew it
	 * with an ACK that waited in its queue. */
	weft_dp_set_lease(cl->dp, weft_swim_lease_until(cl->swim));
	uint64_t next = weft_swim_next_deadline(cl->swim);
	uint64_t rb_next = weft_ctl_rebalance_poll(cl->rb, now_ms);
	return rb_next < next ? rb_next : next;
}

int weft_ctl_cluster_handoff(struct weft_ctl_cluster *cl, uint64_t now_ms)
{
	int rc = weft_ctl_rebalance_handoff(cl->rb, now_ms);
	if (rc < 0 && rc != -ENOTCONN)
		weft_ctl_log(WEFT_LOG_WARN, "cannot hand segments over: %s", strerror(-rc));
	return rc;
}

bool weft_ctl_cluster_handoff_done(const struct weft_ctl_cluster *cl)
{
	return weft_ctl_rebalance_idle(cl->rb);
}

bool weft_ctl_cluster_refused(const struct weft_ctl_cluster *cl)
{
	return cl->refused;
}

int weft_ctl_cluster_leave(struct weft_ctl_cluster *cl, uint64_t now_ms)
{
	int rc = weft_swim_leave(cl->swim, now_ms, &cl->sink);
	if (rc == 0)
		weft_ctl_log(WEFT_LOG_INFO, "leaving the cluster");
	return rc;
}

bool weft_ctl_cluster_left(const struct weft_ctl_cluster *cl)
{
	return cl->leave_done;
}
