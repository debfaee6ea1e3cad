/*
 * ctl_rebalance_tx.c — the sending half of state transfer
 * (ctl_sender_internal.h): scanning the caches into REPLICATE messages,
 * the send window, acks, retransmission, and the drop pass that frees the
 * segments this node gave away.
 *
 * Control thread, a registered online QSBR reader (weft_cache_scan hands
 * entry values valid until the next quiescent state: they are copied into
 * a batch inside the callback).
 *
 * Invariants:
 *  - a message is in exactly one place: the FIFO (not yet sent), the
 *    in-flight window (<= RB_WINDOW), or freed (acked, or its destination
 *    given up, or the job aborted);
 *  - dests[d].outstanding counts d's messages in the FIFO and the window;
 *  - a message keeps its request id for life: a retransmission repeats
 *    every datagram with the same id (REPLICATE is idempotent, and the
 *    receiver's reassembly fills the holes);
 *  - -ENOBUFS from the channel stops sending until the next millisecond
 *    (never a spin); -EHOSTUNREACH (ARP pending), or a destination whose
 *    address is not known yet, counts as sent: the retransmission timer
 *    tries again;
 *  - the drop pass deletes an entry only at the version the job's scan
 *    recorded in the sent set (what every destination acked), never one
 *    that came in after the scan.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "ctl_sender_internal.h"

/* ---- Caches ------------------------------------------------------------ */

struct collect {
	struct weft_ctl_rebalance *rb;
	uint32_t cap;
	int rc;
};

static void collect_one(struct weft_cache *c, void *arg)
{
	struct collect *x = arg;
	struct weft_ctl_rebalance *rb = x->rb;
	struct weft_cache_opts o;

	weft_cache_get_opts(c, &o);
	if (x->rc < 0 || (o.mode != WEFT_CACHE_MODE_DISTRIBUTED &&
			  o.mode != WEFT_CACHE_MODE_REPLICATED))
		return;
	if (rb->n_caches == x->cap) {
		uint32_t cap = x->cap ? x->cap * 2 : 16;
		struct weft_cache **p = realloc(rb->caches, cap * sizeof(*p));
		if (p == NULL) {
			x->rc = -ENOMEM;
			return;
		}
		rb->caches = p;
		x->cap = cap;
	}
	rb->caches[rb->n_caches++] = c;
	rb->has_kind[o.mode == WEFT_CACHE_MODE_REPLICATED ? WEFT_CTL_PLAN_REPLICATED
							  : WEFT_CTL_PLAN_DISTRIBUTED] = true;
}

int rb_caches_collect(struct weft_ctl_rebalance *rb)
{
	struct collect x = {.rb = rb};

	weft_cache_foreach(rb->reg, collect_one, &x);
	return x.rc;
}

static enum weft_ctl_plan_kind kind_of(struct weft_cache *c, struct weft_x_cache_opts *wire)
{
	struct weft_cache_opts o;

	weft_cache_get_opts(c, &o);
	if (wire) {
		memset(wire, 0, sizeof(*wire));
		wire->max_bytes = o.max_bytes;
		wire->max_entries = o.max_entries;
		wire->default_ttl_ms = o.default_ttl_ms;
		wire->default_max_idle_ms = o.default_max_idle_ms;
		wire->mode = o.mode;
	}
	return o.mode == WEFT_CACHE_MODE_REPLICATED ? WEFT_CTL_PLAN_REPLICATED
						    : WEFT_CTL_PLAN_DISTRIBUTED;
}

/* ---- Messages ---------------------------------------------------------- */

static void msg_free(struct weft_ctl_rebalance *rb, struct rb_msg *m)
{
	rb->dests[m->dest].outstanding--;
	free(m->buf);
	free(m);
}

/* Turns d's open batch into a queued message (if it holds entries). */
static int flush_batch(struct weft_ctl_rebalance *rb, uint32_t d)
{
	struct rb_dest *dst = &rb->dests[d];
	struct weft_ctl_repl_batch *b = &dst->batch;

	if (b->count == 0)
		return 0;
	struct rb_msg *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->buf = b->buf;
	m->len = b->len;
	m->name_len = b->name_len;
	m->dest = d;
	m->entries = b->count;
	m->request_id = rb->next_request_id++;
	m->n_dgrams = (uint32_t)weft_ctl_dgram_count(m->len);
	*b = (struct weft_ctl_repl_batch){0};
	if (rb->q_tail)
		rb->q_tail->next = m;
	else
		rb->q_head = m;
	rb->q_tail = m;
	rb->n_queued++;
	dst->outstanding++;
	return 0;
}

