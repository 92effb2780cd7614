/* Virtual addresses, the configuration payload and traffic selectors. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "concentrator/ike_engine.h"
#include "esp/esp.h"

struct pool **ike_tenant_pools(struct ike_engine *e, const struct snap_tenant *t, size_t *n)
{
    struct tenant_pools *tp;
    for (tp = e->pools; tp; tp = tp->next)
        if (strcmp(tp->tenant, t->id) == 0)
            break;
    if (!tp) {
        tp = calloc(1, sizeof(*tp));
        if (!tp) {
            *n = 0;
            return NULL;
        }
        snprintf(tp->tenant, sizeof(tp->tenant), "%s", t->id);
        tp->next = e->pools;
        e->pools = tp;
    }
    /* Add the pools the configuration has gained; keep the ones it lost
     * until restart, so addresses in use are still released into them. */
    for (size_t i = 0; i < t->n_policies; i++) {
        const struct snap_policy *p = &t->policies[i];
        for (size_t j = 0; j < p->n_pools; j++) {
            bool have = false;
            for (size_t k = 0; k < tp->n && !have; k++)
                have = strcmp(pool_cidr(tp->pools[k]), p->pools[j]) == 0;
            if (have)
                continue;
            struct pool *np = pool_new(p->pools[j]);
            struct pool **nv = np ? realloc(tp->pools, (tp->n + 1) * sizeof(*nv)) : NULL;
            if (!nv) {
                pool_free(np);
                continue;
            }
            tp->pools = nv;
            tp->pools[tp->n++] = np;
        }
    }
    *n = tp->n;
    return tp->pools;
}

static struct pool *pool_by_cidr(struct pool **pools, size_t n, const char *cidr)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(pool_cidr(pools[i]), cidr) == 0)
            return pools[i];
    return NULL;
}

/* Reserves a given address in whichever tenant pool holds it. */
static bool take_in(struct pool **pools, size_t n, const struct pool_addr *a)
{
    for (size_t i = 0; i < n; i++)
        if (pool_contains(pools[i], a))
            return pool_take(pools[i], a) == 0;
    return false;
}

static int alloc_family(struct ikesa *sa, struct pool **pools, size_t n, int family,
                        struct pool_addr *out)
{
    const struct snap_policy *p = sa->policy;
    for (size_t j = 0; p && j < p->n_pools; j++) {
        struct pool *pl = pool_by_cidr(pools, n, p->pools[j]);
        if (pl && pool_family(pl) == family && pool_alloc(pl, out) == 0)
            return 0;
    }
    return -1;
}

int ike_cfg_assign(struct ikesa *sa, bool want4, bool want6, char *why, size_t whylen)
{
    size_t n;
    struct pool **pools = ike_tenant_pools(sa->eng, sa->tenant, &n);
    char buf[INET6_ADDRSTRLEN];
    if (want4) {
        if (sa->user && sa->user->has_static_ip && sa->user->static_ip.family == AF_INET) {
            if (!take_in(pools, n, &sa->user->static_ip)) {
                snprintf(why, whylen, "the user's static address %s is in use or in no pool",
                         pool_addr_str(&sa->user->static_ip, buf, sizeof(buf)));
                return -1;
            }
            sa->vip4 = sa->user->static_ip;
            sa->has_vip4 = true;
        } else if (sa->has_framed_ip) {
            if (!take_in(pools, n, &sa->framed_ip)) {
                snprintf(why, whylen,
                         "RADIUS assigned %s (Framed-IP-Address), which is in use or in no pool",
                         pool_addr_str(&sa->framed_ip, buf, sizeof(buf)));
                return -1;
            }
            sa->vip4 = sa->framed_ip;
            sa->has_vip4 = true;
        } else if (alloc_family(sa, pools, n, AF_INET, &sa->vip4) == 0) {
            sa->has_vip4 = true;
        }
    }
    if (want6) {
        if (sa->user && sa->user->has_static_ip && sa->user->static_ip.family == AF_INET6 &&
            take_in(pools, n, &sa->user->static_ip)) {
            sa->vip6 = sa->user->static_ip;
            sa->has_vip6 = true;
        } else if (alloc_family(sa, pools, n, AF_INET6, &sa->vip6) == 0) {
            sa->has_vip6 = true;
        }
    }
    if (!sa->has_vip4 && !sa->has_vip6) {
        snprintf(why, whylen, "no free address in the policy's pools (policy %s)",
                 sa->policy ? sa->policy->name : "-");
        return -1;
    }
    return 0;
}

void ike_cfg_release(struct ikesa *sa)
{
    if (!sa->tenant || (!sa->has_vip4 && !sa->has_vip6))
        return;
    size_t n;
    struct pool **pools = ike_tenant_pools(sa->eng, sa->tenant, &n);
    for (size_t i = 0; i < n; i++) {
        if (sa->has_vip4)
            pool_release(pools[i], &sa->vip4);
        if (sa->has_vip6)
            pool_release(pools[i], &sa->vip6);
    }
    sa->has_vip4 = sa->has_vip6 = false;
}

