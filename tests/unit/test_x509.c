/* The tenant CA and what it issues, as operators and clients see it: a CA
 * with the right name and constraints, server and client certificates that
 * OpenSSL (in C and as the `openssl` command) accepts, PKCS#12 bundles that
 * open with the password, uploaded certificates checked with errors that
 * name the field, revocation that shows in the CRL and makes verification
 * fail, and garbage from peers rejected cleanly. */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "auth/seal.h"
#include "auth/x509.h"

#define DAY 86400

struct fx {
    int64_t now;
    struct x509_issued ca;  /* P-256 tenant CA "acme" */
    struct x509_issued ca2; /* another tenant's CA */
    struct x509_ca cax;     /* ca as struct x509_ca (borrowed pointers) */
    struct x509_ca cax2;
    struct x509_issued server;
    struct x509_issued alice, bob;
    char *dir;
    char err[X509_ERR_MAX];
};

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->now = (int64_t)time(NULL);
    char *err = f->err;
    size_t el = sizeof(f->err);
    if (x509_ca_create("acme", "Acme Corp", X509_KEY_EC_P256, f->now, &f->ca, err, el) ||
        x509_ca_create("globex", "Globex", X509_KEY_EC_P256, f->now, &f->ca2, err, el))
        return -1;
    f->cax = (struct x509_ca){f->ca.cert, f->ca.key};
    f->cax2 = (struct x509_ca){f->ca2.cert, f->ca2.key};
    const char *ids[] = {"vpn.acme.example", "198.51.100.1", "2001:db8::1", "gw@acme.example"};
    if (x509_issue_server(&f->cax, "acme", ids, 4, X509_KEY_EC_P256, f->now, 0, &f->server, err,
                          el))
        return -1;
    struct x509_client_req a = {.username = "alice",
                                .realm = "acme.example",
                                .email = "alice.smith@acme.example",
                                .type = X509_KEY_EC_P256};
    struct x509_client_req b = {.username = "bob", .realm = "acme.example"};
    if (x509_issue_client(&f->cax, "acme", &a, f->now, &f->alice, err, el) ||
        x509_issue_client(&f->cax, "acme", &b, f->now, &f->bob, err, el))
        return -1;
    f->dir = tu_tmpdir();
    *state = f;
    return f->dir ? 0 : -1;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    x509_issued_free(&f->ca);
    x509_issued_free(&f->ca2);
    x509_issued_free(&f->server);
    x509_issued_free(&f->alice);
    x509_issued_free(&f->bob);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static bool has_eku_oid(X509 *c, const char *oid)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(c, NID_ext_key_usage, NULL, NULL);
    ASN1_OBJECT *want = OBJ_txt2obj(oid, 1);
    bool found = false;
    for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++)
        if (!OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), want))
            found = true;
    ASN1_OBJECT_free(want);
    EXTENDED_KEY_USAGE_free(eku);
    return found;
}

static bool ext_critical(X509 *c, int nid)
{
    int i = X509_get_ext_by_NID(c, nid, -1);
    return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(c, i));
}

/* Verifies leaf against ca with OpenSSL's store and a purpose. */
static int c_verify(X509 *ca, X509 *leaf, int purpose)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_add_cert(st, ca);
    X509_STORE_CTX_init(ctx, st, leaf, NULL);
    X509_STORE_CTX_set_purpose(ctx, purpose);
    int ok = X509_verify_cert(ctx);
    int e = ok == 1 ? 0 : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return e;
}

