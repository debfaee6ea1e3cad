/*
 * weftctl_msg.h — weftctl's messaging commands (weftctl_msg.c: publish,
 * receive, dest-open, dest-stop; weftctl_dests.c: destinations). They have
 * their own options (weftctl_msg.c's usage text), so weftctl hands them the
 * whole command line.
 */
#ifndef WEFTCTL_MSG_H
#define WEFTCTL_MSG_H

#include <stdbool.h>
#include <stdio.h>

#include <weft/weft.h>

/* The messaging command argv names (its first word that is neither an
 * option nor an option's value), or NULL when it names another command,
 * none, or asks for help (-h / --help). */
const char *weftctl_msg_command(int argc, char **argv);

/* Runs the messaging command of argv (weftctl_msg_command is not NULL).
 * Returns the exit status: 0 ok, 1 NOT_FOUND (dest-stop) or "fewer than
 * --count messages before --timeout" (receive), 2 any other error, 3 no
 * answer. json: --json was given (only destinations takes it). */
int weftctl_msg_main(int argc, char **argv, bool json);

/* The usage lines of the messaging commands, for weftctl -h. */
void weftctl_msg_usage(FILE *f);

/* `weftctl destinations [--all]`: the DESTINATIONS text of c's node (of
 * every member of its topology with all) as a table, or (json) as
 * {"destinations": [{node, name, role, KEY: value...}]}. Exit status. */
int weftctl_print_destinations(weft_client *c, const char *server, bool all, bool json);

#endif
