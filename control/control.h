/*
 * control — the control thread of weftd: command line, node home, logging,
 * signals, the maintenance loop, and the node's cluster membership
 * (ctl_cluster.c drives control/membership/ over the dataplane's cluster
 * channel; ctl_rebalance*.c move segments by state transfer when the view
 * changes and hand them over before a graceful stop; ctl_quorum.c decides
 * whether a partitioned side may write), and the app runtime (ctl_app.h:
 * apps, their daemons and jobs, singleton placement; its pool and services
 * threads, never the control thread, run app code and blocking calls), and
 * the sessions service (ctl_sessions.h: its own thread publishes session
 * events and expires idle sessions through an in-node client).
 *
 * Everything here runs on the main thread (EAL lcore 0) unless said
 * otherwise, never on a worker lcore. Return-code rule: constructors return NULL and set errno; int
 * functions return 0 or a negative errno.
 */
#ifndef WEFT_CONTROL_H
#define WEFT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane.h"

enum weft_ctl_log_level { WEFT_LOG_ERROR, WEFT_LOG_WARN, WEFT_LOG_INFO, WEFT_LOG_DEBUG };

/* Logs one line to stderr (ctl_log.c): UTC timestamp (ms), level, node
 * name, subsystem (from the calling file's name), message. Any thread;
 * never on the hot path. Lines above the level set by weft_ctl_log_set_level
 * are skipped; more than 10 a second from one call site (fmt) are counted
 * and reported as one line. fmt must be a string literal (it names the
 * call site). */
#define weft_ctl_log(lvl, ...) weft_ctl_log_at((lvl), __FILE__, __VA_ARGS__)
__attribute__((format(printf, 3, 4))) void weft_ctl_log_at(enum weft_ctl_log_level lvl,
							    const char *file, const char *fmt,
							    ...);
void weft_ctl_log_set_level(enum weft_ctl_log_level lvl);
/* The node name every line carries from now on ("-" until set). */
void weft_ctl_log_set_node(const char *name);
/* "error", "warn", "info" or "debug" to *out: 0, or -1 (ctl_args.c). */
int weft_ctl_log_level_parse(const char *s, enum weft_ctl_log_level *out);
/* Reports the repeats suppressed so far (at exit). */
void weft_ctl_log_flush(void);

#define WEFT_CTL_MAX_PEERS 16u   /* = WEFT_SWIM_MAX_SEEDS */
#define WEFT_CTL_NAME_MAX 64u    /* = WEFT_SWIM_NAME_MAX */
/* Key segments (--segments, a power of two) and owners per segment
 * (--owners: primary + backups); see docs/weftd.md. */
#define WEFT_CTL_SEGMENTS_LOG2_MIN 0u
#define WEFT_CTL_SEGMENTS_LOG2_MAX 16u
#define WEFT_CTL_SEGMENTS_DEFAULT 256u
#define WEFT_CTL_OWNERS_MAX 8u
#define WEFT_CTL_OWNERS_DEFAULT 2u

/* --partition-handling: what a side of a network partition does. */
enum weft_ctl_partition {
	WEFT_CTL_PARTITION_ALLOW,  /* every side keeps serving; merge by version */
	WEFT_CTL_PARTITION_QUORUM, /* a side without a majority of the last stable
				      view refuses writes (WEFT_ST_NO_QUORUM) */
};

/* weftd's parsed command line. */
#define WEFT_CTL_UNVERIFIED_RATE_DEFAULT 100u /* DP_AMP_DEFAULT_RATE */
#define WEFT_CTL_MC_PORT 11211u  /* memcached endpoint: this + offset */
#define WEFT_CTL_MC_TRUST_MAX 8u
#define WEFT_CTL_UNVERIFIED_RATE_MAX 1000000u

