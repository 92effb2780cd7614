/*
 * Diffie-Hellman: published vectors give the published KE values and
 * shared secrets in IKE encoding, both ends of every group agree, and
 * invalid peer values are refused.
 *
 * Vectors: RFC 5903 section 8 (ECP-256/384/521: i, g^i = gix|giy, r,
 * g^r, and g^ir = girx); RFC 7748 section 6.1 (X25519). The MODP-2048
 * known answer was computed when this test was written with Debian's
 * /usr/bin/python3: pow(2, a, p), pow(2, b, p), pow(2, a*b, p) for
 * a = 11 12 .. 30, b = 61 62 .. 80 (32 bytes each) and p the RFC 3526
 * 2048-bit prime (read from `openssl genpkey -genparam -algorithm DH -pkeyopt
 * group:modp_2048`, checked in Python to be a safe prime with the RFC's
 * leading and trailing bits); the test compares SHA-256 of the 256-byte
 * values to keep the constants short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <string.h>

#include "concentrator/ike_dh.h"
#include "tests/unit/ike_testhex.h"

struct ecp_vec {
    uint16_t group;
    const char *i, *gix, *giy, *r, *grx, *gry, *girx;
};

static const struct ecp_vec rfc5903[] = {
    {IKE_DH_ECP256, "C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433",
     "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180",
     "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3",
     "C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53",
     "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63",
     "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB",
     "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE"},
    {IKE_DH_ECP384,
     "099F3C70 34D4A2C6 99884D73 A375A67F 7624EF7C 6B3C0F16 0647B674 14DCE655 E35B5380 41E649EE "
     "3FAEF896 783AB194",
     "667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3 1634FE72 B4C55EE6 DE3AC808 ACB4BDB4 "
     "C88732AE E95F41AA",
     "9482ED1F C0EEB9CA FC498462 5CCFC23F 65032149 E0E144AD A0241815 35A0F38E EB9FCFF3 C2C947DA "
     "E69B4C63 4573A81C",
     "41CB0779 B4BDB85D 47846725 FBEC3C94 30FAB46C C8DC5060 855CC9BD A0AA2942 E0308312 916B8ED2 "
     "960E4BD5 5A7448FC",
     "E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D 83CFA417 32BC509D 0D1AC43A 0336DEF9 "
     "6FDA41D0 774A3571",
     "DCFBEC7A ACF31964 72169E83 8430367F 66EEBE3C 6E70C416 DD5F0C68 759DD1FF F83FA401 42209DFF "
     "5EAAD96D B9E6386C",
     "11187331 C279962D 93D60424 3FD592CB 9D0A926F 422E4718 7521287E 7156C5C4 D6031355 69B9E9D0 "
     "9CF5D4A2 70F59746"},
    {IKE_DH_ECP521,
     "0037ADE9 319A89F4 DABDB3EF 411AACCC A5123C61 ACAB57B5 393DCE47 608172A0 95AA85A3 0FE1C295 "
     "2C6771D9 37BA9777 F5957B26 39BAB072 462F68C2 7A57382D 4A52",
     "0015417E 84DBF28C 0AD3C278 713349DC 7DF153C8 97A1891B D98BAB43 57C9ECBE E1E3BF42 E00B8E38 "
     "0AEAE57C 2D107564 94188594 2AF5A7F4 601723C4 195D176C ED3E",
     "017CAE20 B6641D2E EB695786 D8C94614 6239D099 E18E1D5A 514C739D 7CB4A10A D8A78801 5AC405D7 "
     "799DC75E 7B7D5B6C F2261A6A 7F150743 8BF01BEB 6CA3926F 9582",
     "0145BA99 A847AF43 793FDD0E 872E7CDF A16BE30F DC780F97 BCCC3F07 8380201E 9C677D60 0B343757 "
     "A3BDBF2A 3163E4C2 F869CCA7 458AA4A4 EFFC311F 5CB15168 5EB9",
     "00D0B397 5AC4B799 F5BEA16D 5E13E9AF 971D5E9B 984C9F39 728B5E57 39735A21 9B97C356 436ADC6E "
     "95BB0352 F6BE64A6 C2912D4E F2D0433C ED2B6171 640012D9 460F",
     "015C6822 6383956E 3BD066E7 97B623C2 7CE0EAC2 F551A10C 2C724D98 52077B87 220B6536 C5C408A1 "
     "D2AEBB8E 86D678AE 49CB5709 1F473229 6579AB44 FCD17F0F C56A",
     "01144C7D 79AE6956 BC8EDB8E 7C787C45 21CB086F A64407F9 7894E5E6 B2D79B04 D1427E73 CA4BAA24 "
     "0A347868 59810C06 B3C715A3 A8CC3151 F2BEE417 996D19F3 DDEA"},
};

static size_t concat_hex(const char *a, const char *b, uint8_t *out, size_t cap)
{
    size_t n = th_unhex(a, out, cap);
    return n + th_unhex(b, out + n, cap - n);
}

static void ecp_groups_match_rfc5903(void **state)
{
    (void)state;
    for (size_t v = 0; v < 3; v++) {
        const struct ecp_vec *t = &rfc5903[v];
        uint8_t priv[66], gi[132], gr[132], pub[IKE_DH_PUBLIC_MAX], sec[IKE_DH_SECRET_MAX];
        size_t gil = concat_hex(t->gix, t->giy, gi, sizeof(gi));
        size_t grl = concat_hex(t->grx, t->gry, gr, sizeof(gr));
        size_t n = 0;
        assert_int_equal(gil, ike_dh_public_len(t->group));

        struct ike_dh_ctx *i = ike_dh_new_from_private(t->group, priv, th_unhex(t->i, priv, 66));
        struct ike_dh_ctx *r = ike_dh_new_from_private(t->group, priv, th_unhex(t->r, priv, 66));
        assert_non_null(i);
        assert_non_null(r);
        /* Our KE payload data is x | y with no 0x04 prefix. */
        assert_int_equal(ike_dh_public(i, pub, sizeof(pub), &n), 0);
        assert_int_equal(n, gil);
        assert_memory_equal(pub, gi, gil);
        assert_int_equal(ike_dh_public(r, pub, sizeof(pub), &n), 0);
        assert_memory_equal(pub, gr, grl);
        /* The shared secret is x alone, from either end. */
        assert_int_equal(ike_dh_derive(i, gr, grl, sec, sizeof(sec), &n), 0);
        assert_int_equal(n, ike_dh_secret_len(t->group));
        assert_true(th_equal_hex(sec, n, t->girx));
        assert_int_equal(ike_dh_derive(r, gi, gil, sec, sizeof(sec), &n), 0);
        assert_true(th_equal_hex(sec, n, t->girx));
        ike_dh_free(i);
        ike_dh_free(r);
    }
}

