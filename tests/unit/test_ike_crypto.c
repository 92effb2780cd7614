/*
 * The Encrypted payload: published and independently computed messages
 * decrypt to the right payloads and are produced byte for byte; every
 * cipher/integrity pair round-trips; a forged, truncated or badly padded
 * message is refused.
 *
 * Vectors: RFC 7634 appendix B (ChaCha20-Poly1305 IKEv2 INFORMATIONAL
 * message, complete). The AES-GCM and AES-CBC+HMAC messages were made when
 * this test was written with Debian's /usr/bin/python3 and its
 * "cryptography" (AESGCM, Cipher(AES, CBC)) and hmac modules, laid out by
 * hand per RFC 7296 3.14 / RFC 5282: header = SPIi 00..07, SPIr 10..17,
 * next payload 46, version 0x20, exchange 35, flags 0x08, message ID 1;
 * SK header next payload 0x24; inner payloads = the 22 bytes of INNER;
 * GCM: key material 20 21 22 .. (key then salt), IV = 1, no padding;
 * CBC: key 30 31 .., HMAC key 50 51 .., IV 70 71 .., padding bytes 0xee
 * (which a receiver must accept). The GCM spec's own test cases cannot run
 * through this path: their AAD is shorter than an IKE header.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#include "concentrator/ike_crypto.h"
#include "tests/unit/ike_testhex.h"

static const char INNER[] = "2400000c01000000c0a800010000000a000102030405";

static const char RFC7634_MSG[] = "c0c1c2c3c4c5c6c7 d0d1d2d3d4d5d6d7 2e202500 00000009 00000045"
                                  "29000029 1011121314151617"
                                  "610394701f8d017f7c12924889"
                                  "6b71bfe25236efd7cdc67066906315b2";

/* A 28-byte IKE header as the Python vectors used (length filled in later). */
static size_t put_header(uint8_t *msg, uint8_t exch)
{
    th_pattern(msg, 8, 0x00);
    th_pattern(msg + 8, 8, 0x10);
    msg[16] = 46;
    msg[17] = 0x20;
    msg[18] = exch;
    msg[19] = 0x08;
    memcpy(msg + 20, "\x00\x00\x00\x01\x00\x00\x00\x00", 8);
    return IKE_HDR_LEN;
}

/* ---- RFC 7634 ---- */

static struct ike_sk_ctx *chacha_rfc7634(bool encrypt)
{
    uint8_t key[36];
    th_pattern(key, 32, 0x80);
    th_unhex("a0a1a2a3", key + 32, 4);
    return ike_sk_ctx_new(IKE_ENCR_CHACHA20_POLY1305, 0, IKE_INTEG_NONE, key, 36, NULL, 0, encrypt);
}

static void chacha20_poly1305_rfc7634_decrypts(void **state)
{
    (void)state;
    uint8_t msg[128];
    size_t len = th_unhex(RFC7634_MSG, msg, sizeof(msg)), off = 0, plen = 0;
    assert_int_equal(len, 0x45);
    struct ike_sk_ctx *c = chacha_rfc7634(false);
    assert_non_null(c);
    assert_int_equal(ike_sk_decrypt(c, msg, len, IKE_HDR_LEN, false, &off, &plen), IKE_SK_OK);
    assert_int_equal(off, IKE_HDR_LEN + 4 + 8);
    /* One Notify payload; the pad length byte (0) is not part of it. */
    assert_true(th_equal_hex(msg + off, plen, "0000000c000040010000000a"));
    ike_sk_ctx_free(c);
}

static void chacha20_poly1305_rfc7634_encrypts_byte_for_byte(void **state)
{
    (void)state;
    uint8_t msg[128], want[128];
    size_t wl = th_unhex(RFC7634_MSG, want, sizeof(want));
    memcpy(msg, want, 28);
    memset(msg + 24, 0, 4); /* the length is ike_sk_encrypt's to fill in */
    size_t len = 28 + th_unhex("29000000", msg + 28, 4);
    len += th_unhex("0000000c000040010000000a", msg + len, 12);
    struct ike_sk_ctx *c = chacha_rfc7634(true);
    assert_non_null(c);
    ike_sk_set_next_iv(c, 0x1011121314151617ULL);
    assert_int_equal(ike_sk_encrypt(c, msg, sizeof(msg), IKE_HDR_LEN, false, &len), IKE_SK_OK);
    assert_int_equal(len, wl);
    assert_memory_equal(msg, want, wl);
    ike_sk_ctx_free(c);
}

