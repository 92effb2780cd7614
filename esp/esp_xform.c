/* ESP encap/decap transforms: see esp_xform.h. */
#include "esp/esp_xform.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "concentrator/wire.h"

#define ESP_HDR_LEN 8
#define MAX_PKT     65535

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

/* AAD of RFC 4106 section 5: SPI || seq low, or SPI || seq high || seq low. */
static size_t build_aad(uint8_t aad[12], uint32_t spi, uint64_t seq, bool esn)
{
    put_be32(aad, spi);
    if (esn) {
        put_be64(aad + 4, seq);
        return 12;
    }
    put_be32(aad + 4, (uint32_t)seq);
    return 8;
}

static int aead_seal(struct esp_cctx *c, const uint8_t *aad, size_t aadlen, uint8_t *p, size_t n,
                     uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = c->cipher;
    int outl = 0, finl = 0;
    if (EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1)
        return -1;
    if (EVP_EncryptUpdate(ctx, p, &outl, p, (int)n) != 1)
        return -1;
    if (EVP_EncryptFinal_ex(ctx, p + outl, &finl) != 1 || (size_t)(outl + finl) != n)
        return -1;
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1 ? 0 : -1;
}

enum esp_reason esp_xform_encap_iv(struct esp_cctx *c, uint32_t spi, uint64_t seq, bool esn,
                                   uint8_t next_header, const uint8_t *iv, struct esp_buf *pkt)
{
    const struct esp_suite *s = c->suite;
    if (!c->ready || !c->enc)
        return ESP_DROP_CRYPTO;
    size_t L = pkt->len;
    size_t padded = (L + 2 + s->align - 1) / s->align * s->align;
    size_t padlen = padded - L - 2;
    size_t head = ESP_HDR_LEN + s->iv_len;
    if (esp_buf_headroom(pkt) < head || esp_buf_tailroom(pkt) < padded - L + s->icv_len)
        return ESP_DROP_NO_ROOM;
    if (head + padded + s->icv_len > MAX_PKT)
        return ESP_DROP_NO_ROOM;

    uint8_t *p = esp_buf_data(pkt);
    for (size_t i = 0; i < padlen; i++)
        p[L + i] = (uint8_t)(i + 1);
    p[L + padlen] = (uint8_t)padlen;
    p[L + padlen + 1] = next_header;

    uint8_t *hdr = p - head;
    put_be32(hdr, spi);
    put_be32(hdr + 4, (uint32_t)seq);
    uint8_t *ivslot = hdr + ESP_HDR_LEN;

    if (s->aead) {
        uint8_t nonce[12];
        memcpy(nonce, c->salt, ESP_SALT_LEN);
        if (iv)
            memcpy(nonce + ESP_SALT_LEN, iv, 8);
        else
            put_be64(nonce + ESP_SALT_LEN, seq);
        memcpy(ivslot, nonce + ESP_SALT_LEN, 8);
        uint8_t aad[12];
        size_t aadlen = build_aad(aad, spi, seq, esn);
        if (esp_cctx_set_iv(c, nonce) != 0 || aead_seal(c, aad, aadlen, p, padded, p + padded))
            return ESP_DROP_CRYPTO;
    } else {
        /* CBC: with a zero IV, the encrypted nonce block in the IV slot is
         * AES_K(nonce), which then chains into the payload as its IV. */
        static const uint8_t zero[16];
        uint8_t *start = ivslot;
        size_t n = 16 + padded;
        if (iv) {
            memcpy(ivslot, iv, 16);
            start = p;
            n = padded;
        } else {
            put_be64(ivslot, seq);
            memset(ivslot + 8, 0, 8);
        }
        int outl = 0;
        if (esp_cctx_set_iv(c, iv ? iv : zero) != 0 ||
            EVP_EncryptUpdate(c->cipher, start, &outl, start, (int)n) != 1 || (size_t)outl != n)
            return ESP_DROP_CRYPTO;
        uint8_t hi[4], md[ESP_MAX_DIGEST];
        put_be32(hi, (uint32_t)(seq >> 32));
        if (esp_cctx_hmac(c, hdr, head + padded, hi, esn ? 4 : 0, md) < (int)s->icv_len)
            return ESP_DROP_CRYPTO;
        memcpy(p + padded, md, s->icv_len);
        OPENSSL_cleanse(md, sizeof(md));
    }
    pkt->off -= head;
    pkt->len = head + padded + s->icv_len;
    return ESP_OK;
}

