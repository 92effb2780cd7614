/* Certificates: see certs.h. Routes under /api/v1/tenants/{tenant}/: ca,
 * ca.pem, crl, certificates[?kind=], certificates/{server,upload,client},
 * certificates/{id}, certificates/{id}/revoke. Slow key generation happens
 * before the write transaction, so it never holds the database's write lock. */
#include "api/certs.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/check.h"
#include "api/conn.h"
#include "api/page.h"
#include "api/resource.h"
#include "api/server.h"
#include "auth/x509.h"
#include "db/audit.h"
#include "db/db.h"

#define CRL_VALIDITY (7 * 86400)

static const char *const issue_key_types[] = {"ecdsa-p256", "ecdsa-p384", "rsa-2048",
                                              "rsa-3072",   "rsa-4096",   NULL};
static const char *const formats[] = {"pkcs12", "pem", NULL};
static const char *const reasons[] = {"unspecified",     "keyCompromise",
                                      "cACompromise",    "affiliationChanged",
                                      "superseded",      "cessationOfOperation",
                                      "certificateHold", "privilegeWithdrawn",
                                      "aACompromise",    NULL};

const struct api_field api_cert_server_fields[] = {
    {.name = "identities", .type = AT_STRLIST, .min = 1, .max = 64, .check = api_check_identity},
    {.name = "key_type",
     .type = AT_STRING,
     .min = 1,
     .max = 16,
     .def = "\"ecdsa-p256\"",
     .enums = issue_key_types},
    {.name = "days", .type = AT_INT, .min = 1, .max = 3650, .def = "730"},
    {0},
};

const struct api_field api_cert_upload_fields[] = {
    {.name = "certificate",
     .type = AT_STRING,
     .flags = AF_REQUIRED | AF_MULTILINE,
     .min = 1,
     .max = 65536},
    {.name = "chain",
     .type = AT_STRING,
     .flags = AF_MULTILINE,
     .min = 0,
     .max = 262144,
     .def = "\"\""},
    {.name = "private_key",
     .type = AT_STRING,
     .flags = AF_REQUIRED | AF_MULTILINE | AF_SECRET,
     .min = 1,
     .max = 65536},
    {0},
};

const struct api_field api_cert_client_fields[] = {
    {.name = "username",
     .type = AT_STRING,
     .flags = AF_REQUIRED,
     .min = 1,
     .max = 253,
     .check = api_check_username},
    {.name = "format",
     .type = AT_STRING,
     .min = 1,
     .max = 8,
     .def = "\"pkcs12\"",
     .enums = formats},
    {.name = "password", .type = AT_STRING, .flags = AF_SECRET, .min = 4, .max = 128},
    {.name = "legacy", .type = AT_BOOL, .def = "false"},
    {.name = "key_type",
     .type = AT_STRING,
     .min = 1,
     .max = 16,
     .def = "\"ecdsa-p256\"",
     .enums = issue_key_types},
    {.name = "days", .type = AT_INT, .min = 1, .max = 3650, .def = "730"},
    {0},
};

const struct api_field api_cert_revoke_fields[] = {
    {.name = "reason",
     .type = AT_STRING,
     .min = 1,
     .max = 32,
     .def = "\"unspecified\"",
     .enums = reasons},
    {0},
};

/* ---- rows ---- */

#define CERT_COLS                                                                                  \
    "c.id, c.kind, c.source, c.serial, c.subject, (SELECT u.username FROM users u WHERE u.id = "   \
    "c.user_id), c.not_before, c.not_after, c.active, c.revoked_at, c.revocation_reason, "         \
    "c.created_at, c.cert_pem, c.chain_pem"

static json_object *str_or_null(const unsigned char *s)
{
    return s ? json_object_new_string((const char *)s) : NULL;
}

static json_object *time_or_null(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    char ts[32];
    api_time_str(sqlite3_column_int64(st, i), ts, sizeof(ts));
    return json_object_new_string(ts);
}

