/*
 * weft_perf_msg_args.c — the command line of weft-perf --msg and of
 * redis_msg_bench: one parser, so both programs take the same workload
 * options and mean the same by them.
 *
 * Invariants: pure (no I/O, no exit): a bad option gives -EINVAL and a
 * message; a config that parses is complete and within every bound the
 * run relies on (counts fit the arrays, a body holds its stamp, a name is
 * a valid destination name).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/wire.h>

#include "weft_perf_msg_internal.h"

static const char usage_weft[] =
	"usage: weft-perf --msg queue|topic --nodes IP[:PORT][,IP[:PORT]...] [options]\n"
	"  --subs N          consumers (queue) or subscribers (topic), threads, spread over\n"
	"                    the nodes round-robin (default 1, max 256)\n"
	"  --publishers P    publisher threads, spread the same way (default 1, max 64)\n"
	"  --size B          message body bytes, >= 24 (default 64)\n"
	"  --duration S      seconds of publishing (default 5)\n"
	"  --rate R          publishes/s over all publishers; 0 = as fast as acks come (default 0)\n"
	"  --dest NAME       /queue/NAME or /topic/NAME (default /queue|topic/wperf-<pid>)\n"
	"  --batch N         messages per RECEIVE, 1..64 (default 64)\n"
	"  --timeout-ms MS   libweft per-attempt timeout (default 500)\n"
	"  --drain-ms MS     receivers' bound after the last publish (default 2000)\n"
	"  --server IP[:PORT]  the same as --nodes with one node\n";

static const char usage_redis[] =
	"usage: redis_msg_bench --msg queue|topic --server IP[:PORT] [options]\n"
	"  --subs N          consumers (queue) or subscribers (topic), one connection each\n"
	"                    (default 1, max 256)\n"
	"  --publishers P    publisher connections (default 1, max 64)\n"
	"  --size B          message body bytes, >= 24 (default 64)\n"
	"  --duration S      seconds of publishing (default 5)\n"
	"  --rate R          publishes/s over all publishers; 0 = as fast as replies come\n"
	"  --dest NAME       /queue/NAME or /topic/NAME, the redis key or channel\n"
	"  --queue-cmd blmove|brpop  queue consumption: BLMOVE to a processing list and\n"
	"                    LREM as the ack (default), or BRPOP\n"
	"  --drain-ms MS     receivers' bound after the last publish (default 2000)\n";

const char *wp_msg_usage(enum wp_msg_prog prog)
{
	return prog == WP_MSG_PROG_REDIS ? usage_redis : usage_weft;
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (n)
		vsnprintf(err, n, fmt, ap);
	va_end(ap);
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

int wp_msg_parse_addr(const char *s, struct wp_msg_addr *a)
{
	const char *colon = strchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : strlen(s);
	uint64_t port = 0;
	struct in_addr ip;

	if (hl == 0 || hl >= sizeof(a->host))
		return -EINVAL;
	if (colon && !num(colon + 1, 1, 65535, &port))
		return -EINVAL;
	memcpy(a->host, s, hl);
	a->host[hl] = '\0';
	if (inet_pton(AF_INET, a->host, &ip) != 1)
		return -EINVAL;
	a->port = (uint16_t)port;
	return 0;
}

/* "A,B,C" into c->node[]. */
static int parse_nodes(const char *s, struct wp_msg_config *c, char *err, size_t n)
{
	char item[64];
	c->n_nodes = 0;
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t l = comma ? (size_t)(comma - s) : strlen(s);
		if (l == 0 || l >= sizeof(item))
			return fail(err, n, "bad address in --nodes: '%.*s'", (int)l, s);
		if (c->n_nodes == WP_MSG_MAX_NODES)
			return fail(err, n, "--nodes: at most %u addresses", WP_MSG_MAX_NODES);
		memcpy(item, s, l);
		item[l] = '\0';
		if (wp_msg_parse_addr(item, &c->node[c->n_nodes]) < 0)
			return fail(err, n, "bad address (IPv4[:PORT] expected): '%s'", item);
		c->n_nodes++;
		s += l;
		if (*s == ',' && *++s == '\0')
			return fail(err, n, "--nodes ends with a comma");
	}
	if (c->n_nodes == 0)
		return fail(err, n, "--nodes needs at least one address");
	return 0;
}

