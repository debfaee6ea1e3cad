/*
 * ctl_singleton.c — singleton placement (ctl_singleton.h): the per-node
 * state machine deciding, for each hosted singleton, when to read, claim
 * (CAS), release, start and stop. Pure and sans-I/O; rules and invariants
 * are in ctl_singleton.h.
 *
 * Per singleton g: the claim last read (g->known false until a read
 * succeeds, and again after a failed write, whose effect is unknown), the
 * store operation in flight (g->op, at most one), the run as announced to
 * the glue (IDLE -> RUNNING on START, -> STOPPING on STOP, -> IDLE when the
 * glue says stopped), the rank timer (g->eligible_ms: when this node
 * first saw the claim claimable) and the yield (g->yielded: the run was
 * taken over by g->yield_to; no claim against it until the next view
 * input, s->view_seq != g->yield_seq). decide() is the one place that turns the
 * state into actions; every input updates the state, then runs decide() on
 * the singletons it touched. Entries are kept dense (0..n).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <weft/wire.h>

#include "ctl_singleton.h"

/* The claim is a wire-level format: data nodes read it to fence writes. */
_Static_assert(WEFT_CTL_SGL_CLAIM_BYTES == sizeof(struct weft_singleton_claim),
	       "claims are encoded as wire.h's struct weft_singleton_claim");
_Static_assert((int)WEFT_CTL_SGL_HELD == (int)WEFT_CLAIM_HELD &&
		       (int)WEFT_CTL_SGL_RELEASED == (int)WEFT_CLAIM_RELEASED,
	       "claim kinds are wire.h's");

enum sgl_op { OP_NONE, OP_READ, OP_CAS, OP_RELEASE };
enum sgl_run { RUN_IDLE, RUN_RUNNING, RUN_STOPPING };

struct sgl {
	char name[WEFT_CTL_SGL_NAME_MAX + 1];
	size_t len;
	struct weft_ctl_sgl_claim claim;
	bool known;
	enum sgl_op op;
	struct weft_ctl_sgl_claim proposed;
	enum sgl_run run;
	struct weft_ctl_sgl_claim run_claim; /* the claim the run started on */
	bool unhosting;
	bool eligible;
	uint64_t eligible_ms;
	uint64_t read_ms; /* next read (poll, or retry after a failure) */
	uint64_t wake_ms; /* when decide() wants to run again */
	bool yielded;     /* run taken over by yield_to under view input yield_seq */
	struct weft_swim_id yield_to;
	uint64_t yield_seq;
};

struct weft_ctl_sgl {
	struct weft_swim_id self;
	uint64_t step_ms, poll_ms;
	uint32_t cap, n;
	struct sgl *g;
	uint32_t max_members, n_members;
	struct weft_ctl_sgl_member *members;
	uint64_t view_id;
	uint64_t view_seq; /* view inputs so far */
	bool have_view, no_quorum, shutdown;
};

