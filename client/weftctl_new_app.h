/*
 * weftctl_new_app.h — `weftctl new-app NAME [DIR]` (weftctl_new_app.c):
 * scaffolds a weft app folder from the templates of
 * weftctl_new_app_tmpl.c.
 */
#ifndef WEFTCTL_NEW_APP_H
#define WEFTCTL_NEW_APP_H

#include <stdbool.h>
#include <stddef.h>

/* One file of the scaffold: its path under DIR and its text, with "@NAME@"
 * standing for the app's name. */
struct weftctl_new_app_file {
	const char *path;
	const char *text;
};
extern const struct weftctl_new_app_file weftctl_new_app_files[];
extern const size_t weftctl_new_app_n_files;

#define WEFTCTL_APP_NAME_MAX 40u

/* Whether name is a good app name: 1..WEFTCTL_APP_NAME_MAX characters of
 * [A-Za-z0-9_-], the first a letter (so NAME.so is an app name, /queue/NAME
 * a destination and NAME a cache and a C-friendly meson project). Pure. */
bool weftctl_new_app_name_ok(const char *name);

/* Writes the scaffold for name into dir (created; its parent must exist;
 * an existing empty dir is used). 0, or -errno after printing
 * "weftctl: new-app: ..." (EINVAL bad name, ENOTEMPTY dir not empty,
 * ENOTDIR dir is a file, or the file system's errno). Files already
 * written stay (the message names dir). */
int weftctl_new_app(const char *name, const char *dir);

/* argv after "new-app": NAME [DIR]. The exit status (0, 2). */
int weftctl_new_app_main(int argc, const char *const *argv);

#endif
