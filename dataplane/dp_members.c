/*
 * dp_members.c — the topology snapshot: an immutable copy of the cluster
 * view and its segment table, published by the control thread through an
 * RCU pointer (dp->members), formatted as text (MEMBERS) or encoded as the
 * binary TOPOLOGY value by whichever lcore serves the request.
 *
 * Invariants:
 *  - a published snapshot is never written again; it is freed only through
 *    urcu_qsbr_call_rcu (a grace period after it was replaced) or by
 *    weft_dp_destroy (no reader left);
 *  - 1 <= n <= WEFT_DP_MEMBERS_MAX, coordinator < n, every name is
 *    NUL-terminated within its array;
 *  - the segment table lives in the same allocation (seg_owner points just
 *    past m[n]): owners <= min(n, WEFT_DP_OWNERS_MAX), every index < n and
 *    distinct within its segment; owners == 0 iff seg_owner == NULL;
 *  - dp->epoch is the low 32 bits of the published view, stored after the
 *    pointer (responses read it relaxed: a response may carry the previous
 *    epoch for a moment, never a future one).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>

#include "dp_internal.h"

struct dp_members {
	struct rcu_head rcu;
	struct weft_dp_members s;   /* flexible array last */
};

static const char *const state_names[] = {"alive", "suspect", "dead", "left"};

uint64_t dp_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void members_free_cb(struct rcu_head *head)
{
	free(caa_container_of(head, struct dp_members, rcu));
}

/* The segment table of snap is well formed (see the invariants). */
static bool table_valid(const struct weft_dp_members *snap)
{
	if (snap->seg_log2 > WEFT_DP_SEG_LOG2_MAX || snap->owners > WEFT_DP_OWNERS_MAX ||
	    snap->owners > snap->n || (snap->owners == 0) != (snap->seg_owner == NULL))
		return false;
	size_t n_seg = (size_t)1 << snap->seg_log2;
	for (size_t s = 0; s < n_seg; s++) {
		const uint16_t *o = snap->seg_owner + s * snap->owners;
		for (unsigned i = 0; i < snap->owners; i++) {
			if (o[i] >= snap->n)
				return false;
			for (unsigned j = 0; j < i; j++)
				if (o[j] == o[i])
					return false;
		}
	}
	return true;
}

int weft_dp_publish_members(struct weft_dp *dp, const struct weft_dp_members *snap)
{
	if (snap->n == 0 || snap->n > WEFT_DP_MEMBERS_MAX || snap->coordinator >= snap->n ||
	    (snap->self >= snap->n && snap->self != WEFT_DP_SELF_NONE) || !table_valid(snap))
		return -EINVAL;
	size_t table = snap->owners ? ((size_t)snap->owners << snap->seg_log2) : 0;
	size_t prev = snap->seg_prev != NULL ? (size_t)1 << snap->seg_log2 : 0;
	size_t bytes = sizeof(struct dp_members) + snap->n * sizeof(struct weft_dp_member) +
		       (table + prev) * sizeof(uint16_t);
	struct dp_members *m = malloc(bytes);
	if (m == NULL)
		return -ENOMEM;
	m->s.view = snap->view;
	m->s.coordinator = snap->coordinator;
	m->s.n = snap->n;
	m->s.self = snap->self;
	m->s.seg_log2 = snap->seg_log2;
	m->s.owners = snap->owners;
	m->s.no_quorum = snap->no_quorum;
	m->s.seg_owner = NULL;
	m->s.seg_prev = NULL;
	m->s.seg_prev_until_ms = snap->seg_prev_until_ms;
	uint16_t *t = (uint16_t *)(void *)&m->s.m[snap->n];
	if (table) {
		memcpy(t, snap->seg_owner, table * sizeof(uint16_t));
		m->s.seg_owner = t;
	}
	if (prev) {
		memcpy(t + table, snap->seg_prev, prev * sizeof(uint16_t));
		for (size_t i = 0; i < prev; i++)
			if (t[table + i] >= snap->n)
				t[table + i] = WEFT_DP_READ_THROUGH_NONE;
		m->s.seg_prev = t + table;
	}
	memcpy(m->s.m, snap->m, snap->n * sizeof(struct weft_dp_member));
	for (uint32_t i = 0; i < snap->n; i++) {
		m->s.m[i].name[WEFT_DP_MEMBER_NAME_MAX] = '\0';
		m->s.m[i].id[36] = '\0';
		if (m->s.m[i].state > WEFT_DP_MEMBER_LEFT)
			m->s.m[i].state = WEFT_DP_MEMBER_DEAD;
	}
	struct dp_members *old = dp->members;
	rcu_assign_pointer(dp->members, m);
	__atomic_store_n(&dp->epoch, (uint32_t)snap->view, __ATOMIC_RELEASE);
	if (old != NULL)
		urcu_qsbr_call_rcu(&old->rcu, members_free_cb);
	return 0;
}

void dp_members_free(struct weft_dp *dp)
{
	free(dp->members);
	dp->members = NULL;
}

static void put_member(struct dp_text *o, const struct weft_dp_member *m, uint64_t now_unix_ms)
{
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &m->ip, ip, sizeof(ip));
	uint64_t up = now_unix_ms > m->start_unix_ms ? (now_unix_ms - m->start_unix_ms) / 1000 : 0;
	dp_text_put(o, "%s %s:%u %s %" PRIu64 " %s\n", m->name[0] ? m->name : "-", ip, m->port,
	    state_names[m->state], up, m->id[0] ? m->id : "-");
}

