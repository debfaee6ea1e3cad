/*
 * ctl_admin_text.c — text helpers of the admin plane (ctl_admin_internal.h):
 * a growable buffer, Prometheus and JSON escaping, metric-name sanitising,
 * and the tokenising of the node's "name value" texts.
 *
 * Invariants: an adm_buf's text is always NUL-terminated once anything was
 * appended; after an allocation failure (oom) nothing more is appended.
 * Escapers only ever emit valid UTF-8: a byte that does not start a
 * well-formed sequence becomes U+FFFD.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_admin_internal.h"

static bool grow(struct adm_buf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (p == NULL) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void adm_mem(struct adm_buf *b, const void *s, size_t n)
{
	if (!grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void adm_put(struct adm_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		adm_mem(b, small, (size_t)n);
		return;
	}
	if (!grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *adm_take(struct adm_buf *b, size_t *len)
{
	if (!b->oom && b->p == NULL)
		adm_mem(b, "", 0);
	if (b->oom) {
		adm_buf_free(b);
		errno = ENOMEM;
		return NULL;
	}
	char *p = b->p;
	*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void adm_buf_free(struct adm_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (1..4), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t k;
	unsigned lo = 0x80, hi = 0xbf;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		k = 3;
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < k || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < k; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return k;
}

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

void adm_prom_label_value(struct adm_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		if (c == '\\' || c == '"') {
			char e[2] = {'\\', (char)c};
			adm_mem(b, e, 2);
			i++;
		} else if (c == '\n') {
			adm_mem(b, "\\n", 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			adm_mem(b, replacement, 3);
			i++;
		} else {
			size_t k = utf8_len(u + i, n - i);
			if (k == 0) {
				adm_mem(b, replacement, 3);
				i++;
			} else {
				adm_mem(b, u + i, k);
				i += k;
			}
		}
	}
}

void adm_json_str(struct adm_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	adm_mem(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		if (c == '\\' || c == '"') {
			char e[2] = {'\\', (char)c};
			adm_mem(b, e, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			adm_put(b, "\\u%04x", c);
			i++;
		} else {
			size_t k = utf8_len(u + i, n - i);
			if (k == 0) {
				adm_mem(b, "\\ufffd", 6);
				i++;
			} else {
				adm_mem(b, u + i, k);
				i += k;
			}
		}
	}
	adm_mem(b, "\"", 1);
}

void adm_prom_name(struct adm_buf *b, const char *prefix, const char *raw, size_t n,
		   const char *suffix)
{
	adm_mem(b, prefix, strlen(prefix));
	for (size_t i = 0; i < n; i++) {
		char c = raw[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_';
		adm_mem(b, ok ? &c : "_", 1);
	}
	adm_mem(b, suffix, strlen(suffix));
}

bool adm_next_line(const char *text, size_t len, size_t *pos, struct adm_line *l)
{
	while (*pos < len) {
		const char *start = text + *pos;
		const char *nl = memchr(start, '\n', len - *pos);
		size_t n = nl ? (size_t)(nl - start) : len - *pos;
		*pos += n + (nl ? 1 : 0);
		const char *sp = NULL;
		for (size_t i = n; i > 0; i--)
			if (start[i - 1] == ' ') {
				sp = start + i - 1;
				break;
			}
		if (sp == NULL || sp == start)
			continue;
		l->name = start;
		l->name_len = (size_t)(sp - start);
		l->value = sp + 1;
		l->value_len = n - l->name_len - 1;
		return true;
	}
	return false;
}

bool adm_u64(const char *s, size_t n, uint64_t *out)
{
	if (n == 0 || n > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

unsigned adm_tokens(const char *s, size_t n, const char **tok, size_t *tok_len, unsigned max)
{
	unsigned k = 0;
	size_t i = 0;
	while (i < n && k < max) {
		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			break;
		size_t j = i;
		while (j < n && s[j] != ' ')
			j++;
		tok[k] = s + i;
		tok_len[k++] = j - i;
		i = j;
	}
	return k;
}

bool adm_next_tokens(const char *text, size_t len, size_t *pos, const char **tok,
		     size_t *tok_len, unsigned max, unsigned *k)
{
	if (text == NULL || *pos >= len)
		return false;
	const char *line = text + *pos;
	const char *nl = memchr(line, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - line) : len - *pos;
	*pos += n + 1;
	*k = adm_tokens(line, n, tok, tok_len, max);
	return true;
}
