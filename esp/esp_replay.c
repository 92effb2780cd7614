/* Anti-replay window with ESN inference: see esp_replay.h. */
#include "esp/esp_replay.h"

#include <string.h>

void esp_replay_init(struct esp_replay *r, uint32_t window, bool esn)
{
    memset(r, 0, sizeof(*r));
    if (window == 0)
        window = ESP_REPLAY_DEFAULT;
    if (window > ESP_REPLAY_MAX)
        window = ESP_REPLAY_MAX;
    window = (window + 63) / 64 * 64;
    r->window = window;
    r->nwords = window / 64 + 1;
    r->esn = esn;
}

/* RFC 4303 A2.2: the high half that puts seq_lo nearest the window. */
static bool infer(const struct esp_replay *r, uint32_t seq_lo, uint64_t *seq)
{
    if (!r->esn) {
        *seq = seq_lo;
        return true;
    }
    uint32_t tl = (uint32_t)r->top;
    uint32_t th = (uint32_t)(r->top >> 32);
    uint32_t w = r->window;
    uint32_t bottom = tl - w + 1; /* mod 2^32 */
    uint64_t hi;
    if (tl >= w - 1) {
        /* Window within one 2^32 span: below its bottom means next span. */
        hi = seq_lo >= bottom ? th : (uint64_t)th + 1;
    } else {
        /* Window straddles a span boundary: above its (wrapped) bottom means
         * the previous span. */
        if (seq_lo >= bottom) {
            if (th == 0)
                return false; /* before the first packet: nothing to match */
            hi = (uint64_t)th - 1;
        } else {
            hi = th;
        }
    }
    if (hi > UINT32_MAX)
        return false; /* the 64-bit space is used up */
    *seq = hi << 32 | seq_lo;
    return true;
}

static bool seen(const struct esp_replay *r, uint64_t seq)
{
    uint64_t word = r->bits[(seq >> 6) % r->nwords];
    return (word >> (seq & 63)) & 1;
}

enum esp_reason esp_replay_check(const struct esp_replay *r, uint32_t seq_lo, uint64_t *seq)
{
    if (!infer(r, seq_lo, seq) || *seq == 0)
        return ESP_DROP_REPLAY;
    if (*seq > r->top)
        return ESP_OK;
    if (r->top - *seq >= r->window)
        return ESP_DROP_REPLAY;
    return seen(r, *seq) ? ESP_DROP_REPLAY : ESP_OK;
}

enum esp_reason esp_replay_update(struct esp_replay *r, uint64_t seq)
{
    if (seq == 0)
        return ESP_DROP_REPLAY;
    if (seq > r->top) {
        uint64_t from = r->top >> 6, to = seq >> 6;
        if (to - from >= r->nwords) {
            memset(r->bits, 0, sizeof(r->bits[0]) * r->nwords);
        } else {
            for (uint64_t w = from + 1; w <= to; w++)
                r->bits[w % r->nwords] = 0;
        }
        r->top = seq;
    } else if (r->top - seq >= r->window || seen(r, seq)) {
        return ESP_DROP_REPLAY;
    }
    r->bits[(seq >> 6) % r->nwords] |= (uint64_t)1 << (seq & 63);
    return ESP_OK;
}
