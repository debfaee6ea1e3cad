/*
 * libweft's topology-aware routing against a fake 3-node cluster on
 * loopback: three fake nodes (test_client_peer.c, each its own UDP socket
 * and thread on 127.0.0.1) answer TOPOLOGY with a table this file encodes
 * (16 segments, 2 owners; segment s's owners are node (s + rot) % 3 then
 * (s + rot + 1) % 3) and serve keyed ops, logging which node got what.
 *
 * Asserted: keys go to their primary (every write op, and GET); non-keyed
 * ops and the table fetch go to the seed; a GET fails over to the backup
 * when the primary is silent, and a timed-out non-idempotent write is not
 * re-sent elsewhere; NOT_OWNER makes the client re-fetch and retry once at
 * the new primary; a response with a newer epoch makes the next keyed op
 * re-fetch first; routing off sends everything to the seed; a table with
 * no owners sends everything to the seed; MULTI_GET is split per primary
 * and merged in the caller's order (and per-key NOT_OWNER re-fetches and
 * retries those keys); a silent seed is replaced by another member; a
 * client on a table it cannot route by re-fetches it when home answers
 * NOT_OWNER (K3).
 *
 * Every wait is bounded: client timeouts are short (a silent node costs a
 * few of them), the peers poll with a cap (test_client_peer.h).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>
#include <xxhash.h>

#include "client_internal.h"
#include "test_client_peer.h"

#define NODES 3u
#define SEG_LOG2 4u
#define LOG_MAX 512u

struct rec {
	unsigned node;
	uint8_t op;
	uint32_t epoch;   /* the request's hdr.epoch */
	uint16_t status;  /* what the node answered (0xffff: nothing) */
	char keys[600];   /* the key, or a MULTI_GET's keys joined by ',' */
};

struct cluster;
struct node {
	struct cluster *cl;
	unsigned idx;
};

struct cluster {
	pthread_mutex_t mu;
	pthread_cond_t cv;    /* broadcast after each logged datagram */
	struct peer p[NODES];
	struct node nodes[NODES];
	/* the scenario (written by the test under mu) */
	uint32_t epoch;       /* of the table TOPOLOGY answers */
	uint32_t resp_epoch;  /* hdr.epoch of every response */
	unsigned rot;         /* owner rotation of the table */
	uint16_t owners;      /* 2, or 0: "no table yet" */
	bool strict;          /* NOT_OWNER for keys the node does not own */
	bool cross;           /* node 0 first answers a GET from node 1's socket */
	bool silent[NODES];
	/* what happened */
	unsigned topo_reqs[NODES];
	struct rec log[LOG_MAX];
	unsigned n_log;
};

static unsigned seg_of(const void *key, size_t len)
{
	return (unsigned)(XXH3_64bits(key, len) & ((1u << SEG_LOG2) - 1u));
}

static unsigned owner_of(unsigned rot, const char *key, unsigned replica)
{
	return (seg_of(key, strlen(key)) + rot + replica) % NODES;
}

static bool owns(const struct cluster *cl, unsigned node, const void *key, size_t len, bool read)
{
	unsigned s = seg_of(key, len);
	if (node == (s + cl->rot) % NODES)
		return true;
	return read && node == (s + cl->rot + 1) % NODES;
}

static size_t encode_table(const struct cluster *cl, uint8_t *out)
{
	struct weft_topo_hdr h = { .epoch = cl->epoch, .n_segments_log2 = SEG_LOG2,
				   .owners = cl->owners, .n_members = NODES };
	size_t off = 0;
	memcpy(out, &h, sizeof(h));
	off += sizeof(h);
	for (unsigned i = 0; i < NODES; i++) {
		struct weft_topo_member m = { .port = cl->p[i].port, .ip = htonl(INADDR_LOOPBACK),
					      .name_len = 2 };
		m.id[0] = (uint8_t)(i + 1);
		memcpy(out + off, &m, sizeof(m));
		off += sizeof(m);
		out[off++] = 'n';
		out[off++] = (uint8_t)('0' + i);
	}
	for (unsigned s = 0; s < (1u << SEG_LOG2) && cl->owners; s++)
		for (unsigned r = 0; r < cl->owners; r++) {
			uint16_t o = (uint16_t)((s + cl->rot + r) % NODES);
			memcpy(out + off, &o, 2);
			off += 2;
		}
	return off;
}

