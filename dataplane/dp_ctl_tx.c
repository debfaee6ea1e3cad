/*
 * dp_ctl_tx.c — the control thread's sending side of the cluster channel:
 * weft_dp_ctl_send (Ethernet/IPv4/UDP, IPv4 fragmentation by hand) and ARP
 * resolution of unicast peers.
 *
 * Frames: our MAC and bind IP as source, cfg.ctl_port as UDP source port,
 * UDP checksum 0 (as every frame the node sends, see dp_parse.c), IPv4 ID
 * from a per-node counter, TTL 64 (1 for multicast groups, as a kernel
 * socket's default). A payload of at most 1472 bytes is one frame with DF
 * set; a longer one is cut into fragments of 1480 bytes of IP payload (the
 * UDP header travels in the first), DF clear, MF on all but the last.
 *
 * With keys (dp_auth.c) every datagram is sealed first (a copy with the
 * trailer: weft datagrams with the node key, membership ones with the
 * cluster key).
 *
 * Invariants: all frames of one datagram are queued on the tx ring at once
 * or none is (the ring has one producer, this thread, so its free count
 * cannot shrink between the check and the enqueue); mbufs are allocated in
 * bulk, all or nothing. ARP requests for one IP leave at most once per
 * DP_CTL_ARP_RETRY_MS; the table remembering when is bounded (oldest
 * replaced).
 */
#include <errno.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_internal.h"

#define FRAG_L3_PAYLOAD 1480u /* IP payload per fragment at MTU 1500 */
#define ONE_FRAME_MAX (FRAG_L3_PAYLOAD - DP_UDP_HLEN) /* 1472 */
#define MAX_FRAMES ((WEFT_DP_CTL_MAX_PAYLOAD + DP_UDP_HLEN + FRAG_L3_PAYLOAD - 1) / FRAG_L3_PAYLOAD)

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool is_multicast(uint32_t ip_ne)
{
	return (((const uint8_t *)&ip_ne)[0] & 0xf0) == 0xe0;
}

/* Sends an ARP request for ip unless one left less than a second ago. */
static void arp_resolve(struct dp_ctl *c, uint32_t ip, uint64_t now_ms)
{
	unsigned slot = 0;
	for (unsigned i = 0; i < DP_CTL_ARP_PENDING; i++) {
		if (c->pending[i].ip == ip) {
			if (now_ms - c->pending[i].sent_ms < DP_CTL_ARP_RETRY_MS)
				return;
			slot = i;
			break;
		}
		if (c->pending[i].ip == 0 ||
		    (c->pending[slot].ip != 0 && c->pending[i].sent_ms < c->pending[slot].sent_ms))
			slot = i;
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(c->dp->pool);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, 60) : NULL;
	if (f == NULL) {
		rte_pktmbuf_free(m);
		c->c.tx_no_buffer++;
		return;
	}
	dp_arp_request(f, c->dp->mac, c->dp->bind_ip, ip);
	if (rte_ring_sp_enqueue(c->tx, m) != 0) {
		rte_pktmbuf_free(m);
		c->c.tx_no_buffer++;
		return;
	}
	c->pending[slot].ip = ip;
	c->pending[slot].sent_ms = now_ms;
	c->c.arp_requests++;
}

