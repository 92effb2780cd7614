/* Value checks: see check.h. */
#include "api/check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool all_of(const char *s, const char *extra, bool upper)
{
    for (const char *c = s; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'))
            continue;
        if (upper && *c >= 'A' && *c <= 'Z')
            continue;
        if (!strchr(extra, *c))
            return false;
    }
    return true;
}

const char *api_check_slug(const char *s)
{
    if (!*s || !all_of(s, "-", false) || s[0] == '-')
        return "must be lower-case letters, digits and '-', not starting with '-'";
    return NULL;
}

const char *api_check_name(const char *s)
{
    if (!*s || !all_of(s, "._-", true) || s[0] == '.')
        return "must be letters, digits, '.', '_' and '-', not starting with '.'";
    return NULL;
}

const char *api_check_username(const char *s)
{
    if (!*s || !all_of(s, "._-@+", true) || s[0] == '.')
        return "must be letters, digits and . _ - @ +, not starting with '.'";
    return NULL;
}

const char *api_check_ifname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 15 || !all_of(s, "._-", true) || !strcmp(s, ".") || !strcmp(s, ".."))
        return "is not a valid interface name (1-15 of letters, digits, '.', '_', '-')";
    return NULL;
}

const char *api_check_netns(const char *s)
{
    if (!*s || !all_of(s, "._-", true) || s[0] == '.')
        return "is not a valid network namespace name";
    return NULL;
}

const char *api_check_ip(const char *s)
{
    uint8_t buf[16];
    if (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1)
        return NULL;
    return "is not an IPv4 or IPv6 address";
}

bool api_cidr_parse(const char *s, struct api_cidr *out)
{
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n + 1);
    char *slash = strchr(buf, '/');
    long plen = -1;
    if (slash) {
        *slash = '\0';
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3)
            return false;
        for (const char *c = p; *c; c++)
            if (*c < '0' || *c > '9')
                return false;
        if (p[0] == '0' && p[1])
            return false;
        plen = strtol(p, NULL, 10);
    }
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = 4;
        if (plen < 0)
            plen = 32;
        if (plen > 32)
            return false;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = 6;
        if (plen < 0)
            plen = 128;
        if (plen > 128)
            return false;
    } else {
        return false;
    }
    out->plen = (unsigned)plen;
    return true;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest) {
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        return (a[whole] & mask) == (b[whole] & mask);
    }
    return true;
}

const char *api_check_cidr(const char *s)
{
    struct api_cidr c;
    if (!strchr(s, '/') || !api_cidr_parse(s, &c))
        return "is not a network in CIDR notation (10.1.0.0/24, fd00::/64)";
    unsigned total = c.family == 4 ? 32 : 128;
    uint8_t zero[16] = {0};
    /* Host bits must be zero: compare with the network part kept only. */
    struct api_cidr net = c;
    for (unsigned bit = c.plen; bit < total; bit++)
        net.addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    (void)zero;
    if (memcmp(net.addr, c.addr, 16) != 0)
        return "has host bits set (use the network address)";
    return NULL;
}

bool api_cidr_overlap(const struct api_cidr *a, const struct api_cidr *b)
{
    if (a->family != b->family)
        return false;
    unsigned bits = a->plen < b->plen ? a->plen : b->plen;
    return prefix_equal(a->addr, b->addr, bits);
}

bool api_cidr_contains(const struct api_cidr *c, const struct api_cidr *ip)
{
    return c->family == ip->family && ip->plen >= c->plen &&
           prefix_equal(c->addr, ip->addr, c->plen);
}

const char *api_check_domain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return "is not a DNS name";
    const char *label = s;
    for (const char *c = s;; c++) {
        if (*c == '.' || *c == '\0') {
            size_t l = (size_t)(c - label);
            if (l == 0 || l > 63 || label[0] == '-' || c[-1] == '-')
                return "is not a DNS name";
            if (*c == '\0')
                break;
            label = c + 1;
            continue;
        }
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
            return "is not a DNS name";
    }
    return NULL;
}

const char *api_check_host(const char *s)
{
    if (!api_check_ip(s) || !api_check_domain(s))
        return NULL;
    return "is not an IP address or DNS name";
}

const char *api_check_identity(const char *s)
{
    if (!api_check_host(s))
        return NULL;
    const char *at = strchr(s, '@');
    if (at && at != s && !strchr(at + 1, '@') && !api_check_domain(at + 1) &&
        all_of(s, "._-@+", true))
        return NULL;
    return "is not an IKE identity (an FQDN, an IP address or user@FQDN)";
}

