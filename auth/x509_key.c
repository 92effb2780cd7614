/*
 * Keys: generation, PEM in and out, sealing for the database, and the small
 * helpers every x509_*.c file shares.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/seal.h"
#include "auth/x509_priv.h"

#define SEAL_CONTEXT "x509-key"

void x509_buf_free(struct x509_buf *b)
{
    if (!b)
        return;
    if (b->data) {
        OPENSSL_cleanse(b->data, b->len);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
}

int x509_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    ERR_clear_error();
    return -1;
}

int x509_bio_to_buf(BIO *bio, struct x509_buf *out)
{
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    if (n < 0 || (n > 0 && !p))
        return -1;
    out->data = malloc((size_t)n + 1);
    if (!out->data)
        return -1;
    if (n)
        memcpy(out->data, p, (size_t)n);
    out->data[n] = 0;
    out->len = (size_t)n;
    return 0;
}

static const struct {
    enum x509_key_type type;
    const char *name;
    const char *alg; /* "EC" or "RSA" */
    const char *curve;
    unsigned bits;
} key_types[] = {
    {X509_KEY_EC_P256, "ecdsa-p256", "EC", "P-256", 256},
    {X509_KEY_EC_P384, "ecdsa-p384", "EC", "P-384", 384},
    {X509_KEY_EC_P521, "ecdsa-p521", "EC", "P-521", 521},
    {X509_KEY_RSA_2048, "rsa-2048", "RSA", NULL, 2048},
    {X509_KEY_RSA_3072, "rsa-3072", "RSA", NULL, 3072},
    {X509_KEY_RSA_4096, "rsa-4096", "RSA", NULL, 4096},
};
#define N_KEY_TYPES (sizeof(key_types) / sizeof(key_types[0]))

bool x509_key_type_parse(const char *s, enum x509_key_type *out)
{
    if (!s)
        return false;
    if (!strcmp(s, "ec") || !strcmp(s, "ecdsa")) {
        *out = X509_KEY_EC_P256;
        return true;
    }
    if (!strcmp(s, "rsa")) {
        *out = X509_KEY_RSA_3072;
        return true;
    }
    for (size_t i = 0; i < N_KEY_TYPES; i++) {
        if (!strcmp(s, key_types[i].name)) {
            *out = key_types[i].type;
            return true;
        }
    }
    return false;
}

const char *x509_key_type_name(enum x509_key_type t)
{
    for (size_t i = 0; i < N_KEY_TYPES; i++)
        if (key_types[i].type == t)
            return key_types[i].name;
    return "unknown";
}

EVP_PKEY *x509_key_generate(enum x509_key_type t)
{
    for (size_t i = 0; i < N_KEY_TYPES; i++) {
        if (key_types[i].type != t)
            continue;
        EVP_PKEY *k = key_types[i].curve
                          ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", key_types[i].curve)
                          : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)key_types[i].bits);
        ERR_clear_error();
        return k;
    }
    return NULL;
}

/* Refuses to prompt for or guess a passphrase. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

EVP_PKEY *x509_key_from_pem(const char *pem, size_t len, char *err, size_t errlen)
{
    EVP_PKEY *key = NULL;
    BIO *bio = NULL;
    if (!pem || !len || len > 1024 * 1024) {
        x509_fail(err, errlen, "private_key: empty or too large");
        goto done;
    }
    if (memmem(pem, len, "ENCRYPTED", 9)) {
        x509_fail(err, errlen,
                  "private_key: encrypted keys are not accepted; upload it unencrypted");
        goto done;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        goto done;
    key = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
    if (!key)
        x509_fail(err, errlen, "private_key: not a PEM private key (PKCS#8, RSA or EC)");
done:
    BIO_free(bio);
    ERR_clear_error();
    return key;
}

int x509_key_to_pem(EVP_PKEY *key, struct x509_buf *out)
{
    int rc = -1;
    BIO *bio = BIO_new(BIO_s_secmem());
    if (!bio || !key)
        goto done;
    if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
        goto done;
    rc = x509_bio_to_buf(bio, out);
done:
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

int x509_key_seal(const struct seal_key *sk, EVP_PKEY *key, struct x509_buf *out)
{
    int rc = -1;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    unsigned char *der = NULL;
    int derlen = 0;
    memset(out, 0, sizeof(*out));
    if (!sk || !key)
        goto done;
    p8 = EVP_PKEY2PKCS8(key);
    if (!p8)
        goto done;
    derlen = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    if (derlen <= 0)
        goto done;
    out->data = malloc((size_t)derlen + SEAL_OVERHEAD);
    if (!out->data)
        goto done;
    long n = seal(sk, SEAL_CONTEXT, der, (size_t)derlen, out->data, (size_t)derlen + SEAL_OVERHEAD);
    if (n < 0) {
        free(out->data);
        out->data = NULL;
        goto done;
    }
    out->len = (size_t)n;
    rc = 0;
done:
    if (der) {
        OPENSSL_cleanse(der, (size_t)derlen);
        OPENSSL_free(der);
    }
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    return rc;
}

EVP_PKEY *x509_key_unseal(const struct seal_key *sk, const uint8_t *blob, size_t len)
{
    EVP_PKEY *key = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    uint8_t *plain = NULL;
    long n = -1;
    if (!sk || !blob || len <= SEAL_OVERHEAD || len > 64 * 1024)
        goto done;
    plain = malloc(len - SEAL_OVERHEAD);
    if (!plain)
        goto done;
    n = seal_open(sk, SEAL_CONTEXT, blob, len, plain, len - SEAL_OVERHEAD);
    if (n <= 0)
        goto done;
    const unsigned char *p = plain;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, n);
    if (!p8 || p != plain + n)
        goto done;
    key = EVP_PKCS82PKEY(p8);
done:
    if (plain) {
        OPENSSL_cleanse(plain, len - SEAL_OVERHEAD);
        free(plain);
    }
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    return key;
}

/* "P-256" etc. for an EC key, NULL otherwise. */
static const char *ec_curve(EVP_PKEY *key)
{
    char group[64];
    size_t glen = 0;
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
        return NULL;
    if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        &glen)) {
        ERR_clear_error();
        return NULL;
    }
    if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"))
        return "P-256";
    if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384"))
        return "P-384";
    if (!strcmp(group, "secp521r1") || !strcmp(group, "P-521"))
        return "P-521";
    return NULL;
}

void x509_key_describe(EVP_PKEY *key, char *out, size_t outlen)
{
    if (!key) {
        snprintf(out, outlen, "none");
        return;
    }
    int id = EVP_PKEY_get_base_id(key);
    if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
        snprintf(out, outlen, "RSA %d", EVP_PKEY_get_bits(key));
    } else if (id == EVP_PKEY_EC) {
        const char *c = ec_curve(key);
        snprintf(out, outlen, "ECDSA %s", c ? c : "(other curve)");
    } else if (id == EVP_PKEY_ED25519) {
        snprintf(out, outlen, "Ed25519");
    } else {
        snprintf(out, outlen, "other (%d bits)", EVP_PKEY_get_bits(key));
    }
}

size_t x509_ec_field_len(EVP_PKEY *key)
{
    const char *c = ec_curve(key);
    if (!c)
        return 0;
    if (!strcmp(c, "P-256"))
        return 32;
    if (!strcmp(c, "P-384"))
        return 48;
    return 66;
}

const EVP_MD *x509_sign_md(EVP_PKEY *key)
{
    switch (x509_ec_field_len(key)) {
    case 48:
        return EVP_sha384();
    case 66:
        return EVP_sha512();
    default:
        return EVP_sha256();
    }
}
