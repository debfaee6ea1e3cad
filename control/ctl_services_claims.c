/*
 * ctl_services_claims.c — the glue between the singleton machine
 * (ctl_singleton.h) and the world: it feeds the machine the view
 * (weft_dp_members copies: UUID text parsed to 16 bytes, states mapped,
 * view id, no_quorum) and performs the machine's actions in order:
 * READ / CAS / RELEASE against the claim store (cache "weft.singletons",
 * key "<app>/<name>", 33-byte claims), START / STOP of the unit named.
 *
 * Services thread only, sv->lock held on entry and exit; store I/O and the
 * view copy run with the lock dropped (other threads may add units or mark
 * them gone meanwhile; nobody else touches the machine or the FIFO).
 * Every action the machine emits lands in the FIFO exactly once and is
 * answered exactly once (a READ by claim or by cas_done(false), a write by
 * cas_done), so the machine's "one operation in flight" holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-qsbr.h>

#include "control.h"
#include "ctl_services_internal.h"

int sv_sgl_create(struct ctl_services *sv)
{
	struct weft_ctl_sgl_config cfg = {
		.self = sv->self,
		.max_singletons = SV_MAX_SINGLETONS,
		.max_members = WEFT_DP_MEMBERS_MAX,
		.step_ms = sv->env.step_ms,
		.poll_ms = sv->env.poll_ms,
	};

	sv->sgl = weft_ctl_singletons_create(&cfg);
	if (sv->sgl == NULL)
		return -errno;
	sv->out_cap = weft_ctl_singletons_out_min(sv->sgl);
	sv->out = calloc(sv->out_cap, sizeof(*sv->out));
	sv->view_m = calloc(WEFT_DP_MEMBERS_MAX, sizeof(*sv->view_m));
	/* Room for two full outputs: the FIFO then never grows in practice
	 * (each singleton has one store operation in flight, plus a START or
	 * STOP), so actions are not lost to a failed allocation. */
	sv->fifo_cap = 2u * sv->out_cap;
	sv->fifo = calloc(sv->fifo_cap, sizeof(*sv->fifo));
	if (sv->out == NULL || sv->view_m == NULL || sv->fifo == NULL)
		return -ENOMEM;
	return 0;
}

void sv_sgl_take(struct ctl_services *sv, const struct weft_ctl_sgl_out *out)
{
	uint32_t n = out->n;

	sv->sgl_next_ms = out->next_ms;
	if (n == 0)
		return;
	if (sv->fifo_head == sv->fifo_n)
		sv->fifo_head = sv->fifo_n = 0;
	if (sv->fifo_n + n > sv->fifo_cap) {
		size_t cap = (sv->fifo_n + n) * 2;
		void *p = realloc(sv->fifo, cap * sizeof(*sv->fifo));
		if (p == NULL) {
			weft_ctl_log(WEFT_LOG_ERROR,
				     "services: out of memory: %u singleton actions dropped", n);
			return;
		}
		sv->fifo = p;
		sv->fifo_cap = cap;
	}
	memcpy(sv->fifo + sv->fifo_n, out->act, n * sizeof(*out->act));
	sv->fifo_n += n;
}

static struct sv_unit *hosted_unit(struct ctl_services *sv, const char *full)
{
	for (struct sv_unit *u = sv->units; u != NULL; u = u->next)
		if (u->hosted && strcmp(u->full, full) == 0)
			return u;
	return NULL;
}

static void do_read(struct ctl_services *sv, const struct weft_ctl_sgl_action *a)
{
	struct weft_ctl_sgl_out out = {.act = sv->out, .cap = sv->out_cap};
	uint8_t buf[WEFT_CTL_SGL_CLAIM_BYTES + 1];
	struct weft_ctl_sgl_claim c = {.kind = WEFT_CTL_SGL_ABSENT};
	size_t len = 0;
	uint64_t ver = 0;
	int rc;

	pthread_mutex_unlock(&sv->lock);
	rc = sv->env.store.get(sv->env.store.ctx, SV_CACHE_CLAIMS, a->name, buf, sizeof(buf), &len,
			       &ver);
	pthread_mutex_lock(&sv->lock);
	if (rc == 0 && (ver == 0 || weft_ctl_singletons_decode(buf, len, ver, &c) != 0)) {
		/* Not a claim (written by someone else): claimable, and a CAS
		 * on its version replaces it. */
		weft_ctl_log(WEFT_LOG_WARN, "services: claim %s in %s is malformed (%zu bytes); "
					    "treated as released", a->name, SV_CACHE_CLAIMS, len);
		c = (struct weft_ctl_sgl_claim){.kind = WEFT_CTL_SGL_RELEASED, .version = ver};
		rc = ver == 0 ? -EPROTO : 0;
	}
	if (rc == 0 || rc == -ENOENT)
		rc = weft_ctl_singletons_claim(sv->sgl, sv_sgl_now(sv), a->name, &c, &out);
	else
		rc = weft_ctl_singletons_cas_done(sv->sgl, sv_sgl_now(sv), a->name, false, 0, &out);
	if (rc == 0)
		sv_sgl_take(sv, &out);
}

