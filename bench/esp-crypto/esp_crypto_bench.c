/*
 * ESP crypto micro-benchmark: ns per 1400-byte inner packet to seal (encap)
 * and open (decap) for every transform, with the worker's cached keyed
 * contexts (as the data plane runs) and with contexts keyed afresh for every
 * packet (what caching saves). For AES-CBC+HMAC both ways of restarting the
 * keyed HMAC are measured (EVP_MAC_init on the keyed context vs. a dup of a
 * keyed template). run.sh prints `openssl speed -evp aes-128-gcm` next to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "esp/esp_crypto.h"
#include "esp/esp_xform.h"

#define INNER 1400
#define HEAD  64
#define CAP   2048

static double seconds = 0.5;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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
    {"aes256-sha384", ESP_ENCR_AES_CBC, 256, ESP_INTEG_HMAC_SHA2_384_192, 32, 48},
    {"aes256-sha512", ESP_ENCR_AES_CBC, 256, ESP_INTEG_HMAC_SHA2_512_256, 32, 64},
};

static uint8_t ekey[36], ikey[64];
static uint8_t mem[CAP], sealed[CAP];
static size_t sealed_len;

/* ns per packet; rekey: a fresh keyed context for every packet. */
static double run_seal(const struct esp_suite *s, bool rekey)
{
    struct esp_cctx c;
    if (!rekey && esp_cctx_init(&c, s, ekey, ikey, true) != 0)
        return -1;
    uint64_t n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 64; i++) {
            if (rekey && esp_cctx_init(&c, s, ekey, ikey, true) != 0)
                return -1;
            struct esp_buf b = {mem, CAP, HEAD, INNER};
            if (esp_xform_encap(&c, 0x1234, ++n, false, 4, &b) != ESP_OK)
                return -1;
            if (rekey)
                esp_cctx_clear(&c);
        }
        t = now() - t0;
    } while (t < seconds);
    if (!rekey)
        esp_cctx_clear(&c);
    return t / (double)n * 1e9;
}

static double run_copy(void)
{
    uint64_t n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 256; i++, n++) {
            memcpy(mem + HEAD, sealed, sealed_len);
            __asm__ volatile("" : : "r"(mem) : "memory");
        }
        t = now() - t0;
    } while (t < seconds / 4);
    return t / (double)n * 1e9;
}

/* Includes copying the sealed packet back in (decap works in place). */
static double run_open(const struct esp_suite *s, bool rekey)
{
    struct esp_cctx e, c;
    if (esp_cctx_init(&e, s, ekey, ikey, true) != 0)
        return -1;
    struct esp_buf b = {mem, CAP, HEAD, INNER};
    memset(mem + HEAD, 0x45, INNER);
    if (esp_xform_encap(&e, 0x1234, 7, false, 4, &b) != ESP_OK)
        return -1;
    esp_cctx_clear(&e);
    sealed_len = b.len;
    memcpy(sealed, esp_buf_data(&b), b.len);
    if (!rekey && esp_cctx_init(&c, s, ekey, ikey, false) != 0)
        return -1;
    uint64_t n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 64; i++, n++) {
            if (rekey && esp_cctx_init(&c, s, ekey, ikey, false) != 0)
                return -1;
            b = (struct esp_buf){mem, CAP, HEAD, sealed_len};
            memcpy(mem + HEAD, sealed, sealed_len);
            uint8_t nh;
            if (esp_xform_decap(&c, false, 0, &b, &nh) != ESP_OK)
                return -1;
            if (rekey)
                esp_cctx_clear(&c);
        }
        t = now() - t0;
    } while (t < seconds);
    if (!rekey)
        esp_cctx_clear(&c);
    return t / (double)n * 1e9;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
    for (size_t i = 0; i < sizeof(ekey); i++)
        ekey[i] = (uint8_t)(i + 1);
    for (size_t i = 0; i < sizeof(ikey); i++)
        ikey[i] = (uint8_t)(i * 3 + 1);

    printf("== Isthmus ESP crypto: ns per %d-byte inner packet (%.1f s per case)\n", INNER,
           seconds);
    printf("%-18s %-8s %10s %10s %10s %10s %9s\n", "transform", "hmac", "seal", "seal", "open",
           "open", "seal");
    printf("%-18s %-8s %10s %10s %10s %10s %9s\n", "", "", "cached", "rekeyed", "cached", "rekeyed",
           "Gbit/s");
    double gcm128 = 0;
    for (size_t x = 0; x < sizeof(xforms) / sizeof(xforms[0]); x++) {
        const struct xf *t = &xforms[x];
        struct esp_suite s;
        char err[128];
        if (esp_suite_init(&s, t->encr, t->bits, t->integ, t->elen, t->ilen, err, sizeof(err))) {
            printf("%s: %s\n", t->name, err);
            return 1;
        }
        int modes = s.aead ? 1 : 2;
        for (int m = 0; m < modes; m++) {
            esp_crypto_set_hmac_mode(m ? ESP_HMAC_DUP : ESP_HMAC_REINIT);
            double sc = run_seal(&s, false), sr = run_seal(&s, true);
            double oc = run_open(&s, false), orr = run_open(&s, true);
            printf("%-18s %-8s %10.0f %10.0f %10.0f %10.0f %9.2f\n", t->name,
                   s.aead ? "-" : (m ? "dup" : "reinit"), sc, sr, oc, orr, INNER * 8.0 / sc);
            if (x == 0)
                gcm128 = sc;
        }
    }
    esp_crypto_set_hmac_mode(ESP_HMAC_REINIT);
    printf("(open includes copying the %zu-byte ESP packet back in: %.0f ns)\n", sealed_len,
           run_copy());
    printf("RESULT aes128gcm16_seal_ns %.1f\n", gcm128);
    return 0;
}
