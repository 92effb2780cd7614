/* IKE_SA_INIT, responder side (RFC 7296 1.2, 2.6, 2.10, 2.23). */
#define _GNU_SOURCE
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concentrator/config.h"
#include "concentrator/event.h"
#include "concentrator/ike_auth_calc.h"
#include "concentrator/ike_crypto.h"
#include "concentrator/ike_dh.h"
#include "concentrator/ike_engine.h"
#include "concentrator/ike_names.h"
#include "concentrator/ike_rules.h"

#define NONCE_LEN       32
#define COOKIE_ROTATE_S 300

/* A log line about a request that has no IKE SA yet, rate-limited per
 * second and reason so a flood cannot flood the log. */
static void peer_log(const struct ike_path *path, enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void peer_log(const struct ike_path *path, enum log_level lvl, const char *fmt, ...)
{
    static time_t last;
    static unsigned count;
    time_t now = time(NULL);
    if (now != last) {
        last = now;
        count = 0;
    }
    if (++count > 20 || !log_enabled(lvl))
        return;
    char peer[80];
    ike_addr_str(&path->peer, peer, sizeof(peer));
    struct log_ctx c = {NULL, NULL, peer};
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, "ike", &c, fmt, ap);
    va_end(ap);
}

static void spi_bytes(uint64_t spi, uint8_t out[8])
{
    struct wr w = wr_init(out, 8);
    wr_u64(&w, spi);
}

/* NAT_DETECTION hash of an address as seen with these SPIs (RFC 7296 2.23). */
static void natd(uint64_t spi_i, uint64_t spi_r, const struct sockaddr_storage *ss,
                 uint8_t out[IKE_NATD_LEN])
{
    uint8_t a[8], b[8];
    spi_bytes(spi_i, a);
    spi_bytes(spi_r, b);
    ike_natd_hash(a, b, (const struct sockaddr *)ss, out);
}

/* Cookies (RFC 7296 2.6): the secret rotates every COOKIE_ROTATE_S while
 * cookies are in use; one made before a rotation stays valid after it. */
static void cookie_rotate(struct ike_engine *e)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (e->cookie_rotated_at && ts.tv_sec - e->cookie_rotated_at < COOKIE_ROTATE_S)
        return;
    ike_cookie_rotate(e->cookies);
    e->cookie_rotated_at = ts.tv_sec;
}

static bool cookie_ok(struct ike_engine *e, const struct ike_msg *m, const struct ike_data *ni,
                      const struct ike_path *path)
{
    const struct ike_notify *n = ike_msg_find_notify(m, IKE_N_COOKIE);
    uint8_t spii[8];
    spi_bytes(m->hdr.spi_i, spii);
    return n && ike_cookie_check(e->cookies, n->data.p, n->data.len, ni->p, ni->len,
                                 (const struct sockaddr *)&path->peer, spii);
}

/* The IKE proposals the gateway accepts before it knows the tenant: the
 * union of every enabled tenant's policies (IKE_AUTH checks the chosen
 * algorithms against the client's own policy). */
static void gateway_props(struct ike_engine *e, struct ike_prop_set *out)
{
    out->n = 0;
    bool defaults = e->snap == NULL || e->snap->n_tenants == 0;
    for (size_t i = 0; e->snap && i < e->snap->n_tenants; i++) {
        const struct snap_tenant *t = &e->snap->tenants[i];
        if (!t->enabled)
            continue;
        for (size_t j = 0; j < t->n_policies; j++) {
            const struct snap_policy *p = &t->policies[j];
            if (p->n_ike_proposals == 0) {
                defaults = true;
                continue;
            }
            for (size_t k = 0; k < p->n_ike_proposals && out->n < IKE_PROP_MAX; k++) {
                char err[160];
                if (ike_proposal_parse(p->ike_proposals[k], false, p->allow_weak_crypto,
                                       &out->p[out->n], err, sizeof(err)) == 0)
                    out->n++;
            }
        }
    }
    if (defaults) {
        struct ike_prop_set d;
        ike_proposal_defaults(false, &d);
        for (size_t i = 0; i < d.n && out->n < IKE_PROP_MAX; i++)
            out->p[out->n++] = d.p[i];
    }
}

