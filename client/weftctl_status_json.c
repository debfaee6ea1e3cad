/*
 * weftctl_status_json.c — the node-view listings of weftctl.c as text or
 * --json (field names: docs/client.md "weftctl --json"): `members`,
 * `status`, `caches` and `stats`, fetched here (failures reported in
 * weftctl_fail's form) and printed by weftctl_status.c (text) or below
 * (JSON). A STATS line missing from an older node's answer is 0 in
 * members / status / caches and absent from `stats --json`.
 *
 * Invariants: one JSON document per command, complete or not printed as
 * valid (weftctl_json_finish's status decides the exit status).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weftctl_cli.h"
#include "weftctl_json.h"
#include "weftctl_print.h"

/* The per-cache STATS counters, in the order `caches --json` gives them. */
static const char *const cache_fields[] = { "entries", "tombstones", "bytes", "max_bytes",
					    "hits", "misses", "puts", "deletes", "evictions",
					    "expirations", "resizes" };

/* The counters `status` sums up: JSON name and STATS name. */
static const char *const req_fields[][2] = {
	{ "forwarded", "total.forwarded" }, { "replicated", "total.replicated" },
	{ "rpc_retransmits", "total.rpc_retransmits" }, { "rpc_gave_up", "total.rpc_gave_up" },
	{ "no_quorum", "total.no_quorum" }, { "repl_applied", "total.repl_applied" },
};

static void json_members(struct weftctl_json *j, const struct weftctl_members *m)
{
	weftctl_json_kv_text(j, "view", m->view);
	weftctl_json_kv_str(j, "coordinator", m->coord);
	weftctl_json_key(j, "members");
	weftctl_json_arr_begin(j);
	for (size_t i = 0; i < m->n; i++) {
		const struct weftctl_member_row *r = &m->rows[i];
		weftctl_json_obj_begin(j);
		weftctl_json_kv_str(j, "name", r->f[0]);
		weftctl_json_kv_str(j, "address", r->f[1]);
		weftctl_json_kv_str(j, "state", r->f[2]);
		weftctl_json_kv_text(j, "uptime_s", r->f[3]);
		weftctl_json_kv_text(j, "node_id", r->f[4]);
		weftctl_json_obj_end(j);
	}
	weftctl_json_arr_end(j);
}

static void json_cache(void *ctx, const char *text, const char *name, const char *mode)
{
	struct weftctl_json *j = ctx;
	char key[WEFT_MAX_NAME_LEN + 32];
	weftctl_json_obj_begin(j);
	weftctl_json_kv_str(j, "name", name);
	weftctl_json_kv_str(j, "mode", mode);
	for (size_t i = 0; i < sizeof(cache_fields) / sizeof(cache_fields[0]); i++) {
		snprintf(key, sizeof(key), "cache.%s.%s", name, cache_fields[i]);
		weftctl_json_kv_u64(j, cache_fields[i], weftctl_stat_u(text, key));
	}
	weftctl_json_obj_end(j);
}

static void json_caches(struct weftctl_json *j, const char *stats)
{
	weftctl_json_key(j, "caches");
	weftctl_json_arr_begin(j);
	weftctl_each_cache(stats, json_cache, j);
	weftctl_json_arr_end(j);
}

static int finish(struct weftctl_json *j)
{
	return weftctl_json_finish(j) == 0 ? 0 : WEFTCTL_EXIT_ERROR;
}

/* Fetches STATS (and MEMBERS when members != NULL); 0 or the exit status
 * after printing why. */
static int fetch(weft_client *c, const char *server, const char *cmd, char **members,
		 char **stats)
{
	int rc = members ? weft_members(c, members, NULL) : 0;
	if (rc == 0) {
		rc = weft_stats(c, stats, NULL);
		if (rc != 0 && members)
			free(*members);
	}
	return rc == 0 ? 0 : weftctl_fail(server, cmd, c, rc);
}

int weftctl_members_cmd(weft_client *c, const char *server, bool json)
{
	char *text;
	int rc = weft_members(c, &text, NULL);
	if (rc != 0)
		return weftctl_fail(server, "members", c, rc);
	if (!json) {
		rc = weftctl_print_members(text);
		free(text);
		return rc;
	}
	struct weftctl_members *m = malloc(sizeof(*m));
	rc = WEFTCTL_EXIT_ERROR;
	if (m != NULL && weftctl_members_parse(text, m)) {
		struct weftctl_json j;
		weftctl_json_init(&j, stdout);
		weftctl_json_obj_begin(&j);
		json_members(&j, m);
		weftctl_json_obj_end(&j);
		rc = finish(&j);
	}
	free(m);
	free(text);
	return rc;
}

