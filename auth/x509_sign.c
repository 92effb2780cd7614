/*
 * IKE_AUTH signatures: RFC 7427 digital signatures (method 14) and the
 * classic methods, RSA with SHA-1 (1) and ECDSA with raw r||s (9, 10, 11;
 * RFC 4754).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "auth/x509_priv.h"
#include "concentrator/wire.h"

enum alg_kind { ALG_RSA, ALG_PSS, ALG_EC };

/* AlgorithmIdentifiers as RFC 7427 Appendix A encodes them. */
#define OID_RSA_PKCS1(n) 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, (n)
#define OID_ECDSA(n)     0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, (n)
#define OID_SHA2(n)      0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, (n)
#define PSS(n, salt)                                                                               \
    {                                                                                              \
        0x30, 0x41, OID_RSA_PKCS1(0x0a), 0x30, 0x34, 0xa0, 0x0f, 0x30, 0x0d, OID_SHA2(n), 0x05,    \
            0x00, 0xa1, 0x1c, 0x30, 0x1a, OID_RSA_PKCS1(0x08), 0x30, 0x0d, OID_SHA2(n), 0x05,      \
            0x00, 0xa2, 0x03, 0x02, 0x01, (salt)                                                   \
    }

static const uint8_t rsa256[] = {0x30, 0x0d, OID_RSA_PKCS1(0x0b), 0x05, 0x00};
static const uint8_t rsa384[] = {0x30, 0x0d, OID_RSA_PKCS1(0x0c), 0x05, 0x00};
static const uint8_t rsa512[] = {0x30, 0x0d, OID_RSA_PKCS1(0x0d), 0x05, 0x00};
/* The same without the NULL parameters, as some peers send them. */
static const uint8_t rsa256n[] = {0x30, 0x0b, OID_RSA_PKCS1(0x0b)};
static const uint8_t rsa384n[] = {0x30, 0x0b, OID_RSA_PKCS1(0x0c)};
static const uint8_t rsa512n[] = {0x30, 0x0b, OID_RSA_PKCS1(0x0d)};
static const uint8_t ec256[] = {0x30, 0x0a, OID_ECDSA(0x02)};
static const uint8_t ec384[] = {0x30, 0x0a, OID_ECDSA(0x03)};
static const uint8_t ec512[] = {0x30, 0x0a, OID_ECDSA(0x04)};
static const uint8_t pss256[] = PSS(0x01, 32);
static const uint8_t pss384[] = PSS(0x02, 48);
static const uint8_t pss512[] = PSS(0x03, 64);

static const struct algid {
    enum alg_kind kind;
    enum x509_hash hash;
    const uint8_t *der;
    size_t len;
    bool canonical; /* the one we send */
} algids[] = {
    {ALG_RSA, X509_HASH_SHA256, rsa256, sizeof(rsa256), true},
    {ALG_RSA, X509_HASH_SHA384, rsa384, sizeof(rsa384), true},
    {ALG_RSA, X509_HASH_SHA512, rsa512, sizeof(rsa512), true},
    {ALG_RSA, X509_HASH_SHA256, rsa256n, sizeof(rsa256n), false},
    {ALG_RSA, X509_HASH_SHA384, rsa384n, sizeof(rsa384n), false},
    {ALG_RSA, X509_HASH_SHA512, rsa512n, sizeof(rsa512n), false},
    {ALG_EC, X509_HASH_SHA256, ec256, sizeof(ec256), true},
    {ALG_EC, X509_HASH_SHA384, ec384, sizeof(ec384), true},
    {ALG_EC, X509_HASH_SHA512, ec512, sizeof(ec512), true},
    {ALG_PSS, X509_HASH_SHA256, pss256, sizeof(pss256), false},
    {ALG_PSS, X509_HASH_SHA384, pss384, sizeof(pss384), false},
    {ALG_PSS, X509_HASH_SHA512, pss512, sizeof(pss512), false},
};
#define N_ALGIDS (sizeof(algids) / sizeof(algids[0]))

