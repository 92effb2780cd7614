/*
 * The anti-replay window of an inbound SA (RFC 4303 3.4.3), kept as a ring
 * of 64-bit words in the manner of RFC 6479: moving the window forward
 * clears whole words instead of shifting bits. With ESN, the high 32 bits
 * of a sequence number are inferred from the window (RFC 4303 appendix
 * A2.2).
 *
 * Use: esp_replay_check before verifying the ICV (cheap rejection of
 * duplicates and stale packets), esp_replay_update only after the ICV
 * verified. update checks again, so two workers racing on the same sequence
 * number cannot both accept it. Not thread-safe by itself: the SA holds a
 * lock around both calls.
 */
#ifndef ISTHMUS_ESP_REPLAY_H
#define ISTHMUS_ESP_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "esp/esp.h"

#define ESP_REPLAY_WORDS (ESP_REPLAY_MAX / 64 + 1)

struct esp_replay {
    uint64_t top;    /* highest sequence number accepted; 0: none yet */
    uint32_t window; /* packets, multiple of 64 */
    uint32_t nwords; /* window / 64 + 1 */
    bool esn;
    uint64_t bits[ESP_REPLAY_WORDS];
};

/* window in packets: 0 = ESP_REPLAY_DEFAULT; rounded up to a multiple of 64;
 * capped at ESP_REPLAY_MAX. */
void esp_replay_init(struct esp_replay *r, uint32_t window, bool esn);

/* Infers the full sequence number of seq_lo into *seq and checks it against
 * the window. ESP_OK or ESP_DROP_REPLAY. */
enum esp_reason esp_replay_check(const struct esp_replay *r, uint32_t seq_lo, uint64_t *seq);

/* Marks seq received (after its ICV verified). ESP_DROP_REPLAY if it is
 * (by now) a duplicate or outside the window. */
enum esp_reason esp_replay_update(struct esp_replay *r, uint64_t seq);

#endif
