/*
 * sim_msg_check.c — the messaging layer's model and invariants (--msg),
 * its trace printing, failure dump and summary.
 *
 * Holders: which live nodes hold each queue message is recounted from the
 * real state (weft_dest_snapshot of every queue and dead-letter queue of
 * every live node: in-flight messages included) at every 100 ms check,
 * just before and just after every crash or exit, and after every clear
 * that follows a state transfer — the only events that remove a copy
 * other than a consumer's ack.
 *
 * Invariants (any break fails the run with seed, replay and trace):
 *  (1) no acknowledged publish is lost: a queue message whose publish was
 *      acknowledged is, at every recount, held by a live node (a dead
 *      letter counts), or a consumer's ack of it was applied by a primary;
 *      unless at least r holder crashes happened since it was last on r
 *      live nodes (r = the copies its primary made: itself + the owners it
 *      replicated to) — then it is an excused loss, counted (the data
 *      layer's invariant (a)). At the end every acknowledged queue message
 *      was consumed (ack applied), dead-lettered or excused-lost: none is
 *      stranded on a node that will never serve it.
 *  (2) no message is delivered to a consumer after a consumer's ack of it
 *      was acknowledged (its REMOVE acked by every other owner) by a node
 *      life that applied that ack (the acking primary or an owner that
 *      acked the REMOVE). A delivery by another node — a stale primary out
 *      of the acking primary's view — is split-brain behaviour of the
 *      default partition handling: counted (dups_after_ack). Redeliveries
 *      of messages not acked (visibility timeout, nack, lost answers,
 *      failover) are the documented at-least-once behaviour: msg_dups.
 *  (3) bounded: every destination of every live node holds <= max_depth
 *      messages, <= WEFT_MSG_WAITERS_MAX waiters, <= WEFT_MSG_CONSUMERS_MAX
 *      consumers; RPC slots and held ops within their tables; pending acks
 *      <= 4096 (checked every 100 ms).
 *  (4) topics: within one subscription (a subscriber at one access node
 *      life) ids arrive strictly increasing (checked at each delivery);
 *      and (at the end) between two consecutive deliveries no acknowledged
 *      publish of the topic is skipped that the node feeding the later one
 *      (the primary whose TOPIC_DELIVER or own log brought it) had applied
 *      when that publish was acknowledged, unless the later delivery or one
 *      after it in the subscription reported drops (a message the other
 *      side of a split brain accepted reaches the feeder late: it is then
 *      told to its subscriber nodes as missed; publishes only the other
 *      side accepted are not expected).
 */
#include <stdlib.h>
#include <string.h>

#include "sim_msg.h"

/* ---- trace ---- */

static const char *mm_name(uint64_t t)
{
	static const char *names[] = { "REPL", "REPL_ACK", "JOIN", "JOINED", "TDELIVER",
				       "TDELIVERED" };

	return t >= SIM_MM_REPL && t < SIM_MM_REPL + 6 ? names[t - SIM_MM_REPL] : "?";
}

