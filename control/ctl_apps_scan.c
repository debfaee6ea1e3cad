/*
 * ctl_apps_scan.c — what should be deployed: the control thread's side of
 * the runtime, once a second (ctl_apps_tick).
 *
 * Sources, in order of precedence for a name (the first that has it wins;
 * when it loses the name the next one's copy is deployed instead):
 *   1. home/deployments/NAME.so (regular files; hidden and badly named
 *      ones ignored). A file that changed since the last tick and was
 *      modified less than a second ago is held for a tick, so a copy in
 *      progress is not loaded half-written (`mv` into the folder is
 *      picked up at once);
 *   2. cache weft.deploy.<node-name>, key NAME (or NAME.so): `weftctl -s
 *      NODE deploy FILE.so`;
 *   3. cache weft.apps, same keys: `weftctl deploy --all`.
 * The caches are read locally (weft_cache_scan + weft_cache_peek: the
 * control thread is an online QSBR reader; the value is copied before it
 * returns). A slot per name records what is loaded (or was refused): the
 * file's (mtime, size, inode) or the entry's version. When the wanted
 * source differs from it, an op goes to the pool (ctl_apps_load.c);
 * one op at a time per name, none while the previous runs.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "ctl_apps_internal.h"

#define SCAN_BUCKETS 1024u
#define SCAN_MAX_STEPS 4096u

static struct ctl_app_slot *slot_get(struct ctl_apps *rt, const char *name, size_t len)
{
	for (struct ctl_app_slot *s = rt->slots; s; s = s->next)
		if (strlen(s->name) == len && memcmp(s->name, name, len) == 0)
			return s;
	struct ctl_app_slot *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	memcpy(s->name, name, len);
	pthread_mutex_lock(&rt->mu);
	s->next = rt->slots;
	rt->slots = s;
	pthread_mutex_unlock(&rt->mu);
	return s;
}

static bool want_eq(const struct ctl_app_want *x, const struct ctl_app_want *y)
{
	return x->src == y->src && x->a == y->a && x->b == y->b && x->c == y->c;
}

static void scan_dir(struct ctl_apps *rt)
{
	char dir[CTL_APPS_PATH + 16], f[2 * CTL_APPS_PATH];
	snprintf(dir, sizeof(dir), "%s/deployments", rt->home);
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t n = strlen(e->d_name);
		if (n <= 3 || strcmp(e->d_name + n - 3, ".so") != 0 ||
		    !ctl_apps_name_valid(e->d_name, n - 3))
			continue;
		struct stat st;
		snprintf(f, sizeof(f), "%s/%s", dir, e->d_name);
		if (stat(f, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		struct ctl_app_slot *s = slot_get(rt, e->d_name, n - 3);
		if (s == NULL)
			continue;
		uint64_t mt = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
		uint64_t wall = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
		struct ctl_app_want w = {CTL_SRC_DIR, mt, (uint64_t)st.st_size, (uint64_t)st.st_ino};
		s->hold = !want_eq(&w, &s->seen) && mt + 1000000000u > wall;
		s->seen = w;
		s->want = w;
	}
	closedir(d);
}

struct scan_arg {
	struct ctl_apps *rt;
	enum ctl_app_src src;
};

static void on_entry(void *arg, const struct weft_cache_key *key,
		     const struct weft_cache_image *img)
{
	struct scan_arg *sa = arg;
	if (img->deleted)
		return;
	size_t n = key->len;
	const char *k = key->data;
	if (n > 3 && memcmp(k + n - 3, ".so", 3) == 0)
		n -= 3;
	if (!ctl_apps_name_valid(k, n))
		return;
	struct ctl_app_slot *s = slot_get(sa->rt, k, n);
	if (s == NULL || s->want.src != CTL_SRC_NONE)
		return; /* a source before this one has it */
	s->want = (struct ctl_app_want){sa->src, img->version, 0, 0};
	memcpy(s->key, key->data, key->len);
	s->key[key->len] = '\0';
}

static void scan_cache(struct ctl_apps *rt, const char *name, enum ctl_app_src src,
		       uint64_t now_ms)
{
	if (name[0] == '\0')
		return;
	struct weft_cache *c = weft_cache_find(rt->cfg.reg, name, strlen(name));
	if (c == NULL)
		return;
	struct scan_arg sa = {rt, src};
	uint64_t cur = 0;
	unsigned steps = 0;
	do
		cur = weft_cache_scan(c, cur, SCAN_BUCKETS, now_ms, on_entry, &sa);
	while (cur != 0 && ++steps < SCAN_MAX_STEPS);
}

/* Fills op with the wanted source's bytes or path. false: not now (the
 * entry changed since the scan, or no memory). */
