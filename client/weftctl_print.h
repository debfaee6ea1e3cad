/*
 * weftctl_print.h — weftctl's printers of what a node answers: the
 * TOPOLOGY table (weftctl_topo.c), the MEMBERS view and the `status`
 * summary (weftctl_status.c).
 */
#ifndef WEFTCTL_PRINT_H
#define WEFTCTL_PRINT_H

#include <stdio.h>

#include <weft/weft.h>

/* Prints t to f: a header line with the epoch, the members with their
 * primary and backup segment counts, then runs of consecutive segments
 * with the same owners. cache (may be NULL) is only named: one table
 * serves every cache. Returns 0, or 2 when writing f failed. */
int weftctl_print_topology(FILE *f, const struct weft_topology *t, const char *cache);

/* Prints the MEMBERS text (modified in place) as "view N, coordinator
 * NAME, K members" and an aligned table. 0, or 2 when the text is not what
 * wire.h specifies or writing stdout failed. */
int weftctl_print_members(char *text);

/* `weftctl status`: the node's view (MEMBERS), its rebalancing progress,
 * its caches (mode, entries, bytes) and its cluster counters (from STATS).
 * 0, or 2 on an error (printed). */
int weftctl_print_status(weft_client *c);

#endif
