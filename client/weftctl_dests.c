/*
 * weftctl_dests.c — `weftctl destinations [--all]`: a node's DESTINATIONS
 * text (wire.h: one line per destination, "<name> <role> key=value ...")
 * as an aligned table, one column per key wire.h lists ("-" for a key the
 * line lacks; keys it does not list are ignored). With --all every member
 * of the node's topology is asked (directly, routing off) and each row
 * starts with the member's name; a member that does not answer is reported
 * on stderr and makes the exit status 2 (3: no answer), the others are
 * still printed. --json: {"destinations": [{"node", "name", "role", and
 * each key wire.h lists that the line has, as a number}]}.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "weftctl_cli.h"
#include "weftctl_json.h"
#include "weftctl_msg.h"

#define MAX_ROWS 4096u

static const char *const keys[] = { "depth", "bytes", "inflight", "consumers", "waiting",
				    "published", "delivered", "redelivered", "acked", "dead",
				    "expired", "full", "subscriber_nodes", "subscriptions",
				    "durable", "dropped" };
static const char *const heads[] = { "DEPTH", "BYTES", "INFLIGHT", "CONSUMERS", "WAITING",
				     "PUBLISHED", "DELIVERED", "REDELIVERED", "ACKED", "DEAD",
				     "EXPIRED", "FULL", "SUB_NODES", "SUBS", "DURABLE",
				     "DROPPED" };
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct row {
	const char *node, *name, *role;
	const char *val[NKEYS];
};

struct table {
	struct row *rows;
	size_t n;
	bool bad;   /* a line without name and role */
};

/* Splits text (modified in place; it must outlive t) into rows. */
static void add_text(struct table *t, const char *node, char *text)
{
	char *save_line = NULL;
	for (char *line = strtok_r(text, "\n", &save_line); line;
	     line = strtok_r(NULL, "\n", &save_line)) {
		char *save = NULL;
		char *name = strtok_r(line, " ", &save), *role = strtok_r(NULL, " ", &save);
		if (name == NULL || role == NULL || strchr(role, '=') != NULL) {
			t->bad = true;
			continue;
		}
		if (t->n == MAX_ROWS)
			return;
		struct row *r = &t->rows[t->n++];
		*r = (struct row){ .node = node, .name = name, .role = role };
		for (char *kv = strtok_r(NULL, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
			char *eq = strchr(kv, '=');
			if (eq == NULL)
				continue;
			*eq = '\0';
			for (size_t k = 0; k < NKEYS; k++)
				if (strcmp(kv, keys[k]) == 0)
					r->val[k] = eq + 1;
		}
	}
}

static int width(const struct table *t, int k, const char *head)
{
	int w = (int)strlen(head);
	for (size_t i = 0; i < t->n; i++) {
		const char *v = k == -1 ? t->rows[i].node : k == -2 ? t->rows[i].name
				: k == -3 ? t->rows[i].role : t->rows[i].val[k];
		if (v && (int)strlen(v) > w)
			w = (int)strlen(v);
	}
	return w;
}

static int print_table(const struct table *t, bool with_node)
{
	int wnode = with_node ? width(t, -1, "NODE") : 0;
	int wname = width(t, -2, "NAME"), wrole = width(t, -3, "ROLE");
	int w[NKEYS];
	if (with_node)
		printf("%-*s ", wnode, "NODE");
	printf("%-*s %-*s", wname, "NAME", wrole, "ROLE");
	for (size_t k = 0; k < NKEYS; k++) {
		w[k] = width(t, (int)k, heads[k]);
		printf(" %*s", w[k], heads[k]);
	}
	putchar('\n');
	for (size_t i = 0; i < t->n; i++) {
		const struct row *r = &t->rows[i];
		if (with_node)
			printf("%-*s ", wnode, r->node);
		printf("%-*s %-*s", wname, r->name, wrole, r->role);
		for (size_t k = 0; k < NKEYS; k++)
			printf(" %*s", w[k], r->val[k] ? r->val[k] : "-");
		putchar('\n');
	}
	if (fflush(stdout) != 0)
		return 2;
	if (t->bad) {
		fprintf(stderr, "weftctl: destinations: lines not as wire.h specifies were skipped\n");
		return 2;
	}
	return 0;
}

static int print_json(const struct table *t)
{
	struct weftctl_json j;
	weftctl_json_init(&j, stdout);
	weftctl_json_obj_begin(&j);
	weftctl_json_key(&j, "destinations");
	weftctl_json_arr_begin(&j);
	for (size_t i = 0; i < t->n; i++) {
		const struct row *r = &t->rows[i];
		weftctl_json_obj_begin(&j);
		weftctl_json_kv_str(&j, "node", r->node);
		weftctl_json_kv_str(&j, "name", r->name);
		weftctl_json_kv_str(&j, "role", r->role);
		for (size_t k = 0; k < NKEYS; k++)
			if (r->val[k] != NULL)
				weftctl_json_kv_text(&j, keys[k], r->val[k]);
		weftctl_json_obj_end(&j);
	}
	weftctl_json_arr_end(&j);
	weftctl_json_obj_end(&j);
	if (weftctl_json_finish(&j) != 0)
		return 2;
	if (t->bad) {
		fprintf(stderr, "weftctl: destinations: lines not as wire.h specifies were skipped\n");
		return 2;
	}
	return 0;
}

static int fail(const char *node, weft_client *c, int rc)
{
	return weftctl_fail(node, "destinations", c, rc);
}

int weftctl_print_destinations(weft_client *c, const char *server, bool all, bool json)
{
	struct table t = { .rows = calloc(MAX_ROWS, sizeof(struct row)) };
	if (t.rows == NULL) {
		fprintf(stderr, "weftctl: out of memory\n");
		return 2;
	}
	struct weft_topology *topo = NULL;
	int status = 0, rc = 0;
	size_t n_nodes = 1;
	if (all) {
		rc = weft_topology(c, &topo);
		if (rc < 0) {
			free(t.rows);
			return fail(server, c, rc);
		}
		n_nodes = topo->n_members;
	}
	char **texts = calloc(n_nodes, sizeof(char *));
	char (*names)[WEFT_MAX_NAME_LEN + 24] = calloc(n_nodes, sizeof(*names));
	for (size_t i = 0; texts && names && i < n_nodes; i++) {
		const struct weft_topology_member *m = topo ? &topo->members[i] : NULL;
		weft_client *mc = c;
		char addr[40];
		if (m && m->ip && m->port && n_nodes > 1) {
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &m->ip, ip, sizeof(ip));
			snprintf(addr, sizeof(addr), "%s:%u", ip, m->port);
			mc = weft_client_connect(addr, NULL);
			if (mc == NULL) {
				status = weftctl_connect_failed(addr);
				continue;
			}
			weft_client_set_routing(mc, false);
		} else {
			snprintf(addr, sizeof(addr), "%s", server);
		}
		snprintf(names[i], sizeof(names[i]), "%s", m && m->name[0] ? m->name : addr);
		rc = weft_destinations(mc, &texts[i], NULL);
		if (rc < 0)
			status = fail(names[i], mc, rc);
		else
			add_text(&t, names[i], texts[i]);
		if (mc != c)
			weft_client_close(mc);
	}
	if (texts == NULL || names == NULL) {
		fprintf(stderr, "weftctl: out of memory\n");
		status = 2;
	} else {
		int prc = json ? print_json(&t) : print_table(&t, all);
		if (prc)
			status = prc;
	}
	for (size_t i = 0; texts && i < n_nodes; i++)
		free(texts[i]);
	free(texts);
	free(names);
	free(t.rows);
	weft_topology_free(topo);
	return status;
}
