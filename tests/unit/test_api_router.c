/* The API's router and its request path without HTTP: route matching with
 * parameters, 404 against 405, and whole requests through api_dispatch
 * against a real (temporary) database: 401, roles, tenant isolation, 201
 * with Location, 412 on a stale If-Match. */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>

#include "api/http.h"
#include "api/router.h"
#include "api/server.h"
#include "auth/seal.h"
#include "concentrator/registry.h"
#include "auth/token.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/tokens.h"

static const struct api_route *route_of(const char *method, const char *path, struct api_req *req,
                                        unsigned *miss)
{
    const struct api_route *r = NULL;
    memset(req, 0, sizeof(*req));
    *miss = api_route_match(api_routes, api_routes_count, api_method_parse(method), path, req, &r);
    return r;
}

static void routes_capture_decoded_parameters(void **state)
{
    (void)state;
    struct api_req req;
    unsigned miss;
    assert_non_null(
        route_of("GET", "/api/v1/tenants/acme/users/alice%40acme.example", &req, &miss));
    assert_int_equal(req.nparams, 2);
    assert_string_equal(req.params[0], "acme");
    assert_string_equal(req.params[1], "alice@acme.example");
    assert_non_null(route_of("POST", "/api/v1/tenants/acme/certificates/server", &req, &miss));
    assert_non_null(route_of("GET", "/api/v1/tenants/acme/certificates/12", &req, &miss));
    assert_string_equal(req.params[1], "12");
    assert_non_null(route_of("HEAD", "/health", &req, &miss));

    const char *not_found[] = {
        "/api/v1/tenants/",
        "/api/v1/tenants/acme/",
        "/api/v1/tenants//users",
        "/api/v1/tenants/a%2Fb",
        "/api/v1/tenants/a%00b",
        "/api/v1/tenants/a%zz",
        "/api/v1/tenants/a%4",
        "/api/v1/nope",
        "/api/v1/tenants/acme/users/x/y",
        "api/v1/tenants",
        "",
    };
    for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++) {
        if (route_of("GET", not_found[i], &req, &miss))
            fail_msg("%s matched a route", not_found[i]);
        assert_int_equal(miss, 404);
    }
    assert_null(route_of("PUT", "/api/v1/tenants/acme", &req, &miss));
    assert_int_equal(miss, 405);
    assert_null(route_of("DELETE", "/api/v1/audit", &req, &miss));
    assert_int_equal(miss, 405);
    assert_true(api_route_public(api_routes, api_routes_count, "/health"));
    assert_false(api_route_public(api_routes, api_routes_count, "/api/v1/tenants"));
}

static void path_decoding(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(api_path_decode("a%20b", 5, out, sizeof(out)), 3);
    assert_string_equal(out, "a b");
    assert_int_equal(api_path_decode("abcdefgh", 8, out, sizeof(out)), -1); /* no room */
    assert_int_equal(api_path_decode("%2f", 3, out, sizeof(out)), -1);
    assert_int_equal(api_path_decode("%1b", 3, out, sizeof(out)), -1);
    assert_int_equal(api_path_decode("%", 1, out, sizeof(out)), -1);
}

/* ---- whole requests ---- */

struct kv {
    const char *k, *v;
};

struct fake_io {
    struct kv headers[4];
    struct kv query[4];
};

static const char *lookup(const struct kv *kv, const char *name)
{
    for (int i = 0; i < 4 && kv[i].k; i++)
        if (!strcasecmp(kv[i].k, name))
            return kv[i].v;
    return NULL;
}

static const char *fake_header(const struct api_req *r, const char *name)
{
    return lookup(((const struct fake_io *)r->io)->headers, name);
}

static const char *fake_query(const struct api_req *r, const char *name)
{
    return lookup(((const struct fake_io *)r->io)->query, name);
}

struct world {
    char *dir;
    sqlite3 *db;
    struct seal_key key;
    struct api_deps deps;
    char op[TOKEN_TEXT_MAX], viewer[TOKEN_TEXT_MAX];
    int changed;
    int live;            /* what sessions_of_tenant answers */
    int terminated;      /* terminate_sessions calls */
    char ended_user[64]; /* its last username ("*" for a whole tenant) */
};

static int on_count(void *arg, const char *tenant)
{
    (void)tenant;
    return ((struct world *)arg)->live;
}

