/* Pagination: see page.h. */
#include "api/page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/problem.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void api_page_cursor(const char *key, char *out, size_t cap)
{
    char raw[API_PARAM_MAX + 4];
    int n = snprintf(raw, sizeof(raw), "c1:%s", key);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof(raw) ? sizeof(raw) - 1 : (size_t)n;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i += 3) {
        unsigned v = (unsigned char)raw[i] << 16;
        if (i + 1 < len)
            v |= (unsigned char)raw[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)raw[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = b64[v >> 6 & 63];
        if (i + 2 < len)
            out[o++] = b64[v & 63];
    }
    out[o] = '\0';
}

static int b64val(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

bool api_page_decode(const char *cursor, char *key, size_t cap)
{
    char raw[API_PARAM_MAX + 4];
    size_t n = strlen(cursor), o = 0;
    if (n == 0 || n % 4 == 1 || n > (sizeof(raw) - 1) / 3 * 4)
        return false;
    for (size_t i = 0; i < n; i += 4) {
        int v[4] = {0, 0, 0, 0};
        size_t take = n - i < 4 ? n - i : 4;
        for (size_t j = 0; j < take; j++)
            if ((v[j] = b64val(cursor[i + j])) < 0)
                return false;
        unsigned w = (unsigned)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        raw[o++] = (char)(w >> 16);
        if (take > 2)
            raw[o++] = (char)(w >> 8 & 0xff);
        if (take > 3)
            raw[o++] = (char)(w & 0xff);
    }
    raw[o] = '\0';
    if (o < 3 || memcmp(raw, "c1:", 3) != 0 || strlen(raw) != o || o - 3 >= cap)
        return false;
    memcpy(key, raw + 3, o - 2);
    return true;
}

bool api_page_parse(const struct api_req *req, struct api_page *pg, struct api_resp *resp)
{
    pg->limit = API_PAGE_DEFAULT;
    pg->has_after = false;
    pg->after[0] = '\0';
    const char *l = api_query(req, "limit");
    if (l) {
        char *end = NULL;
        long v = strtol(l, &end, 10);
        if (!*l || *end || v < 1 || v > API_PAGE_MAX) {
            api_problem(resp, 400, "limit", "limit: must be an integer from 1 to %d", API_PAGE_MAX);
            return false;
        }
        pg->limit = (unsigned)v;
    }
    const char *c = api_query(req, "cursor");
    if (c) {
        if (!api_page_decode(c, pg->after, sizeof(pg->after))) {
            api_problem(resp, 400, "cursor", "cursor: not a cursor this API returned");
            return false;
        }
        pg->has_after = true;
    }
    return true;
}

void api_page_send(struct api_resp *resp, json_object *items, const char *next_key)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "items", items);
    if (next_key) {
        char cur[API_PARAM_MAX * 2];
        api_page_cursor(next_key, cur, sizeof(cur));
        json_object_object_add(o, "next_cursor", json_object_new_string(cur));
    } else {
        json_object_object_add(o, "next_cursor", NULL);
    }
    api_resp_json(resp, 200, o);
}
