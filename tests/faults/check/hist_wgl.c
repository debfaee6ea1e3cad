/*
 * hist_wgl.c — linearizability of one key's read/write/cas history: the
 * Wing–Gong search with Lowe's memoization (G. Lowe, "Testing for
 * linearizability", 2017), written from the paper's description.
 *
 * The history is a doubly linked list of call and return entries sorted by
 * time (a call sorts before a return at the same time: such ops are taken
 * as concurrent). The search walks the list from its head: at a call it
 * tries to linearize that op now (the register model accepts it from the
 * current value) and, if the resulting (set of linearized ops, value) was
 * never seen, pushes it, lifts the op's entries out of the list and starts
 * again from the head; at a return entry the op it closes was not
 * linearized in time, so it pops the last choice and tries the next call.
 * It succeeds once every op with a return entry is linearized. Info ops
 * have none (they may take effect any time after their call, or never), so
 * they never force a backtrack and may stay unlinearized.
 *
 * Two prunings, both keeping the verdict: a read that fits the current
 * value is taken at once and never tried later (moving it first in any
 * linearization from here keeps it valid: it is concurrent with all that
 * remains and changes nothing); and, when the caller passes `observed`
 * (values are unique per write), a write whose value some op that must
 * take effect observes is followed by an observer of that value, never
 * by another write (that value could never come back).
 *
 * Invariants: entries lifted out are restored in reverse order (dancing
 * links), so the list is intact after every pop; the memo holds each
 * (bitset, value) once, the bitset stored compactly as the words between
 * the first not-full word and the last non-zero word (canonical, so equal
 * sets compare equal); memory and configurations are bounded by the
 * caller's budget and everything is freed before returning.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "hist.h"

struct ent {
	struct ent *prev, *next, *match; /* match: the op's return entry */
	uint64_t t;
	uint32_t op;
	bool call;
};

struct memo_ent {
	uint64_t hash;
	uint32_t state, lo, len;
	uint64_t w[];
};

struct memo {
	struct memo_ent **slots;
	size_t nslots, n;
	char **chunks;
	size_t nchunks, chunk_used, chunk_size;
	size_t bytes;
};

#define CHUNK_BYTES (1u << 20)

static void *memo_alloc(struct memo *m, size_t sz)
{
	sz = (sz + 7) & ~(size_t)7;
	if (!m->nchunks || m->chunk_used + sz > m->chunk_size) {
		size_t csz = sz > CHUNK_BYTES ? sz : CHUNK_BYTES;
		char **chunks = realloc(m->chunks, (m->nchunks + 1) * sizeof(*chunks));
		if (!chunks)
			return NULL;
		m->chunks = chunks;
		if (!(m->chunks[m->nchunks] = malloc(csz)))
			return NULL;
		m->nchunks++;
		m->chunk_used = 0;
		m->chunk_size = csz;
		m->bytes += csz;
	}
	void *p = m->chunks[m->nchunks - 1] + m->chunk_used;
	m->chunk_used += sz;
	return p;
}

static int memo_grow(struct memo *m)
{
	size_t nslots = m->nslots ? m->nslots * 2 : 4096;
	struct memo_ent **slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->nslots; i++) {
		struct memo_ent *e = m->slots[i];
		if (!e)
			continue;
		size_t j = e->hash & (nslots - 1);
		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = e;
	}
	m->bytes += (nslots - m->nslots) * sizeof(*slots);
	free(m->slots);
	m->slots = slots;
	m->nslots = nslots;
	return 0;
}

static void memo_free(struct memo *m)
{
	for (size_t i = 0; i < m->nchunks; i++)
		free(m->chunks[i]);
	free(m->chunks);
	free(m->slots);
}

/* 1 = inserted (new configuration), 0 = already seen, <0 = -ENOMEM. */
static int memo_insert(struct memo *m, const uint64_t *bits, size_t nw, uint32_t state)
{
	size_t lo = 0, hi = nw;
	while (lo < nw && bits[lo] == UINT64_MAX)
		lo++;
	while (hi > lo && bits[hi - 1] == 0)
		hi--;
	size_t len = hi - lo;
	uint64_t hash = XXH3_64bits_withSeed(bits + lo, len * sizeof(uint64_t),
					     ((uint64_t)state << 32) ^ lo);
	if ((m->n + 1) * 2 > m->nslots && memo_grow(m) < 0)
		return -ENOMEM;
	size_t j = hash & (m->nslots - 1);
	for (struct memo_ent *e; (e = m->slots[j]); j = (j + 1) & (m->nslots - 1))
		if (e->hash == hash && e->state == state && e->lo == lo && e->len == len &&
		    memcmp(e->w, bits + lo, len * sizeof(uint64_t)) == 0)
			return 0;
	struct memo_ent *e = memo_alloc(m, sizeof(*e) + len * sizeof(uint64_t));
	if (!e)
		return -ENOMEM;
	e->hash = hash;
	e->state = state;
	e->lo = (uint32_t)lo;
	e->len = (uint32_t)len;
	memcpy(e->w, bits + lo, len * sizeof(uint64_t));
	m->slots[j] = e;
	m->n++;
	return 1;
}

/* The register: whether op can take effect on value s, and the value after. */
static bool step(const struct hist_op *op, uint32_t s, uint32_t *next)
{
	switch (op->kind) {
	case HIST_READ:
		*next = s;
		return s == op->a;
	case HIST_WRITE:
		*next = op->a;
		return true;
	default:
		*next = op->b;
		return s == op->a;
	}
}

