/* The SA database: RCU hash tables for inbound SPIs and outbound routes,
 * writer operations, and the per-packet paths. See esp_sadb.h. */
#include "esp/esp_sadb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp/esp_sa.h"
#include "esp/esp_xform.h"

/* An outbound route (tenant, host address) -> SA. Rekey swaps sa in place. */
struct esp_route {
    struct esp_route *next; /* RCU */
    uint32_t tenant;
    struct esp_addr addr;
    struct esp_sa *sa; /* RCU */
    struct rcu_head rcu;
};

struct db_worker {
    _Atomic uint64_t drops[ESP_REASON_COUNT];
} __attribute__((aligned(64)));

struct esp_sadb {
    unsigned nworkers;
    size_t mask;
    struct esp_sa **in;     /* buckets by SPI (RCU chains) */
    struct esp_route **out; /* buckets by (tenant, address) (RCU chains) */
    pthread_mutex_t lock;   /* serialises writers; readers never take it */
    unsigned count;         /* under lock */
    esp_event_cb on_event;
    void *event_arg;
    _Atomic uint64_t retired[ESP_REASON_COUNT]; /* drops of freed SAs */
    struct db_worker *w;
};

static size_t hash_spi(const struct esp_sadb *db, uint32_t spi)
{
    return (size_t)((spi * 0x9E3779B97F4A7C15ull) >> 32) & db->mask;
}

static size_t addr_len(const struct esp_addr *a)
{
    return a->family == 4 ? 4 : 16;
}

static size_t hash_route(const struct esp_sadb *db, uint32_t tenant, const struct esp_addr *a)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    uint8_t t[5] = {(uint8_t)(tenant >> 24), (uint8_t)(tenant >> 16), (uint8_t)(tenant >> 8),
                    (uint8_t)tenant, a->family};
    for (size_t i = 0; i < sizeof(t); i++)
        h = (h ^ t[i]) * 0x100000001b3ull;
    for (size_t i = 0; i < addr_len(a); i++)
        h = (h ^ a->bytes[i]) * 0x100000001b3ull;
    return (size_t)(h ^ (h >> 29)) & db->mask;
}

static bool route_is(const struct esp_route *r, uint32_t tenant, const struct esp_addr *a)
{
    return r->tenant == tenant && r->addr.family == a->family &&
           memcmp(r->addr.bytes, a->bytes, addr_len(a)) == 0;
}

static bool is_host(const struct esp_prefix *p)
{
    return p->plen == (p->addr.family == 4 ? 32 : 128);
}

static struct esp_sa *find_in(struct esp_sadb *db, uint32_t spi)
{
    for (struct esp_sa *sa = rcu_dereference(db->in[hash_spi(db, spi)]); sa;
         sa = rcu_dereference(sa->in_next))
        if (sa->spi_in == spi)
            return sa;
    return NULL;
}

static struct esp_route *find_route(struct esp_sadb *db, uint32_t tenant, const struct esp_addr *a)
{
    for (struct esp_route *r = rcu_dereference(db->out[hash_route(db, tenant, a)]); r;
         r = rcu_dereference(r->next))
        if (route_is(r, tenant, a))
            return r;
    return NULL;
}

struct esp_sadb *esp_sadb_new(const struct esp_sadb_config *cfg)
{
    if (!cfg || cfg->workers == 0 || cfg->workers > 4096 || cfg->buckets_log > 24)
        return NULL;
    struct esp_sadb *db = calloc(1, sizeof(*db));
    if (!db)
        return NULL;
    unsigned lg = cfg->buckets_log ? cfg->buckets_log : 16;
    size_t n = (size_t)1 << lg;
    db->mask = n - 1;
    db->nworkers = cfg->workers;
    db->on_event = cfg->on_event;
    db->event_arg = cfg->event_arg;
    db->in = calloc(n, sizeof(*db->in));
    db->out = calloc(n, sizeof(*db->out));
    size_t wsize = (cfg->workers * sizeof(struct db_worker) + 63) / 64 * 64;
    db->w = aligned_alloc(64, wsize);
    pthread_mutex_init(&db->lock, NULL);
    if (!db->in || !db->out || !db->w) {
        esp_sadb_free(db);
        return NULL;
    }
    memset(db->w, 0, wsize);
    return db;
}

