/* An ESP worker: epoll over its NAT-T sockets, its queue of every tenant's
 * TUN device and (worker 0) the raw ESP sockets; batches in and out. See
 * esp_io.h. */
#define _GNU_SOURCE
#include "esp/esp_io_int.h"

#include <errno.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "concentrator/wire.h"
#include "esp/esp_gro.h"
#include "esp/esp_gso.h"
#include "esp/esp_sadb.h"
#include "esp/esp_xsk.h"

#define EVENTS_MAX       64
#define BATCHES_PER_WAKE 8 /* then back to epoll, so no source starves the others */

static struct esp_tun *tun_of(struct esp_io *io, uint32_t tenant)
{
    if (tenant == 0 || tenant >= ESP_IO_MAX_TENANTS)
        return NULL;
    return rcu_dereference(io->tuns[tenant]);
}

static void tun_flush(struct esp_worker *w);

/* An inbound ESP packet (from the SPI on): decrypt, then to the tenant's
 * TUN queue of this worker. */
static void deliver(struct esp_worker *w, struct esp_buf *b, const struct sockaddr_storage *from)
{
    struct esp_io *io = w->io;
    struct esp_rx_info info;
    struct esp_addr src;
    esp_io_addr_of(from, &src);
    if (esp_sadb_decap_from(io->db, w->id, b, src.family ? &src : NULL, &info) != ESP_OK)
        return; /* counted by the database */
    struct esp_tun *t = tun_of(io, info.tenant);
    if (!t) {
        esp_io_count(w, ESP_IO_DROP_NO_TUN, 1);
        return;
    }
    /* Written by tun_flush at the end of the batch (same RCU read side),
     * or now when a batch of coalesced datagrams fills the list. */
    if (w->n_pend == ESP_IO_BATCH_MAX)
        tun_flush(w);
    struct esp_tun_out *o = &w->pend[w->n_pend++];
    o->fd = t->fds[w->id % t->nq];
    o->vnet = t->vnet;
    o->pkt = esp_buf_data(b);
    o->len = b->len;
}

static void tun_written(struct esp_worker *w, unsigned n, bool ok)
{
    if (ok) {
        esp_io_count(w, ESP_IO_RX_ESP, n);
        return;
    }
    esp_io_count(w, ESP_IO_DROP_TUN_WRITE, n);
    for (unsigned i = 0; i < n; i++)
        esp_sadb_count_drop(w->io->db, w->id, ESP_DROP_QUEUE_FULL);
}

/* pend[i..j) share one vnet queue: one writev per run of mergeable TCP
 * segments (a GSO packet), or per packet with an empty header. */
static void tun_write_vnet(struct esp_worker *w, unsigned i, unsigned j)
{
    uint8_t *pkts[ESP_IO_BATCH_MAX];
    size_t lens[ESP_IO_BATCH_MAX];
    for (unsigned k = i; k < j; k++) {
        pkts[k - i] = w->pend[k].pkt;
        lens[k - i] = w->pend[k].len;
    }
    unsigned n = j - i, k = 0;
    while (k < n) {
        struct virtio_net_hdr h;
        size_t hlen;
        unsigned run = esp_gro_run(pkts + k, lens + k, n - k, &h, &hlen);
        struct iovec iov[ESP_GRO_MAX + 1];
        iov[0].iov_base = &h;
        iov[0].iov_len = sizeof(h);
        iov[1].iov_base = pkts[k];
        iov[1].iov_len = lens[k];
        size_t want = sizeof(h) + lens[k];
        for (unsigned m = 1; m < run; m++) {
            iov[1 + m].iov_base = pkts[k + m] + hlen; /* hlen < lens: esp_gro_run */
            iov[1 + m].iov_len = lens[k + m] - hlen;
            want += lens[k + m] - hlen;
        }
        tun_written(w, run, writev(w->pend[i].fd, iov, (int)run + 1) == (ssize_t)want);
        k += run;
    }
}

/* Writes the batch's decrypted packets, in order per queue. */
static void tun_flush(struct esp_worker *w)
{
    unsigned i = 0;
    while (i < w->n_pend) {
        const struct esp_tun_out *o = &w->pend[i];
        if (!o->vnet) {
            tun_written(w, 1, write(o->fd, o->pkt, o->len) == (ssize_t)o->len);
            i++;
            continue;
        }
        unsigned j = i + 1;
        while (j < w->n_pend && w->pend[j].fd == o->fd && w->pend[j].vnet)
            j++;
        tun_write_vnet(w, i, j);
        i = j;
    }
    w->n_pend = 0;
}

