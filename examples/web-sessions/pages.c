/*
 * pages.c — the HTTP routes, run by libmicrohttpd's worker threads:
 *
 *   GET  /             the page: visit counter (+1 per view), the note, a
 *                      form to change it (ids count, note, note-form, save)
 *   GET  /api/counter  +1, then {"count": N}
 *   GET  /api/session  {"id": ..., "count": N, "note": ..., "instance": ...}
 *                      (no +1)
 *   POST /note         form field note (<= WEB_NOTE_MAX bytes of UTF-8
 *                      text) stored, then 303 to /
 *   POST /logout       the session invalidated, the cookie cleared, 303 to /
 *   GET  /healthz      "ok" (the instance is up; no session)
 *
 * The session rides in cookie WEB_COOKIE (HttpOnly, SameSite=Lax: browsers
 * do not send it with another site's POST, which is the forms' CSRF
 * defence). A request without a valid cookie, or whose session the store
 * no longer has (expired, invalidated, never made), gets a new session and
 * a Set-Cookie. Every answer carries X-Instance and Cache-Control: no-store.
 * A store that stays unavailable through store.c's retries gives 503 with
 * Retry-After (nginx then tries another instance); a bug or bad data in
 * the store gives 500.
 *
 * The counter is read then written (load, then set count+1), not
 * incremented atomically: two requests of one visitor served at the same
 * moment may both store the same N+1. A browser's page views of one
 * session come one at a time, so this is what the example accepts; a
 * counter that must not lose increments would need a store-side
 * increment.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web.h"

/* One request's state (libmicrohttpd's req_cls): the body as it comes. */
struct req {
	struct web_buf body;
	bool too_large;
};

struct reply {
	unsigned status;
	const char *type;          /* Content-Type */
	struct web_buf body;       /* given to libmicrohttpd */
	const char *cookie;        /* Set-Cookie value, or NULL */
	const char *location;      /* 303's Location, or NULL */
	const char *allow;         /* 405's Allow, or NULL */
};

static const char type_html[] = "text/html; charset=utf-8";
static const char type_json[] = "application/json";
static const char type_text[] = "text/plain; charset=utf-8";

static enum MHD_Result send_reply(const struct web_app *app, struct MHD_Connection *conn,
				  struct reply *r)
{
	struct MHD_Response *resp;
	if (r->body.failed) {
		static const char oom[] = "500 out of memory\n";
		free(r->body.p);
		r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		r->type = type_text;
		resp = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
						       MHD_RESPMEM_PERSISTENT);
	} else if (r->body.p == NULL) {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_buffer(r->body.len, r->body.p,
						       MHD_RESPMEM_MUST_FREE);
		if (resp == NULL)
			free(r->body.p);
	}
	if (resp == NULL)
		return MHD_NO;
	bool ok = MHD_add_response_header(resp, "X-Instance", app->instance) == MHD_YES &&
		  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type) == MHD_YES &&
		  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") ==
			  MHD_YES &&
		  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") == MHD_YES;
	if (r->type == type_html)
		ok = ok && MHD_add_response_header(resp, "Content-Security-Policy",
						   "default-src 'none'; style-src 'unsafe-inline'; "
						   "form-action 'self'; frame-ancestors 'none'") ==
				   MHD_YES;
	if (r->cookie != NULL)
		ok = ok && MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->cookie) ==
				   MHD_YES;
	if (r->location != NULL)
		ok = ok && MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location) ==
				   MHD_YES;
	if (r->allow != NULL)
		ok = ok && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow) == MHD_YES;
	if (r->status == MHD_HTTP_SERVICE_UNAVAILABLE)
		ok = ok && MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1") == MHD_YES;
	enum MHD_Result res = ok ? MHD_queue_response(conn, r->status, resp) : MHD_NO;
	MHD_destroy_response(resp);
	return res;
}

static enum MHD_Result send_text(const struct web_app *app, struct MHD_Connection *conn,
				 unsigned status, const char *text)
{
	struct reply r = { .status = status, .type = type_text };
	web_buf_puts(&r.body, text);
	return send_reply(app, conn, &r);
}

/* A store failure as an answer: -ETIMEDOUT (unavailable through the
 * retries) and -ENOMEM (the store is full) are 503, the rest 500. */
static enum MHD_Result send_store_error(const struct web_app *app,
					struct MHD_Connection *conn, int rc)
{
	if (rc == -ETIMEDOUT || rc == -ENOMEM)
		return send_text(app, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				 "503 session store unavailable, try again\n");
	return send_text(app, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			 "500 session store error\n");
}

/* The visitor's session: the cookie's if the store has it, else a new one
 * (*fresh set: the answer must set the cookie). */
static int visit(const struct web_app *app, struct MHD_Connection *conn, struct web_session *s,
		 bool *fresh)
{
	const char *id = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, WEB_COOKIE);
	*fresh = false;
	if (id != NULL && web_id_valid(id)) {
		int rc = web_load(app->store, id, s);
		if (rc != -ENOENT)
			return rc;
	}
	*fresh = true;
	return web_create(app->store, s);
}

