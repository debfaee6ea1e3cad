/*
 * The fake weft node of libweft's unit tests, and the fake cluster of such
 * nodes (see test_client_peer.h).
 */
#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "sec.h"
#include "test_client_peer.h"

#define PEER_MAX_RUN_S 60

static void die(const char *what)
{
	perror(what);
	abort();
}

static void handle_one(struct peer *p, int flags)
{
	uint8_t buf[WEFT_MAX_DGRAM_LEN + 64];
	socklen_t sl = sizeof(p->from);
	ssize_t n = recvfrom(p->fd, buf, sizeof(buf), flags, (struct sockaddr *)&p->from, &sl);
	if (n > 0 && p->key != NULL) { /* as a node does: the auth trailer first */
		size_t plain;
		uint8_t kind;
		if (weft_sec_open(NULL, p->key, weft_sec_now_ms(), true, buf, (size_t)n, &plain,
				  &kind) != WEFT_SEC_OK) {
			p->auth_bad++;
			return;
		}
		n = (ssize_t)plain;
	}
	/* As a node does, the cookie trailer comes off first (and its flag,
	 * so handlers see the request as sent); the last one is kept. */
	if (n >= (ssize_t)(sizeof(struct weft_wire_hdr) + WEFT_COOKIE_LEN) &&
	    (buf[offsetof(struct weft_wire_hdr, flags)] & WEFT_F_COOKIE)) {
		n -= WEFT_COOKIE_LEN;
		memcpy(p->cookie, buf + n, WEFT_COOKIE_LEN);
		p->cookies++;
		buf[offsetof(struct weft_wire_hdr, flags)] &= (uint8_t)~WEFT_F_COOKIE;
	}
	if (n >= 0)
		p->handler(p, buf, (size_t)n);
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	time_t start = time(NULL);

	while (!atomic_load(&p->stop) && time(NULL) - start < PEER_MAX_RUN_S) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		if (poll(&pfd, 1, 50) > 0)
			handle_one(p, MSG_DONTWAIT);
	}
	/* Loopback delivery is synchronous: whatever the client sent is queued. */
	for (;;) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		if (poll(&pfd, 1, 0) <= 0)
			break;
		handle_one(p, MSG_DONTWAIT);
	}
	return NULL;
}

void peer_start(struct peer *p, peer_handler *h, void *ctx)
{
	peer_start_keyed(p, h, ctx, NULL);
}

void peer_start_keyed(struct peer *p, peer_handler *h, void *ctx, const struct weft_sec_key *key)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);

	p->handler = h;
	p->ctx = ctx;
	p->key = key;
	p->seal_off = false;
	p->auth_bad = 0;
	p->cookies = 0;
	memset(p->cookie, 0, sizeof(p->cookie));
	p->epoch = 0; /* tests set it after the start; replies copy it */
	atomic_store(&p->stop, false);
	p->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (p->fd < 0)
		die("socket");
	if (bind(p->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(p->fd, (struct sockaddr *)&sa, &sl) < 0)
		die("bind");
	p->port = ntohs(sa.sin_port);
	snprintf(p->addr, sizeof(p->addr), "127.0.0.1:%u", p->port);
	if (pthread_create(&p->thread, NULL, peer_main, p) != 0)
		die("pthread_create");
}

void peer_stop(struct peer *p)
{
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	close(p->fd);
}

void peer_send_raw(struct peer *p, const void *d, size_t len)
{
	uint8_t sealed[WEFT_MAX_DGRAM_LEN + WEFT_MAX_TRAILERS_LEN];
	if (p->key != NULL && !p->seal_off && len >= sizeof(struct weft_wire_hdr) &&
	    len + WEFT_SEC_TRAILER_LEN <= sizeof(sealed)) {
		static struct weft_sec_tx tx; /* the peer thread's only */
		memcpy(sealed, d, len);
		len = weft_sec_seal(p->key, &tx, weft_sec_now_ms(), true, sealed, len);
		d = sealed;
	}
	if (sendto(p->fd, d, len, 0, (struct sockaddr *)&p->from, sizeof(p->from)) != (ssize_t)len)
		die("sendto");
}

