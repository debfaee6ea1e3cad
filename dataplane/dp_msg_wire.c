/*
 * dp_msg_wire.c — the bytes of messaging in the dataplane: message lists
 * (wire.h struct weft_msg_hdr + props + body: walking and checking them),
 * the token a parked RECEIVE keeps, answers to RECEIVEs, and the msg sink
 * that collects records for the other owners and turns them into MSG_REPL
 * messages.
 *
 * A RECEIVE answered with messages is remembered for at-most-once as GONE
 * (the node keeps no message list for replay: a retransmission is told to
 * ask again; the messages come back after their visibility timeout); an
 * empty or failed answer is remembered as it is.
 */
#include <stdlib.h>
#include <string.h>

#include "dp_msg_internal.h"

void dp_msg_token_of(const struct dp_req *req, bool amo, uint8_t token[WEFT_MSG_TOKEN_LEN])
{
	struct dp_msg_token t;
	memset(&t, 0, sizeof(t));
	t.flow = req->flow;
	t.hdr = req->hdr;
	t.amo = amo;
	memset(token, 0, WEFT_MSG_TOKEN_LEN);
	memcpy(token, &t, sizeof(t));
}

size_t dp_msg_list_size(struct weft_msg *const *msgs, uint32_t n)
{
	size_t len = 0;
	for (uint32_t i = 0; i < n; i++)
		len += sizeof(struct weft_msg_hdr) + msgs[i]->props_len + msgs[i]->body_len;
	return len;
}

uint8_t *dp_msg_list_write(uint8_t *w, struct weft_msg *const *msgs, const uint16_t *deliveries,
			   uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct weft_msg *m = msgs[i];
		struct weft_msg_hdr h = {.id = m->id, .expires_ms = m->expires_ms,
					 .props_len = m->props_len, .body_len = m->body_len,
					 .deliveries = deliveries != NULL ? deliveries[i] : 0};
		memcpy(w, &h, sizeof(h));
		w += sizeof(h);
		memcpy(w, m->data, (size_t)m->props_len + m->body_len);
		w += m->props_len + m->body_len;
	}
	return w;
}

bool dp_msg_list_next(const uint8_t *list, uint32_t len, uint32_t *pos, struct weft_msg_hdr *h,
		      const uint8_t **data, bool *bad)
{
	uint32_t p = *pos;
	*bad = false;
	if (p >= len)
		return false;
	if (len - p < sizeof(*h)) {
		*bad = true;
		return false;
	}
	memcpy(h, list + p, sizeof(*h));
	uint64_t end = (uint64_t)p + sizeof(*h) + h->props_len + h->body_len;
	if (h->props_len > WEFT_MAX_PROPS_LEN || h->body_len > WEFT_MAX_BODY_LEN || end > len) {
		*bad = true;
		return false;
	}
	*data = list + p + sizeof(*h);
	*pos = (uint32_t)end;
	return true;
}

void dp_msg_answer_delivery(struct dp_lcore *lc, const struct weft_delivery *dl)
{
	struct dp_msg_token t;
	memcpy(&t, dl->token, sizeof(t));
	struct dp_req q;
	memset(&q, 0, sizeof(q));
	q.hdr = t.hdr;
	q.flow = t.flow;
	if (dl->status != WEFT_ST_OK) {
		dp_answer_final(lc, &q, t.amo, dl->status, NULL, 0, NULL, 0);
		return;
	}
	struct weft_x_received x = {.count = dl->n, .dropped = dl->dropped};
	size_t len = sizeof(x) + dp_msg_list_size(dl->msg, dl->n);
	uint8_t *buf = malloc(len);
	if (buf == NULL) {
		/* The messages stay in flight: they come back after their
		 * visibility timeout. */
		dp_answer_final(lc, &q, t.amo, WEFT_ST_NO_MEMORY, NULL, 0, NULL, 0);
		return;
	}
	memcpy(buf, &x, sizeof(x));
	dp_msg_list_write(buf + sizeof(x), dl->msg, dl->deliveries, dl->n);
	if (t.amo) {
		struct dp_msg_id id = dp_req_msg_id(&q);
		struct dp_dedup_resp d = {.status = dl->n > 0 ? WEFT_ST_GONE : WEFT_ST_OK};
		if (dl->n == 0) {
			d.extras_len = sizeof(x);
			memcpy(d.extras, &x, sizeof(x));
		}
		dp_dedup_finish(lc->dp->dedup, &id, &d);
	}
	dp_answer_owned(lc, &q, WEFT_ST_OK, sizeof(x), buf, (uint32_t)len);
}

/* --- the sink -------------------------------------------------------------- */

static void sink_deliver(void *ctx, struct weft_dest *d, const struct weft_delivery *dl)
{
	(void)d;
	struct dp_msg_ctx *x = ctx;
	dp_msg_answer_delivery(x->lc, dl);
}

static void sink_record(void *ctx, struct weft_dest *d, const char *sub, size_t sub_len,
			uint8_t kind, const struct weft_msg *m, uint64_t id)
{
	struct dp_msg_ctx *x = ctx;
	if (x->n_recs == DP_MSG_RECS_MAX)
		dp_msg_replicate_async(x); /* a big timer pass: send what we have */
	struct dp_msg_rec *r = &x->recs[x->n_recs++];
	r->d = d;
	r->kind = kind;
	r->sub_len = (uint8_t)(sub_len <= sizeof(r->sub) ? sub_len : sizeof(r->sub));
	if (r->sub_len)
		memcpy(r->sub, sub, r->sub_len);
	r->m = NULL;
	r->id = m != NULL ? m->id : id;
	if (m != NULL && kind == WEFT_MSGREC_APPEND) {
		r->m = (struct weft_msg *)m;
		weft_msg_ref(r->m);
	}
}

