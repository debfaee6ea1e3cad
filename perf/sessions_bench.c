/*
 * sessions_bench — what a web request costs its session store: creates
 * --sessions sessions, each holding one attribute of --value-size bytes,
 * then --threads threads each loop on one "request" = read the attribute
 * of a random session, then write it back with a new value, and record
 * the request's latency (get + set, both round trips) in weft-perf's
 * log-linear histogram (weft_perf_hist.c). Two targets, one harness:
 *   weft   libweft: weft_session_get + weft_session_set (the set is
 *          answered once every owner of the session holds it); thread i
 *          opens its client on node i mod n of --node A[,B,...] (libweft
 *          then routes each op to the session's primary);
 *   redis  hiredis, one connection per thread, the way a redis session
 *          store keeps a session: a hash "sess:<32 hex>" with a TTL:
 *          HGET, then HSET + EXPIRE (the TTL renewed on each write,
 *          the two pipelined: one round trip) — 2 round trips, as weft.
 * Each thread runs --warmup seconds unrecorded, then --seconds recorded
 * (and at most --requests requests, if given), then prints nothing; main
 * merges and prints one line:
 *   RESULT sessions target=T threads=N ops=N ops_per_s=X get_set_p50_us=X
 *     get_set_p99_us=X errors=N sessions=N value_size=B p999_us=X max_us=X
 *     client_cpu_us=X
 * (client_cpu_us: this process's CPU time, user + system, all threads,
 * over the measured window, per request: what the client library costs)
 * An error is a failed get or set, or a get whose value is not
 * --value-size bytes long (every value written has that length); its
 * latency is not recorded. Exit status: 0 when every request succeeded,
 * 1 when some failed or none was made, 2 on bad usage.
 *
 * Invariants: a client or connection is used by the thread that opened it
 * only; the session table is written during creation (slot i by thread
 * i mod T) and only read after the barrier; histograms are per thread and
 * merged after the joins; every loop is bounded (creation by its count
 * and the clients' own timeouts, requests by the clock and the count).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>

#include <weft/weft.h>
#ifdef SB_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

#include "weft_perf_internal.h"

#define SB_ATTR "data"
#define SB_MAX_THREADS 256u
#define SB_MAX_NODES 16u
#define SB_MAX_VALUE 65536u
#define SB_CREATE_TRIES 3u
#define SB_ERR_SHOWN 3u /* error messages printed per thread */
#define SB_TTL_S 1800u  /* both stores: the session's max inactive time */

enum sb_target { SB_WEFT, SB_REDIS };

struct sb_config {
	enum sb_target target;
	char *node[SB_MAX_NODES];
	unsigned n_nodes;
	char redis_host[64];
	int redis_port;
	uint64_t sessions;
	unsigned threads;
	double seconds, warmup;
	unsigned value_size;
	uint64_t requests; /* per thread; 0: bounded by --seconds only */
	const char *store; /* weft: NULL = WEFT_SESSION_STORE */
	uint32_t timeout_ms;
};

struct sb_id {
	uint8_t b[WEFT_SESSION_ID_LEN];
};

/* One target: open/close a per-thread connection, create a session with
 * the attribute set, make one request. int results: 0 or a negative code
 * that strerror_fn names. */
struct sb_backend {
	const char *name;
	void *(*open)(const struct sb_config *c, unsigned thread);
	int (*create)(void *conn, struct sb_id *id, const void *val, size_t len);
	int (*request)(void *conn, const struct sb_id *id, const void *val, size_t len);
	void (*close)(void *conn);
	const char *(*strerror_fn)(int rc);
};

#define SB_E_SHORT (-100000) /* the value read back had the wrong length */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- weft ---------------------------------------------------------------- */

struct wconn {
	const struct sb_config *c;
	weft_client *cl;
};

