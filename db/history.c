/* Session history rows: see history.h. */
#define _GNU_SOURCE
#include "db/history.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concentrator/log.h"
#include "db/writer.h"

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s && s[0])
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

int db_history_insert(sqlite3 *db, const struct db_history_row *r)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db,
        "INSERT INTO session_history (tenant_id, session_id, identity, username, auth_method, "
        "client_addr, client_port, virtual_ipv4, virtual_ipv6, started_at, ended_at, bytes_in, "
        "bytes_out, packets_in, packets_out, cause) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto done;
    sqlite3_bind_text(st, 1, r->tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->session_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, r->identity, -1, SQLITE_TRANSIENT);
    bind_text_or_null(st, 4, r->username);
    sqlite3_bind_text(st, 5, r->auth, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, r->client_addr, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 7, r->client_port);
    bind_text_or_null(st, 8, r->vip4);
    bind_text_or_null(st, 9, r->vip6);
    sqlite3_bind_int64(st, 10, r->started_at);
    sqlite3_bind_int64(st, 11, r->ended_at);
    /* SQLite integers are signed 64-bit: counters past 2^63 are clamped. */
    uint64_t v[4] = {r->bytes_in, r->bytes_out, r->packets_in, r->packets_out};
    for (int i = 0; i < 4; i++)
        sqlite3_bind_int64(st, 12 + i, v[i] > INT64_MAX ? INT64_MAX : (int64_t)v[i]);
    sqlite3_bind_text(st, 16, r->cause, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
done:
    sqlite3_finalize(st);
    return rc;
}

int db_history_purge(sqlite3 *db, int64_t before)
{
    sqlite3_stmt *st = NULL;
    int n = -1;
    if (sqlite3_prepare_v2(db, "DELETE FROM session_history WHERE ended_at < ?1", -1, &st, NULL) !=
        SQLITE_OK)
        goto done;
    sqlite3_bind_int64(st, 1, before);
    if (sqlite3_step(st) == SQLITE_DONE)
        n = sqlite3_changes(db);
done:
    sqlite3_finalize(st);
    return n;
}

/* Runs on the writer thread only. */
static int64_t last_purge;

static int insert_job(sqlite3 *db, void *arg)
{
    const struct db_history_row *r = arg;
    int rc = db_history_insert(db, r);
    int64_t now = (int64_t)time(NULL);
    if (r->retention_days && now - last_purge >= 3600) {
        last_purge = now;
        int n = db_history_purge(db, now - (int64_t)r->retention_days * 86400);
        if (n > 0)
            log_info("db", "session history: %d rows older than %u days removed", n,
                     r->retention_days);
    }
    return rc;
}

bool db_history_submit(struct db_writer *w, const struct db_history_row *row)
{
    if (!w)
        return false;
    struct db_history_row *copy = malloc(sizeof(*copy));
    if (!copy)
        return false;
    *copy = *row;
    return db_writer_submit(w, insert_job, copy, free);
}
