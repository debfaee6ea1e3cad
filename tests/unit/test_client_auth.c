/*
 * test_client_auth.c — libweft's client key (client/auth.c) against the
 * fake node of test_client_peer.c holding the same key:
 *  - opts.key_file (and WEFT_CLIENT_KEY_FILE through weft_client_opts_init):
 *    every request verifies at the node, sealed answers are taken;
 *  - an answer that is not sealed (or sealed with another key) is ignored
 *    and counted (c->auth_refused, c->ignored), the call times out;
 *  - a bare UNAUTHORIZED answer ends the call with -WEFT_ST_UNAUTHORIZED;
 *  - a key file with a bad mode makes weft_client_connect fail (EPERM) and
 *    weft_key_check say why; weft_key_generate writes a usable key.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "client_internal.h"
#include "sec.h"
#include "test_client_peer.h"

static char dir[64], key_path[128], other_path[128];
static struct weft_sec_key node_key;

enum mode { SEALED, UNSEALED, UNAUTHORIZED };
struct node {
	enum mode mode;
	unsigned served;
};

static void handler(struct peer *p, const uint8_t *d, size_t len)
{
	struct node *n = p->ctx;
	struct weft_wire_hdr h;
	(void)len;
	memcpy(&h, d, sizeof(h));
	n->served++;
	p->seal_off = n->mode != SEALED;
	if (n->mode == UNAUTHORIZED)
		peer_reply(p, &h, WEFT_ST_UNAUTHORIZED, NULL, 0, NULL, 0);
	else
		peer_reply(p, &h, WEFT_ST_OK, NULL, 0, NULL, 0);
}

static weft_client *connect_with(struct peer *p, const char *key_file)
{
	struct weft_client_opts o;
	weft_client_opts_init(&o);
	o.timeout_ms = 100;
	o.retries = 1;
	o.key_file = key_file;
	return weft_client_connect(p->addr, &o);
}

static void test_sealed_round_trip(void **state)
{
	(void)state;
	struct node n = {SEALED, 0};
	struct peer p;
	peer_start_keyed(&p, handler, &n, &node_key);
	weft_client *c = connect_with(&p, key_path);
	assert_non_null(c);
	assert_int_equal(weft_ping(c), 0);
	assert_int_equal(weft_ping(c), 0);
	assert_int_equal(c->auth_refused, 0);
	weft_client_close(c);
	/* through the environment */
	struct weft_client_opts o;
	weft_client_opts_init(&o);
	assert_null(o.key_file);
	setenv("WEFT_CLIENT_KEY_FILE", key_path, 1);
	weft_client_opts_init(&o);
	unsetenv("WEFT_CLIENT_KEY_FILE");
	assert_string_equal(o.key_file, key_path);
	o.timeout_ms = 100;
	c = weft_client_connect(p.addr, &o);
	assert_non_null(c);
	assert_int_equal(weft_ping(c), 0);
	weft_client_close(c);
	peer_stop(&p);
	assert_int_equal(p.auth_bad, 0);
	assert_int_equal(n.served, 3);
}

static void test_unsealed_answers_are_ignored(void **state)
{
	(void)state;
	struct node n = {UNSEALED, 0};
	struct peer p;
	peer_start_keyed(&p, handler, &n, &node_key);
	weft_client *c = connect_with(&p, key_path);
	assert_non_null(c);
	assert_int_equal(weft_ping(c), -WEFT_ST_TIMEOUT);
	assert_int_equal(c->auth_refused, 2); /* the first answer and the retry's */
	assert_true(c->ignored >= 2);
	weft_client_close(c);
	/* a client with another key: the node drops its requests */
	c = connect_with(&p, other_path);
	assert_non_null(c);
	assert_int_equal(weft_ping(c), -WEFT_ST_TIMEOUT);
	weft_client_close(c);
	peer_stop(&p);
	assert_int_equal(p.auth_bad, 2);
}

static void test_unauthorized_ends_the_call(void **state)
{
	(void)state;
	struct node n = {UNAUTHORIZED, 0};
	struct peer p;
	peer_start_keyed(&p, handler, &n, &node_key);
	weft_client *c = connect_with(&p, key_path);
	assert_non_null(c);
	assert_int_equal(weft_ping(c), -WEFT_ST_UNAUTHORIZED);
	assert_int_equal(n.served, 1); /* not retried */
	assert_string_equal(weft_status_name(-WEFT_ST_UNAUTHORIZED), "UNAUTHORIZED");
	weft_client_close(c);
	peer_stop(&p);
}

static void test_bad_key_files(void **state)
{
	(void)state;
	char err[256], path[160];
	snprintf(path, sizeof(path), "%s/loose", dir);
	assert_int_equal(weft_key_generate(path, err, sizeof(err)), 0);
	assert_int_equal(weft_key_check(path, err, sizeof(err)), 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(weft_key_check(path, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "mode 0644"));
	struct weft_client_opts o;
	weft_client_opts_init(&o);
	o.key_file = path;
	errno = 0;
	assert_null(weft_client_connect("127.0.0.1:7", &o));
	assert_int_equal(errno, EPERM);
	assert_int_equal(weft_key_generate(path, err, sizeof(err)), -EEXIST);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_client_auth_XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(key_path, sizeof(key_path), "%s/client.key", dir);
	snprintf(other_path, sizeof(other_path), "%s/other.key", dir);
	char err[256];
	if (weft_key_generate(key_path, err, sizeof(err)) != 0 ||
	    weft_key_generate(other_path, err, sizeof(err)) != 0)
		return -1;
	return weft_sec_key_load(&node_key, key_path, WEFT_AUTH_CLIENT, WEFT_AUTH_MAC, err,
				 sizeof(err));
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	unsetenv("WEFT_CLIENT_KEY_FILE");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sealed_round_trip),
		cmocka_unit_test(test_unsealed_answers_are_ignored),
		cmocka_unit_test(test_unauthorized_ends_the_call),
		cmocka_unit_test(test_bad_key_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
