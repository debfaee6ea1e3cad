/*
 * sim_sess_client.c — the sessions layer's visitors, the model of what they
 * were told, and the invariants (sim_sess.h).
 *
 * Visitors: one arrives every 100-300 ms from 2 s until 25 s before the end
 * and CREATEs a session (max-inactive 3-8 s, so slack 1 s); half are kept
 * busy (an op every 0.1-2 s for 5-30 s), half make 0-2 ops and go idle;
 * a quarter of the busy ones INVALIDATE at the end. Ops: SET of a0..a3
 * with an increasing value, GET, TOUCH, LOAD; each goes to a random live
 * node (the visitor's app instance) and one is in flight per visitor; an
 * attempt unanswered in SIM_ZCALL_US is sent again (GET, SET, TOUCH, LOAD,
 * INVALIDATE: libweft's and the app's retries) until SIM_ZOP_GIVE_UP_US.
 *
 * Invariants:
 *  (1) no acknowledged SET lost: a GET answers the attribute's last value
 *      acknowledged before the GET was first sent, or a later one (never
 *      NOT_FOUND or NO_SESSION for it) — excused when `owners` holders of
 *      the session crashed since it was last on `owners` live nodes with
 *      the acked version, or when that ack came before such a loss (a
 *      copy that missed it may have been written since, a newer version
 *      without it: counted lost_excused), or when a partition or a
 *      pause was in force within SIM_CALM_US before that ack or at any time
 *      since (no quorum: both sides serve, the newer version wins on the
 *      merge; counted split_excused);
 *  (2) a session whose last acknowledged access was applied at t_a is not
 *      removed by expiry (EXPIRE, or an op finding it past its deadline) or
 *      answered NO_SESSION before t_a + max_inactive - skew, skew = how far
 *      the removing node's wall clock is ahead of the slowest node's (the
 *      rule's tolerance, docs/simulation.md); same excuses as (1);
 *  (3) once the cluster converged after the faults, a session is held by
 *      no live node later than max(t_last + max_inactive + slack + skew,
 *      converged + SIM_ZFAILOVER_US) + 2 pass periods + 1 s, t_last the
 *      last time any node applied an access to it (skew: 2 x 20 ms + 2% of
 *      the elapsed time, the drift bound);
 *  (4) bounded: held answers per node (checked where made), pushes in
 *      flight, the event queue, tombstones reclaimed after 10 s, and at the
 *      end no answer held past the give-up bound.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_sess.h"

/* ---- clocks ---- */

static int64_t err_us(const struct sim *s, uint32_t i, uint64_t t)
{
	return (int64_t)((double)t * s->node[i].drift) + s->sess->n[i].woff_us;
}

uint64_t sim_zskew_us(const struct sim *s, uint32_t b, uint64_t tb, uint32_t c, uint64_t tc)
{
	int64_t eb = err_us(s, b, tb), lo = err_us(s, c, tc);

	for (uint32_t j = 0; j < s->o.nodes; j++) {   /* the slowest clock then or now */
		int64_t e1 = err_us(s, j, tc), e2 = err_us(s, j, tb);

		lo = e1 < lo ? e1 : lo;
		lo = e2 < lo ? e2 : lo;
	}
	return (uint64_t)(eb > lo ? eb - lo : 0) + 2000;   /* + ms rounding, both ends */
}

/* ---- the model ---- */

/* ref: the visitor's ack the check relies on. */
static bool excused(struct sim *s, struct sim_zsess *z, uint64_t ref)
{
	struct sim_sess_layer *L = s->sess;

	if (z->exposure >= SIM_ZOWNERS || (z->lost_us && ref <= z->lost_us)) {
		L->lost_excused++;
		sim_ztrace(s, 0, SIM_ZT_LOST, (uint32_t)(z - L->z), 0, z->exposure);
		return true;
	}
	if (L->disturbed_us && ref <= L->disturbed_us + SIM_CALM_US) {
		L->split_excused++;
		sim_ztrace(s, 0, SIM_ZT_LOST, (uint32_t)(z - L->z), 1, L->disturbed_us);
		return true;
	}
	return false;
}

