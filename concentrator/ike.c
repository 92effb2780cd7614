/* The IKE engine: receiving, dispatching by SPI and exchange, snapshots,
 * RADIUS results. */
#define _GNU_SOURCE
#include "concentrator/ike.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/auth_pool.h"
#include "concentrator/ike_auth_calc.h"
#include "concentrator/config.h"
#include "concentrator/event.h"
#include "concentrator/ike_engine.h"
#include "concentrator/ike_names.h"
#include "concentrator/ike_tenant.h"
#include "concentrator/registry.h"

static void rate_log(const struct ike_path *path, const char *what)
{
    static time_t last;
    static unsigned n;
    time_t now = time(NULL);
    if (now != last) {
        last = now;
        n = 0;
    }
    if (++n > 10)
        return;
    char peer[80];
    ike_addr_str(&path->peer, peer, sizeof(peer));
    struct log_ctx c = {NULL, NULL, peer};
    log_msg(LOG_LVL_DEBUG, "ike", &c, "%s", what);
}

/* After an authenticated message from another address or port (the client
 * moved to the NAT-T port, or a NAT rebound it), follow it: RFC 7296 2.23. */
static void follow_peer(struct ikesa *sa, const struct ike_path *path)
{
    if (ike_addr_equal(&sa->path.peer, &path->peer, true) && sa->path.natt == path->natt)
        return;
    if (!ike_mobike_may_follow(sa, path))
        return; /* with MOBIKE, UPDATE_SA_ADDRESSES moves it (ike_mobike.c) */
    bool port_only = ike_addr_equal(&sa->path.peer, &path->peer, false);
    if (!port_only && sa->state == IKESA_ESTABLISHED && !sa->nat_peer && !sa->nat_local)
        return; /* an address change without NAT is MOBIKE's business */
    char a[80], b[80];
    ikesa_log(sa, LOG_LVL_INFO, "peer moved from %s to %s%s",
              ike_addr_str(&sa->path.peer, a, sizeof(a)), ike_addr_str(&path->peer, b, sizeof(b)),
              path->natt ? " (NAT-T)" : "");
    sa->path = *path;
}

static void on_ike(void *arg, const uint8_t *cmsg, size_t len, const struct ike_path *path)
{
    struct ike_engine *e = arg;
    if (len < IKE_HDR_LEN || len > IKE_MSG_MAX)
        return;
    /* The receive buffer is ours to decrypt in place. */
    uint8_t *msg = (uint8_t *)(uintptr_t)cmsg;
    struct ike_hdr h;
    enum ike_err err = ike_decode_header(msg, len, &h);
    if (err != IKE_OK && err != IKE_ERR_VERSION) {
        rate_log(path, "dropped a datagram that is not an IKE message");
        return;
    }
    if (h.exchange == IKE_EXCH_SA_INIT && h.spi_r == 0) {
        ike_init_request(e, msg, len, path);
        return;
    }
    struct ikesa *sa = ikesa_find(e, h.spi_r);
    if (!sa || sa->spi_i != h.spi_i || sa->we_initiator) {
        /* An IKE SA we rekeyed: our SPI is the initiator's. */
        sa = ikesa_find(e, h.spi_i);
        if (sa && (!sa->we_initiator || sa->spi_i != h.spi_r))
            sa = NULL;
    }
    if (!sa) {
        rate_log(path, "dropped a message for an unknown IKE SA");
        return;
    }
    if (h.exchange == IKE_EXCH_SA_INIT)
        return; /* a late retransmission; answered while half-open by SPIi */
    bool response = h.flags & IKE_FLAG_RESPONSE;
    if (!response) {
        if (h.msg_id + 1 == sa->peer_next_id && sa->resp.valid && sa->resp.msg_id == h.msg_id) {
            sa->rx_path = *path; /* answered where the retransmission came from */
            ike_resend_cached(sa);
            return;
        }
        if (h.msg_id != sa->peer_next_id || (sa->busy && sa->busy_id == h.msg_id))
            return;
    } else if (!sa->our_pending || h.msg_id != sa->our_req.msg_id) {
        return;
    }
    if (ike_decode(msg, len, &e->msg) != IKE_OK) {
        ikesa_log(sa, LOG_LVL_INFO, "dropped a malformed %s message",
                  IKE_NAME(ike_exchange_name, h.exchange));
        return;
    }
    int u = ike_unprotect(sa, msg, len, &e->msg);
    if (u <= 0)
        return;
    sa->rx_path = *path;
    follow_peer(sa, path);
    sa->last_rx = evl_now(e->loop);
    if (response) {
        if (h.exchange == IKE_EXCH_CREATE_CHILD_SA) {
            if (!ike_ikerk_response(sa, &e->inner))
                ike_rekey_response(sa, &e->inner);
        } else if (!ike_rekey_info_response(sa, &e->inner))
            ike_info_response(sa, &e->inner);
        return;
    }
    switch (h.exchange) {
    case IKE_EXCH_AUTH:
        ike_auth_request(sa, &e->inner, h.msg_id);
        break;
    case IKE_EXCH_INFORMATIONAL:
        if (sa->state == IKESA_ESTABLISHED || sa->state == IKESA_DELETING)
            ike_info_request(sa, &e->inner, h.msg_id);
        else
            ikesa_destroy(sa, IKE_END_GATEWAY, "INFORMATIONAL before the IKE_SA was established");
        break;
    case IKE_EXCH_CREATE_CHILD_SA:
        if (sa->state == IKESA_ESTABLISHED)
            ike_create_request(sa, &e->inner, h.msg_id);
        break;
    default:
        ikesa_log(sa, LOG_LVL_INFO, "ignored a %s request",
                  IKE_NAME(ike_exchange_name, h.exchange));
        break;
    }
}

