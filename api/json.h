/*
 * Request bodies: strict JSON parsing and validation against a table of
 * fields per resource, and JSON Merge Patch (RFC 7396).
 *
 * A resource's fields are described once (struct api_field); the same table
 * drives validation of POST and PATCH bodies, defaults, the mapping to SQL
 * columns (api/resource.c), the audit record's redaction, and the fuzzer.
 * Every problem names the field at fault ("network.mtu", "pools[2]").
 */
#ifndef ISTHMUS_API_JSON_H
#define ISTHMUS_API_JSON_H

#include <json-c/json.h>
#include <stdbool.h>

#include "api/problem.h"

/* AT_TIME: an integer column of Unix seconds, shown as RFC 3339 (read-only). */
enum api_ftype { AT_STRING, AT_INT, AT_BOOL, AT_STRLIST, AT_OBJECT, AT_TIME };

#define AF_REQUIRED   0x01u /* must be given on create */
#define AF_IMMUTABLE  0x02u /* set on create only; PATCH may repeat the same value */
#define AF_READONLY   0x04u /* output only: never accepted in a body */
#define AF_SECRET     0x08u /* write-only: never returned; "***" in the audit log */
#define AF_NULLABLE   0x10u /* null is a value (stored as NULL) */
#define AF_CREATEONLY 0x20u /* accepted on create only, not stored as a column */
#define AF_MULTILINE  0x40u /* may hold newlines and tabs (PEM text) */

/* Returns NULL if s is acceptable, else a short reason ("is not a CIDR"). */
typedef const char *(*api_check_fn)(const char *s);

struct api_field {
    const char *name;
    enum api_ftype type;
    unsigned flags;
    long long min, max;          /* INT: value range; STRING: length; STRLIST: item count */
    const char *column;          /* SQL column, NULL: kept elsewhere (resource hooks) */
    const char *def;             /* default as JSON text, NULL: none */
    api_check_fn check;          /* STRING values and STRLIST items */
    const char *const *enums;    /* allowed STRING values, NULL-terminated */
    const struct api_field *sub; /* AT_OBJECT members, ended by a NULL name */
    const char *ref;             /* stored as the id of the tenant's row of this name in ref */
    const char *seal;            /* AF_SECRET: sealed under the master key with this context */
    /* No column: an SQL expression over the row (alias t) that yields a list's
     * items joined by char(31), e.g. a side table's group_concat. */
    const char *sql;
};

enum api_vmode {
    API_V_CREATE, /* a POST body */
    API_V_PATCH,  /* a merge patch (cur: the current document, for immutables) */
    API_V_FULL,   /* a whole document after merging (no read-only check) */
};

/* Parses a request body: one JSON object, strict, UTF-8, depth <= 16, nothing
 * after it. Returns the object, or NULL with p set (400). */
json_object *api_json_parse(const char *body, size_t len, struct api_problem *p);

/* Validates obj against fields. Returns 0, or -1 with p set (400, the field
 * named). */
int api_validate(const struct api_field *fields, json_object *obj, enum api_vmode mode,
                 json_object *cur, struct api_problem *p);

/* Adds each absent field that has a default (objects recursively). */
void api_apply_defaults(const struct api_field *fields, json_object *obj);

/* RFC 7396: returns a new document, target merged with patch (neither is
 * changed). */
json_object *api_merge_patch(json_object *target, json_object *patch);

/* A copy of obj with secret fields replaced by "***" (for the audit log). */
json_object *api_redact(const struct api_field *fields, json_object *obj);

/* The field named name, or NULL. */
const struct api_field *api_field_find(const struct api_field *fields, const char *name);

#endif