static void zfail2(struct sim *s, struct sim_zsess *z, uint32_t node, uint64_t t,
		   const char *how, bool no_table)
{
	uint32_t k = (uint32_t)(z - s->sess->z);

	s->sess->focus = k;
	sim_fail(s, "(2) session z%u %s by n%u %.3fs after its last acknowledged access "
		 "(applied by n%u at %.3fs), max-inactive %us, clock skew allowance %.3fs%s",
		 k, how, node, (double)(t - z->acc_us) / 1e6, z->acc_node,
		 (double)z->acc_us / 1e6, z->mi_s,
		 (double)sim_zskew_us(s, node, t, z->acc_node, z->acc_us) / 1e6,
		 no_table ? " [served by a life without a table, or not the life the "
			    "forwarder's view names]" : "");
}

/* Whether removing z by node at t is premature (invariant 2). */
static bool premature(const struct sim *s, const struct sim_zsess *z, uint32_t node, uint64_t t)
{
	if (!z->has_acc || t < z->acc_us)
		return false;
	return t - z->acc_us + sim_zskew_us(s, node, t, z->acc_node, z->acc_us) <
	       (uint64_t)z->mi_s * 1000000u;
}

void sim_zmodel_access(struct sim *s, uint32_t sess)
{
	s->sess->z[sess].touch_us = s->now;
}

void sim_zmodel_expired(struct sim *s, uint32_t node, uint32_t sess)
{
	struct sim_zsess *z = &s->sess->z[sess];

	z->expired_us = s->now;
	z->expired_by = node;
	if (z->state == SIM_ZS_LIVE && premature(s, z, node, s->now) && !excused(s, z, z->ack_us))
		zfail2(s, z, node, s->now, "expired", false);
}

void sim_zmodel_crash(struct sim *s, uint32_t node)
{
	struct sim_sess_layer *L = s->sess;

	for (uint32_t k = 0; k < L->n_z; k++)
		if (L->n[node].ent[k].state == 1 && ++L->z[k].exposure >= SIM_ZOWNERS)
			L->z[k].lost_us = s->now;
}

/* ---- visitors ---- */

static uint32_t pick_entry(struct sim *s)
{
	uint32_t cand[SIM_ZMAX_NODES], n = 0;

	for (uint32_t i = 0; i < s->o.nodes; i++)
		if (sim_zlive(s, i) && !s->node[i].paused)
			cand[n++] = i;
	return n ? cand[sim_below(&s->rng, n)] : SIM_ZNONE;
}

/* retry: the same op sent again (libweft's retransmission, WEFT_F_RETRY). */
static void send_op(struct sim *s, struct sim_zsess *z, bool retry)
{
	struct sim_sess_layer *L = s->sess;
	uint32_t k = (uint32_t)(z - L->z), e = pick_entry(s);
	struct sim_zev req = { .sess = k, .action = z->p_action, .op = z->p_op, .attr = z->p_attr,
			       .val = z->p_val, .max_inactive_s =
				       z->p_action == WEFT_SESS_CREATE ? z->mi_s : 0,
			       .retry = retry };

	z->p_sent_us = s->now;
	if (e == SIM_ZNONE)
		return;               /* no node to talk to: the attempt times out */
	z->p_entry = e;
	sim_ztrace(s, e, SIM_ZT_OP, k, z->p_op, (uint64_t)z->p_action << 32 | z->p_val);
	sim_zsubmit(s, e, &req);
}

static void start_op(struct sim *s, struct sim_zsess *z, uint8_t action)
{
	struct sim_sess_layer *L = s->sess;

	z->pending = true;
	z->p_action = action;
	z->p_attr = sim_below(&s->rng, SIM_ZATTRS);
	z->p_val = action == WEFT_SESS_SET ? ++z->next_val : 0;
	z->p_op = ++L->next_op_id;
	z->p_first_us = s->now;
	memcpy(z->p_snap, z->acked, sizeof(z->p_snap));
	z->ops++;
	L->ops++;
	send_op(s, z, false);
}

