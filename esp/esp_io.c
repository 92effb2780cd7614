/* The ESP I/O layer: sockets, start and stop, the IKE hand-off queue,
 * counters. See esp_io.h. */
#define _GNU_SOURCE
#include "esp/esp_io_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "concentrator/log.h"
#include "esp/esp_sadb.h"
#include "esp/esp_xdp.h"
#include "esp/esp_xsk.h"

#define SOCK_BUF_BYTES (4 << 20)

static const char *const counter_names[ESP_IO_COUNTER_COUNT] = {
    [ESP_IO_RX_PACKETS] = "rx_packets",
    [ESP_IO_RX_ESP] = "rx_esp",
    [ESP_IO_TX_PACKETS] = "tx_packets",
    [ESP_IO_TUN_READ] = "tun_read",
    [ESP_IO_KEEPALIVES] = "keepalives",
    [ESP_IO_IKE_IN] = "ike_in",
    [ESP_IO_IKE_OUT] = "ike_out",
    [ESP_IO_DROP_IKE_QUEUE] = "ike_queue_full",
    [ESP_IO_DROP_TUN_WRITE] = "tun_write_refused",
    [ESP_IO_DROP_SEND] = "send_refused",
    [ESP_IO_DROP_NO_TUN] = "no_tenant_device",
    [ESP_IO_DROP_MALFORMED] = "malformed_outer",
    [ESP_IO_RX_XDP] = "rx_xdp",
};

const char *esp_io_counter_name(enum esp_io_counter c)
{
    return (unsigned)c < ESP_IO_COUNTER_COUNT ? counter_names[c] : "unknown";
}

enum esp_io_kind esp_io_classify(const uint8_t *buf, size_t len)
{
    if (len == 1 && buf[0] == 0xff)
        return ESP_IO_KIND_KEEPALIVE;
    if (len >= 4 && buf[0] == 0 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0)
        return ESP_IO_KIND_IKE;
    /* SPI and sequence number at least; a zero SPI is the marker above. */
    if (len >= 8)
        return ESP_IO_KIND_ESP;
    return ESP_IO_KIND_MALFORMED;
}

unsigned esp_io_workers_resolve(unsigned configured)
{
    if (configured)
        return configured > ESP_IO_MAX_WORKERS ? ESP_IO_MAX_WORKERS : configured;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > ESP_IO_MAX_WORKERS ? ESP_IO_MAX_WORKERS : (unsigned)n;
}

/* --- addresses ----------------------------------------------------------- */

socklen_t esp_io_sockaddr(const struct esp_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == 4) {
        struct sockaddr_in *s = (struct sockaddr_in *)ss;
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        memcpy(&s->sin_addr, a->bytes, 4);
        return sizeof(*s);
    }
    if (a->family == 6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        memcpy(&s->sin6_addr, a->bytes, 16);
        return sizeof(*s);
    }
    return 0;
}

static bool addr_is_zero(const struct esp_addr *a)
{
    size_t n = a->family == 4 ? 4 : 16;
    for (size_t i = 0; i < n; i++)
        if (a->bytes[i])
            return false;
    return true;
}

void esp_io_addr_of(const struct sockaddr_storage *ss, struct esp_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (ss->ss_family == AF_INET) {
        a->family = 4;
        memcpy(a->bytes, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        a->family = 6;
        memcpy(a->bytes, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    }
}

size_t esp_io_put_pktinfo(union esp_io_ctl *ctl, const struct esp_addr *src)
{
    if ((src->family != 4 && src->family != 6) || addr_is_zero(src))
        return 0;
    memset(ctl, 0, sizeof(*ctl));
    struct cmsghdr *c = (struct cmsghdr *)ctl->c;
    if (src->family == 4) {
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof(pi));
        memcpy(&pi.ipi_spec_dst, src->bytes, 4);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        return CMSG_SPACE(sizeof(pi));
    }
    struct in6_pktinfo pi;
    memset(&pi, 0, sizeof(pi));
    memcpy(&pi.ipi6_addr, src->bytes, 16);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(pi));
    memcpy(CMSG_DATA(c), &pi, sizeof(pi));
    return CMSG_SPACE(sizeof(pi));
}

