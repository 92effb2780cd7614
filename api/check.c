/* Value checks: see check.h. */
#include "api/check.h"

#include "concentrator/ike_proposal.h"

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

/* Proposals are checked by the very parser the IKE engine uses
 * (concentrator/ike_proposal.h), so the API accepts exactly what the gateway
 * can negotiate. Weak algorithms pass here; the policy handler refuses them
 * unless allow_weak_crypto is set. */
static _Thread_local char proposal_why[256];

static const char *proposal_problem(const char *s, bool esp)
{
    struct ike_prop p;
    char err[200];
    if (ike_proposal_parse(s, esp, true, &p, err, sizeof(err)) == 0)
        return NULL;
    snprintf(proposal_why, sizeof(proposal_why), "is not a usable %s proposal: %s",
             esp ? "ESP" : "IKE", err);
    return proposal_why;
}

const char *api_check_ike_proposal(const char *s)
{
    return proposal_problem(s, false);
}

const char *api_check_esp_proposal(const char *s)
{
    return proposal_problem(s, true);
}

bool api_proposal_is_weak(const char *s)
{
    return ike_proposal_is_weak(s);
}
