/* API tokens: their form, parsing what a client presents, the stored hash,
 * the constant-time check, and the row that holds only the hash. */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/token.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/tokens.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void generated_token_has_the_documented_form(void **state)
{
    (void)state;
    char text[TOKEN_TEXT_MAX], id[TOKEN_ID_LEN + 1];
    for (int round = 0; round < 200; round++) {
        memset(text, 0x7f, sizeof(text));
        assert_int_equal(token_generate(text, id), 0);
        /* "ist_" + 12-character id + "_" + 43-character secret. */
        assert_int_equal(strlen(text), 4 + TOKEN_ID_LEN + 1 + 43);
        assert_memory_equal(text, "ist_", 4);
        assert_int_equal(text[4 + TOKEN_ID_LEN], '_');
        assert_int_equal(strlen(id), TOKEN_ID_LEN);
        assert_memory_equal(text + 4, id, TOKEN_ID_LEN);
        for (size_t i = 4; i < strlen(text); i++)
            if (i != 4 + TOKEN_ID_LEN && !strchr(b64url, text[i]))
                fail_msg("character %zu of %s is not base64url", i, text);
        /* What the generator makes, the parser takes, with the same id. */
        char parsed[TOKEN_ID_LEN + 1];
        assert_true(token_parse_id(text, parsed));
        assert_string_equal(parsed, id);
    }
}

static void tokens_are_unique(void **state)
{
    (void)state;
    enum { N = 500 };
    static char texts[N][TOKEN_TEXT_MAX], ids[N][TOKEN_ID_LEN + 1];
    for (int i = 0; i < N; i++)
        assert_int_equal(token_generate(texts[i], ids[i]), 0);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            assert_string_not_equal(ids[i], ids[j]);
            /* The secrets differ too, not only the ids. */
            assert_string_not_equal(texts[i] + 5 + TOKEN_ID_LEN, texts[j] + 5 + TOKEN_ID_LEN);
        }
}

static void parse_rejects_malformed_tokens(void **state)
{
    (void)state;
    char good[TOKEN_TEXT_MAX], id[TOKEN_ID_LEN + 1];
    assert_int_equal(token_generate(good, id), 0);
    char bad[32][TOKEN_TEXT_MAX + 8];
    int n = 0;
    snprintf(bad[n++], sizeof(bad[0]), "%s", "");
    snprintf(bad[n++], sizeof(bad[0]), "%s", "ist_");
    snprintf(bad[n++], sizeof(bad[0]), "%s", "Bearer");
    snprintf(bad[n++], sizeof(bad[0]), "%.*s", (int)strlen(good) - 1, good); /* one short */
    snprintf(bad[n++], sizeof(bad[0]), "%sA", good);                         /* one long */
    snprintf(bad[n++], sizeof(bad[0]), "%s ", good);                         /* trailing space */
    snprintf(bad[n++], sizeof(bad[0]), " %.*s", (int)strlen(good) - 1, good);
    static const struct {
        size_t pos;
        char c;
    } edits[] = {
        {0, 'I'},  {3, '-'},  {4, '+'},  {10, '/'}, {15, '='},  {16, 'x'},
        {16, '-'}, {20, '.'}, {40, ' '}, {59, '~'}, {30, '\n'},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        snprintf(bad[n], sizeof(bad[0]), "%s", good);
        bad[n][edits[i].pos] = edits[i].c;
        n++;
    }
    /* A NUL inside: the rest is not part of the token. */
    snprintf(bad[n], sizeof(bad[0]), "%s", good);
    bad[n++][30] = '\0';
    for (int i = 0; i < n; i++) {
        char out[TOKEN_ID_LEN + 1];
        if (token_parse_id(bad[i], out))
            fail_msg("malformed token %d \"%s\" was parsed", i, bad[i]);
    }
    char out[TOKEN_ID_LEN + 1];
    assert_true(token_parse_id(good, out));
}

static void hash_is_sha256_of_the_whole_token(void **state)
{
    (void)state;
    /* FIPS 180-2 test vector: SHA-256("abc"). */
    static const uint8_t abc[TOKEN_HASH_LEN] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
    };
    uint8_t h[TOKEN_HASH_LEN];
    token_hash("abc", h);
    assert_memory_equal(h, abc, TOKEN_HASH_LEN);

    char text[TOKEN_TEXT_MAX], id[TOKEN_ID_LEN + 1];
    assert_int_equal(token_generate(text, id), 0);
    uint8_t h1[TOKEN_HASH_LEN], h2[TOKEN_HASH_LEN];
    token_hash(text, h1);
    token_hash(text, h2);
    assert_memory_equal(h1, h2, TOKEN_HASH_LEN);
    /* The secret part counts: same id, other secret, other hash. */
    text[strlen(text) - 2] = text[strlen(text) - 2] == 'A' ? 'B' : 'A';
    token_hash(text, h2);
    assert_memory_not_equal(h1, h2, TOKEN_HASH_LEN);
}

