/*
 * What the IKE engine does around a session's life besides IKE itself:
 * counters (concentrator/stats.h), RADIUS accounting (Start when the
 * CHILD_SA is up, Interim-Update on a timer, Stop with Acct-Terminate-Cause,
 * RFC 2866/2869) sent as auth-pool jobs, and the session_history row written
 * by the db writer thread when the session ends. IKE thread only, and it
 * never blocks: every record leaves as a queued job.
 *
 * The engine calls:
 *   ikesa_new          -> ike_session_init
 *   IKE_AUTH success   -> ike_session_up
 *   IKE_AUTH failure   -> ike_session_failed (after ike_session_set_fail
 *                         when the cause is known better than the notify)
 *   session end        -> ike_session_end (before the CHILD_SA is deleted,
 *                         so its last counters are read; idempotent)
 *   auth job finished  -> ike_session_auth_done (RADIUS latency per server;
 *                         takes accounting jobs)
 * and each of up, failure and end puts an event on the bus
 * (concentrator/events.h); a CHILD_SA or IKE SA rekey calls
 * ike_session_event itself.
 */
#ifndef ISTHMUS_IKE_SESSION_H
#define ISTHMUS_IKE_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "concentrator/events.h"
#include "concentrator/stats.h"

struct ikesa;
struct ike_engine;
struct auth_job;
struct evl_timer;

/* How a session ended, as the call site that ends it knows: accounting's
 * Acct-Terminate-Cause and the history's cause follow from it. */
enum ike_end {
    IKE_END_GATEWAY = 0, /* the gateway's own decision (nas-request) */
    IKE_END_ERROR,       /* the gateway could not go on: memory, keys (nas-error) */
    IKE_END_CLIENT,      /* the client deleted it (user-request) */
    IKE_END_ADMIN,       /* an operator, or the user or tenant disabled (admin-reset) */
    IKE_END_SHUTDOWN,    /* the daemon is stopping (nas-reboot) */
    IKE_END_LOST,        /* the client stopped answering (lost-carrier) */
    IKE_END_LIFETIME,    /* a hard lifetime, or reauthentication not done (session-timeout) */
};

#define IKE_SESSION_INTERIM_MIN 5 /* seconds; shorter intervals are raised to it */
/* The auth-pool fairness key of every accounting record (no tenant id can
 * start with "-"). */
#define IKE_SESSION_ACCT_KEY "-accounting"

/* Per-IKE SA state of this file (a member of struct ikesa). */
struct ike_sess {
    int64_t init_ms;         /* monotonic ms when IKE_SA_INIT arrived */
    bool up;                 /* established: accounting started, history due */
    bool ended;              /* ike_session_end ran */
    unsigned interim_s;      /* from the Access-Accept (Acct-Interim-Interval) */
    int64_t next_interim_ms; /* monotonic; 0: not scheduled yet */
    int64_t last_activity;   /* Unix s of the last inbound packet seen; 0: none */
    int64_t activity_ms;     /* monotonic ms of the last look at the counters */
    uint64_t packets_seen;   /* inbound packets at that look */
    bool has_fail;
    enum stats_fail fail;
};

void ike_session_init(struct ikesa *sa);
void ike_session_up(struct ikesa *sa);
void ike_session_set_fail(struct ikesa *sa, enum stats_fail why);
void ike_session_failed(struct ikesa *sa, uint16_t notify);
/* Ends the session's accounting and writes its history row, with the
 * cause that `end` maps to. */
void ike_session_end(struct ikesa *sa, enum ike_end end);
/* Returns true when it took the job (accounting), false for the caller's. */
bool ike_session_auth_done(struct ike_engine *e, struct auth_job *job);

/* Puts an event of this session on deps.events (none when NULL): its
 * tenant, id (not for auth failures), identity, client and virtual
 * addresses, and detail (cause, failure reason, "child"/"ike"; may be
 * NULL). Never blocks. */
void ike_session_event(struct ikesa *sa, enum events_type type, const char *detail);

/* The Acct-Terminate-Cause (RFC 2866 5.10) of a way to end, and its name
 * as the session history stores it ("admin-reset", "user-request", ...). */
unsigned ike_session_cause(enum ike_end end);
const char *ike_session_cause_name(unsigned cause);

#endif