void esp_io_get_pktinfo(struct msghdr *mh, int family, uint16_t port,
                        struct sockaddr_storage *local)
{
    memset(local, 0, sizeof(*local));
    local->ss_family = (sa_family_t)family;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && family == AF_INET) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            struct sockaddr_in *l = (struct sockaddr_in *)local;
            l->sin_addr = pi.ipi_addr;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
                   family == AF_INET6) {
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            struct sockaddr_in6 *l = (struct sockaddr_in6 *)local;
            l->sin6_addr = pi.ipi6_addr;
        }
    }
    if (family == AF_INET)
        ((struct sockaddr_in *)local)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)local)->sin6_port = htons(port);
}

const struct esp_io_sock *esp_io_pick(const struct esp_io_sock *socks, unsigned n, int family,
                                      const struct esp_addr *local)
{
    const struct esp_io_sock *any = NULL;
    size_t alen = family == AF_INET ? 4 : 16;
    for (unsigned i = 0; i < n; i++) {
        const struct esp_io_sock *s = &socks[i];
        if (s->family != family)
            continue;
        if (!s->wildcard && local && memcmp(s->bound.bytes, local->bytes, alen) == 0)
            return s;
        if (s->wildcard || !any)
            any = s;
    }
    return any;
}

/* --- sockets ------------------------------------------------------------- */

static int parse_listen(const char *text, struct esp_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, text, a->bytes) == 1) {
        a->family = 4;
        return AF_INET;
    }
    if (inet_pton(AF_INET6, text, a->bytes) == 1) {
        a->family = 6;
        return AF_INET6;
    }
    return -1;
}

static void big_buffers(int fd)
{
    int sz = SOCK_BUF_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

static int open_sock(struct esp_io_sock *s, const char *text, int type, int proto, uint16_t *port,
                     bool offloads, char *err, size_t errlen)
{
    s->fd = -1;
    int family = parse_listen(text, &s->bound);
    if (family < 0) {
        snprintf(err, errlen, "listen address '%s' is not an address", text);
        return -1;
    }
    s->family = family;
    s->wildcard = addr_is_zero(&s->bound);
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
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
    if (type == SOCK_DGRAM) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        /* Where the NIC (or veth) does GRO, one read returns several ESP
         * datagrams of one size from one peer (esp_worker.c splits them).
         * Older kernels refuse it: then one datagram per read. */
        if (offloads)
            setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
    }
    big_buffers(fd);
    struct sockaddr_storage ss;
    socklen_t sl = esp_io_sockaddr(&s->bound, type == SOCK_DGRAM ? *port : 0, &ss);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        snprintf(err, errlen, "cannot bind %s to %s port %u: %s",
                 type == SOCK_DGRAM ? "the NAT-T port" : "raw ESP", text,
                 (unsigned)(type == SOCK_DGRAM ? *port : 0), strerror(errno));
        close(fd);
        return -1;
    }
    if (type == SOCK_DGRAM && *port == 0) {
        struct sockaddr_storage b;
        socklen_t bl = sizeof(b);
        getsockname(fd, (struct sockaddr *)&b, &bl);
        *port = ntohs(b.ss_family == AF_INET ? ((struct sockaddr_in *)&b)->sin_port
                                             : ((struct sockaddr_in6 *)&b)->sin6_port);
    }
    s->fd = fd;
    return 0;
}

static int epoll_add(int epfd, int fd, uint64_t data)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = data};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int worker_init(struct esp_io *io, struct esp_worker *w, unsigned id, char *err,
                       size_t errlen)
{
    w->io = io;
    w->id = id;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    /* Enough buffers for a receive batch and a send batch in flight. */
    w->pool = esp_pool_new(2 * ESP_IO_BATCH_MAX);
    if (w->epfd < 0 || w->stopfd < 0 || !w->pool) {
        snprintf(err, errlen, "cannot set up ESP worker %u: %s", id,
                 w->pool ? strerror(errno) : "out of memory");
        return -1;
    }
    if (epoll_add(w->epfd, w->stopfd, esp_io_ev(EV_STOP, 0)) < 0)
        goto fail_epoll;
    for (unsigned i = 0; i < io->cfg.n_listen; i++) {
        if (open_sock(&w->socks[i], io->cfg.listen[i], SOCK_DGRAM, 0, &io->port,
                      !io->cfg.no_offloads, err, errlen) < 0)
            return -1;
        /* UDP GSO needs a kernel that knows UDP_SEGMENT (4.18): ask. */
        int zero = 0;
        if (setsockopt(w->socks[i].fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) < 0)
            io->gso = false;
        w->n_socks++;
        if (epoll_add(w->epfd, w->socks[i].fd, esp_io_ev(EV_UDP, i)) < 0)
            goto fail_epoll;
    }
    return 0;
fail_epoll:
    snprintf(err, errlen, "epoll: %s", strerror(errno));
    return -1;
}

