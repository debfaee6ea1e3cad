/*
 * ctl_config.c — weftd --config FILE (ctl_config.h, docs/install.md): reads
 * the file with libinih into entries (name, value, line), turns them into
 * "--name=value" arguments placed before the command line's, and lets
 * ctl_args.c's parser judge them all, so the file accepts exactly what the
 * command line accepts and the command line wins (the last value counts).
 *
 * Invariants: the first bad line ends the reading and is the one reported;
 * a refused option is traced back to its line through its index in the
 * merged argv (the file's options are argv[1..n_file]); the merged argv and
 * every string in it live in `kept` until the next parse or release, as the
 * parsed weft_ctl_args points into them.
 *
 * libinih's line reader is ours (cfg_read): it strips leading white space
 * (so inih never sees a continuation line), ends a line at a # after
 * white space (inih itself ends one at " ;"), and refuses [section] lines
 * and lines longer than inih's buffer, naming the line.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "ctl_config.h"

struct cfg_entry {
	char *name;
	char *value;
	int line;
};

struct cfg_ctx {
	const char *path;
	FILE *f;
	char *buf; /* getline's */
	size_t buf_cap;
	int line;  /* lines read so far: the one inih is handling */
	struct cfg_entry *e;
	size_t n, cap;
	bool failed; /* err holds the first error; nothing more is read */
	bool nomem;
	char *err;
	size_t errlen;
};

/* What the last parse keeps alive (out points into it). */
static struct {
	struct cfg_entry *e;
	size_t n;
	char **argv;    /* the merged argv */
	char **owned;   /* the "--name=value" strings in it */
	size_t n_owned;
} kept;

__attribute__((format(printf, 2, 3))) static void cfg_fail(struct cfg_ctx *c, const char *fmt,
							    ...)
{
	if (c->failed)
		return;
	int n = snprintf(c->err, c->errlen, "%s:%d: ", c->path, c->line);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	c->failed = true;
}

static char *cfg_read(char *str, int num, void *stream)
{
	struct cfg_ctx *c = stream;
	if (c->failed)
		return NULL;
	ssize_t got = getline(&c->buf, &c->buf_cap, c->f);
	if (got < 0)
		return NULL; /* end of file, or an error (ferror, checked after) */
	c->line++;
	char *s = c->buf;
	s[strcspn(s, "\r\n")] = '\0';
	s += strspn(s, " \t");
	if (*s == '#' || *s == ';')
		*s = '\0';
	for (char *p = s; *p != '\0'; p++)
		if (*p == '#' && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	size_t len = strlen(s);
	if (*s == '[') {
		cfg_fail(c, "sections ([...]) are not used: one 'option = value' a line");
		return NULL;
	}
	if (len > WEFT_CTL_CONFIG_LINE_MAX || len + 2 > (size_t)num) {
		cfg_fail(c, "line too long (at most %d characters; peers, memcached-trust "
			    "and eal-args may be split over several lines)",
			 WEFT_CTL_CONFIG_LINE_MAX);
		return NULL;
	}
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static const char *list_sep(const char *name)
{
	if (strcmp(name, "peers") == 0 || strcmp(name, "memcached-trust") == 0)
		return ",";
	if (strcmp(name, "eal-args") == 0)
		return " ";
	return NULL;
}

static struct cfg_entry *cfg_find(struct cfg_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].name, name) == 0)
			return &c->e[i];
	return NULL;
}

/* Adds value to an earlier line of a list option. 0 or -ENOMEM. */
static int cfg_append(struct cfg_entry *e, const char *sep, const char *value)
{
	size_t a = strlen(e->value), b = strlen(value);
	char *v = realloc(e->value, a + 1 + b + 1);
	if (v == NULL)
		return -ENOMEM;
	memcpy(v + a, sep, 1);
	memcpy(v + a + 1, value, b + 1);
	e->value = v;
	return 0;
}

static int cfg_add(struct cfg_ctx *c, const char *name, const char *value)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct cfg_entry *e = realloc(c->e, cap * sizeof(*e));
		if (e == NULL)
			return -ENOMEM;
		c->e = e;
		c->cap = cap;
	}
	struct cfg_entry *e = &c->e[c->n];
	e->name = strdup(name);
	e->value = strdup(value);
	e->line = c->line;
	if (e->name == NULL || e->value == NULL) {
		free(e->name);
		free(e->value);
		return -ENOMEM;
	}
	c->n++;
	return 0;
}

