/* Proposal policy: what operators may write, and what the gateway chooses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "concentrator/ike_alg.h"
#include "concentrator/ike_types.h"
#include "concentrator/ike_proposal.h"

static void parses_what_operators_write(void **state)
{
    (void)state;
    struct ike_prop p;
    char err[200];
    assert_int_equal(
        ike_proposal_parse("aes256gcm16-prfsha384-ecp384", false, false, &p, err, sizeof(err)), 0);
    assert_true(p.aead);
    assert_int_equal(p.encr[0].id, IKE_ENCR_AES_GCM_16);
    assert_int_equal(p.encr[0].keybits, 256);
    assert_int_equal(p.prf[0], IKE_PRF_HMAC_SHA2_384);
    assert_int_equal(p.dh[0], IKE_DH_ECP384);

    assert_int_equal(
        ike_proposal_parse("aes256-sha256-modp2048", false, false, &p, err, sizeof(err)), 0);
    assert_false(p.aead);
    assert_int_equal(p.integ[0], IKE_INTEG_HMAC_SHA2_256_128);
    assert_int_equal(p.prf[0], IKE_PRF_HMAC_SHA2_256); /* implied by sha256 */

    assert_int_equal(
        ike_proposal_parse("chacha20poly1305-prfsha256-x25519", false, false, &p, err, sizeof(err)),
        0);
    assert_int_equal(p.encr[0].keybits, 0);

    assert_int_equal(ike_proposal_parse("aes128gcm16-esn", true, false, &p, err, sizeof(err)), 0);
    assert_true(p.esn);
    assert_false(p.noesn);
    assert_int_equal(ike_proposal_parse("aes128-sha256", true, false, &p, err, sizeof(err)), 0);
    assert_true(p.noesn); /* the default */
}