static void resp_hdr(struct weft_wire_hdr *h, const struct weft_wire_hdr *req, uint8_t opcode,
		     uint16_t status)
{
	memset(h, 0, sizeof(*h));
	h->magic = WEFT_WIRE_MAGIC;
	h->version = WEFT_WIRE_VERSION;
	h->opcode = opcode;
	h->flags = WEFT_F_RESPONSE;
	h->status = status;
	h->client_id = req->client_id;
	h->request_id = req->request_id;
}

void peer_reply(struct peer *p, const struct weft_wire_hdr *req, uint16_t status,
		const void *extras, uint16_t extras_len, const void *value, uint32_t value_len)
{
	uint8_t buf[WEFT_MAX_DGRAM_LEN];
	struct weft_wire_hdr h;

	if (sizeof(h) + extras_len + value_len > sizeof(buf))
		abort();
	resp_hdr(&h, req, req->opcode, status);
	h.extras_len = extras_len;
	h.msg_len = extras_len + value_len;
	h.epoch = p->epoch;
	memcpy(buf, &h, sizeof(h));
	if (extras_len)
		memcpy(buf + sizeof(h), extras, extras_len);
	if (value_len)
		memcpy(buf + sizeof(h) + extras_len, value, value_len);
	peer_send_raw(p, buf, sizeof(h) + h.msg_len);
}

void peer_send_piece(struct peer *p, const struct weft_wire_hdr *req, uint8_t opcode,
		     uint16_t status, const uint8_t *payload, uint32_t msg_len,
		     uint16_t extras_len, uint32_t k)
{
	uint8_t buf[WEFT_MAX_DGRAM_LEN];
	struct weft_wire_hdr h;
	uint32_t off = k * WEFT_MAX_DGRAM_PAYLOAD;
	uint32_t n = msg_len - off < WEFT_MAX_DGRAM_PAYLOAD ? msg_len - off : WEFT_MAX_DGRAM_PAYLOAD;

	if (off >= msg_len)
		abort();
	resp_hdr(&h, req, opcode, status);
	h.extras_len = extras_len;
	h.msg_len = msg_len;
	h.frag_offset = off;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload + off, n);
	peer_send_raw(p, buf, sizeof(h) + n);
}

/* Parses the single-datagram request [d, +len) into *r: false when short
 * or a fragment. */
static bool req_parse(const uint8_t *d, size_t len, struct peer_req *r)
{
	if (len < sizeof(r->h))
		return false;
	memcpy(&r->h, d, sizeof(r->h));
	r->name = d + sizeof(r->h);
	r->key = r->name + r->h.name_len;
	r->extras = r->key + r->h.key_len;
	r->value = r->extras + r->h.extras_len;
	size_t head = sizeof(r->h) + r->h.name_len + r->h.key_len + r->h.extras_len;
	if (head > len || r->h.frag_offset != 0)
		return false;
	r->value_len = len - head;
	return true;
}

static void log_req(struct peer_cluster *pc, unsigned node, const struct peer_req *q)
{
	if (pc->n_log >= pc->log_max || q->h.opcode == WEFT_OP_FETCH)
		return;
	struct peer_rec *r = &pc->log[pc->n_log++];
	memset(r, 0, sizeof(*r));
	r->node = node;
	r->op = q->h.opcode;
	r->rid = q->h.request_id;
	memcpy(r->name, q->name, q->h.name_len);
	memcpy(r->key, q->key, q->h.key_len);
	r->key_len = q->h.key_len;
	r->extras_len = q->h.extras_len;
	memcpy(r->extras, q->extras,
	       q->h.extras_len < sizeof(r->extras) ? q->h.extras_len : sizeof(r->extras));
	if (q->h.opcode == WEFT_OP_SESSION && q->h.extras_len == sizeof(r->x))
		memcpy(&r->x, q->extras, sizeof(r->x));
	r->value_len = q->value_len;
	memcpy(r->value, q->value, r->value_len);
}

