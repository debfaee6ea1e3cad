/*
 * weft_mq — the messaging integration tests' driver (messaging*.sh), over
 * libweft (include/weft/weft.h "Messaging") only:
 *
 *   weft_mq consume --server IP[:PORT] --dest DEST [--consumers K] [--procs]
 *                   [--tag T] [--out FILE] [--max M] [--wait-ms W] [--nack]
 *                   [--durable NAME] [--count N] [--idle S] [--hold-ms H]
 *                   [--duration S]
 *   weft_mq subscribe ...      (consume, DEST a topic: its subscribers)
 *   weft_mq publish --server IP[:PORT] --dest DEST --publisher ID --count N
 *                   [--out FILE] [--rate R] [--retry-s S] [--duration S]
 *   weft_mq owner   --server IP[:PORT] --dest DEST
 *
 * consume runs K consumers (or subscribers, for a topic) of DEST, each with
 * its own client on --server and its own consumer id: threads of one
 * process, or with --procs one child process each (killed with the parent:
 * PR_SET_PDEATHSIG). Consumer i is tagged "T-i". Each loops RECEIVE (up to M
 * messages, waiting up to W ms for the first); for every message it writes
 *   "<tag> <body> <deliveries> <id>\n"
 * (the body's first 200 bytes, bytes outside '!'..'~' shown as '?', "-" when
 * empty; the message's id in its destination, in hex) to FILE
 * (or stdout) the moment it has it, then holds the batch H ms (--hold-ms: a
 * slow consumer, so that a test killing it finds messages in flight to it)
 * and acks it (--nack: nacks it; a plain topic subscription needs no ack
 * and gets none). An ack that times out is sent again (same ids) for up to
 * ACK_RETRY_S. A RECEIVE refused (any error but TIMEOUT) is tried again
 * after a pause doubling from 10 ms to 500 ms. A consumer stops at
 * --duration (default 60 s), at SIGTERM/SIGINT (after its current call),
 * when the process has received N messages in all (--count), or when the
 * process got no message for S seconds after one came (--idle; with --procs
 * each child counts and idles on its own); it then closes (UNSUBSCRIBE).
 * Ends with one line on stderr per process:
 *   CONSUME tag=T consumers=K received=R acked=A nacked=N ack_unknown=U
 *           ack_errors=E receive_errors=X dropped=D seconds=S by status ...
 * (ack_unknown: ids the node said were not in flight to the consumer).
 *
 * publish publishes "P<ID>-<seq>" for seq 0..N-1 in order, one at a time;
 * a publish failing with TIMEOUT, BUSY, NOT_OWNER, FULL or GONE is tried
 * again (a new call) until it is acknowledged or --retry-s (default 30)
 * passed for it; then it counts as failed and the next one goes. Each
 * ACKNOWLEDGED body is written to FILE (or stdout) as "<body>\n" the moment
 * it is acked. --rate R paces to R publishes per second. Stops at --duration
 * (default 120 s) or SIGTERM/SIGINT. Ends with one line on stderr:
 *   PUBLISH publisher=ID acked=A failed=F retries=R seconds=S
 *           max_ack_gap_ms=G by status ...
 * and exits 0 when all N were acked, 1 otherwise.
 *
 * owner prints "OWNER dest=DEST primary=NAME backups=NAME,... epoch=E" from
 * --server's segment table (the routing name: wire.h weft_wire_dest_route_len).
 *
 * Exit 2: bad usage or a local failure (opening or writing FILE, a client).
 * Output lines are single write(2)s of under PIPE_BUF bytes on an O_APPEND
 * descriptor, so lines of threads and processes never mix, and a test may
 * read FILE while consumers run or after they were killed. Signals are
 * blocked in the workers; the main thread waits for them (sigtimedwait), so
 * no libweft call is interrupted.
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
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <weft/weft.h>

#include "tool_join.h"

#define MAX_CONSUMERS 64
#define N_STATUS 128        /* every status: the node's (< 32) and libweft's (100..) */
#define BODY_SHOWN 200      /* body bytes written per line */
#define MAX_LINE 300        /* tag + body + deliveries + id: below PIPE_BUF */
#define ACK_RETRY_S 5
#define RETRY_PAUSE_NS 20000000ull /* between retries of a refused publish or ack */
#define BACKOFF_MIN_NS 10000000ull /* after a failed RECEIVE, doubling ... */
#define BACKOFF_MAX_NS 500000000ull /* ... up to this, until one succeeds */

struct args {
	const char *mode, *server, *dest, *tag, *file, *durable, *publisher;
	unsigned consumers, max, wait_ms, hold_ms;
	uint64_t count, rate;
	double duration, idle, retry_s;
	bool procs, nack;
};