static void test_ca_p256(void **state)
{
    struct fx *f = *state;
    const struct x509_facts *fa = &f->ca.facts;
    assert_string_equal(fa->subject, "CN=Acme Corp VPN CA,O=acme");
    assert_string_equal(fa->issuer, fa->subject);
    assert_true(fa->is_ca);
    assert_string_equal(fa->key_type, "ECDSA P-256");
    assert_int_equal(fa->not_before, f->now - 300);
    assert_int_equal(fa->not_after, f->now + 3652LL * DAY);
    /* 128 random bits: 32 hex digits unless the top byte happened to be 0. */
    assert_true(strlen(fa->serial) >= 30 && strlen(fa->serial) <= 34);
    assert_string_not_equal(fa->serial, f->ca2.facts.serial);
    assert_true(ext_critical(f->ca.cert, NID_basic_constraints));
    assert_true(ext_critical(f->ca.cert, NID_key_usage));
    assert_int_equal(X509_get_key_usage(f->ca.cert), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_int_equal(X509_verify(f->ca.cert, X509_get0_pubkey(f->ca.cert)), 1);
    assert_int_equal(X509_get_signature_nid(f->ca.cert), NID_ecdsa_with_SHA256);
    assert_int_equal(c_verify(f->ca.cert, f->ca.cert, X509_PURPOSE_ANY), 0);
    assert_non_null(strstr((char *)f->ca.key_pem.data, "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(fa->n_sans, 0);
}

static void test_ca_rsa3072_and_long_name(void **state)
{
    struct fx *f = *state;
    struct x509_issued ca;
    char name[200];
    memset(name, 'x', 150);
    name[150] = 0;
    assert_int_equal(
        x509_ca_create("t1", name, X509_KEY_RSA_3072, f->now, &ca, f->err, sizeof(f->err)), 0);
    assert_string_equal(ca.facts.key_type, "RSA 3072");
    assert_int_equal(X509_get_signature_nid(ca.cert), NID_sha256WithRSAEncryption);
    /* The CN keeps its " VPN CA" and fits RFC 5280's 64 characters. */
    X509_NAME_ENTRY *e = X509_NAME_get_entry(
        X509_get_subject_name(ca.cert),
        X509_NAME_get_index_by_NID(X509_get_subject_name(ca.cert), NID_commonName, -1));
    const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(e);
    assert_int_equal(ASN1_STRING_length(cn), 64);
    assert_memory_equal(ASN1_STRING_get0_data(cn) + 57, " VPN CA", 7);
    x509_issued_free(&ca);
    x509_issued_free(NULL);

    assert_int_equal(
        x509_ca_create("t1", "", X509_KEY_EC_P256, f->now, &ca, f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "tenant"));
    assert_int_equal(
        x509_ca_create("t1", "bad\xff", X509_KEY_EC_P256, f->now, &ca, f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "UTF-8"));
}

static void test_server_cert(void **state)
{
    struct fx *f = *state;
    const struct x509_facts *fa = &f->server.facts;
    assert_string_equal(fa->subject, "CN=vpn.acme.example,O=acme");
    assert_string_equal(fa->issuer, "CN=Acme Corp VPN CA,O=acme");
    assert_false(fa->is_ca);
    assert_int_equal(fa->not_after - fa->not_before, 730LL * DAY + 300);
    assert_int_equal(fa->n_sans, 4);
    assert_string_equal(fa->sans[0], "DNS:vpn.acme.example");
    assert_string_equal(fa->sans[1], "IP:198.51.100.1");
    assert_string_equal(fa->sans[2], "IP:2001:db8::1");
    assert_string_equal(fa->sans[3], "email:gw@acme.example");
    X509 *c = f->server.cert;
    assert_true(X509_get_extended_key_usage(c) & XKU_SSL_SERVER);
    assert_true(has_eku_oid(c, "1.3.6.1.5.5.8.2.2"));
    assert_false(has_eku_oid(c, "1.3.6.1.5.5.7.3.2"));
    assert_int_equal(X509_get_key_usage(c), KU_DIGITAL_SIGNATURE);
    /* authorityKeyIdentifier = the CA's subjectKeyIdentifier */
    assert_int_equal(
        ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(c), X509_get0_subject_key_id(f->ca.cert)),
        0);
    assert_int_equal(c_verify(f->ca.cert, c, X509_PURPOSE_SSL_SERVER), 0);
    assert_int_equal(c_verify(f->ca2.cert, c, X509_PURPOSE_SSL_SERVER),
                     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    /* The RSA form gets keyEncipherment too (older Windows wants it). */
    struct x509_issued rsa;
    const char *ids[] = {"vpn.acme.example"};
    assert_int_equal(x509_issue_server(&f->cax, "acme", ids, 1, X509_KEY_RSA_2048, f->now, 30, &rsa,
                                       f->err, sizeof(f->err)),
                     0);
    assert_int_equal(X509_get_key_usage(rsa.cert), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    assert_int_equal(rsa.facts.not_after, f->now + 30LL * DAY);
    assert_string_equal(rsa.facts.key_type, "RSA 2048");
    x509_issued_free(&rsa);
}

static void test_server_bad_identities(void **state)
{
    struct fx *f = *state;
    struct x509_issued s;
    const char *bad1[] = {"vpn.acme.example", "not a host!"};
    assert_int_equal(x509_issue_server(&f->cax, "acme", bad1, 2, X509_KEY_EC_P256, f->now, 0, &s,
                                       f->err, sizeof(f->err)),
                     -1);
    assert_string_equal(f->err,
                        "identity \"not a host!\": not a host name, IP address or user@domain");
    /* A comma must not smuggle in another SAN (no config-string parsing). */
    const char *bad2[] = {"a.example,IP:1.2.3.4"};
    assert_int_equal(x509_issue_server(&f->cax, "acme", bad2, 1, X509_KEY_EC_P256, f->now, 0, &s,
                                       f->err, sizeof(f->err)),
                     -1);
    const char *bad3[] = {"@acme.example"};
    assert_int_equal(x509_issue_server(&f->cax, "acme", bad3, 1, X509_KEY_EC_P256, f->now, 0, &s,
                                       f->err, sizeof(f->err)),
                     -1);
    assert_non_null(strstr(f->err, "user@domain"));
    assert_int_equal(x509_issue_server(&f->cax, "acme", NULL, 0, X509_KEY_EC_P256, f->now, 0, &s,
                                       f->err, sizeof(f->err)),
                     -1);
    assert_non_null(strstr(f->err, "at least one"));
    struct x509_ca none = {NULL, NULL};
    assert_int_equal(x509_issue_server(&none, "acme", bad1, 1, X509_KEY_EC_P256, f->now, 0, &s,
                                       f->err, sizeof(f->err)),
                     -1);
    assert_string_equal(f->err, "ca: the tenant has no CA");
}

static void test_client_cert_and_identities(void **state)
{
    struct fx *f = *state;
    const struct x509_facts *fa = &f->alice.facts;
    assert_string_equal(fa->subject, "CN=alice,O=acme");
    assert_int_equal(fa->n_sans, 2);
    assert_string_equal(fa->sans[0], "email:alice@acme.example");
    assert_string_equal(fa->sans[1], "email:alice.smith@acme.example");
    assert_true(X509_get_extended_key_usage(f->alice.cert) & XKU_SSL_CLIENT);
    assert_false(X509_get_extended_key_usage(f->alice.cert) & XKU_SSL_SERVER);
    assert_true(has_eku_oid(f->alice.cert, "1.3.6.1.5.5.8.2.2"));
    assert_int_equal(c_verify(f->ca.cert, f->alice.cert, X509_PURPOSE_SSL_CLIENT), 0);

    /* x509_cert_identities: DN first, then the SANs, in IKE terms. */
    struct x509_ids ids;
    assert_int_equal(x509_cert_identities(f->alice.cert, &ids), 0);
    assert_int_equal(ids.n, 3);
    assert_int_equal(ids.v[0].type, X509_ID_DER_ASN1_DN);
    assert_string_equal(ids.v[0].text, "DN:CN=alice,O=acme");
    assert_int_equal(ids.v[1].type, X509_ID_RFC822);
    assert_int_equal(ids.v[1].len, strlen("alice@acme.example"));
    assert_memory_equal(ids.v[1].data, "alice@acme.example", ids.v[1].len);

    /* What a peer sends in IDi is matched against these. */
    X509 *c = f->alice.cert;
    assert_true(x509_cert_matches_id(c, X509_ID_DER_ASN1_DN, ids.v[0].data, ids.v[0].len));
    assert_true(x509_cert_matches_id(c, X509_ID_RFC822, (const uint8_t *)"Alice@ACME.example", 18));
    assert_false(x509_cert_matches_id(c, X509_ID_RFC822, (const uint8_t *)"bob@acme.example", 16));
    assert_false(x509_cert_matches_id(c, X509_ID_FQDN, (const uint8_t *)"alice", 5));
    assert_false(
        x509_cert_matches_id(f->bob.cert, X509_ID_DER_ASN1_DN, ids.v[0].data, ids.v[0].len));
    /* garbage DN bytes: no match, no crash */
    assert_false(x509_cert_matches_id(c, X509_ID_DER_ASN1_DN, (const uint8_t *)"\x30\x85xx", 4));
    assert_false(x509_cert_matches_id(c, X509_ID_DER_ASN1_DN, ids.v[0].data, ids.v[0].len - 1));
    x509_ids_free(&ids);
    x509_ids_free(NULL);

    X509 *s = f->server.cert;
    uint8_t v4[4], v6[16];
    inet_pton(AF_INET, "198.51.100.1", v4);
    inet_pton(AF_INET6, "2001:db8::1", v6);
    assert_true(x509_cert_matches_id(s, X509_ID_FQDN, (const uint8_t *)"VPN.acme.example", 16));
    assert_true(x509_cert_matches_id(s, X509_ID_IPV4, v4, 4));
    assert_true(x509_cert_matches_id(s, X509_ID_IPV6, v6, 16));
    v4[3] = 2;
    assert_false(x509_cert_matches_id(s, X509_ID_IPV4, v4, 4));
    assert_false(x509_cert_matches_id(s, X509_ID_FQDN, (const uint8_t *)"vpn.acme.exampl", 15));
    /* The CN is not an identity by itself (SAN only, as strongSwan). */
    assert_false(x509_cert_matches_id(f->bob.cert, X509_ID_FQDN, (const uint8_t *)"bob", 3));

    /* A username that is already user@realm, and a bad email. */
    struct x509_issued u;
    struct x509_client_req r = {.username = "carol@acme.example", .realm = "ignored.example"};
    assert_int_equal(x509_issue_client(&f->cax, "acme", &r, f->now, &u, f->err, sizeof(f->err)), 0);
    assert_int_equal(u.facts.n_sans, 1);
    assert_string_equal(u.facts.sans[0], "email:carol@acme.example");
    x509_issued_free(&u);
    struct x509_client_req r2 = {.username = "dave", .email = "not an email"};
    assert_int_equal(x509_issue_client(&f->cax, "acme", &r2, f->now, &u, f->err, sizeof(f->err)),
                     -1);
    assert_string_equal(f->err, "email: \"not an email\" is not a valid address");
    struct x509_client_req r3 = {.username = ""};
    assert_int_equal(x509_issue_client(&f->cax, "acme", &r3, f->now, &u, f->err, sizeof(f->err)),
                     -1);
    assert_string_equal(f->err, "username: required");
}

static void test_pkcs12(void **state)
{
    struct fx *f = *state;
    struct x509_buf p12 = {0};
    for (int legacy = 0; legacy <= 1; legacy++) {
        assert_int_equal(x509_pkcs12(f->alice.cert, f->alice.key, f->ca.cert, "s3cret pass",
                                     "alice", legacy, &p12, f->err, sizeof(f->err)),
                         0);
        const unsigned char *p = p12.data;
        PKCS12 *pk = d2i_PKCS12(NULL, &p, (long)p12.len);
        assert_non_null(pk);
        assert_int_equal(PKCS12_verify_mac(pk, "wrong", -1), 0);
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        STACK_OF(X509) *cas = NULL;
        assert_int_equal(PKCS12_parse(pk, "s3cret pass", &key, &cert, &cas), 1);
        assert_int_equal(X509_cmp(cert, f->alice.cert), 0);
        assert_int_equal(EVP_PKEY_eq(key, f->alice.key), 1);
        assert_int_equal(sk_X509_num(cas), 1);
        assert_int_equal(X509_cmp(sk_X509_value(cas, 0), f->ca.cert), 0);
        EVP_PKEY_free(key);
        X509_free(cert);
        sk_X509_pop_free(cas, X509_free);
        PKCS12_free(pk);
        x509_buf_free(&p12);
    }
    assert_int_equal(x509_pkcs12(f->alice.cert, f->alice.key, NULL, "", NULL, false, &p12, f->err,
                                 sizeof(f->err)),
                     -1);
    assert_non_null(strstr(f->err, "password"));
    assert_int_equal(x509_pkcs12(f->alice.cert, f->bob.key, NULL, "x", NULL, false, &p12, f->err,
                                 sizeof(f->err)),
                     -1);
    assert_non_null(strstr(f->err, "does not match"));
}

static void test_key_seal_and_ca_load(void **state)
{
    struct fx *f = *state;
    struct seal_key sk, other;
    RAND_bytes(sk.key, sizeof(sk.key));
    RAND_bytes(other.key, sizeof(other.key));
    struct x509_buf sealed = {0};
    assert_int_equal(x509_key_seal(&sk, f->ca.key, &sealed), 0);
    assert_null(memmem(sealed.data, sealed.len, "PRIVATE", 7));
    EVP_PKEY *k = x509_key_unseal(&sk, sealed.data, sealed.len);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_eq(k, f->ca.key), 1);
    EVP_PKEY_free(k);
    assert_null(x509_key_unseal(&other, sealed.data, sealed.len));
    assert_null(x509_key_unseal(&sk, sealed.data, sealed.len - 1));

    struct x509_ca ca;
    assert_int_equal(x509_ca_load(&ca, (const char *)f->ca.cert_pem.data, sealed.data, sealed.len,
                                  &sk, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(X509_cmp(ca.cert, f->ca.cert), 0);
    x509_ca_free(&ca);
    x509_ca_free(NULL);
    assert_int_equal(x509_ca_load(&ca, (const char *)f->ca2.cert_pem.data, sealed.data, sealed.len,
                                  &sk, f->err, sizeof(f->err)),
                     -1);
    assert_string_equal(f->err, "private_key: does not match the CA certificate");
    assert_int_equal(x509_ca_load(&ca, (const char *)f->ca.cert_pem.data, sealed.data, sealed.len,
                                  &other, f->err, sizeof(f->err)),
                     -1);
    assert_non_null(strstr(f->err, "sealed"));
    x509_buf_free(&sealed);
    seal_key_wipe(&sk);
}

static int build_crl(struct fx *f, const struct x509_ca *ca, const struct x509_revoked *r, size_t n,
                     int64_t now, X509_CRL **out)
{
    struct x509_buf der = {0};
    if (x509_crl_build(ca, r, n, 7, now, now + 7 * DAY, NULL, &der, f->err, sizeof(f->err)))
        return -1;
    *out = x509_crl_from_der(der.data, der.len, f->err, sizeof(f->err));
    x509_buf_free(&der);
    return *out ? 0 : -1;
}

static void test_crl(void **state)
{
    struct fx *f = *state;
    struct x509_revoked r[] = {
        {f->alice.facts.serial, f->now - 60, X509_REASON_KEY_COMPROMISE},
        {"0A1b", f->now - 120, X509_REASON_UNSPECIFIED},
    };
    X509_CRL *crl = NULL;
    assert_int_equal(build_crl(f, &f->cax, r, 2, f->now, &crl), 0);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(f->ca.cert)), 1);
    assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(f->ca.cert)), 0);
    assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    assert_int_equal(ASN1_INTEGER_get(num), 7);
    ASN1_INTEGER_free(num);
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
    assert_int_equal(sk_X509_REVOKED_num(revs), 2);
    X509_REVOKED *rev = NULL;
    assert_int_equal(X509_CRL_get0_by_cert(crl, &rev, f->alice.cert), 1);
    ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
    assert_int_equal(ASN1_ENUMERATED_get(reason), 1);
    ASN1_ENUMERATED_free(reason);
    assert_int_equal(X509_CRL_get0_by_cert(crl, &rev, f->bob.cert), 0);
    X509_CRL_free(crl);

    /* An empty CRL is valid; errors name what is wrong. */
    assert_int_equal(build_crl(f, &f->cax, NULL, 0, f->now, &crl), 0);
    /* no revokedCertificates field at all (OpenSSL gives NULL, counted -1) */
    assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(f->ca.cert)), 1);
    X509_CRL_free(crl);
    struct x509_revoked bad = {"12xz", f->now, X509_REASON_SUPERSEDED};
    assert_int_equal(build_crl(f, &f->cax, &bad, 1, f->now, &crl), -1);
    assert_string_equal(f->err, "revoked 0: serial \"12xz\" is not 1-40 hex digits");
    struct x509_revoked bad2 = {"12", f->now, (enum x509_reason)7};
    assert_int_equal(build_crl(f, &f->cax, &bad2, 1, f->now, &crl), -1);
    assert_string_equal(f->err, "revoked 0: unknown reason 7");
    struct x509_buf pem = {0};
    assert_int_equal(
        x509_crl_build(&f->cax, NULL, 0, 1, f->now, f->now, &pem, NULL, f->err, sizeof(f->err)),
        -1);
    assert_string_equal(f->err, "next_update: must be after now");
    /* x509_crl_make gives the object itself, ready for x509_verify_client. */
    crl = x509_crl_make(&f->cax, r, 1, 9, f->now, f->now + DAY, f->err, sizeof(f->err));
    assert_non_null(crl);
    assert_int_equal(X509_CRL_get0_by_cert(crl, &rev, f->alice.cert), 1);
    X509_CRL_free(crl);
    assert_null(x509_crl_make(&f->cax2, &bad, 1, 9, f->now, f->now + DAY, NULL, 0));
}

