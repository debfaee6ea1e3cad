/*
 * weft_perf_dpdk.c — weft-perf's DPDK mode (--dpdk): a load generator with its own EAL
 * (--no-huge, its own --file-prefix, one lcore) and one port (net_memif,
 * net_af_packet or a PCI NIC), driving weftd with pre-built request frames,
 * open loop (--rate) or closed loop (--depth per flow over --flows UDP
 * source ports), with per-second lines and one summary (docs/weft-perf.md,
 * "DPDK mode"). --expect-echo measures a forwarder instead (dpdk-testpmd in
 * macswap mode): a request returned to us counts as its answer.
 *
 * Invariants: a run is bounded (--duration and/or --requests, then at most
 * two --timeout-ms of drain; waits for the link, ARP and the cache are
 * bounded by --link-wait); the workload options mean what they mean in the
 * kernel weft-perf (same keys, Zipf sampler and encoder).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_random.h>

#include <weft/wire.h>

#include "weft_perf_dpdk_internal.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weft-perf --dpdk PORTSPEC --dst-ip IP [options]\n"
		"  --dpdk SPEC          memif:SOCKET[,role=server][,..] | af_packet:IFACE | PCI address\n"
		"  --src-ip IP          our address (default 10.233.0.1)\n"
		"  --dst-ip IP          weftd's --bind address (required)\n"
		"  --dst-port P         weftd's data port (default 7700)\n"
		"  --dst-mac MAC        weftd's MAC (default: ARP for --dst-ip)\n"
		"  --src-port P         first UDP source port; flow f uses P + f (default 20000)\n"
		"  --flows N            UDP flows (source ports) (default 32)\n"
		"  --queues N           queue pairs, bursts sent to each in turn (default 1; a\n"
		"                       memif peer with N lcores needs N)\n"
		"  --depth N            closed loop: requests in flight per flow (default 8)\n"
		"  --rate PPS           open loop: requests per second, whatever the answers\n"
		"  --get-ratio R, --keys N, --key-size B, --value-size B, --dist uniform|zipf,\n"
		"  --zipf-theta T, --duration S, --requests N, --preload, --cache NAME,\n"
		"  --timeout-ms MS, --seed N, --json, --mget N   as in weft-perf (kernel mode)\n"
		"  --expect-echo        baseline: count our requests returned by a forwarder\n"
		"  --cpu N              CPU of our one lcore (default: first allowed CPU)\n"
		"  --mem MB             EAL memory without hugepages (default 256)\n"
		"  --link-wait S        wait for link, ARP, cache at most S s (default 30)\n"
		"  --quiet              no per-second lines\n");
}

static uint32_t ip4(const char *s, const char *what)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		wp_die(what, s);
	return a.s_addr;
}

static int first_cpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set))
				return c;
	return 0;
}

static void parse(int argc, char **argv, struct wpd_config *c)
{
	enum { O_DPDK = 256, O_SRCIP, O_DSTIP, O_DPORT, O_DMAC, O_SPORT, O_FLOWS, O_DEPTH,
	       O_RATE, O_RATIO, O_KEYS, O_KSIZE, O_VSIZE, O_DIST, O_THETA, O_DURATION,
	       O_REQUESTS, O_PRELOAD, O_CACHE, O_TIMEOUT, O_SEED, O_JSON, O_ECHO, O_CPU, O_MEM,
	       O_WAIT, O_QUIET, O_MGET, O_QUEUES };
	static const struct option longopts[] = {
		{ "dpdk", 1, NULL, O_DPDK }, { "src-ip", 1, NULL, O_SRCIP },
		{ "dst-ip", 1, NULL, O_DSTIP }, { "dst-port", 1, NULL, O_DPORT },
		{ "dst-mac", 1, NULL, O_DMAC }, { "src-port", 1, NULL, O_SPORT },
		{ "flows", 1, NULL, O_FLOWS }, { "depth", 1, NULL, O_DEPTH },
		{ "rate", 1, NULL, O_RATE }, { "get-ratio", 1, NULL, O_RATIO },
		{ "keys", 1, NULL, O_KEYS }, { "key-size", 1, NULL, O_KSIZE },
		{ "value-size", 1, NULL, O_VSIZE }, { "dist", 1, NULL, O_DIST },
		{ "zipf-theta", 1, NULL, O_THETA }, { "duration", 1, NULL, O_DURATION },
		{ "requests", 1, NULL, O_REQUESTS }, { "preload", 0, NULL, O_PRELOAD },
		{ "cache", 1, NULL, O_CACHE }, { "timeout-ms", 1, NULL, O_TIMEOUT },
		{ "seed", 1, NULL, O_SEED }, { "json", 0, NULL, O_JSON },
		{ "expect-echo", 0, NULL, O_ECHO }, { "cpu", 1, NULL, O_CPU },
		{ "mem", 1, NULL, O_MEM }, { "link-wait", 1, NULL, O_WAIT },
		{ "quiet", 0, NULL, O_QUIET }, { "mget", 1, NULL, O_MGET },
		{ "queues", 1, NULL, O_QUEUES },
		{ "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct wp_config *b = &c->base;
	bool duration_set = false, dst_set = false;
	uint64_t sport = 20000;
	int o;

	*c = (struct wpd_config){ .dst_port = WEFT_DEFAULT_PORT, .flows = 32, .queues = 1,
				  .cpu = first_cpu(),
				  .mem_mb = 256, .link_wait_s = 30 };
	*b = (struct wp_config){ .proto = WP_PROTO_WEFT, .threads = 1, .depth = 8, .get_ratio = 0.9,
				 .keys = 100000, .key_size = 16, .value_size = 100,
				 .zipf_theta = 0.99, .duration_s = 10, .cache = "perf",
				 .timeout_ms = 100, .seed = 1 };
	c->src_ip = ip4("10.233.0.1", "src-ip");
	while ((o = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (o) {
		case O_DPDK: c->port_spec = optarg; break;
		case O_SRCIP: c->src_ip = ip4(optarg, "bad --src-ip"); break;
		case O_DSTIP: c->dst_ip = ip4(optarg, "bad --dst-ip"); dst_set = true; break;
		case O_DPORT: c->dst_port = (uint16_t)wp_num(optarg, "bad --dst-port"); break;
		case O_DMAC:
			if (rte_ether_unformat_addr(optarg, &c->dst_mac) != 0)
				wp_die("bad --dst-mac", optarg);
			c->dst_mac_set = true;
			break;
		case O_SPORT: sport = wp_num(optarg, "bad --src-port"); break;
		case O_FLOWS: c->flows = (unsigned)wp_num(optarg, "bad --flows"); break;
		case O_DEPTH: b->depth = (unsigned)wp_num(optarg, "bad --depth"); break;
		case O_RATE: c->rate = wp_num(optarg, "bad --rate"); break;
		case O_RATIO: b->get_ratio = wp_real(optarg, "bad --get-ratio"); break;
		case O_KEYS: b->keys = wp_num(optarg, "bad --keys"); break;
		case O_KSIZE: b->key_size = (unsigned)wp_num(optarg, "bad --key-size"); break;
		case O_VSIZE: b->value_size = (unsigned)wp_num(optarg, "bad --value-size"); break;
		case O_DIST:
			if (strcmp(optarg, "zipf") == 0)
				b->zipf = true;
			else if (strcmp(optarg, "uniform") != 0)
				wp_die("--dist is uniform or zipf", optarg);
			break;
		case O_THETA: b->zipf_theta = wp_real(optarg, "bad --zipf-theta"); break;
		case O_DURATION:
			b->duration_s = wp_real(optarg, "bad --duration");
			duration_set = true;
			break;
		case O_REQUESTS: b->requests = wp_num(optarg, "bad --requests"); break;
		case O_PRELOAD: b->preload = true; break;
		case O_CACHE: b->cache = optarg; break;
		case O_TIMEOUT: b->timeout_ms = (uint32_t)wp_num(optarg, "bad --timeout-ms"); break;
		case O_SEED: b->seed = wp_num(optarg, "bad --seed"); break;
		case O_JSON: b->json = true; break;
		case O_ECHO: c->echo = true; break;
		case O_CPU: c->cpu = (int)wp_num(optarg, "bad --cpu"); break;
		case O_MEM: c->mem_mb = (unsigned)wp_num(optarg, "bad --mem"); break;
		case O_WAIT: c->link_wait_s = wp_real(optarg, "bad --link-wait"); break;
		case O_QUIET: c->quiet = true; break;
		case O_MGET: b->mget = (unsigned)wp_num(optarg, "bad --mget"); break;
		case O_QUEUES: c->queues = (uint16_t)wp_num(optarg, "bad --queues"); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc)
		wp_die("unexpected argument", argv[optind]);
	if (c->port_spec == NULL || !dst_set)
		wp_die("--dpdk SPEC and --dst-ip IP are required", NULL);
	if (b->requests && !duration_set)
		b->duration_s = 0;
	if (b->duration_s == 0 && b->requests == 0)
		wp_die("--duration 0 needs --requests", NULL);
	if (c->flows == 0 || c->flows > WPD_MAX_FLOWS || sport == 0 || sport + c->flows > 65536)
		wp_die("--flows must be 1..4096 and --src-port + --flows <= 65536", NULL);
	c->src_port_base = (uint16_t)sport;
	if (c->echo && !c->dst_mac_set)
		wp_die("--expect-echo needs --dst-mac (a forwarder does not answer ARP)", NULL);
	snprintf(b->server_str, sizeof(b->server_str), "%s:%u",
		 inet_ntoa((struct in_addr){ .s_addr = c->dst_ip }), c->dst_port);
}

static void validate(const struct wpd_config *c)
{
	const struct wp_config *b = &c->base;
	uint64_t kmax = b->keys ? b->keys - 1 : 0;
	unsigned need = 2;
	while (kmax >= 10) {
		kmax /= 10;
		need++;
	}
	if (b->depth == 0 || b->depth > 4096)
		wp_die("--depth must be 1..4096", NULL);
	if (b->keys == 0 || b->keys > (1ull << 24))
		wp_die("--keys must be 1..16777216 (one pre-built frame per key)", NULL);
	if (b->get_ratio > 1)
		wp_die("--get-ratio must be in [0, 1]", NULL);
	if (b->key_size < need || b->key_size > WEFT_MAX_KEY_LEN)
		wp_die("--key-size must hold 'k' and the largest key number, and be <= 250", NULL);
	if (b->timeout_ms == 0 || b->timeout_ms > 10000)
		wp_die("--timeout-ms must be 1..10000", NULL);
	if (b->mget > WEFT_MAX_MULTI_GET)
		wp_die("--mget must be 0..64", NULL);
	if (c->queues == 0 || c->queues > 16)
		wp_die("--queues must be 1..16", NULL);
	if (c->rate > 100000000)
		wp_die("--rate must be <= 100000000", NULL);
	size_t nl = strlen(b->cache);
	if (nl == 0 || nl > WEFT_MAX_NAME_LEN)
		wp_die("--cache must be 1..64 bytes", NULL);
	if (wp_max_request_len(b) > WEFT_MAX_DGRAM_LEN || wp_max_response_len(b) > WEFT_MAX_DGRAM_LEN)
		wp_die("--value-size/--key-size too large: requests and responses must fit one datagram",
		    NULL);
	if (b->keys * (WPD_HDRS + wp_max_request_len(b) + 64) * 2 > (1ull << 30))
		wp_die("--keys x request size: the pre-built frames would exceed 1 GiB", NULL);
}

/* EAL: one lcore on c->cpu, no hugepages, our own file prefix, one port. */
static void eal_init(const char *prog, const struct wpd_config *c)
{
	static char buf[2048];
	char *argv[24];
	int argc = 0;
	size_t used = 0;
#define ARG(...)                                                                     \
	do {                                                                         \
		int n_ = snprintf(buf + used, sizeof(buf) - used, __VA_ARGS__);      \
		if (n_ < 0 || (size_t)n_ >= sizeof(buf) - used || argc >= 23)        \
			wp_die("EAL arguments too long", NULL);                          \
		argv[argc++] = buf + used;                                           \
		used += (size_t)n_ + 1;                                              \
	} while (0)
	const char *spec = c->port_spec, *arg = strchr(spec, ':');
	ARG("%s", prog);
	ARG("--lcores");
	ARG("0@%d", c->cpu);
	ARG("--no-huge");
	ARG("-m");
	ARG("%u", c->mem_mb);
	ARG("--file-prefix");
	ARG("weftperf-%d", (int)getpid());
	ARG("--no-shconf");
	ARG("--no-telemetry");
	ARG("--log-level=warning");
	if (strncmp(spec, "memif:", 6) == 0) {
		size_t n = strcspn(arg + 1, ",");
		ARG("--vdev=net_memif0,socket=%.*s%s%s", (int)n, arg + 1,
		    arg[1] == '/' ? ",socket-abstract=no" : "", arg + 1 + n);
		ARG("--no-pci");
	} else if (strncmp(spec, "af_packet:", 10) == 0) {
		size_t n = strcspn(arg + 1, ",");
		ARG("--vdev=net_af_packet0,iface=%.*s,qpairs=1,blocksz=4096,framesz=2048,"
		    "framecnt=4096%s", (int)n, arg + 1, arg + 1 + n);
		ARG("--no-pci");
	} else {
		ARG("-a");
		ARG("%s", spec);
	}
#undef ARG
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0)
		wp_die("rte_eal_init failed", rte_strerror(rte_errno));
}

