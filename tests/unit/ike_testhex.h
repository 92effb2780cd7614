/*
 * Hex helpers for the IKE crypto unit tests: test vectors are written as hex
 * strings the way RFCs print them (spaces and newlines allowed).
 */
#ifndef ISTHMUS_IKE_TESTHEX_H
#define ISTHMUS_IKE_TESTHEX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int th_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes hex (whitespace ignored) into out (cap bytes); returns the length,
 * and aborts on a malformed constant: that is a bug in the test itself. */
static inline size_t th_unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        if (*s == ' ' || *s == '\n' || *s == '\t')
            continue;
        int v = th_nibble(*s);
        if (v < 0 || (hi >= 0 && n >= cap)) {
            fprintf(stderr, "bad hex constant near '%s'\n", s);
            abort();
        }
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0)
        abort();
    return n;
}

/* Bytes start, start+1, ... (mod 256): the deterministic inputs the
 * vectors generated with Python used. */
static inline void th_pattern(uint8_t *out, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(start + i);
}

/* Compares bytes with a hex string; prints both on mismatch. */
static inline int th_equal_hex(const uint8_t *got, size_t len, const char *want_hex)
{
    uint8_t want[1024];
    size_t wl = th_unhex(want_hex, want, sizeof(want));
    if (wl == len && memcmp(got, want, len) == 0)
        return 1;
    fprintf(stderr, "  got  (%zu): ", len);
    for (size_t i = 0; i < len; i++)
        fprintf(stderr, "%02x", got[i]);
    fprintf(stderr, "\n  want (%zu): %s\n", wl, want_hex);
    return 0;
}

#endif
