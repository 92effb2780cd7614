/* IKE_AUTH, responder side: tenant resolution, our signature, EAP relayed
 * to the tenant's RADIUS servers (RFC 7296 2.16, RFC 3579), certificate
 * authentication of clients, and the first CHILD_SA. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/auth_pool.h"
#include "auth/x509.h"
#include "concentrator/config.h"
#include "concentrator/ike_auth_calc.h"
#include "concentrator/ike_engine.h"
#include "concentrator/ike_names.h"
#include "concentrator/ike_prf.h"
#include "concentrator/ike_rules.h"
#include "concentrator/ike_tenant.h"

#define INNER_MAX 16384

/* ---- identities ---- */

/* Printable text of an ID payload for logs and user lookup. */
static void id_text(uint8_t type, const uint8_t *p, size_t len, char *out, size_t cap)
{
    out[0] = '\0';
    switch (type) {
    case IKE_ID_FQDN:
    case IKE_ID_RFC822_ADDR:
    case IKE_ID_KEY_ID: {
        size_t n = len < cap - 1 ? len : cap - 1;
        for (size_t i = 0; i < n; i++)
            out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
        out[n] = '\0';
        return;
    }
    case IKE_ID_IPV4_ADDR:
        if (len == 4)
            inet_ntop(AF_INET, p, out, (socklen_t)cap);
        return;
    case IKE_ID_IPV6_ADDR:
        if (len == 16)
            inet_ntop(AF_INET6, p, out, (socklen_t)cap);
        return;
    case IKE_ID_DER_ASN1_DN: {
        const unsigned char *q = p;
        X509_NAME *name = d2i_X509_NAME(NULL, &q, (long)len);
        if (name) {
            BIO *bio = BIO_new(BIO_s_mem());
            if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
                int n = BIO_read(bio, out, (int)cap - 1);
                out[n > 0 ? n : 0] = '\0';
            }
            BIO_free(bio);
            X509_NAME_free(name);
        }
        return;
    }
    default:
        snprintf(out, cap, "(%s)", IKE_NAME(ike_id_type_name, type));
    }
}

/* The CN of an RFC 2253 DN text ("CN=alice,O=acme" -> "alice"). */
static bool dn_cn(const char *dn, char *out, size_t cap)
{
    const char *cn = strstr(dn, "CN=");
    if (!cn || (cn != dn && cn[-1] != ','))
        return false;
    cn += 3;
    size_t n = strcspn(cn, ",");
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, cn, n);
    out[n] = '\0';
    return true;
}

/* A provisioned user of the tenant by identity: as given, then its local
 * part when its realm is the tenant's, then a DN's CN. */
static const struct snap_user *find_user(const struct snap_tenant *t, const char *ident)
{
    const struct snap_user *u = snap_tenant_user(t, ident);
    if (u)
        return u;
    const char *at = strrchr(ident, '@');
    if (at) {
        for (size_t i = 0; i < t->n_realms; i++) {
            if (strcasecmp(t->realms[i], at + 1) == 0) {
                char local[IKE_ID_TEXT_MAX];
                size_t n = (size_t)(at - ident);
                if (n >= sizeof(local))
                    return NULL;
                memcpy(local, ident, n);
                local[n] = '\0';
                return snap_tenant_user(t, local);
            }
        }
    }
    char cn[IKE_ID_TEXT_MAX];
    if (dn_cn(ident, cn, sizeof(cn)))
        return snap_tenant_user(t, cn);
    return NULL;
}

/* ---- answers ---- */

