/*
 * Inside the IKE engine: the IKE SA, the engine's state, and the functions
 * the exchange files (ike_init.c, ike_auth.c, ike_info.c) share. Only the
 * IKE thread touches any of it: no locks.
 */
#ifndef ISTHMUS_IKE_ENGINE_H
#define ISTHMUS_IKE_ENGINE_H

#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concentrator/ike.h"
#include "concentrator/ike_codec.h"
#include "concentrator/ike_crypto.h"
#include "concentrator/ike_keymat.h"
#include "concentrator/ike_net.h"
#include "concentrator/ike_proposal.h"
#include "concentrator/ike_session.h"
#include "concentrator/log.h"
#include "concentrator/pool.h"
#include "concentrator/registry.h"
#include "concentrator/snapshot.h"

struct auth_pool;
struct auth_job;
struct evl_timer;
struct evl_async;
struct ike_sk_ctx;
struct peer_count;
struct ike_tenants;
struct ike_cookie_ctx;
struct ike_cmd;
struct registry;
struct ike_rekey;
struct ike_redir;
struct ike_rekey_events;
struct esp_event;

enum ikesa_state {
    IKESA_HALF_OPEN = 0, /* IKE_SA_INIT answered, waiting for IKE_AUTH */
    IKESA_EAP,           /* EAP conversation relayed to RADIUS */
    IKESA_EAP_DONE,      /* EAP succeeded: waiting for the client's AUTH */
    IKESA_ESTABLISHED,
    IKESA_DELETING, /* our Delete sent, waiting for the answer */
    IKESA_DEAD,     /* being freed */
};

const char *ikesa_state_name(enum ikesa_state s);

#define IKE_FRAG_MAX       32 /* fragments of one message we reassemble */
#define IKE_REASM_MAX      (64 * 1024)
#define IKE_ID_TEXT_MAX    256
#define IKE_MAX_RESP_FRAGS IKE_FRAG_MAX

/* One datagram of a cached response (several when fragmented). */
struct ike_dgram {
    uint8_t *buf;
    size_t len;
};

struct ike_cached {
    uint32_t msg_id;
    bool valid;
    struct ike_dgram d[IKE_MAX_RESP_FRAGS];
    size_t n;
};

struct ike_reasm { /* RFC 7383 reassembly of one request */
    uint32_t msg_id;
    uint16_t total;
    uint8_t first; /* inner type of fragment 1 */
    uint8_t *piece[IKE_FRAG_MAX + 1];
    size_t piece_len[IKE_FRAG_MAX + 1];
    size_t have, bytes;
};

/* The traffic selectors of a CHILD_SA after narrowing (RFC 7296 2.9). */
#define IKE_CFG_MAX_TS 16
struct ike_narrowed {
    struct ike_ts tsi[IKE_CFG_MAX_TS], tsr[IKE_CFG_MAX_TS];
    size_t n_tsi, n_tsr;
    uint8_t addr[IKE_CFG_MAX_TS * 4][16]; /* storage the ts point into */
    size_t n_addr;
    uint8_t tsi_slot[IKE_CFG_MAX_TS], tsr_slot[IKE_CFG_MAX_TS]; /* addr of start; end next */
};

struct ike_child {
    bool installed;
    uint32_t spi_in, spi_out;
    struct ike_choice alg;
    char alg_text[96];
    int64_t established_at;
    unsigned rekeys;
    struct ike_narrowed ts;
};

struct ikesa {
    struct ike_engine *eng;
    struct ikesa *hnext;     /* in the engine's table by spi_r */
    struct ikesa *half_next; /* in the half-open table by (spi_i, peer) */
    uint64_t spi_i, spi_r;
    char id[17]; /* spi_r as hex: the session id in logs and the API */
    enum ikesa_state state;
    struct ike_path path;
    bool nat_peer, nat_local;
    int64_t created_at, established_at;

    /* Tenant (after IKE_AUTH's first message). */
    struct snapshot *snap; /* the reference keeping tenant/user/policy alive */
    const struct snap_tenant *tenant;
    const struct snap_user *user; /* NULL: not provisioned */
    const struct snap_policy *policy;
    uint32_t tenant_index;

    /* IKE_SA_INIT. */
    struct ike_choice alg;
    char alg_text[96];
    struct ike_sa_transforms xf;
    struct ike_sa_keys keys;
    struct ike_sk_ctx *sk_out, *sk_in;
    uint8_t ni[IKE_NONCE_MAX], nr[IKE_NONCE_MAX];
    size_t ni_len, nr_len;
    uint8_t *init_req, *init_resp; /* the IKE_SA_INIT messages, for AUTH */
    size_t init_req_len, init_resp_len;
    bool peer_frag;       /* IKEV2_FRAGMENTATION_SUPPORTED */
    unsigned peer_hashes; /* RFC 7427 hashes announced (bit per hash) */

