/*
 * ctl_admin_prom.c — the admin plane's /metrics: a snapshot (ctl_admin.c)
 * rendered in the Prometheus text exposition format 0.0.4.
 *
 * How: every source (STATS lines, the view, the segment table,
 * DESTINATIONS, APPS, the admin's own probe) adds samples — a family name,
 * its TYPE and HELP, and one finished "name{labels} value" line — to a
 * list; the list is then sorted by family (stably) and printed with one
 * HELP and TYPE per family. STATS lines are mapped by their prefix
 * (docs/admin.md, "Metrics"); a numeric line no rule knows still appears,
 * as weft_stat{stat="<name>"} (untyped), so new node counters are never
 * lost.
 *
 * Invariants: every family's samples are contiguous and follow its HELP
 * and TYPE lines; names match [a-zA-Z_][a-zA-Z0-9_]*; label values are
 * escaped (adm_prom_label_value); counters end in _total; a family's HELP
 * and TYPE are those of its first sample.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_admin_internal.h"

const double adm_probe_bounds[ADM_PROBE_BUCKETS] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
};

struct sample {
	size_t fam, help, line; /* offsets into the arena (NUL-terminated) */
	const char *famp;       /* = arena + fam, set once every sample is in */
	const char *type;
	size_t seq;
};

struct prom {
	struct adm_buf arena;
	struct sample *v;
	size_t n, cap;
	bool oom;
	struct adm_buf lab; /* labels being built: "{k=\"v\",...}" */
};

static void lab_reset(struct prom *p)
{
	p->lab.len = 0;
	adm_mem(&p->lab, "", 0);
}

static void lab(struct prom *p, const char *key, const char *val, size_t n)
{
	adm_mem(&p->lab, p->lab.len ? "," : "{", 1);
	adm_put(&p->lab, "%s=\"", key);
	adm_prom_label_value(&p->lab, val, n);
	adm_mem(&p->lab, "\"", 1);
}

static void lab_s(struct prom *p, const char *key, const char *val)
{
	lab(p, key, val, strlen(val));
}

/* Adds one sample of family fam (name = fam + suffix) with the labels
 * built since lab_reset, then resets them. */
static void add(struct prom *p, const char *fam, const char *type, const char *help,
		const char *suffix, const char *value)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		struct sample *v = realloc(p->v, cap * sizeof(*v));
		if (v == NULL) {
			p->oom = true;
			lab_reset(p);
			return;
		}
		p->v = v;
		p->cap = cap;
	}
	struct sample *s = &p->v[p->n];
	s->type = type;
	s->seq = p->n;
	s->fam = p->arena.len;
	adm_mem(&p->arena, fam, strlen(fam) + 1);
	s->help = p->arena.len;
	adm_mem(&p->arena, help, strlen(help) + 1);
	s->line = p->arena.len;
	adm_put(&p->arena, "%s%s%s%s %s\n", fam, suffix,
		p->lab.len ? p->lab.p : "", p->lab.len ? "}" : "", value);
	adm_mem(&p->arena, "", 1);
	p->n++;
	lab_reset(p);
}

static void add_u(struct prom *p, const char *fam, const char *type, const char *help,
		  uint64_t v)
{
	char num[24];
	snprintf(num, sizeof(num), "%" PRIu64, v);
	add(p, fam, type, help, "", num);
}

static void add_d(struct prom *p, const char *fam, const char *type, const char *help,
		  const char *suffix, double v)
{
	char num[40];
	snprintf(num, sizeof(num), "%.15g", v);
	add(p, fam, type, help, suffix, num);
}

/* --- STATS lines ------------------------------------------------------------ */

static bool starts(const struct adm_line *l, const char *pre)
{
	size_t n = strlen(pre);
	return l->name_len > n && memcmp(l->name, pre, n) == 0;
}

static const char *const stat_gauges[] = {
	"reasm.entries", "reasm.bytes", "reasm.sources", "resp.entries", "resp.bytes",
	"dedup.entries", "dedup.inflight", "ctl.rx_waiting", "ctl.frag.entries",
	"arp.entries", "rebalance.view", "rebalance.moves_pending", "rebalance.moves_done",
	"rebalance.handoff", "auth.cluster_key", "auth.encrypt", "auth.client_key",
};
static const char *const generic_prefixes[] = {
	"reasm.", "resp.", "dedup.", "ctl.", "arp.", "rebalance.", "sessions_service.", "auth.",
};

