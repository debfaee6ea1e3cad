/*
 * hist.h — the history checker of the fault suite (weft-history-check):
 * one parsed history (the merged files of every client process), the
 * register linearizability search, and the queue and singleton counts.
 * The format and the meaning of every count are in docs/history.md.
 *
 * Ownership and invariants:
 *  - A struct hist owns every string it refers to: tokens (keys, values,
 *    process ids, queue names, message ids) are interned once into its
 *    string table and named by a uint32 id; id HIST_NIL is the token `nil`.
 *  - Register operations are paired per (file, PROC) while parsing: an op
 *    exists once its invoke line was read; its completion sets status and
 *    ret. An invoke still open at the end of its file becomes HIST_INFO.
 *  - Times are CLOCK_MONOTONIC ns as written; HIST_T_NEVER is the return
 *    time of an op whose outcome is unknown (it may take effect any time
 *    after its invoke, or never).
 *  - Nothing here is thread-safe; one thread owns a struct hist.
 */
#ifndef WEFT_HIST_H
#define WEFT_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HIST_NIL 0u
#define HIST_T_NEVER UINT64_MAX
#define HIST_LINE_MAX 4096 /* bytes per line, newline excluded */

enum hist_kind { HIST_READ, HIST_WRITE, HIST_CAS };
enum hist_status { HIST_OK, HIST_INFO, HIST_FAIL };

/* One register operation. write: a = value. read: a = value read (ok
 * only). cas: a = OLD, b = NEW. */
struct hist_op {
	uint64_t call, ret;
	uint32_t key, proc, a, b;
	uint32_t file, line; /* where it was invoked */
	uint8_t kind, status;
};

enum hist_msg_kind { HIST_PUB_OK, HIST_PUB_INFO, HIST_DELIVER };

struct hist_msg {
	uint64_t t;
	uint32_t queue, msgid, file, line;
	uint8_t kind;
};

/* One acknowledged fenced write of a singleton run. start is the optional
 * invoke time of that write (t when not given). */
struct hist_sgl {
	uint64_t t, start, epoch;
	uint32_t name, node, file, line;
};

struct hist_str_tab {
	char **strs;	/* id -> NUL-terminated token */
	size_t n, cap;
	uint32_t *slots; /* open addressing: id + 1, 0 = empty */
	size_t nslots;
};

struct hist {
	struct hist_str_tab st;
	struct hist_op *ops;
	size_t nops, capops;
	struct hist_msg *msgs;
	size_t nmsgs, capmsgs;
	struct hist_sgl *sgls;
	size_t nsgls, capsgls;
	char **files;
	size_t nfiles;
	uint64_t t0; /* smallest time seen (UINT64_MAX while empty) */
	uint32_t *open; /* per string id: index + 1 of the open op of that PROC */
	size_t open_cap;
};

/* --- hist_str.c: the string table --- */
int hist_str_init(struct hist_str_tab *st);
void hist_str_fini(struct hist_str_tab *st);
/* The id of token s[0..len); interns it if new. 0 or -ENOMEM. */
int hist_str_intern(struct hist_str_tab *st, const char *s, size_t len, uint32_t *id);
const char *hist_str(const struct hist *h, uint32_t id);

/* --- hist_parse.c --- */
/* Constructor: NULL and errno = ENOMEM on failure. */
struct hist *hist_new(void);
void hist_free(struct hist *h);
/* Reads every line of `in` (named `name` in messages) into h. 0, or
 * -EINVAL (malformed line; err holds "name:line: why"), -EIO, -ENOMEM. */
int hist_parse(struct hist *h, FILE *in, const char *name, char *err, size_t errlen);

/* --- hist_wgl.c: linearizability of one key's register history --- */
enum hist_lin { HIST_LIN_YES, HIST_LIN_NO, HIST_LIN_UNKNOWN };

/* Where the search got stuck (on HIST_LIN_NO): the op whose return came
 * with no way to linearize it after the deepest prefix found, how many
 * ops that prefix held and the register's value after it. */
struct hist_wgl_stuck {
	size_t op; /* index into the ops array passed in */
	size_t depth;
	uint32_t state;
};

/* Searches ops[0..n) (one key): every op with a finite ret must take
 * effect between its call and ret; ops with ret == HIST_T_NEVER (outcome
 * unknown) may take effect any time after their call, or never. Gives up
 * after max_states memoized configurations or max_bytes of memo:
 * HIST_LIN_UNKNOWN. -ENOMEM on allocation failure. *states receives the
 * configurations explored; *stuck (on HIST_LIN_NO) indexes ops.
 * observed: NULL, or (only when every write and cas of ops writes a
 * distinct value) per op whether an op with a finite ret reads its value
 * or names it as cas OLD; it lets the search prune. */
int hist_wgl(const struct hist_op *ops, const bool *observed, size_t n, uint64_t max_states,
	     size_t max_bytes, struct hist_wgl_stuck *stuck, uint64_t *states);

/* --- the checks; each prints its details to `out` (may be NULL) --- */
struct hist_opts {
	bool registers, queues, singletons;
	bool allow_duplicates;
	bool plain; /* no value-based prunings (to cross-check them) */
	uint64_t max_states; /* per key */
	size_t max_bytes;    /* memo bytes per key */
};

struct hist_result {
	uint64_t ops, keys, acked_writes, lost_writes, unverified_keys;
	uint64_t lost_messages, duplicates, phantoms, double_singletons;
	uint64_t keys_not_linearizable, keys_unknown;
};

/* hist_register.c: per-key linearizability and lost writes. 0 or -ENOMEM. */
int hist_check_registers(const struct hist *h, const struct hist_opts *o, struct hist_result *r,
			 FILE *out);
/* hist_msg.c: queue counts and double singletons. 0 or -ENOMEM. */
int hist_check_queues(const struct hist *h, struct hist_result *r, FILE *out);
int hist_check_singletons(const struct hist *h, struct hist_result *r, FILE *out);

/* hist_report.c: the whole check, the summary line, the exit code. */
int hist_check(const struct hist *h, const struct hist_opts *o, struct hist_result *r, FILE *out);
const char *hist_verdict(const struct hist_result *r);
void hist_print_summary(const struct hist_result *r, FILE *out);
/* 0 clean, 1 violation, 3 unknown (violations win over unknown). */
int hist_exit_code(const struct hist_result *r, const struct hist_opts *o);
/* Formats t as milliseconds from the history's start: "+12.345". */
void hist_fmt_time(const struct hist *h, uint64_t t, char *buf, size_t len);

#endif /* WEFT_HIST_H */
