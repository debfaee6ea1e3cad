/*
 * test_hist_check.c — unit tests of weft-history-check's checks
 * (docs/history.md): known linearizable and non-linearizable register
 * histories, lost writes, the queue counts, double singletons, malformed
 * input, the search budget, and randomized histories produced by a real
 * sequential register under random concurrency (linearizable by
 * construction; one corrupted read makes them not).
 *
 * Histories are text fed through fmemopen, the same parser the binary
 * uses. Randomness comes from fixed seeds, so every run checks the same
 * histories.
 */
#define _GNU_SOURCE /* fmemopen, open_memstream */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hist.h"

static const struct hist_opts all_opts = {.registers = true, .queues = true, .singletons = true,
					  .max_states = 10000000, .max_bytes = (size_t)1 << 30};

/* Parses the texts (one file each, NULL-terminated) into a history. */
static struct hist *load(const char *first, ...)
{
	struct hist *h = hist_new();
	assert_non_null(h);
	va_list ap;
	va_start(ap, first);
	int n = 0;
	for (const char *t = first; t; t = va_arg(ap, const char *)) {
		char err[256], name[16];
		FILE *f = fmemopen((void *)t, strlen(t), "r");
		assert_non_null(f);
		snprintf(name, sizeof(name), "f%d", n++);
		int rc = hist_parse(h, f, name, err, sizeof(err));
		fclose(f);
		if (rc != 0)
			fail_msg("parse: %s", err);
	}
	va_end(ap);
	return h;
}

/* Checks one history text; returns the exit code, fills *r. */
static int check_opts(const char *text, const struct hist_opts *o, struct hist_result *r)
{
	struct hist *h = load(text, NULL);
	assert_int_equal(hist_check(h, o, r, NULL), 0);
	hist_free(h);
	return hist_exit_code(r, o);
}

static int check(const char *text, struct hist_result *r)
{
	return check_opts(text, &all_opts, r);
}

static void linearizable_concurrent_writes(void **state)
{
	(void)state;
	struct hist_result r;
	/* Two overlapping writes; readers see v2 then v1: v2 took effect first. */
	const char *h = "0 a invoke write k v1\n"
			"1 b invoke write k v2\n"
			"2 c invoke read k\n"
			"3 c ok read k v2\n"
			"4 c invoke read k\n"
			"5 c ok read k v1\n"
			"10 a ok write k v1\n"
			"11 b ok write k v2\n"
			"12 c invoke read k\n"
			"13 c ok read k v1\n";
	assert_int_equal(check(h, &r), 0);
	assert_int_equal(r.keys, 1);
	assert_int_equal(r.ops, 5);
	assert_int_equal(r.acked_writes, 2);
	assert_int_equal(r.lost_writes, 0);
	assert_string_equal(hist_verdict(&r), "yes");
}

static void stale_read_after_ack(void **state)
{
	(void)state;
	struct hist_result r;
	const char *h = "0 a invoke write k v1\n"
			"1 a ok write k v1\n"
			"2 a invoke write k v2\n"
			"3 a ok write k v2\n"
			"4 b invoke read k\n"
			"5 b ok read k v1\n";
	assert_int_equal(check(h, &r), 1);
	assert_int_equal(r.keys_not_linearizable, 1);
	assert_string_equal(hist_verdict(&r), "no");
	assert_int_equal(r.lost_writes, 1); /* the final read lost v2 */
}

static void concurrent_writes_impossible_order(void **state)
{
	(void)state;
	struct hist_result r;
	/* Both writes done before either read: the reads must agree. */
	const char *h = "0 a invoke write k v1\n"
			"0 b invoke write k v2\n"
			"10 a ok write k v1\n"
			"10 b ok write k v2\n"
			"20 c invoke read k\n"
			"21 c ok read k v2\n"
			"22 c invoke read k\n"
			"23 c ok read k v1\n";
	assert_int_equal(check(h, &r), 1);
	assert_int_equal(r.keys_not_linearizable, 1);
}

