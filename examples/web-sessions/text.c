/*
 * text.c — text helpers of the pages: a growable output buffer (the
 * response body, freed by libmicrohttpd), escaping for HTML and JSON, and
 * the application/x-www-form-urlencoded decoder.
 *
 * Invariants: web_buf.p is NUL-terminated whenever it is not NULL; once an
 * allocation failed, failed stays set and nothing more is written. What a
 * visitor typed reaches a page only through web_buf_html or web_buf_json,
 * and only after web_text_ok (valid UTF-8 without control characters
 * other than tab, CR, LF), so it can neither break out of the markup nor
 * make invalid JSON.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

static bool grow(struct web_buf *b, size_t need)
{
	if (b->failed)
		return false;
	if (b->len + need + 1 <= b->cap)
		return true;
	size_t cap = b->cap != 0 ? b->cap : 1024u;
	while (cap < b->len + need + 1)
		cap *= 2u;
	char *p = realloc(b->p, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void web_buf_put(struct web_buf *b, const char *s, size_t n)
{
	if (!grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void web_buf_puts(struct web_buf *b, const char *s)
{
	web_buf_put(b, s, strlen(s));
}

void web_buf_printf(struct web_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if (!grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void web_buf_html(struct web_buf *b, const char *s, size_t n)
{
	size_t run = 0; /* bytes copied as they are, pending */
	for (size_t i = 0; i < n; i++) {
		const char *e;
		switch (s[i]) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		default: run++; continue;
		}
		web_buf_put(b, s + i - run, run);
		run = 0;
		web_buf_puts(b, e);
	}
	web_buf_put(b, s + n - run, run);
}

void web_buf_json(struct web_buf *b, const char *s, size_t n)
{
	web_buf_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			web_buf_put(b, esc, 2);
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			/* < > & too, so the JSON is safe inside HTML as well */
			web_buf_printf(b, "\\u%04x", c);
		} else {
			web_buf_put(b, s + i, 1);
		}
	}
	web_buf_put(b, "\"", 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s (n bytes, one form name or value) into out; see web_form_field. */
static int form_decode(const char *s, size_t n, char *out, size_t cap, size_t *out_len)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (o + 1 >= cap)
			return -E2BIG;
		out[o++] = c;
	}
	out[o] = '\0';
	*out_len = o;
	return 0;
}

int web_form_field(const char *body, size_t len, const char *name, char *out, size_t cap,
		   size_t *out_len)
{
	size_t nl = strlen(name);
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pair_end = amp != NULL ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pair_end - p));
		const char *name_end = eq != NULL ? eq : pair_end;
		char key[64];
		size_t kl;
		/* Names longer than any we look for cannot match. */
		if (form_decode(p, (size_t)(name_end - p), key, sizeof(key), &kl) == 0 &&
		    kl == nl && memcmp(key, name, nl) == 0) {
			const char *v = eq != NULL ? eq + 1 : pair_end;
			return form_decode(v, (size_t)(pair_end - v), out, cap, out_len);
		}
		p = pair_end + 1;
	}
	return -ENOENT;
}

bool web_text_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
				return false;
			i++;
			continue;
		}
		size_t k; /* continuation bytes */
		if ((c & 0xe0) == 0xc0)
			k = 1;
		else if ((c & 0xf0) == 0xe0)
			k = 2;
		else if ((c & 0xf8) == 0xf0)
			k = 3;
		else
			return false;
		static const uint32_t min_cp[4] = { 0, 0x80, 0x800, 0x10000 };
		uint32_t cp = c & (0x7fu >> (k + 1)), min = min_cp[k];
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((u[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (u[i + j] & 0x3fu);
		}
		/* overlong forms, UTF-16 surrogates, past U+10FFFF, C1 controls */
		if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
		    (cp >= 0x80 && cp <= 0x9f))
			return false;
		i += k + 1;
	}
	return true;
}
