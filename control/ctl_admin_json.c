/*
 * ctl_admin_json.c — the admin plane's JSON documents (/api/<what>), each
 * rendered from one snapshot (ctl_admin.c), and the /health verdict.
 *
 * Every document is an object {"node": NAME, "taken_unix_ms": T, <what>: ...}
 * (docs/admin.md lists the fields). Numbers are the node's unsigned
 * counters; strings are escaped by adm_json_str. A part the snapshot could
 * not read renders as null, never as a made-up empty list.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl_admin_internal.h"

static const char *const state_names[] = {"alive", "suspect", "dead", "left"};

/* The value of STATS line name in s, or false. */
static bool stat_of(const struct adm_snap *s, const char *name, uint64_t *v)
{
	struct adm_line l;
	size_t pos = 0, n = strlen(name);
	while (s->stats && adm_next_line(s->stats, s->stats_len, &pos, &l))
		if (l.name_len == n && memcmp(l.name, name, n) == 0)
			return adm_u64(l.value, l.value_len, v);
	return false;
}

bool adm_health(const struct adm_snap *s, uint64_t now_ms, const char **reason)
{
	const struct weft_dp_members *m = s ? s->members : NULL;
	uint64_t handoff = 0;
	if (s == NULL)
		*reason = "starting: no snapshot yet";
	else if (now_ms > s->mono_ms + ADM_STALE_MS)
		*reason = "admin snapshot stale: the node is not answering its admin";
	else if (!s->dp_ok)
		*reason = "dataplane not answering (in-node PING failed)";
	else if (s->clustered && (m == NULL || m->view == 0))
		*reason = "not in a cluster view yet";
	else if (s->clustered && m->self == WEFT_DP_SELF_NONE)
		*reason = "this node is not a member of its view (joining)";
	else if (s->clustered && m->m[m->self].state != WEFT_DP_MEMBER_ALIVE)
		*reason = "this node is not alive in its view";
	else if (s->clustered && m->no_quorum)
		*reason = "no quorum: this side of a partition refuses writes";
	else if (stat_of(s, "rebalance.handoff", &handoff) && handoff != 0)
		*reason = "stopping: handing its segments over (graceful stop)";
	else {
		*reason = "ok";
		return true;
	}
	return false;
}

static void key(struct adm_buf *b, bool *first, const char *k)
{
	adm_put(b, "%s\"%s\":", *first ? "" : ",", k);
	*first = false;
}

static void jstr(struct adm_buf *b, const char *s)
{
	adm_json_str(b, s, strlen(s));
}

/* ":value" of a STATS line: a number when it is one, else a string. */
static void stat_value(struct adm_buf *b, const struct adm_line *l)
{
	uint64_t v;
	if (adm_u64(l->value, l->value_len, &v))
		adm_put(b, ":%" PRIu64, v);
	else {
		adm_mem(b, ":", 1);
		adm_json_str(b, l->value, l->value_len);
	}
}

static void ip_port(char *out, size_t cap, uint32_t ip, uint16_t port)
{
	const uint8_t *x = (const uint8_t *)&ip;
	snprintf(out, cap, "%u.%u.%u.%u:%u", x[0], x[1], x[2], x[3], port);
}

static void status_doc(struct adm_buf *b, const struct adm_snap *s, uint64_t now_ms)
{
	const char *why;
	bool ok = adm_health(s, now_ms, &why);
	adm_put(b, "{\"healthy\":%s,\"reason\":", ok ? "true" : "false");
	jstr(b, why);
	adm_put(b, ",\"clustered\":%s,\"dataplane_up\":%s,\"snapshot_age_ms\":%" PRIu64 "}",
		s->clustered ? "true" : "false", s->dp_ok ? "true" : "false",
		now_ms > s->mono_ms ? now_ms - s->mono_ms : 0);
}

