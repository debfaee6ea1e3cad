/*
 * libweft operations: each public cache op validates its arguments, builds
 * its struct weft_msg (extras as wire.h defines per opcode), runs it through
 * weft_call and turns the response into out-parameters.
 *
 * Invariants: nothing is sent for invalid arguments (-WEFT_ST_INVALID_ARG);
 * a response's payload is freed on every path except when handed to the
 * caller; out-parameters are written only on success (and the version on
 * EXISTS / VERSION_MISMATCH).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

static int check_value(const void *value, size_t value_len)
{
	if (value_len > WEFT_MAX_VALUE_LEN || (value == NULL && value_len > 0))
		return -WEFT_ST_INVALID_ARG;
	return 0;
}

static int check_name(const char *name)
{
	size_t n;
	if (name == NULL)
		return -WEFT_ST_INVALID_ARG;
	n = strnlen(name, WEFT_MAX_NAME_LEN + 1);
	return n == 0 || n > WEFT_MAX_NAME_LEN ? -WEFT_ST_INVALID_ARG : 0;
}

/* The response's extras (responses carry no name or key, but skip them if
 * present). */
static const uint8_t *extras_of(const struct weft_resp *r)
{
	return r->payload + (r->head_len - r->extras_len);
}

/* Reads the weft_x_version extras; false when absent. */
static bool version_of(const struct weft_resp *r, uint64_t *version)
{
	struct weft_x_version x;
	if (r->extras_len < sizeof(x))
		return false;
	memcpy(&x, extras_of(r), sizeof(x));
	*version = x.version;
	return true;
}

static struct weft_msg keyed(uint8_t opcode, const char *cache, const void *key, size_t key_len)
{
	return (struct weft_msg){ .opcode = opcode, .name = cache, .name_len = strlen(cache),
				  .key = key, .key_len = key_len };
}

/* Runs m and returns the status for an op whose response has no body. */
static int call_status(weft_client *c, const struct weft_msg *m)
{
	struct weft_resp r;
	int rc = weft_call(c, m, &r);
	if (rc < 0)
		return rc;
	free(r.payload);
	return -(int)r.status;
}

int weft_ping(weft_client *c)
{
	if (c == NULL)
		return -WEFT_ST_INVALID_ARG;
	struct weft_msg m = { .opcode = WEFT_OP_PING };
	return call_status(c, &m);
}

/* GET: on success hands back the payload with the value moved to its start. */
static int get_payload(weft_client *c, const char *cache, const void *key, size_t key_len,
		       uint8_t **payload, size_t *len, uint64_t *version)
{
	int rc = c == NULL ? -WEFT_ST_INVALID_ARG : weft_check_name_key(cache, key, key_len);
	if (rc < 0)
		return rc;
	struct weft_msg m = keyed(WEFT_OP_GET, cache, key, key_len);
	struct weft_resp r;
	rc = weft_call(c, &m, &r);
	if (rc < 0)
		return rc;
	uint64_t v;
	if (r.status != WEFT_ST_OK) {
		rc = -(int)r.status;
	} else if (!version_of(&r, &v)) {
		rc = -WEFT_ST_PROTOCOL;
	} else {
		*len = r.msg_len - r.head_len;
		if (*len > 0)
			memmove(r.payload, r.payload + r.head_len, *len);
		if (version)
			*version = v;
		*payload = r.payload;
		return 0;
	}
	free(r.payload);
	return rc;
}

int weft_get(weft_client *c, const char *cache, const void *key, size_t key_len, void **value,
	     size_t *value_len, uint64_t *version)
{
	uint8_t *p;
	size_t len;
	int rc = get_payload(c, cache, key, key_len, &p, &len, version);
	if (rc < 0)
		return rc;
	if (len == 0) {
		free(p);
		p = NULL;
	}
	if (value)
		*value = p;
	else
		free(p);
	if (value_len)
		*value_len = len;
	return 0;
}

int weft_get_into(weft_client *c, const char *cache, const void *key, size_t key_len, void *buf,
		  size_t buf_len, size_t *value_len, uint64_t *version)
{
	uint8_t *p;
	size_t len;
	if (buf == NULL && buf_len > 0)
		return -WEFT_ST_INVALID_ARG;
	int rc = get_payload(c, cache, key, key_len, &p, &len, version);
	if (rc < 0)
		return rc;
	if (len > 0)
		memcpy(buf, p, len < buf_len ? len : buf_len);
	free(p);
	if (value_len)
		*value_len = len;
	return 0;
}