static void on_snapshot(struct evl_async *a, void *arg)
{
    (void)a;
    struct ike_engine *e = arg;
    pthread_mutex_lock(&e->snap_lock);
    struct snapshot *s = e->posted;
    e->posted = NULL;
    pthread_mutex_unlock(&e->snap_lock);
    if (!s)
        return;
    snapshot_unref(e->snap);
    e->snap = s;
    log_info("ike", "configuration snapshot %llu in use (%zu tenants)",
             (unsigned long long)s->generation, s->n_tenants);
}

void ike_engine_post_snapshot(struct ike_engine *e, struct snapshot *s)
{
    pthread_mutex_lock(&e->snap_lock);
    struct snapshot *old = e->posted;
    e->posted = s;
    pthread_mutex_unlock(&e->snap_lock);
    snapshot_unref(old);
    evl_async_send(e->snap_wake);
}

static void auth_done(struct auth_job *job, void *arg)
{
    struct ike_engine *e = arg;
    if (ike_session_auth_done(e, job))
        return; /* accounting */
    if (job->kind == AUTH_JOB_EAP)
        ike_auth_radius_done(e, job);
    else
        auth_job_free(job);
}

static void on_auth(struct evl_async *a, void *arg)
{
    (void)a;
    struct ike_engine *e = arg;
    auth_pool_drain(e->auth, auth_done, e);
}

/* Commands from other threads, run on the IKE thread. */
struct ike_cmd {
    struct ike_cmd *next;
    char id[REG_ID_LEN];
    char tenant[64];
    char username[128];
    bool has_user;
    char why[128];
};

struct registry *ike_engine_registry(struct ike_engine *e)
{
    return e->registry;
}

void ike_engine_terminate(struct ike_engine *e, const char *session_id, const char *tenant,
                          const char *username, const char *why)
{
    struct ike_cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    snprintf(c->id, sizeof(c->id), "%s", session_id ? session_id : "");
    snprintf(c->tenant, sizeof(c->tenant), "%s", tenant ? tenant : "");
    if (username) {
        c->has_user = true;
        snprintf(c->username, sizeof(c->username), "%s", username);
    }
    snprintf(c->why, sizeof(c->why), "%s", why ? why : "ended by the operator");
    pthread_mutex_lock(&e->cmd_lock);
    c->next = e->cmds;
    e->cmds = c;
    pthread_mutex_unlock(&e->cmd_lock);
    evl_async_send(e->cmd_wake);
}

static bool cmd_matches(const struct ike_cmd *c, const struct ikesa *sa)
{
    if (c->id[0])
        return strcmp(c->id, sa->id) == 0;
    if (!sa->tenant || strcmp(c->tenant, sa->tenant->id) != 0)
        return false;
    if (!c->has_user)
        return true;
    const char *who = sa->eap_identity[0] ? sa->eap_identity : sa->peer_id;
    return strcasecmp(who, c->username) == 0 ||
           (sa->user && strcasecmp(sa->user->username, c->username) == 0);
}

