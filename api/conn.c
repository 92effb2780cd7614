/* Per-thread connections and statements: see conn.h. */
#include "api/conn.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "concentrator/log.h"
#include "db/db.h"

#define STMT_CACHE 128

struct cached {
    sqlite3 *db;
    uint64_t hash; /* of sql: most lookups end here, not in strcmp */
    char *sql;
    sqlite3_stmt *st;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

struct conn {
    sqlite3 *db;
    struct json_tokener *tok;
    struct cached stmts[STMT_CACHE];
    unsigned next; /* round-robin eviction */
};

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void conn_free(void *p)
{
    struct conn *c = p;
    if (!c)
        return;
    for (unsigned i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(c->stmts[i].st);
        free(c->stmts[i].sql);
    }
    db_close(c->db);
    if (c->tok)
        json_tokener_free(c->tok);
    free(c);
}

static void make_key(void)
{
    pthread_key_create(&key, conn_free);
}

static struct conn *this_conn(void)
{
    pthread_once(&once, make_key);
    struct conn *c = pthread_getspecific(key);
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (c)
            pthread_setspecific(key, c);
    }
    return c;
}

sqlite3 *api_conn(const char *path)
{
    struct conn *c = this_conn();
    if (!c)
        return NULL;
    if (!c->db) {
        char err[512];
        c->db = db_open(path, false, err, sizeof(err));
        if (!c->db)
            log_err("api", "%s", err);
    }
    return c->db;
}

sqlite3_stmt *api_stmt(sqlite3 *db, const char *sql)
{
    struct conn *c = this_conn();
    uint64_t h = fnv1a(sql);
    if (c) {
        for (unsigned i = 0; i < STMT_CACHE; i++) {
            struct cached *e = &c->stmts[i];
            if (e->st && e->hash == h && e->db == db && !strcmp(e->sql, sql)) {
                sqlite3_reset(e->st);
                sqlite3_clear_bindings(e->st);
                return e->st;
            }
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        log_err("api", "prepare: %s: %s", sqlite3_errmsg(db), sql);
        return NULL;
    }
    if (c) {
        struct cached *e = &c->stmts[c->next];
        c->next = (c->next + 1) % STMT_CACHE;
        sqlite3_finalize(e->st);
        free(e->sql);
        e->db = db;
        e->hash = h;
        e->sql = strdup(sql);
        e->st = e->sql ? st : NULL;
        if (!e->sql) {
            sqlite3_finalize(st);
            return NULL;
        }
    }
    return st;
}

struct json_tokener *api_tokener(void)
{
    struct conn *c = this_conn();
    if (!c)
        return NULL;
    if (!c->tok)
        c->tok = json_tokener_new();
    if (c->tok)
        json_tokener_reset(c->tok);
    return c->tok;
}

void api_stmt_done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}