static void test_reason_names(void **state)
{
    (void)state;
    const char *names[] = {"unspecified",        "keyCompromise", "cACompromise",
                           "affiliationChanged", "superseded",    "cessationOfOperation",
                           "certificateHold",    "removeFromCRL", "privilegeWithdrawn",
                           "aACompromise"};
    const int codes[] = {0, 1, 2, 3, 4, 5, 6, 8, 9, 10};
    for (size_t i = 0; i < 10; i++) {
        enum x509_reason r;
        assert_true(x509_reason_parse(names[i], &r));
        assert_int_equal(r, codes[i]);
        assert_string_equal(x509_reason_name(r), names[i]);
    }
    enum x509_reason r;
    assert_false(x509_reason_parse("KeyCompromise", &r));
    assert_false(x509_reason_parse("", &r));
    assert_false(x509_reason_parse(NULL, &r));
    assert_string_equal(x509_reason_name((enum x509_reason)7), "unknown");
    assert_string_equal(x509_reason_name((enum x509_reason)99), "unknown");
}

static enum x509_verdict verify(struct fx *f, X509 *leaf, X509 *ca, X509_CRL *crl, int64_t now,
                                char *reason, size_t rl)
{
    struct x509_buf der = {0};
    if (x509_cert_to_der(leaf, &der))
        return X509_VERDICT_INVALID;
    X509 *out = NULL;
    enum x509_verdict v =
        x509_verify_client(der.data, der.len, NULL, 0, ca, crl, now, &out, reason, rl);
    if (v == X509_VERDICT_OK && X509_cmp(out, leaf) != 0)
        v = X509_VERDICT_INVALID;
    X509_free(out);
    x509_buf_free(&der);
    (void)f;
    return v;
}

