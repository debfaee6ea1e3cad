/*
 * weft-perf's DPDK mode's send / receive loop on one lcore.
 *
 * Load: open loop (--rate: requests are due at fixed TSC intervals whatever
 * the answers; a backlog of more than 10 ms is dropped and shows as
 * offered > sent) or closed loop (at most --depth requests in flight per
 * flow). Flows are distinct UDP source ports, used round robin; bursts go
 * to the --queues TX queues in turn and every RX queue is polled. With
 * --mget a get is the MULTI_GET template with its key slots overwritten by
 * freshly drawn keys.
 *
 * Matching: the request id carries the send TSC (relative to the phase start)
 * above WPD_SLOT_BITS and a slot of the in-flight ring below. The ring is
 * filled in send order (head) and emptied at its tail, where a live request
 * older than --timeout-ms is counted lost; an answer whose id is not its
 * slot's current id (late, duplicate, forged) is counted stale.
 *
 * Invariants: every wait is bounded (phase end + timeout drain, and
 * wpd_exchange's timeout); mbufs are freed on every path (unsent ones after
 * a short tx_burst, every received one).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_memcpy.h>

#include "weft_perf_dpdk_internal.h"

struct slot {
	uint64_t id; /* 0: free */
	uint32_t flow;
};

struct phase {
	bool preload;       /* PUT every key once, in order */
	uint64_t quota;     /* requests to send; 0: no bound */
	uint64_t end_tsc;   /* stop sending at; 0: no bound */
	uint64_t rate;      /* open loop requests/s; 0: closed loop */
	bool lines;         /* per-second lines */
};

struct engine {
	struct wpd_run *r;
	const struct wpd_config *c;
	struct slot *ring;
	uint32_t mask;
	uint64_t head, tail;
	uint32_t *inflight;   /* per flow */
	uint64_t live;        /* requests in flight */
	uint32_t flow_cursor;
	uint16_t txq;         /* queue of the next burst */
	uint64_t next_key;    /* preload order */
	uint64_t tsc0, hz, timeout_tsc;
	uint64_t last_answer_tsc;
	struct wp_rng rng;
	struct wpd_counts *n;
	struct wp_hist *sec_hist;
	struct wpd_counts sec_base;
};

static uint64_t tsc_to_ns(const struct engine *e, uint64_t t)
{
	return (uint64_t)((double)t * 1e9 / (double)e->hz);
}

static void complete(struct engine *e, uint64_t id, enum wp_result res, uint64_t now)
{
	uint64_t idx = id & (WPD_MAX_SLOTS - 1);
	struct slot *s = &e->ring[idx & e->mask];
	if (idx > e->mask || s->id != id) {
		e->n->stale++;
		return;
	}
	s->id = 0;
	e->inflight[s->flow]--;
	e->live--;
	e->n->answered++;
	switch (res) {
	case WP_R_HIT: e->n->hits++; break;
	case WP_R_MISS: e->n->misses++; break;
	case WP_R_STORED: e->n->stored++; break;
	case WP_R_ERROR: e->n->errors++; break;
	case WP_R_COOKIE: e->n->cookies++; break;
	}
	uint64_t lat = tsc_to_ns(e, now - (e->tsc0 + (id >> WPD_SLOT_BITS)));
	if (e->r->hist)
		wp_hist_record(e->r->hist, lat);
	if (e->sec_hist)
		wp_hist_record(e->sec_hist, lat);
	e->last_answer_tsc = now;
}

static void receive_queue(struct engine *e, uint16_t q)
{
	struct rte_mbuf *rx[WPD_BURST];
	uint16_t n = rte_eth_rx_burst(e->r->port, q, rx, WPD_BURST);
	if (n == 0)
		return;
	uint64_t now = rte_rdtsc();
	for (uint16_t i = 0; i < n; i++) {
		uint64_t id;
		enum wp_result res;
		const uint8_t *f = rte_pktmbuf_mtod(rx[i], const uint8_t *);
		if (rx[i]->nb_segs != 1 ||
		    !wpd_parse_answer(e->c, e->r->client_id, f, rx[i]->data_len, &id, &res))
			continue;
		uint8_t cookie[WEFT_COOKIE_LEN];
		if (res == WP_R_COOKIE && wpd_answer_cookie(e->c, f, rx[i]->data_len, cookie))
			wpd_templates_set_cookie(e->r->tpl, &e->c->base, cookie); /* aged out */
		complete(e, id, res, now);
	}
	rte_pktmbuf_free_bulk(rx, n);
}

