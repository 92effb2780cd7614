/*
 * Inside the ESP I/O layer: the state shared by esp_io.c (start, stop, the
 * IKE queue, counters), esp_worker.c (the packet loops), esp_tun.c (tenant
 * devices) and esp_io_ctl.c (the control thread). Not for other modules.
 *
 * Who writes what:
 *  - cfg, db, nworkers, batch, port, socks, raw: set in esp_io_start, then
 *    read-only until esp_io_stop.
 *  - tuns[t]: an RCU pointer. Written under tun_lock (esp_tun.c); workers
 *    read it online and use the device only until their next quiescent
 *    state; a removed device's fds are closed after a grace period.
 *  - worker counters: only their worker writes them (relaxed stores).
 *  - the IKE queue: under ike_lock.
 *  - the control queue: under ctl_lock.
 */
#ifndef ISTHMUS_ESP_IO_INT_H
#define ISTHMUS_ESP_IO_INT_H

#define _LGPL_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <urcu-qsbr.h>

#include "esp/esp_io.h"
#include "esp/esp_pool.h"

#define ESP_IO_BATCH_MAX 64

/* epoll data: kind in the high 32 bits, an index in the low ones. */
enum { EV_STOP = 1, EV_UDP = 2, EV_RAW = 3, EV_TUN = 4, EV_XSK = 5 };

#define ESP_IO_MAX_XSK 64 /* AF_XDP sockets per worker */

struct esp_xsk;
struct esp_xdp;

struct esp_io_sock {
    int fd;
    int family;    /* AF_INET or AF_INET6 */
    bool wildcard; /* bound to 0.0.0.0 or :: */
    struct esp_addr bound;
};

struct esp_tun {
    struct esp_tun_spec spec;
    bool attached; /* test descriptors, not a TUN device */
    bool vnet;     /* IFF_VNET_HDR: a virtio_net_hdr before every packet */
    bool offload;  /* TUNSETOFFLOAD: reads may be GSO or need a checksum */
    unsigned nq;
    int fds[]; /* queue i belongs to worker i */
};

union esp_io_ctl {
    char c[CMSG_SPACE(sizeof(struct in6_pktinfo))];
    /* + UDP_GRO (received) or UDP_SEGMENT (sent) */
    char rx[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
};

struct esp_worker {
    struct esp_io *io;
    unsigned id;
    pthread_t thread;
    bool started;
    int epfd;
    int stopfd; /* eventfd */
    struct esp_io_sock socks[ESP_IO_MAX_LISTEN];
    unsigned n_socks;
    struct esp_xsk *xsk[ESP_IO_MAX_XSK]; /* AF_XDP sockets of the queues it owns */
    unsigned xsk_if[ESP_IO_MAX_XSK];     /* of each, its interface in io->xdp */
    unsigned n_xsk;
    struct esp_pool *pool;
    _Atomic uint64_t ctr[ESP_IO_COUNTER_COUNT];

    /* Scratch of one batch. */
    struct mmsghdr msgs[ESP_IO_BATCH_MAX];
    struct iovec iov[ESP_IO_BATCH_MAX];
    struct esp_buf bufs[ESP_IO_BATCH_MAX];
    struct sockaddr_storage names[ESP_IO_BATCH_MAX];
    union esp_io_ctl ctl[ESP_IO_BATCH_MAX];
    int out_fd[ESP_IO_BATCH_MAX];
    bool out_udp[ESP_IO_BATCH_MAX]; /* from a NAT-T socket (UDP GSO possible) */

    /* A send batch as messages: runs of msgs merged into one UDP GSO send. */
    struct mmsghdr gmsgs[ESP_IO_BATCH_MAX];
    union esp_io_ctl gctl[ESP_IO_BATCH_MAX];
    unsigned gfirst[ESP_IO_BATCH_MAX], gcount[ESP_IO_BATCH_MAX];

