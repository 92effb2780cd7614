/*
 * Revocation: the RFC 5280 reason names and the tenant's CRL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "auth/x509_priv.h"

static const char *const reason_names[] = {
    [X509_REASON_UNSPECIFIED] = "unspecified",
    [X509_REASON_KEY_COMPROMISE] = "keyCompromise",
    [X509_REASON_CA_COMPROMISE] = "cACompromise",
    [X509_REASON_AFFILIATION_CHANGED] = "affiliationChanged",
    [X509_REASON_SUPERSEDED] = "superseded",
    [X509_REASON_CESSATION_OF_OPERATION] = "cessationOfOperation",
    [X509_REASON_CERTIFICATE_HOLD] = "certificateHold",
    [X509_REASON_REMOVE_FROM_CRL] = "removeFromCRL",
    [X509_REASON_PRIVILEGE_WITHDRAWN] = "privilegeWithdrawn",
    [X509_REASON_AA_COMPROMISE] = "aACompromise",
};
#define N_REASONS (sizeof(reason_names) / sizeof(reason_names[0]))

bool x509_reason_parse(const char *name, enum x509_reason *out)
{
    for (size_t i = 0; name && i < N_REASONS; i++) {
        if (reason_names[i] && !strcmp(name, reason_names[i])) {
            *out = (enum x509_reason)i;
            return true;
        }
    }
    return false;
}

const char *x509_reason_name(enum x509_reason r)
{
    if ((unsigned)r < N_REASONS && reason_names[r])
        return reason_names[r];
    return "unknown";
}

/* 1..40 hex digits (a serial of at most 20 octets). */
static bool hex_ok(const char *hex)
{
    size_t n = hex ? strlen(hex) : 0;
    if (!n || n > 40)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = hex[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

static ASN1_INTEGER *serial_from_hex(const char *hex)
{
    if (!hex_ok(hex))
        return NULL;
    BIGNUM *bn = NULL;
    if (!BN_hex2bn(&bn, hex))
        return NULL;
    ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    return ai;
}

static int add_entry(X509_CRL *crl, const struct x509_revoked *r)
{
    int rc = -1;
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_INTEGER *serial = serial_from_hex(r->serial);
    ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)r->revoked_at);
    ASN1_ENUMERATED *code = NULL;
    if (!rev || !serial || !when || !X509_REVOKED_set_serialNumber(rev, serial) ||
        !X509_REVOKED_set_revocationDate(rev, when))
        goto done;
    /* RFC 5280 5.3.1: no reasonCode extension for "unspecified". */
    if (r->reason != X509_REASON_UNSPECIFIED) {
        code = ASN1_ENUMERATED_new();
        if (!code || !ASN1_ENUMERATED_set(code, (long)r->reason) ||
            !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0))
            goto done;
    }
    if (!X509_CRL_add0_revoked(crl, rev))
        goto done;
    rev = NULL;
    rc = 0;
done:
    X509_REVOKED_free(rev);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    ASN1_ENUMERATED_free(code);
    return rc;
}

X509_CRL *x509_crl_make(const struct x509_ca *ca, const struct x509_revoked *list, size_t n,
                        uint64_t crl_number, int64_t now, int64_t next_update, char *err,
                        size_t errlen)
{
    X509_CRL *crl = NULL;
    ASN1_TIME *t1 = NULL, *t2 = NULL;
    ASN1_INTEGER *num = NULL;
    X509_EXTENSION *aki = NULL;
    if (!ca || !ca->cert || !ca->key) {
        x509_fail(err, errlen, "ca: the tenant has no CA");
        goto done;
    }
    if (next_update <= now) {
        x509_fail(err, errlen, "next_update: must be after now");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (!list[i].serial || !hex_ok(list[i].serial)) {
            x509_fail(err, errlen, "revoked %zu: serial \"%.48s\" is not 1-40 hex digits", i,
                      list[i].serial ? list[i].serial : "");
            goto done;
        }
        if ((unsigned)list[i].reason >= N_REASONS || !reason_names[list[i].reason]) {
            x509_fail(err, errlen, "revoked %zu: unknown reason %d", i, (int)list[i].reason);
            goto done;
        }
    }
    crl = X509_CRL_new();
    t1 = ASN1_TIME_set(NULL, (time_t)now);
    t2 = ASN1_TIME_set(NULL, (time_t)next_update);
    num = ASN1_INTEGER_new();
    if (!crl || !t1 || !t2 || !num || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
        !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) ||
        !X509_CRL_set1_lastUpdate(crl, t1) || !X509_CRL_set1_nextUpdate(crl, t2) ||
        !ASN1_INTEGER_set_uint64(num, crl_number) ||
        !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
        goto fail;
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, crl, 0);
    aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
    if (!aki || !X509_CRL_add_ext(crl, aki, -1))
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (add_entry(crl, &list[i]) < 0)
            goto fail;
    if (!X509_CRL_sort(crl) || !X509_CRL_sign(crl, ca->key, x509_sign_md(ca->key)))
        goto fail;
    goto done;
fail:
    x509_fail(err, errlen, "crl: cannot build or sign it");
    X509_CRL_free(crl);
    crl = NULL;
done:
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    ERR_clear_error();
    return crl;
}

int x509_crl_build(const struct x509_ca *ca, const struct x509_revoked *list, size_t n,
                   uint64_t crl_number, int64_t now, int64_t next_update, struct x509_buf *pem,
                   struct x509_buf *der, char *err, size_t errlen)
{
    int rc = -1;
    BIO *bio = NULL;
    unsigned char *d = NULL;
    if (pem)
        memset(pem, 0, sizeof(*pem));
    if (der)
        memset(der, 0, sizeof(*der));
    X509_CRL *crl = x509_crl_make(ca, list, n, crl_number, now, next_update, err, errlen);
    if (!crl)
        return -1;
    if (pem) {
        bio = BIO_new(BIO_s_mem());
        if (!bio || !PEM_write_bio_X509_CRL(bio, crl) || x509_bio_to_buf(bio, pem) < 0)
            goto fail;
    }
    if (der) {
        int len = i2d_X509_CRL(crl, &d);
        if (len <= 0 || !(der->data = malloc((size_t)len)))
            goto fail;
        memcpy(der->data, d, (size_t)len);
        der->len = (size_t)len;
    }
    rc = 0;
    goto done;
fail:
    x509_fail(err, errlen, "crl: cannot encode it");
    x509_buf_free(pem);
    x509_buf_free(der);
done:
    OPENSSL_free(d);
    BIO_free(bio);
    X509_CRL_free(crl);
    ERR_clear_error();
    return rc;
}
