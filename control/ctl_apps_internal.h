/*
 * ctl_apps_internal.h — the app runtime's private state, shared by
 * ctl_apps.c (create/destroy, the app API, listeners), ctl_apps_pool.c
 * (the thread pool and the per-thread in-node clients), ctl_apps_scan.c
 * (the control thread's tick: which apps should be deployed) and
 * ctl_apps_load.c (deploy ops on the pool: probe, private copy, dlopen,
 * init; undeploy).
 *
 * Locking: rt->mu guards the slot list's links and busy/app fields, every
 * app's listener list and stopping flag, the kept list and rt->closing;
 * rt->cv is broadcast when an op, a listener or the status job ends. The
 * pool has its own lock (struct ctl_pool). Slots are created and freed
 * only by the control thread (tick, destroy), under rt->mu, and only while
 * no op is in flight for them (!busy); the control thread reads the links
 * without the lock, other threads (the status job) with it.
 *
 * Every loaded app is in exactly one place until it is freed: a slot's
 * app field (installed), the op that loads or unloads it (the slot is
 * busy meanwhile), or rt->kept (its undeploy could not finish: a listener
 * still in a callback, or a daemon or job that did not end in time; its
 * code may still run). None is dropped: ctl_apps_destroy frees the kept
 * ones once every thread that could run their code is joined.
 *
 * Shutdown: rt->closing is set (under rt->mu) when ctl_apps_destroy
 * begins and never cleared. From then on no op installs an app: an op that
 * starts later loads nothing, and an app whose load was already running
 * is unloaded by that same op as soon as its init returns. Ops in flight
 * keep their slot busy, so destroy's wait for "no slot busy or loaded"
 * cannot end before they do.
 */
#ifndef WEFT_CTL_APPS_INTERNAL_H
#define WEFT_CTL_APPS_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "ctl_app.h"

#define CTL_APPS_POOL_DEFAULT 4u   /* threads at creation (cfg.threads 0) */
#define CTL_APPS_POOL_MAX 48u      /* the pool grows up to this many */
#define CTL_APPS_QUEUE 1024u       /* jobs waiting at most */
#define CTL_APPS_PROBE_MS 10000u   /* weft-app-check's time limit */
#define CTL_APPS_STOP_MS 10000u    /* an app's listeners end within this */
#define CTL_APPS_LISTEN_SLICE_MS 300u /* a listener looks at its stop flag */
#define CTL_APPS_PATH 4096u
#define CTL_APPS_HOME_MAX 3072u    /* longest home path (room for suffixes) */

/* --- the pool (ctl_apps_pool.c) ---------------------------------------- */

struct ctl_pool_job {
	void (*fn)(void *arg);
	void *arg;
};

/* Starts with `min` threads and grows by one whenever a job is queued and
 * no thread is idle for it, up to CTL_APPS_POOL_MAX: a long-running job (a
 * listener, a daemon's start) holds its thread, and the next job gets a
 * new one. Threads stay until the pool stops. */
struct ctl_pool {
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct ctl_pool_job q[CTL_APPS_QUEUE];
	unsigned head, n;          /* ring of waiting jobs */
	unsigned idle;             /* threads waiting for a job */
	unsigned n_threads;
	pthread_t threads[CTL_APPS_POOL_MAX];
	bool stopping;
	bool warned;               /* "all threads busy" logged */
};

int ctl_pool_init(struct ctl_pool *p, unsigned min);
/* Refuses new jobs, runs those queued, joins every thread. */
void ctl_pool_fini(struct ctl_pool *p);
int ctl_pool_submit(struct ctl_pool *p, void (*fn)(void *), void *arg);
/* Threads the pool has now (for tests and logs). */
unsigned ctl_pool_threads(struct ctl_pool *p);

/* Creates rt->tkey (the per-thread in-node clients). 0 or -errno. */
int ctl_apps_clients_init(struct ctl_apps *rt);

/* --- apps ---------------------------------------------------------------- */

struct ctl_listener {
	struct ctl_app *app;
	weft_listener_fn fn;        /* a message listener, or */
	weft_session_event_fn sess_fn; /* a session event listener (the
	                               messages' properties decoded) */
	void *ctx;
	char dest[WEFT_MAX_NAME_LEN + 1];
	char durable[WEFT_MAX_NAME_LEN + 1];
	bool has_durable;
	bool ended;                 /* fn returned < 0 (listener thread only) */
	struct ctl_listener *next;
};

/* A loaded app: struct weft_app first (what apps and the services see). */
struct ctl_app {
	struct weft_app pub;
	void *handle;               /* dlopen's */
	weft_app_fini_fn fini;
	char path[CTL_APPS_PATH];   /* the private copy, home/apps/NAME-GEN.so */
	uint64_t loaded_unix_ms;    /* when its init returned 0 */
	/* under rt->mu: */
	bool stopping;              /* undeploy begun: listeners end */
	unsigned listeners_running; /* listener jobs not yet ended */
	struct ctl_listener *listeners;
	struct ctl_app *kept_next;  /* in rt->kept */
};

