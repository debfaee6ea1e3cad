/*
 * libweft client lifetime: options, connect (address parsing, the socket,
 * the random client_id), close, the routing switch, and the status strings.
 *
 * Invariants: a client's socket is one unconnected AF_INET datagram socket
 * with the kernel's default buffer sizes (the FETCH window keeps long
 * responses inside them) and IP_RECVERR on, so an ICMP "port unreachable"
 * from any node reaches call.c as ECONNREFUSED; client_id comes from
 * getrandom(); request ids start at 1 and only grow; every server status
 * has a name and a text.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_internal.h"

void weft_client_opts_init(struct weft_client_opts *opts)
{
	opts->timeout_ms = WEFT_DEFAULT_TIMEOUT_MS;
	opts->retries = WEFT_DEFAULT_RETRIES;
	opts->deadline_ms = 0;
	const char *key = getenv("WEFT_CLIENT_KEY_FILE");
	opts->key_file = key != NULL && key[0] != '\0' ? key : NULL;
}

/* Parses "a.b.c.d[:port]". 0 or -EINVAL. */
static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(addr, ':');
	size_t hlen = colon ? (size_t)(colon - addr) : strlen(addr);
	unsigned long port = WEFT_DEFAULT_PORT;

	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	if (colon) {
		char *end;
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end != '\0' || port == 0 || port > 65535)
			return -EINVAL;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

/* The client without its socket; NULL + errno. */
static struct weft_client *client_new(const char *addr, const struct weft_client_opts *opts,
				      uint32_t client_id)
{
	struct sockaddr_in sa;
	struct weft_client *c;

	if (addr == NULL || parse_addr(addr, &sa) < 0 ||
	    (opts != NULL && opts->timeout_ms == 0)) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->fd = -1;
	if (opts)
		c->opts = *opts;
	else
		weft_client_opts_init(&c->opts);
	c->next_request_id = 1;
	c->seed = c->home = sa;
	c->routing = true;
	c->client_id = client_id;
	while (c->client_id == 0) {
		ssize_t got = getrandom(&c->client_id, sizeof(c->client_id), 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got != (ssize_t)sizeof(c->client_id)) {
			free(c);
			errno = EIO;
			return NULL;
		}
	}
	return c;
}

weft_client *weft_client_connect(const char *addr, const struct weft_client_opts *opts)
{
	struct weft_client *c = client_new(addr, opts, 0);
	if (c == NULL)
		return NULL;
	int krc = weft_auth_load(c, c->opts.key_file); /* auth.c */
	if (krc != 0) {
		free(c);
		errno = -krc;
		return NULL;
	}
	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int on = 1;
	if (c->fd < 0 || setsockopt(c->fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)) < 0) {
		int e = errno;
		if (c->fd >= 0)
			close(c->fd);
		weft_sec_key_wipe(&c->key);
		free(c);
		errno = e;
		return NULL;
	}
	return c;
}

weft_client *weft_client_connect_transport(const char *addr,
					    const struct weft_client_opts *opts,
					    const struct weft_transport *t, uint32_t client_id)
{
	if (t == NULL || t->send == NULL || t->recv == NULL) {
		errno = EINVAL;
		return NULL;
	}
	struct weft_client *c = client_new(addr, opts, client_id);
	if (c == NULL)
		return NULL;
	c->has_transport = true;
	c->transport = *t;
	return c;
}

void weft_client_close(weft_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	weft_topology_free(c->topo);
	weft_sec_key_wipe(&c->key);
	free(c);
}

void weft_client_set_routing(weft_client *c, bool on)
{
	if (c != NULL)
		c->routing = on;
}

uint32_t weft_client_epoch(const weft_client *c)
{
	return c ? c->epoch : 0;
}

int weft_client_errno(const weft_client *c)
{
	return c ? c->last_errno : 0;
}

uint32_t weft_client_id(const weft_client *c)
{
	return c ? c->client_id : 0;
}

struct status_text {
	const char *name;
	const char *text;
};