static struct rte_mempool *port_init(uint16_t port, struct wpd_config *c)
{
	struct rte_eth_conf conf = { 0 };
	uint16_t nrx = 1024, ntx = 1024;
	struct rte_mempool *pool = rte_pktmbuf_pool_create("wpd", 8191u * c->queues, 256, 0,
							   RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL)
		wp_die("mbuf pool", rte_strerror(rte_errno));
	if (rte_eth_dev_configure(port, c->queues, c->queues, &conf) < 0 ||
	    rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx) < 0)
		wp_die("port setup failed", c->port_spec);
	for (uint16_t q = 0; q < c->queues; q++)
		if (rte_eth_rx_queue_setup(port, q, nrx, rte_eth_dev_socket_id(port), NULL, pool) < 0 ||
		    rte_eth_tx_queue_setup(port, q, ntx, rte_eth_dev_socket_id(port), NULL) < 0)
			wp_die("queue setup failed (--queues?)", c->port_spec);
	if (rte_eth_dev_start(port) < 0)
		wp_die("port start failed", c->port_spec);
	rte_eth_promiscuous_enable(port); /* af_packet: see answers to our PMD MAC */
	if (rte_eth_macaddr_get(port, &c->src_mac) < 0)
		wp_die("no port MAC", NULL);
	return pool;
}

