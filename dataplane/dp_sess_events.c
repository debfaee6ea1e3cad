/*
 * dp_sess_events.c — the session event ring (dataplane.h "session
 * events"): lcores that create, invalidate or expire a session as its
 * primary queue {kind, store, id} records; weftd's sessions service takes
 * them (weft_dp_sess_events) and publishes them.
 *
 * Invariants: one DPDK ring of fixed-size records (the event padded to a
 * multiple of 4 bytes, as rte_ring_*_elem wants), multi-producer (any
 * lcore), single consumer (one thread at a time, as documented); a full
 * ring refuses the event (the lcore counts session_events_dropped); the
 * ring is created with the dataplane and freed with it, records left in it
 * included.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "dp_internal.h"

#define SLOT_BYTES ((sizeof(struct weft_dp_sess_event) + 3u) & ~(size_t)3u)
union dp_sess_slot {
	struct weft_dp_sess_event e;
	uint8_t bytes[SLOT_BYTES];
};
_Static_assert(sizeof(union dp_sess_slot) % 4 == 0, "ring records are 4-byte multiples");

int dp_sess_events_create(struct weft_dp *dp)
{
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "weft_sev_%p", (void *)dp);
	dp->sess_events = rte_ring_create_elem(name, sizeof(union dp_sess_slot),
					       WEFT_DP_SESS_EVENTS_RING, SOCKET_ID_ANY,
					       RING_F_SC_DEQ);
	return dp->sess_events != NULL ? 0 : -ENOMEM;
}

void dp_sess_events_destroy(struct weft_dp *dp)
{
	rte_ring_free(dp->sess_events); /* records are plain bytes: nothing to free */
	dp->sess_events = NULL;
}

int dp_sess_event_push(struct weft_dp *dp, const struct weft_dp_sess_event *e)
{
	union dp_sess_slot s;
	memset(&s, 0, sizeof(s));
	s.e = *e;
	return rte_ring_enqueue_elem(dp->sess_events, &s, sizeof(s));
}

unsigned weft_dp_sess_events(struct weft_dp *dp, struct weft_dp_sess_event *out, unsigned max)
{
	union dp_sess_slot buf[32];
	unsigned got = 0;
	while (dp != NULL && dp->sess_events != NULL && got < max) {
		unsigned want = max - got < 32u ? max - got : 32u;
		unsigned n = rte_ring_dequeue_burst_elem(dp->sess_events, buf, sizeof(buf[0]), want,
							 NULL);
		for (unsigned i = 0; i < n; i++)
			out[got + i] = buf[i].e;
		got += n;
		if (n < want)
			break;
	}
	return got;
}
