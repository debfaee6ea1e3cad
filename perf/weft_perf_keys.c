/*
 * weft-perf key choice: a xoshiro256** generator per thread, fixed-size
 * decimal keys, and an exact Zipf sampler over the key ranks.
 *
 * The Zipf sampler precomputes the CDF of P(rank i) = (1/(i+1)^theta) / H
 * (H = sum over all n ranks) once, shared read-only by every thread, and
 * samples by binary search of a uniform variate: exact for any theta (no
 * approximation of the zeta function as in Gray et al.'s method), O(log n)
 * per draw, 8 bytes per key.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "weft_perf_internal.h"

int wp_zipf_init(struct wp_zipf *z, uint64_t n, double theta)
{
	if (n == 0 || theta < 0 || n > (1ull << 27))
		return -EINVAL;
	z->n = n;
	z->cdf = malloc(n * sizeof(double));
	if (z->cdf == NULL)
		return -ENOMEM;
	double sum = 0;
	for (uint64_t i = 0; i < n; i++) {
		sum += 1.0 / pow((double)(i + 1), theta);
		z->cdf[i] = sum;
	}
	for (uint64_t i = 0; i < n; i++)
		z->cdf[i] /= sum;
	z->cdf[n - 1] = 1.0;
	return 0;
}

void wp_zipf_free(struct wp_zipf *z)
{
	free(z->cdf);
	z->cdf = NULL;
}

uint64_t wp_zipf_sample(const struct wp_zipf *z, double u)
{
	uint64_t lo = 0, hi = z->n - 1; /* first i with cdf[i] > u */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (z->cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void wp_rng_seed(struct wp_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t wp_rng_next(struct wp_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double wp_rng_unit(struct wp_rng *r)
{
	return (double)(wp_rng_next(r) >> 11) * 0x1.0p-53;
}

void wp_key(char *out, unsigned key_size, uint64_t idx)
{
	memset(out, '0', key_size);
	out[0] = 'k';
	for (unsigned i = key_size; i > 1 && idx > 0; i--) {
		out[i - 1] = (char)('0' + idx % 10);
		idx /= 10;
	}
}
