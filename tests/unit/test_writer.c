/* The writer thread: jobs commit in batches, flush waits for them, a failing
 * job loses only its own work, the queue is bounded, and stopping commits
 * what is queued. Checked from a second connection, as a reader would. */
#include "tests/unit/testutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "db/db.h"
#include "db/writer.h"

struct fixture {
    char *dir;
    char *path;
    struct db_writer *w;
    char err[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->dir = tu_tmpdir();
    if (!f->dir)
        return -1;
    f->path = tu_path(f->dir, "writer.db");
    sqlite3 *db = db_open(f->path, true, f->err, sizeof(f->err));
    if (!db)
        return -1;
    int rc = sqlite3_exec(db, "CREATE TABLE rows (v INTEGER PRIMARY KEY)", NULL, NULL, NULL);
    db_close(db);
    if (rc != SQLITE_OK)
        return -1;
    f->w = db_writer_start(f->path, 100000, f->err, sizeof(f->err));
    if (!f->w)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    db_writer_stop(f->w);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

/* What another connection sees. */
static long long count_where(struct fixture *f, const char *where)
{
    char err[256];
    sqlite3 *db = db_open(f->path, false, err, sizeof(err));
    if (!db)
        fail_msg("%s", err);
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM rows %s", where ? where : "");
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    db_close(db);
    return n;
}

/* A job's argument: the value to insert, and counters shared by the test. */
struct shared {
    atomic_int freed;
    atomic_int commits;
};

struct row_job {
    long long v;
    bool fail_after_insert;
    struct shared *sh;
};

static struct row_job *row(long long v, struct shared *sh)
{
    struct row_job *j = calloc(1, sizeof(*j));
    if (!j)
        abort();
    j->v = v;
    j->sh = sh;
    return j;
}

static int insert_row(sqlite3 *db, void *arg)
{
    struct row_job *j = arg;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "INSERT INTO rows (v) VALUES (?)", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, j->v);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return rc;
    return j->fail_after_insert ? SQLITE_ERROR : SQLITE_OK;
}

static void free_row(void *arg)
{
    struct row_job *j = arg;
    if (j->sh)
        atomic_fetch_add(&j->sh->freed, 1);
    free(j);
}

/* A gate: a job that holds the writer thread until the test opens it, so the
 * test can queue jobs behind it and know they form one batch. */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool entered, open;
};

static void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->entered = g->open = false;
}

static int gate_job(sqlite3 *db, void *arg)
{
    (void)db;
    struct gate *g = arg;
    pthread_mutex_lock(&g->lock);
    g->entered = true;
    pthread_cond_broadcast(&g->cond);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    return SQLITE_OK;
}

/* Waits (at most 5 s) until the writer thread is inside the gate. */
static void gate_wait_entered(struct gate *g)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&g->lock);
    while (!g->entered)
        if (pthread_cond_timedwait(&g->cond, &g->lock, &until) != 0)
            break;
    bool entered = g->entered;
    pthread_mutex_unlock(&g->lock);
    assert_true(entered);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void gate_destroy(struct gate *g)
{
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cond);
}

static int count_commit(void *arg)
{
    struct shared *sh = arg;
    atomic_fetch_add(&sh->commits, 1);
    return 0;
}

/* Counts the writer connection's commits into arg (NULL: stops counting). */
static int hook_commits(sqlite3 *db, void *arg)
{
    sqlite3_commit_hook(db, arg ? count_commit : NULL, arg);
    return SQLITE_OK;
}

static void jobs_commit_in_batches(void **state)
{
    struct fixture *f = *state;
    struct shared sh = {0};
    struct gate g;
    gate_init(&g);
    /* Count the writer connection's commits from here on. */
    assert_true(db_writer_submit(f->w, hook_commits, &sh, NULL));
    assert_true(db_writer_submit(f->w, gate_job, &g, NULL));
    gate_wait_entered(&g);
    int base = atomic_load(&sh.commits);
    for (int i = 1; i <= 1000; i++)
        assert_true(db_writer_submit(f->w, insert_row, row(i, &sh), free_row));
    assert_int_equal(db_writer_queued(f->w), 1000);
    assert_int_equal(count_where(f, NULL), 0); /* nothing visible while queued */
    gate_open(&g);
    db_writer_flush(f->w);
    assert_int_equal(count_where(f, NULL), 1000);
    assert_int_equal(db_writer_queued(f->w), 0);
    assert_int_equal(atomic_load(&sh.freed), 1000); /* every argument freed */
    /* 1000 queued jobs took a handful of transactions, not 1000. */
    int commits = atomic_load(&sh.commits) - base;
    if (commits < 1 || commits > 10)
        fail_msg("1000 jobs took %d commits", commits);
    assert_int_equal(db_writer_failed(f->w), 0);
    assert_true(db_writer_submit(f->w, hook_commits, NULL, NULL)); /* sh leaves scope */
    db_writer_flush(f->w);
    gate_destroy(&g);
}

struct slow {
    atomic_bool done;
};

static int slow_job(sqlite3 *db, void *arg)
{
    struct slow *s = arg;
    tu_sleep_ms(100);
    int rc = sqlite3_exec(db, "INSERT INTO rows (v) VALUES (42)", NULL, NULL, NULL);
    atomic_store(&s->done, true);
    return rc;
}

