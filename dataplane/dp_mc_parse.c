/*
 * dp_mc_parse.c — memcached's UDP protocol, the pure part: the 8-byte frame
 * header (request id, sequence number, datagram count, reserved), one text
 * command per datagram, the answer lines, exptime and incr arithmetic.
 *
 * Pure functions over byte buffers: no mbuf, no clock, no allocation (the
 * unit tests and the fuzz target call them directly). Every read is
 * bounded by the datagram's length; malformed input is an error line
 * (memcached's own strings) or a drop, never a read past the end.
 *
 * What is accepted (docs/memcached.md):
 *  - a request is one datagram: sequence 0 of 1 datagram (else SERVER_ERROR
 *    multi-packet request not supported, as memcached);
 *  - one command: its line ends in "\r\n" (or "\n"), tokens are separated
 *    by spaces, keys are 1..250 bytes (any byte but space and newline, as
 *    memcached's own tokenizer);
 *  - a storage command's data block is exactly <bytes> bytes then "\r\n";
 *  - bytes after the first command are ignored.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dp_internal.h"

#define MC_MAX_TOKENS (DP_MC_MAX_KEYS + 2u)
#define MC_MAX_KEY 250u
#define MC_REL_MAX (60 * 60 * 24 * 30) /* beyond: an absolute Unix time */

static const char *const op_names[DP_MC_OP__COUNT] = {
	"get", "gets", "set", "add", "replace", "append", "prepend", "cas",
	"delete", "incr", "decr", "touch",
};

const char *dp_mc_op_name(enum dp_mc_op op)
{
	return (unsigned)op < DP_MC_OP__COUNT ? op_names[op] : "unknown";
}

struct tok {
	const uint8_t *p;
	uint32_t len;
};

static bool tok_is(const struct tok *t, const char *s)
{
	size_t n = strlen(s);
	return t->len == n && memcmp(t->p, s, n) == 0;
}

