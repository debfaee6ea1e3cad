/*
 * test_ctl_log.c — weftd's log lines (ctl_log.c), read back from a pipe in
 * place of stderr: the line format (timestamp, level, node, subsystem from
 * the calling file, message), the level filter, and the rate limit per
 * call site (repeats beyond the burst counted and reported by one line,
 * nothing lost from the count).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"

static int saved_stderr = -1, rd = -1;

/* stderr -> a pipe whose read end is non-blocking. */
static int capture(void **state)
{
	(void)state;
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	saved_stderr = dup(STDERR_FILENO);
	dup2(fds[1], STDERR_FILENO);
	close(fds[1]);
	rd = fds[0];
	fcntl(rd, F_SETFL, O_NONBLOCK);
	return 0;
}

static int restore(void **state)
{
	(void)state;
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	close(rd);
	return 0;
}

/* Everything written so far (NUL-terminated, malloc'd). */
static char *drain(void)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	assert_non_null(buf);
	for (;;) {
		ssize_t n = read(rd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		assert_true(len < cap);
	}
	buf[len] = '\0';
	return buf;
}

static void test_line_format_and_level(void **state)
{
	(void)state;
	weft_ctl_log_set_level(WEFT_LOG_INFO);
	weft_ctl_log_set_node("n7");
	weft_ctl_log(WEFT_LOG_INFO, "hello %d", 5);
	weft_ctl_log(WEFT_LOG_DEBUG, "not shown");
	char *out = drain();
	/* 2026-01-01T00:00:00.000Z INFO  n7 test: hello 5 */
	assert_int_equal(strlen(out), 24 + strlen(" INFO  n7 test: hello 5\n"));
	assert_int_equal(out[4], '-');
	assert_int_equal(out[10], 'T');
	assert_int_equal(out[23], 'Z');
	assert_string_equal(out + 24, " INFO  n7 test: hello 5\n");
	free(out);
	enum weft_ctl_log_level l;
	assert_int_equal(weft_ctl_log_level_parse("debug", &l), 0);
	assert_int_equal(l, WEFT_LOG_DEBUG);
	assert_int_equal(weft_ctl_log_level_parse("warn", &l), 0);
	assert_int_equal(l, WEFT_LOG_WARN);
	assert_int_equal(weft_ctl_log_level_parse("verbose", &l), -1);
	weft_ctl_log_set_level(WEFT_LOG_WARN);
	weft_ctl_log(WEFT_LOG_INFO, "below the level");
	weft_ctl_log(WEFT_LOG_WARN, "at the level");
	out = drain();
	assert_null(strstr(out, "below the level"));
	assert_non_null(strstr(out, " WARN  n7 test: at the level\n"));
	free(out);
	weft_ctl_log_set_level(WEFT_LOG_INFO);
}

static void test_repeats_are_limited_and_counted(void **state)
{
	(void)state;
	weft_ctl_log_set_node("n7");
	for (int i = 0; i < 50; i++)
		weft_ctl_log(WEFT_LOG_WARN, "again %d", i);
	weft_ctl_log(WEFT_LOG_WARN, "another site");
	weft_ctl_log_flush();
	char *out = drain();
	unsigned printed = 0, suppressed = 0;
	for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		unsigned n;
		const char *m = strstr(line, "test: ");
		assert_non_null(m);
		m += 6;
		if (strncmp(m, "again ", 6) == 0)
			printed++;
		else if (sscanf(m, "%u more like \"again %%d\" were suppressed", &n) == 1)
			suppressed += n;
		else
			assert_string_equal(m, "another site"); /* its own budget */
	}
	free(out);
	assert_true(printed < 50);      /* limited ... */
	assert_int_equal(printed + suppressed, 50); /* ... and every repeat counted */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_format_and_level),
		cmocka_unit_test(test_repeats_are_limited_and_counted),
	};
	return cmocka_run_group_tests(tests, capture, restore);
}
