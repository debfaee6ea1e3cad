/*
 * weft_load — the integration tests' write load and its check, over libweft
 * (include/weft/weft.h) only:
 *
 *   weft_load write  --server IP[:PORT] --cache NAME --prefix P --out FILE
 *                    [--seconds S] [--max-ops N] [--rate OPS] [--threads T]
 *                    [--value-bytes B] [--direct]
 *   weft_load verify --server IP[:PORT] --cache NAME --in FILE [--threads T]
 *                    [--value-bytes B] [--direct]
 *   weft_load owned  --server IP[:PORT] --in FILE --member NAME
 *
 * write puts keys P-0, P-1, ... (each once, in increasing order across the
 * threads) until S seconds, N ops or SIGTERM/SIGINT, whichever comes first.
 * Every value is a pure function of its key (the key, filler derived from
 * it, and a checksum of both), so verify needs nothing but the key to know
 * the right bytes. Each ACKNOWLEDGED put (status 0) is appended to FILE as
 * "KEY VERSION\n" by one write(2) the moment it is acked: a test may read
 * FILE while the load runs or after a kill. Ends with one line
 *   WRITE acked=A errors=E ops=O seconds=T max_ack_gap_ms=G by status NAME=n...
 * and exit 0 (errors are the point of a failover load, not a tool failure).
 *
 * verify gets every key of FILE and counts it missing (NOT_FOUND), corrupt
 * (bytes differ from what write sent, or version older than the recorded
 * one) or an error (no answer after 3 tries, or another status). Ends with
 *   VERIFY checked=C missing=M corrupt=K errors=E
 * (then up to 10 lines naming bad keys) and exits 1 if M, K or E is not 0.
 *
 * Routing is libweft's default (topology-aware, --server is the seed);
 * --direct turns it off, so every request goes to --server, which serves
 * or forwards it.
 *
 * owned fetches the node's segment table and counts the keys of FILE that
 * NAME owns (as primary or backup): "OWNED member=NAME keys=K of=N epoch=E"
 * — what NAME's cache must hold once its segments have moved to it.
 * Exit 2: bad usage or a local failure.
 *
 * Threads: one weft_client per thread (clients are not thread-safe); the
 * key counter and the tallies are atomics; FILE lines are single write(2)s
 * of under PIPE_BUF bytes on an O_APPEND descriptor, so lines never mix.
 * Signals are blocked in every thread; the main thread waits for them with
 * sigtimedwait, so no libweft call is ever interrupted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <weft/weft.h>

#include "tool_join.h"

#define MAX_THREADS 64
#define N_STATUS 128       /* every status: the node's (< 32) and libweft's (100..) */
#define MAX_VALUE 4096
#define MAX_LINE 400       /* key (<= 250) + version: below PIPE_BUF */
#define VERIFY_TRIES 3
#define BAD_KEYS_SHOWN 10

struct args {
	const char *server, *cache, *prefix, *file, *member;
	double seconds;
	uint64_t max_ops, rate;
	unsigned threads;
	size_t value_bytes;
	bool direct;
};

struct shared {
	const struct args *a;
	atomic_uint_fast64_t next;       /* next key index (write) or line (verify) */
	atomic_uint_fast64_t ok, failed; /* write: acked / errors; verify: checked */
	atomic_uint_fast64_t missing, corrupt;
	atomic_uint_fast64_t by_status[N_STATUS];
	atomic_uint_fast64_t last_ack_ns, max_gap_ns;
	atomic_bool stop;
	atomic_int fatal;                /* a local failure (write to FILE) */
	uint64_t t0_ns, end_ns;
	int fd;
	/* verify */
	char **keys;
	uint64_t *versions;
	size_t n_keys;
	pthread_mutex_t bad_lock;
	unsigned bad_shown;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The value write stores under key: "key|" + filler from the key's hash +
 * "|" + 16 hex digits of the checksum of everything before; value_bytes
 * long, or just the three parts when the key leaves no room for filler. */
static size_t make_value(const char *key, size_t value_bytes, char *out)
{
	size_t klen = strlen(key), n = 0;
	memcpy(out, key, klen);
	n = klen;
	out[n++] = '|';
	uint64_t x = fnv1a(key, klen, 0xcbf29ce484222325ull);
	while (n + 17 < value_bytes) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[n++] = (char)('a' + x % 26);
	}
	out[n++] = '|';
	uint64_t sum = fnv1a(out, n, 0xcbf29ce484222325ull);
	snprintf(out + n, 17, "%016" PRIx64, sum);
	return n + 16;
}

