/*
 * dp_internal.h — dataplane internals shared by its files and unit tests:
 * packet classification (dp_parse.c), request validation (dp_req.c),
 * per-lcore state and counters, the node context, response emission
 * (dp_tx.c), request serving (dp_serve.c) and the cluster channel
 * (dp_ctl.c, dp_ctl_parse in dp_parse.c, dp_arp.c, dp_frag.c).
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

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <weft/wire.h>

#include "cache.h"
#include "dataplane.h"
#include "dp_tables.h"
#include "sec.h"

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

/* Request latency histograms (dp_tx.c lat_record): bucket i < DP_LAT_INF
 * counts answers of at most 2^i microseconds (and more than 2^(i-1)),
 * bucket DP_LAT_INF the rest. READ: GET and MULTI_GET; WRITE: the other
 * keyed ops but SESSION (PUT, PUT_IF_ABSENT, REPLACE, CAS, DELETE, INCR,
 * TOUCH, PUT_FENCED). */
#define DP_LAT_INF 25 /* 2^24 us, about 16.8 s, is the last finite bound */
enum dp_lat_kind { DP_LAT_READ, DP_LAT_WRITE, DP_LAT__COUNT };

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
	uint64_t not_owner;       /* keyed requests for a segment this node does
	                             not own (forwarded, or answered NOT_OWNER) */
	/* node-to-node RPC (dp_rpc.c, dp_route.c) */
	uint64_t forwarded;       /* client requests forwarded to an owner */
	uint64_t replicated;      /* writes held for replication acks */
	uint64_t rpc_sent;        /* node requests sent (first transmissions) */
	uint64_t rpc_retransmits;
	uint64_t rpc_acks;        /* node responses matched to a pending request */
	uint64_t rpc_stray;       /* node responses matching nothing (late, dup) */
	uint64_t rpc_steered;     /* responses passed to the lcore that sent the request */
	uint64_t rpc_gave_up;     /* requests abandoned: clients answered BUSY */
	uint64_t rpc_retargeted;  /* replications resent after their peer left the view */
	uint64_t rpc_no_slot;     /* requests refused: every slot busy (BUSY) */
	uint64_t no_quorum;       /* writes refused with NO_QUORUM */
	uint64_t lease_busy;      /* ops refused BUSY: the membership lease had
	                             expired (dp_lease_ok; not in errors) */
	uint64_t repl_applied;    /* REPLICATE entries applied here */
	uint64_t repl_stale;      /* REPLICATE entries older than ours: ignored */
	uint64_t read_through;    /* GET misses asked of a segment's old owner */
	/* messaging (dp_msg*.c) */
	uint64_t msg_parked;      /* RECEIVEs parked until a message or their wait */
	uint64_t msg_repl_sent;   /* MSG_REPL requests sent (one per owner) */
	uint64_t msg_repl_lost;   /* records not sent: out of memory or RPC slots */
	uint64_t msg_repl_applied;/* MSG_REPL records applied here */
	uint64_t topic_batches;   /* TOPIC_DELIVER batches sent */
	uint64_t topic_joins;     /* TOPIC_JOIN requests sent */
	uint64_t msg_transfer;    /* messages sent in state transfer */
	uint64_t idle_sleeps;
	/* cluster channel (dp_ctl.c) */
	uint64_t ctl_rx;          /* datagrams handed to the control thread */
	uint64_t frag_to_ctl;     /* IPv4 fragments handed to it */
	uint64_t ctl_drop_full;   /* refused: the control ring was full */
	uint64_t ctl_drop_self;   /* our own datagrams (multicast echo) */
	uint64_t arp_learned;     /* ARP table writes (ARP and cluster rx) */
	uint64_t ctl_tx;          /* control frames moved to the tx buffer (worker 0) */
	/* sessions (dp_sess.c), on the primary */
	uint64_t sessions_created;
	uint64_t sessions_invalidated;
	uint64_t sessions_expired;      /* by EXPIRE, or found past the deadline */
	uint64_t session_slack_writes;  /* reads that refreshed a stale access_ms */
	uint64_t session_cas_retries;   /* read-modify-writes redone: the entry moved */
	uint64_t session_events_dropped;/* events lost: the event ring was full */
	uint64_t session_read_through;  /* misses sent to the segment's old owner */
	uint64_t session_read_through_busy; /* misses refused BUSY: that owner is DEAD */
	uint64_t session_retry_writes;  /* retried reads replicated before their answer */
	/* address validation (dp_amp.c) */
	uint64_t amp_unverified;   /* datagrams from unverified sources */
	uint64_t cookies_sent;     /* COOKIE answers */
	uint64_t cookies_valid;    /* requests whose cookie verified */
	uint64_t cookies_invalid;  /* non-zero cookies that did not verify */
	uint64_t amp_rate_drops;   /* replies to unverified sources over the rate */
	uint64_t amp_budget_drops; /* replies larger than their unverified request */
	/* authentication (dp_auth.c): refused datagrams per reason (the data
	 * port, and answers to in-node clients), UNAUTHORIZED answers */
	uint64_t auth_refused[WEFT_SEC__COUNT];
	uint64_t auth_unauthorized;
	/* latency of client requests answered here, from the receive burst to
	 * the answer (dp_tx.c lat_record): per-bucket counts (their sum is
	 * the count), the sum of the latencies in us */
	uint64_t lat_bucket[DP_LAT__COUNT][DP_LAT_INF + 1];
	uint64_t lat_sum_us[DP_LAT__COUNT];
};

const char *dp_drop_name(enum dp_drop d);

