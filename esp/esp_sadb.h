/*
 * The SA database: inbound SPI -> SA, outbound (tenant, inner destination)
 * -> SA.
 *
 * Readers (the ESP workers, on every packet) take no lock: lookups run under
 * userspace RCU, QSBR flavour. Every thread that calls esp_sadb_decap or
 * esp_sadb_encap must be registered (esp_rcu_register) and online, and must
 * announce a quiescent state (esp_rcu_quiescent) between batches, and go
 * offline (esp_rcu_offline) before it blocks (poll, recvmmsg without
 * MSG_DONTWAIT, a condition variable). A pointer or result obtained from the
 * database stays valid until that thread's next quiescent state.
 *
 * Writers (the IKE thread: install, rekey, update_endpoint, delete) are
 * serialised by a mutex inside the database and never wait for readers:
 * removed SAs are freed by call_rcu after a grace period, so no worker can
 * still hold one. The writer thread must be registered with
 * esp_rcu_register_writer (registered and kept offline).
 *
 * Events (soft/hard lifetime, sequence number exhaustion) are delivered by
 * calling the configured callback from the worker that saw them; it must not
 * block (push to a queue and wake the IKE loop, e.g. with evl_async_send).
 */
#ifndef ISTHMUS_ESP_SADB_H
#define ISTHMUS_ESP_SADB_H

#include "esp/esp.h"

struct esp_sadb;

typedef void (*esp_event_cb)(void *arg, const struct esp_event *ev);

struct esp_sadb_config {
    unsigned workers;     /* number of worker ids 0..workers-1; at least 1 */
    unsigned buckets_log; /* log2 of hash buckets per table; 0 = 16 */
    esp_event_cb on_event;
    void *event_arg;
};

/* Returns NULL on bad config or no memory. */
struct esp_sadb *esp_sadb_new(const struct esp_sadb_config *cfg);
/* Frees the database and every SA in it. Workers must have stopped using it.
 * Waits for pending call_rcu frees. NULL accepted. */
void esp_sadb_free(struct esp_sadb *db);

/* --- RCU thread roles ---------------------------------------------------- */

/* A worker (reader): registered and online. */
void esp_rcu_register(void);
void esp_rcu_unregister(void);
/* Between batches: nothing read from the database before this is used after. */
void esp_rcu_quiescent(void);
/* Around a blocking call. */
void esp_rcu_offline(void);
void esp_rcu_online(void);
/* The writer (IKE) thread: registered, offline except inside writer calls. */
void esp_rcu_register_writer(void);

/* --- Writer side (one thread at a time; IKE thread) ---------------------- */

/* Installs a new SA pair. Fails (-1, reason in err) on bad parameters, a
 * duplicate inbound SPI, or a host remote TS already routed to another SA of
 * the same tenant (use esp_sadb_rekey to replace one). */
int esp_sadb_install(struct esp_sadb *db, const struct esp_sa_params *p, char *err, size_t errlen);

/* Rekey: installs the new SA (inbound usable at once), then switches every
 * outbound route of the old SA to it, each with one atomic pointer store.
 * The old SA keeps decrypting in-flight packets until esp_sadb_delete. Routes
 * of the old SA that the new one does not have are removed. */
int esp_sadb_rekey(struct esp_sadb *db, uint32_t old_spi_in, const struct esp_sa_params *p,
                   char *err, size_t errlen);

/* New outer addresses/ports (NAT-T port change, MOBIKE): replaced atomically;
 * a worker sees either the old or the new endpoint, never a mix. */
int esp_sadb_update_endpoint(struct esp_sadb *db, uint32_t spi_in, const struct esp_endpoint *ep);

/* Removes the SA and the routes that still point to it; freed after a grace
 * period. -1 if unknown. */
int esp_sadb_delete(struct esp_sadb *db, uint32_t spi_in);

/* --- Reading counters (any thread) --------------------------------------- */

int esp_sadb_sa_stats(struct esp_sadb *db, uint32_t spi_in, struct esp_sa_stats *out);
/* Drops not tied to an SA (unknown SPI, no SA for destination, queue full,
 * malformed) plus every SA's drops, summed over workers, by reason. Drops of
 * deleted SAs stay counted. */
void esp_sadb_drops(struct esp_sadb *db, uint64_t out[ESP_REASON_COUNT]);
/* Number of installed SAs. */
unsigned esp_sadb_count(struct esp_sadb *db);

/* --- Hot path (workers; registered and online) --------------------------- */

struct esp_rx_info {
    uint32_t spi_in;
    uint32_t tenant; /* the tenant whose TUN device the inner packet goes to */
    uint8_t family;  /* of the inner packet: 4 or 6 */
    uint64_t seq;    /* full sequence number (ESN inferred) */
};

struct esp_tx_info {
    uint32_t spi_out;
    uint64_t seq;
    struct esp_endpoint endpoint; /* a consistent copy */
};

/* pkt holds an ESP packet from the SPI on (UDP encapsulation already
 * removed). On ESP_OK pkt holds the inner IP packet (in place). Otherwise the
 * reason is counted and returned, and pkt's contents are unspecified. */
enum esp_reason esp_sadb_decap(struct esp_sadb *db, unsigned worker, struct esp_buf *pkt,
                               struct esp_rx_info *info);

/* The same, for a packet whose outer source address is known (src; NULL:
 * unknown): an SA pinned to its remote address (esp_endpoint.pin_remote)
 * drops packets from elsewhere (ESP_DROP_PEER_ADDRESS) before decrypting. */
enum esp_reason esp_sadb_decap_from(struct esp_sadb *db, unsigned worker, struct esp_buf *pkt,
                                    const struct esp_addr *src, struct esp_rx_info *info);

/* pkt holds an inner IP packet read from tenant's TUN device, with
 * ESP_HEADROOM before it and ESP_TAILROOM after. On ESP_OK pkt holds the ESP
 * packet (SPI first), ready for the outer UDP/IP header. */
enum esp_reason esp_sadb_encap(struct esp_sadb *db, unsigned worker, uint32_t tenant,
                               struct esp_buf *pkt, struct esp_tx_info *info);

/* Counts a drop the I/O layer decided (e.g. ESP_DROP_QUEUE_FULL). */
void esp_sadb_count_drop(struct esp_sadb *db, unsigned worker, enum esp_reason r);

#endif