static void malformed(struct esp_worker *w)
{
    esp_sadb_count_drop(w->io->db, w->id, ESP_DROP_MALFORMED);
    esp_io_count(w, ESP_IO_DROP_MALFORMED, 1);
}

/* The segment size of a datagram the kernel coalesced (UDP_GRO), or 0. */
static size_t gro_segment(struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
            c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int v;
            memcpy(&v, CMSG_DATA(c), sizeof(v));
            return v > 0 ? (size_t)v : 0;
        }
    }
    return 0;
}

static void on_datagram(struct esp_worker *w, const struct esp_io_sock *s, unsigned i,
                        struct esp_buf *b);

/* One recvmmsg message: a datagram, or with UDP_GRO several datagrams of
 * one size from one peer, each handled as if read alone. */
static void on_udp(struct esp_worker *w, const struct esp_io_sock *s, unsigned i)
{
    struct esp_buf *b = &w->bufs[i];
    struct mmsghdr *m = &w->msgs[i];
    b->len = m->msg_len;
    if (m->msg_hdr.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        malformed(w);
        return;
    }
    size_t seg = gro_segment(&m->msg_hdr);
    if (!seg || seg >= b->len) {
        on_datagram(w, s, i, b);
        return;
    }
    uint64_t n = 0;
    for (size_t at = 0; at < b->len; at += seg) {
        struct esp_buf part = *b; /* decap moves part, not b */
        part.off = b->off + at;
        part.len = b->len - at < seg ? b->len - at : seg;
        on_datagram(w, s, i, &part);
        n++;
    }
    esp_io_count(w, ESP_IO_RX_PACKETS, n - 1);
}

static void on_datagram(struct esp_worker *w, const struct esp_io_sock *s, unsigned i,
                        struct esp_buf *b)
{
    struct mmsghdr *m = &w->msgs[i];
    switch (esp_io_classify(esp_buf_data(b), b->len)) {
    case ESP_IO_KIND_KEEPALIVE:
        esp_io_count(w, ESP_IO_KEEPALIVES, 1);
        break;
    case ESP_IO_KIND_IKE: {
        struct esp_io_path path;
        memcpy(&path.peer, &w->names[i], sizeof(path.peer));
        esp_io_get_pktinfo(&m->msg_hdr, s->family, w->io->port, &path.local);
        esp_io_ike_push(w->io, w, esp_buf_data(b), b->len, &path);
        break;
    }
    case ESP_IO_KIND_ESP:
        deliver(w, b, &w->names[i]);
        break;
    default:
        malformed(w);
        break;
    }
}

/* Raw ESP: IPv4 raw sockets deliver the IP header, IPv6 ones do not. */
static void on_raw(struct esp_worker *w, const struct esp_io_sock *s, unsigned i)
{
    struct esp_buf *b = &w->bufs[i];
    b->len = w->msgs[i].msg_len;
    if (w->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        malformed(w);
        return;
    }
    if (s->family == AF_INET) {
        struct rd r = rd_init(esp_buf_data(b), b->len);
        uint8_t vihl = rd_u8(&r);
        size_t ihl = (size_t)(vihl & 0x0f) * 4;
        if (!rd_ok(&r) || vihl >> 4 != 4 || ihl < 20 || ihl > b->len) {
            malformed(w);
            return;
        }
        b->off += ihl;
        b->len -= ihl;
    }
    if (b->len < 8) {
        malformed(w);
        return;
    }
    deliver(w, b, &w->names[i]);
}

