/*
 * fuzz_node_wire.c — libFuzzer target for node-to-node request bodies on
 * the dataplane side: dp_req_validate on WEFT_F_NODE requests
 * (REPLICATE, MSG_REPL, TOPIC_JOIN, TOPIC_DELIVER), the REPLICATE entry
 * list walk (dp_repl_next), the message list walk (dp_msg_list_next) and
 * property check (weft_msg_props_valid), and then what the lcore does with
 * a list that passed: MSG_REPL records applied to a real destination
 * (weft_msg_new, weft_dest_apply), a TOPIC_DELIVER batch handed to a
 * subscriber topic (weft_topic_local_deliver), a TOPIC_JOIN registered
 * (weft_topic_join).
 *
 * Not reached: dp_msg_node.c's serve_* themselves, which need a live lcore
 * (a DPDK port, the node's registry, its answer path). The whole-list check
 * they start with is the real dp_msg_list_ok, and the apply loop follows
 * serve_repl's.
 *
 * Input layout: [0] opcode: 0 REPLICATE, 1 MSG_REPL, 2 TOPIC_JOIN,
 * 3 TOPIC_DELIVER (mod 4); [1] bit 0: a queue rather than a topic for
 * MSG_REPL, bit 1: the destination is a BACKUP (else PRIMARY / SUBSCRIBER),
 * bit 7: extras_len from [4] instead of the op's; [2] name_len, [3]
 * key_len; then the payload [name][key][extras][value] (msg_len = what is
 * left). The header is F_NODE, frag_offset 0, and must pass
 * weft_wire_check on its first datagram (as every piece of a reassembled
 * message did).
 *
 * Asserted: a validated request's parts lie inside the payload; list walks
 * stay inside the value; weft_dest_apply returns 1, 0, -EINVAL, -ENOMEM or
 * -ENOSPC; nothing leaks (the registry is destroyed per input).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "dp_msg_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void replicate(const struct dp_req *req, const uint8_t *end)
{
	struct weft_x_replicate x;
	memcpy(&x, req->extras, sizeof(x));
	uint32_t pos = 0, n = 0;
	struct weft_repl_entry e;
	const uint8_t *k, *v;
	while (dp_repl_next(req->value, req->value_len, &pos, &e, &k, &v)) {
		check(e.key_len >= 1 && e.key_len <= WEFT_MAX_KEY_LEN && v + e.value_len <= end);
		check(e.kind == WEFT_REPL_PUT || e.value_len == 0);
		n++;
	}
	check(n == x.count && pos == req->value_len);
}

/* The lcore's whole-list check (dp_msg_list_ok), after a walk that
 * asserts dp_msg_list_next never hands out bytes past the list. */
static bool list_ok(const uint8_t *list, uint32_t len, uint32_t count, bool records)
{
	uint32_t pos = 0, seen = 0;
	struct weft_msg_hdr h;
	const uint8_t *data;
	bool bad = false;
	while (seen < count && dp_msg_list_next(list, len, &pos, &h, &data, &bad)) {
		check(data + h.props_len + h.body_len <= list + len);
		seen++;
	}
	return dp_msg_list_ok(list, len, count, records);
}

static void sink_deliver(void *ctx, struct weft_dest *d, const struct weft_delivery *dl)
{
	(void)ctx;
	(void)d;
	check(dl->n <= WEFT_MAX_RECEIVE);
}

static void sink_record(void *ctx, struct weft_dest *d, const char *sub, size_t sub_len,
			uint8_t kind, const struct weft_msg *m, uint64_t id)
{
	(void)ctx;
	(void)d;
	(void)sub;
	(void)sub_len;
	(void)m;
	(void)id;
	check(kind >= WEFT_MSGREC_APPEND && kind <= WEFT_MSGREC_TRIM);
}

static const struct weft_msg_sink sink = {NULL, sink_deliver, sink_record};

static struct weft_dest *open_dest(struct weft_msg_reg *reg, const char *name,
				   const struct weft_dest_opts *o, enum weft_dest_role role)
{
	struct weft_dest *d = NULL;
	if (weft_msg_open(reg, name, strlen(name), o, &d) != 0)
		return NULL;
	weft_dest_lock(d);
	weft_dest_set_role(d, 1000, role, &sink);
	weft_dest_unlock(d);
	return d;
}

