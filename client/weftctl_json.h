/*
 * weftctl_json.h — the tiny streaming JSON writer behind weftctl's --json
 * (weftctl_json.c). The caller emits values in document order; the writer
 * places commas and colons, escapes strings and tracks nesting.
 *
 * Invariants: the output is valid JSON (RFC 8259) whatever bytes a string
 * holds — '"', '\\' and control characters are escaped, bytes that are not
 * well-formed UTF-8 become U+FFFD — as long as the calls are balanced;
 * misuse (a value where a key is due, an unbalanced end, nesting deeper
 * than WEFTCTL_JSON_DEPTH) is recorded and reported by
 * weftctl_json_finish, never written as broken text silently. Single
 * thread; no allocation.
 */
#ifndef WEFTCTL_JSON_H
#define WEFTCTL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define WEFTCTL_JSON_DEPTH 16

struct weftctl_json {
	FILE *f;
	int depth;                          /* open containers */
	bool is_obj[WEFTCTL_JSON_DEPTH];    /* per level: object (true) or array */
	bool has_items[WEFTCTL_JSON_DEPTH]; /* per level: a member was written */
	bool key_due;                       /* inside an object, a key comes next */
	bool done;                          /* the top-level value is complete */
	bool misuse;
};

/* Starts a document written to f. */
void weftctl_json_init(struct weftctl_json *j, FILE *f);

void weftctl_json_obj_begin(struct weftctl_json *j);
void weftctl_json_obj_end(struct weftctl_json *j);
void weftctl_json_arr_begin(struct weftctl_json *j);
void weftctl_json_arr_end(struct weftctl_json *j);

/* An object member's name (escaped like a string). */
void weftctl_json_key(struct weftctl_json *j, const char *k);

/* Values. str_n: len bytes of s (may hold NUL). */
void weftctl_json_str(struct weftctl_json *j, const char *s);
void weftctl_json_str_n(struct weftctl_json *j, const char *s, size_t len);
void weftctl_json_u64(struct weftctl_json *j, uint64_t v);
void weftctl_json_bool(struct weftctl_json *j, bool v);
void weftctl_json_null(struct weftctl_json *j);
/* A node's text field: NULL or "-" as null, a decimal integer (optional
 * '-', up to 20 digits) as a number, anything else as a string. */
void weftctl_json_text(struct weftctl_json *j, const char *s);

/* key + value in one call. */
void weftctl_json_kv_str(struct weftctl_json *j, const char *k, const char *v);
void weftctl_json_kv_u64(struct weftctl_json *j, const char *k, uint64_t v);
void weftctl_json_kv_text(struct weftctl_json *j, const char *k, const char *v);

/* Ends the document with a newline and flushes: 0, -EINVAL on misuse
 * (unbalanced, a missing key or value, too deep) or -EIO when writing
 * failed. */
int weftctl_json_finish(struct weftctl_json *j);

/* Whether argv (before "--") holds --json; removes it (shifting the rest)
 * so the command parsers never see it. */
bool weftctl_json_take_flag(int *argc, char **argv);

#endif /* WEFTCTL_JSON_H */
