/*
 * msg/repl.c — the other owners' side: applying the primary's records
 * (MSG_REPL, idempotent by id) and producing a destination's whole state as
 * records for a state transfer.
 *
 * Invariants:
 *  - an APPEND of an id held or remembered as removed changes nothing
 *    (topic log: of an id <= the last one appended);
 *  - REMOVE / DEAD leave a tombstone even for an unknown id, so the APPEND
 *    arriving after it stays out;
 *  - a topic APPEND feeds the durable subscriptions existing at that
 *    point, as the primary's publish did; a snapshot therefore lists a
 *    topic's log before its SUB records, so replaying it does not feed
 *    subscriptions with messages published before they existed.
 */
#include <errno.h>
#include <stdlib.h>

#include "msg_internal.h"

static int apply_append(struct weft_dest *d, uint64_t now, const char *sub, size_t sub_len,
			struct weft_msg *m)
{
	if (d->kind == WEFT_DEST_QUEUE || sub_len > 0) {
		struct mq *q = &d->q;
		if (d->kind == WEFT_DEST_TOPIC) {
			bool created;
			q = msg_topic_durable_get(d, sub, sub_len, &created);
			if (q == NULL)
				return -errno;
		}
		if (msg_mq_holds_or_removed(q, m->id))
			return 0;
		if (q != &d->q) {
			while (q->depth > 0 && (q->depth >= d->opts.max_depth ||
						q->bytes + msg_size(m) > d->opts.max_bytes)) {
				msg_mq_drop_oldest(q);
				d->st.dropped++;
			}
		}
		int rc = msg_mq_insert(q, m);
		if (rc != 0)
			return rc;
		if (q == &d->q)
			d->st.published++;
		return 1;
	}
	if (m->id <= d->log_last_id) {
		int rc = msg_topic_log_insert_late(d, m);
		if (rc <= 0)
			return rc; /* a duplicate, or out of memory */
		d->st.published++;
		msg_topic_fan_durables(d, now, m, NULL);
		return 1;
	}
	int rc = msg_topic_log_append(d, now, m);
	if (rc != 0)
		return rc;
	d->log_last_id = m->id;
	d->st.published++;
	msg_topic_fan_durables(d, now, m, NULL);
	return 1;
}

static int apply_remove(struct weft_dest *d, uint64_t now, const char *sub, size_t sub_len,
			uint8_t kind, uint64_t id)
{
	struct mq *q = &d->q;
	if (d->kind == WEFT_DEST_TOPIC) {
		q = sub_len > 0 ? msg_topic_durable_find(d, sub, sub_len) : NULL;
		if (q == NULL)
			return 0;
	}
	if (!msg_mq_holds_or_removed(q, id)) {
		msg_mq_tomb_add(q, id, now); /* unknown: remembered */
		return 1;
	}
	struct qmsg *qm = msg_idmap_get(&q->ids, id);
	if (qm == NULL)
		return 0; /* already removed */
	struct weft_msg *m = qm->m;
	weft_msg_ref(m);
	msg_mq_remove_id(q, id, now, true);
	if (kind == WEFT_MSGREC_DEAD) {
		d->st.dead++;
		if (q == &d->q)
			msg_dest_dead_letter(d, now, m, NULL);
	} else {
		d->st.acked++;
	}
	weft_msg_unref(m);
	return 1;
}

int weft_dest_apply(struct weft_dest *d, uint64_t now, const char *sub, size_t sub_len,
		    uint8_t kind, struct weft_msg *m, uint64_t id)
{
	if (d->stopped)
		return 0;
	if (kind == WEFT_MSGREC_APPEND && m != NULL)
		id = m->id;
	if (id > d->last_id)
		d->last_id = id;
	bool created;
	switch (kind) {
	case WEFT_MSGREC_APPEND: {
		if (m == NULL)
			return -EINVAL;
		int rc = apply_append(d, now, sub, sub_len, m);
		if (rc > 0)
			d->st.appends_applied++;
		return rc;
	}
	case WEFT_MSGREC_REMOVE:
	case WEFT_MSGREC_DEAD:
		return apply_remove(d, now, sub, sub_len, kind, id);
	case WEFT_MSGREC_SUB:
		if (d->kind != WEFT_DEST_TOPIC || sub_len == 0)
			return -EINVAL;
		if (msg_topic_durable_get(d, sub, sub_len, &created) == NULL)
			return -errno;
		return created ? 1 : 0;
	case WEFT_MSGREC_UNSUB: {
		struct mq *q = d->kind == WEFT_DEST_TOPIC && sub_len > 0
				       ? msg_topic_durable_find(d, sub, sub_len)
				       : NULL;
		if (q == NULL)
			return 0;
		msg_topic_durable_remove(d, q, NULL);
		return 1;
	}
	case WEFT_MSGREC_STOP:
		msg_dest_drop_state(d, WEFT_ST_NOT_FOUND, false, NULL);
		return 1;
	case WEFT_MSGREC_TRIM:
		if (d->kind != WEFT_DEST_TOPIC || sub_len != 0)
			return -EINVAL;
		if (d->role == WEFT_ROLE_PRIMARY)
			return 0; /* its own cursors decide */
		msg_topic_trim_to(d, id);
		return 1;
	default:
		return -EINVAL;
	}
}

struct snap_ctx {
	void (*fn)(void *ctx, const char *sub, size_t sub_len, uint8_t kind,
		   const struct weft_msg *m, uint64_t id);
	void *ctx;
	const struct mq *q;
};

static void snap_msg(void *ctx, struct weft_msg *m)
{
	struct snap_ctx *c = ctx;
	c->fn(c->ctx, c->q->sub, c->q->sub ? c->q->sub_len : 0, WEFT_MSGREC_APPEND, m, m->id);
}

static void snap_tomb(void *ctx, uint64_t id)
{
	struct snap_ctx *c = ctx;
	c->fn(c->ctx, c->q->sub, c->q->sub ? c->q->sub_len : 0, WEFT_MSGREC_REMOVE, NULL, id);
}

void weft_dest_snapshot(struct weft_dest *d,
			void (*fn)(void *ctx, const char *sub, size_t sub_len, uint8_t kind,
				   const struct weft_msg *m, uint64_t id),
			void *ctx)
{
	if (d->stopped)
		return;
	for (uint64_t i = 0; i < d->log_n; i++) {
		const struct weft_msg *m = d->log[(d->log_head + i) & (d->log_cap - 1)];
		fn(ctx, NULL, 0, WEFT_MSGREC_APPEND, m, m->id);
	}
	for (struct mq *q = d->durables; q != NULL; q = q->next)
		fn(ctx, q->sub, q->sub_len, WEFT_MSGREC_SUB, NULL, 0);
	struct snap_ctx c = {fn, ctx, &d->q};
	msg_mq_foreach_sorted(&d->q, snap_msg, &c);
	for (struct mq *q = d->durables; q != NULL; q = q->next) {
		c.q = q;
		msg_mq_foreach_sorted(q, snap_msg, &c);
	}
	c.q = &d->q;
	msg_mq_tombs_foreach(&d->q, snap_tomb, &c);
	for (struct mq *q = d->durables; q != NULL; q = q->next) {
		c.q = q;
		msg_mq_tombs_foreach(q, snap_tomb, &c);
	}
}
