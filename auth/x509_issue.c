/*
 * Certificates the tenant CA issues: the gateway's server certificate and
 * users' client certificates.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "auth/x509_priv.h"

#define LEAF_DAYS 730 /* 2 years: under Apple's 825-day limit */
#define MAX_SANS  32

/* Extended key usage "IKE intermediate", which Windows and macOS look for
 * in IKEv2 certificates (next to serverAuth / clientAuth). */
#define OID_IKE_INTERMEDIATE "1.3.6.1.5.5.8.2.2"

/* A host name (LDH labels of 1..63, 253 in all), "*." allowed in front. */
static bool is_hostname(const char *s)
{
    size_t n = strlen(s);
    if (!strncmp(s, "*.", 2)) {
        s += 2;
        n -= 2;
    }
    if (!n || n > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '.' || c == 0) {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c == '-' && label > 0);
        if (!ok)
            return false;
        label++;
    }
    return true;
}

/* local@host with a printable ASCII local part without spaces. */
static bool is_rfc822(const char *s)
{
    const char *at = strrchr(s, '@');
    if (!at || at == s || at - s > 64 || !is_hostname(at + 1) || strncmp(at + 1, "*.", 2) == 0)
        return false;
    for (const char *p = s; p < at; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '@')
            return false;
    return true;
}

static int push_gen(GENERAL_NAMES *gens, int type, const void *data, size_t len)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    if (!g || !s || !ASN1_STRING_set(s, data, (int)len))
        goto fail;
    GENERAL_NAME_set0_value(g, type, s);
    s = NULL;
    if (!sk_GENERAL_NAME_push(gens, g))
        goto fail;
    return 0;
fail:
    ASN1_STRING_free(s);
    GENERAL_NAME_free(g);
    return -1;
}

/* Adds id to gens as the SAN kind it reads as; -1 with err if none. */
static int add_identity(GENERAL_NAMES *gens, const char *id, char *err, size_t errlen)
{
    unsigned char addr[16];
    if (inet_pton(AF_INET, id, addr) == 1)
        return push_gen(gens, GEN_IPADD, addr, 4);
    if (inet_pton(AF_INET6, id, addr) == 1)
        return push_gen(gens, GEN_IPADD, addr, 16);
    if (strchr(id, '@')) {
        if (!is_rfc822(id))
            return x509_fail(err, errlen, "identity \"%.80s\": not a valid user@domain", id);
        return push_gen(gens, GEN_EMAIL, id, strlen(id));
    }
    if (!is_hostname(id))
        return x509_fail(err, errlen,
                         "identity \"%.80s\": not a host name, IP address or user@domain", id);
    return push_gen(gens, GEN_DNS, id, strlen(id));
}

/* Builds, extends and signs a leaf certificate for subject O=tenant, CN=cn. */
static int issue_leaf(const struct x509_ca *ca, const char *tenant_id, const char *cn,
                      GENERAL_NAMES *gens, const char *eku, bool server, enum x509_key_type type,
                      int64_t now, unsigned days, struct x509_issued *out, char *err, size_t errlen)
{
    int rc = -1;
    X509_NAME *name = X509_NAME_new();
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    memset(out, 0, sizeof(*out));
    if (!ca || !ca->cert || !ca->key) {
        x509_fail(err, errlen, "ca: the tenant has no CA");
        goto done;
    }
    if (!tenant_id || !*tenant_id || !name || x509_name_add(name, "O", tenant_id) < 0) {
        x509_fail(err, errlen, "tenant: id is not usable in a certificate name");
        goto done;
    }
    if (x509_name_add(name, "CN", cn) < 0) {
        x509_fail(err, errlen, "%s: not valid UTF-8", server ? "identity" : "username");
        goto done;
    }
    key = x509_key_generate(type);
    if (!key) {
        x509_fail(err, errlen, "key: cannot generate a %s key", x509_key_type_name(type));
        goto done;
    }
    bool rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
    const char *ku =
        rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature";
    cert = x509_new_cert(name, key, ca->cert, now, days ? days : LEAF_DAYS);
    if (!cert || x509_add_ext(cert, ca->cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        x509_add_ext(cert, ca->cert, NID_key_usage, ku) < 0 ||
        x509_add_ext(cert, ca->cert, NID_ext_key_usage, eku) < 0 ||
        x509_add_ext(cert, ca->cert, NID_subject_key_identifier, "hash") < 0 ||
        x509_add_ext(cert, ca->cert, NID_authority_key_identifier, "keyid:always") < 0 ||
        (sk_GENERAL_NAME_num(gens) > 0 &&
         !X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT))) {
        x509_fail(err, errlen, "certificate: cannot build it");
        goto done;
    }
    rc = x509_finish_issued(cert, key, ca->key, out);
    cert = NULL;
    key = NULL;
    if (rc < 0)
        x509_fail(err, errlen, "certificate: cannot sign it with the CA key");
done:
    X509_NAME_free(name);
    X509_free(cert);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return rc;
}