/* Applies a set (count or note) to s, starting a new session once if s
 * ended between the load and the set (expired, or logged out by another
 * tab). */
static int set_attr(const struct web_app *app, struct web_session *s, bool *fresh,
		    bool count, const char *note, size_t len)
{
	for (int tries = 0;; tries++) {
		int rc = count ? web_set_count(app->store, s->id, s->count + 1)
			       : web_set_note(app->store, s->id, note, len);
		if (rc != -ENOENT || tries == 1)
			return rc;
		if ((rc = web_create(app->store, s)) != 0)
			return rc;
		*fresh = true;
	}
}

static void cookie_for(char out[128], const struct web_session *s)
{
	snprintf(out, 128, WEB_COOKIE "=%s; Path=/; HttpOnly; SameSite=Lax", s->id);
}

static void render_page(struct web_buf *b, const struct web_app *app,
			const struct web_session *s)
{
	web_buf_puts(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
			"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
			"<title>weft web sessions</title>\n<style>\n"
			"body { font-family: sans-serif; max-width: 40em; margin: 2em auto; }\n"
			"#count { font-size: 2em; }\n"
			"#note { white-space: pre-wrap; border-left: 3px solid #888; "
			"padding-left: .5em; }\n"
			"</style>\n</head>\n<body>\n<h1>weft web sessions</h1>\n");
	web_buf_printf(b, "<p>Visits in this session: <span id=\"count\">%" PRIu64 "</span></p>\n",
		       s->count);
	web_buf_puts(b, "<p>Your note:</p>\n<p id=\"note\">");
	web_buf_html(b, s->note, s->note_len);
	web_buf_printf(b, "</p>\n<form id=\"note-form\" method=\"post\" action=\"/note\">\n"
			  "<label for=\"note-input\">New note</label>\n"
			  "<input id=\"note-input\" name=\"note\" type=\"text\" maxlength=\"%u\" "
			  "value=\"",
		       WEB_NOTE_MAX);
	web_buf_html(b, s->note, s->note_len);
	web_buf_puts(b, "\">\n<button id=\"save\" type=\"submit\">Save</button>\n</form>\n"
			"<form id=\"logout-form\" method=\"post\" action=\"/logout\">\n"
			"<button id=\"logout\" type=\"submit\">End this session</button>\n"
			"</form>\n<p>Served by <code id=\"instance\">");
	web_buf_html(b, app->instance, strlen(app->instance));
	web_buf_printf(b, "</code>; session <code id=\"session\">%s</code>.</p>\n"
			  "</body>\n</html>\n",
		       s->id);
}

/* GET / and GET /api/counter: +1, then the page or {"count": N}. */
static enum MHD_Result page_count(const struct web_app *app, struct MHD_Connection *conn,
				  bool json)
{
	struct web_session s;
	bool fresh;
	int rc = visit(app, conn, &s, &fresh);
	if (rc == 0)
		rc = set_attr(app, &s, &fresh, true, NULL, 0);
	if (rc != 0)
		return send_store_error(app, conn, rc);
	s.count++;
	char cookie[128];
	cookie_for(cookie, &s);
	struct reply r = { .status = MHD_HTTP_OK, .cookie = fresh ? cookie : NULL };
	if (json) {
		r.type = type_json;
		web_buf_printf(&r.body, "{\"count\": %" PRIu64 "}\n", s.count);
	} else {
		r.type = type_html;
		render_page(&r.body, app, &s);
	}
	return send_reply(app, conn, &r);
}

static enum MHD_Result page_session(const struct web_app *app, struct MHD_Connection *conn)
{
	struct web_session s;
	bool fresh;
	int rc = visit(app, conn, &s, &fresh);
	if (rc != 0)
		return send_store_error(app, conn, rc);
	char cookie[128];
	cookie_for(cookie, &s);
	struct reply r = { .status = MHD_HTTP_OK, .type = type_json,
			   .cookie = fresh ? cookie : NULL };
	web_buf_printf(&r.body, "{\"id\": \"%s\", \"count\": %" PRIu64 ", \"note\": ", s.id,
		       s.count);
	web_buf_json(&r.body, s.note, s.note_len);
	web_buf_puts(&r.body, ", \"instance\": ");
	web_buf_json(&r.body, app->instance, strlen(app->instance));
	web_buf_puts(&r.body, "}\n");
	return send_reply(app, conn, &r);
}

static bool is_form(struct MHD_Connection *conn)
{
	static const char form[] = "application/x-www-form-urlencoded";
	const char *t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (t == NULL || strncasecmp(t, form, sizeof(form) - 1) != 0)
		return false;
	char next = t[sizeof(form) - 1];
	return next == '\0' || next == ';' || next == ' ';
}

