/*
 * dp_msg_pump.c — topic fan-out between nodes, on the lcores: the topic's
 * primary sends each subscriber node one copy of each message
 * (TOPIC_DELIVER, one batch in flight per node, in id order), and the
 * subscriber node hands it to each of its local subscriptions. The primary
 * is a subscriber node of its own topic like any other, served by a
 * function call instead of a datagram.
 *
 * Subscriber nodes register with TOPIC_JOIN (dp_msg_join): at their first
 * local subscription, then every WEFT_TOPIC_JOIN_MS (dp_msg_tick.c), which
 * also finds a new primary after a failover: the node joins it with the
 * next id it wants, and the new primary (which holds the replicated log)
 * resumes from there.
 *
 * Caller: the worker lcore, an online QSBR reader.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>

#include "dp_msg_internal.h"

#define PUMP_NODES WEFT_MSG_NODES_MAX
#define PUMP_SELF_ROUNDS 16u /* local batches per pump; the tick does the rest */

struct ready_nodes {
	unsigned n;
	uint32_t ip[PUMP_NODES];
	uint16_t port[PUMP_NODES];
};

static void collect(void *ctx, uint32_t ip, uint16_t port)
{
	struct ready_nodes *r = ctx;
	if (r->n < PUMP_NODES) {
		r->ip[r->n] = ip;
		r->port[r->n] = port;
		r->n++;
	}
}

static bool is_self(const struct weft_dp *dp, uint32_t ip, uint16_t port)
{
	return ip == dp->bind_ip && port == dp->udp_port;
}

static void deliver_done(struct dp_lcore *lc, const struct dp_rpc_cookie *ck, uint16_t status,
			 const void *extras, uint16_t extras_len)
{
	struct weft_dest *d = weft_msg_find(lc->dp->msgs, ck->name, ck->name_len);
	if (d == NULL)
		return;
	struct weft_x_topic_delivered out = {0};
	bool ok = status == WEFT_ST_OK && extras_len >= sizeof(out);
	if (ok)
		memcpy(&out, extras, sizeof(out));
	weft_dest_lock(d);
	weft_topic_batch_done(d, dp_unix_ms(), ck->ip, ck->port, ok, out.next_id);
	weft_dest_unlock(d);
	if (ok)
		dp_msg_pump(lc, d, dp_members_current(lc->dp));
}

/* One batch to a remote subscriber node. */
static void send_batch(struct dp_lcore *lc, struct weft_dest *d, struct weft_topic_batch *b)
{
	size_t name_len;
	const char *name = weft_dest_name(d, &name_len);
	struct weft_x_topic_deliver x = {.next_id = b->next_id, .count = b->n,
					 .dropped = b->dropped};
	size_t list = dp_msg_list_size(b->msg, b->n);
	struct dp_rpc_msg *m = dp_rpc_msg_new(WEFT_OP_TOPIC_DELIVER, (uint8_t)name_len, 0,
					      sizeof(x), (uint32_t)(name_len + sizeof(x) + list));
	int rc = -1;
	if (m != NULL) {
		uint8_t *w = m->payload;
		memcpy(w, name, name_len);
		memcpy(w + name_len, &x, sizeof(x));
		dp_msg_list_write(w + name_len + sizeof(x), b->msg, NULL, b->n);
		struct dp_rpc_cookie ck = {.ip = b->ip, .port = b->port,
					   .name_len = (uint8_t)name_len};
		memcpy(ck.name, name, name_len);
		rc = dp_rpc_notify(lc, b->ip, b->port, m, deliver_done, &ck);
		dp_rpc_msg_put(m);
	}
	if (rc == 0) {
		lc->c.topic_batches++;
		return;
	}
	weft_dest_lock(d); /* offered again at the next pump */
	weft_topic_batch_done(d, dp_unix_ms(), b->ip, b->port, false, 0);
	weft_dest_unlock(d);
}

