/* Sessions as JSON: see session_json.h. */
#define _GNU_SOURCE
#include "api/session_json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/resource.h"
#include "concentrator/registry.h"
#include "concentrator/stats.h"

static bool grow(struct api_buf *b, size_t more)
{
    if (b->failed)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
        free(b->p);
        b->p = NULL;
        b->len = b->cap = 0;
        b->failed = true;
        return false;
    }
    b->p = np;
    b->cap = cap;
    return true;
}

void api_buf_put(struct api_buf *b, const char *s, size_t n)
{
    if (!grow(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void api_buf_puts(struct api_buf *b, const char *s)
{
    api_buf_put(b, s, strlen(s));
}

void api_buf_printf(struct api_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        api_buf_put(b, tmp, (size_t)n);
        return;
    }
    if (!grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        n = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void api_buf_json_str(struct api_buf *b, const char *s)
{
    if (!s) {
        api_buf_put(b, "null", 4);
        return;
    }
    api_buf_put(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            api_buf_put(b, (const char *)run, (size_t)(p - run));
        if (!*p)
            break;
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p++};
            api_buf_put(b, e, 2);
        } else if (*p < 0x20) {
            api_buf_printf(b, "\\u%04x", *p++);
        } else {
            size_t n = utf8_len(p);
            if (n) {
                api_buf_put(b, (const char *)p, n);
                p += n;
            } else {
                api_buf_puts(b, "\\ufffd");
                p++;
            }
        }
    }
    api_buf_put(b, "\"", 1);
}

void api_buf_free(struct api_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static void time_or_null(struct api_buf *b, int64_t t)
{
    if (t <= 0) {
        api_buf_put(b, "null", 4);
        return;
    }
    char ts[48];
    api_time_str(t, ts, sizeof(ts));
    api_buf_json_str(b, ts);
}

static void counters(struct api_buf *b, const struct reg_counters *c)
{
    api_buf_printf(b,
                   "\"bytes_in\":%llu,\"bytes_out\":%llu,\"packets_in\":%llu,\"packets_out\":%llu",
                   (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
                   (unsigned long long)c->packets_in, (unsigned long long)c->packets_out);
}

static void ts_list(struct api_buf *b, const char *csv)
{
    api_buf_put(b, "[", 1);
    char buf[sizeof(((struct reg_child *)0)->ts_local)];
    snprintf(buf, sizeof(buf), "%s", csv);
    char *save = NULL;
    bool first = true;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!first)
            api_buf_put(b, ",", 1);
        api_buf_json_str(b, t);
        first = false;
    }
    api_buf_put(b, "]", 1);
}

void api_session_write(struct api_buf *b, const struct stats *st, const struct reg_session *s)
{
    struct reg_counters tot;
    stats_session_totals(st, s, &tot);
    api_buf_puts(b, "{\"id\":");
    api_buf_json_str(b, s->id);
    api_buf_puts(b, ",\"tenant\":");
    api_buf_json_str(b, s->tenant);
    api_buf_puts(b, ",\"identity\":");
    api_buf_json_str(b, s->identity);
    api_buf_puts(b, ",\"username\":");
    api_buf_json_str(b, s->username[0] ? s->username : NULL);
    api_buf_puts(b, ",\"auth_method\":");
    api_buf_json_str(b, s->auth);
    api_buf_puts(b, ",\"client\":{\"address\":");
    api_buf_json_str(b, s->client_addr);
    api_buf_printf(b, ",\"port\":%u},\"nat_detected\":%s,\"virtual_addresses\":[",
                   (unsigned)s->client_port, s->nat ? "true" : "false");
    if (s->vip4[0])
        api_buf_json_str(b, s->vip4);
    if (s->vip6[0]) {
        if (s->vip4[0])
            api_buf_put(b, ",", 1);
        api_buf_json_str(b, s->vip6);
    }
    api_buf_puts(b, "],\"established_at\":");
    time_or_null(b, s->established_at);
    api_buf_puts(b, ",\"last_activity_at\":");
    time_or_null(b, s->last_activity > s->established_at ? s->last_activity : s->established_at);
    api_buf_puts(b, ",\"ike\":{\"algorithms\":");
    api_buf_json_str(b, s->ike_alg);
    api_buf_puts(b, "},\"child_sas\":[");
    if (s->has_child) {
        const struct reg_child *c = &s->child;
        /* The CHILD_SA's own traffic: totals minus CHILD_SAs that are gone. */
        struct reg_counters live = {
            tot.bytes_in - s->base.bytes_in, tot.bytes_out - s->base.bytes_out,
            tot.packets_in - s->base.packets_in, tot.packets_out - s->base.packets_out};
        api_buf_printf(b, "{\"spi_in\":\"%08x\",\"spi_out\":\"%08x\",\"algorithms\":",
                       (unsigned)c->spi_in, (unsigned)c->spi_out);
        api_buf_json_str(b, c->alg);
        api_buf_puts(b, ",\"local_ts\":");
        ts_list(b, c->ts_local);
        api_buf_puts(b, ",\"remote_ts\":");
        ts_list(b, c->ts_remote);
        api_buf_printf(b, ",\"rekeys\":%u,\"established_at\":", c->rekeys);
        time_or_null(b, c->established_at);
        api_buf_put(b, ",", 1);
        counters(b, &live);
        api_buf_put(b, "}", 1);
    }
    api_buf_puts(b, "],\"totals\":{");
    counters(b, &tot);
    api_buf_puts(b, "}}");
}