struct shared {
	const struct args *a;
	int fd;
	uint64_t t0_ns, end_ns;
	atomic_bool stop;
	atomic_int fatal;
	atomic_uint_fast64_t received, acked, nacked, ack_unknown, ack_errors, recv_errors;
	atomic_uint_fast64_t dropped, failed, retries, last_ack_ns, max_gap_ns;
	atomic_uint_fast64_t last_msg_ns;  /* consume: the process's last message (0: none) */
	atomic_uint_fast64_t by_status[N_STATUS];
};

struct worker {
	struct shared *s;
	char tag[64];     /* consume: "T-i" */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pause_ns(uint64_t ns)
{
	struct timespec d = { .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };
	nanosleep(&d, NULL);
}

static void count_status(struct shared *s, int rc)
{
	unsigned st = (unsigned)(rc < 0 ? -rc : rc);
	atomic_fetch_add(&s->by_status[st < N_STATUS ? st : N_STATUS - 1], 1);
}

static bool ending(struct shared *s)
{
	return atomic_load(&s->stop) || now_ns() >= s->end_ns;
}

/* Writes one line with one write(2); a failure stops everything. */
static void put_line(struct shared *s, const char *line, int n)
{
	if (write(s->fd, line, (size_t)n) != n) {
		atomic_store(&s->fatal, errno ? errno : EIO);
		atomic_store(&s->stop, true);
	}
}

static weft_client *connect_or_die(const struct args *a)
{
	weft_client *c = weft_client_connect(a->server, NULL);
	if (c == NULL) {
		fprintf(stderr, "weft_mq: cannot use server '%s': %s\n", a->server, strerror(errno));
		exit(2);
	}
	return c;
}

/* --- consume ---------------------------------------------------------------- */

static void write_message(struct shared *s, const char *tag, const struct weft_message *m)
{
	char line[MAX_LINE];
	int n = snprintf(line, sizeof(line), "%s ", tag);
	size_t shown = m->body_len < BODY_SHOWN ? m->body_len : BODY_SHOWN;
	const unsigned char *b = m->body;
	for (size_t i = 0; i < shown; i++)
		line[n++] = (char)(b[i] >= '!' && b[i] <= '~' ? b[i] : '?');
	if (shown == 0)
		line[n++] = '-';
	n += snprintf(line + n, sizeof(line) - (size_t)n, " %" PRIu32 " %" PRIx64 "\n",
		      m->deliveries, m->id);
	put_line(s, line, n);
}

/* Acks (or nacks) ids, again while the node does not answer, up to
 * ACK_RETRY_S: a repeated ack of ids already acked only counts them unknown. */
static void settle(struct shared *s, weft_consumer *k, const uint64_t *ids, size_t n)
{
	const struct args *a = s->a;
	uint64_t until = now_ns() + ACK_RETRY_S * 1000000000ull;
	int rc;
	uint32_t done = 0;
	for (;;) {
		rc = a->nack ? weft_nack(k, ids, n, &done) : weft_ack(k, ids, n, &done);
		count_status(s, rc);
		if (rc == 0 || (rc != -WEFT_ST_TIMEOUT && rc != -WEFT_ST_BUSY &&
				rc != -WEFT_ST_NOT_OWNER) || now_ns() >= until)
			break;
		if (rc != -WEFT_ST_TIMEOUT)
			pause_ns(RETRY_PAUSE_NS);
	}
	if (rc != 0) {
		atomic_fetch_add(&s->ack_errors, n);
		return;
	}
	atomic_fetch_add(a->nack ? &s->nacked : &s->acked, done);
	atomic_fetch_add(&s->ack_unknown, n - done);
}

static void consume_one(struct shared *s, const char *tag)
{
	const struct args *a = s->a;
	weft_client *c = connect_or_die(a);
	weft_consumer *k = weft_consumer_open(c, a->dest, a->durable);
	if (k == NULL) {
		fprintf(stderr, "weft_mq: consumer of %s: %s\n", a->dest, strerror(errno));
		atomic_store(&s->fatal, errno ? errno : EINVAL);
		atomic_store(&s->stop, true);
		weft_client_close(c);
		return;
	}
	bool plain_topic = strncmp(a->dest, "/topic/", 7) == 0 && a->durable == NULL;
	struct weft_receive_opts ro = { .max = a->max, .wait_ms = a->wait_ms };
	struct weft_message msgs[WEFT_MAX_RECEIVE];
	uint64_t ids[WEFT_MAX_RECEIVE];
	uint64_t backoff_ns = 0;

	while (!ending(s)) {
		uint64_t last = atomic_load(&s->last_msg_ns);
		if (a->idle > 0 && last && now_ns() - last >= (uint64_t)(a->idle * 1e9))
			break;
		size_t n = 0;
		void *block = NULL;
		uint32_t dropped = 0;
		int rc = weft_receive(k, &ro, msgs, &n, &block, &dropped);
		if (rc != 0) {
			count_status(s, rc);
			atomic_fetch_add(&s->recv_errors, 1);
			/* a refusal comes back at once: do not spin on it */
			if (rc != -WEFT_ST_TIMEOUT) {
				backoff_ns = backoff_ns ? backoff_ns * 2 : BACKOFF_MIN_NS;
				backoff_ns = backoff_ns < BACKOFF_MAX_NS ? backoff_ns : BACKOFF_MAX_NS;
				pause_ns(backoff_ns);
			}
			continue;
		}
		backoff_ns = 0;
		atomic_fetch_add(&s->dropped, dropped);
		for (size_t i = 0; i < n; i++) {
			write_message(s, tag, &msgs[i]);
			ids[i] = msgs[i].id;
		}
		free(block);
		if (n == 0)
			continue;
		atomic_store(&s->last_msg_ns, now_ns());
		if (a->hold_ms)
			pause_ns(a->hold_ms * 1000000ull);
		if (!plain_topic)
			settle(s, k, ids, n);
		uint64_t total = atomic_fetch_add(&s->received, n) + n;
		if (a->count && total >= a->count)
			atomic_store(&s->stop, true);
	}
	int rc = weft_consumer_close(k, false);
	if (rc != 0)
		count_status(s, rc);
	weft_client_close(c);
}

static void *consume_thread(void *arg)
{
	struct worker *w = arg;
	consume_one(w->s, w->tag);
	return NULL;
}

/* --- publish ---------------------------------------------------------------- */

static bool publish_retryable(int rc)
{
	return rc == -WEFT_ST_TIMEOUT || rc == -WEFT_ST_BUSY || rc == -WEFT_ST_NOT_OWNER ||
	       rc == -WEFT_ST_FULL || rc == -WEFT_ST_GONE;
}

static void note_ack(struct shared *s)
{
	uint64_t t = now_ns();
	uint64_t prev = atomic_exchange(&s->last_ack_ns, t);
	uint64_t gap = t > prev ? t - prev : 0, m = atomic_load(&s->max_gap_ns);
	while (gap > m && !atomic_compare_exchange_weak(&s->max_gap_ns, &m, gap))
		;
}

static void *publish_thread(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;
	const struct args *a = s->a;
	weft_client *c = connect_or_die(a);
	char body[MAX_LINE];

	for (uint64_t seq = 0; seq < a->count && !ending(s); seq++) {
		if (a->rate) {
			uint64_t due = s->t0_ns + seq * 1000000000ull / a->rate, t = now_ns();
			if (due > t)
				pause_ns(due - t);
		}
		int n = snprintf(body, sizeof(body), "P%s-%" PRIu64, a->publisher, seq);
		uint64_t until = now_ns() + (uint64_t)(a->retry_s * 1e9);
		int rc;
		for (;;) {
			rc = weft_publish(c, a->dest, body, (size_t)n, NULL, NULL, NULL);
			count_status(s, rc);
			if (rc == 0 || !publish_retryable(rc) || ending(s) || now_ns() >= until)
				break;
			atomic_fetch_add(&s->retries, 1);
			if (rc != -WEFT_ST_TIMEOUT)
				pause_ns(RETRY_PAUSE_NS);
		}
		if (rc != 0) {
			atomic_fetch_add(&s->failed, 1);
			continue;
		}
		body[n] = '\n';
		put_line(s, body, n + 1);
		atomic_fetch_add(&s->acked, 1);
		note_ack(s);
	}
	weft_client_close(c);
	return NULL;
}

/* --- running workers ---------------------------------------------------------- */

/* Runs fn on n threads and waits for them; SIGTERM/SIGINT sets s->stop (the
 * workers end after their current call; they also bound themselves).
 * Worker i is tagged "T-i", or "T" alone when tag_as_is (a --procs child). */
static void run_threads(struct shared *s, unsigned n, void *(*fn)(void *), bool tag_as_is)
{
	pthread_t th[MAX_CONSUMERS];
	struct worker w[MAX_CONSUMERS];
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (unsigned i = 0; i < n; i++) {
		w[i] = (struct worker){ .s = s };
		if (tag_as_is)
			snprintf(w[i].tag, sizeof(w[i].tag), "%s", s->a->tag);
		else
			snprintf(w[i].tag, sizeof(w[i].tag), "%s-%u", s->a->tag, i);
		if (pthread_create(&th[i], NULL, fn, &w[i]) != 0) {
			fprintf(stderr, "weft_mq: pthread_create failed\n");
			exit(2);
		}
	}
	tool_join_watching(th, n, &set, &s->stop);
}

/* Writes "HEAD by status NAME=n...\n" to stderr in one write(2), so the
 * summaries of --procs children never mix. */
static void summary(struct shared *s, const char *head)
{
	char buf[4096];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "%s by status", head);
	for (int st = 1; st < N_STATUS && n < sizeof(buf) - 64; st++) {
		uint64_t c = atomic_load(&s->by_status[st]);
		if (c)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s=%" PRIu64,
					      weft_status_name(st), c);
	}
	buf[n++] = '\n';
	if (write(2, buf, n) < 0)
		atomic_store(&s->fatal, errno);
}

