/* The tenant snapshot: see snapshot.h. */
#define _GNU_SOURCE
#include "concentrator/snapshot.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/seal.h"
#include "concentrator/log.h"

struct loader {
    sqlite3 *db;
    const struct seal_key *key;
    char *err;
    size_t errlen;
    bool failed;
};

static void fail(struct loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct loader *ld, const char *fmt, ...)
{
    if (ld->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err, ld->errlen, fmt, ap);
    va_end(ap);
    ld->failed = true;
}

static char *dup_col(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s ? strdup((const char *)s) : NULL;
}

static sqlite3_stmt *prepare(struct loader *ld, const char *sql, const char *tenant)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ld->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail(ld, "snapshot query failed: %s", sqlite3_errmsg(ld->db));
        return NULL;
    }
    if (tenant)
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    return st;
}

/* Parses a JSON array of strings from a column into a NULL-terminated
 * array. */
static char **json_strings(struct loader *ld, const char *json, size_t *n)
{
    *n = 0;
    struct json_object *arr = json ? json_tokener_parse(json) : NULL;
    if (!arr || !json_object_is_type(arr, json_type_array)) {
        json_object_put(arr);
        if (json && strcmp(json, "[]") != 0)
            fail(ld, "snapshot: malformed list '%.40s' in the database", json);
        return calloc(1, sizeof(char *));
    }
    size_t len = json_object_array_length(arr);
    char **out = calloc(len + 1, sizeof(char *));
    for (size_t i = 0; out && i < len; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
        out[(*n)++] = strdup(s ? s : "");
    }
    json_object_put(arr);
    return out;
}

static void free_strings(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static bool parse_prefix(const char *s, struct snap_prefix *out)
{
    char buf[sizeof(out->text)];
    snprintf(buf, sizeof(buf), "%s", s);
    snprintf(out->text, sizeof(out->text), "%s", s);
    char *slash = strchr(buf, '/');
    unsigned len = 0;
    if (slash) {
        *slash = '\0';
        char *end;
        len = (unsigned)strtoul(slash + 1, &end, 10);
        if (*end || slash[1] == '\0')
            return false;
    }
    if (!pool_addr_parse(buf, &out->addr))
        return false;
    unsigned max = out->addr.family == AF_INET ? 32 : 128;
    if (!slash)
        len = max;
    if (len > max)
        return false;
    out->len = len;
    return true;
}

static void load_policies(struct loader *ld, struct snap_tenant *t)
{
    sqlite3_stmt *st = prepare(ld,
                               "SELECT id, name, dns_servers, search_domains, split_routes, "
                               "ike_proposals, esp_proposals, allow_weak_crypto, "
                               "sessions_per_user, idle_timeout, ike_lifetime, child_lifetime, "
                               "acct_interim_interval, child_lifetime_bytes, "
                               "child_lifetime_packets, reauth_interval "
                               "FROM policies WHERE tenant_id = ? ORDER BY id",
                               t->id);
    if (!st)
        return;
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (t->n_policies == cap) {
            cap = cap ? cap * 2 : 4;
            struct snap_policy *nv = realloc(t->policies, cap * sizeof(*nv));
            if (!nv) {
                fail(ld, "out of memory");
                break;
            }
            t->policies = nv;
        }
        struct snap_policy *p = &t->policies[t->n_policies++];
        memset(p, 0, sizeof(*p));
        p->id = sqlite3_column_int64(st, 0);
        p->name = dup_col(st, 1);
        size_t n;
        char **dns = json_strings(ld, (const char *)sqlite3_column_text(st, 2), &n);
        p->dns = calloc(n ? n : 1, sizeof(*p->dns));
        for (size_t i = 0; dns && p->dns && i < n; i++) {
            if (pool_addr_parse(dns[i], &p->dns[p->n_dns]))
                p->n_dns++;
            else
                fail(ld, "snapshot: tenant %s policy %s: bad DNS server '%s'", t->id, p->name,
                     dns[i]);
        }
        free_strings(dns);
        p->search_domains =
            json_strings(ld, (const char *)sqlite3_column_text(st, 3), &p->n_search_domains);
        char **routes = json_strings(ld, (const char *)sqlite3_column_text(st, 4), &n);
        p->routes = calloc(n ? n : 1, sizeof(*p->routes));
        for (size_t i = 0; routes && p->routes && i < n; i++) {
            if (parse_prefix(routes[i], &p->routes[p->n_routes]))
                p->n_routes++;
            else
                fail(ld, "snapshot: tenant %s policy %s: bad route '%s'", t->id, p->name,
                     routes[i]);
        }
        free_strings(routes);
        p->ike_proposals =
            json_strings(ld, (const char *)sqlite3_column_text(st, 5), &p->n_ike_proposals);
        p->esp_proposals =
            json_strings(ld, (const char *)sqlite3_column_text(st, 6), &p->n_esp_proposals);
        p->allow_weak_crypto = sqlite3_column_int(st, 7) != 0;
        p->sessions_per_user = (unsigned)sqlite3_column_int(st, 8);
        p->idle_timeout = (unsigned)sqlite3_column_int(st, 9);
        p->ike_lifetime = (unsigned)sqlite3_column_int(st, 10);
        p->child_lifetime = (unsigned)sqlite3_column_int(st, 11);
        p->acct_interim_interval = (unsigned)sqlite3_column_int(st, 12);
        p->child_lifetime_bytes = (uint64_t)sqlite3_column_int64(st, 13);
        p->child_lifetime_packets = (uint64_t)sqlite3_column_int64(st, 14);
        p->reauth_interval = (unsigned)sqlite3_column_int(st, 15);
    }
    sqlite3_finalize(st);

    /* Pools, per policy. */
    for (size_t i = 0; i < t->n_policies && !ld->failed; i++) {
        struct snap_policy *p = &t->policies[i];
        st = prepare(ld, "SELECT cidr FROM pools WHERE policy_id = ?2 ORDER BY family, id", NULL);
        if (!st)
            return;
        sqlite3_bind_int64(st, 2, p->id);
        size_t pcap = 4;
        p->pools = calloc(pcap + 1, sizeof(char *));
        if (!p->pools) {
            fail(ld, "out of memory");
            sqlite3_finalize(st);
            return;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (p->n_pools == pcap) {
                pcap *= 2;
                char **nv = realloc(p->pools, (pcap + 1) * sizeof(char *));
                if (!nv)
                    break;
                p->pools = nv;
            }
            p->pools[p->n_pools++] = dup_col(st, 0);
            p->pools[p->n_pools] = NULL;
        }
        sqlite3_finalize(st);
    }
}