static const uint8_t *raw(const struct pool_addr *a)
{
    return a->family == AF_INET ? (const uint8_t *)&a->u.v4 : (const uint8_t *)&a->u.v6;
}

enum ike_err ike_cfg_put_reply(struct ikesa *sa, struct ike_builder *b)
{
    struct ike_cp_attr attrs[IKE_MAX_CP_ATTRS];
    uint8_t store[IKE_MAX_CP_ATTRS][17];
    size_t n = 0;
    const struct snap_policy *p = sa->policy;
    if (sa->has_vip4) {
        memcpy(store[n], raw(&sa->vip4), 4);
        attrs[n] = (struct ike_cp_attr){IKE_CFG_INTERNAL_IP4_ADDRESS, {store[n], 4}};
        n++;
    }
    if (sa->has_vip6) {
        memcpy(store[n], raw(&sa->vip6), 16);
        store[n][16] = 128;
        attrs[n] = (struct ike_cp_attr){IKE_CFG_INTERNAL_IP6_ADDRESS, {store[n], 17}};
        n++;
    }
    for (size_t i = 0; p && i < p->n_dns && n < IKE_MAX_CP_ATTRS; i++) {
        bool v4 = p->dns[i].family == AF_INET;
        if ((v4 && !sa->has_vip4) || (!v4 && !sa->has_vip6))
            continue;
        memcpy(store[n], raw(&p->dns[i]), v4 ? 4 : 16);
        attrs[n] = (struct ike_cp_attr){v4 ? IKE_CFG_INTERNAL_IP4_DNS : IKE_CFG_INTERNAL_IP6_DNS,
                                        {store[n], v4 ? 4u : 16u}};
        n++;
    }
    for (size_t i = 0; p && i < p->n_routes && n < IKE_MAX_CP_ATTRS; i++) {
        const struct snap_prefix *r = &p->routes[i];
        if (r->addr.family == AF_INET) {
            if (!sa->has_vip4)
                continue;
            uint32_t mask = r->len ? htonl(0xffffffffu << (32 - r->len)) : 0;
            memcpy(store[n], raw(&r->addr), 4);
            memcpy(store[n] + 4, &mask, 4);
            attrs[n] = (struct ike_cp_attr){IKE_CFG_INTERNAL_IP4_SUBNET, {store[n], 8}};
        } else {
            if (!sa->has_vip6)
                continue;
            memcpy(store[n], raw(&r->addr), 16);
            store[n][16] = (uint8_t)r->len;
            attrs[n] = (struct ike_cp_attr){IKE_CFG_INTERNAL_IP6_SUBNET, {store[n], 17}};
        }
        n++;
    }
    return ike_put_cp(b, IKE_CFG_REPLY, attrs, n);
}

/* ---- traffic selectors ---- */

struct range {
    int family;
    uint8_t lo[16], hi[16];
};

static size_t alen(int family)
{
    return family == AF_INET ? 4 : 16;
}