static void on_terminate(void *arg, const char *tenant, const char *user)
{
    (void)tenant;
    struct world *w = arg;
    w->terminated++;
    snprintf(w->ended_user, sizeof(w->ended_user), "%s", user ? user : "*");
}

static void make_token(struct world *w, char *text, const char *role, const char *tenant)
{
    char id[TOKEN_ID_LEN + 1];
    uint8_t hash[TOKEN_HASH_LEN];
    assert_int_equal(token_generate(text, id), 0);
    token_hash(text, hash);
    assert_int_equal(db_token_insert(w->db, id, "t", role, tenant, hash, sizeof(hash), "test"),
                     SQLITE_OK);
}

static void on_change(void *arg, const char *tenant)
{
    (void)tenant;
    ((struct world *)arg)->changed++;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    char path[512], err[256];
    w->dir = tu_tmpdir();
    snprintf(path, sizeof(path), "%s/t.db", w->dir);
    w->db = db_open(path, true, err, sizeof(err));
    assert_non_null(w->db);
    assert_true(db_migrate(w->db, err, sizeof(err)) >= 0);
    memset(w->key.key, 7, sizeof(w->key.key));
    w->deps.master_key = &w->key;
    w->deps.arg = w;
    w->deps.config_changed = on_change;
    w->deps.sessions_of_tenant = on_count;
    w->deps.terminate_sessions = on_terminate;
    make_token(w, w->op, "operator", NULL);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    db_close(w->db);
    tu_rmtree(w->dir);
    free(w->dir);
    free(w);
    return 0;
}

/* One request; returns the status, body in *body (caller frees). */
static const char *query_force; /* ?force= of the next call, or NULL */

static unsigned call(struct world *w, const char *method, const char *path, const char *token,
                     const char *body, const char *if_match, struct api_resp *resp)
{
    char auth[128];
    snprintf(auth, sizeof(auth), "Bearer %s", token ? token : "");
    struct fake_io io = {
        .headers = {{"Authorization", token ? auth : NULL}, {"If-Match", if_match}, {NULL, NULL}},
    };
    if (!token)
        io.headers[0].k = "X-None";
    if (!if_match)
        io.headers[1].k = "X-None";
    io.query[0].k = query_force ? "force" : "x-none";
    io.query[0].v = query_force;
    struct api_req req = {.path = path,
                          .body = body,
                          .body_len = body ? strlen(body) : 0,
                          .deps = &w->deps,
                          .db = w->db,
                          .header = fake_header,
                          .query = fake_query,
                          .io = &io};
    memset(resp, 0, sizeof(*resp));
    api_dispatch(&req, method, resp);
    return resp->status;
}

static unsigned status_of(struct world *w, const char *method, const char *path, const char *token,
                          const char *body)
{
    struct api_resp resp;
    unsigned s = call(w, method, path, token, body, NULL, &resp);
    api_resp_free(&resp);
    return s;
}