static enum MHD_Result page_note(const struct web_app *app, struct MHD_Connection *conn,
				 const struct req *q)
{
	if (!is_form(conn))
		return send_text(app, conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
				 "415 send application/x-www-form-urlencoded\n");
	char note[WEB_NOTE_MAX + 1];
	size_t len = 0;
	int rc = web_form_field(q->body.p != NULL ? q->body.p : "", q->body.len, "note", note,
				sizeof(note), &len);
	if (rc == -E2BIG)
		return send_text(app, conn, MHD_HTTP_CONTENT_TOO_LARGE,
				 "413 a note holds at most 4096 bytes\n");
	if (rc != 0 || !web_text_ok(note, len))
		return send_text(app, conn, MHD_HTTP_BAD_REQUEST,
				 "400 field note missing, or not UTF-8 text\n");
	struct web_session s;
	bool fresh;
	rc = visit(app, conn, &s, &fresh);
	if (rc == 0)
		rc = set_attr(app, &s, &fresh, false, note, len);
	if (rc != 0)
		return send_store_error(app, conn, rc);
	char cookie[128];
	cookie_for(cookie, &s);
	struct reply r = { .status = MHD_HTTP_SEE_OTHER, .type = type_text,
			   .cookie = fresh ? cookie : NULL, .location = "/" };
	web_buf_puts(&r.body, "303 saved, see /\n");
	return send_reply(app, conn, &r);
}

static enum MHD_Result page_logout(const struct web_app *app, struct MHD_Connection *conn)
{
	const char *id = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, WEB_COOKIE);
	if (id != NULL && web_id_valid(id)) {
		int rc = web_invalidate(app->store, id);
		if (rc != 0)
			return send_store_error(app, conn, rc);
	}
	struct reply r = { .status = MHD_HTTP_SEE_OTHER, .type = type_text, .location = "/",
			   .cookie = WEB_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax" };
	web_buf_puts(&r.body, "303 session ended, see /\n");
	return send_reply(app, conn, &r);
}

enum route { R_PAGE, R_COUNTER, R_SESSION, R_NOTE, R_LOGOUT, R_HEALTH };

static const struct {
	const char *path, *method;
} routes[] = {
	[R_PAGE] = { "/", "GET" },
	[R_COUNTER] = { "/api/counter", "GET" },
	[R_SESSION] = { "/api/session", "GET" },
	[R_NOTE] = { "/note", "POST" },
	[R_LOGOUT] = { "/logout", "POST" },
	[R_HEALTH] = { "/healthz", "GET" },
};

static enum MHD_Result route(const struct web_app *app, struct MHD_Connection *conn,
			     const char *url, const char *method, const struct req *q)
{
	size_t i = 0, n = sizeof(routes) / sizeof(routes[0]);
	while (i < n && strcmp(url, routes[i].path) != 0)
		i++;
	if (i == n)
		return send_text(app, conn, MHD_HTTP_NOT_FOUND, "404 not found\n");
	if (strcmp(method, routes[i].method) != 0) {
		struct reply r = { .status = MHD_HTTP_METHOD_NOT_ALLOWED, .type = type_text,
				   .allow = routes[i].method };
		web_buf_puts(&r.body, "405 method not allowed\n");
		return send_reply(app, conn, &r);
	}
	switch ((enum route)i) {
	case R_PAGE:
		return page_count(app, conn, false);
	case R_COUNTER:
		return page_count(app, conn, true);
	case R_SESSION:
		return page_session(app, conn);
	case R_NOTE:
		return page_note(app, conn, q);
	case R_LOGOUT:
		return page_logout(app, conn);
	case R_HEALTH:
		return send_text(app, conn, MHD_HTTP_OK, "ok\n");
	}
	return MHD_NO;
}

enum MHD_Result web_handle(void *cls, struct MHD_Connection *conn, const char *url,
			   const char *method, const char *version, const char *upload,
			   size_t *upload_size, void **req_cls)
{
	(void)version;
	const struct web_app *app = cls;
	struct req *q = *req_cls;
	if (q == NULL) { /* the headers are in: a body may follow */
		q = calloc(1, sizeof(*q));
		if (q == NULL)
			return MHD_NO;
		*req_cls = q;
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > WEB_BODY_MAX)
			return send_text(app, conn, MHD_HTTP_CONTENT_TOO_LARGE,
					 "413 request body too large\n");
		return MHD_YES;
	}
	if (*upload_size != 0) { /* a piece of the body (chunked ones too) */
		if (q->body.len + *upload_size > WEB_BODY_MAX)
			q->too_large = true;
		if (!q->too_large)
			web_buf_put(&q->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (q->too_large)
		return send_text(app, conn, MHD_HTTP_CONTENT_TOO_LARGE,
				 "413 request body too large\n");
	if (q->body.failed)
		return send_text(app, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 out of memory\n");
	return route(app, conn, url, method, q);
}

void web_request_done(void *cls, struct MHD_Connection *conn, void **req_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct req *q = *req_cls;
	if (q != NULL) {
		free(q->body.p);
		free(q);
		*req_cls = NULL;
	}
}
