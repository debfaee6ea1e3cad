/*
 * weft-perf's messaging mode (`weft-perf --msg`) and its redis baseline
 * (redis_msg_bench): one harness, two backends.
 *
 *   weft_perf_msg_args.c   the command line (pure; shared by both programs)
 *   weft_perf_msg_stamp.c  the send time stamp in a message body (pure)
 *   weft_perf_msg_run.c    the run: publisher and receiver threads, the
 *                          start probe, the drain, the report
 *   weft_perf_msg.c        the weft backend (libweft publish / receive / ack)
 *   redis_msg_bench.c      the redis backend (hiredis)
 *
 * Invariants: every thread has its own connection (weft_client or redis
 * context), opened and closed on that thread; every wait is bounded (the
 * run by --duration, the start probe by 10 s, the drain by --drain-ms, each
 * receive by its wait); latency is taken by the receiver as now - the
 * publisher's stamp, both CLOCK_MONOTONIC in one process; probe messages
 * (publisher index WP_MSG_PROBE) are never counted.
 */
#ifndef WEFT_PERF_MSG_INTERNAL_H
#define WEFT_PERF_MSG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft_perf_internal.h"

#define WP_MSG_MAX_NODES 16u
#define WP_MSG_MAX_SUBS 256u
#define WP_MSG_MAX_PUBLISHERS 64u
#define WP_MSG_MAX_BATCH 64u       /* = WEFT_MAX_RECEIVE */
#define WP_MSG_DEST_MAX 64u        /* destination name bytes (wire.h WEFT_MAX_NAME_LEN) */

enum wp_msg_kind { WP_MSG_QUEUE = 1, WP_MSG_TOPIC = 2 };

/* redis_msg_bench's queue commands: BRPOP pops (at most once); BLMOVE moves
 * the message to a processing list, and LREM removes it from there once
 * handled (the "reliable queue" pattern: an ack). */
enum wp_msg_redis_queue { WP_MSG_RQ_BLMOVE = 1, WP_MSG_RQ_BRPOP = 2 };

/* Which program parses: options of the other one are refused. */
enum wp_msg_prog { WP_MSG_PROG_WEFT = 1, WP_MSG_PROG_REDIS = 2 };

struct wp_msg_addr {
	char host[16];             /* dotted IPv4 */
	uint16_t port;             /* 0: the program's default (weft 7700, redis 6379) */
};

struct wp_msg_config {
	enum wp_msg_prog prog;     /* who parsed it */
	enum wp_msg_kind kind;
	struct wp_msg_addr node[WP_MSG_MAX_NODES];
	unsigned n_nodes;          /* >= 1 */
	unsigned subs;             /* consumers (queue) or subscribers (topic) */
	unsigned publishers;
	uint32_t size;             /* body bytes, >= WP_MSG_STAMP_LEN */
	double duration_s;         /* > 0 */
	uint64_t rate;             /* publishes/s over all publishers; 0: as fast as possible */
	char dest[WP_MSG_DEST_MAX + 1]; /* "" until wp_msg_default_dest */
	unsigned batch;            /* weft: messages per RECEIVE, 1..64 */
	uint32_t timeout_ms;       /* weft: per-attempt timeout */
	uint32_t drain_ms;         /* receivers' bound after the last publish */
	enum wp_msg_redis_queue redis_queue;
};

/* Parses argv[1..] (every option of its program; --msg KIND is required,
 * as is --nodes or --server). Returns 0, 1 for --help (nothing else
 * checked), or -EINVAL with a message in err. Pure: no I/O, no exit;
 * getopt state is reset first, so it may be called more than once. */
int wp_msg_parse(int argc, char **argv, enum wp_msg_prog prog, struct wp_msg_config *c,
		 char *err, size_t err_len);
/* The usage text of prog. */
const char *wp_msg_usage(enum wp_msg_prog prog);
/* Sets c->dest, when still empty, to "/queue/wperf-<tag>" or
 * "/topic/wperf-<tag>". Pure. */
void wp_msg_default_dest(struct wp_msg_config *c, unsigned long tag);
/* Parses "IPv4[:PORT]" into a. 0 or -EINVAL. Pure. */
int wp_msg_parse_addr(const char *s, struct wp_msg_addr *a);

/* --- weft_perf_msg_stamp.c: the body's first WP_MSG_STAMP_LEN bytes -------
 * [u32 magic "WPMS"][u32 publisher][u64 seq][u64 send ns], little-endian,
 * then filler bytes up to the body size (letters). */
#define WP_MSG_STAMP_LEN 24u
#define WP_MSG_STAMP_MAGIC 0x534d5057u /* "WPMS" */
#define WP_MSG_PROBE UINT32_MAX        /* publisher index of a start probe */

struct wp_msg_stamp {
	uint32_t publisher;
	uint64_t seq;
	uint64_t sent_ns;
};

/* Writes the filler bytes after the stamp, body[WP_MSG_STAMP_LEN..len)
 * (once per buffer). Pure. */
