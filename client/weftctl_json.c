/*
 * weftctl_json.c — weftctl's streaming JSON writer (weftctl_json.h).
 *
 * Invariants: separators are decided only from the per-level state
 * (is_obj, has_items, key_due), so a value is never written without the
 * comma or colon it needs; every string goes through put_string, which
 * writes only printable ASCII, escapes and well-formed UTF-8 sequences.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "weftctl_json.h"

void weftctl_json_init(struct weftctl_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

/* Before any value: the separator it needs; false (misuse) when no value
 * may come here. */
static bool before_value(struct weftctl_json *j)
{
	if (j->done) {
		j->misuse = true;
		return false;
	}
	if (j->depth == 0)
		return true;
	int d = j->depth - 1;
	if (j->is_obj[d]) {
		if (j->key_due) {
			j->misuse = true;
			return false;
		}
		j->key_due = true; /* after this value */
		return true;
	}
	if (j->has_items[d])
		fputc(',', j->f);
	j->has_items[d] = true;
	return true;
}

static void after_value(struct weftctl_json *j)
{
	if (j->depth == 0)
		j->done = true;
}

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	uint32_t min, cp;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, min = 0x80, cp = c & 0x1fu;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, min = 0x800, cp = c & 0x0fu;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, min = 0x10000, cp = c & 0x07u;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void put_string(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c == '\t') {
			fputs("\\t", f);
		} else if (c == '\r') {
			fputs("\\r", f);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
		} else if (c >= 0x80) {
			size_t len = utf8_len(p + i, n - i);
			if (len == 0) {
				fputs("\\ufffd", f);
				i++;
				continue;
			}
			fwrite(p + i, 1, len, f);
			i += len;
			continue;
		} else {
			fputc(c, f);
		}
		i++;
	}
	fputc('"', f);
}

static void begin(struct weftctl_json *j, bool obj)
{
	if (!before_value(j))
		return;
	if (j->depth == WEFTCTL_JSON_DEPTH) {
		j->misuse = true;
		return;
	}
	fputc(obj ? '{' : '[', j->f);
	j->is_obj[j->depth] = obj;
	j->has_items[j->depth] = false;
	j->depth++;
	j->key_due = obj;
}

static void end(struct weftctl_json *j, bool obj)
{
	if (j->depth == 0 || j->is_obj[j->depth - 1] != obj || (obj && !j->key_due)) {
		j->misuse = true;
		return;
	}
	j->depth--;
	fputc(obj ? '}' : ']', j->f);
	j->key_due = j->depth > 0 && j->is_obj[j->depth - 1];
	after_value(j);
}

void weftctl_json_obj_begin(struct weftctl_json *j) { begin(j, true); }
void weftctl_json_obj_end(struct weftctl_json *j) { end(j, true); }
void weftctl_json_arr_begin(struct weftctl_json *j) { begin(j, false); }
void weftctl_json_arr_end(struct weftctl_json *j) { end(j, false); }

void weftctl_json_key(struct weftctl_json *j, const char *k)
{
	if (j->depth == 0 || !j->is_obj[j->depth - 1] || !j->key_due) {
		j->misuse = true;
		return;
	}
	int d = j->depth - 1;
	if (j->has_items[d])
		fputc(',', j->f);
	j->has_items[d] = true;
	put_string(j->f, k, strlen(k));
	fputc(':', j->f);
	j->key_due = false;
}

void weftctl_json_str_n(struct weftctl_json *j, const char *s, size_t len)
{
	if (!before_value(j))
		return;
	put_string(j->f, s, len);
	after_value(j);
}

void weftctl_json_str(struct weftctl_json *j, const char *s)
{
	weftctl_json_str_n(j, s, strlen(s));
}

void weftctl_json_u64(struct weftctl_json *j, uint64_t v)
{
	if (!before_value(j))
		return;
	fprintf(j->f, "%" PRIu64, v);
	after_value(j);
}

static void literal(struct weftctl_json *j, const char *lit)
{
	if (!before_value(j))
		return;
	fputs(lit, j->f);
	after_value(j);
}

void weftctl_json_bool(struct weftctl_json *j, bool v) { literal(j, v ? "true" : "false"); }
void weftctl_json_null(struct weftctl_json *j) { literal(j, "null"); }

/* A decimal integer JSON accepts as it is: optional '-', 1..19 digits,
 * no leading zero unless it is "0". */
static bool is_int_text(const char *s)
{
	const char *d = s[0] == '-' ? s + 1 : s;
	size_t n = strlen(d);
	if (n == 0 || n > 20 || (d[0] == '0' && n > 1))
		return false;
	return strspn(d, "0123456789") == n;
}

void weftctl_json_text(struct weftctl_json *j, const char *s)
{
	if (s == NULL || strcmp(s, "-") == 0)
		weftctl_json_null(j);
	else if (is_int_text(s))
		literal(j, s);
	else
		weftctl_json_str(j, s);
}

void weftctl_json_kv_str(struct weftctl_json *j, const char *k, const char *v)
{
	weftctl_json_key(j, k);
	if (v == NULL)
		weftctl_json_null(j);
	else
		weftctl_json_str(j, v);
}

void weftctl_json_kv_u64(struct weftctl_json *j, const char *k, uint64_t v)
{
	weftctl_json_key(j, k);
	weftctl_json_u64(j, v);
}

void weftctl_json_kv_text(struct weftctl_json *j, const char *k, const char *v)
{
	weftctl_json_key(j, k);
	weftctl_json_text(j, v);
}

int weftctl_json_finish(struct weftctl_json *j)
{
	if (j->misuse || j->depth != 0 || !j->done)
		return -EINVAL;
	fputc('\n', j->f);
	return fflush(j->f) == 0 && !ferror(j->f) ? 0 : -EIO;
}

bool weftctl_json_take_flag(int *argc, char **argv)
{
	bool found = false;
	int n = 0;
	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[n++] = argv[i++];
			break;
		}
		if (i > 0 && strcmp(argv[i], "--json") == 0) {
			found = true;
			continue;
		}
		argv[n++] = argv[i];
	}
	*argc = n;
	argv[n] = NULL;
	return found;
}