static const EVP_MD *hash_md(enum x509_hash h)
{
    switch (h) {
    case X509_HASH_SHA1:
        return EVP_sha1();
    case X509_HASH_SHA256:
        return EVP_sha256();
    case X509_HASH_SHA384:
        return EVP_sha384();
    case X509_HASH_SHA512:
        return EVP_sha512();
    }
    return NULL;
}

static bool is_rsa(EVP_PKEY *k)
{
    return EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA;
}

static bool is_ec(EVP_PKEY *k)
{
    return EVP_PKEY_get_base_id(k) == EVP_PKEY_EC;
}

int x509_sig_algid(bool rsa, enum x509_hash hash, const uint8_t **der, size_t *len)
{
    for (size_t i = 0; i < N_ALGIDS; i++) {
        const struct algid *a = &algids[i];
        if (a->canonical && a->hash == hash && a->kind == (rsa ? ALG_RSA : ALG_EC)) {
            *der = a->der;
            *len = a->len;
            return 0;
        }
    }
    return -1;
}

int x509_pick_method(EVP_PKEY *key, unsigned peer_hashes, enum x509_auth_method *method,
                     enum x509_hash *hash)
{
    size_t flen = x509_ec_field_len(key);
    if (!key || (!is_rsa(key) && !flen))
        return -1;
    enum x509_hash pref[3];
    if (flen == 32) {
        pref[0] = X509_HASH_SHA256, pref[1] = X509_HASH_SHA384, pref[2] = X509_HASH_SHA512;
    } else if (flen == 48) {
        pref[0] = X509_HASH_SHA384, pref[1] = X509_HASH_SHA512, pref[2] = X509_HASH_SHA256;
    } else {
        pref[0] = X509_HASH_SHA512, pref[1] = X509_HASH_SHA384, pref[2] = X509_HASH_SHA256;
    }
    for (size_t i = 0; i < 3; i++) {
        if (peer_hashes & (1u << pref[i])) {
            *method = X509_AUTH_DIGITAL_SIG;
            *hash = pref[i];
            return 0;
        }
    }
    *method = flen == 32   ? X509_AUTH_ECDSA_256
              : flen == 48 ? X509_AUTH_ECDSA_384
              : flen == 66 ? X509_AUTH_ECDSA_521
                           : X509_AUTH_RSA_SIG;
    *hash = flen == 32   ? X509_HASH_SHA256
            : flen == 48 ? X509_HASH_SHA384
            : flen == 66 ? X509_HASH_SHA512
                         : X509_HASH_SHA1;
    return 0;
}

/* The classic ECDSA methods: curve field size and hash. */
static bool ecdsa_method(enum x509_auth_method m, size_t *flen, const EVP_MD **md)
{
    switch (m) {
    case X509_AUTH_ECDSA_256:
        *flen = 32, *md = EVP_sha256();
        return true;
    case X509_AUTH_ECDSA_384:
        *flen = 48, *md = EVP_sha384();
        return true;
    case X509_AUTH_ECDSA_521:
        *flen = 66, *md = EVP_sha512();
        return true;
    default:
        return false;
    }
}

/* Signs with md (PKCS#1 v1.5 for RSA, DER for ECDSA) into a new buffer. */
static int digest_sign(EVP_PKEY *key, const EVP_MD *md, const uint8_t *data, size_t len,
                       uint8_t **sig, size_t *siglen)
{
    int rc = -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    *sig = NULL;
    if (!ctx || EVP_DigestSignInit(ctx, NULL, md, NULL, key) != 1 ||
        EVP_DigestSign(ctx, NULL, siglen, data, len) != 1)
        goto done;
    *sig = malloc(*siglen);
    if (!*sig || EVP_DigestSign(ctx, *sig, siglen, data, len) != 1)
        goto done;
    rc = 0;
done:
    if (rc < 0) {
        free(*sig);
        *sig = NULL;
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

static bool digest_verify(EVP_PKEY *pub, const EVP_MD *md, bool pss, const uint8_t *sig,
                          size_t siglen, const uint8_t *data, size_t len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = false;
    if (!ctx || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pub) != 1)
        goto done;
    if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) <= 0 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, EVP_MD_get_size(md)) <= 0))
        goto done;
    ok = EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
