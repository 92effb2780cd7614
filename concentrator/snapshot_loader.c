/* The snapshot loader thread: see snapshot_loader.h. */
#define _GNU_SOURCE
#include "concentrator/snapshot_loader.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "concentrator/log.h"
#include "concentrator/snapshot.h"
#include "db/db.h"

#define QUIET_MS 100 /* a rebuild waits for this long without changes */

struct snapshot_loader {
    pthread_t thread;
    sqlite3 *db;
    const struct seal_key *key;
    snapshot_sink_fn sink;
    void *arg;
    uint64_t generation;
    pthread_mutex_t lock; /* guards dirty, stopping */
    pthread_cond_t cond;
    bool dirty, stopping;
};

static int load(struct snapshot_loader *l)
{
    char err[256];
    struct snapshot *s = snapshot_load(l->db, l->key, ++l->generation, err, sizeof(err));
    if (!s) {
        log_err("config", "cannot rebuild the configuration snapshot: %s", err);
        return -1;
    }
    l->sink(l->arg, s);
    return 0;
}

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void *loader_main(void *arg)
{
    struct snapshot_loader *l = arg;
    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        if (!l->dirty) {
            pthread_cond_wait(&l->cond, &l->lock);
            continue;
        }
        /* Wait until changes stop for QUIET_MS. */
        l->dirty = false;
        struct timespec ts;
        deadline_in(&ts, QUIET_MS);
        while (!l->stopping && pthread_cond_timedwait(&l->cond, &l->lock, &ts) != ETIMEDOUT) {
            if (l->dirty) {
                l->dirty = false;
                deadline_in(&ts, QUIET_MS);
            }
        }
        if (l->stopping)
            break;
        pthread_mutex_unlock(&l->lock);
        load(l);
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

struct snapshot_loader *snapshot_loader_start(const char *db_path, const struct seal_key *key,
                                              snapshot_sink_fn sink, void *arg, char *err,
                                              size_t errlen)
{
    struct snapshot_loader *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->db = db_open(db_path, false, err, errlen);
    if (!l->db) {
        free(l);
        return NULL;
    }
    l->key = key;
    l->sink = sink;
    l->arg = arg;
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (load(l) < 0 || pthread_create(&l->thread, NULL, loader_main, l) != 0) {
        snprintf(err, errlen, "cannot load the configuration snapshot");
        db_close(l->db);
        pthread_mutex_destroy(&l->lock);
        pthread_cond_destroy(&l->cond);
        free(l);
        return NULL;
    }
    return l;
}

void snapshot_loader_kick(struct snapshot_loader *l)
{
    pthread_mutex_lock(&l->lock);
    l->dirty = true;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

void snapshot_loader_stop(struct snapshot_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    db_close(l->db);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
}
