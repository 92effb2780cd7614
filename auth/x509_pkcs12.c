/*
 * PKCS#12 bundles for users' client certificates, handed out once.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>

#include "auth/x509_priv.h"

#define P12_ITER 2048 /* PKCS12_DEFAULT_ITER: PBKDF2 and MAC iterations */

int x509_pkcs12(X509 *cert, EVP_PKEY *key, X509 *ca, const char *password,
                const char *friendly_name, bool legacy, struct x509_buf *out, char *err,
                size_t errlen)
{
    int rc = -1;
    STACK_OF(X509) *cas = NULL;
    PKCS12 *p12 = NULL;
    unsigned char *der = NULL;
    int n = 0;
    memset(out, 0, sizeof(*out));
    if (!cert || !key) {
        x509_fail(err, errlen, "certificate: missing");
        goto done;
    }
    if (!password || !*password) {
        x509_fail(err, errlen, "password: required to protect the PKCS#12 file");
        goto done;
    }
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
        x509_fail(err, errlen, "private_key: does not match the certificate");
        goto done;
    }
    if (ca) {
        cas = sk_X509_new_null();
        if (!cas || !sk_X509_push(cas, ca))
            goto fail;
    }
    int nid = legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
    /* mac_iter -1: no MAC yet; it is set below with the digest we choose. */
    p12 = PKCS12_create_ex(password, friendly_name, key, cert, cas, nid, nid, P12_ITER, -1, 0, NULL,
                           NULL);
    if (!p12 ||
        !PKCS12_set_mac(p12, password, -1, NULL, 0, P12_ITER, legacy ? EVP_sha1() : EVP_sha256()))
        goto fail;
    n = i2d_PKCS12(p12, &der);
    if (n <= 0)
        goto fail;
    out->data = malloc((size_t)n);
    if (!out->data)
        goto fail;
    memcpy(out->data, der, (size_t)n);
    out->len = (size_t)n;
    rc = 0;
    goto done;
fail:
    x509_fail(err, errlen, "pkcs12: cannot build the bundle");
done:
    if (der) {
        OPENSSL_cleanse(der, (size_t)n);
        OPENSSL_free(der);
    }
    PKCS12_free(p12);
    sk_X509_free(cas); /* the CA certificate is borrowed */
    ERR_clear_error();
    return rc;
}
