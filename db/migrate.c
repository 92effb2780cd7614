/* Schema migrations: see migrate.h. */
#define _GNU_SOURCE
#include "db/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concentrator/log.h"
#include "db/db.h"

int db_schema_latest(void)
{
    return db_migrations_count ? db_migrations[db_migrations_count - 1].version : 0;
}

static int ensure_table(sqlite3 *db)
{
    return sqlite3_exec(db,
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version INTEGER PRIMARY KEY,"
                        " name TEXT NOT NULL,"
                        " applied_at INTEGER NOT NULL)",
                        NULL, NULL, NULL);
}

int db_schema_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name='schema_migrations'",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    int exists = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    if (!exists)
        return 0;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* For the crash test only: ISTHMUS_TEST_PAUSE_IN_MIGRATION=N makes the daemon
 * sleep inside migration N's open transaction, so a test can kill it there. */
static void test_pause(int version)
{
    const char *s = getenv("ISTHMUS_TEST_PAUSE_IN_MIGRATION");
    if (!s || atoi(s) != version)
        return;
    log_warn("db", "test hook: pausing inside migration %d", version);
    sleep(60);
}

int db_migrate_list(sqlite3 *db, const struct db_migration *list, unsigned count, char *err,
                    size_t errlen)
{
    if (ensure_table(db) != SQLITE_OK) {
        snprintf(err, errlen, "cannot create schema_migrations: %s", sqlite3_errmsg(db));
        return -1;
    }
    int current = db_schema_version(db);
    if (current < 0) {
        snprintf(err, errlen, "cannot read schema version: %s", sqlite3_errmsg(db));
        return -1;
    }
    int latest = count ? list[count - 1].version : 0;
    if (current > latest) {
        snprintf(err, errlen,
                 "database schema version %d is newer than this isthmusd knows (%d): "
                 "refusing to touch it; run a newer isthmusd",
                 current, latest);
        return -1;
    }
    int applied = 0;
    for (unsigned i = 0; i < count; i++) {
        const struct db_migration *m = &list[i];
        if (m->version <= current)
            continue;
        char *msg = NULL;
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
            goto fail;
        if (sqlite3_exec(db, m->sql, NULL, NULL, &msg) != SQLITE_OK)
            goto fail;
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO schema_migrations (version, name, applied_at) "
                               "VALUES (?, ?, strftime('%s','now'))",
                               -1, &st, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_int(st, 1, m->version);
        sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            goto fail;
        test_pause(m->version);
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
            goto fail;
        log_notice("db", "applied migration %s", m->name);
        applied++;
        continue;
    fail:
        snprintf(err, errlen, "migration %s failed: %s", m->name, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        db_rollback(db);
        return -1;
    }
    return applied;
}

int db_migrate(sqlite3 *db, char *err, size_t errlen)
{
    return db_migrate_list(db, db_migrations, db_migrations_count, err, errlen);
}
