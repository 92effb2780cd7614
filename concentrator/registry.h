/*
 * The session registry: what the API and metrics see of live sessions. The
 * IKE thread publishes one entry per established IKE SA (put on change,
 * remove when it ends); API threads read copies. The table is split into
 * 256 shards by the first byte of the session id, each with its own lock,
 * and readers copy one shard's entries at a time: a reader never holds the
 * IKE thread up for longer than the copy of a few entries, and a page of a
 * listing comes out in session id order.
 *
 * Traffic counters are not stored here: readers add the data plane's live
 * counters of the entry's CHILD_SA (esp_sadb_sa_stats) to `base`, the
 * totals of the CHILD_SAs it had before (kept across rekeys).
 */
#ifndef ISTHMUS_REGISTRY_H
#define ISTHMUS_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REG_ID_LEN 17 /* 16 hex digits + NUL */

struct reg_counters {
    uint64_t bytes_in, bytes_out, packets_in, packets_out;
};

struct reg_child {
    uint32_t spi_in, spi_out;
    char alg[96];
    char ts_local[160], ts_remote[160]; /* "10.1.0.0/16", comma-separated */
    unsigned rekeys;
    int64_t established_at;
};

struct reg_session {
    char id[REG_ID_LEN];
    char tenant[64];
    char identity[128]; /* EAP identity, or the IDi text */
    char username[128]; /* the provisioned user it maps to; empty if none */
    char auth[16];      /* "eap", "certificate" */
    char client_addr[48];
    uint16_t client_port;
    bool nat;
    char vip4[16], vip6[48];
    int64_t established_at;
    int64_t last_activity; /* last inbound traffic seen (Unix s, within 5 s); 0: none */
    char ike_alg[96];
    bool has_child;
    struct reg_child child;
    struct reg_counters base; /* totals of CHILD_SAs that are gone */
};

struct reg_filter {
    const char *tenant;      /* NULL: any */
    const char *user;        /* matches identity or username, case-insensitive */
    const char *client_addr; /* exact */
    const char *vip;         /* exact, v4 or v6 */
};

struct registry;

struct registry *registry_new(void);
void registry_free(struct registry *r); /* NULL accepted */

/* IKE thread. */
void registry_put(struct registry *r, const struct reg_session *s);
void registry_remove(struct registry *r, const char *id);

/* Any thread. */
bool registry_get(struct registry *r, const char *id, struct reg_session *out);
/* Copies up to max sessions matching f with id > after (NULL: from the
 * start), in id order. Returns how many; *more says whether others follow. */
size_t registry_list(struct registry *r, const struct reg_filter *f, const char *after,
                     struct reg_session *out, size_t max, bool *more);
/* Sessions of a tenant (NULL: all). */
size_t registry_count(struct registry *r, const char *tenant);
/* Calls fn for every session of tenant (NULL: all) with the shard's lock
 * held: fn must only copy what it needs (no locks, no blocking). For sums
 * over every session without copying whole entries. */
void registry_fold(struct registry *r, const char *tenant,
                   void (*fn)(const struct reg_session *s, void *arg), void *arg);

#endif
