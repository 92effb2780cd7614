/*
 * The writer thread: takes writes off hot paths (session history, accounting
 * records, anything the IKE thread must not wait for) and commits them in
 * batches, one transaction per batch, on its own connection.
 */
#ifndef ISTHMUS_DB_WRITER_H
#define ISTHMUS_DB_WRITER_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

struct db_writer;

/* A job runs on the writer thread inside the batch's transaction. It returns
 * SQLITE_OK, or an error (the job's work is rolled back to a savepoint and
 * logged; other jobs of the batch still commit). free_arg (may be NULL) is
 * called on arg after the job, or when the job is dropped. */
typedef int (*db_job_fn)(sqlite3 *db, void *arg);
typedef void (*db_job_free_fn)(void *arg);

/* Starts the thread on its own connection to path. max_queue bounds the jobs
 * waiting; past it db_writer_submit refuses. */
struct db_writer *db_writer_start(const char *path, size_t max_queue, char *err, size_t errlen);

/* Queues a job; never blocks. Returns false (and frees arg) when the queue is
 * full or the writer is stopping. Takes ownership of arg. */
bool db_writer_submit(struct db_writer *w, db_job_fn fn, void *arg, db_job_free_fn free_arg);

/* Blocks until every job submitted before the call is committed. */
void db_writer_flush(struct db_writer *w);

/* Commits what is queued, stops the thread and joins it. NULL accepted. */
void db_writer_stop(struct db_writer *w);

/* Counters for metrics. */
size_t db_writer_queued(struct db_writer *w);
unsigned long db_writer_failed(struct db_writer *w);

#endif
