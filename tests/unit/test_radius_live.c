/*
 * The EAP relay and accounting against live RADIUS servers: FreeRADIUS and
 * tests/system/radius/fake_radius.py, started by
 * tests/system/test_radius_relay.py, which passes their ports in the
 * environment. Each test is skipped when its server is not given, so `make
 * unit` runs this binary harmlessly.
 *
 * The test plays the EAP client itself: EAP-MD5 (RFC 3748 5.4, RFC 1994) and
 * EAP-TLS (RFC 5216, OpenSSL over memory BIOs).
 */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_pool.h"
#include "auth/radius_acct.h"
#include "auth/radius_eap.h"
#include "concentrator/event.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static uint16_t env_port(const char *name)
{
    const char *v = env(name);
    return v ? (uint16_t)atoi(v) : 0;
}

#define NEED(var)                                                                                  \
    do {                                                                                           \
        if (!env(var))                                                                             \
            skip();                                                                                \
    } while (0)

static void set_nas(struct radius_nas *nas)
{
    snprintf(nas->identifier, sizeof(nas->identifier), "isthmus-test");
    snprintf(nas->called_station, sizeof(nas->called_station), "vpn.acme.test");
    snprintf(nas->calling_station, sizeof(nas->calling_station), "198.51.100.7:4500");
    nas->has_ip4 = true;
    nas->ip4[0] = 127;
    nas->ip4[3] = 1;
}

static void add_server(struct radius_servers *s, uint16_t auth_port, uint16_t acct_port,
                       const char *secret, unsigned timeout_ms, unsigned retries, int priority)
{
    struct radius_server *srv = &s->s[s->n++];
    snprintf(srv->host, sizeof(srv->host), "127.0.0.1");
    srv->auth_port = auth_port;
    srv->acct_port = acct_port;
    snprintf(srv->secret, sizeof(srv->secret), "%s", secret);
    srv->timeout_ms = timeout_ms;
    srv->retries = retries;
    srv->priority = priority;
}

static void add_live(struct radius_servers *s, int priority)
{
    add_server(s, env_port("RADIUS_LIVE_AUTH_PORT"), env_port("RADIUS_LIVE_ACCT_PORT"),
               env("RADIUS_LIVE_SECRET"), 2000, 2, priority);
}

static struct radius_eap_req *new_req(const char *user)
{
    struct radius_eap_req *req = calloc(1, sizeof(*req));
    assert_non_null(req);
    set_nas(&req->nas);
    snprintf(req->user, sizeof(req->user), "%s", user);
    req->server_hint = -1;
    return req;
}

/* EAP-Response/Identity. */
static void eap_identity(struct radius_eap_req *req, uint8_t id, const char *user)
{
    size_t n = strlen(user);
    req->eap[0] = 2;
    req->eap[1] = id;
    req->eap[2] = (uint8_t)((5 + n) >> 8);
    req->eap[3] = (uint8_t)(5 + n);
    req->eap[4] = 1;
    memcpy(req->eap + 5, user, n);
    req->eap_len = 5 + n;
}

/* Answers an EAP-Request/MD5-Challenge (in res) with MD5(id | password |
 * challenge). */
static void eap_md5_response(struct radius_eap_req *req, const struct radius_eap_res *res,
                             const char *password)
{
    assert_true(res->eap_len >= 6);
    assert_int_equal(res->eap[0], 1); /* Request */
    assert_int_equal(res->eap[4], 4); /* MD5-Challenge */
    uint8_t id = res->eap[1];
    size_t vlen = res->eap[5];
    assert_true(6 + vlen <= res->eap_len);
    uint8_t buf[512], digest[16];
    unsigned int dl = 16;
    size_t pl = strlen(password);
    buf[0] = id;
    memcpy(buf + 1, password, pl);
    memcpy(buf + 1 + pl, res->eap + 6, vlen);
    EVP_Digest(buf, 1 + pl + vlen, digest, &dl, EVP_md5(), NULL);
    req->eap[0] = 2;
    req->eap[1] = id;
    req->eap[2] = 0;
    req->eap[3] = 22;
    req->eap[4] = 4;
    req->eap[5] = 16;
    memcpy(req->eap + 6, digest, 16);
    req->eap_len = 22;
    memcpy(req->state, res->state, res->state_len);
    req->state_len = res->state_len;
    req->server_hint = res->server;
}

