/* Redirect (RFC 5685). Drain mode: while the operator drains the gateway,
 * a new client that announced REDIRECT_SUPPORTED gets REDIRECT (with the
 * gateway to go to and its own nonce) in answer to IKE_SA_INIT, and no IKE
 * SA is made. An established session is sent to another gateway with an
 * INFORMATIONAL carrying REDIRECT; the client then connects there and
 * deletes this IKE SA. Both are commands from the API's threads. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "concentrator/event.h"
#include "concentrator/ike_engine.h"
#include "concentrator/ike_names.h"

#define GW_MAX 256

struct redir_cmd {
    struct redir_cmd *next;
    char id[REG_ID_LEN];
    char to[GW_MAX];
};

struct ike_redir {
    pthread_mutex_t lock; /* guards drain_to, cmds */
    char drain_to[GW_MAX];
    struct redir_cmd *cmds;
    struct evl_async *wake;
    struct ike_engine *eng;
};

/* The gateway identity of a REDIRECT: an address, else an FQDN. */
static size_t gw_encode(const char *to, const uint8_t *nonce, size_t nonce_len, uint8_t *out,
                        size_t cap)
{
    uint8_t a[16];
    if (inet_pton(AF_INET, to, a) == 1)
        return ike_redirect_encode(out, cap, IKE_GW_IPV4, a, 4, nonce, nonce_len);
    if (inet_pton(AF_INET6, to, a) == 1)
        return ike_redirect_encode(out, cap, IKE_GW_IPV6, a, 16, nonce, nonce_len);
    return ike_redirect_encode(out, cap, IKE_GW_FQDN, (const uint8_t *)to, strlen(to), nonce,
                               nonce_len);
}

bool ike_redirect_init(struct ike_engine *e, const struct ike_msg *m, const struct ike_data *ni,
                       const struct ike_path *path)
{
    struct ike_redir *r = e->redir;
    if (!r || !ike_msg_find_notify(m, IKE_N_REDIRECT_SUPPORTED))
        return false;
    char to[GW_MAX];
    pthread_mutex_lock(&r->lock);
    memcpy(to, r->drain_to, sizeof(to));
    pthread_mutex_unlock(&r->lock);
    if (!to[0])
        return false;
    uint8_t data[2 + 255 + IKE_NONCE_MAX];
    size_t n = gw_encode(to, ni->p, ni->len, data, sizeof(data));
    if (!n)
        return false;
    ike_send_plain_notify(e, &m->hdr, path, IKE_N_REDIRECT, data, n);
    char peer[80];
    ike_addr_str(&path->peer, peer, sizeof(peer));
    struct log_ctx c = {NULL, NULL, peer};
    log_msg(LOG_LVL_INFO, "ike", &c, "draining: new client redirected to %s", to);
    return true;
}

static void redirect_session(struct ike_engine *e, const struct redir_cmd *c)
{
    for (size_t b = 0; b < IKE_SA_BUCKETS; b++) {
        for (struct ikesa *sa = e->table[b]; sa; sa = sa->hnext) {
            if (sa->state != IKESA_ESTABLISHED || sa->moved || strcmp(sa->id, c->id) != 0)
                continue;
            if (!sa->redirect_ok) {
                ikesa_log(sa, LOG_LVL_NOTICE,
                          "cannot redirect to %s: the client did not announce REDIRECT_SUPPORTED",
                          c->to);
                return;
            }
            uint8_t data[2 + 255], inner[512];
            size_t n = gw_encode(c->to, NULL, 0, data, sizeof(data));
            struct ike_builder bld;
            ike_build_init_inner(&bld, inner, sizeof(inner));
            ike_put_notify(&bld, IKE_PROTO_NONE, IKE_N_REDIRECT, NULL, 0, data, n);
            size_t len = n ? ike_build_finish(&bld) : 0;
            if (!len || ike_send_request(sa, IKE_EXCH_INFORMATIONAL, inner, len, bld.first) < 0) {
                ikesa_log(sa, LOG_LVL_WARN, "cannot send REDIRECT to %s now", c->to);
                return;
            }
            ikesa_log(sa, LOG_LVL_NOTICE, "session redirected to %s by the operator", c->to);
            return;
        }
    }
}

static void on_cmds(struct evl_async *a, void *arg)
{
    (void)a;
    struct ike_redir *r = arg;
    pthread_mutex_lock(&r->lock);
    struct redir_cmd *list = r->cmds;
    r->cmds = NULL;
    pthread_mutex_unlock(&r->lock);
    while (list) {
        struct redir_cmd *c = list;
        list = c->next;
        redirect_session(r->eng, c);
        free(c);
    }
}

int ike_redirect_engine_init(struct ike_engine *e)
{
    struct ike_redir *r = calloc(1, sizeof(*r));
    if (!r)
        return -1;
    pthread_mutex_init(&r->lock, NULL);
    r->eng = e;
    r->wake = evl_async_new(e->loop, on_cmds, r);
    if (!r->wake) {
        pthread_mutex_destroy(&r->lock);
        free(r);
        return -1;
    }
    e->redir = r;
    return 0;
}

void ike_redirect_engine_free(struct ike_engine *e)
{
    struct ike_redir *r = e->redir;
    if (!r)
        return;
    e->redir = NULL;
    evl_async_free(r->wake);
    while (r->cmds) {
        struct redir_cmd *n = r->cmds->next;
        free(r->cmds);
        r->cmds = n;
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void ike_engine_drain(struct ike_engine *e, const char *to)
{
    struct ike_redir *r = e->redir;
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    snprintf(r->drain_to, sizeof(r->drain_to), "%s", to ? to : "");
    pthread_mutex_unlock(&r->lock);
    if (to && to[0])
        log_notice("ike", "draining: new clients are redirected to %s", to);
    else
        log_notice("ike", "draining ended: new clients are accepted");
}

bool ike_engine_draining(struct ike_engine *e, char *to, size_t cap)
{
    struct ike_redir *r = e->redir;
    if (!r)
        return false;
    pthread_mutex_lock(&r->lock);
    snprintf(to, cap, "%s", r->drain_to);
    pthread_mutex_unlock(&r->lock);
    return to[0] != '\0';
}

void ike_engine_redirect(struct ike_engine *e, const char *session_id, const char *to)
{
    struct ike_redir *r = e->redir;
    struct redir_cmd *c = r ? calloc(1, sizeof(*c)) : NULL;
    if (!c)
        return;
    snprintf(c->id, sizeof(c->id), "%s", session_id);
    snprintf(c->to, sizeof(c->to), "%s", to);
    pthread_mutex_lock(&r->lock);
    c->next = r->cmds;
    r->cmds = c;
    pthread_mutex_unlock(&r->lock);
    evl_async_send(r->wake);
}
