/* Secrets at rest: what is sealed opens only with its key and context, any
 * change to a blob is caught, and the master key file is guarded. */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/seal.h"

struct fixture {
    char *dir;
    char *keyfile; /* dir/master.key, not created by setup */
    struct seal_key key;
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
    f->keyfile = tu_path(f->dir, "master.key");
    for (int i = 0; i < SEAL_KEY_LEN; i++)
        f->key.key[i] = (uint8_t)(i * 7 + 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->keyfile);
    free(f);
    return 0;
}

static const char secret[] = "radius shared secret: s3cr3t!";

static void round_trip_of_many_lengths(void **state)
{
    struct fixture *f = *state;
    static const size_t lengths[] = {0, 1, 15, 16, 17, 100, 4096};
    uint8_t in[4096], blob[4096 + SEAL_OVERHEAD], out[4096];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 31 + 5);
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        size_t len = lengths[i];
        long n = seal(&f->key, "radius-secret", in, len, blob, sizeof(blob));
        assert_int_equal(n, (long)(len + SEAL_OVERHEAD));
        memset(out, 0xAA, sizeof(out));
        long m = seal_open(&f->key, "radius-secret", blob, (size_t)n, out, sizeof(out));
        assert_int_equal(m, (long)len);
        if (len)
            assert_memory_equal(out, in, len);
    }
}

static void sealed_blob_hides_the_secret_and_differs_each_time(void **state)
{
    struct fixture *f = *state;
    size_t len = sizeof(secret) - 1;
    uint8_t a[sizeof(secret) + SEAL_OVERHEAD], b[sizeof(secret) + SEAL_OVERHEAD];
    long na = seal(&f->key, "radius-secret", (const uint8_t *)secret, len, a, sizeof(a));
    long nb = seal(&f->key, "radius-secret", (const uint8_t *)secret, len, b, sizeof(b));
    assert_int_equal(na, nb);
    assert_memory_not_equal(a, b, (size_t)na); /* a fresh nonce each time */
    assert_null(memmem(a, (size_t)na, "s3cr3t", 6));
    assert_null(memmem(b, (size_t)nb, "s3cr3t", 6));
}

static long seal_secret(struct fixture *f, const char *ctx, uint8_t *blob, size_t cap)
{
    long n = seal(&f->key, ctx, (const uint8_t *)secret, sizeof(secret) - 1, blob, cap);
    assert_int_equal(n, (long)(sizeof(secret) - 1 + SEAL_OVERHEAD));
    return n;
}

static void wrong_key_fails(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[256], out[256];
    long n = seal_secret(f, "radius-secret", blob, sizeof(blob));
    struct seal_key other = f->key;
    other.key[SEAL_KEY_LEN - 1] ^= 0x01;
    assert_int_equal(seal_open(&other, "radius-secret", blob, (size_t)n, out, sizeof(out)), -1);
    assert_int_equal(seal_open(&f->key, "radius-secret", blob, (size_t)n, out, sizeof(out)),
                     (long)(sizeof(secret) - 1));
}

static void wrong_context_fails(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[256], out[256];
    long n = seal_secret(f, "radius-secret", blob, sizeof(blob));
    static const char *const others[] = {"tls-key", "radius-secre", "radius-secret2", "", NULL};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        if (seal_open(&f->key, others[i], blob, (size_t)n, out, sizeof(out)) != -1)
            fail_msg("a blob sealed for radius-secret opened for \"%s\"",
                     others[i] ? others[i] : "(null)");
    /* And a blob sealed without context opens only without one. */
    n = seal_secret(f, "", blob, sizeof(blob));
    assert_int_equal(seal_open(&f->key, "x", blob, (size_t)n, out, sizeof(out)), -1);
    assert_int_equal(seal_open(&f->key, "", blob, (size_t)n, out, sizeof(out)),
                     (long)(sizeof(secret) - 1));
}

