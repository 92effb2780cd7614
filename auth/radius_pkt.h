/*
 * RADIUS packets (RFC 2865/2866/3579/2548): building requests, checking
 * replies, walking attributes, decrypting MS-MPPE keys.
 *
 * Why not libradcli's packet code: radcli 1.2.11 (Debian 12) neither checks
 * Message-Authenticator on replies nor hands the raw reply to its caller, so
 * a BlastRADIUS (CVE-2024-3596) forgery of an Access-Accept cannot be refused
 * through it; its timeouts are whole seconds. tests/system/test_radius_relay.py
 * shows the first point against a fake server. Replies are parsed only
 * through concentrator/wire.h.
 */
#ifndef ISTHMUS_AUTH_RADIUS_PKT_H
#define ISTHMUS_AUTH_RADIUS_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concentrator/wire.h"

#define RADIUS_HDR_LEN    20
#define RADIUS_AUTH_LEN   16
#define RADIUS_PKT_MAX    4096
#define RADIUS_ATTR_MAX   253 /* value bytes in one attribute */
#define RADIUS_SECRET_MAX 128
#define RADIUS_MA_LEN     16

enum radius_code {
    RADIUS_ACCESS_REQUEST = 1,
    RADIUS_ACCESS_ACCEPT = 2,
    RADIUS_ACCESS_REJECT = 3,
    RADIUS_ACCOUNTING_REQUEST = 4,
    RADIUS_ACCOUNTING_RESPONSE = 5,
    RADIUS_ACCESS_CHALLENGE = 11,
};

enum radius_attr {
    RADIUS_A_USER_NAME = 1,
    RADIUS_A_NAS_IP_ADDRESS = 4,
    RADIUS_A_SERVICE_TYPE = 6,
    RADIUS_A_FRAMED_IP_ADDRESS = 8,
    RADIUS_A_REPLY_MESSAGE = 18,
    RADIUS_A_STATE = 24,
    RADIUS_A_CLASS = 25,
    RADIUS_A_VENDOR_SPECIFIC = 26,
    RADIUS_A_SESSION_TIMEOUT = 27,
    RADIUS_A_CALLED_STATION_ID = 30,
    RADIUS_A_CALLING_STATION_ID = 31,
    RADIUS_A_NAS_IDENTIFIER = 32,
    RADIUS_A_ACCT_STATUS_TYPE = 40,
    RADIUS_A_ACCT_DELAY_TIME = 41,
    RADIUS_A_ACCT_INPUT_OCTETS = 42,
    RADIUS_A_ACCT_OUTPUT_OCTETS = 43,
    RADIUS_A_ACCT_SESSION_ID = 44,
    RADIUS_A_ACCT_AUTHENTIC = 45,
    RADIUS_A_ACCT_SESSION_TIME = 46,
    RADIUS_A_ACCT_INPUT_PACKETS = 47,
    RADIUS_A_ACCT_OUTPUT_PACKETS = 48,
    RADIUS_A_ACCT_TERMINATE_CAUSE = 49,
    RADIUS_A_ACCT_INPUT_GIGAWORDS = 52,
    RADIUS_A_ACCT_OUTPUT_GIGAWORDS = 53,
    RADIUS_A_EVENT_TIMESTAMP = 55,
    RADIUS_A_NAS_PORT_TYPE = 61,
    RADIUS_A_EAP_MESSAGE = 79,
    RADIUS_A_MESSAGE_AUTHENTICATOR = 80,
    RADIUS_A_ACCT_INTERIM_INTERVAL = 85,
    RADIUS_A_NAS_IPV6_ADDRESS = 95,
};

#define RADIUS_VENDOR_MICROSOFT 311
#define RADIUS_MS_MPPE_SEND_KEY 16
#define RADIUS_MS_MPPE_RECV_KEY 17

#define RADIUS_SERVICE_FRAMED   2
#define RADIUS_NAS_PORT_VIRTUAL 5

/* Name of a code for log lines ("Access-Accept"; "code 99" style for others
 * is left to the caller: returns NULL when unknown). */
const char *radius_code_name(int code);

