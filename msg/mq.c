/*
 * msg/mq.c — one message queue (a queue destination, or one durable
 * subscription of a topic): held messages, ready order, in-flight state,
 * consumers with leases, parked waiters served least-loaded first, removed-
 * id memory (tombstones), dead-lettering.
 *
 * Invariants (see msg_internal.h for the structures):
 *  - a held message is ready (ready heap by id, expiry heap if it has a TTL)
 *    or in flight (flight heap by deadline, its consumer's list), never
 *    both; ready messages leave in id order, so a message that comes back
 *    (nack, timeout, lease) goes before newer ones;
 *  - every heap has room for every held message (reserved at insertion);
 *  - waiters exist only while nothing is deliverable: every path that makes
 *    messages ready ends with msg_mq_serve;
 *  - a message goes in flight only through take(), which counts delivered /
 *    redelivered and bumps its deliveries;
 *  - a NACK, a visibility timeout or a lease loss of a message already
 *    delivered max_deliveries times dead-letters it (the queue's DLQ, or
 *    nothing for a durable subscription); an unsubscribe or a role change
 *    only releases it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

#include "msg_internal.h"

static char tomb_mark;

static bool ready_less(const void *x, const void *y)
{
	return ((const struct qmsg *)x)->m->id < ((const struct qmsg *)y)->m->id;
}

static bool flight_less(const void *x, const void *y)
{
	const struct qmsg *a = x, *b = y;
	return a->deadline != b->deadline ? a->deadline < b->deadline : a->m->id < b->m->id;
}

static bool exp_less(const void *x, const void *y)
{
	const struct qmsg *a = x, *b = y;
	return a->m->expires_ms != b->m->expires_ms ? a->m->expires_ms < b->m->expires_ms
						    : a->m->id < b->m->id;
}

static inline bool expired(const struct weft_msg *m, uint64_t now)
{
	return m->expires_ms != 0 && m->expires_ms <= now;
}

void msg_mq_init(struct mq *q, struct weft_dest *d)
{
	memset(q, 0, sizeof(*q));
	q->d = d;
	msg_heap_init(&q->ready, ready_less, offsetof(struct qmsg, ready_idx));
	msg_heap_init(&q->flight, flight_less, offsetof(struct qmsg, flight_idx));
	msg_heap_init(&q->expiry, exp_less, offsetof(struct qmsg, exp_idx));
}

/* --- consumers ------------------------------------------------------------- */

static void lru_unlink(struct mq *q, struct consumer *c)
{
	if (c->lprev)
		c->lprev->lnext = c->lnext;
	else
		q->lru_head = c->lnext;
	if (c->lnext)
		c->lnext->lprev = c->lprev;
	else
		q->lru_tail = c->lprev;
	c->lprev = c->lnext = NULL;
}

static void lru_append(struct mq *q, struct consumer *c)
{
	c->lprev = q->lru_tail;
	c->lnext = NULL;
	if (q->lru_tail)
		q->lru_tail->lnext = c;
	else
		q->lru_head = c;
	q->lru_tail = c;
}

static void consumer_renew(struct mq *q, struct consumer *c, uint64_t now)
{
	c->lease = add_sat(now, WEFT_CONSUMER_LEASE_MS);
	lru_unlink(q, c);
	lru_append(q, c);
}

static struct consumer *consumer_get(struct mq *q, uint64_t id)
{
	struct consumer *c = msg_idmap_get(&q->consumers, id);
	if (c != NULL)
		return c;
	if (q->n_consumers >= WEFT_MSG_CONSUMERS_MAX) {
		errno = EBUSY;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || msg_idmap_reserve(&q->consumers, q->n_consumers + 1) != 0) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->id = id;
	msg_idmap_put(&q->consumers, id, c);
	lru_append(q, c);
	q->n_consumers++;
	return c;
}

static void consumer_forget(struct mq *q, struct consumer *c)
{
	msg_idmap_del(&q->consumers, c->id);
	lru_unlink(q, c);
	q->n_consumers--;
	free(c);
}

/* --- messages -------------------------------------------------------------- */

