/*
 * weftctl_apps.h — weftctl's app commands (weftctl_apps.c): deploy,
 * undeploy, apps, daemons, jobs. Like the messaging commands they have
 * their own options (--all), so weftctl hands them the whole command line.
 */
#ifndef WEFTCTL_APPS_H
#define WEFTCTL_APPS_H

#include <stdbool.h>
#include <stdio.h>

/* The app command argv names (its first word that is neither an option nor
 * an option's value), or NULL when it names another command, none, or asks
 * for help (-h / --help). */
const char *weftctl_apps_command(int argc, char **argv);

/* Runs the app command of argv (weftctl_apps_command is not NULL). Returns
 * the exit status: 0 ok, 1 NOT_FOUND (undeploy of an app not deployed that
 * way), 2 any other error, 3 no answer (printed on stderr). json: --json
 * was given (apps, daemons, jobs print JSON; deploy / undeploy refuse it). */
int weftctl_apps_main(int argc, char **argv, bool json);

/* The usage lines of the app commands, for weftctl -h. */
void weftctl_apps_usage(FILE *f);

#endif
