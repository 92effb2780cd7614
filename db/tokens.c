/* API token rows: see tokens.h. */
#include "db/tokens.h"

#include "db/db.h"

int db_token_insert(sqlite3 *db, const char *id, const char *name, const char *role,
                    const char *tenant, const uint8_t *hash, size_t hash_len,
                    const char *created_by)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO api_tokens (id, name, role, tenant_id, hash, "
                                "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
    if (tenant)
        sqlite3_bind_text(st, 4, tenant, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_blob(st, 5, hash, (int)hash_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, db_now());
    if (created_by)
        sqlite3_bind_text(st, 7, created_by, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}
