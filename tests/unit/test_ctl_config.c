/*
 * test_ctl_config.c — weftd --config FILE (control/ctl_config.c): a file
 * with every option sets what the command line would; the command line
 * overrides the file; each kind of bad file gets one error naming the file,
 * the exact line and the option; command-line errors stay the parser's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "ctl_config.h"

static char path[64];
static char err[512];

/* Writes text to a fresh temporary file (its name in path). */
static void write_conf(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/test_ctl_config.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
}

/* Parses "weftd --config PATH ARGS..." (NULL-terminated). */
static int parse(struct weft_ctl_args *a, ...)
{
	char *argv[32] = {"weftd", "--config", path};
	int argc = 3;
	va_list ap;
	va_start(ap, a);
	for (char *s; (s = va_arg(ap, char *)) != NULL && argc < 31;)
		argv[argc++] = s;
	va_end(ap);
	err[0] = '\0';
	return weft_ctl_config_parse(argc, argv, a, err, sizeof(err));
}

/* A file with bad_line at line 3 must fail with exactly "PATH:3: want". */
static void expect_line3(const char *bad_line, const char *want)
{
	char text[1024], expect[700];
	struct weft_ctl_args a;
	snprintf(text, sizeof(text), "# weftd\nport = tap\n%s\nbind = 10.1.2.3\n", bad_line);
	write_conf(text);
	assert_int_equal(parse(&a, NULL), -EINVAL);
	snprintf(expect, sizeof(expect), "%s:3: %s", path, want);
	assert_string_equal(err, expect);
	unlink(path);
}

static uint32_t ip(const char *s)
{
	uint32_t v;
	assert_int_equal(inet_pton(AF_INET, s, &v), 1);
	return v;
}

static void test_every_option(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	write_conf("# every option of weftd\n"
		   "port = af_packet:eth1\n"
		   "bind = 10.1.2.3\n"
		   "\n"
		   "lcores = 3\n"
		   "home = /var/lib/weft/n1\n"
		   "offset = 10\n"
		   "poll = busy\n"
		   "mem = 512\n"
		   "verbose = true\n"
		   "clustered = true\n"
		   "mcast-group = 239.1.2.3\n"
		   "peers = 10.1.2.4,10.1.2.5\n"
		   "node-name = n1\n"
		   "segments = 1024\n"
		   "owners = 3\n"
		   "partition-handling = quorum\n"
		   "cluster-key = /etc/weft/cluster.key\n"
		   "encrypt = true\n"
		   "client-key = /etc/weft/client.key\n" /* memcached is off with it */
		   "unverified-reply-rate = 50\n"
		   "admin = 127.0.0.2:9300\n"
		   "memcached-port = 0\n"
		   "memcached-cache = mc\n"
		   "memcached-trust = 10.0.0.0/8\n"
		   "log-level = warn\n"
		   "hugepages = true\n");
	assert_int_equal(parse(&a, NULL), 0);
	assert_string_equal(a.port_spec, "af_packet:eth1");
	assert_int_equal(a.bind_ip, ip("10.1.2.3"));
	assert_int_equal(a.lcores, 3);
	assert_string_equal(a.home, "/var/lib/weft/n1");
	assert_int_equal(a.offset, 10);
	assert_int_equal(a.poll, WEFT_DP_POLL_BUSY);
	assert_int_equal(a.mem_mb, 512);
	assert_true(a.verbose);
	assert_true(a.clustered);
	assert_int_equal(a.mcast_group, ip("239.1.2.3"));
	assert_int_equal(a.n_peers, 2);
	assert_int_equal(a.peers[1], ip("10.1.2.5"));
	assert_string_equal(a.node_name, "n1");
	assert_int_equal(a.segments, 1024);
	assert_int_equal(a.owners, 3);
	assert_int_equal(a.partition, WEFT_CTL_PARTITION_QUORUM);
	assert_string_equal(a.cluster_key_file, "/etc/weft/cluster.key");
	assert_true(a.encrypt);
	assert_string_equal(a.client_key_file, "/etc/weft/client.key");
	assert_int_equal(a.unverified_rate, 50);
	assert_int_equal(a.admin_ip, ip("127.0.0.2"));
	assert_int_equal(a.admin_port, 9300);
	assert_int_equal(a.mc_port, 0);
	assert_int_equal(a.log_level, WEFT_LOG_WARN); /* after verbose: the later line wins */
	assert_true(a.hugepages);
	assert_string_equal(a.mc_cache, "mc");
	assert_int_equal(a.n_mc_trust, 1);
	assert_int_equal(a.mc_trust[0].ip, ip("10.0.0.0"));
	assert_int_equal(a.n_eal_extra, 0);
	unlink(path);
	weft_ctl_config_release();
}