static void receive(struct engine *e)
{
	for (uint16_t q = 0; q < e->c->queues; q++)
		receive_queue(e, q);
}

/* Retires answered slots and times out the oldest live ones. */
static void expire(struct engine *e, uint64_t now)
{
	while (e->tail < e->head) {
		struct slot *s = &e->ring[e->tail & e->mask];
		if (s->id != 0) {
			uint64_t sent = e->tsc0 + (s->id >> WPD_SLOT_BITS);
			if (now < sent || now - sent < e->timeout_tsc)
				return; /* (sent after `now` was read: young) */
			s->id = 0;
			e->inflight[s->flow]--;
			e->live--;
			e->n->lost++;
		}
		e->tail++;
	}
}

/* Picks a flow with room (closed loop) or the next one (open loop). */
static bool pick_flow(struct engine *e, bool closed, uint32_t *flow)
{
	unsigned flows = e->c->flows;
	for (unsigned i = 0; i < flows; i++) {
		uint32_t f = e->flow_cursor;
		e->flow_cursor = f + 1 == flows ? 0 : f + 1;
		if (!closed || e->inflight[f] < e->c->base.depth) {
			*flow = f;
			return true;
		}
	}
	return false;
}

static uint64_t pick_key(struct engine *e)
{
	return e->r->zipf ? wp_zipf_sample(e->r->zipf, wp_rng_unit(&e->rng))
			  : wp_rng_next(&e->rng) % e->c->base.keys;
}

/* Builds and sends up to want requests; returns how many went out. */
static unsigned send_burst(struct engine *e, const struct phase *p, unsigned want)
{
	const struct wp_config *b = &e->c->base;
	const struct wpd_templates *t = e->r->tpl;
	struct rte_mbuf *tx[WPD_BURST];
	struct slot pending[WPD_BURST];
	uint64_t room = e->mask + 1 - (e->head - e->tail);

	if (want > WPD_BURST)
		want = WPD_BURST;
	if (want > room)
		want = (unsigned)room;
	if (want == 0 || rte_pktmbuf_alloc_bulk(e->r->pool, tx, want) != 0)
		return 0;
	uint64_t now = rte_rdtsc();
	unsigned n = 0;
	for (; n < want; n++) {
		uint32_t flow;
		if (!pick_flow(e, p->rate == 0, &flow))
			break;
		bool get;
		uint64_t key;
		if (p->preload) {
			get = false;
			key = e->next_key++;
		} else {
			get = b->get_ratio >= 1 || wp_rng_unit(&e->rng) < b->get_ratio;
			key = pick_key(e);
		}
		uint64_t idx = (e->head + n) & e->mask;
		uint64_t id = (now - e->tsc0) << WPD_SLOT_BITS | idx;
		const uint8_t *tpl = get ? t->get + key * t->stride : t->put + key * t->stride;
		uint16_t len = get ? t->get_len : t->put_len;
		uint8_t *d = rte_pktmbuf_mtod(tx[n], uint8_t *);
		if (get && t->mget != NULL) { /* --mget: this key and mget - 1 more */
			len = t->mget_len;
			rte_memcpy(d, t->mget, len);
			for (unsigned i = 0; i < b->mget; i++) {
				uint64_t k = i == 0 ? key : pick_key(e);
				memcpy(d + t->mget_key_off + i * (2 + b->key_size),
				       t->get + k * t->stride + t->key_off, b->key_size);
			}
		} else {
			rte_memcpy(d, tpl, len);
		}
		uint16_t sport = rte_cpu_to_be_16((uint16_t)(e->c->src_port_base + flow));
		memcpy(d + 34, &sport, 2); /* UDP source port */
		memcpy(d + t->id_off, &id, 8);
		tx[n]->data_len = len;
		tx[n]->pkt_len = len;
		pending[n] = (struct slot){ .id = id, .flow = flow };
		/* Reserve the flow's window now so pick_flow sees it. */
		e->inflight[flow]++;
	}
	uint16_t sent = n ? rte_eth_tx_burst(e->r->port, e->txq, tx, (uint16_t)n) : 0;
	e->txq = e->txq + 1u == e->c->queues ? 0 : (uint16_t)(e->txq + 1u);
	for (unsigned i = 0; i < n; i++) {
		if (i < sent) {
			e->ring[(e->head + i) & e->mask] = pending[i];
			continue;
		}
		e->inflight[pending[i].flow]--;
		if (p->preload)
			e->next_key--; /* keys are consecutive: resend from the first unsent */
	}
	if (sent < want)
		rte_pktmbuf_free_bulk(tx + sent, want - sent);
	e->head += sent;
	e->live += sent;
	e->n->sent += sent;
	e->n->tx_full += n - sent;
	return sent;
}

