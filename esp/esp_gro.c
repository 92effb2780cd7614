/* TCP segment coalescing for TUN writes: see esp_gro.h. */
#include "esp/esp_gro.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "concentrator/wire.h"

#define TH_PSH    0x08
#define TH_ACK    0x10
#define PROTO_TCP 6
#define PROTO_UDP 17

/* One parsed segment; lengths checked against the packet. */
struct seg {
    uint8_t *ip;
    size_t len, iphl, thl, plen;
    unsigned family;
    uint8_t proto;
    uint32_t seq;
    uint8_t flags;
};

/* --- the Internet checksum ------------------------------------------------ */

/* Adds n bytes as 16-bit words in memory order (RFC 1071: the sum does not
 * depend on byte order; the result is stored back in memory order). Words
 * are summed as 32-bit halves of 64-bit loads into a 64-bit total, which
 * cannot overflow for any packet (2^32 loads would be needed), so the loop
 * has no carry to propagate. */
static uint64_t add_bytes(uint64_t acc, const uint8_t *p, size_t n)
{
    acc = (acc & 0xffffffffu) + (acc >> 32);
    uint64_t a = 0, b = 0;
    while (n >= 32) {
        uint64_t v[4];
        memcpy(v, p, sizeof(v));
        a += (v[0] & 0xffffffffu) + (v[1] & 0xffffffffu) + (v[2] & 0xffffffffu) +
             (v[3] & 0xffffffffu);
        b += (v[0] >> 32) + (v[1] >> 32) + (v[2] >> 32) + (v[3] >> 32);
        p += 32;
        n -= 32;
    }
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        a += v & 0xffffffffu;
        b += v >> 32;
        p += 8;
        n -= 8;
    }
    acc += a + b;
    if (n >= 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        acc += v;
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        uint16_t v;
        memcpy(&v, p, 2);
        acc += v;
        p += 2;
        n -= 2;
    }
    if (n) {
        uint8_t last[2] = {p[0], 0};
        uint16_t v;
        memcpy(&v, last, 2);
        acc += v;
    }
    return acc;
}

/* The folded sum in memory order (store it with memcpy, or give it to
 * ntohs for its big-endian value). */
static uint16_t fold(uint64_t acc)
{
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffu) + (acc >> 16);
    acc = (acc & 0xffffu) + (acc >> 16);
    acc = (acc & 0xffffu) + (acc >> 16);
    return (uint16_t)acc;
}

/* The pseudo-header sum: addresses from the IP header (validated by the
 * caller: 20 or 40 bytes), protocol and the segment length. */
static uint64_t pseudo(const uint8_t *ip, unsigned family, uint8_t proto, size_t l4len)
{
    uint64_t acc = 0;
    if (family == 4) {
        uint8_t tail[4] = {0, proto, (uint8_t)(l4len >> 8), (uint8_t)l4len};
        acc = add_bytes(acc, ip + 12, 8);
        acc = add_bytes(acc, tail, sizeof(tail));
    } else {
        uint8_t tail[8] = {(uint8_t)(l4len >> 24),
                           (uint8_t)(l4len >> 16),
                           (uint8_t)(l4len >> 8),
                           (uint8_t)l4len,
                           0,
                           0,
                           0,
                           proto};
        acc = add_bytes(acc, ip + 8, 32);
        acc = add_bytes(acc, tail, sizeof(tail));
    }
    return acc;
}

uint64_t esp_gro_csum_add(uint64_t acc, const uint8_t *p, size_t n)
{
    return add_bytes(acc, p, n);
}

uint16_t esp_gro_csum_fold(uint64_t acc)
{
    return fold(acc);
}

uint64_t esp_gro_csum_pseudo(const uint8_t *ip, unsigned family, uint8_t proto, size_t l4len)
{
    return pseudo(ip, family, proto, l4len);
}