/* A certificate's document from a CERT_COLS row; with_pem adds the PEMs. */
static json_object *cert_doc(sqlite3_stmt *st, bool with_pem)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(sqlite3_column_int64(st, 0)));
    json_object_object_add(o, "kind", str_or_null(sqlite3_column_text(st, 1)));
    json_object_object_add(o, "source", str_or_null(sqlite3_column_text(st, 2)));
    json_object_object_add(o, "serial", str_or_null(sqlite3_column_text(st, 3)));
    json_object_object_add(o, "subject", str_or_null(sqlite3_column_text(st, 4)));
    const char *pem = (const char *)sqlite3_column_text(st, 12);
    X509 *x = pem ? x509_cert_from_pem(pem, strlen(pem), NULL, 0) : NULL;
    struct x509_facts f;
    memset(&f, 0, sizeof(f));
    bool facts = x && x509_cert_facts(x, &f) == 0;
    json_object_object_add(o, "issuer", json_object_new_string(facts ? f.issuer : ""));
    json_object_object_add(o, "not_before", time_or_null(st, 6));
    json_object_object_add(o, "not_after", time_or_null(st, 7));
    json_object_object_add(o, "key_type", json_object_new_string(facts ? f.key_type : ""));
    json_object_object_add(o, "sha256", json_object_new_string(facts ? f.sha256 : ""));
    json_object *sans = json_object_new_array();
    for (size_t i = 0; facts && i < f.n_sans; i++)
        json_object_array_add(sans, json_object_new_string(f.sans[i]));
    json_object_object_add(o, "sans", sans);
    json_object_object_add(o, "user", str_or_null(sqlite3_column_text(st, 5)));
    json_object_object_add(o, "active", json_object_new_boolean(sqlite3_column_int(st, 8)));
    json_object_object_add(o, "revoked_at", time_or_null(st, 9));
    json_object_object_add(o, "revocation_reason", str_or_null(sqlite3_column_text(st, 10)));
    json_object *created = time_or_null(st, 11);
    json_object_object_add(o, "created_at", created ? created : json_object_new_string(""));
    if (with_pem) {
        json_object_object_add(o, "certificate_pem", json_object_new_string(pem ? pem : ""));
        const char *chain = (const char *)sqlite3_column_text(st, 13);
        json_object_object_add(o, "chain_pem", json_object_new_string(chain ? chain : ""));
    }
    if (facts)
        x509_facts_free(&f);
    X509_free(x);
    return o;
}

/* The certificate id (kind "ca" when id is 0: the tenant's CA), or NULL. */
static json_object *cert_load(sqlite3 *db, const char *tenant, sqlite3_int64 id, bool with_pem)
{
    sqlite3_stmt *st = api_stmt(
        db, id ? "SELECT " CERT_COLS " FROM certificates c WHERE c.tenant_id = ?1 AND c.id = ?2"
               : "SELECT " CERT_COLS " FROM certificates c WHERE c.tenant_id = ?1 AND "
                 "c.kind = 'ca' AND c.active = 1 ORDER BY c.id DESC LIMIT 1");
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    if (id)
        sqlite3_bind_int64(st, 2, id);
    json_object *o = sqlite3_step(st) == SQLITE_ROW ? cert_doc(st, with_pem) : NULL;
    api_stmt_done(st);
    return o;
}

/* The tenant CA with its key, for signing. 0 or -1 with p. */
static int ca_load(struct api_req *req, const char *tenant, struct x509_ca *ca,
                   struct api_problem *p)
{
    sqlite3_stmt *st = api_stmt(req->db, "SELECT cert_pem, key_sealed FROM certificates WHERE "
                                         "tenant_id = ? AND kind = 'ca' AND active = 1 "
                                         "ORDER BY id DESC LIMIT 1");
    if (!st) {
        api_problem_set(p, 500, NULL, "the tenant CA cannot be read");
        return -1;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char err[X509_ERR_MAX] = "";
        rc = x509_ca_load(ca, (const char *)sqlite3_column_text(st, 0), sqlite3_column_blob(st, 1),
                          (size_t)sqlite3_column_bytes(st, 1), req->deps->master_key, err,
                          sizeof(err));
        if (rc < 0)
            api_problem_set(p, 500, NULL, "the tenant CA cannot be loaded: %s", err);
    } else {
        api_problem_set(p, 404, NULL, "tenant '%.63s' has no CA", tenant);
    }
    api_stmt_done(st);
    return rc;
}

