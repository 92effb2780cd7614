/* Sessions around IKE: counters, RADIUS accounting, history rows. See
 * ike_session.h. IKE thread only. */
#define _GNU_SOURCE
#include "concentrator/ike_session.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/auth_pool.h"
#include "auth/radius_acct.h"
#include "concentrator/event.h"
#include "concentrator/ike_engine.h"
#include "concentrator/ike_tenant.h"
#include "concentrator/ike_names.h"
#include "db/history.h"
#include "esp/esp.h"
#include "esp/esp_sadb.h"

#define SWEEP_S     1.0  /* how often due Interim-Updates are looked for */
#define ACTIVITY_MS 5000 /* how often a session's inbound counter is looked at */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_s(void)
{
    return (int64_t)time(NULL);
}

static const char *who(const struct ikesa *sa)
{
    return sa->eap_identity[0] ? sa->eap_identity : sa->peer_id;
}

static struct stats *st_of(const struct ikesa *sa)
{
    return sa->eng->deps.stats;
}

void ike_session_init(struct ikesa *sa)
{
    memset(&sa->sess, 0, sizeof(sa->sess));
    sa->sess.init_ms = mono_ms();
}

/* ---- counters ---- */

void ike_session_set_fail(struct ikesa *sa, enum stats_fail why)
{
    sa->sess.has_fail = true;
    sa->sess.fail = why;
}

void ike_session_failed(struct ikesa *sa, uint16_t notify)
{
    enum stats_fail why;
    if (sa->sess.has_fail)
        why = sa->sess.fail;
    else if (notify == IKE_N_NO_PROPOSAL_CHOSEN)
        why = STATS_FAIL_NO_PROPOSAL;
    else if (notify == IKE_N_TS_UNACCEPTABLE)
        why = STATS_FAIL_TS;
    else if (notify == IKE_N_INTERNAL_ADDRESS_FAILURE)
        why = STATS_FAIL_ADDRESS;
    else if (notify == IKE_N_AUTHENTICATION_FAILED)
        why = sa->cert_auth || sa->idi_type == IKE_ID_DER_ASN1_DN ? STATS_FAIL_CERTIFICATE
                                                                  : STATS_FAIL_CREDENTIALS;
    else
        why = STATS_FAIL_OTHER;
    stats_failed(st_of(sa), sa->tenant ? sa->tenant->id : NULL, why);
    ike_session_event(sa, EVENTS_AUTH_FAILURE, stats_fail_name(why));
    sa->sess.has_fail = false;
}

/* ---- accounting ---- */

/* The tenant's RADIUS servers and our NAS attributes, as for EAP. Returns
 * false when the tenant has none (no accounting then). */
static bool fill_servers(const struct ikesa *sa, struct radius_acct_req *rq)
{
    const struct snap_tenant *t = sa->tenant;
    if (!t)
        return false;
    ike_tenant_radius(t, &rq->servers);
    /* A server with acct_port 0 takes no accounting (the API's meaning of
     * 0; the RADIUS client would otherwise use 1813). */
    size_t kept = 0;
    for (size_t i = 0; i < rq->servers.n; i++)
        if (rq->servers.s[i].acct_port)
            rq->servers.s[kept++] = rq->servers.s[i];
    for (size_t i = kept; i < rq->servers.n; i++)
        OPENSSL_cleanse(&rq->servers.s[i], sizeof(rq->servers.s[i]));
    rq->servers.n = kept;
    if (!rq->servers.n)
        return false;
    ikesa_radius_nas(sa, &rq->nas);
    return true;
}

/* The session's traffic: CHILD_SAs that are gone plus the live ones. */
static void totals(const struct ikesa *sa, struct reg_counters *c)
{
    *c = sa->child_base;
    struct esp_sadb *db = sa->eng->deps.sadb;
    const struct ike_child *ch[2] = {&sa->child, &sa->child_old};
    for (size_t i = 0; db && i < 2; i++) {
        struct esp_sa_stats es;
        if (!ch[i]->installed || esp_sadb_sa_stats(db, ch[i]->spi_in, &es) < 0)
            continue;
        c->bytes_in += es.bytes_in;
        c->bytes_out += es.bytes_out;
        c->packets_in += es.packets_in;
        c->packets_out += es.packets_out;
    }
}