static const struct snap_policy *policy_by_id(const struct snap_tenant *t, int64_t id)
{
    for (size_t i = 0; i < t->n_policies; i++)
        if (t->policies[i].id == id)
            return &t->policies[i];
    return NULL;
}

static const struct snap_policy *policy_by_name(const struct snap_tenant *t, const char *name)
{
    for (size_t i = 0; name && i < t->n_policies; i++)
        if (strcmp(t->policies[i].name, name) == 0)
            return &t->policies[i];
    return NULL;
}

static int cmp_user(const void *a, const void *b)
{
    return strcasecmp(((const struct snap_user *)a)->username,
                      ((const struct snap_user *)b)->username);
}

static void load_users(struct loader *ld, struct snap_tenant *t)
{
    sqlite3_stmt *st = prepare(ld,
                               "SELECT u.username, u.enabled, u.auth, u.policy_id, g.policy_id, "
                               "u.static_ip FROM users u LEFT JOIN groups g ON g.id = u.group_id "
                               "WHERE u.tenant_id = ?",
                               t->id);
    if (!st)
        return;
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (t->n_users == cap) {
            cap = cap ? cap * 2 : 16;
            struct snap_user *nv = realloc(t->users, cap * sizeof(*nv));
            if (!nv) {
                fail(ld, "out of memory");
                break;
            }
            t->users = nv;
        }
        struct snap_user *u = &t->users[t->n_users++];
        memset(u, 0, sizeof(*u));
        u->username = dup_col(st, 0);
        u->enabled = sqlite3_column_int(st, 1) != 0;
        const char *auth = (const char *)sqlite3_column_text(st, 2);
        u->auth = auth && !strcmp(auth, "certificate") ? SNAP_AUTH_CERTIFICATE : SNAP_AUTH_RADIUS;
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            u->policy = policy_by_id(t, sqlite3_column_int64(st, 3));
        if (!u->policy && sqlite3_column_type(st, 4) != SQLITE_NULL)
            u->policy = policy_by_id(t, sqlite3_column_int64(st, 4));
        if (!u->policy)
            u->policy = t->default_policy;
        const char *ip = (const char *)sqlite3_column_text(st, 5);
        if (ip && *ip)
            u->has_static_ip = pool_addr_parse(ip, &u->static_ip);
    }
    sqlite3_finalize(st);
    if (t->n_users)
        qsort(t->users, t->n_users, sizeof(*t->users), cmp_user);
}

