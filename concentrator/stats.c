/* Daemon counters: see stats.h. */
#define _GNU_SOURCE
#include "concentrator/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_pool.h"
#include "db/writer.h"
#include "esp/esp.h"
#include "esp/esp_io.h"
#include "esp/esp_sadb.h"

const uint32_t stats_hs_bounds_ms[STATS_HS_BUCKETS] = {5,   10,   25,   50,   100,   250,
                                                       500, 1000, 2500, 5000, 10000, 30000};
const uint32_t stats_radius_bounds_ms[STATS_RAD_BUCKETS] = {5,   10,  25,   50,   100,
                                                            250, 500, 1000, 2500, 5000};

static const char *const fail_names[STATS_FAIL_COUNT] = {
    [STATS_FAIL_CREDENTIALS] = "credentials",
    [STATS_FAIL_RADIUS_REJECT] = "radius_reject",
    [STATS_FAIL_RADIUS_DOWN] = "radius_down",
    [STATS_FAIL_CERTIFICATE] = "certificate",
    [STATS_FAIL_POLICY] = "policy",
    [STATS_FAIL_NO_PROPOSAL] = "no_proposal",
    [STATS_FAIL_TS] = "traffic_selectors",
    [STATS_FAIL_ADDRESS] = "no_address",
    [STATS_FAIL_OTHER] = "other",
};

const char *stats_fail_name(enum stats_fail f)
{
    return (unsigned)f < STATS_FAIL_COUNT ? fail_names[f] : "other";
}

struct stats *stats_new(void)
{
    struct stats *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->started_at = (int64_t)time(NULL);
    return st;
}

void stats_free(struct stats *st)
{
    free(st);
}

void stats_attach(struct stats *st, struct esp_sadb *sadb, struct auth_pool *auth,
                  struct db_writer *writer)
{
    if (!st)
        return;
    if (sadb)
        atomic_store(&st->sadb, sadb);
    if (auth)
        atomic_store(&st->auth, auth);
    if (writer)
        atomic_store(&st->writer, writer);
}

void stats_attach_io(struct stats *st, struct esp_io *io)
{
    if (st)
        atomic_store(&st->io, io);
}

