/* API token rows (db side; generation and hashing are in auth/token.h). */
#ifndef ISTHMUS_DB_TOKENS_H
#define ISTHMUS_DB_TOKENS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Inserts a token row. tenant is NULL for operators. Returns SQLITE_OK or
 * an error code (SQLITE_CONSTRAINT_* for a bad role/tenant pairing or an
 * unknown tenant). */
int db_token_insert(sqlite3 *db, const char *id, const char *name, const char *role,
                    const char *tenant, const uint8_t *hash, size_t hash_len,
                    const char *created_by);

#endif
