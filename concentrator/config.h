/*
 * The daemon's configuration file (INI, parsed with libinih).
 * deploy/isthmus.conf.example documents every key and its default.
 */
#ifndef ISTHMUS_CONFIG_H
#define ISTHMUS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concentrator/log.h"

#define CONFIG_MAX_LISTEN 8
#define CONFIG_MAX_XDP    8  /* [esp] xdp interfaces */
#define CONFIG_IFNAME_MAX 16 /* IFNAMSIZ */
#define CONFIG_PATH_MAX   512
#define CONFIG_ADDR_MAX   64

struct config {
    /* [daemon] */
    char database[CONFIG_PATH_MAX];
    enum log_level log_level;
    char log_file[CONFIG_PATH_MAX]; /* empty: stderr */
    bool syslog;
    char master_key_file[CONFIG_PATH_MAX];
    char default_tenant[CONFIG_ADDR_MAX]; /* empty: none */
    char tenant_hook[CONFIG_PATH_MAX];    /* empty: none */
    unsigned history_retention_days;

    /* [ike] */
    char ike_listen[CONFIG_MAX_LISTEN][CONFIG_ADDR_MAX];
    unsigned ike_listen_count;
    uint16_t ike_port;
    uint16_t natt_port;
    unsigned half_open_limit;     /* all half-open IKE SAs */
    unsigned half_open_per_peer;  /* half-open IKE SAs per source address */
    unsigned cookie_threshold;    /* half-open count above which cookies are required */
    unsigned half_open_timeout_s; /* expiry of an IKE SA that does not finish IKE_AUTH */
    unsigned dpd_delay_s;         /* liveness check after this long without traffic; 0: off */
    unsigned retransmit_base_ms;  /* first retransmission of our requests; then x1.8 each */
    unsigned retransmit_tries;    /* retransmissions before the peer is given up */

    /* [esp] */
    unsigned esp_workers;   /* 0: one per core */
    unsigned esp_linger_us; /* wait for more packets under load; 0: never */
    bool esp_offloads;      /* UDP GSO/GRO and TUN offloads */
    /* client-facing interfaces with the AF_XDP receive path; none: sockets */
    char esp_xdp[CONFIG_MAX_XDP][CONFIG_IFNAME_MAX];
    unsigned esp_xdp_count;

    /* [api] */
    char api_listen[CONFIG_ADDR_MAX]; /* host:port */
    char api_tls_cert[CONFIG_PATH_MAX];
    char api_tls_key[CONFIG_PATH_MAX];
    unsigned api_threads;
    unsigned api_nice; /* niceness of the API threads: the data plane goes first */
    char metrics_listen[CONFIG_ADDR_MAX]; /* empty: /metrics on the API listener */
};

/* Fills cfg with the defaults. */
void config_defaults(struct config *cfg);

/* Reads path into cfg (which must hold defaults). Returns 0, or -1 with a
 * message naming the file, line and key in err. Paths in the file that are
 * relative are taken relative to the config file's folder. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/* Splits "host:port" or "[v6]:port". Returns 0 or -1. */
int config_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);

#endif