void dp_msg_ctx_init(struct dp_msg_ctx *x, struct dp_lcore *lc,
		     const struct weft_dp_members *topo, bool async)
{
	x->lc = lc;
	x->topo = topo;
	x->async = async;
	x->n_recs = 0;
	x->sink.ctx = x;
	x->sink.deliver = sink_deliver;
	x->sink.record = sink_record;
}

void dp_msg_ctx_release(struct dp_msg_ctx *x)
{
	for (unsigned i = 0; i < x->n_recs; i++)
		weft_msg_unref(x->recs[i].m);
	x->n_recs = 0;
}

/* --- MSG_REPL messages ----------------------------------------------------- */

static bool same_group(const struct dp_msg_rec *a, const struct dp_msg_rec *b)
{
	return a->d == b->d && a->sub_len == b->sub_len && memcmp(a->sub, b->sub, a->sub_len) == 0;
}

static size_t rec_size(const struct dp_msg_rec *r)
{
	return sizeof(struct weft_msg_hdr) +
	       (r->m != NULL ? (size_t)r->m->props_len + r->m->body_len : 0);
}

struct dp_rpc_msg *dp_msg_repl_build(struct weft_dest *d, const char *sub, uint8_t sub_len,
				     const struct dp_msg_rec *recs, unsigned n)
{
	size_t name_len;
	const char *name = weft_dest_name(d, &name_len);
	size_t value = 0;
	for (unsigned i = 0; i < n; i++)
		value += rec_size(&recs[i]);
	uint16_t xl = sizeof(struct weft_x_msg_repl);
	size_t head = name_len + sub_len + xl;
	struct dp_rpc_msg *m = dp_rpc_msg_new(WEFT_OP_MSG_REPL, (uint8_t)name_len, sub_len, xl,
					      (uint32_t)(head + value));
	if (m == NULL)
		return NULL;
	uint8_t *w = m->payload;
	memcpy(w, name, name_len);
	w += name_len;
	if (sub_len > 0)
		memcpy(w, sub, sub_len);
	w += sub_len;
	struct weft_x_msg_repl x;
	memset(&x, 0, sizeof(x));
	weft_dest_opts_to_wire(weft_dest_get_opts(d), &x.opts);
	x.count = n;
	memcpy(w, &x, sizeof(x));
	w += sizeof(x);
	for (unsigned i = 0; i < n; i++) {
		const struct dp_msg_rec *r = &recs[i];
		struct weft_msg_hdr h = {.id = r->id, .kind = r->kind};
		if (r->m != NULL) {
			h.expires_ms = r->m->expires_ms;
			h.props_len = r->m->props_len;
			h.body_len = r->m->body_len;
		}
		memcpy(w, &h, sizeof(h));
		w += sizeof(h);
		if (r->m != NULL) {
			memcpy(w, r->m->data, (size_t)h.props_len + h.body_len);
			w += h.props_len + h.body_len;
		}
	}
	return m;
}

void dp_msg_recs_flush(struct dp_lcore *lc, const struct dp_msg_rec *recs, unsigned n,
		       void (*fn)(void *arg, struct weft_dest *d, struct dp_rpc_msg *m), void *arg)
{
	unsigned i = 0;
	while (i < n) {
		unsigned j = i + 1;
		size_t bytes = rec_size(&recs[i]);
		while (j < n && same_group(&recs[i], &recs[j]) &&
		       bytes + rec_size(&recs[j]) <= WEFT_MSG_BATCH_BYTES)
			bytes += rec_size(&recs[j++]);
		const struct dp_msg_rec *r = &recs[i];
		struct dp_rpc_msg *m = dp_msg_repl_build(r->d, r->sub, r->sub_len, r, j - i);
		if (m != NULL)
			fn(arg, r->d, m);
		else
			lc->c.msg_repl_lost += j - i;
		i = j;
	}
}

void dp_msg_ctx_flush(struct dp_msg_ctx *x,
		      void (*fn)(void *arg, struct weft_dest *d, struct dp_rpc_msg *m), void *arg)
{
	dp_msg_recs_flush(x->lc, x->recs, x->n_recs, fn, arg);
	dp_msg_ctx_release(x);
}

/* Checks a message list of exactly count well-formed messages (APPEND
 * records carry data; others none). */
bool dp_msg_list_ok(const uint8_t *list, uint32_t len, uint32_t count, bool records)
{
	uint32_t pos = 0, seen = 0;
	struct weft_msg_hdr h;
	const uint8_t *data;
	bool bad = false;
	while (seen < count && dp_msg_list_next(list, len, &pos, &h, &data, &bad)) {
		if (records) {
			if (h.kind < WEFT_MSGREC_APPEND || h.kind > WEFT_MSGREC_TRIM)
				return false;
			if (h.kind != WEFT_MSGREC_APPEND && (h.props_len | h.body_len) != 0)
				return false;
		} else if (h.kind != 0) {
			return false;
		}
		if (h.props_len > 0 && !weft_msg_props_valid(data, h.props_len))
			return false;
		seen++;
	}
	return !bad && seen == count && pos == len;
}
