/*
 * IKE's sockets: UDP 500 and the NAT-T port (4500) on every [ike] listen
 * address, owned by the IKE thread. Replies leave from the address the
 * request came to (IP_PKTINFO / IPV6_PKTINFO).
 *
 * On the NAT-T port, IKE messages carry a 4-byte zero non-ESP marker (RFC
 * 3948), stripped here on receive and added on send; a single 0xFF byte is a
 * NAT keepalive and is dropped; anything else is ESP and goes to the on_esp
 * callback (the data plane), or is dropped when there is none.
 *
 * Once the ESP workers own the NAT-T port, they hand IKE messages they
 * receive there to ike_net_input() and the IKE thread sends through
 * the send hook they provide (ike_net_set_natt_sender).
 */
#ifndef ISTHMUS_IKE_NET_H
#define ISTHMUS_IKE_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct evl;
struct config;
struct ike_net;

/* Where a datagram came from and went to. */
struct ike_path {
    struct sockaddr_storage peer;
    struct sockaddr_storage local;
    bool natt; /* on the NAT-T port (with the non-ESP marker) */
};

#define IKE_MAX_DATAGRAM 65535

typedef void (*ike_net_rx_fn)(void *arg, const uint8_t *msg, size_t len,
                              const struct ike_path *path);
typedef void (*ike_net_esp_fn)(void *arg, const uint8_t *pkt, size_t len,
                               const struct ike_path *path);
/* Sends one UDP datagram (marker already added) from local to peer on the
 * NAT-T port; returns 0 or -1. */
typedef int (*ike_net_natt_send_fn)(void *arg, const uint8_t *buf, size_t len,
                                    const struct ike_path *path);

/* Binds the sockets. own_natt: also bind the NAT-T port (false when the
 * ESP workers own it). Returns NULL with err on failure (port in use, bad
 * address, no permission). */
struct ike_net *ike_net_open(const struct config *cfg, struct evl *loop, bool own_natt,
                             ike_net_rx_fn on_ike, ike_net_esp_fn on_esp, void *arg, char *err,
                             size_t errlen);
void ike_net_close(struct ike_net *n); /* NULL accepted */

void ike_net_set_natt_sender(struct ike_net *n, ike_net_natt_send_fn fn, void *arg);

/* Sends an IKE message along path (adding the non-ESP marker on NAT-T).
 * Returns 0 or -1 (logged, rate-limited). */
int ike_net_send(struct ike_net *n, const uint8_t *msg, size_t len, const struct ike_path *path);

/* Feeds a datagram received elsewhere (an ESP worker) as if read here: buf
 * is the UDP payload, marker included. */
void ike_net_input(struct ike_net *n, const uint8_t *buf, size_t len, const struct ike_path *path);

/* The local port a socket actually bound (for tests binding port 0). */
uint16_t ike_net_port(const struct ike_net *n, bool natt);

/* "198.51.100.2[4500]" for logs. */
const char *ike_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len);
uint16_t ike_addr_port(const struct sockaddr_storage *ss);
bool ike_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b,
                    bool with_port);

#endif
