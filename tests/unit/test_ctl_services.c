/*
 * test_ctl_services.c — daemons and jobs at runtime (control/
 * ctl_services*.c) over a fake environment (sv_create): a fake view (this
 * node and a peer, states and quorum set by the test), an in-memory claim
 * store with real version/CAS semantics and injectable faults, a pool that
 * runs each task on a thread of its own, and a virtual clock the test
 * advances. The services thread is the real one.
 *
 * Checked: singleton daemons start only after their claim is written and
 * carry its epoch; they stop (stop called, start waited for) and release
 * the claim at undeploy; they stop when the claim is taken over or quorum
 * is lost (claim kept); a node takes over from a dead owner with a higher
 * epoch; every-node daemons start at registration without claims;
 * app_gone is bounded when a daemon ignores its stop; a singleton job's
 * mark is recorded before its function runs, a failed mark write skips
 * that fire, a new owner resumes from the mark with one catch-up fire;
 * every-node jobs fire without marks; names, specs and the status text.
 * Every wait is bounded (WAIT_MS); nothing asserts on elapsed time.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "control.h"
#include "ctl_services_internal.h"

#define WAIT_MS 5000u
#define T0 1790000000000ull
#define SELF "11111111-1111-4111-8111-111111111111"
#define PEER "22222222-2222-4222-8222-222222222222"

/* ---- The fake environment --------------------------------------------- */

struct entry {
	char cache[32], key[160];
	uint8_t val[64];
	size_t len;
	uint64_t ver;
};

static struct {
	pthread_mutex_t mu;
	atomic_uint_fast64_t mono, unix_ms;
	/* view */
	uint64_t view_id;
	uint8_t self_state, peer_state;
	bool peer_in, no_quorum, view_on;
	/* store */
	struct entry e[32];
	unsigned n;
	uint64_t next_ver;
	int fail_cas; /* the next fail_cas writes fail with -ETIMEDOUT */
	unsigned gets, cas;
	/* pool */
	atomic_int tasks;
	bool pool_gone;
	/* the app's source (env.deployed) */
	atomic_bool undeployed;
} F;

static const uint8_t *self_id(void)
{
	static uint8_t id[16];
	assert_int_equal(weft_ctl_uuid_parse(SELF, id), 0);
	return id;
}

static struct entry *find(const char *cache, const char *key)
{
	for (unsigned i = 0; i < F.n; i++)
		if (strcmp(F.e[i].cache, cache) == 0 && strcmp(F.e[i].key, key) == 0)
			return &F.e[i];
	return NULL;
}

static int f_get(void *ctx, const char *cache, const char *key, void *buf, size_t cap,
		 size_t *len, uint64_t *version)
{
	(void)ctx;
	pthread_mutex_lock(&F.mu);
	struct entry *e = find(cache, key);
	F.gets++;
	int rc = e == NULL ? -ENOENT : 0;
	if (e != NULL) {
		memcpy(buf, e->val, e->len < cap ? e->len : cap);
		*len = e->len;
		*version = e->ver;
	}
	pthread_mutex_unlock(&F.mu);
	return rc;
}

static int f_cas(void *ctx, const char *cache, const char *key, uint64_t expected,
		 const void *value, size_t len, uint64_t *new_version)
{
	(void)ctx;
	pthread_mutex_lock(&F.mu);
	struct entry *e = find(cache, key);
	int rc = 0;
	F.cas++;
	if (F.fail_cas > 0) {
		F.fail_cas--;
		rc = -ETIMEDOUT;
	} else if ((e == NULL && expected != 0) || (e != NULL && e->ver != expected)) {
		rc = -ECANCELED;
	} else {
		if (e == NULL) {
			e = &F.e[F.n++];
			snprintf(e->cache, sizeof(e->cache), "%s", cache);
			snprintf(e->key, sizeof(e->key), "%s", key);
		}
		memcpy(e->val, value, len);
		e->len = len;
		e->ver = ++F.next_ver;
		*new_version = e->ver;
	}
	pthread_mutex_unlock(&F.mu);
	return rc;
}

/* Counters of the fake store, read under its lock. */
static unsigned n_gets(void)
{
	pthread_mutex_lock(&F.mu);
	unsigned n = F.gets;
	pthread_mutex_unlock(&F.mu);
	return n;
}

static unsigned n_cas(void)
{
	pthread_mutex_lock(&F.mu);
	unsigned n = F.cas;
	pthread_mutex_unlock(&F.mu);
	return n;
}