static void lift(struct ent *e)
{
	e->prev->next = e->next;
	if (e->next)
		e->next->prev = e->prev;
	if (e->match) {
		e->match->prev->next = e->match->next;
		if (e->match->next)
			e->match->next->prev = e->match->prev;
	}
}

static void unlift(struct ent *e)
{
	if (e->match) {
		e->match->prev->next = e->match;
		if (e->match->next)
			e->match->next->prev = e->match;
	}
	e->prev->next = e;
	if (e->next)
		e->next->prev = e;
}

static int ent_cmp(const void *pa, const void *pb)
{
	const struct ent *a = pa, *b = pb;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	if (a->call != b->call)
		return a->call ? -1 : 1;
	return a->op < b->op ? -1 : a->op > b->op;
}

struct frame {
	struct ent *e;
	uint32_t state;
	bool greedy;   /* a read taken as soon as it fit: no alternative to try */
	bool need_obs; /* before this op: the value held must be observed next */
};

struct search {
	const struct hist_op *ops;
	struct ent head;
	uint64_t *bits;
	size_t nw;
	struct frame *stack;
	struct memo memo;
};

/* Builds the sorted entry list; returns the entry array (or NULL). */
static struct ent *build(struct search *s, size_t n)
{
	struct ent *ents = calloc(2 * n + 1, sizeof(*ents));
	if (!ents)
		return NULL;
	size_t ne = 0;
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *op = &s->ops[i];
		ents[ne++] = (struct ent){.t = op->call, .op = (uint32_t)i, .call = true};
		if (op->ret != HIST_T_NEVER)
			ents[ne++] = (struct ent){.t = op->ret, .op = (uint32_t)i, .call = false};
	}
	qsort(ents, ne, sizeof(*ents), ent_cmp);
	struct ent **call_of = calloc(n + 1, sizeof(*call_of));
	if (!call_of) {
		free(ents);
		return NULL;
	}
	struct ent *prev = &s->head;
	for (size_t i = 0; i < ne; i++) {
		ents[i].prev = prev;
		prev->next = &ents[i];
		prev = &ents[i];
		if (ents[i].call)
			call_of[ents[i].op] = &ents[i];
		else
			call_of[ents[i].op]->match = &ents[i];
	}
	prev->next = NULL;
	free(call_of);
	return ents;
}

int hist_wgl(const struct hist_op *ops, const bool *observed, size_t n, uint64_t max_states,
	     size_t max_bytes, struct hist_wgl_stuck *stuck, uint64_t *states)
{
	bool need_obs = false;
	struct search s = {.ops = ops, .nw = (n + 63) / 64};
	size_t n_must = 0, lin_must = 0, sp = 0;
	uint32_t state = HIST_NIL;
	int rc = -ENOMEM;
	*states = 0;
	*stuck = (struct hist_wgl_stuck){.op = SIZE_MAX};
	for (size_t i = 0; i < n; i++)
		n_must += ops[i].ret != HIST_T_NEVER;
	struct ent *ents = build(&s, n);
	s.bits = calloc(s.nw ? s.nw : 1, sizeof(uint64_t));
	s.stack = calloc(n ? n : 1, sizeof(*s.stack));
	if (!ents || !s.bits || !s.stack)
		goto out;
	struct ent *e = s.head.next;
	for (;;) {
		if (lin_must == n_must) {
			rc = HIST_LIN_YES;
			break;
		}
		if (e && e->call) {
			const struct hist_op *op = &ops[e->op];
			uint32_t next;
			bool greedy = op->kind == HIST_READ;
			if (!(need_obs && op->kind == HIST_WRITE) && step(op, state, &next)) {
				s.bits[e->op / 64] |= 1ull << (e->op % 64);
				int ins = memo_insert(&s.memo, s.bits, s.nw, next);
				if (ins < 0)
					goto out;
				if (ins == 1) {
					if (++*states > max_states || s.memo.bytes > max_bytes) {
						rc = HIST_LIN_UNKNOWN;
						break;
					}
					s.stack[sp++] = (struct frame){e, state, greedy, need_obs};
					state = next;
					need_obs = observed && op->kind != HIST_READ && observed[e->op];
					lift(e);
					lin_must += op->ret != HIST_T_NEVER;
					e = s.head.next;
					continue;
				}
				s.bits[e->op / 64] &= ~(1ull << (e->op % 64));
				if (!greedy) {
					e = e->next;
					continue;
				}
				/* A read that fits may go first; from there it was seen to fail. */
			} else {
				e = e->next;
				continue;
			}
		} else if (e && (stuck->op == SIZE_MAX || sp > stuck->depth)) {
			/* A return entry: its op was not linearized in time. */
			*stuck = (struct hist_wgl_stuck){.op = e->op, .depth = sp, .state = state};
		}
		/* Backtrack: undo the last choice, past reads taken greedily. */
		bool greedy = true;
		while (greedy && sp > 0) {
			struct frame f = s.stack[--sp];
			state = f.state;
			need_obs = f.need_obs;
			s.bits[f.e->op / 64] &= ~(1ull << (f.e->op % 64));
			unlift(f.e);
			lin_must -= ops[f.e->op].ret != HIST_T_NEVER;
			greedy = f.greedy;
			e = f.e->next;
		}
		if (greedy) {
			rc = HIST_LIN_NO;
			break;
		}
	}
out:
	memo_free(&s.memo);
	free(s.stack);
	free(s.bits);
	free(ents);
	return rc;
}