void rb_msgs_clear(struct weft_ctl_rebalance *rb)
{
	while (rb->q_head) {
		struct rb_msg *m = rb->q_head;
		rb->q_head = m->next;
		msg_free(rb, m);
	}
	rb->q_tail = NULL;
	rb->n_queued = 0;
	for (uint32_t i = 0; i < rb->n_inflight; i++)
		msg_free(rb, rb->inflight[i]);
	rb->n_inflight = 0;
	for (uint32_t i = 0; i < rb->n_active; i++)
		weft_ctl_repl_free(&rb->dests[rb->active_dests[i]].batch);
}

void rb_dest_fail(struct weft_ctl_rebalance *rb, uint32_t d, const char *why)
{
	struct rb_dest *dst = &rb->dests[d];
	struct rb_msg **pp = &rb->q_head;

	if (dst->failed)
		return;
	dst->failed = true;
	rb->failures++;
	rb->q_tail = NULL;
	while (*pp) {
		struct rb_msg *m = *pp;
		if (m->dest == d) {
			*pp = m->next;
			rb->n_queued--;
			msg_free(rb, m);
		} else {
			rb->q_tail = m;
			pp = &m->next;
		}
	}
	for (uint32_t i = 0; i < rb->n_inflight;) {
		if (rb->inflight[i]->dest == d) {
			msg_free(rb, rb->inflight[i]);
			rb->inflight[i] = rb->inflight[--rb->n_inflight];
		} else {
			i++;
		}
	}
	weft_ctl_repl_free(&dst->batch);
	/* Its segments were not handed over: keep them here. */
	if (dst->bits[WEFT_CTL_PLAN_DISTRIBUTED])
		for (uint32_t s = 0; s < rb->cur.t.n_segments; s++)
			if (dst->bits[WEFT_CTL_PLAN_DISTRIBUTED][s / 8] & (1u << (s % 8)))
				rb->drop[s] = 0;
	char ip[16];
	uint32_t h = ntohl(dst->ip);
	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", h >> 24, (h >> 16) & 255u, (h >> 8) & 255u,
		 h & 255u);
	weft_ctl_log(WEFT_LOG_WARN, "rebalance for view %" PRIu64 ": giving up on %s:%u (%s)",
		     rb->cur.t.view, ip, dst->port, why);
	rb->pub_dirty = true;
}

/* ---- The sent set ------------------------------------------------------ */

static uint64_t sent_key(uint32_t ci, uint64_t key_hash)
{
	uint64_t k = key_hash ^ ((uint64_t)(ci + 1) * 0x9e3779b97f4a7c15ull);
	return k ? k : 1;
}

static int sent_grow(struct rb_sent *st)
{
	size_t cap = st->cap ? st->cap * 2 : 1024;
	uint64_t *key = calloc(cap, sizeof(*key)), *ver = calloc(cap, sizeof(*ver));
	if (key == NULL || ver == NULL) {
		free(key);
		free(ver);
		return -ENOMEM;
	}
	for (size_t i = 0; i < st->cap; i++) {
		if (st->key[i] == 0)
			continue;
		size_t j = st->key[i] & (cap - 1);
		while (key[j] != 0)
			j = (j + 1) & (cap - 1);
		key[j] = st->key[i];
		ver[j] = st->ver[i];
	}
	free(st->key);
	free(st->ver);
	st->key = key;
	st->ver = ver;
	st->cap = cap;
	return 0;
}

bool rb_sent_check_add(struct rb_sent *st, uint32_t ci, uint64_t key_hash, uint64_t version)
{
	uint64_t k = sent_key(ci, key_hash);

	if ((st->n + 1) * 2 > st->cap && sent_grow(st) != 0)
		return false; /* not recorded: the catch-up pass sends it again */
	size_t j = k & (st->cap - 1);
	while (st->key[j] != 0 && st->key[j] != k)
		j = (j + 1) & (st->cap - 1);
	if (st->key[j] == k && st->ver[j] == version)
		return true;
	st->n += st->key[j] == 0;
	st->key[j] = k;
	st->ver[j] = version;
	return false;
}

bool rb_sent_has(const struct rb_sent *st, uint32_t ci, uint64_t key_hash, uint64_t version)
{
	uint64_t k = sent_key(ci, key_hash);

	if (st->cap == 0)
		return false;
	size_t j = k & (st->cap - 1);
	while (st->key[j] != 0 && st->key[j] != k)
		j = (j + 1) & (st->cap - 1);
	return st->key[j] == k && st->ver[j] == version;
}

void rb_sent_free(struct rb_sent *st)
{
	free(st->key);
	free(st->ver);
	memset(st, 0, sizeof(*st));
}

/* ---- Scanning ---------------------------------------------------------- */