/* The value a node gives for key: "n<node>:<key>". */
static size_t value_for(unsigned node, const void *key, size_t len, uint8_t *out)
{
	out[0] = 'n';
	out[1] = (uint8_t)('0' + node);
	out[2] = ':';
	memcpy(out + 3, key, len);
	return 3 + len;
}

static uint16_t serve_mget(struct cluster *cl, unsigned node, const uint8_t *v, size_t vl,
			   struct rec *rec, uint8_t *out, uint32_t *out_len)
{
	uint16_t count;
	size_t off = 2, o = 2;
	memcpy(&count, v, 2);
	memcpy(out, &count, 2);
	for (unsigned i = 0; i < count && off + 2 <= vl; i++) {
		uint16_t kl;
		memcpy(&kl, v + off, 2);
		const uint8_t *k = v + off + 2;
		off += 2u + kl;
		size_t used = strlen(rec->keys);
		snprintf(rec->keys + used, sizeof(rec->keys) - used, "%s%.*s", i ? "," : "",
			 (int)kl, (const char *)k);
		struct weft_mget_entry_hdr e = { .status = WEFT_ST_OK, .key_len = kl,
						 .version = node + 1u };
		uint8_t val[WEFT_MAX_KEY_LEN + 3];
		size_t n = value_for(node, k, kl, val);
		if (cl->strict && !owns(cl, node, k, kl, true))
			e.status = WEFT_ST_NOT_OWNER;
		else if (kl >= 4 && memcmp(k, "miss", 4) == 0)
			e.status = WEFT_ST_NOT_FOUND;
		e.value_len = e.status == WEFT_ST_OK ? (uint32_t)n : 0;
		memcpy(out + o, &e, sizeof(e));
		memcpy(out + o + sizeof(e), k, kl);
		memcpy(out + o + sizeof(e) + kl, val, e.value_len);
		o += sizeof(e) + kl + e.value_len;
	}
	*out_len = (uint32_t)o;
	return WEFT_ST_OK;
}

/* A well-formed GET answer "wrong" to req, sent from node 1's socket. */
static void answer_from_other(struct cluster *cl, const struct sockaddr_in *to,
			      const struct weft_wire_hdr *req)
{
	uint8_t buf[128];
	struct weft_x_version x = { .version = 99 };
	struct weft_wire_hdr h = *req;
	h.flags = WEFT_F_RESPONSE;
	h.name_len = 0;
	h.key_len = 0;
	h.extras_len = sizeof(x);
	h.msg_len = sizeof(x) + 5;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &x, sizeof(x));
	memcpy(buf + sizeof(h) + sizeof(x), "wrong", 5);
	size_t n = sizeof(h) + h.msg_len;
	assert_int_equal(sendto(cl->p[1].fd, buf, n, 0, (const struct sockaddr *)to, sizeof(*to)),
			 (ssize_t)n);
}

