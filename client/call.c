/*
 * libweft call engine: send one request to one node, await its whole
 * response.
 *
 * An attempt sends every datagram of the request, then reads datagrams until
 * the response is complete or the per-attempt timeout passes; a timed-out
 * attempt is retransmitted with the same request_id and WEFT_F_RETRY (the
 * node's at-most-once table and its request reassembly both key on it), up
 * to the caller's attempt count and never past its deadline.
 *
 * Long responses (msg_len beyond one datagram) are reassembled here by
 * frag_offset. The node sends WEFT_RESP_INITIAL_WINDOW pieces unasked; the
 * rest is pulled with FETCH, keeping at most that many pieces requested and
 * not yet received. A few round trips without a new piece re-FETCH every
 * missing requested piece; no new piece for (retries + 1) * timeout_ms, or
 * a GONE answer, repeats the original request under a NEW request_id (only
 * idempotent ops and RECEIVE, whose lost messages come back after their
 * visibility timeout, have long responses), so that pieces of the old
 * response can never mix into the new one. A request that the node may
 * hold (m->hold_ms: a RECEIVE's wait) gets that much more per attempt.
 *
 * BUSY (wire.h: nothing was applied; e.g. a node whose membership lease
 * expired, or one not yet in a view) is asked again under a new request
 * id after a pause of BUSY_PAUSE_MIN_MS doubling to BUSY_PAUSE_MAX_MS,
 * while the call's deadline and its retry budget ((retries + 1) x
 * timeout_ms from the first send) allow; then BUSY is the call's answer.
 *
 * Address validation: every datagram sent carries the node's cookie
 * (cookie.c); a COOKIE answer (nothing applied) stores the cookie it
 * carries and the request is resent at once under the same id, not as a
 * timeout retry; after WEFT_COOKIE_TRIPS of them the COOKIE answer is the
 * call's (callers return -WEFT_ST_COOKIE).
 *
 * Invariants: a datagram that is not from the node the request went to, or
 * not a well-formed response to the current (client_id, request_id,
 * opcode), is counted in c->ignored and dropped; a
 * piece is accepted only at a multiple of WEFT_MAX_DGRAM_PAYLOAD with the
 * exact piece length and the assembly's msg_len and status; every wait is
 * bounded by a deadline.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <linux/errqueue.h> /* after <time.h>: it uses struct timespec */

#include "client_internal.h"

enum { PIECE_UNREQUESTED, PIECE_REQUESTED, PIECE_RECEIVED };

/* FETCH in batches of at least this many pieces (unless fewer remain). */
#define FETCH_BATCH 8u
#define REFETCH_RTTS 4u
#define REFETCH_MIN_MS 10u

enum attempt_end { END_DONE, END_TIMEOUT, END_REPEAT };

struct assembly {
	uint16_t status;
	uint32_t msg_len;
	uint32_t npieces, received, in_flight, unrequested;
	uint8_t *buf;
	uint8_t *state; /* PIECE_* per piece */
	struct weft_wire_hdr head; /* header of the first piece seen */
};

uint64_t weft_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t weft_call_deadline(const struct weft_client *c)
{
	return c->opts.deadline_ms ? weft_now_ms() + c->opts.deadline_ms : UINT64_MAX;
}

