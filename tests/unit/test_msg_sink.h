/*
 * test_msg_sink.h — shared fixture of the msg/ unit tests: a sink that
 * remembers every delivery and record, a registry per test, and short
 * helpers (publish, receive, ack, tick, stats) that take the destination's
 * lock as the dataplane does. Time is the `now` argument.
 */
#ifndef TEST_MSG_SINK_H
#define TEST_MSG_SINK_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <urcu/urcu-qsbr.h>

#include "msg.h"

#define T0 1700000000000ull
#define MAXREC 4096

/* --- a sink that remembers everything -------------------------------------- */

struct got {
	uint8_t token0;
	uint64_t consumer_id;
	uint16_t status;
	uint32_t n, dropped;
	uint64_t ids[WEFT_MAX_RECEIVE];
	uint16_t deliveries[WEFT_MAX_RECEIVE];
	struct weft_dest *d;
};

struct rec {
	uint8_t kind;
	uint64_t id;
	char sub[32];
	size_t sub_len;
	struct weft_msg *m; /* APPEND: a reference kept */
	struct weft_dest *d;
};

struct sinkbuf {
	struct got got[MAXREC];
	unsigned n_got;
	struct rec rec[MAXREC];
	unsigned n_rec;
};

static inline void on_deliver(void *ctx, struct weft_dest *d, const struct weft_delivery *dl)
{
	struct sinkbuf *b = ctx;
	assert_true(b->n_got < MAXREC);
	struct got *g = &b->got[b->n_got++];
	g->token0 = dl->token[0];
	g->consumer_id = dl->consumer_id;
	g->status = dl->status;
	g->n = dl->n;
	g->dropped = dl->dropped;
	g->d = d;
	for (uint32_t i = 0; i < dl->n; i++) {
		g->ids[i] = dl->msg[i]->id;
		g->deliveries[i] = dl->deliveries[i];
	}
}

static inline void on_record(void *ctx, struct weft_dest *d, const char *sub, size_t sub_len,
		      uint8_t kind, const struct weft_msg *m, uint64_t id)
{
	struct sinkbuf *b = ctx;
	assert_true(b->n_rec < MAXREC);
	struct rec *r = &b->rec[b->n_rec++];
	r->kind = kind;
	r->id = m ? m->id : id;
	r->d = d;
	r->sub_len = sub_len < sizeof(r->sub) ? sub_len : sizeof(r->sub);
	if (sub_len)
		memcpy(r->sub, sub, r->sub_len);
	r->m = NULL;
	if (m != NULL) {
		r->m = (struct weft_msg *)m;
		weft_msg_ref(r->m);
	}
}

static struct sinkbuf *sb;
static struct weft_msg_sink sink;

static inline void sink_reset(void)
{
	for (unsigned i = 0; i < sb->n_rec; i++)
		weft_msg_unref(sb->rec[i].m);
	sb->n_got = sb->n_rec = 0;
}

static inline unsigned count_rec(uint8_t kind)
{
	unsigned k = 0;
	for (unsigned i = 0; i < sb->n_rec; i++)
		k += sb->rec[i].kind == kind;
	return k;
}

/* --- helpers ----------------------------------------------------------------- */

static struct weft_msg_reg *reg;

static inline int setup(void **state)
{
	(void)state;
	reg = weft_msg_reg_create();
	assert_non_null(reg);
	sb = calloc(1, sizeof(*sb));
	sink = (struct weft_msg_sink){.ctx = sb, .deliver = on_deliver, .record = on_record};
	return 0;
}

static inline int teardown(void **state)
{
	(void)state;
	sink_reset();
	free(sb);
	weft_msg_reg_destroy(reg);
	urcu_qsbr_quiescent_state();
	return 0;
}

static inline struct weft_dest *open_q(const char *name, const struct weft_dest_opts *o)
{
	struct weft_dest *d = NULL;
	assert_int_equal(weft_msg_open(reg, name, strlen(name), o, &d), 0);
	assert_non_null(d);
	return d;
}

/* Publishes a message with the next id; returns the id (0 when refused, rc
 * in *rcp). */
static inline uint64_t pub_ttl(struct weft_dest *d, uint64_t now, const char *body, uint64_t expires,
			int *rcp)
{
	uint64_t id = weft_dest_next_id(d, now);
	struct weft_msg *m = weft_msg_new(id, expires, NULL, 0, body, (uint32_t)strlen(body));
	assert_non_null(m);
	weft_dest_lock(d);
	int rc = weft_dest_publish(d, now, m, &sink);
	weft_dest_unlock(d);
	weft_msg_unref(m);
	if (rcp)
		*rcp = rc;
	return rc >= 0 ? id : 0;
}

static inline uint64_t pub(struct weft_dest *d, uint64_t now, const char *body)
{
	int rc;
	uint64_t id = pub_ttl(d, now, body, 0, &rc);
	assert_true(rc >= 0);
	return id;
}

static uint8_t tok[WEFT_MSG_TOKEN_LEN];

static inline int recv_full(struct weft_dest *d, uint64_t now, uint64_t cid, uint32_t max,
		     uint32_t wait, uint32_t vis, uint8_t token0, struct weft_delivery *dl)
{
	tok[0] = token0;
	struct weft_receive rq = {.consumer_id = cid, .max = max, .wait_ms = wait,
				  .visibility_ms = vis, .token = tok};
	weft_dest_lock(d);
	int rc = weft_dest_receive(d, now, &rq, dl, &sink);
	weft_dest_unlock(d);
	return rc;
}

static inline void dl_unref(struct weft_delivery *dl)
{
	for (uint32_t i = 0; i < dl->n; i++)
		weft_msg_unref(dl->msg[i]);
}

/* Immediate receive (wait 0); returns n and the ids in ids[]. */
static inline uint32_t recv_ids(struct weft_dest *d, uint64_t now, uint64_t cid, uint32_t max,
			 uint32_t vis, uint64_t *ids, uint16_t *deliveries)
{
	struct weft_delivery dl;
	assert_int_equal(recv_full(d, now, cid, max, 0, vis, 0, &dl), 1);
	assert_int_equal(dl.status, WEFT_ST_OK);
	assert_int_equal(dl.consumer_id, cid);
	for (uint32_t i = 0; i < dl.n; i++) {
		if (ids)
			ids[i] = dl.msg[i]->id;
		if (deliveries)
			deliveries[i] = dl.deliveries[i];
	}
	dl_unref(&dl);
	return dl.n;
}

static inline void ack(struct weft_dest *d, uint64_t now, uint64_t cid, enum weft_ack_kind k,
		const uint64_t *ids, uint32_t n, uint32_t *done, uint32_t *unknown)
{
	weft_dest_lock(d);
	weft_dest_ack(d, now, cid, NULL, 0, k, ids, n, done, unknown, &sink);
	weft_dest_unlock(d);
}

static inline uint64_t tick(struct weft_dest *d, uint64_t now)
{
	weft_dest_lock(d);
	uint64_t next = weft_dest_tick(d, now, &sink);
	weft_dest_unlock(d);
	return next;
}

static inline struct weft_dest_stats stats(struct weft_dest *d)
{
	struct weft_dest_stats st;
	weft_dest_lock(d);
	weft_dest_get_stats(d, &st);
	weft_dest_unlock(d);
	return st;
}

#endif /* TEST_MSG_SINK_H */
