/* ESP transforms against published vectors (draft-mcgrew-gcm-test-01 for
 * RFC 4106, RFC 7634 appendix A, RFC 4868 section 2.7.2), then round trips
 * of every transform x (32-bit, ESN) x (IPv4, IPv6), and the reason a
 * damaged packet is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "esp/esp_crypto.h"
#include "esp/esp_xform.h"
#include "tests/unit/ike_testhex.h"

#define BUFCAP 4096
#define HEAD   64

struct keyed {
    struct esp_suite suite;
    struct esp_cctx enc, dec;
};

static void keyed_init(struct keyed *k, uint16_t encr, uint16_t bits, uint16_t integ,
                       const uint8_t *ekey, size_t elen, const uint8_t *ikey, size_t ilen)
{
    char err[200] = "";
    int rc = esp_suite_init(&k->suite, encr, bits, integ, elen, ilen, err, sizeof(err));
    if (rc != 0)
        fail_msg("suite: %s", err);
    assert_int_equal(esp_cctx_init(&k->enc, &k->suite, ekey, ikey, true), 0);
    assert_int_equal(esp_cctx_init(&k->dec, &k->suite, ekey, ikey, false), 0);
}

static void keyed_clear(struct keyed *k)
{
    esp_cctx_clear(&k->enc);
    esp_cctx_clear(&k->dec);
}

static struct esp_buf buf_with(uint8_t *mem, const uint8_t *data, size_t len)
{
    struct esp_buf b = {mem, BUFCAP, HEAD, len};
    memcpy(mem + HEAD, data, len);
    return b;
}

/* --- draft-mcgrew-gcm-test-01, section 4 (AES-GCM in ESP) ---------------- */

struct gcm_case {
    const char *key; /* without salt */
    const char *spi, *seq, *nonce, *plaintext, *packet;
};

static const struct gcm_case gcm_cases[] = {
    {"4c80cdefbb5d10da906ac73c3613a634", "00004321", "8765432100000000", "2e443b684956ed7e3b244cfe",
     "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000"
     "00000000045f736970045f756470037369700963796265726369747902646b00"
     "0021000101020201",
     "00004321000000004956ed7e3b244cfefecf537e729d5b07dc30df528dd22b76"
     "8d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf65925bf1f4a13c5d"
     "15b21e1884f5ff6247aeabb786b93bce61bc17d768fd9732459018148f6cbe72"
     "2fd04796562dfdb4"},
    {"feffe9928665731c6d6a8f9467308308", "0000a5f8", "0000000a", "cafebabefacedbaddecaf888",
     "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100"
     "0001000000000000037369700963796265726369747902646b00000100010001",
     "0000a5f80000000afacedbaddecaf888deb22cd9b07c72c16e3a65beeb8df304"
     "a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f51330d0eec416642"
     "cfbb85a5b47e48a4ec3b9ba95d918bd183b70d3aa8bc6ee4c309e9d85a41ad4a"},
    {"abbccddef00112233445566778899aababbccddef00112233445566778899aab", "4a2cbfe3", "00000002",
     "112233440102030405060708",
     "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000"
     "7002400020bf0000020405b40101040201020201",
     "4a2cbfe3000000020102030405060708ff425c9b724599df7a3bcd510194e00d"
     "6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f0545659f14e99d"
     "ef842d8eb335f4eecfdbf831824b4c4915956c96"},
    {"00000000000000000000000000000000", "00000000", "00000001", "000000000000000000000000",
     "4500003c99c500008001cb7a40679318010101010800075c0200440061626364"
     "65666768696a6b6c6d6e6f70717273747576776162636465666768690102020"
     "1",
     "000000000000000100000000000000004688daf2f973a392732909c331d56d60"
     "f694abaa414b5e7ff5fdcdfff5e9a284456476492719ffb64de7d9dca1e1d894"
     "bc3bd57873ed4d181d19d4d5c8c18af3f821d496eeb096e98ad2b69e4799c71d"},
    {"3de09874b388e6491988d0c3607eae1f", "42f67e3f", "1010101010101010", "57690e434e280000a2fca1a3",
     "4500003c99c300008001cb7c40679318010101010800085c0200430061626364"
     "65666768696a6b6c6d6e6f707172737475767761626364656667686901020201",
     "42f67e3f101010104e280000a2fca1a3fba2caa4853cf9f0f22cb10d86dd83b0"
     "fec75691cf1a04b00d1138ec9c35791765acbd8701ad79845bf9fe3fba487bc9"
     "1755e6662b4c8d0d1f5e22739530320ae0d731cc978ecafaeae88f00e80d6e48"},
    {"abbccddef00112233445566778899aab", "00000100", "0000000000000001", "decaf888cafedebaceface74",
     "4500004933ba00007f119106c3fb1d10c2b1d326c02831ce0035dd7b800302d5"
     "00004e20001e8c18d75b81dc91baa0476b91b924b280389d92c963bac046ec95"
     "9b6266c04722b14923010101",
     "0000010000000001cafedebaceface7418a6fd42f72cbf4ab2a2ea901f73d814"
     "e3e7f243d95412e1c349c1d2fbec168f9190feebaf2cb01984e65863965d7472"
     "b79da345e0e780191f0d2f0e0f496c226f2127b27db35724e7845d68651f57e6"
     "5f354f75ff17015769623436"},
    {"abbccddef00112233445566778899aababbccddef00112233445566778899aab", "17405e67",
     "156f3126dd0db99b", "73616c74616e640169766563",
     "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb712602"
     "50101f646d540001",
     "17405e67dd0db99b616e640169766563f2d69ecdbd5a0d5b8d5ef38bad4da58d"
     "1f278fde98ef67549d524a3018d9a57ff4d3a31ce673119e451626c2415771e3"
     "b7eebca614c89b35"},
    {"7d773d00c144c525ac619d18c84a3f47", "335467ae", "ffffffff", "d966426743457e9182443bc6",
     "01020201",
     "335467aeffffffff43457e9182443bc6437f866bcb3f699fe9b0822bac961c45"
     "04bef270"},
};