static void new_visitor(struct sim *s)
{
	struct sim_sess_layer *L = s->sess;
	struct sim_zsess *z = &L->z[L->n_z++];

	memset(z, 0, sizeof(*z));
	for (unsigned b = 0; b < WEFT_SESSION_ID_LEN; b += 8) {
		uint64_t r = sim_rand(&s->rng) | 1;

		memcpy(z->id + b, &r, 8);
	}
	z->seg = sim_zseg_of(z->id);
	z->mi_s = 3 + sim_below(&s->rng, 6);
	z->busy = sim_below(&s->rng, 2);
	z->stop_us = s->now + (z->busy ? 5000000 + sim_below(&s->rng, 25000000)
				       : sim_below(&s->rng, 2000000));
	z->state = SIM_ZS_CREATING;
	start_op(s, z, WEFT_SESS_CREATE);
}

static void next_op(struct sim *s, struct sim_zsess *z)
{
	uint32_t r = sim_below(&s->rng, 100);

	if (s->now >= z->stop_us) {
		if (z->busy && (z->ops & 3) == 0)
			start_op(s, z, WEFT_SESS_INVALIDATE);
		z->next_op_us = UINT64_MAX;   /* idle from now on */
		return;
	}
	start_op(s, z, r < 45 ? WEFT_SESS_SET : r < 85 ? WEFT_SESS_GET
					 : r < 93 ? WEFT_SESS_TOUCH : WEFT_SESS_LOAD);
}

static void schedule_next(struct sim *s, struct sim_zsess *z)
{
	if (z->next_op_us == UINT64_MAX)
		return;
	z->next_op_us = s->now + (z->busy ? 100000 + sim_below(&s->rng, 1900000)
					  : 300000 + sim_below(&s->rng, 1000000));
}

void sim_zclient_tick(struct sim *s)
{
	struct sim_sess_layer *L = s->sess;

	while (s->now >= L->next_create_us && s->now < L->create_end_us && L->n_z < SIM_ZMAX) {
		new_visitor(s);
		L->next_create_us += 100000 + sim_below(&s->rng, 200000);
	}
	for (uint32_t k = 0; k < L->n_z; k++) {
		struct sim_zsess *z = &L->z[k];

		if (z->pending) {
			if (s->now < z->p_sent_us + SIM_ZCALL_US)
				continue;
			bool retry = z->p_action != WEFT_SESS_CREATE &&
				     s->now < z->p_first_us + SIM_ZOP_GIVE_UP_US;

			sim_ztrace(s, z->p_entry, SIM_ZT_TIMEOUT, k, z->p_op, retry);
			if (retry) {
				bool again = z->p_action != WEFT_SESS_INVALIDATE;

				if (!again)                          /* a new call */
					z->p_op = ++L->next_op_id;
				send_op(s, z, again);
				continue;
			}
			L->gave_up++;
			z->pending = false;
			if (z->state == SIM_ZS_CREATING || z->p_action == WEFT_SESS_INVALIDATE)
				z->state = SIM_ZS_ABANDONED;
			schedule_next(s, z);
			continue;
		}
		if (z->state == SIM_ZS_LIVE && s->now >= z->next_op_us)
			next_op(s, z);
	}
}

/* An access the visitor heard acknowledged: it counts from its apply. */
static void acked_access(struct sim *s, struct sim_zsess *z, const struct sim_zev *a)
{
	if (z->expired_us > a->apply_us && z->has_acc &&
	    premature(s, z, z->expired_by, z->expired_us) && !excused(s, z, z->ack_us)) {
		zfail2(s, z, z->expired_by, z->expired_us, "expired (before this ack arrived)", false);
		return;
	}
	if (!z->has_acc || a->apply_us >= z->acc_us) {
		z->acc_us = a->apply_us;
		z->acc_node = a->served_by;
	}
	z->has_acc = true;
	z->ack_us = s->now;
	s->sess->acked++;
}