static void count_status(struct shared *s, int rc)
{
	unsigned st = (unsigned)(rc < 0 ? -rc : rc);
	atomic_fetch_add(&s->by_status[st < N_STATUS ? st : N_STATUS - 1], 1);
}

static weft_client *connect_or_die(const struct args *a)
{
	weft_client *c = weft_client_connect(a->server, NULL);
	if (c == NULL) {
		fprintf(stderr, "weft_load: cannot use server '%s': %s\n", a->server, strerror(errno));
		exit(2);
	}
	if (a->direct)
		weft_client_set_routing(c, false);
	return c;
}

/* Paces a thread to its share of --rate: sleeps until op number i of this
 * thread is due. */
static void pace(const struct shared *s, uint64_t i)
{
	if (s->a->rate == 0)
		return;
	uint64_t due = s->t0_ns + i * 1000000000ull * s->a->threads / s->a->rate;
	uint64_t t = now_ns();
	if (due > t) {
		struct timespec d = { .tv_sec = (time_t)((due - t) / 1000000000u),
				      .tv_nsec = (long)((due - t) % 1000000000u) };
		nanosleep(&d, NULL);
	}
}

static void note_ack(struct shared *s)
{
	uint64_t t = now_ns();
	uint64_t prev = atomic_exchange(&s->last_ack_ns, t);
	uint64_t gap = t > prev ? t - prev : 0, m = atomic_load(&s->max_gap_ns);
	while (gap > m && !atomic_compare_exchange_weak(&s->max_gap_ns, &m, gap))
		;
}

static void *write_thread(void *arg)
{
	struct shared *s = arg;
	const struct args *a = s->a;
	weft_client *c = connect_or_die(a);
	char key[300], val[MAX_VALUE], line[MAX_LINE];

	for (uint64_t mine = 0; !atomic_load(&s->stop); mine++) {
		pace(s, mine);
		if (atomic_load(&s->stop) || now_ns() >= s->end_ns)
			break;
		uint64_t i = atomic_fetch_add(&s->next, 1);
		if (a->max_ops && i >= a->max_ops)
			break;
		int klen = snprintf(key, sizeof(key), "%s-%" PRIu64, a->prefix, i);
		size_t vlen = make_value(key, a->value_bytes, val);
		uint64_t version = 0;
		int rc = weft_put(c, a->cache, key, (size_t)klen, val, vlen, NULL, &version);
		count_status(s, rc);
		if (rc != 0) {
			atomic_fetch_add(&s->failed, 1);
			continue;
		}
		int n = snprintf(line, sizeof(line), "%s %" PRIu64 "\n", key, version);
		if (write(s->fd, line, (size_t)n) != n) {
			atomic_store(&s->fatal, errno ? errno : EIO);
			atomic_store(&s->stop, true);
			break;
		}
		atomic_fetch_add(&s->ok, 1);
		note_ack(s);
	}
	weft_client_close(c);
	return NULL;
}

static void *verify_thread(void *arg)
{
	struct shared *s = arg;
	const struct args *a = s->a;
	weft_client *c = connect_or_die(a);
	char want[MAX_VALUE];

	while (!atomic_load(&s->stop)) {
		uint64_t i = atomic_fetch_add(&s->next, 1);
		if (i >= s->n_keys)
			break;
		const char *key = s->keys[i];
		size_t wlen = make_value(key, a->value_bytes, want);
		void *v = NULL;
		size_t vlen = 0;
		uint64_t version = 0;
		int rc = -WEFT_ST_TIMEOUT;
		for (int t = 0; t < VERIFY_TRIES && (rc == -WEFT_ST_TIMEOUT || rc == -WEFT_ST_BUSY); t++)
			rc = weft_get(c, a->cache, key, strlen(key), &v, &vlen, &version);
		count_status(s, rc);
		const char *what = NULL;
		if (rc == -WEFT_ST_NOT_FOUND) {
			atomic_fetch_add(&s->missing, 1);
			what = "missing";
		} else if (rc != 0) {
			atomic_fetch_add(&s->failed, 1);
			what = weft_status_name(rc);
		} else if (vlen != wlen || memcmp(v, want, wlen) != 0 || version < s->versions[i]) {
			atomic_fetch_add(&s->corrupt, 1);
			what = version < s->versions[i] ? "older version" : "wrong bytes";
		}
		atomic_fetch_add(&s->ok, 1);
		free(v);
		if (what) {
			pthread_mutex_lock(&s->bad_lock);
			if (s->bad_shown++ < BAD_KEYS_SHOWN)
				printf("  bad key %s: %s (recorded version %" PRIu64 ", got %" PRIu64 ")\n",
				       key, what, s->versions[i], rc == 0 ? version : 0);
			pthread_mutex_unlock(&s->bad_lock);
		}
	}
	weft_client_close(c);
	return NULL;
}

