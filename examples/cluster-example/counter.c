/*
 * counter.c — the tutorial's cluster example ("Deploy an Application",
 * its immutant/init.clj) as a weft app (include/weft/app.h). Built as
 * cluster-example.so; deploy it into a node's HOME/deployments/ or with
 * `weftctl -s NODE deploy cluster-example.so --all`.
 *
 * What init sets up, as the tutorial's init file does:
 *   - the queue "/queue/msg" (weft_dest_open);
 *   - a listener on it printing "received: N" on every node that has the
 *     app (consumers on every node share the queue's messages);
 *   - the distributed cache "counters";
 *   - the singleton daemon "counter": on exactly one node of the cluster,
 *     every second it reads key "value" from "counters" (1 when missing),
 *     prints "sending: N", publishes N (decimal text) to /queue/msg and
 *     stores N + 1.
 * Output goes to weftd's stdout (one printf and fflush per line).
 *
 * Fencing: N + 1 is stored with weft_put_fenced under the daemon's fencing
 * token (weft_daemon_epoch), so a daemon that lost the singleton (its node
 * cut off, the daemon started elsewhere) cannot overwrite the count its
 * successor writes: it gets FENCED and stops sending. When the daemon
 * moves, the new run reads the count the old one stored and goes on from
 * there (no restart from 1).
 *
 * Threads: init, the listener and the daemon's start/stop run on the
 * node's app pool. The daemon's loop sleeps in slices of SLICE_MS, so a
 * stop (undeploy, shutdown, singleton lost) ends it within about a slice
 * plus one round trip. State shared between start and stop is one atomic
 * flag.
 *
 * In weft-app-check's probe (init run outside a node) weft_app_client
 * gives no client (errno ENOTCONN): init then registers the listener and
 * the daemon without opening the queue and the cache, which exist only in
 * a node.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/app.h>

#define QUEUE "/queue/msg"
#define CACHE "counters"
#define KEY "value"
#define PERIOD_MS 1000u
#define SLICE_MS 50u

/* The daemon's state: the tutorial's `done` atom. */
static atomic_bool done;

/* The name the daemon's claim goes by: "<app>/counter". */
static char singleton[WEFT_SINGLETON_NAME_MAX + 1];

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static bool stopping(const weft_daemon *d)
{
	return atomic_load(&done) || weft_daemon_stopping(d);
}

/* (def listener (messaging/listen "/queue/msg" #(println "received:" %))) */
static int on_message(void *ctx, const struct weft_message *m)
{
	(void)ctx;
	printf("received: %.*s\n", (int)m->body_len, (const char *)m->body);
	fflush(stdout);
	return 0;
}

/* (:value cache 1): the stored count, 1 when missing. 0, or a negative
 * status (the count could not be read: skip this round). */
static int read_count(weft_client *c, uint64_t *n)
{
	char buf[32];
	size_t len = 0;
	int rc = weft_get_into(c, CACHE, KEY, strlen(KEY), buf, sizeof(buf) - 1, &len, NULL);
	if (rc == -WEFT_ST_NOT_FOUND) {
		*n = 1;
		return 0;
	}
	if (rc < 0)
		return rc;
	if (len >= sizeof(buf))
		return -WEFT_ST_PROTOCOL;
	buf[len] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || end == buf || *end != '\0')
		return -WEFT_ST_PROTOCOL;
	*n = v;
	return 0;
}

/* One round of the tutorial's loop. false when the daemon must stop
 * (fenced: another node holds the singleton). */
static bool send_one(weft_daemon *d, weft_client *c)
{
	weft_app *app = weft_daemon_app(d);
	uint64_t n;
	int rc = read_count(c, &n);
	if (rc < 0) {
		printf("counter: reading %s/%s: %s (retrying)\n", CACHE, KEY, weft_strerror(rc));
		fflush(stdout);
		return true;
	}
	char body[24];
	int len = snprintf(body, sizeof(body), "%" PRIu64, n);
	printf("sending: %s\n", body);
	fflush(stdout);
	rc = weft_app_publish(app, QUEUE, body, (size_t)len, NULL);
	if (rc < 0) {
		printf("counter: publishing %s to %s: %s\n", body, QUEUE, weft_strerror(rc));
		fflush(stdout);
	}
	snprintf(body, sizeof(body), "%" PRIu64, n + 1);
	rc = weft_put_fenced(c, CACHE, KEY, strlen(KEY), body, strlen(body), NULL, singleton,
			     weft_daemon_epoch(d), NULL);
	if (rc == -WEFT_ST_FENCED) {
		printf("counter: fenced at epoch %" PRIu64 ": another node runs the daemon; stopping\n",
		       weft_daemon_epoch(d));
		fflush(stdout);
		return false;
	}
	if (rc < 0) {
		printf("counter: storing %s: %s\n", body, weft_strerror(rc));
		fflush(stdout);
	}
	return true;
}

/* (defn start [] (reset! done false) (while (not @done) ...)) */
static void counter_start(weft_daemon *d, void *ctx)
{
	(void)ctx;
	atomic_store(&done, false);
	weft_client *c = weft_app_client(weft_daemon_app(d));
	if (c == NULL) {
		printf("counter: no client: %s\n", strerror(errno));
		fflush(stdout);
		return;
	}
	printf("counter: started (epoch %" PRIu64 ")\n", weft_daemon_epoch(d));
	fflush(stdout);
	while (!stopping(d)) {
		if (!send_one(d, c))
			break;
		for (unsigned t = 0; t < PERIOD_MS && !stopping(d); t += SLICE_MS)
			sleep_ms(SLICE_MS);
	}
	printf("counter: stopped\n");
	fflush(stdout);
}

/* (defn stop [] (reset! done true)) */
static void counter_stop(weft_daemon *d, void *ctx)
{
	(void)d;
	(void)ctx;
	atomic_store(&done, true);
}

int weft_app_init(weft_app *app);

int weft_app_init(weft_app *app)
{
	snprintf(singleton, sizeof(singleton), "%s/counter", weft_app_name(app));
	weft_client *c = weft_app_client(app);
	if (c == NULL && errno != ENOTCONN)
		return -errno;
	if (c != NULL) {
		/* (messaging/start "/queue/msg") */
		int rc = weft_dest_open(c, QUEUE, NULL);
		/* (cache/lookup-or-create "counters"): distributed */
		struct weft_open_opts oo = { .mode = WEFT_MODE_DISTRIBUTED };
		if (rc == 0)
			rc = weft_open_cache(c, CACHE, &oo);
		if (rc < 0) {
			printf("cluster-example: opening %s / %s: %s\n", QUEUE, CACHE,
			       weft_strerror(rc));
			fflush(stdout);
			return rc;
		}
	}
	int rc = weft_app_listen(app, QUEUE, NULL, on_message, NULL);
	if (rc == 0)
		/* (daemon/daemonize "counter" start stop): a singleton */
		rc = weft_daemonize(app, "counter", counter_start, counter_stop, NULL, NULL);
	return rc;
}
