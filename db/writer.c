/* The writer thread: see writer.h. */
#include "db/writer.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "concentrator/log.h"
#include "db/db.h"

#define BATCH_MAX 256

struct job {
    struct job *next;
    db_job_fn fn;
    void *arg;
    db_job_free_fn free_arg;
};

struct db_writer {
    pthread_t thread;
    sqlite3 *db;
    pthread_mutex_t lock; /* protects everything below */
    pthread_cond_t wake;  /* new jobs, or stop */
    pthread_cond_t done;  /* a batch committed */
    struct job *head, *tail;
    size_t queued, max_queue;
    uint64_t submitted, completed; /* job counts, for flush */
    unsigned long failed;
    bool stopping;
};

static void run_batch(struct db_writer *w, struct job *batch)
{
    bool in_tx = db_begin(w->db) == SQLITE_OK;
    for (struct job *j = batch; j; j = j->next) {
        if (in_tx)
            sqlite3_exec(w->db, "SAVEPOINT job", NULL, NULL, NULL);
        int rc = j->fn(w->db, j->arg);
        if (rc != SQLITE_OK) {
            log_err("db", "writer job failed: %s", sqlite3_errstr(rc));
            __atomic_add_fetch(&w->failed, 1, __ATOMIC_RELAXED);
            if (in_tx)
                sqlite3_exec(w->db, "ROLLBACK TO job", NULL, NULL, NULL);
        }
        if (in_tx)
            sqlite3_exec(w->db, "RELEASE job", NULL, NULL, NULL);
    }
    if (in_tx && db_commit(w->db) != SQLITE_OK) {
        db_rollback(w->db);
        log_err("db", "writer batch could not be committed; its records are lost");
    }
}

static void *writer_main(void *arg)
{
    struct db_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        if (!w->head && w->stopping)
            break;
        /* Take up to BATCH_MAX jobs off the queue. */
        struct job *batch = w->head, *last = w->head;
        size_t n = 1;
        while (last->next && n < BATCH_MAX) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (!w->head)
            w->tail = NULL;
        last->next = NULL;
        w->queued -= n;
        pthread_mutex_unlock(&w->lock);

        run_batch(w, batch);
        while (batch) {
            struct job *next = batch->next;
            if (batch->free_arg)
                batch->free_arg(batch->arg);
            free(batch);
            batch = next;
        }

        pthread_mutex_lock(&w->lock);
        w->completed += n;
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct db_writer *db_writer_start(const char *path, size_t max_queue, char *err, size_t errlen)
{
    struct db_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->db = db_open(path, false, err, errlen);
    if (!w->db) {
        free(w);
        return NULL;
    }
    w->max_queue = max_queue;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->done, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        snprintf(err, errlen, "cannot start the writer thread");
        db_close(w->db);
        free(w);
        return NULL;
    }
    return w;
}

bool db_writer_submit(struct db_writer *w, db_job_fn fn, void *arg, db_job_free_fn free_arg)
{
    struct job *j = malloc(sizeof(*j));
    pthread_mutex_lock(&w->lock);
    if (!j || w->stopping || w->queued >= w->max_queue) {
        pthread_mutex_unlock(&w->lock);
        free(j);
        if (free_arg)
            free_arg(arg);
        return false;
    }
    *j = (struct job){.fn = fn, .arg = arg, .free_arg = free_arg};
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    w->queued++;
    w->submitted++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return true;
}

void db_writer_flush(struct db_writer *w)
{
    pthread_mutex_lock(&w->lock);
    uint64_t target = w->submitted;
    while (w->completed < target)
        pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

void db_writer_stop(struct db_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    db_close(w->db);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->done);
    free(w);
}

size_t db_writer_queued(struct db_writer *w)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->queued;
    pthread_mutex_unlock(&w->lock);
    return n;
}

unsigned long db_writer_failed(struct db_writer *w)
{
    return __atomic_load_n(&w->failed, __ATOMIC_RELAXED);
}
