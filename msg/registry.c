/*
 * msg/registry.c — name -> destination: lock-free find, create and stop
 * under a mutex; a destination's life cycle (new, stop, free after a grace
 * period) and identity.
 *
 * The map is a liburcu cds_lfht (QSBR flavour) keyed by XXH3-64 of the name,
 * fixed-size (WEFT_MSG_DESTS_MAX buckets, no resize worker), as in
 * cache/registry.c.
 *
 * Invariants:
 *  - creation holds reg->lock and re-checks the name under it, so a name
 *    maps to at most one destination; a node is added fully initialised;
 *  - a queue "/queue/N" is created with its DLQ "/queue/N.dlq" (one stored
 *    beyond WEFT_MAX_NAME_LEN when N is long: reachable through
 *    weft_dest_dlq only); a DLQ never has a DLQ;
 *  - stop marks the destination stopped under its lock (every later call on
 *    it is a no-op or -ENOENT: lcores may still hold the pointer until their
 *    next quiescent state), unlinks it and frees it with urcu_qsbr_call_rcu;
 *    a queue's DLQ goes with it. A DLQ stopped by name while its queue
 *    exists is emptied instead (it lives as long as its queue).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jemalloc/jemalloc.h>
#include <xxhash.h>

#include "msg_internal.h"

struct weft_msg_reg {
	struct cds_lfht *ht;
	pthread_mutex_t lock;
	unsigned count; /* under lock; read atomically */
	uint16_t id_tag;
};

void weft_msg_reg_set_tag(struct weft_msg_reg *reg, uint16_t tag)
{
	reg->id_tag = tag & WEFT_MSG_ID_TAG_MASK;
}

struct name_key {
	const char *name;
	size_t len;
};

static bool enter(void)
{
	if (urcu_qsbr_read_ongoing())
		return false;
	urcu_qsbr_thread_online();
	return true;
}

static void leave(bool went_online)
{
	if (went_online)
		urcu_qsbr_thread_offline();
}

static int name_match(struct cds_lfht_node *node, const void *key)
{
	const struct weft_dest *d = caa_container_of(node, struct weft_dest, node);
	const struct name_key *k = key;
	return d->name_len == k->len && memcmp(d->name, k->name, k->len) == 0;
}