static void test_eap_md5_accept(void **state)
{
    (void)state;
    NEED("RADIUS_LIVE_AUTH_PORT");
    const char *user = env("RADIUS_LIVE_USER");
    struct radius_eap_req *req = new_req(user);
    struct radius_eap_res *res = calloc(1, sizeof(*res));
    add_live(&req->servers, 1);

    eap_identity(req, 1, user);
    assert_int_equal(radius_eap_relay(req, res), 0);
    assert_int_equal(res->outcome, RADIUS_EAP_CHALLENGE);
    assert_true(res->state_len > 0); /* FreeRADIUS needs it back */
    assert_int_equal(res->nstats, 1);
    assert_int_equal(res->stats[0].outcome, RADIUS_O_ANSWERED);

    eap_md5_response(req, res, env("RADIUS_LIVE_PASSWORD"));
    assert_int_equal(radius_eap_relay(req, res), 0);
    assert_int_equal(res->outcome, RADIUS_EAP_ACCEPT);
    assert_int_equal(res->eap_len, 4);
    assert_int_equal(res->eap[0], 3); /* EAP-Success */
    assert_true(res->has_framed_ip);
    assert_int_equal(res->framed_ip[0], 10);
    assert_int_equal(res->framed_ip[1], 1);
    assert_int_equal(res->framed_ip[2], 0);
    assert_int_equal(res->framed_ip[3], 2);
    assert_int_equal(res->class_len, strlen("acme-class"));
    assert_memory_equal(res->class_, "acme-class", res->class_len);
    assert_int_equal(res->session_timeout, 3600);
    assert_int_equal(res->interim_interval, 30);
    assert_int_equal(res->msk_len, 0); /* EAP-MD5 has no MSK */
    printf("accept: %s, %u ms\n", res->why, res->stats[0].latency_ms);
    radius_eap_res_wipe(res);
    free(res);
    free(req);
}

static void test_eap_md5_wrong_password_rejected(void **state)
{
    (void)state;
    NEED("RADIUS_LIVE_AUTH_PORT");
    const char *user = env("RADIUS_LIVE_USER");
    struct radius_eap_req *req = new_req(user);
    struct radius_eap_res *res = calloc(1, sizeof(*res));
    add_live(&req->servers, 1);
    eap_identity(req, 7, user);
    assert_int_equal(radius_eap_relay(req, res), 0);
    assert_int_equal(res->outcome, RADIUS_EAP_CHALLENGE);
    eap_md5_response(req, res, "not-the-password");
    assert_int_equal(radius_eap_relay(req, res), 0);
    assert_int_equal(res->outcome, RADIUS_EAP_REJECT);
    assert_true(res->eap_len >= 4);
    assert_int_equal(res->eap[0], 4); /* EAP-Failure */
    assert_non_null(strstr(res->why, "Access-Reject from 127.0.0.1:"));
    assert_int_equal(res->msk_len, 0);
    printf("reject: %s\n", res->why);
    free(res);
    free(req);
}

/* Without the State of round 1, FreeRADIUS cannot match round 2. */
static void test_state_is_needed(void **state)
{
    (void)state;
    NEED("RADIUS_LIVE_AUTH_PORT");
    const char *user = env("RADIUS_LIVE_USER");
    struct radius_eap_req *req = new_req(user);
    struct radius_eap_res *res = calloc(1, sizeof(*res));
    add_live(&req->servers, 1);
    eap_identity(req, 3, user);
    assert_int_equal(radius_eap_relay(req, res), 0);
    assert_int_equal(res->outcome, RADIUS_EAP_CHALLENGE);
    eap_md5_response(req, res, env("RADIUS_LIVE_PASSWORD"));
    req->state_len = 0;
    radius_eap_relay(req, res);
    assert_int_not_equal(res->outcome, RADIUS_EAP_ACCEPT);
    free(res);
    free(req);
}

