/* Server-sent event streams over libmicrohttpd: see events_stream.h.
 *
 * Locks: the hub's mutex guards the list of streams and each stream's
 * state; the bus has its own (taken inside the hub's by events_read, never
 * the other way round). A stream is suspended only by its content callback
 * with the hub's mutex held, and marked so; it is resumed only by whoever
 * clears the mark under the same mutex (the pump, or api_streams_stop),
 * after letting go of it. A suspended connection is never closed by
 * libmicrohttpd, so the pointer stays good until that resume. */
#define _GNU_SOURCE
#include "api/events_stream.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api/jbuf.h"
#include "api/resource.h"
#include "concentrator/events.h"
#include "concentrator/log.h"

#define BATCH     8    /* events formatted per callback */
#define BLOCK     8192 /* libmicrohttpd's buffer for our content */
#define PUMP_MAX  API_STREAM_KEEPALIVE_MS
#define TENANT_SZ 64

struct api_stream {
    struct api_streams *hub;
    struct api_stream *prev, *next;
    struct MHD_Connection *conn; /* NULL until api_stream_response */
    bool suspended;
    bool has_tenant;
    char tenant[TENANT_SZ];
    uint64_t cursor;       /* every event up to this id was looked at */
    bool hello_due;        /* "retry:" and a comment, first thing */
    bool unknown_gap;      /* the client's Last-Event-ID is not ours */
    int64_t last_write_ms; /* monotonic */
    struct jbuf out;       /* text not yet handed to libmicrohttpd */
    size_t out_off;
};