/* Inserts a certificate row; returns its id, or 0 (p set). */
static sqlite3_int64 cert_insert(struct api_req *req, const char *tenant, const char *kind,
                                 const char *source, X509 *cert, const char *cert_pem,
                                 const char *chain_pem, const struct x509_buf *key_sealed,
                                 const char *username, struct api_problem *p)
{
    struct x509_facts f;
    memset(&f, 0, sizeof(f));
    if (x509_cert_facts(cert, &f) < 0) {
        api_problem_set(p, 500, NULL, "the certificate cannot be read back");
        return 0;
    }
    sqlite3_stmt *st =
        api_stmt(req->db, "INSERT INTO certificates (tenant_id, kind, source, serial, subject, "
                          "user_id, not_before, not_after, cert_pem, chain_pem, key_sealed, "
                          "active, created_at) VALUES (?1, ?2, ?3, ?4, ?5, (SELECT id FROM users "
                          "WHERE tenant_id = ?1 AND username = ?6), ?7, ?8, ?9, ?10, ?11, 1, ?12)");
    sqlite3_int64 id = 0;
    if (st) {
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, f.serial, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, f.subject, -1, SQLITE_STATIC);
        if (username)
            sqlite3_bind_text(st, 6, username, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, f.not_before);
        sqlite3_bind_int64(st, 8, f.not_after);
        sqlite3_bind_text(st, 9, cert_pem, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, chain_pem ? chain_pem : "", -1, SQLITE_STATIC);
        if (key_sealed && key_sealed->data)
            sqlite3_bind_blob(st, 11, key_sealed->data, (int)key_sealed->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 12, db_now());
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            id = sqlite3_last_insert_rowid(req->db);
        else if (sqlite3_extended_errcode(req->db) == SQLITE_CONSTRAINT_UNIQUE)
            api_problem_set(p, 409, "certificate",
                            "certificate: serial %s is already stored in this tenant", f.serial);
        else
            api_problem_set(p, 500, NULL, "the certificate cannot be stored");
        api_stmt_done(st);
    } else {
        api_problem_set(p, 500, NULL, "the certificate cannot be stored");
    }
    x509_facts_free(&f);
    return id;
}

