/* The SA object: creation, per-worker contexts, lifetimes, counters. */
#include "esp/esp_sa.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool valid_prefix(const struct esp_prefix *p)
{
    if (p->addr.family == 4)
        return p->plen <= 32;
    if (p->addr.family == 6)
        return p->plen <= 128;
    return false;
}

static int check_params(const struct esp_sa_params *p, char *err, size_t errlen)
{
    if (p->protocol != ESP_PROTO_ESP) {
        snprintf(err, errlen, "protocol %u not supported (ESP only)", p->protocol);
        return -1;
    }
    if (p->spi_in == 0 || p->spi_out == 0) {
        snprintf(err, errlen, "SPI 0 is reserved");
        return -1;
    }
    if (p->n_remote_ts == 0 || p->n_remote_ts > ESP_MAX_TS || p->n_local_ts > ESP_MAX_TS) {
        snprintf(err, errlen, "traffic selectors: %u remote (1..%d), %u local (0..%d)",
                 p->n_remote_ts, ESP_MAX_TS, p->n_local_ts, ESP_MAX_TS);
        return -1;
    }
    for (unsigned i = 0; i < p->n_remote_ts; i++)
        if (!valid_prefix(&p->remote_ts[i])) {
            snprintf(err, errlen, "remote traffic selector %u is not a valid prefix", i);
            return -1;
        }
    for (unsigned i = 0; i < p->n_local_ts; i++)
        if (!valid_prefix(&p->local_ts[i])) {
            snprintf(err, errlen, "local traffic selector %u is not a valid prefix", i);
            return -1;
        }
    const struct esp_endpoint *e = &p->endpoint;
    if ((e->remote.family != 4 && e->remote.family != 6) || e->local.family != e->remote.family) {
        snprintf(err, errlen, "endpoint addresses must be both IPv4 or both IPv6");
        return -1;
    }
    if (p->replay_window > ESP_REPLAY_MAX) {
        snprintf(err, errlen, "replay window %u above %d", p->replay_window, ESP_REPLAY_MAX);
        return -1;
    }
    if (p->encr_key_len > ESP_MAX_ENCR_KEY || p->integ_key_len > ESP_MAX_INTEG_KEY) {
        snprintf(err, errlen, "key too long");
        return -1;
    }
    return 0;
}

