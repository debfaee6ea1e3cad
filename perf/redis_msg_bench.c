/*
 * redis_msg_bench — the baseline of weft-perf --msg: the same harness
 * (weft_perf_msg_run.c: threads, start probe, stamps, drain, report), the
 * same options, over one redis server through hiredis, one connection per
 * thread:
 *   queue  LPUSH by the publishers; consumers BLMOVE dest -> dest:proc
 *          (RIGHT LEFT, 0.1 s block) and LREM dest:proc 1 BODY once the
 *          message is taken: the "reliable queue" pattern, LREM as the ack
 *          (--queue-cmd blmove, the default), or BRPOP dest 0.1 (at most
 *          once: --queue-cmd brpop);
 *   topic  PUBLISH by the publishers, SUBSCRIBE per subscriber (at most
 *          once: a subscriber away or behind loses messages).
 * Each publish waits for its reply before the next, as weft_publish waits
 * for its acknowledgement. perf/msg_run starts the server (127.0.0.1, a
 * free port, --save '' --appendonly no) and stops it.
 *
 * Invariants: a context is used by the thread that opened it only; a
 * subscriber waits for data with poll() on its socket (bounded by the
 * harness's wait) and reads replies already buffered without blocking, so
 * a timeout never poisons the context; a context hiredis failed (redis
 * closed it, e.g. a subscriber past `client-output-buffer-limit pubsub`,
 * 32 MB by default) gives -ENOTCONN and its thread stops; every reply is
 * freed in done().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "weft_perf_msg_internal.h"

#define REDIS_DEFAULT_PORT 6379
#define BLOCK_S "0.1" /* BLMOVE / BRPOP server-side block */

struct rconn {
	const struct wp_msg_config *c;
	redisContext *ctx;
	char proc[WP_MSG_DEST_MAX + 8]; /* dest:proc, BLMOVE's processing list */
	redisReply *held[WP_MSG_MAX_BATCH];
	unsigned n_held;
};

static const char *r_strerror(int rc)
{
	if (rc == -EPROTO)
		return "unexpected reply from redis";
	if (rc == -ENOTCONN)
		return "connection lost (closed by redis, or an I/O error)";
	return strerror(-rc);
}

static redisContext *connect_server(const struct wp_msg_config *c)
{
	const struct wp_msg_addr *a = &c->node[0];
	int port = a->port ? a->port : REDIS_DEFAULT_PORT;
	struct timeval tv = { .tv_sec = 2 };
	redisContext *ctx = redisConnectWithTimeout(a->host, port, tv);

	if (ctx == NULL || ctx->err) {
		fprintf(stderr, "redis_msg_bench: connecting to %s:%d: %s\n", a->host, port,
			ctx ? ctx->errstr : "out of memory");
		redisFree(ctx);
		return NULL;
	}
	tv.tv_sec = 5; /* every reply, a 0.1 s block included, comes well within */
	redisSetTimeout(ctx, tv);
	return ctx;
}

/* Checks one command's reply type (and frees it): 0, -EPROTO, or
 * -ENOTCONN when there is none: hiredis then holds the context failed for
 * good (an I/O error, or redis closed the connection). */
static int cmd_ok(redisContext *ctx, redisReply *rep, int type)
{
	if (rep == NULL) {
		fprintf(stderr, "redis_msg_bench: %s\n", ctx->errstr);
		return -ENOTCONN;
	}
	int rc = rep->type == type ? 0 : -EPROTO;
	if (rc < 0 && rep->type == REDIS_REPLY_ERROR)
		fprintf(stderr, "redis_msg_bench: %s\n", rep->str);
	freeReplyObject(rep);
	return rc;
}

static int del_keys(const struct wp_msg_config *c)
{
	redisContext *ctx = connect_server(c);
	if (ctx == NULL)
		return -1;
	int rc = cmd_ok(ctx, redisCommand(ctx, "DEL %s %s:proc", c->dest, c->dest),
			REDIS_REPLY_INTEGER);
	redisFree(ctx);
	return rc < 0 ? -1 : 0;
}

static int r_setup(const struct wp_msg_config *c)
{
	return del_keys(c);
}

static void r_teardown(const struct wp_msg_config *c)
{
	del_keys(c);
}