    /* Decrypted packets of a receive batch, written to their TUN queues
     * (TCP segments merged, esp_gro.h) before the batch's buffers go back. */
    struct esp_tun_out {
        int fd;
        bool vnet;
        uint8_t *pkt;
        size_t len;
    } pend[ESP_IO_BATCH_MAX];
    unsigned n_pend;
} __attribute__((aligned(64)));

struct ike_item {
    uint8_t *buf;
    size_t len;
    struct esp_io_path path;
};

struct tun_cmd;

struct esp_io {
    struct esp_io_config cfg;
    struct esp_sadb *db;
    unsigned nworkers;
    unsigned batch;
    bool gso;           /* UDP_SEGMENT on the NAT-T sockets */
    unsigned linger_us; /* 0: none */
    uint16_t port;
    struct esp_worker *w; /* nworkers of them */
    struct esp_io_sock raw[ESP_IO_MAX_LISTEN];
    unsigned n_raw;
    struct esp_xdp *xdp[ESP_IO_MAX_LISTEN]; /* cfg.xdp interfaces that run */
    unsigned n_xdp;
    _Atomic uint64_t ike_out, ike_out_fail; /* written by the IKE thread */

    struct esp_tun *tuns[ESP_IO_MAX_TENANTS]; /* RCU */
    pthread_mutex_t tun_lock;

    pthread_mutex_t ike_lock;
    struct ike_item ikeq[ESP_IO_IKE_QUEUE];
    unsigned ike_head, ike_n;

    pthread_t ctl_thread;
    bool ctl_started;
    pthread_mutex_t ctl_lock;
    pthread_cond_t ctl_cond, ctl_idle;
    struct tun_cmd *cmd_head, *cmd_tail;
    unsigned cmd_busy; /* queued or being done */
    bool ctl_stop;
};

static inline void esp_io_count(struct esp_worker *w, enum esp_io_counter c, uint64_t v)
{
    /* Single writer (the worker): no locked instruction needed. */
    atomic_store_explicit(&w->ctr[c], atomic_load_explicit(&w->ctr[c], memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static inline uint64_t esp_io_ev(unsigned kind, uint32_t idx)
{
    return (uint64_t)kind << 32 | idx;
}

/* esp_worker.c */
void *esp_worker_main(void *arg);
/* How long a worker that just handled `done` packets, `gap_us` after its
 * previous wake-up, waits for more (interrupt moderation): linger_us when
 * at least two more packets are due in that time at that rate, else 0; and
 * never so long that more than ESP_IO_LINGER_MAX_PACKETS would arrive
 * meanwhile (the kernel's queues in front of a worker are finite: a TUN
 * queue holds ESP_TUN_TXQUEUELEN). */
#define ESP_IO_LINGER_MAX_PACKETS 1024
unsigned esp_io_linger_us(unsigned done, uint64_t gap_us, unsigned linger_us);
/* Hands an IKE datagram to the queue (esp_io.c). */
void esp_io_ike_push(struct esp_io *io, struct esp_worker *w, const uint8_t *buf, size_t len,
                     const struct esp_io_path *path);
/* The address of a sockaddr (family 0 when neither IPv4 nor IPv6). */
void esp_io_addr_of(const struct sockaddr_storage *ss, struct esp_addr *a);
/* Fills a sockaddr from an esp_addr and port; returns its length, 0 if bad. */
socklen_t esp_io_sockaddr(const struct esp_addr *a, uint16_t port, struct sockaddr_storage *ss);
/* Writes an IP_PKTINFO / IPV6_PKTINFO asking for source address src into
 * ctl; returns the control length (0: none, let the kernel choose). */
size_t esp_io_put_pktinfo(union esp_io_ctl *ctl, const struct esp_addr *src);
/* The local address of a received datagram from its control data. */
void esp_io_get_pktinfo(struct msghdr *mh, int family, uint16_t port,
                        struct sockaddr_storage *local);
/* The socket among socks[0..n) to send from for family and local address. */
const struct esp_io_sock *esp_io_pick(const struct esp_io_sock *socks, unsigned n, int family,
                                      const struct esp_addr *local);

/* esp_tun.c: removes every device (esp_io_stop). */
void esp_tun_remove_all(struct esp_io *io);
/* Brings specs up and every other TUN tenant down (control thread). */
void esp_tun_sync(struct esp_io *io, const struct esp_tun_spec *specs, size_t n);

/* esp_io_ctl.c */
int esp_io_ctl_start(struct esp_io *io);
void esp_io_ctl_stop(struct esp_io *io);

#endif
