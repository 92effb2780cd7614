/* RADIUS packet building and checking: see radius_pkt.h. */
#include "auth/radius_pkt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

const char *radius_code_name(int code)
{
    switch (code) {
    case RADIUS_ACCESS_REQUEST:
        return "Access-Request";
    case RADIUS_ACCESS_ACCEPT:
        return "Access-Accept";
    case RADIUS_ACCESS_REJECT:
        return "Access-Reject";
    case RADIUS_ACCOUNTING_REQUEST:
        return "Accounting-Request";
    case RADIUS_ACCOUNTING_RESPONSE:
        return "Accounting-Response";
    case RADIUS_ACCESS_CHALLENGE:
        return "Access-Challenge";
    default:
        return NULL;
    }
}

const char *radius_verify_name(enum radius_verify v)
{
    switch (v) {
    case RADIUS_V_OK:
        return "ok";
    case RADIUS_V_MALFORMED:
        return "malformed packet";
    case RADIUS_V_ID:
        return "identifier mismatch";
    case RADIUS_V_AUTH:
        return "bad Response Authenticator";
    case RADIUS_V_MA_MISSING:
        return "no Message-Authenticator";
    case RADIUS_V_MA_BAD:
        return "bad Message-Authenticator";
    }
    return "?";
}

void radius_hmac_md5(const char *secret, const uint8_t *data, size_t len, uint8_t out[16])
{
    unsigned int olen = 16;
    if (!HMAC(EVP_md5(), secret, (int)strlen(secret), data, len, out, &olen))
        memset(out, 0, 16);
}

/* MD5 over a | b | c (any may be empty). */
static void md5_3(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, const uint8_t *c,
                  size_t clen, uint8_t out[16])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int olen = 16;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL) || !EVP_DigestUpdate(ctx, a, alen) ||
        !EVP_DigestUpdate(ctx, b, blen) || !EVP_DigestUpdate(ctx, c, clen) ||
        !EVP_DigestFinal_ex(ctx, out, &olen))
        memset(out, 0, 16);
    EVP_MD_CTX_free(ctx);
}

void radius_req_begin(struct wr *w, uint8_t code, uint8_t id, const uint8_t auth[RADIUS_AUTH_LEN])
{
    static const uint8_t zero[RADIUS_AUTH_LEN];
    wr_u8(w, code);
    wr_u8(w, id);
    wr_u16(w, 0); /* length, patched by radius_req_finish */
    wr_bytes(w, auth ? auth : zero, RADIUS_AUTH_LEN);
}

void radius_put(struct wr *w, uint8_t type, const void *val, size_t len)
{
    if (len > RADIUS_ATTR_MAX) {
        w->failed = true;
        return;
    }
    wr_u8(w, type);
    wr_u8(w, (uint8_t)(len + 2));
    wr_bytes(w, val, len);
}

void radius_put_str(struct wr *w, uint8_t type, const char *s)
{
    if (s && s[0])
        radius_put(w, type, s, strlen(s));
}

void radius_put_u32(struct wr *w, uint8_t type, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    radius_put(w, type, b, 4);
}

void radius_put_split(struct wr *w, uint8_t type, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        size_t n = len - off > RADIUS_ATTR_MAX ? RADIUS_ATTR_MAX : len - off;
        radius_put(w, type, data + off, n);
        off += n;
    }
}

size_t radius_put_ma(struct wr *w)
{
    static const uint8_t zero[RADIUS_MA_LEN];
    radius_put(w, RADIUS_A_MESSAGE_AUTHENTICATOR, zero, sizeof(zero));
    return wr_ok(w) ? w->len - RADIUS_MA_LEN : 0;
}

void radius_put_nas(struct wr *w, const struct radius_nas *nas)
{
    radius_put_str(w, RADIUS_A_NAS_IDENTIFIER, nas->identifier);
    if (nas->has_ip4)
        radius_put(w, RADIUS_A_NAS_IP_ADDRESS, nas->ip4, 4);
    if (nas->has_ip6)
        radius_put(w, RADIUS_A_NAS_IPV6_ADDRESS, nas->ip6, 16);
    radius_put_str(w, RADIUS_A_CALLED_STATION_ID, nas->called_station);
    radius_put_str(w, RADIUS_A_CALLING_STATION_ID, nas->calling_station);
    radius_put_u32(w, RADIUS_A_NAS_PORT_TYPE, RADIUS_NAS_PORT_VIRTUAL);
    radius_put_u32(w, RADIUS_A_SERVICE_TYPE, RADIUS_SERVICE_FRAMED);
}

size_t radius_req_finish(struct wr *w, size_t ma_off, const char *secret)
{
    if (!wr_ok(w) || w->len < RADIUS_HDR_LEN || w->len > RADIUS_PKT_MAX)
        return 0;
    wr_patch_u16(w, 2, (uint16_t)w->len);
    if (ma_off) {
        if (ma_off + RADIUS_MA_LEN > w->len)
            return 0;
        uint8_t mac[16];
        memset(w->p + ma_off, 0, RADIUS_MA_LEN);
        radius_hmac_md5(secret, w->p, w->len, mac);
        memcpy(w->p + ma_off, mac, RADIUS_MA_LEN);
    }
    if (w->p[0] == RADIUS_ACCOUNTING_REQUEST) {
        uint8_t digest[16];
        memset(w->p + 4, 0, RADIUS_AUTH_LEN);
        md5_3(w->p, w->len, (const uint8_t *)secret, strlen(secret), NULL, 0, digest);
        memcpy(w->p + 4, digest, RADIUS_AUTH_LEN);
    }
    return wr_ok(w) ? w->len : 0;
}