static void requests_through_dispatch(void **state)
{
    struct world *w = *state;
    struct api_resp resp;
    assert_int_equal(status_of(w, "GET", "/api/v1/tenants", NULL, NULL), 401);
    assert_int_equal(status_of(w, "GET", "/api/v1/tenants", "ist_garbage", NULL), 401);
    assert_int_equal(status_of(w, "GET", "/health", NULL, NULL), 200);
    assert_int_equal(status_of(w, "GET", "/api/v1/nope", NULL, NULL), 401);
    assert_int_equal(status_of(w, "GET", "/api/v1/nope", w->op, NULL), 404);

    const char *acme = "{\"id\":\"acme\",\"name\":\"Acme\",\"network\":{\"ifname\":\"ist-a\"}}";
    assert_int_equal(call(w, "POST", "/api/v1/tenants", w->op, acme, NULL, &resp), 201);
    assert_string_equal(resp.location, "/api/v1/tenants/acme");
    assert_string_equal(resp.ctype, "application/json");
    char etag[64];
    snprintf(etag, sizeof(etag), "%s", resp.etag);
    assert_true(etag[0] == '"');
    api_resp_free(&resp);
    assert_int_equal(w->changed, 1);
    assert_int_equal(status_of(w, "POST", "/api/v1/tenants", w->op, acme), 409);
    assert_int_equal(status_of(w, "POST", "/api/v1/tenants", w->op,
                               "{\"id\":\"globex\",\"name\":\"G\",\"network\":{\"ifname\":\"g\"}}"),
                     201);

    make_token(w, w->viewer, "tenant-viewer", "acme");
    assert_int_equal(status_of(w, "GET", "/api/v1/tenants/acme", w->viewer, NULL), 200);
    assert_int_equal(status_of(w, "GET", "/api/v1/tenants/globex", w->viewer, NULL), 404);
    assert_int_equal(status_of(w, "GET", "/api/v1/tenants/globex/users", w->viewer, NULL), 404);
    assert_int_equal(status_of(w, "PATCH", "/api/v1/tenants/acme", w->viewer, "{\"name\":\"x\"}"),
                     403);
    assert_int_equal(status_of(w, "PATCH", "/api/v1/tenants/globex", w->viewer, "{\"name\":\"x\"}"),
                     404);

    /* A stale ETag: 412, and the name is unchanged. */
    assert_int_equal(
        call(w, "PATCH", "/api/v1/tenants/acme", w->op, "{\"name\":\"A1\"}", etag, &resp), 200);
    assert_string_not_equal(resp.etag, etag);
    api_resp_free(&resp);
    assert_int_equal(
        call(w, "PATCH", "/api/v1/tenants/acme", w->op, "{\"name\":\"A2\"}", etag, &resp), 412);
    assert_string_equal(resp.ctype, "application/problem+json");
    api_resp_free(&resp);
    assert_int_equal(call(w, "GET", "/api/v1/tenants/acme", w->op, NULL, NULL, &resp), 200);
    assert_non_null(strstr(resp.body, "\"name\":\"A1\""));
    api_resp_free(&resp);

    /* A bad field: 400 naming it; nothing written. */
    assert_int_equal(call(w, "POST", "/api/v1/tenants/acme/users", w->op,
                          "{\"username\":\"bob\",\"enabled\":\"no\"}", NULL, &resp),
                     400);
    assert_non_null(strstr(resp.body, "\"field\":\"enabled\""));
    api_resp_free(&resp);
    assert_int_equal(status_of(w, "GET", "/api/v1/tenants/acme/users/bob", w->op, NULL), 404);
}

static void delete_with_live_sessions_needs_force(void **state)
{
    struct world *w = *state;
    const char *acme = "{\"id\":\"acme\",\"name\":\"Acme\",\"network\":{\"ifname\":\"ist-a\"}}";
    assert_int_equal(status_of(w, "POST", "/api/v1/tenants", w->op, acme), 201);
    assert_int_equal(
        status_of(w, "POST", "/api/v1/tenants/acme/users", w->op, "{\"username\":\"alice\"}"), 201);
    /* Disabling a user ends its sessions. */
    assert_int_equal(
        status_of(w, "PATCH", "/api/v1/tenants/acme/users/alice", w->op, "{\"enabled\":false}"),
        200);
    assert_int_equal(w->terminated, 1);
    assert_string_equal(w->ended_user, "alice");
    /* Re-enabling does not. */
    assert_int_equal(
        status_of(w, "PATCH", "/api/v1/tenants/acme/users/alice", w->op, "{\"enabled\":true}"),
        200);
    assert_int_equal(w->terminated, 1);

    w->live = 3;
    struct api_resp resp;
    assert_int_equal(call(w, "DELETE", "/api/v1/tenants/acme", w->op, NULL, NULL, &resp), 409);
    assert_non_null(strstr(resp.body, "3 live sessions"));
    api_resp_free(&resp);
    assert_int_equal(w->terminated, 1);
    assert_int_equal(status_of(w, "GET", "/api/v1/tenants/acme", w->op, NULL), 200);
    query_force = "maybe";
    assert_int_equal(status_of(w, "DELETE", "/api/v1/tenants/acme", w->op, NULL), 400);
    query_force = "true";
    assert_int_equal(status_of(w, "DELETE", "/api/v1/tenants/acme", w->op, NULL), 204);
    query_force = NULL;
    assert_int_equal(w->terminated, 2);
    assert_string_equal(w->ended_user, "*");
    assert_int_equal(status_of(w, "GET", "/api/v1/tenants/acme", w->op, NULL), 404);
}