/* L2-L4 addressing of a received datagram (network byte order). */
struct dp_flow {
	uint8_t src_mac[6], dst_mac[6];
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	/* Address validation (dp_amp.c): 0 when the source is verified (or
	 * the flow is the node's own, towards a peer); else the bytes of the
	 * request this flow answers, the most any answer to it may have. */
	uint32_t amp_budget;
	/* Authentication (dp_auth.c): the kind of key (enum weft_auth_kind)
	 * that sealed the request this flow answers, and so seals every
	 * datagram dp_emit sends on it; 0: none (no key, or a trusted in-node
	 * client). peer_flow sets the node kind for node requests. */
	uint8_t auth;
	/* Address validation: the unverified request carried F_COOKIE without
	 * a valid cookie, so an answer with room to spare also carries a fresh
	 * one (dp_emit): a client that only writes gets verified too. */
	uint8_t cookie_asked;
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

/* --- the cluster channel's classification (dp_parse.c) --- */

/* What the cluster channel listens to, network byte order. */
struct dp_ctl_addr {
	uint32_t bind_ip;
	uint32_t group_ip; /* 0: none */
	uint16_t port;     /* the cluster port */
};

enum dp_ctl_kind {
	DP_CTL_NONE,  /* not for the cluster channel */
	DP_CTL_DGRAM, /* UDP to bind_ip or group_ip : port (payload, flow) */
	DP_CTL_FRAG,  /* an IPv4 fragment to bind_ip or group_ip (l3, flow IPs/MACs) */
	DP_CTL_ARP,   /* an ARP sender worth learning (flow.src_ip/src_mac) */
	DP_CTL_SELF,  /* a datagram or fragment from bind_ip: our own echo */
};

struct dp_ctl_pkt {
	enum dp_ctl_kind kind;
	bool arp_create;        /* ARP: the frame was for us (create an entry);
	                           else a gratuitous ARP (refresh a known one) */
	struct dp_flow flow;
	const uint8_t *l3;      /* FRAG: the IPv4 packet, l3_len bytes */
	uint32_t l3_len;
	const uint8_t *payload; /* DGRAM: the UDP payload */
	uint32_t payload_len;
};

/* Classifies one Ethernet frame for the cluster channel. Independent of
 * dp_parse_frame (re-validates everything it reads). Pure. IPv4: only UDP
 * (and fragments of UDP), no options, valid header checksum, to bind_ip or
 * group_ip, from a unicast source (0, multicast and broadcast sources are
 * DP_CTL_NONE; bind_ip is DP_CTL_SELF). ARP: requests and replies whose
 * target is bind_ip set arp_create; gratuitous ARP (sender IP == target IP)
 * does not; others, and senders with IP 0, bind_ip, a multicast IP or a
 * multicast MAC, are DP_CTL_NONE. */
enum dp_ctl_kind dp_ctl_parse(const uint8_t *frame, uint32_t len, const struct dp_ctl_addr *a,
			      struct dp_ctl_pkt *out);

/* True for the drop reasons behind which a cluster frame may hide. */
static inline bool dp_ctl_maybe(enum dp_drop why)
{
	return why == DP_DROP_UDP_PORT || why == DP_DROP_WRONG_IP || why == DP_DROP_IP_FRAG ||
	       why == DP_DROP_ARP_OTHER;
}

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
	uint64_t rx_tsc; /* rte_rdtsc() of the burst that received it; 0: not
	                    a timed request (memcached, node-made) */
};

/* The at-most-once identity of req: (client address, client_id,
 * request_id), as reassembly, response memory and dedup key it. */
static inline struct dp_msg_id dp_req_msg_id(const struct dp_req *req)
{
	struct dp_msg_id id = {.ip = req->flow.src_ip, .port = req->flow.src_port,
			       .client_id = req->hdr.client_id,
			       .request_id = req->hdr.request_id};
	return id;
}

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

/* Whether req claims the at-most-once table: a non-idempotent op, or a
 * SESSION whose action is not idempotent (req validated: its extras are
 * there). */
static inline bool dp_req_is_amo(const struct dp_req *req)
{
	if (req->hdr.opcode == WEFT_OP_SESSION)
		return !weft_wire_session_action_is_idempotent(req->extras[0]);
	return !weft_wire_op_is_idempotent(req->hdr.opcode);
}

/* Iterates a validated MULTI_GET key list: *pos starts at 0. Returns false
 * at the end. Pure. */
bool dp_mget_next(const uint8_t *list, uint32_t list_len, uint32_t *pos, const uint8_t **key,
		  uint16_t *key_len);

struct rte_mbuf;
struct rte_mempool;

struct dp_rpc_state;
struct dp_amp;
struct dp_amp_lcore;

struct dp_lcore {
	struct weft_dp *dp;
	struct dp_rpc_state *rpc; /* node RPC (dp_rpc.c); NULL without a cluster channel */
	uint16_t queue;
	uint64_t now_ms;          /* read once per burst */
	uint64_t unix_ms;         /* wall clock, read once per burst that has a
	                             SESSION request (dp_serve.c) */
	unsigned n_tx;
	unsigned empty_polls;
	uint32_t backoff_us;
	unsigned msg_spins;       /* worker 0: empty polls since the last dp_msg_tick */
	uint64_t burst_rx_tsc;    /* the burst being served's receive stamp; 0 between */
	uint32_t burst_lat[DP_LAT__COUNT]; /* its answers, stamped at its end (dp_lat_burst_end) */
	struct dp_amp_lcore *amp; /* cookie keys and reply buckets (dp_amp.c) */
	struct weft_sec_tx sec_tx;/* this lcore's salts (dp_auth.c) */
	struct dp_mc_lcore *mc;   /* memcached endpoint (dp_mc.c); NULL when off */
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
	struct dp_ctl *ctl;  /* the cluster channel; NULL when cfg.ctl_port == 0 */
	struct dp_members *members; /* RCU: the topology snapshot; NULL = alone */
	uint32_t epoch;             /* low 32 bits of members->view (atomic) */
	uint64_t created_unix_ms;   /* for the "alone" answer's uptime */
	uint32_t node_client_id;    /* client_id of this node's own requests */
	struct dp_rebalance_box *rebalance; /* weft_dp_rebalance_publish's copy */
	struct weft_msg_reg *msgs;          /* destinations (msg/) */
	struct dp_locals *locals;           /* in-node clients (dp_local.c) */
	unsigned n_locals;                  /* of them open (atomic): 0 skips every check */
	struct dp_msg_state *msg_state;     /* worker 0's messaging timers (dp_msg_tick.c) */
	struct rte_ring *sess_events;       /* lcores -> sessions service (dp_sess.c) */
	struct dp_amp *amp;                 /* address validation (dp_amp.c) */
	struct dp_auth *auth;               /* keys (dp_auth.c); NULL: none */
	_Atomic uint64_t lease_until_ms;    /* weft_dp_set_lease; UINT64_MAX: none */
	uint16_t mc_port;                   /* memcached port, network order; 0: off */
	uint64_t tsc_us_mult;               /* us = tsc * this >> 32 (lat_record) */
	volatile bool stop;
};

/* Whether this node's membership lease (weft_dp_set_lease) holds at the
 * lcore's burst time. A node whose lease expired may have been declared
 * dead and replaced (paused, or its control thread stalled): it neither
 * serves nor applies shared data until the control plane renews it. */
static inline bool dp_lease_ok(const struct dp_lcore *lc)
{
	return lc->now_ms < atomic_load_explicit(&lc->dp->lease_until_ms, memory_order_relaxed);
}

/* --- the MEMBERS snapshot (dp_members.c) --- */
struct dp_members;
/* Frees the published snapshot (no reader may remain). weft_dp_destroy. */
void dp_members_free(struct weft_dp *dp);
/* The MEMBERS text of one snapshot (read once) in a malloc'd buffer of
 * *len bytes (no NUL); NULL when out of memory. An online QSBR reader. */
char *dp_members_text(struct weft_dp *dp, uint64_t now_unix_ms, size_t *len);
/* Whether this node (m->s.self) owns, as primary or backup, the segment of
 * a key whose XXH3-64 is key_hash; true when m is NULL, has no table or does
 * not know self. m from rcu_dereference(dp->members), an online reader. */
