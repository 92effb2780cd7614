/* One request through authentication, routing and its handler. */
#include "api/auth.h"
#include "api/problem.h"
#include "api/router.h"

void api_dispatch(struct api_req *req, const char *method, struct api_resp *resp)
{
    enum api_method m = api_method_parse(method);
    req->method = m;
    const struct api_route *route = NULL;
    unsigned miss = api_route_match(api_routes, api_routes_count, m, req->path, req, &route);
    if (route && route->flags & API_ROUTE_NOAUTH) {
        route->fn(req, resp);
        return;
    }
    if (!route && miss == 405 && api_route_public(api_routes, api_routes_count, req->path)) {
        api_problem(resp, 405, NULL, "%s is not allowed on %.200s", method, req->path);
        return;
    }
    if (!req->db) {
        api_problem(resp, 503, NULL, "the database is not available");
        return;
    }
    if (!api_authenticate(req, api_header(req, "Authorization"), resp))
        return;
    if (!route) {
        if (miss == 405)
            api_problem(resp, 405, NULL, "%s is not allowed on %.200s", method, req->path);
        else
            api_problem(resp, 404, NULL, "no resource %.200s", req->path);
        return;
    }
    route->fn(req, resp);
}
