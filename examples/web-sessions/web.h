/*
 * web.h — the parts of the web-sessions example (see main.c) and the
 * contracts between them:
 *   - store.c: the session store front: per-thread connections, the
 *     bounded retry with backoff that rides out a failover, session ids;
 *   - store_weft.c / store_redis.c: the two back ends behind struct
 *     web_store_ops (weft sessions through libweft; a redis hash per
 *     session through hiredis, the performance baseline);
 *   - pages.c: the HTTP routes (libmicrohttpd access handler);
 *   - text.c: a growable output buffer, HTML / JSON escaping, the form
 *     decoder.
 * Return codes follow the project's rule: 0 or a negative errno;
 * constructors return NULL and set errno.
 */
#ifndef WEB_SESSIONS_WEB_H
#define WEB_SESSIONS_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <microhttpd.h>

#define WEB_ID_HEX 32u            /* a session id: 32 lowercase hex digits */
#define WEB_NOTE_MAX 4096u        /* bytes of a stored note, after form decoding */
#define WEB_BODY_MAX (3u * WEB_NOTE_MAX + 64u) /* a POST body: %XX triples the note */
#define WEB_INSTANCE_MAX 64u      /* bytes of --name */
#define WEB_RETRY_MS 10000u       /* bound on one store op's retries (a failover) */
#define WEB_COOKIE "WEFTSESSION"

/* A visitor's session as the pages see it. */
struct web_session {
	char id[WEB_ID_HEX + 1];      /* NUL-terminated */
	uint64_t count;               /* page views / counter calls; 0 when new */
	size_t note_len;
	char note[WEB_NOTE_MAX + 1];  /* note_len bytes, then a NUL */
};

struct web_store;

/* A back end. Every op runs on the calling thread's own connection conn
 * (from conn_open on that thread; never shared) and returns:
 *   0          done;
 *   -ENOENT    no such session (never made, invalidated or expired);
 *   -EAGAIN    transient (the store or a node is unreachable or failing
 *              over): the front retries with backoff within WEB_RETRY_MS;
 *   another negative errno: a permanent failure (a bug, bad data).
 * An op that needs a connection it lost reconnects itself. id is always
 * WEB_ID_HEX lowercase hex digits that web_id_valid accepted. */
struct web_store_ops {
	const char *kind;                                   /* "weft", "redis" */
	void *(*conn_open)(const struct web_store *st);     /* NULL + errno */
	void (*conn_close)(void *conn);
	/* Fills s (id, count, note) and counts as an access (refreshes the
	 * session's idle timeout). */
	int (*load)(void *conn, const struct web_store *st, const char *id,
		    struct web_session *s);
	/* Makes a new empty session: s->id set, count 0, empty note. */
	int (*create)(void *conn, const struct web_store *st, struct web_session *s);
	int (*set_count)(void *conn, const struct web_store *st, const char *id, uint64_t count);
	int (*set_note)(void *conn, const struct web_store *st, const char *id,
			const char *note, size_t len);
	/* Ends the session; one already gone is -ENOENT. */
	int (*invalidate)(void *conn, const struct web_store *st, const char *id);
};

extern const struct web_store_ops web_store_weft_ops;
extern const struct web_store_ops web_store_redis_ops;

struct web_store {
	const struct web_store_ops *ops;
	const char *addr;         /* weft: the node(s) "IP[:PORT][,IP[:PORT]...]";
	                             redis: "HOST:PORT" */
	const char *name;         /* weft: the session store; redis: unused */
	uint32_t timeout_s;       /* max inactive interval of a session */
};

/* store.c. web_store_init prepares st (after its fields above are set)
 * for use from any thread (one store per process: -EBUSY for a second);
 * web_store_fini after every other thread that used it has exited
 * (libmicrohttpd's workers: after MHD_stop_daemon). */
int web_store_init(struct web_store *st);
void web_store_fini(struct web_store *st);

/* One load of a random id, on the calling thread's connection, without
 * retries: 0 when the store answered (no such session), -EAGAIN when it
 * is unreachable now, another negative errno on other failures. */
int web_store_probe(struct web_store *st);

/* The ops, on the calling thread's connection (opened on first use, closed
 * when the thread exits), each retried on -EAGAIN with backoff for up to
 * WEB_RETRY_MS: then -ETIMEDOUT. -ENOENT and permanent errors come back
 * at once. web_invalidate takes a session already gone as done. */
int web_load(struct web_store *st, const char *id, struct web_session *s);
int web_create(struct web_store *st, struct web_session *s);
int web_set_count(struct web_store *st, const char *id, uint64_t count);
int web_set_note(struct web_store *st, const char *id, const char *note, size_t len);
int web_invalidate(struct web_store *st, const char *id);

/* Whether s is a session id as this app makes them (WEB_ID_HEX lowercase
 * hex digits, not all zero). Anything else in a cookie is ignored. */
bool web_id_valid(const char *s);
/* A fresh id from getrandom(2) (128 bits) into out; 0 or a negative errno. */
int web_id_random(char out[WEB_ID_HEX + 1]);
/* Rate-limited (one line a second per process) diagnostic on stderr. */
void web_log_limited(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* text.c: a growable buffer. On allocation failure it stops growing and
 * remembers it (failed); the caller checks once at the end. */
struct web_buf {
	char *p;
	size_t len, cap;
	bool failed;
};
void web_buf_put(struct web_buf *b, const char *s, size_t n);
void web_buf_puts(struct web_buf *b, const char *s);
void web_buf_printf(struct web_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s (n bytes) escaped for HTML text and attribute values. */
void web_buf_html(struct web_buf *b, const char *s, size_t n);
/* s (n bytes, valid UTF-8) as a JSON string, quotes included. */
void web_buf_json(struct web_buf *b, const char *s, size_t n);

/* The value of field name in an application/x-www-form-urlencoded body
 * (len bytes), decoded ('+' and %XX) into out (cap bytes; NUL-terminated
 * when it fits, *out_len without the NUL). -ENOENT: no such field;
 * -E2BIG: the value needs more than cap - 1 bytes; -EINVAL: bad %XX. */
int web_form_field(const char *body, size_t len, const char *name, char *out, size_t cap,
		   size_t *out_len);
/* Whether s (n bytes) is valid UTF-8 with no control character other
 * than tab, CR and LF (what a note may hold). */
bool web_text_ok(const char *s, size_t n);

/* pages.c: the server's configuration and libmicrohttpd access handler
 * (its cls is a struct web_app *), with the completion callback that frees
 * a request's state. Called on libmicrohttpd's worker threads. */
struct web_app {
	struct web_store *store;
	const char *instance;     /* X-Instance, printable ASCII */
};
enum MHD_Result web_handle(void *cls, struct MHD_Connection *conn, const char *url,
			   const char *method, const char *version, const char *upload,
			   size_t *upload_size, void **req_cls);
void web_request_done(void *cls, struct MHD_Connection *conn, void **req_cls,
		      enum MHD_RequestTerminationCode toe);

#endif /* WEB_SESSIONS_WEB_H */