/* A destination name of kind k: "/queue/NAME" or "/topic/NAME", NAME 1..57
 * printable ASCII bytes without spaces (wire.h). */
static bool dest_ok(const char *d, enum wp_msg_kind k)
{
	const char *prefix = k == WP_MSG_QUEUE ? "/queue/" : "/topic/";
	size_t len = strlen(d);
	if (len <= 7 || len > WP_MSG_DEST_MAX || strncmp(d, prefix, 7) != 0)
		return false;
	for (size_t i = 7; i < len; i++)
		if (d[i] <= ' ' || d[i] > '~')
			return false;
	return true;
}

int wp_msg_parse(int argc, char **argv, enum wp_msg_prog prog, struct wp_msg_config *c,
		 char *err, size_t err_len)
{
	enum { O_MSG = 256, O_NODES, O_SERVER, O_SUBS, O_PUBS, O_SIZE, O_DURATION, O_RATE,
	       O_DEST, O_BATCH, O_TIMEOUT, O_DRAIN, O_QCMD };
	static const struct option longopts[] = {
		{ "msg", 1, NULL, O_MSG }, { "nodes", 1, NULL, O_NODES },
		{ "server", 1, NULL, O_SERVER }, { "subs", 1, NULL, O_SUBS },
		{ "publishers", 1, NULL, O_PUBS }, { "size", 1, NULL, O_SIZE },
		{ "duration", 1, NULL, O_DURATION }, { "rate", 1, NULL, O_RATE },
		{ "dest", 1, NULL, O_DEST }, { "batch", 1, NULL, O_BATCH },
		{ "timeout-ms", 1, NULL, O_TIMEOUT }, { "drain-ms", 1, NULL, O_DRAIN },
		{ "queue-cmd", 1, NULL, O_QCMD }, { "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dest = NULL, *kind = NULL;
	uint64_t v;
	char *end;
	int o, rc;

	*c = (struct wp_msg_config){ .prog = prog, .subs = 1, .publishers = 1, .size = 64,
				     .duration_s = 5, .batch = WP_MSG_MAX_BATCH,
				     .timeout_ms = 500, .drain_ms = 2000,
				     .redis_queue = WP_MSG_RQ_BLMOVE };
	optind = 0; /* GNU: full reinitialisation */
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (o) {
		case O_MSG: kind = optarg; break; /* checked after --help had its chance */
		case O_NODES:
		case O_SERVER:
			if (c->n_nodes)
				return fail(err, err_len, "give --nodes or --server once");
			if ((rc = parse_nodes(optarg, c, err, err_len)) < 0)
				return rc;
			if (o == O_SERVER && c->n_nodes != 1)
				return fail(err, err_len, "--server takes one address");
			if (prog == WP_MSG_PROG_REDIS && c->n_nodes != 1)
				return fail(err, err_len, "redis: one server");
			break;
		case O_SUBS:
			if (!num(optarg, 1, WP_MSG_MAX_SUBS, &v))
				return fail(err, err_len, "--subs must be 1..%u", WP_MSG_MAX_SUBS);
			c->subs = (unsigned)v;
			break;
		case O_PUBS:
			if (!num(optarg, 1, WP_MSG_MAX_PUBLISHERS, &v))
				return fail(err, err_len, "--publishers must be 1..%u",
					    WP_MSG_MAX_PUBLISHERS);
			c->publishers = (unsigned)v;
			break;
		case O_SIZE:
			if (!num(optarg, WP_MSG_STAMP_LEN, WEFT_MAX_BODY_LEN, &v))
				return fail(err, err_len, "--size must be %u..%u bytes",
					    WP_MSG_STAMP_LEN, (unsigned)WEFT_MAX_BODY_LEN);
			c->size = (uint32_t)v;
			break;
		case O_DURATION:
			errno = 0;
			c->duration_s = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(c->duration_s > 0) ||
			    c->duration_s > 3600)
				return fail(err, err_len, "--duration must be in (0, 3600] s");
			break;
		case O_RATE:
			if (!num(optarg, 0, 100000000, &v))
				return fail(err, err_len, "--rate must be 0..100000000");
			c->rate = v;
			break;
		case O_DEST: dest = optarg; break;
		case O_BATCH:
			if (prog != WP_MSG_PROG_WEFT)
				return fail(err, err_len, "--batch is weft-perf's");
			if (!num(optarg, 1, WP_MSG_MAX_BATCH, &v))
				return fail(err, err_len, "--batch must be 1..%u", WP_MSG_MAX_BATCH);
			c->batch = (unsigned)v;
			break;
		case O_TIMEOUT:
			if (prog != WP_MSG_PROG_WEFT)
				return fail(err, err_len, "--timeout-ms is weft-perf's");
			if (!num(optarg, 1, 60000, &v))
				return fail(err, err_len, "--timeout-ms must be 1..60000");
			c->timeout_ms = (uint32_t)v;
			break;
		case O_DRAIN:
			if (!num(optarg, 0, 60000, &v))
				return fail(err, err_len, "--drain-ms must be 0..60000");
			c->drain_ms = (uint32_t)v;
			break;
		case O_QCMD:
			if (prog != WP_MSG_PROG_REDIS)
				return fail(err, err_len, "--queue-cmd is redis_msg_bench's");
			if (strcmp(optarg, "blmove") == 0)
				c->redis_queue = WP_MSG_RQ_BLMOVE;
			else if (strcmp(optarg, "brpop") == 0)
				c->redis_queue = WP_MSG_RQ_BRPOP;
			else
				return fail(err, err_len, "--queue-cmd is blmove or brpop");
			break;
		case 'h': return 1;
		case ':':
			return fail(err, err_len, "%s needs a value", argv[optind - 1]);
		default:
			return fail(err, err_len, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return fail(err, err_len, "unexpected argument '%s'", argv[optind]);
	if (kind == NULL)
		return fail(err, err_len, "--msg queue|topic is required");
	if (strcmp(kind, "queue") == 0)
		c->kind = WP_MSG_QUEUE;
	else if (strcmp(kind, "topic") == 0)
		c->kind = WP_MSG_TOPIC;
	else
		return fail(err, err_len, "--msg is queue or topic, not '%s'", kind);
	if (c->n_nodes == 0)
		return fail(err, err_len, "--nodes (or --server) is required");
	if (dest) {
		if (!dest_ok(dest, c->kind))
			return fail(err, err_len, "--dest must be %s NAME (1..57 printable bytes, no spaces): '%s'",
				    c->kind == WP_MSG_QUEUE ? "/queue/" : "/topic/", dest);
		strcpy(c->dest, dest);
	}
	return 0;
}

void wp_msg_default_dest(struct wp_msg_config *c, unsigned long tag)
{
	if (c->dest[0] == '\0')
		snprintf(c->dest, sizeof(c->dest), "/%s/wperf-%lu",
			 c->kind == WP_MSG_QUEUE ? "queue" : "topic", tag);
}

const char *wp_msg_variant(const struct wp_msg_config *c)
{
	if (c->prog == WP_MSG_PROG_WEFT)
		return c->kind == WP_MSG_QUEUE ? "ack" : "sub";
	if (c->kind == WP_MSG_TOPIC)
		return "pubsub";
	return c->redis_queue == WP_MSG_RQ_BRPOP ? "brpop" : "blmove";
}