static bool op_source(struct ctl_apps *rt, struct ctl_app_slot *s, struct ctl_app_op *op,
		      uint64_t now_ms)
{
	if (s->want.src == CTL_SRC_DIR) {
		snprintf(op->path, sizeof(op->path), "%s/deployments/%s.so", rt->home, s->name);
		return true;
	}
	if (s->want.src == CTL_SRC_NONE)
		return true;
	const char *cn = s->want.src == CTL_SRC_NODE ? rt->node_cache : "weft.apps";
	struct weft_cache *c = weft_cache_find(rt->cfg.reg, cn, strlen(cn));
	if (c == NULL)
		return false;
	size_t kl = strlen(s->key);
	struct weft_cache_key key = {s->key, (uint16_t)kl, weft_cache_hash(s->key, kl)};
	struct weft_cache_image img;
	if (weft_cache_peek(c, &key, now_ms, &img) != 0 || img.version != s->want.a)
		return false;
	op->bytes = malloc(img.value_len ? img.value_len : 1);
	if (op->bytes == NULL)
		return false;
	memcpy(op->bytes, img.value, img.value_len);
	op->len = img.value_len;
	return true;
}

bool ctl_apps_deployed(struct ctl_apps *rt, const char *name, uint64_t now_ms)
{
	pthread_mutex_lock(&rt->mu);
	struct ctl_app_slot *s = rt->slots;
	while (s != NULL && strcmp(s->name, name) != 0)
		s = s->next;
	struct ctl_app_want cur = s != NULL ? s->cur : (struct ctl_app_want){0};
	char key[sizeof(s->key)];
	if (s != NULL)
		memcpy(key, s->key, sizeof(key));
	pthread_mutex_unlock(&rt->mu);
	if (cur.src == CTL_SRC_NONE)
		return false;
	if (cur.src == CTL_SRC_DIR) {
		char path[CTL_APPS_PATH];
		snprintf(path, sizeof(path), "%s/deployments/%s.so", rt->home, name);
		return access(path, F_OK) == 0;
	}
	const char *cn = cur.src == CTL_SRC_NODE ? rt->node_cache : "weft.apps";
	struct weft_cache *c = weft_cache_find(rt->cfg.reg, cn, strlen(cn));
	if (c == NULL)
		return false;
	size_t kl = strnlen(key, sizeof(key));
	struct weft_cache_key k = {key, (uint16_t)kl, weft_cache_hash(key, kl)};
	struct weft_cache_image img;
	return weft_cache_peek(c, &k, now_ms, &img) == 0;
}

/* Submits the op that brings s to s->want. */
static void submit_op(struct ctl_apps *rt, struct ctl_app_slot *s, uint64_t now_ms)
{
	struct ctl_app_op *op = calloc(1, sizeof(*op));
	if (op == NULL)
		return;
	op->rt = rt;
	op->slot = s;
	op->want = s->want;
	if (!op_source(rt, s, op, now_ms)) {
		free(op);
		return;
	}
	pthread_mutex_lock(&rt->mu);
	s->busy = true;
	pthread_mutex_unlock(&rt->mu);
	int rc = ctl_apps_submit(rt, ctl_apps_op_run, op);
	if (rc < 0) {
		pthread_mutex_lock(&rt->mu);
		s->busy = false;
		pthread_mutex_unlock(&rt->mu);
		free(op->bytes);
		free(op);
		weft_ctl_log(WEFT_LOG_DEBUG, "app %s: deploy op not queued (%s), next tick",
			     s->name, strerror(-rc));
	}
}

void ctl_apps_reconcile(struct ctl_apps *rt, bool sources, uint64_t now_ms)
{
	for (struct ctl_app_slot *s = rt->slots; s; s = s->next) {
		s->want = (struct ctl_app_want){0};
		if (!sources)
			s->hold = false;
	}
	if (sources) {
		scan_dir(rt);
		scan_cache(rt, rt->node_cache, CTL_SRC_NODE, now_ms);
		scan_cache(rt, "weft.apps", CTL_SRC_ALL, now_ms);
	}
	for (struct ctl_app_slot **pp = &rt->slots, *s; (s = *pp) != NULL;) {
		pthread_mutex_lock(&rt->mu);
		bool busy = s->busy, loaded = s->app != NULL;
		bool drop = !busy && !loaded && s->want.src == CTL_SRC_NONE;
		if (drop)
			*pp = s->next; /* nothing loaded, nothing wanted */
		pthread_mutex_unlock(&rt->mu);
		if (drop) {
			free(s);
			continue;
		}
		if (busy || (s->hold && s->want.src == CTL_SRC_DIR)) {
			pp = &s->next;
			continue;
		}
		if (!want_eq(&s->want, &s->cur))
			submit_op(rt, s, now_ms);
		pp = &s->next;
	}
}