uint16_t esp_gro_l4_csum(const uint8_t *pkt, size_t len, size_t l4, uint8_t proto)
{
    struct rd r = rd_init(pkt, len);
    uint8_t v = rd_u8(&r);
    unsigned family = v >> 4;
    size_t need = family == 4 ? 20 : 40;
    if (!rd_ok(&r) || (family != 4 && family != 6) || l4 < need || l4 > len)
        return 0xffff;
    struct rd all = rd_init(pkt, len);
    rd_skip(&all, l4);
    size_t n = 0;
    const uint8_t *seg = rd_rest(&all, &n);
    if (!seg && n)
        return 0xffff;
    uint64_t acc = pseudo(pkt, family, proto, n);
    if (n)
        acc = add_bytes(acc, seg, n);
    return (uint16_t)~fold(acc);
}

/* --- segments ------------------------------------------------------------ */

/* A TCP segment or UDP datagram with data that GRO may merge, or false. */
static bool parse(uint8_t *pkt, size_t len, struct seg *s)
{
    struct rd r = rd_init(pkt, len);
    uint8_t v = rd_u8(&r);
    s->ip = pkt;
    s->len = len;
    if (v == 0x45) { /* IPv4 without options */
        rd_skip(&r, 1);
        uint16_t total = rd_u16(&r);
        rd_skip(&r, 2);
        uint16_t frag = rd_u16(&r);
        rd_skip(&r, 1);
        s->proto = rd_u8(&r);
        if (!rd_ok(&r) || total != len || (frag & 0xbfff) != 0)
            return false; /* fragments, reserved bit */
        s->family = 4;
        s->iphl = 20;
    } else if (v >> 4 == 6) {
        rd_skip(&r, 3);
        uint16_t plen = rd_u16(&r);
        s->proto = rd_u8(&r);
        if (!rd_ok(&r) || (size_t)plen + 40 != len)
            return false; /* jumbograms */
        s->family = 6;
        s->iphl = 40;
    } else {
        return false;
    }
    struct rd t = rd_init(pkt, len);
    rd_skip(&t, s->iphl);
    if (s->proto == PROTO_UDP) {
        rd_skip(&t, 4); /* ports */
        uint16_t ulen = rd_u16(&t);
        uint16_t csum = rd_u16(&t);
        s->thl = 8;
        s->flags = 0;
        s->seq = 0;
        if (!rd_ok(&t) || ulen != len - s->iphl || (csum == 0 && s->family == 4))
            return false; /* an IPv4 datagram without a checksum stays alone */
        s->plen = len - s->iphl - s->thl;
        return s->plen > 0;
    }
    if (s->proto != PROTO_TCP)
        return false; /* IPv6 extension headers, other protocols */
    rd_skip(&t, 4);   /* ports */
    s->seq = rd_u32(&t);
    rd_skip(&t, 4); /* ACK number */
    uint8_t off = rd_u8(&t);
    s->flags = rd_u8(&t);
    rd_skip(&t, 4); /* window, checksum */
    uint16_t urg = rd_u16(&t);
    s->thl = (size_t)(off >> 4) * 4;
    if (!rd_ok(&t) || (off & 0x0f) || s->thl < 20 || s->thl > len - s->iphl || urg)
        return false;
    if (s->flags != TH_ACK && s->flags != (TH_ACK | TH_PSH))
        return false; /* SYN, FIN, RST, URG, ECE, CWR: as they are */
    s->plen = len - s->iphl - s->thl;
    return s->plen > 0;
}

/* Same flow, and headers GRO keeps as one: everything but the IPv4 id,
 * lengths, checksums, sequence number and PSH. */
static bool same_flow(const struct seg *a, const struct seg *b)
{
    if (a->family != b->family || a->proto != b->proto || a->thl != b->thl)
        return false;
    const uint8_t *x = a->ip, *y = b->ip;
    if (a->family == 4) {
        if (x[1] != y[1] || x[6] != y[6] || x[8] != y[8] || memcmp(x + 12, y + 12, 8) != 0)
            return false;
    } else if (memcmp(x, y, 4) != 0 || x[7] != y[7] || memcmp(x + 8, y + 8, 32) != 0) {
        return false;
    }
    const uint8_t *ta = x + a->iphl, *tb = y + b->iphl;
    if (a->proto == PROTO_UDP)
        return memcmp(ta, tb, 4) == 0;                 /* ports */
    return memcmp(ta, tb, 4) == 0 &&                   /* ports */
           memcmp(ta + 8, tb + 8, 4) == 0 &&           /* ACK number */
           memcmp(ta + 14, tb + 14, 2) == 0 &&         /* window */
           memcmp(ta + 20, tb + 20, a->thl - 20) == 0; /* options, timestamps too */
}