static void test_gcm_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(gcm_cases) / sizeof(gcm_cases[0]); i++) {
        const struct gcm_case *c = &gcm_cases[i];
        uint8_t key[36], nonce[12], spi_b[4], seq_b[8], pt[256], pkt[256], mem[BUFCAP];
        size_t klen = th_unhex(c->key, key, sizeof(key));
        th_unhex(c->nonce, nonce, sizeof(nonce));
        memcpy(key + klen, nonce, 4);
        th_unhex(c->spi, spi_b, sizeof(spi_b));
        size_t seqlen = th_unhex(c->seq, seq_b, sizeof(seq_b));
        size_t ptlen = th_unhex(c->plaintext, pt, sizeof(pt));
        size_t pktlen = th_unhex(c->packet, pkt, sizeof(pkt));
        bool esn = seqlen == 8;
        uint32_t spi = (uint32_t)spi_b[0] << 24 | spi_b[1] << 16 | spi_b[2] << 8 | spi_b[3];
        uint64_t seq = 0;
        for (size_t j = 0; j < seqlen; j++)
            seq = seq << 8 | seq_b[j];

        struct keyed k;
        keyed_init(&k, ESP_ENCR_AES_GCM_16, (uint16_t)(klen * 8), ESP_INTEG_NONE, key, klen + 4,
                   NULL, 0);

        /* Decap of the published packet gives the published plaintext. */
        struct esp_buf b = buf_with(mem, pkt, pktlen);
        uint8_t nh = 0;
        assert_int_equal(esp_xform_decap(&k.dec, esn, (uint32_t)(seq >> 32), &b, &nh), ESP_OK);
        size_t padlen = pt[ptlen - 2];
        assert_int_equal(b.len, ptlen - 2 - padlen);
        assert_memory_equal(esp_buf_data(&b), pt, b.len);
        assert_int_equal(nh, pt[ptlen - 1]);

        /* Encap with the published IV gives the published packet, where the
         * vector's padding is the minimal one we produce. */
        size_t payload = ptlen - 2 - padlen;
        if ((payload + 2 + 3) / 4 * 4 == ptlen) {
            b = buf_with(mem, pt, payload);
            assert_int_equal(
                esp_xform_encap_iv(&k.enc, spi, seq, esn, pt[ptlen - 1], nonce + 4, &b), ESP_OK);
            assert_int_equal(b.len, pktlen);
            assert_memory_equal(esp_buf_data(&b), pkt, pktlen);
        }
        keyed_clear(&k);
    }
}