static void *r_open(const struct wp_msg_config *c, unsigned i)
{
	(void)i; /* one server */
	struct rconn *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->c = c;
	snprintf(r->proc, sizeof(r->proc), "%s:proc", c->dest);
	r->ctx = connect_server(c);
	if (r->ctx == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

static void r_close(void *p)
{
	struct rconn *r = p;
	for (unsigned i = 0; i < r->n_held; i++)
		freeReplyObject(r->held[i]);
	redisFree(r->ctx);
	free(r);
}

static int r_publish(void *p, const void *body, size_t len)
{
	struct rconn *r = p;
	const char *verb = r->c->kind == WP_MSG_QUEUE ? "LPUSH" : "PUBLISH";
	return cmd_ok(r->ctx, redisCommand(r->ctx, "%s %s %b", verb, r->c->dest, body, len),
		      REDIS_REPLY_INTEGER);
}

static int r_sub_start(void *s)
{
	struct rconn *r = s;
	if (r->c->kind == WP_MSG_QUEUE)
		return 0; /* a queue's consumers need no subscription */
	redisReply *rep = redisCommand(r->ctx, "SUBSCRIBE %s", r->c->dest);
	if (rep == NULL)
		return -ENOTCONN;
	int rc = rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 ? 0 : -EPROTO;
	freeReplyObject(rep);
	return rc;
}

/* Keeps rep (freed by done) and points the batch's next entry at str. */
static void hold(struct rconn *r, struct wp_msg_batch *b, redisReply *rep, const redisReply *str)
{
	r->held[r->n_held++] = rep;
	b->body[b->n] = str->str;
	b->len[b->n] = str->len;
	b->n++;
}

static int recv_queue(struct rconn *r, struct wp_msg_batch *b)
{
	const char *d = r->c->dest;
	redisReply *rep = r->c->redis_queue == WP_MSG_RQ_BRPOP
		? redisCommand(r->ctx, "BRPOP %s " BLOCK_S, d)
		: redisCommand(r->ctx, "BLMOVE %s %s RIGHT LEFT " BLOCK_S, d, r->proc);
	if (rep == NULL)
		return -ENOTCONN;
	if (rep->type == REDIS_REPLY_NIL) {
		freeReplyObject(rep);
		return 0;
	}
	if (rep->type == REDIS_REPLY_STRING && r->c->redis_queue == WP_MSG_RQ_BLMOVE) {
		hold(r, b, rep, rep);
		return 0;
	}
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[1]->type == REDIS_REPLY_STRING && r->c->redis_queue == WP_MSG_RQ_BRPOP) {
		hold(r, b, rep, rep->element[1]);
		return 0;
	}
	freeReplyObject(rep);
	return -EPROTO;
}

/* One pub/sub push: ["message", channel, payload]; other pushes are skipped. */
static int take_push(struct rconn *r, struct wp_msg_batch *b, redisReply *rep)
{
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
	    rep->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(rep->element[0]->str, "message") == 0 &&
	    rep->element[2]->type == REDIS_REPLY_STRING) {
		hold(r, b, rep, rep->element[2]);
		return 0;
	}
	freeReplyObject(rep);
	return -EPROTO;
}

/* Replies already read; if none is complete, one wait (poll, at most
 * wait_ms) and one read of the socket, then the replies that completed. */
static int recv_topic(struct rconn *r, uint32_t wait_ms, struct wp_msg_batch *b)
{
	for (bool waited = false;; waited = true) {
		while (b->n < r->c->batch) {
			void *rep = NULL;
			if (redisGetReplyFromReader(r->ctx, &rep) != REDIS_OK)
				return -ENOTCONN;
			if (rep == NULL)
				break;
			if (take_push(r, b, rep) < 0)
				return -EPROTO;
		}
		if (b->n || waited)
			return 0;
		struct pollfd pfd = { .fd = r->ctx->fd, .events = POLLIN };
		int pr = poll(&pfd, 1, (int)wait_ms);
		if (pr < 0)
			return errno == EINTR ? 0 : -errno;
		if (pr == 0)
			return 0;
		if (redisBufferRead(r->ctx) != REDIS_OK)
			return -ENOTCONN;
	}
}

static int r_receive(void *s, uint32_t wait_ms, struct wp_msg_batch *b)
{
	struct rconn *r = s;
	b->n = 0;
	return r->c->kind == WP_MSG_QUEUE ? recv_queue(r, b) : recv_topic(r, wait_ms, b);
}

/* BLMOVE's ack: the message leaves the processing list. */
static int r_done(void *s, struct wp_msg_batch *b)
{
	struct rconn *r = s;
	int rc = 0;
	if (r->c->kind == WP_MSG_QUEUE && r->c->redis_queue == WP_MSG_RQ_BLMOVE)
		for (unsigned i = 0; i < b->n && rc == 0; i++)
			rc = cmd_ok(r->ctx, redisCommand(r->ctx, "LREM %s 1 %b", r->proc, b->body[i],
							 b->len[i]), REDIS_REPLY_INTEGER);
	for (unsigned i = 0; i < r->n_held; i++)
		freeReplyObject(r->held[i]);
	r->n_held = 0;
	b->n = 0;
	return rc;
}

static const struct wp_msg_backend redis_backend = {
	.name = "redis",
	.setup = r_setup,
	.teardown = r_teardown,
	.pub_open = r_open,
	.publish = r_publish,
	.pub_close = r_close,
	.sub_open = r_open,
	.sub_start = r_sub_start,
	.receive = r_receive,
	.done = r_done,
	.sub_close = r_close,
	.strerror_fn = r_strerror,
};

int main(int argc, char **argv)
{
	return wp_msg_main(argc, argv, WP_MSG_PROG_REDIS, &redis_backend);
}
