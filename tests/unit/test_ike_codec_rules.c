/* The per-exchange payload table: what each IKEv2 message may carry, and
 * the rule a peer's message breaks, as the engine logs it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "concentrator/ike_codec.h"
#include "concentrator/ike_rules.h"

static struct ike_msg OUT, IN;
static uint8_t obuf[4096], ibuf[4096];

/* A payload of each type with valid contents. */
static void put(struct ike_builder *b, uint8_t type, uint16_t notify)
{
    static const uint8_t d[64] = {1, 2, 3, 4};
    static const struct ike_transform tr = {IKE_TT_ENCR, IKE_ENCR_AES_GCM_16, 128, 0};
    static const struct ike_proposal pr = {1, IKE_PROTO_ESP, {d, 4}, &tr, 1};
    static const uint8_t a0[4] = {0}, a1[4] = {255, 255, 255, 255};
    static const struct ike_ts ts = {
        IKE_TS_IPV4_ADDR_RANGE, 0, 0, 65535, {a0, 4}, {a1, 4}, {NULL, 0}};
    static const uint8_t eap[5] = {IKE_EAP_RESPONSE, 1, 0, 5, IKE_EAP_IDENTITY};
    enum ike_err e = IKE_OK;
    switch (type) {
    case IKE_PL_SA:
        e = ike_put_sa(b, &pr, 1);
        break;
    case IKE_PL_KE:
        e = ike_put_ke(b, IKE_DH_CURVE25519, d, 32);
        break;
    case IKE_PL_IDI:
    case IKE_PL_IDR:
        e = ike_put_id(b, type, IKE_ID_FQDN, d, 4);
        break;
    case IKE_PL_CERT:
    case IKE_PL_CERTREQ:
        e = ike_put_cert(b, type, IKE_CERT_X509_SIGNATURE, d, 20);
        break;
    case IKE_PL_AUTH:
        e = ike_put_auth(b, IKE_AUTH_SHARED_KEY_MIC, d, 32);
        break;
    case IKE_PL_NONCE:
        e = ike_put_nonce(b, d, 32);
        break;
    case IKE_PL_NOTIFY:
        /* Data of the length each notify needs (see ike_verify_payload). */
        e = ike_put_notify(b, 0, notify, NULL, 0, d,
                           notify == IKE_N_NAT_DETECTION_SOURCE_IP ? 20
                           : notify == IKE_N_COOKIE                ? 16
                           : notify == IKE_N_INVALID_KE_PAYLOAD    ? 2
                                                                   : 0);
        break;
    case IKE_PL_DELETE:
        e = ike_put_delete(b, IKE_PROTO_IKE, 0, NULL, 0);
        break;
    case IKE_PL_VENDOR:
        e = ike_put_vendor(b, d, 16);
        break;
    case IKE_PL_TSI:
    case IKE_PL_TSR:
        e = ike_put_ts(b, type, &ts, 1);
        break;
    case IKE_PL_CP:
        e = ike_put_cp(b, IKE_CFG_REQUEST, NULL, 0);
        break;
    case IKE_PL_EAP:
        e = ike_put_eap(b, eap, 5);
        break;
    default:
        fail_msg("no sample for payload %u", type);
    }
    assert_int_equal(e, IKE_OK);
}

/* Payload lists end with 0; N entries take the notify type from nt. */
struct pls {
    uint8_t t[16];
    uint16_t nt;
};

/* Builds and decodes a message: plain payloads outside, then (if inner is
 * given) an SK payload whose plaintext is decoded into IN. */
