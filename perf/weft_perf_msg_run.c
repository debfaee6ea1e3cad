/*
 * weft_perf_msg_run.c — one messaging run over a backend (weft or redis):
 *
 *   1. setup: the backend makes the destination ready (main thread);
 *   2. connect: --subs receiver threads open their connection and
 *      subscribe (first receive), --publishers publisher threads open
 *      theirs; all meet the main thread at a barrier;
 *   3. probe: the main thread publishes a probe every 20 ms, on its own
 *      connection, until every receiver of a topic (one receiver of a
 *      queue) has seen one, at most 10 s: from then on every subscription
 *      is known to be in place, wherever it lives;
 *   4. measure: publishers publish stamped bodies for --duration, each
 *      waiting for its acknowledgement before the next (at --rate, paced,
 *      or back to back); receivers take now - stamp of each message;
 *   5. drain: once the last publisher is done, receivers go on until each
 *      has what it expects (a topic subscriber every acknowledged publish,
 *      a queue's consumers all of them together) or --drain-ms passed.
 *
 * Invariants: each connection is used by one thread only; per-thread
 * counters and histograms are merged by the main thread after joining;
 * the only shared writes are the atomics of struct shared; every loop is
 * bounded in time (duration, probe bound, drain bound, backend waits).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weft_perf_msg_internal.h"

#define PROBE_EVERY_NS 20000000ull     /* 20 ms */
#define PROBE_BOUND_NS 10000000000ull  /* 10 s */
#define RECV_WAIT_MS 100u
#define FULL_BACKOFF_NS 1000000ull     /* 1 ms after a "full" */
#define RATE_SLACK_NS 10000000ull      /* a paced publisher never catches up more than 10 ms */

enum phase { PH_CONNECT, PH_PROBE, PH_MEASURE, PH_DRAIN, PH_ABORT };

struct shared {
	const struct wp_msg_config *c;
	const struct wp_msg_backend *b;
	pthread_barrier_t ready;
	_Atomic int phase;
	_Atomic uint64_t start_ns;
	_Atomic uint64_t drain_ns;          /* when the last publisher finished */
	_Atomic uint64_t published;         /* acknowledged, summed as publishers finish */
	_Atomic uint64_t delivered;         /* by every receiver (queue drain) */
	_Atomic unsigned probed;            /* receivers that saw a probe */
	_Atomic unsigned pubs_left;
	_Atomic int setup_failed;
};

struct receiver {
	struct shared *sh;
	unsigned index;
	bool saw_probe;
	bool lost;                 /* its connection is gone (-ENOTCONN) */
	uint64_t delivered, dropped, out_of_order, errors, bad, last_ns;
	uint64_t last_seq[WP_MSG_MAX_PUBLISHERS];
	struct wp_hist hist;
};

struct publisher {
	struct shared *sh;
	unsigned index;
	bool lost;
	uint64_t published, full, errors, last_ns;
};

/* The program, for messages. */
static const char *pname(const struct wp_msg_config *c)
{
	return c->prog == WP_MSG_PROG_REDIS ? "redis_msg_bench" : "weft-perf";
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };
	nanosleep(&ts, NULL);
}

static int phase_of(struct shared *sh)
{
	return atomic_load_explicit(&sh->phase, memory_order_acquire);
}

/* Takes one batch's messages into the receiver's counters; returns how
 * many were measured messages (not probes, not bad). */
static unsigned take(struct receiver *r, const struct wp_msg_batch *b, uint64_t now)
{
	const struct wp_msg_config *c = r->sh->c;
	unsigned taken = 0;
	r->dropped += b->dropped;
	for (unsigned i = 0; i < b->n; i++) {
		struct wp_msg_stamp s;
		if (wp_msg_stamp_read(b->body[i], b->len[i], &s) < 0) {
			r->bad++;
			continue;
		}
		if (s.publisher == WP_MSG_PROBE) {
			if (!r->saw_probe) {
				r->saw_probe = true;
				atomic_fetch_add(&r->sh->probed, 1);
			}
			continue;
		}
		if (s.publisher >= c->publishers || s.sent_ns > now) {
			r->bad++;
			continue;
		}
		wp_hist_record(&r->hist, wp_msg_latency(now, s.sent_ns));
		r->delivered++;
		taken++;
		r->last_ns = now;
		if (s.seq <= r->last_seq[s.publisher])
			r->out_of_order++;
		else
			r->last_seq[s.publisher] = s.seq;
	}
	return taken;
}

