/* Auth threads: see auth_pool.h. */
#include "auth/auth_pool.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concentrator/log.h"

struct auth_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Everything below is protected by mu. */
    struct auth_job *wait_head, *wait_tail; /* FIFO of waiting jobs */
    struct auth_job *done_head, *done_tail; /* FIFO of finished jobs */
    unsigned waiting, running, done;
    uint64_t refused;
    bool stop;
    const struct auth_job **running_jobs; /* one slot per thread: for fairness */
    /* Set at creation, read-only after. */
    struct evl_async *wake;
    unsigned nthreads, started;
    unsigned queue_limit, tenant_queue, tenant_inflight;
    pthread_t *threads;
};

struct worker_arg {
    struct auth_pool *p;
    unsigned slot;
};

struct auth_job *auth_job_new(enum auth_job_kind kind, const char *tenant, uint64_t cookie)
{
    struct auth_job *job = calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    job->kind = kind;
    job->cookie = cookie;
    snprintf(job->tenant, sizeof(job->tenant), "%s", tenant ? tenant : "");
    if (kind == AUTH_JOB_EAP)
        job->u.eap.req.server_hint = -1;
    return job;
}

void auth_job_free(struct auth_job *job)
{
    if (!job)
        return;
    OPENSSL_cleanse(job, sizeof(*job));
    free(job);
}

static unsigned tenant_running(const struct auth_pool *p, const char *tenant)
{
    unsigned n = 0;
    for (unsigned i = 0; i < p->nthreads; i++)
        if (p->running_jobs[i] && strcmp(p->running_jobs[i]->tenant, tenant) == 0)
            n++;
    return n;
}

static unsigned tenant_waiting(const struct auth_pool *p, const char *tenant)
{
    unsigned n = 0;
    for (const struct auth_job *j = p->wait_head; j; j = j->next)
        if (strcmp(j->tenant, tenant) == 0)
            n++;
    return n;
}

/* The first waiting job whose tenant has a thread to spare; unlinked. */
static struct auth_job *take_eligible(struct auth_pool *p)
{
    struct auth_job *prev = NULL;
    for (struct auth_job *j = p->wait_head; j; prev = j, j = j->next) {
        if (tenant_running(p, j->tenant) >= p->tenant_inflight)
            continue;
        if (prev)
            prev->next = j->next;
        else
            p->wait_head = j->next;
        if (p->wait_tail == j)
            p->wait_tail = prev;
        j->next = NULL;
        p->waiting--;
        return j;
    }
    return NULL;
}

static void run_job(struct auth_job *job)
{
    struct log_ctx ctx = {.tenant = job->tenant};
    if (job->kind == AUTH_JOB_EAP) {
        struct radius_eap_res *res = &job->u.eap.res;
        radius_eap_relay(&job->u.eap.req, res);
        if (res->outcome != RADIUS_EAP_CHALLENGE)
            log_msg(LOG_LVL_INFO, "radius", &ctx, "EAP for '%s': %s (%s)", job->u.eap.req.user,
                    radius_eap_outcome_name(res->outcome), res->why);
    } else {
        struct radius_acct_res *res = &job->u.acct.res;
        radius_acct_send(&job->u.acct.req, res);
        log_msg(res->ok ? LOG_LVL_DEBUG : LOG_LVL_WARN, "radius", &ctx,
                "accounting %s of session %s: %s", radius_acct_status_name(job->u.acct.req.status),
                job->u.acct.req.session_id, res->why);
    }
}