static void members_doc(struct adm_buf *b, const struct adm_snap *s)
{
	const struct weft_dp_members *m = s->members;
	if (m == NULL) {
		adm_put(b, "null");
		return;
	}
	uint32_t alive = 0;
	for (uint32_t i = 0; i < m->n; i++)
		alive += m->m[i].state == WEFT_DP_MEMBER_ALIVE;
	adm_put(b, "{\"view\":%" PRIu64 ",\"coordinator\":", m->view);
	jstr(b, m->m[m->coordinator].name);
	adm_put(b, ",\"self\":");
	if (m->self == WEFT_DP_SELF_NONE)
		adm_put(b, "null");
	else
		jstr(b, m->m[m->self].name);
	adm_put(b, ",\"no_quorum\":%s,\"alive\":%u,\"members\":[", m->no_quorum ? "true" : "false",
		alive);
	for (uint32_t i = 0; i < m->n; i++) {
		const struct weft_dp_member *x = &m->m[i];
		char addr[24];
		ip_port(addr, sizeof(addr), x->ip, x->port);
		adm_put(b, "%s{\"name\":", i ? "," : "");
		jstr(b, x->name);
		adm_put(b, ",\"id\":");
		jstr(b, x->id);
		adm_put(b, ",\"address\":\"%s\",\"state\":\"%s\",\"uptime_s\":%" PRIu64
			",\"coordinator\":%s,\"self\":%s}",
			addr, x->state < 4 ? state_names[x->state] : "unknown",
			x->start_unix_ms && s->unix_ms > x->start_unix_ms
				? (s->unix_ms - x->start_unix_ms) / 1000 : 0,
			i == m->coordinator ? "true" : "false", i == m->self ? "true" : "false");
	}
	adm_put(b, "]}");
}

static void topology_doc(struct adm_buf *b, const struct adm_snap *s)
{
	const struct weft_topology *t = s->topo;
	if (t == NULL) {
		adm_put(b, "null");
		return;
	}
	adm_put(b, "{\"epoch\":%u,\"segments\":%u,\"owners\":%u,\"members\":[", t->epoch,
		t->n_segments, t->owners);
	for (uint16_t i = 0; i < t->n_members; i++) {
		char addr[24];
		uint32_t prim = 0, backup = 0;
		for (uint32_t seg = 0; t->owners && seg < t->n_segments; seg++)
			for (uint16_t k = 0; k < t->owners; k++)
				if (t->owner[(size_t)seg * t->owners + k] == i)
					*(k == 0 ? &prim : &backup) += 1;
		ip_port(addr, sizeof(addr), t->members[i].ip, t->members[i].port);
		adm_put(b, "%s{\"name\":", i ? "," : "");
		jstr(b, t->members[i].name);
		adm_put(b, ",\"address\":\"%s\",\"primary\":%u,\"backup\":%u}", addr, prim, backup);
	}
	adm_put(b, "],\"table\":[");
	for (uint32_t seg = 0; t->owners && seg < t->n_segments; seg++) {
		adm_put(b, "%s[", seg ? "," : "");
		for (uint16_t k = 0; k < t->owners; k++)
			adm_put(b, "%s%u", k ? "," : "", t->owner[(size_t)seg * t->owners + k]);
		adm_put(b, "]");
	}
	adm_put(b, "]}");
}

/* The caches of the STATS text: cache.<name>.<field> lines, grouped by
 * name in the order they come (weft_dp_stats_format writes one cache's
 * lines together). */
