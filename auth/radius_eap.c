/* EAP relay over RADIUS: see radius_eap.h. */
#include "auth/radius_eap.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *radius_eap_outcome_name(enum radius_eap_outcome o)
{
    switch (o) {
    case RADIUS_EAP_CHALLENGE:
        return "challenge";
    case RADIUS_EAP_ACCEPT:
        return "accept";
    case RADIUS_EAP_REJECT:
        return "reject";
    case RADIUS_EAP_NO_ANSWER:
        return "no answer";
    case RADIUS_EAP_ERROR:
        return "error";
    }
    return "?";
}

void radius_eap_res_wipe(struct radius_eap_res *res)
{
    if (res)
        OPENSSL_cleanse(res, sizeof(*res));
}

static size_t build_access_request(void *arg, const struct radius_server *srv, uint8_t id,
                                   const uint8_t auth[RADIUS_AUTH_LEN], uint8_t *buf, size_t cap)
{
    const struct radius_eap_req *req = arg;
    struct wr w = wr_init(buf, cap);
    radius_req_begin(&w, RADIUS_ACCESS_REQUEST, id, auth);
    radius_put_str(&w, RADIUS_A_USER_NAME, req->user);
    radius_put_nas(&w, &req->nas);
    if (req->state_len)
        radius_put(&w, RADIUS_A_STATE, req->state, req->state_len);
    radius_put_split(&w, RADIUS_A_EAP_MESSAGE, req->eap, req->eap_len);
    size_t ma = radius_put_ma(&w);
    return radius_req_finish(&w, ma, srv->secret);
}

/* Microsoft VSAs: the MS-MPPE keys. Returns -1 on a malformed key. */
static int take_vsa(const uint8_t *val, size_t len, const char *secret,
                    const uint8_t req_auth[RADIUS_AUTH_LEN], uint8_t recv_key[64], int *recv_len,
                    uint8_t send_key[64], int *send_len)
{
    struct rd r = rd_init(val, len);
    uint32_t vendor = rd_u32(&r);
    if (!rd_ok(&r) || vendor != RADIUS_VENDOR_MICROSOFT)
        return 0;
    while (rd_left(&r) > 0) {
        uint8_t type = rd_u8(&r);
        uint8_t vlen = rd_u8(&r);
        if (!rd_ok(&r) || vlen < 2)
            return -1;
        const uint8_t *v = rd_bytes(&r, (size_t)vlen - 2);
        if (!v)
            return -1;
        if (type == RADIUS_MS_MPPE_RECV_KEY) {
            *recv_len = radius_mppe_decrypt(v, (size_t)vlen - 2, secret, req_auth, recv_key, 64);
            if (*recv_len < 0)
                return -1;
        } else if (type == RADIUS_MS_MPPE_SEND_KEY) {
            *send_len = radius_mppe_decrypt(v, (size_t)vlen - 2, secret, req_auth, send_key, 64);
            if (*send_len < 0)
                return -1;
        }
    }
    return 0;
}

