/* The audit trail: see audit.h. */
#include "db/audit.h"

#include "db/db.h"

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

int db_audit_insert(sqlite3 *db, const char *actor, const char *tenant, const char *resource,
                    const char *resource_id, const char *action, const char *changes)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO audit_log (ts_ms, actor, tenant_id, resource, "
                                "resource_id, action, changes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, db_now_ms());
    sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
    bind_opt(st, 3, tenant);
    sqlite3_bind_text(st, 4, resource, -1, SQLITE_STATIC);
    bind_opt(st, 5, resource_id);
    sqlite3_bind_text(st, 6, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, changes ? changes : "{}", -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}
