/* The CHILD_SA of IKE_AUTH: ESP proposal, keys, installation in esp/. */
#define _GNU_SOURCE
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "concentrator/ike_dh.h"
#include "concentrator/ike_engine.h"
#include "concentrator/ike_life.h"
#include "concentrator/ike_names.h"
#include "esp/esp.h"
#include "esp/esp_sadb.h"

static size_t esp_offers(const struct ike_sa *sa_pl, struct ike_offer *offers,
                         struct ike_offer_transform *pool, size_t cap, uint32_t *spis)
{
    size_t n = 0, used = 0;
    for (size_t i = 0; i < sa_pl->n_proposals && n < IKE_MAX_PROPOSALS; i++) {
        const struct ike_proposal *p = &sa_pl->proposals[i];
        if (p->protocol != IKE_PROTO_ESP || p->spi.len != 4)
            continue;
        spis[n] = (uint32_t)p->spi.p[0] << 24 | (uint32_t)p->spi.p[1] << 16 |
                  (uint32_t)p->spi.p[2] << 8 | p->spi.p[3];
        struct ike_offer *o = &offers[n++];
        o->number = p->num;
        o->protocol = p->protocol;
        o->t = pool + used;
        o->n = 0;
        for (size_t j = 0; j < p->n_transforms && used < cap; j++) {
            const struct ike_transform *t = &p->transforms[j];
            if (t->unknown_attrs)
                continue;
            pool[used++] = (struct ike_offer_transform){t->type, t->id, t->key_len};
            o->n++;
        }
    }
    return n;
}

static void endpoint_of(const struct ikesa *sa, struct esp_endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    const struct sockaddr_storage *l = &sa->path.local, *r = &sa->path.peer;
    if (r->ss_family == AF_INET) {
        ep->local.family = ep->remote.family = 4;
        memcpy(ep->local.bytes, &((const struct sockaddr_in *)l)->sin_addr, 4);
        memcpy(ep->remote.bytes, &((const struct sockaddr_in *)r)->sin_addr, 4);
    } else {
        ep->local.family = ep->remote.family = 6;
        memcpy(ep->local.bytes, &((const struct sockaddr_in6 *)l)->sin6_addr, 16);
        memcpy(ep->remote.bytes, &((const struct sockaddr_in6 *)r)->sin6_addr, 16);
    }
    ep->local_port = ike_addr_port(l);
    ep->remote_port = ike_addr_port(r);
    ep->udp_encap = sa->path.natt || sa->nat_peer || sa->nat_local;
    ep->pin_remote = sa->mobike; /* moved only by UPDATE_SA_ADDRESSES */
}

static void put_spi(uint8_t out[4], uint32_t spi)
{
    out[0] = (uint8_t)(spi >> 24);
    out[1] = (uint8_t)(spi >> 16);
    out[2] = (uint8_t)(spi >> 8);
    out[3] = (uint8_t)spi;
}

/* Copies a CHILD_SA record; its traffic selectors point into its own
 * storage, so they are pointed at the copy's. */
static void child_copy(struct ike_child *dst, const struct ike_child *src)
{
    *dst = *src;
    struct ike_narrowed *n = &dst->ts;
    for (size_t i = 0; i < n->n_tsi; i++) {
        n->tsi[i].start.p = n->addr[n->tsi_slot[i]];
        n->tsi[i].end.p = n->addr[n->tsi_slot[i] + 1];
    }
    for (size_t i = 0; i < n->n_tsr; i++) {
        n->tsr[i].start.p = n->addr[n->tsr_slot[i]];
        n->tsr[i].end.p = n->addr[n->tsr_slot[i] + 1];
    }
}

/* Removes one installed SA pair, keeping its traffic in the session's
 * totals. */
static void remove_pair(struct ikesa *sa, struct ike_child *c)
{
    struct esp_sadb *db = sa->eng->deps.sadb;
    if (c->installed && db) {
        struct esp_sa_stats st;
        if (esp_sadb_sa_stats(db, c->spi_in, &st) == 0) {
            sa->child_base.bytes_in += st.bytes_in;
            sa->child_base.bytes_out += st.bytes_out;
            sa->child_base.packets_in += st.packets_in;
            sa->child_base.packets_out += st.packets_out;
        }
        esp_sadb_delete(db, c->spi_in);
    }
    c->installed = false;
}

