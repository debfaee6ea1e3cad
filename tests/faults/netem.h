/*
 * netem.h — internals of weft-netem (tests/faults/netem.c): the impairment
 * settings of one direction of a link and the control file that sets them.
 *
 * Control file (docs/faults.md "weft-netem"), re-read on SIGHUP:
 *   gen N                                    a number the caller chooses
 *   a2b loss=P dup=P delay_ms=D jitter_ms=J block=IP[,IP...]
 *   b2a loss=P dup=P delay_ms=D jitter_ms=J block=IP[,IP...]
 * a2b: frames read on --a, sent out of --b; b2a the other way. P is a
 * probability 0..1; a frame is delayed D ms plus a uniform -J..+J ms (never
 * below 0), which reorders frames when J > 0; block drops IPv4 frames whose
 * source or destination is a listed address (a cut of those peers, in that
 * direction). A missing field is 0 / empty; a missing line leaves that
 * direction unimpaired. After applying it, weft-netem writes "gen N ok"
 * (or "gen N error WHAT", keeping the previous settings) to FILE.applied,
 * by rename, so the caller can wait for the new settings to hold.
 */
#ifndef WEFT_FAULTS_NETEM_H
#define WEFT_FAULTS_NETEM_H

#include <stdint.h>

#define NETEM_MAX_BLOCK 16

struct netem_dir {
	double loss, dup;
	uint32_t delay_us, jitter_us;
	unsigned n_block;
	uint32_t block[NETEM_MAX_BLOCK]; /* IPv4, network order */
};

struct netem_conf {
	uint64_t gen;
	struct netem_dir dir[2]; /* 0: a2b, 1: b2a */
};

/* Parses the control file at path into *c (zeroed first). 0, or -1 with a
 * reason in why (a static string). */
int netem_ctl_read(const char *path, struct netem_conf *c, const char **why);

/* Writes "gen N ok\n" or "gen N error WHY\n" to PATH.applied by rename. */
void netem_ctl_applied(const char *path, uint64_t gen, const char *why);

#endif