/* --- RFC 7634 appendix A: ChaCha20-Poly1305 ESP example ------------------ */

static const char *const rfc7634_key = "808182838485868788898a8b8c8d8e8f"
                                       "909192939495969798999a9b9c9d9e9f"
                                       "a0a1a2a3";
static const char *const rfc7634_inner = "45000054a6f200004001e778c6336405"
                                         "c00002050800"
                                         "5b7a3a080000553bec10"
                                         "0007362708090a0b0c0d0e0f10111213"
                                         "1415161718191a1b1c1d1e1f20212223"
                                         "2425262728292a2b2c2d2e2f30313233"
                                         "34353637";
static const char *const rfc7634_esp =
    "0102030400000005101112131415161724039428b97f417e3c13753a4f05087b"
    "67c352e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa95dfab4c02f7"
    "2aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da"
    "9165b82829f641e076aaa8266b7fb0f7b11b369907e1ad43";

static void test_chacha_vector(void **state)
{
    (void)state;
    uint8_t key[36], inner[128], esp[160], mem[BUFCAP], iv[8];
    th_unhex(rfc7634_key, key, sizeof(key));
    size_t ilen = th_unhex(rfc7634_inner, inner, sizeof(inner));
    size_t elen = th_unhex(rfc7634_esp, esp, sizeof(esp));
    th_unhex("1011121314151617", iv, sizeof(iv));
    assert_int_equal(ilen, 84);
    struct keyed k;
    keyed_init(&k, ESP_ENCR_CHACHA20_POLY1305, 256, ESP_INTEG_NONE, key, 36, NULL, 0);

    struct esp_buf b = buf_with(mem, inner, ilen);
    assert_int_equal(esp_xform_encap_iv(&k.enc, 0x01020304, 5, false, 4, iv, &b), ESP_OK);
    assert_int_equal(b.len, elen);
    assert_memory_equal(esp_buf_data(&b), esp, elen);

    b = buf_with(mem, esp, elen);
    uint8_t nh = 0;
    assert_int_equal(esp_xform_decap(&k.dec, false, 0, &b, &nh), ESP_OK);
    assert_int_equal(nh, 4);
    assert_int_equal(b.len, ilen);
    assert_memory_equal(esp_buf_data(&b), inner, ilen);

    /* The inner packet is a sane IPv4 ICMP packet from 198.51.100.5. */
    struct esp_addr src, dst;
    assert_int_equal(esp_inner_parse(&b, nh, &src, &dst), ESP_OK);
    struct esp_prefix ts = {{4, {198, 51, 100, 5}}, 32};
    assert_true(esp_ts_match(&ts, 1, &src));
    keyed_clear(&k);
}

/* --- RFC 4868 section 2.7.2: truncated HMAC-SHA2 authenticators ---------- */

struct hmac_case {
    uint16_t integ;
    uint8_t keybyte; /* 0: "Jefe" repeated */
    const char *data;
    const char *icv;
};

static const struct hmac_case hmac_cases[] = {
    {ESP_INTEG_HMAC_SHA2_256_128, 0x0b, "Hi There", "198a607eb44bfbc69903a0f1cf2bbdc5"},
    {ESP_INTEG_HMAC_SHA2_384_192, 0x0b, "Hi There",
     "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973"},
    {ESP_INTEG_HMAC_SHA2_512_256, 0x0b, "Hi There",
     "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"},
    {ESP_INTEG_HMAC_SHA2_512_256, 0, "what do ya want for nothing?",
     "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454"},
};