static void *w_open(const struct sb_config *c, unsigned thread)
{
	struct weft_client_opts o;
	weft_client_opts_init(&o);
	o.timeout_ms = c->timeout_ms;
	struct wconn *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->c = c;
	w->cl = weft_client_connect(c->node[thread % c->n_nodes], &o);
	if (w->cl == NULL) {
		fprintf(stderr, "sessions_bench: connecting to %s: %s\n",
			c->node[thread % c->n_nodes], strerror(errno));
		free(w);
		return NULL;
	}
	return w;
}

static int w_create(void *p, struct sb_id *id, const void *val, size_t len)
{
	struct wconn *w = p;
	struct weft_session_id sid;
	int rc = weft_session_create(w->cl, w->c->store, SB_TTL_S, &sid);
	if (rc == 0)
		rc = weft_session_set(w->cl, w->c->store, &sid, SB_ATTR, val, len);
	if (rc == 0)
		memcpy(id->b, sid.b, sizeof(id->b));
	return rc;
}

static int w_request(void *p, const struct sb_id *id, const void *val, size_t len)
{
	struct wconn *w = p;
	struct weft_session_id sid;
	void *got = NULL;
	size_t got_len = 0;
	memcpy(sid.b, id->b, sizeof(sid.b));
	int rc = weft_session_get(w->cl, w->c->store, &sid, SB_ATTR, &got, &got_len, NULL);
	if (rc < 0)
		return rc;
	free(got);
	if (got_len != len)
		return SB_E_SHORT;
	return weft_session_set(w->cl, w->c->store, &sid, SB_ATTR, val, len);
}

static void w_close(void *p)
{
	struct wconn *w = p;
	weft_client_close(w->cl);
	free(w);
}

static const char *w_strerror(int rc)
{
	return rc == SB_E_SHORT ? "value read back has the wrong length" : weft_strerror(rc);
}

static const struct sb_backend weft_backend = {
	.name = "weft",
	.open = w_open,
	.create = w_create,
	.request = w_request,
	.close = w_close,
	.strerror_fn = w_strerror,
};

/* --- redis --------------------------------------------------------------- */

#ifdef SB_HAVE_HIREDIS
#define SB_E_PROTO (-100001) /* an unexpected reply */
#define SB_E_CONN (-100002)  /* no reply: the context is failed for good */

struct rconn {
	redisContext *ctx;
};

static void *r_open(const struct sb_config *c, unsigned thread)
{
	(void)thread; /* one server */
	struct timeval tv = { .tv_sec = 2 };
	struct rconn *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->ctx = redisConnectWithTimeout(c->redis_host, c->redis_port, tv);
	if (r->ctx == NULL || r->ctx->err) {
		fprintf(stderr, "sessions_bench: connecting to redis %s:%d: %s\n", c->redis_host,
			c->redis_port, r->ctx ? r->ctx->errstr : "out of memory");
		redisFree(r->ctx);
		free(r);
		return NULL;
	}
	tv.tv_sec = 5;
	redisSetTimeout(r->ctx, tv);
	return r;
}

