/*
 * dp_local.c — in-node clients: weftd's own threads (the app thread pool,
 * the control thread) speak the wire protocol to the grid like any client,
 * over rings instead of the NIC.
 *
 * A local client sends datagrams from bind_ip:local_port (the data port
 * + 2) with its own client_id. weft_dp_local_send builds the whole frame
 * and queues it on one multi-producer ring that worker 0 drains every
 * iteration: a frame to this node is served as if it had arrived on the
 * port; a frame to another node goes out of the port (its MAC from the ARP
 * table; an unknown peer gets an ARP request and the datagram is dropped,
 * the client's retransmission carries it later). Answers come back to
 * bind_ip:local_port: from this node's lcores they are taken off the tx
 * path (dp_local_intercept), from other nodes off the rx path (their port
 * is not the data port): either way they go to the ring of the local
 * client whose client_id they carry.
 *
 * With keys (dp_auth.c), frames to other nodes are sealed with the node
 * key (each local client has its own salts) and their answers verified
 * before they reach the client; frames to this node stay unsealed (an
 * in-node client is trusted on its own node).
 *
 * Invariants:
 *  - the slot table is read by lcores without a lock (QSBR readers); a
 *    client is unlinked under the table's mutex and its ring freed only
 *    after a grace period, so no lcore can still be enqueueing to it;
 *  - a local client is used by one thread at a time (like a weft_client).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <urcu-qsbr.h>

#include "dp_internal.h"

#define LOCAL_RING 256u   /* answers waiting for one local client */
#define LOCAL_OUT 1024u   /* frames from every local client to worker 0 */
#define LOCAL_POLL_MIN_US 20u
#define LOCAL_POLL_MAX_US 500u

struct weft_dp_local {
	struct weft_dp *dp;
	uint32_t client_id;
	struct rte_ring *rx;
	uint16_t ip_id;
	struct weft_sec_tx sec_tx; /* salts of its sealed frames (dp_auth.c) */
};

struct dp_locals {
	pthread_mutex_t lock;
	struct rte_ring *out;
	uint16_t port;        /* local_port, network order */
	unsigned seq;         /* ring names */
	struct weft_dp_local *slot[WEFT_DP_LOCAL_MAX];
	uint64_t sent, delivered, unclaimed, full, unresolved;
};

struct dp_locals *dp_locals_create(uint16_t data_port_host)
{
	struct dp_locals *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "weft_lout_%p", (void *)t);
	t->out = rte_ring_create(name, LOCAL_OUT, SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (t->out == NULL) {
		free(t);
		return NULL;
	}
	t->port = rte_cpu_to_be_16((uint16_t)(data_port_host + 2u));
	return t;
}

