/*
 * The event bus: a bounded ring of the most recent session events (up,
 * down, rekey, authentication failure) for GET /api/v1/events. The IKE
 * thread appends (events_emit: a short mutex, a copy, a condition
 * broadcast; it never waits on a reader); API threads copy events out by
 * id. Ids start at 1 and grow by one per event; when the ring is full the
 * oldest event is overwritten, and a reader whose cursor fell behind is
 * told how many it missed instead of anything being buffered for it.
 *
 * An event holds only what the tenant of the session may see: no keys, no
 * RADIUS attributes, nothing of another tenant. Failures before a tenant
 * was known carry tenant "" (operators only).
 */
#ifndef ISTHMUS_EVENTS_H
#define ISTHMUS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_RING_DEFAULT 4096

enum events_type {
    EVENTS_SESSION_UP = 0,
    EVENTS_SESSION_DOWN,
    EVENTS_SESSION_REKEY,
    EVENTS_AUTH_FAILURE,
    EVENTS_TYPE_COUNT
};

struct events_event {
    uint64_t id;
    enum events_type type;
    int64_t at_ms; /* Unix ms */
    char tenant[64];
    char session_id[17];
    char identity[128];
    char client_addr[48];
    char vip4[16], vip6[48];
    /* session.down: the cause ("user-request", "admin-reset", ...);
     * auth.failure: the reason (as the metrics label it);
     * session.rekey: "child" or "ike". */
    char detail[48];
};

struct events;

/* A ring of capacity events (0: EVENTS_RING_DEFAULT). NULL: out of memory. */
struct events *events_new(size_t capacity);
void events_free(struct events *ev); /* NULL accepted */

/* "session.up", "session.down", "session.rekey", "auth.failure". */
const char *events_type_name(enum events_type t);

/* IKE thread (any thread may call it). Copies e (its id and at_ms are set
 * here) and returns the new id. ev NULL: nothing, returns 0. */
uint64_t events_emit(struct events *ev, const struct events_event *e);

/* The id of the newest event (0: none yet) and of the oldest one still in
 * the ring (newest + 1 when empty). */
void events_bounds(struct events *ev, uint64_t *oldest, uint64_t *newest);

/* Copies up to max events with id > after, of tenant (NULL: every tenant),
 * oldest first. *next is the cursor to pass next time (every event up to
 * it was looked at); *missed the number of events after `after` that had
 * already left the ring (0 if none). Returns how many were copied. */
size_t events_read(struct events *ev, uint64_t after, const char *tenant, struct events_event *out,
                   size_t max, uint64_t *next, uint64_t *missed);

/* Waits until an event newer than `after` exists, events_wake is called,
 * or timeout_ms passes. Returns the newest id. Never called by the IKE
 * thread. */
uint64_t events_wait(struct events *ev, uint64_t after, int timeout_ms);
/* Wakes every events_wait (shutdown). */
void events_wake(struct events *ev);

#endif
