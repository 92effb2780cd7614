/*
 * Transmit offload for tenant TUN devices: with TUNSETOFFLOAD (checksum,
 * TSO, USO) the tenant's kernel hands a worker one large TCP or UDP packet
 * (up to 64 KiB, a virtio_net_hdr before it) instead of many, and packets
 * whose L4 checksum it left to "the device". Before ESP, each such packet is
 * cut here into the packets the kernel would have sent (what a NIC does
 * with TSO), each with a complete checksum: ESP carries the inner packet as
 * it is, so the client must receive final checksums.
 *
 * Segments are built as Linux's software GSO builds them: every segment
 * gets the head's IP and L4 headers; IPv4 total length, id (+1 per segment)
 * and header checksum; IPv6 payload length; TCP sequence number (+ offset),
 * FIN and PSH on the last segment only, CWR on the first only; UDP length.
 *
 * Pure functions: no I/O. The header and packet are read through
 * concentrator/wire.h; a header that does not fit the packet is refused.
 */
#ifndef ISTHMUS_ESP_GSO_H
#define ISTHMUS_ESP_GSO_H

#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/esp_gro.h"

/* A packet read with its virtio_net_hdr, checked. */
struct esp_gso {
    const uint8_t *pkt;
    size_t len;
    unsigned family; /* 4 or 6 */
    uint8_t proto;   /* 6 TCP, 17 UDP */
    size_t l4;       /* offset of the TCP/UDP header */
    size_t hlen;     /* IP + L4 header bytes copied into every segment */
    size_t mss;      /* payload bytes per segment (the last may be shorter) */
    unsigned nseg;
};

/* Checks a GSO packet (gso_type TCPV4, TCPV6 or UDP_L4) against its header
 * and fills g. Returns 0, or -1 when the packet is not one this code can cut
 * (then drop it: the kernel only sends those types when they were
 * offered). */
int esp_gso_parse(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len,
                  struct esp_gso *g);

/* Writes segment i (0 .. g->nseg-1) to out (at least g->hlen + g->mss
 * bytes); returns its length, 0 if i or cap are out of range. */
size_t esp_gso_segment(const struct esp_gso *g, unsigned i, uint8_t *out, size_t cap);

/* Completes the checksum of a packet without GSO that the kernel marked
 * VIRTIO_NET_HDR_F_NEEDS_CSUM: the sum from csum_start to the end, stored at
 * csum_start + csum_offset. Returns 0, -1 when the offsets do not fit. */
int esp_gso_csum(const struct virtio_net_hdr *h, uint8_t *pkt, size_t len);

#endif
