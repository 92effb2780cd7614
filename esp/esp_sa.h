/*
 * One installed SA pair, as the SA database and the workers see it. Internal
 * to esp/: the IKE engine only passes esp_sa_params and SPIs.
 *
 * Who writes what:
 *  - identity, keys, selectors, suite: set at creation, then immutable.
 *  - ep: replaced by the writer (RCU pointer; old freed after a grace period).
 *  - seq_out, life_*: atomics shared by the workers.
 *  - replay: under replay_lock (a worker normally owns an SA's inbound flow,
 *    so the lock is uncontended; it is there for flows that move between
 *    workers after a NAT rebinding).
 *  - w[i]: only worker i writes its slot (contexts created lazily, counters);
 *    readers sum the counters with relaxed loads.
 */
#ifndef ISTHMUS_ESP_SA_H
#define ISTHMUS_ESP_SA_H

#define _LGPL_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <urcu-qsbr.h>

#include "esp/esp.h"
#include "esp/esp_crypto.h"
#include "esp/esp_replay.h"

struct esp_sadb;

struct esp_sa_worker {
    struct esp_cctx in, out;
    _Atomic uint64_t packets_in, bytes_in, packets_out, bytes_out;
    _Atomic uint64_t drops[ESP_REASON_COUNT];
} __attribute__((aligned(64)));

/* An endpoint as published to readers; replaced whole, freed after a grace
 * period. */
struct esp_ep_box {
    struct esp_endpoint ep;
    struct rcu_head rcu;
};

struct esp_sa {
    struct esp_sa *in_next; /* inbound hash chain (RCU) */
    struct esp_sadb *db;
    uint32_t spi_in, spi_out, tenant;
    uint64_t cookie;
    bool esn;
    struct esp_suite suite;
    uint8_t ekey_in[ESP_MAX_ENCR_KEY], ekey_out[ESP_MAX_ENCR_KEY];
    uint8_t ikey_in[ESP_MAX_INTEG_KEY], ikey_out[ESP_MAX_INTEG_KEY];
    struct esp_prefix remote_ts[ESP_MAX_TS], local_ts[ESP_MAX_TS];
    unsigned n_remote_ts, n_local_ts;
    struct esp_lifetime life_in, life_out;

    struct esp_ep_box *ep; /* RCU */

    _Atomic uint64_t seq_out; /* last sequence number used */
    uint64_t seq_max;         /* 2^32-1 or 2^64-1 */
    uint64_t seq_soft;        /* soft event before exhaustion */
    _Atomic uint64_t life_bytes_in, life_packets_in, life_bytes_out;
    _Atomic uint32_t fired; /* event bits already raised */
    _Atomic bool dead_in, dead_out;

    pthread_spinlock_t replay_lock;
    struct esp_replay replay;

    struct rcu_head rcu;
    unsigned nworkers;
    struct esp_sa_worker w[];
};

/* Allocates an SA from validated params (keys copied). NULL on failure. */
struct esp_sa *esp_sa_new(struct esp_sadb *db, const struct esp_sa_params *p, unsigned nworkers,
                          char *err, size_t errlen);
/* Frees at once: contexts, endpoint, wiped keys. Only when no reader can hold
 * it (after a grace period, or at teardown). NULL accepted. */
void esp_sa_free(struct esp_sa *sa);

/* Worker w's keyed context for the direction, created on first use. NULL if
 * OpenSSL cannot make it. */
struct esp_cctx *esp_sa_cctx(struct esp_sa *sa, unsigned w, enum esp_dir dir);

/* Lifetime accounting for one packet of len inner bytes; raises events.
 * ESP_OK or ESP_DROP_EXPIRED. */
enum esp_reason esp_sa_account_in(struct esp_sa *sa, size_t len);
/* Takes the next outbound sequence number into *seq and accounts len bytes.
 * ESP_OK, ESP_DROP_SEQ_EXHAUSTED or ESP_DROP_EXPIRED. */
enum esp_reason esp_sa_next_seq(struct esp_sa *sa, size_t len, uint64_t *seq);

void esp_sa_count_drop(struct esp_sa *sa, unsigned w, enum esp_reason r);
void esp_sa_stats(struct esp_sa *sa, struct esp_sa_stats *out);

/* Sets the last outbound sequence number used (tests: exhaustion without
 * sending 2^32 packets). -1 if no such SA. */
int esp_sadb_set_seq_out(struct esp_sadb *db, uint32_t spi_in, uint64_t seq);

/* Called by esp_sa.c to deliver an event (implemented in esp_sadb.c). */
void esp_sadb_raise(struct esp_sadb *db, const struct esp_event *ev);

static inline void esp_counter_add(_Atomic uint64_t *c, uint64_t v)
{
    /* Single writer (the owning worker): no locked instruction needed. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

#endif