static unsigned n_entries(void)
{
	pthread_mutex_lock(&F.mu);
	unsigned n = F.n;
	pthread_mutex_unlock(&F.mu);
	return n;
}

static struct weft_dp_members *f_view(void *ctx)
{
	(void)ctx;
	pthread_mutex_lock(&F.mu);
	if (!F.view_on) {
		pthread_mutex_unlock(&F.mu);
		errno = ENOENT;
		return NULL;
	}
	struct weft_dp_members *m = calloc(1, sizeof(*m) + 2 * sizeof(struct weft_dp_member));
	m->view = F.view_id;
	m->no_quorum = F.no_quorum;
	m->n = 1;
	strcpy(m->m[0].id, SELF);
	m->m[0].state = F.self_state;
	if (F.peer_in) {
		strcpy(m->m[1].id, PEER);
		m->m[1].state = F.peer_state;
		m->n = 2;
	}
	pthread_mutex_unlock(&F.mu);
	return m;
}

struct task {
	void (*fn)(void *);
	void *arg;
};

static void *task_main(void *p)
{
	struct task t = *(struct task *)p;
	free(p);
	t.fn(t.arg);
	atomic_fetch_sub(&F.tasks, 1);
	return NULL;
}

static int f_submit(void *ctx, void (*fn)(void *), void *arg)
{
	(void)ctx;
	if (F.pool_gone)
		return -ECANCELED;
	struct task *t = malloc(sizeof(*t));
	pthread_t th;
	t->fn = fn;
	t->arg = arg;
	atomic_fetch_add(&F.tasks, 1);
	if (pthread_create(&th, NULL, task_main, t) != 0) {
		atomic_fetch_sub(&F.tasks, 1);
		free(t);
		return -EBUSY;
	}
	pthread_detach(th);
	return 0;
}

static uint64_t f_mono(void *ctx)
{
	(void)ctx;
	return atomic_load(&F.mono);
}

static uint64_t f_unix(void *ctx)
{
	(void)ctx;
	return atomic_load(&F.unix_ms);
}

static int key_holder; /* app->rt of the test apps */

static bool f_deployed(void *ctx, const weft_app *app)
{
	(void)ctx;
	(void)app;
	return !atomic_load(&F.undeployed);
}

static struct ctl_services *make_grace(uint64_t gone_ms, uint64_t grace_ms)
{
	struct sv_env env = {
		.submit = f_submit,
		.view = f_view,
		.mono_ms = f_mono,
		.unix_ms = f_unix,
		.store = {.get = f_get, .cas = f_cas},
		.deployed = f_deployed,
		.step_ms = 250,
		.poll_ms = 1000,
		.gone_timeout_ms = gone_ms,
		.join_grace_ms = grace_ms,
	};
	struct ctl_services *sv = sv_create(&env, &key_holder, self_id());
	assert_non_null(sv);
	return sv;
}

static struct ctl_services *make(uint64_t gone_ms)
{
	return make_grace(gone_ms, 0);
}

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.mu, NULL);
	atomic_store(&F.mono, 1000);
	atomic_store(&F.unix_ms, T0);
	F.view_id = 5;
	F.view_on = true;
	F.peer_in = false;
	F.self_state = WEFT_DP_MEMBER_ALIVE;
	F.peer_state = WEFT_DP_MEMBER_ALIVE;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < WAIT_MS && atomic_load(&F.tasks) > 0; i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	assert_int_equal(atomic_load(&F.tasks), 0);
	pthread_mutex_destroy(&F.mu);
	return 0;
}

static void kick(struct ctl_services *sv)
{
	pthread_mutex_lock(&sv->lock);
	sv_kick_locked(sv);
	pthread_mutex_unlock(&sv->lock);
}

static void advance(struct ctl_services *sv, uint64_t ms)
{
	atomic_fetch_add(&F.mono, ms);
	atomic_fetch_add(&F.unix_ms, ms);
	kick(sv);
}

static uint64_t loops(struct ctl_services *sv)
{
	pthread_mutex_lock(&sv->lock);
	uint64_t n = sv->loops;
	pthread_mutex_unlock(&sv->lock);
	return n;
}

