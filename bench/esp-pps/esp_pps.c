/*
 * Packets per second of the ESP worker pool alone (esp/esp_io.h), against a
 * load generator of our own holding the other end of synthetic SAs with
 * known keys (AES-GCM-16-128). Runs in a fresh network namespace of its own
 * (root): NAT-T port on 127.0.0.1, one tenant TUN device 10.1.0.1/16.
 *
 *  inbound:  generator encrypts inner UDP packets (client vip -> 10.9.9.9,
 *            which the namespace drops: no route) and sends them from 64
 *            client sockets; workers recvmmsg, decrypt, write to the TUN.
 *  outbound: generator sends plain UDP to the 64 client vips through the
 *            kernel, which routes them into the TUN; workers read their
 *            queue, encrypt, sendmmsg to the client sockets (not read).
 *
 * Reports per case: packets/s the workers completed, and CPU-ns per packet
 * of everything but the generator (workers, control thread, and the kernel
 * work done in their syscalls), from getrusage minus the generator's own
 * thread CPU time.
 *
 * Every case runs without offloads (no UDP GRO/GSO on the NAT-T sockets, no
 * IFF_VNET_HDR: one datagram per packet and per TUN read or write) and with
 * them (esp_io_config.no_offloads). The generator sends UDP GSO
 * batches (32 packets of one flow) with offloads, where the kernel hands
 * them to the workers whole as a NIC's GRO would (UDP_GRO socket, TUN with
 * USO); without, 32 datagrams in one sendmmsg, as before.
 *
 * Usage: esp_pps [seconds per case] [inbound|outbound|""] [on|off|""] [workers|0] [bytes|0]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/udp.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "esp/esp_gro.h"
#include "esp/esp_io.h"
#include "esp/esp_sadb.h"
#include "tests/system/esp/esp_peer.h"

#define NSA   64
#define BATCH 32

static const uint8_t lo4[4] = {127, 0, 0, 1};
static const uint8_t sink[4] = {10, 9, 9, 9};

struct bench {
    struct esp_sadb *db;
    struct esp_io *io;
    int cl[NSA];
    uint16_t cport[NSA];
    struct esp_sa_params gw[NSA];
    struct peer_sa peer[NSA];
    uint8_t vip[NSA][4];
    size_t size;
    bool offloads;
    atomic_bool stop;
    double gen_cpu;
    uint64_t gen_sent;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double process_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "esp_pps: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void sh(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "esp_pps: '%s' failed\n", cmd);
        exit(1);
    }
}

/* One UDP_SEGMENT send of n datagrams of size seg (the last may be
 * shorter) on fd; returns the datagrams sent. */
