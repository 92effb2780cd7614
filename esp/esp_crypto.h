/*
 * Keyed cipher and MAC contexts for one direction of one SA, as one worker
 * holds them. Keying (the AES key schedule, the HMAC ipad/opad) is done once
 * in esp_cctx_init; per packet only the IV is set
 * (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc)) and the MAC restarted
 * from its keyed state.
 */
#ifndef ISTHMUS_ESP_CRYPTO_H
#define ISTHMUS_ESP_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/esp.h"

#define ESP_SALT_LEN   4
#define ESP_MAX_ICV    32
#define ESP_MAX_IV     16
#define ESP_MAX_DIGEST 64

/* The fixed shape of a transform: lengths and algorithms. Immutable, shared
 * by every worker's contexts of an SA. */
struct esp_suite {
    uint16_t encr, integ, key_bits;
    bool aead;
    size_t ekey_len;    /* cipher key, without salt */
    size_t ikey_len;    /* 0 for AEAD */
    size_t iv_len;      /* on the wire: 8 (AEAD) or 16 (CBC) */
    size_t icv_len;     /* 16 (AEAD), 16/24/32 (HMAC-SHA2 truncated) */
    size_t align;       /* ciphertext alignment: 4 (AEAD) or 16 (CBC) */
    const char *digest; /* "SHA256", ... for HMAC; NULL for AEAD */
};

/* Validates a transform and fills s. ekey_len counts the salt for AEAD
 * (IKEv2 KEYMAT form). Returns 0, or -1 with a reason in err. */
int esp_suite_init(struct esp_suite *s, uint16_t encr, uint16_t key_bits, uint16_t integ,
                   size_t ekey_len, size_t ikey_len, char *err, size_t errlen);

/* How the HMAC is restarted per packet from its keyed state: REINIT calls
 * EVP_MAC_init(ctx, NULL, 0, NULL) on the keyed context (HMAC keeps its
 * ipad/opad state); DUP copies a keyed template into a fresh context per
 * packet. REINIT is the default: faster for HMAC-SHA-256 in bench/esp-crypto
 * (about 2.4 vs 2.7 us per 1400-byte AES-128-CBC seal) and 2 heap allocations
 * inside OpenSSL 3.0 per HMAC instead of 11 (its digest-state copy allocates;
 * the AEAD paths allocate nothing per packet). Process-wide; for the bench. */
enum esp_hmac_mode { ESP_HMAC_REINIT = 0, ESP_HMAC_DUP = 1 };
void esp_crypto_set_hmac_mode(enum esp_hmac_mode m);

struct esp_cctx {
    const struct esp_suite *suite;
    void *cipher; /* EVP_CIPHER_CTX, keyed */
    void *mac;    /* EVP_MAC_CTX, keyed (template in DUP mode) */
    uint8_t salt[ESP_SALT_LEN];
    bool enc;
    bool ready;
};

/* Keys c for one direction: ekey is the cipher key (|| salt for AEAD), ikey
 * the integrity key. enc: true to encrypt (outbound). Returns 0 or -1. The
 * caller may wipe its key copies afterwards. */
int esp_cctx_init(struct esp_cctx *c, const struct esp_suite *s, const uint8_t *ekey,
                  const uint8_t *ikey, bool enc);
/* Frees the contexts (OpenSSL wipes key schedules). NULL-safe, idempotent. */
void esp_cctx_clear(struct esp_cctx *c);

/* Sets the per-packet IV (AEAD: the 12-byte nonce salt || explicit IV;
 * CBC: 16 bytes). Returns 0 or -1. */
int esp_cctx_set_iv(struct esp_cctx *c, const uint8_t *iv);

/* HMAC over a || b (b may be empty), the full digest into out (at least
 * ESP_MAX_DIGEST bytes). Returns the digest length, or -1. */
int esp_cctx_hmac(struct esp_cctx *c, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                  uint8_t *out);

#endif
