/*
 * weft-perf — a UDP load generator for weftd (weft protocol) and memcached
 * (its UDP text protocol), over kernel sockets: --threads workers, each with
 * its own socket and a pipeline of --depth outstanding requests, batched
 * with sendmmsg/recvmmsg. Prints one summary (and with --json one JSON
 * line): throughput, hits/misses, lost (timed out, never retried) requests,
 * errors and latency quantiles from a log-linear histogram.
 *
 * Invariants: a run is always bounded (--duration, default 10 s, and/or
 * --requests); every request and response fits one datagram (checked here
 * before any thread starts); the preload phase (--preload) is measured apart
 * and finishes on every thread before the measured phase starts.
 *
 * --cluster (weft only): the segment table is fetched from --server first
 * and each request goes straight to an owner of its key; while the workers
 * run, the main thread fetches the table again whenever an answer carried a
 * newer epoch (weft_perf_cluster.c). Without it every request goes to
 * --server, as before.
 *
 * --msg queue|topic: the messaging mode (weft_perf_msg*.c), publishers and
 * consumers or subscribers through libweft; main() hands it the command line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/weft.h>

#include "sec.h"
#include "weft_perf_internal.h"
#include "weft_perf_msg_internal.h"

#define MAX_THREADS 64u
#define MAX_DEPTH 4096u

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weft-perf --server IP[:PORT] [options]   (kernel UDP)\n"
		"       weft-perf --dpdk PORTSPEC --dst-ip IP [options]   (DPDK mode; --dpdk x --help lists them)\n"
		"       weft-perf --msg queue|topic --nodes IP[:PORT],... [options]   (messaging;\n"
		"                 --msg x --help lists them)\n"
		"  --proto weft|memcached   protocol (default weft; port default 7700 / 11211)\n"
		"  --threads N              worker threads, one socket each (default 1)\n"
		"  --depth N                outstanding requests per thread (default 16, max 4096)\n"
		"  --get-ratio R            fraction of gets, the rest puts (default 0.9)\n"
		"  --keys N                 key space (default 100000)\n"
		"  --key-size B             bytes per key (default 16)\n"
		"  --value-size B           bytes per value (default 100)\n"
		"  --dist uniform|zipf      key popularity (default uniform)\n"
		"  --zipf-theta T           Zipf exponent (default 0.99)\n"
		"  --duration S             measured seconds (default 10 unless --requests)\n"
		"  --requests N             stop after N requests in total\n"
		"  --preload                put every key once before measuring\n"
		"  --cache NAME             weft cache to use (default perf; opened first)\n"
		"  --sequential             keys in order (each thread over its share) instead of\n"
		"                           drawn: with --requests = --keys, every key once\n"
		"  --cluster                fetch the segment table from --server and send each key\n"
		"                           to its primary (puts) or one of its owners (gets)\n"
		"  --timeout-ms MS          a request unanswered this long is lost (default 100)\n"
		"  --client-key FILE        seal every request with this client key and verify\n"
		"                           every answer (default $WEFT_CLIENT_KEY_FILE; weft,\n"
		"                           kernel UDP only)\n"
		"  --mget N                 every get is one multi-key get of N keys (weft\n"
		"                           MULTI_GET, memcached \"get k1 .. kN\"; 1..64, not with\n"
		"                           --cluster)\n"
		"  --seed N                 random seed (default 1)\n"
		"  --json                   also print one JSON line\n");
}

static void parse(int argc, char **argv, struct wp_config *c)
{
	enum { O_PROTO = 256, O_SERVER, O_THREADS, O_DEPTH, O_RATIO, O_KEYS, O_KSIZE, O_VSIZE,
	       O_DIST, O_THETA, O_DURATION, O_REQUESTS, O_PRELOAD, O_CACHE, O_TIMEOUT, O_SEED,
	       O_JSON, O_CLUSTER, O_SEQUENTIAL, O_CLIENT_KEY, O_MGET };
	static const struct option longopts[] = {
		{ "proto", 1, NULL, O_PROTO }, { "server", 1, NULL, O_SERVER },
		{ "threads", 1, NULL, O_THREADS }, { "depth", 1, NULL, O_DEPTH },
		{ "get-ratio", 1, NULL, O_RATIO }, { "keys", 1, NULL, O_KEYS },
		{ "key-size", 1, NULL, O_KSIZE }, { "value-size", 1, NULL, O_VSIZE },
		{ "dist", 1, NULL, O_DIST }, { "zipf-theta", 1, NULL, O_THETA },
		{ "duration", 1, NULL, O_DURATION }, { "requests", 1, NULL, O_REQUESTS },
		{ "preload", 0, NULL, O_PRELOAD }, { "cache", 1, NULL, O_CACHE },
		{ "timeout-ms", 1, NULL, O_TIMEOUT }, { "seed", 1, NULL, O_SEED },
		{ "json", 0, NULL, O_JSON }, { "cluster", 0, NULL, O_CLUSTER },
		{ "sequential", 0, NULL, O_SEQUENTIAL }, { "client-key", 1, NULL, O_CLIENT_KEY },
		{ "mget", 1, NULL, O_MGET }, { "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *server = NULL, *key_file = getenv("WEFT_CLIENT_KEY_FILE");
	if (key_file != NULL && key_file[0] == '\0')
		key_file = NULL;
	bool duration_set = false;
	int o;

	*c = (struct wp_config){ .proto = WP_PROTO_WEFT, .threads = 1, .depth = 16,
				 .get_ratio = 0.9, .keys = 100000, .key_size = 16,
				 .value_size = 100, .zipf_theta = 0.99, .duration_s = 10,
				 .cache = "perf", .timeout_ms = 100, .seed = 1 };
	while ((o = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (o) {
		case O_PROTO:
			if (strcmp(optarg, "weft") == 0)
				c->proto = WP_PROTO_WEFT;
			else if (strcmp(optarg, "memcached") == 0)
				c->proto = WP_PROTO_MEMCACHED;
			else
				wp_die("--proto is weft or memcached", optarg);
			break;
		case O_SERVER: server = optarg; break;
		case O_THREADS: c->threads = (unsigned)wp_num(optarg, "bad --threads"); break;
		case O_DEPTH: c->depth = (unsigned)wp_num(optarg, "bad --depth"); break;
		case O_RATIO: c->get_ratio = wp_real(optarg, "bad --get-ratio"); break;
		case O_KEYS: c->keys = wp_num(optarg, "bad --keys"); break;
		case O_KSIZE: c->key_size = (unsigned)wp_num(optarg, "bad --key-size"); break;
		case O_VSIZE: c->value_size = (unsigned)wp_num(optarg, "bad --value-size"); break;
		case O_DIST:
			if (strcmp(optarg, "zipf") == 0)
				c->zipf = true;
			else if (strcmp(optarg, "uniform") != 0)
				wp_die("--dist is uniform or zipf", optarg);
			break;
		case O_THETA: c->zipf_theta = wp_real(optarg, "bad --zipf-theta"); break;
		case O_DURATION:
			c->duration_s = wp_real(optarg, "bad --duration");
			duration_set = true;
			break;
		case O_REQUESTS: c->requests = wp_num(optarg, "bad --requests"); break;
		case O_PRELOAD: c->preload = true; break;
		case O_CACHE: c->cache = optarg; break;
		case O_TIMEOUT: c->timeout_ms = (uint32_t)wp_num(optarg, "bad --timeout-ms"); break;
		case O_SEED: c->seed = wp_num(optarg, "bad --seed"); break;
		case O_JSON: c->json = true; break;
		case O_CLUSTER: c->cluster = true; break;
		case O_SEQUENTIAL: c->sequential = true; break;
		case O_CLIENT_KEY: key_file = optarg; break;
		case O_MGET: c->mget = (unsigned)wp_num(optarg, "bad --mget"); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc)
		wp_die("unexpected argument", argv[optind]);
	if (server == NULL)
		wp_die("--server IP[:PORT] is required", NULL);
	if (key_file != NULL) {
		static struct weft_sec_key key;
		char err[512];
		if (c->proto != WP_PROTO_WEFT)
			wp_die("--client-key (or WEFT_CLIENT_KEY_FILE) needs --proto weft", NULL);
		if (weft_sec_key_load(&key, key_file, WEFT_AUTH_CLIENT, WEFT_AUTH_MAC, err,
				      sizeof(err)) != 0)
			wp_die("--client-key", err);
		c->key = &key;
		/* libweft's clients here (--cluster's table) take it from there */
		setenv("WEFT_CLIENT_KEY_FILE", key_file, 1);
	}
	if (c->requests && !duration_set)
		c->duration_s = 0; /* bounded by the count */
	if (c->duration_s == 0 && c->requests == 0)
		wp_die("--duration 0 needs --requests", NULL);

	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(server, ':');
	size_t hl = colon ? (size_t)(colon - server) : strlen(server);
	uint64_t port = colon ? wp_num(colon + 1, "bad port")
			      : (c->proto == WP_PROTO_WEFT ? WEFT_DEFAULT_PORT : 11211);
	if (hl == 0 || hl >= sizeof(host) || port == 0 || port > 65535)
		wp_die("bad --server", server);
	memcpy(host, server, hl);
	host[hl] = '\0';
	c->server.sin_family = AF_INET;
	c->server.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &c->server.sin_addr) != 1)
		wp_die("bad --server (IPv4 expected)", server);
	snprintf(c->server_str, sizeof(c->server_str), "%s:%u", host, (unsigned)port);
}

