/*
 * Which payloads each IKEv2 message may carry: a table per (exchange,
 * request or response, stage), with how many of each type and whether they
 * travel inside the Encrypted payload (RFC 7296 1.2-1.5, 2.6, 2.16, RFC 7383,
 * RFC 5723, RFC 9242, RFC 9370). A broken rule is answered with
 * INVALID_SYNTAX; the error says which rule for the log.
 */
#ifndef ISTHMUS_IKE_RULES_H
#define ISTHMUS_IKE_RULES_H

#include <stddef.h>

#include "concentrator/ike_codec.h"

/* Where in a multi-round exchange a message stands, when the engine knows.
 * Only IKE_AUTH has stages; other exchanges ignore it. IKE_STAGE_ANY uses
 * a rule that admits every stage. */
enum ike_stage {
    IKE_STAGE_ANY = 0,
    IKE_STAGE_AUTH_FIRST, /* first IKE_AUTH round (or a later RFC 4739 round) */
    IKE_STAGE_AUTH_EAP,   /* EAP continuation rounds */
    IKE_STAGE_AUTH_FINAL, /* the AUTH that closes EAP */
};

enum ike_rule_violation {
    IKE_RULE_OK = 0,
    IKE_RULE_UNKNOWN_EXCHANGE, /* no rule for this exchange type */
    IKE_RULE_NOT_ALLOWED,      /* payload type not allowed in this message */
    IKE_RULE_TOO_MANY,         /* more of this type than allowed */
    IKE_RULE_MISSING,          /* fewer of this type than required */
    IKE_RULE_NOT_ENCRYPTED,    /* payload outside SK that must be inside */
    IKE_RULE_ENCRYPTED,        /* SK/SKF in a message that must be plain */
    IKE_RULE_INCOMPLETE,       /* one of a set that must come together is missing */
    IKE_RULE_NONE_OF,          /* none of a set of which one is required */
};

struct ike_rule_err {
    enum ike_rule_violation kind;
    unsigned exchange;
    bool response;
    bool inner;       /* the offending payload is inside SK */
    unsigned payload; /* offending (or missing) payload type */
    unsigned count, min, max;
};

/* Checks outer (a decoded message with header) and, for encrypted
 * exchanges, inner (its decrypted payloads; NULL to check only the outer
 * layer, e.g. for a fragment). Returns IKE_RULE_OK or the violation, with
 * the details in *err (may be NULL). */
enum ike_rule_violation ike_check_rules(const struct ike_msg *outer, const struct ike_msg *inner,
                                        enum ike_stage stage, struct ike_rule_err *err);

/* Whether an exchange's messages after the header are encrypted (everything
 * but IKE_SA_INIT and IKE_SESSION_RESUME). */
bool ike_exchange_encrypted(unsigned exchange);

const char *ike_rule_violation_name(enum ike_rule_violation v);
/* "IKE_AUTH request: IDi missing (0, need 1..1) inside SK" into buf. */
const char *ike_rule_err_str(const struct ike_rule_err *e, char *buf, size_t len);

#endif