static const struct status_text server_status[WEFT_ST__SERVER_COUNT] = {
	[WEFT_ST_OK] = { "OK", "success" },
	[WEFT_ST_NOT_FOUND] = { "NOT_FOUND", "no such key (or it expired)" },
	[WEFT_ST_EXISTS] = { "EXISTS", "the key already has a live entry" },
	[WEFT_ST_VERSION_MISMATCH] = { "VERSION_MISMATCH", "the entry's version differs from the expected one" },
	[WEFT_ST_NOT_NUMERIC] = { "NOT_NUMERIC", "the value is not a decimal 64-bit integer" },
	[WEFT_ST_OVERFLOW] = { "OVERFLOW", "the increment would leave the int64 range" },
	[WEFT_ST_KEY_TOO_LONG] = { "KEY_TOO_LONG", "key empty or longer than 250 bytes" },
	[WEFT_ST_VALUE_TOO_LARGE] = { "VALUE_TOO_LARGE", "value larger than 1 MiB" },
	[WEFT_ST_BAD_REQUEST] = { "BAD_REQUEST", "the node found the request malformed" },
	[WEFT_ST_UNKNOWN_OP] = { "UNKNOWN_OP", "the node does not serve this operation" },
	[WEFT_ST_BAD_VERSION] = { "BAD_VERSION", "the node does not speak this protocol version" },
	[WEFT_ST_NO_MEMORY] = { "NO_MEMORY", "the cache's memory bound is reached" },
	[WEFT_ST_BUSY] = { "BUSY", "the node is busy; retry later" },
	[WEFT_ST_INTERNAL] = { "INTERNAL", "internal error on the node" },
	[WEFT_ST_BAD_CACHE_OPTS] = { "BAD_CACHE_OPTS", "invalid cache options" },
	[WEFT_ST_GONE] = { "GONE", "the node no longer holds the long response" },
	[WEFT_ST_NOT_OWNER] = { "NOT_OWNER", "the node does not own the key and cannot forward the request" },
	[WEFT_ST_NO_QUORUM] = { "NO_QUORUM", "write refused: the node is in a minority partition" },
	[WEFT_ST_FULL] = { "FULL", "the destination is full (max depth or bytes); retry later" },
	[WEFT_ST_FENCED] = { "FENCED", "fenced write refused: the singleton is held with another epoch" },
	[WEFT_ST_NO_SESSION] = { "NO_SESSION", "no such session (never created, invalidated or expired)" },
	[WEFT_ST_COOKIE] = { "COOKIE", "the node wants the source address verified first (cookie round trip)" },
	[WEFT_ST_UNAUTHORIZED] = { "UNAUTHORIZED", "the node requires a client key and this request has none or a wrong one" },
};

static const struct status_text client_status[] = {
	[WEFT_ST_TIMEOUT - WEFT_ST_CLIENT_BASE] = { "TIMEOUT", "no response from the node in time" },
	[WEFT_ST_IO - WEFT_ST_CLIENT_BASE] = { "IO", "socket or local resource error" },
	[WEFT_ST_PROTOCOL - WEFT_ST_CLIENT_BASE] = { "PROTOCOL", "malformed response from the node" },
	[WEFT_ST_INVALID_ARG - WEFT_ST_CLIENT_BASE] = { "INVALID_ARG", "invalid argument" },
};

static const struct status_text *lookup(int rc)
{
	static const struct status_text unknown = { "UNKNOWN", "unknown status" };
	unsigned int s = rc < 0 ? (unsigned int)-(long)rc : (unsigned int)rc;

	if (s < WEFT_ST__SERVER_COUNT && server_status[s].name != NULL)
		return &server_status[s];
	if (s >= WEFT_ST_CLIENT_BASE &&
	    s - WEFT_ST_CLIENT_BASE < sizeof(client_status) / sizeof(client_status[0]))
		return &client_status[s - WEFT_ST_CLIENT_BASE];
	return &unknown;
}

const char *weft_status_name(int rc)
{
	return lookup(rc)->name;
}

const char *weft_strerror(int rc)
{
	return lookup(rc)->text;
}
