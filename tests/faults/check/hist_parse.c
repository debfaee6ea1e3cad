/*
 * hist_parse.c — reads history files (docs/history.md) into a struct hist.
 *
 * Each line is read into a fixed HIST_LINE_MAX buffer (a longer line is an
 * error, so memory per line is bounded), split into at most HIST_TOKENS
 * space-separated tokens and checked against the grammar before anything
 * is stored. Register ops pair per (file, PROC): an invoke opens the op
 * (status HIST_INFO, ret HIST_T_NEVER until completed), its completion
 * must name the same op and key (and values, for ok write and ok cas) and
 * must not be earlier than the invoke. Ops still open at the end of the
 * file keep status HIST_INFO: their outcome is unknown.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

#define HIST_TOKENS 8

struct line {
	const char *tok[HIST_TOKENS];
	size_t len[HIST_TOKENS];
	size_t n;
	uint32_t file, no;
	char *err;
	size_t errlen;
	const char *name;
};

static int bad(struct line *l, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(l->err, l->errlen, "%s:%u: %s", l->name, l->no, why);
	return -EINVAL;
}

static bool tok_is(const struct line *l, size_t i, const char *s)
{
	return l->len[i] == strlen(s) && memcmp(l->tok[i], s, l->len[i]) == 0;
}

static int parse_u64(const struct line *l, size_t i, uint64_t *v)
{
	uint64_t x = 0;
	if (l->len[i] == 0 || l->len[i] > 20)
		return -EINVAL;
	for (size_t k = 0; k < l->len[i]; k++) {
		char c = l->tok[i][k];
		if (c < '0' || c > '9')
			return -EINVAL;
		uint64_t d = (uint64_t)(c - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	if (x == HIST_T_NEVER)
		return -EINVAL;
	*v = x;
	return 0;
}

static int intern(struct hist *h, const struct line *l, size_t i, uint32_t *id)
{
	int rc = hist_str_intern(&h->st, l->tok[i], l->len[i], id);
	if (rc == 0 && h->st.n > h->open_cap) {
		size_t cap = h->open_cap ? h->open_cap * 2 : 1024;
		while (cap < h->st.n)
			cap *= 2;
		uint32_t *open = realloc(h->open, cap * sizeof(*open));
		if (!open)
			return -ENOMEM;
		memset(open + h->open_cap, 0, (cap - h->open_cap) * sizeof(*open));
		h->open = open;
		h->open_cap = cap;
	}
	return rc;
}

/* Grows *arr (elements of size sz) so that one more fits. */
static int reserve(void **arr, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 256;
	void *p = realloc(*arr, c * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

static int op_kind(const struct line *l, size_t i)
{
	if (tok_is(l, i, "read"))
		return HIST_READ;
	if (tok_is(l, i, "write"))
		return HIST_WRITE;
	if (tok_is(l, i, "cas"))
		return HIST_CAS;
	return -1;
}

static const size_t op_tokens[] = {[HIST_READ] = 5, [HIST_WRITE] = 6, [HIST_CAS] = 7};

static int parse_invoke(struct hist *h, struct line *l, uint64_t t, uint32_t proc)
{
	int kind = l->n > 3 ? op_kind(l, 3) : -1;
	if (kind < 0)
		return bad(l, "invoke needs read, write or cas");
	if (l->n != op_tokens[kind])
		return bad(l, "expected 'T PROC invoke %s'",
			   kind == HIST_READ ? "read KEY" :
			   kind == HIST_WRITE ? "write KEY VAL" : "cas KEY OLD NEW");
	if (h->open[proc])
		return bad(l, "PROC %s invokes while its op of line %u is open", hist_str(h, proc),
			   h->ops[h->open[proc] - 1].line);
	struct hist_op op = {.call = t, .ret = HIST_T_NEVER, .proc = proc, .file = l->file,
			     .line = l->no, .kind = (uint8_t)kind, .status = HIST_INFO};
	int rc = intern(h, l, 4, &op.key);
	if (rc == 0 && kind == HIST_WRITE)
		rc = intern(h, l, 5, &op.a);
	if (rc == 0 && kind == HIST_CAS && (rc = intern(h, l, 5, &op.a)) == 0)
		rc = intern(h, l, 6, &op.b);
	if (rc < 0)
		return rc;
	if ((kind == HIST_WRITE && op.a == HIST_NIL) || (kind == HIST_CAS && op.b == HIST_NIL))
		return bad(l, "nil cannot be written (it means not found)");
	if ((rc = reserve((void **)&h->ops, &h->capops, h->nops, sizeof(op))) < 0)
		return rc;
	h->ops[h->nops++] = op;
	h->open[proc] = (uint32_t)h->nops;
	return 0;
}

/* ok, fail or info: the completion of PROC's open op. */
static int parse_complete(struct hist *h, struct line *l, uint64_t t, uint32_t proc, int status)
{
	int kind = l->n > 3 ? op_kind(l, 3) : -1;
	if (kind < 0)
		return bad(l, "completion needs read, write or cas");
	if (status == HIST_OK && l->n != op_tokens[kind] + (kind == HIST_READ))
		return bad(l, "expected 'T PROC ok %s'",
			   kind == HIST_READ ? "read KEY VAL" :
			   kind == HIST_WRITE ? "write KEY VAL" : "cas KEY OLD NEW");
	if (l->n < 5)
		return bad(l, "expected 'T PROC %s OP KEY ...'", status == HIST_FAIL ? "fail" : "info");
	if (!h->open[proc])
		return bad(l, "PROC %s completes an op it never invoked", hist_str(h, proc));
	struct hist_op *op = &h->ops[h->open[proc] - 1];
	uint32_t key, a = HIST_NIL, b = HIST_NIL;
	int rc = intern(h, l, 4, &key);
	if (rc == 0 && status == HIST_OK && kind != HIST_READ)
		rc = intern(h, l, 5, &a);
	if (rc == 0 && status == HIST_OK && kind == HIST_CAS)
		rc = intern(h, l, 6, &b);
	if (rc < 0)
		return rc;
	if (op->kind != kind || op->key != key)
		return bad(l, "completion does not match the invoke of line %u", op->line);
	if (status == HIST_OK && kind != HIST_READ && (op->a != a || op->b != b))
		return bad(l, "ok values differ from the invoke of line %u", op->line);
	if (t < op->call)
		return bad(l, "completes before its invoke (line %u)", op->line);
	if (status == HIST_OK && kind == HIST_READ && (rc = intern(h, l, 5, &op->a)) < 0)
		return rc;
	op->status = (uint8_t)status;
	op->ret = status == HIST_INFO ? HIST_T_NEVER : t;
	h->open[proc] = 0;
	return 0;
}

static int parse_msg(struct hist *h, struct line *l, uint64_t t, int kind)
{
	if (l->n != 5)
		return bad(l, "expected 'T PROC %.*s QUEUE MSGID'", (int)l->len[2], l->tok[2]);
	struct hist_msg m = {.t = t, .file = l->file, .line = l->no, .kind = (uint8_t)kind};
	int rc = intern(h, l, 3, &m.queue);
	if (rc == 0)
		rc = intern(h, l, 4, &m.msgid);
	if (rc == 0)
		rc = reserve((void **)&h->msgs, &h->capmsgs, h->nmsgs, sizeof(m));
	if (rc < 0)
		return rc;
	h->msgs[h->nmsgs++] = m;
	return 0;
}

static int parse_singleton(struct hist *h, struct line *l, uint64_t t)
{
	if (l->n != 6 && l->n != 7)
		return bad(l, "expected 'T PROC singleton NAME NODE EPOCH [INVOKE_T]'");
	struct hist_sgl s = {.t = t, .start = t, .file = l->file, .line = l->no};
	if (parse_u64(l, 5, &s.epoch) < 0)
		return bad(l, "EPOCH must be a decimal number");
	if (l->n == 7 && (parse_u64(l, 6, &s.start) < 0 || s.start > t))
		return bad(l, "INVOKE_T must be a decimal time not after T");
	int rc = intern(h, l, 3, &s.name);
	if (rc == 0)
		rc = intern(h, l, 4, &s.node);
	if (rc == 0)
		rc = reserve((void **)&h->sgls, &h->capsgls, h->nsgls, sizeof(s));
	if (rc < 0)
		return rc;
	if (s.start < h->t0)
		h->t0 = s.start;
	h->sgls[h->nsgls++] = s;
	return 0;
}

static int parse_line(struct hist *h, struct line *l)
{
	uint64_t t;
	uint32_t proc;
	if (l->n < 3)
		return bad(l, "expected 'T PROC EVENT ...'");
	if (parse_u64(l, 0, &t) < 0)
		return bad(l, "T must be decimal nanoseconds");
	int rc = intern(h, l, 1, &proc);
	if (rc < 0)
		return rc;
	if (t < h->t0)
		h->t0 = t;
	if (tok_is(l, 2, "invoke"))
		return parse_invoke(h, l, t, proc);
	if (tok_is(l, 2, "ok"))
		return parse_complete(h, l, t, proc, HIST_OK);
	if (tok_is(l, 2, "fail"))
		return parse_complete(h, l, t, proc, HIST_FAIL);
	if (tok_is(l, 2, "info"))
		return parse_complete(h, l, t, proc, HIST_INFO);
	if (tok_is(l, 2, "publish-ok"))
		return parse_msg(h, l, t, HIST_PUB_OK);
	if (tok_is(l, 2, "publish-info"))
		return parse_msg(h, l, t, HIST_PUB_INFO);
	if (tok_is(l, 2, "deliver"))
		return parse_msg(h, l, t, HIST_DELIVER);
	if (tok_is(l, 2, "singleton"))
		return parse_singleton(h, l, t);
	return bad(l, "unknown event '%.*s'", (int)(l->len[2] > 40 ? 40 : l->len[2]), l->tok[2]);
}

/* Splits buf[0..len) on spaces, tabs and CRs. */
static int tokenize(struct line *l, char *buf, size_t len)
{
	l->n = 0;
	for (size_t i = 0; i < len;) {
		while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r'))
			i++;
		if (i == len)
			break;
		if (l->n == HIST_TOKENS)
			return bad(l, "more than %d tokens", HIST_TOKENS);
		size_t s = i;
		while (i < len && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r')
			i++;
		l->tok[l->n] = buf + s;
		l->len[l->n++] = i - s;
	}
	return 0;
}

/* Reads one line into buf; 1 = got one, 0 = EOF, <0 = error. */
static int read_line(FILE *in, char *buf, size_t *len, struct line *l)
{
	int c;
	size_t n = 0;
	while ((c = getc(in)) != EOF && c != '\n') {
		if (c == '\0')
			return bad(l, "NUL byte");
		if (n == HIST_LINE_MAX) {
			while ((c = getc(in)) != EOF && c != '\n')
				;
			return bad(l, "line longer than %d bytes", HIST_LINE_MAX);
		}
		buf[n++] = (char)c;
	}
	if (ferror(in))
		return -EIO;
	*len = n;
	return c == EOF && n == 0 ? 0 : 1;
}

int hist_parse(struct hist *h, FILE *in, const char *name, char *err, size_t errlen)
{
	char buf[HIST_LINE_MAX];
	char **files = realloc(h->files, (h->nfiles + 1) * sizeof(*files));
	if (!files)
		return -ENOMEM;
	h->files = files;
	if (!(h->files[h->nfiles] = strdup(name)))
		return -ENOMEM;
	struct line l = {.file = (uint32_t)h->nfiles++, .err = err, .errlen = errlen,
			 .name = name};
	size_t first = h->nops, len = 0;
	int rc;
	snprintf(err, errlen, "%s: read error", name);
	for (l.no = 1; (rc = read_line(in, buf, &len, &l)) == 1; l.no++) {
		size_t lead = 0;
		while (lead < len && (buf[lead] == ' ' || buf[lead] == '\t'))
			lead++;
		if (lead < len && buf[lead] == '#')
			continue;
		if ((rc = tokenize(&l, buf, len)) < 0)
			break;
		if (l.n == 0)
			continue;
		if ((rc = parse_line(h, &l)) < 0)
			break;
	}
	/* Ops still open: their outcome is unknown (status HIST_INFO). */
	for (size_t i = first; i < h->nops; i++)
		if (h->open[h->ops[i].proc] == i + 1)
			h->open[h->ops[i].proc] = 0;
	return rc;
}

struct hist *hist_new(void)
{
	struct hist *h = calloc(1, sizeof(*h));
	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	h->t0 = UINT64_MAX;
	if (hist_str_init(&h->st) < 0) {
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	return h;
}

void hist_free(struct hist *h)
{
	if (!h)
		return;
	hist_str_fini(&h->st);
	for (size_t i = 0; i < h->nfiles; i++)
		free(h->files[i]);
	free(h->files);
	free(h->ops);
	free(h->msgs);
	free(h->sgls);
	free(h->open);
	free(h);
}