done:
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* DER ECDSA-Sig-Value -> r||s, each flen bytes. */
static int der_to_raw(const uint8_t *der, size_t derlen, size_t flen, uint8_t *raw)
{
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    int rc = -1;
    if (s) {
        const BIGNUM *r = NULL, *ss = NULL;
        ECDSA_SIG_get0(s, &r, &ss);
        if (BN_bn2binpad(r, raw, (int)flen) == (int)flen &&
            BN_bn2binpad(ss, raw + flen, (int)flen) == (int)flen)
            rc = 0;
    }
    ECDSA_SIG_free(s);
    ERR_clear_error();
    return rc;
}

/* r||s (2 * flen bytes, untrusted) -> DER in a new buffer. */
static int raw_to_der(const uint8_t *raw, size_t flen, uint8_t **der, size_t *derlen)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)flen, NULL);
    BIGNUM *ss = BN_bin2bn(raw + flen, (int)flen, NULL);
    unsigned char *d = NULL;
    int n = -1, rc = -1;
    *der = NULL;
    if (!s || !r || !ss || !ECDSA_SIG_set0(s, r, ss))
        goto done;
    r = ss = NULL;
    n = i2d_ECDSA_SIG(s, &d);
    if (n <= 0 || !(*der = malloc((size_t)n)))
        goto done;
    memcpy(*der, d, (size_t)n);
    *derlen = (size_t)n;
    rc = 0;
done:
    OPENSSL_free(d);
    BN_free(r);
    BN_free(ss);
    ECDSA_SIG_free(s);
    ERR_clear_error();
    return rc;
}

int x509_sign(EVP_PKEY *key, enum x509_auth_method method, enum x509_hash hash, const uint8_t *data,
              size_t len, struct x509_buf *out, char *err, size_t errlen)
{
    int rc = -1;
    uint8_t *sig = NULL;
    size_t siglen = 0, flen = 0;
    const EVP_MD *md = NULL;
    memset(out, 0, sizeof(*out));
    if (!key || !data) {
        x509_fail(err, errlen, "sign: no key or data");
        goto done;
    }
    if (method == X509_AUTH_DIGITAL_SIG) {
        const uint8_t *alg = NULL;
        size_t alglen = 0;
        if ((!is_rsa(key) && !is_ec(key)) || x509_sig_algid(is_rsa(key), hash, &alg, &alglen) < 0) {
            x509_fail(err, errlen, "sign: hash %d is not offered with this key", (int)hash);
            goto done;
        }
        if (digest_sign(key, hash_md(hash), data, len, &sig, &siglen) < 0)
            goto fail;
        out->data = malloc(1 + alglen + siglen);
        if (!out->data)
            goto fail;
        struct wr w = wr_init(out->data, 1 + alglen + siglen);
        wr_u8(&w, (uint8_t)alglen);
        wr_bytes(&w, alg, alglen);
        wr_bytes(&w, sig, siglen);
        out->len = w.len;
        rc = wr_ok(&w) ? 0 : -1;
    } else if (method == X509_AUTH_RSA_SIG) {
        if (!is_rsa(key)) {
            x509_fail(err, errlen, "sign: method 1 needs an RSA key");
            goto done;
        }
        if (digest_sign(key, EVP_sha1(), data, len, &sig, &siglen) < 0)
            goto fail;
        out->data = sig;
        out->len = siglen;
        sig = NULL;
        rc = 0;
    } else if (ecdsa_method(method, &flen, &md)) {
        if (x509_ec_field_len(key) != flen) {
            x509_fail(err, errlen, "sign: method %d needs an ECDSA key on its curve", (int)method);
            goto done;
        }
        if (digest_sign(key, md, data, len, &sig, &siglen) < 0)
            goto fail;
        out->data = malloc(2 * flen);
        if (!out->data || der_to_raw(sig, siglen, flen, out->data) < 0)
            goto fail;
        out->len = 2 * flen;
        rc = 0;
    } else {
        x509_fail(err, errlen, "sign: authentication method %d is not a signature method",
                  (int)method);
        goto done;
    }
    if (rc == 0)
        goto done;
fail:
    x509_buf_free(out);
    rc = x509_fail(err, errlen, "sign: signing failed");
done:
    free(sig);
    return rc;
}