static void node_handler(struct peer *p, const uint8_t *d, size_t len)
{
	struct node *nd = p->ctx;
	struct cluster *cl = nd->cl;
	struct weft_wire_hdr h;
	uint8_t value[WEFT_MAX_DGRAM_PAYLOAD], extras[16];
	uint32_t vlen = 0;
	uint16_t xlen = 0, status = WEFT_ST_OK;

	if (len < sizeof(h))
		return;
	memcpy(&h, d, sizeof(h));
	const uint8_t *key = d + sizeof(h) + h.name_len;
	const uint8_t *val = key + h.key_len + h.extras_len;
	size_t val_len = len - sizeof(h) - h.name_len - h.key_len - h.extras_len;

	pthread_mutex_lock(&cl->mu);
	struct rec *rec = cl->n_log < LOG_MAX ? &cl->log[cl->n_log++] : NULL;
	struct rec scratch;
	if (rec == NULL)
		rec = &scratch;
	memset(rec, 0, sizeof(*rec));
	rec->node = nd->idx;
	rec->op = h.opcode;
	rec->epoch = h.epoch;
	rec->status = 0xffff;
	snprintf(rec->keys, sizeof(rec->keys), "%.*s", (int)h.key_len, (const char *)key);
	pthread_cond_broadcast(&cl->cv);
	if (cl->silent[nd->idx]) {
		pthread_mutex_unlock(&cl->mu);
		return;
	}
	p->epoch = cl->resp_epoch;
	bool read = h.opcode == WEFT_OP_GET;
	if (h.opcode == WEFT_OP_TOPOLOGY) {
		cl->topo_reqs[nd->idx]++;
		vlen = (uint32_t)encode_table(cl, value);
	} else if (h.opcode == WEFT_OP_MULTI_GET) {
		status = serve_mget(cl, nd->idx, val, val_len, rec, value, &vlen);
	} else if (h.key_len > 0 && cl->strict && !owns(cl, nd->idx, key, h.key_len, read)) {
		status = WEFT_ST_NOT_OWNER;
	} else if (h.opcode == WEFT_OP_INCR) {
		struct weft_x_counter x = { .value = nd->idx, .version = nd->idx + 1u };
		memcpy(extras, &x, sizeof(x));
		xlen = sizeof(x);
	} else if (h.key_len > 0 && h.opcode != WEFT_OP_DELETE) {
		struct weft_x_version x = { .version = nd->idx + 1u };
		memcpy(extras, &x, sizeof(x));
		xlen = sizeof(x);
		if (read)
			vlen = (uint32_t)value_for(nd->idx, key, h.key_len, value);
	}
	rec->status = status;
	if (cl->cross && nd->idx == 0 && read)
		answer_from_other(cl, &p->from, &h);
	peer_reply(p, &h, status, extras, xlen, value, vlen);
	pthread_mutex_unlock(&cl->mu);
}

static int setup(void **state)
{
	struct cluster *cl = calloc(1, sizeof(*cl));
	assert_non_null(cl);
	pthread_mutex_init(&cl->mu, NULL);
	pthread_cond_init(&cl->cv, NULL);
	cl->epoch = cl->resp_epoch = 5;
	cl->owners = 2;
	for (unsigned i = 0; i < NODES; i++) {
		cl->nodes[i] = (struct node){ .cl = cl, .idx = i };
		peer_start(&cl->p[i], node_handler, &cl->nodes[i]);
	}
	*state = cl;
	return 0;
}

static int teardown(void **state)
{
	struct cluster *cl = *state;
	for (unsigned i = 0; i < NODES; i++)
		peer_stop(&cl->p[i]);
	pthread_mutex_destroy(&cl->mu);
	pthread_cond_destroy(&cl->cv);
	free(cl);
	return 0;
}

/* A client of the cluster with node 0 as its seed. */
static weft_client *client_of(struct cluster *cl, uint32_t timeout_ms, uint32_t retries)
{
	struct weft_client_opts o = { .timeout_ms = timeout_ms, .retries = retries };
	weft_client *c = weft_client_connect(cl->p[0].addr, &o);
	assert_non_null(c);
	return c;
}

/* The scenario, changed between calls (the client is idle then). */
static void set_table(struct cluster *cl, unsigned rot, uint32_t epoch, uint32_t resp_epoch,
		      bool strict)
{
	pthread_mutex_lock(&cl->mu);
	cl->rot = rot;
	cl->epoch = epoch;
	cl->resp_epoch = resp_epoch;
	cl->strict = strict;
	pthread_mutex_unlock(&cl->mu);
}

static void set_silent(struct cluster *cl, unsigned node, bool on)
{
	pthread_mutex_lock(&cl->mu);
	cl->silent[node] = on;
	pthread_mutex_unlock(&cl->mu);
}

/* Log entries from `from` on, copied under the lock. Returns the count. */
static unsigned log_since(struct cluster *cl, unsigned from, struct rec *out, unsigned max)
{
	pthread_mutex_lock(&cl->mu);
	unsigned n = 0;
	for (unsigned i = from; i < cl->n_log && n < max; i++)
		out[n++] = cl->log[i];
	pthread_mutex_unlock(&cl->mu);
	return n;
}

/* Waits (at most 10 s) until the log, from `from` on, holds an entry of op
 * at node: a silent node's thread may log what the client sent it after the
 * client has moved on. */
static void wait_logged(struct cluster *cl, unsigned from, unsigned node, uint8_t op)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&cl->mu);
	for (;;) {
		bool found = false;
		for (unsigned i = from; i < cl->n_log && !found; i++)
			found = cl->log[i].node == node && cl->log[i].op == op;
		if (found || pthread_cond_timedwait(&cl->cv, &cl->mu, &until) != 0)
			break;
	}
	bool found = false;
	for (unsigned i = from; i < cl->n_log && !found; i++)
		found = cl->log[i].node == node && cl->log[i].op == op;
	pthread_mutex_unlock(&cl->mu);
	assert_true(found);
}

