/*
 * Helpers shared by the auth/x509_*.c files; not for other modules (they
 * use auth/x509.h).
 */
#ifndef ISTHMUS_AUTH_X509_PRIV_H
#define ISTHMUS_AUTH_X509_PRIV_H

#include <stdarg.h>

#include <openssl/bio.h>

#include "auth/x509.h"

/* Writes a formatted line to err (if err and errlen), and clears the
 * OpenSSL error queue of this thread. Always returns -1. */
int x509_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Moves a memory BIO's contents into out (NUL-terminated). 0, or -1. */
int x509_bio_to_buf(BIO *bio, struct x509_buf *out);

/* Certificate times as Unix seconds; 0 if unreadable. */
int64_t x509_asn1_time(const ASN1_TIME *t);

/* A name as RFC 2253 text into out. */
void x509_name_text(const X509_NAME *name, char *out, size_t outlen);

/* A serial number as upper-case hex into out; "" on failure. */
void x509_serial_hex(const ASN1_INTEGER *serial, char *out, size_t outlen);

/* The digest a certificate/CRL is signed with for this key: SHA-256 for
 * RSA and P-256, SHA-384 for P-384, SHA-512 for P-521. */
const EVP_MD *x509_sign_md(EVP_PKEY *key);

/* The EC curve's field size in bytes (32, 48, 66), or 0 for other keys. */
size_t x509_ec_field_len(EVP_PKEY *key);

#endif
