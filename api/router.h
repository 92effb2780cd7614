/*
 * The route table: method + path pattern -> handler. Patterns are literal
 * segments and {parameters} ("/api/v1/tenants/{tenant}/users/{name}"); a
 * parameter matches one non-empty segment, percent-decoded, that holds no '/'
 * or control character after decoding.
 */
#ifndef ISTHMUS_API_ROUTER_H
#define ISTHMUS_API_ROUTER_H

#include <stddef.h>

#include "api/http.h"

typedef void (*api_handler_fn)(struct api_req *req, struct api_resp *resp);

#define API_ROUTE_NOAUTH 1u /* no bearer token needed (health) */

struct api_route {
    enum api_method method;
    const char *pattern;
    api_handler_fn fn;
    unsigned flags;
};

/* The daemon's routes (routes.c). */
extern const struct api_route api_routes[];
extern const size_t api_routes_count;

enum api_method api_method_parse(const char *s);

/* Finds the route for method and path, filling req->params. Returns 0 and
 * *out, or 404 (no such path) or 405 (path known, method not). */
unsigned api_route_match(const struct api_route *routes, size_t n, enum api_method m,
                         const char *path, struct api_req *req, const struct api_route **out);

/* True if path is that of a route that needs no token (any method). */
bool api_route_public(const struct api_route *routes, size_t n, const char *path);

/* Percent-decodes in[0..len) into out (cap bytes with the NUL). Returns the
 * decoded length, or -1 on a bad escape, a NUL, '/' or control character, or
 * overflow. */
long api_path_decode(const char *in, size_t len, char *out, size_t cap);

/* Runs one request through the route table: authentication (401 before
 * anything else is said about the path), routing (404, 405), the handler.
 * The caller sets req->path, body, deps, db and the header/query accessors. */
void api_dispatch(struct api_req *req, const char *method, struct api_resp *resp);

#endif
