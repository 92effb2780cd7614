/*
 * The one bounds-checked cursor for untrusted bytes (IKE, ESP, RADIUS).
 * Header-only, so every module may use it (like log.h).
 *
 * A reader never reads past its end: every rd_* call checks the bytes left
 * and, when they are too few, marks the reader failed and returns 0/NULL.
 * Once failed, every later call fails too, so a parser can read a whole
 * header and check rd_ok() once. Network byte order throughout.
 *
 * A writer works the same way over a caller's buffer: wr_* past the end
 * marks it failed; nothing is ever written out of bounds.
 */
#ifndef ISTHMUS_WIRE_H
#define ISTHMUS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rd {
    const uint8_t *p;
    size_t left;
    bool failed;
};

static inline struct rd rd_init(const void *buf, size_t len)
{
    struct rd r = {(const uint8_t *)buf, len, false};
    return r;
}

static inline bool rd_ok(const struct rd *r)
{
    return !r->failed;
}

static inline size_t rd_left(const struct rd *r)
{
    return r->failed ? 0 : r->left;
}

static inline bool rd_need(struct rd *r, size_t n)
{
    if (r->failed || r->left < n) {
        r->failed = true;
        return false;
    }
    return true;
}

static inline uint8_t rd_u8(struct rd *r)
{
    if (!rd_need(r, 1))
        return 0;
    uint8_t v = r->p[0];
    r->p++;
    r->left--;
    return v;
}

static inline uint16_t rd_u16(struct rd *r)
{
    if (!rd_need(r, 2))
        return 0;
    uint16_t v = (uint16_t)(r->p[0] << 8 | r->p[1]);
    r->p += 2;
    r->left -= 2;
    return v;
}

static inline uint32_t rd_u32(struct rd *r)
{
    if (!rd_need(r, 4))
        return 0;
    uint32_t v =
        (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    r->left -= 4;
    return v;
}

static inline uint64_t rd_u64(struct rd *r)
{
    uint64_t hi = rd_u32(r);
    uint64_t lo = rd_u32(r);
    return hi << 32 | lo;
}

/* Returns a pointer to the next n bytes and skips them; NULL if short. */
static inline const uint8_t *rd_bytes(struct rd *r, size_t n)
{
    if (!rd_need(r, n))
        return NULL;
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

/* Copies the next n bytes into out; false if short (out untouched). */
static inline bool rd_copy(struct rd *r, void *out, size_t n)
{
    const uint8_t *p = rd_bytes(r, n);
    if (!p)
        return false;
    memcpy(out, p, n);
    return true;
}

static inline bool rd_skip(struct rd *r, size_t n)
{
    return rd_bytes(r, n) != NULL;
}

/* A sub-reader over the next n bytes, which the parent skips. If short, the
 * sub-reader and the parent are both failed. */
static inline struct rd rd_sub(struct rd *r, size_t n)
{
    const uint8_t *p = rd_bytes(r, n);
    struct rd s = {p, p ? n : 0, p == NULL};
    return s;
}

/* The rest of the reader (consumed). */
static inline const uint8_t *rd_rest(struct rd *r, size_t *n)
{
    *n = rd_left(r);
    return rd_bytes(r, *n);
}

struct wr {
    uint8_t *p;
    size_t cap, len;
    bool failed;
};

static inline struct wr wr_init(void *buf, size_t cap)
{
    struct wr w = {(uint8_t *)buf, cap, 0, false};
    return w;
}

static inline bool wr_ok(const struct wr *w)
{
    return !w->failed;
}

/* Reserves n bytes and returns where they start, or NULL. */
static inline uint8_t *wr_reserve(struct wr *w, size_t n)
{
    if (w->failed || w->cap - w->len < n) {
        w->failed = true;
        return NULL;
    }
    uint8_t *p = w->p + w->len;
    w->len += n;
    return p;
}

static inline void wr_u8(struct wr *w, uint8_t v)
{
    uint8_t *p = wr_reserve(w, 1);
    if (p)
        p[0] = v;
}

static inline void wr_u16(struct wr *w, uint16_t v)
{
    uint8_t *p = wr_reserve(w, 2);
    if (p) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
    }
}

static inline void wr_u32(struct wr *w, uint32_t v)
{
    uint8_t *p = wr_reserve(w, 4);
    if (p) {
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
    }
}

static inline void wr_u64(struct wr *w, uint64_t v)
{
    wr_u32(w, (uint32_t)(v >> 32));
    wr_u32(w, (uint32_t)v);
}

static inline void wr_bytes(struct wr *w, const void *src, size_t n)
{
    uint8_t *p = wr_reserve(w, n);
    if (p && n)
        memcpy(p, src, n);
}

/* Writes a 16-bit big-endian value at an earlier offset (a length field
 * filled in once the body is written). */
static inline void wr_patch_u16(struct wr *w, size_t off, uint16_t v)
{
    if (w->failed || off + 2 > w->len) {
        w->failed = true;
        return;
    }
    w->p[off] = (uint8_t)(v >> 8);
    w->p[off + 1] = (uint8_t)v;
}

static inline void wr_patch_u32(struct wr *w, size_t off, uint32_t v)
{
    if (w->failed || off + 4 > w->len) {
        w->failed = true;
        return;
    }
    w->p[off] = (uint8_t)(v >> 24);
    w->p[off + 1] = (uint8_t)(v >> 16);
    w->p[off + 2] = (uint8_t)(v >> 8);
    w->p[off + 3] = (uint8_t)v;
}

#endif