static void flight_unlink(struct qmsg *qm)
{
	struct consumer *c = qm->c;
	if (qm->cprev)
		qm->cprev->cnext = qm->cnext;
	else
		c->flight = qm->cnext;
	if (qm->cnext)
		qm->cnext->cprev = qm->cprev;
	qm->cprev = qm->cnext = NULL;
	c->inflight--;
	qm->c = NULL;
}

/* Removes qm from every structure and frees it (the message unref'd). */
static void qm_free(struct mq *q, struct qmsg *qm)
{
	if (qm->c != NULL)
		flight_unlink(qm);
	msg_heap_remove(&q->ready, qm);
	msg_heap_remove(&q->flight, qm);
	msg_heap_remove(&q->expiry, qm);
	msg_idmap_del(&q->ids, qm->m->id);
	q->depth--;
	q->bytes -= msg_size(qm->m);
	weft_msg_unref(qm->m);
	free(qm);
}

static void make_ready(struct mq *q, struct qmsg *qm)
{
	msg_heap_push(&q->ready, qm);
	if (qm->m->expires_ms != 0)
		msg_heap_push(&q->expiry, qm);
}

int msg_mq_insert(struct mq *q, struct weft_msg *m)
{
	struct qmsg *qm = calloc(1, sizeof(*qm));
	uint32_t need = (uint32_t)q->depth + 1;
	if (qm == NULL || msg_idmap_reserve(&q->ids, need) != 0 || msg_heap_reserve(&q->ready, need) != 0 ||
	    msg_heap_reserve(&q->flight, need) != 0 || msg_heap_reserve(&q->expiry, need) != 0) {
		free(qm);
		return -ENOMEM;
	}
	weft_msg_ref(m);
	qm->m = m;
	qm->ready_idx = qm->flight_idx = qm->exp_idx = HEAP_NONE;
	msg_idmap_put(&q->ids, m->id, qm);
	make_ready(q, qm);
	q->depth++;
	q->bytes += msg_size(m);
	return 0;
}

bool msg_mq_holds_or_removed(const struct mq *q, uint64_t id)
{
	return msg_idmap_get(&q->ids, id) != NULL || msg_idmap_get(&q->tomb_set, id) != NULL;
}

void msg_mq_tomb_add(struct mq *q, uint64_t id, uint64_t now)
{
	if (msg_idmap_get(&q->tomb_set, id) != NULL)
		return;
	if (q->tomb_n == q->tomb_cap && q->tomb_cap < WEFT_MSG_TOMBSTONES) {
		uint32_t nc = q->tomb_cap ? q->tomb_cap * 2 : 64;
		if (nc > WEFT_MSG_TOMBSTONES)
			nc = WEFT_MSG_TOMBSTONES;
		struct tomb *t = malloc((size_t)nc * sizeof(*t));
		if (t != NULL) {
			for (uint32_t i = 0; i < q->tomb_n; i++)
				t[i] = q->tombs[(q->tomb_head + i) % q->tomb_cap];
			free(q->tombs);
			q->tombs = t;
			q->tomb_cap = nc;
			q->tomb_head = 0;
		}
	}
	if (q->tomb_cap == 0)
		return; /* out of memory: the id is simply not remembered */
	if (q->tomb_n == q->tomb_cap) { /* full: forget the oldest */
		msg_idmap_del(&q->tomb_set, q->tombs[q->tomb_head].id);
		q->tomb_head = (q->tomb_head + 1) % q->tomb_cap;
		q->tomb_n--;
	}
	if (msg_idmap_reserve(&q->tomb_set, q->tomb_n + 1) != 0)
		return;
	q->tombs[(q->tomb_head + q->tomb_n) % q->tomb_cap] = (struct tomb){id, now};
	q->tomb_n++;
	msg_idmap_put(&q->tomb_set, id, &tomb_mark);
}

static uint64_t tomb_tick(struct mq *q, uint64_t now)
{
	while (q->tomb_n > 0) {
		struct tomb *t = &q->tombs[q->tomb_head];
		uint64_t due = add_sat(t->at, WEFT_MSG_TOMBSTONE_MS);
		if (due > now)
			return due;
		msg_idmap_del(&q->tomb_set, t->id);
		q->tomb_head = (q->tomb_head + 1) % q->tomb_cap;
		q->tomb_n--;
	}
	return UINT64_MAX;
}

