/* Names of IKEv2 numbers as they appear in log lines: the registry's
 * spelling for known values, UNKNOWN(n) otherwise, no shared buffers. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "concentrator/ike_names.h"
#include "concentrator/ike_types.h"

static void test_known_values(void **state)
{
    (void)state;
    char b[IKE_NAME_BUFLEN];
    assert_string_equal(ike_exchange_name(IKE_EXCH_SA_INIT, b, sizeof(b)), "IKE_SA_INIT");
    assert_string_equal(ike_exchange_name(IKE_EXCH_AUTH, b, sizeof(b)), "IKE_AUTH");
    assert_string_equal(ike_exchange_name(IKE_EXCH_CREATE_CHILD_SA, b, sizeof(b)),
                        "CREATE_CHILD_SA");
    assert_string_equal(ike_exchange_name(IKE_EXCH_INFORMATIONAL, b, sizeof(b)), "INFORMATIONAL");
    assert_string_equal(ike_exchange_name(IKE_EXCH_SESSION_RESUME, b, sizeof(b)),
                        "IKE_SESSION_RESUME");
    assert_string_equal(ike_exchange_name(IKE_EXCH_INTERMEDIATE, b, sizeof(b)), "IKE_INTERMEDIATE");
    assert_string_equal(ike_payload_name(IKE_PL_SK, b, sizeof(b)), "ENCRYPTED");
    assert_string_equal(ike_payload_name(IKE_PL_SKF, b, sizeof(b)), "ENCRYPTED_FRAGMENT");
    assert_string_equal(ike_payload_short_name(IKE_PL_IDI, b, sizeof(b)), "IDi");
    assert_string_equal(ike_payload_short_name(IKE_PL_NOTIFY, b, sizeof(b)), "N");
    assert_string_equal(ike_notify_name(IKE_N_INVALID_KE_PAYLOAD, b, sizeof(b)),
                        "INVALID_KE_PAYLOAD");
    assert_string_equal(ike_notify_name(16388, b, sizeof(b)), "NAT_DETECTION_SOURCE_IP");
    assert_string_equal(ike_notify_name(16430, b, sizeof(b)), "IKEV2_FRAGMENTATION_SUPPORTED");
    assert_string_equal(ike_notify_name(16431, b, sizeof(b)), "SIGNATURE_HASH_ALGORITHMS");
    assert_string_equal(ike_notify_name(16407, b, sizeof(b)), "REDIRECT");
    assert_string_equal(ike_notify_name(42, b, sizeof(b)), "USE_ASSIGNED_HoA");
    assert_string_equal(ike_transform_name(IKE_TT_ENCR, 20, b, sizeof(b)), "AES_GCM_16");
    assert_string_equal(ike_transform_name(IKE_TT_ENCR, 3, b, sizeof(b)), "3DES");
    assert_string_equal(ike_transform_name(IKE_TT_ENCR, 28, b, sizeof(b)), "CHACHA20_POLY1305");
    assert_string_equal(ike_transform_name(IKE_TT_PRF, 5, b, sizeof(b)), "HMAC_SHA2_256");
    assert_string_equal(ike_transform_name(IKE_TT_INTEG, 12, b, sizeof(b)), "HMAC_SHA2_256_128");
    assert_string_equal(ike_transform_name(IKE_TT_DH, 31, b, sizeof(b)), "CURVE25519");
    assert_string_equal(ike_transform_name(IKE_TT_DH, 14, b, sizeof(b)), "MODP2048");
    assert_string_equal(ike_transform_name(IKE_TT_ESN, 0, b, sizeof(b)), "NO");
    assert_string_equal(ike_transform_type_name(IKE_TT_INTEG, b, sizeof(b)), "INTEG");
    assert_string_equal(ike_auth_method_name(14, b, sizeof(b)), "DIGITAL_SIGNATURE");
    assert_string_equal(ike_auth_method_name(2, b, sizeof(b)), "SHARED_KEY_MIC");
    assert_string_equal(ike_id_type_name(IKE_ID_FQDN, b, sizeof(b)), "ID_FQDN");
    assert_string_equal(ike_cert_encoding_name(4, b, sizeof(b)), "X509_SIGNATURE");
    assert_string_equal(ike_cfg_attr_name(1, b, sizeof(b)), "INTERNAL_IP4_ADDRESS");
    assert_string_equal(ike_cfg_type_name(2, b, sizeof(b)), "CFG_REPLY");
    assert_string_equal(ike_ts_type_name(7, b, sizeof(b)), "TS_IPV4_ADDR_RANGE");
    assert_string_equal(ike_protocol_name(3, b, sizeof(b)), "ESP");
    assert_string_equal(ike_hash_alg_name(5, b, sizeof(b)), "IDENTITY");
    assert_string_equal(ike_gw_id_type_name(3, b, sizeof(b)), "FQDN");
    assert_string_equal(ike_eap_code_name(3, b, sizeof(b)), "SUCCESS");
    assert_string_equal(ike_eap_type_name(26, b, sizeof(b)), "MSCHAPV2");
}

/* Every notify the engine logs has a name, not UNKNOWN(n). */
static void test_every_notify_named(void **state)
{
    (void)state;
    static const unsigned vals[] = {
        1,     4,     5,     7,     9,     11,    14,    17,    24,    34,    35,    36,    37,
        38,    39,    40,    41,    43,    44,    46,    16384, 16385, 16386, 16387, 16388, 16389,
        16390, 16391, 16393, 16394, 16395, 16396, 16397, 16398, 16399, 16400, 16401, 16402, 16404,
        16405, 16406, 16407, 16408, 16417, 16418, 16420, 16430, 16431, 16438,
    };
    char b[IKE_NAME_BUFLEN];
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        const char *s = ike_notify_name(vals[i], b, sizeof(b));
        if (strncmp(s, "UNKNOWN", 7) == 0)
            fail_msg("notify %u has no name", vals[i]);
    }
    static const unsigned dh[] = {1, 2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 31, 32};
    for (size_t i = 0; i < sizeof(dh) / sizeof(dh[0]); i++)
        assert_true(strncmp(ike_dh_name(dh[i], b, sizeof(b)), "UNKNOWN", 7) != 0);
    for (unsigned pl = 33; pl <= 54; pl++)
        assert_true(strncmp(ike_payload_name(pl, b, sizeof(b)), "UNKNOWN", 7) != 0);
}

