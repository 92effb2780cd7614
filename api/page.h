/*
 * Pagination of lists: ?limit= (default 100, at most 1000) and ?cursor=, an
 * opaque string from the previous page's next_cursor. Lists are ordered by a
 * unique key; the cursor carries the last key of the page (base64url).
 */
#ifndef ISTHMUS_API_PAGE_H
#define ISTHMUS_API_PAGE_H

#include <stdbool.h>

#include "api/http.h"

#define API_PAGE_DEFAULT 100
#define API_PAGE_MAX     1000

struct api_page {
    unsigned limit;
    bool has_after;
    char after[API_PARAM_MAX]; /* the last key of the previous page */
};

/* Reads limit and cursor; false with a 400 in resp. */
bool api_page_parse(const struct api_req *req, struct api_page *pg, struct api_resp *resp);

/* Encodes key as a cursor into out. */
void api_page_cursor(const char *key, char *out, size_t cap);

/* Decodes a cursor; false if it is not one of ours. */
bool api_page_decode(const char *cursor, char *key, size_t cap);

/* A list response: {"items": items, "next_cursor": cursor-or-null}. Takes items. */
void api_page_send(struct api_resp *resp, json_object *items, const char *next_key);

#endif
