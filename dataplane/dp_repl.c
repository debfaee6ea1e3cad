/*
 * dp_repl.c — serving REPLICATE (wire.h): entries a primary, a writer of a
 * replicated or invalidated cache, or a rebalancing node sends to this one.
 *
 * The cache is looked up by name and created with the sender's options
 * (its mode included) when absent, so every node treats it alike. PUT and
 * DELETE entries apply only when newer than what this node holds (versions
 * order a key's writes across nodes; a retransmission or a late state
 * transfer never undoes a newer write); INVALIDATE removes the entry
 * whatever its version. Counted per lcore (repl_applied, repl_stale).
 *
 * Caller: the worker lcore, an online QSBR reader; req validated by
 * dp_req_validate (entry list well formed, WEFT_F_NODE set).
 */
#include <errno.h>
#include <string.h>

#include "dp_internal.h"

static struct weft_cache *repl_cache(struct dp_lcore *lc, const struct dp_req *req,
				     uint16_t *st)
{
	const char *name = (const char *)req->name;
	struct weft_cache *c = weft_cache_find(lc->dp->reg, name, req->hdr.name_len);
	if (c != NULL)
		return c;
	struct weft_x_replicate x;
	memcpy(&x, req->extras, sizeof(x));
	struct weft_cache_opts o = {.mode = x.opts.mode, .max_bytes = x.opts.max_bytes,
				    .max_entries = x.opts.max_entries,
				    .default_ttl_ms = x.opts.default_ttl_ms,
				    .default_max_idle_ms = x.opts.default_max_idle_ms};
	c = weft_cache_open(lc->dp->reg, name, req->hdr.name_len, &o, NULL);
	if (c == NULL)
		*st = errno == ENOMEM || errno == ENOSPC ? WEFT_ST_NO_MEMORY : WEFT_ST_BAD_CACHE_OPTS;
	return c;
}

void dp_repl_serve(struct dp_lcore *lc, const struct dp_req *req)
{
	uint16_t st = WEFT_ST_OK;
	struct weft_cache *c = repl_cache(lc, req, &st);
	struct weft_x_repl_ack ack = {0, 0};
	uint32_t pos = 0;
	struct weft_repl_entry e;
	const uint8_t *k, *v;
	while (c != NULL && st == WEFT_ST_OK &&
	       dp_repl_next(req->value, req->value_len, &pos, &e, &k, &v)) {
		struct weft_cache_key key = {k, e.key_len, weft_cache_hash(k, e.key_len)};
		int rc;
		if (e.kind == WEFT_REPL_PUT) {
			struct weft_cache_image img = {
				.value = v, .value_len = e.value_len, .version = e.version,
				.ttl_ms = e.ttl_ms == WEFT_TTL_NONE ? WEFT_CACHE_NO_EXPIRY : e.ttl_ms,
				.max_idle_ms = e.max_idle_ms};
			rc = weft_cache_apply_put(c, &key, &img, lc->now_ms);
		} else if (e.kind == WEFT_REPL_DELETE) {
			rc = weft_cache_apply_delete(c, &key, e.version, lc->now_ms);
		} else {
			rc = weft_cache_delete(c, &key, lc->now_ms, NULL);
		}
		if (rc == 0 || (rc == -ENOENT && e.kind != WEFT_REPL_PUT))
			ack.applied++;
		else if (rc == -ESTALE)
			ack.stale++;
		else
			st = dp_status_of(rc, WEFT_OP_PUT, e.key_len);
	}
	lc->c.repl_applied += ack.applied;
	lc->c.repl_stale += ack.stale;
	if (dp_is_error_status(st))
		lc->c.errors++;
	dp_answer(lc, req, st, &ack, st == WEFT_ST_OK ? sizeof(ack) : 0, NULL, 0);
}
