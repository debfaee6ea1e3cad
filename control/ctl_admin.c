/*
 * ctl_admin.c — the admin plane's lifecycle and its collector thread
 * (ctl_admin.h): once a second the collector takes a snapshot of the node
 * and publishes it for the HTTP server (ctl_admin_http.c), which renders
 * every answer from the latest snapshot alone.
 *
 * A snapshot holds:
 *  - the STATS text, formatted here as the dataplane formats it for the
 *    STATS op (weft_dp_stats_format: per-lcore counters read without
 *    synchronisation, the side tables' copies under their short locks),
 *    and the view (weft_dp_members_copy); the collector is a QSBR reader,
 *    online only for these two calls;
 *  - what only the wire answers — TOPOLOGY, DESTINATIONS, APPS — asked of
 *    this node through an in-node client (ctl_local.h), with short
 *    timeouts, and a PING whose round trip is the probe histogram and whose
 *    answer says the dataplane serves (/health).
 *
 * Invariants: a published snapshot is never changed; it is freed when the
 * last reference (the admin's "current" one, or an HTTP request's) goes,
 * under a.mu. The collector is the only thread using the in-node client.
 * Both threads run with SIGINT/SIGTERM blocked (weftd's main thread takes
 * them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>
#include <urcu-qsbr.h>

#include "control.h"
#include "ctl_admin.h"
#include "ctl_admin_internal.h"
#include "ctl_clock_internal.h"
#include "ctl_local.h"

#define COLLECT_EVERY_MS 1000u
#define CALL_TIMEOUT_MS 250u  /* per attempt of an in-node call */
#define CALL_DEADLINE_MS 800u /* per in-node call */
#define STATS_MAX (16u << 20) /* a STATS text longer than this is not kept */

struct ctl_admin {
	struct ctl_admin_cfg cfg;
	char node_name[WEFT_CTL_NAME_MAX + 1];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct adm_snap *cur;  /* latest; its reference is the admin's */
	pthread_t collector;
	struct weft_dp_local *l;
	uint32_t lid;
	weft_client *c;
	struct MHD_Daemon *httpd;
	/* the collector's own */
	char *stats_buf;
	size_t stats_cap;
	uint64_t probe_le[ADM_PROBE_BUCKETS], probe_count, collect_errors;
	double probe_sum_s;
	uint64_t http_requests; /* atomic */
	struct adm_point ring[ADM_HISTORY]; /* the history, ring_n points from ring_head */
	unsigned ring_head, ring_n;
};

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void adm_snap_free(struct adm_snap *s)
{
	if (s == NULL)
		return;
	free(s->stats);
	free(s->members);
	weft_topology_free(s->topo);
	free(s->dests);
	free(s->apps);
	free(s->hist);
	free(s);
}

struct adm_snap *adm_snap_acquire(struct ctl_admin *a)
{
	pthread_mutex_lock(&a->mu);
	struct adm_snap *s = a->cur;
	if (s != NULL)
		s->refs++;
	pthread_mutex_unlock(&a->mu);
	return s;
}

void adm_snap_release(struct ctl_admin *a, struct adm_snap *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	bool last = --s->refs == 0;
	pthread_mutex_unlock(&a->mu);
	if (last)
		adm_snap_free(s);
}

void adm_count_request(struct ctl_admin *a)
{
	__atomic_fetch_add(&a->http_requests, 1, __ATOMIC_RELAXED);
}

/* STATS and the view, read directly (QSBR online only here). */
static void read_direct(struct ctl_admin *a, struct adm_snap *s)
{
	urcu_qsbr_thread_online();
	size_t need = weft_dp_stats_format(a->cfg.dp, a->stats_buf, a->stats_cap);
	s->members = weft_dp_members_copy(a->cfg.dp);
	urcu_qsbr_thread_offline();
	if (need >= a->stats_cap && need < STATS_MAX) {
		/* Grown for the next time; this time it is retried once. */
		char *p = realloc(a->stats_buf, need + 4096);
		if (p != NULL) {
			a->stats_buf = p;
			a->stats_cap = need + 4096;
			urcu_qsbr_thread_online();
			need = weft_dp_stats_format(a->cfg.dp, a->stats_buf, a->stats_cap);
			urcu_qsbr_thread_offline();
		}
	}
	if (need < a->stats_cap && (s->stats = malloc(need + 1)) != NULL) {
		memcpy(s->stats, a->stats_buf, need + 1);
		s->stats_len = need;
	}
	a->collect_errors += (s->stats == NULL) + (s->members == NULL);
}

/* PING (timed), TOPOLOGY, DESTINATIONS and APPS over the in-node client. */
static void read_wire(struct ctl_admin *a, struct adm_snap *s)
{
	double t0 = mono_s();
	s->dp_ok = weft_ping(a->c) == 0;
	if (s->dp_ok) {
		double dt = mono_s() - t0;
		for (unsigned i = 0; i < ADM_PROBE_BUCKETS; i++)
			a->probe_le[i] += dt <= adm_probe_bounds[i];
		a->probe_count++;
		a->probe_sum_s += dt;
	}
	if (weft_topology(a->c, &s->topo) != 0)
		s->topo = NULL;
	if (weft_destinations(a->c, &s->dests, &s->dests_len) != 0)
		s->dests = NULL;
	if (weft_apps(a->c, &s->apps, &s->apps_len) != 0)
		s->apps = NULL;
	a->collect_errors += !s->dp_ok + (s->topo == NULL) + (s->dests == NULL) +
			     (s->apps == NULL);
}

