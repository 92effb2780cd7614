/* Proposal policy and choice: see ike_proposal.h. */
#define _GNU_SOURCE
#include "concentrator/ike_proposal.h"

#include <stdio.h>
#include <string.h>

#include "concentrator/ike_alg.h"
#include "concentrator/ike_names.h"
#include "concentrator/ike_types.h"

enum kind { K_ENCR, K_INTEG, K_PRF, K_DH, K_ESN, K_NOESN };

struct token {
    const char *name;
    enum kind kind;
    uint16_t id;
    uint16_t keybits;
    bool weak;
    uint16_t prf; /* for K_INTEG: the PRF it implies for IKE */
};

#define ENCR_3DES IKE_ENCR_3DES

static const struct token tokens[] = {
    {"aes128", K_ENCR, IKE_ENCR_AES_CBC, 128, false, 0},
    {"aes192", K_ENCR, IKE_ENCR_AES_CBC, 192, false, 0},
    {"aes256", K_ENCR, IKE_ENCR_AES_CBC, 256, false, 0},
    {"aes128gcm16", K_ENCR, IKE_ENCR_AES_GCM_16, 128, false, 0},
    {"aes128gcm128", K_ENCR, IKE_ENCR_AES_GCM_16, 128, false, 0},
    {"aes128gcm", K_ENCR, IKE_ENCR_AES_GCM_16, 128, false, 0},
    {"aes192gcm16", K_ENCR, IKE_ENCR_AES_GCM_16, 192, false, 0},
    {"aes256gcm16", K_ENCR, IKE_ENCR_AES_GCM_16, 256, false, 0},
    {"aes256gcm128", K_ENCR, IKE_ENCR_AES_GCM_16, 256, false, 0},
    {"aes256gcm", K_ENCR, IKE_ENCR_AES_GCM_16, 256, false, 0},
    {"chacha20poly1305", K_ENCR, IKE_ENCR_CHACHA20_POLY1305, 0, false, 0},
    {"3des", K_ENCR, ENCR_3DES, 0, true, 0},
    {"sha1", K_INTEG, IKE_INTEG_HMAC_SHA1_96, 0, true, IKE_PRF_HMAC_SHA1},
    {"sha256", K_INTEG, IKE_INTEG_HMAC_SHA2_256_128, 0, false, IKE_PRF_HMAC_SHA2_256},
    {"sha384", K_INTEG, IKE_INTEG_HMAC_SHA2_384_192, 0, false, IKE_PRF_HMAC_SHA2_384},
    {"sha512", K_INTEG, IKE_INTEG_HMAC_SHA2_512_256, 0, false, IKE_PRF_HMAC_SHA2_512},
    {"prfsha1", K_PRF, IKE_PRF_HMAC_SHA1, 0, true, 0},
    {"prfsha256", K_PRF, IKE_PRF_HMAC_SHA2_256, 0, false, 0},
    {"prfsha384", K_PRF, IKE_PRF_HMAC_SHA2_384, 0, false, 0},
    {"prfsha512", K_PRF, IKE_PRF_HMAC_SHA2_512, 0, false, 0},
    {"modp1024", K_DH, IKE_DH_MODP1024, 0, true, 0},
    {"modp2048", K_DH, IKE_DH_MODP2048, 0, false, 0},
    {"modp3072", K_DH, IKE_DH_MODP3072, 0, false, 0},
    {"ecp256", K_DH, IKE_DH_ECP256, 0, false, 0},
    {"ecp384", K_DH, IKE_DH_ECP384, 0, false, 0},
    {"ecp521", K_DH, IKE_DH_ECP521, 0, false, 0},
    {"x25519", K_DH, IKE_DH_CURVE25519, 0, false, 0},
    {"curve25519", K_DH, IKE_DH_CURVE25519, 0, false, 0},
    {"esn", K_ESN, 1, 0, false, 0},
    {"noesn", K_NOESN, 0, 0, false, 0},
};

static const struct token *find_token(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
        if (strlen(tokens[i].name) == len && strncmp(tokens[i].name, s, len) == 0)
            return &tokens[i];
    return NULL;
}

