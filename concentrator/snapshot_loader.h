/*
 * The snapshot loader: a thread that rebuilds the tenant snapshot from the
 * database when the configuration changes, and hands it to a consumer (the
 * IKE engine). Changes that come in bursts (an API client creating 10,000
 * users) are coalesced: one rebuild follows a quiet moment.
 */
#ifndef ISTHMUS_SNAPSHOT_LOADER_H
#define ISTHMUS_SNAPSHOT_LOADER_H

#include <stddef.h>

struct snapshot;
struct seal_key;
struct snapshot_loader;

/* Takes ownership of one reference of s. */
typedef void (*snapshot_sink_fn)(void *arg, struct snapshot *s);

/* Loads the first snapshot at once (returned through sink before this
 * returns), then starts the thread. NULL with err on failure. */
struct snapshot_loader *snapshot_loader_start(const char *db_path, const struct seal_key *key,
                                              snapshot_sink_fn sink, void *arg, char *err,
                                              size_t errlen);
/* Asks for a rebuild (any thread; never blocks). */
void snapshot_loader_kick(struct snapshot_loader *l);
/* Stops and joins the thread. NULL accepted. */
void snapshot_loader_stop(struct snapshot_loader *l);

#endif