uint16_t ike_child_create(struct ikesa *sa, struct ike_child_ctx *cc, struct ike_builder *b)
{
    struct ike_engine *e = sa->eng;
    struct ike_offer offers[IKE_MAX_PROPOSALS];
    static struct ike_offer_transform tpool[IKE_MAX_TRANSFORMS];
    uint32_t spis[IKE_MAX_PROPOSALS];
    size_t n = esp_offers(cc->sa_pl, offers, tpool, IKE_MAX_TRANSFORMS, spis);

    struct ike_prop_set ours;
    char err[256];
    const struct snap_policy *pol = sa->policy;
    if (ike_proposal_set_parse(pol ? pol->esp_proposals : NULL, pol ? pol->n_esp_proposals : 0,
                               true, pol && pol->allow_weak_crypto, &ours, err, sizeof(err)) < 0) {
        ikesa_log(sa, LOG_LVL_ERROR, "the policy's ESP proposals are unusable: %s", err);
        return IKE_N_NO_PROPOSAL_CHOSEN;
    }
    /* The first CHILD_SA comes without a key exchange (RFC 7296 1.2): PFS
     * applies to the CHILD_SAs made later. */
    if (cc->in_ike_auth)
        for (size_t i = 0; i < ours.n; i++)
            ours.p[i].n_dh = 0;
    struct ike_choice c;
    int idx = ike_proposal_choose(&ours, offers, n, true, &c);
    if (idx < 0) {
        ikesa_log(sa, LOG_LVL_NOTICE, "none of the client's %zu ESP proposals is allowed", n);
        return IKE_N_NO_PROPOSAL_CHOSEN;
    }

    /* PFS (CREATE_CHILD_SA only): the client's KE must be for the group. */
    uint8_t gir[IKE_DH_SECRET_MAX], pub[IKE_DH_PUBLIC_MAX];
    size_t gir_len = 0, pub_len = 0;
    if (c.dh) {
        if (!cc->ke || cc->ke->group != c.dh) {
            uint16_t g =
                cc->ke ? ike_proposal_ke_group(&c, &offers[idx], &ours, cc->ke->group) : c.dh;
            if (g) {
                cc->invalid_ke_group = g;
                return IKE_N_INVALID_KE_PAYLOAD;
            }
        }
        struct ike_dh_ctx *dh = ike_dh_new(c.dh);
        int rc =
            !dh ? -1
                : ike_dh_derive(dh, cc->ke->data.p, cc->ke->data.len, gir, sizeof(gir), &gir_len);
        if (rc == 0)
            rc = ike_dh_public(dh, pub, sizeof(pub), &pub_len);
        ike_dh_free(dh);
        if (rc < 0) {
            OPENSSL_cleanse(gir, sizeof(gir));
            ikesa_log(sa, LOG_LVL_NOTICE, "the client's KE for the CHILD_SA is invalid");
            return IKE_N_INVALID_SYNTAX;
        }
    } else if (cc->ke) {
        ikesa_log(sa, LOG_LVL_NOTICE, "a KE without a DH group in the chosen proposal");
        return IKE_N_INVALID_SYNTAX;
    }

    struct ike_child nc;
    memset(&nc, 0, sizeof(nc));
    struct esp_sa_params p;
    memset(&p, 0, sizeof(p));
    if (ike_cfg_narrow_ts(sa, cc->tsi, cc->tsr, &nc.ts, &p) < 0) {
        OPENSSL_cleanse(gir, sizeof(gir));
        ikesa_log(sa, LOG_LVL_NOTICE,
                  "the client's traffic selectors do not include its virtual "
                  "address or any of the policy's routes");
        return IKE_N_TS_UNACCEPTABLE;
    }

    uint8_t nr[32];
    const uint8_t *ni = sa->ni, *nrp = sa->nr;
    size_t ni_len = sa->ni_len, nr_len = sa->nr_len;
    if (!cc->in_ike_auth) {
        RAND_bytes(nr, sizeof(nr));
        ni = cc->ni;
        ni_len = cc->ni_len;
        nrp = nr;
        nr_len = sizeof(nr);
    }
    struct ike_child_keys keys;
    int krc = ike_child_keys_derive(sa->xf.prf, sa->keys.sk_d, sa->keys.prf_len,
                                    gir_len ? gir : NULL, gir_len, ni, ni_len, nrp, nr_len, c.encr,
                                    c.encr_keybits, c.integ, &keys);
    OPENSSL_cleanse(gir, sizeof(gir));
    if (krc < 0) {
        ikesa_log(sa, LOG_LVL_ERROR, "CHILD_SA key derivation failed");
        return IKE_N_NO_PROPOSAL_CHOSEN;
    }
    p.spi_out = spis[idx];
    p.protocol = ESP_PROTO_ESP;
    p.encr = c.encr;
    p.encr_key_bits = c.encr_keybits ? c.encr_keybits : 256;
    p.integ = c.integ;
    memcpy(p.encr_key_in, keys.encr_i, keys.encr_len);
    memcpy(p.encr_key_out, keys.encr_r, keys.encr_len);
    p.encr_key_len = keys.encr_len;
    memcpy(p.integ_key_in, keys.integ_i, keys.integ_len);
    memcpy(p.integ_key_out, keys.integ_r, keys.integ_len);
    p.integ_key_len = keys.integ_len;
    ike_child_keys_wipe(&keys);
    p.esn = c.esn;
    p.tenant = sa->tenant_index;
    p.cookie = ikesa_session_key(sa);
    ike_life_traffic(sa->policy, &p);
    endpoint_of(sa, &p.endpoint);

    /* Installed before the old one leaves (esp_sadb_rekey switches the
     * outbound routes atomically): no packet is lost across the switch. */
    bool rekey = cc->rekey_spi_in && sa->child.installed;
    int rc = -1;
    for (int attempt = 0; attempt < 8 && rc < 0; attempt++) {
        do {
            RAND_bytes((unsigned char *)&p.spi_in, sizeof(p.spi_in));
        } while (p.spi_in < 256); /* 1-255 are reserved (RFC 4303 2.1) */
        if (!e->deps.sadb) {
            rc = 0;
            break;
        }
        rc = rekey ? esp_sadb_rekey(e->deps.sadb, cc->rekey_spi_in, &p, err, sizeof(err))
                   : esp_sadb_install(e->deps.sadb, &p, err, sizeof(err));
    }
    if (rc < 0) {
        ikesa_log(sa, LOG_LVL_ERROR, "the data plane refused the CHILD_SA: %s", err);
        esp_sa_params_wipe(&p);
        return IKE_N_NO_PROPOSAL_CHOSEN;
    }
    esp_sa_params_wipe(&p);
    nc.installed = e->deps.sadb != NULL;
    nc.spi_in = p.spi_in;
    nc.spi_out = p.spi_out;
    nc.alg = c;
    ike_choice_str(&c, true, nc.alg_text, sizeof(nc.alg_text));
    nc.established_at = time(NULL);
    if (cc->rekey_spi_in) {
        /* The old pair stays until the client deletes it. */
        remove_pair(sa, &sa->child_old);
        nc.rekeys = sa->child.rekeys + 1;
        child_copy(&sa->child_old, &sa->child);
    }
    child_copy(&sa->child, &nc);

    /* SA [Nr KEr] TSi TSr of the answer. */
    struct ike_transform t[4];
    size_t nt = 0;
    t[nt++] = (struct ike_transform){IKE_TT_ENCR, c.encr, c.encr_keybits, 0};
    if (c.integ)
        t[nt++] = (struct ike_transform){IKE_TT_INTEG, c.integ, 0, 0};
    if (c.dh)
        t[nt++] = (struct ike_transform){IKE_TT_DH, c.dh, 0, 0};
    t[nt++] = (struct ike_transform){IKE_TT_ESN, c.esn ? 1 : 0, 0, 0};
    uint8_t spi[4];
    put_spi(spi, nc.spi_in);
    struct ike_proposal prop = {.num = c.number,
                                .protocol = IKE_PROTO_ESP,
                                .spi = {spi, 4},
                                .transforms = t,
                                .n_transforms = nt};
    ike_put_sa(b, &prop, 1);
    if (!cc->in_ike_auth) {
        ike_put_nonce(b, nr, sizeof(nr));
        if (c.dh)
            ike_put_ke(b, c.dh, pub, pub_len);
    }
    ike_put_ts(b, IKE_PL_TSI, sa->child.ts.tsi, sa->child.ts.n_tsi);
    ike_put_ts(b, IKE_PL_TSR, sa->child.ts.tsr, sa->child.ts.n_tsr);
    ikesa_log(sa, cc->rekey_spi_in ? LOG_LVL_INFO : LOG_LVL_DEBUG, "CHILD_SA %08x/%08x %s%s%s",
              nc.spi_in, nc.spi_out, nc.alg_text, cc->rekey_spi_in ? " (rekeyed)" : "",
              nc.installed ? "" : " (no data plane: recorded only)");
    if (cc->rekey_spi_in) {
        ike_rekey_peer_rekeyed(sa, cc->rekey_spi_in, ni, ni_len, nrp, nr_len);
        ike_session_event(sa, EVENTS_SESSION_REKEY, "child");
    }
    ike_rekey_arm(sa);
    return 0;
}