bool x509_verify_sig_key(EVP_PKEY *pub, enum x509_auth_method method, const uint8_t *auth,
                         size_t auth_len, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    bool ok = false;
    uint8_t *der = NULL;
    size_t derlen = 0, flen = 0;
    const EVP_MD *md = NULL;
    if (!pub || !auth || !data || !auth_len) {
        x509_fail(err, errlen, "auth: empty");
        return false;
    }
    if (method == X509_AUTH_DIGITAL_SIG) {
        struct rd r = rd_init(auth, auth_len);
        uint8_t alglen = rd_u8(&r);
        const uint8_t *alg = rd_bytes(&r, alglen);
        size_t siglen = 0;
        const uint8_t *sig = rd_rest(&r, &siglen);
        if (!rd_ok(&r) || !alg || !sig || !siglen) {
            x509_fail(err, errlen, "auth: truncated signature data");
            goto done;
        }
        const struct algid *a = NULL;
        for (size_t i = 0; i < N_ALGIDS && !a; i++)
            if (algids[i].len == alglen && !memcmp(algids[i].der, alg, alglen))
                a = &algids[i];
        if (!a) {
            x509_fail(err, errlen, "auth: unsupported signature algorithm");
            goto done;
        }
        if ((a->kind == ALG_EC) != is_ec(pub) || (a->kind != ALG_EC && !is_rsa(pub))) {
            x509_fail(err, errlen, "auth: signature algorithm does not fit the key");
            goto done;
        }
        ok = digest_verify(pub, hash_md(a->hash), a->kind == ALG_PSS, sig, siglen, data, len);
    } else if (method == X509_AUTH_RSA_SIG) {
        if (!is_rsa(pub)) {
            x509_fail(err, errlen, "auth: method 1 with a non-RSA key");
            goto done;
        }
        ok = digest_verify(pub, EVP_sha1(), false, auth, auth_len, data, len);
    } else if (ecdsa_method(method, &flen, &md)) {
        if (x509_ec_field_len(pub) != flen) {
            x509_fail(err, errlen, "auth: method %d with a key on another curve", (int)method);
            goto done;
        }
        if (auth_len != 2 * flen) {
            x509_fail(err, errlen, "auth: ECDSA signature of %zu bytes, expected %zu", auth_len,
                      2 * flen);
            goto done;
        }
        if (raw_to_der(auth, flen, &der, &derlen) < 0)
            goto done;
        ok = digest_verify(pub, md, false, der, derlen, data, len);
    } else {
        x509_fail(err, errlen, "auth: method %d is not a signature method", (int)method);
        goto done;
    }
    if (!ok)
        x509_fail(err, errlen, "auth: signature does not verify");
done:
    free(der);
    return ok;
}

bool x509_verify_sig(X509 *cert, enum x509_auth_method method, const uint8_t *auth, size_t auth_len,
                     const uint8_t *data, size_t len, char *err, size_t errlen)
{
    if (!cert) {
        x509_fail(err, errlen, "auth: no certificate");
        return false;
    }
    return x509_verify_sig_key(X509_get0_pubkey(cert), method, auth, auth_len, data, len, err,
                               errlen);
}
