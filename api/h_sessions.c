/* Live sessions (GET/DELETE /api/v1/sessions, /tenants/{t}/sessions) from
 * the registry the IKE thread publishes, and the session history of a
 * tenant from the database. An API thread never touches IKE state: it
 * copies registry entries (one shard at a time), adds the data plane's
 * counters, and sends terminations to the IKE thread as commands. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/check.h"
#include "api/conn.h"
#include "api/handlers.h"
#include "api/page.h"
#include "api/problem.h"
#include "api/resource.h"
#include "api/server.h"
#include "api/session_json.h"
#include "concentrator/log.h"
#include "concentrator/registry.h"
#include "concentrator/stats.h"
#include "db/audit.h"

static json_object *time_or_null(int64_t t)
{
    if (t <= 0)
        return NULL;
    char ts[48];
    api_time_str(t, ts, sizeof(ts));
    return json_object_new_string(ts);
}

static json_object *str_or_null(const char *s)
{
    return s && s[0] ? json_object_new_string(s) : NULL;
}

static json_object *counters(const struct reg_counters *c)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "bytes_in", json_object_new_uint64(c->bytes_in));
    json_object_object_add(o, "bytes_out", json_object_new_uint64(c->bytes_out));
    json_object_object_add(o, "packets_in", json_object_new_uint64(c->packets_in));
    json_object_object_add(o, "packets_out", json_object_new_uint64(c->packets_out));
    return o;
}

/* Hands the written JSON to the response (or a 503 if memory ran out). */
static void send_buf(struct api_resp *resp, struct jbuf *b)
{
    size_t len;
    char *text = jb_take(b, &len);
    if (!text) {
        api_problem(resp, 503, NULL, "out of memory");
        return;
    }
    free(resp->body);
    resp->body = text;
    resp->len = len;
    resp->status = 200;
    resp->ctype = "application/json";
}

static const struct stats *stats_of(const struct api_req *req)
{
    return req->deps ? req->deps->stats : NULL;
}

static bool live(const struct api_req *req, struct api_resp *resp)
{
    if (req->deps && req->deps->registry)
        return true;
    api_problem(resp, 503, NULL, "live sessions are not available (no IKE engine)");
    return false;
}

static void list(struct api_req *req, struct api_resp *resp, const char *tenant)
{
    struct api_page pg;
    if (!api_page_parse(req, &pg, resp) || !live(req, resp))
        return;
    struct reg_filter f = {
        .tenant = tenant,
        .user = api_query(req, "user"),
        .client_addr = api_query(req, "client_address"),
        .vip = api_query(req, "virtual_address"),
    };
    const char *qt = api_query(req, "tenant");
    if (qt) {
        if (tenant && strcmp(qt, tenant) != 0) {
            api_page_send(resp, json_object_new_array(), NULL); /* two tenants: nothing */
            return;
        }
        f.tenant = qt;
    }
    if ((f.client_addr && api_check_ip(f.client_addr)) || (f.vip && api_check_ip(f.vip))) {
        const char *field =
            f.client_addr && api_check_ip(f.client_addr) ? "client_address" : "virtual_address";
        api_problem(resp, 400, field, "%s: not an IP address", field);
        return;
    }
    if (pg.has_after && (strlen(pg.after) != REG_ID_LEN - 1)) {
        api_problem(resp, 400, "cursor", "cursor: not a cursor this API returned");
        return;
    }
    /* Copied a few at a time into one small buffer (a page of whole
     * entries would be ~1 KB each, page faults included) and written as
     * they come; the text buffer is sized for the page up front. */
    enum { CHUNK = 32 };
    struct reg_session *v = malloc(CHUNK * sizeof(*v));
    struct jbuf b;
    jb_init(&b, 64 + (size_t)pg.limit * API_SESSION_JSON_SIZE);
    if (!v || b.oom) {
        free(v);
        jb_free(&b);
        api_problem(resp, 503, NULL, "out of memory");
        return;
    }
    char last[REG_ID_LEN] = "";
    if (pg.has_after)
        snprintf(last, sizeof(last), "%s", pg.after);
    size_t left = pg.limit, n = 0;
    bool more = false;
    jb_lit(&b, "{\"items\":[");
    while (left) {
        size_t got = registry_list(req->deps->registry, &f, last[0] ? last : NULL, v,
                                   left < CHUNK ? left : CHUNK, &more);
        for (size_t i = 0; i < got; i++) {
            if (n++)
                jb_raw(&b, ",", 1);
            api_session_write(&b, stats_of(req), &v[i]);
        }
        if (got)
            memcpy(last, v[got - 1].id, REG_ID_LEN);
        left -= got;
        if (!more || !got)
            break;
    }
    jb_lit(&b, "],\"next_cursor\":");
    if (more && n) {
        char cur[API_PARAM_MAX * 2];
        api_page_cursor(last, cur, sizeof(cur));
        jb_cstr(&b, cur);
    } else {
        jb_lit(&b, "null");
    }
    jb_lit(&b, "}");
    free(v);
    send_buf(resp, &b);
}