    /* Message IDs (RFC 7296 2.3): the peer's requests, window 1. */
    uint32_t peer_next_id;
    bool busy; /* a request is being processed (RADIUS round) */
    uint32_t busy_id;
    struct ike_cached resp;
    struct ike_reasm reasm;

    /* Our requests (Delete, liveness). */
    uint32_t our_next_id;
    bool our_pending;
    struct ike_cached our_req;
    unsigned our_tries;
    struct evl_timer *retransmit;

    struct evl_timer *expire; /* half-open expiry */
    struct evl_timer *dpd;    /* liveness checks */
    double last_rx;           /* loop time of the last authenticated message */
    uint64_t last_packets_in; /* ESP packets seen at the last check */

    /* IKE_AUTH. */
    uint8_t idi_type;
    uint8_t *idi_body; /* ID payload body: type, 3 reserved, data */
    size_t idi_body_len;
    char peer_id[IKE_ID_TEXT_MAX];
    uint8_t *idr_body; /* ours, as sent */
    size_t idr_body_len;
    uint8_t *auth_req; /* first IKE_AUTH request's SA/TS/CP are kept here */
    size_t auth_req_len;
    uint8_t auth_req_first; /* its first payload type */
    bool initial_contact;
    char eap_identity[IKE_ID_TEXT_MAX];
    uint8_t eap_id;
    uint8_t radius_state[253];
    size_t radius_state_len;
    int radius_hint;
    uint8_t msk[128];
    size_t msk_len;
    uint8_t radius_class[253];
    size_t radius_class_len;
    bool has_framed_ip;
    struct pool_addr framed_ip;
    bool cert_auth;

    /* Virtual addresses and the CHILD_SA. */
    bool has_vip4, has_vip6;
    struct pool_addr vip4, vip6;
    struct ike_child child, child_old; /* child_old: rekeyed, until deleted */
    struct reg_counters child_base;    /* traffic of CHILD_SAs that are gone */
    struct ike_sess sess;              /* counters, accounting, history (ike_session.c) */
    bool moved;                        /* rekeyed: the session lives on in a successor IKE SA */
    unsigned ike_rekeys;

    /* MOBIKE (ike_mobike.c), rekeys we start (ike_rekey.c), redirect
     * (ike_redirect.c). */
    struct ike_path rx_path; /* where the message being handled came from */
    bool mobike;             /* MOBIKE_SUPPORTED sent by the client and answered */
    bool redirect_ok;        /* the client sent REDIRECT_SUPPORTED in IKE_SA_INIT */
    struct ike_rekey *rk;    /* our rekey timers and exchange in flight; NULL: none */
    /* IKE_SA rekeys we start, reauthentication deadline (ike_rekey_ike.c). */
    struct ike_ikerk *irk;
    /* We are the original initiator (we rekeyed this IKE SA): spi_r stays
     * our SPI and spi_i the peer's, but the header carries ours first and
     * our messages the Initiator flag. */
    bool we_initiator;
};

/* A pool of one tenant, kept across snapshots so that allocations survive
 * configuration changes. */
struct tenant_pools {
    struct tenant_pools *next;
    char tenant[64];
    struct pool **pools;
    size_t n;
};

struct ike_stats {
    uint64_t established, failed, half_open_expired;
};

#define IKE_SA_BUCKETS 4096

struct ike_engine {
    struct ike_engine_deps deps;
    const struct config *cfg;
    struct evl *loop;
    struct ike_net *net;

    struct snapshot *snap;     /* current */
    pthread_mutex_t snap_lock; /* guards posted */
    struct snapshot *posted;
    struct evl_async *snap_wake;

    struct auth_pool *auth;
    struct evl_async *auth_wake;

    struct registry *registry;
    pthread_mutex_t cmd_lock; /* guards cmds */
    struct ike_cmd *cmds;
    struct evl_async *cmd_wake;

    struct ikesa *table[IKE_SA_BUCKETS];      /* by spi_r */
    struct ikesa *half_table[IKE_SA_BUCKETS]; /* by spi_i ^ peer */
    struct peer_count *peer_counts[IKE_SA_BUCKETS];
    size_t n_sas, n_half_open;

