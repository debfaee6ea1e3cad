/*
 * msg/ds.c — the two containers msg/ builds on: an indexed binary min-heap
 * (O(log n) push, remove of any item, O(1) top) and an open-addressing
 * u64 -> pointer map (linear probing, backward-shift deletion, load <= 1/2).
 *
 * Invariants:
 *  - heap: item a[i] stores i at its idx_off; an item out of the heap
 *    stores HEAP_NONE. push never allocates (msg_heap_reserve first).
 *  - idmap: an empty slot has vals[i] == NULL; every key sits in the run of
 *    occupied slots starting at its home slot; put never allocates
 *    (msg_idmap_reserve first).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

#include "msg_internal.h"

static inline uint32_t *hidx(const struct heap *h, void *x)
{
	return (uint32_t *)((char *)x + h->idx_off);
}

void msg_heap_init(struct heap *h, bool (*less)(const void *, const void *), size_t idx_off)
{
	h->a = NULL;
	h->n = h->cap = 0;
	h->less = less;
	h->idx_off = idx_off;
}

int msg_heap_reserve(struct heap *h, uint32_t cap)
{
	if (cap <= h->cap)
		return 0;
	uint32_t nc = h->cap ? h->cap : 16;
	while (nc < cap)
		nc *= 2;
	void **a = realloc(h->a, (size_t)nc * sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	h->a = a;
	h->cap = nc;
	return 0;
}

static void place(struct heap *h, uint32_t i, void *x)
{
	h->a[i] = x;
	*hidx(h, x) = i;
}

static void sift_up(struct heap *h, uint32_t i)
{
	void *x = h->a[i];
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!h->less(x, h->a[p]))
			break;
		place(h, i, h->a[p]);
		i = p;
	}
	place(h, i, x);
}

static void sift_down(struct heap *h, uint32_t i)
{
	void *x = h->a[i];
	for (;;) {
		uint32_t l = 2 * i + 1, m = i;
		void *best = x;
		if (l < h->n && h->less(h->a[l], best)) {
			m = l;
			best = h->a[l];
		}
		if (l + 1 < h->n && h->less(h->a[l + 1], best))
			m = l + 1;
		if (m == i)
			break;
		place(h, i, h->a[m]);
		i = m;
	}
	place(h, i, x);
}

void msg_heap_push(struct heap *h, void *x)
{
	h->a[h->n] = x;
	*hidx(h, x) = h->n;
	h->n++;
	sift_up(h, h->n - 1);
}

void *msg_heap_top(const struct heap *h)
{
	return h->n ? h->a[0] : NULL;
}

void msg_heap_remove(struct heap *h, void *x)
{
	uint32_t i = *hidx(h, x);
	if (i == HEAP_NONE || i >= h->n || h->a[i] != x)
		return;
	*hidx(h, x) = HEAP_NONE;
	h->n--;
	if (i == h->n)
		return;
	void *y = h->a[h->n];
	place(h, i, y);
	sift_down(h, i);
	if (*hidx(h, y) == i)
		sift_up(h, i);
}

void msg_heap_free(struct heap *h)
{
	free(h->a);
	h->a = NULL;
	h->n = h->cap = 0;
}

/* --- idmap ----------------------------------------------------------------- */

static inline uint32_t slot_of(uint64_t k, uint32_t cap)
{
	uint64_t x = k * 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return (uint32_t)x & (cap - 1);
}

void *msg_idmap_get(const struct idmap *m, uint64_t k)
{
	if (m->cap == 0)
		return NULL;
	for (uint32_t i = slot_of(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->vals[i] == NULL)
			return NULL;
		if (m->keys[i] == k)
			return m->vals[i];
	}
}

static void raw_put(uint64_t *keys, void **vals, uint32_t cap, uint64_t k, void *v)
{
	uint32_t i = slot_of(k, cap);
	while (vals[i] != NULL)
		i = (i + 1) & (cap - 1);
	keys[i] = k;
	vals[i] = v;
}

int msg_idmap_reserve(struct idmap *m, uint32_t n)
{
	if ((uint64_t)n * 2 <= m->cap)
		return 0;
	uint32_t nc = m->cap ? m->cap : 16;
	while ((uint64_t)n * 2 > nc)
		nc *= 2;
	uint64_t *keys = malloc((size_t)nc * sizeof(*keys));
	void **vals = calloc(nc, sizeof(*vals));
	if (keys == NULL || vals == NULL) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < m->cap; i++)
		if (m->vals[i] != NULL)
			raw_put(keys, vals, nc, m->keys[i], m->vals[i]);
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = nc;
	return 0;
}

void msg_idmap_put(struct idmap *m, uint64_t k, void *v)
{
	raw_put(m->keys, m->vals, m->cap, k, v);
	m->n++;
}

void *msg_idmap_del(struct idmap *m, uint64_t k)
{
	if (m->cap == 0)
		return NULL;
	uint32_t mask = m->cap - 1, i = slot_of(k, m->cap);
	while (m->vals[i] != NULL && m->keys[i] != k)
		i = (i + 1) & mask;
	void *v = m->vals[i];
	if (v == NULL)
		return NULL;
	m->vals[i] = NULL;
	m->n--;
	/* backward shift: move later members of the run into the hole when
	 * their home slot is not between the hole and them */
	for (uint32_t j = (i + 1) & mask; m->vals[j] != NULL; j = (j + 1) & mask) {
		uint32_t home = slot_of(m->keys[j], m->cap);
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		m->keys[i] = m->keys[j];
		m->vals[i] = m->vals[j];
		m->vals[j] = NULL;
		i = j;
	}
	return v;
}

void msg_idmap_free(struct idmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = 0;
}