struct weft_msg_reg *weft_msg_reg_create(void)
{
	struct weft_msg_reg *reg = calloc(1, sizeof(*reg));
	if (reg == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	reg->ht = cds_lfht_new_flavor(WEFT_MSG_DESTS_MAX, WEFT_MSG_DESTS_MAX, 0, 0,
				      &urcu_qsbr_flavor, NULL);
	if (reg->ht == NULL) {
		free(reg);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&reg->lock, NULL);
	return reg;
}

struct weft_dest *msg_dest_new(const char *name, size_t len, enum weft_dest_kind kind,
			   const struct weft_dest_opts *o)
{
	struct weft_dest *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	pthread_spin_init(&d->lock, PTHREAD_PROCESS_PRIVATE);
	memcpy(d->name, name, len);
	d->name_len = len;
	d->hash = XXH3_64bits(name, len);
	size_t rl = weft_wire_dest_route_len(name, len);
	d->route_hash = XXH3_64bits(name, rl);
	d->is_dlq = kind == WEFT_DEST_QUEUE && rl < len;
	d->kind = kind;
	weft_dest_opts_from_wire(NULL, &d->opts);
	if (o != NULL) {
		d->opts.default_ttl_ms = o->default_ttl_ms;
		if (o->max_depth)
			d->opts.max_depth = o->max_depth;
		if (o->max_deliveries)
			d->opts.max_deliveries = o->max_deliveries;
		if (o->visibility_ms)
			d->opts.visibility_ms = o->visibility_ms;
		if (o->max_bytes)
			d->opts.max_bytes = o->max_bytes;
	}
	d->role = WEFT_ROLE_PRIMARY;
	msg_mq_init(&d->q, d);
	cds_lfht_node_init(&d->node);
	return d;
}

void msg_dest_free(struct weft_dest *d)
{
	for (uint32_t i = 0; i < d->waiters.n; i++)
		free(d->waiters.a[i]);
	d->waiters.n = 0;
	msg_heap_free(&d->waiters);
	msg_mq_fini(&d->q);
	msg_topic_fini(d);
	pthread_spin_destroy(&d->lock);
	free(d);
}

static void dest_free_cb(struct rcu_head *head)
{
	msg_dest_free(caa_container_of(head, struct weft_dest, rcu));
}

void weft_msg_reg_destroy(struct weft_msg_reg *reg)
{
	if (reg == NULL)
		return;
	for (;;) {
		struct cds_lfht_iter it;
		cds_lfht_first(reg->ht, &it);
		struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
		if (node == NULL)
			break;
		cds_lfht_del(reg->ht, node);
		msg_dest_free(caa_container_of(node, struct weft_dest, node));
	}
	cds_lfht_destroy(reg->ht, NULL);
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

static struct weft_dest *lookup(struct weft_msg_reg *reg, const char *name, size_t len)
{
	struct name_key k = {name, len};
	struct cds_lfht_iter it;
	cds_lfht_lookup(reg->ht, XXH3_64bits(name, len), name_match, &k, &it);
	struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct weft_dest, node) : NULL;
}

struct weft_dest *weft_msg_find(struct weft_msg_reg *reg, const char *name, size_t len)
{
	if (reg == NULL || name == NULL || len == 0 || len > sizeof(((struct weft_dest *)0)->name))
		return NULL;
	return lookup(reg, name, len);
}

/* Creates name (and a queue's DLQ) under reg->lock. */
static int create_locked(struct weft_msg_reg *reg, const char *name, size_t len,
			 enum weft_dest_kind kind, const struct weft_dest_opts *o,
			 struct weft_dest **out)
{
	struct weft_dest *d = msg_dest_new(name, len, kind, o);
	if (d == NULL)
		return -ENOMEM;
	d->id_tag = reg->id_tag;
	struct weft_dest *dlq = NULL;
	bool new_dlq = false;
	if (kind == WEFT_DEST_QUEUE && !d->is_dlq) {
		char dn[sizeof(d->name)];
		memcpy(dn, name, len);
		memcpy(dn + len, ".dlq", 4);
		dlq = lookup(reg, dn, len + 4);
		if (dlq == NULL) {
			if (reg->count + 2 > WEFT_MSG_DESTS_MAX) {
				msg_dest_free(d);
				return -ENOSPC;
			}
			dlq = msg_dest_new(dn, len + 4, kind, &d->opts);
			if (dlq == NULL) {
				msg_dest_free(d);
				return -ENOMEM;
			}
			dlq->id_tag = reg->id_tag;
			new_dlq = true;
		}
	}
	if (reg->count + 1 > WEFT_MSG_DESTS_MAX) {
		msg_dest_free(d);
		return -ENOSPC;
	}
	d->dlq = dlq;
	if (new_dlq) {
		cds_lfht_add(reg->ht, dlq->hash, &dlq->node);
		__atomic_store_n(&reg->count, reg->count + 1, __ATOMIC_RELAXED);
	}
	cds_lfht_add(reg->ht, d->hash, &d->node);
	__atomic_store_n(&reg->count, reg->count + 1, __ATOMIC_RELAXED);
	*out = d;
	return 0;
}

int weft_msg_open(struct weft_msg_reg *reg, const char *name, size_t len,
		  const struct weft_dest_opts *o, struct weft_dest **out)
{
	enum weft_dest_kind kind = weft_dest_kind_of(name, len);
	if (reg == NULL || out == NULL || kind == WEFT_DEST_INVALID)
		return -EINVAL;
	bool on = enter();
	struct weft_dest *d = lookup(reg, name, len);
	int rc = 0;
	if (d == NULL) {
		pthread_mutex_lock(&reg->lock);
		d = lookup(reg, name, len);
		if (d == NULL)
			rc = create_locked(reg, name, len, kind, o, &d);
		pthread_mutex_unlock(&reg->lock);
	}
	leave(on);
	if (rc == 0)
		*out = d;
	return rc;
}

void weft_msg_foreach(struct weft_msg_reg *reg, void (*fn)(void *ctx, struct weft_dest *d),
		      void *ctx)
{
	bool on = enter();
	struct cds_lfht_iter it;
	/* not cds_lfht_for_each_entry: it forms container_of(NULL) at the end */
	for (cds_lfht_first(reg->ht, &it); cds_lfht_iter_get_node(&it) != NULL;
	     cds_lfht_next(reg->ht, &it))
		fn(ctx, caa_container_of(cds_lfht_iter_get_node(&it), struct weft_dest, node));
	leave(on);
}

unsigned weft_msg_count(struct weft_msg_reg *reg)
{
	return __atomic_load_n(&reg->count, __ATOMIC_RELAXED);
}

/* Under d's lock: answers every waiter NOT_FOUND and drops the state. */
static void stop_state(struct weft_dest *d, bool keep, const struct weft_msg_sink *s)
{
	struct waiter *w;
	while ((w = msg_heap_top(&d->waiters)) != NULL)
		msg_dest_answer_waiter_empty(d, w, WEFT_ST_NOT_FOUND, 0, s);
	msg_dest_drop_state(d, WEFT_ST_NOT_FOUND, false, s);
	if (!keep) {
		d->stopped = true;
		msg_topic_fini(d);
	}
}

/* d is stopped: out of the map, freed after a grace period. */
static void unlink_retire(struct weft_msg_reg *reg, struct weft_dest *d)
{
	cds_lfht_del(reg->ht, &d->node);
	__atomic_store_n(&reg->count, reg->count - 1, __ATOMIC_RELAXED);
	urcu_qsbr_call_rcu(&d->rcu, dest_free_cb);
}

int weft_msg_stop(struct weft_msg_reg *reg, const char *name, size_t len,
		  const struct weft_msg_sink *s)
{
	if (reg == NULL || name == NULL || len == 0 || len > WEFT_MAX_NAME_LEN + 4)
		return -ENOENT;
	bool on = enter();
	pthread_mutex_lock(&reg->lock);
	struct weft_dest *d = lookup(reg, name, len);
	int rc = 0;
	if (d == NULL) {
		rc = -ENOENT;
	} else if (d->is_dlq && lookup(reg, name, weft_wire_dest_route_len(name, len)) != NULL) {
		weft_dest_lock(d);
		stop_state(d, true, s);
		weft_dest_unlock(d);
	} else {
		weft_dest_lock(d);
		stop_state(d, false, s);
		weft_dest_unlock(d);
		if (d->dlq != NULL) {
			weft_dest_lock(d->dlq);
			stop_state(d->dlq, false, s);
			weft_dest_unlock(d->dlq);
			unlink_retire(reg, d->dlq);
		}
		unlink_retire(reg, d);
	}
	pthread_mutex_unlock(&reg->lock);
	leave(on);
	return rc;
}

void weft_dest_lock(struct weft_dest *d)
{
	pthread_spin_lock(&d->lock);
}

void weft_dest_unlock(struct weft_dest *d)
{
	pthread_spin_unlock(&d->lock);
}

const char *weft_dest_name(const struct weft_dest *d, size_t *len)
{
	if (len != NULL)
		*len = d->name_len;
	return d->name;
}

enum weft_dest_kind weft_dest_kind(const struct weft_dest *d)
{
	return d->kind;
}

const struct weft_dest_opts *weft_dest_get_opts(const struct weft_dest *d)
{
	return &d->opts;
}

uint64_t weft_dest_route_hash(const struct weft_dest *d)
{
	return d->route_hash;
}

struct weft_dest *weft_dest_dlq(struct weft_dest *d)
{
	return d->dlq;
}
