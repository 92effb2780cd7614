/*
 * One API request and its response, as handlers see them. The server fills a
 * struct api_req (method, path parameters, body, the caller's identity, this
 * thread's database connection); a handler fills the struct api_resp.
 * Nothing here depends on libmicrohttpd, so the handlers, the router and the
 * validation can be driven from unit tests and fuzzers.
 */
#ifndef ISTHMUS_API_HTTP_H
#define ISTHMUS_API_HTTP_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "auth/token.h"

#define API_MAX_BODY   (1024 * 1024) /* larger request bodies: 413 */
#define API_MAX_PARAMS 3
#define API_PARAM_MAX  256
#define API_TENANT_MAX 64

struct api_deps;
struct api_stream;

enum api_method { API_GET, API_POST, API_PATCH, API_PUT, API_DELETE, API_OTHER };

enum api_role {
    API_ROLE_NONE = 0,
    API_ROLE_OPERATOR,
    API_ROLE_TENANT_ADMIN,
    API_ROLE_TENANT_VIEWER
};

/* Who is calling: from the bearer token. */
struct api_principal {
    enum api_role role;
    char token_id[TOKEN_ID_LEN + 1];
    char tenant[API_TENANT_MAX]; /* "" for operators */
};

struct api_req {
    enum api_method method;
    const char *path;
    /* Path parameters captured by the router ({tenant}, {name}), decoded. */
    char params[API_MAX_PARAMS][API_PARAM_MAX];
    unsigned nparams;
    const char *body; /* NUL-terminated; NULL when there is none */
    size_t body_len;
    struct api_principal who;
    const struct api_deps *deps;
    sqlite3 *db; /* this thread's connection */
    /* Query string and header access (the server's, or a test's). */
    const char *(*query)(const struct api_req *r, const char *name);
    const char *(*header)(const struct api_req *r, const char *name);
    void *io; /* for query/header */
};

struct api_resp {
    unsigned status;
    char *body; /* malloc'd; NULL: no body */
    size_t len;
    const char *ctype;     /* static string */
    char location[512];    /* "" for none */
    char etag[64];         /* "" for none */
    char disposition[160]; /* Content-Disposition, "" for none */
    /* GET /events: the server answers with this event stream instead of a
     * body (api/events_stream.h); NULL for every other response. */
    struct api_stream *stream;
};

/* Sets a JSON body (takes ownership of obj and puts it). */
void api_resp_json(struct api_resp *resp, unsigned status, json_object *obj);
/* Sets a raw body of the given content type (copied). */
void api_resp_raw(struct api_resp *resp, unsigned status, const char *ctype, const void *data,
                  size_t len);
void api_resp_free(struct api_resp *resp);

static inline const char *api_query(const struct api_req *r, const char *name)
{
    return r->query ? r->query(r, name) : NULL;
}
static inline const char *api_header(const struct api_req *r, const char *name)
{
    return r->header ? r->header(r, name) : NULL;
}

#endif
