/*
 * weftctl_status.c — weftctl's view of one node: the MEMBERS table and the
 * `status` summary (view, rebalancing progress, caches by mode, cluster
 * counters), read from MEMBERS and STATS. Printing only: a line missing
 * from an older node's STATS is shown as "-".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weftctl_print.h"

/* One member line of the MEMBERS text, split in place. */
struct member_row {
	char *f[5]; /* name, address, state, uptime_s, node id */
};

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

/* Prints the MEMBERS text as "view N, coordinator NAME" and an aligned
 * table. Returns 0, or 2 when the text is not what wire.h specifies. */
int weftctl_print_members(char *text)
{
	char *save = NULL;
	char *line = strtok_r(text, "\n", &save);
	char view[32], coord[80];
	if (line == NULL || sscanf(line, "view %31s coordinator %79s", view, coord) != 2) {
		fprintf(stderr, "weftctl: unexpected MEMBERS answer\n");
		return 2;
	}
	struct member_row rows[1024];
	size_t n = 0, w[5] = {4, 7, 5, 6, 7};
	while ((line = strtok_r(NULL, "\n", &save)) != NULL && n < 1024) {
		char *fs = NULL;
		struct member_row *r = &rows[n];
		size_t k = 0;
		for (char *t = strtok_r(line, " ", &fs); t && k < 5; t = strtok_r(NULL, " ", &fs))
			r->f[k++] = t;
		if (k != 5)
			continue;
		for (k = 0; k < 5; k++)
			if (k != 3 && strlen(r->f[k]) > w[k])
				w[k] = strlen(r->f[k]);
		n++;
	}
	printf("view %s, coordinator %s, %zu member%s\n", view, coord, n, n == 1 ? "" : "s");
	printf("%-*s  %-*s  %-*s  %*s  %s\n", (int)w[0], "NAME", (int)w[1], "ADDRESS", (int)w[2],
	       "STATE", (int)w[3], "UPTIME", "NODE ID");
	for (size_t i = 0; i < n; i++) {
		char up[32];
		fmt_uptime(rows[i].f[3], up, sizeof(up));
		printf("%-*s  %-*s  %-*s  %*s  %s\n", (int)w[0], rows[i].f[0], (int)w[1], rows[i].f[1],
		       (int)w[2], rows[i].f[2], (int)w[3], up, rows[i].f[4]);
	}
	return fflush(stdout) == 0 ? 0 : 2;
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

static unsigned long long stat_u(const char *text, const char *name)
{
	char v[32];
	return stat_of(text, name, v, sizeof(v)) ? strtoull(v, NULL, 10) : 0;
}

/* Prints one line per cache: "cache.<name>.mode <mode>" lines name them. */
static void print_caches(const char *text)
{
	int n = 0;
	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "cache.", 6) != 0)
			continue;
		const char *end = strstr(p, ".mode ");
		const char *eol = strchr(p, '\n');
		if (end == NULL || (eol != NULL && end > eol))
			continue;
		char name[80], key[128], mode[32] = "-";
		size_t nl = (size_t)(end - (p + 6));
		if (nl >= sizeof(name))
			continue;
		memcpy(name, p + 6, nl);
		name[nl] = '\0';
		snprintf(key, sizeof(key), "cache.%s.mode", name);
		if (stat_of(text, key, mode, sizeof(mode)) == NULL)
			snprintf(mode, sizeof(mode), "-");
		if (n++ == 0)
			printf("caches:\n  %-24s %-12s %12s %14s\n", "NAME", "MODE", "ENTRIES", "BYTES");
		snprintf(key, sizeof(key), "cache.%s.entries", name);
		unsigned long long entries = stat_u(text, key);
		snprintf(key, sizeof(key), "cache.%s.bytes", name);
		printf("  %-24s %-12s %12llu %14llu\n", name, mode, entries, stat_u(text, key));
	}
	if (n == 0)
		printf("caches: none\n");
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
		fprintf(stderr, "weftctl: status: %s\n", weft_strerror(rc));
		return 2;
	}
	int prc = weftctl_print_members(members);
	free(members);
	unsigned long long pending = stat_u(stats, "rebalance.moves_pending");
	printf("rebalance: %s (view %llu): %llu move%s pending, %llu done; last took %llu ms; "
	       "%llu entries, %llu bytes sent since start%s\n",
	       pending ? "in progress" : "idle", stat_u(stats, "rebalance.view"), pending,
	       pending == 1 ? "" : "s", stat_u(stats, "rebalance.moves_done"),
	       stat_u(stats, "rebalance.last_duration_ms"), stat_u(stats, "rebalance.entries_sent"),
	       stat_u(stats, "rebalance.bytes_sent"),
	       stat_u(stats, "rebalance.handoff") ? "; handing segments over (stopping)" : "");
	print_caches(stats);
	printf("requests: forwarded %llu, held for replication %llu, node rpc retransmits %llu, "
	       "gave up %llu, refused without quorum %llu, replicas applied %llu\n",
	       stat_u(stats, "total.forwarded"), stat_u(stats, "total.replicated"),
	       stat_u(stats, "total.rpc_retransmits"), stat_u(stats, "total.rpc_gave_up"),
	       stat_u(stats, "total.no_quorum"), stat_u(stats, "total.repl_applied"));
	free(stats);
	return prc != 0 ? prc : (fflush(stdout) == 0 ? 0 : 2);
}