/* The entries from `from` on that are not from node `skip`. */
static unsigned log_without(struct cluster *cl, unsigned from, unsigned skip, struct rec *out,
			    unsigned max)
{
	struct rec all[64];
	unsigned n = log_since(cl, from, all, 64), k = 0;
	for (unsigned i = 0; i < n && k < max; i++)
		if (all[i].node != skip)
			out[k++] = all[i];
	return k;
}

static unsigned log_len(struct cluster *cl)
{
	pthread_mutex_lock(&cl->mu);
	unsigned n = cl->n_log;
	pthread_mutex_unlock(&cl->mu);
	return n;
}

static unsigned topo_total(struct cluster *cl)
{
	pthread_mutex_lock(&cl->mu);
	unsigned n = 0;
	for (unsigned i = 0; i < NODES; i++)
		n += cl->topo_reqs[i];
	pthread_mutex_unlock(&cl->mu);
	return n;
}

/* Runs one keyed op of kind op on key; returns its status. */
static int do_op(weft_client *c, uint8_t op, const char *key)
{
	size_t kl = strlen(key);
	uint64_t ver;
	int64_t nv;
	void *v = NULL;
	size_t vl;
	int rc;
	switch (op) {
	case WEFT_OP_GET:
		rc = weft_get(c, "c", key, kl, &v, &vl, &ver);
		free(v);
		return rc;
	case WEFT_OP_PUT:
		return weft_put(c, "c", key, kl, "v", 1, NULL, &ver);
	case WEFT_OP_PUT_IF_ABSENT:
		return weft_put_if_absent(c, "c", key, kl, "v", 1, NULL, &ver);
	case WEFT_OP_REPLACE:
		return weft_replace(c, "c", key, kl, "v", 1, NULL, &ver);
	case WEFT_OP_CAS:
		return weft_cas(c, "c", key, kl, 1, "v", 1, NULL, &ver);
	case WEFT_OP_DELETE:
		return weft_delete(c, "c", key, kl);
	case WEFT_OP_INCR:
		return weft_incr(c, "c", key, kl, 1, 0, &nv);
	default:
		return weft_touch(c, "c", key, kl, NULL, &ver);
	}
}

static const uint8_t keyed_ops[] = {
	WEFT_OP_GET, WEFT_OP_PUT, WEFT_OP_PUT_IF_ABSENT, WEFT_OP_REPLACE,
	WEFT_OP_CAS, WEFT_OP_DELETE, WEFT_OP_INCR, WEFT_OP_TOUCH,
};

/* A key whose primary under rotation rot is node. */
static void key_with_primary(unsigned rot, unsigned node, const char *prefix, char *out,
			     size_t len)
{
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(out, len, "%s%u", prefix, i);
		if (owner_of(rot, out, 0) == node)
			return;
	}
	fail_msg("no key with primary %u", node);
}

