/*
 * fuzz_client_wire.c — libFuzzer target for libweft's response side: the
 * call engine (client/call.c: weft_resp_matches, long-response assembly,
 * FETCH and GONE handling, retries) and every decoder of response values,
 * reached through the public API over a fake transport whose "node"
 * answers with the fuzzer's datagrams; plus the pure decoders on raw bytes.
 *
 * Input layout:
 *   [0]   the API call to make (modulo the table in run_op)
 *   [1]   bit 0: topology-aware routing on (keyed ops fetch TOPOLOGY first)
 *   then  records [u16 len LE][u8 how][len bytes]: each is the next
 *         datagram the transport hands the client. how bit 0: patch the
 *         header so it answers the last request sent (magic, version,
 *         F_RESPONSE, client_id, request_id); bit 1: also its opcode;
 *         bit 2: make it a whole single-datagram message (msg_len =
 *         len - 40, frag_offset 0); bit 3: it comes from a stranger's
 *         address (the client must ignore it). Without bit 0 the bytes go
 *         as they are. When the records run out the transport fails (EIO),
 *         so every call ends at once: no clock is waited on.
 * weftctl's readers of answers come along: its MEMBERS table
 * (weftctl_print_members), `status` (MEMBERS and STATS text,
 * weftctl_print_status) and its TOPOLOGY printer, into /dev/null.
 * The whole input is also fed raw to weft_resp_matches, weft_mget_decode,
 * weft_topology_decode, weft_msglist_decode, weft_session_attrs_decode
 * and weft_props_valid.
 *
 * Asserted (abort on violation): every call returns 0 or a negated status
 * (the node's u16 status passes through; every one has a name); what an OK call hands back is what its header
 * promises (text NUL-terminated at its length; multi-get values inside the
 * block; messages and attributes no more than asked; a topology's owners
 * index its members); decoders on raw bytes return 0 or their documented
 * errors. Everything returned is freed (ASan's leak check runs at exit).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "weftctl_print.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
	const uint8_t *p;
	size_t left;
	struct weft_wire_hdr last; /* header of the last datagram sent */
	uint32_t to_ip;
	uint16_t to_port;
};

static void check(int ok)
{
	if (!ok)
		abort();
}

/* 0 or a negated status: the node's own (any u16: a newer node may send
 * statuses this library does not name) or the library's; every one has a
 * name and a text. */
static void check_rc(int rc)
{
	check(rc <= 0 && rc >= -UINT16_MAX);
	check(weft_status_name(rc) != NULL && weft_strerror(rc) != NULL);
}

static int feed_send(void *ctx, uint32_t ip, uint16_t port, const void *buf, size_t len)
{
	struct feed *f = ctx;
	check(len >= sizeof(f->last) && len <= WEFT_MAX_DGRAM_LEN + WEFT_MAX_TRAILERS_LEN);
	memcpy(&f->last, buf, sizeof(f->last));
	f->to_ip = ip;
	f->to_port = port;
	return 0;
}

static long feed_recv(void *ctx, void *buf, size_t cap, uint32_t *ip, uint16_t *port,
		      int timeout_ms)
{
	struct feed *f = ctx;
	(void)timeout_ms;
	if (f->left < 3)
		return -EIO;
	size_t len = f->p[0] | (size_t)f->p[1] << 8;
	uint8_t how = f->p[2];
	f->p += 3;
	f->left -= 3;
	if (len > f->left)
		len = f->left;
	size_t n = len < cap ? len : cap;
	memcpy(buf, f->p, n);
	f->p += len;
	f->left -= len;
	if ((how & 1) && n >= sizeof(struct weft_wire_hdr)) {
		struct weft_wire_hdr h;
		memcpy(&h, buf, sizeof(h));
		h.magic = WEFT_WIRE_MAGIC;
		h.version = WEFT_WIRE_VERSION;
		h.flags |= WEFT_F_RESPONSE;
		h.client_id = f->last.client_id;
		h.request_id = f->last.request_id;
		if (how & 2)
			h.opcode = f->last.opcode;
		if (how & 4) {
			h.msg_len = (uint32_t)(n - sizeof(h));
			h.frag_offset = 0;
		}
		memcpy(buf, &h, sizeof(h));
	}
	*ip = (how & 8) ? f->to_ip ^ 0x01000000u : f->to_ip;
	*port = f->to_port;
	return (long)n;
}