/* Adds s's point to the history and gives s a copy of it, oldest first. */
static void keep_point(struct ctl_admin *a, struct adm_snap *s)
{
	struct adm_point p;
	if (adm_point_of(s, &p)) {
		a->ring[(a->ring_head + a->ring_n) % ADM_HISTORY] = p;
		if (a->ring_n < ADM_HISTORY)
			a->ring_n++;
		else
			a->ring_head = (a->ring_head + 1) % ADM_HISTORY;
	}
	s->hist = a->ring_n ? malloc(a->ring_n * sizeof(*s->hist)) : NULL;
	if (s->hist == NULL)
		return;
	for (unsigned i = 0; i < a->ring_n; i++)
		s->hist[i] = a->ring[(a->ring_head + i) % ADM_HISTORY];
	s->n_hist = a->ring_n;
}

static void collect(struct ctl_admin *a)
{
	struct adm_snap *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		a->collect_errors++;
		return;
	}
	s->refs = 1;
	s->node_name = a->node_name;
	s->clustered = a->cfg.clustered;
	read_direct(a, s);
	read_wire(a, s);
	s->unix_ms = ctl_unix_ms();
	s->mono_ms = ctl_mono_ms();
	memcpy(s->probe_le, a->probe_le, sizeof(s->probe_le));
	s->probe_count = a->probe_count;
	s->probe_sum_s = a->probe_sum_s;
	s->collect_errors = a->collect_errors;
	s->http_requests = __atomic_load_n(&a->http_requests, __ATOMIC_RELAXED);
	keep_point(a, s);
	pthread_mutex_lock(&a->mu);
	struct adm_snap *old = a->cur;
	a->cur = s;
	bool last = old != NULL && --old->refs == 0;
	pthread_mutex_unlock(&a->mu);
	if (last)
		adm_snap_free(old);
}

static void *collector_main(void *arg)
{
	struct ctl_admin *a = arg;
	urcu_qsbr_register_thread();
	urcu_qsbr_thread_offline();
	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		pthread_mutex_unlock(&a->mu);
		collect(a);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += COLLECT_EVERY_MS / 1000u;
		pthread_mutex_lock(&a->mu);
		while (!a->stop && pthread_cond_timedwait(&a->cv, &a->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&a->mu);
	urcu_qsbr_unregister_thread();
	return NULL;
}

static void release(struct ctl_admin *a)
{
	adm_http_stop(a->httpd);
	if (a->c != NULL)
		weft_client_close(a->c);
	if (a->l != NULL)
		weft_dp_local_close(a->l);
	adm_snap_free(a->cur);
	free(a->stats_buf);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

struct ctl_admin *ctl_admin_start(const struct ctl_admin_cfg *cfg)
{
	if (cfg->dp == NULL || cfg->listen_port == 0 || cfg->node_name == NULL) {
		errno = EINVAL;
		return NULL;
	}
	struct ctl_admin *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->cfg = *cfg;
	snprintf(a->node_name, sizeof(a->node_name), "%s", cfg->node_name);
	a->cfg.node_name = a->node_name;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv, &ca);
	pthread_condattr_destroy(&ca);
	a->stats_cap = 64u << 10;
	a->stats_buf = malloc(a->stats_cap);
	char ip[INET_ADDRSTRLEN], addr[INET_ADDRSTRLEN + 8];
	struct in_addr in = {.s_addr = cfg->bind_ip};
	inet_ntop(AF_INET, &in, ip, sizeof(ip));
	snprintf(addr, sizeof(addr), "%s:%u", ip, cfg->udp_port);
	struct weft_client_opts co = {.timeout_ms = CALL_TIMEOUT_MS, .retries = 2,
				      .deadline_ms = CALL_DEADLINE_MS};
	int err = ENOMEM;
	if (a->stats_buf != NULL)
		a->l = ctl_local_open(cfg->dp, &a->lid);
	if (a->l != NULL)
		a->c = ctl_local_client(a->l, a->lid, addr, &co);
	if (a->c != NULL) {
		weft_client_set_routing(a->c, false);
		a->httpd = adm_http_start(a, cfg->listen_ip, cfg->listen_port);
	}
	if (a->httpd == NULL) {
		err = errno ? errno : ENOMEM;
		goto fail;
	}
	/* The threads inherit the mask: SIGINT/SIGTERM stay with weftd's
	 * main thread. MHD's thread was started above, before this point,
	 * so adm_http_start blocks them itself. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	err = pthread_create(&a->collector, NULL, collector_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err == 0)
		return a;
fail:
	/* Closing the local client waits for a grace period. */
	{
		bool online = urcu_qsbr_read_ongoing();
		if (online)
			urcu_qsbr_thread_offline();
		release(a);
		if (online)
			urcu_qsbr_thread_online();
	}
	errno = err;
	return NULL;
}

void ctl_admin_stop(struct ctl_admin *a)
{
	if (a == NULL)
		return;
	adm_http_stop(a->httpd); /* no request holds a snapshot after this */
	a->httpd = NULL;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	bool online = urcu_qsbr_read_ongoing();
	if (online)
		urcu_qsbr_thread_offline();
	pthread_join(a->collector, NULL);
	release(a);
	if (online)
		urcu_qsbr_thread_online();
}
