/*
 * Authentication (bearer tokens) and role checks. Roles:
 *   operator       everything, every tenant
 *   tenant-admin   read and write inside its tenant
 *   tenant-viewer  read inside its tenant
 * A tenant-scoped caller asking for another tenant gets 404, exactly as for a
 * tenant that does not exist, so tenants cannot be discovered.
 */
#ifndef ISTHMUS_API_AUTH_H
#define ISTHMUS_API_AUTH_H

#include <stdbool.h>

#include "api/http.h"

/* Checks "Authorization: Bearer <token>" against the stored hashes (constant
 * time). Returns true and fills req->who, or false with a 401 in resp. */
bool api_authenticate(struct api_req *req, const char *authorization, struct api_resp *resp);

const char *api_role_name(enum api_role r);
enum api_role api_role_parse(const char *s);

/* Scope checks; on false, resp holds the 404 or 403. */
bool api_may_read(const struct api_req *req, const char *tenant, struct api_resp *resp);
bool api_may_write(const struct api_req *req, const char *tenant, struct api_resp *resp);
bool api_require_operator(const struct api_req *req, struct api_resp *resp);

/* The tenant-scoped caller's tenant, or NULL for operators. */
const char *api_caller_tenant(const struct api_req *req);

#endif
