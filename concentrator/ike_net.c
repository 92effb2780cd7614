/* IKE's sockets: see ike_net.h. */
#define _GNU_SOURCE
#include "concentrator/ike_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "concentrator/config.h"
#include "concentrator/event.h"
#include "concentrator/log.h"

#define MAX_SOCKS          (CONFIG_MAX_LISTEN * 2)
#define NON_ESP_MARKER_LEN 4

struct sock {
    struct ike_net *net;
    int fd;
    int family;
    bool natt;
    uint16_t port;
    struct evl_io *io;
};

struct ike_net {
    struct sock socks[MAX_SOCKS];
    size_t n_socks;
    ike_net_rx_fn on_ike;
    ike_net_esp_fn on_esp;
    void *arg;
    ike_net_natt_send_fn natt_send;
    void *natt_arg;
    uint8_t buf[IKE_MAX_DATAGRAM + 1];
    time_t last_send_error_log;
};

const char *ike_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
    }
    snprintf(buf, len, "%s[%u]", a, ike_addr_port(ss));
    return buf;
}

uint16_t ike_addr_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return 0;
}

bool ike_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b,
                    bool with_port)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr &&
               (!with_port || x->sin_port == y->sin_port);
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 &&
               (!with_port || x->sin6_port == y->sin6_port);
    }
    return false;
}

static void dispatch(struct ike_net *n, const uint8_t *buf, size_t len, const struct ike_path *p)
{
    if (!p->natt) {
        n->on_ike(n->arg, buf, len, p);
        return;
    }
    if (len == 1 && buf[0] == 0xff)
        return; /* NAT keepalive */
    if (len >= NON_ESP_MARKER_LEN && !buf[0] && !buf[1] && !buf[2] && !buf[3]) {
        n->on_ike(n->arg, buf + NON_ESP_MARKER_LEN, len - NON_ESP_MARKER_LEN, p);
        return;
    }
    if (n->on_esp && len >= 8)
        n->on_esp(n->arg, buf, len, p);
}

void ike_net_input(struct ike_net *n, const uint8_t *buf, size_t len, const struct ike_path *path)
{
    dispatch(n, buf, len, path);
}

static void on_readable(struct evl_io *io, int fd, int events, void *arg)
{
    (void)io;
    (void)events;
    struct sock *s = arg;
    struct ike_net *n = s->net;
    /* Read a bounded batch per wake-up so one busy socket cannot starve the
     * loop's timers. */
    for (int i = 0; i < 64; i++) {
        struct ike_path path;
        memset(&path, 0, sizeof(path));
        path.natt = s->natt;
        struct iovec iov = {n->buf, sizeof(n->buf)};
        union {
            char c[CMSG_SPACE(sizeof(struct in6_pktinfo))];
            struct cmsghdr align;
        } ctl;
        struct msghdr mh = {
            .msg_name = &path.peer,
            .msg_namelen = sizeof(path.peer),
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = ctl.c,
            .msg_controllen = sizeof(ctl.c),
        };
        ssize_t r = recvmsg(fd, &mh, MSG_DONTWAIT);
        if (r < 0)
            return;
        if (mh.msg_flags & MSG_TRUNC)
            continue; /* larger than any IKE message we accept */
        path.local.ss_family = (sa_family_t)s->family;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                struct in_pktinfo pi;
                memcpy(&pi, CMSG_DATA(c), sizeof(pi));
                struct sockaddr_in *l = (struct sockaddr_in *)&path.local;
                l->sin_addr = pi.ipi_addr;
                l->sin_port = htons(s->port);
            } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
                struct in6_pktinfo pi;
                memcpy(&pi, CMSG_DATA(c), sizeof(pi));
                struct sockaddr_in6 *l = (struct sockaddr_in6 *)&path.local;
                l->sin6_addr = pi.ipi6_addr;
                l->sin6_port = htons(s->port);
            }
        }
        dispatch(n, n->buf, (size_t)r, &path);
    }
}

static int open_sock(struct ike_net *n, const char *addr, uint16_t port, bool natt, char *err,
                     size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    int family;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        family = AF_INET;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sl = sizeof(*sin);
    } else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
        family = AF_INET6;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        sl = sizeof(*sin6);
    } else {
        snprintf(err, errlen, "[ike] listen: '%s' is not an address", addr);
        return -1;
    }
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    if (family == AF_INET) {
        setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    } else {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
    }
    if (natt) /* the ESP workers may bind the same port with SO_REUSEPORT */
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        snprintf(err, errlen, "cannot bind IKE to %s port %u: %s", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    getsockname(fd, (struct sockaddr *)&bound, &bl);
    struct sock *s = &n->socks[n->n_socks++];
    s->net = n;
    s->fd = fd;
    s->family = family;
    s->natt = natt;
    s->port = ike_addr_port(&bound);
    return 0;
}