static void load_radius(struct loader *ld, struct snap_tenant *t)
{
    sqlite3_stmt *st = prepare(ld,
                               "SELECT name, host, auth_port, acct_port, secret_sealed, "
                               "timeout_ms, retries, priority FROM radius_servers "
                               "WHERE tenant_id = ? ORDER BY priority, id",
                               t->id);
    if (!st)
        return;
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (t->n_radius == cap) {
            cap = cap ? cap * 2 : 2;
            struct snap_radius *nv = realloc(t->radius, cap * sizeof(*nv));
            if (!nv) {
                fail(ld, "out of memory");
                break;
            }
            t->radius = nv;
        }
        struct snap_radius *r = &t->radius[t->n_radius++];
        memset(r, 0, sizeof(*r));
        r->name = dup_col(st, 0);
        r->host = dup_col(st, 1);
        r->auth_port = (uint16_t)sqlite3_column_int(st, 2);
        r->acct_port = (uint16_t)sqlite3_column_int(st, 3);
        const uint8_t *blob = sqlite3_column_blob(st, 4);
        size_t blen = (size_t)sqlite3_column_bytes(st, 4);
        r->secret = malloc(blen ? blen : 1);
        long n = r->secret && ld->key
                     ? seal_open(ld->key, "radius-secret", blob, blen, r->secret, blen)
                     : -1;
        if (n < 0) {
            /* Keep the tenant usable; this server is skipped and says why. */
            log_err("config",
                    "tenant %s: the secret of RADIUS server %s cannot be opened "
                    "with the master key; the server is not used",
                    t->id, r->name);
            r->secret_len = 0;
        } else {
            r->secret_len = (size_t)n;
        }
        r->timeout_ms = (unsigned)sqlite3_column_int(st, 5);
        r->retries = (unsigned)sqlite3_column_int(st, 6);
        r->priority = (unsigned)sqlite3_column_int(st, 7);
    }
    sqlite3_finalize(st);
}

static void load_certs(struct loader *ld, struct snap_tenant *t)
{
    sqlite3_stmt *st = prepare(ld,
                               "SELECT kind, cert_pem, chain_pem, key_sealed FROM certificates "
                               "WHERE tenant_id = ? AND kind IN ('ca', 'server') AND active = 1 "
                               "AND revoked_at IS NULL ORDER BY id DESC",
                               t->id);
    if (!st)
        return;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(st, 0);
        if (kind && !strcmp(kind, "ca") && !t->ca_pem) {
            t->ca_pem = dup_col(st, 1);
        } else if (kind && !strcmp(kind, "server") && !t->server) {
            t->server = calloc(1, sizeof(*t->server));
            if (!t->server)
                break;
            t->server->cert_pem = dup_col(st, 1);
            t->server->chain_pem = dup_col(st, 2);
            size_t n = (size_t)sqlite3_column_bytes(st, 3);
            if (n) {
                t->server->key_sealed = malloc(n);
                if (t->server->key_sealed) {
                    memcpy(t->server->key_sealed, sqlite3_column_blob(st, 3), n);
                    t->server->key_sealed_len = n;
                }
            }
        }
    }
    sqlite3_finalize(st);

    st = prepare(ld,
                 "SELECT serial, revoked_at, coalesce(revocation_reason, 'unspecified') "
                 "FROM certificates WHERE tenant_id = ? AND revoked_at IS NOT NULL ORDER BY id",
                 t->id);
    if (!st)
        return;
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (t->n_revoked == cap) {
            cap = cap ? cap * 2 : 8;
            struct snap_revoked *nv = realloc(t->revoked, cap * sizeof(*nv));
            if (!nv)
                break;
            t->revoked = nv;
        }
        struct snap_revoked *r = &t->revoked[t->n_revoked++];
        r->serial = dup_col(st, 0);
        r->revoked_at = sqlite3_column_int64(st, 1);
        r->reason = dup_col(st, 2);
    }
    sqlite3_finalize(st);
}

static char **load_list(struct loader *ld, const char *sql, const char *tenant, size_t *n)
{
    *n = 0;
    sqlite3_stmt *st = prepare(ld, sql, tenant);
    size_t cap = 4;
    char **v = calloc(cap + 1, sizeof(char *));
    if (!v) {
        fail(ld, "out of memory");
        sqlite3_finalize(st);
        return NULL;
    }
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            cap *= 2;
            char **nv = realloc(v, (cap + 1) * sizeof(char *));
            if (!nv)
                break;
            v = nv;
        }
        v[(*n)++] = dup_col(st, 0);
        v[*n] = NULL;
    }
    sqlite3_finalize(st);
    return v;
}

static void free_tenant(struct snap_tenant *t)
{
    free(t->id);
    free(t->name);
    free(t->ifname);
    free(t->netns);
    free_strings(t->gateway_ids);
    free_strings(t->realms);
    for (size_t i = 0; i < t->n_policies; i++) {
        struct snap_policy *p = &t->policies[i];
        free(p->name);
        free_strings(p->pools);
        free(p->dns);
        free_strings(p->search_domains);
        free(p->routes);
        free_strings(p->ike_proposals);
        free_strings(p->esp_proposals);
    }
    free(t->policies);
    for (size_t i = 0; i < t->n_users; i++)
        free(t->users[i].username);
    free(t->users);
    for (size_t i = 0; i < t->n_radius; i++) {
        struct snap_radius *r = &t->radius[i];
        free(r->name);
        free(r->host);
        if (r->secret) {
            OPENSSL_cleanse(r->secret, r->secret_len);
            free(r->secret);
        }
    }
    free(t->radius);
    free(t->ca_pem);
    if (t->server) {
        free(t->server->cert_pem);
        free(t->server->chain_pem);
        free(t->server->key_sealed);
        free(t->server);
    }
    for (size_t i = 0; i < t->n_revoked; i++) {
        free(t->revoked[i].serial);
        free(t->revoked[i].reason);
    }
    free(t->revoked);
}

