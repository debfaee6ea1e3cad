/*
 * weft-perf internals: configuration, the latency histogram
 * (weft_perf_hist.c), key choice and the Zipf sampler (weft_perf_keys.c),
 * request encoding / response decoding for weft and memcached
 * (weft_perf_proto.c), the per-thread load loop (weft_perf_worker.c) and
 * the --cluster routing tables (weft_perf_cluster.c).
 *
 * Invariants: every request and response fits one datagram (main() checks
 * sizes before starting); a request id names a pipeline slot in its low
 * bits and the slot's generation above them, so a late answer to a timed-out
 * request never completes the slot's next request. With --cluster a
 * published route is never changed or freed while workers run: a newer
 * table replaces the pointer, the old one stays until the end.
 */
#ifndef WEFT_PERF_INTERNAL_H
#define WEFT_PERF_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/wire.h>

enum wp_proto { WP_PROTO_WEFT, WP_PROTO_MEMCACHED };

struct weft_sec_key; /* sec/sec.h */

struct wp_config {
	enum wp_proto proto;
	struct sockaddr_in server;
	char server_str[64];
	unsigned threads, depth;
	double get_ratio;
	uint64_t keys;
	unsigned key_size, value_size;
	bool zipf;
	double zipf_theta;
	double duration_s;  /* 0: bounded by requests only */
	uint64_t requests;  /* 0: bounded by duration only */
	bool preload;
	const char *cache;
	uint32_t timeout_ms;
	bool json;
	uint64_t seed;
	bool cluster;       /* --cluster: each key straight to an owner (kernel UDP, weft) */
	bool sequential;    /* --sequential: each thread's keys in order over its share */
	unsigned mget;      /* --mget N: every get is one MULTI_GET (memcached: one
	                       "get k1 .. kN") of N keys; 0: single-key gets */
	const struct weft_sec_key *key; /* --client-key (weft, kernel UDP): every request
	                                   sealed, every answer verified (sec/); NULL: none */
};

/* --- weft_perf_hist.c --- */

#define WP_HIST_SUB_BITS 7 /* 128 sub-buckets per power of two: < 0.8% error */
#define WP_HIST_SUB (1u << WP_HIST_SUB_BITS)
#define WP_HIST_BUCKETS ((64 - WP_HIST_SUB_BITS + 1) * WP_HIST_SUB)

struct wp_hist {
	uint64_t count;
	uint64_t max;
	uint64_t buckets[WP_HIST_BUCKETS];
};

void wp_hist_record(struct wp_hist *h, uint64_t v);
void wp_hist_merge(struct wp_hist *dst, const struct wp_hist *src);
/* The value at quantile q (0..1): the upper edge of its bucket, capped at max. */
uint64_t wp_hist_quantile(const struct wp_hist *h, double q);
/* Exposed for tests of the bucket math. */
unsigned wp_hist_index(uint64_t v);
uint64_t wp_hist_upper(unsigned idx);

/* --- weft_perf_keys.c --- */

struct wp_zipf {
	uint64_t n;
	double *cdf; /* cdf[i] = P(rank <= i), cdf[n-1] == 1 */
};

/* Precomputes the CDF of Zipf(n, theta) over ranks 0..n-1. 0 or -errno. */
int wp_zipf_init(struct wp_zipf *z, uint64_t n, double theta);
void wp_zipf_free(struct wp_zipf *z);
/* Rank for a uniform u in [0, 1): binary search of the CDF. */
uint64_t wp_zipf_sample(const struct wp_zipf *z, double u);

/* xoshiro256** state, seeded with splitmix64. */
struct wp_rng {
	uint64_t s[4];
};
void wp_rng_seed(struct wp_rng *r, uint64_t seed);
uint64_t wp_rng_next(struct wp_rng *r);
double wp_rng_unit(struct wp_rng *r); /* [0, 1) */

/* Writes key number idx as exactly key_size bytes ("k000…0123"). */
void wp_key(char *out, unsigned key_size, uint64_t idx);

/* --- weft_perf_proto.c --- */

/* WP_R_COOKIE: the node wants the cookie it sent (weft only): nothing
 * was served. */
enum wp_result { WP_R_HIT, WP_R_MISS, WP_R_STORED, WP_R_ERROR, WP_R_COOKIE };

#define WP_MAX_DGRAM 1500u
#define WP_MEMCACHED_MAX_DGRAM 1400u /* memcached's UDP_MAX_PAYLOAD_SIZE */

/* Largest request / response datagram for this config; main() refuses
 * configs whose messages do not fit one datagram. */
size_t wp_max_request_len(const struct wp_config *cfg);
size_t wp_max_response_len(const struct wp_config *cfg);
/* Encodes a GET (is_get) or PUT/set of key idx; returns its length. weft:
 * the datagram ends with F_COOKIE's trailer, cookie (NULL: zeros; the
 * trailer is the datagram's last WEFT_COOKIE_LEN bytes, so a template's
 * cookie can be rewritten in place with wp_cookie_put). */
size_t wp_encode(const struct wp_config *cfg, uint32_t client_id, uint64_t req_id, bool is_get,
		 uint64_t key_idx, const uint8_t *value, const uint8_t *cookie, uint8_t *out);
/* Encodes one multi-key get of cfg->mget keys (keys[0..mget-1]): weft's
 * MULTI_GET (wire.h: the key list as its value, then the cookie trailer) or
 * memcached's "get k1 .. kN"; returns its length. */
