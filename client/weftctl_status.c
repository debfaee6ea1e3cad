/*
 * weftctl_status.c — weftctl's view of one node as text, read from MEMBERS
 * and STATS: the MEMBERS table, the caches and the `status` summary (view,
 * rebalancing progress, caches, cluster counters), and the MEMBERS / STATS
 * reading that weftctl_status_json.c (--json) shares. Printing only: a
 * line missing from an older node's STATS is shown as 0. Self-contained
 * (libweft only): the fuzz target fuzz_client_wire links it alone.
 *
 * Invariants: the MEMBERS text is split in place and never read past its
 * end; at most WEFTCTL_MAX_MEMBERS rows are kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weftctl_print.h"

static void fmt_uptime(const char *secs, char *out, size_t len)
{
	unsigned long long s = strtoull(secs, NULL, 10);
	if (s >= 86400)
		snprintf(out, len, "%llud%02lluh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, len, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, len, "%llum%02llus", s / 60, s % 60);
	else
		snprintf(out, len, "%llus", s);
}

bool weftctl_members_parse(char *text, struct weftctl_members *m)
{
	char *save = NULL;
	char *line = strtok_r(text, "\n", &save);
	m->n = 0;
	if (line == NULL || sscanf(line, "view %31s coordinator %79s", m->view, m->coord) != 2) {
		fprintf(stderr, "weftctl: members: unexpected MEMBERS answer\n");
		return false;
	}
	while ((line = strtok_r(NULL, "\n", &save)) != NULL && m->n < WEFTCTL_MAX_MEMBERS) {
		char *fs = NULL;
		struct weftctl_member_row *r = &m->rows[m->n];
		size_t k = 0;
		for (char *t = strtok_r(line, " ", &fs); t && k < 5; t = strtok_r(NULL, " ", &fs))
			r->f[k++] = t;
		if (k == 5)
			m->n++;
	}
	return true;
}

static void text_members(const struct weftctl_members *m)
{
	size_t w[5] = {4, 7, 5, 6, 7};
	for (size_t i = 0; i < m->n; i++)
		for (size_t k = 0; k < 5; k++)
			if (k != 3 && strlen(m->rows[i].f[k]) > w[k])
				w[k] = strlen(m->rows[i].f[k]);
	printf("view %s, coordinator %s, %zu member%s\n", m->view, m->coord, m->n,
	       m->n == 1 ? "" : "s");
	printf("%-*s  %-*s  %-*s  %*s  %s\n", (int)w[0], "NAME", (int)w[1], "ADDRESS", (int)w[2],
	       "STATE", (int)w[3], "UPTIME", "NODE ID");
	for (size_t i = 0; i < m->n; i++) {
		const struct weftctl_member_row *r = &m->rows[i];
		char up[32];
		fmt_uptime(r->f[3], up, sizeof(up));
		printf("%-*s  %-*s  %-*s  %*s  %s\n", (int)w[0], r->f[0], (int)w[1], r->f[1],
		       (int)w[2], r->f[2], (int)w[3], up, r->f[4]);
	}
}

int weftctl_print_members(char *text)
{
	struct weftctl_members *m = malloc(sizeof(*m));
	int rc = 2;
	if (m != NULL && weftctl_members_parse(text, m)) {
		text_members(m);
		rc = fflush(stdout) == 0 ? 0 : 2;
	}
	free(m);
	return rc;
}

/* The value of STATS line `name` ("name value\n"), or NULL. */
static const char *stat_of(const char *text, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);
	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, nl) == 0 && p[nl] == ' ') {
			const char *v = p + nl + 1;
			size_t n = strcspn(v, "\n");
			if (n >= len)
				n = len - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return out;
		}
	}
	return NULL;
}

unsigned long long weftctl_stat_u(const char *text, const char *name)
{
	char v[32];
	return stat_of(text, name, v, sizeof(v)) ? strtoull(v, NULL, 10) : 0;
}

