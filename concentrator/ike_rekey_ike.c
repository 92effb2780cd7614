/* IKE_SA rekeys the gateway starts (RFC 7296 1.3.2, 2.18) and the policy's
 * reauthentication interval (RFC 4478).
 *
 * Rekey: at 80-90 % of the policy's ike_lifetime (random jitter) we send
 * CREATE_CHILD_SA with SA (the IKE SA's own algorithms, our new SPI), Ni
 * and KEi; from the answer's SA, Nr and KEr the successor is keyed with the
 * old SK_d. We are its original initiator (sa->we_initiator). The session
 * moves to it as when the client rekeys (ike_create_move_session), then we
 * delete the old IKE SA.
 *
 * Reauthentication: the gateway is the responder of the IKE SA and cannot
 * start IKE_AUTH itself. With a reauth_interval, the last IKE_AUTH answer
 * carries AUTH_LIFETIME (the seconds left); the client authenticates anew
 * in a new IKE SA before then (strongSwan: make-before-break when set), and
 * a session still there a little after the deadline is ended here. The
 * deadline stays with the session across IKE_SA rekeys. */
#define _GNU_SOURCE
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "concentrator/event.h"
#include "concentrator/ike_dh.h"
#include "concentrator/ike_engine.h"
#include "concentrator/ike_names.h"

#define NONCE_LEN    32
#define RETRY_S      1.0 /* our request window is busy: try again */
#define REFUSED_S    5.0 /* the client refused (TEMPORARY_FAILURE, ...): later */
#define REAUTH_GRACE 2.0 /* seconds after AUTH_LIFETIME before the session ends */

struct ike_ikerk {
    struct evl_timer *soft, *reauth;
    bool armed;
    double reauth_at; /* loop time; 0: no reauthentication asked */

    /* our CREATE_CHILD_SA in flight */
    bool busy;
    uint64_t new_spi;
    uint8_t ni[NONCE_LEN];
    uint16_t group;
    struct ike_dh_ctx *dh;
    bool ke_retried;
};

static void reset_exchange(struct ike_ikerk *k)
{
    ike_dh_free(k->dh);
    k->dh = NULL;
    OPENSSL_cleanse(k->ni, sizeof(k->ni));
    k->busy = false;
    k->ke_retried = false;
}

void ike_ikerk_free(struct ikesa *sa)
{
    struct ike_ikerk *k = sa->irk;
    if (!k)
        return;
    sa->irk = NULL;
    evl_timer_free(k->soft);
    evl_timer_free(k->reauth);
    reset_exchange(k);
    free(k);
}

static void start_rekey(struct ikesa *sa);

static void on_soft(struct evl_timer *t, void *arg)
{
    (void)t;
    start_rekey(arg);
}

static void on_reauth(struct evl_timer *t, void *arg)
{
    (void)t;
    struct ikesa *sa = arg;
    if (sa->state != IKESA_ESTABLISHED || sa->moved)
        return;
    ikesa_terminate(sa, IKE_END_LIFETIME,
                    "the client did not reauthenticate within the policy's reauth_interval");
}

static struct ike_ikerk *irk_of(struct ikesa *sa)
{
    if (sa->irk)
        return sa->irk;
    struct ike_ikerk *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->soft = evl_timer_new(sa->eng->loop, on_soft, sa);
    k->reauth = evl_timer_new(sa->eng->loop, on_reauth, sa);
    if (!k->soft || !k->reauth) {
        evl_timer_free(k->soft);
        evl_timer_free(k->reauth);
        free(k);
        return NULL;
    }
    sa->irk = k;
    return k;
}

static void set_deadline(struct ikesa *sa, struct ike_ikerk *k, double at)
{
    k->reauth_at = at;
    double left = at - evl_now(sa->eng->loop);
    evl_timer_start(k->reauth, (left > 0 ? left : 0) + REAUTH_GRACE, 0);
}

void ike_ikerk_arm(struct ikesa *sa)
{
    const struct snap_policy *pol = sa->policy;
    if (!pol || (!pol->ike_lifetime && !pol->reauth_interval))
        return;
    struct ike_ikerk *k = irk_of(sa);
    if (!k || k->armed)
        return;
    k->armed = true;
    if (pol->ike_lifetime) {
        uint32_t r = 0;
        RAND_bytes((unsigned char *)&r, sizeof(r));
        double soft = pol->ike_lifetime * (0.9 - 0.1 * ((double)r / 4294967296.0));
        evl_timer_start(k->soft, soft, 0);
    }
    /* A successor has the session's deadline already (ike_ikerk_move). */
    if (pol->reauth_interval && !k->reauth_at)
        set_deadline(sa, k, evl_now(sa->eng->loop) + pol->reauth_interval);
}

void ike_ikerk_move(struct ikesa *to, struct ikesa *from)
{
    if (!from->irk || !from->irk->reauth_at)
        return;
    struct ike_ikerk *k = irk_of(to);
    if (k)
        set_deadline(to, k, from->irk->reauth_at);
    evl_timer_stop(from->irk->reauth);
}

