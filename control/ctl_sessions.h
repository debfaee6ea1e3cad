/*
 * ctl_sessions.h — weftd's sessions service (docs/sessions.md, wire.h
 * "Sessions"): one thread that
 *  - publishes the session events the lcores queue (weft_dp_sess_events)
 *    to "/topic/<store>.events", properties event / session / store and an
 *    empty body, through an in-node weft_client (at most once: a publish
 *    that fails is counted and dropped);
 *  - about every CTL_SESS_PASS_MS runs an expiry pass: scans every session
 *    store of the node's registry in bounded steps, and for each session
 *    whose deadline (access_ms + slack + max_inactive) passed sends SESSION
 *    EXPIRE to this node, which routes it to the id's primary; the primary
 *    rechecks the deadline and removes the session everywhere (OK), or
 *    answers EXISTS (not due by its clock) or NO_SESSION (already gone).
 *    Backups send EXPIRE too: the primary decides, so this is harmless.
 *    On NO_SESSION the node discards its own due copy, owner or not
 *    (ctl_sessions_discard_due): the primary is authoritative, and a copy
 *    it does not hold may be one no owner's delete reaches.
 *
 * The thread is a registered QSBR reader, online only inside a scan step
 * (weft_cache_scan) and the registry walk, offline while it sends, waits
 * or sleeps. Idle, it sleeps with back-off (up to CTL_SESS_IDLE_MAX_MS
 * between looks at the event ring) and scans once per pass: no busy loop.
 *
 * Calls: start / stop from weftd's main thread (stop goes QSBR offline
 * itself while it joins). The pure helpers below are for the service and
 * its tests.
 */
#ifndef WEFT_CTL_SESSIONS_H
#define WEFT_CTL_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/wire.h>

#include "cache.h"
#include "dataplane.h"

#define CTL_SESS_PASS_MS 1000u      /* between expiry passes */
#define CTL_SESS_SCAN_STEP 256u     /* buckets per weft_cache_scan call */
#define CTL_SESS_SCAN_BUDGET 65536u /* buckets per store per pass (the cursor
                                       carries on at the next pass) */
#define CTL_SESS_EXPIRE_MAX 256u    /* EXPIREs per pass */
#define CTL_SESS_IDLE_MAX_MS 100u   /* the longest idle sleep */
#define CTL_SESS_STORES_MAX 64u     /* session stores scanned (more: logged) */

struct ctl_sessions_cfg {
	struct weft_dp *dp;               /* started; outlives the service */
	struct weft_cache_registry *reg;  /* the caches dp serves */
	uint32_t bind_ip;                 /* this node's data address, network order */
	uint16_t udp_port;                /* host order */
};

struct ctl_sessions;

/* Starts the service thread. NULL + errno (EINVAL, ENOMEM, or the dataplane
 * local client's / pthread_create's error). */
struct ctl_sessions *ctl_sessions_start(const struct ctl_sessions_cfg *cfg);
/* Stops and joins the thread (events still queued are published first,
 * within a bounded time), frees it. NULL is a no-op. Call before
 * weft_dp_stop. */
void ctl_sessions_stop(struct ctl_sessions *s);

/* --- pure parts (ctl_sessions_expire.c) ----------------------------------- */

/* The deadline (unix ms) of a session record (wire.h: access_ms + slack +
 * max_inactive_s * 1000; a timeout of 0 counts as the default): false when
 * value is not a session record (too short, wrong magic). */
bool ctl_sessions_deadline(const uint8_t *value, uint32_t len, uint64_t *deadline_ms);

/* What one scan collects: the ids of sessions due at now_unix_ms. */
struct ctl_sess_scan {
	uint64_t now_unix_ms;
	uint8_t (*due)[WEFT_SESSION_ID_LEN]; /* cap entries */
	uint64_t *due_version;               /* cap entries (NULL: not kept): the
	                                        version of each due record seen */
	unsigned n, cap;
	uint64_t seen;   /* live records visited */
	uint64_t bad;    /* entries that are not session records */
};
/* A weft_cache_scan_fn: adds key to a->due (and its version to
 * a->due_version) when its record is due (now >= its deadline, as
 * sess/sess.h decides) and there is room (tombstones and foreign keys
 * skipped). */
void ctl_sessions_scan_fn(void *arg, const struct weft_cache_key *key,
			  const struct weft_cache_image *img);

/* Encodes one SESSION EXPIRE request datagram for (store, id) into out
 * (WEFT_MAX_DGRAM_LEN bytes): its length, or 0 when store is not a
 * session store name. flags: 0 or WEFT_F_RETRY. */
size_t ctl_sessions_expire_encode(const char *store, size_t store_len,
				  const uint8_t id[WEFT_SESSION_ID_LEN], uint32_t client_id,
				  uint64_t request_id, uint8_t flags, uint8_t *out);
/* The status of datagram d when it is the response to (client_id,
 * request_id) of a SESSION request; -1 otherwise (another datagram). */
int ctl_sessions_expire_match(const uint8_t *d, size_t len, uint32_t client_id,
			      uint64_t request_id);

/* After the primary answered NO_SESSION to this node's EXPIRE of id (sent
 * because the copy here is past its deadline by its own record): the
 * primary is authoritative, so the copy is discarded here whether or not
 * this node owns the id's segment (weft_cache_discard: only up to the
 * version the scan saw, no tombstone). Such a copy may be a stray (a
 * REPLICATE from a primary whose view was older, landed after this node
 * gave the segment away) or an owner's copy that the primary's delete
 * never reached (the primary dropped the record under another view):
 * no owner's delete removes either, and being due it serves nobody.
 * A copy written after the scan saw it stays. true when the copy was
 * discarded. Caller: a registered QSBR reader, online for the call. */
bool ctl_sessions_discard_due(struct weft_dp *dp, struct weft_cache *c,
			      const uint8_t id[WEFT_SESSION_ID_LEN], uint64_t version);

/* Fills the properties of an event's message (event, session, store) with
 * pointers into ev and hex (33 bytes, filled here). false when ev's kind
 * or store is not valid. */
struct weft_prop;
bool ctl_sessions_event_props(const struct weft_dp_sess_event *ev, char hex[33],
			      struct weft_prop props[3]);

#endif /* WEFT_CTL_SESSIONS_H */
