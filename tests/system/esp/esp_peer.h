/*
 * The other end of synthetic ESP SAs, for the ESP I/O tests and the pps
 * benchmark: SA parameters with known keys for the gateway's database, and
 * a client side that encrypts and decrypts with esp_xform directly (no SA
 * database, no RCU), plus inner IPv4 packets (ICMP echo, UDP) with correct
 * checksums so a real kernel accepts them. Header-only (static inline).
 */
#ifndef ISTHMUS_TESTS_ESP_PEER_H
#define ISTHMUS_TESTS_ESP_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "esp/esp.h"
#include "esp/esp_crypto.h"
#include "esp/esp_xform.h"

/* AES-GCM-16 with a 128-bit key (+ 4-byte salt): the common choice. */
static inline void peer_gw_params(struct esp_sa_params *p, uint32_t tenant, uint32_t spi_in,
                                  uint32_t spi_out, const uint8_t vip[4], uint8_t keyseed,
                                  const uint8_t local[4], const uint8_t remote[4],
                                  uint16_t local_port, uint16_t remote_port, bool udp_encap)
{
    memset(p, 0, sizeof(*p));
    p->spi_in = spi_in;
    p->spi_out = spi_out;
    p->protocol = ESP_PROTO_ESP;
    p->encr = ESP_ENCR_AES_GCM_16;
    p->encr_key_bits = 128;
    p->integ = ESP_INTEG_NONE;
    p->encr_key_len = 20;
    for (size_t i = 0; i < ESP_MAX_ENCR_KEY; i++) {
        p->encr_key_in[i] = (uint8_t)(keyseed + i);
        p->encr_key_out[i] = (uint8_t)(keyseed * 3 + i + 1);
    }
    p->tenant = tenant;
    p->remote_ts[0].addr.family = 4;
    memcpy(p->remote_ts[0].addr.bytes, vip, 4);
    p->remote_ts[0].plen = 32;
    p->n_remote_ts = 1;
    p->n_local_ts = 0; /* full tunnel */
    p->endpoint.local.family = p->endpoint.remote.family = 4;
    memcpy(p->endpoint.local.bytes, local, 4);
    memcpy(p->endpoint.remote.bytes, remote, 4);
    p->endpoint.local_port = local_port;
    p->endpoint.remote_port = remote_port;
    p->endpoint.udp_encap = udp_encap;
}

/* The client's end of the SA the gateway was given with p. */
struct peer_sa {
    struct esp_suite suite;
    struct esp_cctx enc, dec;
    uint32_t spi_to_gw; /* the gateway's inbound SPI */
    uint32_t spi_from_gw;
    uint64_t seq;
};

static inline int peer_sa_init(struct peer_sa *s, const struct esp_sa_params *p)
{
    char err[128];
    memset(s, 0, sizeof(*s));
    if (esp_suite_init(&s->suite, p->encr, p->encr_key_bits, p->integ, p->encr_key_len,
                       p->integ_key_len, err, sizeof(err)) < 0)
        return -1;
    if (esp_cctx_init(&s->enc, &s->suite, p->encr_key_in, p->integ_key_in, true) < 0 ||
        esp_cctx_init(&s->dec, &s->suite, p->encr_key_out, p->integ_key_out, false) < 0)
        return -1;
    s->spi_to_gw = p->spi_in;
    s->spi_from_gw = p->spi_out;
    return 0;
}

static inline void peer_sa_clear(struct peer_sa *s)
{
    esp_cctx_clear(&s->enc);
    esp_cctx_clear(&s->dec);
}

/* Encrypts inner[0..len) into out (at least len + 128 bytes); returns the
 * ESP packet length, or 0. */
static inline size_t peer_encap(struct peer_sa *s, const uint8_t *inner, size_t len, uint8_t *out,
                                size_t cap)
{
    if (len + ESP_HEADROOM + ESP_TAILROOM > cap)
        return 0;
    struct esp_buf b = {out, cap, ESP_HEADROOM, len};
    memcpy(out + ESP_HEADROOM, inner, len);
    if (esp_xform_encap(&s->enc, s->spi_to_gw, ++s->seq, false, ESP_NH_IPV4, &b) != ESP_OK)
        return 0;
    memmove(out, esp_buf_data(&b), b.len);
    return b.len;
}

/* Decrypts an ESP packet in place; returns the inner packet's offset in
 * pkt and its length in *inner_len, or -1 (wrong SPI, integrity). */
static inline long peer_decap(struct peer_sa *s, uint8_t *pkt, size_t len, size_t *inner_len)
{
    struct esp_buf b = {pkt, len, 0, len};
    uint32_t spi, seq;
    if (!esp_xform_peek(&b, &spi, &seq) || spi != s->spi_from_gw)
        return -1;
    uint8_t nh = 0;
    if (esp_xform_decap(&s->dec, false, 0, &b, &nh) != ESP_OK || nh != ESP_NH_IPV4)
        return -1;
    *inner_len = b.len;
    return (long)b.off;
}

static inline uint16_t peer_csum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* An IPv4 header for proto with total length total. */
static inline void peer_ipv4(uint8_t *pkt, size_t total, uint8_t proto, const uint8_t src[4],
                             const uint8_t dst[4])
{
    memset(pkt, 0, 20);
    pkt[0] = 0x45;
    pkt[2] = (uint8_t)(total >> 8);
    pkt[3] = (uint8_t)total;
    pkt[6] = 0x40; /* DF */
    pkt[8] = 64;
    pkt[9] = proto;
    memcpy(pkt + 12, src, 4);
    memcpy(pkt + 16, dst, 4);
    uint16_t c = peer_csum(pkt, 20);
    pkt[10] = (uint8_t)(c >> 8);
    pkt[11] = (uint8_t)c;
}

/* An ICMP echo request (type 8) or reply (0) of total bytes (>= 28). */
static inline size_t peer_icmp_echo(uint8_t *pkt, size_t total, uint8_t type, const uint8_t src[4],
                                    const uint8_t dst[4], uint16_t id, uint16_t seq)
{
    peer_ipv4(pkt, total, 1, src, dst);
    uint8_t *icmp = pkt + 20;
    size_t n = total - 20;
    memset(icmp, 0, n);
    icmp[0] = type;
    icmp[4] = (uint8_t)(id >> 8);
    icmp[5] = (uint8_t)id;
    icmp[6] = (uint8_t)(seq >> 8);
    icmp[7] = (uint8_t)seq;
    for (size_t i = 8; i < n; i++)
        icmp[i] = (uint8_t)i;
    uint16_t c = peer_csum(icmp, n);
    icmp[2] = (uint8_t)(c >> 8);
    icmp[3] = (uint8_t)c;
    return total;
}

/* A UDP datagram of total bytes (>= 28) with a zero UDP checksum. */
static inline size_t peer_udp(uint8_t *pkt, size_t total, const uint8_t src[4],
                              const uint8_t dst[4], uint16_t sport, uint16_t dport)
{
    peer_ipv4(pkt, total, 17, src, dst);
    uint8_t *u = pkt + 20;
    memset(u, 0, total - 20);
    u[0] = (uint8_t)(sport >> 8);
    u[1] = (uint8_t)sport;
    u[2] = (uint8_t)(dport >> 8);
    u[3] = (uint8_t)dport;
    u[4] = (uint8_t)((total - 20) >> 8);
    u[5] = (uint8_t)(total - 20);
    return total;
}

#endif
