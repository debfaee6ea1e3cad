/*
 * fc_register.c — weft-faults-client's register load and verify pass:
 * single-key reads, writes and CAS on a small key set, each recorded as an
 * invoke line before the call and an ok / fail / info line after it
 * (docs/history.md).
 *
 * Mapping of libweft results: 0 -> ok; a read's NOT_FOUND -> ok read KEY
 * nil; a write's or CAS's status that means "not applied" (fc_definite:
 * VERSION_MISMATCH, NOT_FOUND, EXISTS, NO_QUORUM, ...) -> fail; any other
 * (TIMEOUT, IO, BUSY, ...) -> info (outcome unknown); a failed read has no
 * effect -> fail read. A CAS first reads the key (recorded as its own
 * read), then weft_cas from the version read, recorded "cas KEY OLD NEW";
 * when the read found nothing it is weft_put_if_absent, "cas KEY nil NEW".
 * Values are "<tag>p<i>-<seq>": unique in a run. Each PROC owns its client
 * (libweft clients are not thread-safe) and has one op outstanding.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fc.h"

#define VAL_MAX 96

struct proc {
	struct fc *f;
	weft_client *c;
	char name[48];
	uint64_t seq, rs;
};

/* Reads key into val ("nil" when absent); the status; records the op. */
static int rec_read(struct proc *p, const char *key, char *val, uint64_t *ver)
{
	struct fc *f = p->f;
	char buf[VAL_MAX];
	size_t len = 0;
	fc_line(f, p->name, "invoke read %s", key);
	int rc = weft_get_into(p->c, f->a->cache, key, strlen(key), buf, sizeof(buf) - 1, &len,
			       ver);
	if (rc == 0) {
		size_t shown = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;
		for (size_t i = 0; i < shown; i++)
			if (buf[i] <= ' ' || buf[i] > '~')
				buf[i] = '?'; /* never ours: a corrupt value shows */
		buf[shown] = '\0';
		snprintf(val, VAL_MAX, "%s", shown ? buf : "(empty)");
		fc_line(f, p->name, "ok read %s %s", key, val);
		atomic_fetch_add(&f->ok, 1);
	} else if (rc == -WEFT_ST_NOT_FOUND) {
		snprintf(val, VAL_MAX, "nil");
		fc_line(f, p->name, "ok read %s nil", key);
		atomic_fetch_add(&f->ok, 1);
	} else {
		fc_line(f, p->name, "fail read %s", key);
		fc_count_status(f, rc);
		atomic_fetch_add(&f->fail, 1);
	}
	return rc;
}

static void settle(struct proc *p, const char *what, int rc)
{
	struct fc *f = p->f;
	const char *kind = rc == 0 ? "ok" : fc_definite(rc) ? "fail" : "info";
	if (rc == 0)
		fc_line(f, p->name, "ok %s", what);
	else {
		fc_line(f, p->name, "%s %s", kind, what);
		fc_count_status(f, rc);
	}
	atomic_fetch_add(rc == 0 ? &f->ok : fc_definite(rc) ? &f->fail : &f->info, 1);
}

static void do_write(struct proc *p, const char *key)
{
	char val[VAL_MAX], what[2 * VAL_MAX];
	snprintf(val, sizeof(val), "%s-%" PRIu64, p->name, p->seq++);
	snprintf(what, sizeof(what), "write %s %s", key, val);
	fc_line(p->f, p->name, "invoke %s", what);
	int rc = weft_put(p->c, p->f->a->cache, key, strlen(key), val, strlen(val), NULL, NULL);
	settle(p, what, rc);
}