/* inih's handler: one `name = value` line. 1, or 0 after cfg_fail. */
static int cfg_line(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_ctx *c = user;
	(void)section; /* always "": cfg_read refuses [section] lines */
	if (c->failed)
		return 0;
	const char *sep = list_sep(name);
	int takes = sep != NULL ? 1 : weft_ctl_args_takes_value(name);
	if (strcmp(name, "config") == 0 || strcmp(name, "help") == 0) {
		cfg_fail(c, "'%s' cannot be set in a config file", name);
		return 0;
	}
	if (takes < 0) {
		cfg_fail(c, "unknown option '%s'", name);
		return 0;
	}
	if (value[0] == '\0') {
		cfg_fail(c, "option '%s' has no value", name);
		return 0;
	}
	if (takes == 0 && strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
		cfg_fail(c, "option '%s' takes true or false, not '%s'", name, value);
		return 0;
	}
	struct cfg_entry *prev = cfg_find(c, name);
	if (prev != NULL && sep == NULL) {
		cfg_fail(c, "option '%s' given twice (first on line %d)", name, prev->line);
		return 0;
	}
	if ((prev != NULL ? cfg_append(prev, sep, value) : cfg_add(c, name, value)) != 0) {
		c->nomem = true;
		cfg_fail(c, "out of memory");
		return 0;
	}
	return 1;
}

static void entries_free(struct cfg_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].value);
	}
	free(e);
}

/* Reads path into c->e. 0, -EINVAL or -ENOMEM (c->err set). */
static int cfg_load(struct cfg_ctx *c)
{
	c->f = fopen(c->path, "r");
	if (c->f == NULL) {
		snprintf(c->err, c->errlen, "%s: cannot read: %s", c->path, strerror(errno));
		return -EINVAL;
	}
	int rc = ini_parse_stream(cfg_read, c, cfg_line, c);
	int read_err = ferror(c->f) ? errno : 0;
	fclose(c->f);
	free(c->buf);
	if (c->nomem)
		return -ENOMEM;
	if (rc > 0 && (!c->failed || rc < c->line)) {
		/* inih's own: a line that is no `name = value` (inih goes on
		 * reading after one, so an error of ours may come later) */
		c->failed = false;
		c->line = rc;
		cfg_fail(c, "not 'option = value'");
	}
	if (c->failed)
		return -EINVAL;
	if (rc < 0 || read_err != 0) {
		snprintf(c->err, c->errlen, "%s: cannot read: %s", c->path,
			 strerror(read_err ? read_err : EIO));
		return -EINVAL;
	}
	return 0;
}

/* Finds --config FILE / --config=FILE before any "--": 1 (*path set, *at
 * its first argv index, *span 1 or 2), 0 (none), -EINVAL (err set). */
static int find_config(int argc, char **argv, const char **path, int *at, int *span,
		       char *err, size_t errlen)
{
	int found = 0;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *p = NULL;
		int n = 1;
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0) {
				snprintf(err, errlen, "--config needs a FILE");
				return -EINVAL;
			}
			p = argv[i + 1];
			n = 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			p = argv[i] + 9;
		} else {
			continue;
		}
		if (found) {
			snprintf(err, errlen, "--config given twice");
			return -EINVAL;
		}
		if (p[0] == '\0') {
			snprintf(err, errlen, "--config needs a FILE");
			return -EINVAL;
		}
		*path = p;
		*at = i;
		*span = n;
		found = 1;
		i += n - 1;
	}
	return found;
}

void weft_ctl_config_release(void)
{
	entries_free(kept.e, kept.n);
	for (size_t i = 0; i < kept.n_owned; i++)
		free(kept.owned[i]);
	free(kept.owned);
	free(kept.argv);
	memset(&kept, 0, sizeof(kept));
}

/* The merged argv: argv[0], the file's options (n_file, in file order),
 * the command line's (without --config), then "--", the file's eal-args
 * words and the command line's EAL arguments. -ENOMEM or its argc. */
