/*
 * ctl_sessions.c — weftd's sessions service thread (ctl_sessions.h): event
 * publishing and the expiry pass.
 *
 * Loop: take up to EVENTS_BURST events off the dataplane ring and publish
 * each; when a pass is due (every CTL_SESS_PASS_MS), walk the registry for
 * session stores, scan each for at most CTL_SESS_SCAN_BUDGET buckets from
 * where its last pass stopped (online only inside each weft_cache_scan
 * step), then send EXPIRE for up to CTL_SESS_EXPIRE_MAX due sessions
 * (offline); a NO_SESSION answer discards this node's due copy, owner or
 * not (online for the call). With nothing to
 * do it sleeps, doubling the sleep from IDLE_MIN_MS up to
 * CTL_SESS_IDLE_MAX_MS (an event resets it), on a condition variable that
 * stop signals.
 *
 * Bounds: a publish is one call of the in-node client (timeout
 * CALL_TIMEOUT_MS, CALL_RETRIES retries, deadline CALL_DEADLINE_MS), and
 * one that times out drops the rest of its burst; an EXPIRE is at most
 * EXPIRE_ATTEMPTS sends of EXPIRE_WAIT_MS each, one without an answer ends
 * the pass, and a pass sends EXPIREs for at most PASS_MAX_MS. So one loop
 * iteration takes at most about CALL_DEADLINE_MS + PASS_MAX_MS +
 * EXPIRE_ATTEMPTS * EXPIRE_WAIT_MS, whatever the node does. Failures are
 * counted and logged at most once per LOG_EVERY_MS with the counts.
 *
 * Invariants: the scan state of a store (its cursor) is keyed by its
 * cache pointer, stable while the registry lives (caches are never
 * removed); request ids of the raw EXPIREs only grow, on a local client of
 * their own (the weft_client's request ids are its own business).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-qsbr.h>

#include <weft/weft.h>

#include "control.h"
#include "ctl_clock_internal.h"
#include "ctl_local.h"
#include "ctl_sessions.h"

#define EVENTS_BURST 64u
#define IDLE_MIN_MS 2u
#define CALL_TIMEOUT_MS 200u
#define CALL_RETRIES 1u
#define CALL_DEADLINE_MS 1000u
#define EXPIRE_WAIT_MS 200
#define EXPIRE_ATTEMPTS 3
#define LOG_EVERY_MS 10000u
#define STOP_DRAIN_MS 2000u
#define PASS_MAX_MS 500u /* EXPIREs of one pass: sent for at most this long */

struct store_scan {
	struct weft_cache *c;
	uint64_t cursor;
};


struct ctl_sessions {
	struct ctl_sessions_cfg cfg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop; /* under mu */
	/* the thread's own */
	struct weft_dp_local *pub_l, *exp_l;
	uint32_t pub_id, exp_id;
	weft_client *c;
	uint64_t next_rid;
	struct store_scan stores[CTL_SESS_STORES_MAX];
	unsigned n_stores;
	bool warned_stores;
	uint8_t (*due)[WEFT_SESSION_ID_LEN];
	uint64_t *due_version;
	struct weft_dp_sess_service n, logged; /* totals; as last logged */
	uint64_t next_log_ms;
	uint8_t buf[WEFT_MAX_DGRAM_LEN];
};

static bool stopping(struct ctl_sessions *s)
{
	pthread_mutex_lock(&s->mu);
	bool v = s->stop;
	pthread_mutex_unlock(&s->mu);
	return v;
}

/* Sleeps ms or until stop. */
static void nap(struct ctl_sessions *s, unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&s->mu);
	while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
		;
	pthread_mutex_unlock(&s->mu);
}

/* Logs the failure counts that grew since the last log, at most every
 * LOG_EVERY_MS. */
