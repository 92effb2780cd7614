/* Daemon counters (concentrator/stats.c) and their Prometheus rendering
 * (api/metrics.c): what a scraper and a dashboard read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/metrics.h"
#include "concentrator/registry.h"
#include "concentrator/stats.h"

/* The value of the sample line that starts with `series ` (exact series
 * text, labels included); -1 when absent. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

/* Checks the exposition text line by line: every sample belongs to a
 * family announced by HELP and TYPE before it, names and label names are
 * valid, label values are quoted with only \\, \" and \n escapes, values
 * parse, and no series appears twice. */
static void assert_well_formed(const char *text)
{
    char fam[128] = "", type[16] = "";
    char *copy = strdup(text);
    char **seen = calloc(4096, sizeof(char *));
    size_t nseen = 0;
    char *save = NULL;
    assert_true(text[strlen(text) - 1] == '\n');
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "# HELP ", 7) == 0) {
            assert_int_equal(sscanf(l + 7, "%127s", fam), 1);
            continue;
        }
        if (strncmp(l, "# TYPE ", 7) == 0) {
            char name[128];
            assert_int_equal(sscanf(l + 7, "%127s %15s", name, type), 2);
            assert_string_equal(name, fam);
            assert_true(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
                        !strcmp(type, "histogram"));
            continue;
        }
        assert_true(l[0] != '#');
        const char *p = l;
        assert_true(isalpha((unsigned char)*p) || *p == '_');
        while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
            p++;
        size_t nl = (size_t)(p - l);
        /* The sample's family: itself, or a histogram's _bucket/_sum/_count. */
        bool ok = nl == strlen(fam) && !strncmp(l, fam, nl);
        if (!ok && !strcmp(type, "histogram")) {
            const char *suf[] = {"_bucket", "_sum", "_count"};
            for (size_t k = 0; k < 3 && !ok; k++)
                ok = nl == strlen(fam) + strlen(suf[k]) && !strncmp(l, fam, strlen(fam)) &&
                     !strncmp(l + strlen(fam), suf[k], strlen(suf[k]));
        }
        assert_true(ok);
        if (!strcmp(type, "counter"))
            assert_true(nl > 6 && !strncmp(l + nl - 6, "_total", 6));
        if (*p == '{') {
            p++;
            while (*p != '}') {
                assert_true(isalpha((unsigned char)*p) || *p == '_');
                while (isalnum((unsigned char)*p) || *p == '_')
                    p++;
                assert_int_equal(*p++, '=');
                assert_int_equal(*p++, '"');
                while (*p != '"') {
                    assert_true(*p != '\0');
                    if (*p == '\\') {
                        p++;
                        assert_true(*p == '\\' || *p == '"' || *p == 'n');
                    }
                    p++;
                }
                p++;
                if (*p == ',')
                    p++;
            }
            p++;
        }
        assert_int_equal(*p, ' ');
        size_t slen = (size_t)(p - l);
        char *end = NULL;
        strtod(p + 1, &end);
        assert_true(end != p + 1 && *end == '\0');
        for (size_t i = 0; i < nseen; i++)
            assert_false(strlen(seen[i]) == slen && !strncmp(seen[i], l, slen));
        assert_true(nseen < 4096);
        seen[nseen++] = strndup(l, slen);
    }
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    free(copy);
}

static void put_session(struct registry *r, const char *id, const char *tenant, uint64_t bytes_in)
{
    struct reg_session s;
    memset(&s, 0, sizeof(s));
    snprintf(s.id, sizeof(s.id), "%s", id);
    snprintf(s.tenant, sizeof(s.tenant), "%s", tenant);
    s.base.bytes_in = bytes_in;
    s.base.packets_in = bytes_in / 100;
    registry_put(r, &s);
}

