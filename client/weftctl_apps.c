/*
 * weftctl_apps.c — weftctl's app commands (issue 6; the runtime's side is
 * control/ctl_app.h, the API include/weft/app.h):
 *
 *   deploy FILE.so [--all]    stores the file's bytes under key NAME (the
 *                             file name without ".so") in cache
 *                             "weft.deploy.<node>" (mode local) on the -s
 *                             node, sent there with routing off; --all: in
 *                             cache "weft.apps" (mode replicated: every
 *                             member, and members that join later). The
 *                             node's runtime loads it within about a second.
 *   undeploy NAME [--all]     deletes that key.
 *   apps [--all]              the node's APPS text (--all: every member's,
 *                             each line prefixed with the member's name).
 *   daemons [--all]           its "daemon" lines as a table.
 *   jobs [--all]              its "job" lines as a table.
 *
 * <node> is the -s node's own name: the MEMBERS entry (of that node) whose
 * address is the -s address (or the only entry of a single node). --all on
 * apps / daemons / jobs asks every alive or suspect member of that view
 * directly (routing off); a member that does not answer is reported on
 * stderr and makes the exit status 2, the others are still printed.
 *
 * --json (apps, daemons, jobs): one object {"apps": [...], "daemons": [...],
 * "jobs": [...]} (daemons / jobs: only their list), one row per line of
 * each answering member (fields: docs/client.md "weftctl --json").
 *
 * Invariants: an app larger than WEFT_MAX_VALUE_LEN is refused before
 * anything is sent; every call is bounded by libweft's attempts; APPS lines
 * not as wire.h specifies are skipped and reported (exit 2), never read
 * past their end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <weft/weft.h>

#include "weftctl_apps.h"
#include "weftctl_cli.h"
#include "weftctl_json.h"

#define MAX_ARGS 4
#define MAX_MEMBERS 256u
#define MAX_ROWS 4096u
#define APPS_CACHE "weft.apps"
#define DEPLOY_PREFIX "weft.deploy."
#define APP_NAME_MAX 64u

struct acli {
	const char *server;
	uint32_t attempt_ms; /* --timeout MS (per attempt); 0: default */
	bool direct, all, json;
	const char *cmd;
	int argc;
	const char *argv[MAX_ARGS];
};

struct member {
	char name[WEFT_MAX_NAME_LEN + 1];
	char addr[48]; /* "IP:PORT" */
	char state[16];
	char id[40];
};

static const char *const commands[] = { "deploy", "undeploy", "apps", "daemons", "jobs" };

/* Every weftctl option that takes a value, to find the command word. */
static const char *const valued[] = { "-s", "--server", "--timeout", "--ttl", "--prop",
				      "--count", "--durable", "--max", "--max-depth",
				      "--max-deliveries", "--visibility", "--max-bytes",
				      "--max-idle", "--max-entries", "--mode" };

void weftctl_apps_usage(FILE *f)
{
	fprintf(f,
		"\n"
		"apps (weftd's app runtime; include/weft/app.h):\n"
		"  deploy FILE.so [--all]               send the app (<= 1 MiB) to the -s node,\n"
		"                                       or with --all to every member (also\n"
		"                                       those that join later); the app is\n"
		"                                       named after the file, without .so\n"
		"  undeploy NAME [--all]                remove an app deployed that way\n"
		"  apps [--all]                         the node's apps, daemons and jobs\n"
		"                                       (--all: of every member)\n"
		"  daemons [--all]                      daemons: app/name, kind, the node\n"
		"                                       running it, state, fencing epoch, since\n"
		"  jobs [--all]                         jobs: app/name, kind, node, state, epoch,\n"
		"                                       next fire, last fire, last result, fires\n"
		"An app can also be deployed by copying it into the node's HOME/deployments/.\n");
}

