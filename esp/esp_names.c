/* Names for logs and metrics, and small helpers of esp.h. */
#include <openssl/crypto.h>

#include "esp/esp.h"

static const char *const reason_names[ESP_REASON_COUNT] = {
    [ESP_OK] = "ok",
    [ESP_DROP_MALFORMED] = "malformed",
    [ESP_DROP_UNKNOWN_SPI] = "unknown_spi",
    [ESP_DROP_REPLAY] = "replay",
    [ESP_DROP_INTEGRITY] = "integrity",
    [ESP_DROP_PADDING] = "bad_padding",
    [ESP_DROP_NEXT_HEADER] = "next_header",
    [ESP_DROP_DUMMY] = "dummy",
    [ESP_DROP_INNER_HEADER] = "inner_header",
    [ESP_DROP_SELECTOR] = "selector_mismatch",
    [ESP_DROP_NO_SA] = "no_sa",
    [ESP_DROP_QUEUE_FULL] = "queue_full",
    [ESP_DROP_EXPIRED] = "expired",
    [ESP_DROP_SEQ_EXHAUSTED] = "seq_exhausted",
    [ESP_DROP_NO_ROOM] = "no_room",
    [ESP_DROP_CRYPTO] = "crypto_error",
    [ESP_DROP_PEER_ADDRESS] = "peer_address",
};

const char *esp_reason_name(enum esp_reason r)
{
    if ((unsigned)r >= ESP_REASON_COUNT || !reason_names[r])
        return "unknown";
    return reason_names[r];
}

const char *esp_event_name(enum esp_event_kind k)
{
    switch (k) {
    case ESP_EV_SOFT_LIFETIME:
        return "soft_lifetime";
    case ESP_EV_HARD_LIFETIME:
        return "hard_lifetime";
    case ESP_EV_SEQ_EXHAUSTED:
        return "seq_exhausted";
    }
    return "unknown";
}

void esp_sa_params_wipe(struct esp_sa_params *p)
{
    if (!p)
        return;
    OPENSSL_cleanse(p->encr_key_in, sizeof(p->encr_key_in));
    OPENSSL_cleanse(p->encr_key_out, sizeof(p->encr_key_out));
    OPENSSL_cleanse(p->integ_key_in, sizeof(p->integ_key_in));
    OPENSSL_cleanse(p->integ_key_out, sizeof(p->integ_key_out));
}