static void test_failover_by_priority(void **state)
{
    (void)state;
    NEED("RADIUS_LIVE_AUTH_PORT");
    NEED("RADIUS_FAKE_SILENT_PORT");
    const char *user = env("RADIUS_LIVE_USER");
    struct radius_eap_req *req = new_req(user);
    struct radius_eap_res *res = calloc(1, sizeof(*res));
    add_live(&req->servers, 5);
    /* Listed second but tried first: priority 1. Silent: 2 tries x 300 ms. */
    add_server(&req->servers, env_port("RADIUS_FAKE_SILENT_PORT"), 0, "whatever", 300, 2, 1);
    eap_identity(req, 1, user);
    double t0 = tu_now();
    assert_int_equal(radius_eap_relay(req, res), 0);
    double took = tu_now() - t0;
    assert_int_equal(res->outcome, RADIUS_EAP_CHALLENGE);
    assert_int_equal(res->server, 0);
    assert_int_equal(res->nstats, 2);
    assert_int_equal(res->stats[0].outcome, RADIUS_O_TIMEOUT);
    assert_int_equal(res->stats[0].tries, 2);
    assert_true(res->stats[0].latency_ms >= 590 && res->stats[0].latency_ms < 900);
    assert_int_equal(res->stats[1].outcome, RADIUS_O_ANSWERED);
    assert_true(took < 1.5);
    printf("failover: dead %u ms, live %u ms\n", res->stats[0].latency_ms,
           res->stats[1].latency_ms);

    /* The next round goes to the server that holds the State first. */
    eap_md5_response(req, res, env("RADIUS_LIVE_PASSWORD"));
    t0 = tu_now();
    assert_int_equal(radius_eap_relay(req, res), 0);
    assert_int_equal(res->outcome, RADIUS_EAP_ACCEPT);
    assert_int_equal(res->nstats, 1);
    assert_true(tu_now() - t0 < 0.5);
    free(res);
    free(req);
}

static void test_no_server_answers(void **state)
{
    (void)state;
    NEED("RADIUS_FAKE_SILENT_PORT");
    NEED("RADIUS_CLOSED_PORT");
    struct radius_eap_req *req = new_req("bob");
    struct radius_eap_res *res = calloc(1, sizeof(*res));
    add_server(&req->servers, env_port("RADIUS_FAKE_SILENT_PORT"), 0, "x", 300, 1, 1);
    add_server(&req->servers, env_port("RADIUS_CLOSED_PORT"), 0, "x", 300, 3, 2);
    eap_identity(req, 1, "bob");
    double t0 = tu_now();
    assert_int_equal(radius_eap_relay(req, res), -1);
    double took = tu_now() - t0;
    assert_int_equal(res->outcome, RADIUS_EAP_NO_ANSWER);
    char want[256];
    snprintf(want, sizeof(want), "RADIUS server 127.0.0.1:%u (and 127.0.0.1:%u) did not answer",
             env_port("RADIUS_FAKE_SILENT_PORT"), env_port("RADIUS_CLOSED_PORT"));
    assert_string_equal(res->why, want);
    assert_int_equal(res->stats[1].outcome, RADIUS_O_REFUSED);
    /* Within timeout x retries of the silent one; the closed one fails at once. */
    assert_true(took >= 0.29 && took < 0.6);
    printf("no answer: %s (%.0f ms)\n", res->why, took * 1000);
    free(res);
    free(req);
}

static void expect_dropped(const char *port_var, const char *what)
{
    struct radius_eap_req *req = new_req("carol");
    struct radius_eap_res *res = calloc(1, sizeof(*res));
    add_server(&req->servers, env_port(port_var), 0, env("RADIUS_FAKE_SECRET"), 300, 2, 1);
    eap_identity(req, 1, "carol");
    assert_int_equal(radius_eap_relay(req, res), -1);
    assert_int_equal(res->outcome, RADIUS_EAP_NO_ANSWER);
    assert_int_equal(res->stats[0].bad_replies, 2); /* one per try */
    assert_non_null(strstr(res->why, what));
    printf("%s: %s\n", port_var, res->why);
    free(res);
    free(req);
}

static void test_bad_message_authenticator_dropped(void **state)
{
    (void)state;
    NEED("RADIUS_FAKE_BADMA_PORT");
    expect_dropped("RADIUS_FAKE_BADMA_PORT", "dropped: bad Message-Authenticator");
}

