/*
 * The IKEv2 PRF, prf+ and key derivation give the bytes the RFCs and an
 * independent implementation give.
 *
 * HMAC vectors are RFC 4231 (SHA-2) and RFC 2202 (SHA-1 test case 1).
 * prf+, SKEYSEED, the seven IKE SA keys, the rekey SKEYSEED and CHILD_SA
 * KEYMAT were computed when this test was written with Debian's
 * /usr/bin/python3 and its hmac/hashlib modules, by a 15-line script that
 * implements RFC 7296 2.13/2.14/2.17/2.18 directly:
 *     prf(k, d)       = hmac.new(k, d, sha).digest()
 *     prf+(k, s, n)   = T1 | T2 | ... , Ti = prf(k, Ti-1 | s | i), cut to n
 *     SKEYSEED        = prf(Ni | Nr, g^ir)
 *     keys            = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) split in order
 * with the inputs below (byte patterns, see th_pattern):
 *     Ni = 00 01 .. 1f (32), Nr = 40 41 .. 5f (32), g^ir = 80 81 .. 7f (256),
 *     SPIi = 0102030405060708, SPIr = a1a2a3a4a5a6a7a8,
 *     rekey/PFS: Ni' = 10.. (24), Nr' = 20.. (40), g^ir' = 30.. (32).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "concentrator/ike_keymat.h"
#include "concentrator/ike_prf.h"
#include "tests/unit/ike_testhex.h"

struct inputs {
    uint8_t ni[32], nr[32], gir[256], spii[8], spir[8];
    uint8_t ni2[24], nr2[40], gir2[32];
};

static void make_inputs(struct inputs *in)
{
    th_pattern(in->ni, sizeof(in->ni), 0x00);
    th_pattern(in->nr, sizeof(in->nr), 0x40);
    th_pattern(in->gir, sizeof(in->gir), 0x80);
    th_unhex("0102030405060708", in->spii, 8);
    th_unhex("a1a2a3a4a5a6a7a8", in->spir, 8);
    th_pattern(in->ni2, sizeof(in->ni2), 0x10);
    th_pattern(in->nr2, sizeof(in->nr2), 0x20);
    th_pattern(in->gir2, sizeof(in->gir2), 0x30);
}

/* ---- RFC 4231 ---- */

struct hmac_case {
    const char *key_hex;
    size_t key_repeat; /* key_hex repeated this many times (0: once) */
    const char *data;  /* text, or hex when data_hex */
    int data_hex;
    size_t data_repeat;
    const char *sha256, *sha384, *sha512;
};

