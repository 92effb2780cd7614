/* RADIUS packets: replies checked (Response Authenticator, Message-
 * Authenticator), requests built, MS-MPPE keys decrypted. The reference
 * reply was made by tests/system/radius/fake_radius.py, an independent
 * Python implementation of RFC 2865/3579/2548. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <string.h>

#include "auth/radius_client.h"
#include "auth/radius_pkt.h"

static const char secret[] = "s3cret";

/* Access-Accept, id 42, answering Request Authenticator 00 01 .. 0f, with
 * EAP-Success, MS-MPPE-Recv-Key 00..1f, MS-MPPE-Send-Key 20..3f and a
 * Message-Authenticator. */
static const uint8_t accept_vec[] = {
    0x02, 0x2a, 0x00, 0xa0, 0xb0, 0x0b, 0xfe, 0xeb, 0x52, 0x5d, 0x8b, 0xc0, 0xde, 0xb1, 0x74, 0xec,
    0x09, 0x72, 0x8a, 0x13, 0x4f, 0x06, 0x03, 0x05, 0x00, 0x04, 0x1a, 0x3a, 0x00, 0x00, 0x01, 0x37,
    0x11, 0x34, 0x81, 0x23, 0xe7, 0x4f, 0xf9, 0x85, 0xe4, 0xbe, 0x68, 0x91, 0xaa, 0x28, 0x35, 0xe0,
    0xfe, 0x4f, 0x3f, 0xd4, 0x72, 0x58, 0x64, 0x92, 0x92, 0x94, 0x51, 0x56, 0x34, 0x62, 0x1f, 0x45,
    0x16, 0xb4, 0x82, 0x7f, 0x62, 0xd1, 0x6a, 0xdb, 0x8f, 0xa9, 0xac, 0x07, 0x17, 0x38, 0x67, 0xde,
    0xad, 0x82, 0x8d, 0x78, 0x1a, 0x3a, 0x00, 0x00, 0x01, 0x37, 0x10, 0x34, 0x94, 0x56, 0x9f, 0x3d,
    0xb3, 0x88, 0x93, 0xce, 0xf3, 0x0a, 0xe3, 0xe6, 0xa0, 0xf7, 0xad, 0xac, 0x81, 0x5f, 0x6f, 0x52,
    0xfa, 0x62, 0x28, 0x63, 0xd8, 0xc9, 0xf8, 0x0b, 0x4c, 0x21, 0xcb, 0xab, 0x61, 0x84, 0xe9, 0xf4,
    0x1a, 0x42, 0x9f, 0xd1, 0xbe, 0xcd, 0xad, 0x47, 0xf8, 0x78, 0xec, 0x39, 0xbb, 0x57, 0x50, 0x12,
    0xa9, 0x4f, 0x2a, 0x8f, 0xa2, 0x84, 0xc8, 0xf1, 0x31, 0x5f, 0xf2, 0x62, 0x89, 0xe0, 0x76, 0xef,
};

