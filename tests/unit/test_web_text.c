/*
 * test_web_text.c — the web-sessions example's pure helpers
 * (examples/web-sessions/text.c and the id functions of store.c): the
 * form decoder, the note's text check, HTML and JSON escaping, the output
 * buffer, and session id checks. What a visitor sends reaches these first,
 * so each rejection the pages rely on is asserted here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "web.h"

static int field(const char *body, const char *name, char *out, size_t cap, size_t *len)
{
	return web_form_field(body, strlen(body), name, out, cap, len);
}

static void test_form_field(void **state)
{
	(void)state;
	char v[64];
	size_t n = 99;
	assert_int_equal(field("note=hello+world%21", "note", v, sizeof(v), &n), 0);
	assert_string_equal(v, "hello world!");
	assert_int_equal(n, 12);
	/* the field among others, a longer name that starts alike, an
	 * encoded name */
	assert_int_equal(field("notes=a&x=1&note=b", "note", v, sizeof(v), &n), 0);
	assert_string_equal(v, "b");
	assert_int_equal(field("no%74e=c", "note", v, sizeof(v), &n), 0);
	assert_string_equal(v, "c");
	/* the first occurrence wins */
	assert_int_equal(field("note=1&note=2", "note", v, sizeof(v), &n), 0);
	assert_string_equal(v, "1");
	/* empty values: "note=" and a bare "note" */
	assert_int_equal(field("note=", "note", v, sizeof(v), &n), 0);
	assert_int_equal(n, 0);
	assert_string_equal(v, "");
	assert_int_equal(field("a=1&note", "note", v, sizeof(v), &n), 0);
	assert_int_equal(n, 0);
	/* missing */
	assert_int_equal(field("", "note", v, sizeof(v), &n), -ENOENT);
	assert_int_equal(field("other=x&&=y", "note", v, sizeof(v), &n), -ENOENT);
	/* bad or cut %XX */
	assert_int_equal(field("note=%zz", "note", v, sizeof(v), &n), -EINVAL);
	assert_int_equal(field("note=ab%4", "note", v, sizeof(v), &n), -EINVAL);
	assert_int_equal(field("note=%", "note", v, sizeof(v), &n), -EINVAL);
	/* a decoded NUL is kept (web_text_ok rejects it) */
	assert_int_equal(field("note=a%00b", "note", v, sizeof(v), &n), 0);
	assert_int_equal(n, 3);
	assert_false(web_text_ok(v, n));
	/* capacity: cap - 1 bytes fit, one more is -E2BIG */
	assert_int_equal(field("note=abcd", "note", v, 5, &n), 0);
	assert_string_equal(v, "abcd");
	assert_int_equal(field("note=abcde", "note", v, 5, &n), -E2BIG);
	assert_int_equal(field("note=%41%41%41%41", "note", v, 5, &n), 0);
	assert_string_equal(v, "AAAA");
}

static void test_text_ok(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "plain text", true },
		{ "tab\tcr\rlf\n", true },
		{ "", true },
		{ "bell\a", false },
		{ "del\x7f", false },
		{ "\xc3\xa9t\xc3\xa9", true },          /* été */
		{ "\xe2\x82\xac", true },               /* euro sign */
		{ "\xf0\x9f\x98\x80", true },           /* U+1F600 */
		{ "\xc0\x80", false },                  /* overlong NUL */
		{ "\xe0\x80\xaf", false },              /* overlong '/' */
		{ "\xed\xa0\x80", false },              /* a UTF-16 surrogate */
		{ "\xf4\x90\x80\x80", false },          /* past U+10FFFF */
		{ "\xc2\x80", false },                  /* a C1 control */
		{ "\xe2\x82", false },                  /* cut short */
		{ "\x80", false },                      /* a stray continuation */
		{ "\xff", false },
		{ "\xe2\x28\xa1", false },              /* a bad continuation */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(web_text_ok(cases[i].s, strlen(cases[i].s)), cases[i].ok);
}

static void test_escape(void **state)
{
	(void)state;
	struct web_buf b = { 0 };
	const char *in = "<a href='x'>\"&\"</a> \xc3\xa9";
	web_buf_html(&b, in, strlen(in));
	assert_false(b.failed);
	assert_string_equal(b.p, "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt; \xc3\xa9");
	free(b.p);

	b = (struct web_buf){ 0 };
	in = "q\"b\\c\x01\n<>&\xc3\xa9";
	web_buf_json(&b, in, strlen(in));
	assert_string_equal(b.p, "\"q\\\"b\\\\c\\u0001\\u000a\\u003c\\u003e\\u0026\xc3\xa9\"");
	free(b.p);

	b = (struct web_buf){ 0 };
	web_buf_json(&b, "", 0);
	assert_string_equal(b.p, "\"\"");
	free(b.p);
}

static void test_buf_grows(void **state)
{
	(void)state;
	struct web_buf b = { 0 };
	char big[5000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	web_buf_puts(&b, "a");
	web_buf_printf(&b, "%s|%d", big, 42);
	web_buf_put(&b, "end", 3);
	assert_false(b.failed);
	assert_int_equal(b.len, 1 + 4999 + 3 + 3);
	assert_int_equal(strlen(b.p), b.len);
	assert_memory_equal(b.p + b.len - 6, "|42end", 6);
	free(b.p);
}

static void test_ids(void **state)
{
	(void)state;
	assert_true(web_id_valid("0123456789abcdef0123456789abcdef"));
	assert_false(web_id_valid("0123456789ABCDEF0123456789abcdef")); /* we make lowercase */
	assert_false(web_id_valid("0123456789abcdef0123456789abcde"));  /* 31 */
	assert_false(web_id_valid("0123456789abcdef0123456789abcdef0")); /* 33 */
	assert_false(web_id_valid("00000000000000000000000000000000"));
	assert_false(web_id_valid("0123456789abcdef0123456789abcdeg"));
	assert_false(web_id_valid(""));
	char a[WEB_ID_HEX + 1], b[WEB_ID_HEX + 1];
	assert_int_equal(web_id_random(a), 0);
	assert_int_equal(web_id_random(b), 0);
	assert_true(web_id_valid(a));
	assert_true(web_id_valid(b));
	assert_string_not_equal(a, b); /* 2^-128 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_field), cmocka_unit_test(test_text_ok),
		cmocka_unit_test(test_escape),     cmocka_unit_test(test_buf_grows),
		cmocka_unit_test(test_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
