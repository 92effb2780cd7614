/* RADIUS exchange with retries and failover: see radius_client.h. */
#include "auth/radius_client.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "concentrator/log.h"

void radius_servers_wipe(struct radius_servers *s)
{
    if (s)
        OPENSSL_cleanse(s, sizeof(*s));
}

const char *radius_outcome_name(enum radius_outcome o)
{
    switch (o) {
    case RADIUS_O_NOT_TRIED:
        return "not tried";
    case RADIUS_O_ANSWERED:
        return "answered";
    case RADIUS_O_TIMEOUT:
        return "timeout";
    case RADIUS_O_REFUSED:
        return "port unreachable";
    case RADIUS_O_ERROR:
        return "error";
    }
    return "?";
}

int64_t radius_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned clamp(unsigned v, unsigned dflt, unsigned max)
{
    if (v == 0)
        return dflt;
    return v > max ? max : v;
}

static int open_socket(const char *host, uint16_t port)
{
    char portstr[8];
    struct addrinfo hints = {0}, *ai = NULL;
    int fd = -1;
    snprintf(portstr, sizeof(portstr), "%u", port);
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai)
        goto done;
    fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto done;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
done:
    if (ai)
        freeaddrinfo(ai);
    return fd;
}

/* Waits up to until (monotonic ms) for a verified reply. Returns 1 when one
 * came, 0 on timeout, -1 when the port is unreachable. */
static int wait_reply(int fd, int64_t until, uint8_t id, const char *secret, struct radius_xchg *x,
                      struct radius_server_stat *st)
{
    uint8_t buf[RADIUS_PKT_MAX];
    for (int guard = 0; guard < 1000; guard++) {
        int64_t left = until - radius_now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        ssize_t len = recv(fd, buf, sizeof(buf), 0);
        if (len < 0) {
            if (errno == ECONNREFUSED)
                return -1;
            continue;
        }
        size_t plen = 0;
        enum radius_verify v =
            radius_reply_verify(buf, (size_t)len, &plen, id, x->req_auth, secret, x->require_ma);
        if (v != RADIUS_V_OK) {
            st->bad_replies++;
            st->last_bad = v;
            log_warn("radius", "dropped a reply from %s: %s", st->addr, radius_verify_name(v));
            continue;
        }
        memcpy(x->reply, buf, plen);
        x->reply_len = plen;
        return 1;
    }
    return 0;
}

static int try_server(const struct radius_server *srv, struct radius_xchg *x,
                      struct radius_server_stat *st)
{
    uint8_t pkt[RADIUS_PKT_MAX];
    uint8_t id, auth[RADIUS_AUTH_LEN];
    int fd = -1, got = 0;
    uint16_t port = x->port == RADIUS_PORT_AUTH ? (srv->auth_port ? srv->auth_port : 1812)
                                                : (srv->acct_port ? srv->acct_port : 1813);
    unsigned timeout = clamp(srv->timeout_ms, RADIUS_DEFAULT_TIMEOUT_MS, RADIUS_TIMEOUT_MS_MAX);
    unsigned tries = clamp(srv->retries, RADIUS_DEFAULT_RETRIES, RADIUS_RETRIES_MAX);
    int64_t start = radius_now_ms();

    snprintf(st->addr, sizeof(st->addr), "%s:%u", srv->host, port);
    st->outcome = RADIUS_O_ERROR;
    if (RAND_bytes(&id, 1) != 1 || RAND_bytes(auth, sizeof(auth)) != 1)
        goto done;
    size_t len = x->build(x->arg, srv, id, auth, pkt, sizeof(pkt));
    if (len < RADIUS_HDR_LEN)
        goto done;
    memcpy(x->req_auth, pkt + 4, RADIUS_AUTH_LEN);
    fd = open_socket(srv->host, port);
    if (fd < 0)
        goto done;
    st->outcome = RADIUS_O_TIMEOUT;
    for (unsigned t = 0; t < tries && got == 0; t++) {
        int64_t until = radius_now_ms() + timeout;
        st->tries++;
        if (send(fd, pkt, len, 0) < 0 && errno != ECONNREFUSED) {
            st->outcome = RADIUS_O_ERROR;
            goto done;
        }
        got = wait_reply(fd, until, id, srv->secret, x, st);
        if (got < 0) {
            /* Nothing listens there: fail over at once. */
            st->outcome = RADIUS_O_REFUSED;
            got = 0;
            break;
        }
    }
    if (got > 0)
        st->outcome = RADIUS_O_ANSWERED;
done:
    OPENSSL_cleanse(pkt, sizeof(pkt));
    if (fd >= 0)
        close(fd);
    st->latency_ms = (uint32_t)(radius_now_ms() - start);
    return got > 0 ? 0 : -1;
}

int radius_exchange(const struct radius_servers *servers, struct radius_xchg *x)
{
    size_t order[RADIUS_SERVERS_MAX], n = 0;
    size_t count = servers->n > RADIUS_SERVERS_MAX ? RADIUS_SERVERS_MAX : servers->n;

    x->server = -1;
    x->reply_len = 0;
    x->nstats = 0;
    memset(x->stats, 0, sizeof(x->stats));
    /* Stable selection by priority: few servers, so a simple scan. */
    bool used[RADIUS_SERVERS_MAX] = {false};
    if (x->first >= 0 && (size_t)x->first < count) {
        order[n++] = (size_t)x->first;
        used[x->first] = true;
    }
    while (n < count) {
        size_t best = count;
        for (size_t i = 0; i < count; i++)
            if (!used[i] && (best == count || servers->s[i].priority < servers->s[best].priority))
                best = i;
        used[best] = true;
        order[n++] = best;
    }
    for (size_t k = 0; k < n; k++) {
        struct radius_server_stat *st = &x->stats[x->nstats++];
        if (try_server(&servers->s[order[k]], x, st) == 0) {
            x->server = (int)order[k];
            return 0;
        }
        log_notice("radius", "RADIUS server %s: %s after %u tries, %u ms", st->addr,
                   radius_outcome_name(st->outcome), st->tries, st->latency_ms);
    }
    return -1;
}

void radius_xchg_why(const struct radius_xchg *x, char *buf, size_t len)
{
    size_t off = 0;
    unsigned silent = 0, bad = 0;
    enum radius_verify last_bad = RADIUS_V_OK;

    if (len == 0)
        return;
    buf[0] = '\0';
    if (x->nstats == 0) {
        snprintf(buf, len, "no RADIUS server configured");
        return;
    }
    for (size_t i = 0; i < x->nstats; i++) {
        const struct radius_server_stat *st = &x->stats[i];
        if (st->outcome == RADIUS_O_ANSWERED)
            continue;
        if (st->bad_replies) {
            bad += st->bad_replies;
            last_bad = st->last_bad;
        }
        int w;
        if (silent == 0)
            w = snprintf(buf + off, len - off, "RADIUS server %s", st->addr);
        else
            w = snprintf(buf + off, len - off, " (and %s)", st->addr);
        if (w < 0 || (size_t)w >= len - off)
            return;
        off += (size_t)w;
        silent++;
    }
    if (silent == 0)
        return;
    int w = snprintf(buf + off, len - off, " did not answer");
    if (w < 0 || (size_t)w >= len - off)
        return;
    off += (size_t)w;
    if (bad)
        snprintf(buf + off, len - off, " (%u replies dropped: %s)", bad,
                 radius_verify_name(last_bad));
}