static void test_missing_message_authenticator_dropped(void **state)
{
    (void)state;
    NEED("RADIUS_FAKE_NOMA_PORT");
    expect_dropped("RADIUS_FAKE_NOMA_PORT", "dropped: no Message-Authenticator");
}

static void test_bad_response_authenticator_dropped(void **state)
{
    (void)state;
    NEED("RADIUS_FAKE_BADAUTH_PORT");
    expect_dropped("RADIUS_FAKE_BADAUTH_PORT", "dropped: bad Response Authenticator");
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (s[0] && s[1] && n < cap) {
        out[n++] = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
        s += 2;
    }
    return n;
}

/* A long challenge split over three EAP-Message attributes, State round
 * trip, a long response split likewise, then Access-Accept with MS-MPPE
 * keys: the MSK is Recv-Key | Send-Key. */
static void test_long_eap_state_and_msk(void **state)
{
    (void)state;
    NEED("RADIUS_FAKE_MPPE_PORT");
    struct radius_eap_req *req = new_req("dave");
    struct radius_eap_res *res = calloc(1, sizeof(*res));
    add_server(&req->servers, env_port("RADIUS_FAKE_MPPE_PORT"), 0, env("RADIUS_FAKE_SECRET"), 1000,
               2, 1);
    eap_identity(req, 1, "dave");
    assert_int_equal(radius_eap_relay(req, res), 0);
    assert_int_equal(res->outcome, RADIUS_EAP_CHALLENGE);
    assert_int_equal(res->eap_len, 600);
    assert_int_equal(res->eap[2] << 8 | res->eap[3], 600);
    for (size_t i = 5; i < 600; i++)
        assert_int_equal(res->eap[i], (uint8_t)(((i - 5) * 7) & 0xFF));
    assert_int_equal(res->state_len, strlen("fake-state-0123456789"));
    assert_memory_equal(res->state, "fake-state-0123456789", res->state_len);

    /* A 600-byte response (content does not matter to the fake). */
    req->eap[0] = 2;
    req->eap[1] = res->eap[1];
    req->eap[2] = 600 >> 8;
    req->eap[3] = 600 & 0xFF;
    req->eap[4] = 4;
    memset(req->eap + 5, 0xAB, 595);
    req->eap_len = 600;
    memcpy(req->state, res->state, res->state_len);
    req->state_len = res->state_len;
    req->server_hint = res->server;
    assert_int_equal(radius_eap_relay(req, res), 0);
    assert_int_equal(res->outcome, RADIUS_EAP_ACCEPT);
    uint8_t want[128];
    size_t rl = unhex(env("RADIUS_FAKE_RECV_KEY"), want, 64);
    size_t sl = unhex(env("RADIUS_FAKE_SEND_KEY"), want + rl, 64);
    assert_int_equal(res->msk_len, rl + sl);
    assert_memory_equal(res->msk, want, rl + sl);
    assert_true(res->has_framed_ip);
    assert_int_equal(res->framed_ip[0], 10);
    assert_int_equal(res->framed_ip[1], 9);
    assert_int_equal(res->framed_ip[3], 7);
    assert_memory_equal(res->class_, "class-for-acct", 14);
    assert_int_equal(res->session_timeout, 3600);
    assert_int_equal(res->interim_interval, 60);
    radius_eap_res_wipe(res);
    free(res);
    free(req);
}

/* -- EAP-TLS: the MSK from FreeRADIUS ------------------------------------- */

/* Sends one EAP-TLS response (out may be empty: an ACK) and returns the
 * relay's answer in res. */
static void tls_round(struct radius_eap_req *req, struct radius_eap_res *res, uint8_t id,
                      const uint8_t *out, size_t out_len)
{
    size_t n = 0;
    req->eap[0] = 2;
    req->eap[1] = id;
    req->eap[4] = 13;
    if (out_len) {
        assert_true(out_len + 10 <= RADIUS_EAP_MAX);
        req->eap[5] = 0x80; /* L: the TLS length follows */
        req->eap[6] = (uint8_t)(out_len >> 24);
        req->eap[7] = (uint8_t)(out_len >> 16);
        req->eap[8] = (uint8_t)(out_len >> 8);
        req->eap[9] = (uint8_t)out_len;
        memcpy(req->eap + 10, out, out_len);
        n = 10 + out_len;
    } else {
        req->eap[5] = 0;
        n = 6;
    }
    req->eap[2] = (uint8_t)(n >> 8);
    req->eap[3] = (uint8_t)n;
    req->eap_len = n;
    memcpy(req->state, res->state, res->state_len);
    req->state_len = res->state_len;
    req->server_hint = res->server;
    assert_int_equal(radius_eap_relay(req, res), 0);
}

