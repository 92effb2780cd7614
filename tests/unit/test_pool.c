/* Virtual address pools: what a client gets, and what it never gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "concentrator/pool.h"

static const char *alloc_str(struct pool *p, char *buf)
{
    struct pool_addr a;
    if (pool_alloc(p, &a) < 0)
        return "full";
    return pool_addr_str(&a, buf, INET6_ADDRSTRLEN);
}

static void first_client_gets_dot_two(void **state)
{
    (void)state;
    char buf[INET6_ADDRSTRLEN];
    struct pool *p = pool_new("10.1.0.0/24");
    assert_non_null(p);
    assert_int_equal(pool_size(p), 253); /* not .0, not .1 (gateway), not .255 */
    assert_string_equal(alloc_str(p, buf), "10.1.0.2");
    assert_string_equal(alloc_str(p, buf), "10.1.0.3");
    struct pool_addr gw;
    pool_gateway(p, &gw);
    assert_string_equal(pool_addr_str(&gw, buf, sizeof(buf)), "10.1.0.1");
    pool_free(p);
}

static void released_address_is_reused_first(void **state)
{
    (void)state;
    char buf[INET6_ADDRSTRLEN];
    struct pool *p = pool_new("10.1.0.0/24");
    struct pool_addr a, b;
    assert_int_equal(pool_alloc(p, &a), 0);
    assert_int_equal(pool_alloc(p, &b), 0);
    pool_release(p, &a);
    assert_int_equal(pool_in_use(p), 1);
    assert_string_equal(alloc_str(p, buf), "10.1.0.2");
    /* releasing twice, or an address never handed out, changes nothing */
    pool_release(p, &b);
    pool_release(p, &b);
    assert_int_equal(pool_in_use(p), 1);
    pool_free(p);
}

static void small_pool_fills_up(void **state)
{
    (void)state;
    char buf[INET6_ADDRSTRLEN];
    struct pool *p = pool_new("192.0.2.0/29"); /* .2 .. .6 */
    assert_int_equal(pool_size(p), 5);
    for (int i = 0; i < 5; i++)
        assert_string_not_equal(alloc_str(p, buf), "full");
    assert_string_equal(alloc_str(p, buf), "full");
    pool_free(p);
}

static void static_addresses_are_skipped(void **state)
{
    (void)state;
    char buf[INET6_ADDRSTRLEN];
    struct pool *p = pool_new("10.1.0.0/24");
    struct pool_addr s;
    assert_true(pool_addr_parse("10.1.0.2", &s));
    assert_int_equal(pool_take(p, &s), 0);
    assert_int_equal(pool_take(p, &s), -1); /* taken */
    assert_string_equal(alloc_str(p, buf), "10.1.0.3");
    struct pool_addr out;
    assert_true(pool_addr_parse("10.2.0.5", &out));
    assert_int_equal(pool_take(p, &out), -1); /* outside */
    assert_true(pool_addr_parse("10.1.0.1", &out));
    assert_int_equal(pool_take(p, &out), -1); /* the gateway */
    assert_true(pool_addr_parse("10.1.0.255", &out));
    assert_int_equal(pool_take(p, &out), -1); /* broadcast */
    pool_free(p);
}

static void ipv6_pool(void **state)
{
    (void)state;
    char buf[INET6_ADDRSTRLEN];
    struct pool *p = pool_new("fd00:1::/64");
    assert_non_null(p);
    assert_string_equal(alloc_str(p, buf), "fd00:1::2");
    assert_int_equal(pool_size(p), (1u << 20) - 2); /* bounded */
    struct pool_addr a;
    assert_true(pool_addr_parse("fd00:1::1:0", &a));
    assert_true(pool_contains(p, &a));
    assert_int_equal(pool_take(p, &a), 0);
    assert_true(pool_addr_parse("fd00:2::5", &a));
    assert_false(pool_contains(p, &a));
    pool_free(p);
}

static void bad_cidrs_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"10.1.0.0",    "10.1.0.5/24",  "10.1.0.0/33",
                         "10.1.0.0/31", "x/24",         "10.1.0.0/",
                         "fd00::/129",  "10.1.0.0/24x", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(pool_new(bad[i]));
}

static void overlap(void **state)
{
    (void)state;
    assert_int_equal(pool_cidr_overlap("10.0.0.0/8", "10.1.0.0/24"), 1);
    assert_int_equal(pool_cidr_overlap("10.1.0.0/24", "10.1.1.0/24"), 0);
    assert_int_equal(pool_cidr_overlap("10.1.0.0/24", "fd00::/64"), 0);
    assert_int_equal(pool_cidr_overlap("fd00::/16", "fd00:1::/64"), 1);
    assert_int_equal(pool_cidr_overlap("bad", "10.0.0.0/8"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_client_gets_dot_two),
        cmocka_unit_test(released_address_is_reused_first),
        cmocka_unit_test(small_pool_fills_up),
        cmocka_unit_test(static_addresses_are_skipped),
        cmocka_unit_test(ipv6_pool),
        cmocka_unit_test(bad_cidrs_are_refused),
        cmocka_unit_test(overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