static void make(uint8_t exch, bool response, const struct pls *outer, const struct pls *inner)
{
    struct ike_hdr h = {.spi_i = 1,
                        .spi_r = 2,
                        .exchange = exch,
                        .flags = response ? IKE_FLAG_RESPONSE : IKE_FLAG_INITIATOR};
    struct ike_builder b, ib;
    ike_build_init(&b, obuf, sizeof(obuf), &h);
    for (size_t i = 0; outer && outer->t[i]; i++)
        put(&b, outer->t[i], outer->nt);
    if (inner) {
        ike_build_init_inner(&ib, ibuf, sizeof(ibuf));
        for (size_t i = 0; inner->t[i]; i++)
            put(&ib, inner->t[i], inner->nt);
        struct ike_sk_region r;
        assert_int_equal(ike_put_sk(&b, ib.first, 0, ibuf, ib.w.len, 0, 0, &r), IKE_OK);
    }
    size_t n = ike_build_finish(&b);
    assert_true(n > 0);
    assert_int_equal(ike_decode(obuf, n, &OUT), IKE_OK);
    if (inner) {
        assert_int_equal(ike_decode_inner(ibuf, ib.w.len, ib.first, &IN), IKE_OK);
        assert_int_equal(ike_verify_msg(&IN, NULL, NULL), IKE_OK);
    }
    assert_int_equal(ike_verify_msg(&OUT, NULL, NULL), IKE_OK);
}

enum {
    SA = IKE_PL_SA,
    KE = IKE_PL_KE,
    IDI = IKE_PL_IDI,
    IDR = IKE_PL_IDR,
    CERT = IKE_PL_CERT,
    CREQ = IKE_PL_CERTREQ,
    AUTH = IKE_PL_AUTH,
    NO = IKE_PL_NONCE,
    N = IKE_PL_NOTIFY,
    D = IKE_PL_DELETE,
    V = IKE_PL_VENDOR,
    TSI = IKE_PL_TSI,
    TSR = IKE_PL_TSR,
    CP = IKE_PL_CP,
    EAP = IKE_PL_EAP,
    SK = IKE_PL_SK
};

struct rcase {
    const char *name;
    uint8_t exch;
    bool response;
    enum ike_stage stage;
    bool encrypted; /* payloads go inside SK */
    struct pls pl;
    enum ike_rule_violation want;
    uint8_t bad; /* payload named in the error */
};