static int exec_tenant(sqlite3 *db, const char *sql, const char *tenant)
{
    sqlite3_stmt *st = api_stmt(db, sql);
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    api_stmt_done(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int audit(struct api_req *req, const char *tenant, sqlite3_int64 id, const char *action,
                 json_object *changes)
{
    char rid[32];
    snprintf(rid, sizeof(rid), "%lld", (long long)id);
    return db_audit_insert(req->db, req->who.token_id, tenant, "certificate", rid, action,
                           json_object_to_json_string_ext(
                               changes, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

int api_ca_create(struct api_req *req, const char *tenant, const char *name, const char *key_type,
                  struct api_problem *p)
{
    enum x509_key_type type;
    struct x509_issued is;
    struct x509_buf sealed = {0};
    char err[X509_ERR_MAX] = "";
    memset(&is, 0, sizeof(is));
    int rc = -1;
    if (!x509_key_type_parse(key_type, &type)) {
        api_problem_set(p, 400, "ca_key_type", "ca_key_type: '%.20s' is not a key type", key_type);
        return -1;
    }
    if (x509_ca_create(tenant, name, type, db_now(), &is, err, sizeof(err)) < 0 || !req->deps ||
        !req->deps->master_key || x509_key_seal(req->deps->master_key, is.key, &sealed) < 0) {
        api_problem_set(p, 500, NULL, "the tenant CA cannot be made: %s", err);
        goto done;
    }
    if (!cert_insert(req, tenant, "ca", "issued", is.cert, (const char *)is.cert_pem.data, NULL,
                     &sealed, NULL, p))
        goto done;
    if (exec_tenant(req->db, "INSERT OR IGNORE INTO crl_state (tenant_id) VALUES (?)", tenant) !=
        SQLITE_OK) {
        api_problem_set(p, 500, NULL, "the CRL state cannot be stored");
        goto done;
    }
    rc = 0;
done:
    x509_buf_free(&sealed);
    x509_issued_free(&is);
    return rc;
}

/* ---- reads ---- */

/* Scope and existence of {tenant} for reads. */
static bool tenant_read(struct api_req *req, struct api_resp *resp)
{
    if (!api_may_read(req, req->params[0], resp))
        return false;
    if (!api_tenant_exists(req->db, req->params[0])) {
        api_problem(resp, 404, NULL, "no tenant '%.64s'", req->params[0]);
        return false;
    }
    return true;
}

static bool tenant_write(struct api_req *req, struct api_resp *resp)
{
    if (!api_may_write(req, req->params[0], resp))
        return false;
    if (!api_tenant_exists(req->db, req->params[0])) {
        api_problem(resp, 404, NULL, "no tenant '%.64s'", req->params[0]);
        return false;
    }
    return true;
}

void api_h_ca_get(struct api_req *req, struct api_resp *resp)
{
    if (!tenant_read(req, resp))
        return;
    json_object *o = cert_load(req->db, req->params[0], 0, true);
    if (!o) {
        api_problem(resp, 404, NULL, "tenant '%.63s' has no CA", req->params[0]);
        return;
    }
    api_resp_json(resp, 200, o);
}

void api_h_ca_pem(struct api_req *req, struct api_resp *resp)
{
    if (!tenant_read(req, resp))
        return;
    json_object *o = cert_load(req->db, req->params[0], 0, true), *pem = NULL;
    if (!o || !json_object_object_get_ex(o, "certificate_pem", &pem)) {
        json_object_put(o);
        api_problem(resp, 404, NULL, "tenant '%.63s' has no CA", req->params[0]);
        return;
    }
    api_resp_raw(resp, 200, "application/x-pem-file", json_object_get_string(pem),
                 (size_t)json_object_get_string_len(pem));
    snprintf(resp->disposition, sizeof(resp->disposition), "attachment; filename=\"%s-ca.pem\"",
             req->params[0]);
    json_object_put(o);
}

void api_h_crl(struct api_req *req, struct api_resp *resp)
{
    if (!tenant_read(req, resp))
        return;
    const char *tenant = req->params[0];
    struct api_problem p = {0};
    struct x509_ca ca = {0};
    struct x509_revoked *list = NULL;
    char **serials = NULL;
    size_t n = 0, cap = 0;
    struct x509_buf pem = {0};
    char err[X509_ERR_MAX] = "";
    if (ca_load(req, tenant, &ca, &p) < 0)
        goto done;
    sqlite3_stmt *st = api_stmt(req->db, "SELECT serial, revoked_at, revocation_reason FROM "
                                         "certificates WHERE tenant_id = ? AND revoked_at IS "
                                         "NOT NULL ORDER BY id");
    if (!st) {
        api_problem_set(&p, 500, NULL, "the revocations cannot be read");
        goto done;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct x509_revoked *nl = realloc(list, ncap * sizeof(*nl));
            char **ns = nl ? realloc(serials, ncap * sizeof(*ns)) : NULL;
            if (nl)
                list = nl;
            if (!ns)
                break;
            serials = ns;
            cap = ncap;
        }
        serials[n] = strdup((const char *)sqlite3_column_text(st, 0));
        enum x509_reason reason = X509_REASON_UNSPECIFIED;
        const char *rn = (const char *)sqlite3_column_text(st, 2);
        if (rn)
            x509_reason_parse(rn, &reason);
        list[n] = (struct x509_revoked){
            .serial = serials[n], .revoked_at = sqlite3_column_int64(st, 1), .reason = reason};
        if (serials[n])
            n++;
    }
    api_stmt_done(st);
    st = api_stmt(req->db, "SELECT crl_number FROM crl_state WHERE tenant_id = ?");
    uint64_t number = 0;
    if (st) {
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            number = (uint64_t)sqlite3_column_int64(st, 0);
        api_stmt_done(st);
    }
    int64_t now = db_now();
    if (x509_crl_build(&ca, list, n, number, now, now + CRL_VALIDITY, &pem, NULL, err,
                       sizeof(err)) < 0) {
        api_problem_set(&p, 500, NULL, "the CRL cannot be built: %s", err);
        goto done;
    }
    api_resp_raw(resp, 200, "application/x-pem-file", pem.data, pem.len);
    snprintf(resp->disposition, sizeof(resp->disposition), "attachment; filename=\"%s.crl\"",
             tenant);
done:
    if (p.status)
        api_problem_send(resp, &p);
    for (size_t i = 0; i < n; i++)
        free(serials[i]);
    free(serials);
    free(list);
    x509_buf_free(&pem);
    x509_ca_free(&ca);
}

void api_h_certs_list(struct api_req *req, struct api_resp *resp)
{
    if (!tenant_read(req, resp))
        return;
    struct api_page pg;
    if (!api_page_parse(req, &pg, resp))
        return;
    const char *kind = api_query(req, "kind");
    if (kind && strcmp(kind, "ca") && strcmp(kind, "server") && strcmp(kind, "client")) {
        api_problem(resp, 400, "kind", "kind: must be ca, server or client");
        return;
    }
    long long after = 0;
    if (pg.has_after) {
        char *end = NULL;
        after = strtoll(pg.after, &end, 10);
        if (*end || after <= 0) {
            api_problem(resp, 400, "cursor", "cursor: not a cursor this API returned");
            return;
        }
    }
    sqlite3_stmt *st = api_stmt(req->db, "SELECT " CERT_COLS " FROM certificates c WHERE "
                                         "c.tenant_id = ?1 AND (?2 IS NULL OR c.kind = ?2) AND "
                                         "c.id > ?3 ORDER BY c.id LIMIT ?4");
    if (!st) {
        api_problem(resp, 500, NULL, "the certificates cannot be read");
        return;
    }
    sqlite3_bind_text(st, 1, req->params[0], -1, SQLITE_STATIC);
    if (kind)
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, after);
    sqlite3_bind_int(st, 4, (int)pg.limit + 1);
    json_object *items = json_object_new_array();
    unsigned n = 0;
    bool more = false;
    char last[32] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == pg.limit) {
            more = true;
            break;
        }
        json_object_array_add(items, cert_doc(st, false));
        snprintf(last, sizeof(last), "%lld", (long long)sqlite3_column_int64(st, 0));
        n++;
    }
    api_stmt_done(st);
    api_page_send(resp, items, more ? last : NULL);
}

static sqlite3_int64 cert_id_param(const char *s)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    return (*s >= '1' && *s <= '9' && !*end && v > 0) ? v : 0;
}

