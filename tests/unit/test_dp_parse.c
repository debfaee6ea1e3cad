/*
 * test_dp_parse.c — the dataplane's pure parsers: frame classification
 * (every malformed case at each layer), the ARP and ICMP echo replies, the
 * weft header verdict and the per-op request validation.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dp_frames.h"
#include "dp_internal.h"

static const uint8_t NODE_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t CLIENT_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t NODE_IP[4] = {10, 213, 0, 2};
static const uint8_t CLIENT_IP[4] = {10, 213, 0, 1};
#define PORT 7700u

static uint32_t node_ip(void)
{
	uint32_t v;
	memcpy(&v, NODE_IP, 4);
	return v;
}

static uint16_t port_be(void)
{
	return (uint16_t)((PORT >> 8) | ((PORT & 0xff) << 8));
}

/* Ethernet + IPv4 (+ UDP when proto 17) around payload; returns frame length. */
static uint32_t build_ip(uint8_t *f, uint8_t proto, const void *payload, uint32_t plen)
{
	memcpy(f, NODE_MAC, 6);
	memcpy(f + 6, CLIENT_MAC, 6);
	wr16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	uint32_t l4 = proto == 17 ? 8 + plen : plen;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)(20 + l4));
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, CLIENT_IP, 4);
	memcpy(ip + 16, NODE_IP, 4);
	dp_ipv4_finish(ip);
	uint8_t *p = ip + 20;
	if (proto == 17) {
		wr16(p, 40000);
		wr16(p + 2, PORT);
		wr16(p + 4, (uint16_t)(8 + plen));
		wr16(p + 6, 0x1234); /* a partial checksum, as veths deliver */
		p += 8;
	}
	memcpy(p, payload, plen);
	return 14 + 20 + l4;
}

static void expect_drop(const uint8_t *f, uint32_t len, enum dp_drop why)
{
	struct dp_pkt pkt;
	assert_int_equal(dp_parse_frame(f, len, node_ip(), port_be(), &pkt), DP_PKT_DROP);
	assert_int_equal(pkt.drop, why);
}

static void test_udp_ok_and_truncations(void **state)
{
	(void)state;
	uint8_t f[256];
	uint8_t payload[50];
	memset(payload, 0xab, sizeof(payload));
	uint32_t len = build_ip(f, 17, payload, sizeof(payload));
	struct dp_pkt pkt;
	assert_int_equal(dp_parse_frame(f, len, node_ip(), port_be(), &pkt), DP_PKT_UDP);
	assert_int_equal(pkt.payload_len, 50);
	assert_ptr_equal(pkt.payload, f + 42);
	assert_memory_equal(pkt.flow.src_mac, CLIENT_MAC, 6);
	assert_int_equal(pkt.flow.src_port, (uint16_t)((40000 >> 8) | ((40000 & 0xff) << 8)));
	/* Ethernet padding after the IPv4 total length is ignored. */
	assert_int_equal(dp_parse_frame(f, len + 10, node_ip(), port_be(), &pkt), DP_PKT_UDP);
	assert_int_equal(pkt.payload_len, 50);
	/* Truncated at every layer. */
	expect_drop(f, 0, DP_DROP_RUNT);
	expect_drop(f, 13, DP_DROP_RUNT);
	expect_drop(f, 14 + 19, DP_DROP_RUNT);
	expect_drop(f, len - 1, DP_DROP_RUNT); /* IPv4 total length beyond the frame */
	/* IP payload shorter than a UDP header. */
	wr16(f + 16, 20 + 7);
	dp_ipv4_finish(f + 14);
	expect_drop(f, len, DP_DROP_RUNT);
}

