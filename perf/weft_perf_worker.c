/*
 * weft-perf's load loop, one per thread with its own connect()ed,
 * non-blocking UDP socket: keep up to --depth requests outstanding, send new
 * ones in batches with sendmmsg, take answers in batches with recvmmsg, and
 * give up on a request after --timeout-ms (counted as lost, never retried,
 * so a slow server is not flattered by retransmissions). With --cluster the
 * socket is not connected: each request names its node (weft_perf_cluster.c:
 * puts to the key's primary, gets to one of its owners), the table being
 * the one published when its batch was built, and each answer's epoch is
 * reported so the main thread fetches a newer table. --sequential: each
 * thread walks its share of the keys (the preload's) in order instead of
 * drawing them, so --requests equal to --keys touches every key once.
 * --mget N: a get is one multi-key get of N drawn keys; memcached answers it
 * in several datagrams (wp_decode_mc_mget), counted on the slot until the
 * one ending "END" completes it.
 *
 * Address validation (wire.h "Trailers"): weft requests carry the cookie
 * the node gave this thread's address (one per node, learned by a
 * handshake per node at the start: a STATS with a zero cookie, answered
 * COOKIE; and from any COOKIE answer later, when the cookie aged out: that
 * request is counted in `cookies`, its slot freed, not as lost or error).
 *
 * Invariants: a slot is either free (on the free stack) or busy with one
 * request whose id is (generation << slot_bits) | slot; an answer completes
 * a slot only if the slot is busy with exactly that id (for memcached's
 * 16-bit ids: its low 16 bits), otherwise it is counted stale. Every wait
 * is a poll of at most 1 ms, and a phase ends once it stops issuing and
 * every slot is free, which the timeout bounds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <weft/weft.h>
#include <weft/wire.h>

#include "sec.h"
#include "weft_perf_internal.h"

#define BATCH 32u
#define COOKIE_NODES 64u      /* nodes whose cookie a thread keeps */
#define HANDSHAKE_TRIES 3u
#define HANDSHAKE_WAIT_MS 300u

struct cookie_ent {
	struct sockaddr_in a;
	uint8_t c[WEFT_COOKIE_LEN];
};

struct slot {
	uint64_t id;
	uint64_t sent_ns;
	uint32_t gen;
	bool busy;
	bool is_get;
	uint8_t parts; /* --mget, memcached: VALUE blocks seen so far */
};

struct loop {
	struct wp_worker *w;
	const struct wp_config *cfg;
	int fd;
	uint32_t client_id;
	unsigned slot_bits;
	struct slot *slots;
	uint32_t *free_stack;
	unsigned nfree;
	uint8_t *tx;    /* depth datagrams */
	uint8_t *rx;    /* BATCH datagrams */
	uint8_t *value; /* the value every put stores */
	struct wp_rng rng;
	struct mmsghdr txm[BATCH], rxm[BATCH];
	struct sockaddr_in rxa[BATCH];             /* senders of the answers */
	struct cookie_ent cookies[COOKIE_NODES];   /* weft: per node */
	unsigned n_cookies;
	struct iovec txv[BATCH], rxv[BATCH];
	uint32_t pending[BATCH];
	const struct wp_route *route; /* --cluster: the table of the last batch */
	struct weft_sec_tx sec_tx;    /* --client-key: this thread's salts */
	uint64_t share_lo, share_n;   /* this thread's share of the keys */
};

uint64_t wp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --client-key: seals the weft datagram of len bytes in buf (room for the
 * trailer: slots are WP_MAX_DGRAM bytes); returns its new length. */
static size_t seal(struct loop *l, uint8_t *buf, size_t len)
{
	if (l->cfg->key == NULL)
		return len;
	return weft_sec_seal(l->cfg->key, &l->sec_tx, weft_sec_now_ms(), true, buf, len);
}

/* --client-key: verifies and strips an answer in place (*len shrinks);
 * false: it does not verify (counted stale by the caller). */
static bool open_answer(struct loop *l, uint8_t *d, size_t *len)
{
	if (l->cfg->key == NULL)
		return true;
	size_t plain;
	uint8_t kind;
	if (weft_sec_open(NULL, l->cfg->key, weft_sec_now_ms(), true, d, *len, &plain, &kind) !=
	    WEFT_SEC_OK)
		return false;
	*len = plain;
	return true;
}

