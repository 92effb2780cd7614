/*
 * The event layer: every use of libev in Isthmus goes through here, so the
 * rest of the code names no libev type and tests can drive loops, timers and
 * wake-ups directly. One loop per thread that needs one; only evl_async_send
 * may be called from another thread.
 */
#ifndef ISTHMUS_EVENT_H
#define ISTHMUS_EVENT_H

#include <stdbool.h>

struct evl;
struct evl_timer;
struct evl_io;
struct evl_async;
struct evl_signal;

enum { EVL_READ = 1, EVL_WRITE = 2 };

typedef void (*evl_timer_cb)(struct evl_timer *t, void *arg);
typedef void (*evl_io_cb)(struct evl_io *io, int fd, int events, void *arg);
typedef void (*evl_async_cb)(struct evl_async *a, void *arg);
typedef void (*evl_signal_cb)(struct evl_signal *s, int signum, void *arg);

/* The process's default loop (the only one that can watch signals). */
struct evl *evl_default(void);
/* A loop of its own, for another thread. */
struct evl *evl_new(void);
void evl_free(struct evl *l); /* not for the default loop; NULL accepted */

/* Runs until evl_stop is called or no watcher is active. */
void evl_run(struct evl *l);
/* Runs one iteration; blocks for an event when wait is true. */
void evl_run_once(struct evl *l, bool wait);
void evl_stop(struct evl *l);
/* The loop's idea of now, in seconds (monotonic when available). */
double evl_now(struct evl *l);
void evl_now_update(struct evl *l);

/* Timers: after seconds, then every repeat seconds (0: once). */
struct evl_timer *evl_timer_new(struct evl *l, evl_timer_cb cb, void *arg);
void evl_timer_start(struct evl_timer *t, double after, double repeat);
void evl_timer_stop(struct evl_timer *t);
bool evl_timer_active(const struct evl_timer *t);
/* Seconds until the timer fires (0 if not active). */
double evl_timer_remaining(struct evl_timer *t);
void evl_timer_free(struct evl_timer *t); /* stops it; NULL accepted */

struct evl_io *evl_io_new(struct evl *l, int fd, int events, evl_io_cb cb, void *arg);
void evl_io_start(struct evl_io *io);
void evl_io_stop(struct evl_io *io);
void evl_io_free(struct evl_io *io);

/* A wake-up another thread can send; many sends before the loop runs give one
 * callback, so the callback drains its queue. */
struct evl_async *evl_async_new(struct evl *l, evl_async_cb cb, void *arg);
void evl_async_send(struct evl_async *a);
void evl_async_free(struct evl_async *a);

/* Signals, delivered on the default loop as ordinary callbacks. */
struct evl_signal *evl_signal_new(struct evl *l, int signum, evl_signal_cb cb, void *arg);
void evl_signal_free(struct evl_signal *s);

#endif