static void test_keys_go_to_primary(void **state)
{
	struct cluster *cl = *state;
	set_table(cl, 0, 5, 5, true);
	weft_client *c = client_of(cl, 2000, 0);
	unsigned hits[NODES] = { 0 };

	for (unsigned i = 0; i < 24; i++) {
		char key[16];
		snprintf(key, sizeof(key), "key-%u", i);
		for (size_t k = 0; k < sizeof(keyed_ops); k++) {
			unsigned from = log_len(cl);
			assert_int_equal(do_op(c, keyed_ops[k], key), 0);
			struct rec r[4];
			unsigned n = log_since(cl, from, r, 4);
			if (i == 0 && k == 0) { /* the lazy table fetch, at the seed */
				assert_int_equal(n, 2);
				assert_int_equal(r[0].node, 0);
				assert_int_equal(r[0].op, WEFT_OP_TOPOLOGY);
				r[0] = r[1];
			} else {
				assert_int_equal(n, 1);
			}
			assert_int_equal(r[0].op, keyed_ops[k]);
			assert_string_equal(r[0].keys, key);
			assert_int_equal(r[0].node, owner_of(0, key, 0));
			assert_int_equal(r[0].epoch, 5); /* the table's epoch */
			hits[r[0].node]++;
		}
	}
	for (unsigned i = 0; i < NODES; i++)
		assert_true(hits[i] > 0);
	assert_int_equal(topo_total(cl), 1);
	assert_int_equal(c->topo_fetches, 1);

	/* Non-keyed ops go to the seed. */
	unsigned from = log_len(cl);
	char *text;
	assert_int_equal(weft_ping(c), 0);
	assert_int_equal(weft_stats(c, &text, NULL), 0);
	free(text);
	assert_int_equal(weft_open_cache(c, "c", NULL), 0);
	struct rec r[4];
	assert_int_equal(log_since(cl, from, r, 4), 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(r[i].node, 0);
	weft_client_close(c);
}

static void test_read_fails_over_to_backup(void **state)
{
	struct cluster *cl = *state;
	set_table(cl, 0, 5, 5, false);
	weft_client *c = client_of(cl, 300, 2);
	char key[16];
	key_with_primary(0, 1, "r", key, sizeof(key));
	assert_int_equal(weft_ping(c), 0);
	assert_int_equal(weft_put(c, "c", "warm", 4, "v", 1, NULL, NULL), 0); /* fetches */
	set_silent(cl, 1, true);

	unsigned from = log_len(cl);
	void *v = NULL;
	size_t vl = 0;
	assert_int_equal(weft_get(c, "c", key, strlen(key), &v, &vl, NULL), 0);
	char want[32];
	assert_int_equal(vl, value_for(owner_of(0, key, 1), key, strlen(key), (uint8_t *)want));
	assert_memory_equal(v, want, vl);
	free(v);
	wait_logged(cl, from, 1, WEFT_OP_GET); /* the primary was asked */
	struct rec r[8];
	unsigned n = log_without(cl, from, 1, r, 8);
	assert_int_equal(n, 1); /* then the backup, nobody else */
	assert_int_equal(r[0].node, owner_of(0, key, 1));
	assert_int_equal(r[0].op, WEFT_OP_GET);

	/* The timeout made the table stale: the next keyed op fetches it
	 * first, not from the silent node. */
	unsigned topo_before = topo_total(cl);
	char other[16];
	key_with_primary(0, 2, "o", other, sizeof(other));
	assert_int_equal(weft_put(c, "c", other, strlen(other), "v", 1, NULL, NULL), 0);
	assert_int_equal(topo_total(cl), topo_before + 1);
	pthread_mutex_lock(&cl->mu);
	assert_int_equal(cl->topo_reqs[1], 0);
	pthread_mutex_unlock(&cl->mu);

	/* A non-idempotent write whose primary is silent times out and is
	 * never re-sent to another node (it may have been applied). */
	from = log_len(cl);
	assert_int_equal(weft_delete(c, "c", key, strlen(key)), -WEFT_ST_TIMEOUT);
	wait_logged(cl, from, 1, WEFT_OP_DELETE);
	n = log_without(cl, from, 1, r, 8);
	for (unsigned i = 0; i < n; i++)
		assert_int_not_equal(r[i].op, WEFT_OP_DELETE);
	set_silent(cl, 1, false);
	weft_client_close(c);
}

static void test_not_owner_refetch_retry(void **state)
{
	struct cluster *cl = *state;
	set_table(cl, 0, 5, 5, true);
	weft_client *c = client_of(cl, 2000, 0);
	assert_int_equal(weft_put(c, "c", "warm", 4, "v", 1, NULL, NULL), 0);
	assert_int_equal(topo_total(cl), 1);

	/* Ownership moves; responses still carry epoch 5, so only NOT_OWNER
	 * can tell the client. */
	set_table(cl, 1, 6, 5, true);
	for (size_t k = 0; k < sizeof(keyed_ops); k++) {
		char key[16];
		snprintf(key, sizeof(key), "m%zu", k);
		unsigned from = log_len(cl);
		unsigned topo_before = topo_total(cl);
		assert_int_equal(do_op(c, keyed_ops[k], key), 0);
		struct rec r[8];
		unsigned n = log_since(cl, from, r, 8);
		if (k == 0) { /* the first op learns the move */
			assert_int_equal(n, 3);
			assert_int_equal(r[0].node, owner_of(0, key, 0));
			assert_int_equal(r[0].status, WEFT_ST_NOT_OWNER);
			assert_int_equal(r[1].op, WEFT_OP_TOPOLOGY);
			assert_int_equal(r[1].node, r[0].node); /* the node that knows */
			assert_int_equal(r[2].node, owner_of(1, key, 0));
			assert_int_equal(r[2].status, WEFT_ST_OK);
			assert_int_equal(r[2].epoch, 6);
			assert_int_equal(topo_total(cl), topo_before + 1);
		} else { /* the others go straight to the new primary */
			assert_int_equal(n, 1);
			assert_int_equal(r[0].node, owner_of(1, key, 0));
		}
	}
	weft_client_close(c);
}

static void test_newer_epoch_refetch(void **state)
{
	struct cluster *cl = *state;
	set_table(cl, 0, 5, 5, false);
	weft_client *c = client_of(cl, 2000, 0);
	assert_int_equal(weft_put(c, "c", "warm", 4, "v", 1, NULL, NULL), 0);
	assert_int_equal(topo_total(cl), 1);

	/* A new view: the nodes still serve anything (they forward), but their
	 * answers carry epoch 6. */
	set_table(cl, 1, 6, 6, false);
	char key[16];
	key_with_primary(0, 1, "e", key, sizeof(key));
	unsigned from = log_len(cl);
	assert_int_equal(weft_put(c, "c", key, strlen(key), "v", 1, NULL, NULL), 0);
	assert_int_equal(weft_client_epoch(c), 6);
	assert_int_equal(topo_total(cl), 1); /* the table is fetched lazily */
	assert_int_equal(weft_put(c, "c", key, strlen(key), "v", 1, NULL, NULL), 0);
	assert_int_equal(topo_total(cl), 2);
	struct rec r[8];
	unsigned n = log_since(cl, from, r, 8);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].node, 1);
	assert_int_equal(r[0].epoch, 5);
	assert_int_equal(r[1].op, WEFT_OP_TOPOLOGY);
	assert_int_equal(r[2].node, owner_of(1, key, 0));
	assert_int_equal(r[2].epoch, 6);
	/* An older or equal epoch changes nothing. */
	set_table(cl, 1, 6, 4, false);
	assert_int_equal(weft_put(c, "c", key, strlen(key), "v", 1, NULL, NULL), 0);
	assert_int_equal(weft_put(c, "c", key, strlen(key), "v", 1, NULL, NULL), 0);
	assert_int_equal(topo_total(cl), 2);
	weft_client_close(c);
}

