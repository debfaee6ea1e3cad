/*
 * perf/bench_cache.cc — Google Benchmark of the cache's read path against
 * DPDK's rte_hash used as a cache index, on the same keys and key stream.
 *
 * Setup: N (default 1M, --keys=N) distinct 16-byte keys with 8-byte values,
 * all inserted in both; lookups follow one precomputed stream of uniformly
 * random keys (so the working set is far larger than the CPU caches, as with
 * real traffic). The stream holds copies of the key bytes in stream order,
 * as keys arrive in packets: reading a looked-up key is sequential, only the
 * tables and entries are accessed at random. Each key's XXH3-64 hash
 * (weft_cache_hash) is computed once at ingress and carried.
 *
 * Full gets (hash carried, look up, verify the full key in the entry, check
 * expiry, produce value pointer + length + version, count hits):
 *   cache_get_burst/32,64     weft_cache_get_burst
 *   cache_get_burst_clock/32  the same with a clock that advances (readers
 *                             then refresh entries' access times)
 *   cache_get_single          weft_cache_get_burst with n = 1
 *   rte_cache_get_burst/32,64 rte_hash as a cache index: lookup_with_hash_bulk_data,
 *                             prefetch the returned entries, then verify and
 *                             read them exactly as lookup.c does
 *   rte_cache_get_single      the same, one key per call
 * The same, hashing each key in the loop (XXH3-64) instead of carrying it:
 *   cache_get_burst_hashing/32,64, rte_cache_get_burst_hashing/32,64
 * Writes: cache_put (weft_cache_put overwriting random existing keys).
 * Index only — NOT a full get (the data pointer returned is never followed):
 *   rte_index_only_bulk/32,64       rte_hash_lookup_bulk_data (hashes inside)
 *   rte_index_only_prehashed/32,64  rte_hash_lookup_with_hash_bulk_data
 *   rte_index_only_single           rte_hash_lookup_data
 *
 * rte_hash: RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF (readers without locks,
 * as ours), 2N entries (a cuckoo table cannot be filled to 100%), key = a
 * 16-byte digest of the key, signature = the low 32 bits of the carried
 * XXH3-64 (its hash_func computes the same, so both index-only variants see
 * the same table). The digest of a 16-byte key is the key itself: it is
 * collision-free, costs no hashing and lets rte_hash read the key where it
 * arrived — the cheapest digest there is, so rte_hash's best case (longer
 * keys would need an XXH3-128 per key). Its data pointer is an entry laid
 * out as cache/'s (48-byte header, key, value, 8-aligned retirement tail:
 * the same allocation size from the same jemalloc, 96-byte class), whose
 * full key is verified as a server must (with a digest of longer keys,
 * rte_hash's own compare does not prove the key).
 *
 * Run: build/perf/bench_cache [--keys=N] [benchmark flags]
 * EAL runs with --no-huge -m 512 (rte_hash needs EAL memory; 1M keys need
 * more than 256 MB) --no-pci --no-shconf --file-prefix benchcache -l 0.
 *
 * The benchmark thread is a registered, online QSBR reader and reports a
 * quiescent state every 256 operations, so replaced entries are freed (the
 * rte_cache variants too: a server freeing entries under RCU must).
 */
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

extern "C" {
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_prefetch.h>
#include <urcu/urcu-qsbr.h>

#include "cache.h"
}

