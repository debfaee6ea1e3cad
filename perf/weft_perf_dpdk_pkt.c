/*
 * weft-perf's DPDK mode frames: pre-built request templates (Ethernet + IPv4 +
 * UDP + a weft request from weft_perf_proto.c's encoder), ARP, and the
 * parsing of answers.
 *
 * Invariants: a template is a complete, valid frame (IPv4 header checksum
 * set, UDP checksum 0 as weftd sends and accepts); the loop patches only the
 * UDP source port (not covered by the IPv4 checksum) and the weft
 * request_id at tpl->id_off. Parsers read only inside [f, f + len).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <weft/wire.h>

#include "weft_perf_dpdk_internal.h"

/* Writes Ethernet, IPv4 and UDP headers for a payload of plen bytes. */
static void write_headers(const struct wpd_config *c, uint8_t *f, uint16_t plen)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + sizeof(*eth));
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(f + sizeof(*eth) + sizeof(*ip));

	rte_ether_addr_copy(&c->dst_mac, &eth->dst_addr);
	rte_ether_addr_copy(&c->src_mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + sizeof(*udp) + plen));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = c->src_ip;
	ip->dst_addr = c->dst_ip;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16(c->src_port_base);
	udp->dst_port = rte_cpu_to_be_16(c->dst_port);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + plen));
	udp->dgram_cksum = 0;
}

int wpd_templates_build(struct wpd_templates *t, const struct wpd_config *c, uint32_t client_id)
{
	const struct wp_config *b = &c->base;
	size_t max = WPD_HDRS + wp_max_request_len(b);
	uint8_t *value = malloc(b->value_size + 1);

	memset(t, 0, sizeof(*t));
	if (value == NULL)
		return -ENOMEM;
	memset(value, 'v', b->value_size);
	t->stride = (uint32_t)((max + 63) & ~(size_t)63);
	t->id_off = WPD_HDRS + offsetof(struct weft_wire_hdr, request_id);
	t->key_off = (uint16_t)(WPD_HDRS + sizeof(struct weft_wire_hdr) + strlen(b->cache));
	if (b->mget) { /* keys 0..mget-1 for now: the loop writes each request's own */
		uint64_t keys[WEFT_MAX_MULTI_GET];
		for (unsigned i = 0; i < b->mget; i++)
			keys[i] = i % b->keys;
		t->mget = malloc(t->stride);
		if (t->mget == NULL) {
			free(value);
			return -ENOMEM;
		}
		size_t n = wp_encode_mget(b, client_id, 0, keys, c->cookie, t->mget + WPD_HDRS);
		write_headers(c, t->mget, (uint16_t)n);
		t->mget_len = (uint16_t)(WPD_HDRS + n);
		t->mget_key_off = (uint16_t)(t->key_off + 2 + 2); /* count, then key_len */
	}
	t->get = malloc(b->keys * t->stride);
	t->put = b->get_ratio < 1 ? malloc(b->keys * t->stride) : NULL;
	if (t->get == NULL || (b->get_ratio < 1 && t->put == NULL)) {
		free(value);
		wpd_templates_free(t);
		return -ENOMEM;
	}
	for (uint64_t k = 0; k < b->keys; k++) {
		uint8_t *f = t->get + k * t->stride;
		size_t n = wp_encode(b, client_id, 0, true, k, value, c->cookie, f + WPD_HDRS);
		write_headers(c, f, (uint16_t)n);
		t->get_len = (uint16_t)(WPD_HDRS + n);
		if (t->put == NULL)
			continue;
		f = t->put + k * t->stride;
		n = wp_encode(b, client_id, 0, false, k, value, c->cookie, f + WPD_HDRS);
		write_headers(c, f, (uint16_t)n);
		t->put_len = (uint16_t)(WPD_HDRS + n);
	}
	free(value);
	return 0;
}

void wpd_templates_free(struct wpd_templates *t)
{
	free(t->get);
	free(t->put);
	free(t->mget);
	t->get = t->put = t->mget = NULL;
}

void wpd_templates_set_cookie(struct wpd_templates *t, const struct wp_config *b,
			      const uint8_t cookie[WEFT_COOKIE_LEN])
{
	if (b->proto != WP_PROTO_WEFT)
		return;
	for (uint64_t k = 0; k < b->keys; k++) {
		/* wp_encode ends each weft request with the trailer */
		wp_cookie_put(t->get + k * t->stride + t->get_len - WEFT_COOKIE_LEN, cookie);
		if (t->put != NULL)
			wp_cookie_put(t->put + k * t->stride + t->put_len - WEFT_COOKIE_LEN, cookie);
	}
	if (t->mget != NULL)
		wp_cookie_put(t->mget + t->mget_len - WEFT_COOKIE_LEN, cookie);
}