static bool add_u16(uint16_t *v, size_t *n, uint16_t id)
{
    for (size_t i = 0; i < *n; i++)
        if (v[i] == id)
            return true;
    if (*n == IKE_PROP_MAX_ALGS)
        return false;
    v[(*n)++] = id;
    return true;
}

int ike_proposal_parse(const char *s, bool esp, bool allow_weak, struct ike_prop *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof(*out));
    uint16_t implied_prf[IKE_PROP_MAX_ALGS];
    size_t n_implied = 0;
    size_t n_aead = 0;
    if (!s || !*s) {
        snprintf(err, errlen, "empty proposal");
        return -1;
    }
    const char *p = s;
    while (*p) {
        const char *dash = strchr(p, '-');
        size_t len = dash ? (size_t)(dash - p) : strlen(p);
        const struct token *t = find_token(p, len);
        if (!t) {
            snprintf(err, errlen, "'%.*s' in '%s' is not a known algorithm", (int)len, p, s);
            return -1;
        }
        if (t->weak && !allow_weak) {
            snprintf(err, errlen,
                     "'%s' in '%s' is weak: allowed only when allow_weak_crypto is set", t->name,
                     s);
            return -1;
        }
        bool ok = true;
        switch (t->kind) {
        case K_ENCR:
            if (out->n_encr == IKE_PROP_MAX_ALGS) {
                ok = false;
                break;
            }
            if (!ike_alg_encr_supported(t->id, t->keybits, esp) && t->id != ENCR_3DES) {
                snprintf(err, errlen, "'%s' is not available for %s", t->name, esp ? "ESP" : "IKE");
                return -1;
            }
            if (t->id == ENCR_3DES) {
                snprintf(err, errlen, "'3des' is not implemented");
                return -1;
            }
            out->encr[out->n_encr].id = t->id;
            out->encr[out->n_encr++].keybits = t->keybits;
            if (ike_alg_encr_is_aead(t->id))
                n_aead++;
            break;
        case K_INTEG:
            ok = add_u16(out->integ, &out->n_integ, t->id);
            if (ok && !esp)
                add_u16(implied_prf, &n_implied, t->prf);
            break;
        case K_PRF:
            if (esp) {
                snprintf(err, errlen, "'%s': ESP proposals take no PRF", t->name);
                return -1;
            }
            ok = add_u16(out->prf, &out->n_prf, t->id);
            break;
        case K_DH:
            ok = add_u16(out->dh, &out->n_dh, t->id);
            break;
        case K_ESN:
        case K_NOESN:
            if (!esp) {
                snprintf(err, errlen, "'%s': only ESP proposals take esn/noesn", t->name);
                return -1;
            }
            if (t->kind == K_ESN)
                out->esn = true;
            else
                out->noesn = true;
            break;
        }
        if (!ok) {
            snprintf(err, errlen, "too many algorithms in '%s' (at most %d of a kind)", s,
                     IKE_PROP_MAX_ALGS);
            return -1;
        }
        p += len;
        if (*p == '-') {
            p++;
            if (!*p) {
                snprintf(err, errlen, "'%s' ends with '-'", s);
                return -1;
            }
        }
    }
    if (out->n_encr == 0) {
        snprintf(err, errlen, "'%s' names no encryption algorithm", s);
        return -1;
    }
    if (n_aead && n_aead != out->n_encr) {
        snprintf(err, errlen, "'%s' mixes AEAD and non-AEAD ciphers: use two proposals", s);
        return -1;
    }
    out->aead = n_aead > 0;
    if (out->aead && out->n_integ) {
        snprintf(err, errlen, "'%s': an AEAD cipher takes no integrity algorithm", s);
        return -1;
    }
    if (!out->aead && out->n_integ == 0) {
        snprintf(err, errlen, "'%s' needs an integrity algorithm (e.g. sha256)", s);
        return -1;
    }
    if (!esp) {
        if (out->n_prf == 0) {
            if (out->aead)
                out->prf[out->n_prf++] = IKE_PRF_HMAC_SHA2_256;
            for (size_t i = 0; i < n_implied; i++)
                add_u16(out->prf, &out->n_prf, implied_prf[i]);
        }
        if (out->n_dh == 0) {
            snprintf(err, errlen, "'%s' needs a Diffie-Hellman group (e.g. ecp256)", s);
            return -1;
        }
    } else if (!out->esn && !out->noesn) {
        out->noesn = true;
    }
    return 0;
}

