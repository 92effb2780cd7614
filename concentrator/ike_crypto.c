/* The IKEv2 Encrypted payload, in place: see ike_crypto.h. */
#include "concentrator/ike_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "concentrator/ike_prf.h"
#include "concentrator/wire.h"

#define AEAD_IV_LEN   8
#define AEAD_SALT_LEN 4
#define CBC_BLOCK     16

struct ike_sk_ctx {
    EVP_CIPHER_CTX *cipher;  /* keyed once; per message only the IV is set */
    struct ike_prf_ctx *mac; /* keyed HMAC for CBC; NULL for AEAD */
    bool encrypt;            /* direction */
    bool aead;
    size_t iv_len; /* 16 for CBC, 8 for AEAD */
    size_t block;  /* padding alignment: 16 for CBC, 1 for AEAD */
    size_t icv_len;
    uint8_t salt[AEAD_SALT_LEN];
    uint64_t next_iv; /* AEAD IV counter: unique per message under this key */
};

static const char *cipher_name(uint16_t encr, size_t keybytes)
{
    switch (encr) {
    case IKE_ENCR_AES_CBC:
        return keybytes == 16 ? "AES-128-CBC" : keybytes == 24 ? "AES-192-CBC" : "AES-256-CBC";
    case IKE_ENCR_AES_GCM_8:
    case IKE_ENCR_AES_GCM_12:
    case IKE_ENCR_AES_GCM_16:
        return keybytes == 16 ? "AES-128-GCM" : keybytes == 24 ? "AES-192-GCM" : "AES-256-GCM";
    case IKE_ENCR_CHACHA20_POLY1305:
        return "ChaCha20-Poly1305";
    default:
        return NULL;
    }
}

struct ike_sk_ctx *ike_sk_ctx_new(uint16_t encr, uint16_t keybits, uint16_t integ,
                                  const uint8_t *encr_key, size_t encr_key_len,
                                  const uint8_t *integ_key, size_t integ_key_len, bool encrypt)
{
    EVP_CIPHER *alg = NULL;
    struct ike_sk_ctx *c = NULL;
    if (!ike_alg_encr_supported(encr, keybits, false) || !encr_key ||
        encr_key_len != ike_alg_encr_keymat_len(encr, keybits))
        return NULL;
    bool aead = ike_alg_encr_is_aead(encr);
    if (aead ? integ != IKE_INTEG_NONE || integ_key_len != 0
             : !ike_alg_integ_digest(integ) || !integ_key ||
                   integ_key_len != ike_alg_integ_key_len(integ))
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->encrypt = encrypt;
    c->aead = aead;
    size_t keybytes = encr_key_len - ike_alg_encr_salt_len(encr);
    if (aead) {
        c->iv_len = AEAD_IV_LEN;
        c->block = 1;
        c->icv_len = ike_alg_encr_icv_len(encr);
        memcpy(c->salt, encr_key + keybytes, AEAD_SALT_LEN);
        c->next_iv = 1;
    } else {
        c->iv_len = CBC_BLOCK;
        c->block = CBC_BLOCK;
        c->icv_len = ike_alg_integ_icv_len(integ);
        c->mac = ike_hmac_new(ike_alg_integ_digest(integ), integ_key, integ_key_len);
        if (!c->mac)
            goto fail;
    }
    alg = EVP_CIPHER_fetch(NULL, cipher_name(encr, keybytes), NULL);
    c->cipher = EVP_CIPHER_CTX_new();
    if (!alg || !c->cipher || (size_t)EVP_CIPHER_get_key_length(alg) != keybytes)
        goto fail;
    if (EVP_CipherInit_ex2(c->cipher, alg, encr_key, NULL, encrypt ? 1 : 0, NULL) != 1)
        goto fail;
    if (!aead && EVP_CIPHER_CTX_set_padding(c->cipher, 0) != 1)
        goto fail;
    EVP_CIPHER_free(alg);
    return c;
fail:
    EVP_CIPHER_free(alg);
    ike_sk_ctx_free(c);
    return NULL;
}

int ike_sk_pair_new(const struct ike_sa_transforms *t, const struct ike_sa_keys *k, bool initiator,
                    struct ike_sk_ctx **out_ctx, struct ike_sk_ctx **in_ctx)
{
    if (!t || !k || !out_ctx || !in_ctx)
        return -1;
    const uint8_t *eo = initiator ? k->sk_ei : k->sk_er, *ao = initiator ? k->sk_ai : k->sk_ar;
    const uint8_t *ei = initiator ? k->sk_er : k->sk_ei, *ai = initiator ? k->sk_ar : k->sk_ai;
    struct ike_sk_ctx *o = ike_sk_ctx_new(t->encr, t->encr_keybits, t->integ, eo, k->encr_len,
                                          k->integ_len ? ao : NULL, k->integ_len, true);
    struct ike_sk_ctx *i = ike_sk_ctx_new(t->encr, t->encr_keybits, t->integ, ei, k->encr_len,
                                          k->integ_len ? ai : NULL, k->integ_len, false);
    if (!o || !i) {
        ike_sk_ctx_free(o);
        ike_sk_ctx_free(i);
        return -1;
    }
    *out_ctx = o;
    *in_ctx = i;
    return 0;
}

