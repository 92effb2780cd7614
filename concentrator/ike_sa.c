/* IKE SAs: the tables, the one state-change function, teardown. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/radius_pkt.h"
#include "concentrator/config.h"
#include "concentrator/event.h"
#include "concentrator/ike_crypto.h"
#include "concentrator/ike_engine.h"
#include "concentrator/registry.h"
#include "esp/esp_sadb.h"

static const char *const state_names[] = {
    [IKESA_HALF_OPEN] = "HALF_OPEN", [IKESA_EAP] = "EAP",
    [IKESA_EAP_DONE] = "EAP_DONE",   [IKESA_ESTABLISHED] = "ESTABLISHED",
    [IKESA_DELETING] = "DELETING",   [IKESA_DEAD] = "DEAD",
};

const char *ikesa_state_name(enum ikesa_state s)
{
    return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

uint64_t ike_random_spi(void)
{
    uint64_t v = 0;
    while (v == 0)
        RAND_bytes((unsigned char *)&v, sizeof(v));
    return v;
}

static size_t bucket(uint64_t v)
{
    v ^= v >> 29;
    v *= 0xbf58476d1ce4e5b9ULL;
    v ^= v >> 32;
    return (size_t)(v % IKE_SA_BUCKETS);
}

static uint64_t peer_hash(const struct sockaddr_storage *ss)
{
    uint64_t h = 1469598103934665603ULL;
    const uint8_t *p;
    size_t n;
    if (ss->ss_family == AF_INET) {
        p = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
        n = 4;
    } else {
        p = (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
        n = 16;
    }
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

void ikesa_radius_nas(const struct ikesa *sa, struct radius_nas *nas)
{
    const struct snap_tenant *t = sa->tenant;
    snprintf(nas->identifier, sizeof(nas->identifier), "isthmus");
    snprintf(nas->called_station, sizeof(nas->called_station), "%s",
             t && t->n_gateway_ids ? t->gateway_ids[0] : "isthmus");
    char peer[80];
    ike_addr_str(&sa->path.peer, peer, sizeof(peer));
    snprintf(nas->calling_station, sizeof(nas->calling_station), "%s", peer);
    if (sa->path.local.ss_family == AF_INET) {
        nas->has_ip4 = true;
        memcpy(nas->ip4, &((const struct sockaddr_in *)&sa->path.local)->sin_addr, 4);
    } else if (sa->path.local.ss_family == AF_INET6) {
        nas->has_ip6 = true;
        memcpy(nas->ip6, &((const struct sockaddr_in6 *)&sa->path.local)->sin6_addr, 16);
    }
}

struct log_ctx ikesa_log_ctx(const struct ikesa *sa)
{
    struct log_ctx c = {sa->tenant ? sa->tenant->id : NULL, sa->id, NULL};
    return c;
}

void ikesa_log(const struct ikesa *sa, enum log_level lvl, const char *fmt, ...)
{
    if (!log_enabled(lvl))
        return;
    char peer[80];
    ike_addr_str(&sa->path.peer, peer, sizeof(peer));
    struct log_ctx c = ikesa_log_ctx(sa);
    c.peer = peer;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, "ike", &c, fmt, ap);
    va_end(ap);
}

static void peer_count_add(struct ike_engine *e, const struct sockaddr_storage *peer, int d);

/* spi_r 0: a random one. */
static struct ikesa *sa_alloc(struct ike_engine *e, uint64_t spi_i, uint64_t spi_r,
                              const struct ike_path *path)
{
    struct ikesa *sa = calloc(1, sizeof(*sa));
    if (!sa)
        return NULL;
    sa->eng = e;
    sa->spi_i = spi_i;
    sa->spi_r = spi_r;
    while (!sa->spi_r || ikesa_find(e, sa->spi_r))
        sa->spi_r = ike_random_spi();
    snprintf(sa->id, sizeof(sa->id), "%016llx", (unsigned long long)sa->spi_r);
    sa->path = *path;
    sa->radius_hint = -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sa->created_at = ts.tv_sec;
    size_t b = bucket(sa->spi_r);
    sa->hnext = e->table[b];
    e->table[b] = sa;
    e->n_sas++;
    return sa;
}

struct ikesa *ikesa_new(struct ike_engine *e, uint64_t spi_i, const struct ike_path *path)
{
    struct ikesa *sa = sa_alloc(e, spi_i, 0, path);
    if (!sa)
        return NULL;
    sa->state = IKESA_HALF_OPEN;
    ike_session_init(sa);
    size_t hb = bucket(spi_i ^ peer_hash(&path->peer));
    sa->half_next = e->half_table[hb];
    e->half_table[hb] = sa;
    e->n_half_open++;
    peer_count_add(e, &path->peer, 1);
    return sa;
}