static void prefix_range(const struct pool_addr *a, unsigned len, struct range *r)
{
    r->family = a->family;
    size_t n = alen(a->family);
    memcpy(r->lo, raw(a), n);
    memcpy(r->hi, raw(a), n);
    for (size_t bit = len; bit < n * 8; bit++) {
        r->lo[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
        r->hi[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
    }
}

static bool ts_range(const struct ike_ts *ts, struct range *r)
{
    if (ts->type == IKE_TS_IPV4_ADDR_RANGE && ts->start.len == 4 && ts->end.len == 4)
        r->family = AF_INET;
    else if (ts->type == IKE_TS_IPV6_ADDR_RANGE && ts->start.len == 16 && ts->end.len == 16)
        r->family = AF_INET6;
    else
        return false;
    memcpy(r->lo, ts->start.p, ts->start.len);
    memcpy(r->hi, ts->end.p, ts->end.len);
    return true;
}

/* The intersection of a prefix with a client's range, as a prefix: the
 * prefix itself when inside the range, the range when it is a prefix inside
 * ours; false otherwise. */
static bool narrow(const struct range *ours, unsigned ours_len, const struct range *theirs,
                   struct range *out, unsigned *out_len)
{
    if (ours->family != theirs->family)
        return false;
    size_t n = alen(ours->family);
    if (memcmp(ours->lo, theirs->lo, n) >= 0 && memcmp(ours->hi, theirs->hi, n) <= 0) {
        *out = *ours;
        *out_len = ours_len;
        return true;
    }
    if (memcmp(theirs->lo, ours->lo, n) >= 0 && memcmp(theirs->hi, ours->hi, n) <= 0) {
        /* Their range inside ours: take it if it is a prefix. */
        for (unsigned len = 0; len <= n * 8; len++) {
            struct pool_addr a = {.family = theirs->family};
            memcpy(a.family == AF_INET ? (uint8_t *)&a.u.v4 : (uint8_t *)&a.u.v6, theirs->lo, n);
            struct range p;
            prefix_range(&a, len, &p);
            if (memcmp(p.lo, theirs->lo, n) == 0 && memcmp(p.hi, theirs->hi, n) == 0) {
                *out = p;
                *out_len = len;
                return true;
            }
        }
    }
    return false;
}

static bool add_ts(struct ike_narrowed *o, bool initiator_side, const struct range *r)
{
    if (o->n_addr + 2 > sizeof(o->addr) / sizeof(o->addr[0]))
        return false;
    struct ike_ts *list = initiator_side ? o->tsi : o->tsr;
    size_t *cnt = initiator_side ? &o->n_tsi : &o->n_tsr;
    if (*cnt >= IKE_CFG_MAX_TS)
        return false;
    size_t n = alen(r->family);
    (initiator_side ? o->tsi_slot : o->tsr_slot)[*cnt] = (uint8_t)o->n_addr;
    uint8_t *lo = o->addr[o->n_addr++], *hi = o->addr[o->n_addr++];
    memcpy(lo, r->lo, n);
    memcpy(hi, r->hi, n);
    list[(*cnt)++] = (struct ike_ts){
        .type = r->family == AF_INET ? IKE_TS_IPV4_ADDR_RANGE : IKE_TS_IPV6_ADDR_RANGE,
        .proto = 0,
        .start_port = 0,
        .end_port = 65535,
        .start = {lo, n},
        .end = {hi, n},
    };
    return true;
}

static void to_esp_prefix(const struct range *r, unsigned len, struct esp_prefix *p)
{
    memset(p, 0, sizeof(*p));
    p->addr.family = r->family == AF_INET ? 4 : 6;
    memcpy(p->addr.bytes, r->lo, alen(r->family));
    p->plen = (uint8_t)len;
}

int ike_cfg_narrow_ts(struct ikesa *sa, const struct ike_ts_list *tsi,
                      const struct ike_ts_list *tsr, struct ike_narrowed *out,
                      struct esp_sa_params *p)
{
    memset(out, 0, sizeof(*out));
    p->n_remote_ts = p->n_local_ts = 0;
    /* TSi: the client's side, narrowed to its virtual addresses. */
    const struct pool_addr *vips[2] = {sa->has_vip4 ? &sa->vip4 : NULL,
                                       sa->has_vip6 ? &sa->vip6 : NULL};
    for (int v = 0; v < 2; v++) {
        if (!vips[v])
            continue;
        struct range host;
        unsigned hl = vips[v]->family == AF_INET ? 32 : 128;
        prefix_range(vips[v], hl, &host);
        for (size_t i = 0; i < tsi->n_ts; i++) {
            struct range r, got;
            unsigned gl;
            if (ts_range(&tsi->ts[i], &r) && narrow(&host, hl, &r, &got, &gl)) {
                if (add_ts(out, true, &got) && p->n_remote_ts < ESP_MAX_TS)
                    to_esp_prefix(&got, gl, &p->remote_ts[p->n_remote_ts++]);
                break;
            }
        }
    }
    /* TSr: the tenant's routes, or everything of the client's families. */
    const struct snap_policy *pol = sa->policy;
    struct range routes[IKE_CFG_MAX_TS];
    unsigned route_len[IKE_CFG_MAX_TS];
    size_t nr = 0;
    if (pol && pol->n_routes) {
        for (size_t i = 0; i < pol->n_routes && nr < IKE_CFG_MAX_TS; i++) {
            prefix_range(&pol->routes[i].addr, pol->routes[i].len, &routes[nr]);
            route_len[nr++] = pol->routes[i].len;
        }
    } else {
        struct pool_addr any4 = {.family = AF_INET}, any6 = {.family = AF_INET6};
        if (sa->has_vip4) {
            prefix_range(&any4, 0, &routes[nr]);
            route_len[nr++] = 0;
        }
        if (sa->has_vip6) {
            prefix_range(&any6, 0, &routes[nr]);
            route_len[nr++] = 0;
        }
    }
    for (size_t j = 0; j < nr; j++) {
        for (size_t i = 0; i < tsr->n_ts; i++) {
            struct range r, got;
            unsigned gl;
            if (ts_range(&tsr->ts[i], &r) && narrow(&routes[j], route_len[j], &r, &got, &gl)) {
                if (add_ts(out, false, &got) && p->n_local_ts < ESP_MAX_TS)
                    to_esp_prefix(&got, gl, &p->local_ts[p->n_local_ts++]);
            }
        }
    }
    return out->n_tsi && out->n_tsr ? 0 : -1;
}
