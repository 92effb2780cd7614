/*
 * IKEv2 and ESP transform facts the crypto code needs: which transform IDs
 * (IANA "Internet Key Exchange Version 2 (IKEv2) Parameters", Transform Types
 * 1-4, RFC 7296 3.3.2) Isthmus implements, their key, block, IV and ICV
 * lengths, and which are weak (kept only for interoperability).
 *
 * Every function takes the IANA number as it appears on the wire (the
 * IKE_ENCR_*, IKE_PRF_*, IKE_INTEG_*, IKE_DH_* values of ike_types.h); names
 * for logs are in ike_names.h.
 */
#ifndef ISTHMUS_IKE_ALG_H
#define ISTHMUS_IKE_ALG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concentrator/ike_types.h"

#define IKE_ALG_PRF_MAX       64 /* largest PRF output (SHA-512) */
#define IKE_ALG_INTEG_KEY_MAX 64 /* largest integrity key (SHA-512) */
#define IKE_ALG_ICV_MAX       32 /* largest ICV (HMAC-SHA2-512-256) */
#define IKE_ALG_ENCR_KEY_MAX  36 /* largest encryption keying material (key + salt) */

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

/* True for transforms we implement only to talk to old peers (SHA-1,
 * MODP-1024). transform_type is IKE_TT_PRF, IKE_TT_INTEG or IKE_TT_DH. */
bool ike_alg_is_weak(int transform_type, uint16_t id);

/* The transform's name for logs (ike_names.h's ike_transform_name; "UNKNOWN"
 * for values it does not know). transform_type is IKE_TT_*. */
const char *ike_alg_name(int transform_type, uint16_t id);

#endif
