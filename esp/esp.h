/*
 * ESP data plane: the types shared by the IKE engine (which installs SAs),
 * the ESP workers (which move packets) and the API (which reads counters).
 *
 * esp/ knows nothing of tenants' configuration, IKE or the API: a tenant is
 * an index, a traffic selector a prefix, a key a byte string. Transform ids
 * are the IANA IKEv2 numbers, so the IKE engine passes what it negotiated.
 *
 * See esp_sadb.h for the SA database (install, rekey, delete, the hot path),
 * esp_xform.h for the pure packet transforms and esp_replay.h for the
 * anti-replay window.
 */
#ifndef ISTHMUS_ESP_H
#define ISTHMUS_ESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* IKEv2 transform type 1 (encryption) ids, IANA. */
enum esp_encr {
    ESP_ENCR_AES_CBC = 12,           /* key bits 128 or 256; needs an integrity transform */
    ESP_ENCR_AES_GCM_16 = 20,        /* key bits 128 or 256; key material = key || 4-byte salt */
    ESP_ENCR_CHACHA20_POLY1305 = 28, /* 256-bit key || 4-byte salt (RFC 7634) */
};

/* IKEv2 transform type 3 (integrity) ids, IANA. NONE for AEAD transforms. */
enum esp_integ {
    ESP_INTEG_NONE = 0,
    ESP_INTEG_HMAC_SHA2_256_128 = 12, /* 32-byte key */
    ESP_INTEG_HMAC_SHA2_384_192 = 13, /* 48-byte key */
    ESP_INTEG_HMAC_SHA2_512_256 = 14, /* 64-byte key */
};

#define ESP_PROTO_ESP 50 /* IPPROTO_ESP: the only protocol supported */

#define ESP_MAX_ENCR_KEY  36 /* 32-byte key + 4-byte salt */
#define ESP_MAX_INTEG_KEY 64
#define ESP_MAX_TS        16 /* traffic selectors per side */

/* Replay window in packets: default, and the largest a policy may ask for. */
#define ESP_REPLAY_DEFAULT 1024
#define ESP_REPLAY_MAX     4096

/* Room the caller must leave before and after the inner packet for encap
 * (ESP header + IV before; padding, trailer and ICV after). Outer IP/UDP
 * headers, if the caller builds them itself, come on top of ESP_HEADROOM. */
#define ESP_HEADROOM 24
#define ESP_TAILROOM 64

/* An address: family is 4 or 6; v4 uses bytes[0..3]. */
struct esp_addr {
    uint8_t family;
    uint8_t bytes[16];
};

/* A traffic selector, as an address prefix: 10.1.0.2/32, 10.0.0.0/8, ::/0. */
struct esp_prefix {
    struct esp_addr addr;
    uint8_t plen;
};

/* Outer addresses and ports. udp_encap: ESP in UDP (RFC 3948, NAT-T, port
 * 4500 usually); otherwise raw ESP (IP protocol 50, ports unused). */
struct esp_endpoint {
    struct esp_addr local, remote;
    uint16_t local_port, remote_port;
    bool udp_encap;
    /* Inbound ESP is accepted only from the remote address (MOBIKE: the peer
     * moves only by an authenticated UPDATE_SA_ADDRESSES). Checked where the
     * source is known (esp_sadb_decap_from). */
    bool pin_remote;
};

/* Lifetimes of one direction of an SA; 0 means no limit. Soft: the IKE
 * engine is told (it rekeys); hard: the SA stops carrying traffic in that
 * direction and the IKE engine is told (it deletes). */
struct esp_lifetime {
    uint64_t soft_bytes, hard_bytes;
    uint64_t soft_packets, hard_packets;
};

/*
 * What the IKE engine passes to install a CHILD_SA pair. "in" is traffic
 * from the peer to us (we decrypt, SPI chosen by us), "out" the reverse.
 * Key material is copied by esp_sadb_install; call esp_sa_params_wipe on
 * your copy afterwards.
 */
struct esp_sa_params {
    uint32_t spi_in, spi_out; /* host byte order; neither may be 0 */
    uint8_t protocol;         /* ESP_PROTO_ESP */

    uint16_t encr;          /* enum esp_encr */
    uint16_t encr_key_bits; /* 128 or 256 for AES; 256 for ChaCha20 */
    uint16_t integ;         /* enum esp_integ; ESP_INTEG_NONE with AEAD */
    /* Keys as IKEv2 KEYMAT gives them: for AEAD, the cipher key followed by
     * the 4-byte salt; for CBC the cipher key only. */
    uint8_t encr_key_in[ESP_MAX_ENCR_KEY], encr_key_out[ESP_MAX_ENCR_KEY];
    size_t encr_key_len; /* the same for both directions */
    uint8_t integ_key_in[ESP_MAX_INTEG_KEY], integ_key_out[ESP_MAX_INTEG_KEY];
    size_t integ_key_len;

