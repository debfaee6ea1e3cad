/*
 * fc_session.c — weft-faults-client's session load: replicated web sessions
 * (weft_session_*) checked as registers. K sessions are created first (a
 * long max-inactive timeout, so none may expire during the run); then each
 * PROC loops a random read (weft_session_get of attribute "v") or write
 * (weft_session_set "v" = a unique value) of one of them, recorded like the
 * register load (docs/history.md) under the key "s<j>", so that
 * weft-history-check decides linearizability and counts lost acknowledged
 * writes of session attributes as it does for cache keys.
 *
 * Mapping of libweft results: a read's 0 -> ok read with the value; its
 * NOT_FOUND (no attribute yet) or NO_SESSION (the session is gone: a lost
 * session, since none may expire) -> ok read nil, so an acknowledged value
 * that disappears is a violation the checker reports; any other read
 * failure -> fail read. A write's 0 -> ok; NO_SESSION or a status that
 * means "not applied" (fc_definite) -> fail; anything else (TIMEOUT, BUSY,
 * ...) -> info (outcome unknown). A session whose CREATE failed or timed
 * out is not used (another is created, at most CREATE_TRIES times in all).
 * After the load (and before the SESSION summary line) every session is
 * read once more (final_reads).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc.h"

#define VAL_MAX 96
#define MAX_SESSIONS 1024u
#define SESSION_TIMEOUT_S 3600u /* longer than any run: nothing may expire */
#define CREATE_TRIES(k) (4u * (k) + 16u)

static struct weft_session_id sessions[MAX_SESSIONS];
static unsigned n_sessions;

struct sproc {
	struct fc *f;
	weft_client *c;
	char name[48];
	uint64_t seq, rs;
};

static void read_attr(struct sproc *p, unsigned j)
{
	struct fc *f = p->f;
	void *v = NULL;
	size_t len = 0;
	fc_line(f, p->name, "invoke read s%u", j);
	int rc = weft_session_get(p->c, f->a->cache, &sessions[j], "v", &v, &len, NULL);
	if (rc == 0 && len > 0 && len < VAL_MAX) {
		char val[VAL_MAX];
		memcpy(val, v, len);
		val[len] = '\0';
		for (size_t i = 0; i < len; i++)
			if (val[i] <= ' ' || val[i] > '~')
				val[i] = '?'; /* never ours: a corrupt value shows */
		fc_line(f, p->name, "ok read s%u %s", j, val);
		atomic_fetch_add(&f->ok, 1);
	} else if (rc == 0) {
		fc_line(f, p->name, "ok read s%u ?size%zu", j, len); /* never ours */
		atomic_fetch_add(&f->ok, 1);
	} else if (rc == -WEFT_ST_NOT_FOUND || rc == -WEFT_ST_NO_SESSION) {
		fc_line(f, p->name, "ok read s%u nil", j);
		atomic_fetch_add(&f->ok, 1);
		if (rc == -WEFT_ST_NO_SESSION)
			fc_count_status(f, rc);
	} else {
		fc_line(f, p->name, "fail read s%u", j);
		fc_count_status(f, rc);
		atomic_fetch_add(&f->fail, 1);
	}
	free(v);
}

static void write_attr(struct sproc *p, unsigned j)
{
	struct fc *f = p->f;
	char val[VAL_MAX];
	snprintf(val, sizeof(val), "%s-%" PRIu64, p->name, p->seq++);
	fc_line(f, p->name, "invoke write s%u %s", j, val);
	int rc = weft_session_set(p->c, f->a->cache, &sessions[j], "v", val, strlen(val));
	bool definite = rc == -WEFT_ST_NO_SESSION || fc_definite(rc);
	const char *kind = rc == 0 ? "ok" : definite ? "fail" : "info";
	fc_line(f, p->name, "%s write s%u %s", kind, j, val);
	if (rc != 0)
		fc_count_status(f, rc);
	atomic_fetch_add(rc == 0 ? &f->ok : definite ? &f->fail : &f->info, 1);
}

static void sess_proc(struct fc *f, unsigned i)
{
	struct sproc p = { .f = f, .c = fc_connect(f, i) };
	snprintf(p.name, sizeof(p.name), "%ss%u", f->a->tag, i);
	p.rs = (f->a->seed ^ ((uint64_t)(i + 1) * 0xD1B54A32D192ED03ull)) | 1;
	while (!fc_ending(f) && fc_take_op(f)) {
		unsigned j = (unsigned)(fc_rand(&p.rs) % n_sessions);
		if (fc_rand(&p.rs) % 100 < 50)
			read_attr(&p, j);
		else
			write_attr(&p, j);
		if (f->a->pace_ms)
			fc_pause_ns((uint64_t)f->a->pace_ms * 1000000u);
	}
	weft_client_close(p.c);
}

/* After the load, one read of every session (up to 5 tries while it
 * fails), PROC "<tag>sverify": the checker needs a final read to call an
 * acknowledged write lost. */
static void final_reads(struct fc *f)
{
	struct sproc p = { .f = f, .c = fc_connect(f, 0) };
	snprintf(p.name, sizeof(p.name), "%ssverify", f->a->tag);
	for (unsigned j = 0; j < n_sessions; j++) {
		uint64_t fails = atomic_load(&f->fail);
		for (int t = 0; t < 5; t++) {
			read_attr(&p, j);
			if (atomic_load(&f->fail) == fails)
				break;
			fails = atomic_load(&f->fail);
		}
	}
	weft_client_close(p.c);
}

/* Creates the run's sessions on server 0; 0, or 1 when not one could be. */
static int create_sessions(struct fc *f, unsigned want)
{
	weft_client *c = fc_connect(f, 0);
	unsigned tries = 0;
	while (n_sessions < want && tries++ < CREATE_TRIES(want) && !fc_ending(f)) {
		int rc = weft_session_create(c, f->a->cache, SESSION_TIMEOUT_S,
					     &sessions[n_sessions]);
		if (rc == 0) {
			char hex[WEFT_SESSION_HEX_LEN + 1];
			weft_session_id_hex(&sessions[n_sessions], hex);
			fc_line(f, NULL, "session s%u %s", n_sessions, hex);
			n_sessions++;
		} else {
			fc_count_status(f, rc);
		}
	}
	weft_client_close(c);
	if (n_sessions == 0) {
		fprintf(stderr, "weft-faults-client: no session could be created\n");
		return 1;
	}
	return 0;
}

int fc_session_run(struct fc *f)
{
	unsigned want = f->a->keys < MAX_SESSIONS ? f->a->keys : MAX_SESSIONS;
	fc_line(f, NULL, "session store=%s procs=%u sessions=%u seed=%" PRIu64, f->a->cache,
		f->a->procs, want, f->a->seed);
	if (create_sessions(f, want) != 0)
		return 1;
	fc_run_threads(f, f->a->procs, sess_proc);
	final_reads(f);
	char head[256];
	snprintf(head, sizeof(head), "SESSION sessions=%u ops=%" PRIu64 " ok=%" PRIu64
		 " fail=%" PRIu64 " info=%" PRIu64 " seconds=%.1f", n_sessions,
		 atomic_load(&f->ok) + atomic_load(&f->fail) + atomic_load(&f->info),
		 atomic_load(&f->ok), atomic_load(&f->fail), atomic_load(&f->info),
		 (double)(fc_now_ns() - f->t0_ns) / 1e9);
	fc_summary(f, head);
	return 0;
}