void sim_mprint(FILE *f, const struct sim_mtrace *t)
{
	static const char *roles[] = { "primary", "backup", "subscriber" };
	size_t len;

	fprintf(f, "%10.6fs n%-4u msg     ", (double)t->t / 1e6, t->node);
	switch (t->what) {
	case SIM_MT_SEND:
	case SIM_MT_RECV:
	case SIM_MT_DROP:
		fprintf(f, "%s %-10s %llu rec %s n%llu\n",
			t->what == SIM_MT_SEND ? "send" : t->what == SIM_MT_RECV ? "recv" : "drop",
			mm_name(t->a & 0xff), (unsigned long long)t->b,
			t->what == SIM_MT_RECV ? "<-" : "->", (unsigned long long)(t->a >> 8));
		break;
	case SIM_MT_PUBLISH:
		fprintf(f, "publish p%llu id %llx\n", (unsigned long long)t->a,
			(unsigned long long)t->b);
		break;
	case SIM_MT_PUB_ACKED:
		fprintf(f, "publish p%llu ACKNOWLEDGED (%llu copies)\n",
			(unsigned long long)t->a, (unsigned long long)t->b);
		break;
	case SIM_MT_PUB_BUSY:
		fprintf(f, "publish p%llu gave up (BUSY)\n", (unsigned long long)t->a);
		break;
	case SIM_MT_DELIVER:
		fprintf(f, "deliver p%llu to consumer %llu\n", (unsigned long long)t->a,
			(unsigned long long)t->b);
		break;
	case SIM_MT_TDELIVER:
		fprintf(f, "topic p%llu to subscriber %llu%s\n", (unsigned long long)t->a,
			(unsigned long long)(t->b & 0xffffffffu),
			t->b >> 32 ? " (after a reported drop)" : "");
		break;
	case SIM_MT_ACK:
		fprintf(f, "ack p%llu (id %llx) applied\n", (unsigned long long)t->a,
			(unsigned long long)t->b);
		break;
	case SIM_MT_ACK_ACKED:
		fprintf(f, "ack p%llu ACKNOWLEDGED\n", (unsigned long long)t->a);
		break;
	case SIM_MT_VIEW:
		fprintf(f, "view %llu (%llu members)\n", (unsigned long long)t->a,
			(unsigned long long)t->b);
		break;
	case SIM_MT_ROLE:
		fprintf(f, "%s: role %s\n", sim_mdest_name((uint32_t)t->a, &len),
			t->b < 3 ? roles[t->b] : "?");
		break;
	case SIM_MT_XFER:
		fprintf(f, "%s: state transfer to n%llu%s\n", sim_mdest_name((uint32_t)t->a, &len),
			(unsigned long long)(t->b & 0xffffffffu), t->b >> 32 ? " and another" : "");
		break;
	case SIM_MT_XFER_DONE:
		fprintf(f, "%s: state transfer done%s\n", sim_mdest_name((uint32_t)t->a, &len),
			t->b ? " (FAILED)" : "");
		break;
	case SIM_MT_CLEAR:
		fprintf(f, "%s: cleared (no longer an owner; every new owner acked)\n",
			t->a < SIM_MDESTS ? sim_mdest_name((uint32_t)t->a, &len) : "?");
		break;
	case SIM_MT_LOST:
		fprintf(f, "p%llu LOST (excused: %llu holder crashes)\n", (unsigned long long)t->a,
			(unsigned long long)t->b);
		break;
	case SIM_MT_CRASH:
		fprintf(f, "life %llu ends: registry destroyed\n", (unsigned long long)t->a);
		break;
	case SIM_MT_START:
		fprintf(f, "life %llu starts: empty registry\n", (unsigned long long)t->a);
		break;
	case SIM_MT_NOT_OWNER:
		fprintf(f, "%s: refused %s\n", sim_mdest_name((uint32_t)t->a, &len),
			t->b ? "BUSY (owner address unknown)" : "NOT_OWNER");
		break;
	case SIM_MT_FULL:
		fprintf(f, "%s: publish p%llu refused FULL\n", sim_mdest_name((uint32_t)t->a, &len),
			(unsigned long long)t->b);
		break;
	case SIM_MT_RETARGET:
		fprintf(f, "%s: replication retargeted to n%llu\n",
			sim_mdest_name((uint32_t)t->b, &len), (unsigned long long)t->a);
		break;
	default:
		fprintf(f, "?\n");
		break;
	}
}

/* The core's last events and this layer's, merged by time. */
void sim_msg_dump(const struct sim *s, FILE *f, const char *replay)
{
	const struct sim_msg_layer *L = s->msgl;
	uint32_t nc = s->n_trace < SIM_TRACE ? s->n_trace : SIM_TRACE;
	uint32_t nm = L->n_trace < SIM_TRACE ? L->n_trace : SIM_TRACE, ic = 0, im = 0;

	fprintf(f, "FAIL seed=%llu at t=%.6fs: %s\n", (unsigned long long)s->o.seed,
		(double)s->failed_at / 1e6, s->failure);
	fprintf(f, "replay: %s --trace\n", replay);
	fprintf(f, "last %u events:\n", nc + nm);
	while (ic < nc || im < nm) {
		const struct sim_trace_rec *c = ic < nc ? &s->trace[(s->n_trace - nc + ic) % SIM_TRACE]
						       : NULL;
		const struct sim_mtrace *m = im < nm ? &L->trace[(L->n_trace - nm + im) % SIM_TRACE]
						     : NULL;

		if (c && (!m || c->t <= m->t)) {
			sim_print_rec(f, c);
			ic++;
		} else {
			sim_mprint(f, m);
			im++;
		}
	}
}

/* ---- the model ---- */

struct count {
	struct sim *s;
	uint32_t node;
	bool dlq;
	uint64_t *mask;
};

static void count_fn(void *ctx, const char *sub, size_t sub_len, uint8_t kind,
		     const struct weft_msg *m, uint64_t id)
{
	struct count *c = ctx;
	uint32_t p;

	(void)sub;
	(void)sub_len;
	(void)id;
	if (kind != WEFT_MSGREC_APPEND || !m || (p = sim_mpub_of(m)) == SIM_NONE)
		return;
	c->mask[p] |= 1ull << c->node;
	if (c->dlq && !c->s->msgl->pub[p].dead) {
		c->s->msgl->pub[p].dead = true;
		c->s->msgl->dead++;
	}
}

