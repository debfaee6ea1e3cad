/*
 * Unit tests of weft-perf's DPDK mode's frames (perf/weft_perf_dpdk_pkt.c), no EAL
 * needed: the request templates are valid frames carrying the kernel
 * weft-perf's encoding, the request id sits where the loop patches it, a
 * weftd-style answer is matched (hit, miss, error) and anything else is not
 * (other client, our own request, truncated frames), the macswap echo is
 * accepted only in echo mode and only when it came from someone else, and
 * ARP request / reply round-trip.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <weft/wire.h>

#include "weft_perf_dpdk_internal.h"

#define CLIENT 0x1234567u

static const struct rte_ether_addr our_mac = { { 0x02, 0, 0, 0, 0, 0x01 } };
static const struct rte_ether_addr node_mac = { { 0x02, 0, 0, 0, 0, 0x02 } };

static void config(struct wpd_config *c, double get_ratio)
{
	memset(c, 0, sizeof(*c));
	c->base = (struct wp_config){ .proto = WP_PROTO_WEFT, .threads = 1, .depth = 8,
				      .get_ratio = get_ratio, .keys = 100, .key_size = 16,
				      .value_size = 100, .cache = "perf", .timeout_ms = 100 };
	c->src_ip = htonl(0x0ae90001); /* 10.233.0.1 */
	c->dst_ip = htonl(0x0ae90002);
	c->dst_port = WEFT_DEFAULT_PORT;
	c->src_port_base = 20000;
	c->flows = 4;
	c->src_mac = our_mac;
	c->dst_mac = node_mac;
	c->dst_mac_set = true;
}

static struct weft_wire_hdr hdr_of(const uint8_t *f)
{
	struct weft_wire_hdr h;
	memcpy(&h, f + WPD_HDRS, sizeof(h));
	return h;
}

static void test_templates_are_valid_frames(void **state)
{
	(void)state;
	struct wpd_config c;
	struct wpd_templates t;
	config(&c, 0.5);
	assert_int_equal(wpd_templates_build(&t, &c, CLIENT), 0);
	assert_non_null(t.put);
	assert_int_equal(t.id_off, WPD_HDRS + offsetof(struct weft_wire_hdr, request_id));
	for (uint64_t k = 0; k < c.base.keys; k += 33) {
		for (int put = 0; put < 2; put++) {
			uint8_t *f = (put ? t.put : t.get) + k * t.stride;
			uint16_t len = put ? t.put_len : t.get_len;
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + RTE_ETHER_HDR_LEN);
			struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
			assert_int_equal(rte_be_to_cpu_16(ip->total_length), len - RTE_ETHER_HDR_LEN);
			uint16_t sum = ip->hdr_checksum;
			ip->hdr_checksum = 0;
			assert_int_equal(rte_ipv4_cksum(ip), sum);
			ip->hdr_checksum = sum;
			assert_int_equal(rte_be_to_cpu_16(udp->dst_port), WEFT_DEFAULT_PORT);
			assert_int_equal(rte_be_to_cpu_16(udp->dgram_len), len - RTE_ETHER_HDR_LEN - 20);
			struct weft_wire_hdr h = hdr_of(f);
			assert_int_equal(h.magic, WEFT_WIRE_MAGIC);
			assert_int_equal(h.opcode, put ? WEFT_OP_PUT : WEFT_OP_GET);
			assert_int_equal(h.client_id, CLIENT);
			/* the F_COOKIE trailer ends it (wire.h "Trailers") */
			assert_true(h.flags & WEFT_F_COOKIE);
			assert_int_equal(h.msg_len, len - WPD_HDRS - sizeof(h) - WEFT_COOKIE_LEN);
			char key[16];
			wp_key(key, 16, k);
			assert_memory_equal(f + WPD_HDRS + sizeof(h) + 4, key, 16);
		}
	}
	wpd_templates_free(&t);
	config(&c, 1.0); /* all gets: no PUT frames */
	assert_int_equal(wpd_templates_build(&t, &c, CLIENT), 0);
	assert_null(t.put);
	wpd_templates_free(&t);
}

/* --mget: one MULTI_GET frame, valid as built, whose keys sit where the
 * loop overwrites them (every key the same size: lengths and the IPv4
 * checksum hold for any keys); the GET frames hold each key at key_off. */
