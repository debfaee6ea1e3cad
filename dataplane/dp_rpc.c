/*
 * dp_rpc.c — node-to-node requests from a worker lcore: forwarding a client
 * request to an owner, and replication (REPLICATE) from a writer to the
 * other owners, with the client held until the answers come.
 *
 * Request ids: bit 63 set, bits 48..55 the sending worker, bits 32..47 the
 * slot, bits 0..31 a per-lcore counter. A response is matched by id, slot
 * state and source address; one that lands on another worker's queue (RSS
 * or fanout hashes the peer's flow anywhere) goes to the sender's inbox ring.
 *
 * Invariants:
 *  - slots and holds belong to one worker; only it reads or writes them;
 *  - a hold is answered exactly once: when its last slot is acked or dropped
 *    (peer gone), or when one of its slots gives up (BUSY: the write is on
 *    this node but maybe not on every owner; the client decides);
 *  - a message is freed when the last slot that carries it is released;
 *  - a REPL hold's answer payload (dp_hold_init.payload) is freed exactly
 *    once, in hold_answer (whatever the answer) or dp_rpc_destroy;
 *  - retransmissions reuse the request id, so a forwarded non-idempotent op
 *    is applied at most once by the owner's at-most-once table; a forward's
 *    retransmissions carry WEFT_F_RETRY, as a forward of a client's
 *    retransmission does.
 *
 * Caller: the worker lcore, an online QSBR reader (it reads the topology).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <urcu-qsbr.h>

#include "dp_internal.h"

#define RID_NODE (1ull << 63)
#define HOLD_NONE UINT16_MAX

enum hold_kind { HOLD_FREE, HOLD_REPL, HOLD_FWD, HOLD_NOTIFY };

struct dp_hold {
	uint8_t kind;
	dp_rpc_done_fn done;    /* NOTIFY: called once with the outcome */
	struct dp_rpc_cookie cookie;
	uint8_t mode;
	bool amo;
	bool failed;            /* a target answered an error: answer it */
	uint16_t waiting;       /* slots still pending */
	uint32_t seg;
	struct dp_dedup_resp resp;
	uint8_t *payload;       /* REPL: the answer's extras + value once acked (owned) */
	uint32_t payload_len;
	uint16_t payload_extras_len;
	struct dp_flow flow;    /* the client's */
	struct weft_wire_hdr hdr; /* the client's request header */
	uint64_t rx_tsc;        /* the client request's receive stamp (dp_req) */
};

static void notify_end(struct dp_lcore *lc, uint16_t hi, uint16_t status, const void *extras,
		       uint16_t extras_len);

struct dp_slot {
	bool used;
	uint16_t hold;
	uint32_t ip;            /* peer, network order */
	uint16_t port;          /* peer data port, network order */
	uint64_t rid;
	uint64_t first_ms, next_ms;
	uint32_t rto;
	struct dp_rpc_msg *msg;
};

struct dp_rpc_state {
	unsigned worker;
	uint32_t counter;
	unsigned n_slots;       /* in use */
	unsigned n_holds;
	unsigned free_hint;
	uint64_t view;          /* the view the pending slots were last checked against */
	uint64_t next_due_ms;   /* no slot's retransmission is due before this */
	struct rte_ring *inbox; /* other lcores -> this one: response mbufs */
	struct dp_slot slot[DP_RPC_SLOTS];
	struct dp_hold hold[DP_HOLD_SLOTS];
};

struct dp_rpc_msg *dp_rpc_msg_new(uint8_t opcode, uint8_t name_len, uint16_t key_len,
				  uint16_t extras_len, uint32_t msg_len)
{
	struct dp_rpc_msg *m = malloc(sizeof(*m) + msg_len);
	if (m == NULL)
		return NULL;
	m->refs = 1;
	memset(&m->hdr, 0, sizeof(m->hdr));
	m->hdr.magic = WEFT_WIRE_MAGIC;
	m->hdr.version = WEFT_WIRE_VERSION;
	m->hdr.opcode = opcode;
	m->hdr.flags = WEFT_F_NODE;
	m->hdr.name_len = name_len;
	m->hdr.key_len = key_len;
	m->hdr.extras_len = extras_len;
	m->hdr.msg_len = msg_len;
	return m;
}