bool ike_child_delete_spi(struct ikesa *sa, uint32_t peer_spi, uint32_t *our_spi)
{
    struct ike_child *c = NULL;
    if (sa->child_old.spi_in && sa->child_old.spi_out == peer_spi)
        c = &sa->child_old;
    else if (sa->child.spi_in && sa->child.spi_out == peer_spi)
        c = &sa->child;
    if (!c)
        return false;
    *our_spi = c->spi_in;
    remove_pair(sa, c);
    ikesa_log(sa, LOG_LVL_INFO, "the client deleted CHILD_SA %08x/%08x", c->spi_in, c->spi_out);
    if (c == &sa->child) {
        /* The current pair is gone: the old one, if any, is all that is left. */
        child_copy(&sa->child, &sa->child_old);
        memset(&sa->child_old, 0, sizeof(sa->child_old));
    } else {
        memset(c, 0, sizeof(*c));
    }
    return true;
}

void ike_child_move(struct ikesa *to, struct ikesa *from)
{
    child_copy(&to->child, &from->child);
    child_copy(&to->child_old, &from->child_old);
    memset(&from->child, 0, sizeof(from->child));
    memset(&from->child_old, 0, sizeof(from->child_old));
}

void ike_child_update_endpoints(struct ikesa *sa)
{
    struct esp_sadb *db = sa->eng->deps.sadb;
    struct esp_endpoint ep;
    endpoint_of(sa, &ep);
    struct ike_child *pairs[2] = {&sa->child, &sa->child_old};
    for (int i = 0; i < 2; i++)
        if (db && pairs[i]->installed && esp_sadb_update_endpoint(db, pairs[i]->spi_in, &ep) < 0)
            ikesa_log(sa, LOG_LVL_WARN, "the data plane has no CHILD_SA %08x to move",
                      pairs[i]->spi_in);
}