static bool exempt(const struct sim_mpub *pb)
{
	return !pb->acked_us || pb->ack_applied || pb->lost || sim_mdest_topic(pb->dest);
}

void sim_mcheck_recount(struct sim *s, const char *why, uint32_t node)
{
	struct sim_msg_layer *L = s->msgl;
	uint64_t *mask;

	if (s->failed || !L->n_pubs)
		return;
	mask = calloc(L->n_pubs, sizeof(*mask));
	if (!mask) {
		sim_fail(s, "out of memory recounting messages");
		return;
	}
	for (uint32_t i = 0; i < s->o.nodes; i++) {
		struct count c = { s, i, false, mask };

		if (!L->n[i].reg)
			continue;
		for (uint32_t dest = 0; dest < 2 * SIM_MQUEUES; dest++) {
			size_t len;
			const char *name = sim_mdest_name(dest, &len);
			struct weft_dest *d = weft_msg_find(L->n[i].reg, name, len);

			if (!d)
				continue;
			c.dlq = dest >= SIM_MQUEUES;
			weft_dest_lock(d);
			weft_dest_snapshot(d, count_fn, &c);
			weft_dest_unlock(d);
		}
	}
	for (uint32_t p = 0; p < L->n_pubs && !s->failed; p++) {
		struct sim_mpub *pb = &L->pub[p];

		uint64_t before = pb->holders;

		pb->holders = mask[p];
		if (exempt(pb))
			continue;
		if ((uint32_t)__builtin_popcountll(mask[p]) >= pb->r)
			pb->exposure = 0;
		if (mask[p])
			continue;
		if (pb->exposure >= pb->r) {
			pb->lost = true;
			L->lost_excused++;
			sim_mtrace(s, node, SIM_MT_LOST, p, pb->exposure);
			continue;
		}
		sim_fail(s, "acknowledged message p%u (%s id %llx, accepted by n%u at %.6fs, "
			 "acknowledged at %.6fs with %u copies) lost: no live node holds it "
			 "after %s at n%u (held by node mask %llx before), %u holder crash(es) "
			 "since it was last on %u live nodes (invariant 1)", p,
			 sim_mdest_name(pb->dest, &(size_t){ 0 }),
			 (unsigned long long)pb->id, pb->primary, (double)pb->accepted_us / 1e6,
			 (double)pb->acked_us / 1e6, pb->r, why, node,
			 (unsigned long long)before, pb->exposure, pb->r);
	}
	free(mask);
}

void sim_mcheck_crash(struct sim *s, uint32_t node)
{
	struct sim_msg_layer *L = s->msgl;

	sim_mcheck_recount(s, "the state before a crash", node);
	for (uint32_t p = 0; p < L->n_pubs; p++)
		if (L->pub[p].holders & (1ull << node))
			L->pub[p].exposure++;
}

void sim_mcheck_delivered(struct sim *s, uint32_t cons, uint32_t p, uint64_t id)
{
	struct sim_msg_layer *L = s->msgl;
	struct sim_mpub *pb;

	if (p == SIM_NONE) {
		sim_fail(s, "consumer %u got a message (id %llx) with no model number", cons,
			 (unsigned long long)id);
		return;
	}
	pb = &L->pub[p];
	sim_mtrace(s, L->cons[cons].wait_node, SIM_MT_DELIVER, p, cons);
	if (pb->dest != L->cons[cons].dest || pb->id != id)
		sim_fail(s, "consumer %u of %s got p%u (id %llx) published to %s as id %llx",
			 cons, sim_mdest_name(L->cons[cons].dest, &(size_t){ 0 }), p,
			 (unsigned long long)id, sim_mdest_name(pb->dest, &(size_t){ 0 }),
			 (unsigned long long)pb->id);
	if (pb->ack_acked_us) {
		uint32_t at = L->cons[cons].wait_node;
		bool kept = false;

		for (uint32_t k = 0; k < pb->n_ackers; k++)
			kept |= pb->acker[k] == at && pb->acker_life[k] == s->node[at].lives;
		if (kept)
			sim_fail(s, "p%u (%s id %llx) delivered to consumer %u at n%u after a "
				 "consumer's ack of it was acknowledged at %.6fs and applied "
				 "by that node life (invariant 2)", p,
				 sim_mdest_name(pb->dest, &(size_t){ 0 }), (unsigned long long)id,
				 cons, at, (double)pb->ack_acked_us / 1e6);
		L->dups_after_ack++;
	}
	L->delivered++;
	if (pb->deliveries++)
		L->dups++;
}