struct ikesa *ikesa_new_rekeyed(struct ikesa *old, uint64_t spi_i)
{
    struct ikesa *sa = sa_alloc(old->eng, spi_i, 0, &old->path);
    if (!sa)
        return NULL;
    sa->state = IKESA_ESTABLISHED;
    return sa;
}

struct ikesa *ikesa_new_rekeyed_ours(struct ikesa *old, uint64_t spi_peer, uint64_t spi_ours)
{
    if (!spi_ours || ikesa_find(old->eng, spi_ours))
        return NULL;
    struct ikesa *sa = sa_alloc(old->eng, spi_peer, spi_ours, &old->path);
    if (!sa)
        return NULL;
    sa->state = IKESA_ESTABLISHED;
    return sa;
}

struct ikesa *ikesa_find(struct ike_engine *e, uint64_t spi_r)
{
    for (struct ikesa *sa = e->table[bucket(spi_r)]; sa; sa = sa->hnext)
        if (sa->spi_r == spi_r)
            return sa;
    return NULL;
}

uint64_t ikesa_session_key(const struct ikesa *sa)
{
    return strtoull(sa->id, NULL, 16);
}

struct ikesa *ikesa_find_session(struct ike_engine *e, uint64_t key)
{
    struct ikesa *sa = ikesa_find(e, key);
    if (sa && !sa->moved)
        return sa;
    /* Rekeyed: the successor has other SPIs but the same session id. Data
     * plane events are rare (one per lifetime), so a walk is fine. */
    for (size_t b = 0; b < IKE_SA_BUCKETS; b++)
        for (sa = e->table[b]; sa; sa = sa->hnext)
            if (!sa->moved && ikesa_session_key(sa) == key)
                return sa;
    return NULL;
}

struct ikesa *ikesa_find_half_open(struct ike_engine *e, uint64_t spi_i,
                                   const struct sockaddr_storage *peer)
{
    size_t hb = bucket(spi_i ^ peer_hash(peer));
    for (struct ikesa *sa = e->half_table[hb]; sa; sa = sa->half_next)
        if (sa->spi_i == spi_i && ike_addr_equal(&sa->path.peer, peer, false))
            return sa;
    return NULL;
}

/* Half-open counts per source address, for the per-address limit. */
struct peer_count {
    struct peer_count *next;
    struct sockaddr_storage addr;
    unsigned n;
};

static struct peer_count **peer_slot(struct ike_engine *e, const struct sockaddr_storage *peer)
{
    struct peer_count **pp = &e->peer_counts[peer_hash(peer) % IKE_SA_BUCKETS];
    while (*pp && !ike_addr_equal(&(*pp)->addr, peer, false))
        pp = &(*pp)->next;
    return pp;
}

unsigned ike_half_open_count(struct ike_engine *e, const struct sockaddr_storage *peer)
{
    struct peer_count **pp = peer_slot(e, peer);
    return *pp ? (*pp)->n : 0;
}

static void peer_count_add(struct ike_engine *e, const struct sockaddr_storage *peer, int d)
{
    struct peer_count **pp = peer_slot(e, peer);
    if (!*pp) {
        if (d < 0)
            return;
        *pp = calloc(1, sizeof(**pp));
        if (!*pp)
            return;
        (*pp)->addr = *peer;
    }
    if (d < 0 && (*pp)->n <= 1) {
        struct peer_count *dead = *pp;
        *pp = dead->next;
        free(dead);
        return;
    }
    (*pp)->n = (unsigned)((int)(*pp)->n + d);
}

void ike_peer_counts_free(struct ike_engine *e)
{
    for (size_t b = 0; b < IKE_SA_BUCKETS; b++) {
        while (e->peer_counts[b]) {
            struct peer_count *n = e->peer_counts[b]->next;
            free(e->peer_counts[b]);
            e->peer_counts[b] = n;
        }
    }
}

static void unlink_half(struct ikesa *sa)
{
    struct ike_engine *e = sa->eng;
    size_t hb = bucket(sa->spi_i ^ peer_hash(&sa->path.peer));
    for (struct ikesa **pp = &e->half_table[hb]; *pp; pp = &(*pp)->half_next) {
        if (*pp == sa) {
            *pp = sa->half_next;
            sa->half_next = NULL;
            e->n_half_open--;
            peer_count_add(e, &sa->path.peer, -1);
            return;
        }
    }
}