static void send_acct(struct ikesa *sa, enum radius_acct_status status, unsigned cause)
{
    struct ike_engine *e = sa->eng;
    /* Every tenant's accounting shares one fairness key: at most half the
     * auth threads wait on accounting servers, whichever are dead, and
     * logins always find the other half. The cookie says whose it is. */
    struct stats_tenant *t =
        e->deps.stats ? stats_tenant_get(e->deps.stats, sa->tenant ? sa->tenant->id : "") : NULL;
    uint64_t slot = t ? (uint64_t)(t - e->deps.stats->tenants) + 1 : 0;
    struct auth_job *job = auth_job_new(AUTH_JOB_ACCT, IKE_SESSION_ACCT_KEY, slot);
    if (!job)
        return;
    struct radius_acct_req *rq = &job->u.acct.req;
    if (!fill_servers(sa, rq)) {
        auth_job_free(job);
        return;
    }
    rq->status = status;
    /* The session id stays the same across IKE SA rekeys; unique because
     * SPIs are random 64-bit values chosen not to collide with live ones. */
    snprintf(rq->session_id, sizeof(rq->session_id), "%s", sa->id);
    snprintf(rq->user, sizeof(rq->user), "%s", who(sa));
    struct reg_counters c = {0};
    if (status != RADIUS_ACCT_START)
        totals(sa, &c);
    rq->in_octets = c.bytes_in;
    rq->out_octets = c.bytes_out;
    rq->in_packets = c.packets_in;
    rq->out_packets = c.packets_out;
    int64_t now = wall_s();
    rq->session_time = (uint32_t)(now > sa->established_at ? now - sa->established_at : 0);
    rq->terminate_cause = status == RADIUS_ACCT_STOP ? cause : 0;
    size_t cl =
        sa->radius_class_len < sizeof(rq->class_) ? sa->radius_class_len : sizeof(rq->class_);
    memcpy(rq->class_, sa->radius_class, cl);
    rq->class_len = cl;
    if (sa->has_vip4 && sa->vip4.family == AF_INET) {
        rq->has_framed_ip = true;
        memcpy(rq->framed_ip, &sa->vip4.u.v4, 4);
    }
    rq->event_time = (uint32_t)now;
    rq->queued_ms = radius_now_ms();
    char why[160];
    if (auth_pool_submit(e->auth, job, why, sizeof(why)) < 0) {
        if (e->deps.stats)
            atomic_fetch_add(&e->deps.stats->acct_dropped, 1);
        ikesa_log(sa, LOG_LVL_WARN, "accounting %s not sent: %s", radius_acct_status_name(status),
                  why);
        auth_job_free(job);
    }
}

static unsigned interim_interval(const struct ikesa *sa)
{
    unsigned s = sa->sess.interim_s;
    if (!s && sa->policy)
        s = sa->policy->acct_interim_interval;
    if (s && s < IKE_SESSION_INTERIM_MIN)
        s = IKE_SESSION_INTERIM_MIN;
    return s;
}

/* Every ACTIVITY_MS: has inbound traffic arrived since the last look?
 * Then the registry entry gets the new last-activity time. */
static void activity(struct ikesa *sa, int64_t now)
{
    if (now - sa->sess.activity_ms < ACTIVITY_MS)
        return;
    sa->sess.activity_ms = now;
    struct reg_counters c;
    totals(sa, &c);
    if (c.packets_in == sa->sess.packets_seen)
        return;
    sa->sess.packets_seen = c.packets_in;
    sa->sess.last_activity = wall_s();
    ikesa_publish(sa);
}

