/* The event bus: see events.h. One mutex guards the ring; the writer holds
 * it for one copy, readers for their copy out. */
#include "concentrator/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct events {
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* broadcast on every emit and on events_wake */
    struct events_event *ring; /* slot of id i: (i - 1) % cap */
    size_t cap;
    uint64_t newest; /* 0: none yet */
    unsigned wakes;  /* bumped by events_wake */
};

struct events *events_new(size_t capacity)
{
    struct events *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return NULL;
    ev->cap = capacity ? capacity : EVENTS_RING_DEFAULT;
    ev->ring = calloc(ev->cap, sizeof(*ev->ring));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!ev->ring || pthread_mutex_init(&ev->mu, NULL) != 0) {
        free(ev->ring);
        free(ev);
        pthread_condattr_destroy(&ca);
        return NULL;
    }
    if (pthread_cond_init(&ev->cv, &ca) != 0) {
        pthread_mutex_destroy(&ev->mu);
        free(ev->ring);
        free(ev);
        pthread_condattr_destroy(&ca);
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    return ev;
}

void events_free(struct events *ev)
{
    if (!ev)
        return;
    pthread_cond_destroy(&ev->cv);
    pthread_mutex_destroy(&ev->mu);
    free(ev->ring);
    free(ev);
}

const char *events_type_name(enum events_type t)
{
    static const char *const names[EVENTS_TYPE_COUNT] = {
        [EVENTS_SESSION_UP] = "session.up",
        [EVENTS_SESSION_DOWN] = "session.down",
        [EVENTS_SESSION_REKEY] = "session.rekey",
        [EVENTS_AUTH_FAILURE] = "auth.failure",
    };
    return (unsigned)t < EVENTS_TYPE_COUNT ? names[t] : "unknown";
}

static uint64_t oldest_locked(const struct events *ev)
{
    return ev->newest > ev->cap ? ev->newest - ev->cap + 1 : 1;
}

uint64_t events_emit(struct events *ev, const struct events_event *e)
{
    if (!ev || !e)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&ev->mu);
    uint64_t id = ++ev->newest;
    struct events_event *slot = &ev->ring[(id - 1) % ev->cap];
    *slot = *e;
    slot->id = id;
    slot->at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    slot->tenant[sizeof(slot->tenant) - 1] = '\0';
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
    return id;
}

void events_bounds(struct events *ev, uint64_t *oldest, uint64_t *newest)
{
    pthread_mutex_lock(&ev->mu);
    *oldest = oldest_locked(ev);
    *newest = ev->newest;
    pthread_mutex_unlock(&ev->mu);
}

size_t events_read(struct events *ev, uint64_t after, const char *tenant, struct events_event *out,
                   size_t max, uint64_t *next, uint64_t *missed)
{
    size_t n = 0;
    pthread_mutex_lock(&ev->mu);
    uint64_t first = oldest_locked(ev);
    *missed = after + 1 < first ? first - (after + 1) : 0;
    uint64_t id = after + 1 > first ? after + 1 : first;
    uint64_t cursor = *missed ? first - 1 : after;
    if (after > ev->newest) /* from a cursor we never gave out: start over */
        cursor = ev->newest, id = ev->newest + 1;
    for (; id <= ev->newest && n < max; id++) {
        const struct events_event *e = &ev->ring[(id - 1) % ev->cap];
        cursor = id;
        if (tenant && strcmp(tenant, e->tenant) != 0)
            continue;
        out[n++] = *e;
    }
    *next = cursor;
    pthread_mutex_unlock(&ev->mu);
    return n;
}

uint64_t events_wait(struct events *ev, uint64_t after, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ev->mu);
    unsigned wakes = ev->wakes;
    while (ev->newest <= after && ev->wakes == wakes) {
        if (pthread_cond_timedwait(&ev->cv, &ev->mu, &dl) == ETIMEDOUT)
            break;
    }
    uint64_t newest = ev->newest;
    pthread_mutex_unlock(&ev->mu);
    return newest;
}

void events_wake(struct events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->wakes++;
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}
