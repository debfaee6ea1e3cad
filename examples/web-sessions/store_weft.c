/*
 * store_weft.c — the weft back end: a visitor's session is a weft session
 * (include/weft/weft.h "Sessions") in store st->name, with two attributes:
 * "count" (decimal text; absent = 0) and "note" (the note's bytes; absent
 * = empty). A page view is one LOAD (every attribute in one round trip,
 * an access) then one SET; both go to the primary of the id's segment,
 * which replicates the SET to the other owners before answering.
 *
 * Each thread has its own weft_client (not thread-safe), opened on the
 * node given with --node. The client is topology-aware: it sends session
 * ops straight to the id's primary and, when that node or the seed stops
 * answering, fetches the table from another member it knows, so the app
 * keeps working while its own node is down. A node that does not answer
 * within one call's attempts (ATTEMPT_MS x (1 + RETRIES), at most CALL_MS)
 * gives -WEFT_ST_TIMEOUT: that and the other failover statuses (BUSY,
 * NOT_OWNER, NO_QUORUM, GONE, IO) are -EAGAIN for store.c to retry.
 *
 * Seeds. A client that has never been answered knows no member but its
 * seed, so a worker thread whose first request comes after --node died
 * could not reach the cluster at all. Hence the process keeps the members
 * it has learned (seeds: the --node addresses first, then the members of
 * the segment table, fetched again at most every LEARN_MS after a node
 * answered an op), and a client that times out before it was ever answered is
 * reopened at the next seed. Invariant: seeds.n >= 1 once a client is
 * open; seeds.addr[0 .. configured) are --node's, never replaced.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/weft.h>

#include "web.h"

#define ATTEMPT_MS 250u
#define RETRIES 3u
#define CALL_MS 1500u
#define LEARN_MS 10000u
#define MAX_SEEDS 64u
#define ADDR_MAX 22u /* "255.255.255.255:65535" */

static struct {
	pthread_mutex_t lock;
	unsigned n, configured;
	char addr[MAX_SEEDS][ADDR_MAX + 1];
	_Atomic uint64_t learned_ms; /* monotonic; 0: never (written under lock) */
} seeds = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* A thread's connection: its client, the seed it was opened on, and
 * whether any node ever answered it (then it has a table to fail over
 * with). */
struct wconn {
	weft_client *c;
	unsigned seed;
	bool answered;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static weft_client *open_client(const char *addr)
{
	struct weft_client_opts o;
	weft_client_opts_init(&o);
	o.timeout_ms = ATTEMPT_MS;
	o.retries = RETRIES;
	o.deadline_ms = CALL_MS;
	return weft_client_connect(addr, &o);
}

/* --node's comma-separated addresses become the first seeds (once). */
static int seeds_init(const char *nodes)
{
	int rc = 0;
	pthread_mutex_lock(&seeds.lock);
	if (seeds.n == 0) {
		for (const char *p = nodes; *p != '\0' && rc == 0;) {
			size_t len = strcspn(p, ",");
			if (len == 0 || len > ADDR_MAX || seeds.n == MAX_SEEDS) {
				rc = -EINVAL;
				break;
			}
			memcpy(seeds.addr[seeds.n], p, len);
			seeds.addr[seeds.n][len] = '\0';
			seeds.n++;
			p += len + (p[len] == ',');
		}
		seeds.configured = seeds.n;
		if (rc != 0)
			seeds.n = seeds.configured = 0;
	}
	pthread_mutex_unlock(&seeds.lock);
	return rc;
}

/* Adds the members of c's segment table to the seeds, every LEARN_MS at
 * most (one TOPOLOGY round trip; a failure is ignored: next time). */
static void seeds_learn(weft_client *c)
{
	uint64_t now = mono_ms(), last = atomic_load(&seeds.learned_ms);
	if (last != 0 && now - last < LEARN_MS)
		return; /* the common case: no lock */
	pthread_mutex_lock(&seeds.lock);
	last = atomic_load(&seeds.learned_ms);
	bool due = last == 0 || now - last >= LEARN_MS;
	if (due)
		atomic_store(&seeds.learned_ms, now);
	pthread_mutex_unlock(&seeds.lock);
	struct weft_topology *t = NULL;
	if (!due || weft_topology(c, &t) != 0)
		return;
	pthread_mutex_lock(&seeds.lock);
	seeds.n = seeds.configured;
	for (unsigned i = 0; i < t->n_members && seeds.n < MAX_SEEDS; i++) {
		char ip[INET_ADDRSTRLEN], a[ADDR_MAX + 1];
		struct in_addr in = { .s_addr = t->members[i].ip };
		if (t->members[i].ip == 0 || t->members[i].port == 0 ||
		    inet_ntop(AF_INET, &in, ip, sizeof(ip)) == NULL)
			continue;
		snprintf(a, sizeof(a), "%s:%u", ip, (unsigned)t->members[i].port);
		bool known = false;
		for (unsigned j = 0; j < seeds.n && !known; j++)
			known = strcmp(seeds.addr[j], a) == 0;
		if (!known)
			memcpy(seeds.addr[seeds.n++], a, sizeof(a));
	}
	pthread_mutex_unlock(&seeds.lock);
	weft_topology_free(t);
}

/* w's client timed out before any node answered it: reopens it at the
 * next seed (keeps the old one if that fails). */
static void seeds_rotate(struct wconn *w)
{
	char a[ADDR_MAX + 1];
	pthread_mutex_lock(&seeds.lock);
	unsigned i = (w->seed + 1) % seeds.n;
	memcpy(a, seeds.addr[i], sizeof(a));
	pthread_mutex_unlock(&seeds.lock);
	weft_client *c = open_client(a);
	if (c == NULL)
		return;
	weft_client_close(w->c);
	w->c = c;
	w->seed = i;
}

static int map_status(int rc, const char *what)
{
	switch (-rc) {
	case 0:
		return 0;
	case WEFT_ST_NO_SESSION:
		return -ENOENT;
	case WEFT_ST_TIMEOUT:
	case WEFT_ST_BUSY:
	case WEFT_ST_NOT_OWNER:
	case WEFT_ST_NO_QUORUM:
	case WEFT_ST_GONE:
	case WEFT_ST_IO:
		return -EAGAIN;
	case WEFT_ST_NO_MEMORY:
		web_log_limited("weft %s: %s", what, weft_strerror(rc));
		return -ENOMEM;
	default:
		web_log_limited("weft %s: %s (%s)", what, weft_strerror(rc), weft_status_name(rc));
		return -EPROTO;
	}
}

static void *weft_conn_open(const struct web_store *st)
{
	int rc = seeds_init(st->addr);
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	struct wconn *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	pthread_mutex_lock(&seeds.lock);
	char a[ADDR_MAX + 1];
	memcpy(a, seeds.addr[0], sizeof(a));
	pthread_mutex_unlock(&seeds.lock);
	w->c = open_client(a);
	if (w->c == NULL) {
		free(w);
		return NULL;
	}
	return w;
}

static void weft_conn_close(void *conn)
{
	struct wconn *w = conn;
	weft_client_close(w->c);
	free(w);
}

/* rc, the status of an op on w, as store.c wants it; learns the members
 * once a node answered (whatever its status), moves a never-answered
 * client to the next seed after a timeout. */
static int outcome(struct wconn *w, int rc, const char *what)
{
	if (rc != -WEFT_ST_TIMEOUT && rc != -WEFT_ST_IO) {
		w->answered = true;
		seeds_learn(w->c);
	} else if (!w->answered) {
		seeds_rotate(w);
	}
	return map_status(rc, what);
}

/* A count attribute: decimal digits, no sign, fits 64 bits. */
static int parse_count(const void *v, size_t len, uint64_t *out)
{
	const char *p = v;
	uint64_t n = 0;
	if (len == 0 || len > 20)
		return -EPROTO;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EPROTO;
		uint64_t d = (uint64_t)(p[i] - '0');
		if (n > (UINT64_MAX - d) / 10u)
			return -EPROTO;
		n = n * 10u + d;
	}
	*out = n;
	return 0;
}

