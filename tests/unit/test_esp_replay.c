/* The anti-replay window as a table of cases: duplicates, window edges,
 * far-ahead jumps, word reuse in the ring, 32-bit and ESN wrap-around, and
 * the high half inferred per RFC 4303 appendix A2.2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "esp/esp_replay.h"

/* One packet: its low sequence number, what the check must say (and the full
 * number it must infer), and whether it then passes integrity (update). */
struct step {
    uint32_t seq_lo;
    enum esp_reason want;
    uint64_t want_seq; /* checked when want == ESP_OK */
    bool update;
};

struct scenario {
    const char *name;
    uint32_t window;
    bool esn;
    uint64_t start; /* accepted first (0: none) */
    struct step steps[24];
};

#define OK(s, full)                                                                                \
    {                                                                                              \
        s, ESP_OK, full, true                                                                      \
    }
#define PEEK(s, full)                                                                              \
    {                                                                                              \
        s, ESP_OK, full, false                                                                     \
    }
#define REPLAY(s)                                                                                  \
    {                                                                                              \
        s, ESP_DROP_REPLAY, 0, false                                                               \
    }
#define END                                                                                        \
    {                                                                                              \
        0, ESP_REASON_COUNT, 0, false                                                              \
    }

static const struct scenario scenarios[] = {
    {"32-bit, window 64",
     64,
     false,
     0,
     {OK(1, 1), REPLAY(1), REPLAY(0), OK(3, 3), OK(2, 2), REPLAY(2), OK(66, 66),
      REPLAY(3),      /* duplicate inside the window */
      REPLAY(2),      /* 66 - 2 = 64: just outside */
      OK(4, 4),       /* 66 - 4 = 62: inside, unseen */
      OK(1000, 1000), /* far ahead */
      OK(937, 937),   /* the oldest still inside */
      REPLAY(936), REPLAY(1000), PEEK(999, 999), OK(999, 999), REPLAY(999), END}},
    {"32-bit top of the space",
     64,
     false,
     0xfffffff0,
     {OK(0xffffffff, 0xffffffff), OK(0xfffffff1, 0xfffffff1), REPLAY(0xfffffff1),
      REPLAY(0), /* no wrap without ESN */
      REPLAY(5), END}},
    {"ring words reused, window 1024",
     1024,
     false,
     0,
     {OK(100, 100), OK(1000, 1000), OK(1100, 1100), OK(1090, 1090),
      REPLAY(100), /* seen, still inside (1100 - 100 < 1024) */
      OK(77, 77),  /* 1100 - 77 = 1023: inside, unseen */
      REPLAY(76),  /* 1024 behind */
      OK(5000, 5000), OK(3977, 3977), REPLAY(3976), REPLAY(1100), /* far behind now */
      OK(5000 + 64 * 17, 5000 + 64 * 17),                         /* lands on the word of 5000 */
      OK(5000 + 64 * 17 - 64, 5000 + 64 * 17 - 64), END}},
    {"a jump larger than the ring clears it",
     128,
     false,
     0,
     {OK(10, 10), OK(20, 20), OK(10 + 64 * 3, 10 + 64 * 3), OK(20 + 64 * 3, 20 + 64 * 3),
      OK(100000, 100000), PEEK(100000 - 127, 100000 - 127), REPLAY(100000 - 128), END}},
    {"ESN rollover",
     64,
     true,
     0xfffffff0,
     {OK(0xfffffff8, 0xfffffff8), OK(5, 0x100000005), /* below the window's bottom: next span */
      OK(0xfffffff5, 0xfffffff5),                     /* above the wrapped bottom: previous span */
      REPLAY(0xfffffff0),                             /* seen (start) */
      REPLAY(0xfffffff8),                             /* seen */
      OK(0xffffffd0, 0xffffffd0),                     /* 0x100000005 - 0xffffffd0 = 53: inside */
      PEEK(0xffffffc5, 0x1ffffffc5), /* 64 behind: A2.2 reads it as the next span */
      PEEK(0xffffff00, 0x1ffffff00), /* far below the bottom: far ahead */
      REPLAY(5), OK(6, 0x100000006), OK(0, 0x100000000), REPLAY(0), END}},
    {"ESN first packets",
     64,
     true,
     0,
     {REPLAY(0), REPLAY(0xffffffff), /* would be before the first packet */
      OK(1, 1), OK(0x80000000, 0x80000000), OK(2, 0x100000002), END}},
    {"ESN space used up",
     64,
     true,
     0xfffffffffffffff0ull,
     {OK(0xfffffff8, 0xfffffffffffffff8ull), REPLAY(5), /* would need high half 2^32 */
      OK(0xffffffff, 0xffffffffffffffffull), REPLAY(0xffffffff), END}},
    {"ESN window 4096",
     4096,
     true,
     0x200000000ull + 100,
     {OK(50, 0x200000000ull + 50), OK(0xfffff100, 0x1fffff100ull), REPLAY(0xfffff100),
      PEEK(0xfffff000, 0x2fffff000ull), /* 4196 behind: read as far ahead */
      OK(0x1000, 0x200001000ull), END}},
};

