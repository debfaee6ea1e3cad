/*
 * weftctl_msg.c — weftctl's messaging commands over libweft (weft.h
 * "Messaging"): publish, receive, dest-open, dest-stop and destinations
 * (printed by weftctl_dests.c), with their own option parser.
 *
 *   publish DEST BODY|- [--ttl MS] [--prop NAME=VALUE]... [--count N] [-v]
 *   receive DEST [--count N] [--timeout S] [--durable NAME] [--max K] [--nack]
 *   destinations [--all]
 *   dest-open DEST [--max-depth N] [--max-deliveries N] [--visibility MS]
 *             [--ttl MS] [--max-bytes N]
 *   dest-stop DEST
 *
 * Options before the command word keep weftctl's meaning (--timeout MS:
 * per attempt, default WEFT_DEFAULT_TIMEOUT_MS). After a messaging command
 * --timeout is in seconds and bounds the command, not one attempt:
 * publish retries one message that timed out or was refused for a
 * transient reason (BUSY, NOT_OWNER, FULL, NO_QUORUM) with backoff for at
 * most --timeout (default PUBLISH_TIMEOUT_S), so a publish can repeat a
 * message whose first attempt was applied (at least once); receive stops
 * after --count messages or --timeout (default: never), riding out
 * failovers meanwhile; the other commands bound their one call by it.
 *
 * Invariants: every wait is bounded (receive's by --timeout or by a signal:
 * SIGINT / SIGTERM end it after the RECEIVE under way, whose wait is at
 * most RECEIVE_SLICE_MS, and its consumer is closed); bodies are written
 * to stdout exactly, one per line;
 * a received message is acked (nacked with --nack) only after its line was
 * written.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weftctl_cli.h"
#include "weftctl_msg.h"

#define MAX_ARGS 8
#define MAX_PROPS 32
#define PUBLISH_TIMEOUT_S 30u
#define RECEIVE_SLICE_MS 1000u
#define RECEIVE_MAX_DEFAULT 16u
#define BACKOFF_MIN_MS 10u
#define BACKOFF_MAX_MS 1000u

struct mcli {
	const char *server;
	bool direct, verbose, nack, all, json;
	uint64_t timeout_ms; /* 0: the command's default */
	uint32_t attempt_ms; /* --timeout MS before the command; 0: default */
	bool has_ttl;
	uint64_t ttl_ms;
	struct weft_prop props[MAX_PROPS];
	size_t n_props;
	uint64_t count;      /* 0: not given */
	uint32_t max;
	const char *durable;
	struct weft_dest_opts_c dopts;
	const char *cmd;
	int argc;
	const char *argv[MAX_ARGS];
};

static const char *const commands[] = { "publish", "receive", "destinations", "dest-open",
					"dest-stop" };

/* Options that take a value, messaging and cache ones (to find the command
 * word whatever the command). */
static const char *const valued[] = { "-s", "--server", "--timeout", "--ttl", "--prop",
				      "--count", "--durable", "--max", "--max-depth",
				      "--max-deliveries", "--visibility", "--max-bytes",
				      "--max-idle", "--max-entries", "--mode" };

static volatile sig_atomic_t stop_requested;

void weftctl_msg_usage(FILE *f)
{
	fprintf(f,
		"messaging (DEST is /queue/NAME or /topic/NAME; options after the command):\n"
		"  publish DEST BODY|- [--ttl MS] [--prop NAME=VALUE]... [--count N] [-v]\n"
		"                                       BODY '-': each stdin line is one message;\n"
		"                                       --count N: N messages BODY-1..BODY-N;\n"
		"                                       prints \"published N\" (-v: each id too)\n"
		"  receive DEST [--count N] [--timeout S] [--durable NAME] [--max K] [--nack]\n"
		"                                       prints each body on its own line and acks\n"
		"                                       it (--nack: nacks it); stops after N\n"
		"                                       messages (exit 0) or S seconds (exit 1 if\n"
		"                                       fewer than N; 0 without --count)\n"
		"  destinations [--all]                 the node's destinations (--all: of every\n"
		"                                       member) with depth, in-flight, consumers,\n"
		"                                       delivered, redelivered, dead-lettered...\n"
		"  dest-open DEST [--max-depth N] [--max-deliveries N] [--visibility MS]\n"
		"            [--ttl MS] [--max-bytes N] look up or create a destination\n"
		"  dest-stop DEST                       stop it: its messages are dropped\n"
		"After a messaging command, --timeout S is in seconds and bounds the\n"
		"command (publish: how long one message is retried, default %u s; receive:\n"
		"default forever); before the command it stays --timeout MS per attempt.\n"
		"A publish retried after a timeout may be delivered twice.\n",
		PUBLISH_TIMEOUT_S);
}

