/*
 * libweft messaging, the consumer side (wire.h "Destinations"): a consumer
 * (queue), a subscriber (plain topic) or a durable subscriber (topic with a
 * durable name), its RECEIVE / ACK / UNSUBSCRIBE, and weft_listen.
 *
 * Where each request goes:
 *  - queue and durable subscription: to the primary of the routing name,
 *    like a keyed op (m->route); a RECEIVE or ACK that timed out is sent
 *    again (new request id) to a new primary when the re-fetched table
 *    names one (m->resend): a lost RECEIVE only delays its messages until
 *    their visibility timeout, a repeated ACK finds them acked;
 *  - plain topic subscription: to c->home, the node the client talks to
 *    (the seed; when it stops answering, another member, which stays home:
 *    the next RECEIVE subscribes there anew). Its messages need no ack:
 *    weft_ack / weft_nack on it send nothing and return 0.
 *
 * Invariants: consumer_id is random and never 0; a RECEIVE waits at most
 * WEFT_MAX_RECEIVE_WAIT_MS at the node and each attempt allows wait_ms +
 * the client's timeout_ms (m->hold_ms); a RECEIVE answered GONE (its
 * message list was lost and the node does not replay lists) is sent once
 * more under a fresh request id; every message list is parsed by
 * weft_msglist_decode before anything is handed out; ACK batches hold at
 * most WEFT_MAX_ACK ids; weft_listen never waits past its max_ms.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "client_internal.h"

/* weft_listen: messages per RECEIVE and the longest single wait. */
#define LISTEN_MAX 16u
#define LISTEN_SLICE_MS 1000u
/* weft_listen's pause after a transient failure, doubling up to the max. */
#define LISTEN_BACKOFF_MIN_MS 50u
#define LISTEN_BACKOFF_MAX_MS 1000u

struct weft_consumer {
	struct weft_client *c;
	uint64_t id;
	size_t dest_len, durable_len;
	bool plain_topic; /* a topic without a durable name: served at c->home */
	bool subscribed;  /* a RECEIVE was sent */
	char dest[WEFT_MAX_NAME_LEN + 1];
	char durable[WEFT_MAX_NAME_LEN + 1];
};

/* A durable subscription name, as the node accepts it: 1..64 bytes of
 * 0x21..0x7e. */
static bool durable_ok(const char *d, size_t len)
{
	if (len == 0 || len > WEFT_MAX_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)d[i] < 0x21 || (unsigned char)d[i] > 0x7e)
			return false;
	return true;
}

weft_consumer *weft_consumer_open(weft_client *c, const char *dest, const char *durable)
{
	size_t dlen, klen = 0;
	if (c == NULL || weft_dest_check(dest, &dlen) < 0) {
		errno = EINVAL;
		return NULL;
	}
	bool topic = memcmp(dest, "/topic/", 7) == 0;
	if (durable != NULL) {
		klen = strnlen(durable, WEFT_MAX_NAME_LEN + 1);
		if (!topic || !durable_ok(durable, klen)) {
			errno = EINVAL;
			return NULL;
		}
	}
	struct weft_consumer *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->c = c;
	k->dest_len = dlen;
	memcpy(k->dest, dest, dlen);
	k->durable_len = klen;
	if (klen)
		memcpy(k->durable, durable, klen);
	k->plain_topic = topic && klen == 0;
	while (k->id == 0) {
		ssize_t got = getrandom(&k->id, sizeof(k->id), 0);
		if (got < 0 && errno != EINTR) {
			int e = errno;
			free(k);
			errno = e;
			return NULL;
		}
	}
	return k;
}

uint64_t weft_consumer_id(const weft_consumer *k)
{
	return k ? k->id : 0;
}

/* A request of k: its destination, its durable name as the key, routed to
 * the primary unless it is a plain topic subscription. */
static struct weft_msg consumer_msg(const struct weft_consumer *k, uint8_t opcode)
{
	struct weft_msg m = { .opcode = opcode, .name = k->dest, .name_len = k->dest_len };
	if (k->durable_len) {
		m.key = k->durable;
		m.key_len = k->durable_len;
	}
	if (k->plain_topic) {
		m.home_table = true;
	} else {
		m.route = k->dest;
		m.route_len = weft_wire_dest_route_len(k->dest, k->dest_len);
	}
	return m;
}

