/*
 * msg/topic.c — a topic's state: the log kept for subscriber nodes (primary
 * side), durable subscriptions (struct mq each), and local subscriptions
 * (any node: the messages its primary sent, fanned to each local
 * subscriber).
 *
 * Invariants:
 *  - the log is a ring of message references in id order; the message at
 *    index i has sequence number head_seq + i; tail_seq = head_seq + log_n;
 *    a trimmed message's sequence number is never reused;
 *  - a subscriber node's cursor is a sequence number (seq): the next message
 *    it wants; while it has a batch in flight its cursor stays at the
 *    batch's start, so trimming by the slowest cursor keeps the batch (the
 *    bounds max_depth / max_bytes may trim it anyway: the batch holds its
 *    own references, and the node counts what it missed);
 *  - on the primary, the log is trimmed by the cursors (with no subscriber
 *    node: of everything) only once the node has been primary for
 *    WEFT_CONSUMER_LEASE_MS (time for nodes of a previous primary to
 *    re-join, whoever joined first); the primary's tick sends what it trimmed
 *    (a TRIM record) and a backup drops the same; a backup keeps at most
 *    its bounds meanwhile;
 *  - a local subscription holds at most max_depth references (oldest dropped,
 *    counted); each waiting message carries the count missed just before
 *    it, and a drop is reported with the first message after it;
 *    local_next is the id after the last message handed to local
 *    subscriptions (0 with no local subscription).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

#include "msg_internal.h"

static inline uint64_t tail_seq(const struct weft_dest *d)
{
	return d->head_seq + d->log_n;
}

static inline struct weft_msg *log_at(const struct weft_dest *d, uint64_t seq)
{
	return d->log[(d->log_head + (seq - d->head_seq)) & (d->log_cap - 1)];
}

/* Remembers that id was trimmed: the newest per tag (ids of one tag grow).
 * Without memory for a new tag it is not remembered: a late copy of that
 * message is then reported missed (a drop too many, never a silent one). */
static void tag_mark(struct weft_dest *d, uint64_t id)
{
	uint16_t tag = (uint16_t)(id & WEFT_MSG_ID_TAG_MASK);
	for (uint32_t i = 0; i < d->n_tag_marks; i++) {
		if (d->tag_marks[i].tag == tag) {
			if (id > d->tag_marks[i].id)
				d->tag_marks[i].id = id;
			return;
		}
	}
	if (d->n_tag_marks == d->tag_marks_cap) {
		uint32_t nc = d->tag_marks_cap ? d->tag_marks_cap * 2 : 8;
		struct tag_mark *a = realloc(d->tag_marks, nc * sizeof(*a));
		if (a == NULL)
			return;
		d->tag_marks = a;
		d->tag_marks_cap = nc;
	}
	d->tag_marks[d->n_tag_marks++] = (struct tag_mark){.id = id, .tag = tag};
}

/* Whether id, older than the log's head, was held and trimmed (its tag's
 * mark reaches it) rather than never held. */
static bool trimmed_before(const struct weft_dest *d, uint64_t id)
{
	uint16_t tag = (uint16_t)(id & WEFT_MSG_ID_TAG_MASK);
	for (uint32_t i = 0; i < d->n_tag_marks; i++)
		if (d->tag_marks[i].tag == tag)
			return id <= d->tag_marks[i].id;
	return false;
}

static uint32_t clamp_u32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static void trim_head(struct weft_dest *d)
{
	struct weft_msg *m = d->log[d->log_head];
	d->trimmed_last_id = m->id;
	tag_mark(d, m->id);
	d->log_bytes -= msg_size(m);
	d->log_head = (d->log_head + 1) & (d->log_cap - 1);
	d->log_n--;
	d->head_seq++;
	weft_msg_unref(m);
}

void msg_topic_trim_to(struct weft_dest *d, uint64_t id)
{
	while (d->log_n > 0 && d->log[d->log_head]->id <= id)
		trim_head(d);
}

static void trim_all(struct weft_dest *d)
{
	while (d->log_n > 0)
		trim_head(d);
}

static bool log_grace_over(struct weft_dest *d, uint64_t now)
{
	if (d->primary_since == 0)
		d->primary_since = now; /* created as primary: the grace starts now */
	return now >= add_sat(d->primary_since, WEFT_CONSUMER_LEASE_MS);
}