/* Turns the SA payload's IKE proposals into offers. */
static size_t offers_of(const struct ike_sa *sa, struct ike_offer *offers,
                        struct ike_offer_transform *pool, size_t pool_cap, uint8_t protocol)
{
    size_t n = 0, used = 0;
    for (size_t i = 0; i < sa->n_proposals && n < IKE_MAX_PROPOSALS; i++) {
        const struct ike_proposal *p = &sa->proposals[i];
        if (p->protocol != protocol)
            continue;
        struct ike_offer *o = &offers[n++];
        o->number = p->num;
        o->protocol = p->protocol;
        o->t = pool + used;
        o->n = 0;
        for (size_t j = 0; j < p->n_transforms && used < pool_cap; j++) {
            const struct ike_transform *t = &p->transforms[j];
            if (t->unknown_attrs)
                continue; /* RFC 7296 3.3.6: never choose it */
            pool[used].type = t->type;
            pool[used].id = t->id;
            pool[used].keybits = t->key_len;
            used++;
            o->n++;
        }
    }
    return n;
}

static void expire_cb(struct evl_timer *t, void *arg)
{
    (void)t;
    struct ikesa *sa = arg;
    sa->eng->stats.half_open_expired++;
    ikesa_destroy(sa, IKE_END_GATEWAY, "half-open IKE_SA expired: no IKE_AUTH in time");
}

static bool put_chosen_sa(struct ike_builder *b, const struct ike_choice *c)
{
    struct ike_transform t[4];
    size_t n = 0;
    t[n++] = (struct ike_transform){IKE_TT_ENCR, c->encr, c->encr_keybits, 0};
    t[n++] = (struct ike_transform){IKE_TT_PRF, c->prf, 0, 0};
    if (c->integ)
        t[n++] = (struct ike_transform){IKE_TT_INTEG, c->integ, 0, 0};
    t[n++] = (struct ike_transform){IKE_TT_DH, c->dh, 0, 0};
    struct ike_proposal p = {
        .num = c->number, .protocol = IKE_PROTO_IKE, .transforms = t, .n_transforms = n};
    return ike_put_sa(b, &p, 1) == IKE_OK;
}