static void on_cmd(struct evl_async *a, void *arg)
{
    (void)a;
    struct ike_engine *e = arg;
    pthread_mutex_lock(&e->cmd_lock);
    struct ike_cmd *list = e->cmds;
    e->cmds = NULL;
    pthread_mutex_unlock(&e->cmd_lock);
    while (list) {
        struct ike_cmd *c = list;
        list = c->next;
        for (size_t b = 0; b < IKE_SA_BUCKETS; b++) {
            struct ikesa *sa = e->table[b];
            while (sa) {
                struct ikesa *next = sa->hnext;
                if (sa->state != IKESA_DELETING && cmd_matches(c, sa))
                    ikesa_terminate(sa, IKE_END_ADMIN, c->why);
                sa = next;
            }
        }
        free(c);
    }
}

struct ike_engine *ike_engine_new(const struct ike_engine_deps *deps, char *err, size_t errlen)
{
    struct ike_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->deps = *deps;
    e->cfg = deps->cfg;
    e->loop = deps->loop;
    pthread_mutex_init(&e->snap_lock, NULL);
    pthread_mutex_init(&e->cmd_lock, NULL);
    e->registry = registry_new();
    e->cmd_wake = evl_async_new(e->loop, on_cmd, e);
    e->cookies = ike_cookie_new();
    e->tenants = ike_tenants_new(deps->master_key);
    e->snap_wake = evl_async_new(e->loop, on_snapshot, e);
    e->auth_wake = evl_async_new(e->loop, on_auth, e);
    struct auth_pool_cfg acfg = {0};
    e->auth = e->auth_wake ? auth_pool_new(&acfg, e->auth_wake) : NULL;
    if (!e->tenants || !e->cookies || !e->snap_wake || !e->auth || !e->registry || !e->cmd_wake ||
        ike_rekey_engine_init(e) < 0 || ike_redirect_engine_init(e) < 0) {
        snprintf(err, errlen, "cannot start the IKE engine (auth threads)");
        ike_engine_free(e);
        return NULL;
    }
    stats_attach(deps->stats, deps->sadb, e->auth, deps->writer);
    e->net = ike_net_open(e->cfg, e->loop, deps->own_natt, on_ike, NULL, e, err, errlen);
    if (!e->net) {
        ike_engine_free(e);
        return NULL;
    }
    return e;
}

void ike_engine_natt_input(struct ike_engine *e, uint8_t *buf, size_t len,
                           const struct ike_path *path)
{
    ike_net_input(e->net, buf, len, path);
}

void ike_engine_set_natt_sender(struct ike_engine *e, ike_net_natt_send_fn fn, void *arg)
{
    ike_net_set_natt_sender(e->net, fn, arg);
}

uint16_t ike_engine_port(const struct ike_engine *e, bool natt)
{
    return ike_net_port(e->net, natt);
}

void ike_engine_free(struct ike_engine *e)
{
    if (!e)
        return;
    for (size_t b = 0; b < IKE_SA_BUCKETS; b++)
        while (e->table[b])
            ikesa_destroy(e->table[b], IKE_END_SHUTDOWN, "the daemon is stopping");
    evl_timer_free(e->sess_timer);
    ike_rekey_engine_free(e);
    ike_redirect_engine_free(e);
    auth_pool_free(e->auth);
    ike_net_close(e->net);
    evl_async_free(e->snap_wake);
    evl_async_free(e->auth_wake);
    evl_async_free(e->cmd_wake);
    while (e->cmds) {
        struct ike_cmd *n = e->cmds->next;
        free(e->cmds);
        e->cmds = n;
    }
    registry_free(e->registry);
    pthread_mutex_destroy(&e->cmd_lock);
    snapshot_unref(e->snap);
    snapshot_unref(e->posted);
    ike_tenants_free(e->tenants);
    while (e->pools) {
        struct tenant_pools *n = e->pools->next;
        for (size_t i = 0; i < e->pools->n; i++)
            pool_free(e->pools->pools[i]);
        free(e->pools->pools);
        free(e->pools);
        e->pools = n;
    }
    ike_peer_counts_free(e);
    ike_cookie_free(e->cookies);
    pthread_mutex_destroy(&e->snap_lock);
    free(e);
}