static void flush_waits_for_jobs_submitted_before_it(void **state)
{
    struct fixture *f = *state;
    struct slow s = {0};
    double start = tu_now();
    assert_true(db_writer_submit(f->w, slow_job, &s, NULL));
    db_writer_flush(f->w);
    assert_true(atomic_load(&s.done));
    assert_true(tu_now() - start >= 0.09);
    assert_int_equal(count_where(f, "WHERE v=42"), 1); /* committed, not just run */
    /* With nothing queued, flush returns at once. */
    start = tu_now();
    db_writer_flush(f->w);
    assert_true(tu_now() - start < 0.5);
}

static void failing_job_loses_only_its_own_work(void **state)
{
    struct fixture *f = *state;
    struct shared sh = {0};
    struct gate g;
    gate_init(&g);
    assert_true(db_writer_submit(f->w, gate_job, &g, NULL));
    gate_wait_entered(&g);
    /* One batch: 1, 2 (inserts, then fails), 1 again (constraint), 3. */
    struct row_job *bad = row(2, &sh);
    bad->fail_after_insert = true;
    assert_true(db_writer_submit(f->w, insert_row, row(1, &sh), free_row));
    assert_true(db_writer_submit(f->w, insert_row, bad, free_row));
    assert_true(db_writer_submit(f->w, insert_row, row(1, &sh), free_row));
    assert_true(db_writer_submit(f->w, insert_row, row(3, &sh), free_row));
    gate_open(&g);
    db_writer_flush(f->w);
    assert_int_equal(count_where(f, NULL), 2);
    assert_int_equal(count_where(f, "WHERE v IN (1, 3)"), 2);
    assert_int_equal(count_where(f, "WHERE v=2"), 0); /* its insert was rolled back */
    assert_int_equal(db_writer_failed(f->w), 2);
    assert_int_equal(atomic_load(&sh.freed), 4); /* failed jobs' arguments freed too */

    /* The writer carries on after failures. */
    assert_true(db_writer_submit(f->w, insert_row, row(4, &sh), free_row));
    db_writer_flush(f->w);
    assert_int_equal(count_where(f, "WHERE v=4"), 1);
    gate_destroy(&g);
}

static void full_queue_refuses_and_frees_the_argument(void **state)
{
    struct fixture *f = *state;
    db_writer_stop(f->w);
    f->w = db_writer_start(f->path, 3, f->err, sizeof(f->err));
    assert_non_null(f->w);
    struct shared sh = {0};
    struct gate g;
    gate_init(&g);
    assert_true(db_writer_submit(f->w, gate_job, &g, NULL));
    gate_wait_entered(&g); /* the gate job is off the queue: 3 places free */
    for (int i = 1; i <= 3; i++)
        assert_true(db_writer_submit(f->w, insert_row, row(i, &sh), free_row));
    assert_int_equal(db_writer_queued(f->w), 3);
    assert_false(db_writer_submit(f->w, insert_row, row(4, &sh), free_row));
    assert_int_equal(atomic_load(&sh.freed), 1); /* the refused one, at once */
    static struct row_job five = {.v = 5};       /* not the writer's to free */
    assert_false(db_writer_submit(f->w, insert_row, &five, NULL));
    gate_open(&g);
    db_writer_flush(f->w);
    assert_int_equal(count_where(f, NULL), 3);
    assert_int_equal(count_where(f, "WHERE v >= 4"), 0);
    assert_int_equal(atomic_load(&sh.freed), 4);
    /* Room again once the queue drained. */
    assert_true(db_writer_submit(f->w, insert_row, row(6, &sh), free_row));
    db_writer_flush(f->w);
    assert_int_equal(count_where(f, "WHERE v=6"), 1);
    gate_destroy(&g);
}

static void stop_commits_what_is_queued(void **state)
{
    struct fixture *f = *state;
    struct shared sh = {0};
    struct gate g;
    gate_init(&g);
    assert_true(db_writer_submit(f->w, gate_job, &g, NULL));
    gate_wait_entered(&g);
    for (int i = 1; i <= 600; i++) /* more than one batch */
        assert_true(db_writer_submit(f->w, insert_row, row(i, &sh), free_row));
    gate_open(&g);
    db_writer_stop(f->w); /* no flush */
    f->w = NULL;
    assert_int_equal(count_where(f, NULL), 600);
    assert_int_equal(atomic_load(&sh.freed), 600);
    db_writer_stop(NULL);
    gate_destroy(&g);
}

static void start_on_missing_database_fails(void **state)
{
    struct fixture *f = *state;
    char *missing = tu_path(f->dir, "missing/none.db");
    f->err[0] = '\0';
    assert_null(db_writer_start(missing, 10, f->err, sizeof(f->err)));
    assert_non_null(strstr(f->err, missing));
    free(missing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(jobs_commit_in_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(flush_waits_for_jobs_submitted_before_it, setup, teardown),
        cmocka_unit_test_setup_teardown(failing_job_loses_only_its_own_work, setup, teardown),
        cmocka_unit_test_setup_teardown(full_queue_refuses_and_frees_the_argument, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_commits_what_is_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(start_on_missing_database_fails, setup, teardown),
    };
    return cmocka_run_group_tests_name("writer", tests, NULL, NULL);
}