static void fail(struct ikesa *sa, uint32_t msg_id, uint16_t notify, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Refuses the IKE SA: logs why (one line, with tenant, peer and identity),
 * answers the client with the notify and forgets the SA. */
static void fail(struct ikesa *sa, uint32_t msg_id, uint16_t notify, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    const char *who = sa->eap_identity[0] ? sa->eap_identity : sa->peer_id;
    ikesa_log(sa, LOG_LVL_NOTICE, "authentication of '%s' failed: %s (answered %s)", who, why,
              IKE_NAME(ike_notify_name, notify));
    sa->eng->stats.failed++;
    ike_session_failed(sa, notify);
    uint8_t inner[64];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    ike_put_notify(&b, IKE_PROTO_NONE, notify, NULL, 0, NULL, 0);
    size_t n = ike_build_finish(&b);
    if (n)
        ike_send_response(sa, IKE_EXCH_AUTH, msg_id, inner, n, b.first);
    ikesa_destroy(sa, IKE_END_GATEWAY, "authentication failed");
}

static void respond(struct ikesa *sa, uint32_t msg_id, struct ike_builder *b)
{
    size_t n = ike_build_finish(b);
    if (!n) {
        ikesa_destroy(sa, IKE_END_ERROR, "cannot build the IKE_AUTH response");
        return;
    }
    sa->peer_next_id = msg_id + 1;
    sa->busy = false;
    ike_send_response(sa, IKE_EXCH_AUTH, msg_id, b->w.p, n, b->first);
}

/* ---- AUTH (RFC 7296 2.15, 2.16) ---- */

/* What a side's AUTH covers: its IKE_SA_INIT message, the other side's
 * nonce, and prf(SK_p, ID'). */
static struct ike_auth_input auth_input(const struct ikesa *sa, bool initiator)
{
    struct ike_auth_input in = {
        .prf = sa->xf.prf,
        .sk_p = initiator ? sa->keys.sk_pi : sa->keys.sk_pr,
        .sk_p_len = sa->keys.prf_len,
        .real_msg = initiator ? sa->init_req : sa->init_resp,
        .real_msg_len = initiator ? sa->init_req_len : sa->init_resp_len,
        .nonce = initiator ? sa->nr : sa->ni,
        .nonce_len = initiator ? sa->nr_len : sa->ni_len,
        .id = initiator ? sa->idi_body : sa->idr_body,
        .id_len = initiator ? sa->idi_body_len : sa->idr_body_len,
    };
    return in;
}

/* The EAP shared key: the MSK, or SK_pi/SK_pr when the method made none. */
static void eap_key(struct ikesa *sa, bool initiator, const uint8_t **key, size_t *len)
{
    if (sa->msk_len) {
        *key = sa->msk;
        *len = sa->msk_len;
    } else {
        *key = initiator ? sa->keys.sk_pi : sa->keys.sk_pr;
        *len = sa->keys.prf_len;
    }
}

/* ---- our identity and certificate ---- */

/* IDr: the identity the client asked for when it is one of the tenant's
 * gateway identities, else the tenant's first. */
static int choose_idr(struct ikesa *sa, const struct ike_payload *idr)
{
    const struct snap_tenant *t = sa->tenant;
    const char *name = t->n_gateway_ids ? t->gateway_ids[0] : "isthmus";
    if (idr && (idr->u.id.type == IKE_ID_FQDN || idr->u.id.type == IKE_ID_RFC822_ADDR)) {
        char want[IKE_ID_TEXT_MAX];
        id_text(idr->u.id.type, idr->u.id.data.p, idr->u.id.data.len, want, sizeof(want));
        for (size_t i = 0; i < t->n_gateway_ids; i++)
            if (strcasecmp(t->gateway_ids[i], want) == 0)
                name = t->gateway_ids[i];
    }
    size_t n = strlen(name);
    uint8_t type = IKE_ID_FQDN;
    uint8_t addr[16];
    size_t alen = 0;
    if (inet_pton(AF_INET, name, addr) == 1) {
        type = IKE_ID_IPV4_ADDR;
        alen = 4;
    } else if (inet_pton(AF_INET6, name, addr) == 1) {
        type = IKE_ID_IPV6_ADDR;
        alen = 16;
    } else if (strchr(name, '@')) {
        type = IKE_ID_RFC822_ADDR;
    }
    size_t dlen = alen ? alen : n;
    free(sa->idr_body);
    sa->idr_body = malloc(4 + dlen);
    if (!sa->idr_body)
        return -1;
    sa->idr_body[0] = type;
    sa->idr_body[1] = sa->idr_body[2] = sa->idr_body[3] = 0;
    memcpy(sa->idr_body + 4, alen ? (const void *)addr : (const void *)name, dlen);
    sa->idr_body_len = 4 + dlen;
    return 0;
}

/* Writes IDr, CERT (and chain) and our AUTH signature. */
static const char *put_our_auth_sig(struct ikesa *sa, const struct tenant_crypto *tc,
                                    struct ike_builder *b)
{
    ike_put_id(b, IKE_PL_IDR, sa->idr_body[0], sa->idr_body + 4, sa->idr_body_len - 4);
    ike_put_cert(b, IKE_PL_CERT, IKE_CERT_X509_SIGNATURE, tc->cert_der, tc->cert_der_len);
    for (size_t i = 0; i < tc->n_chain; i++)
        ike_put_cert(b, IKE_PL_CERT, IKE_CERT_X509_SIGNATURE, tc->chain_der[i],
                     tc->chain_der_len[i]);
    struct ike_auth_input ai = auth_input(sa, false);
    uint8_t *octets = NULL;
    size_t n = 0;
    if (ike_auth_octets(&ai, &octets, &n) < 0)
        return "cannot compute the signed octets";
    enum x509_auth_method method;
    enum x509_hash hash;
    struct x509_buf sig = {0};
    char err[X509_ERR_MAX];
    int rc = x509_pick_method(tc->key, sa->peer_hashes, &method, &hash) < 0
                 ? -2
                 : x509_sign(tc->key, method, hash, octets, n, &sig, err, sizeof(err));
    ike_auth_octets_free(octets, n);
    if (rc == -2)
        return "no signature method fits the server key";
    if (rc < 0)
        return "signing failed";
    ike_put_auth(b, (uint8_t)method, sig.data, sig.len);
    x509_buf_free(&sig);
    return NULL;
}

/* ---- finishing: addresses, CP, CHILD_SA ---- */

/* Writes CP, SA, TSi, TSr from the first IKE_AUTH request (kept in
 * sa->auth_req) and installs the CHILD_SA. Returns 0 or a notify type. */
static uint16_t put_child(struct ikesa *sa, struct ike_builder *b, char *why, size_t whylen)
{
    struct ike_engine *e = sa->eng;
    static struct ike_msg req;
    if (ike_decode_inner(sa->auth_req, sa->auth_req_len, sa->auth_req_first, &req) != IKE_OK) {
        snprintf(why, whylen, "the first IKE_AUTH request cannot be decoded again");
        return IKE_N_INVALID_SYNTAX;
    }
    (void)e;
    const struct ike_payload *cp = ike_msg_find(&req, IKE_PL_CP, NULL);
    const struct ike_payload *pl_sa = ike_msg_find(&req, IKE_PL_SA, NULL);
    const struct ike_payload *tsi = ike_msg_find(&req, IKE_PL_TSI, NULL);
    const struct ike_payload *tsr = ike_msg_find(&req, IKE_PL_TSR, NULL);
    if (!pl_sa || !tsi || !tsr) {
        snprintf(why, whylen, "no CHILD_SA was asked for");
        return IKE_N_NO_PROPOSAL_CHOSEN;
    }
    if (!cp || cp->u.cp.type != IKE_CFG_REQUEST) {
        snprintf(why, whylen, "the client asked for no virtual address (no CFG_REQUEST)");
        return IKE_N_FAILED_CP_REQUIRED;
    }
    bool want4 = false, want6 = false;
    for (size_t i = 0; i < cp->u.cp.n_attrs; i++) {
        if (cp->u.cp.attrs[i].type == IKE_CFG_INTERNAL_IP4_ADDRESS)
            want4 = true;
        if (cp->u.cp.attrs[i].type == IKE_CFG_INTERNAL_IP6_ADDRESS)
            want6 = true;
    }
    if (!want4 && !want6) {
        snprintf(why, whylen, "the client asked for no virtual address");
        return IKE_N_FAILED_CP_REQUIRED;
    }
    if (ike_cfg_assign(sa, want4, want6, why, whylen) < 0)
        return IKE_N_INTERNAL_ADDRESS_FAILURE;
    if (ike_cfg_put_reply(sa, b) != IKE_OK) {
        snprintf(why, whylen, "the configuration reply does not fit");
        return IKE_N_INTERNAL_ADDRESS_FAILURE;
    }
    struct ike_child_ctx cc = {
        .sa_pl = &pl_sa->u.sa, .tsi = &tsi->u.ts, .tsr = &tsr->u.ts, .in_ike_auth = true};
    uint16_t n = ike_child_create(sa, &cc, b);
    if (n)
        snprintf(why, whylen, "the CHILD_SA cannot be created");
    return n;
}

/* Ends other IKE SAs of the same identity in the tenant (INITIAL_CONTACT). */
static void initial_contact(struct ikesa *sa)
{
    struct ike_engine *e = sa->eng;
    const char *who = sa->eap_identity[0] ? sa->eap_identity : sa->peer_id;
    for (size_t b = 0; b < IKE_SA_BUCKETS; b++) {
        struct ikesa *o = e->table[b];
        while (o) {
            struct ikesa *next = o->hnext;
            const char *ow = o->eap_identity[0] ? o->eap_identity : o->peer_id;
            if (o != sa && o->state == IKESA_ESTABLISHED && o->tenant && sa->tenant &&
                strcmp(o->tenant->id, sa->tenant->id) == 0 && strcasecmp(ow, who) == 0)
                ikesa_destroy(o, IKE_END_GATEWAY,
                              "replaced: the same identity connected again (INITIAL_CONTACT)");
            o = next;
        }
    }
}

static unsigned sessions_of(struct ikesa *sa)
{
    struct ike_engine *e = sa->eng;
    unsigned n = 0;
    const char *who = sa->eap_identity[0] ? sa->eap_identity : sa->peer_id;
    for (size_t b = 0; b < IKE_SA_BUCKETS; b++)
        for (struct ikesa *o = e->table[b]; o; o = o->hnext) {
            const char *ow = o->eap_identity[0] ? o->eap_identity : o->peer_id;
            if (o != sa && o->state == IKESA_ESTABLISHED && o->tenant == sa->tenant &&
                strcasecmp(ow, who) == 0)
                n++;
        }
    return n;
}

static void established(struct ikesa *sa)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sa->established_at = ts.tv_sec;
    ikesa_set_state(sa, IKESA_ESTABLISHED);
    sa->eng->stats.established++;
    ikesa_publish(sa);
    ikesa_start_liveness(sa);
    ike_session_up(sa);
    char v4[INET6_ADDRSTRLEN] = "", v6[INET6_ADDRSTRLEN] = "";
    if (sa->has_vip4)
        pool_addr_str(&sa->vip4, v4, sizeof(v4));
    if (sa->has_vip6)
        pool_addr_str(&sa->vip6, v6, sizeof(v6));
    ikesa_log(sa, LOG_LVL_NOTICE, "'%s' connected (%s) with %s%s%s, IKE %s, ESP %s",
              sa->eap_identity[0] ? sa->eap_identity : sa->peer_id,
              sa->cert_auth ? "certificate"
              : sa->msk_len ? "EAP"
                            : "EAP without MSK",
              v4, v4[0] && v6[0] ? " " : "", v6, sa->alg_text, sa->child.alg_text);
}

