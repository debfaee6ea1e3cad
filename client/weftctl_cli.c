/*
 * weftctl_cli.c — the command-line reading weftctl's command modules
 * share (weftctl_cli.h). Pure but for weftctl_die_usage (and what calls it:
 * weftctl_parse_num, weftctl_read_stdin), which exits. Needs no libweft
 * (the fuzz target fuzz_args links it alone); the failure messages are
 * weftctl_fail.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/wire.h>

#include "weftctl_cli.h"

bool weftctl_in(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return true;
	return false;
}

bool weftctl_positional(const char *a)
{
	if (a[0] != '-' || strcmp(a, "-") == 0)
		return true;
	const char *s = a + 1; /* a negative number is an argument */
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

const char *weftctl_find_command(int argc, char **argv, const char *const *valued,
				 size_t n_valued, const char *const *commands, size_t n_commands)
{
	const char *cmd = NULL;
	bool opts_done = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!opts_done && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0))
			return NULL;
		if (opts_done || weftctl_positional(a)) {
			if (cmd == NULL)
				cmd = a;
		} else if (strcmp(a, "--") == 0) {
			opts_done = true;
		} else if (weftctl_in(a, valued, n_valued)) {
			i++;
		}
	}
	return cmd && weftctl_in(cmd, commands, n_commands) ? cmd : NULL;
}

void weftctl_die_usage(const char *msg, const char *arg)
{
	fprintf(stderr, "weftctl: %s%s%s\ntry 'weftctl -h'\n", msg, arg ? ": " : "",
		arg ? arg : "");
	exit(2);
}

int weftctl_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || s[0] == '-' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

uint64_t weftctl_parse_num(const char *s, const char *what, uint64_t max)
{
	uint64_t v;
	if (weftctl_num(s, max, &v) != 0)
		weftctl_die_usage(what, s);
	return v;
}

void *weftctl_read_stdin(size_t *len)
{
	size_t cap = WEFT_MAX_VALUE_LEN + 1, n = 0;
	char *buf = malloc(cap);
	if (buf == NULL) {
		fprintf(stderr, "weftctl: out of memory\n");
		exit(2);
	}
	for (;;) {
		ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "weftctl: reading stdin: %s\n", strerror(errno));
			exit(2);
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			fprintf(stderr, "weftctl: value on stdin is larger than 1 MiB\n");
			exit(2);
		}
	}
	*len = n;
	return buf;
}
