/*
 * What the IKE engine needs of a tenant beyond the snapshot's text: its CA,
 * server certificate, chain and key parsed (and the key unsealed), cached
 * per tenant and snapshot generation on the IKE thread; and the mapping of
 * tenant ids to the small numbers the data plane uses.
 */
#ifndef ISTHMUS_IKE_TENANT_H
#define ISTHMUS_IKE_TENANT_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "concentrator/snapshot.h"

struct seal_key;

struct tenant_crypto {
    X509 *ca;   /* NULL: the tenant has no CA yet */
    X509 *cert; /* NULL: no server certificate */
    EVP_PKEY *key;
    uint8_t *cert_der; /* for the CERT payload */
    size_t cert_der_len;
    uint8_t **chain_der; /* intermediates, in order */
    size_t *chain_der_len;
    size_t n_chain;
};

struct ike_tenants;

struct ike_tenants *ike_tenants_new(const struct seal_key *key);
void ike_tenants_free(struct ike_tenants *ts);

/* The parsed crypto of t as of snapshot generation gen; NULL only when out
 * of memory (fields are NULL for what the tenant lacks). */
const struct tenant_crypto *ike_tenant_crypto(struct ike_tenants *ts, const struct snap_tenant *t,
                                              uint64_t gen);

struct radius_servers;
/* The tenant's usable RADIUS servers (secrets opened) in priority order, as
 * the RADIUS client takes them. Returns how many. */
size_t ike_tenant_radius(const struct snap_tenant *t, struct radius_servers *out);

/* A stable small number for a tenant id (1, 2, ...), for the data plane.
 * Any thread. */
uint32_t ike_tenant_index(const char *tenant_id);

#endif
