/*
 * dp_ctl.c — the cluster channel between the lcores and the control thread:
 * its rings, the lcore side (hand-off of cluster datagrams and fragments,
 * ARP learning, worker 0's transmit drain) and the control side's receive
 * path (weft_dp_ctl_recv, weft_dp_ctl_wait) and STATS lines. Sending is in
 * dp_ctl_tx.c.
 *
 * Invariants:
 *  - the rx ring is multi-producer (every lcore) / single-consumer (the
 *    control thread); the tx ring single-producer (control) /
 *    single-consumer (worker 0). Both are bounded (DP_CTL_RING): a full rx
 *    ring is a counted drop (ctl_drop_full), a full tx ring an -ENOBUFS.
 *  - every mbuf on the rx ring is one segment and was classified
 *    DP_CTL_DGRAM or DP_CTL_FRAG by its lcore; the control thread classifies
 *    it again (dp_ctl_parse is pure and cheap) rather than trusting metadata.
 *  - with keys (dp_auth.c), weft_dp_ctl_recv returns only datagrams whose
 *    trailer verified (stripped, decrypted in rbuf); refusals are counted;
 *  - weft_dp_ctl_recv copies payloads into rbuf and frees the mbufs before
 *    returning; it processes another mbuf only while a maximum-size
 *    datagram still fits, so a copy never fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_internal.h"

struct dp_ctl *dp_ctl_create(const struct weft_dp *dp)
{
	struct dp_ctl *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->dp = (struct weft_dp *)dp;
	c->addr.bind_ip = dp->bind_ip;
	c->addr.group_ip = dp->cfg.group_ip;
	c->addr.port = rte_cpu_to_be_16(dp->cfg.ctl_port);
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "weft_ctl_rx_%u", dp->port_id);
	c->rx = rte_ring_create(name, DP_CTL_RING, SOCKET_ID_ANY, RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "weft_ctl_tx_%u", dp->port_id);
	c->tx = rte_ring_create(name, DP_CTL_RING, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	c->arp = dp_arp_create(DP_CTL_ARP_ENTRIES, DP_CTL_ARP_TTL_MS);
	c->frag = dp_frag_create(DP_CTL_FRAG_ENTRIES, DP_CTL_FRAG_TIMEOUT_MS);
	c->rbuf = malloc(DP_CTL_RBUF);
	if (c->rx == NULL || c->tx == NULL || c->arp == NULL || c->frag == NULL ||
	    c->rbuf == NULL) {
		dp_ctl_destroy(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

static void drain_free(struct rte_ring *r)
{
	struct rte_mbuf *m;
	while (r != NULL && rte_ring_dequeue(r, (void **)&m) == 0)
		rte_pktmbuf_free(m);
}

void dp_ctl_destroy(struct dp_ctl *c)
{
	if (c == NULL)
		return;
	drain_free(c->rx);
	drain_free(c->tx);
	for (unsigned i = c->stash_pos; i < c->stash_n; i++)
		rte_pktmbuf_free(c->stash[i]);
	rte_ring_free(c->rx);
	rte_ring_free(c->tx);
	dp_arp_destroy(c->arp);
	dp_frag_destroy(c->frag);
	free(c->rbuf);
	free(c);
}

/* --- lcore side ---------------------------------------------------------- */

void dp_ctl_arp_seen(struct dp_lcore *lc, const uint8_t *frame, uint32_t len)
{
	struct dp_ctl *c = lc->dp->ctl;
	struct dp_ctl_pkt p;
	if (dp_ctl_parse(frame, len, &c->addr, &p) == DP_CTL_ARP &&
	    dp_arp_learn(c->arp, p.flow.src_ip, p.flow.src_mac, lc->now_ms, p.arp_create))
		lc->c.arp_learned++;
}

bool dp_ctl_rx(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_ctl *c = lc->dp->ctl;
	struct dp_ctl_pkt p;
	switch (dp_ctl_parse(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, &c->addr, &p)) {
	case DP_CTL_NONE:
		return false;
	case DP_CTL_ARP:
		if (!dp_arp_learn(c->arp, p.flow.src_ip, p.flow.src_mac, lc->now_ms,
				  p.arp_create))
			return false; /* gratuitous ARP of a stranger: arp_other */
		lc->c.arp_learned++;
		rte_pktmbuf_free(m);
		return true;
	case DP_CTL_SELF:
		lc->c.ctl_drop_self++;
		rte_pktmbuf_free(m);
		return true;
	case DP_CTL_DGRAM:
	case DP_CTL_FRAG:
		break;
	}
	/* The peer's MAC, so that the answer needs no ARP round trip. */
	if (!(p.flow.src_mac[0] & 1) &&
	    dp_arp_learn(c->arp, p.flow.src_ip, p.flow.src_mac, lc->now_ms, true))
		lc->c.arp_learned++;
	if (rte_ring_mp_enqueue(c->rx, m) != 0) {
		lc->c.ctl_drop_full++;
		rte_pktmbuf_free(m);
		return true;
	}
	if (p.kind == DP_CTL_DGRAM)
		lc->c.ctl_rx++;
	else
		lc->c.frag_to_ctl++;
	return true;
}

void dp_ctl_tx_drain(struct dp_lcore *lc)
{
	struct rte_mbuf *ms[DP_BURST];
	unsigned n = rte_ring_sc_dequeue_burst(lc->dp->ctl->tx, (void **)ms, DP_BURST, NULL);
	for (unsigned i = 0; i < n; i++)
		dp_tx_push(lc, ms[i]);
	lc->c.ctl_tx += n;
}

