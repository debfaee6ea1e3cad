/*
 * ctl_services_env.c — ctl_services_create: the services over the real
 * node. The environment (struct sv_env) it builds:
 *   submit  the runtime's app pool (ctl_apps_submit);
 *   view    weft_dp_members_copy of the node's dataplane;
 *   store   the claim and mark caches ("weft.singletons", "weft.jobs",
 *           both opened once with mode replicated, no TTL) through the
 *           services thread's in-node client (ctl_apps_thread_client):
 *           reads with weft_get_into; writes with weft_put_if_absent
 *           (expected version 0) or weft_cas;
 * The status is not published here: the runtime composes the APPS text
 * (its "app" lines and ctl_services_status) and publishes it
 * (weft_dp_apps_publish).
 * Singletons wait SV_JOIN_GRACE_MS after creation before they run on a
 * node that sees itself alone (it may be about to join a cluster).
 * Store calls run on the services thread only (one client, one thread).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "ctl_services_internal.h"

struct env {
	struct ctl_apps *rt;
	struct weft_dp *dp;
	bool open_claims, open_jobs;
	int last_err; /* last failure logged (logged once per change) */
};

static struct env *env_of(void *ctx)
{
	return ctx;
}

static bool env_deployed(void *ctx, const weft_app *app)
{
	struct env *e = env_of(ctx);
	return ctl_apps_deployed(e->rt, app->name, weft_dp_now_ms(e->dp));
}

static int env_submit(void *ctx, void (*fn)(void *arg), void *arg)
{
	return ctl_apps_submit(env_of(ctx)->rt, fn, arg);
}

static struct weft_dp_members *env_view(void *ctx)
{
	return weft_dp_members_copy(env_of(ctx)->dp);
}

static void env_log(struct env *e, const char *what, const char *cache, int rc)
{
	if (rc == e->last_err)
		return;
	e->last_err = rc;
	if (rc != 0)
		weft_ctl_log(WEFT_LOG_WARN, "services: %s %s: %s", what, cache, weft_strerror(rc));
	else
		weft_ctl_log(WEFT_LOG_INFO, "services: %s %s: working again", what, cache);
}

/* The services thread's client, with cache opened (replicated). */
static weft_client *env_client(struct env *e, const char *cache)
{
	bool *opened = strcmp(cache, SV_CACHE_CLAIMS) == 0 ? &e->open_claims : &e->open_jobs;
	weft_client *c = ctl_apps_thread_client(e->rt);
	int rc;

	if (c == NULL) {
		env_log(e, "no in-node client for", cache, -WEFT_ST_IO);
		return NULL;
	}
	if (!*opened) {
		struct weft_open_opts oo = {.mode = WEFT_MODE_REPLICATED};
		rc = weft_open_cache(c, cache, &oo);
		env_log(e, "opening", cache, rc);
		if (rc != 0)
			return NULL;
		*opened = true;
	}
	return c;
}

static int env_get(void *ctx, const char *cache, const char *key, void *buf, size_t cap,
		   size_t *len, uint64_t *version)
{
	struct env *e = env_of(ctx);
	weft_client *c = env_client(e, cache);
	int rc;

	if (c == NULL)
		return -EIO;
	rc = weft_get_into(c, cache, key, strlen(key), buf, cap, len, version);
	if (rc == -WEFT_ST_NOT_FOUND)
		return -ENOENT;
	env_log(e, "reading", cache, rc);
	return rc == 0 ? 0 : rc == -WEFT_ST_TIMEOUT ? -ETIMEDOUT : -EIO;
}

static int env_cas(void *ctx, const char *cache, const char *key, uint64_t expected,
		   const void *value, size_t len, uint64_t *new_version)
{
	struct env *e = env_of(ctx);
	weft_client *c = env_client(e, cache);
	int rc;

	if (c == NULL)
		return -EIO;
	if (expected == 0)
		rc = weft_put_if_absent(c, cache, key, strlen(key), value, len, NULL, new_version);
	else
		rc = weft_cas(c, cache, key, strlen(key), expected, value, len, NULL, new_version);
	if (rc == -WEFT_ST_EXISTS || rc == -WEFT_ST_VERSION_MISMATCH || rc == -WEFT_ST_NOT_FOUND)
		return -ECANCELED;
	env_log(e, "writing", cache, rc);
	return rc == 0 ? 0 : rc == -WEFT_ST_TIMEOUT ? -ETIMEDOUT : -EIO;
}

struct ctl_services *ctl_services_create(struct ctl_apps *rt, struct weft_dp *dp,
					 const uint8_t node_id[16])
{
	struct env *e;

	if (rt == NULL || dp == NULL || node_id == NULL) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->rt = rt;
	e->dp = dp;
	struct sv_env env = {
		.ctx = e,
		.submit = env_submit,
		.view = env_view,
		.store = {.ctx = e, .get = env_get, .cas = env_cas},
		.deployed = env_deployed,
		.fini = free,
		.join_grace_ms = SV_JOIN_GRACE_MS,
	};
	return sv_create(&env, rt, node_id); /* frees e on failure */
}
