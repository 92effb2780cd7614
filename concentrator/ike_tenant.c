/* Tenant crypto cache and tenant indexes: see ike_tenant.h. */
#define _GNU_SOURCE
#include "concentrator/ike_tenant.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/radius_client.h"
#include "auth/x509.h"
#include "concentrator/log.h"

struct entry {
    struct entry *next;
    char *tenant;
    uint64_t gen;
    struct tenant_crypto c;
};

struct ike_tenants {
    const struct seal_key *key;
    struct entry *list;
};

struct ike_tenants *ike_tenants_new(const struct seal_key *key)
{
    struct ike_tenants *ts = calloc(1, sizeof(*ts));
    if (ts)
        ts->key = key;
    return ts;
}

static void crypto_clear(struct tenant_crypto *c)
{
    X509_free(c->ca);
    X509_free(c->cert);
    EVP_PKEY_free(c->key);
    free(c->cert_der);
    for (size_t i = 0; i < c->n_chain; i++)
        free(c->chain_der[i]);
    free(c->chain_der);
    free(c->chain_der_len);
    memset(c, 0, sizeof(*c));
}

void ike_tenants_free(struct ike_tenants *ts)
{
    if (!ts)
        return;
    while (ts->list) {
        struct entry *n = ts->list->next;
        crypto_clear(&ts->list->c);
        free(ts->list->tenant);
        free(ts->list);
        ts->list = n;
    }
    free(ts);
}

static uint8_t *to_der(X509 *x, size_t *len)
{
    struct x509_buf b = {0};
    if (x509_cert_to_der(x, &b) < 0)
        return NULL;
    *len = b.len;
    return b.data; /* ownership passes to the caller */
}

static void load(struct ike_tenants *ts, const struct snap_tenant *t, struct tenant_crypto *c)
{
    char err[256];
    struct log_ctx ctx = {t->id, NULL, NULL};
    if (t->ca_pem) {
        c->ca = x509_cert_from_pem(t->ca_pem, strlen(t->ca_pem), err, sizeof(err));
        if (!c->ca)
            log_msg(LOG_LVL_ERROR, "ike", &ctx, "the tenant CA cannot be read: %s", err);
    }
    if (!t->server)
        return;
    c->cert =
        x509_cert_from_pem(t->server->cert_pem, strlen(t->server->cert_pem), err, sizeof(err));
    if (!c->cert) {
        log_msg(LOG_LVL_ERROR, "ike", &ctx, "the server certificate cannot be read: %s", err);
        return;
    }
    c->key = x509_key_unseal(ts->key, t->server->key_sealed, t->server->key_sealed_len);
    if (!c->key) {
        log_msg(LOG_LVL_ERROR, "ike", &ctx,
                "the server key cannot be opened with the master key; clients cannot "
                "authenticate this gateway");
        X509_free(c->cert);
        c->cert = NULL;
        return;
    }
    c->cert_der = to_der(c->cert, &c->cert_der_len);
    if (t->server->chain_pem && *t->server->chain_pem) {
        STACK_OF(X509) *chain = x509_chain_from_pem(t->server->chain_pem,
                                                    strlen(t->server->chain_pem), err, sizeof(err));
        int n = chain ? sk_X509_num(chain) : 0;
        if (n > 0) {
            c->chain_der = calloc((size_t)n, sizeof(*c->chain_der));
            c->chain_der_len = calloc((size_t)n, sizeof(*c->chain_der_len));
            for (int i = 0; c->chain_der && c->chain_der_len && i < n; i++) {
                c->chain_der[c->n_chain] =
                    to_der(sk_X509_value(chain, i), &c->chain_der_len[c->n_chain]);
                if (c->chain_der[c->n_chain])
                    c->n_chain++;
            }
        }
        sk_X509_pop_free(chain, X509_free);
    }
}

const struct tenant_crypto *ike_tenant_crypto(struct ike_tenants *ts, const struct snap_tenant *t,
                                              uint64_t gen)
{
    struct entry *e;
    for (e = ts->list; e; e = e->next)
        if (strcmp(e->tenant, t->id) == 0)
            break;
    if (e && e->gen == gen)
        return &e->c;
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e)
            return NULL;
        e->tenant = strdup(t->id);
        if (!e->tenant) {
            free(e);
            return NULL;
        }
        e->next = ts->list;
        ts->list = e;
    }
    crypto_clear(&e->c);
    load(ts, t, &e->c);
    e->gen = gen;
    return &e->c;
}

static pthread_mutex_t index_lock = PTHREAD_MUTEX_INITIALIZER;
static char **index_names;
static size_t index_count, index_cap;

uint32_t ike_tenant_index(const char *tenant_id)
{
    pthread_mutex_lock(&index_lock);
    uint32_t idx = 0;
    for (size_t i = 0; i < index_count; i++) {
        if (strcmp(index_names[i], tenant_id) == 0) {
            idx = (uint32_t)i + 1;
            goto done;
        }
    }
    if (index_count == index_cap) {
        size_t cap = index_cap ? index_cap * 2 : 16;
        char **nv = realloc(index_names, cap * sizeof(*nv));
        if (!nv)
            goto done;
        index_names = nv;
        index_cap = cap;
    }
    index_names[index_count] = strdup(tenant_id);
    if (index_names[index_count])
        idx = (uint32_t)++index_count;
done:
    pthread_mutex_unlock(&index_lock);
    return idx;
}

size_t ike_tenant_radius(const struct snap_tenant *t, struct radius_servers *out)
{
    out->n = 0;
    for (size_t i = 0; i < t->n_radius && out->n < RADIUS_SERVERS_MAX; i++) {
        const struct snap_radius *r = &t->radius[i];
        if (!r->secret_len || r->secret_len >= RADIUS_SECRET_MAX)
            continue; /* its secret did not open: logged when the snapshot was made */
        struct radius_server *s = &out->s[out->n++];
        snprintf(s->host, sizeof(s->host), "%s", r->host);
        s->auth_port = r->auth_port;
        s->acct_port = r->acct_port;
        memcpy(s->secret, r->secret, r->secret_len);
        s->secret[r->secret_len] = '\0';
        s->timeout_ms = r->timeout_ms;
        s->retries = r->retries;
        s->priority = (int)r->priority;
    }
    return out->n;
}
