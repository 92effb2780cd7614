/* The REST API server: see server.h. */
#define _GNU_SOURCE
#include "api/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "concentrator/config.h"
#include "concentrator/log.h"

struct api_server {
    struct MHD_Daemon *mhd;
    struct api_deps deps;
    atomic_bool ready;
    char *tls_cert, *tls_key; /* PEM text, owned */
};

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, const char *body,
                                 const char *ctype)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                        MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)version;
    (void)upload;
    struct api_server *s = cls;
    if (*req_cls == NULL) { /* first call: headers only */
        *req_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) { /* no body is read yet by these routes */
        *upload_size = 0;
        return MHD_YES;
    }
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    if (get && (!strcmp(url, "/health") || !strcmp(url, "/api/v1/health")))
        return send_json(c, 200, "{\"status\":\"ok\"}", "application/json");
    if (get && (!strcmp(url, "/ready") || !strcmp(url, "/api/v1/ready"))) {
        if (atomic_load(&s->ready))
            return send_json(c, 200, "{\"status\":\"ready\"}", "application/json");
        return send_json(c, 503,
                         "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\","
                         "\"status\":503,\"detail\":\"the daemon is starting\"}",
                         "application/problem+json");
    }
    return send_json(c, 404,
                     "{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404,"
                     "\"detail\":\"no such resource\"}",
                     "application/problem+json");
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while (m && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    if (m)
        fclose(m);
    if (!buf)
        snprintf(err, errlen, "cannot read %s", path);
    return buf;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("api", "http: %s", msg);
}

struct api_server *api_server_start(const struct api_deps *deps, char *err, size_t errlen)
{
    const struct config *cfg = deps->cfg;
    char host[CONFIG_ADDR_MAX];
    uint16_t port;
    if (config_split_hostport(cfg->api_listen, host, sizeof(host), &port) < 0) {
        snprintf(err, errlen, "bad [api] listen '%s'", cfg->api_listen);
        return NULL;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "bad [api] listen address '%s'", host);
        return NULL;
    }

    struct api_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->deps = *deps;
    if (cfg->api_tls_cert[0]) {
        s->tls_cert = read_file(cfg->api_tls_cert, err, errlen);
        s->tls_key = s->tls_cert ? read_file(cfg->api_tls_key, err, errlen) : NULL;
        if (!s->tls_key) {
            api_server_stop(s);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }

    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->api_threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 1024, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 256 * 1024, NULL},
        {s->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    s->mhd = MHD_start_daemon(flags, port, NULL, NULL, handle, s, MHD_OPTION_EXTERNAL_LOGGER,
                              log_mhd, NULL, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "cannot listen for the API on %s (in use, or no permission)",
                 cfg->api_listen);
        api_server_stop(s);
        return NULL;
    }
    log_notice("api", "listening on %s (%s)", cfg->api_listen, s->tls_cert ? "https" : "http");
    return s;
}

void api_server_set_ready(struct api_server *s, bool ready)
{
    atomic_store(&s->ready, ready);
}

void api_server_stop(struct api_server *s)
{
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    free(s->tls_cert);
    if (s->tls_key) {
        explicit_bzero(s->tls_key, strlen(s->tls_key));
        free(s->tls_key);
    }
    free(s);
}