static void second_line(struct engine *e, unsigned sec, double dt)
{
	struct wpd_counts *n = e->n, *b = &e->sec_base;
	double us = 1e-3;
	printf("  [%3u] offered %" PRIu64 " sent %" PRIu64 " answered %" PRIu64 " lost %" PRIu64
	       " ops/s %.0f  p50 %.1f p99 %.1f p999 %.1f us\n",
	       sec, n->offered - b->offered, n->sent - b->sent, n->answered - b->answered,
	       n->lost - b->lost, (double)(n->answered - b->answered) / dt,
	       (double)wp_hist_quantile(e->sec_hist, 0.50) * us,
	       (double)wp_hist_quantile(e->sec_hist, 0.99) * us,
	       (double)wp_hist_quantile(e->sec_hist, 0.999) * us);
	fflush(stdout);
	*b = *n;
	memset(e->sec_hist, 0, sizeof(*e->sec_hist));
}

/* How many requests to send now. */
static unsigned due(struct engine *e, const struct phase *p, uint64_t now, double *next_tsc,
		    double interval)
{
	const struct wpd_config *c = e->c;
	if (p->rate == 0) {
		uint64_t cap = (uint64_t)c->flows * c->base.depth;
		uint64_t room = cap > e->live ? cap - e->live : 0;
		return room > WPD_BURST ? WPD_BURST : (unsigned)room;
	}
	double late = (double)now - *next_tsc;
	if (late < 0)
		return 0;
	uint64_t behind = (uint64_t)(late / interval) + 1;
	if (late > (double)e->hz / 100) { /* > 10 ms late: drop the backlog */
		e->n->offered += behind - 1;
		*next_tsc = (double)now;
		behind = 1;
	}
	return behind > WPD_BURST ? WPD_BURST : (unsigned)behind;
}

