/* The REST API server (libmicrohttpd glue): see server.h. Bodies are read
 * into memory up to API_MAX_BODY (413 beyond, before anything is parsed);
 * api_dispatch does the rest. */
#define _GNU_SOURCE
#include "api/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/conn.h"
#include "api/events_stream.h"
#include "api/handlers.h"
#include "api/problem.h"
#include "api/router.h"
#include "concentrator/config.h"
#include "concentrator/log.h"
#include "concentrator/stats.h"

struct api_server {
    struct MHD_Daemon *mhd;
    struct api_deps deps;
    char *tls_cert, *tls_key; /* PEM text, owned */
    int nice;                 /* of each HTTP thread ([api] nice) */
};

#define DISCARD_MAX (16u * 1024 * 1024)

/* One request's state across libmicrohttpd's calls. */
struct pending {
    char *body;
    size_t len, cap;
    bool too_large;
};

static const char *conn_query(const struct api_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->io, MHD_GET_ARGUMENT_KIND, name);
}

static const char *conn_header(const struct api_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->io, MHD_HEADER_KIND, name);
}

/* GET /events: the connection becomes an event stream. */
static enum MHD_Result send_stream(struct MHD_Connection *c, struct api_resp *resp)
{
    api_resp_free(resp);
    struct MHD_Response *r = api_stream_response(resp->stream, c);
    resp->stream = NULL; /* the response's now (or closed) */
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct api_resp *resp)
{
    if (resp->stream)
        return send_stream(c, resp);
    struct MHD_Response *r =
        resp->body ? MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_FREE)
                   : MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        api_resp_free(resp);
        return MHD_NO;
    }
    resp->body = NULL; /* owned by the response now */
    if (resp->status != 204 && resp->ctype)
        MHD_add_response_header(r, "Content-Type", resp->ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (resp->location[0])
        MHD_add_response_header(r, "Location", resp->location);
    if (resp->etag[0])
        MHD_add_response_header(r, "ETag", resp->etag);
    if (resp->disposition[0])
        MHD_add_response_header(r, "Content-Disposition", resp->disposition);
    if (resp->status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"isthmus\"");
    enum MHD_Result ret = MHD_queue_response(c, resp->status ? resp->status : 500, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_problem(struct MHD_Connection *c, unsigned status, const char *detail)
{
    struct api_resp resp = {0};
    api_problem(&resp, status, NULL, "%s", detail);
    return send_resp(c, &resp);
}

/* Gives the calling HTTP thread the configured niceness, once: a dashboard
 * rendering large pages then takes CPU from the ESP workers and the IKE
 * thread only when they leave some (Linux: niceness is per thread). */
static void lower_priority(int nice)
{
    static __thread bool done;
    if (done)
        return;
    done = true;
    pthread_setname_np(pthread_self(), "api-http");
    if (nice > 0 && setpriority(PRIO_PROCESS, (id_t)gettid(), nice) != 0)
        log_warn("api", "cannot set the API thread's niceness to %d: %s", nice, strerror(errno));
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)version;
    struct api_server *s = cls;
    struct pending *p = *req_cls;
    lower_priority(s->nice);
    if (!p) { /* first call: headers only */
        p = calloc(1, sizeof(*p));
        if (!p)
            return MHD_NO;
        *req_cls = p;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        unsigned long long announced = cl ? strtoull(cl, NULL, 10) : 0;
        /* A body a little too large is read and dropped, so that clients
         * which send it all before reading get the 413; a huge one is
         * refused at once and the connection closed. */
        if (announced > API_MAX_BODY)
            p->too_large = true;
        if (announced > DISCARD_MAX)
            return send_problem(c, 413, "the request body is larger than 1 MiB");
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (p->too_large || p->len + n > API_MAX_BODY) {
            p->too_large = true;
            return MHD_YES;
        }
        if (p->len + n + 1 > p->cap) {
            size_t cap = p->cap ? p->cap : 4096;
            while (cap < p->len + n + 1)
                cap *= 2;
            char *nb = realloc(p->body, cap);
            if (!nb)
                return MHD_NO;
            p->body = nb;
            p->cap = cap;
        }
        memcpy(p->body + p->len, upload, n);
        p->len += n;
        p->body[p->len] = '\0';
        return MHD_YES;
    }
    if (p->too_large)
        return send_problem(c, 413, "the request body is larger than 1 MiB");

    struct api_req req = {
        .path = url,
        .body = p->body,
        .body_len = p->len,
        .deps = &s->deps,
        .query = conn_query,
        .header = conn_header,
        .io = c,
    };
    req.db = api_conn(s->deps.cfg->database);
    struct api_resp resp = {0};
    api_dispatch(&req, method, &resp);
    if (log_enabled(LOG_LVL_DEBUG))
        log_debug("api", "%s %s -> %u (token %s)", method, url, resp.status,
                  req.who.token_id[0] ? req.who.token_id : "-");
    return send_resp(c, &resp);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct pending *p = *req_cls;
    if (p) {
        free(p->body);
        free(p);
        *req_cls = NULL;
    }
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

static void log_mhd(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
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
    /* Suspend/resume: an event stream with nothing to send is taken off
     * the loop (api/events_stream.h) instead of holding a thread. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
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
    s->deps.streams = NULL;
    if (deps->events &&
        !(s->deps.streams = api_streams_new(deps->events, API_STREAMS_MAX, err, errlen))) {
        api_server_stop(s);
        return NULL;
    }
    if (s->deps.streams && deps->stats)
        api_streams_gauge(s->deps.streams, &deps->stats->event_streams);
    s->nice = (int)cfg->api_nice;
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
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL},
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
    (void)s;
    api_set_ready(ready);
}

void api_server_stop(struct api_server *s)
{
    if (!s)
        return;
    /* Open event streams end first: no connection may be suspended when
     * the daemon stops. */
    api_streams_stop(s->deps.streams);
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    api_streams_free(s->deps.streams);
    api_set_ready(false);
    free(s->tls_cert);
    if (s->tls_key) {
        explicit_bzero(s->tls_key, strlen(s->tls_key));
        free(s->tls_key);
    }
    free(s);
}