    struct ike_cookie_ctx *cookies;
    int64_t cookie_rotated_at;

    struct tenant_pools *pools;
    struct ike_tenants *tenants;
    struct ike_stats stats;
    struct evl_timer *sess_timer;       /* Interim-Updates (ike_session.c) */
    struct ike_redir *redir;            /* drain and redirect commands (ike_redirect.c) */
    struct ike_rekey_events *rk_events; /* data plane lifetime events (ike_rekey.c) */

    /* Scratch for the IKE thread (one message at a time). */
    struct ike_msg msg, inner;
    uint8_t work[IKE_MSG_MAX];
};

/* ---- ike_sa.c ---- */
struct ikesa *ikesa_new(struct ike_engine *e, uint64_t spi_i, const struct ike_path *path);
/* The successor of a rekeyed IKE SA: established, with new SPIs. */
struct ikesa *ikesa_new_rekeyed(struct ikesa *old, uint64_t spi_i);
/* The same with our SPI chosen beforehand (an IKE_SA rekey we started);
 * NULL when it is taken or out of memory. */
struct ikesa *ikesa_new_rekeyed_ours(struct ikesa *old, uint64_t spi_peer, uint64_t spi_ours);
struct ikesa *ikesa_find(struct ike_engine *e, uint64_t spi_r);
/* A session's stable key (its first IKE SA's SPIr: sa->id as a number,
 * kept across IKE SA rekeys): what the data plane's events carry. */
uint64_t ikesa_session_key(const struct ikesa *sa);
/* The IKE SA that carries the session now, or NULL. */
struct ikesa *ikesa_find_session(struct ike_engine *e, uint64_t key);
struct ikesa *ikesa_find_half_open(struct ike_engine *e, uint64_t spi_i,
                                   const struct sockaddr_storage *peer);
/* Half-open IKE SAs from one address (for the per-address limit). */
unsigned ike_half_open_count(struct ike_engine *e, const struct sockaddr_storage *peer);
void ike_peer_counts_free(struct ike_engine *e);
/* The one place an IKE SA changes state; logs "old -> new". */
void ikesa_set_state(struct ikesa *sa, enum ikesa_state st);
/* Removes it from the tables, releases addresses and the CHILD_SA, frees;
 * a session still up ends as `end` says (ike_session.h), why is logged. */
void ikesa_destroy(struct ikesa *sa, enum ike_end end, const char *why);
/* Ends an established SA from our side: Delete sent (retransmitted until
 * answered or given up), CHILD_SA and addresses released at once. */
void ikesa_terminate(struct ikesa *sa, enum ike_end end, const char *why);
/* Starts the liveness checks of an established SA ([ike] dpd_delay). */
void ikesa_start_liveness(struct ikesa *sa);
/* Publishes the SA in the session registry (after a change). */
void ikesa_publish(struct ikesa *sa);
struct radius_nas;
/* The NAS attributes of RADIUS requests about this SA: our identity and
 * address, the gateway identity it asked for, the client's address. */