/* A certificate the tests build by hand: EKU serverAuth only. */
static X509 *server_only_cert(struct fx *f)
{
    X509 *c = X509_new();
    X509_set_version(c, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 42);
    X509_set_issuer_name(c, X509_get_subject_name(f->ca.cert));
    X509_set_subject_name(c, X509_get_subject_name(f->bob.cert));
    X509_set_pubkey(c, f->bob.key);
    ASN1_TIME_set(X509_getm_notBefore(c), (time_t)(f->now - DAY));
    ASN1_TIME_set(X509_getm_notAfter(c), (time_t)(f->now + DAY));
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, f->ca.cert, c, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, "serverAuth");
    X509_add_ext(c, e, -1);
    X509_EXTENSION_free(e);
    X509_sign(c, f->ca.key, EVP_sha256());
    return c;
}

static void test_verify_client(void **state)
{
    struct fx *f = *state;
    char why[X509_ERR_MAX];
    struct x509_revoked r[] = {{f->alice.facts.serial, f->now - 60, X509_REASON_KEY_COMPROMISE}};
    X509_CRL *crl = NULL, *crl_future = NULL, *crl_past = NULL, *crl_other = NULL;
    assert_int_equal(build_crl(f, &f->cax, r, 1, f->now, &crl), 0);
    assert_int_equal(build_crl(f, &f->cax, r, 1, f->now + 800 * DAY, &crl_future), 0);
    assert_int_equal(build_crl(f, &f->cax, r, 1, f->now - 30 * DAY, &crl_past), 0);
    assert_int_equal(build_crl(f, &f->cax2, NULL, 0, f->now, &crl_other), 0);

    assert_int_equal(verify(f, f->bob.cert, f->ca.cert, crl, f->now, why, sizeof(why)),
                     X509_VERDICT_OK);
    assert_string_equal(why, "ok");
    assert_int_equal(verify(f, f->alice.cert, f->ca.cert, NULL, f->now, why, sizeof(why)),
                     X509_VERDICT_OK);
    assert_int_equal(verify(f, f->alice.cert, f->ca.cert, crl, f->now, why, sizeof(why)),
                     X509_VERDICT_REVOKED);
    assert_string_equal(why, "revoked (keyCompromise)");
    assert_int_equal(verify(f, f->bob.cert, f->ca2.cert, crl_other, f->now, why, sizeof(why)),
                     X509_VERDICT_UNTRUSTED);
    assert_non_null(strstr(why, "not issued by the tenant CA"));
    assert_int_equal(
        verify(f, f->bob.cert, f->ca.cert, crl_future, f->now + 800 * DAY, why, sizeof(why)),
        X509_VERDICT_EXPIRED);
    assert_non_null(strstr(why, "expired (not after "));
    assert_int_equal(verify(f, f->bob.cert, f->ca.cert, NULL, f->now - DAY, why, sizeof(why)),
                     X509_VERDICT_NOT_YET_VALID);
    assert_int_equal(verify(f, f->bob.cert, f->ca.cert, crl_past, f->now, why, sizeof(why)),
                     X509_VERDICT_CRL_PROBLEM);
    assert_non_null(strstr(why, "CRL has expired"));
    assert_int_equal(verify(f, f->bob.cert, f->ca.cert, crl_other, f->now, why, sizeof(why)),
                     X509_VERDICT_CRL_PROBLEM);
    assert_int_equal(verify(f, f->ca.cert, f->ca.cert, NULL, f->now, why, sizeof(why)),
                     X509_VERDICT_WRONG_USAGE);
    assert_string_equal(why, "a CA certificate, not a client certificate");
    X509 *so = server_only_cert(f);
    assert_int_equal(verify(f, so, f->ca.cert, crl, f->now, why, sizeof(why)),
                     X509_VERDICT_WRONG_USAGE);
    assert_string_equal(why, "not valid for client authentication (extended key usage)");
    X509_free(so);

    /* Garbage from a peer. */
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    X509 *leaf = (X509 *)1;
    assert_int_equal(x509_verify_client(junk, sizeof(junk), NULL, 0, f->ca.cert, crl, f->now, &leaf,
                                        why, sizeof(why)),
                     X509_VERDICT_MALFORMED);
    assert_null(leaf);
    assert_int_equal(
        x509_verify_client(NULL, 0, NULL, 0, f->ca.cert, crl, f->now, NULL, why, sizeof(why)),
        X509_VERDICT_MALFORMED);
    struct x509_buf der = {0};
    assert_int_equal(x509_cert_to_der(f->bob.cert, &der), 0);
    struct x509_der chain[1] = {{junk, 10}};
    assert_int_equal(x509_verify_client(der.data, der.len, chain, 1, f->ca.cert, crl, f->now, NULL,
                                        why, sizeof(why)),
                     X509_VERDICT_MALFORMED);
    assert_string_equal(why, "chain certificate 0 is not a certificate");
    /* A useless but well-formed chain certificate does not hurt. */
    struct x509_buf other = {0};
    assert_int_equal(x509_cert_to_der(f->ca2.cert, &other), 0);
    chain[0] = (struct x509_der){other.data, other.len};
    assert_int_equal(x509_verify_client(der.data, der.len, chain, 1, f->ca.cert, crl, f->now, NULL,
                                        why, sizeof(why)),
                     X509_VERDICT_OK);
    x509_buf_free(&other);
    assert_int_equal(
        x509_verify_client(der.data, der.len, NULL, 0, NULL, crl, f->now, NULL, why, sizeof(why)),
        X509_VERDICT_INVALID);
    x509_buf_free(&der);
    assert_string_equal(x509_verdict_name(X509_VERDICT_REVOKED), "revoked");

    X509_CRL_free(crl);
    X509_CRL_free(crl_future);
    X509_CRL_free(crl_past);
    X509_CRL_free(crl_other);
}

