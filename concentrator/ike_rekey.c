/* Rekeys the gateway starts (RFC 7296 1.3.3, 2.8): the CHILD_SA's soft
 * lifetime (the policy's child_lifetime less 10-20 %, the jitter keeping
 * both ends and all sessions from rekeying at once) or a soft byte/packet
 * limit of the data plane starts a CREATE_CHILD_SA with REKEY_SA (and KE
 * when the policy wants PFS); the answer's pair is installed before the old
 * one leaves, then the old one is deleted with an INFORMATIONAL Delete. When
 * the client rekeys the same pair at the same time, the pair made with the
 * lowest of the four nonces is redundant and its initiator deletes it
 * (2.8.1). A pair that reaches its hard lifetime unrekeyed ends the
 * session. */
#define _GNU_SOURCE
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "concentrator/config.h"
#include "concentrator/event.h"
#include "concentrator/ike_dh.h"
#include "concentrator/ike_engine.h"
#include "concentrator/ike_names.h"
#include "esp/esp.h"

#define NONCE_LEN  32
#define RETRY_S    1.0 /* our request window is busy: try again */
#define EVENTS_MAX 1024

enum rk_state {
    RK_IDLE = 0,
    RK_CREATE, /* our CREATE_CHILD_SA in flight */
    RK_DELETE, /* our Delete of a CHILD_SA in flight */
};

struct ike_rekey {
    struct ikesa *sa;
    struct evl_timer *soft, *hard;
    uint32_t armed_spi; /* the pair the timers are for */
    double hard_at;
    enum rk_state state;

    /* RK_CREATE */
    uint32_t old_spi_in, new_spi_in;
    uint8_t ni[NONCE_LEN];
    struct ike_dh_ctx *dh;
    struct ike_choice alg;
    bool ke_retried;
    /* the client's rekey of the same pair while ours was in flight */
    bool collided;
    uint8_t peer_min[IKE_NONCE_MAX];
    size_t peer_min_len;

    /* RK_DELETE */
    uint32_t deleting_spi_in;
    bool delete_all_old; /* the answer removes sa->child_old */
};

/* ---- data plane events, from the workers to the IKE thread ---- */

struct ike_rekey_events {
    pthread_mutex_t lock; /* guards ring, head, n */
    struct esp_event ring[EVENTS_MAX];
    size_t head, n;
    struct evl_async *wake;
    struct ike_engine *eng;
};

static void start_rekey(struct ikesa *sa, const char *why);

static void on_events(struct evl_async *a, void *arg)
{
    (void)a;
    struct ike_rekey_events *q = arg;
    for (;;) {
        struct esp_event ev;
        pthread_mutex_lock(&q->lock);
        bool have = q->n > 0;
        if (have) {
            ev = q->ring[q->head];
            q->head = (q->head + 1) % EVENTS_MAX;
            q->n--;
        }
        pthread_mutex_unlock(&q->lock);
        if (!have)
            break;
        struct ikesa *sa = ikesa_find_session(q->eng, ev.cookie);
        if (!sa || sa->state != IKESA_ESTABLISHED || sa->moved)
            continue;
        if (ev.kind == ESP_EV_SOFT_LIFETIME && ev.spi_in == sa->child.spi_in) {
            start_rekey(sa, ev.dir == ESP_DIR_IN ? "soft traffic limit (in)"
                                                 : "soft traffic limit (out)");
        } else if (ev.kind != ESP_EV_SOFT_LIFETIME && ev.spi_in == sa->child.spi_in) {
            ikesa_terminate(sa, IKE_END_LIFETIME,
                            ev.kind == ESP_EV_SEQ_EXHAUSTED
                                ? "the CHILD_SA ran out of sequence numbers"
                                : "the CHILD_SA reached its hard traffic limit unrekeyed");
        }
    }
}

void ike_rekey_esp_event(void *arg, const struct esp_event *ev)
{
    struct ike_engine *e = arg;
    struct ike_rekey_events *q = e ? e->rk_events : NULL;
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    if (q->n < EVENTS_MAX) {
        q->ring[(q->head + q->n) % EVENTS_MAX] = *ev;
        q->n++;
    }
    pthread_mutex_unlock(&q->lock);
    evl_async_send(q->wake);
}

int ike_rekey_engine_init(struct ike_engine *e)
{
    struct ike_rekey_events *q = calloc(1, sizeof(*q));
    if (!q)
        return -1;
    pthread_mutex_init(&q->lock, NULL);
    q->eng = e;
    q->wake = evl_async_new(e->loop, on_events, q);
    if (!q->wake) {
        pthread_mutex_destroy(&q->lock);
        free(q);
        return -1;
    }
    e->rk_events = q;
    return 0;
}