static size_t format(const struct weft_dp *dp, const struct dp_members *m,
		     uint64_t now_unix_ms, char *buf, size_t len)
{
	struct dp_text o = {.buf = buf, .cap = len, .len = 0};
	if (buf != NULL && len > 0)
		buf[0] = '\0';
	if (m == NULL) {
		struct weft_dp_member self = {.name = "local", .ip = dp->bind_ip,
					      .port = dp->cfg.udp_port,
					      .state = WEFT_DP_MEMBER_ALIVE,
					      .start_unix_ms = dp->created_unix_ms};
		dp_text_put(&o, "view 0 coordinator local\n");
		put_member(&o, &self, now_unix_ms);
		return o.len;
	}
	const struct weft_dp_member *c = &m->s.m[m->s.coordinator];
	dp_text_put(&o, "view %" PRIu64 " coordinator %s\n", m->s.view, c->name[0] ? c->name : "-");
	for (uint32_t i = 0; i < m->s.n; i++)
		put_member(&o, &m->s.m[i], now_unix_ms);
	return o.len;
}

size_t weft_dp_members_format(struct weft_dp *dp, uint64_t now_unix_ms, char *buf, size_t len)
{
	return format(dp, rcu_dereference(dp->members), now_unix_ms, buf, len);
}

char *dp_members_text(struct weft_dp *dp, uint64_t now_unix_ms, size_t *len)
{
	const struct dp_members *m = rcu_dereference(dp->members);
	size_t need = format(dp, m, now_unix_ms, NULL, 0);
	char *buf = malloc(need + 1);
	if (buf == NULL)
		return NULL;
	*len = format(dp, m, now_unix_ms, buf, need + 1);
	return buf;
}

const struct weft_dp_members *dp_members_snapshot(const struct dp_members *m)
{
	return &m->s;
}

const struct weft_dp_members *dp_members_current(const struct weft_dp *dp)
{
	const struct dp_members *dm = rcu_dereference(dp->members);
	return dm != NULL ? &dm->s : NULL;
}

bool dp_members_has_table(const struct weft_dp_members *t)
{
	return t != NULL && t->owners > 0 && t->self != WEFT_DP_SELF_NONE && t->n > 1;
}

struct weft_dp_members *weft_dp_members_copy(struct weft_dp *dp)
{
	urcu_qsbr_read_lock();
	const struct dp_members *dm = rcu_dereference(dp->members);
	struct weft_dp_members *out = NULL;
	if (dm != NULL) {
		size_t sz = sizeof(dm->s) + (size_t)dm->s.n * sizeof(dm->s.m[0]);
		out = malloc(sz);
		if (out != NULL) {
			memcpy(out, &dm->s, sz);
			out->seg_owner = NULL; /* members only: the tables stay behind */
			out->seg_prev = NULL;
			out->owners = 0;
		}
	} else {
		errno = ENOENT;
	}
	urcu_qsbr_read_unlock();
	return out;
}

bool dp_members_owns(const struct dp_members *m, uint64_t key_hash)
{
	if (m == NULL || m->s.owners == 0 || m->s.self == WEFT_DP_SELF_NONE)
		return true;
	const uint16_t *o = m->s.seg_owner +
			    (size_t)weft_wire_segment(key_hash, m->s.seg_log2) * m->s.owners;
	for (unsigned i = 0; i < m->s.owners; i++)
		if (o[i] == m->s.self)
			return true;
	return false;
}

/* 36-character UUID text (hex, dashes ignored) to 16 bytes; zeros when the
 * text is not one ("" for an unknown id). */
static void id_bytes(const char *text, uint8_t out[16])
{
	unsigned n = 0;
	memset(out, 0, 16);
	for (const char *p = text; *p && n < 32; p++) {
		int v;
		if (*p == '-')
			continue;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			v = *p - 'A' + 10;
		else
			break;
		out[n / 2] = (uint8_t)(out[n / 2] | (v << ((n & 1) ? 0 : 4)));
		n++;
	}
	if (n != 32)
		memset(out, 0, 16);
}

static uint8_t *put_topo_member(uint8_t *w, const struct weft_dp_member *m)
{
	struct weft_topo_member tm = {.port = m->port, .ip = m->ip};
	size_t nl = strnlen(m->name, WEFT_DP_MEMBER_NAME_MAX);
	id_bytes(m->id, tm.id);
	tm.name_len = (uint8_t)nl;
	memcpy(w, &tm, sizeof(tm));
	memcpy(w + sizeof(tm), m->name, nl);
	return w + sizeof(tm) + nl;
}

uint8_t *weft_dp_topology_encode(struct weft_dp *dp, size_t *len)
{
	const struct dp_members *m = rcu_dereference(dp->members);
	struct weft_dp_member self = {.name = "local", .ip = dp->bind_ip,
				      .port = dp->cfg.udp_port};
	const struct weft_dp_member *mm = m ? m->s.m : &self;
	uint32_t n = m ? m->s.n : 1;
	struct weft_topo_hdr h = {.epoch = m ? (uint32_t)m->s.view : 0,
				  .n_segments_log2 = m ? m->s.seg_log2 : 0,
				  .owners = m ? m->s.owners : 0, .n_members = (uint16_t)n};
	size_t table = (size_t)h.owners << h.n_segments_log2;
	size_t need = sizeof(h) + table * sizeof(uint16_t);
	for (uint32_t i = 0; i < n; i++)
		need += sizeof(struct weft_topo_member) +
			strnlen(mm[i].name, WEFT_DP_MEMBER_NAME_MAX);
	uint8_t *buf = malloc(need);
	if (buf == NULL)
		return NULL;
	uint8_t *w = buf;
	memcpy(w, &h, sizeof(h));
	w += sizeof(h);
	for (uint32_t i = 0; i < n; i++)
		w = put_topo_member(w, &mm[i]);
	if (table)
		memcpy(w, m->s.seg_owner, table * sizeof(uint16_t));
	*len = need;
	return buf;
}
