/*
 * dp_lcore.c — the worker lcores: one rx/tx queue pair each.
 *
 * Loop: (worker 0: control frames from the cluster channel's tx ring into
 * the tx buffer) -> rx burst (32) -> classify every frame (ARP / ICMP
 * replies in place, drops counted) -> weft datagrams to requests
 * (reassembling multi-datagram ones) -> dp_serve_burst -> free the burst ->
 * flush tx -> QSBR quiescent state. In a cluster, node RPC (dp_rpc.c) first
 * takes responses other lcores passed on and retransmits what is due;
 * responses to this node's own requests (F_RESPONSE, our client_id) go to
 * dp_rpc_response instead of being dropped.
 *
 * Cluster channel (dp_ctl.c): a frame dp_parse_frame drops for a reason a
 * cluster frame hides behind (other UDP port, other destination IP,
 * fragment, other ARP) gets a second look by dp_ctl_rx, which may take it
 * for the control thread; ARP requests for us teach the ARP table their
 * sender. Client requests take neither path.
 *
 * Adaptive polling (--poll adaptive): after DP_IDLE_SPINS empty polls in a
 * row the worker goes QSBR offline (it holds no cache pointer then, so grace
 * periods need not wait for it), sleeps with a back-off doubling from
 * DP_IDLE_MIN_US to DP_IDLE_MAX_US, and comes back online before it polls
 * (and so before touching any cache) again. Any packet resets the back-off.
 * --poll busy never sleeps.
 *
 * Address validation (dp_amp.c): before a weft datagram is classified its
 * cookie trailer is taken off and its flow marked verified or given the
 * request's bytes as the budget of every answer.
 *
 * Authentication (dp_auth.c), with keys only: the auth trailer of every
 * datagram from the port is verified and stripped before anything else
 * reads it (frames of in-node clients to this node are trusted).
 *
 * memcached (dp_mc.c): datagrams to the memcached port become weft
 * requests queued per lcore and served by dp_mc_flush at the end of the
 * burst, before the mbufs they point into are freed; dp_mc_tick serves
 * what answers relayed by dp_rpc_tick queued and ends timed-out commands.
 *
 * Lcores never call into control/ and never block on anything but the
 * slow-path tables' short locks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <urcu-qsbr.h>

#include "dp_msg_internal.h"

#define DP_IDLE_SPINS 256u
#define DP_IDLE_MIN_US 4u
#define DP_IDLE_MAX_US 1000u
#define DP_MSG_SPINS 16u

static void answer_hdr_error(struct dp_lcore *lc, const struct weft_wire_hdr *req,
			     const struct dp_flow *flow, uint16_t status)
{
	struct weft_wire_hdr h;
	dp_resp_hdr(&h, lc->dp, req, status, 0, 0);
	if (status == WEFT_ST_BAD_VERSION)
		h.epoch = WEFT_WIRE_VERSION; /* the highest version this node speaks */
	lc->c.errors++;
	dp_emit(lc, flow, &h, NULL, 0, NULL, 0);
}

/* One multi-datagram piece. Returns true (and fills req, *owned) when it
 * completed a valid message that must be served. */
static bool take_piece(struct dp_lcore *lc, const struct dp_pkt *pkt,
		       const struct weft_wire_hdr *hdr, struct dp_req *req, uint8_t **owned)
{
	struct dp_msg_id id = {.ip = pkt->flow.src_ip, .port = pkt->flow.src_port,
			       .auth = pkt->flow.auth, /* pieces join only their own kind */
			       .client_id = hdr->client_id, .request_id = hdr->request_id};
	uint8_t *msg = NULL;
	struct weft_wire_hdr whole;
	lc->c.reasm_pieces++;
	uint32_t slice_len = pkt->payload_len - (uint32_t)sizeof(*hdr);
	switch (dp_reasm_add(lc->dp->reasm, &id, hdr, pkt->payload + sizeof(*hdr), slice_len,
			     lc->now_ms, &msg, &whole)) {
	case DP_REASM_STORED:
	case DP_REASM_DUPLICATE:
		return false;
	case DP_REASM_BUSY:
		if (hdr->frag_offset == 0)
			answer_hdr_error(lc, hdr, &pkt->flow, WEFT_ST_BUSY);
		else
			lc->c.drops[DP_DROP_REASM]++;
		return false;
	case DP_REASM_MISALIGNED:
	case DP_REASM_MISMATCH:
		if (hdr->frag_offset == 0)
			answer_hdr_error(lc, hdr, &pkt->flow, WEFT_ST_BAD_REQUEST);
		else
			lc->c.drops[DP_DROP_REASM]++;
		return false;
	case DP_REASM_COMPLETE:
		break;
	}
	enum weft_status st = dp_req_validate(&whole, msg, req);
	if (st != WEFT_ST_OK) {
		answer_hdr_error(lc, &whole, &pkt->flow, st);
		free(msg);
		return false;
	}
	req->flow = pkt->flow;
	if (req->flow.amp_budget != 0) /* unverified: its answer is bound by every piece */
		req->flow.amp_budget = dp_amp_msg_budget(whole.msg_len);
	*owned = msg;
	return true;
}

