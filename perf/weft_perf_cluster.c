/*
 * weft-perf --cluster: the segment table (libweft's weft_topology, fetched
 * from --server, the seed) turned into destinations, so each worker sends a
 * put straight to its key's primary and a get to one of its owners, spread
 * over them, on its one unconnected socket (sendmmsg with an address per
 * message). The main thread fetches the table again when a worker saw a
 * response carrying a newer epoch (wp_cluster_saw), and publishes it by
 * swapping one atomic pointer.
 *
 * Invariants: a published wp_route is immutable and lives until
 * wp_cluster_fini (after every worker stopped), so a worker may keep using
 * the pointer it loaded; a table is published only if its epoch is newer
 * than the current one's; every fetch is bounded (libweft attempts and a
 * 1 s deadline), and fetches are at least 20 ms apart.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/weft.h>

#include "weft_perf_internal.h"

#define FETCH_GAP_NS 20000000ull

struct wp_route *wp_route_build(struct weft_topology *t)
{
	struct wp_route *r = calloc(1, sizeof(*r));
	struct sockaddr_in *a = calloc(t->n_members ? t->n_members : 1, sizeof(*a));
	if (r == NULL || a == NULL) {
		free(r);
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	for (unsigned i = 0; i < t->n_members; i++) {
		const struct weft_topology_member *m = &t->members[i];
		if (m->ip == 0 || m->port == 0)
			continue; /* unusable: its keys go to the seed */
		a[i].sin_family = AF_INET;
		a[i].sin_addr.s_addr = m->ip;
		a[i].sin_port = htons(m->port);
	}
	r->topo = t;
	r->addr = a;
	r->epoch = t->epoch;
	/* As libweft: one member, or no owners yet, means everything to the
	 * seed at the address the user gave. */
	r->direct = t->n_members > 1 && t->owners > 0;
	return r;
}

void wp_route_free(struct wp_route *r)
{
	if (r == NULL)
		return;
	weft_topology_free(r->topo);
	free(r->addr);
	free(r);
}

const struct sockaddr_in *wp_route_dest(const struct wp_route *r, const void *key, size_t len,
					bool is_get, uint64_t pick)
{
	if (r == NULL || !r->direct)
		return NULL;
	unsigned replica = is_get ? (unsigned)(pick % r->topo->owners) : 0;
	int m = weft_topology_owner(r->topo, key, len, replica);
	if (m < 0 || m >= r->topo->n_members || r->addr[m].sin_family != AF_INET)
		return NULL;
	return &r->addr[m];
}

/* Keeps r for freeing at the end and makes it current. */
static int publish(struct wp_cluster *c, struct wp_route *r)
{
	if (c->n_all == c->cap_all) {
		unsigned cap = c->cap_all ? c->cap_all * 2 : 8;
		struct wp_route **all = realloc(c->all, cap * sizeof(*all));
		if (all == NULL)
			return -ENOMEM;
		c->all = all;
		c->cap_all = cap;
	}
	c->all[c->n_all++] = r;
	atomic_store_explicit(&c->cur, r, memory_order_release);
	return 0;
}

/* Fetches the seed's table; 0 and *out, or a negative weft status. */
static int fetch(struct wp_cluster *c, struct wp_route **out)
{
	struct weft_topology *t = NULL;
	c->fetches++;
	int rc = weft_topology(c->cl, &t);
	if (rc < 0) {
		c->fetch_failures++;
		return rc;
	}
	*out = wp_route_build(t);
	if (*out == NULL) {
		weft_topology_free(t);
		c->fetch_failures++;
		return -WEFT_ST_IO;
	}
	return 0;
}

int wp_cluster_init(struct wp_cluster *c, const struct wp_config *cfg)
{
	struct weft_client_opts o;
	memset(c, 0, sizeof(*c));
	weft_client_opts_init(&o);
	o.timeout_ms = 250;
	o.retries = 3;
	o.deadline_ms = 1000;
	c->cl = weft_client_connect(cfg->server_str, &o);
	if (c->cl == NULL) {
		int e = errno;
		fprintf(stderr, "weft-perf: cannot create a client socket: %s\n", strerror(e));
		return -e;
	}
	struct wp_route *r;
	int rc = fetch(c, &r);
	if (rc < 0) {
		fprintf(stderr, "weft-perf: fetching the topology from %s: %s: %s\n",
			cfg->server_str, weft_status_name(rc), weft_strerror(rc));
		return -EIO;
	}
	if (publish(c, r) < 0) {
		wp_route_free(r);
		return -ENOMEM;
	}
	atomic_store_explicit(&c->seen, r->epoch, memory_order_relaxed);
	c->last_try_ns = wp_now_ns();
	return 0;
}

void wp_cluster_refresh(struct wp_cluster *c)
{
	const struct wp_route *cur = atomic_load_explicit(&c->cur, memory_order_relaxed);
	uint32_t seen = atomic_load_explicit(&c->seen, memory_order_relaxed);
	bool no_table = cur->topo->owners == 0;
	if (!no_table && !wp_epoch_newer(seen, cur->epoch))
		return;
	uint64_t now = wp_now_ns();
	if (now - c->last_try_ns < FETCH_GAP_NS)
		return;
	c->last_try_ns = now;
	struct wp_route *r;
	if (fetch(c, &r) < 0)
		return; /* a later call tries again */
	if (!wp_epoch_newer(r->epoch, cur->epoch) && !(no_table && r->topo->owners > 0)) {
		wp_route_free(r); /* the seed has not moved on yet */
		return;
	}
	if (publish(c, r) < 0)
		wp_route_free(r);
}

void wp_cluster_fini(struct wp_cluster *c)
{
	for (unsigned i = 0; i < c->n_all; i++)
		wp_route_free(c->all[i]);
	free(c->all);
	weft_client_close(c->cl);
	memset(c, 0, sizeof(*c));
}
