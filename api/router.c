/* Routing: see router.h. */
#include "api/router.h"

#include <stdbool.h>
#include <string.h>

enum api_method api_method_parse(const char *s)
{
    if (!strcmp(s, "GET") || !strcmp(s, "HEAD"))
        return API_GET;
    if (!strcmp(s, "POST"))
        return API_POST;
    if (!strcmp(s, "PATCH"))
        return API_PATCH;
    if (!strcmp(s, "PUT"))
        return API_PUT;
    if (!strcmp(s, "DELETE"))
        return API_DELETE;
    return API_OTHER;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long api_path_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (unsigned char)(h << 4 | l);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || c == '/')
            return -1;
        if (o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}

/* Matches one pattern against path; fills params. */
static bool match(const char *pat, const char *path, struct api_req *req)
{
    unsigned np = 0;
    while (*pat && *path) {
        if (*pat != '/' || *path != '/')
            return false;
        pat++;
        path++;
        const char *pe = strchr(pat, '/');
        const char *se = strchr(path, '/');
        size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
        size_t sl = se ? (size_t)(se - path) : strlen(path);
        if (pl >= 2 && pat[0] == '{') {
            if (sl == 0 || np >= API_MAX_PARAMS)
                return false;
            if (req && api_path_decode(path, sl, req->params[np], API_PARAM_MAX) <= 0)
                return false;
            if (!req) {
                char tmp[API_PARAM_MAX];
                if (api_path_decode(path, sl, tmp, sizeof(tmp)) <= 0)
                    return false;
            }
            np++;
        } else if (pl != sl || memcmp(pat, path, pl) != 0) {
            return false;
        }
        pat += pl;
        path += sl;
    }
    if (*pat || *path)
        return false;
    if (req)
        req->nparams = np;
    return true;
}

unsigned api_route_match(const struct api_route *routes, size_t n, enum api_method m,
                         const char *path, struct api_req *req, const struct api_route **out)
{
    bool path_known = false;
    for (size_t i = 0; i < n; i++) {
        if (routes[i].method != m) {
            if (!path_known && match(routes[i].pattern, path, NULL))
                path_known = true;
            continue;
        }
        if (match(routes[i].pattern, path, req)) {
            *out = &routes[i];
            return 0;
        }
    }
    *out = NULL;
    return path_known ? 405 : 404;
}

bool api_route_public(const struct api_route *routes, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (routes[i].flags & API_ROUTE_NOAUTH && match(routes[i].pattern, path, NULL))
            return true;
    return false;
}
