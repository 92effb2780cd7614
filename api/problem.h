/*
 * RFC 9457 problem details (application/problem+json). Every error the API
 * returns goes through these, so each carries a title, the status and a detail
 * that says what was wrong; validation errors also name the offending field
 * (the "field" extension member, and in the detail).
 */
#ifndef ISTHMUS_API_PROBLEM_H
#define ISTHMUS_API_PROBLEM_H

#include "api/http.h"

/* A problem being built by validation code before it is sent. */
struct api_problem {
    unsigned status; /* 0: no problem */
    char field[128]; /* "" when no single field is at fault */
    char detail[512];
};

void api_problem_set(struct api_problem *p, unsigned status, const char *field, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* Writes p as the response. */
void api_problem_send(struct api_resp *resp, const struct api_problem *p);

/* Shorthand: a problem response with a detail (field may be NULL). */
void api_problem(struct api_resp *resp, unsigned status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

const char *api_status_title(unsigned status);

#endif