const char *weftctl_msg_command(int argc, char **argv)
{
	return weftctl_find_command(argc, argv, valued, sizeof(valued) / sizeof(valued[0]),
				    commands, sizeof(commands) / sizeof(commands[0]));
}

static uint64_t parse_secs(const char *s, const char *what)
{
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(d > 0) || d > 1e9)
		weftctl_die_usage(what, s);
	return (uint64_t)(d * 1000.0 + 0.5);
}

static void add_prop(struct mcli *o, const char *a)
{
	const char *eq = strchr(a, '=');
	if (eq == NULL || eq == a)
		weftctl_die_usage("--prop takes NAME=VALUE", a);
	if (o->n_props == MAX_PROPS)
		weftctl_die_usage("too many --prop", a);
	size_t nl = (size_t)(eq - a);
	char *name = strndup(a, nl);
	if (name == NULL)
		weftctl_die_usage("out of memory", NULL);
	o->props[o->n_props++] = (struct weft_prop){ .name = name, .value = eq + 1,
						     .value_len = strlen(eq + 1) };
}

/* One option with its value v (NULL for flags); false when unknown. */
static bool option(struct mcli *o, const char *a, const char *v)
{
	if (strcmp(a, "-s") == 0 || strcmp(a, "--server") == 0)
		o->server = v;
	else if (strcmp(a, "--timeout") == 0 && o->cmd == NULL) {
		o->attempt_ms = (uint32_t)weftctl_parse_num(v, "bad --timeout (ms)", UINT32_MAX);
		if (o->attempt_ms == 0)
			weftctl_die_usage("bad --timeout (ms)", v);
	} else if (strcmp(a, "--timeout") == 0)
		o->timeout_ms = parse_secs(v, "bad --timeout (seconds)");
	else if (strcmp(a, "--ttl") == 0) {
		o->ttl_ms = strcmp(v, "none") == 0 ? WEFT_TTL_NONE
						   : weftctl_parse_num(v, "bad --ttl (ms)", UINT64_MAX - 1);
		o->has_ttl = true;
	} else if (strcmp(a, "--prop") == 0)
		add_prop(o, v);
	else if (strcmp(a, "--count") == 0)
		o->count = weftctl_parse_num(v, "bad --count", UINT32_MAX);
	else if (strcmp(a, "--durable") == 0)
		o->durable = v;
	else if (strcmp(a, "--max") == 0)
		o->max = (uint32_t)weftctl_parse_num(v, "bad --max (1..64)", WEFT_MAX_RECEIVE);
	else if (strcmp(a, "--max-depth") == 0)
		o->dopts.max_depth = (uint32_t)weftctl_parse_num(v, "bad --max-depth", UINT32_MAX);
	else if (strcmp(a, "--max-deliveries") == 0)
		o->dopts.max_deliveries = (uint32_t)weftctl_parse_num(v, "bad --max-deliveries", UINT32_MAX);
	else if (strcmp(a, "--visibility") == 0)
		o->dopts.visibility_ms = (uint32_t)weftctl_parse_num(v, "bad --visibility (ms)", UINT32_MAX);
	else if (strcmp(a, "--max-bytes") == 0)
		o->dopts.max_bytes = weftctl_parse_num(v, "bad --max-bytes", UINT64_MAX);
	else
		return false;
	return true;
}

static void parse(int argc, char **argv, struct mcli *o)
{
	bool opts_done = false;
	o->server = getenv("WEFT_SERVER") ? getenv("WEFT_SERVER") : "127.0.0.1";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts_done || weftctl_positional(a)) {
			if (o->cmd == NULL)
				o->cmd = a;
			else if (o->argc < MAX_ARGS)
				o->argv[o->argc++] = a;
			else
				weftctl_die_usage("too many arguments", NULL);
		} else if (strcmp(a, "--") == 0) {
			opts_done = true;
		} else if (strcmp(a, "--direct") == 0) {
			o->direct = true;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			o->verbose = true;
		} else if (strcmp(a, "--nack") == 0) {
			o->nack = true;
		} else if (strcmp(a, "--all") == 0) {
			o->all = true;
		} else if (!weftctl_in(a, valued, sizeof(valued) / sizeof(valued[0])) || i + 1 >= argc ||
			   !option(o, a, argv[i + 1])) {
			weftctl_die_usage(i + 1 >= argc ? "option needs a value (or is unknown)"
						: "unknown option for this command",
				  a);
		} else {
			i++;
		}
	}
	if (o->has_ttl && o->dopts.default_ttl_ms == 0)
		o->dopts.default_ttl_ms = o->ttl_ms;
}

