/*
 * dp_text.c — the bounded text builder behind the STATS and MEMBERS answers.
 *
 * Invariant: dp_text_put never writes past buf + cap and always leaves the
 * text NUL-terminated when there is room; len keeps counting the bytes the
 * whole text needs even once buf is full (or NULL), so a caller can size a
 * buffer and format again.
 */
#include <stdarg.h>
#include <stdio.h>

#include "dp_internal.h"

void dp_text_put(struct dp_text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = t->buf != NULL && t->len < t->cap ? t->cap - t->len : 0;
	int n = vsnprintf(room ? t->buf + t->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n;
}
