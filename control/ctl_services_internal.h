/*
 * ctl_services_internal.h — internals of the services half of the app
 * runtime (ctl_app.h): daemons and jobs at runtime. Shared by
 *   ctl_services.c         the services thread, units, app_gone, status
 *   ctl_services_claims.c  the singleton machine's glue: action executor
 *                          over a claim store (struct sv_store)
 *   ctl_services_daemons.c weft_daemonize and daemon runs (pool tasks)
 *   ctl_services_jobs.c    weft_schedule, fires and marks
 *   ctl_services_spec.c    spec parsing ("every ..." / cron), mark codec
 *   ctl_services_status.c  ctl_services_status (APPS lines)
 *   ctl_services_env.c     ctl_services_create: the real environment (app
 *                          pool, in-node client store, dataplane view)
 * and tests/unit/test_ctl_services.c, which builds the services over a
 * fake environment (struct sv_env) with sv_create.
 *
 * Threads and locking: one mutex, sv->lock, guards the unit list, every
 * unit's runtime fields and the singleton machine. The services thread
 * owns the machine and the action FIFO; it holds the lock except around
 * blocking work (store I/O, the view copy, the wait for work). Pool tasks
 * (daemon start/stop, job fires) run app code without the lock and take
 * it only to record their outcome, then kick the services thread. Units
 * are unlinked and freed only by the services thread (or sv_free), when
 * no pool task refers to them (u->refs == 0 besides the list's own).
 */
#ifndef WEFT_CTL_SERVICES_INTERNAL_H
#define WEFT_CTL_SERVICES_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_app.h"
#include "ctl_jobsched.h"
#include "ctl_singleton.h"

#define SV_CACHE_CLAIMS WEFT_SINGLETON_CACHE /* "weft.singletons" (wire.h) */
#define SV_CACHE_JOBS "weft.jobs"
#define SV_NAME_MAX 64u            /* a daemon's or job's name */
#define SV_MAX_SINGLETONS 256u     /* hosted by one node at once */
#define SV_MARK_BYTES 24u          /* encoded job mark */
#define SV_GONE_TIMEOUT_MS 10000u  /* app_gone / shutdown bound */
#define SV_JOIN_GRACE_MS 6000u     /* views of this node alone wait this long */
#define SV_LOOP_MS 100u            /* the services thread wakes at least this often */
#define SV_RETRY_MS 100u           /* pool full: submit again after */

/* The claims the dataplane's fenced writes check (wire.h) are the
 * singleton machine's encoding. */
_Static_assert(WEFT_CTL_SGL_CLAIM_BYTES == sizeof(struct weft_singleton_claim),
	       "claim encodings agree");

/* ---- The environment (real one in ctl_services_env.c) ------------------ */

/* The claim store: two caches, keys "<app>/<name>". Called on the services
 * thread only, without sv->lock, may block (bounded by the client's
 * timeouts). */
struct sv_store {
	void *ctx;
	/* Reads key: 0 with the value (at most cap bytes copied to buf, its
	 * full length in *len) and its version (> 0); -ENOENT when absent;
	 * another negative errno on failure. */
	int (*get)(void *ctx, const char *cache, const char *key, void *buf, size_t cap,
		   size_t *len, uint64_t *version);
	/* Writes value if the key's version is expected (0: only if absent):
	 * 0 with the new version; -ECANCELED (version differs, or present /
	 * absent against expectation); another negative errno (the write may
	 * or may not have happened). */
	int (*cas)(void *ctx, const char *cache, const char *key, uint64_t expected,
		   const void *value, size_t len, uint64_t *new_version);
};

