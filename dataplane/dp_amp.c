/*
 * dp_amp.c — address validation: no reflection amplification (wire.h
 * "Trailers", F_COOKIE; the scheme is described in dp_internal.h).
 *
 * Owns the node's cookie secret, each lcore's window keys and reply token
 * buckets, the per-opcode rule (which answers can outgrow their request)
 * and the egress check every response datagram passes in dp_emit.
 *
 * Invariants:
 *  - A flow with amp_budget != 0 (an unverified source) never gets a
 *    datagram larger than amp_budget bytes, nor more than `rate` replies
 *    per second per bucket per lcore (plus a one-second burst).
 *  - The secret is written once, in dp_amp_create, and only read after;
 *    each struct dp_amp_lcore is written by its own worker only.
 *  - No lock, no allocation after create; the hot path of a verified
 *    request costs one constant-time 16-byte compare (its cookie, seen
 *    before in its window: the per-lcore `seen` table) or one SipHash (a
 *    new one), or an address compare (exempt).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dp_internal.h"

#define KEY_LEN crypto_shorthash_siphashx24_KEYBYTES
_Static_assert(crypto_shorthash_siphashx24_BYTES == WEFT_COOKIE_LEN, "a cookie is one SipHash-128");
_Static_assert((DP_AMP_BUCKETS & (DP_AMP_BUCKETS - 1)) == 0, "buckets: a power of two");
_Static_assert((DP_AMP_SEEN & (DP_AMP_SEEN - 1)) == 0, "seen: a power of two");

struct dp_amp {
	uint8_t secret[KEY_LEN]; /* randombytes at create: every window key derives from it */
	uint64_t hash_seed;      /* the buckets' hash (not guessable from outside) */
	uint64_t milli_per_ms;   /* refill: rate tokens per second, in milli-tokens per ms */
	uint64_t milli_cap;      /* burst: one second of tokens */
};

struct dp_amp_bucket {
	uint64_t milli; /* tokens x 1000 */
	uint64_t last_ms;
};

/* A cookie that verified, so that the next requests of the same client
 * cost a 16-byte constant-time compare instead of a SipHash. */
struct dp_amp_seen {
	uint32_t ip;
	uint64_t until;               /* the last window it is accepted in */
	uint8_t c[WEFT_COOKIE_LEN];
};

struct dp_amp_lcore {
	bool ready;
	uint64_t win;                 /* window of key[0]; key[1] is win - 1's */
	uint8_t key[2][KEY_LEN];
	struct dp_amp_seen seen[DP_AMP_SEEN];
	struct dp_amp_bucket b[DP_AMP_BUCKETS];
} __attribute__((aligned(64)));

int dp_amp_create(struct weft_dp *dp)
{
	if (sodium_init() < 0)
		return -ENOMEM;
	struct dp_amp *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	randombytes_buf(a->secret, sizeof(a->secret));
	randombytes_buf(&a->hash_seed, sizeof(a->hash_seed));
	a->hash_seed |= 1; /* odd: a multiplier */
	uint64_t rate = dp->cfg.unverified_reply_rate ? dp->cfg.unverified_reply_rate
						      : DP_AMP_DEFAULT_RATE;
	a->milli_per_ms = rate;
	a->milli_cap = rate * 1000u;
	dp->amp = a;
	for (unsigned w = 0; w < dp->n_workers; w++) {
		struct dp_amp_lcore *l = aligned_alloc(64, sizeof(*l));
		if (l == NULL)
			return -ENOMEM; /* weft_dp_destroy frees what was made */
		memset(l, 0, sizeof(*l));
		for (unsigned i = 0; i < DP_AMP_BUCKETS; i++)
			l->b[i].milli = a->milli_cap; /* every source starts with a full bucket */
		dp->lc[w].amp = l;
	}
	return 0;
}

void dp_amp_destroy(struct weft_dp *dp)
{
	for (unsigned w = 0; dp->lc != NULL && w < dp->n_workers; w++) {
		if (dp->lc[w].amp != NULL)
			sodium_memzero(dp->lc[w].amp->key, sizeof(dp->lc[w].amp->key));
		free(dp->lc[w].amp);
		dp->lc[w].amp = NULL;
	}
	if (dp->amp != NULL)
		sodium_memzero(dp->amp, sizeof(*dp->amp));
	free(dp->amp);
	dp->amp = NULL;
}

/* The key of window w: SipHash-128 of w under the node secret. */
static void derive_key(const struct dp_amp *a, uint64_t w, uint8_t out[KEY_LEN])
{
	uint8_t in[8];
	memcpy(in, &w, 8); /* little-endian hosts (wire.h) */
	crypto_shorthash_siphashx24(out, in, sizeof(in), a->secret);
}

