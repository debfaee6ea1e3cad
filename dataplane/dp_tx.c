/*
 * dp_tx.c — building and sending responses.
 *
 * Every response datagram is a fresh mbuf from the node's pool: Ethernet to
 * the requester's MAC from the node's MAC, IPv4 with the request's addresses
 * swapped, DF set, TTL 64 and a correct header checksum, UDP with the ports
 * swapped and checksum 0 (legal for UDP over IPv4; see dp_parse.c on why the
 * node neither verifies nor offloads UDP checksums), then the weft header
 * and payload. Frames never exceed 1514 bytes (a 1500-byte MTU).
 *
 * Responses are buffered per lcore (lc->tx) and sent in bursts: when the
 * buffer fills and at the end of every worker iteration. A response the tx
 * queue refuses after a few tries is freed and counted (tx_full).
 *
 * Address validation (dp_amp.c): every datagram to an unverified source
 * passes dp_amp_tx_allow in dp_emit (no larger than its request, within
 * the source's reply rate), and a long response to one must fit its
 * request's bytes whole before it is kept (dp_amp_fits): replays,
 * relayed answers and FETCHed pieces all come through here.
 *
 * Authentication (dp_auth.c): a flow whose request was sealed (flow.auth)
 * gets every datagram sealed with the same kind of key, as dp_emit's last
 * step; without keys that is one byte tested per datagram.
 *
 * A response longer than one datagram goes to the response memory
 * (dp_resp.c, keeping a private copy) and its first WEFT_RESP_INITIAL_WINDOW
 * datagrams are sent at once; the client FETCHes the rest.
 *
 * Latency (lat_record): dp_answer and dp_answer_owned count each answer
 * to a client's read or keyed write once, in the lcore's log2 histogram of
 * microseconds since the burst that received the request (req->rx_tsc,
 * carried through forwards and replication holds). An answer given while
 * its own burst is being served is counted when that burst ends
 * (dp_lat_burst_end, before its tx flush: one rdtsc per burst, 6.5% of a
 * worker's cycles on the memif get path when it was one per answer); one
 * that waited is counted when given. This lcore's counters only.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dp_internal.h"

void dp_tx_flush(struct dp_lcore *lc)
{
	unsigned sent = 0;
	for (int tries = 0; sent < lc->n_tx && tries < 8; tries++)
		sent += rte_eth_tx_burst(lc->dp->port_id, lc->queue, lc->tx + sent,
					 (uint16_t)(lc->n_tx - sent));
	lc->c.tx_packets += sent;
	if (sent < lc->n_tx) {
		lc->c.drops[DP_DROP_TX_FULL] += lc->n_tx - sent;
		rte_pktmbuf_free_bulk(lc->tx + sent, lc->n_tx - sent);
	}
	lc->n_tx = 0;
}

void dp_tx_push(struct dp_lcore *lc, struct rte_mbuf *m)
{
	if (unlikely(__atomic_load_n(&lc->dp->n_locals, __ATOMIC_RELAXED) != 0) &&
	    dp_local_intercept(lc, m))
		return; /* an answer to one of this node's own clients */
	if (lc->n_tx == DP_TX_CAP)
		dp_tx_flush(lc);
	lc->tx[lc->n_tx++] = m;
}

