/*
 * dp_internal.h — dataplane internals shared by its files and unit tests:
 * packet classification (dp_parse.c), request validation (dp_req.c),
 * per-lcore state and counters, the node context, response emission
 * (dp_tx.c) and request serving (dp_serve.c).
 *
 * Invariants:
 *  - struct dp_lcore is written only by its own worker (counters included);
 *    STATS readers sum the counters without locks (values may be a few
 *    packets stale, never torn on x86-64).
 *  - A struct dp_req points into memory (an rx mbuf or a reassembled
 *    buffer) that stays valid until the end of the burst that produced it.
 */
#ifndef WEFT_DP_INTERNAL_H
#define WEFT_DP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <weft/wire.h>

#include "cache.h"
#include "dataplane.h"
#include "dp_tables.h"

#define DP_BURST 32u
#define DP_TX_CAP 256u /* buffered tx; flushed when full and at iteration end */
#define DP_ETH_HLEN 14u
#define DP_IP_HLEN 20u
#define DP_UDP_HLEN 8u
#define DP_HDRS_LEN (DP_ETH_HLEN + DP_IP_HLEN + DP_UDP_HLEN) /* 42 */

/* Why a packet was dropped. Names in dp_drop_name(). */
enum dp_drop {
	DP_DROP_RUNT,          /* shorter than the headers it claims */
	DP_DROP_SEGMENTED,     /* a multi-segment mbuf (the parser wants one buffer) */
	DP_DROP_ETHERTYPE,     /* not ARP or IPv4 (VLAN, IPv6, ...) */
	DP_DROP_ARP_OTHER,     /* ARP not a request for our IP, or malformed */
	DP_DROP_IP_BAD_HDR,    /* version, IHL or total length wrong */
	DP_DROP_IP_CKSUM,      /* bad IPv4 header checksum */
	DP_DROP_IP_OPTIONS,    /* IHL > 5 */
	DP_DROP_IP_FRAG,       /* IPv4 fragment */
	DP_DROP_WRONG_IP,      /* destination is not the bind IP */
	DP_DROP_PROTO,         /* not ICMP or UDP */
	DP_DROP_ICMP_OTHER,    /* not an echo request, or malformed */
	DP_DROP_UDP_BAD_LEN,   /* UDP length field wrong */
	DP_DROP_UDP_PORT,      /* not our data port */
	DP_DROP_WEFT_SHORT,    /* datagram shorter than the weft header */
	DP_DROP_WEFT_MAGIC,    /* no weft magic */
	DP_DROP_WEFT_RESPONSE, /* F_RESPONSE set: responses are never served */
	DP_DROP_DEDUP_INFLIGHT,/* retransmission of an op still being applied */
	DP_DROP_REASM,         /* piece refused by reassembly (dup/mismatch/busy) */
	DP_DROP_NO_MBUF,       /* no mbuf for a response */
	DP_DROP_TX_FULL,       /* the tx queue refused a response */
	DP_DROP__COUNT
};

/* Per-lcore counters, summed by the STATS reader. */
struct dp_counters {
	uint64_t rx_packets, tx_packets;
	uint64_t arp_replies, icmp_replies;
	uint64_t requests[WEFT_OP__COUNT];
	uint64_t errors;          /* responses with a status other than OK,
	                             NOT_FOUND, EXISTS, VERSION_MISMATCH */
	uint64_t drops[DP_DROP__COUNT];
	uint64_t reasm_pieces;    /* datagrams of multi-datagram requests */
	uint64_t long_responses;  /* responses kept for FETCH */
	uint64_t dedup_replays;   /* retransmissions answered from dedup */
	uint64_t get_bursts;      /* weft_cache_get_burst calls */
	uint64_t idle_sleeps;
};

const char *dp_drop_name(enum dp_drop d);

/* L2-L4 addressing of a received datagram (network byte order). */
struct dp_flow {
	uint8_t src_mac[6], dst_mac[6];
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
};

enum dp_pkt_kind { DP_PKT_DROP, DP_PKT_ARP_REQUEST, DP_PKT_ICMP_ECHO, DP_PKT_UDP };

struct dp_pkt {
	enum dp_pkt_kind kind;
	enum dp_drop drop;       /* when kind == DP_PKT_DROP */
	uint32_t l3_len;         /* IPv4 total length (ICMP) */
	const uint8_t *payload;  /* UDP payload */
	uint32_t payload_len;
	struct dp_flow flow;
};

/* Classifies one Ethernet frame for a node at bind_ip:udp_port (both network
 * order). Pure: reads only frame[0..len). Fills out and returns out->kind. */
enum dp_pkt_kind dp_parse_frame(const uint8_t *frame, uint32_t len, uint32_t bind_ip,
				uint16_t udp_port, struct dp_pkt *out);

/* Turns an ARP request / ICMP echo request frame (as classified by
 * dp_parse_frame) into its reply in place. mac is the node's MAC. Pure.
 * Returns the reply's frame length. */
