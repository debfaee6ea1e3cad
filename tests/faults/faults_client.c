/*
 * weft-faults-client — the fault scenarios' client (tests/faults/run): runs
 * a load over libweft and records every operation as a history line
 * (docs/history.md) for weft-history-check.
 *
 *   weft-faults-client register --servers IP[,IP...] --cache C --out FILE
 *       [--procs T] [--keys K] [--seconds S] [--max-ops N] [--seed N]
 *       [--tag T] [--direct] [--timeout-ms MS] [--retries R] [--pace-ms MS]
 *   weft-faults-client verify   --servers IP[,IP...] --cache C --out FILE
 *       [--keys K] [--tag T] [--direct]
 *   weft-faults-client queue    --servers IP[,IP...] --dest /queue/Q --out FILE
 *       [--publishers P] [--consumers K] [--seconds S] [--max-ops N]
 *       [--drain-idle S] [--drain-max S] [--tag T] [--pace-ms MS]
 *   weft-faults-client session  --servers IP[,IP...] --cache STORE --out FILE
 *       [--procs T] [--keys K] [--seconds S] [--max-ops N] [--seed N] ...
 *
 * register: T threads (PROCs "<tag>p<i>"), PROC i seeded on server
 * i % servers, each looping a random read, write or CAS of one of K keys
 * "k<j>" (fc_register.c), pausing --pace-ms between ops. verify: one read of every key (PROC
 * "<tag>verify"), appended to FILE; prints "VERIFY keys=K found=F
 * errors=E digest=HEX" (the digest of every KEY=VALUE, so runs through
 * different nodes with --direct show whether the nodes converged).
 * queue: publishers and consumers of a queue (fc_queue.c). session: K
 * sessions of session store STORE, read and written as registers
 * (fc_session.c).
 * Every mode stops at --seconds (default 30), --max-ops (default none) or
 * SIGTERM/SIGINT, after its current call. Ends with a summary line on
 * stderr ("REGISTER ops=N ok=N fail=N info=N seconds=S", ...). Exit 0; 2 on
 * bad usage or a local failure (FILE not writable).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fc.h"
#include "tool_join.h"

uint64_t fc_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void fc_pause_ns(uint64_t ns)
{
	struct timespec d = { .tv_sec = (time_t)(ns / 1000000000u),
			      .tv_nsec = (long)(ns % 1000000000u) };
	nanosleep(&d, NULL);
}

void fc_line(struct fc *f, const char *proc, const char *fmt, ...)
{
	char line[FC_LINE_MAX];
	int n = proc ? snprintf(line, sizeof(line), "%" PRIu64 " %s ", fc_now_ns(), proc)
		     : snprintf(line, sizeof(line), "# ");
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(f->fd, line, (size_t)n) != n) {
		atomic_store(&f->fatal, errno ? errno : EIO);
		atomic_store(&f->stop, true);
	}
}

bool fc_ending(struct fc *f)
{
	if (atomic_load(&f->stop) || fc_now_ns() >= f->end_ns)
		return true;
	return f->a->max_ops && atomic_load(&f->ops) >= f->a->max_ops;
}

bool fc_take_op(struct fc *f)
{
	uint64_t n = atomic_fetch_add(&f->ops, 1) + 1;
	return f->a->max_ops == 0 || n <= f->a->max_ops;
}

weft_client *fc_connect(const struct fc *f, unsigned i)
{
	struct weft_client_opts o;
	weft_client_opts_init(&o);
	o.timeout_ms = f->a->timeout_ms;
	o.retries = f->a->retries;
	weft_client *c = weft_client_connect(f->a->servers[i % f->a->n_servers], &o);
	if (c == NULL) {
		fprintf(stderr, "weft-faults-client: server '%s': %s\n",
			f->a->servers[i % f->a->n_servers], strerror(errno));
		exit(2);
	}
	if (f->a->direct)
		weft_client_set_routing(c, false);
	return c;
}

bool fc_definite(int rc)
{
	switch (-rc) {
	case WEFT_ST_NOT_FOUND:
	case WEFT_ST_EXISTS:
	case WEFT_ST_VERSION_MISMATCH:
	case WEFT_ST_NO_QUORUM:
	case WEFT_ST_NOT_OWNER:
	case WEFT_ST_FENCED:
	case WEFT_ST_FULL:
	case WEFT_ST_INVALID_ARG:
	case WEFT_ST_BAD_REQUEST:
	case WEFT_ST_VALUE_TOO_LARGE:
	case WEFT_ST_KEY_TOO_LONG:
	case WEFT_ST_NO_MEMORY:
		return true;
	default:
		return false; /* TIMEOUT, IO, BUSY, INTERNAL, GONE, ...: unknown */
	}
}

void fc_count_status(struct fc *f, int rc)
{
	unsigned st = (unsigned)(rc < 0 ? -rc : rc);
	atomic_fetch_add(&f->by_status[st < FC_N_STATUS ? st : FC_N_STATUS - 1], 1);
}

void fc_summary(struct fc *f, const char *head)
{
	char buf[2048];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "%s by status", head);
	for (unsigned st = 1; st < FC_N_STATUS && n < sizeof(buf) - 64; st++) {
		uint64_t c = atomic_load(&f->by_status[st]);
		if (c)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s=%" PRIu64,
					      weft_status_name((int)st), c);
	}
	fprintf(stderr, "%s\n", buf);
}

uint64_t fc_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

struct fc_thread {
	struct fc *f;
	unsigned i;
	void (*fn)(struct fc *, unsigned);
};

static void *thread_main(void *arg)
{
	struct fc_thread *t = arg;
	t->fn(t->f, t->i);
	return NULL;
}