static const struct rcase cases[] = {
    /* IKE_SA_INIT */
    {"init request",
     IKE_EXCH_SA_INIT,
     false,
     IKE_STAGE_ANY,
     false,
     {{SA, KE, NO, N, N, N, V}, IKE_N_NAT_DETECTION_SOURCE_IP},
     IKE_RULE_OK,
     0},
    {"init request without KE",
     IKE_EXCH_SA_INIT,
     false,
     IKE_STAGE_ANY,
     false,
     {{SA, NO}, 0},
     IKE_RULE_MISSING,
     KE},
    {"init request with two nonces",
     IKE_EXCH_SA_INIT,
     false,
     IKE_STAGE_ANY,
     false,
     {{SA, KE, NO, NO}, 0},
     IKE_RULE_TOO_MANY,
     NO},
    {"init request with IDi",
     IKE_EXCH_SA_INIT,
     false,
     IKE_STAGE_ANY,
     false,
     {{SA, KE, NO, IDI}, 0},
     IKE_RULE_NOT_ALLOWED,
     IDI},
    {"init request with SK",
     IKE_EXCH_SA_INIT,
     false,
     IKE_STAGE_ANY,
     true,
     {{N}, IKE_N_COOKIE},
     IKE_RULE_ENCRYPTED,
     SK},
    {"init response",
     IKE_EXCH_SA_INIT,
     true,
     IKE_STAGE_ANY,
     false,
     {{SA, KE, NO, CREQ, N}, IKE_N_MULTIPLE_AUTH_SUPPORTED},
     IKE_RULE_OK,
     0},
    {"init response: cookie only",
     IKE_EXCH_SA_INIT,
     true,
     IKE_STAGE_ANY,
     false,
     {{N}, IKE_N_COOKIE},
     IKE_RULE_OK,
     0},
    {"init response: INVALID_KE_PAYLOAD only",
     IKE_EXCH_SA_INIT,
     true,
     IKE_STAGE_ANY,
     false,
     {{N}, IKE_N_INVALID_KE_PAYLOAD},
     IKE_RULE_OK,
     0},
    {"init response: status notify only",
     IKE_EXCH_SA_INIT,
     true,
     IKE_STAGE_ANY,
     false,
     {{N}, IKE_N_NAT_DETECTION_SOURCE_IP},
     IKE_RULE_MISSING,
     SA},
    {"init request: error notify does not waive",
     IKE_EXCH_SA_INIT,
     false,
     IKE_STAGE_ANY,
     false,
     {{N}, IKE_N_INVALID_SYNTAX},
     IKE_RULE_MISSING,
     SA},

    /* IKE_AUTH */
    {"auth request, EAP",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_AUTH_FIRST,
     true,
     {{IDI, N, CREQ, IDR, CP, SA, TSI, TSR, N}, IKE_N_INITIAL_CONTACT},
     IKE_RULE_OK,
     0},
    {"auth request, certificate",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_AUTH_FIRST,
     true,
     {{IDI, CERT, CERT, AUTH, SA, TSI, TSR}, 0},
     IKE_RULE_OK,
     0},
    {"auth request without IDi",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_AUTH_FIRST,
     true,
     {{AUTH, SA, TSI, TSR}, 0},
     IKE_RULE_MISSING,
     IDI},
    {"auth request: SA without TSr",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_AUTH_FIRST,
     true,
     {{IDI, AUTH, SA, TSI}, 0},
     IKE_RULE_INCOMPLETE,
     TSR},
    {"auth request: two AUTH",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_ANY,
     true,
     {{IDI, AUTH, AUTH}, 0},
     IKE_RULE_TOO_MANY,
     AUTH},
    {"auth request: KE",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_ANY,
     true,
     {{IDI, AUTH, KE}, 0},
     IKE_RULE_NOT_ALLOWED,
     KE},
    {"auth request: only notifies",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_ANY,
     true,
     {{N}, IKE_N_INITIAL_CONTACT},
     IKE_RULE_NONE_OF,
     IDI},
    {"auth request: EAP round",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_AUTH_EAP,
     true,
     {{EAP}, 0},
     IKE_RULE_OK,
     0},
    {"auth request: EAP round, any stage",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_ANY,
     true,
     {{EAP}, 0},
     IKE_RULE_OK,
     0},
    {"auth request: EAP round with IDi",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_AUTH_EAP,
     true,
     {{IDI, EAP}, 0},
     IKE_RULE_NOT_ALLOWED,
     IDI},
    {"auth request: EAP round without EAP",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_AUTH_EAP,
     true,
     {{0}, 0},
     IKE_RULE_MISSING,
     EAP},
    {"auth request: final AUTH",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_AUTH_FINAL,
     true,
     {{AUTH}, 0},
     IKE_RULE_OK,
     0},
    {"auth request: final without AUTH",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_AUTH_FINAL,
     true,
     {{N}, IKE_N_INITIAL_CONTACT},
     IKE_RULE_MISSING,
     AUTH},
    {"auth response with EAP request",
     IKE_EXCH_AUTH,
     true,
     IKE_STAGE_AUTH_FIRST,
     true,
     {{IDR, CERT, AUTH, EAP}, 0},
     IKE_RULE_OK,
     0},
    {"auth response: AUTHENTICATION_FAILED only",
     IKE_EXCH_AUTH,
     true,
     IKE_STAGE_AUTH_FIRST,
     true,
     {{N}, IKE_N_AUTHENTICATION_FAILED},
     IKE_RULE_OK,
     0},
    {"auth response: empty",
     IKE_EXCH_AUTH,
     true,
     IKE_STAGE_AUTH_FIRST,
     true,
     {{0}, 0},
     IKE_RULE_MISSING,
     IDR},
    {"auth response: IDr but neither AUTH nor EAP",
     IKE_EXCH_AUTH,
     true,
     IKE_STAGE_AUTH_FIRST,
     true,
     {{IDR, CERT}, 0},
     IKE_RULE_NONE_OF,
     AUTH},
    {"auth response: CERTREQ",
     IKE_EXCH_AUTH,
     true,
     IKE_STAGE_ANY,
     true,
     {{IDR, AUTH, CREQ}, 0},
     IKE_RULE_NOT_ALLOWED,
     CREQ},
    {"auth response: final with child",
     IKE_EXCH_AUTH,
     true,
     IKE_STAGE_AUTH_FINAL,
     true,
     {{AUTH, CP, SA, TSI, TSR, N}, IKE_N_MOBIKE_SUPPORTED},
     IKE_RULE_OK,
     0},
    {"auth request: IDi outside SK",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_ANY,
     false,
     {{IDI, AUTH}, 0},
     IKE_RULE_NOT_ENCRYPTED,
     IDI},
    {"auth request: nothing at all",
     IKE_EXCH_AUTH,
     false,
     IKE_STAGE_ANY,
     false,
     {{0}, 0},
     IKE_RULE_MISSING,
     SK},

    /* CREATE_CHILD_SA */
    {"child rekey",
     IKE_EXCH_CREATE_CHILD_SA,
     false,
     IKE_STAGE_ANY,
     true,
     {{N, SA, NO, TSI, TSR}, IKE_N_USE_TRANSPORT_MODE},
     IKE_RULE_OK,
     0},
    {"IKE rekey",
     IKE_EXCH_CREATE_CHILD_SA,
     false,
     IKE_STAGE_ANY,
     true,
     {{SA, NO, KE}, 0},
     IKE_RULE_OK,
     0},
    {"child without nonce",
     IKE_EXCH_CREATE_CHILD_SA,
     false,
     IKE_STAGE_ANY,
     true,
     {{SA, TSI, TSR}, 0},
     IKE_RULE_MISSING,
     NO},
    {"child with TSi only",
     IKE_EXCH_CREATE_CHILD_SA,
     false,
     IKE_STAGE_ANY,
     true,
     {{SA, NO, TSI}, 0},
     IKE_RULE_INCOMPLETE,
     TSR},
    {"child response: NO_PROPOSAL_CHOSEN",
     IKE_EXCH_CREATE_CHILD_SA,
     true,
     IKE_STAGE_ANY,
     true,
     {{N}, IKE_N_NO_PROPOSAL_CHOSEN},
     IKE_RULE_OK,
     0},
    {"child request: AUTH",
     IKE_EXCH_CREATE_CHILD_SA,
     false,
     IKE_STAGE_ANY,
     true,
     {{SA, NO, AUTH}, 0},
     IKE_RULE_NOT_ALLOWED,
     AUTH},

    /* INFORMATIONAL */
    {"liveness check",
     IKE_EXCH_INFORMATIONAL,
     false,
     IKE_STAGE_ANY,
     true,
     {{0}, 0},
     IKE_RULE_OK,
     0},
    {"delete", IKE_EXCH_INFORMATIONAL, false, IKE_STAGE_ANY, true, {{D, D}, 0}, IKE_RULE_OK, 0},
    {"MOBIKE update",
     IKE_EXCH_INFORMATIONAL,
     false,
     IKE_STAGE_ANY,
     true,
     {{N}, IKE_N_UPDATE_SA_ADDRESSES},
     IKE_RULE_OK,
     0},
    {"informational with SA",
     IKE_EXCH_INFORMATIONAL,
     true,
     IKE_STAGE_ANY,
     true,
     {{SA}, 0},
     IKE_RULE_NOT_ALLOWED,
     SA},
    {"informational with two CP",
     IKE_EXCH_INFORMATIONAL,
     true,
     IKE_STAGE_ANY,
     true,
     {{CP, CP}, 0},
     IKE_RULE_TOO_MANY,
     CP},
};

