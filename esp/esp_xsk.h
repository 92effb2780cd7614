/*
 * One AF_XDP socket (XSK) of the receive path: bound to one receive queue
 * of one interface, with its own UMEM (packet memory shared with the
 * kernel) and its fill and RX rings. The XDP program (esp_xdp.h) sends it
 * the ESP-in-UDP datagrams of that queue; its worker takes them from the RX
 * ring without a system call per packet, and gives each frame back to the
 * fill ring once it has copied what it needs.
 *
 * Single consumer: only the owning worker calls esp_xsk_peek/release.
 */
#ifndef ISTHMUS_ESP_XSK_H
#define ISTHMUS_ESP_XSK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct esp_xsk;

/* The longest frame a socket takes (a UMEM frame less the kernel's XDP
 * headroom); the XDP program passes longer ones to the kernel. Keep in
 * step with esp/bpf/esp_xdp.bpf.c. */
#define ESP_XSK_FRAME_MAX (4096 - 256)

/* A received frame: the Ethernet frame as it came, in the UMEM (valid
 * until esp_xsk_release). */
struct esp_xsk_frame {
    const uint8_t *data;
    size_t len;
};

/* An AF_XDP socket on queue `queue` of interface ifindex (zero-copy where
 * the driver offers it, else copy mode). NULL with a reason in err. */
struct esp_xsk *esp_xsk_open(unsigned ifindex, unsigned queue, char *err, size_t errlen);
void esp_xsk_close(struct esp_xsk *x); /* NULL accepted */

/* For epoll (readable when the RX ring holds frames) and the XSK map. */
int esp_xsk_fd(const struct esp_xsk *x);
unsigned esp_xsk_queue(const struct esp_xsk *x);

/* Up to max frames from the RX ring, oldest first. */
unsigned esp_xsk_peek(struct esp_xsk *x, struct esp_xsk_frame *out, unsigned max);
/* Gives the n frames of the last peek back to the kernel (fill ring). */
void esp_xsk_release(struct esp_xsk *x, unsigned n);

/* The UDP datagram in an Ethernet frame (IPv4 without fragments, or IPv6
 * with UDP as the next header): its payload (within frame) and the peer's
 * address and port. The IPv4 header checksum, the lengths of IP and UDP
 * (Ethernet padding cut off) are checked; the UDP checksum is not (ESP's
 * integrity check covers the payload). Returns 0, or -1 if malformed. */
int esp_xsk_parse(const uint8_t *frame, size_t len, const uint8_t **payload, size_t *plen,
                  struct sockaddr_storage *peer);

#endif