/*
 * Building. radius_req_begin writes the header (length patched later) into
 * w. Attributes go through wr_* (bounded by the writer); put functions mark
 * the writer failed when a value does not fit one attribute.
 */
void radius_req_begin(struct wr *w, uint8_t code, uint8_t id, const uint8_t auth[RADIUS_AUTH_LEN]);
void radius_put(struct wr *w, uint8_t type, const void *val, size_t len);
void radius_put_str(struct wr *w, uint8_t type, const char *s); /* skipped when empty */
void radius_put_u32(struct wr *w, uint8_t type, uint32_t v);
/* Splits data into as many attributes of type as needed (EAP-Message). */
void radius_put_split(struct wr *w, uint8_t type, const uint8_t *data, size_t len);
/* A zeroed Message-Authenticator; returns its value's offset in the packet. */
size_t radius_put_ma(struct wr *w);

/* Who is asking: the attributes every request of Isthmus carries. */
struct radius_nas {
    char identifier[64];      /* NAS-Identifier (e.g. "isthmus-gw1"); empty: none */
    char called_station[128]; /* Called-Station-Id: the gateway's address or FQDN */
    char calling_station[64]; /* Calling-Station-Id: the client's "IP:port" */
    bool has_ip4;             /* NAS-IP-Address */
    uint8_t ip4[4];
    bool has_ip6; /* NAS-IPv6-Address */
    uint8_t ip6[16];
};

/* NAS-Identifier, NAS-IP(v6)-Address, Called/Calling-Station-Id,
 * NAS-Port-Type Virtual, Service-Type Framed. */
void radius_put_nas(struct wr *w, const struct radius_nas *nas);

/*
 * Finishing: patches the length. For an Access-Request, ma_off (non-zero) is
 * where radius_put_ma left room and gets HMAC-MD5 over the packet. For an
 * Accounting-Request the Request Authenticator is computed (RFC 2866 3).
 * Returns the packet length or 0 if the writer failed.
 */
size_t radius_req_finish(struct wr *w, size_t ma_off, const char *secret);

enum radius_verify {
    RADIUS_V_OK = 0,
    RADIUS_V_MALFORMED,  /* header or attribute lengths wrong */
    RADIUS_V_ID,         /* identifier is not ours */
    RADIUS_V_AUTH,       /* Response Authenticator wrong */
    RADIUS_V_MA_MISSING, /* Message-Authenticator required but absent */
    RADIUS_V_MA_BAD,     /* Message-Authenticator wrong, or more than one */
};
const char *radius_verify_name(enum radius_verify v);

/*
 * Checks a reply (pkt, len bytes as received) to the request with identifier
 * id and Request Authenticator req_auth: header, attribute framing, the
 * Response Authenticator, and the Message-Authenticator (RFC 3579 3.2), which
 * must be present when require_ma is set and is checked whenever present.
 * On success *pkt_len is the RADIUS length (trailing UDP bytes dropped).
 */
enum radius_verify radius_reply_verify(const uint8_t *pkt, size_t len, size_t *pkt_len, uint8_t id,
                                       const uint8_t req_auth[RADIUS_AUTH_LEN], const char *secret,
                                       bool require_ma);

/* Walking attributes of a verified packet. */
struct radius_iter {
    struct rd r;
};
void radius_iter_init(struct radius_iter *it, const uint8_t *pkt, size_t pkt_len);
/* Next attribute; false at the end (or on a framing error). */
bool radius_iter_next(struct radius_iter *it, uint8_t *type, const uint8_t **val, size_t *len);

/*
 * Decrypts an MS-MPPE-Send/Recv-Key value (salt | encrypted string,
 * RFC 2548 2.4.2/2.4.3) with the shared secret and the Request Authenticator
 * of the request it answers. Writes the key to out. Returns its length, or -1
 * if the value is malformed or the key does not fit outcap.
 */
int radius_mppe_decrypt(const uint8_t *val, size_t len, const char *secret,
                        const uint8_t req_auth[RADIUS_AUTH_LEN], uint8_t *out, size_t outcap);

/* HMAC-MD5 and MD5 helpers (OpenSSL), exported for tests. */
void radius_hmac_md5(const char *secret, const uint8_t *data, size_t len, uint8_t out[16]);

#endif