bool msg_mq_remove_id(struct mq *q, uint64_t id, uint64_t now, bool tomb)
{
	struct qmsg *qm = msg_idmap_get(&q->ids, id);
	if (qm != NULL)
		qm_free(q, qm);
	if (tomb)
		msg_mq_tomb_add(q, id, now);
	return qm != NULL;
}

void msg_mq_expire(struct mq *q, uint64_t now)
{
	struct qmsg *qm;
	while ((qm = msg_heap_top(&q->expiry)) != NULL && expired(qm->m, now)) {
		qm_free(q, qm);
		q->d->st.expired++;
	}
}

void msg_mq_drop_oldest(struct mq *q)
{
	struct qmsg *best = msg_heap_top(&q->ready);
	for (uint32_t i = 0; i < q->flight.n; i++) {
		struct qmsg *qm = q->flight.a[i];
		if (best == NULL || qm->m->id < best->m->id)
			best = qm;
	}
	if (best != NULL)
		qm_free(q, best);
}

/* Whether a message is deliverable (expired ones at the head dropped). */
static bool has_ready(struct mq *q, uint64_t now)
{
	struct qmsg *qm;
	while ((qm = msg_heap_top(&q->ready)) != NULL && expired(qm->m, now)) {
		qm_free(q, qm);
		q->d->st.expired++;
	}
	return qm != NULL;
}

/* Puts up to max deliverable messages (WEFT_MSG_BATCH_BYTES, at least one)
 * in flight to c into dl; refs: take a reference for the receiver. */
static void take(struct mq *q, uint64_t now, struct consumer *c, uint32_t max, uint32_t vis,
		 struct weft_delivery *dl, bool refs)
{
	struct weft_dest *d = q->d;
	uint64_t bytes = 0;
	while (dl->n < max && has_ready(q, now)) {
		struct qmsg *qm = msg_heap_top(&q->ready);
		uint64_t sz = msg_size(qm->m);
		if (dl->n > 0 && bytes + sz > WEFT_MSG_BATCH_BYTES)
			break;
		bytes += sz;
		msg_heap_remove(&q->ready, qm);
		msg_heap_remove(&q->expiry, qm);
		qm->c = c;
		qm->cprev = NULL;
		qm->cnext = c->flight;
		if (c->flight)
			c->flight->cprev = qm;
		c->flight = qm;
		c->inflight++;
		c->delivered++;
		c->served = ++q->serves;
		qm->deliveries++;
		qm->deadline = add_sat(now, vis);
		msg_heap_push(&q->flight, qm);
		d->st.delivered++;
		if (qm->deliveries > 1)
			d->st.redelivered++;
		if (refs)
			weft_msg_ref(qm->m);
		dl->msg[dl->n] = qm->m;
		dl->deliveries[dl->n] = qm->deliveries > UINT16_MAX ? UINT16_MAX
								    : (uint16_t)qm->deliveries;
		dl->n++;
	}
}

static void dead(struct mq *q, struct qmsg *qm, uint64_t now, const struct weft_msg_sink *s)
{
	struct weft_dest *d = q->d;
	struct weft_msg *m = qm->m;
	uint64_t id = m->id;
	weft_msg_ref(m);
	qm_free(q, qm);
	msg_mq_tomb_add(q, id, now);
	d->st.dead++;
	record(s, d, q, WEFT_MSGREC_DEAD, NULL, id);
	if (q == &d->q)
		msg_dest_dead_letter(d, now, m, s);
	weft_msg_unref(m);
}

/* An in-flight message comes back: failure applies the max_deliveries rule. */
static void give_back(struct mq *q, struct qmsg *qm, uint64_t now, bool failure,
		      const struct weft_msg_sink *s)
{
	flight_unlink(qm);
	msg_heap_remove(&q->flight, qm);
	if (failure && qm->deliveries >= q->d->opts.max_deliveries) {
		dead(q, qm, now, s);
	} else if (expired(qm->m, now)) {
		qm_free(q, qm);
		q->d->st.expired++;
	} else {
		make_ready(q, qm);
	}
}

static void release_consumer(struct mq *q, struct consumer *c, uint64_t now, bool failure,
			     const struct weft_msg_sink *s)
{
	while (c->flight != NULL)
		give_back(q, c->flight, now, failure, s);
}