/* --- control side: receiving --------------------------------------------- */

static struct rte_mbuf *next_mbuf(struct dp_ctl *c)
{
	if (c->stash_pos == c->stash_n) {
		c->stash_pos = 0;
		c->stash_n = rte_ring_sc_dequeue_burst(c->rx, (void **)c->stash, DP_BURST, NULL);
		if (c->stash_n == 0)
			return NULL;
	}
	return c->stash[c->stash_pos++];
}

static void deliver(struct dp_ctl *c, size_t *used, uint32_t src_ip, uint16_t src_port_ne,
		    uint32_t dst_ip, const uint8_t *payload, uint32_t len,
		    struct weft_dp_datagram *out)
{
	memcpy(c->rbuf + *used, payload, len);
	out->src_ip = src_ip;
	out->src_port = rte_be_to_cpu_16(src_port_ne);
	out->dst_ip = dst_ip;
	out->payload = c->rbuf + *used;
	out->len = len;
	*used += len;
	c->c.rx_datagrams++;
}

/* A completed reassembly: UDP to the cluster port? Delivers it if so. */
static bool deliver_whole(struct dp_ctl *c, size_t *used, const uint8_t *ip, const uint8_t *l4,
			  uint32_t l4_len, struct weft_dp_datagram *out)
{
	uint16_t dport, sport, ulen;
	if (ip[9] != 17 || l4_len < DP_UDP_HLEN)
		goto not_ours;
	memcpy(&sport, l4, 2);
	memcpy(&dport, l4 + 2, 2);
	ulen = (uint16_t)(l4[4] << 8 | l4[5]);
	if (dport != c->addr.port || ulen < DP_UDP_HLEN || ulen > l4_len)
		goto not_ours;
	uint32_t src, dst;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	deliver(c, used, src, sport, dst, l4 + DP_UDP_HLEN, ulen - DP_UDP_HLEN, out);
	c->c.rx_reassembled++;
	return true;
not_ours:
	c->c.rx_not_ours++;
	return false;
}

unsigned weft_dp_ctl_recv(struct weft_dp *dp, uint64_t now_ms, struct weft_dp_datagram *out,
			  unsigned max)
{
	struct dp_ctl *c = dp->ctl;
	if (c == NULL)
		return 0;
	dp_frag_expire(c->frag, now_ms);
	size_t used = 0;
	unsigned n = 0;
	while (n < max && DP_CTL_RBUF - used >= WEFT_DP_CTL_MAX_PAYLOAD) {
		struct rte_mbuf *m = next_mbuf(c);
		if (m == NULL)
			break;
		struct dp_ctl_pkt p;
		const uint8_t *hdr, *l4;
		uint32_t l4_len;
		switch (dp_ctl_parse(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, &c->addr,
				     &p)) {
		case DP_CTL_DGRAM:
			deliver(c, &used, p.flow.src_ip, p.flow.src_port, p.flow.dst_ip, p.payload,
				p.payload_len, &out[n]);
			n += dp_auth_ctl_open(dp, &out[n], now_ms); /* refused: not returned */
			break;
		case DP_CTL_FRAG:
			if (dp_frag_add(c->frag, p.l3, p.l3_len, now_ms, &hdr, &l4, &l4_len) ==
				    DP_FRAG_COMPLETE &&
			    deliver_whole(c, &used, hdr, l4, l4_len, &out[n]))
				n += dp_auth_ctl_open(dp, &out[n], now_ms);
			break;
		default: /* not queued by the lcores */
			break;
		}
		rte_pktmbuf_free(m);
	}
	return n;
}

bool weft_dp_ctl_wait(struct weft_dp *dp, unsigned timeout_ms)
{
	struct dp_ctl *c = dp->ctl;
	if (c == NULL)
		return false;
	for (unsigned waited = 0;; waited++) {
		if (c->stash_pos < c->stash_n || !rte_ring_empty(c->rx))
			return true;
		if (waited >= timeout_ms)
			return false;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

void dp_ctl_stats_format(struct dp_ctl *c, void (*put)(void *o, const char *name, uint64_t v),
			 void *o)
{
	put(o, "ctl.rx_datagrams", c->c.rx_datagrams);
	put(o, "ctl.rx_reassembled", c->c.rx_reassembled);
	put(o, "ctl.rx_not_ours", c->c.rx_not_ours);
	put(o, "ctl.rx_waiting", rte_ring_count(c->rx));
	put(o, "ctl.tx_datagrams", c->c.tx_datagrams);
	put(o, "ctl.tx_fragments", c->c.tx_fragments);
	put(o, "ctl.tx_no_buffer", c->c.tx_no_buffer);
	put(o, "ctl.arp_requests", c->c.arp_requests);
	put(o, "ctl.unresolved", c->c.unresolved);
	struct dp_frag_stats fs;
	dp_frag_get_stats(c->frag, &fs);
	put(o, "ctl.frag.completed", fs.completed);
	put(o, "ctl.frag.timeouts", fs.timeouts);
	put(o, "ctl.frag.evicted", fs.evicted);
	put(o, "ctl.frag.bad", fs.bad);
	put(o, "ctl.frag.overlaps", fs.overlaps);
	put(o, "ctl.frag.duplicates", fs.duplicates);
	put(o, "ctl.frag.entries", fs.entries);
	put(o, "arp.entries", dp_arp_entries(c->arp));
}