/* Every second: last activity, and Interim-Updates that are due. */
static void sweep(struct evl_timer *t, void *arg)
{
    (void)t;
    struct ike_engine *e = arg;
    int64_t now = mono_ms();
    for (size_t b = 0; b < IKE_SA_BUCKETS; b++) {
        for (struct ikesa *sa = e->table[b]; sa; sa = sa->hnext) {
            if (!sa->sess.up || sa->sess.ended || sa->moved || sa->state != IKESA_ESTABLISHED)
                continue;
            activity(sa, now);
            unsigned iv = interim_interval(sa);
            if (!iv)
                continue;
            if (!sa->sess.next_interim_ms) {
                sa->sess.next_interim_ms = now + (int64_t)iv * 1000;
                continue;
            }
            if (now < sa->sess.next_interim_ms)
                continue;
            sa->sess.next_interim_ms = now + (int64_t)iv * 1000;
            send_acct(sa, RADIUS_ACCT_INTERIM, 0);
        }
    }
}

void ike_session_up(struct ikesa *sa)
{
    struct ike_engine *e = sa->eng;
    if (sa->sess.up)
        return;
    sa->sess.up = true;
    stats_established(st_of(sa), sa->tenant ? sa->tenant->id : "", mono_ms() - sa->sess.init_ms,
                      wall_s());
    ike_session_event(sa, EVENTS_SESSION_UP, NULL);
    send_acct(sa, RADIUS_ACCT_START, 0);
    if (!e->sess_timer) {
        e->sess_timer = evl_timer_new(e->loop, sweep, e);
        if (e->sess_timer)
            evl_timer_start(e->sess_timer, SWEEP_S, SWEEP_S);
    }
}

/* ---- the end ---- */

unsigned ike_session_cause(enum ike_end end)
{
    switch (end) {
    case IKE_END_ERROR:
        return RADIUS_TERM_NAS_ERROR;
    case IKE_END_CLIENT:
        return RADIUS_TERM_USER_REQUEST;
    case IKE_END_ADMIN:
        return RADIUS_TERM_ADMIN_RESET;
    case IKE_END_SHUTDOWN:
        return RADIUS_TERM_NAS_REBOOT;
    case IKE_END_LOST:
        return RADIUS_TERM_LOST_CARRIER;
    case IKE_END_LIFETIME:
        return RADIUS_TERM_SESSION_TIMEOUT;
    case IKE_END_GATEWAY:
    default:
        return RADIUS_TERM_NAS_REQUEST;
    }
}

const char *ike_session_cause_name(unsigned cause)
{
    switch (cause) {
    case RADIUS_TERM_USER_REQUEST:
        return "user-request";
    case RADIUS_TERM_LOST_CARRIER:
        return "lost-carrier";
    case RADIUS_TERM_IDLE_TIMEOUT:
        return "idle-timeout";
    case RADIUS_TERM_SESSION_TIMEOUT:
        return "session-timeout";
    case RADIUS_TERM_ADMIN_RESET:
        return "admin-reset";
    case RADIUS_TERM_NAS_ERROR:
        return "nas-error";
    case RADIUS_TERM_NAS_REBOOT:
        return "nas-reboot";
    default:
        return "nas-request";
    }
}

static void history_row(struct ikesa *sa, const struct reg_counters *c, unsigned cause)
{
    struct ike_engine *e = sa->eng;
    if (!e->deps.writer)
        return;
    struct db_history_row r;
    memset(&r, 0, sizeof(r));
    snprintf(r.tenant, sizeof(r.tenant), "%s", sa->tenant ? sa->tenant->id : "");
    snprintf(r.session_id, sizeof(r.session_id), "%s", sa->id);
    snprintf(r.identity, sizeof(r.identity), "%s", who(sa));
    if (sa->user)
        snprintf(r.username, sizeof(r.username), "%s", sa->user->username);
    snprintf(r.auth, sizeof(r.auth), "%s", sa->cert_auth ? "certificate" : "eap");
    char addr[80];
    ike_addr_str(&sa->path.peer, addr, sizeof(addr));
    char *br = strchr(addr, '[');
    if (br)
        *br = '\0';
    snprintf(r.client_addr, sizeof(r.client_addr), "%s", addr);
    r.client_port = ike_addr_port(&sa->path.peer);
    if (sa->has_vip4)
        pool_addr_str(&sa->vip4, r.vip4, sizeof(r.vip4));
    if (sa->has_vip6)
        pool_addr_str(&sa->vip6, r.vip6, sizeof(r.vip6));
    r.started_at = sa->established_at;
    r.ended_at = wall_s();
    r.bytes_in = c->bytes_in;
    r.bytes_out = c->bytes_out;
    r.packets_in = c->packets_in;
    r.packets_out = c->packets_out;
    snprintf(r.cause, sizeof(r.cause), "%s", ike_session_cause_name(cause));
    r.retention_days = e->deps.history_retention_days;
    if (!db_history_submit(e->deps.writer, &r)) {
        if (e->deps.stats)
            atomic_fetch_add(&e->deps.stats->history_dropped, 1);
        ikesa_log(sa, LOG_LVL_WARN, "session history row not written: the writer queue is full");
    }
}