void ike_rekey_engine_free(struct ike_engine *e)
{
    struct ike_rekey_events *q = e->rk_events;
    if (!q)
        return;
    e->rk_events = NULL;
    evl_async_free(q->wake);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

/* ---- per SA ---- */

static void reset_exchange(struct ike_rekey *rk)
{
    ike_dh_free(rk->dh);
    rk->dh = NULL;
    OPENSSL_cleanse(rk->ni, sizeof(rk->ni));
    rk->state = RK_IDLE;
    rk->collided = false;
    rk->ke_retried = false;
    rk->peer_min_len = 0;
}

void ike_rekey_free(struct ikesa *sa)
{
    struct ike_rekey *rk = sa->rk;
    if (!rk)
        return;
    sa->rk = NULL;
    evl_timer_free(rk->soft);
    evl_timer_free(rk->hard);
    reset_exchange(rk);
    free(rk);
}

static void on_soft(struct evl_timer *t, void *arg)
{
    (void)t;
    struct ikesa *sa = arg;
    start_rekey(sa, "soft lifetime");
}

static void on_hard(struct evl_timer *t, void *arg)
{
    (void)t;
    struct ikesa *sa = arg;
    if (sa->state != IKESA_ESTABLISHED || sa->moved || !sa->rk ||
        sa->rk->armed_spi != sa->child.spi_in)
        return;
    ikesa_terminate(sa, IKE_END_LIFETIME,
                    "the CHILD_SA reached its hard lifetime without being rekeyed");
}

static struct ike_rekey *rk_of(struct ikesa *sa)
{
    if (sa->rk)
        return sa->rk;
    struct ike_rekey *rk = calloc(1, sizeof(*rk));
    if (!rk)
        return NULL;
    rk->sa = sa;
    rk->soft = evl_timer_new(sa->eng->loop, on_soft, sa);
    rk->hard = evl_timer_new(sa->eng->loop, on_hard, sa);
    if (!rk->soft || !rk->hard) {
        evl_timer_free(rk->soft);
        evl_timer_free(rk->hard);
        free(rk);
        return NULL;
    }
    sa->rk = rk;
    return rk;
}

void ike_rekey_arm(struct ikesa *sa)
{
    ike_ikerk_arm(sa); /* the IKE SA's own lifetime, once */
    const struct snap_policy *pol = sa->policy;
    if (!pol || !pol->child_lifetime || !sa->child.spi_in)
        return;
    struct ike_rekey *rk = rk_of(sa);
    if (!rk || rk->armed_spi == sa->child.spi_in)
        return;
    rk->armed_spi = sa->child.spi_in;
    double life = pol->child_lifetime;
    uint32_t r = 0;
    RAND_bytes((unsigned char *)&r, sizeof(r));
    double soft = life * (0.9 - 0.1 * ((double)r / 4294967296.0));
    evl_timer_start(rk->soft, soft, 0);
    evl_timer_start(rk->hard, life, 0);
    rk->hard_at = evl_now(sa->eng->loop) + life;
}

static void put_spi(uint8_t out[4], uint32_t spi)
{
    out[0] = (uint8_t)(spi >> 24);
    out[1] = (uint8_t)(spi >> 16);
    out[2] = (uint8_t)(spi >> 8);
    out[3] = (uint8_t)spi;
}

/* The PFS group the policy asks for: the first group of its first ESP
 * proposal that has one; 0: none. */
static uint16_t pfs_group(const struct ikesa *sa)
{
    const struct snap_policy *pol = sa->policy;
    struct ike_prop_set ours;
    char err[160];
    if (ike_proposal_set_parse(pol ? pol->esp_proposals : NULL, pol ? pol->n_esp_proposals : 0,
                               true, pol && pol->allow_weak_crypto, &ours, err, sizeof(err)) < 0)
        return 0;
    for (size_t i = 0; i < ours.n; i++)
        if (ours.p[i].n_dh)
            return ours.p[i].dh[0];
    return 0;
}

static bool send_create(struct ikesa *sa, struct ike_rekey *rk)
{
    uint8_t inner[2048];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    uint8_t old[4], spi[4];
    put_spi(old, rk->old_spi_in);
    put_spi(spi, rk->new_spi_in);
    ike_put_notify(&b, IKE_PROTO_ESP, IKE_N_REKEY_SA, old, 4, NULL, 0);
    const struct ike_choice *c = &rk->alg;
    struct ike_transform t[4];
    size_t nt = 0;
    t[nt++] = (struct ike_transform){IKE_TT_ENCR, c->encr, c->encr_keybits, 0};
    if (c->integ)
        t[nt++] = (struct ike_transform){IKE_TT_INTEG, c->integ, 0, 0};
    if (c->dh)
        t[nt++] = (struct ike_transform){IKE_TT_DH, c->dh, 0, 0};
    t[nt++] = (struct ike_transform){IKE_TT_ESN, c->esn ? 1 : 0, 0, 0};
    struct ike_proposal prop = {
        .num = 1, .protocol = IKE_PROTO_ESP, .spi = {spi, 4}, .transforms = t, .n_transforms = nt};
    ike_put_sa(&b, &prop, 1);
    ike_put_nonce(&b, rk->ni, sizeof(rk->ni));
    if (c->dh) {
        uint8_t pub[IKE_DH_PUBLIC_MAX];
        size_t pub_len = 0;
        if (!rk->dh || ike_dh_public(rk->dh, pub, sizeof(pub), &pub_len) < 0)
            return false;
        ike_put_ke(&b, c->dh, pub, pub_len);
    }
    /* We are the initiator now: TSi is our side, TSr the client's. */
    ike_put_ts(&b, IKE_PL_TSI, sa->child.ts.tsr, sa->child.ts.n_tsr);
    ike_put_ts(&b, IKE_PL_TSR, sa->child.ts.tsi, sa->child.ts.n_tsi);
    size_t n = ike_build_finish(&b);
    return n && ike_send_request(sa, IKE_EXCH_CREATE_CHILD_SA, inner, n, b.first) == 0;
}

static void start_rekey(struct ikesa *sa, const char *why)
{
    struct ike_rekey *rk = rk_of(sa);
    if (!rk || sa->state != IKESA_ESTABLISHED || sa->moved || !sa->child.spi_in ||
        rk->state == RK_CREATE)
        return;
    if (sa->our_pending || rk->state != RK_IDLE) {
        /* Window of one: a liveness check or a Delete is out. */
        evl_timer_start(rk->soft, RETRY_S, 0);
        return;
    }
    rk->old_spi_in = sa->child.spi_in;
    do {
        RAND_bytes((unsigned char *)&rk->new_spi_in, sizeof(rk->new_spi_in));
    } while (rk->new_spi_in < 256);
    RAND_bytes(rk->ni, sizeof(rk->ni));
    rk->alg = sa->child.alg;
    rk->alg.number = 1;
    rk->alg.dh = pfs_group(sa);
    if (rk->alg.dh && !(rk->dh = ike_dh_new(rk->alg.dh))) {
        ikesa_log(sa, LOG_LVL_ERROR, "CHILD_SA rekey: cannot make a key exchange value");
        return;
    }
    rk->state = RK_CREATE;
    if (!send_create(sa, rk)) {
        ikesa_log(sa, LOG_LVL_ERROR, "CHILD_SA rekey: cannot send the request");
        reset_exchange(rk);
        evl_timer_start(rk->soft, RETRY_S, 0);
        return;
    }
    ikesa_log(sa, LOG_LVL_INFO, "rekeying CHILD_SA %08x/%08x (%s%s)", sa->child.spi_in,
              sa->child.spi_out, why, rk->alg.dh ? ", with PFS" : "");
}

/* Lexicographic order of nonces, the shorter first on a common prefix. */
static int nonce_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

void ike_rekey_peer_rekeyed(struct ikesa *sa, uint32_t old_spi_in, const uint8_t *ni, size_t ni_len,
                            const uint8_t *nr, size_t nr_len)
{
    struct ike_rekey *rk = sa->rk;
    if (!rk || rk->state != RK_CREATE || rk->old_spi_in != old_spi_in)
        return;
    rk->collided = true;
    const uint8_t *lo = ni;
    size_t lo_len = ni_len;
    if (nonce_cmp(nr, nr_len, ni, ni_len) < 0) {
        lo = nr;
        lo_len = nr_len;
    }
    if (lo_len > sizeof(rk->peer_min))
        lo_len = sizeof(rk->peer_min);
    memcpy(rk->peer_min, lo, lo_len);
    rk->peer_min_len = lo_len;
    ikesa_log(sa, LOG_LVL_INFO, "CHILD_SA rekey collision: the client rekeyed %08x too",
              old_spi_in);
}

static void send_delete(struct ikesa *sa, uint32_t spi_in, bool remove_old)
{
    struct ike_rekey *rk = sa->rk;
    uint8_t inner[64], s[4];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    put_spi(s, spi_in);
    ike_put_delete(&b, IKE_PROTO_ESP, 4, s, 1);
    size_t n = ike_build_finish(&b);
    if (!n || ike_send_request(sa, IKE_EXCH_INFORMATIONAL, inner, n, b.first) < 0) {
        if (remove_old)
            ike_child_remove_old(sa);
        return;
    }
    rk->state = RK_DELETE;
    rk->deleting_spi_in = spi_in;
    rk->delete_all_old = remove_old;
}

static const struct ike_notify *error_notify(const struct ike_msg *in)
{
    for (size_t from = 0;;) {
        const struct ike_payload *p = ike_msg_find(in, IKE_PL_NOTIFY, &from);
        if (!p)
            return NULL;
        if (p->u.notify.type < 16384)
            return &p->u.notify;
    }
}

/* Checks the answer's SA against what we proposed; gives the peer's SPI. */
static bool answer_sa(const struct ike_rekey *rk, const struct ike_msg *in, uint32_t *peer_spi)
{
    const struct ike_payload *pl = ike_msg_find(in, IKE_PL_SA, NULL);
    if (!pl || pl->u.sa.n_proposals != 1)
        return false;
    const struct ike_proposal *p = &pl->u.sa.proposals[0];
    if (p->protocol != IKE_PROTO_ESP || p->spi.len != 4)
        return false;
    *peer_spi = (uint32_t)p->spi.p[0] << 24 | (uint32_t)p->spi.p[1] << 16 |
                (uint32_t)p->spi.p[2] << 8 | p->spi.p[3];
    uint16_t dh = 0;
    for (size_t i = 0; i < p->n_transforms; i++) {
        const struct ike_transform *t = &p->transforms[i];
        if ((t->type == IKE_TT_ENCR &&
             (t->id != rk->alg.encr || t->key_len != rk->alg.encr_keybits)) ||
            (t->type == IKE_TT_INTEG && t->id != rk->alg.integ))
            return false;
        if (t->type == IKE_TT_DH)
            dh = t->id;
    }
    return *peer_spi != 0 && dh == rk->alg.dh;
}

static bool install(struct ikesa *sa, struct ike_rekey *rk, const struct ike_msg *in,
                    uint32_t peer_spi, const struct ike_data *nr, bool over_redundant)
{
    uint8_t gir[IKE_DH_SECRET_MAX];
    size_t gir_len = 0;
    if (rk->alg.dh) {
        const struct ike_payload *ke = ike_msg_find(in, IKE_PL_KE, NULL);
        if (!ke || ke->u.ke.group != rk->alg.dh ||
            ike_dh_derive(rk->dh, ke->u.ke.data.p, ke->u.ke.data.len, gir, sizeof(gir), &gir_len) !=
                0) {
            ikesa_log(sa, LOG_LVL_NOTICE, "CHILD_SA rekey: the client's KE is missing or bad");
            return false;
        }
    }
    const struct ike_choice *c = &rk->alg;
    struct ike_child_keys keys;
    int krc = ike_child_keys_derive(sa->xf.prf, sa->keys.sk_d, sa->keys.prf_len,
                                    gir_len ? gir : NULL, gir_len, rk->ni, sizeof(rk->ni), nr->p,
                                    nr->len, c->encr, c->encr_keybits, c->integ, &keys);
    OPENSSL_cleanse(gir, sizeof(gir));
    if (krc < 0)
        return false;
    struct esp_sa_params p;
    memset(&p, 0, sizeof(p));
    p.spi_in = rk->new_spi_in;
    p.spi_out = peer_spi;
    p.encr = c->encr;
    p.encr_key_bits = c->encr_keybits ? c->encr_keybits : 256;
    p.integ = c->integ;
    /* As initiator, the "i" keys protect what we send. */
    memcpy(p.encr_key_out, keys.encr_i, keys.encr_len);
    memcpy(p.encr_key_in, keys.encr_r, keys.encr_len);
    p.encr_key_len = keys.encr_len;
    memcpy(p.integ_key_out, keys.integ_i, keys.integ_len);
    memcpy(p.integ_key_in, keys.integ_r, keys.integ_len);
    p.integ_key_len = keys.integ_len;
    ike_child_keys_wipe(&keys);
    p.esn = c->esn;
    char err[160] = "";
    int rc = over_redundant ? ike_child_install_ours_replacing(sa, &p, c, err, sizeof(err))
                            : ike_child_install_ours(sa, &p, c, err, sizeof(err));
    esp_sa_params_wipe(&p);
    if (rc < 0)
        ikesa_log(sa, LOG_LVL_ERROR, "CHILD_SA rekey: the data plane refused it: %s", err);
    return rc == 0;
}

void ike_rekey_response(struct ikesa *sa, const struct ike_msg *in)
{
    sa->our_pending = false;
    struct ike_rekey *rk = sa->rk;
    if (!rk || rk->state != RK_CREATE)
        return;
    const struct ike_notify *err = error_notify(in);
    if (err) {
        uint16_t g = 0;
        if (err->type == IKE_N_INVALID_KE_PAYLOAD && !rk->ke_retried &&
            ike_notify_u16(err, &g) == IKE_OK && g && rk->alg.dh) {
            /* The client wants another group: once more with it. */
            ike_dh_free(rk->dh);
            rk->alg.dh = g;
            rk->dh = ike_dh_new(g);
            rk->ke_retried = true;
            if (rk->dh && send_create(sa, rk))
                return;
        }
        ikesa_log(sa, LOG_LVL_NOTICE, "the client refused our CHILD_SA rekey: %s",
                  IKE_NAME(ike_notify_name, err->type));
        reset_exchange(rk);
        /* Tried again later, until the hard lifetime. */
        double left = rk->hard_at - evl_now(sa->eng->loop);
        if (left > 2 * RETRY_S)
            evl_timer_start(rk->soft, left / 2, 0);
        return;
    }
    uint32_t peer_spi = 0;
    const struct ike_payload *nr = ike_msg_find(in, IKE_PL_NONCE, NULL);
    if (!nr || !answer_sa(rk, in, &peer_spi)) {
        ikesa_log(sa, LOG_LVL_NOTICE, "CHILD_SA rekey: the answer does not match our proposal");
        reset_exchange(rk);
        return;
    }
    bool collided = rk->collided;
    bool ours_lose = false;
    if (collided) {
        /* RFC 7296 2.8.1: the lowest of the four nonces marks the redundant pair. */
        const uint8_t *lo = rk->ni;
        size_t lo_len = sizeof(rk->ni);
        if (nonce_cmp(nr->u.nonce.p, nr->u.nonce.len, lo, lo_len) < 0) {
            lo = nr->u.nonce.p;
            lo_len = nr->u.nonce.len;
        }
        ours_lose = nonce_cmp(lo, lo_len, rk->peer_min, rk->peer_min_len) < 0;
    }
    if (ours_lose) {
        /* Ours is redundant: never installed here, deleted at the client. */
        ikesa_log(sa, LOG_LVL_INFO,
                  "CHILD_SA rekey collision: ours (%08x) is redundant, the client's stays",
                  rk->new_spi_in);
        uint32_t spi = rk->new_spi_in;
        reset_exchange(rk);
        send_delete(sa, spi, false);
        return;
    }
    /* Ours stays: the client's redundant pair (the current one here) is
     * replaced by ours at once, as the client never sends on it and deletes
     * it; the old pair keeps decrypting what the client sends until it
     * learns of ours, and goes when our Delete of it is answered. */
    bool over_redundant = collided && sa->child_old.spi_in == rk->old_spi_in;
    if (collided)
        ikesa_log(sa, LOG_LVL_INFO, "CHILD_SA rekey collision: ours wins");
    if (!install(sa, rk, in, peer_spi, &nr->u.nonce, over_redundant)) {
        reset_exchange(rk);
        return;
    }
    uint32_t old = rk->old_spi_in;
    reset_exchange(rk);
    ikesa_publish(sa);
    /* The initiator of the surviving rekey deletes the old pair (removed
     * here once the client answers). */
    send_delete(sa, old, !collided || over_redundant);
}

bool ike_rekey_info_response(struct ikesa *sa, const struct ike_msg *in)
{
    (void)in;
    struct ike_rekey *rk = sa->rk;
    if (!rk || rk->state != RK_DELETE)
        return false;
    sa->our_pending = false;
    rk->state = RK_IDLE;
    if (rk->delete_all_old && sa->child_old.spi_in == rk->deleting_spi_in) {
        ike_child_remove_old(sa);
        ikesa_log(sa, LOG_LVL_DEBUG, "old CHILD_SA %08x deleted", rk->deleting_spi_in);
    }
    ikesa_publish(sa);
    return true;
}
