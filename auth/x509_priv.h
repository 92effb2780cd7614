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

/* Appends field=value to name, cutting value to the ub of 64 characters
 * (at a UTF-8 character boundary). 0, or -1 if value is not UTF-8. */
int x509_name_add(X509_NAME *name, const char *field, const char *value);

/* A new v3 certificate: random 128-bit serial, subject, public key of key,
 * issuer = issuer's subject (or subject, for issuer NULL), valid from
 * now - 5 minutes until now + days. NULL on failure. */
X509 *x509_new_cert(X509_NAME *subject, EVP_PKEY *key, X509 *issuer, int64_t now, unsigned days);

/* Adds an extension from its OpenSSL config text (fixed strings only, never
 * user input). issuer NULL: self-issued. 0, or -1. */
int x509_add_ext(X509 *cert, X509 *issuer, int nid, const char *value);

/* Signs cert with the issuer key and fills *out; takes ownership of cert
 * and key (freed on failure). 0, or -1. */
int x509_finish_issued(X509 *cert, EVP_PKEY *key, EVP_PKEY *issuer_key, struct x509_issued *out);

#endif
