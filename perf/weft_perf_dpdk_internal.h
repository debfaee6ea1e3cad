/*
 * weft-perf's DPDK mode internals: a DPDK load generator for weftd that owns its
 * EAL and one port (net_memif, net_af_packet, any PMD), sends pre-built
 * request frames and matches answers by request id.
 *
 * Files: weft_perf_dpdk.c (options, EAL, port, report), weft_perf_dpdk_pkt.c
 * (frame templates, ARP, answer parsing), weft_perf_dpdk_loop.c (the send /
 * receive loop, open and closed loop, per-second lines). Keys, Zipf, the
 * weft encoder and the latency histogram come from the kernel weft-perf
 * (weft_perf_internal.h).
 *
 * Invariants:
 *  - One lcore (the EAL main one) does all TX and RX of the port's --queues
 *    queue pairs (bursts go to them in turn; a memif peer's lcore i serves
 *    queue i); nothing here is shared between threads.
 *  - A request id is (send TSC - start TSC) << WPD_SLOT_BITS | slot: the
 *    send time travels in the packet and the answer's id names its slot in a
 *    ring of in-flight requests. The ring is handed out in send order, so its
 *    oldest live entry is the oldest request: timeouts are found at its tail.
 *  - A slot is live from a successful tx_burst until its answer or its
 *    timeout (counted lost); a stale or duplicate answer never completes it.
 */
#ifndef WEFT_PERF_DPDK_INTERNAL_H
#define WEFT_PERF_DPDK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "weft_perf_internal.h"

#define WPD_BURST 32u
#define WPD_SLOT_BITS 20u
#define WPD_MAX_SLOTS (1u << WPD_SLOT_BITS)
#define WPD_MAX_FLOWS 4096u
#define WPD_HDRS 42u /* Ethernet 14 + IPv4 20 + UDP 8 */

struct wpd_config {
	struct wp_config base;     /* workload: keys, sizes, mix, dist, duration... */
	const char *port_spec;     /* memif:SOCKET[,..] | af_packet:IFACE | PCI */
	uint32_t src_ip, dst_ip;   /* network order */
	uint16_t dst_port;         /* host order */
	uint16_t src_port_base;    /* host order; flow f uses base + f */
	struct rte_ether_addr dst_mac;
	bool dst_mac_set;
	struct rte_ether_addr src_mac; /* port MAC, filled at port start */
	unsigned flows;
	uint16_t queues;           /* queue pairs on the port (default 1) */
	uint64_t rate;             /* requests/s, open loop; 0: closed loop */
	bool echo;                 /* baseline: a frame returned by a forwarder
	                              (testpmd macswap) counts as the answer */
	int cpu;                   /* CPU of the single lcore */
	unsigned mem_mb;
	double link_wait_s;        /* bounded wait for link / peer / ARP */
	bool quiet;                /* no per-second lines */
	uint8_t cookie[WEFT_COOKIE_LEN]; /* the node's cookie for src_ip (zeros: none) */
};

/* Pre-built frames: one GET and (if there are puts) one PUT per key; with
 * --mget one MULTI_GET frame whose keys the loop overwrites (every key has
 * the same size, so lengths and the IPv4 checksum stay valid). */
struct wpd_templates {
	uint8_t *get, *put;        /* keys * stride bytes each */
	uint16_t get_len, put_len;
	uint32_t stride;
	uint16_t id_off;           /* offset of the weft request_id in a frame */
	uint16_t key_off;          /* offset of the key in a GET frame */
	uint8_t *mget;             /* --mget: the MULTI_GET frame; NULL: none */
	uint16_t mget_len;
	uint16_t mget_key_off;     /* offset of its first key; key i at + i * (2 + key_size) */
};

struct wpd_counts {
	uint64_t offered, sent, tx_full, answered, hits, misses, stored, errors, lost, stale;
	uint64_t cookies; /* COOKIE answers (cookie aged out): templates re-stamped */
};

/* --- weft_perf_dpdk_pkt.c --- */

/* Builds the templates (flow 0's source port; the loop patches it).
 * 0 or -errno. */
int wpd_templates_build(struct wpd_templates *t, const struct wpd_config *c, uint32_t client_id);
void wpd_templates_free(struct wpd_templates *t);
/* Address validation: writes cookie into every template's trailer. */
void wpd_templates_set_cookie(struct wpd_templates *t, const struct wp_config *b,
			      const uint8_t cookie[WEFT_COOKIE_LEN]);
/* The cookie an answer frame from the node carries: false when none. */
bool wpd_answer_cookie(const struct wpd_config *c, const uint8_t *f, uint32_t len,
		       uint8_t out[WEFT_COOKIE_LEN]);
/* Writes a weft request with no key (CACHE_OPEN of base.cache, or a PING)
 * as a full frame from flow 0; returns its length. */
uint16_t wpd_frame_control(const struct wpd_config *c, uint32_t client_id, uint8_t op,
			   uint64_t req_id, uint8_t *out);
/* Writes an ARP request for c->dst_ip; returns its length. */
uint16_t wpd_frame_arp_request(const struct wpd_config *c, uint8_t *out);
/* If frame is an ARP reply from c->dst_ip, stores the sender MAC: true. */
bool wpd_parse_arp_reply(const struct wpd_config *c, const uint8_t *f, uint32_t len,
			 struct rte_ether_addr *mac);
/* If the frame answers one of our requests (a weft response, or in echo mode
 * our own request returned by a forwarder), gives its request id and result. */
bool wpd_parse_answer(const struct wpd_config *c, uint32_t client_id, const uint8_t *f,
		      uint32_t len, uint64_t *req_id, enum wp_result *res);

/* --- weft_perf_dpdk_loop.c --- */

struct wpd_run {
	const struct wpd_config *cfg;
	struct wpd_templates *tpl;    /* re-stamped when a cookie ages out */
	const struct wp_zipf *zipf;   /* NULL: uniform */
	struct rte_mempool *pool;
	uint16_t port;
	uint32_t client_id;
	struct wpd_counts n;
	struct wp_hist *hist;         /* latency in ns of answered requests */
	double seconds;               /* measured time */
};

/* Preload: a PUT of every key, closed loop, not measured. 0 or -errno. */
int wpd_preload(struct wpd_run *r, struct wpd_counts *out);
/* The measured run; fills r->n, r->hist, r->seconds. 0 or -errno. */
int wpd_measure(struct wpd_run *r);
/* Sends frame (len bytes) and waits up to timeout_ms for an answer frame
 * accepted by match(); true when one came. Used for ARP and CACHE_OPEN. */
bool wpd_exchange(struct wpd_run *r, const uint8_t *frame, uint16_t len, unsigned timeout_ms,
		  bool (*match)(struct wpd_run *r, const uint8_t *f, uint32_t flen, void *arg),
		  void *arg);

#endif /* WEFT_PERF_DPDK_INTERNAL_H */
