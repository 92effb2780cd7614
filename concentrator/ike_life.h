/* Traffic lifetimes of a CHILD_SA from its policy (bytes and packets per
 * direction), handed to the data plane with the SA. */
#ifndef ISTHMUS_IKE_LIFE_H
#define ISTHMUS_IKE_LIFE_H

#include <stdint.h>

#include "concentrator/snapshot.h"
#include "esp/esp.h"

#define IKE_LIFE_MIN_BYTES   65536u /* smaller limits are raised to these */
#define IKE_LIFE_MIN_PACKETS 100u

/* Fills p->life_in and p->life_out from the policy: hard at the policy's
 * limit, soft at 85-95 % of it (random jitter per SA, so that the two ends
 * and many sessions do not rekey together). No limit when pol is NULL or
 * the policy has none. */
void ike_life_traffic(const struct snap_policy *pol, struct esp_sa_params *p);

/* The soft limit for a hard limit h and a random value r: h * (0.95 - 0.1 *
 * r / 2^32), at least 1 and below h where h > 1. */
uint64_t ike_life_soft(uint64_t hard, uint32_t r);

#endif
