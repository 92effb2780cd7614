/*
 * IKE crypto micro-benchmark: Encrypted payload encrypt/decrypt rates per
 * cipher, Diffie-Hellman (our key pair + g^ir from a peer value, as in
 * IKE_SA_INIT) per group, and IKE SA key derivation. Each case runs for
 * --seconds (default 1). run.sh prints these next to `openssl speed`, the
 * ceiling for the same primitives on this machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concentrator/ike_crypto.h"
#include "concentrator/ike_dh.h"
#include "concentrator/ike_keymat.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double seconds = 1.0;

struct sk_case {
    const char *name;
    uint16_t encr, keybits, integ;
};

static void bench_sk(const struct sk_case *k, size_t inner)
{
    uint8_t ek[IKE_ALG_ENCR_KEY_MAX] = {1}, ak[IKE_ALG_INTEG_KEY_MAX] = {2};
    size_t el = ike_alg_encr_keymat_len(k->encr, k->keybits);
    size_t al = k->integ ? ike_alg_integ_key_len(k->integ) : 0;
    struct ike_sk_ctx *e =
        ike_sk_ctx_new(k->encr, k->keybits, k->integ, ek, el, al ? ak : NULL, al, true);
    struct ike_sk_ctx *d =
        ike_sk_ctx_new(k->encr, k->keybits, k->integ, ek, el, al ? ak : NULL, al, false);
    static uint8_t msg[4096], sent[4096];
    size_t len = 0, n_enc = 0, n_dec = 0;
    if (!e || !d) {
        printf("%-28s setup failed\n", k->name);
        goto done;
    }
    double t0 = now(), t = 0;
    do {
        memset(msg, 0, 32);
        msg[29] = 0; /* SK header follows the IKE header */
        len = 28 + 4 + inner;
        for (int i = 0; i < 64; i++, n_enc++) {
            len = 28 + 4 + inner;
            if (ike_sk_encrypt(e, msg, sizeof(msg), 28, false, &len) != IKE_SK_OK)
                goto fail;
        }
    } while ((t = now() - t0) < seconds);
    double enc_rate = (double)n_enc / t;
    memcpy(sent, msg, len);
    size_t off, plen;
    t0 = now();
    do {
        for (int i = 0; i < 64; i++, n_dec++) {
            memcpy(msg, sent, len);
            if (ike_sk_decrypt(d, msg, len, 28, false, &off, &plen) != IKE_SK_OK)
                goto fail;
        }
    } while ((t = now() - t0) < seconds);
    double dec_rate = (double)n_dec / t;
    printf("%-28s %5zu B  encrypt %9.0f msg/s %8.1f MB/s   decrypt %9.0f msg/s %8.1f MB/s\n",
           k->name, inner, enc_rate, enc_rate * (double)inner / 1e6, dec_rate,
           dec_rate * (double)inner / 1e6);
    goto done;
fail:
    printf("%-28s FAILED\n", k->name);
done:
    ike_sk_ctx_free(e);
    ike_sk_ctx_free(d);
}

static void bench_dh(uint16_t group)
{
    struct ike_dh_ctx *peer = ike_dh_new(group);
    uint8_t pub[IKE_DH_PUBLIC_MAX], sec[IKE_DH_SECRET_MAX];
    size_t pl = 0, sl = 0, n = 0;
    if (!peer || ike_dh_public(peer, pub, sizeof(pub), &pl)) {
        printf("DH %-25s setup failed\n", ike_alg_name(IKE_TT_DH, group));
        ike_dh_free(peer);
        return;
    }
    double t0 = now(), t = 0;
    do {
        struct ike_dh_ctx *dh = ike_dh_new(group);
        uint8_t ours[IKE_DH_PUBLIC_MAX];
        size_t ol = 0;
        if (!dh || ike_dh_public(dh, ours, sizeof(ours), &ol) ||
            ike_dh_derive(dh, pub, pl, sec, sizeof(sec), &sl)) {
            printf("DH FAILED\n");
            ike_dh_free(dh);
            break;
        }
        ike_dh_free(dh);
        n++;
    } while ((t = now() - t0) < seconds);
    printf("DH %-25s keygen+public+derive %8.0f op/s\n", ike_alg_name(IKE_TT_DH, group),
           (double)n / t);
    ike_dh_free(peer);
}

static void bench_keys(void)
{
    struct ike_sa_transforms t = {IKE_ENCR_AES_GCM_16, 256, IKE_PRF_HMAC_SHA2_256, 0};
    uint8_t ni[32] = {1}, nr[32] = {2}, gir[32] = {3}, spii[8] = {4}, spir[8] = {5};
    struct ike_sa_keys k;
    size_t n = 0;
    double t0 = now(), dt = 0;
    do {
        if (ike_sa_keys_new(&t, ni, 32, nr, 32, gir, 32, spii, spir, &k))
            break;
        ike_sa_keys_wipe(&k);
        n++;
    } while ((dt = now() - t0) < seconds);
    printf("SKEYSEED + 7 keys (PRF_HMAC_SHA2_256, AES_GCM_16/256)   %8.0f op/s\n", (double)n / dt);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
    if (seconds <= 0 || seconds > 60)
        seconds = 1.0;
    static const struct sk_case cases[] = {
        {"AES_GCM_16/256", IKE_ENCR_AES_GCM_16, 256, 0},
        {"AES_GCM_16/128", IKE_ENCR_AES_GCM_16, 128, 0},
        {"CHACHA20_POLY1305", IKE_ENCR_CHACHA20_POLY1305, 0, 0},
        {"AES_CBC/256+SHA2_256_128", IKE_ENCR_AES_CBC, 256, IKE_INTEG_HMAC_SHA2_256_128},
        {"AES_CBC/128+SHA1_96", IKE_ENCR_AES_CBC, 128, IKE_INTEG_HMAC_SHA1_96},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bench_sk(&cases[i], 256);
        bench_sk(&cases[i], 1200);
    }
    const uint16_t groups[] = {IKE_DH_CURVE25519, IKE_DH_ECP256, IKE_DH_ECP384, IKE_DH_MODP2048,
                               IKE_DH_MODP3072};
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        bench_dh(groups[i]);
    bench_keys();
    return 0;
}