namespace {

constexpr size_t kStream = 1u << 22; /* lookup stream length (random keys) */

struct Key {
	uint64_t a, b;
};

size_t g_nkeys = 1u << 20;
std::vector<Key> g_keys;
std::vector<Key> g_skeys;                     /* stream's key bytes, in stream order */
std::vector<weft_cache_key> g_ckeys;          /* stream as cache keys (hash carried) */
std::vector<const void *> g_rkeys;            /* stream as rte_hash key (digest) pointers */
std::vector<hash_sig_t> g_rsigs;              /* stream's signatures: low 32 bits of XXH3-64 */
weft_cache_registry *g_reg;
weft_cache *g_cache;
rte_hash *g_rte;
std::vector<void *> g_rentries;               /* the rte_hash variant's entries */

/* An entry laid out as cache/'s struct weft_cache_entry (cache_internal.h,
 * C11 atomics, not includable here): this header, key bytes, value bytes,
 * then at an 8-aligned offset a retirement tail (rcu_head + back pointer). */
struct EntryHdr {
	uint64_t hash;
	uint64_t version;
	uint64_t expire_at;   /* absolute ms; UINT64_MAX = no TTL */
	uint64_t max_idle;    /* ms; UINT64_MAX = no idle expiry */
	uint64_t atime;       /* last access, ms (relaxed atomic) */
	uint32_t vlen;
	uint16_t klen;
	uint16_t pad;
};
static_assert(sizeof(EntryHdr) == 48, "header as cache/'s");
constexpr uint64_t kAtimeGrainMs = 8; /* as WEFT_CACHE_ATIME_GRAIN_MS */

const uint8_t *entry_key(const EntryHdr *e)
{
	return reinterpret_cast<const uint8_t *>(e + 1);
}

EntryHdr *entry_new(const weft_cache_key &k, const void *value, uint32_t vlen, uint64_t version)
{
	size_t off = (sizeof(EntryHdr) + k.len + vlen + 7) & ~size_t{7};
	auto *e = static_cast<EntryHdr *>(malloc(off + sizeof(rcu_head) + sizeof(void *)));
	if (e == nullptr)
		return nullptr;
	*e = {k.hash, version, UINT64_MAX, UINT64_MAX, 0, vlen, k.len, 0};
	memcpy(e + 1, k.data, k.len);
	memcpy(reinterpret_cast<uint8_t *>(e + 1) + k.len, value, vlen);
	memcpy(reinterpret_cast<uint8_t *>(e) + off + sizeof(rcu_head), &e, sizeof(e));
	return e;
}

/* What lookup.c does with a candidate entry: full key compare, expiry,
 * atime refresh when it moved by the grain, fill the output. */
inline bool entry_read(EntryHdr *e, const weft_cache_key &k, uint64_t now, weft_cache_value &out)
{
	if (e->hash != k.hash || e->klen != k.len)
		return false;
	const uint8_t *a = entry_key(e), *b = static_cast<const uint8_t *>(k.data);
	uint64_t x, y, diff = 0;
	size_t len = k.len;
	for (; len >= 8; len -= 8, a += 8, b += 8) { /* as weft_cache_key_eq */
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		diff |= x ^ y;
	}
	for (; len > 0; len--)
		diff |= static_cast<uint64_t>(*a++ ^ *b++);
	if (diff != 0 || now >= e->expire_at)
		return false;
	uint64_t at = __atomic_load_n(&e->atime, __ATOMIC_RELAXED);
	if (e->max_idle != UINT64_MAX && now > at && now - at >= e->max_idle)
		return false;
	uint64_t grain = e->max_idle != UINT64_MAX ? 1 : kAtimeGrainMs;
	if (now > at && now - at >= grain)
		__atomic_store_n(&e->atime, now, __ATOMIC_RELAXED);
	out.data = entry_key(e) + e->klen;
	out.len = e->vlen;
	out.version = e->version;
	return true;
}

/* A server's get burst over rte_hash: bulk lookup of the digests with the
 * carried signatures, prefetch every returned entry (the lines of its first
 * and of its key's last byte, as lookup.c), then verify and read each.
 * (Cutting the burst into 2, 4 or 8 slices, each slice's entries prefetched
 * before the next slice's lookup, was measured no faster: 11.8-15.4 M/s.) */
unsigned rte_cache_get_burst(const weft_cache_key *keys, const void **digests, hash_sig_t *sigs,
			     unsigned n, uint64_t now, weft_cache_value *out, bool *found)
{
	void *data[64];
	uint64_t mask = 0;
	unsigned hits = 0;
	if (rte_hash_lookup_with_hash_bulk_data(g_rte, digests, sigs, n, &mask, data) <= 0)
		mask = 0;
	for (unsigned i = 0; i < n; i++)
		if (mask & (1ull << i)) {
			rte_prefetch0(data[i]);
			rte_prefetch0(static_cast<char *>(data[i]) + sizeof(EntryHdr) + keys[i].len - 1);
		}
	for (unsigned i = 0; i < n; i++) {
		found[i] = (mask & (1ull << i)) &&
			   entry_read(static_cast<EntryHdr *>(data[i]), keys[i], now, out[i]);
		hits += found[i];
	}
	return hits;
}

uint32_t xxh3_sig(const void *key, uint32_t len, uint32_t)
{
	return static_cast<uint32_t>(weft_cache_hash(key, len));
}

uint64_t splitmix(uint64_t &s)
{
	uint64_t z = (s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void quiesce_every(size_t &ops, size_t n)
{
	ops += n;
	if (ops >= 256) {
		ops = 0;
		urcu_qsbr_quiescent_state();
	}
}

void BM_cache_get_burst(benchmark::State &st)
{
	const unsigned n = static_cast<unsigned>(st.range(0));
	weft_cache_value out[64];
	bool found[64];
	size_t pos = 0, ops = 0, hits = 0;
	for (auto _ : st) {
		if (pos + n > kStream)
			pos = 0;
		hits += weft_cache_get_burst(g_cache, &g_ckeys[pos], n, 0, out, found);
		benchmark::DoNotOptimize(out);
		pos += n;
		quiesce_every(ops, n);
	}
	if (hits != static_cast<size_t>(st.iterations()) * n)
		st.SkipWithError("missing keys");
	st.SetItemsProcessed(st.iterations() * n);
}

/* As BM_cache_get_burst, with now_ms advancing 1 ms per 1000 bursts (about
 * real time at these rates), so readers refresh entries' access times. */
void BM_cache_get_burst_clock(benchmark::State &st)
{
	const unsigned n = static_cast<unsigned>(st.range(0));
	weft_cache_value out[64];
	bool found[64];
	size_t pos = 0, ops = 0, hits = 0;
	uint64_t bursts = 0, now = 1u << 20;
	for (auto _ : st) {
		if (pos + n > kStream)
			pos = 0;
		if (++bursts % 1000 == 0)
			now++;
		hits += weft_cache_get_burst(g_cache, &g_ckeys[pos], n, now, out, found);
		benchmark::DoNotOptimize(out);
		pos += n;
		quiesce_every(ops, n);
	}
	if (hits != static_cast<size_t>(st.iterations()) * n)
		st.SkipWithError("missing keys");
	st.SetItemsProcessed(st.iterations() * n);
}

void BM_cache_get_burst_hashing(benchmark::State &st)
{
	const unsigned n = static_cast<unsigned>(st.range(0));
	weft_cache_key keys[64];
	weft_cache_value out[64];
	bool found[64];
	size_t pos = 0, ops = 0, hits = 0;
	for (auto _ : st) {
		if (pos + n > kStream)
			pos = 0;
		for (unsigned i = 0; i < n; i++) {
			const Key *k = &g_skeys[pos + i];
			keys[i] = {k, sizeof(*k), weft_cache_hash(k, sizeof(*k))};
		}
		hits += weft_cache_get_burst(g_cache, keys, n, 0, out, found);
		benchmark::DoNotOptimize(out);
		pos += n;
		quiesce_every(ops, n);
	}
	if (hits != static_cast<size_t>(st.iterations()) * n)
		st.SkipWithError("missing keys");
	st.SetItemsProcessed(st.iterations() * n);
}

void BM_cache_get_single(benchmark::State &st)
{
	weft_cache_value out;
	bool found;
	size_t pos = 0, ops = 0, hits = 0;
	for (auto _ : st) {
		if (pos == kStream)
			pos = 0;
		hits += weft_cache_get_burst(g_cache, &g_ckeys[pos++], 1, 0, &out, &found);
		benchmark::DoNotOptimize(out);
		quiesce_every(ops, 1);
	}
	if (hits != static_cast<size_t>(st.iterations()))
		st.SkipWithError("missing keys");
	st.SetItemsProcessed(st.iterations());
}

void BM_cache_put(benchmark::State &st)
{
	size_t pos = 0, ops = 0;
	uint64_t val = 0;
	for (auto _ : st) {
		if (pos == kStream)
			pos = 0;
		val++;
		if (weft_cache_put(g_cache, &g_ckeys[pos++], &val, sizeof(val), WEFT_CACHE_PUT, 0,
				   nullptr, 0, nullptr) != 0) {
			st.SkipWithError("put failed");
			break;
		}
		quiesce_every(ops, 1);
	}
	st.SetItemsProcessed(st.iterations());
}

void BM_rte_index_only_bulk(benchmark::State &st)
{
	const unsigned n = static_cast<unsigned>(st.range(0));
	void *data[64];
	uint64_t mask = 0;
	size_t pos = 0, hits = 0;
	for (auto _ : st) {
		if (pos + n > kStream)
			pos = 0;
		hits += rte_hash_lookup_bulk_data(g_rte, &g_rkeys[pos], n, &mask, data);
		benchmark::DoNotOptimize(data);
		pos += n;
	}
	if (hits != static_cast<size_t>(st.iterations()) * n)
		st.SkipWithError("missing keys");
	st.SetItemsProcessed(st.iterations() * n);
}

void BM_rte_index_only_prehashed(benchmark::State &st)
{
	const unsigned n = static_cast<unsigned>(st.range(0));
	void *data[64];
	uint64_t mask = 0;
	size_t pos = 0, hits = 0;
	for (auto _ : st) {
		if (pos + n > kStream)
			pos = 0;
		hits += rte_hash_lookup_with_hash_bulk_data(g_rte, &g_rkeys[pos], &g_rsigs[pos], n,
							    &mask, data);
		benchmark::DoNotOptimize(data);
		pos += n;
	}
	if (hits != static_cast<size_t>(st.iterations()) * n)
		st.SkipWithError("missing keys");
	st.SetItemsProcessed(st.iterations() * n);
}

void BM_rte_cache_get_burst(benchmark::State &st)
{
	const unsigned n = static_cast<unsigned>(st.range(0));
	weft_cache_value out[64];
	bool found[64];
	size_t pos = 0, ops = 0, hits = 0;
	for (auto _ : st) {
		if (pos + n > kStream)
			pos = 0;
		hits += rte_cache_get_burst(&g_ckeys[pos], &g_rkeys[pos], &g_rsigs[pos], n, 0, out,
					    found);
		benchmark::DoNotOptimize(out);
		pos += n;
		quiesce_every(ops, n);
	}
	if (hits != static_cast<size_t>(st.iterations()) * n)
		st.SkipWithError("missing keys");
	st.SetItemsProcessed(st.iterations() * n);
}

void BM_rte_cache_get_burst_hashing(benchmark::State &st)
{
	const unsigned n = static_cast<unsigned>(st.range(0));
	weft_cache_key keys[64];
	const void *digests[64];
	hash_sig_t sigs[64];
	weft_cache_value out[64];
	bool found[64];
	size_t pos = 0, ops = 0, hits = 0;
	for (auto _ : st) {
		if (pos + n > kStream)
			pos = 0;
		for (unsigned i = 0; i < n; i++) {
			const Key *k = &g_skeys[pos + i];
			keys[i] = {k, sizeof(*k), weft_cache_hash(k, sizeof(*k))};
			digests[i] = k;
			sigs[i] = static_cast<hash_sig_t>(keys[i].hash);
		}
		hits += rte_cache_get_burst(keys, digests, sigs, n, 0, out, found);
		benchmark::DoNotOptimize(out);
		pos += n;
		quiesce_every(ops, n);
	}
	if (hits != static_cast<size_t>(st.iterations()) * n)
		st.SkipWithError("missing keys");
	st.SetItemsProcessed(st.iterations() * n);
}

void BM_rte_cache_get_single(benchmark::State &st)
{
	weft_cache_value out;
	void *data = nullptr;
	size_t pos = 0, ops = 0, hits = 0;
	for (auto _ : st) {
		if (pos == kStream)
			pos = 0;
		if (rte_hash_lookup_with_hash_data(g_rte, g_rkeys[pos], g_rsigs[pos], &data) >= 0)
			hits += entry_read(static_cast<EntryHdr *>(data), g_ckeys[pos], 0, out);
		benchmark::DoNotOptimize(out);
		pos++;
		quiesce_every(ops, 1);
	}
	if (hits != static_cast<size_t>(st.iterations()))
		st.SkipWithError("missing keys");
	st.SetItemsProcessed(st.iterations());
}

void BM_rte_index_only_single(benchmark::State &st)
{
	void *data = nullptr;
	size_t pos = 0, hits = 0;
	for (auto _ : st) {
		if (pos == kStream)
			pos = 0;
		hits += rte_hash_lookup_data(g_rte, g_rkeys[pos++], &data) >= 0;
		benchmark::DoNotOptimize(data);
	}
	if (hits != static_cast<size_t>(st.iterations()))
		st.SkipWithError("missing keys");
	st.SetItemsProcessed(st.iterations());
}

BENCHMARK(BM_cache_get_burst)->Arg(32)->Arg(64);
BENCHMARK(BM_cache_get_burst_clock)->Arg(32);
BENCHMARK(BM_cache_get_burst_hashing)->Arg(32)->Arg(64);
BENCHMARK(BM_cache_get_single);
BENCHMARK(BM_cache_put);
BENCHMARK(BM_rte_cache_get_burst)->Arg(32)->Arg(64);
BENCHMARK(BM_rte_cache_get_burst_hashing)->Arg(32)->Arg(64);
BENCHMARK(BM_rte_cache_get_single);
BENCHMARK(BM_rte_index_only_bulk)->Arg(32)->Arg(64);
BENCHMARK(BM_rte_index_only_prehashed)->Arg(32)->Arg(64);
BENCHMARK(BM_rte_index_only_single);

bool setup()
{
	uint64_t seed = 42;
	g_keys.resize(g_nkeys);
	for (size_t i = 0; i < g_nkeys; i++)
		g_keys[i] = {splitmix(seed), i};

	/* cache: grows from its default size through weft_cache_maintain, as
	 * weftd's maintenance thread would drive it; finished before timing */
	weft_cache_opts o = {};
	o.max_bytes = 4ull << 30;
	g_reg = weft_cache_registry_create();
	g_cache = g_reg ? weft_cache_open(g_reg, "bench", 5, &o, nullptr) : nullptr;
	if (g_cache == nullptr)
		return false;
	for (size_t i = 0; i < g_nkeys; i++) {
		weft_cache_key k = {&g_keys[i], sizeof(Key), weft_cache_hash(&g_keys[i], sizeof(Key))};
		uint64_t v = i;
		if (weft_cache_put(g_cache, &k, &v, sizeof(v), WEFT_CACHE_PUT, 0, nullptr, 0,
				   nullptr) != 0)
			return false;
		if (i % 256 == 0) {
			weft_cache_maintain(g_cache, 0, 1024);
			urcu_qsbr_quiescent_state();
		}
	}
	for (int i = 0; i < 64; i++) {
		weft_cache_maintain(g_cache, 0, 1u << 20);
		urcu_qsbr_quiescent_state();
	}
	weft_cache_stats cs;
	weft_cache_get_stats(g_cache, &cs);
	fprintf(stderr, "cache: %llu entries, %llu bytes, %llu growths\n",
		(unsigned long long)cs.entries, (unsigned long long)cs.bytes,
		(unsigned long long)cs.resizes);

	rte_hash_parameters p = {};
	p.name = "bench_rte";
	p.entries = static_cast<uint32_t>(2 * g_nkeys);
	p.key_len = sizeof(Key);
	p.hash_func = xxh3_sig;
	p.hash_func_init_val = 0;
	p.socket_id = 0;
	p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
	g_rte = rte_hash_create(&p);
	if (g_rte == nullptr) {
		fprintf(stderr, "rte_hash_create: %s\n", rte_strerror(rte_errno));
		return false;
	}
	g_rentries.resize(g_nkeys);
	for (size_t i = 0; i < g_nkeys; i++) {
		weft_cache_key k = {&g_keys[i], sizeof(Key), weft_cache_hash(&g_keys[i], sizeof(Key))};
		uint64_t v = i;
		auto *e = entry_new(k, &v, sizeof(v), i + 1);
		g_rentries[i] = e;
		if (e == nullptr || rte_hash_add_key_with_hash_data(
					    g_rte, &g_keys[i], static_cast<hash_sig_t>(k.hash), e) != 0)
			return false;
	}

	g_skeys.resize(kStream);
	g_ckeys.resize(kStream);
	g_rkeys.resize(kStream);
	g_rsigs.resize(kStream);
	for (size_t i = 0; i < kStream; i++) {
		uint32_t k = static_cast<uint32_t>(splitmix(seed) % g_nkeys);
		g_skeys[i] = g_keys[k];
		g_ckeys[i] = {&g_skeys[i], sizeof(Key), weft_cache_hash(&g_keys[k], sizeof(Key))};
		g_rkeys[i] = &g_skeys[i];
		g_rsigs[i] = static_cast<hash_sig_t>(g_ckeys[i].hash); /* = rte_hash_hash() */
	}
	return true;
}

} // namespace

int main(int argc, char **argv)
{
	std::vector<char *> rest;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--keys=", 7) == 0)
			g_nkeys = strtoull(argv[i] + 7, nullptr, 10);
		else
			rest.push_back(argv[i]);
	}
	const char *eal_argv[] = {"bench_cache", "--no-huge", "-m", "512", "--no-pci",
				  "--no-shconf", "--file-prefix", "benchcache", "-l", "0",
				  "--log-level", "lib.eal:error"};
	int eal_argc = static_cast<int>(sizeof(eal_argv) / sizeof(eal_argv[0]));
	if (rte_eal_init(eal_argc, const_cast<char **>(eal_argv)) < 0) {
		fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	urcu_qsbr_register_thread();
	if (g_nkeys == 0 || !setup()) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	fprintf(stderr, "%zu keys of 16 bytes, stream of %zu random lookups\n", g_nkeys, kStream);
	int bargc = static_cast<int>(rest.size());
	benchmark::Initialize(&bargc, rest.data());
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();

	weft_cache_registry_destroy(g_reg);
	rte_hash_free(g_rte);
	for (void *e : g_rentries)
		free(e);
	urcu_qsbr_thread_offline();
	urcu_qsbr_barrier();
	urcu_qsbr_unregister_thread();
	rte_eal_cleanup();
	return 0;
}