/* Comments (whole-line # and ;, inline " #" and " ;"), indentation, CRLF,
 * flags set false, lists and eal-args over several lines. */
static void test_format(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	write_conf("; a comment\r\n"
		   "   port = tap   # indented, inline comment\r\n"
		   "bind=10.1.2.3 ; inih's inline comment\r\n"
		   "\tlcores = 2\r\n"
		   "verbose = false\r\n"
		   "peers = 10.1.2.4,10.1.2.5\r\n"
		   "peers = 10.1.2.6\r\n"
		   "eal-args = --log-level=7  --no-pci\r\n"
		   "eal-args = --huge-dir /mnt/huge\r\n");
	assert_int_equal(parse(&a, NULL), 0);
	assert_string_equal(a.port_spec, "tap");
	assert_int_equal(a.bind_ip, ip("10.1.2.3"));
	assert_int_equal(a.lcores, 2);
	assert_false(a.verbose);
	assert_int_equal(a.n_peers, 3);
	assert_int_equal(a.peers[2], ip("10.1.2.6"));
	assert_int_equal(a.n_eal_extra, 4);
	assert_string_equal(a.eal_extra[0], "--log-level=7");
	assert_string_equal(a.eal_extra[1], "--no-pci");
	assert_string_equal(a.eal_extra[2], "--huge-dir");
	assert_string_equal(a.eal_extra[3], "/mnt/huge");
	unlink(path);
	weft_ctl_config_release();
}

/* The command line wins, wherever --config stands on it; its EAL arguments
 * follow the file's. */
static void test_command_line_overrides(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	write_conf("port = tap\nbind = 10.1.2.3\nlcores = 2\nnode-name = from-file\n"
		   "poll = busy\nadmin = off\neal-args = --no-pci\n");
	assert_int_equal(parse(&a, "--lcores", "4", "--node-name=from-cli", "--poll", "adaptive",
			       "--", "--log-level=8", NULL),
			 0);
	assert_int_equal(a.lcores, 4);
	assert_string_equal(a.node_name, "from-cli");
	assert_int_equal(a.poll, WEFT_DP_POLL_ADAPTIVE);
	assert_string_equal(a.port_spec, "tap"); /* from the file */
	assert_int_equal(a.admin_port, 0);       /* off, from the file */
	assert_int_equal(a.n_eal_extra, 2);
	assert_string_equal(a.eal_extra[0], "--no-pci");
	assert_string_equal(a.eal_extra[1], "--log-level=8");

	char *argv[] = {"weftd", "--bind", "10.9.9.9", "--config", path, "--lcores", "5"};
	assert_int_equal(weft_ctl_config_parse(7, argv, &a, err, sizeof(err)), 0);
	assert_int_equal(a.bind_ip, ip("10.9.9.9"));
	assert_int_equal(a.lcores, 5);
	char *argv2[] = {"weftd", "--admin", "127.0.0.1:9400", "--config=/dev/null", "--port", "x",
			 "--bind", "10.1.1.1"};
	assert_int_equal(weft_ctl_config_parse(8, argv2, &a, err, sizeof(err)), 0);
	assert_int_equal(a.admin_port, 9400);
	unlink(path);
	weft_ctl_config_release();
}

