/*
 * test_sec.c — sec/: sealing and opening datagrams (both algs, both
 * framings), every refusal (each tampered byte, wrong key, kind, alg,
 * window, truncation, missing flag), salt uniqueness, and key files
 * (raw, hex, modes, owner, lengths, bad hex, generation).
 */
#include <errno.h>
#include <fcntl.h>
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

#include "sec.h"

#define NOW 1700000000000ull

static void make_key(struct weft_sec_key *k, uint8_t fill, uint8_t kind, uint8_t alg)
{
	uint8_t raw[WEFT_AUTH_KEY_LEN];
	memset(raw, fill, sizeof(raw));
	assert_int_equal(weft_sec_key_from_bytes(k, raw, kind, alg), 0);
}

/* A weft request datagram of body bytes of payload into buf; its length. */
static size_t make_dgram(uint8_t *buf, uint32_t body)
{
	struct weft_wire_hdr h = {.magic = WEFT_WIRE_MAGIC, .version = WEFT_WIRE_VERSION,
				  .opcode = WEFT_OP_PUT, .flags = WEFT_F_NODE, .key_len = 3,
				  .client_id = 7, .request_id = 9, .msg_len = body};
	memcpy(buf, &h, sizeof(h));
	for (uint32_t i = 0; i < body; i++)
		buf[sizeof(h) + i] = (uint8_t)(i * 7 + 1);
	return sizeof(h) + body;
}

static void round_trip(uint8_t alg, bool wire, uint8_t kind)
{
	struct weft_sec_key k;
	struct weft_sec_tx tx;
	make_key(&k, 0x42, kind, alg);
	weft_sec_tx_init(&tx);
	uint8_t buf[2048], orig[2048];
	size_t len = make_dgram(buf, 300);
	memcpy(orig, buf, len);
	size_t sealed = weft_sec_seal(&k, &tx, NOW, wire, buf, len);
	assert_int_equal(sealed, len + WEFT_SEC_TRAILER_LEN);
	if (wire)
		assert_true(buf[offsetof(struct weft_wire_hdr, flags)] & WEFT_F_AUTH);
	/* AEAD hides the body; MAC leaves it readable. */
	size_t body = wire ? sizeof(struct weft_wire_hdr) : 0;
	if (alg == WEFT_AUTH_AEAD)
		assert_memory_not_equal(buf + body, orig + body, len - body);
	else
		assert_memory_equal(buf + body, orig + body, len - body);
	size_t plain = 0;
	uint8_t got_kind = 0;
	const struct weft_sec_key *cl = kind == WEFT_AUTH_CLUSTER ? &k : NULL;
	const struct weft_sec_key *cli = kind == WEFT_AUTH_CLIENT ? &k : NULL;
	assert_int_equal(weft_sec_open(cl, cli, NOW + 5, wire, buf, sealed, &plain, &got_kind),
			 WEFT_SEC_OK);
	assert_int_equal(plain, len);
	assert_int_equal(got_kind, kind);
	assert_memory_equal(buf, orig, len); /* F_AUTH cleared again */
	weft_sec_key_wipe(&k);
}

static void test_round_trips(void **state)
{
	(void)state;
	for (uint8_t alg = 0; alg < 2; alg++)
		for (int wire = 0; wire < 2; wire++) {
			round_trip(alg, wire, WEFT_AUTH_CLUSTER);
			round_trip(alg, wire, WEFT_AUTH_CLIENT);
		}
}

/* Flipping any one bit of any byte of a sealed datagram is refused. */
static void test_every_byte_tampered(void **state)
{
	(void)state;
	for (uint8_t alg = 0; alg < 2; alg++)
		for (int wire = 0; wire < 2; wire++) {
			struct weft_sec_key k;
			struct weft_sec_tx tx;
			make_key(&k, 0x11, WEFT_AUTH_CLUSTER, alg);
			weft_sec_tx_init(&tx);
			uint8_t sealed[512], buf[512];
			size_t len = weft_sec_seal(&k, &tx, NOW, wire, sealed, make_dgram(sealed, 100));
			for (size_t i = 0; i < len; i++) {
				memcpy(buf, sealed, len);
				buf[i] ^= (uint8_t)(1u << (i % 8));
				size_t plain;
				uint8_t kind;
				enum weft_sec_refusal r =
					weft_sec_open(&k, NULL, NOW, wire, buf, len, &plain, &kind);
				assert_int_not_equal(r, WEFT_SEC_OK);
			}
			memcpy(buf, sealed, len);
			size_t plain;
			uint8_t kind;
			assert_int_equal(weft_sec_open(&k, NULL, NOW, wire, buf, len, &plain, &kind),
					 WEFT_SEC_OK);
		}
}