void wp_msg_fill(uint8_t *body, size_t len, uint32_t publisher);
/* Writes s into body's first WP_MSG_STAMP_LEN bytes. Pure. */
void wp_msg_stamp_write(uint8_t *body, const struct wp_msg_stamp *s);
/* Reads the stamp of body: 0, or -EINVAL when it is too short or has no
 * magic (not a weft-perf message). Pure. */
int wp_msg_stamp_read(const void *body, size_t len, struct wp_msg_stamp *s);
/* End-to-end latency of a message stamped sent_ns and received at now_ns:
 * now - sent, 0 when the stamp is later than now (it cannot be, with one
 * monotonic clock: counted by the caller as a clock error). Pure. */
static inline uint64_t wp_msg_latency(uint64_t now_ns, uint64_t sent_ns)
{
	return now_ns > sent_ns ? now_ns - sent_ns : 0;
}

/* --- weft_perf_msg_run.c: the harness and its backends -------------------- */

/* One receive's messages: bodies point into backend memory valid until
 * the backend's done(). */
struct wp_msg_batch {
	unsigned n;
	const void *body[WP_MSG_MAX_BATCH];
	size_t len[WP_MSG_MAX_BATCH];
	uint64_t id[WP_MSG_MAX_BATCH];  /* backend's own use (weft: message ids) */
	uint32_t dropped;               /* messages the backend says were lost */
	void *block;                    /* backend's own use */
};

/* A backend. Every connection function runs on the thread that uses the
 * connection; setup and teardown run on the main thread before any and
 * after every other thread. Errors: negative errno-like codes, printed
 * through strerror_fn; -ENOTCONN means the connection is gone for good
 * (the thread counts it and stops: its receiver's messages stay
 * undelivered); any other error is counted and the thread goes on. */
struct wp_msg_backend {
	const char *name;                      /* "weft", "redis" */
	int (*setup)(const struct wp_msg_config *c);      /* destination ready */
	void (*teardown)(const struct wp_msg_config *c);
	/* Publisher i's connection; NULL on failure (message printed). */
	void *(*pub_open)(const struct wp_msg_config *c, unsigned i);
	/* Publishes one body and waits for its acknowledgement: 0, 1 when the
	 * destination is full (nothing published), < 0 on an error. */
	int (*publish)(void *p, const void *body, size_t len);
	void (*pub_close)(void *p);
	/* Receiver i's connection; NULL on failure (message printed). */
	void *(*sub_open)(const struct wp_msg_config *c, unsigned i);
	/* Subscribes (a topic's messages reach it from then on): 0 or < 0. */
	int (*sub_start)(void *s);
	/* Receives up to c->batch messages, waiting up to wait_ms for the
	 * first: fills b (b->n may be 0); 0 or < 0. */
	int (*receive)(void *s, uint32_t wait_ms, struct wp_msg_batch *b);
	/* Done with b's messages: acks them (queues) and frees b's memory. 0 or < 0. */
	int (*done)(void *s, struct wp_msg_batch *b);
	void (*sub_close)(void *s);
	const char *(*strerror_fn)(int rc);
};

/* What a run measured (wp_msg_run fills it). */
struct wp_msg_result {
	uint64_t published;     /* acknowledged publishes (not probes) */
	uint64_t full;          /* publishes refused as full */
	uint64_t pub_errors;
	uint64_t delivered;     /* messages received (not probes), all receivers */
	uint64_t expected;      /* queue: published; topic: published x subs */
	uint64_t dropped;       /* the backend's own count of lost messages */
	uint64_t out_of_order;  /* a publisher's seq not above the last one the
	                           receiver got from it (redelivery, reordering) */
	uint64_t recv_errors;
	unsigned subs_lost;     /* receivers whose connection was lost (-ENOTCONN) */
	unsigned pubs_lost;     /* publishers whose connection was lost */
	uint64_t bad;           /* bodies without a stamp, stamps from the future */
	double pub_secs;        /* first publish to the end of the last one */
	double deliver_secs;    /* first publish to the last delivery */
	struct wp_hist hist;    /* end-to-end latency, ns */
	bool probe_ok;          /* every receiver saw the start probe */
};

/* Runs the publishers and receivers of c over backend b and fills r.
 * 0, or -1 when the run could not start (a connection or the setup
 * failed, the probe never came back): a message was printed. */
int wp_msg_run(const struct wp_msg_config *c, const struct wp_msg_backend *b,
	       struct wp_msg_result *r);
/* The RESULT line's variant: weft "ack" (queue) or "sub" (topic); redis
 * "blmove", "brpop" or "pubsub". Pure. */
const char *wp_msg_variant(const struct wp_msg_config *c);
/* Prints the summary and the RESULT line (system = b->name). */
void wp_msg_report(const struct wp_msg_config *c, const char *system,
		   const struct wp_msg_result *r);
/* Program entry shared by weft-perf --msg and redis_msg_bench: parses,
 * runs, reports. Returns the exit status: 0, 1 (nothing delivered), 2 (bad
 * options or setup). */
int wp_msg_main(int argc, char **argv, enum wp_msg_prog prog, const struct wp_msg_backend *b);

/* weft_perf_msg.c: weft-perf's --msg mode (main() hands it argv). */
int wp_msg_weft_main(int argc, char **argv);

#endif /* WEFT_PERF_MSG_INTERNAL_H */