bool weft_addr_eq(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static int send_dgram(struct weft_client *c, const struct sockaddr_in *to, size_t len)
{
	len = weft_cookie_append(c, to, len); /* address validation (cookie.c) */
	len = weft_auth_seal(c, len);         /* client key, last (auth.c) */
	if (c->has_transport) {
		int rc = c->transport.send(c->transport.ctx, to->sin_addr.s_addr, to->sin_port,
					   c->tx, len);
		if (rc < 0) {
			c->last_errno = -rc;
			return -WEFT_ST_IO;
		}
		return 0;
	}
	for (int tries = 0; tries < 3; tries++) {
		if (sendto(c->fd, c->tx, len, 0, (const struct sockaddr *)to, sizeof(*to)) ==
		    (ssize_t)len)
			return 0;
		/* An ICMP error of an earlier datagram surfaces here once, and the
		 * datagram was not sent: note it and send again. */
		if (errno == EINTR || errno == ECONNREFUSED) {
			if (errno == ECONNREFUSED)
				c->last_errno = errno;
			continue;
		}
		c->last_errno = errno;
		return -WEFT_ST_IO;
	}
	return 0; /* counts as lost: the attempt's timeout handles it */
}

static int send_request(struct weft_client *c, const struct sockaddr_in *to,
			const struct weft_msg *m, uint64_t rid, uint8_t flags)
{
	size_t n = weft_msg_dgram_count(m);
	for (size_t i = 0; i < n; i++) {
		size_t len = weft_msg_encode(m, c->client_id, rid, flags, i, c->tx);
		int rc = send_dgram(c, to, len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Drains the socket's error queue (IP_RECVERR): an ICMP "port unreachable"
 * for a datagram sent to `to` is kept as ECONNREFUSED in c->last_errno (the
 * call still waits: the node may be starting). */
static void drain_errors(struct weft_client *c, const struct sockaddr_in *to)
{
	for (int i = 0; i < 64; i++) {
		uint8_t data[64], ctl[512];
		struct sockaddr_in dst;
		struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
		struct msghdr mh = { .msg_name = &dst, .msg_namelen = sizeof(dst), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = ctl,
				     .msg_controllen = sizeof(ctl) };
		if (recvmsg(c->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != IPPROTO_IP || cm->cmsg_type != IP_RECVERR)
				continue;
			struct sock_extended_err ee;
			memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
			if (ee.ee_errno == ECONNREFUSED && mh.msg_namelen >= sizeof(dst) &&
			    weft_addr_eq(&dst, to))
				c->last_errno = ECONNREFUSED;
		}
	}
}

/* Reads one datagram from `from` into c->rx before until_ms (others are
 * counted in c->ignored). Returns its length, 0 when the time is up, or
 * -WEFT_ST_IO. */
static ssize_t recv_until(struct weft_client *c, const struct sockaddr_in *from,
			  uint64_t until_ms)
{
	for (;;) {
		uint64_t now = weft_now_ms();
		if (now >= until_ms)
			return 0;
		uint64_t wait = until_ms - now;
		if (c->has_transport) {
			uint32_t ip;
			uint16_t port;
			long n = c->transport.recv(c->transport.ctx, c->rx, sizeof(c->rx), &ip, &port,
						   wait > INT32_MAX ? INT32_MAX : (int)wait);
			if (n < 0) {
				c->last_errno = (int)-n;
				return -WEFT_ST_IO;
			}
			if (n > 0 && (ip != from->sin_addr.s_addr || port != from->sin_port)) {
				c->ignored++;
				continue;
			}
			if (n > 0)
				return n;
			continue;
		}
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int pr = poll(&p, 1, wait > INT32_MAX ? INT32_MAX : (int)wait);
		if (pr < 0 && errno != EINTR) {
			c->last_errno = errno;
			return -WEFT_ST_IO;
		}
		if (pr <= 0)
			continue;
		if (p.revents & POLLERR)
			drain_errors(c, from);
		struct sockaddr_in src;
		socklen_t sl = sizeof(src);
		ssize_t n = recvfrom(c->fd, c->rx, sizeof(c->rx), MSG_DONTWAIT,
				     (struct sockaddr *)&src, &sl);
		if (n > 0 && (sl != sizeof(src) || src.sin_family != AF_INET ||
			      !weft_addr_eq(&src, from))) {
			c->ignored++; /* another node's late answer, or a stranger */
			continue;
		}
		if (n > 0)
			return n;
		if (n < 0 && errno == ECONNREFUSED) {
			c->last_errno = errno; /* nobody listens yet: keep waiting */
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			c->last_errno = errno;
			return -WEFT_ST_IO;
		}
	}
}

static uint32_t piece_len(const struct assembly *a, uint32_t k)
{
	uint32_t off = k * WEFT_MAX_DGRAM_PAYLOAD;
	uint32_t left = a->msg_len - off;
	return left < WEFT_MAX_DGRAM_PAYLOAD ? left : WEFT_MAX_DGRAM_PAYLOAD;
}

static void assembly_free(struct assembly *a)
{
	free(a->buf);
	free(a->state);
	memset(a, 0, sizeof(*a));
}

static int assembly_start(struct weft_client *c, struct assembly *a,
			  const struct weft_wire_hdr *h)
{
	a->status = h->status;
	a->msg_len = h->msg_len;
	a->npieces = (h->msg_len + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
	a->buf = malloc(h->msg_len);
	a->state = calloc(a->npieces, 1);
	if (a->buf == NULL || a->state == NULL) {
		c->last_errno = ENOMEM;
		assembly_free(a);
		return -WEFT_ST_IO;
	}
	a->head = *h;
	/* The node sends the first window unasked. */
	uint32_t first = a->npieces < WEFT_RESP_INITIAL_WINDOW ? a->npieces : WEFT_RESP_INITIAL_WINDOW;
	memset(a->state, PIECE_REQUESTED, first);
	a->in_flight = first;
	a->unrequested = a->npieces - first;
	return 0;
}

/* Requests unrequested pieces while fewer than the window are in flight. */
static int pump(struct weft_client *c, const struct sockaddr_in *to, struct assembly *a,
		uint64_t rid, uint8_t flags)
{
	uint32_t k = 0;
	while (a->unrequested > 0) {
		uint32_t room = WEFT_RESP_INITIAL_WINDOW - a->in_flight;
		if (room == 0 || (room < FETCH_BATCH && room < a->unrequested))
			return 0;
		while (k < a->npieces && a->state[k] != PIECE_UNREQUESTED)
			k++;
		uint32_t run = 0;
		while (k + run < a->npieces && run < room && a->state[k + run] == PIECE_UNREQUESTED)
			run++;
		size_t len = weft_fetch_encode(c->client_id, rid, flags, k * WEFT_MAX_DGRAM_PAYLOAD,
					       run, c->tx);
		int rc = send_dgram(c, to, len);
		if (rc < 0)
			return rc;
		memset(a->state + k, PIECE_REQUESTED, run);
		a->in_flight += run;
		a->unrequested -= run;
		k += run;
	}
	return 0;
}

/* After a stall: every requested piece still missing is asked again. */
static void rerequest_missing(struct assembly *a)
{
	for (uint32_t k = 0; k < a->npieces; k++)
		if (a->state[k] == PIECE_REQUESTED) {
			a->state[k] = PIECE_UNREQUESTED;
			a->unrequested++;
		}
	a->in_flight = 0;
}

static void resp_from_head(struct weft_resp *r, const struct weft_wire_hdr *h, uint8_t *payload)
{
	r->status = h->status;
	r->extras_len = h->extras_len;
	r->msg_len = h->msg_len;
	r->epoch = h->epoch;
	r->head_len = (uint32_t)h->name_len + h->key_len + h->extras_len;
	r->payload = payload;
}

/* Accepts one piece of a long response. Returns 1 when it was new. */
static int take_piece(struct assembly *a, const struct weft_wire_hdr *h, const uint8_t *slice,
		      size_t slice_len)
{
	if (h->msg_len != a->msg_len || h->status != a->status ||
	    h->frag_offset % WEFT_MAX_DGRAM_PAYLOAD != 0)
		return -1;
	uint32_t k = h->frag_offset / WEFT_MAX_DGRAM_PAYLOAD;
	if (k >= a->npieces || slice_len != piece_len(a, k))
		return -1;
	if (a->state[k] == PIECE_RECEIVED)
		return 0;
	if (k == 0)
		a->head = *h;
	memcpy(a->buf + h->frag_offset, slice, slice_len);
	if (a->state[k] == PIECE_REQUESTED)
		a->in_flight--;
	else
		a->unrequested--;
	a->state[k] = PIECE_RECEIVED;
	a->received++;
	return 1;
}

/* How long a long response may make no progress before the missing
 * requested pieces are FETCHed again: REFETCH_RTTS round trips (the first
 * piece's delay), within [REFETCH_MIN_MS, timeout_ms]. A spurious re-FETCH
 * only costs duplicates, which are dropped; waiting a whole timeout_ms for
 * each lost piece would crawl on a lossy path. */
static uint64_t refetch_after(const struct weft_client *c, uint64_t rtt_ms)
{
	uint64_t t = rtt_ms * REFETCH_RTTS;
	if (t < REFETCH_MIN_MS)
		t = REFETCH_MIN_MS;
	return t < c->opts.timeout_ms ? t : c->opts.timeout_ms;
}

/* One attempt's wait. Returns an attempt_end or a negative status. */
static int await(struct weft_client *c, const struct sockaddr_in *to, const struct weft_msg *m,
		 uint64_t rid, uint64_t deadline, struct weft_resp *r)
{
	struct assembly a = { 0 };
	uint64_t sent = weft_now_ms();
	uint64_t progress = sent; /* last new piece */
	uint64_t mark = sent;     /* last new piece or re-FETCH */
	uint64_t refetch_ms = c->opts.timeout_ms;
	/* A RECEIVE may be held by the node for its wait before the answer. */
	uint64_t attempt_ms = (uint64_t)c->opts.timeout_ms + m->hold_ms;
	uint64_t give_up_ms = (uint64_t)c->opts.timeout_ms * ((uint64_t)c->opts.retries + 1u);

	for (;;) {
		uint64_t until = mark + (a.buf ? refetch_ms : attempt_ms);
		ssize_t n = recv_until(c, to, until < deadline ? until : deadline);
		if (n < 0) {
			assembly_free(&a);
			return (int)n;
		}
		if (n == 0) {
			if (a.buf == NULL)
				return END_TIMEOUT;
			uint64_t now = weft_now_ms();
			if (now - progress >= give_up_ms || now >= deadline) {
				assembly_free(&a);
				return END_REPEAT;
			}
			rerequest_missing(&a);
			int rc = pump(c, to, &a, rid, WEFT_F_RETRY);
			if (rc < 0) {
				assembly_free(&a);
				return rc;
			}
			mark = now;
			continue;
		}
		size_t dlen = (size_t)n;
		if (!weft_auth_open(c, &dlen)) { /* first: verify, strip (auth.c) */
			c->ignored++;
			continue;
		}
		uint8_t cookie[WEFT_COOKIE_LEN];
		bool has_cookie = weft_cookie_strip(c->rx, &dlen, cookie);
		if (!weft_resp_matches(c->rx, dlen, c->client_id, rid, m->opcode)) {
			c->ignored++;
			continue;
		}
		/* Any answer may carry a fresh cookie: a COOKIE answer, or one a
		 * node put on an answer with room to spare (a write's). */
		if (has_cookie)
			weft_cookie_store(c, to, cookie);
		struct weft_wire_hdr h;
		memcpy(&h, c->rx, sizeof(h));
		const uint8_t *slice = c->rx + sizeof(h);
		size_t slice_len = dlen - sizeof(h);

		if (h.status == WEFT_ST_COOKIE) {
			/* The node wants this address verified: the caller resends
			 * with the cookie (a bare COOKIE has none to keep). */
			assembly_free(&a);
			resp_from_head(r, &h, NULL);
			return END_DONE;
		}

		if (h.status == WEFT_ST_GONE && h.opcode == WEFT_OP_FETCH) {
			if (a.buf == NULL) {
				c->ignored++; /* a late answer to an earlier FETCH */
				continue;
			}
			assembly_free(&a);
			return END_REPEAT;
		}
		if (a.buf == NULL && h.msg_len == slice_len) {
			uint8_t *p = NULL;
			if (slice_len > 0 && (p = malloc(slice_len)) == NULL) {
				c->last_errno = ENOMEM;
				return -WEFT_ST_IO;
			}
			if (slice_len > 0)
				memcpy(p, slice, slice_len);
			resp_from_head(r, &h, p);
			return END_DONE;
		}
		if (a.buf == NULL) {
			int rc = assembly_start(c, &a, &h);
			if (rc < 0)
				return rc;
			refetch_ms = refetch_after(c, weft_now_ms() - sent);
		}
		int took = take_piece(&a, &h, slice, slice_len);
		if (took < 0) {
			c->ignored++;
			if (a.received == 0)
				assembly_free(&a); /* do not lock onto a bad first piece */
		}
		if (took <= 0)
			continue;
		progress = mark = weft_now_ms();
		if (a.received == a.npieces) {
			resp_from_head(r, &a.head, a.buf);
			free(a.state);
			return END_DONE;
		}
		int rc = pump(c, to, &a, rid, 0);
		if (rc < 0) {
			assembly_free(&a);
			return rc;
		}
	}
}

#define BUSY_PAUSE_MIN_MS 20u
#define BUSY_PAUSE_MAX_MS 200u

/* After a BUSY answer: pauses *pause_ms (then doubles it, up to the max)
 * and returns true when the call may ask again within its deadline and
 * retry budget; false when BUSY is to be its answer. */
static bool busy_pause(const struct weft_client *c, uint64_t first_send, uint64_t deadline,
		       uint32_t *pause_ms)
{
	uint64_t budget = first_send + (uint64_t)(c->opts.retries + 1u) * c->opts.timeout_ms;
	uint64_t end = deadline < budget ? deadline : budget;
	uint64_t now = weft_now_ms();
	if (now + *pause_ms >= end)
		return false;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)*pause_ms * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	*pause_ms = *pause_ms * 2u > BUSY_PAUSE_MAX_MS ? BUSY_PAUSE_MAX_MS : *pause_ms * 2u;
	return true;
}

int weft_call_at(struct weft_client *c, const struct sockaddr_in *to, const struct weft_msg *m,
		 uint32_t attempts, uint64_t deadline, struct weft_resp *r)
{
	uint64_t first_send = weft_now_ms();
	/* A node remembers a non-idempotent op's answer for WEFT_DEDUP_KEEP_MS:
	 * a retransmission it could receive after that might apply the op
	 * again, so none is sent that late (the call times out instead);
	 * an op marked resend (RECEIVE, ACK) may be applied twice harmlessly. */
	bool once = !weft_wire_op_is_idempotent(m->opcode) && !m->resend;
	uint64_t rid = c->next_request_id++;
	uint32_t sent = 0, repeats = 0, cookie_trips = 0, pause_ms = BUSY_PAUSE_MIN_MS;
	uint8_t flags = 0;

	memset(r, 0, sizeof(*r));
	for (;;) {
		int rc = send_request(c, to, m, rid, flags);
		if (rc < 0)
			return rc;
		rc = await(c, to, m, rid, deadline, r);
		if (rc == END_DONE && r->status == WEFT_ST_COOKIE &&
		    cookie_trips < WEFT_COOKIE_TRIPS) {
			/* Nothing was applied: resend at once, same id (a first
			 * transmission applied earlier is then replayed), not a
			 * timeout retry. A third COOKIE is the call's answer. */
			cookie_trips++;
			c->cookie_trips++;
			memset(r, 0, sizeof(*r));
			continue;
		}
		if (rc == END_DONE && r->status == WEFT_ST_BUSY &&
		    busy_pause(c, first_send, deadline, &pause_ms)) {
			/* Nothing was applied: asked anew, a new id (the node
			 * may keep the BUSY answer for the old one). */
			free(r->payload);
			memset(r, 0, sizeof(*r));
			c->busy_retries++;
			rid = c->next_request_id++;
			flags = 0;
			continue;
		}
		if (rc == END_DONE)
			c->epoch = r->epoch;
		if (rc < 0 || rc == END_DONE)
			return rc < 0 ? rc : 0;
		if (weft_now_ms() >= deadline)
			return -WEFT_ST_TIMEOUT;
		if (rc == END_REPEAT) {
			/* The request reached the node (it answered); ask anew. */
			if (++repeats > c->opts.retries)
				return -WEFT_ST_TIMEOUT;
			rid = c->next_request_id++;
			flags = 0;
			continue;
		}
		if (++sent >= attempts)
			return -WEFT_ST_TIMEOUT;
		if (once && weft_now_ms() + c->opts.timeout_ms + m->hold_ms - first_send >=
				    WEFT_DEDUP_KEEP_MS)
			return -WEFT_ST_TIMEOUT;
		flags = WEFT_F_RETRY;
	}
}