/* Classifies and serves n frames (from the port, or local clients' frames
 * to this node: trusted, no auth trailer), frees them (or hands them on),
 * flushes tx. */
static void process_burst(struct dp_lcore *lc, struct rte_mbuf **rx, uint16_t n, bool trusted)
{
	struct weft_dp *dp = lc->dp;
	struct dp_req reqs[DP_BURST];
	uint8_t *owned[DP_BURST];
	struct rte_mbuf *done[DP_BURST];
	unsigned n_req = 0, n_owned = 0, n_done = 0;
	const struct weft_dp_members *topo = dp_members_current(dp); /* amp exemptions */
	uint64_t rx_tsc = rte_rdtsc(); /* the requests' receive stamp (latency) */
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = rx[i];
		uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
		if (unlikely(m->nb_segs != 1)) {
			lc->c.drops[DP_DROP_SEGMENTED]++;
			done[n_done++] = m;
			continue;
		}
		struct dp_pkt pkt;
		dp_parse_frame(f, m->data_len, dp->bind_ip, dp->udp_port, &pkt);
		uint32_t len;
		switch (pkt.kind) {
		case DP_PKT_ARP_REQUEST:
			if (dp->ctl != NULL)
				dp_ctl_arp_seen(lc, f, m->data_len);
			len = dp_arp_reply(f, dp->mac);
			m->data_len = (uint16_t)len;
			m->pkt_len = len;
			lc->c.arp_replies++;
			dp_tx_push(lc, m);
			continue;
		case DP_PKT_ICMP_ECHO:
			len = dp_icmp_reply(f, pkt.l3_len, dp->mac);
			m->data_len = (uint16_t)len;
			m->pkt_len = len;
			lc->c.icmp_replies++;
			dp_tx_push(lc, m);
			continue;
		case DP_PKT_DROP:
			if (pkt.drop == DP_DROP_UDP_PORT && pkt.flow.dst_port == dp->mc_port &&
			    dp->mc_port != 0) {
				dp_mc_rx(lc, &pkt); /* memcached (dp_mc.c): served by dp_mc_flush */
				done[n_done++] = m;
				continue;
			}
			if (unlikely(pkt.drop == DP_DROP_UDP_PORT &&
				     __atomic_load_n(&dp->n_locals, __ATOMIC_RELAXED) != 0) &&
			    dp_local_rx(lc, m))
				continue; /* a remote node's answer to an in-node client */
			if (unlikely(dp->ctl != NULL && dp_ctl_maybe(pkt.drop)) && dp_ctl_rx(lc, m))
				continue;
			lc->c.drops[pkt.drop]++;
			done[n_done++] = m;
			continue;
		case DP_PKT_UDP:
			break;
		}
		done[n_done++] = m;
		/* Authentication first (dp_auth.c): verify and strip the trailer. */
		if (unlikely(dp->auth != NULL) && !trusted && !dp_auth_rx(lc, m, &pkt))
			continue; /* refused: counted (a client answered UNAUTHORIZED) */
		struct weft_wire_hdr hdr;
		enum weft_status st = WEFT_ST_OK;
		enum dp_drop why = DP_DROP_WEFT_SHORT;
		struct dp_req *req = &reqs[n_req];
		dp_amp_rx(lc, topo, pkt.payload, &pkt.payload_len, &pkt.flow); /* cookie off */
		switch (dp_rx_classify(pkt.payload, pkt.payload_len, &hdr, &st, &why)) {
		case DP_RX_DROP:
			if (why == DP_DROP_WEFT_RESPONSE && lc->rpc != NULL &&
			    hdr.client_id == dp->node_client_id) {
				if (dp_rpc_response(lc, m, &pkt, &hdr))
					n_done--; /* passed to the lcore that sent the request */
				break;
			}
			lc->c.drops[why]++;
			break;
		case DP_RX_ANSWER:
			answer_hdr_error(lc, &hdr, &pkt.flow, st);
			break;
		case DP_RX_PIECE:
			if (take_piece(lc, &pkt, &hdr, req, &owned[n_owned])) {
				req->rx_tsc = rx_tsc;
				n_owned++;
				n_req++;
			}
			break;
		case DP_RX_SERVE:
			st = dp_req_validate(&hdr, pkt.payload + sizeof(hdr), req);
			if (st != WEFT_ST_OK) {
				answer_hdr_error(lc, &hdr, &pkt.flow, st);
				break;
			}
			req->flow = pkt.flow;
			req->rx_tsc = rx_tsc;
			n_req++;
			break;
		}
	}
	dp_lat_burst_begin(lc, rx_tsc);
	if (n_req)
		dp_serve_burst(lc, reqs, n_req);
	if (lc->mc != NULL)
		dp_mc_flush(lc); /* before the datagrams its requests point into are freed */
	dp_lat_burst_end(lc);
	for (unsigned i = 0; i < n_owned; i++)
		free(owned[i]);
	if (n_done)
		rte_pktmbuf_free_bulk(done, n_done);
	dp_tx_flush(lc);
}