/* The last IKE_AUTH answer, after our AUTH in b: CP, the CHILD_SA, and the
 * session is up. */
static void finish(struct ikesa *sa, uint32_t msg_id, struct ike_builder *b)
{
    char why[256];
    uint16_t err = put_child(sa, b, why, sizeof(why));
    if (err) {
        fail(sa, msg_id, err, "%s", why);
        return;
    }
    established(sa);
    if (sa->initial_contact)
        initial_contact(sa);
    ike_mobike_put_supported(sa, b);
    ike_ikerk_put_auth_lifetime(sa, b);
    respond(sa, msg_id, b);
}

/* Checks the IKE algorithms chosen at IKE_SA_INIT against the client's own
 * policy (IKE_SA_INIT chose from all tenants' policies together). */
static bool ike_alg_allowed(struct ikesa *sa)
{
    const struct snap_policy *p = sa->policy;
    if (!p || p->n_ike_proposals == 0)
        return true; /* defaults: always accepted at IKE_SA_INIT */
    struct ike_prop_set set;
    char err[160];
    if (ike_proposal_set_parse(p->ike_proposals, p->n_ike_proposals, false, p->allow_weak_crypto,
                               &set, err, sizeof(err)) < 0)
        return false;
    struct ike_offer_transform t[4];
    size_t n = 0;
    t[n++] = (struct ike_offer_transform){IKE_TT_ENCR, sa->alg.encr, sa->alg.encr_keybits};
    t[n++] = (struct ike_offer_transform){IKE_TT_PRF, sa->alg.prf, 0};
    if (sa->alg.integ)
        t[n++] = (struct ike_offer_transform){IKE_TT_INTEG, sa->alg.integ, 0};
    t[n++] = (struct ike_offer_transform){IKE_TT_DH, sa->alg.dh, 0};
    struct ike_offer o = {1, IKE_PROTO_IKE, t, n};
    struct ike_choice c;
    return ike_proposal_choose(&set, &o, 1, false, &c) == 0;
}

