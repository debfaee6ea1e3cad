/*
 * weft-netem — a userspace link impairer for the fault scenarios (the
 * kernel here has no tc netem): forwards Ethernet frames between two
 * interfaces through AF_PACKET raw sockets, per direction dropping
 * (loss), duplicating, delaying with jitter (which reorders) and blocking
 * (cutting) frames as its control file says (netem.h, docs/faults.md).
 *
 *   weft-netem --a IFACE --b IFACE --ctl FILE [--seed N] [--queue N]
 *
 * SIGHUP re-reads FILE; SIGTERM / SIGINT end it, printing per direction
 *   NETEM DIR fwd=N lost=N dup=N blocked=N delayed=N queue_drops=N send_errors=N
 * on stderr. Exit 0; 2 on bad usage or when an interface cannot be opened.
 *
 * Invariants: only frames that arrive on an interface are taken (never our
 * own sends: PACKET_OUTGOING is skipped). A delayed frame waits in a
 * bounded pool (--queue frames, default 4096, of up to FRAME_MAX bytes);
 * when the pool is full the frame is dropped and counted, and a larger
 * frame is sent at once, undelayed. Frames leave in (due time, arrival)
 * order, so with no jitter a direction keeps its order. The PRNG is
 * xorshift64* seeded by --seed (default 1): a seed gives the same choices
 * for the same frame sequence. Every wait is a poll bounded by the next due
 * frame or POLL_MAX_MS.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netem.h"

#define FRAME_MAX 2048
#define RX_MAX 65536
#define BURST 64
#define POLL_MAX_MS 100

struct frame {
	uint64_t due_ns, seq;
	unsigned dir;
	uint16_t len;
	uint8_t data[FRAME_MAX];
};

struct counters {
	unsigned long long fwd, lost, dup, blocked, delayed, queue_drops, send_errors;
};

static volatile sig_atomic_t reload, quit;
static struct netem_conf conf;
static struct counters cnt[2];
static int sock[2];
static uint64_t rs = 1, next_seq;
static struct frame *pool;
static unsigned *heap, *free_list, n_heap, n_free, pool_size = 4096;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		quit = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Uniform in [0, 1). */
static double rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return (double)((rs * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

static bool before(unsigned x, unsigned y)
{
	const struct frame *a = &pool[x], *b = &pool[y];
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void heap_push(unsigned slot)
{
	unsigned i = n_heap++;
	heap[i] = slot;
	while (i > 0 && before(heap[i], heap[(i - 1) / 2])) {
		unsigned p = (i - 1) / 2, t = heap[p];
		heap[p] = heap[i];
		heap[i] = t;
		i = p;
	}
}

static unsigned heap_pop(void)
{
	unsigned top = heap[0];
	heap[0] = heap[--n_heap];
	for (unsigned i = 0;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;
		if (l < n_heap && before(heap[l], heap[m]))
			m = l;
		if (r < n_heap && before(heap[r], heap[m]))
			m = r;
		if (m == i)
			break;
		unsigned t = heap[m];
		heap[m] = heap[i];
		heap[i] = t;
		i = m;
	}
	return top;
}

static void send_out(unsigned dir, const uint8_t *data, size_t len)
{
	if (send(sock[!dir], data, len, MSG_DONTWAIT) != (ssize_t)len)
		cnt[dir].send_errors++;
	else
		cnt[dir].fwd++;
}

/* Whether an IPv4 frame's source or destination is blocked in dir. */
static bool blocked(const struct netem_dir *d, const uint8_t *f, size_t len)
{
	if (d->n_block == 0 || len < 34 || f[12] != 0x08 || f[13] != 0x00)
		return false;
	uint32_t src, dst;
	memcpy(&src, f + 26, 4);
	memcpy(&dst, f + 30, 4);
	for (unsigned i = 0; i < d->n_block; i++)
		if (d->block[i] == src || d->block[i] == dst)
			return true;
	return false;
}

static void schedule(unsigned dir, const uint8_t *data, size_t len)
{
	const struct netem_dir *d = &conf.dir[dir];
	int64_t us = d->delay_us;
	if (d->jitter_us)
		us += (int64_t)(rnd() * (2.0 * d->jitter_us + 1)) - (int64_t)d->jitter_us;
	if (us <= 0 || len > FRAME_MAX) {
		send_out(dir, data, len);
		return;
	}
	if (n_free == 0) {
		cnt[dir].queue_drops++;
		return;
	}
	unsigned slot = free_list[--n_free];
	struct frame *fr = &pool[slot];
	fr->due_ns = now_ns() + (uint64_t)us * 1000u;
	fr->seq = next_seq++;
	fr->dir = dir;
	fr->len = (uint16_t)len;
	memcpy(fr->data, data, len);
	heap_push(slot);
	cnt[dir].delayed++;
}

static void take(unsigned dir, const uint8_t *data, size_t len)
{
	const struct netem_dir *d = &conf.dir[dir];
	if (blocked(d, data, len)) {
		cnt[dir].blocked++;
		return;
	}
	if (d->loss > 0 && rnd() < d->loss) {
		cnt[dir].lost++;
		return;
	}
	schedule(dir, data, len);
	if (d->dup > 0 && rnd() < d->dup) {
		cnt[dir].dup++;
		schedule(dir, data, len);
	}
}

static void drain(unsigned dir)
{
	static uint8_t buf[RX_MAX];
	for (int i = 0; i < BURST; i++) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(sock[dir], buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fl);
		if (n <= 0)
			return;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		take(dir, buf, (size_t)n);
	}
}

static void send_due(void)
{
	uint64_t t = now_ns();
	while (n_heap > 0 && pool[heap[0]].due_ns <= t) {
		unsigned slot = heap_pop();
		send_out(pool[slot].dir, pool[slot].data, pool[slot].len);
		free_list[n_free++] = slot;
	}
}

static int open_iface(const char *name)
{
	unsigned idx = if_nametoindex(name);
	int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (idx == 0 || s < 0) {
		fprintf(stderr, "weft-netem: %s: %s\n", name, strerror(errno));
		exit(2);
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)idx };
	struct packet_mreq mr = { .mr_ifindex = (int)idx, .mr_type = PACKET_MR_PROMISC };
	int one = 1, rcv = 4 << 20;
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) != 0 ||
	    setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) != 0) {
		fprintf(stderr, "weft-netem: %s: %s\n", name, strerror(errno));
		exit(2);
	}
	/* best effort: the kernel may not know these; PACKET_OUTGOING is
	 * skipped on receive anyway */
	(void)setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	(void)setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	(void)setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	return s;
}

