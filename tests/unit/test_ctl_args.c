/*
 * test_ctl_args.c — weftd's command line (control/ctl_args.c): the cluster
 * options (--clustered, --mcast-group, --peers, --node-name) and what a
 * plain single node keeps, plus the node-id text <-> bytes helpers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"

static int parse(struct weft_ctl_args *a, ...)
{
	char *argv[32] = {"weftd", "--port", "af_packet:x", "--bind", "10.1.2.3"};
	int argc = 5;
	va_list ap;
	va_start(ap, a);
	for (char *s; (s = va_arg(ap, char *)) != NULL && argc < 31;)
		argv[argc++] = s;
	va_end(ap);
	/* The parser prints errors and usage to stderr: silence them. */
	fflush(stderr);
	int saved = dup(2), null = open("/dev/null", O_WRONLY);
	assert_true(saved >= 0 && null >= 0);
	dup2(null, 2);
	int rc = weft_ctl_args_parse(argc, argv, a);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(null);
	return rc;
}

static uint32_t ip(const char *s)
{
	uint32_t v;
	assert_int_equal(inet_pton(AF_INET, s, &v), 1);
	return v;
}

static void test_single_node_defaults(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	assert_int_equal(parse(&a, NULL), 0);
	assert_false(a.clustered);
	assert_int_equal(a.n_peers, 0);
	assert_int_equal(a.mcast_group, htonl(WEFT_DP_DEFAULT_GROUP));
	/* Default name: host name (sanitised), '-', pid; always valid. */
	char suffix[16];
	snprintf(suffix, sizeof(suffix), "-%ld", (long)getpid());
	assert_true(weft_ctl_name_valid(a.node_name));
	assert_string_equal(a.node_name + strlen(a.node_name) - strlen(suffix), suffix);
	assert_int_equal(a.segments, 256);
	assert_int_equal(a.owners, 2);
}

static void test_cluster_options(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	assert_int_equal(parse(&a, "--clustered", "--mcast-group", "239.1.2.3", "--node-name",
			       "n1.a_b-C", "--offset", "100", NULL), 0);
	assert_true(a.clustered);
	assert_int_equal(a.mcast_group, ip("239.1.2.3"));
	assert_string_equal(a.node_name, "n1.a_b-C");
	assert_int_equal(a.offset, 100);

	assert_int_equal(parse(&a, "--peers", "10.0.0.1,10.0.0.2,10.1.2.3", NULL), 0);
	assert_false(a.clustered); /* --peers alone: multicast stays off */
	assert_int_equal(a.n_peers, 3);
	assert_int_equal(a.peers[0], ip("10.0.0.1"));
	assert_int_equal(a.peers[2], ip("10.1.2.3"));

	char list[16 * 16];
	list[0] = '\0';
	for (int i = 1; i <= 16; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s10.0.0.%d",
			 i > 1 ? "," : "", i);
	assert_int_equal(parse(&a, "--peers", list, NULL), 0);
	assert_int_equal(a.n_peers, 16);

	assert_int_equal(parse(&a, "--segments", "1024", "--owners", "3", NULL), 0);
	assert_int_equal(a.segments, 1024);
	assert_int_equal(a.owners, 3);
	assert_int_equal(parse(&a, "--segments", "1", "--owners", "1", NULL), 0);
	assert_int_equal(a.segments, 1);
	assert_int_equal(parse(&a, "--segments", "65536", NULL), 0);
	assert_int_equal(a.segments, 65536);
}