void dp_emit(struct dp_lcore *lc, const struct dp_flow *flow, const struct weft_wire_hdr *hdr,
	     const void *p1, uint32_t l1, const void *p2, uint32_t l2)
{
	/* Address validation's backstop and per-source rate (dp_amp.c); an
	 * unverified client that sent F_COOKIE gets a fresh cookie on any
	 * answer with room for it within its request's size. */
	uint32_t cookie_len = 0;
	if (unlikely(flow->amp_budget != 0)) {
		if (flow->cookie_asked && !(hdr->flags & WEFT_F_COOKIE) &&
		    (uint64_t)sizeof(*hdr) + l1 + l2 + WEFT_COOKIE_LEN <= flow->amp_budget)
			cookie_len = WEFT_COOKIE_LEN;
		if (!dp_amp_tx_allow(lc, flow, (uint64_t)sizeof(*hdr) + l1 + l2 + cookie_len))
			return;
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(lc->dp->pool);
	if (m == NULL) {
		lc->c.drops[DP_DROP_NO_MBUF]++;
		return;
	}
	uint32_t udp_len = DP_UDP_HLEN + (uint32_t)sizeof(*hdr) + l1 + l2 + cookie_len;
	uint32_t frame_len = DP_ETH_HLEN + DP_IP_HLEN + udp_len;
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)frame_len);
	if (f == NULL) { /* cannot happen with pool buffers >= 1514 bytes */
		rte_pktmbuf_free(m);
		lc->c.drops[DP_DROP_NO_MBUF]++;
		return;
	}
	uint8_t *wh = dp_udp_hdrs(f, lc->dp->mac, flow, udp_len), *w = wh;
	memcpy(w, hdr, sizeof(*hdr));
	w += sizeof(*hdr);
	if (l1)
		memcpy(w, p1, l1);
	if (l2)
		memcpy(w + l1, p2, l2);
	if (unlikely(cookie_len != 0)) {
		wh[offsetof(struct weft_wire_hdr, flags)] |= WEFT_F_COOKIE;
		dp_amp_mint(lc, flow->src_ip, w + l1 + l2);
		lc->c.cookies_sent++;
	}
	if (unlikely(flow->auth != 0)) { /* last: after any cookie (dp_auth.c) */
		dp_auth_seal(lc, m, flow->auth);
		return;
	}
	dp_tx_push(lc, m);
}

void dp_resp_hdr(struct weft_wire_hdr *out, const struct weft_dp *dp,
		 const struct weft_wire_hdr *req, uint16_t status, uint16_t extras_len,
		 uint32_t msg_len)
{
	memset(out, 0, sizeof(*out));
	out->magic = WEFT_WIRE_MAGIC;
	out->version = WEFT_WIRE_VERSION;
	out->opcode = req->opcode;
	out->flags = WEFT_F_RESPONSE;
	out->status = status;
	out->extras_len = extras_len;
	out->client_id = req->client_id;
	out->request_id = req->request_id;
	out->epoch = __atomic_load_n(&dp->epoch, __ATOMIC_RELAXED);
	out->msg_len = msg_len;
}

void dp_emit_cb(void *arg, const struct weft_wire_hdr *hdr, const uint8_t *slice, uint32_t len)
{
	const struct dp_emit_ctx *x = arg;
	dp_emit(x->lc, x->flow, hdr, slice, len, NULL, 0);
}

static void lat_count(struct dp_lcore *lc, unsigned k, uint64_t rx_tsc, uint64_t now, uint32_t n)
{
	uint64_t cyc = now > rx_tsc ? now - rx_tsc : 0;
	uint64_t us = (uint64_t)(((unsigned __int128)cyc * lc->dp->tsc_us_mult) >> 32);
	/* the least i with us <= 2^i */
	unsigned i = us <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(us - 1);
	lc->c.lat_bucket[k][i < DP_LAT_INF ? i : DP_LAT_INF] += n;
	lc->c.lat_sum_us[k] += us * n;
}

/* Counts req's answer in its kind's histogram (see dp_internal.h): at the
 * end of the burst when it came in this one (the common case: one clock
 * read per burst), at once when it waited (a forward, a replication). */
static void lat_record(struct dp_lcore *lc, const struct dp_req *req)
{
	uint8_t op = req->hdr.opcode;
	if (req->rx_tsc == 0 || (req->hdr.flags & WEFT_F_NODE) || op == WEFT_OP_SESSION ||
	    (op != WEFT_OP_MULTI_GET && !weft_wire_op_has_key(op)))
		return;
	unsigned k = op == WEFT_OP_GET || op == WEFT_OP_MULTI_GET ? DP_LAT_READ : DP_LAT_WRITE;
	if (req->rx_tsc == lc->burst_rx_tsc)
		lc->burst_lat[k]++;
	else
		lat_count(lc, k, req->rx_tsc, rte_rdtsc(), 1);
}

