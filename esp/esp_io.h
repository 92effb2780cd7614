/*
 * The ESP data plane's I/O: a pool of worker threads that move packets
 * between the NAT-T port (ESP in UDP, RFC 3948), raw ESP (IP protocol 50)
 * and each tenant's multi-queue TUN device, through the SA database.
 *
 * Threads:
 *  - N workers (esp_io_config.workers; 0 = one per online core). Worker i
 *    owns one UDP socket per listen address, bound to the NAT-T port with
 *    SO_REUSEPORT (the kernel keeps one client's 4-tuple on one worker), and
 *    queue i of every tenant's TUN device. It blocks in epoll_wait (RCU
 *    offline), then works in batches (recvmmsg/sendmmsg, ESP_IO_BATCH) with
 *    buffers from its own preallocated pool, and announces an RCU quiescent
 *    state after each batch.
 *  - Worker 0 also owns the raw ESP sockets (one per listen address): a raw
 *    socket gets a copy of every ESP packet to the host, so exactly one
 *    thread reads them. Any worker may send on them.
 *  - A control thread: tenant devices up and down (it may block on `ip` and
 *    the tenant hook; the IKE thread never does), and a summary of drops
 *    per reason every log_interval_s seconds (never a line per packet).
 *
 * On the NAT-T socket a datagram is:
 *  - a single 0xFF byte: a NAT keepalive, counted and dropped;
 *  - 4 zero bytes first (the non-ESP marker): IKE. It is copied with its
 *    path into a bounded queue and ike_wake is called; the IKE thread takes
 *    it with esp_io_ike_drain (the daemon feeds it to ike_net_input);
 *  - anything else of at least 8 bytes: ESP, decrypted with esp_sadb_decap
 *    and written to queue i of the TUN device of the SA's tenant.
 * Outbound, a packet read from tenant t's TUN queue i is encrypted with
 * esp_sadb_encap(t) and sent to the SA's endpoint: from the NAT-T socket
 * with the endpoint's local address as source (udp_encap), or as raw ESP.
 *
 * The SA database must have been made with at least esp_io_workers_resolve
 * (cfg.workers) worker ids.
 */
#ifndef ISTHMUS_ESP_IO_H
#define ISTHMUS_ESP_IO_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "esp/esp.h"

struct esp_sadb;
struct esp_io;

#define ESP_IO_MAX_LISTEN  8
#define ESP_IO_MAX_WORKERS 64
#define ESP_IO_BATCH       64
#define ESP_IO_MAX_TENANTS 4096 /* tenant indexes 1 .. ESP_IO_MAX_TENANTS-1 */
#define ESP_IO_IKE_QUEUE   256  /* IKE datagrams waiting for the IKE thread */
#define ESP_IO_DEFAULT_MTU 1400
#define ESP_IO_LINGER_US   500 /* see esp_io_config.linger_us */
#define ESP_IO_PATH_MAX    512
#define ESP_TUN_MAX_NETS   16

/* Where a datagram came from and went to (the IKE path without IKE). */
struct esp_io_path {
    struct sockaddr_storage peer;
    struct sockaddr_storage local; /* address from IP_PKTINFO, NAT-T port */
};

/* Called from a worker when the IKE queue goes from empty to non-empty;
 * must not block (e.g. evl_async_send). */
typedef void (*esp_io_wake_fn)(void *arg);
/* Receives one IKE datagram in esp_io_ike_drain: the UDP payload, non-ESP
 * marker included (what ike_net_input expects with natt = true). buf is the
 * callee's to modify (decrypt in place) until it returns. */
typedef void (*esp_io_ike_fn)(void *arg, uint8_t *buf, size_t len, const struct esp_io_path *path);

