/*
 * Counters of the running daemon that are not in the session registry:
 * logins established and failed (by reason) per tenant, the handshake
 * latency histogram and rate, RADIUS latency and outcomes per server, and
 * the traffic of sessions that have ended (so that per-tenant byte counters
 * never go back when a session ends).
 *
 * One writer, many readers: only the IKE thread bumps counters and adds
 * tenants or servers to the tables; API threads (metrics, /stats) read
 * them. Every counter is an atomic; a table slot is published with a
 * release store once its key is written, so readers never lock and never
 * hold the IKE thread up.
 *
 * This header, registry.h and the stats_session_totals/stats_esp_drops
 * readers are all the API needs of the live daemon.
 */
#ifndef ISTHMUS_STATS_H
#define ISTHMUS_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concentrator/registry.h"

struct esp_sadb;
struct auth_pool;
struct db_writer;
struct esp_io;

/* Why a login failed: the label value of auth failure metrics. */
enum stats_fail {
    STATS_FAIL_CREDENTIALS = 0, /* AUTH or EAP did not verify */
    STATS_FAIL_RADIUS_REJECT,   /* Access-Reject */
    STATS_FAIL_RADIUS_DOWN,     /* no RADIUS server answered */
    STATS_FAIL_CERTIFICATE,     /* certificate not trusted, revoked, mismatched */
    STATS_FAIL_POLICY,          /* unknown/disabled user or tenant, session limit, crypto */
    STATS_FAIL_NO_PROPOSAL,     /* NO_PROPOSAL_CHOSEN */
    STATS_FAIL_TS,              /* TS_UNACCEPTABLE */
    STATS_FAIL_ADDRESS,         /* no virtual address left */
    STATS_FAIL_OTHER,
    STATS_FAIL_COUNT
};
const char *stats_fail_name(enum stats_fail f);

#define STATS_TENANTS     1024
#define STATS_SERVERS     256
#define STATS_TENANT_MAX  64
#define STATS_SERVER_MAX  72
#define STATS_HS_BUCKETS  12 /* handshake latency, see stats_hs_bounds_ms */
#define STATS_RAD_BUCKETS 10 /* RADIUS latency, see stats_radius_bounds_ms */
#define STATS_RATE_WINDOW 60 /* seconds of handshake rate */

extern const uint32_t stats_hs_bounds_ms[STATS_HS_BUCKETS];
extern const uint32_t stats_radius_bounds_ms[STATS_RAD_BUCKETS];

struct stats_tenant {
    atomic_bool used;
    char id[STATS_TENANT_MAX]; /* written once, before used */
    atomic_uint_fast64_t established;
    atomic_uint_fast64_t failed[STATS_FAIL_COUNT];
    atomic_uint_fast64_t ended; /* sessions that ended */
    /* Traffic of sessions that ended. */
    atomic_uint_fast64_t bytes_in, bytes_out, packets_in, packets_out;
    /* The highest totals reported so far (live + ended), see stats_tenant_traffic. */
    atomic_uint_fast64_t shown[4];
    atomic_uint_fast64_t acct_sent, acct_failed;
};

struct stats_server {
    atomic_bool used;
    char tenant[STATS_TENANT_MAX];
    char addr[STATS_SERVER_MAX]; /* "host:port" */
    char kind[8];                /* "auth" or "acct" */
    atomic_uint_fast64_t requests, answered, timeouts, errors;
    atomic_uint_fast64_t lat_bucket[STATS_RAD_BUCKETS + 1]; /* last: +Inf */
    atomic_uint_fast64_t lat_sum_ms;
};