static void test_mget_template(void **state)
{
	(void)state;
	struct wpd_config c;
	struct wpd_templates t;
	config(&c, 0.9);
	c.base.mget = 4;
	assert_int_equal(wpd_templates_build(&t, &c, CLIENT), 0);
	assert_non_null(t.mget);
	struct weft_wire_hdr h = hdr_of(t.mget);
	assert_int_equal(h.opcode, WEFT_OP_MULTI_GET);
	assert_int_equal(h.msg_len, 4 + 2 + 4 * (2 + 16));
	assert_int_equal(t.mget_len, WPD_HDRS + sizeof(h) + h.msg_len + WEFT_COOKIE_LEN);
	assert_int_equal(weft_wire_check(&h, t.mget_len - WPD_HDRS - WEFT_COOKIE_LEN), WEFT_ST_OK);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(t.mget + RTE_ETHER_HDR_LEN);
	assert_int_equal(rte_be_to_cpu_16(ip->total_length), t.mget_len - RTE_ETHER_HDR_LEN);
	for (unsigned i = 0; i < 4; i++) {
		uint16_t kl;
		memcpy(&kl, t.mget + t.mget_key_off + i * (2 + 16) - 2, 2);
		assert_int_equal(kl, 16);
		char key[16];
		wp_key(key, 16, i);
		assert_memory_equal(t.mget + t.mget_key_off + i * (2 + 16), key, 16);
	}
	for (uint64_t k = 0; k < c.base.keys; k += 17) {
		char key[16];
		wp_key(key, 16, k);
		assert_memory_equal(t.get + k * t.stride + t.key_off, key, 16);
	}
	uint8_t ck[WEFT_COOKIE_LEN];
	memset(ck, 0x5a, sizeof(ck));
	wpd_templates_set_cookie(&t, &c.base, ck);
	assert_memory_equal(t.mget + t.mget_len - WEFT_COOKIE_LEN, ck, WEFT_COOKIE_LEN);
	wpd_templates_free(&t);
	assert_null(t.mget);
}

/* Turns a request frame into weftd's answer: addresses swapped, RESPONSE
 * flag, status, and for an OK GET the version extras and a value. */
static uint32_t make_answer(const uint8_t *req, uint16_t len, uint16_t status, uint8_t *out)
{
	memcpy(out, req, len);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)out;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	rte_ether_addr_copy(&our_mac, &eth->dst_addr);
	rte_ether_addr_copy(&node_mac, &eth->src_addr);
	uint32_t a = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = a;
	uint16_t p = udp->src_port;
	udp->src_port = udp->dst_port;
	udp->dst_port = p;
	struct weft_wire_hdr h = hdr_of(out);
	h.flags = WEFT_F_RESPONSE;
	h.status = status;
	h.name_len = 0;
	h.key_len = 0;
	h.extras_len = 0;
	h.msg_len = 0;
	if (status == WEFT_ST_OK) {
		h.extras_len = sizeof(struct weft_x_version);
		h.msg_len = h.extras_len + (h.opcode == WEFT_OP_GET ? 100 : 0);
		memset(out + WPD_HDRS + sizeof(h), 'v', h.msg_len);
	}
	memcpy(out + WPD_HDRS, &h, sizeof(h));
	uint32_t plen = (uint32_t)sizeof(h) + h.msg_len;
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + plen));
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + sizeof(*udp) + plen));
	return WPD_HDRS + plen;
}

static void test_answers_are_matched(void **state)
{
	(void)state;
	struct wpd_config c;
	struct wpd_templates t;
	uint8_t req[WPD_HDRS + 400], ans[WPD_HDRS + 400];
	uint64_t id = 0, want = (uint64_t)77 << WPD_SLOT_BITS | 5;
	enum wp_result res;
	config(&c, 0.5);
	assert_int_equal(wpd_templates_build(&t, &c, CLIENT), 0);

	memcpy(req, t.get + 7 * t.stride, t.get_len);
	memcpy(req + t.id_off, &want, 8);
	uint32_t n = make_answer(req, t.get_len, WEFT_ST_OK, ans);
	assert_true(wpd_parse_answer(&c, CLIENT, ans, n, &id, &res));
	assert_int_equal(id, want);
	assert_int_equal(res, WP_R_HIT);
	n = make_answer(req, t.get_len, WEFT_ST_NOT_FOUND, ans);
	assert_true(wpd_parse_answer(&c, CLIENT, ans, n, &id, &res));
	assert_int_equal(res, WP_R_MISS);
	n = make_answer(req, t.get_len, WEFT_ST_NO_MEMORY, ans);
	assert_true(wpd_parse_answer(&c, CLIENT, ans, n, &id, &res));
	assert_int_equal(res, WP_R_ERROR);

	memcpy(req, t.put + 3 * t.stride, t.put_len);
	n = make_answer(req, t.put_len, WEFT_ST_OK, ans);
	assert_true(wpd_parse_answer(&c, CLIENT, ans, n, &id, &res));
	assert_int_equal(res, WP_R_STORED);

	/* Not ours: another client, our own request, truncated, not from the node. */
	assert_false(wpd_parse_answer(&c, CLIENT + 1, ans, n, &id, &res));
	assert_false(wpd_parse_answer(&c, CLIENT, req, t.put_len, &id, &res));
	for (uint32_t cut = 0; cut < WPD_HDRS + sizeof(struct weft_wire_hdr); cut += 7)
		assert_false(wpd_parse_answer(&c, CLIENT, ans, cut, &id, &res));
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(ans + RTE_ETHER_HDR_LEN);
	ip->src_addr ^= htonl(1);
	assert_false(wpd_parse_answer(&c, CLIENT, ans, n, &id, &res));
	wpd_templates_free(&t);
}

