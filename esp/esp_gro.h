/*
 * Receive offload for tenant TUN devices: decrypted TCP segments (or UDP
 * datagrams) of one flow that arrive in one batch are written to the TUN
 * device as one GSO packet (IFF_VNET_HDR, a virtio_net_hdr before the packet), so the
 * tenant's kernel routes and delivers one large packet instead of many
 * (what GRO does for a NIC, and wireguard-go for its TUN device).
 *
 * Segments merge only when Linux GRO would merge them: same addresses,
 * ports, TOS/TTL (or traffic class, flow label, hop limit), ACK number,
 * window and TCP options; IPv4 without options or fragmentation, IPv6
 * without extension headers; flags ACK only (PSH ends a run); sequence
 * numbers contiguous; every payload the first one's size except a shorter
 * last one. The TCP checksum of every merged segment is verified here
 * (the GSO packet is marked as needing a checksum, which the kernel then
 * trusts), so a segment with a bad checksum is written alone and dropped
 * by the kernel as before.
 *
 * Pure functions: no I/O. Packets are read through concentrator/wire.h.
 */
#ifndef ISTHMUS_ESP_GRO_H
#define ISTHMUS_ESP_GRO_H

#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>

#define ESP_GRO_MAX 64 /* segments in one GSO write */

/* How many packets from pkts[0] on form one TUN write: 1 .. n (0 if n is
 * 0). For a run of more than one, pkts[0]'s IP header (length, IPv4
 * checksum) and TCP header (PSH of the last segment, pseudo-header
 * checksum) are rewritten for the whole, *hdr describes a TCP GSO packet,
 * and *hlen is the IP + TCP header length: the write is pkts[0] whole,
 * then each other packet from byte *hlen on. For a run of one, *hdr is all
 * zero, *hlen 0 and nothing is changed. */
/* UDP datagrams merge the same way (a VIRTIO_NET_HDR_GSO_UDP_L4 packet,
 * which the kernel splits again before a socket without UDP_GRO sees it):
 * same addresses, ports, TOS/TTL (traffic class, flow label, hop limit),
 * every payload the first one's size but a shorter last one, and a UDP
 * checksum that verifies (an IPv4 datagram without a checksum is written
 * alone, so it stays without one). */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

unsigned esp_gro_run(uint8_t *const pkts[], const size_t lens[], unsigned n,
                     struct virtio_net_hdr *hdr, size_t *hlen);

/* The Internet checksum (RFC 1071) of a TCP or UDP segment with its IPv4
 * or IPv6 pseudo-header: 0 when a received segment's checksum is right.
 * pkt is the IP packet, l4 the offset of the segment in it. */
uint16_t esp_gro_l4_csum(const uint8_t *pkt, size_t len, size_t l4, uint8_t proto);

/* Pieces of the Internet checksum for callers that build packets
 * (esp_gso.c): a running sum of n bytes as 16-bit words in memory order,
 * folded to 16 bits (memory order; ~ it for the field), and the IPv4 (ip
 * 20 bytes) or IPv6 (ip 40 bytes) pseudo-header sum for an L4 segment of
 * l4len bytes. */
uint64_t esp_gro_csum_add(uint64_t acc, const uint8_t *p, size_t n);
uint16_t esp_gro_csum_fold(uint64_t acc);
uint64_t esp_gro_csum_pseudo(const uint8_t *ip, unsigned family, uint8_t proto, size_t l4len);

#endif