const char *weftctl_apps_command(int argc, char **argv)
{
	return weftctl_find_command(argc, argv, valued, sizeof(valued) / sizeof(valued[0]),
				    commands, sizeof(commands) / sizeof(commands[0]));
}

static void parse(int argc, char **argv, struct acli *o)
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
		} else if (strcmp(a, "--all") == 0) {
			o->all = true;
		} else if (strcmp(a, "--direct") == 0) {
			o->direct = true;
		} else if (i + 1 >= argc) {
			weftctl_die_usage("option needs a value (or is unknown)", a);
		} else if (strcmp(a, "-s") == 0 || strcmp(a, "--server") == 0) {
			o->server = argv[++i];
		} else if (strcmp(a, "--timeout") == 0) {
			char *end;
			errno = 0;
			unsigned long v = strtoul(argv[++i], &end, 10);
			if (errno || *end != '\0' || end == argv[i] || v == 0 || v > UINT32_MAX)
				weftctl_die_usage("bad --timeout (ms)", argv[i]);
			o->attempt_ms = (uint32_t)v;
		} else {
			weftctl_die_usage("unknown option for this command", a);
		}
	}
}

static void need_args(const struct acli *o, int n)
{
	if (o->argc != n)
		weftctl_die_usage("wrong number of arguments for", o->cmd);
}

static int fail(const char *what, const char *who, weft_client *c, int rc)
{
	return weftctl_fail(who, what, c, rc);
}

/* --- the view: MEMBERS of the -s node ---------------------------------------- */

/* Parses MEMBERS text into m[] (at most MAX_MEMBERS); the count, or -1 when
 * the text is not what wire.h specifies. */
static int parse_members(char *text, struct member *m)
{
	int n = 0;
	char *save = NULL;
	char *line = strtok_r(text, "\n", &save);
	if (line == NULL || strncmp(line, "view ", 5) != 0)
		return -1;
	while ((line = strtok_r(NULL, "\n", &save)) != NULL && n < (int)MAX_MEMBERS) {
		struct member *x = &m[n];
		if (sscanf(line, "%64s %47s %15s %*s %39s", x->name, x->addr, x->state, x->id) != 4)
			return -1;
		n++;
	}
	return n;
}

/* The -s address as MEMBERS writes it: "a.b.c.d:port" (port default
 * WEFT_DEFAULT_PORT). false when it is not IPv4[:PORT]. */
static bool canonical_addr(const char *server, char *out, size_t cap)
{
	char ip[INET_ADDRSTRLEN];
	unsigned long port = WEFT_DEFAULT_PORT;
	const char *colon = strchr(server, ':');
	size_t iplen = colon ? (size_t)(colon - server) : strlen(server);
	struct in_addr a;
	if (iplen == 0 || iplen >= sizeof(ip))
		return false;
	memcpy(ip, server, iplen);
	ip[iplen] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1)
		return false;
	if (colon) {
		char *end;
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end != '\0' || end == colon + 1 || port == 0 || port > 65535)
			return false;
	}
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(out, cap, "%s:%lu", ip, port);
	return true;
}

/* Reads the -s node's view into *m (malloc'd, MAX_MEMBERS entries); the
 * count, or the exit status negated after printing why. */
static int load_members(const struct acli *o, weft_client *c, struct member **m)
{
	char *text = NULL;
	int rc = weft_members(c, &text, NULL);
	if (rc < 0)
		return -fail(o->cmd, o->server, c, rc);
	*m = calloc(MAX_MEMBERS, sizeof(struct member));
	if (*m == NULL) {
		free(text);
		fprintf(stderr, "weftctl: out of memory\n");
		return -2;
	}
	int n = parse_members(text, *m);
	free(text);
	if (n <= 0) {
		fprintf(stderr, "weftctl: %s: %s: its MEMBERS answer is not as wire.h specifies\n",
			o->cmd, o->server);
		free(*m);
		*m = NULL;
		return -2;
	}
	return n;
}