/* --- waiters ------------------------------------------------------------- */

void msg_delivery_init(struct weft_delivery *dl, const uint8_t *token, uint64_t consumer_id,
		   uint16_t status)
{
	if (token != NULL)
		memcpy(dl->token, token, WEFT_MSG_TOKEN_LEN);
	else
		memset(dl->token, 0, WEFT_MSG_TOKEN_LEN);
	dl->consumer_id = consumer_id;
	dl->status = status;
	dl->n = 0;
	dl->dropped = 0;
}

static bool waiter_less(const void *x, const void *y)
{
	const struct waiter *a = x, *b = y;
	return a->deadline != b->deadline ? a->deadline < b->deadline : a->seq < b->seq;
}

struct waiter *msg_waiter_park(struct weft_dest *d, uint64_t now, const struct weft_receive *rq)
{
	if (d->waiters.less == NULL)
		msg_heap_init(&d->waiters, waiter_less, offsetof(struct waiter, heap_idx));
	struct waiter *w = calloc(1, sizeof(*w));
	if (w == NULL || msg_heap_reserve(&d->waiters, d->n_waiters + 1) != 0) {
		free(w);
		return NULL;
	}
	if (rq->token != NULL)
		memcpy(w->token, rq->token, WEFT_MSG_TOKEN_LEN);
	w->consumer_id = rq->consumer_id;
	uint32_t wait = rq->wait_ms > WEFT_MAX_RECEIVE_WAIT_MS ? WEFT_MAX_RECEIVE_WAIT_MS
							      : rq->wait_ms;
	w->deadline = add_sat(now, wait);
	w->seq = ++d->wseq;
	w->max = rq->max < 1 ? 1 : rq->max > WEFT_MAX_RECEIVE ? WEFT_MAX_RECEIVE : rq->max;
	uint32_t vis = rq->visibility_ms ? rq->visibility_ms : d->opts.visibility_ms;
	w->visibility_ms = vis > 12u * 3600u * 1000u ? 12u * 3600u * 1000u : vis;
	w->heap_idx = HEAP_NONE;
	msg_heap_push(&d->waiters, w);
	d->n_waiters++;
	return w;
}

void msg_waiter_unlink(struct weft_dest *d, struct waiter *w)
{
	msg_heap_remove(&d->waiters, w);
	d->n_waiters--;
	struct waiter **head, **tail;
	if (w->q != NULL) {
		head = &w->q->wh;
		tail = &w->q->wt;
		w->c->waiting--;
	} else {
		head = &w->ls->wh;
		tail = &w->ls->wt;
		w->ls->waiting--;
	}
	if (w->prev)
		w->prev->next = w->next;
	else
		*head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		*tail = w->prev;
	w->prev = w->next = NULL;
}

static void waiter_link(struct waiter **head, struct waiter **tail, struct waiter *w)
{
	w->prev = *tail;
	w->next = NULL;
	if (*tail)
		(*tail)->next = w;
	else
		*head = w;
	*tail = w;
}

void msg_dest_answer_waiter_empty(struct weft_dest *d, struct waiter *w, uint16_t status,
			      uint64_t now, const struct weft_msg_sink *s)
{
	if (w->ls != NULL) {
		msg_lsub_answer(d, w->ls, w, status, now, s, false);
		return;
	}
	struct weft_delivery dl;
	msg_delivery_init(&dl, w->token, w->consumer_id, status);
	struct mq *q = w->q;
	struct consumer *c = w->c;
	msg_waiter_unlink(d, w);
	if (status == WEFT_ST_OK)
		consumer_renew(q, c, now);
	deliver(s, d, &dl);
	free(w);
}

static bool better(const struct waiter *a, const struct waiter *b)
{
	if (b == NULL)
		return true;
	if (a->c->inflight != b->c->inflight)
		return a->c->inflight < b->c->inflight;
	/* Then round-robin: the one served longest ago. (Fewest delivered in
	 * all would give a consumer that just (re)started everything until it
	 * caught up with the others' lifetime counts.) */
	if (a->c->served != b->c->served)
		return a->c->served < b->c->served;
	return a->seq < b->seq;
}