static void on_entry(void *arg, const struct weft_cache_key *key,
		     const struct weft_cache_image *img)
{
	struct weft_ctl_rebalance *rb = arg;
	uint32_t seg = weft_wire_segment(key->hash, rb->seg_log2);

	if (rb->dropping) {
		/* Removes it if this very version went out with the job (not
		 * one that came in after the scan: the next view sends it), with
		 * no tombstone (one would refuse the entry should the segment
		 * come back soon); tombstones are left to expire. */
		if (rb->drop[seg] && !img->deleted &&
		    rb_sent_has(&rb->sent, rb->cache_i, key->hash, img->version))
			weft_cache_discard(rb->cache, key, img->version, rb->now);
		return;
	}
	const uint8_t *want = rb->want[rb->cache_kind];
	bool wanted = want != NULL && (want[seg / 8] & (1u << (seg % 8)));
	/* A hand-off records what it sends; its catch-up pass skips it. */
	if (!wanted || (rb->leaving && rb_sent_check_add(&rb->sent, rb->cache_i, key->hash,
							  img->version)))
		return;
	bool all_sent = true;
	for (uint32_t i = 0; i < rb->n_active; i++) {
		uint32_t d = rb->active_dests[i];
		struct rb_dest *dst = &rb->dests[d];
		const uint8_t *bits = dst->bits[rb->cache_kind];

		if (dst->failed || bits == NULL || !(bits[seg / 8] & (1u << (seg % 8))))
			continue;
		if (!weft_ctl_repl_fits(&dst->batch, key->len, img->value_len)) {
			struct weft_ctl_repl_batch *b = &dst->batch;
			/* Same name and extras: copy them into the next batch. */
			uint8_t head[WEFT_MAX_NAME_LEN + sizeof(struct weft_x_replicate)];
			struct weft_x_replicate x;
			uint8_t nl = b->name_len;

			memcpy(head, b->buf, nl + sizeof(x));
			memcpy(&x, head + nl, sizeof(x));
			if (b->count == 0 || flush_batch(rb, d) != 0 ||
			    weft_ctl_repl_begin(b, (const char *)head, nl, &x.opts) != 0 ||
			    !weft_ctl_repl_fits(b, key->len, img->value_len)) {
				rb->too_large++;
				all_sent = false;
				continue;
			}
		}
		if (weft_ctl_repl_add(&dst->batch, key->data, key->len, img) != 0) {
			rb->too_large++;
			all_sent = false;
			continue;
		}
		rb->job_entries++;
		rb->pub.entries_sent++;
	}
	/* An entry of a segment given away, in every destination's batch:
	 * recorded for the drop pass (not recorded for want of memory: kept). */
	if (all_sent && !rb->leaving && rb->cache_kind == WEFT_CTL_PLAN_DISTRIBUTED &&
	    rb->drop[seg])
		(void)rb_sent_check_add(&rb->sent, rb->cache_i, key->hash, img->version);
}

/* Opens the next cache; false when none is left. */
static bool next_cache(struct weft_ctl_rebalance *rb)
{
	while (rb->cache_i < rb->n_caches) {
		struct weft_cache *c = rb->caches[rb->cache_i++];
		struct weft_x_cache_opts wire;
		enum weft_ctl_plan_kind kind = kind_of(c, &wire);
		const char *name = weft_cache_name(c);
		bool wanted = false;

		if (rb->dropping) {
			wanted = kind == WEFT_CTL_PLAN_DISTRIBUTED;
		} else {
			for (uint32_t i = 0; i < rb->n_active; i++) {
				struct rb_dest *d = &rb->dests[rb->active_dests[i]];
				if (d->failed || d->bits[kind] == NULL)
					continue;
				if (weft_ctl_repl_begin(&d->batch, name, strlen(name), &wire) == 0)
					wanted = true;
			}
		}
		if (wanted) {
			rb->cache = c;
			rb->cache_kind = kind;
			rb->cursor = 0;
			return true;
		}
	}
	rb->cache = NULL;
	return false;
}

bool rb_scan_step(struct weft_ctl_rebalance *rb)
{
	for (unsigned calls = 0; calls < RB_SCAN_CALLS; calls++) {
		if (rb->cache == NULL && !next_cache(rb))
			return true;
		rb->cursor = weft_cache_scan(rb->cache, rb->cursor, RB_SCAN_BUCKETS, rb->now,
					     on_entry, rb);
		if (rb->cursor == 0) {
			for (uint32_t i = 0; !rb->dropping && i < rb->n_active; i++) {
				uint32_t d = rb->active_dests[i];
				if (!rb->dests[d].failed && flush_batch(rb, d) != 0)
					rb_dest_fail(rb, d, "out of memory");
			}
			rb->cache = NULL;
		}
		if (!rb->dropping && rb->n_queued + rb->n_inflight >= RB_MAX_BUFFERED)
			break;
	}
	return false;
}

/* ---- The window -------------------------------------------------------- */