static void key_of(const struct sb_id *id, char key[5 + 2 * WEFT_SESSION_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	memcpy(key, "sess:", 5);
	for (unsigned i = 0; i < WEFT_SESSION_ID_LEN; i++) {
		key[5 + 2 * i] = hex[id->b[i] >> 4];
		key[6 + 2 * i] = hex[id->b[i] & 15];
	}
	key[5 + 2 * WEFT_SESSION_ID_LEN] = '\0';
}

/* Takes one reply (freed here): 0 when of type `type`, else an error. */
static int take(redisContext *ctx, int type)
{
	void *v = NULL;
	if (redisGetReply(ctx, &v) != REDIS_OK || v == NULL)
		return SB_E_CONN;
	redisReply *rep = v;
	int rc = rep->type == type ? 0 : SB_E_PROTO;
	freeReplyObject(rep);
	return rc;
}

/* HSET key attr val + EXPIRE key ttl, pipelined: one round trip. */
static int r_write(redisContext *ctx, const char *key, const void *val, size_t len)
{
	if (redisAppendCommand(ctx, "HSET %s %s %b", key, SB_ATTR, val, len) != REDIS_OK ||
	    redisAppendCommand(ctx, "EXPIRE %s %u", key, SB_TTL_S) != REDIS_OK)
		return SB_E_CONN;
	int rc = take(ctx, REDIS_REPLY_INTEGER);
	int rc2 = take(ctx, REDIS_REPLY_INTEGER);
	return rc < 0 ? rc : rc2;
}

static int r_create(void *p, struct sb_id *id, const void *val, size_t len)
{
	struct rconn *r = p;
	char key[5 + 2 * WEFT_SESSION_ID_LEN + 1];
	if (getrandom(id->b, sizeof(id->b), 0) != (ssize_t)sizeof(id->b))
		return -errno;
	key_of(id, key);
	return r_write(r->ctx, key, val, len);
}

static int r_request(void *p, const struct sb_id *id, const void *val, size_t len)
{
	struct rconn *r = p;
	char key[5 + 2 * WEFT_SESSION_ID_LEN + 1];
	key_of(id, key);
	redisReply *rep = redisCommand(r->ctx, "HGET %s %s", key, SB_ATTR);
	if (rep == NULL)
		return SB_E_CONN;
	int rc = rep->type != REDIS_REPLY_STRING ? SB_E_PROTO
		 : rep->len != len		 ? SB_E_SHORT
						 : 0;
	freeReplyObject(rep);
	return rc < 0 ? rc : r_write(r->ctx, key, val, len);
}

static void r_close(void *p)
{
	struct rconn *r = p;
	redisFree(r->ctx);
	free(r);
}

static const char *r_strerror(int rc)
{
	switch (rc) {
	case SB_E_SHORT: return "value read back has the wrong length";
	case SB_E_PROTO: return "unexpected reply from redis (no such session?)";
	case SB_E_CONN: return "connection lost";
	default: return strerror(-rc);
	}
}

static const struct sb_backend redis_backend = {
	.name = "redis",
	.open = r_open,
	.create = r_create,
	.request = r_request,
	.close = r_close,
	.strerror_fn = r_strerror,
};
#endif /* SB_HAVE_HIREDIS */

/* --- the run ------------------------------------------------------------- */

struct sb_run {
	const struct sb_config *c;
	const struct sb_backend *b;
	struct sb_id *ids;
	pthread_barrier_t created, go;
	_Atomic unsigned create_failed;
	uint64_t warm_end_ns; /* set by main between the barriers */
};

struct sb_thread {
	struct sb_run *run;
	unsigned idx;
	pthread_t tid;
	struct wp_hist *hist;
	uint64_t ops, errors, end_ns;
	unsigned shown;
	int open_failed;
};

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void show(struct sb_thread *t, const char *what, int rc)
{
	if (t->shown++ < SB_ERR_SHOWN)
		fprintf(stderr, "sessions_bench: thread %u: %s: %s\n", t->idx, what,
			t->run->b->strerror_fn(rc));
}

/* Creates this thread's share of the sessions (slots idx, idx+T, ...). */
static void create_share(struct sb_thread *t, void *conn, uint8_t *val)
{
	struct sb_run *run = t->run;
	const struct sb_config *c = run->c;
	for (uint64_t i = t->idx; i < c->sessions && !run->create_failed; i += c->threads) {
		int rc = -EAGAIN;
		for (unsigned k = 0; k < SB_CREATE_TRIES && rc < 0; k++)
			rc = run->b->create(conn, &run->ids[i], val, c->value_size);
		if (rc < 0) {
			show(t, "creating a session", rc);
			run->create_failed = 1;
		}
	}
}

static void *thread_main(void *arg)
{
	struct sb_thread *t = arg;
	struct sb_run *run = t->run;
	const struct sb_config *c = run->c;
	uint8_t val[SB_MAX_VALUE];
	uint64_t seed = now_ns() ^ ((uint64_t)t->idx << 48);

	for (unsigned i = 0; i < c->value_size; i++)
		val[i] = (uint8_t)('a' + (t->idx + i) % 26);
	void *conn = run->b->open(c, t->idx);
	if (conn == NULL) {
		t->open_failed = 1;
		run->create_failed = 1;
	} else {
		create_share(t, conn, val);
	}
	pthread_barrier_wait(&run->created);
	pthread_barrier_wait(&run->go);
	if (conn == NULL || run->create_failed)
		goto out;
	uint64_t warm_end = run->warm_end_ns;
	uint64_t end = warm_end + (uint64_t)(c->seconds * 1e9);
	uint64_t n = 0, seq = 0;
	for (uint64_t start = now_ns(); start < end && (c->requests == 0 || n < c->requests);) {
		const struct sb_id *id = &run->ids[splitmix(&seed) % c->sessions];
		seq++;
		memcpy(val, &seq, c->value_size < sizeof(seq) ? c->value_size : sizeof(seq));
		int rc = run->b->request(conn, id, val, c->value_size);
		uint64_t stop = now_ns();
		if (start >= warm_end) {
			n++;
			if (rc < 0) {
				t->errors++;
				show(t, "request", rc);
			} else {
				t->ops++;
				wp_hist_record(t->hist, stop - start);
			}
		}
		start = stop;
	}
	t->end_ns = now_ns();
out:
	if (conn)
		run->b->close(conn);
	return NULL;
}

/* --- command line -------------------------------------------------------- */

static const char usage[] =
	"usage: sessions_bench --target weft --node IP[:PORT][,IP[:PORT]...] [options]\n"
	"       sessions_bench --target redis --redis HOST:PORT [options]\n"
	"  --sessions N      sessions created first (default 10000)\n"
	"  --threads T       request threads, one connection each (default 4, max 256)\n"
	"  --seconds S       measured seconds (default 10)\n"
	"  --warmup S        unrecorded seconds before (default 2)\n"
	"  --requests N      at most N measured requests per thread (default: no bound)\n"
	"  --value-size B    the attribute's bytes, 1..65536 (default 256)\n"
	"  --store NAME      weft session store (default weft.sessions)\n"
	"  --timeout-ms MS   libweft per-attempt timeout (default 500)\n"
	"A request: get the attribute of a random session, then set it (redis: HGET,\n"
	"then HSET + EXPIRE pipelined). Prints one RESULT line.\n";

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "sessions_bench: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	return -EINVAL;
}