static void test_hmac_vectors(void **state)
{
    (void)state;
    static const uint8_t aes[16];
    for (int mode = ESP_HMAC_REINIT; mode <= ESP_HMAC_DUP; mode++) {
        esp_crypto_set_hmac_mode((enum esp_hmac_mode)mode);
        for (size_t i = 0; i < sizeof(hmac_cases) / sizeof(hmac_cases[0]); i++) {
            const struct hmac_case *c = &hmac_cases[i];
            uint8_t ikey[64], want[32], md[ESP_MAX_DIGEST];
            size_t ilen = c->integ == ESP_INTEG_HMAC_SHA2_256_128   ? 32
                          : c->integ == ESP_INTEG_HMAC_SHA2_384_192 ? 48
                                                                    : 64;
            for (size_t j = 0; j < ilen; j++)
                ikey[j] = c->keybyte ? c->keybyte : (uint8_t) "Jefe"[j % 4];
            size_t wlen = th_unhex(c->icv, want, sizeof(want));
            struct keyed k;
            keyed_init(&k, ESP_ENCR_AES_CBC, 128, c->integ, aes, 16, ikey, ilen);
            assert_int_equal(k.suite.icv_len, wlen);
            /* Twice: the keyed state must survive a packet. */
            for (int rep = 0; rep < 2; rep++) {
                const char *d = c->data;
                size_t half = strlen(d) / 2;
                assert_true(esp_cctx_hmac(&k.enc, (const uint8_t *)d, half,
                                          (const uint8_t *)d + half, strlen(d) - half, md) > 0);
                assert_memory_equal(md, want, wlen);
            }
            keyed_clear(&k);
        }
    }
    esp_crypto_set_hmac_mode(ESP_HMAC_REINIT);
}

/* --- round trips ---------------------------------------------------------- */

struct xf {
    const char *name;
    uint16_t encr, bits, integ;
    size_t elen, ilen;
};

static const struct xf xforms[] = {
    {"aes128gcm16", ESP_ENCR_AES_GCM_16, 128, ESP_INTEG_NONE, 20, 0},
    {"aes256gcm16", ESP_ENCR_AES_GCM_16, 256, ESP_INTEG_NONE, 36, 0},
    {"chacha20poly1305", ESP_ENCR_CHACHA20_POLY1305, 256, ESP_INTEG_NONE, 36, 0},
    {"aes128-sha256", ESP_ENCR_AES_CBC, 128, ESP_INTEG_HMAC_SHA2_256_128, 16, 32},
    {"aes256-sha256", ESP_ENCR_AES_CBC, 256, ESP_INTEG_HMAC_SHA2_256_128, 32, 32},
    {"aes128-sha384", ESP_ENCR_AES_CBC, 128, ESP_INTEG_HMAC_SHA2_384_192, 16, 48},
    {"aes256-sha384", ESP_ENCR_AES_CBC, 256, ESP_INTEG_HMAC_SHA2_384_192, 32, 48},
    {"aes128-sha512", ESP_ENCR_AES_CBC, 128, ESP_INTEG_HMAC_SHA2_512_256, 16, 64},
    {"aes256-sha512", ESP_ENCR_AES_CBC, 256, ESP_INTEG_HMAC_SHA2_512_256, 32, 64},
};

/* An inner packet of total length len (>= header) from src to dst. */
static size_t make_inner(uint8_t *p, int family, size_t len, uint8_t fill)
{
    memset(p, fill, len);
    if (family == 4) {
        static const uint8_t h[20] = {0x45, 0, 0,  0, 0, 0, 0,  0, 64, 17,
                                      0,    0, 10, 1, 0, 2, 10, 0, 0,  1};
        memcpy(p, h, 20);
        p[2] = (uint8_t)(len >> 8);
        p[3] = (uint8_t)len;
    } else {
        memset(p, 0, 40);
        p[0] = 0x60;
        p[4] = (uint8_t)((len - 40) >> 8);
        p[5] = (uint8_t)(len - 40);
        p[6] = 17;
        p[7] = 64;
        p[8] = 0xfd;
        p[23] = 2;
        p[24] = 0xfd;
        p[39] = 1;
    }
    return len;
}

