/* Prometheus metrics: see metrics.h. Names follow the Prometheus
 * conventions: an isthmus_ prefix, base units (seconds, bytes), _total on
 * counters, one HELP and TYPE line per family, histogram buckets
 * cumulative with le="+Inf" equal to _count. */
#define _GNU_SOURCE
#include "api/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/auth.h"
#include "api/problem.h"
#include "api/server.h"
#include "concentrator/config.h"
#include "concentrator/log.h"
#include "concentrator/registry.h"
#include "concentrator/stats.h"

/* A label value with \, " and newline escaped. */
static void label(FILE *f, const char *v)
{
    fputc('"', f);
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f), fputc(*v, f);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
    fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void tenant_series(FILE *f, const char *name, const char *tenant, const char *extra_k,
                          const char *extra_v, uint64_t v)
{
    fprintf(f, "%s{tenant=", name);
    label(f, tenant);
    if (extra_k && extra_v) {
        fprintf(f, ",%s=", extra_k);
        label(f, extra_v);
    }
    fprintf(f, "} %llu\n", (unsigned long long)v);
}

static bool shown(const struct stats_tenant *t, const char *tenant)
{
    return atomic_load_explicit(&t->used, memory_order_acquire) &&
           (!tenant || strcmp(t->id, tenant) == 0);
}

static void tenants(FILE *f, struct stats *st, const struct stats_traffic *tr, const char *only)
{
    family(f, "isthmus_sessions_active", "gauge", "Established IKE SAs (sessions) now.");
    for (size_t i = 0; i < STATS_TENANTS; i++)
        if (shown(&st->tenants[i], only))
            tenant_series(f, "isthmus_sessions_active", st->tenants[i].id, NULL, NULL,
                          tr->active[i]);
    family(f, "isthmus_sessions_ended_total", "counter", "Sessions that have ended.");
    for (size_t i = 0; i < STATS_TENANTS; i++)
        if (shown(&st->tenants[i], only))
            tenant_series(f, "isthmus_sessions_ended_total", st->tenants[i].id, NULL, NULL,
                          atomic_load(&st->tenants[i].ended));
    family(f, "isthmus_traffic_bytes_total", "counter",
           "Inner bytes through the tunnels (in: from clients, out: to clients).");
    for (size_t i = 0; i < STATS_TENANTS; i++) {
        if (!shown(&st->tenants[i], only))
            continue;
        tenant_series(f, "isthmus_traffic_bytes_total", st->tenants[i].id, "direction", "in",
                      tr->c[i].bytes_in);
        tenant_series(f, "isthmus_traffic_bytes_total", st->tenants[i].id, "direction", "out",
                      tr->c[i].bytes_out);
    }
    family(f, "isthmus_traffic_packets_total", "counter", "Inner packets through the tunnels.");
    for (size_t i = 0; i < STATS_TENANTS; i++) {
        if (!shown(&st->tenants[i], only))
            continue;
        tenant_series(f, "isthmus_traffic_packets_total", st->tenants[i].id, "direction", "in",
                      tr->c[i].packets_in);
        tenant_series(f, "isthmus_traffic_packets_total", st->tenants[i].id, "direction", "out",
                      tr->c[i].packets_out);
    }
    family(f, "isthmus_auth_successes_total", "counter", "Logins that established a session.");
    for (size_t i = 0; i < STATS_TENANTS; i++)
        if (shown(&st->tenants[i], only))
            tenant_series(f, "isthmus_auth_successes_total", st->tenants[i].id, NULL, NULL,
                          atomic_load(&st->tenants[i].established));
    family(f, "isthmus_auth_failures_total", "counter", "Logins refused, by reason.");
    for (size_t i = 0; i < STATS_TENANTS; i++)
        if (shown(&st->tenants[i], only))
            for (size_t r = 0; r < STATS_FAIL_COUNT; r++)
                tenant_series(f, "isthmus_auth_failures_total", st->tenants[i].id, "reason",
                              stats_fail_name((enum stats_fail)r),
                              atomic_load(&st->tenants[i].failed[r]));
    if (!only) /* no tenant was resolved for these */
        for (size_t r = 0; r < STATS_FAIL_COUNT; r++)
            tenant_series(f, "isthmus_auth_failures_total", "", "reason",
                          stats_fail_name((enum stats_fail)r),
                          atomic_load(&st->failed_unresolved[r]));
    family(f, "isthmus_radius_accounting_records_total", "counter",
           "Accounting records sent, by result (acknowledged or not).");
    for (size_t i = 0; i < STATS_TENANTS; i++) {
        if (!shown(&st->tenants[i], only))
            continue;
        tenant_series(f, "isthmus_radius_accounting_records_total", st->tenants[i].id, "result",
                      "acknowledged", atomic_load(&st->tenants[i].acct_sent));
        tenant_series(f, "isthmus_radius_accounting_records_total", st->tenants[i].id, "result",
                      "failed", atomic_load(&st->tenants[i].acct_failed));
    }
}