/* Where an app comes from, in order of precedence. */
enum ctl_app_src { CTL_SRC_NONE, CTL_SRC_DIR, CTL_SRC_NODE, CTL_SRC_ALL };

/* What a source holds for a name: a directory file (mtime ns, size, inode)
 * or a cache entry (its version). Equal fingerprints: nothing to do. */
struct ctl_app_want {
	enum ctl_app_src src;
	uint64_t a, b, c;
};

struct ctl_app_slot {
	char name[WEFT_CTL_NAME_MAX + 1];
	struct ctl_app_want cur;    /* what is loaded, or was refused */
	struct ctl_app_want want;   /* this tick's view (control thread) */
	struct ctl_app_want seen;   /* the directory file at the last tick */
	char key[WEFT_CTL_NAME_MAX + 4]; /* want's cache key (NAME or NAME.so) */
	bool hold;                  /* the file changed since the last tick */
	bool busy;                  /* an op is in flight (rt->mu) */
	struct ctl_app *app;        /* loaded (rt->mu); NULL: none or refused */
	struct ctl_app_slot *next;
};

/* A deploy op: run on a pool thread, it undeploys slot's app (if any),
 * then loads `want` from `path` (a directory file) or `bytes` (a cache
 * value), and clears slot->busy. */
struct ctl_app_op {
	struct ctl_apps *rt;
	struct ctl_app_slot *slot;
	struct ctl_app_want want;
	char path[CTL_APPS_PATH];
	void *bytes;
	size_t len;
};

struct ctl_apps {
	struct ctl_apps_cfg cfg;
	char home[CTL_APPS_HOME_MAX];
	char node_name[WEFT_CTL_NAME_MAX + 1];
	char addr[32];              /* "IP:PORT" of this node, for clients */
	char probe[CTL_APPS_PATH];  /* weft-app-check; "" when not found */
	char node_cache[WEFT_MAX_NAME_LEN + 1]; /* weft.deploy.<node>; "": none */
	uint8_t node_id[16];
	struct ctl_services *sv;
	struct ctl_pool pool;
	pthread_key_t tkey;         /* the calling thread's in-node client */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ctl_app_slot *slots;
	uint64_t generation;        /* last one given (rt->mu) */
	uint64_t next_tick_ms;
	bool status_busy;           /* a status job is queued or running (mu) */
	bool closing;               /* destroy has begun (mu): no op installs
	                               an app any more */
	struct ctl_app *kept;       /* undeploys that could not finish (mu) */
};

/* ctl_apps_scan.c: compares the sources with the slots and submits ops
 * (control thread, online QSBR reader; with sources false: every app is
 * to be undeployed). */
void ctl_apps_reconcile(struct ctl_apps *rt, bool sources, uint64_t now_ms);

/* ctl_apps_load.c */
/* The deploy op's body (a pool job; frees op). Once rt->closing is set it
 * installs nothing (see the top comment). */
void ctl_apps_op_run(void *op);
/* Undeploys app (listeners stopped, services told, fini, dlclose,
 * private copy removed) and frees it; when a listener, a daemon or a job
 * does not end in time, app goes to rt->kept instead (still loaded, no
 * fini). A pool thread. */
void ctl_apps_unload(struct ctl_apps *rt, struct ctl_app *app);
/* Frees the apps in rt->kept: private copies removed, structs and
 * listener records freed. Their fini is not run and their code stays
 * mapped (threads of their own, which fini would have stopped, may still
 * use it). Control thread, in destroy, once the services and the pool
 * have stopped (no thread of theirs runs app code any more). */
void ctl_apps_release_kept(struct ctl_apps *rt);
/* Runs the probe on path (app name, NULL: from the file name): 0, or -1
 * with why[] filled ("weft_app_init missing", "crashed in init (signal
 * 11, ...)", ...). Any thread; blocks up to CTL_APPS_PROBE_MS. */
int ctl_apps_probe(const struct ctl_apps *rt, const char *path, const char *name, char *why,
		   size_t cap);

/* ctl_apps.c: ends app's listeners (sets stopping, waits, bounded).
 * false when some did not end in time (the app must then stay loaded). */
bool ctl_apps_stop_listeners(struct ctl_apps *rt, struct ctl_app *app);

/* True when s is an app name: 1..64 of [A-Za-z0-9._-], not starting with
 * '.'. */
bool ctl_apps_name_valid(const char *s, size_t len);

#endif /* WEFT_CTL_APPS_INTERNAL_H */
