/* The route table of /api/v1 (the contract is openapi.yaml). */
#include <stdatomic.h>

#include "api/certs.h"
#include "api/handlers.h"
#include "api/problem.h"
#include "api/resource.h"
#include "api/router.h"

static atomic_bool ready;

void api_set_ready(bool r)
{
    atomic_store(&ready, r);
}

void api_h_health(struct api_req *req, struct api_resp *resp)
{
    (void)req;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("ok"));
    api_resp_json(resp, 200, o);
}

void api_h_ready(struct api_req *req, struct api_resp *resp)
{
    if (!atomic_load(&ready) || !req->db) {
        api_problem(resp, 503, NULL, "the daemon is starting");
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("ready"));
    api_resp_json(resp, 200, o);
}

/* Five handlers per table resource. */
#define RESOURCE_HANDLERS(n, res)                                                                  \
    static void n##_list(struct api_req *q, struct api_resp *r)                                    \
    {                                                                                              \
        api_res_list(&res, q, r);                                                                  \
    }                                                                                              \
    static void n##_get(struct api_req *q, struct api_resp *r)                                     \
    {                                                                                              \
        api_res_get(&res, q, r);                                                                   \
    }                                                                                              \
    static void n##_create(struct api_req *q, struct api_resp *r)                                  \
    {                                                                                              \
        api_res_create(&res, q, r);                                                                \
    }                                                                                              \
    static void n##_patch(struct api_req *q, struct api_resp *r)                                   \
    {                                                                                              \
        api_res_patch(&res, q, r);                                                                 \
    }                                                                                              \
    static void n##_delete(struct api_req *q, struct api_resp *r)                                  \
    {                                                                                              \
        api_res_delete(&res, q, r);                                                                \
    }

RESOURCE_HANDLERS(tenants, api_res_tenants)
RESOURCE_HANDLERS(policies, api_res_policies)
RESOURCE_HANDLERS(users, api_res_users)
RESOURCE_HANDLERS(groups, api_res_groups)
RESOURCE_HANDLERS(radius, api_res_radius)

#define T "/api/v1/tenants/{tenant}"
#define CRUD(n, coll, item)                                                                        \
    {API_GET, coll, n##_list, 0}, {API_POST, coll, n##_create, 0}, {API_GET, item, n##_get, 0},    \
        {API_PATCH, item, n##_patch, 0},                                                           \
    {                                                                                              \
        API_DELETE, item, n##_delete, 0                                                            \
    }

const struct api_route api_routes[] = {
    {API_GET, "/health", api_h_health, API_ROUTE_NOAUTH},
    {API_GET, "/ready", api_h_ready, API_ROUTE_NOAUTH},
    {API_GET, "/api/v1/health", api_h_health, API_ROUTE_NOAUTH},
    {API_GET, "/api/v1/ready", api_h_ready, API_ROUTE_NOAUTH},
    CRUD(tenants, "/api/v1/tenants", T),
    CRUD(policies, T "/policies", T "/policies/{name}"),
    CRUD(users, T "/users", T "/users/{name}"),
    CRUD(groups, T "/groups", T "/groups/{name}"),
    CRUD(radius, T "/radius-servers", T "/radius-servers/{name}"),
    {API_GET, T "/ca", api_h_ca_get, 0},
    {API_GET, T "/ca.pem", api_h_ca_pem, 0},
    {API_GET, T "/crl", api_h_crl, 0},
    {API_GET, T "/certificates", api_h_certs_list, 0},
    {API_POST, T "/certificates/server", api_h_cert_server, 0},
    {API_POST, T "/certificates/upload", api_h_cert_upload, 0},
    {API_POST, T "/certificates/client", api_h_cert_client, 0},
    {API_GET, T "/certificates/{id}", api_h_cert_get, 0},
    {API_POST, T "/certificates/{id}/revoke", api_h_cert_revoke, 0},
    {API_GET, "/api/v1/tokens", api_h_tokens_list, 0},
    {API_POST, "/api/v1/tokens", api_h_tokens_create, 0},
    {API_GET, "/api/v1/tokens/{id}", api_h_tokens_get, 0},
    {API_DELETE, "/api/v1/tokens/{id}", api_h_tokens_revoke, 0},
    {API_GET, "/api/v1/audit", api_h_audit_list, 0},
    {API_GET, "/api/v1/sessions", api_h_sessions_list, 0},
    {API_GET, "/api/v1/sessions/{id}", api_h_session_get, 0},
    {API_DELETE, "/api/v1/sessions/{id}", api_h_session_delete, 0},
    {API_POST, "/api/v1/sessions/{id}/redirect", api_h_session_redirect, 0},
    {API_GET, "/api/v1/drain", api_h_drain_get, 0},
    {API_POST, "/api/v1/drain", api_h_drain_start, 0},
    {API_DELETE, "/api/v1/drain", api_h_drain_stop, 0},
    {API_GET, T "/sessions", api_h_tenant_sessions_list, 0},
    {API_GET, T "/session-history", api_h_session_history, 0},
    {API_GET, "/api/v1/stats", api_h_stats, 0},
    {API_GET, T "/stats", api_h_tenant_stats, 0},
    {API_GET, "/metrics", api_h_metrics, 0},
    {API_GET, "/api/v1/events", api_h_events, 0},
};
const size_t api_routes_count = sizeof(api_routes) / sizeof(api_routes[0]);

bool api_body_spec(size_t i, const char **name, const struct api_field **fields)
{
    const struct api_resource *res[] = {&api_res_tenants, &api_res_policies, &api_res_users,
                                        &api_res_groups, &api_res_radius};
    size_t n = sizeof(res) / sizeof(res[0]);
    if (i < n) {
        *name = res[i]->name;
        *fields = res[i]->fields;
        return true;
    }
    static const struct {
        const char *name;
        const struct api_field *fields;
    } more[] = {
        {"token", api_token_fields},
        {"server certificate", api_cert_server_fields},
        {"uploaded certificate", api_cert_upload_fields},
        {"client certificate", api_cert_client_fields},
        {"revocation", api_cert_revoke_fields},
    };
    if (i - n < sizeof(more) / sizeof(more[0])) {
        *name = more[i - n].name;
        *fields = more[i - n].fields;
        return true;
    }
    return false;
}