struct weft_ctl_args {
	const char *port_spec;
	const char *bind;      /* dotted IPv4 */
	uint32_t bind_ip;      /* network order */
	unsigned lcores;       /* worker lcores, default 1 */
	const char *home;      /* --home, else $WEFT_HOME, else ./weft-home */
	unsigned offset;       /* data port = WEFT_DEFAULT_PORT + offset */
	enum weft_dp_poll poll;
	unsigned mem_mb;
	bool verbose;
	bool hugepages;        /* --hugepages: EAL memory from hugepages */
	enum weft_ctl_log_level log_level; /* --log-level (--verbose: debug) */
	bool clustered;        /* --clustered: multicast discovery */
	bool restarted;        /* not an option: weftd sets it when the home
	                          existed (this node id ran before) */
	uint32_t mcast_group;  /* network order; default WEFT_DP_DEFAULT_GROUP */
	uint32_t peers[WEFT_CTL_MAX_PEERS]; /* --peers, network order */
	unsigned n_peers;
	char node_name[WEFT_CTL_NAME_MAX + 1]; /* --node-name or the default */
	unsigned segments;     /* --segments: power of two, default 256 */
	unsigned owners;       /* --owners: 1..WEFT_CTL_OWNERS_MAX, default 2 */
	enum weft_ctl_partition partition; /* --partition-handling, default allow */
	const char *cluster_key_file; /* --cluster-key: node-to-node authentication */
	bool encrypt;          /* --encrypt: AEAD with the cluster key (needs it) */
	const char *client_key_file;  /* --client-key: clients must authenticate */
	unsigned unverified_rate; /* --unverified-reply-rate: replies/s to one
	                             unverified address, per lcore (dp_amp.c) */
	/* --admin ADDR[:PORT] | off (the admin plane, ctl_admin.h): default
	 * 127.0.0.1 and 9190 + offset (none when that passes 65535);
	 * admin_port 0 = off. admin_explicit:
	 * --admin was given, so failing to listen ends weftd. */
	uint32_t admin_ip;     /* network order */
	uint16_t admin_port;   /* host order */
	bool admin_explicit;
	/* The memcached endpoint (dataplane/dp_mc.c, docs/memcached.md):
	 * --memcached-port (host order; default WEFT_CTL_MC_PORT + offset; 0:
	 * off), --memcached-cache (NULL: "memcached"), --memcached-trust
	 * (network order, ip already masked). */
	uint16_t mc_port;
	const char *mc_cache;
	unsigned n_mc_trust;
	struct {
		uint32_t ip, mask;
	} mc_trust[8];
	int n_eal_extra;       /* arguments after "--" */
	char **eal_extra;
};

/* True when s is a valid node name: 1..WEFT_CTL_NAME_MAX of [A-Za-z0-9._-]. */
bool weft_ctl_name_valid(const char *s);

/* Parses argv. 0; 1 when --help was printed (exit 0); -EINVAL after printing
 * the error and the usage to stderr. */
int weft_ctl_args_parse(int argc, char **argv, struct weft_ctl_args *out);
/* The same, printing nothing on a bad command line: -EINVAL with *why the
 * reason and *argi the index in argv of the option refused (0 when the
 * reason is about the whole line, e.g. a required option missing). For
 * ctl_config.c (--config FILE), which names the file's line instead. */
int weft_ctl_args_parse_quiet(int argc, char **argv, struct weft_ctl_args *out,
			      const char **why, int *argi);
/* Whether the long option name (without "--") takes a value: 1, 0 (a flag),
 * -ENOENT (no such option). */
int weft_ctl_args_takes_value(const char *name);

/* Creates home, home/data, home/log, home/deployments (as needed) and reads
 * home/data/node-id, creating it with a random UUID v4 on first start.
 * id_out receives the 36-character id; *created tells which happened.
 * 0 or a negative errno. */
int weft_ctl_home_init(const char *home, char id_out[37], bool *created);

/* Formats 16 random bytes as a UUID v4 (sets the version and variant bits). */
void weft_ctl_uuid_format(const uint8_t raw[16], char out[37]);

/* Parses 36-character UUID text into 16 bytes. 0 or -EINVAL. */
int weft_ctl_uuid_parse(const char *text, uint8_t raw[16]);

/* --- The node in a cluster (ctl_cluster.c) ---
 * Drives the membership state machine over the dataplane's cluster channel
 * (dp created with ctl_port, and group_ip for --clustered), logs member and
 * view events and publishes the topology snapshot (members + segment table,
 * a->segments segments of a->owners owners; no_quorum with
 * --partition-handling quorum). On every new view it moves segments by
 * state transfer: the entries of DISTRIBUTED and REPLICATED caches of reg
 * that other members now own go to them as REPLICATE messages from the
 * cluster port (docs/weftd.md, "Rebalancing"). Control thread only, a
 * registered online QSBR reader. */