static int weft_load(void *conn, const struct web_store *st, const char *id,
		     struct web_session *s)
{
	struct weft_session_id sid;
	if (weft_session_id_parse(id, &sid) != 0)
		return -ENOENT;
	struct weft_session_attr *a = NULL;
	size_t n = 0;
	struct wconn *w = conn;
	int rc = outcome(w, weft_session_load(w->c, st->name, &sid, &a, &n, NULL), "load");
	if (rc != 0)
		return rc;
	memcpy(s->id, id, WEB_ID_HEX + 1);
	s->count = 0;
	s->note_len = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (strcmp(a[i].name, "count") == 0) {
			rc = parse_count(a[i].value, a[i].value_len, &s->count);
		} else if (strcmp(a[i].name, "note") == 0) {
			if (a[i].value_len > WEB_NOTE_MAX)
				rc = -EPROTO;
			else if (a[i].value_len > 0)
				memcpy(s->note, a[i].value, a[i].value_len);
			s->note_len = a[i].value_len;
		}
	}
	s->note[s->note_len] = '\0';
	free(a);
	if (rc != 0)
		web_log_limited("weft load: session %s holds a malformed attribute", id);
	return rc;
}

static int weft_create(void *conn, const struct web_store *st, struct web_session *s)
{
	struct weft_session_id sid;
	struct wconn *w = conn;
	int rc = outcome(w, weft_session_create(w->c, st->name, st->timeout_s, &sid), "create");
	if (rc != 0)
		return rc;
	weft_session_id_hex(&sid, s->id);
	s->count = 0;
	s->note_len = 0;
	s->note[0] = '\0';
	return 0;
}

static int weft_set(void *conn, const struct web_store *st, const char *id, const char *attr,
		    const void *v, size_t len)
{
	struct weft_session_id sid;
	if (weft_session_id_parse(id, &sid) != 0)
		return -ENOENT;
	struct wconn *w = conn;
	return outcome(w, weft_session_set(w->c, st->name, &sid, attr, v, len), "set");
}

static int weft_set_count(void *conn, const struct web_store *st, const char *id, uint64_t count)
{
	char buf[24];
	int len = snprintf(buf, sizeof(buf), "%" PRIu64, count);
	return weft_set(conn, st, id, "count", buf, (size_t)len);
}

static int weft_set_note(void *conn, const struct web_store *st, const char *id,
			 const char *note, size_t len)
{
	return weft_set(conn, st, id, "note", note, len);
}

static int weft_invalidate(void *conn, const struct web_store *st, const char *id)
{
	struct weft_session_id sid;
	if (weft_session_id_parse(id, &sid) != 0)
		return -ENOENT;
	struct wconn *w = conn;
	return outcome(w, weft_session_invalidate(w->c, st->name, &sid), "invalidate");
}

const struct web_store_ops web_store_weft_ops = {
	.kind = "weft",
	.conn_open = weft_conn_open,
	.conn_close = weft_conn_close,
	.load = weft_load,
	.create = weft_create,
	.set_count = weft_set_count,
	.set_note = weft_set_note,
	.invalidate = weft_invalidate,
};