bool dp_members_owns(const struct dp_members *m, uint64_t key_hash);
/* Wall-clock milliseconds. */
uint64_t dp_unix_ms(void);
/* Cache versions are raised to dp_unix_ms() << this every maintenance. */
#define DP_VERSION_CLOCK_SHIFT 20u
/* The published view inside a snapshot. */
const struct weft_dp_members *dp_members_snapshot(const struct dp_members *m);
/* The view published now (NULL: none yet). An online QSBR reader; read
 * it once per burst or pass. */
const struct weft_dp_members *dp_members_current(const struct weft_dp *dp);
/* Whether t places data: a segment table, this node in it, and others
 * (false for NULL, no table, or a node alone). */
bool dp_members_has_table(const struct weft_dp_members *t);

/* --- the cluster channel (dp_ctl.c: rings, rx; dp_ctl_tx.c: send) --- */
#define DP_CTL_RING 1024u          /* each ring, in mbufs */
#define DP_CTL_RBUF (256u << 10)   /* receive buffer of weft_dp_ctl_recv */
#define DP_CTL_ARP_ENTRIES 256u
#define DP_CTL_ARP_TTL_MS (5u * 60u * 1000u)
#define DP_CTL_ARP_RETRY_MS 1000u  /* one ARP request per IP per second */
#define DP_CTL_ARP_PENDING 64u     /* IPs whose request time is remembered */
#define DP_CTL_FRAG_ENTRIES 16u    /* datagrams reassembled at once */
#define DP_CTL_FRAG_TIMEOUT_MS 5000u

/* Counters of the control side: written by the control thread only, read
 * by STATS (any thread) like the lcores' counters. */
struct dp_ctl_counters {
	uint64_t rx_datagrams;   /* returned by weft_dp_ctl_recv */
	uint64_t rx_reassembled; /* of which reassembled from fragments */
	uint64_t rx_not_ours;    /* reassembled, but not UDP to the cluster port */
	uint64_t tx_datagrams;
	uint64_t tx_fragments;   /* frames of fragmented datagrams */
	uint64_t tx_no_buffer;   /* -ENOBUFS: no mbufs or the tx ring full */
	uint64_t arp_requests;   /* sent */
	uint64_t unresolved;     /* -EHOSTUNREACH returned */
};

struct dp_ctl {
	struct weft_dp *dp;
	struct dp_ctl_addr addr;
	struct rte_ring *rx;     /* lcores (MP) -> control thread (SC) */
	struct rte_ring *tx;     /* control thread (SP) -> worker 0 (SC) */
	struct dp_arp *arp;
	struct dp_frag *frag;    /* control thread only */
	uint8_t *rbuf;           /* DP_CTL_RBUF bytes, control thread only */
	struct rte_mbuf *stash[DP_BURST]; /* dequeued, not yet processed */
	unsigned stash_pos, stash_n;
	uint16_t ip_id;
	struct {
		uint32_t ip;     /* 0: free */
		uint64_t sent_ms;
	} pending[DP_CTL_ARP_PENDING];
	struct dp_ctl_counters c;
};

/* Creates the channel's rings, ARP table and reassembly table (the
 * addresses come from dp). NULL + errno. Control thread, in weft_dp_create. */
struct dp_ctl *dp_ctl_create(const struct weft_dp *dp);
/* Frees it, with every mbuf still on its rings. */
void dp_ctl_destroy(struct dp_ctl *c);
/* Lcore side, for a frame dp_parse_frame dropped for a dp_ctl_maybe
 * reason: learns ARP senders, hands cluster datagrams and fragments to the
 * control thread. Returns true when it took m (queued, or freed and
 * counted), false when m is not the channel's (the caller counts its drop
 * and frees it). */
bool dp_ctl_rx(struct dp_lcore *lc, struct rte_mbuf *m);
/* Lcore side, for an ARP request for us (before the reply rewrites it):
 * learns its sender. */
void dp_ctl_arp_seen(struct dp_lcore *lc, const uint8_t *frame, uint32_t len);
/* Worker 0, each iteration: moves queued control frames to its tx buffer. */
void dp_ctl_tx_drain(struct dp_lcore *lc);
/* STATS lines of the control side (ctl.*, arp.*, frag.*). */
void dp_ctl_stats_format(struct dp_ctl *c, void (*put)(void *o, const char *name, uint64_t v),
			 void *o);

/* --- in-node clients (dp_local.c) --- */
struct dp_locals;
struct dp_locals *dp_locals_create(uint16_t data_port_host);
void dp_locals_destroy(struct dp_locals *t);
/* Tx path, with local clients open: takes m when it is a frame to this
 * node (an answer to a local client: handed to it, or dropped). */
bool dp_local_intercept(struct dp_lcore *lc, struct rte_mbuf *m);
/* Rx path, for a datagram dp_parse_frame dropped as another port's: takes
 * m when it is for a local client (a remote node's answer). */
bool dp_local_rx(struct dp_lcore *lc, struct rte_mbuf *m);
/* Worker 0: moves local clients' frames to other nodes to the tx buffer
 * and returns (in self, at most max) those to this node, to be served. */
unsigned dp_local_drain(struct dp_lcore *lc, struct rte_mbuf **self, unsigned max);
/* sent, delivered, unclaimed, full, unresolved. */
void dp_local_stats(struct dp_locals *t, uint64_t out[5]);

/* dp_tx.c: response emission into lc's tx buffer. */
/* Writes the Ethernet, IPv4 and UDP headers of a datagram answering flow
 * at frame f (DP_HDRS_LEN bytes): to flow's source MAC from mac, IPv4
 * with flow's addresses swapped, DF set, TTL 64 and the header checksum,
 * UDP with the ports swapped, length udp_len (header included) and
 * checksum 0 (see dp_tx.c). Returns the UDP payload (f + DP_HDRS_LEN).
 * Pure; inline because dp_emit builds every response with it. */
static inline uint8_t *dp_udp_hdrs(uint8_t *f, const uint8_t mac[6], const struct dp_flow *flow,
				   uint32_t udp_len)
{
	uint32_t ip_len = DP_IP_HLEN + udp_len;
	memcpy(f, flow->src_mac, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x08; /* IPv4 */
	f[13] = 0x00;
	uint8_t *ip = f + DP_ETH_HLEN;
	ip[0] = 0x45;
	ip[1] = 0;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[4] = ip[5] = 0;
	ip[6] = 0x40; /* DF */
	ip[7] = 0;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &flow->dst_ip, 4);
	memcpy(ip + 16, &flow->src_ip, 4);
	dp_ipv4_finish(ip);
	uint8_t *udp = ip + DP_IP_HLEN;
	memcpy(udp, &flow->dst_port, 2);
	memcpy(udp + 2, &flow->src_port, 2);
	udp[4] = (uint8_t)(udp_len >> 8);
	udp[5] = (uint8_t)udp_len;
	udp[6] = udp[7] = 0;
	return udp + DP_UDP_HLEN;
}
void dp_tx_push(struct dp_lcore *lc, struct rte_mbuf *m);
void dp_tx_flush(struct dp_lcore *lc);
/* process_burst: every answer to a request of the burst received at rx_tsc
 * is counted when the burst ends, with one clock read for all of them. */
