/* IKE_AUTH signatures: every method and hash signs and verifies, the RFC
 * 7427 AlgorithmIdentifiers are the RFC's bytes, a changed byte of data or
 * signature fails, keys that do not fit a method are refused, and garbage
 * authentication data from a peer is rejected without a crash. */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/rsa.h>

#include "auth/x509.h"

struct keys {
    EVP_PKEY *p256, *p384, *p521, *rsa;
    struct x509_issued ca, leaf; /* for x509_verify_sig with a certificate */
};

static int group_setup(void **state)
{
    struct keys *k = calloc(1, sizeof(*k));
    if (!k)
        return -1;
    k->p256 = x509_key_generate(X509_KEY_EC_P256);
    k->p384 = x509_key_generate(X509_KEY_EC_P384);
    k->p521 = x509_key_generate(X509_KEY_EC_P521);
    k->rsa = x509_key_generate(X509_KEY_RSA_2048);
    if (!k->p256 || !k->p384 || !k->p521 || !k->rsa)
        return -1;
    if (x509_ca_create("acme", "Acme", X509_KEY_EC_P256, 1800000000, &k->ca, NULL, 0))
        return -1;
    struct x509_ca ca = {k->ca.cert, k->ca.key};
    struct x509_client_req r = {.username = "alice", .realm = "acme.example"};
    if (x509_issue_client(&ca, "acme", &r, 1800000000, &k->leaf, NULL, 0))
        return -1;
    *state = k;
    return 0;
}

static int group_teardown(void **state)
{
    struct keys *k = *state;
    EVP_PKEY_free(k->p256);
    EVP_PKEY_free(k->p384);
    EVP_PKEY_free(k->p521);
    EVP_PKEY_free(k->rsa);
    x509_issued_free(&k->ca);
    x509_issued_free(&k->leaf);
    free(k);
    return 0;
}

static const uint8_t octets[] = "IKE_SA_INIT message | Nr | prf(SK_pi, IDi)";

static void hex2bin(const char *hex, uint8_t *out, size_t *len)
{
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2)
        sscanf(hex, "%2hhx", &out[n++]);
    *len = n;
}

/* Signs, verifies, and checks that a flipped byte anywhere fails. */
static void round_trip(EVP_PKEY *key, enum x509_auth_method m, enum x509_hash h, size_t want_len)
{
    struct x509_buf sig = {0};
    char err[X509_ERR_MAX];
    assert_int_equal(x509_sign(key, m, h, octets, sizeof(octets), &sig, err, sizeof(err)), 0);
    if (want_len)
        assert_int_equal(sig.len, want_len);
    assert_true(
        x509_verify_sig_key(key, m, sig.data, sig.len, octets, sizeof(octets), err, sizeof(err)));
    uint8_t data[sizeof(octets)];
    memcpy(data, octets, sizeof(data));
    data[5] ^= 1;
    assert_false(
        x509_verify_sig_key(key, m, sig.data, sig.len, data, sizeof(data), err, sizeof(err)));
    assert_string_equal(err, "auth: signature does not verify");
    sig.data[sig.len - 1] ^= 0x40;
    assert_false(
        x509_verify_sig_key(key, m, sig.data, sig.len, octets, sizeof(octets), err, sizeof(err)));
    x509_buf_free(&sig);
}

static void test_classic_methods(void **state)
{
    struct keys *k = *state;
    round_trip(k->rsa, X509_AUTH_RSA_SIG, X509_HASH_SHA1, 256);
    round_trip(k->p256, X509_AUTH_ECDSA_256, 0, 64);
    round_trip(k->p384, X509_AUTH_ECDSA_384, 0, 96);
    round_trip(k->p521, X509_AUTH_ECDSA_521, 0, 132);
}