static void worker_clear(struct esp_worker *w)
{
    for (unsigned i = 0; i < w->n_xsk; i++)
        esp_xsk_close(w->xsk[i]);
    for (unsigned i = 0; i < w->n_socks; i++)
        close(w->socks[i].fd);
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->stopfd >= 0)
        close(w->stopfd);
    esp_pool_free(w->pool);
}

/* The AF_XDP receive path on one interface: the program, then a socket per
 * receive queue, owned by worker queue % nworkers. */
static int open_xdp_if(struct esp_io *io, const char *ifname, char *err, size_t errlen)
{
    struct esp_xdp *x = esp_xdp_attach(ifname, io->port, err, errlen);
    if (!x)
        return -1;
    io->xdp[io->n_xdp++] = x;
    for (unsigned q = 0; q < esp_xdp_queues(x); q++) {
        struct esp_worker *w = &io->w[q % io->nworkers];
        if (w->n_xsk == ESP_IO_MAX_XSK) {
            snprintf(err, errlen, "too many AF_XDP sockets for worker %u", w->id);
            return -1;
        }
        struct esp_xsk *s = esp_xsk_open(esp_xdp_ifindex(x), q, err, errlen);
        if (!s)
            return -1;
        w->xsk[w->n_xsk] = s;
        w->xsk_if[w->n_xsk] = io->n_xdp - 1;
        if (epoll_add(w->epfd, esp_xsk_fd(s), esp_io_ev(EV_XSK, w->n_xsk)) < 0) {
            esp_xsk_close(s);
            snprintf(err, errlen, "epoll: %s", strerror(errno));
            return -1;
        }
        w->n_xsk++;
        if (esp_xdp_bind_queue(x, q, esp_xsk_fd(s)) < 0) {
            snprintf(err, errlen, "cannot enter queue %u in the XSK map: %s", q, strerror(errno));
            return -1;
        }
    }
    log_notice("esp", "AF_XDP receive on %s: %u queue(s), %s XDP", ifname, esp_xdp_queues(x),
               esp_xdp_native(x) ? "native" : "generic");
    return 0;
}

/* Every configured interface; one that fails is left to the sockets (a
 * warning says why). Before the workers start. */
static void open_xdp(struct esp_io *io)
{
    for (unsigned i = 0; i < io->cfg.n_xdp && i < ESP_IO_MAX_LISTEN; i++) {
        char err[256];
        unsigned had = io->n_xdp;
        if (open_xdp_if(io, io->cfg.xdp[i], err, sizeof(err)) == 0)
            continue;
        log_warn("esp", "no AF_XDP receive on %s (%s): its ESP goes through the sockets",
                 io->cfg.xdp[i], err);
        if (io->n_xdp > had) { /* its program went on: off again, sockets closed */
            esp_xdp_detach(io->xdp[--io->n_xdp]);
            for (unsigned k = 0; k < io->nworkers; k++) {
                struct esp_worker *w = &io->w[k];
                while (w->n_xsk && w->xsk_if[w->n_xsk - 1] == had) {
                    epoll_ctl(w->epfd, EPOLL_CTL_DEL, esp_xsk_fd(w->xsk[w->n_xsk - 1]), NULL);
                    esp_xsk_close(w->xsk[--w->n_xsk]);
                }
            }
        }
    }
}

/* Raw ESP sockets, read by worker 0. A refusal (no CAP_NET_RAW) is a
 * warning: clients behind NAT use UDP encapsulation anyway. */
static void open_raw(struct esp_io *io)
{
    for (unsigned i = 0; i < io->cfg.n_listen; i++) {
        char err[256];
        uint16_t none = 0;
        struct esp_io_sock *s = &io->raw[io->n_raw];
        if (open_sock(s, io->cfg.listen[i], SOCK_RAW, ESP_PROTO_ESP, &none, false, err,
                      sizeof(err)) < 0) {
            log_warn("esp",
                     "no raw ESP on %s (clients without UDP encapsulation cannot "
                     "connect there): %s",
                     io->cfg.listen[i], err);
            continue;
        }
        if (epoll_add(io->w[0].epfd, s->fd, esp_io_ev(EV_RAW, io->n_raw)) < 0) {
            close(s->fd);
            continue;
        }
        io->n_raw++;
    }
}