void ike_sk_ctx_free(struct ike_sk_ctx *c)
{
    if (!c)
        return;
    EVP_CIPHER_CTX_free(c->cipher); /* OpenSSL cleanses the key schedule */
    ike_prf_free(c->mac);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

size_t ike_sk_iv_len(const struct ike_sk_ctx *c)
{
    return c->iv_len;
}

size_t ike_sk_icv_len(const struct ike_sk_ctx *c)
{
    return c->icv_len;
}

static size_t pad_len(const struct ike_sk_ctx *c, size_t plain_len)
{
    /* Smallest padding that makes inner + padding + pad length byte a
     * multiple of the block size (none for AEAD: RFC 5282 3, RFC 7634 4). */
    return (c->block - (plain_len + 1) % c->block) % c->block;
}

size_t ike_sk_body_len(const struct ike_sk_ctx *c, size_t plain_len)
{
    return c->iv_len + plain_len + pad_len(c, plain_len) + 1 + c->icv_len;
}

size_t ike_sk_overhead_max(const struct ike_sk_ctx *c)
{
    return c->iv_len + c->block + c->icv_len;
}

void ike_sk_set_next_iv(struct ike_sk_ctx *c, uint64_t counter)
{
    c->next_iv = counter;
}

static void put_u16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Sets the per-message IV (CBC: the IV; AEAD: nonce = salt | IV). */
static int set_iv(struct ike_sk_ctx *c, const uint8_t *iv)
{
    uint8_t nonce[AEAD_SALT_LEN + AEAD_IV_LEN];
    const uint8_t *use = iv;
    if (c->aead) {
        memcpy(nonce, c->salt, AEAD_SALT_LEN);
        memcpy(nonce + AEAD_SALT_LEN, iv, AEAD_IV_LEN);
        use = nonce;
    }
    int ok = EVP_CipherInit_ex2(c->cipher, NULL, NULL, use, c->encrypt ? 1 : 0, NULL) == 1;
    if (ok && !c->aead)
        ok = EVP_CIPHER_CTX_set_padding(c->cipher, 0) == 1;
    return ok ? 0 : -1;
}

/* Runs the cipher over [p, p+len) in place; for AEAD first feeds aad. */
static int run_cipher(struct ike_sk_ctx *c, const uint8_t *aad, size_t aad_len, uint8_t *p,
                      size_t len)
{
    int outl = 0;
    if (c->aead && EVP_CipherUpdate(c->cipher, NULL, &outl, aad, (int)aad_len) != 1)
        return -1;
    if (EVP_CipherUpdate(c->cipher, p, &outl, p, (int)len) != 1 || (size_t)outl != len)
        return -1;
    return 0;
}

static int cipher_final(struct ike_sk_ctx *c)
{
    uint8_t scratch[CBC_BLOCK];
    int outl = 0;
    return EVP_CipherFinal_ex(c->cipher, scratch, &outl) == 1 && outl == 0 ? 0 : -1;
}

/* HMAC over msg[0..len), truncated to the ICV length. */
static int mac(struct ike_sk_ctx *c, const uint8_t *msg, size_t len, uint8_t *icv)
{
    uint8_t full[IKE_ALG_PRF_MAX];
    struct ike_chunk in[] = {{msg, len}};
    int rc = ike_prf_calc(c->mac, in, 1, full);
    memcpy(icv, full, c->icv_len);
    OPENSSL_cleanse(full, sizeof(full));
    return rc;
}

enum ike_sk_status ike_sk_encrypt(struct ike_sk_ctx *c, uint8_t *msg, size_t msg_cap, size_t sk_off,
                                  bool skf, size_t *msg_len)
{
    if (!c || !msg || !msg_len || !c->encrypt)
        return IKE_SK_ERR_INTERNAL;
    size_t hdr = skf ? IKE_SKF_HDR_LEN : IKE_SK_HDR_LEN;
    size_t in_len = *msg_len;
    if (sk_off < IKE_HDR_LEN || in_len < sk_off + hdr || in_len > IKE_MSG_MAX)
        return IKE_SK_ERR_FORMAT;
    size_t plain_len = in_len - sk_off - hdr;
    size_t pad = pad_len(c, plain_len);
    size_t total = sk_off + hdr + ike_sk_body_len(c, plain_len);
    if (total > msg_cap || total > IKE_MSG_MAX)
        return IKE_SK_ERR_INTERNAL;

    uint8_t *iv = msg + sk_off + hdr;
    uint8_t *ct = iv + c->iv_len;
    size_t ct_len = plain_len + pad + 1;
    memmove(ct, iv, plain_len);
    memset(ct + plain_len, 0, pad); /* padding contents are ours to choose */
    ct[plain_len + pad] = (uint8_t)pad;

    if (c->aead) {
        if (c->next_iv == UINT64_MAX)
            return IKE_SK_ERR_INTERNAL; /* never reuse a nonce: rekey long before */
        uint64_t v = c->next_iv++;
        for (int i = 7; i >= 0; i--, v >>= 8)
            iv[i] = (uint8_t)v;
    } else if (RAND_bytes(iv, (int)c->iv_len) != 1) {
        return IKE_SK_ERR_INTERNAL;
    }

    put_u16(msg + sk_off + 2, total - sk_off);
    put_u32(msg + 24, total);

    uint8_t *icv = ct + ct_len;
    if (set_iv(c, iv) || run_cipher(c, msg, sk_off + hdr, ct, ct_len) || cipher_final(c))
        return IKE_SK_ERR_INTERNAL;
    if (c->aead) {
        if (EVP_CIPHER_CTX_ctrl(c->cipher, EVP_CTRL_AEAD_GET_TAG, (int)c->icv_len, icv) != 1)
            return IKE_SK_ERR_INTERNAL;
    } else if (mac(c, msg, (size_t)(icv - msg), icv)) {
        return IKE_SK_ERR_INTERNAL;
    }
    *msg_len = total;
    return IKE_SK_OK;
}

enum ike_sk_status ike_sk_decrypt(struct ike_sk_ctx *c, uint8_t *msg, size_t msg_len, size_t sk_off,
                                  bool skf, size_t *plain_off, size_t *plain_len)
{
    if (!c || !msg || !plain_off || !plain_len || c->encrypt)
        return IKE_SK_ERR_INTERNAL;
    size_t hdr = skf ? IKE_SKF_HDR_LEN : IKE_SK_HDR_LEN;
    /* Public length checks only: nothing here depends on secrets. */
    if (sk_off < IKE_HDR_LEN || msg_len > IKE_MSG_MAX ||
        msg_len < sk_off + hdr + c->iv_len + 1 + c->icv_len)
        return IKE_SK_ERR_FORMAT;
    struct rd r = rd_init(msg + sk_off, msg_len - sk_off);
    rd_skip(&r, 2);
    size_t sk_len = rd_u16(&r);
    if (!rd_ok(&r) || sk_len != msg_len - sk_off)
        return IKE_SK_ERR_FORMAT;
    uint8_t *iv = msg + sk_off + hdr;
    uint8_t *ct = iv + c->iv_len;
    size_t ct_len = msg_len - sk_off - hdr - c->iv_len - c->icv_len;
    uint8_t *icv = ct + ct_len;
    if (ct_len % c->block)
        return IKE_SK_ERR_FORMAT;

    if (c->aead) {
        if (set_iv(c, iv) ||
            EVP_CIPHER_CTX_ctrl(c->cipher, EVP_CTRL_AEAD_SET_TAG, (int)c->icv_len, icv) != 1 ||
            run_cipher(c, msg, sk_off + hdr, ct, ct_len)) {
            OPENSSL_cleanse(ct, ct_len);
            return IKE_SK_ERR_INTERNAL;
        }
        if (cipher_final(c)) {
            OPENSSL_cleanse(ct, ct_len); /* unauthenticated plaintext */
            return IKE_SK_ERR_ICV;
        }
    } else {
        uint8_t want[IKE_ALG_ICV_MAX];
        if (mac(c, msg, (size_t)(icv - msg), want))
            return IKE_SK_ERR_INTERNAL;
        bool ok = ike_ct_equal(want, icv, c->icv_len);
        OPENSSL_cleanse(want, sizeof(want));
        if (!ok)
            return IKE_SK_ERR_ICV;
        if (set_iv(c, iv) || run_cipher(c, NULL, 0, ct, ct_len) || cipher_final(c)) {
            OPENSSL_cleanse(ct, ct_len);
            return IKE_SK_ERR_INTERNAL;
        }
    }
    size_t pad = ct[ct_len - 1];
    if (pad + 1 > ct_len)
        return IKE_SK_ERR_PAD;
    *plain_off = (size_t)(ct - msg);
    *plain_len = ct_len - pad - 1;
    return IKE_SK_OK;
}
