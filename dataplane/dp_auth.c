/*
 * dp_auth.c — the dataplane's authentication hooks over sec/ (wire.h
 * "Trailers"; the rules are in dp_internal.h's "authentication" section):
 * the data port's ingress check (dp_auth_rx) and egress seal
 * (dp_auth_seal), answers to in-node clients, the cluster channel's seal
 * and open, refusal reports and the auth.* STATS lines.
 *
 * Invariants:
 *  - dp->auth is NULL without keys: then none of this runs (the lcores
 *    test one pointer per datagram, dp_emit one byte);
 *  - a datagram that goes on after dp_auth_rx verified under a key of the
 *    kind its role needs (F_NODE requests and answers to this node's
 *    requests: the node key), and its mbuf, IPv4 and UDP lengths and IPv4
 *    checksum describe the stripped datagram, so a re-parse (a response
 *    steered to another lcore) sees exactly what was verified;
 *  - a refused datagram is never served, forwarded or relayed; only a
 *    client request gets an answer (UNAUTHORIZED, 40 bytes, unsealed);
 *  - lcores write only their own counters and salts; the report slots are
 *    written with atomics (a torn source address in a log line is the
 *    worst a race can do); ctl_* is the control thread's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "dp_internal.h"

#define TRAILER WEFT_SEC_TRAILER_LEN
#define REPORT_EVERY_MS 1000u

int dp_auth_create(struct weft_dp *dp)
{
	const struct weft_dp_config *cfg = &dp->cfg;
	if (cfg->cluster_key == NULL && cfg->client_key == NULL)
		return 0;
	if (weft_sec_init() != 0)
		return -EIO;
	struct dp_auth *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->ctl_buf = malloc(WEFT_DP_CTL_MAX_PAYLOAD);
	if (a->ctl_buf == NULL) {
		free(a);
		return -ENOMEM;
	}
	if (cfg->cluster_key != NULL) {
		a->cluster = *cfg->cluster_key;
		a->cluster.kind = WEFT_AUTH_CLUSTER;
		a->has_cluster = true;
	}
	if (cfg->client_key != NULL) {
		a->client = *cfg->client_key;
		a->client.kind = WEFT_AUTH_CLIENT;
		a->has_client = true;
	}
	dp->cfg.cluster_key = dp->cfg.client_key = NULL; /* the caller's: copied */
	a->node_kind = a->has_cluster ? WEFT_AUTH_CLUSTER : WEFT_AUTH_CLIENT;
	weft_sec_tx_init(&a->ctl_tx);
	for (unsigned w = 0; w < dp->n_workers; w++)
		weft_sec_tx_init(&dp->lc[w].sec_tx);
	dp->auth = a;
	return 0;
}

void dp_auth_destroy(struct weft_dp *dp)
{
	if (dp->auth == NULL)
		return;
	weft_sec_key_wipe(&dp->auth->cluster);
	weft_sec_key_wipe(&dp->auth->client);
	free(dp->auth->ctl_buf);
	free(dp->auth);
	dp->auth = NULL;
}

const struct weft_sec_key *dp_auth_node_key(const struct dp_auth *a)
{
	return a->has_cluster ? &a->cluster : &a->client;
}

static const struct weft_sec_key *key_of(const struct dp_auth *a, uint8_t kind)
{
	if (kind == WEFT_AUTH_CLUSTER)
		return a->has_cluster ? &a->cluster : NULL;
	if (kind == WEFT_AUTH_CLIENT)
		return a->has_client ? &a->client : NULL;
	return NULL;
}