static void test_ip_malformed(void **state)
{
	(void)state;
	uint8_t f[256], g[256];
	uint32_t len = build_ip(f, 17, "x", 1);

	memcpy(g, f, len);
	g[14] = 0x65; /* version 6 */
	expect_drop(g, len, DP_DROP_IP_BAD_HDR);
	memcpy(g, f, len);
	g[14] = 0x44; /* IHL 4 */
	expect_drop(g, len, DP_DROP_IP_BAD_HDR);
	memcpy(g, f, len);
	g[14] = 0x46; /* options */
	expect_drop(g, len, DP_DROP_IP_OPTIONS);
	memcpy(g, f, len);
	wr16(g + 16, 19); /* total length < header */
	dp_ipv4_finish(g + 14);
	expect_drop(g, len, DP_DROP_IP_BAD_HDR);
	memcpy(g, f, len);
	g[14 + 10] ^= 0x01; /* checksum */
	expect_drop(g, len, DP_DROP_IP_CKSUM);
	memcpy(g, f, len);
	wr16(g + 14 + 6, 0x2000); /* MF */
	dp_ipv4_finish(g + 14);
	expect_drop(g, len, DP_DROP_IP_FRAG);
	memcpy(g, f, len);
	wr16(g + 14 + 6, 0x0010); /* fragment offset */
	dp_ipv4_finish(g + 14);
	expect_drop(g, len, DP_DROP_IP_FRAG);
	memcpy(g, f, len);
	g[14 + 19] = 3; /* other destination */
	dp_ipv4_finish(g + 14);
	expect_drop(g, len, DP_DROP_WRONG_IP);
	memcpy(g, f, len);
	g[14 + 9] = 6; /* TCP */
	dp_ipv4_finish(g + 14);
	expect_drop(g, len, DP_DROP_PROTO);
	memcpy(g, f, len);
	wr16(g + 12, 0x86dd); /* IPv6 */
	expect_drop(g, len, DP_DROP_ETHERTYPE);
	memcpy(g, f, len);
	wr16(g + 12, 0x8100); /* VLAN */
	expect_drop(g, len, DP_DROP_ETHERTYPE);
}

static void test_udp_malformed(void **state)
{
	(void)state;
	uint8_t f[256], g[256];
	uint32_t len = build_ip(f, 17, "abcd", 4);
	memcpy(g, f, len);
	wr16(g + 34 + 4, 7); /* UDP length < 8 */
	expect_drop(g, len, DP_DROP_UDP_BAD_LEN);
	memcpy(g, f, len);
	wr16(g + 34 + 4, 8 + 5); /* beyond the IP payload */
	expect_drop(g, len, DP_DROP_UDP_BAD_LEN);
	memcpy(g, f, len);
	wr16(g + 34 + 2, 7701);
	expect_drop(g, len, DP_DROP_UDP_PORT);
	/* A shorter UDP length inside the IP payload trims the payload. */
	memcpy(g, f, len);
	wr16(g + 34 + 4, 8 + 2);
	struct dp_pkt pkt;
	assert_int_equal(dp_parse_frame(g, len, node_ip(), port_be(), &pkt), DP_PKT_UDP);
	assert_int_equal(pkt.payload_len, 2);
}

static uint32_t build_arp(uint8_t *f, uint16_t oper, const uint8_t target[4])
{
	memset(f, 0xff, 6);
	memcpy(f + 6, CLIENT_MAC, 6);
	wr16(f + 12, 0x0806);
	uint8_t *a = f + 14;
	wr16(a, 1);
	wr16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, oper);
	memcpy(a + 8, CLIENT_MAC, 6);
	memcpy(a + 14, CLIENT_IP, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, target, 4);
	return 42;
}

static void test_arp(void **state)
{
	(void)state;
	uint8_t f[64];
	uint32_t len = build_arp(f, 1, NODE_IP);
	struct dp_pkt pkt;
	assert_int_equal(dp_parse_frame(f, len, node_ip(), port_be(), &pkt), DP_PKT_ARP_REQUEST);
	assert_int_equal(dp_arp_reply(f, NODE_MAC), 60);
	assert_memory_equal(f, CLIENT_MAC, 6);
	assert_memory_equal(f + 6, NODE_MAC, 6);
	assert_int_equal(rd16(f + 12), 0x0806);
	assert_int_equal(rd16(f + 14 + 6), 2);
	assert_memory_equal(f + 14 + 8, NODE_MAC, 6);
	assert_memory_equal(f + 14 + 14, NODE_IP, 4);
	assert_memory_equal(f + 14 + 18, CLIENT_MAC, 6);
	assert_memory_equal(f + 14 + 24, CLIENT_IP, 4);

	static const uint8_t other[4] = {10, 213, 0, 9};
	len = build_arp(f, 1, other);
	expect_drop(f, len, DP_DROP_ARP_OTHER);
	len = build_arp(f, 2, NODE_IP); /* a reply: not ours to answer */
	expect_drop(f, len, DP_DROP_ARP_OTHER);
	len = build_arp(f, 1, NODE_IP);
	f[14 + 4] = 8; /* hlen */
	expect_drop(f, len, DP_DROP_ARP_OTHER);
	expect_drop(f, 14 + 27, DP_DROP_RUNT);
}