/* One recvmmsg batch from s; returns the datagrams read. */
static int rx_batch(struct esp_worker *w, const struct esp_io_sock *s, bool raw)
{
    unsigned n = 0;
    while (n < w->io->batch && esp_pool_get(w->pool, &w->bufs[n])) {
        struct esp_buf *b = &w->bufs[n];
        w->iov[n].iov_base = esp_buf_data(b);
        w->iov[n].iov_len = ESP_POOL_DATA_MAX;
        struct msghdr *mh = &w->msgs[n].msg_hdr;
        memset(mh, 0, sizeof(*mh));
        mh->msg_name = &w->names[n];
        mh->msg_namelen = sizeof(w->names[n]);
        mh->msg_iov = &w->iov[n];
        mh->msg_iovlen = 1;
        mh->msg_control = w->ctl[n].c;
        mh->msg_controllen = sizeof(w->ctl[n].rx);
        n++;
    }
    int r = n ? recvmmsg(s->fd, w->msgs, n, MSG_DONTWAIT, NULL) : -1;
    if (r > 0) {
        esp_io_count(w, ESP_IO_RX_PACKETS, (uint64_t)r);
        for (int i = 0; i < r; i++) {
            if (raw)
                on_raw(w, s, (unsigned)i);
            else
                on_udp(w, s, (unsigned)i);
        }
        tun_flush(w);
    }
    for (unsigned i = 0; i < n; i++)
        esp_pool_put(w->pool, &w->bufs[i]);
    return r;
}

/* One batch from an AF_XDP socket: each frame's UDP payload is copied
 * into a buffer of the pool (the frame goes straight back to the kernel),
 * then handled as a datagram read from a NAT-T socket would be. The XDP
 * program sends only ESP here; anything else is counted as malformed.
 * Returns the frames taken. */
static int rx_xsk(struct esp_worker *w, struct esp_xsk *x)
{
    struct esp_xsk_frame f[ESP_IO_BATCH_MAX];
    unsigned n = esp_xsk_peek(x, f, w->io->batch), used = 0;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *payload;
        size_t plen;
        struct esp_buf *b = &w->bufs[used];
        if (esp_xsk_parse(f[i].data, f[i].len, &payload, &plen, &w->names[used]) < 0 ||
            plen > ESP_POOL_DATA_MAX || !esp_pool_get(w->pool, b)) {
            malformed(w);
            continue;
        }
        memcpy(esp_buf_data(b), payload, plen);
        b->len = plen;
        used++;
        if (esp_io_classify(esp_buf_data(b), b->len) == ESP_IO_KIND_ESP)
            deliver(w, b, &w->names[used - 1]);
        else
            malformed(w);
    }
    esp_xsk_release(x, n);
    esp_io_count(w, ESP_IO_RX_PACKETS, n);
    esp_io_count(w, ESP_IO_RX_XDP, n);
    tun_flush(w);
    for (unsigned i = 0; i < used; i++)
        esp_pool_put(w->pool, &w->bufs[i]);
    return (int)n;
}

/* What cannot be sent: counted as refused. */
static void send_dropped(struct esp_worker *w, unsigned n)
{
    esp_io_count(w, ESP_IO_DROP_SEND, n);
    for (unsigned d = 0; d < n; d++)
        esp_sadb_count_drop(w->io->db, w->id, ESP_DROP_QUEUE_FULL);
}

/* Sends msgs[first..first+n) on fd, one datagram each; drops what is
 * refused. */
static void send_plain(struct esp_worker *w, int fd, unsigned first, unsigned n)
{
    unsigned k = first, end = first + n;
    while (k < end) {
        int s = sendmmsg(fd, &w->msgs[k], end - k, MSG_DONTWAIT);
        if (s > 0) {
            esp_io_count(w, ESP_IO_TX_PACKETS, (uint64_t)s);
            k += (unsigned)s;
            continue;
        }
        /* A full socket buffer refuses the rest; another error only the
         * packet at k (e.g. an unreachable destination). */
        unsigned dropped = errno == EAGAIN || errno == ENOBUFS ? end - k : 1;
        send_dropped(w, dropped);
        k += dropped;
    }
}

#define GSO_MAX_SEGS  64    /* UDP_MAX_SEGMENTS of older kernels */
#define GSO_MAX_BYTES 65000 /* UDP payload of one GSO send, under 64 KiB with headers */

static bool same_target(const struct msghdr *a, const struct msghdr *b)
{
    return a->msg_namelen == b->msg_namelen &&
           memcmp(a->msg_name, b->msg_name, a->msg_namelen) == 0 &&
           a->msg_controllen == b->msg_controllen &&
           (!a->msg_controllen || memcmp(a->msg_control, b->msg_control, a->msg_controllen) == 0);
}