struct stats {
    int64_t started_at; /* Unix seconds */
    struct stats_tenant tenants[STATS_TENANTS];
    struct stats_server servers[STATS_SERVERS];
    atomic_uint_fast64_t failed_unresolved[STATS_FAIL_COUNT]; /* before a tenant was known */
    atomic_uint_fast64_t hs_bucket[STATS_HS_BUCKETS + 1];     /* last: +Inf */
    atomic_uint_fast64_t hs_sum_ms, hs_count;
    atomic_int_fast64_t rate_sec[STATS_RATE_WINDOW]; /* the second each slot counts */
    atomic_uint_fast64_t rate_n[STATS_RATE_WINDOW];
    atomic_uint_fast64_t acct_dropped; /* records the auth pool refused */
    atomic_uint_fast64_t history_dropped;
    atomic_uint event_streams; /* GET /events streams open (api/events_stream.c) */
    /* Sources read by stats_queues and the session readers (set once at start). */
    struct esp_sadb *_Atomic sadb;
    struct auth_pool *_Atomic auth;
    struct db_writer *_Atomic writer;
    struct esp_io *_Atomic io;
};

struct stats *stats_new(void);
void stats_free(struct stats *st); /* NULL accepted */

/* Set at start by whoever owns them (NULL: none). Any thread. */
void stats_attach(struct stats *st, struct esp_sadb *sadb, struct auth_pool *auth,
                  struct db_writer *writer);

/* The ESP workers' I/O counters (set once they run; NULL: none). */
void stats_attach_io(struct stats *st, struct esp_io *io);

/* ---- IKE thread ---- */
/* The slot of a tenant, made on first use; NULL when the table is full. */
struct stats_tenant *stats_tenant_get(struct stats *st, const char *tenant);
void stats_established(struct stats *st, const char *tenant, int64_t handshake_ms, int64_t now_s);
void stats_failed(struct stats *st, const char *tenant, enum stats_fail why);
/* A session ended with these final totals. */
void stats_session_ended(struct stats *st, const char *tenant, const struct reg_counters *c);
/* One RADIUS server's part in a request. kind: "auth" or "acct";
 * outcome as radius_outcome (1 answered, 2 timeout, other error). */
void stats_radius(struct stats *st, const char *tenant, const char *kind, const char *addr,
                  int outcome, uint32_t latency_ms);

/* ---- any thread ---- */
/* A session's traffic: its base plus the live counters of its CHILD_SA. */
void stats_session_totals(const struct stats *st, const struct reg_session *s,
                          struct reg_counters *out);
/* Handshakes per second over the last STATS_RATE_WINDOW seconds. */
double stats_handshake_rate(const struct stats *st, int64_t now_s);
struct stats_tenant *stats_tenant_find(struct stats *st, const char *tenant);
/* Index of a tenant's slot in st->tenants, or -1. */
int stats_tenant_index(const struct stats *st, const char *tenant);

/* Live sessions and traffic (live + ended) per tenant slot, from one pass
 * over the registry (tenant NULL: every tenant, else only that one). The
 * traffic never goes below what was shown before: a session moving from
 * live to ended between the two reads would otherwise make it dip. */
struct stats_traffic {
    uint64_t active[STATS_TENANTS];
    struct reg_counters c[STATS_TENANTS];
};
void stats_traffic(struct stats *st, struct registry *reg, const char *tenant,
                   struct stats_traffic *out);

/* Queue depths: auth pool waiting and running, db writer queued. */
struct stats_queues {
    unsigned auth_waiting, auth_running, auth_threads;
    uint64_t auth_refused;
    size_t writer_queued;
};
void stats_queues(const struct stats *st, struct stats_queues *q);

#define STATS_ESP_IO_COUNTERS 32
/* The ESP I/O layer's counters (esp_io_counter_name order); returns how
 * many (0 when there is no data plane). */
size_t stats_esp_io(const struct stats *st, uint64_t *out, const char **names, size_t cap);

#define STATS_ESP_REASONS 32
/* ESP drops by reason (esp_reason_name order); returns how many reasons
 * (0 when there is no data plane). */
size_t stats_esp_drops(const struct stats *st, uint64_t *out, const char **names, size_t cap);

#endif
