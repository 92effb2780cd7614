/* Traffic lifetimes of a CHILD_SA from its policy: soft limit at 85-95 % of
 * the hard one whatever the jitter, small limits raised to the floor, none
 * when the policy has none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "concentrator/ike_life.h"

static void soft_between_85_and_95_percent(void **state)
{
    (void)state;
    const uint64_t hards[] = {100, 65536, 1000000, 1234567891ull, 1000000000000000ull, UINT64_MAX};
    const uint32_t rs[] = {0, 1, 0x80000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof(hards) / sizeof(hards[0]); i++) {
        for (size_t j = 0; j < sizeof(rs) / sizeof(rs[0]); j++) {
            uint64_t h = hards[i], s = ike_life_soft(h, rs[j]);
            assert_true(s < h);
            /* 0.85 h - 1 <= s <= 0.95 h */
            unsigned __int128 s100 = (unsigned __int128)s * 100, h100 = h;
            assert_true(s100 + 100 >= h100 * 85);
            assert_true(s100 <= h100 * 95);
        }
    }
    assert_int_equal(ike_life_soft(1000000, 0), 950000);
    assert_int_equal(ike_life_soft(1000000, UINT32_MAX), 850001);
    assert_int_equal(ike_life_soft(0, 7), 0);
    assert_int_equal(ike_life_soft(1, 7), 1);
    assert_int_equal(ike_life_soft(2, 0), 1);
}

static void policy_limits_both_directions(void **state)
{
    (void)state;
    struct snap_policy pol;
    memset(&pol, 0, sizeof(pol));
    struct esp_sa_params p;
    memset(&p, 0xaa, sizeof(p));
    ike_life_traffic(&pol, &p);
    assert_int_equal(p.life_in.hard_bytes, 0);
    assert_int_equal(p.life_in.soft_bytes, 0);
    assert_int_equal(p.life_out.hard_packets, 0);
    assert_int_equal(p.life_out.soft_packets, 0);

    pol.child_lifetime_bytes = 4000000;
    pol.child_lifetime_packets = 10; /* below the floor: raised */
    ike_life_traffic(&pol, &p);
    assert_int_equal(p.life_in.hard_bytes, 4000000);
    assert_int_equal(p.life_out.hard_bytes, 4000000);
    assert_true(p.life_in.soft_bytes >= 3400000 && p.life_in.soft_bytes <= 3800000);
    assert_int_equal(p.life_in.soft_bytes, p.life_out.soft_bytes);
    assert_int_equal(p.life_in.hard_packets, IKE_LIFE_MIN_PACKETS);
    assert_true(p.life_in.soft_packets >= 84 && p.life_in.soft_packets <= 95);

    ike_life_traffic(NULL, &p);
    assert_int_equal(p.life_in.hard_bytes, 0);
    assert_int_equal(p.life_out.hard_packets, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(soft_between_85_and_95_percent),
        cmocka_unit_test(policy_limits_both_directions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
