/* RADIUS servers: /api/v1/tenants/{tenant}/radius-servers[/{name}]. The
 * shared secret is write-only: sealed with the master key (context
 * "radius-secret"), never returned, "***" in the audit log. */
#include "api/check.h"
#include "api/resource.h"

static const struct api_field radius_fields[] = {
    {.name = "name",
     .type = AT_STRING,
     .flags = AF_REQUIRED | AF_IMMUTABLE,
     .min = 1,
     .max = 63,
     .column = "name",
     .check = api_check_name},
    {.name = "host",
     .type = AT_STRING,
     .flags = AF_REQUIRED,
     .min = 1,
     .max = 253,
     .column = "host",
     .check = api_check_host},
    {.name = "auth_port",
     .type = AT_INT,
     .min = 1,
     .max = 65535,
     .column = "auth_port",
     .def = "1812"},
    {.name = "acct_port",
     .type = AT_INT,
     .min = 0,
     .max = 65535,
     .column = "acct_port",
     .def = "1813"},
    {.name = "secret",
     .type = AT_STRING,
     .flags = AF_REQUIRED | AF_SECRET,
     .min = 1,
     .max = 128,
     .column = "secret_sealed",
     .seal = "radius-secret"},
    {.name = "timeout_ms",
     .type = AT_INT,
     .min = 100,
     .max = 60000,
     .column = "timeout_ms",
     .def = "3000"},
    {.name = "retries", .type = AT_INT, .min = 0, .max = 10, .column = "retries", .def = "2"},
    {.name = "priority",
     .type = AT_INT,
     .min = 0,
     .max = 65535,
     .column = "priority",
     .def = "100"},
    {.name = "created_at", .type = AT_TIME, .flags = AF_READONLY, .column = "created_at"},
    {.name = "updated_at", .type = AT_TIME, .flags = AF_READONLY, .column = "updated_at"},
    {0},
};

static void after(struct api_ctx *c, enum api_action a, json_object *doc, json_object *old)
{
    (void)a;
    (void)doc;
    (void)old;
    api_notify_config(c->req, c->tenant);
}

const struct api_resource api_res_radius = {
    .name = "radius server",
    .table = "radius_servers",
    .key = "name",
    .collection = "radius-servers",
    .tenant_scoped = true,
    .fields = radius_fields,
    .after = after,
};