static void test_round_trips(void **state)
{
    (void)state;
    uint8_t ekey[36], ikey[64], inner[1600], mem[BUFCAP];
    for (size_t i = 0; i < sizeof(ekey); i++)
        ekey[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof(ikey); i++)
        ikey[i] = (uint8_t)(i * 13 + 5);
    static const size_t sizes[] = {40, 41, 42, 43, 44, 57, 100, 1400, 1500};
    for (size_t x = 0; x < sizeof(xforms) / sizeof(xforms[0]); x++) {
        const struct xf *t = &xforms[x];
        struct keyed k;
        keyed_init(&k, t->encr, t->bits, t->integ, ekey, t->elen, ikey, t->ilen);
        for (int esn = 0; esn <= 1; esn++)
            for (int fam = 4; fam <= 6; fam += 2)
                for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                    uint64_t seq = esn ? 0x100000005ull + s : 7 + s;
                    size_t len = make_inner(inner, fam, sizes[s], (uint8_t)(s + x));
                    struct esp_buf b = buf_with(mem, inner, len);
                    uint8_t nh = fam == 4 ? ESP_NH_IPV4 : ESP_NH_IPV6;
                    assert_int_equal(esp_xform_encap(&k.enc, 0xabcd0001, seq, esn, nh, &b), ESP_OK);
                    /* Header, IV, aligned ciphertext, ICV; the payload is not in clear. */
                    size_t ct = b.len - 8 - k.suite.iv_len - k.suite.icv_len;
                    assert_int_equal(ct % k.suite.align, 0);
                    assert_true(ct >= len + 2 && ct < len + 2 + k.suite.align);
                    assert_int_equal(esp_buf_data(&b)[7], (uint8_t)seq);
                    assert_memory_not_equal(esp_buf_data(&b) + 8 + k.suite.iv_len + 20, inner + 20,
                                            16);
                    uint8_t sent[BUFCAP];
                    size_t sent_len = b.len;
                    memcpy(sent, esp_buf_data(&b), b.len);

                    uint8_t got_nh = 0;
                    assert_int_equal(
                        esp_xform_decap(&k.dec, esn, (uint32_t)(seq >> 32), &b, &got_nh), ESP_OK);
                    assert_int_equal(got_nh, nh);
                    assert_int_equal(b.len, len);
                    assert_memory_equal(esp_buf_data(&b), inner, len);

                    /* Any flipped bit (header, IV, ciphertext or ICV) fails integrity. */
                    size_t spots[] = {0, 5, 9, sent_len / 2, sent_len - 1};
                    for (size_t j = 0; j < 5; j++) {
                        b = buf_with(mem, sent, sent_len);
                        esp_buf_data(&b)[spots[j]] ^= 0x10;
                        assert_int_equal(
                            esp_xform_decap(&k.dec, esn, (uint32_t)(seq >> 32), &b, &got_nh),
                            ESP_DROP_INTEGRITY);
                    }
                    /* With ESN the high half is authenticated though not sent. */
                    if (esn) {
                        b = buf_with(mem, sent, sent_len);
                        assert_int_equal(esp_xform_decap(&k.dec, true, 2, &b, &got_nh),
                                         ESP_DROP_INTEGRITY);
                    }
                }
        keyed_clear(&k);
    }
}

/* The sequence number is the explicit IV (AEAD) or derives it (CBC): two
 * packets never share an IV. */
static void test_iv_from_sequence(void **state)
{
    (void)state;
    uint8_t ekey[36] = {1, 2, 3}, ikey[64] = {4, 5, 6}, inner[64], mem[BUFCAP], iv1[16];
    for (size_t x = 0; x < sizeof(xforms) / sizeof(xforms[0]); x++) {
        const struct xf *t = &xforms[x];
        struct keyed k;
        keyed_init(&k, t->encr, t->bits, t->integ, ekey, t->elen, ikey, t->ilen);
        size_t len = make_inner(inner, 4, 60, 0);
        struct esp_buf b = buf_with(mem, inner, len);
        assert_int_equal(esp_xform_encap(&k.enc, 1, 0x1234, false, 4, &b), ESP_OK);
        memcpy(iv1, esp_buf_data(&b) + 8, k.suite.iv_len);
        if (k.suite.aead) {
            static const uint8_t want[8] = {0, 0, 0, 0, 0, 0, 0x12, 0x34};
            assert_memory_equal(iv1, want, 8);
        }
        b = buf_with(mem, inner, len);
        assert_int_equal(esp_xform_encap(&k.enc, 1, 0x1235, false, 4, &b), ESP_OK);
        assert_memory_not_equal(esp_buf_data(&b) + 8, iv1, k.suite.iv_len);
        keyed_clear(&k);
    }
}