static void test_bad_cluster_options(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	char long_name[66];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	char seventeen[17 * 16] = "";
	for (int i = 1; i <= 17; i++)
		snprintf(seventeen + strlen(seventeen), sizeof(seventeen) - strlen(seventeen),
			 "%s10.0.0.%d", i > 1 ? "," : "", i);
	const char *bad[][2] = {
		{"--mcast-group", "10.0.0.1"},   /* not multicast */
		{"--mcast-group", "nope"},
		{"--peers", ""},
		{"--peers", "10.0.0.1,,x"},
		{"--peers", "239.77.0.1"},       /* a group is not a peer */
		{"--peers", "255.255.255.255"},
		{"--peers", "0.0.0.0"},
		{"--peers", seventeen},
		{"--node-name", ""},
		{"--node-name", "has space"},
		{"--node-name", "slash/no"},
		{"--node-name", long_name},
		{"--segments", "0"},
		{"--segments", "100"},           /* not a power of two */
		{"--segments", "131072"},        /* above 2^16 */
		{"--segments", "-256"},
		{"--owners", "0"},
		{"--owners", "9"},
		{"--owners", "x"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(&a, bad[i][0], bad[i][1], NULL), -EINVAL);
	long_name[64] = '\0'; /* 64 bytes: the limit */
	assert_int_equal(parse(&a, "--node-name", long_name, NULL), 0);
	/* The cluster port (7701 + K) must exist; a single node only needs 7700 + K. */
	assert_int_equal(parse(&a, "--offset", "57835", NULL), 0);
	assert_int_equal(parse(&a, "--offset", "57835", "--clustered", NULL), -EINVAL);
}

static void test_partition_handling(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	assert_int_equal(parse(&a, "--peers", "10.0.0.1", NULL), 0);
	assert_int_equal(a.partition, WEFT_CTL_PARTITION_ALLOW); /* the default */
	assert_int_equal(parse(&a, "--partition-handling", "quorum", NULL), 0);
	assert_int_equal(a.partition, WEFT_CTL_PARTITION_QUORUM);
	assert_int_equal(parse(&a, "--partition-handling", "allow", NULL), 0);
	assert_int_equal(a.partition, WEFT_CTL_PARTITION_ALLOW);
	assert_int_equal(parse(&a, "--partition-handling", "majority", NULL), -EINVAL);
	assert_int_equal(parse(&a, "--partition-handling", NULL), -EINVAL);
}

/* --cluster-key, --encrypt (needs the cluster key), --client-key. */
static void test_keys(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	assert_int_equal(parse(&a, NULL), 0);
	assert_null(a.cluster_key_file);
	assert_null(a.client_key_file);
	assert_false(a.encrypt);
	assert_int_equal(parse(&a, "--cluster-key", "/k/c", "--client-key", "/k/u", NULL), 0);
	assert_string_equal(a.cluster_key_file, "/k/c");
	assert_string_equal(a.client_key_file, "/k/u");
	assert_false(a.encrypt);
	assert_int_equal(parse(&a, "--encrypt", "--cluster-key", "/k/c", NULL), 0);
	assert_true(a.encrypt);
	assert_int_equal(parse(&a, "--encrypt", NULL), -EINVAL);
	assert_int_equal(parse(&a, "--encrypt", "--client-key", "/k/u", NULL), -EINVAL);
	assert_int_equal(parse(&a, "--cluster-key", NULL), -EINVAL);
	assert_int_equal(a.log_level, WEFT_LOG_INFO);
	assert_int_equal(parse(&a, "--log-level", "warn", NULL), 0);
	assert_int_equal(a.log_level, WEFT_LOG_WARN);
	assert_int_equal(parse(&a, "--verbose", NULL), 0);
	assert_int_equal(a.log_level, WEFT_LOG_DEBUG);
	assert_int_equal(parse(&a, "--log-level", "loud", NULL), -EINVAL);
	/* memcached clients cannot carry a client key: with --client-key the
	 * endpoint is off, and turning it on is refused. */
	assert_int_equal(parse(&a, NULL), 0);
	assert_int_equal(a.mc_port, 11211);
	assert_int_equal(parse(&a, "--client-key", "/k/u", NULL), 0);
	assert_int_equal(a.mc_port, 0);
	assert_int_equal(parse(&a, "--client-key", "/k/u", "--memcached-port", "11311", NULL),
			 -EINVAL);
	assert_int_equal(parse(&a, "--client-key", "/k/u", "--memcached-port", "0", NULL), 0);
	assert_int_equal(a.mc_port, 0);
}

static void test_uuid_parse(void **state)
{
	(void)state;
	uint8_t raw[16], back[16];
	char text[37];
	for (int i = 0; i < 16; i++)
		raw[i] = (uint8_t)(0x11 * i + 3);
	weft_ctl_uuid_format(raw, text);
	assert_int_equal(weft_ctl_uuid_parse(text, back), 0);
	/* Every byte comes back, except the version and variant bits the
	 * format sets; formatting again gives the same text. */
	for (int i = 0; i < 16; i++)
		if (i != 6 && i != 8)
			assert_int_equal(back[i], raw[i]);
	assert_int_equal(back[6], (raw[6] & 0x0f) | 0x40);
	assert_int_equal(back[8], (raw[8] & 0x3f) | 0x80);
	char again[37];
	weft_ctl_uuid_format(back, again);
	assert_string_equal(text, again);
	assert_int_equal(weft_ctl_uuid_parse("not-a-uuid", back), -EINVAL);
	assert_int_equal(weft_ctl_uuid_parse("0123456789abcdef0123456789abcdef0123", back), -EINVAL);
	assert_int_equal(weft_ctl_uuid_parse("01234567-89AB-4def-8123-456789abcdef", back), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_node_defaults),
		cmocka_unit_test(test_cluster_options),
		cmocka_unit_test(test_bad_cluster_options),
		cmocka_unit_test(test_partition_handling),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_uuid_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