static bool is_gauge(const struct adm_line *l)
{
	for (size_t i = 0; i < sizeof(stat_gauges) / sizeof(stat_gauges[0]); i++)
		if (strlen(stat_gauges[i]) == l->name_len &&
		    memcmp(stat_gauges[i], l->name, l->name_len) == 0)
			return true;
	return false;
}

/* A family name and a help text built from a STATS name. */
static void named(struct prom *p, const char *pre, const char *raw, size_t n, bool counter,
		  const char *help_fmt, const struct adm_line *l, const char *value)
{
	struct adm_buf fam = {0}, help = {0};
	adm_prom_name(&fam, pre, raw, n, counter ? "_total" : "");
	adm_put(&help, help_fmt, (int)l->name_len, l->name);
	if (!fam.oom && !help.oom)
		add(p, fam.p, counter ? "counter" : "gauge", help.p, "", value);
	else
		p->oom = true;
	adm_buf_free(&fam);
	adm_buf_free(&help);
}

/* lcore.N.latency_us.KIND.{le_US,le_inf,count,sum} (rest = "KIND.FIELD",
 * lcore label set): one sample of weft_request_duration_seconds, buckets
 * cumulative as the node writes them. */
static void latency_line(struct prom *p, const char *rest, size_t rn, const char *num)
{
	static const char help[] = "Latency of client reads (GET, MULTI_GET) and keyed writes, "
				   "from the receive burst to the answer, per worker lcore "
				   "(STATS lcore.N.latency_us.KIND.*)";
	static const char fam[] = "weft_request_duration_seconds";
	const char *dot = memchr(rest, '.', rn);
	if (dot == NULL || dot == rest) {
		lab_reset(p);
		return;
	}
	const char *f = dot + 1;
	size_t fn = (size_t)(rest + rn - f);
	lab(p, "kind", rest, (size_t)(dot - rest));
	uint64_t v = strtoull(num, NULL, 10);
	if (fn == 6 && memcmp(f, "le_inf", 6) == 0) {
		lab_s(p, "le", "+Inf");
		add(p, fam, "histogram", help, "_bucket", num);
	} else if (fn > 3 && memcmp(f, "le_", 3) == 0) {
		uint64_t us;
		if (!adm_u64(f + 3, fn - 3, &us)) {
			lab_reset(p);
			return;
		}
		char le[40];
		snprintf(le, sizeof(le), "%.15g", (double)us / 1e6);
		lab_s(p, "le", le);
		add(p, fam, "histogram", help, "_bucket", num);
	} else if (fn == 5 && memcmp(f, "count", 5) == 0) {
		add(p, fam, "histogram", help, "_count", num);
	} else if (fn == 3 && memcmp(f, "sum", 3) == 0) {
		add_d(p, fam, "histogram", help, "_sum", (double)v / 1e6);
	} else {
		lab_reset(p);
	}
}

static void lcore_line(struct prom *p, const struct adm_line *l, const char *num)
{
	const char *id = l->name + 6, *end = l->name + l->name_len;
	const char *dot = memchr(id, '.', (size_t)(end - id));
	if (dot == NULL || dot == id)
		return;
	const char *rest = dot + 1;
	size_t rn = (size_t)(end - rest);
	lab(p, "lcore", id, (size_t)(dot - id));
	if (rn > 11 && memcmp(rest, "latency_us.", 11) == 0) {
		latency_line(p, rest + 11, rn - 11, num);
	} else if (rn > 4 && memcmp(rest, "req.", 4) == 0) {
		lab(p, "op", rest + 4, rn - 4);
		add(p, "weft_lcore_requests_total", "counter",
		    "Requests served by a worker lcore, by opcode (STATS lcore.N.req.OP)", "", num);
	} else if (rn > 5 && memcmp(rest, "drop.", 5) == 0) {
		lab(p, "reason", rest + 5, rn - 5);
		add(p, "weft_lcore_drops_total", "counter",
		    "Packets a worker lcore dropped, by reason (STATS lcore.N.drop.REASON)", "",
		    num);
	} else if (rn > 13 && memcmp(rest, "auth_refused_", 13) == 0) {
		lab(p, "reason", rest + 13, rn - 13);
		add(p, "weft_lcore_auth_refused_total", "counter",
		    "Datagrams a worker lcore refused authentication, by reason "
		    "(STATS lcore.N.auth_refused_REASON)", "", num);
	} else {
		named(p, "weft_lcore_", rest, rn, true, "Per-lcore counter (STATS %.*s)", l, num);
	}
}