/* GCM-seals plaintext pt (trailer included, as the sender chose it) into an
 * ESP packet: an independent sender for packets our encap would not make. */
static size_t raw_gcm_seal(const uint8_t key[20], uint32_t spi, uint32_t seq, const uint8_t *pt,
                           size_t ptlen, uint8_t *out)
{
    uint8_t nonce[12],
        aad[8] = {(uint8_t)(spi >> 24), (uint8_t)(spi >> 16), (uint8_t)(spi >> 8), (uint8_t)spi,
                  (uint8_t)(seq >> 24), (uint8_t)(seq >> 16), (uint8_t)(seq >> 8), (uint8_t)seq};
    memcpy(nonce, key + 16, 4);
    memset(nonce + 4, 0x5a, 8);
    memcpy(out, aad, 8);
    memcpy(out + 8, nonce + 4, 8);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0;
    assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, nonce), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &outl, aad, 8), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, out + 16, &outl, pt, (int)ptlen), 1);
    assert_int_equal(EVP_EncryptFinal_ex(ctx, out + 16 + outl, &outl), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + 16 + ptlen), 1);
    EVP_CIPHER_CTX_free(ctx);
    return 16 + ptlen + 16;
}

static void test_padding_checked(void **state)
{
    (void)state;
    uint8_t key[20] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 0xaa, 0xbb, 0xcc, 0xdd};
    struct keyed k;
    keyed_init(&k, ESP_ENCR_AES_GCM_16, 128, ESP_INTEG_NONE, key, 20, NULL, 0);
    uint8_t pt[128], pkt[256], mem[BUFCAP];
    size_t len = make_inner(pt, 4, 60, 0x33);
    struct {
        const uint8_t trailer[8];
        size_t n;
        enum esp_reason want;
    } cases[] = {
        {{1, 2, 3, 4, 5, 6, 6, 4}, 8, ESP_OK},
        {{1, 2, 3, 5, 5, 6, 6, 4}, 8, ESP_DROP_PADDING}, /* not monotonic */
        {{0, 0, 0, 0, 0, 0, 6, 4}, 8, ESP_DROP_PADDING}, /* zeros */
        {{1, 2, 250, 4}, 4, ESP_DROP_PADDING},           /* longer than the payload */
        {{1, 2, 2, 6}, 4, ESP_OK},                       /* next header left to the caller */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(pt + len, cases[i].trailer, cases[i].n);
        size_t n = raw_gcm_seal(key, 0x100, (uint32_t)i + 1, pt, len + cases[i].n, pkt);
        struct esp_buf b = buf_with(mem, pkt, n);
        uint8_t nh = 0;
        assert_int_equal(esp_xform_decap(&k.dec, false, 0, &b, &nh), cases[i].want);
        if (cases[i].want == ESP_OK) {
            assert_int_equal(b.len, len);
            assert_int_equal(nh, cases[i].trailer[cases[i].n - 1]);
        }
    }
    keyed_clear(&k);
}

