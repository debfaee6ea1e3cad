/*
 * msg/dest.c — the serving calls of msg.h on a destination (publish,
 * receive, ack, unsubscribe, timers, role changes, clear, stats): each
 * dispatches to the queue (mq.c) or to the topic's parts (topic.c).
 *
 * Invariants:
 *  - every call runs under the destination's lock; a stopped destination
 *    (weft_msg_stop ran, an lcore may still hold the pointer) changes no
 *    more: publish / receive return -ENOENT, the others do nothing;
 *  - last_id is the largest id the destination ever held or applied;
 *  - a topic's publish feeds the log and the durable subscriptions only:
 *    local subscriptions are fed by weft_topic_local_deliver alone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msg_internal.h"

uint64_t weft_dest_next_id(struct weft_dest *d, uint64_t now)
{
	/* [ms:44][sequence:8][tag:12]: increasing here, and never equal to an
	 * id another node (another tag) makes, even two primaries at once. */
	uint64_t id = now << 20 | d->id_tag;
	if (id <= d->last_id)
		id = (((d->last_id >> 12) + 1) << 12) | d->id_tag;
	return id;
}

void msg_dest_dead_letter(struct weft_dest *d, uint64_t now, struct weft_msg *m,
		      const struct weft_msg_sink *s)
{
	struct weft_dest *dlq = d->dlq;
	if (dlq == NULL)
		return;
	weft_dest_lock(dlq);
	if (!dlq->stopped && !msg_mq_holds_or_removed(&dlq->q, m->id)) {
		msg_mq_expire(&dlq->q, now);
		if (dlq->q.depth >= dlq->opts.max_depth ||
		    dlq->q.bytes + msg_size(m) > dlq->opts.max_bytes || msg_mq_insert(&dlq->q, m) != 0) {
			dlq->st.full++; /* the dead letter is lost, counted */
		} else {
			dlq->st.published++;
			if (m->id > dlq->last_id)
				dlq->last_id = m->id;
			if (s != NULL)
				msg_mq_serve(&dlq->q, now, s);
		}
	}
	weft_dest_unlock(dlq);
}

int weft_dest_publish(struct weft_dest *d, uint64_t now, struct weft_msg *m,
		      const struct weft_msg_sink *s)
{
	if (d->stopped)
		return -ENOENT;
	if (m == NULL)
		return -EINVAL;
	if (d->kind == WEFT_DEST_QUEUE) {
		if (msg_mq_holds_or_removed(&d->q, m->id))
			return -EEXIST;
		struct mq *q = &d->q;
		if (q->depth >= d->opts.max_depth || q->bytes + msg_size(m) > d->opts.max_bytes)
			msg_mq_expire(q, now);
		if (q->depth >= d->opts.max_depth || q->bytes + msg_size(m) > d->opts.max_bytes) {
			d->st.full++;
			return -ENOSPC;
		}
		int rc = msg_mq_insert(q, m);
		if (rc != 0)
			return rc;
		if (m->id > d->last_id)
			d->last_id = m->id;
		d->st.published++;
		record(s, d, q, WEFT_MSGREC_APPEND, m, m->id);
		msg_mq_serve(q, now, s);
		return 0;
	}
	if (m->id <= d->log_last_id)
		return -EEXIST;
	int rc = msg_topic_log_append(d, now, m);
	if (rc != 0)
		return rc;
	d->log_last_id = m->id;
	if (m->id > d->last_id)
		d->last_id = m->id;
	d->st.published++;
	record(s, d, &d->q, WEFT_MSGREC_APPEND, m, m->id);
	msg_topic_fan_durables(d, now, m, s);
	return (int)(d->n_nodes + d->n_durables);
}

int weft_dest_receive(struct weft_dest *d, uint64_t now, const struct weft_receive *rq,
		      struct weft_delivery *dl, const struct weft_msg_sink *s)
{
	if (d->stopped)
		return -ENOENT;
	if (rq == NULL || dl == NULL)
		return -EINVAL;
	if (d->kind == WEFT_DEST_QUEUE)
		return msg_mq_receive(&d->q, now, rq, dl);
	if (rq->sub_len == 0)
		return msg_topic_local_receive(d, now, rq, dl);
	bool created;
	struct mq *q = msg_topic_durable_get(d, rq->sub, rq->sub_len, &created);
	if (q == NULL)
		return -errno;
	if (created)
		record(s, d, q, WEFT_MSGREC_SUB, NULL, 0);
	return msg_mq_receive(q, now, rq, dl);
}

void weft_dest_ack(struct weft_dest *d, uint64_t now, uint64_t consumer_id, const char *sub,
		   size_t sub_len, enum weft_ack_kind kind, const uint64_t *ids, uint32_t n,
		   uint32_t *done, uint32_t *unknown, const struct weft_msg_sink *s)
{
	uint32_t dn = 0, un = 0;
	if (d->stopped || (n > 0 && ids == NULL)) {
		un = n;
	} else if (d->kind == WEFT_DEST_QUEUE) {
		msg_mq_ack(&d->q, now, consumer_id, kind, ids, n, &dn, &un, s);
	} else if (sub_len == 0) {
		dn = n; /* local topic subscription: nothing is in flight */
	} else {
		struct mq *q = msg_topic_durable_find(d, sub, sub_len);
		if (q == NULL)
			un = n;
		else
			msg_mq_ack(q, now, consumer_id, kind, ids, n, &dn, &un, s);
	}
	if (done != NULL)
		*done = dn;
	if (unknown != NULL)
		*unknown = un;
}