void ike_ikerk_put_auth_lifetime(struct ikesa *sa, struct ike_builder *b)
{
    struct ike_ikerk *k = sa->irk;
    if (!k || !k->reauth_at)
        return;
    double left = k->reauth_at - evl_now(sa->eng->loop);
    uint32_t s = left < 1 ? 1 : (uint32_t)(left + 0.5);
    uint8_t v[4] = {(uint8_t)(s >> 24), (uint8_t)(s >> 16), (uint8_t)(s >> 8), (uint8_t)s};
    ike_put_notify(b, IKE_PROTO_NONE, IKE_N_AUTH_LIFETIME, NULL, 0, v, sizeof(v));
    ikesa_log(sa, LOG_LVL_DEBUG, "AUTH_LIFETIME %u s: the client must reauthenticate by then", s);
}

static void spi8(uint64_t v, uint8_t out[8])
{
    struct wr w = wr_init(out, 8);
    wr_u64(&w, v);
}

static bool send_create(struct ikesa *sa, struct ike_ikerk *k)
{
    uint8_t inner[1024], spi[8];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    spi8(k->new_spi, spi);
    const struct ike_choice *c = &sa->alg;
    struct ike_transform t[4];
    size_t nt = 0;
    t[nt++] = (struct ike_transform){IKE_TT_ENCR, c->encr, c->encr_keybits, 0};
    t[nt++] = (struct ike_transform){IKE_TT_PRF, c->prf, 0, 0};
    if (c->integ)
        t[nt++] = (struct ike_transform){IKE_TT_INTEG, c->integ, 0, 0};
    t[nt++] = (struct ike_transform){IKE_TT_DH, k->group, 0, 0};
    struct ike_proposal prop = {
        .num = 1, .protocol = IKE_PROTO_IKE, .spi = {spi, 8}, .transforms = t, .n_transforms = nt};
    uint8_t pub[IKE_DH_PUBLIC_MAX];
    size_t pub_len = 0;
    if (!k->dh || ike_dh_public(k->dh, pub, sizeof(pub), &pub_len) < 0)
        return false;
    ike_put_sa(&b, &prop, 1);
    ike_put_nonce(&b, k->ni, sizeof(k->ni));
    ike_put_ke(&b, k->group, pub, pub_len);
    size_t n = ike_build_finish(&b);
    return n && ike_send_request(sa, IKE_EXCH_CREATE_CHILD_SA, inner, n, b.first) == 0;
}