/* The -s node's own entry in m (its address, or the only member). */
static const struct member *self_of(const struct acli *o, const struct member *m, int n)
{
	char want[48];
	if (canonical_addr(o->server, want, sizeof(want)))
		for (int i = 0; i < n; i++)
			if (strcmp(m[i].addr, want) == 0)
				return &m[i];
	return n == 1 ? &m[0] : NULL;
}

/* --- deploy / undeploy ---------------------------------------------------------- */

/* The app name of path: its file name without ".so", 1..64 of
 * [A-Za-z0-9._-]. false (printed) otherwise. */
static bool app_name_of(const char *cmd, const char *path, bool is_file, char *out)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t len = strlen(base);
	if (is_file) {
		if (len <= 3 || strcmp(base + len - 3, ".so") != 0) {
			fprintf(stderr, "weftctl: %s: %s: an app is a shared object named NAME.so\n",
				cmd, path);
			return false;
		}
		len -= 3;
	}
	bool ok = len >= 1 && len <= APP_NAME_MAX && base[0] != '.';
	for (size_t i = 0; ok && i < len; i++) {
		char ch = base[i];
		ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		     (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
	}
	if (!ok) {
		fprintf(stderr, "weftctl: %s: %s: an app name is 1..%u characters of "
			"[A-Za-z0-9._-], not starting with '.'\n", cmd, path, APP_NAME_MAX);
		return false;
	}
	memcpy(out, base, len);
	out[len] = '\0';
	return true;
}

/* Reads the whole regular file path (at most WEFT_MAX_VALUE_LEN bytes) into
 * a malloc'd *buf. false (printed) otherwise. */
static bool read_app(const char *path, void **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "weftctl: deploy: %s: %s\n", path,
			fd < 0 || errno ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return false;
	}
	if ((uint64_t)st.st_size > WEFT_MAX_VALUE_LEN) {
		fprintf(stderr, "weftctl: deploy: %s is %jd bytes: apps sent through the grid are "
			"limited to %u bytes (1 MiB); copy it into the node's deployments/ folder "
			"instead\n", path, (intmax_t)st.st_size, WEFT_MAX_VALUE_LEN);
		close(fd);
		return false;
	}
	size_t n = 0, cap = (size_t)st.st_size;
	char *b = malloc(cap ? cap : 1);
	while (b && n < cap) {
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "weftctl: deploy: %s: %s\n", path,
				r < 0 ? strerror(errno) : "file shrank while read");
			free(b);
			close(fd);
			return false;
		}
		n += (size_t)r;
	}
	close(fd);
	if (b == NULL) {
		fprintf(stderr, "weftctl: out of memory\n");
		return false;
	}
	*buf = b;
	*len = n;
	return true;
}

/* The cache an app goes through: "weft.apps" (--all) or
 * "weft.deploy.<node>"; node (printed) names where. false (printed) when the
 * -s node's name cannot be found or makes too long a cache name. */
static int target_cache(const struct acli *o, weft_client *c, char *cache, char *node)
{
	if (o->all) {
		strcpy(cache, APPS_CACHE);
		strcpy(node, "every member");
		return 0;
	}
	struct member *m = NULL;
	int n = load_members(o, c, &m);
	if (n < 0)
		return -n;
	const struct member *self = self_of(o, m, n);
	if (self == NULL) {
		fprintf(stderr, "weftctl: %s: %s is not an address in its own MEMBERS answer: give "
			"the node's own IP:PORT with -s\n", o->cmd, o->server);
		free(m);
		return 2;
	}
	if (strlen(DEPLOY_PREFIX) + strlen(self->name) > WEFT_MAX_NAME_LEN) {
		fprintf(stderr, "weftctl: %s: node name %s is too long for cache %s<node> (%u bytes at "
			"most): use --all or the deployments/ folder\n", o->cmd, self->name,
			DEPLOY_PREFIX, WEFT_MAX_NAME_LEN);
		free(m);
		return 2;
	}
	sprintf(cache, DEPLOY_PREFIX "%s", self->name);
	strcpy(node, self->name);
	free(m);
	return 0;
}