void sim_mcheck_periodic(struct sim *s)
{
	struct sim_msg_layer *L = s->msgl;

	sim_mcheck_recount(s, "the 100 ms check", 0);
	for (uint32_t i = 0; i < s->o.nodes && !s->failed; i++) {
		const struct sim_mnode *mn = &L->n[i];

		if (!mn->reg)
			continue;
		if (mn->n_slots > SIM_MSLOTS || mn->n_holds > SIM_MHOLDS)
			sim_fail(s, "n%u: %u RPC slots, %u held ops (invariant 3)", i,
				 mn->n_slots, mn->n_holds);
		for (uint32_t dest = 0; dest < SIM_MDESTS; dest++) {
			size_t len;
			const char *name = sim_mdest_name(dest, &len);
			struct weft_dest *d = weft_msg_find(mn->reg, name, len);
			struct weft_dest_stats st;

			if (!d)
				continue;
			weft_dest_lock(d);
			weft_dest_get_stats(d, &st);
			weft_dest_unlock(d);
			if (st.depth > L->max_depth_seen)
				L->max_depth_seen = st.depth;
			if (st.depth > L->opts.max_depth || st.waiting > WEFT_MSG_WAITERS_MAX ||
			    st.consumers > WEFT_MSG_CONSUMERS_MAX ||
			    st.subscriber_nodes > WEFT_MSG_NODES_MAX)
				sim_fail(s, "n%u %s: depth %llu (max %u), %llu waiting, %llu "
					 "consumers, %llu subscriber nodes (invariant 3)", i, name,
					 (unsigned long long)st.depth, L->opts.max_depth,
					 (unsigned long long)st.waiting,
					 (unsigned long long)st.consumers,
					 (unsigned long long)st.subscriber_nodes);
		}
	}
	if (L->n_pend > 4096)
		sim_fail(s, "%u acks pending at the consumers (invariant 3)", L->n_pend);
}

void sim_mfed(struct sim *s, uint32_t node, uint64_t p, uint32_t feeder)
{
	struct sim_msg_layer *L = s->msgl;

	if (p < SIM_MMAX_PUBS && feeder < s->o.nodes)
		L->feed[(size_t)p * s->o.nodes + node] =
			(feeder + 1) | (s->node[feeder].lives & 0xffffu) << 8;
}

struct idp {
	uint64_t id;
	uint32_t p;
};

static int cmp_idp(const void *a, const void *b)
{
	uint64_t x = ((const struct idp *)a)->id, y = ((const struct idp *)b)->id;

	return x < y ? -1 : x > y;
}

/* Whether the feeder life of r held p when it fed r: it had applied p's
 * APPEND when p's publish was acknowledged, and did so before r reached
 * the subscriber - the primary since it accepted p, another owner (applied
 * at a time not recorded) surely by the acknowledgement. A publish a
 * split brain's other side accepted reaches the feeder only after the
 * partition heals: the deliveries it fed before did not skip it. */
static bool feeder_held(const struct sim_mpub *pb, const struct sim_mrecv *r)
{
	for (uint32_t k = 0; k < pb->n_holders0; k++)
		if (pb->holder0[k] == r->feeder &&
		    (pb->holder0_life[k] & 0xffffu) == r->feeder_life)
			return (pb->holder0[k] == pb->primary ? pb->accepted_us : pb->acked_us) <=
			       r->at_us;
	return false;
}

/* Whether a delivery of subscription (c, epoch) from index k on reported a
 * drop: a message another primary accepted in a split brain can reach the
 * feeder after the later delivery; the subscriber then learns it missed
 * one with its next delivery. */
static bool reported_later(const struct sim_msg_layer *L, uint32_t k, uint32_t c,
			   uint64_t epoch)
{
	for (uint32_t j = k; j < L->n_recv; j++)
		if (L->recv[j].cons == c && L->recv[j].epoch == epoch && L->recv[j].dropped_before)
			return true;
	return false;
}

/* Invariant (4) over whole subscriptions: no acknowledged publish of the
 * topic lies strictly between two consecutive deliveries unless a drop was
 * reported then or later in the subscription. */