static void test_icmp(void **state)
{
	(void)state;
	uint8_t f[256];
	uint8_t icmp[8 + 20];
	memset(icmp, 0, sizeof(icmp));
	icmp[0] = 8;
	wr16(icmp + 4, 0x77);
	wr16(icmp + 6, 3);
	for (int i = 8; i < (int)sizeof(icmp); i++)
		icmp[i] = (uint8_t)i;
	uint16_t c = (uint16_t)~csum(icmp, sizeof(icmp));
	wr16(icmp + 2, c);
	uint32_t len = build_ip(f, 1, icmp, sizeof(icmp));
	struct dp_pkt pkt;
	assert_int_equal(dp_parse_frame(f, len, node_ip(), port_be(), &pkt), DP_PKT_ICMP_ECHO);
	assert_int_equal(dp_icmp_reply(f, pkt.l3_len, NODE_MAC), len);
	assert_memory_equal(f, CLIENT_MAC, 6);
	assert_memory_equal(f + 6, NODE_MAC, 6);
	assert_memory_equal(f + 14 + 12, NODE_IP, 4);
	assert_memory_equal(f + 14 + 16, CLIENT_IP, 4);
	assert_int_equal(csum(f + 14, 20), 0xffff);           /* IPv4 checksum valid */
	assert_int_equal(f[34], 0);                          /* echo reply */
	assert_int_equal(csum(f + 34, sizeof(icmp)), 0xffff); /* ICMP checksum valid */
	assert_int_equal(rd16(f + 34 + 4), 0x77);             /* id, seq, data kept */
	assert_memory_equal(f + 34 + 8, icmp + 8, 20);

	icmp[0] = 13; /* timestamp request */
	len = build_ip(f, 1, icmp, sizeof(icmp));
	expect_drop(f, len, DP_DROP_ICMP_OTHER);
	len = build_ip(f, 1, icmp, 7);
	expect_drop(f, len, DP_DROP_ICMP_OTHER);
}

/* --- weft header and requests ------------------------------------- */

static uint32_t build_req(uint8_t *buf, uint8_t op, const char *name, const char *key,
			  const void *extras, uint16_t extras_len, const void *value,
			  uint32_t value_len)
{
	struct weft_wire_hdr h;
	memset(&h, 0, sizeof(h));
	h.magic = WEFT_WIRE_MAGIC;
	h.version = WEFT_WIRE_VERSION;
	h.opcode = op;
	h.name_len = (uint8_t)strlen(name);
	h.key_len = (uint16_t)strlen(key);
	h.extras_len = extras_len;
	h.client_id = 7;
	h.request_id = 9;
	h.msg_len = h.name_len + h.key_len + extras_len + value_len;
	uint8_t *p = buf + sizeof(h);
	memcpy(p, name, h.name_len);
	p += h.name_len;
	memcpy(p, key, h.key_len);
	p += h.key_len;
	if (extras_len)
		memcpy(p, extras, extras_len);
	p += extras_len;
	if (value_len)
		memcpy(p, value, value_len);
	memcpy(buf, &h, sizeof(h));
	return (uint32_t)sizeof(h) + h.msg_len;
}

static enum weft_status validate(const uint8_t *buf, uint32_t len, struct dp_req *req)
{
	struct weft_wire_hdr h;
	enum weft_status st = WEFT_ST_OK;
	enum dp_drop why;
	enum dp_rx_verdict v = dp_rx_classify(buf, len, &h, &st, &why);
	if (v == DP_RX_ANSWER)
		return st;
	assert_int_equal(v, DP_RX_SERVE);
	return dp_req_validate(&h, buf + sizeof(h), req);
}