/* EAP-TLS (RFC 5216) played with OpenSSL over memory BIOs. The MSK the relay
 * decrypts from MS-MPPE-Recv-Key | MS-MPPE-Send-Key must equal the client's
 * own: the TLS exporter with label "client EAP encryption", 64 bytes. */
static void test_eap_tls_msk(void **state)
{
    (void)state;
    NEED("RADIUS_LIVE_AUTH_PORT");
    NEED("RADIUS_LIVE_TLS_CA");
    const char *user = env("RADIUS_LIVE_USER");
    struct radius_eap_req *req = new_req(user);
    struct radius_eap_res *res = calloc(1, sizeof(*res));
    static uint8_t in[65536], out[RADIUS_EAP_MAX];
    size_t in_len = 0, out_len = 0;
    add_live(&req->servers, 1);

    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    assert_int_equal(
        SSL_CTX_use_certificate_file(ctx, env("RADIUS_LIVE_TLS_CERT"), SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, env("RADIUS_LIVE_TLS_KEY"), SSL_FILETYPE_PEM),
                     1);
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, env("RADIUS_LIVE_TLS_CA"), NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL *ssl = SSL_new(ctx);
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_connect_state(ssl);

    /* Identity, then NAK the MD5 challenge asking for EAP-TLS (13). */
    eap_identity(req, 1, user);
    assert_int_equal(radius_eap_relay(req, res), 0);
    assert_int_equal(res->outcome, RADIUS_EAP_CHALLENGE);
    uint8_t nak[6] = {2, res->eap[1], 0, 6, 3, 13};
    memcpy(req->eap, nak, sizeof(nak));
    req->eap_len = sizeof(nak);
    memcpy(req->state, res->state, res->state_len);
    req->state_len = res->state_len;
    assert_int_equal(radius_eap_relay(req, res), 0);
    assert_int_equal(res->outcome, RADIUS_EAP_CHALLENGE);
    assert_int_equal(res->eap[4], 13);
    assert_true(res->eap[5] & 0x20); /* Start */

    /* ClientHello, then one round per server flight or fragment. */
    uint8_t id = res->eap[1];
    assert_int_equal(SSL_do_handshake(ssl), -1);
    int pend = BIO_pending(wbio);
    assert_true(pend > 0 && (size_t)pend <= sizeof(out));
    out_len = (size_t)BIO_read(wbio, out, pend);
    for (int round = 0;; round++) {
        assert_true(round < 30);
        tls_round(req, res, id, out, out_len);
        out_len = 0;
        if (res->outcome == RADIUS_EAP_ACCEPT)
            break;
        assert_int_equal(res->outcome, RADIUS_EAP_CHALLENGE);
        assert_true(res->eap_len >= 6);
        assert_int_equal(res->eap[4], 13);
        id = res->eap[1];
        uint8_t flags = res->eap[5];
        size_t off = 6 + ((flags & 0x80) ? 4 : 0);
        assert_true(off <= res->eap_len && in_len + (res->eap_len - off) <= sizeof(in));
        memcpy(in + in_len, res->eap + off, res->eap_len - off);
        in_len += res->eap_len - off;
        if (flags & 0x40)
            continue; /* more fragments: ACK */
        assert_int_equal(BIO_write(rbio, in, (int)in_len), (int)in_len);
        in_len = 0;
        SSL_do_handshake(ssl);
        pend = BIO_pending(wbio);
        assert_true(pend >= 0 && (size_t)pend <= sizeof(out));
        if (pend > 0)
            out_len = (size_t)BIO_read(wbio, out, pend);
    }
    assert_true(SSL_is_init_finished(ssl));
    assert_int_equal(res->eap[0], 3); /* EAP-Success */
    uint8_t msk[64];
    assert_int_equal(SSL_export_keying_material(ssl, msk, sizeof(msk), "client EAP encryption",
                                                strlen("client EAP encryption"), NULL, 0, 0),
                     1);
    assert_int_equal(res->msk_len, 64);
    assert_memory_equal(res->msk, msk, 64);
    printf("EAP-TLS: MSK of %zu bytes matches the client's\n", res->msk_len);
    OPENSSL_cleanse(msk, sizeof(msk));
    radius_eap_res_wipe(res);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    free(res);
    free(req);
}