/* Binds the user (if provisioned) and its policy; refuses disabled users
 * and users over their session limit. Returns NULL or why it refuses. */
static const char *bind_user(struct ikesa *sa, const char *ident, bool need_cert_user)
{
    sa->user = find_user(sa->tenant, ident);
    if (!sa->user && need_cert_user)
        return "no user of the tenant matches the certificate's identity";
    if (sa->user && !sa->user->enabled)
        return "the user is disabled";
    if (sa->user && need_cert_user && sa->user->auth != SNAP_AUTH_CERTIFICATE)
        return "the user is not set up for certificate authentication";
    sa->policy = sa->user && sa->user->policy ? sa->user->policy : sa->tenant->default_policy;
    if (!sa->policy)
        return "the tenant has no policy";
    if (!ike_alg_allowed(sa))
        return "the IKE algorithms the client chose are not allowed by its policy";
    /* A client that says INITIAL_CONTACT replaces its old sessions (below),
     * so they do not count against it. */
    if (sa->policy->sessions_per_user && !sa->initial_contact &&
        sessions_of(sa) >= sa->policy->sessions_per_user)
        return "the user has reached the policy's session limit";
    return NULL;
}

/* ---- EAP ---- */

static int submit_radius(struct ikesa *sa, const uint8_t *eap, size_t eap_len, char *why,
                         size_t whylen)
{
    struct ike_engine *e = sa->eng;
    const struct snap_tenant *t = sa->tenant;
    struct auth_job *job = auth_job_new(AUTH_JOB_EAP, t->id, sa->spi_r);
    if (!job) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    struct radius_eap_req *rq = &job->u.eap.req;
    ike_tenant_radius(t, &rq->servers);
    if (rq->servers.n == 0) {
        auth_job_free(job);
        snprintf(why, whylen, "the tenant has no usable RADIUS server");
        return -1;
    }
    ikesa_radius_nas(sa, &rq->nas);
    snprintf(rq->user, sizeof(rq->user), "%s", sa->eap_identity);
    if (eap_len > sizeof(rq->eap)) {
        auth_job_free(job);
        snprintf(why, whylen, "the EAP message is too long (%zu bytes)", eap_len);
        return -1;
    }
    memcpy(rq->eap, eap, eap_len);
    rq->eap_len = eap_len;
    memcpy(rq->state, sa->radius_state, sa->radius_state_len);
    rq->state_len = sa->radius_state_len;
    rq->server_hint = sa->radius_hint;
    if (auth_pool_submit(e->auth, job, why, whylen) < 0) {
        auth_job_free(job);
        return -1;
    }
    return 0;
}

