/* GET /api/v1/stats and /tenants/{t}/stats: live sessions, logins since
 * the daemon started (failures by reason), traffic, handshakes per second
 * over the last minute. Tenant-scoped tokens see their tenant only. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/auth.h"
#include "api/handlers.h"
#include "api/problem.h"
#include "api/resource.h"
#include "api/server.h"
#include "concentrator/stats.h"

static void send_stats(struct api_req *req, struct api_resp *resp, const char *tenant)
{
    struct stats *st = req->deps ? req->deps->stats : NULL;
    if (!st) {
        api_problem(resp, 503, NULL, "statistics are not available (no IKE engine)");
        return;
    }
    struct stats_traffic *tr = malloc(sizeof(*tr));
    if (!tr) {
        api_problem(resp, 503, NULL, "out of memory");
        return;
    }
    stats_traffic(st, req->deps->registry, tenant, tr);
    uint64_t active = 0, established = 0, failed = 0, by[STATS_FAIL_COUNT] = {0};
    struct reg_counters sum = {0};
    for (size_t i = 0; i < STATS_TENANTS; i++) {
        const struct stats_tenant *t = &st->tenants[i];
        if (!atomic_load_explicit(&t->used, memory_order_acquire))
            continue;
        if (tenant && strcmp(t->id, tenant) != 0)
            continue;
        active += tr->active[i];
        sum.bytes_in += tr->c[i].bytes_in;
        sum.bytes_out += tr->c[i].bytes_out;
        sum.packets_in += tr->c[i].packets_in;
        sum.packets_out += tr->c[i].packets_out;
        established += atomic_load(&t->established);
        for (size_t r = 0; r < STATS_FAIL_COUNT; r++)
            by[r] += atomic_load(&t->failed[r]);
    }
    free(tr);
    if (!tenant) /* failures before a tenant was known belong to no tenant */
        for (size_t r = 0; r < STATS_FAIL_COUNT; r++)
            by[r] += atomic_load(&st->failed_unresolved[r]);
    json_object *fr = json_object_new_object();
    for (size_t r = 0; r < STATS_FAIL_COUNT; r++) {
        failed += by[r];
        json_object_object_add(fr, stats_fail_name((enum stats_fail)r),
                               json_object_new_uint64(by[r]));
    }
    json_object *o = json_object_new_object();
    if (tenant)
        json_object_object_add(o, "tenant", json_object_new_string(tenant));
    char ts[48];
    api_time_str(st->started_at, ts, sizeof(ts));
    json_object_object_add(o, "since", json_object_new_string(ts));
    json_object_object_add(o, "active_sessions", json_object_new_uint64(active));
    json_object *lg = json_object_new_object();
    json_object_object_add(lg, "established", json_object_new_uint64(established));
    json_object_object_add(lg, "failed", json_object_new_uint64(failed));
    json_object_object_add(lg, "failed_by_reason", fr);
    json_object_object_add(o, "logins", lg);
    json_object *tf = json_object_new_object();
    json_object_object_add(tf, "bytes_in", json_object_new_uint64(sum.bytes_in));
    json_object_object_add(tf, "bytes_out", json_object_new_uint64(sum.bytes_out));
    json_object_object_add(tf, "packets_in", json_object_new_uint64(sum.packets_in));
    json_object_object_add(tf, "packets_out", json_object_new_uint64(sum.packets_out));
    json_object_object_add(o, "traffic", tf);
    json_object_object_add(o, "handshakes_per_second",
                           json_object_new_double(stats_handshake_rate(st, (int64_t)time(NULL))));
    api_resp_json(resp, 200, o);
}

void api_h_stats(struct api_req *req, struct api_resp *resp)
{
    send_stats(req, resp, api_caller_tenant(req));
}

void api_h_tenant_stats(struct api_req *req, struct api_resp *resp)
{
    const char *t = req->params[0];
    if (!api_may_read(req, t, resp))
        return;
    if (!api_tenant_exists(req->db, t)) {
        api_problem(resp, 404, NULL, "no tenant '%.64s'", t);
        return;
    }
    send_stats(req, resp, t);
}
