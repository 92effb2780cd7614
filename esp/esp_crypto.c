/* Keyed cipher and MAC contexts: see esp_crypto.h. */
#include "esp/esp_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic int hmac_mode = ESP_HMAC_REINIT;

void esp_crypto_set_hmac_mode(enum esp_hmac_mode m)
{
    atomic_store(&hmac_mode, (int)m);
}

int esp_suite_init(struct esp_suite *s, uint16_t encr, uint16_t key_bits, uint16_t integ,
                   size_t ekey_len, size_t ikey_len, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->encr = encr;
    s->integ = integ;
    s->key_bits = key_bits;
    switch (encr) {
    case ESP_ENCR_AES_GCM_16:
    case ESP_ENCR_CHACHA20_POLY1305:
        if (encr == ESP_ENCR_CHACHA20_POLY1305 && key_bits != 256 && key_bits != 0) {
            snprintf(err, errlen, "ChaCha20-Poly1305 takes a 256-bit key, not %u", key_bits);
            return -1;
        }
        if (encr == ESP_ENCR_CHACHA20_POLY1305)
            s->key_bits = key_bits = 256;
        if (key_bits != 128 && key_bits != 256) {
            snprintf(err, errlen, "AES-GCM key length %u not supported (128, 256)", key_bits);
            return -1;
        }
        if (integ != ESP_INTEG_NONE) {
            snprintf(err, errlen, "AEAD transform %u with integrity transform %u", encr, integ);
            return -1;
        }
        s->aead = true;
        s->ekey_len = key_bits / 8;
        s->iv_len = 8;
        s->icv_len = 16;
        s->align = 4;
        if (ekey_len != s->ekey_len + ESP_SALT_LEN) {
            snprintf(err, errlen, "AEAD key material is %zu bytes, expected %zu", ekey_len,
                     s->ekey_len + ESP_SALT_LEN);
            return -1;
        }
        if (ikey_len != 0) {
            snprintf(err, errlen, "AEAD transform with an integrity key");
            return -1;
        }
        return 0;
    case ESP_ENCR_AES_CBC:
        if (key_bits != 128 && key_bits != 256) {
            snprintf(err, errlen, "AES-CBC key length %u not supported (128, 256)", key_bits);
            return -1;
        }
        s->ekey_len = key_bits / 8;
        s->iv_len = 16;
        s->align = 16;
        if (ekey_len != s->ekey_len) {
            snprintf(err, errlen, "AES-CBC key is %zu bytes, expected %zu", ekey_len, s->ekey_len);
            return -1;
        }
        break;
    default:
        snprintf(err, errlen, "encryption transform %u not supported", encr);
        return -1;
    }
    switch (integ) {
    case ESP_INTEG_HMAC_SHA2_256_128:
        s->digest = "SHA256";
        s->ikey_len = 32;
        s->icv_len = 16;
        break;
    case ESP_INTEG_HMAC_SHA2_384_192:
        s->digest = "SHA384";
        s->ikey_len = 48;
        s->icv_len = 24;
        break;
    case ESP_INTEG_HMAC_SHA2_512_256:
        s->digest = "SHA512";
        s->ikey_len = 64;
        s->icv_len = 32;
        break;
    default:
        snprintf(err, errlen, "integrity transform %u not supported with AES-CBC", integ);
        return -1;
    }
    if (ikey_len != s->ikey_len) {
        snprintf(err, errlen, "integrity key is %zu bytes, expected %zu", ikey_len, s->ikey_len);
        return -1;
    }
    return 0;
}

static const EVP_CIPHER *cipher_of(const struct esp_suite *s)
{
    switch (s->encr) {
    case ESP_ENCR_AES_GCM_16:
        return s->key_bits == 128 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    case ESP_ENCR_CHACHA20_POLY1305:
        return EVP_chacha20_poly1305();
    case ESP_ENCR_AES_CBC:
        return s->key_bits == 128 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
    default:
        return NULL;
    }
}

static EVP_MAC_CTX *hmac_new(const struct esp_suite *s, const uint8_t *ikey)
{
    EVP_MAC_CTX *ctx = NULL;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac)
        goto done;
    ctx = EVP_MAC_CTX_new(mac);
    if (!ctx)
        goto done;
    char digest[16];
    snprintf(digest, sizeof(digest), "%s", s->digest);
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(ctx, ikey, s->ikey_len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
done:
    EVP_MAC_free(mac);
    return ctx;
}

int esp_cctx_init(struct esp_cctx *c, const struct esp_suite *s, const uint8_t *ekey,
                  const uint8_t *ikey, bool enc)
{
    memset(c, 0, sizeof(*c));
    c->suite = s;
    c->enc = enc;
    int rc = -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    c->cipher = ctx;
    if (!ctx)
        goto done;
    if (EVP_CipherInit_ex(ctx, cipher_of(s), NULL, NULL, NULL, enc) != 1)
        goto done;
    if (s->aead) {
        if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1)
            goto done;
        memcpy(c->salt, ekey + s->ekey_len, ESP_SALT_LEN);
    } else {
        if (EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
            goto done;
        c->mac = hmac_new(s, ikey);
        if (!c->mac)
            goto done;
    }
    if (EVP_CipherInit_ex(ctx, NULL, NULL, ekey, NULL, enc) != 1)
        goto done;
    c->ready = true;
    rc = 0;
done:
    if (rc != 0)
        esp_cctx_clear(c);
    return rc;
}

void esp_cctx_clear(struct esp_cctx *c)
{
    if (!c)
        return;
    EVP_CIPHER_CTX_free(c->cipher);
    EVP_MAC_CTX_free(c->mac);
    c->cipher = NULL;
    c->mac = NULL;
    OPENSSL_cleanse(c->salt, sizeof(c->salt));
    c->ready = false;
}

int esp_cctx_set_iv(struct esp_cctx *c, const uint8_t *iv)
{
    return EVP_CipherInit_ex(c->cipher, NULL, NULL, NULL, iv, c->enc) == 1 ? 0 : -1;
}

int esp_cctx_hmac(struct esp_cctx *c, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                  uint8_t *out)
{
    EVP_MAC_CTX *m = c->mac;
    EVP_MAC_CTX *dup = NULL;
    int rc = -1;
    size_t outl = 0;
    if (atomic_load_explicit(&hmac_mode, memory_order_relaxed) == ESP_HMAC_DUP) {
        dup = EVP_MAC_CTX_dup(c->mac);
        if (!dup)
            goto done;
        m = dup;
    } else if (EVP_MAC_init(m, NULL, 0, NULL) != 1) {
        goto done;
    }
    if (EVP_MAC_update(m, a, alen) != 1)
        goto done;
    if (blen && EVP_MAC_update(m, b, blen) != 1)
        goto done;
    if (EVP_MAC_final(m, out, &outl, ESP_MAX_DIGEST) != 1)
        goto done;
    rc = (int)outl;
done:
    EVP_MAC_CTX_free(dup);
    return rc;
}