/* GET /sessions?limit=&cursor= from a registry, as a client pages it. */
static json_object *sessions_page(struct world *w, const char *token, const char *limit,
                                  const char *cursor)
{
    char auth[128];
    snprintf(auth, sizeof(auth), "Bearer %s", token);
    struct fake_io io = {
        .headers = {{"Authorization", auth}, {NULL, NULL}},
        .query = {{"limit", limit}, {cursor ? "cursor" : "x-none", cursor}, {NULL, NULL}},
    };
    struct api_req req = {.path = "/api/v1/sessions",
                          .deps = &w->deps,
                          .db = w->db,
                          .header = fake_header,
                          .query = fake_query,
                          .io = &io};
    struct api_resp resp;
    memset(&resp, 0, sizeof(resp));
    api_dispatch(&req, "GET", &resp);
    assert_int_equal(resp.status, 200);
    json_object *o = json_tokener_parse(resp.body);
    assert_non_null(o);
    api_resp_free(&resp);
    return o;
}

/* Pages through every live session the token may see; returns how many,
 * checking that ids only grow (no session twice, none skipped by order). */
static size_t page_through(struct world *w, const char *token, const char *limit, size_t *pages)
{
    char cursor[256] = "", prev[REG_ID_LEN] = "";
    size_t n = 0;
    *pages = 0;
    for (int guard = 0; guard < 1000; guard++) {
        json_object *o = sessions_page(w, token, limit, cursor[0] ? cursor : NULL);
        json_object *items, *next;
        assert_true(json_object_object_get_ex(o, "items", &items));
        assert_true(json_object_object_get_ex(o, "next_cursor", &next));
        (*pages)++;
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            json_object *id;
            assert_true(json_object_object_get_ex(json_object_array_get_idx(items, i), "id", &id));
            assert_true(strcmp(json_object_get_string(id), prev) > 0);
            snprintf(prev, sizeof(prev), "%s", json_object_get_string(id));
            n++;
        }
        if (!next) {
            json_object_put(o);
            return n;
        }
        snprintf(cursor, sizeof(cursor), "%s", json_object_get_string(next));
        json_object_put(o);
    }
    fail_msg("no end of the pages");
    return 0;
}

static void live_sessions_page_across_copies(void **state)
{
    struct world *w = *state;
    w->deps.registry = registry_new();
    assert_non_null(w->deps.registry);
    /* More sessions than one copy of the registry holds (32), in two
     * tenants interleaved in id order. */
    for (unsigned i = 0; i < 130; i++) {
        struct reg_session s;
        memset(&s, 0, sizeof(s));
        snprintf(s.id, sizeof(s.id), "%016x", i * 0x9e3779b9u);
        snprintf(s.tenant, sizeof(s.tenant), "%s", i % 3 ? "acme" : "globex");
        snprintf(s.identity, sizeof(s.identity), "user%u", i);
        snprintf(s.auth, sizeof(s.auth), "eap");
        snprintf(s.client_addr, sizeof(s.client_addr), "198.51.100.%u", i % 250 + 1);
        registry_put(w->deps.registry, &s);
    }
    assert_int_equal(status_of(w, "POST", "/api/v1/tenants", w->op,
                               "{\"id\":\"acme\",\"name\":\"A\",\"network\":{\"ifname\":\"a\"}}"),
                     201);
    make_token(w, w->viewer, "tenant-viewer", "acme");
    size_t pages;
    static const struct {
        const char *limit;
        size_t pages;
    } all[] = {{"1000", 1}, {"45", 3}, {"32", 5}, {"33", 4}, {"1", 130}};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_int_equal(page_through(w, w->op, all[i].limit, &pages), 130);
        assert_int_equal(pages, all[i].pages);
    }
    /* A viewer of acme pages through acme's 86 only. */
    assert_int_equal(page_through(w, w->viewer, "40", &pages), 86);
    assert_int_equal(pages, 3);
    registry_free(w->deps.registry);
    w->deps.registry = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_capture_decoded_parameters),
        cmocka_unit_test(path_decoding),
        cmocka_unit_test_setup_teardown(requests_through_dispatch, setup, teardown),
        cmocka_unit_test_setup_teardown(delete_with_live_sessions_needs_force, setup, teardown),
        cmocka_unit_test_setup_teardown(live_sessions_page_across_copies, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
