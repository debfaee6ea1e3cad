/*
 * weftctl_sessions_view.c — the session commands that read a node's view
 * rather than a session:
 *
 *   sessions [--store S]   per session store, the sessions the -s node holds
 *                          (entries of the store's cache: primary and
 *                          backup copies alike) and their memory (the
 *                          cache's accounted bytes), from the node's STATS
 *                          lines "cache.<store>.entries" / ".bytes"; then
 *                          the same summed over every alive member of its
 *                          MEMBERS view (each asked directly), with the
 *                          session count = copies / owners per segment
 *                          (TOPOLOGY; at most the members that answered).
 *   lb-config nginx [--port P] [--upstream NAME]
 *                          an nginx "upstream" block with one server per
 *                          alive member: the member's IP at port P (the web
 *                          app instance running next to each node), no
 *                          stickiness (sessions live in weft), passive
 *                          health checks (max_fails=1 fail_timeout=5s) so
 *                          nginx retries a dead instance's requests on the
 *                          next one. Regenerate it when the view changes.
 *
 * --json (sessions): {"node", "node_stores": [{store, sessions, bytes}],
 * "view", "members_alive", "members_answered", "owners", "cluster_stores":
 * [{store, copies, sessions, bytes}]}.
 *
 * Invariants: STATS lines not as wire.h specifies are skipped and a
 * malformed MEMBERS answer is an error, never read past their end; every call is bounded
 * by libweft's attempts; a member that does not answer is reported and the
 * totals say how many answered.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/weft.h>

#include "weftctl_cli.h"
#include "weftctl_json.h"
#include "weftctl_sessions.h"

#define MAX_MEMBERS 256u
#define MAX_STORES 64u

struct member {
	char name[WEFT_MAX_NAME_LEN + 1];
	char ip[48];
	char port[8];
	char state[16];
};

struct store_row {
	char name[WEFT_MAX_NAME_LEN + 1];
	uint64_t entries, bytes;
};

struct table {
	struct store_row r[MAX_STORES];
	unsigned n;
};

/* MEMBERS text (modified) into m; the count, or -1 when malformed. */
static int parse_members(char *text, struct member *m, char *view, size_t view_cap)
{
	int n = 0;
	char *save = NULL, *line = strtok_r(text, "\n", &save);
	if (line == NULL || strncmp(line, "view ", 5) != 0)
		return -1;
	snprintf(view, view_cap, "%.*s", (int)strcspn(line + 5, " "), line + 5);
	while ((line = strtok_r(NULL, "\n", &save)) != NULL && n < (int)MAX_MEMBERS) {
		struct member *x = &m[n];
		char addr[64];
		if (sscanf(line, "%64s %63s %15s", x->name, addr, x->state) != 3)
			return -1;
		char *colon = strrchr(addr, ':');
		if (colon == NULL || (size_t)(colon - addr) >= sizeof(x->ip) ||
		    strlen(colon + 1) >= sizeof(x->port))
			return -1;
		snprintf(x->ip, sizeof(x->ip), "%.*s", (int)(colon - addr), addr);
		snprintf(x->port, sizeof(x->port), "%s", colon + 1);
		n++;
	}
	return n;
}

static int load_members(const struct scli *o, weft_client *c, struct member **m, char *view,
			size_t view_cap)
{
	char *text = NULL;
	int rc = weft_members(c, &text, NULL);
	if (rc < 0)
		return -weftctl_sessions_fail(o->server, o->cmd, c, rc);
	*m = calloc(MAX_MEMBERS, sizeof(**m));
	int n = *m ? parse_members(text, *m, view, view_cap) : -1;
	free(text);
	if (n <= 0) {
		fprintf(stderr, "weftctl: %s: %s: no usable MEMBERS answer\n", o->cmd, o->server);
		free(*m);
		*m = NULL;
		return -2;
	}
	return n;
}

static struct store_row *row_of(struct table *t, const char *name, size_t len)
{
	for (unsigned i = 0; i < t->n; i++)
		if (strlen(t->r[i].name) == len && memcmp(t->r[i].name, name, len) == 0)
			return &t->r[i];
	if (t->n == MAX_STORES)
		return NULL;
	struct store_row *r = &t->r[t->n++];
	memset(r, 0, sizeof(*r));
	memcpy(r->name, name, len);
	return r;
}