static bool same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

/* The cookie node a gave (NULL: none yet: zeros are sent). */
static const uint8_t *cookie_of(const struct loop *l, const struct sockaddr_in *a)
{
	for (unsigned i = 0; i < l->n_cookies; i++)
		if (same_addr(&l->cookies[i].a, a))
			return l->cookies[i].c;
	return NULL;
}

static void cookie_learn(struct loop *l, const struct sockaddr_in *a, const uint8_t *c)
{
	unsigned i = 0;
	while (i < l->n_cookies && !same_addr(&l->cookies[i].a, a))
		i++;
	if (i == l->n_cookies) {
		if (l->n_cookies == COOKIE_NODES)
			i = (unsigned)(wp_rng_next(&l->rng) % COOKIE_NODES); /* replace one */
		else
			l->n_cookies++;
		l->cookies[i].a = *a;
	}
	memcpy(l->cookies[i].c, c, WEFT_COOKIE_LEN);
}

/* The cookie handshake with node a: a STATS (request id 0, which no slot
 * uses) with a zero cookie; its COOKIE answer carries the cookie. Bounded:
 * HANDSHAKE_TRIES waits of HANDSHAKE_WAIT_MS. A node that answers anything
 * else needs no cookie. */
static void handshake(struct loop *l, const struct sockaddr_in *a)
{
	uint8_t req[sizeof(struct weft_wire_hdr) + WEFT_COOKIE_LEN + WEFT_SEC_TRAILER_LEN];
	struct weft_wire_hdr h = { .magic = WEFT_WIRE_MAGIC, .version = WEFT_WIRE_VERSION,
				   .opcode = WEFT_OP_STATS, .flags = WEFT_F_COOKIE,
				   .client_id = l->client_id };
	memcpy(req, &h, sizeof(h));
	wp_cookie_put(req + sizeof(h), NULL);
	size_t req_len = sizeof(h) + WEFT_COOKIE_LEN;
	for (unsigned t = 0; t < HANDSHAKE_TRIES; t++) {
		memcpy(req, &h, sizeof(h));
		size_t sl = seal(l, req, req_len); /* a new salt each try */
		if (sendto(l->fd, req, sl, 0, (const struct sockaddr *)a, sizeof(*a)) < 0)
			return;
		uint64_t end = wp_now_ns() + HANDSHAKE_WAIT_MS * 1000000ull;
		while (wp_now_ns() < end) {
			struct pollfd p = { .fd = l->fd, .events = POLLIN };
			if (poll(&p, 1, 10) <= 0)
				continue;
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(l->fd, l->rx, WP_MAX_DGRAM, 0, (struct sockaddr *)&from, &fl);
			uint64_t id;
			enum wp_result res;
			size_t len = n > 0 ? (size_t)n : 0;
			if (n <= 0 || !same_addr(&from, a) || !open_answer(l, l->rx, &len) ||
			    !wp_decode(l->cfg, l->client_id, l->rx, len, &id, &res) || id != 0)
				continue;
			uint8_t c[WEFT_COOKIE_LEN];
			if (res == WP_R_COOKIE && wp_weft_cookie(l->rx, len, c))
				cookie_learn(l, a, c);
			return;
		}
	}
}

/* Every node this thread will send to: --server, or each member of the
 * current table. */
static void handshakes(struct loop *l)
{
	struct wp_cluster *cl = l->w->cluster;
	const struct wp_route *r = cl ? atomic_load_explicit(&cl->cur, memory_order_acquire) : NULL;
	handshake(l, &l->cfg->server);
	for (uint32_t i = 0; r != NULL && i < r->topo->n_members; i++)
		if (r->addr[i].sin_family == AF_INET && !same_addr(&r->addr[i], &l->cfg->server))
			handshake(l, &r->addr[i]);
}

static uint64_t pick_key(struct loop *l)
{
	if (l->w->zipf)
		return wp_zipf_sample(l->w->zipf, wp_rng_unit(&l->rng));
	return wp_rng_next(&l->rng) % l->cfg->keys;
}