/* Our EAP Request/Identity, the first EAP message (RFC 3748 5.1). */
static void put_eap_identity_request(struct ikesa *sa, struct ike_builder *b)
{
    RAND_bytes(&sa->eap_id, 1);
    uint8_t pkt[5] = {IKE_EAP_REQUEST, sa->eap_id, 0, 5, IKE_EAP_IDENTITY};
    ike_put_eap(b, pkt, sizeof(pkt));
}

static void eap_round(struct ikesa *sa, const struct ike_msg *in, uint32_t msg_id)
{
    const struct ike_payload *eap = ike_msg_find(in, IKE_PL_EAP, NULL);
    if (!eap) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "expected an EAP response");
        return;
    }
    const struct ike_eap *ep = &eap->u.eap;
    if (ep->code != IKE_EAP_RESPONSE) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "expected an EAP response, got %s",
             IKE_NAME(ike_eap_code_name, ep->code));
        return;
    }
    char why[256];
    if (!sa->eap_identity[0]) {
        if (ep->type != IKE_EAP_IDENTITY) {
            fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED,
                 "the first EAP response is not an "
                 "identity");
            return;
        }
        char ident[IKE_ID_TEXT_MAX];
        id_text(IKE_ID_FQDN, ep->data.p, ep->data.len, ident, sizeof(ident));
        if (!ident[0] || strchr(ident, '?')) {
            fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED,
                 "the EAP identity is empty or not "
                 "printable");
            return;
        }
        snprintf(sa->eap_identity, sizeof(sa->eap_identity), "%s", ident);
        const char *no = bind_user(sa, ident, false);
        if (no) {
            fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "%s", no);
            return;
        }
    }
    if (submit_radius(sa, ep->packet.p, ep->packet.len, why, sizeof(why)) < 0) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "%s", why);
        return;
    }
    sa->busy = true;
    sa->busy_id = msg_id;
}