static bool wait_link(uint16_t port, double secs)
{
	uint64_t end = rte_rdtsc() + (uint64_t)(secs * (double)rte_get_tsc_hz());
	do {
		struct rte_eth_link l;
		if (rte_eth_link_get_nowait(port, &l) == 0 && l.link_status == RTE_ETH_LINK_UP)
			return true;
		rte_delay_ms(10);
	} while (rte_rdtsc() < end);
	return false;
}

static bool match_arp(struct wpd_run *r, const uint8_t *f, uint32_t len, void *arg)
{
	return wpd_parse_arp_reply(r->cfg, f, len, arg);
}

struct ctl_wait {
	uint64_t id;
	enum wp_result res;
};

static bool match_ctl(struct wpd_run *r, const uint8_t *f, uint32_t len, void *arg)
{
	struct ctl_wait *w = arg;
	uint64_t id;
	enum wp_result res;
	if (!wpd_parse_answer(r->cfg, r->client_id, f, len, &id, &res) || id != w->id)
		return false;
	w->res = res;
	return true;
}

struct cookie_wait {
	uint64_t id;
	bool got;
	uint8_t cookie[WEFT_COOKIE_LEN];
};

static bool match_cookie(struct wpd_run *r, const uint8_t *f, uint32_t len, void *arg)
{
	struct cookie_wait *w = arg;
	uint64_t id;
	enum wp_result res;
	if (!wpd_parse_answer(r->cfg, r->client_id, f, len, &id, &res) || id != w->id)
		return false;
	w->got = res == WP_R_COOKIE && wpd_answer_cookie(r->cfg, f, len, w->cookie);
	return true;
}