/* Adds the session-store lines of a STATS text to t ("cache.<store>.entries
 * N" and "cache.<store>.bytes N"; store as --store filters). */
static void add_stats(struct table *t, const char *text, const char *only)
{
	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "cache.", 6) != 0)
			continue;
		const char *name = p + 6, *sp = strchr(name, ' '), *eol = strchr(name, '\n');
		if (sp == NULL || (eol != NULL && sp > eol))
			continue;
		const char *dot = sp;
		while (dot > name && *dot != '.')
			dot--;
		size_t nl = (size_t)(dot - name), fl = (size_t)(sp - dot - 1);
		bool entries = fl == 7 && strncmp(dot + 1, "entries", 7) == 0;
		bool bytes = fl == 5 && strncmp(dot + 1, "bytes", 5) == 0;
		if ((!entries && !bytes) || nl > WEFT_MAX_NAME_LEN ||
		    !weft_wire_is_session_store(name, nl) ||
		    (only != NULL && (strlen(only) != nl || memcmp(only, name, nl) != 0)))
			continue;
		struct store_row *r = row_of(t, name, nl);
		if (r == NULL)
			continue;
		uint64_t v = strtoull(sp + 1, NULL, 10);
		if (entries)
			r->entries += v;
		else
			r->bytes += v;
	}
}

static int stats_of(weft_client *c, struct table *t, const char *only)
{
	char *text = NULL;
	int rc = weft_stats(c, &text, NULL);
	if (rc == 0) {
		add_stats(t, text, only);
		free(text);
	}
	return rc;
}

static void json_stores(struct weftctl_json *j, const char *key, const struct table *t,
			bool cluster, unsigned eff)
{
	weftctl_json_key(j, key);
	weftctl_json_arr_begin(j);
	for (unsigned i = 0; i < t->n; i++) {
		weftctl_json_obj_begin(j);
		weftctl_json_kv_str(j, "store", t->r[i].name);
		if (cluster)
			weftctl_json_kv_u64(j, "copies", t->r[i].entries);
		weftctl_json_kv_u64(j, "sessions", cluster ? t->r[i].entries / eff : t->r[i].entries);
		weftctl_json_kv_u64(j, "bytes", t->r[i].bytes);
		weftctl_json_obj_end(j);
	}
	weftctl_json_arr_end(j);
}

