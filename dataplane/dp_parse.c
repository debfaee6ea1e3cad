/*
 * dp_parse.c — classification of received Ethernet frames (Ethernet, ARP,
 * IPv4, ICMP, UDP) and the in-place ARP / ICMP echo replies.
 *
 * Pure functions over a byte buffer: no mbuf, no DPDK, no clock, so the unit
 * tests and the fuzz target call them directly. All multi-byte fields are
 * read with explicit byte loads (frames need not be aligned).
 *
 * What the node accepts (everything else is a counted drop, never a reply):
 *  - ARP requests (Ethernet/IPv4) whose target is the bind IP;
 *  - IPv4 without options (IHL 5), not fragmented, header checksum valid,
 *    total length within the frame (Ethernet padding is ignored), addressed
 *    to the bind IP, carrying an ICMP echo request or UDP to the data port.
 * dp_ctl_parse is the cluster channel's own classifier (see dataplane.h):
 * the lcores call it only for frames dp_parse_frame dropped for a reason
 * behind which a cluster frame may hide (dp_ctl_maybe) and for ARP requests
 * for us, so client requests never pay for it.
 * UDP checksums are NOT verified: frames that the kernel hands to af_packet
 * from a veth carry CHECKSUM_PARTIAL (the field holds only the
 * pseudo-header sum), so a verifying node would drop every local datagram.
 * Ethernet's CRC already covers real wires.
 */
#include <string.h>

#include "dp_internal.h"