void api_h_cert_get(struct api_req *req, struct api_resp *resp)
{
    if (!tenant_read(req, resp))
        return;
    sqlite3_int64 id = cert_id_param(req->params[1]);
    json_object *o = id ? cert_load(req->db, req->params[0], id, true) : NULL;
    if (!o) {
        api_problem(resp, 404, NULL, "no certificate '%.20s'", req->params[1]);
        return;
    }
    api_resp_json(resp, 200, o);
}

/* ---- writes ---- */

/* Parses and validates a body, defaults applied. NULL with resp set. */
static json_object *body_of(struct api_req *req, const struct api_field *fields,
                            struct api_resp *resp)
{
    json_object *body = api_body(req, false, resp);
    if (!body)
        return NULL;
    struct api_problem p = {0};
    if (api_validate(fields, body, API_V_CREATE, NULL, &p) < 0) {
        api_problem_send(resp, &p);
        json_object_put(body);
        return NULL;
    }
    api_apply_defaults(fields, body);
    return body;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

/* Commits a new server certificate (deactivating the others), with audit;
 * responds 201. */
static void finish_server(struct api_req *req, struct api_resp *resp, X509 *cert,
                          const char *cert_pem, const char *chain_pem,
                          const struct x509_buf *sealed, const char *source, const char *action,
                          json_object *changes)
{
    const char *tenant = req->params[0];
    struct api_problem p = {0};
    json_object *out = NULL;
    if (db_begin(req->db) != SQLITE_OK) {
        api_problem(resp, 503, NULL, "the database is busy; retry");
        return;
    }
    if (exec_tenant(req->db,
                    "UPDATE certificates SET active = 0 WHERE tenant_id = ? AND kind = 'server'",
                    tenant) != SQLITE_OK) {
        api_problem_set(&p, 500, NULL, "the certificates cannot be updated");
        goto fail;
    }
    sqlite3_int64 id =
        cert_insert(req, tenant, "server", source, cert, cert_pem, chain_pem, sealed, NULL, &p);
    if (!id)
        goto fail;
    if (audit(req, tenant, id, action, changes) != SQLITE_OK ||
        !(out = cert_load(req->db, tenant, id, false)) || db_commit(req->db) != SQLITE_OK) {
        if (!p.status)
            api_problem_set(&p, 500, NULL, "the certificate cannot be stored");
        goto fail;
    }
    api_notify_config(req, tenant);
    snprintf(resp->location, sizeof(resp->location), "/api/v1/tenants/%s/certificates/%lld", tenant,
             (long long)id);
    api_resp_json(resp, 201, out);
    return;
fail:
    json_object_put(out);
    db_rollback(req->db);
    api_problem_send(resp, &p);
}

void api_h_cert_server(struct api_req *req, struct api_resp *resp)
{
    if (!tenant_write(req, resp))
        return;
    const char *tenant = req->params[0];
    json_object *body = body_of(req, api_cert_server_fields, resp), *ids = NULL;
    if (!body)
        return;
    struct api_problem p = {0};
    struct x509_ca ca = {0};
    struct x509_issued is;
    struct x509_buf sealed = {0};
    char err[X509_ERR_MAX] = "";
    const char **list = NULL;
    memset(&is, 0, sizeof(is));
    if (!json_object_object_get_ex(body, "identities", &ids)) {
        ids = api_db_strings(req->db,
                             "SELECT identity FROM gateway_ids WHERE tenant_id = ? ORDER BY rowid",
                             tenant, 0);
        json_object_object_add(body, "identities", ids);
    }
    size_t n = json_object_array_length(ids);
    if (n == 0) {
        api_problem_set(&p, 400, "identities",
                        "identities: the tenant has no gateway_ids; give identities");
        goto done;
    }
    list = calloc(n, sizeof(*list));
    for (size_t i = 0; list && i < n; i++)
        list[i] = json_object_get_string(json_object_array_get_idx(ids, i));
    enum x509_key_type type = X509_KEY_EC_P256;
    x509_key_type_parse(get_str(body, "key_type"), &type);
    json_object *days = NULL;
    json_object_object_get_ex(body, "days", &days);
    if (!list || ca_load(req, tenant, &ca, &p) < 0)
        goto done;
    if (x509_issue_server(&ca, tenant, list, n, type, db_now(), (unsigned)json_object_get_int(days),
                          &is, err, sizeof(err)) < 0) {
        api_problem_set(&p, 400, "identities", "identities: %s", err);
        goto done;
    }
    if (x509_key_seal(req->deps->master_key, is.key, &sealed) < 0) {
        api_problem_set(&p, 500, NULL, "the key cannot be sealed");
        goto done;
    }
    json_object *changes = json_object_new_object();
    json_object_object_add(changes, "kind", json_object_new_string("server"));
    json_object_object_add(changes, "serial", json_object_new_string(is.facts.serial));
    json_object_object_add(changes, "identities", json_object_get(ids));
    json_object_object_add(changes, "key_type", json_object_new_string(x509_key_type_name(type)));
    finish_server(req, resp, is.cert, (const char *)is.cert_pem.data, NULL, &sealed, "issued",
                  "issue", changes);
    json_object_put(changes);
done:
    if (p.status)
        api_problem_send(resp, &p);
    free(list);
    x509_buf_free(&sealed);
    x509_issued_free(&is);
    x509_ca_free(&ca);
    json_object_put(body);
}

/* "certificate: ...", "chain: ...", "private_key: ..." -> that field. */
static const char *err_field(const char *err)
{
    static const char *const fields[] = {"certificate", "chain", "private_key"};
    for (size_t i = 0; i < 3; i++) {
        size_t l = strlen(fields[i]);
        if (!strncmp(err, fields[i], l) && (err[l] == ':' || err[l] == ' '))
            return fields[i];
    }
    return "certificate";
}

void api_h_cert_upload(struct api_req *req, struct api_resp *resp)
{
    if (!tenant_write(req, resp))
        return;
    json_object *body = body_of(req, api_cert_upload_fields, resp);
    if (!body)
        return;
    struct api_problem p = {0};
    struct x509_facts facts;
    struct x509_buf sealed = {0};
    char err[X509_ERR_MAX] = "";
    memset(&facts, 0, sizeof(facts));
    const char *cert_pem = get_str(body, "certificate"), *chain = get_str(body, "chain"),
               *key_pem = get_str(body, "private_key");
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    if (x509_upload_check(cert_pem, chain, key_pem, db_now(), &facts, err, sizeof(err)) < 0) {
        const char *field = err_field(err);
        api_problem_set(&p, 400, field, "%s", err);
        goto done;
    }
    key = x509_key_from_pem(key_pem, strlen(key_pem), err, sizeof(err));
    cert = x509_cert_from_pem(cert_pem, strlen(cert_pem), err, sizeof(err));
    if (!key || !cert || x509_key_seal(req->deps->master_key, key, &sealed) < 0) {
        api_problem_set(&p, 400, key ? "certificate" : "private_key", "%s",
                        err[0] ? err : "the key cannot be sealed");
        goto done;
    }
    /* Stored as canonical PEM (the text given may carry other blocks). */
    struct x509_buf canon = {0};
    if (x509_cert_to_pem(cert, &canon) < 0) {
        api_problem_set(&p, 500, NULL, "the certificate cannot be encoded");
        goto done;
    }
    json_object *changes = json_object_new_object();
    json_object_object_add(changes, "kind", json_object_new_string("server"));
    json_object_object_add(changes, "source", json_object_new_string("uploaded"));
    json_object_object_add(changes, "serial", json_object_new_string(facts.serial));
    json_object_object_add(changes, "subject", json_object_new_string(facts.subject));
    json_object_object_add(changes, "private_key", json_object_new_string("***"));
    finish_server(req, resp, cert, (const char *)canon.data, chain, &sealed, "uploaded", "upload",
                  changes);
    json_object_put(changes);
    x509_buf_free(&canon);
done:
    if (p.status)
        api_problem_send(resp, &p);
    x509_facts_free(&facts);
    x509_buf_free(&sealed);
    EVP_PKEY_free(key);
    X509_free(cert);
    json_object_put(body);
}

/* The user's email and the tenant's first realm, for the certificate. */
static bool user_facts(struct api_req *req, const char *tenant, const char *username, char *email,
                       size_t ecap, char *realm, size_t rcap, char *canon, size_t ccap)
{
    sqlite3_stmt *st =
        api_stmt(req->db, "SELECT u.username, u.email, (SELECT r.realm FROM realms r WHERE "
                          "r.tenant_id = u.tenant_id ORDER BY r.rowid LIMIT 1) FROM users u "
                          "WHERE u.tenant_id = ? AND u.username = ?");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, username, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        const char *u = (const char *)sqlite3_column_text(st, 0);
        const char *e = (const char *)sqlite3_column_text(st, 1);
        const char *r = (const char *)sqlite3_column_text(st, 2);
        snprintf(canon, ccap, "%s", u ? u : username);
        snprintf(email, ecap, "%s", e ? e : "");
        snprintf(realm, rcap, "%s", r ? r : "");
    }
    api_stmt_done(st);
    return found;
}