struct sv_env {
	void *ctx;
	/* Runs fn(arg) on an app pool thread: 0, -EBUSY (try later),
	 * -ECANCELED (the pool is gone). Any thread. */
	int (*submit)(void *ctx, void (*fn)(void *arg), void *arg);
	/* A malloc'd copy of the current view, or NULL + errno (ENOENT: none
	 * yet). Services thread, QSBR online. */
	struct weft_dp_members *(*view)(void *ctx);
	/* Clocks (NULL: CLOCK_MONOTONIC and CLOCK_REALTIME). */
	uint64_t (*mono_ms)(void *ctx);
	uint64_t (*unix_ms)(void *ctx);
	struct sv_store store;
	/* Whether app is still deployed (NULL: always): a claim for a unit
	 * of an app on its way out is not made. Services thread. */
	bool (*deployed)(void *ctx, const weft_app *app);
	uint64_t step_ms, poll_ms; /* singleton machine (0: defaults) */
	uint64_t gone_timeout_ms;  /* 0: SV_GONE_TIMEOUT_MS */
	/* For this long after creation a view in which this node is the only
	 * live member is not given to the singleton machine (0: no wait);
	 * see sv_view_poll. */
	uint64_t join_grace_ms;
	/* Frees ctx once the services are gone (NULL: nothing to free). */
	void (*fini)(void *ctx);
};

/* ---- Units: daemons and jobs ------------------------------------------- */

enum sv_kind { SV_DAEMON, SV_JOB };
/* A daemon's start task: not submitted, queued on the pool, inside start,
 * returned (or skipped: stopped before it began). */
enum sv_start { SV_START_NONE, SV_START_QUEUED, SV_START_RUNNING, SV_START_DONE };

struct sv_unit {
	struct sv_unit *next;
	struct ctl_services *sv;
	enum sv_kind kind;
	weft_app *app;
	char name[SV_NAME_MAX + 1];
	char full[WEFT_CTL_SGL_NAME_MAX + 1]; /* "<app>/<name>" */
	bool every_node;
	unsigned refs;      /* pool tasks in flight */
	bool hosted;        /* singleton: given to the machine */
	bool gone;          /* app_gone or shutdown asked for its end */
	bool unhosted;      /* singleton: unhost sent */
	bool active;        /* runs (daemon) / is scheduled here (job) */
	bool stopping;      /* a stop is in progress (STOP or gone) */
	bool finished;      /* every-node: stopped for good */
	uint64_t epoch;     /* of the current run (0: every-node) */
	uint64_t since_ms;  /* unix ms the run began (0: unknown) */
};

struct weft_daemon {
	struct sv_unit u;
	weft_daemon_fn start, stop;
	void *ctx;
	atomic_bool stop_flag;       /* weft_daemon_stopping */
	_Atomic uint64_t epoch_pub;  /* weft_daemon_epoch */
	enum sv_start start_state;
	bool started;       /* start was called in this run */
	bool start_wanted;  /* submit the start task (pool was busy) */
	bool stop_wanted;   /* submit the stop task (pool was busy) */
	bool stop_running;  /* stop task submitted, not returned */
};

struct weft_job {
	struct sv_unit u;
	weft_job_fn fn;
	void *ctx;
	struct weft_ctl_sched sched;
	_Atomic uint64_t epoch_pub; /* weft_job_epoch */
	struct weft_ctl_job job;    /* valid when u.active */
	bool need_mark;     /* owner: read the mark before the first fire */
	uint64_t mark_version;
	bool firing;        /* fn queued or running on the pool */
	bool fire_wanted;   /* a recorded fire waits for room in the pool */
	uint64_t retry_ms;  /* mono: no store work before (after a failure) */
	bool have_result;
	int last_result;
	int64_t last_fire_ms; /* -1: none known */
	uint64_t fires;       /* known in all (mark), or on this node */
};

/* ---- The services ------------------------------------------------------ */

struct ctl_services {
	struct sv_env env;
	const void *key;            /* app->rt this instance serves */
	struct ctl_services *reg_next;
	struct weft_swim_id self;
	char self_text[37];
	pthread_mutex_t lock;
	pthread_cond_t wake;        /* the services thread waits here */
	pthread_cond_t done;        /* app_gone waits here */
	pthread_t thread;
	bool thread_started;
	bool kicked;
	bool quit;                  /* destroy asked */
	bool shut;                  /* machine shutdown sent */
	bool exited;                /* the services thread is done */
	struct sv_unit *units;
	struct weft_ctl_sgl *sgl;
	struct weft_ctl_sgl_action *out; /* machine output, out_min entries */
	uint32_t out_cap;
	struct weft_ctl_sgl_action *fifo; /* actions to perform, in order */
	size_t fifo_head, fifo_n, fifo_cap;
	uint64_t sgl_next_ms;
	struct weft_ctl_sgl_member *view_m; /* last view fed to the machine */
	uint32_t view_n;
	uint64_t view_id;
	bool view_nq, have_view;
	uint64_t created_ms;        /* sv_mono at creation */
	uint64_t loops;             /* passes of the services thread so far */
};