void dp_lat_burst_begin(struct dp_lcore *lc, uint64_t rx_tsc);
void dp_lat_burst_end(struct dp_lcore *lc);
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
/* A response header for req with status and payload lengths set, epoch =
 * the node's current topology epoch (dp->epoch). */
void dp_resp_hdr(struct weft_wire_hdr *out, const struct weft_dp *dp,
		 const struct weft_wire_hdr *req, uint16_t status, uint16_t extras_len,
		 uint32_t msg_len);
/* Sends a response of extras + value: one datagram if it fits, else kept
 * in response memory (copied) and its first window sent. */
void dp_answer(struct dp_lcore *lc, const struct dp_req *req, uint16_t status, const void *extras,
	       uint16_t extras_len, const void *value, uint32_t value_len);
/* As dp_answer for a payload the caller malloc'd (ownership passes).
 * Both first count req in the latency histograms (lat_record): a
 * client's read (GET, MULTI_GET) or keyed write, stamped (rx_tsc), not
 * from a node (WEFT_F_NODE). */
void dp_answer_owned(struct dp_lcore *lc, const struct dp_req *req, uint16_t status,
		     uint16_t extras_len, uint8_t *payload, uint32_t msg_len);

/* dp_serve.c: serves n validated requests (GETs batched per cache). */
void dp_serve_burst(struct dp_lcore *lc, struct dp_req *reqs, unsigned n);
/* At-most-once for a non-idempotent req about to be applied or forwarded
 * (dp_serve.c): true when it is new (the caller goes on and ends with
 * dp_answer_final). A retransmission of an applied op is answered with the
 * remembered response (dedup_replays); one still being applied is dropped
 * (counted). */
bool dp_dedup_claim(struct dp_lcore *lc, const struct dp_req *req);
/* The final answer to req: remembered for at-most-once when amo (status
 * and extras of at most DP_DEDUP_EXTRAS_MAX bytes), counted in errors when
 * its status is one, then sent (dp_answer). */
void dp_answer_final(struct dp_lcore *lc, const struct dp_req *req, bool amo, uint16_t status,
		     const void *extras, uint16_t extras_len, const void *value,
		     uint32_t value_len);
/* Maps a cache errno to the wire status of an op (dp_serve.c). */
uint16_t dp_status_of(int rc, uint8_t opcode, uint16_t key_len);
/* True for statuses counted as errors (not OK, NOT_FOUND, EXISTS,
 * VERSION_MISMATCH). */
bool dp_is_error_status(uint16_t st);

/* --- node-to-node RPC (dp_rpc.c) ---------------------------------------
 *
 * A worker lcore sends weft requests to other nodes' data ports (forwarded
 * client requests, REPLICATE) with WEFT_F_NODE, client_id =
 * dp->node_client_id and a request id naming the lcore and slot that wait
 * for the answer. Responses arriving on another lcore are passed to the
 * sender's inbox ring. Each request is retransmitted (same id: the
 * receiver's at-most-once table applies) with a doubling timeout until
 * answered, until its peer leaves the view, or until DP_RPC_GIVE_UP_MS.
 *
 * A "hold" is a client request waiting on node requests: a write waiting
 * for its replication acks (answered with the stored response once every
 * target acked or left the view), or a forwarded request (answered with
 * the owner's response, relayed). Both live only in the lcore that took
 * the client request. */
#define DP_RPC_SLOTS 1024u
#define DP_HOLD_SLOTS 512u
#define DP_RPC_RTO_MS 20u
#define DP_RPC_RTO_MAX_MS 320u
#define DP_RPC_GIVE_UP_MS 5000u
#define DP_RPC_INBOX 1024u

/* A message to send to peers, shared by the requests that carry it. */
struct dp_rpc_msg {
	unsigned refs;
	struct weft_wire_hdr hdr; /* opcode, name/key/extras lengths, msg_len */
	uint8_t payload[];        /* hdr.msg_len bytes */
};

/* Allocates a message of msg_len payload bytes (refs 1), header filled
 * for opcode and lengths. NULL when out of memory. */
struct dp_rpc_msg *dp_rpc_msg_new(uint8_t opcode, uint8_t name_len, uint16_t key_len,
				  uint16_t extras_len, uint32_t msg_len);
void dp_rpc_msg_put(struct dp_rpc_msg *m);

/* What a hold answers with. */
struct dp_hold_init {
	const struct dp_req *req;     /* the client request (flow, header) */
	bool amo;                     /* finish its dedup entry when answered */
	struct dp_dedup_resp resp;    /* REPL holds: the answer once acked */
	uint32_t seg;                 /* REPL holds: the key's segment */
	uint8_t mode;                 /* REPL holds: the cache's mode */
	/* REPL holds: an answer payload that replaces resp.extras once every
	 * target acked: payload_extras_len bytes of extras, then the value
	 * (payload_len bytes in all; malloc'd). NULL: none. Ownership passes
	 * to dp_rpc_replicate whatever happens; it is freed exactly once, after
	 * the answer (with it on success; unused on an error: a target's
	 * error, BUSY on give-up or no slot). */
	uint8_t *payload;
	uint32_t payload_len;
	uint16_t payload_extras_len;
};

/* What a NOTIFY request (a node request with no client behind it: topic
 * delivery, joins, state transfer, replication of timer effects) hands its
 * callback: the requester's own identification of it. */
struct dp_rpc_cookie {
	uint32_t ip;             /* the peer, network order */
	uint16_t port;           /* its data port, network order */
	uint8_t name_len;
	char name[WEFT_MAX_NAME_LEN]; /* the destination */
	uint64_t arg;
};
/* Called once when a NOTIFY request ends: status is the peer's (extras its
 * response's, valid for the call), or BUSY (gave up after
 * DP_RPC_GIVE_UP_MS) or NOT_OWNER (the peer left the view). */
typedef void (*dp_rpc_done_fn)(struct dp_lcore *lc, const struct dp_rpc_cookie *cookie,
			       uint16_t status, const void *extras, uint16_t extras_len);

struct dp_rpc_state *dp_rpc_create(unsigned worker);
void dp_rpc_destroy(struct dp_rpc_state *r);
/* Whether requests are pending (the loop must keep ticking). */
bool dp_rpc_busy(const struct dp_rpc_state *r);
/* Forwards req to the member at index `to` of topo, holding the client
 * until the answer. Answers the client itself (BUSY) when it cannot. */
void dp_rpc_forward(struct dp_lcore *lc, const struct weft_dp_members *topo,
		    const struct dp_req *req, uint32_t to);
/* As dp_rpc_forward for a req whose at-most-once entry the caller already
 * claimed when amo (dp_dedup_claim said new): the relayed answer, or BUSY,
 * finishes it. */
void dp_rpc_forward_claimed(struct dp_lcore *lc, const struct weft_dp_members *topo,
			    const struct dp_req *req, uint32_t to, bool amo);