void ikesa_radius_nas(const struct ikesa *sa, struct radius_nas *nas);
/* Log context of an SA. */
struct log_ctx ikesa_log_ctx(const struct ikesa *sa);
void ikesa_log(const struct ikesa *sa, enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t ike_random_spi(void);

/* ---- ike_msg.c ---- */
/* Encrypts an answer's inner payloads (built in ib) into one message or,
 * when too large and the peer supports it, RFC 7383 fragments; sends it
 * and caches it for retransmitted requests. Returns 0 or -1. */
int ike_send_response(struct ikesa *sa, uint8_t exchange, uint32_t msg_id, const uint8_t *inner,
                      size_t inner_len, uint8_t first);
/* The same for our own requests (retransmitted with backoff). */
int ike_send_request(struct ikesa *sa, uint8_t exchange, const uint8_t *inner, size_t inner_len,
                     uint8_t first);
/* Resends the cached response to a retransmitted request. */
void ike_resend_cached(struct ikesa *sa);
void ike_cached_clear(struct ike_cached *c);
/* Decrypts an SK message, or adds an SKF fragment and, once all are in,
 * decrypts the whole. Returns 1 with e->inner filled, 0 when more fragments
 * are needed, -1 when the message must be dropped (logged). */
int ike_unprotect(struct ikesa *sa, uint8_t *buf, size_t len, struct ike_msg *outer);
/* An unencrypted message with only a notify (IKE_SA_INIT errors, cookies). */
void ike_send_plain_notify(struct ike_engine *e, const struct ike_hdr *req,
                           const struct ike_path *path, uint16_t type, const uint8_t *data,
                           size_t len);

/* ---- ike_init.c ---- */
void ike_init_request(struct ike_engine *e, uint8_t *buf, size_t len, const struct ike_path *path);

/* ---- ike_auth.c ---- */
void ike_auth_request(struct ikesa *sa, const struct ike_msg *inner, uint32_t msg_id);
void ike_auth_radius_done(struct ike_engine *e, struct auth_job *job);

/* ---- ike_info.c ---- */
void ike_info_request(struct ikesa *sa, const struct ike_msg *inner, uint32_t msg_id);
void ike_info_response(struct ikesa *sa, const struct ike_msg *inner);

/* ---- ike_cfg.c: addresses, CP and traffic selectors ---- */
/* Reserves the client's virtual addresses: the user's static address,
 * RADIUS's Framed-IP-Address, or the policy's pools. */
int ike_cfg_assign(struct ikesa *sa, bool want4, bool want6, char *why, size_t whylen);
void ike_cfg_release(struct ikesa *sa);
/* Writes the CFG_REPLY for the addresses, DNS and split routes. */
enum ike_err ike_cfg_put_reply(struct ikesa *sa, struct ike_builder *b);
struct esp_sa_params;
/* Narrows the client's TSi to its virtual addresses and its TSr to the
 * policy's routes (all traffic for a full tunnel), and fills the ESP
 * selectors. Returns 0, or -1 when nothing is left (TS_UNACCEPTABLE). */
int ike_cfg_narrow_ts(struct ikesa *sa, const struct ike_ts_list *tsi,
                      const struct ike_ts_list *tsr, struct ike_narrowed *out,
                      struct esp_sa_params *p);
struct pool **ike_tenant_pools(struct ike_engine *e, const struct snap_tenant *t, size_t *n);

/* ---- ike_child.c ---- */
struct ike_child_ctx {
    const struct ike_sa *sa_pl; /* the client's SA payload */
    const struct ike_ts_list *tsi, *tsr;
    bool in_ike_auth;        /* first CHILD_SA: no KE, IKE_SA_INIT nonces */
    const struct ike_ke *ke; /* CREATE_CHILD_SA: the client's KE, or NULL */
    const uint8_t *ni;       /* CREATE_CHILD_SA: the client's nonce */
    size_t ni_len;
    uint32_t rekey_spi_in;     /* our inbound SPI of the pair being rekeyed; 0: none */
    uint16_t invalid_ke_group; /* out: with INVALID_KE_PAYLOAD */
};
/* Chooses the ESP proposal, derives the keys and installs the CHILD_SA
 * (replacing the rekeyed one's routes atomically); writes SA [Nr KEr] TSi
 * TSr. Returns 0, or a notify type to answer with (NO_PROPOSAL_CHOSEN,
 * TS_UNACCEPTABLE, INVALID_KE_PAYLOAD, ...). */
uint16_t ike_child_create(struct ikesa *sa, struct ike_child_ctx *cc, struct ike_builder *b);
/* The client deleted the pair whose outbound (its inbound) SPI is peer_spi:
 * removes it and gives our inbound SPI for the answer. False if unknown. */
bool ike_child_delete_spi(struct ikesa *sa, uint32_t peer_spi, uint32_t *our_spi);
/* Hands the CHILD_SAs of a rekeyed IKE SA to its successor. */
void ike_child_move(struct ikesa *to, struct ikesa *from);
/* Removes every CHILD_SA of the IKE SA. */
void ike_child_delete(struct ikesa *sa);

/* ---- ike_create.c: CREATE_CHILD_SA ---- */
void ike_create_request(struct ikesa *sa, const struct ike_msg *in, uint32_t msg_id);
/* A rekeyed IKE SA's session (tenant, identity, addresses, CHILD_SAs,
 * accounting, lifetimes) moves to its keyed successor ns; old is left
 * "moved", to be deleted. Publishes ns and starts its liveness checks. */
void ike_create_move_session(struct ikesa *ns, struct ikesa *old);

/* ---- ike_rekey_ike.c: IKE_SA rekeys we start, reauthentication ---- */
/* Arms the IKE SA's soft lifetime (80-90 % of the policy's ike_lifetime)
 * and the session's reauthentication deadline (policy reauth_interval);
 * once per IKE SA. */
void ike_ikerk_arm(struct ikesa *sa);
/* The last IKE_AUTH answer: AUTH_LIFETIME (RFC 4478) when the policy asks
 * for reauthentication. */
void ike_ikerk_put_auth_lifetime(struct ikesa *sa, struct ike_builder *b);
/* A CREATE_CHILD_SA response: true when it answered our IKE_SA rekey. */
bool ike_ikerk_response(struct ikesa *sa, const struct ike_msg *in);
/* The reauthentication deadline goes with the session to a successor. */
void ike_ikerk_move(struct ikesa *to, struct ikesa *from);
void ike_ikerk_free(struct ikesa *sa);

/* ---- ike_mobike.c: RFC 4555 ---- */
/* First IKE_AUTH request: notes MOBIKE_SUPPORTED. */
void ike_mobike_auth_request(struct ikesa *sa, const struct ike_msg *in);
/* Last IKE_AUTH answer: MOBIKE_SUPPORTED when the client sent it. */
void ike_mobike_put_supported(struct ikesa *sa, struct ike_builder *b);
/* Whether an authenticated message that came from path may move the SA
 * there by itself (RFC 7296 2.23); with MOBIKE only UPDATE_SA_ADDRESSES
 * changes the peer's address. */
bool ike_mobike_may_follow(const struct ikesa *sa, const struct ike_path *path);
/* An INFORMATIONAL request's MOBIKE notifies (UPDATE_SA_ADDRESSES, NAT
 * detection, COOKIE2, ADDITIONAL_*_ADDRESS): applies them and adds the
 * answer's notifies to b. */
void ike_mobike_info(struct ikesa *sa, const struct ike_msg *in, struct ike_builder *b);

/* ---- ike_child.c (continued) ---- */
/* Gives every installed CHILD_SA of sa the outer addresses of sa->path. */
void ike_child_update_endpoints(struct ikesa *sa);
/* Our own CHILD_SA rekey (ike_rekey.c): p carries SPIs, transforms and keys;
 * installs it with the current pair's traffic selectors, switching that
 * pair's routes to it; the current pair becomes sa->child_old (the one
 * before is removed). Returns 0, or -1 with err. */
int ike_child_install_ours(struct ikesa *sa, struct esp_sa_params *p, const struct ike_choice *c,
                           char *err, size_t errlen);
/* The same when sa->child is the client's redundant pair of a rekey
 * collision it lost: ours takes its routes and it is removed at once (the
 * client never sends on it); sa->child_old, the pair both rekeyed, keeps
 * decrypting until our Delete of it is answered. */
int ike_child_install_ours_replacing(struct ikesa *sa, struct esp_sa_params *p,
                                     const struct ike_choice *c, char *err, size_t errlen);
/* Removes sa->child_old (its Delete was answered). */
void ike_child_remove_old(struct ikesa *sa);

/* ---- ike_rekey.c: rekeys we start, lifetimes ---- */
int ike_rekey_engine_init(struct ike_engine *e);
void ike_rekey_engine_free(struct ike_engine *e);
/* ike_rekey_esp_event (the data plane's event callback) is in ike.h. */
/* Arms the soft/hard lifetime timers of an established SA (after IKE_AUTH,
 * a CHILD_SA rekey, an IKE_SA rekey). */
void ike_rekey_arm(struct ikesa *sa);
/* A response to our CREATE_CHILD_SA request. */
void ike_rekey_response(struct ikesa *sa, const struct ike_msg *in);
/* A response to our INFORMATIONAL request: true when it answered a Delete
 * of ours for a rekeyed CHILD_SA (handled), false for ike_info_response. */
bool ike_rekey_info_response(struct ikesa *sa, const struct ike_msg *in);
/* The client rekeyed the pair whose inbound SPI was old_spi_in with nonces
 * ni/nr (we answered): ends our timers for it and notes a collision with a
 * rekey of ours in flight (RFC 7296 2.8.1). */
void ike_rekey_peer_rekeyed(struct ikesa *sa, uint32_t old_spi_in, const uint8_t *ni, size_t ni_len,
                            const uint8_t *nr, size_t nr_len);
/* Timers and exchange state end (CHILD_SAs removed, SA destroyed). */
void ike_rekey_free(struct ikesa *sa);

/* ---- ike_redirect.c: RFC 5685 ---- */
int ike_redirect_engine_init(struct ike_engine *e);
void ike_redirect_engine_free(struct ike_engine *e);
/* IKE_SA_INIT: when draining and the client supports it, answers with
 * REDIRECT and returns true (no IKE SA is made). */
bool ike_redirect_init(struct ike_engine *e, const struct ike_msg *m, const struct ike_data *ni,
                       const struct ike_path *path);

#endif
