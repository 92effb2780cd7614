/* The session registry: what dashboards read while the IKE thread writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concentrator/registry.h"

static void put(struct registry *r, const char *id, const char *tenant, const char *who,
                const char *vip)
{
    struct reg_session s;
    memset(&s, 0, sizeof(s));
    snprintf(s.id, sizeof(s.id), "%s", id);
    snprintf(s.tenant, sizeof(s.tenant), "%s", tenant);
    snprintf(s.identity, sizeof(s.identity), "%s", who);
    snprintf(s.vip4, sizeof(s.vip4), "%s", vip);
    registry_put(r, &s);
}

static void pages_come_in_id_order_with_filters(void **state)
{
    (void)state;
    struct registry *r = registry_new();
    /* 600 sessions spread over the shards, two tenants. */
    for (int i = 0; i < 600; i++) {
        char id[REG_ID_LEN], vip[16];
        snprintf(id, sizeof(id), "%016llx", (unsigned long long)i * 0x9e3779b97f4a7c15ULL);
        snprintf(vip, sizeof(vip), "10.1.%d.%d", i / 250, i % 250 + 2);
        put(r, id, i % 3 ? "acme" : "beta", i == 7 ? "Alice" : "user", vip);
    }
    assert_int_equal(registry_count(r, NULL), 600);
    assert_int_equal(registry_count(r, "beta"), 200);

    struct reg_session page[128];
    char after[REG_ID_LEN] = "";
    size_t total = 0;
    bool more = true;
    char last[REG_ID_LEN] = "";
    while (more) {
        size_t n = registry_list(r, NULL, after[0] ? after : NULL, page, 128, &more);
        for (size_t i = 0; i < n; i++) {
            assert_true(strcmp(page[i].id, last) > 0); /* strictly ascending, no repeats */
            snprintf(last, sizeof(last), "%s", page[i].id);
        }
        total += n;
        if (n)
            snprintf(after, sizeof(after), "%s", page[n - 1].id);
    }
    assert_int_equal(total, 600);

    struct reg_filter f = {.tenant = "beta"};
    size_t n = registry_list(r, &f, NULL, page, 128, &more);
    assert_int_equal(n, 128);
    assert_true(more);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(page[i].tenant, "beta");

    struct reg_filter who = {.user = "alice"};
    n = registry_list(r, &who, NULL, page, 128, &more);
    assert_int_equal(n, 1);
    assert_false(more);
    struct reg_filter vip = {.vip = "10.1.0.9"};
    n = registry_list(r, &vip, NULL, page, 128, &more);
    assert_int_equal(n, 1);
    assert_string_equal(page[0].identity, "Alice");
    registry_free(r);
}

static void put_replaces_and_remove_forgets(void **state)
{
    (void)state;
    struct registry *r = registry_new();
    put(r, "00000000000000aa", "acme", "alice", "10.1.0.2");
    put(r, "00000000000000aa", "acme", "alice", "10.1.0.3");
    assert_int_equal(registry_count(r, NULL), 1);
    struct reg_session s;
    assert_true(registry_get(r, "00000000000000aa", &s));
    assert_string_equal(s.vip4, "10.1.0.3");
    registry_remove(r, "00000000000000aa");
    registry_remove(r, "00000000000000aa");
    assert_false(registry_get(r, "00000000000000aa", &s));
    assert_int_equal(registry_count(r, NULL), 0);
    registry_free(r);
}

struct reader_arg {
    struct registry *r;
    volatile int stop;
    size_t reads;
};

static void *reader(void *p)
{
    struct reader_arg *a = p;
    static struct reg_session page[1000];
    while (!a->stop) {
        bool more;
        size_t n = registry_list(a->r, NULL, NULL, page, 1000, &more);
        for (size_t i = 0; i < n; i++)
            if (strncmp(page[i].tenant, "acme", 4) != 0)
                abort(); /* a torn copy */
        a->reads++;
    }
    return NULL;
}

static void readers_see_whole_entries_while_the_writer_churns(void **state)
{
    (void)state;
    struct registry *r = registry_new();
    struct reader_arg a = {.r = r};
    pthread_t t;
    pthread_create(&t, NULL, reader, &a);
    for (int round = 0; round < 20000; round++) {
        char id[REG_ID_LEN];
        snprintf(id, sizeof(id), "%016x", (unsigned)(round % 3000) * 2654435761u);
        if (round % 4 == 3)
            registry_remove(r, id);
        else
            put(r, id, "acme", "someone", "10.9.9.9");
    }
    a.stop = 1;
    pthread_join(t, NULL);
    assert_true(a.reads > 0);
    registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pages_come_in_id_order_with_filters),
        cmocka_unit_test(put_replaces_and_remove_forgets),
        cmocka_unit_test(readers_see_whole_entries_while_the_writer_churns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
