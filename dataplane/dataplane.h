/*
 * dataplane — the module's one public header: EAL and port setup, the
 * worker lcores (rx burst -> parse -> serve -> tx burst), and the
 * node-wide slow-path tables (reassembly, long-response memory, at-most-once
 * dedup) that the control thread ages.
 *
 * Threads: weft_dp_eal_init, weft_dp_port_open, weft_dp_create, weft_dp_start,
 * weft_dp_stop, weft_dp_destroy and weft_dp_maintain are called by the
 * control (main) thread only. weft_dp_poll_once is what each worker lcore
 * runs in its loop; tests call it directly on a fake port (net_ring).
 *
 * Return-code rule (the project's): constructors return NULL and set errno;
 * int functions return 0 or a negative errno; burst functions return a count.
 */
#ifndef WEFT_DATAPLANE_H
#define WEFT_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct weft_dp_config {
	uint32_t bind_ip;      /* node IPv4 address, network byte order */
	uint16_t udp_port;     /* data port, host byte order */
	unsigned n_workers;    /* worker lcores = rx/tx queue pairs (>= 1) */
	enum weft_dp_poll poll;
	weft_dp_clock_fn clock;/* NULL: CLOCK_MONOTONIC */
	void *clock_arg;
	uint64_t reasm_max_bytes; /* 0: 64 MiB */
	uint64_t resp_max_bytes;  /* 0: 64 MiB */
};

/* The EAL part of a node's command line. */
struct weft_dp_eal_opts {
	const char *port_spec; /* af_packet:IF, af_xdp:IF, tap[:NAME], virtio_user,
	                          memif:SOCKET, or a PCI address; ",k=v" appends
	                          PMD arguments */
	unsigned n_workers;
	unsigned mem_mb;       /* 0: 256 */
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
 * dedup expiry) and runs weft_cache_maintain on every cache. Control thread,
 * a registered online QSBR reader, every ~10 ms. */
void weft_dp_maintain(struct weft_dp *dp, uint64_t now_ms);

/* Formats the node's STATS text ("name value\n" lines: per-lcore counters,
 * slow-path table counters, per-cache counters) into buf. Returns the full
 * length it needs (as snprintf: truncated if >= len). Any thread. */
size_t weft_dp_stats_format(struct weft_dp *dp, char *buf, size_t len);

/* The dataplane's clock (cfg.clock or CLOCK_MONOTONIC) in ms. */
uint64_t weft_dp_now_ms(const struct weft_dp *dp);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_DATAPLANE_H */