/* ---- AES-GCM ---- */

struct gcm_vec {
    uint16_t keybits;
    const char *keymat, *msg;
};

static const struct gcm_vec gcm_vecs[] = {
    {128, "202122232425262728292a2b2c2d2e2f30313233",
     "000102030405060710111213141516172e202308000000010000004f2400003300000000000000012"
     "00a81ca24ba8cfad013e79b8d390fe6da7bea601a80f6caf2d56d873d8c7ac847c092de543e78"},
    {256, "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40414243",
     "000102030405060710111213141516172e202308000000010000004f240000330000000000000001b"
     "f1a18cd2484f401aa88e74d97e8af3d1bffa383bf19f6f165efec2d3a4a838094a470ed0790c0"},
};

static void aes_gcm_16_matches_independent_computation(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const struct gcm_vec *v = &gcm_vecs[i];
        uint8_t km[36], msg[256], want[256];
        size_t kl = th_unhex(v->keymat, km, sizeof(km));
        size_t wl = th_unhex(v->msg, want, sizeof(want));
        struct ike_sk_ctx *e =
            ike_sk_ctx_new(IKE_ENCR_AES_GCM_16, v->keybits, 0, km, kl, NULL, 0, true);
        struct ike_sk_ctx *d =
            ike_sk_ctx_new(IKE_ENCR_AES_GCM_16, v->keybits, 0, km, kl, NULL, 0, false);
        assert_non_null(e);
        assert_non_null(d);
        /* Encrypt: the first message under a key has IV 1. */
        size_t len = put_header(msg, 35);
        msg[len++] = 0x24, msg[len++] = 0, msg[len++] = 0, msg[len++] = 0;
        len += th_unhex(INNER, msg + len, 64);
        assert_int_equal(ike_sk_encrypt(e, msg, sizeof(msg), IKE_HDR_LEN, false, &len), IKE_SK_OK);
        assert_true(th_equal_hex(msg, len, v->msg));
        /* Decrypt the published bytes. */
        size_t off, plen;
        assert_int_equal(ike_sk_decrypt(d, want, wl, IKE_HDR_LEN, false, &off, &plen), IKE_SK_OK);
        assert_true(th_equal_hex(want + off, plen, INNER));
        ike_sk_ctx_free(e);
        ike_sk_ctx_free(d);
    }
}

/* ---- AES-CBC + HMAC ---- */

struct cbc_vec {
    uint16_t keybits, integ;
    const char *ekey, *akey, *msg;
};

static const struct cbc_vec cbc_vecs[] = {
    {128, IKE_INTEG_HMAC_SHA2_256_128, "303132333435363738393a3b3c3d3e3f",
     "505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f",
     "000102030405060710111213141516172e2023080000000100000060240000447071727374757677"
     "78797a7b7c7d7e7f3a527bc6fab41d176b8e13247f066cf590c92d7dbccb033101cb74200c5017d4"
     "14f7c0b13eaadd0b88e1565e2a082e94"},
    {256, IKE_INTEG_HMAC_SHA2_512_256,
     "303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
     "505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778"
     "797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f",
     "000102030405060710111213141516172e2023080000000100000070240000547071727374757677"
     "78797a7b7c7d7e7f5183bc7b401163ec63daaed0a0678867fbddb76db1864eb7eb4cb8c06429cd6e"
     "b85b676632deed1f3df829e26ff7b341d272944938bf9940621d19f79e2fb393"},
    {256, IKE_INTEG_HMAC_SHA1_96,
     "303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
     "505152535455565758595a5b5c5d5e5f60616263",
     "000102030405060710111213141516172e202308000000010000005c240000407071727374757677"
     "78797a7b7c7d7e7f5183bc7b401163ec63daaed0a0678867fbddb76db1864eb7eb4cb8c06429cd6e"
     "c1e797e0dd0114d30537b270"},
};