static void *worker(void *argp)
{
    struct worker_arg *wa = argp;
    struct auth_pool *p = wa->p;
    unsigned slot = wa->slot;
    free(wa);

    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct auth_job *job = take_eligible(p);
        if (!job) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        p->running_jobs[slot] = job;
        p->running++;
        pthread_mutex_unlock(&p->mu);

        run_job(job);
        job->done_ms = radius_now_ms();

        pthread_mutex_lock(&p->mu);
        p->running_jobs[slot] = NULL;
        p->running--;
        if (p->done_tail)
            p->done_tail->next = job;
        else
            p->done_head = job;
        p->done_tail = job;
        p->done++;
        /* A thread of this tenant is free again: a waiting job of it may now
         * run, and an idle thread may be asleep on it. */
        if (p->waiting)
            pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (p->wake)
            evl_async_send(p->wake);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct auth_pool *auth_pool_new(const struct auth_pool_cfg *cfg, struct evl_async *wake)
{
    struct auth_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->wake = wake;
    p->nthreads = cfg && cfg->threads ? cfg->threads : AUTH_POOL_DEFAULT_THREADS;
    if (p->nthreads > 256)
        p->nthreads = 256;
    p->queue_limit = cfg && cfg->queue_limit ? cfg->queue_limit : AUTH_POOL_DEFAULT_QUEUE;
    p->tenant_queue = cfg && cfg->tenant_queue ? cfg->tenant_queue : AUTH_POOL_DEFAULT_TENANT_QUEUE;
    p->tenant_inflight = cfg && cfg->tenant_inflight ? cfg->tenant_inflight : p->nthreads / 2;
    if (p->tenant_inflight == 0)
        p->tenant_inflight = 1;
    p->threads = calloc(p->nthreads, sizeof(*p->threads));
    p->running_jobs = calloc(p->nthreads, sizeof(*p->running_jobs));
    if (!p->threads || !p->running_jobs)
        goto fail;
    for (unsigned i = 0; i < p->nthreads; i++) {
        struct worker_arg *wa = malloc(sizeof(*wa));
        if (!wa)
            goto fail;
        wa->p = p;
        wa->slot = i;
        if (pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
            free(wa);
            goto fail;
        }
        p->started++;
    }
    return p;
fail:
    log_err("radius", "cannot start %u auth threads", p->nthreads);
    auth_pool_free(p);
    return NULL;
}

int auth_pool_submit(struct auth_pool *p, struct auth_job *job, char *why, size_t whylen)
{
    int ret = -1;
    pthread_mutex_lock(&p->mu);
    if (p->stop) {
        snprintf(why, whylen, "auth threads are stopping");
        goto done;
    }
    if (p->waiting >= p->queue_limit) {
        snprintf(why, whylen, "RADIUS queue full (%u requests waiting)", p->waiting);
        goto done;
    }
    unsigned tw = tenant_waiting(p, job->tenant);
    if (tw >= p->tenant_queue) {
        snprintf(why, whylen, "RADIUS queue of tenant %s full (%u requests waiting)", job->tenant,
                 tw);
        goto done;
    }
    job->queued_ms = radius_now_ms();
    job->next = NULL;
    if (p->wait_tail)
        p->wait_tail->next = job;
    else
        p->wait_head = job;
    p->wait_tail = job;
    p->waiting++;
    pthread_cond_signal(&p->cv);
    ret = 0;
done:
    if (ret != 0)
        p->refused++;
    pthread_mutex_unlock(&p->mu);
    return ret;
}

size_t auth_pool_drain(struct auth_pool *p, auth_done_cb cb, void *arg)
{
    pthread_mutex_lock(&p->mu);
    struct auth_job *list = p->done_head;
    p->done_head = p->done_tail = NULL;
    p->done = 0;
    pthread_mutex_unlock(&p->mu);

    size_t n = 0;
    while (list) {
        struct auth_job *next = list->next;
        list->next = NULL;
        cb(list, arg);
        list = next;
        n++;
    }
    return n;
}

void auth_pool_get_stats(struct auth_pool *p, struct auth_pool_stats *st)
{
    pthread_mutex_lock(&p->mu);
    st->threads = p->nthreads;
    st->waiting = p->waiting;
    st->running = p->running;
    st->done = p->done;
    st->refused = p->refused;
    pthread_mutex_unlock(&p->mu);
}

static void free_list(struct auth_job *j)
{
    while (j) {
        struct auth_job *next = j->next;
        auth_job_free(j);
        j = next;
    }
}

void auth_pool_free(struct auth_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    free_list(p->wait_head);
    free_list(p->done_head);
    free(p->threads);
    free(p->running_jobs);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