static void refuses_with_the_reason(void **state)
{
    (void)state;
    struct {
        const char *s;
        bool esp;
        const char *in_err;
    } bad[] = {
        {"aes256-sha256-modp1024", false, "weak"},
        {"aes256-sha1-modp2048", false, "weak"},
        {"aes256-sha256", false, "Diffie-Hellman"},
        {"aes256-modp2048", false, "integrity"},
        {"aes256gcm16-sha256-ecp256", false, "AEAD cipher takes no integrity"},
        {"aes256gcm16-aes256-sha256-ecp256", false, "mixes"},
        {"aes256-sha256-blowfish", false, "'blowfish'"},
        {"aes256-sha256-esn-modp2048", false, "only ESP"},
        {"aes256gcm16-prfsha256", true, "no PRF"},
        {"", false, "empty"},
        {"aes256-", true, "ends with"},
        {"sha256-ecp256", false, "no encryption"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ike_prop p;
        char err[200] = "";
        assert_int_equal(ike_proposal_parse(bad[i].s, bad[i].esp, false, &p, err, sizeof(err)), -1);
        if (!strstr(err, bad[i].in_err))
            fail_msg("'%s': error '%s' lacks '%s'", bad[i].s, err, bad[i].in_err);
    }
    /* weak ones pass when explicitly allowed */
    struct ike_prop p;
    char err[200];
    assert_int_equal(ike_proposal_parse("aes256-sha1-modp1024", false, true, &p, err, sizeof(err)),
                     0);
}

/* strongSwan 5.9's default IKE offer: a classic proposal and an AEAD one. */
static const struct ike_offer_transform classic[] = {
    {1, IKE_ENCR_AES_CBC, 128},
    {1, IKE_ENCR_AES_CBC, 256},
    {3, IKE_INTEG_HMAC_SHA2_256_128, 0},
    {3, IKE_INTEG_HMAC_SHA1_96, 0},
    {2, IKE_PRF_HMAC_SHA2_256, 0},
    {2, IKE_PRF_HMAC_SHA1, 0},
    {4, IKE_DH_CURVE25519, 0},
    {4, IKE_DH_ECP256, 0},
    {4, IKE_DH_MODP2048, 0},
};
static const struct ike_offer_transform aead[] = {
    {1, IKE_ENCR_AES_GCM_16, 128},      {1, IKE_ENCR_AES_GCM_16, 256},
    {1, IKE_ENCR_CHACHA20_POLY1305, 0}, {2, IKE_PRF_HMAC_SHA2_256, 0},
    {4, IKE_DH_CURVE25519, 0},          {4, IKE_DH_ECP384, 0},
};

static void chooses_from_strongswan_defaults(void **state)
{
    (void)state;
    struct ike_offer offers[] = {{1, 1, classic, 9}, {2, 1, aead, 6}};
    struct ike_prop_set ours;
    ike_proposal_defaults(false, &ours);
    struct ike_choice c;
    int i = ike_proposal_choose(&ours, offers, 2, false, &c);
    assert_int_equal(i, 0); /* the client's first acceptable proposal */
    assert_int_equal(c.number, 1);
    assert_int_equal(c.encr, IKE_ENCR_AES_CBC);
    assert_int_equal(c.encr_keybits, 256); /* our preference within it */
    assert_int_equal(c.integ, IKE_INTEG_HMAC_SHA2_256_128);
    assert_int_equal(c.prf, IKE_PRF_HMAC_SHA2_256);
    assert_int_equal(c.dh, IKE_DH_CURVE25519);

    /* A policy of only aes256gcm16-prfsha384-ecp384 refuses both offers... */
    char *only[] = {"aes256gcm16-prfsha384-ecp384"};
    char err[200];
    assert_int_equal(ike_proposal_set_parse(only, 1, false, false, &ours, err, sizeof(err)), 0);
    assert_int_equal(ike_proposal_choose(&ours, offers, 2, false, &c), -1);
    /* ...and one of aes256gcm16-prfsha256-ecp384 takes the AEAD one. */
    char *gcm[] = {"aes256gcm16-prfsha256-ecp384"};
    assert_int_equal(ike_proposal_set_parse(gcm, 1, false, false, &ours, err, sizeof(err)), 0);
    assert_int_equal(ike_proposal_choose(&ours, offers, 2, false, &c), 1);
    assert_int_equal(c.dh, IKE_DH_ECP384);
    /* The client sent KE for Curve25519, which this policy does not allow:
     * it must be asked for ECP-384. */
    assert_int_equal(ike_proposal_ke_group(&c, &offers[1], &ours, IKE_DH_CURVE25519),
                     IKE_DH_ECP384);
    assert_int_equal(ike_proposal_ke_group(&c, &offers[1], &ours, IKE_DH_ECP384), 0);
}

static void ke_for_another_offered_group_is_accepted(void **state)
{
    (void)state;
    struct ike_offer offer = {1, 1, classic, 9};
    struct ike_prop_set ours;
    char *pol[] = {"aes256-sha256-ecp256-modp2048"};
    char err[200];
    assert_int_equal(ike_proposal_set_parse(pol, 1, false, false, &ours, err, sizeof(err)), 0);
    struct ike_choice c;
    assert_int_equal(ike_proposal_choose(&ours, &offer, 1, false, &c), 0);
    assert_int_equal(c.dh, IKE_DH_ECP256);
    assert_int_equal(ike_proposal_ke_group(&c, &offer, &ours, IKE_DH_MODP2048), 0);
    assert_int_equal(c.dh, IKE_DH_MODP2048);
}

static void esp_choice_and_pfs(void **state)
{
    (void)state;
    static const struct ike_offer_transform esp_gcm[] = {
        {1, IKE_ENCR_AES_GCM_16, 128},
        {1, IKE_ENCR_AES_GCM_16, 256},
        {5, 0, 0},
    };
    struct ike_offer offer = {1, 3, esp_gcm, 3};
    struct ike_prop_set ours;
    ike_proposal_defaults(true, &ours);
    struct ike_choice c;
    assert_int_equal(ike_proposal_choose(&ours, &offer, 1, true, &c), 0);
    assert_int_equal(c.encr_keybits, 256);
    assert_false(c.esn);
    assert_int_equal(c.dh, 0);
    /* A policy that demands PFS refuses an offer without a DH group. */
    char *pfs[] = {"aes128gcm16-ecp256"};
    char err[200];
    assert_int_equal(ike_proposal_set_parse(pfs, 1, true, false, &ours, err, sizeof(err)), 0);
    assert_int_equal(ike_proposal_choose(&ours, &offer, 1, true, &c), -1);
    /* A policy without PFS still takes it when the client offers it. */
    static const struct ike_offer_transform esp_pfs[] = {
        {1, IKE_ENCR_AES_GCM_16, 128},
        {4, IKE_DH_ECP256, 0},
        {5, 0, 0},
    };
    struct ike_offer pfs_offer = {1, 3, esp_pfs, 3};
    ike_proposal_defaults(true, &ours);
    assert_int_equal(ike_proposal_choose(&ours, &pfs_offer, 1, true, &c), 0);
    assert_int_equal(c.dh, IKE_DH_ECP256);
    char buf[128];
    ike_proposal_defaults(true, &ours);
    assert_int_equal(ike_proposal_choose(&ours, &offer, 1, true, &c), 0);
    ike_choice_str(&c, true, buf, sizeof(buf));
    assert_non_null(strstr(buf, "_256"));
    assert_non_null(strstr(buf, "NO_ESN"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_what_operators_write),
        cmocka_unit_test(refuses_with_the_reason),
        cmocka_unit_test(chooses_from_strongswan_defaults),
        cmocka_unit_test(ke_for_another_offered_group_is_accepted),
        cmocka_unit_test(esp_choice_and_pfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
