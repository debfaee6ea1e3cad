/*
 * dp_msg_node.c — the node-to-node ops of messaging (WEFT_F_NODE only):
 *
 *   MSG_REPL       records from a destination's primary (or a state
 *                  transfer) applied to this node's copy, idempotently;
 *   TOPIC_JOIN     a subscriber node registers with this topic primary;
 *   TOPIC_DELIVER  a batch from a topic's primary for this node's local
 *                  subscriptions.
 *
 * Every list is checked whole before anything is applied: a malformed one
 * is answered BAD_REQUEST and changes nothing.
 *
 * Caller: the worker lcore, an online QSBR reader.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp_msg_internal.h"

static struct weft_dest *dest_with(struct dp_lcore *lc, const struct weft_dp_members *topo,
				   const struct dp_req *req, const struct weft_dest_opts *o)
{
	struct weft_dest *d = weft_msg_find(lc->dp->msgs, (const char *)req->name,
					    req->hdr.name_len);
	if (d != NULL)
		return d;
	if (weft_msg_open(lc->dp->msgs, (const char *)req->name, req->hdr.name_len, o, &d) != 0)
		return NULL;
	dp_msg_adopt(lc, topo, d);
	return d;
}

static void serve_repl(struct dp_lcore *lc, const struct dp_req *req,
		       const struct weft_dp_members *topo)
{
	struct weft_x_msg_repl x;
	memcpy(&x, req->extras, sizeof(x));
	struct weft_dest_opts o;
	if (weft_dest_opts_from_wire(&x.opts, &o) != 0 ||
	    !dp_msg_list_ok(req->value, req->value_len, x.count, true)) {
		dp_answer(lc, req, WEFT_ST_BAD_REQUEST, NULL, 0, NULL, 0);
		lc->c.errors++;
		return;
	}
	struct weft_dest *d = dest_with(lc, topo, req, &o);
	if (d == NULL) {
		dp_answer(lc, req, WEFT_ST_NO_MEMORY, NULL, 0, NULL, 0);
		lc->c.errors++;
		return;
	}
	struct weft_x_repl_ack ack = {0, 0};
	uint64_t now = dp_unix_ms();
	uint32_t pos = 0;
	struct weft_msg_hdr h;
	const uint8_t *data;
	bool bad, stop = false;
	uint16_t st = WEFT_ST_OK;
	weft_dest_lock(d);
	while (!stop && dp_msg_list_next(req->value, req->value_len, &pos, &h, &data, &bad)) {
		if (h.kind == WEFT_MSGREC_STOP) {
			stop = true;
			break;
		}
		struct weft_msg *m = NULL;
		if (h.kind == WEFT_MSGREC_APPEND) {
			m = weft_msg_new(h.id, h.expires_ms, data, h.props_len, data + h.props_len,
					 h.body_len);
			if (m == NULL) {
				st = WEFT_ST_NO_MEMORY;
				break;
			}
		}
		int rc = weft_dest_apply(d, now, (const char *)req->key, req->hdr.key_len, h.kind, m,
					 h.id);
		weft_msg_unref(m);
		if (rc == 1)
			ack.applied++;
		else if (rc == 0)
			ack.stale++;
		else {
			st = rc == -ENOMEM ? WEFT_ST_NO_MEMORY : WEFT_ST_BAD_REQUEST;
			break;
		}
	}
	weft_dest_unlock(d);
	if (stop) {
		struct dp_msg_ctx *c = malloc(sizeof(*c));
		if (c != NULL) {
			dp_msg_ctx_init(c, lc, NULL, true);
			weft_msg_stop(lc->dp->msgs, (const char *)req->name, req->hdr.name_len,
				      &c->sink);
			dp_msg_ctx_release(c);
			free(c);
		} else {
			st = WEFT_ST_NO_MEMORY;
		}
		ack.applied++;
	}
	lc->c.msg_repl_applied += ack.applied;
	if (st != WEFT_ST_OK)
		lc->c.errors++;
	dp_answer(lc, req, st, &ack, sizeof(ack), NULL, 0);
}

static void serve_join(struct dp_lcore *lc, const struct dp_req *req,
		       const struct weft_dp_members *topo)
{
	const char *name = (const char *)req->name;
	if (weft_dest_kind_of(name, req->hdr.name_len) != WEFT_DEST_TOPIC) {
		dp_answer(lc, req, WEFT_ST_BAD_REQUEST, NULL, 0, NULL, 0);
		return;
	}
	uint64_t h = weft_cache_hash(name, req->hdr.name_len);
	if (!dp_msg_is_primary(topo, h)) {
		dp_answer(lc, req, WEFT_ST_NOT_OWNER, NULL, 0, NULL, 0);
		return;
	}
	struct weft_x_topic_join j;
	memcpy(&j, req->extras, sizeof(j));
	struct weft_dest_opts o;
	dp_msg_default_opts(&o);
	struct weft_dest *d = dest_with(lc, topo, req, &o);
	if (d == NULL) {
		dp_answer(lc, req, WEFT_ST_NO_MEMORY, NULL, 0, NULL, 0);
		return;
	}
	struct weft_x_topic_joined out = {0};
	weft_dest_lock(d);
	int rc = weft_topic_join(d, dp_unix_ms(), req->flow.src_ip, req->flow.src_port, j.next_id,
				 j.subscriptions, &out.next_id);
	weft_dest_unlock(d);
	if (rc != 0) {
		dp_answer(lc, req, WEFT_ST_BUSY, NULL, 0, NULL, 0);
		return;
	}
	dp_answer(lc, req, WEFT_ST_OK, &out, sizeof(out), NULL, 0);
	dp_msg_pump(lc, d, topo);
}

static void serve_deliver(struct dp_lcore *lc, const struct dp_req *req,
			  const struct weft_dp_members *topo)
{
	struct weft_x_topic_deliver x;
	memcpy(&x, req->extras, sizeof(x));
	if (weft_dest_kind_of((const char *)req->name, req->hdr.name_len) != WEFT_DEST_TOPIC ||
	    x.count > WEFT_MAX_RECEIVE || !dp_msg_list_ok(req->value, req->value_len, x.count, false)) {
		dp_answer(lc, req, WEFT_ST_BAD_REQUEST, NULL, 0, NULL, 0);
		lc->c.errors++;
		return;
	}
	struct weft_dest_opts o;
	dp_msg_default_opts(&o);
	struct weft_dest *d = dest_with(lc, topo, req, &o);
	struct weft_msg *msgs[WEFT_MAX_RECEIVE];
	uint32_t n = 0, pos = 0;
	struct weft_msg_hdr h;
	const uint8_t *data;
	bool bad;
	while (d != NULL && dp_msg_list_next(req->value, req->value_len, &pos, &h, &data, &bad)) {
		msgs[n] = weft_msg_new(h.id, h.expires_ms, data, h.props_len, data + h.props_len,
				       h.body_len);
		if (msgs[n] == NULL)
			break;
		n++;
	}
	if (d == NULL || n < x.count) {
		for (uint32_t i = 0; i < n; i++)
			weft_msg_unref(msgs[i]);
		dp_answer(lc, req, WEFT_ST_NO_MEMORY, NULL, 0, NULL, 0);
		lc->c.errors++;
		return;
	}
	struct dp_msg_ctx *c = malloc(sizeof(*c));
	if (c == NULL) {
		for (uint32_t i = 0; i < n; i++)
			weft_msg_unref(msgs[i]);
		dp_answer(lc, req, WEFT_ST_NO_MEMORY, NULL, 0, NULL, 0);
		return;
	}
	dp_msg_ctx_init(c, lc, topo, true);
	struct weft_x_topic_delivered out;
	weft_dest_lock(d);
	out.next_id = weft_topic_local_deliver(d, dp_unix_ms(), msgs, n, x.dropped, &c->sink);
	weft_dest_unlock(d);
	for (uint32_t i = 0; i < n; i++)
		weft_msg_unref(msgs[i]);
	dp_msg_ctx_release(c);
	free(c);
	dp_answer(lc, req, WEFT_ST_OK, &out, sizeof(out), NULL, 0);
}

void dp_msg_serve_node(struct dp_lcore *lc, const struct dp_req *req,
		       const struct weft_dp_members *topo)
{
	switch (req->hdr.opcode) {
	case WEFT_OP_MSG_REPL:
		serve_repl(lc, req, topo);
		break;
	case WEFT_OP_TOPIC_JOIN:
		serve_join(lc, req, topo);
		break;
	case WEFT_OP_TOPIC_DELIVER:
		serve_deliver(lc, req, topo);
		break;
	default:
		dp_answer(lc, req, WEFT_ST_UNKNOWN_OP, NULL, 0, NULL, 0);
		break;
	}
}
