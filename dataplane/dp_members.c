/*
 * dp_members.c — the MEMBERS snapshot: an immutable copy of the cluster view
 * published by the control thread through an RCU pointer (dp->members) and
 * formatted as text by whichever lcore serves a MEMBERS request.
 *
 * Invariants:
 *  - a published snapshot is never written again; it is freed only through
 *    urcu_qsbr_call_rcu (a grace period after it was replaced) or by
 *    weft_dp_destroy (no reader left);
 *  - 1 <= n <= WEFT_DP_MEMBERS_MAX, coordinator < n, every name is
 *    NUL-terminated within its array.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
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

int weft_dp_publish_members(struct weft_dp *dp, const struct weft_dp_members *snap)
{
	if (snap->n == 0 || snap->n > WEFT_DP_MEMBERS_MAX || snap->coordinator >= snap->n)
		return -EINVAL;
	size_t bytes = sizeof(struct dp_members) + snap->n * sizeof(struct weft_dp_member);
	struct dp_members *m = malloc(bytes);
	if (m == NULL)
		return -ENOMEM;
	m->s.view = snap->view;
	m->s.coordinator = snap->coordinator;
	m->s.n = snap->n;
	memcpy(m->s.m, snap->m, snap->n * sizeof(struct weft_dp_member));
	for (uint32_t i = 0; i < snap->n; i++) {
		m->s.m[i].name[WEFT_DP_MEMBER_NAME_MAX] = '\0';
		m->s.m[i].id[36] = '\0';
		if (m->s.m[i].state > WEFT_DP_MEMBER_LEFT)
			m->s.m[i].state = WEFT_DP_MEMBER_DEAD;
	}
	struct dp_members *old = dp->members;
	rcu_assign_pointer(dp->members, m);
	if (old != NULL)
		urcu_qsbr_call_rcu(&old->rcu, members_free_cb);
	return 0;
}

void dp_members_free(struct weft_dp *dp)
{
	free(dp->members);
	dp->members = NULL;
}

struct out {
	char *buf;
	size_t cap, len;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->buf != NULL && o->len < o->cap ? o->cap - o->len : 0;
	int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void put_member(struct out *o, const struct weft_dp_member *m, uint64_t now_unix_ms)
{
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &m->ip, ip, sizeof(ip));
	uint64_t up = now_unix_ms > m->start_unix_ms ? (now_unix_ms - m->start_unix_ms) / 1000 : 0;
	put(o, "%s %s:%u %s %" PRIu64 " %s\n", m->name[0] ? m->name : "-", ip, m->port,
	    state_names[m->state], up, m->id[0] ? m->id : "-");
}

static size_t format(const struct weft_dp *dp, const struct dp_members *m,
		     uint64_t now_unix_ms, char *buf, size_t len)
{
	struct out o = {.buf = buf, .cap = len, .len = 0};
	if (buf != NULL && len > 0)
		buf[0] = '\0';
	if (m == NULL) {
		struct weft_dp_member self = {.name = "local", .ip = dp->bind_ip,
					      .port = dp->cfg.udp_port,
					      .state = WEFT_DP_MEMBER_ALIVE,
					      .start_unix_ms = dp->created_unix_ms};
		put(&o, "view 0 coordinator local\n");
		put_member(&o, &self, now_unix_ms);
		return o.len;
	}
	const struct weft_dp_member *c = &m->s.m[m->s.coordinator];
	put(&o, "view %" PRIu64 " coordinator %s\n", m->s.view, c->name[0] ? c->name : "-");
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
