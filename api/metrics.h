/*
 * Prometheus text exposition (format 0.0.4) of the daemon's counters:
 * GET /metrics on the API listener (any valid token; a tenant-scoped token
 * sees its tenant's series only), or without a token on [api]
 * metrics_listen, a listener of its own meant for a management network.
 */
#ifndef ISTHMUS_API_METRICS_H
#define ISTHMUS_API_METRICS_H

#include <stddef.h>

#include "api/http.h"

struct stats;
struct registry;
struct api_deps;

#define API_METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

/* Renders every metric (tenant NULL), or only the series of one tenant.
 * Returns a malloc'd text (its length in *len), NULL when out of memory. */
char *api_metrics_render(struct stats *st, struct registry *reg, const char *tenant, size_t *len);

void api_h_metrics(struct api_req *req, struct api_resp *resp);

/* The separate listener of [api] metrics_listen (no token; /metrics only).
 * NULL with a message in err on failure. */
struct api_metrics_server;
struct api_metrics_server *api_metrics_start(const struct api_deps *deps, char *err, size_t errlen);
void api_metrics_stop(struct api_metrics_server *s); /* NULL accepted */

#endif
