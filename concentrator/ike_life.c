/* Traffic lifetimes of a CHILD_SA (RFC 7296 2.8: "lifetime ... in bytes"):
 * the policy's hard limit per direction, a jittered soft limit before it.
 * The data plane counts and raises ESP_EV_SOFT_LIFETIME (the engine rekeys)
 * and ESP_EV_HARD_LIFETIME (the direction stops; the engine ends the
 * session). */
#include <openssl/rand.h>
#include <string.h>

#include "concentrator/ike_life.h"

uint64_t ike_life_soft(uint64_t hard, uint32_t r)
{
    if (hard <= 1)
        return hard;
    /* 95 % less up to 10 %, in integer arithmetic (no overflow: hard is
     * split so that each product fits 64 bits). */
    uint64_t pct_milli = 950000u - (uint64_t)((100000ull * r) >> 32); /* 850000..950000 */
    uint64_t soft = hard / 1000000u * pct_milli + (hard % 1000000u) * pct_milli / 1000000u;
    if (soft == 0)
        soft = 1;
    if (soft >= hard)
        soft = hard - 1;
    return soft;
}

static uint64_t at_least(uint64_t v, uint64_t min)
{
    return v && v < min ? min : v;
}

void ike_life_traffic(const struct snap_policy *pol, struct esp_sa_params *p)
{
    memset(&p->life_in, 0, sizeof(p->life_in));
    memset(&p->life_out, 0, sizeof(p->life_out));
    if (!pol)
        return;
    uint64_t bytes = at_least(pol->child_lifetime_bytes, IKE_LIFE_MIN_BYTES);
    uint64_t packets = at_least(pol->child_lifetime_packets, IKE_LIFE_MIN_PACKETS);
    if (!bytes && !packets)
        return;
    uint32_t r[2] = {0, 0};
    RAND_bytes((unsigned char *)r, sizeof(r));
    struct esp_lifetime l = {0};
    if (bytes) {
        l.hard_bytes = bytes;
        l.soft_bytes = ike_life_soft(bytes, r[0]);
    }
    if (packets) {
        l.hard_packets = packets;
        l.soft_packets = ike_life_soft(packets, r[1]);
    }
    p->life_in = l;
    p->life_out = l;
}
