/* Drain and redirect (RFC 5685), operator actions that the IKE thread
 * carries out: POST /api/v1/drain {"redirect_to": gw} sends new clients to
 * another gateway until DELETE /api/v1/drain; GET tells whether it is on.
 * POST /api/v1/sessions/{id}/redirect {"to": gw} moves one live session. */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "api/auth.h"
#include "api/handlers.h"
#include "api/json.h"
#include "api/problem.h"
#include "api/resource.h"
#include "api/server.h"
#include "concentrator/log.h"
#include "concentrator/registry.h"
#include "db/audit.h"

#define GW_MAX 253

/* The body's one member `name`: a gateway address or FQDN. NULL with the
 * problem set on anything else. */
static const char *gateway_of(struct api_req *req, struct api_resp *resp, const char *name,
                              json_object **doc)
{
    struct api_problem p = {0};
    *doc = api_json_parse(req->body ? req->body : "", req->body ? req->body_len : 0, &p);
    if (!*doc) {
        api_problem(resp, p.status ? p.status : 400, p.field[0] ? p.field : NULL, "%s", p.detail);
        return NULL;
    }
    json_object_object_foreach(*doc, key, val)
    {
        (void)val;
        if (strcmp(key, name) != 0) {
            api_problem(resp, 400, key, "%.64s: unknown field", key);
            return NULL;
        }
    }
    json_object *v = NULL;
    if (!json_object_object_get_ex(*doc, name, &v) || !json_object_is_type(v, json_type_string)) {
        api_problem(resp, 400, name, "%s: required, a gateway address or host name", name);
        return NULL;
    }
    const char *s = json_object_get_string(v);
    size_t n = strlen(s);
    bool ok = n > 0 && n <= GW_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = s[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '-' || c == ':';
    }
    if (!ok) {
        api_problem(resp, 400, name, "%s: not an IPv4/IPv6 address or host name", name);
        return NULL;
    }
    return s;
}

static bool audit(struct api_req *req, struct api_resp *resp, const char *tenant,
                  const char *resource, const char *id, const char *action, const char *to)
{
    json_object *ch = json_object_new_object();
    if (to)
        json_object_object_add(ch, "to", json_object_new_string(to));
    int rc = db_audit_insert(req->db, req->who.token_id, tenant, resource, id, action,
                             json_object_to_json_string(ch));
    json_object_put(ch);
    if (rc != SQLITE_OK) {
        api_problem(resp, 503, NULL, "the audit log cannot be written");
        return false;
    }
    return true;
}

static void drain_state(struct api_req *req, struct api_resp *resp, unsigned status)
{
    char to[GW_MAX + 1] = "";
    bool on = req->deps->draining && req->deps->draining(req->deps->arg, to, sizeof(to));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "draining", json_object_new_boolean(on));
    json_object_object_add(o, "redirect_to", on ? json_object_new_string(to) : NULL);
    api_resp_json(resp, status, o);
}

void api_h_drain_get(struct api_req *req, struct api_resp *resp)
{
    if (!api_require_operator(req, resp))
        return;
    drain_state(req, resp, 200);
}

void api_h_drain_start(struct api_req *req, struct api_resp *resp)
{
    if (!api_require_operator(req, resp))
        return;
    if (!req->deps->drain) {
        api_problem(resp, 503, NULL, "no IKE engine to drain");
        return;
    }
    json_object *doc = NULL;
    const char *to = gateway_of(req, resp, "redirect_to", &doc);
    if (to && audit(req, resp, NULL, "gateway", "drain", "drain", to)) {
        log_notice("api", "token %s drains the gateway to %s", req->who.token_id, to);
        req->deps->drain(req->deps->arg, to);
        drain_state(req, resp, 200);
    }
    json_object_put(doc);
}

void api_h_drain_stop(struct api_req *req, struct api_resp *resp)
{
    if (!api_require_operator(req, resp))
        return;
    if (!req->deps->drain) {
        api_problem(resp, 503, NULL, "no IKE engine to drain");
        return;
    }
    if (!audit(req, resp, NULL, "gateway", "drain", "undrain", NULL))
        return;
    log_notice("api", "token %s ends draining", req->who.token_id);
    req->deps->drain(req->deps->arg, NULL);
    resp->status = 204;
}

void api_h_session_redirect(struct api_req *req, struct api_resp *resp)
{
    struct reg_session s;
    const char *mine = api_caller_tenant(req);
    if (!req->deps->registry || !req->deps->redirect_session) {
        api_problem(resp, 503, NULL, "sessions cannot be redirected (no IKE engine)");
        return;
    }
    if (!registry_get(req->deps->registry, req->params[0], &s) ||
        (mine && strcmp(mine, s.tenant) != 0)) {
        api_problem(resp, 404, NULL, "no live session '%.32s'", req->params[0]);
        return;
    }
    if (!api_may_write(req, s.tenant, resp))
        return;
    json_object *doc = NULL;
    const char *to = gateway_of(req, resp, "to", &doc);
    if (to && audit(req, resp, s.tenant, "session", s.id, "redirect", to)) {
        struct log_ctx ctx = {.tenant = s.tenant, .session = s.id};
        log_msg(LOG_LVL_NOTICE, "api", &ctx, "session of '%s' redirected to %s by token %s",
                s.identity, to, req->who.token_id);
        req->deps->redirect_session(req->deps->arg, s.id, to);
        resp->status = 202;
    }
    json_object_put(doc);
}