#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_ARP 0x0806u

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32ne(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* Ones' complement sum of len bytes (network order words), not folded. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, uint32_t len)
{
	while (len > 1) {
		sum += rd16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static enum dp_pkt_kind drop(struct dp_pkt *out, enum dp_drop why)
{
	out->kind = DP_PKT_DROP;
	out->drop = why;
	return DP_PKT_DROP;
}

static enum dp_pkt_kind parse_arp(const uint8_t *a, uint32_t len, uint32_t bind_ip,
				  struct dp_pkt *out)
{
	if (len < 28)
		return drop(out, DP_DROP_RUNT);
	/* htype Ethernet, ptype IPv4, hlen 6, plen 4, oper request */
	if (rd16(a) != 1 || rd16(a + 2) != ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4 ||
	    rd16(a + 6) != 1 || rd32ne(a + 24) != bind_ip)
		return drop(out, DP_DROP_ARP_OTHER);
	out->kind = DP_PKT_ARP_REQUEST;
	return out->kind;
}

enum dp_pkt_kind dp_parse_frame(const uint8_t *f, uint32_t len, uint32_t bind_ip,
				uint16_t udp_port, struct dp_pkt *out)
{
	memset(out, 0, sizeof(*out));
	if (len < DP_ETH_HLEN)
		return drop(out, DP_DROP_RUNT);
	memcpy(out->flow.dst_mac, f, 6);
	memcpy(out->flow.src_mac, f + 6, 6);
	uint16_t type = rd16(f + 12);
	const uint8_t *ip = f + DP_ETH_HLEN;
	uint32_t rest = len - DP_ETH_HLEN;
	if (type == ETHERTYPE_ARP)
		return parse_arp(ip, rest, bind_ip, out);
	if (type != ETHERTYPE_IPV4)
		return drop(out, DP_DROP_ETHERTYPE);
	if (rest < DP_IP_HLEN)
		return drop(out, DP_DROP_RUNT);
	if ((ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5)
		return drop(out, DP_DROP_IP_BAD_HDR);
	if ((ip[0] & 0xf) != 5)
		return drop(out, DP_DROP_IP_OPTIONS);
	uint16_t tot = rd16(ip + 2);
	if (tot < DP_IP_HLEN)
		return drop(out, DP_DROP_IP_BAD_HDR);
	if (tot > rest)
		return drop(out, DP_DROP_RUNT);
	if (csum_fold(csum_add(0, ip, DP_IP_HLEN)) != 0)
		return drop(out, DP_DROP_IP_CKSUM);
	if (rd16(ip + 6) & 0x3fff) /* MF or a fragment offset */
		return drop(out, DP_DROP_IP_FRAG);
	out->flow.src_ip = rd32ne(ip + 12);
	out->flow.dst_ip = rd32ne(ip + 16);
	if (out->flow.dst_ip != bind_ip)
		return drop(out, DP_DROP_WRONG_IP);
	const uint8_t *l4 = ip + DP_IP_HLEN;
	uint32_t l4_len = tot - DP_IP_HLEN;
	out->l3_len = tot;
	if (ip[9] == 1) { /* ICMP */
		if (l4_len < 8 || l4[0] != 8 || l4[1] != 0)
			return drop(out, DP_DROP_ICMP_OTHER);
		out->kind = DP_PKT_ICMP_ECHO;
		return out->kind;
	}
	if (ip[9] != 17)
		return drop(out, DP_DROP_PROTO);
	if (l4_len < DP_UDP_HLEN)
		return drop(out, DP_DROP_RUNT);
	uint16_t ulen = rd16(l4 + 4);
	if (ulen < DP_UDP_HLEN || ulen > l4_len)
		return drop(out, DP_DROP_UDP_BAD_LEN);
	memcpy(&out->flow.src_port, l4, 2);
	memcpy(&out->flow.dst_port, l4 + 2, 2);
	/* set for another port's datagram too: the memcached endpoint reads it */
	out->payload = l4 + DP_UDP_HLEN;
	out->payload_len = ulen - DP_UDP_HLEN;
	if (out->flow.dst_port != udp_port)
		return drop(out, DP_DROP_UDP_PORT);
	out->kind = DP_PKT_UDP;
	return out->kind;
}

uint32_t dp_arp_reply(uint8_t *f, const uint8_t mac[6])
{
	uint8_t *a = f + DP_ETH_HLEN;
	uint8_t sender_mac[6], sender_ip[4], target_ip[4];
	memcpy(sender_mac, a + 8, 6);
	memcpy(sender_ip, a + 14, 4);
	memcpy(target_ip, a + 24, 4);
	memcpy(f, sender_mac, 6);
	memcpy(f + 6, mac, 6);
	a[6] = 0;
	a[7] = 2; /* reply */
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, target_ip, 4);
	memcpy(a + 18, sender_mac, 6);
	memcpy(a + 24, sender_ip, 4);
	memset(f + DP_ETH_HLEN + 28, 0, 60 - DP_ETH_HLEN - 28); /* pad to the Ethernet minimum */
	return 60;
}

void dp_ipv4_finish(uint8_t *ip)
{
	ip[10] = ip[11] = 0;
	uint16_t c = csum_fold(csum_add(0, ip, DP_IP_HLEN));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
}

uint32_t dp_icmp_reply(uint8_t *f, uint32_t l3_len, const uint8_t mac[6])
{
	memcpy(f, f + 6, 6);
	memcpy(f + 6, mac, 6);
	uint8_t *ip = f + DP_ETH_HLEN;
	uint8_t addr[4];
	memcpy(addr, ip + 12, 4);
	memcpy(ip + 12, ip + 16, 4);
	memcpy(ip + 16, addr, 4);
	ip[8] = 64; /* TTL */
	dp_ipv4_finish(ip);
	uint8_t *icmp = ip + DP_IP_HLEN;
	icmp[0] = 0; /* echo reply */
	icmp[2] = icmp[3] = 0;
	uint16_t c = csum_fold(csum_add(0, icmp, l3_len - DP_IP_HLEN));
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	return DP_ETH_HLEN + l3_len;
}

static bool is_multicast_ip(uint32_t ip_ne)
{
	return (((const uint8_t *)&ip_ne)[0] & 0xf0) == 0xe0;
}

static enum dp_ctl_kind ctl_arp(const uint8_t *a, uint32_t len, const struct dp_ctl_addr *ad,
				struct dp_ctl_pkt *out)
{
	if (len < 28 || rd16(a) != 1 || rd16(a + 2) != ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4 ||
	    (rd16(a + 6) != 1 && rd16(a + 6) != 2))
		return DP_CTL_NONE;
	uint32_t sender = rd32ne(a + 14), target = rd32ne(a + 24);
	if (sender == 0 || sender == ad->bind_ip || (a[8] & 1) || is_multicast_ip(sender) ||
	    sender == 0xffffffffu)
		return DP_CTL_NONE;
	if (target == ad->bind_ip)
		out->arp_create = true;
	else if (target != sender)
		return DP_CTL_NONE;
	out->flow.src_ip = sender;
	memcpy(out->flow.src_mac, a + 8, 6);
	out->kind = DP_CTL_ARP;
	return out->kind;
}

enum dp_ctl_kind dp_ctl_parse(const uint8_t *f, uint32_t len, const struct dp_ctl_addr *ad,
			      struct dp_ctl_pkt *out)
{
	memset(out, 0, sizeof(*out));
	if (len < DP_ETH_HLEN)
		return DP_CTL_NONE;
	memcpy(out->flow.dst_mac, f, 6);
	memcpy(out->flow.src_mac, f + 6, 6);
	uint16_t type = rd16(f + 12);
	const uint8_t *ip = f + DP_ETH_HLEN;
	uint32_t rest = len - DP_ETH_HLEN;
	if (type == ETHERTYPE_ARP)
		return ctl_arp(ip, rest, ad, out);
	if (type != ETHERTYPE_IPV4 || rest < DP_IP_HLEN || ip[0] != 0x45)
		return DP_CTL_NONE;
	uint16_t tot = rd16(ip + 2);
	if (tot < DP_IP_HLEN || tot > rest || csum_fold(csum_add(0, ip, DP_IP_HLEN)) != 0)
		return DP_CTL_NONE;
	out->flow.src_ip = rd32ne(ip + 12);
	out->flow.dst_ip = rd32ne(ip + 16);
	if (out->flow.dst_ip != ad->bind_ip &&
	    (ad->group_ip == 0 || out->flow.dst_ip != ad->group_ip))
		return DP_CTL_NONE;
	if (out->flow.src_ip == 0 || is_multicast_ip(out->flow.src_ip) ||
	    out->flow.src_ip == 0xffffffffu)
		return DP_CTL_NONE; /* no peer sends from there */
	bool self = out->flow.src_ip == ad->bind_ip;
	if (rd16(ip + 6) & 0x3fff) { /* a fragment: its port is unknown until reassembled */
		if (ip[9] != 17)
			return DP_CTL_NONE;
		out->l3 = ip;
		out->l3_len = tot;
		out->kind = self ? DP_CTL_SELF : DP_CTL_FRAG;
		return out->kind;
	}
	const uint8_t *l4 = ip + DP_IP_HLEN;
	uint32_t l4_len = tot - DP_IP_HLEN;
	if (ip[9] != 17 || l4_len < DP_UDP_HLEN)
		return DP_CTL_NONE;
	uint16_t ulen = rd16(l4 + 4);
	memcpy(&out->flow.src_port, l4, 2);
	memcpy(&out->flow.dst_port, l4 + 2, 2);
	if (ulen < DP_UDP_HLEN || ulen > l4_len || out->flow.dst_port != ad->port)
		return DP_CTL_NONE;
	out->payload = l4 + DP_UDP_HLEN;
	out->payload_len = ulen - DP_UDP_HLEN;
	out->kind = self ? DP_CTL_SELF : DP_CTL_DGRAM;
	return out->kind;
}