static void check_gaps(struct sim *s)
{
	struct sim_msg_layer *L = s->msgl;

	for (uint32_t t = 0; t < SIM_MTOPICS && !s->failed; t++) {
		uint32_t dest = 2 * SIM_MQUEUES + t, n = 0;
		struct idp *ids = malloc((L->n_pubs + 1) * sizeof(*ids));

		if (!ids) {
			sim_fail(s, "out of memory checking topic gaps");
			return;
		}
		for (uint32_t p = 0; p < L->n_pubs; p++)
			if (L->pub[p].dest == dest && L->pub[p].acked_us)
				ids[n++] = (struct idp){ L->pub[p].id, p };
		qsort(ids, n, sizeof(*ids), cmp_idp);
		for (uint32_t c = 0; c < L->n_cons && !s->failed; c++) {
			const struct sim_mrecv *prev = NULL;

			if (L->cons[c].dest != dest)
				continue;
			for (uint32_t k = 0; k < L->n_recv && !s->failed; k++) {
				const struct sim_mrecv *r = &L->recv[k];
				uint32_t lo = 0, hi = n;

				if (r->cons != c)
					continue;
				if (!prev || prev->epoch != r->epoch || r->dropped_before) {
					prev = r;
					continue;
				}
				while (lo < hi) {  /* first acked id > prev->id */
					uint32_t mid = (lo + hi) / 2;

					if (ids[mid].id <= prev->id)
						lo = mid + 1;
					else
						hi = mid;
				}
				for (; lo < n && ids[lo].id < r->id && !s->failed; lo++)
					if (feeder_held(&L->pub[ids[lo].p], r) &&
					    !reported_later(L, k, c, r->epoch))
						sim_fail(s, "topic %s: subscriber %u (subscription "
							 "%llu) got id %llx then %llx from n%u, which "
							 "held the acknowledged p%u (id %llx) it "
							 "skipped, with no drop reported (invariant 4)",
							 sim_mdest_name(dest, &(size_t){ 0 }), c,
							 (unsigned long long)r->epoch,
							 (unsigned long long)prev->id,
							 (unsigned long long)r->id, r->feeder, ids[lo].p,
							 (unsigned long long)ids[lo].id);
				prev = r;
			}
		}
		free(ids);
	}
}

void sim_mcheck_end(struct sim *s)
{
	struct sim_msg_layer *L = s->msgl;

	if (s->failed)
		return;
	sim_mcheck_recount(s, "the end", 0);
	for (uint32_t p = 0; p < L->n_pubs && !s->failed; p++) {
		const struct sim_mpub *pb = &L->pub[p];

		if (exempt(pb) || pb->dead)
			continue;
		sim_fail(s, "acknowledged message p%u (%s id %llx, acknowledged at %.6fs) was "
			 "never consumed: at the end it is held by node mask %llx, %.1fs after "
			 "publishing stopped (invariant 1, liveness)", p,
			 sim_mdest_name(pb->dest, &(size_t){ 0 }), (unsigned long long)pb->id,
			 (double)pb->acked_us / 1e6, (unsigned long long)pb->holders,
			 (double)(s->now - L->pubs_end_us) / 1e6);
	}
	check_gaps(s);
}

void sim_msg_summary(const struct sim *s, char *buf, size_t n)
{
	const struct sim_msg_layer *L = s->msgl;

	if (!L) {
		buf[0] = 0;
		return;
	}
	snprintf(buf, n, "; msg: %llu published, %llu acked, %llu NOT_OWNER, %llu BUSY, "
		 "%llu FULL, %llu gave up, %llu delivered (%llu dups, %llu after an "
		 "acknowledged ack, by a stale primary), %llu acks acked, "
		 "%llu dead-lettered, %llu lost (excused), topics %llu delivered %llu "
		 "dropped, %llu transfers, %llu MSG_REPL, max depth %llu",
		 (unsigned long long)L->published, (unsigned long long)L->pub_acked,
		 (unsigned long long)L->not_owner, (unsigned long long)L->busy,
		 (unsigned long long)L->full, (unsigned long long)L->gave_up,
		 (unsigned long long)L->delivered, (unsigned long long)L->dups,
		 (unsigned long long)L->dups_after_ack, (unsigned long long)L->acks_acked, (unsigned long long)L->dead,
		 (unsigned long long)L->lost_excused, (unsigned long long)L->tdelivered,
		 (unsigned long long)L->tdropped, (unsigned long long)L->xfers,
		 (unsigned long long)L->repl_msgs, (unsigned long long)L->max_depth_seen);
}

void sim_msg_totals(const struct sim *s, uint64_t *acked, uint64_t *delivered, uint64_t *dups)
{
	const struct sim_msg_layer *L = s->msgl;

	if (!L)
		return;
	*acked += L->pub_acked;
	*delivered += L->delivered;
	*dups += L->dups;
}