/* Brings lc's keys to lc->now_ms's window; returns it. */
static uint64_t keys_now(struct dp_lcore *lc)
{
	struct dp_amp_lcore *l = lc->amp;
	uint64_t w = lc->now_ms / WEFT_COOKIE_VALID_MS;
	if (l->ready && l->win == w)
		return w;
	if (l->ready && l->win + 1 == w) {
		memcpy(l->key[1], l->key[0], KEY_LEN);
	} else {
		derive_key(lc->dp->amp, w - 1, l->key[1]); /* w >= 0: w - 1 wraps harmlessly */
	}
	derive_key(lc->dp->amp, w, l->key[0]);
	l->win = w;
	l->ready = true;
	return w;
}

static void cookie_of(const uint8_t key[KEY_LEN], uint32_t ip, uint64_t w,
		      uint8_t out[WEFT_COOKIE_LEN])
{
	uint8_t in[12];
	memcpy(in, &ip, 4);
	memcpy(in + 4, &w, 8);
	crypto_shorthash_siphashx24(out, in, sizeof(in), key);
}

void dp_amp_mint(struct dp_lcore *lc, uint32_t ip, uint8_t out[WEFT_COOKIE_LEN])
{
	uint64_t w = keys_now(lc);
	cookie_of(lc->amp->key[0], ip, w, out);
}

/* The slot of ip in a table of n (a power of two) entries. */
static inline uint32_t slot_of(const struct dp_amp *a, uint32_t ip, unsigned n)
{
	uint64_t h = ((uint64_t)ip ^ (a->hash_seed >> 32)) * a->hash_seed;
	return (uint32_t)(h >> (64 - __builtin_ctz(n)));
}

/* Constant-time equality of two cookies, inline: the remembered cookie of
 * the source's slot is compared on every request (crypto_verify_16 behind a
 * call was 2-3% of a worker's cycles on the memif get path); no branch
 * depends on where they differ. */
