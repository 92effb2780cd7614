/*
 * The tenant CA: creating it, loading it from the database, and the
 * certificate-building helpers the issuing code shares.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "auth/x509_priv.h"

#define UB_NAME_CHARS 64   /* RFC 5280 ub-common-name and ub-organization-name */
#define BACKDATE      300  /* seconds: clients whose clock is a bit behind */
#define CA_DAYS       3652 /* 10 years */

int x509_name_add(X509_NAME *name, const char *field, const char *value)
{
    char cut[UB_NAME_CHARS * 4 + 1];
    size_t chars = 0, i = 0;
    const unsigned char *v = (const unsigned char *)value;
    while (v[i] && chars < UB_NAME_CHARS) {
        size_t n = v[i] < 0x80 ? 1 : (v[i] & 0xe0) == 0xc0 ? 2 : (v[i] & 0xf0) == 0xe0 ? 3 : 4;
        for (size_t k = 1; k < n; k++)
            if (!v[i + k])
                return -1;
        i += n;
        chars++;
    }
    memcpy(cut, value, i);
    cut[i] = 0;
    if (!i)
        return -1;
    int ok = X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (const unsigned char *)cut, -1,
                                        -1, 0);
    ERR_clear_error();
    return ok ? 0 : -1;
}

static int set_random_serial(X509 *cert)
{
    unsigned char r[16];
    int rc = -1;
    BIGNUM *bn = NULL;
    ASN1_INTEGER *ai = NULL;
    for (int tries = 0; tries < 4 && rc < 0; tries++) {
        if (RAND_bytes(r, sizeof(r)) != 1)
            break;
        BN_free(bn);
        bn = BN_bin2bn(r, sizeof(r), NULL);
        if (!bn || BN_is_zero(bn))
            continue;
        ai = BN_to_ASN1_INTEGER(bn, NULL);
        if (ai && X509_set_serialNumber(cert, ai))
            rc = 0;
        ASN1_INTEGER_free(ai);
        ai = NULL;
    }
    BN_free(bn);
    return rc;
}

X509 *x509_new_cert(X509_NAME *subject, EVP_PKEY *key, X509 *issuer, int64_t now, unsigned days)
{
    X509 *cert = X509_new();
    if (!cert)
        return NULL;
    if (!X509_set_version(cert, X509_VERSION_3) || set_random_serial(cert) < 0 ||
        !X509_set_subject_name(cert, subject) ||
        !X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : subject) ||
        !X509_set_pubkey(cert, key) ||
        !ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)(now - BACKDATE)) ||
        !ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)(now + (int64_t)days * 86400))) {
        X509_free(cert);
        ERR_clear_error();
        return NULL;
    }
    return cert;
}

int x509_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    ERR_clear_error();
    return ok ? 0 : -1;
}

void x509_issued_free(struct x509_issued *is)
{
    if (!is)
        return;
    X509_free(is->cert);
    EVP_PKEY_free(is->key);
    x509_buf_free(&is->cert_pem);
    x509_buf_free(&is->key_pem);
    x509_facts_free(&is->facts);
    memset(is, 0, sizeof(*is));
}

int x509_finish_issued(X509 *cert, EVP_PKEY *key, EVP_PKEY *issuer_key, struct x509_issued *out)
{
    memset(out, 0, sizeof(*out));
    out->cert = cert;
    out->key = key;
    if (!X509_sign(cert, issuer_key, x509_sign_md(issuer_key)) ||
        x509_cert_to_pem(cert, &out->cert_pem) < 0 || x509_key_to_pem(key, &out->key_pem) < 0 ||
        x509_cert_facts(cert, &out->facts) < 0) {
        x509_issued_free(out);
        ERR_clear_error();
        return -1;
    }
    return 0;
}

int x509_ca_create(const char *tenant_id, const char *tenant_name, enum x509_key_type type,
                   int64_t now, struct x509_issued *out, char *err, size_t errlen)
{
    int rc = -1;
    X509_NAME *name = NULL;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    char cn[UB_NAME_CHARS * 4 + 16];
    memset(out, 0, sizeof(*out));
    if (!tenant_id || !*tenant_id || !tenant_name || !*tenant_name) {
        x509_fail(err, errlen, "tenant: id and name are required");
        goto done;
    }
    /* Keep " VPN CA" whole: cut the tenant name, not the suffix. */
    snprintf(cn, sizeof(cn), "%s", tenant_name);
    size_t chars = 0, i = 0;
    while (cn[i] && chars < UB_NAME_CHARS - 7) {
        i++;
        while (((unsigned char)cn[i] & 0xc0) == 0x80)
            i++;
        chars++;
    }
    snprintf(cn + i, sizeof(cn) - i, " VPN CA");
    name = X509_NAME_new();
    if (!name || x509_name_add(name, "O", tenant_id) < 0) {
        x509_fail(err, errlen, "tenant: id is not usable in a certificate name");
        goto done;
    }
    if (x509_name_add(name, "CN", cn) < 0) {
        x509_fail(err, errlen, "tenant: name is not valid UTF-8");
        goto done;
    }
    key = x509_key_generate(type);
    if (!key) {
        x509_fail(err, errlen, "key: cannot generate a %s key", x509_key_type_name(type));
        goto done;
    }
    cert = x509_new_cert(name, key, NULL, now, CA_DAYS);
    if (!cert || x509_add_ext(cert, NULL, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
        x509_add_ext(cert, NULL, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
        x509_add_ext(cert, NULL, NID_subject_key_identifier, "hash") < 0) {
        x509_fail(err, errlen, "certificate: cannot build the CA certificate");
        goto done;
    }
    EVP_PKEY *signer = key;
    rc = x509_finish_issued(cert, key, signer, out);
    cert = NULL;
    key = NULL;
    if (rc < 0)
        x509_fail(err, errlen, "certificate: cannot sign the CA certificate");
done:
    X509_NAME_free(name);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int x509_ca_load(struct x509_ca *ca, const char *cert_pem, const uint8_t *key_sealed,
                 size_t key_sealed_len, const struct seal_key *sk, char *err, size_t errlen)
{
    memset(ca, 0, sizeof(*ca));
    ca->cert = x509_cert_from_pem(cert_pem, cert_pem ? strlen(cert_pem) : 0, err, errlen);
    if (!ca->cert)
        goto fail;
    ca->key = x509_key_unseal(sk, key_sealed, key_sealed_len);
    if (!ca->key) {
        x509_fail(err, errlen, "private_key: cannot open the sealed CA key (wrong master key?)");
        goto fail;
    }
    if (EVP_PKEY_eq(X509_get0_pubkey(ca->cert), ca->key) != 1) {
        x509_fail(err, errlen, "private_key: does not match the CA certificate");
        goto fail;
    }
    return 0;
fail:
    x509_ca_free(ca);
    ERR_clear_error();
    return -1;
}

void x509_ca_free(struct x509_ca *ca)
{
    if (!ca)
        return;
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    ca->cert = NULL;
    ca->key = NULL;
}