struct esp_io *esp_io_start(const struct esp_io_config *cfg, struct esp_sadb *db, char *err,
                            size_t errlen)
{
    if (!db || cfg->n_listen == 0 || cfg->n_listen > ESP_IO_MAX_LISTEN) {
        snprintf(err, errlen, "ESP I/O needs an SA database and 1 to %d listen addresses",
                 ESP_IO_MAX_LISTEN);
        return NULL;
    }
    struct esp_io *io = calloc(1, sizeof(*io));
    if (!io) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    io->cfg = *cfg;
    io->db = db;
    io->nworkers = esp_io_workers_resolve(cfg->workers);
    io->batch = cfg->batch ? cfg->batch : ESP_IO_BATCH;
    if (io->batch > ESP_IO_BATCH_MAX)
        io->batch = ESP_IO_BATCH_MAX;
    if (!io->cfg.log_interval_s)
        io->cfg.log_interval_s = 10;
    io->port = cfg->natt_port;
    io->gso = !cfg->no_offloads;
    io->linger_us = cfg->linger_us < 0    ? 0
                    : cfg->linger_us == 0 ? ESP_IO_LINGER_US
                                          : (unsigned)cfg->linger_us;
    if (io->linger_us > 100000)
        io->linger_us = 100000; /* a tenth of a second at most */
    pthread_mutex_init(&io->tun_lock, NULL);
    pthread_mutex_init(&io->ike_lock, NULL);
    pthread_mutex_init(&io->ctl_lock, NULL);
    pthread_cond_init(&io->ctl_cond, NULL);
    pthread_cond_init(&io->ctl_idle, NULL);
    io->w = aligned_alloc(64, sizeof(*io->w) * io->nworkers);
    if (!io->w) {
        snprintf(err, errlen, "out of memory");
        goto fail_early;
    }
    memset(io->w, 0, sizeof(*io->w) * io->nworkers);
    for (unsigned i = 0; i < io->nworkers; i++) {
        io->w[i].epfd = io->w[i].stopfd = -1;
    }
    for (unsigned i = 0; i < io->nworkers; i++)
        if (worker_init(io, &io->w[i], i, err, errlen) < 0)
            goto fail;
    if (cfg->raw_esp)
        open_raw(io);
    open_xdp(io);
    if (esp_io_ctl_start(io) < 0) {
        snprintf(err, errlen, "cannot start the ESP control thread");
        goto fail;
    }
    for (unsigned i = 0; i < io->nworkers; i++) {
        if (pthread_create(&io->w[i].thread, NULL, esp_worker_main, &io->w[i]) != 0) {
            snprintf(err, errlen, "cannot start ESP worker %u", i);
            goto fail;
        }
        io->w[i].started = true;
    }
    log_notice("esp", "%u ESP workers on NAT-T port %u%s%s", io->nworkers, io->port,
               io->n_raw ? " and raw ESP" : "", io->n_xdp ? ", AF_XDP receive" : "");
    return io;
fail:
    esp_io_stop(io);
    return NULL;
fail_early:
    free(io);
    return NULL;
}

void esp_io_stop(struct esp_io *io)
{
    if (!io)
        return;
    for (unsigned i = 0; i < io->nworkers; i++) {
        uint64_t one = 1;
        if (io->w[i].started && write(io->w[i].stopfd, &one, sizeof(one)) < 0)
            log_warn("esp", "cannot wake ESP worker %u: %s", i, strerror(errno));
    }
    for (unsigned i = 0; i < io->nworkers; i++)
        if (io->w[i].started)
            pthread_join(io->w[i].thread, NULL);
    esp_io_ctl_stop(io);
    esp_tun_remove_all(io);
    /* The program first: from then on the kernel's sockets take it all. */
    for (unsigned i = 0; i < io->n_xdp; i++)
        esp_xdp_detach(io->xdp[i]);
    for (unsigned i = 0; i < io->n_raw; i++)
        close(io->raw[i].fd);
    for (unsigned i = 0; i < io->nworkers; i++)
        worker_clear(&io->w[i]);
    for (unsigned i = 0; i < io->ike_n; i++)
        free(io->ikeq[(io->ike_head + i) % ESP_IO_IKE_QUEUE].buf);
    free(io->w);
    pthread_mutex_destroy(&io->tun_lock);
    pthread_mutex_destroy(&io->ike_lock);
    pthread_mutex_destroy(&io->ctl_lock);
    pthread_cond_destroy(&io->ctl_cond);
    pthread_cond_destroy(&io->ctl_idle);
    free(io);
}

unsigned esp_io_xdp_active(const struct esp_io *io)
{
    return io->n_xdp;
}

