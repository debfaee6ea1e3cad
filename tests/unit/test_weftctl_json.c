/*
 * weftctl's JSON writer (client/weftctl_json.c): exact output for nesting
 * and separators, string escaping (quotes, backslashes, control bytes,
 * DEL, NUL inside a counted string), UTF-8 kept when well formed and
 * replaced by U+FFFD when not (overlong, surrogate, truncated, stray
 * continuation), node text fields as numbers / null / strings, misuse
 * reported by finish, and the --json flag taken out of argv.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "weftctl_json.h"

struct buf {
	char *p;
	size_t n;
	FILE *f;
};

static void open_buf(struct buf *b, struct weftctl_json *j)
{
	b->p = NULL;
	b->n = 0;
	b->f = open_memstream(&b->p, &b->n);
	assert_non_null(b->f);
	weftctl_json_init(j, b->f);
}

/* Finishes j, closes the stream and checks rc and text. */
static void expect(struct buf *b, struct weftctl_json *j, int rc, const char *text)
{
	assert_int_equal(weftctl_json_finish(j), rc);
	fclose(b->f);
	if (text != NULL)
		assert_string_equal(b->p, text);
	free(b->p);
}

static void test_nesting(void **state)
{
	(void)state;
	struct buf b;
	struct weftctl_json j;
	open_buf(&b, &j);
	weftctl_json_obj_begin(&j);
	weftctl_json_kv_u64(&j, "view", 7);
	weftctl_json_key(&j, "members");
	weftctl_json_arr_begin(&j);
	weftctl_json_obj_begin(&j);
	weftctl_json_kv_str(&j, "name", "n1");
	weftctl_json_kv_str(&j, "id", NULL);
	weftctl_json_obj_end(&j);
	weftctl_json_obj_begin(&j);
	weftctl_json_obj_end(&j);
	weftctl_json_arr_begin(&j);
	weftctl_json_arr_end(&j);
	weftctl_json_u64(&j, UINT64_MAX);
	weftctl_json_bool(&j, true);
	weftctl_json_bool(&j, false);
	weftctl_json_null(&j);
	weftctl_json_arr_end(&j);
	weftctl_json_obj_end(&j);
	expect(&b, &j, 0,
	       "{\"view\":7,\"members\":[{\"name\":\"n1\",\"id\":null},{},[],"
	       "18446744073709551615,true,false,null]}\n");
}

static void test_escaping(void **state)
{
	(void)state;
	struct buf b;
	struct weftctl_json j;
	open_buf(&b, &j);
	weftctl_json_arr_begin(&j);
	weftctl_json_str(&j, "a\"b\\c/d");
	weftctl_json_str(&j, "l1\nl2\tx\r\x01\x1f\x7f");
	weftctl_json_str_n(&j, "a\0b", 3);
	weftctl_json_str(&j, "");
	weftctl_json_arr_end(&j);
	expect(&b, &j, 0,
	       "[\"a\\\"b\\\\c/d\",\"l1\\nl2\\tx\\r\\u0001\\u001f\\u007f\",\"a\\u0000b\",\"\"]\n");
}

