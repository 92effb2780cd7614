/*
 * IKEv2 messages as real peers send them, written byte by byte with wire.h's
 * writer (not with the codec's builder, so the decoder is tested against an
 * independent encoding). The strongSwan ones follow /work/shared/INTEROP.md:
 * what strongSwan 5.9.8 sends with its default proposals. Shared by the
 * codec unit tests, which also write them out as fuzzing seeds.
 */
#ifndef ISTHMUS_TEST_IKE_CODEC_SAMPLES_H
#define ISTHMUS_TEST_IKE_CODEC_SAMPLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "concentrator/ike_types.h"
#include "concentrator/wire.h"

#define SAMPLE_SPI_I 0x1122334455667788ull
#define SAMPLE_SPI_R 0x99aabbccddeeff00ull

struct sample_tr {
    uint8_t type;
    uint16_t id;
    uint16_t key_len;
};

static inline void raw_hdr(struct wr *w, uint64_t spi_r, uint8_t next, uint8_t exch, uint8_t flags,
                           uint32_t msg_id)
{
    wr_u64(w, SAMPLE_SPI_I);
    wr_u64(w, spi_r);
    wr_u8(w, next);
    wr_u8(w, 0x20);
    wr_u8(w, exch);
    wr_u8(w, flags);
    wr_u32(w, msg_id);
    wr_u32(w, 0);
}

static inline size_t raw_pl(struct wr *w, uint8_t next)
{
    size_t o = w->len;
    wr_u8(w, next);
    wr_u8(w, 0);
    wr_u16(w, 0);
    return o;
}

static inline void raw_end(struct wr *w, size_t o)
{
    wr_patch_u16(w, o + 2, (uint16_t)(w->len - o));
}

static inline size_t raw_finish(struct wr *w)
{
    wr_patch_u32(w, 24, (uint32_t)w->len);
    return wr_ok(w) ? w->len : 0;
}

static inline void raw_prop(struct wr *w, bool last, uint8_t num, uint8_t proto, const uint8_t *spi,
                            uint8_t spi_len, const struct sample_tr *tr, size_t n)
{
    size_t o = w->len;
    wr_u8(w, last ? 0 : 2);
    wr_u8(w, 0);
    wr_u16(w, 0);
    wr_u8(w, num);
    wr_u8(w, proto);
    wr_u8(w, spi_len);
    wr_u8(w, (uint8_t)n);
    wr_bytes(w, spi, spi_len);
    for (size_t i = 0; i < n; i++) {
        wr_u8(w, i + 1 == n ? 0 : 3);
        wr_u8(w, 0);
        wr_u16(w, tr[i].key_len ? 12 : 8);
        wr_u8(w, tr[i].type);
        wr_u8(w, 0);
        wr_u16(w, tr[i].id);
        if (tr[i].key_len) {
            wr_u16(w, 0x800e);
            wr_u16(w, tr[i].key_len);
        }
    }
    wr_patch_u16(w, o + 2, (uint16_t)(w->len - o));
}

static inline void raw_notify(struct wr *w, uint8_t next, uint16_t type, const uint8_t *data,
                              size_t len)
{
    size_t o = raw_pl(w, next);
    wr_u8(w, 0);
    wr_u8(w, 0);
    wr_u16(w, type);
    wr_bytes(w, data, len);
    raw_end(w, o);
}

/* strongSwan 5.9.8's default IKE proposals: classic ciphers, then AEAD. */
static const struct sample_tr ss_dh[] = {
    {4, 31, 0}, {4, 32, 0}, {4, 19, 0}, {4, 20, 0}, {4, 21, 0}, {4, 28, 0}, {4, 29, 0},
    {4, 30, 0}, {4, 15, 0}, {4, 16, 0}, {4, 17, 0}, {4, 18, 0}, {4, 14, 0},
};
static const struct sample_tr ss_prf[] = {
    {2, 5, 0}, {2, 6, 0}, {2, 7, 0}, {2, 4, 0}, {2, 8, 0}, {2, 2, 0},
};

static inline size_t ss_prop1(struct sample_tr *t)
{
    static const struct sample_tr head[] = {
        {1, 12, 128}, {1, 12, 192}, {1, 12, 256}, {1, 13, 128}, {1, 13, 192}, {1, 13, 256},
        {1, 23, 128}, {1, 23, 192}, {1, 23, 256}, {1, 3, 0},    {3, 12, 0},   {3, 13, 0},
        {3, 14, 0},   {3, 5, 0},    {3, 8, 0},    {3, 2, 0},
    };
    size_t n = 0;
    memcpy(t + n, head, sizeof(head));
    n += sizeof(head) / sizeof(head[0]);
    memcpy(t + n, ss_prf, sizeof(ss_prf));
    n += sizeof(ss_prf) / sizeof(ss_prf[0]);
    memcpy(t + n, ss_dh, sizeof(ss_dh));
    n += sizeof(ss_dh) / sizeof(ss_dh[0]);
    return n;
}

