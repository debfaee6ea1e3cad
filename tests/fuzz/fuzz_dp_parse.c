/*
 * fuzz_dp_parse.c — fuzz target for the dataplane's packet and protocol
 * parsers: dp_parse_frame (Ethernet/ARP/IPv4/ICMP/UDP), the in-place ARP and
 * ICMP replies, dp_rx_classify (weft header) and dp_req_validate (per-op
 * checks, MULTI_GET key list).
 *
 * Each input is used twice: as a whole Ethernet frame, and as a bare UDP
 * payload (so the fuzzer reaches the weft parser without first having to
 * discover valid IPv4 checksums).
 *
 * Built as a libFuzzer target with -Dfuzz=true (CC=clang), and always as
 * fuzz_dp_parse_replay: a plain binary that runs every file given (or every
 * file in a given directory) through the same function, e.g. to replay a
 * corpus or a crash under gdb/ASan without libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"

#define BIND_IP 0x0200d50au /* 10.213.0.2 in network order on little-endian */
#define UDP_PORT_BE 0x141eu /* 7700 in network order */

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
	free(frame);
	weft_payload(data, (uint32_t)size);
	return 0;
}

#ifdef WEFT_FUZZ_REPLAY
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	static uint8_t buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned runs = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) == 0)
				runs++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		while (d != NULL && (e = readdir(d)) != NULL) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && run_file(path) == 0)
				runs++;
		}
		if (d != NULL)
			closedir(d);
	}
	printf("fuzz_dp_parse_replay: %u inputs ran\n", runs);
	return 0;
}
#endif