void esp_sadb_free(struct esp_sadb *db)
{
    if (!db)
        return;
    /* Let every pending call_rcu free run (they touch db->retired). */
    bool online = rcu_read_ongoing();
    if (online)
        rcu_thread_offline();
    rcu_barrier();
    if (online)
        rcu_thread_online();
    for (size_t i = 0; db->in && i <= db->mask; i++)
        for (struct esp_sa *sa = db->in[i], *next; sa; sa = next) {
            next = sa->in_next;
            esp_sa_free(sa);
        }
    for (size_t i = 0; db->out && i <= db->mask; i++)
        for (struct esp_route *r = db->out[i], *next; r; r = next) {
            next = r->next;
            free(r);
        }
    free(db->in);
    free(db->out);
    free(db->w);
    pthread_mutex_destroy(&db->lock);
    free(db);
}

void esp_sadb_raise(struct esp_sadb *db, const struct esp_event *ev)
{
    if (db->on_event)
        db->on_event(db->event_arg, ev);
}

/* --- writers ------------------------------------------------------------- */

/* Writers run online (call_rcu needs it under QSBR) and hold the lock. */
static bool writer_enter(struct esp_sadb *db)
{
    bool was_online = rcu_read_ongoing();
    if (!was_online)
        rcu_thread_online();
    pthread_mutex_lock(&db->lock);
    return was_online;
}

static void writer_leave(struct esp_sadb *db, bool was_online)
{
    pthread_mutex_unlock(&db->lock);
    if (!was_online)
        rcu_thread_offline();
}

/* The object holding an rcu_head. (urcu's caa_container_of goes through a
 * const pointer, which clang's -Wcast-qual refuses.) */
#define rcu_owner(h, type) ((type *)(void *)((char *)(h)-offsetof(type, rcu)))

static void free_sa_cb(struct rcu_head *h)
{
    struct esp_sa *sa = rcu_owner(h, struct esp_sa);
    struct esp_sa_stats st;
    esp_sa_stats(sa, &st);
    for (int r = 0; r < ESP_REASON_COUNT; r++)
        if (st.drops[r])
            atomic_fetch_add(&sa->db->retired[r], st.drops[r]);
    esp_sa_free(sa);
}

static void free_route_cb(struct rcu_head *h)
{
    free(rcu_owner(h, struct esp_route));
}

static void free_ep_cb(struct rcu_head *h)
{
    free(rcu_owner(h, struct esp_ep_box));
}

static void unlink_route(struct esp_sadb *db, struct esp_route *victim)
{
    struct esp_route **pp = &db->out[hash_route(db, victim->tenant, &victim->addr)];
    for (; *pp; pp = &(*pp)->next)
        if (*pp == victim) {
            rcu_assign_pointer(*pp, victim->next);
            call_rcu(&victim->rcu, free_route_cb);
            return;
        }
}

/* Removes the routes that still point to sa. */
static void drop_routes_of(struct esp_sadb *db, struct esp_sa *sa)
{
    for (unsigned i = 0; i < sa->n_remote_ts; i++) {
        if (!is_host(&sa->remote_ts[i]))
            continue;
        struct esp_route *r = find_route(db, sa->tenant, &sa->remote_ts[i].addr);
        if (r && r->sa == sa)
            unlink_route(db, r);
    }
}

