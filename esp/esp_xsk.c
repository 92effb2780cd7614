/* One AF_XDP socket: see esp_xsk.h. The rings are set up by hand (the
 * kernel's AF_XDP interface, linux/if_xdp.h): a UMEM of FRAMES frames, all
 * of them handed to the kernel through the fill ring at start. */
#define _GNU_SOURCE
#include "esp/esp_xsk.h"

#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_xdp.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "concentrator/wire.h"
#include "esp/esp_gro.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif

#define FRAME_SIZE 4096u /* frames up to ESP_XSK_FRAME_MAX (XDP headroom) */
#define FRAMES     1024u /* 4 MiB of UMEM per socket: ~1 ms at 1 Mpps */
#define RX_SIZE    512u
#define FILL_SIZE  FRAMES
#define COMP_SIZE  64u /* required by the kernel; unused (no TX ring) */

struct ring {
    _Atomic uint32_t *producer, *consumer;
    uint32_t *flags;
    void *desc;
    uint32_t mask;
    void *map;
    size_t map_len;
};

struct esp_xsk {
    int fd;
    unsigned queue;
    uint8_t *umem;
    struct ring rx, fill, comp;
    uint64_t held[RX_SIZE]; /* frame addresses of the last peek */
    unsigned n_held;
};

static int map_ring(int fd, struct ring *r, const struct xdp_ring_offset *off, uint32_t n,
                    size_t entry, off_t pgoff)
{
    r->map_len = off->desc + n * entry;
    r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
    if (r->map == MAP_FAILED) {
        r->map = NULL;
        return -1;
    }
    r->producer = (_Atomic uint32_t *)((uint8_t *)r->map + off->producer);
    r->consumer = (_Atomic uint32_t *)((uint8_t *)r->map + off->consumer);
    r->flags = (uint32_t *)((uint8_t *)r->map + off->flags);
    r->desc = (uint8_t *)r->map + off->desc;
    r->mask = n - 1;
    return 0;
}

static void unmap_ring(struct ring *r)
{
    if (r->map)
        munmap(r->map, r->map_len);
    r->map = NULL;
}

void esp_xsk_close(struct esp_xsk *x)
{
    if (!x)
        return;
    if (x->fd >= 0)
        close(x->fd);
    unmap_ring(&x->rx);
    unmap_ring(&x->fill);
    unmap_ring(&x->comp);
    if (x->umem)
        munmap(x->umem, (size_t)FRAMES * FRAME_SIZE);
    free(x);
}

static int set_int(int fd, int opt, unsigned v)
{
    int i = (int)v;
    return setsockopt(fd, SOL_XDP, opt, &i, sizeof(i));
}

/* Binds to the queue. The socket of a daemon that was killed leaves the
 * queue a moment after its death (the kernel frees its UMEM in a work
 * item): EBUSY is retried for up to 2 s. */
static int bind_queue(int fd, const struct sockaddr_xdp *sa)
{
    for (int i = 0; i < 40; i++) {
        if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
            return 0;
        if (errno != EBUSY)
            return -1;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

struct esp_xsk *esp_xsk_open(unsigned ifindex, unsigned queue, char *err, size_t errlen)
{
    struct esp_xsk *x = calloc(1, sizeof(*x));
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->queue = queue;
    const char *step = "socket(AF_XDP)";
    x->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (x->fd < 0)
        goto fail;
    step = "UMEM";
    x->umem = mmap(NULL, (size_t)FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (x->umem == MAP_FAILED) {
        x->umem = NULL;
        goto fail;
    }
    struct xdp_umem_reg reg = {
        .addr = (uint64_t)(uintptr_t)x->umem,
        .len = (uint64_t)FRAMES * FRAME_SIZE,
        .chunk_size = FRAME_SIZE,
    };
    if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) < 0)
        goto fail;
    step = "rings";
    if (set_int(x->fd, XDP_UMEM_FILL_RING, FILL_SIZE) < 0 ||
        set_int(x->fd, XDP_UMEM_COMPLETION_RING, COMP_SIZE) < 0 ||
        set_int(x->fd, XDP_RX_RING, RX_SIZE) < 0)
        goto fail;
    struct xdp_mmap_offsets off;
    socklen_t ol = sizeof(off);
    if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol) < 0)
        goto fail;
    if (map_ring(x->fd, &x->rx, &off.rx, RX_SIZE, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING) < 0 ||
        map_ring(x->fd, &x->fill, &off.fr, FILL_SIZE, sizeof(uint64_t),
                 (off_t)XDP_UMEM_PGOFF_FILL_RING) < 0 ||
        map_ring(x->fd, &x->comp, &off.cr, COMP_SIZE, sizeof(uint64_t),
                 (off_t)XDP_UMEM_PGOFF_COMPLETION_RING) < 0)
        goto fail;
    /* Every frame to the kernel. */
    uint64_t *fill = x->fill.desc;
    for (uint32_t i = 0; i < FRAMES; i++)
        fill[i & x->fill.mask] = (uint64_t)i * FRAME_SIZE;
    atomic_store_explicit(x->fill.producer, FRAMES, memory_order_release);
    step = "bind";
    struct sockaddr_xdp sa = {
        .sxdp_family = AF_XDP,
        .sxdp_ifindex = ifindex,
        .sxdp_queue_id = queue,
        .sxdp_flags = XDP_USE_NEED_WAKEUP,
    };
    if (bind_queue(x->fd, &sa) < 0) {
        sa.sxdp_flags = XDP_COPY | XDP_USE_NEED_WAKEUP;
        if (bind_queue(x->fd, &sa) < 0)
            goto fail;
    }
    return x;
