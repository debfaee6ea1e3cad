/*
 * ctl_admin_internal.h — the admin plane's private parts (ctl_admin*.c),
 * exposed for its unit test: the growable text buffer and escaping
 * (ctl_admin_text.c), the snapshot the collector thread takes
 * (ctl_admin.c), and the renderers that turn a snapshot into Prometheus
 * text (ctl_admin_prom.c), JSON (ctl_admin_json.c) and a health verdict.
 *
 * Renderers are pure: they read only the snapshot they are given (never
 * the dataplane), so any thread may call them, and a unit test can build a
 * snapshot by hand. Return-code rule: functions returning char * return a
 * malloc'd NUL-terminated text (length in *len) or NULL when out of memory.
 */
#ifndef WEFT_CTL_ADMIN_INTERNAL_H
#define WEFT_CTL_ADMIN_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

#include "dataplane.h"

/* --- ctl_admin_text.c: text building and escaping ------------------------ */

/* A growable NUL-terminated text. Once an allocation fails, oom stays set
 * and further appends do nothing (the caller checks oom once, at the end). */
struct adm_buf {
	char *p;
	size_t len, cap;
	bool oom;
};
__attribute__((format(printf, 2, 3))) void adm_put(struct adm_buf *b, const char *fmt, ...);
void adm_mem(struct adm_buf *b, const void *s, size_t n);
/* Hands the text over (*len set; NULL after oom, the buffer freed). */
char *adm_take(struct adm_buf *b, size_t *len);
void adm_buf_free(struct adm_buf *b);

/* Appends s[0..n) as a Prometheus label value (without the quotes): \ " and
 * newline escaped as \\ \" \n, other control bytes and bytes that are not
 * well-formed UTF-8 replaced by U+FFFD, so the result is always valid. */
void adm_prom_label_value(struct adm_buf *b, const char *s, size_t n);
/* Appends s[0..n) as a JSON string, quotes included (control bytes as
 * \u00XX, ill-formed UTF-8 as \ufffd). */
void adm_json_str(struct adm_buf *b, const char *s, size_t n);
/* Appends a metric name: prefix, then raw[0..n) with every byte outside
 * [A-Za-z0-9_] turned into '_', then suffix. */
void adm_prom_name(struct adm_buf *b, const char *prefix, const char *raw, size_t n,
		   const char *suffix);

/* One "name value" line of a STATS text (name: up to the last space). */
struct adm_line {
	const char *name, *value;
	size_t name_len, value_len;
};
/* Iterates over the lines of text[0..len): *pos starts at 0. Returns false
 * at the end. Lines without a space are skipped. */
bool adm_next_line(const char *text, size_t len, size_t *pos, struct adm_line *l);
/* Parses a whole unsigned decimal token. true on success. */
bool adm_u64(const char *s, size_t n, uint64_t *out);
/* Splits a line into space-separated tokens (at most max); returns how many. */
unsigned adm_tokens(const char *s, size_t n, const char **tok, size_t *tok_len, unsigned max);
/* Iterates over the lines of text[0..len) (DESTINATIONS, APPS: tokens and
 * key=value pairs), each split as adm_tokens does into at most max tokens,
 * their count in *k (0 for an empty line): *pos starts at 0. Returns false
 * at the end; a NULL text has no lines. */
bool adm_next_tokens(const char *text, size_t len, size_t *pos, const char **tok,
		     size_t *tok_len, unsigned max, unsigned *k);

/* --- the snapshot (ctl_admin.c takes it; renderers read it) -------------- */

/* Upper bounds (seconds) of the probe's latency histogram buckets. */
#define ADM_PROBE_BUCKETS 12u
extern const double adm_probe_bounds[ADM_PROBE_BUCKETS];

struct adm_snap;
/* One point of the history the console charts: at unix_ms, the node's
 * requests served so far (the sum of STATS total.req.*) and the messages
 * held by the destinations it is primary of (DESTINATIONS depth). */
#define ADM_HISTORY 300u /* points kept: 5 minutes at one a second */
struct adm_point {
	uint64_t unix_ms, ops, depth;
};
/* The point of s (its unix_ms): false when s has no STATS text. */
bool adm_point_of(const struct adm_snap *s, struct adm_point *p);