static void cas_from_value_never_there(void **state)
{
	(void)state;
	struct hist_result r;
	const char *h = "0 a invoke write k v1\n"
			"1 a ok write k v1\n"
			"2 a invoke cas k ghost v2\n"
			"3 a ok cas k ghost v2\n";
	assert_int_equal(check(h, &r), 1);
	assert_int_equal(r.keys_not_linearizable, 1);
	/* The same from the value that is there is fine, as is a failed CAS
	 * from a ghost and a put-if-absent (OLD nil) on an empty key. */
	const char *ok = "0 a invoke cas k nil v1\n"
			 "1 a ok cas k nil v1\n"
			 "2 a invoke cas k ghost v9\n"
			 "3 a fail cas k ghost v9 VERSION_MISMATCH\n"
			 "4 a invoke cas k v1 v2\n"
			 "5 a ok cas k v1 v2\n"
			 "6 a invoke read k\n"
			 "7 a ok read k v2\n";
	assert_int_equal(check(ok, &r), 0);
	assert_int_equal(r.acked_writes, 2);
}

static void info_write_appears_late(void **state)
{
	(void)state;
	struct hist_result r;
	/* v2 timed out; long after, it shows up: linearizable. */
	const char *h = "0 a invoke write k v1\n"
			"1 a ok write k v1\n"
			"10 a invoke write k v2\n"
			"20 a info write k TIMEOUT\n"
			"100 b invoke read k\n"
			"101 b ok read k v1\n"
			"200 b invoke read k\n"
			"201 b ok read k v2\n";
	assert_int_equal(check(h, &r), 0);
	assert_int_equal(r.lost_writes, 0); /* an info write may be last */
	/* But once seen it cannot be undone by nothing. */
	const char *back = "0 a invoke write k v1\n"
			   "1 a ok write k v1\n"
			   "10 a invoke write k v2\n"
			   "20 a info write k TIMEOUT\n"
			   "100 b invoke read k\n"
			   "101 b ok read k v2\n"
			   "200 b invoke read k\n"
			   "201 b ok read k v1\n";
	assert_int_equal(check(back, &r), 1);
	/* An invoke left open at the end of its file is an info op too. */
	const char *open = "0 a invoke write k v1\n"
			   "1 a ok write k v1\n"
			   "10 a invoke write k v2\n"
			   "100 b invoke read k\n"
			   "101 b ok read k v2\n";
	assert_int_equal(check(open, &r), 0);
	/* An info write nobody observed cannot hurt. */
	const char *unseen = "0 a invoke write k v1\n"
			     "1 a ok write k v1\n"
			     "10 a invoke write k v2\n"
			     "20 a info write k TIMEOUT\n"
			     "100 b invoke read k\n"
			     "101 b ok read k v1\n";
	assert_int_equal(check(unseen, &r), 0);
}

static void failed_write_observed(void **state)
{
	(void)state;
	struct hist_result r;
	const char *h = "0 a invoke write k v1\n"
			"1 a ok write k v1\n"
			"2 a invoke write k v2\n"
			"3 a fail write k NO_QUORUM\n"
			"4 b invoke read k\n"
			"5 b ok read k v2\n";
	assert_int_equal(check(h, &r), 1);
	assert_int_equal(r.keys_not_linearizable, 1);
}

