/*
 * weftctl_cli.h — what weftctl's command modules (weftctl_msg.c,
 * weftctl_apps.c, weftctl_sessions.c) share to read their command lines:
 * finding the command word among options, usage errors, numbers and a
 * value read from stdin.
 */
#ifndef WEFTCTL_CLI_H
#define WEFTCTL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

/* Exit statuses every weftctl command shares: 0 ok; 1 the node's "no"
 * (NOT_FOUND, EXISTS, VERSION_MISMATCH, NO_SESSION); 2 usage errors, a
 * refusal or any other error; 3 no answer from the node (timeout, or the
 * socket failed: nothing is listening there); 4 a wait (rebalance --wait)
 * ran out of time. */
#define WEFTCTL_EXIT_NO 1
#define WEFTCTL_EXIT_ERROR 2
#define WEFTCTL_EXIT_NO_ANSWER 3
#define WEFTCTL_EXIT_WAIT_TIMEOUT 4

/* Marks the start of the command (main calls it first): "no answer after
 * N ms" counts from here. */
void weftctl_clock_start(void);

/* Prints why call cmd to node failed with libweft status rc (< 0), in the
 * one form every command uses, and returns the exit status:
 *   weftctl: NODE: CMD: no answer after N ms (is weftd running there? check --server/-s)
 *   weftctl: NODE: CMD: cannot reach the node: ERRNO TEXT (is weftd running there? ...)
 *   weftctl: NODE: CMD: refused: STATUS: text
 *   weftctl: NODE: CMD: STATUS: text             (NOT_FOUND and the other "no"s)
 * c (may be NULL) gives the socket errno. */
int weftctl_fail(const char *node, const char *cmd, weft_client *c, int rc);

/* weft_client_connect failed for server (errno set): prints
 * "weftctl: SERVER: not a node address: give -s IP[:PORT]" (EINVAL) or the
 * socket error, and returns 2. */
int weftctl_connect_failed(const char *server);

/* Whether s is one of the n strings of set. */
bool weftctl_in(const char *s, const char *const *set, size_t n);

/* Whether argument a is a positional one: not an option, or "-" (stdin),
 * or a negative number. */
bool weftctl_positional(const char *a);

/* The first positional argument of argv[1..argc) when it is one of
 * commands (options in valued take the next argument; "--" ends the
 * options), else NULL; NULL too when -h / --help comes before "--". */
const char *weftctl_find_command(int argc, char **argv, const char *const *valued,
				 size_t n_valued, const char *const *commands, size_t n_commands);

/* Prints "weftctl: MSG[: ARG]" and a hint to stderr, exits with status 2. */
_Noreturn void weftctl_die_usage(const char *msg, const char *arg);

/* s as a decimal integer in 0..max into *out: 0, or -EINVAL (nothing
 * written). Pure. */
int weftctl_num(const char *s, uint64_t max, uint64_t *out);

/* s as a decimal integer in 0..max, or weftctl_die_usage(what, s). */
uint64_t weftctl_parse_num(const char *s, const char *what, uint64_t max);

/* All of stdin in a malloc'd buffer (*len bytes), at most
 * WEFT_MAX_VALUE_LEN (1 MiB); a larger input, a read error or no memory
 * prints why and exits with status 2. */
void *weftctl_read_stdin(size_t *len);

#endif /* WEFTCTL_CLI_H */
