/*
 * weftctl_new_app.c — `weftctl new-app NAME [DIR]`: scaffolds a weft app
 * folder (DIR, default ./NAME) as the tutorial's `lein immutant new` does:
 * meson.build (against weft.pc), src/init.c (weft_app_init registering a
 * cache, a queue with a listener and a singleton daemon), README.md and
 * .gitignore, from weftctl_new_app_tmpl.c with @NAME@ replaced.
 *
 * Invariants: a bad NAME, an existing file at DIR or a non-empty DIR is
 * refused before anything is written; files are created with O_EXCL, so
 * nothing existing is ever overwritten; every write is checked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weftctl_new_app.h"

bool weftctl_new_app_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > WEFTCTL_APP_NAME_MAX)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* 0 when dir is absent (created) or an empty directory; else -errno,
 * printed. */
static int make_dir(const char *dir)
{
	if (mkdir(dir, 0755) == 0)
		return 0;
	int e = errno;
	struct stat st;
	if (e != EEXIST || stat(dir, &st) != 0) {
		fprintf(stderr, "weftctl: new-app: cannot create %s: %s\n", dir, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "weftctl: new-app: %s exists and is not a directory\n", dir);
		return -ENOTDIR;
	}
	DIR *d = opendir(dir);
	if (d == NULL) {
		e = errno;
		fprintf(stderr, "weftctl: new-app: cannot read %s: %s\n", dir, strerror(e));
		return -e;
	}
	struct dirent *de;
	bool empty = true;
	while (empty && (de = readdir(d)) != NULL)
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	if (!empty) {
		fprintf(stderr, "weftctl: new-app: %s exists and is not empty: give a new or empty "
			"directory\n", dir);
		return -ENOTEMPTY;
	}
	return 0;
}

/* text with every "@NAME@" replaced by name, written to f. */
static void expand(FILE *f, const char *text, const char *name)
{
	static const char mark[] = "@NAME@";
	for (const char *p = text;;) {
		const char *m = strstr(p, mark);
		if (m == NULL) {
			fputs(p, f);
			return;
		}
		fwrite(p, 1, (size_t)(m - p), f);
		fputs(name, f);
		p = m + sizeof(mark) - 1;
	}
}

static int write_file(const char *dir, const struct weftctl_new_app_file *t, const char *name)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, t->path) >= sizeof(path)) {
		fprintf(stderr, "weftctl: new-app: %s: path too long\n", dir);
		return -ENAMETOOLONG;
	}
	const char *slash = strrchr(t->path, '/');
	if (slash != NULL) {
		char sub[4096];
		snprintf(sub, sizeof(sub), "%s/%.*s", dir, (int)(slash - t->path), t->path);
		if (mkdir(sub, 0755) != 0 && errno != EEXIST) {
			int e = errno;
			fprintf(stderr, "weftctl: new-app: cannot create %s: %s\n", sub, strerror(e));
			return -e;
		}
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "weftctl: new-app: cannot create %s: %s\n", path, strerror(e));
		return -e;
	}
	expand(f, t->text, name);
	bool bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad) {
		int e = errno ? errno : EIO;
		fprintf(stderr, "weftctl: new-app: writing %s: %s\n", path, strerror(e));
		return -e;
	}
	return 0;
}

int weftctl_new_app(const char *name, const char *dir)
{
	if (!weftctl_new_app_name_ok(name)) {
		fprintf(stderr, "weftctl: new-app: bad app name '%s': 1..%u characters of "
			"[A-Za-z0-9_-], starting with a letter\n", name, WEFTCTL_APP_NAME_MAX);
		return -EINVAL;
	}
	int rc = make_dir(dir);
	for (size_t i = 0; rc == 0 && i < weftctl_new_app_n_files; i++)
		rc = write_file(dir, &weftctl_new_app_files[i], name);
	return rc;
}

int weftctl_new_app_main(int argc, const char *const *argv)
{
	if (argc < 1 || argc > 2) {
		fprintf(stderr, "weftctl: new-app takes NAME [DIR]\ntry 'weftctl -h'\n");
		return 2;
	}
	const char *name = argv[0], *dir = argc == 2 ? argv[1] : argv[0];
	if (weftctl_new_app(name, dir) != 0)
		return 2;
	printf("created app %s in %s:\n", name, dir);
	for (size_t i = 0; i < weftctl_new_app_n_files; i++)
		printf("  %s/%s\n", dir, weftctl_new_app_files[i].path);
	printf("build: cd %s && meson setup build && ninja -C build\n"
	       "deploy: weftctl -s NODE deploy build/%s.so\n", dir, name);
	return fflush(stdout) == 0 ? 0 : 2;
}