static void test_routing_off_all_to_seed(void **state)
{
	struct cluster *cl = *state;
	set_table(cl, 0, 5, 6, false);
	weft_client *c = client_of(cl, 2000, 0);
	weft_client_set_routing(c, false);
	unsigned from = log_len(cl);
	for (unsigned i = 0; i < 12; i++) {
		char key[16];
		snprintf(key, sizeof(key), "off-%u", i);
		for (size_t k = 0; k < sizeof(keyed_ops); k++)
			assert_int_equal(do_op(c, keyed_ops[k], key), 0);
	}
	struct weft_mget_item it[3] = { { .key = "a", .key_len = 1 }, { .key = "b", .key_len = 1 },
					{ .key = "cc", .key_len = 2 } };
	void *block = NULL;
	assert_int_equal(weft_multi_get(c, "c", it, 3, &block), 0);
	free(block);
	struct rec r[LOG_MAX];
	unsigned n = log_since(cl, from, r, LOG_MAX);
	assert_int_equal(n, 12 * sizeof(keyed_ops) + 1);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(r[i].node, 0);
		assert_int_not_equal(r[i].op, WEFT_OP_TOPOLOGY);
		assert_int_equal(r[i].epoch, 0);
	}
	assert_int_equal(topo_total(cl), 0);
	weft_client_close(c);
}

static void test_no_owners_all_to_seed(void **state)
{
	struct cluster *cl = *state;
	pthread_mutex_lock(&cl->mu);
	cl->owners = 0; /* "no segment table yet" */
	pthread_mutex_unlock(&cl->mu);
	set_table(cl, 0, 5, 5, false);
	weft_client *c = client_of(cl, 2000, 0);
	unsigned from = log_len(cl);
	for (unsigned i = 0; i < 12; i++) {
		char key[16];
		snprintf(key, sizeof(key), "none-%u", i);
		assert_int_equal(weft_put(c, "c", key, strlen(key), "v", 1, NULL, NULL), 0);
	}
	struct rec r[32] = { { 0 } };
	unsigned n = log_since(cl, from, r, 32);
	assert_int_equal(n, 13);
	assert_int_equal(r[0].op, WEFT_OP_TOPOLOGY);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(r[i].node, 0);
	weft_client_close(c);
}