/* Sends msg to each of the n members `to` of topo, holding the client
 * request described by h until all acked (or left the view). n == 0
 * answers at once. Takes its own references to msg, and h->payload (see
 * struct dp_hold_init). */
void dp_rpc_replicate(struct dp_lcore *lc, const struct weft_dp_members *topo,
		      const struct dp_hold_init *h, struct dp_rpc_msg *msg, const uint32_t *to,
		      unsigned n);
/* Sends msg to ip:port (network order), reliably as the others, with no
 * client held: done(cookie, ...) is called when it ends. 0, or -EBUSY (no
 * hold or slot free: nothing was sent, done is not called). Takes its own
 * reference to msg. */
int dp_rpc_notify(struct dp_lcore *lc, uint32_t ip, uint16_t port, struct dp_rpc_msg *msg,
		  dp_rpc_done_fn done, const struct dp_rpc_cookie *cookie);
/* A datagram with WEFT_F_RESPONSE from a node (client_id ours): matched to
 * its request here or passed to the sending lcore. Returns true when it
 * took the mbuf (steered to another lcore), false when the caller frees it. */
bool dp_rpc_response(struct dp_lcore *lc, struct rte_mbuf *m, const struct dp_pkt *pkt,
		     const struct weft_wire_hdr *hdr);
/* Every iteration while busy or with a non-empty inbox: inbox responses,
 * retransmissions, give-ups, view changes. An online QSBR reader. */
void dp_rpc_tick(struct dp_lcore *lc);

/* --- routing (dp_route.c) ----------------------------------------------
 *
 * Per keyed request, from the cache's mode and the topology snapshot read
 * once per burst: serve here, forward to an owner, or refuse. After a
 * local write, what to replicate to whom. */
enum dp_route { DP_ROUTE_LOCAL, DP_ROUTE_FORWARDED, DP_ROUTE_ANSWERED };
/* Decides for one request with a resolved cache; forwards or answers it
 * when not LOCAL. A SESSION op on a clustered node in no view yet, or a
 * CREATE forwarded by a node to a non-owner of its segment: BUSY. */
enum dp_route dp_route_request(struct dp_lcore *lc, const struct weft_dp_members *topo,
			       const struct dp_req *req, struct weft_cache *c);
/* A GET that missed here: when this node just became an owner of the
 * key's segment (snapshot seg_prev, not expired), forwards it to the old
 * owner and returns true; false: answer the miss. */
bool dp_route_read_through(struct dp_lcore *lc, const struct weft_dp_members *topo,
			   const struct dp_req *req, struct weft_cache *c);
/* A SESSION op other than CREATE that found neither a record nor a
 * tombstone for its id here (amo: its at-most-once entry is claimed): when
 * this node is the segment's acting primary and just became an owner of it
 * (snapshot seg_prev, within its window), forwards it, node requests
 * included, to the old owner when that one is live (it serves the op on
 * its copy and replicates to the new owners; session_read_through), or
 * answers BUSY when the snapshot shows it DEAD (dp_answer_final: the
 * at-most-once entry finished with BUSY, nothing applied;
 * session_read_through_busy), and returns true; false: serve the miss
 * here. */
bool dp_route_sess_read_through(struct dp_lcore *lc, const struct weft_dp_members *topo,
				const struct dp_req *req, struct weft_cache *c, bool amo);
/* A one-entry (or, with e NULL, an empty) REPLICATE message for cache c
 * in mode (refs 1): e, then its key and value_len bytes of value. NULL
 * when out of memory. */
struct dp_rpc_msg *dp_route_repl_msg(const struct weft_cache *c, uint8_t mode,
				     const struct weft_repl_entry *e, const void *key,
				     const void *value);
/* The mode a cache is treated with (its stored mode; LOCAL without a
 * cluster channel). */
uint8_t dp_cache_mode(const struct weft_dp *dp, const struct weft_cache *c);
/* Whether this node may serve the key of hash h of a cache in mode for a
 * MULTI_GET (owner, or not a distributed cache). */
bool dp_route_owns(const struct weft_dp_members *topo, uint8_t mode, uint64_t h);
/* The members (indices into t->m) a write of segment seg of a cache in
 * mode must reach, this node excluded: the segment's other owners
 * (DISTRIBUTED), or every other live member (REPLICATED, INVALIDATED).
 * Returns how many it wrote to to (at most max). */
unsigned dp_route_targets(const struct weft_dp_members *t, uint8_t mode, uint32_t seg,
			  uint32_t *to, unsigned max);
/* After a local write that changed the entry (r->status OK): replicates it
 * as the mode says and answers the client (now or once acked). */
void dp_route_after_write(struct dp_lcore *lc, const struct weft_dp_members *topo,
			  const struct dp_req *req, struct weft_cache *c, bool amo,
			  const struct dp_dedup_resp *r, uint64_t delete_version);
/* After CACHE_OPEN created a cache in a cluster: tells every other member
 * (REPLICATE with no entry) and answers once they acked. */
void dp_route_after_open(struct dp_lcore *lc, const struct weft_dp_members *topo,
			 const struct dp_req *req, struct weft_cache *c);

/* --- sessions (dp_sess.c) ----------------------------------------------
 *
 * SESSION requests (wire.h "Sessions"), over sess/. */
/* Stage 1, before routing: BAD_REQUEST checks of the extras and value
 * (weft_sess_check_request), and EXPIRE only from a node (WEFT_F_NODE) or
 * an in-node client (source port = a member's data port + 2). Returns
 * true when req goes on; false when it was answered. */
bool dp_sess_precheck(struct dp_lcore *lc, const struct dp_req *req,
		      const struct weft_dp_members *topo);
/* Serves one SESSION on the primary (dp_route_request said LOCAL): the
 * read-modify-write of the record (CAS on its version, bounded retries
 * then BUSY), then synchronous replication to the other owners; the
 * client is answered once they all acked. lc->unix_ms is the wall clock. */
void dp_sess_serve(struct dp_lcore *lc, const struct dp_req *req, struct weft_cache *c,
		   const struct weft_dp_members *topo);
/* The event ring (dp_sess_events.c): created in weft_dp_create, freed in
 * weft_dp_destroy (dp_setup.c). 0 or -ENOMEM. */
int dp_sess_events_create(struct weft_dp *dp);
void dp_sess_events_destroy(struct weft_dp *dp);
/* Queues one event (any lcore). 0, or -ENOBUFS: the ring is full. */
int dp_sess_event_push(struct weft_dp *dp, const struct weft_dp_sess_event *e);

/* dp_repl.c: serves REPLICATE (validated: dp_req_validate checked the
 * entry list). */
void dp_repl_serve(struct dp_lcore *lc, const struct dp_req *req);
/* Iterates a validated REPLICATE entry list: *pos starts at 0. */
bool dp_repl_next(const uint8_t *list, uint32_t len, uint32_t *pos, struct weft_repl_entry *e,
		  const uint8_t **key, const uint8_t **value);