/* Sends m's remaining datagrams (budget-bounded). -ENOBUFS: stop for now. */
static int send_msg(struct weft_ctl_rebalance *rb, struct rb_msg *m, unsigned *budget)
{
	uint8_t dg[WEFT_MAX_DGRAM_LEN];
	struct rb_dest *d = &rb->dests[m->dest];
	struct weft_ctl_req_id rid = {rb->client_id, m->request_id, (uint32_t)rb->cur.t.view};

	if (d->ip == 0 || d->port == 0) {
		/* Its address is not known yet (its record comes after the view):
		 * weft_ctl_rebalance_addresses fills it in; retry on the timer. */
		m->next_dgram = m->n_dgrams;
	}
	while (m->next_dgram < m->n_dgrams && *budget > 0) {
		size_t len = weft_ctl_repl_dgram(m->buf, m->len, m->name_len, &rid, m->next_dgram, dg);
		int rc = weft_dp_ctl_send(rb->dp, d->ip, d->port, dg, len);
		if (rc == -ENOBUFS)
			return rc;
		if (rc < 0) {
			/* ARP pending or refused: the retransmission tries again. */
			m->next_dgram = m->n_dgrams;
			break;
		}
		m->next_dgram++;
		(*budget)--;
		rb->job_bytes += len;
		rb->pub.bytes_sent += len;
	}
	if (m->next_dgram == m->n_dgrams)
		m->sent_ms = rb->now;
	return 0;
}

uint64_t rb_tx(struct weft_ctl_rebalance *rb)
{
	unsigned budget = RB_SEND_BUDGET;
	uint64_t now = rb->now, next = UINT64_MAX;

	if (now < rb->blocked_until)
		return rb->blocked_until;
	/* Retransmit overdue messages: every datagram again, same id. */
	for (uint32_t i = 0; i < rb->n_inflight; i++) {
		struct rb_msg *m = rb->inflight[i];
		if (m->next_dgram < m->n_dgrams || now < m->sent_ms + RB_RETRANSMIT_MS)
			continue;
		struct rb_dest *d = &rb->dests[m->dest];
		if (now - d->heard_ms > RB_GIVE_UP_MS) {
			rb_dest_fail(rb, m->dest, "no answer for 20 s");
			i = (uint32_t)-1; /* the window changed: rescan it */
			continue;
		}
		m->next_dgram = 0;
		rb->pub.retransmits++;
		rb->pub_dirty = true;
	}
	for (;;) {
		struct rb_msg *m = NULL;
		for (uint32_t i = 0; i < rb->n_inflight && m == NULL; i++)
			if (rb->inflight[i]->next_dgram < rb->inflight[i]->n_dgrams)
				m = rb->inflight[i];
		if (m == NULL && rb->n_inflight < RB_WINDOW && rb->q_head) {
			m = rb->q_head;
			rb->q_head = m->next;
			if (rb->q_head == NULL)
				rb->q_tail = NULL;
			rb->n_queued--;
			m->next = NULL;
			rb->inflight[rb->n_inflight++] = m;
		}
		if (m == NULL)
			break;
		if (send_msg(rb, m, &budget) == -ENOBUFS) {
			rb->blocked_until = now + 1;
			return rb->blocked_until;
		}
		if (budget == 0)
			return now;
	}
	for (uint32_t i = 0; i < rb->n_inflight; i++)
		if (rb->inflight[i]->sent_ms + RB_RETRANSMIT_MS < next)
			next = rb->inflight[i]->sent_ms + RB_RETRANSMIT_MS;
	return next;
}

void weft_ctl_rebalance_on_response(struct weft_ctl_rebalance *rb,
				    const struct weft_dp_datagram *dg, uint64_t now_ms)
{
	struct weft_ctl_req_id rid;
	struct weft_x_repl_ack ack;
	uint16_t status;

	rb->now = now_ms;
	if (!rb->active || rb->dropping ||
	    !weft_ctl_repl_parse_ack(dg->payload, dg->len, &rid, &status, &ack) ||
	    rid.client_id != rb->client_id)
		return;
	for (uint32_t i = 0; i < rb->n_inflight; i++) {
		struct rb_msg *m = rb->inflight[i];
		struct rb_dest *d = &rb->dests[m->dest];
		if (m->request_id != rid.request_id)
			continue;
		if (dg->src_ip != d->ip || dg->src_port != d->port)
			return;
		d->heard_ms = rb->now;
		if (status == WEFT_ST_BUSY)
			return; /* the retransmission timer sends it again */
		if (status != WEFT_ST_OK) {
			char why[48];
			snprintf(why, sizeof(why), "REPLICATE answered with status %u", status);
			rb_dest_fail(rb, m->dest, why);
			return;
		}
		rb->inflight[i] = rb->inflight[--rb->n_inflight];
		msg_free(rb, m);
		rb->pub_dirty = true;
		return;
	}
}
