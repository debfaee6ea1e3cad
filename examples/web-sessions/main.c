/*
 * main.c — web-sessions, the replicated-sessions web example: a small HTTP
 * server keeping a per-visitor session (a visit counter and a note, see
 * pages.c) in a weft session store through a cookie, so that any instance
 * behind a load balancer with no stickiness serves any visitor, and a
 * visitor's session outlives the loss of a weft node or of an instance.
 *
 *   web-sessions --listen ADDR:PORT (--node IP[:PORT][,IP[:PORT]...] |
 *                --redis HOST:PORT) [--store NAME] [--timeout S]
 *                [--name INSTANCE] [--threads N]
 *
 * --node: the weft node this instance talks to first, and optionally more
 * to try when it does not answer (its libweft clients then follow the
 * cluster's topology and learn the other members: store_weft.c); --redis:
 * a redis server instead (store_redis.c, the performance baseline).
 *
 * Why GNU libmicrohttpd (Debian libmicrohttpd-dev): a small, well-kept
 * GNU library that embeds an HTTP/1.1 server in a C program, with its own
 * pool of worker threads each running an epoll loop, and nothing else: no
 * framework, no code generation, no event-loop library to adopt. The app
 * hands it one access handler and gets keep-alive, chunked bodies,
 * pipelining, cookies and connection limits done right. Each worker
 * thread blocks in the store while it serves a request, so --threads
 * bounds the requests in flight (store.c keeps one store connection per
 * worker).
 *
 * Lifecycle: SIGINT / SIGTERM stop the server (MHD_stop_daemon joins the
 * workers, whose connections close as they exit). A store that is down at
 * start is not fatal: the server starts and each request retries
 * (store.c); one that refuses the requests (a bad store name, a redis in
 * protected mode) is. Bad arguments exit with status 2, a failure to
 * serve with 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/weft.h>

#include "web.h"

#define DEFAULT_THREADS 8u
#define MAX_THREADS 256u

static void usage(FILE *f)
{
	fprintf(f,
		"usage: web-sessions --listen ADDR:PORT (--node IP[:PORT][,...] | --redis HOST:PORT)\n"
		"                    [--store NAME] [--timeout S] [--name INSTANCE] [--threads N]\n"
		"  --listen ADDR:PORT  IPv4 address and port to serve HTTP on\n"
		"  --node IP[:PORT]    the weft node to keep sessions in (port default %u); more\n"
		"                      nodes after commas are tried when it does not answer\n"
		"  --redis HOST:PORT   keep sessions in redis instead (hash weft-web:<id>)\n"
		"  --store NAME        weft session store (default %s; NAME alone means\n"
		"                      %s<NAME>)\n"
		"  --timeout S         session max inactive time in seconds (default %u)\n"
		"  --name INSTANCE     this instance's name in X-Instance (default ADDR:PORT)\n"
		"  --threads N         HTTP worker threads (default %u, at most %u)\n",
		WEFT_DEFAULT_PORT, WEFT_SESSION_STORE, WEFT_SESSION_STORE_PREFIX,
		WEFT_SESSION_DEFAULT_MAX_INACTIVE_S, DEFAULT_THREADS, MAX_THREADS);
}

static int bad(const char *what, const char *arg)
{
	fprintf(stderr, "web-sessions: bad %s: %s\n", what, arg);
	usage(stderr);
	return 2;
}

static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_listen(const char *s, struct sockaddr_in *sa)
{
	const char *colon = strrchr(s, ':');
	char ip[INET_ADDRSTRLEN];
	unsigned long port;
	if (colon == NULL || (size_t)(colon - s) >= sizeof(ip) ||
	    !parse_uint(colon + 1, 1, 65535, &port))
		return false;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1;
}

static bool instance_ok(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return n >= 1 && n <= WEB_INSTANCE_MAX;
}

struct args {
	const char *listen, *node, *redis, *store, *name;
	unsigned long timeout_s, threads;
};

static int parse_args(int argc, char **argv, struct args *a, struct sockaddr_in *sa,
		      char *store, size_t store_cap)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "node", required_argument, NULL, 'n' },
		{ "redis", required_argument, NULL, 'r' },
		{ "store", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'N' },
		{ "threads", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	*a = (struct args){ .store = WEFT_SESSION_STORE,
			    .timeout_s = WEFT_SESSION_DEFAULT_MAX_INACTIVE_S,
			    .threads = DEFAULT_THREADS };
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': a->listen = optarg; break;
		case 'n': a->node = optarg; break;
		case 'r': a->redis = optarg; break;
		case 's': a->store = optarg; break;
		case 'N': a->name = optarg; break;
		case 't':
			if (!parse_uint(optarg, 1, WEFT_SESSION_MAX_MAX_INACTIVE_S, &a->timeout_s))
				return bad("--timeout (1..2592000 s)", optarg);
			break;
		case 'T':
			if (!parse_uint(optarg, 1, MAX_THREADS, &a->threads))
				return bad("--threads (1..256)", optarg);
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc)
		return bad("argument", argv[optind]);
	if (a->listen == NULL || !parse_listen(a->listen, sa))
		return bad("or missing --listen (ADDR:PORT)", a->listen ? a->listen : "-");
	if ((a->node == NULL) == (a->redis == NULL))
		return bad("store", "give exactly one of --node and --redis");
	if (a->name == NULL)
		a->name = a->listen;
	if (!instance_ok(a->name))
		return bad("--name (1..64 printable ASCII characters)", a->name);
	/* "x" means "weft.sessions.x"; a full store name is taken as it is. */
	int n = strncmp(a->store, WEFT_SESSION_STORE, sizeof(WEFT_SESSION_STORE) - 1) == 0
			? snprintf(store, store_cap, "%s", a->store)
			: snprintf(store, store_cap, "%s%s", WEFT_SESSION_STORE_PREFIX, a->store);
	bool chars_ok = n > 0 && (size_t)n < store_cap;
	for (int i = 0; chars_ok && i < n; i++)
		chars_ok = (store[i] >= 'a' && store[i] <= 'z') || (store[i] >= 'A' && store[i] <= 'Z') ||
			   (store[i] >= '0' && store[i] <= '9') || store[i] == '.' || store[i] == '_' ||
			   store[i] == '-';
	if (!chars_ok || !weft_wire_is_session_store(store, (size_t)n))
		return bad("--store (weft.sessions[.NAME], NAME of letters, digits, . _ -)",
			   a->store);
	/* --node's addresses, checked now (nothing is sent). */
	for (const char *p = a->node; p != NULL && *p != '\0';) {
		char one[32];
		size_t len = strcspn(p, ",");
		if (len == 0 || len >= sizeof(one))
			return bad("--node (IPv4[:PORT][,IPv4[:PORT]...])", a->node);
		memcpy(one, p, len);
		one[len] = '\0';
		weft_client *probe = weft_client_connect(one, NULL);
		if (probe == NULL)
			return bad("--node (IPv4[:PORT][,IPv4[:PORT]...])", a->node);
		weft_client_close(probe);
		p += len + (p[len] == ',');
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	struct sockaddr_in sa;
	char store_name[WEFT_SESSION_STORE_MAX_LEN + 1];
	int rc = parse_args(argc, argv, &a, &sa, store_name, sizeof(store_name));
	if (rc != 0)
		return rc;
	struct web_store st = {
		.ops = a.node != NULL ? &web_store_weft_ops : &web_store_redis_ops,
		.addr = a.node != NULL ? a.node : a.redis,
		.name = store_name,
		.timeout_s = (uint32_t)a.timeout_s,
	};
	if ((rc = web_store_init(&st)) != 0) {
		fprintf(stderr, "web-sessions: store: %s\n", strerror(-rc));
		return 1;
	}
	/* Unreachable (or full) now is no reason not to serve: requests retry.
	 * Any other refusal is a configuration to fix (store name, redis
	 * protected mode, ...): the diagnostic is on stderr already. */
	rc = web_store_probe(&st);
	if (rc == -EAGAIN || rc == -ENOMEM) {
		fprintf(stderr, "web-sessions: %s store at %s %s: serving anyway, requests "
				"retry\n",
			st.ops->kind, st.addr, rc == -EAGAIN ? "not reachable yet" : "full");
	} else if (rc != 0) {
		fprintf(stderr, "web-sessions: %s store at %s refuses this instance's requests "
				"(%s): see above\n",
			st.ops->kind, st.addr, strerror(-rc));
		web_store_fini(&st);
		return 1;
	}

	/* The workers inherit this mask: only sigwait below takes them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct web_app app = { .store = &st, .instance = a.name };
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
		ntohs(sa.sin_port), NULL, NULL, web_handle, &app,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)a.threads,
		MHD_OPTION_CONNECTION_TIMEOUT, 30u,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
		MHD_OPTION_NOTIFY_COMPLETED, web_request_done, NULL,
		MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "web-sessions: cannot serve on %s (address in use or not "
				"local?)\n",
			a.listen);
		web_store_fini(&st);
		return 1;
	}
	if (a.node != NULL)
		printf("web-sessions: %s serving http://%s/ (%lu threads), sessions in weft "
		       "store %s via node %s, timeout %lu s\n",
		       a.name, a.listen, a.threads, store_name, a.node, a.timeout_s);
	else
		printf("web-sessions: %s serving http://%s/ (%lu threads), sessions in redis "
		       "%s, timeout %lu s\n",
		       a.name, a.listen, a.threads, a.redis, a.timeout_s);
	fflush(stdout);

	int sig = 0;
	sigwait(&stop, &sig);
	printf("web-sessions: %s stopping (signal %d)\n", a.name, sig);
	fflush(stdout);
	MHD_stop_daemon(d);
	web_store_fini(&st);
	return 0;
}