/* dp_arp.c: the ARP table (IPv4 -> MAC), shared by the lcores (writers)
 * and the control thread (reader); a spinlock inside, slow path only. */
struct dp_arp;
struct dp_arp *dp_arp_create(unsigned capacity, uint64_t ttl_ms);
void dp_arp_destroy(struct dp_arp *t);
/* Records ip -> mac at now_ms. create false: only refreshes an entry that
 * exists. A full table replaces its least recently written entry. Returns
 * true when it wrote. Any thread. */
bool dp_arp_learn(struct dp_arp *t, uint32_t ip, const uint8_t mac[6], uint64_t now_ms,
		  bool create);
/* Copies ip's MAC to mac_out if an entry younger than ttl_ms exists. */
bool dp_arp_lookup(struct dp_arp *t, uint32_t ip, uint64_t now_ms, uint8_t mac_out[6]);
unsigned dp_arp_entries(struct dp_arp *t);
/* Writes a broadcast ARP request "who has target_ip, tell src_ip" (60
 * bytes, padded) into frame. Pure. Returns 60. */
uint32_t dp_arp_request(uint8_t *frame, const uint8_t mac[6], uint32_t src_ip,
			uint32_t target_ip);

/* dp_frag.c: IPv4 reassembly for the control thread (one thread, no lock). */
struct dp_frag;
enum dp_frag_result {
	DP_FRAG_STORED,    /* kept; datagram not complete yet */
	DP_FRAG_DUPLICATE, /* every byte was there already: ignored */
	DP_FRAG_COMPLETE,  /* *out holds the whole IP payload */
	DP_FRAG_BAD,       /* malformed (length, alignment, beyond 65535): dropped */
	DP_FRAG_OVERLAP,   /* partly overlaps or contradicts: datagram dropped */
};
struct dp_frag_stats {
	uint64_t completed, timeouts, evicted, bad, overlaps, duplicates, entries;
};
/* At most max_entries datagrams in progress (64 KiB each, allocated on
 * first use); one idle longer than timeout_ms is dropped. NULL + errno. */
struct dp_frag *dp_frag_create(unsigned max_entries, uint64_t timeout_ms);
void dp_frag_destroy(struct dp_frag *f);
/* Adds one fragment: ip is an IPv4 packet (IHL 5, header checksum checked,
 * MF or an offset set) of l3_len bytes. On DP_FRAG_COMPLETE *hdr points to
 * the first fragment's header (20 bytes) and *out to the l4 bytes
 * (*out_len), both valid until the next call. A new datagram when all
 * entries are busy evicts the oldest (counted). */
enum dp_frag_result dp_frag_add(struct dp_frag *f, const uint8_t *ip, uint32_t l3_len,
				uint64_t now_ms, const uint8_t **hdr, const uint8_t **out,
				uint32_t *out_len);
unsigned dp_frag_expire(struct dp_frag *f, uint64_t now_ms);
void dp_frag_get_stats(const struct dp_frag *f, struct dp_frag_stats *out);

/* dp_stats.c */
void dp_counters_add(struct dp_counters *sum, const struct dp_counters *c);
struct dp_rebalance_box;
struct dp_rebalance_box *dp_rebalance_box_create(void);
/* A malloc'd copy of the APPS text (*len bytes; empty: none published);
 * NULL when out of memory. */
uint8_t *dp_apps_text(struct weft_dp *dp, size_t *len);
void dp_rebalance_box_destroy(struct dp_rebalance_box *b);

/* dp_text.c: appends printf-style to buf (cap bytes; buf may be NULL),
 * never past it; len counts every byte the text needs, written or not. */
struct dp_text {
	char *buf;
	size_t cap, len;
};
__attribute__((format(printf, 2, 3))) void dp_text_put(struct dp_text *t, const char *fmt, ...);

/* --- address validation and reply rate limits (dp_amp.c) ---------------
 *
 * wire.h "Trailers": a node never sends to an unverified source more bytes
 * than the request it answers. A source is verified when it is this node's
 * bind IP (in-node clients), a member of the published view (node-to-node
 * traffic), when the datagram was authenticated with the cluster key
 * (dp_auth.c: a key holder is a node, even one not in this node's view
 * yet), or when the request carries a valid cookie (F_COOKIE): SipHash
 * (crypto_shorthash_siphashx24, 16 bytes) of the IPv4 address and the
 * window index (lc->now_ms / WEFT_COOKIE_VALID_MS), keyed by the window's
 * key, itself derived from a random node secret (randombytes at create):
 * every window has a fresh key and a cookie of window w is accepted in w
 * and w + 1, so it stays valid for at least WEFT_COOKIE_VALID_MS.
 *
 * Ingress (dp_lcore.c, after the auth trailer is stripped): dp_amp_rx
 * strips the cookie and sets flow.amp_budget. Serving (dp_serve.c stage 1,
 * before any side effect): dp_amp_needs_cookie requests are answered
 * COOKIE. Egress (dp_emit, dp_answer_owned): dp_amp_tx_allow drops (and
 * counts) an answer larger than its unverified request's budget, and one
 * over the per-source rate (a token bucket per lcore in a fixed table
 * keyed by a seeded hash of the source IPv4: colliding sources share a
 * bucket; no lock, no allocation after create). */
#define DP_AMP_BUCKETS 4096u          /* per lcore; a power of two */
#define DP_AMP_DEFAULT_RATE 100u      /* replies per second per source */
#define DP_AMP_SEEN 1024u             /* per lcore: cookies recently verified */

/* Allocates the node secret and every lcore's state (dp->lc allocated).
 * 0 or -ENOMEM. weft_dp_create. */
int dp_amp_create(struct weft_dp *dp);
void dp_amp_destroy(struct weft_dp *dp);
/* The cookie of ip (network order) for lc->now_ms's window. */
void dp_amp_mint(struct dp_lcore *lc, uint32_t ip, uint8_t out[WEFT_COOKIE_LEN]);
/* Whether cookie is ip's for lc->now_ms's window or the one before. */
bool dp_amp_cookie_ok(struct dp_lcore *lc, uint32_t ip, const uint8_t cookie[WEFT_COOKIE_LEN]);
/* Whether ip is exempt: the bind IP or a member of topo (may be NULL). */
bool dp_amp_exempt(const struct weft_dp *dp, const struct weft_dp_members *topo, uint32_t ip);
/* Ingress for one weft datagram of *len bytes (auth trailer already
 * stripped): with F_COOKIE, takes the cookie off (*len -= 16) and checks
 * it; sets flow->amp_budget (0: verified, else the datagram's bytes,
 * cookie included). Counts amp_unverified, cookies_valid/invalid. */
void dp_amp_rx(struct dp_lcore *lc, const struct weft_dp_members *topo, const uint8_t *dgram,
	       uint32_t *len, struct dp_flow *flow);
/* The budget of a reassembled request (its datagrams' bytes, at least)
 * when its last piece's flow is unverified. */