struct esp_io_config {
    unsigned workers;                   /* 0: one per online core; at most ESP_IO_MAX_WORKERS */
    char listen[ESP_IO_MAX_LISTEN][64]; /* addresses ("0.0.0.0", "::", "203.0.113.1") */
    unsigned n_listen;
    uint16_t natt_port;                /* 0: an ephemeral port, the same for every worker */
    bool raw_esp;                      /* also raw ESP (needs CAP_NET_RAW; a warning if refused) */
    unsigned batch;                    /* packets per recvmmsg/sendmmsg; 0: ESP_IO_BATCH */
    char tenant_hook[ESP_IO_PATH_MAX]; /* empty: none */
    unsigned log_interval_s;           /* drop summaries; 0: 10 */
    /* Offloads (on unless no_offloads): UDP GSO (UDP_SEGMENT) for ESP sends
     * and UDP_GRO on the NAT-T sockets; TUN devices with IFF_VNET_HDR, TCP
     * and UDP segments of a flow written as one GSO packet (esp_gro.h), and
     * TUNSETOFFLOAD (checksum, TSO, USO) for reads, cut before ESP
     * (esp_gso.h). no_offloads: one packet per datagram and per TUN read or
     * write (benchmarks compare both). */
    bool no_offloads;
    /* Interrupt moderation: a worker that found less than a full batch,
     * while packets come fast enough that at least two more are due within
     * this time, waits this long before it looks again, so each wake-up
     * carries several packets (fewer context switches, larger GSO writes):
     * at most this much latency added under load, none to sparse traffic.
     * 0: ESP_IO_LINGER_US; negative: never wait. */
    int linger_us;
    /* AF_XDP receive path: on these interfaces (client-facing), ESP in UDP
     * to the NAT-T port is taken by an XDP program into one AF_XDP socket
     * per receive queue (queue q to worker q mod workers), read from a
     * shared ring without a system call per datagram (esp_xdp.h,
     * esp_xsk.h). IKE and all other traffic still go through the sockets.
     * Where the kernel refuses, a warning, and the sockets take it all. */
    char xdp[ESP_IO_MAX_LISTEN][16];
    unsigned n_xdp;
    esp_io_wake_fn ike_wake; /* NULL: IKE on the NAT-T port is dropped */
    void *ike_arg;
};

/* The number of workers a configured value means (0: online cores). */
unsigned esp_io_workers_resolve(unsigned configured);

/* Binds the sockets and starts the threads. Returns NULL with a reason in
 * err (bad address, port in use, no memory). db is not owned. */
struct esp_io *esp_io_start(const struct esp_io_config *cfg, struct esp_sadb *db, char *err,
                            size_t errlen);
/* Stops and joins every thread, removes every tenant device (down hooks
 * run), frees. Call before esp_sadb_free. NULL accepted. */
void esp_io_stop(struct esp_io *io);

unsigned esp_io_workers(const struct esp_io *io);
/* The NAT-T port actually bound. */
uint16_t esp_io_natt_port(const struct esp_io *io);

/* --- IKE on the NAT-T port ---------------------------------------------- */

/* Takes every queued IKE datagram and calls fn for each, on the calling
 * thread (the IKE thread). Returns how many. */
size_t esp_io_ike_drain(struct esp_io *io, esp_io_ike_fn fn, void *arg);

/* Sends one UDP datagram (marker already in buf) from the NAT-T port, from
 * path->local's address when it is set, to path->peer. Any thread. Returns
 * 0 or -1. Shaped to back ike_net_natt_send_fn. */
int esp_io_natt_send(struct esp_io *io, const uint8_t *buf, size_t len,
                     const struct esp_io_path *path);

/* --- Tenant devices ------------------------------------------------------ */

/* A pool of a tenant and the gateway's address in it: "10.1.0.0/24" and
 * "10.1.0.1". The gateway address goes on the device with the pool's prefix
 * length, which also routes the pool to the device. */
struct esp_tun_net {
    char pool[64];
    char gateway[64];
};

struct esp_tun_spec {
    uint32_t tenant; /* index, 1 .. ESP_IO_MAX_TENANTS-1 */
    char name[64];   /* the tenant's id: ISTHMUS_TENANT for the hook, logs */
    char ifname[16]; /* at most 15 characters */
    char netns[64];  /* empty: stay in the daemon's namespace */
    unsigned mtu;    /* 0: ESP_IO_DEFAULT_MTU */
    struct esp_tun_net nets[ESP_TUN_MAX_NETS];
    unsigned n_nets;
};

