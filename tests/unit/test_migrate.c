/* Schema migrations: a fresh store gets every table, an old one is upgraded
 * and keeps its rows, a newer one is refused untouched, and a failure or a
 * crash inside a migration leaves the previous whole version. */
#include "tests/unit/testutil.h"

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "concentrator/log.h"
#include "db/db.h"
#include "db/migrate.h"

struct fixture {
    char *dir;
    char *path; /* dir/test.db */
    sqlite3 *db;
    char err[512];
};

static const struct db_migration v1 = {
    1, "0001_first",
    "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE INDEX things_name ON things (name);"};
static const struct db_migration v2 = {
    2, "0002_second",
    "CREATE TABLE owners (id INTEGER PRIMARY KEY, thing_id INTEGER REFERENCES things(id));"
    "ALTER TABLE things ADD COLUMN colour TEXT NOT NULL DEFAULT 'blue';"};
/* Creates a table, then fails: nothing of it may remain. */
static const struct db_migration v2_broken = {2, "0002_broken",
                                              "CREATE TABLE owners (id INTEGER PRIMARY KEY);"
                                              "INSERT INTO owners VALUES (1);"
                                              "INSERT INTO no_such_table VALUES (1);"};
static const struct db_migration v3 = {3, "0003_third", "CREATE TABLE third (x INTEGER);"};

/* The tables migrations/0001_init.sql creates. */
static const char *const init_tables[] = {
    "tenants",    "gateway_ids", "realms",          "policies",          "pools",
    "groups",     "users",       "radius_servers",  "certificates",      "crl_state",
    "api_tokens", "audit_log",   "session_history", "schema_migrations",
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->dir = tu_tmpdir();
    if (!f->dir)
        return -1;
    f->path = tu_path(f->dir, "test.db");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    db_close(f->db);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

static sqlite3 *open_db(struct fixture *f)
{
    sqlite3 *db = db_open(f->path, true, f->err, sizeof(f->err));
    if (!db)
        fail_msg("db_open: %s", f->err);
    return db;
}

static bool table_exists(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_master "
                                        "WHERE type='table' AND name=?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    bool exists = sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    return exists;
}

static long long query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static void fresh_database_gets_latest_schema(void **state)
{
    struct fixture *f = *state;
    f->db = open_db(f);
    assert_int_equal(db_schema_version(f->db), 0);
    int n = db_migrate(f->db, f->err, sizeof(f->err));
    if (n < 0)
        fail_msg("db_migrate: %s", f->err);
    assert_int_equal(n, (int)db_migrations_count);
    assert_true(db_migrations_count >= 1);
    assert_int_equal(db_schema_latest(), db_migrations[db_migrations_count - 1].version);
    assert_int_equal(db_schema_version(f->db), db_schema_latest());
    for (size_t i = 0; i < sizeof(init_tables) / sizeof(init_tables[0]); i++)
        if (!table_exists(f->db, init_tables[i]))
            fail_msg("table %s is missing after migrating", init_tables[i]);
    /* Each migration is recorded once, by name. */
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM schema_migrations"),
                     (long long)db_migrations_count);
    assert_int_equal(
        query_int(f->db, "SELECT count(*) FROM schema_migrations WHERE name='0001_init'"), 1);
    /* The store's connection settings. */
    assert_int_equal(query_int(f->db, "PRAGMA foreign_keys"), 1);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    /* Running again changes nothing. */
    assert_int_equal(db_migrate(f->db, f->err, sizeof(f->err)), 0);
    assert_int_equal(db_schema_version(f->db), db_schema_latest());
}

static void migrations_are_numbered_in_order(void **state)
{
    (void)state;
    for (unsigned i = 1; i < db_migrations_count; i++)
        if (db_migrations[i].version <= db_migrations[i - 1].version)
            fail_msg("migration %s does not come after %s", db_migrations[i].name,
                     db_migrations[i - 1].name);
    for (unsigned i = 0; i < db_migrations_count; i++) {
        assert_non_null(db_migrations[i].sql);
        assert_true(strlen(db_migrations[i].sql) > 0);
    }
}