int weftctl_caches_cmd(weft_client *c, const char *server, bool json)
{
	char *stats;
	int rc = fetch(c, server, "caches", NULL, &stats);
	if (rc != 0)
		return rc;
	if (json) {
		struct weftctl_json j;
		weftctl_json_init(&j, stdout);
		weftctl_json_obj_begin(&j);
		json_caches(&j, stats);
		weftctl_json_obj_end(&j);
		rc = finish(&j);
	} else {
		weftctl_print_caches_text(stats);
		rc = fflush(stdout) == 0 ? 0 : WEFTCTL_EXIT_ERROR;
	}
	free(stats);
	return rc;
}

int weftctl_stats_cmd(weft_client *c, const char *server, bool json)
{
	char *text;
	size_t len;
	int rc = weft_stats(c, &text, &len);
	if (rc != 0)
		return weftctl_fail(server, "stats", c, rc);
	if (!json) {
		rc = len == 0 || fwrite(text, 1, len, stdout) == len ? 0 : WEFTCTL_EXIT_ERROR;
		free(text);
		return rc == 0 && fflush(stdout) == 0 ? 0 : WEFTCTL_EXIT_ERROR;
	}
	struct weftctl_json j;
	weftctl_json_init(&j, stdout);
	weftctl_json_obj_begin(&j);
	for (const char *p = text; p < text + len && *p;) {
		const char *nl = memchr(p, '\n', (size_t)(text + len - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
		const char *sp = memchr(p, ' ', ll);
		if (sp != NULL && sp > p) {
			char name[256], val[256];
			snprintf(name, sizeof(name), "%.*s", (int)(sp - p), p);
			snprintf(val, sizeof(val), "%.*s", (int)(ll - (size_t)(sp - p) - 1), sp + 1);
			weftctl_json_kv_text(&j, name, val);
		}
		p += ll + (nl != NULL);
	}
	weftctl_json_obj_end(&j);
	free(text);
	return finish(&j);
}

static int json_status(const struct weftctl_members *m, const char *stats)
{
	struct weftctl_json j;
	weftctl_json_init(&j, stdout);
	weftctl_json_obj_begin(&j);
	json_members(&j, m);
	weftctl_json_key(&j, "rebalance");
	weftctl_json_obj_begin(&j);
	weftctl_json_kv_str(&j, "state", weftctl_stat_u(stats, "rebalance.moves_pending")
				       ? "in_progress" : "idle");
	static const char *const rb[] = { "view", "moves_pending", "moves_done",
					  "last_duration_ms", "entries_sent", "bytes_sent",
					  "retransmits" };
	for (size_t i = 0; i < sizeof(rb) / sizeof(rb[0]); i++) {
		char key[64];
		snprintf(key, sizeof(key), "rebalance.%s", rb[i]);
		weftctl_json_kv_u64(&j, rb[i], weftctl_stat_u(stats, key));
	}
	weftctl_json_key(&j, "handoff");
	weftctl_json_bool(&j, weftctl_stat_u(stats, "rebalance.handoff") != 0);
	weftctl_json_obj_end(&j);
	json_caches(&j, stats);
	weftctl_json_key(&j, "requests");
	weftctl_json_obj_begin(&j);
	for (size_t i = 0; i < sizeof(req_fields) / sizeof(req_fields[0]); i++)
		weftctl_json_kv_u64(&j, req_fields[i][0], weftctl_stat_u(stats, req_fields[i][1]));
	weftctl_json_obj_end(&j);
	weftctl_json_obj_end(&j);
	return finish(&j);
}

int weftctl_status_cmd(weft_client *c, const char *server, bool json)
{
	char *members, *stats;
	int rc = fetch(c, server, "status", &members, &stats);
	if (rc != 0)
		return rc;
	if (!json) {
		rc = weftctl_print_status_text(members, stats);
	} else {
		struct weftctl_members *m = malloc(sizeof(*m));
		rc = m != NULL && weftctl_members_parse(members, m) ? json_status(m, stats)
								     : WEFTCTL_EXIT_ERROR;
		free(m);
	}
	free(members);
	free(stats);
	return rc;
}
