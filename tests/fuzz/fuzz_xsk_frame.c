/*
 * libFuzzer target: the AF_XDP receive path's frame parser (esp_xsk_parse),
 * which reads whatever Ethernet frame the XDP program let through. Nothing
 * may crash, and an accepted frame's payload must lie inside the frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "esp/esp_xsk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so reading past it is caught. */
    uint8_t *f = malloc(size ? size : 1);
    if (!f)
        return 0;
    memcpy(f, data, size);
    const uint8_t *p = NULL;
    size_t plen = 0;
    struct sockaddr_storage peer;
    if (esp_xsk_parse(f, size, &p, &plen, &peer) == 0) {
        if (plen && (p < f || p + plen > f + size))
            abort();
        if (peer.ss_family != AF_INET && peer.ss_family != AF_INET6)
            abort();
    }
    free(f);
    return 0;
}