static void matches_only_the_right_token(void **state)
{
    (void)state;
    char text[TOKEN_TEXT_MAX], id[TOKEN_ID_LEN + 1];
    assert_int_equal(token_generate(text, id), 0);
    uint8_t stored[TOKEN_HASH_LEN];
    token_hash(text, stored);
    assert_true(token_matches(text, stored, sizeof(stored)));

    /* Any one character changed fails. */
    char wrong[TOKEN_TEXT_MAX];
    for (size_t i = 0; i < strlen(text); i++) {
        memcpy(wrong, text, sizeof(wrong));
        wrong[i] = wrong[i] == 'a' ? 'b' : 'a';
        if (token_matches(wrong, stored, sizeof(stored)))
            fail_msg("a token with character %zu changed matched", i);
    }
    /* Another token, an empty one, a prefix: all fail. */
    char other[TOKEN_TEXT_MAX], other_id[TOKEN_ID_LEN + 1];
    assert_int_equal(token_generate(other, other_id), 0);
    assert_false(token_matches(other, stored, sizeof(stored)));
    assert_false(token_matches("", stored, sizeof(stored)));
    memcpy(wrong, text, sizeof(wrong));
    wrong[strlen(wrong) - 1] = '\0';
    assert_false(token_matches(wrong, stored, sizeof(stored)));
    /* A stored value of the wrong size never matches. */
    assert_false(token_matches(text, stored, sizeof(stored) - 1));
    assert_false(token_matches(text, stored, 0));
}

/* The api_tokens row: only the hash, and role and tenant must pair up. */
static void row_holds_only_the_hash(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    assert_non_null(dir);
    char *path = tu_path(dir, "tokens.db");
    char err[512];
    sqlite3 *db = db_open(path, true, err, sizeof(err));
    assert_non_null(db);
    assert_true(db_migrate(db, err, sizeof(err)) >= 0);

    char text[TOKEN_TEXT_MAX], id[TOKEN_ID_LEN + 1];
    uint8_t hash[TOKEN_HASH_LEN];
    assert_int_equal(token_generate(text, id), 0);
    token_hash(text, hash);
    assert_int_equal(db_token_insert(db, id, "ci", "operator", NULL, hash, sizeof(hash), "cli"),
                     SQLITE_OK);

    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT id, role, tenant_id, hash FROM api_tokens", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), id);
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "operator");
    assert_int_equal(sqlite3_column_type(st, 2), SQLITE_NULL);
    assert_int_equal(sqlite3_column_bytes(st, 3), TOKEN_HASH_LEN);
    assert_true(token_matches(text, sqlite3_column_blob(st, 3), TOKEN_HASH_LEN));
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    uint8_t h2[TOKEN_HASH_LEN];
    memset(h2, 1, sizeof(h2));
    /* An operator with a tenant, a tenant role without one, an unknown
     * tenant, an unknown role, the same id twice: all refused. */
    assert_int_equal(db_token_insert(db, "op-tenant", "x", "operator", "acme", h2, 32, NULL) & 0xff,
                     SQLITE_CONSTRAINT);
    h2[0] = 2;
    assert_int_equal(db_token_insert(db, "adm", "x", "tenant-admin", NULL, h2, 32, NULL) & 0xff,
                     SQLITE_CONSTRAINT);
    h2[0] = 3;
    assert_int_equal(db_token_insert(db, "adm2", "x", "tenant-admin", "nosuch", h2, 32, NULL),
                     SQLITE_CONSTRAINT_FOREIGNKEY);
    h2[0] = 4;
    assert_int_equal(db_token_insert(db, "root", "x", "root", NULL, h2, 32, NULL) & 0xff,
                     SQLITE_CONSTRAINT);
    h2[0] = 5;
    assert_int_equal(db_token_insert(db, id, "dup", "operator", NULL, h2, 32, NULL) & 0xff,
                     SQLITE_CONSTRAINT);

    /* A tenant token for a tenant that exists. */
    char *msg = NULL;
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO tenants (id, name, ifname, created_at, updated_at) "
                                  "VALUES ('acme', 'Acme', 'ist-acme', 0, 0)",
                                  NULL, NULL, &msg),
                     SQLITE_OK);
    h2[0] = 6;
    assert_int_equal(db_token_insert(db, "view", "dash", "tenant-viewer", "acme", h2, 32, NULL),
                     SQLITE_OK);
    db_close(db);

    /* The token's text is nowhere in the database file. */
    size_t len = 0;
    char *bytes = tu_read(path, &len);
    assert_non_null(bytes);
    assert_null(memmem(bytes, len, text, strlen(text)));
    assert_null(memmem(bytes, len, text + 5 + TOKEN_ID_LEN, 43));
    free(bytes);
    tu_rmtree(dir);
    free(path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_token_has_the_documented_form),
        cmocka_unit_test(tokens_are_unique),
        cmocka_unit_test(parse_rejects_malformed_tokens),
        cmocka_unit_test(hash_is_sha256_of_the_whole_token),
        cmocka_unit_test(matches_only_the_right_token),
        cmocka_unit_test(row_holds_only_the_hash),
    };
    return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