static void lost_write_definition(void **state)
{
	(void)state;
	struct hist_result r;
	/* The final read returns nil after an acknowledged write: lost. */
	const char *nil = "0 a invoke write k v1\n"
			  "1 a ok write k v1\n"
			  "5 b invoke read k\n"
			  "6 b ok read k nil\n";
	assert_int_equal(check(nil, &r), 1);
	assert_int_equal(r.lost_writes, 1);
	/* Concurrent last writes: either may be the final value. */
	const char *either = "0 a invoke write k v1\n"
			     "0 b invoke write k v2\n"
			     "3 a ok write k v1\n"
			     "4 b ok write k v2\n"
			     "5 c invoke read k\n"
			     "6 c ok read k v1\n";
	assert_int_equal(check(either, &r), 0);
	assert_int_equal(r.lost_writes, 0);
	/* No read after the writes: unverified, not lost. */
	const char *none = "0 a invoke write k v1\n"
			   "1 a ok write k v1\n"
			   "0 b invoke read k\n"
			   "2 b ok read k nil\n";
	assert_int_equal(check(none, &r), 0);
	assert_int_equal(r.lost_writes, 0);
	assert_int_equal(r.unverified_keys, 1);
}

static void multi_file_merge(void **state)
{
	(void)state;
	struct hist_result r;
	/* The same PROC name in two files is two processes. */
	struct hist *h = load("0 p invoke write k v1\n"
			      "10 p ok write k v1\n"
			      "20 p invoke read k\n"
			      "21 p ok read k v2\n",
			      "5 p invoke write k v2\n"
			      "15 p ok write k v2\n",
			      NULL);
	assert_int_equal(hist_check(h, &all_opts, &r, NULL), 0);
	assert_int_equal(hist_exit_code(&r, &all_opts), 0);
	assert_int_equal(r.ops, 3);
	hist_free(h);
}

