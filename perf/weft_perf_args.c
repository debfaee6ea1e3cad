/*
 * weft_perf_args.c — command-line helpers shared by weft-perf's two modes
 * (kernel UDP in weft_perf.c, DPDK in weft_perf_dpdk.c): a bad argument
 * ends the process with a message and exit status 2, so the parsers stay
 * flat.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "weft_perf_internal.h"

void wp_die(const char *msg, const char *arg)
{
	fprintf(stderr, "weft-perf: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(2);
}

uint64_t wp_num(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		wp_die(what, s);
	return v;
}

double wp_real(const char *s, const char *what)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0))
		wp_die(what, s);
	return v;
}
