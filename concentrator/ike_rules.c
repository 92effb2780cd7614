/* The per-exchange payload table and its check; see ike_rules.h. */
#include "concentrator/ike_rules.h"

#include <stdio.h>
#include <string.h>

#include "concentrator/ike_names.h"

#define ANY 255 /* no upper bound (beyond IKE_MAX_PAYLOADS) */

struct count {
    uint8_t type, min, max;
};

struct rule {
    uint8_t exchange;
    bool response;
    enum ike_stage stage;
    /* A response that reports an error (an error Notify, or COOKIE or
     * REDIRECT in IKE_SA_INIT) need not carry the required payloads. */
    bool waive_on_error;
    struct count c[14];  /* ends at type 0 */
    uint8_t together[4]; /* all or none of these (ends at 0) */
    uint8_t one_of[4];   /* at least one of these unless waived (ends at 0) */
};

enum {
    SA = IKE_PL_SA,
    KE = IKE_PL_KE,
    IDI = IKE_PL_IDI,
    IDR = IKE_PL_IDR,
    CERT = IKE_PL_CERT,
    CERTREQ = IKE_PL_CERTREQ,
    AUTH = IKE_PL_AUTH,
    NONCE = IKE_PL_NONCE,
    N = IKE_PL_NOTIFY,
    D = IKE_PL_DELETE,
    V = IKE_PL_VENDOR,
    TSI = IKE_PL_TSI,
    TSR = IKE_PL_TSR,
    CP = IKE_PL_CP,
    EAP = IKE_PL_EAP
};