static int cmd_deploy(const struct acli *o, weft_client *c)
{
	need_args(o, 1);
	char name[APP_NAME_MAX + 1], cache[WEFT_MAX_NAME_LEN + 1], node[WEFT_MAX_NAME_LEN + 1];
	void *buf;
	size_t len;
	if (!app_name_of("deploy", o->argv[0], true, name) || !read_app(o->argv[0], &buf, &len))
		return 2;
	int st = target_cache(o, c, cache, node);
	if (st != 0) {
		free(buf);
		return st;
	}
	struct weft_open_opts oo = { .mode = o->all ? WEFT_MODE_REPLICATED : WEFT_MODE_LOCAL };
	uint64_t version = 0;
	int rc = weft_open_cache(c, cache, &oo);
	if (rc == 0)
		rc = weft_put(c, cache, name, strlen(name), buf, len, NULL, &version);
	free(buf);
	if (rc < 0)
		return fail("deploy", o->server, c, rc);
	printf("deployed %s (%zu bytes) to %s: cache %s, version %" PRIu64 "\n", name, len, node,
	       cache, version);
	return fflush(stdout) == 0 ? 0 : 2;
}

static int cmd_undeploy(const struct acli *o, weft_client *c)
{
	need_args(o, 1);
	char name[APP_NAME_MAX + 1], cache[WEFT_MAX_NAME_LEN + 1], node[WEFT_MAX_NAME_LEN + 1];
	if (!app_name_of("undeploy", o->argv[0], false, name))
		return 2;
	int st = target_cache(o, c, cache, node);
	if (st != 0)
		return st;
	int rc = weft_delete(c, cache, name, strlen(name));
	if (rc == -WEFT_ST_NOT_FOUND) {
		fprintf(stderr, "weftctl: undeploy: %s was not deployed to %s (no key %s in cache %s); "
			"an app copied into deployments/ is undeployed by removing the file\n", name,
			node, name, cache);
		return 1;
	}
	if (rc < 0)
		return fail("undeploy", o->server, c, rc);
	printf("undeployed %s from %s (cache %s)\n", name, node, cache);
	return fflush(stdout) == 0 ? 0 : 2;
}

/* --- apps / daemons / jobs ------------------------------------------------------ */

struct row {
	const char *member;  /* the node that answered */
	const char *full;    /* app/name */
	const char *kind, *state;
	const char *owner, *epoch, *since, *next, *last, *result, *fires;
};

struct table {
	struct row *rows;
	size_t n;
	bool bad;
};

/* Adds text's `word` lines (modified in place; text outlives t) as rows. */
static void add_lines(struct table *t, const char *member, const char *word, char *text)
{
	char *save_line = NULL;
	for (char *line = strtok_r(text, "\n", &save_line); line;
	     line = strtok_r(NULL, "\n", &save_line)) {
		char *save = NULL;
		char *w = strtok_r(line, " ", &save);
		if (w == NULL || strcmp(w, word) != 0)
			continue;
		char *full = strtok_r(NULL, " ", &save), *kind = strtok_r(NULL, " ", &save);
		char *state = strtok_r(NULL, " ", &save);
		if (state == NULL) {
			t->bad = true;
			continue;
		}
		if (t->n == MAX_ROWS)
			return;
		struct row *r = &t->rows[t->n++];
		*r = (struct row){ .member = member, .full = full, .kind = kind, .state = state };
		for (char *k = strtok_r(NULL, " ", &save); k; k = strtok_r(NULL, " ", &save)) {
			char *v = strtok_r(NULL, " ", &save);
			if (v == NULL) {
				t->bad = true;
				break;
			}
			const char **slot = strcmp(k, "owner") == 0 ? &r->owner
					    : strcmp(k, "epoch") == 0 ? &r->epoch
					    : strcmp(k, "since") == 0 ? &r->since
					    : strcmp(k, "next") == 0 ? &r->next
					    : strcmp(k, "last") == 0 ? &r->last
					    : strcmp(k, "result") == 0 ? &r->result
					    : strcmp(k, "fires") == 0 ? &r->fires : NULL;
			if (slot)
				*slot = v;
		}
	}
}