/* ctl_services.c */
/* NULL + errno (EINVAL, ENOMEM, pthread_create's); env->fini(env->ctx) is
 * called on failure too, and by ctl_services_destroy. */
struct ctl_services *sv_create(const struct sv_env *env, const void *key,
			       const uint8_t node_id[16]);
struct ctl_services *sv_of_app(const weft_app *app);
uint64_t sv_mono(const struct ctl_services *sv);
uint64_t sv_unix(const struct ctl_services *sv);
struct weft_ctl_sgl_time sv_sgl_now(const struct ctl_services *sv);
/* Wakes the services thread. Caller holds sv->lock. */
void sv_kick_locked(struct ctl_services *sv);
/* Validates name and links u (zeroed by the caller, kind and callbacks
 * set) into the list for app: -EINVAL, -EEXIST (a live unit of the app has
 * that name). Takes sv->lock. */
int sv_unit_add(struct ctl_services *sv, weft_app *app, const char *name, struct sv_unit *u);
/* A pool task is done with u: drops its reference and kicks. */
void sv_unit_release_locked(struct sv_unit *u);

/* ctl_services_status.c: the status lines of one unit (appended at
 * buf + *len, snprintf-style: *len grows by the length needed). sv->lock
 * held. */
void sv_status_unit(const struct ctl_services *sv, const struct sv_unit *u, char *buf,
		    size_t cap, size_t *len);

/* ctl_services_claims.c (services thread, sv->lock held; store I/O drops
 * and retakes it) */
int sv_sgl_create(struct ctl_services *sv);
/* After a machine input that returned 0: appends out's actions to the
 * FIFO (out of memory: logged, dropped) and keeps out->next_ms. */
void sv_sgl_take(struct ctl_services *sv, const struct weft_ctl_sgl_out *out);
/* Performs every queued action, with what they lead to. */
void sv_actions_run(struct ctl_services *sv);
/* Copies the view (outside the lock) and feeds it to the machine when it
 * changed. Every pass of the services thread, so units are hosted and
 * claims decided on the freshest view. */
void sv_view_poll(struct ctl_services *sv, uint64_t now);
/* Status of the machine for name (false: not hosted). */
bool sv_sgl_find(const struct ctl_services *sv, const char *name, struct weft_ctl_sgl_status *st);

/* ctl_services_daemons.c / ctl_services_jobs.c: the machine's START and
 * STOP for a unit, and per-loop work (pending submits, settled stops).
 * Services thread, sv->lock held. */
void sv_daemon_start(struct weft_daemon *d, uint64_t epoch, uint64_t since_ms);
void sv_daemon_stop(struct weft_daemon *d);
void sv_daemon_step(struct weft_daemon *d);
/* True when nothing of d runs (start done or never started, no stop). */
bool sv_daemon_idle(const struct weft_daemon *d);
void sv_job_start(struct weft_job *j, uint64_t epoch, uint64_t since_ms);
void sv_job_stop(struct weft_job *j);
/* Fires what is due (store I/O for singleton marks). Returns the unix
 * ms of its next due time (INT64_MAX: none). */
int64_t sv_job_step(struct weft_job *j);
bool sv_job_idle(const struct weft_job *j);
/* Reports the end of a stop to the machine (singletons) or finishes the
 * every-node unit. */
void sv_unit_stopped(struct sv_unit *u);

/* Spec of weft_schedule: cron (ctl_cron.h) or "every MS [count N] [start
 * UNIX_MS] [until UNIX_MS]". 0 or -EINVAL with a message in err. */
int sv_spec_parse(const char *spec, struct weft_ctl_sched *out, char *err, size_t errlen);
/* Job marks in the store: created, last fire, fires (little-endian). */
void sv_mark_encode(const struct weft_ctl_job_mark *m, uint8_t buf[SV_MARK_BYTES]);
int sv_mark_decode(const uint8_t *buf, size_t len, struct weft_ctl_job_mark *m);

#endif /* WEFT_CTL_SERVICES_INTERNAL_H */