static void test_header_verdicts(void **state)
{
	(void)state;
	uint8_t buf[2048];
	struct weft_wire_hdr h;
	enum weft_status st;
	enum dp_drop why;
	uint32_t len = build_req(buf, WEFT_OP_PING, "", "", NULL, 0, NULL, 0);
	assert_int_equal(dp_rx_classify(buf, len, &h, &st, &why), DP_RX_SERVE);

	assert_int_equal(dp_rx_classify(buf, 39, &h, &st, &why), DP_RX_DROP);
	assert_int_equal(why, DP_DROP_WEFT_SHORT);
	buf[0] ^= 0xff;
	assert_int_equal(dp_rx_classify(buf, len, &h, &st, &why), DP_RX_DROP);
	assert_int_equal(why, DP_DROP_WEFT_MAGIC);
	buf[0] ^= 0xff;
	buf[4] = WEFT_F_RESPONSE;
	assert_int_equal(dp_rx_classify(buf, len, &h, &st, &why), DP_RX_DROP);
	assert_int_equal(why, DP_DROP_WEFT_RESPONSE);
	buf[4] = 0x80; /* unknown flag */
	assert_int_equal(dp_rx_classify(buf, len, &h, &st, &why), DP_RX_ANSWER);
	assert_int_equal(st, WEFT_ST_BAD_REQUEST);
	buf[4] = WEFT_F_RETRY; /* known, informative */
	assert_int_equal(dp_rx_classify(buf, len, &h, &st, &why), DP_RX_SERVE);
	buf[4] = 0;
	buf[2] = 2; /* version */
	assert_int_equal(dp_rx_classify(buf, len, &h, &st, &why), DP_RX_ANSWER);
	assert_int_equal(st, WEFT_ST_BAD_VERSION);
	buf[2] = 1;
	/* msg_len disagreeing with the datagram: longer -> a piece, shorter -> bad. */
	len = build_req(buf, WEFT_OP_PUT, "c", "k", "0123456789abcdef", 16, "v", 1);
	memcpy(&h, buf, sizeof(h));
	h.msg_len += 100;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(dp_rx_classify(buf, len, &h, &st, &why), DP_RX_PIECE);
	h.msg_len -= 101;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(dp_rx_classify(buf, len, &h, &st, &why), DP_RX_ANSWER);
	assert_int_equal(st, WEFT_ST_BAD_REQUEST);
	/* key and value limits */
	len = build_req(buf, WEFT_OP_GET, "c", "k", NULL, 0, NULL, 0);
	memcpy(&h, buf, sizeof(h));
	h.key_len = WEFT_MAX_KEY_LEN + 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(dp_rx_classify(buf, len, &h, &st, &why), DP_RX_ANSWER);
	assert_int_equal(st, WEFT_ST_KEY_TOO_LONG);
	len = build_req(buf, WEFT_OP_PUT, "c", "k", "0123456789abcdef", 16, "v", 1);
	memcpy(&h, buf, sizeof(h));
	h.msg_len = 1 + 1 + 16 + WEFT_MAX_VALUE_LEN + 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(dp_rx_classify(buf, len, &h, &st, &why), DP_RX_ANSWER);
	assert_int_equal(st, WEFT_ST_VALUE_TOO_LARGE);
}

