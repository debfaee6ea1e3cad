/*
 * dp_arp.c — the node's ARP table (peer IPv4 -> MAC) for the cluster
 * channel, and the ARP request frame the control thread sends to fill it.
 *
 * Writers are the worker lcores (ARP requests for us, ARP replies to us,
 * gratuitous ARP for known peers, the source MAC of every cluster datagram);
 * the reader is the control thread (weft_dp_ctl_send). All of it is slow
 * path, so one rte_spinlock guards the whole table and a lookup or a write
 * scans it (capacity entries, 256 in weftd).
 *
 * Invariants: at most capacity entries; an entry is valid for ttl_ms after
 * it was last written (lookups ignore older ones: the control thread then
 * asks again with an ARP request); a full table replaces the least recently
 * written entry, so the table holds the peers heard from most recently.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_spinlock.h>

#include "dp_internal.h"

struct arp_entry {
	uint32_t ip; /* network order; 0: free */
	uint8_t mac[6];
	uint64_t written_ms;
};

struct dp_arp {
	rte_spinlock_t lock;
	unsigned capacity;
	uint64_t ttl_ms;
	struct arp_entry e[];
};

struct dp_arp *dp_arp_create(unsigned capacity, uint64_t ttl_ms)
{
	if (capacity == 0 || ttl_ms == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct dp_arp *t = calloc(1, sizeof(*t) + capacity * sizeof(t->e[0]));
	if (t == NULL)
		return NULL;
	rte_spinlock_init(&t->lock);
	t->capacity = capacity;
	t->ttl_ms = ttl_ms;
	return t;
}

void dp_arp_destroy(struct dp_arp *t)
{
	free(t);
}

bool dp_arp_learn(struct dp_arp *t, uint32_t ip, const uint8_t mac[6], uint64_t now_ms,
		  bool create)
{
	if (ip == 0)
		return false;
	bool wrote = false;
	rte_spinlock_lock(&t->lock);
	struct arp_entry *slot = NULL, *oldest = NULL;
	for (unsigned i = 0; i < t->capacity; i++) {
		struct arp_entry *e = &t->e[i];
		if (e->ip == ip) {
			slot = e;
			break;
		}
		if (oldest == NULL || e->ip == 0 ||
		    (oldest->ip != 0 && e->written_ms < oldest->written_ms))
			oldest = e;
	}
	if (slot == NULL && create)
		slot = oldest;
	if (slot != NULL) {
		slot->ip = ip;
		memcpy(slot->mac, mac, 6);
		slot->written_ms = now_ms;
		wrote = true;
	}
	rte_spinlock_unlock(&t->lock);
	return wrote;
}

bool dp_arp_lookup(struct dp_arp *t, uint32_t ip, uint64_t now_ms, uint8_t mac_out[6])
{
	bool found = false;
	rte_spinlock_lock(&t->lock);
	for (unsigned i = 0; i < t->capacity; i++) {
		const struct arp_entry *e = &t->e[i];
		if (e->ip != ip)
			continue;
		/* A clock read before another thread's write may be behind it. */
		if (now_ms < e->written_ms || now_ms - e->written_ms < t->ttl_ms) {
			memcpy(mac_out, e->mac, 6);
			found = true;
		}
		break;
	}
	rte_spinlock_unlock(&t->lock);
	return found && ip != 0;
}

unsigned dp_arp_entries(struct dp_arp *t)
{
	unsigned n = 0;
	rte_spinlock_lock(&t->lock);
	for (unsigned i = 0; i < t->capacity; i++)
		n += t->e[i].ip != 0;
	rte_spinlock_unlock(&t->lock);
	return n;
}

uint32_t dp_arp_request(uint8_t *f, const uint8_t mac[6], uint32_t src_ip, uint32_t target_ip)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	uint8_t *a = f + DP_ETH_HLEN;
	static const uint8_t fixed[8] = {0, 1, 0x08, 0x00, 6, 4, 0, 1}; /* Ethernet, IPv4, request */
	memcpy(a, fixed, 8);
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, &src_ip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, &target_ip, 4);
	memset(a + 28, 0, 60 - DP_ETH_HLEN - 28);
	return 60;
}