/* One batch to this node's own subscriptions: true when one was handed. */
static bool local_batch(struct dp_lcore *lc, struct weft_dest *d,
			const struct weft_dp_members *topo)
{
	struct weft_dp *dp = lc->dp;
	struct weft_topic_batch b;
	struct dp_msg_ctx *c = malloc(sizeof(*c));
	if (c == NULL)
		return false;
	dp_msg_ctx_init(c, lc, topo, true);
	uint64_t now = dp_unix_ms();
	weft_dest_lock(d);
	bool got = weft_topic_next_batch(d, now, dp->bind_ip, dp->udp_port, &b);
	if (got) {
		uint64_t next = weft_topic_local_deliver(d, now, b.msg, b.n, b.dropped, &c->sink);
		weft_topic_batch_done(d, now, dp->bind_ip, dp->udp_port, true, next);
	}
	weft_dest_unlock(d);
	if (got)
		weft_topic_batch_free(&b);
	dp_msg_ctx_release(c);
	free(c);
	return got;
}

void dp_msg_pump(struct dp_lcore *lc, struct weft_dest *d, const struct weft_dp_members *topo)
{
	if (weft_dest_kind(d) != WEFT_DEST_TOPIC)
		return;
	struct ready_nodes *r = malloc(sizeof(*r));
	if (r == NULL)
		return;
	r->n = 0;
	weft_dest_lock(d);
	if (weft_dest_role(d) == WEFT_ROLE_PRIMARY)
		weft_topic_foreach_ready_node(d, collect, r);
	weft_dest_unlock(d);
	for (unsigned i = 0; i < r->n; i++) {
		if (is_self(lc->dp, r->ip[i], r->port[i])) {
			for (unsigned k = 0; k < PUMP_SELF_ROUNDS && local_batch(lc, d, topo); k++)
				;
			continue;
		}
		if (lc->rpc == NULL)
			continue;
		struct weft_topic_batch b;
		weft_dest_lock(d);
		bool got = weft_topic_next_batch(d, dp_unix_ms(), r->ip[i], r->port[i], &b);
		weft_dest_unlock(d);
		if (got) {
			send_batch(lc, d, &b);
			weft_topic_batch_free(&b);
		}
	}
	free(r);
}

static void join_done(struct dp_lcore *lc, const struct dp_rpc_cookie *ck, uint16_t status,
		      const void *extras, uint16_t extras_len)
{
	/* Nothing to do: a refused or lost join is sent again by the next
	 * tick, to whichever node is primary by then. */
	(void)lc;
	(void)ck;
	(void)status;
	(void)extras;
	(void)extras_len;
}

void dp_msg_join(struct dp_lcore *lc, struct weft_dest *d, const struct weft_dp_members *topo,
		 uint32_t subs)
{
	struct weft_dp *dp = lc->dp;
	uint64_t h = weft_dest_route_hash(d);
	weft_dest_lock(d);
	uint64_t next = weft_topic_local_next(d);
	weft_dest_unlock(d);
	if (dp_msg_is_primary(topo, h)) {
		uint64_t resume;
		weft_dest_lock(d);
		weft_topic_join(d, dp_unix_ms(), dp->bind_ip, dp->udp_port, next, subs, &resume);
		weft_dest_unlock(d);
		dp_msg_pump(lc, d, topo);
		return;
	}
	if (lc->rpc == NULL)
		return;
	const struct weft_dp_member *p =
		&topo->m[topo->seg_owner[(size_t)weft_wire_segment(h, topo->seg_log2) * topo->owners]];
	if (p->ip == 0)
		return; /* its address is not known yet: the next tick tries again */
	size_t name_len;
	const char *name = weft_dest_name(d, &name_len);
	struct weft_x_topic_join j = {.next_id = next, .subscriptions = subs};
	struct dp_rpc_msg *m = dp_rpc_msg_new(WEFT_OP_TOPIC_JOIN, (uint8_t)name_len, 0, sizeof(j),
					      (uint32_t)(name_len + sizeof(j)));
	if (m == NULL)
		return;
	memcpy(m->payload, name, name_len);
	memcpy(m->payload + name_len, &j, sizeof(j));
	struct dp_rpc_cookie ck = {.ip = p->ip, .port = rte_cpu_to_be_16(p->port),
				   .name_len = (uint8_t)name_len};
	memcpy(ck.name, name, name_len);
	if (dp_rpc_notify(lc, ck.ip, ck.port, m, join_done, &ck) == 0)
		lc->c.topic_joins++;
	dp_rpc_msg_put(m);
}