/* ARP for the node (unless --dst-mac), then open the cache (or, with
 * --expect-echo, see a PING come back): retried until --link-wait runs out,
 * which also waits for weftd or the forwarder to come up. Then the cookie
 * handshake (address validation): a STATS with a zero cookie is answered
 * COOKIE with the cookie every template carries. */
static void find_node(struct wpd_run *r, struct wpd_config *c)
{
	uint8_t frame[WPD_HDRS + 256];
	uint64_t end = rte_rdtsc() + (uint64_t)(c->link_wait_s * (double)rte_get_tsc_hz());
	while (!c->dst_mac_set) {
		uint16_t len = wpd_frame_arp_request(c, frame);
		if (wpd_exchange(r, frame, len, 200, match_arp, &c->dst_mac))
			c->dst_mac_set = true;
		else if (rte_rdtsc() > end)
			wp_die("no ARP answer from --dst-ip", r->cfg->base.server_str);
	}
	/* A forwarder is ready when a PING comes back; a node when it opened the cache. */
	uint8_t op = c->echo ? WEFT_OP_PING : WEFT_OP_CACHE_OPEN;
	for (uint64_t id = 1;; id++) {
		struct ctl_wait w = { .id = id };
		uint16_t len = wpd_frame_control(c, r->client_id, op, id, frame);
		if (wpd_exchange(r, frame, len, 300, match_ctl, &w)) {
			if (w.res == WP_R_ERROR)
				wp_die("the node refused CACHE_OPEN", c->base.cache);
			break;
		}
		if (rte_rdtsc() > end)
			wp_die(c->echo ? "no PING came back through" : "no answer to CACHE_OPEN from",
			    c->echo ? c->port_spec : c->base.server_str);
	}
	for (uint64_t id = 1ull << 62; !c->echo; id++) {
		struct cookie_wait w = { .id = id };
		uint16_t len = wpd_frame_control(c, r->client_id, WEFT_OP_STATS, id, frame);
		if (wpd_exchange(r, frame, len, 300, match_cookie, &w)) {
			if (w.got) /* else the node wants none */
				memcpy(c->cookie, w.cookie, WEFT_COOKIE_LEN);
			return;
		}
		if (rte_rdtsc() > end)
			wp_die("no answer to the cookie handshake from", c->base.server_str);
	}
}

