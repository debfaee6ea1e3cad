/*
 * weftctl — the operator's CLI for a weft node's caches and destinations,
 * over libweft.
 *
 *   weftctl [-s IP[:PORT]] [--timeout MS] [--direct] [--key-file FILE] COMMAND ARGS...
 *   weftctl keygen FILE
 *   weftctl new-app NAME [DIR]
 * (see usage()). --key-file (or $WEFT_CLIENT_KEY_FILE) authenticates every
 * request with a client key (docs/client.md). --json (anywhere before "--")
 * makes every listing print one JSON document instead of a table
 * (weftctl_json.h; field names in docs/client.md).
 *
 * The messaging commands (publish, receive, destinations, dest-open,
 * dest-stop) have their own options and are run by weftctl_msg.c; the app
 * commands (deploy, undeploy, apps, daemons, jobs) by weftctl_apps.c; the
 * session commands (sessions, session, session-*, lb-config) by
 * weftctl_sessions.c.
 *
 * The -s node is the seed of libweft's topology-aware routing: keyed
 * commands go to the key's owner in the cluster; --direct sends every
 * request to the -s node itself (which forwards what it does not own).
 *
 * Exit status (weftctl_cli.h): 0 success; 1 NOT_FOUND, EXISTS or
 * VERSION_MISMATCH (the "no" answers of reads, deletes and conditional
 * writes); 2 a refusal or any other error; 3 no answer from the node; 4
 * rebalance --wait ran out of time; the reason on stderr in weftctl_fail's
 * form, "weftctl: NODE: CMD: ...". `get` writes the value's
 * bytes, exactly, to stdout; a VALUE of "-" is read from stdin, binary-safe.
 * Options may appear anywhere; "--" ends them (for a negative incr delta,
 * "-5" is also taken as an argument).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/weft.h>

#include "weftctl_apps.h"
#include "weftctl_cli.h"
#include "weftctl_json.h"
#include "weftctl_msg.h"
#include "weftctl_new_app.h"
#include "weftctl_print.h"
#include "weftctl_sessions.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "unknown"
#endif

#define MAX_ARGS 80
#define REBALANCE_WAIT_S 300u

struct cli {
	const char *server;
	uint32_t timeout_ms;
	bool show_version;
	bool direct;
	bool json;       /* --json */
	bool wait;       /* rebalance --wait */
	uint64_t wait_ms; /* rebalance --timeout S (after the command word) */
	uint32_t mode; /* enum weft_cache_mode_wire, for open */
	bool has_ttl, has_idle;
	uint64_t ttl_ms, idle_ms, max_bytes, max_entries;
	const char *cmd;
	int argc; /* arguments after the command */
	const char *argv[MAX_ARGS];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weftctl [-s IP[:PORT]] [--timeout MS] [--direct] COMMAND [ARGS] [OPTIONS]\n"
		"\n"
		"commands:\n"
		"  ping                                 round trip to the node\n"
		"  stats                                print the node's statistics\n"
		"  caches                               the node's caches: mode, entries, bytes\n"
		"                                       (--json: every counter)\n"
		"  members                              the node's cluster view: view id, coordinator,\n"
		"                                       every member's name, address, state, uptime\n"
		"  status                               the view, rebalancing progress, caches\n"
		"                                       (mode, entries) and cluster counters\n"
		"  topology [CACHE]                     the segment table: epoch, members with their\n"
		"                                       primary/backup counts, segment -> owners\n"
		"                                       (one table serves every cache)\n"
		"  rebalance [--wait [--timeout S]]     the node's rebalancing progress (segment\n"
		"                                       moves it still sends); --wait: until it\n"
		"                                       is done, at most S s (default %u): a\n"
		"                                       progress bar on a terminal, else a line\n"
		"                                       per change\n"
		"  open CACHE [--max-bytes B] [--max-entries N] [--ttl S] [--max-idle S]\n"
		"       [--mode local|distributed|replicated|invalidated]\n"
		"                                       look up or create a cache (mode: the\n"
		"                                       node's default when not given)\n"
		"  get CACHE KEY [-v]                   value bytes to stdout (-v: version to stderr)\n"
		"  mget CACHE KEY...                    \"KEY LEN VERSION\\n<bytes>\\n\" or \"KEY NOT_FOUND\\n\" each\n"
		"  put CACHE KEY VALUE [--ttl S] [--max-idle S] [-v]\n"
		"  put-if-absent CACHE KEY VALUE [--ttl S] [--max-idle S] [-v]\n"
		"  replace CACHE KEY VALUE [--ttl S] [--max-idle S] [-v]\n"
		"  cas CACHE KEY VERSION VALUE [--ttl S] [--max-idle S] [-v]\n"
		"  del CACHE KEY\n"
		"  incr CACHE KEY [N] [--ttl S]         add N (default 1), print the new value\n"
		"  touch CACHE KEY --ttl S [--max-idle S] [-v]\n"
		"  keygen FILE                          write a new random key (mode 0600; never\n"
		"                                       overwrites) for --client-key/--cluster-key\n"
		"  new-app NAME [DIR]                   scaffold an app folder (default ./NAME):\n"
		"                                       init file, meson.build on weft.pc, README\n"
		"\n", REBALANCE_WAIT_S);
	weftctl_msg_usage(f);
	weftctl_apps_usage(f);
	weftctl_sessions_usage(f);
	fprintf(f,
		"\n"
		"VALUE '-' reads the value from stdin (binary-safe, up to 1 MiB).\n"
		"S is seconds (decimals allowed, 'none' = never expires, 0 = cache default).\n"
		"options: -s IP[:PORT] (default $WEFT_SERVER or 127.0.0.1:%u), --timeout MS per\n"
		"attempt (default %u), --direct (send every request to the -s node instead of\n"
		"the key's owner), --key-file FILE (client key: default $WEFT_CLIENT_KEY_FILE),\n"
		"--json (listings: members, status, caches, stats, topology, rebalance,\n"
		"destinations, apps, daemons, jobs, sessions: one JSON document),\n"
		"-v/--version, -h/--help.\n"
		"exit: 0 ok, 1 NOT_FOUND/EXISTS/VERSION_MISMATCH, 2 refused or other errors,\n"
		"3 no answer from the node, 4 rebalance --wait timed out.\n",
		WEFT_DEFAULT_PORT, WEFT_DEFAULT_TIMEOUT_MS);
}