static void log_failures(struct ctl_sessions *s, uint64_t now)
{
	if (now < s->next_log_ms)
		return;
	uint64_t pf = s->n.publish_failed - s->logged.publish_failed;
	uint64_t ef = s->n.expire_failed - s->logged.expire_failed;
	uint64_t be = s->n.bad_events - s->logged.bad_events;
	if (pf + ef + be == 0)
		return;
	weft_ctl_log(WEFT_LOG_WARN,
		     "sessions: %llu event(s) not published, %llu malformed, %llu expiry "
		     "request(s) failed in the last %u s (totals: %llu published, %llu expired)",
		     (unsigned long long)pf, (unsigned long long)be, (unsigned long long)ef,
		     LOG_EVERY_MS / 1000u, (unsigned long long)s->n.published,
		     (unsigned long long)s->n.expired);
	s->logged = s->n;
	s->next_log_ms = now + LOG_EVERY_MS;
}

/* --- events --------------------------------------------------------------- */

/* Publishes one event: 0, or the call's failure. */
static int publish_one(struct ctl_sessions *s, const struct weft_dp_sess_event *ev)
{
	char hex[WEFT_SESSION_HEX_LEN + 1], topic[WEFT_MAX_NAME_LEN + 1];
	char store[WEFT_SESSION_STORE_MAX_LEN + 1];
	struct weft_prop props[3];
	memcpy(store, ev->store, ev->store_len);
	store[ev->store_len] = '\0';
	if (!ctl_sessions_event_props(ev, hex, props) ||
	    weft_session_events_topic(store, topic) != 0) {
		s->n.bad_events++;
		return 0;
	}
	struct weft_publish_opts po = {.props = props, .n_props = 3};
	int rc = weft_publish(s->c, topic, NULL, 0, &po, NULL, NULL);
	if (rc == 0)
		s->n.published++;
	else
		s->n.publish_failed++;
	return rc;
}

/* Publishes up to EVENTS_BURST queued events; how many were taken. A
 * publish that timed out (or failed locally) drops the rest of the burst,
 * counted: the node is not answering, and waiting CALL_DEADLINE_MS per
 * event would stall the expiry pass for minutes. */
static unsigned drain_events(struct ctl_sessions *s)
{
	struct weft_dp_sess_event ev[EVENTS_BURST];
	unsigned n = weft_dp_sess_events(s->cfg.dp, ev, EVENTS_BURST);
	for (unsigned i = 0; i < n; i++) {
		int rc = publish_one(s, &ev[i]);
		if (rc == -WEFT_ST_TIMEOUT || rc == -WEFT_ST_IO) {
			s->n.publish_failed += n - i - 1;
			break;
		}
	}
	return n;
}

/* --- the expiry pass ---------------------------------------------------------- */

static void collect_store(struct weft_cache *c, void *arg)
{
	struct ctl_sessions *s = arg;
	const char *name = weft_cache_name(c);
	if (!weft_wire_is_session_store(name, strlen(name)))
		return;
	for (unsigned i = 0; i < s->n_stores; i++)
		if (s->stores[i].c == c)
			return;
	if (s->n_stores == CTL_SESS_STORES_MAX) {
		if (!s->warned_stores)
			weft_ctl_log(WEFT_LOG_WARN, "sessions: more than %u session stores: "
						    "store %s is not expired by this node",
				     CTL_SESS_STORES_MAX, name);
		s->warned_stores = true;
		return;
	}
	s->stores[s->n_stores++] = (struct store_scan){.c = c, .cursor = 0};
}

/* Sends one EXPIRE to this node and waits for its answer: the status, or
 * -1 when none came. */
