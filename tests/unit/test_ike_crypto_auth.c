/*
 * AUTH payload computations, NAT detection and cookies.
 *
 * The expected AUTH, MACedID, octets and NAT_DETECTION values were computed
 * when this test was written with Debian's /usr/bin/python3 (hmac, hashlib)
 * straight from RFC 7296 2.15/2.16/2.23:
 *     MACedID = prf(SK_p, IDx'),  octets = RealMessage | Nonce | MACedID,
 *     AUTH    = prf(prf(secret, "Key Pad for IKEv2"), octets),
 *     NAT-D   = sha1(SPIi | SPIr | IP | port)
 * with RealMessage = 00 01 .. (300 bytes), Nonce = 90 91 .. (32),
 * IDx' = 02 00 00 00 "vpn.example.com" (ID_FQDN), SK_p = 40 41 .. (32 or 64),
 * PSK "correct horse battery staple", MSK = a0 a1 .. (64).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <string.h>

#include "concentrator/ike_auth_calc.h"
#include "tests/unit/ike_testhex.h"

static const char PSK[] = "correct horse battery staple";

struct fixture {
    uint8_t msg[300], nonce[32], id[19], skp[64], msk[64];
    struct ike_auth_input in;
};

static void setup(struct fixture *f, uint16_t prf, size_t skp_len)
{
    th_pattern(f->msg, sizeof(f->msg), 0x00);
    th_pattern(f->nonce, sizeof(f->nonce), 0x90);
    memcpy(f->id, "\x02\x00\x00\x00vpn.example.com", 19);
    th_pattern(f->skp, sizeof(f->skp), 0x40);
    th_pattern(f->msk, sizeof(f->msk), 0xa0);
    struct ike_auth_input in = {prf,      f->skp,           skp_len, f->msg,       sizeof(f->msg),
                                f->nonce, sizeof(f->nonce), f->id,   sizeof(f->id)};
    f->in = in;
}

static void octets_to_sign_are_message_nonce_maced_id(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, IKE_PRF_HMAC_SHA2_256, 32);
    uint8_t maced[64], h[32];
    size_t ml = 0, ol = 0;
    assert_int_equal(ike_auth_maced_id(&f.in, maced, &ml), 0);
    assert_true(th_equal_hex(maced, ml,
                             "0000e9c5ccc4fb62d156375bb95368a25a4deeabdbfe1681ee1771f042a14665"));
    uint8_t *oct = NULL;
    assert_int_equal(ike_auth_octets(&f.in, &oct, &ol), 0);
    assert_int_equal(ol, 300 + 32 + 32);
    assert_memory_equal(oct, f.msg, 300);
    assert_memory_equal(oct + 300, f.nonce, 32);
    assert_memory_equal(oct + 332, maced, 32);
    unsigned hl = 0;
    assert_int_equal(EVP_Digest(oct, ol, h, &hl, EVP_sha256(), NULL), 1);
    assert_true(
        th_equal_hex(h, 32, "56e46f88b1df5c95918c08530cb1df5698f6440ceff7e0a952b0d7853ab6e602"));
    ike_auth_octets_free(oct, ol);
    ike_auth_octets_free(NULL, 0);
}

static void psk_auth_matches_and_verifies(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, IKE_PRF_HMAC_SHA2_256, 32);
    uint8_t auth[64];
    size_t al = 0;
    assert_int_equal(ike_auth_shared_key_mic(&f.in, (const uint8_t *)PSK, strlen(PSK), auth, &al),
                     0);
    assert_true(
        th_equal_hex(auth, al, "2488654108999a87523274dbd0855282e29bc57f834a93ab9a0f7165575555a2"));
    assert_true(ike_auth_shared_key_verify(&f.in, (const uint8_t *)PSK, strlen(PSK), auth, al));
    /* Wrong secret, altered AUTH, truncated AUTH, altered message or ID: refused. */
    assert_false(ike_auth_shared_key_verify(&f.in, (const uint8_t *)"wrong", 5, auth, al));
    auth[al - 1] ^= 1;
    assert_false(ike_auth_shared_key_verify(&f.in, (const uint8_t *)PSK, strlen(PSK), auth, al));
    auth[al - 1] ^= 1;
    assert_false(
        ike_auth_shared_key_verify(&f.in, (const uint8_t *)PSK, strlen(PSK), auth, al - 1));
    f.msg[100] ^= 1;
    assert_false(ike_auth_shared_key_verify(&f.in, (const uint8_t *)PSK, strlen(PSK), auth, al));
    f.msg[100] ^= 1;
    f.id[5] = 'V';
    assert_false(ike_auth_shared_key_verify(&f.in, (const uint8_t *)PSK, strlen(PSK), auth, al));
}