/* weftctl's printers write to stdout / stderr: into /dev/null here. */
static FILE *null_file(void)
{
	static FILE *null;
	if (null == NULL)
		null = fopen("/dev/null", "w");
	return null;
}

static int members_quiet(char *text)
{
	FILE *out = stdout, *err = stderr;
	if (null_file() != NULL)
		stdout = stderr = null_file();
	int rc = weftctl_print_members(text);
	stdout = out;
	stderr = err;
	return rc;
}

static int status_quiet(weft_client *c)
{
	FILE *out = stdout, *err = stderr;
	if (null_file() != NULL)
		stdout = stderr = null_file();
	int rc = weftctl_print_status(c);
	stdout = out;
	stderr = err;
	return rc;
}

static void check_text(int rc, char *text, size_t len)
{
	check_rc(rc);
	if (rc == 0)
		check(text != NULL && text[len] == '\0');
	free(text);
}

static const struct weft_session_id sid = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};

static void check_attrs(int rc, struct weft_session_attr *a, size_t n)
{
	check_rc(rc);
	if (rc == 0)
		for (size_t i = 0; i < n; i++)
			check(a[i].name != NULL && strlen(a[i].name) <= WEFT_SESSION_MAX_ATTR_NAME);
	free(a);
}

static void op_multi_get(weft_client *c)
{
	struct weft_mget_item it[3] = {{.key = "a", .key_len = 1}, {.key = "bb", .key_len = 2},
				       {.key = "ccc", .key_len = 3}};
	void *block = NULL;
	int rc = weft_multi_get(c, "c", it, 3, &block);
	check_rc(rc);
	if (rc == 0) {
		check(block != NULL);
		for (unsigned i = 0; i < 3; i++) {
			check_rc(it[i].status);
			check(it[i].status == 0 || it[i].value == NULL);
		}
	}
	free(block);
}

static void op_topology(weft_client *c)
{
	struct weft_topology *t = NULL;
	int rc = weft_topology(c, &t);
	check_rc(rc);
	if (rc == 0) {
		check(t != NULL && t->n_members >= 1);
		for (unsigned k = 0; k < 8; k++) {
			check(weft_topology_segment(t, &k, sizeof(k)) < t->n_segments);
			for (unsigned r = 0; r < t->owners; r++) {
				int o = weft_topology_owner(t, &k, sizeof(k), r);
				check(o >= 0 && o < t->n_members);
			}
		}
		if (null_file() != NULL)
			check(weftctl_print_topology(null_file(), t, "c") == 0);
	}
	weft_topology_free(t);
}

static void op_receive(weft_client *c, bool topic)
{
	weft_consumer *k = weft_consumer_open(c, topic ? "/topic/t" : "/queue/q", NULL);
	if (k == NULL)
		return;
	struct weft_message msgs[8];
	struct weft_receive_opts ro = {.max = 8};
	size_t n = 99;
	void *block = NULL;
	uint32_t dropped = 0;
	int rc = weft_receive(k, &ro, msgs, &n, &block, &dropped);
	check_rc(rc);
	if (rc == 0) {
		check(n <= 8 && (n == 0) == (block == NULL));
		for (size_t i = 0; i < n; i++) {
			const void *v;
			size_t vl;
			check_rc(weft_message_prop(&msgs[i], "p", &v, &vl));
		}
	}
	free(block);
	uint64_t ids[2] = {1, 2};
	check_rc(weft_ack(k, ids, 2, NULL));
	check_rc(weft_consumer_close(k, false));
}