static void need_args(const struct mcli *o, int min, int max)
{
	if (o->argc < min || o->argc > max)
		weftctl_die_usage("wrong number of arguments for", o->cmd);
}

static int report(const struct mcli *o, weft_client *c, int rc)
{
	if (rc == 0)
		return 0;
	return weftctl_fail(o->server, o->cmd, c, rc);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000u),
			       .tv_nsec = (long)(ms % 1000u) * 1000000L };
	nanosleep(&ts, NULL); /* a signal cuts it short: the caller re-checks */
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Transient failures: publish retries them, receive rides them out (GONE:
 * a RECEIVE's answer was lost twice; its messages come back). */
static bool retryable(int rc)
{
	return rc == -WEFT_ST_TIMEOUT || rc == -WEFT_ST_BUSY || rc == -WEFT_ST_NOT_OWNER ||
	       rc == -WEFT_ST_FULL || rc == -WEFT_ST_NO_QUORUM || rc == -WEFT_ST_GONE;
}

/* Publishes one body, retrying transient failures for up to retry_ms. */
static int publish_one(const struct mcli *o, weft_client *c, const void *body, size_t len,
		       uint64_t retry_ms)
{
	struct weft_publish_opts po = { .ttl_ms = o->ttl_ms, .props = o->props,
					.n_props = o->n_props };
	uint64_t end = now_ms() + retry_ms, backoff = BACKOFF_MIN_MS, id = 0;
	for (;;) {
		int rc = weft_publish(c, o->argv[0], body, len, &po, &id, NULL);
		if (rc == 0 && o->verbose)
			printf("%" PRIu64 "\n", id);
		uint64_t now = now_ms();
		if (rc == 0 || !retryable(rc) || now + backoff >= end || stop_requested)
			return rc;
		sleep_ms(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
}

static int cmd_publish(const struct mcli *o, weft_client *c)
{
	need_args(o, 2, 2);
	const char *body = o->argv[1];
	bool from_stdin = strcmp(body, "-") == 0;
	uint64_t retry_ms = o->timeout_ms ? o->timeout_ms : PUBLISH_TIMEOUT_S * 1000u;
	uint64_t done = 0;
	int rc = 0;

	if (from_stdin && o->count)
		weftctl_die_usage("publish: --count needs a BODY, not '-'", NULL);
	if (from_stdin) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while (rc == 0 && !stop_requested && (n = getline(&line, &cap, stdin)) >= 0) {
			if (n > 0 && line[n - 1] == '\n')
				n--;
			rc = publish_one(o, c, line, (size_t)n, retry_ms);
			done += rc == 0;
		}
		free(line);
	} else if (o->count) {
		size_t blen = strlen(body);
		char *buf = malloc(blen + 24);
		if (buf == NULL)
			weftctl_die_usage("out of memory", NULL);
		for (uint64_t i = 1; i <= o->count && rc == 0 && !stop_requested; i++) {
			int n = snprintf(buf, blen + 24, "%s-%" PRIu64, body, i);
			rc = publish_one(o, c, buf, (size_t)n, retry_ms);
			done += rc == 0;
		}
		free(buf);
	} else {
		rc = publish_one(o, c, body, strlen(body), retry_ms);
		done += rc == 0;
	}
	printf("published %" PRIu64 "\n", done);
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, "weftctl: publish: writing stdout: %s\n", strerror(errno));
		return 2;
	}
	if (rc == 0 && stop_requested)
		return 2;
	return report(o, c, rc);
}