void msg_mq_serve(struct mq *q, uint64_t now, const struct weft_msg_sink *s)
{
	struct weft_dest *d = q->d;
	while (q->wh != NULL && has_ready(q, now)) {
		struct waiter *best = NULL, *late = NULL;
		for (struct waiter *w = q->wh; w != NULL; w = w->next) {
			if (w->deadline <= now)
				late = w;
			else if (better(w, best))
				best = w;
		}
		if (late != NULL) { /* stopped listening: "nothing", no message */
			msg_dest_answer_waiter_empty(d, late, WEFT_ST_OK, now, s);
			continue;
		}
		struct weft_delivery dl;
		msg_delivery_init(&dl, best->token, best->consumer_id, WEFT_ST_OK);
		struct consumer *c = best->c;
		take(q, now, c, best->max, best->visibility_ms, &dl, false);
		msg_waiter_unlink(d, best);
		consumer_renew(q, c, now);
		deliver(s, d, &dl);
		free(best);
	}
}

int msg_mq_receive(struct mq *q, uint64_t now, const struct weft_receive *rq,
	       struct weft_delivery *dl)
{
	struct weft_dest *d = q->d;
	struct consumer *c = consumer_get(q, rq->consumer_id);
	if (c == NULL)
		return -errno;
	consumer_renew(q, c, now);
	msg_delivery_init(dl, rq->token, rq->consumer_id, WEFT_ST_OK);
	if (has_ready(q, now)) {
		uint32_t max = rq->max < 1 ? 1 : rq->max > WEFT_MAX_RECEIVE ? WEFT_MAX_RECEIVE
									: rq->max;
		uint32_t vis = rq->visibility_ms ? rq->visibility_ms : d->opts.visibility_ms;
		if (vis > 12u * 3600u * 1000u)
			vis = 12u * 3600u * 1000u;
		take(q, now, c, max, vis, dl, true);
		return 1;
	}
	if (rq->wait_ms == 0)
		return 1;
	if (d->n_waiters >= WEFT_MSG_WAITERS_MAX)
		return -EBUSY;
	struct waiter *w = msg_waiter_park(d, now, rq);
	if (w == NULL)
		return -ENOMEM;
	w->q = q;
	w->c = c;
	c->waiting++;
	waiter_link(&q->wh, &q->wt, w);
	return 0;
}

void msg_mq_ack(struct mq *q, uint64_t now, uint64_t consumer_id, enum weft_ack_kind kind,
	    const uint64_t *ids, uint32_t n, uint32_t *done, uint32_t *unknown,
	    const struct weft_msg_sink *s)
{
	struct weft_dest *d = q->d;
	struct consumer *c = msg_idmap_get(&q->consumers, consumer_id);
	for (uint32_t i = 0; i < n; i++) {
		struct qmsg *qm = msg_idmap_get(&q->ids, ids[i]);
		if (c == NULL || qm == NULL || qm->c != c ||
		    (kind != WEFT_ACK_ACK && kind != WEFT_ACK_NACK)) {
			(*unknown)++;
			continue;
		}
		(*done)++;
		if (kind == WEFT_ACK_ACK) {
			uint64_t id = qm->m->id;
			qm_free(q, qm);
			msg_mq_tomb_add(q, id, now);
			d->st.acked++;
			record(s, d, q, WEFT_MSGREC_REMOVE, NULL, id);
		} else {
			give_back(q, qm, now, true, s);
		}
	}
	if (c != NULL)
		consumer_renew(q, c, now);
	msg_mq_serve(q, now, s);
}

void msg_mq_unsubscribe(struct mq *q, uint64_t now, uint64_t consumer_id,
		    const struct weft_msg_sink *s)
{
	struct consumer *c = msg_idmap_get(&q->consumers, consumer_id);
	if (c == NULL)
		return;
	release_consumer(q, c, now, false, s);
	for (struct waiter *w = q->wh, *nx; w != NULL; w = nx) {
		nx = w->next;
		if (w->c == c)
			msg_dest_answer_waiter_empty(q->d, w, WEFT_ST_OK, now, s);
	}
	consumer_forget(q, c);
	msg_mq_serve(q, now, s);
}

void msg_mq_answer_all(struct mq *q, uint16_t status, const struct weft_msg_sink *s)
{
	while (q->wh != NULL)
		msg_dest_answer_waiter_empty(q->d, q->wh, status, 0, s);
}

