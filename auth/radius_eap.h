/*
 * EAP relay over RADIUS (RFC 3579): one round of a client's EAP conversation
 * is one Access-Request to the tenant's RADIUS servers. Blocking: call it on
 * an auth thread (auth_pool.h).
 *
 * Each request carries User-Name, the client's EAP message split into
 * EAP-Message attributes, the State of the previous round, the NAS
 * attributes (radius_nas) and a Message-Authenticator; every answer must
 * carry a valid Message-Authenticator and Response Authenticator, or it is
 * dropped as if never received.
 */
#ifndef ISTHMUS_AUTH_RADIUS_EAP_H
#define ISTHMUS_AUTH_RADIUS_EAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/radius_client.h"
#include "auth/radius_pkt.h"

/* An EAP message in either direction. A RADIUS packet is at most 4096
 * bytes, so no EAP message that fits one is longer; longer ones (EAP-TLS)
 * are fragmented by the EAP method itself. */
#define RADIUS_EAP_MAX   4000
#define RADIUS_STATE_MAX RADIUS_ATTR_MAX
#define RADIUS_CLASS_MAX RADIUS_ATTR_MAX
#define RADIUS_MSK_MAX   128
#define RADIUS_USER_MAX  RADIUS_ATTR_MAX
#define RADIUS_WHY_MAX   256

struct radius_eap_req {
    struct radius_servers servers;
    struct radius_nas nas;
    char user[RADIUS_USER_MAX + 1]; /* User-Name: the EAP identity */
    uint8_t eap[RADIUS_EAP_MAX];    /* the client's EAP message */
    size_t eap_len;
    uint8_t state[RADIUS_STATE_MAX]; /* State of the previous round */
    size_t state_len;
    int server_hint; /* radius_eap_res.server of the previous round, or -1 */
};

enum radius_eap_outcome {
    RADIUS_EAP_CHALLENGE, /* eap holds the next request for the client */
    RADIUS_EAP_ACCEPT,    /* eap holds EAP-Success (if sent); msk, attributes */
    RADIUS_EAP_REJECT,    /* eap holds EAP-Failure (if sent); reply_message */
    RADIUS_EAP_NO_ANSWER, /* no server answered: why says which */
    RADIUS_EAP_ERROR,     /* request could not be built, or an answer made no sense */
};
const char *radius_eap_outcome_name(enum radius_eap_outcome o);

struct radius_eap_res {
    enum radius_eap_outcome outcome;
    uint8_t eap[RADIUS_EAP_MAX]; /* EAP-Message attributes reassembled */
    size_t eap_len;
    uint8_t state[RADIUS_STATE_MAX];
    size_t state_len;
    uint8_t msk[RADIUS_MSK_MAX]; /* MS-MPPE-Recv-Key | MS-MPPE-Send-Key */
    size_t msk_len;
    bool has_framed_ip;
    uint8_t framed_ip[4];
    uint8_t class_[RADIUS_CLASS_MAX]; /* the first Class, kept for accounting */
    size_t class_len;
    uint32_t session_timeout;  /* seconds, 0: none */
    uint32_t interim_interval; /* Acct-Interim-Interval seconds, 0: none */
    char reply_message[RADIUS_ATTR_MAX + 1];
    char why[RADIUS_WHY_MAX]; /* for the log line of every outcome but CHALLENGE */
    int server;               /* index in req->servers that answered, -1 */
    struct radius_server_stat stats[RADIUS_SERVERS_MAX]; /* one per server tried */
    size_t nstats;
};

/* One round. Fills res (always: outcome and why tell what happened).
 * Returns 0 when a server answered (CHALLENGE, ACCEPT or REJECT), else -1. */
int radius_eap_relay(const struct radius_eap_req *req, struct radius_eap_res *res);

/* Wipes the MSK (and everything else) of a result. NULL accepted. */
void radius_eap_res_wipe(struct radius_eap_res *res);

#endif