static enum weft_sec_refusal open_with(const struct weft_sec_key *cl,
				       const struct weft_sec_key *cli, uint64_t now,
				       const struct weft_sec_key *sealer, uint64_t sent,
				       size_t cut)
{
	struct weft_sec_tx tx;
	weft_sec_tx_init(&tx);
	uint8_t buf[512];
	size_t len = weft_sec_seal(sealer, &tx, sent, true, buf, make_dgram(buf, 64));
	size_t plain;
	uint8_t kind;
	return weft_sec_open(cl, cli, now, true, buf, len - cut, &plain, &kind);
}

static void test_refusals(void **state)
{
	(void)state;
	struct weft_sec_key a, b, a_client, a_aead;
	make_key(&a, 1, WEFT_AUTH_CLUSTER, WEFT_AUTH_MAC);
	make_key(&b, 2, WEFT_AUTH_CLUSTER, WEFT_AUTH_MAC);
	make_key(&a_client, 1, WEFT_AUTH_CLIENT, WEFT_AUTH_MAC);
	make_key(&a_aead, 1, WEFT_AUTH_CLUSTER, WEFT_AUTH_AEAD);
	assert_int_not_equal(a.key_id, b.key_id);
	assert_int_equal(a.key_id, a_aead.key_id);
	/* wrong key: told apart by key_id */
	assert_int_equal(open_with(&a, NULL, NOW, &b, NOW, 0), WEFT_SEC_KEY_ID);
	/* a client trailer where only a cluster key is configured, and back */
	assert_int_equal(open_with(&a, NULL, NOW, &a_client, NOW, 0), WEFT_SEC_KIND);
	assert_int_equal(open_with(NULL, &a_client, NOW, &a, NOW, 0), WEFT_SEC_KIND);
	/* alg mismatch */
	assert_int_equal(open_with(&a, NULL, NOW, &a_aead, NOW, 0), WEFT_SEC_ALG);
	/* window: exactly at the edge passes, one ms beyond fails, both ways */
	assert_int_equal(open_with(&a, NULL, NOW + WEFT_AUTH_WINDOW_MS, &a, NOW, 0), WEFT_SEC_OK);
	assert_int_equal(open_with(&a, NULL, NOW + WEFT_AUTH_WINDOW_MS + 1, &a, NOW, 0),
			 WEFT_SEC_WINDOW);
	assert_int_equal(open_with(&a, NULL, NOW, &a, NOW + WEFT_AUTH_WINDOW_MS + 1, 0),
			 WEFT_SEC_WINDOW);
	/* truncated: the trailer moves, the tag no longer verifies or it is short */
	assert_int_not_equal(open_with(&a, NULL, NOW, &a, NOW, 1), WEFT_SEC_OK);
	assert_int_not_equal(open_with(&a, NULL, NOW, &a, NOW, 16), WEFT_SEC_OK);
	/* too short for header + trailer */
	uint8_t tiny[60] = {0};
	size_t plain;
	uint8_t kind;
	assert_int_equal(weft_sec_open(&a, NULL, NOW, true, tiny, sizeof(tiny), &plain, &kind),
			 WEFT_SEC_MISSING);
	assert_int_equal(weft_sec_open(&a, NULL, NOW, false, tiny, 47, &plain, &kind),
			 WEFT_SEC_MISSING);
	/* a weft datagram without F_AUTH */
	uint8_t buf[512];
	size_t len = make_dgram(buf, 100);
	assert_int_equal(weft_sec_open(&a, NULL, NOW, true, buf, len, &plain, &kind),
			 WEFT_SEC_MISSING);
	/* no key at all */
	assert_int_equal(open_with(NULL, NULL, NOW, &a, NOW, 0), WEFT_SEC_KIND);
	assert_string_equal(weft_sec_refusal_name(WEFT_SEC_BAD_TAG), "bad_tag");
	assert_string_equal(weft_sec_refusal_name(WEFT_SEC_WINDOW), "window");
}

/* Each seal draws a new salt; two senders differ in their random part. */
static void test_salts_unique(void **state)
{
	(void)state;
	struct weft_sec_key k;
	make_key(&k, 3, WEFT_AUTH_CLUSTER, WEFT_AUTH_MAC);
	struct weft_sec_tx t1, t2;
	weft_sec_tx_init(&t1);
	weft_sec_tx_init(&t2);
	assert_memory_not_equal(t1.salt, t2.salt, 8);
	uint8_t a[256], b[256];
	size_t la = weft_sec_seal(&k, &t1, NOW, true, a, make_dgram(a, 10));
	size_t lb = weft_sec_seal(&k, &t1, NOW, true, b, make_dgram(b, 10));
	const size_t salt_at = offsetof(struct weft_wire_auth, salt);
	assert_memory_not_equal(a + la - 48 + salt_at, b + lb - 48 + salt_at, 16);
	assert_int_equal(t1.counter, 2);
}