static void check_get(struct sim *s, struct sim_zsess *z, const struct sim_zev *a)
{
	uint32_t k = (uint32_t)(z - s->sess->z);
	uint64_t want = z->p_snap[z->p_attr];

	s->sess->checks_get++;
	if (a->status == WEFT_ST_OK && a->val >= want && a->val <= z->next_val)
		return;
	if (a->status == WEFT_ST_NOT_FOUND && want == 0)
		return;
	if (excused(s, z, z->set_ack_us[z->p_attr]))
		return;
	s->sess->focus = k;
	sim_fail(s, "(1) session z%u: GET a%u answered %s %llu by n%u at %.3fs, but SET %llu was "
		 "acknowledged before it was sent (at %.3fs)", k, z->p_attr,
		 a->status == WEFT_ST_OK ? "value" : "NOT_FOUND", (unsigned long long)a->val,
		 a->served_by, (double)a->apply_us / 1e6, (unsigned long long)want,
		 (double)z->p_first_us / 1e6);
}

void sim_zclient_answer(struct sim *s, const struct sim_zev *a)
{
	struct sim_sess_layer *L = s->sess;
	struct sim_zsess *z = &L->z[a->sess];

	if (!z->pending || a->op != z->p_op)
		return;               /* late, duplicated, or an earlier attempt's */
	sim_ztrace(s, a->served_by, SIM_ZT_ANS, a->sess, a->op,
		   (uint64_t)a->action << 32 | a->status);
	if (a->status == WEFT_ST_BUSY) {
		L->busy++;
		return;               /* as a timeout: the attempt is sent again */
	}
	z->pending = false;
	schedule_next(s, z);
	switch (a->status) {
	case WEFT_ST_OK:
	case WEFT_ST_NOT_FOUND:
	case WEFT_ST_EXISTS:
		if (a->action == WEFT_SESS_INVALIDATE) {
			z->state = SIM_ZS_GONE;
			break;
		}
		if (a->action == WEFT_SESS_CREATE) {
			if (a->status == WEFT_ST_NOT_FOUND)
				break;
			z->state = SIM_ZS_LIVE;
			z->next_op_us = s->now;
		}
		if (a->action == WEFT_SESS_GET)
			check_get(s, z, a);
		acked_access(s, z, a);
		if (a->action == WEFT_SESS_SET && a->status == WEFT_ST_OK) {
			L->sets_acked++;
			z->set_ack_us[z->p_attr] = s->now;
			if (z->p_val > z->acked[z->p_attr])
				z->acked[z->p_attr] = z->p_val;
		}
		if (a->ver > z->acked_ver)
			z->acked_ver = a->ver;
		break;
	case WEFT_ST_NO_SESSION:
		if (a->action == WEFT_SESS_INVALIDATE || z->state != SIM_ZS_LIVE) {
			z->state = SIM_ZS_GONE;
			break;
		}
		if (premature(s, z, a->served_by, a->apply_us) && !excused(s, z, z->ack_us)) {
			zfail2(s, z, a->served_by, a->apply_us, "answered NO_SESSION", a->no_table);
			return;
		}
		/* not premature: the session may have expired while the op
		 * was retried (its primary crashed), its values with it - no
		 * GET value to check (1 holds for a live session) */
		L->no_session_ok++;
		z->state = SIM_ZS_GONE;       /* expired: the visitor starts anew */
		break;
	default:
		sim_fail(s, "session z%u: %s answered status %u", a->sess,
			 a->action == WEFT_SESS_CREATE ? "CREATE" : "an op", a->status);
	}
}

/* ---- checks ---- */

