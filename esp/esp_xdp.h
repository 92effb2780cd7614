/*
 * The XDP program of the AF_XDP receive path ([esp] xdp): attached to an
 * interface that faces clients, it hands ESP in UDP to the NAT-T port to
 * the AF_XDP socket (esp_xsk.h) of the receive queue it arrived on, and
 * passes everything else (IKE, other traffic) to the kernel as if it were
 * not there. The program is built from esp/bpf/esp_xdp.bpf.c and embedded
 * in the binary.
 *
 * Every UDP datagram to the NAT-T port that arrives on such an interface is
 * taken as being for this gateway: do not list an interface that forwards
 * other hosts' NAT-T traffic.
 */
#ifndef ISTHMUS_ESP_XDP_H
#define ISTHMUS_ESP_XDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct esp_xdp;

/* Loads the program and attaches it to ifname (native mode where the
 * driver has it, else generic), replacing a program of ours that a
 * previous run left there but never another one. NULL with a reason. */
struct esp_xdp *esp_xdp_attach(const char *ifname, uint16_t natt_port, char *err, size_t errlen);
/* Detaches (only our program) and frees. NULL accepted. */
void esp_xdp_detach(struct esp_xdp *x);

unsigned esp_xdp_ifindex(const struct esp_xdp *x);
const char *esp_xdp_ifname(const struct esp_xdp *x);
/* Receive queues of the interface (at least 1). */
unsigned esp_xdp_queues(const struct esp_xdp *x);
bool esp_xdp_native(const struct esp_xdp *x);
/* Sends queue's ESP to the AF_XDP socket fd. Returns 0 or -1. */
int esp_xdp_bind_queue(struct esp_xdp *x, unsigned queue, int fd);

#endif
