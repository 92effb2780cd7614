/* JSON text buffer: see jbuf.h. */
#include "api/jbuf.h"

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

char *jb_take(struct jbuf *b, size_t *len)
{
    char *p = b->oom ? NULL : b->p;
    *len = p ? b->len : 0;
    if (!p)
        free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

static bool room(struct jbuf *b, size_t n)
{
    if (b->oom)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
        free(b->p);
        b->p = NULL;
        b->len = b->cap = 0;
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

/* Length of the valid UTF-8 sequence at s[0..n) (2-4), or 0 if invalid
 * (truncated, overlong, a surrogate, beyond U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0)
        len = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        len = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void jb_str(struct jbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes six (\u00XX or \ufffd). */
    if (!room(b, n * 6 + 2))
        return;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    char *o = b->p + b->len;
    *o++ = '"';
    while (p < end) {
        unsigned c = *p;
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            *o++ = (char)c;
            p++;
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
            p++;
        } else if (c < 0x80) { /* control characters and DEL */
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
            p++;
        } else {
            size_t len = utf8_len(p, (size_t)(end - p));
            if (len) {
                memcpy(o, p, len);
                o += len;
                p += len;
            } else {
                memcpy(o, "\\ufffd", 6);
                o += 6;
                p++;
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

void jb_cstr(struct jbuf *b, const char *s)
{
    if (s)
        jb_str(b, s, strlen(s));
    else
        jb_raw(b, "null", 4);
}

void jb_u64(struct jbuf *b, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    jb_raw(b, tmp + i, sizeof(tmp) - i);
}

void jb_int(struct jbuf *b, long long v)
{
    if (v < 0) {
        jb_raw(b, "-", 1);
        jb_u64(b, 0 - (uint64_t)v);
    } else {
        jb_u64(b, (uint64_t)v);
    }
}

void jb_hex32(struct jbuf *b, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[10];
    tmp[0] = tmp[9] = '"';
    for (int i = 8; i >= 1; i--, v >>= 4)
        tmp[i] = hex[v & 15];
    jb_raw(b, tmp, sizeof(tmp));
}

void jb_key(struct jbuf *b, const char *key, bool first)
{
    if (!first)
        jb_raw(b, ",", 1);
    jb_str(b, key, strlen(key));
    jb_raw(b, ":", 1);
}