static void test_digital_signature_method(void **state)
{
    struct keys *k = *state;
    EVP_PKEY *keys[] = {k->rsa, k->p256, k->p384, k->p521};
    enum x509_hash hashes[] = {X509_HASH_SHA256, X509_HASH_SHA384, X509_HASH_SHA512};
    for (size_t i = 0; i < 4; i++) {
        for (size_t j = 0; j < 3; j++) {
            round_trip(keys[i], X509_AUTH_DIGITAL_SIG, hashes[j], 0);
            /* The layout: length, AlgorithmIdentifier, signature. */
            struct x509_buf sig = {0};
            const uint8_t *alg;
            size_t alglen;
            bool rsa = i == 0;
            assert_int_equal(x509_sig_algid(rsa, hashes[j], &alg, &alglen), 0);
            assert_int_equal(x509_sign(keys[i], X509_AUTH_DIGITAL_SIG, hashes[j], octets,
                                       sizeof(octets), &sig, NULL, 0),
                             0);
            assert_int_equal(sig.data[0], alglen);
            assert_memory_equal(sig.data + 1, alg, alglen);
            /* The signature itself verifies with plain OpenSSL. */
            const EVP_MD *md = j == 0 ? EVP_sha256() : j == 1 ? EVP_sha384() : EVP_sha512();
            EVP_MD_CTX *ctx = EVP_MD_CTX_new();
            assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, md, NULL, keys[i]), 1);
            assert_int_equal(EVP_DigestVerify(ctx, sig.data + 1 + alglen, sig.len - 1 - alglen,
                                              octets, sizeof(octets)),
                             1);
            EVP_MD_CTX_free(ctx);
            x509_buf_free(&sig);
        }
    }
}

/* Method 1 is plain PKCS#1 v1.5 with SHA-1; 9 is r||s of ECDSA-SHA256. */
static void test_classic_against_openssl(void **state)
{
    struct keys *k = *state;
    struct x509_buf sig = {0};
    assert_int_equal(x509_sign(k->rsa, X509_AUTH_RSA_SIG, 0, octets, sizeof(octets), &sig, NULL, 0),
                     0);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha1(), NULL, k->rsa), 1);
    assert_int_equal(EVP_DigestVerify(ctx, sig.data, sig.len, octets, sizeof(octets)), 1);
    EVP_MD_CTX_free(ctx);
    x509_buf_free(&sig);

    /* An OpenSSL DER signature, converted by the test to r||s, verifies. */
    ctx = EVP_MD_CTX_new();
    size_t dlen = 0;
    uint8_t der[80], raw[64];
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->p256), 1);
    dlen = sizeof(der);
    assert_int_equal(EVP_DigestSign(ctx, der, &dlen, octets, sizeof(octets)), 1);
    EVP_MD_CTX_free(ctx);
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    BN_bn2binpad(r, raw, 32);
    BN_bn2binpad(s, raw + 32, 32);
    ECDSA_SIG_free(es);
    assert_true(x509_verify_sig_key(k->p256, X509_AUTH_ECDSA_256, raw, 64, octets, sizeof(octets),
                                    NULL, 0));
    /* The same signature sent as DER under method 9 is refused. */
    assert_false(x509_verify_sig_key(k->p256, X509_AUTH_ECDSA_256, der, dlen, octets,
                                     sizeof(octets), NULL, 0));
}

static void test_algids_are_rfc7427(void **state)
{
    (void)state;
    static const struct {
        bool rsa;
        enum x509_hash h;
        const char *hex;
    } cases[] = {
        {true, X509_HASH_SHA256, "300d06092a864886f70d01010b0500"},
        {true, X509_HASH_SHA384, "300d06092a864886f70d01010c0500"},
        {true, X509_HASH_SHA512, "300d06092a864886f70d01010d0500"},
        {false, X509_HASH_SHA256, "300a06082a8648ce3d040302"},
        {false, X509_HASH_SHA384, "300a06082a8648ce3d040303"},
        {false, X509_HASH_SHA512, "300a06082a8648ce3d040304"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t want[64];
        size_t wl, len;
        const uint8_t *der;
        hex2bin(cases[i].hex, want, &wl);
        assert_int_equal(x509_sig_algid(cases[i].rsa, cases[i].h, &der, &len), 0);
        assert_int_equal(len, wl);
        assert_memory_equal(der, want, wl);
    }
    const uint8_t *der;
    size_t len;
    assert_int_equal(x509_sig_algid(true, X509_HASH_SHA1, &der, &len), -1);
    assert_int_equal(x509_sig_algid(false, (enum x509_hash)9, &der, &len), -1);
}

/* A peer's RSASSA-PSS signature (RFC 7427 A.4.3 parameters) verifies. */
static void test_pss_from_peer(void **state)
{
    struct keys *k = *state;
    uint8_t auth[512];
    size_t alen;
    /* RFC 7427 A.4.3: RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 */
    hex2bin("43"
            "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886"
            "f70d010108300d06096086480165030402010500a203020120",
            auth, &alen);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    assert_int_equal(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, k->rsa), 1);
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
    size_t slen = sizeof(auth) - alen;
    assert_int_equal(EVP_DigestSign(ctx, auth + alen, &slen, octets, sizeof(octets)), 1);
    EVP_MD_CTX_free(ctx);
    assert_true(x509_verify_sig_key(k->rsa, X509_AUTH_DIGITAL_SIG, auth, alen + slen, octets,
                                    sizeof(octets), NULL, 0));
    auth[alen + 3] ^= 1;
    assert_false(x509_verify_sig_key(k->rsa, X509_AUTH_DIGITAL_SIG, auth, alen + slen, octets,
                                     sizeof(octets), NULL, 0));
}