/* How many datagrams from msgs[i] on leave as one UDP GSO send: same
 * socket, peer and source address, every one the first one's size but a
 * shorter last one (the kernel cuts them at that size again). */
static unsigned gso_run(struct esp_worker *w, unsigned i, unsigned n)
{
    if (!w->io->gso || !w->out_udp[i])
        return 1;
    const struct msghdr *a = &w->msgs[i].msg_hdr;
    size_t seg = w->iov[i].iov_len, total = seg;
    unsigned j = i + 1;
    while (j < n && j - i < GSO_MAX_SEGS) {
        size_t len = w->iov[j].iov_len;
        if (w->out_fd[j] != w->out_fd[i] || len > seg || total + len > GSO_MAX_BYTES ||
            !same_target(a, &w->msgs[j].msg_hdr))
            break;
        total += len;
        j++;
        if (len < seg)
            break;
    }
    return j - i;
}

/* Message m: msgs[i..i+run) as one sendmsg with UDP_SEGMENT. */
static void gso_msg(struct esp_worker *w, unsigned m, unsigned i, unsigned run)
{
    struct msghdr *g = &w->gmsgs[m].msg_hdr;
    *g = w->msgs[i].msg_hdr;
    w->gfirst[m] = i;
    w->gcount[m] = run;
    if (run == 1)
        return;
    g->msg_iov = &w->iov[i];
    g->msg_iovlen = run;
    union esp_io_ctl *c = &w->gctl[m];
    size_t cl = g->msg_controllen;
    if (cl)
        memcpy(c->rx, g->msg_control, cl);
    struct cmsghdr *cm = (struct cmsghdr *)(void *)(c->rx + cl);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t seg = (uint16_t)w->iov[i].iov_len;
    memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
    g->msg_control = c->rx;
    g->msg_controllen = cl + CMSG_SPACE(sizeof(uint16_t));
}

/* Sends msgs[0..n): runs to one peer as UDP GSO sends, runs of the same
 * socket in one sendmmsg; drops what is refused. A GSO send the kernel
 * refuses for another reason than a full buffer (a path MTU below the
 * segment size, ...) goes again one datagram at a time. */
static void flush(struct esp_worker *w, unsigned n)
{
    unsigned m = 0;
    for (unsigned i = 0; i < n; m++) {
        unsigned run = gso_run(w, i, n);
        gso_msg(w, m, i, run);
        i += run;
    }
    unsigned i = 0;
    while (i < m) {
        int fd = w->out_fd[w->gfirst[i]];
        unsigned j = i;
        while (j < m && w->out_fd[w->gfirst[j]] == fd)
            j++;
        unsigned k = i;
        while (k < j) {
            int s = sendmmsg(fd, &w->gmsgs[k], j - k, MSG_DONTWAIT);
            if (s > 0) {
                for (int d = 0; d < s; d++)
                    esp_io_count(w, ESP_IO_TX_PACKETS, w->gcount[k + (unsigned)d]);
                k += (unsigned)s;
                continue;
            }
            if (errno == EAGAIN || errno == ENOBUFS) {
                for (; k < j; k++)
                    send_dropped(w, w->gcount[k]);
                break;
            }
            if (w->gcount[k] > 1)
                send_plain(w, fd, w->gfirst[k], w->gcount[k]);
            else
                send_dropped(w, 1);
            k++;
        }
        i = j;
    }
}

/* Where an encrypted packet goes: its msghdr and socket. */
static bool address(struct esp_worker *w, unsigned n, const struct esp_tx_info *ti)
{
    const struct esp_endpoint *ep = &ti->endpoint;
    int family = ep->remote.family == 4 ? AF_INET : AF_INET6;
    const struct esp_io_sock *s = ep->udp_encap
                                      ? esp_io_pick(w->socks, w->n_socks, family, &ep->local)
                                      : esp_io_pick(w->io->raw, w->io->n_raw, family, &ep->local);
    if (!s)
        return false;
    struct msghdr *mh = &w->msgs[n].msg_hdr;
    memset(mh, 0, sizeof(*mh));
    mh->msg_namelen =
        esp_io_sockaddr(&ep->remote, ep->udp_encap ? ep->remote_port : 0, &w->names[n]);
    if (!mh->msg_namelen)
        return false;
    mh->msg_name = &w->names[n];
    w->iov[n].iov_base = esp_buf_data(&w->bufs[n]);
    w->iov[n].iov_len = w->bufs[n].len;
    mh->msg_iov = &w->iov[n];
    mh->msg_iovlen = 1;
    /* The source address rides in IP_PKTINFO, unless the socket is bound
     * to it anyway (no control message for the kernel to parse). */
    size_t alen = family == AF_INET ? 4 : 16;
    bool bound_to_it = !s->wildcard && memcmp(s->bound.bytes, ep->local.bytes, alen) == 0;
    mh->msg_controllen = ep->local.family == ep->remote.family && !bound_to_it
                             ? esp_io_put_pktinfo(&w->ctl[n], &ep->local)
                             : 0;
    mh->msg_control = mh->msg_controllen ? w->ctl[n].c : NULL;
    w->out_fd[n] = s->fd;
    w->out_udp[n] = ep->udp_encap;
    return true;
}