void ike_session_end(struct ikesa *sa, enum ike_end end)
{
    if (!sa->sess.up || sa->sess.ended || sa->moved)
        return;
    sa->sess.ended = true;
    unsigned cause = ike_session_cause(end);
    struct reg_counters c;
    totals(sa, &c);
    send_acct(sa, RADIUS_ACCT_STOP, cause);
    stats_session_ended(st_of(sa), sa->tenant ? sa->tenant->id : "", &c);
    history_row(sa, &c, cause);
    ike_session_event(sa, EVENTS_SESSION_DOWN, ike_session_cause_name(cause));
}

/* ---- events ---- */

void ike_session_event(struct ikesa *sa, enum events_type type, const char *detail)
{
    struct events *bus = sa->eng->deps.events;
    if (!bus)
        return;
    struct events_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    snprintf(ev.tenant, sizeof(ev.tenant), "%s", sa->tenant ? sa->tenant->id : "");
    if (type != EVENTS_AUTH_FAILURE)
        snprintf(ev.session_id, sizeof(ev.session_id), "%s", sa->id);
    snprintf(ev.identity, sizeof(ev.identity), "%s", who(sa));
    char addr[80];
    ike_addr_str(&sa->path.peer, addr, sizeof(addr));
    char *br = strchr(addr, '[');
    if (br)
        *br = '\0';
    snprintf(ev.client_addr, sizeof(ev.client_addr), "%s", addr);
    if (sa->has_vip4)
        pool_addr_str(&sa->vip4, ev.vip4, sizeof(ev.vip4));
    if (sa->has_vip6)
        pool_addr_str(&sa->vip6, ev.vip6, sizeof(ev.vip6));
    snprintf(ev.detail, sizeof(ev.detail), "%s", detail ? detail : "");
    events_emit(bus, &ev);
}

/* ---- finished auth jobs ---- */

static void radius_stats(struct ike_engine *e, const char *tenant, const char *kind,
                         const struct radius_server_stat *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        stats_radius(e->deps.stats, tenant, kind, s[i].addr, (int)s[i].outcome, s[i].latency_ms);
}

bool ike_session_auth_done(struct ike_engine *e, struct auth_job *job)
{
    if (job->kind == AUTH_JOB_EAP) {
        radius_stats(e, job->tenant, "auth", job->u.eap.res.stats, job->u.eap.res.nstats);
        return false;
    }
    if (job->kind != AUTH_JOB_ACCT)
        return false;
    const struct radius_acct_res *res = &job->u.acct.res;
    struct stats *st = e->deps.stats;
    struct stats_tenant *t =
        st && job->cookie && job->cookie <= STATS_TENANTS ? &st->tenants[job->cookie - 1] : NULL;
    const char *tenant = t ? t->id : "";
    radius_stats(e, tenant, "acct", res->stats, res->nstats);
    if (t)
        atomic_fetch_add(res->ok ? &t->acct_sent : &t->acct_failed, 1);
    if (!res->ok) {
        struct log_ctx c = {tenant, job->u.acct.req.session_id, NULL};
        log_msg(LOG_LVL_WARN, "radius", &c, "accounting %s for '%s' was not acknowledged: %s",
                radius_acct_status_name(job->u.acct.req.status), job->u.acct.req.user,
                res->why[0] ? res->why : "no server answered");
    }
    auth_job_free(job);
    return true;
}
