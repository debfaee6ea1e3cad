/*
 * main.c — weft-history-check: reads the history files of a fault
 * scenario (one per client process, merged by time), runs the checks
 * --model selects and prints their details and the CHECK summary line
 * (always last). Exit: 0 clean, 1 violation, 2 bad input or usage or a
 * local error, 3 a key's search exceeded its budget (docs/history.md).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: weft-history-check [--model register|queue|singleton|all]\n"
		   "                          [--max-states N] [--max-memory MIB]\n"
		   "                          [--allow-duplicates] [--plain] FILE...\n"
		   "  FILE '-' is standard input; the format is in docs/history.md.\n");
}

static int parse_count(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || end == s || *end || x == 0 || s[0] == '-')
		return -EINVAL;
	*v = x;
	return 0;
}

static int parse_model(const char *s, struct hist_opts *o)
{
	bool all = strcmp(s, "all") == 0;
	o->registers = all || strcmp(s, "register") == 0;
	o->queues = all || strcmp(s, "queue") == 0;
	o->singletons = all || strcmp(s, "singleton") == 0;
	return o->registers || o->queues || o->singletons ? 0 : -EINVAL;
}

static int load(struct hist *h, const char *path)
{
	char err[512];
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		fprintf(stderr, "weft-history-check: %s: %s\n", path, strerror(errno));
		return -1;
	}
	int rc = hist_parse(h, f, path, err, sizeof(err));
	if (f != stdin)
		fclose(f);
	if (rc == -ENOMEM)
		fprintf(stderr, "weft-history-check: %s: out of memory\n", path);
	else if (rc < 0)
		fprintf(stderr, "weft-history-check: %s\n", err);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},
		{"max-states", required_argument, NULL, 's'},
		{"max-memory", required_argument, NULL, 'M'},
		{"allow-duplicates", no_argument, NULL, 'd'},
		{"plain", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct hist_opts o = {.registers = true, .queues = true, .singletons = true,
			      .max_states = 10000000, .max_bytes = (size_t)1024 << 20};
	uint64_t mib;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_model(optarg, &o) < 0) {
				fprintf(stderr, "weft-history-check: bad --model '%s'\n", optarg);
				return 2;
			}
			break;
		case 's':
			if (parse_count(optarg, &o.max_states) < 0) {
				fprintf(stderr, "weft-history-check: bad --max-states '%s'\n", optarg);
				return 2;
			}
			break;
		case 'M':
			if (parse_count(optarg, &mib) < 0 || mib > (SIZE_MAX >> 21)) {
				fprintf(stderr, "weft-history-check: bad --max-memory '%s'\n", optarg);
				return 2;
			}
			o.max_bytes = (size_t)mib << 20;
			break;
		case 'd':
			o.allow_duplicates = true;
			break;
		case 'p':
			o.plain = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	struct hist *h = hist_new();
	if (!h) {
		fprintf(stderr, "weft-history-check: out of memory\n");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		if (load(h, argv[i]) < 0) {
			hist_free(h);
			return 2;
		}
	}
	struct hist_result r;
	int rc = hist_check(h, &o, &r, stdout);
	if (rc < 0) {
		fprintf(stderr, "weft-history-check: out of memory while checking\n");
		hist_free(h);
		return 2;
	}
	hist_print_summary(&r, stdout);
	hist_free(h);
	return hist_exit_code(&r, &o);
}
