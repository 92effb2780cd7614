/* Diffie-Hellman over EVP_PKEY: see ike_dh.h. */
#include "concentrator/ike_dh.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum kind { MODP, ECP, X25519 };

struct group {
    uint16_t id;
    enum kind kind;
    const char *name; /* OpenSSL group name; NULL: MODP-1024 built from its prime */
    int nid;          /* ECP curves */
    size_t field;     /* bytes of the prime / field element */
};

static const struct group groups[] = {
    {IKE_DH_MODP1024, MODP, NULL, 0, 128},
    {IKE_DH_MODP2048, MODP, "modp_2048", 0, 256},
    {IKE_DH_MODP3072, MODP, "modp_3072", 0, 384},
    {IKE_DH_ECP256, ECP, "P-256", NID_X9_62_prime256v1, 32},
    {IKE_DH_ECP384, ECP, "P-384", NID_secp384r1, 48},
    {IKE_DH_ECP521, ECP, "P-521", NID_secp521r1, 66},
    {IKE_DH_CURVE25519, X25519, "X25519", 0, 32},
};

struct ike_dh_ctx {
    const struct group *g;
    EVP_PKEY *key; /* our key pair */
    BIGNUM *p;     /* MODP prime, for checking the peer's value */
};

static const struct group *find(uint16_t id)
{
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        if (groups[i].id == id)
            return &groups[i];
    return NULL;
}

size_t ike_dh_public_len(uint16_t group)
{
    const struct group *g = find(group);
    if (!g)
        return 0;
    return g->kind == ECP ? 2 * g->field : g->field;
}

size_t ike_dh_secret_len(uint16_t group)
{
    const struct group *g = find(group);
    return g ? g->field : 0;
}

uint16_t ike_dh_group(const struct ike_dh_ctx *dh)
{
    return dh ? dh->g->id : 0;
}

void ike_dh_free(struct ike_dh_ctx *dh)
{
    if (!dh)
        return;
    EVP_PKEY_free(dh->key);
    BN_free(dh->p);
    free(dh);
}

/* Domain parameters (and optionally a private and/or public key) of a MODP
 * group as OSSL_PARAMs: the named group, or for MODP-1024 (RFC 2409 group
 * 2, which OpenSSL does not name) its prime and generator 2. */
static OSSL_PARAM *modp_params(const struct group *g, const BIGNUM *priv, const BIGNUM *pub)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *out = NULL;
    BIGNUM *p = NULL, *gen = NULL;
    if (!b)
        return NULL;
    if (g->name) {
        if (!OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, g->name, 0))
            goto done;
    } else {
        p = BN_get_rfc2409_prime_1024(NULL);
        gen = BN_new();
        if (!p || !gen || !BN_set_word(gen, 2) ||
            !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_FFC_P, p) ||
            !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_FFC_G, gen))
            goto done;
    }
    if (priv && !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, priv))
        goto done;
    if (pub && !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PUB_KEY, pub))
        goto done;
    out = OSSL_PARAM_BLD_to_param(b);
done:
    OSSL_PARAM_BLD_free(b);
    BN_free(p);
    BN_free(gen);
    return out;
}

/* An EVP_PKEY of type "DH" or "EC" from params (selection: what they hold). */
static EVP_PKEY *from_params(const char *type, OSSL_PARAM *params, int selection)
{
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx && params && EVP_PKEY_fromdata_init(ctx) == 1)
        if (EVP_PKEY_fromdata(ctx, &pk, selection, params) != 1)
            pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

/* The prime of a MODP group. */
static BIGNUM *modp_prime(const struct group *g)
{
    BIGNUM *p = NULL;
    OSSL_PARAM *params = modp_params(g, NULL, NULL);
    EVP_PKEY *dom = from_params("DH", params, EVP_PKEY_KEY_PARAMETERS);
    if (!dom || EVP_PKEY_get_bn_param(dom, OSSL_PKEY_PARAM_FFC_P, &p) != 1)
        p = NULL;
    EVP_PKEY_free(dom);
    OSSL_PARAM_free(params);
    return p;
}

