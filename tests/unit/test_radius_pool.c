/* The auth threads: a full queue refuses at once with a reason, one tenant
 * cannot take every thread, results come back through the loop's async
 * wake-up. The "dead" RADIUS server is a UDP socket of the test that never
 * answers. */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "auth/auth_pool.h"
#include "concentrator/event.h"

struct rig {
    int sock;
    uint16_t port;
    struct evl *loop;
    struct evl_async *wake;
    struct auth_pool *pool;
    struct auth_job *done[16];
    size_t ndone;
};

static void on_done(struct auth_job *job, void *arg)
{
    struct rig *r = arg;
    if (r->ndone < 16)
        r->done[r->ndone++] = job;
    else
        auth_job_free(job);
}

static void on_wake(struct evl_async *a, void *arg)
{
    (void)a;
    struct rig *r = arg;
    auth_pool_drain(r->pool, on_done, r);
}

static void on_tick(struct evl_timer *t, void *arg)
{
    (void)t;
    (void)arg;
}

static void wait_done(struct rig *r, size_t want, double seconds)
{
    struct evl_timer *t = evl_timer_new(r->loop, on_tick, NULL);
    double end = tu_now() + seconds;
    while (r->ndone < want && tu_now() < end) {
        evl_timer_start(t, 0.05, 0);
        evl_run_once(r->loop, true);
    }
    evl_timer_free(t);
}