static bool num(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool secs(const char *s, double lo, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo) || v > 86400.0)
		return false;
	*out = v;
	return true;
}

static int parse_nodes(char *s, struct sb_config *c)
{
	for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (c->n_nodes == SB_MAX_NODES)
			return bad("--node: at most 16 addresses%s", "");
		c->node[c->n_nodes++] = tok;
	}
	return c->n_nodes ? 0 : bad("--node needs IP[:PORT]%s", "");
}

static int parse_redis(const char *s, struct sb_config *c)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;
	size_t hl = colon ? (size_t)(colon - s) : 0;
	if (colon == NULL || hl == 0 || hl >= sizeof(c->redis_host) ||
	    !num(colon + 1, 1, 65535, &port))
		return bad("--redis needs HOST:PORT, not '%s'", s);
	memcpy(c->redis_host, s, hl);
	c->redis_host[hl] = '\0';
	c->redis_port = (int)port;
	return 0;
}

static int parse(int argc, char **argv, struct sb_config *c)
{
	enum { O_TARGET = 256, O_NODE, O_REDIS, O_SESSIONS, O_THREADS, O_SECONDS, O_WARMUP,
	       O_REQUESTS, O_VALUE, O_STORE, O_TIMEOUT, O_HELP };
	static const struct option opts[] = {
		{ "target", required_argument, NULL, O_TARGET },
		{ "node", required_argument, NULL, O_NODE },
		{ "redis", required_argument, NULL, O_REDIS },
		{ "sessions", required_argument, NULL, O_SESSIONS },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "requests", required_argument, NULL, O_REQUESTS },
		{ "value-size", required_argument, NULL, O_VALUE },
		{ "store", required_argument, NULL, O_STORE },
		{ "timeout-ms", required_argument, NULL, O_TIMEOUT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *target = NULL;
	uint64_t v;
	int o, rc = 0;

	*c = (struct sb_config){ .sessions = 10000, .threads = 4, .seconds = 10, .warmup = 2,
				 .value_size = 256, .timeout_ms = WEFT_DEFAULT_TIMEOUT_MS };
	while (rc == 0 && (o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_TARGET: target = optarg; break;
		case O_NODE: rc = parse_nodes(optarg, c); break;
		case O_REDIS: rc = parse_redis(optarg, c); break;
		case O_SESSIONS:
			if (!num(optarg, 1, 100000000, &c->sessions))
				rc = bad("--sessions needs 1..100000000, not '%s'", optarg);
			break;
		case O_THREADS:
			if (!num(optarg, 1, SB_MAX_THREADS, &v))
				rc = bad("--threads needs 1..256, not '%s'", optarg);
			c->threads = (unsigned)v;
			break;
		case O_SECONDS:
			if (!secs(optarg, 0.1, &c->seconds))
				rc = bad("--seconds needs 0.1..86400, not '%s'", optarg);
			break;
		case O_WARMUP:
			if (!secs(optarg, 0, &c->warmup))
				rc = bad("--warmup needs 0..86400, not '%s'", optarg);
			break;
		case O_REQUESTS:
			if (!num(optarg, 1, UINT64_MAX, &c->requests))
				rc = bad("--requests needs a count > 0, not '%s'", optarg);
			break;
		case O_VALUE:
			if (!num(optarg, 1, SB_MAX_VALUE, &v))
				rc = bad("--value-size needs 1..65536, not '%s'", optarg);
			c->value_size = (unsigned)v;
			break;
		case O_STORE: c->store = optarg; break;
		case O_TIMEOUT:
			if (!num(optarg, 1, 60000, &v))
				rc = bad("--timeout-ms needs 1..60000, not '%s'", optarg);
			c->timeout_ms = (uint32_t)v;
			break;
		case O_HELP: fputs(usage, stdout); exit(0);
		default: return bad("bad option%s", "");
		}
	}
	if (rc < 0)
		return rc;
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (target && strcmp(target, "weft") == 0) {
		c->target = SB_WEFT;
		if (c->n_nodes == 0)
			return bad("--target weft needs --node%s", "");
	} else if (target && strcmp(target, "redis") == 0) {
		c->target = SB_REDIS;
		if (c->redis_port == 0)
			return bad("--target redis needs --redis%s", "");
	} else {
		return bad("--target needs weft or redis%s", "");
	}
	return 0;
}

static double cpu_diff_us(const struct timeval *a, const struct timeval *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e6 + (double)(b->tv_usec - a->tv_usec);
}

int main(int argc, char **argv)
{
	struct sb_config c;
	struct sb_run run = { .c = &c };
	if (parse(argc, argv, &c) < 0)
		return 2;
	if (c.target == SB_WEFT) {
		run.b = &weft_backend;
	} else {
#ifdef SB_HAVE_HIREDIS
		run.b = &redis_backend;
#else
		fprintf(stderr, "sessions_bench: built without hiredis (libhiredis-dev): no redis target\n");
		return 2;
#endif
	}
	run.ids = calloc(c.sessions, sizeof(*run.ids));
	struct sb_thread *t = calloc(c.threads, sizeof(*t));
	if (run.ids == NULL || t == NULL || pthread_barrier_init(&run.created, NULL, c.threads + 1) ||
	    pthread_barrier_init(&run.go, NULL, c.threads + 1)) {
		fprintf(stderr, "sessions_bench: out of memory\n");
		return 1;
	}
	unsigned started = 0;
	for (; started < c.threads; started++) {
		t[started] = (struct sb_thread){ .run = &run, .idx = started,
						 .hist = calloc(1, sizeof(struct wp_hist)) };
		if (t[started].hist == NULL ||
		    pthread_create(&t[started].tid, NULL, thread_main, &t[started]) != 0)
			break;
	}
	if (started < c.threads) { /* cannot meet the barrier: nothing was measured */
		fprintf(stderr, "sessions_bench: cannot start thread %u\n", started);
		return 1;
	}
	uint64_t t0 = now_ns();
	pthread_barrier_wait(&run.created); /* every session created (or failed) */
	uint64_t created_ns = now_ns();
	run.warm_end_ns = created_ns + (uint64_t)(c.warmup * 1e9);
	pthread_barrier_wait(&run.go); /* publishes warm_end_ns */
	/* The process's CPU time over the measured window (all threads). */
	struct timespec warm_end = { .tv_sec = (time_t)(run.warm_end_ns / 1000000000ull),
				     .tv_nsec = (long)(run.warm_end_ns % 1000000000ull) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &warm_end, NULL) == EINTR)
		;
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	struct wp_hist *all = calloc(1, sizeof(*all));
	uint64_t ops = 0, errors = 0, end = run.warm_end_ns;
	bool open_failed = false;
	for (unsigned i = 0; i < c.threads; i++) {
		pthread_join(t[i].tid, NULL);
		if (all)
			wp_hist_merge(all, t[i].hist);
		ops += t[i].ops;
		errors += t[i].errors;
		open_failed |= t[i].open_failed != 0;
		if (t[i].end_ns > end)
			end = t[i].end_ns;
		free(t[i].hist);
	}
	getrusage(RUSAGE_SELF, &ru1);
	if (all == NULL || open_failed || run.create_failed) {
		fprintf(stderr, "sessions_bench: %s: nothing measured\n",
			all == NULL ? "out of memory" : open_failed ? "a connection failed"
							    : "creating the sessions failed");
		return 1;
	}
	double elapsed = (double)(end - run.warm_end_ns) / 1e9;
	double cpu_us = cpu_diff_us(&ru0.ru_utime, &ru1.ru_utime) +
			cpu_diff_us(&ru0.ru_stime, &ru1.ru_stime);
	printf("# sessions_bench: target=%s sessions=%" PRIu64 " value_size=%u threads=%u: "
	       "created in %.2f s (%.0f/s), then %.1f s warm-up, %.2f s measured\n",
	       run.b->name, c.sessions, c.value_size, c.threads, (double)(created_ns - t0) / 1e9,
	       (double)c.sessions / ((double)(created_ns - t0) / 1e9), c.warmup, elapsed);
	printf("RESULT sessions target=%s threads=%u ops=%" PRIu64 " ops_per_s=%.0f "
	       "get_set_p50_us=%.1f get_set_p99_us=%.1f errors=%" PRIu64 " sessions=%" PRIu64
	       " value_size=%u p999_us=%.1f max_us=%.1f client_cpu_us=%.1f\n",
	       run.b->name, c.threads, ops, elapsed > 0 ? (double)ops / elapsed : 0.0,
	       (double)wp_hist_quantile(all, 0.50) / 1e3, (double)wp_hist_quantile(all, 0.99) / 1e3,
	       errors, c.sessions, c.value_size, (double)wp_hist_quantile(all, 0.999) / 1e3,
	       (double)all->max / 1e3, ops + errors ? cpu_us / (double)(ops + errors) : 0.0);
	free(all);
	free(t);
	free(run.ids);
	return errors == 0 && ops > 0 ? 0 : 1;
}