static void validate(const struct wp_config *c)
{
	uint64_t kmax = c->keys ? c->keys - 1 : 0;
	unsigned need = 2;
	while (kmax >= 10) {
		kmax /= 10;
		need++;
	}
	if (c->threads == 0 || c->threads > MAX_THREADS)
		wp_die("--threads must be 1..64", NULL);
	if (c->depth == 0 || c->depth > MAX_DEPTH)
		wp_die("--depth must be 1..4096", NULL);
	if (c->keys == 0)
		wp_die("--keys must be > 0", NULL);
	if (c->get_ratio > 1)
		wp_die("--get-ratio must be in [0, 1]", NULL);
	if (c->key_size < need || c->key_size > WEFT_MAX_KEY_LEN)
		wp_die("--key-size must hold 'k' and the largest key number, and be <= 250", NULL);
	if (c->requests && c->requests < c->threads)
		wp_die("--requests must be at least --threads", NULL);
	if (c->timeout_ms == 0)
		wp_die("--timeout-ms must be > 0", NULL);
	if (c->cluster && c->proto != WP_PROTO_WEFT)
		wp_die("--cluster needs --proto weft", NULL);
	if (c->sequential && c->zipf)
		wp_die("--sequential and --dist zipf exclude each other", NULL);
	if (c->mget > WEFT_MAX_MULTI_GET || (c->mget && c->cluster))
		wp_die("--mget must be 1..64, and is not for --cluster", NULL);
	size_t nl = strlen(c->cache);
	if (c->proto == WP_PROTO_WEFT && (nl == 0 || nl > WEFT_MAX_NAME_LEN))
		wp_die("--cache must be 1..64 bytes", NULL);
	size_t lim = c->proto == WP_PROTO_WEFT ? WEFT_MAX_DGRAM_LEN : WP_MEMCACHED_MAX_DGRAM;
	if (wp_max_request_len(c) > lim || wp_max_response_len(c) > lim)
		wp_die("--value-size/--key-size too large: requests and responses must fit one datagram",
		    NULL);
}

