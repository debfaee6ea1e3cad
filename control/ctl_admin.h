/*
 * ctl_admin.h — weftd's admin plane (docs/admin.md): an HTTP/1.1 server on
 * a kernel TCP socket, apart from the DPDK port, serving /metrics
 * (Prometheus), /health and JSON under /api/ from snapshots of the node
 * that a collector thread takes once a second.
 *
 * Threads: ctl_admin_start and ctl_admin_stop are called by weftd's main
 * thread. The admin runs two threads of its own: the collector (a
 * registered QSBR reader, online only while it copies STATS and the view;
 * the rest it asks the node through an in-node client, ctl_local.h) and the
 * HTTP server's (GNU libmicrohttpd), which renders from the latest snapshot
 * and never touches the dataplane. Neither ever blocks an lcore or the
 * control loop: they take no lock those take, except STATS's own short
 * ones.
 */
#ifndef WEFT_CTL_ADMIN_H
#define WEFT_CTL_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane.h"

/* Default admin port: 9190 + --offset, on 127.0.0.1. */
#define WEFT_CTL_ADMIN_PORT 9190u

struct ctl_admin_cfg {
	struct weft_dp *dp;     /* started; outlives the admin */
	uint32_t bind_ip;       /* the node's data address (network order) ... */
	uint16_t udp_port;      /* ... and port (host order): the in-node client's home */
	uint32_t listen_ip;     /* the admin's address (network order) */
	uint16_t listen_port;   /* host order, != 0 */
	const char *node_name;  /* copied */
	bool clustered;         /* --clustered or --peers: /health wants a view */
};

struct ctl_admin;

/* Listens on listen_ip:listen_port and starts both threads (the first
 * snapshot is taken at once). NULL + errno: EADDRINUSE, EADDRNOTAVAIL,
 * EACCES (the bind's errno), ENOMEM, or the in-node client's. Main thread,
 * after weft_dp_start. */
struct ctl_admin *ctl_admin_start(const struct ctl_admin_cfg *cfg);

/* Stops the HTTP server (open connections are closed) and the collector,
 * and frees everything. Main thread, before weft_dp_stop; it may be an
 * online QSBR reader (it goes offline while it waits). NULL: no-op. */
void ctl_admin_stop(struct ctl_admin *a);

#endif /* WEFT_CTL_ADMIN_H */
