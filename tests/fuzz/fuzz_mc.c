/*
 * fuzz_mc.c — fuzz target for the memcached UDP endpoint's pure part
 * (dataplane/dp_mc_parse.c): dp_mc_parse on the input as a whole datagram
 * and, behind a valid frame header, as a command; then the helpers on
 * what it parsed (dp_mc_ttl_ms, dp_mc_value_line, dp_mc_incr on the data
 * block). Checks: every pointer the parser returns lies inside the input,
 * key lengths are 1..250, a storage command's data block is followed by
 * "\r\n" inside the input, an error line ends in "\r\n".
 *
 * Built as a libFuzzer target with -Dfuzz=true (CC=clang), and always as
 * fuzz_mc_replay (replay_main.c) over corpus_mc/ in the unit suite.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"

static void check_cmd(const uint8_t *d, uint32_t len, const struct dp_mc_cmd *c)
{
	if (c->n_keys == 0 || c->n_keys > DP_MC_MAX_KEYS)
		abort();
	for (unsigned i = 0; i < c->n_keys; i++)
		if (c->key[i] < d || c->key_len[i] == 0 || c->key_len[i] > 250 ||
		    c->key[i] + c->key_len[i] > d + len)
			abort();
	if (c->op <= DP_MC_CAS && c->op >= DP_MC_SET) {
		if (c->data < d || c->data + c->bytes + 2 > d + len || c->data[c->bytes] != '\r')
			abort();
		uint64_t v;
		(void)dp_mc_incr(c->data, c->bytes, 1, c->flags & 1, &v);
	}
	char line[320];
	uint32_t n = dp_mc_value_line(line, sizeof(line), c->key[0], c->key_len[0], c->flags,
				      c->bytes, true, c->cas);
	if (n >= sizeof(line))
		abort();
	(void)dp_mc_ttl_ms(c->exptime, (uint64_t)c->cas);
	(void)dp_mc_status_line(c->op, (uint16_t)c->flags);
}

static void one(const uint8_t *d, uint32_t len)
{
	struct dp_mc_cmd c;
	const char *err;
	switch (dp_mc_parse(d, len, &c, &err)) {
	case DP_MC_PARSED:
		check_cmd(d, len, &c);
		break;
	case DP_MC_ANSWER: {
		size_t n = strlen(err);
		if (n < 2 || err[n - 2] != '\r' || err[n - 1] != '\n')
			abort();
		break;
	}
	case DP_MC_DROP:
		if (len >= DP_MC_HDR_LEN)
			abort();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	/* Copies: the parser's pointers are checked against exact bounds. */
	uint8_t *a = malloc(size ? size : 1);
	if (a == NULL)
		return 0;
	memcpy(a, data, size);
	one(a, (uint32_t)size);
	free(a);
	uint8_t *b = malloc(size + DP_MC_HDR_LEN);
	if (b == NULL)
		return 0;
	static const uint8_t hdr[DP_MC_HDR_LEN] = {0x12, 0x34, 0, 0, 0, 1, 0, 0};
	memcpy(b, hdr, sizeof(hdr));
	memcpy(b + DP_MC_HDR_LEN, data, size);
	one(b, (uint32_t)size + DP_MC_HDR_LEN);
	free(b);
	return 0;
}