struct ike_net *ike_net_open(const struct config *cfg, struct evl *loop, bool own_natt,
                             ike_net_rx_fn on_ike, ike_net_esp_fn on_esp, void *arg, char *err,
                             size_t errlen)
{
    struct ike_net *n = calloc(1, sizeof(*n));
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    n->on_ike = on_ike;
    n->on_esp = on_esp;
    n->arg = arg;
    for (unsigned i = 0; i < cfg->ike_listen_count; i++) {
        if (open_sock(n, cfg->ike_listen[i], cfg->ike_port, false, err, errlen) < 0)
            goto fail;
        if (own_natt && open_sock(n, cfg->ike_listen[i], cfg->natt_port, true, err, errlen) < 0)
            goto fail;
    }
    for (size_t i = 0; i < n->n_socks; i++) {
        n->socks[i].io = evl_io_new(loop, n->socks[i].fd, EVL_READ, on_readable, &n->socks[i]);
        if (!n->socks[i].io) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        evl_io_start(n->socks[i].io);
    }
    for (unsigned i = 0; i < cfg->ike_listen_count; i++)
        log_notice("ike", "listening on %s ports %u and %u", cfg->ike_listen[i],
                   ike_net_port(n, false),
                   ike_net_port(n, true) ? ike_net_port(n, true) : cfg->natt_port);
    return n;
fail:
    ike_net_close(n);
    return NULL;
}

void ike_net_close(struct ike_net *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_socks; i++) {
        evl_io_free(n->socks[i].io);
        close(n->socks[i].fd);
    }
    free(n);
}

void ike_net_set_natt_sender(struct ike_net *n, ike_net_natt_send_fn fn, void *arg)
{
    n->natt_send = fn;
    n->natt_arg = arg;
}

uint16_t ike_net_port(const struct ike_net *n, bool natt)
{
    for (size_t i = 0; i < n->n_socks; i++)
        if (n->socks[i].natt == natt)
            return n->socks[i].port;
    return 0;
}

/* The socket to send from: same family and NAT-T-ness, bound to the local
 * address if one matches, else a wildcard one. */
static struct sock *pick_sock(struct ike_net *n, const struct ike_path *p)
{
    struct sock *any = NULL;
    for (size_t i = 0; i < n->n_socks; i++) {
        struct sock *s = &n->socks[i];
        if (s->family == p->peer.ss_family && s->natt == p->natt) {
            any = s;
            break;
        }
    }
    return any;
}

int ike_net_send(struct ike_net *n, const uint8_t *msg, size_t len, const struct ike_path *path)
{
    uint8_t out[IKE_MAX_DATAGRAM];
    const uint8_t *buf = msg;
    size_t blen = len;
    if (path->natt) {
        if (len + NON_ESP_MARKER_LEN > sizeof(out))
            return -1;
        memset(out, 0, NON_ESP_MARKER_LEN);
        memcpy(out + NON_ESP_MARKER_LEN, msg, len);
        buf = out;
        blen = len + NON_ESP_MARKER_LEN;
        if (n->natt_send)
            return n->natt_send(n->natt_arg, buf, blen, path);
    }
    struct sock *s = pick_sock(n, path);
    if (!s)
        return -1;
    struct iovec iov = {(void *)(uintptr_t)buf, blen};
    union {
        char c[CMSG_SPACE(sizeof(struct in6_pktinfo))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct msghdr mh = {
        .msg_name = (void *)(uintptr_t)&path->peer,
        .msg_namelen = path->peer.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                       : sizeof(struct sockaddr_in6),
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = ctl.c,
    };
    /* Answer from the address the peer talks to. */
    struct cmsghdr *c = (struct cmsghdr *)ctl.c;
    if (path->local.ss_family == AF_INET && s->family == AF_INET) {
        struct in_pktinfo pi = {0};
        pi.ipi_spec_dst = ((const struct sockaddr_in *)&path->local)->sin_addr;
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        mh.msg_controllen = CMSG_SPACE(sizeof(pi));
    } else if (path->local.ss_family == AF_INET6 && s->family == AF_INET6) {
        struct in6_pktinfo pi = {0};
        pi.ipi6_addr = ((const struct sockaddr_in6 *)&path->local)->sin6_addr;
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        mh.msg_controllen = CMSG_SPACE(sizeof(pi));
    } else {
        mh.msg_control = NULL;
    }
    ssize_t w = sendmsg(s->fd, &mh, MSG_DONTWAIT);
    if (w < 0) {
        time_t now = time(NULL);
        if (now != n->last_send_error_log) {
            char a[80];
            n->last_send_error_log = now;
            log_warn("ike", "cannot send %zu bytes to %s: %s", blen,
                     ike_addr_str(&path->peer, a, sizeof(a)), strerror(errno));
        }
        return -1;
    }
    return 0;
}