static void test_echo_mode(void **state)
{
	(void)state;
	struct wpd_config c;
	struct wpd_templates t;
	uint8_t f[WPD_HDRS + 400];
	uint64_t id = 0, want = (uint64_t)9 << WPD_SLOT_BITS | 3;
	enum wp_result res;
	config(&c, 0.5);
	c.echo = true;
	assert_int_equal(wpd_templates_build(&t, &c, CLIENT), 0);
	memcpy(f, t.get, t.get_len);
	memcpy(f + t.id_off, &want, 8);
	/* Our own transmission (af_packet shows it) is not an answer... */
	assert_false(wpd_parse_answer(&c, CLIENT, f, t.get_len, &id, &res));
	/* ...the same frame with its MACs swapped (testpmd macswap) is. */
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	struct rte_ether_addr tmp = eth->dst_addr;
	eth->dst_addr = eth->src_addr;
	eth->src_addr = tmp;
	assert_true(wpd_parse_answer(&c, CLIENT, f, t.get_len, &id, &res));
	assert_int_equal(id, want);
	assert_int_equal(res, WP_R_HIT);
	c.echo = false; /* outside echo mode a returned request is not an answer */
	assert_false(wpd_parse_answer(&c, CLIENT, f, t.get_len, &id, &res));
	wpd_templates_free(&t);
}

static void test_arp_and_control(void **state)
{
	(void)state;
	struct wpd_config c;
	uint8_t f[WPD_HDRS + 256];
	struct rte_ether_addr mac;
	config(&c, 0.9);
	uint16_t n = wpd_frame_arp_request(&c, f);
	/* Turn the request into the node's reply. */
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(f + RTE_ETHER_HDR_LEN);
	assert_false(wpd_parse_arp_reply(&c, f, n, &mac)); /* a request is no reply */
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	a->arp_data.arp_tha = a->arp_data.arp_sha;
	a->arp_data.arp_tip = a->arp_data.arp_sip;
	a->arp_data.arp_sha = node_mac;
	a->arp_data.arp_sip = c.dst_ip;
	assert_true(wpd_parse_arp_reply(&c, f, n, &mac));
	assert_true(rte_is_same_ether_addr(&mac, &node_mac));
	assert_false(wpd_parse_arp_reply(&c, f, 20, &mac));
	a->arp_data.arp_sip ^= htonl(1);
	assert_false(wpd_parse_arp_reply(&c, f, n, &mac));

	n = wpd_frame_control(&c, CLIENT, WEFT_OP_CACHE_OPEN, 42, f);
	struct weft_wire_hdr h = hdr_of(f);
	assert_int_equal(h.opcode, WEFT_OP_CACHE_OPEN);
	assert_int_equal(h.name_len, 4);
	assert_int_equal(h.extras_len, sizeof(struct weft_x_cache_opts));
	assert_int_equal(h.msg_len, 4 + sizeof(struct weft_x_cache_opts));
	assert_int_equal(sizeof(struct weft_x_cache_opts), 40);
	struct weft_x_cache_opts xo;
	memcpy(&xo, f + WPD_HDRS + sizeof(h) + 4, sizeof(xo));
	assert_int_equal(xo.mode, WEFT_MODE_DEFAULT);
	assert_int_equal(xo.reserved, 0);
	assert_int_equal(n, WPD_HDRS + sizeof(h) + h.msg_len + WEFT_COOKIE_LEN);
	assert_int_equal(h.request_id, 42);
	n = wpd_frame_control(&c, CLIENT, WEFT_OP_PING, 43, f);
	h = hdr_of(f);
	assert_int_equal(h.msg_len, 0);
	assert_int_equal(n, WPD_HDRS + sizeof(h) + WEFT_COOKIE_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_templates_are_valid_frames),
		cmocka_unit_test(test_mget_template),
		cmocka_unit_test(test_answers_are_matched),
		cmocka_unit_test(test_echo_mode),
		cmocka_unit_test(test_arp_and_control),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
