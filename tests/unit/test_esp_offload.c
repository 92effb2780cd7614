/* TUN offloads: GSO packets the tenant's kernel hands over cut into the
 * packets it would have sent (esp_gso.h), partial checksums completed, and
 * UDP datagrams of one flow merged into one GSO write (esp_gro.h).
 * Checksums are checked with a plain RFC 1071 loop written here. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "esp/esp_gro.h"
#include "esp/esp_gso.h"

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        acc += (uint32_t)(p[n - 1] << 8);
    return acc;
}

static uint16_t fold16(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* The L4 checksum of an IPv4 (iphl 20) or IPv6 (40) packet verifies. */
static bool l4_ok(const uint8_t *p, size_t len, uint8_t proto)
{
    uint32_t acc;
    size_t l4;
    if (p[0] >> 4 == 4) {
        l4 = 20;
        acc = sum16(p + 12, 8, 0);
    } else {
        l4 = 40;
        acc = sum16(p + 8, 32, 0);
    }
    acc += proto + (uint32_t)(len - l4);
    return fold16(sum16(p + l4, len - l4, acc)) == 0xffff;
}

/* An IPv4 TCP "packet" as TSO hands it over: len bytes of payload after a
 * 20-byte TCP header, flags FIN|PSH|CWR|ACK, checksum left partial. */
static size_t tso4(uint8_t *p, size_t payload)
{
    size_t total = 40 + payload;
    memset(p, 0, total);
    p[0] = 0x45;
    put16(p + 2, (uint16_t)total);
    put16(p + 4, 100); /* id */
    p[6] = 0x40;
    p[8] = 64;
    p[9] = 6;
    memcpy(p + 12, (uint8_t[]){10, 1, 0, 10}, 4);
    memcpy(p + 16, (uint8_t[]){10, 1, 128, 2}, 4);
    uint8_t *t = p + 20;
    put16(t, 5201);
    put16(t + 2, 40000);
    put16(t + 4, 0x0001);
    put16(t + 6, 0xfff0); /* seq 0x1fff0: wraps the low half */
    t[12] = 5 << 4;
    t[13] = 0x80 | 0x10 | 0x08 | 0x01;
    for (size_t i = 0; i < payload; i++)
        t[20 + i] = (uint8_t)(i * 7);
    return total;
}

static void test_tcp4_cut_like_the_kernel(void **state)
{
    (void)state;
    static uint8_t p[4096], out[2048];
    size_t len = tso4(p, 2500);
    struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                               .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                               .hdr_len = 40,
                               .gso_size = 1000,
                               .csum_start = 20,
                               .csum_offset = 16};
    struct esp_gso g;
    assert_int_equal(esp_gso_parse(&h, p, len, &g), 0);
    assert_int_equal(g.nseg, 3);
    size_t at = 0;
    for (unsigned i = 0; i < 3; i++) {
        size_t n = esp_gso_segment(&g, i, out, sizeof(out));
        size_t pl = i < 2 ? 1000 : 500;
        assert_int_equal(n, 40 + pl);
        assert_int_equal(get16(out + 2), n);
        assert_int_equal(get16(out + 4), 100 + i);
        assert_int_equal(fold16(sum16(out, 20, 0)), 0xffff); /* IPv4 header checksum */
        assert_int_equal(get32(out + 24), 0x1fff0u + (uint32_t)at);
        uint8_t flags = out[33];
        assert_int_equal(flags & 0x10, 0x10);       /* ACK on all */
        assert_int_equal(!!(flags & 0x80), i == 0); /* CWR on the first */
        assert_int_equal(!!(flags & 0x09), i == 2); /* FIN, PSH on the last */
        assert_int_equal((flags & 0x09) == 0x09, i == 2);
        assert_true(l4_ok(out, n, 6));
        assert_memory_equal(out + 40, p + 40 + at, pl);
        at += pl;
    }
    assert_int_equal(esp_gso_segment(&g, 3, out, sizeof(out)), 0);
    assert_int_equal(esp_gso_segment(&g, 0, out, 100), 0); /* no room */
}

static void test_udp6_cut_like_the_kernel(void **state)
{
    (void)state;
    static uint8_t p[4096], out[2048];
    size_t payload = 2100, len = 48 + payload;
    memset(p, 0, len);
    p[0] = 0x60;
    put16(p + 4, (uint16_t)(8 + payload));
    p[6] = 17;
    p[7] = 64;
    p[8] = 0x20;
    p[23] = 1;
    p[24] = 0x20;
    p[39] = 2;
    put16(p + 40, 1000);
    put16(p + 42, 2000);
    put16(p + 44, (uint16_t)(8 + payload));
    for (size_t i = 0; i < payload; i++)
        p[48 + i] = (uint8_t)(i * 3 + 1);
    struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                               .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4,
                               .hdr_len = 48,
                               .gso_size = 1000,
                               .csum_start = 40,
                               .csum_offset = 6};
    struct esp_gso g;
    assert_int_equal(esp_gso_parse(&h, p, len, &g), 0);
    assert_int_equal(g.nseg, 3);
    for (unsigned i = 0; i < 3; i++) {
        size_t n = esp_gso_segment(&g, i, out, sizeof(out));
        size_t pl = i < 2 ? 1000 : 100;
        assert_int_equal(n, 48 + pl);
        assert_int_equal(get16(out + 4), 8 + pl);  /* payload length */
        assert_int_equal(get16(out + 44), 8 + pl); /* UDP length */
        assert_true(l4_ok(out, n, 17));
        assert_memory_equal(out + 48, p + 48 + i * 1000, pl);
    }
}

