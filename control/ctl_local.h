/*
 * ctl_local.h — in-node clients for weftd's own threads (the app pool, the
 * sessions service): a dataplane local client (dataplane.h "in-node
 * clients") with a fresh random client_id, and libweft over it.
 *
 * Any thread that is not an lcore; a local client and its weft_client are
 * used by one thread at a time. Closing a local client waits for an RCU
 * grace period: the closing thread must not be an online QSBR reader.
 */
#ifndef WEFT_CTL_LOCAL_H
#define WEFT_CTL_LOCAL_H

#include <stdint.h>

#include <weft/weft.h>

#include "dataplane.h"

/* Opens a local client with a random client_id (drawn again on a clash,
 * bounded); *id gets it. NULL + errno (as weft_dp_local_open; EEXIST after
 * repeated clashes, EIO when getrandom fails). */
struct weft_dp_local *ctl_local_open(struct weft_dp *dp, uint32_t *id);

/* A weft_client over l (client_id id, the one l was opened with) whose
 * home is addr ("IP:PORT", this node's data address). opts may be NULL.
 * NULL + errno. The caller closes the client before l. */
weft_client *ctl_local_client(struct weft_dp_local *l, uint32_t id, const char *addr,
			      const struct weft_client_opts *opts);

#endif /* WEFT_CTL_LOCAL_H */
