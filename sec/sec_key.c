/*
 * sec_key.c — libsodium initialisation, keys: key_id, loading a key file
 * (ownership and mode checked before a byte is read), generating one.
 *
 * Invariants: a key file is opened once (O_NOFOLLOW) and checked with
 * fstat on that descriptor, so the file checked is the file read; a file
 * longer than the longest valid form is refused without reading further;
 * key bytes on the stack are wiped before returning.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "sec.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void do_init(void)
{
	init_rc = sodium_init() < 0 ? -EIO : 0;
}

int weft_sec_init(void)
{
	pthread_once(&init_once, do_init);
	return init_rc;
}

static void say(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int weft_sec_key_from_bytes(struct weft_sec_key *k, const uint8_t raw[WEFT_AUTH_KEY_LEN],
			    uint8_t kind, uint8_t alg)
{
	if (weft_sec_init() != 0)
		return -EIO;
	uint8_t h[32];
	memcpy(k->key, raw, WEFT_AUTH_KEY_LEN);
	crypto_generichash(h, sizeof(h), raw, WEFT_AUTH_KEY_LEN, NULL, 0);
	memcpy(&k->key_id, h, sizeof(k->key_id));
	k->kind = kind;
	k->alg = alg;
	return 0;
}

void weft_sec_key_wipe(struct weft_sec_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The key in buf (n bytes): raw, or hex (+ "\n"). 0 or -EINVAL. */
static int decode(const uint8_t *buf, size_t n, uint8_t out[WEFT_AUTH_KEY_LEN])
{
	if (n == WEFT_AUTH_KEY_LEN) {
		memcpy(out, buf, n);
		return 0;
	}
	if (n == 2 * WEFT_AUTH_KEY_LEN + 1 && buf[n - 1] == '\n')
		n--;
	if (n != 2 * WEFT_AUTH_KEY_LEN)
		return -EINVAL;
	for (size_t i = 0; i < WEFT_AUTH_KEY_LEN; i++) {
		int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int weft_sec_key_load(struct weft_sec_key *k, const char *path, uint8_t kind, uint8_t alg,
		      char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		say(err, errlen, "key file %s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		say(err, errlen, "key file %s: %s", path, strerror(-rc));
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		say(err, errlen, "key file %s: not a regular file", path);
	} else if (st.st_uid != geteuid()) {
		rc = -EPERM;
		say(err, errlen, "key file %s: owned by uid %u, not by this process's uid %u",
		    path, (unsigned)st.st_uid, (unsigned)geteuid());
	} else if (st.st_mode & 077) {
		rc = -EPERM;
		say(err, errlen,
		    "key file %s: mode %04o lets group or others read or write it "
		    "(chmod 600 %s)", path, (unsigned)(st.st_mode & 07777), path);
	}
	uint8_t buf[2 * WEFT_AUTH_KEY_LEN + 2], raw[WEFT_AUTH_KEY_LEN];
	size_t n = 0;
	while (rc == 0 && n < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			say(err, errlen, "key file %s: %s", path, strerror(-rc));
		}
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (rc == 0 && decode(buf, n, raw) != 0) {
		rc = -EINVAL;
		say(err, errlen,
		    "key file %s: %s%zu bytes; want 32 raw bytes or 64 hex digits "
		    "(and a newline)", path, n == sizeof(buf) ? "more than " : "", n);
	}
	if (rc == 0)
		rc = weft_sec_key_from_bytes(k, raw, kind, alg);
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(raw, sizeof(raw));
	return rc;
}

int weft_sec_key_generate(const char *path, char *err, size_t errlen)
{
	if (weft_sec_init() != 0) {
		say(err, errlen, "libsodium cannot start");
		return -EIO;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		say(err, errlen, "key file %s: %s%s", path, strerror(e),
		    e == EEXIST ? " (refusing to overwrite a key)" : "");
		return -e;
	}
	uint8_t raw[WEFT_AUTH_KEY_LEN];
	char hex[2 * WEFT_AUTH_KEY_LEN + 2];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	hex[2 * WEFT_AUTH_KEY_LEN] = '\n';
	int rc = 0;
	/* The umask may have narrowed 0600 further; never widen it. */
	if (fchmod(fd, 0600) != 0 || write(fd, hex, sizeof(hex) - 1) != (ssize_t)sizeof(hex) - 1 ||
	    fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(hex, sizeof(hex));
	if (rc != 0) {
		say(err, errlen, "key file %s: %s", path, strerror(-rc));
		unlink(path);
	}
	return rc;
}

void weft_sec_tx_init(struct weft_sec_tx *tx)
{
	if (weft_sec_init() == 0)
		randombytes_buf(tx->salt, sizeof(tx->salt));
	tx->counter = 0;
}

uint64_t weft_sec_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