static void do_cas(struct proc *p, const char *key)
{
	char old[VAL_MAX], val[VAL_MAX], what[3 * VAL_MAX];
	uint64_t ver = 0;
	int rc = rec_read(p, key, old, &ver);
	if (rc != 0 && rc != -WEFT_ST_NOT_FOUND)
		return;
	if (!fc_take_op(p->f))
		return;
	snprintf(val, sizeof(val), "%s-%" PRIu64, p->name, p->seq++);
	snprintf(what, sizeof(what), "cas %s %s %s", key, old, val);
	fc_line(p->f, p->name, "invoke %s", what);
	const char *cache = p->f->a->cache;
	if (rc == -WEFT_ST_NOT_FOUND)
		rc = weft_put_if_absent(p->c, cache, key, strlen(key), val, strlen(val), NULL, NULL);
	else
		rc = weft_cas(p->c, cache, key, strlen(key), ver, val, strlen(val), NULL, NULL);
	settle(p, what, rc);
}

static void reg_proc(struct fc *f, unsigned i)
{
	struct proc p = { .f = f, .c = fc_connect(f, i) };
	snprintf(p.name, sizeof(p.name), "%sp%u", f->a->tag, i);
	p.rs = (f->a->seed ^ ((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull)) | 1;
	while (!fc_ending(f) && fc_take_op(f)) {
		char key[16], val[VAL_MAX];
		uint64_t ver;
		snprintf(key, sizeof(key), "k%u", (unsigned)(fc_rand(&p.rs) % f->a->keys));
		unsigned r = (unsigned)(fc_rand(&p.rs) % 100);
		if (r < 40)
			rec_read(&p, key, val, &ver);
		else if (r < 75)
			do_write(&p, key);
		else
			do_cas(&p, key);
		if (f->a->pace_ms)
			fc_pause_ns((uint64_t)f->a->pace_ms * 1000000u);
	}
	weft_client_close(p.c);
}

int fc_register_run(struct fc *f)
{
	fc_line(f, NULL, "register cache=%s procs=%u keys=%u seed=%" PRIu64, f->a->cache,
		f->a->procs, f->a->keys, f->a->seed);
	fc_run_threads(f, f->a->procs, reg_proc);
	char head[256];
	snprintf(head, sizeof(head), "REGISTER ops=%" PRIu64 " ok=%" PRIu64 " fail=%" PRIu64
		 " info=%" PRIu64 " seconds=%.1f",
		 atomic_load(&f->ok) + atomic_load(&f->fail) + atomic_load(&f->info),
		 atomic_load(&f->ok), atomic_load(&f->fail), atomic_load(&f->info),
		 (double)(fc_now_ns() - f->t0_ns) / 1e9);
	fc_summary(f, head);
	return 0;
}

/* One read of every key (up to 5 tries each while the outcome is an
 * error), appended to the history; prints the VERIFY line. */
int fc_verify_run(struct fc *f)
{
	struct proc p = { .f = f, .c = fc_connect(f, 0) };
	snprintf(p.name, sizeof(p.name), "%sverify", f->a->tag);
	uint64_t digest = 0xcbf29ce484222325ull;
	unsigned found = 0, errors = 0;
	for (unsigned k = 0; k < f->a->keys; k++) {
		char key[16], val[VAL_MAX], kv[2 * VAL_MAX];
		uint64_t ver;
		snprintf(key, sizeof(key), "k%u", k);
		int rc = -WEFT_ST_TIMEOUT;
		for (int t = 0; t < 5 && rc != 0 && rc != -WEFT_ST_NOT_FOUND; t++)
			rc = rec_read(&p, key, val, &ver);
		if (rc != 0 && rc != -WEFT_ST_NOT_FOUND) {
			errors++;
			snprintf(val, sizeof(val), "?error");
		}
		found += rc == 0;
		int n = snprintf(kv, sizeof(kv), "%s=%s\n", key, val);
		for (int j = 0; j < n; j++)
			digest = (digest ^ (unsigned char)kv[j]) * 0x100000001b3ull;
	}
	weft_client_close(p.c);
	printf("VERIFY keys=%u found=%u errors=%u digest=%016" PRIx64 "\n", f->a->keys, found,
	       errors, digest);
	return 0;
}