/* Installs p; the routes of `replacing` (may be NULL) are taken over. */
static int install_locked(struct esp_sadb *db, const struct esp_sa_params *p,
                          struct esp_sa *replacing, char *err, size_t errlen)
{
    struct esp_route *fresh[ESP_MAX_TS] = {0};
    struct esp_sa *sa = NULL;
    int rc = -1;
    if (find_in(db, p->spi_in)) {
        snprintf(err, errlen, "inbound SPI %08x already installed", p->spi_in);
        goto done;
    }
    sa = esp_sa_new(db, p, db->nworkers, err, errlen);
    if (!sa)
        goto done;
    /* Every route this SA needs, checked and allocated before anything is
     * published, so a failure leaves the tables untouched. */
    for (unsigned i = 0; i < sa->n_remote_ts; i++) {
        const struct esp_prefix *ts = &sa->remote_ts[i];
        if (!is_host(ts))
            continue;
        bool dup = false;
        for (unsigned j = 0; j < i; j++)
            if (fresh[j] && route_is(fresh[j], sa->tenant, &ts->addr))
                dup = true;
        struct esp_route *r = find_route(db, sa->tenant, &ts->addr);
        if (r && r->sa != replacing) {
            snprintf(err, errlen, "inner address already routed to the SA with inbound SPI %08x",
                     r->sa->spi_in);
            goto done;
        }
        if (r || dup)
            continue;
        fresh[i] = calloc(1, sizeof(*fresh[i]));
        if (!fresh[i]) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        fresh[i]->tenant = sa->tenant;
        fresh[i]->addr = ts->addr;
        fresh[i]->sa = sa;
    }

    size_t h = hash_spi(db, sa->spi_in);
    sa->in_next = db->in[h];
    rcu_assign_pointer(db->in[h], sa);
    for (unsigned i = 0; i < sa->n_remote_ts; i++) {
        if (fresh[i]) {
            size_t rh = hash_route(db, fresh[i]->tenant, &fresh[i]->addr);
            fresh[i]->next = db->out[rh];
            rcu_assign_pointer(db->out[rh], fresh[i]);
            fresh[i] = NULL;
        } else if (is_host(&sa->remote_ts[i])) {
            struct esp_route *r = find_route(db, sa->tenant, &sa->remote_ts[i].addr);
            if (r && r->sa == replacing)
                rcu_assign_pointer(r->sa, sa); /* the atomic switch of a rekey */
        }
    }
    if (replacing)
        drop_routes_of(db, replacing);
    db->count++;
    sa = NULL;
    rc = 0;
done:
    for (unsigned i = 0; i < ESP_MAX_TS; i++)
        free(fresh[i]);
    esp_sa_free(sa);
    return rc;
}

int esp_sadb_install(struct esp_sadb *db, const struct esp_sa_params *p, char *err, size_t errlen)
{
    bool was = writer_enter(db);
    int rc = install_locked(db, p, NULL, err, errlen);
    writer_leave(db, was);
    return rc;
}

int esp_sadb_rekey(struct esp_sadb *db, uint32_t old_spi_in, const struct esp_sa_params *p,
                   char *err, size_t errlen)
{
    bool was = writer_enter(db);
    int rc = -1;
    struct esp_sa *old = find_in(db, old_spi_in);
    if (!old)
        snprintf(err, errlen, "no SA with inbound SPI %08x to rekey", old_spi_in);
    else if (old->tenant != p->tenant)
        snprintf(err, errlen, "rekey may not change the tenant");
    else
        rc = install_locked(db, p, old, err, errlen);
    writer_leave(db, was);
    return rc;
}

int esp_sadb_update_endpoint(struct esp_sadb *db, uint32_t spi_in, const struct esp_endpoint *ep)
{
    if ((ep->remote.family != 4 && ep->remote.family != 6) || ep->local.family != ep->remote.family)
        return -1;
    struct esp_ep_box *box = malloc(sizeof(*box));
    if (!box)
        return -1;
    box->ep = *ep;
    bool was = writer_enter(db);
    int rc = -1;
    struct esp_sa *sa = find_in(db, spi_in);
    if (sa) {
        struct esp_ep_box *old = sa->ep;
        rcu_assign_pointer(sa->ep, box);
        call_rcu(&old->rcu, free_ep_cb);
        box = NULL;
        rc = 0;
    }
    writer_leave(db, was);
    free(box);
    return rc;
}

int esp_sadb_delete(struct esp_sadb *db, uint32_t spi_in)
{
    bool was = writer_enter(db);
    int rc = -1;
    struct esp_sa **pp = &db->in[hash_spi(db, spi_in)];
    for (; *pp; pp = &(*pp)->in_next) {
        struct esp_sa *sa = *pp;
        if (sa->spi_in != spi_in)
            continue;
        rcu_assign_pointer(*pp, sa->in_next);
        drop_routes_of(db, sa);
        call_rcu(&sa->rcu, free_sa_cb);
        db->count--;
        rc = 0;
        break;
    }
    writer_leave(db, was);
    return rc;
}