/* K3 (docs/faults.md): a client whose table cannot be routed by (fetched
 * from a node with no view yet: no owners) sends keyed ops home; once the
 * cluster has a table, home's NOT_OWNER (a queue RECEIVE is not forwarded)
 * must make it fetch the table and route, not repeat NOT_OWNER for good. */
static void test_not_owner_at_home_refetches_unroutable_table(void **state)
{
	struct cluster *cl = *state;
	pthread_mutex_lock(&cl->mu);
	cl->owners = 0; /* what a restarted node hands out before it joins */
	pthread_mutex_unlock(&cl->mu);
	set_table(cl, 0, 0, 0, false);
	weft_client *c = client_of(cl, 2000, 0);
	assert_int_equal(weft_put(c, "c", "warm", 4, "v", 1, NULL, NULL), 0);
	assert_int_equal(topo_total(cl), 1);

	/* The node joins: a table with owners, epoch 8; it now refuses keys
	 * it does not own. */
	pthread_mutex_lock(&cl->mu);
	cl->owners = 2;
	pthread_mutex_unlock(&cl->mu);
	set_table(cl, 0, 8, 8, true);
	char key[16], other[16];
	key_with_primary(0, 1, "j", key, sizeof(key));
	unsigned from = log_len(cl);
	assert_int_equal(weft_put(c, "c", key, strlen(key), "v", 1, NULL, NULL), 0);
	struct rec r[8];
	unsigned n = log_since(cl, from, r, 8);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].node, 0); /* home, by the unroutable table */
	assert_int_equal(r[0].status, WEFT_ST_NOT_OWNER);
	assert_int_equal(r[1].node, 0);
	assert_int_equal(r[1].op, WEFT_OP_TOPOLOGY);
	assert_int_equal(r[2].node, 1); /* the primary, by the new table */
	assert_int_equal(r[2].status, WEFT_ST_OK);
	assert_int_equal(r[2].epoch, 8);

	/* From then on keys go straight to their primary. */
	key_with_primary(0, 2, "k", other, sizeof(other));
	from = log_len(cl);
	assert_int_equal(weft_put(c, "c", other, strlen(other), "v", 1, NULL, NULL), 0);
	n = log_since(cl, from, r, 8);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].node, 2);
	assert_int_equal(topo_total(cl), 2);
	weft_client_close(c);
}

/* Checks a merged multi-get: every key's value is "n<node>:<key>" from its
 * expected node, in the caller's order, inside the one block. */
static void check_mget(struct weft_mget_item *it, size_t n, const unsigned *node, void *block)
{
	for (size_t i = 0; i < n; i++) {
		const char *k = it[i].key;
		if (strncmp(k, "miss", 4) == 0) {
			assert_int_equal(it[i].status, -WEFT_ST_NOT_FOUND);
			assert_null(it[i].value);
			continue;
		}
		uint8_t want[64];
		size_t wl = value_for(node[i], k, it[i].key_len, want);
		assert_int_equal(it[i].status, 0);
		assert_int_equal(it[i].value_len, wl);
		assert_memory_equal(it[i].value, want, wl);
		assert_int_equal(it[i].version, node[i] + 1);
		assert_true((const uint8_t *)it[i].value >= (const uint8_t *)block);
	}
}