bool ike_proposal_is_weak(const char *s)
{
    static const char *const weak[] = {"3des",   "sha1",    "md5",      "prfsha1",
                                       "prfmd5", "modp768", "modp1024", "modp1536"};
    const char *p = s;
    while (p && *p) {
        const char *dash = strchr(p, '-');
        size_t len = dash ? (size_t)(dash - p) : strlen(p);
        for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++)
            if (strlen(weak[i]) == len && strncmp(weak[i], p, len) == 0)
                return true;
        p = dash ? dash + 1 : NULL;
    }
    return false;
}

static const char *const ike_defaults[] = {
    "aes256gcm16-aes128gcm16-chacha20poly1305-prfsha256-prfsha384-prfsha512-x25519-ecp256-"
    "ecp384-ecp521-modp3072-modp2048",
    "aes256-aes128-sha256-sha384-sha512-x25519-ecp256-ecp384-ecp521-modp3072-modp2048",
};
static const char *const esp_defaults[] = {
    "aes256gcm16-aes128gcm16-chacha20poly1305-esn-noesn",
    "aes256-aes128-sha256-sha384-sha512-esn-noesn",
};

void ike_proposal_defaults(bool esp, struct ike_prop_set *out)
{
    char err[128];
    const char *const *list = esp ? esp_defaults : ike_defaults;
    out->n = 0;
    for (size_t i = 0; i < 2; i++)
        if (ike_proposal_parse(list[i], esp, false, &out->p[out->n], err, sizeof(err)) == 0)
            out->n++;
}

int ike_proposal_set_parse(char *const *list, size_t n, bool esp, bool allow_weak,
                           struct ike_prop_set *out, char *err, size_t errlen)
{
    if (n == 0) {
        ike_proposal_defaults(esp, out);
        return 0;
    }
    if (n > IKE_PROP_MAX) {
        snprintf(err, errlen, "at most %d proposals", IKE_PROP_MAX);
        return -1;
    }
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (ike_proposal_parse(list[i], esp, allow_weak, &out->p[out->n], err, errlen) < 0)
            return -1;
        out->n++;
    }
    return 0;
}

/* Our preference index of a transform in proposal p (lower is better), or -1
 * if p does not allow it. */
static int pref_of(const struct ike_prop *p, const struct ike_offer_transform *t, bool esp)
{
    switch (t->type) {
    case 1:
        for (size_t i = 0; i < p->n_encr; i++) {
            uint16_t kb = p->encr[i].keybits;
            bool fixed = p->encr[i].id == IKE_ENCR_CHACHA20_POLY1305;
            if (p->encr[i].id == t->id && (fixed ? t->keybits == 0 : kb == t->keybits))
                return (int)i;
        }
        return -1;
    case 2:
        for (size_t i = 0; i < p->n_prf; i++)
            if (p->prf[i] == t->id)
                return (int)i;
        return -1;
    case 3:
        if (t->id == IKE_INTEG_NONE && p->aead)
            return 0;
        for (size_t i = 0; i < p->n_integ; i++)
            if (p->integ[i] == t->id)
                return (int)i;
        return -1;
    case 4:
        if (esp && t->id == 0)
            return p->n_dh == 0 ? 0 : -1; /* "NONE" offered for PFS */
        for (size_t i = 0; i < p->n_dh; i++)
            if (p->dh[i] == t->id)
                return (int)i;
        if (esp && p->n_dh == 0) {
            /* A policy that does not demand PFS still takes it when the
             * client asks, with any of the safe groups. */
            static const uint16_t safe[] = {IKE_DH_CURVE25519, IKE_DH_ECP256,   IKE_DH_ECP384,
                                            IKE_DH_ECP521,     IKE_DH_MODP3072, IKE_DH_MODP2048};
            for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
                if (safe[i] == t->id)
                    return 1 + (int)i;
        }
        return -1;
    case 5:
        if (t->id == 1)
            return p->esn ? 0 : -1;
        if (t->id == 0)
            return p->noesn ? 1 : -1;
        return -1;
    default:
        return -1;
    }
}

