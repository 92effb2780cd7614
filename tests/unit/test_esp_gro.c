/* TCP segment coalescing for TUN writes (esp_gro.h): which decrypted
 * segments become one GSO packet, and what its headers then say. Checksums
 * are checked with a plain RFC 1071 loop written here, not esp_gro's own. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "esp/esp_gro.h"

#define MSS  1000
#define MAXP 8

static uint8_t pkt[MAXP][2048];
static size_t len[MAXP];
static uint8_t *ptrs[MAXP];

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

/* The pseudo-header sum of an IPv4 TCP segment of l4len bytes. */
static uint32_t pseudo4(const uint8_t *ip, size_t l4len)
{
    uint32_t acc = sum16(ip + 12, 8, 0);
    return acc + 6 + (uint32_t)l4len;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* IPv4 + TCP (12 bytes of timestamp option) with `payload` bytes at seq. */
static size_t tcp4(uint8_t *p, uint32_t seq, size_t payload, uint8_t flags, uint16_t sport)
{
    size_t thl = 32, total = 20 + thl + payload;
    memset(p, 0, total);
    p[0] = 0x45;
    put16(p + 2, (uint16_t)total);
    put16(p + 4, (uint16_t)seq); /* ids differ, as they do */
    p[6] = 0x40;                 /* DF */
    p[8] = 64;
    p[9] = 6;
    memcpy(p + 12, (uint8_t[]){10, 1, 128, 2}, 4);
    memcpy(p + 16, (uint8_t[]){10, 1, 0, 10}, 4);
    put16(p + 10, (uint16_t)~fold16(sum16(p, 20, 0)));
    uint8_t *t = p + 20;
    put16(t, sport);
    put16(t + 2, 5201);
    put32(t + 4, seq);
    put32(t + 8, 777);
    t[12] = (uint8_t)(thl / 4) << 4;
    t[13] = flags;
    put16(t + 14, 501);
    memcpy(t + 20, (uint8_t[]){1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7}, 12);
    for (size_t i = 0; i < payload; i++)
        t[thl + i] = (uint8_t)(seq + i);
    put16(t + 16, (uint16_t)~fold16(sum16(t, thl + payload, pseudo4(p, thl + payload))));
    return total;
}

/* Recomputes the TCP checksum of pkt[i] after a test changed it. */
static void fix(unsigned i)
{
    uint8_t *t = pkt[i] + 20;
    size_t l4 = len[i] - 20;
    put16(t + 16, 0);
    put16(t + 16, (uint16_t)~fold16(sum16(t, l4, pseudo4(pkt[i], l4))));
}

/* n segments of MSS bytes in sequence (the last `last` bytes if not 0). */
static void stream(unsigned n, size_t last)
{
    uint32_t seq = 1000;
    for (unsigned i = 0; i < n; i++) {
        size_t pl = i == n - 1 && last ? last : MSS;
        len[i] = tcp4(pkt[i], seq, pl, 0x10, 40000);
        ptrs[i] = pkt[i];
        seq += (uint32_t)pl;
    }
}

static unsigned run(unsigned n, struct virtio_net_hdr *h, size_t *hlen)
{
    return esp_gro_run(ptrs, len, n, h, hlen);
}

static void test_a_stream_becomes_one_gso_packet(void **state)
{
    (void)state;
    stream(4, 300);
    struct virtio_net_hdr h;
    size_t hlen;
    assert_int_equal(run(4, &h, &hlen), 4);
    assert_int_equal(hlen, 52);
    assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    assert_int_equal(h.hdr_len, 52);
    assert_int_equal(h.gso_size, MSS);
    assert_int_equal(h.csum_start, 20);
    assert_int_equal(h.csum_offset, 16);
    /* The head now describes the whole: IP length and a valid IP checksum,
     * the TCP field holding the pseudo-header sum for the whole length. */
    size_t l4 = 32 + 3 * MSS + 300;
    assert_int_equal(pkt[0][2] << 8 | pkt[0][3], 20 + l4);
    assert_int_equal(fold16(sum16(pkt[0], 20, 0)), 0xffff);
    assert_int_equal(pkt[0][36] << 8 | pkt[0][37], fold16(pseudo4(pkt[0], l4)));
    assert_int_equal(pkt[0][33], 0x10);
}

static void test_a_single_packet_is_left_alone(void **state)
{
    (void)state;
    stream(1, 0);
    uint8_t before[2048];
    memcpy(before, pkt[0], len[0]);
    struct virtio_net_hdr h;
    size_t hlen = 99;
    assert_int_equal(run(1, &h, &hlen), 1);
    assert_int_equal(hlen, 0);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
    assert_int_equal(h.flags, 0);
    assert_memory_equal(before, pkt[0], len[0]);
    assert_int_equal(esp_gro_run(ptrs, len, 0, &h, &hlen), 0);
}

static void test_psh_ends_a_run_and_is_kept(void **state)
{
    (void)state;
    stream(4, 0);
    pkt[1][33] = 0x18; /* ACK|PSH */
    fix(1);
    struct virtio_net_hdr h;
    size_t hlen;
    assert_int_equal(run(4, &h, &hlen), 2);
    assert_int_equal(pkt[0][33], 0x18);
    assert_int_equal(esp_gro_run(ptrs + 2, len + 2, 2, &h, &hlen), 2);
}

static void test_a_short_segment_ends_a_run(void **state)
{
    (void)state;
    stream(2, 500);
    len[2] = tcp4(pkt[2], 1000 + MSS + 500, MSS, 0x10, 40000);
    ptrs[2] = pkt[2];
    struct virtio_net_hdr h;
    size_t hlen;
    assert_int_equal(run(3, &h, &hlen), 2);
}

static void test_what_does_not_merge(void **state)
{
    (void)state;
    struct virtio_net_hdr h;
    size_t hlen;
    /* A gap in the sequence. */
    stream(2, 0);
    len[1] = tcp4(pkt[1], 1000 + MSS + 1, MSS, 0x10, 40000);
    assert_int_equal(run(2, &h, &hlen), 1);
    /* Another flow. */
    stream(2, 0);
    len[1] = tcp4(pkt[1], 1000 + MSS, MSS, 0x10, 40001);
    assert_int_equal(run(2, &h, &hlen), 1);
    /* FIN, SYN: as they are. */
    stream(2, 0);
    len[1] = tcp4(pkt[1], 1000 + MSS, MSS, 0x11, 40000);
    assert_int_equal(run(2, &h, &hlen), 1);
    /* A larger segment after the first. */
    stream(1, 0);
    len[1] = tcp4(pkt[1], 1000 + MSS, MSS + 1, 0x10, 40000);
    ptrs[1] = pkt[1];
    assert_int_equal(run(2, &h, &hlen), 1);
    /* Other TCP options (a new timestamp). */
    stream(2, 0);
    pkt[1][20 + 27] ^= 1;
    fix(1);
    assert_int_equal(run(2, &h, &hlen), 1);
    /* Pure ACKs carry no data. */
    len[0] = tcp4(pkt[0], 1000, 0, 0x10, 40000);
    len[1] = tcp4(pkt[1], 1000, 0, 0x10, 40000);
    assert_int_equal(run(2, &h, &hlen), 1);
    /* Not TCP (UDP). */
    stream(2, 0);
    pkt[0][9] = 17;
    assert_int_equal(run(2, &h, &hlen), 1);
    /* A fragment. */
    stream(2, 0);
    pkt[1][6] = 0x20;
    assert_int_equal(run(2, &h, &hlen), 1);
}

static void test_a_bad_checksum_is_never_merged(void **state)
{
    (void)state;
    struct virtio_net_hdr h;
    size_t hlen;
    stream(3, 0);
    pkt[1][100] ^= 0x55;
    assert_int_equal(run(3, &h, &hlen), 1); /* head + bad: the head alone */
    assert_int_equal(esp_gro_run(ptrs + 1, len + 1, 2, &h, &hlen), 1);
    stream(3, 0);
    pkt[0][100] ^= 0x55; /* a bad head goes alone, unchanged */
    assert_int_equal(run(3, &h, &hlen), 1);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
}

static void test_checksum_of_odd_lengths(void **state)
{
    (void)state;
    for (size_t pl = 0; pl < 20; pl++) {
        len[0] = tcp4(pkt[0], 5, pl, 0x10, 1);
        assert_int_equal(esp_gro_l4_csum(pkt[0], len[0], 20, 6), 0);
        pkt[0][len[0] - 1] ^= 1;
        assert_int_not_equal(esp_gro_l4_csum(pkt[0], len[0], 20, 6), 0);
    }
    assert_int_not_equal(esp_gro_l4_csum(pkt[0], 10, 20, 6), 0); /* short */
}

static void test_at_most_64k_in_one_packet(void **state)
{
    (void)state;
    /* 8 segments of 9000 bytes would exceed an IPv4 length. */
    static uint8_t big[MAXP][9100];
    uint32_t seq = 1;
    for (unsigned i = 0; i < MAXP; i++) {
        len[i] = tcp4(big[i], seq, 9000, 0x10, 7);
        ptrs[i] = big[i];
        seq += 9000;
    }
    struct virtio_net_hdr h;
    size_t hlen;
    assert_int_equal(run(MAXP, &h, &hlen), 7); /* 7 * 9000 + 52 <= 65535 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_stream_becomes_one_gso_packet),
        cmocka_unit_test(test_a_single_packet_is_left_alone),
        cmocka_unit_test(test_psh_ends_a_run_and_is_kept),
        cmocka_unit_test(test_a_short_segment_ends_a_run),
        cmocka_unit_test(test_what_does_not_merge),
        cmocka_unit_test(test_a_bad_checksum_is_never_merged),
        cmocka_unit_test(test_checksum_of_odd_lengths),
        cmocka_unit_test(test_at_most_64k_in_one_packet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