static void test_request_validation(void **state)
{
	(void)state;
	uint8_t buf[2048];
	struct dp_req req;
	struct weft_x_write xw = {0, 0};
	uint32_t len;

	len = build_req(buf, WEFT_OP_PUT, "sessions", "k1", &xw, sizeof(xw), "hello", 5);
	assert_int_equal(validate(buf, len, &req), WEFT_ST_OK);
	assert_int_equal(req.value_len, 5);
	assert_memory_equal(req.value, "hello", 5);
	assert_memory_equal(req.key, "k1", 2);
	assert_memory_equal(req.name, "sessions", 8);

	len = build_req(buf, 0x40, "c", "k", NULL, 0, NULL, 0);
	assert_int_equal(validate(buf, len, &req), WEFT_ST_UNKNOWN_OP);
	len = build_req(buf, WEFT_OP_PUT, "c", "k", &xw, 8, "v", 1); /* short extras */
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	len = build_req(buf, WEFT_OP_GET, "c", "k", &xw, 16, NULL, 0); /* extras on GET */
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	len = build_req(buf, WEFT_OP_GET, "", "k", NULL, 0, NULL, 0); /* no name */
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	len = build_req(buf, WEFT_OP_GET, "c", "", NULL, 0, NULL, 0); /* no key */
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	len = build_req(buf, WEFT_OP_GET, "c", "k", NULL, 0, "v", 1); /* value on GET */
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	len = build_req(buf, WEFT_OP_PING, "c", "", NULL, 0, NULL, 0); /* name on PING */
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	len = build_req(buf, WEFT_OP_STATS, "", "k", NULL, 0, NULL, 0); /* key on STATS */
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	char longname[WEFT_MAX_NAME_LEN + 2];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	len = build_req(buf, WEFT_OP_GET, longname, "k", NULL, 0, NULL, 0);
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);

	struct weft_x_fetch xf = {WEFT_MAX_DGRAM_PAYLOAD, 4};
	len = build_req(buf, WEFT_OP_FETCH, "", "", &xf, sizeof(xf), NULL, 0);
	assert_int_equal(validate(buf, len, &req), WEFT_ST_OK);
	xf.offset = 5;
	len = build_req(buf, WEFT_OP_FETCH, "", "", &xf, sizeof(xf), NULL, 0);
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	xf.offset = 0;
	xf.count = WEFT_RESP_INITIAL_WINDOW + 1;
	len = build_req(buf, WEFT_OP_FETCH, "", "", &xf, sizeof(xf), NULL, 0);
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	xf.count = 0;
	len = build_req(buf, WEFT_OP_FETCH, "", "", &xf, sizeof(xf), NULL, 0);
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
}

static uint32_t mget_list(uint8_t *out, uint16_t count, const char *const *keys, unsigned n)
{
	memcpy(out, &count, 2);
	uint32_t p = 2;
	for (unsigned i = 0; i < n; i++) {
		uint16_t kl = (uint16_t)strlen(keys[i]);
		memcpy(out + p, &kl, 2);
		memcpy(out + p + 2, keys[i], kl);
		p += 2 + kl;
	}
	return p;
}

static void test_multi_get_list(void **state)
{
	(void)state;
	uint8_t buf[2048], list[1024];
	struct dp_req req;
	static const char *const keys[] = {"a", "bb", "ccc"};
	uint32_t ll = mget_list(list, 3, keys, 3);
	uint32_t len = build_req(buf, WEFT_OP_MULTI_GET, "c", "", NULL, 0, list, ll);
	assert_int_equal(validate(buf, len, &req), WEFT_ST_OK);
	uint32_t pos = 0;
	const uint8_t *k;
	uint16_t kl;
	for (unsigned i = 0; i < 3; i++) {
		assert_true(dp_mget_next(req.value, req.value_len, &pos, &k, &kl));
		assert_int_equal(kl, strlen(keys[i]));
		assert_memory_equal(k, keys[i], kl);
	}
	assert_false(dp_mget_next(req.value, req.value_len, &pos, &k, &kl));

	ll = mget_list(list, 4, keys, 3); /* count says more than there are */
	len = build_req(buf, WEFT_OP_MULTI_GET, "c", "", NULL, 0, list, ll);
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	ll = mget_list(list, 2, keys, 3); /* trailing bytes */
	len = build_req(buf, WEFT_OP_MULTI_GET, "c", "", NULL, 0, list, ll);
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	ll = mget_list(list, 3, keys, 3);
	len = build_req(buf, WEFT_OP_MULTI_GET, "c", "", NULL, 0, list, ll - 1); /* cut key */
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	len = build_req(buf, WEFT_OP_MULTI_GET, "c", "", NULL, 0, list, 1); /* no count */
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	uint16_t many = WEFT_MAX_MULTI_GET + 1;
	memcpy(list, &many, 2);
	len = build_req(buf, WEFT_OP_MULTI_GET, "c", "", NULL, 0, list, ll);
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
	static const char *const empty[] = {""};
	ll = mget_list(list, 1, empty, 1);
	len = build_req(buf, WEFT_OP_MULTI_GET, "c", "", NULL, 0, list, ll);
	assert_int_equal(validate(buf, len, &req), WEFT_ST_BAD_REQUEST);
}

/* --- EAL command line ------------------------------------------------ */