static bool id_matches(const struct loop *l, const struct slot *s, uint64_t id)
{
	if (l->cfg->proto == WP_PROTO_MEMCACHED)
		return (s->id & 0xffffu) == id;
	return s->id == id;
}

static void complete(struct loop *l, struct wp_stats *st, uint64_t id, enum wp_result res,
		     uint64_t now)
{
	uint32_t k = (uint32_t)(id & ((1u << l->slot_bits) - 1));
	struct slot *s = k < l->cfg->depth ? &l->slots[k] : NULL;
	if (s == NULL || !s->busy || !id_matches(l, s, id)) {
		st->stale++;
		return;
	}
	if (res == WP_R_COOKIE) { /* not served: the cookie is learned, the slot freed */
		st->cookies++;
		s->busy = false;
		l->free_stack[l->nfree++] = k;
		return;
	}
	wp_hist_record(&st->hist, now - s->sent_ns);
	st->completed++;
	if (s->is_get)
		st->gets++;
	else
		st->puts++;
	if (res == WP_R_HIT)
		st->hits++;
	else if (res == WP_R_MISS)
		st->misses++;
	else if (res == WP_R_ERROR || (res == WP_R_STORED) == s->is_get)
		st->errors++;
	s->busy = false;
	l->free_stack[l->nfree++] = k;
}

/* memcached --mget: one datagram of a multi-key get's answer. The VALUE
 * blocks are counted on the slot; the last datagram completes it, a hit
 * when every key came back. */
static bool mc_mget_part(struct loop *l, struct wp_stats *st, const uint8_t *d, size_t len,
			 uint64_t now)
{
	uint64_t id;
	unsigned values;
	bool end;
	if (!wp_decode_mc_mget(d, len, &id, &values, &end))
		return false;
	uint32_t k = (uint32_t)(id & ((1u << l->slot_bits) - 1));
	struct slot *s = k < l->cfg->depth ? &l->slots[k] : NULL;
	if (s == NULL || !s->busy || !id_matches(l, s, id)) {
		st->stale++;
		return true;
	}
	if (!s->is_get) { /* a put's answer: one datagram, as without --mget */
		enum wp_result res;
		if (wp_decode(l->cfg, l->client_id, d, len, &id, &res))
			complete(l, st, id, res, now);
		return true;
	}
	s->parts = (uint8_t)(s->parts + values);
	if (end)
		complete(l, st, id, s->parts == l->cfg->mget ? WP_R_HIT : WP_R_MISS, now);
	return true;
}

static void expire(struct loop *l, struct wp_stats *st, uint64_t now)
{
	uint64_t limit = (uint64_t)l->cfg->timeout_ms * 1000000u;
	for (uint32_t k = 0; k < l->cfg->depth; k++) {
		struct slot *s = &l->slots[k];
		if (s->busy && now - s->sent_ns > limit) {
			st->lost++;
			s->busy = false;
			l->free_stack[l->nfree++] = k;
		}
	}
}

/* Sends up to a batch of new requests; returns how many went out. A
 * preload puts sequential keys from preload_base + *issued; --sequential
 * takes the thread's share of the keys in order, wrapping. Keys follow
 * *issued, which counts only what was sent, so none is skipped. */
