/*
 * weftctl_fail.c — the one form of weftctl's failure messages and exit
 * statuses (weftctl_cli.h: weftctl_fail, weftctl_connect_failed) and the
 * command's start time they count from.
 *
 * Invariants: every libweft status maps to exactly one exit status: the
 * "no" answers 1, no answer (TIMEOUT, IO) 3, everything else 2.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "weftctl_cli.h"

static struct timespec started;

void weftctl_clock_start(void)
{
	clock_gettime(CLOCK_MONOTONIC, &started);
}

static uint64_t elapsed_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t ms = (int64_t)(now.tv_sec - started.tv_sec) * 1000 +
		     (now.tv_nsec - started.tv_nsec) / 1000000;
	return ms > 0 ? (uint64_t)ms : 0;
}

/* Whether libweft status rc (< 0) is the node refusing the request (an
 * answer, but not one of the "no"s of exit status 1). */
static bool refusal(int rc)
{
	return rc < 0 && -rc < WEFT_ST_CLIENT_BASE && rc != -WEFT_ST_NOT_FOUND &&
	       rc != -WEFT_ST_EXISTS && rc != -WEFT_ST_VERSION_MISMATCH &&
	       rc != -WEFT_ST_NO_SESSION;
}

int weftctl_fail(const char *node, const char *cmd, weft_client *c, int rc)
{
	int e = c ? weft_client_errno(c) : 0;
	if (rc == -WEFT_ST_TIMEOUT) {
		fprintf(stderr, "weftctl: %s: %s: no answer after %" PRIu64 " ms (is weftd running "
			"there? check --server/-s, or raise --timeout)\n", node, cmd,
			elapsed_ms());
		return WEFTCTL_EXIT_NO_ANSWER;
	}
	if (rc == -WEFT_ST_IO) {
		fprintf(stderr, "weftctl: %s: %s: cannot reach the node: %s (is weftd running "
			"there? check --server/-s)\n", node, cmd,
			e ? strerror(e) : "socket error");
		return WEFTCTL_EXIT_NO_ANSWER;
	}
	fprintf(stderr, "weftctl: %s: %s: %s%s: %s\n", node, cmd,
		refusal(rc) ? "refused: " : "", weft_status_name(rc), weft_strerror(rc));
	return refusal(rc) || -rc >= WEFT_ST_CLIENT_BASE ? WEFTCTL_EXIT_ERROR
								  : WEFTCTL_EXIT_NO;
}

int weftctl_connect_failed(const char *server)
{
	if (errno == EINVAL)
		fprintf(stderr, "weftctl: %s: not a node address: give -s IP[:PORT]\n", server);
	else
		fprintf(stderr, "weftctl: %s: cannot open a socket to it: %s\n", server,
			strerror(errno));
	return WEFTCTL_EXIT_ERROR;
}