/* Unsigned decimal of at most 20 digits below 2^64. */
static bool tok_u64(const struct tok *t, uint64_t *out)
{
	if (t->len == 0 || t->len > 20)
		return false;
	uint64_t v = 0;
	for (uint32_t i = 0; i < t->len; i++) {
		uint8_t c = t->p[i];
		if (c < '0' || c > '9')
			return false;
		uint64_t d = (uint64_t)(c - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool tok_i64(const struct tok *t, int64_t *out)
{
	struct tok u = *t;
	bool neg = u.len > 0 && u.p[0] == '-';
	if (neg) {
		u.p++;
		u.len--;
	}
	uint64_t v;
	if (!tok_u64(&u, &v) || v > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

/* A key is a token (no space, no end of line) of 1..250 bytes. Like
 * memcached itself, other control bytes are not refused (memaslap's keys
 * start with eight 0x10 bytes). */
static bool tok_key(const struct tok *t)
{
	return t->len > 0 && t->len <= MC_MAX_KEY;
}

static enum dp_mc_parse_rc fail(const char **err, const char *line)
{
	*err = line;
	return DP_MC_ANSWER;
}

#define E_ERROR "ERROR\r\n"
#define E_FORMAT "CLIENT_ERROR bad command line format\r\n"
#define E_CHUNK "CLIENT_ERROR bad data chunk\r\n"
#define E_DELTA "CLIENT_ERROR invalid numeric delta argument\r\n"
#define E_LARGE "SERVER_ERROR object too large for cache\r\n"
#define E_MULTI "SERVER_ERROR multi-packet request not supported\r\n"

static const struct {
	const char *name;
	enum dp_mc_op op;
} commands[] = {
	{"get", DP_MC_GET},         {"gets", DP_MC_GETS},     {"set", DP_MC_SET},
	{"add", DP_MC_ADD},         {"replace", DP_MC_REPLACE}, {"append", DP_MC_APPEND},
	{"prepend", DP_MC_PREPEND}, {"cas", DP_MC_CAS},       {"delete", DP_MC_DELETE},
	{"incr", DP_MC_INCR},       {"decr", DP_MC_DECR},     {"touch", DP_MC_TOUCH},
};

/* "noreply" as the last token: taken off. */
static void take_noreply(struct tok *t, unsigned *n, bool *noreply)
{
	if (*n > 1 && tok_is(&t[*n - 1], "noreply")) {
		*noreply = true;
		(*n)--;
	}
}

static enum dp_mc_parse_rc parse_storage(struct tok *t, unsigned n, const uint8_t *rest,
					 uint32_t rest_len, struct dp_mc_cmd *cmd,
					 const char **err)
{
	/* <cmd> <key> <flags> <exptime> <bytes> [<cas unique>] */
	unsigned want = cmd->op == DP_MC_CAS ? 6 : 5;
	uint64_t flags, bytes;
	if (n != want || !tok_key(&t[1]) || !tok_u64(&t[2], &flags) || flags > UINT32_MAX ||
	    !tok_i64(&t[3], &cmd->exptime) || !tok_u64(&t[4], &bytes) ||
	    (cmd->op == DP_MC_CAS && !tok_u64(&t[5], &cmd->cas)))
		return fail(err, E_FORMAT);
	if (bytes > WEFT_MAX_VALUE_LEN - DP_MC_FLAGS_LEN)
		return fail(err, E_LARGE);
	if (bytes + 2 > rest_len || rest[bytes] != '\r' || rest[bytes + 1] != '\n')
		return fail(err, E_CHUNK);
	cmd->flags = (uint32_t)flags;
	cmd->bytes = (uint32_t)bytes;
	cmd->data = rest;
	return DP_MC_PARSED;
}

enum dp_mc_parse_rc dp_mc_parse(const uint8_t *dgram, uint32_t len, struct dp_mc_cmd *cmd,
				const char **err)
{
	memset(cmd, 0, sizeof(*cmd));
	*err = NULL;
	if (len < DP_MC_HDR_LEN)
		return DP_MC_DROP;
	cmd->req_id = (uint16_t)(dgram[0] << 8 | dgram[1]);
	uint16_t seq = (uint16_t)(dgram[2] << 8 | dgram[3]);
	uint16_t total = (uint16_t)(dgram[4] << 8 | dgram[5]);
	if (seq != 0 || total != 1)
		return fail(err, E_MULTI);
	const uint8_t *p = dgram + DP_MC_HDR_LEN;
	uint32_t plen = len - DP_MC_HDR_LEN;
	const uint8_t *nl = memchr(p, '\n', plen);
	if (nl == NULL)
		return fail(err, E_ERROR); /* no whole line */
	uint32_t line_len = (uint32_t)(nl - p);
	const uint8_t *rest = nl + 1;
	uint32_t rest_len = plen - line_len - 1;
	if (line_len > 0 && p[line_len - 1] == '\r')
		line_len--;
	struct tok t[MC_MAX_TOKENS];
	unsigned n = 0;
	for (uint32_t i = 0; i < line_len;) {
		while (i < line_len && p[i] == ' ')
			i++;
		if (i == line_len)
			break;
		uint32_t s = i;
		while (i < line_len && p[i] != ' ')
			i++;
		if (n == MC_MAX_TOKENS)
			return fail(err, E_FORMAT); /* more keys than one get takes */
		t[n].p = p + s;
		t[n].len = i - s;
		n++;
	}
	if (n == 0)
		return fail(err, E_ERROR);
	unsigned c = 0;
	while (c < sizeof(commands) / sizeof(commands[0]) && !tok_is(&t[0], commands[c].name))
		c++;
	if (c == sizeof(commands) / sizeof(commands[0]))
		return fail(err, E_ERROR);
	cmd->op = commands[c].op;
	if (cmd->op != DP_MC_GET && cmd->op != DP_MC_GETS)
		take_noreply(t, &n, &cmd->noreply);
	cmd->n_keys = 1;
	if (n >= 2) {
		cmd->key[0] = t[1].p;
		cmd->key_len[0] = (uint8_t)(t[1].len > MC_MAX_KEY ? 0 : t[1].len);
	}
	switch (cmd->op) {
	case DP_MC_GET:
	case DP_MC_GETS:
		if (n < 2)
			return fail(err, E_ERROR);
		if (n - 1 > DP_MC_MAX_KEYS)
			return fail(err, E_FORMAT);
		for (unsigned i = 1; i < n; i++) {
			if (!tok_key(&t[i]))
				return fail(err, E_FORMAT);
			cmd->key[i - 1] = t[i].p;
			cmd->key_len[i - 1] = (uint8_t)t[i].len;
		}
		cmd->n_keys = n - 1;
		return DP_MC_PARSED;
	case DP_MC_SET:
	case DP_MC_ADD:
	case DP_MC_REPLACE:
	case DP_MC_APPEND:
	case DP_MC_PREPEND:
	case DP_MC_CAS:
		return parse_storage(t, n, rest, rest_len, cmd, err);
	case DP_MC_DELETE:
		/* delete <key> [0]: memcached still takes a zero time */
		if ((n != 2 && !(n == 3 && tok_is(&t[2], "0"))) || !tok_key(&t[1]))
			return fail(err, E_FORMAT);
		return DP_MC_PARSED;
	case DP_MC_INCR:
	case DP_MC_DECR:
		if (n != 3 || !tok_key(&t[1]))
			return fail(err, E_FORMAT);
		if (!tok_u64(&t[2], &cmd->delta))
			return fail(err, E_DELTA);
		return DP_MC_PARSED;
	case DP_MC_TOUCH:
		if (n != 3 || !tok_key(&t[1]) || !tok_i64(&t[2], &cmd->exptime))
			return fail(err, E_FORMAT);
		return DP_MC_PARSED;
	case DP_MC_OP__COUNT:
		break;
	}
	return fail(err, E_ERROR);
}

uint64_t dp_mc_ttl_ms(int64_t exptime, uint64_t now_s)
{
	if (exptime == 0)
		return 0;
	if (exptime < 0)
		return 1;
	if (exptime <= MC_REL_MAX)
		return (uint64_t)exptime * 1000u;
	if ((uint64_t)exptime <= now_s)
		return 1;
	return ((uint64_t)exptime - now_s) * 1000u;
}

int dp_mc_incr(const uint8_t *data, uint32_t len, uint64_t delta, bool decr, uint64_t *out)
{
	uint32_t digits = 0;
	while (digits < len && data[digits] >= '0' && data[digits] <= '9')
		digits++;
	for (uint32_t i = digits; i < len; i++)
		if (data[i] != ' ')
			return -EINVAL;
	struct tok t = {data, digits};
	uint64_t v;
	if (!tok_u64(&t, &v))
		return -EINVAL;
	if (decr)
		*out = delta > v ? 0 : v - delta;
	else
		*out = v + delta; /* wraps at 2^64, as memcached */
	return 0;
}

uint32_t dp_mc_value_line(char *buf, size_t cap, const uint8_t *key, uint8_t key_len,
			  uint32_t flags, uint32_t bytes, bool with_cas, uint64_t cas)
{
	int n = with_cas ? snprintf(buf, cap, "VALUE %.*s %u %u %llu\r\n", (int)key_len,
				    (const char *)key, flags, bytes, (unsigned long long)cas)
			 : snprintf(buf, cap, "VALUE %.*s %u %u\r\n", (int)key_len,
				    (const char *)key, flags, bytes);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (uint32_t)n : (uint32_t)(cap ? cap - 1 : 0);
}

const char *dp_mc_status_line(enum dp_mc_op op, uint16_t status)
{
	switch (status) {
	case WEFT_ST_OK:
		switch (op) {
		case DP_MC_DELETE:
			return "DELETED\r\n";
		case DP_MC_TOUCH:
			return "TOUCHED\r\n";
		default:
			return "STORED\r\n";
		}
	case WEFT_ST_NOT_FOUND:
		return op == DP_MC_ADD || op == DP_MC_REPLACE || op == DP_MC_APPEND ||
				       op == DP_MC_PREPEND
			       ? "NOT_STORED\r\n"
			       : "NOT_FOUND\r\n";
	case WEFT_ST_EXISTS:
		return "NOT_STORED\r\n";
	case WEFT_ST_VERSION_MISMATCH:
		return "EXISTS\r\n";
	case WEFT_ST_NOT_NUMERIC:
		return "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
	case WEFT_ST_KEY_TOO_LONG:
		return E_FORMAT;
	case WEFT_ST_VALUE_TOO_LARGE:
		return E_LARGE;
	case WEFT_ST_NO_MEMORY:
		return "SERVER_ERROR out of memory storing object\r\n";
	case WEFT_ST_BUSY:
		return "SERVER_ERROR busy, try again\r\n";
	case WEFT_ST_NO_QUORUM:
		return "SERVER_ERROR no quorum: writes refused in a minority partition\r\n";
	case WEFT_ST_NOT_OWNER:
		return "SERVER_ERROR answer too large to relay between nodes\r\n";
	default:
		return "SERVER_ERROR internal error\r\n";
	}
}
