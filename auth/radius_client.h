/*
 * One RADIUS request/answer exchange with retries and failover across a
 * tenant's servers. Blocking: runs on the auth threads (auth_pool.h), never
 * on the IKE thread. Every server tried gets a line in the stats (outcome,
 * tries, latency) for log lines and metrics.
 */
#ifndef ISTHMUS_AUTH_RADIUS_CLIENT_H
#define ISTHMUS_AUTH_RADIUS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/radius_pkt.h"

#define RADIUS_SERVERS_MAX 8
#define RADIUS_HOST_MAX    64

#define RADIUS_DEFAULT_TIMEOUT_MS 3000
#define RADIUS_DEFAULT_RETRIES    3
#define RADIUS_TIMEOUT_MS_MAX     60000
#define RADIUS_RETRIES_MAX        10

/* A tenant's RADIUS server as the API stores it (secret in clear here: the
 * caller unsealed it; wipe with radius_servers_wipe). */
struct radius_server {
    char host[RADIUS_HOST_MAX]; /* address literal or name */
    uint16_t auth_port;         /* 0: 1812 */
    uint16_t acct_port;         /* 0: 1813 */
    char secret[RADIUS_SECRET_MAX];
    unsigned timeout_ms; /* wait per try; 0: default; capped at RADIUS_TIMEOUT_MS_MAX */
    unsigned retries;    /* tries (sends) per server; 0: default; capped */
    int priority;        /* lower is tried first; ties keep list order */
};

struct radius_servers {
    struct radius_server s[RADIUS_SERVERS_MAX];
    size_t n;
};

void radius_servers_wipe(struct radius_servers *s);

enum radius_port_kind { RADIUS_PORT_AUTH, RADIUS_PORT_ACCT };

enum radius_outcome {
    RADIUS_O_NOT_TRIED = 0,
    RADIUS_O_ANSWERED,
    RADIUS_O_TIMEOUT, /* no valid answer within timeout x retries */
    RADIUS_O_REFUSED, /* ICMP port unreachable */
    RADIUS_O_ERROR,   /* address did not resolve, socket error, request too big */
};
const char *radius_outcome_name(enum radius_outcome o);

struct radius_server_stat {
    char addr[RADIUS_HOST_MAX + 8]; /* "host:port" */
    enum radius_outcome outcome;
    unsigned tries;
    unsigned bad_replies;        /* replies dropped by radius_reply_verify */
    enum radius_verify last_bad; /* why the last one was dropped */
    uint32_t latency_ms;         /* first send to answer, or to giving up */
};

/*
 * Builds the request for one server into buf (cap bytes) with identifier id
 * and, for an Access-Request, Request Authenticator auth. Returns the length
 * (radius_req_finish's) or 0 on failure.
 */
typedef size_t (*radius_build_fn)(void *arg, const struct radius_server *srv, uint8_t id,
                                  const uint8_t auth[RADIUS_AUTH_LEN], uint8_t *buf, size_t cap);

struct radius_xchg {
    /* in */
    enum radius_port_kind port;
    int first; /* index of a server to try before the others (State affinity); -1 none */
    bool require_ma;
    radius_build_fn build;
    void *arg;
    /* out */
    int server; /* index of the server that answered, -1 */
    uint8_t reply[RADIUS_PKT_MAX];
    size_t reply_len;
    uint8_t req_auth[RADIUS_AUTH_LEN]; /* of the request the reply answers */
    struct radius_server_stat stats[RADIUS_SERVERS_MAX];
    size_t nstats;
};

/*
 * Sends the request to the servers in order of priority until one answers
 * with a reply that passes radius_reply_verify. Returns 0 when a server
 * answered (x->reply holds the verified reply) or -1 when none did.
 */
int radius_exchange(const struct radius_servers *servers, struct radius_xchg *x);

/* Summary for a log line, e.g. "RADIUS server 192.0.2.1:1812 (and
 * 192.0.2.2:1812) did not answer"; names dropped replies. */
void radius_xchg_why(const struct radius_xchg *x, char *buf, size_t len);

/* Monotonic milliseconds. */
int64_t radius_now_ms(void);

#endif