/* -- through the auth threads ------------------------------------------- */

struct waiter {
    struct auth_pool *pool;
    struct auth_job *jobs[8];
    size_t n;
    struct evl *loop;
};

static void on_done(struct auth_job *job, void *arg)
{
    struct waiter *w = arg;
    if (w->n < 8)
        w->jobs[w->n++] = job;
    else
        auth_job_free(job);
}

static void on_wake(struct evl_async *a, void *arg)
{
    (void)a;
    struct waiter *w = arg;
    auth_pool_drain(w->pool, on_done, w);
}

static void on_deadline(struct evl_timer *t, void *arg)
{
    (void)t;
    (void)arg;
}

/* Runs the loop until want jobs came back or seconds passed. */
static void wait_jobs(struct waiter *w, size_t want, double seconds)
{
    struct evl_timer *t = evl_timer_new(w->loop, on_deadline, NULL);
    double end = tu_now() + seconds;
    while (w->n < want && tu_now() < end) {
        evl_timer_start(t, 0.1, 0);
        evl_run_once(w->loop, true);
    }
    evl_timer_free(t);
}

static struct auth_job *eap_job(const char *tenant, uint64_t cookie, const char *user)
{
    struct auth_job *job = auth_job_new(AUTH_JOB_EAP, tenant, cookie);
    assert_non_null(job);
    set_nas(&job->u.eap.req.nas);
    snprintf(job->u.eap.req.user, sizeof(job->u.eap.req.user), "%s", user);
    eap_identity(&job->u.eap.req, 1, user);
    return job;
}

/* A tenant whose server is dead does not hold up another tenant's login. */
static void test_slow_server_does_not_block_others(void **state)
{
    (void)state;
    NEED("RADIUS_LIVE_AUTH_PORT");
    NEED("RADIUS_FAKE_SILENT_PORT");
    struct waiter w = {.loop = evl_new()};
    struct evl_async *wake = evl_async_new(w.loop, on_wake, &w);
    struct auth_pool_cfg cfg = {.threads = 4};
    w.pool = auth_pool_new(&cfg, wake);
    assert_non_null(w.pool);
    char why[128];

    /* Three requests of tenant "dead" (1 s x 2 each), then one of "live". */
    for (int i = 0; i < 3; i++) {
        struct auth_job *dead = eap_job("dead", 100 + (uint64_t)i, "bob");
        add_server(&dead->u.eap.req.servers, env_port("RADIUS_FAKE_SILENT_PORT"), 0, "x", 1000, 2,
                   1);
        assert_int_equal(auth_pool_submit(w.pool, dead, why, sizeof(why)), 0);
    }
    const char *user = env("RADIUS_LIVE_USER");
    struct auth_job *live = eap_job("live", 200, user);
    add_live(&live->u.eap.req.servers, 1);
    assert_int_equal(auth_pool_submit(w.pool, live, why, sizeof(why)), 0);

    wait_jobs(&w, 1, 5);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.jobs[0]->cookie, 200);
    assert_int_equal(w.jobs[0]->u.eap.res.outcome, RADIUS_EAP_CHALLENGE);
    int64_t live_ms = w.jobs[0]->done_ms - w.jobs[0]->queued_ms;
    assert_true(live_ms < 500);

    wait_jobs(&w, 4, 8);
    assert_int_equal(w.n, 4);
    for (size_t i = 1; i < 4; i++) {
        assert_int_equal(w.jobs[i]->u.eap.res.outcome, RADIUS_EAP_NO_ANSWER);
        int64_t ms = w.jobs[i]->done_ms - w.jobs[i]->queued_ms;
        assert_true(ms >= 1990);
    }
    printf("live answered in %lld ms while tenant 'dead' waited 2 s per request\n",
           (long long)live_ms);
    for (size_t i = 0; i < w.n; i++)
        auth_job_free(w.jobs[i]);
    auth_pool_free(w.pool);
    evl_async_free(wake);
    evl_free(w.loop);
}