static void aes_cbc_hmac_decrypts_independent_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cbc_vecs) / sizeof(cbc_vecs[0]); i++) {
        const struct cbc_vec *v = &cbc_vecs[i];
        uint8_t ek[32], ak[64], msg[256];
        size_t el = th_unhex(v->ekey, ek, sizeof(ek)), al = th_unhex(v->akey, ak, sizeof(ak));
        size_t len = th_unhex(v->msg, msg, sizeof(msg)), off, plen;
        struct ike_sk_ctx *d =
            ike_sk_ctx_new(IKE_ENCR_AES_CBC, v->keybits, v->integ, ek, el, ak, al, false);
        assert_non_null(d);
        assert_int_equal(ike_sk_decrypt(d, msg, len, IKE_HDR_LEN, false, &off, &plen), IKE_SK_OK);
        assert_int_equal(off, IKE_HDR_LEN + 4 + 16);
        assert_true(th_equal_hex(msg + off, plen, INNER));
        ike_sk_ctx_free(d);
    }
}

/* ---- every combination ---- */

struct combo {
    uint16_t encr, keybits, integ;
};

static const struct combo combos[] = {
    {IKE_ENCR_AES_CBC, 128, IKE_INTEG_HMAC_SHA1_96},
    {IKE_ENCR_AES_CBC, 128, IKE_INTEG_HMAC_SHA2_256_128},
    {IKE_ENCR_AES_CBC, 128, IKE_INTEG_HMAC_SHA2_384_192},
    {IKE_ENCR_AES_CBC, 128, IKE_INTEG_HMAC_SHA2_512_256},
    {IKE_ENCR_AES_CBC, 192, IKE_INTEG_HMAC_SHA2_256_128},
    {IKE_ENCR_AES_CBC, 256, IKE_INTEG_HMAC_SHA1_96},
    {IKE_ENCR_AES_CBC, 256, IKE_INTEG_HMAC_SHA2_256_128},
    {IKE_ENCR_AES_CBC, 256, IKE_INTEG_HMAC_SHA2_384_192},
    {IKE_ENCR_AES_CBC, 256, IKE_INTEG_HMAC_SHA2_512_256},
    {IKE_ENCR_AES_GCM_8, 128, IKE_INTEG_NONE},
    {IKE_ENCR_AES_GCM_12, 256, IKE_INTEG_NONE},
    {IKE_ENCR_AES_GCM_16, 128, IKE_INTEG_NONE},
    {IKE_ENCR_AES_GCM_16, 192, IKE_INTEG_NONE},
    {IKE_ENCR_AES_GCM_16, 256, IKE_INTEG_NONE},
    {IKE_ENCR_CHACHA20_POLY1305, 0, IKE_INTEG_NONE},
};
#define N_COMBOS (sizeof(combos) / sizeof(combos[0]))

struct pair {
    struct ike_sk_ctx *enc, *dec;
};

static struct pair make_pair(const struct combo *k)
{
    uint8_t ek[IKE_ALG_ENCR_KEY_MAX], ak[IKE_ALG_INTEG_KEY_MAX];
    size_t el = ike_alg_encr_keymat_len(k->encr, k->keybits);
    size_t al = k->integ ? ike_alg_integ_key_len(k->integ) : 0;
    assert_int_equal(RAND_bytes(ek, sizeof(ek)), 1);
    assert_int_equal(RAND_bytes(ak, sizeof(ak)), 1);
    struct pair p = {
        ike_sk_ctx_new(k->encr, k->keybits, k->integ, ek, el, al ? ak : NULL, al, true),
        ike_sk_ctx_new(k->encr, k->keybits, k->integ, ek, el, al ? ak : NULL, al, false),
    };
    assert_non_null(p.enc);
    assert_non_null(p.dec);
    return p;
}

static void free_pair(struct pair *p)
{
    ike_sk_ctx_free(p->enc);
    ike_sk_ctx_free(p->dec);
}

/* Builds header + SK/SKF header + plain_len bytes of inner payloads. */
static size_t build_plain(uint8_t *msg, bool skf, size_t plain_len)
{
    size_t len = put_header(msg, 37);
    msg[len++] = 0x29, msg[len++] = 0, msg[len++] = 0, msg[len++] = 0;
    if (skf)
        msg[len++] = 0, msg[len++] = 2, msg[len++] = 0, msg[len++] = 3;
    for (size_t i = 0; i < plain_len; i++)
        msg[len++] = (uint8_t)(i * 7 + 1);
    return len;
}