static void older_database_is_upgraded_and_keeps_rows(void **state)
{
    struct fixture *f = *state;
    const struct db_migration list[] = {v1, v2, v3};
    f->db = open_db(f);
    assert_int_equal(db_migrate_list(f->db, list, 1, f->err, sizeof(f->err)), 1);
    exec_ok(f->db, "INSERT INTO things (name) VALUES ('lamp'), ('desk'), ('chair')");
    db_close(f->db);

    f->db = open_db(f);
    assert_int_equal(db_schema_version(f->db), 1);
    int n = db_migrate_list(f->db, list, 3, f->err, sizeof(f->err));
    if (n < 0)
        fail_msg("upgrade: %s", f->err);
    assert_int_equal(n, 2);
    assert_int_equal(db_schema_version(f->db), 3);
    assert_true(table_exists(f->db, "owners"));
    assert_true(table_exists(f->db, "third"));
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM things"), 3);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM things WHERE name='desk' AND "
                                      "colour='blue'"),
                     1);
}

static void newer_database_is_refused_and_untouched(void **state)
{
    struct fixture *f = *state;
    const struct db_migration list[] = {v1, v2};
    f->db = open_db(f);
    assert_int_equal(db_migrate_list(f->db, list, 2, f->err, sizeof(f->err)), 2);
    exec_ok(f->db, "INSERT INTO things (name) VALUES ('lamp')");
    db_close(f->db);
    f->db = NULL;
    size_t before_len = 0, after_len = 0;
    char *before = tu_read(f->path, &before_len);
    assert_non_null(before);

    /* A binary that knows only version 1. */
    f->db = open_db(f);
    f->err[0] = '\0';
    assert_int_equal(db_migrate_list(f->db, list, 1, f->err, sizeof(f->err)), -1);
    if (!strstr(f->err, "newer") || !strstr(f->err, "2"))
        fail_msg("the refusal should say the database (2) is newer: %s", f->err);
    assert_int_equal(db_schema_version(f->db), 2);
    db_close(f->db);
    f->db = NULL;

    char *after = tu_read(f->path, &after_len);
    assert_non_null(after);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);

    /* The binary's own list refuses a store from the future too. */
    f->db = open_db(f);
    exec_ok(f->db, "INSERT INTO schema_migrations VALUES (999999, '999999_future', 0)");
    assert_int_equal(db_migrate(f->db, f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "newer"));
    assert_int_equal(db_schema_version(f->db), 999999);
}

static void failing_migration_leaves_previous_version(void **state)
{
    struct fixture *f = *state;
    const struct db_migration list[] = {v1, v2_broken, v3};
    f->db = open_db(f);
    assert_int_equal(db_migrate_list(f->db, list, 1, f->err, sizeof(f->err)), 1);
    exec_ok(f->db, "INSERT INTO things (name) VALUES ('lamp'), ('desk')");

    f->err[0] = '\0';
    assert_int_equal(db_migrate_list(f->db, list, 3, f->err, sizeof(f->err)), -1);
    if (!strstr(f->err, "0002_broken") || !strstr(f->err, "no_such_table"))
        fail_msg("the error should name the migration and the cause: %s", f->err);
    assert_int_equal(db_schema_version(f->db), 1);
    assert_false(table_exists(f->db, "owners")); /* no partial table */
    assert_false(table_exists(f->db, "third"));  /* nothing after the failure */
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM things"), 2);
    /* The connection is usable and not left inside a transaction. */
    assert_true(sqlite3_get_autocommit(f->db));
    exec_ok(f->db, "INSERT INTO things (name) VALUES ('chair')");

    /* Fixed in a later release: the upgrade then goes through. */
    const struct db_migration fixed[] = {v1, v2, v3};
    assert_int_equal(db_migrate_list(f->db, fixed, 3, f->err, sizeof(f->err)), 2);
    assert_int_equal(db_schema_version(f->db), 3);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM things"), 3);
}