static void test_unknown_values(void **state)
{
    (void)state;
    char b[IKE_NAME_BUFLEN];
    assert_string_equal(ike_exchange_name(99, b, sizeof(b)), "UNKNOWN(99)");
    assert_string_equal(ike_notify_name(65535, b, sizeof(b)), "UNKNOWN(65535)");
    assert_string_equal(ike_payload_name(200, b, sizeof(b)), "UNKNOWN(200)");
    assert_string_equal(ike_transform_name(IKE_TT_ENCR, 1000, b, sizeof(b)), "UNKNOWN(1000)");
    assert_string_equal(ike_transform_name(77, 5, b, sizeof(b)), "UNKNOWN(77/5)");
    assert_string_equal(ike_dh_name(4000000000u, b, sizeof(b)), "UNKNOWN(4000000000)");
    assert_string_equal(ike_notify_name(65535, NULL, 0), "UNKNOWN");
    char tiny[5];
    assert_string_equal(ike_notify_name(65535, tiny, sizeof(tiny)), "UNKN");
    /* Two unknowns in one log call do not share a buffer. */
    char line[64];
    snprintf(line, sizeof(line), "%s %s", IKE_NAME(ike_exchange_name, 90),
             IKE_NAME(ike_exchange_name, 91));
    assert_string_equal(line, "UNKNOWN(90) UNKNOWN(91)");
    snprintf(line, sizeof(line), "%s", IKE_TRANSFORM_NAME(IKE_TT_DH, 31));
    assert_string_equal(line, "CURVE25519");
}

static void *name_worker(void *arg)
{
    unsigned base = (unsigned)(uintptr_t)arg;
    char b[IKE_NAME_BUFLEN], want[IKE_NAME_BUFLEN];
    for (unsigned i = 0; i < 20000; i++) {
        unsigned v = base + i % 100;
        snprintf(want, sizeof(want), "UNKNOWN(%u)", v);
        if (strcmp(ike_notify_name(v, b, sizeof(b)), want) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, name_worker, (void *)(50000 + i * 1000)), 0);
    for (int i = 0; i < 4; i++) {
        void *r = (void *)1;
        assert_int_equal(pthread_join(t[i], &r), 0);
        assert_null(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_every_notify_named),
        cmocka_unit_test(test_unknown_values),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
