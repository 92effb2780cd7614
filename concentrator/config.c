/* Configuration file parsing: see config.h. */
#define _GNU_SOURCE
#include "concentrator/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->database, sizeof(cfg->database), "/var/lib/isthmus/isthmus.db");
    cfg->log_level = LOG_LVL_INFO;
    snprintf(cfg->master_key_file, sizeof(cfg->master_key_file), "/etc/isthmus/master.key");
    cfg->history_retention_days = 90;
    snprintf(cfg->ike_listen[0], CONFIG_ADDR_MAX, "0.0.0.0");
    cfg->ike_listen_count = 1;
    cfg->ike_port = 500;
    cfg->natt_port = 4500;
    cfg->half_open_limit = 10000;
    cfg->half_open_per_peer = 50;
    cfg->cookie_threshold = 500;
    cfg->half_open_timeout_s = 30;
    cfg->dpd_delay_s = 30;
    cfg->retransmit_base_ms = 2000;
    cfg->retransmit_tries = 5;
    cfg->esp_workers = 0;
    cfg->esp_linger_us = 500;
    cfg->esp_offloads = true;
    snprintf(cfg->api_listen, sizeof(cfg->api_listen), "127.0.0.1:8443");
    cfg->api_threads = 4;
    cfg->api_nice = 10;
}

struct parse_state {
    struct config *cfg;
    const char *dir; /* folder of the config file, for relative paths */
    FILE *f;
    int lineno;    /* lines read so far: the line being parsed */
    int err_line;  /* line of err */
    char err[256]; /* first error, without the line */
};

typedef int (*setter_fn)(struct parse_state *st, void *field, size_t size, const char *value);

struct key_def {
    const char *section;
    const char *name;
    setter_fn set;
    size_t offset;
    size_t size;
    unsigned min, max; /* for integers */
};

static int set_string(struct parse_state *st, void *field, size_t size, const char *value)
{
    if (strlen(value) >= size) {
        snprintf(st->err, sizeof(st->err), "value is longer than %zu characters", size - 1);
        return -1;
    }
    memcpy(field, value, strlen(value) + 1);
    return 0;
}

static int set_path(struct parse_state *st, void *field, size_t size, const char *value)
{
    if (value[0] == '\0' || value[0] == '/' || !st->dir)
        return set_string(st, field, size, value);
    char buf[CONFIG_PATH_MAX * 2];
    snprintf(buf, sizeof(buf), "%s/%s", st->dir, value);
    return set_string(st, field, size, buf);
}

static int set_bool(struct parse_state *st, void *field, size_t size, const char *value)
{
    (void)size;
    bool *b = field;
    if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") || !strcmp(value, "1") ||
        !strcasecmp(value, "on")) {
        *b = true;
    } else if (!strcasecmp(value, "no") || !strcasecmp(value, "false") || !strcmp(value, "0") ||
               !strcasecmp(value, "off")) {
        *b = false;
    } else {
        snprintf(st->err, sizeof(st->err), "'%s' is not a boolean (yes/no)", value);
        return -1;
    }
    return 0;
}

static int parse_uint(struct parse_state *st, const char *value, unsigned min, unsigned max,
                      unsigned *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)value[0])) {
        snprintf(st->err, sizeof(st->err), "'%s' is not a whole number", value);
        return -1;
    }
    unsigned long v = strtoul(value, &end, 10);
    if (errno || *end != '\0') {
        snprintf(st->err, sizeof(st->err), "'%s' is not a whole number", value);
        return -1;
    }
    if (v < min || v > max) {
        snprintf(st->err, sizeof(st->err), "%lu is out of range %u..%u", v, min, max);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static int set_level(struct parse_state *st, void *field, size_t size, const char *value)
{
    (void)size;
    if (!log_level_parse(value, field)) {
        snprintf(st->err, sizeof(st->err),
                 "'%s' is not a log level (error, warn, notice, info, debug)", value);
        return -1;
    }
    return 0;
}

static bool valid_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int config_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon;
    size_t hl;
    bool bracketed = s[0] == '[';
    if (bracketed) {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        hl = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return -1;
    /* An IPv6 address needs its brackets: "::1:8443" is itself an address. */
    if (!bracketed && memchr(s, ':', hl))
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (!isdigit((unsigned char)colon[1]))
        return -1;
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || *end != '\0' || p == 0 || p > 65535)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

static int set_hostport(struct parse_state *st, void *field, size_t size, const char *value)
{
    char host[CONFIG_ADDR_MAX];
    uint16_t port;
    if (value[0] == '\0')
        return set_string(st, field, size, value);
    if (config_split_hostport(value, host, sizeof(host), &port) < 0 || !valid_ip(host)) {
        snprintf(st->err, sizeof(st->err), "'%s' is not an address:port (e.g. 127.0.0.1:8443)",
                 value);
        return -1;
    }
    return set_string(st, field, size, value);
}

/* A list of items separated by commas or white space into out[max][len]:
 * each checked by ok (NULL: refused, with the reason for "'item' is ...");
 * *count is how many. Returns 0, or -1 with st->err. */
static int set_list(struct parse_state *st, const char *value, char *out, size_t len, unsigned max,
                    unsigned *count, const char *what, const char *(*ok)(const char *item))
{
    char buf[1024];
    if (strlen(value) >= sizeof(buf)) {
        snprintf(st->err, sizeof(st->err), "list is too long");
        return -1;
    }
    strcpy(buf, value);
    *count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        const char *why = ok(tok);
        if (why) {
            snprintf(st->err, sizeof(st->err), "'%.64s' is %s", tok, why);
            return -1;
        }
        if (*count == max) {
            snprintf(st->err, sizeof(st->err), "more than %u %s", max, what);
            return -1;
        }
        snprintf(out + (size_t)(*count)++ * len, len, "%s", tok);
    }
    return 0;
}