/* PUT, PUT_IF_ABSENT, REPLACE, CAS, TOUCH: the response carries the version
 * on OK, EXISTS and VERSION_MISMATCH. */
static int versioned(weft_client *c, const struct weft_msg *m, uint64_t *version)
{
	struct weft_resp r;
	uint64_t v;
	int rc = weft_call(c, m, &r);
	if (rc < 0)
		return rc;
	bool has = version_of(&r, &v);
	rc = -(int)r.status;
	if (r.status == WEFT_ST_OK && !has)
		rc = -WEFT_ST_PROTOCOL;
	else if (has && version &&
		 (r.status == WEFT_ST_OK || r.status == WEFT_ST_EXISTS ||
		  r.status == WEFT_ST_VERSION_MISMATCH))
		*version = v;
	free(r.payload);
	return rc;
}

static int write_op(weft_client *c, uint8_t opcode, const char *cache, const void *key,
		    size_t key_len, const void *value, size_t value_len,
		    const struct weft_write_opts *wo, uint64_t *version)
{
	int rc = c == NULL ? -WEFT_ST_INVALID_ARG : weft_check_name_key(cache, key, key_len);
	if (rc == 0)
		rc = check_value(value, value_len);
	if (rc < 0)
		return rc;
	struct weft_x_write x = { .ttl_ms = wo ? wo->ttl_ms : 0, .max_idle_ms = wo ? wo->max_idle_ms : 0 };
	struct weft_msg m = keyed(opcode, cache, key, key_len);
	m.extras = &x;
	m.extras_len = sizeof(x);
	m.value = value;
	m.value_len = value_len;
	return versioned(c, &m, version);
}

int weft_put(weft_client *c, const char *cache, const void *key, size_t key_len,
	     const void *value, size_t value_len, const struct weft_write_opts *wo, uint64_t *version)
{
	return write_op(c, WEFT_OP_PUT, cache, key, key_len, value, value_len, wo, version);
}

int weft_put_if_absent(weft_client *c, const char *cache, const void *key, size_t key_len,
		       const void *value, size_t value_len, const struct weft_write_opts *wo,
		       uint64_t *version)
{
	return write_op(c, WEFT_OP_PUT_IF_ABSENT, cache, key, key_len, value, value_len, wo, version);
}

int weft_replace(weft_client *c, const char *cache, const void *key, size_t key_len,
		 const void *value, size_t value_len, const struct weft_write_opts *wo,
		 uint64_t *version)
{
	return write_op(c, WEFT_OP_REPLACE, cache, key, key_len, value, value_len, wo, version);
}

int weft_touch(weft_client *c, const char *cache, const void *key, size_t key_len,
	       const struct weft_write_opts *wo, uint64_t *version)
{
	return write_op(c, WEFT_OP_TOUCH, cache, key, key_len, NULL, 0, wo, version);
}

int weft_put_fenced(weft_client *c, const char *cache, const void *key, size_t key_len,
		    const void *value, size_t value_len, const struct weft_write_opts *wo,
		    const char *singleton, uint64_t epoch, uint64_t *version)
{
	int rc = c == NULL ? -WEFT_ST_INVALID_ARG : weft_check_name_key(cache, key, key_len);
	if (rc == 0)
		rc = check_value(value, value_len);
	size_t sl = singleton != NULL ? strlen(singleton) : 0;
	if (rc == 0 && (sl == 0 || sl > WEFT_SINGLETON_NAME_MAX))
		rc = -WEFT_ST_INVALID_ARG;
	if (rc < 0)
		return rc;
	struct weft_x_fenced_write x;
	memset(&x, 0, sizeof(x));
	x.ttl_ms = wo ? wo->ttl_ms : 0;
	x.max_idle_ms = wo ? wo->max_idle_ms : 0;
	x.epoch = epoch;
	x.singleton_len = (uint8_t)sl;
	memcpy(x.singleton, singleton, sl);
	struct weft_msg m = keyed(WEFT_OP_PUT_FENCED, cache, key, key_len);
	m.extras = &x;
	m.extras_len = sizeof(x);
	m.value = value;
	m.value_len = value_len;
	return versioned(c, &m, version);
}