/* Sends and frees the n packets of a send batch; returns 0 (the new n). */
static unsigned tx_flush(struct esp_worker *w, unsigned n)
{
    flush(w, n);
    for (unsigned i = 0; i < n; i++)
        esp_pool_put(w->pool, &w->bufs[i]);
    return 0;
}

/* Encrypts inner packet b (ours now) into send slot n; returns the slots in
 * use, flushed when full. */
static unsigned tx_one(struct esp_worker *w, uint32_t tenant, const struct esp_buf *b, unsigned n)
{
    w->bufs[n] = *b;
    struct esp_tx_info ti;
    if (esp_sadb_encap(w->io->db, w->id, tenant, &w->bufs[n], &ti) != ESP_OK) {
        esp_pool_put(w->pool, &w->bufs[n]);
        return n; /* counted by the database */
    }
    if (!address(w, n, &ti)) {
        send_dropped(w, 1);
        esp_pool_put(w->pool, &w->bufs[n]);
        return n;
    }
    n++;
    return n == ESP_IO_BATCH_MAX ? tx_flush(w, n) : n;
}

/* A GSO packet read from the TUN (in rb, given back by the caller): each
 * segment into a buffer of its own, then ESP. Returns the slots in use. */
static unsigned tx_gso(struct esp_worker *w, uint32_t tenant, const struct virtio_net_hdr *h,
                       const struct esp_buf *rb, unsigned n, uint64_t *pkts)
{
    struct esp_gso g;
    if (esp_gso_parse(h, esp_buf_data(rb), rb->len, &g) < 0) {
        malformed(w);
        return n;
    }
    for (unsigned i = 0; i < g.nseg; i++) {
        struct esp_buf sb;
        if (!esp_pool_get(w->pool, &sb)) {
            n = tx_flush(w, n);
            if (!esp_pool_get(w->pool, &sb))
                break; /* cannot happen: the pool holds two batches */
        }
        sb.len = esp_gso_segment(&g, i, esp_buf_data(&sb), ESP_POOL_DATA_MAX);
        if (!sb.len) {
            malformed(w);
            esp_pool_put(w->pool, &sb);
            break;
        }
        (*pkts)++;
        n = tx_one(w, tenant, &sb, n);
    }
    return n;
}

/* One batch of reads from tenant's queue: encrypt and send. Returns the
 * reads. */
static int tx_batch(struct esp_worker *w, uint32_t tenant)
{
    struct esp_tun *t = tun_of(w->io, tenant);
    if (!t)
        return 0;
    int fd = t->fds[w->id % t->nq];
    unsigned n = 0;
    int got = 0;
    uint64_t pkts = 0;
    for (unsigned i = 0; i < w->io->batch; i++) {
        struct esp_buf b;
        if (!esp_pool_get(w->pool, &b))
            break;
        /* With IFF_VNET_HDR the header lands in the headroom, the packet
         * where it always starts. */
        size_t vh = t->vnet ? sizeof(struct virtio_net_hdr) : 0;
        ssize_t r = read(fd, esp_buf_data(&b) - vh, ESP_POOL_DATA_MAX + vh);
        if (r <= (ssize_t)vh) {
            esp_pool_put(w->pool, &b);
            if (r < 0)
                break;
            continue; /* an empty packet: read on */
        }
        got++;
        b.len = (size_t)r - vh;
        struct virtio_net_hdr h;
        memset(&h, 0, sizeof(h));
        if (vh)
            memcpy(&h, esp_buf_data(&b) - vh, sizeof(h));
        if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
            /* Only sent when offered (TUNSETOFFLOAD). */
            if (t->offload)
                n = tx_gso(w, tenant, &h, &b, n, &pkts);
            else
                malformed(w);
            esp_pool_put(w->pool, &b);
            continue;
        }
        if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
            (!t->offload || esp_gso_csum(&h, esp_buf_data(&b), b.len) < 0)) {
            malformed(w);
            esp_pool_put(w->pool, &b);
            continue;
        }
        pkts++;
        n = tx_one(w, tenant, &b, n);
    }
    esp_io_count(w, ESP_IO_TUN_READ, pkts);
    tx_flush(w, n);
    return got;
}