static void window_names_the_failure(void **state)
{
	(void)state;
	struct hist_result r;
	struct hist *h = load("1000 a invoke write k v1\n"
			      "2000000 a ok write k v1\n"
			      "3000000 a invoke write k v2\n"
			      "4000000 a ok write k v2\n"
			      "5000000 b invoke read k\n"
			      "6000000 b ok read k v1\n",
			      NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_non_null(out);
	assert_int_equal(hist_check(h, &all_opts, &r, out), 0);
	hist_print_summary(&r, out);
	fclose(out);
	assert_non_null(strstr(buf, "key k: not linearizable (3 ops)"));
	assert_non_null(strstr(buf, "the register holds 'v2'"));
	assert_non_null(strstr(buf, "[+4.999, +5.999] b read -> v1  (f0:5)"));
	assert_non_null(strstr(buf, "[+0.000, +1.999] a write v1  (f0:1)"));
	static const char summary[] = "CHECK ops=3 keys=1 acked_writes=2 lost_writes=1 "
				      "lost_messages=0 duplicates=0 phantoms=0 "
				      "double_singletons=0 linearizable=no\n";
	const char *last = strstr(buf, summary);
	assert_non_null(last);
	assert_ptr_equal(last + strlen(summary), buf + len); /* the last line */
	free(buf);
	hist_free(h);
}

static void queue_counts(void **state)
{
	(void)state;
	struct hist_result r;
	const char *h = "0 p publish-ok q m1\n"
			"1 p publish-ok q m2\n"  /* never delivered: lost */
			"2 p publish-info q m3\n" /* unknown, undelivered: fine */
			"3 p publish-info q m4\n" /* unknown, delivered twice */
			"4 c deliver q m1\n"
			"5 c deliver q m1\n"
			"6 c deliver q m1\n" /* 2 duplicates */
			"7 c deliver q m4\n"
			"8 c deliver q m4\n" /* 1 duplicate */
			"9 c deliver q zz\n"
			"9 c deliver q zz\n"  /* 2 phantoms */
			"9 c deliver q2 m1\n"; /* another queue's m1: phantom */
	assert_int_equal(check(h, &r), 1);
	assert_int_equal(r.lost_messages, 1);
	assert_int_equal(r.duplicates, 3);
	assert_int_equal(r.phantoms, 3);
	assert_int_equal(r.ops, 12);
	struct hist_opts o = all_opts;
	o.allow_duplicates = true;
	const char *dup = "0 p publish-ok q m1\n"
			  "4 c deliver q m1\n"
			  "5 c deliver q m1\n";
	assert_int_equal(check_opts(dup, &o, &r), 0);
	assert_int_equal(check(dup, &r), 1);
	assert_int_equal(r.duplicates, 1);
}

static void singleton_runs(void **state)
{
	(void)state;
	struct hist_result r;
	const char *handover = "100 s singleton g a 3\n"
			       "200 s singleton g a 3\n"
			       "300 t singleton g b 4\n"
			       "400 t singleton g b 4\n";
	assert_int_equal(check(handover, &r), 0);
	assert_int_equal(r.double_singletons, 0);
	const char *older_after_newer = "100 s singleton g a 3\n"
					"300 t singleton g b 4\n"
					"400 s singleton g a 3\n";
	assert_int_equal(check(older_after_newer, &r), 1);
	assert_int_equal(r.double_singletons, 1);
	/* In flight: a's last write was invoked before b's first returned. */
	const char *in_flight = "100 s singleton g a 3\n"
				"300 t singleton g b 4\n"
				"400 s singleton g a 3 250\n";
	assert_int_equal(check(in_flight, &r), 0);
	/* One epoch, two nodes, overlapping acks. */
	const char *same_epoch = "100 s singleton g a 5\n"
				 "200 t singleton g b 5\n"
				 "300 s singleton g a 5\n";
	assert_int_equal(check(same_epoch, &r), 1);
	assert_int_equal(r.double_singletons, 1);
	/* Different names never conflict; three overlapping runs: 3 pairs. */
	const char *three = "100 s singleton g a 1\n"
			    "110 t singleton g b 2\n"
			    "120 u singleton g c 3\n"
			    "130 s singleton g a 1\n"
			    "140 t singleton g b 2\n"
			    "150 u singleton h a 1\n";
	assert_int_equal(check(three, &r), 1);
	assert_int_equal(r.double_singletons, 3);
}

static void bad_input(void **state)
{
	(void)state;
	static const struct {
		const char *text, *why;
	} cases[] = {
		{"x p invoke read k\n", "f:1: T must be decimal"},
		{"99999999999999999999 p invoke read k\n", "T must be decimal"},
		{"1 p\n", "expected 'T PROC EVENT"},
		{"1 p frob k\n", "unknown event 'frob'"},
		{"1 p invoke read\n", "expected 'T PROC invoke read KEY'"},
		{"1 p invoke write k\n", "expected 'T PROC invoke write KEY VAL'"},
		{"1 p invoke write k nil\n", "nil cannot be written"},
		{"1 p ok read k v\n", "completes an op it never invoked"},
		{"1 p invoke read k\n2 p invoke read k\n", "f:2: PROC p invokes while its op of line 1"},
		{"1 p invoke read k\n2 p ok write k v\n", "does not match the invoke of line 1"},
		{"1 p invoke read k\n2 p ok read j v\n", "does not match"},
		{"1 p invoke write k a\n2 p ok write k b\n", "ok values differ"},
		{"5 p invoke read k\n2 p ok read k v\n", "completes before its invoke"},
		{"1 p invoke cas k a b\n2 p ok cas k a\n", "expected 'T PROC ok cas KEY OLD NEW'"},
		{"1 p a b c d e f g h i\n", "more than 8 tokens"},
		{"1 p singleton g n e\n", "EPOCH must be a decimal"},
		{"5 p singleton g n 1 9\n", "INVOKE_T must be"},
		{"1 p deliver q\n", "expected 'T PROC deliver QUEUE MSGID'"},
		{"1 p fail read\n", "expected 'T PROC fail OP KEY"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hist *h = hist_new();
		char err[256] = "";
		FILE *f = fmemopen((void *)cases[i].text, strlen(cases[i].text), "r");
		assert_int_equal(hist_parse(h, f, "f", err, sizeof(err)), -EINVAL);
		fclose(f);
		if (!strstr(err, cases[i].why))
			fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].why);
		hist_free(h);
	}
	/* A line over the bound, and a NUL byte: errors, not crashes. */
	size_t n = HIST_LINE_MAX + 100;
	char *big = malloc(n + 1);
	memset(big, 'a', n);
	big[n] = '\n';
	const char nul[] = "1 p invoke\0 read k\n";
	struct {
		const char *buf;
		size_t len;
		const char *why;
	} raw[] = {{big, n + 1, "longer than"}, {nul, sizeof(nul) - 1, "NUL byte"}};
	for (size_t i = 0; i < 2; i++) {
		struct hist *h = hist_new();
		char err[256] = "";
		FILE *f = fmemopen((void *)raw[i].buf, raw[i].len, "r");
		assert_int_equal(hist_parse(h, f, "f", err, sizeof(err)), -EINVAL);
		fclose(f);
		assert_non_null(strstr(err, raw[i].why));
		hist_free(h);
	}
	free(big);
	/* Comments and blank lines are fine. */
	struct hist_result r;
	assert_int_equal(check("# a comment with many many many many many words\n\n  \n"
			       "  # indented\n1 p invoke read k\n2 p ok read k nil\n", &r), 0);
	assert_int_equal(r.ops, 1);
}