int weft_consumer_close(weft_consumer *k, bool remove_durable)
{
	if (k == NULL)
		return 0;
	int rc = 0;
	/* A durable subscription that stays has no UNSUBSCRIBE on the wire that
	 * keeps it: its in-flight messages come back after the lease. */
	bool send = k->durable_len ? remove_durable : k->subscribed;
	if (send) {
		struct weft_x_unsubscribe x = { .consumer_id = k->id };
		struct weft_msg m = consumer_msg(k, WEFT_OP_UNSUBSCRIBE);
		m.extras = &x;
		m.extras_len = sizeof(x);
		struct weft_resp r;
		rc = weft_call(k->c, &m, &r);
		if (rc == 0) {
			rc = -(int)r.status;
			free(r.payload);
		}
	}
	free(k);
	return rc;
}

int weft_receive(weft_consumer *k, const struct weft_receive_opts *ro,
		 struct weft_message *msgs, size_t *n, void **block, uint32_t *dropped)
{
	uint32_t max = ro && ro->max ? ro->max : 1u;
	uint32_t wait = ro ? ro->wait_ms : 0;
	if (k == NULL || msgs == NULL || n == NULL || block == NULL || max > WEFT_MAX_RECEIVE ||
	    wait > WEFT_MAX_RECEIVE_WAIT_MS)
		return -WEFT_ST_INVALID_ARG;
	struct weft_x_receive x = { .consumer_id = k->id, .wait_ms = wait,
				    .visibility_ms = ro ? ro->visibility_ms : 0,
				    .max = (uint16_t)max };
	struct weft_msg m = consumer_msg(k, WEFT_OP_RECEIVE);
	m.extras = &x;
	m.extras_len = sizeof(x);
	m.hold_ms = wait;
	m.resend = true;
	struct weft_resp r;
	k->subscribed = true;
	int rc = weft_call(k->c, &m, &r);
	if (rc == 0 && r.status == WEFT_ST_GONE) {
		/* The answer carried messages and was lost: ask anew (a fresh
		 * request id); those come back after their visibility timeout. */
		free(r.payload);
		rc = weft_call(k->c, &m, &r);
	}
	if (rc < 0)
		return rc;
	struct weft_x_received rx;
	rc = -(int)r.status;
	if (r.status == WEFT_ST_OK) {
		if (r.extras_len < sizeof(rx)) {
			rc = -WEFT_ST_PROTOCOL;
		} else {
			memcpy(&rx, r.payload + (r.head_len - r.extras_len), sizeof(rx));
			rc = weft_msglist_decode(r.payload + r.head_len, r.msg_len - r.head_len,
						 rx.count, msgs, max);
		}
	}
	if (rc < 0) {
		free(r.payload);
		return rc;
	}
	*n = rx.count;
	if (dropped)
		*dropped = rx.dropped;
	if (rx.count == 0) {
		free(r.payload);
		*block = NULL;
	} else {
		*block = r.payload;
	}
	return 0;
}

static int ack_kind(weft_consumer *k, uint32_t kind, const uint64_t *ids, size_t n,
		    uint32_t *done)
{
	if (k == NULL || (ids == NULL && n > 0))
		return -WEFT_ST_INVALID_ARG;
	uint32_t total = 0;
	if (k->plain_topic) /* nothing to ack: the node keeps no in-flight state */
		n = 0;
	for (size_t off = 0; off < n;) {
		uint32_t cnt = n - off > WEFT_MAX_ACK ? WEFT_MAX_ACK : (uint32_t)(n - off);
		struct weft_x_ack x = { .consumer_id = k->id, .kind = kind, .count = cnt };
		struct weft_msg m = consumer_msg(k, WEFT_OP_ACK);
		m.extras = &x;
		m.extras_len = sizeof(x);
		m.value = ids + off;
		m.value_len = (size_t)cnt * sizeof(uint64_t);
		m.resend = true;
		struct weft_resp r;
		int rc = weft_call(k->c, &m, &r);
		if (rc < 0)
			return rc;
		struct weft_x_acked a = { 0 };
		rc = -(int)r.status;
		if (r.status == WEFT_ST_OK && r.extras_len < sizeof(a))
			rc = -WEFT_ST_PROTOCOL;
		else if (r.status == WEFT_ST_OK)
			memcpy(&a, r.payload + (r.head_len - r.extras_len), sizeof(a));
		free(r.payload);
		if (rc < 0)
			return rc;
		total += a.done;
		off += cnt;
	}
	if (done)
		*done = total;
	return 0;
}

