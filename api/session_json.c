/* Sessions as JSON: see session_json.h. */
#include "api/session_json.h"

#include <string.h>

#include "api/resource.h"
#include "concentrator/registry.h"
#include "concentrator/stats.h"

static void time_or_null(struct jbuf *b, int64_t t)
{
    if (t <= 0) {
        jb_raw(b, "null", 4);
        return;
    }
    char ts[48];
    api_time_str(t, ts, sizeof(ts));
    jb_cstr(b, ts);
}

static void counters(struct jbuf *b, const struct reg_counters *c)
{
    jb_lit(b, "\"bytes_in\":");
    jb_u64(b, c->bytes_in);
    jb_lit(b, ",\"bytes_out\":");
    jb_u64(b, c->bytes_out);
    jb_lit(b, ",\"packets_in\":");
    jb_u64(b, c->packets_in);
    jb_lit(b, ",\"packets_out\":");
    jb_u64(b, c->packets_out);
}

/* "a,b,c" as ["a","b","c"]. */
static void ts_list(struct jbuf *b, const char *csv)
{
    jb_raw(b, "[", 1);
    bool first = true;
    for (const char *p = csv; *p;) {
        size_t n = strcspn(p, ",");
        if (n) {
            if (!first)
                jb_raw(b, ",", 1);
            jb_str(b, p, n);
            first = false;
        }
        p += n + (p[n] == ',');
    }
    jb_raw(b, "]", 1);
}

void api_session_write(struct jbuf *b, const struct stats *st, const struct reg_session *s)
{
    struct reg_counters tot;
    stats_session_totals(st, s, &tot);
    jb_lit(b, "{\"id\":");
    jb_cstr(b, s->id);
    jb_lit(b, ",\"tenant\":");
    jb_cstr(b, s->tenant);
    jb_lit(b, ",\"identity\":");
    jb_cstr(b, s->identity);
    jb_lit(b, ",\"username\":");
    jb_cstr(b, s->username[0] ? s->username : NULL);
    jb_lit(b, ",\"auth_method\":");
    jb_cstr(b, s->auth);
    jb_lit(b, ",\"client\":{\"address\":");
    jb_cstr(b, s->client_addr);
    jb_lit(b, ",\"port\":");
    jb_u64(b, s->client_port);
    jb_lit(b, s->nat ? "},\"nat_detected\":true,\"virtual_addresses\":["
                     : "},\"nat_detected\":false,\"virtual_addresses\":[");
    if (s->vip4[0])
        jb_cstr(b, s->vip4);
    if (s->vip6[0]) {
        if (s->vip4[0])
            jb_raw(b, ",", 1);
        jb_cstr(b, s->vip6);
    }
    jb_lit(b, "],\"established_at\":");
    time_or_null(b, s->established_at);
    jb_lit(b, ",\"last_activity_at\":");
    time_or_null(b, s->last_activity > s->established_at ? s->last_activity : s->established_at);
    jb_lit(b, ",\"ike\":{\"algorithms\":");
    jb_cstr(b, s->ike_alg);
    jb_lit(b, "},\"child_sas\":[");
    if (s->has_child) {
        const struct reg_child *c = &s->child;
        /* The CHILD_SA's own traffic: totals minus CHILD_SAs that are gone. */
        struct reg_counters live = {
            tot.bytes_in - s->base.bytes_in, tot.bytes_out - s->base.bytes_out,
            tot.packets_in - s->base.packets_in, tot.packets_out - s->base.packets_out};
        jb_lit(b, "{\"spi_in\":");
        jb_hex32(b, c->spi_in);
        jb_lit(b, ",\"spi_out\":");
        jb_hex32(b, c->spi_out);
        jb_lit(b, ",\"algorithms\":");
        jb_cstr(b, c->alg);
        jb_lit(b, ",\"local_ts\":");
        ts_list(b, c->ts_local);
        jb_lit(b, ",\"remote_ts\":");
        ts_list(b, c->ts_remote);
        jb_lit(b, ",\"rekeys\":");
        jb_u64(b, c->rekeys);
        jb_lit(b, ",\"established_at\":");
        time_or_null(b, c->established_at);
        jb_raw(b, ",", 1);
        counters(b, &live);
        jb_raw(b, "}", 1);
    }
    jb_lit(b, "],\"totals\":{");
    counters(b, &tot);
    jb_lit(b, "}}");
}
