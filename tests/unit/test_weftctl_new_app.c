/*
 * `weftctl new-app` (client/weftctl_new_app.c): which names are accepted;
 * the scaffold written into a new directory and into an existing empty
 * one, every file present with the name filled in and no placeholder left;
 * a non-empty directory, a file in the way and a bad name refused with
 * nothing written. (Building and deploying the scaffold: the integration
 * test tests/integration/weftctl_new_app.sh.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "weftctl_new_app.h"

static char tmp[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/weftctl-new-app-XXXXXX");
	return mkdtemp(tmp) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void test_names(void **state)
{
	(void)state;
	assert_true(weftctl_new_app_name_ok("hello"));
	assert_true(weftctl_new_app_name_ok("My_app-2"));
	assert_true(weftctl_new_app_name_ok("a"));
	assert_true(weftctl_new_app_name_ok("a234567890123456789012345678901234567890")); /* 40 */
	assert_false(weftctl_new_app_name_ok("a2345678901234567890123456789012345678901"));
	assert_false(weftctl_new_app_name_ok(""));
	assert_false(weftctl_new_app_name_ok("1app"));
	assert_false(weftctl_new_app_name_ok("-app"));
	assert_false(weftctl_new_app_name_ok(".app"));
	assert_false(weftctl_new_app_name_ok("my app"));
	assert_false(weftctl_new_app_name_ok("a/b"));
	assert_false(weftctl_new_app_name_ok("a.b"));
	assert_false(weftctl_new_app_name_ok("caf\xc3\xa9"));
	assert_false(weftctl_new_app_name_ok("a\"b"));
}

static void check_scaffold(const char *dir, const char *name)
{
	char path[256];
	for (size_t i = 0; i < weftctl_new_app_n_files; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, weftctl_new_app_files[i].path);
		const char *text = slurp(path);
		assert_null(strstr(text, "@NAME@"));
		assert_true(strlen(text) > 0);
	}
	snprintf(path, sizeof(path), "%s/meson.build", dir);
	const char *mb = slurp(path);
	char want[128];
	snprintf(want, sizeof(want), "project('%s', 'c'", name);
	assert_non_null(strstr(mb, want));
	assert_non_null(strstr(mb, "dependency('weft')"));
	snprintf(want, sizeof(want), "shared_module('%s'", name);
	assert_non_null(strstr(mb, want));
	snprintf(path, sizeof(path), "%s/src/init.c", dir);
	const char *init = slurp(path);
	assert_non_null(strstr(init, "int weft_app_init(weft_app *app)"));
	snprintf(want, sizeof(want), "#define QUEUE \"/queue/%s\"", name);
	assert_non_null(strstr(init, want));
	assert_non_null(strstr(init, "weft_open_cache("));
	assert_non_null(strstr(init, "weft_app_listen("));
	assert_non_null(strstr(init, "weft_daemonize("));
	snprintf(path, sizeof(path), "%s/README.md", dir);
	snprintf(want, sizeof(want), "# %s\n", name);
	assert_non_null(strstr(slurp(path), want));
}

static void test_new_dir(void **state)
{
	(void)state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/hello", tmp);
	assert_int_equal(weftctl_new_app("hello", dir), 0);
	check_scaffold(dir, "hello");
	/* Again into the same (now non-empty) directory: refused, untouched. */
	char path[160];
	snprintf(path, sizeof(path), "%s/README.md", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("mine\n", f);
	fclose(f);
	assert_int_equal(weftctl_new_app("hello", dir), -ENOTEMPTY);
	assert_string_equal(slurp(path), "mine\n");
}

static void test_empty_dir(void **state)
{
	(void)state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/empty", tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(weftctl_new_app("Other_app-2", dir), 0);
	check_scaffold(dir, "Other_app-2");
}

static void test_refusals(void **state)
{
	(void)state;
	char dir[128];
	struct stat st;
	snprintf(dir, sizeof(dir), "%s/bad", tmp);
	assert_int_equal(weftctl_new_app("1bad", dir), -EINVAL);
	assert_int_equal(weftctl_new_app("a b", dir), -EINVAL);
	assert_int_not_equal(stat(dir, &st), 0); /* nothing made */

	snprintf(dir, sizeof(dir), "%s/afile", tmp);
	FILE *f = fopen(dir, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(weftctl_new_app("ok", dir), -ENOTDIR);

	snprintf(dir, sizeof(dir), "%s/no/such/parent", tmp);
	assert_int_equal(weftctl_new_app("ok", dir), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_new_dir),
		cmocka_unit_test(test_empty_dir),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
