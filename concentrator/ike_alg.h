/*
 * IKEv2 and ESP transform facts the crypto code needs: which transform IDs
 * (IANA "Internet Key Exchange Version 2 (IKEv2) Parameters", Transform Types
 * 1-4, RFC 7296 3.3.2) Isthmus implements, their key, block, IV and ICV
 * lengths, which are weak (kept only for interoperability) and a name for logs.
 *
 * Every function takes the IANA number as it appears on the wire, so the
 * codec's own enums (ike_types.h) can be passed straight through. The
 * IKE_ALG_* constants below are the same numbers, for code and tests that do
 * not include the codec.
 */
#ifndef ISTHMUS_IKE_ALG_H
#define ISTHMUS_IKE_ALG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Transform Type 1: encryption (ENCR). */
enum {
    IKE_ALG_ENCR_NULL = 11, /* ESP only */
    IKE_ALG_ENCR_AES_CBC = 12,
    IKE_ALG_ENCR_AES_GCM_8 = 18,
    IKE_ALG_ENCR_AES_GCM_12 = 19,
    IKE_ALG_ENCR_AES_GCM_16 = 20,
    IKE_ALG_ENCR_CHACHA20_POLY1305 = 28,
};

/* Transform Type 2: pseudorandom function (PRF). */
enum {
    IKE_ALG_PRF_HMAC_SHA1 = 2, /* weak: interoperability only */
    IKE_ALG_PRF_HMAC_SHA2_256 = 5,
    IKE_ALG_PRF_HMAC_SHA2_384 = 6,
    IKE_ALG_PRF_HMAC_SHA2_512 = 7,
};

/* Transform Type 3: integrity (INTEG). */
enum {
    IKE_ALG_INTEG_NONE = 0,
    IKE_ALG_INTEG_HMAC_SHA1_96 = 2, /* weak: interoperability only */
    IKE_ALG_INTEG_HMAC_SHA2_256_128 = 12,
    IKE_ALG_INTEG_HMAC_SHA2_384_192 = 13,
    IKE_ALG_INTEG_HMAC_SHA2_512_256 = 14,
};

/* Transform Type 4: Diffie-Hellman group (KE). */
enum {
    IKE_ALG_DH_MODP_1024 = 2, /* weak: interoperability only */
    IKE_ALG_DH_MODP_2048 = 14,
    IKE_ALG_DH_MODP_3072 = 15,
    IKE_ALG_DH_ECP_256 = 19,
    IKE_ALG_DH_ECP_384 = 20,
    IKE_ALG_DH_ECP_521 = 21,
    IKE_ALG_DH_CURVE25519 = 31,
};

#define IKE_ALG_PRF_MAX_LEN   64 /* largest PRF output (SHA-512) */
#define IKE_ALG_INTEG_MAX_KEY 64 /* largest integrity key (SHA-512) */
#define IKE_ALG_ICV_MAX       32 /* largest ICV (HMAC-SHA2-512-256) */
#define IKE_ALG_ENCR_MAX_KEY  36 /* largest encryption keying material (key + salt) */

/* ---- PRF ---- */

/* Output length (and preferred key length) in bytes; 0 if not implemented. */
size_t ike_alg_prf_len(uint16_t prf);
/* OpenSSL digest name of an HMAC PRF, or NULL if not implemented. */
const char *ike_alg_prf_digest(uint16_t prf);

/* ---- INTEG ---- */

/* Key length in bytes (0 for NONE), or 0 if not implemented: check
 * ike_alg_integ_supported first. */
size_t ike_alg_integ_key_len(uint16_t integ);
/* ICV (truncated MAC) length in bytes; 0 for NONE or not implemented. */
size_t ike_alg_integ_icv_len(uint16_t integ);
const char *ike_alg_integ_digest(uint16_t integ);
bool ike_alg_integ_supported(uint16_t integ);

/* ---- ENCR ---- */

/* True for combined-mode (AEAD) ciphers, which take no INTEG transform. */
bool ike_alg_encr_is_aead(uint16_t encr);
/* Whether (encr, key length attribute in bits) is implemented for the IKE SK
 * payload (esp false) or for ESP (esp true). keybits is ignored (pass 0) for
 * fixed-key ciphers (ChaCha20-Poly1305, NULL). */
bool ike_alg_encr_supported(uint16_t encr, uint16_t keybits, bool esp);
/* Bytes of keying material taken from prf+ for this cipher: the key plus,
 * for AES-GCM and ChaCha20-Poly1305, the 4-byte salt that follows it
 * (RFC 5282 7.1, RFC 4106 8.1, RFC 7634 2 and 4). 0 if not implemented. */
size_t ike_alg_encr_keymat_len(uint16_t encr, uint16_t keybits);
/* Salt part of the keying material (the last bytes): 4 or 0. */
size_t ike_alg_encr_salt_len(uint16_t encr);
/* ICV length of an AEAD cipher (8, 12 or 16), 0 for others. */
size_t ike_alg_encr_icv_len(uint16_t encr);

/* ---- DH ---- */

bool ike_alg_dh_supported(uint16_t group);

/* ---- for logs and policy ---- */

/* True for transforms we implement only to talk to old peers (SHA-1, MODP-1024). */
bool ike_alg_is_weak(int transform_type, uint16_t id);
/* "AES_GCM_16", "PRF_HMAC_SHA2_256", "ECP_256", ...; "unknown" otherwise.
 * transform_type is the IKEv2 Transform Type (1 ENCR, 2 PRF, 3 INTEG, 4 DH). */
const char *ike_alg_name(int transform_type, uint16_t id);

#endif
