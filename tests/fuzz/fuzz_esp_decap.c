/*
 * libFuzzer target: ESP decapsulation through the SA database, as a worker
 * calls it, for every transform with and without ESN.
 *
 * Input: byte 0 picks the SA (bits 0-2: transform, bit 3: ESN) and the mode
 * (bits 4-5):
 *   0: the rest follows a valid SPI as the packet (sequence, IV, ciphertext,
 *      ICV: random bytes that almost never authenticate);
 *   1: byte 1 is a next header and the rest a payload, sealed properly with
 *      the SA's keys, so padding, next header, inner header and selector
 *      checks see arbitrary authenticated content;
 *   2: the rest is a whole plaintext (payload, padding, pad length, next
 *      header as the fuzzer wrote them) sealed with AES-128-GCM, so the
 *      trailer checks see arbitrary authenticated trailers.
 * Nothing may crash, and an accepted packet must lie inside the buffer.
 */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "esp/esp_crypto.h"
#include "esp/esp_sadb.h"
#include "esp/esp_xform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NXF  6
#define HEAD 128
#define CAP  (65536 + 256)

struct xf {
    uint16_t encr, bits, integ;
    size_t elen, ilen;
};

static const struct xf xforms[NXF] = {
    {ESP_ENCR_AES_GCM_16, 128, ESP_INTEG_NONE, 20, 0},
    {ESP_ENCR_AES_GCM_16, 256, ESP_INTEG_NONE, 36, 0},
    {ESP_ENCR_CHACHA20_POLY1305, 256, ESP_INTEG_NONE, 36, 0},
    {ESP_ENCR_AES_CBC, 128, ESP_INTEG_HMAC_SHA2_256_128, 16, 32},
    {ESP_ENCR_AES_CBC, 256, ESP_INTEG_HMAC_SHA2_384_192, 32, 48},
    {ESP_ENCR_AES_CBC, 256, ESP_INTEG_HMAC_SHA2_512_256, 32, 64},
};

static struct esp_sadb *db;
static struct esp_suite suites[NXF * 2];
static struct esp_cctx sealers[NXF * 2]; /* the peer's encrypt side */
static struct esp_sa_params params[NXF * 2];
static uint64_t next_seq[NXF * 2];
static uint8_t mem[CAP];

static void setup(void)
{
    esp_rcu_register();
    struct esp_sadb_config cfg = {1, 4, NULL, NULL};
    db = esp_sadb_new(&cfg);
    if (!db)
        abort();
    for (unsigned i = 0; i < NXF * 2; i++) {
        const struct xf *x = &xforms[i % NXF];
        struct esp_sa_params *p = &params[i];
        memset(p, 0, sizeof(*p));
        p->spi_in = 0x100 + i;
        p->spi_out = 0x200 + i;
        p->protocol = ESP_PROTO_ESP;
        p->encr = x->encr;
        p->encr_key_bits = x->bits;
        p->integ = x->integ;
        p->encr_key_len = x->elen;
        p->integ_key_len = x->ilen;
        for (size_t k = 0; k < ESP_MAX_ENCR_KEY; k++)
            p->encr_key_in[k] = (uint8_t)(i * 31 + k);
        for (size_t k = 0; k < ESP_MAX_INTEG_KEY; k++)
            p->integ_key_in[k] = (uint8_t)(i * 17 + k * 3);
        p->esn = i >= NXF;
        p->tenant = 1 + i; /* the same client addresses in each: one tenant each */
        p->remote_ts[0] = (struct esp_prefix){{4, {10, 1, 0, 2}}, 32};
        p->remote_ts[1] = (struct esp_prefix){{6, {0xfd, 1, [15] = 2}}, 128};
        p->n_remote_ts = 2;
        p->endpoint.local = (struct esp_addr){4, {203, 0, 113, 1}};
        p->endpoint.remote = (struct esp_addr){4, {198, 51, 100, 2}};
        char err[200];
        if (esp_sadb_install(db, p, err, sizeof(err)) != 0 ||
            esp_suite_init(&suites[i], x->encr, x->bits, x->integ, x->elen, x->ilen, err,
                           sizeof(err)) != 0 ||
            esp_cctx_init(&sealers[i], &suites[i], p->encr_key_in, p->integ_key_in, true) != 0)
            abort();
    }
}

static size_t put_header(uint8_t *p, uint32_t spi, uint64_t seq)
{
    p[0] = (uint8_t)(spi >> 24);
    p[1] = (uint8_t)(spi >> 16);
    p[2] = (uint8_t)(spi >> 8);
    p[3] = (uint8_t)spi;
    p[4] = (uint8_t)(seq >> 24);
    p[5] = (uint8_t)(seq >> 16);
    p[6] = (uint8_t)(seq >> 8);
    p[7] = (uint8_t)seq;
    return 8;
}

/* AES-128-GCM over a plaintext the fuzzer wrote whole (SA 0, 32-bit seq). */
static size_t raw_gcm(const uint8_t *pt, size_t n, uint64_t seq, uint8_t *out)
{
    const struct esp_sa_params *p = &params[0];
    uint8_t nonce[12];
    memcpy(nonce, p->encr_key_in + 16, 4);
    memset(nonce + 4, 0, 4);
    for (int i = 0; i < 4; i++)
        nonce[8 + i] = (uint8_t)(seq >> (24 - 8 * i));
    size_t h = put_header(out, p->spi_in, seq);
    memcpy(out + h, nonce + 4, 8);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, ok = ctx &&
                       EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, p->encr_key_in, nonce) &&
                       EVP_EncryptUpdate(ctx, NULL, &outl, out, 8) &&
                       EVP_EncryptUpdate(ctx, out + 16, &outl, pt, (int)n) &&
                       EVP_EncryptFinal_ex(ctx, out + 16 + outl, &outl) &&
                       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + 16 + n);
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 16 + n + 16 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db)
        setup();
    if (size < 1 || size > 65000)
        return 0;
    unsigned sel = (data[0] & 7) % NXF + ((data[0] & 8) ? NXF : 0);
    unsigned mode = (data[0] >> 4) & 3;
    struct esp_buf b = {mem, CAP, HEAD, 0};
    uint8_t *p = mem + HEAD;

    if (mode == 1 && size >= 2) {
        memcpy(p, data + 2, size - 2);
        b.len = size - 2;
        uint64_t seq = ++next_seq[sel];
        if (esp_xform_encap(&sealers[sel], params[sel].spi_in, seq, params[sel].esn, data[1], &b) !=
            ESP_OK)
            return 0;
    } else if (mode == 2) {
        sel = 0;
        b.len = raw_gcm(data + 1, size - 1, ++next_seq[0], p);
        if (!b.len)
            return 0;
    } else {
        size_t h = put_header(p, params[sel].spi_in, 0);
        memcpy(p + 4, data + 1, size - 1);
        b.len = 4 + size - 1;
        (void)h;
    }

    struct esp_rx_info rx;
    enum esp_reason r = esp_sadb_decap(db, 0, &b, &rx);
    if (r == ESP_OK && (b.off < HEAD || b.off + b.len > CAP || rx.tenant != params[sel].tenant))
        __builtin_trap();
    if ((unsigned)r >= ESP_REASON_COUNT)
        __builtin_trap();
    esp_rcu_quiescent();
    return 0;
}