static void test_inner_checks(void **state)
{
    (void)state;
    uint8_t p[128];
    struct esp_addr src, dst;
    size_t len = make_inner(p, 4, 60, 0);
    struct esp_buf b = {p, sizeof(p), 0, len};
    assert_int_equal(esp_inner_parse(&b, ESP_NH_IPV4, &src, &dst), ESP_OK);
    assert_int_equal(esp_inner_parse(&b, ESP_NH_IPV6, &src, &dst), ESP_DROP_INNER_HEADER);
    assert_int_equal(esp_inner_parse(&b, ESP_NH_DUMMY, &src, &dst), ESP_DROP_DUMMY);
    assert_int_equal(esp_inner_parse(&b, 6, &src, &dst), ESP_DROP_NEXT_HEADER);
    /* Total length beyond the bytes present. */
    b.len = 50;
    assert_int_equal(esp_inner_parse(&b, ESP_NH_IPV4, &src, &dst), ESP_DROP_INNER_HEADER);
    /* Trailing TFC padding is trimmed to the IP total length. */
    b.len = 80;
    assert_int_equal(esp_inner_parse(&b, ESP_NH_IPV4, &src, &dst), ESP_OK);
    assert_int_equal(b.len, 60);
    p[0] = 0x44; /* IHL below 5 */
    assert_int_equal(esp_inner_parse(&b, ESP_NH_IPV4, &src, &dst), ESP_DROP_INNER_HEADER);
    len = make_inner(p, 6, 48, 0);
    b.len = len;
    assert_int_equal(esp_inner_parse(&b, 0, &src, &dst), ESP_OK);
    assert_int_equal(src.family, 6);
    b.len = 39;
    assert_int_equal(esp_inner_parse(&b, ESP_NH_IPV6, &src, &dst), ESP_DROP_INNER_HEADER);

    struct esp_prefix ts[2] = {{{4, {10, 1, 0, 0}}, 16}, {{6, {0xfd}}, 8}};
    struct esp_addr a4 = {4, {10, 1, 200, 3}}, b4 = {4, {10, 2, 0, 1}}, a6 = {6, {0xfd, 1}};
    assert_true(esp_ts_match(ts, 2, &a4));
    assert_false(esp_ts_match(ts, 2, &b4));
    assert_true(esp_ts_match(ts, 2, &a6));
    struct esp_prefix odd = {{4, {10, 1, 0x80, 0}}, 17};
    assert_true(esp_prefix_contains(&odd, &a4));
    a4.bytes[2] = 0x7f;
    assert_false(esp_prefix_contains(&odd, &a4));
}

static void test_truncated_and_room(void **state)
{
    (void)state;
    uint8_t ekey[36] = {0}, mem[BUFCAP], inner[64];
    struct keyed k;
    keyed_init(&k, ESP_ENCR_AES_GCM_16, 128, ESP_INTEG_NONE, ekey, 20, NULL, 0);
    for (size_t n = 0; n < 8 + 8 + 16 + 2; n++) {
        memset(mem, 0, sizeof(mem));
        struct esp_buf b = {mem, BUFCAP, HEAD, n};
        uint8_t nh;
        enum esp_reason r = esp_xform_decap(&k.dec, false, 0, &b, &nh);
        assert_int_equal(r, ESP_DROP_MALFORMED);
    }
    size_t len = make_inner(inner, 4, 40, 0);
    struct esp_buf b = {mem, HEAD + len + 10, HEAD, len};
    memcpy(mem + HEAD, inner, len);
    assert_int_equal(esp_xform_encap(&k.enc, 1, 1, false, 4, &b), ESP_DROP_NO_ROOM);
    b = (struct esp_buf){mem, BUFCAP, 10, len};
    assert_int_equal(esp_xform_encap(&k.enc, 1, 1, false, 4, &b), ESP_DROP_NO_ROOM);
    keyed_clear(&k);

    char err[128];
    struct esp_suite s;
    assert_int_equal(esp_suite_init(&s, ESP_ENCR_AES_GCM_16, 192, 0, 28, 0, err, sizeof(err)), -1);
    assert_int_equal(esp_suite_init(&s, ESP_ENCR_AES_CBC, 128, 0, 16, 0, err, sizeof(err)), -1);
    assert_int_equal(esp_suite_init(&s, ESP_ENCR_AES_GCM_16, 128, 12, 20, 32, err, sizeof(err)),
                     -1);
    assert_int_equal(esp_suite_init(&s, 3, 128, 12, 16, 32, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcm_vectors),      cmocka_unit_test(test_chacha_vector),
        cmocka_unit_test(test_hmac_vectors),     cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_iv_from_sequence), cmocka_unit_test(test_padding_checked),
        cmocka_unit_test(test_inner_checks),     cmocka_unit_test(test_truncated_and_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
