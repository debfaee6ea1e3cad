/*
 * A minimal fake weft node for libweft's unit tests: a thread with a UDP
 * socket on 127.0.0.1 that hands every datagram to the test's handler, plus
 * helpers to send responses as wire.h lays them out. Test-only; it knows
 * nothing of caches — each test scripts exactly the answers it needs.
 *
 * Also a fake cluster of PEER_NODES such peers (test_client_session,
 * test_client_msg): the TOPOLOGY table it answers (PEER_SEG_LOG2 bits of
 * segments, 2 owners: segment s's owners are node (s + rot) % PEER_NODES
 * then (s + rot + 1) % PEER_NODES), request parsing, start / stop, and a
 * client seeded with node 0.
 *
 * Invariants: the thread only runs the handler (the test's main thread reads
 * peer state after peer_stop(), which joins); every wait is bounded
 * (50 ms polls, a hard 60 s cap); peer_stop() drains datagrams already
 * queued so counts are exact. A cluster's scenario is read by the handlers
 * and written by the test under its mu.
 */
#ifndef TEST_CLIENT_PEER_H
#define TEST_CLIENT_PEER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>
#include <weft/wire.h>

struct peer;
struct weft_sec_key;
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
	uint8_t cookie[WEFT_COOKIE_LEN]; /* the last request's cookie trailer */
	unsigned cookies;          /* requests that carried one */
	/* A client key (peer_start_keyed): requests must verify under it (else
	 * dropped, counted in auth_bad) and every answer is sealed with it
	 * unless seal_off. NULL: none. */
	const struct weft_sec_key *key;
	bool seal_off;
	unsigned auth_bad;
};

/* Binds the socket and starts the thread. */
void peer_start(struct peer *p, peer_handler *h, void *ctx);
/* As peer_start for a node with client key key (sec.h; NULL: none). */
void peer_start_keyed(struct peer *p, peer_handler *h, void *ctx, const struct weft_sec_key *key);
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

/* --- a fake cluster ---------------------------------------------------- */

#define PEER_NODES 3u
#define PEER_SEG_LOG2 4u

/* A request as a node got it (pointers into the datagram). */
struct peer_req {
	struct weft_wire_hdr h;
	const uint8_t *name, *key, *extras, *value;
	size_t value_len;
};

/* One request a node got, as the cluster logs it. */
struct peer_rec {
	unsigned node;
	uint8_t op;
	uint64_t rid;
	char name[WEFT_MAX_NAME_LEN + 1];
	char key[WEFT_MAX_KEY_LEN + 1]; /* NUL-terminated */
	size_t key_len;
	uint8_t extras[64];             /* the first 64 bytes */
	uint16_t extras_len;            /* as sent */
	struct weft_x_session x;        /* a SESSION's extras (zero for other ops) */
	uint8_t value[WEFT_MAX_DGRAM_PAYLOAD];
	size_t value_len;
};

/* The test's answer to a request the cluster leaves to it (not TOPOLOGY,
 * not at a silent node): called under the cluster's mu with the test's
 * ctx; replies with peer_reply on p (or not at all). */
typedef void peer_cluster_answer(void *ctx, struct peer *p, const struct peer_req *q);

struct peer_cluster {
	pthread_mutex_t mu;        /* the scenario and the log */
	struct peer p[PEER_NODES];
	bool stopped;
	peer_cluster_answer *answer;
	void *ctx;
	/* what happened: every well-formed single-datagram request but FETCH,
	 * the first log_max of them */
	struct peer_rec *log;
	unsigned log_max, n_log;
	/* scenario */
	uint32_t epoch;            /* of the table and of every response */
	unsigned rot;              /* owner rotation of the table */
	bool silent[PEER_NODES];   /* a silent node logs but never answers */
};

/* Starts the nodes of pc, with the test's answer and ctx and a log of
 * log_max entries; epoch 5, rotation 0. */
void peer_cluster_start(struct peer_cluster *pc, peer_cluster_answer *answer, void *ctx,
			struct peer_rec *log, unsigned log_max);
/* Stops the nodes (draining what the client sent): the test's log is then
 * final. Idempotent. */
void peer_cluster_stop(struct peer_cluster *pc);
/* peer_cluster_stop, then frees what peer_cluster_start made. */
void peer_cluster_destroy(struct peer_cluster *pc);
/* The log entries of op (after peer_cluster_stop), the first max of them
 * copied to out; their count. */
unsigned peer_cluster_find(const struct peer_cluster *pc, uint8_t op, struct peer_rec *out,
			   unsigned max);
/* Changes the scenario (under mu): the table's rotation and epoch, and
 * whether node is silent. */
void peer_cluster_set(struct peer_cluster *pc, unsigned rot, uint32_t epoch, unsigned node,
		      bool silent);
/* The segment of key (len bytes): XXH3 as weft hashes keys. */
unsigned peer_cluster_seg(const void *key, size_t len);
/* The TOPOLOGY answer's value (the table of pc's epoch and rotation) into
 * out (at least WEFT_MAX_DGRAM_PAYLOAD bytes); its length. */
size_t peer_cluster_table(const struct peer_cluster *pc, uint8_t *out);
/* A client of pc seeded with node 0 (asserts it connected). */
weft_client *peer_cluster_client(const struct peer_cluster *pc, uint32_t timeout_ms,
				 uint32_t retries);

#endif /* TEST_CLIENT_PEER_H */
