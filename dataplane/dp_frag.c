/*
 * dp_frag.c — IPv4 reassembly for the cluster channel, owned by the control
 * thread (one thread: no lock). Cluster messages (a full membership state)
 * reach 64 KiB, so 45 fragments at a 1500-byte MTU.
 *
 * Why not librte_ip_frag: Debian's DPDK 22.11 is built with
 * RTE_LIBRTE_IP_FRAG_MAX_FRAG = 8 (rte_config.h), and
 * rte_ipv4_frag_reassemble_packet drops any datagram of more than 8
 * fragments (~11.8 KB at MTU 1500); the limit is compiled into the library.
 *
 * Each datagram in progress is keyed by (src, dst, id, protocol) and owns a
 * 65535-byte buffer (allocated on first use and kept) plus a bitmap of the
 * 8-byte blocks received. Invariants:
 *  - at most max_entries datagrams in progress; a new one when all are busy
 *    evicts the one that started first (counted);
 *  - a datagram idle for timeout_ms is dropped by dp_frag_expire (counted);
 *  - a fragment that partly overlaps received bytes, contradicts the known
 *    total length, or ends past 65535 bytes of IP packet drops the whole
 *    datagram (counted); an exact repeat of received bytes is ignored;
 *  - non-final fragments carry a multiple of 8 bytes (RFC 791).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"

#define FRAG_MAX_L4 (65535u - DP_IP_HLEN)
#define FRAG_BLOCKS ((FRAG_MAX_L4 + 7) / 8)

struct frag_entry {
	bool used;
	uint32_t src, dst;
	uint16_t id;
	uint8_t proto;
	bool have_last;
	uint32_t total;    /* l4 bytes, known once the last fragment came */
	uint32_t received; /* l4 bytes received */
	uint32_t max_end;  /* highest end offset seen */
	uint64_t first_ms, last_ms;
	uint8_t hdr[DP_IP_HLEN]; /* the offset-0 fragment's header */
	uint8_t *buf;            /* FRAG_MAX_L4 bytes */
	uint64_t bits[(FRAG_BLOCKS + 63) / 64];
};

struct dp_frag {
	unsigned n;
	uint64_t timeout_ms;
	struct dp_frag_stats st;
	struct frag_entry *e;
};

