/*
 * dataplane — the module's one public header: EAL and port setup, the
 * worker lcores (rx burst -> parse -> serve -> tx burst), and the
 * node-wide slow-path tables (reassembly, long-response memory, at-most-once
 * dedup) that the control thread ages.
 *
 * Threads: weft_dp_eal_init, weft_dp_port_open, weft_dp_create, weft_dp_start,
 * weft_dp_stop, weft_dp_destroy, weft_dp_maintain and the cluster channel
 * (weft_dp_ctl_*) are called by the control (main) thread only.
 * weft_dp_poll_once is what each worker lcore runs in its loop; tests call it
 * directly on a fake port (net_ring).
 *
 * Return-code rule (the project's): constructors return NULL and set errno;
 * int functions return 0 or a negative errno; burst functions return a count.
 */
#ifndef WEFT_DATAPLANE_H
#define WEFT_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <weft/wire.h>

#include "cache.h"

#ifdef __cplusplus
extern "C" {
#endif

struct weft_dp;

enum weft_dp_poll {
	WEFT_DP_POLL_ADAPTIVE, /* back off (QSBR offline + sleep) when idle */
	WEFT_DP_POLL_BUSY,     /* never sleep */
};

/* Monotonic milliseconds. Injectable so tests run on virtual time. */
typedef uint64_t (*weft_dp_clock_fn)(void *arg);

struct weft_sec_key; /* sec/sec.h */

struct weft_dp_config {
	uint32_t bind_ip;      /* node IPv4 address, network byte order */
	uint16_t udp_port;     /* data port, host byte order */
	unsigned n_workers;    /* worker lcores = rx/tx queue pairs (>= 1) */
	enum weft_dp_poll poll;
	weft_dp_clock_fn clock;/* NULL: CLOCK_MONOTONIC */
	void *clock_arg;
	uint64_t reasm_max_bytes; /* 0: 64 MiB */
	uint64_t resp_max_bytes;  /* 0: 64 MiB */
	/* The cluster channel (node-to-node and control traffic, see
	 * weft_dp_ctl_recv): UDP port, host byte order; 0 leaves the channel
	 * off (a single node: everything as before). weftd uses
	 * WEFT_DEFAULT_PORT + 1 + offset. Must differ from udp_port. */
	uint16_t ctl_port;
	/* Multicast group (network order, in 224.0.0.0/4) also accepted on
	 * ctl_port, e.g. WEFT_DP_DEFAULT_GROUP; 0: none. Needs ctl_port. */
	uint32_t group_ip;
	/* Replies per second to one unverified source address, per worker
	 * (address validation, dp_amp.c); 0: DP_AMP_DEFAULT_RATE (100). */
	uint32_t unverified_reply_rate;
	/* Authentication (dp_auth.c, wire.h "Trailers"): keys weft_dp_create
	 * copies (NULL: none). cluster_key (kind CLUSTER, alg MAC or AEAD):
	 * every node-to-node datagram is sealed and must verify. client_key
	 * (kind CLIENT, MAC): every client request must carry a valid client
	 * trailer (else UNAUTHORIZED); its answers are sealed. In-node clients
	 * are trusted on their own node. */
	const struct weft_sec_key *cluster_key;
	const struct weft_sec_key *client_key;
	/* The memcached UDP endpoint (docs/memcached.md): port, host byte
	 * order; 0 leaves it off. Must differ from udp_port and ctl_port.
	 * mc_cache names the cache it serves (NULL: "memcached"). Sources in
	 * mc_trust (network order address/mask pairs) get whole answers;
	 * others are unverified: no answer larger than their request. */
	uint16_t mc_port;
	const char *mc_cache;
	unsigned n_mc_trust;
	struct {
		uint32_t ip, mask;
	} mc_trust[8];
};

/* One refusal report (weft_dp_auth_reports): at most one per second per
 * reason, with the source of the last refused datagram. */
struct weft_dp_auth_report {
	const char *reason;    /* weft_sec_refusal_name: missing, kind, ... */
	const char *where;     /* "data port", "cluster port", "in-node client answer" */
	uint32_t ip;           /* network order */
	uint16_t port;         /* host order */
	uint64_t count;        /* refusals of this reason since the last report */
};
/* Control thread, each maintenance tick: calls fn once per reason with a
 * pending report. No-op without keys. */
void weft_dp_auth_reports(struct weft_dp *dp,
			  void (*fn)(void *arg, const struct weft_dp_auth_report *r), void *arg);

/* 239.77.0.1, host byte order (htonl it for group_ip). */
#define WEFT_DP_DEFAULT_GROUP 0xef4d0001u

/* The EAL part of a node's command line. */
struct weft_dp_eal_opts {
	const char *port_spec; /* af_packet:IF, af_xdp:IF, tap[:NAME], virtio_user,
	                          memif:SOCKET, or a PCI address; ",k=v" appends
	                          PMD arguments */
	unsigned n_workers;
	unsigned mem_mb;       /* 0: 256 */
	bool hugepages;        /* EAL memory from hugepages (else --no-huge) */
	bool verbose;          /* EAL logs at info level instead of warning */
	int n_extra;           /* extra EAL arguments, passed last */
	char **extra;
};

/* Builds the EAL argument vector for opts into argv (at most max entries,
 * strings allocated into buf of buf_len bytes). Returns argc, or -EINVAL for
 * a bad port spec, -ENODEV when virtio_user finds no /dev/vhost-net,
 * -ENOSPC when argv/buf are too small. Pure apart from access(2) and
 * sched_getaffinity(2); exposed for tests. */
int weft_dp_eal_args(const struct weft_dp_eal_opts *opts, char **argv, int max, char *buf,
		     size_t buf_len);

/* Initialises the EAL for opts (weft_dp_eal_args + rte_eal_init). Control
 * thread, once per process. 0, or the errors of weft_dp_eal_args (-EINVAL
 * bad port spec, -ENODEV no /dev/vhost-net, -ENOSPC), or -EIO when
 * rte_eal_init fails (its reason is printed to stderr). */
int weft_dp_eal_init(const struct weft_dp_eal_opts *opts);

/* After weft_dp_eal_init: narrows thread t's CPU mask to the CPUs it may use
 * that no worker lcore is pinned to, when there are any (a housekeeping
 * thread such as the RCU reclaimer then never preempts a polling lcore);
 * leaves it alone otherwise. 0 or -errno. */
int weft_dp_eal_keep_off_workers(pthread_t t);

/* The ethdev port id the EAL made for the port spec (the first probed
 * port). 0.. on success, -ENODEV if there is none. */
int weft_dp_port_find(void);

/* Creates the dataplane on ethdev port_id: mempool, n_workers rx/tx queue
 * pairs, per-lcore state and the shared slow-path tables; starts the port.
 * Serves the caches of reg (borrowed; must outlive the dataplane). If the
 * port offers fewer queues than n_workers, n_workers is reduced (logged).
 * NULL + errno on failure. Control thread, after EAL init. */
struct weft_dp *weft_dp_create(const struct weft_dp_config *cfg, uint16_t port_id,
			       struct weft_cache_registry *reg);

/* Workers actually used (after clamping to the port's queues). */
unsigned weft_dp_n_workers(const struct weft_dp *dp);

/* Launches worker w on the w-th worker lcore (rte_eal_remote_launch), each
 * registering as a QSBR reader. 0 or negative errno. */
int weft_dp_start(struct weft_dp *dp);

/* Asks the workers to stop and waits for them. Control thread. */
void weft_dp_stop(struct weft_dp *dp);

/* Stops the port and frees everything. Workers must be stopped. */
void weft_dp_destroy(struct weft_dp *dp);

/* One worker iteration on queue `worker`: rx burst, serve, tx flush. Does
 * NOT report a quiescent state (the loop does). Caller: the worker's thread,
 * a registered online QSBR reader. Returns the number of packets received. */
unsigned weft_dp_poll_once(struct weft_dp *dp, unsigned worker);

/* Ages the slow-path tables (reassembly timeouts, response memory expiry,
 * dedup expiry), runs weft_cache_maintain on every cache and raises its
 * version floor to the wall clock in ms << 20 (so versions drawn on
 * different nodes order writes a tick apart: docs/cluster.md). Control thread,
 * a registered online QSBR reader, every ~10 ms. */
void weft_dp_maintain(struct weft_dp *dp, uint64_t now_ms);

/* Formats the node's STATS text ("name value\n" lines: per-lcore counters,
 * slow-path table counters, per-cache counters) into buf. Returns the full
 * length it needs (as snprintf: truncated if >= len). Any thread registered
 * with liburcu QSBR (it reads the caches). */
size_t weft_dp_stats_format(struct weft_dp *dp, char *buf, size_t len);

/* The dataplane's clock (cfg.clock or CLOCK_MONOTONIC) in ms. */
uint64_t weft_dp_now_ms(const struct weft_dp *dp);

/* --- The cluster channel (dp_ctl.c) -------------------------------------
 *
 * Node-to-node datagrams travel over the DPDK port, never a kernel socket.
 * Worker lcores hand every UDP datagram addressed to bind_ip:ctl_port or
 * group_ip:ctl_port, and every IPv4 fragment of UDP addressed to bind_ip
 * or group_ip, to the control thread over a bounded ring (full: counted drop).
 * The control thread reassembles fragments (datagrams up to 65507 bytes) and
 * reads datagrams with weft_dp_ctl_recv. weft_dp_ctl_send builds
 * Ethernet/IPv4/UDP frames (fragmented above 1472 bytes of payload) and
 * queues them on a ring that worker 0 drains and transmits every iteration
 * (within ~1 ms when it idles in adaptive polling): the control thread never
 * touches a tx queue. Peer MACs come from an ARP table the lcores fill (ARP
 * requests for bind_ip, ARP replies to it, gratuitous ARP for known peers,
 * and the source MAC of every cluster datagram). All of it exists only when
 * cfg.ctl_port != 0; otherwise recv returns 0 and send -ENOTCONN.
 * net_af_packet has the kernel reassemble fragments and then truncates them
 * to its 2 KB frames: on it, received datagrams are limited to ~1.9 KB
 * (docs/weftd.md, "The cluster channel").
 *
 * Addresses: IPv4 addresses in network byte order (as cfg.bind_ip), UDP
 * ports in host byte order (as cfg.udp_port).
 *
 * Calling context: the control thread only (one thread: the receive buffer,
 * the reassembly table and the tx ring's producer side are its own). Neither
 * needs QSBR: they touch no cache. */

/* Largest payload of one cluster datagram (the IPv4/UDP maximum). */
#define WEFT_DP_CTL_MAX_PAYLOAD 65507u

struct weft_dp_datagram {
	uint32_t src_ip;        /* network order */
	uint16_t src_port;      /* host order */
	uint32_t dst_ip;        /* network order: bind_ip (unicast) or group_ip */
	const uint8_t *payload; /* valid until the next weft_dp_ctl_recv */
	uint32_t len;
};

/* Receives up to max datagrams (reassembling fragments as they come,
 * expiring reassemblies idle for more than 5 s at now_ms). Returns how many
 * it wrote to out (0 when nothing is waiting or the channel is off).
 * Ownership: each payload is a copy in a receive buffer the dataplane owns
 * (256 KiB; at least 4 datagrams of any size fit per call, and more wait on
 * the ring), valid until the next weft_dp_ctl_recv on this dp or
 * weft_dp_destroy. The mbufs are back in the pool when this returns. */
unsigned weft_dp_ctl_recv(struct weft_dp *dp, uint64_t now_ms, struct weft_dp_datagram *out,
			  unsigned max);

/* Sends len bytes (0..WEFT_DP_CTL_MAX_PAYLOAD) from cfg.ctl_port to
 * dst_ip:dst_port. dst_ip is a unicast peer or a multicast group (any in
 * 224.0.0.0/4: MAC 01:00:5e + the low 23 bits, TTL 1). A unicast peer's MAC
 * comes from the ARP table; an unknown (or expired) peer gets an ARP request
 * (at most one per second per IP) and the call returns -EHOSTUNREACH: the
 * caller retries later (the membership protocol does). Payloads above 1472
 * bytes go out as IPv4 fragments (DF clear). Returns 0 when every frame is
 * queued for worker 0, or -EINVAL (dst_ip 0, broadcast or bind_ip,
 * dst_port 0, len too big, buf NULL with len > 0), -ENOTCONN (channel off),
 * -EHOSTUNREACH, -ENOBUFS (no mbufs or the tx ring is full: nothing is
 * sent; counted). */
int weft_dp_ctl_send(struct weft_dp *dp, uint32_t dst_ip, uint16_t dst_port, const void *buf,
		     size_t len);

/* Waits until a datagram (or a fragment) is waiting for weft_dp_ctl_recv or
 * timeout_ms has passed. Polls the ring every 1 ms with nanosleep (real
 * time, whatever cfg.clock says); the caller should be QSBR offline around
 * it (it reads no cache). Returns true when something is waiting, false on
 * timeout (at once when timeout_ms is 0 or the channel is off). */
bool weft_dp_ctl_wait(struct weft_dp *dp, unsigned timeout_ms);

/* --- The membership snapshot (dp_members.c) ----------------------------
 *
 * What MEMBERS answers: an immutable snapshot of the cluster view that the
 * control thread publishes through an RCU pointer (liburcu QSBR); lcores
 * read it with rcu_dereference while online, and an old snapshot is freed
 * with call_rcu after a grace period. Until the first publish, MEMBERS
 * answers with this node alone (name "local", view 0). */

#define WEFT_DP_MEMBER_NAME_MAX 64u
#define WEFT_DP_MEMBERS_MAX 1024u

enum weft_dp_member_state {
	WEFT_DP_MEMBER_ALIVE,
	WEFT_DP_MEMBER_SUSPECT,
	WEFT_DP_MEMBER_DEAD,
	WEFT_DP_MEMBER_LEFT,
};

struct weft_dp_member {
	char name[WEFT_DP_MEMBER_NAME_MAX + 1]; /* NUL-terminated, no spaces */
	char id[37];            /* node id, UUID text */
	uint32_t ip;            /* network order */
	uint16_t port;          /* the member's data (client) port, host order */
	uint8_t state;          /* enum weft_dp_member_state */
	uint64_t start_unix_ms; /* wall-clock start of the member's process */
};

/* The segment table travels in the same snapshot as the members (one
 * rcu_assign_pointer: a reader never sees members of one view with owners
 * of another). Segment of a key: weft_wire_segment(XXH3-64 of the key, i.e.
 * weft_cache_hash, seg_log2). Lcores count the keyed requests for segments
 * that `self` does not own (STATS not_owner): misrouted clients. */
#define WEFT_DP_SEG_LOG2_MAX 16u
#define WEFT_DP_OWNERS_MAX 8u
#define WEFT_DP_SELF_NONE UINT32_MAX
#define WEFT_DP_READ_THROUGH_NONE UINT16_MAX

struct weft_dp_members {
	uint64_t view;          /* view counter = the topology epoch (0: none) */
	uint32_t coordinator;   /* index into m[] (< n) */
	uint32_t n;             /* 1..WEFT_DP_MEMBERS_MAX */
	uint32_t self;          /* this node's index in m[], or WEFT_DP_SELF_NONE */
	uint16_t seg_log2;      /* 2^seg_log2 segments, <= WEFT_DP_SEG_LOG2_MAX */
	uint16_t owners;        /* owners per segment, 0 (no table) ..min(n, 8) */
	bool no_quorum;         /* --partition-handling quorum and this side holds
	                           no majority of the last stable view: writes
	                           are refused with WEFT_ST_NO_QUORUM */
	const uint16_t *seg_owner; /* [2^seg_log2 * owners] indices into m[],
	                              primary first; NULL iff owners == 0.
	                              Copied by the publish: the caller keeps it. */
	/* Read-through while segments move in (NULL: none): per segment, the
	 * index in m[] of the old owner a miss is asked of until
	 * seg_prev_until_ms (the dataplane's clock), or
	 * WEFT_DP_READ_THROUGH_NONE. Copied by the publish. */
	const uint16_t *seg_prev;
	uint64_t seg_prev_until_ms;
	struct weft_dp_member m[];
};

/* Copies snap (n members and the segment table) into a new immutable
 * snapshot and publishes it; the previous one is freed after a grace period
 * (call_rcu). Responses carry the low 32 bits of snap->view as hdr.epoch
 * from then on. Control thread, a registered QSBR reader. 0, -EINVAL (n out
 * of range, coordinator >= n, seg_log2 or owners out of range, an owner
 * index >= n, the same member twice in one segment), -ENOMEM (the previous
 * snapshot stays). */
int weft_dp_publish_members(struct weft_dp *dp, const struct weft_dp_members *snap);

/* The membership lease (docs/membership.md "The lease"): until until_ms
 * (weft_dp_now_ms's clock) the lcores serve and apply GETs and writes of
 * shared caches, SESSION ops and a destination primary's ops; after it
 * they answer them BUSY (counted in lease_busy) until it is renewed.
 * UINT64_MAX (the default): no lease. Control thread, any time. */
void weft_dp_set_lease(struct weft_dp *dp, uint64_t until_ms);

/* A malloc'd copy of the published view's members (view, coordinator,
 * self, no_quorum, m[]; no segment table: owners 0), for threads off the
 * hot path (the app runtime's services). The caller must be a registered
 * QSBR reader (online). NULL + errno: ENOENT (nothing published), ENOMEM. */
struct weft_dp_members *weft_dp_members_copy(struct weft_dp *dp);

/* Whether this node owns the segment of key hash h (weft_cache_hash) in the
 * published view: true when the view's segment table lists it among the
 * segment's owners, or when there is no table (nothing published, the
 * self-only snapshot, a view of one member); false otherwise. The caller
 * must be a registered QSBR reader (online), as for weft_dp_members_copy. */
bool weft_dp_owns_hash(struct weft_dp *dp, uint64_t h);

/* Formats the MEMBERS text (docs/protocol.md): "view <counter> coordinator
 * <name>\n", then per member "<name> <ip>:<port> <state> <uptime_s>
 * <node-id>\n", uptime from now_unix_ms. Returns the length it needs (as
 * snprintf). Caller: an online QSBR reader (a worker lcore, or the control
 * thread). */
size_t weft_dp_members_format(struct weft_dp *dp, uint64_t now_unix_ms, char *buf,
			      size_t len);

/* Encodes the TOPOLOGY response value (include/weft/wire.h) of the current
 * snapshot into a malloc'd buffer of *len bytes; NULL when out of memory.
 * Without a published snapshot: this node alone ("local", epoch 0) with no
 * segment table (owners 0). Caller: an online QSBR reader. */
uint8_t *weft_dp_topology_encode(struct weft_dp *dp, size_t *len);

/* --- Rebalancing progress (shown by STATS as rebalance.* lines) --------
 *
 * The control thread moves segments by state transfer (REPLICATE messages
 * it sends from the cluster port) and publishes its progress here; STATS
 * copies it under a lock. Control thread writes, any thread reads. */
struct weft_dp_rebalance {
	uint64_t view;             /* the view the moves are for (0: none yet) */
	uint32_t moves_pending;    /* (segment, new owner) transfers not yet acked */
	uint32_t moves_done;       /* acked since that view was installed */
	uint64_t entries_sent;     /* since the node started */
	uint64_t bytes_sent;
	uint64_t retransmits;
	uint64_t last_duration_ms; /* of the last completed rebalance */
	bool handoff;              /* a graceful stop is handing segments over */
};

/* Publishes the progress (copied). Control thread. */
void weft_dp_rebalance_publish(struct weft_dp *dp, const struct weft_dp_rebalance *r);

/* Publishes the APPS text (wire.h: the app runtime's apps, daemons and
 * jobs), copied; len bytes, no NUL needed. 0 or -ENOMEM (the previous text
 * stays). Any thread. */
int weft_dp_apps_publish(struct weft_dp *dp, const char *text, size_t len);

/* --- session events ----------------------------------------------------------
 *
 * The lcores that create, invalidate or expire a session (as its primary,
 * wire.h "Sessions") queue one event each, after the change is applied,
 * on a bounded multi-producer ring (a full ring drops the event, counted in
 * STATS session_events_dropped); one non-lcore thread (weftd's sessions
 * service) takes them and publishes them to "/topic/<store>.events". */
#define WEFT_DP_SESS_EVENTS_RING 4096u
struct weft_dp_sess_event {
	uint8_t kind;                        /* enum weft_session_event */
	uint8_t store_len;
	char store[WEFT_SESSION_STORE_MAX_LEN];
	uint8_t id[WEFT_SESSION_ID_LEN];
};
/* Takes up to max queued events (oldest first); returns how many. One
 * thread at a time (not an lcore). */
unsigned weft_dp_sess_events(struct weft_dp *dp, struct weft_dp_sess_event *out, unsigned max);

/* What the sessions service did since the node started (totals), shown in
 * STATS as "sessions_service.<field> N". */
struct weft_dp_sess_service {
	uint64_t published;      /* events published to their topic */
	uint64_t publish_failed; /* events lost: the publish failed */
	uint64_t bad_events;     /* events with no valid topic (not published) */
	uint64_t expired;        /* EXPIREs the primary applied */
	uint64_t not_due;        /* EXPIREs the primary found not due (clocks differ) */
	uint64_t gone;           /* EXPIREs that found the session gone already */
	uint64_t expire_failed;  /* EXPIREs that got no answer or an error */
	uint64_t discarded;      /* due copies dropped after the primary said NO_SESSION */
};
/* Publishes the service's counters (copied). Any thread. */
void weft_dp_sess_service_publish(struct weft_dp *dp, const struct weft_dp_sess_service *s);

/* --- in-node clients ---------------------------------------------------------
 *
 * weftd's own threads (the app thread pool, the control thread) speak the
 * wire protocol to the grid over rings instead of the NIC: a local client
 * sends from bind_ip:(data port + 2) with its own client_id; datagrams to
 * this node are served by worker 0 as if they had arrived on the port,
 * those to other nodes leave through the port; every answer to that port
 * comes back to the client's own ring. libweft runs over it through
 * weft_client_connect_transport (include/weft/weft.h), so in-node code uses
 * the same API as remote clients. Any thread (not an lcore); one thread at a
 * time per local client. */
#define WEFT_DP_LOCAL_MAX 64u
struct weft_dp_local;
/* Opens a local client with client_id (!= 0, unique among local clients).
 * NULL + errno: EINVAL, EEXIST (client_id in use), ENOSPC (WEFT_DP_LOCAL_MAX
 * open), ENOMEM. */
struct weft_dp_local *weft_dp_local_open(struct weft_dp *dp, uint32_t client_id);
/* Closes it (waits for an RCU grace period: the caller must not be an
 * online QSBR reader). */
void weft_dp_local_close(struct weft_dp_local *l);
/* Sends one weft datagram (<= WEFT_MAX_DGRAM_LEN + WEFT_MAX_TRAILERS_LEN
 * bytes) to ip:port (network
 * order). 0 also when it had to be dropped (unknown peer MAC: an ARP request
 * went out; ring full): the caller's retransmission carries it. -EMSGSIZE,
 * -ENOBUFS, -EHOSTUNREACH (another node, and no cluster channel). */
int weft_dp_local_send(struct weft_dp_local *l, uint32_t ip, uint16_t port, const void *buf,
		       size_t len);
/* Waits up to timeout_ms for one datagram: its length (at most cap bytes
 * copied to buf), its source in *ip / *port (network order); 0 when the
 * time is up. */
ssize_t weft_dp_local_recv(struct weft_dp_local *l, void *buf, size_t cap, uint32_t *ip,
			   uint16_t *port, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_DATAPLANE_H */
