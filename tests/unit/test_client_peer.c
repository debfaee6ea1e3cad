/*
 * The fake weft node of libweft's unit tests (see test_client_peer.h).
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test_client_peer.h"

#define PEER_MAX_RUN_S 60

static void die(const char *what)
{
	perror(what);
	abort();
}

static void handle_one(struct peer *p, int flags)
{
	uint8_t buf[WEFT_MAX_DGRAM_LEN + 64];
	socklen_t sl = sizeof(p->from);
	ssize_t n = recvfrom(p->fd, buf, sizeof(buf), flags, (struct sockaddr *)&p->from, &sl);
	if (n >= 0)
		p->handler(p, buf, (size_t)n);
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	time_t start = time(NULL);

	while (!atomic_load(&p->stop) && time(NULL) - start < PEER_MAX_RUN_S) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		if (poll(&pfd, 1, 50) > 0)
			handle_one(p, MSG_DONTWAIT);
	}
	/* Loopback delivery is synchronous: whatever the client sent is queued. */
	for (;;) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		if (poll(&pfd, 1, 0) <= 0)
			break;
		handle_one(p, MSG_DONTWAIT);
	}
	return NULL;
}

void peer_start(struct peer *p, peer_handler *h, void *ctx)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);

	p->handler = h;
	p->ctx = ctx;
	atomic_store(&p->stop, false);
	p->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (p->fd < 0)
		die("socket");
	if (bind(p->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(p->fd, (struct sockaddr *)&sa, &sl) < 0)
		die("bind");
	p->port = ntohs(sa.sin_port);
	snprintf(p->addr, sizeof(p->addr), "127.0.0.1:%u", p->port);
	if (pthread_create(&p->thread, NULL, peer_main, p) != 0)
		die("pthread_create");
}

void peer_stop(struct peer *p)
{
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	close(p->fd);
}

void peer_send_raw(struct peer *p, const void *d, size_t len)
{
	if (sendto(p->fd, d, len, 0, (struct sockaddr *)&p->from, sizeof(p->from)) != (ssize_t)len)
		die("sendto");
}

static void resp_hdr(struct weft_wire_hdr *h, const struct weft_wire_hdr *req, uint8_t opcode,
		     uint16_t status)
{
	memset(h, 0, sizeof(*h));
	h->magic = WEFT_WIRE_MAGIC;
	h->version = WEFT_WIRE_VERSION;
	h->opcode = opcode;
	h->flags = WEFT_F_RESPONSE;
	h->status = status;
	h->client_id = req->client_id;
	h->request_id = req->request_id;
}

void peer_reply(struct peer *p, const struct weft_wire_hdr *req, uint16_t status,
		const void *extras, uint16_t extras_len, const void *value, uint32_t value_len)
{
	uint8_t buf[WEFT_MAX_DGRAM_LEN];
	struct weft_wire_hdr h;

	if (sizeof(h) + extras_len + value_len > sizeof(buf))
		abort();
	resp_hdr(&h, req, req->opcode, status);
	h.extras_len = extras_len;
	h.msg_len = extras_len + value_len;
	h.epoch = p->epoch;
	memcpy(buf, &h, sizeof(h));
	if (extras_len)
		memcpy(buf + sizeof(h), extras, extras_len);
	if (value_len)
		memcpy(buf + sizeof(h) + extras_len, value, value_len);
	peer_send_raw(p, buf, sizeof(h) + h.msg_len);
}

void peer_send_piece(struct peer *p, const struct weft_wire_hdr *req, uint8_t opcode,
		     uint16_t status, const uint8_t *payload, uint32_t msg_len,
		     uint16_t extras_len, uint32_t k)
{
	uint8_t buf[WEFT_MAX_DGRAM_LEN];
	struct weft_wire_hdr h;
	uint32_t off = k * WEFT_MAX_DGRAM_PAYLOAD;
	uint32_t n = msg_len - off < WEFT_MAX_DGRAM_PAYLOAD ? msg_len - off : WEFT_MAX_DGRAM_PAYLOAD;

	if (off >= msg_len)
		abort();
	resp_hdr(&h, req, opcode, status);
	h.extras_len = extras_len;
	h.msg_len = msg_len;
	h.frag_offset = off;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload + off, n);
	peer_send_raw(p, buf, sizeof(h) + n);
}