struct weft_ctl_cluster;

/* Creates the membership instance (node id from its UUID text, nonce = the
 * wall clock in us, seed from getrandom, name a->node_name, seeds a->peers
 * at ctl_port, multicast group a->mcast_group when a->clustered), publishes
 * this node alone as the first snapshot and starts joining. a and reg (the
 * caches dp serves) must outlive the cluster. NULL + errno (EINVAL,
 * ENOMEM). */
struct weft_ctl_cluster *weft_ctl_cluster_create(struct weft_dp *dp,
						 struct weft_cache_registry *reg,
						 const struct weft_ctl_args *a,
						 const char *node_id, uint16_t ctl_port);
void weft_ctl_cluster_destroy(struct weft_ctl_cluster *cl);

/* Receives every waiting cluster datagram (bounded: 128 per call), ticks the
 * state machine when due, publishes the snapshot when the view or a member
 * state changed, and runs a bounded step of any state transfer. Returns
 * the next deadline of either (monotonic ms, UINT64_MAX for none; now_ms
 * while a transfer has work ready). */
uint64_t weft_ctl_cluster_poll(struct weft_ctl_cluster *cl, uint64_t now_ms);
/* True once the cluster refused this node (duplicate node id; logged with
 * cause and fix): weftd then exits non-zero. */
bool weft_ctl_cluster_refused(const struct weft_ctl_cluster *cl);
/* Graceful stop, step 1: pushes every segment this node owns to the owners
 * it would have without this node (the current view's table recomputed
 * without it), on top of any transfer still due for the current view.
 * Progress through weft_ctl_cluster_poll; done when
 * weft_ctl_cluster_handoff_done. 0, -ENOTCONN (no view yet: nothing to
 * hand over), -ENOMEM (logged). */
int weft_ctl_cluster_handoff(struct weft_ctl_cluster *cl, uint64_t now_ms);
/* True when no transfer is running or waiting for acks. */
bool weft_ctl_cluster_handoff_done(const struct weft_ctl_cluster *cl);
/* Step 2: starts a graceful leave (LEFT gossiped ~1 s). 0 or -EALREADY (not
 * a member: nothing to leave). */
int weft_ctl_cluster_leave(struct weft_ctl_cluster *cl, uint64_t now_ms);
/* True once the leave has been gossiped. */
bool weft_ctl_cluster_left(const struct weft_ctl_cluster *cl);

/* Publishes a one-member snapshot (view 0): this node alone (single node,
 * or a clustered node before its first view; name a->node_name, address
 * a->bind_ip) owning all a->segments segments (one owner each); a restarted
 * clustered node (a->restarted) is published as not listed in it (self
 * WEFT_DP_SELF_NONE: no shared-cache key is served until it joins). 0,
 * -EINVAL (id not a UUID), -ENOMEM. */
int weft_ctl_publish_self(struct weft_dp *dp, const struct weft_ctl_args *a, const char *id,
			  uint16_t data_port, uint64_t start_unix_ms);

/* Runs the control loop until SIGINT/SIGTERM: weft_dp_maintain every ~10 ms
 * (reassembly / response / dedup ageing and cache maintenance) and, with a
 * cluster (cl not NULL), the membership and state transfer: it waits (QSBR
 * offline) in weft_dp_ctl_wait until a datagram, the next deadline or the
 * next maintenance. On SIGINT/SIGTERM a clustered node hands its segments
 * over (bounded by 30 s) and then leaves gracefully (bounded by 2 s)
 * before returning. With apps (the app runtime, ctl_app.h; may be NULL)
 * it runs ctl_apps_tick every iteration (the tick acts once a second). The caller must have registered the
 * thread as a QSBR reader (it is online on entry and on return).
 * Returns 0, or -EPERM when the cluster refused this node. */
struct ctl_apps;
int weft_ctl_run(struct weft_dp *dp, struct weft_ctl_cluster *cl, struct ctl_apps *apps);

/* Installs the SIGINT/SIGTERM handlers that end weft_ctl_run. */
int weft_ctl_signals_install(void);

#endif /* WEFT_CONTROL_H */
