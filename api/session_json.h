/*
 * A live session as JSON (the Session schema of openapi.yaml), written
 * straight into a growing buffer: a 1,000-item page is ~750 KB, and
 * building it as json-c objects cost more than everything else a request
 * does (allocation and freeing of ~30 objects per item). Strings are
 * escaped (quotes, backslash, control characters) and invalid UTF-8 is
 * replaced with U+FFFD, so peer-supplied identities cannot break the JSON.
 */
#ifndef ISTHMUS_API_SESSION_JSON_H
#define ISTHMUS_API_SESSION_JSON_H

#include <stdbool.h>
#include <stddef.h>

struct reg_session;
struct stats;

struct api_buf {
    char *p;
    size_t len, cap;
    bool failed; /* out of memory: p is freed and NULL */
};

void api_buf_put(struct api_buf *b, const char *s, size_t n);
void api_buf_puts(struct api_buf *b, const char *s);
void api_buf_printf(struct api_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string (quotes included) of s, or null when s is NULL. */
void api_buf_json_str(struct api_buf *b, const char *s);
/* Frees p. */
void api_buf_free(struct api_buf *b);

/* Writes one session; st (may be NULL) supplies the live counters. */
void api_session_write(struct api_buf *b, const struct stats *st, const struct reg_session *s);

#endif
