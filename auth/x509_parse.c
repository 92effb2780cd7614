/*
 * Reading certificates, chains and CRLs (PEM from operators, DER from IKE
 * peers), and the facts and identities a certificate carries.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "auth/x509_priv.h"
#include "concentrator/wire.h"

#define PEM_MAX (1024 * 1024) /* no certificate text is larger */
#define DER_MAX (64 * 1024)   /* IKE payloads are smaller still */

X509 *x509_cert_from_der(const uint8_t *der, size_t len, char *err, size_t errlen)
{
    X509 *cert = NULL;
    if (!der || !len || len > DER_MAX) {
        x509_fail(err, errlen, "certificate: empty or too large (%zu bytes)", len);
        return NULL;
    }
    const unsigned char *p = der;
    cert = d2i_X509(NULL, &p, (long)len);
    if (!cert) {
        x509_fail(err, errlen, "certificate: not a DER X.509 certificate");
        return NULL;
    }
    if (p != der + len) {
        X509_free(cert);
        x509_fail(err, errlen, "certificate: %zu bytes after the certificate",
                  len - (size_t)(p - der));
        return NULL;
    }
    return cert;
}

static bool is_cert_block(const char *name)
{
    return !strcmp(name, PEM_STRING_X509) || !strcmp(name, PEM_STRING_X509_OLD) ||
           !strcmp(name, PEM_STRING_X509_TRUSTED);
}

/* Reads the PEM blocks of text one by one: each must be a certificate. */
static STACK_OF(X509) *
    read_certs(const char *what, const char *pem, size_t len, size_t max, char *err, size_t errlen)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *bio = NULL;
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    bool ok = false;
    if (!sk)
        goto done;
    if (!pem || !len) {
        ok = true;
        goto done;
    }
    if (len > PEM_MAX) {
        x509_fail(err, errlen, "%s: too large", what);
        goto done;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        goto done;
    for (size_t i = 0;; i++) {
        if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                ok = i > 0;
                if (!ok)
                    x509_fail(err, errlen, "%s: no PEM certificate found", what);
            } else {
                x509_fail(err, errlen, "%s: block %zu is not valid PEM", what, i);
            }
            break;
        }
        if (i >= max) {
            x509_fail(err, errlen, "%s: more than %zu certificates", what, max);
            break;
        }
        if (!is_cert_block(name)) {
            x509_fail(err, errlen, "%s: block %zu is a %.40s, not a CERTIFICATE", what, i, name);
            break;
        }
        const unsigned char *p = data;
        X509 *c = d2i_X509(NULL, &p, dlen);
        if (!c || p != data + dlen || !sk_X509_push(sk, c)) {
            X509_free(c);
            x509_fail(err, errlen, "%s: block %zu is not a valid X.509 certificate", what, i);
            break;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
    }
done:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
    ERR_clear_error();
    if (!ok) {
        sk_X509_pop_free(sk, X509_free);
        return NULL;
    }
    return sk;
}

X509 *x509_cert_from_pem(const char *pem, size_t len, char *err, size_t errlen)
{
    if (!pem || !len) {
        x509_fail(err, errlen, "certificate: empty");
        return NULL;
    }
    STACK_OF(X509) *sk = read_certs("certificate", pem, len, 16, err, errlen);
    if (!sk)
        return NULL;
    X509 *c = sk_X509_shift(sk);
    sk_X509_pop_free(sk, X509_free);
    return c;
}

STACK_OF(X509) * x509_chain_from_pem(const char *pem, size_t len, char *err, size_t errlen)
{
    return read_certs("chain", pem, len, 16, err, errlen);
}

int x509_cert_to_pem(X509 *cert, struct x509_buf *out)
{
    int rc = -1;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio && cert && PEM_write_bio_X509(bio, cert))
        rc = x509_bio_to_buf(bio, out);
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

int x509_cert_to_der(X509 *cert, struct x509_buf *out)
{
    unsigned char *der = NULL;
    int n = cert ? i2d_X509(cert, &der) : -1;
    if (n <= 0) {
        ERR_clear_error();
        return -1;
    }
    out->data = malloc((size_t)n);
    if (!out->data) {
        OPENSSL_free(der);
        return -1;
    }
    memcpy(out->data, der, (size_t)n);
    out->len = (size_t)n;
    OPENSSL_free(der);
    return 0;
}

X509_CRL *x509_crl_from_pem(const char *pem, size_t len, char *err, size_t errlen)
{
    X509_CRL *crl = NULL;
    if (!pem || !len || len > 16 * PEM_MAX) {
        x509_fail(err, errlen, "crl: empty or too large");
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio)
        crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!crl)
        x509_fail(err, errlen, "crl: not a PEM X.509 CRL");
    ERR_clear_error();
    return crl;
}

