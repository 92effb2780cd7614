/*
 * Session history: one row per ended session in session_history, written on
 * the db writer thread (db_history_submit never blocks), kept for the
 * configured number of days.
 */
#ifndef ISTHMUS_DB_HISTORY_H
#define ISTHMUS_DB_HISTORY_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

struct db_writer;

struct db_history_row {
    char tenant[64];
    char session_id[17];
    char identity[128];
    char username[128]; /* "" when the identity maps to no provisioned user */
    char auth[16];
    char client_addr[48];
    uint16_t client_port;
    char vip4[16], vip6[48];      /* "" for none */
    int64_t started_at, ended_at; /* Unix seconds */
    uint64_t bytes_in, bytes_out, packets_in, packets_out;
    char cause[32];
    unsigned retention_days; /* rows older than this are purged; 0: kept */
};

/* Inserts the row (now, on this connection). SQLite result code. */
int db_history_insert(sqlite3 *db, const struct db_history_row *row);

/* Deletes rows that ended before `before` (Unix seconds). Returns how many,
 * or -1. */
int db_history_purge(sqlite3 *db, int64_t before);

/* Queues the insert (and, at most once an hour, the retention purge) on the
 * writer thread; copies row. False when the writer refused it. */
bool db_history_submit(struct db_writer *w, const struct db_history_row *row);

#endif