static const char *listen_item(const char *tok)
{
    return valid_ip(tok) && strlen(tok) < CONFIG_ADDR_MAX ? NULL : "not an IPv4 or IPv6 address";
}

static int set_listen_list(struct parse_state *st, void *field, size_t size, const char *value)
{
    (void)field;
    (void)size;
    struct config *cfg = st->cfg;
    if (set_list(st, value, cfg->ike_listen[0], CONFIG_ADDR_MAX, CONFIG_MAX_LISTEN,
                 &cfg->ike_listen_count, "addresses", listen_item) < 0)
        return -1;
    if (cfg->ike_listen_count == 0) {
        snprintf(st->err, sizeof(st->err), "at least one address is needed");
        return -1;
    }
    return 0;
}

static const char *ifname_item(const char *tok)
{
    size_t n = strlen(tok);
    return n < CONFIG_IFNAME_MAX && strspn(tok, "abcdefghijklmnopqrstuvwxyz"
                                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@") == n
               ? NULL
               : "not an interface name (at most 15 letters, digits, - _ . @)";
}

/* [esp] xdp: interface names; empty: none. */
static int set_xdp_list(struct parse_state *st, void *field, size_t size, const char *value)
{
    (void)field;
    (void)size;
    struct config *cfg = st->cfg;
    return set_list(st, value, cfg->esp_xdp[0], CONFIG_IFNAME_MAX, CONFIG_MAX_XDP,
                    &cfg->esp_xdp_count, "interfaces", ifname_item);
}

static int set_uint_field(struct parse_state *st, const struct key_def *k, const char *value)
{
    unsigned v;
    if (parse_uint(st, value, k->min, k->max, &v) < 0)
        return -1;
    char *field = (char *)st->cfg + k->offset;
    if (k->size == sizeof(uint16_t))
        *(uint16_t *)(void *)field = (uint16_t)v;
    else
        *(unsigned *)(void *)field = v;
    return 0;
}

#define F(name) offsetof(struct config, name), sizeof(((struct config *)0)->name)

static const struct key_def keys[] = {
    {"daemon", "database", set_path, F(database), 0, 0},
    {"daemon", "log_level", set_level, F(log_level), 0, 0},
    {"daemon", "log_file", set_path, F(log_file), 0, 0},
    {"daemon", "syslog", set_bool, F(syslog), 0, 0},
    {"daemon", "master_key_file", set_path, F(master_key_file), 0, 0},
    {"daemon", "default_tenant", set_string, F(default_tenant), 0, 0},
    {"daemon", "tenant_hook", set_path, F(tenant_hook), 0, 0},
    {"daemon", "history_retention_days", NULL, F(history_retention_days), 1, 36500},
    {"ike", "listen", set_listen_list, 0, 0, 0, 0},
    {"ike", "port", NULL, F(ike_port), 1, 65535},
    {"ike", "natt_port", NULL, F(natt_port), 1, 65535},
    {"ike", "half_open_limit", NULL, F(half_open_limit), 1, 1000000},
    {"ike", "half_open_per_peer", NULL, F(half_open_per_peer), 1, 100000},
    {"ike", "cookie_threshold", NULL, F(cookie_threshold), 0, 1000000},
    {"ike", "half_open_timeout", NULL, F(half_open_timeout_s), 1, 3600},
    {"ike", "dpd_delay", NULL, F(dpd_delay_s), 0, 86400},
    {"ike", "retransmit_timeout", NULL, F(retransmit_base_ms), 100, 60000},
    {"ike", "retransmit_tries", NULL, F(retransmit_tries), 0, 20},
    {"esp", "workers", NULL, F(esp_workers), 0, 64},
    {"esp", "linger", NULL, F(esp_linger_us), 0, 10000},
    {"esp", "offloads", set_bool, F(esp_offloads), 0, 0},
    {"esp", "xdp", set_xdp_list, 0, 0, 0, 0},
    {"api", "listen", set_hostport, F(api_listen), 0, 0},
    {"api", "tls_cert", set_path, F(api_tls_cert), 0, 0},
    {"api", "tls_key", set_path, F(api_tls_key), 0, 0},
    {"api", "threads", NULL, F(api_threads), 1, 64},
    {"api", "nice", NULL, F(api_nice), 0, 19},
    {"api", "metrics_listen", set_hostport, F(metrics_listen), 0, 0},
};

/* Records the first error with the line it is on. */
static void set_error(struct parse_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(struct parse_state *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->err, sizeof(st->err), fmt, ap);
    va_end(ap);
    st->err_line = st->lineno;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse_state *st = user;
    if (st->err[0])
        return 0; /* keep only the first error */
    bool section_known = false;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct key_def *k = &keys[i];
        if (strcmp(k->section, section) != 0)
            continue;
        section_known = true;
        if (strcmp(k->name, name) != 0)
            continue;
        int rc;
        if (k->set)
            rc = k->set(st, (char *)st->cfg + k->offset, k->size, value);
        else
            rc = set_uint_field(st, k, value);
        if (rc < 0) {
            char tmp[sizeof(st->err)];
            snprintf(tmp, sizeof(tmp), "%s", st->err);
            set_error(st, "[%s] %s: %s", section, name, tmp);
            return 0;
        }
        return 1;
    }
    if (!section_known)
        set_error(st, "unknown section [%s] (key '%s')", section, name);
    else
        set_error(st, "unknown key '%s' in section [%s]", name, section);
    return 0;
}

