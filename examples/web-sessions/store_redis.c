/*
 * store_redis.c — the redis back end (--redis HOST:PORT), the baseline the
 * weft store is measured against: a session is the hash "weft-web:<id>"
 * with fields "created" (unix ms; what marks the session as existing),
 * "count" (absent = 0) and "note" (absent = empty), and a redis EXPIRE of
 * the session timeout, refreshed by every request. A page view costs what
 * it costs on weft: one load round trip (HMGET + EXPIRE, pipelined) and
 * one set round trip (a script that writes the field and refreshes the
 * expiry only if the session still exists, so a set never resurrects an
 * expired session as a field without "created").
 *
 * Each thread has its own redisContext (hiredis contexts are not
 * thread-safe). A context that failed (connection lost, timeout) is freed
 * and the op answers -EAGAIN; the next try connects again (bounded by
 * CONNECT_MS, replies by REPLY_MS). redis's transient error replies
 * (LOADING, BUSY, TRYAGAIN, MASTERDOWN) are -EAGAIN too; any other error
 * reply is -EPROTO.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "web.h"

#define CONNECT_MS 500
#define REPLY_MS 1000
#define KEY_PREFIX "weft-web:"

/* KEYS[1] session, ARGV field, value, timeout: 1 when set, 0 when gone. */
static const char set_script[] =
	"if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
	"redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) "
	"redis.call('EXPIRE', KEYS[1], ARGV[3]) return 1";

struct rconn {
	redisContext *c;           /* NULL: connect at the next op */
	char sha[41];              /* set_script's SHA1 on this server */
	char host[256];
	int port;
};

static void drop(struct rconn *r)
{
	if (r->c != NULL)
		redisFree(r->c);
	r->c = NULL;
}

/* An error reply: transient ones are -EAGAIN (NOSCRIPT too: the server
 * lost its scripts, so the connection is remade and loads it again). */
static int reply_error(struct rconn *r, const redisReply *rep, const char *what)
{
	static const char *const transient[] = { "LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN" };
	if (strncmp(rep->str, "NOSCRIPT", 8) == 0) {
		drop(r);
		return -EAGAIN;
	}
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (strncmp(rep->str, transient[i], strlen(transient[i])) == 0)
			return -EAGAIN;
	web_log_limited("redis %s: %s", what, rep->str);
	return -EPROTO;
}

/* Connects (and loads the script) if needed: 0 or -EAGAIN. */
static int ensure(struct rconn *r)
{
	if (r->c != NULL)
		return 0;
	struct timeval ct = { .tv_sec = 0, .tv_usec = CONNECT_MS * 1000 };
	struct timeval rt = { .tv_sec = REPLY_MS / 1000, .tv_usec = (REPLY_MS % 1000) * 1000 };
	r->c = redisConnectWithTimeout(r->host, r->port, ct);
	if (r->c == NULL || r->c->err != 0 || redisSetTimeout(r->c, rt) != REDIS_OK) {
		if (r->c != NULL)
			web_log_limited("redis %s:%d: %s", r->host, r->port, r->c->errstr);
		drop(r);
		return -EAGAIN;
	}
	redisReply *rep = redisCommand(r->c, "SCRIPT LOAD %s", set_script);
	int rc = -EAGAIN;
	if (rep != NULL && rep->type == REDIS_REPLY_STRING && rep->len == 40) {
		memcpy(r->sha, rep->str, 41);
		rc = 0;
	} else if (rep != NULL && rep->type == REDIS_REPLY_ERROR) {
		rc = reply_error(r, rep, "SCRIPT LOAD");
	}
	freeReplyObject(rep);
	if (rc != 0)
		drop(r);
	return rc;
}

static void *redis_conn_open(const struct web_store *st)
{
	struct rconn *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	const char *colon = strrchr(st->addr, ':');
	char *end;
	long port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
	size_t hl = colon != NULL ? (size_t)(colon - st->addr) : 0;
	if (colon == NULL || *end != '\0' || port < 1 || port > 65535 || hl == 0 ||
	    hl >= sizeof(r->host)) {
		free(r);
		errno = EINVAL;
		return NULL;
	}
	memcpy(r->host, st->addr, hl);
	r->port = (int)port;
	return r; /* connects at the first op */
}

static void redis_conn_close(void *conn)
{
	drop(conn);
	free(conn);
}

static void make_key(char key[sizeof(KEY_PREFIX) + WEB_ID_HEX], const char *id)
{
	memcpy(key, KEY_PREFIX, sizeof(KEY_PREFIX) - 1);
	memcpy(key + sizeof(KEY_PREFIX) - 1, id, WEB_ID_HEX + 1);
}

/* Sends the n commands appended so far and takes their n replies into
 * rep[]; 0, or -EAGAIN with the connection dropped (and nothing in rep). */
static int replies(struct rconn *r, redisReply **rep, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		void *p = NULL;
		if (redisGetReply(r->c, &p) != REDIS_OK || p == NULL) {
			web_log_limited("redis %s:%d: %s", r->host, r->port,
					r->c->err != 0 ? r->c->errstr : "no reply");
			while (i > 0)
				freeReplyObject(rep[--i]);
			drop(r);
			return -EAGAIN;
		}
		rep[i] = p;
	}
	return 0;
}

