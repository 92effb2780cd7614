/*
 * The SQLite store. One connection per thread: every thread that reads or
 * writes opens its own with db_open. Connections use WAL, foreign keys and a
 * busy timeout, so readers never block the writer.
 */
#ifndef ISTHMUS_DB_H
#define ISTHMUS_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DB_BUSY_TIMEOUT_MS 5000

/* Opens (creating if asked) the database at path. Returns NULL with a message
 * in err on failure. */
sqlite3 *db_open(const char *path, bool create, char *err, size_t errlen);
void db_close(sqlite3 *db); /* NULL accepted */

/* Takes an exclusive advisory lock on "<path>.lock" so that two daemons never
 * run on one database. Returns the lock's fd, or -1 with a message. */
int db_lock_exclusive(const char *path, char *err, size_t errlen);

/* Runs a statement without results; returns SQLITE_OK or the error code, and
 * logs the error under subsystem "db". */
int db_exec(sqlite3 *db, const char *sql);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int db_begin(sqlite3 *db);
int db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);

/* Now as Unix seconds and milliseconds (wall clock). */
int64_t db_now(void);
int64_t db_now_ms(void);

#endif