/* Creates the tenant's multi-queue TUN device (one queue per worker; fails
 * if a device of that name exists), sets the MTU, moves it into
 * spec->netns and puts the gateway addresses on it there, brings it up,
 * runs the hook with ISTHMUS_ACTION=up, and lets the workers use it.
 * Without a netns the device stays in the daemon's namespace without
 * addresses (overlapping tenants would collide there): the hook places it. Blocks (ip, the hook):
 * not for the IKE thread. A tenant already up with the same spec is left alone; with another spec
 * it is recreated. Returns 0, or -1 with err. */
int esp_tun_add(struct esp_io *io, const struct esp_tun_spec *spec, char *err, size_t errlen);
/* Stops the workers using it, runs the hook with ISTHMUS_ACTION=down,
 * closes the device. Blocks. -1 if the tenant has none. */
int esp_tun_remove(struct esp_io *io, uint32_t tenant);

/* Non-blocking forms for the IKE thread and the snapshot loader: queued to
 * the control thread, which does the work and logs failures. tenant_sync
 * brings every listed tenant up (recreating changed ones) and every other
 * tenant down. */
void esp_io_tenant_up(struct esp_io *io, const struct esp_tun_spec *spec);
void esp_io_tenant_down(struct esp_io *io, uint32_t tenant);
void esp_io_tenant_sync(struct esp_io *io, const struct esp_tun_spec *specs, size_t n);
/* Waits until the control thread has done every queued tenant change, at
 * most timeout_ms. Returns 0, or -1 on timeout. For tests. */
int esp_io_tenant_settle(struct esp_io *io, unsigned timeout_ms);

/* For tests and benchmarks without a TUN device: datagram descriptors
 * (SOCK_SEQPACKET socketpair ends, one per worker, non-blocking) serve as
 * the tenant's queues. esp_io takes ownership of the fds (closed on remove).
 * Returns 0 or -1. */
int esp_io_tenant_attach(struct esp_io *io, uint32_t tenant, const int *fds, unsigned n);

/* --- Counters ------------------------------------------------------------ */

/* What the I/O layer counts beside the SA database's drops. */
enum esp_io_counter {
    ESP_IO_RX_PACKETS = 0, /* datagrams read from the NAT-T and raw sockets */
    ESP_IO_RX_ESP,         /* of those, ESP decrypted and written to a TUN */
    ESP_IO_TX_PACKETS,     /* ESP packets sent */
    ESP_IO_TUN_READ,       /* inner packets read from TUN queues */
    ESP_IO_KEEPALIVES,     /* NAT keepalives (dropped, not an error) */
    ESP_IO_IKE_IN,         /* IKE datagrams handed to the IKE thread */
    ESP_IO_IKE_OUT,        /* IKE datagrams sent for the IKE thread */
    ESP_IO_DROP_IKE_QUEUE, /* IKE queue full (also ESP_DROP_QUEUE_FULL) */
    ESP_IO_DROP_TUN_WRITE, /* TUN queue refused the packet (also QUEUE_FULL) */
    ESP_IO_DROP_SEND,      /* sendmmsg refused (also QUEUE_FULL) */
    ESP_IO_DROP_NO_TUN,    /* decrypted for a tenant without a device */
    ESP_IO_DROP_MALFORMED, /* short, truncated, bad outer header (also MALFORMED) */
    ESP_IO_RX_XDP,         /* of rx_packets, those taken through AF_XDP */
    ESP_IO_COUNTER_COUNT
};

const char *esp_io_counter_name(enum esp_io_counter c);

/* Interfaces whose AF_XDP receive path is running (of cfg.xdp). */
unsigned esp_io_xdp_active(const struct esp_io *io);

/* Sums over the workers. */
void esp_io_counters(struct esp_io *io, uint64_t out[ESP_IO_COUNTER_COUNT]);

/* --- Classification (exposed for tests) ----------------------------------- */

enum esp_io_kind {
    ESP_IO_KIND_MALFORMED = 0,
    ESP_IO_KIND_KEEPALIVE,
    ESP_IO_KIND_IKE,
    ESP_IO_KIND_ESP,
};

/* What a UDP payload on the NAT-T port is (RFC 3948 section 2). */
enum esp_io_kind esp_io_classify(const uint8_t *buf, size_t len);

#endif
