/*
 * Diffie-Hellman for the KE payload (RFC 7296 2.14, 3.4) over OpenSSL 3's
 * EVP_PKEY: MODP groups 14 and 15 (RFC 3526) and 2 (RFC 2409, weak), ECP
 * groups 19/20/21 (RFC 5903) and Curve25519 (group 31, RFC 8031).
 *
 * Encodings as IKE carries them:
 *   MODP: public value and shared secret are big-endian, zero-padded to the
 *         length of the prime.
 *   ECP:  public value is x | y, each padded to the field size, without the
 *         0x04 prefix; the shared secret is x alone (RFC 5903 7).
 *   25519: 32-byte public value and shared secret (RFC 7748).
 *
 * The peer's value is checked before use (RFC 6989): exact length; MODP
 * 1 < y < p-1 (so 0, 1 and p-1 are refused); ECP a point on the curve, not
 * the point at infinity; 25519 a non-zero shared secret.
 */
#ifndef ISTHMUS_IKE_DH_H
#define ISTHMUS_IKE_DH_H

#include <stddef.h>
#include <stdint.h>

#include "concentrator/ike_alg.h"

#define IKE_DH_PUBLIC_MAX 384 /* MODP-3072 */
#define IKE_DH_SECRET_MAX 384

/* Return values of ike_dh_derive besides 0. */
#define IKE_DH_BAD_PEER -1 /* the peer's public value is invalid */
#define IKE_DH_FAILED   -2 /* OpenSSL failure, or out too small */

struct ike_dh_ctx;

/* Our key pair for IANA group (IKE_DH_*), freshly generated. NULL if the
 * group is not implemented or OpenSSL fails. */
struct ike_dh_ctx *ike_dh_new(uint16_t group);
/* For known-answer tests only: the key pair with the given private key
 * (big-endian scalar for MODP and ECP, 32 raw bytes for Curve25519). */
struct ike_dh_ctx *ike_dh_new_from_private(uint16_t group, const uint8_t *priv, size_t len);
/* Frees; OpenSSL wipes the private key. NULL accepted. */
void ike_dh_free(struct ike_dh_ctx *dh);

uint16_t ike_dh_group(const struct ike_dh_ctx *dh);
/* KE payload data length and shared secret length of a group; 0 if not
 * implemented. */
size_t ike_dh_public_len(uint16_t group);
size_t ike_dh_secret_len(uint16_t group);

/* Our public value in IKE encoding into out (ike_dh_public_len bytes).
 * Returns 0 or -1. */
int ike_dh_public(const struct ike_dh_ctx *dh, uint8_t *out, size_t cap, size_t *out_len);

/* g^ir from the peer's KE payload data, into out (ike_dh_secret_len bytes).
 * Returns 0, IKE_DH_BAD_PEER or IKE_DH_FAILED (out is then wiped). The
 * caller wipes the secret (OPENSSL_cleanse) once the keys are derived. */
int ike_dh_derive(struct ike_dh_ctx *dh, const uint8_t *peer, size_t peer_len, uint8_t *out,
                  size_t cap, size_t *out_len);

#endif