static int expire_one(struct ctl_sessions *s, const char *store, const uint8_t *id)
{
	uint64_t rid = s->next_rid++;
	uint8_t tx[WEFT_MAX_DGRAM_LEN];
	size_t len = ctl_sessions_expire_encode(store, strlen(store), id, s->exp_id, rid, 0, tx);
	if (len == 0)
		return -1;
	for (int attempt = 0; attempt < EXPIRE_ATTEMPTS; attempt++) {
		/* a retransmission: same request id, answered from the node's
		 * at-most-once table if the first one was applied */
		if (attempt == 1)
			ctl_sessions_expire_encode(store, strlen(store), id, s->exp_id, rid,
						   WEFT_F_RETRY, tx);
		if (weft_dp_local_send(s->exp_l, s->cfg.bind_ip, htons(s->cfg.udp_port), tx, len) < 0)
			return -1;
		uint64_t until = ctl_mono_ms() + EXPIRE_WAIT_MS;
		for (uint64_t now = ctl_mono_ms(); now < until; now = ctl_mono_ms()) {
			uint32_t ip;
			uint16_t port;
			ssize_t n = weft_dp_local_recv(s->exp_l, s->buf, sizeof(s->buf), &ip, &port,
						       (int)(until - now));
			if (n < 0)
				return -1;
			int st = n > 0 ? ctl_sessions_expire_match(s->buf, (size_t)n, s->exp_id, rid) : -1;
			if (st >= 0)
				return st;
		}
	}
	return -1;
}

/* Sends the EXPIREs of n due sessions until pass_end (monotonic ms). An
 * EXPIRE without an answer ends the pass (the node is not answering: the
 * next pass finds the rest again); events are published between EXPIREs
 * so that a long pass does not delay them. false when the pass ended. */
static bool expire_due(struct ctl_sessions *s, struct weft_cache *c, unsigned n,
		       uint64_t pass_end)
{
	const char *store = weft_cache_name(c);
	for (unsigned i = 0; i < n; i++) {
		if (stopping(s) || ctl_mono_ms() >= pass_end)
			return false;
		int st = expire_one(s, store, s->due[i]);
		if (st == WEFT_ST_OK) {
			s->n.expired++;
		} else if (st == WEFT_ST_EXISTS) {
			s->n.not_due++; /* the primary's clock says not yet */
		} else if (st == WEFT_ST_NO_SESSION) {
			s->n.gone++;    /* another owner's EXPIRE, or an invalidate, won */
			urcu_qsbr_thread_online();
			s->n.discarded += ctl_sessions_discard_due(s->cfg.dp, c, s->due[i],
								   s->due_version[i]);
			urcu_qsbr_thread_offline();
		} else {
			s->n.expire_failed++;
		}
		if (st < 0)
			return false;
		if (i % 16u == 15u)
			drain_events(s);
	}
	return true;
}

/* Scans one store (bounded) and expires what is due; the EXPIREs left (0
 * when the pass must end). */
static unsigned pass_store(struct ctl_sessions *s, struct store_scan *st, unsigned budget,
			   uint64_t pass_end)
{
	struct ctl_sess_scan a = {.now_unix_ms = ctl_unix_ms(), .due = s->due,
				  .due_version = s->due_version, .cap = budget};
	unsigned buckets = 0;
	do {
		urcu_qsbr_thread_online();
		st->cursor = weft_cache_scan(st->c, st->cursor, CTL_SESS_SCAN_STEP,
					     weft_dp_now_ms(s->cfg.dp), ctl_sessions_scan_fn, &a);
		urcu_qsbr_thread_offline();
		buckets += CTL_SESS_SCAN_STEP;
	} while (st->cursor != 0 && buckets < CTL_SESS_SCAN_BUDGET && a.n < a.cap);
	if (!expire_due(s, st->c, a.n, pass_end))
		return 0;
	return budget - a.n;
}

static void expiry_pass(struct ctl_sessions *s)
{
	uint64_t pass_end = ctl_mono_ms() + PASS_MAX_MS;
	weft_cache_foreach(s->cfg.reg, collect_store, s); /* online for the walk */
	unsigned budget = CTL_SESS_EXPIRE_MAX;
	for (unsigned i = 0; i < s->n_stores && budget > 0 && !stopping(s); i++)
		budget = pass_store(s, &s->stores[i], budget, pass_end);
}

/* --- the thread -------------------------------------------------------------- */