static void test_upload(void **state)
{
    struct fx *f = *state;
    struct x509_facts fa;
    const char *cert = (const char *)f->server.cert_pem.data;
    const char *key = (const char *)f->server.key_pem.data;
    const char *ca = (const char *)f->ca.cert_pem.data;
    char *err = f->err;
    size_t el = sizeof(f->err);
    assert_int_equal(x509_upload_check(cert, ca, key, f->now, &fa, err, el), 0);
    assert_string_equal(fa.subject, "CN=vpn.acme.example,O=acme");
    assert_string_equal(fa.serial, f->server.facts.serial);
    assert_int_equal(fa.n_sans, 4);
    assert_int_equal(fa.not_after, f->server.facts.not_after);
    x509_facts_free(&fa);
    assert_int_equal(x509_upload_check(cert, "", key, f->now, &fa, err, el), 0);
    x509_facts_free(&fa);
    x509_facts_free(NULL);

    assert_int_equal(
        x509_upload_check(cert, ca, (const char *)f->alice.key_pem.data, f->now, &fa, err, el), -1);
    assert_string_equal(err, "private_key: does not match the certificate's public key");
    assert_int_equal(x509_upload_check("hello", ca, key, f->now, &fa, err, el), -1);
    assert_string_equal(err, "certificate: no PEM certificate found");
    assert_int_equal(x509_upload_check(cert, ca, "nope", f->now, &fa, err, el), -1);
    assert_non_null(strstr(err, "private_key: not a PEM private key"));
    assert_int_equal(
        x509_upload_check(cert, (const char *)f->ca2.cert_pem.data, key, f->now, &fa, err, el), -1);
    assert_string_equal(err, "chain: certificate 0 (CN=Globex VPN CA,O=globex) did not issue the "
                             "certificate (whose issuer is CN=Acme Corp VPN CA,O=acme)");
    char both[8192];
    snprintf(both, sizeof(both), "%s%s", cert, ca);
    assert_int_equal(x509_upload_check(both, NULL, key, f->now, &fa, err, el), -1);
    assert_string_equal(err, "certificate: holds 2 certificates; put only the server certificate "
                             "here and its issuers in chain");
    assert_int_equal(x509_upload_check(cert, key, key, f->now, &fa, err, el), -1);
    assert_string_equal(err, "chain: block 0 is a PRIVATE KEY, not a CERTIFICATE");
    assert_int_equal(x509_upload_check(cert, ca, key, f->now + 3 * 365 * DAY, &fa, err, el), -1);
    assert_non_null(strstr(err, "certificate: expired on "));
    assert_int_equal(x509_upload_check(cert, ca, key, f->now - DAY, &fa, err, el), -1);
    assert_non_null(strstr(err, "certificate: not valid before "));
    assert_int_equal(
        x509_upload_check(ca, NULL, (const char *)f->ca.key_pem.data, f->now, &fa, err, el), -1);
    assert_string_equal(err, "certificate: is a CA certificate, not a server certificate");
    const char *enc = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED "
                      "PRIVATE KEY-----\n";
    assert_int_equal(x509_upload_check(cert, ca, enc, f->now, &fa, err, el), -1);
    assert_non_null(strstr(err, "private_key: encrypted keys are not accepted"));
    /* A client certificate without SAN (bob has one; a bare DN one has none). */
    struct x509_issued nosan;
    struct x509_client_req r = {.username = "eve"};
    assert_int_equal(x509_issue_client(&f->cax, "acme", &r, f->now, &nosan, err, el), 0);
    assert_int_equal(x509_upload_check((const char *)nosan.cert_pem.data, ca,
                                       (const char *)nosan.key_pem.data, f->now, &fa, err, el),
                     -1);
    assert_non_null(strstr(err, "certificate: has no subjectAltName"));
    x509_issued_free(&nosan);
}