/* -- accounting ----------------------------------------------------------- */

static void fill_acct(struct radius_acct_req *a, enum radius_acct_status st, const char *sid)
{
    set_nas(&a->nas);
    a->status = st;
    snprintf(a->session_id, sizeof(a->session_id), "%s", sid);
    snprintf(a->user, sizeof(a->user), "%s", env("RADIUS_LIVE_USER"));
    memcpy(a->class_, "acme-class", 10);
    a->class_len = 10;
    a->has_framed_ip = true;
    a->framed_ip[0] = 10;
    a->framed_ip[1] = 1;
    a->framed_ip[3] = 2;
    a->queued_ms = radius_now_ms();
}

static void test_accounting_start_interim_stop(void **state)
{
    (void)state;
    NEED("RADIUS_LIVE_ACCT_PORT");
    NEED("RADIUS_ACCT_SESSION");
    NEED("RADIUS_FAKE_SILENT_PORT");
    struct waiter w = {.loop = evl_new()};
    struct evl_async *wake = evl_async_new(w.loop, on_wake, &w);
    w.pool = auth_pool_new(NULL, wake);
    assert_non_null(w.pool);
    const char *sid = env("RADIUS_ACCT_SESSION");
    const enum radius_acct_status sts[3] = {RADIUS_ACCT_START, RADIUS_ACCT_INTERIM,
                                            RADIUS_ACCT_STOP};
    char why[128];
    for (int i = 0; i < 3; i++) {
        struct auth_job *job = auth_job_new(AUTH_JOB_ACCT, "acme", (uint64_t)i);
        struct radius_acct_req *a = &job->u.acct.req;
        /* A dead accounting server first: failover to FreeRADIUS. */
        add_server(&a->servers, 0, env_port("RADIUS_FAKE_SILENT_PORT"), "x", 200, 1, 1);
        add_live(&a->servers, 2);
        fill_acct(a, sts[i], sid);
        if (i >= 1) {
            a->session_time = 60u * (unsigned)i;
            a->in_octets = ((uint64_t)(i + 4) << 32) + 1000; /* 5 or 6 Gigawords */
            a->out_octets = ((uint64_t)i << 32) + 7;
            a->in_packets = 12345;
            a->out_packets = 678;
        }
        if (i == 2)
            a->terminate_cause = RADIUS_TERM_USER_REQUEST;
        double t0 = tu_now();
        assert_int_equal(auth_pool_submit(w.pool, job, why, sizeof(why)), 0);
        assert_true(tu_now() - t0 < 0.05); /* never blocks the caller */
        wait_jobs(&w, (size_t)i + 1, 5);
        assert_int_equal(w.n, (size_t)i + 1);
        struct radius_acct_res *r = &w.jobs[i]->u.acct.res;
        assert_true(r->ok);
        assert_int_equal(r->server, 1);
        assert_int_equal(r->stats[0].outcome, RADIUS_O_TIMEOUT);
        printf("accounting %s: %s\n", radius_acct_status_name(sts[i]), r->why);
    }
    for (size_t i = 0; i < w.n; i++)
        auth_job_free(w.jobs[i]);
    auth_pool_free(w.pool);
    evl_async_free(wake);
    evl_free(w.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eap_md5_accept),
        cmocka_unit_test(test_eap_md5_wrong_password_rejected),
        cmocka_unit_test(test_state_is_needed),
        cmocka_unit_test(test_failover_by_priority),
        cmocka_unit_test(test_no_server_answers),
        cmocka_unit_test(test_bad_message_authenticator_dropped),
        cmocka_unit_test(test_missing_message_authenticator_dropped),
        cmocka_unit_test(test_bad_response_authenticator_dropped),
        cmocka_unit_test(test_long_eap_state_and_msk),
        cmocka_unit_test(test_eap_tls_msk),
        cmocka_unit_test(test_slow_server_does_not_block_others),
        cmocka_unit_test(test_accounting_start_interim_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
