/*
 * hist_str.c — the history's string table: every token is stored once and
 * named by a dense uint32 id, so the checks compare ids, never strings.
 *
 * Invariants: id HIST_NIL (0) is "nil", interned by hist_str_init; slots
 * is a power-of-two open-addressing table (linear probing) kept at most
 * half full, each slot 0 (empty) or id + 1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "hist.h"

static int grow_slots(struct hist_str_tab *st)
{
	size_t nslots = st->nslots ? st->nslots * 2 : 1024;
	uint32_t *slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t id = 0; id < st->n; id++) {
		size_t i = XXH3_64bits(st->strs[id], strlen(st->strs[id])) & (nslots - 1);
		while (slots[i])
			i = (i + 1) & (nslots - 1);
		slots[i] = (uint32_t)id + 1;
	}
	free(st->slots);
	st->slots = slots;
	st->nslots = nslots;
	return 0;
}

int hist_str_init(struct hist_str_tab *st)
{
	uint32_t id;
	memset(st, 0, sizeof(*st));
	return hist_str_intern(st, "nil", 3, &id);
}

void hist_str_fini(struct hist_str_tab *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->strs[i]);
	free(st->strs);
	free(st->slots);
	memset(st, 0, sizeof(*st));
}

int hist_str_intern(struct hist_str_tab *st, const char *s, size_t len, uint32_t *id)
{
	if ((st->n + 1) * 2 > st->nslots && grow_slots(st) < 0)
		return -ENOMEM;
	size_t i = XXH3_64bits(s, len) & (st->nslots - 1);
	while (st->slots[i]) {
		const char *t = st->strs[st->slots[i] - 1];
		if (strlen(t) == len && memcmp(t, s, len) == 0) {
			*id = st->slots[i] - 1;
			return 0;
		}
		i = (i + 1) & (st->nslots - 1);
	}
	if (st->n == UINT32_MAX - 1)
		return -ENOMEM;
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 1024;
		char **strs = realloc(st->strs, cap * sizeof(*strs));
		if (!strs)
			return -ENOMEM;
		st->strs = strs;
		st->cap = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len);
	copy[len] = '\0';
	st->strs[st->n] = copy;
	st->slots[i] = (uint32_t)st->n + 1;
	*id = (uint32_t)st->n++;
	return 0;
}

const char *hist_str(const struct hist *h, uint32_t id)
{
	return id < h->st.n ? h->st.strs[id] : "?";
}