/* --- counters ------------------------------------------------------------ */

int esp_sadb_sa_stats(struct esp_sadb *db, uint32_t spi_in, struct esp_sa_stats *out)
{
    pthread_mutex_lock(&db->lock);
    struct esp_sa *sa = find_in(db, spi_in);
    if (sa)
        esp_sa_stats(sa, out);
    pthread_mutex_unlock(&db->lock);
    return sa ? 0 : -1;
}

void esp_sadb_drops(struct esp_sadb *db, uint64_t out[ESP_REASON_COUNT])
{
    for (int r = 0; r < ESP_REASON_COUNT; r++) {
        out[r] = atomic_load(&db->retired[r]);
        for (unsigned w = 0; w < db->nworkers; w++)
            out[r] += atomic_load_explicit(&db->w[w].drops[r], memory_order_relaxed);
    }
    pthread_mutex_lock(&db->lock);
    for (size_t i = 0; i <= db->mask; i++)
        for (struct esp_sa *sa = db->in[i]; sa; sa = sa->in_next) {
            struct esp_sa_stats st;
            esp_sa_stats(sa, &st);
            for (int r = 0; r < ESP_REASON_COUNT; r++)
                out[r] += st.drops[r];
        }
    pthread_mutex_unlock(&db->lock);
}

unsigned esp_sadb_count(struct esp_sadb *db)
{
    pthread_mutex_lock(&db->lock);
    unsigned n = db->count;
    pthread_mutex_unlock(&db->lock);
    return n;
}

int esp_sadb_set_seq_out(struct esp_sadb *db, uint32_t spi_in, uint64_t seq)
{
    pthread_mutex_lock(&db->lock);
    struct esp_sa *sa = find_in(db, spi_in);
    if (sa)
        atomic_store(&sa->seq_out, seq);
    pthread_mutex_unlock(&db->lock);
    return sa ? 0 : -1;
}

void esp_sadb_count_drop(struct esp_sadb *db, unsigned worker, enum esp_reason r)
{
    if (worker < db->nworkers && (unsigned)r < ESP_REASON_COUNT)
        esp_counter_add(&db->w[worker].drops[r], 1);
}

/* --- hot path ------------------------------------------------------------ */

static enum esp_reason decap_sa(struct esp_sa *sa, unsigned worker, uint32_t seq_lo,
                                struct esp_buf *pkt, struct esp_rx_info *info)
{
    if (atomic_load_explicit(&sa->dead_in, memory_order_relaxed))
        return ESP_DROP_EXPIRED;
    uint64_t seq = 0;
    pthread_spin_lock(&sa->replay_lock);
    enum esp_reason r = esp_replay_check(&sa->replay, seq_lo, &seq);
    pthread_spin_unlock(&sa->replay_lock);
    if (r != ESP_OK)
        return r;
    struct esp_cctx *c = esp_sa_cctx(sa, worker, ESP_DIR_IN);
    if (!c)
        return ESP_DROP_CRYPTO;
    uint8_t nh = 0;
    r = esp_xform_decap(c, sa->esn, (uint32_t)(seq >> 32), pkt, &nh);
    if (r != ESP_OK && r != ESP_DROP_PADDING)
        return r;
    /* Authentic (the ICV verified): the sequence number is now used. */
    pthread_spin_lock(&sa->replay_lock);
    enum esp_reason ur = esp_replay_update(&sa->replay, seq);
    pthread_spin_unlock(&sa->replay_lock);
    if (ur != ESP_OK)
        return ur;
    if (r != ESP_OK)
        return r;
    struct esp_addr src, dst;
    r = esp_inner_parse(pkt, nh, &src, &dst);
    if (r != ESP_OK)
        return r;
    if (!esp_ts_match(sa->remote_ts, sa->n_remote_ts, &src) ||
        (sa->n_local_ts && !esp_ts_match(sa->local_ts, sa->n_local_ts, &dst)))
        return ESP_DROP_SELECTOR;
    r = esp_sa_account_in(sa, pkt->len);
    if (r != ESP_OK)
        return r;
    esp_counter_add(&sa->w[worker].packets_in, 1);
    esp_counter_add(&sa->w[worker].bytes_in, pkt->len);
    info->spi_in = sa->spi_in;
    info->tenant = sa->tenant;
    info->family = src.family;
    info->seq = seq;
    return ESP_OK;
}

