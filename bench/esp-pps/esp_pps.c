/*
 * Packets per second of the ESP worker pool alone (esp/esp_io.h), against a
 * load generator of our own holding the other end of synthetic SAs with
 * known keys (AES-GCM-16-128). Runs in a fresh network namespace of its own
 * (root): the gateway's NAT-T port on 198.51.100.1 (on lo), one tenant TUN
 * device 10.1.0.1/16. See README.md for the method; in short:
 *
 *  inbound:  before the window, the generator encrypts a ring of ESP packets
 *            per SA (inner UDP client vip -> 10.9.9.9, dropped by the
 *            namespace: no route); in the window it only sends them, from 64
 *            client sockets on 127.0.0.1, each packet once, paced to what the
 *            workers have read. Workers recvmmsg, decrypt, write to the TUN.
 *  outbound: the generator sends plain UDP to the 64 client vips through the
 *            kernel, which routes them into the tenant TUN; workers read
 *            their queue, encrypt and send ESP-in-UDP to the clients
 *            203.0.113.x:4500, routed into a peer TUN device that a sink
 *            thread drains, as a NIC's transmit would take them (-p loopback:
 *            client UDP sockets on 127.0.0.1 instead, as before).
 *
 * Reports per case: packets/s the workers completed, CPU-ns per packet of
 * everything but the generator's threads (workers, control thread, and the
 * kernel work done in their syscalls), and each worker thread's own CPU.
 *
 * Usage: esp_pps [-p tun|loopback|both] [-m MiB] [-P] [-L linger_us] [-c] [seconds]
 *                [inbound|outbound|""] [on|off|""] [workers|0] [bytes|0]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "esp/esp_gro.h"
#include "esp/esp_io.h"
#include "esp/esp_sadb.h"
#include "tests/system/esp/esp_peer.h"

#define NSA       64
#define BATCH     32
#define WARMUP_S  0.3
#define MAX_W     2
#define PEER_PORT 4500
/* Packets per worker the generator keeps ahead of the workers (sent, not
 * yet read). Enough that a worker finds full batches after its linger
 * (with offloads a batch of 64 GRO messages or GSO reads holds 2048
 * packets): a bound the bench sets must not idle the workers, as a NIC's
 * queue would not. Few enough that nothing overflows, which would waste
 * ring and generator CPU: inbound, 6 MiB of the 8 MiB a worker's socket
 * takes (INFLIGHT_IN_BYTES over an estimate of each packet's kernel
 * size); outbound, the tenant TUN queue's 500 packets (without offloads)
 * or GSO packets of 32 (with). The drop columns show what overflowed. */
#define INFLIGHT_IN_BYTES (6u << 20)
#define INFLIGHT_IN_MAX   8192
#define INFLIGHT_OUT_OFF  384
#define INFLIGHT_OUT_ON   8192
/* The fastest rate a ring is sized for: a ring never needs more than this
 * times the case's seconds (bounded again by the memory budget). */
#define RING_RATE_MAX 4e6

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

static const uint8_t gw4[4] = {198, 51, 100, 1};
static const uint8_t lo4[4] = {127, 0, 0, 1};
static const uint8_t sink4[4] = {10, 9, 9, 9};

enum peer_kind { PEER_TUN, PEER_LOOPBACK };

struct opts {
    double seconds;
    size_t ring_budget; /* bytes */
    bool pin;
    int linger_us;     /* esp_io_config.linger_us (0: the default) */
    double max_others; /* a window where other processes took more is run again */
    bool peer_csum;    /* the peer TUN offers checksum offload without offloads */
};

/* Pre-encrypted inbound packets: round r is BATCH consecutive packets of SA
 * r % NSA (sequence numbers (r / NSA) * BATCH + 1 ..), each seg bytes,
 * back to back. SAs are made fresh for every case with the same keys and
 * SPIs, so one ring serves every case of its packet size; within a case
 * each packet is sent once. */
struct ring {
    uint8_t *buf;
    size_t bytes, size, seg, rounds;
};