static void caches_doc(struct adm_buf *b, const struct adm_snap *s)
{
	if (s->stats == NULL) {
		adm_put(b, "null");
		return;
	}
	adm_put(b, "[");
	const char *cur = NULL;
	size_t cur_len = 0, pos = 0;
	struct adm_line l;
	while (adm_next_line(s->stats, s->stats_len, &pos, &l)) {
		if (l.name_len < 8 || memcmp(l.name, "cache.", 6) != 0)
			continue;
		const char *name = l.name + 6, *dot = NULL;
		for (const char *q = l.name + l.name_len; q > name; q--)
			if (q[-1] == '.') {
				dot = q - 1;
				break;
			}
		if (dot == NULL || dot == name)
			continue;
		size_t nn = (size_t)(dot - name);
		if (cur == NULL || cur_len != nn || memcmp(cur, name, nn) != 0) {
			adm_put(b, "%s{\"name\":", cur ? "}," : "");
			adm_json_str(b, name, nn);
			cur = name;
			cur_len = nn;
		}
		size_t fn = (size_t)(l.name + l.name_len - dot - 1);
		adm_mem(b, ",", 1);
		adm_json_str(b, dot + 1, fn);
		stat_value(b, &l);
	}
	adm_put(b, "%s]", cur ? "}" : "");
}

static void dests_doc(struct adm_buf *b, const struct adm_snap *s)
{
	if (s->dests == NULL) {
		adm_put(b, "null");
		return;
	}
	adm_put(b, "[");
	size_t pos = 0;
	bool first = true;
	const char *tok[32];
	size_t tl[32];
	unsigned k;
	while (adm_next_tokens(s->dests, s->dests_len, &pos, tok, tl, 32, &k)) {
		if (k < 2)
			continue;
		adm_put(b, "%s{\"name\":", first ? "" : ",");
		first = false;
		adm_json_str(b, tok[0], tl[0]);
		adm_put(b, ",\"role\":");
		adm_json_str(b, tok[1], tl[1]);
		for (unsigned i = 2; i < k; i++) {
			const char *eq = memchr(tok[i], '=', tl[i]);
			uint64_t v;
			size_t vn = eq ? tl[i] - (size_t)(eq + 1 - tok[i]) : 0;
			if (eq == NULL || !adm_u64(eq + 1, vn, &v))
				continue;
			adm_mem(b, ",", 1);
			adm_json_str(b, tok[i], (size_t)(eq - tok[i]));
			adm_put(b, ":%" PRIu64, v);
		}
		adm_put(b, "}");
	}
	adm_put(b, "]");
}

const char *adm_member_name(const struct adm_snap *s, const char *id, size_t n)
{
	const struct weft_dp_members *m = s->members;
	for (uint32_t i = 0; m && i < m->n; i++)
		if (strlen(m->m[i].id) == n && memcmp(m->m[i].id, id, n) == 0)
			return m->m[i].name;
	return NULL;
}

/* APPS lines of one kind ("app", "daemon" or "job") as objects: name, then
 * the positional mode and state (daemons, jobs), then every "key value"
 * pair, numbers as numbers, "-" as null; an owner id gets owner_name. */
static void apps_doc(struct adm_buf *b, const struct adm_snap *s, const char *kind)
{
	if (s->apps == NULL) {
		adm_put(b, "null");
		return;
	}
	adm_put(b, "[");
	size_t pos = 0, kl = strlen(kind);
	bool first = true, is_app = strcmp(kind, "app") == 0;
	const char *tok[24];
	size_t tl[24];
	unsigned k;
	while (adm_next_tokens(s->apps, s->apps_len, &pos, tok, tl, 24, &k)) {
		unsigned pairs_from = is_app ? 2 : 4;
		if (k < pairs_from || tl[0] != kl || memcmp(tok[0], kind, kl) != 0)
			continue;
		adm_put(b, "%s{\"name\":", first ? "" : ",");
		first = false;
		adm_json_str(b, tok[1], tl[1]);
		if (!is_app) {
			adm_put(b, ",\"mode\":");
			adm_json_str(b, tok[2], tl[2]);
			adm_put(b, ",\"state\":");
			adm_json_str(b, tok[3], tl[3]);
		}
		for (unsigned i = pairs_from; i + 1 < k; i += 2) {
			adm_mem(b, ",", 1);
			adm_json_str(b, tok[i], tl[i]);
			adm_mem(b, ":", 1);
			uint64_t v;
			if (tl[i + 1] == 1 && tok[i + 1][0] == '-')
				adm_put(b, "null");
			else if (adm_u64(tok[i + 1], tl[i + 1], &v))
				adm_put(b, "%" PRIu64, v);
			else
				adm_json_str(b, tok[i + 1], tl[i + 1]);
			if (tl[i] == 5 && memcmp(tok[i], "owner", 5) == 0) {
				const char *who = adm_member_name(s, tok[i + 1], tl[i + 1]);
				adm_put(b, ",\"owner_name\":");
				if (who)
					jstr(b, who);
				else
					adm_put(b, "null");
			}
		}
		adm_put(b, "}");
	}
	adm_put(b, "]");
}