/* A unix_ms field as "YYYY-MM-DDTHH:MM:SSZ" (UTC) into buf; "-" and 0
 * stay "-", anything else not a number is shown as it is. */
static const char *fmt_time(const char *v, char *buf, size_t cap)
{
	if (v == NULL || strcmp(v, "-") == 0 || strcmp(v, "0") == 0)
		return "-";
	char *end;
	errno = 0;
	unsigned long long ms = strtoull(v, &end, 10);
	struct tm tm;
	time_t s = (time_t)(ms / 1000u);
	if (errno || *end != '\0' || gmtime_r(&s, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return v;
	return buf;
}

/* The name of the member whose node id is id ("-" stays "-"; an unknown id
 * is shown as its first 8 characters). */
static const char *owner_name(const char *id, const struct member *m, int n, char *buf)
{
	if (id == NULL || strcmp(id, "-") == 0)
		return "-";
	for (int i = 0; i < n; i++)
		if (strcmp(m[i].id, id) == 0)
			return m[i].name;
	snprintf(buf, 9, "%s", id);
	return buf;
}

#define NCOLS 10

static int print_rows(const struct table *t, bool jobs, bool all, const struct member *m, int n)
{
	static const char *const dheads[NCOLS] = { "MEMBER", "DAEMON", "KIND", "NODE", "STATE",
						   "EPOCH", "SINCE" };
	static const char *const jheads[NCOLS] = { "MEMBER", "JOB", "KIND", "NODE", "STATE",
						   "EPOCH", "NEXT", "LAST", "RESULT", "FIRES" };
	const char *const *heads = jobs ? jheads : dheads;
	int ncols = jobs ? 10 : 7;
	size_t cells = (t->n + 1) * NCOLS;
	const char **cell = calloc(cells, sizeof(char *));
	char (*tbuf)[3][32] = calloc(t->n + 1, sizeof(*tbuf));
	int w[NCOLS] = { 0 };
	if (cell == NULL || tbuf == NULL) {
		free(cell);
		free(tbuf);
		fprintf(stderr, "weftctl: out of memory\n");
		return 2;
	}
	for (int k = 0; k < ncols; k++)
		cell[k] = heads[k];
	for (size_t i = 0; i < t->n; i++) {
		const struct row *r = &t->rows[i];
		const char **c = &cell[(i + 1) * NCOLS];
		c[0] = r->member;
		c[1] = r->full;
		c[2] = r->kind;
		/* Where it runs: the claim's owner; a line without one (jobs)
		 * is about the node that answered. */
		c[3] = r->owner ? owner_name(r->owner, m, n, tbuf[i][0]) : r->member;
		c[4] = r->state;
		c[5] = r->epoch ? r->epoch : "-";
		if (jobs) {
			c[6] = fmt_time(r->next, tbuf[i][1], sizeof(tbuf[i][1]));
			c[7] = fmt_time(r->last, tbuf[i][2], sizeof(tbuf[i][2]));
			c[8] = r->result ? r->result : "-";
			c[9] = r->fires ? r->fires : "-";
		} else {
			c[6] = fmt_time(r->since, tbuf[i][1], sizeof(tbuf[i][1]));
		}
	}
	for (size_t i = 0; i <= t->n; i++)
		for (int k = 0; k < ncols; k++)
			if ((int)strlen(cell[i * NCOLS + k]) > w[k])
				w[k] = (int)strlen(cell[i * NCOLS + k]);
	for (size_t i = 0; i <= t->n; i++) {
		for (int k = all ? 0 : 1; k < ncols; k++)
			printf("%-*s%s", k == ncols - 1 ? 0 : w[k], cell[i * NCOLS + k],
			       k == ncols - 1 ? "\n" : " ");
	}
	free(cell);
	free(tbuf);
	if (fflush(stdout) != 0)
		return 2;
	if (t->bad) {
		fprintf(stderr, "weftctl: %s: lines not as wire.h specifies were skipped\n",
			jobs ? "jobs" : "daemons");
		return 2;
	}
	return 0;
}

/* Adds text's `word` lines ("app", "daemon" or "job"; wire.h APPS) as JSON
 * objects to the open array: member, name, then the line's fields (app:
 * state, loaded, generation; daemon / job: kind, state and each key's
 * value, owner also as owner_name). Lines too short are skipped (*bad). */
static void json_lines(struct weftctl_json *j, const char *member, const char *word,
		       const char *text, const struct member *m, int n, bool *bad)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[1024], *save = NULL;
		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + (nl != NULL);
		char *w = strtok_r(line, " ", &save);
		if (w == NULL || strcmp(w, word) != 0)
			continue;
		char *name = strtok_r(NULL, " ", &save), *a = strtok_r(NULL, " ", &save);
		char *b = strtok_r(NULL, " ", &save);
		if (b == NULL) {
			*bad = true;
			continue;
		}
		weftctl_json_obj_begin(j);
		weftctl_json_kv_str(j, "member", member);
		weftctl_json_kv_str(j, "name", name);
		if (strcmp(word, "app") == 0) {
			weftctl_json_kv_str(j, "state", a);  /* "loaded" */
			weftctl_json_kv_text(j, "loaded", b); /* unix ms */
		} else {
			weftctl_json_kv_str(j, "kind", a);
			weftctl_json_kv_str(j, "state", b);
		}
		for (char *k = strtok_r(NULL, " ", &save); k; k = strtok_r(NULL, " ", &save)) {
			char *v = strtok_r(NULL, " ", &save);
			if (v == NULL) {
				*bad = true;
				break;
			}
			weftctl_json_kv_text(j, k, v);
			if (strcmp(k, "owner") == 0) {
				char buf[16];
				weftctl_json_kv_text(j, "owner_name", owner_name(v, m, n, buf));
			}
		}
		weftctl_json_obj_end(j);
	}
}