void ike_auth_radius_done(struct ike_engine *e, struct auth_job *job)
{
    struct ikesa *sa = ikesa_find(e, job->cookie);
    struct radius_eap_res *res = &job->u.eap.res;
    if (!sa || sa->state != IKESA_EAP || !sa->busy) {
        auth_job_free(job);
        return;
    }
    uint32_t msg_id = sa->busy_id;
    uint8_t inner[INNER_MAX];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    switch (res->outcome) {
    case RADIUS_EAP_CHALLENGE:
        memcpy(sa->radius_state, res->state, res->state_len);
        sa->radius_state_len = res->state_len;
        sa->radius_hint = res->server;
        if (ike_put_eap(&b, res->eap, res->eap_len) != IKE_OK) {
            fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "RADIUS sent a malformed EAP message");
            break;
        }
        respond(sa, msg_id, &b);
        break;
    case RADIUS_EAP_ACCEPT: {
        memcpy(sa->msk, res->msk, res->msk_len);
        sa->msk_len = res->msk_len;
        memcpy(sa->radius_class, res->class_, res->class_len);
        sa->radius_class_len = res->class_len;
        sa->sess.interim_s = res->interim_interval;
        if (res->has_framed_ip) {
            sa->has_framed_ip = true;
            sa->framed_ip.family = AF_INET;
            memcpy(&sa->framed_ip.u.v4, res->framed_ip, 4);
        }
        uint8_t success[4] = {IKE_EAP_SUCCESS, 0, 0, 4};
        if (res->eap_len >= 4 && res->eap[0] == IKE_EAP_SUCCESS)
            ike_put_eap(&b, res->eap, res->eap_len);
        else
            ike_put_eap(&b, success, sizeof(success));
        ikesa_set_state(sa, IKESA_EAP_DONE);
        respond(sa, msg_id, &b);
        break;
    }
    case RADIUS_EAP_REJECT: {
        uint8_t failure[4] = {IKE_EAP_FAILURE, 0, 0, 4};
        const char *msg = res->reply_message[0] ? res->reply_message : "";
        ikesa_log(sa, LOG_LVL_NOTICE,
                  "authentication of '%s' failed: RADIUS rejected it%s%s "
                  "(answered AUTHENTICATION_FAILED)",
                  sa->eap_identity, msg[0] ? ": " : "", msg);
        e->stats.failed++;
        ike_session_set_fail(sa, STATS_FAIL_RADIUS_REJECT);
        ike_session_failed(sa, 0);
        if (res->eap_len >= 4 && res->eap[0] == IKE_EAP_FAILURE)
            ike_put_eap(&b, res->eap, res->eap_len);
        else
            ike_put_eap(&b, failure, sizeof(failure));
        ike_put_notify(&b, IKE_PROTO_NONE, IKE_N_AUTHENTICATION_FAILED, NULL, 0, NULL, 0);
        respond(sa, msg_id, &b);
        ikesa_destroy(sa, IKE_END_GATEWAY, "RADIUS rejected the client");
        break;
    }
    default:
        if (res->outcome == RADIUS_EAP_NO_ANSWER)
            ike_session_set_fail(sa, STATS_FAIL_RADIUS_DOWN);
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "%s",
             res->why[0] ? res->why : "RADIUS gave no answer");
        break;
    }
    auth_job_free(job);
}

/* The client's AUTH after EAP succeeded, and our final answer. */
static void eap_final(struct ikesa *sa, const struct ike_msg *in, uint32_t msg_id)
{
    const struct ike_payload *auth = ike_msg_find(in, IKE_PL_AUTH, NULL);
    if (!auth || auth->u.auth.method != IKE_AUTH_SHARED_KEY_MIC) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED,
             "expected the client's AUTH (shared key MIC) after EAP");
        return;
    }
    const uint8_t *key;
    size_t key_len;
    eap_key(sa, true, &key, &key_len);
    struct ike_auth_input ai = auth_input(sa, true);
    if (!ike_auth_shared_key_verify(&ai, key, key_len, auth->u.auth.data.p,
                                    auth->u.auth.data.len)) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED,
             "the client's AUTH does not match the EAP session key");
        return;
    }
    uint8_t inner[INNER_MAX];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    uint8_t mine[IKE_ALG_PRF_MAX];
    size_t mine_len = 0;
    eap_key(sa, false, &key, &key_len);
    ai = auth_input(sa, false);
    if (ike_auth_shared_key_mic(&ai, key, key_len, mine, &mine_len) < 0) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "cannot compute our AUTH");
        return;
    }
    ike_put_auth(&b, IKE_AUTH_SHARED_KEY_MIC, mine, mine_len);
    finish(sa, msg_id, &b);
}

