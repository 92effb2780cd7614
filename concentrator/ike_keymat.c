/* IKE SA and CHILD_SA key derivation: see ike_keymat.h. */
#include "concentrator/ike_keymat.h"

#include <openssl/crypto.h>
#include <stdbool.h>
#include <string.h>

#include "concentrator/ike_prf.h"

int ike_skeyseed(uint16_t prf, const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
                 const uint8_t *gir, size_t gir_len, uint8_t *out, size_t *out_len)
{
    size_t plen = ike_alg_prf_len(prf);
    if (!plen || !ni || !nr || !gir || !out || ni_len > IKE_NONCE_MAX || nr_len > IKE_NONCE_MAX)
        return -1;
    /* The key is Ni | Nr in full: for HMAC PRFs RFC 7296 2.14 uses the
     * concatenated nonces as the key, whatever their length. */
    uint8_t key[2 * IKE_NONCE_MAX];
    memcpy(key, ni, ni_len);
    memcpy(key + ni_len, nr, nr_len);
    struct ike_chunk in[] = {{gir, gir_len}};
    int rc = ike_prf_oneshot(prf, key, ni_len + nr_len, in, 1, out);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc == 0 && out_len)
        *out_len = plen;
    return rc;
}

int ike_skeyseed_rekey(uint16_t old_prf, const uint8_t *old_sk_d, size_t old_sk_d_len,
                       const uint8_t *gir, size_t gir_len, const uint8_t *ni, size_t ni_len,
                       const uint8_t *nr, size_t nr_len, uint8_t *out, size_t *out_len)
{
    size_t plen = ike_alg_prf_len(old_prf);
    if (!plen || !old_sk_d || !gir || !ni || !nr || !out)
        return -1;
    struct ike_chunk in[] = {{gir, gir_len}, {ni, ni_len}, {nr, nr_len}};
    int rc = ike_prf_oneshot(old_prf, old_sk_d, old_sk_d_len, in, 3, out);
    if (rc == 0 && out_len)
        *out_len = plen;
    return rc;
}

/* Checks the transform set and fills in the key lengths. */
static int sa_lengths(const struct ike_sa_transforms *t, struct ike_sa_keys *k)
{
    k->prf = t->prf;
    k->prf_len = ike_alg_prf_len(t->prf);
    k->encr_len = ike_alg_encr_keymat_len(t->encr, t->encr_keybits);
    if (!k->prf_len || !k->encr_len || !ike_alg_encr_supported(t->encr, t->encr_keybits, false))
        return -1;
    if (ike_alg_encr_is_aead(t->encr)) {
        if (t->integ != IKE_INTEG_NONE)
            return -1;
        k->integ_len = 0;
    } else {
        k->integ_len = ike_alg_integ_key_len(t->integ);
        if (!k->integ_len)
            return -1;
    }
    return 0;
}

int ike_sa_keys_derive(const struct ike_sa_transforms *t, const uint8_t *skeyseed,
                       size_t skeyseed_len, const uint8_t *ni, size_t ni_len, const uint8_t *nr,
                       size_t nr_len, const uint8_t spii[IKE_SPI_LEN],
                       const uint8_t spir[IKE_SPI_LEN], struct ike_sa_keys *out)
{
    if (!out)
        return -1;
    memset(out, 0, sizeof(*out));
    if (!t || !skeyseed || !ni || !nr || !spii || !spir || sa_lengths(t, out))
        return -1;
    size_t total = 3 * out->prf_len + 2 * out->integ_len + 2 * out->encr_len;
    uint8_t km[3 * IKE_ALG_PRF_MAX + 2 * IKE_ALG_INTEG_KEY_MAX + 2 * IKE_ALG_ENCR_KEY_MAX];
    struct ike_chunk in[] = {{ni, ni_len}, {nr, nr_len}, {spii, IKE_SPI_LEN}, {spir, IKE_SPI_LEN}};
    int rc = ike_prf_plus_oneshot(t->prf, skeyseed, skeyseed_len, in, 4, km, total);
    if (rc == 0) {
        const uint8_t *p = km;
        memcpy(out->sk_d, p, out->prf_len), p += out->prf_len;
        memcpy(out->sk_ai, p, out->integ_len), p += out->integ_len;
        memcpy(out->sk_ar, p, out->integ_len), p += out->integ_len;
        memcpy(out->sk_ei, p, out->encr_len), p += out->encr_len;
        memcpy(out->sk_er, p, out->encr_len), p += out->encr_len;
        memcpy(out->sk_pi, p, out->prf_len), p += out->prf_len;
        memcpy(out->sk_pr, p, out->prf_len);
    } else {
        ike_sa_keys_wipe(out);
    }
    OPENSSL_cleanse(km, sizeof(km));
    return rc;
}