enum esp_reason esp_xform_encap(struct esp_cctx *c, uint32_t spi, uint64_t seq, bool esn,
                                uint8_t next_header, struct esp_buf *pkt)
{
    return esp_xform_encap_iv(c, spi, seq, esn, next_header, NULL, pkt);
}

bool esp_xform_peek(const struct esp_buf *pkt, uint32_t *spi, uint32_t *seq_lo)
{
    struct rd r = rd_init(esp_buf_data(pkt), pkt->len);
    *spi = rd_u32(&r);
    *seq_lo = rd_u32(&r);
    return rd_ok(&r);
}

/* Checks the trailer of the decrypted payload p[0..n): pad length, the
 * monotonic padding bytes, and reads the next header. Returns the payload
 * length or -1. */
static long check_trailer(const uint8_t *p, size_t n, uint8_t *next_header)
{
    struct rd r = rd_init(p, n);
    if (n < 2)
        return -1;
    rd_skip(&r, n - 2);
    size_t padlen = rd_u8(&r);
    *next_header = rd_u8(&r);
    if (!rd_ok(&r) || padlen + 2 > n)
        return -1;
    size_t payload = n - 2 - padlen;
    struct rd pad = rd_init(p + payload, padlen);
    for (size_t i = 0; i < padlen; i++)
        if (rd_u8(&pad) != (uint8_t)(i + 1))
            return -1;
    return (long)payload;
}

enum esp_reason esp_xform_decap(struct esp_cctx *c, bool esn, uint32_t seq_hi, struct esp_buf *pkt,
                                uint8_t *next_header)
{
    const struct esp_suite *s = c->suite;
    if (!c->ready || c->enc)
        return ESP_DROP_CRYPTO;
    struct rd r = rd_init(esp_buf_data(pkt), pkt->len);
    uint32_t spi = rd_u32(&r);
    uint32_t seq_lo = rd_u32(&r);
    const uint8_t *iv = rd_bytes(&r, s->iv_len);
    size_t rest = rd_left(&r);
    if (!rd_ok(&r) || pkt->len > MAX_PKT || rest < s->icv_len + (s->aead ? 2 : s->align))
        return ESP_DROP_MALFORMED;
    size_t ctlen = rest - s->icv_len;
    if (ctlen % s->align != 0 && !s->aead)
        return ESP_DROP_MALFORMED;
    size_t head = ESP_HDR_LEN + s->iv_len;
    uint8_t *hdr = esp_buf_data(pkt);
    uint8_t *ct = hdr + head;
    uint8_t *icv = ct + ctlen;
    uint64_t seq = (uint64_t)seq_hi << 32 | seq_lo;
    int outl = 0, finl = 0;

    if (s->aead) {
        uint8_t nonce[12], aad[12];
        memcpy(nonce, c->salt, ESP_SALT_LEN);
        memcpy(nonce + ESP_SALT_LEN, iv, 8);
        size_t aadlen = build_aad(aad, spi, seq, esn);
        EVP_CIPHER_CTX *ctx = c->cipher;
        if (esp_cctx_set_iv(c, nonce) != 0 ||
            EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1 ||
            EVP_DecryptUpdate(ctx, ct, &outl, ct, (int)ctlen) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, icv) != 1)
            return ESP_DROP_CRYPTO;
        if (EVP_DecryptFinal_ex(ctx, ct + outl, &finl) != 1)
            return ESP_DROP_INTEGRITY;
    } else {
        uint8_t hi[4], md[ESP_MAX_DIGEST];
        put_be32(hi, seq_hi);
        if (esp_cctx_hmac(c, hdr, head + ctlen, hi, esn ? 4 : 0, md) < (int)s->icv_len)
            return ESP_DROP_CRYPTO;
        int bad = CRYPTO_memcmp(md, icv, s->icv_len);
        OPENSSL_cleanse(md, sizeof(md));
        if (bad)
            return ESP_DROP_INTEGRITY;
        if (esp_cctx_set_iv(c, iv) != 0 ||
            EVP_DecryptUpdate(c->cipher, ct, &outl, ct, (int)ctlen) != 1 || (size_t)outl != ctlen)
            return ESP_DROP_CRYPTO;
    }
    long payload = check_trailer(ct, ctlen, next_header);
    if (payload < 0)
        return ESP_DROP_PADDING;
    pkt->off += head;
    pkt->len = (size_t)payload;
    return ESP_OK;
}