static void every_flipped_bit_fails(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[256], out[256];
    long n = seal_secret(f, "radius-secret", blob, sizeof(blob));
    for (long i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            blob[i] ^= (uint8_t)(1u << bit);
            if (seal_open(&f->key, "radius-secret", blob, (size_t)n, out, sizeof(out)) != -1)
                fail_msg("a blob with byte %ld bit %d flipped was opened", i, bit);
            blob[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_true(seal_open(&f->key, "radius-secret", blob, (size_t)n, out, sizeof(out)) > 0);
}

static void truncated_or_extended_blob_fails(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[256], out[256];
    long n = seal_secret(f, "radius-secret", blob, sizeof(blob));
    for (long len = 0; len < n; len++)
        if (seal_open(&f->key, "radius-secret", blob, (size_t)len, out, sizeof(out)) != -1)
            fail_msg("a blob cut to %ld of %ld bytes was opened", len, n);
    blob[n] = 0;
    assert_int_equal(seal_open(&f->key, "radius-secret", blob, (size_t)n + 1, out, sizeof(out)),
                     -1);
}

static void small_buffers_are_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[256], out[256];
    size_t len = sizeof(secret) - 1;
    assert_int_equal(
        seal(&f->key, "c", (const uint8_t *)secret, len, blob, len + SEAL_OVERHEAD - 1), -1);
    long n = seal_secret(f, "c", blob, sizeof(blob));
    assert_int_equal(seal_open(&f->key, "c", blob, (size_t)n, out, len - 1), -1);
    assert_int_equal(seal_open(&f->key, "c", blob, (size_t)n, out, len), (long)len);
}

static void master_key_file_is_created_0600_with_64_hex_digits(void **state)
{
    struct fixture *f = *state;
    mode_t old = umask(0); /* the file's mode must not depend on the umask */
    struct seal_key k1, k2;
    int rc = seal_key_load(&k1, f->keyfile, 1, f->err, sizeof(f->err));
    umask(old);
    if (rc != 0)
        fail_msg("create: %s", f->err);
    struct stat sb;
    assert_int_equal(stat(f->keyfile, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    size_t len = 0;
    char *text = tu_read(f->keyfile, &len);
    assert_non_null(text);
    assert_int_equal(len, 65);
    for (int i = 0; i < 64; i++)
        if (!strchr("0123456789abcdef", text[i]))
            fail_msg("character %d of the key file is '%c'", i, text[i]);
    assert_int_equal(text[64], '\n');
    free(text);

    /* Loading it again gives the same key: what k1 sealed, k2 opens. */
    assert_int_equal(seal_key_load(&k2, f->keyfile, 1, f->err, sizeof(f->err)), 0);
    assert_memory_equal(k1.key, k2.key, SEAL_KEY_LEN);
    uint8_t blob[256], out[256];
    long n = seal(&k1, "t", (const uint8_t *)"x", 1, blob, sizeof(blob));
    assert_int_equal(seal_open(&k2, "t", blob, (size_t)n, out, sizeof(out)), 1);

    /* Two new key files hold different keys. */
    char *second = tu_path(f->dir, "second.key");
    struct seal_key k3;
    assert_int_equal(seal_key_load(&k3, second, 1, f->err, sizeof(f->err)), 0);
    assert_memory_not_equal(k1.key, k3.key, SEAL_KEY_LEN);
    free(second);

    seal_key_wipe(&k1);
    uint8_t zero[SEAL_KEY_LEN] = {0};
    assert_memory_equal(k1.key, zero, SEAL_KEY_LEN);
}

static void missing_key_file_without_create_is_refused(void **state)
{
    struct fixture *f = *state;
    struct seal_key k;
    assert_int_equal(seal_key_load(&k, f->keyfile, 0, f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, f->keyfile));
    assert_int_equal(access(f->keyfile, F_OK), -1);
}

static void readable_by_others_is_refused(void **state)
{
    struct fixture *f = *state;
    static const mode_t modes[] = {0640, 0604, 0660, 0644, 0620};
    const char *hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(tu_write_bytes(f->keyfile, hex, strlen(hex), modes[i]), 0);
        struct seal_key k;
        f->err[0] = '\0';
        if (seal_key_load(&k, f->keyfile, 1, f->err, sizeof(f->err)) != -1)
            fail_msg("a key file with mode %03o was accepted", (unsigned)modes[i]);
        if (!strstr(f->err, f->keyfile) || !strstr(f->err, "chmod 600"))
            fail_msg("the refusal should name the file and the fix: %s", f->err);
    }
    /* 0400 is fine: only the owner reads it. */
    assert_int_equal(tu_write_bytes(f->keyfile, hex, strlen(hex), 0400), 0);
    struct seal_key k;
    assert_int_equal(seal_key_load(&k, f->keyfile, 0, f->err, sizeof(f->err)), 0);
    assert_int_equal(k.key[0], 0x00);
    assert_int_equal(k.key[1], 0x11);
    assert_int_equal(k.key[31], 0xff);
}

static void malformed_key_file_is_refused(void **state)
{
    struct fixture *f = *state;
    char spaces[300];
    memset(spaces, ' ', sizeof(spaces));
    spaces[sizeof(spaces) - 1] = '\0';
    char padded[512];
    snprintf(padded, sizeof(padded), "%s\n%sdeadbeef\n",
             "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", spaces);
    const char *const bad[] = {
        "",
        "\n",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeef\n",   /* 63 */
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0\n", /* 65 */
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",
        "0x112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
        " 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\nextra\n",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
        padded, /* garbage after much whitespace */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tu_write_bytes(f->keyfile, bad[i], strlen(bad[i]), 0600), 0);
        struct seal_key k;
        memset(&k, 0x5A, sizeof(k));
        f->err[0] = '\0';
        if (seal_key_load(&k, f->keyfile, 1, f->err, sizeof(f->err)) != -1)
            fail_msg("malformed key file %zu was accepted", i);
        if (!strstr(f->err, f->keyfile) || !strstr(f->err, "64 hex digits"))
            fail_msg("the refusal should name the file and the format: %s", f->err);
    }
    /* Upper case, CRLF and no final newline are fine. */
    const char *const good[] = {
        "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\r\n",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(tu_write_bytes(f->keyfile, good[i], strlen(good[i]), 0600), 0);
        struct seal_key k;
        if (seal_key_load(&k, f->keyfile, 0, f->err, sizeof(f->err)) != 0)
            fail_msg("good key file %zu refused: %s", i, f->err);
        assert_int_equal(k.key[10], 0xaa);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_of_many_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(sealed_blob_hides_the_secret_and_differs_each_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(wrong_key_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_context_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(every_flipped_bit_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_or_extended_blob_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(small_buffers_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(master_key_file_is_created_0600_with_64_hex_digits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(missing_key_file_without_create_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(readable_by_others_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_key_file_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests_name("seal", tests, NULL, NULL);
}
