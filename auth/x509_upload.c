/*
 * Checking an operator's uploaded server certificate, chain and key.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "auth/x509_priv.h"

static void utc(int64_t t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, outlen, "?");
}

static const char *cn_of(X509 *c, char *buf, size_t len)
{
    x509_name_text(X509_get_subject_name(c), buf, len);
    return buf;
}

/* RSA of 2048 bits or more, or ECDSA on P-256/384/521. */
static bool key_acceptable(EVP_PKEY *k)
{
    int id = EVP_PKEY_get_base_id(k);
    if (id == EVP_PKEY_RSA)
        return EVP_PKEY_get_bits(k) >= 2048;
    return id == EVP_PKEY_EC && x509_ec_field_len(k) != 0;
}

int x509_upload_check(const char *cert_pem, const char *chain_pem, const char *key_pem, int64_t now,
                      struct x509_facts *facts, char *err, size_t errlen)
{
    int rc = -1;
    X509 *cert = NULL;
    STACK_OF(X509) *chain = NULL;
    EVP_PKEY *key = NULL;
    char when[32], a[X509_TEXT_MAX], b[X509_TEXT_MAX], desc[32];
    memset(facts, 0, sizeof(*facts));

    cert = x509_cert_from_pem(cert_pem, cert_pem ? strlen(cert_pem) : 0, err, errlen);
    if (!cert)
        goto done;
    chain = x509_chain_from_pem(cert_pem, strlen(cert_pem), NULL, 0);
    if (chain && sk_X509_num(chain) > 1) {
        x509_fail(err, errlen,
                  "certificate: holds %d certificates; put only the server certificate here and "
                  "its issuers in chain",
                  sk_X509_num(chain));
        goto done;
    }
    sk_X509_pop_free(chain, X509_free);
    chain = x509_chain_from_pem(chain_pem, chain_pem ? strlen(chain_pem) : 0, err, errlen);
    if (!chain)
        goto done;
    key = x509_key_from_pem(key_pem, key_pem ? strlen(key_pem) : 0, err, errlen);
    if (!key)
        goto done;

    EVP_PKEY *pub = X509_get0_pubkey(cert);
    if (!pub) {
        x509_fail(err, errlen, "certificate: its public key cannot be read");
        goto done;
    }
    if (EVP_PKEY_eq(pub, key) != 1) {
        x509_fail(err, errlen, "private_key: does not match the certificate's public key");
        goto done;
    }
    if (!key_acceptable(key)) {
        x509_key_describe(key, desc, sizeof(desc));
        x509_fail(err, errlen,
                  "private_key: %s is not accepted (RSA of 2048 bits or more, or ECDSA "
                  "P-256/P-384/P-521)",
                  desc);
        goto done;
    }
    if (X509_get_extension_flags(cert) & EXFLAG_CA) {
        x509_fail(err, errlen, "certificate: is a CA certificate, not a server certificate");
        goto done;
    }
    int64_t nb = x509_asn1_time(X509_get0_notBefore(cert));
    int64_t na = x509_asn1_time(X509_get0_notAfter(cert));
    if (na <= now) {
        utc(na, when, sizeof(when));
        x509_fail(err, errlen, "certificate: expired on %s", when);
        goto done;
    }
    if (nb > now) {
        utc(nb, when, sizeof(when));
        x509_fail(err, errlen, "certificate: not valid before %s", when);
        goto done;
    }
    X509 *child = cert;
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *issuer = sk_X509_value(chain, i);
        EVP_PKEY *ipub = X509_get0_pubkey(issuer);
        if (X509_check_issued(issuer, child) != X509_V_OK || !ipub ||
            X509_verify(child, ipub) != 1) {
            x509_name_text(X509_get_issuer_name(child), b, sizeof(b));
            x509_fail(err, errlen,
                      "chain: certificate %d (%.200s) did not issue %s (whose issuer is %.200s)", i,
                      cn_of(issuer, a, sizeof(a)), i == 0 ? "the certificate" : "the one before",
                      b);
            goto done;
        }
        if (x509_asn1_time(X509_get0_notAfter(issuer)) <= now) {
            utc(x509_asn1_time(X509_get0_notAfter(issuer)), when, sizeof(when));
            x509_fail(err, errlen, "chain: certificate %d (%.200s) expired on %s", i,
                      cn_of(issuer, a, sizeof(a)), when);
            goto done;
        }
        child = issuer;
    }
    if (x509_cert_facts(cert, facts) < 0) {
        x509_fail(err, errlen, "certificate: cannot read its fields");
        goto done;
    }
    if (!facts->n_sans) {
        x509_facts_free(facts);
        x509_fail(err, errlen,
                  "certificate: has no subjectAltName (clients need the gateway's name there)");
        goto done;
    }
    rc = 0;
done:
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return rc;
}
