/*
 * hist_msg.c — the queue counts and double singletons (docs/history.md).
 *
 * Queues: messages are named by (QUEUE, MSGID). A message acknowledged by
 * publish-ok and never delivered is lost; every delivery of a published
 * (publish-ok or publish-info) message after its first is a duplicate;
 * every delivery of a message never published is a phantom.
 *
 * Singletons: a run is (NAME, NODE, EPOCH); its acks are the singleton
 * lines naming it. Runs of one NAME are ordered by (EPOCH, first ack time,
 * NODE). A pair of runs A before B is a double singleton when some write
 * A acknowledged was invoked after B's first acknowledged write had
 * returned: A was still writing after B had taken over (for equal epochs:
 * their ack intervals overlap). Without INVOKE_T a write's invoke is taken
 * to be its ack time, the strict reading.
 *
 * Both checks sort index arrays and scan groups; nothing is kept after
 * they return.
 */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "hist.h"

#define DETAILS_MAX 10

static int by_msg(const void *pa, const void *pb, void *arg)
{
	const struct hist_msg *m = arg;
	const struct hist_msg *a = &m[*(const size_t *)pa], *b = &m[*(const size_t *)pb];
	if (a->queue != b->queue)
		return a->queue < b->queue ? -1 : 1;
	if (a->msgid != b->msgid)
		return a->msgid < b->msgid ? -1 : 1;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return *(const size_t *)pa < *(const size_t *)pb ? -1 : 1;
}

int hist_check_queues(const struct hist *h, struct hist_result *r, FILE *out)
{
	size_t *ix = malloc((h->nmsgs + 1) * sizeof(*ix)), shown = 0;
	if (!ix)
		return -ENOMEM;
	for (size_t i = 0; i < h->nmsgs; i++)
		ix[i] = i;
	qsort_r(ix, h->nmsgs, sizeof(*ix), by_msg, (void *)h->msgs);
	for (size_t s = 0, e; s < h->nmsgs; s = e) {
		const struct hist_msg *m = &h->msgs[ix[s]];
		uint64_t pub_ok = 0, pub = 0, del = 0, acked_at = 0;
		for (e = s; e < h->nmsgs && h->msgs[ix[e]].queue == m->queue &&
			    h->msgs[ix[e]].msgid == m->msgid;
		     e++) {
			const struct hist_msg *x = &h->msgs[ix[e]];
			if (x->kind == HIST_PUB_OK && !pub_ok++)
				acked_at = x->t;
			pub += x->kind != HIST_DELIVER;
			del += x->kind == HIST_DELIVER;
		}
		const char *why = NULL;
		if (pub_ok && !del) {
			r->lost_messages++;
			why = "lost (acknowledged, never delivered)";
		} else if (pub && del > 1) {
			r->duplicates += del - 1;
			why = "duplicated";
		} else if (!pub && del) {
			r->phantoms += del;
			why = "phantom (delivered, never published)";
		}
		if (!why || !out)
			continue;
		if (shown++ == DETAILS_MAX) {
			fprintf(out, "queue: more messages with problems not shown\n");
			continue;
		}
		if (shown > DETAILS_MAX)
			continue;
		char t[32];
		hist_fmt_time(h, pub_ok ? acked_at : m->t, t, sizeof(t));
		fprintf(out, "queue %s message %s: %s; deliveries %" PRIu64 ", first event %s ms (%s:%u)\n",
			hist_str(h, m->queue), hist_str(h, m->msgid), why, del, t, h->files[m->file],
			m->line);
	}
	free(ix);
	return 0;
}

struct run {
	uint64_t epoch, first, max_start;
	uint32_t name, node;
};

static int by_run(const void *pa, const void *pb, void *arg)
{
	const struct hist_sgl *g = arg;
	const struct hist_sgl *a = &g[*(const size_t *)pa], *b = &g[*(const size_t *)pb];
	if (a->name != b->name)
		return a->name < b->name ? -1 : 1;
	if (a->epoch != b->epoch)
		return a->epoch < b->epoch ? -1 : 1;
	if (a->node != b->node)
		return a->node < b->node ? -1 : 1;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return *(const size_t *)pa < *(const size_t *)pb ? -1 : 1;
}

static int run_order(const void *pa, const void *pb)
{
	const struct run *a = pa, *b = pb;
	if (a->name != b->name)
		return a->name < b->name ? -1 : 1;
	if (a->epoch != b->epoch)
		return a->epoch < b->epoch ? -1 : 1;
	if (a->first != b->first)
		return a->first < b->first ? -1 : 1;
	return a->node < b->node ? -1 : a->node > b->node;
}

int hist_check_singletons(const struct hist *h, struct hist_result *r, FILE *out)
{
	size_t *ix = malloc((h->nsgls + 1) * sizeof(*ix));
	struct run *runs = malloc((h->nsgls + 1) * sizeof(*runs));
	size_t nr = 0, shown = 0;
	if (!ix || !runs) {
		free(ix);
		free(runs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->nsgls; i++)
		ix[i] = i;
	qsort_r(ix, h->nsgls, sizeof(*ix), by_run, (void *)h->sgls);
	for (size_t i = 0; i < h->nsgls; i++) {
		const struct hist_sgl *s = &h->sgls[ix[i]];
		struct run *cur = nr ? &runs[nr - 1] : NULL;
		if (!cur || cur->name != s->name || cur->epoch != s->epoch || cur->node != s->node) {
			cur = &runs[nr++];
			*cur = (struct run){.epoch = s->epoch, .first = s->t, .name = s->name,
					    .node = s->node};
		}
		cur->max_start = s->start > cur->max_start ? s->start : cur->max_start;
	}
	qsort(runs, nr, sizeof(*runs), run_order);
	for (size_t i = 0; i < nr; i++) {
		for (size_t j = i + 1; j < nr && runs[j].name == runs[i].name; j++) {
			const struct run *a = &runs[i], *b = &runs[j];
			if (a->max_start <= b->first)
				continue;
			r->double_singletons++;
			if (!out || shown++ >= DETAILS_MAX)
				continue;
			char as[32], bf[32];
			hist_fmt_time(h, a->max_start, as, sizeof(as));
			hist_fmt_time(h, b->first, bf, sizeof(bf));
			fprintf(out, "singleton %s: double run: %s epoch %" PRIu64 " wrote at %s ms, after %s epoch %" PRIu64 " had its first write acknowledged at %s ms\n",
				hist_str(h, a->name), hist_str(h, a->node), a->epoch, as,
				hist_str(h, b->node), b->epoch, bf);
		}
	}
	free(ix);
	free(runs);
	return 0;
}
