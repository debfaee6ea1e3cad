/*
 * weftctl_sessions.h — weftctl's session commands (weftctl_sessions.c:
 * session ID, session-create, -set, -get, -remove, -touch, -invalidate,
 * session-events; weftctl_sessions_view.c: sessions and lb-config). They
 * have their own options (--store, --max-inactive, --port, --upstream,
 * --count, --wait), so weftctl hands them the whole command line.
 */
#ifndef WEFTCTL_SESSIONS_H
#define WEFTCTL_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <weft/weft.h>

/* The session command argv names (its first word that is neither an
 * option nor an option's value), or NULL when it names another command,
 * none, or asks for help (-h / --help). */
const char *weftctl_sessions_command(int argc, char **argv);

/* Runs the session command of argv (weftctl_sessions_command is not
 * NULL). Returns the exit status: 0 ok, 1 NO_SESSION or NOT_FOUND (no such
 * session or attribute), 2 any other error, 3 no answer (printed on
 * stderr). json: --json was given (only `sessions` takes it). */
int weftctl_sessions_main(int argc, char **argv, bool json);

/* The usage lines of the session commands, for weftctl -h. */
void weftctl_sessions_usage(FILE *f);

/* The options of a session command (weftctl_sessions.c parses them). */
struct scli {
	const char *server;
	uint32_t attempt_ms;   /* --timeout MS per attempt; 0: libweft's default */
	bool direct;
	bool json;             /* --json (sessions) */
	const char *store;     /* --store; NULL: WEFT_SESSION_STORE */
	uint32_t max_inactive_s;
	unsigned port;         /* lb-config --port */
	const char *upstream;  /* lb-config --upstream */
	uint64_t count;        /* session-events --count (0: no bound) */
	uint64_t wait_ms;      /* session-events --wait (0: no bound) */
	const char *cmd;
	int argc;
	const char *argv[4];
};

/* weftctl_sessions_view.c: `sessions` (count and memory per session store
 * on the -s node, and in the whole cluster) and `lb-config nginx`. Exit
 * status. */
int weftctl_sessions_stats(const struct scli *o, weft_client *c);
int weftctl_lb_config(const struct scli *o, weft_client *c);
/* Prints a failed call to node in weftctl_fail's form; the exit status (1
 * for NO_SESSION / NOT_FOUND). */
int weftctl_sessions_fail(const char *node, const char *what, weft_client *c, int rc);

#endif