static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	uint64_t mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1ull << 10;
	else if (*end == 'm' || *end == 'M')
		mul = 1ull << 20;
	else if (*end == 'g' || *end == 'G')
		mul = 1ull << 30;
	if (mul != 1)
		end++;
	if (errno || end == s || *end != '\0' || s[0] == '-' || v > UINT64_MAX / mul)
		weftctl_die_usage(what, s);
	return (uint64_t)v * mul;
}

/* Seconds (may be fractional, or "none") → milliseconds. */
static uint64_t parse_seconds(const char *s, const char *what)
{
	if (strcmp(s, "none") == 0 || strcmp(s, "never") == 0)
		return WEFT_TTL_NONE;
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(d >= 0) || d > 1e15)
		weftctl_die_usage(what, s);
	return (uint64_t)(d * 1000.0 + 0.5);
}

static uint32_t parse_mode(const char *s)
{
	static const char *const names[] = {
		[WEFT_MODE_LOCAL] = "local",
		[WEFT_MODE_DISTRIBUTED] = "distributed",
		[WEFT_MODE_REPLICATED] = "replicated",
		[WEFT_MODE_INVALIDATED] = "invalidated",
	};
	for (uint32_t m = WEFT_MODE_LOCAL; m < WEFT_MODE__COUNT; m++)
		if (strcmp(s, names[m]) == 0)
			return m;
	weftctl_die_usage("bad --mode (local, distributed, replicated or invalidated)", s);
	return 0;
}