uint16_t wpd_frame_control(const struct wpd_config *c, uint32_t client_id, uint8_t op,
			   uint64_t req_id, uint8_t *out)
{
	struct weft_wire_hdr h = {
		.magic = WEFT_WIRE_MAGIC, .version = WEFT_WIRE_VERSION, .opcode = op,
		.flags = WEFT_F_COOKIE, .client_id = client_id, .request_id = req_id,
	};
	uint8_t *p = out + WPD_HDRS + sizeof(h);
	if (op == WEFT_OP_CACHE_OPEN) {
		/* node defaults, mode WEFT_MODE_DEFAULT (the node picks) */
		struct weft_x_cache_opts x = { .mode = WEFT_MODE_DEFAULT };
		size_t nl = strlen(c->base.cache);
		h.name_len = (uint8_t)nl;
		h.extras_len = sizeof(x);
		memcpy(p, c->base.cache, nl);
		memcpy(p + nl, &x, sizeof(x));
		p += nl + sizeof(x);
	}
	h.msg_len = (uint32_t)(p - out - WPD_HDRS - sizeof(h));
	memcpy(out + WPD_HDRS, &h, sizeof(h));
	wp_cookie_put(p, c->cookie);
	p += WEFT_COOKIE_LEN;
	uint16_t plen = (uint16_t)(p - out - WPD_HDRS);
	write_headers(c, out, plen);
	return (uint16_t)(WPD_HDRS + plen);
}

uint16_t wpd_frame_arp_request(const struct wpd_config *c, uint8_t *out)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)out;
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(out + sizeof(*eth));

	memset(out, 0, RTE_ETHER_MIN_LEN);
	memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	rte_ether_addr_copy(&c->src_mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	rte_ether_addr_copy(&c->src_mac, &a->arp_data.arp_sha);
	a->arp_data.arp_sip = c->src_ip;
	a->arp_data.arp_tip = c->dst_ip;
	return RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN;
}

bool wpd_parse_arp_reply(const struct wpd_config *c, const uint8_t *f, uint32_t len,
			 struct rte_ether_addr *mac)
{
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)f;
	const struct rte_arp_hdr *a = (const struct rte_arp_hdr *)(f + sizeof(*eth));
	if (len < sizeof(*eth) + sizeof(*a) ||
	    eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP) ||
	    a->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REPLY) ||
	    a->arp_data.arp_sip != c->dst_ip || a->arp_data.arp_tip != c->src_ip)
		return false;
	rte_ether_addr_copy(&a->arp_data.arp_sha, mac);
	return true;
}

/* Our own request returned by a forwarder: addressed back to us, from
 * someone else (af_packet also shows a port its own transmissions). */
static bool parse_echo(const struct wpd_config *c, uint32_t client_id, const uint8_t *f,
		       const uint8_t *pl, uint32_t plen, uint64_t *req_id, enum wp_result *res)
{
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)f;
	struct weft_wire_hdr h;
	if (!rte_is_same_ether_addr(&eth->dst_addr, &c->src_mac) ||
	    rte_is_same_ether_addr(&eth->src_addr, &c->src_mac) || plen < sizeof(h))
		return false;
	memcpy(&h, pl, sizeof(h));
	if (h.magic != WEFT_WIRE_MAGIC || (h.flags & WEFT_F_RESPONSE) || h.client_id != client_id)
		return false;
	*req_id = h.request_id;
	*res = h.opcode == WEFT_OP_GET ? WP_R_HIT : WP_R_STORED;
	return true;
}

bool wpd_answer_cookie(const struct wpd_config *c, const uint8_t *f, uint32_t len,
		       uint8_t out[WEFT_COOKIE_LEN])
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + sizeof(struct rte_ether_hdr));
	const struct rte_udp_hdr *udp =
		(const struct rte_udp_hdr *)(f + sizeof(struct rte_ether_hdr) + sizeof(*ip));
	if (len < WPD_HDRS || ip->src_addr != c->dst_ip)
		return false;
	uint16_t ulen = rte_be_to_cpu_16(udp->dgram_len);
	if (ulen < sizeof(*udp) || ulen > len - sizeof(struct rte_ether_hdr) - sizeof(*ip))
		return false;
	return wp_weft_cookie(f + WPD_HDRS, ulen - (uint32_t)sizeof(*udp), out);
}

bool wpd_parse_answer(const struct wpd_config *c, uint32_t client_id, const uint8_t *f,
		      uint32_t len, uint64_t *req_id, enum wp_result *res)
{
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)f;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + sizeof(*eth));
	const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)(f + sizeof(*eth) + sizeof(*ip));
	if (len < WPD_HDRS || eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    ip->version_ihl != RTE_IPV4_VHL_DEF || ip->next_proto_id != IPPROTO_UDP)
		return false;
	uint16_t ulen = rte_be_to_cpu_16(udp->dgram_len);
	if (ulen < sizeof(*udp) || ulen > len - sizeof(*eth) - sizeof(*ip))
		return false;
	const uint8_t *pl = f + WPD_HDRS;
	uint32_t plen = ulen - (uint32_t)sizeof(*udp);
	if (c->echo) {
		if (ip->dst_addr != c->dst_ip || udp->dst_port != rte_cpu_to_be_16(c->dst_port))
			return false;
		return parse_echo(c, client_id, f, pl, plen, req_id, res);
	}
	if (ip->src_addr != c->dst_ip || udp->src_port != rte_cpu_to_be_16(c->dst_port))
		return false;
	return wp_decode(&c->base, client_id, pl, plen, req_id, res);
}