bool adm_point_of(const struct adm_snap *s, struct adm_point *p)
{
	if (s->stats == NULL)
		return false;
	p->unix_ms = s->unix_ms;
	p->ops = p->depth = 0;
	struct adm_line l;
	size_t pos = 0;
	uint64_t v;
	while (adm_next_line(s->stats, s->stats_len, &pos, &l))
		if (l.name_len > 10 && memcmp(l.name, "total.req.", 10) == 0 &&
		    adm_u64(l.value, l.value_len, &v))
			p->ops += v;
	pos = 0;
	const char *tok[3];
	size_t tl[3];
	unsigned k;
	while (adm_next_tokens(s->dests, s->dests_len, &pos, tok, tl, 3, &k))
		if (k == 3 && tl[1] == 7 && memcmp(tok[1], "primary", 7) == 0 && tl[2] > 6 &&
		    memcmp(tok[2], "depth=", 6) == 0 && adm_u64(tok[2] + 6, tl[2] - 6, &v))
			p->depth += v;
	return true;
}

static void history_doc(struct adm_buf *b, const struct adm_snap *s)
{
	adm_put(b, "{\"interval_ms\":1000,\"points\":[");
	for (unsigned i = 0; i < s->n_hist; i++)
		adm_put(b, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", i ? "," : "",
			s->hist[i].unix_ms, s->hist[i].ops, s->hist[i].depth);
	adm_put(b, "]}");
}

static void stats_doc(struct adm_buf *b, const struct adm_snap *s)
{
	if (s->stats == NULL) {
		adm_put(b, "null");
		return;
	}
	adm_put(b, "{");
	size_t pos = 0;
	bool first = true;
	struct adm_line l;
	while (adm_next_line(s->stats, s->stats_len, &pos, &l)) {
		adm_put(b, "%s", first ? "" : ",");
		first = false;
		adm_json_str(b, l.name, l.name_len);
		stat_value(b, &l);
	}
	adm_put(b, "}");
}

char *adm_json_render(const struct adm_snap *s, const char *what, uint64_t now_ms,
		      size_t *len)
{
	static const char *const names[] = {"status", "members", "topology", "caches", "destinations",
					    "apps", "daemons", "jobs", "stats", "history"};
	size_t w = 0;
	while (w < sizeof(names) / sizeof(names[0]) && strcmp(names[w], what) != 0)
		w++;
	if (w == sizeof(names) / sizeof(names[0])) {
		errno = ENOENT;
		return NULL;
	}
	struct adm_buf b = {0};
	bool first = true;
	adm_put(&b, "{");
	key(&b, &first, "node");
	jstr(&b, s->node_name);
	adm_put(&b, ",\"taken_unix_ms\":%" PRIu64 ",", s->unix_ms);
	jstr(&b, what);
	adm_mem(&b, ":", 1);
	switch (w) {
	case 0: status_doc(&b, s, now_ms); break;
	case 1: members_doc(&b, s); break;
	case 2: topology_doc(&b, s); break;
	case 3: caches_doc(&b, s); break;
	case 4: dests_doc(&b, s); break;
	case 5: apps_doc(&b, s, "app"); break;
	case 6: apps_doc(&b, s, "daemon"); break;
	case 7: apps_doc(&b, s, "job"); break;
	case 8: stats_doc(&b, s); break;
	default: history_doc(&b, s); break;
	}
	adm_put(&b, "}\n");
	return adm_take(&b, len);
}
