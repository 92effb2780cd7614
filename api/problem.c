/* Problem details: see problem.h. */
#include "api/problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *api_status_title(unsigned status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 428:
        return "Precondition Required";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

void api_problem_set(struct api_problem *p, unsigned status, const char *field, const char *fmt,
                     ...)
{
    p->status = status;
    snprintf(p->field, sizeof(p->field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
    va_end(ap);
}

void api_problem_send(struct api_resp *resp, const struct api_problem *p)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("about:blank"));
    json_object_object_add(o, "title", json_object_new_string(api_status_title(p->status)));
    json_object_object_add(o, "status", json_object_new_int((int)p->status));
    json_object_object_add(o, "detail", json_object_new_string(p->detail));
    if (p->field[0])
        json_object_object_add(o, "field", json_object_new_string(p->field));
    api_resp_json(resp, p->status, o);
    resp->ctype = "application/problem+json";
}

void api_problem(struct api_resp *resp, unsigned status, const char *field, const char *fmt, ...)
{
    struct api_problem p = {.status = status};
    snprintf(p.field, sizeof(p.field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p.detail, sizeof(p.detail), fmt, ap);
    va_end(ap);
    api_problem_send(resp, &p);
}

void api_resp_json(struct api_resp *resp, unsigned status, json_object *obj)
{
    size_t len = 0;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    free(resp->body);
    resp->body = malloc(len + 1);
    if (resp->body) {
        memcpy(resp->body, s, len + 1);
        resp->len = len;
    } else {
        resp->len = 0;
    }
    resp->status = status;
    resp->ctype = "application/json";
    json_object_put(obj);
}

void api_resp_raw(struct api_resp *resp, unsigned status, const char *ctype, const void *data,
                  size_t len)
{
    free(resp->body);
    resp->body = malloc(len + 1);
    if (resp->body) {
        memcpy(resp->body, data, len);
        resp->body[len] = '\0';
        resp->len = len;
    } else {
        resp->len = 0;
    }
    resp->status = status;
    resp->ctype = ctype;
}

void api_resp_free(struct api_resp *resp)
{
    if (!resp)
        return;
    free(resp->body);
    resp->body = NULL;
    resp->len = 0;
}