int ike_sa_keys_new(const struct ike_sa_transforms *t, const uint8_t *ni, size_t ni_len,
                    const uint8_t *nr, size_t nr_len, const uint8_t *gir, size_t gir_len,
                    const uint8_t spii[IKE_SPI_LEN], const uint8_t spir[IKE_SPI_LEN],
                    struct ike_sa_keys *out)
{
    if (!t || !out)
        return -1;
    uint8_t seed[IKE_ALG_PRF_MAX];
    size_t seed_len = 0;
    int rc = ike_skeyseed(t->prf, ni, ni_len, nr, nr_len, gir, gir_len, seed, &seed_len);
    if (rc == 0)
        rc = ike_sa_keys_derive(t, seed, seed_len, ni, ni_len, nr, nr_len, spii, spir, out);
    else
        memset(out, 0, sizeof(*out));
    OPENSSL_cleanse(seed, sizeof(seed));
    return rc;
}

void ike_sa_keys_wipe(struct ike_sa_keys *k)
{
    if (k)
        OPENSSL_cleanse(k, sizeof(*k));
}

int ike_child_keys_derive(uint16_t prf, const uint8_t *sk_d, size_t sk_d_len, const uint8_t *gir,
                          size_t gir_len, const uint8_t *ni, size_t ni_len, const uint8_t *nr,
                          size_t nr_len, uint16_t esp_encr, uint16_t esp_keybits,
                          uint16_t esp_integ, struct ike_child_keys *out)
{
    if (!out)
        return -1;
    memset(out, 0, sizeof(*out));
    if (!sk_d || !ni || !nr || (!gir && gir_len))
        return -1;
    if (!ike_alg_encr_supported(esp_encr, esp_keybits, true) || !ike_alg_integ_supported(esp_integ))
        return -1;
    /* AEAD carries its own integrity; everything else needs an INTEG
     * transform (no encryption-only ESP, RFC 8221 5). */
    bool aead = ike_alg_encr_is_aead(esp_encr);
    if (aead != (esp_integ == IKE_INTEG_NONE))
        return -1;
    out->encr_len = ike_alg_encr_keymat_len(esp_encr, esp_keybits);
    out->integ_len = ike_alg_integ_key_len(esp_integ);
    size_t total = 2 * (out->encr_len + out->integ_len);
    uint8_t km[2 * (IKE_ALG_ENCR_KEY_MAX + IKE_ALG_INTEG_KEY_MAX)];
    struct ike_chunk in[] = {{gir, gir ? gir_len : 0}, {ni, ni_len}, {nr, nr_len}};
    int rc = ike_prf_plus_oneshot(prf, sk_d, sk_d_len, in, 3, km, total);
    if (rc == 0) {
        const uint8_t *p = km;
        memcpy(out->encr_i, p, out->encr_len), p += out->encr_len;
        memcpy(out->integ_i, p, out->integ_len), p += out->integ_len;
        memcpy(out->encr_r, p, out->encr_len), p += out->encr_len;
        memcpy(out->integ_r, p, out->integ_len);
    } else {
        ike_child_keys_wipe(out);
    }
    OPENSSL_cleanse(km, sizeof(km));
    return rc;
}

void ike_child_keys_wipe(struct ike_child_keys *k)
{
    if (k)
        OPENSSL_cleanse(k, sizeof(*k));
}