/* apps / daemons / jobs --json from the members' answers texts[0..n_ask)
 * (NULL: no answer). */
static int print_json(const struct acli *o, char **texts, int n_ask, const char *const *who,
		      const struct member *m, int n)
{
	static const char *const words[] = { "app", "daemon", "job" };
	static const char *const lists[] = { "apps", "daemons", "jobs" };
	struct weftctl_json j;
	bool bad = false;
	weftctl_json_init(&j, stdout);
	weftctl_json_obj_begin(&j);
	for (int w = 0; w < 3; w++) {
		if (strcmp(o->cmd, "apps") != 0 && strcmp(o->cmd, lists[w]) != 0)
			continue;
		weftctl_json_key(&j, lists[w]);
		weftctl_json_arr_begin(&j);
		for (int i = 0; i < n_ask; i++)
			if (texts[i] != NULL)
				json_lines(&j, who[i], words[w], texts[i], m, n, &bad);
		weftctl_json_arr_end(&j);
	}
	weftctl_json_obj_end(&j);
	if (weftctl_json_finish(&j) != 0)
		return 2;
	if (bad) {
		fprintf(stderr, "weftctl: %s: lines not as wire.h specifies were skipped\n", o->cmd);
		return 2;
	}
	return 0;
}

/* Prints text's lines, each prefixed with member (when not NULL). */
static void print_prefixed(const char *member, const char *text)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		printf("%s%s%.*s\n", member ? member : "", member ? " " : "", (int)len, p);
		p += len + (nl != NULL);
	}
}