static bool is_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void parse(int argc, char **argv, struct cli *o)
{
	bool opts_done = false;

	o->server = getenv("WEFT_SERVER") ? getenv("WEFT_SERVER") : "127.0.0.1";
	o->timeout_ms = WEFT_DEFAULT_TIMEOUT_MS;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_next = i + 1 < argc;
		if (opts_done || a[0] != '-' || strcmp(a, "-") == 0 || is_number(a)) {
			if (o->cmd == NULL)
				o->cmd = a;
			else if (o->argc < MAX_ARGS)
				o->argv[o->argc++] = a;
			else
				weftctl_die_usage("too many arguments", NULL);
			continue;
		}
		if (strcmp(a, "--") == 0) {
			opts_done = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
			o->show_version = true;
		} else if (strcmp(a, "--direct") == 0) {
			o->direct = true;
		} else if (strcmp(a, "--wait") == 0) {
			o->wait = true;
		} else if (!has_next) {
			weftctl_die_usage("option needs a value (or is unknown)", a);
		} else if (strcmp(a, "-s") == 0 || strcmp(a, "--server") == 0) {
			o->server = argv[++i];
		} else if (strcmp(a, "--timeout") == 0 && o->cmd != NULL &&
			   strcmp(o->cmd, "rebalance") == 0) {
			o->wait_ms = parse_seconds(argv[++i], "bad --timeout (seconds)");
			if (o->wait_ms == 0 || o->wait_ms == WEFT_TTL_NONE)
				weftctl_die_usage("bad --timeout (seconds)", argv[i]);
		} else if (strcmp(a, "--timeout") == 0) {
			uint64_t t = parse_u64(argv[++i], "bad --timeout");
			if (t == 0 || t > UINT32_MAX)
				weftctl_die_usage("bad --timeout", argv[i]);
			o->timeout_ms = (uint32_t)t;
		} else if (strcmp(a, "--ttl") == 0) {
			o->ttl_ms = parse_seconds(argv[++i], "bad --ttl");
			o->has_ttl = true;
		} else if (strcmp(a, "--max-idle") == 0) {
			o->idle_ms = parse_seconds(argv[++i], "bad --max-idle");
			o->has_idle = true;
		} else if (strcmp(a, "--max-bytes") == 0) {
			o->max_bytes = parse_u64(argv[++i], "bad --max-bytes");
		} else if (strcmp(a, "--max-entries") == 0) {
			o->max_entries = parse_u64(argv[++i], "bad --max-entries");
		} else if (strcmp(a, "--mode") == 0) {
			o->mode = parse_mode(argv[++i]);
		} else {
			weftctl_die_usage("unknown option", a);
		}
	}
}

static void need_args(const struct cli *o, int min, int max)
{
	if (o->argc < min || o->argc > max)
		weftctl_die_usage("wrong number of arguments for", o->cmd);
}

/* Maps a libweft status to the exit code, printing errors. */
static int report(const struct cli *o, weft_client *c, int rc)
{
	if (rc == 0)
		return 0;
	return weftctl_fail(o->server, o->cmd, c, rc);
}