size_t stats_esp_io(const struct stats *st, uint64_t *out, const char **names, size_t cap)
{
    struct esp_io *io = atomic_load(&st->io);
    if (!io)
        return 0;
    uint64_t c[ESP_IO_COUNTER_COUNT];
    esp_io_counters(io, c);
    size_t n = 0;
    for (size_t i = 0; i < ESP_IO_COUNTER_COUNT && n < cap; i++, n++) {
        out[n] = c[i];
        names[n] = esp_io_counter_name((enum esp_io_counter)i);
    }
    return n;
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int stats_tenant_index(const struct stats *st, const char *tenant)
{
    uint32_t h = hash(tenant);
    for (size_t k = 0; k < STATS_TENANTS; k++) {
        size_t i = (h + k) % STATS_TENANTS;
        const struct stats_tenant *t = &st->tenants[i];
        if (!atomic_load_explicit(&t->used, memory_order_acquire))
            return -1; /* slots are never freed: the probe ends at a free one */
        if (strcmp(t->id, tenant) == 0)
            return (int)i;
    }
    return -1;
}

struct stats_tenant *stats_tenant_find(struct stats *st, const char *tenant)
{
    int i = stats_tenant_index(st, tenant);
    return i < 0 ? NULL : &st->tenants[i];
}

struct stats_tenant *stats_tenant_get(struct stats *st, const char *tenant)
{
    if (!st || !tenant || !tenant[0] || strlen(tenant) >= STATS_TENANT_MAX)
        return NULL;
    uint32_t h = hash(tenant);
    for (size_t k = 0; k < STATS_TENANTS; k++) {
        size_t i = (h + k) % STATS_TENANTS;
        struct stats_tenant *t = &st->tenants[i];
        if (!atomic_load_explicit(&t->used, memory_order_acquire)) {
            /* The only writer: fill the key, then publish. */
            snprintf(t->id, sizeof(t->id), "%s", tenant);
            atomic_store_explicit(&t->used, true, memory_order_release);
            return t;
        }
        if (strcmp(t->id, tenant) == 0)
            return t;
    }
    return NULL;
}

static void add(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(const atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void stats_established(struct stats *st, const char *tenant, int64_t handshake_ms, int64_t now_s)
{
    if (!st)
        return;
    struct stats_tenant *t = stats_tenant_get(st, tenant);
    if (t)
        add(&t->established, 1);
    if (handshake_ms < 0)
        handshake_ms = 0;
    size_t b = 0;
    while (b < STATS_HS_BUCKETS && (uint64_t)handshake_ms > stats_hs_bounds_ms[b])
        b++;
    add(&st->hs_bucket[b], 1);
    add(&st->hs_sum_ms, (uint64_t)handshake_ms);
    add(&st->hs_count, 1);
    size_t slot = (size_t)(now_s % STATS_RATE_WINDOW);
    if (atomic_load(&st->rate_sec[slot]) != now_s) {
        atomic_store(&st->rate_n[slot], 0);
        atomic_store(&st->rate_sec[slot], now_s);
    }
    add(&st->rate_n[slot], 1);
}

void stats_failed(struct stats *st, const char *tenant, enum stats_fail why)
{
    if (!st)
        return;
    if ((unsigned)why >= STATS_FAIL_COUNT)
        why = STATS_FAIL_OTHER;
    struct stats_tenant *t = tenant ? stats_tenant_get(st, tenant) : NULL;
    add(t ? &t->failed[why] : &st->failed_unresolved[why], 1);
}

void stats_session_ended(struct stats *st, const char *tenant, const struct reg_counters *c)
{
    struct stats_tenant *t = st ? stats_tenant_get(st, tenant) : NULL;
    if (!t)
        return;
    add(&t->bytes_in, c->bytes_in);
    add(&t->bytes_out, c->bytes_out);
    add(&t->packets_in, c->packets_in);
    add(&t->packets_out, c->packets_out);
    add(&t->ended, 1);
}

static struct stats_server *server_get(struct stats *st, const char *tenant, const char *kind,
                                       const char *addr)
{
    char key[STATS_TENANT_MAX + STATS_SERVER_MAX + 16];
    snprintf(key, sizeof(key), "%s|%s|%s", tenant, kind, addr);
    uint32_t h = hash(key);
    for (size_t k = 0; k < STATS_SERVERS; k++) {
        struct stats_server *s = &st->servers[(h + k) % STATS_SERVERS];
        if (!atomic_load_explicit(&s->used, memory_order_acquire)) {
            snprintf(s->tenant, sizeof(s->tenant), "%s", tenant);
            snprintf(s->kind, sizeof(s->kind), "%s", kind);
            snprintf(s->addr, sizeof(s->addr), "%s", addr);
            atomic_store_explicit(&s->used, true, memory_order_release);
            return s;
        }
        if (strcmp(s->tenant, tenant) == 0 && strcmp(s->kind, kind) == 0 &&
            strcmp(s->addr, addr) == 0)
            return s;
    }
    return NULL;
}

void stats_radius(struct stats *st, const char *tenant, const char *kind, const char *addr,
                  int outcome, uint32_t latency_ms)
{
    if (!st || !addr || !addr[0] || outcome == 0)
        return;
    struct stats_server *s = server_get(st, tenant ? tenant : "", kind, addr);
    if (!s)
        return;
    add(&s->requests, 1);
    if (outcome == 1) {
        add(&s->answered, 1);
        size_t b = 0;
        while (b < STATS_RAD_BUCKETS && latency_ms > stats_radius_bounds_ms[b])
            b++;
        add(&s->lat_bucket[b], 1);
        add(&s->lat_sum_ms, latency_ms);
    } else if (outcome == 2) {
        add(&s->timeouts, 1);
    } else {
        add(&s->errors, 1);
    }
}

void stats_session_totals(const struct stats *st, const struct reg_session *s,
                          struct reg_counters *out)
{
    *out = s->base;
    struct esp_sadb *db = st ? atomic_load(&st->sadb) : NULL;
    if (!db || !s->has_child || !s->child.spi_in)
        return;
    struct esp_sa_stats es;
    if (esp_sadb_sa_stats(db, s->child.spi_in, &es) < 0)
        return;
    out->bytes_in += es.bytes_in;
    out->bytes_out += es.bytes_out;
    out->packets_in += es.packets_in;
    out->packets_out += es.packets_out;
}

double stats_handshake_rate(const struct stats *st, int64_t now_s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < STATS_RATE_WINDOW; i++) {
        int64_t sec = atomic_load(&st->rate_sec[i]);
        if (sec > now_s - STATS_RATE_WINDOW && sec <= now_s)
            n += get(&st->rate_n[i]);
    }
    return (double)n / STATS_RATE_WINDOW;
}

static uint64_t keep_max(atomic_uint_fast64_t *shown, uint64_t v)
{
    uint_fast64_t old = atomic_load(shown);
    while (old < v && !atomic_compare_exchange_weak(shown, &old, v))
        ;
    return old > v ? old : v;
}

/* What stats_traffic needs of one session, copied under the shard lock. */
struct brief {
    int tenant; /* slot */
    bool has_child;
    uint32_t spi_in;
    struct reg_counters base;
};

struct fold {
    const struct stats *st;
    struct brief *v;
    size_t n, cap;
    bool failed;
};

static void collect(const struct reg_session *s, void *arg)
{
    struct fold *f = arg;
    if (f->failed)
        return;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 1024;
        struct brief *nv = realloc(f->v, cap * sizeof(*nv));
        if (!nv) {
            f->failed = true;
            return;
        }
        f->v = nv;
        f->cap = cap;
    }
    struct brief *b = &f->v[f->n++];
    b->tenant = stats_tenant_index(f->st, s->tenant);
    b->has_child = s->has_child;
    b->spi_in = s->child.spi_in;
    b->base = s->base;
}

void stats_traffic(struct stats *st, struct registry *reg, const char *tenant,
                   struct stats_traffic *out)
{
    memset(out, 0, sizeof(*out));
    /* Ended sessions first, then live ones: a session ending in between is
     * missed once (a dip that keep_max hides), never counted twice. */
    for (size_t i = 0; i < STATS_TENANTS; i++) {
        struct stats_tenant *t = &st->tenants[i];
        if (!atomic_load_explicit(&t->used, memory_order_acquire))
            continue;
        if (tenant && strcmp(t->id, tenant) != 0)
            continue;
        out->c[i].bytes_in = get(&t->bytes_in);
        out->c[i].bytes_out = get(&t->bytes_out);
        out->c[i].packets_in = get(&t->packets_in);
        out->c[i].packets_out = get(&t->packets_out);
    }
    if (reg) {
        struct fold f = {.st = st};
        registry_fold(reg, tenant, collect, &f);
        struct esp_sadb *db = atomic_load(&st->sadb);
        for (size_t k = 0; k < f.n; k++) {
            const struct brief *b = &f.v[k];
            if (b->tenant < 0)
                continue;
            struct reg_counters c = b->base;
            struct esp_sa_stats es;
            if (db && b->has_child && b->spi_in && esp_sadb_sa_stats(db, b->spi_in, &es) == 0) {
                c.bytes_in += es.bytes_in;
                c.bytes_out += es.bytes_out;
                c.packets_in += es.packets_in;
                c.packets_out += es.packets_out;
            }
            out->active[b->tenant]++;
            out->c[b->tenant].bytes_in += c.bytes_in;
            out->c[b->tenant].bytes_out += c.bytes_out;
            out->c[b->tenant].packets_in += c.packets_in;
            out->c[b->tenant].packets_out += c.packets_out;
        }
        free(f.v);
    }
    for (size_t i = 0; i < STATS_TENANTS; i++) {
        struct stats_tenant *t = &st->tenants[i];
        if (!atomic_load_explicit(&t->used, memory_order_acquire))
            continue;
        if (tenant && strcmp(t->id, tenant) != 0)
            continue;
        out->c[i].bytes_in = keep_max(&t->shown[0], out->c[i].bytes_in);
        out->c[i].bytes_out = keep_max(&t->shown[1], out->c[i].bytes_out);
        out->c[i].packets_in = keep_max(&t->shown[2], out->c[i].packets_in);
        out->c[i].packets_out = keep_max(&t->shown[3], out->c[i].packets_out);
    }
}

void stats_queues(const struct stats *st, struct stats_queues *q)
{
    memset(q, 0, sizeof(*q));
    struct auth_pool *ap = atomic_load(&st->auth);
    if (ap) {
        struct auth_pool_stats as;
        auth_pool_get_stats(ap, &as);
        q->auth_waiting = as.waiting;
        q->auth_running = as.running;
        q->auth_threads = as.threads;
        q->auth_refused = as.refused;
    }
    struct db_writer *w = atomic_load(&st->writer);
    if (w)
        q->writer_queued = db_writer_queued(w);
}

size_t stats_esp_drops(const struct stats *st, uint64_t *out, const char **names, size_t cap)
{
    struct esp_sadb *db = atomic_load(&st->sadb);
    if (!db)
        return 0;
    uint64_t d[ESP_REASON_COUNT];
    esp_sadb_drops(db, d);
    size_t n = 0;
    for (size_t r = 1; r < ESP_REASON_COUNT && n < cap; r++) {
        out[n] = d[r];
        names[n] = esp_reason_name((enum esp_reason)r);
        n++;
    }
    return n;
}
