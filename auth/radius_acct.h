/*
 * RADIUS accounting (RFC 2866, RFC 2869 Gigawords): Start, Interim-Update
 * and Stop of a session, with retries and failover across the tenant's
 * servers. Blocking: sent from the auth threads (auth_pool_submit with an
 * AUTH_JOB_ACCT job), so the caller never waits.
 */
#ifndef ISTHMUS_AUTH_RADIUS_ACCT_H
#define ISTHMUS_AUTH_RADIUS_ACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/radius_client.h"
#include "auth/radius_eap.h"
#include "auth/radius_pkt.h"

enum radius_acct_status {
    RADIUS_ACCT_START = 1,
    RADIUS_ACCT_STOP = 2,
    RADIUS_ACCT_INTERIM = 3,
};
const char *radius_acct_status_name(enum radius_acct_status s);

/* Acct-Terminate-Cause values Isthmus uses (RFC 2866 5.10). */
enum radius_term_cause {
    RADIUS_TERM_USER_REQUEST = 1,
    RADIUS_TERM_LOST_CARRIER = 2, /* DPD found the peer gone */
    RADIUS_TERM_IDLE_TIMEOUT = 4,
    RADIUS_TERM_SESSION_TIMEOUT = 5,
    RADIUS_TERM_ADMIN_RESET = 6,
    RADIUS_TERM_NAS_ERROR = 9,
    RADIUS_TERM_NAS_REQUEST = 10,
    RADIUS_TERM_NAS_REBOOT = 11,
};

#define RADIUS_SESSION_ID_MAX 64

struct radius_acct_req {
    struct radius_servers servers;
    struct radius_nas nas;
    enum radius_acct_status status;
    char session_id[RADIUS_SESSION_ID_MAX]; /* Acct-Session-Id */
    char user[RADIUS_USER_MAX + 1];
    uint64_t in_octets, out_octets;   /* sent as octets + Gigawords */
    uint64_t in_packets, out_packets; /* capped at 2^32-1 */
    uint32_t session_time;            /* seconds (Interim, Stop) */
    uint32_t terminate_cause;         /* Stop only; 0: none */
    uint8_t class_[RADIUS_CLASS_MAX]; /* echoed from the Access-Accept */
    size_t class_len;
    bool has_framed_ip;
    uint8_t framed_ip[4];
    uint32_t event_time; /* Unix time of the event (Event-Timestamp); 0: none */
    int64_t queued_ms;   /* radius_now_ms() when queued, for Acct-Delay-Time; 0: none */
};

struct radius_acct_res {
    bool ok; /* an Accounting-Response came */
    int server;
    char why[RADIUS_WHY_MAX];
    struct radius_server_stat stats[RADIUS_SERVERS_MAX];
    size_t nstats;
};

/* Sends one accounting record. Returns 0 when a server acknowledged it. */
int radius_acct_send(const struct radius_acct_req *req, struct radius_acct_res *res);

#endif
