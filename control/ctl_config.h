/*
 * ctl_config.h — weftd's config file: `weftd --config FILE [options]`
 * (format: docs/install.md, "Config file"; man page weftd(8)).
 *
 * The file holds weftd's long options, one `option = value` a line (flags:
 * `verbose = true|false`), comments starting with # or ;, and `eal-args`
 * for what would follow "--". Its options go before the command line's,
 * so for an option given in both the command line wins (getopt keeps the
 * last value). The file is read with libinih (Debian's libinih-dev) and its
 * options are checked by ctl_args.c's own parser, so the file accepts
 * exactly what the command line accepts.
 *
 * Main thread, at start-up, before any other thread: not thread-safe.
 */
#ifndef WEFT_CTL_CONFIG_H
#define WEFT_CTL_CONFIG_H

#include <stddef.h>

#include "control.h"

/* The longest line a config file may hold: libinih's line buffer (200
 * bytes in Debian's build) less the newline and the NUL. Longer lists go
 * on several lines: repeated peers and memcached-trust lines join with
 * ",", eal-args lines with " "; any other option given twice is an error. */
#define WEFT_CTL_CONFIG_LINE_MAX 198

/* Parses argv, and the options of --config FILE (or --config=FILE, at most
 * once, before any "--") placed before the command line's. Prints nothing
 * (but --help's usage, on stdout). Returns 0; 1 when --help was given;
 * -EINVAL or -ENOMEM with err (one line) saying why:
 *   "FILE: cannot read: ..."                 the file cannot be opened/read
 *   "FILE:LINE: unknown option 'x'"          and every other bad line: no
 *                                            `option = value`, no value,
 *                                            a value the option refuses
 *                                            (with the parser's reason),
 *                                            a flag not true/false, a
 *                                            repeated option, a [section],
 *                                            a line too long
 *   the parser's reason                      a bad command-line option, or
 *                                            one about the whole line (e.g.
 *                                            --port missing), then followed
 *                                            by "(options from FILE and the
 *                                            command line)" with a file.
 * out's strings point into argv or into copies this module keeps until the
 * next call or weft_ctl_config_release. */
int weft_ctl_config_parse(int argc, char **argv, struct weft_ctl_args *out, char *err,
			  size_t errlen);

/* weftd's command line: weft_ctl_args_parse (same output, usage on error)
 * without --config; with it weft_ctl_config_parse, printing "weftd: ERR" on
 * stderr on error. Returns as weft_ctl_args_parse (0, 1, negative). */
int weft_ctl_config_args(int argc, char **argv, struct weft_ctl_args *out);

/* Frees what the last weft_ctl_config_parse kept (out's strings from the
 * file become invalid). */
void weft_ctl_config_release(void);

#endif /* WEFT_CTL_CONFIG_H */