static void test_key_must_fit_method(void **state)
{
    struct keys *k = *state;
    struct x509_buf sig = {0};
    char err[X509_ERR_MAX];
    assert_int_equal(x509_sign(k->p256, X509_AUTH_RSA_SIG, 0, octets, 4, &sig, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "sign: method 1 needs an RSA key");
    assert_int_equal(x509_sign(k->rsa, X509_AUTH_ECDSA_256, 0, octets, 4, &sig, err, sizeof(err)),
                     -1);
    assert_int_equal(x509_sign(k->p256, X509_AUTH_ECDSA_384, 0, octets, 4, &sig, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "sign: method 10 needs an ECDSA key on its curve");
    assert_int_equal(
        x509_sign(k->p256, (enum x509_auth_method)2, 0, octets, 4, &sig, err, sizeof(err)), -1);
    assert_int_equal(
        x509_sign(k->rsa, X509_AUTH_DIGITAL_SIG, X509_HASH_SHA1, octets, 4, &sig, err, sizeof(err)),
        -1);
    assert_null(sig.data);

    /* An EC signature presented for an RSA key and the other way round. */
    assert_int_equal(
        x509_sign(k->p256, X509_AUTH_DIGITAL_SIG, X509_HASH_SHA256, octets, 4, &sig, NULL, 0), 0);
    assert_false(x509_verify_sig_key(k->rsa, X509_AUTH_DIGITAL_SIG, sig.data, sig.len, octets, 4,
                                     err, sizeof(err)));
    assert_string_equal(err, "auth: signature algorithm does not fit the key");
    assert_false(
        x509_verify_sig_key(k->p384, X509_AUTH_DIGITAL_SIG, sig.data, sig.len, octets, 4, NULL, 0));
    x509_buf_free(&sig);
    assert_int_equal(x509_sign(k->p256, X509_AUTH_ECDSA_256, 0, octets, 4, &sig, NULL, 0), 0);
    assert_false(
        x509_verify_sig_key(k->p384, X509_AUTH_ECDSA_256, sig.data, sig.len, octets, 4, NULL, 0));
    x509_buf_free(&sig);
}

static void test_verify_with_certificate(void **state)
{
    struct keys *k = *state;
    struct x509_buf sig = {0};
    assert_int_equal(x509_sign(k->leaf.key, X509_AUTH_DIGITAL_SIG, X509_HASH_SHA384, octets,
                               sizeof(octets), &sig, NULL, 0),
                     0);
    assert_true(x509_verify_sig(k->leaf.cert, X509_AUTH_DIGITAL_SIG, sig.data, sig.len, octets,
                                sizeof(octets), NULL, 0));
    assert_false(x509_verify_sig(k->ca.cert, X509_AUTH_DIGITAL_SIG, sig.data, sig.len, octets,
                                 sizeof(octets), NULL, 0));
    assert_false(x509_verify_sig(NULL, X509_AUTH_DIGITAL_SIG, sig.data, sig.len, octets,
                                 sizeof(octets), NULL, 0));
    x509_buf_free(&sig);
}

static void test_garbage_auth_data(void **state)
{
    struct keys *k = *state;
    char err[X509_ERR_MAX];
    uint8_t junk[600];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    EVP_PKEY *keys[] = {k->rsa, k->p256, k->p384, k->p521};
    enum x509_auth_method ms[] = {X509_AUTH_RSA_SIG, X509_AUTH_ECDSA_256, X509_AUTH_ECDSA_384,
                                  X509_AUTH_ECDSA_521, X509_AUTH_DIGITAL_SIG};
    for (size_t i = 0; i < 4; i++)
        for (size_t m = 0; m < 5; m++)
            for (size_t n = 0; n <= sizeof(junk); n += 61)
                assert_false(x509_verify_sig_key(keys[i], ms[m], junk, n, octets, sizeof(octets),
                                                 err, sizeof(err)));
    /* AlgorithmIdentifier longer than the data, and an unknown one. */
    uint8_t a[] = {0x20, 0x30, 0x0a};
    assert_false(x509_verify_sig_key(k->p256, X509_AUTH_DIGITAL_SIG, a, sizeof(a), octets, 4, err,
                                     sizeof(err)));
    assert_string_equal(err, "auth: truncated signature data");
    uint8_t b[] = {0x02, 0x30, 0x00, 0x01, 0x02};
    assert_false(x509_verify_sig_key(k->p256, X509_AUTH_DIGITAL_SIG, b, sizeof(b), octets, 4, err,
                                     sizeof(err)));
    assert_string_equal(err, "auth: unsupported signature algorithm");
    /* r||s of the right size but r = 0 or s >= n */
    uint8_t zero[64] = {0};
    assert_false(x509_verify_sig_key(k->p256, X509_AUTH_ECDSA_256, zero, 64, octets, 4, NULL, 0));
    uint8_t ff[64];
    memset(ff, 0xff, sizeof(ff));
    assert_false(x509_verify_sig_key(k->p256, X509_AUTH_ECDSA_256, ff, 64, octets, 4, NULL, 0));
}

static void test_pick_method(void **state)
{
    struct keys *k = *state;
    enum x509_auth_method m;
    enum x509_hash h;
    const unsigned all = 1u << X509_HASH_SHA256 | 1u << X509_HASH_SHA384 | 1u << X509_HASH_SHA512;
    static const struct {
        int key; /* 0 rsa, 1 p256, 2 p384, 3 p521 */
        unsigned peer;
        enum x509_auth_method m;
        enum x509_hash h;
    } cases[] = {
        {0, 0, X509_AUTH_RSA_SIG, X509_HASH_SHA1},
        {1, 0, X509_AUTH_ECDSA_256, X509_HASH_SHA256},
        {2, 0, X509_AUTH_ECDSA_384, X509_HASH_SHA384},
        {3, 0, X509_AUTH_ECDSA_521, X509_HASH_SHA512},
        {0, all, X509_AUTH_DIGITAL_SIG, X509_HASH_SHA512},
        {1, all, X509_AUTH_DIGITAL_SIG, X509_HASH_SHA256},
        {2, all, X509_AUTH_DIGITAL_SIG, X509_HASH_SHA384},
        {3, all, X509_AUTH_DIGITAL_SIG, X509_HASH_SHA512},
        {0, 1u << X509_HASH_SHA256, X509_AUTH_DIGITAL_SIG, X509_HASH_SHA256},
        {1, 1u << X509_HASH_SHA512, X509_AUTH_DIGITAL_SIG, X509_HASH_SHA512},
        /* only SHA-1 announced: classic method */
        {1, 1u << X509_HASH_SHA1, X509_AUTH_ECDSA_256, X509_HASH_SHA256},
    };
    EVP_PKEY *keys[] = {k->rsa, k->p256, k->p384, k->p521};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(x509_pick_method(keys[cases[i].key], cases[i].peer, &m, &h), 0);
        assert_int_equal(m, cases[i].m);
        assert_int_equal(h, cases[i].h);
        /* and what it picks works */
        round_trip(keys[cases[i].key], m, h, 0);
    }
    assert_int_equal(x509_pick_method(NULL, all, &m, &h), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classic_methods),
        cmocka_unit_test(test_digital_signature_method),
        cmocka_unit_test(test_classic_against_openssl),
        cmocka_unit_test(test_algids_are_rfc7427),
        cmocka_unit_test(test_pss_from_peer),
        cmocka_unit_test(test_key_must_fit_method),
        cmocka_unit_test(test_verify_with_certificate),
        cmocka_unit_test(test_garbage_auth_data),
        cmocka_unit_test(test_pick_method),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