static int open_out(struct shared *s)
{
	const struct args *a = s->a;
	s->fd = a->file ? open(a->file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : 1;
	if (s->fd < 0) {
		fprintf(stderr, "weft_mq: %s: %s\n", a->file, strerror(errno));
		return -1;
	}
	s->t0_ns = now_ns();
	s->end_ns = s->t0_ns + (uint64_t)(s->a->duration * 1e9);
	atomic_store(&s->last_ack_ns, s->t0_ns);
	return 0;
}

static int finish(struct shared *s)
{
	if (s->fd != 1)
		close(s->fd);
	if (atomic_load(&s->fatal)) {
		fprintf(stderr, "weft_mq: %s\n", strerror(atomic_load(&s->fatal)));
		return 2;
	}
	return 0;
}

/* The consumers of this process as threads (a --procs child: its one
 * consumer, tagged tag as is); its CONSUME line. */
static int consume_run(const struct args *a, const char *tag, unsigned threads, bool child)
{
	static struct shared s;
	static struct args mine;
	mine = *a;
	mine.tag = tag;
	s.a = &mine;
	if (open_out(&s) != 0)
		return 2;
	run_threads(&s, threads, consume_thread, child);
	char head[512];
	snprintf(head, sizeof(head), "CONSUME tag=%s consumers=%u received=%" PRIu64
		 " acked=%" PRIu64 " nacked=%" PRIu64 " ack_unknown=%" PRIu64 " ack_errors=%" PRIu64
		 " receive_errors=%" PRIu64 " dropped=%" PRIu64 " seconds=%.1f",
		 tag, threads, atomic_load(&s.received), atomic_load(&s.acked),
		 atomic_load(&s.nacked), atomic_load(&s.ack_unknown), atomic_load(&s.ack_errors),
		 atomic_load(&s.recv_errors), atomic_load(&s.dropped),
		 (double)(now_ns() - s.t0_ns) / 1e9);
	summary(&s, head);
	return finish(&s);
}

/* --procs: one child per consumer, tagged "T-i" as its thread would be;
 * SIGTERM/SIGINT is passed on to the children; exit status: the worst. */
static int consume_procs(const struct args *a)
{
	pid_t kids[MAX_CONSUMERS];
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (unsigned i = 0; i < a->consumers; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			fprintf(stderr, "weft_mq: fork: %s\n", strerror(errno));
			exit(2);
		}
		if (kids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			static char tag[64];
			snprintf(tag, sizeof(tag), "%s-%u", a->tag, i);
			_exit(consume_run(a, tag, 1, true) == 0 ? 0 : 2);
		}
	}
	int worst = 0;
	for (unsigned live = a->consumers; live > 0;) {
		struct timespec ts = { 0, 50000000 };
		if (sigtimedwait(&set, NULL, &ts) > 0)
			for (unsigned i = 0; i < a->consumers; i++)
				kill(kids[i], SIGTERM);
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			live--;
			int code = WIFEXITED(st) ? WEXITSTATUS(st) : 2;
			worst = code > worst ? code : worst;
		}
	}
	return worst;
}