static unsigned issue(struct loop *l, struct wp_stats *st, uint64_t *issued, uint64_t quota,
		      bool preload, uint64_t preload_base, uint64_t now)
{
	unsigned n = 0;
	size_t slot_size = WP_MAX_DGRAM;
	struct wp_cluster *cl = l->w->cluster;
	char key_bytes[WEFT_MAX_KEY_LEN];
	if (cl)
		l->route = atomic_load_explicit(&cl->cur, memory_order_acquire);
	while (n < BATCH && n < l->nfree && (quota == 0 || *issued + n < quota)) {
		uint32_t k = l->free_stack[l->nfree - 1 - n];
		struct slot *s = &l->slots[k];
		bool is_get = !preload && wp_rng_unit(&l->rng) < l->cfg->get_ratio;
		uint64_t key;
		if (preload)
			key = preload_base + *issued + n;
		else if (l->cfg->sequential)
			key = l->share_lo + (*issued + n) % l->share_n;
		else
			key = pick_key(l);
		s->gen++;
		s->id = ((uint64_t)s->gen << l->slot_bits) | k;
		s->is_get = is_get;
		s->parts = 0;
		uint8_t *buf = l->tx + (size_t)k * slot_size;
		const struct sockaddr_in *to = &l->cfg->server;
		memset(&l->txm[n].msg_hdr, 0, sizeof(l->txm[n].msg_hdr));
		if (cl) {
			wp_key(key_bytes, l->cfg->key_size, key);
			const struct sockaddr_in *d = wp_route_dest(
				l->route, key_bytes, l->cfg->key_size, is_get, wp_rng_next(&l->rng));
			to = d ? d : &l->cfg->server;
			l->txm[n].msg_hdr.msg_name = (void *)to;
			l->txm[n].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
		}
		size_t len;
		if (is_get && l->cfg->mget) { /* --mget: key and mget - 1 more */
			uint64_t keys[WEFT_MAX_MULTI_GET];
			keys[0] = key;
			for (unsigned i = 1; i < l->cfg->mget; i++)
				keys[i] = pick_key(l);
			len = wp_encode_mget(l->cfg, l->client_id, s->id, keys, cookie_of(l, to),
					     buf);
		} else {
			len = wp_encode(l->cfg, l->client_id, s->id, is_get, key, l->value,
					cookie_of(l, to), buf);
		}
		l->txv[n].iov_base = buf;
		l->txv[n].iov_len = seal(l, buf, len);
		l->txm[n].msg_hdr.msg_iov = &l->txv[n];
		l->txm[n].msg_hdr.msg_iovlen = 1;
		l->pending[n] = k;
		n++;
	}
	if (n == 0)
		return 0;
	int sent = sendmmsg(l->fd, l->txm, n, 0);
	if (sent < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
			st->send_fail++;
		sent = 0;
	}
	/* The sent ones leave the top of the free stack; the rest stay free. */
	for (int i = 0; i < sent; i++) {
		struct slot *s = &l->slots[l->pending[i]];
		s->busy = true;
		s->sent_ns = now;
	}
	/* pending[i] was free_stack[nfree - 1 - i]: popping the sent ones
	 * leaves the unsent ones free, in place. */
	l->nfree -= (unsigned)sent;
	st->sent += (uint64_t)sent;
	*issued += (uint64_t)sent;
	return (unsigned)sent;
}

static void receive(struct loop *l, struct wp_stats *st, unsigned *got)
{
	for (unsigned i = 0; i < BATCH; i++) {
		l->rxv[i].iov_base = l->rx + (size_t)i * WP_MAX_DGRAM;
		l->rxv[i].iov_len = WP_MAX_DGRAM;
		memset(&l->rxm[i].msg_hdr, 0, sizeof(l->rxm[i].msg_hdr));
		l->rxm[i].msg_hdr.msg_name = &l->rxa[i];
		l->rxm[i].msg_hdr.msg_namelen = sizeof(l->rxa[i]);
		l->rxm[i].msg_hdr.msg_iov = &l->rxv[i];
		l->rxm[i].msg_hdr.msg_iovlen = 1;
	}
	int r = recvmmsg(l->fd, l->rxm, BATCH, MSG_DONTWAIT, NULL);
	*got = r > 0 ? (unsigned)r : 0;
	uint64_t now = wp_now_ns();
	for (int i = 0; i < r; i++) {
		uint64_t id;
		enum wp_result res;
		size_t len = l->rxm[i].msg_len;
		if (l->cfg->mget && l->cfg->proto == WP_PROTO_MEMCACHED) {
			if (!mc_mget_part(l, st, l->rxv[i].iov_base, len, now))
				st->stale++;
			continue;
		}
		if (open_answer(l, l->rxv[i].iov_base, &len) &&
		    wp_decode(l->cfg, l->client_id, l->rxv[i].iov_base, len, &id, &res)) {
			uint8_t c[WEFT_COOKIE_LEN];
			if (res == WP_R_COOKIE && wp_weft_cookie(l->rxv[i].iov_base, len, c))
				cookie_learn(l, &l->rxa[i], c);
			complete(l, st, id, res, now);
			if (l->w->cluster && l->route)
				wp_cluster_saw(l->w->cluster, l->route->epoch,
					       wp_weft_epoch(l->rxv[i].iov_base, len));
		} else
			st->stale++;
	}
}