struct api_streams {
    pthread_mutex_t mu;
    struct events *bus;
    struct api_stream *head;
    unsigned n, max;
    atomic_uint *gauge; /* kept at n (metrics), or NULL */
    bool stop;
    pthread_t pump;
    bool pump_started;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the text of an event ---- */

static void key_str(struct jbuf *b, const char *key, const char *v)
{
    jb_key(b, key, false);
    jb_cstr(b, v && v[0] ? v : NULL);
}

static void write_event(struct jbuf *b, const struct events_event *e)
{
    const char *type = events_type_name(e->type);
    char at[48];
    api_time_str(e->at_ms / 1000, at, sizeof(at));
    jb_lit(b, "id: ");
    jb_u64(b, e->id);
    jb_lit(b, "\nevent: ");
    jb_lit(b, type);
    jb_lit(b, "\ndata: {\"id\":");
    jb_u64(b, e->id);
    key_str(b, "type", type);
    key_str(b, "at", at);
    key_str(b, "tenant", e->tenant);
    key_str(b, "session_id", e->session_id);
    key_str(b, "identity", e->identity);
    key_str(b, "client_address", e->client_addr);
    jb_lit(b, ",\"virtual_addresses\":[");
    if (e->vip4[0])
        jb_cstr(b, e->vip4);
    if (e->vip6[0]) {
        if (e->vip4[0])
            jb_raw(b, ",", 1);
        jb_cstr(b, e->vip6);
    }
    jb_raw(b, "]", 1);
    if (e->type == EVENTS_SESSION_DOWN)
        key_str(b, "cause", e->detail);
    else if (e->type == EVENTS_AUTH_FAILURE)
        key_str(b, "reason", e->detail);
    else if (e->type == EVENTS_SESSION_REKEY)
        key_str(b, "rekeyed", e->detail);
    jb_lit(b, "}\n\n");
}

/* missed 0: not known how many (the client's id is from elsewhere). */
static void write_missed(struct jbuf *b, uint64_t cursor, uint64_t missed)
{
    jb_lit(b, "id: ");
    jb_u64(b, cursor);
    jb_lit(b, "\nevent: events.missed\ndata: {\"type\":\"events.missed\",\"missed\":");
    if (missed)
        jb_u64(b, missed);
    else
        jb_lit(b, "null");
    jb_lit(b, ",\"resumed_after\":");
    jb_u64(b, cursor);
    jb_lit(b, "}\n\n");
}

/* With the hub's mutex held: the next text of s, if any. */
static void fill(struct api_stream *s)
{
    struct jbuf *b = &s->out;
    b->len = 0;
    s->out_off = 0;
    if (b->p)
        b->p[0] = '\0';
    if (s->hello_due) {
        s->hello_due = false;
        jb_lit(b, "retry: ");
        jb_u64(b, API_STREAM_RETRY_MS);
        jb_lit(b, "\n: stream open\n\n");
    }
    if (s->unknown_gap) {
        s->unknown_gap = false;
        write_missed(b, s->cursor, 0);
    }
    struct events_event ev[BATCH];
    uint64_t next, missed;
    size_t n = events_read(s->hub->bus, s->cursor, s->has_tenant ? s->tenant : NULL, ev, BATCH,
                           &next, &missed);
    if (missed)
        write_missed(b, s->cursor + missed, missed);
    for (size_t i = 0; i < n; i++)
        write_event(b, &ev[i]);
    s->cursor = next;
    int64_t now = mono_ms();
    if (!b->len && now - s->last_write_ms >= API_STREAM_KEEPALIVE_MS)
        jb_lit(b, ": keepalive\n\n");
    if (b->len)
        s->last_write_ms = now;
}

/* ---- libmicrohttpd's callbacks ---- */

/* Whether the client has closed its side (libmicrohttpd does not notice
 * while a connection is suspended): looked at before each suspension, so a
 * client that went away is let go at the next keepalive at the latest. */
static bool client_gone(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    char byte;
    ssize_t r = recv(ci->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static ssize_t read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct api_stream *s = cls;
    struct api_streams *h = s->hub;
    ssize_t ret;
    pthread_mutex_lock(&h->mu);
    if (s->out_off >= s->out.len) {
        if (h->stop) {
            ret = MHD_CONTENT_READER_END_OF_STREAM;
            goto done;
        }
        fill(s);
        if (s->out.oom) {
            ret = MHD_CONTENT_READER_END_WITH_ERROR;
            goto done;
        }
    }
    size_t left = s->out.len - s->out_off;
    if (!left) {
        if (client_gone(s->conn)) {
            ret = MHD_CONTENT_READER_END_WITH_ERROR;
            goto done;
        }
        /* Nothing to say: off the event loop until the pump resumes it. */
        MHD_suspend_connection(s->conn);
        s->suspended = true;
        ret = 0;
        goto done;
    }
    size_t k = left < max ? left : max;
    memcpy(buf, s->out.p + s->out_off, k);
    s->out_off += k;
    ret = (ssize_t)k;
done:
    pthread_mutex_unlock(&h->mu);
    return ret;
}

static void unlink_locked(struct api_stream *s)
{
    struct api_streams *h = s->hub;
    if (s->prev)
        s->prev->next = s->next;
    else
        h->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    h->n--;
    if (h->gauge)
        atomic_store(h->gauge, h->n);
}

static void free_cb(void *cls)
{
    struct api_stream *s = cls;
    struct api_streams *h = s->hub;
    pthread_mutex_lock(&h->mu);
    unlink_locked(s);
    pthread_mutex_unlock(&h->mu);
    jb_free(&s->out);
    free(s);
}

/* ---- the pump ---- */

/* With the mutex held: takes the streams to resume off the suspended
 * list (all of them when stopping). Returns how many went into out. */
static size_t due_locked(struct api_streams *h, uint64_t newest, int64_t now,
                         struct MHD_Connection **out, size_t cap, int64_t *wait_ms)
{
    size_t n = 0;
    *wait_ms = PUMP_MAX;
    for (struct api_stream *s = h->head; s && n < cap; s = s->next) {
        if (!s->suspended)
            continue;
        int64_t idle = now - s->last_write_ms;
        if (h->stop || s->cursor < newest || idle >= API_STREAM_KEEPALIVE_MS) {
            s->suspended = false;
            out[n++] = s->conn;
        } else if (API_STREAM_KEEPALIVE_MS - idle < *wait_ms) {
            *wait_ms = API_STREAM_KEEPALIVE_MS - idle;
        }
    }
    return n;
}

static void *pump(void *arg)
{
    struct api_streams *h = arg;
    pthread_setname_np(pthread_self(), "api-events");
    uint64_t seen = 0;
    struct MHD_Connection *resume[API_STREAMS_MAX];
    int64_t wait_ms = PUMP_MAX;
    for (;;) {
        seen = events_wait(h->bus, seen, (int)(wait_ms > 10 ? wait_ms : 10));
        pthread_mutex_lock(&h->mu);
        if (h->stop) {
            pthread_mutex_unlock(&h->mu);
            break;
        }
        size_t n = due_locked(h, seen, mono_ms(), resume, API_STREAMS_MAX, &wait_ms);
        pthread_mutex_unlock(&h->mu);
        for (size_t i = 0; i < n; i++)
            MHD_resume_connection(resume[i]);
    }
    return NULL;
}

/* ---- the interface ---- */

struct api_streams *api_streams_new(struct events *bus, unsigned max, char *err, size_t errlen)
{
    struct api_streams *h = calloc(1, sizeof(*h));
    if (!h || pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->bus = bus;
    h->max = max && max <= API_STREAMS_MAX ? max : API_STREAMS_MAX;
    if (pthread_create(&h->pump, NULL, pump, h) != 0) {
        snprintf(err, errlen, "cannot start the event stream thread");
        pthread_mutex_destroy(&h->mu);
        free(h);
        return NULL;
    }
    h->pump_started = true;
    return h;
}

void api_streams_stop(struct api_streams *h)
{
    if (!h)
        return;
    struct MHD_Connection *resume[API_STREAMS_MAX];
    int64_t unused;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    size_t n = due_locked(h, 0, mono_ms(), resume, API_STREAMS_MAX, &unused);
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < n; i++)
        MHD_resume_connection(resume[i]);
    events_wake(h->bus);
    if (h->pump_started) {
        pthread_join(h->pump, NULL);
        h->pump_started = false;
    }
}

void api_streams_free(struct api_streams *h)
{
    if (!h)
        return;
    api_streams_stop(h);
    /* Streams never handed to libmicrohttpd (none, normally). */
    while (h->head) {
        struct api_stream *s = h->head;
        h->head = s->next;
        jb_free(&s->out);
        free(s);
    }
    pthread_mutex_destroy(&h->mu);
    free(h);
}

unsigned api_streams_count(struct api_streams *h)
{
    if (!h)
        return 0;
    pthread_mutex_lock(&h->mu);
    unsigned n = h->n;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void api_streams_gauge(struct api_streams *h, atomic_uint *gauge)
{
    pthread_mutex_lock(&h->mu);
    h->gauge = gauge;
    if (gauge)
        atomic_store(gauge, h->n);
    pthread_mutex_unlock(&h->mu);
}

struct api_stream *api_stream_open(struct api_streams *h, const char *tenant, bool has_after,
                                   uint64_t after, enum api_stream_refusal *why)
{
    *why = API_STREAM_OK;
    struct api_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        *why = API_STREAM_FULL;
        return NULL;
    }
    s->hub = h;
    s->hello_due = true;
    s->last_write_ms = mono_ms();
    if (tenant) {
        s->has_tenant = true;
        snprintf(s->tenant, sizeof(s->tenant), "%s", tenant);
    }
    jb_init(&s->out, 2048);
    uint64_t oldest, newest;
    events_bounds(h->bus, &oldest, &newest);
    if (!has_after) {
        s->cursor = newest;
    } else if (after > newest) {
        s->unknown_gap = true;
        s->cursor = oldest - 1;
    } else {
        s->cursor = after; /* an older one: fill() reports what fell out */
    }
    pthread_mutex_lock(&h->mu);
    if (h->stop || h->n >= h->max || s->out.oom) {
        *why = h->stop ? API_STREAM_STOPPING : API_STREAM_FULL;
        pthread_mutex_unlock(&h->mu);
        jb_free(&s->out);
        free(s);
        return NULL;
    }
    s->next = h->head;
    if (h->head)
        h->head->prev = s;
    h->head = s;
    h->n++;
    if (h->gauge)
        atomic_store(h->gauge, h->n);
    pthread_mutex_unlock(&h->mu);
    return s;
}

void api_stream_close(struct api_stream *s)
{
    if (s)
        free_cb(s);
}

struct MHD_Response *api_stream_response(struct api_stream *s, struct MHD_Connection *c)
{
    s->conn = c;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK, read_cb, s, free_cb);
    if (!r) {
        api_stream_close(s);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* nginx: do not hold it back */
    return r;
}