uint32_t dp_amp_msg_budget(uint32_t msg_len);
/* The most payload bytes (extras + value) an answer to op can have;
 * UINT32_MAX when unbounded (a value, a text, a list). Errors are bare
 * headers. Pure. */
uint32_t dp_amp_answer_max(uint8_t op);
/* The per-opcode rule: req (validated) comes from an unverified source
 * and its answer could be larger than the request. Pure. */
bool dp_amp_needs_cookie(const struct dp_req *req);
/* Answers req (unverified) COOKIE: 40 bytes + F_COOKIE + a fresh cookie
 * when the request carried F_COOKIE and had at least 56 bytes, else a
 * bare 40-byte header. */
void dp_amp_answer_cookie(struct dp_lcore *lc, const struct dp_req *req);
/* Egress: whether one response datagram of bytes bytes (header, payload,
 * cookie trailer) may go to flow. Verified flows: always. Else false when
 * bytes > flow->amp_budget (amp_budget_drops) or the source's bucket is
 * empty (amp_rate_drops); true takes a token. */
bool dp_amp_tx_allow(struct dp_lcore *lc, const struct dp_flow *flow, uint64_t bytes);
/* Egress of a long response: whether all its datagrams (total bytes) fit
 * flow's budget; false is counted in amp_budget_drops. */
bool dp_amp_fits(struct dp_lcore *lc, const struct dp_flow *flow, uint64_t total);

/* --- authentication (dp_auth.c; sec/, wire.h "Trailers") --------------
 *
 * With a cluster key every node-to-node datagram carries a CLUSTER
 * trailer; with a client key every client request (and its answer) a
 * CLIENT one. The "node key" seals node traffic on the data port (F_NODE
 * requests, their answers, in-node clients' requests to other nodes —
 * from the data port + 2, which the receiver therefore also treats as
 * node traffic —, state transfer): the cluster key, or the client key
 * when only that is set (so F_NODE cannot bypass client authentication). Membership
 * datagrams on the cluster port (raw framing) use the cluster key only.
 * Ingress: dp_auth_rx first (before cookies and classification);
 * egress: dp_auth_seal last (in dp_emit, after any cookie). Refusals are
 * counted per reason and reported at most once per second per reason
 * (weft_dp_auth_reports, the control thread logs them). */
enum dp_auth_where { DP_AUTH_DATA, DP_AUTH_CLUSTER_PORT, DP_AUTH_LOCAL, DP_AUTH__WHERE };
struct dp_auth_report {
	uint64_t last_ms;        /* when one was last noted (CAS: one per second) */
	uint32_t ip;             /* the source, network order */
	uint16_t port;           /* host order */
	uint8_t where;           /* enum dp_auth_where */
	uint8_t pending;         /* noted, not yet taken by weft_dp_auth_reports */
	uint64_t count;          /* refusals since the last report (atomic) */
};
struct dp_auth {
	struct weft_sec_key cluster, client;
	bool has_cluster, has_client;
	uint8_t node_kind;       /* WEFT_AUTH_CLUSTER, or CLIENT with only a client key */
	struct weft_sec_tx ctl_tx; /* the control thread's salts (cluster channel) */
	uint8_t *ctl_buf;        /* WEFT_DP_CTL_MAX_PAYLOAD bytes: sealed ctl sends */
	uint64_t ctl_refused[WEFT_SEC__COUNT]; /* cluster port (control thread) */
	struct dp_auth_report report[WEFT_SEC__COUNT];
};
/* dp->auth from cfg's keys (NULL when none; lcores' sec_tx drawn). 0 or
 * -ENOMEM. weft_dp_create, after dp->lc. */
int dp_auth_create(struct weft_dp *dp);
void dp_auth_destroy(struct weft_dp *dp);
/* The node key (dp->auth non-NULL). */
const struct weft_sec_key *dp_auth_node_key(const struct dp_auth *a);
/* Ingress of one weft datagram on the data port (dp->auth non-NULL, m not
 * a trusted in-node frame): verifies and strips the trailer (m and pkt
 * shrink, F_AUTH cleared, AEAD decrypted, pkt->flow.auth set), or refuses
 * (counted, reported; a client request refused for its client key is
 * answered UNAUTHORIZED, a bare 40-byte header). Returns true when the
 * datagram goes on, false when it was refused. A datagram too short for a
 * header or without magic goes on untouched (classification drops it). */
bool dp_auth_rx(struct dp_lcore *lc, struct rte_mbuf *m, struct dp_pkt *pkt);
/* Egress: seals the UDP payload of frame m (built by dp_emit) with the key
 * of kind (flow.auth), growing it by 48 bytes, and pushes it (dp_tx_push);
 * takes m either way (freed and counted if it cannot grow). */
void dp_auth_seal(struct dp_lcore *lc, struct rte_mbuf *m, uint8_t kind);
/* Answers to in-node clients from other nodes (dp_local_rx): true when m
 * (a frame whose UDP payload is a weft datagram) verified under the node
 * key and was stripped; false: refused (counted), the caller frees it. */
bool dp_auth_local_rx(struct dp_lcore *lc, struct rte_mbuf *m);
/* Cluster channel, control thread: what weft_dp_ctl_send puts on the wire
 * for buf (len bytes): sealed into the auth's own buffer (*out, *out_len)
 * when a key applies (a weft datagram: the node key; a membership one:
 * the cluster key), else buf itself. 0, or -EMSGSIZE (no room for the
 * trailer). */
int dp_auth_ctl_seal(struct weft_dp *dp, const void *buf, size_t len, const void **out,
		     size_t *out_len);
/* Cluster channel, control thread: checks one received datagram in place
 * (d->payload points into the channel's receive buffer): true to keep it
 * (trailer stripped, d->len reduced), false when refused (counted). */
bool dp_auth_ctl_open(struct weft_dp *dp, struct weft_dp_datagram *d, uint64_t now_ms);
/* Notes one refusal for the log (any thread). */
void dp_auth_note(struct dp_auth *a, enum weft_sec_refusal r, enum dp_auth_where where,
		  uint32_t ip, uint16_t port, uint64_t now_ms);
/* STATS lines auth.* (node-wide sums). */
void dp_auth_stats_format(struct weft_dp *dp, const struct dp_counters *total,
			  struct dp_text *o);

/* --- memcached UDP endpoint (docs/memcached.md) --------------------------
 *
 * dp_mc_parse.c (pure: no mbuf, no clock; unit tests and the fuzz target
 * call it): memcached's 8-byte UDP frame header and one text command per
 * datagram, the renderers of its answers, exptime and incr arithmetic.
 * dp_mc.c (worker lcores): datagrams to cfg.mc_port become weft requests
 * of the memcached cache (client_id from DP_MC_CLIENT_ID, request_id
 * naming the lcore's pending slot and its generation) served by dp_serve_burst like any other, so
 * routing, forwarding and replication are the weft path's; their answers
 * come back through dp_answer (recognised by the flow's destination port,
 * the memcached port) and are rendered as memcached text. */