static EVP_PKEY *generate(const struct group *g)
{
    EVP_PKEY *key = NULL, *dom = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    switch (g->kind) {
    case ECP:
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", g->name);
    case X25519:
        return EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    case MODP: {
        OSSL_PARAM *params = modp_params(g, NULL, NULL);
        dom = from_params("DH", params, EVP_PKEY_KEY_PARAMETERS);
        OSSL_PARAM_free(params);
        ctx = dom ? EVP_PKEY_CTX_new_from_pkey(NULL, dom, NULL) : NULL;
        if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_generate(ctx, &key) != 1)
            key = NULL;
        break;
    }
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(dom);
    return key;
}

static struct ike_dh_ctx *wrap(const struct group *g, EVP_PKEY *key)
{
    struct ike_dh_ctx *dh = NULL;
    if (!key)
        return NULL;
    dh = calloc(1, sizeof(*dh));
    if (!dh) {
        EVP_PKEY_free(key);
        return NULL;
    }
    dh->g = g;
    dh->key = key;
    if (g->kind == MODP && EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_FFC_P, &dh->p) != 1) {
        ike_dh_free(dh);
        return NULL;
    }
    return dh;
}

struct ike_dh_ctx *ike_dh_new(uint16_t group)
{
    const struct group *g = find(group);
    return g ? wrap(g, generate(g)) : NULL;
}

/* Public key of an EC private scalar: priv * G, uncompressed. */
static size_t ec_public_of(const struct group *g, const BIGNUM *priv, uint8_t *out, size_t cap)
{
    size_t n = 0;
    EC_GROUP *grp = EC_GROUP_new_by_curve_name(g->nid);
    EC_POINT *pt = grp ? EC_POINT_new(grp) : NULL;
    if (pt && EC_POINT_mul(grp, pt, priv, NULL, NULL, NULL) == 1)
        n = EC_POINT_point2oct(grp, pt, POINT_CONVERSION_UNCOMPRESSED, out, cap, NULL);
    EC_POINT_free(pt);
    EC_GROUP_free(grp);
    return n;
}

struct ike_dh_ctx *ike_dh_new_from_private(uint16_t group, const uint8_t *priv, size_t len)
{
    const struct group *g = find(group);
    EVP_PKEY *key = NULL;
    BIGNUM *x = NULL, *y = NULL, *gen = NULL;
    OSSL_PARAM *params = NULL;
    OSSL_PARAM_BLD *b = NULL;
    BN_CTX *bnctx = NULL;
    uint8_t pub[1 + 2 * 66];
    if (!g || !priv || !len)
        return NULL;
    if (g->kind == X25519)
        return len == 32 ? wrap(g, EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv, len))
                         : NULL;
    x = BN_bin2bn(priv, (int)len, NULL);
    if (!x)
        goto done;
    if (g->kind == ECP) {
        size_t pl = ec_public_of(g, x, pub, sizeof(pub));
        b = OSSL_PARAM_BLD_new();
        if (!pl || !b ||
            !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, g->name, 0) ||
            !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, x) ||
            !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, pl))
            goto done;
        params = OSSL_PARAM_BLD_to_param(b);
        key = from_params("EC", params, EVP_PKEY_KEYPAIR);
    } else {
        /* y = 2^x mod p */
        BIGNUM *p = modp_prime(g);
        bnctx = BN_CTX_new();
        y = BN_new();
        gen = BN_new();
        if (p && bnctx && y && gen && BN_set_word(gen, 2) && BN_mod_exp(y, gen, x, p, bnctx) == 1) {
            params = modp_params(g, x, y);
            key = from_params("DH", params, EVP_PKEY_KEYPAIR);
        }
        BN_free(p);
    }
done:
    OPENSSL_cleanse(pub, sizeof(pub));
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    BN_CTX_free(bnctx);
    BN_clear_free(x);
    BN_free(y);
    BN_free(gen);
    return wrap(g, key);
}

int ike_dh_public(const struct ike_dh_ctx *dh, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!dh || !out)
        return -1;
    const struct group *g = dh->g;
    size_t want = ike_dh_public_len(g->id), n = 0;
    if (cap < want)
        return -1;
    switch (g->kind) {
    case X25519:
        n = cap;
        if (EVP_PKEY_get_raw_public_key(dh->key, out, &n) != 1 || n != want)
            return -1;
        break;
    case ECP: {
        uint8_t enc[1 + 2 * 66];
        if (EVP_PKEY_get_octet_string_param(dh->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, enc,
                                            sizeof(enc), &n) != 1 ||
            n != 1 + want || enc[0] != POINT_CONVERSION_UNCOMPRESSED)
            return -1;
        memcpy(out, enc + 1, want);
        break;
    }
    case MODP: {
        BIGNUM *y = NULL;
        int ok = EVP_PKEY_get_bn_param(dh->key, OSSL_PKEY_PARAM_PUB_KEY, &y) == 1 &&
                 BN_bn2binpad(y, out, (int)want) == (int)want;
        BN_free(y);
        if (!ok)
            return -1;
        break;
    }
    }
    if (out_len)
        *out_len = want;
    return 0;
}