static uint32_t be32(const uint8_t *v)
{
    return (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
}

/* Reads the verified reply into res. Returns 0, or -1 with res->why set. */
static int take_reply(const struct radius_xchg *x, const struct radius_server *srv,
                      struct radius_eap_res *res)
{
    uint8_t recv_key[64], send_key[64];
    int recv_len = -1, send_len = -1, ret = -1;
    bool eap_too_long = false;
    struct radius_iter it;
    uint8_t type;
    const uint8_t *val;
    size_t len;

    radius_iter_init(&it, x->reply, x->reply_len);
    while (radius_iter_next(&it, &type, &val, &len)) {
        switch (type) {
        case RADIUS_A_EAP_MESSAGE:
            if (res->eap_len + len > sizeof(res->eap)) {
                eap_too_long = true;
                break;
            }
            if (len)
                memcpy(res->eap + res->eap_len, val, len);
            res->eap_len += len;
            break;
        case RADIUS_A_STATE:
            memcpy(res->state, val, len);
            res->state_len = len;
            break;
        case RADIUS_A_CLASS:
            if (res->class_len == 0) {
                memcpy(res->class_, val, len);
                res->class_len = len;
            }
            break;
        case RADIUS_A_FRAMED_IP_ADDRESS:
            if (len == 4) {
                memcpy(res->framed_ip, val, 4);
                res->has_framed_ip = true;
            }
            break;
        case RADIUS_A_SESSION_TIMEOUT:
            if (len == 4)
                res->session_timeout = be32(val);
            break;
        case RADIUS_A_ACCT_INTERIM_INTERVAL:
            if (len == 4)
                res->interim_interval = be32(val);
            break;
        case RADIUS_A_REPLY_MESSAGE: {
            size_t have = strlen(res->reply_message);
            size_t room = sizeof(res->reply_message) - 1 - have;
            size_t n = len < room ? len : room;
            memcpy(res->reply_message + have, val, n);
            res->reply_message[have + n] = '\0';
            break;
        }
        case RADIUS_A_VENDOR_SPECIFIC:
            if (take_vsa(val, len, srv->secret, x->req_auth, recv_key, &recv_len, send_key,
                         &send_len) < 0) {
                snprintf(res->why, sizeof(res->why), "malformed MS-MPPE key from %s",
                         x->stats[x->nstats - 1].addr);
                goto done;
            }
            break;
        default:
            break;
        }
    }
    if (eap_too_long) {
        snprintf(res->why, sizeof(res->why), "EAP message from %s longer than %d bytes",
                 x->stats[x->nstats - 1].addr, RADIUS_EAP_MAX);
        goto done;
    }
    if (recv_len >= 0 && send_len >= 0) {
        memcpy(res->msk, recv_key, (size_t)recv_len);
        memcpy(res->msk + recv_len, send_key, (size_t)send_len);
        res->msk_len = (size_t)recv_len + (size_t)send_len;
    }
    ret = 0;
done:
    OPENSSL_cleanse(recv_key, sizeof(recv_key));
    OPENSSL_cleanse(send_key, sizeof(send_key));
    return ret;
}

int radius_eap_relay(const struct radius_eap_req *req, struct radius_eap_res *res)
{
    struct radius_xchg *x = NULL;
    int ret = -1;

    memset(res, 0, sizeof(*res));
    res->server = -1;
    res->outcome = RADIUS_EAP_ERROR;
    if (req->eap_len == 0 || req->eap_len > RADIUS_EAP_MAX || req->state_len > RADIUS_STATE_MAX) {
        snprintf(res->why, sizeof(res->why), "EAP message of %zu bytes cannot be relayed",
                 req->eap_len);
        goto done;
    }
    x = calloc(1, sizeof(*x));
    if (!x) {
        snprintf(res->why, sizeof(res->why), "out of memory");
        goto done;
    }
    x->port = RADIUS_PORT_AUTH;
    x->first = req->server_hint;
    x->require_ma = true;
    x->build = build_access_request;
    x->arg = (void *)(uintptr_t)req;

    int rc = radius_exchange(&req->servers, x);
    memcpy(res->stats, x->stats, sizeof(res->stats));
    res->nstats = x->nstats;
    if (rc != 0) {
        res->outcome = RADIUS_EAP_NO_ANSWER;
        radius_xchg_why(x, res->why, sizeof(res->why));
        goto done;
    }
    res->server = x->server;
    const char *addr = x->stats[x->nstats - 1].addr;
    if (take_reply(x, &req->servers.s[x->server], res) != 0)
        goto done;
    switch (x->reply[0]) {
    case RADIUS_ACCESS_CHALLENGE:
        if (res->eap_len == 0) {
            snprintf(res->why, sizeof(res->why), "Access-Challenge without EAP-Message from %s",
                     addr);
            goto done;
        }
        res->outcome = RADIUS_EAP_CHALLENGE;
        snprintf(res->why, sizeof(res->why), "Access-Challenge from %s", addr);
        break;
    case RADIUS_ACCESS_ACCEPT:
        res->outcome = RADIUS_EAP_ACCEPT;
        snprintf(res->why, sizeof(res->why), "Access-Accept from %s", addr);
        break;
    case RADIUS_ACCESS_REJECT:
        res->outcome = RADIUS_EAP_REJECT;
        if (res->reply_message[0])
            snprintf(res->why, sizeof(res->why), "Access-Reject from %s: %s", addr,
                     res->reply_message);
        else
            snprintf(res->why, sizeof(res->why), "Access-Reject from %s", addr);
        break;
    default:
        snprintf(res->why, sizeof(res->why), "unexpected RADIUS code %u from %s", x->reply[0],
                 addr);
        goto done;
    }
    ret = 0;
done:
    if (ret != 0) {
        /* Nothing of a failed answer is used; keep outcome, why and stats. */
        OPENSSL_cleanse(res->msk, sizeof(res->msk));
        res->msk_len = 0;
    }
    if (x)
        OPENSSL_cleanse(x, sizeof(*x));
    free(x);
    return ret;
}