size_t wp_encode_mget(const struct wp_config *cfg, uint32_t client_id, uint64_t req_id,
		      const uint64_t *keys, const uint8_t *cookie, uint8_t *out);
/* Writes cookie (NULL: zeros) as a WEFT_COOKIE_LEN-byte trailer. */
void wp_cookie_put(uint8_t *trailer, const uint8_t *cookie);
/* The cookie a weft response of len bytes carries (F_COOKIE): false when
 * none. */
bool wp_weft_cookie(const uint8_t *d, size_t len, uint8_t out[WEFT_COOKIE_LEN]);
/* Decodes a response: false if it is not one (garbage, other client);
 * else its request id and result. A weft MULTI_GET is a hit when every
 * entry is OK, else a miss; memcached's: wp_decode_mc_mget. */
bool wp_decode(const struct wp_config *cfg, uint32_t client_id, const uint8_t *d, size_t len,
	       uint64_t *req_id, enum wp_result *res);
/* One datagram of memcached's answer to a multi-key get (--mget): false if
 * it is not one; else its request id, how many VALUE blocks it holds and
 * whether it is the last one (ends with "END\r\n"). */
bool wp_decode_mc_mget(const uint8_t *d, size_t len, uint64_t *req_id, unsigned *values,
		       bool *end);
/* The topology epoch in a weft datagram's header (0 if too short). */
uint32_t wp_weft_epoch(const uint8_t *d, size_t len);

/* --- weft_perf_cluster.c --- */

struct weft_topology;
struct weft_client;

/* One segment table with its members' addresses. Immutable once published:
 * workers read it without locks; it is freed only after they stopped. */
struct wp_route {
	struct weft_topology *topo;
	struct sockaddr_in *addr; /* [topo->n_members]; sin_family 0: unusable */
	uint32_t epoch;
	bool direct;              /* false (one member, no owners yet): all to the seed */
};

/* The shared routing state of a --cluster run. `cur` and `seen` are the only
 * fields workers touch (atomics); the rest belongs to the main thread. */
struct wp_cluster {
	_Atomic(const struct wp_route *) cur;
	_Atomic uint32_t seen;      /* newest epoch a response carried */
	struct weft_client *cl;     /* TOPOLOGY from the seed */
	struct wp_route **all;      /* every table published, freed at the end */
	unsigned n_all, cap_all;
	uint64_t fetches, fetch_failures;
	uint64_t last_try_ns;
};

/* Serial-number order of 32-bit epochs: a is newer than b. */
static inline bool wp_epoch_newer(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

/* Builds the route of a table (taking ownership of t): NULL with errno
 * ENOMEM. Pure apart from the allocation. */
struct wp_route *wp_route_build(struct weft_topology *t);
void wp_route_free(struct wp_route *r);
/* Where a request for key goes: the primary for a put, owner number
 * pick % owners for a get; NULL: the seed (--server). Pure, any thread. */
const struct sockaddr_in *wp_route_dest(const struct wp_route *r, const void *key, size_t len,
					bool is_get, uint64_t pick);

/* Main thread: connects to the seed and publishes its first table. 0 or
 * -errno (a message was printed). */
int wp_cluster_init(struct wp_cluster *c, const struct wp_config *cfg);
/* Main thread, between waits for the workers: fetches the table again when
 * a response carried a newer epoch (at most every 20 ms; each fetch bounded
 * by 1 s) or while the node has no table yet. */
void wp_cluster_refresh(struct wp_cluster *c);
void wp_cluster_fini(struct wp_cluster *c);
/* Worker: notes the epoch of a response answered under route epoch `have`. */
static inline void wp_cluster_saw(struct wp_cluster *c, uint32_t have, uint32_t epoch)
{
	if (!wp_epoch_newer(epoch, have))
		return;
	uint32_t s = atomic_load_explicit(&c->seen, memory_order_relaxed);
	while (wp_epoch_newer(epoch, s) &&
	       !atomic_compare_exchange_weak_explicit(&c->seen, &s, epoch, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* --- weft_perf_worker.c --- */

struct wp_stats {
	uint64_t sent, completed, gets, puts, hits, misses, errors, lost, stale, send_fail;
	uint64_t cookies; /* COOKIE answers: the request was not served (its cookie aged) */
	struct wp_hist hist; /* latency in ns of completed requests */
};

struct wp_worker {
	const struct wp_config *cfg;
	const struct wp_zipf *zipf; /* NULL: uniform */
	struct wp_cluster *cluster; /* --cluster: routing; NULL: all to --server */
	pthread_barrier_t *barrier; /* after preload, before measuring */
	unsigned index;
	uint64_t quota;             /* requests to issue while measuring; 0: no bound */
	struct wp_stats preload, run;
	uint64_t start_ns, finish_ns; /* the measured phase, CLOCK_MONOTONIC */
	int error;                  /* errno of a setup failure */
};

void *wp_worker_main(void *arg);
uint64_t wp_now_ns(void);

/* weft_perf_args.c: argument parsing shared by both modes. wp_die prints
 * "weft-perf: msg: arg" and exits 2; wp_num (a decimal u64) and wp_real (a
 * non-negative real) die with `what` on anything else. */
__attribute__((noreturn)) void wp_die(const char *msg, const char *arg);
uint64_t wp_num(const char *s, const char *what);
double wp_real(const char *s, const char *what);

/* weft_perf_dpdk.c: the DPDK mode, which main() hands the whole command
 * line to when it holds --dpdk. Returns the process exit status. */
int wp_dpdk_main(int argc, char **argv);

#endif /* WEFT_PERF_INTERNAL_H */