/* The peer's value as an EVP_PKEY, after the checks of RFC 6989; NULL if
 * it is not a valid public value of the group. */
static EVP_PKEY *peer_key(const struct ike_dh_ctx *dh, const uint8_t *peer, size_t len)
{
    const struct group *g = dh->g;
    EVP_PKEY *pk = NULL;
    if (len != ike_dh_public_len(g->id))
        return NULL;
    switch (g->kind) {
    case X25519:
        return EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer, len);
    case ECP: {
        /* Decoding checks the point is on the curve; the quick public check
         * adds coordinates < p and not infinity. The curves have cofactor 1,
         * so no subgroup check is needed. */
        uint8_t enc[1 + 2 * 66];
        OSSL_PARAM params[3];
        enc[0] = POINT_CONVERSION_UNCOMPRESSED;
        memcpy(enc + 1, peer, len);
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                     (char *)(uintptr_t)g->name, 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, enc, len + 1);
        params[2] = OSSL_PARAM_construct_end();
        pk = from_params("EC", params, EVP_PKEY_PUBLIC_KEY);
        break;
    }
    case MODP: {
        /* 1 < y < p-1: refuses 0, 1 and p-1 (the subgroup of order 2) and
         * anything not reduced mod p (RFC 6989 2.1 for safe primes). */
        BIGNUM *y = BN_bin2bn(peer, (int)len, NULL), *pm1 = BN_dup(dh->p);
        OSSL_PARAM *params = NULL;
        if (y && pm1 && BN_sub_word(pm1, 1) && BN_cmp(y, BN_value_one()) > 0 &&
            BN_cmp(y, pm1) < 0) {
            params = modp_params(g, NULL, y);
            pk = from_params("DH", params, EVP_PKEY_PUBLIC_KEY);
        }
        OSSL_PARAM_free(params);
        BN_free(y);
        BN_free(pm1);
        return pk;
    }
    }
    if (pk) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
        bool ok = c && EVP_PKEY_public_check_quick(c) == 1;
        EVP_PKEY_CTX_free(c);
        if (!ok) {
            EVP_PKEY_free(pk);
            pk = NULL;
        }
    }
    return pk;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

int ike_dh_derive(struct ike_dh_ctx *dh, const uint8_t *peer, size_t peer_len, uint8_t *out,
                  size_t cap, size_t *out_len)
{
    if (!dh || !out || !peer)
        return IKE_DH_FAILED;
    size_t want = ike_dh_secret_len(dh->g->id), n = cap;
    if (cap < want)
        return IKE_DH_FAILED;
    EVP_PKEY *pk = peer_key(dh, peer, peer_len);
    if (!pk)
        return IKE_DH_BAD_PEER;
    int rc = IKE_DH_FAILED;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dh->key, NULL);
    if (!ctx || EVP_PKEY_derive_init(ctx) != 1)
        goto done;
    if (dh->g->kind == MODP && EVP_PKEY_CTX_set_dh_pad(ctx, 1) != 1)
        goto done;
    if (EVP_PKEY_derive_set_peer_ex(ctx, pk, 0) != 1) /* checked above */
        goto done;
    if (EVP_PKEY_derive(ctx, out, &n) != 1) {
        /* X25519 with a low-order point ends here: OpenSSL refuses the
         * all-zero result itself. */
        rc = dh->g->kind == X25519 ? IKE_DH_BAD_PEER : IKE_DH_FAILED;
        goto done;
    }
    if (n != want)
        goto done;
    if (dh->g->kind == X25519 && all_zero(out, n)) { /* RFC 8031 2.1 */
        rc = IKE_DH_BAD_PEER;
        goto done;
    }
    if (out_len)
        *out_len = n;
    rc = 0;
done:
    if (rc)
        OPENSSL_cleanse(out, cap);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return rc;
}