static void budget_gives_unknown(void **state)
{
	(void)state;
	struct hist_result r;
	struct hist_opts o = all_opts;
	o.max_states = 1;
	const char *h = "0 a invoke write k v1\n"
			"1 a ok write k v1\n"
			"2 a invoke read k\n"
			"3 a ok read k v1\n";
	assert_int_equal(check_opts(h, &o, &r), 3);
	assert_int_equal(r.keys_unknown, 1);
	assert_string_equal(hist_verdict(&r), "unknown");
	/* A violation elsewhere wins over unknown. */
	const char *both = "0 a invoke write k v1\n"
			   "1 a ok write k v1\n"
			   "2 a invoke read k\n"
			   "3 a ok read k v1\n"
			   "4 p publish-ok q m\n";
	assert_int_equal(check_opts(both, &o, &r), 1);
}

/* --- randomized histories from a real sequential register --- */

struct gop {
	uint64_t call, lin, ret; /* lin HIST_T_NEVER: never took effect */
	unsigned proc, key, val;
	int kind, status; /* status: HIST_OK, HIST_INFO, HIST_FAIL */
	unsigned a, b;	  /* read result / cas old (value ids, 0 = nil) */
	bool cas_fails;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int by_lin(const void *pa, const void *pb)
{
	const struct gop *a = *(const struct gop *const *)pa, *b = *(const struct gop *const *)pb;
	return a->lin < b->lin ? -1 : a->lin > b->lin;
}

/* Generates n ops by procs processes on keys registers. Each op's
 * linearization point lies inside [call, ret] (info ops: any time after
 * call, or never); the register is run in linearization order. */
static struct gop *generate(uint64_t seed, size_t n, unsigned procs, unsigned keys)
{
	struct gop *g = calloc(n, sizeof(*g));
	struct gop **by = calloc(n, sizeof(*by));
	uint64_t *t = calloc(procs, sizeof(*t));
	unsigned *state = calloc(keys, sizeof(*state));
	uint64_t s = seed * 2654435761u + 1;
	unsigned next_val = 1;
	for (size_t i = 0; i < n; i++) {
		struct gop *o = &g[i];
		o->proc = (unsigned)(rnd(&s) % procs);
		o->key = (unsigned)(rnd(&s) % keys);
		o->call = t[o->proc] + rnd(&s) % 50;
		uint64_t span = 1 + rnd(&s) % 200;
		unsigned r = (unsigned)(rnd(&s) % 100);
		o->kind = r < 45 ? HIST_READ : r < 80 ? HIST_WRITE : HIST_CAS;
		o->val = next_val++;
		o->status = HIST_OK;
		if (o->kind != HIST_READ && rnd(&s) % 10 == 0)
			o->status = HIST_INFO;
		o->cas_fails = o->kind == HIST_CAS && rnd(&s) % 4 == 0;
		if (o->status == HIST_INFO) {
			o->lin = rnd(&s) % 3 == 0 ? HIST_T_NEVER : o->call + 1 + rnd(&s) % 2000;
			o->ret = HIST_T_NEVER;
			t[o->proc] = o->call + span + 1;
		} else {
			o->lin = o->call + rnd(&s) % span;
			o->ret = o->call + span;
			t[o->proc] = o->ret + 1;
		}
		by[i] = o;
	}
	qsort(by, n, sizeof(*by), by_lin);
	for (size_t i = 0; i < n && by[i]->lin != HIST_T_NEVER; i++) {
		struct gop *o = by[i];
		if (o->kind == HIST_READ) {
			o->a = state[o->key];
		} else if (o->kind == HIST_WRITE) {
			state[o->key] = o->val;
		} else if (o->cas_fails) {
			o->a = 1000000 + o->val; /* an OLD never there: refused */
			if (o->status == HIST_OK)
				o->status = HIST_FAIL;
		} else {
			o->a = state[o->key];
			state[o->key] = o->val;
		}
	}
	for (size_t i = 0; i < n; i++) /* never took effect: any OLD */
		if (g[i].lin == HIST_T_NEVER && g[i].kind == HIST_CAS)
			g[i].a = 2000000 + g[i].val;
	free(by);
	free(t);
	free(state);
	return g;
}

static void val_name(unsigned v, char *buf, size_t len)
{
	if (v == 0)
		snprintf(buf, len, "nil");
	else
		snprintf(buf, len, "v%u", v);
}

/* The history text of g (all procs in one file, in proc order). */
static char *render(const struct gop *g, size_t n, unsigned procs)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	for (unsigned p = 0; p < procs; p++) {
		for (size_t i = 0; i < n; i++) {
			const struct gop *o = &g[i];
			char k[16], a[32], v[32];
			if (o->proc != p)
				continue;
			snprintf(k, sizeof(k), "k%u", o->key);
			val_name(o->a, a, sizeof(a));
			val_name(o->val, v, sizeof(v));
			if (o->kind == HIST_READ) {
				fprintf(f, "%" PRIu64 " p%u invoke read %s\n", o->call, p, k);
				fprintf(f, "%" PRIu64 " p%u ok read %s %s\n", o->ret, p, k, a);
				continue;
			}
			char what[96];
			if (o->kind == HIST_WRITE)
				snprintf(what, sizeof(what), "write %s %s", k, v);
			else
				snprintf(what, sizeof(what), "cas %s %s %s", k, a, v);
			fprintf(f, "%" PRIu64 " p%u invoke %s\n", o->call, p, what);
			uint64_t end = o->status == HIST_INFO ? o->call + 1 : o->ret;
			fprintf(f, "%" PRIu64 " p%u %s %s\n", end, p,
				o->status == HIST_OK ? "ok" : o->status == HIST_FAIL ? "fail" : "info",
				what);
		}
	}
	fclose(f);
	return buf;
}