/* Runs fn on a->threads threads and waits for them; SIGTERM/SIGINT asks
 * them to stop (s->stop) after their current call. The threads bound
 * themselves (deadline, op bound, end of the key list). */
static void run_threads(struct shared *s, void *(*fn)(void *))
{
	pthread_t th[MAX_THREADS];
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (unsigned i = 0; i < s->a->threads; i++)
		if (pthread_create(&th[i], NULL, fn, s) != 0) {
			fprintf(stderr, "weft_load: pthread_create failed\n");
			exit(2);
		}
	/* A thread ends by itself at the deadline, the op bound or the end
	 * of the key list; a signal ends them all. */
	tool_join_watching(th, s->a->threads, &set, &s->stop);
}

static void print_by_status(struct shared *s)
{
	printf(" by status");
	for (int st = 1; st < N_STATUS; st++) {
		uint64_t n = atomic_load(&s->by_status[st]);
		if (n)
			printf(" %s=%" PRIu64, weft_status_name(st), n);
	}
	printf("\n");
}

static int do_write(const struct args *a)
{
	static struct shared s;
	s.a = a;
	s.fd = open(a->file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (s.fd < 0) {
		fprintf(stderr, "weft_load: %s: %s\n", a->file, strerror(errno));
		return 2;
	}
	s.t0_ns = now_ns();
	s.end_ns = s.t0_ns + (uint64_t)(a->seconds * 1e9);
	atomic_store(&s.last_ack_ns, s.t0_ns);
	run_threads(&s, write_thread);
	double secs = (double)(now_ns() - s.t0_ns) / 1e9;
	if (fsync(s.fd) != 0 && errno != EINVAL)
		atomic_store(&s.fatal, errno);
	close(s.fd);
	uint64_t acked = atomic_load(&s.ok), failed = atomic_load(&s.failed);
	printf("WRITE acked=%" PRIu64 " errors=%" PRIu64 " ops=%" PRIu64 " seconds=%.1f"
	       " max_ack_gap_ms=%" PRIu64,
	       acked, failed, acked + failed, secs, atomic_load(&s.max_gap_ns) / 1000000u);
	print_by_status(&s);
	if (atomic_load(&s.fatal)) {
		fprintf(stderr, "weft_load: writing %s: %s\n", a->file, strerror(atomic_load(&s.fatal)));
		return 2;
	}
	return 0;
}

/* Reads "KEY VERSION" lines; a last line without its newline (a writer
 * killed mid-line cannot make one: lines are single write(2)s) or any
 * malformed line is a local failure. */
static int load_file(const char *path, struct shared *s)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "weft_load: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 0;
	char line[MAX_LINE + 2];
	while (fgets(line, sizeof(line), f)) {
		char key[MAX_LINE];
		uint64_t v;
		char nl;
		if (sscanf(line, "%399s %" SCNu64 "%c", key, &v, &nl) != 3 || nl != '\n') {
			fprintf(stderr, "weft_load: %s: malformed line %zu\n", path, s->n_keys + 1);
			fclose(f);
			return -1;
		}
		if (s->n_keys == cap) {
			cap = cap ? cap * 2 : 1024;
			s->keys = realloc(s->keys, cap * sizeof(*s->keys));
			s->versions = realloc(s->versions, cap * sizeof(*s->versions));
			if (!s->keys || !s->versions) {
				fclose(f);
				return -1;
			}
		}
		s->keys[s->n_keys] = strdup(key);
		s->versions[s->n_keys++] = v;
	}
	fclose(f);
	return 0;
}

