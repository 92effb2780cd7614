/*
 * X.509 for Isthmus: each tenant's CA, the certificates it issues (gateway
 * server certificates, user client certificates, PKCS#12 bundles), uploaded
 * external server certificates, revocation and CRLs, verification of the
 * certificates IKE peers present, and the signatures of IKE_AUTH.
 *
 * OpenSSL 3 EVP only. Keys are EVP_PKEY, certificates X509, CRLs X509_CRL:
 * the caller owns every object a function returns (free it with
 * EVP_PKEY_free / X509_free / X509_CRL_free / sk_X509_pop_free(sk,
 * X509_free) as usual); arguments are borrowed unless a comment says otherwise.
 *
 * Byte and text results come in a struct x509_buf that the caller owns and
 * releases with x509_buf_free(), which wipes it first (it may hold a private
 * key). PEM results are NUL-terminated; len does not count the NUL.
 *
 * Errors: functions that can fail for a reason a user should read take
 * (char *err, size_t errlen) and write one line there that starts with the
 * thing that is wrong: "certificate: ...", "chain: ...", "private_key: ...",
 * "identity ...", "password: ...". err may be NULL. No secret is ever
 * written to err or to the log.
 *
 * Times are Unix seconds (int64_t); functions take "now" so tests are
 * deterministic. Serial numbers are text: upper-case hex, no separators,
 * as `openssl x509 -noout -serial` prints them (the certificates.serial
 * column).
 *
 * Thread safety: every function is reentrant; objects may be shared between
 * threads read-only (e.g. the tenant CA in the IKE snapshot) once built.
 */
#ifndef ISTHMUS_AUTH_X509_H
#define ISTHMUS_AUTH_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct seal_key; /* auth/seal.h */

/* ------------------------------------------------------------------ */
/* Buffers and errors                                                 */

struct x509_buf {
    uint8_t *data; /* malloc'd; PEM text is NUL-terminated */
    size_t len;
};

/* Wipes and frees b->data, then zeroes *b. Accepts NULL and empty buffers. */
void x509_buf_free(struct x509_buf *b);

#define X509_ERR_MAX    256 /* a good size for err buffers */
#define X509_SERIAL_MAX 48  /* hex serial + NUL (20 octets = 40 digits) */
#define X509_TEXT_MAX   512 /* subject / issuer one-line text */

/* ------------------------------------------------------------------ */
/* Keys                                                               */

enum x509_key_type {
    X509_KEY_EC_P256 = 0, /* the default */
    X509_KEY_EC_P384,
    X509_KEY_EC_P521,
    X509_KEY_RSA_2048,
    X509_KEY_RSA_3072, /* "RSA on request" */
    X509_KEY_RSA_4096,
};

/* "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048", "rsa-3072",
 * "rsa-4096" (also "ec"/"ecdsa" = P-256, "rsa" = RSA-3072). */
bool x509_key_type_parse(const char *s, enum x509_key_type *out);
const char *x509_key_type_name(enum x509_key_type t);

/* A new key pair; NULL on failure. RSA-3072 takes about a second. */
EVP_PKEY *x509_key_generate(enum x509_key_type t);

/* Reads a private key from PEM (PKCS#8, or traditional "RSA PRIVATE KEY" /
 * "EC PRIVATE KEY"); encrypted PEM is refused. NULL with err on failure. */
EVP_PKEY *x509_key_from_pem(const char *pem, size_t len, char *err, size_t errlen);

/* Unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"). 0, or -1. */
int x509_key_to_pem(EVP_PKEY *key, struct x509_buf *out);

/* Seals the key (PKCS#8 DER) with seal() under context "x509-key": the
 * bytes to store in certificates.key_sealed. 0, or -1. */
int x509_key_seal(const struct seal_key *sk, EVP_PKEY *key, struct x509_buf *out);
/* Opens what x509_key_seal wrote. NULL if forged, wrong key, or garbage. */
EVP_PKEY *x509_key_unseal(const struct seal_key *sk, const uint8_t *blob, size_t len);