/* Whether a draining receiver has what it waits for. */
static bool drained(struct receiver *r)
{
	struct shared *sh = r->sh;
	uint64_t pub = atomic_load(&sh->published);
	if (sh->c->kind == WP_MSG_TOPIC)
		return r->delivered >= pub;
	return atomic_load(&sh->delivered) >= pub;
}

static void *receiver_main(void *arg)
{
	struct receiver *r = arg;
	struct shared *sh = r->sh;
	const struct wp_msg_backend *b = sh->b;
	void *conn = b->sub_open(sh->c, r->index);
	int rc = conn ? b->sub_start(conn) : -EIO;

	if (conn && rc < 0)
		fprintf(stderr, "%s: receiver %u: subscribing: %s\n", pname(sh->c), r->index,
			b->strerror_fn(rc));
	if (rc < 0)
		atomic_store(&sh->setup_failed, 1);
	pthread_barrier_wait(&sh->ready);
	while (rc == 0) {
		int ph = phase_of(sh);
		if (ph == PH_ABORT)
			break;
		if (ph == PH_DRAIN) {
			uint64_t bound = atomic_load(&sh->drain_ns) + sh->c->drain_ms * 1000000ull;
			if (drained(r) || wp_now_ns() >= bound)
				break;
		}
		struct wp_msg_batch batch = { 0 };
		int e = b->receive(conn, RECV_WAIT_MS, &batch);
		uint64_t now = wp_now_ns();
		if (e == 0) {
			unsigned taken = take(r, &batch, now);
			e = b->done(conn, &batch);
			if (sh->c->kind == WP_MSG_QUEUE && taken)
				atomic_fetch_add(&sh->delivered, taken);
		}
		if (e < 0) {
			r->errors++;
			if (r->errors <= 3 || e == -ENOTCONN)
				fprintf(stderr, "%s: receiver %u: %s\n", pname(sh->c), r->index,
					b->strerror_fn(e));
			if (e == -ENOTCONN) {
				r->lost = true;
				break;
			}
		}
	}
	if (conn)
		b->sub_close(conn);
	return NULL;
}

static void *publisher_main(void *arg)
{
	struct publisher *p = arg;
	struct shared *sh = p->sh;
	const struct wp_msg_config *c = sh->c;
	const struct wp_msg_backend *b = sh->b;
	uint8_t *body = malloc(c->size);
	void *conn = body ? b->pub_open(c, p->index) : NULL;

	if (conn == NULL)
		atomic_store(&sh->setup_failed, 1);
	else
		wp_msg_fill(body, c->size, p->index);
	pthread_barrier_wait(&sh->ready);
	int ph;
	while ((ph = phase_of(sh)) == PH_CONNECT || ph == PH_PROBE)
		sleep_ns(1000000);
	if (ph == PH_MEASURE && conn) {
		uint64_t start = atomic_load(&sh->start_ns);
		uint64_t end = start + (uint64_t)(c->duration_s * 1e9);
		uint64_t period = c->rate ? (uint64_t)(1e9 * c->publishers / (double)c->rate) : 0;
		uint64_t due = start + period * p->index / c->publishers;
		uint64_t seq = 0, now;
		while ((now = wp_now_ns()) < end) {
			if (period) {
				if (now < due) {
					sleep_ns(due - now);
					continue;
				}
				due = now > due + RATE_SLACK_NS ? now : due;
				due += period;
			}
			struct wp_msg_stamp s = { .publisher = p->index, .seq = ++seq,
						  .sent_ns = wp_now_ns() };
			wp_msg_stamp_write(body, &s);
			int rc = b->publish(conn, body, c->size);
			if (rc == 0) {
				p->published++;
				p->last_ns = wp_now_ns();
			} else if (rc > 0) {
				p->full++;
				sleep_ns(FULL_BACKOFF_NS);
			} else {
				if (++p->errors <= 3 || rc == -ENOTCONN)
					fprintf(stderr, "%s: publisher %u: %s\n", pname(c), p->index,
						b->strerror_fn(rc));
				if (rc == -ENOTCONN) {
					p->lost = true;
					break;
				}
			}
		}
	}
	atomic_fetch_add(&sh->published, p->published);
	if (atomic_fetch_sub(&sh->pubs_left, 1) == 1 && phase_of(sh) == PH_MEASURE) {
		atomic_store(&sh->drain_ns, wp_now_ns());
		atomic_store_explicit(&sh->phase, PH_DRAIN, memory_order_release);
	}
	if (conn)
		b->pub_close(conn);
	free(body);
	return NULL;
}

/* Step 3: probes until every receiver (topic) or one (queue) saw one.
 * True when they did within PROBE_BOUND_NS. */