void ikesa_set_state(struct ikesa *sa, enum ikesa_state st)
{
    if (sa->state == st)
        return;
    ikesa_log(sa, st == IKESA_ESTABLISHED ? LOG_LVL_INFO : LOG_LVL_DEBUG, "IKE_SA %s -> %s",
              ikesa_state_name(sa->state), ikesa_state_name(st));
    bool was_half = sa->state == IKESA_HALF_OPEN;
    sa->state = st;
    if (was_half && st != IKESA_HALF_OPEN) {
        /* No longer counts against the half-open limits; from now on it is
         * found by its SPIr only. */
        unlink_half(sa);
        evl_timer_free(sa->expire);
        sa->expire = NULL;
    }
}

void ike_cached_clear(struct ike_cached *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->d[i].buf);
    c->n = 0;
    c->valid = false;
}

static void reasm_clear(struct ike_reasm *r)
{
    for (size_t i = 0; i <= IKE_FRAG_MAX; i++) {
        free(r->piece[i]);
        r->piece[i] = NULL;
        r->piece_len[i] = 0;
    }
    r->have = r->bytes = 0;
    r->total = 0;
}

static void ts_text(const struct ikesa *sa, bool local, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = '\0';
    const struct ike_narrowed *n = &sa->child.ts;
    const struct ike_ts *ts = local ? n->tsr : n->tsi;
    size_t cnt = local ? n->n_tsr : n->n_tsi;
    for (size_t i = 0; i < cnt && off < cap; i++) {
        char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
        int fam = ts[i].start.len == 4 ? AF_INET : AF_INET6;
        inet_ntop(fam, ts[i].start.p, a, sizeof(a));
        inet_ntop(fam, ts[i].end.p, b, sizeof(b));
        /* Shown as a prefix when it is one (it always is for what we narrow to). */
        unsigned len = 0;
        size_t nb = ts[i].start.len;
        for (size_t k = 0; k < nb * 8; k++) {
            unsigned bit = 0x80u >> (k % 8);
            bool s1 = ts[i].start.p[k / 8] & bit, e1 = ts[i].end.p[k / 8] & bit;
            if (s1 != e1)
                break;
            len++;
        }
        off += (size_t)snprintf(out + off, cap - off, "%s%s/%u", i ? "," : "", a, len);
    }
}

void ikesa_publish(struct ikesa *sa)
{
    struct ike_engine *e = sa->eng;
    if (!e->registry || sa->state != IKESA_ESTABLISHED)
        return;
    struct reg_session r;
    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "%s", sa->id);
    snprintf(r.tenant, sizeof(r.tenant), "%s", sa->tenant ? sa->tenant->id : "");
    snprintf(r.identity, sizeof(r.identity), "%s",
             sa->eap_identity[0] ? sa->eap_identity : sa->peer_id);
    if (sa->user)
        snprintf(r.username, sizeof(r.username), "%s", sa->user->username);
    snprintf(r.auth, sizeof(r.auth), "%s", sa->cert_auth ? "certificate" : "eap");
    char addr[80];
    ike_addr_str(&sa->path.peer, addr, sizeof(addr));
    char *br = strchr(addr, '[');
    if (br)
        *br = '\0';
    snprintf(r.client_addr, sizeof(r.client_addr), "%s", addr);
    r.client_port = ike_addr_port(&sa->path.peer);
    r.nat = sa->nat_peer || sa->nat_local;
    if (sa->has_vip4)
        pool_addr_str(&sa->vip4, r.vip4, sizeof(r.vip4));
    if (sa->has_vip6)
        pool_addr_str(&sa->vip6, r.vip6, sizeof(r.vip6));
    r.established_at = sa->established_at;
    snprintf(r.ike_alg, sizeof(r.ike_alg), "%s", sa->alg_text);
    if (sa->child.spi_in) {
        r.has_child = true;
        r.child.spi_in = sa->child.spi_in;
        r.child.spi_out = sa->child.spi_out;
        snprintf(r.child.alg, sizeof(r.child.alg), "%s", sa->child.alg_text);
        ts_text(sa, true, r.child.ts_local, sizeof(r.child.ts_local));
        ts_text(sa, false, r.child.ts_remote, sizeof(r.child.ts_remote));
        r.child.rekeys = sa->child.rekeys;
        r.child.established_at = sa->child.established_at;
    }
    r.base = sa->child_base;
    r.last_activity = sa->sess.last_activity;
    registry_put(e->registry, &r);
}

