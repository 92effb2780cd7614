/*
 * Auth threads: a small pool of threads that run the blocking RADIUS calls
 * (EAP relay rounds and accounting records) for the IKE thread.
 *
 *   IKE thread                         auth threads
 *   auth_pool_submit(job) --queue-->   radius_eap_relay / radius_acct_send
 *   async callback:                    <--done queue-- + evl_async_send(wake)
 *     auth_pool_drain(pool, cb, arg)
 *
 * Submitting never blocks: past the queue's limit (all tenants, or one
 * tenant) a job is refused at once with a reason. A slow or dead server
 * holds only the threads running its own requests, and one tenant never
 * runs on more than tenant_inflight threads at once, so another tenant's
 * requests still find a free thread.
 *
 * Thread rules: auth_pool_new/free, auth_pool_submit and auth_pool_drain are
 * called from the thread that owns the loop of wake (the IKE thread).
 */
#ifndef ISTHMUS_AUTH_AUTH_POOL_H
#define ISTHMUS_AUTH_AUTH_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "auth/radius_acct.h"
#include "auth/radius_eap.h"
#include "concentrator/event.h"

#define AUTH_POOL_DEFAULT_THREADS      8
#define AUTH_POOL_DEFAULT_QUEUE        1024
#define AUTH_POOL_DEFAULT_TENANT_QUEUE 256
#define AUTH_TENANT_MAX                64

struct auth_pool_cfg {
    unsigned threads;         /* 0: AUTH_POOL_DEFAULT_THREADS */
    unsigned queue_limit;     /* jobs waiting, all tenants; 0: default */
    unsigned tenant_queue;    /* jobs waiting, one tenant; 0: default */
    unsigned tenant_inflight; /* jobs of one tenant running at once; 0: threads/2, at least 1 */
};

enum auth_job_kind { AUTH_JOB_EAP, AUTH_JOB_ACCT };

struct auth_job {
    enum auth_job_kind kind;
    char tenant[AUTH_TENANT_MAX]; /* fairness key */
    uint64_t cookie;              /* the requester's (e.g. IKE SA id); the pool ignores it */
    int64_t queued_ms, done_ms;   /* radius_now_ms() at submit and at completion */
    union {
        struct {
            struct radius_eap_req req;
            struct radius_eap_res res;
        } eap;
        struct {
            struct radius_acct_req req;
            struct radius_acct_res res;
        } acct;
    } u;
    struct auth_job *next; /* the pool's */
};

/* A zeroed job of that kind (server_hint -1). NULL if out of memory. */
struct auth_job *auth_job_new(enum auth_job_kind kind, const char *tenant, uint64_t cookie);
/* Wipes (secrets, MSK) and frees. NULL accepted. */
void auth_job_free(struct auth_job *job);

struct auth_pool;

/* Starts the threads. wake is sent whenever a job is done; its callback
 * calls auth_pool_drain. The pool does not own wake. NULL on failure. */
struct auth_pool *auth_pool_new(const struct auth_pool_cfg *cfg, struct evl_async *wake);

/*
 * Queues a job. Returns 0 and takes ownership (the job comes back through
 * auth_pool_drain), or -1 with the reason in why (the caller keeps the job).
 */
int auth_pool_submit(struct auth_pool *p, struct auth_job *job, char *why, size_t whylen);

/* Hands every finished job to cb, which takes ownership of it. Returns how
 * many. Call it from wake's callback. */
typedef void (*auth_done_cb)(struct auth_job *job, void *arg);
size_t auth_pool_drain(struct auth_pool *p, auth_done_cb cb, void *arg);

struct auth_pool_stats {
    unsigned threads, waiting, running, done;
    uint64_t refused; /* since start */
};
void auth_pool_get_stats(struct auth_pool *p, struct auth_pool_stats *st);

/* Stops the threads: jobs still waiting are dropped, running ones finish
 * first (a running job ends within its servers' timeout x retries). Jobs not
 * drained are freed. NULL accepted. */
void auth_pool_free(struct auth_pool *p);

#endif
