/*
 * cache/registry.c — name -> cache: lock-free find, create under a mutex.
 *
 * The map is a liburcu cds_lfht (QSBR flavour) keyed by XXH3-64 of the
 * name; it is fixed-size (no resize worker): caches are few and long-lived.
 *
 * Invariants:
 *  - Creation holds reg->lock and re-checks the name under it, so a name
 *    maps to at most one cache; the node is added fully initialised.
 *  - Caches are never removed while the registry lives (destroy frees all
 *    of them when no thread uses the registry any more).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jemalloc/jemalloc.h>
#include <urcu/rculfhash.h>

#include "cache_internal.h"

struct weft_cache_registry {
	struct cds_lfht *ht;
	pthread_mutex_t lock;
	unsigned count; /* caches created; under lock */
};

struct reg_node {
	struct cds_lfht_node node;
	struct weft_cache *c;
};

struct name_key {
	const char *name;
	size_t len;
};

/* 1..WEFT_CACHE_NAME_MAX bytes of printable ASCII, no spaces. */
static bool name_valid(const char *name, size_t len)
{
	if (name == NULL || len == 0 || len > WEFT_CACHE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] < 0x21 || name[i] > 0x7e)
			return false;
	return true;
}

static int name_match(struct cds_lfht_node *node, const void *key)
{
	const struct weft_cache *c = caa_container_of(node, struct reg_node, node)->c;
	const struct name_key *k = key;
	return c->name_len == k->len && memcmp(c->name, k->name, k->len) == 0;
}

struct weft_cache_registry *weft_cache_registry_create(void)
{
	struct weft_cache_registry *reg = calloc(1, sizeof(*reg));
	if (reg == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	/* As many buckets as caches may exist: lookups stay O(1) without
	 * resizing the table under lcores. */
	reg->ht = cds_lfht_new_flavor(WEFT_CACHE_MAX_CACHES, WEFT_CACHE_MAX_CACHES, 0, 0,
				      &urcu_qsbr_flavor, NULL);
	if (reg->ht == NULL) {
		free(reg);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&reg->lock, NULL);
	return reg;
}

void weft_cache_registry_destroy(struct weft_cache_registry *reg)
{
	if (reg == NULL)
		return;
	for (;;) {
		struct cds_lfht_iter it;
		cds_lfht_first(reg->ht, &it);
		struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
		if (node == NULL)
			break;
		struct reg_node *n = caa_container_of(node, struct reg_node, node);
		cds_lfht_del(reg->ht, node);
		weft_cache_destroy(n->c);
		free(n);
	}
	cds_lfht_destroy(reg->ht, NULL);
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

static struct weft_cache *lookup(struct weft_cache_registry *reg, const char *name,
				 size_t name_len)
{
	struct name_key k = {name, name_len};
	struct cds_lfht_iter it;
	cds_lfht_lookup(reg->ht, weft_cache_hash(name, name_len), name_match, &k, &it);
	struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct reg_node, node)->c : NULL;
}

struct weft_cache *weft_cache_find(struct weft_cache_registry *reg, const char *name,
				   size_t name_len)
{
	if (name == NULL || name_len == 0 || name_len > WEFT_CACHE_NAME_MAX)
		return NULL;
	return lookup(reg, name, name_len);
}

struct weft_cache *weft_cache_open(struct weft_cache_registry *reg, const char *name,
				   size_t name_len, const struct weft_cache_opts *opts,
				   bool *created)
{
	if (reg == NULL || !name_valid(name, name_len) || !weft_cache_opts_valid(opts)) {
		errno = EINVAL;
		return NULL;
	}
	bool on = weft_cache_enter();
	struct weft_cache *c = lookup(reg, name, name_len);
	bool made = false;
	if (c == NULL) {
		pthread_mutex_lock(&reg->lock);
		c = lookup(reg, name, name_len);
		if (c == NULL && reg->count >= WEFT_CACHE_MAX_CACHES) {
			pthread_mutex_unlock(&reg->lock);
			weft_cache_leave(on);
			errno = ENOSPC;
			return NULL;
		}
		if (c == NULL) {
			struct reg_node *n = malloc(sizeof(*n));
			c = n ? weft_cache_create(name, name_len, opts, 0) : NULL;
			if (c == NULL) {
				int err = n ? errno : ENOMEM;
				free(n);
				pthread_mutex_unlock(&reg->lock);
				weft_cache_leave(on);
				errno = err;
				return NULL;
			}
			n->c = c;
			cds_lfht_node_init(&n->node);
			cds_lfht_add(reg->ht, weft_cache_hash(name, name_len), &n->node);
			reg->count++;
			made = true;
		}
		pthread_mutex_unlock(&reg->lock);
	}
	weft_cache_leave(on);
	if (created != NULL)
		*created = made;
	return c;
}

void weft_cache_foreach(struct weft_cache_registry *reg,
			void (*fn)(struct weft_cache *c, void *arg), void *arg)
{
	bool on = weft_cache_enter();
	struct cds_lfht_iter it;
	struct reg_node *n;
	cds_lfht_for_each_entry(reg->ht, &it, n, node)
		fn(n->c, arg);
	weft_cache_leave(on);
}