/* A client that sends nothing for dpd_delay seconds, neither IKE nor ESP, is
 * asked an empty INFORMATIONAL; ike_msg.c removes it when the
 * retransmissions of that go unanswered. */
static void on_dpd(struct evl_timer *t, void *arg)
{
    (void)t;
    struct ikesa *sa = arg;
    struct ike_engine *e = sa->eng;
    if (sa->state != IKESA_ESTABLISHED || sa->our_pending)
        return;
    if (sa->child.installed && e->deps.sadb) {
        struct esp_sa_stats st;
        if (esp_sadb_sa_stats(e->deps.sadb, sa->child.spi_in, &st) == 0 &&
            st.packets_in != sa->last_packets_in) {
            sa->last_packets_in = st.packets_in;
            return;
        }
    }
    double now = evl_now(e->loop);
    if (now - sa->last_rx < e->cfg->dpd_delay_s)
        return;
    ikesa_log(sa, LOG_LVL_DEBUG, "no traffic for %.0f s: checking that the peer is alive",
              now - sa->last_rx);
    ike_send_request(sa, IKE_EXCH_INFORMATIONAL, NULL, 0, IKE_PL_NONE);
}

void ikesa_start_liveness(struct ikesa *sa)
{
    struct ike_engine *e = sa->eng;
    sa->last_rx = evl_now(e->loop);
    if (!e->cfg->dpd_delay_s || sa->dpd)
        return;
    sa->dpd = evl_timer_new(e->loop, on_dpd, sa);
    if (sa->dpd)
        evl_timer_start(sa->dpd, e->cfg->dpd_delay_s, e->cfg->dpd_delay_s);
}

void ikesa_terminate(struct ikesa *sa, enum ike_end end, const char *why)
{
    if (sa->state != IKESA_ESTABLISHED) {
        ikesa_destroy(sa, end, why);
        return;
    }
    ikesa_log(sa, LOG_LVL_NOTICE, "ending the session of '%s': %s",
              sa->eap_identity[0] ? sa->eap_identity : sa->peer_id, why);
    uint8_t inner[64];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    ike_put_delete(&b, IKE_PROTO_IKE, 0, NULL, 0);
    size_t n = ike_build_finish(&b);
    if (sa->eng->registry)
        registry_remove(sa->eng->registry, sa->id);
    ike_child_delete(sa);
    ike_session_end(sa, end);
    ike_cfg_release(sa);
    ikesa_set_state(sa, IKESA_DELETING);
    if (!n || ike_send_request(sa, IKE_EXCH_INFORMATIONAL, inner, n, b.first) < 0)
        ikesa_destroy(sa, end, why);
}

void ikesa_destroy(struct ikesa *sa, enum ike_end end, const char *why)
{
    struct ike_engine *e = sa->eng;
    if (e->registry && !sa->moved)
        registry_remove(e->registry, sa->id);
    if (why)
        ikesa_log(sa, sa->state == IKESA_ESTABLISHED && !sa->moved ? LOG_LVL_INFO : LOG_LVL_DEBUG,
                  "IKE_SA %s -> DEAD: %s", ikesa_state_name(sa->state), why);
    if (sa->state == IKESA_HALF_OPEN)
        unlink_half(sa);
    size_t b = bucket(sa->spi_r);
    for (struct ikesa **pp = &e->table[b]; *pp; pp = &(*pp)->hnext) {
        if (*pp == sa) {
            *pp = sa->hnext;
            break;
        }
    }
    e->n_sas--;
    sa->state = IKESA_DEAD;
    if (!sa->moved) { /* a rekeyed IKE SA handed these to its successor */
        ike_child_delete(sa);
        ike_session_end(sa, end);
        ike_cfg_release(sa);
    }
    ike_ikerk_free(sa);
    evl_timer_free(sa->expire);
    evl_timer_free(sa->dpd);
    evl_timer_free(sa->retransmit);
    ike_cached_clear(&sa->resp);
    ike_cached_clear(&sa->our_req);
    reasm_clear(&sa->reasm);
    ike_sk_ctx_free(sa->sk_in);
    ike_sk_ctx_free(sa->sk_out);
    ike_sa_keys_wipe(&sa->keys);
    OPENSSL_cleanse(sa->msk, sizeof(sa->msk));
    free(sa->init_req);
    free(sa->init_resp);
    free(sa->idi_body);
    free(sa->idr_body);
    free(sa->auth_req);
    snapshot_unref(sa->snap);
    free(sa);
}