static void add_stats(struct wp_stats *d, const struct wp_stats *s)
{
	d->sent += s->sent;
	d->completed += s->completed;
	d->gets += s->gets;
	d->puts += s->puts;
	d->hits += s->hits;
	d->misses += s->misses;
	d->errors += s->errors;
	d->lost += s->lost;
	d->stale += s->stale;
	d->send_fail += s->send_fail;
	d->cookies += s->cookies;
	wp_hist_merge(&d->hist, &s->hist);
}

static void report(const struct wp_config *c, const struct wp_stats *pre, const struct wp_stats *t,
		   double secs, const struct wp_cluster *cl)
{
	const char *proto = c->proto == WP_PROTO_WEFT ? "weft" : "memcached";
	const char *dist = c->zipf ? "zipf" : c->sequential ? "sequential" : "uniform";
	double us = 1e-3;
	double p50 = (double)wp_hist_quantile(&t->hist, 0.50) * us;
	double p99 = (double)wp_hist_quantile(&t->hist, 0.99) * us;
	double p999 = (double)wp_hist_quantile(&t->hist, 0.999) * us;
	double pmax = (double)t->hist.max * us;
	double ops = secs > 0 ? (double)t->completed / secs : 0;

	printf("weft-perf %s %s: %u threads x depth %u, %s keys=%" PRIu64 " key=%uB value=%uB get-ratio=%.2f mget=%u\n",
	       proto, c->server_str, c->threads, c->depth, dist, c->keys,
	       c->key_size, c->value_size, c->get_ratio, c->mget);
	if (c->preload)
		printf("  preload: %" PRIu64 " puts sent, %" PRIu64 " stored, %" PRIu64 " lost, %" PRIu64 " errors\n",
		       pre->sent, pre->completed - pre->errors, pre->lost, pre->errors);
	printf("  %.2f s: %" PRIu64 " sent, %" PRIu64 " completed, %.0f ops/s (%.0f gets/s, %.0f puts/s)\n",
	       secs, t->sent, t->completed, ops, secs > 0 ? (double)t->gets / secs : 0,
	       secs > 0 ? (double)t->puts / secs : 0);
	printf("  hits %" PRIu64 ", misses %" PRIu64 ", lost %" PRIu64 " (timeout %u ms), errors %" PRIu64 ", stale %" PRIu64 ", send failures %" PRIu64 ", cookie answers %" PRIu64 "\n",
	       t->hits, t->misses, t->lost, c->timeout_ms, t->errors, t->stale, t->send_fail,
	       t->cookies);
	printf("  latency us: p50 %.1f  p99 %.1f  p999 %.1f  max %.1f\n", p50, p99, p999, pmax);
	const struct wp_route *r = cl ? atomic_load(&cl->cur) : NULL;
	if (r)
		printf("  cluster: %u members, %u owners, %u segments, epoch %u, %s; %" PRIu64
		       " table fetches (%" PRIu64 " failed), %u tables used\n",
		       r->topo->n_members, r->topo->owners, r->topo->n_segments, r->epoch,
		       r->direct ? "direct to owners" : "all to --server", cl->fetches,
		       cl->fetch_failures, cl->n_all);
	if (c->json)
		printf("{\"proto\":\"%s\",\"server\":\"%s\",\"threads\":%u,\"depth\":%u,"
		       "\"dist\":\"%s\",\"keys\":%" PRIu64 ",\"key_size\":%u,\"value_size\":%u,"
		       "\"get_ratio\":%.3f,\"seconds\":%.3f,\"sent\":%" PRIu64 ",\"completed\":%" PRIu64 ","
		       "\"ops_per_s\":%.1f,\"gets_per_s\":%.1f,\"puts_per_s\":%.1f,"
		       "\"hits\":%" PRIu64 ",\"misses\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"errors\":%" PRIu64 ","
		       "\"stale\":%" PRIu64 ",\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f",
		       proto, c->server_str, c->threads, c->depth, dist, c->keys,
		       c->key_size, c->value_size, c->get_ratio, secs, t->sent, t->completed, ops,
		       secs > 0 ? (double)t->gets / secs : 0, secs > 0 ? (double)t->puts / secs : 0,
		       t->hits, t->misses, t->lost, t->errors, t->stale, p50, p99, p999, pmax);
	if (c->json && c->mget)
		printf(",\"mget\":%u,\"keys_per_s\":%.1f", c->mget,
		       secs > 0 ? (double)(t->gets * c->mget + t->puts) / secs : 0);
	if (c->json && r)
		printf(",\"cluster_members\":%u,\"owners\":%u,\"epoch\":%u,\"direct\":%s,"
		       "\"table_fetches\":%" PRIu64, r->topo->n_members, r->topo->owners, r->epoch,
		       r->direct ? "true" : "false", cl->fetches);
	if (c->json)
		printf("}\n");
}