static int eal_args(const char *spec, unsigned n, char **argv, char *buf, size_t len)
{
	char *extra[] = {"--foo"};
	struct weft_dp_eal_opts o = {.port_spec = spec, .n_workers = n, .mem_mb = 0,
				     .n_extra = 1, .extra = extra};
	return weft_dp_eal_args(&o, argv, 63, buf, len);
}

static const char *find_arg(char **argv, int argc, const char *prefix)
{
	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], prefix, strlen(prefix)) == 0)
			return argv[i];
	return NULL;
}

static void test_eal_args(void **state)
{
	(void)state;
	char *argv[64];
	char buf[4096];
	int argc = eal_args("af_packet:wdp1", 3, argv, buf, sizeof(buf));
	assert_true(argc > 0);
	assert_null(argv[argc]);
	assert_string_equal(argv[argc - 1], "--foo"); /* extra EAL arguments last */
	const char *v = find_arg(argv, argc, "--vdev=");
	assert_non_null(v);
	assert_non_null(strstr(v, "net_af_packet0,iface=wdp1,qpairs=3,"));
	assert_non_null(strstr(v, "framecnt=4096"));
	assert_non_null(find_arg(argv, argc, "--no-pci"));
	assert_non_null(find_arg(argv, argc, "--no-huge"));
	assert_non_null(find_arg(argv, argc, "--no-shconf"));
	assert_non_null(find_arg(argv, argc, "weft-")); /* own --file-prefix */
	const char *m = NULL;
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], "-m") == 0)
			m = argv[i + 1];
	assert_string_equal(m, "256");
	const char *map = NULL;
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], "--lcores") == 0)
			map = argv[i + 1];
	assert_non_null(map); /* main + 3 workers: "0@a,1@b,2@c,3@d" */
	assert_int_equal(strncmp(map, "0@", 2), 0);
	assert_non_null(strstr(map, ",3@"));
	assert_null(strstr(map, ",4@"));

	/* --hugepages (a NIC): the EAL's memory from hugepages, still -m MEM. */
	char *none[] = {NULL};
	struct weft_dp_eal_opts huge = {.port_spec = "0000:01:00.0", .n_workers = 2,
					.mem_mb = 1024, .hugepages = true, .extra = none};
	argc = weft_dp_eal_args(&huge, argv, 63, buf, sizeof(buf));
	assert_true(argc > 0);
	assert_null(find_arg(argv, argc, "--no-huge"));
	assert_null(find_arg(argv, argc, "--no-pci"));
	assert_non_null(find_arg(argv, argc, "0000:01:00.0"));
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], "-m") == 0)
			m = argv[i + 1];
	assert_string_equal(m, "1024");

	argc = eal_args("af_xdp:eth1", 1, argv, buf, sizeof(buf));
	assert_non_null(strstr(find_arg(argv, argc, "--vdev="), "start_queue=0,queue_count=1"));
	argc = eal_args("tap", 1, argv, buf, sizeof(buf));
	assert_string_equal(find_arg(argv, argc, "--vdev="), "--vdev=net_tap0");
	argc = eal_args("tap:wt0", 1, argv, buf, sizeof(buf));
	assert_string_equal(find_arg(argv, argc, "--vdev="), "--vdev=net_tap0,iface=wt0");
	argc = eal_args("memif:/tmp/m.sock,role=server", 1, argv, buf, sizeof(buf));
	assert_string_equal(find_arg(argv, argc, "--vdev="),
			    "--vdev=net_memif0,socket=/tmp/m.sock,socket-abstract=no,role=server");
	argc = eal_args("0000:03:00.1", 2, argv, buf, sizeof(buf));
	assert_null(find_arg(argv, argc, "--no-pci"));
	assert_null(find_arg(argv, argc, "--vdev="));
	assert_non_null(find_arg(argv, argc, "0000:03:00.1"));

	assert_int_equal(eal_args("bogus:x", 1, argv, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(eal_args("af_packet", 1, argv, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(eal_args("af_packet:wdp1", 1, argv, buf, 40), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_ok_and_truncations),
		cmocka_unit_test(test_ip_malformed),
		cmocka_unit_test(test_udp_malformed),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_header_verdicts),
		cmocka_unit_test(test_request_validation),
		cmocka_unit_test(test_multi_get_list),
		cmocka_unit_test(test_eal_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