static int write_all(const void *p, size_t n)
{
	return n == 0 || fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

static int cmd_write(const struct cli *o, weft_client *c)
{
	bool cas = strcmp(o->cmd, "cas") == 0;
	need_args(o, cas ? 4 : 3, cas ? 4 : 3);
	const char *cache = o->argv[0], *key = o->argv[1];
	const char *val = o->argv[cas ? 3 : 2];
	struct weft_write_opts wo = { .ttl_ms = o->ttl_ms, .max_idle_ms = o->idle_ms };
	size_t vlen;
	void *owned = NULL;
	const void *v = val;
	uint64_t version = 0;
	int rc;

	if (strcmp(val, "-") == 0)
		v = owned = weftctl_read_stdin(&vlen);
	else
		vlen = strlen(val);
	if (cas)
		rc = weft_cas(c, cache, key, strlen(key), parse_u64(o->argv[2], "bad VERSION"), v,
			      vlen, &wo, &version);
	else if (strcmp(o->cmd, "put") == 0)
		rc = weft_put(c, cache, key, strlen(key), v, vlen, &wo, &version);
	else if (strcmp(o->cmd, "put-if-absent") == 0)
		rc = weft_put_if_absent(c, cache, key, strlen(key), v, vlen, &wo, &version);
	else
		rc = weft_replace(c, cache, key, strlen(key), v, vlen, &wo, &version);
	free(owned);
	if (o->show_version && (rc == 0 || rc == -WEFT_ST_EXISTS || rc == -WEFT_ST_VERSION_MISMATCH))
		fprintf(stderr, "version %" PRIu64 "\n", version);
	return report(o, c, rc);
}

static int cmd_get(const struct cli *o, weft_client *c)
{
	need_args(o, 2, 2);
	void *v = NULL;
	size_t len = 0;
	uint64_t version;
	int rc = weft_get(c, o->argv[0], o->argv[1], strlen(o->argv[1]), &v, &len, &version);
	if (rc == 0) {
		if (o->show_version)
			fprintf(stderr, "version %" PRIu64 "\n", version);
		rc = write_all(v, len);
		free(v);
		if (rc < 0 || fflush(stdout) != 0) {
			fprintf(stderr, "weftctl: get: writing stdout: %s\n", strerror(errno));
			return 2;
		}
	}
	return report(o, c, rc);
}

static int cmd_mget(const struct cli *o, weft_client *c)
{
	if (o->argc < 2 || o->argc - 1 > (int)WEFT_MAX_MULTI_GET)
		weftctl_die_usage("mget takes a cache and 1..64 keys", NULL);
	struct weft_mget_item items[WEFT_MAX_MULTI_GET];
	size_t n = (size_t)o->argc - 1;
	void *block = NULL;
	for (size_t i = 0; i < n; i++)
		items[i] = (struct weft_mget_item){ .key = o->argv[i + 1], .key_len = strlen(o->argv[i + 1]) };
	int rc = weft_multi_get(c, o->argv[0], items, n, &block);
	if (rc != 0)
		return report(o, c, rc);
	for (size_t i = 0; i < n; i++) {
		const char *k = o->argv[i + 1];
		if (items[i].status == 0) {
			printf("%s %zu %" PRIu64 "\n", k, items[i].value_len, items[i].version);
			write_all(items[i].value, items[i].value_len);
			putchar('\n');
		} else {
			printf("%s %s\n", k, weft_status_name(items[i].status));
		}
	}
	free(block);
	return fflush(stdout) == 0 ? 0 : 2;
}

static int cmd_other(const struct cli *o, weft_client *c)
{
	const char *cmd = o->cmd;
	uint64_t version = 0;
	int rc;

	if (strcmp(cmd, "ping") == 0) {
		need_args(o, 0, 0);
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		rc = weft_ping(c);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (rc == 0)
			printf("pong from %s in %.3f ms\n", o->server,
			       (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
	} else if (strcmp(cmd, "stats") == 0) {
		need_args(o, 0, 0);
		return weftctl_stats_cmd(c, o->server, o->json);
	} else if (strcmp(cmd, "caches") == 0) {
		need_args(o, 0, 0);
		return weftctl_caches_cmd(c, o->server, o->json);
	} else if (strcmp(cmd, "rebalance") == 0) {
		need_args(o, 0, 0);
		return weftctl_rebalance(c, o->server, o->wait,
					 o->wait_ms ? o->wait_ms : REBALANCE_WAIT_S * 1000ull, o->json);
	} else if (strcmp(cmd, "members") == 0) {
		need_args(o, 0, 0);
		return weftctl_members_cmd(c, o->server, o->json);
	} else if (strcmp(cmd, "status") == 0) {
		need_args(o, 0, 0);
		return weftctl_status_cmd(c, o->server, o->json);
	} else if (strcmp(cmd, "topology") == 0) {
		need_args(o, 0, 1);
		struct weft_topology *t;
		rc = weft_topology(c, &t);
		if (rc == 0) {
			int prc = o->json ? weftctl_print_topology_json(stdout, t)
					  : weftctl_print_topology(stdout, t, o->argc ? o->argv[0] : NULL);
			weft_topology_free(t);
			return prc;
		}
	} else if (strcmp(cmd, "del") == 0 || strcmp(cmd, "delete") == 0) {
		need_args(o, 2, 2);
		rc = weft_delete(c, o->argv[0], o->argv[1], strlen(o->argv[1]));
	} else if (strcmp(cmd, "incr") == 0) {
		need_args(o, 2, 3);
		int64_t delta = 1, val;
		if (o->argc == 3) {
			char *end;
			errno = 0;
			long long d = strtoll(o->argv[2], &end, 10);
			if (errno || *end != '\0' || end == o->argv[2])
				weftctl_die_usage("bad increment", o->argv[2]);
			delta = d;
		}
		rc = weft_incr(c, o->argv[0], o->argv[1], strlen(o->argv[1]), delta, o->ttl_ms, &val);
		if (rc == 0)
			printf("%" PRId64 "\n", val);
	} else if (strcmp(cmd, "touch") == 0) {
		need_args(o, 2, 2);
		if (!o->has_ttl && !o->has_idle)
			weftctl_die_usage("touch needs --ttl and/or --max-idle", NULL);
		struct weft_write_opts wo = { .ttl_ms = o->ttl_ms, .max_idle_ms = o->idle_ms };
		rc = weft_touch(c, o->argv[0], o->argv[1], strlen(o->argv[1]), &wo, &version);
		if (rc == 0 && o->show_version)
			fprintf(stderr, "version %" PRIu64 "\n", version);
	} else if (strcmp(cmd, "open") == 0) {
		need_args(o, 1, 1);
		struct weft_open_opts oo = { .max_bytes = o->max_bytes, .max_entries = o->max_entries,
					     .default_ttl_ms = o->ttl_ms,
					     .default_max_idle_ms = o->idle_ms, .mode = o->mode };
		rc = weft_open_cache(c, o->argv[0], &oo);
	} else {
		weftctl_die_usage("unknown command", cmd);
		return 2;
	}
	if (rc == 0 && fflush(stdout) != 0) {
		fprintf(stderr, "weftctl: %s: writing stdout: %s\n", cmd, strerror(errno));
		return 2;
	}
	return report(o, c, rc);
}

/* --key-file FILE (anywhere before "--"; every command module's clients
 * read it through WEFT_CLIENT_KEY_FILE, weft_client_opts_init) is taken out
 * of argv; the key is checked here so a bad file gets its reason. And
 * `weftctl keygen FILE`. Returns -1 to go on, else the exit status. */
static int key_options(int *argc, char **argv)
{
	int n = 0;
	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[n++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--key-file") == 0) {
			if (i + 1 >= *argc)
				weftctl_die_usage("--key-file needs a file", NULL);
			setenv("WEFT_CLIENT_KEY_FILE", argv[++i], 1);
			continue;
		}
		argv[n++] = argv[i];
	}
	*argc = n;
	argv[n] = NULL;
	char err[512];
	if (n >= 2 && strcmp(argv[1], "keygen") == 0) {
		if (n != 3)
			weftctl_die_usage("usage: weftctl keygen FILE", NULL);
		if (weft_key_generate(argv[2], err, sizeof(err)) != 0) {
			fprintf(stderr, "weftctl: keygen: %s\n", err);
			return 2;
		}
		return 0;
	}
	const char *kf = getenv("WEFT_CLIENT_KEY_FILE");
	if (kf != NULL && kf[0] != '\0' && weft_key_check(kf, err, sizeof(err)) != 0) {
		fprintf(stderr, "weftctl: client key: %s\n", err);
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct cli o = { 0 };
	weftctl_clock_start();
	int krc = key_options(&argc, argv);
	if (krc >= 0)
		return krc;
	o.json = weftctl_json_take_flag(&argc, argv);

	if (weftctl_msg_command(argc, argv) != NULL)
		return weftctl_msg_main(argc, argv, o.json);
	if (weftctl_apps_command(argc, argv) != NULL)
		return weftctl_apps_main(argc, argv, o.json);
	if (weftctl_sessions_command(argc, argv) != NULL)
		return weftctl_sessions_main(argc, argv, o.json);
	parse(argc, argv, &o);
	if (o.cmd != NULL && strcmp(o.cmd, "new-app") == 0)
		return weftctl_new_app_main(o.argc, o.argv);
	if (o.wait && (o.cmd == NULL || strcmp(o.cmd, "rebalance") != 0))
		weftctl_die_usage("--wait goes with rebalance", NULL);
	static const char *const listings[] = { "members", "status", "caches", "stats",
						 "topology", "rebalance" };
	if (o.json && (o.cmd == NULL || !weftctl_in(o.cmd, listings, 6)))
		weftctl_die_usage("--json is for listings, not", o.cmd ? o.cmd : "no command");
	if (o.cmd == NULL) {
		if (o.show_version) {
			printf("weftctl %s\n", WEFT_VERSION);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	struct weft_client_opts co;
	weft_client_opts_init(&co);
	co.timeout_ms = o.timeout_ms;
	weft_client *c = weft_client_connect(o.server, &co);
	if (c == NULL)
		return weftctl_connect_failed(o.server);
	weft_client_set_routing(c, !o.direct);
	int rc;
	if (strcmp(o.cmd, "put") == 0 || strcmp(o.cmd, "put-if-absent") == 0 ||
	    strcmp(o.cmd, "replace") == 0 || strcmp(o.cmd, "cas") == 0)
		rc = cmd_write(&o, c);
	else if (strcmp(o.cmd, "get") == 0)
		rc = cmd_get(&o, c);
	else if (strcmp(o.cmd, "mget") == 0)
		rc = cmd_mget(&o, c);
	else
		rc = cmd_other(&o, c);
	weft_client_close(c);
	return rc;
}
