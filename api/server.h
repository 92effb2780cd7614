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

struct api_deps {
    const struct config *cfg;
    const struct seal_key *master_key;
};

/* Starts listening on cfg->api_listen. Returns NULL with a message in err. */
struct api_server *api_server_start(const struct api_deps *deps, char *err, size_t errlen);
/* Marks the daemon ready (GET /ready answers 200 from then on). */
void api_server_set_ready(struct api_server *s, bool ready);
/* Stops accepting, finishes requests in flight, joins the threads. NULL ok. */
void api_server_stop(struct api_server *s);

#endif