static int run_phase(struct wpd_run *r, const struct phase *p, struct wpd_counts *counts,
		     double *seconds)
{
	const struct wpd_config *c = r->cfg;
	struct engine e = { .r = r, .c = c, .n = counts, .hz = rte_get_tsc_hz() };
	uint64_t want_slots = (uint64_t)c->flows * c->base.depth * 4;
	if (p->rate)
		want_slots = p->rate * c->base.timeout_ms / 1000 * 2;
	uint32_t size = 1024;
	while (size < want_slots && size < WPD_MAX_SLOTS)
		size <<= 1;
	e.mask = size - 1;
	e.ring = calloc(size, sizeof(*e.ring));
	e.inflight = calloc(c->flows, sizeof(*e.inflight));
	e.sec_hist = p->lines ? calloc(1, sizeof(*e.sec_hist)) : NULL;
	if (e.ring == NULL || e.inflight == NULL || (p->lines && e.sec_hist == NULL)) {
		free(e.ring);
		free(e.inflight);
		free(e.sec_hist);
		return -ENOMEM;
	}
	wp_rng_seed(&e.rng, c->base.seed);
	e.timeout_tsc = e.hz * c->base.timeout_ms / 1000;
	uint64_t start = rte_rdtsc();
	e.tsc0 = start - 1; /* ids are never 0 */
	e.last_answer_tsc = start;
	double interval = p->rate ? (double)e.hz / (double)p->rate : 0;
	double next_tsc = (double)start; /* open loop: when the next request is due */
	uint64_t next_line = start + e.hz, send_end = 0;
	unsigned sec = 0;
	uint64_t end_tsc = p->end_tsc ? start + p->end_tsc : 0;

	for (;;) {
		uint64_t now = rte_rdtsc();
		bool sending = send_end == 0;
		if (sending && ((end_tsc && now >= end_tsc) ||
				(p->quota && counts->sent >= p->quota))) {
			send_end = now;
			sending = false;
		}
		if (sending) {
			unsigned n = due(&e, p, now, &next_tsc, interval);
			if (p->quota && n > p->quota - counts->sent)
				n = (unsigned)(p->quota - counts->sent);
			if (n) {
				unsigned s = send_burst(&e, p, n);
				if (p->rate) {
					/* Due requests the ring or port could not take are
					 * offered, not sent (tx_full): the schedule moves on. */
					counts->offered += n;
					next_tsc += interval * n;
				} else {
					counts->offered += s;
				}
			}
		} else if (e.live == 0 || now - send_end > e.timeout_tsc * 2) {
			break;
		}
		receive(&e);
		expire(&e, now);
		if (p->lines && now >= next_line) {
			second_line(&e, ++sec, (double)(now - next_line + e.hz) / (double)e.hz);
			next_line += e.hz;
		}
	}
	uint64_t finish = e.last_answer_tsc > send_end ? e.last_answer_tsc : send_end;
	*seconds = (double)(finish - start) / (double)e.hz;
	/* Whatever is still in flight after the drain is lost. */
	counts->lost += e.live;
	free(e.ring);
	free(e.inflight);
	free(e.sec_hist);
	return 0;
}

int wpd_preload(struct wpd_run *r, struct wpd_counts *out)
{
	struct phase p = { .preload = true, .quota = r->cfg->base.keys };
	double secs;
	struct wp_hist *keep = r->hist;
	memset(out, 0, sizeof(*out));
	r->hist = NULL;
	int rc = run_phase(r, &p, out, &secs);
	r->hist = keep;
	return rc;
}

int wpd_measure(struct wpd_run *r)
{
	const struct wpd_config *c = r->cfg;
	struct phase p = {
		.quota = c->base.requests,
		.end_tsc = (uint64_t)(c->base.duration_s * (double)rte_get_tsc_hz()),
		.rate = c->rate,
		.lines = !c->quiet,
	};
	memset(&r->n, 0, sizeof(r->n));
	return run_phase(r, &p, &r->n, &r->seconds);
}

bool wpd_exchange(struct wpd_run *r, const uint8_t *frame, uint16_t len, unsigned timeout_ms,
		  bool (*match)(struct wpd_run *r, const uint8_t *f, uint32_t flen, void *arg),
		  void *arg)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(r->pool);
	if (m == NULL)
		return false;
	rte_memcpy(rte_pktmbuf_mtod(m, uint8_t *), frame, len);
	m->data_len = m->pkt_len = len;
	if (rte_eth_tx_burst(r->port, 0, &m, 1) != 1) {
		rte_pktmbuf_free(m);
		return false;
	}
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() * timeout_ms / 1000;
	bool found = false;
	while (!found && rte_rdtsc() < end) {
		for (uint16_t q = 0; q < r->cfg->queues; q++) {
			struct rte_mbuf *rx[WPD_BURST];
			uint16_t n = rte_eth_rx_burst(r->port, q, rx, WPD_BURST);
			for (uint16_t i = 0; i < n; i++)
				if (!found && rx[i]->nb_segs == 1)
					found = match(r, rte_pktmbuf_mtod(rx[i], uint8_t *),
						      rx[i]->data_len, arg);
			if (n)
				rte_pktmbuf_free_bulk(rx, n);
		}
	}
	return found;
}
