/* A worker's interrupt moderation (esp_io_linger_us): it waits only when
 * packets come fast enough, and never so long that more packets than the
 * kernel's queues in front of it hold would pile up meanwhile. */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "esp/esp_io_int.h"

static void waits_only_under_load(void **state)
{
    (void)state;
    /* Nothing, no linger configured, or sparse traffic: at once. */
    assert_int_equal(esp_io_linger_us(0, 100, 500), 0);
    assert_int_equal(esp_io_linger_us(10, 100, 0), 0);
    assert_int_equal(esp_io_linger_us(1, 1000000, 500), 0); /* one packet a second */
    assert_int_equal(esp_io_linger_us(1, 251, 500), 0);     /* under two due in 500 us */
    /* Two or more due within the linger: the whole linger. */
    assert_int_equal(esp_io_linger_us(1, 250, 500), 500);
    assert_int_equal(esp_io_linger_us(35, 500, 500), 500); /* ~70k packets/s */
}

static void never_longer_than_the_queues_hold(void **state)
{
    (void)state;
    /* 64 packets in 32 us: 2 million a second. 500 us would bring 1,000;
     * the wait is cut so that at most ESP_IO_LINGER_MAX_PACKETS come. */
    unsigned w = esp_io_linger_us(64, 32, 500);
    assert_true(w > 0 && w <= 500);
    assert_true((uint64_t)w * 64 / 32 <= ESP_IO_LINGER_MAX_PACKETS);
    w = esp_io_linger_us(64, 8, 500); /* 8 million a second */
    assert_true((uint64_t)w * 64 / 8 <= ESP_IO_LINGER_MAX_PACKETS);
    assert_true(w >= 100);
    /* A zero gap (two wake-ups within a microsecond) does not divide by 0. */
    w = esp_io_linger_us(64, 0, 500);
    assert_true(w <= 500 && (uint64_t)w * 64 <= ESP_IO_LINGER_MAX_PACKETS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(waits_only_under_load),
        cmocka_unit_test(never_longer_than_the_queues_hold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