static inline size_t ss_prop2(struct sample_tr *t)
{
    static const struct sample_tr head[] = {
        {1, 20, 128}, {1, 20, 192}, {1, 20, 256}, {1, 19, 128}, {1, 19, 192},
        {1, 19, 256}, {1, 18, 128}, {1, 18, 192}, {1, 18, 256}, {1, 16, 128},
        {1, 16, 192}, {1, 16, 256}, {1, 28, 0},
    };
    size_t n = 0;
    memcpy(t + n, head, sizeof(head));
    n += sizeof(head) / sizeof(head[0]);
    memcpy(t + n, ss_prf, sizeof(ss_prf));
    n += sizeof(ss_prf) / sizeof(ss_prf[0]);
    memcpy(t + n, ss_dh, sizeof(ss_dh));
    n += sizeof(ss_dh) / sizeof(ss_dh[0]);
    return n;
}

static inline void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

/* IKE_SA_INIT request: SA (2 proposals), KE Curve25519, Ni 32 bytes,
 * NAT_DETECTION_SOURCE_IP, NAT_DETECTION_DESTINATION_IP,
 * IKEV2_FRAGMENTATION_SUPPORTED, SIGNATURE_HASH_ALGORITHMS (SHA2-256, 384,
 * 512, Identity), REDIRECT_SUPPORTED. */