static void apply(const char *ctl)
{
	struct netem_conf next;
	const char *why = NULL;
	if (netem_ctl_read(ctl, &next, &why) == 0)
		conf = next;
	else
		fprintf(stderr, "weft-netem: %s: %s (previous settings kept)\n", ctl, why);
	netem_ctl_applied(ctl, why ? next.gen : conf.gen, why);
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fprintf(stderr, "usage: weft-netem --a IFACE --b IFACE --ctl FILE [--seed N] [--queue N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *ia = NULL, *ib = NULL, *ctl = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--a") == 0)
			ia = argv[i + 1];
		else if (strcmp(argv[i], "--b") == 0)
			ib = argv[i + 1];
		else if (strcmp(argv[i], "--ctl") == 0)
			ctl = argv[i + 1];
		else if (strcmp(argv[i], "--seed") == 0)
			rs = strtoull(argv[i + 1], NULL, 10) | 1;
		else if (strcmp(argv[i], "--queue") == 0)
			pool_size = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else
			usage();
	}
	if (ia == NULL || ib == NULL || ctl == NULL || argc % 2 == 0 || pool_size == 0 ||
	    pool_size > 1000000)
		usage();
	pool = calloc(pool_size, sizeof(*pool));
	heap = calloc(pool_size, sizeof(*heap));
	free_list = calloc(pool_size, sizeof(*free_list));
	if (pool == NULL || heap == NULL || free_list == NULL) {
		fprintf(stderr, "weft-netem: out of memory\n");
		return 2;
	}
	for (unsigned i = 0; i < pool_size; i++)
		free_list[n_free++] = pool_size - 1 - i;
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sock[0] = open_iface(ia);
	sock[1] = open_iface(ib);
	apply(ctl);

	while (!quit) {
		if (reload) {
			reload = 0;
			apply(ctl);
		}
		int wait_ms = POLL_MAX_MS;
		if (n_heap > 0) {
			uint64_t due = pool[heap[0]].due_ns, t = now_ns();
			uint64_t ms = due > t ? (due - t + 999999) / 1000000 : 0;
			wait_ms = ms < (uint64_t)wait_ms ? (int)ms : wait_ms;
		}
		struct pollfd p[2] = { { .fd = sock[0], .events = POLLIN },
				       { .fd = sock[1], .events = POLLIN } };
		int n = poll(p, 2, wait_ms);
		if (n < 0 && errno != EINTR)
			break;
		for (unsigned d = 0; n > 0 && d < 2; d++)
			if (p[d].revents & POLLIN)
				drain(d);
		send_due();
	}
	for (unsigned d = 0; d < 2; d++)
		fprintf(stderr, "NETEM %s fwd=%llu lost=%llu dup=%llu blocked=%llu delayed=%llu "
			"queue_drops=%llu send_errors=%llu\n", d ? "b2a" : "a2b", cnt[d].fwd,
			cnt[d].lost, cnt[d].dup, cnt[d].blocked, cnt[d].delayed,
			cnt[d].queue_drops, cnt[d].send_errors);
	return 0;
}