static void test_garbage_der(void **state)
{
    struct fx *f = *state;
    struct x509_buf der = {0};
    assert_int_equal(x509_cert_to_der(f->server.cert, &der), 0);
    /* every truncation fails cleanly */
    for (size_t n = 0; n < der.len; n += 7)
        assert_null(x509_cert_from_der(der.data, n, NULL, 0));
    uint8_t *longer = malloc(der.len + 1);
    memcpy(longer, der.data, der.len);
    longer[der.len] = 0;
    assert_null(x509_cert_from_der(longer, der.len + 1, f->err, sizeof(f->err)));
    assert_string_equal(f->err, "certificate: 1 bytes after the certificate");
    X509 *ok = x509_cert_from_der(longer, der.len, NULL, 0);
    assert_non_null(ok);
    X509_free(ok);
    free(longer);
    assert_null(x509_crl_from_der(der.data, der.len, NULL, 0));
    assert_null(x509_crl_from_pem("x", 1, NULL, 0));
    assert_null(x509_cert_from_pem(NULL, 0, NULL, 0));
    x509_buf_free(&der);
}

static void test_certreq_hash(void **state)
{
    struct fx *f = *state;
    uint8_t h[20], h2[20], req[60];
    assert_int_equal(x509_spki_sha1(f->ca.cert, h), 0);
    assert_int_equal(x509_spki_sha1(f->ca2.cert, h2), 0);
    assert_memory_not_equal(h, h2, 20);
    memset(req, 0xab, sizeof(req));
    memcpy(req + 40, h, 20);
    assert_true(x509_certreq_names(f->ca.cert, req, 60));
    assert_false(x509_certreq_names(f->ca2.cert, req, 60));
    assert_false(x509_certreq_names(f->ca.cert, req + 1, 59));
    assert_false(x509_certreq_names(f->ca.cert, req, 40));
    assert_false(x509_certreq_names(f->ca.cert, req, 0));
}

