/*
 * Each API thread's own SQLite connection, opened on first use and closed
 * when the thread ends, with a small cache of prepared statements (the hot
 * reads of dashboards prepare nothing after warm-up).
 */
#ifndef ISTHMUS_API_CONN_H
#define ISTHMUS_API_CONN_H

#include <sqlite3.h>

/* This thread's connection to path, or NULL (logged) when it cannot open. */
sqlite3 *api_conn(const char *path);

/* A prepared statement for sql on db, reset and unbound, from this thread's
 * cache (prepared on first use). Do not finalize it: call api_stmt_done. NULL
 * on a prepare error (logged). */
sqlite3_stmt *api_stmt(sqlite3 *db, const char *sql);
void api_stmt_done(sqlite3_stmt *st); /* NULL accepted */

/* This thread's JSON tokener, reset, for parsing stored JSON text (making a
 * new one per value dominated list pages); freed with the thread. NULL on
 * out of memory. */
struct json_tokener *api_tokener(void);

#endif