static void seconds(FILE *f, uint64_t ms)
{
    fprintf(f, "%llu.%03llu", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
}

static void histogram_line(FILE *f, const char *name, const char *labels, uint32_t le_ms, bool inf,
                           uint64_t v)
{
    fprintf(f, "%s_bucket{%s%sle=\"", name, labels, labels[0] ? "," : "");
    if (inf)
        fputs("+Inf", f);
    else
        seconds(f, le_ms);
    fprintf(f, "\"} %llu\n", (unsigned long long)v);
}

static void handshakes(FILE *f, struct stats *st)
{
    const char *n = "isthmus_handshake_duration_seconds";
    family(f, n, "histogram", "IKE_SA_INIT request to the established IKE SA.");
    uint64_t cum = 0;
    for (size_t b = 0; b <= STATS_HS_BUCKETS; b++) {
        cum += atomic_load(&st->hs_bucket[b]);
        histogram_line(f, n, "", b < STATS_HS_BUCKETS ? stats_hs_bounds_ms[b] : 0,
                       b == STATS_HS_BUCKETS, cum);
    }
    fprintf(f, "%s_sum ", n);
    seconds(f, atomic_load(&st->hs_sum_ms));
    /* _count equals the +Inf bucket: both from the same reads. */
    fprintf(f, "\n%s_count %llu\n", n, (unsigned long long)cum);
}

static char *server_labels(const struct stats_server *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    fputs("tenant=", m);
    label(m, s->tenant);
    fputs(",server=", m);
    label(m, s->addr);
    fputs(",kind=", m);
    label(m, s->kind);
    fclose(m);
    return buf;
}

static void radius(FILE *f, struct stats *st, const char *only)
{
    const char *n = "isthmus_radius_request_duration_seconds";
    family(f, n, "histogram", "RADIUS requests answered, first send to answer, per server.");
    for (size_t i = 0; i < STATS_SERVERS; i++) {
        const struct stats_server *s = &st->servers[i];
        if (!atomic_load_explicit(&s->used, memory_order_acquire) ||
            (only && strcmp(s->tenant, only) != 0))
            continue;
        char *l = server_labels(s);
        if (!l)
            continue;
        uint64_t cum = 0;
        for (size_t b = 0; b <= STATS_RAD_BUCKETS; b++) {
            cum += atomic_load(&s->lat_bucket[b]);
            histogram_line(f, n, l, b < STATS_RAD_BUCKETS ? stats_radius_bounds_ms[b] : 0,
                           b == STATS_RAD_BUCKETS, cum);
        }
        fprintf(f, "%s_sum{%s} ", n, l);
        seconds(f, atomic_load(&s->lat_sum_ms));
        fprintf(f, "\n%s_count{%s} %llu\n", n, l, (unsigned long long)cum);
        free(l);
    }
    static const struct {
        const char *name, *help;
        size_t off;
    } fams[] = {
        {"isthmus_radius_requests_total", "RADIUS requests that tried this server.",
         offsetof(struct stats_server, requests)},
        {"isthmus_radius_timeouts_total", "RADIUS requests this server never answered.",
         offsetof(struct stats_server, timeouts)},
        {"isthmus_radius_errors_total",
         "RADIUS requests that failed at this server (refused, unresolvable, socket error).",
         offsetof(struct stats_server, errors)},
    };
    for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
        family(f, fams[k].name, "counter", fams[k].help);
        for (size_t i = 0; i < STATS_SERVERS; i++) {
            const struct stats_server *s = &st->servers[i];
            if (!atomic_load_explicit(&s->used, memory_order_acquire) ||
                (only && strcmp(s->tenant, only) != 0))
                continue;
            char *l = server_labels(s);
            if (!l)
                continue;
            const atomic_uint_fast64_t *c =
                (const atomic_uint_fast64_t *)(const void *)((const char *)s + fams[k].off);
            fprintf(f, "%s{%s} %llu\n", fams[k].name, l, (unsigned long long)atomic_load(c));
            free(l);
        }
    }
}