static void test_headers_that_do_not_fit_are_refused(void **state)
{
    (void)state;
    static uint8_t p[4096];
    size_t len = tso4(p, 2500);
    struct esp_gso g;
    struct virtio_net_hdr h = {.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4, .gso_size = 1000};
    assert_int_equal(esp_gso_parse(&h, p, len, &g), -1); /* UDP GSO of a TCP packet */
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    assert_int_equal(esp_gso_parse(&h, p, len, &g), -1); /* IPv6 GSO of IPv4 */
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    h.gso_size = 0;
    assert_int_equal(esp_gso_parse(&h, p, len, &g), -1);
    h.gso_size = 1000;
    assert_int_equal(esp_gso_parse(&h, p, 30, &g), -1); /* TCP header cut off */
    p[32] = 15 << 4;                                    /* 60-byte TCP header */
    assert_int_equal(esp_gso_parse(&h, p, 70, &g), -1);
    p[0] = 0x4f; /* 60-byte IPv4 header longer than the packet */
    assert_int_equal(esp_gso_parse(&h, p, 50, &g), -1);
    p[0] = 0x55;
    assert_int_equal(esp_gso_parse(&h, p, len, &g), -1); /* not IP */
    struct virtio_net_hdr c = {
        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 16};
    assert_int_equal(esp_gso_csum(&c, p, 30), -1);
}

static void test_a_partial_checksum_is_completed(void **state)
{
    (void)state;
    static uint8_t p[2048];
    size_t len = tso4(p, 777);
    /* As the kernel leaves it: the pseudo-header sum, not inverted. */
    put16(p + 36, fold16(sum16(p + 12, 8, 0) + 6 + (uint32_t)(len - 20)));
    struct virtio_net_hdr c = {
        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 16};
    assert_int_equal(esp_gso_csum(&c, p, len), 0);
    assert_true(l4_ok(p, len, 6));
}

/* IPv4 UDP datagram 10.1.128.2:sport -> 10.1.0.10:5201, payload bytes. */
static size_t udp4(uint8_t *p, size_t payload, uint16_t sport, bool csum)
{
    size_t total = 28 + payload;
    memset(p, 0, total);
    p[0] = 0x45;
    put16(p + 2, (uint16_t)total);
    p[8] = 64;
    p[9] = 17;
    memcpy(p + 12, (uint8_t[]){10, 1, 128, 2}, 4);
    memcpy(p + 16, (uint8_t[]){10, 1, 0, 10}, 4);
    put16(p + 10, (uint16_t)~fold16(sum16(p, 20, 0)));
    put16(p + 20, sport);
    put16(p + 22, 5201);
    put16(p + 24, (uint16_t)(8 + payload));
    for (size_t i = 0; i < payload; i++)
        p[28 + i] = (uint8_t)(sport + i);
    if (csum)
        put16(p + 26, (uint16_t)~fold16(sum16(p + 20, 8 + payload,
                                              sum16(p + 12, 8, 0) + 17 + 8 + (uint32_t)payload)));
    return total;
}

static void test_udp_datagrams_of_a_flow_merge(void **state)
{
    (void)state;
    static uint8_t pk[6][2048];
    uint8_t *ptrs[6];
    size_t lens[6];
    for (int i = 0; i < 6; i++) {
        lens[i] = udp4(pk[i], i == 3 ? 500 : 1000, i < 4 ? 7000 : 7001, true);
        ptrs[i] = pk[i];
    }
    struct virtio_net_hdr h;
    size_t hlen;
    /* 0..3 (the short one ends the run), then 4..5: another flow. */
    assert_int_equal(esp_gro_run(ptrs, lens, 6, &h, &hlen), 4);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
    assert_int_equal(h.gso_size, 1000);
    assert_int_equal(h.hdr_len, 28);
    assert_int_equal(h.csum_start, 20);
    assert_int_equal(h.csum_offset, 6);
    assert_int_equal(hlen, 28);
    assert_int_equal(get16(pk[0] + 2), 28 + 3500);
    assert_int_equal(get16(pk[0] + 24), 8 + 3500);
    assert_int_equal(fold16(sum16(pk[0], 20, 0)), 0xffff);
    /* The checksum field holds the pseudo-header sum for the whole. */
    assert_int_equal(get16(pk[0] + 26), fold16(sum16(pk[0] + 12, 8, 0) + 17 + 8 + 3500));
    assert_int_equal(esp_gro_run(ptrs + 4, lens + 4, 2, &h, &hlen), 2);
}

static void test_udp_without_checksum_or_with_a_bad_one_stays_alone(void **state)
{
    (void)state;
    static uint8_t pk[3][2048];
    uint8_t *ptrs[3];
    size_t lens[3];
    for (int i = 0; i < 3; i++) {
        lens[i] = udp4(pk[i], 1000, 7000, i != 0);
        ptrs[i] = pk[i];
    }
    struct virtio_net_hdr h;
    size_t hlen;
    assert_int_equal(esp_gro_run(ptrs, lens, 3, &h, &hlen), 1); /* no checksum: alone */
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
    pk[2][100] ^= 1; /* a bad checksum: not merged, the kernel drops it */
    assert_int_equal(esp_gro_run(ptrs + 1, lens + 1, 2, &h, &hlen), 1);
    assert_int_equal(get16(pk[1] + 2), 1028); /* nothing rewritten */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp4_cut_like_the_kernel),
        cmocka_unit_test(test_udp6_cut_like_the_kernel),
        cmocka_unit_test(test_headers_that_do_not_fit_are_refused),
        cmocka_unit_test(test_a_partial_checksum_is_completed),
        cmocka_unit_test(test_udp_datagrams_of_a_flow_merge),
        cmocka_unit_test(test_udp_without_checksum_or_with_a_bad_one_stays_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
