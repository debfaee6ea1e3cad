/*
 * perf/bench_cache.cc — Google Benchmark of the cache index against DPDK's
 * rte_hash on the same keys.
 *
 * Setup: N (default 1M, --keys=N) distinct 16-byte keys, all inserted in
 * both tables; lookups follow one precomputed stream of uniformly random
 * keys (so the tables' working set is far larger than the CPU caches, as
 * with real traffic). The stream holds copies of the key bytes in stream
 * order, as keys arrive in packets: reading a looked-up key is sequential,
 * only the tables are accessed at random. Variants:
 *   cache_get_burst/32,64   weft_cache_get_burst, hashes carried (as at ingress)
 *   cache_get_burst_clock/32 the same with a clock that advances (readers
 *                           then refresh entries' access times)
 *   cache_get_burst_hashing the same, hashing each key in the loop (XXH3)
 *   cache_get_single        weft_cache_get_burst with n = 1
 *   cache_put               weft_cache_put overwriting random existing keys
 *   rte_bulk/32,64          rte_hash_lookup_bulk_data (hashes inside, CRC)
 *   rte_bulk_prehashed      rte_hash_lookup_with_hash_bulk_data
 *   rte_single              rte_hash_lookup_data
 * rte_hash is created with RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF, key_len
 * 16, 2N entries (a cuckoo table cannot be filled to 100%).
 *
 * Run: build/perf/bench_cache [--keys=N] [benchmark flags]
 * EAL runs with --no-huge -m 512 (rte_hash needs EAL memory; 1M keys need
 * more than 256 MB) --no-pci --no-shconf --file-prefix benchcache -l 0.
 *
 * The benchmark thread is a registered, online QSBR reader and reports a
 * quiescent state every 256 operations, so replaced entries are freed.
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
#include <rte_hash_crc.h>
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
std::vector<const void *> g_rkeys;            /* stream as rte_hash key pointers */
std::vector<hash_sig_t> g_rsigs;              /* stream's rte_hash signatures */
weft_cache_registry *g_reg;
weft_cache *g_cache;
rte_hash *g_rte;

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

void BM_rte_bulk(benchmark::State &st)
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

void BM_rte_bulk_prehashed(benchmark::State &st)
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

void BM_rte_single(benchmark::State &st)
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
BENCHMARK(BM_rte_bulk)->Arg(32)->Arg(64);
BENCHMARK(BM_rte_bulk_prehashed)->Arg(32)->Arg(64);
BENCHMARK(BM_rte_single);

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
	p.hash_func = rte_hash_crc;
	p.hash_func_init_val = 0;
	p.socket_id = 0;
	p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
	g_rte = rte_hash_create(&p);
	if (g_rte == nullptr) {
		fprintf(stderr, "rte_hash_create: %s\n", rte_strerror(rte_errno));
		return false;
	}
	for (size_t i = 0; i < g_nkeys; i++)
		if (rte_hash_add_key_data(g_rte, &g_keys[i], (void *)(uintptr_t)(i + 1)) != 0)
			return false;

	g_skeys.resize(kStream);
	g_ckeys.resize(kStream);
	g_rkeys.resize(kStream);
	g_rsigs.resize(kStream);
	for (size_t i = 0; i < kStream; i++) {
		uint32_t k = static_cast<uint32_t>(splitmix(seed) % g_nkeys);
		g_skeys[i] = g_keys[k];
		g_ckeys[i] = {&g_skeys[i], sizeof(Key), weft_cache_hash(&g_keys[k], sizeof(Key))};
		g_rkeys[i] = &g_skeys[i];
		g_rsigs[i] = rte_hash_hash(g_rte, &g_keys[k]);
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
	urcu_qsbr_thread_offline();
	urcu_qsbr_barrier();
	urcu_qsbr_unregister_thread();
	rte_eal_cleanup();
	return 0;
}
