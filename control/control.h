/*
 * control — the control thread of weftd: command line, node home, logging,
 * signals and the maintenance loop. (Later: discovery, membership, views,
 * rebalancing, sessions, singletons, app loader, admin.)
 *
 * Everything here runs on the main thread (EAL lcore 0), never on a worker
 * lcore. Return-code rule: constructors return NULL and set errno; int
 * functions return 0 or a negative errno.
 */
#ifndef WEFT_CONTROL_H
#define WEFT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane.h"

enum weft_ctl_log_level { WEFT_LOG_ERROR, WEFT_LOG_WARN, WEFT_LOG_INFO, WEFT_LOG_DEBUG };

/* Logs one line to stderr: UTC timestamp (ms), level, message. Any thread;
 * never on the hot path. Lines above the level set by weft_ctl_log_set_level
 * are skipped. */
__attribute__((format(printf, 2, 3))) void weft_ctl_log(enum weft_ctl_log_level lvl,
							 const char *fmt, ...);
void weft_ctl_log_set_level(enum weft_ctl_log_level lvl);

/* weftd's parsed command line. */
struct weft_ctl_args {
	const char *port_spec;
	const char *bind;      /* dotted IPv4 */
	uint32_t bind_ip;      /* network order */
	unsigned lcores;       /* worker lcores, default 1 */
	const char *home;      /* --home, else $WEFT_HOME, else ./weft-home */
	unsigned offset;       /* data port = WEFT_DEFAULT_PORT + offset */
	enum weft_dp_poll poll;
	unsigned mem_mb;
	bool verbose;
	int n_eal_extra;       /* arguments after "--" */
	char **eal_extra;
};

/* Parses argv. 0; 1 when --help was printed (exit 0); -EINVAL after printing
 * the error and the usage to stderr. */
int weft_ctl_args_parse(int argc, char **argv, struct weft_ctl_args *out);

/* Creates home, home/data, home/log, home/deployments (as needed) and reads
 * home/data/node-id, creating it with a random UUID v4 on first start.
 * id_out receives the 36-character id; *created tells which happened.
 * 0 or a negative errno. */
int weft_ctl_home_init(const char *home, char id_out[37], bool *created);

/* Formats 16 random bytes as a UUID v4 (sets the version and variant bits). */
void weft_ctl_uuid_format(const uint8_t raw[16], char out[37]);

/* Runs the control loop until SIGINT/SIGTERM: every ~10 ms
 * weft_dp_maintain (reassembly / response / dedup ageing and cache
 * maintenance). The caller must have registered the thread as a QSBR reader
 * (it is online on entry and on return). */
void weft_ctl_run(struct weft_dp *dp);

/* Installs the SIGINT/SIGTERM handlers that end weft_ctl_run. */
int weft_ctl_signals_install(void);

#endif /* WEFT_CONTROL_H */
