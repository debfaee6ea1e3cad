/*
 * weftctl_print.h — weftctl's printers of what a node answers. Text:
 * the TOPOLOGY table (weftctl_topo.c), the MEMBERS view, the caches and
 * the `status` summary (weftctl_status.c) — both files need only libweft
 * (the fuzz target fuzz_client_wire links them alone). The commands with
 * --json (weftctl_status_json.c, weftctl_topo_json.c) and `rebalance
 * [--wait]` (weftctl_rebalance.c). Every *_cmd returns the exit status
 * (weftctl_cli.h), failures printed in weftctl_fail's form.
 */
#ifndef WEFTCTL_PRINT_H
#define WEFTCTL_PRINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <weft/weft.h>

/* --- text (weftctl_topo.c, weftctl_status.c) ------------------------------ */

/* Prints t to f: a header line with the epoch, the members with their
 * primary and backup segment counts, then runs of consecutive segments
 * with the same owners. cache (may be NULL) is only named: one table
 * serves every cache. Returns 0, or 2 when writing f failed. */
int weftctl_print_topology(FILE *f, const struct weft_topology *t, const char *cache);
/* A node id as 8-4-4-4-12 hex. */
void weftctl_id_text(const uint8_t id[16], char out[37]);
/* Whether segments a and b of t have the same owners (in order). */
bool weftctl_same_owners(const struct weft_topology *t, size_t a, size_t b);

#define WEFTCTL_MAX_MEMBERS 1024

/* One member line of the MEMBERS text, split in place: name, address,
 * state, uptime_s, node id. */
struct weftctl_member_row {
	char *f[5];
};
struct weftctl_members {
	char view[32], coord[80];
	struct weftctl_member_row rows[WEFTCTL_MAX_MEMBERS];
	size_t n;
};

/* Splits the MEMBERS text (in place; rows point into it) into m. false
 * (printed) when its header is not what wire.h specifies. */
bool weftctl_members_parse(char *text, struct weftctl_members *m);

/* Prints the MEMBERS text (modified in place) as "view N, coordinator
 * NAME, K members" and an aligned table. 0, or 2 when the text is not what
 * wire.h specifies or writing stdout failed. */
int weftctl_print_members(char *text);

/* The unsigned value of STATS line `name` in text, 0 when absent. */
unsigned long long weftctl_stat_u(const char *text, const char *name);

/* Calls fn(ctx, text, name, mode) for each cache the STATS text names
 * (its "cache.<name>.mode" line; mode "-" when unreadable). */
typedef void weftctl_cache_fn(void *ctx, const char *text, const char *name, const char *mode);
void weftctl_each_cache(const char *text, weftctl_cache_fn *fn, void *ctx);

/* The caches of a STATS text as a table ("caches: none" without any). */
void weftctl_print_caches_text(const char *stats);

/* The `status` summary from a MEMBERS text (modified) and a STATS text:
 * the view, rebalancing progress, caches (mode, entries, bytes) and
 * cluster counters. 0, or 2 (MEMBERS malformed, stdout failed). */
int weftctl_print_status_text(char *members, const char *stats);

/* Fetches MEMBERS and STATS of c's node and prints the summary; a failed
 * call is printed as "weftctl: status: STATUS: text" (2). */
int weftctl_print_status(weft_client *c);

/* --- commands (weftctl_status_json.c, weftctl_topo_json.c) ------------------ */

int weftctl_members_cmd(weft_client *c, const char *server, bool json);
int weftctl_status_cmd(weft_client *c, const char *server, bool json);
int weftctl_caches_cmd(weft_client *c, const char *server, bool json);
int weftctl_stats_cmd(weft_client *c, const char *server, bool json);
/* t as one JSON object (docs/client.md). 0, or 2 when writing failed. */
int weftctl_print_topology_json(FILE *f, const struct weft_topology *t);

/* --- rebalance (weftctl_rebalance.c) ------------------------------------- */

/* `weftctl rebalance [--wait [--timeout S]]`: the node's rebalancing
 * progress once, or (wait) until it is idle — a progress bar when stdout
 * is a terminal, one line per change otherwise. wait_ms bounds the wait.
 * Exit: 0 idle, 3 no answer, 2 refused, 4 the wait ran out of time. */
int weftctl_rebalance(weft_client *c, const char *server, bool wait, uint64_t wait_ms,
		      bool json);

/* One progress line into buf: plain "rebalance: P% (D/T segment moves,
 * view V)" or (bar) "rebalance [####------] P% D/T segment moves, view V".
 * T = done + pending; T = 0 is 100%. Pure. */
void weftctl_rebalance_line(char *buf, size_t cap, uint64_t done, uint64_t pending,
			    uint64_t view, bool bar);

#endif