void fc_run_threads(struct fc *f, unsigned n, void (*fn)(struct fc *, unsigned))
{
	pthread_t th[FC_MAX_PROCS];
	struct fc_thread t[FC_MAX_PROCS];
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (unsigned i = 0; i < n; i++) {
		t[i] = (struct fc_thread){ .f = f, .i = i, .fn = fn };
		if (pthread_create(&th[i], NULL, thread_main, &t[i]) != 0) {
			fprintf(stderr, "weft-faults-client: pthread_create failed\n");
			exit(2);
		}
	}
	tool_join_watching(th, n, &set, &f->stop);
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fprintf(stderr,
		"usage: weft-faults-client register|verify --servers IP[,IP...] --cache C --out FILE\n"
		"         [--procs T] [--keys K] [--seconds S] [--max-ops N] [--seed N] [--tag T]\n"
		"         [--direct] [--timeout-ms MS] [--retries R] [--pace-ms MS]\n"
		"       weft-faults-client queue --servers IP[,IP...] --dest /queue/Q --out FILE\n"
		"         [--publishers P] [--consumers K] [--seconds S] [--max-ops N]\n"
		"         [--drain-idle S] [--drain-max S] [--tag T] [--pace-ms MS]\n"
		"       weft-faults-client session --servers IP[,IP...] --cache STORE --out FILE\n"
		"         [--procs T] [--keys K] [--seconds S] [--max-ops N] [--seed N] [--tag T]\n"
		"         [--timeout-ms MS] [--retries R] [--pace-ms MS]\n");
	exit(2);
}

static uint64_t num(const char *s, uint64_t lo, uint64_t hi)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi)
		usage();
	return v;
}

static void split_servers(struct fc_args *a, char *list)
{
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (a->n_servers == FC_MAX_SERVERS)
			usage();
		a->servers[a->n_servers++] = t;
	}
}

static void parse(struct fc_args *a, int argc, char **argv)
{
	*a = (struct fc_args){ .tag = "", .procs = 4, .keys = 16, .publishers = 2,
			       .consumers = 2, .timeout_ms = 300, .retries = 3,
			       .drain_idle_s = 5, .drain_max_s = 60, .seconds = 30 };
	if (argc < 2)
		usage();
	a->mode = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--direct") == 0) {
			a->direct = true;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		char *v = argv[++i];
		if (strcmp(o, "--servers") == 0)
			split_servers(a, v);
		else if (strcmp(o, "--cache") == 0)
			a->cache = v;
		else if (strcmp(o, "--dest") == 0)
			a->dest = v;
		else if (strcmp(o, "--out") == 0)
			a->out = v;
		else if (strcmp(o, "--tag") == 0)
			a->tag = v;
		else if (strcmp(o, "--procs") == 0)
			a->procs = (unsigned)num(v, 1, FC_MAX_PROCS);
		else if (strcmp(o, "--keys") == 0)
			a->keys = (unsigned)num(v, 1, 100000);
		else if (strcmp(o, "--publishers") == 0)
			a->publishers = (unsigned)num(v, 0, FC_MAX_PROCS / 2);
		else if (strcmp(o, "--consumers") == 0)
			a->consumers = (unsigned)num(v, 1, FC_MAX_PROCS / 2);
		else if (strcmp(o, "--seconds") == 0)
			a->seconds = (double)num(v, 1, 1000000);
		else if (strcmp(o, "--max-ops") == 0)
			a->max_ops = num(v, 1, UINT64_MAX);
		else if (strcmp(o, "--seed") == 0)
			a->seed = num(v, 0, UINT64_MAX);
		else if (strcmp(o, "--timeout-ms") == 0)
			a->timeout_ms = (unsigned)num(v, 1, 60000);
		else if (strcmp(o, "--retries") == 0)
			a->retries = (unsigned)num(v, 0, 100);
		else if (strcmp(o, "--pace-ms") == 0)
			a->pace_ms = (unsigned)num(v, 0, 60000);
		else if (strcmp(o, "--drain-idle") == 0)
			a->drain_idle_s = (unsigned)num(v, 1, 3600);
		else if (strcmp(o, "--drain-max") == 0)
			a->drain_max_s = (unsigned)num(v, 1, 36000);
		else
			usage();
	}
	bool queue = strcmp(a->mode, "queue") == 0;
	if (a->n_servers == 0 || a->out == NULL || (queue ? a->dest == NULL : a->cache == NULL))
		usage();
	if (a->seed == 0)
		a->seed = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ fc_now_ns();
}

int main(int argc, char **argv)
{
	static struct fc_args a;
	static struct fc f;
	parse(&a, argc, argv);
	f.a = &a;
	f.fd = open(a.out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (f.fd < 0) {
		fprintf(stderr, "weft-faults-client: %s: %s\n", a.out, strerror(errno));
		return 2;
	}
	f.t0_ns = fc_now_ns();
	f.end_ns = f.t0_ns + (uint64_t)(a.seconds * 1e9);
	int rc;
	if (strcmp(a.mode, "register") == 0)
		rc = fc_register_run(&f);
	else if (strcmp(a.mode, "verify") == 0)
		rc = fc_verify_run(&f);
	else if (strcmp(a.mode, "queue") == 0)
		rc = fc_queue_run(&f);
	else if (strcmp(a.mode, "session") == 0)
		rc = fc_session_run(&f);
	else
		usage();
	close(f.fd);
	if (atomic_load(&f.fatal)) {
		fprintf(stderr, "weft-faults-client: %s\n", strerror(atomic_load(&f.fatal)));
		return 2;
	}
	return rc == 0 ? 0 : 2;
}