/* Writes a batch's bodies, one per line, then acks (or nacks) them. */
static int consume_batch(const struct mcli *o, weft_consumer *k, const struct weft_message *msgs,
			 size_t n)
{
	uint64_t ids[WEFT_MAX_RECEIVE];
	for (size_t i = 0; i < n; i++) {
		if ((msgs[i].body_len && fwrite(msgs[i].body, 1, msgs[i].body_len, stdout) !=
						  msgs[i].body_len) ||
		    putchar('\n') == EOF)
			return -1;
		ids[i] = msgs[i].id;
	}
	if (fflush(stdout) != 0)
		return -1;
	/* A lost ack only brings the messages back (at least once). */
	int rc = o->nack ? weft_nack(k, ids, n, NULL) : weft_ack(k, ids, n, NULL);
	if (rc < 0 && !retryable(rc))
		fprintf(stderr, "weftctl: receive: %s: %s: %s\n", o->nack ? "nack" : "ack",
			weft_status_name(rc), weft_strerror(rc));
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int cmd_receive(const struct mcli *o, weft_client *c)
{
	need_args(o, 1, 1);
	weft_consumer *k = weft_consumer_open(c, o->argv[0], o->durable);
	if (k == NULL) {
		fprintf(stderr, "weftctl: receive: bad destination or durable name: %s\n",
			strerror(errno));
		return 2;
	}
	uint64_t end = o->timeout_ms ? now_ms() + o->timeout_ms : UINT64_MAX;
	uint64_t got = 0, backoff = BACKOFF_MIN_MS;
	uint32_t kmax = o->max ? o->max : RECEIVE_MAX_DEFAULT;
	struct weft_message msgs[WEFT_MAX_RECEIVE];
	int rc = 0;

	while ((o->count == 0 || got < o->count) && !stop_requested) {
		uint64_t now = now_ms();
		if (now >= end)
			break;
		uint64_t left = end - now;
		uint32_t max = kmax;
		if (o->count && o->count - got < max)
			max = (uint32_t)(o->count - got);
		struct weft_receive_opts ro = {
			.max = max,
			.wait_ms = left < RECEIVE_SLICE_MS ? (uint32_t)left : RECEIVE_SLICE_MS,
		};
		size_t n = 0;
		void *block = NULL;
		uint32_t dropped = 0;
		rc = weft_receive(k, &ro, msgs, &n, &block, &dropped);
		if (retryable(rc)) { /* failing over: ride it out until --timeout */
			rc = 0;
			now = now_ms();
			left = now < end ? end - now : 0;
			sleep_ms(backoff < left ? backoff : left);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		if (rc < 0)
			break;
		backoff = BACKOFF_MIN_MS;
		if (dropped)
			fprintf(stderr, "weftctl: receive: %" PRIu32 " messages dropped (fell behind)\n",
				dropped);
		int w = consume_batch(o, k, msgs, n);
		free(block);
		if (w < 0) {
			fprintf(stderr, "weftctl: receive: writing stdout: %s\n", strerror(errno));
			weft_consumer_close(k, false);
			return 2;
		}
		got += n;
	}
	weft_consumer_close(k, false);
	if (rc < 0)
		return report(o, c, rc);
	return o->count && got < o->count ? 1 : 0;
}

static int run(const struct mcli *o, weft_client *c)
{
	if (strcmp(o->cmd, "publish") == 0)
		return cmd_publish(o, c);
	if (strcmp(o->cmd, "receive") == 0)
		return cmd_receive(o, c);
	if (strcmp(o->cmd, "destinations") == 0) {
		need_args(o, 0, 0);
		return weftctl_print_destinations(c, o->server, o->all, o->json);
	}
	if (strcmp(o->cmd, "dest-open") == 0) {
		need_args(o, 1, 1);
		return report(o, c, weft_dest_open(c, o->argv[0], &o->dopts));
	}
	need_args(o, 1, 1);
	return report(o, c, weft_dest_stop(c, o->argv[0]));
}

int weftctl_msg_main(int argc, char **argv, bool json)
{
	struct mcli o = { .json = json };
	parse(argc, argv, &o);
	if (json && strcmp(o.cmd, "destinations") != 0)
		weftctl_die_usage("--json is for listings, not", o.cmd);
	bool long_running = strcmp(o.cmd, "publish") == 0 || strcmp(o.cmd, "receive") == 0;

	struct weft_client_opts co;
	weft_client_opts_init(&co);
	if (o.attempt_ms)
		co.timeout_ms = o.attempt_ms;
	if (!long_running && o.timeout_ms)
		co.deadline_ms = o.timeout_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)o.timeout_ms;
	weft_client *c = weft_client_connect(o.server, &co);
	if (c == NULL)
		return weftctl_connect_failed(o.server);
	weft_client_set_routing(c, !o.direct);
	if (long_running) {
		struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	int rc = run(&o, c);
	weft_client_close(c);
	for (size_t i = 0; i < o.n_props; i++)
		free((void *)o.props[i].name);
	return rc;
}
