/*
 * Virtual address pools: hand out addresses of a tenant policy's CIDRs to
 * clients, first free first, with static reservations (users' static_ip) kept
 * out of the dynamic range. Owned by the IKE thread: no locks.
 *
 * The network and broadcast addresses of an IPv4 pool and the first address
 * (the gateway's, by convention) of any pool are never handed out.
 */
#ifndef ISTHMUS_POOL_H
#define ISTHMUS_POOL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool_addr {
    int family; /* AF_INET or AF_INET6 */
    union {
        struct in_addr v4;
        struct in6_addr v6;
    } u;
};

struct pool;

/* Parses "10.1.0.0/24" or "fd00:1::/64". For IPv6 only the first 2^20
 * addresses are used (bounded memory). Returns NULL on a bad CIDR or a
 * prefix too small to hold a client. */
struct pool *pool_new(const char *cidr);
void pool_free(struct pool *p);

int pool_family(const struct pool *p);
const char *pool_cidr(const struct pool *p);
size_t pool_size(const struct pool *p); /* addresses that can be handed out */
size_t pool_in_use(const struct pool *p);

/* True if a lies inside the pool's CIDR. */
bool pool_contains(const struct pool *p, const struct pool_addr *a);

/* Reserves a specific address (a static one, or one RADIUS assigned).
 * Returns 0, or -1 if outside the pool, reserved for the gateway, or taken. */
int pool_take(struct pool *p, const struct pool_addr *a);

/* Hands out the lowest free address. Returns 0, or -1 when the pool is full. */
int pool_alloc(struct pool *p, struct pool_addr *out);

/* Gives an address back; addresses not in the pool or not in use are ignored. */
void pool_release(struct pool *p, const struct pool_addr *a);

/* The gateway's own address in the pool (its first usable address). */
void pool_gateway(const struct pool *p, struct pool_addr *out);

/* Parses a textual address into a pool_addr; false if it is not one. */
bool pool_addr_parse(const char *s, struct pool_addr *out);
/* Formats into buf (INET6_ADDRSTRLEN bytes suffice). */
const char *pool_addr_str(const struct pool_addr *a, char *buf, size_t len);

/* True if two CIDR strings overlap (for the API's overlap check). -1 on a
 * bad CIDR. */
int pool_cidr_overlap(const char *a, const char *b);

#endif