static const uint8_t req_auth[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* Recomputes the Response Authenticator of a reply the test changed, so
 * that only the part under test is wrong. */
static void resign(uint8_t *pkt, size_t len)
{
    uint8_t tmp[RADIUS_PKT_MAX + 64], digest[16];
    unsigned int dl = 16;
    memcpy(tmp, pkt, len);
    memcpy(tmp + 4, req_auth, 16);
    memcpy(tmp + len, secret, strlen(secret));
    EVP_Digest(tmp, len + strlen(secret), digest, &dl, EVP_md5(), NULL);
    memcpy(pkt + 4, digest, 16);
}

static void test_reference_accept_verifies(void **state)
{
    (void)state;
    size_t plen = 0;
    assert_int_equal(
        radius_reply_verify(accept_vec, sizeof(accept_vec), &plen, 42, req_auth, secret, true),
        RADIUS_V_OK);
    assert_int_equal(plen, sizeof(accept_vec));
    /* The same reply under another secret, or to another request, fails. */
    assert_int_equal(
        radius_reply_verify(accept_vec, sizeof(accept_vec), &plen, 42, req_auth, "other", true),
        RADIUS_V_AUTH);
    uint8_t other[16] = {1};
    assert_int_equal(
        radius_reply_verify(accept_vec, sizeof(accept_vec), &plen, 42, other, secret, true),
        RADIUS_V_AUTH);
    assert_int_equal(
        radius_reply_verify(accept_vec, sizeof(accept_vec), &plen, 43, req_auth, secret, true),
        RADIUS_V_ID);
}

static void test_mppe_keys_decrypt(void **state)
{
    (void)state;
    struct radius_iter it;
    uint8_t type, key[64], want[64];
    const uint8_t *val;
    size_t len;
    int found = 0;
    radius_iter_init(&it, accept_vec, sizeof(accept_vec));
    while (radius_iter_next(&it, &type, &val, &len)) {
        if (type != RADIUS_A_VENDOR_SPECIFIC)
            continue;
        assert_true(len > 6);
        uint8_t sub = val[4];
        int n = radius_mppe_decrypt(val + 6, len - 6, secret, req_auth, key, sizeof(key));
        assert_int_equal(n, 32);
        for (int i = 0; i < 32; i++)
            want[i] = (uint8_t)(sub == RADIUS_MS_MPPE_RECV_KEY ? i : 32 + i);
        assert_memory_equal(key, want, 32);
        found++;
    }
    assert_int_equal(found, 2);

    /* Under a wrong secret the key length byte is garbage or the key is. */
    radius_iter_init(&it, accept_vec, sizeof(accept_vec));
    while (radius_iter_next(&it, &type, &val, &len))
        if (type == RADIUS_A_VENDOR_SPECIFIC) {
            int n = radius_mppe_decrypt(val + 6, len - 6, "wrong", req_auth, key, sizeof(key));
            assert_true(n != 32 || memcmp(key, want, 32) != 0);
        }
}

static void test_mppe_malformed(void **state)
{
    (void)state;
    uint8_t key[64], val[2 + 32] = {0x81, 0x23};
    /* Salt without its high bit. */
    val[0] = 0x01;
    assert_int_equal(radius_mppe_decrypt(val, sizeof(val), secret, req_auth, key, 64), -1);
    val[0] = 0x81;
    /* Not a multiple of 16. */
    assert_int_equal(radius_mppe_decrypt(val, 2 + 17, secret, req_auth, key, 64), -1);
    /* Only a salt. */
    assert_int_equal(radius_mppe_decrypt(val, 2, secret, req_auth, key, 64), -1);
    /* A key longer than the room for it. */
    int n = -1;
    const uint8_t *v;
    size_t len;
    uint8_t type;
    struct radius_iter it;
    radius_iter_init(&it, accept_vec, sizeof(accept_vec));
    while (radius_iter_next(&it, &type, &v, &len))
        if (type == RADIUS_A_VENDOR_SPECIFIC)
            n = radius_mppe_decrypt(v + 6, len - 6, secret, req_auth, key, 16);
    assert_int_equal(n, -1);
}

static void test_bad_message_authenticator_refused(void **state)
{
    (void)state;
    uint8_t pkt[sizeof(accept_vec)];
    size_t plen = 0;
    memcpy(pkt, accept_vec, sizeof(pkt));
    pkt[sizeof(pkt) - 1] ^= 0x01; /* the MA is the last attribute */
    assert_int_equal(radius_reply_verify(pkt, sizeof(pkt), &plen, 42, req_auth, secret, true),
                     RADIUS_V_AUTH);
    resign(pkt, sizeof(pkt)); /* now only the MA is wrong */
    assert_int_equal(radius_reply_verify(pkt, sizeof(pkt), &plen, 42, req_auth, secret, true),
                     RADIUS_V_MA_BAD);
    assert_int_equal(radius_reply_verify(pkt, sizeof(pkt), &plen, 42, req_auth, secret, false),
                     RADIUS_V_MA_BAD);
}

static void test_missing_message_authenticator(void **state)
{
    (void)state;
    uint8_t pkt[sizeof(accept_vec)];
    size_t plen = 0, len = sizeof(accept_vec) - 18;
    memcpy(pkt, accept_vec, len); /* drop the MA attribute */
    pkt[2] = (uint8_t)(len >> 8);
    pkt[3] = (uint8_t)len;
    resign(pkt, len);
    assert_int_equal(radius_reply_verify(pkt, len, &plen, 42, req_auth, secret, true),
                     RADIUS_V_MA_MISSING);
    assert_int_equal(radius_reply_verify(pkt, len, &plen, 42, req_auth, secret, false),
                     RADIUS_V_OK);
    assert_int_equal(plen, len);
}

static void test_malformed_replies(void **state)
{
    (void)state;
    uint8_t pkt[sizeof(accept_vec) + 8];
    size_t plen = 0;
    memcpy(pkt, accept_vec, sizeof(accept_vec));
    /* Shorter than the header, or than its length field. */
    assert_int_equal(radius_reply_verify(pkt, 19, &plen, 42, req_auth, secret, true),
                     RADIUS_V_MALFORMED);
    assert_int_equal(
        radius_reply_verify(pkt, sizeof(accept_vec) - 1, &plen, 42, req_auth, secret, true),
        RADIUS_V_MALFORMED);
    /* Trailing UDP bytes past the RADIUS length are ignored. */
    memset(pkt + sizeof(accept_vec), 0xEE, 8);
    assert_int_equal(radius_reply_verify(pkt, sizeof(pkt), &plen, 42, req_auth, secret, true),
                     RADIUS_V_OK);
    assert_int_equal(plen, sizeof(accept_vec));
    /* An attribute running past the end. */
    pkt[21] = 0xF0;
    assert_int_equal(
        radius_reply_verify(pkt, sizeof(accept_vec), &plen, 42, req_auth, secret, true),
        RADIUS_V_MALFORMED);
    /* An attribute of length 1. */
    pkt[21] = 1;
    assert_int_equal(
        radius_reply_verify(pkt, sizeof(accept_vec), &plen, 42, req_auth, secret, true),
        RADIUS_V_MALFORMED);
}

static void test_request_splits_eap_and_signs(void **state)
{
    (void)state;
    uint8_t buf[RADIUS_PKT_MAX], eap[600];
    uint8_t auth[16] = {9, 9, 9};
    for (size_t i = 0; i < sizeof(eap); i++)
        eap[i] = (uint8_t)i;
    struct wr w = wr_init(buf, sizeof(buf));
    radius_req_begin(&w, RADIUS_ACCESS_REQUEST, 7, auth);
    radius_put_str(&w, RADIUS_A_USER_NAME, "alice");
    radius_put_split(&w, RADIUS_A_EAP_MESSAGE, eap, sizeof(eap));
    size_t ma = radius_put_ma(&w);
    size_t len = radius_req_finish(&w, ma, secret);
    assert_int_equal(len, 20 + 7 + (255 + 255 + 96) + 18);
    assert_int_equal(buf[2] << 8 | buf[3], len);

    /* EAP-Message parts of 253, 253 and 94 bytes that join to the input. */
    struct radius_iter it;
    uint8_t type, joined[600];
    const uint8_t *val;
    size_t vlen, got = 0, parts[4], np = 0;
    radius_iter_init(&it, buf, len);
    while (radius_iter_next(&it, &type, &val, &vlen))
        if (type == RADIUS_A_EAP_MESSAGE) {
            assert_true(np < 4);
            parts[np++] = vlen;
            memcpy(joined + got, val, vlen);
            got += vlen;
        }
    assert_int_equal(np, 3);
    assert_int_equal(parts[0], 253);
    assert_int_equal(parts[1], 253);
    assert_int_equal(parts[2], 94);
    assert_memory_equal(joined, eap, sizeof(eap));

    /* The Message-Authenticator is HMAC-MD5 over the packet with it zeroed. */
    uint8_t copy[RADIUS_PKT_MAX], mac[16];
    memcpy(copy, buf, len);
    memset(copy + ma, 0, 16);
    radius_hmac_md5(secret, copy, len, mac);
    assert_memory_equal(mac, buf + ma, 16);
}

static void test_oversize_request_fails(void **state)
{
    (void)state;
    static uint8_t big[RADIUS_PKT_MAX];
    uint8_t buf[RADIUS_PKT_MAX];
    struct wr w = wr_init(buf, sizeof(buf));
    radius_req_begin(&w, RADIUS_ACCESS_REQUEST, 1, big);
    radius_put_split(&w, RADIUS_A_EAP_MESSAGE, big, 4080);
    size_t ma = radius_put_ma(&w);
    assert_int_equal(radius_req_finish(&w, ma, secret), 0);
    /* One attribute cannot hold more than 253 bytes. */
    w = wr_init(buf, sizeof(buf));
    radius_put(&w, RADIUS_A_STATE, big, 254);
    assert_false(wr_ok(&w));
}

static void test_accounting_authenticator(void **state)
{
    (void)state;
    uint8_t buf[256], copy[256 + 16], digest[16];
    unsigned int dl = 16;
    struct wr w = wr_init(buf, sizeof(buf));
    radius_req_begin(&w, RADIUS_ACCOUNTING_REQUEST, 3, NULL);
    radius_put_u32(&w, RADIUS_A_ACCT_STATUS_TYPE, 1);
    radius_put_str(&w, RADIUS_A_ACCT_SESSION_ID, "abc");
    size_t len = radius_req_finish(&w, 0, secret);
    assert_int_equal(len, 20 + 6 + 5);
    memcpy(copy, buf, len);
    memset(copy + 4, 0, 16);
    memcpy(copy + len, secret, strlen(secret));
    EVP_Digest(copy, len + strlen(secret), digest, &dl, EVP_md5(), NULL);
    assert_memory_equal(digest, buf + 4, 16);
}

static void test_why_names_every_silent_server(void **state)
{
    (void)state;
    static struct radius_xchg x;
    char why[256];
    memset(&x, 0, sizeof(x));
    radius_xchg_why(&x, why, sizeof(why));
    assert_string_equal(why, "no RADIUS server configured");
    x.nstats = 2;
    snprintf(x.stats[0].addr, sizeof(x.stats[0].addr), "192.0.2.1:1812");
    x.stats[0].outcome = RADIUS_O_TIMEOUT;
    snprintf(x.stats[1].addr, sizeof(x.stats[1].addr), "192.0.2.2:1812");
    x.stats[1].outcome = RADIUS_O_TIMEOUT;
    radius_xchg_why(&x, why, sizeof(why));
    assert_string_equal(why, "RADIUS server 192.0.2.1:1812 (and 192.0.2.2:1812) did not answer");
    x.stats[1].bad_replies = 2;
    x.stats[1].last_bad = RADIUS_V_MA_BAD;
    radius_xchg_why(&x, why, sizeof(why));
    assert_string_equal(why, "RADIUS server 192.0.2.1:1812 (and 192.0.2.2:1812) did not answer "
                             "(2 replies dropped: bad Message-Authenticator)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_accept_verifies),
        cmocka_unit_test(test_mppe_keys_decrypt),
        cmocka_unit_test(test_mppe_malformed),
        cmocka_unit_test(test_bad_message_authenticator_refused),
        cmocka_unit_test(test_missing_message_authenticator),
        cmocka_unit_test(test_malformed_replies),
        cmocka_unit_test(test_request_splits_eap_and_signs),
        cmocka_unit_test(test_oversize_request_fails),
        cmocka_unit_test(test_accounting_authenticator),
        cmocka_unit_test(test_why_names_every_silent_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