static bool probe(struct shared *sh)
{
	const struct wp_msg_config *c = sh->c;
	const struct wp_msg_backend *b = sh->b;
	unsigned want = c->kind == WP_MSG_TOPIC ? c->subs : 1;
	uint8_t body[WP_MSG_STAMP_LEN];
	void *conn = b->pub_open(c, 0);
	uint64_t t0 = wp_now_ns(), next = t0, seq = 0;
	bool ok = false;

	if (conn == NULL)
		return false;
	while (wp_now_ns() - t0 < PROBE_BOUND_NS) {
		if (atomic_load(&sh->probed) >= want) {
			ok = true;
			break;
		}
		if (wp_now_ns() >= next) {
			struct wp_msg_stamp s = { .publisher = WP_MSG_PROBE, .seq = ++seq,
						  .sent_ns = wp_now_ns() };
			wp_msg_stamp_write(body, &s);
			int rc = b->publish(conn, body, sizeof(body));
			if (rc < 0 && seq <= 3)
				fprintf(stderr, "%s: probe: %s\n", pname(c), b->strerror_fn(rc));
			next = wp_now_ns() + PROBE_EVERY_NS;
		}
		sleep_ns(1000000);
	}
	b->pub_close(conn);
	if (!ok)
		fprintf(stderr, "%s: only %u of %u receivers saw a probe message within 10 s\n",
			pname(c), atomic_load(&sh->probed), want);
	return ok;
}

