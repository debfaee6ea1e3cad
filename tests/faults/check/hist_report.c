/*
 * hist_report.c — runs the checks the options select over one history and
 * turns the counts into the summary line and the exit code
 * (docs/history.md). Details of each violation go to `out` before the
 * summary; the summary line is always the last line printed.
 */
#include <inttypes.h>

#include "hist.h"

int hist_check(const struct hist *h, const struct hist_opts *o, struct hist_result *r, FILE *out)
{
	int rc = 0;
	*r = (struct hist_result){0};
	if (o->registers) {
		r->ops += h->nops;
		rc = hist_check_registers(h, o, r, out);
	}
	if (rc == 0 && o->queues) {
		r->ops += h->nmsgs;
		rc = hist_check_queues(h, r, out);
	}
	if (rc == 0 && o->singletons) {
		r->ops += h->nsgls;
		rc = hist_check_singletons(h, r, out);
	}
	return rc;
}

const char *hist_verdict(const struct hist_result *r)
{
	if (r->keys_not_linearizable)
		return "no";
	return r->keys_unknown ? "unknown" : "yes";
}

void hist_print_summary(const struct hist_result *r, FILE *out)
{
	if (r->unverified_keys || r->keys_not_linearizable || r->keys_unknown)
		fprintf(out, "keys: %" PRIu64 " not linearizable, %" PRIu64 " unknown, %" PRIu64
			" with acknowledged writes but no final read (lost writes unverified)\n",
			r->keys_not_linearizable, r->keys_unknown, r->unverified_keys);
	fprintf(out,
		"CHECK ops=%" PRIu64 " keys=%" PRIu64 " acked_writes=%" PRIu64 " lost_writes=%" PRIu64
		" lost_messages=%" PRIu64 " duplicates=%" PRIu64 " phantoms=%" PRIu64
		" double_singletons=%" PRIu64 " linearizable=%s\n",
		r->ops, r->keys, r->acked_writes, r->lost_writes, r->lost_messages, r->duplicates,
		r->phantoms, r->double_singletons, hist_verdict(r));
}

int hist_exit_code(const struct hist_result *r, const struct hist_opts *o)
{
	if (r->keys_not_linearizable || r->lost_writes || r->lost_messages || r->phantoms ||
	    r->double_singletons || (r->duplicates && !o->allow_duplicates))
		return 1;
	return r->keys_unknown ? 3 : 0;
}

void hist_fmt_time(const struct hist *h, uint64_t t, char *buf, size_t len)
{
	if (t == HIST_T_NEVER) {
		snprintf(buf, len, "?");
		return;
	}
	uint64_t d = t >= h->t0 ? t - h->t0 : 0;
	snprintf(buf, len, "+%" PRIu64 ".%03" PRIu64, d / 1000000, d / 1000 % 1000);
}
