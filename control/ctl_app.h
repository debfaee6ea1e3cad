/*
 * ctl_app.h — the app runtime of weftd, inside control/ (issue 6): the
 * contract between its two halves.
 *
 *   ctl_apps*.c     (the runtime) loads apps (deployments/ folder, hot;
 *                   `weftctl deploy` through the grid), refuses bad ones,
 *                   runs init/fini and every callback on the app thread
 *                   pool, gives each pool thread an in-node weft_client
 *                   (dataplane's local clients + weft_client_connect_
 *                   transport), runs listeners, implements weft_app_name /
 *                   weft_app_client / weft_app_publish / weft_app_listen.
 *   ctl_services*.c (daemons and jobs) implements weft_daemonize /
 *                   weft_schedule and the weft_daemon_* / weft_job_*
 *                   accessors: singleton placement (ctl_singleton.c) over
 *                   claims kept in the grid, job schedules (ctl_jobsched.c),
 *                   status for `weftctl daemons` / `weftctl jobs`.
 *
 * Threads: the control thread creates and ticks the runtime; apps' code
 * runs on pool threads; the services run their blocking I/O (claims) on a
 * thread of their own, never on the control thread (membership must not
 * wait on a CAS).
 */
#ifndef WEFT_CTL_APP_H
#define WEFT_CTL_APP_H

#include <stdbool.h>
#include <stdint.h>

#include <weft/app.h>
#include <weft/weft.h>

#include "dataplane.h"

struct ctl_apps;
struct ctl_services;

/* An app as the runtime holds it (weft_app is opaque to apps). */
struct weft_app {
	char name[65];
	struct ctl_apps *rt;
	uint64_t generation;    /* distinct for every load of the app */
	/* the runtime's own fields (listeners, handle, ...) follow in
	 * ctl_apps*.c's private struct that embeds this one first */
};

/* --- the runtime (ctl_apps*.c) provides ------------------------------------ */

struct ctl_apps_cfg {
	struct weft_dp *dp;       /* for in-node clients */
	const char *home;         /* deployments/ is home/deployments */
	uint32_t bind_ip;         /* the node (network order) */
	uint16_t udp_port;        /* its data port (host order) */
	unsigned threads;         /* the app pool (0: 4) */
	/* added by the runtime (issue 6): */
	struct weft_cache_registry *reg; /* dp's caches: weft.deploy.<node-name>,
	                                    weft.apps are read from it */
	const char *node_name;    /* this node's name (--node-name) */
	const uint8_t *node_id;   /* its UUID, 16 bytes (for the services) */
	const char *probe;        /* the weft-app-check executable; NULL: the
	                             one next to the running executable */
};
/* NULL + errno. Control thread. */
struct ctl_apps *ctl_apps_create(const struct ctl_apps_cfg *cfg);
/* Undeploys every app (fini, daemons stopped), including one whose load
 * is in flight when it begins, then stops the services and the pool and
 * frees what is left: an app whose undeploy did not finish (its code was
 * still running) is freed without fini once the pool's threads are
 * joined. Control thread (QSBR offline inside). */
void ctl_apps_destroy(struct ctl_apps *rt);
/* Control thread, about every second: notices deployments and
 * undeployments. */
void ctl_apps_tick(struct ctl_apps *rt, uint64_t now_ms);
/* Runs fn(arg) on a pool thread (may block there). 0, -EBUSY (queue
 * full), -ECANCELED (shutting down). Any thread. */
int ctl_apps_submit(struct ctl_apps *rt, void (*fn)(void *arg), void *arg);
/* The calling thread's in-node client (made on first use, closed when the
 * thread ends). Pool threads and the services' thread. NULL + errno. */
weft_client *ctl_apps_thread_client(struct ctl_apps *rt);
/* Whether app name is still deployed where its loaded copy came from (the
 * deployments/ file, or the key in weft.deploy.<node> / weft.apps, read
 * locally). An app being undeployed cluster-wide is gone from every
 * node's copy of weft.apps before its daemons are released, so a node
 * that checks this before claiming does not pick up a singleton that is
 * on its way out. An online QSBR reader (the services thread). */
bool ctl_apps_deployed(struct ctl_apps *rt, const char *name, uint64_t now_ms);
/* The services half (set once at creation). */
struct ctl_services *ctl_apps_services(struct ctl_apps *rt);

/* --- the services (ctl_services*.c) provide --------------------------------- */

/* NULL + errno. node_id: this node's UUID (16 bytes). */
struct ctl_services *ctl_services_create(struct ctl_apps *rt, struct weft_dp *dp,
					 const uint8_t node_id[16]);
void ctl_services_destroy(struct ctl_services *sv);
/* An app is being undeployed (or replaced): stop its daemons (stop called,
 * start waited for), cancel its jobs, release its singletons. Returns when
 * done: 0, or -ETIMEDOUT when some did not end within the bound (their
 * code still runs: the caller must not unload the app). Any thread but the
 * services' own. */
int ctl_services_app_gone(struct ctl_services *sv, weft_app *app);
/* Status lines for STATS-like text ("daemon <app>/<name> ..." and
 * "job <app>/<name> ..."): writes at most cap bytes, returns the length
 * needed (as snprintf). Any thread. */
size_t ctl_services_status(struct ctl_services *sv, char *buf, size_t cap);

#endif /* WEFT_CTL_APP_H */