/* Writes frame i of a datagram: l4 is the virtual stream udp_hdr|payload. */
static void build_frame(struct dp_ctl *c, struct rte_mbuf *m, const uint8_t dst_mac[6],
			uint32_t dst_ip, uint8_t ttl, uint16_t id, const uint8_t udp[8],
			const uint8_t *payload, uint32_t l4_total, uint32_t off, bool frag)
{
	uint32_t chunk = l4_total - off < FRAG_L3_PAYLOAD ? l4_total - off : FRAG_L3_PAYLOAD;
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(DP_ETH_HLEN + DP_IP_HLEN + chunk));
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, c->dp->mac, 6);
	wr16(f + 12, 0x0800);
	uint8_t *ip = f + DP_ETH_HLEN;
	ip[0] = 0x45;
	ip[1] = 0;
	wr16(ip + 2, (uint16_t)(DP_IP_HLEN + chunk));
	wr16(ip + 4, id);
	bool more = off + chunk < l4_total;
	wr16(ip + 6, frag ? (uint16_t)((more ? 0x2000 : 0) | (off / 8)) : 0x4000);
	ip[8] = ttl;
	ip[9] = 17;
	memcpy(ip + 12, &c->dp->bind_ip, 4);
	memcpy(ip + 16, &dst_ip, 4);
	dp_ipv4_finish(ip);
	uint8_t *d = ip + DP_IP_HLEN;
	uint32_t pos = off, end = off + chunk;
	if (pos < DP_UDP_HLEN) { /* the first frame carries the UDP header */
		memcpy(d, udp, DP_UDP_HLEN);
		d += DP_UDP_HLEN;
		pos = DP_UDP_HLEN;
	}
	if (end > pos)
		memcpy(d, payload + (pos - DP_UDP_HLEN), end - pos);
}

int weft_dp_ctl_send(struct weft_dp *dp, uint32_t dst_ip, uint16_t dst_port, const void *buf,
		     size_t len)
{
	struct dp_ctl *c = dp->ctl;
	if (c == NULL)
		return -ENOTCONN;
	if (dst_ip == 0 || dst_ip == 0xffffffffu || dst_ip == dp->bind_ip || dst_port == 0 ||
	    len > WEFT_DP_CTL_MAX_PAYLOAD || (buf == NULL && len > 0))
		return -EINVAL;
	int src = dp_auth_ctl_seal(dp, buf, len, &buf, &len); /* with keys: sealed copy */
	if (src != 0)
		return src;
	uint64_t now = weft_dp_now_ms(dp);
	uint8_t mac[6];
	uint8_t ttl = 64;
	if (is_multicast(dst_ip)) {
		const uint8_t *g = (const uint8_t *)&dst_ip;
		uint8_t m[6] = {0x01, 0x00, 0x5e, (uint8_t)(g[1] & 0x7f), g[2], g[3]};
		memcpy(mac, m, 6);
		ttl = 1;
	} else if (!dp_arp_lookup(c->arp, dst_ip, now, mac)) {
		arp_resolve(c, dst_ip, now);
		c->c.unresolved++;
		return -EHOSTUNREACH;
	}
	uint32_t l4_total = (uint32_t)len + DP_UDP_HLEN;
	bool frag = len > ONE_FRAME_MAX;
	unsigned n = (l4_total + FRAG_L3_PAYLOAD - 1) / FRAG_L3_PAYLOAD;
	struct rte_mbuf *ms[MAX_FRAMES];
	if (rte_ring_free_count(c->tx) < n || rte_pktmbuf_alloc_bulk(dp->pool, ms, n) != 0) {
		c->c.tx_no_buffer++;
		return -ENOBUFS;
	}
	uint8_t udp[DP_UDP_HLEN];
	wr16(udp, dp->cfg.ctl_port);
	wr16(udp + 2, dst_port);
	wr16(udp + 4, (uint16_t)l4_total);
	wr16(udp + 6, 0);
	uint16_t id = c->ip_id++;
	for (unsigned i = 0; i < n; i++)
		build_frame(c, ms[i], mac, dst_ip, ttl, id, udp, buf, l4_total,
			    i * FRAG_L3_PAYLOAD, frag);
	if (rte_ring_sp_enqueue_bulk(c->tx, (void **)ms, n, NULL) != n) {
		rte_pktmbuf_free_bulk(ms, n);
		c->c.tx_no_buffer++;
		return -ENOBUFS;
	}
	c->c.tx_datagrams++;
	if (frag)
		c->c.tx_fragments += n;
	return 0;
}