void api_h_sessions_list(struct api_req *req, struct api_resp *resp)
{
    list(req, resp, api_caller_tenant(req));
}

void api_h_tenant_sessions_list(struct api_req *req, struct api_resp *resp)
{
    const char *t = req->params[0];
    if (!api_may_read(req, t, resp))
        return;
    if (!api_tenant_exists(req->db, t)) {
        api_problem(resp, 404, NULL, "no tenant '%.64s'", t);
        return;
    }
    list(req, resp, t);
}

/* The session of the path, if the caller may see it (404 otherwise, the
 * same as for a session that does not exist). */
static bool find(struct api_req *req, struct api_resp *resp, struct reg_session *s)
{
    if (!live(req, resp))
        return false;
    const char *id = req->params[0];
    const char *mine = api_caller_tenant(req);
    if (!registry_get(req->deps->registry, id, s) || (mine && strcmp(mine, s->tenant) != 0)) {
        api_problem(resp, 404, NULL, "no live session '%.32s'", id);
        return false;
    }
    return true;
}

void api_h_session_get(struct api_req *req, struct api_resp *resp)
{
    struct reg_session s;
    if (!find(req, resp, &s))
        return;
    struct jbuf b;
    jb_init(&b, API_SESSION_JSON_SIZE);
    api_session_write(&b, stats_of(req), &s);
    send_buf(resp, &b);
}

void api_h_session_delete(struct api_req *req, struct api_resp *resp)
{
    struct reg_session s;
    if (!find(req, resp, &s) || !api_may_write(req, s.tenant, resp))
        return;
    if (!req->deps->terminate_session) {
        api_problem(resp, 503, NULL, "sessions cannot be ended (no IKE engine)");
        return;
    }
    char changes[512];
    json_object *ch = json_object_new_object();
    json_object_object_add(ch, "identity", json_object_new_string(s.identity));
    json_object_object_add(ch, "client_address", json_object_new_string(s.client_addr));
    snprintf(changes, sizeof(changes), "%s", json_object_to_json_string(ch));
    if (db_audit_insert(req->db, req->who.token_id, s.tenant, "session", s.id, "terminate",
                        changes) != SQLITE_OK) {
        json_object_put(ch);
        api_problem(resp, 503, NULL, "the audit log cannot be written");
        return;
    }
    json_object_put(ch);
    struct log_ctx ctx = {.tenant = s.tenant, .session = s.id};
    log_msg(LOG_LVL_NOTICE, "api", &ctx, "session of '%s' ended by token %s", s.identity,
            req->who.token_id);
    req->deps->terminate_session(req->deps->arg, s.id, "ended by the operator through the API");
    resp->status = 204;
}

/* ---- history ---- */

