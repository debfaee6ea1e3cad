/*
 * A minimal fake weft node for libweft's unit tests: a thread with a UDP
 * socket on 127.0.0.1 that hands every datagram to the test's handler, plus
 * helpers to send responses as wire.h lays them out. Test-only; it knows
 * nothing of caches — each test scripts exactly the answers it needs.
 *
 * Invariants: the thread only runs the handler (the test's main thread reads
 * peer state after peer_stop(), which joins); every wait is bounded
 * (50 ms polls, a hard 60 s cap); peer_stop() drains datagrams already
 * queued so counts are exact.
 */
#ifndef TEST_CLIENT_PEER_H
#define TEST_CLIENT_PEER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/wire.h>

struct peer;
typedef void peer_handler(struct peer *p, const uint8_t *d, size_t len);

struct peer {
	int fd;
	uint16_t port;
	char addr[32]; /* "127.0.0.1:PORT" for weft_client_connect */
	pthread_t thread;
	atomic_bool stop;
	peer_handler *handler;
	void *ctx;                 /* the test's scenario state */
	struct sockaddr_in from;   /* sender of the datagram being handled */
	uint32_t epoch;            /* hdr.epoch of peer_reply's responses */
};

/* Binds the socket and starts the thread. */
void peer_start(struct peer *p, peer_handler *h, void *ctx);
/* Stops and joins the thread (after draining queued datagrams), closes. */
void peer_stop(struct peer *p);

/* Sends a single-datagram response to the request in req (epoch p->epoch). */
void peer_reply(struct peer *p, const struct weft_wire_hdr *req, uint16_t status,
		const void *extras, uint16_t extras_len, const void *value, uint32_t value_len);
/* Sends piece k of a long response whose payload is [payload, +msg_len),
 * extras_len bytes of which are extras, with req's ids and opcode. */
void peer_send_piece(struct peer *p, const struct weft_wire_hdr *req, uint8_t opcode,
		     uint16_t status, const uint8_t *payload, uint32_t msg_len,
		     uint16_t extras_len, uint32_t k);
/* Sends raw bytes to the client. */
void peer_send_raw(struct peer *p, const void *d, size_t len);

#endif /* TEST_CLIENT_PEER_H */