static const struct rule rules[] = {
    /* RFC 7296 1.2; 2.6 (cookie), RFC 5685 (redirect): a response may be a
     * lone Notify. */
    {IKE_EXCH_SA_INIT,
     false,
     IKE_STAGE_ANY,
     false,
     {{SA, 1, 1}, {KE, 1, 1}, {NONCE, 1, 1}, {N, 0, ANY}, {V, 0, ANY}},
     {0},
     {0}},
    {IKE_EXCH_SA_INIT,
     true,
     IKE_STAGE_ANY,
     true,
     {{SA, 1, 1}, {KE, 1, 1}, {NONCE, 1, 1}, {CERTREQ, 0, ANY}, {N, 0, ANY}, {V, 0, ANY}},
     {0},
     {0}},

    /* IKE_AUTH, any round: the union of the stages below. */
    {IKE_EXCH_AUTH,
     false,
     IKE_STAGE_ANY,
     false,
     {{IDI, 0, 1},
      {CERT, 0, ANY},
      {CERTREQ, 0, ANY},
      {IDR, 0, 1},
      {AUTH, 0, 1},
      {EAP, 0, 1},
      {CP, 0, 1},
      {SA, 0, 1},
      {TSI, 0, 1},
      {TSR, 0, 1},
      {N, 0, ANY},
      {V, 0, ANY}},
     {SA, TSI, TSR, 0},
     {IDI, AUTH, EAP, 0}},
    {IKE_EXCH_AUTH,
     true,
     IKE_STAGE_ANY,
     true,
     {{IDR, 0, 1},
      {CERT, 0, ANY},
      {AUTH, 0, 1},
      {EAP, 0, 1},
      {CP, 0, 1},
      {SA, 0, 1},
      {TSI, 0, 1},
      {TSR, 0, 1},
      {N, 0, ANY},
      {V, 0, ANY}},
     {SA, TSI, TSR, 0},
     {IDR, AUTH, EAP, 0}},
    /* RFC 7296 1.2, 2.16: first round. No AUTH from the initiator means EAP. */
    {IKE_EXCH_AUTH,
     false,
     IKE_STAGE_AUTH_FIRST,
     false,
     {{IDI, 1, 1},
      {CERT, 0, ANY},
      {CERTREQ, 0, ANY},
      {IDR, 0, 1},
      {AUTH, 0, 1},
      {EAP, 0, 1},
      {CP, 0, 1},
      {SA, 0, 1},
      {TSI, 0, 1},
      {TSR, 0, 1},
      {N, 0, ANY},
      {V, 0, ANY}},
     {SA, TSI, TSR, 0},
     {0}},
    {IKE_EXCH_AUTH,
     true,
     IKE_STAGE_AUTH_FIRST,
     true,
     {{IDR, 1, 1},
      {CERT, 0, ANY},
      {AUTH, 0, 1},
      {EAP, 0, 1},
      {CP, 0, 1},
      {SA, 0, 1},
      {TSI, 0, 1},
      {TSR, 0, 1},
      {N, 0, ANY},
      {V, 0, ANY}},
     {SA, TSI, TSR, 0},
     {AUTH, EAP, 0}},
    /* RFC 7296 2.16: EAP rounds carry EAP only. */
    {IKE_EXCH_AUTH,
     false,
     IKE_STAGE_AUTH_EAP,
     false,
     {{EAP, 1, 1}, {N, 0, ANY}, {V, 0, ANY}},
     {0},
     {0}},
    {IKE_EXCH_AUTH,
     true,
     IKE_STAGE_AUTH_EAP,
     true,
     {{EAP, 1, 1}, {N, 0, ANY}, {V, 0, ANY}},
     {0},
     {0}},
    /* The AUTH from the MSK; the response brings the Child SA. */
    {IKE_EXCH_AUTH,
     false,
     IKE_STAGE_AUTH_FINAL,
     false,
     {{AUTH, 1, 1}, {N, 0, ANY}, {V, 0, ANY}},
     {0},
     {0}},
    {IKE_EXCH_AUTH,
     true,
     IKE_STAGE_AUTH_FINAL,
     true,
     {{AUTH, 1, 1}, {CP, 0, 1}, {SA, 0, 1}, {TSI, 0, 1}, {TSR, 0, 1}, {N, 0, ANY}, {V, 0, ANY}},
     {SA, TSI, TSR, 0},
     {0}},

    /* RFC 7296 1.3: Child SA (with TS), IKE SA rekey (with KE, no TS). */
    {IKE_EXCH_CREATE_CHILD_SA,
     false,
     IKE_STAGE_ANY,
     false,
     {{SA, 1, 1}, {NONCE, 1, 1}, {KE, 0, 1}, {TSI, 0, 1}, {TSR, 0, 1}, {N, 0, ANY}, {V, 0, ANY}},
     {TSI, TSR, 0},
     {0}},
    {IKE_EXCH_CREATE_CHILD_SA,
     true,
     IKE_STAGE_ANY,
     true,
     {{SA, 1, 1}, {NONCE, 1, 1}, {KE, 0, 1}, {TSI, 0, 1}, {TSR, 0, 1}, {N, 0, ANY}, {V, 0, ANY}},
     {TSI, TSR, 0},
     {0}},

    /* RFC 7296 1.4; an empty one is a liveness check. */
    {IKE_EXCH_INFORMATIONAL,
     false,
     IKE_STAGE_ANY,
     false,
     {{N, 0, ANY}, {D, 0, ANY}, {CP, 0, 1}, {V, 0, ANY}},
     {0},
     {0}},
    {IKE_EXCH_INFORMATIONAL,
     true,
     IKE_STAGE_ANY,
     false,
     {{N, 0, ANY}, {D, 0, ANY}, {CP, 0, 1}, {V, 0, ANY}},
     {0},
     {0}},

    /* RFC 5723 4.1: N(TICKET_OPAQUE), Ni in the clear. */
    {IKE_EXCH_SESSION_RESUME,
     false,
     IKE_STAGE_ANY,
     false,
     {{NONCE, 1, 1}, {N, 1, ANY}, {V, 0, ANY}},
     {0},
     {0}},
    {IKE_EXCH_SESSION_RESUME,
     true,
     IKE_STAGE_ANY,
     true,
     {{NONCE, 1, 1}, {N, 0, ANY}, {V, 0, ANY}},
     {0},
     {0}},

    /* RFC 9242, RFC 9370: additional key exchanges. */
    {IKE_EXCH_INTERMEDIATE,
     false,
     IKE_STAGE_ANY,
     false,
     {{KE, 0, 1}, {N, 0, ANY}, {V, 0, ANY}},
     {0},
     {0}},
    {IKE_EXCH_INTERMEDIATE,
     true,
     IKE_STAGE_ANY,
     true,
     {{KE, 0, 1}, {N, 0, ANY}, {V, 0, ANY}},
     {0},
     {0}},
    {IKE_EXCH_FOLLOWUP_KE,
     false,
     IKE_STAGE_ANY,
     false,
     {{KE, 1, 1}, {N, 0, ANY}, {V, 0, ANY}},
     {0},
     {0}},
    {IKE_EXCH_FOLLOWUP_KE,
     true,
     IKE_STAGE_ANY,
     true,
     {{KE, 1, 1}, {N, 0, ANY}, {V, 0, ANY}},
     {0},
     {0}},
};