static bool id_eq(const struct weft_swim_id *a, const struct weft_swim_id *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void weft_ctl_singletons_encode(const struct weft_ctl_sgl_claim *c,
				uint8_t buf[WEFT_CTL_SGL_CLAIM_BYTES])
{
	buf[0] = (uint8_t)c->kind;
	memcpy(buf + 1, c->owner.b, 16);
	put_le64(buf + 17, c->epoch);
	put_le64(buf + 25, c->since_ms);
}

int weft_ctl_singletons_decode(const uint8_t *buf, size_t len, uint64_t version,
			       struct weft_ctl_sgl_claim *c)
{
	if (buf == NULL || c == NULL || len != WEFT_CTL_SGL_CLAIM_BYTES ||
	    (buf[0] != WEFT_CTL_SGL_HELD && buf[0] != WEFT_CTL_SGL_RELEASED))
		return -EINVAL;
	c->kind = (enum weft_ctl_sgl_kind)buf[0];
	memcpy(c->owner.b, buf + 1, 16);
	c->epoch = get_le64(buf + 17);
	c->since_ms = get_le64(buf + 25);
	c->version = version;
	return 0;
}

struct weft_ctl_sgl *weft_ctl_singletons_create(const struct weft_ctl_sgl_config *cfg)
{
	struct weft_ctl_sgl *s;

	if (cfg == NULL || cfg->max_singletons == 0 || cfg->max_members == 0 ||
	    cfg->max_singletons > UINT32_MAX / 2) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->g = calloc(cfg->max_singletons, sizeof(*s->g));
	s->members = calloc(cfg->max_members, sizeof(*s->members));
	if (s->g == NULL || s->members == NULL) {
		weft_ctl_singletons_destroy(s);
		errno = ENOMEM;
		return NULL;
	}
	s->self = cfg->self;
	s->cap = cfg->max_singletons;
	s->max_members = cfg->max_members;
	s->step_ms = cfg->step_ms ? cfg->step_ms : WEFT_CTL_SGL_STEP_MS;
	s->poll_ms = cfg->poll_ms ? cfg->poll_ms : WEFT_CTL_SGL_POLL_MS;
	return s;
}

void weft_ctl_singletons_destroy(struct weft_ctl_sgl *s)
{
	if (s == NULL)
		return;
	free(s->g);
	free(s->members);
	free(s);
}

uint32_t weft_ctl_singletons_out_min(const struct weft_ctl_sgl *s)
{
	return 2u * s->cap;
}

/* ---- The view -------------------------------------------------------- */

static const struct weft_ctl_sgl_member *member(const struct weft_ctl_sgl *s,
						const struct weft_swim_id *id)
{
	for (uint32_t i = 0; i < s->n_members; i++)
		if (id_eq(&s->members[i].id, id))
			return &s->members[i];
	return NULL;
}

static bool live(const struct weft_ctl_sgl *s, const struct weft_swim_id *id)
{
	const struct weft_ctl_sgl_member *m = member(s, id);
	return m != NULL && (m->state == WEFT_SWIM_ALIVE || m->state == WEFT_SWIM_SUSPECT);
}

static uint64_t score(const struct sgl *g, const struct weft_swim_id *id)
{
	uint8_t buf[WEFT_CTL_SGL_NAME_MAX + 16];

	memcpy(buf, g->name, g->len);
	memcpy(buf + g->len, id->b, 16);
	return XXH3_64bits(buf, g->len + 16);
}

/* This node's rank among the live members (0 = tries first). */
static uint32_t rank(const struct weft_ctl_sgl *s, const struct sgl *g)
{
	uint64_t mine = score(g, &s->self);
	uint32_t r = 0;

	for (uint32_t i = 0; i < s->n_members; i++) {
		const struct weft_ctl_sgl_member *m = &s->members[i];
		if (id_eq(&m->id, &s->self) || !live(s, &m->id))
			continue;
		uint64_t sc = score(g, &m->id);
		if (sc > mine || (sc == mine && memcmp(m->id.b, s->self.b, 16) < 0))
			r++;
	}
	return r;
}

/* ---- Decisions ------------------------------------------------------- */

static struct weft_ctl_sgl_action *emit(const struct sgl *g, struct weft_ctl_sgl_out *out,
					enum weft_ctl_sgl_act_kind kind)
{
	struct weft_ctl_sgl_action *a = &out->act[out->n++];

	memset(a, 0, sizeof(*a));
	a->kind = kind;
	memcpy(a->name, g->name, g->len + 1);
	return a;
}

static bool mine(const struct weft_ctl_sgl *s, const struct weft_ctl_sgl_claim *c)
{
	return c->kind == WEFT_CTL_SGL_HELD && id_eq(&c->owner, &s->self);
}

/* The run may go on: the node may run singletons and the claim last read
 * is still the one the run started on. */
static bool may_run(const struct weft_ctl_sgl *s, const struct sgl *g)
{
	return !s->shutdown && !g->unhosting && s->have_view && !s->no_quorum;
}

static bool run_valid(const struct weft_ctl_sgl *s, const struct sgl *g)
{
	return may_run(s, g) &&
	       (!g->known || (mine(s, &g->claim) && g->claim.epoch == g->run_claim.epoch));
}

static void cas(struct weft_ctl_sgl *s, struct sgl *g, struct weft_ctl_sgl_time t,
		struct weft_ctl_sgl_out *out)
{
	uint64_t epoch = g->claim.kind == WEFT_CTL_SGL_ABSENT ? 1 : g->claim.epoch + 1;
	struct weft_ctl_sgl_action *a = emit(g, out, WEFT_CTL_SGL_CAS);

	if (s->view_id > epoch)
		epoch = s->view_id;
	g->proposed = (struct weft_ctl_sgl_claim){
		.kind = WEFT_CTL_SGL_HELD,
		.owner = s->self,
		.epoch = epoch,
		.since_ms = t.unix_ms,
	};
	a->expected = g->claim.version;
	a->value = g->proposed;
	g->op = OP_CAS;
}

static void read_claim(struct sgl *g, struct weft_ctl_sgl_out *out)
{
	emit(g, out, WEFT_CTL_SGL_READ);
	g->op = OP_READ;
}

/* Emits at most one STOP and one store operation for g; sets g->wake_ms.
 * Returns true when g may be forgotten (undeployed and settled). */
static bool decide(struct weft_ctl_sgl *s, struct sgl *g, struct weft_ctl_sgl_time t,
		   struct weft_ctl_sgl_out *out)
{
	uint64_t now = t.mono_ms;

	g->wake_ms = UINT64_MAX;
	if (g->run == RUN_RUNNING && !run_valid(s, g)) {
		emit(g, out, WEFT_CTL_SGL_STOP);
		g->run = RUN_STOPPING;
		if (may_run(s, g) && g->claim.kind == WEFT_CTL_SGL_HELD) {
			g->yielded = true; /* taken over: see the rules */
			g->yield_to = g->claim.owner;
			g->yield_seq = s->view_seq;
		}
	}
	if (g->op != OP_NONE || g->run == RUN_STOPPING)
		return false;
	if (!g->known) {
		if (now >= g->read_ms)
			read_claim(g, out);
		else
			g->wake_ms = g->read_ms;
		return false;
	}
	if (s->shutdown || g->unhosting) {
		g->eligible = false;
		if (!mine(s, &g->claim))
			return g->unhosting;
		struct weft_ctl_sgl_action *a = emit(g, out, WEFT_CTL_SGL_RELEASE);
		g->proposed = g->claim;
		g->proposed.kind = WEFT_CTL_SGL_RELEASED;
		g->proposed.since_ms = t.unix_ms;
		a->expected = g->claim.version;
		a->value = g->proposed;
		g->op = OP_RELEASE;
		return false;
	}
	/* Re-read every poll_ms: a running owner notices a takeover, an idle
	 * node a release. */
	if (now >= g->read_ms) {
		read_claim(g, out);
		return false;
	}
	g->wake_ms = g->read_ms;
	if (g->run == RUN_RUNNING || !s->have_view || s->no_quorum || !live(s, &s->self)) {
		g->eligible = false;
		return false;
	}
	if (mine(s, &g->claim)) {
		/* Ours from before this run: re-claim at once, new epoch. */
		cas(s, g, t, out);
		return false;
	}
	if (g->claim.kind == WEFT_CTL_SGL_HELD &&
	    (live(s, &g->claim.owner) ||
	     (g->yielded && g->yield_seq == s->view_seq && id_eq(&g->claim.owner, &g->yield_to)))) {
		g->eligible = false;
		return false;
	}
	if (!g->eligible) {
		g->eligible = true;
		g->eligible_ms = now;
	}
	uint64_t at = g->eligible_ms + (uint64_t)rank(s, g) * s->step_ms;
	if (now >= at)
		cas(s, g, t, out);
	else if (at < g->wake_ms)
		g->wake_ms = at;
	return false;
}

static void finish(struct weft_ctl_sgl *s, struct weft_ctl_sgl_out *out)
{
	out->next_ms = UINT64_MAX;
	for (uint32_t i = 0; i < s->n; i++)
		if (s->g[i].wake_ms < out->next_ms)
			out->next_ms = s->g[i].wake_ms;
}

static void forget(struct weft_ctl_sgl *s, uint32_t i)
{
	s->g[i] = s->g[--s->n];
}

static void decide_one(struct weft_ctl_sgl *s, struct sgl *g, struct weft_ctl_sgl_time t,
		       struct weft_ctl_sgl_out *out)
{
	if (decide(s, g, t, out))
		forget(s, (uint32_t)(g - s->g));
	finish(s, out);
}

static void decide_all(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
		       struct weft_ctl_sgl_out *out)
{
	for (uint32_t i = 0; i < s->n;) {
		if (decide(s, &s->g[i], t, out))
			forget(s, i);
		else
			i++;
	}
	finish(s, out);
}

/* ---- Inputs ---------------------------------------------------------- */

static int begin(const struct weft_ctl_sgl *s, struct weft_ctl_sgl_out *out)
{
	if (s == NULL || out == NULL || out->act == NULL)
		return -EINVAL;
	out->n = 0;
	if (out->cap < weft_ctl_singletons_out_min(s))
		return -ENOBUFS;
	return 0;
}

static struct sgl *find(struct weft_ctl_sgl *s, const char *name)
{
	if (name == NULL)
		return NULL;
	for (uint32_t i = 0; i < s->n; i++)
		if (strcmp(s->g[i].name, name) == 0)
			return &s->g[i];
	return NULL;
}

int weft_ctl_singletons_host(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
			     const char *name, struct weft_ctl_sgl_out *out)
{
	int rc = begin(s, out);
	size_t len;
	struct sgl *g;

	if (rc != 0)
		return rc;
	if (name == NULL || (len = strlen(name)) == 0 || len > WEFT_CTL_SGL_NAME_MAX)
		return -EINVAL;
	g = find(s, name);
	if (g != NULL) {
		if (!g->unhosting)
			return -EEXIST;
		g->unhosting = false;
	} else {
		if (s->n == s->cap)
			return -ENOSPC;
		g = &s->g[s->n++];
		memset(g, 0, sizeof(*g));
		memcpy(g->name, name, len + 1);
		g->len = len;
		g->read_ms = t.mono_ms;
	}
	decide_one(s, g, t, out);
	return 0;
}

int weft_ctl_singletons_unhost(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
			       const char *name, struct weft_ctl_sgl_out *out)
{
	int rc = begin(s, out);
	struct sgl *g;

	if (rc != 0)
		return rc;
	g = find(s, name);
	if (g == NULL || g->unhosting)
		return -EINVAL;
	g->unhosting = true;
	decide_one(s, g, t, out);
	return 0;
}

int weft_ctl_singletons_view(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
			     const struct weft_ctl_sgl_view *v, struct weft_ctl_sgl_out *out)
{
	int rc = begin(s, out);

	if (rc != 0)
		return rc;
	if (v == NULL || (v->n > 0 && v->members == NULL))
		return -EINVAL;
	if (v->n > s->max_members)
		return -E2BIG;
	memcpy(s->members, v->members, v->n * sizeof(*s->members));
	s->n_members = v->n;
	s->view_id = v->id;
	s->no_quorum = v->no_quorum;
	s->have_view = true;
	s->view_seq++;
	decide_all(s, t, out);
	return 0;
}

static int claim_input(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t, const char *name,
		       const struct weft_ctl_sgl_claim *c, bool answer,
		       struct weft_ctl_sgl_out *out)
{
	int rc = begin(s, out);
	struct sgl *g;

	if (rc != 0)
		return rc;
	g = find(s, name);
	if (g == NULL || c == NULL || c->kind > WEFT_CTL_SGL_RELEASED ||
	    (c->kind == WEFT_CTL_SGL_ABSENT) != (c->version == 0) ||
	    (answer && g->op != OP_READ))
		return -EINVAL;
	/* Versions only grow: an older value is stale (a slow read, or a
	 * push overtaken); during a write its outcome settles the value. */
	bool newer = !g->known || c->version > g->claim.version ||
		     (answer && c->version == g->claim.version);
	if (newer && (g->op == OP_NONE || g->op == OP_READ)) {
		g->claim = *c;
		g->known = true;
	}
	if (answer) {
		g->op = OP_NONE;
		g->read_ms = t.mono_ms + s->poll_ms;
	}
	decide_one(s, g, t, out);
	return 0;
}

int weft_ctl_singletons_claim(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
			      const char *name, const struct weft_ctl_sgl_claim *c,
			      struct weft_ctl_sgl_out *out)
{
	return claim_input(s, t, name, c, true, out);
}

int weft_ctl_singletons_claim_changed(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
				      const char *name, const struct weft_ctl_sgl_claim *c,
				      struct weft_ctl_sgl_out *out)
{
	return claim_input(s, t, name, c, false, out);
}

int weft_ctl_singletons_cas_done(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
				 const char *name, bool ok, uint64_t new_version,
				 struct weft_ctl_sgl_out *out)
{
	int rc = begin(s, out);
	struct sgl *g;

	if (rc != 0)
		return rc;
	g = find(s, name);
	if (g == NULL || g->op == OP_NONE || (g->op == OP_READ && ok) ||
	    (ok && new_version == 0))
		return -EINVAL;
	if (!ok) {
		/* Conflict, store error or timeout: the write may or may not
		 * have happened. Re-read (now after a write, a step later after
		 * a failed read). */
		g->read_ms = g->op == OP_READ ? t.mono_ms + s->step_ms : t.mono_ms;
		g->op = OP_NONE;
		g->known = false;
		decide_one(s, g, t, out);
		return 0;
	}
	bool was_cas = g->op == OP_CAS;
	g->op = OP_NONE;
	g->claim = g->proposed;
	g->claim.version = new_version;
	g->known = true;
	g->eligible = false;
	g->read_ms = t.mono_ms + s->poll_ms;
	if (was_cas && g->run == RUN_IDLE && may_run(s, g)) {
		struct weft_ctl_sgl_action *a = emit(g, out, WEFT_CTL_SGL_START);
		a->epoch = g->claim.epoch;
		a->value = g->claim;
		g->run = RUN_RUNNING;
		g->run_claim = g->claim;
	}
	decide_one(s, g, t, out);
	return 0;
}

int weft_ctl_singletons_stopped(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
				const char *name, struct weft_ctl_sgl_out *out)
{
	int rc = begin(s, out);
	struct sgl *g;

	if (rc != 0)
		return rc;
	g = find(s, name);
	if (g == NULL || g->run != RUN_STOPPING)
		return -EINVAL;
	g->run = RUN_IDLE;
	decide_one(s, g, t, out);
	return 0;
}

int weft_ctl_singletons_tick(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
			     struct weft_ctl_sgl_out *out)
{
	int rc = begin(s, out);

	if (rc != 0)
		return rc;
	decide_all(s, t, out);
	return 0;
}

int weft_ctl_singletons_shutdown(struct weft_ctl_sgl *s, struct weft_ctl_sgl_time t,
				 struct weft_ctl_sgl_out *out)
{
	int rc = begin(s, out);

	if (rc != 0)
		return rc;
	s->shutdown = true;
	decide_all(s, t, out);
	return 0;
}

bool weft_ctl_singletons_quiet(const struct weft_ctl_sgl *s)
{
	for (uint32_t i = 0; i < s->n; i++) {
		const struct sgl *g = &s->g[i];
		if (g->run != RUN_IDLE || g->op != OP_NONE || !g->known || mine(s, &g->claim))
			return false;
	}
	return true;
}

int weft_ctl_singletons_status(const struct weft_ctl_sgl *s, uint32_t i,
			       struct weft_ctl_sgl_status *st)
{
	if (s == NULL || st == NULL)
		return -EINVAL;
	if (i >= s->n)
		return -ENOENT;
	const struct sgl *g = &s->g[i];
	memset(st, 0, sizeof(*st));
	memcpy(st->name, g->name, g->len + 1);
	if (g->known)
		st->claim = g->claim;
	if (g->run == RUN_RUNNING)
		st->state = WEFT_CTL_SGL_RUNNING;
	else if (g->run == RUN_STOPPING || g->op == OP_RELEASE)
		st->state = WEFT_CTL_SGL_STOPPING;
	else if (g->op == OP_CAS || g->eligible)
		st->state = WEFT_CTL_SGL_CLAIMING;
	else
		st->state = WEFT_CTL_SGL_IDLE;
	if (g->run != RUN_IDLE) {
		st->epoch = g->run_claim.epoch;
		st->since_ms = g->run_claim.since_ms;
	}
	return 0;
}
