/* Virtual address pools: see pool.h. */
#include "concentrator/pool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V6_MAX_BITS 20 /* at most 2^20 addresses of an IPv6 pool are used */

struct pool {
    char cidr[INET6_ADDRSTRLEN + 5];
    int family;
    uint8_t base[16]; /* network address, network byte order */
    unsigned prefix;
    uint64_t first, count; /* usable offsets [first, first + count) from base */
    uint64_t in_use;
    uint64_t hint;  /* lowest offset that may be free */
    uint64_t *bits; /* one bit per usable address */
};

static int parse_cidr(const char *s, int *family, uint8_t base[16], unsigned *prefix)
{
    char buf[INET6_ADDRSTRLEN + 5];
    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    char *slash = strchr(buf, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    char *end;
    errno = 0;
    unsigned long pfx = strtoul(slash + 1, &end, 10);
    if (errno || *end || slash[1] == '\0')
        return -1;
    memset(base, 0, 16);
    if (inet_pton(AF_INET, buf, base) == 1) {
        *family = AF_INET;
        if (pfx > 32)
            return -1;
    } else if (inet_pton(AF_INET6, buf, base) == 1) {
        *family = AF_INET6;
        if (pfx > 128)
            return -1;
    } else {
        return -1;
    }
    *prefix = (unsigned)pfx;
    /* Host bits must be zero: "10.1.0.5/24" is a typo, not a pool. */
    unsigned bytes = *family == AF_INET ? 4 : 16;
    for (unsigned i = 0; i < bytes * 8; i++) {
        if (i < pfx)
            continue;
        if (base[i / 8] & (0x80 >> (i % 8)))
            return -1;
    }
    return 0;
}

/* Adds off to the address base (big-endian). */
static void addr_add(const uint8_t base[16], unsigned bytes, uint64_t off, uint8_t out[16])
{
    memcpy(out, base, 16);
    for (int i = (int)bytes - 1; i >= 0 && off; i--) {
        uint64_t v = out[i] + (off & 0xff);
        out[i] = (uint8_t)v;
        off = (off >> 8) + (v >> 8);
    }
}

/* Offset of a from base if a is within 2^63 of it, else UINT64_MAX. */
static uint64_t addr_offset(const uint8_t base[16], unsigned bytes, const uint8_t a[16])
{
    /* a - base over the last 8 bytes; the leading bytes must be equal. */
    unsigned lead = bytes > 8 ? bytes - 8 : 0;
    if (memcmp(a, base, lead) != 0)
        return UINT64_MAX;
    uint64_t x = 0, y = 0;
    for (unsigned i = lead; i < bytes; i++) {
        x = x << 8 | a[i];
        y = y << 8 | base[i];
    }
    return x >= y ? x - y : UINT64_MAX;
}

struct pool *pool_new(const char *cidr)
{
    int family;
    uint8_t base[16];
    unsigned prefix;
    if (parse_cidr(cidr, &family, base, &prefix) < 0)
        return NULL;
    unsigned bits = (family == AF_INET ? 32 : 128) - prefix;
    uint64_t first, count;
    if (family == AF_INET) {
        if (bits < 2) /* /31 and /32 leave nothing after network, gateway, broadcast */
            return NULL;
        uint64_t total = (uint64_t)1 << bits;
        first = 2;         /* skip the network address and the gateway */
        count = total - 3; /* and the broadcast address */
    } else {
        if (bits < 2)
            return NULL;
        uint64_t total = bits >= V6_MAX_BITS ? (uint64_t)1 << V6_MAX_BITS : (uint64_t)1 << bits;
        first = 2; /* skip the subnet-router anycast address and the gateway */
        count = total - 2;
    }
    if (count == 0)
        return NULL;
    struct pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->bits = calloc((count + 63) / 64, sizeof(uint64_t));
    if (!p->bits) {
        free(p);
        return NULL;
    }
    snprintf(p->cidr, sizeof(p->cidr), "%s", cidr);
    p->family = family;
    memcpy(p->base, base, 16);
    p->prefix = prefix;
    p->first = first;
    p->count = count;
    return p;
}

void pool_free(struct pool *p)
{
    if (!p)
        return;
    free(p->bits);
    free(p);
}

int pool_family(const struct pool *p)
{
    return p->family;
}

const char *pool_cidr(const struct pool *p)
{
    return p->cidr;
}

size_t pool_size(const struct pool *p)
{
    return (size_t)p->count;
}

size_t pool_in_use(const struct pool *p)
{
    return (size_t)p->in_use;
}

static unsigned addr_bytes(const struct pool *p)
{
    return p->family == AF_INET ? 4 : 16;
}

static const uint8_t *addr_raw(const struct pool_addr *a)
{
    return a->family == AF_INET ? (const uint8_t *)&a->u.v4 : (const uint8_t *)&a->u.v6;
}

bool pool_contains(const struct pool *p, const struct pool_addr *a)
{
    if (a->family != p->family)
        return false;
    const uint8_t *raw = addr_raw(a);
    for (unsigned i = 0; i < p->prefix; i++) {
        uint8_t m = (uint8_t)(0x80 >> (i % 8));
        if ((raw[i / 8] & m) != (p->base[i / 8] & m))
            return false;
    }
    return true;
}

/* The bit index of a in the pool, or -1 if it cannot be handed out. */
static int64_t index_of(const struct pool *p, const struct pool_addr *a)
{
    if (!pool_contains(p, a))
        return -1;
    uint8_t raw[16] = {0};
    memcpy(raw, addr_raw(a), addr_bytes(p));
    uint64_t off = addr_offset(p->base, addr_bytes(p), raw);
    if (off == UINT64_MAX || off < p->first || off - p->first >= p->count)
        return -1;
    return (int64_t)(off - p->first);
}

static bool bit_get(const struct pool *p, uint64_t i)
{
    return p->bits[i / 64] >> (i % 64) & 1;
}

static void bit_set(struct pool *p, uint64_t i, bool v)
{
    if (v)
        p->bits[i / 64] |= (uint64_t)1 << (i % 64);
    else
        p->bits[i / 64] &= ~((uint64_t)1 << (i % 64));
}

static void make_addr(const struct pool *p, uint64_t off, struct pool_addr *out)
{
    uint8_t raw[16];
    addr_add(p->base, addr_bytes(p), off, raw);
    memset(out, 0, sizeof(*out));
    out->family = p->family;
    if (p->family == AF_INET)
        memcpy(&out->u.v4, raw, 4);
    else
        memcpy(&out->u.v6, raw, 16);
}

int pool_take(struct pool *p, const struct pool_addr *a)
{
    int64_t i = index_of(p, a);
    if (i < 0 || bit_get(p, (uint64_t)i))
        return -1;
    bit_set(p, (uint64_t)i, true);
    p->in_use++;
    return 0;
}

int pool_alloc(struct pool *p, struct pool_addr *out)
{
    uint64_t words = (p->count + 63) / 64;
    for (uint64_t w = p->hint / 64; w < words; w++) {
        if (p->bits[w] == UINT64_MAX)
            continue;
        for (unsigned b = 0; b < 64; b++) {
            uint64_t i = w * 64 + b;
            if (i >= p->count)
                break;
            if (!bit_get(p, i)) {
                bit_set(p, i, true);
                p->in_use++;
                p->hint = i + 1;
                make_addr(p, p->first + i, out);
                return 0;
            }
        }
    }
    p->hint = p->count;
    return -1;
}

void pool_release(struct pool *p, const struct pool_addr *a)
{
    int64_t i = index_of(p, a);
    if (i < 0 || !bit_get(p, (uint64_t)i))
        return;
    bit_set(p, (uint64_t)i, false);
    p->in_use--;
    if ((uint64_t)i < p->hint)
        p->hint = (uint64_t)i;
}

void pool_gateway(const struct pool *p, struct pool_addr *out)
{
    make_addr(p, 1, out);
}

bool pool_addr_parse(const char *s, struct pool_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, s, &out->u.v4) == 1) {
        out->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, &out->u.v6) == 1) {
        out->family = AF_INET6;
        return true;
    }
    return false;
}

const char *pool_addr_str(const struct pool_addr *a, char *buf, size_t len)
{
    if (!inet_ntop(a->family, addr_raw(a), buf, (socklen_t)len))
        snprintf(buf, len, "?");
    return buf;
}

int pool_cidr_overlap(const char *a, const char *b)
{
    int fa, fb;
    uint8_t ba[16], bb[16];
    unsigned pa, pb;
    if (parse_cidr(a, &fa, ba, &pa) < 0 || parse_cidr(b, &fb, bb, &pb) < 0)
        return -1;
    if (fa != fb)
        return 0;
    unsigned p = pa < pb ? pa : pb;
    for (unsigned i = 0; i < p; i++) {
        uint8_t m = (uint8_t)(0x80 >> (i % 8));
        if ((ba[i / 8] & m) != (bb[i / 8] & m))
            return 0;
    }
    return 1;
}
