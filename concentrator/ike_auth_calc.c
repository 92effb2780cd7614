/* AUTH octets, shared-key MIC, NAT detection and cookies: see ike_auth_calc.h. */
#include "concentrator/ike_auth_calc.h"

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "concentrator/ike_prf.h"

#define KEY_PAD     "Key Pad for IKEv2"
#define KEY_PAD_LEN 17

int ike_auth_maced_id(const struct ike_auth_input *in, uint8_t *out, size_t *out_len)
{
    if (!in || !out || !in->sk_p || !in->id)
        return -1;
    struct ike_chunk id[] = {{in->id, in->id_len}};
    if (ike_prf_oneshot(in->prf, in->sk_p, in->sk_p_len, id, 1, out))
        return -1;
    if (out_len)
        *out_len = ike_alg_prf_len(in->prf);
    return 0;
}

int ike_auth_octets(const struct ike_auth_input *in, uint8_t **out, size_t *out_len)
{
    if (!in || !out || !out_len || !in->real_msg || !in->nonce)
        return -1;
    size_t plen = ike_alg_prf_len(in->prf);
    size_t total = in->real_msg_len + in->nonce_len + plen;
    uint8_t *buf = plen ? malloc(total) : NULL;
    if (!buf)
        return -1;
    memcpy(buf, in->real_msg, in->real_msg_len);
    memcpy(buf + in->real_msg_len, in->nonce, in->nonce_len);
    if (ike_auth_maced_id(in, buf + in->real_msg_len + in->nonce_len, NULL)) {
        ike_auth_octets_free(buf, total);
        return -1;
    }
    *out = buf;
    *out_len = total;
    return 0;
}

void ike_auth_octets_free(uint8_t *octets, size_t len)
{
    if (!octets)
        return;
    OPENSSL_cleanse(octets, len);
    free(octets);
}

int ike_auth_shared_key_mic(const struct ike_auth_input *in, const uint8_t *secret,
                            size_t secret_len, uint8_t *out, size_t *out_len)
{
    if (!in || !secret || !out || !in->real_msg || !in->nonce)
        return -1;
    uint8_t key[IKE_ALG_PRF_MAX], maced[IKE_ALG_PRF_MAX];
    size_t plen = ike_alg_prf_len(in->prf);
    struct ike_chunk pad[] = {{KEY_PAD, KEY_PAD_LEN}};
    struct ike_chunk octets[] = {
        {in->real_msg, in->real_msg_len}, {in->nonce, in->nonce_len}, {maced, plen}};
    int rc = -1;
    if (!plen || ike_prf_oneshot(in->prf, secret, secret_len, pad, 1, key))
        goto done;
    if (ike_auth_maced_id(in, maced, NULL))
        goto done;
    if (ike_prf_oneshot(in->prf, key, plen, octets, 3, out))
        goto done;
    if (out_len)
        *out_len = plen;
    rc = 0;
done:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(maced, sizeof(maced));
    return rc;
}

bool ike_auth_shared_key_verify(const struct ike_auth_input *in, const uint8_t *secret,
                                size_t secret_len, const uint8_t *auth, size_t auth_len)
{
    uint8_t want[IKE_ALG_PRF_MAX];
    size_t wl = 0;
    bool ok = auth && ike_auth_shared_key_mic(in, secret, secret_len, want, &wl) == 0 &&
              auth_len == wl && ike_ct_equal(want, auth, wl);
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}

/* The address bytes and port (network order) of an IPv4/IPv6 sockaddr. */
static int addr_bytes(const struct sockaddr *sa, const uint8_t **ip, size_t *ip_len,
                      const uint8_t **port)
{
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        *ip = (const uint8_t *)&s4->sin_addr;
        *ip_len = 4;
        *port = (const uint8_t *)&s4->sin_port;
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        *ip = (const uint8_t *)&s6->sin6_addr;
        *ip_len = 16;
        *port = (const uint8_t *)&s6->sin6_port;
        return 0;
    }
    return -1;
}

/* out = digest(in[0] | ... | in[n-1]). */
static int digest(const char *md, const struct ike_chunk *in, size_t n, uint8_t *out)
{
    int rc = -1;
    EVP_MD *alg = EVP_MD_fetch(NULL, md, NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!alg || !ctx || EVP_DigestInit_ex2(ctx, alg, NULL) != 1)
        goto done;
    for (size_t i = 0; i < n; i++)
        if (in[i].len && EVP_DigestUpdate(ctx, in[i].p, in[i].len) != 1)
            goto done;
    if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        goto done;
    rc = 0;
done:
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(alg);
    return rc;
}

