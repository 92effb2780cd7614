/*
 * The tenant snapshot: an immutable, in-memory copy of everything the IKE
 * thread needs of the tenants' configuration (gateway identities, realms,
 * policies and pools, users, RADIUS servers with their secrets opened,
 * certificates). Built from the database on a thread that may block
 * (snapshot_load), then handed to the IKE thread, which never reads SQLite.
 *
 * Reference counted: an IKE SA keeps the snapshot its tenant was resolved in
 * alive while a newer snapshot serves new clients. Pointers into a snapshot
 * stay valid for as long as a reference is held.
 */
#ifndef ISTHMUS_SNAPSHOT_H
#define ISTHMUS_SNAPSHOT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concentrator/pool.h"

struct seal_key;

struct snap_prefix {
    struct pool_addr addr;
    unsigned len;
    char text[INET6_ADDRSTRLEN + 5];
};

struct snap_policy {
    int64_t id;
    char *name;
    char **pools; /* CIDRs, NULL-terminated */
    size_t n_pools;
    struct pool_addr *dns;
    size_t n_dns;
    char **search_domains;
    size_t n_search_domains;
    struct snap_prefix *routes; /* empty: full tunnel */
    size_t n_routes;
    char **ike_proposals; /* empty: the safe default set */
    size_t n_ike_proposals;
    char **esp_proposals;
    size_t n_esp_proposals;
    bool allow_weak_crypto;
    unsigned sessions_per_user; /* 0: unlimited */
    unsigned idle_timeout;      /* seconds; 0: none */
    unsigned ike_lifetime, child_lifetime;
    uint64_t child_lifetime_bytes, child_lifetime_packets; /* per direction; 0: none */
    unsigned acct_interim_interval; /* seconds; 0: none (RADIUS may set one) */
    unsigned reauth_interval;       /* seconds; 0: never */
};

enum snap_auth { SNAP_AUTH_RADIUS, SNAP_AUTH_CERTIFICATE };

struct snap_user {
    char *username;
    bool enabled;
    enum snap_auth auth;
    const struct snap_policy *policy; /* resolved: user, group, tenant default */
    bool has_static_ip;
    struct pool_addr static_ip;
};

struct snap_radius {
    char *name;
    char *host;
    uint16_t auth_port, acct_port;
    uint8_t *secret; /* opened; wiped when the snapshot is freed */
    size_t secret_len;
    unsigned timeout_ms, retries, priority;
};

struct snap_cert {
    char *cert_pem;
    char *chain_pem;
    uint8_t *key_sealed; /* for x509_key_unseal */
    size_t key_sealed_len;
};

struct snap_revoked {
    char *serial;
    int64_t revoked_at;
    char *reason;
};

struct snap_tenant {
    char *id;
    char *name;
    bool enabled;
    char *ifname;
    char *netns; /* NULL: none */
    unsigned mtu;
    char **gateway_ids;
    size_t n_gateway_ids;
    char **realms;
    size_t n_realms;
    struct snap_policy *policies;
    size_t n_policies;
    const struct snap_policy *default_policy; /* NULL if the tenant has none */
    struct snap_user *users;                  /* sorted by username, case-insensitively */
    size_t n_users;
    struct snap_radius *radius; /* by priority, lowest first */
    size_t n_radius;
    char *ca_pem;             /* NULL: no CA yet */
    struct snap_cert *server; /* NULL: no server certificate */
    struct snap_revoked *revoked;
    size_t n_revoked;
};

struct snapshot {
    int refs; /* atomic */
    uint64_t generation;
    struct snap_tenant *tenants; /* sorted by id */
    size_t n_tenants;
};

/* Reads every tenant from db. key opens RADIUS secrets. Returns NULL with a
 * message in err on failure. The snapshot starts with one reference. */
struct snapshot *snapshot_load(sqlite3 *db, const struct seal_key *key, uint64_t generation,
                               char *err, size_t errlen);

struct snapshot *snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s); /* frees at zero; NULL accepted */

const struct snap_tenant *snapshot_tenant(const struct snapshot *s, const char *id);
/* The tenant whose gateway identities include id (case-insensitive). */
const struct snap_tenant *snapshot_tenant_by_gateway_id(const struct snapshot *s, const char *id);
/* The tenant of the realm of "user@realm" (case-insensitive); NULL if the
 * identity has no realm or no tenant has it. */
const struct snap_tenant *snapshot_tenant_by_identity_realm(const struct snapshot *s,
                                                            const char *identity);

const struct snap_user *snap_tenant_user(const struct snap_tenant *t, const char *username);

#endif
