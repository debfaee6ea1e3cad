/*
 * ctl_admin_http.c — the admin plane's HTTP/1.1 server (GNU libmicrohttpd).
 *
 * Why libmicrohttpd: it is small, maintained by GNU, packaged by Debian
 * (libmicrohttpd-dev, already used by examples/web-sessions), runs its own
 * polling thread, and bounds what a client may send (connection memory,
 * connection counts, timeouts) by options — so the admin needs no socket
 * code of its own, and nothing here can stall the dataplane.
 *
 * Routes (docs/admin.md): GET or HEAD of /metrics (Prometheus text 0.0.4),
 * /health (200 "ok" / 503 reason), /api/<what> (JSON: node, members,
 * topology, caches, destinations, apps, daemons, jobs, stats, history) and / (the
 * live console, ctl_admin_console.c). Any other method: 405 with Allow; any other path: 404
 * listing the endpoints; a request with a body: 413.
 *
 * The listening socket has SO_REUSEADDR (MHD's default) but never
 * SO_REUSEPORT: a second process asking for the same address and port
 * gets EADDRINUSE instead of sharing its connections.
 *
 * Invariants: one internal thread serves every connection (no handler
 * blocks: each renders from a snapshot it holds a reference on, then
 * drops it); at most ADM_MAX_CONNECTIONS connections (ADM_MAX_PER_IP from
 * one address), each with ADM_CONN_MEMORY bytes for its request line and
 * headers (MHD answers a longer request itself) and an idle timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "ctl_admin_internal.h"
#include "ctl_clock_internal.h"

#define ADM_MAX_CONNECTIONS 64u
#define ADM_MAX_PER_IP 16u
#define ADM_CONN_MEMORY (32u << 10)
#define ADM_CONN_TIMEOUT_S 10u

static const char endpoints[] =
	"endpoints: / (console) /metrics /health /api/status /api/members /api/topology /api/caches "
	"/api/destinations /api/apps /api/daemons /api/jobs /api/stats /api/history\n";

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     char *body, size_t len, bool allow)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, bool allow,
			    const char *fmt, const char *arg)
{
	struct adm_buf b = {0};
	adm_put(&b, fmt, arg);
	size_t len;
	char *body = adm_take(&b, &len);
	if (body == NULL)
		return MHD_NO;
	return reply(conn, status, "text/plain; charset=utf-8", body, len, allow);
}

/* The console page (ctl_admin_console.c), static: it may only talk to
 * this origin and runs only its own inline script. */
static enum MHD_Result console(struct MHD_Connection *conn)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(adm_console_html), (void *)adm_console_html, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'none'; script-src 'unsafe-inline'; "
				"style-src 'unsafe-inline'; connect-src 'self'");
	enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

static bool has_body(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_TRANSFER_ENCODING);
	return te != NULL || (cl != NULL && strcmp(cl, "0") != 0);
}

/* A path shown in an error body: at most 200 bytes, escaped as a label
 * value is (no control bytes, valid UTF-8). */
static char *shown(const char *url)
{
	struct adm_buf b = {0};
	size_t n = strlen(url);
	adm_prom_label_value(&b, url, n > 200 ? 200 : n);
	size_t len;
	return adm_take(&b, &len);
}

static enum MHD_Result not_found(struct MHD_Connection *conn, const char *url)
{
	char *p = shown(url);
	struct adm_buf b = {0};
	adm_put(&b, "not found: %s\n%s", p ? p : "", endpoints);
	free(p);
	size_t len;
	char *body = adm_take(&b, &len);
	return body ? reply(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", body, len,
			    false)
		    : MHD_NO;
}

static enum MHD_Result route(struct ctl_admin *a, struct MHD_Connection *conn, const char *url)
{
	uint64_t now = ctl_mono_ms();
	struct adm_snap *s = adm_snap_acquire(a);
	char *body = NULL;
	size_t len = 0;
	if (strcmp(url, "/health") == 0) {
		const char *why;
		bool ok = adm_health(s, now, &why);
		adm_snap_release(a, s);
		return text(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, false, "%s\n", why);
	}
	if (strcmp(url, "/") == 0) {
		adm_snap_release(a, s);
		return console(conn);
	}
	bool metrics = strcmp(url, "/metrics") == 0;
	bool api = strncmp(url, "/api/", 5) == 0;
	if (!metrics && !api) {
		adm_snap_release(a, s);
		return not_found(conn, url);
	}
	if (s == NULL)
		return text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, false, "%s\n",
			    "starting: no snapshot yet");
	if (metrics) {
		body = adm_prom_render(s, now, &len);
		adm_snap_release(a, s);
		return body ? reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
				    body, len, false)
			    : MHD_NO;
	}
	errno = 0;
	body = adm_json_render(s, url + 5, now, &len);
	adm_snap_release(a, s);
	if (body != NULL)
		return reply(conn, MHD_HTTP_OK, "application/json", body, len, false);
	if (errno != ENOENT)
		return MHD_NO;
	return not_found(conn, url);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **req)
{
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	struct ctl_admin *a = cls;
	/* Answered on the first call, with the headers: a body is never read
	 * (MHD closes the connection after the answer when one was sent). */
	*req = NULL;
	adm_count_request(a);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		char *m = shown(method);
		enum MHD_Result rc = text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, true,
					  "method %s not allowed: only GET and HEAD\n", m ? m : "");
		free(m);
		return rc;
	}
	if (has_body(conn))
		return text(conn, MHD_HTTP_CONTENT_TOO_LARGE, false, "%s\n",
			    "request bodies are not accepted");
	return route(a, conn, url);
}

/* Why MHD could not listen: the errno of the same bind. */
static int bind_errno(uint32_t ip, uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr = {.s_addr = ip}};
	int err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ? errno : 0;
	if (err == 0 && listen(fd, 1) != 0)
		err = errno;
	close(fd);
	return err ? err : EIO;
}

struct MHD_Daemon *adm_http_start(struct ctl_admin *a, uint32_t ip, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr = {.s_addr = ip}};
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_AUTO_INTERNAL_THREAD, port, NULL, NULL, handler, a,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)ADM_MAX_CONNECTIONS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)ADM_MAX_PER_IP,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ADM_CONN_MEMORY,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ADM_CONN_TIMEOUT_S, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (d == NULL)
		errno = bind_errno(ip, port);
	return d;
}

void adm_http_stop(struct MHD_Daemon *d)
{
	if (d != NULL)
		MHD_stop_daemon(d);
}
