/*
 * dp_req.c — reading weft requests: the header verdict for one datagram
 * (drop / answer an error / reassemble / serve) and the per-op validation of
 * a whole message. Pure functions (no mbuf, no clock): the unit tests and the
 * fuzz target call them directly.
 *
 * Per-op rules on top of weft_wire_check (docs/protocol.md):
 *  - opcode < WEFT_OP__COUNT, else UNKNOWN_OP;
 *  - extras_len == weft_wire_request_extras_len(opcode), else BAD_REQUEST;
 *  - cache ops carry a name of 1..WEFT_MAX_NAME_LEN bytes; PING, STATS and
 *    FETCH carry none (BAD_REQUEST otherwise);
 *  - key ops carry a key of 1..WEFT_MAX_KEY_LEN bytes (a missing key is
 *    BAD_REQUEST, a longer one KEY_TOO_LONG); other ops carry none
 *    (BAD_REQUEST);
 *  - RECEIVE, ACK, UNSUBSCRIBE and MSG_REPL may carry a key (a durable
 *    subscription's name); DESTINATIONS carries no name;
 *  - only PUT, PUT_IF_ABSENT, REPLACE, CAS, MULTI_GET, PUBLISH, ACK and the
 *    node ops REPLICATE, MSG_REPL and TOPIC_DELIVER carry a value;
 *  - node ops (REPLICATE, MSG_REPL, TOPIC_JOIN, TOPIC_DELIVER) need
 *    WEFT_F_NODE; messaging's own per-op checks are in dp_msg*.c;
 *  - SESSION (which may carry a value) names a session store
 *    (weft_wire_is_session_store) and a key of exactly WEFT_SESSION_ID_LEN
 *    bytes, not all zero; a keyed op other than GET and SESSION to a
 *    session store is BAD_REQUEST (its action checks are dp_sess.c's);
 *  - a MULTI_GET list is u16 count <= WEFT_MAX_MULTI_GET, then exactly count
 *    [u16 len][key] items filling the value, each key 1..WEFT_MAX_KEY_LEN;
 *  - FETCH: offset a multiple of WEFT_MAX_DGRAM_PAYLOAD, count
 *    1..WEFT_RESP_INITIAL_WINDOW.
 */
#include <string.h>

#include "dp_internal.h"

static const char *const drop_names[DP_DROP__COUNT] = {
	[DP_DROP_RUNT] = "runt",
	[DP_DROP_SEGMENTED] = "multi_segment",
	[DP_DROP_ETHERTYPE] = "ethertype",
	[DP_DROP_ARP_OTHER] = "arp_other",
	[DP_DROP_IP_BAD_HDR] = "ip_bad_header",
	[DP_DROP_IP_CKSUM] = "ip_checksum",
	[DP_DROP_IP_OPTIONS] = "ip_options",
	[DP_DROP_IP_FRAG] = "ip_fragment",
	[DP_DROP_WRONG_IP] = "wrong_ip",
	[DP_DROP_PROTO] = "ip_protocol",
	[DP_DROP_ICMP_OTHER] = "icmp_other",
	[DP_DROP_UDP_BAD_LEN] = "udp_bad_length",
	[DP_DROP_UDP_PORT] = "udp_port",
	[DP_DROP_WEFT_SHORT] = "weft_short",
	[DP_DROP_WEFT_MAGIC] = "weft_magic",
	[DP_DROP_WEFT_RESPONSE] = "weft_response",
	[DP_DROP_DEDUP_INFLIGHT] = "dedup_inflight",
	[DP_DROP_REASM] = "reasm_refused",
	[DP_DROP_NO_MBUF] = "no_mbuf",
	[DP_DROP_TX_FULL] = "tx_full",
};

const char *dp_drop_name(enum dp_drop d)
{
	return d < DP_DROP__COUNT ? drop_names[d] : "unknown";
}