static void cache_line(struct prom *p, const struct adm_line *l, const char *num)
{
	const char *name = l->name + 6, *end = l->name + l->name_len, *dot = NULL;
	for (const char *q = end; q > name; q--)
		if (q[-1] == '.') {
			dot = q - 1;
			break;
		}
	if (dot == NULL || dot == name)
		return;
	const char *f = dot + 1;
	size_t fn = (size_t)(end - f);
	lab(p, "cache", name, (size_t)(dot - name));
	if (fn == 4 && memcmp(f, "mode", 4) == 0) {
		lab(p, "mode", l->value, l->value_len);
		add(p, "weft_cache_info", "gauge", "A cache this node holds, with its mode (1)", "",
		    "1");
		return;
	}
	if (num == NULL) {
		lab_reset(p);
		return;
	}
	static const char *const gauges[] = {"entries", "tombstones", "bytes", "max_bytes"};
	bool gauge = false;
	for (size_t i = 0; i < 4; i++)
		gauge |= strlen(gauges[i]) == fn && memcmp(gauges[i], f, fn) == 0;
	named(p, "weft_cache_", f, fn, !gauge, "Per-cache value (STATS %.*s)", l, num);
}

/* The memcached endpoint's lines (docs/memcached.md): mc.port, mc.cache,
 * mc.lcore.N.cmd.OP and mc.lcore.N.<counter>; the mc.total.* sums are
 * left out, as total.* are. */
static void mc_line(struct prom *p, const struct adm_line *l, const char *num)
{
	const char *end = l->name + l->name_len;
	if (starts(l, "mc.lcore.")) {
		const char *id = l->name + 9, *dot = memchr(id, '.', (size_t)(end - id));
		if (dot == NULL || dot == id || num == NULL)
			return;
		const char *rest = dot + 1;
		size_t rn = (size_t)(end - rest);
		lab(p, "lcore", id, (size_t)(dot - id));
		if (rn > 4 && memcmp(rest, "cmd.", 4) == 0) {
			lab(p, "command", rest + 4, rn - 4);
			add(p, "weft_memcached_commands_total", "counter",
			    "memcached commands a worker lcore received, by command "
			    "(STATS mc.lcore.N.cmd.CMD)", "", num);
		} else {
			named(p, "weft_memcached_", rest, rn, true,
			      "Per-lcore memcached endpoint counter (STATS %.*s)", l, num);
		}
	} else if (l->name_len == 8 && memcmp(l->name, "mc.cache", 8) == 0) {
		lab(p, "cache", l->value, l->value_len);
		add(p, "weft_memcached_info", "gauge",
		    "The memcached endpoint is on and serves this cache (1)", "", "1");
	} else if (l->name_len == 7 && memcmp(l->name, "mc.port", 7) == 0 && num != NULL) {
		add(p, "weft_memcached_port", "gauge", "UDP port of the memcached endpoint", "",
		    num);
	}
}

static void stats_samples(struct prom *p, const struct adm_snap *s)
{
	struct adm_line l;
	size_t pos = 0;
	while (s->stats && adm_next_line(s->stats, s->stats_len, &pos, &l)) {
		uint64_t v;
		char num[24];
		bool numeric = adm_u64(l.value, l.value_len, &v);
		if (numeric)
			snprintf(num, sizeof(num), "%" PRIu64, v);
		if (starts(&l, "cache.")) {
			cache_line(p, &l, numeric ? num : NULL);
			continue;
		}
		if (starts(&l, "mc.") && !starts(&l, "mc.total.")) {
			mc_line(p, &l, numeric ? num : NULL);
			continue;
		}
		if (!numeric)
			continue;
		if (starts(&l, "lcore.")) {
			lcore_line(p, &l, num);
		} else if (starts(&l, "total.drop.")) {
			lab(p, "reason", l.name + 11, l.name_len - 11);
			add(p, "weft_drops_total", "counter",
			    "Packets dropped by all worker lcores, by reason (STATS total.drop.REASON)",
			    "", num);
		} else if (starts(&l, "total.") || starts(&l, "mc.total.")) {
			continue; /* sums of the lcore.N series */
		} else if (starts(&l, "auth.refused_")) {
			lab(p, "reason", l.name + 13, l.name_len - 13);
			add(p, "weft_auth_refused_total", "counter",
			    "Datagrams refused authentication on both ports, by reason", "", num);
		} else if (starts(&l, "auth.cluster_port_refused_")) {
			lab(p, "reason", l.name + 26, l.name_len - 26);
			add(p, "weft_auth_cluster_port_refused_total", "counter",
			    "Datagrams refused authentication on the cluster port, by reason", "",
			    num);
		} else if (l.name_len == 26 && memcmp(l.name, "rebalance.last_duration_ms", 26) == 0) {
			add_d(p, "weft_rebalance_last_duration_seconds", "gauge",
			      "Duration of the last completed rebalance", "", (double)v / 1000.0);
		} else {
			bool generic = false;
			for (size_t i = 0; i < sizeof(generic_prefixes) / sizeof(char *); i++)
				generic |= starts(&l, generic_prefixes[i]);
			if (generic) {
				named(p, "weft_", l.name, l.name_len, !is_gauge(&l),
				      "Node value (STATS %.*s)", &l, num);
			} else {
				lab(p, "stat", l.name, l.name_len);
				add(p, "weft_stat", "untyped",
				    "A STATS line without a dedicated metric", "", num);
			}
		}
	}
}