#define DP_MC_HDR_LEN 8u
#define DP_MC_DGRAM_MAX 1400u     /* answer datagrams, frame header included (as memcached) */
#define DP_MC_MAX_KEYS 128u       /* keys of one get/gets */
#define DP_MC_SLOTS 256u          /* commands in progress per lcore */
#define DP_MC_QUEUE 512u          /* weft requests waiting for dp_serve_burst, per lcore */
#define DP_MC_OUT_MAX (2u << 20)  /* bytes of one answer (a get's hits beyond are left out) */
#define DP_MC_RMW_TRIES 8u        /* append/prepend/incr/decr CAS attempts */
#define DP_MC_TIMEOUT_MS (DP_RPC_GIVE_UP_MS + 1000u)
#define DP_MC_FLAGS_LEN 4u        /* stored values: flags (u32 LE), then the data */
#define DP_MC_CLIENT_ID 0x6d63u   /* "mc": client_id = this << 16 | worker of the
                                     weft requests made here */
#define DP_MC_TRUST_MAX 8u

enum dp_mc_op {
	DP_MC_GET, DP_MC_GETS, DP_MC_SET, DP_MC_ADD, DP_MC_REPLACE, DP_MC_APPEND,
	DP_MC_PREPEND, DP_MC_CAS, DP_MC_DELETE, DP_MC_INCR, DP_MC_DECR, DP_MC_TOUCH,
	DP_MC_OP__COUNT
};

enum dp_mc_parse_rc {
	DP_MC_PARSED,    /* cmd filled */
	DP_MC_DROP,      /* shorter than the frame header: no answer (counted) */
	DP_MC_ANSWER,    /* answer *err (a memcached error line, "\r\n" included) */
};

struct dp_mc_cmd {
	uint16_t req_id;          /* frame header: echoed in every answer datagram */
	enum dp_mc_op op;
	bool noreply;
	uint32_t flags;
	int64_t exptime;
	uint32_t bytes;           /* storage commands: data length */
	const uint8_t *data;      /* storage commands: the data block (bytes long) */
	uint64_t cas;             /* cas: the unique */
	uint64_t delta;           /* incr/decr */
	unsigned n_keys;          /* get/gets: 1..DP_MC_MAX_KEYS; others 1 */
	const uint8_t *key[DP_MC_MAX_KEYS];
	uint8_t key_len[DP_MC_MAX_KEYS];
};

/* Parses one memcached UDP datagram (len bytes: frame header, one command
 * line ending in "\r\n" or "\n", the data block of a storage command).
 * Pure; pointers in cmd point into dgram. On DP_MC_ANSWER *err is the
 * error line to answer (cmd->req_id, op and noreply are set as far as
 * they were read: a noreply command that fails after its line was read
 * still gets no answer, as memcached). */
enum dp_mc_parse_rc dp_mc_parse(const uint8_t *dgram, uint32_t len, struct dp_mc_cmd *cmd,
				const char **err);
const char *dp_mc_op_name(enum dp_mc_op op);
/* The weft time to live of a memcached exptime at Unix second now_s: 0
 * (the cache's default: never, unless the cache sets one) for 0; exptime
 * seconds for 1..30 days; an absolute Unix time beyond; 1 ms (expired at
 * once) for a negative or past time. Pure. */
uint64_t dp_mc_ttl_ms(int64_t exptime, uint64_t now_s);
/* incr/decr on a stored data block (digits, then optional spaces): 0 and
 * *out (incr wraps at 2^64, decr stops at 0, as memcached), or -EINVAL
 * (not a number of at most 20 digits below 2^64). Pure. */
int dp_mc_incr(const uint8_t *data, uint32_t len, uint64_t delta, bool decr, uint64_t *out);
/* "VALUE <key> <flags> <bytes>[ <cas>]\r\n" into buf (cap >= 300).
 * Returns its length. Pure. */
uint32_t dp_mc_value_line(char *buf, size_t cap, const uint8_t *key, uint8_t key_len,
			  uint32_t flags, uint32_t bytes, bool with_cas, uint64_t cas);
/* The answer line of a single-key command to a weft status (and, for
 * incr/decr, the new value): "STORED\r\n", "NOT_FOUND\r\n", ... Pure. */
const char *dp_mc_status_line(enum dp_mc_op op, uint16_t status);

/* Per-lcore counters, summed into STATS lines mc.* (dp_mc.c). */
struct dp_mc_counters {
	uint64_t rx;              /* datagrams to the memcached port */
	uint64_t cmds[DP_MC_OP__COUNT];
	uint64_t get_hits, get_misses;
	uint64_t get_errors;      /* keys of a get answered as misses: weft error (BUSY, ...) */
	uint64_t get_truncated;   /* hits left out: the answer reached DP_MC_OUT_MAX */
	uint64_t drop_short;      /* shorter than the frame header */
	uint64_t client_errors;   /* ERROR / CLIENT_ERROR answers (malformed commands) */
	uint64_t server_errors;   /* SERVER_ERROR answers */
	uint64_t no_slot;         /* refused: every pending slot busy */
	uint64_t timeouts;        /* commands ended without every answer */
	uint64_t rmw_retries;     /* append/prepend/incr/decr CAS conflicts retried */
	uint64_t tx_datagrams;
	uint64_t unverified;      /* datagrams from unverified sources */
	uint64_t amp_refused;     /* answers larger than an unverified request:
	                             replaced by a SERVER_ERROR line, or not sent */
	uint64_t stale_answers;   /* weft answers for a slot that timed out */
};

struct dp_mc_lcore;
/* Allocates the endpoint (dp->mc) and every lcore's state when
 * cfg.mc_port != 0. 0 or -ENOMEM / -EINVAL (bad cache name). */
int dp_mc_create(struct weft_dp *dp);
void dp_mc_destroy(struct weft_dp *dp);
/* Lcore: one datagram dp_parse_frame dropped as DP_DROP_UDP_PORT whose
 * destination port is dp->mc_port (pkt->payload valid). Its weft requests
 * are queued; they point into the datagram, which must stay valid until
 * dp_mc_flush. */
void dp_mc_rx(struct dp_lcore *lc, const struct dp_pkt *pkt);
/* Lcore: serves the queued weft requests (dp_serve_burst, DP_BURST at a
 * time, until the queue is empty). */
void dp_mc_flush(struct dp_lcore *lc);
/* Lcore, every poll: flushes what answers queued, ends timed-out slots. */
void dp_mc_tick(struct dp_lcore *lc);
/* dp_answer's hook for a request whose flow is the memcached port's. */
void dp_mc_answer(struct dp_lcore *lc, const struct dp_req *req, uint16_t status,
		  const void *extras, uint16_t extras_len, const void *value, uint32_t value_len);
/* STATS lines mc.lcore.N.* and mc.total.*. */
void dp_mc_stats_format(struct weft_dp *dp, struct dp_text *o);

#endif /* WEFT_DP_INTERNAL_H */
