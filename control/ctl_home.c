/*
 * ctl_home.c — the node's home directory: DIR, DIR/data, DIR/log,
 * DIR/deployments, and DIR/data/node-id, a UUID v4 made on first start and
 * kept afterwards (written to a temporary file and renamed, so a crash never
 * leaves a half-written id).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"

static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

void weft_ctl_uuid_format(const uint8_t raw[16], char out[37])
{
	uint8_t b[16];
	memcpy(b, raw, 16);
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
}

static bool uuid_valid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

static int read_id(const char *path, char id[37])
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -errno;
	char line[64] = "";
	bool ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (!ok || !uuid_valid(line))
		return -EINVAL;
	memcpy(id, line, 37);
	return 0;
}

static int write_id(const char *path, char id[37])
{
	uint8_t raw[16];
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	weft_ctl_uuid_format(raw, id);
	char tmp[4224];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	char line[40];
	int n = snprintf(line, sizeof(line), "%s\n", id);
	bool ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

int weft_ctl_home_init(const char *home, char id_out[37], bool *created)
{
	static const char *const subdirs[] = {"", "/data", "/log", "/deployments"};
	char path[4200];
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", home, subdirs[i]);
		int rc = mkdir_p(path);
		if (rc < 0)
			return rc;
	}
	snprintf(path, sizeof(path), "%s/data/node-id", home);
	int rc = read_id(path, id_out);
	*created = false;
	if (rc == -ENOENT) {
		rc = write_id(path, id_out);
		*created = rc == 0;
	}
	return rc;
}

int weft_ctl_uuid_parse(const char *text, uint8_t raw[16])
{
	if (!uuid_valid(text))
		return -EINVAL;
	for (unsigned i = 0, j = 0; i < 16; i++) {
		if (text[j] == '-')
			j++;
		unsigned v;
		if (sscanf(text + j, "%2x", &v) != 1)
			return -EINVAL;
		raw[i] = (uint8_t)v;
		j += 2;
	}
	return 0;
}
