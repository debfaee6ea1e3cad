/*
 * weft_perf_msg.c — the weft backend of weft-perf --msg: libweft's
 * messaging API (include/weft/weft.h, "Messaging"), one weft_client per
 * thread. Publisher and receiver i talk first to node i mod n of --nodes
 * (round-robin over the address list): a publisher's or a queue
 * consumer's client then routes to the destination's primary by the
 * topology; a topic subscriber stays on its node, which subscribes to the
 * topic's primary and fans out to it (wire.h "Destinations").
 *
 * Invariants: a connection (client + consumer) is opened, used and closed
 * on one thread; a received block is freed by done(), after the harness
 * took its messages; queue messages are acked in one ACK per batch
 * (topic messages on a plain subscription need none).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/weft.h>

#include "weft_perf_msg_internal.h"

struct wconn {
	const struct wp_msg_config *c;
	weft_client *cl;
	weft_consumer *k;                     /* receivers only */
	struct weft_message msgs[WP_MSG_MAX_BATCH];
};

static weft_client *connect_node(const struct wp_msg_config *c, unsigned i)
{
	const struct wp_msg_addr *a = &c->node[i % c->n_nodes];
	struct weft_client_opts o;
	char addr[32];

	weft_client_opts_init(&o);
	o.timeout_ms = c->timeout_ms;
	snprintf(addr, sizeof(addr), "%s:%u", a->host, a->port ? a->port : WEFT_DEFAULT_PORT);
	weft_client *cl = weft_client_connect(addr, &o);
	if (cl == NULL)
		fprintf(stderr, "weft-perf: client for %s: %s\n", addr, strerror(errno));
	return cl;
}

static const char *w_strerror(int rc)
{
	return weft_strerror(rc);
}

static int w_setup(const struct wp_msg_config *c)
{
	weft_client *cl = connect_node(c, 0);
	if (cl == NULL)
		return -1;
	int rc = weft_dest_open(cl, c->dest, NULL);
	if (rc < 0)
		fprintf(stderr, "weft-perf: opening %s: %s: %s\n", c->dest, weft_status_name(rc),
			weft_strerror(rc));
	weft_client_close(cl);
	return rc < 0 ? -1 : 0;
}

/* Stops the run's destination (its leftovers, if any, go with it). */
static void w_teardown(const struct wp_msg_config *c)
{
	weft_client *cl = connect_node(c, 0);
	if (cl == NULL)
		return;
	int rc = weft_dest_stop(cl, c->dest);
	if (rc < 0 && rc != -WEFT_ST_NOT_FOUND)
		fprintf(stderr, "weft-perf: stopping %s: %s\n", c->dest, weft_strerror(rc));
	weft_client_close(cl);
}

static void *w_pub_open(const struct wp_msg_config *c, unsigned i)
{
	struct wconn *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->c = c;
	w->cl = connect_node(c, i);
	if (w->cl == NULL) {
		free(w);
		return NULL;
	}
	return w;
}

static int w_publish(void *p, const void *body, size_t len)
{
	struct wconn *w = p;
	int rc = weft_publish(w->cl, w->c->dest, body, len, NULL, NULL, NULL);
	return rc == -WEFT_ST_FULL ? 1 : rc;
}

static void w_pub_close(void *p)
{
	struct wconn *w = p;
	weft_client_close(w->cl);
	free(w);
}

static void *w_sub_open(const struct wp_msg_config *c, unsigned i)
{
	struct wconn *w = w_pub_open(c, i);
	if (w == NULL)
		return NULL;
	w->k = weft_consumer_open(w->cl, c->dest, NULL);
	if (w->k == NULL) {
		fprintf(stderr, "weft-perf: consumer of %s: %s\n", c->dest, strerror(errno));
		w_pub_close(w);
		return NULL;
	}
	return w;
}

static int w_receive(void *s, uint32_t wait_ms, struct wp_msg_batch *b)
{
	struct wconn *w = s;
	struct weft_receive_opts ro = { .max = w->c->batch, .wait_ms = wait_ms };
	size_t n = 0;
	void *block = NULL;
	uint32_t dropped = 0;
	int rc = weft_receive(w->k, &ro, w->msgs, &n, &block, &dropped);

	b->n = 0;
	if (rc < 0)
		return rc;
	b->block = block;
	b->dropped = dropped;
	for (size_t i = 0; i < n && i < WP_MSG_MAX_BATCH; i++) {
		b->body[i] = w->msgs[i].body;
		b->len[i] = w->msgs[i].body_len;
		b->id[i] = w->msgs[i].id;
	}
	b->n = (unsigned)(n < WP_MSG_MAX_BATCH ? n : WP_MSG_MAX_BATCH);
	return 0;
}

static int w_done(void *s, struct wp_msg_batch *b)
{
	struct wconn *w = s;
	int rc = 0;
	if (b->n && w->c->kind == WP_MSG_QUEUE)
		rc = weft_ack(w->k, b->id, b->n, NULL);
	free(b->block);
	b->block = NULL;
	return rc;
}

/* The first RECEIVE subscribes (a topic's messages reach it from the next
 * one on); nothing measured is published yet. */
static int w_sub_start(void *s)
{
	struct wp_msg_batch b = { 0 };
	int rc = w_receive(s, 0, &b);
	if (rc == 0)
		rc = w_done(s, &b);
	return rc;
}

static void w_sub_close(void *s)
{
	struct wconn *w = s;
	weft_consumer_close(w->k, false);
	w_pub_close(w);
}

static const struct wp_msg_backend weft_backend = {
	.name = "weft",
	.setup = w_setup,
	.teardown = w_teardown,
	.pub_open = w_pub_open,
	.publish = w_publish,
	.pub_close = w_pub_close,
	.sub_open = w_sub_open,
	.sub_start = w_sub_start,
	.receive = w_receive,
	.done = w_done,
	.sub_close = w_sub_close,
	.strerror_fn = w_strerror,
};

int wp_msg_weft_main(int argc, char **argv)
{
	return wp_msg_main(argc, argv, WP_MSG_PROG_WEFT, &weft_backend);
}