struct bench {
    struct esp_sadb *db;
    struct esp_io *io;
    const struct ring *ring;
    enum peer_kind peer_kind;
    int cl[NSA];
    uint16_t cport[NSA];
    struct esp_sa_params gw[NSA];
    uint8_t vip[NSA][4];
    int ptun[MAX_W]; /* the peer TUN device's queues (outbound, PEER_TUN) */
    unsigned nptun;
    size_t size;
    int linger_us;
    bool peer_csum;
    unsigned workers;
    bool inbound, offloads;
    atomic_bool stop;
    /* The generator's threads, for their CPU clocks. */
    _Atomic pid_t gen_tid, sink_tid;
    /* Set by the generator when its ring ran out (ends the window). */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool exhausted;
    uint64_t gen_sent, gen_stalls, gen_lost, sink_pkts, sink_reads;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of thread tid of this process (the clock id glibc's
 * pthread_getcpuclockid makes, for a thread we only know by id). */
static double tid_cpu(pid_t tid)
{
    struct timespec ts;
    clockid_t c = (clockid_t)(((unsigned)~tid << 3) | 6); /* per-thread, CPUCLOCK_SCHED */
    if (tid <= 0 || clock_gettime(c, &ts) < 0)
        return 0;
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds every CPU of the machine spent busy (/proc/stat: all but
 * idle and iowait), to tell what other processes took during a window. */
static double machine_busy(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    if (!f)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8)
        return 0;
    double ticks = (double)sysconf(_SC_CLK_TCK);
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / ticks;
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

static void sleep_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

/* A counter of a device in this namespace (/sys/class/net/...). */
static uint64_t dev_stat(const char *dev, const char *what)
{
    char path[128];
    snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", dev, what);
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

/* UDP receive-buffer drops in this namespace (/proc/net/snmp). */
static uint64_t udp_rcvbuf_errors(void)
{
    FILE *f = fopen("/proc/net/snmp", "r");
    char head[512], vals[512];
    unsigned long long v = 0;
    while (f && fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
        if (strncmp(head, "Udp:", 4) != 0)
            continue;
        char *hs, *vs;
        char *h = strtok_r(head, " \n", &hs), *x = strtok_r(vals, " \n", &vs);
        while (h && x) {
            if (strcmp(h, "RcvbufErrors") == 0)
                v = strtoull(x, NULL, 10);
            h = strtok_r(NULL, " \n", &hs);
            x = strtok_r(NULL, " \n", &vs);
        }
        break;
    }
    if (f)
        fclose(f);
    return v;
}

/* --- The inbound ring --------------------------------------------------- */

static void ring_sa(struct esp_sa_params *p, struct peer_sa *s, int i)
{
    uint8_t vip[4] = {10, 1, (uint8_t)(1 + i / 200), (uint8_t)(2 + i % 200)};
    peer_gw_params(p, 1, 0x1000 + (uint32_t)i, 0x2000 + (uint32_t)i, vip, (uint8_t)(i + 1), gw4,
                   lo4, 0, 0, true);
    if (peer_sa_init(s, p) < 0) {
        fprintf(stderr, "esp_pps: peer SA\n");
        exit(1);
    }
}

static size_t inner_udp(uint8_t *inner, size_t size, int sa)
{
    uint8_t vip[4] = {10, 1, (uint8_t)(1 + sa / 200), (uint8_t)(2 + sa % 200)};
    peer_udp(inner, size, vip, sink4, 1000, (uint16_t)(2000 + sa));
    /* A UDP checksum, as senders fill it (peer_udp leaves 0). */
    uint16_t sum = esp_gro_l4_csum(inner, size, 20, 17);
    memcpy(inner + 26, &sum, sizeof(sum));
    return size;
}

struct ring_job {
    struct ring *r;
    int part, parts;
};

/* Encrypts the rounds of the SAs s with s % parts == part, in order. */
static void *ring_fill(void *arg)
{
    struct ring_job *j = arg;
    struct ring *r = j->r;
    uint8_t inner[2048], out[2048 + 256];
    for (int s = j->part; s < NSA; s += j->parts) {
        struct esp_sa_params p;
        struct peer_sa ps;
        ring_sa(&p, &ps, s);
        inner_udp(inner, r->size, s);
        for (size_t rd = (size_t)s; rd < r->rounds; rd += NSA) {
            uint8_t *at = r->buf + rd * BATCH * r->seg;
            for (int i = 0; i < BATCH; i++) {
                if (peer_encap(&ps, inner, r->size, out, sizeof(out)) != r->seg) {
                    fprintf(stderr, "esp_pps: encrypt\n");
                    exit(1);
                }
                memcpy(at + (size_t)i * r->seg, out, r->seg);
            }
        }
        peer_sa_clear(&ps);
    }
    return NULL;
}

static void ring_free(struct ring *r)
{
    if (r->buf)
        munmap(r->buf, r->bytes);
    memset(r, 0, sizeof(*r));
}

/* A ring for packets of size bytes, enough for seconds at RING_RATE_MAX,
 * at most budget bytes; reuses r when it already is one. */
static void ring_make(struct ring *r, size_t size, double seconds, size_t budget)
{
    uint8_t inner[2048], out[2048 + 256];
    struct esp_sa_params p;
    struct peer_sa ps;
    ring_sa(&p, &ps, 0);
    size_t seg = peer_encap(&ps, inner, inner_udp(inner, size, 0), out, sizeof(out));
    peer_sa_clear(&ps);
    size_t want = (size_t)(RING_RATE_MAX * (seconds + WARMUP_S + 0.2) / BATCH) + NSA;
    size_t fit = budget / (BATCH * seg);
    size_t rounds = want < fit ? want : fit;
    if (r->buf && r->size == size && r->rounds >= rounds)
        return;
    ring_free(r);
    r->size = size;
    r->seg = seg;
    r->rounds = rounds;
    r->bytes = rounds * BATCH * seg;
    r->buf = mmap(NULL, r->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r->buf == MAP_FAILED)
        die("mmap ring");
    madvise(r->buf, r->bytes, MADV_HUGEPAGE);
    double t0 = now_s();
    struct ring_job jobs[2] = {{r, 0, 2}, {r, 1, 2}};
    pthread_t t;
    pthread_create(&t, NULL, ring_fill, &jobs[1]);
    ring_fill(&jobs[0]);
    pthread_join(t, NULL);
    fprintf(stderr, "(ring: %zu packets of %zu bytes, %.0f MiB, encrypted in %.1f s)\n",
            rounds * BATCH, seg, (double)r->bytes / (1 << 20), now_s() - t0);
}

/* --- The generator ------------------------------------------------------ */

/* One UDP_SEGMENT send of the n datagrams in iov (cut at seg bytes) on fd;
 * returns the datagrams sent. */
static int send_gso(int fd, struct iovec *iov, size_t niov, int n, const struct sockaddr_in *to,
                    size_t seg)
{
    union {
        char c[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct msghdr mh = {.msg_name = (void *)(uintptr_t)to,
                        .msg_namelen = to ? sizeof(*to) : 0,
                        .msg_iov = iov,
                        .msg_iovlen = niov,
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

static int send_each(int fd, struct iovec *iov, int n, const struct sockaddr_in *to)
{
    struct mmsghdr m[BATCH];
    memset(m, 0, sizeof(m));
    for (int i = 0; i < n; i++) {
        m[i].msg_hdr.msg_iov = &iov[i];
        m[i].msg_hdr.msg_iovlen = 1;
        m[i].msg_hdr.msg_name = (void *)(uintptr_t)to;
        m[i].msg_hdr.msg_namelen = to ? sizeof(*to) : 0;
    }
    int r = sendmmsg(fd, m, (unsigned)n, 0);
    return r > 0 ? r : 0;
}

/* Keeps at most limit packets sent and not yet taken by the workers: when
 * there are that many, sleeps (not spins: the workers need the cores)
 * until a quarter of them are taken, so that one sleep covers many sends. Gives
 * up after 20 ms without progress (packets lost on the way: counted). */
static void pace(struct bench *b, enum esp_io_counter taken, uint64_t limit)
{
    uint64_t c[ESP_IO_COUNTER_COUNT];
    esp_io_counters(b->io, c);
    if (b->gen_sent < c[taken] + b->gen_lost + limit)
        return;
    b->gen_stalls++;
    uint64_t last = c[taken];
    for (int idle = 0; !atomic_load(&b->stop);) {
        sleep_us(100);
        esp_io_counters(b->io, c);
        if (b->gen_sent < c[taken] + b->gen_lost + limit / 4 * 3)
            return;
        idle = c[taken] == last ? idle + 1 : 0;
        last = c[taken];
        if (idle == 200) {
            b->gen_lost = b->gen_sent - c[taken];
            return;
        }
    }
}

static void gen_start(_Atomic pid_t *tid, const char *name)
{
    pthread_setname_np(pthread_self(), name);
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    atomic_store(tid, gettid());
}

static void gen_done(struct bench *b)
{
    pthread_mutex_lock(&b->lock);
    b->exhausted = true;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    /* Alive until the end, so that its CPU clock can still be read. */
    while (!atomic_load(&b->stop))
        sleep_us(1000);
}

/* The clients: the ring's rounds in order, each round (BATCH packets of one
 * SA) as one UDP GSO send with offloads (the kernel hands it whole to the
 * workers' UDP_GRO socket, as a NIC's GRO would), else one sendmmsg. Sends
 * every packet once: when the ring runs out, the window ends. */
static void *gen_in(void *arg)
{
    struct bench *b = arg;
    const struct ring *r = b->ring;
    gen_start(&b->gen_tid, "esp-pps-gen");
    struct iovec iov[BATCH];
    /* A GRO message holds its segments back to back; a datagram alone
     * takes a buffer of its own (about 1 KiB more). */
    size_t truesize = r->seg + (b->offloads ? 64 : 1024);
    uint64_t limit = INFLIGHT_IN_BYTES / truesize;
    limit = b->workers * (limit < INFLIGHT_IN_MAX ? limit : INFLIGHT_IN_MAX);
    for (size_t rd = 0; rd < r->rounds && !atomic_load(&b->stop); rd++) {
        pace(b, ESP_IO_RX_PACKETS, limit);
        uint8_t *at = r->buf + rd * BATCH * r->seg;
        int fd = b->cl[rd % NSA];
        if (b->offloads) {
            iov[0] = (struct iovec){at, BATCH * r->seg};
            b->gen_sent += (uint64_t)send_gso(fd, iov, 1, BATCH, NULL, r->seg);
            continue;
        }
        for (int i = 0; i < BATCH; i++)
            iov[i] = (struct iovec){at + (size_t)i * r->seg, r->seg};
        b->gen_sent += (uint64_t)send_each(fd, iov, BATCH, NULL);
    }
    gen_done(b);
    return NULL;
}

/* Plain UDP to the vips, per round BATCH datagrams of one flow in one UDP
 * GSO send: the kernel routes it into the tenant TUN whole where the device
 * offers USO (offloads), else cut into packets; paced to the workers'
 * reads so the TUN queues never overflow. */
static void *gen_out(void *arg)
{
    struct bench *b = arg;
    static uint8_t payload[2048];
    struct iovec iov[BATCH];
    /* One connected socket per flow: the kernel routes once, not per
     * datagram (the generator's cost, not the workers'). */
    int fd[NSA];
    for (int s = 0; s < NSA; s++) {
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(9000 + s))};
        memcpy(&to.sin_addr, b->vip[s], 4);
        fd[s] = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd[s] < 0 || connect(fd[s], (struct sockaddr *)&to, sizeof(to)) < 0)
            die("generator socket");
    }
    gen_start(&b->gen_tid, "esp-pps-gen");
    for (unsigned s = 0; !atomic_load(&b->stop); s = (s + 1) % NSA) {
        pace(b, ESP_IO_TUN_READ, b->workers * (b->offloads ? INFLIGHT_OUT_ON : INFLIGHT_OUT_OFF));
        for (int i = 0; i < BATCH; i++)
            iov[i] = (struct iovec){payload, b->size - 28};
        if (b->offloads)
            b->gen_sent += (uint64_t)send_gso(fd[s], iov, BATCH, BATCH, NULL, b->size - 28);
        else
            b->gen_sent += (uint64_t)send_each(fd[s], iov, BATCH, NULL);
    }
    for (int s = 0; s < NSA; s++)
        close(fd[s]);
    return NULL;
}

/* The clients' side of the wire for outbound: drains the peer TUN's
 * queues, counting the ESP packets (a USO packet: its segments). It never
 * blocks on the device: it wakes every SINK_US and reads until the queues
 * are empty, so that the workers' transmits never wake a reader (a NIC's
 * transmit wakes no thread either; what it costs stays the sink's). */
#define SINK_US 100
static void *sink(void *arg)
{
    struct bench *b = arg;
    static uint8_t buf[sizeof(struct virtio_net_hdr) + 65536];
    gen_start(&b->sink_tid, "esp-pps-sink");
    size_t vh = b->offloads ? sizeof(struct virtio_net_hdr) : 0;
    while (!atomic_load(&b->stop)) {
        sleep_us(SINK_US);
        for (unsigned q = 0; q < b->nptun; q++) {
            ssize_t n;
            while ((n = read(b->ptun[q], buf, sizeof(buf))) >= 0) {
                b->sink_reads++;
                if ((size_t)n <= vh + 28)
                    continue;
                struct virtio_net_hdr h;
                memset(&h, 0, sizeof(h));
                if (vh)
                    memcpy(&h, buf, sizeof(h));
                size_t pay = (size_t)n - vh - 28;
                b->sink_pkts += h.gso_type == VIRTIO_NET_HDR_GSO_UDP_L4 && h.gso_size
                                    ? (pay + h.gso_size - 1) / h.gso_size
                                    : 1;
            }
        }
    }
    return NULL;
}

/* --- Setup ---------------------------------------------------------------- */

/* The peer TUN: the clients 203.0.113.0/24 behind it, as behind a NIC, with
 * a transmit queue per worker. With offloads it takes the workers' UDP GSO
 * sends whole (USO), as a NIC with USO would; without, it offers nothing
 * (no IFF_VNET_HDR): one packet per transmit, checksummed by the kernel. */
static void peer_tun_open(struct bench *b, unsigned queues)
{
    for (unsigned q = 0; q < queues; q++) {
        int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            die("/dev/net/tun");
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "ppspeer0");
        ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | (b->offloads ? IFF_VNET_HDR : 0);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
            die("TUNSETIFF ppspeer0");
        if (b->offloads && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_USO4 | TUN_F_USO6) < 0)
            die("TUNSETOFFLOAD ppspeer0 (USO)");
        /* -c: checksum offload alone (every NIC has it), no USO. */
        if (!b->offloads && b->peer_csum && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) < 0)
            die("TUNSETOFFLOAD ppspeer0 (checksum)");
        b->ptun[b->nptun++] = fd;
    }
    sh("ip link set ppspeer0 up txqueuelen 4096");
    sh("ip route add 203.0.113.0/24 dev ppspeer0");
}

static void setup(struct bench *b, unsigned workers)
{
    struct esp_sadb_config dc = {workers, 10, NULL, NULL};
    b->db = esp_sadb_new(&dc);
    /* The old loopback peer: the gateway on 127.0.0.1 as before (a source
     * on lo cannot be routed to another device). */
    bool lo_gw = !b->inbound && b->peer_kind == PEER_LOOPBACK;
    const uint8_t *local = lo_gw ? lo4 : gw4;
    struct esp_io_config c;
    memset(&c, 0, sizeof(c));
    c.workers = workers;
    inet_ntop(AF_INET, local, c.listen[0], sizeof(c.listen[0]));
    c.n_listen = 1;
    c.log_interval_s = 3600;
    c.no_offloads = !b->offloads;
    c.linger_us = b->linger_us;
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
    bool tun_peer = !b->inbound && b->peer_kind == PEER_TUN;
    if (tun_peer)
        peer_tun_open(b, workers);
    for (int i = 0; i < NSA; i++) {
        b->cl[i] = -1;
        uint8_t remote[4] = {203, 0, 113, (uint8_t)(1 + i)};
        uint16_t rport = PEER_PORT;
        if (!tun_peer) {
            /* Client sockets on 127.0.0.1: the inbound senders, or the
             * outbound receivers of the loopback peer (with offloads they
             * take GSO sends whole, as a NIC's GRO would). */
            b->cl[i] = socket(AF_INET, SOCK_DGRAM, 0);
            int big = 1 << 20, one = 1;
            setsockopt(b->cl[i], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
            if (b->offloads && !b->inbound)
                setsockopt(b->cl[i], SOL_UDP, UDP_GRO, &one, sizeof(one));
            struct sockaddr_in sin = {.sin_family = AF_INET};
            memcpy(&sin.sin_addr, lo4, 4);
            if (bind(b->cl[i], (struct sockaddr *)&sin, sizeof(sin)) < 0)
                die("bind");
            socklen_t sl = sizeof(sin);
            getsockname(b->cl[i], (struct sockaddr *)&sin, &sl);
            rport = ntohs(sin.sin_port);
            memcpy(remote, lo4, 4);
            /* Inbound senders: connected, so the kernel routes once, not
             * per datagram (the generator's cost, not the workers'). */
            struct sockaddr_in gw = {.sin_family = AF_INET,
                                     .sin_port = htons(esp_io_natt_port(b->io))};
            memcpy(&gw.sin_addr, local, 4);
            if (b->inbound && connect(b->cl[i], (struct sockaddr *)&gw, sizeof(gw)) < 0)
                die("connect");
        }
        b->cport[i] = rport;
        uint8_t v[4] = {10, 1, (uint8_t)(1 + i / 200), (uint8_t)(2 + i % 200)};
        memcpy(b->vip[i], v, 4);
        /* The same keys and SPIs as the ring's (ring_sa). */
        peer_gw_params(&b->gw[i], 1, 0x1000 + (uint32_t)i, 0x2000 + (uint32_t)i, v,
                       (uint8_t)(i + 1), local, remote, esp_io_natt_port(b->io), rport, true);
        if (esp_sadb_install(b->db, &b->gw[i], err, sizeof(err)) < 0) {
            fprintf(stderr, "esp_pps: SA: %s\n", err);
            exit(1);
        }
    }
}

static void teardown(struct bench *b)
{
    esp_io_stop(b->io);
    esp_sadb_free(b->db);
    for (int i = 0; i < NSA; i++)
        if (b->cl[i] >= 0)
            close(b->cl[i]);
    for (unsigned q = 0; q < b->nptun; q++)
        close(b->ptun[q]); /* the device (and its route) goes with the last */
}

/* The worker threads' ids (esp_io names them esp-worker-<i>). */
static unsigned worker_tids(pid_t *tids, unsigned max)
{
    memset(tids, 0, max * sizeof(*tids));
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    unsigned n = 0;
    while (d && (e = readdir(d))) {
        char path[300], name[32] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        unsigned id;
        if (fgets(name, sizeof(name), f) && sscanf(name, "esp-worker-%u", &id) == 1 && id < max) {
            tids[id] = (pid_t)atoi(e->d_name);
            n++;
        }
        fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

static void pin(pid_t tid, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (tid > 0 && sched_setaffinity(tid, sizeof(set), &set) < 0)
        die("sched_setaffinity");
}

/* --- One case ------------------------------------------------------------- */

/* Runs one case and prints its line; returns the share of a core other
 * processes of the machine took during its window. */
static double run_case(const struct opts *o, struct ring *ring, enum peer_kind pk, unsigned workers,
                       size_t size, bool inbound, bool offloads)
{
    struct bench *b = calloc(1, sizeof(*b));
    b->size = size;
    b->linger_us = o->linger_us;
    b->peer_csum = o->peer_csum;
    b->workers = workers;
    b->inbound = inbound;
    b->offloads = offloads;
    b->peer_kind = pk;
    b->ring = ring;
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the deadline below */
    pthread_cond_init(&b->cond, &ca);
    pthread_condattr_destroy(&ca);
    setup(b, workers);
    pid_t wt[MAX_W];
    worker_tids(wt, MAX_W);
    uint64_t c0[ESP_IO_COUNTER_COUNT], c1[ESP_IO_COUNTER_COUNT];
    enum esp_io_counter done = inbound ? ESP_IO_RX_ESP : ESP_IO_TX_PACKETS;
    pthread_t g, k;
    pthread_create(&g, NULL, inbound ? gen_in : gen_out, b);
    if (b->nptun)
        pthread_create(&k, NULL, sink, b);
    sleep_us((long)(WARMUP_S * 1e6)); /* contexts made, queues flowing */
    if (o->pin) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        pin(atomic_load(&b->gen_tid), 0);
        pin(atomic_load(&b->sink_tid), 0);
        for (unsigned i = 0; i < workers; i++)
            pin(wt[i], (int)((1 + i) % (unsigned)ncpu));
    }
    const char *ndev = pk == PEER_TUN ? "ppspeer0" : "lo";
    uint64_t tdrop0 = dev_stat("eiopps0", "tx_dropped"), pdrop0 = dev_stat(ndev, "tx_dropped");
    uint64_t rcvbuf0 = udp_rcvbuf_errors(), sink0 = b->sink_pkts;
    pid_t gt = atomic_load(&b->gen_tid), st = atomic_load(&b->sink_tid);
    double wc0[MAX_W], wc1[MAX_W];
    pthread_mutex_lock(&b->lock);
    bool early = b->exhausted;
    esp_io_counters(b->io, c0);
    double t0 = now_s(), p0 = process_cpu(), g0 = tid_cpu(gt) + tid_cpu(st), m0 = machine_busy();
    for (unsigned i = 0; i < workers; i++)
        wc0[i] = tid_cpu(wt[i]);
    /* Until the end of the window, or the ring's (then the real duration). */
    double end = t0 + o->seconds;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += (time_t)o->seconds;
    dl.tv_nsec += (long)((o->seconds - (double)(time_t)o->seconds) * 1e9);
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    while (!b->exhausted && now_s() < end)
        pthread_cond_timedwait(&b->cond, &b->lock, &dl);
    esp_io_counters(b->io, c1);
    double t1 = now_s(), p1 = process_cpu(), g1 = tid_cpu(gt) + tid_cpu(st), m1 = machine_busy();
    for (unsigned i = 0; i < workers; i++)
        wc1[i] = tid_cpu(wt[i]);
    early = early || b->exhausted;
    pthread_mutex_unlock(&b->lock);
    uint64_t sink1 = b->sink_pkts;
    uint64_t tdrop = dev_stat("eiopps0", "tx_dropped") - tdrop0;
    uint64_t pdrop = dev_stat(ndev, "tx_dropped") - pdrop0;
    uint64_t rcvbuf = udp_rcvbuf_errors() - rcvbuf0;
    atomic_store(&b->stop, true);
    pthread_join(g, NULL);
    if (b->nptun)
        pthread_join(k, NULL);
    uint64_t pkts = c1[done] - c0[done];
    double win = t1 - t0, pps = (double)pkts / win;
    double others = ((m1 - m0) - (p1 - p0)) / win;
    if (others < 0)
        others = 0;
    double ns = pkts ? ((p1 - p0) - (g1 - g0)) * 1e9 / (double)pkts : 0;
    double wsum = 0;
    char per[64] = "";
    for (unsigned i = 0; i < workers; i++) {
        wsum += wc1[i] - wc0[i];
        size_t l = strlen(per);
        snprintf(per + l, sizeof(per) - l, "%s%.0f", i ? "+" : "", 100 * (wc1[i] - wc0[i]) / win);
    }
    uint64_t drops[ESP_REASON_COUNT];
    esp_sadb_drops(b->db, drops);
    printf("%-8s %-4s %2u %5zu %3s %9.0f %6.0f %6.0f %6.0f %7s %4.0f %6.0f %4.0f %4.1f%s",
           inbound ? "inbound" : "outbound",
           inbound          ? "-"
           : pk == PEER_TUN ? "tun"
                            : "lo",
           workers, size, offloads ? "on" : "off", pps, pps * (double)size * 8 / 1e6, ns,
           pkts ? wsum * 1e9 / (double)pkts : 0, per, 100 * (g1 - g0) / win,
           pkts ? (g1 - g0) * 1e9 / (double)pkts : 0, 100 * others, win, early ? "*" : " ");
    printf("  drops: tun %llu send %llu replay %llu rcvbuf %llu qdisc %llu/%llu",
           (unsigned long long)(c1[ESP_IO_DROP_TUN_WRITE] - c0[ESP_IO_DROP_TUN_WRITE]),
           (unsigned long long)(c1[ESP_IO_DROP_SEND] - c0[ESP_IO_DROP_SEND]),
           (unsigned long long)drops[ESP_DROP_REPLAY], (unsigned long long)rcvbuf,
           (unsigned long long)tdrop, (unsigned long long)pdrop);
    if (b->nptun)
        printf(" sink %.3f", pkts ? (double)(sink1 - sink0) / (double)pkts : 0);
    printf(" stalls %llu lost %llu%s\n", (unsigned long long)b->gen_stalls,
           (unsigned long long)b->gen_lost, others > o->max_others ? " DISTURBED" : "");
    fflush(stdout);
    teardown(b);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    free(b);
    return others;
}

int main(int argc, char **argv)
{
    struct opts o = {3, (size_t)4096 << 20, false, 0, 0.1, false};
    const char *peers = "tun";
    int opt;
    while ((opt = getopt(argc, argv, "+p:m:PL:c")) != -1) {
        switch (opt) {
        case 'p':
            peers = optarg;
            break;
        case 'm':
            o.ring_budget = (size_t)atol(optarg) << 20;
            break;
        case 'P':
            o.pin = true;
            break;
        case 'c':
            o.peer_csum = true;
            break;
        case 'L':
            o.linger_us = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: esp_pps [-p tun|loopback|both] [-m ring MiB] [-P] [-L "
                            "linger_us] [-c] [seconds] "
                            "[inbound|outbound] [on|off] [workers] [bytes]\n");
            return 2;
        }
    }
    argv += optind - 1;
    argc -= optind - 1;
    o.seconds = argc > 1 ? atof(argv[1]) : 3;
    if (o.seconds <= 0)
        o.seconds = 3;
    if (unshare(CLONE_NEWNET) < 0)
        die("unshare(CLONE_NEWNET) (run as root)");
    sh("ip link set lo up");
    sh("ip addr add 198.51.100.1/32 dev lo");
    esp_rcu_register_writer();
    double la[3] = {0};
    getloadavg(la, 3);
    printf("ESP worker pool, AES-GCM-16-128, %d SAs, %.1f s per case, %ld online cores, load "
           "average %.2f %.2f %.2f%s\n",
           NSA, o.seconds, sysconf(_SC_NPROCESSORS_ONLN), la[0], la[1], la[2],
           o.pin ? ", pinned" : "");
    if (o.peer_csum)
        printf("peer TUN without offloads: with checksum offload\n");
    if (o.linger_us)
        printf("workers' linger_us %d (negative: none)\n", o.linger_us);
    printf("%-8s %-4s %2s %5s %3s %9s %6s %6s %6s %7s %4s %6s %4s %4s\n", "dir", "peer", "w",
           "bytes", "off", "packets/s", "Mbit/s", "ns/pkt", "wkr-ns", "wkr-%", "gen%", "gen-ns",
           "oth%", "secs");
    const unsigned ws[] = {1, 2};
    const size_t sizes[] = {64, 1400};
    /* Filters: direction, offloads, workers, packet size ("" or 0: all). */
    const char *only = argc > 2 ? argv[2] : "";
    const char *off = argc > 3 ? argv[3] : "";
    unsigned nw = argc > 4 ? (unsigned)atoi(argv[4]) : 0;
    size_t sz = argc > 5 ? (size_t)atoi(argv[5]) : 0;
    bool tun = strcmp(peers, "loopback") != 0, loop = strcmp(peers, "tun") != 0;
    struct ring ring = {0};
    for (int d = 0; d < 2; d++)
        for (size_t s = 0; s < 2; s++)
            for (int of = 0; of < 2; of++)
                for (size_t w = 0; w < 2; w++)
                    for (int p = 0; p < 2; p++) {
                        bool inbound = d == 0;
                        enum peer_kind pk = p == 0 ? PEER_TUN : PEER_LOOPBACK;
                        if ((*only && strcmp(only, inbound ? "inbound" : "outbound") != 0) ||
                            (*off && strcmp(off, of ? "on" : "off") != 0) || (nw && nw != ws[w]) ||
                            (sz && sz != sizes[s]))
                            continue;
                        /* Inbound does not use the peer: once. */
                        if (inbound ? p == 1 : (pk == PEER_TUN ? !tun : !loop))
                            continue;
                        if (inbound)
                            ring_make(&ring, sizes[s], o.seconds, o.ring_budget);
                        /* A window disturbed by other processes (they
                         * took CPU the case needed): again, at most 4
                         * times, after a pause. */
                        for (int a = 0; a < 4; a++) {
                            if (run_case(&o, &ring, pk, ws[w], sizes[s], inbound, of == 1) <=
                                o.max_others)
                                break;
                            sleep(3);
                        }
                    }
    ring_free(&ring);
    printf("(* the ring ran out before the window's end: secs is the real window; DISTURBED: "
           "other processes took more than %.0f%% of a core, run again)\n",
           100 * o.max_others);
    return 0;
}
