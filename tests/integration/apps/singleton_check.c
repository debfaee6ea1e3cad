/*
 * singleton_check.c — the test app of apps_singleton.sh (issue 6, "never
 * two running at once ... checked by the daemons themselves through a
 * cache CAS"). Built as singleton-check.so: one singleton daemon "guard".
 * Built with -DSC_EVERY_NODE as singleton-check-every.so: the same daemon
 * on every node, the test's proof that the check below does see two runs.
 *
 * While a run lasts, every ROUND_MS it proves through the grid that no
 * other run writes beside it: in the distributed cache "singleton-check"
 * it compare-and-swaps key "holder.<app>" from the version it wrote last
 * to "NODE EPOCH ROUND". The first round takes the key over from whatever
 * is there (get, then CAS from that version). A CAS refused because the
 * value is not ours is an overlap: another run wrote in between. Each
 * round also writes key "fenced.<app>" with weft_put_fenced under the
 * run's epoch: FENCED means the claim names another run while this one
 * still believes it holds the singleton. (The every-node variant has no
 * claim and skips that write.)
 *
 * Lines (weftd's stdout, the node's log), MS = unix ms:
 *   sc APP run NODE epoch E start MS
 *   sc APP run NODE epoch E stop MS rounds R
 *   sc APP held NODE epoch E round R MS             every HELD_EVERY rounds
 *   sc APP overlap NODE epoch E round R MS saw 'V'  V: another run's write
 *   sc APP lost NODE epoch E round R MS saw 'V'     V: an older write of ours
 *   sc APP reversioned NODE epoch E round R MS      our value, a new version
 *   sc APP fenced NODE epoch E round R MS
 *   sc APP error NODE epoch E round R MS OP STATUS  (outcome unknown:
 *                                                     re-read next round)
 *   sc APP stop-requested NODE epoch E MS
 *
 * Threads: start runs on a pool thread of its own for the run's life and
 * ends within a round of the stop request (weft_daemon_stopping); all its
 * state is on its stack. Two runs of one daemon never overlap on a node
 * (app.h), so nothing is shared between runs but the constant names.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include <weft/app.h>

#include "it_app.h"

#define CACHE "singleton-check"
#define DAEMON "guard"
#define ROUND_MS 200u
#define HELD_EVERY 5u
#define VAL_MAX 128

static char node[IT_NODE_MAX + 1];
static char app_name[64 + 1]; /* an app name: 1..64 characters (docs/apps.md) */
static char singleton[WEFT_SINGLETON_NAME_MAX + 1];
static char holder_key[64 + 16];
static char fenced_key[64 + 16];

/* One run's view of key holder: the value it believes is stored and its
 * version; known false after an error whose outcome is unknown. */
struct run {
	weft_client *c;
	uint64_t epoch, round, version;
	char value[VAL_MAX];
	bool known;
};

static void say_round(const struct run *r, const char *what)
{
	it_say("sc %s %s %s epoch %" PRIu64 " round %" PRIu64 " %" PRIu64, app_name, what, node,
	       r->epoch, r->round, it_now_ms());
}

static void say_saw(const struct run *r, const char *what, const char *saw)
{
	it_say("sc %s %s %s epoch %" PRIu64 " round %" PRIu64 " %" PRIu64 " saw '%s'", app_name,
	       what, node, r->epoch, r->round, it_now_ms(), saw);
}

static void say_error(const struct run *r, const char *op, int rc)
{
	it_say("sc %s error %s epoch %" PRIu64 " round %" PRIu64 " %" PRIu64 " %s %s", app_name,
	       node, r->epoch, r->round, it_now_ms(), op, weft_status_name(rc));
}

/* Whether v was written by this run (same node and epoch). */
static bool ours(const struct run *r, const char *v)
{
	char prefix[VAL_MAX];
	snprintf(prefix, sizeof(prefix), "%s %" PRIu64 " ", node, r->epoch);
	return strncmp(v, prefix, strlen(prefix)) == 0;
}

/* Reads holder into (val, *ver); 0, -WEFT_ST_NOT_FOUND or an error. */
static int read_holder(const struct run *r, char *val, uint64_t *ver)
{
	size_t len = 0;
	int rc = weft_get_into(r->c, CACHE, holder_key, strlen(holder_key), val, VAL_MAX - 1,
			       &len, ver);
	if (rc == 0)
		val[len < VAL_MAX ? len : VAL_MAX - 1] = '\0';
	return rc;
}

/* After a refused or failed CAS of `want`: what is stored now decides.
 * Ours as wanted: the CAS did apply (its reply was lost or retried).
 * Ours, as before: nothing happened (after an error), or the entry got a
 * new version without a new value (reported). Ours but older: a write we
 * made was lost. Another run's: an overlap. */
static void resync(struct run *r, const char *want, bool refused)
{
	char val[VAL_MAX];
	uint64_t ver = 0;
	int rc = read_holder(r, val, &ver);
	if (rc == -WEFT_ST_NOT_FOUND) {
		/* The key is gone: no run deletes it, so a write was lost. */
		say_saw(r, "lost", "(none)");
		r->known = false;
		return;
	}
	if (rc < 0) {
		say_error(r, "get", rc);
		r->known = false;
		return;
	}
	if (strcmp(val, want) == 0) {
		snprintf(r->value, sizeof(r->value), "%s", want);
	} else if (r->known && strcmp(val, r->value) == 0) {
		if (refused)
			say_round(r, "reversioned");
	} else if (ours(r, val)) {
		say_saw(r, "lost", val);
		snprintf(r->value, sizeof(r->value), "%s", val);
	} else {
		say_saw(r, "overlap", val);
		snprintf(r->value, sizeof(r->value), "%s", val);
	}
	r->version = ver;
	r->known = true;
}