static void do_write(struct ctl_services *sv, const struct weft_ctl_sgl_action *a)
{
	struct weft_ctl_sgl_out out = {.act = sv->out, .cap = sv->out_cap};
	uint8_t buf[WEFT_CTL_SGL_CLAIM_BYTES];
	uint64_t ver = 0;
	int rc;

	weft_ctl_singletons_encode(&a->value, buf);
	/* A claim for an app on its way out (undeployed here, the unload not
	 * done yet): not made, so an undeploy --all does not pass the
	 * singleton from node to node while each one unloads the app. */
	struct sv_unit *u = hosted_unit(sv, a->name);
	bool claim = a->kind == WEFT_CTL_SGL_CAS && a->value.kind == WEFT_CTL_SGL_HELD &&
		     memcmp(&a->value.owner, &sv->self, sizeof(sv->self)) == 0;
	if (claim && u != NULL && u->app != NULL && sv->env.deployed != NULL &&
	    !sv->env.deployed(sv->env.ctx, u->app)) {
		/* The machine's pending write ends unmade, and the unit leaves
		 * it (as at app_gone, which follows). */
		rc = weft_ctl_singletons_cas_done(sv->sgl, sv_sgl_now(sv), a->name, false, 0, &out);
		if (rc == 0)
			sv_sgl_take(sv, &out);
		u->gone = true;
		u->unhosted = true;
		out = (struct weft_ctl_sgl_out){.act = sv->out, .cap = sv->out_cap};
		if (weft_ctl_singletons_unhost(sv->sgl, sv_sgl_now(sv), a->name, &out) == 0)
			sv_sgl_take(sv, &out);
		weft_ctl_log(WEFT_LOG_INFO, "services: %s not claimed: its app is being undeployed",
			     a->name);
		return;
	}
	pthread_mutex_unlock(&sv->lock);
	rc = sv->env.store.cas(sv->env.store.ctx, SV_CACHE_CLAIMS, a->name, a->expected, buf,
			       sizeof(buf), &ver);
	pthread_mutex_lock(&sv->lock);
	if (rc != 0 && rc != -ECANCELED)
		weft_ctl_log(WEFT_LOG_DEBUG, "services: claim write %s: %s", a->name,
			     strerror(-rc));
	rc = weft_ctl_singletons_cas_done(sv->sgl, sv_sgl_now(sv), a->name, rc == 0 && ver != 0,
					  ver, &out);
	if (rc == 0)
		sv_sgl_take(sv, &out);
}

static void do_start(struct ctl_services *sv, const struct weft_ctl_sgl_action *a)
{
	struct sv_unit *u = hosted_unit(sv, a->name);

	if (u == NULL)
		return; /* cannot be: hosted units stay until forgotten */
	weft_ctl_log(WEFT_LOG_INFO, "services: %s %s starts here, epoch %llu",
		     u->kind == SV_DAEMON ? "daemon" : "job", u->full,
		     (unsigned long long)a->epoch);
	if (u->kind == SV_DAEMON)
		sv_daemon_start((struct weft_daemon *)u, a->epoch, a->value.since_ms);
	else
		sv_job_start((struct weft_job *)u, a->epoch, a->value.since_ms);
}

static void do_stop(struct ctl_services *sv, const struct weft_ctl_sgl_action *a)
{
	struct sv_unit *u = hosted_unit(sv, a->name);

	if (u == NULL)
		return;
	weft_ctl_log(WEFT_LOG_INFO, "services: %s %s stops here (epoch %llu)",
		     u->kind == SV_DAEMON ? "daemon" : "job", u->full,
		     (unsigned long long)u->epoch);
	if (u->kind == SV_DAEMON)
		sv_daemon_stop((struct weft_daemon *)u);
	else
		sv_job_stop((struct weft_job *)u);
}