fail:
    snprintf(err, errlen, "AF_XDP socket on queue %u: %s: %s", queue, step, strerror(errno));
    esp_xsk_close(x);
    return NULL;
}

int esp_xsk_fd(const struct esp_xsk *x)
{
    return x->fd;
}

unsigned esp_xsk_queue(const struct esp_xsk *x)
{
    return x->queue;
}

unsigned esp_xsk_peek(struct esp_xsk *x, struct esp_xsk_frame *out, unsigned max)
{
    uint32_t cons = atomic_load_explicit(x->rx.consumer, memory_order_relaxed);
    uint32_t prod = atomic_load_explicit(x->rx.producer, memory_order_acquire);
    uint32_t n = prod - cons;
    if (n > max)
        n = max;
    if (n > RX_SIZE)
        n = RX_SIZE;
    const struct xdp_desc *d = x->rx.desc;
    for (uint32_t i = 0; i < n; i++) {
        const struct xdp_desc *e = &d[(cons + i) & x->rx.mask];
        /* The kernel's word, but bounded anyway: a frame of our UMEM. */
        uint64_t addr = e->addr % ((uint64_t)FRAMES * FRAME_SIZE);
        uint64_t room = FRAME_SIZE - addr % FRAME_SIZE;
        x->held[i] = addr - addr % FRAME_SIZE;
        out[i].data = x->umem + addr;
        out[i].len = e->len <= room ? e->len : (size_t)room;
    }
    x->n_held = n;
    return n;
}

void esp_xsk_release(struct esp_xsk *x, unsigned n)
{
    if (n > x->n_held)
        n = x->n_held;
    if (!n)
        return;
    /* The frames go back to the fill ring first, then leave the RX ring:
     * never more frames out than the fill ring holds. */
    uint32_t fprod = atomic_load_explicit(x->fill.producer, memory_order_relaxed);
    uint64_t *fill = x->fill.desc;
    for (unsigned i = 0; i < n; i++)
        fill[(fprod + i) & x->fill.mask] = x->held[i];
    atomic_store_explicit(x->fill.producer, fprod + n, memory_order_release);
    uint32_t cons = atomic_load_explicit(x->rx.consumer, memory_order_relaxed);
    atomic_store_explicit(x->rx.consumer, cons + n, memory_order_release);
    x->n_held = 0;
    if (*(volatile uint32_t *)x->fill.flags & XDP_RING_NEED_WAKEUP)
        recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

int esp_xsk_parse(const uint8_t *frame, size_t len, const uint8_t **payload, size_t *plen,
                  struct sockaddr_storage *peer)
{
    struct rd r = rd_init(frame, len);
    rd_skip(&r, 12); /* MAC addresses */
    uint16_t type = rd_u16(&r);
    memset(peer, 0, sizeof(*peer));
    size_t ip_len;
    if (!rd_ok(&r))
        return -1;
    if (type == ETH_P_IP) {
        const uint8_t *ip = rd_bytes(&r, 20);
        if (!ip || ip[0] >> 4 != 4 || ip[9] != IPPROTO_UDP)
            return -1;
        size_t ihl = (size_t)(ip[0] & 15) * 4;
        ip_len = (size_t)ip[2] << 8 | ip[3];
        if (ihl < 20 || ip_len < ihl + 8 || ip_len > 20 + rd_left(&r) ||
            ((ip[6] & 0x3f) | ip[7]) != 0) /* MF or an offset: a fragment */
            return -1;
        if (ihl > 20 && !rd_skip(&r, ihl - 20))
            return -1;
        if (esp_gro_csum_fold(esp_gro_csum_add(0, ip, ihl)) != 0xffff)
            return -1; /* the header checksum */
        struct sockaddr_in *sin = (struct sockaddr_in *)peer;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, ip + 12, 4);
        ip_len -= ihl;
    } else if (type == ETH_P_IPV6) {
        const uint8_t *ip = rd_bytes(&r, 40);
        if (!ip || ip[0] >> 4 != 6 || ip[6] != IPPROTO_UDP)
            return -1;
        ip_len = (size_t)ip[4] << 8 | ip[5];
        if (ip_len < 8 || ip_len > rd_left(&r))
            return -1;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)peer;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, ip + 8, 16);
    } else {
        return -1;
    }
    /* ip_len: the UDP header and payload, within the frame. */
    uint16_t sport = rd_u16(&r);
    rd_skip(&r, 2);
    uint16_t ulen = rd_u16(&r);
    rd_skip(&r, 2);
    if (!rd_ok(&r) || ulen < 8 || ulen > ip_len)
        return -1;
    if (peer->ss_family == AF_INET)
        ((struct sockaddr_in *)peer)->sin_port = htons(sport);
    else
        ((struct sockaddr_in6 *)peer)->sin6_port = htons(sport);
    *plen = (size_t)ulen - 8;
    *payload = rd_bytes(&r, *plen);
    return *payload || !*plen ? 0 : -1;
}