static void test_utf8(void **state)
{
	(void)state;
	struct buf b;
	struct weftctl_json j;
	open_buf(&b, &j);
	weftctl_json_arr_begin(&j);
	weftctl_json_str(&j, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"); /* é € 😀 kept */
	weftctl_json_str(&j, "\xc0\xaf");         /* overlong '/' */
	weftctl_json_str(&j, "\xed\xa0\x80");     /* surrogate U+D800 */
	weftctl_json_str(&j, "x\xe2\x82");        /* truncated */
	weftctl_json_str(&j, "\x80y");            /* stray continuation */
	weftctl_json_str(&j, "\xf4\x90\x80\x80"); /* above U+10FFFF */
	weftctl_json_arr_end(&j);
	expect(&b, &j, 0,
	       "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",\"\\ufffd\\ufffd\","
	       "\"\\ufffd\\ufffd\\ufffd\",\"x\\ufffd\\ufffd\",\"\\ufffdy\","
	       "\"\\ufffd\\ufffd\\ufffd\\ufffd\"]\n");
}

static void test_text_fields(void **state)
{
	(void)state;
	struct buf b;
	struct weftctl_json j;
	open_buf(&b, &j);
	weftctl_json_obj_begin(&j);
	weftctl_json_kv_text(&j, "a", "42");
	weftctl_json_kv_text(&j, "b", "-");
	weftctl_json_kv_text(&j, "c", NULL);
	weftctl_json_kv_text(&j, "d", "-7");
	weftctl_json_kv_text(&j, "e", "007");  /* not a JSON number */
	weftctl_json_kv_text(&j, "f", "1.5");  /* kept as text */
	weftctl_json_kv_text(&j, "g", "running");
	weftctl_json_kv_text(&j, "h", "18446744073709551615");
	weftctl_json_kv_text(&j, "i", "123456789012345678901"); /* 21 digits */
	weftctl_json_kv_text(&j, "k\"", "0");
	weftctl_json_obj_end(&j);
	expect(&b, &j, 0,
	       "{\"a\":42,\"b\":null,\"c\":null,\"d\":-7,\"e\":\"007\",\"f\":\"1.5\","
	       "\"g\":\"running\",\"h\":18446744073709551615,"
	       "\"i\":\"123456789012345678901\",\"k\\\"\":0}\n");
}

static void test_misuse(void **state)
{
	(void)state;
	struct buf b;
	struct weftctl_json j;

	open_buf(&b, &j); /* nothing written */
	expect(&b, &j, -EINVAL, NULL);

	open_buf(&b, &j); /* unclosed */
	weftctl_json_arr_begin(&j);
	expect(&b, &j, -EINVAL, NULL);

	open_buf(&b, &j); /* a value where a key is due */
	weftctl_json_obj_begin(&j);
	weftctl_json_u64(&j, 1);
	weftctl_json_obj_end(&j);
	expect(&b, &j, -EINVAL, NULL);

	open_buf(&b, &j); /* a key without its value */
	weftctl_json_obj_begin(&j);
	weftctl_json_key(&j, "k");
	weftctl_json_obj_end(&j);
	expect(&b, &j, -EINVAL, NULL);

	open_buf(&b, &j); /* a key in an array */
	weftctl_json_arr_begin(&j);
	weftctl_json_key(&j, "k");
	weftctl_json_arr_end(&j);
	expect(&b, &j, -EINVAL, NULL);

	open_buf(&b, &j); /* mismatched end */
	weftctl_json_arr_begin(&j);
	weftctl_json_obj_end(&j);
	weftctl_json_arr_end(&j);
	expect(&b, &j, -EINVAL, NULL);

	open_buf(&b, &j); /* two top-level values */
	weftctl_json_u64(&j, 1);
	weftctl_json_u64(&j, 2);
	expect(&b, &j, -EINVAL, NULL);

	open_buf(&b, &j); /* too deep */
	for (int i = 0; i <= WEFTCTL_JSON_DEPTH; i++)
		weftctl_json_arr_begin(&j);
	for (int i = 0; i <= WEFTCTL_JSON_DEPTH; i++)
		weftctl_json_arr_end(&j);
	expect(&b, &j, -EINVAL, NULL);

	open_buf(&b, &j); /* exactly as deep as allowed */
	for (int i = 0; i < WEFTCTL_JSON_DEPTH; i++)
		weftctl_json_arr_begin(&j);
	for (int i = 0; i < WEFTCTL_JSON_DEPTH; i++)
		weftctl_json_arr_end(&j);
	expect(&b, &j, 0, "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]\n");
}

static void test_take_flag(void **state)
{
	(void)state;
	char *argv[] = { "weftctl", "-s", "1.2.3.4", "--json", "members", "--", "--json", NULL };
	int argc = 7;
	assert_true(weftctl_json_take_flag(&argc, argv));
	assert_int_equal(argc, 6);
	assert_string_equal(argv[3], "members");
	assert_string_equal(argv[4], "--");
	assert_string_equal(argv[5], "--json"); /* after "--": an argument */
	assert_null(argv[6]);

	char *argv2[] = { "weftctl", "stats", NULL };
	argc = 2;
	assert_false(weftctl_json_take_flag(&argc, argv2));
	assert_int_equal(argc, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting),    cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_utf8),       cmocka_unit_test(test_text_fields),
		cmocka_unit_test(test_misuse),     cmocka_unit_test(test_take_flag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