/* --- the view and the segment table ------------------------------------------ */

static const char *const state_names[] = {"alive", "suspect", "dead", "left"};

static void view_samples(struct prom *p, const struct adm_snap *s, uint64_t now_ms)
{
	const char *why;
	add_u(p, "weft_healthy", "gauge", "1 when /health answers 200", adm_health(s, now_ms, &why));
	add_u(p, "weft_dataplane_up", "gauge", "1 when the node answered the admin's in-node PING",
	      s->dp_ok);
	add_u(p, "weft_clustered", "gauge", "1 when the node runs in a cluster", s->clustered);
	const struct weft_dp_members *m = s->members;
	if (m == NULL)
		return;
	add_u(p, "weft_view_id", "gauge", "The cluster view this node is in (0: none)", m->view);
	add_u(p, "weft_self_in_view", "gauge", "1 when this node is listed in its view",
	      m->self != WEFT_DP_SELF_NONE);
	add_u(p, "weft_no_quorum", "gauge",
	      "1 when --partition-handling quorum refuses writes on this side", m->no_quorum);
	uint64_t count[4] = {0};
	for (uint32_t i = 0; i < m->n; i++)
		if (m->m[i].state < 4)
			count[m->m[i].state]++;
	for (unsigned st = 0; st < 4; st++) {
		lab_s(p, "state", state_names[st]);
		add_u(p, "weft_members", "gauge", "Members of the view, by state", count[st]);
	}
	for (uint32_t i = 0; i < m->n; i++) {
		const struct weft_dp_member *x = &m->m[i];
		for (unsigned st = 0; st < 4; st++) {
			lab_s(p, "member", x->name);
			lab_s(p, "state", state_names[st]);
			add_u(p, "weft_member_state", "gauge",
			      "1 for the state of each member of the view, 0 for the others",
			      x->state == st);
		}
		char ip[16], addr[24];
		const uint8_t *b = (const uint8_t *)&x->ip;
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
		snprintf(addr, sizeof(addr), "%s:%u", ip, x->port);
		lab_s(p, "member", x->name);
		lab_s(p, "id", x->id);
		lab_s(p, "address", addr);
		lab_s(p, "coordinator", i == m->coordinator ? "true" : "false");
		lab_s(p, "self", i == m->self ? "true" : "false");
		add_u(p, "weft_member_info", "gauge", "A member of the view (1)", 1);
		lab_s(p, "member", x->name);
		add_d(p, "weft_member_uptime_seconds", "gauge", "Seconds since the member started", "",
		      x->start_unix_ms && s->unix_ms > x->start_unix_ms
			      ? (double)(s->unix_ms - x->start_unix_ms) / 1000.0 : 0.0);
	}
}

static void topo_samples(struct prom *p, const struct adm_snap *s)
{
	const struct weft_topology *t = s->topo;
	if (t == NULL)
		return;
	add_u(p, "weft_topology_epoch", "gauge", "View of the segment table", t->epoch);
	add_u(p, "weft_segments", "gauge", "Key segments", t->n_segments);
	add_u(p, "weft_segment_owners", "gauge", "Owners per segment (0: no table yet)", t->owners);
	for (uint16_t i = 0; i < t->n_members; i++) {
		uint64_t prim = 0, backup = 0;
		for (uint32_t seg = 0; t->owners && seg < t->n_segments; seg++)
			for (uint16_t k = 0; k < t->owners; k++)
				if (t->owner[(size_t)seg * t->owners + k] == i)
					*(k == 0 ? &prim : &backup) += 1;
		lab_s(p, "member", t->members[i].name);
		lab_s(p, "role", "primary");
		add_u(p, "weft_member_segments", "gauge", "Segments a member owns, by role", prim);
		lab_s(p, "member", t->members[i].name);
		lab_s(p, "role", "backup");
		add_u(p, "weft_member_segments", "gauge", "Segments a member owns, by role", backup);
	}
}