void ike_init_request(struct ike_engine *e, uint8_t *buf, size_t len, const struct ike_path *path)
{
    struct ike_msg *m = &e->msg;
    enum ike_err err = ike_decode(buf, len, m);
    if (err == IKE_ERR_VERSION) {
        ike_send_plain_notify(e, &m->hdr, path, IKE_N_INVALID_MAJOR_VERSION, NULL, 0);
        return;
    }
    if (err != IKE_OK) {
        peer_log(path, LOG_LVL_INFO, "dropped a malformed IKE_SA_INIT request (%s)",
                 ike_err_name(err));
        return;
    }
    if (m->hdr.flags & IKE_FLAG_RESPONSE || !(m->hdr.flags & IKE_FLAG_INITIATOR) ||
        m->hdr.msg_id != 0 || m->hdr.spi_i == 0)
        return;

    /* A retransmission of a request we answered: the same answer again. */
    struct ikesa *old = ikesa_find_half_open(e, m->hdr.spi_i, &path->peer);
    if (old) {
        if (old->init_req_len == len && memcmp(old->init_req, buf, len) == 0)
            ike_net_send(e->net, old->init_resp, old->init_resp_len, &old->path);
        return;
    }

    struct ike_rule_err rerr;
    if (ike_check_rules(m, NULL, IKE_STAGE_ANY, &rerr) != IKE_RULE_OK) {
        char why[160];
        peer_log(path, LOG_LVL_INFO, "refused IKE_SA_INIT: %s",
                 ike_rule_err_str(&rerr, why, sizeof(why)));
        ike_send_plain_notify(e, &m->hdr, path, IKE_N_INVALID_SYNTAX, NULL, 0);
        return;
    }
    size_t bad;
    const char *why = NULL;
    if (ike_verify_msg(m, &bad, &why) != IKE_OK) {
        peer_log(path, LOG_LVL_INFO, "refused IKE_SA_INIT: %s", why ? why : "invalid payload");
        ike_send_plain_notify(e, &m->hdr, path, IKE_N_INVALID_SYNTAX, NULL, 0);
        return;
    }

    if (e->n_half_open >= e->cfg->half_open_limit) {
        peer_log(path, LOG_LVL_WARN, "dropped IKE_SA_INIT: %zu half-open IKE SAs (limit %u)",
                 e->n_half_open, e->cfg->half_open_limit);
        return;
    }
    if (ike_half_open_count(e, &path->peer) >= e->cfg->half_open_per_peer) {
        peer_log(path, LOG_LVL_WARN,
                 "dropped IKE_SA_INIT: this address has %u half-open IKE SAs "
                 "(limit per address)",
                 e->cfg->half_open_per_peer);
        return;
    }

    const struct ike_payload *pl_sa = ike_msg_find(m, IKE_PL_SA, NULL);
    const struct ike_payload *pl_ke = ike_msg_find(m, IKE_PL_KE, NULL);
    const struct ike_payload *pl_ni = ike_msg_find(m, IKE_PL_NONCE, NULL);
    const struct ike_data *ni = &pl_ni->u.nonce;

    if (e->n_half_open >= e->cfg->cookie_threshold) {
        cookie_rotate(e);
        if (!cookie_ok(e, m, ni, path)) {
            uint8_t cookie[IKE_COOKIE_LEN], spii[8];
            spi_bytes(m->hdr.spi_i, spii);
            if (ike_cookie_make(e->cookies, ni->p, ni->len, (const struct sockaddr *)&path->peer,
                                spii, cookie) == 0)
                ike_send_plain_notify(e, &m->hdr, path, IKE_N_COOKIE, cookie, sizeof(cookie));
            return;
        }
    }

    if (ike_redirect_init(e, m, ni, path))
        return; /* draining: sent to another gateway (ike_redirect.c) */

    /* Proposal. */
    struct ike_offer offers[IKE_MAX_PROPOSALS];
    static struct ike_offer_transform tpool[IKE_MAX_TRANSFORMS];
    size_t n_offers = offers_of(&pl_sa->u.sa, offers, tpool, IKE_MAX_TRANSFORMS, IKE_PROTO_IKE);
    struct ike_prop_set ours;
    gateway_props(e, &ours);
    struct ike_choice c;
    /* First the client's first offer we accept with the group its KE is
     * for: another group costs an INVALID_KE_PAYLOAD round trip (and
     * strongSwan 5.9 drops an answer to its retried IKE_SA_INIT that comes
     * before it has finished with the INVALID_KE_PAYLOAD, then waits 1 s to
     * retransmit). strongSwan's defaults put AES-CBC first, which the
     * default policy allows with MODP-2048 only, and its KE is for
     * Curve25519, which the policy allows with ChaCha20-Poly1305. */
    int chosen = -1;
    for (size_t i = 0; i < n_offers && chosen < 0; i++)
        if (ike_proposal_choose(&ours, &offers[i], 1, false, &c) == 0 &&
            ike_proposal_ke_group(&c, &offers[i], &ours, pl_ke->u.ke.group) == 0)
            chosen = (int)i;
    if (chosen < 0)
        chosen = ike_proposal_choose(&ours, offers, n_offers, false, &c);
    if (chosen < 0) {
        peer_log(path, LOG_LVL_NOTICE,
                 "refused IKE_SA_INIT: none of the %zu proposals is allowed (NO_PROPOSAL_CHOSEN)",
                 n_offers);
        e->stats.failed++;
        ike_send_plain_notify(e, &m->hdr, path, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
        return;
    }
    uint16_t want = ike_proposal_ke_group(&c, &offers[chosen], &ours, pl_ke->u.ke.group);
    if (want) {
        uint8_t g[2] = {(uint8_t)(want >> 8), (uint8_t)want};
        peer_log(path, LOG_LVL_DEBUG, "asking for KE group %s instead of %s (INVALID_KE_PAYLOAD)",
                 IKE_NAME(ike_dh_name, want), IKE_NAME(ike_dh_name, pl_ke->u.ke.group));
        ike_send_plain_notify(e, &m->hdr, path, IKE_N_INVALID_KE_PAYLOAD, g, 2);
        return;
    }

    /* Key exchange. */
    struct ike_dh_ctx *dh = ike_dh_new(c.dh);
    uint8_t gir[IKE_DH_SECRET_MAX];
    size_t gir_len = 0;
    if (!dh || ike_dh_derive(dh, pl_ke->u.ke.data.p, pl_ke->u.ke.data.len, gir, sizeof(gir),
                             &gir_len) < 0) {
        peer_log(path, LOG_LVL_NOTICE, "refused IKE_SA_INIT: the %s public value is invalid",
                 IKE_NAME(ike_dh_name, c.dh));
        ike_dh_free(dh);
        e->stats.failed++;
        ike_send_plain_notify(e, &m->hdr, path, IKE_N_INVALID_SYNTAX, NULL, 0);
        return;
    }

    struct ikesa *sa = ikesa_new(e, m->hdr.spi_i, path);
    if (!sa) {
        ike_dh_free(dh);
        OPENSSL_cleanse(gir, sizeof(gir));
        return;
    }
    sa->alg = c;
    ike_choice_str(&c, false, sa->alg_text, sizeof(sa->alg_text));
    sa->xf = (struct ike_sa_transforms){c.encr, c.encr_keybits, c.prf, c.integ};
    memcpy(sa->ni, ni->p, ni->len);
    sa->ni_len = ni->len;
    sa->nr_len = NONCE_LEN;
    RAND_bytes(sa->nr, NONCE_LEN);
    sa->peer_next_id = 1;

    uint8_t spii[8], spir[8];
    struct wr w1 = wr_init(spii, 8), w2 = wr_init(spir, 8);
    wr_u64(&w1, sa->spi_i);
    wr_u64(&w2, sa->spi_r);
    int krc = ike_sa_keys_new(&sa->xf, sa->ni, sa->ni_len, sa->nr, sa->nr_len, gir, gir_len, spii,
                              spir, &sa->keys);
    OPENSSL_cleanse(gir, sizeof(gir));
    if (krc < 0 || ike_sk_pair_new(&sa->xf, &sa->keys, false, &sa->sk_out, &sa->sk_in) < 0) {
        ike_dh_free(dh);
        ikesa_destroy(sa, IKE_END_ERROR, "key derivation failed");
        return;
    }

    /* Notifies of the request. */
    const struct ike_notify *nsrc = ike_msg_find_notify(m, IKE_N_NAT_DETECTION_SOURCE_IP);
    const struct ike_notify *ndst = ike_msg_find_notify(m, IKE_N_NAT_DETECTION_DESTINATION_IP);
    if (nsrc && ndst) {
        uint8_t h[IKE_NATD_LEN];
        natd(sa->spi_i, 0, &path->peer, h);
        sa->nat_peer = true;
        for (size_t from = 0;;) {
            const struct ike_payload *p = ike_msg_find(m, IKE_PL_NOTIFY, &from);
            if (!p)
                break;
            if (p->u.notify.type == IKE_N_NAT_DETECTION_SOURCE_IP && p->u.notify.data.len == 20 &&
                memcmp(p->u.notify.data.p, h, 20) == 0)
                sa->nat_peer = false;
        }
        natd(sa->spi_i, 0, &path->local, h);
        sa->nat_local = ndst->data.len != 20 || memcmp(ndst->data.p, h, 20) != 0;
    }
    sa->peer_frag = ike_msg_find_notify(m, IKE_N_IKEV2_FRAGMENTATION_SUPPORTED) != NULL;
    sa->redirect_ok = ike_msg_find_notify(m, IKE_N_REDIRECT_SUPPORTED) != NULL;
    const struct ike_notify *nhash = ike_msg_find_notify(m, IKE_N_SIGNATURE_HASH_ALGORITHMS);
    if (nhash) {
        uint16_t hashes[16];
        size_t nh = 0;
        if (ike_notify_hash_algs(nhash, hashes, 16, &nh) == IKE_OK)
            for (size_t i = 0; i < nh && i < 16; i++)
                if (hashes[i] < 16)
                    sa->peer_hashes |= 1u << hashes[i];
    }

    /* The answer. */
    uint8_t pub[IKE_DH_PUBLIC_MAX];
    size_t pub_len = 0;
    int pub_rc = ike_dh_public(dh, pub, sizeof(pub), &pub_len);
    ike_dh_free(dh);
    if (pub_rc < 0) {
        ikesa_destroy(sa, IKE_END_ERROR, "cannot export our key exchange value");
        return;
    }
    uint8_t out[2048];
    struct ike_hdr h = {.spi_i = sa->spi_i,
                        .spi_r = sa->spi_r,
                        .exchange = IKE_EXCH_SA_INIT,
                        .flags = IKE_FLAG_RESPONSE,
                        .msg_id = 0,
                        .major = IKE_MAJOR_VERSION,
                        .minor = IKE_MINOR_VERSION};
    struct ike_builder b;
    ike_build_init(&b, out, sizeof(out), &h);
    put_chosen_sa(&b, &c);
    ike_put_ke(&b, c.dh, pub, pub_len);
    ike_put_nonce(&b, sa->nr, sa->nr_len);
    uint8_t hs[IKE_NATD_LEN], hd[IKE_NATD_LEN];
    natd(sa->spi_i, sa->spi_r, &path->local, hs);
    natd(sa->spi_i, sa->spi_r, &path->peer, hd);
    ike_put_notify(&b, IKE_PROTO_NONE, IKE_N_NAT_DETECTION_SOURCE_IP, NULL, 0, hs, 20);
    ike_put_notify(&b, IKE_PROTO_NONE, IKE_N_NAT_DETECTION_DESTINATION_IP, NULL, 0, hd, 20);
    /* An empty CERTREQ: clients with certificates send theirs without
     * learning which tenants' CAs this gateway holds. */
    ike_put_cert(&b, IKE_PL_CERTREQ, IKE_CERT_X509_SIGNATURE, NULL, 0);
    ike_put_notify(&b, IKE_PROTO_NONE, IKE_N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0, NULL, 0);
    static const uint8_t hash_algs[] = {0, 2, 0, 3, 0, 4}; /* SHA2-256, -384, -512 */
    ike_put_notify(&b, IKE_PROTO_NONE, IKE_N_SIGNATURE_HASH_ALGORITHMS, NULL, 0, hash_algs,
                   sizeof(hash_algs));
    size_t out_len = ike_build_finish(&b);
    if (!out_len) {
        ikesa_destroy(sa, IKE_END_ERROR, "cannot build the IKE_SA_INIT response");
        return;
    }
    sa->init_req = malloc(len);
    sa->init_resp = malloc(out_len);
    if (!sa->init_req || !sa->init_resp) {
        ikesa_destroy(sa, IKE_END_ERROR, "out of memory");
        return;
    }
    memcpy(sa->init_req, buf, len);
    sa->init_req_len = len;
    memcpy(sa->init_resp, out, out_len);
    sa->init_resp_len = out_len;

    sa->expire = evl_timer_new(e->loop, expire_cb, sa);
    if (sa->expire)
        evl_timer_start(sa->expire, e->cfg->half_open_timeout_s, 0);
    ike_net_send(e->net, out, out_len, path);
    ikesa_log(sa, LOG_LVL_DEBUG, "IKE_SA_INIT answered with %s%s%s", sa->alg_text,
              sa->nat_peer ? ", peer behind NAT" : "", sa->nat_local ? ", we are behind NAT" : "");
}
