/*
 * A growing buffer of JSON text, for the hot list paths: rows go from the
 * SQLite statement straight into the response text without a json-c tree
 * per row (which cost most of a 100-row page).
 */
#ifndef ISTHMUS_API_JBUF_H
#define ISTHMUS_API_JBUF_H

#include <stdbool.h>
#include <stddef.h>

struct jbuf {
    char *p; /* malloc'd, NUL-terminated while !oom */
    size_t len, cap;
    bool oom;
};

void jb_init(struct jbuf *b, size_t cap);
void jb_free(struct jbuf *b); /* NULL accepted */
void jb_raw(struct jbuf *b, const char *s, size_t n);
void jb_lit(struct jbuf *b, const char *s); /* NUL-terminated raw text */
/* A JSON string of s[0..n): quotes, backslashes and control characters
 * escaped; other bytes as they are (stored text is UTF-8, validated on input). */
void jb_str(struct jbuf *b, const char *s, size_t n);
void jb_int(struct jbuf *b, long long v);
/* ,"key": (no comma when first) */
void jb_key(struct jbuf *b, const char *key, bool first);

#endif