int wp_msg_run(const struct wp_msg_config *c, const struct wp_msg_backend *b,
	       struct wp_msg_result *res)
{
	struct shared sh = { .c = c, .b = b };
	unsigned nthreads = c->subs + c->publishers;
	struct receiver *rv = calloc(c->subs, sizeof(*rv));
	struct publisher *pb = calloc(c->publishers, sizeof(*pb));
	pthread_t *tid = calloc(nthreads, sizeof(*tid));
	unsigned started = 0;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (rv == NULL || pb == NULL || tid == NULL) {
		fprintf(stderr, "%s: out of memory\n", pname(c));
		goto out;
	}
	if (b->setup(c) < 0)
		goto out;
	atomic_store(&sh.pubs_left, c->publishers);
	if (pthread_barrier_init(&sh.ready, NULL, nthreads + 1) != 0)
		goto out_teardown;
	for (unsigned i = 0; i < nthreads; i++) {
		void *(*fn)(void *) = i < c->subs ? receiver_main : publisher_main;
		void *arg;
		if (i < c->subs) {
			rv[i] = (struct receiver){ .sh = &sh, .index = i };
			arg = &rv[i];
		} else {
			pb[i - c->subs] = (struct publisher){ .sh = &sh, .index = i - c->subs };
			arg = &pb[i - c->subs];
		}
		if (pthread_create(&tid[i], NULL, fn, arg) != 0) {
			/* The barrier cannot complete: nothing was measured. */
			fprintf(stderr, "%s: pthread_create failed\n", pname(c));
			exit(2);
		}
		started++;
	}
	pthread_barrier_wait(&sh.ready);
	if (atomic_load(&sh.setup_failed)) {
		atomic_store(&sh.phase, PH_ABORT);
	} else {
		atomic_store(&sh.phase, PH_PROBE);
		res->probe_ok = probe(&sh);
		if (res->probe_ok) {
			atomic_store(&sh.start_ns, wp_now_ns());
			atomic_store_explicit(&sh.phase, PH_MEASURE, memory_order_release);
			rc = 0;
		} else {
			atomic_store(&sh.phase, PH_ABORT);
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&sh.ready);

	uint64_t start = atomic_load(&sh.start_ns), pub_end = start, deliver_end = start;
	for (unsigned i = 0; i < c->publishers; i++) {
		res->published += pb[i].published;
		res->full += pb[i].full;
		res->pub_errors += pb[i].errors;
		res->pubs_lost += pb[i].lost;
		if (pb[i].last_ns > pub_end)
			pub_end = pb[i].last_ns;
	}
	for (unsigned i = 0; i < c->subs; i++) {
		res->delivered += rv[i].delivered;
		res->dropped += rv[i].dropped;
		res->out_of_order += rv[i].out_of_order;
		res->recv_errors += rv[i].errors;
		res->subs_lost += rv[i].lost;
		res->bad += rv[i].bad;
		wp_hist_merge(&res->hist, &rv[i].hist);
		if (rv[i].last_ns > deliver_end)
			deliver_end = rv[i].last_ns;
	}
	res->expected = c->kind == WP_MSG_TOPIC ? res->published * c->subs : res->published;
	res->pub_secs = (double)(pub_end - start) / 1e9;
	res->deliver_secs = (double)(deliver_end - start) / 1e9;
out_teardown:
	b->teardown(c);
out:
	free(rv);
	free(pb);
	free(tid);
	return rc;
}

void wp_msg_report(const struct wp_msg_config *c, const char *system,
		   const struct wp_msg_result *r)
{
	const char *kind = c->kind == WP_MSG_QUEUE ? "queue" : "topic";
	double pub_rate = r->pub_secs > 0 ? (double)r->published / r->pub_secs : 0;
	double del_rate = r->deliver_secs > 0 ? (double)r->delivered / r->deliver_secs : 0;
	double p50 = (double)wp_hist_quantile(&r->hist, 0.50) / 1e3;
	double p99 = (double)wp_hist_quantile(&r->hist, 0.99) / 1e3;
	double p999 = (double)wp_hist_quantile(&r->hist, 0.999) / 1e3;
	double pmax = (double)r->hist.max / 1e3;
	uint64_t undelivered = r->expected > r->delivered ? r->expected - r->delivered : 0;
	char rate[32];

	if (c->rate)
		snprintf(rate, sizeof(rate), "%" PRIu64 "/s", c->rate);
	else
		snprintf(rate, sizeof(rate), "max");
	printf("%s msg %s %s %s (%s): %u node(s), %u publisher(s), %u %s, %u B, %.1f s, rate %s\n",
	       pname(c), system, kind, c->dest, wp_msg_variant(c), c->n_nodes, c->publishers, c->subs,
	       c->kind == WP_MSG_QUEUE ? "consumer(s)" : "subscriber(s)", c->size, c->duration_s,
	       rate);
	printf("  published %" PRIu64 " acknowledged in %.2f s: %.0f/s; full %" PRIu64 ", errors %" PRIu64 "\n",
	       r->published, r->pub_secs, pub_rate, r->full, r->pub_errors);
	printf("  delivered %" PRIu64 " of %" PRIu64 " expected in %.2f s: %.0f/s; undelivered %" PRIu64
	       ", dropped %" PRIu64 ", out of order %" PRIu64 ", receive errors %" PRIu64 ", bad %" PRIu64 "\n",
	       r->delivered, r->expected, r->deliver_secs, del_rate, undelivered, r->dropped,
	       r->out_of_order, r->recv_errors, r->bad);
	if (r->subs_lost || r->pubs_lost)
		printf("  connections lost: %u receiver(s), %u publisher(s)\n", r->subs_lost,
		       r->pubs_lost);
	printf("  end-to-end latency us: p50 %.1f  p99 %.1f  p999 %.1f  max %.1f\n", p50, p99, p999,
	       pmax);
	printf("RESULT system=%s dest=%s variant=%s nodes=%u publishers=%u subs=%u size=%u rate=%" PRIu64
	       " pub_rate=%.0f deliver_rate=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f published=%" PRIu64
	       " delivered=%" PRIu64 " expected=%" PRIu64 " undelivered=%" PRIu64 " full=%" PRIu64
	       " dropped=%" PRIu64 " out_of_order=%" PRIu64 " errors=%" PRIu64 " lost_conns=%u\n",
	       system, kind, wp_msg_variant(c), c->n_nodes, c->publishers, c->subs, c->size, c->rate,
	       pub_rate, del_rate, p50, p99, pmax, r->published, r->delivered, r->expected, undelivered,
	       r->full, r->dropped, r->out_of_order, r->pub_errors + r->recv_errors + r->bad,
	       r->subs_lost + r->pubs_lost);
	fflush(stdout);
}

int wp_msg_main(int argc, char **argv, enum wp_msg_prog prog, const struct wp_msg_backend *b)
{
	struct wp_msg_config c;
	char err[160];
	int rc = wp_msg_parse(argc, argv, prog, &c, err, sizeof(err));

	if (rc == 1) {
		fputs(wp_msg_usage(prog), stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n%s", pname(&(struct wp_msg_config){ .prog = prog }), err,
			wp_msg_usage(prog));
		return 2;
	}
	wp_msg_default_dest(&c, (unsigned long)getpid());
	struct wp_msg_result *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return 2;
	if (wp_msg_run(&c, b, r) < 0) {
		free(r);
		return 2;
	}
	wp_msg_report(&c, b->name, r);
	rc = r->delivered == 0 ? 1 : 0;
	free(r);
	return rc;
}
