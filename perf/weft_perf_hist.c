/*
 * weft-perf's latency histogram: log-linear buckets in the manner of HDR
 * Histogram. Debian 12 ships no C HDR histogram library (only Go and Java
 * ones), and a fixed-bucket histogram is small enough to own: values below
 * 128 have a bucket each; above, each power of two is split into 128
 * equal sub-buckets, so any recorded value is reported within 1/128 (< 0.8%)
 * of itself, over the whole uint64 range, in 7424 counters (58 KiB).
 *
 * Invariants: a histogram is written by one thread; merging happens after
 * the writers stopped. Quantiles report a bucket's upper edge, capped at the
 * largest value recorded, so they never understate latency.
 */
#include "weft_perf_internal.h"

unsigned wp_hist_index(uint64_t v)
{
	if (v < WP_HIST_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= WP_HIST_SUB_BITS */
	unsigned sub = (unsigned)(v >> (e - WP_HIST_SUB_BITS)) & (WP_HIST_SUB - 1);
	return (e - WP_HIST_SUB_BITS + 1) * WP_HIST_SUB + sub;
}

uint64_t wp_hist_upper(unsigned idx)
{
	if (idx < WP_HIST_SUB)
		return idx;
	unsigned e = idx / WP_HIST_SUB + WP_HIST_SUB_BITS - 1;
	uint64_t sub = idx % WP_HIST_SUB;
	unsigned shift = e - WP_HIST_SUB_BITS;
	uint64_t lower = (WP_HIST_SUB + sub) << shift;
	return lower + ((1ull << shift) - 1);
}

void wp_hist_record(struct wp_hist *h, uint64_t v)
{
	h->buckets[wp_hist_index(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

void wp_hist_merge(struct wp_hist *dst, const struct wp_hist *src)
{
	for (unsigned i = 0; i < WP_HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t wp_hist_quantile(const struct wp_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < WP_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen > rank) {
			uint64_t up = wp_hist_upper(i);
			return up < h->max ? up : h->max;
		}
	}
	return h->max;
}