/* What the collector thread saw at one instant; immutable once published
 * and shared by reference count (ctl_admin.c). Any pointer may be NULL when
 * that part could not be read (counted in collect_errors). */
struct adm_snap {
	unsigned refs;               /* under the admin's lock */
	uint64_t unix_ms;            /* when it was taken (wall clock) */
	uint64_t mono_ms;            /* same instant, CLOCK_MONOTONIC */
	const char *node_name;       /* the admin's copy; outlives snapshots */
	bool clustered;
	bool dp_ok;                  /* the in-node PING was answered */
	char *stats;                 /* weft_dp_stats_format text */
	size_t stats_len;
	struct weft_dp_members *members; /* weft_dp_members_copy */
	struct weft_topology *topo;  /* TOPOLOGY over the in-node client */
	char *dests;                 /* DESTINATIONS text */
	size_t dests_len;
	char *apps;                  /* APPS text */
	size_t apps_len;
	/* The PING probe's round trips since the admin started (cumulative):
	 * probe_le[i] counts those <= adm_probe_bounds[i]. */
	uint64_t probe_le[ADM_PROBE_BUCKETS];
	uint64_t probe_count;
	double probe_sum_s;
	struct adm_point *hist;      /* the last n_hist points, oldest first, this
	                                snapshot's own last (malloc'd; may be NULL) */
	unsigned n_hist;
	uint64_t collect_errors;     /* parts that could not be read, cumulative */
	uint64_t http_requests;      /* served by the admin, cumulative */
};
/* Frees a snapshot's parts and the snapshot (refs is not looked at). */
void adm_snap_free(struct adm_snap *s);

/* --- renderers ------------------------------------------------------------- */

/* The name of the member of s's view whose node id is id[0..n), or NULL. */
const char *adm_member_name(const struct adm_snap *s, const char *id, size_t n);

/* The /health verdict of s at monotonic time now_ms: true when healthy;
 * *reason is a static string ("ok" or why not). Unhealthy: no snapshot yet
 * (s NULL), a snapshot older than ADM_STALE_MS, an unanswered PING, or,
 * clustered, no view yet, this node not listed alive in its view, no
 * quorum, or a graceful stop handing segments over (STATS
 * rebalance.handoff 1). */
#define ADM_STALE_MS 5000u
bool adm_health(const struct adm_snap *s, uint64_t now_ms, const char **reason);

/* Prometheus text exposition format 0.0.4 of s (ctl_admin_prom.c; the
 * metric names are in docs/admin.md). */
char *adm_prom_render(const struct adm_snap *s, uint64_t now_ms, size_t *len);

/* JSON documents (ctl_admin_json.c). what: "status", "members", "topology",
 * "caches", "destinations", "apps", "daemons", "jobs", "stats", "history".
 * NULL with
 * errno ENOENT for another name, ENOMEM. */
char *adm_json_render(const struct adm_snap *s, const char *what, uint64_t now_ms,
		      size_t *len);

/* The console page served at "/" (ctl_admin_console.c), NUL-terminated. */
extern const char adm_console_html[];

/* --- between the collector (ctl_admin.c) and the server (ctl_admin_http.c) - */

struct ctl_admin;
/* The latest snapshot with a reference taken (NULL before the first one).
 * Any thread; release with adm_snap_release. */
struct adm_snap *adm_snap_acquire(struct ctl_admin *a);
void adm_snap_release(struct ctl_admin *a, struct adm_snap *s);
/* Counts one answered HTTP request (shown in the next snapshot). */
void adm_count_request(struct ctl_admin *a);

/* The HTTP server listening on ip:port (network order ip, host order
 * port). NULL + errno (the bind's when it could not listen). */
struct MHD_Daemon;
struct MHD_Daemon *adm_http_start(struct ctl_admin *a, uint32_t ip, uint16_t port);
void adm_http_stop(struct MHD_Daemon *d);

#endif /* WEFT_CTL_ADMIN_INTERNAL_H */
