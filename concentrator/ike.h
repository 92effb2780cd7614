/*
 * The IKEv2 responder engine, as the daemon sees it. Runs on the IKE thread
 * (the loop it is given); every other thread talks to it through the
 * functions marked "any thread".
 */
#ifndef ISTHMUS_IKE_H
#define ISTHMUS_IKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concentrator/ike_net.h"

struct config;
struct evl;
struct esp_sadb;
struct seal_key;
struct snapshot;
struct ike_engine;
struct stats;
struct db_writer;
struct events;

struct ike_engine_deps {
    const struct config *cfg;
    struct evl *loop;
    const struct seal_key *master_key;
    struct esp_sadb *sadb;    /* CHILD_SAs are installed here; NULL: recorded only */
    bool own_natt;            /* bind the NAT-T port here (no ESP workers own it) */
    struct stats *stats;      /* counters for metrics and /stats; NULL: none */
    struct db_writer *writer; /* session history rows; NULL: none */
    unsigned history_retention_days;
    struct events *events; /* session events for GET /events; NULL: none */
};

struct ike_engine *ike_engine_new(const struct ike_engine_deps *deps, char *err, size_t errlen);

/* Ends every IKE SA (Delete sent, best effort), releases addresses and
 * CHILD_SAs, closes the sockets. NULL accepted. */
void ike_engine_free(struct ike_engine *e);

/* Hands the engine a new tenant snapshot (any thread; takes the caller's
 * reference). New clients use it at once; established IKE SAs keep the one
 * they were resolved in. */
void ike_engine_post_snapshot(struct ike_engine *e, struct snapshot *s);

struct registry;
/* The live sessions, for the API and metrics (any thread may read it). */
struct registry *ike_engine_registry(struct ike_engine *e);

/* Ends sessions (any thread): the one with session_id, or every session of
 * tenant (of username, when not NULL). The client gets an IKE Delete, its
 * CHILD_SAs and addresses are released at once; why is logged. */
void ike_engine_terminate(struct ike_engine *e, const char *session_id, const char *tenant,
                          const char *username, const char *why);

/* Drain (any thread): while `to` (an IPv4/IPv6 address or an FQDN) is set,
 * new clients that announce REDIRECT_SUPPORTED are redirected there at
 * IKE_SA_INIT (RFC 5685); NULL or "" ends it. */
void ike_engine_drain(struct ike_engine *e, const char *to);
/* Whether draining, and to where (any thread). */
bool ike_engine_draining(struct ike_engine *e, char *to, size_t cap);
/* Sends one established session to gateway `to` with an INFORMATIONAL
 * REDIRECT (any thread; logged on the IKE thread). */
void ike_engine_redirect(struct ike_engine *e, const char *session_id, const char *to);

/* When the ESP workers own the NAT-T port (deps.own_natt false): feeds a
 * datagram a worker received there (the UDP payload, non-ESP marker
 * included; the engine may decrypt it in place) as if the engine had read
 * it. IKE thread only: the daemon queues the workers' datagrams and drains
 * them here from an evl_async. */
void ike_engine_natt_input(struct ike_engine *e, uint8_t *buf, size_t len,
                           const struct ike_path *path);
/* The workers' sender for IKE messages on the NAT-T port. IKE thread. */
void ike_engine_set_natt_sender(struct ike_engine *e, ike_net_natt_send_fn fn, void *arg);

struct esp_event;
/* The data plane's lifetime events (esp_sadb_config.on_event, arg = the
 * engine; any thread, never blocks): a soft limit starts a CHILD_SA rekey,
 * a hard one (or sequence numbers used up) ends the session. */
void ike_rekey_esp_event(void *arg, const struct esp_event *ev);

/* Ports actually bound (tests bind port 0). */
uint16_t ike_engine_port(const struct ike_engine *e, bool natt);

#endif
