/*
 * fuzz_dp_parse.c — fuzz target for the dataplane's packet and protocol
 * parsers: dp_parse_frame (Ethernet/ARP/IPv4/ICMP/UDP), the in-place ARP and
 * ICMP replies, dp_rx_classify (weft header) and dp_req_validate (per-op
 * checks, MULTI_GET key list, REPLICATE entry list), and the cluster channel's dp_ctl_parse and
 * IPv4 reassembly (dp_frag).
 *
 * Each input is used three ways: as a whole Ethernet frame, as a bare UDP
 * payload (so the fuzzer reaches the weft parser without first having to
 * discover valid IPv4 checksums), and as a sequence of [u16 length][IPv4
 * packet] records fed to one reassembly table, as fragments arriving in
 * turn.
 *
 * Built as a libFuzzer target with -Dfuzz=true (CC=clang), and always as
 * fuzz_dp_parse_replay (with replay_main.c) to replay a corpus or a crash
 * without libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"

#define BIND_IP 0x0200d50au /* 10.213.0.2 in network order on little-endian */
#define UDP_PORT_BE 0x141eu /* 7700 in network order */
#define GROUP_IP 0x01004defu /* 239.77.0.1 in network order on little-endian */
#define CTL_PORT 0x151eu /* 7701 in network order */

static void weft_payload(const uint8_t *p, uint32_t len)
{
	struct weft_wire_hdr hdr;
	enum weft_status st;
	enum dp_drop why;
	if (dp_rx_classify(p, len, &hdr, &st, &why) != DP_RX_SERVE)
		return;
	struct dp_req req;
	if (dp_req_validate(&hdr, p + sizeof(hdr), &req) != WEFT_ST_OK)
		return;
	/* Invariants of a validated request: its parts lie inside the datagram. */
	if (req.value + req.value_len != p + len || req.name != p + sizeof(hdr))
		abort();
	if (hdr.opcode == WEFT_OP_MULTI_GET) {
		/* A validated key list holds exactly count keys of 1..250 bytes. */
		uint16_t count;
		memcpy(&count, req.value, 2);
		uint32_t pos = 0, n = 0;
		const uint8_t *k;
		uint16_t kl;
		while (n < count && dp_mget_next(req.value, req.value_len, &pos, &k, &kl)) {
			if (kl == 0 || kl > WEFT_MAX_KEY_LEN || k + kl > p + len)
				abort();
			n++;
		}
		if (n != count)
			abort();
	}
	if (hdr.opcode == WEFT_OP_REPLICATE) {
		/* A validated entry list holds exactly count well-formed entries. */
		struct weft_x_replicate x;
		memcpy(&x, req.extras, sizeof(x));
		uint32_t pos = 0, n = 0;
		struct weft_repl_entry e;
		const uint8_t *k, *v;
		while (dp_repl_next(req.value, req.value_len, &pos, &e, &k, &v)) {
			if (e.key_len == 0 || e.key_len > WEFT_MAX_KEY_LEN || v + e.value_len > p + len ||
			    (e.kind != WEFT_REPL_PUT && e.value_len != 0))
				abort();
			n++;
		}
		if (n != x.count || pos != req.value_len || !(hdr.flags & WEFT_F_NODE))
			abort();
	}
}

/* Every record is offered to the reassembly table as an IPv4 fragment: a
 * completed datagram must lie inside the 64 KiB IPv4 limit. */
static void fragments(const uint8_t *data, size_t size)
{
	struct dp_frag *f = dp_frag_create(4, 1000);
	if (f == NULL)
		return;
	uint64_t now_ms = 0;
	while (size >= 2) {
		uint16_t len;
		memcpy(&len, data, 2);
		data += 2;
		size -= 2;
		if (len > size)
			len = (uint16_t)size;
		const uint8_t *hdr, *out;
		uint32_t out_len;
		if (dp_frag_add(f, data, len, now_ms, &hdr, &out, &out_len) == DP_FRAG_COMPLETE &&
		    (hdr == NULL || out == NULL || out_len > 65535u - 20u))
			abort();
		data += len;
		size -= len;
		now_ms += 300; /* every few records an entry times out */
		dp_frag_expire(f, now_ms);
	}
	dp_frag_destroy(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 9000)
		return 0;
	/* The replies write up to 60 bytes / the IPv4 length in place. */
	uint8_t *frame = malloc(size < 64 ? 64 : size);
	if (frame == NULL)
		return 0;
	memcpy(frame, data, size);
	struct dp_pkt pkt;
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
	switch (dp_parse_frame(frame, (uint32_t)size, BIND_IP, UDP_PORT_BE, &pkt)) {
	case DP_PKT_ARP_REQUEST:
		dp_arp_reply(frame, mac);
		break;
	case DP_PKT_ICMP_ECHO:
		dp_icmp_reply(frame, pkt.l3_len, mac);
		break;
	case DP_PKT_UDP:
		if (pkt.payload < frame || pkt.payload + pkt.payload_len > frame + size)
			abort();
		weft_payload(pkt.payload, pkt.payload_len);
		break;
	case DP_PKT_DROP:
		break;
	}
	static const struct dp_ctl_addr ctl = {.bind_ip = BIND_IP, .group_ip = GROUP_IP,
					       .port = CTL_PORT};
	struct dp_ctl_pkt cp;
	if (dp_ctl_parse(frame, (uint32_t)size, &ctl, &cp) == DP_CTL_DGRAM &&
	    (cp.payload < frame || cp.payload + cp.payload_len > frame + size))
		abort();
	free(frame);
	weft_payload(data, (uint32_t)size);
	fragments(data, size);
	return 0;
}