const char *api_check_email(const char *s)
{
    if (!*s)
        return NULL;
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || api_check_domain(at + 1) || strchr(s, ' '))
        return "is not an e-mail address";
    return NULL;
}

/* Algorithm names in proposals (strongSwan's notation). */
enum alg_kind { ALG_ENCR, ALG_AEAD, ALG_INTEG, ALG_PRF, ALG_DH, ALG_ESN };
struct alg {
    const char *name;
    enum alg_kind kind;
    bool weak;
};
static const struct alg algs[] = {
    {"aes128", ALG_ENCR, false},      {"aes192", ALG_ENCR, false},
    {"aes256", ALG_ENCR, false},      {"aes128ctr", ALG_ENCR, false},
    {"aes256ctr", ALG_ENCR, false},   {"3des", ALG_ENCR, true},
    {"aes128gcm16", ALG_AEAD, false}, {"aes192gcm16", ALG_AEAD, false},
    {"aes256gcm16", ALG_AEAD, false}, {"aes128gcm12", ALG_AEAD, false},
    {"aes256gcm12", ALG_AEAD, false}, {"chacha20poly1305", ALG_AEAD, false},
    {"sha256", ALG_INTEG, false},     {"sha384", ALG_INTEG, false},
    {"sha512", ALG_INTEG, false},     {"sha1", ALG_INTEG, true},
    {"md5", ALG_INTEG, true},         {"prfsha256", ALG_PRF, false},
    {"prfsha384", ALG_PRF, false},    {"prfsha512", ALG_PRF, false},
    {"prfsha1", ALG_PRF, true},       {"prfmd5", ALG_PRF, true},
    {"modp2048", ALG_DH, false},      {"modp3072", ALG_DH, false},
    {"modp4096", ALG_DH, false},      {"modp6144", ALG_DH, false},
    {"modp8192", ALG_DH, false},      {"ecp256", ALG_DH, false},
    {"ecp384", ALG_DH, false},        {"ecp521", ALG_DH, false},
    {"curve25519", ALG_DH, false},    {"x25519", ALG_DH, false},
    {"curve448", ALG_DH, false},      {"modp1024", ALG_DH, true},
    {"modp1536", ALG_DH, true},       {"modp768", ALG_DH, true},
    {"esn", ALG_ESN, false},          {"noesn", ALG_ESN, false},
};

static const struct alg *alg_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
        if (strlen(algs[i].name) == len && !memcmp(algs[i].name, name, len))
            return &algs[i];
    return NULL;
}

/* Walks the '-'-separated names; counts each kind; false on an unknown name. */
static bool scan(const char *s, unsigned counts[6], bool *weak)
{
    memset(counts, 0, 6 * sizeof(unsigned));
    *weak = false;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, '-');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const struct alg *a = alg_find(p, len);
        if (!a)
            return false;
        counts[a->kind]++;
        *weak = *weak || a->weak;
        p += len;
        if (*p == '-') {
            p++;
            if (!*p)
                return false;
        }
    }
    return true;
}

const char *api_check_ike_proposal(const char *s)
{
    unsigned c[6];
    bool weak;
    if (!*s || !scan(s, c, &weak) || c[ALG_ESN])
        return "is not an IKE proposal (names such as aes256gcm16-prfsha384-ecp384)";
    if (c[ALG_ENCR] + c[ALG_AEAD] == 0 || c[ALG_DH] == 0)
        return "needs an encryption algorithm and a Diffie-Hellman group";
    if (c[ALG_ENCR] && !c[ALG_INTEG])
        return "needs an integrity algorithm with a non-AEAD cipher";
    if (c[ALG_AEAD] && !c[ALG_PRF])
        return "needs a PRF with an AEAD cipher";
    return NULL;
}

const char *api_check_esp_proposal(const char *s)
{
    unsigned c[6];
    bool weak;
    if (!*s || !scan(s, c, &weak) || c[ALG_PRF])
        return "is not an ESP proposal (names such as aes256gcm16-ecp384)";
    if (c[ALG_ENCR] + c[ALG_AEAD] == 0)
        return "needs an encryption algorithm";
    if (c[ALG_ENCR] && !c[ALG_INTEG])
        return "needs an integrity algorithm with a non-AEAD cipher";
    return NULL;
}

bool api_proposal_is_weak(const char *s)
{
    unsigned c[6];
    bool weak = false;
    scan(s, c, &weak);
    return weak;
}