/* ---- the first IKE_AUTH message ---- */

static const struct snap_tenant *resolve_tenant(struct ike_engine *e, const struct ike_payload *idr,
                                                const char *idi, const char **how)
{
    const struct snapshot *s = e->snap;
    if (!s)
        return NULL;
    if (idr) {
        char want[IKE_ID_TEXT_MAX];
        id_text(idr->u.id.type, idr->u.id.data.p, idr->u.id.data.len, want, sizeof(want));
        const struct snap_tenant *t = snapshot_tenant_by_gateway_id(s, want);
        if (t) {
            *how = "gateway identity";
            return t;
        }
    }
    const struct snap_tenant *t = snapshot_tenant_by_identity_realm(s, idi);
    if (t) {
        *how = "realm";
        return t;
    }
    if (e->cfg->default_tenant[0]) {
        *how = "default tenant";
        return snapshot_tenant(s, e->cfg->default_tenant);
    }
    return NULL;
}

static void cert_auth(struct ikesa *sa, const struct ike_msg *in, uint32_t msg_id,
                      const struct tenant_crypto *tc)
{
    const struct ike_payload *auth = ike_msg_find(in, IKE_PL_AUTH, NULL);
    size_t from = 0;
    const struct ike_payload *leaf = ike_msg_find(in, IKE_PL_CERT, &from);
    if (!leaf || leaf->u.cert.encoding != IKE_CERT_X509_SIGNATURE) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED,
             "AUTH without an X.509 certificate (pre-shared keys are not accepted)");
        return;
    }
    if (!tc->ca) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "the tenant has no CA");
        return;
    }
    struct x509_der chain[8];
    size_t n_chain = 0;
    for (const struct ike_payload *p; n_chain < 8 && (p = ike_msg_find(in, IKE_PL_CERT, &from));)
        if (p->u.cert.encoding == IKE_CERT_X509_SIGNATURE)
            chain[n_chain++] = (struct x509_der){p->u.cert.data.p, p->u.cert.data.len};
    X509 *cert = NULL;
    char reason[256];
    enum x509_verdict v =
        x509_verify_client(leaf->u.cert.data.p, leaf->u.cert.data.len, chain, n_chain, tc->ca, NULL,
                           time(NULL), &cert, reason, sizeof(reason));
    if (v != X509_VERDICT_OK) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "certificate refused: %s", reason);
        return;
    }
    struct x509_facts facts;
    const char *no = NULL;
    if (x509_cert_facts(cert, &facts) < 0) {
        no = "the certificate cannot be read";
    } else {
        for (size_t i = 0; i < sa->tenant->n_revoked && !no; i++)
            if (strcasecmp(sa->tenant->revoked[i].serial, facts.serial) == 0)
                no = "the certificate is revoked";
        x509_facts_free(&facts);
    }
    if (!no && !x509_cert_matches_id(cert, sa->idi_type, sa->idi_body + 4, sa->idi_body_len - 4))
        no = "the certificate does not prove the identity the client claims";
    if (!no)
        no = bind_user(sa, sa->peer_id, true);
    char err[X509_ERR_MAX] = "";
    if (!no) {
        struct ike_auth_input ai = auth_input(sa, true);
        uint8_t *octets = NULL;
        size_t n = 0;
        if (ike_auth_octets(&ai, &octets, &n) < 0 ||
            !x509_verify_sig(cert, (enum x509_auth_method)auth->u.auth.method, auth->u.auth.data.p,
                             auth->u.auth.data.len, octets, n, err, sizeof(err)))
            no = "the client's AUTH signature does not verify";
        ike_auth_octets_free(octets, n);
    }
    X509_free(cert);
    if (no) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "%s%s%s", no, err[0] ? ": " : "", err);
        return;
    }
    sa->cert_auth = true;
    uint8_t inner[INNER_MAX];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    const char *serr = put_our_auth_sig(sa, tc, &b);
    if (serr) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "%s", serr);
        return;
    }
    finish(sa, msg_id, &b);
}

