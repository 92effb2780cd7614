/*
 * Verifying a client's certificate at IKE_AUTH: the tenant CA as the only
 * trust anchor, the tenant CRL, validity at "now" and the extended key usage.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "auth/x509_priv.h"

#define MAX_CHAIN 8

static const char *const verdict_names[] = {
    [X509_VERDICT_OK] = "ok",
    [X509_VERDICT_MALFORMED] = "malformed",
    [X509_VERDICT_UNTRUSTED] = "untrusted",
    [X509_VERDICT_EXPIRED] = "expired",
    [X509_VERDICT_NOT_YET_VALID] = "not-yet-valid",
    [X509_VERDICT_REVOKED] = "revoked",
    [X509_VERDICT_CRL_PROBLEM] = "crl-problem",
    [X509_VERDICT_WRONG_USAGE] = "wrong-usage",
    [X509_VERDICT_INVALID] = "invalid",
};

const char *x509_verdict_name(enum x509_verdict v)
{
    if ((unsigned)v < sizeof(verdict_names) / sizeof(verdict_names[0]))
        return verdict_names[v];
    return "unknown";
}

static void say(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *out, size_t outlen, const char *fmt, ...)
{
    if (!out || !outlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
}

static void utc(int64_t t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, outlen, "?");
}

/* True if the EKU extension is absent or allows an IKE client. */
static bool eku_allows_client(X509 *leaf)
{
    int crit = 0;
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(leaf, NID_ext_key_usage, &crit, NULL);
    if (!eku) {
        ERR_clear_error();
        return crit == -1; /* -1: absent; -2: present more than once; >= 0: unparsable */
    }
    bool ok = false;
    ASN1_OBJECT *ike_im = OBJ_txt2obj("1.3.6.1.5.5.8.2.2", 1);
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku) && !ok; i++) {
        const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
        int nid = OBJ_obj2nid(o);
        ok = nid == NID_client_auth || nid == NID_anyExtendedKeyUsage || nid == NID_ipsec_IKE ||
             (ike_im && !OBJ_cmp(o, ike_im));
    }
    ASN1_OBJECT_free(ike_im);
    EXTENDED_KEY_USAGE_free(eku);
    return ok;
}

static enum x509_verdict revoked(X509 *leaf, X509_CRL *crl, char *reason, size_t reasonlen)
{
    X509_REVOKED *rev = NULL;
    long code = -1;
    if (crl && X509_CRL_get0_by_cert(crl, &rev, leaf) && rev) {
        ASN1_ENUMERATED *e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
        if (e)
            code = ASN1_ENUMERATED_get(e);
        ASN1_ENUMERATED_free(e);
    }
    if (code >= 0)
        say(reason, reasonlen, "revoked (%s)", x509_reason_name((enum x509_reason)code));
    else
        say(reason, reasonlen, "revoked");
    return X509_VERDICT_REVOKED;
}

/* Maps the error OpenSSL's verification stopped at to a verdict. */
static enum x509_verdict classify(X509_STORE_CTX *ctx, X509 *leaf, X509_CRL *crl, char *reason,
                                  size_t reasonlen)
{
    int e = X509_STORE_CTX_get_error(ctx);
    int depth = X509_STORE_CTX_get_error_depth(ctx);
    X509 *at = X509_STORE_CTX_get_current_cert(ctx);
    char when[32];
    const char *whose = depth == 0 ? "certificate" : "issuing certificate";
    switch (e) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        utc(x509_asn1_time(X509_get0_notAfter(at ? at : leaf)), when, sizeof(when));
        if (depth == 0)
            say(reason, reasonlen, "expired (not after %s)", when);
        else
            say(reason, reasonlen, "issuing certificate expired (not after %s)", when);
        return X509_VERDICT_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        utc(x509_asn1_time(X509_get0_notBefore(at ? at : leaf)), when, sizeof(when));
        say(reason, reasonlen, "%s not yet valid (not before %s)", whose, when);
        return X509_VERDICT_NOT_YET_VALID;
    case X509_V_ERR_CERT_REVOKED:
        return revoked(leaf, crl, reason, reasonlen);
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    case X509_V_ERR_CERT_UNTRUSTED:
        say(reason, reasonlen, "not issued by the tenant CA (%s)",
            X509_verify_cert_error_string(e));
        return X509_VERDICT_UNTRUSTED;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
        say(reason, reasonlen, "revocation cannot be checked: %s",
            X509_verify_cert_error_string(e));
        return X509_VERDICT_CRL_PROBLEM;
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_INVALID_PURPOSE:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
        say(reason, reasonlen, "%s: %s", whose, X509_verify_cert_error_string(e));
        return X509_VERDICT_WRONG_USAGE;
    default:
        say(reason, reasonlen, "%s invalid: %s", whose, X509_verify_cert_error_string(e));
        return X509_VERDICT_INVALID;
    }
}

enum x509_verdict x509_verify_client(const uint8_t *der, size_t len, const struct x509_der *chain,
                                     size_t n_chain, X509 *ca, X509_CRL *crl, int64_t now,
                                     X509 **leaf_out, char *reason, size_t reasonlen)
{
    enum x509_verdict v = X509_VERDICT_INVALID;
    X509 *leaf = NULL;
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    if (leaf_out)
        *leaf_out = NULL;
    if (!ca) {
        say(reason, reasonlen, "the tenant has no CA");
        goto done;
    }
    leaf = x509_cert_from_der(der, len, NULL, 0);
    if (!leaf) {
        say(reason, reasonlen, "not a certificate (malformed DER)");
        v = X509_VERDICT_MALFORMED;
        goto done;
    }
    if (n_chain > MAX_CHAIN) {
        say(reason, reasonlen, "more than %d chain certificates", MAX_CHAIN);
        v = X509_VERDICT_MALFORMED;
        goto done;
    }
    untrusted = sk_X509_new_null();
    if (!untrusted)
        goto done;
    for (size_t i = 0; i < n_chain; i++) {
        X509 *c = x509_cert_from_der(chain[i].p, chain[i].len, NULL, 0);
        if (!c || !sk_X509_push(untrusted, c)) {
            X509_free(c);
            say(reason, reasonlen, "chain certificate %zu is not a certificate", i);
            v = X509_VERDICT_MALFORMED;
            goto done;
        }
    }
    if (X509_get_extension_flags(leaf) & EXFLAG_CA) {
        say(reason, reasonlen, "a CA certificate, not a client certificate");
        v = X509_VERDICT_WRONG_USAGE;
        goto done;
    }
    if (!eku_allows_client(leaf)) {
        say(reason, reasonlen, "not valid for client authentication (extended key usage)");
        v = X509_VERDICT_WRONG_USAGE;
        goto done;
    }
    store = X509_STORE_new();
    ctx = X509_STORE_CTX_new();
    if (!store || !ctx || !X509_STORE_add_cert(store, ca) ||
        (crl && !X509_STORE_add_crl(store, crl)) ||
        !X509_STORE_CTX_init(ctx, store, leaf, untrusted)) {
        say(reason, reasonlen, "internal error setting up verification");
        goto done;
    }
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, (time_t)now);
    if (crl)
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK);
    if (X509_verify_cert(ctx) == 1) {
        v = X509_VERDICT_OK;
        say(reason, reasonlen, "ok");
        if (leaf_out) {
            *leaf_out = leaf;
            leaf = NULL;
        }
    } else {
        v = classify(ctx, leaf, crl, reason, reasonlen);
    }
done:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_pop_free(untrusted, X509_free);
    X509_free(leaf);
    ERR_clear_error();
    return v;
}