static void report(const struct wpd_config *c, const struct wpd_counts *pre,
		   const struct wpd_run *r)
{
	const struct wp_config *b = &c->base;
	const struct wpd_counts *n = &r->n;
	double us = 1e-3, secs = r->seconds;
	double p50 = (double)wp_hist_quantile(r->hist, 0.50) * us;
	double p99 = (double)wp_hist_quantile(r->hist, 0.99) * us;
	double p999 = (double)wp_hist_quantile(r->hist, 0.999) * us;
	double pmax = (double)r->hist->max * us;
	double ops = secs > 0 ? (double)n->answered / secs : 0;
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	rte_ether_format_addr(mac, sizeof(mac), &c->dst_mac);

	printf("weft-perf dpdk %s %s (%s) via %s: %u flows, %s %" PRIu64 ", %s keys=%" PRIu64
	       " key=%uB value=%uB get-ratio=%.2f\n",
	       c->echo ? "echo" : "weft", b->server_str, mac, c->port_spec, c->flows,
	       c->rate ? "rate" : "depth", c->rate ? c->rate : (uint64_t)b->depth,
	       b->zipf ? "zipf" : "uniform", b->keys, b->key_size, b->value_size, b->get_ratio);
	if (b->preload)
		printf("  preload: %" PRIu64 " puts sent, %" PRIu64 " stored, %" PRIu64 " lost, %" PRIu64 " errors\n",
		       pre->sent, pre->stored, pre->lost, pre->errors);
	printf("  %.2f s: offered %" PRIu64 ", sent %" PRIu64 ", answered %" PRIu64 ", %.0f ops/s (tx full %" PRIu64 ")\n",
	       secs, n->offered, n->sent, n->answered, ops, n->tx_full);
	printf("  hits %" PRIu64 ", misses %" PRIu64 ", stored %" PRIu64 ", lost %" PRIu64 " (timeout %u ms), errors %" PRIu64 ", stale %" PRIu64 ", cookie answers %" PRIu64 "\n",
	       n->hits, n->misses, n->stored, n->lost, b->timeout_ms, n->errors, n->stale,
	       n->cookies);
	printf("  latency us: p50 %.1f  p99 %.1f  p999 %.1f  max %.1f\n", p50, p99, p999, pmax);
	/* --mget: answered counts requests; keys = gets x mget + puts */
	double keys_s = secs > 0 ? (double)((n->answered - n->stored) * (b->mget ? b->mget : 1) +
					   n->stored) / secs : 0;
	if (b->mget)
		printf("  multi-get of %u keys: %.0f keys/s\n", b->mget, keys_s);
	if (b->json)
		printf("{\"mode\":\"%s\",\"port\":\"%s\",\"server\":\"%s\",\"flows\":%u,\"depth\":%u,"
		       "\"rate\":%" PRIu64 ",\"dist\":\"%s\",\"keys\":%" PRIu64 ",\"key_size\":%u,"
		       "\"value_size\":%u,\"get_ratio\":%.3f,\"seconds\":%.3f,\"offered\":%" PRIu64 ","
		       "\"sent\":%" PRIu64 ",\"answered\":%" PRIu64 ",\"ops_per_s\":%.1f,"
		       "\"hits\":%" PRIu64 ",\"misses\":%" PRIu64 ",\"stored\":%" PRIu64 ",\"lost\":%" PRIu64 ","
		       "\"errors\":%" PRIu64 ",\"stale\":%" PRIu64 ",\"tx_full\":%" PRIu64 ","
		       "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
		       "\"mget\":%u,\"keys_per_s\":%.1f}\n",
		       c->echo ? "echo" : "weft", c->port_spec, b->server_str, c->flows, b->depth,
		       c->rate, b->zipf ? "zipf" : "uniform", b->keys, b->key_size, b->value_size,
		       b->get_ratio, secs, n->offered, n->sent, n->answered, ops, n->hits, n->misses,
		       n->stored, n->lost, n->errors, n->stale, n->tx_full, p50, p99, p999, pmax,
		       b->mget, keys_s);
	fflush(stdout);
}