static int redis_load(void *conn, const struct web_store *st, const char *id,
		      struct web_session *s)
{
	struct rconn *r = conn;
	char key[sizeof(KEY_PREFIX) + WEB_ID_HEX];
	int rc = ensure(r);
	if (rc != 0)
		return rc;
	make_key(key, id);
	if (redisAppendCommand(r->c, "HMGET %s created count note", key) != REDIS_OK ||
	    redisAppendCommand(r->c, "EXPIRE %s %u", key, st->timeout_s) != REDIS_OK) {
		drop(r);
		return -EAGAIN;
	}
	redisReply *rep[2];
	if ((rc = replies(r, rep, 2)) != 0)
		return rc;
	const redisReply *h = rep[0];
	if (h->type == REDIS_REPLY_ERROR) {
		rc = reply_error(r, h, "HMGET");
	} else if (h->type != REDIS_REPLY_ARRAY || h->elements != 3) {
		rc = -EPROTO;
	} else if (h->element[0]->type != REDIS_REPLY_STRING) {
		rc = -ENOENT; /* no "created": no session */
	} else {
		const redisReply *c = h->element[1], *n = h->element[2];
		memcpy(s->id, id, WEB_ID_HEX + 1);
		s->count = 0;
		s->note_len = 0;
		if (c->type == REDIS_REPLY_STRING) {
			char *end;
			errno = 0;
			s->count = strtoull(c->str, &end, 10);
			if (errno != 0 || *end != '\0' || c->len == 0)
				rc = -EPROTO;
		}
		if (n->type == REDIS_REPLY_STRING) {
			if (n->len > WEB_NOTE_MAX) {
				rc = -EPROTO;
			} else {
				memcpy(s->note, n->str, n->len);
				s->note_len = n->len;
			}
		}
		s->note[s->note_len] = '\0';
		if (rc != 0)
			web_log_limited("redis load: session %s holds a malformed field", id);
	}
	freeReplyObject(rep[0]);
	freeReplyObject(rep[1]);
	return rc;
}

static int redis_create(void *conn, const struct web_store *st, struct web_session *s)
{
	struct rconn *r = conn;
	char key[sizeof(KEY_PREFIX) + WEB_ID_HEX];
	int rc = ensure(r);
	if (rc != 0)
		return rc;
	if ((rc = web_id_random(s->id)) != 0)
		return rc;
	make_key(key, s->id);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
	/* Atomic: a session never exists without its expiry. */
	if (redisAppendCommand(r->c, "MULTI") != REDIS_OK ||
	    redisAppendCommand(r->c, "HSETNX %s created %" PRIu64, key, ms) != REDIS_OK ||
	    redisAppendCommand(r->c, "EXPIRE %s %u", key, st->timeout_s) != REDIS_OK ||
	    redisAppendCommand(r->c, "EXEC") != REDIS_OK) {
		drop(r);
		return -EAGAIN;
	}
	redisReply *rep[4];
	if ((rc = replies(r, rep, 4)) != 0)
		return rc;
	const redisReply *x = rep[3];
	if (x->type == REDIS_REPLY_ERROR)
		rc = reply_error(r, x, "EXEC");
	else if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
		 x->element[0]->type != REDIS_REPLY_INTEGER)
		rc = -EPROTO;
	else if (x->element[0]->integer != 1)
		rc = -EAGAIN; /* the id is taken (2^-128): the retry draws another */
	for (size_t i = 0; i < 4; i++)
		freeReplyObject(rep[i]);
	if (rc == 0) {
		s->count = 0;
		s->note_len = 0;
		s->note[0] = '\0';
	}
	return rc;
}

static int redis_set(struct rconn *r, const struct web_store *st, const char *id,
		     const char *field, const char *v, size_t len)
{
	char key[sizeof(KEY_PREFIX) + WEB_ID_HEX];
	int rc = ensure(r);
	if (rc != 0)
		return rc;
	make_key(key, id);
	redisReply *rep = redisCommand(r->c, "EVALSHA %s 1 %s %s %b %u", r->sha, key, field, v,
				       len, st->timeout_s);
	if (rep == NULL) {
		web_log_limited("redis %s:%d: %s", r->host, r->port, r->c->errstr);
		drop(r);
		return -EAGAIN;
	}
	if (rep->type == REDIS_REPLY_ERROR)
		rc = reply_error(r, rep, "EVALSHA");
	else if (rep->type != REDIS_REPLY_INTEGER)
		rc = -EPROTO;
	else
		rc = rep->integer == 1 ? 0 : -ENOENT;
	freeReplyObject(rep);
	return rc;
}

static int redis_set_count(void *conn, const struct web_store *st, const char *id,
			   uint64_t count)
{
	char buf[24];
	int len = snprintf(buf, sizeof(buf), "%" PRIu64, count);
	return redis_set(conn, st, id, "count", buf, (size_t)len);
}

static int redis_set_note(void *conn, const struct web_store *st, const char *id,
			  const char *note, size_t len)
{
	return redis_set(conn, st, id, "note", note, len);
}

static int redis_invalidate(void *conn, const struct web_store *st, const char *id)
{
	(void)st;
	struct rconn *r = conn;
	char key[sizeof(KEY_PREFIX) + WEB_ID_HEX];
	int rc = ensure(r);
	if (rc != 0)
		return rc;
	make_key(key, id);
	redisReply *rep = redisCommand(r->c, "DEL %s", key);
	if (rep == NULL) {
		web_log_limited("redis %s:%d: %s", r->host, r->port, r->c->errstr);
		drop(r);
		return -EAGAIN;
	}
	if (rep->type == REDIS_REPLY_ERROR)
		rc = reply_error(r, rep, "DEL");
	else if (rep->type != REDIS_REPLY_INTEGER)
		rc = -EPROTO;
	else
		rc = rep->integer == 1 ? 0 : -ENOENT;
	freeReplyObject(rep);
	return rc;
}

const struct web_store_ops web_store_redis_ops = {
	.kind = "redis",
	.conn_open = redis_conn_open,
	.conn_close = redis_conn_close,
	.load = redis_load,
	.create = redis_create,
	.set_count = redis_set_count,
	.set_note = redis_set_note,
	.invalidate = redis_invalidate,
};
