/* The audit log: GET /api/v1/audit, newest first, filtered by tenant, actor,
 * resource and time. Tenant-scoped callers see their tenant's entries only. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/auth.h"
#include "api/check.h"
#include "api/conn.h"
#include "api/handlers.h"
#include "api/page.h"
#include "api/problem.h"

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The value of exactly n digits at s (checked with digits() first): unlike
 * atoi, it never reads past them. */
static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

bool api_parse_time_ms(const char *s, long long *ms)
{
    /* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
    if (strlen(s) < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
        return false;
    struct tm tm = {0};
    tm.tm_year = num(s, 4) - 1900;
    tm.tm_mon = num(s + 5, 2) - 1;
    tm.tm_mday = num(s + 8, 2);
    tm.tm_hour = num(s + 11, 2);
    tm.tm_min = num(s + 14, 2);
    tm.tm_sec = num(s + 17, 2);
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return false;
    const char *p = s + 19;
    long frac_ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return false;
        for (; n < 3; n++)
            frac_ms *= 10;
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2)) {
        int oh = num(p + 1, 2), om = num(p + 4, 2);
        if (oh > 23 || om > 59)
            return false;
        off = (oh * 60L + om) * 60;
        if (*p == '-')
            off = -off;
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    time_t t = timegm(&tm);
    *ms = ((long long)t - off) * 1000 + frac_ms;
    return true;
}

static void time_ms_str(long long ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

void api_h_audit_list(struct api_req *req, struct api_resp *resp)
{
    struct api_page pg;
    if (!api_page_parse(req, &pg, resp))
        return;
    const char *tenant = api_query(req, "tenant");
    const char *actor = api_query(req, "actor");
    const char *resource = api_query(req, "resource");
    const char *since = api_query(req, "since");
    const char *until = api_query(req, "until");
    const char *mine = api_caller_tenant(req);
    if (mine) {
        if (tenant && strcmp(tenant, mine) != 0) {
            api_problem(resp, 404, NULL, "no tenant '%.64s'", tenant);
            return;
        }
        tenant = mine;
    }
    long long since_ms = 0, until_ms = 0, after = 0;
    if (since && !api_parse_time_ms(since, &since_ms)) {
        api_problem(resp, 400, "since", "since: not an RFC 3339 time (2026-11-27T10:00:00Z)");
        return;
    }
    if (until && !api_parse_time_ms(until, &until_ms)) {
        api_problem(resp, 400, "until", "until: not an RFC 3339 time (2026-11-27T10:00:00Z)");
        return;
    }
    if (pg.has_after) {
        char *end = NULL;
        after = strtoll(pg.after, &end, 10);
        if (!pg.after[0] || *end || after <= 0) {
            api_problem(resp, 400, "cursor", "cursor: not a cursor this API returned");
            return;
        }
    }
    sqlite3_stmt *st = api_stmt(
        req->db, "SELECT id, ts_ms, actor, tenant_id, resource, resource_id, action, changes "
                 "FROM audit_log WHERE (?1 IS NULL OR tenant_id = ?1) AND "
                 "(?2 IS NULL OR actor = ?2) AND (?3 IS NULL OR ts_ms >= ?3) AND "
                 "(?4 IS NULL OR ts_ms < ?4) AND (?5 IS NULL OR resource = ?5) AND "
                 "(?6 IS NULL OR id < ?6) ORDER BY id DESC LIMIT ?7");
    if (!st) {
        api_problem(resp, 500, NULL, "the audit log cannot be read");
        return;
    }
    if (tenant)
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    if (actor)
        sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
    if (since)
        sqlite3_bind_int64(st, 3, since_ms);
    if (until)
        sqlite3_bind_int64(st, 4, until_ms);
    if (resource)
        sqlite3_bind_text(st, 5, resource, -1, SQLITE_STATIC);
    if (pg.has_after)
        sqlite3_bind_int64(st, 6, after);
    sqlite3_bind_int(st, 7, (int)pg.limit + 1);
    json_object *items = json_object_new_array();
    unsigned n = 0;
    bool more = false;
    char last[32] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == pg.limit) {
            more = true;
            break;
        }
        json_object *o = json_object_new_object();
        char ts[48];
        long long id = sqlite3_column_int64(st, 0);
        json_object_object_add(o, "id", json_object_new_int64(id));
        time_ms_str(sqlite3_column_int64(st, 1), ts, sizeof(ts));
        json_object_object_add(o, "time", json_object_new_string(ts));
        for (int c = 2; c <= 6; c++) {
            static const char *const names[] = {
                "", "", "actor", "tenant", "resource", "resource_id", "action"};
            const char *v = (const char *)sqlite3_column_text(st, c);
            json_object_object_add(o, names[c], v ? json_object_new_string(v) : NULL);
        }
        json_object *ch = json_tokener_parse((const char *)sqlite3_column_text(st, 7));
        if (!json_object_is_type(ch, json_type_object)) {
            json_object_put(ch);
            ch = json_object_new_object();
        }
        json_object_object_add(o, "changes", ch);
        json_object_array_add(items, o);
        snprintf(last, sizeof(last), "%lld", id);
        n++;
    }
    api_stmt_done(st);
    api_page_send(resp, items, more ? last : NULL);
}