int x509_issue_server(const struct x509_ca *ca, const char *tenant_id, const char *const *ids,
                      size_t n_ids, enum x509_key_type type, int64_t now, unsigned days,
                      struct x509_issued *out, char *err, size_t errlen)
{
    int rc = -1;
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    memset(out, 0, sizeof(*out));
    if (!gens)
        goto done;
    if (!ids || !n_ids) {
        x509_fail(err, errlen, "identities: at least one gateway identity is needed");
        goto done;
    }
    if (n_ids > MAX_SANS) {
        x509_fail(err, errlen, "identities: more than %d", MAX_SANS);
        goto done;
    }
    for (size_t i = 0; i < n_ids; i++) {
        if (!ids[i] || !*ids[i]) {
            x509_fail(err, errlen, "identity %zu: empty", i);
            goto done;
        }
        if (add_identity(gens, ids[i], err, errlen) < 0)
            goto done;
    }
    rc = issue_leaf(ca, tenant_id, ids[0], gens, "serverAuth," OID_IKE_INTERMEDIATE, true, type,
                    now, days, out, err, errlen);
done:
    GENERAL_NAMES_free(gens);
    return rc;
}

int x509_issue_client(const struct x509_ca *ca, const char *tenant_id,
                      const struct x509_client_req *req, int64_t now, struct x509_issued *out,
                      char *err, size_t errlen)
{
    int rc = -1;
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    char id[320];
    memset(out, 0, sizeof(*out));
    if (!gens)
        goto done;
    if (!req || !req->username || !*req->username) {
        x509_fail(err, errlen, "username: required");
        goto done;
    }
    id[0] = 0;
    if (strchr(req->username, '@'))
        snprintf(id, sizeof(id), "%s", req->username);
    else if (req->realm && *req->realm)
        snprintf(id, sizeof(id), "%s@%s", req->username, req->realm);
    if (id[0]) {
        if (strlen(id) > 254 || !is_rfc822(id)) {
            x509_fail(err, errlen, "username: \"%.80s\" is not usable as user@realm", id);
            goto done;
        }
        if (push_gen(gens, GEN_EMAIL, id, strlen(id)) < 0)
            goto done;
    }
    if (req->email && *req->email && strcasecmp(req->email, id) != 0) {
        if (strlen(req->email) > 254 || !is_rfc822(req->email)) {
            x509_fail(err, errlen, "email: \"%.80s\" is not a valid address", req->email);
            goto done;
        }
        if (push_gen(gens, GEN_EMAIL, req->email, strlen(req->email)) < 0)
            goto done;
    }
    rc = issue_leaf(ca, tenant_id, req->username, gens, "clientAuth," OID_IKE_INTERMEDIATE, false,
                    req->type, now, req->days, out, err, errlen);
done:
    GENERAL_NAMES_free(gens);
    return rc;
}