void dp_auth_note(struct dp_auth *a, enum weft_sec_refusal r, enum dp_auth_where where,
		  uint32_t ip, uint16_t port, uint64_t now_ms)
{
	struct dp_auth_report *p = &a->report[r];
	__atomic_fetch_add(&p->count, 1, __ATOMIC_RELAXED);
	uint64_t last = __atomic_load_n(&p->last_ms, __ATOMIC_RELAXED);
	if (last != 0 && now_ms >= last && now_ms - last < REPORT_EVERY_MS)
		return;
	if (!__atomic_compare_exchange_n(&p->last_ms, &last, now_ms, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return; /* another thread reports this second */
	__atomic_store_n(&p->ip, ip, __ATOMIC_RELAXED);
	__atomic_store_n(&p->port, port, __ATOMIC_RELAXED);
	__atomic_store_n(&p->where, (uint8_t)where, __ATOMIC_RELAXED);
	__atomic_store_n(&p->pending, 1, __ATOMIC_RELEASE);
}

void weft_dp_auth_reports(struct weft_dp *dp,
			  void (*fn)(void *arg, const struct weft_dp_auth_report *r), void *arg)
{
	static const char *const where_names[DP_AUTH__WHERE] = {
		"data port", "cluster port", "answer to an in-node client"};
	struct dp_auth *a = dp->auth;
	if (a == NULL)
		return;
	for (unsigned r = 1; r < WEFT_SEC__COUNT; r++) {
		struct dp_auth_report *p = &a->report[r];
		if (!__atomic_exchange_n(&p->pending, 0, __ATOMIC_ACQUIRE))
			continue;
		uint8_t w = __atomic_load_n(&p->where, __ATOMIC_RELAXED);
		struct weft_dp_auth_report out = {
			.reason = weft_sec_refusal_name((enum weft_sec_refusal)r),
			.where = w < DP_AUTH__WHERE ? where_names[w] : "?",
			.ip = __atomic_load_n(&p->ip, __ATOMIC_RELAXED),
			.port = __atomic_load_n(&p->port, __ATOMIC_RELAXED),
			.count = __atomic_exchange_n(&p->count, 0, __ATOMIC_RELAXED)};
		fn(arg, &out);
	}
}

/* Shrinks frame m (a UDP datagram at udp, l4 payload now plain bytes) to
 * end with the payload: mbuf, IPv4 total length and checksum, UDP length. */
static void set_payload_len(struct rte_mbuf *m, uint8_t *ip, uint32_t plain)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *udp = ip + DP_IP_HLEN;
	uint32_t frame = (uint32_t)(udp + DP_UDP_HLEN - f) + plain;
	m->data_len = (uint16_t)frame;
	m->pkt_len = frame;
	uint16_t l3 = (uint16_t)(DP_IP_HLEN + DP_UDP_HLEN + plain);
	ip[2] = (uint8_t)(l3 >> 8);
	ip[3] = (uint8_t)l3;
	uint16_t l4 = (uint16_t)(DP_UDP_HLEN + plain);
	udp[4] = (uint8_t)(l4 >> 8);
	udp[5] = (uint8_t)l4;
	dp_ipv4_finish(ip);
}

static void answer_unauthorized(struct dp_lcore *lc, const struct weft_wire_hdr *req,
				const struct dp_flow *flow, uint32_t request_bytes)
{
	struct weft_wire_hdr h;
	dp_resp_hdr(&h, lc->dp, req, WEFT_ST_UNAUTHORIZED, 0, 0);
	struct dp_flow f = *flow;
	f.auth = 0; /* a bare header: the client learns it has no valid key */
	/* An unverified source (cookies come after this check): the answer
	 * is within its request's size and the per-source rate (dp_amp.c). */
	f.amp_budget = request_bytes;
	f.cookie_asked = 0;
	lc->c.auth_unauthorized++;
	dp_emit(lc, &f, &h, NULL, 0, NULL, 0);
}

bool dp_auth_rx(struct dp_lcore *lc, struct rte_mbuf *m, struct dp_pkt *pkt)
{
	struct weft_dp *dp = lc->dp;
	struct dp_auth *a = dp->auth;
	struct weft_wire_hdr h;
	if (pkt->payload_len < sizeof(h))
		return true;
	memcpy(&h, pkt->payload, sizeof(h));
	if (h.magic != WEFT_WIRE_MAGIC)
		return true;
	bool response = (h.flags & WEFT_F_RESPONSE) != 0;
	if (response && h.client_id != dp->node_client_id)
		return true; /* not an answer to us: classification drops it */
	/* Node traffic: F_NODE requests, answers to ours, and requests from
	 * another node's in-node clients (source port = data port + 2, which
	 * dp_sess.c trusts for EXPIRE): all sealed with the node key. */
	uint16_t local_port = htons((uint16_t)(ntohs(dp->udp_port) + 2u));
	bool node = response || (h.flags & WEFT_F_NODE) || pkt->flow.src_port == local_port;
	if (!node && !a->has_client && !(h.flags & WEFT_F_AUTH))
		return true; /* clients need no key here */
	uint64_t now = weft_sec_now_ms();
	uint8_t *payload = (uint8_t *)(uintptr_t)pkt->payload; /* in m: writable */
	size_t plain = 0;
	uint8_t kind = 0;
	enum weft_sec_refusal r =
		weft_sec_open(key_of(a, WEFT_AUTH_CLUSTER), key_of(a, WEFT_AUTH_CLIENT), now, true,
			      payload, pkt->payload_len, &plain, &kind);
	if (r == WEFT_SEC_OK && node && kind != a->node_kind)
		r = WEFT_SEC_KIND; /* a client key never speaks for a node */
	if (unlikely(r != WEFT_SEC_OK)) {
		lc->c.auth_refused[r]++;
		dp_auth_note(a, r, DP_AUTH_DATA, pkt->flow.src_ip, ntohs(pkt->flow.src_port), now);
		if (!node)
			answer_unauthorized(lc, &h, &pkt->flow, pkt->payload_len);
		return false;
	}
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *) + DP_ETH_HLEN;
	set_payload_len(m, ip, (uint32_t)plain);
	pkt->payload_len = (uint32_t)plain;
	pkt->flow.auth = kind;
	return true;
}