int wp_dpdk_main(int argc, char **argv)
{
	struct wpd_config cfg;
	struct wp_zipf zipf = { 0 };
	struct wpd_templates tpl;
	struct wpd_counts pre = { 0 };

	parse(argc, argv, &cfg);
	validate(&cfg);
	if (cfg.base.zipf && wp_zipf_init(&zipf, cfg.base.keys, cfg.base.zipf_theta) < 0)
		wp_die("cannot build the Zipf table", NULL);
	eal_init(argv[0], &cfg);
	int port = -1;
	uint16_t p;
	RTE_ETH_FOREACH_DEV(p) {
		port = p;
		break;
	}
	if (port < 0)
		wp_die("no DPDK port", cfg.port_spec);
	struct wpd_run run = { .cfg = &cfg, .zipf = cfg.base.zipf ? &zipf : NULL,
			       .port = (uint16_t)port, .client_id = (uint32_t)rte_rand() | 1 };
	run.pool = port_init(run.port, &cfg);
	run.hist = calloc(1, sizeof(*run.hist));
	if (run.hist == NULL)
		wp_die("out of memory", NULL);
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	rte_ether_format_addr(mac, sizeof(mac), &cfg.src_mac);
	/* Scripts start a memif client only after this line: the server socket
	 * listens by now (its file appears a little earlier, at bind). */
	fprintf(stderr, "weft-perf: port ready, MAC %s, waiting for the link\n", mac);
	if (!wait_link(run.port, cfg.link_wait_s))
		wp_die("link down (no peer on the port?)", cfg.port_spec);
	find_node(&run, &cfg);
	int rc = wpd_templates_build(&tpl, &cfg, run.client_id);
	if (rc < 0)
		wp_die("building request frames", strerror(-rc));
	run.tpl = &tpl;
	if (cfg.base.preload && !cfg.echo) {
		if (tpl.put == NULL) { /* all gets: build puts for the preload only */
			struct wp_config b = cfg.base;
			cfg.base.get_ratio = 0;
			wpd_templates_free(&tpl);
			rc = wpd_templates_build(&tpl, &cfg, run.client_id);
			cfg.base = b;
			if (rc < 0)
				wp_die("building request frames", strerror(-rc));
		}
		rc = wpd_preload(&run, &pre);
		if (rc < 0)
			wp_die("preload", strerror(-rc));
	}
	rc = wpd_measure(&run);
	if (rc < 0)
		wp_die("run", strerror(-rc));
	report(&cfg, &pre, &run);
	wpd_templates_free(&tpl);
	wp_zipf_free(&zipf);
	rte_eth_dev_stop(run.port);
	rte_eth_dev_close(run.port);
	/* No rte_eal_cleanup(): in DPDK 22.11 it unmaps memory (--no-huge) while
	 * the EAL interrupt thread may still poll a memif socket's interrupt
	 * handle in it, which segfaulted about one exit in five here. The
	 * process ends now and --no-shconf leaves no runtime files behind. */
	rc = run.n.answered == 0 ? 1 : 0;
	free(run.hist);
	return rc;
}