enum dp_rx_verdict dp_rx_classify(const uint8_t *dgram, uint32_t len, struct weft_wire_hdr *hdr,
				  enum weft_status *status, enum dp_drop *drop)
{
	if (len < sizeof(*hdr)) {
		*drop = DP_DROP_WEFT_SHORT;
		return DP_RX_DROP;
	}
	memcpy(hdr, dgram, sizeof(*hdr));
	if (hdr->magic != WEFT_WIRE_MAGIC) {
		*drop = DP_DROP_WEFT_MAGIC;
		return DP_RX_DROP;
	}
	if (hdr->flags & WEFT_F_RESPONSE) {
		*drop = DP_DROP_WEFT_RESPONSE;
		return DP_RX_DROP;
	}
	*status = weft_wire_check(hdr, len);
	if (*status != WEFT_ST_OK)
		return DP_RX_ANSWER;
	if (hdr->frag_offset != 0 || hdr->msg_len != len - sizeof(*hdr))
		return DP_RX_PIECE;
	return DP_RX_SERVE;
}

static bool op_has_name(uint8_t op)
{
	return op != WEFT_OP_PING && op != WEFT_OP_STATS && op != WEFT_OP_FETCH &&
	       op != WEFT_OP_MEMBERS && op != WEFT_OP_TOPOLOGY && op != WEFT_OP_DESTINATIONS &&
	       op != WEFT_OP_APPS;
}

/* Messaging ops that may name a durable subscription in the key field. */
static bool op_may_have_sub(uint8_t op)
{
	return op == WEFT_OP_RECEIVE || op == WEFT_OP_ACK || op == WEFT_OP_UNSUBSCRIBE ||
	       op == WEFT_OP_MSG_REPL;
}

/* Ops only nodes send (WEFT_F_NODE). */
static bool op_node_only(uint8_t op)
{
	return op == WEFT_OP_REPLICATE || op == WEFT_OP_MSG_REPL || op == WEFT_OP_TOPIC_JOIN ||
	       op == WEFT_OP_TOPIC_DELIVER;
}

static bool op_has_value(uint8_t op)
{
	switch (op) {
	case WEFT_OP_PUT:
	case WEFT_OP_PUT_FENCED:
	case WEFT_OP_PUT_IF_ABSENT:
	case WEFT_OP_REPLACE:
	case WEFT_OP_CAS:
	case WEFT_OP_MULTI_GET:
	case WEFT_OP_REPLICATE:
	case WEFT_OP_PUBLISH:
	case WEFT_OP_ACK:
	case WEFT_OP_MSG_REPL:
	case WEFT_OP_TOPIC_DELIVER:
	case WEFT_OP_SESSION:
		return true;
	default:
		return false;
	}
}

/* SESSION: the store's name, a 16-byte id not all zero; and no plain
 * keyed write (PUT, DELETE, ...) to a session store. */
static enum weft_status check_session_names(const struct dp_req *req)
{
	uint8_t op = req->hdr.opcode;
	bool store = weft_wire_is_session_store((const char *)req->name, req->hdr.name_len);
	if (op != WEFT_OP_SESSION)
		return store && op != WEFT_OP_GET && weft_wire_op_has_key(op) ? WEFT_ST_BAD_REQUEST
									      : WEFT_ST_OK;
	if (!store || req->hdr.key_len != WEFT_SESSION_ID_LEN)
		return WEFT_ST_BAD_REQUEST;
	uint8_t any = 0;
	for (unsigned i = 0; i < WEFT_SESSION_ID_LEN; i++)
		any |= req->key[i];
	return any != 0 ? WEFT_ST_OK : WEFT_ST_BAD_REQUEST;
}

bool dp_mget_next(const uint8_t *list, uint32_t list_len, uint32_t *pos, const uint8_t **key,
		  uint16_t *key_len)
{
	uint32_t p = *pos == 0 ? 2 : *pos;
	if (p + 2 > list_len)
		return false;
	uint16_t kl;
	memcpy(&kl, list + p, 2);
	if (p + 2 + (uint32_t)kl > list_len)
		return false;
	*key = list + p + 2;
	*key_len = kl;
	*pos = p + 2 + kl;
	return true;
}

static enum weft_status check_mget(const uint8_t *list, uint32_t len)
{
	if (len < 2)
		return WEFT_ST_BAD_REQUEST;
	uint16_t count;
	memcpy(&count, list, 2);
	if (count > WEFT_MAX_MULTI_GET)
		return WEFT_ST_BAD_REQUEST;
	uint32_t pos = 0, seen = 0;
	const uint8_t *k;
	uint16_t kl;
	while (seen < count && dp_mget_next(list, len, &pos, &k, &kl)) {
		if (kl == 0)
			return WEFT_ST_BAD_REQUEST;
		if (kl > WEFT_MAX_KEY_LEN)
			return WEFT_ST_KEY_TOO_LONG;
		seen++;
	}
	if (seen != count || (count == 0 ? 2u : pos) != len)
		return WEFT_ST_BAD_REQUEST;
	return WEFT_ST_OK;
}

