/* JSON text buffer: see jbuf.h. */
#include "api/jbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jb_init(struct jbuf *b, size_t cap)
{
    b->len = 0;
    b->oom = false;
    b->cap = cap < 64 ? 64 : cap;
    b->p = malloc(b->cap);
    if (b->p)
        b->p[0] = '\0';
    else
        b->oom = true;
}

void jb_free(struct jbuf *b)
{
    if (!b)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static bool room(struct jbuf *b, size_t n)
{
    if (b->oom)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = b->cap;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = cap;
    return true;
}

void jb_raw(struct jbuf *b, const char *s, size_t n)
{
    if (!room(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void jb_lit(struct jbuf *b, const char *s)
{
    jb_raw(b, s, strlen(s));
}

void jb_str(struct jbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    if (!room(b, n * 6 + 2))
        return;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            *o++ = '\\';
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

void jb_int(struct jbuf *b, long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", v);
    jb_raw(b, tmp, (size_t)n);
}

void jb_key(struct jbuf *b, const char *key, bool first)
{
    if (!first)
        jb_raw(b, ",", 1);
    jb_str(b, key, strlen(key));
    jb_raw(b, ":", 1);
}