void sv_actions_run(struct ctl_services *sv)
{
	while (sv->fifo_head < sv->fifo_n) {
		/* A copy: performing it may grow (move) the FIFO. */
		struct weft_ctl_sgl_action a = sv->fifo[sv->fifo_head++];
		switch (a.kind) {
		case WEFT_CTL_SGL_READ:
			do_read(sv, &a);
			break;
		case WEFT_CTL_SGL_CAS:
		case WEFT_CTL_SGL_RELEASE:
			do_write(sv, &a);
			break;
		case WEFT_CTL_SGL_START:
			do_start(sv, &a);
			break;
		case WEFT_CTL_SGL_STOP:
			do_stop(sv, &a);
			break;
		}
	}
	sv->fifo_head = sv->fifo_n = 0;
}

static enum weft_swim_state swim_state(uint8_t st)
{
	switch (st) {
	case WEFT_DP_MEMBER_ALIVE:
		return WEFT_SWIM_ALIVE;
	case WEFT_DP_MEMBER_SUSPECT:
		return WEFT_SWIM_SUSPECT;
	case WEFT_DP_MEMBER_LEFT:
		return WEFT_SWIM_LEFT;
	default:
		return WEFT_SWIM_DEAD;
	}
}

void sv_view_poll(struct ctl_services *sv, uint64_t now)
{
	struct weft_ctl_sgl_out out = {.act = sv->out, .cap = sv->out_cap};
	struct weft_dp_members *snap;
	struct weft_ctl_sgl_member *m;
	uint32_t n = 0;

	pthread_mutex_unlock(&sv->lock);
	urcu_qsbr_thread_online();
	snap = sv->env.view(sv->env.ctx);
	urcu_qsbr_thread_offline();
	m = snap != NULL ? calloc(snap->n > 0 ? snap->n : 1, sizeof(*m)) : NULL;
	pthread_mutex_lock(&sv->lock);
	if (m == NULL) {
		free(snap);
		return;
	}
	uint32_t live = 0;
	for (uint32_t i = 0; i < snap->n && n < WEFT_DP_MEMBERS_MAX; i++) {
		if (weft_ctl_uuid_parse(snap->m[i].id, m[n].id.b) != 0)
			continue; /* a member whose id is unknown cannot own a claim */
		m[n].state = swim_state(snap->m[i].state);
		live += m[n].state == WEFT_SWIM_ALIVE || m[n].state == WEFT_SWIM_SUSPECT;
		n++;
	}
	/* Join grace: a node that just started sees itself alone (view 0,
	 * or a cluster of one) before it finds the others; claiming then
	 * would run a second copy of singletons the cluster already runs,
	 * held by a claim in its own not yet merged store. */
	if (live <= 1 && !sv->have_view && now - sv->created_ms < sv->env.join_grace_ms) {
		free(m);
		free(snap);
		return;
	}
	bool changed = !sv->have_view || snap->view != sv->view_id ||
		       snap->no_quorum != sv->view_nq || n != sv->view_n ||
		       memcmp(m, sv->view_m, n * sizeof(*m)) != 0;
	if (changed) {
		struct weft_ctl_sgl_view v = {
			.id = snap->view, .members = m, .n = n, .no_quorum = snap->no_quorum};
		if (snap->no_quorum && !sv->view_nq)
			weft_ctl_log(WEFT_LOG_WARN, "services: no quorum: singletons stop here");
		memcpy(sv->view_m, m, n * sizeof(*m));
		sv->view_n = n;
		sv->view_id = snap->view;
		sv->view_nq = snap->no_quorum;
		sv->have_view = true;
		if (weft_ctl_singletons_view(sv->sgl, sv_sgl_now(sv), &v, &out) == 0)
			sv_sgl_take(sv, &out);
	}
	free(m);
	free(snap);
}

bool sv_sgl_find(const struct ctl_services *sv, const char *name, struct weft_ctl_sgl_status *st)
{
	struct weft_ctl_sgl_status tmp;

	for (uint32_t i = 0; weft_ctl_singletons_status(sv->sgl, i, &tmp) == 0; i++)
		if (strcmp(tmp.name, name) == 0) {
			if (st != NULL)
				*st = tmp;
			return true;
		}
	return false;
}
