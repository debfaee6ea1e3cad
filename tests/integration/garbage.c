/*
 * garbage — sends a bounded burst of malformed weft datagrams to a node and
 * checks how it answers: datagrams that can be answered (a valid header with
 * a bad version, an unknown opcode, an oversized key, inconsistent lengths,
 * bad extras, unknown flags) must get the documented error status back;
 * datagrams that cannot (too short, wrong magic, random bytes) must get no
 * answer (they are counted drops on the node; the calling test reads the
 * node's counters). Used by tests/integration/single_node.sh.
 *
 * usage: garbage IP PORT COUNT   (COUNT random datagrams besides the fixed cases)
 * Exits 0 when every case was answered as specified, 1 otherwise.
 * Prints "unanswerable N" (how many datagrams had no reply by design).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <weft/wire.h>

static int sock;
static struct sockaddr_in node;
static uint32_t client_id;
static uint64_t next_request_id = 1;
static int failures;
static unsigned unanswerable;

static void init_hdr(struct weft_wire_hdr *h, uint8_t op)
{
	memset(h, 0, sizeof(*h));
	h->magic = WEFT_WIRE_MAGIC;
	h->version = WEFT_WIRE_VERSION;
	h->opcode = op;
	h->client_id = client_id;
	h->request_id = next_request_id++;
}

static void send_raw(const void *buf, size_t len)
{
	if (sendto(sock, buf, len, 0, (const struct sockaddr *)&node, sizeof(node)) < 0) {
		perror("sendto");
		exit(2);
	}
}

/* Waits (bounded) for the response to request_id; returns its status or -1. */
static int await_status(uint64_t request_id, int timeout_ms)
{
	uint8_t buf[2048];
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed >= timeout_ms)
			return -1;
		struct pollfd p = {.fd = sock, .events = POLLIN};
		if (poll(&p, 1, (int)(timeout_ms - elapsed)) <= 0)
			continue;
		ssize_t n = recv(sock, buf, sizeof(buf), 0);
		if (n < (ssize_t)sizeof(struct weft_wire_hdr))
			continue;
		struct weft_wire_hdr h;
		memcpy(&h, buf, sizeof(h));
		if (h.magic == WEFT_WIRE_MAGIC && (h.flags & WEFT_F_RESPONSE) &&
		    h.request_id == request_id && h.client_id == client_id)
			return h.status;
	}
}

static void expect(const char *what, uint64_t request_id, int want)
{
	int got = await_status(request_id, 1000);
	if (got == want) {
		printf("ok   - %s -> status %d\n", what, want);
	} else {
		printf("FAIL - %s: expected status %d, got %d\n", what, want, got);
		failures++;
	}
}

/* A request with name "g" and the given key/extras/value lengths. */
static void send_case(const char *what, uint8_t op, uint8_t flags, uint8_t version,
		      uint16_t key_len, uint16_t extras_len, uint32_t value_len,
		      uint32_t claimed_msg_len, int want)
{
	uint8_t buf[WEFT_MAX_DGRAM_LEN];
	struct weft_wire_hdr h;
	init_hdr(&h, op);
	h.flags = flags;
	h.version = version;
	h.name_len = 1;
	h.key_len = key_len;
	h.extras_len = extras_len;
	uint32_t real = 1u + key_len + extras_len + value_len;
	h.msg_len = claimed_msg_len ? claimed_msg_len : real;
	size_t payload = real < WEFT_MAX_DGRAM_PAYLOAD ? real : WEFT_MAX_DGRAM_PAYLOAD;
	memcpy(buf, &h, sizeof(h));
	memset(buf + sizeof(h), 'k', payload);
	buf[sizeof(h)] = 'g';
	send_raw(buf, sizeof(h) + payload);
	expect(what, h.request_id, want);
}