/* ---- the same artifacts checked by the openssl command ---- */

/* Runs a shell command, returns its exit status; out gets stdout+stderr. */
static int run(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void save(struct fx *f, const char *name, const struct x509_buf *b)
{
    char *p = tu_path(f->dir, name);
    assert_int_equal(tu_write_bytes(p, b->data, b->len, 0600), 0);
    free(p);
}

static void test_openssl_cli(void **state)
{
    struct fx *f = *state;
    char out[8192];
    const char *d = f->dir;
    save(f, "ca.pem", &f->ca.cert_pem);
    save(f, "server.pem", &f->server.cert_pem);
    save(f, "alice.pem", &f->alice.cert_pem);
    save(f, "bob.pem", &f->bob.cert_pem);
    struct x509_revoked r[] = {{f->alice.facts.serial, f->now - 60, X509_REASON_KEY_COMPROMISE}};
    struct x509_buf crl = {0}, p12 = {0};
    assert_int_equal(x509_crl_build(&f->cax, r, 1, 3, f->now, f->now + 7 * DAY, &crl, NULL, f->err,
                                    sizeof(f->err)),
                     0);
    save(f, "crl.pem", &crl);
    x509_buf_free(&crl);

    assert_int_equal(run(out, sizeof(out),
                         "cd %s && openssl verify -CAfile ca.pem -purpose "
                         "sslserver server.pem",
                         d),
                     0);
    assert_non_null(strstr(out, "server.pem: OK"));
    assert_int_equal(run(out, sizeof(out),
                         "cd %s && openssl verify -CAfile ca.pem -purpose "
                         "sslclient -crl_check -CRLfile crl.pem bob.pem",
                         d),
                     0);
    assert_non_null(strstr(out, "bob.pem: OK"));
    assert_int_not_equal(run(out, sizeof(out),
                             "cd %s && openssl verify -CAfile ca.pem "
                             "-crl_check -CRLfile crl.pem alice.pem",
                             d),
                         0);
    assert_non_null(strstr(out, "certificate revoked"));
    assert_int_equal(run(out, sizeof(out), "cd %s && openssl crl -in crl.pem -noout -text", d), 0);
    assert_non_null(strstr(out, "Key Compromise"));
    assert_non_null(strstr(out, f->alice.facts.serial));
    assert_non_null(strstr(out, "X509v3 CRL Number: \n                3"));
    assert_int_equal(run(out, sizeof(out), "cd %s && openssl x509 -in ca.pem -noout -text", d), 0);
    assert_non_null(strstr(out, "CA:TRUE"));
    assert_non_null(strstr(out, "Certificate Sign, CRL Sign"));
    assert_int_equal(run(out, sizeof(out), "cd %s && openssl x509 -in server.pem -noout -text", d),
                     0);
    assert_non_null(strstr(out, "TLS Web Server Authentication, 1.3.6.1.5.5.8.2.2"));
    assert_non_null(strstr(out, "DNS:vpn.acme.example, IP Address:198.51.100.1, IP "
                                "Address:2001:DB8:0:0:0:0:0:1, email:gw@acme.example"));
    /* Our serial text is what `openssl x509 -serial` prints. */
    assert_int_equal(
        run(out, sizeof(out), "cd %s && openssl x509 -in server.pem -noout -serial", d), 0);
    char want[80];
    snprintf(want, sizeof(want), "serial=%s\n", f->server.facts.serial);
    assert_string_equal(out, want);
    /* The CERTREQ hash is SHA-1 of the DER SubjectPublicKeyInfo. */
    uint8_t h[20];
    char hex[41];
    assert_int_equal(x509_spki_sha1(f->ca.cert, h), 0);
    for (int i = 0; i < 20; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    assert_int_equal(run(out, sizeof(out),
                         "cd %s && openssl x509 -in ca.pem -noout -pubkey | openssl pkey -pubin "
                         "-outform DER | openssl dgst -sha1 -r",
                         d),
                     0);
    assert_memory_equal(out, hex, 40);

    assert_int_equal(x509_pkcs12(f->alice.cert, f->alice.key, f->ca.cert, "pw-123", "alice", false,
                                 &p12, f->err, sizeof(f->err)),
                     0);
    save(f, "alice.p12", &p12);
    x509_buf_free(&p12);
    assert_int_equal(run(out, sizeof(out),
                         "cd %s && openssl pkcs12 -info -in alice.p12 -passin pass:pw-123 "
                         "-nodes",
                         d),
                     0);
    assert_non_null(strstr(out, "MAC: sha256"));
    assert_non_null(strstr(out, "PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256"));
    assert_non_null(strstr(out, "friendlyName: alice"));
    assert_non_null(strstr(out, "BEGIN PRIVATE KEY"));
    assert_int_not_equal(run(out, sizeof(out),
                             "cd %s && openssl pkcs12 -info -in alice.p12 -passin pass:wrong "
                             "-noout",
                             d),
                         0);
    assert_non_null(strstr(out, "invalid password"));
    assert_int_equal(x509_pkcs12(f->alice.cert, f->alice.key, f->ca.cert, "pw-123", "alice", true,
                                 &p12, f->err, sizeof(f->err)),
                     0);
    save(f, "legacy.p12", &p12);
    x509_buf_free(&p12);
    assert_int_equal(run(out, sizeof(out),
                         "cd %s && openssl pkcs12 -info -in legacy.p12 -passin pass:pw-123 "
                         "-noout",
                         d),
                     0);
    assert_non_null(strstr(out, "MAC: sha1"));
    assert_non_null(strstr(out, "pbeWithSHA1And3-KeyTripleDES-CBC"));
}

/* strongSwan's own parser (`pki`) trusts our certificates, sees the
 * revocation in our CRL, and computes the same CERTREQ key id. */
static void test_strongswan_pki(void **state)
{
    struct fx *f = *state;
    char out[8192];
    const char *d = f->dir;
    if (access("/usr/bin/pki", X_OK) != 0)
        skip();
    save(f, "ss-ca.pem", &f->ca.cert_pem);
    save(f, "ss-server.pem", &f->server.cert_pem);
    save(f, "ss-alice.pem", &f->alice.cert_pem);
    save(f, "ss-bob.pem", &f->bob.cert_pem);
    struct x509_revoked r[] = {{f->alice.facts.serial, f->now - 60, X509_REASON_SUPERSEDED}};
    struct x509_buf crl = {0};
    assert_int_equal(
        x509_crl_build(&f->cax, r, 1, 4, f->now, f->now + DAY, &crl, NULL, f->err, sizeof(f->err)),
        0);
    save(f, "ss-crl.pem", &crl);
    x509_buf_free(&crl);
    assert_int_equal(
        run(out, sizeof(out), "cd %s && pki --verify --in ss-server.pem --cacert ss-ca.pem", d), 0);
    assert_non_null(strstr(out, "certificate trusted, lifetimes valid"));
    assert_int_equal(run(out, sizeof(out),
                         "cd %s && pki --verify --in ss-bob.pem --cacert ss-ca.pem --crl "
                         "ss-crl.pem",
                         d),
                     0);
    assert_non_null(strstr(out, "certificate trusted, lifetimes valid"));
    assert_int_not_equal(run(out, sizeof(out),
                             "cd %s && pki --verify --in ss-alice.pem --cacert ss-ca.pem --crl "
                             "ss-crl.pem",
                             d),
                         0);
    assert_non_null(strstr(out, "reason: superseded"));
    assert_int_equal(run(out, sizeof(out), "cd %s && pki --print --in ss-server.pem", d), 0);
    assert_non_null(strstr(out, "flags:     serverAuth ikeIntermediate"));
    assert_non_null(strstr(out, "altNames:  vpn.acme.example, 198.51.100.1, 2001:db8::1, "
                                "gw@acme.example"));
    /* strongSwan's "keyid" is the SHA-1 of the SubjectPublicKeyInfo. */
    assert_int_equal(run(out, sizeof(out), "cd %s && pki --print --in ss-ca.pem", d), 0);
    uint8_t h[20];
    char want[80] = "keyid:     ";
    assert_int_equal(x509_spki_sha1(f->ca.cert, h), 0);
    for (int i = 0; i < 20; i++)
        snprintf(want + strlen(want), 4, i ? ":%02x" : "%02x", h[i]);
    assert_non_null(strstr(out, want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ca_p256),
        cmocka_unit_test(test_ca_rsa3072_and_long_name),
        cmocka_unit_test(test_server_cert),
        cmocka_unit_test(test_server_bad_identities),
        cmocka_unit_test(test_client_cert_and_identities),
        cmocka_unit_test(test_pkcs12),
        cmocka_unit_test(test_key_seal_and_ca_load),
        cmocka_unit_test(test_crl),
        cmocka_unit_test(test_reason_names),
        cmocka_unit_test(test_verify_client),
        cmocka_unit_test(test_upload),
        cmocka_unit_test(test_garbage_der),
        cmocka_unit_test(test_certreq_hash),
        cmocka_unit_test(test_openssl_cli),
        cmocka_unit_test(test_strongswan_pki),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
