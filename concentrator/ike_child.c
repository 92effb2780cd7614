/* The CHILD_SA of IKE_AUTH: ESP proposal, keys, installation in esp/. */
#define _GNU_SOURCE
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "concentrator/ike_engine.h"
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
}

uint16_t ike_child_create(struct ikesa *sa, const struct ike_sa *sa_pl,
                          const struct ike_ts_list *tsi, const struct ike_ts_list *tsr,
                          struct ike_builder *b)
{
    struct ike_engine *e = sa->eng;
    struct ike_offer offers[IKE_MAX_PROPOSALS];
    static struct ike_offer_transform tpool[IKE_MAX_TRANSFORMS];
    uint32_t spis[IKE_MAX_PROPOSALS];
    size_t n = esp_offers(sa_pl, offers, tpool, IKE_MAX_TRANSFORMS, spis);

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
    for (size_t i = 0; i < ours.n; i++)
        ours.p[i].n_dh = 0;
    struct ike_choice c;
    int idx = ike_proposal_choose(&ours, offers, n, true, &c);
    if (idx < 0) {
        ikesa_log(sa, LOG_LVL_NOTICE, "none of the client's %zu ESP proposals is allowed", n);
        return IKE_N_NO_PROPOSAL_CHOSEN;
    }

    struct esp_sa_params p;
    memset(&p, 0, sizeof(p));
    struct ike_narrowed *nts = &sa->child.ts;
    if (ike_cfg_narrow_ts(sa, tsi, tsr, nts, &p) < 0) {
        ikesa_log(sa, LOG_LVL_NOTICE,
                  "the client's traffic selectors do not include its virtual "
                  "address or any of the policy's routes");
        return IKE_N_TS_UNACCEPTABLE;
    }

    struct ike_child_keys keys;
    if (ike_child_keys_derive(sa->xf.prf, sa->keys.sk_d, sa->keys.prf_len, NULL, 0, sa->ni,
                              sa->ni_len, sa->nr, sa->nr_len, c.encr, c.encr_keybits, c.integ,
                              &keys) < 0) {
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
    p.cookie = sa->spi_r;
    endpoint_of(sa, &p.endpoint);

    int rc = -1;
    for (int attempt = 0; attempt < 8 && rc < 0; attempt++) {
        do {
            RAND_bytes((unsigned char *)&p.spi_in, sizeof(p.spi_in));
        } while (p.spi_in < 256); /* 1-255 are reserved (RFC 4303 2.1) */
        if (!e->deps.sadb) {
            rc = 0;
            break;
        }
        rc = esp_sadb_install(e->deps.sadb, &p, err, sizeof(err));
    }
    if (rc < 0) {
        ikesa_log(sa, LOG_LVL_ERROR, "the data plane refused the CHILD_SA: %s", err);
        esp_sa_params_wipe(&p);
        return IKE_N_NO_PROPOSAL_CHOSEN;
    }
    esp_sa_params_wipe(&p);
    sa->child.installed = e->deps.sadb != NULL;
    sa->child.spi_in = p.spi_in;
    sa->child.spi_out = p.spi_out;
    sa->child.alg = c;
    ike_choice_str(&c, true, sa->child.alg_text, sizeof(sa->child.alg_text));
    sa->child.established_at = time(NULL);

    /* SA, TSi, TSr of the answer. */
    struct ike_transform t[3];
    size_t nt = 0;
    t[nt++] = (struct ike_transform){IKE_TT_ENCR, c.encr, c.encr_keybits, 0};
    if (c.integ)
        t[nt++] = (struct ike_transform){IKE_TT_INTEG, c.integ, 0, 0};
    t[nt++] = (struct ike_transform){IKE_TT_ESN, c.esn ? 1 : 0, 0, 0};
    uint8_t spi[4] = {(uint8_t)(p.spi_in >> 24), (uint8_t)(p.spi_in >> 16),
                      (uint8_t)(p.spi_in >> 8), (uint8_t)p.spi_in};
    struct ike_proposal prop = {.num = c.number,
                                .protocol = IKE_PROTO_ESP,
                                .spi = {spi, 4},
                                .transforms = t,
                                .n_transforms = nt};
    ike_put_sa(b, &prop, 1);
    ike_put_ts(b, IKE_PL_TSI, nts->tsi, nts->n_tsi);
    ike_put_ts(b, IKE_PL_TSR, nts->tsr, nts->n_tsr);
    ikesa_log(sa, LOG_LVL_DEBUG, "CHILD_SA %08x/%08x %s%s", p.spi_in, p.spi_out, sa->child.alg_text,
              sa->child.installed ? "" : " (no data plane: recorded only)");
    return 0;
}

void ike_child_delete(struct ikesa *sa)
{
    struct esp_sadb *db = sa->eng->deps.sadb;
    if (sa->child.installed && db) {
        /* Keep its traffic in the session's totals. */
        struct esp_sa_stats st;
        if (esp_sadb_sa_stats(db, sa->child.spi_in, &st) == 0) {
            sa->child_base.bytes_in += st.bytes_in;
            sa->child_base.bytes_out += st.bytes_out;
            sa->child_base.packets_in += st.packets_in;
            sa->child_base.packets_out += st.packets_out;
        }
        esp_sadb_delete(db, sa->child.spi_in);
    }
    sa->child.installed = false;
}