static void send_unanswerable(const void *buf, size_t len)
{
	send_raw(buf, len);
	unanswerable++;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s IP PORT COUNT\n", argv[0]);
		return 2;
	}
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	node.sin_family = AF_INET;
	node.sin_port = htons((uint16_t)atoi(argv[2]));
	if (sock < 0 || inet_pton(AF_INET, argv[1], &node.sin_addr) != 1) {
		fprintf(stderr, "garbage: bad address or socket: %s\n", strerror(errno));
		return 2;
	}
	long count = atol(argv[3]);
	if (getrandom(&client_id, sizeof(client_id), 0) != sizeof(client_id))
		return 2;

	/* Answerable cases: each gets its documented status. */
	send_case("bad protocol version", WEFT_OP_GET, 0, 99, 3, 0, 0, 0, WEFT_ST_BAD_VERSION);
	send_case("unknown opcode", 0x7f, 0, WEFT_WIRE_VERSION, 3, 0, 0, 0, WEFT_ST_UNKNOWN_OP);
	send_case("unknown flag bits", WEFT_OP_GET, 0x80, WEFT_WIRE_VERSION, 3, 0, 0, 0,
		  WEFT_ST_BAD_REQUEST);
	send_case("key over 250 bytes", WEFT_OP_GET, 0, WEFT_WIRE_VERSION, 251, 0, 0, 0,
		  WEFT_ST_KEY_TOO_LONG);
	send_case("value over 1 MiB", WEFT_OP_PUT, 0, WEFT_WIRE_VERSION, 3,
		  sizeof(struct weft_x_write), WEFT_MAX_VALUE_LEN + 1, 0, WEFT_ST_VALUE_TOO_LARGE);
	send_case("msg_len shorter than name+key", WEFT_OP_GET, 0, WEFT_WIRE_VERSION, 3, 0, 0, 2,
		  WEFT_ST_BAD_REQUEST);
	send_case("PUT with wrong extras length", WEFT_OP_PUT, 0, WEFT_WIRE_VERSION, 3, 4, 5, 0,
		  WEFT_ST_BAD_REQUEST);
	send_case("GET without a key", WEFT_OP_GET, 0, WEFT_WIRE_VERSION, 0, 0, 0, 0,
		  WEFT_ST_BAD_REQUEST);
	send_case("INCR with truncated extras", WEFT_OP_INCR, 0, WEFT_WIRE_VERSION, 3, 8, 0, 0,
		  WEFT_ST_BAD_REQUEST);

	/* Unanswerable: no reply by design, counted drops on the node. */
	uint8_t buf[WEFT_MAX_DGRAM_LEN];
	struct weft_wire_hdr h;
	send_unanswerable("", 0);
	send_unanswerable("x", 1);
	init_hdr(&h, WEFT_OP_GET);
	memcpy(buf, &h, sizeof(h));
	send_unanswerable(buf, sizeof(h) - 1); /* truncated header */
	h.magic = 0x1234;
	memcpy(buf, &h, sizeof(h));
	send_unanswerable(buf, sizeof(h)); /* wrong magic */
	init_hdr(&h, WEFT_OP_GET);
	h.flags = WEFT_F_RESPONSE; /* a response sent to the node */
	memcpy(buf, &h, sizeof(h));
	send_unanswerable(buf, sizeof(h));
	for (long i = 0; i < count; i++) {
		size_t len = 0;
		if (getrandom(&len, sizeof(len), 0) != sizeof(len) ||
		    getrandom(buf, sizeof(buf), 0) != sizeof(buf))
			return 2;
		len %= sizeof(buf);
		if (len >= 2 && i % 2 == 0) { /* half keep the magic: they reach the parser */
			buf[0] = WEFT_WIRE_MAGIC & 0xff;
			buf[1] = WEFT_WIRE_MAGIC >> 8;
		} else if (len >= 2 && buf[0] == (WEFT_WIRE_MAGIC & 0xff) &&
			   buf[1] == (WEFT_WIRE_MAGIC >> 8)) {
			buf[0] ^= 0xff;
		}
		send_raw(buf, len);
	}
	/* Random datagrams with the magic may be answerable (e.g. BAD_REQUEST):
	 * only the fixed ones above are counted as unanswerable. Drain replies. */
	while (await_status(0, 200) != -1)
		;
	printf("unanswerable %u\n", unanswerable);
	printf("%s\n", failures ? "garbage: some cases were not answered as specified"
				: "garbage: every case answered as specified");
	return failures ? 1 : 0;
}