bool ike_exchange_encrypted(unsigned exchange)
{
    return exchange != IKE_EXCH_SA_INIT && exchange != IKE_EXCH_SESSION_RESUME;
}

static const struct rule *find_rule(unsigned exchange, bool response, enum ike_stage stage)
{
    const struct rule *fallback = NULL;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        const struct rule *r = &rules[i];
        if (r->exchange != exchange || r->response != response)
            continue;
        if (r->stage == stage)
            return r;
        if (r->stage == IKE_STAGE_ANY)
            fallback = r;
    }
    return fallback;
}

static const struct count *find_count(const struct rule *r, uint8_t type)
{
    for (size_t i = 0; i < sizeof(r->c) / sizeof(r->c[0]) && r->c[i].type; i++)
        if (r->c[i].type == type)
            return &r->c[i];
    return NULL;
}

static bool reports_error(const struct ike_msg *m, unsigned exchange)
{
    for (size_t i = 0; i < m->n_pl; i++) {
        if (m->pl[i].type != IKE_PL_NOTIFY)
            continue;
        uint16_t t = m->pl[i].u.notify.type;
        if (t < IKE_N_STATUS_MIN)
            return true;
        if (exchange == IKE_EXCH_SA_INIT && (t == IKE_N_COOKIE || t == IKE_N_REDIRECT))
            return true;
    }
    return false;
}

static enum ike_rule_violation set(struct ike_rule_err *e, enum ike_rule_violation kind,
                                   unsigned payload, unsigned count, unsigned min, unsigned max)
{
    e->kind = kind;
    e->payload = payload;
    e->count = count;
    e->min = min;
    e->max = max;
    return kind;
}

static enum ike_rule_violation check_list(const struct rule *r, const struct ike_msg *m,
                                          struct ike_rule_err *e)
{
    unsigned counts[256] = {0};
    for (size_t i = 0; i < m->n_pl; i++)
        counts[m->pl[i].type]++;
    /* In message order, so the log names the first offender. */
    for (size_t i = 0; i < m->n_pl; i++) {
        uint8_t t = m->pl[i].type;
        const struct count *c = find_count(r, t);
        if (!c)
            return set(e, IKE_RULE_NOT_ALLOWED, t, counts[t], 0, 0);
        if (c->max != ANY && counts[t] > c->max)
            return set(e, IKE_RULE_TOO_MANY, t, counts[t], c->min, c->max);
    }
    bool waived = r->waive_on_error && reports_error(m, r->exchange);
    if (!waived) {
        for (size_t i = 0; i < sizeof(r->c) / sizeof(r->c[0]) && r->c[i].type; i++)
            if (counts[r->c[i].type] < r->c[i].min)
                return set(e, IKE_RULE_MISSING, r->c[i].type, counts[r->c[i].type], r->c[i].min,
                           r->c[i].max);
    }
    bool some = false;
    for (size_t i = 0; i < sizeof(r->together) && r->together[i]; i++)
        some |= counts[r->together[i]] > 0;
    if (some) {
        for (size_t i = 0; i < sizeof(r->together) && r->together[i]; i++)
            if (counts[r->together[i]] == 0)
                return set(e, IKE_RULE_INCOMPLETE, r->together[i], 0, 1, 1);
    }
    if (!waived && r->one_of[0]) {
        bool any = false;
        for (size_t i = 0; i < sizeof(r->one_of) && r->one_of[i]; i++)
            any |= counts[r->one_of[i]] > 0;
        if (!any)
            return set(e, IKE_RULE_NONE_OF, r->one_of[0], 0, 1, 1);
    }
    return IKE_RULE_OK;
}

