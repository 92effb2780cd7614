/* CREATE_CHILD_SA, responder side (RFC 7296 1.3): rekeying the CHILD_SA,
 * with or without PFS, or a new one when the session's has expired; and
 * rekeying the IKE SA. A second CHILD_SA beside a live one is answered
 * NO_ADDITIONAL_SAS. */
#define _GNU_SOURCE
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "concentrator/ike_dh.h"
#include "concentrator/ike_engine.h"
#include "concentrator/ike_names.h"
#include "concentrator/ike_rules.h"

static void answer_notify(struct ikesa *sa, uint32_t msg_id, uint16_t type, const uint8_t *data,
                          size_t len)
{
    uint8_t inner[64];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    ike_put_notify(&b, IKE_PROTO_NONE, type, NULL, 0, data, len);
    size_t n = ike_build_finish(&b);
    sa->peer_next_id = msg_id + 1;
    ike_send_response(sa, IKE_EXCH_CREATE_CHILD_SA, msg_id, inner, n, b.first);
}

static void spi8(uint64_t v, uint8_t out[8])
{
    struct wr w = wr_init(out, 8);
    wr_u64(&w, v);
}

/* Rekeying the IKE SA (RFC 7296 1.3.2, 2.18): a successor with new SPIs and
 * keys from the old SK_d and a new key exchange takes the session's CHILD_SAs,
 * addresses and registry entry; the client then deletes the old IKE SA. */