static const struct hmac_case rfc4231[] = {
    {"0b", 20, "Hi There", 0, 0, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
     "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
     "faea9ea9076ede7f4af152e8b2fa9cb6",
     "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
     "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
    {"4a656665", 0, "what do ya want for nothing?", 0, 0,
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
     "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
     "8e2240ca5e69e2c78b3239ecfab21649",
     "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
     "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
    {"aa", 20, "dd", 1, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
     "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
     "2a5ab39dc13814b94e3ab6e101a34f27",
     "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
     "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
    {"0102030405060708090a0b0c0d0e0f10111213141516171819", 0, "cd", 1, 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
     "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e"
     "6801dd23c4a7d679ccf8a386c674cffb",
     "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
     "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
    {"aa", 131, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
     "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
     "0c2ef6ab4030fe8296248df163f44952",
     "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
     "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
    {"aa", 131,
     "This is a test using a larger than block-size key and a larger than block-size data. "
     "The key needs to be hashed before being used by the HMAC algorithm.",
     0, 0, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
     "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5"
     "a678cc31e799176d3860e6110c46523e",
     "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
     "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"},
};

static size_t build(const char *hex, size_t repeat, int is_hex, uint8_t *out, size_t cap)
{
    uint8_t one[256];
    size_t n = is_hex ? th_unhex(hex, one, sizeof(one)) : strlen(hex);
    if (!is_hex)
        memcpy(one, hex, n);
    size_t times = repeat ? repeat : 1, len = 0;
    for (size_t i = 0; i < times && len + n <= cap; i++, len += n)
        memcpy(out + len, one, n);
    return len;
}

static void hmac_sha2_matches_rfc4231(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(rfc4231) / sizeof(rfc4231[0]); c++) {
        const struct hmac_case *t = &rfc4231[c];
        uint8_t key[256], data[256], out[64];
        size_t kl = build(t->key_hex, t->key_repeat, 1, key, sizeof(key));
        size_t dl = build(t->data, t->data_repeat, t->data_hex, data, sizeof(data));
        /* Split the data in three chunks, one empty, to exercise concatenation. */
        struct ike_chunk in[] = {{data, dl / 3}, {NULL, 0}, {data + dl / 3, dl - dl / 3}};
        const uint16_t ids[] = {IKE_PRF_HMAC_SHA2_256, IKE_PRF_HMAC_SHA2_384,
                                IKE_PRF_HMAC_SHA2_512};
        const char *want[] = {t->sha256, t->sha384, t->sha512};
        for (int i = 0; i < 3; i++) {
            assert_int_equal(ike_prf_oneshot(ids[i], key, kl, in, 3, out), 0);
            if (!th_equal_hex(out, ike_alg_prf_len(ids[i]), want[i]))
                fail_msg("RFC 4231 case %zu, PRF %u", c + 1, ids[i]);
        }
    }
}

static void hmac_sha1_matches_rfc2202_and_is_flagged_weak(void **state)
{
    (void)state;
    uint8_t key[20], out[20];
    memset(key, 0x0b, sizeof(key));
    struct ike_chunk in[] = {{"Hi There", 8}};
    assert_int_equal(ike_prf_oneshot(IKE_PRF_HMAC_SHA1, key, 20, in, 1, out), 0);
    assert_true(th_equal_hex(out, 20, "b617318655057264e28bc0b6fb378c8ef146be00"));
    assert_true(ike_alg_is_weak(IKE_TT_PRF, IKE_PRF_HMAC_SHA1));
    assert_false(ike_alg_is_weak(IKE_TT_PRF, IKE_PRF_HMAC_SHA2_256));
}

static void keyed_prf_gives_same_answer_every_time(void **state)
{
    (void)state;
    uint8_t key[4] = {'J', 'e', 'f', 'e'}, a[32], b[32], other[32];
    struct ike_chunk in[] = {{"what do ya want for nothing?", 28}};
    struct ike_chunk in2[] = {{"something else", 14}};
    struct ike_prf_ctx *p = ike_prf_new(IKE_PRF_HMAC_SHA2_256, key, sizeof(key));
    assert_non_null(p);
    assert_int_equal(ike_prf_out_len(p), 32);
    assert_int_equal(ike_prf_calc(p, in, 1, a), 0);
    assert_int_equal(ike_prf_calc(p, in2, 1, other), 0);
    assert_int_equal(ike_prf_calc(p, in, 1, b), 0);
    assert_memory_equal(a, b, 32);
    assert_memory_not_equal(a, other, 32);
    assert_true(th_equal_hex(a, 32, rfc4231[1].sha256));
    ike_prf_free(p);
    ike_prf_free(NULL);
}

static void unknown_prf_is_refused(void **state)
{
    (void)state;
    uint8_t key[16] = {0}, out[64];
    struct ike_chunk in[] = {{"x", 1}};
    assert_null(ike_prf_new(4 /* AES128_XCBC: not implemented */, key, 16));
    assert_null(ike_prf_new(99, key, 16));
    assert_int_equal(ike_prf_oneshot(1 /* HMAC_MD5 */, key, 16, in, 1, out), -1);
}

/* ---- prf+ ---- */

static void prf_plus_matches_independent_computation(void **state)
{
    (void)state;
    struct inputs v;
    make_inputs(&v);
    uint8_t out[200];
    struct ike_chunk s1[] = {{v.nr, 32}, {v.spii, 8}};
    assert_int_equal(ike_prf_plus_oneshot(IKE_PRF_HMAC_SHA2_256, v.ni, 32, s1, 2, out, 200), 0);
    assert_true(th_equal_hex(
        out, 200,
        "48838054d0857977c8bea94697c48ec8ccef456e218337454277b24b8281efbb7c8ed02e5cb7e19c8bc5f13f"
        "80f2de6f6dd468eb1cd1c3ea08e2e0fea0747827e4b1128ea11deaec22c6f621f8e90790649923a726c774"
        "657dbf3d6ae45923ddae7a3cd9e8cb1a7a55cbb164cc9c6d8981625e395c81ed034f94e3bb4266904e7e6a"
        "25e58ed5aaffc6ead59e33591a81ae8d88f65321b01e6c90522dc472d44c6c755fb030cffb6feed7fc6bdb"
        "7e818b4ee0fe307e176ae09ab103a8b11f0c9fbffc20f35cf7698c"));
    struct ike_chunk s2[] = {{v.nr, 32}};
    assert_int_equal(ike_prf_plus_oneshot(IKE_PRF_HMAC_SHA2_512, v.ni, 32, s2, 1, out, 130), 0);
    assert_true(th_equal_hex(
        out, 130,
        "dfd3d96aab160ac20b98903a012fdad765a4e5a9a85c3aabfd0e714daeebbb135f494cf88d7893105c25e3"
        "ba45e9e8094853a474e8c3edcf9221712889834d357c5e893b645808009d0446de535bfffa933a12be7b3e"
        "8859bbcab319c8f8f51b7fd43ea3826dfedfcd718fb1cc04be7993d54ace6bcedb3c2f89d738e40709105b"
        "cc"));
    assert_int_equal(ike_prf_plus_oneshot(IKE_PRF_HMAC_SHA1, v.ni, 32, s2, 1, out, 50), 0);
    assert_true(th_equal_hex(out, 50,
                             "7a6374b0c6abd30e3d3fdda0752451fa55fb4886a1260dd560fa6e1f4d58407b"
                             "64e68674de96dfad8d7cad2377af697ae25a"));
}

static void prf_plus_stops_at_255_blocks(void **state)
{
    (void)state;
    static uint8_t out[255 * 32 + 1];
    uint8_t key[32] = {1};
    struct ike_chunk s[] = {{"seed", 4}};
    struct ike_prf_ctx *p = ike_prf_new(IKE_PRF_HMAC_SHA2_256, key, 32);
    assert_non_null(p);
    assert_int_equal(ike_prf_plus_calc(p, s, 1, out, 255 * 32), 0);
    assert_int_equal(ike_prf_plus_calc(p, s, 1, out, 255 * 32 + 1), -1);
    ike_prf_free(p);
}

/* ---- SKEYSEED and the IKE SA keys ---- */

static void ike_sa_keys_aes_cbc_sha256(void **state)
{
    (void)state;
    struct inputs v;
    make_inputs(&v);
    uint8_t seed[64];
    size_t seed_len = 0;
    assert_int_equal(
        ike_skeyseed(IKE_PRF_HMAC_SHA2_256, v.ni, 32, v.nr, 32, v.gir, 256, seed, &seed_len), 0);
    assert_true(th_equal_hex(seed, seed_len,
                             "1bd57a99193d26d6ac078aa10ab045dfc3c10399d14e72ef4ea02d92002a548b"));
    struct ike_sa_transforms t = {IKE_ENCR_AES_CBC, 256, IKE_PRF_HMAC_SHA2_256,
                                  IKE_INTEG_HMAC_SHA2_256_128};
    struct ike_sa_keys k;
    assert_int_equal(ike_sa_keys_new(&t, v.ni, 32, v.nr, 32, v.gir, 256, v.spii, v.spir, &k), 0);
    assert_int_equal(k.prf_len, 32);
    assert_int_equal(k.integ_len, 32);
    assert_int_equal(k.encr_len, 32);
    assert_true(th_equal_hex(k.sk_d, k.prf_len,
                             "58adb94c04db7afd50487d73f02876d391439c6d1ae3ca8585741877c8e381b8"));
    assert_true(th_equal_hex(k.sk_ai, k.integ_len,
                             "74698edb008accb1c0ac58aee2e486530902a2d1cad3387f4136ff0763ebe56a"));
    assert_true(th_equal_hex(k.sk_ar, k.integ_len,
                             "89007d8feeb14f9ec1730bef9342f1a4ca71ad5a967c0cca844c417dec140c6c"));
    assert_true(th_equal_hex(k.sk_ei, k.encr_len,
                             "52545d375ff1ab037c635f8745024753078bfd7f28e2312bd0db2b7d7861cb3c"));
    assert_true(th_equal_hex(k.sk_er, k.encr_len,
                             "575b5d4a14d52ecdd3726830335730c9d7c026a5d1b01ba70223f8567c7aa5ce"));
    assert_true(th_equal_hex(k.sk_pi, k.prf_len,
                             "6483138fe4744d6e8b46f899c1d5991de38d539565326214b5b90b43c2132abf"));
    assert_true(th_equal_hex(k.sk_pr, k.prf_len,
                             "cd9c6e15bf945ea775c7d520e23f84d8a99b422223ea666d93d5c390acbcc0aa"));
    ike_sa_keys_wipe(&k);
    uint8_t zero[sizeof(k)];
    memset(zero, 0, sizeof(zero));
    assert_memory_equal(&k, zero, sizeof(k));
}

static void ike_sa_keys_aes_gcm_sha384_take_salt_and_no_integ(void **state)
{
    (void)state;
    struct inputs v;
    make_inputs(&v);
    struct ike_sa_transforms t = {IKE_ENCR_AES_GCM_16, 256, IKE_PRF_HMAC_SHA2_384, IKE_INTEG_NONE};
    struct ike_sa_keys k;
    assert_int_equal(ike_sa_keys_new(&t, v.ni, 32, v.nr, 32, v.gir, 256, v.spii, v.spir, &k), 0);
    assert_int_equal(k.prf_len, 48);
    assert_int_equal(k.integ_len, 0);
    assert_int_equal(k.encr_len, 36); /* 32-byte key + 4-byte salt */
    assert_true(th_equal_hex(k.sk_d, 48,
                             "7db819f3decacc5257334939b3c7b68e87615de8ec79525e476d295e80f857d3"
                             "0b3598263448ad562e875059484bd694"));
    assert_true(th_equal_hex(k.sk_ei, 36,
                             "682e8761057a1a0a3420a1e032194b8c510c04dbfebf7eaeb6194dcaf358f353"
                             "9ae5d873"));
    assert_true(th_equal_hex(k.sk_er, 36,
                             "8154a53da3d7daa0f2ccfa5638ebda8a23d9adab966c89f2e3a9de440de95218"
                             "dec3fb49"));
    assert_true(th_equal_hex(k.sk_pi, 48,
                             "c9fe68bd5b077ea1241c83fe5386dc313106223964855c30bfc524a4bfc5bb63"
                             "985a642bc9c808962a71ffdfebbe7e4a"));
    assert_true(th_equal_hex(k.sk_pr, 48,
                             "2a0764eb4b0c049535dc89bc1e1a92feb071def273d31bc8351329cd8b6b1bcb"
                             "e689229e4b3adf071fa902dc2f794089"));
    ike_sa_keys_wipe(&k);
}

static void inconsistent_transforms_are_refused(void **state)
{
    (void)state;
    struct inputs v;
    make_inputs(&v);
    struct ike_sa_keys k;
    const struct ike_sa_transforms bad[] = {
        /* AEAD with an integrity transform */
        {IKE_ENCR_AES_GCM_16, 128, IKE_PRF_HMAC_SHA2_256, IKE_INTEG_HMAC_SHA2_256_128},
        /* CBC without integrity */
        {IKE_ENCR_AES_CBC, 128, IKE_PRF_HMAC_SHA2_256, IKE_INTEG_NONE},
        /* AES key length that does not exist */
        {IKE_ENCR_AES_CBC, 100, IKE_PRF_HMAC_SHA2_256, IKE_INTEG_HMAC_SHA2_256_128},
        /* ENCR_NULL is not allowed for IKE */
        {IKE_ENCR_NULL, 0, IKE_PRF_HMAC_SHA2_256, IKE_INTEG_HMAC_SHA2_256_128},
        /* unknown PRF */
        {IKE_ENCR_AES_CBC, 128, 8, IKE_INTEG_HMAC_SHA2_256_128},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            ike_sa_keys_new(&bad[i], v.ni, 32, v.nr, 32, v.gir, 256, v.spii, v.spir, &k), -1);
    uint8_t big[IKE_NONCE_MAX + 1] = {0}, seed[64];
    assert_int_equal(
        ike_skeyseed(IKE_PRF_HMAC_SHA2_256, big, sizeof(big), v.nr, 32, v.gir, 256, seed, NULL),
        -1);
}

static void rekey_skeyseed_uses_old_sk_d(void **state)
{
    (void)state;
    struct inputs v;
    make_inputs(&v);
    struct ike_sa_transforms t = {IKE_ENCR_AES_CBC, 256, IKE_PRF_HMAC_SHA2_256,
                                  IKE_INTEG_HMAC_SHA2_256_128};
    struct ike_sa_keys old;
    assert_int_equal(ike_sa_keys_new(&t, v.ni, 32, v.nr, 32, v.gir, 256, v.spii, v.spir, &old), 0);
    uint8_t seed[64];
    size_t seed_len = 0;
    assert_int_equal(ike_skeyseed_rekey(IKE_PRF_HMAC_SHA2_256, old.sk_d, old.prf_len, v.gir2, 32,
                                        v.ni2, 24, v.nr2, 40, seed, &seed_len),
                     0);
    assert_true(th_equal_hex(seed, seed_len,
                             "3d36445cbcf69d8f5708f168f00ba4c2b89cf7496381bf75178298a527279a09"));
    ike_sa_keys_wipe(&old);
}

/* ---- CHILD_SA ---- */

static void child_keys_gcm_without_pfs(void **state)
{
    (void)state;
    struct inputs v;
    make_inputs(&v);
    struct ike_sa_transforms t = {IKE_ENCR_AES_CBC, 256, IKE_PRF_HMAC_SHA2_256,
                                  IKE_INTEG_HMAC_SHA2_256_128};
    struct ike_sa_keys sa;
    assert_int_equal(ike_sa_keys_new(&t, v.ni, 32, v.nr, 32, v.gir, 256, v.spii, v.spir, &sa), 0);
    struct ike_child_keys c;
    assert_int_equal(ike_child_keys_derive(sa.prf, sa.sk_d, sa.prf_len, NULL, 0, v.ni, 32, v.nr, 32,
                                           IKE_ENCR_AES_GCM_16, 256, IKE_INTEG_NONE, &c),
                     0);
    assert_int_equal(c.encr_len, 36);
    assert_int_equal(c.integ_len, 0);
    /* KEYMAT = prf+(SK_d, Ni | Nr): the first 36 bytes go initiator->responder. */
    assert_true(th_equal_hex(c.encr_i, 36,
                             "3b2243ecd627fef89fcac9d0b1659ff04bebf16f3aad926866a628b24780df1c"
                             "046d7202"));
    assert_true(th_equal_hex(c.encr_r, 36,
                             "9cbf0998ace1073788feb6ff484171a7feea704a167cc480384ffae6946d9de2"
                             "f134e5b9"));
    ike_child_keys_wipe(&c);
    ike_sa_keys_wipe(&sa);
}

static void child_keys_cbc_with_pfs(void **state)
{
    (void)state;
    struct inputs v;
    make_inputs(&v);
    struct ike_sa_transforms t = {IKE_ENCR_AES_CBC, 256, IKE_PRF_HMAC_SHA2_256,
                                  IKE_INTEG_HMAC_SHA2_256_128};
    struct ike_sa_keys sa;
    assert_int_equal(ike_sa_keys_new(&t, v.ni, 32, v.nr, 32, v.gir, 256, v.spii, v.spir, &sa), 0);
    struct ike_child_keys c;
    assert_int_equal(ike_child_keys_derive(sa.prf, sa.sk_d, sa.prf_len, v.gir2, 32, v.ni2, 24,
                                           v.nr2, 40, IKE_ENCR_AES_CBC, 128,
                                           IKE_INTEG_HMAC_SHA2_256_128, &c),
                     0);
    assert_int_equal(c.encr_len, 16);
    assert_int_equal(c.integ_len, 32);
    /* KEYMAT = prf+(SK_d, g^ir' | Ni' | Nr') = encr_i | integ_i | encr_r | integ_r */
    assert_true(th_equal_hex(c.encr_i, 16, "5bbc85354bee9538de9fcd42d9bb7e87"));
    assert_true(th_equal_hex(c.integ_i, 32,
                             "ce1b57b0109ecb068bdd3d26d62de658547d8bfdf20b3ed3bd1e65e5ebec695f"));
    assert_true(th_equal_hex(c.encr_r, 16, "5178040a98fcbdba8560147a0ba19348"));
    assert_true(th_equal_hex(c.integ_r, 32,
                             "1bea0172b63814fda39dc01111ccf8b983ab0abb383cf9084e3438ee52b57f05"));
    /* AEAD with INTEG, or CBC without, is refused. */
    assert_int_equal(ike_child_keys_derive(sa.prf, sa.sk_d, sa.prf_len, NULL, 0, v.ni, 32, v.nr, 32,
                                           IKE_ENCR_AES_GCM_16, 128, IKE_INTEG_HMAC_SHA2_256_128,
                                           &c),
                     -1);
    assert_int_equal(ike_child_keys_derive(sa.prf, sa.sk_d, sa.prf_len, NULL, 0, v.ni, 32, v.nr, 32,
                                           IKE_ENCR_AES_CBC, 128, IKE_INTEG_NONE, &c),
                     -1);
    ike_child_keys_wipe(&c);
    ike_sa_keys_wipe(&sa);
}

static void esp_key_lengths_per_transform(void **state)
{
    (void)state;
    assert_int_equal(ike_alg_encr_keymat_len(IKE_ENCR_AES_CBC, 128), 16);
    assert_int_equal(ike_alg_encr_keymat_len(IKE_ENCR_AES_CBC, 256), 32);
    assert_int_equal(ike_alg_encr_keymat_len(IKE_ENCR_AES_GCM_16, 128), 20);
    assert_int_equal(ike_alg_encr_keymat_len(IKE_ENCR_AES_GCM_16, 256), 36);
    assert_int_equal(ike_alg_encr_keymat_len(IKE_ENCR_CHACHA20_POLY1305, 0), 36);
    assert_int_equal(ike_alg_encr_keymat_len(IKE_ENCR_NULL, 0), 0);
    assert_int_equal(ike_alg_integ_key_len(IKE_INTEG_HMAC_SHA1_96), 20);
    assert_int_equal(ike_alg_integ_key_len(IKE_INTEG_HMAC_SHA2_256_128), 32);
    assert_int_equal(ike_alg_integ_key_len(IKE_INTEG_HMAC_SHA2_384_192), 48);
    assert_int_equal(ike_alg_integ_key_len(IKE_INTEG_HMAC_SHA2_512_256), 64);
    assert_int_equal(ike_alg_integ_icv_len(IKE_INTEG_HMAC_SHA2_512_256), 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hmac_sha2_matches_rfc4231),
        cmocka_unit_test(hmac_sha1_matches_rfc2202_and_is_flagged_weak),
        cmocka_unit_test(keyed_prf_gives_same_answer_every_time),
        cmocka_unit_test(unknown_prf_is_refused),
        cmocka_unit_test(prf_plus_matches_independent_computation),
        cmocka_unit_test(prf_plus_stops_at_255_blocks),
        cmocka_unit_test(ike_sa_keys_aes_cbc_sha256),
        cmocka_unit_test(ike_sa_keys_aes_gcm_sha384_take_salt_and_no_integ),
        cmocka_unit_test(inconsistent_transforms_are_refused),
        cmocka_unit_test(rekey_skeyseed_uses_old_sk_d),
        cmocka_unit_test(child_keys_gcm_without_pfs),
        cmocka_unit_test(child_keys_cbc_with_pfs),
        cmocka_unit_test(esp_key_lengths_per_transform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
