/*
 * fc_queue.c — weft-faults-client's queue load: publishers and consumers of
 * one queue, recorded as publish-ok / publish-info / deliver history lines
 * (docs/history.md).
 *
 * The queue is opened first with a 5 s visibility timeout and 1000
 * deliveries before dead-lettering, so a fault makes messages come back
 * soon and never sends one to the DLQ. Publisher i ("<tag>pub<i>")
 * publishes bodies "<tag>m<i>-<seq>" (the MSGID), one call each, never
 * re-sent (--pace-ms apart): an acknowledged publish is "publish-ok", an unknown outcome
 * (TIMEOUT, IO, BUSY, GONE, ...) "publish-info", a refusal (FULL,
 * NOT_OWNER, NO_QUORUM, ...) only a comment line. Consumer j
 * ("<tag>con<j>") writes "deliver QUEUE MSGID" for each message the moment
 * it has it, then acks the batch (again while the node does not answer,
 * up to ACK_RETRY_S). Publishers stop at --seconds / --max-ops / SIGTERM;
 * consumers go on draining until no message came for --drain-idle seconds
 * after the publishers ended (or --drain-max passed, or SIGTERM).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc.h"

#define ACK_RETRY_S 10u
#define BODY_MAX 96
#define PAUSE_NS 20000000ull

static atomic_uint pubs_alive;
static atomic_uint_fast64_t pubs_end_ns, last_msg_ns;
static atomic_uint_fast64_t published, pub_unknown, pub_refused, delivered, redelivered;
static atomic_uint_fast64_t ack_errors;

static void publisher(struct fc *f, unsigned i)
{
	const struct fc_args *a = f->a;
	weft_client *c = fc_connect(f, i);
	char name[48], body[BODY_MAX];
	snprintf(name, sizeof(name), "%spub%u", a->tag, i);
	for (uint64_t seq = 0; !fc_ending(f) && fc_take_op(f); seq++) {
		int n = snprintf(body, sizeof(body), "%sm%u-%" PRIu64, a->tag, i, seq);
		if (a->pace_ms)
			fc_pause_ns((uint64_t)a->pace_ms * 1000000u);
		int rc = weft_publish(c, a->dest, body, (size_t)n, NULL, NULL, NULL);
		if (rc == 0) {
			fc_line(f, name, "publish-ok %s %s", a->dest, body);
			atomic_fetch_add(&published, 1);
			continue;
		}
		fc_count_status(f, rc);
		if (fc_definite(rc)) {
			fc_line(f, NULL, "%s publish-refused %s %s %s", name, a->dest, body,
				weft_status_name(rc));
			atomic_fetch_add(&pub_refused, 1);
			fc_pause_ns(PAUSE_NS);
		} else {
			fc_line(f, name, "publish-info %s %s", a->dest, body);
			atomic_fetch_add(&pub_unknown, 1);
		}
	}
	weft_client_close(c);
	atomic_store(&pubs_end_ns, fc_now_ns());
	atomic_fetch_sub(&pubs_alive, 1);
}

static bool drained(const struct fc *f)
{
	if (atomic_load(&pubs_alive) > 0)
		return false;
	uint64_t now = fc_now_ns(), end = atomic_load(&pubs_end_ns);
	uint64_t last = atomic_load(&last_msg_ns);
	uint64_t quiet_since = last > end ? last : end;
	return now - quiet_since >= (uint64_t)f->a->drain_idle_s * 1000000000u ||
	       now - end >= (uint64_t)f->a->drain_max_s * 1000000000u;
}

static void ack_batch(struct fc *f, weft_consumer *k, const uint64_t *ids, size_t n)
{
	uint64_t until = fc_now_ns() + ACK_RETRY_S * 1000000000ull;
	int rc;
	do {
		rc = weft_ack(k, ids, n, NULL);
		if (rc != 0) {
			fc_count_status(f, rc);
			if (rc != -WEFT_ST_TIMEOUT)
				fc_pause_ns(PAUSE_NS);
		}
	} while (rc != 0 && !fc_definite(rc) && fc_now_ns() < until && !atomic_load(&f->stop));
	if (rc != 0)
		atomic_fetch_add(&ack_errors, n);
}

static void consumer(struct fc *f, unsigned j)
{
	const struct fc_args *a = f->a;
	weft_client *c = fc_connect(f, j);
	weft_consumer *k = weft_consumer_open(c, a->dest, NULL);
	char name[48];
	snprintf(name, sizeof(name), "%scon%u", a->tag, j);
	if (k == NULL) {
		atomic_store(&f->fatal, EINVAL);
		atomic_store(&f->stop, true);
		weft_client_close(c);
		return;
	}
	struct weft_receive_opts ro = { .max = 16, .wait_ms = 300 };
	struct weft_message msgs[16];
	uint64_t ids[16];
	while (!atomic_load(&f->stop) && !drained(f)) {
		size_t n = 0;
		void *block = NULL;
		int rc = weft_receive(k, &ro, msgs, &n, &block, NULL);
		if (rc != 0) {
			fc_count_status(f, rc);
			if (rc != -WEFT_ST_TIMEOUT)
				fc_pause_ns(PAUSE_NS);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			char body[BODY_MAX];
			size_t len = msgs[i].body_len < BODY_MAX - 1 ? msgs[i].body_len : BODY_MAX - 1;
			memcpy(body, msgs[i].body, len);
			for (size_t b = 0; b < len; b++)
				if (body[b] <= ' ' || body[b] > '~')
					body[b] = '?';
			body[len] = '\0';
			fc_line(f, name, "deliver %s %s", a->dest, len ? body : "(empty)");
			ids[i] = msgs[i].id;
			atomic_fetch_add(&delivered, 1);
			if (msgs[i].deliveries > 1)
				atomic_fetch_add(&redelivered, 1);
		}
		free(block);
		if (n == 0)
			continue;
		atomic_store(&last_msg_ns, fc_now_ns());
		ack_batch(f, k, ids, n);
	}
	weft_consumer_close(k, false);
	weft_client_close(c);
}

static void queue_thread(struct fc *f, unsigned i)
{
	if (i < f->a->publishers)
		publisher(f, i);
	else
		consumer(f, i - f->a->publishers);
}

/* Opens the queue through any server, bounded by 30 s. */
static int open_dest(struct fc *f)
{
	struct weft_dest_opts_c o = { .visibility_ms = 5000, .max_deliveries = 1000 };
	uint64_t until = fc_now_ns() + 30000000000ull;
	int rc = -WEFT_ST_TIMEOUT;
	for (unsigned i = 0; rc != 0 && fc_now_ns() < until && !atomic_load(&f->stop); i++) {
		weft_client *c = fc_connect(f, i);
		rc = weft_dest_open(c, f->a->dest, &o);
		weft_client_close(c);
		if (rc != 0)
			fc_pause_ns(PAUSE_NS * 5);
	}
	if (rc != 0)
		fprintf(stderr, "weft-faults-client: open %s: %s\n", f->a->dest, weft_strerror(rc));
	return rc;
}

int fc_queue_run(struct fc *f)
{
	const struct fc_args *a = f->a;
	if (open_dest(f) != 0)
		return 1;
	fc_line(f, NULL, "queue dest=%s publishers=%u consumers=%u", a->dest, a->publishers,
		a->consumers);
	atomic_store(&pubs_alive, a->publishers);
	atomic_store(&pubs_end_ns, fc_now_ns());
	fc_run_threads(f, a->publishers + a->consumers, queue_thread);
	char head[320];
	snprintf(head, sizeof(head), "QUEUE published=%" PRIu64 " publish_unknown=%" PRIu64
		 " publish_refused=%" PRIu64 " delivered=%" PRIu64 " redelivered=%" PRIu64
		 " ack_errors=%" PRIu64 " seconds=%.1f", atomic_load(&published),
		 atomic_load(&pub_unknown), atomic_load(&pub_refused), atomic_load(&delivered),
		 atomic_load(&redelivered), atomic_load(&ack_errors),
		 (double)(fc_now_ns() - f->t0_ns) / 1e9);
	fc_summary(f, head);
	return 0;
}