static int merge(int argc, char **argv, int cfg_at, int cfg_span, int *n_file)
{
	size_t words = 0;
	for (size_t i = 0; i < kept.n; i++)
		if (strcmp(kept.e[i].name, "eal-args") == 0)
			for (char *s = kept.e[i].value; *s; s++)
				words += (s == kept.e[i].value || s[-1] == ' ' || s[-1] == '\t') &&
					 *s != ' ' && *s != '\t';
	kept.argv = calloc((size_t)argc + kept.n + words + 2, sizeof(char *));
	kept.owned = calloc(kept.n ? kept.n : 1, sizeof(char *));
	if (kept.argv == NULL || kept.owned == NULL)
		return -ENOMEM;
	int m = 0;
	kept.argv[m++] = argv[0];
	for (size_t i = 0; i < kept.n; i++) {
		struct cfg_entry *e = &kept.e[i];
		if (strcmp(e->name, "eal-args") == 0 || strcmp(e->value, "false") == 0)
			continue; /* a flag set false: left out */
		char *s;
		int rc = weft_ctl_args_takes_value(e->name) == 1
				 ? asprintf(&s, "--%s=%s", e->name, e->value)
				 : asprintf(&s, "--%s", e->name);
		if (rc < 0)
			return -ENOMEM;
		kept.owned[kept.n_owned++] = s;
		kept.argv[m++] = s;
	}
	*n_file = m - 1;
	int dd = 1;
	while (dd < argc && strcmp(argv[dd], "--") != 0)
		dd++;
	for (int i = 1; i < dd; i++)
		if (i < cfg_at || i >= cfg_at + cfg_span)
			kept.argv[m++] = argv[i];
	if (words > 0 || dd < argc)
		kept.argv[m++] = "--";
	for (size_t i = 0; i < kept.n; i++) {
		if (strcmp(kept.e[i].name, "eal-args") != 0)
			continue;
		char *save = NULL;
		for (char *w = strtok_r(kept.e[i].value, " \t", &save); w != NULL;
		     w = strtok_r(NULL, " \t", &save))
			kept.argv[m++] = w;
	}
	for (int i = dd + 1; i < argc; i++)
		kept.argv[m++] = argv[i];
	return m;
}

/* The file's entry whose option is merged-argv index argi, or NULL. */
static const struct cfg_entry *entry_at(int argi)
{
	int k = 0;
	for (size_t i = 0; i < kept.n; i++) {
		if (strcmp(kept.e[i].name, "eal-args") == 0 || strcmp(kept.e[i].value, "false") == 0)
			continue;
		if (++k == argi)
			return &kept.e[i];
	}
	return NULL;
}

int weft_ctl_config_parse(int argc, char **argv, struct weft_ctl_args *out, char *err,
			  size_t errlen)
{
	const char *path = NULL, *why = NULL;
	int at = 0, span = 0, argi = 0;
	weft_ctl_config_release();
	int rc = find_config(argc, argv, &path, &at, &span, err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		rc = weft_ctl_args_parse_quiet(argc, argv, out, &why, &argi);
		if (rc == -EINVAL)
			snprintf(err, errlen, "%s", why);
		return rc;
	}
	struct cfg_ctx c = {.path = path, .err = err, .errlen = errlen};
	rc = cfg_load(&c);
	kept.e = c.e;
	kept.n = c.n;
	if (rc != 0)
		return rc;
	int n_file = 0;
	int m = merge(argc, argv, at, span, &n_file);
	if (m < 0) {
		snprintf(err, errlen, "out of memory");
		return m;
	}
	rc = weft_ctl_args_parse_quiet(m, kept.argv, out, &why, &argi);
	if (rc != -EINVAL)
		return rc;
	const struct cfg_entry *e = argi >= 1 && argi <= n_file ? entry_at(argi) : NULL;
	if (e != NULL)
		snprintf(err, errlen, "%s:%d: option '%s' refused (value '%s'): %s", path, e->line,
			 e->name, e->value, why);
	else if (argi == 0)
		snprintf(err, errlen, "%s (options from %s and the command line)", why, path);
	else
		snprintf(err, errlen, "%s", why);
	return rc;
}

int weft_ctl_config_args(int argc, char **argv, struct weft_ctl_args *out)
{
	char err[512];
	const char *path;
	int at, span;
	int rc = find_config(argc, argv, &path, &at, &span, err, sizeof(err));
	if (rc == 0)
		return weft_ctl_args_parse(argc, argv, out);
	if (rc > 0)
		rc = weft_ctl_config_parse(argc, argv, out, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "weftd: %s\n", err);
	return rc;
}