static void *sess_main(void *arg)
{
	struct ctl_sessions *s = arg;
	urcu_qsbr_register_thread();
	urcu_qsbr_thread_offline();
	uint64_t next_pass = ctl_mono_ms() + CTL_SESS_PASS_MS;
	unsigned idle_ms = IDLE_MIN_MS;
	while (!stopping(s)) {
		bool busy = drain_events(s) > 0;
		uint64_t now = ctl_mono_ms();
		if (now >= next_pass) {
			expiry_pass(s);
			now = ctl_mono_ms();
			next_pass = now + CTL_SESS_PASS_MS;
		}
		log_failures(s, now);
		weft_dp_sess_service_publish(s->cfg.dp, &s->n);
		if (busy) {
			idle_ms = IDLE_MIN_MS;
			continue;
		}
		nap(s, idle_ms);
		idle_ms = idle_ms * 2u > CTL_SESS_IDLE_MAX_MS ? CTL_SESS_IDLE_MAX_MS : idle_ms * 2u;
	}
	/* Events of the last ops before the stop, bounded. */
	for (uint64_t until = ctl_mono_ms() + STOP_DRAIN_MS; ctl_mono_ms() < until;)
		if (drain_events(s) == 0)
			break;
	log_failures(s, UINT64_MAX);
	weft_dp_sess_service_publish(s->cfg.dp, &s->n);
	urcu_qsbr_unregister_thread();
	return NULL;
}

static void release(struct ctl_sessions *s)
{
	weft_client_close(s->c);
	if (s->pub_l)
		weft_dp_local_close(s->pub_l);
	if (s->exp_l)
		weft_dp_local_close(s->exp_l);
	free(s->due);
	free(s->due_version);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

struct ctl_sessions *ctl_sessions_start(const struct ctl_sessions_cfg *cfg)
{
	if (cfg == NULL || cfg->dp == NULL || cfg->reg == NULL || cfg->udp_port == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct ctl_sessions *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->cfg = *cfg;
	s->next_rid = 1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	char ip[INET_ADDRSTRLEN], addr[INET_ADDRSTRLEN + 8];
	struct in_addr in = {.s_addr = cfg->bind_ip};
	inet_ntop(AF_INET, &in, ip, sizeof(ip));
	snprintf(addr, sizeof(addr), "%s:%u", ip, cfg->udp_port);
	struct weft_client_opts co = {.timeout_ms = CALL_TIMEOUT_MS, .retries = CALL_RETRIES,
				      .deadline_ms = CALL_DEADLINE_MS};
	s->due = calloc(CTL_SESS_EXPIRE_MAX, sizeof(*s->due));
	s->due_version = calloc(CTL_SESS_EXPIRE_MAX, sizeof(*s->due_version));
	s->pub_l = s->due && s->due_version ? ctl_local_open(cfg->dp, &s->pub_id) : NULL;
	s->exp_l = s->pub_l ? ctl_local_open(cfg->dp, &s->exp_id) : NULL;
	s->c = s->exp_l ? ctl_local_client(s->pub_l, s->pub_id, addr, &co) : NULL;
	int rc = s->c ? pthread_create(&s->thread, NULL, sess_main, s) : (errno ? errno : ENOMEM);
	if (rc != 0) {
		release(s);
		errno = rc;
		return NULL;
	}
	return s;
}

void ctl_sessions_stop(struct ctl_sessions *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	/* The thread closes nothing, but the local clients' close below waits
	 * for a grace period: neither may wait on an online caller. */
	bool online = urcu_qsbr_read_ongoing();
	if (online)
		urcu_qsbr_thread_offline();
	pthread_join(s->thread, NULL);
	weft_ctl_log(WEFT_LOG_INFO,
		     "sessions: stopped (%llu events published, %llu sessions expired, %llu "
		     "expiry requests not due, %llu already gone, %llu due copies discarded)",
		     (unsigned long long)s->n.published, (unsigned long long)s->n.expired,
		     (unsigned long long)s->n.not_due, (unsigned long long)s->n.gone,
		     (unsigned long long)s->n.discarded);
	release(s);
	if (online)
		urcu_qsbr_thread_online();
}