bool dp_repl_next(const uint8_t *list, uint32_t len, uint32_t *pos, struct weft_repl_entry *e,
		  const uint8_t **key, const uint8_t **value)
{
	uint32_t p = *pos;
	if (p > len || len - p < sizeof(*e))
		return false;
	memcpy(e, list + p, sizeof(*e));
	uint64_t end = (uint64_t)p + sizeof(*e) + e->key_len + e->value_len;
	if (end > len)
		return false;
	*key = list + p + sizeof(*e);
	*value = *key + e->key_len;
	*pos = (uint32_t)end;
	return true;
}

/* A REPLICATE entry list: count entries exactly, each well formed. */
static enum weft_status check_repl(const uint8_t *extras, const uint8_t *list, uint32_t len)
{
	struct weft_x_replicate x;
	memcpy(&x, extras, sizeof(x));
	if (x.opts.mode == WEFT_MODE_DEFAULT || x.opts.mode >= WEFT_MODE__COUNT)
		return WEFT_ST_BAD_REQUEST;
	uint32_t pos = 0, seen = 0;
	struct weft_repl_entry e;
	const uint8_t *k, *v;
	while (seen < x.count && dp_repl_next(list, len, &pos, &e, &k, &v)) {
		if (e.key_len == 0 || e.key_len > WEFT_MAX_KEY_LEN || e.value_len > WEFT_MAX_VALUE_LEN)
			return WEFT_ST_BAD_REQUEST;
		if (e.kind != WEFT_REPL_PUT && (e.kind < WEFT_REPL_PUT || e.kind > WEFT_REPL_INVALIDATE ||
						e.value_len != 0))
			return WEFT_ST_BAD_REQUEST;
		seen++;
	}
	return seen == x.count && pos == len ? WEFT_ST_OK : WEFT_ST_BAD_REQUEST;
}

enum weft_status dp_req_validate(const struct weft_wire_hdr *hdr, const uint8_t *payload,
				 struct dp_req *req)
{
	uint8_t op = hdr->opcode;
	if (op >= WEFT_OP__COUNT)
		return WEFT_ST_UNKNOWN_OP;
	if (hdr->extras_len != weft_wire_request_extras_len(op))
		return WEFT_ST_BAD_REQUEST;
	if (op_has_name(op) ? (hdr->name_len == 0) : (hdr->name_len != 0))
		return WEFT_ST_BAD_REQUEST;
	if (weft_wire_op_has_key(op) && hdr->key_len == 0)
		return WEFT_ST_BAD_REQUEST;
	if (!weft_wire_op_has_key(op) && !op_may_have_sub(op) && hdr->key_len != 0)
		return WEFT_ST_BAD_REQUEST;
	if (op_node_only(op) && !(hdr->flags & WEFT_F_NODE))
		return WEFT_ST_BAD_REQUEST;
	uint32_t vlen = weft_wire_value_len(hdr);
	if (!op_has_value(op) && vlen != 0)
		return WEFT_ST_BAD_REQUEST;
	req->hdr = *hdr;
	req->name = payload;
	req->key = payload + hdr->name_len;
	req->extras = req->key + hdr->key_len;
	req->value = req->extras + hdr->extras_len;
	req->value_len = vlen;
	enum weft_status st = check_session_names(req);
	if (st != WEFT_ST_OK)
		return st;
	if (op == WEFT_OP_MULTI_GET)
		return check_mget(req->value, vlen);
	if (op == WEFT_OP_REPLICATE)
		return check_repl(req->extras, req->value, vlen);
	if (op == WEFT_OP_FETCH) {
		struct weft_x_fetch f;
		memcpy(&f, req->extras, sizeof(f));
		if (f.offset % WEFT_MAX_DGRAM_PAYLOAD != 0 || f.count == 0 ||
		    f.count > WEFT_RESP_INITIAL_WINDOW)
			return WEFT_ST_BAD_REQUEST;
	}
	return WEFT_ST_OK;
}