struct esp_sa *esp_sa_new(struct esp_sadb *db, const struct esp_sa_params *p, unsigned nworkers,
                          char *err, size_t errlen)
{
    struct esp_suite suite;
    if (check_params(p, err, errlen) != 0 ||
        esp_suite_init(&suite, p->encr, p->encr_key_bits, p->integ, p->encr_key_len,
                       p->integ_key_len, err, errlen) != 0)
        return NULL;
    size_t size = sizeof(struct esp_sa) + nworkers * sizeof(struct esp_sa_worker);
    size = (size + 63) / 64 * 64;
    struct esp_sa *sa = aligned_alloc(64, size);
    struct esp_ep_box *ep = malloc(sizeof(*ep));
    if (!sa || !ep) {
        free(sa);
        free(ep);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memset(sa, 0, size);
    ep->ep = p->endpoint;
    sa->ep = ep;
    sa->db = db;
    sa->spi_in = p->spi_in;
    sa->spi_out = p->spi_out;
    sa->tenant = p->tenant;
    sa->cookie = p->cookie;
    sa->esn = p->esn;
    sa->suite = suite;
    memcpy(sa->ekey_in, p->encr_key_in, p->encr_key_len);
    memcpy(sa->ekey_out, p->encr_key_out, p->encr_key_len);
    memcpy(sa->ikey_in, p->integ_key_in, p->integ_key_len);
    memcpy(sa->ikey_out, p->integ_key_out, p->integ_key_len);
    memcpy(sa->remote_ts, p->remote_ts, sizeof(p->remote_ts[0]) * p->n_remote_ts);
    memcpy(sa->local_ts, p->local_ts, sizeof(p->local_ts[0]) * p->n_local_ts);
    sa->n_remote_ts = p->n_remote_ts;
    sa->n_local_ts = p->n_local_ts;
    sa->life_in = p->life_in;
    sa->life_out = p->life_out;
    sa->seq_max = p->esn ? UINT64_MAX : UINT32_MAX;
    /* Ask for a rekey well before the sequence numbers run out. */
    sa->seq_soft = sa->seq_max - (sa->seq_max >> 6);
    pthread_spin_init(&sa->replay_lock, PTHREAD_PROCESS_PRIVATE);
    esp_replay_init(&sa->replay, p->replay_window, p->esn);
    sa->nworkers = nworkers;
    return sa;
}

void esp_sa_free(struct esp_sa *sa)
{
    if (!sa)
        return;
    for (unsigned i = 0; i < sa->nworkers; i++) {
        esp_cctx_clear(&sa->w[i].in);
        esp_cctx_clear(&sa->w[i].out);
    }
    free(sa->ep);
    pthread_spin_destroy(&sa->replay_lock);
    OPENSSL_cleanse(sa->ekey_in, sizeof(sa->ekey_in));
    OPENSSL_cleanse(sa->ekey_out, sizeof(sa->ekey_out));
    OPENSSL_cleanse(sa->ikey_in, sizeof(sa->ikey_in));
    OPENSSL_cleanse(sa->ikey_out, sizeof(sa->ikey_out));
    free(sa);
}

struct esp_cctx *esp_sa_cctx(struct esp_sa *sa, unsigned w, enum esp_dir dir)
{
    bool out = dir == ESP_DIR_OUT;
    struct esp_cctx *c = out ? &sa->w[w].out : &sa->w[w].in;
    if (c->ready)
        return c;
    if (esp_cctx_init(c, &sa->suite, out ? sa->ekey_out : sa->ekey_in,
                      out ? sa->ikey_out : sa->ikey_in, out) != 0)
        return NULL;
    return c;
}

static void raise_once(struct esp_sa *sa, enum esp_event_kind kind, enum esp_dir dir)
{
    uint32_t bit = 1u << (kind * 2 + dir);
    if (atomic_fetch_or(&sa->fired, bit) & bit)
        return;
    struct esp_event ev = {kind, dir, sa->spi_in, sa->tenant, sa->cookie};
    esp_sadb_raise(sa->db, &ev);
}

/* Checks counts against one direction's lifetime; true if the hard limit is
 * passed (the direction is then dead). */
static bool over_limits(struct esp_sa *sa, enum esp_dir dir, const struct esp_lifetime *l,
                        uint64_t packets, uint64_t bytes)
{
    if ((l->hard_packets && packets > l->hard_packets) ||
        (l->hard_bytes && bytes > l->hard_bytes)) {
        atomic_store(dir == ESP_DIR_IN ? &sa->dead_in : &sa->dead_out, true);
        raise_once(sa, ESP_EV_HARD_LIFETIME, dir);
        return true;
    }
    if ((l->soft_packets && packets >= l->soft_packets) ||
        (l->soft_bytes && bytes >= l->soft_bytes))
        raise_once(sa, ESP_EV_SOFT_LIFETIME, dir);
    return false;
}

enum esp_reason esp_sa_account_in(struct esp_sa *sa, size_t len)
{
    if (atomic_load_explicit(&sa->dead_in, memory_order_relaxed))
        return ESP_DROP_EXPIRED;
    uint64_t packets = atomic_fetch_add_explicit(&sa->life_packets_in, 1, memory_order_relaxed) + 1;
    uint64_t bytes = atomic_fetch_add_explicit(&sa->life_bytes_in, len, memory_order_relaxed) + len;
    return over_limits(sa, ESP_DIR_IN, &sa->life_in, packets, bytes) ? ESP_DROP_EXPIRED : ESP_OK;
}

enum esp_reason esp_sa_next_seq(struct esp_sa *sa, size_t len, uint64_t *seq)
{
    if (atomic_load_explicit(&sa->dead_out, memory_order_relaxed))
        return ESP_DROP_EXPIRED;
    uint64_t cur = atomic_load_explicit(&sa->seq_out, memory_order_relaxed);
    do {
        if (cur >= sa->seq_max) {
            raise_once(sa, ESP_EV_SEQ_EXHAUSTED, ESP_DIR_OUT);
            return ESP_DROP_SEQ_EXHAUSTED;
        }
    } while (!atomic_compare_exchange_weak_explicit(&sa->seq_out, &cur, cur + 1,
                                                    memory_order_relaxed, memory_order_relaxed));
    *seq = cur + 1;
    if (*seq >= sa->seq_soft)
        raise_once(sa, ESP_EV_SOFT_LIFETIME, ESP_DIR_OUT);
    uint64_t bytes =
        atomic_fetch_add_explicit(&sa->life_bytes_out, len, memory_order_relaxed) + len;
    return over_limits(sa, ESP_DIR_OUT, &sa->life_out, *seq, bytes) ? ESP_DROP_EXPIRED : ESP_OK;
}

void esp_sa_count_drop(struct esp_sa *sa, unsigned w, enum esp_reason r)
{
    if ((unsigned)r < ESP_REASON_COUNT)
        esp_counter_add(&sa->w[w].drops[r], 1);
}

void esp_sa_stats(struct esp_sa *sa, struct esp_sa_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < sa->nworkers; i++) {
        const struct esp_sa_worker *w = &sa->w[i];
        out->packets_in += atomic_load_explicit(&w->packets_in, memory_order_relaxed);
        out->bytes_in += atomic_load_explicit(&w->bytes_in, memory_order_relaxed);
        out->packets_out += atomic_load_explicit(&w->packets_out, memory_order_relaxed);
        out->bytes_out += atomic_load_explicit(&w->bytes_out, memory_order_relaxed);
        for (int r = 0; r < ESP_REASON_COUNT; r++)
            out->drops[r] += atomic_load_explicit(&w->drops[r], memory_order_relaxed);
    }
    out->seq_out = atomic_load_explicit(&sa->seq_out, memory_order_relaxed);
    pthread_spin_lock(&sa->replay_lock);
    out->seq_in_top = sa->replay.top;
    pthread_spin_unlock(&sa->replay_lock);
}