void sim_zcheck(struct sim *s)
{
	struct sim_sess_layer *L = s->sess;
	uint32_t qbound = 64u * s->o.nodes * 8u + 8u * SIM_ZMAX + 1024u;

	if (L->n_heap > qbound) {
		sim_fail(s, "(4) sessions event queue holds %u events (bound %u)", L->n_heap, qbound);
		return;
	}
	if ((s->now / SIM_ZTICK_US) % 10)
		return;               /* the O(sessions x nodes) checks: every 100 ms */
	for (uint32_t k = 0; k < L->n_z && !s->failed; k++) {
		struct sim_zsess *z = &L->z[k];
		uint32_t holders = 0, any = 0;

		for (uint32_t i = 0; i < s->o.nodes; i++) {
			const struct sim_zent *e;

			if (!sim_zlive(s, i))
				continue;
			e = &L->n[i].ent[k];
			if (e->state == 2 && s->now - e->tomb_us > SIM_ZTOMB_US + 2 * SIM_ZTICK_US &&
			    s->now > s->node[i].calm_after) {
				sim_fail(s, "(4) n%u keeps z%u's tombstone past %u ms", i, k,
					 SIM_ZTOMB_US / 1000);
				return;
			}
			any += e->state == 1;
			holders += e->state == 1 && e->ver >= z->acked_ver &&
				   sim_zowns(&L->n[i], z->seg);
		}
		if (holders >= SIM_ZOWNERS)
			z->exposure = 0;
		if (!any || !s->converged_at || !z->touch_us)
			continue;
		uint64_t slack = weft_session_slack_ms(z->mi_s) * 1000u;
		uint64_t skew = 2 * SIM_ZWOFF_US + (uint64_t)((double)s->now * 0.02) + 2000;
		uint64_t a = z->touch_us + z->mi_s * 1000000ull + slack + skew;
		uint64_t b = s->converged_at + SIM_ZFAILOVER_US;
		uint64_t by = (a > b ? a : b) + 2 * SIM_ZPASS_US + 1000000;

		L->gone_checked++;
		if (s->now > by) {
			for (uint32_t i = 0; i < s->o.nodes; i++)
				if (sim_zlive(s, i) && L->n[i].ent[k].state == 1) {
					L->focus = k;
					sim_fail(s, "(3) n%u still holds idle session z%u %.3fs after "
						 "its last access (max-inactive %us; bound %.3fs after "
						 "it)", i, k, (double)(s->now - z->touch_us) / 1e6,
						 z->mi_s, (double)(by - z->touch_us) / 1e6);
					return;
				}
		}
	}
}

void sim_zcheck_end(struct sim *s)
{
	struct sim_sess_layer *L = s->sess;

	/* (4) at the end: no held answer older than the give-up bound, every
	 * push in flight aimed at a member of its node's view. */
	for (uint32_t i = 0; i < s->o.nodes && !s->failed; i++) {
		const struct sim_znode *n = &L->n[i];

		if (!sim_zlive(s, i) || s->node[i].paused)
			continue;
		for (uint32_t h = 0; h < n->n_hold; h++)
			if (s->now - n->hold[h].first_us > SIM_ZGIVE_UP_US + SIM_ZTICK_US)
				sim_fail(s, "(4) n%u holds an answer for %.3fs", i,
					 (double)(s->now - n->hold[h].first_us) / 1e6);
		if (n->n_xf > SIM_ZOWNERS * L->n_z)
			sim_fail(s, "(4) n%u has %u pushes in flight for %u sessions", i, n->n_xf,
				 L->n_z);
	}
}

/* ---- output ---- */

static const char *const what_s[] = {
	"op", "serve", "forward", "read-thru", "answer", "timeout", "EXPIRED", "view", "life",
	"BUSY", "drop", "excused", "refused", "discarded", "rt-busy", "outside",
};

static const char *action_s(uint64_t a)
{
	static const char *const n[] = { "-", "CREATE", "GET", "SET", "REMOVE", "LIST",
					 "LOAD", "TOUCH", "INVALIDATE", "EXPIRE", "INFO" };

	return a < sizeof(n) / sizeof(n[0]) ? n[a] : "?";
}