static bool from_pinned_elsewhere(struct esp_sa *sa, const struct esp_addr *src)
{
    const struct esp_endpoint *ep = &rcu_dereference(sa->ep)->ep;
    if (!src || !ep->pin_remote)
        return false;
    size_t n = ep->remote.family == 4 ? 4 : 16;
    return src->family != ep->remote.family || memcmp(src->bytes, ep->remote.bytes, n) != 0;
}

enum esp_reason esp_sadb_decap(struct esp_sadb *db, unsigned worker, struct esp_buf *pkt,
                               struct esp_rx_info *info)
{
    return esp_sadb_decap_from(db, worker, pkt, NULL, info);
}

enum esp_reason esp_sadb_decap_from(struct esp_sadb *db, unsigned worker, struct esp_buf *pkt,
                                    const struct esp_addr *src, struct esp_rx_info *info)
{
    if (worker >= db->nworkers)
        return ESP_DROP_CRYPTO;
    uint32_t spi, seq_lo;
    if (!esp_xform_peek(pkt, &spi, &seq_lo)) {
        esp_sadb_count_drop(db, worker, ESP_DROP_MALFORMED);
        return ESP_DROP_MALFORMED;
    }
    struct esp_sa *sa = find_in(db, spi);
    if (!sa) {
        esp_sadb_count_drop(db, worker, ESP_DROP_UNKNOWN_SPI);
        return ESP_DROP_UNKNOWN_SPI;
    }
    enum esp_reason r = from_pinned_elsewhere(sa, src) ? ESP_DROP_PEER_ADDRESS
                                                       : decap_sa(sa, worker, seq_lo, pkt, info);
    if (r != ESP_OK)
        esp_sa_count_drop(sa, worker, r);
    return r;
}

static enum esp_reason encap_sa(struct esp_sa *sa, unsigned worker, const struct esp_addr *src,
                                struct esp_buf *pkt, struct esp_tx_info *info)
{
    if (sa->n_local_ts && !esp_ts_match(sa->local_ts, sa->n_local_ts, src))
        return ESP_DROP_SELECTOR;
    struct esp_cctx *c = esp_sa_cctx(sa, worker, ESP_DIR_OUT);
    if (!c)
        return ESP_DROP_CRYPTO;
    size_t len = pkt->len;
    uint64_t seq = 0;
    enum esp_reason r = esp_sa_next_seq(sa, len, &seq);
    if (r != ESP_OK)
        return r;
    r = esp_xform_encap(c, sa->spi_out, seq, sa->esn, src->family == 4 ? ESP_NH_IPV4 : ESP_NH_IPV6,
                        pkt);
    if (r != ESP_OK)
        return r;
    esp_counter_add(&sa->w[worker].packets_out, 1);
    esp_counter_add(&sa->w[worker].bytes_out, len);
    info->spi_out = sa->spi_out;
    info->seq = seq;
    info->endpoint = rcu_dereference(sa->ep)->ep;
    return ESP_OK;
}

enum esp_reason esp_sadb_encap(struct esp_sadb *db, unsigned worker, uint32_t tenant,
                               struct esp_buf *pkt, struct esp_tx_info *info)
{
    if (worker >= db->nworkers)
        return ESP_DROP_CRYPTO;
    struct esp_addr src, dst;
    enum esp_reason r = esp_inner_parse(pkt, 0, &src, &dst);
    if (r != ESP_OK) {
        esp_sadb_count_drop(db, worker, r);
        return r;
    }
    struct esp_route *route = find_route(db, tenant, &dst);
    struct esp_sa *sa = route ? rcu_dereference(route->sa) : NULL;
    if (!sa) {
        esp_sadb_count_drop(db, worker, ESP_DROP_NO_SA);
        return ESP_DROP_NO_SA;
    }
    r = encap_sa(sa, worker, &src, pkt, info);
    if (r != ESP_OK)
        esp_sa_count_drop(sa, worker, r);
    return r;
}