static void test_rule_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct rcase *c = &cases[i];
        make(c->exch, c->response, c->encrypted ? NULL : &c->pl, c->encrypted ? &c->pl : NULL);
        struct ike_rule_err e;
        enum ike_rule_violation v = ike_check_rules(&OUT, c->encrypted ? &IN : NULL, c->stage, &e);
        char line[160];
        if (v != c->want || (c->want != IKE_RULE_OK && e.payload != c->bad))
            fail_msg("%s: got %s (%s), want %s on %u", c->name, ike_rule_violation_name(v),
                     ike_rule_err_str(&e, line, sizeof(line)), ike_rule_violation_name(c->want),
                     c->bad);
        assert_int_equal(e.kind, v);
        assert_int_equal(e.exchange, c->exch);
        assert_int_equal(e.response, c->response);
    }
}

static void test_outer_only_and_unknown(void **state)
{
    (void)state;
    struct pls inner = {{IDI, AUTH}, 0};
    make(IKE_EXCH_AUTH, false, NULL, &inner);
    /* A fragment or a not yet decrypted message: the outer layer alone. */
    assert_int_equal(ike_check_rules(&OUT, NULL, IKE_STAGE_ANY, NULL), IKE_RULE_OK);
    /* V outside SK. */
    struct pls outer = {{V}, 0};
    make(IKE_EXCH_AUTH, false, &outer, &inner);
    struct ike_rule_err e;
    assert_int_equal(ike_check_rules(&OUT, &IN, IKE_STAGE_ANY, &e), IKE_RULE_NOT_ENCRYPTED);
    assert_int_equal(e.payload, V);
    assert_false(e.inner);
    /* An exchange type without rules. */
    make(99, false, NULL, &inner);
    assert_int_equal(ike_check_rules(&OUT, &IN, IKE_STAGE_ANY, &e), IKE_RULE_UNKNOWN_EXCHANGE);
    char line[160];
    assert_string_equal(ike_rule_err_str(&e, line, sizeof(line)),
                        "UNKNOWN(99) request: no rules for this exchange");
    /* An inner list passed as outer has no header. */
    assert_int_equal(ike_check_rules(&IN, NULL, IKE_STAGE_ANY, &e), IKE_RULE_UNKNOWN_EXCHANGE);
    assert_true(ike_exchange_encrypted(IKE_EXCH_AUTH));
    assert_false(ike_exchange_encrypted(IKE_EXCH_SA_INIT));
    assert_false(ike_exchange_encrypted(IKE_EXCH_SESSION_RESUME));
}