void sim_zprint(FILE *f, const struct sim_ztrace *t)
{
	fprintf(f, "  %10.6f n%-3u sess %-9s ", (double)t->t / 1e6, t->node, what_s[t->what]);
	if (t->sess < SIM_ZMAX)
		fprintf(f, "z%-4u ", t->sess);
	else
		fprintf(f, "      ");
	switch (t->what) {
	case SIM_ZT_OP:
		fprintf(f, "op %llu %s val %llu\n", (unsigned long long)t->a, action_s(t->b >> 32),
			(unsigned long long)(t->b & 0xffffffffu));
		break;
	case SIM_ZT_SERVE:
		fprintf(f, "op %llu %s -> status %llu outcome %llu\n", (unsigned long long)t->a,
			action_s(t->b >> 32), (unsigned long long)(t->b >> 8 & 0xff),
			(unsigned long long)(t->b & 0xff));
		break;
	case SIM_ZT_ANS:
		fprintf(f, "op %llu %s status %llu\n", (unsigned long long)t->a,
			action_s(t->b >> 32), (unsigned long long)(t->b & 0xffff));
		break;
	case SIM_ZT_FWD:
	case SIM_ZT_RT:
	case SIM_ZT_RTBUSY:
		fprintf(f, "op %llu -> n%llu\n", (unsigned long long)t->a, (unsigned long long)t->b);
		break;
	default:
		fprintf(f, "%llu %llu\n", (unsigned long long)t->a, (unsigned long long)t->b);
	}
}

void sim_sess_dump(const struct sim *s, FILE *f, const char *replay)
{
	const struct sim_sess_layer *L = s->sess;
	uint32_t n = L->n_trace < SIM_TRACE ? L->n_trace : SIM_TRACE;

	sim_dump(s, f, replay);
	fprintf(f, "last %u sessions-layer events (serve: status 0 OK 1 NOT_FOUND 2 EXISTS "
		"12 BUSY 20 NO_SESSION, outcome 0 unchanged 1 store 2 delete;\n"
		"view, outside (a view without this life): id, members; life: nonce, 1 start 0 end; "
		"excused: 0 by holder crashes "
		"(their count), 1 by a partition or pause (last in force, us)):\n", n);
	for (uint32_t i = L->n_trace - n; i < L->n_trace; i++)
		sim_zprint(f, &L->trace[i % SIM_TRACE]);
	if (L->focus < L->n_z) {
		const struct sim_zsess *z = &L->z[L->focus];
		uint32_t m = z->n_hist < SIM_ZHIST ? z->n_hist : SIM_ZHIST;

		fprintf(f, "the last %u events of session z%u (max-inactive %us, segment %u):\n", m,
			L->focus, z->mi_s, z->seg);
		for (uint32_t i = z->n_hist - m; i < z->n_hist; i++)
			sim_zprint(f, &z->hist[i % SIM_ZHIST]);
	}
}

void sim_sess_summary(const struct sim *s, char *buf, size_t n)
{
	const struct sim_sess_layer *L = s->sess;

	if (!L) {
		buf[0] = 0;
		return;
	}
	snprintf(buf, n, "; sess: %u sessions, %llu ops (%llu acked, %llu SETs), %llu GETs "
		 "checked, %llu expired, %llu NO_SESSION after expiry, %llu slack writes, "
		 "%llu retried reads replicated, %llu read-through, %llu forwarded, %llu BUSY "
		 "(%llu refused: no view, outside the view, or a "
		 "CREATE at a non-owner; %llu read-through target dead), %llu due copies "
		 "discarded, %llu gave up, excused %llu crash / %llu split", L->n_z,
		 (unsigned long long)L->ops, (unsigned long long)L->acked,
		 (unsigned long long)L->sets_acked, (unsigned long long)L->checks_get,
		 (unsigned long long)L->expired,
		 (unsigned long long)L->no_session_ok, (unsigned long long)L->slack_writes,
		 (unsigned long long)L->retry_writes,
		 (unsigned long long)L->read_through, (unsigned long long)L->fwd,
		 (unsigned long long)L->busy, (unsigned long long)L->refused,
		 (unsigned long long)L->rt_busy, (unsigned long long)L->discarded,
		 (unsigned long long)L->gave_up,
		 (unsigned long long)L->lost_excused, (unsigned long long)L->split_excused);
}

void sim_sess_totals(const struct sim *s, uint64_t *runs, uint64_t *acked)
{
	if (s->sess) {
		*runs += 1;
		*acked += s->sess->acked;
	}
}