static json_object *b64(const struct x509_buf *b)
{
    size_t cap = 4 * ((b->len + 2) / 3) + 1;
    unsigned char *out = malloc(cap);
    if (!out)
        return NULL;
    int n = EVP_EncodeBlock(out, b->data, (int)b->len);
    json_object *o = json_object_new_string_len((const char *)out, n);
    free(out);
    return o;
}

void api_h_cert_client(struct api_req *req, struct api_resp *resp)
{
    if (!tenant_write(req, resp))
        return;
    const char *tenant = req->params[0];
    json_object *body = body_of(req, api_cert_client_fields, resp), *out = NULL, *doc = NULL;
    if (!body)
        return;
    struct api_problem p = {0};
    struct x509_ca ca = {0};
    struct x509_issued is;
    struct x509_buf p12 = {0};
    char err[X509_ERR_MAX] = "", email[256], realm[256], username[256];
    memset(&is, 0, sizeof(is));
    const char *format = get_str(body, "format"), *password = get_str(body, "password");
    bool pkcs12 = !strcmp(format, "pkcs12");
    if (pkcs12 && !password) {
        api_problem_set(&p, 400, "password", "password: is required for format pkcs12");
        goto done;
    }
    if (!pkcs12 && password) {
        api_problem_set(&p, 400, "password", "password: only for format pkcs12");
        goto done;
    }
    if (!user_facts(req, tenant, get_str(body, "username"), email, sizeof(email), realm,
                    sizeof(realm), username, sizeof(username))) {
        api_problem_set(&p, 400, "username", "username: no user '%.80s' in this tenant",
                        get_str(body, "username"));
        goto done;
    }
    struct x509_client_req creq = {.username = username,
                                   .realm = realm[0] ? realm : NULL,
                                   .email = email[0] ? email : NULL,
                                   .type = X509_KEY_EC_P256};
    x509_key_type_parse(get_str(body, "key_type"), &creq.type);
    json_object *days = NULL, *legacy = NULL;
    json_object_object_get_ex(body, "days", &days);
    json_object_object_get_ex(body, "legacy", &legacy);
    creq.days = (unsigned)json_object_get_int(days);
    if (ca_load(req, tenant, &ca, &p) < 0)
        goto done;
    if (x509_issue_client(&ca, tenant, &creq, db_now(), &is, err, sizeof(err)) < 0) {
        api_problem_set(&p, 400, "username", "username: %s", err);
        goto done;
    }
    if (pkcs12 && x509_pkcs12(is.cert, is.key, ca.cert, password, username,
                              json_object_get_boolean(legacy), &p12, err, sizeof(err)) < 0) {
        api_problem_set(&p, 400, "password", "%s", err);
        goto done;
    }
    if (db_begin(req->db) != SQLITE_OK) {
        api_problem_set(&p, 503, NULL, "the database is busy; retry");
        goto done;
    }
    /* The client's key is not kept: it leaves once, in this answer. */
    sqlite3_int64 id = cert_insert(req, tenant, "client", "issued", is.cert,
                                   (const char *)is.cert_pem.data, NULL, NULL, username, &p);
    json_object *changes = json_object_new_object();
    json_object_object_add(changes, "kind", json_object_new_string("client"));
    json_object_object_add(changes, "username", json_object_new_string(username));
    json_object_object_add(changes, "serial", json_object_new_string(is.facts.serial));
    json_object_object_add(changes, "format", json_object_new_string(format));
    if (password)
        json_object_object_add(changes, "password", json_object_new_string("***"));
    int rc = id ? audit(req, tenant, id, "issue", changes) : SQLITE_ERROR;
    json_object_put(changes);
    if (!id || rc != SQLITE_OK || !(doc = cert_load(req->db, tenant, id, false)) ||
        db_commit(req->db) != SQLITE_OK) {
        db_rollback(req->db);
        if (!p.status)
            api_problem_set(&p, 500, NULL, "the certificate cannot be stored");
        goto done;
    }
    out = json_object_new_object();
    json_object_object_add(out, "certificate", doc);
    doc = NULL;
    if (pkcs12) {
        json_object_object_add(out, "pkcs12", b64(&p12));
    } else {
        struct x509_buf ca_pem = {0};
        x509_cert_to_pem(ca.cert, &ca_pem);
        json_object_object_add(out, "certificate_pem",
                               json_object_new_string((const char *)is.cert_pem.data));
        json_object_object_add(out, "private_key_pem",
                               json_object_new_string((const char *)is.key_pem.data));
        json_object_object_add(
            out, "ca_pem", json_object_new_string(ca_pem.data ? (const char *)ca_pem.data : ""));
        x509_buf_free(&ca_pem);
    }
    snprintf(resp->location, sizeof(resp->location), "/api/v1/tenants/%s/certificates/%lld", tenant,
             (long long)id);
    api_resp_json(resp, 201, out);
    /* The response holds the key now; the JSON copy is freed by put above,
     * the response buffer by the server. */
done:
    if (p.status)
        api_problem_send(resp, &p);
    json_object_put(doc);
    x509_buf_free(&p12);
    x509_issued_free(&is);
    x509_ca_free(&ca);
    json_object_put(body);
}

