/*
 * store.c — the session store front the pages call: one back-end
 * connection per thread, and the bounded retry that hides a failover.
 *
 * Threads. libmicrohttpd runs the pages on its worker threads; neither a
 * weft_client nor a redisContext may be shared between threads, so each
 * worker opens its own connection on first use and keeps it in a
 * pthread key, whose destructor closes it when the worker exits
 * (MHD_stop_daemon joins them). No connection is ever used by two
 * threads.
 *
 * Retry. An op the back end calls transient (-EAGAIN: a node that stopped
 * answering, a segment changing primary, a minority partition, redis
 * reconnecting) is tried again after a pause that doubles from
 * RETRY_FIRST_MS to RETRY_MAX_MS, until WEB_RETRY_MS have passed since the
 * first try: then -ETIMEDOUT (the page answers 503 and nginx tries another
 * instance). Every op retried here is safe to repeat: load and the sets
 * are idempotent, a repeated create draws another id (the first, if it was
 * made, expires unused), a repeated invalidate finds the session gone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "web.h"

#define RETRY_FIRST_MS 20u
#define RETRY_MAX_MS 500u

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000u),
			       .tv_nsec = (long)(ms % 1000u) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void web_log_limited(const char *fmt, ...)
{
	static _Atomic uint64_t last_s;
	uint64_t now = mono_ms() / 1000u, prev = atomic_load(&last_s);
	if (now == prev || !atomic_compare_exchange_strong(&last_s, &prev, now))
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("web-sessions: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The one store of the process and its thread-local connection key. */
static pthread_key_t conn_key;
static struct web_store *the_store;

static void conn_free(void *conn)
{
	if (the_store != NULL)
		the_store->ops->conn_close(conn);
}

int web_store_init(struct web_store *st)
{
	if (st->ops == NULL || st->addr == NULL || st->timeout_s == 0)
		return -EINVAL;
	if (the_store != NULL)
		return -EBUSY;
	int rc = pthread_key_create(&conn_key, conn_free);
	if (rc != 0)
		return -rc;
	the_store = st;
	return 0;
}

void web_store_fini(struct web_store *st)
{
	if (the_store != st)
		return;
	/* The calling thread's own connection, if it made one: the others
	 * were closed as their threads exited. */
	void *conn = pthread_getspecific(conn_key);
	if (conn != NULL) {
		pthread_setspecific(conn_key, NULL);
		st->ops->conn_close(conn);
	}
	pthread_key_delete(conn_key);
	the_store = NULL;
}

/* The calling thread's connection to st, opened on first use; NULL when
 * it cannot be opened now (errno set). */
static void *thread_conn(struct web_store *st)
{
	void *conn = pthread_getspecific(conn_key);
	if (conn != NULL)
		return conn;
	conn = st->ops->conn_open(st);
	if (conn == NULL)
		return NULL;
	int rc = pthread_setspecific(conn_key, conn);
	if (rc != 0) {
		st->ops->conn_close(conn);
		errno = rc;
		return NULL;
	}
	return conn;
}

enum op_kind { OP_LOAD, OP_CREATE, OP_SET_COUNT, OP_SET_NOTE, OP_INVALIDATE };

struct op_args {
	enum op_kind kind;
	const char *id;
	struct web_session *s;
	uint64_t count;
	const char *note;
	size_t len;
};

static int op_once(struct web_store *st, void *conn, const struct op_args *a)
{
	const struct web_store_ops *o = st->ops;
	switch (a->kind) {
	case OP_LOAD:
		return o->load(conn, st, a->id, a->s);
	case OP_CREATE:
		return o->create(conn, st, a->s);
	case OP_SET_COUNT:
		return o->set_count(conn, st, a->id, a->count);
	case OP_SET_NOTE:
		return o->set_note(conn, st, a->id, a->note, a->len);
	case OP_INVALIDATE:
		return o->invalidate(conn, st, a->id);
	}
	return -EINVAL;
}

static int op_retry(struct web_store *st, const struct op_args *a)
{
	uint64_t start = mono_ms(), pause = RETRY_FIRST_MS;
	for (;;) {
		void *conn = thread_conn(st);
		/* A connection that cannot be opened (no memory, no socket)
		 * is as transient as an unreachable store. */
		int rc = conn != NULL ? op_once(st, conn, a) : -EAGAIN;
		if (rc != -EAGAIN)
			return rc;
		uint64_t spent = mono_ms() - start;
		if (spent >= WEB_RETRY_MS) {
			web_log_limited("%s store at %s unavailable for %u ms: answering 503",
					st->ops->kind, st->addr, WEB_RETRY_MS);
			return -ETIMEDOUT;
		}
		uint64_t left = WEB_RETRY_MS - spent;
		sleep_ms(pause < left ? pause : left);
		pause = pause * 2u < RETRY_MAX_MS ? pause * 2u : RETRY_MAX_MS;
	}
}

int web_store_probe(struct web_store *st)
{
	char id[WEB_ID_HEX + 1];
	struct web_session s;
	void *conn = thread_conn(st);
	if (conn == NULL)
		return -errno;
	int rc = web_id_random(id);
	if (rc == 0)
		rc = st->ops->load(conn, st, id, &s);
	return rc == -ENOENT ? 0 : rc;
}

int web_load(struct web_store *st, const char *id, struct web_session *s)
{
	return op_retry(st, &(struct op_args){ .kind = OP_LOAD, .id = id, .s = s });
}

int web_create(struct web_store *st, struct web_session *s)
{
	return op_retry(st, &(struct op_args){ .kind = OP_CREATE, .s = s });
}

int web_set_count(struct web_store *st, const char *id, uint64_t count)
{
	return op_retry(st, &(struct op_args){ .kind = OP_SET_COUNT, .id = id, .count = count });
}

int web_set_note(struct web_store *st, const char *id, const char *note, size_t len)
{
	return op_retry(st, &(struct op_args){ .kind = OP_SET_NOTE, .id = id, .note = note,
					       .len = len });
}

int web_invalidate(struct web_store *st, const char *id)
{
	int rc = op_retry(st, &(struct op_args){ .kind = OP_INVALIDATE, .id = id });
	return rc == -ENOENT ? 0 : rc;
}

bool web_id_valid(const char *s)
{
	bool nonzero = false;
	for (size_t i = 0; i < WEB_ID_HEX; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		nonzero |= c != '0';
	}
	return s[WEB_ID_HEX] == '\0' && nonzero;
}

int web_id_random(char out[WEB_ID_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[WEB_ID_HEX / 2];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15u];
	}
	out[WEB_ID_HEX] = '\0';
	return web_id_valid(out) ? 0 : -EAGAIN; /* all zero: 2^-128 */
}