void dp_locals_destroy(struct dp_locals *t)
{
	if (t == NULL)
		return;
	void *m;
	while (rte_ring_dequeue(t->out, &m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(t->out);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* --- the lcores' side ----------------------------------------------------- */

/* The local client a frame to bind_ip:local_port is for (NULL: none). */
static struct weft_dp_local *claimant(struct dp_locals *t, const uint8_t *f, uint32_t len)
{
	if (len < DP_HDRS_LEN + sizeof(struct weft_wire_hdr))
		return NULL;
	uint16_t dport;
	memcpy(&dport, f + DP_ETH_HLEN + DP_IP_HLEN + 2, 2);
	if (dport != t->port)
		return NULL;
	struct weft_wire_hdr h;
	memcpy(&h, f + DP_HDRS_LEN, sizeof(h));
	for (unsigned i = 0; i < WEFT_DP_LOCAL_MAX; i++) {
		struct weft_dp_local *l = rcu_dereference(t->slot[i]);
		if (l != NULL && l->client_id == h.client_id)
			return l;
	}
	return NULL;
}

/* Hands m (a frame to bind_ip:local_port) to its local client. */
static void deliver(struct dp_locals *t, struct rte_mbuf *m)
{
	struct weft_dp_local *l = claimant(t, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);
	if (l == NULL) {
		__atomic_fetch_add(&t->unclaimed, 1, __ATOMIC_RELAXED);
		rte_pktmbuf_free(m);
	} else if (rte_ring_enqueue(l->rx, m) != 0) {
		__atomic_fetch_add(&t->full, 1, __ATOMIC_RELAXED);
		rte_pktmbuf_free(m);
	} else {
		__atomic_fetch_add(&t->delivered, 1, __ATOMIC_RELAXED);
	}
}

static bool to_self(const struct weft_dp *dp, const uint8_t *f, uint32_t len)
{
	uint32_t dst;
	if (len < DP_HDRS_LEN || f[12] != 0x08 || f[13] != 0x00)
		return false;
	memcpy(&dst, f + DP_ETH_HLEN + 16, 4);
	return dst == dp->bind_ip;
}

bool dp_local_intercept(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_locals *t = lc->dp->locals;
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	if (!to_self(lc->dp, f, m->data_len))
		return false;
	deliver(t, m);
	return true;
}

bool dp_local_rx(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_locals *t = lc->dp->locals;
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	if (t == NULL || claimant(t, f, m->data_len) == NULL)
		return false;
	if (unlikely(lc->dp->auth != NULL) && !dp_auth_local_rx(lc, m)) {
		rte_pktmbuf_free(m); /* refused (counted): not from a key holder */
		return true;
	}
	deliver(t, m);
	return true;
}

unsigned dp_local_drain(struct dp_lcore *lc, struct rte_mbuf **self, unsigned max)
{
	struct dp_locals *t = lc->dp->locals;
	struct rte_mbuf *in[DP_BURST];
	unsigned n = rte_ring_dequeue_burst(t->out, (void **)in, max < DP_BURST ? max : DP_BURST,
					    NULL);
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		if (to_self(lc->dp, rte_pktmbuf_mtod(in[i], const uint8_t *), in[i]->data_len))
			self[k++] = in[i];
		else
			dp_tx_push(lc, in[i]);
	}
	return k;
}

/* --- the client's side ---------------------------------------------------- */

struct weft_dp_local *weft_dp_local_open(struct weft_dp *dp, uint32_t client_id)
{
	struct dp_locals *t = dp->locals;
	if (t == NULL || client_id == 0 || client_id == dp->node_client_id) {
		errno = EINVAL;
		return NULL;
	}
	struct weft_dp_local *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->dp = dp;
	l->client_id = client_id;
	weft_sec_tx_init(&l->sec_tx);
	pthread_mutex_lock(&t->lock);
	unsigned free_i = WEFT_DP_LOCAL_MAX;
	int err = 0;
	for (unsigned i = 0; i < WEFT_DP_LOCAL_MAX; i++) {
		if (t->slot[i] == NULL && free_i == WEFT_DP_LOCAL_MAX)
			free_i = i;
		if (t->slot[i] != NULL && t->slot[i]->client_id == client_id)
			err = EEXIST;
	}
	if (err == 0 && free_i == WEFT_DP_LOCAL_MAX)
		err = ENOSPC;
	if (err == 0) {
		/* A ring in plain memory (no memzone: any thread may open one). */
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "weft_lrx_%u", ++t->seq);
		ssize_t sz = rte_ring_get_memsize(LOCAL_RING);
		l->rx = sz > 0 ? aligned_alloc(RTE_CACHE_LINE_SIZE, (size_t)sz) : NULL;
		if (l->rx == NULL || rte_ring_init(l->rx, name, LOCAL_RING, RING_F_SC_DEQ) != 0) {
			free(l->rx);
			err = ENOMEM;
		} else {
			rcu_assign_pointer(t->slot[free_i], l);
			__atomic_fetch_add(&dp->n_locals, 1, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (err != 0) {
		free(l);
		errno = err;
		return NULL;
	}
	return l;
}

void weft_dp_local_close(struct weft_dp_local *l)
{
	if (l == NULL)
		return;
	struct dp_locals *t = l->dp->locals;
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < WEFT_DP_LOCAL_MAX; i++)
		if (t->slot[i] == l)
			rcu_assign_pointer(t->slot[i], NULL);
	__atomic_fetch_sub(&l->dp->n_locals, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&t->lock);
	urcu_qsbr_synchronize_rcu(); /* no lcore still holds l */
	void *m;
	while (rte_ring_dequeue(l->rx, &m) == 0)
		rte_pktmbuf_free(m);
	free(l->rx);
	free(l);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int weft_dp_local_send(struct weft_dp_local *l, uint32_t ip, uint16_t port, const void *buf,
		       size_t len)
{
	struct weft_dp *dp = l->dp;
	struct dp_locals *t = dp->locals;
	if (len > WEFT_MAX_DGRAM_LEN + WEFT_MAX_TRAILERS_LEN) /* header, slice, trailers */
		return -EMSGSIZE;
	uint8_t mac[6];
	bool self = ip == dp->bind_ip;
	if (self) {
		memcpy(mac, dp->mac, 6);
	} else if (dp->ctl == NULL || !dp_arp_lookup(dp->ctl->arp, ip, weft_dp_now_ms(dp), mac)) {
		__atomic_fetch_add(&t->unresolved, 1, __ATOMIC_RELAXED);
		if (dp->ctl == NULL)
			return -EHOSTUNREACH;
		struct rte_mbuf *a = rte_pktmbuf_alloc(dp->pool);
		uint8_t *fr = a != NULL ? (uint8_t *)rte_pktmbuf_append(a, 60) : NULL;
		if (fr != NULL) {
			dp_arp_request(fr, dp->mac, dp->bind_ip, ip);
			if (rte_ring_enqueue(t->out, a) == 0)
				a = NULL;
		}
		rte_pktmbuf_free(a);
		return 0; /* lost: the client's timeout resends it once the MAC is known */
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	if (m == NULL)
		return -ENOBUFS;
	/* To another node, with keys: sealed with the node key (dp_auth.c). */
	const struct weft_sec_key *k = !self && dp->auth != NULL && len >= sizeof(struct weft_wire_hdr)
					       ? dp_auth_node_key(dp->auth)
					       : NULL;
	size_t wire_len = k != NULL ? len + WEFT_SEC_TRAILER_LEN : len;
	if (wire_len > WEFT_MAX_DGRAM_LEN + WEFT_MAX_TRAILERS_LEN) { /* one 1500-byte MTU */
		rte_pktmbuf_free(m);
		return -EMSGSIZE;
	}
	uint32_t frame = DP_HDRS_LEN + (uint32_t)wire_len;
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)frame);
	if (f == NULL) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	memcpy(f, mac, 6);
	memcpy(f + 6, dp->mac, 6);
	wr16(f + 12, 0x0800);
	uint8_t *iph = f + DP_ETH_HLEN;
	memset(iph, 0, DP_IP_HLEN);
	iph[0] = 0x45;
	wr16(iph + 2, (uint16_t)(DP_IP_HLEN + DP_UDP_HLEN + wire_len));
	wr16(iph + 4, l->ip_id++);
	wr16(iph + 6, 0x4000); /* DF */
	iph[8] = 64;
	iph[9] = 17;
	memcpy(iph + 12, &dp->bind_ip, 4);
	memcpy(iph + 16, &ip, 4);
	dp_ipv4_finish(iph);
	uint8_t *udp = iph + DP_IP_HLEN;
	memcpy(udp, &t->port, 2);
	memcpy(udp + 2, &port, 2);
	wr16(udp + 4, (uint16_t)(DP_UDP_HLEN + wire_len));
	wr16(udp + 6, 0);
	memcpy(udp + DP_UDP_HLEN, buf, len);
	if (k != NULL)
		weft_sec_seal(k, &l->sec_tx, weft_sec_now_ms(), true, udp + DP_UDP_HLEN, len);
	if (rte_ring_enqueue(t->out, m) != 0) {
		rte_pktmbuf_free(m);
		__atomic_fetch_add(&t->full, 1, __ATOMIC_RELAXED);
		return 0; /* counted as lost: the client retransmits */
	}
	__atomic_fetch_add(&t->sent, 1, __ATOMIC_RELAXED);
	return 0;
}

ssize_t weft_dp_local_recv(struct weft_dp_local *l, void *buf, size_t cap, uint32_t *ip,
			   uint16_t *port, int timeout_ms)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	uint32_t backoff = LOCAL_POLL_MIN_US;
	for (;;) {
		void *p;
		if (rte_ring_dequeue(l->rx, &p) == 0) {
			struct rte_mbuf *m = p;
			const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
			size_t n = m->data_len - DP_HDRS_LEN;
			if (n > cap)
				n = cap;
			memcpy(buf, f + DP_HDRS_LEN, n);
			memcpy(ip, f + DP_ETH_HLEN + 12, 4);
			memcpy(port, f + DP_ETH_HLEN + DP_IP_HLEN, 2);
			rte_pktmbuf_free(m);
			return (ssize_t)n;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t spent = (now.tv_sec - start.tv_sec) * 1000 +
				(now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= timeout_ms)
			return 0;
		struct timespec ts = {0, (long)backoff * 1000};
		nanosleep(&ts, NULL);
		backoff = backoff * 2 > LOCAL_POLL_MAX_US ? LOCAL_POLL_MAX_US : backoff * 2;
	}
}

void dp_local_stats(struct dp_locals *t, uint64_t out[5])
{
	out[0] = __atomic_load_n(&t->sent, __ATOMIC_RELAXED);
	out[1] = __atomic_load_n(&t->delivered, __ATOMIC_RELAXED);
	out[2] = __atomic_load_n(&t->unclaimed, __ATOMIC_RELAXED);
	out[3] = __atomic_load_n(&t->full, __ATOMIC_RELAXED);
	out[4] = __atomic_load_n(&t->unresolved, __ATOMIC_RELAXED);
}