/* Works on one ready source, at most BATCHES_PER_WAKE batches; returns the
 * reads done, and whether the source may have more. */
static unsigned handle(struct esp_worker *w, uint64_t data, bool *stop, bool *more)
{
    unsigned kind = (unsigned)(data >> 32);
    uint32_t idx = (uint32_t)data;
    unsigned done = 0;
    for (int round = 0; round < BATCHES_PER_WAKE; round++) {
        int n = 0;
        switch (kind) {
        case EV_STOP:
            *stop = true;
            return done;
        case EV_UDP:
            if (idx < w->n_socks)
                n = rx_batch(w, &w->socks[idx], false);
            break;
        case EV_RAW:
            if (idx < w->io->n_raw)
                n = rx_batch(w, &w->io->raw[idx], true);
            break;
        case EV_TUN:
            n = tx_batch(w, idx);
            break;
        case EV_XSK:
            if (idx < w->n_xsk)
                n = rx_xsk(w, w->xsk[idx]);
            break;
        default:
            return done;
        }
        /* Nothing read from the database before this is used after. */
        rcu_quiescent_state();
        if (n > 0)
            done += (unsigned)n;
        if (n < (int)w->io->batch)
            return done;
    }
    *more = true;
    return done;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

unsigned esp_io_linger_us(unsigned done, uint64_t gap_us, unsigned linger_us)
{
    if (!done || !linger_us || (uint64_t)done * linger_us < 2 * gap_us)
        return 0;
    /* Packets due in linger_us at done/gap_us: at most the cap. */
    uint64_t gap = gap_us ? gap_us : 1;
    if ((uint64_t)done * linger_us > (uint64_t)ESP_IO_LINGER_MAX_PACKETS * gap)
        return (unsigned)((uint64_t)ESP_IO_LINGER_MAX_PACKETS * gap / done);
    return linger_us;
}

void *esp_worker_main(void *arg)
{
    struct esp_worker *w = arg;
    struct epoll_event ev[EVENTS_MAX];
    bool stop = false;
    uint64_t last = 0;
    /* Sleeps of linger_us end close to it (default slack is 50 us). */
    if (w->io->linger_us)
        prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    char name[16];
    snprintf(name, sizeof(name), "esp-worker-%u", w->id);
    pthread_setname_np(pthread_self(), name);
    rcu_register_thread();
    while (!stop) {
        rcu_thread_offline();
        int n = epoll_wait(w->epfd, ev, EVENTS_MAX, -1);
        rcu_thread_online();
        unsigned done = 0;
        bool more = false;
        for (int i = 0; i < n && !stop; i++)
            done += handle(w, ev[i].data.u64, &stop, &more);
        if (!w->io->linger_us || done == 0 || more || stop)
            continue;
        /* Less than a batch: when at least two more packets are due within
         * linger_us at the rate this wake-up saw (packets over the time
         * since the last one), wait that long for them before looking again
         * (interrupt moderation): each wake-up then carries several packets
         * (fewer context switches, larger GSO writes, fewer ACKs from the
         * tenant). Sparse traffic and an idle worker's first packet are
         * answered at once. */
        uint64_t t = now_us();
        uint64_t gap = t - last;
        last = t;
        unsigned wait = esp_io_linger_us(done, gap, w->io->linger_us);
        if (wait) {
            struct timespec ts = {0, (long)wait * 1000};
            rcu_thread_offline();
            nanosleep(&ts, NULL);
            rcu_thread_online();
        }
    }
    rcu_unregister_thread();
    return NULL;
}