X509_CRL *x509_crl_from_der(const uint8_t *der, size_t len, char *err, size_t errlen)
{
    if (!der || !len || len > (size_t)INT_MAX) {
        x509_fail(err, errlen, "crl: empty or too large");
        return NULL;
    }
    const unsigned char *p = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
    if (crl && p != der + len) {
        X509_CRL_free(crl);
        crl = NULL;
    }
    if (!crl)
        x509_fail(err, errlen, "crl: not a DER X.509 CRL");
    return crl;
}

int64_t x509_asn1_time(const ASN1_TIME *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!t || !ASN1_TIME_to_tm(t, &tm)) {
        ERR_clear_error();
        return 0;
    }
    return (int64_t)timegm(&tm);
}

void x509_name_text(const X509_NAME *name, char *out, size_t outlen)
{
    out[0] = 0;
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return;
    /* RFC 2253 with UTF-8 kept as is, control characters escaped. */
    unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
    if (X509_NAME_print_ex(bio, name, 0, flags) >= 0) {
        char *p = NULL;
        long n = BIO_get_mem_data(bio, &p);
        if (n > 0 && p) {
            size_t k = (size_t)n < outlen - 1 ? (size_t)n : outlen - 1;
            memcpy(out, p, k);
            out[k] = 0;
        }
    }
    BIO_free(bio);
    ERR_clear_error();
}

void x509_serial_hex(const ASN1_INTEGER *serial, char *out, size_t outlen)
{
    out[0] = 0;
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        snprintf(out, outlen, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    ERR_clear_error();
}

/* Printable ASCII without spaces: what we accept as a name from a SAN. */
static bool printable(const unsigned char *p, int n)
{
    if (n <= 0)
        return false;
    for (int i = 0; i < n; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f)
            return false;
    return true;
}

static int push_id(struct x509_ids *ids, enum x509_id_type type, const uint8_t *data, size_t len,
                   const char *prefix, const char *text)
{
    struct x509_id *v = realloc(ids->v, (ids->n + 1) * sizeof(*v));
    if (!v)
        return -1;
    ids->v = v;
    struct x509_id *id = &v[ids->n];
    id->type = type;
    id->data = malloc(len ? len : 1);
    size_t tl = strlen(prefix) + strlen(text) + 1;
    id->text = malloc(tl);
    if (!id->data || !id->text) {
        free(id->data);
        free(id->text);
        return -1;
    }
    if (len)
        memcpy(id->data, data, len);
    id->len = len;
    snprintf(id->text, tl, "%s%s", prefix, text);
    ids->n++;
    return 0;
}

void x509_ids_free(struct x509_ids *ids)
{
    if (!ids)
        return;
    for (size_t i = 0; i < ids->n; i++) {
        free(ids->v[i].data);
        free(ids->v[i].text);
    }
    free(ids->v);
    ids->v = NULL;
    ids->n = 0;
}

/* Appends the SANs of cert that are IKE identities. */
static int add_sans(X509 *cert, struct x509_ids *ids)
{
    int rc = 0;
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    char buf[INET6_ADDRSTRLEN + 1];
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && rc == 0; i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        int type = 0;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
        if (!s)
            continue;
        const unsigned char *d = ASN1_STRING_get0_data(s);
        int n = ASN1_STRING_length(s);
        char text[256];
        if ((type == GEN_DNS || type == GEN_EMAIL) && printable(d, n) && n < (int)sizeof(text)) {
            memcpy(text, d, (size_t)n);
            text[n] = 0;
            if (type == GEN_DNS)
                rc = push_id(ids, X509_ID_FQDN, d, (size_t)n, "DNS:", text);
            else
                rc = push_id(ids, X509_ID_RFC822, d, (size_t)n, "email:", text);
        } else if (type == GEN_IPADD && (n == 4 || n == 16)) {
            if (!inet_ntop(n == 4 ? AF_INET : AF_INET6, d, buf, sizeof(buf)))
                continue;
            rc = push_id(ids, n == 4 ? X509_ID_IPV4 : X509_ID_IPV6, d, (size_t)n, "IP:", buf);
        }
    }
    GENERAL_NAMES_free(gens);
    ERR_clear_error();
    return rc;
}

