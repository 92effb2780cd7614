/*
 * Format checks for field values (struct api_field.check) and address
 * arithmetic for pools: each check returns NULL when the value is fine, or a
 * short reason that completes "'<value>' ...".
 */
#ifndef ISTHMUS_API_CHECK_H
#define ISTHMUS_API_CHECK_H

#include <stdbool.h>
#include <stdint.h>

const char *api_check_slug(const char *s);     /* tenant ids: a-z 0-9 -, not leading - */
const char *api_check_name(const char *s);     /* names in URLs: A-Z a-z 0-9 . _ - */
const char *api_check_username(const char *s); /* plus @ + */
const char *api_check_ifname(const char *s);   /* Linux interface names */
const char *api_check_netns(const char *s);
const char *api_check_ip(const char *s);           /* IPv4 or IPv6 address */
const char *api_check_cidr(const char *s);         /* network/prefix, host bits zero */
const char *api_check_host(const char *s);         /* IP address or DNS name */
const char *api_check_domain(const char *s);       /* DNS name */
const char *api_check_identity(const char *s);     /* IKE identity: FQDN, IP, or user@FQDN */
const char *api_check_email(const char *s);        /* "" or local@domain */
const char *api_check_ike_proposal(const char *s); /* "aes256gcm16-prfsha384-ecp384" */
const char *api_check_esp_proposal(const char *s); /* "aes256gcm16-ecp384" */

/* True if a proposal names an algorithm that is only allowed when a policy
 * enables weak crypto (3DES, MODP-1024, SHA-1, MD5, ...). */
bool api_proposal_is_weak(const char *s);

struct api_cidr {
    int family; /* 4 or 6 */
    uint8_t addr[16];
    unsigned plen;
};

/* Parses "a.b.c.d/n" or "v6/n" (or a bare address as /32, /128). */
bool api_cidr_parse(const char *s, struct api_cidr *out);
bool api_cidr_overlap(const struct api_cidr *a, const struct api_cidr *b);
/* True if ip (an address) lies inside c. */
bool api_cidr_contains(const struct api_cidr *c, const struct api_cidr *ip);

#endif