/* serve_repl's loop on a destination of this node. */
static void msg_repl(struct weft_msg_reg *reg, const struct dp_req *req, uint8_t mode)
{
	struct weft_x_msg_repl x;
	memcpy(&x, req->extras, sizeof(x));
	struct weft_dest_opts o;
	if (weft_dest_opts_from_wire(&x.opts, &o) != 0 ||
	    !list_ok(req->value, req->value_len, x.count, true))
		return;
	struct weft_dest *d = open_dest(reg, (mode & 1) ? "/queue/q" : "/topic/t", &o,
					(mode & 2) ? WEFT_ROLE_BACKUP : WEFT_ROLE_PRIMARY);
	if (d == NULL)
		return;
	uint32_t pos = 0;
	struct weft_msg_hdr h;
	const uint8_t *data;
	bool bad;
	weft_dest_lock(d);
	while (dp_msg_list_next(req->value, req->value_len, &pos, &h, &data, &bad)) {
		if (h.kind == WEFT_MSGREC_STOP)
			break;
		struct weft_msg *m = NULL;
		if (h.kind == WEFT_MSGREC_APPEND) {
			m = weft_msg_new(h.id, h.expires_ms, data, h.props_len, data + h.props_len,
					 h.body_len);
			if (m == NULL)
				break;
		}
		int rc = weft_dest_apply(d, 1000, (const char *)req->key, req->hdr.key_len, h.kind,
					 m, h.id);
		weft_msg_unref(m);
		check(rc == 0 || rc == 1 || rc == -EINVAL || rc == -ENOMEM || rc == -ENOSPC);
		if (rc < 0)
			break;
	}
	weft_dest_unlock(d);
}

static void topic_deliver(struct weft_msg_reg *reg, const struct dp_req *req)
{
	struct weft_x_topic_deliver x;
	memcpy(&x, req->extras, sizeof(x));
	if (x.count > WEFT_MAX_RECEIVE || !list_ok(req->value, req->value_len, x.count, false))
		return;
	struct weft_dest *d = open_dest(reg, "/topic/t", NULL, WEFT_ROLE_SUBSCRIBER);
	if (d == NULL)
		return;
	struct weft_msg *msgs[WEFT_MAX_RECEIVE];
	uint32_t n = 0, pos = 0;
	struct weft_msg_hdr h;
	const uint8_t *data;
	bool bad;
	while (n < x.count && dp_msg_list_next(req->value, req->value_len, &pos, &h, &data, &bad)) {
		msgs[n] = weft_msg_new(h.id, h.expires_ms, data, h.props_len, data + h.props_len,
				       h.body_len);
		if (msgs[n] == NULL)
			break;
		n++;
	}
	weft_dest_lock(d);
	(void)weft_topic_local_deliver(d, 1000, msgs, n, x.dropped, &sink);
	weft_dest_unlock(d);
	for (uint32_t i = 0; i < n; i++)
		weft_msg_unref(msgs[i]);
}

static void topic_join(struct weft_msg_reg *reg, const struct dp_req *req)
{
	struct weft_x_topic_join j;
	memcpy(&j, req->extras, sizeof(j));
	struct weft_dest *d = open_dest(reg, "/topic/t", NULL, WEFT_ROLE_PRIMARY);
	if (d == NULL)
		return;
	uint64_t resume = 0;
	weft_dest_lock(d);
	int rc = weft_topic_join(d, 1000, 0x0100eb0au, 7700, j.next_id, j.subscriptions, &resume);
	weft_dest_unlock(d);
	check(rc == 0 || rc < 0);
}

static const uint8_t node_ops[4] = {WEFT_OP_REPLICATE, WEFT_OP_MSG_REPL, WEFT_OP_TOPIC_JOIN,
				    WEFT_OP_TOPIC_DELIVER};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool registered;
	if (!registered) {
		urcu_qsbr_register_thread();
		registered = true;
	}
	if (size < 5 || size - 5 > WEFT_MAX_MSG_LEN)
		return 0;
	struct weft_wire_hdr h;
	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = node_ops[data[0] % 4];
	h.flags = WEFT_F_NODE;
	h.name_len = data[2];
	h.key_len = data[3];
	h.extras_len = (data[1] & 0x80) ? data[4] : weft_wire_request_extras_len(h.opcode);
	const uint8_t *payload = data + 5;
	h.msg_len = (uint32_t)(size - 5);
	size_t first = h.msg_len < WEFT_MAX_DGRAM_PAYLOAD ? h.msg_len : WEFT_MAX_DGRAM_PAYLOAD;
	if (weft_wire_check(&h, sizeof(h) + first) != WEFT_ST_OK)
		return 0;
	/* A private copy, so ASan sees reads past the message's end. */
	uint8_t *msg = malloc(h.msg_len ? h.msg_len : 1);
	if (msg == NULL)
		return 0;
	memcpy(msg, payload, h.msg_len);
	struct dp_req req;
	if (dp_req_validate(&h, msg, &req) == WEFT_ST_OK) {
		check(req.name == msg && req.value + req.value_len == msg + h.msg_len);
		struct weft_msg_reg *reg = weft_msg_reg_create();
		switch (h.opcode) {
		case WEFT_OP_REPLICATE:
			replicate(&req, msg + h.msg_len);
			break;
		case WEFT_OP_MSG_REPL:
			if (reg != NULL)
				msg_repl(reg, &req, data[1]);
			break;
		case WEFT_OP_TOPIC_JOIN:
			if (reg != NULL)
				topic_join(reg, &req);
			break;
		default:
			if (reg != NULL)
				topic_deliver(reg, &req);
			break;
		}
		weft_msg_reg_destroy(reg);
	}
	free(msg);
	urcu_qsbr_quiescent_state();
	return 0;
}