static void snapshot_free(struct snapshot *s)
{
    for (size_t i = 0; i < s->n_tenants; i++)
        free_tenant(&s->tenants[i]);
    free(s->tenants);
    free(s);
}

struct snapshot *snapshot_load(sqlite3 *db, const struct seal_key *key, uint64_t generation,
                               char *err, size_t errlen)
{
    struct loader ld = {.db = db, .key = key, .err = err, .errlen = errlen};
    struct snapshot *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->refs = 1;
    s->generation = generation;
    /* One read transaction: the snapshot is consistent even while the API
     * writes. */
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_stmt *st = prepare(&ld,
                               "SELECT id, name, enabled, ifname, netns, mtu, default_policy "
                               "FROM tenants ORDER BY id",
                               NULL);
    size_t cap = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (s->n_tenants == cap) {
            cap = cap ? cap * 2 : 8;
            struct snap_tenant *nv = realloc(s->tenants, cap * sizeof(*nv));
            if (!nv) {
                fail(&ld, "out of memory");
                break;
            }
            s->tenants = nv;
        }
        struct snap_tenant *t = &s->tenants[s->n_tenants++];
        memset(t, 0, sizeof(*t));
        t->id = dup_col(st, 0);
        t->name = dup_col(st, 1);
        t->enabled = sqlite3_column_int(st, 2) != 0;
        t->ifname = dup_col(st, 3);
        t->netns = dup_col(st, 4);
        t->mtu = (unsigned)sqlite3_column_int(st, 5);
        char *defpol = dup_col(st, 6);
        t->gateway_ids = load_list(&ld,
                                   "SELECT identity FROM gateway_ids WHERE tenant_id = ? "
                                   "ORDER BY identity",
                                   t->id, &t->n_gateway_ids);
        t->realms = load_list(&ld, "SELECT realm FROM realms WHERE tenant_id = ? ORDER BY realm",
                              t->id, &t->n_realms);
        load_policies(&ld, t);
        t->default_policy = policy_by_name(t, defpol);
        if (!t->default_policy && t->n_policies)
            t->default_policy = &t->policies[0];
        free(defpol);
        load_users(&ld, t);
        load_radius(&ld, t);
        load_certs(&ld, t);
    }
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (ld.failed) {
        snapshot_free(s);
        return NULL;
    }
    return s;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    return s;
}

void snapshot_unref(struct snapshot *s)
{
    if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
        snapshot_free(s);
}

static int cmp_tenant_id(const void *key, const void *elem)
{
    return strcmp(key, ((const struct snap_tenant *)elem)->id);
}

const struct snap_tenant *snapshot_tenant(const struct snapshot *s, const char *id)
{
    if (!s->n_tenants)
        return NULL;
    return bsearch(id, s->tenants, s->n_tenants, sizeof(*s->tenants), cmp_tenant_id);
}

const struct snap_tenant *snapshot_tenant_by_gateway_id(const struct snapshot *s, const char *id)
{
    for (size_t i = 0; i < s->n_tenants; i++) {
        const struct snap_tenant *t = &s->tenants[i];
        for (size_t j = 0; j < t->n_gateway_ids; j++)
            if (strcasecmp(t->gateway_ids[j], id) == 0)
                return t;
    }
    return NULL;
}

const struct snap_tenant *snapshot_tenant_by_identity_realm(const struct snapshot *s,
                                                            const char *identity)
{
    const char *at = strrchr(identity, '@');
    if (!at || !at[1])
        return NULL;
    for (size_t i = 0; i < s->n_tenants; i++) {
        const struct snap_tenant *t = &s->tenants[i];
        for (size_t j = 0; j < t->n_realms; j++)
            if (strcasecmp(t->realms[j], at + 1) == 0)
                return t;
    }
    return NULL;
}

static int cmp_username(const void *key, const void *elem)
{
    return strcasecmp(key, ((const struct snap_user *)elem)->username);
}

const struct snap_user *snap_tenant_user(const struct snap_tenant *t, const char *username)
{
    if (!t->n_users)
        return NULL;
    return bsearch(username, t->users, t->n_users, sizeof(*t->users), cmp_username);
}