static void rig_up(struct rig *r, const struct auth_pool_cfg *cfg)
{
    memset(r, 0, sizeof(*r));
    r->sock = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(r->sock >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(r->sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(r->sock, (struct sockaddr *)&sa, &sl), 0);
    r->port = ntohs(sa.sin_port);
    r->loop = evl_new();
    r->wake = evl_async_new(r->loop, on_wake, r);
    r->pool = auth_pool_new(cfg, r->wake);
    assert_non_null(r->pool);
}

static void rig_down(struct rig *r)
{
    auth_pool_free(r->pool);
    for (size_t i = 0; i < r->ndone; i++)
        auth_job_free(r->done[i]);
    evl_async_free(r->wake);
    evl_free(r->loop);
    close(r->sock);
}

/* An EAP job for tenant; with a silent server of timeout_ms, or none. */
static struct auth_job *job_for(struct rig *r, const char *tenant, uint64_t cookie,
                                unsigned timeout_ms)
{
    struct auth_job *job = auth_job_new(AUTH_JOB_EAP, tenant, cookie);
    assert_non_null(job);
    struct radius_eap_req *req = &job->u.eap.req;
    snprintf(req->user, sizeof(req->user), "user%llu", (unsigned long long)cookie);
    const uint8_t eap[] = {2, 1, 0, 5, 1};
    memcpy(req->eap, eap, sizeof(eap));
    req->eap_len = sizeof(eap);
    if (timeout_ms) {
        struct radius_server *s = &req->servers.s[req->servers.n++];
        snprintf(s->host, sizeof(s->host), "127.0.0.1");
        s->auth_port = r->port;
        snprintf(s->secret, sizeof(s->secret), "x");
        s->timeout_ms = timeout_ms;
        s->retries = 1;
    }
    return job;
}

static void wait_running(struct rig *r, unsigned want)
{
    struct auth_pool_stats st;
    double end = tu_now() + 2;
    do {
        auth_pool_get_stats(r->pool, &st);
        if (st.running == want)
            return;
        tu_sleep_ms(5);
    } while (tu_now() < end);
    fail_msg("running never reached %u", want);
}

static void test_full_queue_refuses_with_reason(void **state)
{
    (void)state;
    struct rig r;
    struct auth_pool_cfg cfg = {.threads = 1, .queue_limit = 2, .tenant_queue = 2};
    char why[128] = "";
    rig_up(&r, &cfg);
    assert_int_equal(auth_pool_submit(r.pool, job_for(&r, "a", 1, 400), why, sizeof(why)), 0);
    wait_running(&r, 1);
    assert_int_equal(auth_pool_submit(r.pool, job_for(&r, "b", 2, 400), why, sizeof(why)), 0);
    assert_int_equal(auth_pool_submit(r.pool, job_for(&r, "c", 3, 400), why, sizeof(why)), 0);
    struct auth_job *extra = job_for(&r, "d", 4, 400);
    double t0 = tu_now();
    assert_int_equal(auth_pool_submit(r.pool, extra, why, sizeof(why)), -1);
    assert_true(tu_now() - t0 < 0.05); /* refused at once */
    assert_string_equal(why, "RADIUS queue full (2 requests waiting)");
    auth_job_free(extra); /* still the caller's */
    struct auth_pool_stats st;
    auth_pool_get_stats(r.pool, &st);
    assert_int_equal(st.waiting, 2);
    assert_int_equal(st.refused, 1);
    rig_down(&r); /* drops the waiting jobs, waits for the running one */
}

static void test_tenant_queue_limit(void **state)
{
    (void)state;
    struct rig r;
    struct auth_pool_cfg cfg = {.threads = 1, .queue_limit = 10, .tenant_queue = 1};
    char why[128] = "";
    rig_up(&r, &cfg);
    assert_int_equal(auth_pool_submit(r.pool, job_for(&r, "acme", 1, 300), why, sizeof(why)), 0);
    wait_running(&r, 1);
    assert_int_equal(auth_pool_submit(r.pool, job_for(&r, "acme", 2, 300), why, sizeof(why)), 0);
    struct auth_job *extra = job_for(&r, "acme", 3, 300);
    assert_int_equal(auth_pool_submit(r.pool, extra, why, sizeof(why)), -1);
    assert_string_equal(why, "RADIUS queue of tenant acme full (1 requests waiting)");
    auth_job_free(extra);
    /* Another tenant still gets in. */
    assert_int_equal(auth_pool_submit(r.pool, job_for(&r, "other", 4, 300), why, sizeof(why)), 0);
    wait_done(&r, 3, 3);
    assert_int_equal(r.ndone, 3);
    rig_down(&r);
}

/* Tenant "dead" has more requests than threads; tenant "ok" still runs at
 * once because one tenant may use only tenant_inflight threads. */
static void test_one_tenant_cannot_take_every_thread(void **state)
{
    (void)state;
    struct rig r;
    struct auth_pool_cfg cfg = {.threads = 2, .tenant_inflight = 1};
    char why[128];
    rig_up(&r, &cfg);
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal(auth_pool_submit(r.pool, job_for(&r, "dead", i, 400), why, sizeof(why)),
                         0);
    assert_int_equal(auth_pool_submit(r.pool, job_for(&r, "ok", 99, 0), why, sizeof(why)), 0);
    wait_done(&r, 1, 2);
    assert_int_equal(r.ndone, 1);
    struct auth_job *ok = r.done[0];
    assert_int_equal(ok->cookie, 99);
    assert_int_equal(ok->u.eap.res.outcome, RADIUS_EAP_NO_ANSWER);
    assert_string_equal(ok->u.eap.res.why, "no RADIUS server configured");
    assert_true(ok->done_ms - ok->queued_ms < 200);

    wait_done(&r, 4, 3);
    assert_int_equal(r.ndone, 4);
    /* The dead tenant's requests ran one after another, in order. */
    for (size_t i = 1; i < 4; i++) {
        assert_int_equal(r.done[i]->cookie, i);
        assert_int_equal(r.done[i]->u.eap.res.outcome, RADIUS_EAP_NO_ANSWER);
        int64_t ms = r.done[i]->done_ms - r.done[i]->queued_ms;
        assert_true(ms >= (int64_t)(400 * i) - 10);
    }
    rig_down(&r);
}

static void test_oversize_eap_is_an_error(void **state)
{
    (void)state;
    struct radius_eap_req *req = calloc(1, sizeof(*req));
    struct radius_eap_res *res = calloc(1, sizeof(*res));
    req->eap_len = RADIUS_EAP_MAX + 1;
    assert_int_equal(radius_eap_relay(req, res), -1);
    assert_int_equal(res->outcome, RADIUS_EAP_ERROR);
    assert_non_null(strstr(res->why, "cannot be relayed"));
    free(req);
    free(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_queue_refuses_with_reason),
        cmocka_unit_test(test_tenant_queue_limit),
        cmocka_unit_test(test_one_tenant_cannot_take_every_thread),
        cmocka_unit_test(test_oversize_eap_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