/* Waits (bounded) until pred holds; polls every ms. */
#define WAIT_FOR(sv, pred)                                                                      \
	do {                                                                                    \
		unsigned waited_ = 0;                                                           \
		while (!(pred) && waited_++ < WAIT_MS) {                                        \
			kick(sv);                                                               \
			nanosleep(&(struct timespec){0, 1000000}, NULL);                        \
		}                                                                               \
		assert_true(pred);                                                              \
	} while (0)

/* Returns once the services thread made a whole pass after the call. */
static void settle(struct ctl_services *sv)
{
	uint64_t l = loops(sv);
	WAIT_FOR(sv, loops(sv) >= l + 2);
}

static bool claim_of(const char *key, struct weft_ctl_sgl_claim *c)
{
	pthread_mutex_lock(&F.mu);
	struct entry *e = find(SV_CACHE_CLAIMS, key);
	int rc = e ? weft_ctl_singletons_decode(e->val, e->len, e->ver, c) : -ENOENT;
	pthread_mutex_unlock(&F.mu);
	return rc == 0;
}

static void put_claim(const char *key, const char *owner, uint64_t epoch,
		      enum weft_ctl_sgl_kind kind)
{
	struct weft_ctl_sgl_claim c = {.kind = kind, .epoch = epoch, .since_ms = T0 - 5000};
	uint8_t buf[WEFT_CTL_SGL_CLAIM_BYTES];
	assert_int_equal(weft_ctl_uuid_parse(owner, c.owner.b), 0);
	weft_ctl_singletons_encode(&c, buf);
	pthread_mutex_lock(&F.mu);
	struct entry *e = find(SV_CACHE_CLAIMS, key);
	if (e == NULL) {
		e = &F.e[F.n++];
		strcpy(e->cache, SV_CACHE_CLAIMS);
		strcpy(e->key, key);
	}
	memcpy(e->val, buf, sizeof(buf));
	e->len = sizeof(buf);
	e->ver = ++F.next_ver;
	pthread_mutex_unlock(&F.mu);
}

static void status(struct ctl_services *sv, char *buf, size_t cap)
{
	size_t n = ctl_services_status(sv, buf, cap);
	assert_true(n < cap);
}

/* ---- A daemon that loops until stopped --------------------------------- */

struct dstate {
	atomic_int starts, stops, running, returned;
	atomic_uint_fast64_t epoch;
	atomic_bool saw_stopping;
	atomic_bool ignore_stop; /* start ends only when release is set */
	atomic_bool release;
};

