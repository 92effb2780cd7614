/* Cutting TUN GSO packets into segments before ESP: see esp_gso.h. */
#include "esp/esp_gso.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "concentrator/wire.h"

#define PROTO_TCP 6
#define PROTO_UDP 17
#define TH_FIN    0x01
#define TH_PSH    0x08
#define TH_CWR    0x80

int esp_gso_parse(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len, struct esp_gso *g)
{
    memset(g, 0, sizeof(*g));
    unsigned type = h->gso_type & (unsigned)~VIRTIO_NET_HDR_GSO_ECN;
    struct rd r = rd_init(pkt, len);
    uint8_t v = rd_u8(&r);
    if (!rd_ok(&r) || h->gso_size == 0)
        return -1;
    g->family = v >> 4;
    if (g->family == 4) {
        size_t ihl = (size_t)(v & 0x0f) * 4;
        rd_skip(&r, 8);
        g->proto = rd_u8(&r);
        if (!rd_ok(&r) || ihl < 20 || ihl > len)
            return -1;
        g->l4 = ihl;
    } else if (g->family == 6) {
        rd_skip(&r, 5);
        g->proto = rd_u8(&r); /* extension headers are not cut */
        if (!rd_ok(&r) || len < 40)
            return -1;
        g->l4 = 40;
    } else {
        return -1;
    }
    bool tcp = (type == VIRTIO_NET_HDR_GSO_TCPV4 && g->family == 4) ||
               (type == VIRTIO_NET_HDR_GSO_TCPV6 && g->family == 6);
    bool udp = type == VIRTIO_NET_HDR_GSO_UDP_L4;
    if ((tcp && g->proto != PROTO_TCP) || (udp && g->proto != PROTO_UDP) || (!tcp && !udp))
        return -1;
    size_t thl = 8;
    if (tcp) {
        struct rd t = rd_init(pkt, len);
        rd_skip(&t, g->l4 + 12);
        thl = (size_t)(rd_u8(&t) >> 4) * 4;
        if (!rd_ok(&t) || thl < 20)
            return -1;
    }
    if (thl > len - g->l4)
        return -1;
    g->pkt = pkt;
    g->len = len;
    g->hlen = g->l4 + thl;
    g->mss = h->gso_size;
    size_t payload = len - g->hlen;
    g->nseg = payload ? (unsigned)((payload + g->mss - 1) / g->mss) : 1;
    return 0;
}

/* The checksum of the L4 segment at l4 in pkt[0..len), field zeroed. */
static void l4_checksum(uint8_t *pkt, size_t len, unsigned family, uint8_t proto, size_t l4,
                        size_t field)
{
    struct wr w = wr_init(pkt, len);
    wr_reserve(&w, len);
    wr_patch_u16(&w, field, 0);
    uint64_t acc = esp_gro_csum_pseudo(pkt, family, proto, len - l4);
    acc = esp_gro_csum_add(acc, pkt + l4, len - l4);
    uint16_t sum = (uint16_t)~esp_gro_csum_fold(acc);
    if (sum == 0)
        sum = 0xffff; /* as the kernel fills it (CSUM_MANGLED_0): UDP 0 is "none" */
    memcpy(pkt + field, &sum, sizeof(sum)); /* memory order, as summed */
}

size_t esp_gso_segment(const struct esp_gso *g, unsigned i, uint8_t *out, size_t cap)
{
    if (i >= g->nseg)
        return 0;
    size_t off = g->hlen + (size_t)i * g->mss;
    size_t plen = g->len - off < g->mss ? g->len - off : g->mss;
    size_t n = g->hlen + plen;
    if (off > g->len || n > cap || n > 65535)
        return 0;
    memcpy(out, g->pkt, g->hlen);
    memcpy(out + g->hlen, g->pkt + off, plen);
    struct wr w = wr_init(out, n);
    wr_reserve(&w, n);
    struct rd r = rd_init(out, n);
    if (g->family == 4) {
        rd_skip(&r, 4);
        uint16_t id = rd_u16(&r);
        wr_patch_u16(&w, 2, (uint16_t)n);
        wr_patch_u16(&w, 4, (uint16_t)(id + i));
        wr_patch_u16(&w, 10, 0);
        wr_patch_u16(&w, 10, ntohs((uint16_t)~esp_gro_csum_fold(esp_gro_csum_add(0, out, g->l4))));
    } else {
        wr_patch_u16(&w, 4, (uint16_t)(n - 40));
    }
    size_t field;
    if (g->proto == PROTO_TCP) {
        struct rd t = rd_init(out, n);
        rd_skip(&t, g->l4 + 4);
        uint32_t seq = rd_u32(&t);
        rd_skip(&t, 5);
        uint8_t flags = rd_u8(&t);
        if (i + 1 < g->nseg)
            flags &= (uint8_t) ~(TH_FIN | TH_PSH);
        if (i > 0)
            flags &= (uint8_t)~TH_CWR;
        wr_patch_u32(&w, g->l4 + 4, seq + (uint32_t)(i * g->mss));
        out[g->l4 + 13] = flags; /* inside hlen, checked by esp_gso_parse */
        field = g->l4 + 16;
    } else {
        wr_patch_u16(&w, g->l4 + 4, (uint16_t)(n - g->l4));
        field = g->l4 + 6;
    }
    if (!rd_ok(&r) || !wr_ok(&w))
        return 0;
    l4_checksum(out, n, g->family, g->proto, g->l4, field);
    return n;
}

int esp_gso_csum(const struct virtio_net_hdr *h, uint8_t *pkt, size_t len)
{
    size_t start = h->csum_start, field = start + h->csum_offset;
    if (start >= len || field + 2 > len || h->csum_offset > 0xfffd)
        return -1;
    /* The field holds the pseudo-header sum: summing over it completes it. */
    uint16_t sum = (uint16_t)~esp_gro_csum_fold(esp_gro_csum_add(0, pkt + start, len - start));
    if (sum == 0)
        sum = 0xffff;
    memcpy(pkt + field, &sum, sizeof(sum));
    return 0;
}