void api_h_session_history(struct api_req *req, struct api_resp *resp)
{
    const char *t = req->params[0];
    struct api_page pg;
    if (!api_may_read(req, t, resp) || !api_page_parse(req, &pg, resp))
        return;
    if (!api_tenant_exists(req->db, t)) {
        api_problem(resp, 404, NULL, "no tenant '%.64s'", t);
        return;
    }
    const char *since = api_query(req, "since"), *until = api_query(req, "until");
    const char *user = api_query(req, "user");
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
    /* since/until select sessions that ended in [since, until). */
    sqlite3_stmt *st = api_stmt(
        req->db,
        "SELECT id, session_id, identity, username, auth_method, client_addr, client_port, "
        "virtual_ipv4, virtual_ipv6, started_at, ended_at, bytes_in, bytes_out, packets_in, "
        "packets_out, cause FROM session_history WHERE tenant_id = ?1 AND "
        "(?2 IS NULL OR ended_at >= ?2) AND (?3 IS NULL OR ended_at < ?3) AND "
        "(?4 IS NULL OR identity = ?4 COLLATE NOCASE OR username = ?4 COLLATE NOCASE) AND "
        "(?5 IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?6");
    if (!st) {
        api_problem(resp, 500, NULL, "the session history cannot be read");
        return;
    }
    sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
    if (since)
        sqlite3_bind_int64(st, 2, (since_ms + 999) / 1000);
    if (until)
        sqlite3_bind_int64(st, 3, (until_ms + 999) / 1000);
    if (user)
        sqlite3_bind_text(st, 4, user, -1, SQLITE_STATIC);
    if (pg.has_after)
        sqlite3_bind_int64(st, 5, after);
    sqlite3_bind_int(st, 6, (int)pg.limit + 1);
    json_object *items = json_object_new_array();
    unsigned n = 0;
    bool more = false;
    char last[32] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == pg.limit) {
            more = true;
            break;
        }
        long long id = sqlite3_column_int64(st, 0);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_int64(id));
        json_object_object_add(o, "session_id",
                               json_object_new_string((const char *)sqlite3_column_text(st, 1)));
        json_object_object_add(o, "tenant", json_object_new_string(t));
        json_object_object_add(o, "identity",
                               json_object_new_string((const char *)sqlite3_column_text(st, 2)));
        json_object_object_add(o, "username",
                               str_or_null((const char *)sqlite3_column_text(st, 3)));
        json_object_object_add(o, "auth_method",
                               json_object_new_string((const char *)sqlite3_column_text(st, 4)));
        json_object *cl = json_object_new_object();
        json_object_object_add(cl, "address",
                               json_object_new_string((const char *)sqlite3_column_text(st, 5)));
        json_object_object_add(cl, "port", json_object_new_int(sqlite3_column_int(st, 6)));
        json_object_object_add(o, "client", cl);
        json_object *va = json_object_new_array();
        for (int c = 7; c <= 8; c++)
            if (sqlite3_column_type(st, c) == SQLITE_TEXT)
                json_object_array_add(
                    va, json_object_new_string((const char *)sqlite3_column_text(st, c)));
        json_object_object_add(o, "virtual_addresses", va);
        json_object_object_add(o, "started_at", time_or_null(sqlite3_column_int64(st, 9)));
        json_object_object_add(o, "ended_at", time_or_null(sqlite3_column_int64(st, 10)));
        struct reg_counters c = {
            (uint64_t)sqlite3_column_int64(st, 11), (uint64_t)sqlite3_column_int64(st, 12),
            (uint64_t)sqlite3_column_int64(st, 13), (uint64_t)sqlite3_column_int64(st, 14)};
        json_object_object_add(o, "totals", counters(&c));
        json_object_object_add(o, "cause",
                               json_object_new_string((const char *)sqlite3_column_text(st, 15)));
        json_object_array_add(items, o);
        snprintf(last, sizeof(last), "%lld", id);
        n++;
    }
    api_stmt_done(st);
    api_page_send(resp, items, more ? last : NULL);
}
