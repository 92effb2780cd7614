/* The event layer over libev: see event.h. */
#include "concentrator/event.h"

#include <ev.h>
#include <stdint.h>
#include <stdlib.h>

struct evl {
    struct ev_loop *loop;
    bool is_default;
};

struct evl_timer {
    ev_timer w; /* first, so the watcher pointer is the wrapper */
    struct evl *l;
    evl_timer_cb cb;
    void *arg;
};

struct evl_io {
    ev_io w;
    struct evl *l;
    evl_io_cb cb;
    void *arg;
};

struct evl_async {
    ev_async w;
    struct evl *l;
    evl_async_cb cb;
    void *arg;
};

struct evl_signal {
    ev_signal w;
    struct evl *l;
    evl_signal_cb cb;
    void *arg;
};

static struct evl default_loop;

struct evl *evl_default(void)
{
    if (!default_loop.loop) {
        default_loop.loop = ev_default_loop(EVFLAG_AUTO);
        if (!default_loop.loop)
            return NULL;
        default_loop.is_default = true;
    }
    return &default_loop;
}

struct evl *evl_new(void)
{
    struct evl *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->loop = ev_loop_new(EVFLAG_AUTO);
    if (!l->loop) {
        free(l);
        return NULL;
    }
    return l;
}

void evl_free(struct evl *l)
{
    if (!l || l->is_default)
        return;
    ev_loop_destroy(l->loop);
    free(l);
}

void evl_run(struct evl *l)
{
    ev_run(l->loop, 0);
}

void evl_run_once(struct evl *l, bool wait)
{
    ev_run(l->loop, wait ? EVRUN_ONCE : EVRUN_NOWAIT);
}

void evl_stop(struct evl *l)
{
    ev_break(l->loop, EVBREAK_ALL);
}

double evl_now(struct evl *l)
{
    return ev_now(l->loop);
}

void evl_now_update(struct evl *l)
{
    ev_now_update(l->loop);
}

static void timer_thunk(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct evl_timer *t = (struct evl_timer *)w;
    t->cb(t, t->arg);
}

struct evl_timer *evl_timer_new(struct evl *l, evl_timer_cb cb, void *arg)
{
    struct evl_timer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    ev_init(&t->w, timer_thunk);
    t->l = l;
    t->cb = cb;
    t->arg = arg;
    return t;
}

void evl_timer_start(struct evl_timer *t, double after, double repeat)
{
    ev_timer_stop(t->l->loop, &t->w);
    ev_timer_set(&t->w, after, repeat);
    ev_timer_start(t->l->loop, &t->w);
}

void evl_timer_stop(struct evl_timer *t)
{
    ev_timer_stop(t->l->loop, &t->w);
}

bool evl_timer_active(const struct evl_timer *t)
{
    /* ev_is_active casts its argument to a non-const watcher; it only reads. */
    const ev_timer *w = &t->w;
    return ev_is_active((ev_timer *)(uintptr_t)w);
}

double evl_timer_remaining(struct evl_timer *t)
{
    if (!ev_is_active(&t->w))
        return 0;
    return ev_timer_remaining(t->l->loop, &t->w);
}

void evl_timer_free(struct evl_timer *t)
{
    if (!t)
        return;
    ev_timer_stop(t->l->loop, &t->w);
    free(t);
}

static void io_thunk(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct evl_io *io = (struct evl_io *)w;
    int ev = ((revents & EV_READ) ? EVL_READ : 0) | ((revents & EV_WRITE) ? EVL_WRITE : 0);
    io->cb(io, w->fd, ev, io->arg);
}

struct evl_io *evl_io_new(struct evl *l, int fd, int events, evl_io_cb cb, void *arg)
{
    struct evl_io *io = calloc(1, sizeof(*io));
    if (!io)
        return NULL;
    int ev = ((events & EVL_READ) ? EV_READ : 0) | ((events & EVL_WRITE) ? EV_WRITE : 0);
    ev_io_init(&io->w, io_thunk, fd, ev);
    io->l = l;
    io->cb = cb;
    io->arg = arg;
    return io;
}

void evl_io_start(struct evl_io *io)
{
    ev_io_start(io->l->loop, &io->w);
}

void evl_io_stop(struct evl_io *io)
{
    ev_io_stop(io->l->loop, &io->w);
}

void evl_io_free(struct evl_io *io)
{
    if (!io)
        return;
    ev_io_stop(io->l->loop, &io->w);
    free(io);
}

static void async_thunk(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    struct evl_async *a = (struct evl_async *)w;
    a->cb(a, a->arg);
}

struct evl_async *evl_async_new(struct evl *l, evl_async_cb cb, void *arg)
{
    struct evl_async *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    ev_async_init(&a->w, async_thunk);
    a->l = l;
    a->cb = cb;
    a->arg = arg;
    ev_async_start(l->loop, &a->w);
    return a;
}

void evl_async_send(struct evl_async *a)
{
    ev_async_send(a->l->loop, &a->w);
}

void evl_async_free(struct evl_async *a)
{
    if (!a)
        return;
    ev_async_stop(a->l->loop, &a->w);
    free(a);
}

static void signal_thunk(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    struct evl_signal *s = (struct evl_signal *)w;
    s->cb(s, w->signum, s->arg);
}

struct evl_signal *evl_signal_new(struct evl *l, int signum, evl_signal_cb cb, void *arg)
{
    struct evl_signal *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    ev_signal_init(&s->w, signal_thunk, signum);
    s->l = l;
    s->cb = cb;
    s->arg = arg;
    ev_signal_start(l->loop, &s->w);
    return s;
}

void evl_signal_free(struct evl_signal *s)
{
    if (!s)
        return;
    ev_signal_stop(s->l->loop, &s->w);
    free(s);
}