/* The first round (or the first after an error whose outcome is unknown):
 * take holder over from whatever is there. */
static void take_over(struct run *r, const char *want)
{
	char val[VAL_MAX];
	uint64_t ver = 0;
	int rc = read_holder(r, val, &ver);
	if (rc == -WEFT_ST_NOT_FOUND) {
		rc = weft_put_if_absent(r->c, CACHE, holder_key, strlen(holder_key), want,
					strlen(want), NULL, &ver);
		if (rc == -WEFT_ST_EXISTS) {
			say_saw(r, "overlap", "(created meanwhile)");
			return;
		}
	} else if (rc == 0) {
		/* Re-reading after an error: anything but our own writes is
		 * another run's. */
		if (r->round > 1 && !ours(r, val))
			say_saw(r, "overlap", val);
		rc = weft_cas(r->c, CACHE, holder_key, strlen(holder_key), ver, want, strlen(want),
			      NULL, &ver);
		if (rc == -WEFT_ST_VERSION_MISMATCH) {
			say_saw(r, "overlap", "(changed between get and cas)");
			return;
		}
	}
	if (rc < 0) {
		say_error(r, "take-over", rc);
		return;
	}
	snprintf(r->value, sizeof(r->value), "%s", want);
	r->version = ver;
	r->known = true;
}

static void one_round(struct run *r, weft_daemon *d)
{
	char want[VAL_MAX];
	snprintf(want, sizeof(want), "%s %" PRIu64 " %" PRIu64, node, r->epoch, r->round);
	if (!r->known) {
		take_over(r, want);
	} else {
		uint64_t ver = 0;
		int rc = weft_cas(r->c, CACHE, holder_key, strlen(holder_key), r->version, want,
				  strlen(want), NULL, &ver);
		if (rc == 0) {
			snprintf(r->value, sizeof(r->value), "%s", want);
			r->version = ver;
		} else {
			if (rc != -WEFT_ST_VERSION_MISMATCH)
				say_error(r, "cas", rc);
			resync(r, want, rc == -WEFT_ST_VERSION_MISMATCH);
		}
	}
#ifndef SC_EVERY_NODE
	int frc = weft_put_fenced(r->c, CACHE, fenced_key, strlen(fenced_key), want, strlen(want),
				  NULL, singleton, weft_daemon_epoch(d), NULL);
	if (frc == -WEFT_ST_FENCED)
		say_round(r, "fenced");
	else if (frc < 0)
		say_error(r, "put-fenced", frc);
#else
	(void)d;
#endif
	if (r->round % HELD_EVERY == 0)
		say_round(r, "held");
}

static void guard_start(weft_daemon *d, void *ctx)
{
	(void)ctx;
	struct run r = { .epoch = weft_daemon_epoch(d) };
	it_say("sc %s run %s epoch %" PRIu64 " start %" PRIu64, app_name, node, r.epoch,
	       it_now_ms());
	r.c = weft_app_client(weft_daemon_app(d));
	if (r.c == NULL)
		it_say("sc %s error %s epoch %" PRIu64 " no client: %s", app_name, node, r.epoch,
		       strerror(errno));
	while (r.c != NULL && !weft_daemon_stopping(d)) {
		r.round++;
		one_round(&r, d);
		for (unsigned t = 0; t < ROUND_MS && !weft_daemon_stopping(d); t += 20u)
			it_sleep_ms(20u);
	}
	it_say("sc %s run %s epoch %" PRIu64 " stop %" PRIu64 " rounds %" PRIu64, app_name, node,
	       r.epoch, it_now_ms(), r.round);
}

static void guard_stop(weft_daemon *d, void *ctx)
{
	(void)ctx;
	it_say("sc %s stop-requested %s epoch %" PRIu64 " %" PRIu64, app_name, node,
	       weft_daemon_epoch(d), it_now_ms());
}

int weft_app_init(weft_app *app);

int weft_app_init(weft_app *app)
{
	it_node_name(node, sizeof(node));
	snprintf(app_name, sizeof(app_name), "%s", weft_app_name(app));
	snprintf(singleton, sizeof(singleton), "%s/%s", app_name, DAEMON);
	snprintf(holder_key, sizeof(holder_key), "holder.%s", app_name);
	snprintf(fenced_key, sizeof(fenced_key), "fenced.%s", app_name);
	weft_client *c = weft_app_client(app);
	if (c == NULL && errno != ENOTCONN)
		return -errno;
	if (c != NULL) {
		struct weft_open_opts oo = { .mode = WEFT_MODE_DISTRIBUTED };
		int rc = weft_open_cache(c, CACHE, &oo);
		if (rc < 0) {
			it_say("sc %s: opening cache %s: %s", app_name, CACHE, weft_strerror(rc));
			return rc;
		}
	}
	struct weft_daemon_opts opts = { .every_node = false };
#ifdef SC_EVERY_NODE
	opts.every_node = true;
#endif
	return weft_daemonize(app, DAEMON, guard_start, guard_stop, NULL, &opts);
}