static bool choose_in(const struct ike_prop *p, const struct ike_offer *o, bool esp,
                      struct ike_choice *c)
{
    int best[6] = {-1, -1, -1, -1, -1, -1};
    const struct ike_offer_transform *pick[6] = {0};
    bool present[6] = {false};
    for (size_t i = 0; i < o->n; i++) {
        const struct ike_offer_transform *t = &o->t[i];
        if (t->type < 1 || t->type > 5)
            continue; /* unknown transform types are not ours to accept */
        present[t->type] = true;
        int pr = pref_of(p, t, esp);
        if (pr >= 0 && (best[t->type] < 0 || pr < best[t->type])) {
            best[t->type] = pr;
            pick[t->type] = t;
        }
    }
    /* Every kind the client offered must be matched; required kinds must be
     * offered. */
    for (int k = 1; k <= 5; k++)
        if (present[k] && !pick[k])
            return false;
    if (!pick[1])
        return false;
    bool aead = ike_alg_encr_is_aead(pick[1]->id);
    if (!esp && (!pick[2] || !pick[4]))
        return false;
    if (!aead && (!pick[3] || pick[3]->id == IKE_INTEG_NONE))
        return false;
    if (esp && p->n_dh && !pick[4])
        return false; /* our policy demands PFS */
    memset(c, 0, sizeof(*c));
    c->number = o->number;
    c->encr = pick[1]->id;
    c->encr_keybits = pick[1]->keybits;
    c->prf = pick[2] ? pick[2]->id : 0;
    c->integ = pick[3] && !aead ? pick[3]->id : 0;
    c->dh = pick[4] ? pick[4]->id : 0;
    c->esn = pick[5] && pick[5]->id == 1;
    return true;
}

int ike_proposal_choose(const struct ike_prop_set *ours, const struct ike_offer *offers,
                        size_t n_offers, bool esp, struct ike_choice *out)
{
    for (size_t i = 0; i < n_offers; i++)
        for (size_t j = 0; j < ours->n; j++)
            if (choose_in(&ours->p[j], &offers[i], esp, out))
                return (int)i;
    return -1;
}

uint16_t ike_proposal_ke_group(struct ike_choice *c, const struct ike_offer *offer,
                               const struct ike_prop_set *ours, uint16_t ke_group)
{
    if (c->dh == ke_group)
        return 0;
    /* The client's KE is for another group. If that group is also in the
     * chosen offer and one of our proposals accepts the offer with it, the
     * choice moves to that proposal and group. The group being in some
     * other proposal of ours is not enough: each proposal is a combination,
     * and aes256-sha256-modp2048 does not allow AES-CBC with Curve25519
     * because chacha20poly1305-prfsha256-curve25519 is allowed too. */
    bool offered = false;
    for (size_t i = 0; i < offer->n && !offered; i++)
        offered = offer->t[i].type == 4 && offer->t[i].id == ke_group;
    for (size_t j = 0; offered && j < ours->n; j++) {
        bool allowed = false;
        for (size_t k = 0; k < ours->p[j].n_dh && !allowed; k++)
            allowed = ours->p[j].dh[k] == ke_group;
        struct ike_choice alt;
        if (allowed && choose_in(&ours->p[j], offer, false, &alt)) {
            alt.dh = ke_group;
            *c = alt;
            return 0;
        }
    }
    return c->dh;
}

void ike_choice_str(const struct ike_choice *c, bool esp, char *buf, size_t len)
{
    size_t off = 0;
    int n = snprintf(buf, len, "%s", IKE_TRANSFORM_NAME(1, c->encr));
    off = n > 0 ? (size_t)n : 0;
    if (c->encr_keybits && off < len)
        off += (size_t)snprintf(buf + off, len - off, "_%u", c->encr_keybits);
    if (c->integ && off < len)
        off += (size_t)snprintf(buf + off, len - off, "/%s", IKE_TRANSFORM_NAME(3, c->integ));
    if (!esp && c->prf && off < len)
        off += (size_t)snprintf(buf + off, len - off, "/%s", IKE_TRANSFORM_NAME(2, c->prf));
    if (c->dh && off < len)
        off += (size_t)snprintf(buf + off, len - off, "/%s", IKE_TRANSFORM_NAME(4, c->dh));
    if (esp && off < len)
        snprintf(buf + off, len - off, "/%s", c->esn ? "ESN" : "NO_ESN");
}