static void failing_first_migration_leaves_empty_schema(void **state)
{
    struct fixture *f = *state;
    const struct db_migration broken = {1, "0001_broken", "CREATE TABLE a (x); SELEC 1;"};
    f->db = open_db(f);
    assert_int_equal(db_migrate_list(f->db, &broken, 1, f->err, sizeof(f->err)), -1);
    assert_int_equal(db_schema_version(f->db), 0);
    assert_false(table_exists(f->db, "a"));
}

/* Reads the child's stderr until "pausing" shows (or 10 s pass). */
static bool wait_for_pause(int fd)
{
    char buf[4096];
    size_t len = 0;
    double deadline = tu_now() + 10.0;
    while (tu_now() < deadline && len < sizeof(buf) - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            return false; /* the child is gone */
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "pausing inside migration 2"))
            return true;
    }
    return false;
}

static void crash_inside_migration_keeps_previous_version(void **state)
{
    struct fixture *f = *state;
    const struct db_migration list[] = {v1, v2};
    f->db = open_db(f);
    assert_int_equal(db_migrate_list(f->db, list, 1, f->err, sizeof(f->err)), 1);
    exec_ok(f->db, "INSERT INTO things (name) VALUES ('lamp'), ('desk'), ('chair')");
    db_close(f->db);
    f->db = NULL;

    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child: log lines (the hook's "pausing") go to the pipe. */
        close(pipefd[0]);
        dup2(pipefd[1], STDERR_FILENO);
        setenv("ISTHMUS_TEST_PAUSE_IN_MIGRATION", "2", 1);
        char err[512];
        sqlite3 *db = db_open(f->path, false, err, sizeof(err));
        if (!db)
            _exit(3);
        db_migrate_list(db, list, 2, err, sizeof(err));
        _exit(4); /* the hook sleeps 60 s: never reached in time */
    }
    close(pipefd[1]);
    bool paused = wait_for_pause(pipefd[0]);
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(pipefd[0]);
    assert_true(paused);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* The parent reopens: version 1, its rows, nothing of version 2. */
    f->db = open_db(f);
    assert_int_equal(db_schema_version(f->db), 1);
    assert_false(table_exists(f->db, "owners"));
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM things"), 3);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);

    /* And version 2 then applies cleanly. */
    assert_int_equal(db_migrate_list(f->db, list, 2, f->err, sizeof(f->err)), 1);
    assert_int_equal(db_schema_version(f->db), 2);
    assert_true(table_exists(f->db, "owners"));
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM things WHERE colour='blue'"), 3);
}

static void open_without_create_refuses_missing_file(void **state)
{
    struct fixture *f = *state;
    f->err[0] = '\0';
    assert_null(db_open(f->path, false, f->err, sizeof(f->err)));
    assert_non_null(strstr(f->err, f->path));
    assert_int_equal(access(f->path, F_OK), -1);
}

static void second_lock_on_one_database_is_refused(void **state)
{
    struct fixture *f = *state;
    int fd = db_lock_exclusive(f->path, f->err, sizeof(f->err));
    if (fd < 0)
        fail_msg("first lock: %s", f->err);
    f->err[0] = '\0';
    assert_int_equal(db_lock_exclusive(f->path, f->err, sizeof(f->err)), -1);
    if (!strstr(f->err, "in use") || !strstr(f->err, f->path))
        fail_msg("the refusal should say the database is in use: %s", f->err);
    close(fd);
    /* Released with its holder. */
    fd = db_lock_exclusive(f->path, f->err, sizeof(f->err));
    assert_true(fd >= 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fresh_database_gets_latest_schema, setup, teardown),
        cmocka_unit_test(migrations_are_numbered_in_order),
        cmocka_unit_test_setup_teardown(older_database_is_upgraded_and_keeps_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_database_is_refused_and_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(failing_migration_leaves_previous_version, setup, teardown),
        cmocka_unit_test_setup_teardown(failing_first_migration_leaves_empty_schema, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(crash_inside_migration_keeps_previous_version, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(open_without_create_refuses_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(second_lock_on_one_database_is_refused, setup, teardown),
    };
    log_set_level(LOG_LVL_WARN); /* the child's "pausing" line is a warning */
    return cmocka_run_group_tests_name("migrate", tests, NULL, NULL);
}
