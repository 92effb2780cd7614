/* The event bus: what a dashboard's stream reads while the IKE thread
 * writes (ids, wrap-around, missed events, tenant filter, waiting). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "concentrator/events.h"

static uint64_t emit(struct events *ev, enum events_type t, const char *tenant, const char *sid)
{
    struct events_event e;
    memset(&e, 0, sizeof(e));
    e.type = t;
    snprintf(e.tenant, sizeof(e.tenant), "%s", tenant);
    snprintf(e.session_id, sizeof(e.session_id), "%s", sid);
    return events_emit(ev, &e);
}

static void ids_grow_by_one_and_reads_continue_from_the_cursor(void **state)
{
    (void)state;
    struct events *ev = events_new(8);
    assert_non_null(ev);
    uint64_t oldest, newest;
    events_bounds(ev, &oldest, &newest);
    assert_int_equal(newest, 0);
    assert_int_equal(oldest, 1);

    assert_int_equal(emit(ev, EVENTS_SESSION_UP, "acme", "a1"), 1);
    assert_int_equal(emit(ev, EVENTS_SESSION_DOWN, "acme", "a1"), 2);
    struct events_event out[8];
    uint64_t next, missed;
    size_t n = events_read(ev, 0, NULL, out, 8, &next, &missed);
    assert_int_equal(n, 2);
    assert_int_equal(missed, 0);
    assert_int_equal(next, 2);
    assert_int_equal(out[0].id, 1);
    assert_int_equal(out[0].type, EVENTS_SESSION_UP);
    assert_string_equal(out[1].session_id, "a1");
    assert_true(out[1].at_ms > 1700000000000LL);
    assert_string_equal(events_type_name(out[1].type), "session.down");

    /* Nothing new: nothing read, the cursor stays. */
    n = events_read(ev, next, NULL, out, 8, &next, &missed);
    assert_int_equal(n, 0);
    assert_int_equal(next, 2);

    /* max is honoured and the cursor stops at the last one handed out. */
    emit(ev, EVENTS_SESSION_UP, "acme", "a2");
    emit(ev, EVENTS_SESSION_UP, "acme", "a3");
    n = events_read(ev, 2, NULL, out, 1, &next, &missed);
    assert_int_equal(n, 1);
    assert_int_equal(next, 3);
    n = events_read(ev, next, NULL, out, 8, &next, &missed);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].session_id, "a3");
    assert_int_equal(next, 4);
    events_free(ev);
    events_free(NULL);
}

static void a_reader_behind_the_ring_is_told_how_many_it_missed(void **state)
{
    (void)state;
    struct events *ev = events_new(4);
    for (int i = 1; i <= 10; i++) {
        char sid[17];
        snprintf(sid, sizeof(sid), "s%d", i);
        emit(ev, EVENTS_SESSION_UP, "acme", sid);
    }
    uint64_t oldest, newest;
    events_bounds(ev, &oldest, &newest);
    assert_int_equal(newest, 10);
    assert_int_equal(oldest, 7); /* 7..10 are left of 10 in a ring of 4 */

    struct events_event out[8];
    uint64_t next, missed;
    /* Read up to 2 so far: 3..6 were overwritten. */
    size_t n = events_read(ev, 2, NULL, out, 8, &next, &missed);
    assert_int_equal(missed, 4);
    assert_int_equal(n, 4);
    assert_int_equal(out[0].id, 7);
    assert_string_equal(out[0].session_id, "s7");
    assert_string_equal(out[3].session_id, "s10");
    assert_int_equal(next, 10);

    /* Read up to 6 (the one just before the oldest): nothing missed. */
    n = events_read(ev, 6, NULL, out, 8, &next, &missed);
    assert_int_equal(missed, 0);
    assert_int_equal(n, 4);

    /* Wrapped many times: slots hold the newest, in order. */
    for (int i = 11; i <= 1003; i++)
        emit(ev, EVENTS_SESSION_REKEY, "acme", "x");
    n = events_read(ev, 10, NULL, out, 8, &next, &missed);
    assert_int_equal(missed, 1003 - 10 - 4);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out[i].id, 1000 + i);

    /* A cursor from the future (another life of the daemon) reads nothing
     * old and continues from the newest. */
    n = events_read(ev, 5000, NULL, out, 8, &next, &missed);
    assert_int_equal(n, 0);
    assert_int_equal(next, 1003);
    events_free(ev);
}