static void test_replay_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        const struct scenario *sc = &scenarios[i];
        struct esp_replay r;
        esp_replay_init(&r, sc->window, sc->esn);
        if (sc->start)
            assert_int_equal(esp_replay_update(&r, sc->start), ESP_OK);
        for (size_t j = 0; sc->steps[j].want != ESP_REASON_COUNT; j++) {
            const struct step *st = &sc->steps[j];
            uint64_t seq = 0;
            enum esp_reason got = esp_replay_check(&r, st->seq_lo, &seq);
            if (got != st->want)
                fail_msg("%s, step %zu (seq %#x): got %s, want %s", sc->name, j, st->seq_lo,
                         esp_reason_name(got), esp_reason_name(st->want));
            if (st->want != ESP_OK)
                continue;
            if (seq != st->want_seq)
                fail_msg("%s, step %zu: inferred %#llx, want %#llx", sc->name, j,
                         (unsigned long long)seq, (unsigned long long)st->want_seq);
            if (st->update)
                assert_int_equal(esp_replay_update(&r, seq), ESP_OK);
        }
    }
}

/* update re-checks: of two workers that both passed the check with the same
 * number, only the first to update wins. */
static void test_update_rechecks(void **state)
{
    (void)state;
    struct esp_replay r;
    esp_replay_init(&r, 64, false);
    uint64_t a, b;
    assert_int_equal(esp_replay_check(&r, 7, &a), ESP_OK);
    assert_int_equal(esp_replay_check(&r, 7, &b), ESP_OK);
    assert_int_equal(esp_replay_update(&r, a), ESP_OK);
    assert_int_equal(esp_replay_update(&r, b), ESP_DROP_REPLAY);
    /* ... also when the window moved past it in between. */
    assert_int_equal(esp_replay_check(&r, 8, &a), ESP_OK);
    assert_int_equal(esp_replay_update(&r, 200), ESP_OK);
    assert_int_equal(esp_replay_update(&r, a), ESP_DROP_REPLAY);
}

static void test_window_sizes(void **state)
{
    (void)state;
    struct esp_replay r;
    esp_replay_init(&r, 0, false);
    assert_int_equal(r.window, ESP_REPLAY_DEFAULT);
    esp_replay_init(&r, 100, false);
    assert_int_equal(r.window, 128);
    esp_replay_init(&r, 100000, false);
    assert_int_equal(r.window, ESP_REPLAY_MAX);
    /* Every one of a full window of out-of-order packets is accepted once. */
    esp_replay_init(&r, 1024, false);
    assert_int_equal(esp_replay_update(&r, 2000), ESP_OK);
    for (uint32_t s = 2000 - 1023; s < 2000; s += 1) {
        uint64_t seq;
        assert_int_equal(esp_replay_check(&r, s, &seq), ESP_OK);
        assert_int_equal(esp_replay_update(&r, seq), ESP_OK);
    }
    for (uint32_t s = 2000 - 1023; s <= 2000; s += 1) {
        uint64_t seq;
        assert_int_equal(esp_replay_check(&r, s, &seq), ESP_DROP_REPLAY);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_table),
        cmocka_unit_test(test_update_rechecks),
        cmocka_unit_test(test_window_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