int ike_natd_hash(const uint8_t spii[8], const uint8_t spir[8], const struct sockaddr *addr,
                  uint8_t out[IKE_NATD_LEN])
{
    const uint8_t *ip, *port;
    size_t ip_len;
    if (!spii || !spir || !out || addr_bytes(addr, &ip, &ip_len, &port))
        return -1;
    struct ike_chunk in[] = {{spii, 8}, {spir, 8}, {ip, ip_len}, {port, 2}};
    return digest("SHA1", in, 4, out);
}

#define COOKIE_SECRET_LEN 32

struct cookie_secret {
    uint32_t version;
    bool valid;
    uint8_t secret[COOKIE_SECRET_LEN];
};

struct ike_cookie_ctx {
    struct cookie_secret cur, prev;
};

struct ike_cookie_ctx *ike_cookie_new(void)
{
    struct ike_cookie_ctx *c = calloc(1, sizeof(*c));
    uint8_t v[4];
    if (!c)
        return NULL;
    /* A random first version, so a restarted daemon does not reuse the
     * version IDs of its previous life with other secrets. */
    if (RAND_bytes(v, sizeof(v)) != 1 || RAND_bytes(c->cur.secret, COOKIE_SECRET_LEN) != 1) {
        ike_cookie_free(c);
        return NULL;
    }
    c->cur.version = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
    c->cur.valid = true;
    return c;
}

void ike_cookie_free(struct ike_cookie_ctx *c)
{
    if (!c)
        return;
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

int ike_cookie_rotate(struct ike_cookie_ctx *c)
{
    struct cookie_secret next = {0};
    if (!c)
        return -1;
    if (RAND_bytes(next.secret, COOKIE_SECRET_LEN) != 1)
        return -1;
    next.version = c->cur.version + 1;
    next.valid = true;
    c->prev = c->cur;
    c->cur = next;
    OPENSSL_cleanse(&next, sizeof(next));
    return 0;
}

static int cookie_for(const struct cookie_secret *s, const uint8_t *ni, size_t ni_len,
                      const struct sockaddr *ipi, const uint8_t spii[8],
                      uint8_t out[IKE_COOKIE_LEN])
{
    const uint8_t *ip, *port;
    size_t ip_len;
    if (!ni || !spii || addr_bytes(ipi, &ip, &ip_len, &port))
        return -1;
    out[0] = (uint8_t)(s->version >> 24);
    out[1] = (uint8_t)(s->version >> 16);
    out[2] = (uint8_t)(s->version >> 8);
    out[3] = (uint8_t)s->version;
    struct ike_chunk in[] = {{ni, ni_len}, {ip, ip_len}, {spii, 8}, {s->secret, COOKIE_SECRET_LEN}};
    return digest("SHA256", in, 4, out + 4);
}

int ike_cookie_make(const struct ike_cookie_ctx *c, const uint8_t *ni, size_t ni_len,
                    const struct sockaddr *ipi, const uint8_t spii[8], uint8_t out[IKE_COOKIE_LEN])
{
    if (!c || !out)
        return -1;
    return cookie_for(&c->cur, ni, ni_len, ipi, spii, out);
}

bool ike_cookie_check(const struct ike_cookie_ctx *c, const uint8_t *cookie, size_t cookie_len,
                      const uint8_t *ni, size_t ni_len, const struct sockaddr *ipi,
                      const uint8_t spii[8])
{
    if (!c || !cookie || cookie_len != IKE_COOKIE_LEN)
        return false;
    uint32_t v = (uint32_t)cookie[0] << 24 | (uint32_t)cookie[1] << 16 | (uint32_t)cookie[2] << 8 |
                 cookie[3];
    const struct cookie_secret *s = NULL;
    if (c->cur.valid && v == c->cur.version)
        s = &c->cur;
    else if (c->prev.valid && v == c->prev.version)
        s = &c->prev;
    if (!s)
        return false;
    uint8_t want[IKE_COOKIE_LEN];
    bool ok = cookie_for(s, ni, ni_len, ipi, spii, want) == 0 &&
              ike_ct_equal(want, cookie, IKE_COOKIE_LEN);
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}
