/*
 * fuzz_args.c — libFuzzer target for the command lines: weftd's
 * (control/ctl_args.c weft_ctl_args_parse, weft_ctl_name_valid, and the
 * node-id file's weft_ctl_uuid_parse of ctl_home.c) and weftctl's pure
 * reading helpers (client/weftctl_cli.c: weftctl_find_command,
 * weftctl_positional, weftctl_num).
 *
 * Input: NUL-separated tokens, each a malloc'd copy (so ASan sees any read
 * past one), passed as argv[1..] after "weftd" (at most 64). The same
 * vector goes to weftctl_find_command with a set of valued options and
 * commands, every token to weftctl_num and weft_ctl_uuid_parse.
 *
 * Asserted: weft_ctl_args_parse returns 0, 1 (--help) or -EINVAL and never
 * exits; on 0 the required options are present and every value is in its
 * documented range (lcores 1..64, segments a power of two, owners 1..8,
 * mem >= 64, a valid node name, EAL extras inside argv); a command found
 * is a token of argv and one of the commands; weftctl_num's value is at
 * most its max; after each input a known-good command line still parses
 * (regression: corpus_args/unknown_grouped, a getopt state left pointing
 * into freed argv). What the parser prints goes to /dev/null.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "weftctl_cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

static void check(int ok)
{
	if (!ok)
		abort();
}

/* The parser prints its errors and usage: into /dev/null while it runs
 * (thousands of runs a second would fill a CI log). */
static int parse_quiet(int argc, char **argv, struct weft_ctl_args *a)
{
	static FILE *null;
	if (null == NULL)
		null = fopen("/dev/null", "w");
	FILE *out = stdout, *err = stderr;
	if (null != NULL)
		stdout = stderr = null;
	int rc = weft_ctl_args_parse(argc, argv, a);
	stdout = out;
	stderr = err;
	return rc;
}

/* A valid command line parses the same whatever was parsed before (a
 * parse stopped inside "-vx" once left getopt pointing into its argv). */
static void weftd_known_good(void)
{
	char v[5][16] = {"weftd", "--port", "p", "--bind", "10.235.0.2"};
	char *argv[6] = {v[0], v[1], v[2], v[3], v[4], NULL};
	struct weft_ctl_args a;
	check(parse_quiet(5, argv, &a) == 0 && a.bind_ip == 0x0200eb0au);
}

static void weftd_args(int argc, char **argv)
{
	struct weft_ctl_args a;
	int rc = parse_quiet(argc, argv, &a);
	check(rc == 0 || rc == 1 || rc == -EINVAL);
	if (rc != 0)
		return;
	check(a.port_spec != NULL && a.bind != NULL && a.bind_ip != 0);
	check(a.lcores >= 1 && a.lcores <= 64 && a.mem_mb >= 64);
	check(a.segments >= (1u << WEFT_CTL_SEGMENTS_LOG2_MIN) &&
	      a.segments <= (1u << WEFT_CTL_SEGMENTS_LOG2_MAX) &&
	      (a.segments & (a.segments - 1)) == 0);
	check(a.owners >= 1 && a.owners <= WEFT_CTL_OWNERS_MAX);
	check(a.n_peers <= WEFT_CTL_MAX_PEERS && weft_ctl_name_valid(a.node_name));
	check(a.offset <= 65535 - WEFT_DEFAULT_PORT);
	check(a.n_eal_extra >= 0 && a.n_eal_extra < argc && a.eal_extra + a.n_eal_extra == argv + argc);
}

static void weftctl_args(int argc, char **argv)
{
	static const char *const valued[] = {"--addr", "--timeout", "--count", "--max", "--ttl"};
	static const char *const commands[] = {"get", "put", "send", "receive", "list", "show"};
	const char *cmd = weftctl_find_command(argc, argv, valued, 5, commands, 6);
	if (cmd != NULL) {
		bool in_argv = false;
		for (int i = 1; i < argc; i++)
			in_argv |= argv[i] == cmd;
		check(in_argv && weftctl_in(cmd, commands, 6));
	}
	for (int i = 1; i < argc; i++) {
		(void)weftctl_positional(argv[i]);
		uint64_t v = 0;
		uint64_t max = (uint64_t)1 << (i % 64);
		if (weftctl_num(argv[i], max, &v) == 0)
			check(v <= max);
		uint8_t raw[16];
		(void)weft_ctl_uuid_parse(argv[i], raw);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	argv[argc++] = strdup("weftd");
	size_t start = 0;
	for (size_t i = 0; i <= size && argc <= MAX_ARGS; i++) {
		if (i < size && data[i] != 0)
			continue;
		size_t n = i - start;
		char *t = malloc(n + 1);
		if (t == NULL)
			break;
		memcpy(t, data + start, n);
		t[n] = '\0';
		argv[argc++] = t;
		start = i + 1;
	}
	argv[argc] = NULL;
	/* getopt may permute a copy; the checks compare against the vector. */
	char *copy[MAX_ARGS + 2];
	memcpy(copy, argv, sizeof(char *) * (size_t)(argc + 1));
	weftd_args(argc, copy);
	weftctl_args(argc, argv);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	weftd_known_good();
	return 0;
}
