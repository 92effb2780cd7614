/*
 * The REST API server (libmicrohttpd, its own thread pool). Each API thread
 * opens its own database connection on first use.
 */
#ifndef ISTHMUS_API_SERVER_H
#define ISTHMUS_API_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct seal_key;
struct api_server;
struct registry;
struct stats;
struct events;
struct api_streams;

struct api_deps {
    const struct config *cfg;
    const struct seal_key *master_key;
    /* The daemon's side; any may be NULL. Called from API threads after a
     * change has been committed. */
    void *arg;
    /* A tenant's configuration changed (or the tenant was created/deleted):
     * rebuild the IKE thread's tenant snapshot. */
    void (*config_changed)(void *arg, const char *tenant_id);
    /* The number of live sessions of a tenant (DELETE without ?force). */
    int (*sessions_of_tenant)(void *arg, const char *tenant);
    /* End the live sessions of a tenant's user, or of the whole tenant when
     * username is NULL (user disabled or deleted, tenant deleted). */
    void (*terminate_sessions)(void *arg, const char *tenant, const char *username);
    /* Live sessions and counters (concentrator/registry.h, stats.h), read
     * without holding up the IKE thread; ending one session is a command
     * to the IKE thread. Any may be NULL. */
    struct registry *registry;
    struct stats *stats;
    void (*terminate_session)(void *arg, const char *session_id, const char *why);
    /* Drain (RFC 5685 redirect of new clients to `to`; NULL ends it), whether
     * draining, and one session sent to another gateway. Any may be NULL. */
    void (*drain)(void *arg, const char *to);
    bool (*draining)(void *arg, char *to, size_t cap);
    void (*redirect_session)(void *arg, const char *session_id, const char *to);
    /* Session events for GET /events (concentrator/events.h); NULL: none. */
    struct events *events;
    /* Set by api_server_start (not by the caller): the open event streams. */
    struct api_streams *streams;
};

/* Starts listening on cfg->api_listen. Returns NULL with a message in err. */
struct api_server *api_server_start(const struct api_deps *deps, char *err, size_t errlen);
/* Marks the daemon ready (GET /ready answers 200 from then on). */
void api_server_set_ready(struct api_server *s, bool ready);
/* Stops accepting, finishes requests in flight, joins the threads. NULL ok. */
void api_server_stop(struct api_server *s);

#endif