void dp_auth_seal(struct dp_lcore *lc, struct rte_mbuf *m, uint8_t kind)
{
	const struct weft_sec_key *k = key_of(lc->dp->auth, kind);
	uint32_t len = m->data_len - DP_HDRS_LEN;
	if (k == NULL || rte_pktmbuf_append(m, TRAILER) == NULL) {
		rte_pktmbuf_free(m); /* cannot happen: dp_emit's frames leave room */
		lc->c.drops[DP_DROP_NO_MBUF]++;
		return;
	}
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	size_t sealed = weft_sec_seal(k, &lc->sec_tx, weft_sec_now_ms(), true, f + DP_HDRS_LEN,
				      len);
	set_payload_len(m, f + DP_ETH_HLEN, (uint32_t)sealed);
	dp_tx_push(lc, m);
}

bool dp_auth_local_rx(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_auth *a = lc->dp->auth;
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *ip = f + DP_ETH_HLEN, *udp = ip + DP_IP_HLEN;
	uint32_t ulen = (uint32_t)(udp[4] << 8 | udp[5]);
	uint32_t src_ip;
	memcpy(&src_ip, ip + 12, 4);
	uint16_t sport = (uint16_t)(udp[0] << 8 | udp[1]);
	uint64_t now = weft_sec_now_ms();
	const struct weft_sec_key *k = dp_auth_node_key(a);
	enum weft_sec_refusal r = WEFT_SEC_MISSING;
	size_t plain = 0;
	uint8_t kind = 0;
	if (ulen >= DP_UDP_HLEN && DP_HDRS_LEN + ulen - DP_UDP_HLEN <= m->data_len)
		r = weft_sec_open(k->kind == WEFT_AUTH_CLUSTER ? k : NULL,
				  k->kind == WEFT_AUTH_CLIENT ? k : NULL, now, true,
				  udp + DP_UDP_HLEN, ulen - DP_UDP_HLEN, &plain, &kind);
	if (r != WEFT_SEC_OK) {
		lc->c.auth_refused[r]++;
		dp_auth_note(a, r, DP_AUTH_LOCAL, src_ip, sport, now);
		return false;
	}
	set_payload_len(m, ip, (uint32_t)plain);
	return true;
}