static void every_combination_round_trips(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_COMBOS; k++) {
        struct pair p = make_pair(&combos[k]);
        for (int skf = 0; skf <= 1; skf++) {
            for (size_t pl = 0; pl <= 70; pl += 1 + pl / 8) {
                uint8_t msg[512], orig[512];
                size_t len = build_plain(msg, skf, pl), off = 0, plen = 0;
                size_t hdr = skf ? IKE_SKF_HDR_LEN : IKE_SK_HDR_LEN;
                memcpy(orig, msg, len);
                assert_int_equal(ike_sk_encrypt(p.enc, msg, sizeof(msg), 28, skf, &len), IKE_SK_OK);
                assert_int_equal(len, 28 + hdr + ike_sk_body_len(p.enc, pl));
                assert_true(len - 28 - hdr - pl <= ike_sk_overhead_max(p.enc));
                /* Lengths in the IKE header and the SK header are set. */
                assert_int_equal((size_t)msg[24] << 24 | msg[25] << 16 | msg[26] << 8 | msg[27],
                                 len);
                assert_int_equal((size_t)msg[30] << 8 | msg[31], len - 28);
                if (pl >= 16) /* the payloads do not appear in clear */
                    assert_memory_not_equal(msg + 28 + hdr + ike_sk_iv_len(p.enc), orig + 28 + hdr,
                                            16);
                assert_int_equal(ike_sk_decrypt(p.dec, msg, len, 28, skf, &off, &plen), IKE_SK_OK);
                assert_int_equal(plen, pl);
                assert_int_equal(off, 28 + hdr + ike_sk_iv_len(p.enc));
                assert_memory_equal(msg + off, orig + 28 + hdr, pl);
            }
        }
        free_pair(&p);
    }
}

static void aead_ivs_never_repeat(void **state)
{
    (void)state;
    struct combo k = {IKE_ENCR_AES_GCM_16, 256, 0};
    struct pair p = make_pair(&k);
    uint8_t a[128], b[128];
    size_t la = build_plain(a, false, 10), lb = build_plain(b, false, 10);
    assert_int_equal(ike_sk_encrypt(p.enc, a, sizeof(a), 28, false, &la), IKE_SK_OK);
    assert_int_equal(ike_sk_encrypt(p.enc, b, sizeof(b), 28, false, &lb), IKE_SK_OK);
    assert_memory_not_equal(a + 32, b + 32, 8);
    ike_sk_set_next_iv(p.enc, UINT64_MAX);
    lb = build_plain(b, false, 10);
    assert_int_equal(ike_sk_encrypt(p.enc, b, sizeof(b), 28, false, &lb), IKE_SK_ERR_INTERNAL);
    free_pair(&p);
}

/* ---- what is refused ---- */

static void any_flipped_bit_is_refused(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_COMBOS; k++) {
        struct pair p = make_pair(&combos[k]);
        uint8_t good[256], msg[256];
        size_t len = build_plain(good, false, 33), off, plen;
        assert_int_equal(ike_sk_encrypt(p.enc, good, sizeof(good), 28, false, &len), IKE_SK_OK);
        for (size_t i = 0; i < len; i++) {
            if (i == 30 || i == 31)
                continue; /* the SK length field: checked separately below */
            memcpy(msg, good, len);
            msg[i] ^= (uint8_t)(1u << (i % 8));
            enum ike_sk_status st = ike_sk_decrypt(p.dec, msg, len, 28, false, &off, &plen);
            if (st != IKE_SK_ERR_ICV)
                fail_msg("combo %zu: flipping byte %zu of %zu gave %d", k, i, len, st);
        }
        memcpy(msg, good, len);
        msg[31] ^= 1;
        assert_int_equal(ike_sk_decrypt(p.dec, msg, len, 28, false, &off, &plen),
                         IKE_SK_ERR_FORMAT);
        /* The untouched message still decrypts: failures left no state behind. */
        memcpy(msg, good, len);
        assert_int_equal(ike_sk_decrypt(p.dec, msg, len, 28, false, &off, &plen), IKE_SK_OK);
        free_pair(&p);
    }
}