void dp_lat_burst_begin(struct dp_lcore *lc, uint64_t rx_tsc)
{
	lc->burst_rx_tsc = rx_tsc;
}

void dp_lat_burst_end(struct dp_lcore *lc)
{
	uint64_t now = rte_rdtsc();
	for (unsigned k = 0; k < DP_LAT__COUNT; k++) {
		if (lc->burst_lat[k] != 0)
			lat_count(lc, k, lc->burst_rx_tsc, now, lc->burst_lat[k]);
		lc->burst_lat[k] = 0;
	}
	lc->burst_rx_tsc = 0;
}

static void answer_owned(struct dp_lcore *lc, const struct dp_req *req, uint16_t status,
			 uint16_t extras_len, uint8_t *payload, uint32_t msg_len)
{
	struct weft_wire_hdr h;
	dp_resp_hdr(&h, lc->dp, &req->hdr, status, extras_len, msg_len);
	if (msg_len <= WEFT_MAX_DGRAM_PAYLOAD) {
		dp_emit(lc, &req->flow, &h, payload, msg_len, NULL, 0);
		free(payload);
		return;
	}
	uint32_t pieces = (msg_len + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
	if (!dp_amp_fits(lc, &req->flow, (uint64_t)msg_len + pieces * sizeof(h))) {
		free(payload); /* an unverified source: never more than it sent */
		return;
	}
	struct dp_msg_id id = dp_req_msg_id(req);
	struct dp_emit_ctx x = {lc, &req->flow};
	int rc = dp_resp_keep(lc->dp->resp, &id, &h, payload, lc->now_ms);
	if (rc == 0)
		rc = dp_resp_fetch(lc->dp->resp, &id, 0, WEFT_RESP_INITIAL_WINDOW, lc->now_ms,
				   dp_emit_cb, &x);
	if (rc < 0) { /* larger than the whole bound, or evicted at once */
		dp_resp_hdr(&h, lc->dp, &req->hdr, WEFT_ST_NO_MEMORY, 0, 0);
		dp_emit(lc, &req->flow, &h, NULL, 0, NULL, 0);
		lc->c.errors++;
		return;
	}
	lc->c.long_responses++;
}

void dp_answer_owned(struct dp_lcore *lc, const struct dp_req *req, uint16_t status,
		     uint16_t extras_len, uint8_t *payload, uint32_t msg_len)
{
	lat_record(lc, req);
	answer_owned(lc, req, status, extras_len, payload, msg_len);
}

void dp_answer(struct dp_lcore *lc, const struct dp_req *req, uint16_t status, const void *extras,
	       uint16_t extras_len, const void *value, uint32_t value_len)
{
	lat_record(lc, req);
	if (unlikely(req->flow.dst_port == lc->dp->mc_port && lc->dp->mc_port != 0)) {
		/* a memcached command's weft request: rendered as text (dp_mc.c) */
		dp_mc_answer(lc, req, status, extras, extras_len, value, value_len);
		return;
	}
	uint32_t msg_len = (uint32_t)extras_len + value_len;
	if (msg_len <= WEFT_MAX_DGRAM_PAYLOAD) {
		struct weft_wire_hdr h;
		dp_resp_hdr(&h, lc->dp, &req->hdr, status, extras_len, msg_len);
		dp_emit(lc, &req->flow, &h, extras, extras_len, value, value_len);
		return;
	}
	uint8_t *p = malloc(msg_len);
	if (p == NULL) {
		struct weft_wire_hdr h;
		dp_resp_hdr(&h, lc->dp, &req->hdr, WEFT_ST_NO_MEMORY, 0, 0);
		dp_emit(lc, &req->flow, &h, NULL, 0, NULL, 0);
		lc->c.errors++;
		return;
	}
	memcpy(p, extras, extras_len);
	memcpy(p + extras_len, value, value_len);
	answer_owned(lc, req, status, extras_len, p, msg_len);
}
