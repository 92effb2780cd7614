/* The event layer: timers in order, repeating and stopped; I/O on a pipe;
 * wake-ups from another thread; single iterations; signals. Every loop is
 * bounded by a guard timer that fails the test if it fires. */
#include "tests/unit/testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "concentrator/event.h"

struct fixture {
    struct evl *loop;
    struct evl_timer *guard;
    bool guard_fired;
};

static void on_guard(struct evl_timer *t, void *arg)
{
    (void)t;
    struct fixture *f = arg;
    f->guard_fired = true;
    evl_stop(f->loop);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->loop = evl_new();
    if (!f->loop)
        return -1;
    f->guard = evl_timer_new(f->loop, on_guard, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    evl_timer_free(f->guard);
    evl_free(f->loop);
    free(f);
    return 0;
}

/* Runs the loop with the guard armed for at most seconds. */
static void run_guarded(struct fixture *f, double seconds)
{
    evl_timer_start(f->guard, seconds, 0);
    evl_run(f->loop);
    evl_timer_stop(f->guard);
    if (f->guard_fired)
        fail_msg("the loop was still running after %.1f s", seconds);
}

struct order {
    char seen[16];
    size_t n;
};

struct tagged {
    struct order *order;
    char tag;
};

static void on_tagged(struct evl_timer *t, void *arg)
{
    (void)t;
    struct tagged *tg = arg;
    if (tg->order->n < sizeof(tg->order->seen) - 1)
        tg->order->seen[tg->order->n++] = tg->tag;
}

static void timers_fire_in_order_of_their_deadlines(void **state)
{
    struct fixture *f = *state;
    struct order order = {0};
    struct tagged a = {&order, 'a'}, b = {&order, 'b'}, c = {&order, 'c'}, d = {&order, 'd'};
    struct evl_timer *ta = evl_timer_new(f->loop, on_tagged, &a);
    struct evl_timer *tb = evl_timer_new(f->loop, on_tagged, &b);
    struct evl_timer *tc = evl_timer_new(f->loop, on_tagged, &c);
    struct evl_timer *td = evl_timer_new(f->loop, on_tagged, &d);
    evl_timer_start(ta, 0.040, 0);
    evl_timer_start(tb, 0.010, 0);
    evl_timer_start(tc, 0.030, 0);
    evl_timer_start(td, 0.020, 0);
    double start = tu_now();
    /* One iteration at a time until all four fired (bounded by the guard). */
    evl_timer_start(f->guard, 2.0, 0);
    for (int i = 0; i < 200 && order.n < 4; i++)
        evl_run_once(f->loop, true);
    evl_timer_stop(f->guard);
    assert_false(f->guard_fired);
    assert_string_equal(order.seen, "bdca");
    assert_true(tu_now() - start >= 0.035);
    assert_false(evl_timer_active(ta));
    /* One-shot timers are done: the loop has nothing left and returns. */
    evl_run(f->loop);
    assert_string_equal(order.seen, "bdca");
    evl_timer_free(ta);
    evl_timer_free(tb);
    evl_timer_free(tc);
    evl_timer_free(td);
}

struct repeat {
    struct fixture *f;
    int count, stop_at;
    double first, last;
};

static void on_repeat(struct evl_timer *t, void *arg)
{
    struct repeat *r = arg;
    double now = tu_now();
    if (r->count++ == 0)
        r->first = now;
    r->last = now;
    if (r->count == r->stop_at) {
        evl_timer_stop(t);
        evl_timer_stop(r->f->guard); /* nothing active: evl_run returns */
    }
}

static void repeating_timer_repeats_until_stopped(void **state)
{
    struct fixture *f = *state;
    struct repeat r = {.f = f, .stop_at = 5};
    struct evl_timer *t = evl_timer_new(f->loop, on_repeat, &r);
    evl_timer_start(t, 0.010, 0.010);
    assert_true(evl_timer_active(t));
    evl_timer_start(f->guard, 2.0, 0);
    evl_run(f->loop);
    assert_false(f->guard_fired);
    assert_int_equal(r.count, 5);
    assert_false(evl_timer_active(t));
    /* Four periods of 10 ms between the first and the fifth. */
    assert_true(r.last - r.first >= 0.035);
    evl_timer_free(t);
}

static int fired_count;
static void on_count(struct evl_timer *t, void *arg)
{
    (void)t;
    (void)arg;
    fired_count++;
}

static void on_stop_loop(struct evl_timer *t, void *arg)
{
    (void)t;
    evl_stop(arg);
}

static void stopped_timer_never_fires(void **state)
{
    struct fixture *f = *state;
    fired_count = 0;
    struct evl_timer *t = evl_timer_new(f->loop, on_count, NULL);
    struct evl_timer *end = evl_timer_new(f->loop, on_stop_loop, f->loop);
    evl_timer_start(t, 0.010, 0);
    double rem = evl_timer_remaining(t);
    assert_true(rem > 0.0 && rem <= 0.010 + 1e-6);
    evl_timer_stop(t);
    assert_false(evl_timer_active(t));
    assert_true(evl_timer_remaining(t) == 0.0);
    evl_timer_start(end, 0.050, 0);
    run_guarded(f, 2.0);
    assert_int_equal(fired_count, 0);

    /* Restarting a running timer moves its deadline instead of adding one. */
    evl_timer_start(t, 10.0, 0);
    evl_timer_start(t, 0.010, 0);
    evl_timer_start(end, 0.100, 0);
    run_guarded(f, 2.0);
    assert_int_equal(fired_count, 1);

    /* Freeing an armed timer stops it. */
    evl_timer_start(t, 0.010, 0);
    evl_timer_free(t);
    evl_timer_start(end, 0.050, 0);
    run_guarded(f, 2.0);
    assert_int_equal(fired_count, 1);
    evl_timer_free(end);
    evl_timer_free(NULL);
}

struct pipe_read {
    struct evl *loop;
    int events;
    int fd;
    char data[64];
    size_t len;
    int calls;
};

static void on_readable(struct evl_io *io, int fd, int events, void *arg)
{
    (void)io;
    struct pipe_read *pr = arg;
    pr->calls++;
    pr->events = events;
    pr->fd = fd;
    ssize_t n = read(fd, pr->data + pr->len, sizeof(pr->data) - 1 - pr->len);
    if (n > 0)
        pr->len += (size_t)n;
    pr->data[pr->len] = '\0';
    if (pr->len >= 5)
        evl_stop(pr->loop);
}

static void io_on_a_pipe_reports_readable_data(void **state)
{
    struct fixture *f = *state;
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    struct pipe_read pr = {.loop = f->loop, .fd = -1};
    struct evl_io *io = evl_io_new(f->loop, p[0], EVL_READ, on_readable, &pr);
    evl_io_start(io);
    /* Nothing written yet: one non-blocking pass reports nothing. */
    evl_run_once(f->loop, false);
    assert_int_equal(pr.calls, 0);

    assert_int_equal(write(p[1], "hello", 5), 5);
    run_guarded(f, 2.0);
    assert_string_equal(pr.data, "hello");
    assert_int_equal(pr.fd, p[0]);
    assert_int_equal(pr.events, EVL_READ);

    /* A stopped watcher reports nothing. */
    evl_io_stop(io);
    int calls = pr.calls;
    assert_int_equal(write(p[1], "again", 5), 5);
    evl_run_once(f->loop, false);
    assert_int_equal(pr.calls, calls);
    evl_io_free(io);
    evl_io_free(NULL);
    close(p[0]);
    close(p[1]);
}

static void on_writable(struct evl_io *io, int fd, int events, void *arg)
{
    (void)fd;
    int *got = arg;
    *got = events;
    evl_io_stop(io);
}

static void io_reports_writable(void **state)
{
    struct fixture *f = *state;
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    int got = 0;
    struct evl_io *io = evl_io_new(f->loop, p[1], EVL_WRITE, on_writable, &got);
    evl_io_start(io);
    evl_timer_start(f->guard, 2.0, 0);
    for (int i = 0; i < 50 && !got; i++)
        evl_run_once(f->loop, true);
    evl_timer_stop(f->guard);
    assert_int_equal(got, EVL_WRITE);
    evl_io_free(io);
    close(p[0]);
    close(p[1]);
}

struct wake {
    struct evl *loop;
    struct evl_async *async;
    atomic_int produced; /* written by the other thread */
    int consumed;        /* read on the loop */
    int callbacks;
    int total;
    pthread_t thread;
};

static void on_async(struct evl_async *a, void *arg)
{
    (void)a;
    struct wake *w = arg;
    w->callbacks++;
    w->consumed = atomic_load(&w->produced); /* drain: take all there is */
    if (w->consumed == w->total)
        evl_stop(w->loop);
}

static void *producer(void *arg)
{
    struct wake *w = arg;
    tu_sleep_ms(20); /* the loop is asleep in its poll by now */
    for (int i = 0; i < w->total; i++) {
        atomic_fetch_add(&w->produced, 1);
        evl_async_send(w->async);
    }
    return NULL;
}

static void async_from_another_thread_wakes_the_loop(void **state)
{
    struct fixture *f = *state;
    struct wake w = {.loop = f->loop, .total = 1000};
    w.async = evl_async_new(f->loop, on_async, &w);
    assert_int_equal(pthread_create(&w.thread, NULL, producer, &w), 0);
    double start = tu_now();
    run_guarded(f, 5.0);
    double took = tu_now() - start;
    pthread_join(w.thread, NULL);
    assert_int_equal(w.consumed, 1000);
    assert_true(w.callbacks >= 1 && w.callbacks <= 1000);
    assert_true(took < 2.0);
    evl_async_free(w.async);
    evl_async_free(NULL);
}

static void run_once_without_wait_returns_at_once(void **state)
{
    struct fixture *f = *state;
    fired_count = 0;
    struct evl_timer *later = evl_timer_new(f->loop, on_count, NULL);
    evl_timer_start(later, 5.0, 0);
    double start = tu_now();
    evl_run_once(f->loop, false);
    assert_true(tu_now() - start < 0.5);
    assert_int_equal(fired_count, 0);
    assert_true(evl_timer_active(later));

    /* With wait, one iteration blocks until the next event and handles it. */
    struct evl_timer *soon = evl_timer_new(f->loop, on_count, NULL);
    evl_timer_start(soon, 0.020, 0);
    start = tu_now();
    evl_run_once(f->loop, true);
    double took = tu_now() - start;
    assert_int_equal(fired_count, 1);
    assert_true(took >= 0.015 && took < 1.0);
    assert_true(evl_timer_active(later));
    evl_timer_free(soon);
    evl_timer_free(later);
}

static void now_advances(void **state)
{
    struct fixture *f = *state;
    evl_now_update(f->loop);
    double t0 = evl_now(f->loop);
    tu_sleep_ms(20);
    assert_true(evl_now(f->loop) == t0); /* cached until updated */
    evl_now_update(f->loop);
    assert_true(evl_now(f->loop) - t0 >= 0.015);
}

static int signal_seen;
static void on_signal(struct evl_signal *s, int signum, void *arg)
{
    (void)s;
    signal_seen = signum;
    evl_stop(arg);
}

static void signal_arrives_as_a_callback_on_the_default_loop(void **state)
{
    (void)state;
    struct evl *def = evl_default();
    assert_non_null(def);
    assert_ptr_equal(def, evl_default());
    struct evl_signal *s = evl_signal_new(def, SIGUSR1, on_signal, def);
    struct evl_timer *guard = evl_timer_new(def, on_stop_loop, def);
    evl_timer_start(guard, 2.0, 0);
    signal_seen = 0;
    raise(SIGUSR1);
    evl_run(def);
    assert_int_equal(signal_seen, SIGUSR1);
    assert_true(evl_timer_active(guard)); /* the signal, not the guard, ended it */
    evl_timer_free(guard);
    evl_signal_free(s);
    evl_signal_free(NULL);
    evl_free(def); /* the default loop is not freed: still usable */
    assert_ptr_equal(evl_default(), def);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(timers_fire_in_order_of_their_deadlines, setup, teardown),
        cmocka_unit_test_setup_teardown(repeating_timer_repeats_until_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(stopped_timer_never_fires, setup, teardown),
        cmocka_unit_test_setup_teardown(io_on_a_pipe_reports_readable_data, setup, teardown),
        cmocka_unit_test_setup_teardown(io_reports_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(async_from_another_thread_wakes_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(run_once_without_wait_returns_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(now_advances, setup, teardown),
        cmocka_unit_test(signal_arrives_as_a_callback_on_the_default_loop),
    };
    return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