/* inih's line reader (fgets-like), counting lines so that an error is
 * reported on the line that holds it, whatever inih's own first error line
 * is. A line too long for inih's buffer is an error here, and the rest of it
 * is skipped: inih would otherwise parse the rest as a line of its own. */
static char *read_line(char *str, int num, void *stream)
{
    struct parse_state *st = stream;
    if (!fgets(str, num, st->f))
        return NULL;
    st->lineno++;
    size_t n = strlen(str);
    if (n + 1 == (size_t)num && str[n - 1] != '\n') {
        int c = fgetc(st->f);
        if (c == EOF || c == '\n')
            return str; /* the line fit exactly */
        while ((c = fgetc(st->f)) != EOF && c != '\n')
            ;
        if (!st->err[0])
            set_error(st, "line is longer than %d characters", num - 1);
        str[0] = '\0'; /* an empty line: the error above is the one reported */
    }
    return str;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
    struct parse_state st = {.cfg = cfg};
    char dir[CONFIG_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        st.dir = dir[0] ? dir : "/";
    } else {
        st.dir = ".";
    }

    st.f = fopen(path, "r");
    if (!st.f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    int line = ini_parse_stream(read_line, &st, handler, &st);
    fclose(st.f);
    if (line < 0) {
        snprintf(err, errlen, "%s: cannot read", path);
        return -1;
    }
    /* inih gives the first line it found wrong; a syntax error (which our
     * handler never sees) may come before or after the error we recorded. */
    if (st.err[0] && (line == 0 || st.err_line <= line)) {
        snprintf(err, errlen, "%s:%d: %s", path, st.err_line, st.err);
        return -1;
    }
    if (line > 0) {
        snprintf(err, errlen, "%s:%d: syntax error (expected 'key = value' or '[section]')", path,
                 line);
        return -1;
    }
    if ((cfg->api_tls_cert[0] != '\0') != (cfg->api_tls_key[0] != '\0')) {
        snprintf(err, errlen, "%s: [api] tls_cert and tls_key must be set together", path);
        return -1;
    }
    if (cfg->ike_port == cfg->natt_port) {
        snprintf(err, errlen, "%s: [ike] port and natt_port must differ", path);
        return -1;
    }
    return 0;
}