enum radius_verify radius_reply_verify(const uint8_t *pkt, size_t len, size_t *pkt_len, uint8_t id,
                                       const uint8_t req_auth[RADIUS_AUTH_LEN], const char *secret,
                                       bool require_ma)
{
    uint8_t copy[RADIUS_PKT_MAX];
    struct rd r = rd_init(pkt, len);
    rd_u8(&r); /* code */
    uint8_t rid = rd_u8(&r);
    uint16_t plen = rd_u16(&r);
    const uint8_t *resp_auth = rd_bytes(&r, RADIUS_AUTH_LEN);
    if (!rd_ok(&r) || plen < RADIUS_HDR_LEN || plen > len || plen > RADIUS_PKT_MAX)
        return RADIUS_V_MALFORMED;
    if (rid != id)
        return RADIUS_V_ID;

    /* Framing of every attribute, and where the Message-Authenticator is. */
    struct rd attrs = rd_init(pkt + RADIUS_HDR_LEN, plen - RADIUS_HDR_LEN);
    size_t ma_off = 0;
    int ma_count = 0;
    while (rd_left(&attrs) > 0) {
        size_t off = RADIUS_HDR_LEN + (plen - RADIUS_HDR_LEN) - rd_left(&attrs);
        uint8_t type = rd_u8(&attrs);
        uint8_t alen = rd_u8(&attrs);
        if (!rd_ok(&attrs) || alen < 2 || !rd_skip(&attrs, (size_t)alen - 2))
            return RADIUS_V_MALFORMED;
        if (type == RADIUS_A_MESSAGE_AUTHENTICATOR) {
            if (alen != 2 + RADIUS_MA_LEN)
                return RADIUS_V_MA_BAD;
            ma_off = off + 2;
            ma_count++;
        }
    }

    /* Response Authenticator: MD5(header with the request's authenticator |
     * attributes | secret). */
    memcpy(copy, pkt, plen);
    memcpy(copy + 4, req_auth, RADIUS_AUTH_LEN);
    uint8_t digest[16];
    md5_3(copy, plen, (const uint8_t *)secret, strlen(secret), NULL, 0, digest);
    if (CRYPTO_memcmp(digest, resp_auth, RADIUS_AUTH_LEN) != 0)
        return RADIUS_V_AUTH;

    if (ma_count > 1)
        return RADIUS_V_MA_BAD;
    if (ma_count == 0) {
        if (require_ma)
            return RADIUS_V_MA_MISSING;
        *pkt_len = plen;
        return RADIUS_V_OK;
    }
    /* HMAC-MD5 over the reply with the Request Authenticator in place and the
     * Message-Authenticator's value zeroed. */
    uint8_t got[RADIUS_MA_LEN], mac[16];
    memcpy(got, copy + ma_off, RADIUS_MA_LEN);
    memset(copy + ma_off, 0, RADIUS_MA_LEN);
    radius_hmac_md5(secret, copy, plen, mac);
    if (CRYPTO_memcmp(mac, got, RADIUS_MA_LEN) != 0)
        return RADIUS_V_MA_BAD;
    *pkt_len = plen;
    return RADIUS_V_OK;
}

void radius_iter_init(struct radius_iter *it, const uint8_t *pkt, size_t pkt_len)
{
    it->r = rd_init(pkt, pkt_len);
    rd_skip(&it->r, RADIUS_HDR_LEN);
}

bool radius_iter_next(struct radius_iter *it, uint8_t *type, const uint8_t **val, size_t *len)
{
    if (rd_left(&it->r) == 0)
        return false;
    uint8_t t = rd_u8(&it->r);
    uint8_t alen = rd_u8(&it->r);
    if (!rd_ok(&it->r) || alen < 2)
        return false;
    const uint8_t *v = rd_bytes(&it->r, (size_t)alen - 2);
    if (!v && alen > 2)
        return false;
    if (!rd_ok(&it->r))
        return false;
    *type = t;
    *val = v;
    *len = (size_t)alen - 2;
    return true;
}

int radius_mppe_decrypt(const uint8_t *val, size_t len, const char *secret,
                        const uint8_t req_auth[RADIUS_AUTH_LEN], uint8_t *out, size_t outcap)
{
    uint8_t plain[RADIUS_ATTR_MAX];
    int ret = -1;
    struct rd r = rd_init(val, len);
    const uint8_t *salt = rd_bytes(&r, 2);
    size_t clen = 0;
    const uint8_t *c = rd_rest(&r, &clen);
    if (!salt || !c || (salt[0] & 0x80) == 0 || clen == 0 || clen % 16 != 0 || clen > sizeof(plain))
        goto done;
    const uint8_t *prev = NULL;
    for (size_t i = 0; i < clen; i += 16) {
        uint8_t b[16];
        if (i == 0)
            md5_3((const uint8_t *)secret, strlen(secret), req_auth, RADIUS_AUTH_LEN, salt, 2, b);
        else
            md5_3((const uint8_t *)secret, strlen(secret), prev, 16, NULL, 0, b);
        for (size_t j = 0; j < 16; j++)
            plain[i + j] = c[i + j] ^ b[j];
        prev = c + i;
        OPENSSL_cleanse(b, sizeof(b));
    }
    size_t klen = plain[0];
    if (klen + 1 > clen || klen > outcap)
        goto done;
    memcpy(out, plain + 1, klen);
    ret = (int)klen;
done:
    OPENSSL_cleanse(plain, sizeof(plain));
    return ret;
}