static bool csum_ok(const struct seg *s)
{
    return esp_gro_l4_csum(s->ip, s->len, s->iphl, s->proto) == 0;
}

/* Rewrites the head's headers for a GSO packet of `total` payload bytes. */
static void rewrite_head(const struct seg *h, size_t total, uint8_t last_flags)
{
    struct wr w = wr_init(h->ip, h->len);
    wr_reserve(&w, h->len);
    size_t l4len = h->thl + total;
    if (h->family == 4) {
        wr_patch_u16(&w, 2, (uint16_t)(h->iphl + l4len));
        wr_patch_u16(&w, 10, 0);
        wr_patch_u16(&w, 10, ntohs((uint16_t)~fold(add_bytes(0, h->ip, h->iphl))));
    } else {
        wr_patch_u16(&w, 4, (uint16_t)l4len);
    }
    size_t csum_at = h->iphl + 16;
    if (h->proto == PROTO_UDP) {
        wr_patch_u16(&w, h->iphl + 4, (uint16_t)l4len);
        csum_at = h->iphl + 6;
    } else {
        size_t fl = h->iphl + 12; /* data offset and flags */
        wr_patch_u16(&w, fl, (uint16_t)(h->ip[fl] << 8 | h->flags | (last_flags & TH_PSH)));
    }
    /* CHECKSUM_PARTIAL: the field holds the pseudo-header sum, not inverted. */
    wr_patch_u16(&w, csum_at, ntohs(fold(pseudo(h->ip, h->family, h->proto, l4len))));
}

unsigned esp_gro_run(uint8_t *const pkts[], const size_t lens[], unsigned n,
                     struct virtio_net_hdr *hdr, size_t *hlen)
{
    memset(hdr, 0, sizeof(*hdr));
    *hlen = 0;
    if (n == 0)
        return 0;
    struct seg head, prev, cur;
    if (n < 2 || !parse(pkts[0], lens[0], &head) || (head.flags & TH_PSH))
        return 1;
    bool udp = head.proto == PROTO_UDP;
    size_t max_total = 65535 - (head.family == 4 ? head.iphl : 0) - head.thl;
    size_t total = head.plen;
    bool head_checked = false;
    unsigned k = 1;
    prev = head;
    while (k < n && k < ESP_GRO_MAX) {
        if (!parse(pkts[k], lens[k], &cur) || !same_flow(&head, &cur) ||
            (!udp && cur.seq != prev.seq + (uint32_t)prev.plen) || cur.plen > head.plen ||
            total + cur.plen > max_total)
            break;
        if (!head_checked) {
            if (!csum_ok(&head))
                return 1;
            head_checked = true;
        }
        if (!csum_ok(&cur))
            break;
        total += cur.plen;
        prev = cur;
        k++;
        if ((cur.flags & TH_PSH) || cur.plen < head.plen)
            break; /* a run ends with PSH or a short segment */
    }
    if (k == 1)
        return 1;
    rewrite_head(&head, total, prev.flags);
    hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    hdr->gso_type = udp                ? VIRTIO_NET_HDR_GSO_UDP_L4
                    : head.family == 4 ? VIRTIO_NET_HDR_GSO_TCPV4
                                       : VIRTIO_NET_HDR_GSO_TCPV6;
    hdr->hdr_len = (uint16_t)(head.iphl + head.thl);
    hdr->gso_size = (uint16_t)head.plen;
    hdr->csum_start = (uint16_t)head.iphl;
    hdr->csum_offset = udp ? 6 : 16;
    *hlen = head.iphl + head.thl;
    return k;
}
