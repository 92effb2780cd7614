/* CREATE_CHILD_SA, responder side (RFC 7296 1.3): rekeying the CHILD_SA,
 * with or without PFS, or a new one when the session's has expired. A
 * second CHILD_SA beside a live one, and rekeying the IKE SA itself, are
 * answered NO_ADDITIONAL_SAS for now: the client reauthenticates instead. */
#define _GNU_SOURCE
#include <string.h>

#include "concentrator/ike_engine.h"
#include "concentrator/ike_names.h"
#include "concentrator/ike_rules.h"

static void answer_notify(struct ikesa *sa, uint32_t msg_id, uint16_t type, const uint8_t *data,
                          size_t len)
{
    uint8_t inner[64];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    ike_put_notify(&b, IKE_PROTO_NONE, type, NULL, 0, data, len);
    size_t n = ike_build_finish(&b);
    sa->peer_next_id = msg_id + 1;
    ike_send_response(sa, IKE_EXCH_CREATE_CHILD_SA, msg_id, inner, n, b.first);
}

void ike_create_request(struct ikesa *sa, const struct ike_msg *in, uint32_t msg_id)
{
    struct ike_rule_err rerr;
    size_t bad;
    const char *why = NULL;
    if (ike_check_rules(&sa->eng->msg, in, IKE_STAGE_ANY, &rerr) != IKE_RULE_OK ||
        ike_verify_msg(in, &bad, &why) != IKE_OK) {
        char text[160];
        ikesa_log(sa, LOG_LVL_NOTICE, "refused a malformed CREATE_CHILD_SA request: %s",
                  why ? why : ike_rule_err_str(&rerr, text, sizeof(text)));
        answer_notify(sa, msg_id, IKE_N_INVALID_SYNTAX, NULL, 0);
        return;
    }
    const struct ike_payload *pl_sa = ike_msg_find(in, IKE_PL_SA, NULL);
    const struct ike_payload *ni = ike_msg_find(in, IKE_PL_NONCE, NULL);
    const struct ike_payload *ke = ike_msg_find(in, IKE_PL_KE, NULL);
    const struct ike_payload *tsi = ike_msg_find(in, IKE_PL_TSI, NULL);
    const struct ike_payload *tsr = ike_msg_find(in, IKE_PL_TSR, NULL);
    const struct ike_notify *rekey = ike_msg_find_notify(in, IKE_N_REKEY_SA);

    if (!tsi || !tsr || !pl_sa || !ni) {
        /* No traffic selectors: rekeying the IKE SA. */
        ikesa_log(sa, LOG_LVL_NOTICE,
                  "refused an IKE_SA rekey (not supported yet: the client "
                  "will reauthenticate)");
        answer_notify(sa, msg_id, IKE_N_NO_ADDITIONAL_SAS, NULL, 0);
        return;
    }
    uint32_t old_out = 0;
    if (rekey && rekey->protocol == IKE_PROTO_ESP && rekey->spi.len == 4)
        old_out = (uint32_t)rekey->spi.p[0] << 24 | (uint32_t)rekey->spi.p[1] << 16 |
                  (uint32_t)rekey->spi.p[2] << 8 | rekey->spi.p[3];
    uint32_t old_in = 0;
    if (old_out && sa->child.spi_in && sa->child.spi_out == old_out)
        old_in = sa->child.spi_in;
    if (!old_in) {
        if (rekey) {
            /* RFC 7296 2.25: the SA it rekeys is gone. */
            answer_notify(sa, msg_id, IKE_N_CHILD_SA_NOT_FOUND, NULL, 0);
            return;
        }
        if (sa->child.spi_in) {
            ikesa_log(sa, LOG_LVL_NOTICE, "refused a second CHILD_SA (one per session)");
            answer_notify(sa, msg_id, IKE_N_NO_ADDITIONAL_SAS, NULL, 0);
            return;
        }
        /* The session has no CHILD_SA left (it expired): a new one. */
    }

    uint8_t inner[4096];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    struct ike_child_ctx cc = {
        .sa_pl = &pl_sa->u.sa,
        .tsi = &tsi->u.ts,
        .tsr = &tsr->u.ts,
        .ke = ke ? &ke->u.ke : NULL,
        .ni = ni->u.nonce.p,
        .ni_len = ni->u.nonce.len,
        .rekey_spi_in = old_in,
    };
    uint16_t err = ike_child_create(sa, &cc, &b);
    if (err == IKE_N_INVALID_KE_PAYLOAD) {
        uint8_t g[2] = {(uint8_t)(cc.invalid_ke_group >> 8), (uint8_t)cc.invalid_ke_group};
        answer_notify(sa, msg_id, err, g, 2);
        return;
    }
    if (err) {
        answer_notify(sa, msg_id, err, NULL, 0);
        return;
    }
    size_t n = ike_build_finish(&b);
    sa->peer_next_id = msg_id + 1;
    ike_send_response(sa, IKE_EXCH_CREATE_CHILD_SA, msg_id, inner, n, b.first);
    ikesa_publish(sa);
}