void dp_rpc_msg_put(struct dp_rpc_msg *m)
{
	if (m != NULL && --m->refs == 0)
		free(m);
}

struct dp_rpc_state *dp_rpc_create(unsigned worker)
{
	struct dp_rpc_state *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->worker = worker;
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "weft_rpc%u_%p", worker, (void *)r);
	r->inbox = rte_ring_create(name, DP_RPC_INBOX, SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (r->inbox == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void dp_rpc_destroy(struct dp_rpc_state *r)
{
	if (r == NULL)
		return;
	void *m;
	while (rte_ring_dequeue(r->inbox, &m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(r->inbox);
	for (unsigned i = 0; i < DP_RPC_SLOTS; i++)
		if (r->slot[i].used)
			dp_rpc_msg_put(r->slot[i].msg);
	for (unsigned i = 0; i < DP_HOLD_SLOTS; i++)
		if (r->hold[i].kind != HOLD_FREE)
			free(r->hold[i].payload);
	free(r);
}

bool dp_rpc_busy(const struct dp_rpc_state *r)
{
	return r->n_slots > 0 || rte_ring_count(r->inbox) > 0;
}

/* --- sending ------------------------------------------------------------ */

/* The flow a response from the peer would have: dp_emit swaps it into ours
 * -> peer. false when the peer's MAC is unknown (an ARP request goes out). */
static bool peer_flow(struct dp_lcore *lc, uint32_t ip, uint16_t port, struct dp_flow *f)
{
	struct weft_dp *dp = lc->dp;
	if (!dp_arp_lookup(dp->ctl->arp, ip, lc->now_ms, f->src_mac)) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
		if (m != NULL) {
			uint8_t *fr = (uint8_t *)rte_pktmbuf_append(m, 60);
			if (fr != NULL) {
				dp_arp_request(fr, dp->mac, dp->bind_ip, ip);
				dp_tx_push(lc, m);
			} else {
				rte_pktmbuf_free(m);
			}
		}
		return false;
	}
	memcpy(f->dst_mac, dp->mac, 6);
	f->src_ip = ip;
	f->dst_ip = dp->bind_ip;
	f->src_port = port;
	f->dst_port = dp->udp_port;
	f->amp_budget = 0; /* a member: no address validation bound */
	f->auth = dp->auth != NULL ? dp->auth->node_kind : 0; /* sealed with the node key */
	return true;
}

/* Sends (or resends) slot s's message, split into datagrams. retry: a
 * retransmission; a forwarded client request's is sent with WEFT_F_RETRY,
 * as the client's own would be (a session read seeing it is held until
 * replicated again: dp_sess.c). */
static void slot_send(struct dp_lcore *lc, struct dp_slot *s, bool retry)
{
	struct dp_flow f;
	if (!peer_flow(lc, s->ip, s->port, &f))
		return;
	struct weft_wire_hdr h = s->msg->hdr;
	if (retry && lc->rpc->hold[s->hold].kind == HOLD_FWD)
		h.flags |= WEFT_F_RETRY;
	h.client_id = lc->dp->node_client_id;
	h.request_id = s->rid;
	h.epoch = __atomic_load_n(&lc->dp->epoch, __ATOMIC_RELAXED);
	uint32_t off = 0;
	do {
		uint32_t len = h.msg_len - off;
		if (len > WEFT_MAX_DGRAM_PAYLOAD)
			len = WEFT_MAX_DGRAM_PAYLOAD;
		h.frag_offset = off;
		dp_emit(lc, &f, &h, s->msg->payload + off, len, NULL, 0);
		off += len;
	} while (off < h.msg_len);
}

static uint16_t hold_new(struct dp_rpc_state *r)
{
	for (unsigned i = 0; i < DP_HOLD_SLOTS; i++)
		if (r->hold[i].kind == HOLD_FREE) {
			r->n_holds++;
			return (uint16_t)i;
		}
	return HOLD_NONE;
}

static struct dp_slot *slot_new(struct dp_lcore *lc, uint16_t hold, uint32_t ip, uint16_t port,
				struct dp_rpc_msg *msg)
{
	struct dp_rpc_state *r = lc->rpc;
	if (r->n_slots == DP_RPC_SLOTS)
		return NULL;
	unsigned i = r->free_hint;
	while (r->slot[i].used)
		i = (i + 1) % DP_RPC_SLOTS;
	r->free_hint = (i + 1) % DP_RPC_SLOTS;
	struct dp_slot *s = &r->slot[i];
	s->used = true;
	s->hold = hold;
	s->ip = ip;
	s->port = port;
	s->rid = RID_NODE | (uint64_t)(r->worker & 0xffu) << 48 | (uint64_t)i << 32 |
		 ++r->counter;
	s->first_ms = lc->now_ms;
	/* ~20 ms per MiB on top: a big message takes time to cross. */
	s->rto = DP_RPC_RTO_MS + msg->hdr.msg_len / 50000u;
	s->next_ms = lc->now_ms + s->rto;
	if (r->n_slots == 0 || s->next_ms < r->next_due_ms)
		r->next_due_ms = s->next_ms;
	s->msg = msg;
	msg->refs++;
	r->n_slots++;
	r->hold[hold].waiting++;
	lc->c.rpc_sent++;
	slot_send(lc, s, false);
	return s;
}

static void slot_release(struct dp_rpc_state *r, struct dp_slot *s)
{
	dp_rpc_msg_put(s->msg);
	s->msg = NULL;
	s->used = false;
	r->n_slots--;
}

/* --- answering held clients ---------------------------------------------- */

static struct dp_req hold_req(const struct dp_hold *h)
{
	struct dp_req q;
	memset(&q, 0, sizeof(q));
	q.hdr = h->hdr;
	q.flow = h->flow;
	q.rx_tsc = h->rx_tsc; /* its latency includes the wait */
	return q;
}

static void hold_answer(struct dp_lcore *lc, uint16_t hi, uint16_t status, const void *extras,
			uint16_t extras_len, const void *value, uint32_t value_len)
{
	struct dp_rpc_state *r = lc->rpc;
	struct dp_hold *h = &r->hold[hi];
	struct dp_req q = hold_req(h);
	dp_answer_final(lc, &q, h->amo, status, extras, extras_len, value, value_len);
	free(h->payload); /* after the answer: extras and value may point into it */
	h->payload = NULL;
	h->kind = HOLD_FREE;
	r->n_holds--;
}

/* Detaches every slot of hold hi (they stop retransmitting). */
static void hold_drop_slots(struct dp_rpc_state *r, uint16_t hi)
{
	for (unsigned i = 0; i < DP_RPC_SLOTS && r->hold[hi].waiting > 0; i++) {
		struct dp_slot *s = &r->slot[i];
		if (s->used && s->hold == hi) {
			slot_release(r, s);
			r->hold[hi].waiting--;
		}
	}
}

/* One slot of hold hi is done (acked or its peer gone): answer the client
 * when it was the last. */
static void hold_slot_done(struct dp_lcore *lc, uint16_t hi)
{
	struct dp_hold *h = &lc->rpc->hold[hi];
	if (--h->waiting > 0)
		return;
	if (h->kind == HOLD_REPL && h->payload != NULL && !h->failed)
		hold_answer(lc, hi, h->resp.status, h->payload, h->payload_extras_len,
			    h->payload + h->payload_extras_len,
			    h->payload_len - h->payload_extras_len);
	else if (h->kind == HOLD_REPL)
		hold_answer(lc, hi, h->resp.status, h->resp.extras, h->resp.extras_len, NULL, 0);
	else if (h->kind == HOLD_NOTIFY) /* its peer left the view */
		notify_end(lc, hi, WEFT_ST_NOT_OWNER, NULL, 0);
	else /* a forward whose owner left the view: the client retries */
		hold_answer(lc, hi, WEFT_ST_BUSY, NULL, 0, NULL, 0);
}

/* A NOTIFY request ended: frees the hold, then tells its owner (which may
 * start new requests from the callback). */
static void notify_end(struct dp_lcore *lc, uint16_t hi, uint16_t status, const void *extras,
		       uint16_t extras_len)
{
	struct dp_rpc_state *r = lc->rpc;
	struct dp_hold *h = &r->hold[hi];
	dp_rpc_done_fn done = h->done;
	struct dp_rpc_cookie cookie = h->cookie;
	h->kind = HOLD_FREE;
	r->n_holds--;
	done(lc, &cookie, status, extras, extras_len);
}

static void busy_answer(struct dp_lcore *lc, const struct dp_req *req, bool amo)
{
	lc->c.rpc_no_slot++;
	dp_answer_final(lc, req, amo, WEFT_ST_BUSY, NULL, 0, NULL, 0);
}

/* --- starting requests ----------------------------------------------------- */

void dp_rpc_forward(struct dp_lcore *lc, const struct weft_dp_members *topo,
		    const struct dp_req *req, uint32_t to)
{
	bool amo = dp_req_is_amo(req);
	if (amo && !dp_dedup_claim(lc, req))
		return;
	dp_rpc_forward_claimed(lc, topo, req, to, amo);
}

void dp_rpc_forward_claimed(struct dp_lcore *lc, const struct weft_dp_members *topo,
			    const struct dp_req *req, uint32_t to, bool amo)
{
	struct dp_rpc_state *r = lc->rpc;
	uint32_t head = (uint32_t)req->hdr.name_len + req->hdr.key_len + req->hdr.extras_len;
	struct dp_rpc_msg *m = dp_rpc_msg_new(req->hdr.opcode, req->hdr.name_len,
					      req->hdr.key_len, req->hdr.extras_len,
					      head + req->value_len);
	uint16_t hi = m != NULL ? hold_new(r) : HOLD_NONE;
	if (hi == HOLD_NONE) {
		dp_rpc_msg_put(m);
		busy_answer(lc, req, amo);
		return;
	}
	m->hdr.flags |= req->hdr.flags & WEFT_F_RETRY; /* the owner sees a client's retry */
	uint8_t *w = m->payload;
	/* A request built on the node (a memcached command's, dp_mc.c) may
	 * have no extras at all: NULL with length 0, never given to memcpy. */
	if (req->hdr.name_len)
		memcpy(w, req->name, req->hdr.name_len);
	w += req->hdr.name_len;
	if (req->hdr.key_len)
		memcpy(w, req->key, req->hdr.key_len);
	w += req->hdr.key_len;
	if (req->hdr.extras_len)
		memcpy(w, req->extras, req->hdr.extras_len);
	w += req->hdr.extras_len;
	if (req->value_len)
		memcpy(w, req->value, req->value_len);
	struct dp_hold *h = &r->hold[hi];
	memset(h, 0, sizeof(*h));
	h->kind = HOLD_FWD;
	h->amo = amo;
	h->flow = req->flow;
	h->hdr = req->hdr;
	h->rx_tsc = req->rx_tsc;
	if (slot_new(lc, hi, topo->m[to].ip, rte_cpu_to_be_16(topo->m[to].port), m) == NULL) {
		h->kind = HOLD_FREE;
		r->n_holds--;
		busy_answer(lc, req, amo);
	} else {
		lc->c.forwarded++;
	}
	dp_rpc_msg_put(m);
}

void dp_rpc_replicate(struct dp_lcore *lc, const struct weft_dp_members *topo,
		      const struct dp_hold_init *hi_init, struct dp_rpc_msg *msg,
		      const uint32_t *to, unsigned n)
{
	const struct dp_req *req = hi_init->req;
	const struct dp_dedup_resp *resp = &hi_init->resp;
	struct dp_rpc_state *r = lc->rpc;
	uint16_t hi = n > 0 ? hold_new(r) : HOLD_NONE;
	uint8_t *p = hi_init->payload;
	if (hi == HOLD_NONE) {
		if (n > 0) /* applied here, not replicated: the client must retry */
			busy_answer(lc, req, hi_init->amo);
		else if (p != NULL)
			dp_answer_final(lc, req, hi_init->amo, resp->status, p,
					hi_init->payload_extras_len, p + hi_init->payload_extras_len,
					hi_init->payload_len - hi_init->payload_extras_len);
		else
			dp_answer_final(lc, req, hi_init->amo, resp->status, resp->extras,
					resp->extras_len, NULL, 0);
		free(p);
		return;
	}
	struct dp_hold *h = &r->hold[hi];
	memset(h, 0, sizeof(*h));
	h->kind = HOLD_REPL;
	h->amo = hi_init->amo;
	h->resp = *resp;
	h->payload = p;
	h->payload_len = hi_init->payload_len;
	h->payload_extras_len = hi_init->payload_extras_len;
	h->seg = hi_init->seg;
	h->mode = hi_init->mode;
	h->flow = req->flow;
	h->hdr = req->hdr;
	h->rx_tsc = req->rx_tsc;
	h->waiting = 1; /* guard: no answer while the slots are being made */
	for (unsigned i = 0; i < n; i++)
		if (slot_new(lc, hi, topo->m[to[i]].ip, rte_cpu_to_be_16(topo->m[to[i]].port),
			     msg) == NULL) {
			/* That copy cannot be made now: not an acknowledged write. */
			lc->c.rpc_no_slot++;
			h->failed = true;
			h->resp.status = WEFT_ST_BUSY;
			h->resp.extras_len = 0;
		}
	lc->c.replicated++;
	hold_slot_done(lc, hi);
}

int dp_rpc_notify(struct dp_lcore *lc, uint32_t ip, uint16_t port, struct dp_rpc_msg *msg,
		  dp_rpc_done_fn done, const struct dp_rpc_cookie *cookie)
{
	struct dp_rpc_state *r = lc->rpc;
	uint16_t hi = hold_new(r);
	if (hi == HOLD_NONE) {
		lc->c.rpc_no_slot++;
		return -EBUSY;
	}
	struct dp_hold *h = &r->hold[hi];
	memset(h, 0, sizeof(*h));
	h->kind = HOLD_NOTIFY;
	h->done = done;
	h->cookie = *cookie;
	if (slot_new(lc, hi, ip, port, msg) == NULL) {
		h->kind = HOLD_FREE;
		r->n_holds--;
		lc->c.rpc_no_slot++;
		return -EBUSY;
	}
	return 0;
}

/* --- responses ------------------------------------------------------------ */

static void take_response(struct dp_lcore *lc, const struct dp_pkt *pkt,
			  const struct weft_wire_hdr *hdr)
{
	struct dp_rpc_state *r = lc->rpc;
	unsigned si = (unsigned)(hdr->request_id >> 32) & 0xffffu;
	struct dp_slot *s = si < DP_RPC_SLOTS ? &r->slot[si] : NULL;
	if (s == NULL || !s->used || s->rid != hdr->request_id || s->ip != pkt->flow.src_ip ||
	    s->port != pkt->flow.src_port) {
		lc->c.rpc_stray++;
		return;
	}
	uint32_t slice = pkt->payload_len - (uint32_t)sizeof(*hdr);
	uint16_t hi = s->hold;
	struct dp_hold *h = &r->hold[hi];
	lc->c.rpc_acks++;
	if (h->kind == HOLD_NOTIFY) {
		slot_release(r, s);
		h->waiting--;
		uint16_t xl = hdr->frag_offset == 0 && hdr->extras_len <= slice &&
					      hdr->extras_len <= hdr->msg_len
				      ? hdr->extras_len
				      : 0;
		notify_end(lc, hi, hdr->status, pkt->payload + sizeof(*hdr), xl);
		return;
	}
	if (h->kind == HOLD_FWD) {
		/* Relay a whole one-datagram answer; a long one cannot be relayed
		 * (the client would FETCH from us): send the client to the owner. */
		slot_release(r, s);
		h->waiting--;
		if (hdr->frag_offset != 0 || hdr->msg_len != slice || hdr->extras_len > hdr->msg_len)
			hold_answer(lc, hi, WEFT_ST_NOT_OWNER, NULL, 0, NULL, 0);
		else
			hold_answer(lc, hi, hdr->status, pkt->payload + sizeof(*hdr),
				    hdr->extras_len, pkt->payload + sizeof(*hdr) + hdr->extras_len,
				    hdr->msg_len - hdr->extras_len);
		return;
	}
	if (hdr->status != WEFT_ST_OK && !h->failed) {
		h->failed = true; /* the backup could not store it: say why */
		h->resp.status = hdr->status;
		h->resp.extras_len = 0;
	}
	slot_release(r, s);
	hold_slot_done(lc, hi);
}

bool dp_rpc_response(struct dp_lcore *lc, struct rte_mbuf *m, const struct dp_pkt *pkt,
		     const struct weft_wire_hdr *hdr)
{
	unsigned w = (unsigned)(hdr->request_id >> 48) & 0xffu;
	if (w != lc->rpc->worker && w < lc->dp->n_workers && lc->dp->lc[w].rpc != NULL) {
		if (rte_ring_enqueue(lc->dp->lc[w].rpc->inbox, m) == 0) {
			lc->c.rpc_steered++;
			return true;
		}
		lc->c.rpc_stray++;
		return false;
	}
	take_response(lc, pkt, hdr);
	return false;
}

/* --- timers and view changes ---------------------------------------------- */

static bool peer_in_view(const struct weft_dp_members *t, uint32_t ip, uint16_t port)
{
	for (uint32_t i = 0; t != NULL && i < t->n; i++)
		if (t->m[i].ip == ip && rte_cpu_to_be_16(t->m[i].port) == port)
			return t->m[i].state != WEFT_DP_MEMBER_LEFT; /* as dp_route's targets */
	return false;
}

/* Whether hold hi already has a pending slot to ip:port. */
static bool hold_targets(const struct dp_rpc_state *r, uint16_t hi, uint32_t ip, uint16_t port)
{
	for (unsigned i = 0; i < DP_RPC_SLOTS; i++) {
		const struct dp_slot *s = &r->slot[i];
		if (s->used && s->hold == hi && s->ip == ip && s->port == port)
			return true;
	}
	return false;
}

/* Slot s's peer left the view. A replication is sent again to the owners
 * the new view gives the segment (the copy must exist somewhere before the
 * client hears OK); a forward is answered BUSY (the client retries at the
 * new owner). A view that does not list this node gives it no owners to
 * send the copy to and its own copy counts for none (dp_route.c: outside
 * the view it owns nothing): that replication is not an acknowledged
 * write, and its client hears BUSY (it retries at the segment's acting
 * primary in that view). */
static void peer_gone(struct dp_lcore *lc, const struct weft_dp_members *t, struct dp_slot *s)
{
	struct dp_rpc_state *r = lc->rpc;
	uint16_t hi = s->hold;
	struct dp_hold *h = &r->hold[hi];
	struct dp_rpc_msg *msg = s->msg;
	msg->refs++;
	slot_release(r, s);
	if (h->kind == HOLD_REPL && t != NULL && t->self == WEFT_DP_SELF_NONE) {
		h->failed = true;
		h->resp.status = WEFT_ST_BUSY;
		h->resp.extras_len = 0;
	} else if (h->kind == HOLD_REPL && t != NULL) {
		uint32_t to[WEFT_DP_MEMBERS_MAX];
		unsigned n = dp_route_targets(t, h->mode, h->seg, to, WEFT_DP_MEMBERS_MAX);
		for (unsigned i = 0; i < n; i++) {
			uint32_t ip = t->m[to[i]].ip;
			uint16_t port = rte_cpu_to_be_16(t->m[to[i]].port);
			if (!hold_targets(r, hi, ip, port) && slot_new(lc, hi, ip, port, msg) != NULL)
				lc->c.rpc_retargeted++;
		}
	}
	dp_rpc_msg_put(msg);
	hold_slot_done(lc, hi);
}

void dp_rpc_tick(struct dp_lcore *lc)
{
	struct dp_rpc_state *r = lc->rpc;
	void *in[DP_BURST];
	unsigned n = rte_ring_dequeue_burst(r->inbox, in, DP_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = in[i];
		struct dp_pkt pkt;
		struct weft_wire_hdr hdr;
		dp_parse_frame(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, lc->dp->bind_ip,
			       lc->dp->udp_port, &pkt);
		if (pkt.kind == DP_PKT_UDP && pkt.payload_len >= sizeof(hdr)) {
			memcpy(&hdr, pkt.payload, sizeof(hdr));
			take_response(lc, &pkt, &hdr);
		}
		rte_pktmbuf_free(m);
	}
	if (r->n_slots == 0)
		return;
	const struct weft_dp_members *t = dp_members_current(lc->dp);
	bool view_changed = t != NULL && t->view != r->view;
	if (view_changed)
		r->view = t->view;
	/* The slot scan runs only when a timer is due or the view moved, not
	 * on every poll of a loaded lcore. */
	if (!view_changed && lc->now_ms < r->next_due_ms)
		return;
	uint64_t next_due = UINT64_MAX;
	for (unsigned i = 0; i < DP_RPC_SLOTS && r->n_slots > 0; i++) {
		struct dp_slot *s = &r->slot[i];
		if (!s->used)
			continue;
		if (view_changed && !peer_in_view(t, s->ip, s->port)) {
			peer_gone(lc, t, s);
			continue;
		}
		if (lc->now_ms < s->next_ms) {
			if (s->next_ms < next_due)
				next_due = s->next_ms;
			continue;
		}
		if (lc->now_ms - s->first_ms >= DP_RPC_GIVE_UP_MS) {
			uint16_t hi = s->hold;
			lc->c.rpc_gave_up++;
			hold_drop_slots(r, hi);
			if (r->hold[hi].kind == HOLD_NOTIFY)
				notify_end(lc, hi, WEFT_ST_BUSY, NULL, 0);
			else
				hold_answer(lc, hi, WEFT_ST_BUSY, NULL, 0, NULL, 0);
			continue;
		}
		s->rto = s->rto * 2 > DP_RPC_RTO_MAX_MS ? DP_RPC_RTO_MAX_MS : s->rto * 2;
		s->next_ms = lc->now_ms + s->rto;
		if (s->next_ms < next_due)
			next_due = s->next_ms;
		lc->c.rpc_retransmits++;
		slot_send(lc, s, true);
	}
	/* Slots made during the scan (re-targeted replications) set an
	 * earlier due time themselves. */
	if (next_due < r->next_due_ms || r->next_due_ms <= lc->now_ms)
		r->next_due_ms = next_due;
}