/* One phase: measure (random ops until quota / end_ns) or preload. */
static void run_phase(struct loop *l, struct wp_stats *st, uint64_t quota, uint64_t end_ns,
		      bool preload, uint64_t preload_base)
{
	uint64_t issued = 0, last_scan = wp_now_ns();
	for (;;) {
		uint64_t now = wp_now_ns();
		bool issuing = (quota == 0 || issued < quota) && (end_ns == 0 || now < end_ns);
		unsigned sent = 0, got = 0;
		if (issuing)
			sent = issue(l, st, &issued, quota, preload, preload_base, now);
		else if (l->nfree == l->cfg->depth)
			return;
		receive(l, st, &got);
		if (sent == 0 && got == 0) {
			struct pollfd p = { .fd = l->fd, .events = POLLIN };
			poll(&p, 1, 1);
		}
		now = wp_now_ns();
		if (now - last_scan >= 1000000u) {
			expire(l, st, now);
			last_scan = now;
		}
	}
}

static int loop_init(struct loop *l, struct wp_worker *w)
{
	const struct wp_config *cfg = w->cfg;
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->w = w;
	l->cfg = cfg;
	while ((1u << l->slot_bits) < cfg->depth)
		l->slot_bits++;
	l->slots = calloc(cfg->depth, sizeof(*l->slots));
	l->free_stack = calloc(cfg->depth, sizeof(*l->free_stack));
	l->tx = malloc((size_t)cfg->depth * WP_MAX_DGRAM);
	l->rx = malloc((size_t)BATCH * WP_MAX_DGRAM);
	l->value = malloc(cfg->value_size + 1);
	if (!l->slots || !l->free_stack || !l->tx || !l->rx || !l->value)
		return -ENOMEM;
	for (unsigned i = 0; i < cfg->value_size; i++)
		l->value[i] = (uint8_t)('a' + i % 26);
	for (uint32_t k = 0; k < cfg->depth; k++)
		l->free_stack[k] = cfg->depth - 1 - k;
	l->nfree = cfg->depth;
	wp_rng_seed(&l->rng, cfg->seed * 0x9e3779b97f4a7c15ull + w->index + 1);
	weft_sec_tx_init(&l->sec_tx);
	if (getrandom(&l->client_id, sizeof(l->client_id), 0) != sizeof(l->client_id))
		return -errno;
	l->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -errno;
	if (w->cluster == NULL &&
	    connect(l->fd, (const struct sockaddr *)&cfg->server, sizeof(cfg->server)) < 0)
		return -errno;
	if (cfg->proto == WP_PROTO_WEFT)
		handshakes(l);
	return 0;
}

static void loop_fini(struct loop *l)
{
	if (l->fd >= 0)
		close(l->fd);
	free(l->slots);
	free(l->free_stack);
	free(l->tx);
	free(l->rx);
	free(l->value);
}

void *wp_worker_main(void *arg)
{
	struct wp_worker *w = arg;
	const struct wp_config *cfg = w->cfg;
	struct loop *l = malloc(sizeof(*l));
	int rc = l ? loop_init(l, w) : -ENOMEM;

	uint64_t lo = cfg->keys * w->index / cfg->threads;
	uint64_t hi = cfg->keys * (w->index + 1) / cfg->threads;
	if (rc == 0) {
		l->share_lo = lo;
		l->share_n = hi > lo ? hi - lo : 1; /* more threads than keys: repeats */
	}
	if (rc == 0 && cfg->preload && hi > lo)
		run_phase(l, &w->preload, hi - lo, 0, true, lo);
	w->error = -rc;
	pthread_barrier_wait(w->barrier); /* everyone, even on failure */
	if (rc == 0) {
		w->start_ns = wp_now_ns();
		uint64_t end = cfg->duration_s > 0 ? w->start_ns + (uint64_t)(cfg->duration_s * 1e9) : 0;
		run_phase(l, &w->run, w->quota, end, false, 0);
		w->finish_ns = wp_now_ns();
	}
	if (l) {
		loop_fini(l);
		free(l);
	}
	return NULL;
}
