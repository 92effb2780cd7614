/* The running daemon: its threads, started and stopped in order. */
#ifndef ISTHMUS_DAEMON_H
#define ISTHMUS_DAEMON_H

#include "concentrator/config.h"

/* Opens the store (creating and migrating it), starts every thread, runs the
 * IKE thread's loop on the calling thread until SIGTERM/SIGINT, then stops
 * everything and returns the process exit code. */
int daemon_run(const struct config *cfg, const char *config_path);

/* Opens and migrates the database only; for --migrate and --issue-token.
 * Returns the connection (caller closes) or NULL after printing why. */
struct sqlite3;
struct sqlite3 *daemon_open_store(const struct config *cfg, int *lock_fd);

#endif