static void d_start(weft_daemon *d, void *ctx)
{
	struct dstate *s = ctx;
	atomic_store(&s->epoch, weft_daemon_epoch(d));
	atomic_fetch_add(&s->starts, 1);
	atomic_fetch_add(&s->running, 1);
	for (;;) {
		if (atomic_load(&s->ignore_stop) ? atomic_load(&s->release)
						 : weft_daemon_stopping(d))
			break;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	atomic_store(&s->saw_stopping, weft_daemon_stopping(d));
	atomic_fetch_sub(&s->running, 1);
	atomic_fetch_add(&s->returned, 1);
}

static void d_stop(weft_daemon *d, void *ctx)
{
	struct dstate *s = ctx;
	assert_true(weft_daemon_stopping(d));
	atomic_fetch_add(&s->stops, 1);
}

static weft_app *new_app(const char *name)
{
	weft_app *a = calloc(1, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->rt = (struct ctl_apps *)(void *)&key_holder;
	a->generation = 1;
	return a;
}

/* ---- Tests: daemons ----------------------------------------------------- */

static void test_singleton_daemon_life(void **state)
{
	(void)state;
	struct ctl_services *sv = make(0);
	weft_app *app = new_app("app1");
	struct dstate s = {0};
	struct weft_ctl_sgl_claim c;
	char buf[1024], want[256];

	assert_int_equal(weft_daemonize(app, "counter", d_start, d_stop, &s, NULL), 0);
	WAIT_FOR(sv, atomic_load(&s.starts) == 1);
	/* started on its own successful claim, with that claim's epoch */
	assert_true(claim_of("app1/counter", &c));
	assert_int_equal(c.kind, WEFT_CTL_SGL_HELD);
	assert_memory_equal(c.owner.b, self_id(), 16);
	assert_int_equal(c.epoch, 5); /* max(view id, 0 + 1) */
	assert_int_equal(atomic_load(&s.epoch), 5);
	status(sv, buf, sizeof(buf));
	snprintf(want, sizeof(want), "daemon app1/counter singleton running epoch 5 since %llu owner %s\n",
		 (unsigned long long)T0, SELF);
	assert_string_equal(buf, want);

	ctl_services_app_gone(sv, app);
	assert_int_equal(atomic_load(&s.stops), 1);
	assert_int_equal(atomic_load(&s.returned), 1); /* start waited for */
	assert_true(atomic_load(&s.saw_stopping));
	assert_true(claim_of("app1/counter", &c));
	assert_int_equal(c.kind, WEFT_CTL_SGL_RELEASED);
	assert_int_equal(c.epoch, 5);
	status(sv, buf, sizeof(buf));
	assert_string_equal(buf, "");
	ctl_services_destroy(sv);
	free(app);
}

/* An app on its way out (gone from its source, not unloaded yet) does not
 * claim: an undeploy --all does not hand the singleton from node to node. */
static void test_no_claim_when_undeployed(void **state)
{
	(void)state;
	struct ctl_services *sv = make(0);
	weft_app *app = new_app("app9");
	struct dstate s = {0};
	struct weft_ctl_sgl_claim c;

	atomic_store(&F.undeployed, true);
	assert_int_equal(weft_daemonize(app, "counter", d_start, d_stop, &s, NULL), 0);
	settle(sv);
	advance(sv, 3000); /* several claim attempts' worth */
	settle(sv);
	assert_int_equal(atomic_load(&s.starts), 0);
	assert_false(claim_of("app9/counter", &c) && c.kind == WEFT_CTL_SGL_HELD);
	assert_int_equal(ctl_services_app_gone(sv, app), 0); /* the unload follows */
	/* deployed again (a new generation registers again): it claims and starts */
	atomic_store(&F.undeployed, false);
	weft_app *again = new_app("app9");
	assert_int_equal(weft_daemonize(again, "counter", d_start, d_stop, &s, NULL), 0);
	WAIT_FOR(sv, atomic_load(&s.starts) == 1);
	ctl_services_app_gone(sv, again);
	ctl_services_destroy(sv);
	free(again);
	free(app);
}

static void test_daemon_takeover_and_loss(void **state)
{
	(void)state;
	F.peer_in = true;
	struct ctl_services *sv = make(0);
	weft_app *app = new_app("app1");
	struct dstate s = {0};
	struct weft_ctl_sgl_claim c;
	char buf[1024], want[256];

	put_claim("app1/counter", PEER, 9, WEFT_CTL_SGL_HELD);
	assert_int_equal(weft_daemonize(app, "counter", d_start, d_stop, &s, NULL), 0);
	/* the peer is alive: no move, whatever the clock does */
	WAIT_FOR(sv, n_gets() >= 1);
	advance(sv, 3000);
	settle(sv);
	assert_int_equal(n_cas(), 0);
	assert_int_equal(atomic_load(&s.starts), 0);
	status(sv, buf, sizeof(buf));
	snprintf(want, sizeof(want), "daemon app1/counter singleton idle epoch 9 since %llu owner %s\n",
		 (unsigned long long)(T0 - 5000), PEER);
	assert_string_equal(buf, want);

	/* the peer dies: this node takes over with a higher epoch */
	pthread_mutex_lock(&F.mu);
	F.peer_state = WEFT_DP_MEMBER_DEAD;
	F.view_id = 6;
	pthread_mutex_unlock(&F.mu);
	advance(sv, 200); /* past the view poll */
	for (unsigned i = 0; i < 10 && atomic_load(&s.starts) == 0; i++)
		advance(sv, 250); /* rank delay, whatever the rank */
	WAIT_FOR(sv, atomic_load(&s.starts) == 1);
	assert_true(claim_of("app1/counter", &c));
	assert_memory_equal(c.owner.b, self_id(), 16);
	assert_int_equal(c.epoch, 10);
	assert_int_equal(atomic_load(&s.epoch), 10);

	/* another node's claim shows up: the run stops at the next read, the
	 * claim is left alone */
	put_claim("app1/counter", PEER, 11, WEFT_CTL_SGL_HELD);
	advance(sv, 1000);
	WAIT_FOR(sv, atomic_load(&s.returned) == 1); /* saw the flag, maybe before stop ran */
	WAIT_FOR(sv, atomic_load(&s.stops) == 1);
	WAIT_FOR(sv, (status(sv, buf, sizeof(buf)), strstr(buf, " idle epoch 11 ") != NULL));
	assert_true(claim_of("app1/counter", &c));
	assert_int_equal(c.epoch, 11);
	ctl_services_app_gone(sv, app);
	assert_true(claim_of("app1/counter", &c));
	assert_int_equal(c.kind, WEFT_CTL_SGL_HELD); /* not ours: untouched */
	ctl_services_destroy(sv);
	free(app);
}

static void test_daemon_no_quorum(void **state)
{
	(void)state;
	struct ctl_services *sv = make(0);
	weft_app *app = new_app("app1");
	struct dstate s = {0};
	struct weft_ctl_sgl_claim c;

	assert_int_equal(weft_daemonize(app, "counter", d_start, d_stop, &s, NULL), 0);
	WAIT_FOR(sv, atomic_load(&s.starts) == 1);
	pthread_mutex_lock(&F.mu);
	F.no_quorum = true;
	pthread_mutex_unlock(&F.mu);
	advance(sv, 200);
	WAIT_FOR(sv, atomic_load(&s.returned) == 1); /* saw the flag, maybe before stop ran */
	WAIT_FOR(sv, atomic_load(&s.stops) == 1);
	assert_true(claim_of("app1/counter", &c));
	assert_int_equal(c.kind, WEFT_CTL_SGL_HELD); /* kept: the majority takes over */
	unsigned cas = n_cas(), gets = n_gets();
	advance(sv, 3000);
	settle(sv);
	assert_true(n_gets() > gets);   /* still reads the claim */
	assert_int_equal(n_cas(), cas); /* claims nothing without quorum */
	assert_int_equal(atomic_load(&s.starts), 1);
	ctl_services_destroy(sv); /* shutdown with a held claim and no quorum */
	free(app);
}

static bool has_view(struct ctl_services *sv)
{
	pthread_mutex_lock(&sv->lock);
	bool v = sv->have_view;
	pthread_mutex_unlock(&sv->lock);
	return v;
}

/* A node alone in its view claims nothing during the join grace; a view
 * with another live member is used at once. */
static void test_join_grace(void **state)
{
	(void)state;
	struct ctl_services *sv = make_grace(0, 6000);
	weft_app *app = new_app("app1");
	struct dstate s = {0};

	assert_int_equal(weft_daemonize(app, "counter", d_start, d_stop, &s, NULL), 0);
	WAIT_FOR(sv, n_gets() >= 1); /* hosted, claim read */
	advance(sv, 5000);
	settle(sv);
	assert_int_equal(n_cas(), 0);
	assert_int_equal(atomic_load(&s.starts), 0);
	advance(sv, 1000); /* grace over: alone, it may run */
	WAIT_FOR(sv, atomic_load(&s.starts) == 1);
	ctl_services_app_gone(sv, app);
	ctl_services_destroy(sv);

	/* again, with a peer in the view from the start: no wait */
	memset(&s, 0, sizeof(s));
	F.peer_in = true;
	put_claim("app1/counter", PEER, 3, WEFT_CTL_SGL_HELD);
	sv = make_grace(0, 6000);
	assert_int_equal(weft_daemonize(app, "counter", d_start, d_stop, &s, NULL), 0);
	WAIT_FOR(sv, has_view(sv));
	ctl_services_app_gone(sv, app);
	ctl_services_destroy(sv);
	free(app);
}

static void test_every_node_daemon(void **state)
{
	(void)state;
	F.view_on = false; /* no view at all: every-node daemons do not care */
	struct ctl_services *sv = make(0);
	weft_app *app = new_app("app2");
	struct dstate s = {0};
	struct weft_daemon_opts o = {.every_node = true};
	char buf[512], want[256];

	assert_int_equal(weft_daemonize(app, "local", d_start, d_stop, &s, &o), 0);
	WAIT_FOR(sv, atomic_load(&s.starts) == 1);
	assert_int_equal(atomic_load(&s.epoch), 0);
	status(sv, buf, sizeof(buf));
	snprintf(want, sizeof(want), "daemon app2/local every-node running epoch 0 since %llu owner %s\n",
		 (unsigned long long)T0, SELF);
	assert_string_equal(buf, want);
	ctl_services_app_gone(sv, app);
	assert_int_equal(atomic_load(&s.stops), 1);
	assert_int_equal(atomic_load(&s.returned), 1);
	assert_int_equal(n_entries(), 0); /* no claim */
	ctl_services_destroy(sv);
	free(app);
}

static void test_app_gone_bounded(void **state)
{
	(void)state;
	struct ctl_services *sv = make(100);
	weft_app *app = new_app("app3");
	struct dstate s = {0};
	struct weft_daemon_opts o = {.every_node = true};

	atomic_store(&s.ignore_stop, true);
	assert_int_equal(weft_daemonize(app, "stubborn", d_start, d_stop, &s, &o), 0);
	WAIT_FOR(sv, atomic_load(&s.starts) == 1);
	/* returns although start does not, and says so: the app must stay loaded */
	assert_int_equal(ctl_services_app_gone(sv, app), -ETIMEDOUT);
	assert_int_equal(atomic_load(&s.returned), 0);
	WAIT_FOR(sv, atomic_load(&s.stops) == 1);
	atomic_store(&s.release, true);
	WAIT_FOR(sv, atomic_load(&s.returned) == 1);
	ctl_services_destroy(sv);
	free(app);
}

static void test_daemon_names(void **state)
{
	(void)state;
	struct ctl_services *sv = make(0);
	weft_app *app = new_app("app4");
	weft_app stray = {.name = "x"};
	struct dstate s = {0};
	char long_name[80];

	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	assert_int_equal(weft_daemonize(app, "", d_start, d_stop, &s, NULL), -EINVAL);
	assert_int_equal(weft_daemonize(app, "a b", d_start, d_stop, &s, NULL), -EINVAL);
	assert_int_equal(weft_daemonize(app, long_name, d_start, d_stop, &s, NULL), -EINVAL);
	assert_int_equal(weft_daemonize(app, NULL, d_start, d_stop, &s, NULL), -EINVAL);
	assert_int_equal(weft_daemonize(app, "d", NULL, d_stop, &s, NULL), -EINVAL);
	assert_int_equal(weft_daemonize(&stray, "d", d_start, d_stop, &s, NULL), -EINVAL);
	assert_int_equal(weft_daemonize(app, "d", d_start, d_stop, &s, NULL), 0);
	assert_int_equal(weft_daemonize(app, "d", d_start, d_stop, &s, NULL), -EEXIST);
	assert_int_equal(weft_schedule(app, "d", "every 1000", NULL, NULL, NULL), -EINVAL);
	WAIT_FOR(sv, atomic_load(&s.starts) == 1);
	ctl_services_app_gone(sv, app);
	ctl_services_destroy(sv);
	free(app);
}

/* ---- Tests: jobs ------------------------------------------------------------ */

struct jstate {
	atomic_int fires;
	atomic_int bad_order; /* a call that found its fire not yet recorded */
	int result;
};

static uint64_t mark_fires(const char *key)
{
	struct weft_ctl_job_mark m = {.fires = 0};
	pthread_mutex_lock(&F.mu);
	struct entry *e = find(SV_CACHE_JOBS, key);
	if (e != NULL)
		assert_int_equal(sv_mark_decode(e->val, e->len, &m), 0);
	pthread_mutex_unlock(&F.mu);
	return e != NULL ? m.fires : 0;
}

static int j_fire(weft_job *j, void *ctx)
{
	struct jstate *s = ctx;
	int n = atomic_fetch_add(&s->fires, 1) + 1;
	char key[160];
	snprintf(key, sizeof(key), "%s/%s", weft_job_app(j)->name, weft_job_name(j));
	if (weft_job_epoch(j) != 0 && mark_fires(key) < (uint64_t)n)
		atomic_fetch_add(&s->bad_order, 1);
	return s->result;
}

static void test_singleton_job_marks(void **state)
{
	(void)state;
	struct ctl_services *sv = make(0);
	weft_app *app = new_app("app5");
	struct jstate s = {.result = 7};
	char buf[512], want[256];

	assert_int_equal(weft_schedule(app, "tick", "every 1000", j_fire, &s, NULL), 0);
	/* owner: reads the mark (none), writes the first one, fires at once
	 * (an interval starts at creation) */
	WAIT_FOR(sv, atomic_load(&s.fires) == 1);
	assert_int_equal(mark_fires("app5/tick"), 1);
	WAIT_FOR(sv, (status(sv, buf, sizeof(buf)), strstr(buf, "result 7") != NULL));
	snprintf(want, sizeof(want),
		 "job app5/tick singleton running epoch 5 next %llu last %llu result 7 fires 1"
		 " owner " SELF "\n",
		 (unsigned long long)(T0 + 1000), (unsigned long long)T0);
	assert_string_equal(buf, want);
	for (int k = 2; k <= 4; k++) {
		advance(sv, 1000);
		WAIT_FOR(sv, atomic_load(&s.fires) == k);
		assert_int_equal(mark_fires("app5/tick"), (uint64_t)k);
	}
	assert_int_equal(atomic_load(&s.bad_order), 0);

	/* the mark write fails (unknown outcome): that fire is skipped */
	pthread_mutex_lock(&F.mu);
	F.fail_cas = 1;
	unsigned cas = F.cas;
	pthread_mutex_unlock(&F.mu);
	advance(sv, 1000);
	WAIT_FOR(sv, n_cas() > cas);
	/* re-read and fire from the mark: the missed slot comes back once */
	advance(sv, 500);
	WAIT_FOR(sv, atomic_load(&s.fires) == 5);
	assert_int_equal(mark_fires("app5/tick"), 5);
	assert_int_equal(atomic_load(&s.bad_order), 0);
	ctl_services_app_gone(sv, app);
	ctl_services_destroy(sv);
	free(app);
}

static void test_job_resume_catch_up(void **state)
{
	(void)state;
	struct ctl_services *sv = make(0);
	weft_app *app = new_app("app6");
	struct jstate s = {.result = 0};
	/* a dead owner fired at T0 - 10000 (created T0 - 20000, 3 fires),
	 * every 1000 ms: 9 slots were missed meanwhile */
	struct weft_ctl_job_mark m = {.created_ms = (int64_t)T0 - 20000,
				      .last_fire_ms = (int64_t)T0 - 10000, .fires = 3};
	uint8_t buf[SV_MARK_BYTES];
	uint64_t ver;

	sv_mark_encode(&m, buf);
	assert_int_equal(f_cas(NULL, SV_CACHE_JOBS, "app6/tick", 0, buf, sizeof(buf), &ver), 0);
	assert_int_equal(weft_schedule(app, "tick", "every 1000", j_fire, &s, NULL), 0);
	WAIT_FOR(sv, atomic_load(&s.fires) == 1); /* one catch-up fire */
	assert_int_equal(mark_fires("app6/tick"), 4);
	unsigned cas = n_cas();
	advance(sv, 400); /* before the next slot (T0 + 1000): nothing */
	settle(sv);
	assert_int_equal(atomic_load(&s.fires), 1);
	assert_int_equal(n_cas(), cas);
	advance(sv, 600);
	WAIT_FOR(sv, atomic_load(&s.fires) == 2);
	assert_int_equal(mark_fires("app6/tick"), 5);
	ctl_services_app_gone(sv, app);
	ctl_services_destroy(sv);
	free(app);
}

static void test_every_node_job(void **state)
{
	(void)state;
	F.view_on = false;
	struct ctl_services *sv = make(0);
	weft_app *app = new_app("app7");
	struct jstate s = {.result = -3};
	struct weft_job_opts o = {.every_node = true};
	char buf[512], want[256];

	assert_int_equal(weft_schedule(app, "local", "every 500 count 2", j_fire, &s, &o), 0);
	WAIT_FOR(sv, atomic_load(&s.fires) == 1);
	advance(sv, 500);
	WAIT_FOR(sv, atomic_load(&s.fires) == 2);
	WAIT_FOR(sv, (status(sv, buf, sizeof(buf)), strstr(buf, "result -3") != NULL));
	snprintf(want, sizeof(want),
		 "job app7/local every-node running epoch 0 next - last %llu result -3 fires 2"
		 " owner " SELF "\n",
		 (unsigned long long)(T0 + 500));
	assert_string_equal(buf, want);
	advance(sv, 5000);
	settle(sv);
	assert_int_equal(atomic_load(&s.fires), 2); /* count reached */
	assert_int_equal(n_entries(), 0); /* no claims, no marks */
	assert_int_equal(n_gets() + n_cas(), 0);
	ctl_services_app_gone(sv, app);
	ctl_services_destroy(sv);
	free(app);
}

static void test_bad_specs(void **state)
{
	(void)state;
	struct ctl_services *sv = make(0);
	weft_app *app = new_app("app8");
	struct jstate s = {0};

	assert_int_equal(weft_schedule(app, "j", "every", j_fire, &s, NULL), -EINVAL);
	assert_int_equal(weft_schedule(app, "j", "61 * * * * ?", j_fire, &s, NULL), -EINVAL);
	assert_int_equal(weft_schedule(app, "j", NULL, j_fire, &s, NULL), -EINVAL);
	assert_int_equal(weft_schedule(app, "j", "*/5 * * * * ?", j_fire, &s, NULL), 0);
	assert_int_equal(weft_schedule(app, "j", "every 10", j_fire, &s, NULL), -EEXIST);
	ctl_services_app_gone(sv, app);
	ctl_services_destroy(sv);
	free(app);
}

/* ---- Pure parts ------------------------------------------------------------- */

static void test_spec_parse(void **state)
{
	(void)state;
	struct weft_ctl_sched s;
	char err[WEFT_CTL_CRON_ERR_MAX];

	assert_int_equal(sv_spec_parse("every 1000", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, WEFT_CTL_SCHED_INTERVAL);
	assert_int_equal(s.iv.every_ms, 1000);
	assert_int_equal(s.iv.start_ms, WEFT_CTL_AT_CREATION);
	assert_int_equal(s.iv.until_ms, WEFT_CTL_NO_UNTIL);
	assert_int_equal(s.iv.count, 0);
	assert_int_equal(sv_spec_parse("  every\t250 until 9000 count 3 start 1000 ", &s, err,
				       sizeof(err)), 0);
	assert_int_equal(s.iv.every_ms, 250);
	assert_int_equal(s.iv.count, 3);
	assert_int_equal(s.iv.start_ms, 1000);
	assert_int_equal(s.iv.until_ms, 9000);
	assert_int_equal(sv_spec_parse("*/5 * * * * ?", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, WEFT_CTL_SCHED_CRON);

	static const struct {
		const char *spec, *msg;
	} bad[] = {
		{"every", "every: '' is not a period"},
		{"every 0", "every: '0' is not a period"},
		{"every -5", "every: '-5' is not a period"},
		{"every 1x", "every: '1x' is not a period"},
		{"every 99999999999999999999", "is not a period"},
		{"every 10 count", "option 'count' needs a decimal number"},
		{"every 10 count 0", "'count' must be at least 1"},
		{"every 10 start x", "option 'start' needs a decimal number"},
		{"every 10 limit 3", "unknown word 'limit'"},
		{"every 10 count 1 count 2", "option 'count' given twice"},
		{"every 10 start 100 until 50", "until is before start"},
		{"61 * * * * ?", "position 1 (second)"},
		{"", "position"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.kind = WEFT_CTL_SCHED_CRON;
		assert_int_equal(sv_spec_parse(bad[i].spec, &s, err, sizeof(err)), -EINVAL);
		if (strstr(err, bad[i].msg) == NULL)
			fail_msg("'%s': got '%s', want '%s'", bad[i].spec, err, bad[i].msg);
	}
	assert_int_equal(sv_spec_parse(NULL, &s, err, sizeof(err)), -EINVAL);
}

static void test_mark_codec(void **state)
{
	(void)state;
	struct weft_ctl_job_mark m = {.created_ms = 1790000000123, .last_fire_ms = -1, .fires = 0};
	struct weft_ctl_job_mark r;
	uint8_t buf[SV_MARK_BYTES];

	sv_mark_encode(&m, buf);
	assert_int_equal(sv_mark_decode(buf, sizeof(buf), &r), 0);
	assert_int_equal(r.created_ms, m.created_ms);
	assert_int_equal(r.last_fire_ms, -1);
	assert_int_equal(r.fires, 0);
	m.last_fire_ms = 1790000009000;
	m.fires = 1u << 20;
	sv_mark_encode(&m, buf);
	assert_int_equal(sv_mark_decode(buf, sizeof(buf), &r), 0);
	assert_int_equal(r.last_fire_ms, m.last_fire_ms);
	assert_int_equal(r.fires, m.fires);
	assert_int_equal(sv_mark_decode(buf, sizeof(buf) - 1, &r), -EINVAL);
	assert_int_equal(sv_mark_decode(NULL, sizeof(buf), &r), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_parse),
		cmocka_unit_test(test_mark_codec),
		cmocka_unit_test_setup_teardown(test_singleton_daemon_life, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_takeover_and_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_claim_when_undeployed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_no_quorum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_grace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_node_daemon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_app_gone_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_singleton_job_marks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_resume_catch_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_node_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_specs, setup, teardown),
	};
	weft_ctl_log_set_level(WEFT_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
