/*
 * cron_job.c — the test app of apps_jobs.sh (issue 6, "a cron job every
 * second fires once per second cluster-wide"). Built as cron-job.so: one
 * singleton job "tick" on the cron schedule "* * * * * ?" (every second).
 *
 * Each fire counts itself in the grid — weft_incr of key "fires.<app>" in
 * the distributed cache "cron-job" — and prints one line to weftd's stdout
 * (the node's log), MS being the fire's start in unix ms:
 *   cj APP fire MS NODE epoch E n N        N: the cluster's count after it
 *   cj APP fire MS NODE epoch E n -1 STATUS  (the incr failed; the fire
 *                                            still happened)
 * The line is printed for every fire, so the nodes' logs together hold
 * every fire of the cluster, and the test can check that each second has
 * one, on one node.
 *
 * Threads: fires run on the node's app pool, one at a time for the job
 * (app.h); the only state is the constant names set in init.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <weft/app.h>

#include "it_app.h"

#define CACHE "cron-job"
#define JOB "tick"
#define SPEC "* * * * * ?"

static char node[IT_NODE_MAX + 1];
static char app_name[64 + 1]; /* an app name: 1..64 characters (docs/apps.md) */
static char fires_key[64 + 16];

static int tick(weft_job *j, void *ctx)
{
	(void)ctx;
	uint64_t ms = it_now_ms();
	weft_client *c = weft_app_client(weft_job_app(j));
	int64_t n = -1;
	int rc = c ? weft_incr(c, CACHE, fires_key, strlen(fires_key), 1, 0, &n) : -errno;
	if (rc == 0)
		it_say("cj %s fire %" PRIu64 " %s epoch %" PRIu64 " n %" PRId64, app_name, ms, node,
		       weft_job_epoch(j), n);
	else
		it_say("cj %s fire %" PRIu64 " %s epoch %" PRIu64 " n -1 %s", app_name, ms, node,
		       weft_job_epoch(j), c ? weft_status_name(rc) : strerror(-rc));
	return rc < 0 ? rc : 0;
}

int weft_app_init(weft_app *app);

int weft_app_init(weft_app *app)
{
	it_node_name(node, sizeof(node));
	snprintf(app_name, sizeof(app_name), "%s", weft_app_name(app));
	snprintf(fires_key, sizeof(fires_key), "fires.%s", app_name);
	weft_client *c = weft_app_client(app);
	if (c == NULL && errno != ENOTCONN)
		return -errno;
	if (c != NULL) {
		struct weft_open_opts oo = { .mode = WEFT_MODE_DISTRIBUTED };
		int rc = weft_open_cache(c, CACHE, &oo);
		if (rc < 0) {
			it_say("cj %s: opening cache %s: %s", app_name, CACHE, weft_strerror(rc));
			return rc;
		}
	}
	return weft_schedule(app, JOB, SPEC, tick, NULL, NULL);
}
