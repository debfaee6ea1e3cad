/*
 * `weftctl rebalance [--wait]` (client/weftctl_rebalance.c) against a
 * scripted fake node (test_client_peer.c) whose STATS answers walk a
 * rebalance down: the plain progress lines (one per change, the exact
 * "rebalance: P% (D/T segment moves, view V)" form) and the final "done"
 * line; the progress bar's text; and each exit status — 0 idle, 4 the wait
 * ran out while the node still had moves pending, 2 the node refused STATS
 * (UNAUTHORIZED), 3 no answer — with its message on stderr. --json's final
 * object. Polls are bounded by the wait; nothing here times anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_client_peer.h"
#include "weftctl_cli.h"
#include "weftctl_print.h"

/* The scenario: STATS answer k has pending[min(k, n-1)] moves pending. */
struct scenario {
	uint16_t status;    /* answer status; WEFT_ST_OK for the texts */
	bool silent;        /* answer nothing */
	unsigned n;
	uint32_t pending[8];
	uint32_t total;
	atomic_uint asked;
};

static void handler(struct peer *p, const uint8_t *d, size_t len)
{
	struct scenario *s = p->ctx;
	struct weft_wire_hdr h;
	if (len < sizeof(h))
		return;
	memcpy(&h, d, sizeof(h));
	if (h.opcode != WEFT_OP_STATS || s->silent)
		return;
	unsigned k = atomic_fetch_add(&s->asked, 1);
	uint32_t pending = s->pending[k < s->n ? k : s->n - 1];
	char text[512];
	int n = snprintf(text, sizeof(text),
			 "total.rx_pkts 9\nrebalance.view 7\nrebalance.moves_pending %u\n"
			 "rebalance.moves_done %u\nrebalance.entries_sent 40\n"
			 "rebalance.bytes_sent 4000\nrebalance.retransmits 0\n"
			 "rebalance.last_duration_ms 12\nrebalance.handoff 0\n",
			 pending, s->total - pending);
	if (s->status != WEFT_ST_OK)
		peer_reply(p, &h, s->status, NULL, 0, NULL, 0);
	else
		peer_reply(p, &h, WEFT_ST_OK, NULL, 0, text, (uint32_t)n);
}

/* Runs weftctl_rebalance against scenario s with stdout and stderr in
 * files; returns the exit status, *out / *err the texts (static). */
static int run(struct scenario *s, bool wait, uint64_t wait_ms, bool json, const char **out,
	       const char **err)
{
	static char obuf[8192], ebuf[8192];
	struct peer p;
	peer_start(&p, handler, s);
	struct weft_client_opts o = { .timeout_ms = 100, .retries = 1 };
	weft_client *c = weft_client_connect(p.addr, &o);
	assert_non_null(c);
	weft_client_set_routing(c, false);

	char on[] = "/tmp/weftctl-rb-out-XXXXXX", en[] = "/tmp/weftctl-rb-err-XXXXXX";
	int ofd = mkstemp(on), efd = mkstemp(en);
	assert_true(ofd >= 0 && efd >= 0);
	fflush(stdout);
	fflush(stderr);
	int so = dup(1), se = dup(2);
	dup2(ofd, 1);
	dup2(efd, 2);
	weftctl_clock_start();
	int rc = weftctl_rebalance(c, "node1", wait, wait_ms, json);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	ssize_t n = pread(ofd, obuf, sizeof(obuf) - 1, 0);
	obuf[n > 0 ? n : 0] = '\0';
	n = pread(efd, ebuf, sizeof(ebuf) - 1, 0);
	ebuf[n > 0 ? n : 0] = '\0';
	close(ofd);
	close(efd);
	unlink(on);
	unlink(en);
	weft_client_close(c);
	peer_stop(&p);
	*out = obuf;
	*err = ebuf;
	return rc;
}