/* --- key files ------------------------------------------------------------ */

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_sec_XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int load(const char *path, struct weft_sec_key *k, char *err, size_t errlen)
{
	return weft_sec_key_load(k, path, WEFT_AUTH_CLUSTER, WEFT_AUTH_MAC, err, errlen);
}

static void test_key_files(void **state)
{
	(void)state;
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/key", dir);
	struct weft_sec_key k, ref;
	uint8_t raw[32];
	for (int i = 0; i < 32; i++)
		raw[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(weft_sec_key_from_bytes(&ref, raw, WEFT_AUTH_CLUSTER, WEFT_AUTH_MAC), 0);
	/* raw 32 bytes */
	write_file(path, raw, 32, 0600);
	assert_int_equal(load(path, &k, err, sizeof(err)), 0);
	assert_memory_equal(k.key, raw, 32);
	assert_int_equal(k.key_id, ref.key_id);
	/* hex, with and without a newline, either case; mode 0400 is fine */
	const char *hex = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF";
	char line[80];
	snprintf(line, sizeof(line), "%s\n", hex);
	write_file(path, line, 65, 0400);
	assert_int_equal(load(path, &k, err, sizeof(err)), 0);
	assert_memory_equal(k.key, raw, 32);
	write_file(path, hex, 64, 0600);
	assert_int_equal(load(path, &k, err, sizeof(err)), 0);
	assert_memory_equal(k.key, raw, 32);
	/* group/others may not read or write it: the error names file and mode */
	static const mode_t bad_modes[] = {0640, 0604, 0620, 0602, 0644, 0660};
	for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		write_file(path, raw, 32, bad_modes[i]);
		assert_int_equal(load(path, &k, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, path));
		char m[8];
		snprintf(m, sizeof(m), "%04o", (unsigned)bad_modes[i]);
		assert_non_null(strstr(err, m));
	}
	/* another owner (as root: chown to nobody) */
	if (geteuid() == 0) {
		write_file(path, raw, 32, 0600);
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(load(path, &k, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "owned by uid 65534"));
	}
	/* lengths and contents */
	static const size_t bad_lens[] = {0, 1, 31, 33, 63, 66, 200};
	uint8_t big[200];
	memset(big, 'a', sizeof(big));
	for (size_t i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
		write_file(path, big, bad_lens[i], 0600);
		assert_int_equal(load(path, &k, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, path));
	}
	char bad_hex[65];
	memcpy(bad_hex, hex, 64);
	bad_hex[10] = 'g';
	write_file(path, bad_hex, 64, 0600);
	assert_int_equal(load(path, &k, err, sizeof(err)), -EINVAL);
	snprintf(line, sizeof(line), "%s\r", hex);
	write_file(path, line, 65, 0600);
	assert_int_equal(load(path, &k, err, sizeof(err)), -EINVAL);
	/* missing file, a directory, a symlink */
	snprintf(line, sizeof(line), "%s/none", dir);
	assert_int_equal(load(line, &k, err, sizeof(err)), -ENOENT);
	assert_int_not_equal(load(dir, &k, err, sizeof(err)), 0);
	write_file(path, raw, 32, 0600);
	snprintf(line, sizeof(line), "%s/link", dir);
	assert_int_equal(symlink(path, line), 0);
	assert_int_equal(load(line, &k, err, sizeof(err)), -ELOOP);
}

static void test_keygen(void **state)
{
	(void)state;
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/gen", dir);
	unlink(path);
	assert_int_equal(weft_sec_key_generate(path, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 65);
	struct weft_sec_key k1, k2;
	assert_int_equal(load(path, &k1, err, sizeof(err)), 0);
	/* refuses to overwrite; the key stays */
	assert_int_equal(weft_sec_key_generate(path, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "overwrite"));
	assert_int_equal(load(path, &k2, err, sizeof(err)), 0);
	assert_memory_equal(k1.key, k2.key, 32);
	/* two generated keys differ */
	char p2[140];
	snprintf(p2, sizeof(p2), "%s/gen2", dir);
	assert_int_equal(weft_sec_key_generate(p2, err, sizeof(err)), 0);
	assert_int_equal(load(p2, &k2, err, sizeof(err)), 0);
	assert_memory_not_equal(k1.key, k2.key, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_every_byte_tampered),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_salts_unique),
		cmocka_unit_test_setup_teardown(test_key_files, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_keygen, make_dir, remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