static void run_op(weft_client *c, uint8_t op)
{
	static uint8_t big[3000]; /* a request of three datagrams */
	void *v = NULL;
	size_t vl = 0;
	uint64_t ver = 0;
	char *text = NULL;
	size_t tl = 0;
	int rc;
	struct weft_session_attr *a = NULL;
	size_t na = 0;
	struct weft_session_info info;
	switch (op % 21) {
	case 0: check_rc(weft_ping(c)); break;
	case 1:
		rc = weft_get(c, "c", "k", 1, &v, &vl, &ver);
		check_rc(rc);
		check(rc != 0 || (vl == 0) == (v == NULL));
		free(v);
		break;
	case 2: {
		char buf[16];
		check_rc(weft_get_into(c, "c", "k", 1, buf, sizeof(buf), &vl, &ver));
		break;
	}
	case 3: check_rc(weft_put(c, "c", "k", 1, "v", 1, NULL, &ver)); break;
	case 4: check_rc(weft_put(c, "c", "k", 1, big, sizeof(big), NULL, &ver)); break;
	case 5: check_rc(weft_cas(c, "c", "k", 1, 7, "v", 1, NULL, &ver)); break;
	case 6: {
		int64_t nv;
		check_rc(weft_incr(c, "c", "k", 1, 5, 0, &nv));
		break;
	}
	case 7: op_multi_get(c); break;
	case 8: rc = weft_stats(c, &text, &tl); check_text(rc, text, tl); break;
	case 9:
		rc = weft_members(c, &text, &tl);
		if (rc == 0) {
			rc = members_quiet(text); /* weftctl's reading of it */
			check(rc == 0 || rc == 2);
			rc = 0;
		}
		check_text(rc, text, tl);
		break;
	case 10: op_topology(c); break;
	case 11: op_receive(c, false); break;
	case 12: op_receive(c, true); break;
	case 13:
		rc = weft_session_get(c, NULL, &sid, "attr", &v, &vl, &info);
		check_rc(rc);
		free(v);
		break;
	case 14:
		rc = weft_session_list(c, NULL, &sid, &a, &na, &info);
		check_attrs(rc, a, na);
		break;
	case 15:
		rc = weft_session_load(c, NULL, &sid, &a, &na, &info);
		check_attrs(rc, a, na);
		break;
	case 16: {
		struct weft_session_id id;
		check_rc(weft_session_create(c, NULL, 60, &id));
		check_rc(weft_session_info(c, NULL, &sid, &info));
		break;
	}
	case 17: rc = weft_destinations(c, &text, &tl); check_text(rc, text, tl); break;
	case 18: rc = weft_apps(c, &text, &tl); check_text(rc, text, tl); break;
	case 19: rc = status_quiet(c); check(rc == 0 || rc == 2); break;
	default: {
		uint64_t id;
		uint32_t fanout;
		struct weft_prop p = {.name = "p", .value = "x", .value_len = 1};
		struct weft_publish_opts po = {.props = &p, .n_props = 1};
		check_rc(weft_publish(c, "/topic/t", "body", 4, &po, &id, &fanout));
		break;
	}
	}
}

/* The pure decoders on the raw input. */
static void raw_decoders(const uint8_t *d, size_t n)
{
	(void)weft_resp_matches(d, n, 0, 0, d[0]);
	struct weft_mget_item it[4] = {{.key = "a", .key_len = 1}, {.key = "b", .key_len = 1},
				       {.key = "c", .key_len = 1}, {.key = "d", .key_len = 1}};
	int rc = weft_mget_decode(d, n, it, 1 + d[0] % 4);
	check(rc == 0 || rc == -WEFT_ST_PROTOCOL);
	struct weft_topology *t = NULL;
	rc = weft_topology_decode(d, n, &t);
	check(rc == 0 || rc == -WEFT_ST_PROTOCOL || rc == -WEFT_ST_IO);
	check((rc == 0) == (t != NULL));
	weft_topology_free(t);
	struct weft_message msgs[WEFT_MAX_RECEIVE];
	rc = weft_msglist_decode(d, n, d[0] % (WEFT_MAX_RECEIVE + 2), msgs, WEFT_MAX_RECEIVE);
	check(rc == 0 || rc == -WEFT_ST_PROTOCOL);
	struct weft_session_attr *a = NULL;
	size_t na = 0;
	rc = weft_session_attrs_decode(d, n, d[0] % 16, d[1] & 1, &a, &na);
	check(rc == 0 || rc == -WEFT_ST_PROTOCOL || rc == -WEFT_ST_IO);
	free(a);
	(void)weft_props_valid(d, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 64 * 1024)
		return 0;
	raw_decoders(data, size);
	struct feed f = {.p = data + 2, .left = size - 2};
	struct weft_transport t = {.ctx = &f, .send = feed_send, .recv = feed_recv};
	struct weft_client_opts o;
	weft_client_opts_init(&o);
	o.retries = 1;
	weft_client *c = weft_client_connect_transport("10.235.0.1:7700", &o, &t, 0x5eed);
	if (c == NULL)
		return 0;
	weft_client_set_routing(c, data[1] & 1);
	run_op(c, data[0]);
	weft_client_close(c);
	return 0;
}
