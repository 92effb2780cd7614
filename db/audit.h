/* The audit trail: one row per change, written in the change's transaction. */
#ifndef ISTHMUS_DB_AUDIT_H
#define ISTHMUS_DB_AUDIT_H

#include <sqlite3.h>

/* actor: token id (or "cli" for the command line); tenant may be NULL;
 * changes: a JSON object with secrets already redacted. */
int db_audit_insert(sqlite3 *db, const char *actor, const char *tenant, const char *resource,
                    const char *resource_id, const char *action, const char *changes);

#endif