static void first_auth(struct ikesa *sa, const struct ike_msg *in, uint32_t msg_id)
{
    struct ike_engine *e = sa->eng;
    const struct ike_payload *idi = ike_msg_find(in, IKE_PL_IDI, NULL);
    const struct ike_payload *idr = ike_msg_find(in, IKE_PL_IDR, NULL);
    sa->idi_type = idi->u.id.type;
    sa->idi_body_len = idi->body.len;
    sa->idi_body = malloc(idi->body.len);
    sa->auth_req = malloc(in->raw.len);
    if (!sa->idi_body || !sa->auth_req) {
        ikesa_destroy(sa, IKE_END_ERROR, "out of memory");
        return;
    }
    memcpy(sa->idi_body, idi->body.p, idi->body.len);
    memcpy(sa->auth_req, in->raw.p, in->raw.len);
    sa->auth_req_len = in->raw.len;
    sa->auth_req_first = in->n_pl ? in->pl[0].type : 0;
    id_text(idi->u.id.type, idi->u.id.data.p, idi->u.id.data.len, sa->peer_id, sizeof(sa->peer_id));
    sa->initial_contact = ike_msg_find_notify(in, IKE_N_INITIAL_CONTACT) != NULL;
    ike_mobike_auth_request(sa, in);

    const char *how = "";
    const struct snap_tenant *t = resolve_tenant(e, idr, sa->peer_id, &how);
    if (!t) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED,
             "no tenant has the gateway identity or realm the client asked for, and there is "
             "no default tenant");
        return;
    }
    sa->snap = snapshot_ref(e->snap);
    sa->tenant = t;
    sa->tenant_index = ike_tenant_index(t->id);
    if (!t->enabled) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "the tenant is disabled");
        return;
    }
    ikesa_log(sa, LOG_LVL_DEBUG, "'%s' resolved to the tenant by %s", sa->peer_id, how);
    const struct tenant_crypto *tc = ike_tenant_crypto(e->tenants, t, e->snap->generation);
    if (!tc || !tc->cert || !tc->key) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED,
             "the tenant has no server certificate to authenticate the gateway with");
        return;
    }
    if (choose_idr(sa, idr) < 0) {
        ikesa_destroy(sa, IKE_END_ERROR, "out of memory");
        return;
    }
    if (ike_msg_find(in, IKE_PL_AUTH, NULL)) {
        cert_auth(sa, in, msg_id, tc);
        return;
    }

    /* EAP: our identity, certificate and signature, then EAP-Identity. */
    sa->policy = t->default_policy;
    if (!ike_alg_allowed(sa)) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED,
             "the IKE algorithms the client chose are not allowed by the tenant's policy");
        return;
    }
    uint8_t inner[INNER_MAX];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    const char *serr = put_our_auth_sig(sa, tc, &b);
    if (serr) {
        fail(sa, msg_id, IKE_N_AUTHENTICATION_FAILED, "%s", serr);
        return;
    }
    put_eap_identity_request(sa, &b);
    ikesa_set_state(sa, IKESA_EAP);
    respond(sa, msg_id, &b);
}

void ike_auth_request(struct ikesa *sa, const struct ike_msg *in, uint32_t msg_id)
{
    enum ike_stage stage = sa->state == IKESA_HALF_OPEN ? IKE_STAGE_AUTH_FIRST
                           : sa->state == IKESA_EAP     ? IKE_STAGE_AUTH_EAP
                                                        : IKE_STAGE_AUTH_FINAL;
    struct ike_rule_err rerr;
    if (ike_check_rules(&sa->eng->msg, in, stage, &rerr) != IKE_RULE_OK) {
        char why[160];
        fail(sa, msg_id, IKE_N_INVALID_SYNTAX, "%s", ike_rule_err_str(&rerr, why, sizeof(why)));
        return;
    }
    size_t bad;
    const char *why = NULL;
    if (ike_verify_msg(in, &bad, &why) != IKE_OK) {
        fail(sa, msg_id, IKE_N_INVALID_SYNTAX, "%s", why ? why : "invalid payload");
        return;
    }
    switch (sa->state) {
    case IKESA_HALF_OPEN:
        first_auth(sa, in, msg_id);
        break;
    case IKESA_EAP:
        eap_round(sa, in, msg_id);
        break;
    case IKESA_EAP_DONE:
        eap_final(sa, in, msg_id);
        break;
    default:
        ikesa_log(sa, LOG_LVL_INFO, "ignored an IKE_AUTH request in state %s",
                  ikesa_state_name(sa->state));
        break;
    }
}