static void short_and_misaligned_messages_are_refused(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_COMBOS; k++) {
        struct pair p = make_pair(&combos[k]);
        uint8_t good[256], msg[256];
        size_t len = build_plain(good, false, 20), off, plen;
        assert_int_equal(ike_sk_encrypt(p.enc, good, sizeof(good), 28, false, &len), IKE_SK_OK);
        size_t min = 28 + 4 + ike_sk_iv_len(p.enc) + 1 + ike_sk_icv_len(p.enc);
        /* Cut anywhere (with the SK length made to agree): never accepted. */
        for (size_t cut = 29; cut < len; cut++) {
            memcpy(msg, good, len);
            size_t n = cut;
            if (n >= 32) {
                msg[30] = (uint8_t)((n - 28) >> 8);
                msg[31] = (uint8_t)(n - 28);
            }
            enum ike_sk_status st = ike_sk_decrypt(p.dec, msg, n, 28, false, &off, &plen);
            assert_int_not_equal(st, IKE_SK_OK);
            if (n < min)
                assert_int_equal(st, IKE_SK_ERR_FORMAT);
        }
        /* An offset inside the IKE header, or past the end. */
        assert_int_equal(ike_sk_decrypt(p.dec, good, len, 20, false, &off, &plen),
                         IKE_SK_ERR_FORMAT);
        assert_int_equal(ike_sk_decrypt(p.dec, good, len, len, false, &off, &plen),
                         IKE_SK_ERR_FORMAT);
        /* A message does not decrypt as SKF or at another offset. */
        memcpy(msg, good, len);
        assert_int_not_equal(ike_sk_decrypt(p.dec, msg, len, 28, true, &off, &plen), IKE_SK_OK);
        free_pair(&p);
    }
}

/* Builds an authentic AES-128-CBC/HMAC-SHA2-256-128 message whose last
 * decrypted byte (the pad length) is pad_len, with OpenSSL directly. */
static size_t forge_cbc(uint8_t *msg, const uint8_t *ek, const uint8_t *ak, uint8_t pad_len)
{
    size_t len = put_header(msg, 37);
    size_t total = len + 4 + 16 + 16 + 16;
    memcpy(msg + len, "\x29\x00\x00\x00", 4); /* SK header; length below */
    msg[len + 2] = (uint8_t)((total - 28) >> 8), msg[len + 3] = (uint8_t)(total - 28);
    msg[24] = 0, msg[25] = 0, msg[26] = (uint8_t)(total >> 8), msg[27] = (uint8_t)total;
    uint8_t *iv = msg + len + 4, *ct = iv + 16, body[16];
    memset(iv, 0x42, 16);
    memset(body, 0, sizeof(body));
    body[15] = pad_len;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl = 0;
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_cbc(), NULL, ek, iv), 1);
    EVP_CIPHER_CTX_set_padding(c, 0);
    assert_int_equal(EVP_EncryptUpdate(c, ct, &outl, body, 16), 1);
    EVP_CIPHER_CTX_free(c);
    uint8_t full[32];
    unsigned fl = 0;
    HMAC(EVP_sha256(), ak, 32, msg, total - 16, full, &fl);
    memcpy(msg + total - 16, full, 16);
    return total;
}

static void bad_pad_length_is_refused_after_authentication(void **state)
{
    (void)state;
    uint8_t ek[16], ak[32], msg[128];
    memset(ek, 0x11, sizeof(ek));
    memset(ak, 0x22, sizeof(ak));
    struct ike_sk_ctx *d =
        ike_sk_ctx_new(IKE_ENCR_AES_CBC, 128, IKE_INTEG_HMAC_SHA2_256_128, ek, 16, ak, 32, false);
    assert_non_null(d);
    size_t off, plen;
    size_t len = forge_cbc(msg, ek, ak, 15); /* all padding: 0 bytes of payloads */
    assert_int_equal(ike_sk_decrypt(d, msg, len, 28, false, &off, &plen), IKE_SK_OK);
    assert_int_equal(plen, 0);
    len = forge_cbc(msg, ek, ak, 16); /* one more than there is */
    assert_int_equal(ike_sk_decrypt(d, msg, len, 28, false, &off, &plen), IKE_SK_ERR_PAD);
    len = forge_cbc(msg, ek, ak, 255);
    assert_int_equal(ike_sk_decrypt(d, msg, len, 28, false, &off, &plen), IKE_SK_ERR_PAD);
    ike_sk_ctx_free(d);
}