/* Each node's handler: logs, then answers TOPOLOGY with the table and
 * leaves the rest to the test; a silent node only logs. */
static void cluster_handler(struct peer *p, const uint8_t *d, size_t len)
{
	struct peer_cluster *pc = p->ctx;
	unsigned node = (unsigned)(p - pc->p);
	struct peer_req q;
	if (!req_parse(d, len, &q))
		return;
	pthread_mutex_lock(&pc->mu);
	log_req(pc, node, &q);
	if (!pc->silent[node]) {
		p->epoch = pc->epoch;
		if (q.h.opcode == WEFT_OP_TOPOLOGY) {
			uint8_t out[WEFT_MAX_DGRAM_PAYLOAD];
			peer_reply(p, &q.h, WEFT_ST_OK, NULL, 0, out,
				   (uint32_t)peer_cluster_table(pc, out));
		} else {
			pc->answer(pc->ctx, p, &q);
		}
	}
	pthread_mutex_unlock(&pc->mu);
}

void peer_cluster_start(struct peer_cluster *pc, peer_cluster_answer *answer, void *ctx,
			struct peer_rec *log, unsigned log_max)
{
	pthread_mutex_init(&pc->mu, NULL);
	pc->answer = answer;
	pc->ctx = ctx;
	pc->log = log;
	pc->log_max = log_max;
	pc->epoch = 5;
	for (unsigned i = 0; i < PEER_NODES; i++)
		peer_start(&pc->p[i], cluster_handler, pc);
}

void peer_cluster_stop(struct peer_cluster *pc)
{
	if (pc->stopped)
		return;
	for (unsigned i = 0; i < PEER_NODES; i++)
		peer_stop(&pc->p[i]);
	pc->stopped = true;
}

void peer_cluster_destroy(struct peer_cluster *pc)
{
	peer_cluster_stop(pc);
	pthread_mutex_destroy(&pc->mu);
}

unsigned peer_cluster_find(const struct peer_cluster *pc, uint8_t op, struct peer_rec *out,
			   unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < pc->n_log && n < max; i++)
		if (pc->log[i].op == op)
			out[n++] = pc->log[i];
	return n;
}

void peer_cluster_set(struct peer_cluster *pc, unsigned rot, uint32_t epoch, unsigned node,
		      bool silent)
{
	pthread_mutex_lock(&pc->mu);
	pc->rot = rot;
	pc->epoch = epoch;
	pc->silent[node] = silent;
	pthread_mutex_unlock(&pc->mu);
}

unsigned peer_cluster_seg(const void *key, size_t len)
{
	return (unsigned)(XXH3_64bits(key, len) & ((1u << PEER_SEG_LOG2) - 1u));
}

size_t peer_cluster_table(const struct peer_cluster *pc, uint8_t *out)
{
	struct weft_topo_hdr h = { .epoch = pc->epoch, .n_segments_log2 = PEER_SEG_LOG2,
				   .owners = 2, .n_members = PEER_NODES };
	size_t off = sizeof(h);
	memcpy(out, &h, sizeof(h));
	for (unsigned i = 0; i < PEER_NODES; i++) {
		struct weft_topo_member m = { .port = pc->p[i].port, .ip = htonl(INADDR_LOOPBACK),
					      .name_len = 2 };
		memcpy(out + off, &m, sizeof(m));
		off += sizeof(m);
		out[off++] = 'n';
		out[off++] = (uint8_t)('0' + i);
	}
	for (unsigned s = 0; s < (1u << PEER_SEG_LOG2); s++)
		for (unsigned r = 0; r < 2; r++) {
			uint16_t o = (uint16_t)((s + pc->rot + r) % PEER_NODES);
			memcpy(out + off, &o, 2);
			off += 2;
		}
	return off;
}

weft_client *peer_cluster_client(const struct peer_cluster *pc, uint32_t timeout_ms,
				 uint32_t retries)
{
	struct weft_client_opts o = { .timeout_ms = timeout_ms, .retries = retries };
	weft_client *c = weft_client_connect(pc->p[0].addr, &o);
	assert_non_null(c);
	return c;
}