uint32_t dp_arp_reply(uint8_t *frame, const uint8_t mac[6]);
uint32_t dp_icmp_reply(uint8_t *frame, uint32_t l3_len, const uint8_t mac[6]);
/* Sets the header checksum of a 20-byte IPv4 header. */
void dp_ipv4_finish(uint8_t *ip);

/* One request, whole (single datagram or reassembled). */
struct dp_req {
	struct weft_wire_hdr hdr;
	const uint8_t *name, *key, *extras, *value;
	uint32_t value_len;
	uint64_t key_hash;
	struct dp_flow flow;
};

/* What to do with a weft datagram after its header is read. */
enum dp_rx_verdict {
	DP_RX_DROP,    /* *drop says why: no reply */
	DP_RX_ANSWER,  /* reply with *status (error), no serving */
	DP_RX_PIECE,   /* one piece of a multi-datagram message: reassemble */
	DP_RX_SERVE,   /* a whole single-datagram message: validate and serve */
};

/* Reads and checks a datagram's weft header (magic, size, weft_wire_check,
 * F_RESPONSE). Pure. */
enum dp_rx_verdict dp_rx_classify(const uint8_t *dgram, uint32_t len, struct weft_wire_hdr *hdr,
				  enum weft_status *status, enum dp_drop *drop);

/* Per-op validation of a whole message payload (msg_len bytes, hdr already
 * passed weft_wire_check): extras length, key/name presence, MULTI_GET key
 * list. Fills req's pointers (not key_hash nor flow). Pure. Returns
 * WEFT_ST_OK or the status to answer. */
enum weft_status dp_req_validate(const struct weft_wire_hdr *hdr, const uint8_t *payload,
				 struct dp_req *req);

/* Iterates a validated MULTI_GET key list: *pos starts at 0. Returns false
 * at the end. Pure. */
bool dp_mget_next(const uint8_t *list, uint32_t list_len, uint32_t *pos, const uint8_t **key,
		  uint16_t *key_len);

struct rte_mbuf;
struct rte_mempool;

struct dp_lcore {
	struct weft_dp *dp;
	uint16_t queue;
	uint64_t now_ms;          /* read once per burst */
	unsigned n_tx;
	unsigned empty_polls;
	uint32_t backoff_us;
	struct rte_mbuf *tx[DP_TX_CAP];
	struct dp_counters c;
} __attribute__((aligned(64)));

struct weft_dp {
	struct weft_dp_config cfg;
	uint16_t port_id;
	bool port_started;
	uint8_t mac[6];
	uint32_t bind_ip;    /* network order */
	uint16_t udp_port;   /* network order */
	unsigned n_workers;
	struct rte_mempool *pool;
	struct weft_cache_registry *reg;
	struct dp_reasm *reasm;
	struct dp_resp *resp;
	struct dp_dedup *dedup;
	struct dp_lcore *lc; /* n_workers, cache-aligned */
	volatile bool stop;
};

/* dp_tx.c: response emission into lc's tx buffer. */
void dp_tx_push(struct dp_lcore *lc, struct rte_mbuf *m);
void dp_tx_flush(struct dp_lcore *lc);
/* Builds one response datagram (headers from flow swapped, payload = p1|p2)
 * and buffers it. */
void dp_emit(struct dp_lcore *lc, const struct dp_flow *flow, const struct weft_wire_hdr *hdr,
	     const void *p1, uint32_t l1, const void *p2, uint32_t l2);
/* dp_resp_emit_fn for dp_resp_fetch/dp_resp_split: ctx is a struct
 * dp_emit_ctx; emits the datagram as is (header and slice). */
struct dp_emit_ctx {
	struct dp_lcore *lc;
	const struct dp_flow *flow;
};
void dp_emit_cb(void *ctx, const struct weft_wire_hdr *hdr, const uint8_t *slice, uint32_t len);
/* A response header for req with status and payload lengths set. */
void dp_resp_hdr(struct weft_wire_hdr *out, const struct weft_wire_hdr *req, uint16_t status,
		 uint16_t extras_len, uint32_t msg_len);
/* Sends a response of extras + value: one datagram if it fits, else kept
 * in response memory (copied) and its first window sent. */
void dp_answer(struct dp_lcore *lc, const struct dp_req *req, uint16_t status, const void *extras,
	       uint16_t extras_len, const void *value, uint32_t value_len);
/* As dp_answer for a payload the caller malloc'd (ownership passes). */
void dp_answer_owned(struct dp_lcore *lc, const struct dp_req *req, uint16_t status,
		     uint16_t extras_len, uint8_t *payload, uint32_t msg_len);

/* dp_serve.c: serves n validated requests (GETs batched per cache). */
void dp_serve_burst(struct dp_lcore *lc, struct dp_req *reqs, unsigned n);

/* dp_stats.c */
void dp_counters_add(struct dp_counters *sum, const struct dp_counters *c);

#endif /* WEFT_DP_INTERNAL_H */