static void logins_failures_and_latency_are_exposed(void **state)
{
    (void)state;
    struct stats *st = stats_new();
    struct registry *reg = registry_new();
    int64_t now = 1800000000;
    stats_established(st, "acme", 3, now);     /* <= 5 ms */
    stats_established(st, "acme", 40, now);    /* <= 50 ms */
    stats_established(st, "beta", 70000, now); /* over every bound */
    stats_failed(st, "acme", STATS_FAIL_RADIUS_REJECT);
    stats_failed(st, "acme", STATS_FAIL_RADIUS_REJECT);
    stats_failed(st, NULL, STATS_FAIL_POLICY);
    stats_radius(st, "acme", "auth", "127.0.0.1:1812", 1, 7);
    stats_radius(st, "acme", "auth", "127.0.0.1:1812", 2, 3000);
    stats_radius(st, "acme", "acct", "say \"hi\"\\:1813", 1, 20);
    put_session(reg, "00000000000000a1", "acme", 1000);

    size_t len;
    char *t = api_metrics_render(st, reg, NULL, &len);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    assert_well_formed(t);
    assert_true(sample(t, "isthmus_sessions_active{tenant=\"acme\"}") == 1);
    assert_true(sample(t, "isthmus_sessions_active{tenant=\"beta\"}") == 0);
    assert_true(sample(t, "isthmus_auth_successes_total{tenant=\"acme\"}") == 2);
    assert_true(
        sample(t, "isthmus_auth_failures_total{tenant=\"acme\",reason=\"radius_reject\"}") == 2);
    assert_true(sample(t, "isthmus_auth_failures_total{tenant=\"\",reason=\"policy\"}") == 1);
    assert_true(sample(t, "isthmus_traffic_bytes_total{tenant=\"acme\",direction=\"in\"}") == 1000);
    /* Buckets are cumulative; +Inf equals _count; _sum in seconds. */
    assert_true(sample(t, "isthmus_handshake_duration_seconds_bucket{le=\"0.005\"}") == 1);
    assert_true(sample(t, "isthmus_handshake_duration_seconds_bucket{le=\"0.050\"}") == 2);
    assert_true(sample(t, "isthmus_handshake_duration_seconds_bucket{le=\"30.000\"}") == 2);
    assert_true(sample(t, "isthmus_handshake_duration_seconds_bucket{le=\"+Inf\"}") == 3);
    assert_true(sample(t, "isthmus_handshake_duration_seconds_count") == 3);
    assert_true(sample(t, "isthmus_handshake_duration_seconds_sum") == 70.043);
    const char *srv = "{tenant=\"acme\",server=\"127.0.0.1:1812\",kind=\"auth\"}";
    char name[256];
    snprintf(name, sizeof(name), "isthmus_radius_requests_total%s", srv);
    assert_true(sample(t, name) == 2);
    snprintf(name, sizeof(name), "isthmus_radius_timeouts_total%s", srv);
    assert_true(sample(t, name) == 1);
    snprintf(name, sizeof(name), "isthmus_radius_request_duration_seconds_count%s", srv);
    assert_true(sample(t, name) == 1);
    /* A label value with a quote and a backslash comes out escaped. */
    assert_non_null(strstr(t, "server=\"say \\\"hi\\\"\\\\:1813\""));
    free(t);

    /* A tenant's own view: its series only, nothing daemon-wide. */
    t = api_metrics_render(st, reg, "beta", &len);
    assert_non_null(t);
    assert_well_formed(t);
    assert_null(strstr(t, "acme"));
    assert_null(strstr(t, "isthmus_handshake_duration_seconds"));
    assert_true(sample(t, "isthmus_auth_successes_total{tenant=\"beta\"}") == 1);
    free(t);
    registry_free(reg);
    stats_free(st);
}

static void tenant_traffic_never_goes_back_when_a_session_ends(void **state)
{
    (void)state;
    struct stats *st = stats_new();
    struct registry *reg = registry_new();
    stats_established(st, "acme", 10, 1800000000);
    put_session(reg, "00000000000000b1", "acme", 5000);
    put_session(reg, "00000000000000b2", "acme", 700);
    struct stats_traffic *tr = malloc(sizeof(*tr));
    int i = stats_tenant_index(st, "acme");
    assert_true(i >= 0);
    stats_traffic(st, reg, NULL, tr);
    assert_int_equal(tr->active[i], 2);
    assert_int_equal(tr->c[i].bytes_in, 5700);

    /* The IKE thread removes the entry, and only then adds the totals to
     * the ended sessions: a read in between must not show less. */
    registry_remove(reg, "00000000000000b1");
    stats_traffic(st, reg, "acme", tr);
    assert_int_equal(tr->active[i], 1);
    assert_int_equal(tr->c[i].bytes_in, 5700);
    struct reg_counters fin = {.bytes_in = 5200, .packets_in = 52};
    stats_session_ended(st, "acme", &fin);
    stats_traffic(st, reg, NULL, tr);
    assert_int_equal(tr->c[i].bytes_in, 5900);
    assert_int_equal(atomic_load(&st->tenants[i].ended), 1);
    free(tr);
    registry_free(reg);
    stats_free(st);
}

static void handshake_rate_counts_the_last_minute(void **state)
{
    (void)state;
    struct stats *st = stats_new();
    int64_t now = 1800000000;
    for (int k = 0; k < 30; k++)
        stats_established(st, "acme", 10, now - 100); /* long ago */
    for (int k = 0; k < 60; k++)
        stats_established(st, "acme", 10, now - (k % 30));
    assert_true(stats_handshake_rate(st, now) > 0.999 && stats_handshake_rate(st, now) < 1.001);
    /* A minute later, every slot is stale. */
    assert_true(stats_handshake_rate(st, now + 60) == 0);
    /* A slot reused a minute later starts again from zero. */
    stats_established(st, "acme", 10, now + 60);
    assert_true(stats_handshake_rate(st, now + 60) * 60 > 0.999 &&
                stats_handshake_rate(st, now + 60) * 60 < 1.001);
    stats_free(st);
}

static void tenant_table_is_bounded_and_reusable(void **state)
{
    (void)state;
    struct stats *st = stats_new();
    char id[32];
    for (int k = 0; k < STATS_TENANTS; k++) {
        snprintf(id, sizeof(id), "t%d", k);
        assert_non_null(stats_tenant_get(st, id));
    }
    assert_null(stats_tenant_get(st, "one-too-many"));
    assert_null(stats_tenant_find(st, "one-too-many"));
    assert_ptr_equal(stats_tenant_get(st, "t17"), stats_tenant_find(st, "t17"));
    stats_failed(st, "one-too-many", STATS_FAIL_OTHER); /* not counted, no crash */
    stats_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(logins_failures_and_latency_are_exposed),
        cmocka_unit_test(tenant_traffic_never_goes_back_when_a_session_ends),
        cmocka_unit_test(handshake_rate_counts_the_last_minute),
        cmocka_unit_test(tenant_table_is_bounded_and_reusable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