static void eap_auth_uses_msk_with_the_ike_sa_prf(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, IKE_PRF_HMAC_SHA2_512, 64);
    uint8_t auth[64];
    size_t al = 0;
    assert_int_equal(ike_auth_shared_key_mic(&f.in, f.msk, 64, auth, &al), 0);
    assert_int_equal(al, 64);
    assert_true(th_equal_hex(auth, al,
                             "cefdfe59be0a3dad010849462384dcef84b7145b03b3be8e6eff5469a682cd57"
                             "7e1879d230b9fa07dcb14b380e2d45ddfe55877207fa1f7b6bb37fe2296654bd"));
    /* Without an MSK the secret is SK_p itself (2.16): a different AUTH. */
    uint8_t auth2[64];
    assert_int_equal(ike_auth_shared_key_mic(&f.in, f.skp, 64, auth2, &al), 0);
    assert_memory_not_equal(auth, auth2, 64);
    assert_true(ike_auth_shared_key_verify(&f.in, f.skp, 64, auth2, 64));
}

static void natd_hash_matches_rfc_formula(void **state)
{
    (void)state;
    uint8_t spii[8], spir0[8] = {0}, spir[8], h[IKE_NATD_LEN];
    th_unhex("0102030405060708", spii, 8);
    th_unhex("a1a2a3a4a5a6a7a8", spir, 8);
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(500)};
    inet_pton(AF_INET, "198.51.100.7", &a4.sin_addr);
    assert_int_equal(ike_natd_hash(spii, spir0, (struct sockaddr *)&a4, h), 0);
    assert_true(th_equal_hex(h, IKE_NATD_LEN, "b7e5085007db5ba8d2612c7d4a637c23ff7c6712"));
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(4500)};
    inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
    assert_int_equal(ike_natd_hash(spii, spir, (struct sockaddr *)&a6, h), 0);
    assert_true(th_equal_hex(h, IKE_NATD_LEN, "0e47d8075ac895ac341ac27d9f35d5d5a3391d76"));
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_int_equal(ike_natd_hash(spii, spir, &un, h), -1);
}

static void cookie_round_trip_and_rotation(void **state)
{
    (void)state;
    uint8_t ni[32], spii[8], cookie[IKE_COOKIE_LEN], c2[IKE_COOKIE_LEN];
    th_pattern(ni, 32, 0x55);
    th_pattern(spii, 8, 0x01);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(500)};
    inet_pton(AF_INET, "203.0.113.9", &a.sin_addr);
    const struct sockaddr *ip = (const struct sockaddr *)&a;
    struct ike_cookie_ctx *c = ike_cookie_new();
    assert_non_null(c);
    assert_int_equal(ike_cookie_make(c, ni, 32, ip, spii, cookie), 0);
    assert_true(ike_cookie_check(c, cookie, sizeof(cookie), ni, 32, ip, spii));
    /* Same inputs, same cookie (stateless); the port does not matter. */
    a.sin_port = htons(4500);
    assert_int_equal(ike_cookie_make(c, ni, 32, ip, spii, c2), 0);
    assert_memory_equal(cookie, c2, sizeof(cookie));

    /* Any other initiator input, or a changed cookie, fails. */
    ni[0] ^= 1;
    assert_false(ike_cookie_check(c, cookie, sizeof(cookie), ni, 32, ip, spii));
    ni[0] ^= 1;
    spii[7] ^= 1;
    assert_false(ike_cookie_check(c, cookie, sizeof(cookie), ni, 32, ip, spii));
    spii[7] ^= 1;
    inet_pton(AF_INET, "203.0.113.10", &a.sin_addr);
    assert_false(ike_cookie_check(c, cookie, sizeof(cookie), ni, 32, ip, spii));
    inet_pton(AF_INET, "203.0.113.9", &a.sin_addr);
    for (size_t i = 0; i < sizeof(cookie); i++) {
        cookie[i] ^= 0x80;
        assert_false(ike_cookie_check(c, cookie, sizeof(cookie), ni, 32, ip, spii));
        cookie[i] ^= 0x80;
    }
    assert_false(ike_cookie_check(c, cookie, sizeof(cookie) - 1, ni, 32, ip, spii));

    /* One rotation: the old cookie still works, new ones carry a new version. */
    assert_int_equal(ike_cookie_rotate(c), 0);
    assert_true(ike_cookie_check(c, cookie, sizeof(cookie), ni, 32, ip, spii));
    assert_int_equal(ike_cookie_make(c, ni, 32, ip, spii, c2), 0);
    assert_memory_not_equal(cookie, c2, 4);
    assert_true(ike_cookie_check(c, c2, sizeof(c2), ni, 32, ip, spii));
    /* Two rotations: the first cookie is gone. */
    assert_int_equal(ike_cookie_rotate(c), 0);
    assert_false(ike_cookie_check(c, cookie, sizeof(cookie), ni, 32, ip, spii));
    assert_true(ike_cookie_check(c, c2, sizeof(c2), ni, 32, ip, spii));
    ike_cookie_free(c);

    /* Another daemon's (or a restarted daemon's) secret does not verify it. */
    struct ike_cookie_ctx *other = ike_cookie_new();
    assert_non_null(other);
    assert_false(ike_cookie_check(other, c2, sizeof(c2), ni, 32, ip, spii));
    ike_cookie_free(other);
    ike_cookie_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(octets_to_sign_are_message_nonce_maced_id),
        cmocka_unit_test(psk_auth_matches_and_verifies),
        cmocka_unit_test(eap_auth_uses_msk_with_the_ike_sa_prf),
        cmocka_unit_test(natd_hash_matches_rfc_formula),
        cmocka_unit_test(cookie_round_trip_and_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
