/*
 * IKEv2 key derivation: SKEYSEED and the seven IKE SA keys (RFC 7296 2.14),
 * the rekeyed IKE SA's SKEYSEED (2.18), and CHILD_SA keying material (2.17)
 * split into ESP keys for each direction.
 *
 * Lengths: SK_d, SK_pi and SK_pr are as long as the PRF output; SK_ai/SK_ar
 * are the INTEG key length (none for AEAD ciphers); SK_ei/SK_er are the
 * cipher's keying material, key plus 4-byte salt for AES-GCM and
 * ChaCha20-Poly1305 (RFC 5282, RFC 7634). All of it is wiped by the *_wipe
 * functions, which callers must call before the struct goes away.
 */
#ifndef ISTHMUS_IKE_KEYMAT_H
#define ISTHMUS_IKE_KEYMAT_H

#include <stddef.h>
#include <stdint.h>

#include "concentrator/ike_alg.h"

#define IKE_NONCE_MAX 256 /* RFC 7296 3.9 */
#define IKE_SPI_LEN   8

/* The negotiated IKE SA transforms (IANA numbers; keybits is the Key Length
 * attribute, 0 when the cipher has none). integ is IKE_INTEG_NONE (0)
 * for AEAD ciphers. */
struct ike_sa_transforms {
    uint16_t encr;
    uint16_t encr_keybits;
    uint16_t prf;
    uint16_t integ;
};

struct ike_sa_keys {
    uint16_t prf;     /* the PRF these were made with (the IKE SA's own) */
    size_t prf_len;   /* length of sk_d, sk_pi, sk_pr */
    size_t integ_len; /* length of sk_ai, sk_ar (0 with AEAD) */
    size_t encr_len;  /* length of sk_ei, sk_er, salt included */
    uint8_t sk_d[IKE_ALG_PRF_MAX];
    uint8_t sk_ai[IKE_ALG_INTEG_KEY_MAX];
    uint8_t sk_ar[IKE_ALG_INTEG_KEY_MAX];
    uint8_t sk_ei[IKE_ALG_ENCR_KEY_MAX];
    uint8_t sk_er[IKE_ALG_ENCR_KEY_MAX];
    uint8_t sk_pi[IKE_ALG_PRF_MAX];
    uint8_t sk_pr[IKE_ALG_PRF_MAX];
};

/* SKEYSEED = prf(Ni | Nr, g^ir). out has IKE_ALG_PRF_MAX bytes; *out_len
 * gets the PRF length. Returns 0 or -1 (unknown PRF, nonce over 256 bytes,
 * OpenSSL failure). */
int ike_skeyseed(uint16_t prf, const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
                 const uint8_t *gir, size_t gir_len, uint8_t *out, size_t *out_len);

/* Rekeying an IKE SA (2.18): SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)
 * with the OLD IKE SA's PRF; the new SA's keys are then derived with
 * ike_sa_keys_derive and the NEW SA's transforms. Ni and Nr are the nonces of
 * the CREATE_CHILD_SA exchange; "Ni" is the exchange initiator's. */
int ike_skeyseed_rekey(uint16_t old_prf, const uint8_t *old_sk_d, size_t old_sk_d_len,
                       const uint8_t *gir, size_t gir_len, const uint8_t *ni, size_t ni_len,
                       const uint8_t *nr, size_t nr_len, uint8_t *out, size_t *out_len);

/* {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
 *     = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
 * SPIs are 8 bytes each. Returns 0, or -1 (transforms not implemented,
 * integ given with an AEAD cipher or missing with a non-AEAD one, OpenSSL
 * failure; *out is then wiped). */
int ike_sa_keys_derive(const struct ike_sa_transforms *t, const uint8_t *skeyseed,
                       size_t skeyseed_len, const uint8_t *ni, size_t ni_len, const uint8_t *nr,
                       size_t nr_len, const uint8_t spii[IKE_SPI_LEN],
                       const uint8_t spir[IKE_SPI_LEN], struct ike_sa_keys *out);

/* SKEYSEED and the seven keys in one call, for IKE_SA_INIT. */
int ike_sa_keys_new(const struct ike_sa_transforms *t, const uint8_t *ni, size_t ni_len,
                    const uint8_t *nr, size_t nr_len, const uint8_t *gir, size_t gir_len,
                    const uint8_t spii[IKE_SPI_LEN], const uint8_t spir[IKE_SPI_LEN],
                    struct ike_sa_keys *out);

/* NULL accepted. */
void ike_sa_keys_wipe(struct ike_sa_keys *k);

/* ESP keys of one CHILD_SA, each direction's encryption key (salt included
 * at its end for AEAD) and integrity key. "i" = initiator to responder:
 * the keys of the SA the exchange initiator sends on. */
struct ike_child_keys {
    size_t encr_len;
    size_t integ_len;
    uint8_t encr_i[IKE_ALG_ENCR_KEY_MAX];
    uint8_t integ_i[IKE_ALG_INTEG_KEY_MAX];
    uint8_t encr_r[IKE_ALG_ENCR_KEY_MAX];
    uint8_t integ_r[IKE_ALG_INTEG_KEY_MAX];
};

/* KEYMAT = prf+(SK_d, Ni | Nr), or with PFS prf+(SK_d, g^ir (new) | Ni | Nr)
 * (pass gir NULL / 0 for none), with the IKE SA's PRF; split as
 * encr_i | integ_i | encr_r | integ_r (2.17: all initiator-to-responder keys
 * first, encryption key before integrity key). esp_encr/esp_keybits/
 * esp_integ are the CHILD_SA's ESP transforms. Ni and Nr are the
 * IKE_SA_INIT nonces for the first CHILD_SA and the CREATE_CHILD_SA nonces
 * otherwise. Returns 0 or -1 (*out wiped). */
int ike_child_keys_derive(uint16_t prf, const uint8_t *sk_d, size_t sk_d_len, const uint8_t *gir,
                          size_t gir_len, const uint8_t *ni, size_t ni_len, const uint8_t *nr,
                          size_t nr_len, uint16_t esp_encr, uint16_t esp_keybits,
                          uint16_t esp_integ, struct ike_child_keys *out);

/* NULL accepted. */
void ike_child_keys_wipe(struct ike_child_keys *k);

#endif