/* Trims below the slowest node's cursor (everything when no node), once
 * the grace after becoming primary is over: until then the nodes of the
 * previous primary may still re-join (every WEFT_TOPIC_JOIN_MS) from
 * where they were, though other nodes (this one's own subscriptions) have
 * joined and moved on. */
static void trim_by_cursors(struct weft_dest *d, uint64_t now)
{
	if (d->role != WEFT_ROLE_PRIMARY || !log_grace_over(d, now))
		return;
	if (d->n_nodes == 0) {
		trim_all(d);
		return;
	}
	uint64_t min = UINT64_MAX;
	for (uint32_t i = 0; i < d->n_nodes; i++)
		min = min_u64(min, d->nodes[i].seq);
	while (d->log_n > 0 && d->head_seq < min)
		trim_head(d);
}

static int log_grow(struct weft_dest *d)
{
	uint64_t nc = d->log_cap ? d->log_cap * 2 : 64;
	struct weft_msg **a = malloc(nc * sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	for (uint64_t i = 0; i < d->log_n; i++)
		a[i] = d->log[(d->log_head + i) & (d->log_cap - 1)];
	free(d->log);
	d->log = a;
	d->log_cap = nc;
	d->log_head = 0;
	return 0;
}

int msg_topic_log_append(struct weft_dest *d, uint64_t now, struct weft_msg *m)
{
	if (d->role == WEFT_ROLE_PRIMARY && d->n_nodes == 0 && log_grace_over(d, now)) {
		/* no node wants it: trimmed at once, as trimmed (a node that
		 * joins later from before it is told it missed some) */
		trim_all(d);
		d->trimmed_last_id = m->id;
		tag_mark(d, m->id);
		return 0;
	}
	if (d->log_n == d->log_cap && log_grow(d) != 0)
		return -ENOMEM;
	weft_msg_ref(m);
	d->log[(d->log_head + d->log_n) & (d->log_cap - 1)] = m;
	d->log_n++;
	d->log_bytes += msg_size(m);
	while (d->log_n > 0 && (d->log_n > d->opts.max_depth || d->log_bytes > d->opts.max_bytes))
		trim_head(d);
	return 0;
}

/* The sequence number of the first held message with id >= id (tail_seq if
 * none). */
static uint64_t seq_of(const struct weft_dest *d, uint64_t id)
{
	uint64_t lo = d->head_seq, hi = tail_seq(d);
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (log_at(d, mid)->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int msg_topic_log_insert_late(struct weft_dest *d, struct weft_msg *m)
{
	if (m->id > d->log_last_id)
		return 0; /* new: appended */
	if (m->id <= d->trimmed_last_id) {
		if (trimmed_before(d, m->id))
			return 0; /* held once, trimmed since: a duplicate */
		/* Another primary's message (a split brain), older than the
		 * log's head: every subscriber node is past its place and
		 * cannot get it in order; each is told it missed one. */
		for (uint32_t i = 0; i < d->n_nodes; i++) {
			d->nodes[i].dropped++;
			d->st.dropped++;
		}
		return 1;
	}
	uint64_t ins = seq_of(d, m->id);
	if (ins < tail_seq(d) && log_at(d, ins)->id == m->id)
		return 0; /* held: a duplicate */
	/* Older than the log's newest, never held: another primary's message
	 * (a split brain) arriving after newer ones. It goes in at its place
	 * in id order; a subscriber node already past that place cannot get it
	 * in order and is told it missed one. */
	if (d->log_n == d->log_cap && log_grow(d) != 0)
		return -ENOMEM;
	for (uint64_t k = tail_seq(d); k > ins; k--)
		d->log[(d->log_head + (k - d->head_seq)) & (d->log_cap - 1)] = log_at(d, k - 1);
	weft_msg_ref(m);
	d->log[(d->log_head + (ins - d->head_seq)) & (d->log_cap - 1)] = m;
	d->log_n++;
	d->log_bytes += msg_size(m);
	for (uint32_t i = 0; i < d->n_nodes; i++) {
		struct tnode *n = &d->nodes[i];
		if (n->seq > ins) {
			n->seq++; /* same message as before, one further */
			n->dropped++;
			d->st.dropped++;
		}
		if (n->in_flight && n->batch_end_seq > ins) {
			n->batch_end_seq++;
			if (n->seq <= ins) { /* its batch in flight lacks it */
				n->dropped++;
				n->flight_missed++;
				d->st.dropped++;
			}
		}
	}
	return 1;
}

static uint64_t id_at(const struct weft_dest *d, uint64_t seq)
{
	if (seq < tail_seq(d) && seq >= d->head_seq)
		return log_at(d, seq)->id;
	return d->log_last_id + 1;
}

/* --- durable subscriptions ------------------------------------------------ */

struct mq *msg_topic_durable_find(struct weft_dest *d, const char *sub, size_t len)
{
	for (struct mq *q = d->durables; q != NULL; q = q->next)
		if (q->sub_len == len && memcmp(q->sub, sub, len) == 0)
			return q;
	return NULL;
}

struct mq *msg_topic_durable_get(struct weft_dest *d, const char *sub, size_t len, bool *created)
{
	*created = false;
	if (sub == NULL || len == 0 || len > WEFT_MAX_KEY_LEN) {
		errno = EINVAL;
		return NULL;
	}
	struct mq *q = msg_topic_durable_find(d, sub, len);
	if (q != NULL)
		return q;
	if (d->n_durables >= WEFT_MSG_DURABLE_MAX) {
		errno = ENOSPC;
		return NULL;
	}
	q = malloc(sizeof(*q));
	char *name = malloc(len);
	if (q == NULL || name == NULL) {
		free(q);
		free(name);
		errno = ENOMEM;
		return NULL;
	}
	msg_mq_init(q, d);
	memcpy(name, sub, len);
	q->sub = name;
	q->sub_len = len;
	q->next = d->durables;
	d->durables = q;
	d->n_durables++;
	*created = true;
	return q;
}

void msg_topic_durable_remove(struct weft_dest *d, struct mq *q, const struct weft_msg_sink *s)
{
	msg_mq_answer_all(q, WEFT_ST_NOT_FOUND, s);
	for (struct mq **p = &d->durables; *p != NULL; p = &(*p)->next) {
		if (*p == q) {
			*p = q->next;
			break;
		}
	}
	d->n_durables--;
	msg_mq_fini(q);
	free(q);
}

void msg_topic_fan_durables(struct weft_dest *d, uint64_t now, struct weft_msg *m,
			const struct weft_msg_sink *s)
{
	for (struct mq *q = d->durables; q != NULL; q = q->next) {
		if (msg_mq_holds_or_removed(q, m->id))
			continue;
		msg_mq_expire(q, now);
		while (q->depth > 0 && (q->depth >= d->opts.max_depth ||
					q->bytes + msg_size(m) > d->opts.max_bytes)) {
			msg_mq_drop_oldest(q);
			d->st.dropped++;
		}
		if (msg_mq_insert(q, m) != 0) {
			d->st.dropped++;
			continue;
		}
		if (s != NULL)
			msg_mq_serve(q, now, s);
	}
}

/* --- subscriber nodes (primary) --------------------------------------------- */

static struct tnode *node_find(struct weft_dest *d, uint32_t ip, uint16_t port)
{
	for (uint32_t i = 0; i < d->n_nodes; i++)
		if (d->nodes[i].ip == ip && d->nodes[i].port == port)
			return &d->nodes[i];
	return NULL;
}

static void node_remove(struct weft_dest *d, struct tnode *n)
{
	*n = d->nodes[--d->n_nodes];
}

/* Places n's cursor at next_id (!= 0). */
static void node_position(struct weft_dest *d, struct tnode *n, uint64_t next_id)
{
	if (d->log_n > 0 && next_id >= log_at(d, d->head_seq)->id) {
		n->seq = seq_of(d, next_id);
		return;
	}
	n->seq = d->log_n > 0 ? d->head_seq : tail_seq(d);
	if (next_id <= d->trimmed_last_id && next_id <= d->log_last_id)
		n->dropped++; /* some were trimmed: at least one missed */
}

int weft_topic_join(struct weft_dest *d, uint64_t now, uint32_t ip, uint16_t port,
		    uint64_t next_id, uint32_t subscriptions, uint64_t *resume_id)
{
	uint64_t dummy;
	if (resume_id == NULL)
		resume_id = &dummy;
	*resume_id = next_id;
	if (d->stopped)
		return -ENOENT;
	if (d->kind != WEFT_DEST_TOPIC)
		return -EINVAL;
	struct tnode *n = node_find(d, ip, port);
	if (subscriptions == 0) {
		if (n != NULL) {
			node_remove(d, n);
			trim_by_cursors(d, now);
		}
		return 0;
	}
	if (n == NULL) {
		if (d->n_nodes >= WEFT_MSG_NODES_MAX)
			return -ENOSPC;
		if (d->n_nodes == d->nodes_cap) {
			uint32_t nc = d->nodes_cap ? d->nodes_cap * 2 : 8;
			struct tnode *a = realloc(d->nodes, nc * sizeof(*a));
			if (a == NULL)
				return -ENOMEM;
			d->nodes = a;
			d->nodes_cap = nc;
		}
		n = &d->nodes[d->n_nodes++];
		memset(n, 0, sizeof(*n));
		n->ip = ip;
		n->port = port;
		if (next_id == 0)
			n->seq = tail_seq(d);
		else
			node_position(d, n, next_id);
	} else if (next_id != 0 && !n->in_flight && next_id > id_at(d, n->seq)) {
		node_position(d, n, next_id); /* only forward: the node has them */
	}
	n->lease = add_sat(now, WEFT_CONSUMER_LEASE_MS);
	*resume_id = id_at(d, n->seq);
	return 0;
}

bool weft_topic_next_batch(struct weft_dest *d, uint64_t now, uint32_t ip, uint16_t port,
			   struct weft_topic_batch *b)
{
	b->n = 0;
	if (d->stopped || d->kind != WEFT_DEST_TOPIC)
		return false;
	struct tnode *n = node_find(d, ip, port);
	if (n == NULL || n->in_flight)
		return false;
	if (n->seq < d->head_seq) {
		n->dropped += d->head_seq - n->seq;
		d->st.dropped += d->head_seq - n->seq;
		n->seq = d->head_seq;
	}
	uint64_t seq = n->seq, bytes = 0;
	while (seq < tail_seq(d) && b->n < WEFT_MAX_RECEIVE) {
		struct weft_msg *m = log_at(d, seq);
		if (m->expires_ms != 0 && m->expires_ms <= now) {
			seq++; /* expired: never delivered */
			continue;
		}
		if (b->n > 0 && bytes + msg_size(m) > WEFT_MSG_BATCH_BYTES)
			break;
		bytes += msg_size(m);
		weft_msg_ref(m);
		b->msg[b->n++] = m;
		seq++;
	}
	if (b->n == 0) {
		n->seq = seq; /* only expired ones were pending */
		return false;
	}
	b->ip = ip;
	b->port = port;
	b->dropped = clamp_u32(n->dropped);
	n->batch_dropped = b->dropped;
	b->next_id = b->msg[b->n - 1]->id + 1;
	n->in_flight = true;
	n->flight_missed = 0;
	n->batch_end_seq = seq;
	n->batch_next_id = b->next_id;
	return true;
}

void weft_topic_batch_done(struct weft_dest *d, uint64_t now, uint32_t ip, uint16_t port,
			   bool ok, uint64_t next_id)
{
	if (d->stopped || d->kind != WEFT_DEST_TOPIC)
		return;
	struct tnode *n = node_find(d, ip, port);
	if (n == NULL || !n->in_flight)
		return;
	n->in_flight = false;
	if (!ok) {
		/* the cursor stays at the batch's start: the late messages put
		 * after it are sent with the next batch, not missed (if this
		 * one arrived after all, the node counts them itself: older
		 * than what it handed on) */
		n->dropped -= n->flight_missed;
		d->st.dropped -= n->flight_missed;
		n->flight_missed = 0;
		return;
	}
	if (next_id == n->batch_next_id)
		n->seq = n->batch_end_seq;
	else if (d->log_n > 0 && next_id >= log_at(d, d->head_seq)->id)
		n->seq = seq_of(d, next_id) > n->seq ? seq_of(d, next_id) : n->seq;
	else if (d->log_n == 0 && next_id > d->log_last_id)
		n->seq = tail_seq(d);
	n->dropped -= n->batch_dropped; /* missed meanwhile: in the next batch */
	n->lease = add_sat(now, WEFT_CONSUMER_LEASE_MS);
	trim_by_cursors(d, now);
}

void weft_topic_batch_free(struct weft_topic_batch *b)
{
	for (uint32_t i = 0; i < b->n; i++)
		weft_msg_unref(b->msg[i]);
	b->n = 0;
}

void weft_topic_foreach_ready_node(struct weft_dest *d,
				   void (*fn)(void *ctx, uint32_t ip, uint16_t port), void *ctx)
{
	if (d->stopped || d->kind != WEFT_DEST_TOPIC)
		return;
	for (uint32_t i = 0; i < d->n_nodes; i++) {
		struct tnode *n = &d->nodes[i];
		if (!n->in_flight && n->seq < tail_seq(d))
			fn(ctx, n->ip, n->port);
	}
}

void msg_topic_forget_nodes(struct weft_dest *d)
{
	d->n_nodes = 0;
}

/* --- local subscriptions ------------------------------------------------------ */

static void ls_unlink(struct weft_dest *d, struct lsub *ls)
{
	if (ls->lprev == NULL && d->ls_head != ls)
		return; /* not linked yet */
	if (ls->lprev)
		ls->lprev->lnext = ls->lnext;
	else
		d->ls_head = ls->lnext;
	if (ls->lnext)
		ls->lnext->lprev = ls->lprev;
	else
		d->ls_tail = ls->lprev;
	ls->lprev = ls->lnext = NULL;
}

static void ls_renew(struct weft_dest *d, struct lsub *ls, uint64_t now)
{
	ls->lease = add_sat(now, WEFT_CONSUMER_LEASE_MS);
	ls_unlink(d, ls);
	ls->lprev = d->ls_tail;
	if (d->ls_tail)
		d->ls_tail->lnext = ls;
	else
		d->ls_head = ls;
	d->ls_tail = ls;
}

/* Pops the oldest waiting message; *gap: the ones missed before it. */
static struct weft_msg *ls_pop(struct lsub *ls, uint64_t *gap)
{
	struct lmsg *e = &ls->ring[ls->head];
	*gap = e->gap;
	ls->head = (ls->head + 1) % ls->cap;
	ls->n--;
	return e->m;
}

/* Adds gap missed messages before the oldest waiting one (after the newest
 * when none waits). */
static void ls_gap_front(struct lsub *ls, uint64_t gap)
{
	if (ls->n > 0)
		ls->ring[ls->head].gap += gap;
	else
		ls->dropped += gap;
}

static void ls_push(struct weft_dest *d, struct lsub *ls, struct weft_msg *m)
{
	uint64_t gap;
	if (ls->n >= d->opts.max_depth) {
		weft_msg_unref(ls_pop(ls, &gap));
		ls_gap_front(ls, gap + 1);
		d->st.dropped++;
	}
	if (ls->n == ls->cap) {
		uint32_t nc = ls->cap ? ls->cap * 2 : 16;
		if (nc > d->opts.max_depth)
			nc = d->opts.max_depth;
		struct lmsg *a = nc > ls->cap ? malloc((size_t)nc * sizeof(*a)) : NULL;
		if (a == NULL) { /* no memory: lose this one, counted */
			ls->dropped++;
			d->st.dropped++;
			return;
		}
		for (uint32_t i = 0; i < ls->n; i++)
			a[i] = ls->ring[(ls->head + i) % ls->cap];
		free(ls->ring);
		ls->ring = a;
		ls->cap = nc;
		ls->head = 0;
	}
	weft_msg_ref(m);
	ls->ring[(ls->head + ls->n) % ls->cap] = (struct lmsg){.m = m, .gap = ls->dropped};
	ls->dropped = 0;
	ls->n++;
}

/* Moves up to max waiting messages into dl (references go with them).
 * dl->dropped counts the messages missed before each of them: a drop is
 * reported with the first message after it, never before (the messages
 * ahead of a gap come first, without it). Missed ones after the newest
 * message wait for the next one, or for an immediate (wait_ms 0) answer
 * when none waits: an answer to a parked RECEIVE may reach nobody (its
 * client stopped waiting while this node was paused), and carries drops
 * only with messages. */
static void ls_take(struct weft_dest *d, struct lsub *ls, uint64_t now, uint32_t max,
		    struct weft_delivery *dl)
{
	uint64_t bytes = 0, dropped = 0, gap;
	while (ls->n > 0 && dl->n < max) {
		struct weft_msg *m = ls->ring[ls->head].m;
		if (m->expires_ms != 0 && m->expires_ms <= now) {
			weft_msg_unref(ls_pop(ls, &gap));
			ls_gap_front(ls, gap); /* expired: never delivered, not missed */
			d->st.expired++;
			continue;
		}
		if (dl->n > 0 && bytes + msg_size(m) > WEFT_MSG_BATCH_BYTES)
			break;
		bytes += msg_size(m);
		dl->msg[dl->n] = ls_pop(ls, &gap);
		dropped += gap;
		dl->deliveries[dl->n] = 1;
		dl->n++;
	}
	d->st.delivered += dl->n;
	dl->dropped = clamp_u32(dropped);
}

void msg_lsub_answer(struct weft_dest *d, struct lsub *ls, struct waiter *w, uint16_t status,
		 uint64_t now, const struct weft_msg_sink *s, bool with_msgs)
{
	struct weft_delivery dl;
	msg_delivery_init(&dl, w->token, w->consumer_id, status);
	if (with_msgs)
		ls_take(d, ls, now, w->max, &dl);
	msg_waiter_unlink(d, w);
	if (status == WEFT_ST_OK)
		ls_renew(d, ls, now);
	deliver(s, d, &dl);
	for (uint32_t i = 0; i < dl.n; i++)
		weft_msg_unref(dl.msg[i]);
	free(w);
}

int msg_topic_local_receive(struct weft_dest *d, uint64_t now, const struct weft_receive *rq,
			struct weft_delivery *dl)
{
	struct lsub *ls = msg_idmap_get(&d->lsubs, rq->consumer_id);
	if (ls == NULL) {
		if (d->n_lsubs >= WEFT_MSG_CONSUMERS_MAX)
			return -EBUSY;
		ls = calloc(1, sizeof(*ls));
		if (ls == NULL || msg_idmap_reserve(&d->lsubs, d->n_lsubs + 1) != 0) {
			free(ls);
			return -ENOMEM;
		}
		ls->id = rq->consumer_id;
		msg_idmap_put(&d->lsubs, ls->id, ls);
		d->n_lsubs++;
	}
	ls_renew(d, ls, now);
	msg_delivery_init(dl, rq->token, rq->consumer_id, WEFT_ST_OK);
	uint32_t max = rq->max < 1 ? 1 : rq->max > WEFT_MAX_RECEIVE ? WEFT_MAX_RECEIVE : rq->max;
	if (ls->n > 0) {
		ls_take(d, ls, now, max, dl);
		if (dl->n > 0)
			return 1;
	}
	if (rq->wait_ms == 0) {
		if (ls->n == 0) { /* answered now: the missed ones after the last */
			dl->dropped = clamp_u32(dl->dropped + ls->dropped);
			ls->dropped = 0;
		}
		return 1;
	}
	if (d->n_waiters >= WEFT_MSG_WAITERS_MAX)
		return -EBUSY;
	struct waiter *w = msg_waiter_park(d, now, rq);
	if (w == NULL)
		return -ENOMEM;
	w->ls = ls;
	ls->waiting++;
	w->prev = ls->wt;
	if (ls->wt)
		ls->wt->next = w;
	else
		ls->wh = w;
	ls->wt = w;
	return 0;
}

static void ls_free(struct weft_dest *d, struct lsub *ls)
{
	msg_idmap_del(&d->lsubs, ls->id);
	ls_unlink(d, ls);
	uint64_t gap;
	while (ls->n > 0)
		weft_msg_unref(ls_pop(ls, &gap));
	free(ls->ring);
	free(ls);
	if (--d->n_lsubs == 0)
		d->local_next = 0;
}

void msg_topic_local_end(struct weft_dest *d, uint64_t now, uint64_t consumer_id,
		     const struct weft_msg_sink *s)
{
	struct lsub *ls = msg_idmap_get(&d->lsubs, consumer_id);
	if (ls == NULL)
		return;
	while (ls->wh != NULL)
		msg_lsub_answer(d, ls, ls->wh, WEFT_ST_OK, now, s, false);
	ls_free(d, ls);
}

static bool recent_has(const struct weft_dest *d, uint64_t id)
{
	for (unsigned i = 0; i < MSG_RECENT_IDS; i++)
		if (d->recent[i] == id)
			return true;
	return false;
}

static void recent_add(struct weft_dest *d, uint64_t id)
{
	d->recent[d->recent_pos++ % MSG_RECENT_IDS] = id;
}

uint64_t weft_topic_local_deliver(struct weft_dest *d, uint64_t now, struct weft_msg *const *msgs,
				  uint32_t n, uint32_t dropped, const struct weft_msg_sink *s)
{
	if (d->stopped || d->kind != WEFT_DEST_TOPIC)
		return d->local_next;
	/* the batch's drops lie before its first message; a late one (below)
	 * is missed where the subscriptions are now */
	for (struct lsub *ls = d->ls_head; ls != NULL; ls = ls->lnext) {
		ls->dropped += dropped;
		d->st.dropped += dropped;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct weft_msg *m = msgs[i];
		if (m == NULL)
			continue;
		if (m->id < d->local_next) {
			/* A duplicate (seen lately), or another primary's message
			 * older than what the subscriptions got (a split brain):
			 * out of order, so not handed on, but reported. */
			if (!recent_has(d, m->id)) {
				recent_add(d, m->id);
				for (struct lsub *ls = d->ls_head; ls != NULL; ls = ls->lnext) {
					ls->dropped++;
					d->st.dropped++;
				}
			}
			continue;
		}
		recent_add(d, m->id);
		for (struct lsub *ls = d->ls_head; ls != NULL; ls = ls->lnext)
			ls_push(d, ls, m);
		d->local_next = m->id + 1;
	}
	/* answering renews a lease, which moves the subscription to the tail
	 * of the list: visit each of the n_lsubs once. A parked RECEIVE past
	 * its deadline (this node was paused: TOPIC_DELIVERs handled before
	 * the timers) is answered empty — its client stopped waiting, the
	 * messages would be lost for the subscription — and the messages
	 * wait for the next one. */
	struct lsub *ls = d->ls_head;
	for (uint32_t i = 0, cnt = d->n_lsubs; i < cnt && ls != NULL; i++) {
		struct lsub *nx = ls->lnext;
		while (ls->wh != NULL && ls->n > 0) {
			bool past = ls->wh->deadline <= now;
			msg_lsub_answer(d, ls, ls->wh, WEFT_ST_OK, now, s, !past);
			if (!past)
				break;
		}
		ls = nx;
	}
	return d->local_next;
}

uint64_t weft_topic_local_next(const struct weft_dest *d)
{
	return d->local_next;
}

unsigned weft_topic_local_subs(const struct weft_dest *d)
{
	return d->n_lsubs;
}

uint64_t msg_topic_tick(struct weft_dest *d, uint64_t now, const struct weft_msg_sink *s)
{
	uint64_t next = UINT64_MAX;
	struct lsub *ls;
	while ((ls = d->ls_head) != NULL && ls->lease <= now) {
		if (ls->waiting > 0)
			ls_renew(d, ls, now); /* alive while parked */
		else
			ls_free(d, ls);
	}
	if (d->ls_head != NULL)
		next = d->ls_head->lease;
	bool gone = false;
	for (uint32_t i = 0; i < d->n_nodes;) {
		if (d->nodes[i].lease <= now) {
			node_remove(d, &d->nodes[i]);
			gone = true;
			continue;
		}
		next = min_u64(next, d->nodes[i].lease);
		i++;
	}
	if (gone || d->log_n > 0)
		trim_by_cursors(d, now);
	/* The other owners keep the log only as far as the subscriber nodes
	 * still need it (a copy for a new primary to resume from). */
	if (d->role == WEFT_ROLE_PRIMARY && d->trimmed_last_id > d->trim_sent) {
		d->trim_sent = d->trimmed_last_id;
		record(s, d, &d->q, WEFT_MSGREC_TRIM, NULL, d->trim_sent);
	}
	if (d->role == WEFT_ROLE_PRIMARY && d->n_nodes == 0 && d->log_n > 0 &&
	    d->primary_since != 0)
		next = min_u64(next, add_sat(d->primary_since, WEFT_CONSUMER_LEASE_MS));
	for (struct mq *q = d->durables; q != NULL; q = q->next)
		next = min_u64(next, msg_mq_tick(q, now, s));
	return next;
}

void msg_topic_fini(struct weft_dest *d)
{
	trim_all(d);
	free(d->log);
	d->log = NULL;
	d->log_cap = d->log_head = 0;
	free(d->tag_marks);
	d->tag_marks = NULL;
	d->n_tag_marks = d->tag_marks_cap = 0;
	free(d->nodes);
	d->nodes = NULL;
	d->n_nodes = d->nodes_cap = 0;
	while (d->ls_head != NULL)
		ls_free(d, d->ls_head);
	msg_idmap_free(&d->lsubs);
	while (d->durables != NULL) {
		struct mq *q = d->durables;
		d->durables = q->next;
		msg_mq_fini(q);
		free(q);
	}
	d->n_durables = 0;
}