int weftctl_sessions_stats(const struct scli *o, weft_client *c)
{
	if (o->argc != 0) {
		fprintf(stderr, "weftctl: sessions takes no arguments\n");
		return 2;
	}
	struct table *node = calloc(2, sizeof(*node));
	if (node == NULL)
		return 2;
	struct table *all = node + 1;
	int rc = stats_of(c, node, o->store);
	if (rc < 0) {
		free(node);
		return weftctl_sessions_fail(o->server, "sessions", c, rc);
	}
	if (!o->json) {
		printf("node %s: sessions held (primary and backup copies) and their memory\n",
		       o->server);
		printf("  %-40s %12s %14s\n", "STORE", "SESSIONS", "BYTES");
		for (unsigned i = 0; i < node->n; i++)
			printf("  %-40s %12" PRIu64 " %14" PRIu64 "\n", node->r[i].name,
			       node->r[i].entries, node->r[i].bytes);
		if (node->n == 0)
			printf("  (no session store on this node yet)\n");
	}

	struct member *m = NULL;
	char view[32];
	int n = load_members(o, c, &m, view, sizeof(view));
	if (n < 0) {
		free(node);
		return -n;
	}
	struct weft_topology *topo = NULL;
	unsigned owners = weft_topology(c, &topo) == 0 && topo->owners ? topo->owners : 1;
	weft_topology_free(topo);
	unsigned alive = 0, answered = 0;
	int status = 0;
	for (int i = 0; i < n; i++) {
		if (strcmp(m[i].state, "alive") != 0 && strcmp(m[i].state, "suspect") != 0)
			continue;
		alive++;
		char addr[64];
		snprintf(addr, sizeof(addr), "%s:%s", m[i].ip, m[i].port);
		struct weft_client_opts co;
		weft_client_opts_init(&co);
		if (o->attempt_ms)
			co.timeout_ms = o->attempt_ms;
		weft_client *mc = weft_client_connect(addr, &co);
		if (mc == NULL) {
			status = weftctl_connect_failed(addr);
			continue;
		}
		weft_client_set_routing(mc, false);
		rc = stats_of(mc, all, o->store);
		if (rc == 0)
			answered++;
		else
			status = weftctl_sessions_fail(m[i].name, "sessions", mc, rc);
		weft_client_close(mc);
	}
	unsigned eff = owners < answered ? owners : (answered ? answered : 1);
	bool ok;
	if (o->json) {
		struct weftctl_json j;
		weftctl_json_init(&j, stdout);
		weftctl_json_obj_begin(&j);
		weftctl_json_kv_str(&j, "node", o->server);
		json_stores(&j, "node_stores", node, false, 1);
		weftctl_json_kv_text(&j, "view", view);
		weftctl_json_kv_u64(&j, "members_alive", alive);
		weftctl_json_kv_u64(&j, "members_answered", answered);
		weftctl_json_kv_u64(&j, "owners", owners);
		json_stores(&j, "cluster_stores", all, true, eff);
		weftctl_json_obj_end(&j);
		ok = weftctl_json_finish(&j) == 0;
	} else {
		printf("cluster (view %s): %u of %u alive members answered; %u owner%s per "
		       "session\n", view, answered, alive, owners, owners == 1 ? "" : "s");
		printf("  %-40s %12s %12s %14s\n", "STORE", "COPIES", "SESSIONS", "BYTES");
		for (unsigned i = 0; i < all->n; i++)
			printf("  %-40s %12" PRIu64 " %12" PRIu64 " %14" PRIu64 "\n",
			       all->r[i].name, all->r[i].entries, all->r[i].entries / eff,
			       all->r[i].bytes);
		ok = fflush(stdout) == 0;
	}
	free(m);
	free(node);
	return ok ? status : 2;
}

int weftctl_lb_config(const struct scli *o, weft_client *c)
{
	if (o->argc != 1 || strcmp(o->argv[0], "nginx") != 0) {
		fprintf(stderr, "weftctl: lb-config: only 'lb-config nginx' is known\n");
		return 2;
	}
	for (const char *p = o->upstream; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.')) {
			fprintf(stderr, "weftctl: lb-config: bad --upstream name: %s\n", o->upstream);
			return 2;
		}
	if (o->port == 0 || o->upstream[0] == '\0') {
		fprintf(stderr, "weftctl: lb-config: --port and --upstream must not be empty\n");
		return 2;
	}
	struct member *m = NULL;
	char view[32];
	int n = load_members(o, c, &m, view, sizeof(view));
	if (n < 0)
		return -n;
	char now[32];
	time_t t = time(NULL);
	struct tm tm;
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	unsigned alive = 0;
	for (int i = 0; i < n; i++)
		alive += strcmp(m[i].state, "alive") == 0;
	printf("# generated by weftctl -s %s lb-config nginx at %s\n", o->server, now);
	printf("# view %s: %u alive member%s of %d; one web app instance per member, on the\n"
	       "# member's IP, port %u. No stickiness: sessions are kept in weft, so any\n"
	       "# instance serves any request; nginx retries a failed instance on the next.\n"
	       "# Regenerate (and nginx -s reload) when members join or leave.\n",
	       view, alive, alive == 1 ? "" : "s", n, o->port);
	printf("upstream %s {\n", o->upstream);
	for (int i = 0; i < n; i++)
		if (strcmp(m[i].state, "alive") == 0)
			printf("    server %s:%u max_fails=1 fail_timeout=5s; # %s\n", m[i].ip, o->port,
			       m[i].name);
	printf("}\n");
	free(m);
	if (alive == 0)
		fprintf(stderr, "weftctl: lb-config: no alive member (the block has no server)\n");
	return fflush(stdout) == 0 && alive > 0 ? 0 : 2;
}