    bool esn;               /* extended (64-bit) sequence numbers */
    uint32_t replay_window; /* packets; 0 = ESP_REPLAY_DEFAULT; up to ESP_REPLAY_MAX */

    uint32_t tenant; /* tenant index: scopes the outbound lookup */
    /* The peer's side (TSr from its view: the client's virtual addresses).
     * Inbound inner sources must fall in one of these; each host prefix
     * (/32, /128) is also an outbound route (tenant, address) -> this SA. */
    struct esp_prefix remote_ts[ESP_MAX_TS];
    unsigned n_remote_ts;
    /* Our side (the routes the tenant pushes: 10.0.0.0/8, 0.0.0.0/0, ...).
     * Inbound inner destinations and outbound inner sources must fall in one
     * of these; n_local_ts == 0 means any. */
    struct esp_prefix local_ts[ESP_MAX_TS];
    unsigned n_local_ts;

    struct esp_endpoint endpoint;
    struct esp_lifetime life_in, life_out;

    uint64_t cookie; /* opaque to esp/: handed back in events (e.g. a CHILD_SA id) */
};

void esp_sa_params_wipe(struct esp_sa_params *p);

/* Why a packet was dropped (or ESP_OK). Counted per worker and per SA where
 * there is one. */
enum esp_reason {
    ESP_OK = 0,
    ESP_DROP_MALFORMED,     /* too short, misaligned, not ESP */
    ESP_DROP_UNKNOWN_SPI,   /* no inbound SA with this SPI */
    ESP_DROP_REPLAY,        /* duplicate or older than the window */
    ESP_DROP_INTEGRITY,     /* ICV / AEAD tag does not verify */
    ESP_DROP_PADDING,       /* pad length too long or bytes not 1, 2, 3, ... */
    ESP_DROP_NEXT_HEADER,   /* next header neither 4 (IPv4) nor 41 (IPv6) */
    ESP_DROP_DUMMY,         /* next header 59: dummy packet, dropped silently */
    ESP_DROP_INNER_HEADER,  /* inner IP header insane (version, lengths) */
    ESP_DROP_SELECTOR,      /* inner address outside the SA's traffic selectors */
    ESP_DROP_NO_SA,         /* no outbound SA for (tenant, destination) */
    ESP_DROP_QUEUE_FULL,    /* counted by the I/O layer */
    ESP_DROP_EXPIRED,       /* hard lifetime reached */
    ESP_DROP_SEQ_EXHAUSTED, /* outbound sequence numbers used up: never wraps */
    ESP_DROP_NO_ROOM,       /* buffer headroom/tailroom too small (caller bug) */
    ESP_DROP_CRYPTO,        /* cipher context could not be made */
    ESP_DROP_PEER_ADDRESS,  /* from an address the (pinned) SA was not moved to */
    ESP_REASON_COUNT
};

/* "replay", "integrity", ...: for logs and metrics labels. */
const char *esp_reason_name(enum esp_reason r);

enum esp_dir { ESP_DIR_IN = 0, ESP_DIR_OUT = 1 };

enum esp_event_kind {
    ESP_EV_SOFT_LIFETIME = 1, /* rekey now */
    ESP_EV_HARD_LIFETIME,     /* this direction stopped; delete the SA */
    ESP_EV_SEQ_EXHAUSTED,     /* outbound stopped: no sequence number left */
};

const char *esp_event_name(enum esp_event_kind k);

/* Raised at most once per SA, kind and direction. */
struct esp_event {
    enum esp_event_kind kind;
    enum esp_dir dir;
    uint32_t spi_in;
    uint32_t tenant;
    uint64_t cookie;
};

/* Counters of one SA, summed over the workers when read. Bytes are inner
 * packet bytes. */
struct esp_sa_stats {
    uint64_t packets_in, bytes_in;
    uint64_t packets_out, bytes_out;
    uint64_t drops[ESP_REASON_COUNT];
    uint64_t seq_out;    /* last sequence number sent */
    uint64_t seq_in_top; /* highest sequence number accepted */
};

/*
 * A packet buffer: the packet is base[off .. off+len); base[0 .. off) is
 * headroom and base[off+len .. cap) tailroom. Transforms move off and len
 * and never copy the payload.
 */
struct esp_buf {
    uint8_t *base;
    size_t cap;
    size_t off;
    size_t len;
};

static inline uint8_t *esp_buf_data(const struct esp_buf *b)
{
    return b->base + b->off;
}

static inline size_t esp_buf_headroom(const struct esp_buf *b)
{
    return b->off;
}

static inline size_t esp_buf_tailroom(const struct esp_buf *b)
{
    return b->cap - b->off - b->len;
}

#endif