int weft_ack(weft_consumer *k, const uint64_t *ids, size_t n, uint32_t *done)
{
	return ack_kind(k, WEFT_ACK_ACK, ids, n, done);
}

int weft_nack(weft_consumer *k, const uint64_t *ids, size_t n, uint32_t *done)
{
	return ack_kind(k, WEFT_ACK_NACK, ids, n, done);
}

/* Failures weft_listen rides out (the cluster is failing over, the node is
 * busy, answers were lost): it retries them until its max_ms. */
static bool transient(int rc)
{
	return rc == -WEFT_ST_TIMEOUT || rc == -WEFT_ST_BUSY || rc == -WEFT_ST_NOT_OWNER ||
	       rc == -WEFT_ST_NO_QUORUM || rc == -WEFT_ST_GONE;
}

static void pause_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000u),
			       .tv_nsec = (long)(ms % 1000u) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Acks and nacks one batch's verdicts. A transient failure is dropped: the
 * messages come back (at least once). */
static int settle(weft_consumer *k, const uint64_t *acks, size_t na, const uint64_t *nacks,
		  size_t nn)
{
	int rc = na ? weft_ack(k, acks, na, NULL) : 0;
	if (rc == 0 || transient(rc))
		rc = nn ? weft_nack(k, nacks, nn, NULL) : 0;
	return transient(rc) ? 0 : rc;
}

int weft_listen(weft_consumer *k, weft_listener_fn fn, void *ctx, uint64_t max_ms)
{
	if (k == NULL || fn == NULL)
		return -WEFT_ST_INVALID_ARG;
	uint64_t end = max_ms ? weft_now_ms() + max_ms : UINT64_MAX;
	uint64_t backoff = LISTEN_BACKOFF_MIN_MS;
	struct weft_message msgs[LISTEN_MAX];
	uint64_t acks[LISTEN_MAX], nacks[LISTEN_MAX];

	for (;;) {
		uint64_t now = weft_now_ms();
		if (now >= end)
			return 0;
		uint64_t left = end - now;
		struct weft_receive_opts ro = {
			.max = LISTEN_MAX,
			.wait_ms = left < LISTEN_SLICE_MS ? (uint32_t)left : LISTEN_SLICE_MS,
		};
		size_t n = 0;
		void *block = NULL;
		int rc = weft_receive(k, &ro, msgs, &n, &block, NULL);
		if (transient(rc)) {
			now = weft_now_ms();
			if (now >= end)
				return 0;
			left = end - now;
			pause_ms(backoff < left ? backoff : left);
			backoff = backoff * 2 > LISTEN_BACKOFF_MAX_MS ? LISTEN_BACKOFF_MAX_MS
								       : backoff * 2;
			continue;
		}
		if (rc < 0)
			return rc;
		backoff = LISTEN_BACKOFF_MIN_MS;
		size_t na = 0, nn = 0, i;
		bool stop = false;
		for (i = 0; i < n && !stop; i++) {
			int v = fn(ctx, &msgs[i]);
			if (v > 0) {
				nacks[nn++] = msgs[i].id;
			} else {
				acks[na++] = msgs[i].id;
				stop = v < 0;
			}
		}
		/* Messages received but not handed to fn (it stopped first) stay
		 * in flight until the consumer is closed or their visibility
		 * timeout passes. */
		free(block);
		rc = settle(k, acks, na, nacks, nn);
		if (rc < 0)
			return rc;
		if (stop)
			return 0;
	}
}