int weft_dest_unsubscribe(struct weft_dest *d, uint64_t now, uint64_t consumer_id,
			  const char *sub, size_t sub_len, const struct weft_msg_sink *s)
{
	if (d->stopped)
		return -ENOENT;
	if (d->kind == WEFT_DEST_QUEUE) {
		msg_mq_unsubscribe(&d->q, now, consumer_id, s);
		return 0;
	}
	if (sub_len == 0) {
		msg_topic_local_end(d, now, consumer_id, s);
		return 0;
	}
	struct mq *q = msg_topic_durable_find(d, sub, sub_len);
	if (q == NULL)
		return -ENOENT;
	record(s, d, q, WEFT_MSGREC_UNSUB, NULL, 0);
	msg_topic_durable_remove(d, q, s);
	return 0;
}

uint64_t weft_dest_tick(struct weft_dest *d, uint64_t now, const struct weft_msg_sink *s)
{
	if (d->stopped)
		return UINT64_MAX;
	struct waiter *w;
	while ((w = msg_heap_top(&d->waiters)) != NULL && w->deadline <= now)
		msg_dest_answer_waiter_empty(d, w, WEFT_ST_OK, now, s);
	uint64_t next = w != NULL ? w->deadline : UINT64_MAX;
	next = min_u64(next, msg_mq_tick(&d->q, now, s));
	if (d->kind == WEFT_DEST_TOPIC)
		next = min_u64(next, msg_topic_tick(d, now, s));
	return next;
}

void weft_dest_set_role(struct weft_dest *d, uint64_t now, enum weft_dest_role role,
			const struct weft_msg_sink *s)
{
	if (d->stopped)
		return;
	enum weft_dest_role old = d->role;
	d->role = role;
	if (role == WEFT_ROLE_PRIMARY && old != WEFT_ROLE_PRIMARY)
		d->primary_since = now;
	if (old != WEFT_ROLE_PRIMARY || role == WEFT_ROLE_PRIMARY)
		return;
	msg_mq_answer_all(&d->q, WEFT_ST_NOT_OWNER, s);
	msg_mq_release_all(&d->q);
	for (struct mq *q = d->durables; q != NULL; q = q->next) {
		msg_mq_answer_all(q, WEFT_ST_NOT_OWNER, s);
		msg_mq_release_all(q);
	}
	msg_topic_forget_nodes(d);
}

enum weft_dest_role weft_dest_role(const struct weft_dest *d)
{
	return d->role;
}

void msg_dest_drop_state(struct weft_dest *d, uint16_t status, bool keep_tombstones,
			 const struct weft_msg_sink *s)
{
	msg_mq_answer_all(&d->q, status, s);
	msg_mq_drop_messages(&d->q, keep_tombstones);
	while (d->q.lru_head != NULL)
		msg_mq_unsubscribe(&d->q, 0, d->q.lru_head->id, NULL);
	for (struct mq *q = d->durables; q != NULL; q = q->next)
		msg_mq_answer_all(q, status, s);
	while (d->durables != NULL)
		msg_topic_durable_remove(d, d->durables, s);
	msg_topic_forget_nodes(d);
	while (d->log_n > 0) {
		struct weft_msg *m = d->log[d->log_head];
		d->log_head = (d->log_head + 1) & (d->log_cap - 1);
		d->log_n--;
		d->head_seq++;
		d->log_bytes -= msg_size(m);
		weft_msg_unref(m);
	}
	/* a later state transfer starts afresh (ids stay above last_id) */
	d->log_last_id = 0;
	d->trimmed_last_id = 0;
	d->n_tag_marks = 0;
}

void weft_dest_clear(struct weft_dest *d, const struct weft_msg_sink *s)
{
	if (d->stopped)
		return;
	msg_dest_drop_state(d, WEFT_ST_NOT_OWNER, true, s);
}

void weft_dest_get_stats(struct weft_dest *d, struct weft_dest_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = d->kind;
	out->role = d->role;
	const struct mq *qs[1 + WEFT_MSG_DURABLE_MAX];
	unsigned nq = 0;
	qs[nq++] = &d->q;
	for (struct mq *q = d->durables; q != NULL && nq < 1 + WEFT_MSG_DURABLE_MAX; q = q->next)
		qs[nq++] = q;
	for (unsigned i = 0; i < nq; i++) {
		out->depth += qs[i]->depth;
		out->bytes += qs[i]->bytes;
		out->inflight += qs[i]->flight.n;
		out->consumers += qs[i]->n_consumers;
	}
	out->depth += d->log_n;
	out->bytes += d->log_bytes;
	out->waiting = d->n_waiters;
	out->published = d->st.published;
	out->delivered = d->st.delivered;
	out->redelivered = d->st.redelivered;
	out->acked = d->st.acked;
	out->dead = d->st.dead;
	out->expired = d->st.expired;
	out->full = d->st.full;
	out->subscriber_nodes = d->n_nodes;
	out->subscriptions = d->n_lsubs;
	out->durable = d->n_durables;
	out->dropped = d->st.dropped;
	out->appends_applied = d->st.appends_applied;
}