enum ike_rule_violation ike_check_rules(const struct ike_msg *outer, const struct ike_msg *inner,
                                        enum ike_stage stage, struct ike_rule_err *err)
{
    struct ike_rule_err dummy = {0};
    struct ike_rule_err *e = err ? err : &dummy;
    memset(e, 0, sizeof(*e));
    if (!outer->has_hdr)
        return set(e, IKE_RULE_UNKNOWN_EXCHANGE, 0, 0, 0, 0);
    e->exchange = outer->hdr.exchange;
    e->response = (outer->hdr.flags & IKE_FLAG_RESPONSE) != 0;
    const struct rule *r = find_rule(e->exchange, e->response, stage);
    if (!r)
        return set(e, IKE_RULE_UNKNOWN_EXCHANGE, 0, 0, 0, 0);

    if (!ike_exchange_encrypted(e->exchange)) {
        for (size_t i = 0; i < outer->n_pl; i++) {
            uint8_t t = outer->pl[i].type;
            if (t == IKE_PL_SK || t == IKE_PL_SKF)
                return set(e, IKE_RULE_ENCRYPTED, t, 1, 0, 0);
        }
        return check_list(r, outer, e);
    }

    /* Encrypted exchanges: only SK or SKF outside (and it is last). */
    size_t enc = 0;
    for (size_t i = 0; i < outer->n_pl; i++) {
        uint8_t t = outer->pl[i].type;
        if (t == IKE_PL_SK || t == IKE_PL_SKF)
            enc++;
        else
            return set(e, IKE_RULE_NOT_ENCRYPTED, t, 1, 0, 0);
    }
    if (enc == 0)
        return set(e, IKE_RULE_MISSING, IKE_PL_SK, 0, 1, 1);
    if (enc > 1)
        return set(e, IKE_RULE_TOO_MANY, IKE_PL_SK, (unsigned)enc, 1, 1);
    if (!inner)
        return IKE_RULE_OK;
    e->inner = true;
    enum ike_rule_violation v = check_list(r, inner, e);
    if (v == IKE_RULE_OK)
        e->inner = false;
    return v;
}

const char *ike_rule_violation_name(enum ike_rule_violation v)
{
    switch (v) {
    case IKE_RULE_OK:
        return "ok";
    case IKE_RULE_UNKNOWN_EXCHANGE:
        return "unknown exchange";
    case IKE_RULE_NOT_ALLOWED:
        return "not allowed";
    case IKE_RULE_TOO_MANY:
        return "too many";
    case IKE_RULE_MISSING:
        return "missing";
    case IKE_RULE_NOT_ENCRYPTED:
        return "outside the encrypted payload";
    case IKE_RULE_ENCRYPTED:
        return "encrypted payload not allowed";
    case IKE_RULE_INCOMPLETE:
        return "missing from a set that must come together";
    case IKE_RULE_NONE_OF:
        return "none of the required payloads";
    }
    return "unknown";
}

const char *ike_rule_err_str(const struct ike_rule_err *e, char *buf, size_t len)
{
    if (!buf || len == 0)
        return "";
    char xb[IKE_NAME_BUFLEN], pb[IKE_NAME_BUFLEN];
    const char *x = ike_exchange_name(e->exchange, xb, sizeof(xb));
    const char *p = ike_payload_short_name(e->payload, pb, sizeof(pb));
    const char *dir = e->response ? "response" : "request";
    const char *where = e->inner ? " inside SK" : "";
    switch (e->kind) {
    case IKE_RULE_OK:
        snprintf(buf, len, "%s %s: ok", x, dir);
        break;
    case IKE_RULE_UNKNOWN_EXCHANGE:
        snprintf(buf, len, "%s %s: no rules for this exchange", x, dir);
        break;
    case IKE_RULE_TOO_MANY:
    case IKE_RULE_MISSING:
        if (e->max == ANY)
            snprintf(buf, len, "%s %s: %s %s (%u, need at least %u)%s", x, dir, p,
                     ike_rule_violation_name(e->kind), e->count, e->min, where);
        else
            snprintf(buf, len, "%s %s: %s %s (%u, need %u..%u)%s", x, dir, p,
                     ike_rule_violation_name(e->kind), e->count, e->min, e->max, where);
        break;
    default:
        snprintf(buf, len, "%s %s: %s %s%s", x, dir, p, ike_rule_violation_name(e->kind), where);
        break;
    }
    return buf;
}
