/*
 * weft/app.h — the app (plugin) API: what a shared object deployed into a
 * weftd node (its home's deployments/ folder, or `weftctl deploy`) calls.
 * It is the tutorial's init file, in C: an app looks up or creates caches,
 * starts destinations, registers listeners, daemons and jobs.
 *
 * An app exports
 *     int  weft_app_init(weft_app *app);   (required: 0, or it is refused)
 *     void weft_app_fini(weft_app *app);   (optional: called at undeploy)
 * and is built against this header and libweft's (weft/weft.h): inside a
 * node, weft_app_client gives a weft_client speaking to the grid exactly as
 * a remote client does (routing to owners, replication, messaging).
 *
 * Threads: init, fini and every callback (listeners, daemons' start and
 * stop, jobs) run on the node's app thread pool, never on a DPDK lcore;
 * they may block. A callback must not keep app objects past the undeploy
 * of its app.
 *
 * Return codes: 0 or a negative errno (the weft_client calls return their
 * usual negative weft_status).
 */
#ifndef WEFT_APP_H
#define WEFT_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_app weft_app;

/* What an app exports. */
typedef int (*weft_app_init_fn)(weft_app *app);
typedef void (*weft_app_fini_fn)(weft_app *app);
#define WEFT_APP_INIT_SYMBOL "weft_app_init"
#define WEFT_APP_FINI_SYMBOL "weft_app_fini"

/* The app's name: its file name without directory and ".so". */
WEFT_API const char *weft_app_name(const weft_app *app);

/* A client of the grid for the calling thread (one per app thread, made on
 * first use, owned by the node: do not close it). Valid on that thread until
 * the callback that asked for it returns (a daemon's start: until it
 * returns). NULL + errno when the node has no room for one. */
WEFT_API weft_client *weft_app_client(weft_app *app);

/* Publishes to dest through the calling thread's client (weft_publish). */
WEFT_API int weft_app_publish(weft_app *app, const char *dest, const void *body, size_t len,
			      const struct weft_publish_opts *po);

/* Listens to dest (a queue, or a topic; durable names a durable topic
 * subscription, NULL for none): fn runs on the app pool for each message,
 * which is acked when fn returns 0 and nacked when it returns > 0 (< 0:
 * acked, and the listener ends). Until the app is undeployed. -EINVAL (bad
 * name), -ENOMEM. */
WEFT_API int weft_app_listen(weft_app *app, const char *dest, const char *durable,
			     weft_listener_fn fn, void *ctx);

/* Sessions inside a node: the weft_session_* calls of weft/weft.h work on
 * weft_app_client(app). Listens to store's session events (NULL:
 * WEFT_SESSION_STORE): fn runs on the app pool for each event (created,
 * expired, invalidated), its return value ignored but < 0, which ends the
 * listener. Until the app is undeployed. -EINVAL (bad store name), -ENOMEM. */
WEFT_API int weft_app_session_listen(weft_app *app, const char *store, weft_session_event_fn fn,
				     void *ctx);

/* --- daemons -------------------------------------------------------------- */

typedef struct weft_daemon weft_daemon;
/* start runs on a pool thread of its own and may run as long as the daemon
 * lives (loop until weft_daemon_stopping); stop is called (on another
 * thread) to ask it to end: at undeploy, at shutdown, and when this node
 * loses the singleton. */
typedef void (*weft_daemon_fn)(weft_daemon *d, void *ctx);

struct weft_daemon_opts {
	bool every_node; /* run on every node that has the app (default: a
	                    singleton, on exactly one node of the cluster) */
};

/* Registers daemon name (1..64 printable ASCII, unique in the app); opts
 * NULL: a singleton. -EINVAL, -EEXIST, -ENOMEM. */
WEFT_API int weft_daemonize(weft_app *app, const char *name, weft_daemon_fn start,
			    weft_daemon_fn stop, void *ctx, const struct weft_daemon_opts *opts);
/* The daemon's fencing token: the epoch its current run was granted (0 for
 * every-node daemons). A write conditioned on it is refused once another
 * node holds the singleton. */
WEFT_API uint64_t weft_daemon_epoch(const weft_daemon *d);
/* Whether stop was requested: start's loop should end. */
WEFT_API bool weft_daemon_stopping(const weft_daemon *d);
WEFT_API weft_app *weft_daemon_app(weft_daemon *d);
WEFT_API const char *weft_daemon_name(const weft_daemon *d);

/* --- jobs ------------------------------------------------------------------ */

typedef struct weft_job weft_job;
/* One fire of a job; its return value is kept as the job's last result. */
typedef int (*weft_job_fn)(weft_job *j, void *ctx);

struct weft_job_opts {
	bool every_node; /* fire on every node that has the app (default: a
	                    singleton: once per fire time in the cluster) */
};

/* Schedules job name: spec is a cron expression with seconds, Quartz style
 * ("*\/5 * * * * ?", UTC; docs/jobs.md), or an interval "every MS [count N]
 * [start UNIX_MS] [until UNIX_MS]". -EINVAL (bad spec: logged with the
 * reason), -EEXIST, -ENOMEM. */
WEFT_API int weft_schedule(weft_app *app, const char *name, const char *spec, weft_job_fn fn,
			   void *ctx, const struct weft_job_opts *opts);
WEFT_API uint64_t weft_job_epoch(const weft_job *j);
WEFT_API weft_app *weft_job_app(weft_job *j);
WEFT_API const char *weft_job_name(const weft_job *j);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_APP_H */
