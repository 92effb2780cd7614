/*
 * A growing buffer of JSON text, for the hot paths: list rows go from the
 * SQLite statement, and live sessions from the registry, straight into the
 * response text without a json-c tree per item (which cost most of a
 * 100-row page, and ~40 ms of a 1,000-session page).
 *
 * Strings are escaped (quotes, backslash, control characters) and invalid
 * UTF-8 is replaced with U+FFFD, so text a peer or a client supplied cannot
 * break the JSON. Numbers are formatted without stdio. After an allocation
 * failure the buffer stays failed (oom) and every call does nothing.
 */
#ifndef ISTHMUS_API_JBUF_H
#define ISTHMUS_API_JBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct jbuf {
    char *p; /* malloc'd, NUL-terminated while !oom */
    size_t len, cap;
    bool oom;
};

void jb_init(struct jbuf *b, size_t cap);
void jb_free(struct jbuf *b); /* NULL accepted */
/* Hands the text over (the caller frees it); NULL after a failure. The
 * buffer is left empty. */
char *jb_take(struct jbuf *b, size_t *len);
void jb_raw(struct jbuf *b, const char *s, size_t n);
/* NUL-terminated raw text (inline: the length of a literal is folded). */
static inline void jb_lit(struct jbuf *b, const char *s)
{
    jb_raw(b, s, strlen(s));
}
/* A JSON string of s[0..n). */
void jb_str(struct jbuf *b, const char *s, size_t n);
/* A JSON string of the NUL-terminated s, or null when s is NULL. */
void jb_cstr(struct jbuf *b, const char *s);
void jb_int(struct jbuf *b, long long v);
void jb_u64(struct jbuf *b, uint64_t v);
/* "%08x" of v, as a JSON string. */
void jb_hex32(struct jbuf *b, uint32_t v);
/* ,"key": (no comma when first) */
void jb_key(struct jbuf *b, const char *key, bool first);

#endif