void msg_mq_release_all(struct mq *q)
{
	while (q->lru_head != NULL) {
		struct consumer *c = q->lru_head;
		release_consumer(q, c, 0, false, NULL);
		if (c->waiting > 0) { /* cannot happen after msg_mq_answer_all */
			lru_unlink(q, c);
			lru_append(q, c);
			break;
		}
		consumer_forget(q, c);
	}
}

uint64_t msg_mq_tick(struct mq *q, uint64_t now, const struct weft_msg_sink *s)
{
	struct qmsg *qm;
	while ((qm = msg_heap_top(&q->flight)) != NULL && qm->deadline <= now)
		give_back(q, qm, now, true, s);
	msg_mq_expire(q, now);
	struct consumer *c;
	while ((c = q->lru_head) != NULL && c->lease <= now) {
		if (c->waiting > 0) { /* alive while parked */
			consumer_renew(q, c, now);
			continue;
		}
		release_consumer(q, c, now, true, s);
		consumer_forget(q, c);
	}
	uint64_t next = tomb_tick(q, now);
	msg_mq_serve(q, now, s);
	if ((qm = msg_heap_top(&q->flight)) != NULL)
		next = min_u64(next, qm->deadline);
	if ((qm = msg_heap_top(&q->expiry)) != NULL)
		next = min_u64(next, qm->m->expires_ms);
	if (q->lru_head != NULL)
		next = min_u64(next, q->lru_head->lease);
	return next;
}

static int cmp_id(const void *x, const void *y)
{
	uint64_t a = (*(struct qmsg *const *)x)->m->id, b = (*(struct qmsg *const *)y)->m->id;
	return a < b ? -1 : a > b;
}

void msg_mq_foreach_sorted(struct mq *q, void (*fn)(void *ctx, struct weft_msg *m), void *ctx)
{
	if (q->depth == 0)
		return;
	struct qmsg **v = malloc(q->depth * sizeof(*v));
	uint64_t k = 0;
	for (uint32_t i = 0; i < q->ids.cap; i++) {
		if (q->ids.vals[i] == NULL)
			continue;
		if (v != NULL)
			v[k++] = q->ids.vals[i];
		else
			fn(ctx, ((struct qmsg *)q->ids.vals[i])->m); /* no memory: unsorted */
	}
	if (v == NULL)
		return;
	qsort(v, k, sizeof(*v), cmp_id);
	for (uint64_t i = 0; i < k; i++)
		fn(ctx, v[i]->m);
	free(v);
}

void msg_mq_tombs_foreach(struct mq *q, void (*fn)(void *ctx, uint64_t id), void *ctx)
{
	for (uint32_t i = 0; i < q->tomb_n; i++)
		fn(ctx, q->tombs[(q->tomb_head + i) % q->tomb_cap].id);
}

void msg_mq_drop_messages(struct mq *q, bool keep_tombstones)
{
	struct heap *hs[2] = {&q->ready, &q->flight};
	for (int h = 0; h < 2; h++) {
		for (uint32_t i = 0; i < hs[h]->n; i++) {
			struct qmsg *qm = hs[h]->a[i];
			weft_msg_unref(qm->m);
			free(qm);
		}
		hs[h]->n = 0;
	}
	q->expiry.n = 0;
	msg_idmap_free(&q->ids);
	q->depth = q->bytes = 0;
	for (struct consumer *c = q->lru_head; c != NULL; c = c->lnext) {
		c->flight = NULL;
		c->inflight = 0;
	}
	if (keep_tombstones)
		return;
	msg_idmap_free(&q->tomb_set);
	free(q->tombs);
	q->tombs = NULL;
	q->tomb_cap = q->tomb_n = q->tomb_head = 0;
}

void msg_mq_fini(struct mq *q)
{
	msg_mq_drop_messages(q, false);
	while (q->lru_head != NULL)
		consumer_forget(q, q->lru_head);
	msg_idmap_free(&q->ids);
	msg_idmap_free(&q->consumers);
	msg_heap_free(&q->ready);
	msg_heap_free(&q->flight);
	msg_heap_free(&q->expiry);
	free(q->sub);
	q->sub = NULL;
}
