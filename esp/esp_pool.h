/*
 * A per-worker pool of packet buffers, allocated once at start: no
 * allocation per packet. One thread owns a pool (no locks); buffers are
 * taken for a batch and given back when the batch is done.
 *
 * Every buffer has ESP_POOL_HEADROOM bytes before the packet (room for the
 * ESP header and IV when encapsulating in place) and at least ESP_TAILROOM
 * after the largest packet it may hold.
 */
#ifndef ISTHMUS_ESP_POOL_H
#define ISTHMUS_ESP_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/esp.h"

/* Headroom of a fresh buffer: ESP_HEADROOM, rounded up so the inner packet
 * starts 16-byte aligned. */
#define ESP_POOL_HEADROOM 64
/* The largest datagram a buffer holds: any UDP payload, so that an IKE
 * message on the NAT-T port is never truncated. */
#define ESP_POOL_DATA_MAX 65535
/* Bytes per buffer. */
#define ESP_POOL_BUF_SIZE (ESP_POOL_HEADROOM + ESP_POOL_DATA_MAX + ESP_TAILROOM + 61)

struct esp_pool;

/* n buffers of ESP_POOL_BUF_SIZE bytes (mapped lazily: pages are touched
 * only as far as packets reach). NULL on no memory or n == 0. */
struct esp_pool *esp_pool_new(unsigned n);
void esp_pool_free(struct esp_pool *p); /* NULL accepted */

/* Takes a buffer: off = ESP_POOL_HEADROOM, len = 0, cap = ESP_POOL_BUF_SIZE.
 * false when every buffer is out. */
bool esp_pool_get(struct esp_pool *p, struct esp_buf *out);
/* Gives a buffer back (its base must come from this pool and be out);
 * false, and nothing changes, when it does not. */
bool esp_pool_put(struct esp_pool *p, const struct esp_buf *b);

unsigned esp_pool_available(const struct esp_pool *p);
unsigned esp_pool_size(const struct esp_pool *p);

#endif