int x509_cert_identities(X509 *cert, struct x509_ids *out)
{
    memset(out, 0, sizeof(*out));
    if (!cert)
        return -1;
    unsigned char *der = NULL;
    char text[X509_TEXT_MAX];
    const X509_NAME *subject = X509_get_subject_name(cert);
    int n = i2d_X509_NAME(subject, &der);
    if (n <= 0)
        goto fail;
    x509_name_text(subject, text, sizeof(text));
    int rc = push_id(out, X509_ID_DER_ASN1_DN, der, (size_t)n, "DN:", text);
    OPENSSL_free(der);
    if (rc < 0 || add_sans(cert, out) < 0)
        goto fail;
    return 0;
fail:
    x509_ids_free(out);
    ERR_clear_error();
    return -1;
}

static bool same_ascii(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (tolower(a[i]) != tolower(b[i]))
            return false;
    return true;
}

bool x509_cert_matches_id(X509 *cert, uint8_t id_type, const uint8_t *data, size_t len)
{
    struct x509_ids ids;
    bool found = false;
    if (!cert || !data || !len || len > DER_MAX)
        return false;
    if (id_type == X509_ID_DER_ASN1_DN) {
        const unsigned char *p = data;
        X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)len);
        found = name && p == data + len && X509_NAME_cmp(name, X509_get_subject_name(cert)) == 0;
        X509_NAME_free(name);
        ERR_clear_error();
        return found;
    }
    if (x509_cert_identities(cert, &ids) < 0)
        return false;
    for (size_t i = 0; i < ids.n && !found; i++) {
        const struct x509_id *id = &ids.v[i];
        if (id->type != id_type)
            continue;
        if (id_type == X509_ID_FQDN || id_type == X509_ID_RFC822)
            found = same_ascii(id->data, id->len, data, len);
        else if (id_type == X509_ID_IPV4 || id_type == X509_ID_IPV6)
            found = id->len == len && !memcmp(id->data, data, len);
    }
    x509_ids_free(&ids);
    return found;
}

void x509_facts_free(struct x509_facts *f)
{
    if (!f)
        return;
    x509_ids_free(&f->ids);
    for (size_t i = 0; i < f->n_sans; i++)
        free(f->sans[i]);
    free(f->sans);
    f->sans = NULL;
    f->n_sans = 0;
}

int x509_cert_facts(X509 *cert, struct x509_facts *f)
{
    memset(f, 0, sizeof(*f));
    if (!cert)
        return -1;
    x509_name_text(X509_get_subject_name(cert), f->subject, sizeof(f->subject));
    x509_name_text(X509_get_issuer_name(cert), f->issuer, sizeof(f->issuer));
    x509_serial_hex(X509_get0_serialNumber(cert), f->serial, sizeof(f->serial));
    f->not_before = x509_asn1_time(X509_get0_notBefore(cert));
    f->not_after = x509_asn1_time(X509_get0_notAfter(cert));
    f->is_ca = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
    x509_key_describe(X509_get0_pubkey(cert), f->key_type, sizeof(f->key_type));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!X509_digest(cert, EVP_sha256(), md, &mdlen))
        goto fail;
    for (unsigned i = 0; i < mdlen && i < 32; i++)
        snprintf(f->sha256 + 2 * i, 3, "%02x", md[i]);
    if (x509_cert_identities(cert, &f->ids) < 0)
        goto fail;
    if (f->ids.n > 1) {
        f->sans = calloc(f->ids.n - 1, sizeof(*f->sans));
        if (!f->sans)
            goto fail;
        for (size_t i = 1; i < f->ids.n; i++) {
            f->sans[f->n_sans] = strdup(f->ids.v[i].text);
            if (!f->sans[f->n_sans])
                goto fail;
            f->n_sans++;
        }
    }
    ERR_clear_error();
    return 0;
fail:
    x509_facts_free(f);
    ERR_clear_error();
    return -1;
}

int x509_spki_sha1(X509 *cert, uint8_t out[20])
{
    unsigned char *der = NULL;
    unsigned int mdlen = 0;
    int n = cert ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : -1;
    int rc = -1;
    if (n > 0 && EVP_Digest(der, (size_t)n, out, &mdlen, EVP_sha1(), NULL) && mdlen == 20)
        rc = 0;
    OPENSSL_free(der);
    ERR_clear_error();
    return rc;
}

bool x509_certreq_names(X509 *ca, const uint8_t *certreq, size_t len)
{
    uint8_t mine[20];
    if (!ca || !certreq || !len || len % 20 || x509_spki_sha1(ca, mine) < 0)
        return false;
    struct rd r = rd_init(certreq, len);
    for (size_t i = 0; i < len / 20; i++) {
        const uint8_t *h = rd_bytes(&r, 20);
        if (h && !memcmp(h, mine, 20))
            return true;
    }
    return false;
}