struct dp_frag *dp_frag_create(unsigned max_entries, uint64_t timeout_ms)
{
	if (max_entries == 0 || timeout_ms == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct dp_frag *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->e = calloc(max_entries, sizeof(*f->e));
	if (f->e == NULL) {
		free(f);
		return NULL;
	}
	f->n = max_entries;
	f->timeout_ms = timeout_ms;
	return f;
}

void dp_frag_destroy(struct dp_frag *f)
{
	if (f == NULL)
		return;
	for (unsigned i = 0; i < f->n; i++)
		free(f->e[i].buf);
	free(f->e);
	free(f);
}

static void release(struct dp_frag *f, struct frag_entry *e)
{
	e->used = false;
	f->st.entries--;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Counts the set bits of blocks [b0, b1). */
static uint32_t blocks_set(const struct frag_entry *e, uint32_t b0, uint32_t b1)
{
	uint32_t n = 0;
	for (uint32_t b = b0; b < b1; b++)
		n += (uint32_t)(e->bits[b / 64] >> (b % 64)) & 1u;
	return n;
}

static void blocks_mark(struct frag_entry *e, uint32_t b0, uint32_t b1)
{
	for (uint32_t b = b0; b < b1; b++)
		e->bits[b / 64] |= 1ull << (b % 64);
}

static struct frag_entry *find_or_start(struct dp_frag *f, uint32_t src, uint32_t dst,
					uint16_t id, uint8_t proto, uint64_t now_ms)
{
	struct frag_entry *free_e = NULL, *oldest = NULL;
	for (unsigned i = 0; i < f->n; i++) {
		struct frag_entry *e = &f->e[i];
		if (!e->used) {
			if (free_e == NULL)
				free_e = e;
			continue;
		}
		if (e->src == src && e->dst == dst && e->id == id && e->proto == proto)
			return e;
		if (oldest == NULL || e->first_ms < oldest->first_ms)
			oldest = e;
	}
	struct frag_entry *e = free_e;
	if (e == NULL) {
		e = oldest;
		release(f, e);
		f->st.evicted++;
	}
	if (e->buf == NULL) {
		e->buf = malloc(FRAG_MAX_L4);
		if (e->buf == NULL)
			return NULL;
	}
	uint8_t *buf = e->buf;
	memset(e, 0, sizeof(*e));
	e->buf = buf;
	e->used = true;
	e->src = src;
	e->dst = dst;
	e->id = id;
	e->proto = proto;
	e->first_ms = now_ms;
	f->st.entries++;
	return e;
}

enum dp_frag_result dp_frag_add(struct dp_frag *f, const uint8_t *ip, uint32_t l3_len,
				uint64_t now_ms, const uint8_t **hdr, const uint8_t **out,
				uint32_t *out_len)
{
	if (l3_len <= DP_IP_HLEN) {
		f->st.bad++;
		return DP_FRAG_BAD;
	}
	uint16_t fo = rd16(ip + 6);
	bool more = fo & 0x2000;
	uint32_t off = (uint32_t)(fo & 0x1fff) * 8;
	uint32_t len = l3_len - DP_IP_HLEN;
	if ((more && len % 8 != 0) || off + len > FRAG_MAX_L4) {
		f->st.bad++;
		return DP_FRAG_BAD;
	}
	uint32_t src, dst;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	struct frag_entry *e = find_or_start(f, src, dst, rd16(ip + 4), ip[9], now_ms);
	if (e == NULL) {
		f->st.bad++;
		return DP_FRAG_BAD;
	}
	uint32_t end = off + len;
	bool contradicts = e->have_last && (end > e->total || (!more && end != e->total));
	if (!more && !contradicts && end < e->max_end)
		contradicts = true; /* a last fragment ending before bytes we hold */
	uint32_t b0 = off / 8, b1 = (end + 7) / 8;
	uint32_t have = contradicts ? 0 : blocks_set(e, b0, b1);
	if (!contradicts && have == b1 - b0 && memcmp(e->buf + off, ip + DP_IP_HLEN, len) == 0) {
		e->last_ms = now_ms;
		f->st.duplicates++;
		return DP_FRAG_DUPLICATE;
	}
	if (contradicts || have != 0) {
		release(f, e);
		f->st.overlaps++;
		return DP_FRAG_OVERLAP;
	}
	memcpy(e->buf + off, ip + DP_IP_HLEN, len);
	blocks_mark(e, b0, b1);
	e->received += len;
	e->last_ms = now_ms;
	if (end > e->max_end)
		e->max_end = end;
	if (off == 0)
		memcpy(e->hdr, ip, DP_IP_HLEN);
	if (!more) {
		e->have_last = true;
		e->total = end;
	}
	if (!e->have_last || e->received != e->total)
		return DP_FRAG_STORED;
	*hdr = e->hdr;
	*out = e->buf;
	*out_len = e->total;
	release(f, e); /* the buffer stays as it is until the next call */
	f->st.completed++;
	return DP_FRAG_COMPLETE;
}

unsigned dp_frag_expire(struct dp_frag *f, uint64_t now_ms)
{
	unsigned n = 0;
	for (unsigned i = 0; i < f->n; i++) {
		struct frag_entry *e = &f->e[i];
		if (e->used && now_ms > e->last_ms && now_ms - e->last_ms > f->timeout_ms) {
			release(f, e);
			n++;
		}
	}
	f->st.timeouts += n;
	return n;
}

void dp_frag_get_stats(const struct dp_frag *f, struct dp_frag_stats *out)
{
	*out = f->st;
}