static void start_rekey(struct ikesa *sa)
{
    struct ike_ikerk *k = sa->irk;
    if (!k || sa->state != IKESA_ESTABLISHED || sa->moved || k->busy)
        return;
    if (sa->our_pending || sa->busy) {
        /* Window of one (a CHILD_SA rekey, a Delete, a liveness check is
         * out), or a request of the client's is being handled. */
        evl_timer_start(k->soft, RETRY_S, 0);
        return;
    }
    do {
        k->new_spi = ike_random_spi();
    } while (!k->new_spi || ikesa_find(sa->eng, k->new_spi));
    RAND_bytes(k->ni, sizeof(k->ni));
    k->group = sa->alg.dh;
    k->dh = ike_dh_new(k->group);
    k->busy = true;
    if (!send_create(sa, k)) {
        ikesa_log(sa, LOG_LVL_ERROR, "IKE_SA rekey: cannot send the request");
        reset_exchange(k);
        evl_timer_start(k->soft, REFUSED_S, 0);
        return;
    }
    ikesa_log(sa, LOG_LVL_INFO, "rekeying IKE_SA (soft lifetime)");
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

/* The answer's SA must be our proposal, with the client's new SPI. */
static bool answer_sa(const struct ikesa *sa, const struct ike_ikerk *k, const struct ike_msg *in,
                      uint64_t *peer_spi)
{
    const struct ike_payload *pl = ike_msg_find(in, IKE_PL_SA, NULL);
    if (!pl || pl->u.sa.n_proposals != 1)
        return false;
    const struct ike_proposal *p = &pl->u.sa.proposals[0];
    if (p->protocol != IKE_PROTO_IKE || p->spi.len != 8)
        return false;
    struct rd r = rd_init(p->spi.p, 8);
    *peer_spi = rd_u64(&r);
    const struct ike_choice *c = &sa->alg;
    unsigned seen = 0;
    for (size_t i = 0; i < p->n_transforms; i++) {
        const struct ike_transform *t = &p->transforms[i];
        bool ok = (t->type == IKE_TT_ENCR && t->id == c->encr && t->key_len == c->encr_keybits) ||
                  (t->type == IKE_TT_PRF && t->id == c->prf) ||
                  (t->type == IKE_TT_INTEG && t->id == c->integ) ||
                  (t->type == IKE_TT_DH && t->id == k->group);
        if (!ok)
            return false;
        seen |= 1u << (t->type & 7);
    }
    unsigned want = 1u << IKE_TT_ENCR | 1u << IKE_TT_PRF | 1u << IKE_TT_DH |
                    (c->integ ? 1u << IKE_TT_INTEG : 0);
    return *peer_spi != 0 && seen == want;
}

/* Keys the successor (we are its original initiator) and hands it the
 * session. Returns it, or NULL (logged). */
static struct ikesa *successor(struct ikesa *sa, struct ike_ikerk *k, uint64_t peer_spi,
                               const struct ike_data *nr, const struct ike_ke *ke)
{
    uint8_t gir[IKE_DH_SECRET_MAX], skeyseed[IKE_ALG_PRF_MAX], spii[8], spir[8];
    size_t gir_len = 0, seed_len = 0;
    if (ke->group != k->group ||
        ike_dh_derive(k->dh, ke->data.p, ke->data.len, gir, sizeof(gir), &gir_len) != 0) {
        ikesa_log(sa, LOG_LVL_NOTICE, "IKE_SA rekey: the client's KE is bad");
        return NULL;
    }
    struct ikesa *ns = ikesa_new_rekeyed_ours(sa, peer_spi, k->new_spi);
    if (!ns) {
        OPENSSL_cleanse(gir, sizeof(gir));
        ikesa_log(sa, LOG_LVL_ERROR, "IKE_SA rekey: cannot make the new IKE SA");
        return NULL;
    }
    ns->we_initiator = true;
    ns->alg = sa->alg;
    ns->alg.dh = k->group;
    ike_choice_str(&ns->alg, false, ns->alg_text, sizeof(ns->alg_text));
    ns->xf = sa->xf;
    spi8(ns->spi_r, spii); /* ours: the initiator's */
    spi8(ns->spi_i, spir);
    int rc = ike_skeyseed_rekey(sa->xf.prf, sa->keys.sk_d, sa->keys.prf_len, gir, gir_len, k->ni,
                                sizeof(k->ni), nr->p, nr->len, skeyseed, &seed_len);
    OPENSSL_cleanse(gir, sizeof(gir));
    if (rc == 0)
        rc = ike_sa_keys_derive(&ns->xf, skeyseed, seed_len, k->ni, sizeof(k->ni), nr->p, nr->len,
                                spii, spir, &ns->keys);
    OPENSSL_cleanse(skeyseed, sizeof(skeyseed));
    if (rc < 0 || ike_sk_pair_new(&ns->xf, &ns->keys, true, &ns->sk_out, &ns->sk_in) < 0) {
        ikesa_destroy(ns, IKE_END_ERROR, "IKE_SA rekey: key derivation failed");
        return NULL;
    }
    ike_create_move_session(ns, sa);
    return ns;
}

/* The old IKE SA, now empty, is deleted by us (the rekey's initiator). */
static void delete_old(struct ikesa *sa)
{
    uint8_t inner[64];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    ike_put_delete(&b, IKE_PROTO_IKE, 0, NULL, 0);
    size_t n = ike_build_finish(&b);
    ikesa_set_state(sa, IKESA_DELETING);
    if (!n || ike_send_request(sa, IKE_EXCH_INFORMATIONAL, inner, n, b.first) < 0)
        ikesa_destroy(sa, IKE_END_GATEWAY, "rekeyed; its Delete could not be sent");
}

bool ike_ikerk_response(struct ikesa *sa, const struct ike_msg *in)
{
    struct ike_ikerk *k = sa->irk;
    if (!k || !k->busy)
        return false;
    sa->our_pending = false;
    if (sa->moved || sa->state != IKESA_ESTABLISHED) {
        /* The client rekeyed it meanwhile (RFC 7296 2.8.2): its successor
         * carries the session; ours is not taken up. */
        ikesa_log(sa, LOG_LVL_INFO, "IKE_SA rekey collision: the client's rekey stays");
        reset_exchange(k);
        return true;
    }
    const struct ike_notify *err = error_notify(in);
    if (err) {
        uint16_t g = 0;
        if (err->type == IKE_N_INVALID_KE_PAYLOAD && !k->ke_retried &&
            ike_notify_u16(err, &g) == IKE_OK && g) {
            ike_dh_free(k->dh);
            k->group = g;
            k->dh = ike_dh_new(g);
            k->ke_retried = true;
            if (k->dh && send_create(sa, k))
                return true;
        }
        ikesa_log(sa, LOG_LVL_NOTICE, "the client refused our IKE_SA rekey: %s",
                  IKE_NAME(ike_notify_name, err->type));
        reset_exchange(k);
        evl_timer_start(k->soft, REFUSED_S, 0);
        return true;
    }
    uint64_t peer_spi = 0;
    const struct ike_payload *nr = ike_msg_find(in, IKE_PL_NONCE, NULL);
    const struct ike_payload *ke = ike_msg_find(in, IKE_PL_KE, NULL);
    if (!nr || !ke || !answer_sa(sa, k, in, &peer_spi)) {
        ikesa_log(sa, LOG_LVL_NOTICE, "IKE_SA rekey: the answer does not match our proposal");
        reset_exchange(k);
        evl_timer_start(k->soft, REFUSED_S, 0);
        return true;
    }
    struct ikesa *ns = successor(sa, k, peer_spi, &nr->u.nonce, &ke->u.ke);
    reset_exchange(k);
    if (!ns) {
        evl_timer_start(k->soft, REFUSED_S, 0);
        return true;
    }
    delete_old(sa);
    return true;
}