static void rekey_ike(struct ikesa *sa, const struct ike_msg *in, uint32_t msg_id)
{
    const struct ike_payload *pl_sa = ike_msg_find(in, IKE_PL_SA, NULL);
    const struct ike_payload *ni = ike_msg_find(in, IKE_PL_NONCE, NULL);
    const struct ike_payload *ke = ike_msg_find(in, IKE_PL_KE, NULL);
    if (!pl_sa || !ni || !ke) {
        answer_notify(sa, msg_id, IKE_N_INVALID_SYNTAX, NULL, 0);
        return;
    }
    /* Offers: IKE proposals with an 8-byte SPI (the initiator's new SPI). */
    struct ike_offer offers[IKE_MAX_PROPOSALS];
    uint64_t spis[IKE_MAX_PROPOSALS];
    static struct ike_offer_transform pool[IKE_MAX_TRANSFORMS];
    size_t n = 0, used = 0;
    for (size_t i = 0; i < pl_sa->u.sa.n_proposals && n < IKE_MAX_PROPOSALS; i++) {
        const struct ike_proposal *p = &pl_sa->u.sa.proposals[i];
        if (p->protocol != IKE_PROTO_IKE || p->spi.len != 8)
            continue;
        struct rd r = rd_init(p->spi.p, 8);
        spis[n] = rd_u64(&r);
        struct ike_offer *o = &offers[n++];
        *o = (struct ike_offer){.number = p->num, .protocol = p->protocol, .t = pool + used};
        for (size_t j = 0; j < p->n_transforms && used < IKE_MAX_TRANSFORMS; j++) {
            const struct ike_transform *t = &p->transforms[j];
            if (t->unknown_attrs)
                continue;
            pool[used++] = (struct ike_offer_transform){t->type, t->id, t->key_len};
            o->n++;
        }
    }
    struct ike_prop_set ours;
    char err[160];
    const struct snap_policy *pol = sa->policy;
    if (ike_proposal_set_parse(pol ? pol->ike_proposals : NULL, pol ? pol->n_ike_proposals : 0,
                               false, pol && pol->allow_weak_crypto, &ours, err, sizeof(err)) < 0) {
        answer_notify(sa, msg_id, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
        return;
    }
    struct ike_choice c;
    int idx = ike_proposal_choose(&ours, offers, n, false, &c);
    if (idx < 0) {
        ikesa_log(sa, LOG_LVL_NOTICE, "refused an IKE_SA rekey: no proposal is allowed");
        answer_notify(sa, msg_id, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
        return;
    }
    uint16_t want = ike_proposal_ke_group(&c, &offers[idx], &ours, ke->u.ke.group);
    if (want) {
        uint8_t g[2] = {(uint8_t)(want >> 8), (uint8_t)want};
        answer_notify(sa, msg_id, IKE_N_INVALID_KE_PAYLOAD, g, 2);
        return;
    }
    if (spis[idx] == 0) {
        answer_notify(sa, msg_id, IKE_N_INVALID_SYNTAX, NULL, 0);
        return;
    }

    uint8_t gir[IKE_DH_SECRET_MAX], pub[IKE_DH_PUBLIC_MAX];
    size_t gir_len = 0, pub_len = 0;
    struct ike_dh_ctx *dh = ike_dh_new(c.dh);
    int rc =
        !dh ? -1
            : ike_dh_derive(dh, ke->u.ke.data.p, ke->u.ke.data.len, gir, sizeof(gir), &gir_len);
    if (rc == 0)
        rc = ike_dh_public(dh, pub, sizeof(pub), &pub_len);
    ike_dh_free(dh);
    if (rc < 0) {
        OPENSSL_cleanse(gir, sizeof(gir));
        answer_notify(sa, msg_id, IKE_N_INVALID_SYNTAX, NULL, 0);
        return;
    }

    struct ikesa *ns = ikesa_new_rekeyed(sa, spis[idx]);
    if (!ns) {
        OPENSSL_cleanse(gir, sizeof(gir));
        return;
    }
    uint8_t nr[32], skeyseed[IKE_ALG_PRF_MAX], spii[8], spir[8];
    size_t seed_len = 0;
    RAND_bytes(nr, sizeof(nr));
    spi8(ns->spi_i, spii);
    spi8(ns->spi_r, spir);
    ns->alg = c;
    ike_choice_str(&c, false, ns->alg_text, sizeof(ns->alg_text));
    ns->xf = (struct ike_sa_transforms){c.encr, c.encr_keybits, c.prf, c.integ};
    rc = ike_skeyseed_rekey(sa->xf.prf, sa->keys.sk_d, sa->keys.prf_len, gir, gir_len,
                            ni->u.nonce.p, ni->u.nonce.len, nr, sizeof(nr), skeyseed, &seed_len);
    OPENSSL_cleanse(gir, sizeof(gir));
    if (rc == 0)
        rc = ike_sa_keys_derive(&ns->xf, skeyseed, seed_len, ni->u.nonce.p, ni->u.nonce.len, nr,
                                sizeof(nr), spii, spir, &ns->keys);
    OPENSSL_cleanse(skeyseed, sizeof(skeyseed));
    if (rc < 0 || ike_sk_pair_new(&ns->xf, &ns->keys, false, &ns->sk_out, &ns->sk_in) < 0) {
        ikesa_destroy(ns, IKE_END_ERROR, "IKE_SA rekey: key derivation failed");
        answer_notify(sa, msg_id, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
        return;
    }

    /* The answer goes out in the old IKE SA. */
    uint8_t inner[1024];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    struct ike_transform t[4];
    size_t nt = 0;
    t[nt++] = (struct ike_transform){IKE_TT_ENCR, c.encr, c.encr_keybits, 0};
    t[nt++] = (struct ike_transform){IKE_TT_PRF, c.prf, 0, 0};
    if (c.integ)
        t[nt++] = (struct ike_transform){IKE_TT_INTEG, c.integ, 0, 0};
    t[nt++] = (struct ike_transform){IKE_TT_DH, c.dh, 0, 0};
    struct ike_proposal prop = {.num = c.number,
                                .protocol = IKE_PROTO_IKE,
                                .spi = {spir, 8},
                                .transforms = t,
                                .n_transforms = nt};
    ike_put_sa(&b, &prop, 1);
    ike_put_nonce(&b, nr, sizeof(nr));
    ike_put_ke(&b, c.dh, pub, pub_len);
    size_t len = ike_build_finish(&b);
    if (!len) {
        ikesa_destroy(ns, IKE_END_ERROR, "IKE_SA rekey: cannot build the answer");
        return;
    }

    ike_create_move_session(ns, sa);
    sa->peer_next_id = msg_id + 1;
    ike_send_response(sa, IKE_EXCH_CREATE_CHILD_SA, msg_id, inner, len, b.first);
}

void ike_create_move_session(struct ikesa *ns, struct ikesa *sa)
{
    memcpy(ns->id, sa->id, sizeof(ns->id));
    ns->nat_peer = sa->nat_peer;
    ns->nat_local = sa->nat_local;
    ns->created_at = sa->created_at;
    ns->established_at = sa->established_at;
    ns->snap = snapshot_ref(sa->snap);
    ns->tenant = sa->tenant;
    ns->user = sa->user;
    ns->policy = sa->policy;
    ns->tenant_index = sa->tenant_index;
    ns->peer_frag = sa->peer_frag;
    ns->mobike = sa->mobike;
    ns->redirect_ok = sa->redirect_ok;
    ns->peer_hashes = sa->peer_hashes;
    memcpy(ns->peer_id, sa->peer_id, sizeof(ns->peer_id));
    memcpy(ns->eap_identity, sa->eap_identity, sizeof(ns->eap_identity));
    memcpy(ns->radius_class, sa->radius_class, sa->radius_class_len);
    ns->radius_class_len = sa->radius_class_len;
    ns->cert_auth = sa->cert_auth;
    ns->has_vip4 = sa->has_vip4;
    ns->has_vip6 = sa->has_vip6;
    ns->vip4 = sa->vip4;
    ns->vip6 = sa->vip6;
    ike_child_move(ns, sa);
    ike_rekey_free(sa); /* the successor watches the lifetimes */
    ike_ikerk_move(ns, sa);
    ike_rekey_arm(ns);
    ns->child_base = sa->child_base;
    ns->sess = sa->sess; /* accounting and history go on with the session */
    ns->ike_rekeys = sa->ike_rekeys + 1;
    sa->has_vip4 = sa->has_vip6 = false;
    sa->moved = true;
    ikesa_log(ns, LOG_LVL_INFO, "IKE_SA rekeyed to %016llx_i %016llx_r with %s",
              (unsigned long long)(ns->we_initiator ? ns->spi_r : ns->spi_i),
              (unsigned long long)(ns->we_initiator ? ns->spi_i : ns->spi_r), ns->alg_text);
    ikesa_publish(ns);
    ike_session_event(ns, EVENTS_SESSION_REKEY, "ike");
    ikesa_start_liveness(ns);
}

void ike_create_request(struct ikesa *sa, const struct ike_msg *in, uint32_t msg_id)
{
    struct ike_rule_err rerr;
    size_t bad;
    const char *why = NULL;
    if (ike_check_rules(&sa->eng->msg, in, IKE_STAGE_ANY, &rerr) != IKE_RULE_OK ||
        ike_verify_msg(in, &bad, &why) != IKE_OK) {
        char text[160];
        ikesa_log(sa, LOG_LVL_NOTICE, "refused a malformed CREATE_CHILD_SA request: %s",
                  why ? why : ike_rule_err_str(&rerr, text, sizeof(text)));
        answer_notify(sa, msg_id, IKE_N_INVALID_SYNTAX, NULL, 0);
        return;
    }
    const struct ike_payload *pl_sa = ike_msg_find(in, IKE_PL_SA, NULL);
    const struct ike_payload *ni = ike_msg_find(in, IKE_PL_NONCE, NULL);
    const struct ike_payload *ke = ike_msg_find(in, IKE_PL_KE, NULL);
    const struct ike_payload *tsi = ike_msg_find(in, IKE_PL_TSI, NULL);
    const struct ike_payload *tsr = ike_msg_find(in, IKE_PL_TSR, NULL);
    const struct ike_notify *rekey = ike_msg_find_notify(in, IKE_N_REKEY_SA);

    if (!tsi && !tsr) {
        /* No traffic selectors: rekeying the IKE SA. */
        if (sa->moved) {
            answer_notify(sa, msg_id, IKE_N_TEMPORARY_FAILURE, NULL, 0);
            return;
        }
        rekey_ike(sa, in, msg_id);
        return;
    }
    if (!tsi || !tsr || !pl_sa || !ni) {
        answer_notify(sa, msg_id, IKE_N_INVALID_SYNTAX, NULL, 0);
        return;
    }
    uint32_t old_out = 0;
    if (rekey && rekey->protocol == IKE_PROTO_ESP && rekey->spi.len == 4)
        old_out = (uint32_t)rekey->spi.p[0] << 24 | (uint32_t)rekey->spi.p[1] << 16 |
                  (uint32_t)rekey->spi.p[2] << 8 | rekey->spi.p[3];
    uint32_t old_in = 0;
    if (old_out && sa->child.spi_in && sa->child.spi_out == old_out)
        old_in = sa->child.spi_in;
    if (!old_in) {
        if (rekey) {
            /* RFC 7296 2.25: the SA it rekeys is gone. */
            answer_notify(sa, msg_id, IKE_N_CHILD_SA_NOT_FOUND, NULL, 0);
            return;
        }
        if (sa->child.spi_in) {
            ikesa_log(sa, LOG_LVL_NOTICE, "refused a second CHILD_SA (one per session)");
            answer_notify(sa, msg_id, IKE_N_NO_ADDITIONAL_SAS, NULL, 0);
            return;
        }
        /* The session has no CHILD_SA left (it expired): a new one. */
    }

    uint8_t inner[4096];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    struct ike_child_ctx cc = {
        .sa_pl = &pl_sa->u.sa,
        .tsi = &tsi->u.ts,
        .tsr = &tsr->u.ts,
        .ke = ke ? &ke->u.ke : NULL,
        .ni = ni->u.nonce.p,
        .ni_len = ni->u.nonce.len,
        .rekey_spi_in = old_in,
    };
    uint16_t err = ike_child_create(sa, &cc, &b);
    if (err == IKE_N_INVALID_KE_PAYLOAD) {
        uint8_t g[2] = {(uint8_t)(cc.invalid_ke_group >> 8), (uint8_t)cc.invalid_ke_group};
        answer_notify(sa, msg_id, err, g, 2);
        return;
    }
    if (err) {
        answer_notify(sa, msg_id, err, NULL, 0);
        return;
    }
    size_t n = ike_build_finish(&b);
    sa->peer_next_id = msg_id + 1;
    ike_send_response(sa, IKE_EXCH_CREATE_CHILD_SA, msg_id, inner, n, b.first);
    ikesa_publish(sa);
}
