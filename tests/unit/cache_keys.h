/*
 * cache_keys.h — the cache tests' keys made from a format and a number
 * (test_cache, test_cache_repl, test_cache_tomb): the key
 * bytes live in the caller's struct kbuf, hashed once as the node does.
 * Test-only; header-only so each test stays one executable.
 */
#ifndef WEFT_TESTS_CACHE_KEYS_H
#define WEFT_TESTS_CACHE_KEYS_H

#include <stdio.h>

#include "cache.h"
#include "cache_internal.h" /* WEFT_CACHE_MAX_KEY */

struct kbuf {
	char s[WEFT_CACHE_MAX_KEY + 8];
	struct weft_cache_key k;
};

/* The key printf(fmt, i), kept in b. */
static inline const struct weft_cache_key *mk(struct kbuf *b, const char *fmt, unsigned i)
{
	int n = snprintf(b->s, sizeof(b->s), fmt, i);
	b->k = (struct weft_cache_key){b->s, (uint16_t)n, weft_cache_hash(b->s, (size_t)n)};
	return &b->k;
}

#endif /* WEFT_TESTS_CACHE_KEYS_H */