static void test_bad_lines(void **state)
{
	(void)state;
	expect_line3("lcore = 2", "unknown option 'lcore'");
	expect_line3("lcores =", "option 'lcores' has no value");
	expect_line3("lcores", "not 'option = value'");
	expect_line3("lcores = 0",
		     "option 'lcores' refused (value '0'): --lcores needs 1..64");
	expect_line3("poll = sometimes",
		     "option 'poll' refused (value 'sometimes'): --poll is busy or adaptive");
	expect_line3("lcores = x   # a comment",
		     "option 'lcores' refused (value 'x'): --lcores needs 1..64");
	expect_line3("verbose = yes", "option 'verbose' takes true or false, not 'yes'");
	expect_line3("port = tap:again", "option 'port' given twice (first on line 2)");
	expect_line3("[weftd]", "sections ([...]) are not used: one 'option = value' a line");
	expect_line3("help = true", "'help' cannot be set in a config file");
	expect_line3("config = /etc/weft/other.conf", "'config' cannot be set in a config file");
	char longline[300];
	memset(longline, '1', sizeof(longline) - 1);
	memcpy(longline, "home = /", 8);
	longline[sizeof(longline) - 1] = '\0';
	expect_line3(longline, "line too long (at most 198 characters; peers, memcached-trust "
			       "and eal-args may be split over several lines)");
}

/* The first bad line is the one reported, be it inih's or ours. */
static void test_first_error_wins(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	char expect[600];
	write_conf("port = tap\nnot a pair\nlcore = 1\n");
	assert_int_equal(parse(&a, NULL), -EINVAL);
	snprintf(expect, sizeof(expect), "%s:2: not 'option = value'", path);
	assert_string_equal(err, expect);
	unlink(path);
	write_conf("port = tap\nlcore = 1\nnot a pair\n");
	assert_int_equal(parse(&a, NULL), -EINVAL);
	snprintf(expect, sizeof(expect), "%s:2: unknown option 'lcore'", path);
	assert_string_equal(err, expect);
	unlink(path);
}

static void test_unreadable(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	char *argv[] = {"weftd", "--config", "/nonexistent/weftd.conf"};
	assert_int_equal(weft_ctl_config_parse(3, argv, &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/nonexistent/weftd.conf: cannot read: No such file or directory");
	char *argv2[] = {"weftd", "--config=/tmp"};
	assert_int_equal(weft_ctl_config_parse(2, argv2, &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/tmp: cannot read: Is a directory");
}

/* Errors of the command line, or of the whole, with a config file. */
static void test_command_line_errors(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	char expect[600];
	write_conf("bind = 10.1.2.3\nencrypt = true\n");
	assert_int_equal(parse(&a, "--port", "tap", "--lcores", "0", NULL), -EINVAL);
	assert_string_equal(err, "--lcores needs 1..64");
	assert_int_equal(parse(&a, "--cluster-key", "/k", NULL), -EINVAL);
	snprintf(expect, sizeof(expect),
		 "--port is required (options from %s and the command line)", path);
	assert_string_equal(err, expect);
	assert_int_equal(parse(&a, "--port", "tap", NULL), -EINVAL);
	snprintf(expect, sizeof(expect),
		 "--encrypt needs --cluster-key (options from %s and the command line)", path);
	assert_string_equal(err, expect);
	assert_int_equal(parse(&a, "--port", "tap", "--cluster-key", "/k", "stray", NULL), -EINVAL);
	assert_string_equal(err, "unexpected argument");
	assert_int_equal(parse(&a, "--config", path, NULL), -EINVAL);
	assert_string_equal(err, "--config given twice");
	char *argv[] = {"weftd", "--port", "tap", "--config"};
	assert_int_equal(weft_ctl_config_parse(4, argv, &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--config needs a FILE");
	unlink(path);
	weft_ctl_config_release();
}

/* Without --config: the parser's own result. */
static void test_without_config(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	char *argv[] = {"weftd", "--port", "tap", "--bind", "10.1.2.3", "--lcores", "6"};
	assert_int_equal(weft_ctl_config_parse(7, argv, &a, err, sizeof(err)), 0);
	assert_int_equal(a.lcores, 6);
	char *bad[] = {"weftd", "--port", "tap"};
	assert_int_equal(weft_ctl_config_parse(3, bad, &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--bind is required");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_command_line_overrides),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_first_error_wins),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_command_line_errors),
		cmocka_unit_test(test_without_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