unsigned weft_dp_poll_once(struct weft_dp *dp, unsigned worker)
{
	struct dp_lcore *lc = &dp->lc[worker];
	if (worker == 0 && dp->ctl != NULL)
		dp_ctl_tx_drain(lc);
	struct rte_mbuf *rx[DP_BURST];
	uint16_t n = rte_eth_rx_burst(dp->port_id, lc->queue, rx, DP_BURST);
	/* In-node clients' frames: worker 0 serves those to this node. */
	struct rte_mbuf *self[DP_BURST];
	unsigned n_self = worker == 0 && __atomic_load_n(&dp->n_locals, __ATOMIC_RELAXED) != 0
				  ? dp_local_drain(lc, self, DP_BURST)
				  : 0;
	bool rpc_busy = lc->rpc != NULL && dp_rpc_busy(lc->rpc);
	if (n > 0 || n_self > 0 || rpc_busy)
		lc->now_ms = weft_dp_now_ms(dp); /* read once per burst */
	if (rpc_busy)
		dp_rpc_tick(lc);
	if (lc->mc != NULL)
		dp_mc_tick(lc); /* after the RPC answers: serves what they queued */
	/* Messaging timers: each burst, and every DP_MSG_SPINS empty polls
	 * (the tick itself returns at once when nothing is due). */
	if (worker == 0 && (n > 0 || ++lc->msg_spins >= DP_MSG_SPINS)) {
		lc->msg_spins = 0;
		dp_msg_tick(lc);
	}
	if (n_self > 0) {
		lc->c.rx_packets += n_self;
		process_burst(lc, self, (uint16_t)n_self, true);
	}
	if (n == 0) {
		if (lc->n_tx)
			dp_tx_flush(lc);
		return n_self;
	}
	lc->c.rx_packets += n;
	process_burst(lc, rx, n, false);
	return n + n_self;
}

struct worker_arg {
	struct weft_dp *dp;
	unsigned worker;
};

static void idle_sleep(struct dp_lcore *lc)
{
	lc->backoff_us = lc->backoff_us ? lc->backoff_us * 2 : DP_IDLE_MIN_US;
	if (lc->backoff_us > DP_IDLE_MAX_US)
		lc->backoff_us = DP_IDLE_MAX_US;
	struct timespec ts = {0, (long)lc->backoff_us * 1000};
	urcu_qsbr_thread_offline();
	nanosleep(&ts, NULL);
	urcu_qsbr_thread_online();
	lc->c.idle_sleeps++;
}

static int worker_main(void *arg)
{
	struct weft_dp *dp = ((struct worker_arg *)arg)->dp;
	unsigned w = ((struct worker_arg *)arg)->worker;
	free(arg);
	struct dp_lcore *lc = &dp->lc[w];
	urcu_qsbr_register_thread();
	while (!__atomic_load_n(&dp->stop, __ATOMIC_RELAXED)) {
		unsigned n = weft_dp_poll_once(dp, w);
		urcu_qsbr_quiescent_state();
		if (n > 0) {
			lc->empty_polls = 0;
			lc->backoff_us = 0;
		} else if (dp->cfg.poll == WEFT_DP_POLL_ADAPTIVE &&
			   ++lc->empty_polls >= DP_IDLE_SPINS) {
			idle_sleep(lc);
		}
	}
	urcu_qsbr_unregister_thread();
	return 0;
}

int weft_dp_start(struct weft_dp *dp)
{
	unsigned w = 0, lcore;
	__atomic_store_n(&dp->stop, false, __ATOMIC_RELAXED);
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (w == dp->n_workers)
			break;
		struct worker_arg *a = malloc(sizeof(*a));
		if (a == NULL)
			return -ENOMEM;
		a->dp = dp;
		a->worker = w;
		int rc = rte_eal_remote_launch(worker_main, a, lcore);
		if (rc != 0) {
			free(a);
			return rc;
		}
		w++;
	}
	return w == dp->n_workers ? 0 : -ENODEV;
}

void weft_dp_stop(struct weft_dp *dp)
{
	__atomic_store_n(&dp->stop, true, __ATOMIC_RELAXED);
	rte_eal_mp_wait_lcore();
}