/* weft caches are looked up or created by name before use. */
static void open_cache(const struct wp_config *c)
{
	struct weft_client_opts o;
	weft_client_opts_init(&o);
	weft_client *cl = weft_client_connect(c->server_str, &o);
	if (cl == NULL)
		wp_die("cannot create a client socket", strerror(errno));
	int rc = weft_open_cache(cl, c->cache, NULL);
	weft_client_close(cl);
	if (rc < 0) {
		fprintf(stderr, "weft-perf: opening cache '%s' on %s: %s: %s\n", c->cache,
			c->server_str, weft_status_name(rc), weft_strerror(rc));
		exit(2);
	}
}

/* Joins the workers; with --cluster, keeps the table fresh meanwhile,
 * looking every 2 ms (the workers' runs bound this loop). */
static void wait_workers(pthread_t *tid, unsigned n, struct wp_cluster *cl)
{
	unsigned joined = 0;
	if (cl == NULL) {
		for (unsigned i = 0; i < n; i++)
			pthread_join(tid[i], NULL);
		return;
	}
	bool *done = calloc(n, sizeof(*done));
	if (done == NULL)
		wp_die("out of memory", NULL);
	while (joined < n) {
		for (unsigned i = 0; i < n; i++)
			if (!done[i] && pthread_tryjoin_np(tid[i], NULL) == 0) {
				done[i] = true;
				joined++;
			}
		if (joined == n)
			break;
		wp_cluster_refresh(cl);
		nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
	}
	free(done);
}