static void a_tenant_sees_only_its_own_events(void **state)
{
    (void)state;
    struct events *ev = events_new(16);
    emit(ev, EVENTS_SESSION_UP, "acme", "a1");
    emit(ev, EVENTS_AUTH_FAILURE, "beta", "");
    emit(ev, EVENTS_AUTH_FAILURE, "", ""); /* before a tenant was known */
    emit(ev, EVENTS_SESSION_DOWN, "acme", "a1");
    emit(ev, EVENTS_SESSION_UP, "acme-2", "c1"); /* a prefix is not a match */

    struct events_event out[8];
    uint64_t next, missed;
    size_t n = events_read(ev, 0, "acme", out, 8, &next, &missed);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].type, EVENTS_SESSION_UP);
    assert_int_equal(out[1].type, EVENTS_SESSION_DOWN);
    assert_int_equal(next, 5); /* the others were looked at and skipped */

    n = events_read(ev, 0, "beta", out, 8, &next, &missed);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].id, 2);

    n = events_read(ev, 0, NULL, out, 8, &next, &missed); /* operators */
    assert_int_equal(n, 5);

    /* Filtered reads that find nothing still move past what they skipped. */
    n = events_read(ev, 0, "nobody", out, 8, &next, &missed);
    assert_int_equal(n, 0);
    assert_int_equal(next, 5);
    events_free(ev);
}

struct waiter {
    struct events *ev;
    uint64_t got;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    w->got = events_wait(w->ev, 0, 5000);
    return NULL;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void waiting_ends_on_an_event_a_wake_or_the_timeout(void **state)
{
    (void)state;
    struct events *ev = events_new(4);
    int64_t t0 = mono_ms();
    assert_int_equal(events_wait(ev, 0, 50), 0);
    assert_true(mono_ms() - t0 >= 45);

    struct waiter w = {.ev = ev};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_thread, &w), 0);
    struct timespec d = {0, 20 * 1000000L};
    nanosleep(&d, NULL);
    t0 = mono_ms();
    emit(ev, EVENTS_SESSION_UP, "acme", "a1");
    pthread_join(th, NULL);
    assert_int_equal(w.got, 1);
    assert_true(mono_ms() - t0 < 2000);

    /* Already newer: returns at once. */
    assert_int_equal(events_wait(ev, 0, 5000), 1);

    events_free(ev);
}

struct waiter2 {
    struct events *ev;
    int64_t took;
    atomic_bool done;
};

static void *wait_newest(void *arg)
{
    struct waiter2 *w = arg;
    int64_t t0 = mono_ms();
    events_wait(w->ev, 1, 5000);
    w->took = mono_ms() - t0;
    atomic_store(&w->done, true);
    return NULL;
}

static void a_wake_releases_waiters(void **state)
{
    (void)state;
    struct events *ev = events_new(4);
    emit(ev, EVENTS_SESSION_UP, "acme", "a1");
    struct waiter2 w = {.ev = ev};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_newest, &w), 0);
    /* Woken until it returns (a wake before it waits is not counted). */
    struct timespec d = {0, 10 * 1000000L};
    for (int i = 0; i < 300 && !atomic_load(&w.done); i++) {
        nanosleep(&d, NULL);
        events_wake(ev);
    }
    pthread_join(th, NULL);
    assert_true(w.took < 2000);
    events_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_grow_by_one_and_reads_continue_from_the_cursor),
        cmocka_unit_test(a_reader_behind_the_ring_is_told_how_many_it_missed),
        cmocka_unit_test(a_tenant_sees_only_its_own_events),
        cmocka_unit_test(waiting_ends_on_an_event_a_wake_or_the_timeout),
        cmocka_unit_test(a_wake_releases_waiters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