/* "ECDSA P-256", "RSA 3072", ...: for facts and logs. */
void x509_key_describe(EVP_PKEY *key, char *out, size_t outlen);

/* ------------------------------------------------------------------ */
/* Certificates, chains, CRLs: parsing and encoding                   */

/* One certificate from PEM (the first one, if several). NULL with err. */
X509 *x509_cert_from_pem(const char *pem, size_t len, char *err, size_t errlen);
/* One certificate from DER bytes a peer sent (IKE CERT payload, encoding
 * 4). Untrusted input: fails cleanly (NULL) on garbage, trailing bytes
 * included. */
X509 *x509_cert_from_der(const uint8_t *der, size_t len, char *err, size_t errlen);
/* Every certificate in a PEM text, in order. An empty or NULL text gives
 * an empty stack. NULL with err if any block is not a certificate. Free
 * with sk_X509_pop_free(sk, X509_free). */
STACK_OF(X509) * x509_chain_from_pem(const char *pem, size_t len, char *err, size_t errlen);

int x509_cert_to_pem(X509 *cert, struct x509_buf *out);
int x509_cert_to_der(X509 *cert, struct x509_buf *out);

X509_CRL *x509_crl_from_pem(const char *pem, size_t len, char *err, size_t errlen);
X509_CRL *x509_crl_from_der(const uint8_t *der, size_t len, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* Identities a certificate proves (for IDi/IDr checks in IKE_AUTH)   */

/* IKEv2 identification types (RFC 7296 3.5); the values are the wire's. */
enum x509_id_type {
    X509_ID_IPV4 = 1,
    X509_ID_FQDN = 2,
    X509_ID_RFC822 = 3,
    X509_ID_IPV6 = 5,
    X509_ID_DER_ASN1_DN = 9,
};

struct x509_id {
    enum x509_id_type type;
    uint8_t *data; /* as in an IKE ID payload: 4/16 address bytes, ASCII
                      name, or the DER of the subject Name */
    size_t len;
    char *text; /* "DNS:vpn.acme.example", "IP:192.0.2.1", "email:a@b",
                   "DN:CN=alice,O=acme" (RFC 2253) */
};

struct x509_ids {
    struct x509_id *v;
    size_t n;
};

/* Lists what the certificate can be used to prove, in IKE terms: the
 * subject DN first (ID_DER_ASN1_DN; strongSwan's default IDi with a
 * certificate, and what Windows machine/user-certificate clients send),
 * then every subjectAltName of type dNSName (ID_FQDN), rfc822Name
 * (ID_RFC822_ADDR) and iPAddress (ID_IPV4_ADDR / ID_IPV6_ADDR), in
 * certificate order. Other SAN kinds are skipped. The common name is NOT
 * an identity (strongSwan and RFC 4945 match SANs only). 0, or -1.
 * Free with x509_ids_free(). */
int x509_cert_identities(X509 *cert, struct x509_ids *out);
void x509_ids_free(struct x509_ids *ids);

/* True if the certificate proves the IKE identity (type, data, len) as a
 * peer sent it: DN by value (X509_NAME_cmp), FQDN and RFC822 without
 * regard to ASCII case, addresses byte for byte. Untrusted input: any
 * garbage just gives false. */
bool x509_cert_matches_id(X509 *cert, uint8_t id_type, const uint8_t *data, size_t len);

/* ------------------------------------------------------------------ */
/* Facts about a certificate (API responses, database columns)        */

struct x509_facts {
    char subject[X509_TEXT_MAX]; /* RFC 2253, e.g. "CN=alice,O=acme" */
    char issuer[X509_TEXT_MAX];
    char serial[X509_SERIAL_MAX]; /* upper-case hex */
    int64_t not_before, not_after;
    bool is_ca;
    char key_type[32];   /* "ECDSA P-256", "RSA 3072" */
    char sha256[65];     /* fingerprint of the DER, lower-case hex */
    struct x509_ids ids; /* as x509_cert_identities (DN + SANs) */
    char **sans;         /* the SANs alone as text ("DNS:...") */
    size_t n_sans;
};

/* Fills *f (which the caller then frees with x509_facts_free). 0, or -1. */
int x509_cert_facts(X509 *cert, struct x509_facts *f);
void x509_facts_free(struct x509_facts *f);

/* SHA-1 of the certificate's DER SubjectPublicKeyInfo: what a CERTREQ
 * payload (encoding 4) lists for each CA the peer trusts. 0, or -1. */
int x509_spki_sha1(X509 *cert, uint8_t out[20]);
/* True if the CERTREQ data (a concatenation of 20-byte SHA-1 hashes; a
 * length that is not a multiple of 20 gives false) names this CA. */
bool x509_certreq_names(X509 *ca, const uint8_t *certreq, size_t len);

/* ------------------------------------------------------------------ */
/* Issuing                                                            */

/* A tenant CA in memory: the certificate and its private key. */
struct x509_ca {
    X509 *cert;
    EVP_PKEY *key;
};

/* Loads a CA from its stored form (cert PEM and the sealed key); checks
 * that the key belongs to the certificate. 0, or -1 with err. */
int x509_ca_load(struct x509_ca *ca, const char *cert_pem, const uint8_t *key_sealed,
                 size_t key_sealed_len, const struct seal_key *sk, char *err, size_t errlen);
/* Frees both objects and zeroes *ca. Accepts NULL. */
void x509_ca_free(struct x509_ca *ca);

/* What an issuing call returns. The caller owns it and frees it with
 * x509_issued_free (which wipes the key PEM). */
struct x509_issued {
    X509 *cert;    /* the new certificate */
    EVP_PKEY *key; /* its private key */
    struct x509_buf cert_pem;
    struct x509_buf key_pem; /* PKCS#8 PEM, unencrypted: seal it or hand it
                                out once, never store or log it as is */
    struct x509_facts facts;
};
void x509_issued_free(struct x509_issued *is);

/* Creates a tenant CA: a new key of the given type, self-signed,
 * subject "CN=<tenant_name> VPN CA, O=<tenant_id>", random 128-bit serial,
 * basicConstraints CA:TRUE (critical), keyUsage keyCertSign + cRLSign
 * (critical), subjectKeyIdentifier, SHA-256 (P-256, RSA) / SHA-384 (P-384)
 * / SHA-512 (P-521) signature, valid from now - 5 min for 10 years.
 * 0, or -1 with err. */
int x509_ca_create(const char *tenant_id, const char *tenant_name, enum x509_key_type type,
                   int64_t now, struct x509_issued *out, char *err, size_t errlen);

/* Issues a server certificate for a tenant's gateway identities.
 * ids: the gateway identities as text (gateway_ids.identity): an IPv4 or
 * IPv6 literal becomes an iPAddress SAN, a name with '@' an rfc822Name
 * SAN, any other a dNSName SAN (checked to be a host name; "*." allowed
 * in front). At least one; the first names the subject CN (subject
 * "CN=<ids[0]>, O=<tenant_id>"). extended key usage serverAuth + IKE
 * intermediate (1.3.6.1.5.5.8.2.2) so that Windows (serverAuth, FQDN in SAN) and
 * macOS/iOS (remote id in SAN) accept it; keyUsage digitalSignature (+
 * keyEncipherment for RSA); authorityKeyIdentifier; validity now - 5 min
 * for `days` days (0: 730 = 2 years). 0, or -1 with err. */
int x509_issue_server(const struct x509_ca *ca, const char *tenant_id, const char *const *ids,
                      size_t n_ids, enum x509_key_type type, int64_t now, unsigned days,
                      struct x509_issued *out, char *err, size_t errlen);

struct x509_client_req {
    const char *username; /* required: the subject CN */
    const char *realm;    /* optional: adds rfc822Name "<username>@<realm>"
                             (unless username already has an '@') */
    const char *email;    /* optional: another rfc822Name, if different */
    enum x509_key_type type;
    unsigned days; /* 0: 730 */
};

/* Issues a user's client certificate: subject "CN=<username>, O=<tenant>",
 * SAN rfc822Name as above (a username with '@' is itself an rfc822Name),
 * extended key usage clientAuth + IKE intermediate (1.3.6.1.5.5.8.2.2),
 * keyUsage digitalSignature.
 * IKE: a strongSwan client proves either its DN (the swanctl default id)
 * or, with `id = alice@acme.example`, the rfc822Name; Windows sends its
 * DN; macOS/iOS send the configured LocalIdentifier, which must be the
 * rfc822Name. 0, or -1 with err. */
int x509_issue_client(const struct x509_ca *ca, const char *tenant_id,
                      const struct x509_client_req *req, int64_t now, struct x509_issued *out,
                      char *err, size_t errlen);

/* A PKCS#12 bundle (DER) of cert + key + the CA certificate, protected by
 * password: AES-256-CBC with PBKDF2/HMAC-SHA256 for key and certificates,
 * SHA-256 MAC (the OpenSSL 3 default). legacy: PBE-SHA1-3DES and a SHA-1
 * MAC instead, for old Windows and Apple importers that cannot read the
 * modern form. friendly_name may be NULL. An empty password is refused.
 * 0, or -1 with err. */
int x509_pkcs12(X509 *cert, EVP_PKEY *key, X509 *ca, const char *password,
                const char *friendly_name, bool legacy, struct x509_buf *out, char *err,
                size_t errlen);

/* ------------------------------------------------------------------ */
/* Uploaded server certificates                                       */

/* Checks an uploaded server certificate: cert_pem must hold one
 * certificate, chain_pem (NULL or "" for none) its issuers, key_pem the
 * private key (unencrypted PEM). Checks: each parses; the key matches the
 * certificate's public key; the key is RSA >= 2048 bits or ECDSA
 * P-256/P-384/P-521; the certificate is not a CA; it is valid at now (not
 * expired, not before its start); each chain certificate issued the one
 * before it (signature checked); at least one SAN. On success fills *facts
 * (caller frees) and returns 0; else -1 with err naming the field, e.g.
 * "private_key: does not match the certificate's public key" or
 * "chain: certificate 1 (CN=Foo CA) did not issue certificate 0". */
int x509_upload_check(const char *cert_pem, const char *chain_pem, const char *key_pem, int64_t now,
                      struct x509_facts *facts, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* Revocation                                                         */

/* RFC 5280 CRLReason; the values are the wire's. */
enum x509_reason {
    X509_REASON_UNSPECIFIED = 0,
    X509_REASON_KEY_COMPROMISE = 1,
    X509_REASON_CA_COMPROMISE = 2,
    X509_REASON_AFFILIATION_CHANGED = 3,
    X509_REASON_SUPERSEDED = 4,
    X509_REASON_CESSATION_OF_OPERATION = 5,
    X509_REASON_CERTIFICATE_HOLD = 6,
    X509_REASON_REMOVE_FROM_CRL = 8,
    X509_REASON_PRIVILEGE_WITHDRAWN = 9,
    X509_REASON_AA_COMPROMISE = 10,
};

/* The RFC 5280 names: "unspecified", "keyCompromise", "cACompromise",
 * "affiliationChanged", "superseded", "cessationOfOperation",
 * "certificateHold", "removeFromCRL", "privilegeWithdrawn",
 * "aACompromise". parse is case-sensitive, as the names are; false if
 * unknown (the API answers 400 naming the field). */
bool x509_reason_parse(const char *name, enum x509_reason *out);
const char *x509_reason_name(enum x509_reason r); /* "unknown" if out of range */

struct x509_revoked {
    const char *serial; /* hex, as the certificates.serial column */
    int64_t revoked_at;
    enum x509_reason reason;
};

/* Builds and signs the tenant's CRL (v2): issuer = the CA's subject,
 * thisUpdate = now, nextUpdate = next_update, cRLNumber = crl_number (the
 * caller increments crl_state.crl_number each time), authorityKeyIdentifier,
 * one entry per revoked certificate with its reason code (none for
 * "unspecified", as RFC 5280 5.3.1 asks). pem and/or der may be NULL if
 * not wanted. 0, or -1 with err (e.g. a serial that is not hex). */
int x509_crl_build(const struct x509_ca *ca, const struct x509_revoked *list, size_t n,
                   uint64_t crl_number, int64_t now, int64_t next_update, struct x509_buf *pem,
                   struct x509_buf *der, char *err, size_t errlen);
/* The same CRL as an object (caller frees with X509_CRL_free), e.g. for
 * the IKE snapshot to hand to x509_verify_client without a PEM round trip.
 * NULL with err. */
X509_CRL *x509_crl_make(const struct x509_ca *ca, const struct x509_revoked *list, size_t n,
                        uint64_t crl_number, int64_t now, int64_t next_update, char *err,
                        size_t errlen);

/* ------------------------------------------------------------------ */
/* Verifying a peer's certificate (IKE_AUTH)                          */

enum x509_verdict {
    X509_VERDICT_OK = 0,
    X509_VERDICT_MALFORMED,     /* not a certificate (garbage DER) */
    X509_VERDICT_UNTRUSTED,     /* not issued by the tenant CA */
    X509_VERDICT_EXPIRED,       /* past notAfter */
    X509_VERDICT_NOT_YET_VALID, /* before notBefore */
    X509_VERDICT_REVOKED,       /* listed in the tenant CRL */
    X509_VERDICT_CRL_PROBLEM,   /* CRL missing, expired, badly signed */
    X509_VERDICT_WRONG_USAGE,   /* EKU forbids client use, or a CA */
    X509_VERDICT_INVALID,       /* anything else (bad signature, ...) */
};

/* A DER blob borrowed from a message (e.g. further CERT payloads). */
struct x509_der {
    const uint8_t *p;
    size_t len;
};

/* Verifies a client's certificate (DER from its CERT payload), with the
 * intermediate certificates it sent (may be 0), against the tenant CA as
 * the only trust anchor, at time now. With crl (the tenant's current CRL),
 * the leaf is checked against it (X509_V_FLAG_CRL_CHECK; a CRL past its
 * nextUpdate fails: rebuild it in time); crl NULL skips revocation. An
 * extended key usage, if present, must allow clientAuth, IKE intermediate
 * (1.3.6.1.5.5.8.2.2), ipsecIKE (RFC 4945) or any.
 * Returns the verdict; reason gets a short text for the log and the
 * session history ("revoked (keyCompromise)", "expired", "not issued by
 * the tenant CA", ...). On OK, *leaf_out (if not NULL) gets the parsed
 * certificate (caller frees) for x509_verify_sig and identity checks. */
enum x509_verdict x509_verify_client(const uint8_t *der, size_t len, const struct x509_der *chain,
                                     size_t n_chain, X509 *ca, X509_CRL *crl, int64_t now,
                                     X509 **leaf_out, char *reason, size_t reasonlen);
const char *x509_verdict_name(enum x509_verdict v);

/* ------------------------------------------------------------------ */
/* IKE_AUTH signatures                                                */

/* IKEv2 authentication methods (RFC 7296 3.8, RFC 4754, RFC 7427). */
enum x509_auth_method {
    X509_AUTH_RSA_SIG = 1,      /* RSASSA-PKCS1-v1_5 with SHA-1 */
    X509_AUTH_ECDSA_256 = 9,    /* P-256 + SHA-256, r||s (64 bytes) */
    X509_AUTH_ECDSA_384 = 10,   /* P-384 + SHA-384, r||s (96 bytes) */
    X509_AUTH_ECDSA_521 = 11,   /* P-521 + SHA-512, r||s (132 bytes) */
    X509_AUTH_DIGITAL_SIG = 14, /* RFC 7427 */
};

/* RFC 7427 hash algorithm numbers (SIGNATURE_HASH_ALGORITHMS notify). */
enum x509_hash {
    X509_HASH_SHA1 = 1,
    X509_HASH_SHA256 = 2,
    X509_HASH_SHA384 = 3,
    X509_HASH_SHA512 = 4,
};

/* The RFC 7427 AlgorithmIdentifier (DER, as in RFC 7427 Appendix A) for a
 * key kind and hash: RSA -> sha{256,384,512}WithRSAEncryption (NULL
 * parameters), ECDSA -> ecdsa-with-SHA{256,384,512} (no parameters).
 * SHA-1 is not offered. Points *der at a static blob; 0, or -1 if the
 * combination is not supported. is_rsa: true for RSA keys, false for EC. */
int x509_sig_algid(bool is_rsa, enum x509_hash hash, const uint8_t **der, size_t *len);

/* The method and hash to sign with, given the key and the hashes the peer
 * announced in SIGNATURE_HASH_ALGORITHMS (peer_hashes: bit (1 << h) set
 * for each announced enum x509_hash h; 0 if it sent none): method 14 with
 * the strongest common SHA-2 hash if any (SHA-256 preferred for P-256
 * keys, SHA-384 for P-384, SHA-512 for P-521 and RSA), else the classic
 * method for the key (1 for RSA, 9/10/11 by curve). 0, or -1. */
int x509_pick_method(EVP_PKEY *key, unsigned peer_hashes, enum x509_auth_method *method,
                     enum x509_hash *hash);

/* Signs data (the IKE "signed octets") with key and writes the AUTH
 * payload's Authentication Data into *out:
 *   method 14: 1-byte AlgorithmIdentifier length | AlgorithmIdentifier |
 *              signature (PKCS#1 v1.5 for RSA, DER ECDSA-Sig-Value for EC),
 *              with `hash`;
 *   method 1:  PKCS#1 v1.5 with SHA-1 (RSA keys only; hash ignored);
 *   methods 9/10/11: ECDSA with the method's curve and hash, r||s each
 *              zero-padded to the field size (RFC 4754); hash ignored.
 * The key must fit the method (curve, RSA or EC). 0, or -1 with err. */
int x509_sign(EVP_PKEY *key, enum x509_auth_method method, enum x509_hash hash, const uint8_t *data,
              size_t len, struct x509_buf *out, char *err, size_t errlen);

/* Verifies a peer's AUTH payload Authentication Data (auth, untrusted)
 * over data with the public key of cert, for the given method. Method 14:
 * the AlgorithmIdentifier is read from auth and must be one this module
 * knows (sha{256,384,512}WithRSAEncryption, RSASSA-PSS with SHA-2 and MGF1
 * of the same hash, ecdsa-with-SHA{256,384,512}) and fit the key.
 * Returns true only for a good signature; false with err otherwise. */
bool x509_verify_sig(X509 *cert, enum x509_auth_method method, const uint8_t *auth, size_t auth_len,
                     const uint8_t *data, size_t len, char *err, size_t errlen);
/* The same with a bare public key (e.g. raw public keys, tests). */
bool x509_verify_sig_key(EVP_PKEY *pub, enum x509_auth_method method, const uint8_t *auth,
                         size_t auth_len, const uint8_t *data, size_t len, char *err,
                         size_t errlen);

#endif