/* replace: the current pair is a redundant one (a collision the client
 * lost) and goes at once; the previous pair stays until deleted. */
static int install_ours(struct ikesa *sa, struct esp_sa_params *p, const struct ike_choice *c,
                        char *err, size_t errlen, bool replace)
{
    struct esp_sadb *db = sa->eng->deps.sadb;
    struct ike_child nc;
    memset(&nc, 0, sizeof(nc));
    struct ike_ts_list tsi = {sa->child.ts.tsi, sa->child.ts.n_tsi};
    struct ike_ts_list tsr = {sa->child.ts.tsr, sa->child.ts.n_tsr};
    if (!sa->child.spi_in || ike_cfg_narrow_ts(sa, &tsi, &tsr, &nc.ts, p) < 0) {
        snprintf(err, errlen, "no CHILD_SA to rekey");
        return -1;
    }
    p->protocol = ESP_PROTO_ESP;
    p->tenant = sa->tenant_index;
    p->cookie = ikesa_session_key(sa);
    ike_life_traffic(sa->policy, p);
    endpoint_of(sa, &p->endpoint);
    if (db && esp_sadb_rekey(db, sa->child.spi_in, p, err, errlen) < 0)
        return -1;
    nc.installed = db != NULL;
    nc.spi_in = p->spi_in;
    nc.spi_out = p->spi_out;
    nc.alg = *c;
    ike_choice_str(c, true, nc.alg_text, sizeof(nc.alg_text));
    nc.established_at = time(NULL);
    nc.rekeys = sa->child.rekeys + 1;
    if (replace) {
        ikesa_log(sa, LOG_LVL_DEBUG, "redundant CHILD_SA %08x/%08x removed", sa->child.spi_in,
                  sa->child.spi_out);
        remove_pair(sa, &sa->child);
    } else {
        remove_pair(sa, &sa->child_old);
        child_copy(&sa->child_old, &sa->child);
    }
    child_copy(&sa->child, &nc);
    ikesa_log(sa, LOG_LVL_INFO, "CHILD_SA %08x/%08x %s (rekeyed by us)", nc.spi_in, nc.spi_out,
              nc.alg_text);
    ike_session_event(sa, EVENTS_SESSION_REKEY, "child");
    ike_rekey_arm(sa);
    return 0;
}

int ike_child_install_ours(struct ikesa *sa, struct esp_sa_params *p, const struct ike_choice *c,
                           char *err, size_t errlen)
{
    return install_ours(sa, p, c, err, errlen, false);
}

int ike_child_install_ours_replacing(struct ikesa *sa, struct esp_sa_params *p,
                                     const struct ike_choice *c, char *err, size_t errlen)
{
    return install_ours(sa, p, c, err, errlen, true);
}

void ike_child_remove_old(struct ikesa *sa)
{
    remove_pair(sa, &sa->child_old);
    memset(&sa->child_old, 0, sizeof(sa->child_old));
}

void ike_child_delete(struct ikesa *sa)
{
    ike_rekey_free(sa); /* no lifetimes left to watch */
    remove_pair(sa, &sa->child_old);
    remove_pair(sa, &sa->child);
}
