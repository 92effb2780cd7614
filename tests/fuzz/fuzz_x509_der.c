/*
 * Untrusted X.509 bytes from IKE peers: a CERT payload (DER certificate),
 * CRLs, identities and AUTH data. The first byte picks the entry point;
 * every path must fail cleanly on garbage (no crash, no leak under ASan).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/x509.h"

static struct x509_issued ca;
static EVP_PKEY *p256, *rsa;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (x509_ca_create("fuzz", "Fuzz", X509_KEY_EC_P256, 1800000000, &ca, NULL, 0))
        abort();
    p256 = x509_key_generate(X509_KEY_EC_P256);
    rsa = x509_key_generate(X509_KEY_RSA_2048);
    if (!p256 || !rsa)
        abort();
    return 0;
}

static void certificate(const uint8_t *d, size_t n)
{
    char why[X509_ERR_MAX];
    X509 *leaf = NULL;
    x509_verify_client(d, n, NULL, 0, ca.cert, NULL, 1800000000, &leaf, why, sizeof(why));
    X509_free(leaf);
    X509 *c = x509_cert_from_der(d, n, why, sizeof(why));
    if (!c)
        return;
    struct x509_facts f;
    if (x509_cert_facts(c, &f) == 0) {
        for (size_t i = 0; i < f.ids.n; i++)
            (void)x509_cert_matches_id(c, (uint8_t)f.ids.v[i].type, f.ids.v[i].data,
                                       f.ids.v[i].len);
        x509_facts_free(&f);
    }
    uint8_t h[20];
    (void)x509_spki_sha1(c, h);
    (void)x509_verify_sig(c, X509_AUTH_DIGITAL_SIG, d, n > 200 ? 200 : n, d, n, NULL, 0);
    struct x509_der chain = {d, n};
    x509_verify_client(d, n, &chain, 1, ca.cert, NULL, 1800000000, NULL, why, sizeof(why));
    X509_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (sel % 8) {
    case 0:
        certificate(d, n);
        break;
    case 1: {
        X509_CRL *crl = x509_crl_from_der(d, n, NULL, 0);
        X509_CRL_free(crl);
        break;
    }
    case 2:
        for (uint8_t t = 1; t <= 9; t++)
            (void)x509_cert_matches_id(ca.cert, t, d, n);
        break;
    case 3:
        (void)x509_certreq_names(ca.cert, d, n);
        break;
    case 4: {
        static const enum x509_auth_method ms[] = {X509_AUTH_RSA_SIG, X509_AUTH_ECDSA_256,
                                                   X509_AUTH_ECDSA_384, X509_AUTH_ECDSA_521,
                                                   X509_AUTH_DIGITAL_SIG};
        enum x509_auth_method m = ms[(sel >> 3) % 5];
        (void)x509_verify_sig_key(p256, m, d, n, data, size, NULL, 0);
        (void)x509_verify_sig_key(rsa, m, d, n, data, size, NULL, 0);
        break;
    }
    case 5: {
        /* PEM paths (uploads): text with a NUL at the end. */
        char *text = malloc(n + 1);
        if (!text)
            return 0;
        memcpy(text, d, n);
        text[n] = 0;
        struct x509_facts f;
        char err[X509_ERR_MAX];
        if (x509_upload_check(text, text, text, 1800000000, &f, err, sizeof(err)) == 0)
            x509_facts_free(&f);
        X509_CRL_free(x509_crl_from_pem(text, n, NULL, 0));
        free(text);
        break;
    }
    case 6: {
        struct x509_der chain[2] = {{d, n / 2}, {d + n / 2, n - n / 2}};
        char why[X509_ERR_MAX];
        x509_verify_client(d, n, chain, 2, ca.cert, NULL, 1800000000, NULL, why, sizeof(why));
        break;
    }
    default: {
        STACK_OF(X509) *sk = x509_chain_from_pem((const char *)d, n, NULL, 0);
        sk_X509_pop_free(sk, X509_free);
        EVP_PKEY_free(x509_key_from_pem((const char *)d, n, NULL, 0));
        break;
    }
    }
    return 0;
}
