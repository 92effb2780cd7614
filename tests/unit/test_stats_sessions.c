/* What the session side writes for others to read: the JSON of a live
 * session (peer-supplied identities included), the Acct-Terminate-Cause a
 * session end maps to, and session history rows with their retention. */
#include "testutil.h" /* first: it sets _GNU_SOURCE */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/session_json.h"
#include "auth/radius_acct.h"
#include "concentrator/ike_session.h"
#include "concentrator/registry.h"
#include "db/db.h"
#include "db/history.h"
#include "db/migrate.h"

static json_object *parse(const struct jbuf *b)
{
    struct json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, b->p, (int)b->len);
    assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
    assert_int_equal(json_tokener_get_parse_end(tok), b->len);
    json_tokener_free(tok);
    assert_non_null(o);
    return o;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    assert_true(json_object_object_get_ex(o, key, &v));
    return json_object_get_string(v);
}

static void session_json_is_valid_whatever_the_identity(void **state)
{
    (void)state;
    struct reg_session s;
    memset(&s, 0, sizeof(s));
    snprintf(s.id, sizeof(s.id), "00000000000000a1");
    snprintf(s.tenant, sizeof(s.tenant), "acme");
    /* Quote, backslash, a control character, valid UTF-8 and a lone
     * continuation byte. */
    snprintf(s.identity, sizeof(s.identity), "a\"b\\c\x01 caf\xc3\xa9 \x80z");
    snprintf(s.auth, sizeof(s.auth), "eap");
    snprintf(s.client_addr, sizeof(s.client_addr), "198.51.100.10");
    s.client_port = 4500;
    snprintf(s.vip4, sizeof(s.vip4), "10.1.128.2");
    snprintf(s.vip6, sizeof(s.vip6), "fd00::2");
    s.established_at = 1800000000;
    s.has_child = true;
    s.child.spi_in = 0xc0ffee01;
    s.child.spi_out = 0x0000beef;
    snprintf(s.child.ts_local, sizeof(s.child.ts_local), "10.1.0.0/16,10.9.0.0/16");
    snprintf(s.child.ts_remote, sizeof(s.child.ts_remote), "10.1.128.2/32");
    s.base = (struct reg_counters){1ULL << 40, 7, 3, 1};

    struct jbuf b;
    jb_init(&b, 16); /* grows */
    api_session_write(&b, NULL, &s);
    assert_false(b.oom);
    json_object *o = parse(&b);
    assert_string_equal(str(o, "identity"), "a\"b\\c\x01 caf\xc3\xa9 \xef\xbf\xbdz");
    assert_string_equal(str(o, "last_activity_at"), str(o, "established_at"));
    json_object *v, *ch, *tot;
    assert_true(json_object_object_get_ex(o, "username", &v) && v == NULL);
    assert_true(json_object_object_get_ex(o, "virtual_addresses", &v));
    assert_int_equal(json_object_array_length(v), 2);
    assert_true(json_object_object_get_ex(o, "child_sas", &ch));
    ch = json_object_array_get_idx(ch, 0);
    assert_string_equal(str(ch, "spi_in"), "c0ffee01");
    assert_string_equal(str(ch, "spi_out"), "0000beef");
    assert_true(json_object_object_get_ex(ch, "local_ts", &v));
    assert_int_equal(json_object_array_length(v), 2);
    /* Without a data plane the CHILD_SA has no traffic of its own; the
     * totals are what gone CHILD_SAs carried. */
    assert_true(json_object_object_get_ex(ch, "bytes_in", &v) && json_object_get_int64(v) == 0);
    assert_true(json_object_object_get_ex(o, "totals", &tot));
    assert_true(json_object_object_get_ex(tot, "bytes_in", &v));
    assert_true(json_object_get_uint64(v) == 1ULL << 40);
    json_object_put(o);
    jb_free(&b);
}