static void test_wait_progress(void **state)
{
	(void)state;
	struct scenario s = { .n = 4, .pending = { 30, 18, 18, 0 }, .total = 30 };
	const char *out, *err;
	assert_int_equal(run(&s, true, 60000, false, &out, &err), 0);
	assert_string_equal(out,
			    "rebalance: 0% (0/30 segment moves, view 7)\n"
			    "rebalance: 40% (12/30 segment moves, view 7)\n"
			    "rebalance: 100% (30/30 segment moves, view 7)\n"
			    "rebalance: done (view 7; last rebalance took 12 ms, 30 segment moves "
			    "acked; 40 entries, 4000 bytes sent since start)\n");
	assert_string_equal(err, "");
	assert_int_equal(atomic_load(&s.asked), 4);
}

static void test_idle_once(void **state)
{
	(void)state;
	struct scenario s = { .n = 1, .pending = { 0 }, .total = 5 };
	const char *out, *err;
	assert_int_equal(run(&s, false, 0, false, &out, &err), 0);
	assert_non_null(strstr(out, "rebalance: idle (view 7;"));
	struct scenario s2 = { .n = 1, .pending = { 3 }, .total = 4 };
	assert_int_equal(run(&s2, false, 0, false, &out, &err), 0);
	assert_string_equal(out, "rebalance: 25% (1/4 segment moves, view 7)\n");
	assert_int_equal(atomic_load(&s2.asked), 1);
}

static void test_wait_timeout(void **state)
{
	(void)state;
	struct scenario s = { .n = 1, .pending = { 9 }, .total = 10 };
	const char *out, *err;
	assert_int_equal(run(&s, true, 300, false, &out, &err), WEFTCTL_EXIT_WAIT_TIMEOUT);
	assert_string_equal(out, "rebalance: 10% (1/10 segment moves, view 7)\n");
	assert_non_null(strstr(err, "weftctl: node1: rebalance: still in progress after 0.3 s "
				    "(1 of 10 segment moves done): --timeout reached"));
	assert_true(atomic_load(&s.asked) >= 2); /* it polled again before giving up */
}

static void test_refused(void **state)
{
	(void)state;
	struct scenario s = { .n = 1, .status = WEFT_ST_UNAUTHORIZED };
	const char *out, *err;
	assert_int_equal(run(&s, true, 60000, false, &out, &err), WEFTCTL_EXIT_ERROR);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "weftctl: node1: rebalance: refused: UNAUTHORIZED: "));
}

static void test_no_answer(void **state)
{
	(void)state;
	struct scenario s = { .n = 1, .silent = true };
	const char *out, *err;
	assert_int_equal(run(&s, true, 60000, false, &out, &err), WEFTCTL_EXIT_NO_ANSWER);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "weftctl: node1: rebalance: no answer after "));
	assert_non_null(strstr(err, "(is weftd running there? check --server/-s"));
}

static void test_json(void **state)
{
	(void)state;
	struct scenario s = { .n = 2, .pending = { 2, 0 }, .total = 8 };
	const char *out, *err;
	assert_int_equal(run(&s, true, 60000, true, &out, &err), 0);
	assert_string_equal(out, "{\"state\":\"idle\",\"view\":7,\"moves_pending\":0,"
				 "\"moves_done\":8,\"percent\":100,\"last_duration_ms\":12,"
				 "\"entries_sent\":40,\"bytes_sent\":4000,\"handoff\":false,"
				 "\"timed_out\":false}\n");
}

static void test_bar(void **state)
{
	(void)state;
	char buf[160];
	weftctl_rebalance_line(buf, sizeof(buf), 12, 18, 5, true);
	assert_string_equal(buf, "rebalance [############------------------]  40% 12/30 segment "
				 "moves, view 5");
	weftctl_rebalance_line(buf, sizeof(buf), 0, 0, 5, false);
	assert_string_equal(buf, "rebalance: 100% (0/0 segment moves, view 5)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_progress), cmocka_unit_test(test_idle_once),
		cmocka_unit_test(test_wait_timeout),  cmocka_unit_test(test_refused),
		cmocka_unit_test(test_no_answer),     cmocka_unit_test(test_json),
		cmocka_unit_test(test_bar),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