static inline bool cookie_equal(const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1;
	_Static_assert(WEFT_COOKIE_LEN == 16, "two 8-byte words");
	memcpy(&a0, a, 8);
	memcpy(&a1, a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

bool dp_amp_cookie_ok(struct dp_lcore *lc, uint32_t ip, const uint8_t cookie[WEFT_COOKIE_LEN])
{
	uint64_t w = keys_now(lc);
	struct dp_amp_seen *s = &lc->amp->seen[slot_of(lc->dp->amp, ip, DP_AMP_SEEN)];
	if (s->ip == ip && s->until >= w && s->until <= w + 1 && cookie_equal(s->c, cookie))
		return true;
	uint8_t want[WEFT_COOKIE_LEN];
	for (unsigned i = 0; i < 2; i++) {
		cookie_of(lc->amp->key[i], ip, w - i, want);
		if (crypto_verify_16(want, cookie) == 0) {
			s->ip = ip;
			s->until = w - i + 1; /* minted in window w - i: good through the next */
			memcpy(s->c, want, WEFT_COOKIE_LEN);
			return true;
		}
	}
	return false;
}

bool dp_amp_exempt(const struct weft_dp *dp, const struct weft_dp_members *topo, uint32_t ip)
{
	if (ip == dp->bind_ip)
		return true;
	if (topo == NULL)
		return false;
	for (uint32_t i = 0; i < topo->n; i++)
		if (topo->m[i].ip == ip)
			return true;
	return false;
}

/* Whether a received cookie is all zeros (the client has none yet). Two
 * 8-byte loads instead of sodium_is_zero's byte loop behind a call (2.5% of
 * a worker's cycles on the memif get path, perf/RESULTS.md §6): the value is
 * the client's own, so its timing reveals nothing; the check against the
 * node's key (dp_amp_cookie_ok) is unchanged. */
static inline bool cookie_is_zero(const uint8_t *c)
{
	uint64_t a, b;
	_Static_assert(WEFT_COOKIE_LEN == 16, "two 8-byte words");
	memcpy(&a, c, 8);
	memcpy(&b, c + 8, 8);
	return (a | b) == 0;
}

void dp_amp_rx(struct dp_lcore *lc, const struct weft_dp_members *topo, const uint8_t *dgram,
	       uint32_t *len, struct dp_flow *flow)
{
	uint32_t bytes = *len;
	if (bytes >= sizeof(struct weft_wire_hdr) &&
	    (dgram[offsetof(struct weft_wire_hdr, flags)] & WEFT_F_RESPONSE))
		return; /* a peer's answer: never answered itself */
	/* This node's own address, or a holder of the cluster key (a node:
	 * dp_auth_rx verified the trailer and set flow->auth). */
	bool ok = flow->src_ip == lc->dp->bind_ip || flow->auth == WEFT_AUTH_CLUSTER;
	if (bytes >= sizeof(struct weft_wire_hdr) + WEFT_COOKIE_LEN &&
	    (dgram[offsetof(struct weft_wire_hdr, flags)] & WEFT_F_COOKIE)) {
		const uint8_t *c = dgram + bytes - WEFT_COOKIE_LEN;
		*len = bytes - WEFT_COOKIE_LEN;
		if (!ok && !cookie_is_zero(c)) {
			ok = dp_amp_cookie_ok(lc, flow->src_ip, c);
			if (ok)
				lc->c.cookies_valid++;
			else
				lc->c.cookies_invalid++;
		}
	}
	if (!ok)
		ok = dp_amp_exempt(lc->dp, topo, flow->src_ip);
	flow->amp_budget = ok ? 0 : bytes;
	flow->cookie_asked = !ok && bytes > *len; /* F_COOKIE came, not valid */
	lc->c.amp_unverified += !ok;
}

uint32_t dp_amp_msg_budget(uint32_t msg_len)
{
	uint32_t pieces = msg_len == 0 ? 1 : (msg_len + WEFT_MAX_DGRAM_PAYLOAD - 1) / WEFT_MAX_DGRAM_PAYLOAD;
	return msg_len + pieces * (uint32_t)sizeof(struct weft_wire_hdr);
}

uint32_t dp_amp_answer_max(uint8_t op)
{
	switch (op) {
	case WEFT_OP_PING:
	case WEFT_OP_DELETE:
	case WEFT_OP_CACHE_OPEN:
	case WEFT_OP_DEST_OPEN:
	case WEFT_OP_DEST_STOP:
	case WEFT_OP_UNSUBSCRIBE:
		return 0;
	case WEFT_OP_PUT:
	case WEFT_OP_PUT_IF_ABSENT:
	case WEFT_OP_REPLACE:
	case WEFT_OP_CAS:
	case WEFT_OP_TOUCH:
	case WEFT_OP_PUT_FENCED:
		return sizeof(struct weft_x_version);
	case WEFT_OP_INCR:
		return sizeof(struct weft_x_counter);
	case WEFT_OP_REPLICATE:
	case WEFT_OP_MSG_REPL:
		return sizeof(struct weft_x_repl_ack);
	case WEFT_OP_PUBLISH:
		return sizeof(struct weft_x_published);
	case WEFT_OP_ACK:
		return sizeof(struct weft_x_acked);
	case WEFT_OP_TOPIC_JOIN:
		return sizeof(struct weft_x_topic_joined);
	case WEFT_OP_TOPIC_DELIVER:
		return sizeof(struct weft_x_topic_delivered);
	default: /* GET, MULTI_GET, STATS, FETCH, MEMBERS, TOPOLOGY, RECEIVE,
		    DESTINATIONS, APPS, SESSION, and any op added later */
		return UINT32_MAX;
	}
}

bool dp_amp_needs_cookie(const struct dp_req *req)
{
	uint32_t budget = req->flow.amp_budget;
	if (budget == 0)
		return false;
	uint32_t max = dp_amp_answer_max(req->hdr.opcode);
	return max == UINT32_MAX || (uint64_t)sizeof(struct weft_wire_hdr) + max > budget;
}

void dp_amp_answer_cookie(struct dp_lcore *lc, const struct dp_req *req)
{
	struct weft_wire_hdr h;
	dp_resp_hdr(&h, lc->dp, &req->hdr, WEFT_ST_COOKIE, 0, 0);
	lc->c.cookies_sent++;
	/* A cookie only to a request that carried the trailer (F_COOKIE set on
	 * a datagram too short for one does not count): 56 bytes at most. */
	if (!(req->hdr.flags & WEFT_F_COOKIE) ||
	    req->flow.amp_budget < sizeof(struct weft_wire_hdr) + WEFT_COOKIE_LEN) {
		dp_emit(lc, &req->flow, &h, NULL, 0, NULL, 0);
		return;
	}
	uint8_t c[WEFT_COOKIE_LEN];
	dp_amp_mint(lc, req->flow.src_ip, c);
	h.flags |= WEFT_F_COOKIE;
	dp_emit(lc, &req->flow, &h, c, sizeof(c), NULL, 0);
}

bool dp_amp_fits(struct dp_lcore *lc, const struct dp_flow *flow, uint64_t total)
{
	if (flow->amp_budget == 0 || total <= flow->amp_budget)
		return true;
	lc->c.amp_budget_drops++;
	return false;
}

bool dp_amp_tx_allow(struct dp_lcore *lc, const struct dp_flow *flow, uint64_t bytes)
{
	if (flow->amp_budget == 0)
		return true;
	if (!dp_amp_fits(lc, flow, bytes))
		return false;
	const struct dp_amp *a = lc->dp->amp;
	struct dp_amp_bucket *b = &lc->amp->b[slot_of(a, flow->src_ip, DP_AMP_BUCKETS)];
	uint64_t now = lc->now_ms;
	if (now > b->last_ms) {
		uint64_t el = now - b->last_ms; /* refill; a second's worth fills it */
		uint64_t add = el >= 1000u ? a->milli_cap : el * a->milli_per_ms;
		b->milli = add >= a->milli_cap - b->milli ? a->milli_cap : b->milli + add;
		b->last_ms = now;
	}
	if (b->milli < 1000u) {
		lc->c.amp_rate_drops++;
		return false;
	}
	b->milli -= 1000u;
	return true;
}
