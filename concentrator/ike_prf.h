/*
 * The IKEv2 pseudorandom function and prf+ (RFC 7296 2.13), over OpenSSL 3's
 * EVP_MAC (HMAC).
 *
 * A struct ike_prf_ctx is a keyed HMAC kept ready: the key schedule (inner and
 * outer pad state) is computed once in ike_prf_new and every later
 * computation only re-initialises from it, so an IKE SA that MACs every
 * message with the same key never re-keys. One object is used by one thread
 * at a time (the IKE thread owns them); it is not locked.
 *
 * Inputs that are concatenations (Ni | Nr | SPIi | SPIr ...) are passed as an
 * array of chunks, so nothing has to be copied together first.
 */
#ifndef ISTHMUS_IKE_PRF_H
#define ISTHMUS_IKE_PRF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concentrator/ike_alg.h"

/* One piece of a concatenation. len 0 pieces are allowed (p may be NULL). */
struct ike_chunk {
    const void *p;
    size_t len;
};

struct ike_prf_ctx;

/* A keyed PRF for IANA PRF transform prf_id (see ike_alg.h). The key is
 * copied into OpenSSL's context; the caller may wipe its copy. NULL if the PRF
 * is not implemented or OpenSSL fails. */
struct ike_prf_ctx *ike_prf_new(uint16_t prf_id, const uint8_t *key, size_t key_len);
/* A keyed HMAC over OpenSSL digest mdname ("SHA256", ...): the same object,
 * used for the INTEG transforms. */
struct ike_prf_ctx *ike_hmac_new(const char *mdname, const uint8_t *key, size_t key_len);
/* Wipes and frees; NULL accepted. */
void ike_prf_free(struct ike_prf_ctx *p);
/* Output length in bytes. */
size_t ike_prf_out_len(const struct ike_prf_ctx *p);

/* out (ike_prf_out_len bytes) = prf(key, in[0] | in[1] | ... | in[n-1]).
 * Returns 0, or -1 on an OpenSSL failure (out is then wiped). */
int ike_prf_calc(struct ike_prf_ctx *p, const struct ike_chunk *in, size_t n, uint8_t *out);

/* prf+ (RFC 7296 2.13): out_len bytes of T1 | T2 | ... where
 * T1 = prf(K, S | 0x01), Tk = prf(K, Tk-1 | S | k), S = in[0] | ... | in[n-1].
 * At most 255 blocks may be produced: -1 if out_len asks for more, or on an
 * OpenSSL failure (out is then wiped). */
int ike_prf_plus_calc(struct ike_prf_ctx *p, const struct ike_chunk *in, size_t n, uint8_t *out,
                      size_t out_len);

/* One-shot forms: key, compute, wipe. Same returns as above; out has room
 * for ike_alg_prf_len(prf_id) bytes (ike_prf_oneshot) or out_len bytes. */
int ike_prf_oneshot(uint16_t prf_id, const uint8_t *key, size_t key_len, const struct ike_chunk *in,
                    size_t n, uint8_t *out);
int ike_prf_plus_oneshot(uint16_t prf_id, const uint8_t *key, size_t key_len,
                         const struct ike_chunk *in, size_t n, uint8_t *out, size_t out_len);

/* Constant-time comparison of two equal-length byte strings (time depends
 * only on len). True when equal. */
bool ike_ct_equal(const void *a, const void *b, size_t len);

#endif