int weft_cas(weft_client *c, const char *cache, const void *key, size_t key_len,
	     uint64_t expected_version, const void *value, size_t value_len,
	     const struct weft_write_opts *wo, uint64_t *version)
{
	int rc = c == NULL ? -WEFT_ST_INVALID_ARG : weft_check_name_key(cache, key, key_len);
	if (rc == 0)
		rc = check_value(value, value_len);
	if (rc < 0)
		return rc;
	struct weft_x_cas x = { .expected_version = expected_version,
				.ttl_ms = wo ? wo->ttl_ms : 0,
				.max_idle_ms = wo ? wo->max_idle_ms : 0 };
	struct weft_msg m = keyed(WEFT_OP_CAS, cache, key, key_len);
	m.extras = &x;
	m.extras_len = sizeof(x);
	m.value = value;
	m.value_len = value_len;
	return versioned(c, &m, version);
}

int weft_delete(weft_client *c, const char *cache, const void *key, size_t key_len)
{
	int rc = c == NULL ? -WEFT_ST_INVALID_ARG : weft_check_name_key(cache, key, key_len);
	if (rc < 0)
		return rc;
	struct weft_msg m = keyed(WEFT_OP_DELETE, cache, key, key_len);
	return call_status(c, &m);
}

int weft_incr(weft_client *c, const char *cache, const void *key, size_t key_len, int64_t delta,
	      uint64_t ttl_ms, int64_t *new_value)
{
	int rc = c == NULL ? -WEFT_ST_INVALID_ARG : weft_check_name_key(cache, key, key_len);
	if (rc < 0)
		return rc;
	struct weft_x_incr x = { .delta = delta, .ttl_ms = ttl_ms };
	struct weft_msg m = keyed(WEFT_OP_INCR, cache, key, key_len);
	m.extras = &x;
	m.extras_len = sizeof(x);
	struct weft_resp r;
	rc = weft_call(c, &m, &r);
	if (rc < 0)
		return rc;
	struct weft_x_counter ctr;
	rc = -(int)r.status;
	if (r.status == WEFT_ST_OK) {
		if (r.extras_len < sizeof(ctr)) {
			rc = -WEFT_ST_PROTOCOL;
		} else {
			memcpy(&ctr, extras_of(&r), sizeof(ctr));
			if (new_value)
				*new_value = ctr.value;
		}
	}
	free(r.payload);
	return rc;
}

int weft_open_cache(weft_client *c, const char *cache, const struct weft_open_opts *oo)
{
	int rc = c == NULL ? -WEFT_ST_INVALID_ARG : check_name(cache);
	if (rc < 0)
		return rc;
	struct weft_x_cache_opts x = { 0 };
	if (oo) {
		x.max_bytes = oo->max_bytes;
		x.max_entries = oo->max_entries;
		x.default_ttl_ms = oo->default_ttl_ms;
		x.default_max_idle_ms = oo->default_max_idle_ms;
		x.mode = oo->mode;
	}
	struct weft_msg m = { .opcode = WEFT_OP_CACHE_OPEN, .name = cache, .name_len = strlen(cache),
			      .extras = &x, .extras_len = sizeof(x) };
	return call_status(c, &m);
}

int weft_text_op(weft_client *c, uint8_t opcode, char **text, size_t *len)
{
	if (c == NULL || text == NULL)
		return -WEFT_ST_INVALID_ARG;
	struct weft_msg m = { .opcode = opcode };
	struct weft_resp r;
	int rc = weft_call(c, &m, &r);
	if (rc < 0)
		return rc;
	if (r.status != WEFT_ST_OK) {
		free(r.payload);
		return -(int)r.status;
	}
	size_t n = r.msg_len - r.head_len;
	char *t = malloc(n + 1);
	if (t == NULL) {
		free(r.payload);
		c->last_errno = ENOMEM;
		return -WEFT_ST_IO;
	}
	if (n > 0)
		memcpy(t, r.payload + r.head_len, n);
	t[n] = '\0';
	free(r.payload);
	*text = t;
	if (len)
		*len = n;
	return 0;
}

int weft_apps(weft_client *c, char **text, size_t *len)
{
	return weft_text_op(c, WEFT_OP_APPS, text, len);
}

int weft_stats(weft_client *c, char **text, size_t *len)
{
	return weft_text_op(c, WEFT_OP_STATS, text, len);
}

int weft_members(weft_client *c, char **text, size_t *len)
{
	return weft_text_op(c, WEFT_OP_MEMBERS, text, len);
}