/* Makes one ok read impossible: a value written only after it returned
 * (or never written at all). */
static void corrupt(struct gop *g, size_t n, uint64_t seed)
{
	size_t reads = 0;
	for (size_t i = 0; i < n; i++)
		reads += g[i].kind == HIST_READ;
	assert_true(reads > 0);
	size_t pick = seed % reads;
	for (size_t i = 0; i < n; i++) {
		if (g[i].kind != HIST_READ || pick--)
			continue;
		g[i].a = 3000000; /* never written */
		for (size_t j = 0; j < n; j++)
			if (g[j].key == g[i].key && g[j].kind != HIST_READ && g[j].call > g[i].ret) {
				g[i].a = g[j].val;
				break;
			}
		return;
	}
}

static void randomized_register(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 60; seed++) {
		size_t n = 60 + seed * 5;
		unsigned procs = 2 + (unsigned)(seed % 5), keys = 1 + (unsigned)(seed % 3);
		struct gop *g = generate(seed, n, procs, keys);
		char *text = render(g, n, procs);
		struct hist_result r;
		int code = check(text, &r);
		if (code != 0 || r.lost_writes)
			fail_msg("seed %" PRIu64 ": exit %d lost %" PRIu64 " on a real register:\n%s",
				 seed, code, r.lost_writes, text);
		free(text);
		corrupt(g, n, seed);
		text = render(g, n, procs);
		check(text, &r);
		if (r.keys_not_linearizable != 1)
			fail_msg("seed %" PRIu64 ": a corrupted read passed:\n%s", seed, text);
		free(text);
		free(g);
	}
}

