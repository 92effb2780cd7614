-- Isthmus schema, version 1.
-- Times are Unix seconds (UTC) unless a column says _ms. JSON columns hold
-- arrays of strings. Sealed columns hold AES-256-GCM blobs under the master key
-- (auth/seal.h); nothing secret is stored in the clear.

CREATE TABLE tenants (
    id              TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 63),
    name            TEXT NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    ifname          TEXT NOT NULL UNIQUE,
    netns           TEXT,
    mtu             INTEGER NOT NULL DEFAULT 1400,
    default_policy  TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
);

-- The identities (IDr values, FQDNs) clients connect to; unique across tenants
-- since they decide which tenant a client lands in.
CREATE TABLE gateway_ids (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    identity        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    PRIMARY KEY (tenant_id, identity)
);

CREATE TABLE realms (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    realm           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    PRIMARY KEY (tenant_id, realm)
);

CREATE TABLE policies (
    id                  INTEGER PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    dns_servers         TEXT NOT NULL DEFAULT '[]',
    search_domains      TEXT NOT NULL DEFAULT '[]',
    split_routes        TEXT NOT NULL DEFAULT '[]',   -- empty: full tunnel
    ike_proposals       TEXT NOT NULL DEFAULT '[]',   -- empty: the safe default set
    esp_proposals       TEXT NOT NULL DEFAULT '[]',
    allow_weak_crypto   INTEGER NOT NULL DEFAULT 0 CHECK (allow_weak_crypto IN (0, 1)),
    sessions_per_user   INTEGER NOT NULL DEFAULT 0,   -- 0: unlimited
    idle_timeout        INTEGER NOT NULL DEFAULT 0,   -- seconds, 0: none
    ike_lifetime        INTEGER NOT NULL DEFAULT 14400,
    child_lifetime      INTEGER NOT NULL DEFAULT 3600,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, name)
);

-- Address pools of a policy. Pools of one tenant must not overlap (checked by
-- the API, since SQLite cannot compare CIDRs); pools of different tenants may.
CREATE TABLE pools (
    id              INTEGER PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    policy_id       INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    cidr            TEXT NOT NULL,
    family          INTEGER NOT NULL CHECK (family IN (4, 6)),
    UNIQUE (tenant_id, cidr)
);

CREATE TABLE groups (
    id              INTEGER PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    policy_id       INTEGER REFERENCES policies(id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, name)
);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    username        TEXT NOT NULL COLLATE NOCASE,
    display_name    TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    policy_id       INTEGER REFERENCES policies(id) ON DELETE SET NULL,
    group_id        INTEGER REFERENCES groups(id) ON DELETE SET NULL,
    static_ip       TEXT,
    auth            TEXT NOT NULL DEFAULT 'radius' CHECK (auth IN ('radius', 'certificate')),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, username),
    UNIQUE (tenant_id, static_ip)
);

CREATE TABLE radius_servers (
    id              INTEGER PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    host            TEXT NOT NULL,
    auth_port       INTEGER NOT NULL DEFAULT 1812,
    acct_port       INTEGER NOT NULL DEFAULT 1813,
    secret_sealed   BLOB NOT NULL,
    timeout_ms      INTEGER NOT NULL DEFAULT 3000,
    retries         INTEGER NOT NULL DEFAULT 2,
    priority        INTEGER NOT NULL DEFAULT 100,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, name)
);

-- Certificates of a tenant: its CA(s), server certificates and client
-- certificates. Keys are sealed; client keys are not kept after issuance.
CREATE TABLE certificates (
    id              INTEGER PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('ca', 'server', 'client')),
    source          TEXT NOT NULL DEFAULT 'issued' CHECK (source IN ('issued', 'uploaded')),
    serial          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    user_id         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    not_before      INTEGER NOT NULL,
    not_after       INTEGER NOT NULL,
    cert_pem        TEXT NOT NULL,
    chain_pem       TEXT NOT NULL DEFAULT '',
    key_sealed      BLOB,
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    revoked_at      INTEGER,
    revocation_reason TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (tenant_id, serial)
);

CREATE TABLE crl_state (
    tenant_id       TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    crl_number      INTEGER NOT NULL DEFAULT 0
);

-- API tokens: only a SHA-256 of the secret part is kept.
CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('operator', 'tenant-admin', 'tenant-viewer')),
    tenant_id       TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    hash            BLOB NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    created_by      TEXT,
    revoked_at      INTEGER,
    CHECK ((role = 'operator') = (tenant_id IS NULL))
);

-- Every change, written in the same transaction as the change. tenant_id has
-- no foreign key: the trail outlives what it describes.
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms           INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    tenant_id       TEXT,
    resource        TEXT NOT NULL,
    resource_id     TEXT,
    action          TEXT NOT NULL,
    changes         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);

-- One row per ended session, written by the writer thread.
CREATE TABLE session_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    identity        TEXT NOT NULL,
    username        TEXT,
    auth_method     TEXT NOT NULL,
    client_addr     TEXT NOT NULL,
    client_port     INTEGER NOT NULL,
    virtual_ipv4    TEXT,
    virtual_ipv6    TEXT,
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER NOT NULL,
    bytes_in        INTEGER NOT NULL DEFAULT 0,
    bytes_out       INTEGER NOT NULL DEFAULT 0,
    packets_in      INTEGER NOT NULL DEFAULT 0,
    packets_out     INTEGER NOT NULL DEFAULT 0,
    cause           TEXT NOT NULL
);
CREATE INDEX session_history_tenant ON session_history (tenant_id, ended_at);