/* apps, daemons, jobs: APPS of the -s node (--all: of every alive or
 * suspect member of its view). */
static int cmd_status(const struct acli *o, weft_client *c)
{
	need_args(o, 0);
	bool apps = strcmp(o->cmd, "apps") == 0, jobs = strcmp(o->cmd, "jobs") == 0;
	struct member *m = NULL;
	int n = load_members(o, c, &m);
	if (n < 0)
		return -n;
	const struct member *self = self_of(o, m, n);
	int n_ask = o->all ? n : 1;
	char **texts = calloc((size_t)n_ask, sizeof(char *));
	const char **whos = calloc((size_t)n_ask, sizeof(char *));
	struct table t = { .rows = calloc(MAX_ROWS, sizeof(struct row)) };
	int status = 0;
	if (texts == NULL || whos == NULL || t.rows == NULL) {
		fprintf(stderr, "weftctl: out of memory\n");
		status = 2;
		n_ask = 0;
	}
	for (int i = 0; i < n_ask; i++) {
		const char *who = o->all ? m[i].name : self ? self->name : o->server;
		whos[i] = who;
		weft_client *mc = c;
		if (o->all) {
			if (strcmp(m[i].state, "alive") != 0 && strcmp(m[i].state, "suspect") != 0)
				continue;
			mc = weft_client_connect(m[i].addr, NULL);
			if (mc == NULL) {
				fail(o->cmd, m[i].addr, NULL, -WEFT_ST_IO);
				status = 2;
				continue;
			}
			weft_client_set_routing(mc, false);
		}
		int rc = weft_apps(mc, &texts[i], NULL);
		if (rc < 0) {
			texts[i] = NULL;
			status = fail(o->cmd, who, mc, rc);
		} else if (o->json) {
			/* printed once every member answered */
		} else if (apps) {
			print_prefixed(o->all ? who : NULL, texts[i]);
		} else {
			add_lines(&t, who, jobs ? "job" : "daemon", texts[i]);
		}
		if (mc != c)
			weft_client_close(mc);
	}
	if (o->json && texts && whos && t.rows) {
		int prc = print_json(o, texts, n_ask, whos, m, n);
		if (prc)
			status = prc;
	} else if (!apps && texts && t.rows) {
		int prc = print_rows(&t, jobs, o->all, m, n);
		if (prc)
			status = prc;
	} else if (apps && fflush(stdout) != 0) {
		status = 2;
	}
	for (int i = 0; texts && i < n_ask; i++)
		free(texts[i]);
	free(texts);
	free(whos);
	free(t.rows);
	free(m);
	return status;
}

int weftctl_apps_main(int argc, char **argv, bool json)
{
	struct acli o = { .json = json };
	parse(argc, argv, &o);
	if (json && (strcmp(o.cmd, "deploy") == 0 || strcmp(o.cmd, "undeploy") == 0))
		weftctl_die_usage("--json is for listings, not", o.cmd);
	struct weft_client_opts co;
	weft_client_opts_init(&co);
	if (o.attempt_ms)
		co.timeout_ms = o.attempt_ms;
	weft_client *c = weft_client_connect(o.server, &co);
	if (c == NULL)
		return weftctl_connect_failed(o.server);
	bool to_node = !o.all && (strcmp(o.cmd, "deploy") == 0 || strcmp(o.cmd, "undeploy") == 0);
	/* A node's own deploy cache is local to it: never routed elsewhere. */
	weft_client_set_routing(c, !o.direct && !to_node);
	int rc;
	if (strcmp(o.cmd, "deploy") == 0)
		rc = cmd_deploy(&o, c);
	else if (strcmp(o.cmd, "undeploy") == 0)
		rc = cmd_undeploy(&o, c);
	else
		rc = cmd_status(&o, c);
	weft_client_close(c);
	return rc;
}