static void test_mget_split_merge(void **state)
{
	struct cluster *cl = *state;
	set_table(cl, 0, 5, 5, true);
	weft_client *c = client_of(cl, 2000, 0);
	enum { N = 20 };
	char keys[N][16];
	struct weft_mget_item it[N];
	unsigned node[N];
	for (unsigned i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), i % 7 == 3 ? "miss%u" : "mg%u", i);
		it[i] = (struct weft_mget_item){ .key = keys[i], .key_len = strlen(keys[i]) };
		node[i] = owner_of(0, keys[i], 0);
	}
	unsigned from = log_len(cl);
	void *block = NULL;
	assert_int_equal(weft_multi_get(c, "c", it, N, &block), 0);
	check_mget(it, N, node, block);
	free(block);

	/* One request per primary, holding exactly its keys in order. */
	struct rec r[16];
	unsigned n = log_since(cl, from, r, 16);
	assert_int_equal(r[0].op, WEFT_OP_TOPOLOGY);
	unsigned groups = 0;
	for (unsigned g = 0; g < NODES; g++) {
		char want[600] = "";
		for (unsigned i = 0; i < N; i++)
			if (node[i] == g) {
				size_t l = strlen(want);
				snprintf(want + l, sizeof(want) - l, "%s%s", l ? "," : "", keys[i]);
			}
		if (want[0] == '\0')
			continue;
		groups++;
		unsigned seen = 0;
		for (unsigned j = 1; j < n; j++)
			if (r[j].node == g) {
				assert_int_equal(r[j].op, WEFT_OP_MULTI_GET);
				assert_string_equal(r[j].keys, want);
				seen++;
			}
		assert_int_equal(seen, 1);
	}
	assert_int_equal(n, 1 + groups);
	assert_true(groups > 1);

	/* Ownership moves (responses keep epoch 5): every key is answered
	 * NOT_OWNER, the table is re-fetched once, the keys sent again. */
	set_table(cl, 1, 6, 5, true);
	unsigned topo_before = topo_total(cl);
	for (unsigned i = 0; i < N; i++) {
		it[i].status = 1;
		it[i].value = NULL;
		node[i] = owner_of(1, keys[i], 0);
	}
	assert_int_equal(weft_multi_get(c, "c", it, N, &block), 0);
	check_mget(it, N, node, block);
	free(block);
	assert_int_equal(topo_total(cl), topo_before + 1);
	weft_client_close(c);
}

static void test_silent_seed_replaced(void **state)
{
	struct cluster *cl = *state;
	set_table(cl, 0, 5, 5, false);
	weft_client *c = client_of(cl, 300, 2);
	assert_int_equal(weft_put(c, "c", "warm", 4, "v", 1, NULL, NULL), 0); /* fetches */
	set_silent(cl, 0, true);
	unsigned from = log_len(cl);
	assert_int_equal(weft_ping(c), 0);
	char *text;
	assert_int_equal(weft_stats(c, &text, NULL), 0);
	free(text);
	wait_logged(cl, from, 0, WEFT_OP_PING); /* the seed was asked first */
	struct rec r[8];
	unsigned n = log_without(cl, from, 0, r, 8);
	assert_int_equal(n, 2); /* then another member, which stays home */
	assert_int_equal(r[0].op, WEFT_OP_PING);
	assert_int_equal(r[1].op, WEFT_OP_STATS);
	assert_int_equal(r[1].node, r[0].node);

	/* Keys the seed does not own are still served; the table comes from
	 * another member. */
	char key[16];
	key_with_primary(0, 2, "s", key, sizeof(key));
	assert_int_equal(weft_put(c, "c", key, strlen(key), "v", 1, NULL, NULL), 0);
	pthread_mutex_lock(&cl->mu);
	assert_int_equal(cl->topo_reqs[0], 1); /* only the first fetch */
	pthread_mutex_unlock(&cl->mu);
	set_silent(cl, 0, false);
	weft_client_close(c);
}

/* A response is taken only from the node the request went to. */
static void test_answer_from_other_node_ignored(void **state)
{
	struct cluster *cl = *state;
	set_table(cl, 0, 5, 5, false);
	pthread_mutex_lock(&cl->mu);
	cl->cross = true;
	pthread_mutex_unlock(&cl->mu);
	weft_client *c = client_of(cl, 2000, 0);
	weft_client_set_routing(c, false);
	uint64_t ignored = c->ignored, ver = 0;
	void *v = NULL;
	size_t vl = 0;
	assert_int_equal(weft_get(c, "c", "k", 1, &v, &vl, &ver), 0);
	assert_int_equal(vl, 4);
	assert_memory_equal(v, "n0:k", 4);
	assert_int_equal(ver, 1);
	free(v);
	assert_int_equal(c->ignored, ignored + 1);
	weft_client_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keys_go_to_primary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_fails_over_to_backup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_owner_refetch_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_epoch_refetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routing_off_all_to_seed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_owners_all_to_seed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_owner_at_home_refetches_unroutable_table,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_mget_split_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_seed_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_from_other_node_ignored, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
