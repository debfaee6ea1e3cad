/*
 * weftctl_rebalance.c — `weftctl -s NODE rebalance [--wait [--timeout S]]`:
 * the node's own rebalancing progress, read from its STATS lines
 * rebalance.* (dataplane/dp_stats.c; published by control/ctl_rebalance.c):
 * moves_pending (segment copies this node still has to send for the
 * current view), moves_done (sent and acked since that view), view,
 * last_duration_ms, handoff (1 while a stopping node hands its segments
 * over). A node is idle when moves_pending is 0.
 *
 * Without --wait: one line (or one JSON object). With --wait: STATS every
 * POLL_MS until moves_pending is 0 or the --timeout S (default
 * WAIT_DEFAULT_S) is over; on a terminal a progress bar redrawn in place,
 * otherwise one plain line per change:
 *   rebalance: 40% (12/30 segment moves, view 5)
 * then "rebalance: done (view V, ...)". --json prints only the final
 * object.
 *
 * Invariants: the wait is bounded by --timeout plus one STATS call (itself
 * bounded by libweft's attempts); a failed call ends the command at once
 * with weftctl_fail's message and status (3 no answer, 2 refused); 4 means
 * the node answered throughout but was still rebalancing at the deadline.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weftctl_cli.h"
#include "weftctl_json.h"
#include "weftctl_print.h"

#define POLL_MS 200u
#define BAR_WIDTH 30u

struct rb_state {
	uint64_t view, pending, done, last_ms, entries, bytes;
	bool handoff;
};

static void from_stats(const char *text, struct rb_state *s)
{
	s->view = weftctl_stat_u(text, "rebalance.view");
	s->pending = weftctl_stat_u(text, "rebalance.moves_pending");
	s->done = weftctl_stat_u(text, "rebalance.moves_done");
	s->last_ms = weftctl_stat_u(text, "rebalance.last_duration_ms");
	s->entries = weftctl_stat_u(text, "rebalance.entries_sent");
	s->bytes = weftctl_stat_u(text, "rebalance.bytes_sent");
	s->handoff = weftctl_stat_u(text, "rebalance.handoff") != 0;
}

void weftctl_rebalance_line(char *buf, size_t cap, uint64_t done, uint64_t pending,
			    uint64_t view, bool bar)
{
	uint64_t total = done + pending;
	unsigned pct = total ? (unsigned)(done * 100u / total) : 100u;
	if (!bar) {
		snprintf(buf, cap, "rebalance: %u%% (%" PRIu64 "/%" PRIu64 " segment moves, view %"
			 PRIu64 ")", pct, done, total, view);
		return;
	}
	char fill[BAR_WIDTH + 1];
	unsigned n = total ? (unsigned)(done * BAR_WIDTH / total) : BAR_WIDTH;
	for (unsigned i = 0; i < BAR_WIDTH; i++)
		fill[i] = i < n ? '#' : '-';
	fill[BAR_WIDTH] = '\0';
	snprintf(buf, cap, "rebalance [%s] %3u%% %" PRIu64 "/%" PRIu64 " segment moves, view %"
		 PRIu64, fill, pct, done, total, view);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000u),
			       .tv_nsec = (long)(ms % 1000u) * 1000000L };
	nanosleep(&ts, NULL);
}

static int read_state(weft_client *c, const char *server, struct rb_state *s)
{
	char *text = NULL;
	int rc = weft_stats(c, &text, NULL);
	if (rc < 0)
		return weftctl_fail(server, "rebalance", c, rc);
	from_stats(text, s);
	free(text);
	return 0;
}

static int print_json(const struct rb_state *s, bool timed_out)
{
	struct weftctl_json j;
	weftctl_json_init(&j, stdout);
	weftctl_json_obj_begin(&j);
	weftctl_json_kv_str(&j, "state", s->pending ? "in_progress" : "idle");
	weftctl_json_kv_u64(&j, "view", s->view);
	weftctl_json_kv_u64(&j, "moves_pending", s->pending);
	weftctl_json_kv_u64(&j, "moves_done", s->done);
	weftctl_json_kv_u64(&j, "percent",
			    s->pending ? s->done * 100u / (s->done + s->pending) : 100u);
	weftctl_json_kv_u64(&j, "last_duration_ms", s->last_ms);
	weftctl_json_kv_u64(&j, "entries_sent", s->entries);
	weftctl_json_kv_u64(&j, "bytes_sent", s->bytes);
	weftctl_json_key(&j, "handoff");
	weftctl_json_bool(&j, s->handoff);
	weftctl_json_key(&j, "timed_out");
	weftctl_json_bool(&j, timed_out);
	weftctl_json_obj_end(&j);
	return weftctl_json_finish(&j) == 0 ? 0 : 2;
}

static void print_idle(const struct rb_state *s, bool waited)
{
	printf("rebalance: %s (view %" PRIu64 "; last rebalance took %" PRIu64 " ms, %" PRIu64
	       " segment moves acked; %" PRIu64 " entries, %" PRIu64 " bytes sent since start)\n",
	       waited ? "done" : "idle", s->view, s->last_ms, s->done, s->entries, s->bytes);
}

int weftctl_rebalance(weft_client *c, const char *server, bool wait, uint64_t wait_ms,
		      bool json)
{
	struct rb_state s;
	int rc = read_state(c, server, &s);
	if (rc != 0)
		return rc;
	if (!wait) {
		if (json)
			return print_json(&s, false);
		char line[160];
		if (s.pending) {
			weftctl_rebalance_line(line, sizeof(line), s.done, s.pending, s.view, false);
			printf("%s%s\n", line, s.handoff ? ", handing segments over (stopping)" : "");
		} else {
			print_idle(&s, false);
		}
		return fflush(stdout) == 0 ? 0 : 2;
	}
	bool bar = !json && isatty(STDOUT_FILENO);
	uint64_t deadline = now_ms() + wait_ms;
	struct rb_state shown = { .pending = UINT64_MAX };
	bool drawn = false;
	while (s.pending != 0) {
		if (!json && (s.pending != shown.pending || s.done != shown.done ||
			      s.view != shown.view)) {
			char line[160];
			weftctl_rebalance_line(line, sizeof(line), s.done, s.pending, s.view, bar);
			if (bar)
				printf("\r%s\033[K", line);
			else
				printf("%s\n", line);
			fflush(stdout);
			drawn = true;
			shown = s;
		}
		if (now_ms() >= deadline) {
			if (bar && drawn)
				putchar('\n');
			if (json)
				print_json(&s, true);
			fprintf(stderr, "weftctl: %s: rebalance: still in progress after %.1f s "
				"(%" PRIu64 " of %" PRIu64 " segment moves done): --timeout reached\n",
				server, (double)wait_ms / 1e3, s.done, s.done + s.pending);
			return WEFTCTL_EXIT_WAIT_TIMEOUT;
		}
		sleep_ms(POLL_MS);
		rc = read_state(c, server, &s);
		if (rc != 0) {
			if (bar && drawn)
				putchar('\n');
			return rc;
		}
	}
	if (json)
		return print_json(&s, false);
	if (drawn) {
		char line[160];
		weftctl_rebalance_line(line, sizeof(line), s.done, 0, s.view, bar);
		printf(bar ? "\r%s\033[K\n" : "%s\n", line);
	}
	print_idle(&s, drawn);
	return fflush(stdout) == 0 ? 0 : 2;
}