/* --- DESTINATIONS and APPS ------------------------------------------------------ */

static void dest_samples(struct prom *p, const struct adm_snap *s)
{
	static const char *const gauges[] = {"depth", "bytes", "inflight", "consumers", "waiting",
					     "subscriber_nodes", "subscriptions", "durable"};
	size_t pos = 0;
	const char *tok[32];
	size_t tl[32];
	unsigned k;
	while (adm_next_tokens(s->dests, s->dests_len, &pos, tok, tl, 32, &k)) {
		for (unsigned i = 2; i < k; i++) {
			const char *eq = memchr(tok[i], '=', tl[i]);
			uint64_t v;
			if (eq == NULL || !adm_u64(eq + 1, tl[i] - (size_t)(eq + 1 - tok[i]), &v))
				continue;
			size_t kn = (size_t)(eq - tok[i]);
			bool gauge = false;
			for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++)
				gauge |= strlen(gauges[g]) == kn && memcmp(gauges[g], tok[i], kn) == 0;
			struct adm_buf fam = {0};
			adm_prom_name(&fam, "weft_destination_", tok[i], kn, gauge ? "" : "_total");
			lab(p, "destination", tok[0], tl[0]);
			lab(p, "role", tok[1], tl[1]);
			if (!fam.oom)
				add_u(p, fam.p, gauge ? "gauge" : "counter",
				      "Per-destination value (DESTINATIONS, docs/messaging.md)", v);
			else
				p->oom = true;
			adm_buf_free(&fam);
		}
	}
}

/* The value after keyword key among tokens, or NULL. */
static const char *after(const char **tok, const size_t *tl, unsigned k, const char *key,
			 size_t *n)
{
	for (unsigned i = 4; i + 1 < k; i++)
		if (tl[i] == strlen(key) && memcmp(tok[i], key, tl[i]) == 0) {
			*n = tl[i + 1];
			return tok[i + 1];
		}
	return NULL;
}

static void add_ts(struct prom *p, const char *fam, const char *help, const char *kind,
		   const char *name, size_t nn, const char *v, size_t vn)
{
	uint64_t ms;
	if (v == NULL || !adm_u64(v, vn, &ms))
		return;
	lab(p, kind, name, nn);
	add_d(p, fam, "gauge", help, "", (double)ms / 1000.0);
}

static void app_samples(struct prom *p, const struct adm_snap *s)
{
	size_t pos = 0;
	const char *tok[24];
	size_t tl[24];
	unsigned k;
	while (adm_next_tokens(s->apps, s->apps_len, &pos, tok, tl, 24, &k)) {
		size_t vn = 0;
		if (k >= 5 && tl[0] == 3 && memcmp(tok[0], "app", 3) == 0) {
			add_ts(p, "weft_app_loaded_timestamp_seconds", "When an app was loaded", "app",
			       tok[1], tl[1], tok[3], tl[3]);
			continue;
		}
		bool daemon = k >= 4 && tl[0] == 6 && memcmp(tok[0], "daemon", 6) == 0;
		bool job = k >= 4 && tl[0] == 3 && memcmp(tok[0], "job", 3) == 0;
		if (!daemon && !job)
			continue;
		const char *kind = daemon ? "daemon" : "job";
		const char *owner = after(tok, tl, k, "owner", &vn);
		const char *who = owner ? adm_member_name(s, owner, vn) : NULL;
		lab(p, kind, tok[1], tl[1]);
		lab(p, "mode", tok[2], tl[2]);
		lab(p, "state", tok[3], tl[3]);
		if (who != NULL)
			lab_s(p, "owner", who);
		else
			lab(p, "owner", owner ? owner : "-", owner ? vn : 1);
		add(p, daemon ? "weft_daemon_info" : "weft_job_info", "gauge",
		    daemon ? "A daemon of a deployed app, its state and the member running it (1)"
			   : "A job of a deployed app, its state and the member running it (1)",
		    "", "1");
		const char *v = after(tok, tl, k, "epoch", &vn);
		uint64_t x;
		if (v && adm_u64(v, vn, &x)) {
			lab(p, kind, tok[1], tl[1]);
			add_u(p, daemon ? "weft_daemon_epoch" : "weft_job_epoch", "gauge",
			      "Fencing epoch of the singleton", x);
		}
		if (daemon)
			continue;
		v = after(tok, tl, k, "fires", &vn);
		if (v && adm_u64(v, vn, &x)) {
			lab(p, kind, tok[1], tl[1]);
			add_u(p, "weft_job_fires_total", "counter", "Times the job fired here", x);
		}
		v = after(tok, tl, k, "next", &vn);
		add_ts(p, "weft_job_next_fire_timestamp_seconds", "Next fire of the job", "job",
		       tok[1], tl[1], v, vn);
		v = after(tok, tl, k, "last", &vn);
		add_ts(p, "weft_job_last_fire_timestamp_seconds", "Last fire of the job", "job",
		       tok[1], tl[1], v, vn);
	}
}