static int send_gso(int fd, struct iovec *iov, int n, const struct sockaddr_in *to, size_t seg)
{
    union {
        char c[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct msghdr mh = {.msg_name = (void *)(uintptr_t)to,
                        .msg_namelen = sizeof(*to),
                        .msg_iov = iov,
                        .msg_iovlen = (size_t)n,
                        .msg_control = ctl.c,
                        .msg_controllen = sizeof(ctl.c)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t gs = (uint16_t)seg;
    memcpy(CMSG_DATA(c), &gs, sizeof(gs));
    return sendmsg(fd, &mh, 0) > 0 ? n : 0;
}

/* The clients: per round, BATCH ESP packets of one SA (one inner UDP flow)
 * in one UDP GSO send. Where the workers' socket has UDP_GRO (offloads) the
 * kernel hands it over whole, as a NIC's GRO would; without, the kernel
 * cuts it and the workers read one datagram per packet. */
static void *gen_in(void *arg)
{
    struct bench *b = arg;
    static uint8_t out[BATCH][2048];
    struct iovec iov[BATCH];
    uint8_t inner[2048];
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    to.sin_port = htons(esp_io_natt_port(b->io));
    pthread_setname_np(pthread_self(), "esp-pps-gen");
    double c0 = thread_cpu();
    for (unsigned s = 0; !atomic_load(&b->stop); s = (s + 1) % NSA) {
        size_t seg = 0;
        for (int i = 0; i < BATCH; i++) {
            peer_udp(inner, b->size, b->vip[s], sink, 1000, (uint16_t)(2000 + s));
            /* A UDP checksum, as senders fill it (peer_udp leaves 0). */
            uint16_t sum = esp_gro_l4_csum(inner, b->size, 20, 17);
            memcpy(inner + 26, &sum, sizeof(sum));
            size_t n = peer_encap(&b->peer[s], inner, b->size, out[i], sizeof(out[i]));
            iov[i] = (struct iovec){out[i], n};
            seg = n;
        }
        if (b->offloads) {
            b->gen_sent += (uint64_t)send_gso(b->cl[s], iov, BATCH, &to, seg);
            continue;
        }
        struct mmsghdr m[BATCH];
        memset(m, 0, sizeof(m));
        for (int i = 0; i < BATCH; i++) {
            m[i].msg_hdr.msg_iov = &iov[i];
            m[i].msg_hdr.msg_iovlen = 1;
            m[i].msg_hdr.msg_name = &to;
            m[i].msg_hdr.msg_namelen = sizeof(to);
        }
        int r = sendmmsg(b->cl[s], m, BATCH, 0);
        if (r > 0)
            b->gen_sent += (uint64_t)r;
    }
    b->gen_cpu = thread_cpu() - c0;
    return NULL;
}

/* Plain UDP to the vips, per round BATCH datagrams of one flow in one UDP
 * GSO send: the kernel routes it into the TUN device whole where the device
 * offers USO (offloads), else cut into packets. */
static void *gen_out(void *arg)
{
    struct bench *b = arg;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    static uint8_t payload[2048];
    struct iovec iov[BATCH];
    pthread_setname_np(pthread_self(), "esp-pps-gen");
    double c0 = thread_cpu();
    for (unsigned s = 0; !atomic_load(&b->stop); s = (s + 1) % NSA) {
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(9000 + s))};
        memcpy(&to.sin_addr, b->vip[s], 4);
        for (int i = 0; i < BATCH; i++)
            iov[i] = (struct iovec){payload, b->size - 28};
        if (b->offloads) {
            b->gen_sent += (uint64_t)send_gso(fd, iov, BATCH, &to, b->size - 28);
            continue;
        }
        struct mmsghdr m[BATCH];
        memset(m, 0, sizeof(m));
        for (int i = 0; i < BATCH; i++) {
            m[i].msg_hdr.msg_iov = &iov[i];
            m[i].msg_hdr.msg_iovlen = 1;
            m[i].msg_hdr.msg_name = &to;
            m[i].msg_hdr.msg_namelen = sizeof(to);
        }
        int r = sendmmsg(fd, m, BATCH, 0);
        if (r > 0)
            b->gen_sent += (uint64_t)r;
    }
    b->gen_cpu = thread_cpu() - c0;
    close(fd);
    return NULL;
}

static void setup(struct bench *b, unsigned workers, bool offloads)
{
    struct esp_sadb_config dc = {workers, 10, NULL, NULL};
    b->db = esp_sadb_new(&dc);
    struct esp_io_config c;
    memset(&c, 0, sizeof(c));
    c.workers = workers;
    snprintf(c.listen[0], sizeof(c.listen[0]), "127.0.0.1");
    c.n_listen = 1;
    c.log_interval_s = 3600;
    c.no_offloads = !offloads;
    char err[300];
    b->io = esp_io_start(&c, b->db, err, sizeof(err));
    if (!b->io) {
        fprintf(stderr, "esp_pps: %s\n", err);
        exit(1);
    }
    struct esp_tun_spec t;
    memset(&t, 0, sizeof(t));
    t.tenant = 1;
    snprintf(t.name, sizeof(t.name), "bench");
    snprintf(t.ifname, sizeof(t.ifname), "eiopps0");
    t.mtu = 1500;
    if (esp_tun_add(b->io, &t, err, sizeof(err)) < 0) {
        fprintf(stderr, "esp_pps: %s\n", err);
        exit(1);
    }
    sh("ip addr add 10.1.0.1/16 dev eiopps0");
    for (int i = 0; i < NSA; i++) {
        b->cl[i] = socket(AF_INET, SOCK_DGRAM, 0);
        int big = 1 << 20;
        setsockopt(b->cl[i], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
        /* With offloads the clients take GSO sends whole, as a NIC's GRO
         * would: the loopback receive of the workers' sends (charged to
         * them) does not cut them again. */
        int one = 1;
        if (offloads)
            setsockopt(b->cl[i], SOL_UDP, UDP_GRO, &one, sizeof(one));
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
        if (bind(b->cl[i], (struct sockaddr *)&sin, sizeof(sin)) < 0)
            die("bind");
        socklen_t sl = sizeof(sin);
        getsockname(b->cl[i], (struct sockaddr *)&sin, &sl);
        b->cport[i] = ntohs(sin.sin_port);
        uint8_t v[4] = {10, 1, (uint8_t)(1 + i / 200), (uint8_t)(2 + i % 200)};
        memcpy(b->vip[i], v, 4);
        peer_gw_params(&b->gw[i], 1, 0x1000 + (uint32_t)i, 0x2000 + (uint32_t)i, v,
                       (uint8_t)(i + 1), lo4, lo4, esp_io_natt_port(b->io), b->cport[i], true);
        if (esp_sadb_install(b->db, &b->gw[i], err, sizeof(err)) < 0 ||
            peer_sa_init(&b->peer[i], &b->gw[i]) < 0) {
            fprintf(stderr, "esp_pps: SA: %s\n", err);
            exit(1);
        }
    }
}

static void teardown(struct bench *b)
{
    esp_io_stop(b->io);
    esp_sadb_free(b->db);
    for (int i = 0; i < NSA; i++) {
        close(b->cl[i]);
        peer_sa_clear(&b->peer[i]);
    }
}

static void run_case(unsigned workers, size_t size, bool inbound, bool offloads, double seconds)
{
    struct bench *b = calloc(1, sizeof(*b));
    b->size = size;
    b->offloads = offloads;
    setup(b, workers, offloads);
    uint64_t c0[ESP_IO_COUNTER_COUNT], c1[ESP_IO_COUNTER_COUNT];
    enum esp_io_counter done = inbound ? ESP_IO_RX_ESP : ESP_IO_TX_PACKETS;
    pthread_t g;
    pthread_create(&g, NULL, inbound ? gen_in : gen_out, b);
    usleep(300000); /* warm up: contexts made, queues flowing */
    esp_io_counters(b->io, c0);
    double t0 = now_s(), p0 = process_cpu();
    double g0 = 0;
    (void)g0;
    usleep((useconds_t)(seconds * 1e6));
    esp_io_counters(b->io, c1);
    double t1 = now_s(), p1 = process_cpu();
    atomic_store(&b->stop, true);
    pthread_join(g, NULL);
    /* The generator ran for warm-up + measure + stop; scale its CPU to the
     * measured window by wall time. */
    double gen_window = b->gen_cpu * (t1 - t0) / (t1 - t0 + 0.3);
    uint64_t pkts = c1[done] - c0[done];
    double pps = (double)pkts / (t1 - t0);
    double ns = pkts ? ((p1 - p0) - gen_window) * 1e9 / (double)pkts : 0;
    uint64_t drops[ESP_REASON_COUNT];
    esp_sadb_drops(b->db, drops);
    printf("%-8s %7u %6zu %8s %12.0f %10.1f %10.0f   (generator %.0f%% of a core; io drops: "
           "tun %llu send %llu; sadb replay %llu)\n",
           inbound ? "inbound" : "outbound", workers, size, offloads ? "on" : "off", pps,
           pps * (double)size * 8 / 1e6, ns, 100 * b->gen_cpu / (t1 - t0 + 0.3),
           (unsigned long long)(c1[ESP_IO_DROP_TUN_WRITE] - c0[ESP_IO_DROP_TUN_WRITE]),
           (unsigned long long)(c1[ESP_IO_DROP_SEND] - c0[ESP_IO_DROP_SEND]),
           (unsigned long long)drops[ESP_DROP_REPLAY]);
    fflush(stdout);
    teardown(b);
    free(b);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3;
    if (seconds <= 0)
        seconds = 3;
    if (unshare(CLONE_NEWNET) < 0)
        die("unshare(CLONE_NEWNET) (run as root)");
    sh("ip link set lo up");
    esp_rcu_register_writer();
    printf("ESP worker pool, AES-GCM-16-128, %d SAs, %.1f s per case, %ld online cores\n", NSA,
           seconds, sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-8s %7s %6s %8s %12s %10s %10s\n", "dir", "workers", "bytes", "offloads", "packets/s",
           "Mbit/s", "CPU-ns/pkt");
    const unsigned ws[] = {1, 2};
    const size_t sizes[] = {64, 1400};
    /* Filters: direction, offloads, workers, packet size ("" or 0: all). */
    const char *only = argc > 2 ? argv[2] : "";
    const char *off = argc > 3 ? argv[3] : "";
    unsigned nw = argc > 4 ? (unsigned)atoi(argv[4]) : 0;
    size_t sz = argc > 5 ? (size_t)atoi(argv[5]) : 0;
    for (int d = 0; d < 2; d++)
        for (int o = 0; o < 2; o++)
            for (size_t w = 0; w < 2; w++)
                for (size_t s = 0; s < 2; s++)
                    if ((!*only || strcmp(only, d == 0 ? "inbound" : "outbound") == 0) &&
                        (!*off || strcmp(off, o ? "on" : "off") == 0) && (!nw || nw == ws[w]) &&
                        (!sz || sz == sizes[s]))
                        run_case(ws[w], sizes[s], d == 0, o == 1, seconds);
    return 0;
}