void api_h_cert_revoke(struct api_req *req, struct api_resp *resp)
{
    if (!tenant_write(req, resp))
        return;
    const char *tenant = req->params[0];
    sqlite3_int64 id = cert_id_param(req->params[1]);
    json_object *body = body_of(req, api_cert_revoke_fields, resp), *out = NULL, *old = NULL;
    if (!body)
        return;
    struct api_problem p = {0};
    const char *reason = get_str(body, "reason");
    if (db_begin(req->db) != SQLITE_OK) {
        api_problem_set(&p, 503, NULL, "the database is busy; retry");
        goto done;
    }
    old = id ? cert_load(req->db, tenant, id, false) : NULL;
    json_object *kind = NULL, *revoked = NULL;
    if (!old) {
        api_problem_set(&p, 404, NULL, "no certificate '%.20s'", req->params[1]);
        goto fail;
    }
    json_object_object_get_ex(old, "kind", &kind);
    json_object_object_get_ex(old, "revoked_at", &revoked);
    if (!strcmp(json_object_get_string(kind), "ca")) {
        api_problem_set(&p, 409, NULL, "the tenant CA cannot be revoked");
        goto fail;
    }
    if (revoked) {
        api_problem_set(&p, 409, NULL, "certificate %lld is already revoked", (long long)id);
        goto fail;
    }
    sqlite3_stmt *st = api_stmt(req->db, "UPDATE certificates SET revoked_at = ?1, "
                                         "revocation_reason = ?2, active = 0 WHERE id = ?3");
    int rc = SQLITE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, db_now());
        sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, id);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        api_stmt_done(st);
    }
    if (rc == SQLITE_OK)
        rc = exec_tenant(req->db,
                         "UPDATE crl_state SET crl_number = crl_number + 1 WHERE tenant_id = ?",
                         tenant);
    json_object *changes = json_object_new_object();
    json_object_object_add(changes, "reason", json_object_new_string(reason));
    if (rc == SQLITE_OK)
        rc = audit(req, tenant, id, "revoke", changes);
    json_object_put(changes);
    if (rc != SQLITE_OK || !(out = cert_load(req->db, tenant, id, false)) ||
        db_commit(req->db) != SQLITE_OK) {
        api_problem_set(&p, 500, NULL, "the revocation cannot be stored");
        goto fail;
    }
    api_notify_config(req, tenant);
    api_resp_json(resp, 200, out);
    goto done;
fail:
    db_rollback(req->db);
done:
    if (p.status)
        api_problem_send(resp, &p);
    json_object_put(old);
    json_object_put(body);
}