/* --- the cluster channel (control thread) ---------------------------------- */

static bool is_wire(const uint8_t *p, size_t len)
{
	return len >= sizeof(struct weft_wire_hdr) && p[0] == (WEFT_WIRE_MAGIC & 0xff) &&
	       p[1] == (WEFT_WIRE_MAGIC >> 8) && p[2] == WEFT_WIRE_VERSION;
}

int dp_auth_ctl_seal(struct weft_dp *dp, const void *buf, size_t len, const void **out,
		     size_t *out_len)
{
	struct dp_auth *a = dp->auth;
	*out = buf;
	*out_len = len;
	if (a == NULL)
		return 0;
	bool wire = is_wire(buf, len);
	const struct weft_sec_key *k = wire ? dp_auth_node_key(a)
					    : a->has_cluster ? &a->cluster : NULL;
	if (k == NULL)
		return 0;
	if (len + TRAILER > WEFT_DP_CTL_MAX_PAYLOAD)
		return -EMSGSIZE;
	memcpy(a->ctl_buf, buf, len);
	*out_len = weft_sec_seal(k, &a->ctl_tx, weft_sec_now_ms(), wire, a->ctl_buf, len);
	*out = a->ctl_buf;
	return 0;
}

bool dp_auth_ctl_open(struct weft_dp *dp, struct weft_dp_datagram *d, uint64_t now_ms)
{
	(void)now_ms; /* the window is wall-clock time, not the node's monotonic clock */
	struct dp_auth *a = dp->auth;
	if (a == NULL)
		return true;
	uint8_t *p = (uint8_t *)(uintptr_t)d->payload; /* the channel's receive buffer */
	bool wire = is_wire(p, d->len);
	const struct weft_sec_key *k = wire ? dp_auth_node_key(a)
					    : a->has_cluster ? &a->cluster : NULL;
	if (k == NULL)
		return true; /* membership without a cluster key: as before */
	uint64_t now = weft_sec_now_ms();
	size_t plain = 0;
	uint8_t kind = 0;
	enum weft_sec_refusal r = weft_sec_open(k->kind == WEFT_AUTH_CLUSTER ? k : NULL,
						k->kind == WEFT_AUTH_CLIENT ? k : NULL, now, wire,
						p, d->len, &plain, &kind);
	if (r != WEFT_SEC_OK) {
		a->ctl_refused[r]++;
		dp_auth_note(a, r, DP_AUTH_CLUSTER_PORT, d->src_ip, d->src_port, now);
		return false;
	}
	d->len = plain;
	return true;
}

void dp_auth_stats_format(struct weft_dp *dp, const struct dp_counters *total,
			  struct dp_text *o)
{
	struct dp_auth *a = dp->auth;
	dp_text_put(o, "auth.cluster_key %u\nauth.encrypt %u\nauth.client_key %u\n",
		    a != NULL && a->has_cluster,
		    a != NULL && a->has_cluster && a->cluster.alg == WEFT_AUTH_AEAD,
		    a != NULL && a->has_client);
	for (unsigned r = 1; r < WEFT_SEC__COUNT; r++) {
		uint64_t ctl = a != NULL ? a->ctl_refused[r] : 0;
		const char *n = weft_sec_refusal_name((enum weft_sec_refusal)r);
		dp_text_put(o, "auth.cluster_port_refused_%s %" PRIu64 "\n", n, ctl);
		dp_text_put(o, "auth.refused_%s %" PRIu64 "\n", n, ctl + total->auth_refused[r]);
	}
	dp_text_put(o, "auth.unauthorized %" PRIu64 "\n", total->auth_unauthorized);
}