/* Sets a random read's value, or a random cas's OLD, to a random value of
 * its key (or nil): sometimes still linearizable, sometimes not. */
static void mutate(struct gop *g, size_t n, uint64_t *s)
{
	size_t i = rnd(s) % n, j = rnd(s) % n;
	if (g[i].kind == HIST_WRITE || g[j].key != g[i].key)
		return;
	g[i].a = rnd(s) % 5 == 0 ? 0 : g[j].val;
}

/* The value-based prunings (and the tightened returns) never change a
 * verdict: the same histories, plain and pruned. */
static void prunings_agree_with_plain_search(void **state)
{
	(void)state;
	struct hist_opts plain = all_opts;
	plain.plain = true;
	unsigned yes = 0, no = 0;
	for (uint64_t seed = 1; seed <= 300; seed++) {
		uint64_t s = seed * 7919;
		size_t n = 20 + rnd(&s) % 40;
		unsigned procs = 2 + (unsigned)(rnd(&s) % 4);
		struct gop *g = generate(seed + 1000, n, procs, 1);
		for (unsigned m = (unsigned)(rnd(&s) % 3); m > 0; m--)
			mutate(g, n, &s);
		char *text = render(g, n, procs);
		struct hist_result a, b;
		check(text, &a);
		check_opts(text, &plain, &b);
		if (strcmp(hist_verdict(&a), hist_verdict(&b)) != 0)
			fail_msg("seed %" PRIu64 ": pruned %s, plain %s:\n%s", seed, hist_verdict(&a),
				 hist_verdict(&b), text);
		yes += a.keys_not_linearizable == 0;
		no += a.keys_not_linearizable != 0;
		free(text);
		free(g);
	}
	/* Both verdicts were exercised. */
	assert_true(yes > 30);
	assert_true(no > 30);
}

/* Thousands of ops on one key: answered (yes) within the default budget. */
static void large_key_within_budget(void **state)
{
	(void)state;
	size_t n = 4000;
	struct gop *g = generate(12345, n, 6, 1);
	char *text = render(g, n, 6);
	struct hist_result r;
	assert_int_equal(check(text, &r), 0);
	assert_int_equal(r.keys, 1);
	assert_int_equal(r.keys_unknown, 0);
	free(text);
	free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(linearizable_concurrent_writes),
		cmocka_unit_test(stale_read_after_ack),
		cmocka_unit_test(concurrent_writes_impossible_order),
		cmocka_unit_test(cas_from_value_never_there),
		cmocka_unit_test(info_write_appears_late),
		cmocka_unit_test(failed_write_observed),
		cmocka_unit_test(lost_write_definition),
		cmocka_unit_test(multi_file_merge),
		cmocka_unit_test(window_names_the_failure),
		cmocka_unit_test(queue_counts),
		cmocka_unit_test(singleton_runs),
		cmocka_unit_test(bad_input),
		cmocka_unit_test(budget_gives_unknown),
		cmocka_unit_test(randomized_register),
		cmocka_unit_test(prunings_agree_with_plain_search),
		cmocka_unit_test(large_key_within_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