unsigned esp_io_workers(const struct esp_io *io)
{
    return io->nworkers;
}

uint16_t esp_io_natt_port(const struct esp_io *io)
{
    return io->port;
}

void esp_io_counters(struct esp_io *io, uint64_t out[ESP_IO_COUNTER_COUNT])
{
    for (int c = 0; c < ESP_IO_COUNTER_COUNT; c++) {
        out[c] = 0;
        for (unsigned i = 0; i < io->nworkers; i++)
            out[c] += atomic_load_explicit(&io->w[i].ctr[c], memory_order_relaxed);
    }
    out[ESP_IO_IKE_OUT] += atomic_load(&io->ike_out);
    out[ESP_IO_DROP_SEND] += atomic_load(&io->ike_out_fail);
}

/* --- IKE hand-off -------------------------------------------------------- */

void esp_io_ike_push(struct esp_io *io, struct esp_worker *w, const uint8_t *buf, size_t len,
                     const struct esp_io_path *path)
{
    /* IKE is the slow path: one copy per message is fine here. */
    uint8_t *copy = io->cfg.ike_wake ? malloc(len) : NULL;
    if (!copy) {
        esp_io_count(w, ESP_IO_DROP_IKE_QUEUE, 1);
        esp_sadb_count_drop(io->db, w->id, ESP_DROP_QUEUE_FULL);
        return;
    }
    memcpy(copy, buf, len);
    pthread_mutex_lock(&io->ike_lock);
    bool full = io->ike_n == ESP_IO_IKE_QUEUE;
    bool was_empty = io->ike_n == 0;
    if (!full) {
        struct ike_item *it = &io->ikeq[(io->ike_head + io->ike_n) % ESP_IO_IKE_QUEUE];
        it->buf = copy;
        it->len = len;
        it->path = *path;
        io->ike_n++;
        copy = NULL;
    }
    pthread_mutex_unlock(&io->ike_lock);
    if (full) {
        free(copy);
        esp_io_count(w, ESP_IO_DROP_IKE_QUEUE, 1);
        esp_sadb_count_drop(io->db, w->id, ESP_DROP_QUEUE_FULL);
        return;
    }
    esp_io_count(w, ESP_IO_IKE_IN, 1);
    if (was_empty)
        io->cfg.ike_wake(io->cfg.ike_arg);
}

size_t esp_io_ike_drain(struct esp_io *io, esp_io_ike_fn fn, void *arg)
{
    struct ike_item *batch = malloc(sizeof(*batch) * ESP_IO_IKE_QUEUE);
    if (!batch)
        return 0;
    pthread_mutex_lock(&io->ike_lock);
    unsigned n = io->ike_n;
    for (unsigned i = 0; i < n; i++)
        batch[i] = io->ikeq[(io->ike_head + i) % ESP_IO_IKE_QUEUE];
    io->ike_head = (io->ike_head + n) % ESP_IO_IKE_QUEUE;
    io->ike_n = 0;
    pthread_mutex_unlock(&io->ike_lock);
    for (unsigned i = 0; i < n; i++) {
        fn(arg, batch[i].buf, batch[i].len, &batch[i].path);
        free(batch[i].buf);
    }
    free(batch);
    return n;
}

int esp_io_natt_send(struct esp_io *io, const uint8_t *buf, size_t len,
                     const struct esp_io_path *path)
{
    int family = path->peer.ss_family;
    struct esp_addr local;
    esp_io_addr_of(&path->local, &local);
    const struct esp_io_sock *s =
        esp_io_pick(io->w[0].socks, io->w[0].n_socks, family, local.family ? &local : NULL);
    if (!s || (family != AF_INET && family != AF_INET6)) {
        atomic_fetch_add(&io->ike_out_fail, 1);
        return -1;
    }
    struct iovec iov = {(void *)(uintptr_t)buf, len};
    union esp_io_ctl ctl;
    struct msghdr mh = {
        .msg_name = (void *)(uintptr_t)&path->peer,
        .msg_namelen = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6),
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = ctl.c,
    };
    mh.msg_controllen =
        local.family == (family == AF_INET ? 4 : 6) ? esp_io_put_pktinfo(&ctl, &local) : 0;
    if (!mh.msg_controllen)
        mh.msg_control = NULL;
    if (sendmsg(s->fd, &mh, MSG_DONTWAIT) < 0) {
        atomic_fetch_add(&io->ike_out_fail, 1);
        return -1;
    }
    atomic_fetch_add(&io->ike_out, 1);
    return 0;
}
