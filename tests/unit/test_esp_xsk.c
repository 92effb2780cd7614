/* The AF_XDP receive path's frame parser (esp_xsk_parse): the UDP payload
 * and the peer of an Ethernet frame, and every way a frame can be wrong. */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "esp/esp_xsk.h"

/* An Ethernet frame with IPv4 (or IPv6) and UDP from port 4501 carrying
 * plen bytes of 0xab; pad bytes of Ethernet padding after it. */
static size_t frame(uint8_t *f, bool v6, size_t plen, size_t pad)
{
    memset(f, 0, 14);
    f[12] = v6 ? 0x86 : 0x08;
    f[13] = v6 ? 0xdd : 0x00;
    uint8_t *ip = f + 14, *udp;
    if (!v6) {
        memset(ip, 0, 20);
        ip[0] = 0x45;
        size_t tot = 20 + 8 + plen;
        ip[2] = (uint8_t)(tot >> 8);
        ip[3] = (uint8_t)tot;
        ip[8] = 64;
        ip[9] = 17;
        memcpy(ip + 12, "\xc6\x33\x64\x0a", 4); /* 198.51.100.10 */
        memcpy(ip + 16, "\xc6\x33\x64\x01", 4);
        uint32_t sum = 0;
        for (int i = 0; i < 20; i += 2)
            sum += (uint32_t)ip[i] << 8 | ip[i + 1];
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        ip[10] = (uint8_t)(~sum >> 8);
        ip[11] = (uint8_t)~sum;
        udp = ip + 20;
    } else {
        memset(ip, 0, 40);
        ip[0] = 0x60;
        ip[4] = (uint8_t)((8 + plen) >> 8);
        ip[5] = (uint8_t)(8 + plen);
        ip[6] = 17;
        ip[7] = 64;
        ip[8] = 0x20, ip[9] = 0x01, ip[10] = 0x0d, ip[11] = 0xb8, ip[23] = 0x10;
        ip[24] = 0x20, ip[25] = 0x01, ip[26] = 0x0d, ip[27] = 0xb8, ip[39] = 0x01;
        udp = ip + 40;
    }
    udp[0] = 0x11, udp[1] = 0x95; /* 4501 */
    udp[2] = 0x11, udp[3] = 0x94; /* 4500 */
    udp[4] = (uint8_t)((8 + plen) >> 8);
    udp[5] = (uint8_t)(8 + plen);
    udp[6] = udp[7] = 0;
    memset(udp + 8, 0xab, plen + pad);
    return (size_t)(udp + 8 - f) + plen + pad;
}

static void valid_frames_give_payload_and_peer(void **state)
{
    (void)state;
    uint8_t f[2048];
    const uint8_t *p;
    size_t plen;
    struct sockaddr_storage peer;
    /* IPv4 with Ethernet padding: the payload ends where UDP says. */
    size_t n = frame(f, false, 10, 8);
    assert_int_equal(esp_xsk_parse(f, n, &p, &plen, &peer), 0);
    assert_int_equal(plen, 10);
    assert_ptr_equal(p, f + 14 + 20 + 8);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&peer;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 4501);
    char a[64];
    assert_string_equal(inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a)), "198.51.100.10");
    /* IPv6, a full-size ESP packet. */
    n = frame(f, true, 1400, 0);
    assert_int_equal(esp_xsk_parse(f, n, &p, &plen, &peer), 0);
    assert_int_equal(plen, 1400);
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&peer;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 4501);
    assert_string_equal(inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a)), "2001:db8::10");
}

static void malformed_frames_are_refused(void **state)
{
    (void)state;
    uint8_t f[2048];
    const uint8_t *p;
    size_t plen;
    struct sockaddr_storage peer;
    size_t n = frame(f, false, 100, 0);
    /* Cut anywhere before the end of the payload. */
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(esp_xsk_parse(f, cut, &p, &plen, &peer), -1);
    struct {
        size_t at;
        uint8_t val;
    } bad[] = {
        {12, 0x81},           /* a VLAN tag */
        {14, 0x46},           /* IHL 6: options, and the checksum no longer holds */
        {14, 0x55},           /* IP version 5 */
        {14 + 9, 6},          /* TCP */
        {14 + 6, 0x20},       /* more fragments */
        {14 + 7, 0x01},       /* a fragment offset */
        {14 + 10, 0x00},      /* header checksum */
        {14 + 2, 0xff},       /* IP length beyond the frame */
        {14 + 20 + 4, 0x10},  /* UDP length beyond IP's */
        {14 + 20 + 5 - 1, 0}, /* UDP length under 8 (with the next) */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t g[2048];
        memcpy(g, f, n);
        g[bad[i].at] = bad[i].val;
        if (bad[i].at == 14 + 20 + 4)
            g[14 + 20 + 5] = 7;
        assert_int_equal(esp_xsk_parse(g, n, &p, &plen, &peer), -1);
    }
    n = frame(f, true, 100, 0);
    f[14 + 6] = 0; /* a hop-by-hop extension header */
    assert_int_equal(esp_xsk_parse(f, n, &p, &plen, &peer), -1);
    n = frame(f, true, 100, 0);
    f[14 + 4] = 0x10; /* payload length beyond the frame */
    assert_int_equal(esp_xsk_parse(f, n, &p, &plen, &peer), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_frames_give_payload_and_peer),
        cmocka_unit_test(malformed_frames_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
