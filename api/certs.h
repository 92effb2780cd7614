/*
 * Certificates of a tenant through the API (the cryptography is auth/x509.h):
 * the tenant CA made with the tenant, server certificates issued or uploaded,
 * client certificates for users (returned once), revocation and the CRL.
 * Private keys never leave after issuance; stored keys are sealed.
 */
#ifndef ISTHMUS_API_CERTS_H
#define ISTHMUS_API_CERTS_H

#include "api/http.h"
#include "api/json.h"
#include "api/problem.h"

/* Makes the tenant's CA inside the caller's transaction (tenant create).
 * key_type: "ecdsa-p256" or "rsa-3072". Returns 0 or -1 with p. */
int api_ca_create(struct api_req *req, const char *tenant, const char *name, const char *key_type,
                  struct api_problem *p);

void api_h_ca_get(struct api_req *req, struct api_resp *resp);
void api_h_ca_pem(struct api_req *req, struct api_resp *resp);
void api_h_crl(struct api_req *req, struct api_resp *resp);
void api_h_certs_list(struct api_req *req, struct api_resp *resp);
void api_h_cert_get(struct api_req *req, struct api_resp *resp);
void api_h_cert_server(struct api_req *req, struct api_resp *resp);
void api_h_cert_upload(struct api_req *req, struct api_resp *resp);
void api_h_cert_client(struct api_req *req, struct api_resp *resp);
void api_h_cert_revoke(struct api_req *req, struct api_resp *resp);

extern const struct api_field api_cert_server_fields[], api_cert_upload_fields[],
    api_cert_client_fields[], api_cert_revoke_fields[];

#endif
