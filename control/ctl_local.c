/*
 * ctl_local.c — in-node clients (ctl_local.h): random client ids for
 * dataplane local clients, and the weft_transport that runs libweft over
 * one.
 *
 * Invariant: a client_id is never 0 and never one another local client of
 * the node holds (weft_dp_local_open refuses a clash with EEXIST; a new id
 * is drawn, at most LOCAL_OPEN_DRAWS times).
 */
#include <errno.h>
#include <sys/random.h>

#include "ctl_local.h"

#define LOCAL_OPEN_DRAWS 8

static int t_send(void *ctx, uint32_t ip, uint16_t port, const void *buf, size_t len)
{
	return weft_dp_local_send(ctx, ip, port, buf, len);
}

static long t_recv(void *ctx, void *buf, size_t cap, uint32_t *ip, uint16_t *port,
		   int timeout_ms)
{
	return weft_dp_local_recv(ctx, buf, cap, ip, port, timeout_ms);
}

struct weft_dp_local *ctl_local_open(struct weft_dp *dp, uint32_t *id)
{
	for (int attempt = 0; attempt < LOCAL_OPEN_DRAWS; attempt++) {
		uint32_t v = 0;
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
			if (errno == EINTR)
				continue;
			errno = EIO;
			return NULL;
		}
		if (v == 0)
			continue;
		struct weft_dp_local *l = weft_dp_local_open(dp, v);
		if (l != NULL) {
			*id = v;
			return l;
		}
		if (errno != EEXIST)
			return NULL;
	}
	errno = EEXIST;
	return NULL;
}

weft_client *ctl_local_client(struct weft_dp_local *l, uint32_t id, const char *addr,
			      const struct weft_client_opts *opts)
{
	struct weft_transport t = {.ctx = l, .send = t_send, .recv = t_recv};
	return weft_client_connect_transport(addr, opts, &t, id);
}