static void daemon_wide(FILE *f, struct stats *st)
{
    uint64_t drops[STATS_ESP_REASONS];
    const char *names[STATS_ESP_REASONS];
    size_t nd = stats_esp_drops(st, drops, names, STATS_ESP_REASONS);
    family(f, "isthmus_esp_drops_total", "counter", "ESP packets dropped, by reason.");
    for (size_t i = 0; i < nd; i++) {
        fputs("isthmus_esp_drops_total{reason=", f);
        label(f, names[i]);
        fprintf(f, "} %llu\n", (unsigned long long)drops[i]);
    }
    uint64_t io[STATS_ESP_IO_COUNTERS];
    const char *io_names[STATS_ESP_IO_COUNTERS];
    size_t ni = stats_esp_io(st, io, io_names, STATS_ESP_IO_COUNTERS);
    family(f, "isthmus_esp_io_packets_total", "counter",
           "Datagrams and packets the ESP workers moved or dropped, by event.");
    for (size_t i = 0; i < ni; i++) {
        fputs("isthmus_esp_io_packets_total{event=", f);
        label(f, io_names[i]);
        fprintf(f, "} %llu\n", (unsigned long long)io[i]);
    }
    struct stats_queues q;
    stats_queues(st, &q);
    family(f, "isthmus_queue_depth", "gauge", "Jobs waiting in a worker queue.");
    fprintf(f, "isthmus_queue_depth{queue=\"auth\"} %u\n", q.auth_waiting);
    fprintf(f, "isthmus_queue_depth{queue=\"db_writer\"} %zu\n", q.writer_queued);
    family(f, "isthmus_auth_threads_busy", "gauge", "Auth threads running a RADIUS request.");
    fprintf(f, "isthmus_auth_threads_busy %u\n", q.auth_running);
    family(f, "isthmus_auth_jobs_refused_total", "counter",
           "RADIUS jobs refused because the auth queue was full.");
    fprintf(f, "isthmus_auth_jobs_refused_total %llu\n", (unsigned long long)q.auth_refused);
    family(f, "isthmus_radius_accounting_dropped_total", "counter",
           "Accounting records never sent (auth queue full).");
    fprintf(f, "isthmus_radius_accounting_dropped_total %llu\n",
            (unsigned long long)atomic_load(&st->acct_dropped));
    family(f, "isthmus_session_history_dropped_total", "counter",
           "Session history rows never written (writer queue full).");
    fprintf(f, "isthmus_session_history_dropped_total %llu\n",
            (unsigned long long)atomic_load(&st->history_dropped));
    family(f, "isthmus_api_event_streams", "gauge", "GET /api/v1/events streams open.");
    fprintf(f, "isthmus_api_event_streams %u\n", atomic_load(&st->event_streams));
    family(f, "isthmus_handshakes_per_second", "gauge",
           "Sessions established per second over the last minute.");
    fprintf(f, "isthmus_handshakes_per_second %.4f\n",
            stats_handshake_rate(st, (int64_t)time(NULL)));
    family(f, "isthmus_start_time_seconds", "gauge", "When the daemon started (Unix time).");
    fprintf(f, "isthmus_start_time_seconds %lld\n", (long long)st->started_at);
}

char *api_metrics_render(struct stats *st, struct registry *reg, const char *tenant, size_t *len)
{
    char *buf = NULL;
    *len = 0;
    struct stats_traffic *tr = malloc(sizeof(*tr));
    FILE *f = tr ? open_memstream(&buf, len) : NULL;
    if (!f) {
        free(tr);
        return NULL;
    }
    stats_traffic(st, reg, tenant, tr);
    tenants(f, st, tr, tenant);
    radius(f, st, tenant);
    if (!tenant) { /* nothing below belongs to one tenant */
        handshakes(f, st);
        daemon_wide(f, st);
    }
    bool ok = !ferror(f);
    fclose(f);
    free(tr);
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

void api_h_metrics(struct api_req *req, struct api_resp *resp)
{
    struct stats *st = req->deps ? req->deps->stats : NULL;
    if (!st) {
        api_problem(resp, 503, NULL, "metrics are not available (no IKE engine)");
        return;
    }
    size_t len;
    char *text = api_metrics_render(st, req->deps->registry, api_caller_tenant(req), &len);
    if (!text) {
        api_problem(resp, 503, NULL, "out of memory");
        return;
    }
    resp->status = 200;
    resp->ctype = API_METRICS_CTYPE;
    resp->body = text;
    resp->len = len;
}

/* ---- the separate listener ---- */

struct api_metrics_server {
    struct MHD_Daemon *mhd;
    struct api_deps deps;
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *ctype,
                              char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)version;
    (void)upload;
    struct api_metrics_server *s = cls;
    if (!*req_cls) { /* headers only */
        *req_cls = s;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* bodies are ignored */
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0)
        return answer(c, 404, "text/plain", strdup("only /metrics here\n"), 19);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return answer(c, 405, "text/plain", strdup("GET only\n"), 9);
    size_t len;
    char *text = api_metrics_render(s->deps.stats, s->deps.registry, NULL, &len);
    if (!text)
        return MHD_NO;
    return answer(c, 200, API_METRICS_CTYPE, text, len);
}

struct api_metrics_server *api_metrics_start(const struct api_deps *deps, char *err, size_t errlen)
{
    const struct config *cfg = deps->cfg;
    char host[CONFIG_ADDR_MAX];
    uint16_t port;
    if (!deps->stats || config_split_hostport(cfg->metrics_listen, host, sizeof(host), &port) < 0) {
        snprintf(err, errlen, "bad [api] metrics_listen '%s'", cfg->metrics_listen);
        return NULL;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "bad [api] metrics_listen address '%s'", host);
        return NULL;
    }
    struct api_metrics_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->deps = *deps;
    s->mhd = MHD_start_daemon(flags, port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, &ss,
                              MHD_OPTION_CONNECTION_LIMIT, 64, MHD_OPTION_CONNECTION_TIMEOUT, 30,
                              MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "cannot listen for metrics on %s (in use, or no permission)",
                 cfg->metrics_listen);
        free(s);
        return NULL;
    }
    log_notice("api", "metrics on http://%s/metrics (no token)", cfg->metrics_listen);
    return s;
}

void api_metrics_stop(struct api_metrics_server *s)
{
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    free(s);
}
