/* RADIUS accounting: see radius_acct.h. */
#include "auth/radius_acct.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *radius_acct_status_name(enum radius_acct_status s)
{
    switch (s) {
    case RADIUS_ACCT_START:
        return "Start";
    case RADIUS_ACCT_STOP:
        return "Stop";
    case RADIUS_ACCT_INTERIM:
        return "Interim-Update";
    }
    return "?";
}

static uint32_t cap32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static size_t build_acct_request(void *arg, const struct radius_server *srv, uint8_t id,
                                 const uint8_t auth[RADIUS_AUTH_LEN], uint8_t *buf, size_t cap)
{
    const struct radius_acct_req *req = arg;
    struct wr w = wr_init(buf, cap);
    (void)auth; /* the Request Authenticator of accounting is a digest */
    radius_req_begin(&w, RADIUS_ACCOUNTING_REQUEST, id, NULL);
    radius_put_u32(&w, RADIUS_A_ACCT_STATUS_TYPE, (uint32_t)req->status);
    radius_put_str(&w, RADIUS_A_ACCT_SESSION_ID, req->session_id);
    radius_put_str(&w, RADIUS_A_USER_NAME, req->user);
    radius_put_nas(&w, &req->nas);
    radius_put_u32(&w, RADIUS_A_ACCT_AUTHENTIC, 1); /* RADIUS */
    if (req->has_framed_ip)
        radius_put(&w, RADIUS_A_FRAMED_IP_ADDRESS, req->framed_ip, 4);
    if (req->class_len)
        radius_put(&w, RADIUS_A_CLASS, req->class_, req->class_len);
    if (req->status != RADIUS_ACCT_START) {
        radius_put_u32(&w, RADIUS_A_ACCT_SESSION_TIME, req->session_time);
        radius_put_u32(&w, RADIUS_A_ACCT_INPUT_OCTETS, (uint32_t)req->in_octets);
        radius_put_u32(&w, RADIUS_A_ACCT_OUTPUT_OCTETS, (uint32_t)req->out_octets);
        radius_put_u32(&w, RADIUS_A_ACCT_INPUT_GIGAWORDS, (uint32_t)(req->in_octets >> 32));
        radius_put_u32(&w, RADIUS_A_ACCT_OUTPUT_GIGAWORDS, (uint32_t)(req->out_octets >> 32));
        radius_put_u32(&w, RADIUS_A_ACCT_INPUT_PACKETS, cap32(req->in_packets));
        radius_put_u32(&w, RADIUS_A_ACCT_OUTPUT_PACKETS, cap32(req->out_packets));
    }
    if (req->status == RADIUS_ACCT_STOP && req->terminate_cause)
        radius_put_u32(&w, RADIUS_A_ACCT_TERMINATE_CAUSE, req->terminate_cause);
    if (req->event_time)
        radius_put_u32(&w, RADIUS_A_EVENT_TIMESTAMP, req->event_time);
    if (req->queued_ms > 0) {
        int64_t delay = (radius_now_ms() - req->queued_ms) / 1000;
        radius_put_u32(&w, RADIUS_A_ACCT_DELAY_TIME, delay > 0 ? (uint32_t)delay : 0);
    }
    return radius_req_finish(&w, 0, srv->secret);
}

int radius_acct_send(const struct radius_acct_req *req, struct radius_acct_res *res)
{
    struct radius_xchg *x = calloc(1, sizeof(*x));
    int ret = -1;

    memset(res, 0, sizeof(*res));
    res->server = -1;
    if (!x) {
        snprintf(res->why, sizeof(res->why), "out of memory");
        goto done;
    }
    x->port = RADIUS_PORT_ACCT;
    x->first = -1;
    x->require_ma = false; /* checked when present */
    x->build = build_acct_request;
    x->arg = (void *)(uintptr_t)req;
    int rc = radius_exchange(&req->servers, x);
    memcpy(res->stats, x->stats, sizeof(res->stats));
    res->nstats = x->nstats;
    if (rc != 0) {
        radius_xchg_why(x, res->why, sizeof(res->why));
        goto done;
    }
    res->server = x->server;
    if (x->reply[0] != RADIUS_ACCOUNTING_RESPONSE) {
        snprintf(res->why, sizeof(res->why), "unexpected RADIUS code %u from %s", x->reply[0],
                 x->stats[x->nstats - 1].addr);
        goto done;
    }
    snprintf(res->why, sizeof(res->why), "Accounting-Response from %s",
             x->stats[x->nstats - 1].addr);
    res->ok = true;
    ret = 0;
done:
    if (x)
        OPENSSL_cleanse(x, sizeof(*x));
    free(x);
    return ret;
}