/* --- the admin's own ------------------------------------------------------------ */

static void admin_samples(struct prom *p, const struct adm_snap *s, uint64_t now_ms)
{
	static const char ph[] = "Round trip of the admin's in-node PING to worker 0, once a "
				 "second";
	for (unsigned i = 0; i < ADM_PROBE_BUCKETS; i++) {
		char le[32];
		snprintf(le, sizeof(le), "%g", adm_probe_bounds[i]);
		lab_s(p, "le", le);
		char num[24];
		snprintf(num, sizeof(num), "%" PRIu64, s->probe_le[i]);
		add(p, "weft_probe_ping_seconds", "histogram", ph, "_bucket", num);
	}
	lab_s(p, "le", "+Inf");
	char num[24];
	snprintf(num, sizeof(num), "%" PRIu64, s->probe_count);
	add(p, "weft_probe_ping_seconds", "histogram", ph, "_bucket", num);
	add_d(p, "weft_probe_ping_seconds", "histogram", ph, "_sum", s->probe_sum_s);
	add(p, "weft_probe_ping_seconds", "histogram", ph, "_count", num);
	add_u(p, "weft_admin_collect_errors_total", "counter",
	      "Parts of a snapshot the admin could not read", s->collect_errors);
	add_u(p, "weft_admin_http_requests_total", "counter", "HTTP requests the admin answered",
	      s->http_requests);
	add_d(p, "weft_admin_snapshot_age_seconds", "gauge", "Age of the snapshot rendered", "",
	      now_ms > s->mono_ms ? (double)(now_ms - s->mono_ms) / 1000.0 : 0.0);
}

/* --- printing ------------------------------------------------------------------- */

static int by_family(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;
	int c = strcmp(x->famp, y->famp);
	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void help_text(struct adm_buf *b, const char *h)
{
	for (; *h; h++) {
		if (*h == '\\')
			adm_mem(b, "\\\\", 2);
		else if (*h == '\n')
			adm_mem(b, "\\n", 2);
		else
			adm_mem(b, h, 1);
	}
}

char *adm_prom_render(const struct adm_snap *s, uint64_t now_ms, size_t *len)
{
	struct prom p;
	memset(&p, 0, sizeof(p));
	lab_reset(&p);
	view_samples(&p, s, now_ms);
	stats_samples(&p, s);
	topo_samples(&p, s);
	dest_samples(&p, s);
	app_samples(&p, s);
	admin_samples(&p, s, now_ms);
	struct adm_buf out = {0};
	if (!p.oom && !p.arena.oom && !p.lab.oom) {
		for (size_t i = 0; i < p.n; i++)
			p.v[i].famp = p.arena.p + p.v[i].fam;
		qsort(p.v, p.n, sizeof(*p.v), by_family);
		const char *prev = NULL;
		for (size_t i = 0; i < p.n; i++) {
			const char *fam = p.v[i].famp;
			if (prev == NULL || strcmp(prev, fam) != 0) {
				adm_put(&out, "# HELP %s ", fam);
				help_text(&out, p.arena.p + p.v[i].help);
				adm_put(&out, "\n# TYPE %s %s\n", fam, p.v[i].type);
				prev = fam;
			}
			adm_put(&out, "%s", p.arena.p + p.v[i].line);
		}
	} else {
		out.oom = true;
	}
	free(p.v);
	adm_buf_free(&p.arena);
	adm_buf_free(&p.lab);
	return adm_take(&out, len);
}