static int do_verify(const struct args *a)
{
	static struct shared s;
	s.a = a;
	pthread_mutex_init(&s.bad_lock, NULL);
	if (load_file(a->file, &s) != 0)
		return 2;
	s.end_ns = UINT64_MAX;
	run_threads(&s, verify_thread);
	uint64_t missing = atomic_load(&s.missing), corrupt = atomic_load(&s.corrupt);
	uint64_t failed = atomic_load(&s.failed);
	printf("VERIFY checked=%" PRIu64 " missing=%" PRIu64 " corrupt=%" PRIu64 " errors=%" PRIu64
	       "%s\n", atomic_load(&s.ok), missing, corrupt, failed,
	       atomic_load(&s.stop) ? " (interrupted)" : "");
	for (size_t i = 0; i < s.n_keys; i++)
		free(s.keys[i]);
	free(s.keys);
	free(s.versions);
	return missing || corrupt || failed || atomic_load(&s.stop) ? 1 : 0;
}

static int do_owned(const struct args *a)
{
	static struct shared s;
	if (load_file(a->file, &s) != 0)
		return 2;
	weft_client *c = connect_or_die(a);
	struct weft_topology *t = NULL;
	int rc = weft_topology(c, &t);
	weft_client_close(c);
	if (rc != 0) {
		fprintf(stderr, "weft_load: topology: %s\n", weft_strerror(rc));
		return 2;
	}
	int me = -1;
	for (unsigned m = 0; m < t->n_members; m++)
		if (strcmp(t->members[m].name, a->member) == 0)
			me = (int)m;
	uint64_t owned = 0;
	for (size_t i = 0; me >= 0 && i < s.n_keys; i++)
		for (unsigned r = 0; r < t->owners; r++)
			if (weft_topology_owner(t, s.keys[i], strlen(s.keys[i]), r) == me) {
				owned++;
				break;
			}
	printf("OWNED member=%s keys=%" PRIu64 " of=%zu epoch=%u%s\n", a->member, owned, s.n_keys,
	       t->epoch, me < 0 ? " (not a member)" : "");
	weft_topology_free(t);
	return me < 0 ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: weft_load write --server IP[:PORT] --cache NAME --prefix P --out FILE\n"
		"                       [--seconds S] [--max-ops N] [--rate OPS] [--threads T]\n"
		"                       [--value-bytes B] [--direct]\n"
		"       weft_load verify --server IP[:PORT] --cache NAME --in FILE [--threads T]\n"
		"                       [--value-bytes B] [--direct]\n"
		"       weft_load owned --server IP[:PORT] --in FILE --member NAME\n");
	exit(2);
}

static uint64_t num(const char *s, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = s ? strtoull(s, &end, 10) : 0;
	if (s == NULL || errno || end == s || *end || s[0] == '-' || v > max)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	struct args a = { .seconds = 3600, .threads = 1, .value_bytes = 100 };
	if (argc < 2)
		usage();
	bool write_mode = strcmp(argv[1], "write") == 0;
	bool owned_mode = strcmp(argv[1], "owned") == 0;
	if (!write_mode && !owned_mode && strcmp(argv[1], "verify") != 0)
		usage();
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!owned_mode && strcmp(o, "--direct") == 0) {
			a.direct = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(o, "--server") == 0)
			a.server = v;
		else if (!owned_mode && strcmp(o, "--cache") == 0)
			a.cache = v;
		else if (owned_mode && strcmp(o, "--member") == 0)
			a.member = v;
		else if (write_mode && strcmp(o, "--prefix") == 0)
			a.prefix = v;
		else if ((write_mode && strcmp(o, "--out") == 0) ||
			 (!write_mode && strcmp(o, "--in") == 0))
			a.file = v;
		else if (write_mode && strcmp(o, "--seconds") == 0)
			a.seconds = (double)num(v, 86400);
		else if (write_mode && strcmp(o, "--max-ops") == 0)
			a.max_ops = num(v, UINT64_MAX);
		else if (write_mode && strcmp(o, "--rate") == 0)
			a.rate = num(v, 10000000);
		else if (strcmp(o, "--threads") == 0)
			a.threads = (unsigned)num(v, MAX_THREADS);
		else if (strcmp(o, "--value-bytes") == 0)
			a.value_bytes = (size_t)num(v, MAX_VALUE - MAX_LINE);
		else
			usage();
	}
	if (!a.server || !a.file || a.threads == 0 || (write_mode && !a.prefix) ||
	    (a.prefix && strlen(a.prefix) > 200) || (owned_mode ? !a.member : !a.cache))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (owned_mode)
		return do_owned(&a);
	return write_mode ? do_write(&a) : do_verify(&a);
}
