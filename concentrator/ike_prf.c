/* PRF and prf+ over EVP_MAC HMAC: see ike_prf.h. */
#include "concentrator/ike_prf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct ike_prf_ctx {
    EVP_MAC_CTX *ctx; /* keyed; re-initialised (not re-keyed) per computation */
    size_t out_len;
};

/* The HMAC implementation is fetched once per process and kept: fetching
 * takes the provider store's lock, which per message would be waste. */
static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void fetch_hmac(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

struct ike_prf_ctx *ike_hmac_new(const char *mdname, const uint8_t *key, size_t key_len)
{
    static const uint8_t empty[1];
    struct ike_prf_ctx *p = NULL;
    if (!mdname || pthread_once(&hmac_once, fetch_hmac) != 0 || !hmac_alg)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->ctx = EVP_MAC_CTX_new(hmac_alg);
    if (!p->ctx)
        goto fail;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t)mdname, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(p->ctx, key_len ? key : empty, key_len, params) != 1)
        goto fail;
    p->out_len = EVP_MAC_CTX_get_mac_size(p->ctx);
    if (p->out_len == 0 || p->out_len > IKE_ALG_PRF_MAX)
        goto fail;
    return p;
fail:
    ike_prf_free(p);
    return NULL;
}

struct ike_prf_ctx *ike_prf_new(uint16_t prf_id, const uint8_t *key, size_t key_len)
{
    return ike_hmac_new(ike_alg_prf_digest(prf_id), key, key_len);
}

void ike_prf_free(struct ike_prf_ctx *p)
{
    if (!p)
        return;
    EVP_MAC_CTX_free(p->ctx); /* OpenSSL cleanses the HMAC key state */
    OPENSSL_cleanse(p, sizeof(*p));
    free(p);
}

size_t ike_prf_out_len(const struct ike_prf_ctx *p)
{
    return p ? p->out_len : 0;
}

/* Starts a computation from the stored key (no new key schedule). */
static int start(struct ike_prf_ctx *p)
{
    return EVP_MAC_init(p->ctx, NULL, 0, NULL) == 1 ? 0 : -1;
}

static int feed(struct ike_prf_ctx *p, const struct ike_chunk *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (in[i].len && EVP_MAC_update(p->ctx, in[i].p, in[i].len) != 1)
            return -1;
    return 0;
}

static int finish(struct ike_prf_ctx *p, uint8_t *out)
{
    size_t len = 0;
    if (EVP_MAC_final(p->ctx, out, &len, p->out_len) != 1 || len != p->out_len)
        return -1;
    return 0;
}

int ike_prf_calc(struct ike_prf_ctx *p, const struct ike_chunk *in, size_t n, uint8_t *out)
{
    if (!p || !out)
        return -1;
    if (start(p) || feed(p, in, n) || finish(p, out)) {
        OPENSSL_cleanse(out, p->out_len);
        return -1;
    }
    return 0;
}

int ike_prf_plus_calc(struct ike_prf_ctx *p, const struct ike_chunk *in, size_t n, uint8_t *out,
                      size_t out_len)
{
    if (!p || (!out && out_len))
        return -1;
    size_t bl = p->out_len;
    if (out_len > 255 * bl)
        return -1;
    uint8_t t[IKE_ALG_PRF_MAX];
    int rc = -1;
    size_t done = 0;
    for (unsigned k = 1; done < out_len; k++) {
        uint8_t ctr = (uint8_t)k;
        if (start(p))
            goto done;
        if (k > 1 && EVP_MAC_update(p->ctx, t, bl) != 1)
            goto done;
        if (feed(p, in, n) || EVP_MAC_update(p->ctx, &ctr, 1) != 1 || finish(p, t))
            goto done;
        size_t take = out_len - done < bl ? out_len - done : bl;
        memcpy(out + done, t, take);
        done += take;
    }
    rc = 0;
done:
    OPENSSL_cleanse(t, sizeof(t));
    if (rc && out_len)
        OPENSSL_cleanse(out, out_len);
    return rc;
}

int ike_prf_oneshot(uint16_t prf_id, const uint8_t *key, size_t key_len, const struct ike_chunk *in,
                    size_t n, uint8_t *out)
{
    struct ike_prf_ctx *p = ike_prf_new(prf_id, key, key_len);
    if (!p)
        return -1;
    int rc = ike_prf_calc(p, in, n, out);
    ike_prf_free(p);
    return rc;
}

int ike_prf_plus_oneshot(uint16_t prf_id, const uint8_t *key, size_t key_len,
                         const struct ike_chunk *in, size_t n, uint8_t *out, size_t out_len)
{
    struct ike_prf_ctx *p = ike_prf_new(prf_id, key, key_len);
    if (!p)
        return -1;
    int rc = ike_prf_plus_calc(p, in, n, out, out_len);
    ike_prf_free(p);
    return rc;
}

bool ike_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