static void buffer_escapes_every_control_character(void **state)
{
    (void)state;
    char s[40];
    for (int i = 0; i < 31; i++)
        s[i] = (char)(i + 1);
    s[31] = '\0';
    struct jbuf b;
    jb_init(&b, 0);
    jb_lit(&b, "[");
    jb_cstr(&b, s);
    jb_lit(&b, ",");
    jb_cstr(&b, NULL);
    jb_lit(&b, ",");
    /* A surrogate, beyond U+10FFFF, overlong, and a sequence cut short. */
    jb_cstr(&b, "\xed\xa0\x80|\xf4\x90\x80\x80|\xc0\xaf|\xe2\x82");
    jb_lit(&b, ",");
    jb_u64(&b, UINT64_MAX);
    jb_lit(&b, ",");
    jb_int(&b, INT64_MIN);
    jb_lit(&b, ",");
    jb_hex32(&b, 0x00c0ffee);
    jb_lit(&b, "]");
    json_object *o = parse(&b);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(o, 0)), s);
    assert_null(json_object_array_get_idx(o, 1));
    const char *bad = json_object_get_string(json_object_array_get_idx(o, 2));
    assert_string_equal(bad, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
                             "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
                             "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd");
    assert_true(json_object_get_uint64(json_object_array_get_idx(o, 3)) == UINT64_MAX);
    assert_true(json_object_get_int64(json_object_array_get_idx(o, 4)) == INT64_MIN);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(o, 5)), "00c0ffee");
    json_object_put(o);
    jb_free(&b);
}

static void session_ends_map_to_terminate_causes(void **state)
{
    (void)state;
    static const struct {
        enum ike_end end;
        unsigned cause;
        const char *name;
    } cases[] = {
        {IKE_END_CLIENT, RADIUS_TERM_USER_REQUEST, "user-request"},
        {IKE_END_ADMIN, RADIUS_TERM_ADMIN_RESET, "admin-reset"},
        {IKE_END_SHUTDOWN, RADIUS_TERM_NAS_REBOOT, "nas-reboot"},
        {IKE_END_LOST, RADIUS_TERM_LOST_CARRIER, "lost-carrier"},
        {IKE_END_LIFETIME, RADIUS_TERM_SESSION_TIMEOUT, "session-timeout"},
        {IKE_END_ERROR, RADIUS_TERM_NAS_ERROR, "nas-error"},
        {IKE_END_GATEWAY, RADIUS_TERM_NAS_REQUEST, "nas-request"},
        {(enum ike_end)99, RADIUS_TERM_NAS_REQUEST, "nas-request"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned c = ike_session_cause(cases[i].end);
        assert_int_equal(c, cases[i].cause);
        assert_string_equal(ike_session_cause_name(c), cases[i].name);
    }
}

static long long count(sqlite3 *db)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM session_history", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void history_rows_are_written_and_purged(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512], err[256];
    snprintf(path, sizeof(path), "%s/h.db", dir);
    sqlite3 *db = db_open(path, true, err, sizeof(err));
    assert_non_null(db);
    assert_true(db_migrate(db, err, sizeof(err)) >= 0);
    struct db_history_row r;
    memset(&r, 0, sizeof(r));
    snprintf(r.tenant, sizeof(r.tenant), "acme");
    snprintf(r.session_id, sizeof(r.session_id), "00000000000000a1");
    snprintf(r.identity, sizeof(r.identity), "alice");
    snprintf(r.auth, sizeof(r.auth), "eap");
    snprintf(r.client_addr, sizeof(r.client_addr), "198.51.100.10");
    snprintf(r.cause, sizeof(r.cause), "admin-reset");
    r.started_at = 1000;
    r.ended_at = 2000;
    r.bytes_in = UINT64_MAX; /* stored clamped to SQLite's range */
    assert_int_equal(db_history_insert(db, &r), SQLITE_OK);
    r.ended_at = 5000;
    assert_int_equal(db_history_insert(db, &r), SQLITE_OK);
    assert_int_equal(count(db), 2);

    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT username IS NULL, virtual_ipv4 IS NULL, bytes_in "
                                        "FROM session_history LIMIT 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    assert_int_equal(sqlite3_column_int(st, 1), 1);
    assert_true(sqlite3_column_int64(st, 2) == INT64_MAX);
    sqlite3_finalize(st);

    assert_int_equal(db_history_purge(db, 3000), 1);
    assert_int_equal(count(db), 1);
    assert_int_equal(db_history_purge(db, 3000), 0);
    db_close(db);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(session_json_is_valid_whatever_the_identity),
        cmocka_unit_test(buffer_escapes_every_control_character),
        cmocka_unit_test(session_ends_map_to_terminate_causes),
        cmocka_unit_test(history_rows_are_written_and_purged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
