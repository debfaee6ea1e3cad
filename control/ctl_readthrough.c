/*
 * ctl_readthrough.c — where a node that just became an owner of a segment
 * reads a key it does not hold yet: while the state transfer brings the
 * segment in, a miss is asked of the segment's old owner (the lcores
 * forward it, dataplane/dp_serve.c), so a join or a failover shows no
 * false NOT_FOUND. Pure: computed by the control thread at each view from
 * the previous and the new topology and the new view's member states,
 * published in the snapshot (weft_dp_members.seg_prev).
 *
 * Which old owner: the first one still in the new view that is ALIVE
 * there, else the first one still in the new view (today's only choice
 * when every old owner is suspect or dead: the lcores forward only to a
 * live one, and a session op finding it dead answers BUSY). A crashed old
 * primary that is not declared DOWN yet is still a member: picking it
 * would leave the new owner with no one to ask while a live old backup
 * holds the same data (synchronous replication).
 */
#include <string.h>

#include "ctl_rebalance_internal.h"

static bool same_member(const struct weft_swim_view_member *a,
			const struct weft_swim_view_member *b)
{
	return a->nonce == b->nonce && memcmp(a->id.b, b->id.b, sizeof(a->id.b)) == 0;
}

/* The index in t of old member m, or UINT32_MAX. */
static uint32_t index_in(const struct weft_ctl_topo *t, const struct weft_swim_view_member *m)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (same_member(&t->members[i], m))
			return i;
	return UINT32_MAX;
}

void weft_ctl_read_through(const struct weft_ctl_topo *old_t, const struct weft_ctl_topo *new_t,
			   uint32_t self, const bool *alive, uint16_t *out)
{
	uint32_t map[WEFT_DP_OWNERS_MAX];
	for (uint32_t s = 0; s < new_t->n_segments; s++) {
		out[s] = WEFT_DP_READ_THROUGH_NONE;
		if (old_t == NULL || old_t->n_segments != new_t->n_segments || self >= new_t->n)
			continue;
		const uint16_t *o = old_t->seg_owner + (size_t)s * old_t->owners;
		bool had = false;
		unsigned k = 0;
		for (uint32_t i = 0; i < old_t->owners && i < WEFT_DP_OWNERS_MAX; i++) {
			map[k] = index_in(new_t, &old_t->members[o[i]]);
			if (map[k] == self)
				had = true;
			k++;
		}
		for (unsigned i = 0; !had && i < k; i++) {
			if (map[i] == UINT32_MAX)
				continue;
			if (out[s] == WEFT_DP_READ_THROUGH_NONE)
				out[s] = (uint16_t)map[i]; /* the first one: the fallback */
			if (alive == NULL || alive[map[i]]) {
				out[s] = (uint16_t)map[i];
				break;
			}
		}
	}
}
