/*
 * Benchmarks only: with -DISTHMUS_BENCH_SESSIONS, the daemon fills the
 * session registry with $ISTHMUS_BENCH_SESSIONS made-up sessions of tenant
 * $ISTHMUS_BENCH_TENANT (default "bench") at start, so that API load can be
 * measured against many sessions without as many real clients
 * (bench/sessions). A normal build has nothing of it: the function is
 * empty and the daemon never calls it.
 */
#define _GNU_SOURCE
#include "concentrator/bench_inject.h"

#ifdef ISTHMUS_BENCH_SESSIONS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concentrator/log.h"
#include "concentrator/registry.h"
#include "concentrator/stats.h"

void bench_inject_sessions(struct registry *reg, struct stats *st)
{
    const char *n_text = getenv("ISTHMUS_BENCH_SESSIONS");
    const char *tenant = getenv("ISTHMUS_BENCH_TENANT");
    unsigned long n = n_text ? strtoul(n_text, NULL, 10) : 0;
    if (!reg || !n)
        return;
    if (!tenant || !tenant[0])
        tenant = "bench";
    if (n > 1000000)
        n = 1000000;
    stats_tenant_get(st, tenant);
    int64_t now = (int64_t)time(NULL);
    struct reg_session s;
    for (unsigned long i = 0; i < n; i++) {
        memset(&s, 0, sizeof(s));
        uint64_t id = (i + 1) * 0x9e3779b97f4a7c15ULL; /* spread over the shards */
        snprintf(s.id, sizeof(s.id), "%016llx", (unsigned long long)id);
        snprintf(s.tenant, sizeof(s.tenant), "%s", tenant);
        snprintf(s.identity, sizeof(s.identity), "user%lu@%s.example", i, tenant);
        snprintf(s.username, sizeof(s.username), "user%lu", i);
        snprintf(s.auth, sizeof(s.auth), "eap");
        snprintf(s.client_addr, sizeof(s.client_addr), "203.0.%lu.%lu", (i / 250) % 256,
                 i % 250 + 2);
        s.client_port = 4500;
        s.nat = true;
        snprintf(s.vip4, sizeof(s.vip4), "10.%lu.%lu.%lu", 100 + i / 65536 % 100, i / 256 % 256,
                 i % 256);
        s.established_at = now - (int64_t)(i % 3600);
        s.last_activity = now;
        snprintf(s.ike_alg, sizeof(s.ike_alg), "AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384");
        s.has_child = true;
        s.child.spi_in = 0xb0000000u | (uint32_t)i; /* not in the SA database */
        s.child.spi_out = 0xc0000000u | (uint32_t)i;
        snprintf(s.child.alg, sizeof(s.child.alg), "AES_GCM_16_256");
        snprintf(s.child.ts_local, sizeof(s.child.ts_local), "10.1.0.0/16");
        snprintf(s.child.ts_remote, sizeof(s.child.ts_remote), "%s/32", s.vip4);
        s.child.established_at = s.established_at;
        s.base.bytes_in = i * 1000003ULL;
        s.base.bytes_out = i * 2000003ULL;
        s.base.packets_in = i * 1000;
        s.base.packets_out = i * 2000;
        registry_put(reg, &s);
    }
    log_warn("daemon", "BENCHMARK BUILD: %lu made-up sessions of tenant %s in the registry", n,
             tenant);
}
#else
void bench_inject_sessions(struct registry *reg, struct stats *st)
{
    (void)reg;
    (void)st;
}
#endif