static inline size_t sample_ss_init_req(uint8_t *buf, size_t cap)
{
    struct wr w = wr_init(buf, cap);
    struct sample_tr t[64];
    raw_hdr(&w, 0, IKE_PL_SA, IKE_EXCH_SA_INIT, IKE_FLAG_INITIATOR, 0);
    size_t o = raw_pl(&w, IKE_PL_KE);
    raw_prop(&w, false, 1, IKE_PROTO_IKE, NULL, 0, t, ss_prop1(t));
    raw_prop(&w, true, 2, IKE_PROTO_IKE, NULL, 0, t, ss_prop2(t));
    raw_end(&w, o);
    o = raw_pl(&w, IKE_PL_NONCE);
    wr_u16(&w, IKE_DH_CURVE25519);
    wr_u16(&w, 0);
    uint8_t ke[32];
    fill(ke, sizeof(ke), 0x31);
    wr_bytes(&w, ke, sizeof(ke));
    raw_end(&w, o);
    o = raw_pl(&w, IKE_PL_NOTIFY);
    uint8_t nonce[32];
    fill(nonce, sizeof(nonce), 0x4e);
    wr_bytes(&w, nonce, sizeof(nonce));
    raw_end(&w, o);
    uint8_t natd[20];
    fill(natd, sizeof(natd), 0xa0);
    raw_notify(&w, IKE_PL_NOTIFY, IKE_N_NAT_DETECTION_SOURCE_IP, natd, sizeof(natd));
    fill(natd, sizeof(natd), 0xb0);
    raw_notify(&w, IKE_PL_NOTIFY, IKE_N_NAT_DETECTION_DESTINATION_IP, natd, sizeof(natd));
    raw_notify(&w, IKE_PL_NOTIFY, IKE_N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
    static const uint8_t hashes[] = {0, 2, 0, 3, 0, 4, 0, 5};
    raw_notify(&w, IKE_PL_NOTIFY, IKE_N_SIGNATURE_HASH_ALGORITHMS, hashes, sizeof(hashes));
    raw_notify(&w, IKE_PL_NONE, IKE_N_REDIRECT_SUPPORTED, NULL, 0);
    return raw_finish(&w);
}

/* The gateway's IKE_SA_INIT response: the AEAD proposal chosen (number 2),
 * KE, Nr, CERTREQ, NAT-D, fragmentation, signature hashes, multiple auth. */
static inline size_t sample_init_resp(uint8_t *buf, size_t cap)
{
    struct wr w = wr_init(buf, cap);
    static const struct sample_tr chosen[] = {{1, 20, 256}, {2, 7, 0}, {4, 31, 0}};
    raw_hdr(&w, SAMPLE_SPI_R, IKE_PL_SA, IKE_EXCH_SA_INIT, IKE_FLAG_RESPONSE, 0);
    size_t o = raw_pl(&w, IKE_PL_KE);
    raw_prop(&w, true, 2, IKE_PROTO_IKE, NULL, 0, chosen, 3);
    raw_end(&w, o);
    o = raw_pl(&w, IKE_PL_NONCE);
    wr_u16(&w, IKE_DH_CURVE25519);
    wr_u16(&w, 0);
    uint8_t ke[32];
    fill(ke, sizeof(ke), 0x77);
    wr_bytes(&w, ke, sizeof(ke));
    raw_end(&w, o);
    o = raw_pl(&w, IKE_PL_CERTREQ);
    uint8_t nonce[32];
    fill(nonce, sizeof(nonce), 0x99);
    wr_bytes(&w, nonce, sizeof(nonce));
    raw_end(&w, o);
    o = raw_pl(&w, IKE_PL_NOTIFY);
    wr_u8(&w, IKE_CERT_X509_SIGNATURE);
    uint8_t hash[20];
    fill(hash, sizeof(hash), 0x11);
    wr_bytes(&w, hash, sizeof(hash));
    raw_end(&w, o);
    uint8_t natd[20];
    fill(natd, sizeof(natd), 0xc0);
    raw_notify(&w, IKE_PL_NOTIFY, IKE_N_NAT_DETECTION_SOURCE_IP, natd, sizeof(natd));
    fill(natd, sizeof(natd), 0xd0);
    raw_notify(&w, IKE_PL_NOTIFY, IKE_N_NAT_DETECTION_DESTINATION_IP, natd, sizeof(natd));
    raw_notify(&w, IKE_PL_NOTIFY, IKE_N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
    static const uint8_t hashes[] = {0, 2, 0, 3, 0, 4};
    raw_notify(&w, IKE_PL_NOTIFY, IKE_N_SIGNATURE_HASH_ALGORITHMS, hashes, sizeof(hashes));
    raw_notify(&w, IKE_PL_NONE, IKE_N_MULTIPLE_AUTH_SUPPORTED, NULL, 0);
    return raw_finish(&w);
}

/* IKE_SA_INIT response asking for a cookie: N(COOKIE) alone. */
static inline size_t sample_cookie_resp(uint8_t *buf, size_t cap)
{
    struct wr w = wr_init(buf, cap);
    raw_hdr(&w, 0, IKE_PL_NOTIFY, IKE_EXCH_SA_INIT, IKE_FLAG_RESPONSE, 0);
    uint8_t cookie[32];
    fill(cookie, sizeof(cookie), 0x5c);
    raw_notify(&w, IKE_PL_NONE, IKE_N_COOKIE, cookie, sizeof(cookie));
    return raw_finish(&w);
}

static inline void raw_ts(struct wr *w, uint8_t next, const uint8_t start[4], const uint8_t end[4])
{
    size_t o = raw_pl(w, next);
    wr_u8(w, 1);
    wr_u8(w, 0);
    wr_u16(w, 0);
    wr_u8(w, IKE_TS_IPV4_ADDR_RANGE);
    wr_u8(w, 0);
    wr_u16(w, 16);
    wr_u16(w, 0);
    wr_u16(w, 65535);
    wr_bytes(w, start, 4);
    wr_bytes(w, end, 4);
    raw_end(w, o);
}

/* The plaintext of strongSwan's first IKE_AUTH request with EAP (no AUTH):
 * IDi, N(INITIAL_CONTACT), CERTREQ, IDr, CP, SA (ESP), TSi, TSr and the
 * capability notifies. The first payload is IDi. */
static inline size_t sample_ss_auth_inner(uint8_t *buf, size_t cap)
{
    struct wr w = wr_init(buf, cap);
    size_t o = raw_pl(&w, IKE_PL_NOTIFY);
    wr_u8(&w, IKE_ID_FQDN);
    wr_u8(&w, 0);
    wr_u16(&w, 0);
    wr_bytes(&w, "alice", 5);
    raw_end(&w, o);
    raw_notify(&w, IKE_PL_CERTREQ, IKE_N_INITIAL_CONTACT, NULL, 0);
    o = raw_pl(&w, IKE_PL_IDR);
    wr_u8(&w, IKE_CERT_X509_SIGNATURE);
    uint8_t hash[20];
    fill(hash, sizeof(hash), 0x11);
    wr_bytes(&w, hash, sizeof(hash));
    raw_end(&w, o);
    o = raw_pl(&w, IKE_PL_CP);
    wr_u8(&w, IKE_ID_FQDN);
    wr_u8(&w, 0);
    wr_u16(&w, 0);
    wr_bytes(&w, "vpn.acme.example", 16);
    raw_end(&w, o);
    o = raw_pl(&w, IKE_PL_SA);
    wr_u8(&w, IKE_CFG_REQUEST);
    wr_u8(&w, 0);
    wr_u16(&w, 0);
    wr_u16(&w, IKE_CFG_INTERNAL_IP4_ADDRESS);
    wr_u16(&w, 0);
    wr_u16(&w, IKE_CFG_INTERNAL_IP4_DNS);
    wr_u16(&w, 0);
    wr_u16(&w, IKE_CFG_INTERNAL_IP6_ADDRESS);
    wr_u16(&w, 0);
    raw_end(&w, o);
    o = raw_pl(&w, IKE_PL_TSI);
    static const struct sample_tr gcm[] = {{1, 20, 128}, {1, 20, 192}, {1, 20, 256}, {5, 0, 0}};
    static const struct sample_tr cbc[] = {{1, 12, 128}, {1, 12, 256}, {3, 12, 0},
                                           {3, 2, 0},    {3, 5, 0},    {5, 0, 0}};
    static const uint8_t spi[4] = {0xc1, 0x2a, 0x33, 0x04};
    raw_prop(&w, false, 1, IKE_PROTO_ESP, spi, 4, gcm, 4);
    raw_prop(&w, true, 2, IKE_PROTO_ESP, spi, 4, cbc, 6);
    raw_end(&w, o);
    static const uint8_t any0[4] = {0, 0, 0, 0}, any1[4] = {255, 255, 255, 255};
    static const uint8_t lan0[4] = {10, 1, 0, 0}, lan1[4] = {10, 1, 255, 255};
    raw_ts(&w, IKE_PL_TSR, any0, any1);
    raw_ts(&w, IKE_PL_NOTIFY, lan0, lan1);
    raw_notify(&w, IKE_PL_NOTIFY, IKE_N_MOBIKE_SUPPORTED, NULL, 0);
    raw_notify(&w, IKE_PL_NOTIFY, IKE_N_NO_ADDITIONAL_ADDRESSES, NULL, 0);
    raw_notify(&w, IKE_PL_NOTIFY, IKE_N_MULTIPLE_AUTH_SUPPORTED, NULL, 0);
    raw_notify(&w, IKE_PL_NOTIFY, IKE_N_EAP_ONLY_AUTHENTICATION, NULL, 0);
    raw_notify(&w, IKE_PL_NONE, IKE_N_IKEV2_MESSAGE_ID_SYNC_SUPPORTED, NULL, 0);
    return wr_ok(&w) ? w.len : 0;
}

/* An IKE_AUTH request as it leaves strongSwan: only SK outside, with an
 * 8-byte IV, stand-in ciphertext of 200 bytes and a 16-byte ICV. */
static inline size_t sample_auth_outer(uint8_t *buf, size_t cap)
{
    struct wr w = wr_init(buf, cap);
    raw_hdr(&w, SAMPLE_SPI_R, IKE_PL_SK, IKE_EXCH_AUTH, IKE_FLAG_INITIATOR, 1);
    size_t o = raw_pl(&w, IKE_PL_IDI);
    uint8_t ct[8 + 200 + 16];
    fill(ct, sizeof(ct), 0xe1);
    wr_bytes(&w, ct, sizeof(ct));
    raw_end(&w, o);
    return raw_finish(&w);
}

/* Fragment 1 of 2 of an IKE_AUTH response (RFC 7383). */
static inline size_t sample_skf(uint8_t *buf, size_t cap)
{
    struct wr w = wr_init(buf, cap);
    raw_hdr(&w, SAMPLE_SPI_R, IKE_PL_SKF, IKE_EXCH_AUTH, IKE_FLAG_RESPONSE, 1);
    size_t o = raw_pl(&w, IKE_PL_IDR);
    wr_u16(&w, 1);
    wr_u16(&w, 2);
    uint8_t ct[8 + 480 + 16];
    fill(ct, sizeof(ct), 0xf3);
    wr_bytes(&w, ct, sizeof(ct));
    raw_end(&w, o);
    return raw_finish(&w);
}

/* Inner payloads of an INFORMATIONAL request deleting two ESP SAs. */
static inline size_t sample_delete_inner(uint8_t *buf, size_t cap)
{
    struct wr w = wr_init(buf, cap);
    size_t o = raw_pl(&w, IKE_PL_NONE);
    wr_u8(&w, IKE_PROTO_ESP);
    wr_u8(&w, 4);
    wr_u16(&w, 2);
    static const uint8_t spis[8] = {0xc1, 0x2a, 0x33, 0x04, 0xc5, 0x6b, 0x77, 0x08};
    wr_bytes(&w, spis, sizeof(spis));
    raw_end(&w, o);
    return wr_ok(&w) ? w.len : 0;
}

/* Inner payload of an IKE_AUTH request with EAP-Response/Identity "alice". */
static inline size_t sample_eap_inner(uint8_t *buf, size_t cap)
{
    struct wr w = wr_init(buf, cap);
    size_t o = raw_pl(&w, IKE_PL_NONE);
    wr_u8(&w, IKE_EAP_RESPONSE);
    wr_u8(&w, 7);
    wr_u16(&w, 10);
    wr_u8(&w, IKE_EAP_IDENTITY);
    wr_bytes(&w, "alice", 5);
    raw_end(&w, o);
    return wr_ok(&w) ? w.len : 0;
}

#endif