static void curve25519_matches_rfc7748(void **state)
{
    (void)state;
    uint8_t a[32], b[32], pub[32], sec[32];
    size_t n = 0;
    th_unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
    th_unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
    struct ike_dh_ctx *alice = ike_dh_new_from_private(IKE_DH_CURVE25519, a, 32);
    struct ike_dh_ctx *bob = ike_dh_new_from_private(IKE_DH_CURVE25519, b, 32);
    assert_non_null(alice);
    assert_non_null(bob);
    assert_int_equal(ike_dh_public(alice, pub, sizeof(pub), &n), 0);
    assert_true(
        th_equal_hex(pub, n, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
    assert_int_equal(ike_dh_derive(bob, pub, 32, sec, sizeof(sec), &n), 0);
    assert_true(
        th_equal_hex(sec, n, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"));
    assert_int_equal(ike_dh_public(bob, pub, sizeof(pub), &n), 0);
    assert_true(
        th_equal_hex(pub, n, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
    assert_int_equal(ike_dh_derive(alice, pub, 32, sec, sizeof(sec), &n), 0);
    assert_true(
        th_equal_hex(sec, n, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"));
    ike_dh_free(alice);
    ike_dh_free(bob);
}

static void sha256_of(const uint8_t *p, size_t n, uint8_t out[32])
{
    unsigned len = 0;
    assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
}

static void modp2048_matches_independent_computation(void **state)
{
    (void)state;
    uint8_t a[32], b[32], A[256], B[256], K[256], h[32];
    size_t n = 0;
    th_pattern(a, 32, 0x11);
    th_pattern(b, 32, 0x61);
    struct ike_dh_ctx *da = ike_dh_new_from_private(IKE_DH_MODP2048, a, 32);
    struct ike_dh_ctx *db = ike_dh_new_from_private(IKE_DH_MODP2048, b, 32);
    assert_non_null(da);
    assert_non_null(db);
    assert_int_equal(ike_dh_public(da, A, sizeof(A), &n), 0);
    assert_int_equal(n, 256);
    sha256_of(A, 256, h);
    assert_true(
        th_equal_hex(h, 32, "8df3eee583501a45e5af58f33dfa2e7e3f338a3203e6b6628aedc4dc348a216e"));
    assert_int_equal(ike_dh_public(db, B, sizeof(B), &n), 0);
    sha256_of(B, 256, h);
    assert_true(
        th_equal_hex(h, 32, "69711213e5ae21a077f49e43cf5a5a055902819a7afc86915c02b6d87a35fe09"));
    assert_int_equal(ike_dh_derive(da, B, 256, K, sizeof(K), &n), 0);
    assert_int_equal(n, 256);
    sha256_of(K, 256, h);
    assert_true(
        th_equal_hex(h, 32, "9f06e728ea3eba9feba149e9e6cc70950c35dcd47db573cd2e1c0826f019a495"));
    ike_dh_free(da);
    ike_dh_free(db);
}

static void every_group_agrees_both_ways(void **state)
{
    (void)state;
    const uint16_t all[] = {IKE_DH_MODP1024, IKE_DH_MODP2048, IKE_DH_MODP3072,  IKE_DH_ECP256,
                            IKE_DH_ECP384,   IKE_DH_ECP521,   IKE_DH_CURVE25519};
    for (size_t g = 0; g < sizeof(all) / sizeof(all[0]); g++) {
        uint8_t pa[IKE_DH_PUBLIC_MAX], pb[IKE_DH_PUBLIC_MAX];
        uint8_t ka[IKE_DH_SECRET_MAX], kb[IKE_DH_SECRET_MAX];
        size_t la = 0, lb = 0, sa = 0, sb = 0;
        struct ike_dh_ctx *a = ike_dh_new(all[g]), *b = ike_dh_new(all[g]);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(ike_dh_group(a), all[g]);
        assert_int_equal(ike_dh_public(a, pa, sizeof(pa), &la), 0);
        assert_int_equal(ike_dh_public(b, pb, sizeof(pb), &lb), 0);
        assert_int_equal(la, ike_dh_public_len(all[g]));
        assert_memory_not_equal(pa, pb, la);
        assert_int_equal(ike_dh_derive(a, pb, lb, ka, sizeof(ka), &sa), 0);
        assert_int_equal(ike_dh_derive(b, pa, la, kb, sizeof(kb), &sb), 0);
        assert_int_equal(sa, ike_dh_secret_len(all[g]));
        assert_int_equal(sa, sb);
        assert_memory_equal(ka, kb, sa);
        ike_dh_free(a);
        ike_dh_free(b);
    }
    assert_true(ike_alg_is_weak(IKE_TT_DH, IKE_DH_MODP1024));
    assert_false(ike_alg_is_weak(IKE_TT_DH, IKE_DH_MODP2048));
    assert_null(ike_dh_new(IKE_DH_MODP1536)); /* not implemented */
    assert_null(ike_dh_new(IKE_DH_CURVE448));
    ike_dh_free(NULL);
}

/* Sets out (len bytes) to the big-endian value of p + delta. */
static void modp_prime_plus(const uint8_t *p, size_t len, int delta, uint8_t *out)
{
    memcpy(out, p, len);
    int carry = delta;
    for (size_t i = len; i-- > 0 && carry;) {
        int v = out[i] + carry;
        out[i] = (uint8_t)v;
        carry = v < 0 ? -1 : v > 255 ? 1 : 0;
    }
}

static void bad_modp_values_are_refused(void **state)
{
    (void)state;
    /* RFC 3526 2048-bit prime (as in the header comment). */
    static const char P2048[] =
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
        "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
        "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836"
        "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804"
        "F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6"
        "955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";
    uint8_t p[256], v[257], sec[256];
    size_t n = 0;
    assert_int_equal(th_unhex(P2048, p, sizeof(p)), 256);
    struct ike_dh_ctx *dh = ike_dh_new(IKE_DH_MODP2048);
    assert_non_null(dh);

    memset(v, 0, 256);
    assert_int_equal(ike_dh_derive(dh, v, 256, sec, sizeof(sec), &n), IKE_DH_BAD_PEER); /* 0 */
    v[255] = 1;
    assert_int_equal(ike_dh_derive(dh, v, 256, sec, sizeof(sec), &n), IKE_DH_BAD_PEER); /* 1 */
    v[255] = 2;
    assert_int_equal(ike_dh_derive(dh, v, 256, sec, sizeof(sec), &n), 0); /* 2 = g: valid */
    modp_prime_plus(p, 256, -1, v);
    assert_int_equal(ike_dh_derive(dh, v, 256, sec, sizeof(sec), &n), IKE_DH_BAD_PEER); /* p-1 */
    modp_prime_plus(p, 256, -2, v);
    assert_int_equal(ike_dh_derive(dh, v, 256, sec, sizeof(sec), &n), 0); /* p-2: in range */
    assert_int_equal(ike_dh_derive(dh, p, 256, sec, sizeof(sec), &n), IKE_DH_BAD_PEER); /* p */
    modp_prime_plus(p, 256, 1, v);
    assert_int_equal(ike_dh_derive(dh, v, 256, sec, sizeof(sec), &n), IKE_DH_BAD_PEER); /* p+1 */
    memset(v, 0xff, 256);
    assert_int_equal(ike_dh_derive(dh, v, 256, sec, sizeof(sec), &n), IKE_DH_BAD_PEER); /* > p */
    /* Wrong lengths, even of a valid value: 2 written short, or zero-extended. */
    uint8_t two[1] = {2};
    assert_int_equal(ike_dh_derive(dh, two, 1, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    memset(v, 0, 257);
    v[256] = 2;
    assert_int_equal(ike_dh_derive(dh, v, 257, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    assert_int_equal(ike_dh_derive(dh, v + 2, 255, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    /* No room for the secret. */
    assert_int_equal(ike_dh_derive(dh, v + 1, 256, sec, 255, &n), IKE_DH_FAILED);
    ike_dh_free(dh);
}

static void bad_ecp_values_are_refused(void **state)
{
    (void)state;
    const struct ecp_vec *t = &rfc5903[0];
    uint8_t gr[65], v[65], sec[66];
    size_t n = 0, grl = concat_hex(t->grx, t->gry, gr, sizeof(gr));
    struct ike_dh_ctx *dh = ike_dh_new(IKE_DH_ECP256);
    assert_non_null(dh);
    assert_int_equal(ike_dh_derive(dh, gr, grl, sec, sizeof(sec), &n), 0);
    /* y changed by one bit: not on the curve. */
    memcpy(v, gr, 64);
    v[63] ^= 1;
    assert_int_equal(ike_dh_derive(dh, v, 64, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    /* (0, 0): the usual encoding of the point at infinity; not on the curve. */
    memset(v, 0, 64);
    assert_int_equal(ike_dh_derive(dh, v, 64, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    /* Coordinates >= p. */
    memset(v, 0xff, 64);
    assert_int_equal(ike_dh_derive(dh, v, 64, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    /* SEC1 form with the 0x04 prefix (65 bytes), and one byte short. */
    v[0] = 0x04;
    memcpy(v + 1, gr, 64);
    assert_int_equal(ike_dh_derive(dh, v, 65, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    assert_int_equal(ike_dh_derive(dh, gr, 63, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    /* Another group's point. */
    struct ike_dh_ctx *p384 = ike_dh_new(IKE_DH_ECP384);
    assert_non_null(p384);
    assert_int_equal(ike_dh_derive(p384, gr, 64, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    ike_dh_free(p384);
    ike_dh_free(dh);
}

static void low_order_curve25519_values_are_refused(void **state)
{
    (void)state;
    uint8_t v[32], sec[32];
    size_t n = 0;
    struct ike_dh_ctx *dh = ike_dh_new(IKE_DH_CURVE25519);
    assert_non_null(dh);
    memset(v, 0, 32); /* u = 0 */
    assert_int_equal(ike_dh_derive(dh, v, 32, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    v[0] = 1; /* u = 1 */
    assert_int_equal(ike_dh_derive(dh, v, 32, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    /* A point of order 8 (RFC 7748 / libsodium blocklist):
     * e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800 */
    th_unhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", v, 32);
    assert_int_equal(ike_dh_derive(dh, v, 32, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    assert_int_equal(ike_dh_derive(dh, v, 31, sec, sizeof(sec), &n), IKE_DH_BAD_PEER);
    ike_dh_free(dh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ecp_groups_match_rfc5903),
        cmocka_unit_test(curve25519_matches_rfc7748),
        cmocka_unit_test(modp2048_matches_independent_computation),
        cmocka_unit_test(every_group_agrees_both_ways),
        cmocka_unit_test(bad_modp_values_are_refused),
        cmocka_unit_test(bad_ecp_values_are_refused),
        cmocka_unit_test(low_order_curve25519_values_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
