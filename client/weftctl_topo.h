/*
 * weftctl_topo.h — weftctl's printer of a TOPOLOGY table (weftctl_topo.c).
 */
#ifndef WEFTCTL_TOPO_H
#define WEFTCTL_TOPO_H

#include <stdio.h>

#include <weft/weft.h>

/* Prints t to f: a header line with the epoch, the members with their
 * primary and backup segment counts, then runs of consecutive segments
 * with the same owners. cache (may be NULL) is only named: one table
 * serves every cache. Returns 0, or 2 when writing f failed. */
int weftctl_print_topology(FILE *f, const struct weft_topology *t, const char *cache);

#endif