static void test_error_text(void **state)
{
    (void)state;
    struct pls inner = {{AUTH, SA, TSI}, 0};
    make(IKE_EXCH_AUTH, false, NULL, &inner);
    struct ike_rule_err e;
    char line[160];
    assert_int_equal(ike_check_rules(&OUT, &IN, IKE_STAGE_AUTH_FIRST, &e), IKE_RULE_MISSING);
    assert_string_equal(ike_rule_err_str(&e, line, sizeof(line)),
                        "IKE_AUTH request: IDi missing (0, need 1..1) inside SK");
    inner = (struct pls){{IDI, AUTH, SA, TSI}, 0};
    make(IKE_EXCH_AUTH, false, NULL, &inner);
    assert_int_equal(ike_check_rules(&OUT, &IN, IKE_STAGE_AUTH_FIRST, &e), IKE_RULE_INCOMPLETE);
    assert_string_equal(ike_rule_err_str(&e, line, sizeof(line)),
                        "IKE_AUTH request: TSr missing from a set that must come together "
                        "inside SK");
    /* A short buffer is cut, never overrun. */
    char tiny[8];
    assert_string_equal(ike_rule_err_str(&e, tiny, sizeof(tiny)), "IKE_AUT");
    /* IKE_SESSION_RESUME needs N(TICKET_OPAQUE): "at least one". */
    struct pls resume = {{IKE_PL_NONCE}, 0};
    make(IKE_EXCH_SESSION_RESUME, false, &resume, NULL);
    assert_int_equal(ike_check_rules(&OUT, NULL, IKE_STAGE_ANY, &e), IKE_RULE_MISSING);
    assert_string_equal(ike_rule_err_str(&e, line, sizeof(line)),
                        "IKE_SESSION_RESUME request: N missing (0, need at least 1)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_table),
        cmocka_unit_test(test_outer_only_and_unknown),
        cmocka_unit_test(test_error_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