/* True when the command line holds option opt ("--dpdk": --dpdk SPEC or
 * --dpdk=SPEC), which selects a mode. */
static bool has_mode(int argc, char **argv, const char *opt)
{
	size_t l = strlen(opt);
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], opt, l) == 0 && (argv[i][l] == '\0' || argv[i][l] == '='))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	if (has_mode(argc, argv, "--dpdk"))
		return wp_dpdk_main(argc, argv);
	if (has_mode(argc, argv, "--msg"))
		return wp_msg_weft_main(argc, argv);
	struct wp_config cfg;
	struct wp_zipf zipf = { 0 };
	pthread_barrier_t barrier;

	parse(argc, argv, &cfg);
	validate(&cfg);
	if (cfg.zipf && wp_zipf_init(&zipf, cfg.keys, cfg.zipf_theta) < 0)
		wp_die("cannot build the Zipf table (keys <= 2^27)", NULL);
	if (cfg.proto == WP_PROTO_WEFT)
		open_cache(&cfg);
	struct wp_cluster *cl = NULL;
	if (cfg.cluster) {
		cl = malloc(sizeof(*cl));
		if (cl == NULL)
			wp_die("out of memory", NULL);
		if (wp_cluster_init(cl, &cfg) < 0)
			exit(2);
	}

	struct wp_worker *w = calloc(cfg.threads, sizeof(*w));
	pthread_t *tid = calloc(cfg.threads, sizeof(*tid));
	if (w == NULL || tid == NULL || pthread_barrier_init(&barrier, NULL, cfg.threads) != 0)
		wp_die("out of memory", NULL);
	for (unsigned i = 0; i < cfg.threads; i++) {
		w[i] = (struct wp_worker){ .cfg = &cfg, .zipf = cfg.zipf ? &zipf : NULL,
					   .cluster = cl, .barrier = &barrier, .index = i };
		if (cfg.requests)
			w[i].quota = cfg.requests * (i + 1) / cfg.threads - cfg.requests * i / cfg.threads;
		if (pthread_create(&tid[i], NULL, wp_worker_main, &w[i]) != 0)
			wp_die("pthread_create failed", NULL);
	}
	struct wp_stats *pre = calloc(1, sizeof(*pre)), *tot = calloc(1, sizeof(*tot));
	if (pre == NULL || tot == NULL)
		wp_die("out of memory", NULL);
	uint64_t start = UINT64_MAX, finish = 0;
	int failed = 0;
	wait_workers(tid, cfg.threads, cl);
	for (unsigned i = 0; i < cfg.threads; i++) {
		if (w[i].error) {
			fprintf(stderr, "weft-perf: thread %u: %s\n", i, strerror(w[i].error));
			failed = 1;
			continue;
		}
		add_stats(pre, &w[i].preload);
		add_stats(tot, &w[i].run);
		if (w[i].start_ns < start)
			start = w[i].start_ns;
		if (w[i].finish_ns > finish)
			finish = w[i].finish_ns;
	}
	double secs = finish > start ? (double)(finish - start) / 1e9 : 0;
	report(&cfg, pre, tot, secs, cl);
	if (cl) {
		wp_cluster_fini(cl);
		free(cl);
	}
	pthread_barrier_destroy(&barrier);
	wp_zipf_free(&zipf);
	free(w);
	free(tid);
	/* 1: the server answered nothing (down, or a wrong address/protocol). */
	int rc = failed ? 2 : tot->completed == 0 ? 1 : 0;
	free(pre);
	free(tot);
	return rc;
}