static int do_owner(const struct args *a)
{
	weft_client *c = connect_or_die(a);
	struct weft_topology *t = NULL;
	int rc = weft_topology(c, &t);
	weft_client_close(c);
	if (rc != 0) {
		fprintf(stderr, "weft_mq: topology: %s\n", weft_strerror(rc));
		return 2;
	}
	size_t len = weft_wire_dest_route_len(a->dest, strlen(a->dest));
	printf("OWNER dest=%s", a->dest);
	for (unsigned r = 0; r < t->owners; r++) {
		int m = weft_topology_owner(t, a->dest, len, r);
		printf("%s%s", r == 0 ? " primary=" : r == 1 ? " backups=" : ",",
		       m >= 0 ? t->members[m].name : "?");
	}
	if (t->owners == 0)
		printf(" primary=none");
	printf(" epoch=%u\n", t->epoch);
	weft_topology_free(t);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: weft_mq consume --server IP[:PORT] --dest DEST [--consumers K] [--procs]\n"
		"                       [--tag T] [--out FILE] [--max M] [--wait-ms W] [--nack]\n"
		"                       [--durable NAME] [--count N] [--idle S] [--hold-ms H]\n"
		"                       [--duration S]\n"
		"       weft_mq subscribe ... (as consume; DEST is a /topic/)\n"
		"       weft_mq publish --server IP[:PORT] --dest DEST --publisher ID --count N\n"
		"                       [--out FILE] [--rate R] [--retry-s S] [--duration S]\n"
		"       weft_mq owner --server IP[:PORT] --dest DEST\n");
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
	struct args a = { .consumers = 1, .tag = "c", .max = 8, .wait_ms = 1000,
			  .duration = -1, .retry_s = 30 };
	if (argc < 2)
		usage();
	a.mode = argv[1];
	bool subscribe = strcmp(a.mode, "subscribe") == 0;
	bool consume = subscribe || strcmp(a.mode, "consume") == 0;
	bool publish = strcmp(a.mode, "publish") == 0;
	if (!consume && !publish && strcmp(a.mode, "owner") != 0)
		usage();
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (consume && strcmp(o, "--procs") == 0) {
			a.procs = true;
			continue;
		}
		if (consume && strcmp(o, "--nack") == 0) {
			a.nack = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(o, "--server") == 0)
			a.server = v;
		else if (strcmp(o, "--dest") == 0)
			a.dest = v;
		else if ((consume || publish) && strcmp(o, "--out") == 0)
			a.file = v;
		else if ((consume || publish) && strcmp(o, "--count") == 0)
			a.count = num(v, UINT64_MAX);
		else if ((consume || publish) && strcmp(o, "--duration") == 0)
			a.duration = (double)num(v, 86400);
		else if (consume && strcmp(o, "--consumers") == 0)
			a.consumers = (unsigned)num(v, MAX_CONSUMERS);
		else if (consume && strcmp(o, "--tag") == 0)
			a.tag = v;
		else if (consume && strcmp(o, "--max") == 0)
			a.max = (unsigned)num(v, WEFT_MAX_RECEIVE);
		else if (consume && strcmp(o, "--wait-ms") == 0)
			a.wait_ms = (unsigned)num(v, WEFT_MAX_RECEIVE_WAIT_MS);
		else if (consume && strcmp(o, "--durable") == 0)
			a.durable = v;
		else if (consume && strcmp(o, "--hold-ms") == 0)
			a.hold_ms = (unsigned)num(v, 60000);
		else if (consume && strcmp(o, "--idle") == 0)
			a.idle = (double)num(v, 86400);
		else if (publish && strcmp(o, "--publisher") == 0)
			a.publisher = v;
		else if (publish && strcmp(o, "--rate") == 0)
			a.rate = num(v, 10000000);
		else if (publish && strcmp(o, "--retry-s") == 0)
			a.retry_s = (double)num(v, 3600);
		else
			usage();
	}
	if (a.duration < 0)
		a.duration = publish ? 120 : 60;
	if (!a.server || !a.dest || a.consumers == 0 ||
	    (subscribe && strncmp(a.dest, "/topic/", 7) != 0) || a.max == 0 || strlen(a.tag) > 40 ||
	    (publish && (!a.publisher || strlen(a.publisher) > 40 || a.count == 0)))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (consume)
		return a.procs ? consume_procs(&a) : consume_run(&a, a.tag, a.consumers, false);
	if (!publish)
		return do_owner(&a);
	static struct shared s;
	s.a = &a;
	if (open_out(&s) != 0)
		return 2;
	run_threads(&s, 1, publish_thread, true);
	uint64_t acked = atomic_load(&s.acked);
	char head[512];
	snprintf(head, sizeof(head), "PUBLISH publisher=%s acked=%" PRIu64 " failed=%" PRIu64
		 " retries=%" PRIu64 " seconds=%.1f max_ack_gap_ms=%" PRIu64,
		 a.publisher, acked, atomic_load(&s.failed), atomic_load(&s.retries),
		 (double)(now_ns() - s.t0_ns) / 1e9, atomic_load(&s.max_gap_ns) / 1000000u);
	summary(&s, head);
	int rc = finish(&s);
	return rc ? rc : acked == a.count ? 0 : 1;
}