static void wrong_use_is_refused(void **state)
{
    (void)state;
    uint8_t key[64] = {0}, msg[64];
    /* Key lengths must match the transform. */
    assert_null(ike_sk_ctx_new(IKE_ENCR_AES_GCM_16, 256, 0, key, 32, NULL, 0, true));
    assert_null(
        ike_sk_ctx_new(IKE_ENCR_AES_CBC, 128, IKE_INTEG_HMAC_SHA2_256_128, key, 16, key, 20, true));
    assert_null(ike_sk_ctx_new(IKE_ENCR_AES_CBC, 128, IKE_INTEG_NONE, key, 16, NULL, 0, true));
    assert_null(ike_sk_ctx_new(IKE_ENCR_AES_GCM_16, 128, IKE_INTEG_HMAC_SHA2_256_128, key, 20, key,
                               32, true));
    assert_null(ike_sk_ctx_new(IKE_ENCR_3DES, 0, IKE_INTEG_HMAC_SHA1_96, key, 24, key, 20, true));
    /* No room for the result; a decrypting context does not encrypt. */
    struct combo k = {IKE_ENCR_AES_CBC, 128, IKE_INTEG_HMAC_SHA2_256_128};
    struct pair p = make_pair(&k);
    size_t len = build_plain(msg, false, 20);
    assert_int_equal(ike_sk_encrypt(p.enc, msg, len + 10, 28, false, &len), IKE_SK_ERR_INTERNAL);
    len = build_plain(msg, false, 20);
    assert_int_equal(ike_sk_encrypt(p.dec, msg, sizeof(msg), 28, false, &len), IKE_SK_ERR_INTERNAL);
    free_pair(&p);
    ike_sk_ctx_free(NULL);
}

static void initiator_and_responder_pairs_talk(void **state)
{
    (void)state;
    struct ike_sa_transforms t = {IKE_ENCR_AES_CBC, 256, IKE_PRF_HMAC_SHA2_256,
                                  IKE_INTEG_HMAC_SHA2_256_128};
    uint8_t ni[32] = {1}, nr[32] = {2}, gir[256] = {3}, spii[8] = {4}, spir[8] = {5};
    struct ike_sa_keys keys;
    assert_int_equal(ike_sa_keys_new(&t, ni, 32, nr, 32, gir, 256, spii, spir, &keys), 0);
    struct ike_sk_ctx *io, *ii, *ro, *ri;
    assert_int_equal(ike_sk_pair_new(&t, &keys, true, &io, &ii), 0);
    assert_int_equal(ike_sk_pair_new(&t, &keys, false, &ro, &ri), 0);
    uint8_t msg[256];
    size_t len = build_plain(msg, false, 40), off, plen;
    assert_int_equal(ike_sk_encrypt(io, msg, sizeof(msg), 28, false, &len), IKE_SK_OK);
    assert_int_equal(ike_sk_decrypt(ri, msg, len, 28, false, &off, &plen), IKE_SK_OK);
    len = build_plain(msg, false, 40);
    assert_int_equal(ike_sk_encrypt(ro, msg, sizeof(msg), 28, false, &len), IKE_SK_OK);
    assert_int_equal(ike_sk_decrypt(ii, msg, len, 28, false, &off, &plen), IKE_SK_OK);
    /* A message sent by the responder does not verify as the initiator's. */
    len = build_plain(msg, false, 40);
    assert_int_equal(ike_sk_encrypt(ro, msg, sizeof(msg), 28, false, &len), IKE_SK_OK);
    assert_int_equal(ike_sk_decrypt(ri, msg, len, 28, false, &off, &plen), IKE_SK_ERR_ICV);
    ike_sk_ctx_free(io);
    ike_sk_ctx_free(ii);
    ike_sk_ctx_free(ro);
    ike_sk_ctx_free(ri);
    ike_sa_keys_wipe(&keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chacha20_poly1305_rfc7634_decrypts),
        cmocka_unit_test(chacha20_poly1305_rfc7634_encrypts_byte_for_byte),
        cmocka_unit_test(aes_gcm_16_matches_independent_computation),
        cmocka_unit_test(aes_cbc_hmac_decrypts_independent_messages),
        cmocka_unit_test(every_combination_round_trips),
        cmocka_unit_test(aead_ivs_never_repeat),
        cmocka_unit_test(any_flipped_bit_is_refused),
        cmocka_unit_test(short_and_misaligned_messages_are_refused),
        cmocka_unit_test(bad_pad_length_is_refused_after_authentication),
        cmocka_unit_test(wrong_use_is_refused),
        cmocka_unit_test(initiator_and_responder_pairs_talk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
