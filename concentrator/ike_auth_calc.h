/*
 * The computations behind IKEv2 authentication and the IKE_SA_INIT
 * defences: the octets each side signs or MACs (RFC 7296 2.15), the
 * shared-key MIC used with a pre-shared key and with EAP (2.15, 2.16), the
 * NAT_DETECTION hashes (2.23) and stateless COOKIEs (2.6).
 *
 * Which pieces go where (2.15):
 *   initiator's AUTH: RealMessage1 (the IKE_SA_INIT request as sent) |
 *                     NonceRData | prf(SK_pi, IDi')
 *   responder's AUTH: RealMessage2 (the IKE_SA_INIT response as sent) |
 *                     NonceIData | prf(SK_pr, IDr')
 * where IDx' is the ID payload without its generic header (ID Type |
 * RESERVED | data).
 *
 * Shared-key MIC: AUTH = prf(prf(secret, "Key Pad for IKEv2"), octets).
 * With EAP (2.16) the secret is the MSK the EAP method produced; if the
 * method makes no MSK, it is SK_pi for the initiator's AUTH and SK_pr for
 * the responder's.
 */
#ifndef ISTHMUS_IKE_AUTH_CALC_H
#define ISTHMUS_IKE_AUTH_CALC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "concentrator/ike_alg.h"

/* One side's AUTH inputs, see above. All pointers are borrowed. */
struct ike_auth_input {
    uint16_t prf;        /* the IKE SA's PRF */
    const uint8_t *sk_p; /* SK_pi (initiator's AUTH) or SK_pr (responder's) */
    size_t sk_p_len;
    const uint8_t *real_msg; /* that side's IKE_SA_INIT message, as on the wire */
    size_t real_msg_len;
    const uint8_t *nonce; /* the OTHER side's nonce data */
    size_t nonce_len;
    const uint8_t *id; /* that side's ID payload body: type | reserved | data */
    size_t id_len;
};

/* MACedIDForI/R = prf(SK_p, IDx') into out (PRF length). 0 or -1. */
int ike_auth_maced_id(const struct ike_auth_input *in, uint8_t *out, size_t *out_len);

/* The octets a signature covers, allocated: *out must be released with
 * ike_auth_octets_free. 0 or -1. */
int ike_auth_octets(const struct ike_auth_input *in, uint8_t **out, size_t *out_len);
void ike_auth_octets_free(uint8_t *octets, size_t len);

/* Shared-key MIC over the octets (computed without building them) into out
 * (IKE_ALG_PRF_MAX bytes; *out_len gets the PRF length). 0 or -1. */
int ike_auth_shared_key_mic(const struct ike_auth_input *in, const uint8_t *secret,
                            size_t secret_len, uint8_t *out, size_t *out_len);

/* True when auth (the peer's AUTH data) is the shared-key MIC it should be.
 * Compares in constant time; a wrong length is simply false. */
bool ike_auth_shared_key_verify(const struct ike_auth_input *in, const uint8_t *secret,
                                size_t secret_len, const uint8_t *auth, size_t auth_len);

/* ---- NAT detection (2.23) ---- */

#define IKE_NATD_LEN 20

/* SHA-1(SPIi | SPIr | IP address | port) for an AF_INET or AF_INET6
 * address (port from the sockaddr, network order). In the IKE_SA_INIT
 * request SPIr is zero. 0 or -1 (other families). */
int ike_natd_hash(const uint8_t spii[8], const uint8_t spir[8], const struct sockaddr *addr,
                  uint8_t out[IKE_NATD_LEN]);

/* ---- COOKIE (2.6) ---- */

/* Cookie = VersionIDofSecret (4, big-endian) | SHA-256(Ni | IPi | SPIi | secret) */
#define IKE_COOKIE_LEN (4 + 32)

struct ike_cookie_ctx;

/* A cookie generator with a fresh random secret. NULL on failure. */
struct ike_cookie_ctx *ike_cookie_new(void);
/* Wipes and frees; NULL accepted. */
void ike_cookie_free(struct ike_cookie_ctx *c);
/* Replaces the secret with a new random one and a new version ID. Cookies
 * made with the previous secret stay valid until the next rotation, so a
 * client that got a cookie just before a rotation still gets in. 0 or -1. */
int ike_cookie_rotate(struct ike_cookie_ctx *c);
/* The cookie for an initiator: its Ni, its IP address (port ignored) and
 * SPIi. 0 or -1. */
int ike_cookie_make(const struct ike_cookie_ctx *c, const uint8_t *ni, size_t ni_len,
                    const struct sockaddr *ipi, const uint8_t spii[8], uint8_t out[IKE_COOKIE_LEN]);
/* True when cookie is what ike_cookie_make gave for these inputs under the
 * current or the previous secret. Constant-time compare. */
bool ike_cookie_check(const struct ike_cookie_ctx *c, const uint8_t *cookie, size_t cookie_len,
                      const uint8_t *ni, size_t ni_len, const struct sockaddr *ipi,
                      const uint8_t spii[8]);

#endif
