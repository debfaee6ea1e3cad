/*
 * fc.h — internals shared by the parts of weft-faults-client (the fault
 * scenarios' history-recording client, tests/faults/): its arguments, the
 * history file, the clock and the status mapping.
 *
 * Invariants: every history line is written with one write(2) on an
 * O_APPEND descriptor and is shorter than PIPE_BUF, so lines of threads
 * never mix and the file is complete up to the last line even after a
 * kill. Times are CLOCK_MONOTONIC nanoseconds. Each PROC (a thread) has at
 * most one register operation outstanding (docs/history.md).
 */
#ifndef WEFT_FAULTS_FC_H
#define WEFT_FAULTS_FC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <weft/weft.h>

#define FC_MAX_SERVERS 16
#define FC_MAX_PROCS 64
#define FC_LINE_MAX 400
#define FC_N_STATUS 128 /* the node's statuses (< 32) and libweft's (100..) */

struct fc_args {
	const char *mode, *cache, *dest, *out, *tag;
	const char *servers[FC_MAX_SERVERS];
	unsigned n_servers, procs, keys, publishers, consumers;
	unsigned timeout_ms, retries, drain_idle_s, drain_max_s, pace_ms;
	uint64_t max_ops, seed;
	double seconds;
	bool direct;
};

struct fc {
	const struct fc_args *a;
	int fd;
	uint64_t t0_ns, end_ns;
	atomic_bool stop;
	atomic_int fatal;
	atomic_uint_fast64_t ops, ok, fail, info;
	atomic_uint_fast64_t by_status[FC_N_STATUS];
};

uint64_t fc_now_ns(void);
void fc_pause_ns(uint64_t ns);
/* A history line: "T PROC " + the formatted rest + "\n", one write(2);
 * proc NULL: a comment line "# " + the rest. */
void fc_line(struct fc *f, const char *proc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Whether the run should end: SIGTERM/SIGINT, --seconds or --max-ops. */
bool fc_ending(struct fc *f);
/* Takes one op from the --max-ops budget; false when it is spent. */
bool fc_take_op(struct fc *f);
/* A client on server i % n_servers with the run's timeouts; exits 2 when
 * the address is bad. */
weft_client *fc_connect(const struct fc *f, unsigned i);
/* Whether a failed write/cas status means "definitely not applied" (fail)
 * rather than "outcome unknown" (info). */
bool fc_definite(int rc);
/* Counts a failed call's status for the summary. */
void fc_count_status(struct fc *f, int rc);
/* Prints "HEAD by status NAME=n ..." on stderr. */
void fc_summary(struct fc *f, const char *head);
/* xorshift64* step (per-thread state, never 0). */
uint64_t fc_rand(uint64_t *s);

/* The modes (fc_register.c, fc_queue.c, fc_session.c): 0 or 1 (a local
 * failure). */
int fc_register_run(struct fc *f);
int fc_verify_run(struct fc *f);
int fc_queue_run(struct fc *f);
int fc_session_run(struct fc *f);

/* Runs fn(f, i) on n threads with SIGTERM/SIGINT blocked in them; the
 * calling thread waits for the signals and sets f->stop. */
void fc_run_threads(struct fc *f, unsigned n, void (*fn)(struct fc *, unsigned));

#endif