void weftctl_each_cache(const char *text, weftctl_cache_fn *fn, void *ctx)
{
	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "cache.", 6) != 0)
			continue;
		const char *end = strstr(p, ".mode ");
		const char *eol = strchr(p, '\n');
		if (end == NULL || (eol != NULL && end > eol))
			continue;
		char name[WEFT_MAX_NAME_LEN + 1], key[WEFT_MAX_NAME_LEN + 32], mode[32] = "-";
		size_t nl = (size_t)(end - (p + 6));
		if (nl >= sizeof(name))
			continue;
		memcpy(name, p + 6, nl);
		name[nl] = '\0';
		snprintf(key, sizeof(key), "cache.%s.mode", name);
		if (stat_of(text, key, mode, sizeof(mode)) == NULL)
			snprintf(mode, sizeof(mode), "-");
		fn(ctx, text, name, mode);
	}
}

static void text_cache(void *ctx, const char *text, const char *name, const char *mode)
{
	int *n = ctx;
	char key[WEFT_MAX_NAME_LEN + 32];
	if ((*n)++ == 0)
		printf("caches:\n  %-24s %-12s %12s %14s\n", "NAME", "MODE", "ENTRIES", "BYTES");
	snprintf(key, sizeof(key), "cache.%s.entries", name);
	unsigned long long entries = weftctl_stat_u(text, key);
	snprintf(key, sizeof(key), "cache.%s.bytes", name);
	printf("  %-24s %-12s %12llu %14llu\n", name, mode, entries, weftctl_stat_u(text, key));
}

void weftctl_print_caches_text(const char *stats)
{
	int n = 0;
	weftctl_each_cache(stats, text_cache, &n);
	if (n == 0)
		printf("caches: none\n");
}

int weftctl_print_status_text(char *members, const char *stats)
{
	struct weftctl_members *m = malloc(sizeof(*m));
	if (m == NULL || !weftctl_members_parse(members, m)) {
		free(m);
		return 2;
	}
	text_members(m);
	free(m);
	unsigned long long pending = weftctl_stat_u(stats, "rebalance.moves_pending");
	printf("rebalance: %s (view %llu): %llu move%s pending, %llu done; last took %llu ms; "
	       "%llu entries, %llu bytes sent since start%s\n",
	       pending ? "in progress" : "idle", weftctl_stat_u(stats, "rebalance.view"), pending,
	       pending == 1 ? "" : "s", weftctl_stat_u(stats, "rebalance.moves_done"),
	       weftctl_stat_u(stats, "rebalance.last_duration_ms"),
	       weftctl_stat_u(stats, "rebalance.entries_sent"),
	       weftctl_stat_u(stats, "rebalance.bytes_sent"),
	       weftctl_stat_u(stats, "rebalance.handoff") ? "; handing segments over (stopping)"
							  : "");
	weftctl_print_caches_text(stats);
	printf("requests: forwarded %llu, held for replication %llu, node rpc retransmits %llu, "
	       "gave up %llu, refused without quorum %llu, replicas applied %llu\n",
	       weftctl_stat_u(stats, "total.forwarded"), weftctl_stat_u(stats, "total.replicated"),
	       weftctl_stat_u(stats, "total.rpc_retransmits"),
	       weftctl_stat_u(stats, "total.rpc_gave_up"), weftctl_stat_u(stats, "total.no_quorum"),
	       weftctl_stat_u(stats, "total.repl_applied"));
	return fflush(stdout) == 0 ? 0 : 2;
}

int weftctl_print_status(weft_client *c)
{
	char *members, *stats;
	int rc = weft_members(c, &members, NULL);
	if (rc == 0) {
		rc = weft_stats(c, &stats, NULL);
		if (rc != 0)
			free(members);
	}
	if (rc != 0) {
		fprintf(stderr, "weftctl: status: %s: %s\n", weft_status_name(rc), weft_strerror(rc));
		return 2;
	}
	rc = weftctl_print_status_text(members, stats);
	free(members);
	free(stats);
	return rc;
}
