/* Inner IP header sanity and traffic selector checks: see esp_xform.h. */
#include <string.h>

#include "concentrator/wire.h"
#include "esp/esp_xform.h"

bool esp_prefix_contains(const struct esp_prefix *p, const struct esp_addr *a)
{
    if (p->addr.family != a->family)
        return false;
    unsigned bits = a->family == 4 ? 32 : 128;
    unsigned plen = p->plen > bits ? bits : p->plen;
    unsigned whole = plen / 8, rem = plen % 8;
    if (memcmp(p->addr.bytes, a->bytes, whole) != 0)
        return false;
    if (rem == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rem));
    return (p->addr.bytes[whole] & mask) == (a->bytes[whole] & mask);
}

bool esp_ts_match(const struct esp_prefix *ts, unsigned n, const struct esp_addr *a)
{
    for (unsigned i = 0; i < n; i++)
        if (esp_prefix_contains(&ts[i], a))
            return true;
    return false;
}

static enum esp_reason parse_v4(struct esp_buf *pkt, struct esp_addr *src, struct esp_addr *dst)
{
    struct rd r = rd_init(esp_buf_data(pkt), pkt->len);
    uint8_t vihl = rd_u8(&r);
    rd_skip(&r, 1);
    size_t total = rd_u16(&r);
    rd_skip(&r, 8);
    const uint8_t *s = rd_bytes(&r, 4);
    const uint8_t *d = rd_bytes(&r, 4);
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    if (!rd_ok(&r) || vihl >> 4 != 4 || ihl < 20 || total < ihl || total > pkt->len)
        return ESP_DROP_INNER_HEADER;
    memset(src, 0, sizeof(*src));
    memset(dst, 0, sizeof(*dst));
    src->family = dst->family = 4;
    memcpy(src->bytes, s, 4);
    memcpy(dst->bytes, d, 4);
    pkt->len = total;
    return ESP_OK;
}

static enum esp_reason parse_v6(struct esp_buf *pkt, struct esp_addr *src, struct esp_addr *dst)
{
    struct rd r = rd_init(esp_buf_data(pkt), pkt->len);
    uint8_t v = rd_u8(&r);
    rd_skip(&r, 3);
    size_t plen = rd_u16(&r);
    rd_skip(&r, 2);
    const uint8_t *s = rd_bytes(&r, 16);
    const uint8_t *d = rd_bytes(&r, 16);
    if (!rd_ok(&r) || v >> 4 != 6 || 40 + plen > pkt->len)
        return ESP_DROP_INNER_HEADER;
    src->family = dst->family = 6;
    memcpy(src->bytes, s, 16);
    memcpy(dst->bytes, d, 16);
    pkt->len = 40 + plen;
    return ESP_OK;
}

enum esp_reason esp_inner_parse(struct esp_buf *pkt, uint8_t next_header, struct esp_addr *src,
                                struct esp_addr *dst)
{
    if (next_header == 0) {
        struct rd r = rd_init(esp_buf_data(pkt), pkt->len);
        uint8_t v = rd_u8(&r) >> 4;
        if (!rd_ok(&r))
            return ESP_DROP_INNER_HEADER;
        next_header = v == 4 ? ESP_NH_IPV4 : v == 6 ? ESP_NH_IPV6 : 0;
        if (!next_header)
            return ESP_DROP_INNER_HEADER;
    }
    switch (next_header) {
    case ESP_NH_IPV4:
        return parse_v4(pkt, src, dst);
    case ESP_NH_IPV6:
        return parse_v6(pkt, src, dst);
    case ESP_NH_DUMMY:
        return ESP_DROP_DUMMY;
    default:
        return ESP_DROP_NEXT_HEADER;
    }
}
