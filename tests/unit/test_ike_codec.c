/* The IKEv2 decoder and builder on messages as strongSwan sends them, on
 * every payload type, and on truncated, oversized and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "concentrator/ike_codec.h"
#include "concentrator/ike_rules.h"
#include "tests/unit/test_ike_codec_samples.h"

static struct ike_msg M, IN; /* large: keep them off the stack */
static uint8_t buf[4096], out[4096];

static void test_strongswan_init_request(void **state)
{
    (void)state;
    size_t n = sample_ss_init_req(buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(ike_decode(buf, n, &M), IKE_OK);
    assert_true(M.has_hdr);
    assert_true(M.hdr.spi_i == SAMPLE_SPI_I);
    assert_true(M.hdr.spi_r == 0);
    assert_int_equal(M.hdr.exchange, IKE_EXCH_SA_INIT);
    assert_int_equal(M.hdr.flags, IKE_FLAG_INITIATOR);
    assert_int_equal(M.hdr.major, 2);
    assert_int_equal(M.hdr.msg_id, 0);
    assert_int_equal(M.hdr.length, n);
    assert_int_equal(M.n_pl, 8);
    static const uint8_t types[] = {IKE_PL_SA,     IKE_PL_KE,     IKE_PL_NONCE,  IKE_PL_NOTIFY,
                                    IKE_PL_NOTIFY, IKE_PL_NOTIFY, IKE_PL_NOTIFY, IKE_PL_NOTIFY};
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(M.pl[i].type, types[i]);

    const struct ike_sa *sa = &M.pl[0].u.sa;
    assert_int_equal(sa->n_proposals, 2);
    assert_int_equal(sa->proposals[0].num, 1);
    assert_int_equal(sa->proposals[0].protocol, IKE_PROTO_IKE);
    assert_int_equal(sa->proposals[0].spi.len, 0);
    assert_int_equal(sa->proposals[0].n_transforms, 16 + 6 + 13);
    assert_int_equal(sa->proposals[0].transforms[0].type, IKE_TT_ENCR);
    assert_int_equal(sa->proposals[0].transforms[0].id, IKE_ENCR_AES_CBC);
    assert_int_equal(sa->proposals[0].transforms[0].key_len, 128);
    assert_int_equal(sa->proposals[0].transforms[9].id, IKE_ENCR_3DES);
    assert_int_equal(sa->proposals[0].transforms[9].key_len, 0);
    assert_int_equal(sa->proposals[1].num, 2);
    assert_int_equal(sa->proposals[1].n_transforms, 13 + 6 + 13);
    assert_int_equal(sa->proposals[1].transforms[12].id, IKE_ENCR_CHACHA20_POLY1305);
    const struct ike_transform *last = &sa->proposals[1].transforms[31];
    assert_int_equal(last->type, IKE_TT_DH);
    assert_int_equal(last->id, IKE_DH_MODP2048);
    assert_int_equal(last->unknown_attrs, 0);

    assert_int_equal(M.pl[1].u.ke.group, IKE_DH_CURVE25519);
    assert_int_equal(M.pl[1].u.ke.data.len, 32);
    assert_int_equal(M.pl[1].u.ke.data.p[0], 0x31);
    assert_int_equal(M.pl[2].u.nonce.len, 32);
    assert_int_equal(M.pl[3].u.notify.type, IKE_N_NAT_DETECTION_SOURCE_IP);
    assert_int_equal(M.pl[3].u.notify.data.len, 20);
    assert_int_equal(M.pl[4].u.notify.type, IKE_N_NAT_DETECTION_DESTINATION_IP);
    assert_int_equal(M.pl[5].u.notify.type, IKE_N_IKEV2_FRAGMENTATION_SUPPORTED);
    assert_int_equal(M.pl[6].u.notify.type, IKE_N_SIGNATURE_HASH_ALGORITHMS);
    assert_int_equal(M.pl[7].u.notify.type, IKE_N_REDIRECT_SUPPORTED);
    assert_int_equal(M.pl[7].next, IKE_PL_NONE);

    uint16_t algs[8];
    size_t count = 0;
    assert_int_equal(ike_notify_hash_algs(&M.pl[6].u.notify, algs, 8, &count), IKE_OK);
    assert_int_equal(count, 4);
    assert_int_equal(algs[0], IKE_HASH_SHA2_256);
    assert_int_equal(algs[3], IKE_HASH_IDENTITY);

    assert_non_null(ike_msg_find_notify(&M, IKE_N_REDIRECT_SUPPORTED));
    assert_null(ike_msg_find_notify(&M, IKE_N_COOKIE));
    assert_int_equal(ike_msg_count(&M, IKE_PL_NOTIFY), 5);
    size_t from = 0, seen = 0;
    while (ike_msg_find(&M, IKE_PL_NOTIFY, &from))
        seen++;
    assert_int_equal(seen, 5);
    assert_null(ike_msg_encrypted(&M));

    size_t bad = 99;
    const char *why = NULL;
    assert_int_equal(ike_verify_msg(&M, &bad, &why), IKE_OK);
    assert_int_equal(ike_check_rules(&M, NULL, IKE_STAGE_ANY, NULL), IKE_RULE_OK);
}

static void test_init_responses(void **state)
{
    (void)state;
    size_t n = sample_init_resp(buf, sizeof(buf));
    assert_int_equal(ike_decode(buf, n, &M), IKE_OK);
    assert_true(M.hdr.spi_r == SAMPLE_SPI_R);
    assert_int_equal(M.n_pl, 9);
    assert_int_equal(M.pl[0].u.sa.n_proposals, 1);
    assert_int_equal(M.pl[0].u.sa.proposals[0].num, 2);
    assert_int_equal(M.pl[3].type, IKE_PL_CERTREQ);
    assert_int_equal(M.pl[3].u.cert.encoding, IKE_CERT_X509_SIGNATURE);
    assert_int_equal(M.pl[3].u.cert.data.len, 20);
    assert_int_equal(ike_verify_msg(&M, NULL, NULL), IKE_OK);
    assert_int_equal(ike_check_rules(&M, NULL, IKE_STAGE_ANY, NULL), IKE_RULE_OK);

    n = sample_cookie_resp(buf, sizeof(buf));
    assert_int_equal(ike_decode(buf, n, &M), IKE_OK);
    assert_int_equal(M.n_pl, 1);
    assert_int_equal(M.pl[0].u.notify.type, IKE_N_COOKIE);
    assert_int_equal(M.pl[0].u.notify.data.len, 32);
    assert_int_equal(ike_verify_msg(&M, NULL, NULL), IKE_OK);
    assert_int_equal(ike_check_rules(&M, NULL, IKE_STAGE_ANY, NULL), IKE_RULE_OK);
}

static void test_strongswan_auth_request(void **state)
{
    (void)state;
    size_t n = sample_auth_outer(buf, sizeof(buf));
    assert_int_equal(ike_decode(buf, n, &M), IKE_OK);
    assert_int_equal(M.n_pl, 1);
    const struct ike_payload *sk = ike_msg_encrypted(&M);
    assert_non_null(sk);
    assert_int_equal(sk->type, IKE_PL_SK);
    assert_int_equal(sk->u.sk.first, IKE_PL_IDI);
    assert_int_equal(sk->u.sk.data.len, 8 + 200 + 16);
    assert_ptr_equal(sk->hdr, buf + IKE_HDR_LEN);
    assert_ptr_equal(sk->u.sk.data.p, buf + IKE_HDR_LEN + 4);
    assert_int_equal(ike_check_rules(&M, NULL, IKE_STAGE_AUTH_FIRST, NULL), IKE_RULE_OK);

    size_t in = sample_ss_auth_inner(out, sizeof(out));
    assert_true(in > 0);
    assert_int_equal(ike_decode_inner(out, in, IKE_PL_IDI, &IN), IKE_OK);
    assert_false(IN.has_hdr);
    assert_int_equal(IN.n_pl, 13);
    assert_int_equal(IN.pl[0].type, IKE_PL_IDI);
    assert_int_equal(IN.pl[0].u.id.type, IKE_ID_FQDN);
    assert_int_equal(IN.pl[0].u.id.data.len, 5);
    assert_memory_equal(IN.pl[0].u.id.data.p, "alice", 5);
    assert_int_equal(IN.pl[1].u.notify.type, IKE_N_INITIAL_CONTACT);
    assert_int_equal(IN.pl[3].type, IKE_PL_IDR);
    assert_memory_equal(IN.pl[3].u.id.data.p, "vpn.acme.example", 16);
    const struct ike_cp *cp = &IN.pl[4].u.cp;
    assert_int_equal(cp->type, IKE_CFG_REQUEST);
    assert_int_equal(cp->n_attrs, 3);
    assert_int_equal(cp->attrs[0].type, IKE_CFG_INTERNAL_IP4_ADDRESS);
    assert_int_equal(cp->attrs[2].type, IKE_CFG_INTERNAL_IP6_ADDRESS);
    assert_int_equal(cp->attrs[2].value.len, 0);
    const struct ike_sa *sa = &IN.pl[5].u.sa;
    assert_int_equal(sa->n_proposals, 2);
    assert_int_equal(sa->proposals[0].protocol, IKE_PROTO_ESP);
    assert_int_equal(sa->proposals[0].spi.len, 4);
    assert_int_equal(sa->proposals[0].spi.p[0], 0xc1);
    assert_int_equal(sa->proposals[0].transforms[3].type, IKE_TT_ESN);
    assert_int_equal(sa->proposals[1].n_transforms, 6);
    const struct ike_ts_list *tsr = &IN.pl[7].u.ts;
    assert_int_equal(IN.pl[7].type, IKE_PL_TSR);
    assert_int_equal(tsr->n_ts, 1);
    assert_int_equal(tsr->ts[0].type, IKE_TS_IPV4_ADDR_RANGE);
    assert_int_equal(tsr->ts[0].start_port, 0);
    assert_int_equal(tsr->ts[0].end_port, 65535);
    static const uint8_t lan0[4] = {10, 1, 0, 0}, lan1[4] = {10, 1, 255, 255};
    assert_memory_equal(tsr->ts[0].start.p, lan0, 4);
    assert_memory_equal(tsr->ts[0].end.p, lan1, 4);
    assert_int_equal(IN.pl[12].u.notify.type, IKE_N_IKEV2_MESSAGE_ID_SYNC_SUPPORTED);
    assert_null(ike_msg_find(&IN, IKE_PL_AUTH, NULL)); /* EAP follows */

    assert_int_equal(ike_verify_msg(&IN, NULL, NULL), IKE_OK);
    assert_int_equal(ike_check_rules(&M, &IN, IKE_STAGE_AUTH_FIRST, NULL), IKE_RULE_OK);
    assert_int_equal(ike_check_rules(&M, &IN, IKE_STAGE_ANY, NULL), IKE_RULE_OK);
    struct ike_rule_err e;
    assert_int_equal(ike_check_rules(&M, &IN, IKE_STAGE_AUTH_EAP, &e), IKE_RULE_NOT_ALLOWED);
    assert_int_equal(e.payload, IKE_PL_IDI);
    assert_true(e.inner);
}

static void test_fragment_delete_eap(void **state)
{
    (void)state;
    size_t n = sample_skf(buf, sizeof(buf));
    assert_int_equal(ike_decode(buf, n, &M), IKE_OK);
    const struct ike_payload *f = ike_msg_encrypted(&M);
    assert_non_null(f);
    assert_int_equal(f->type, IKE_PL_SKF);
    assert_int_equal(f->u.skf.first, IKE_PL_IDR);
    assert_int_equal(f->u.skf.number, 1);
    assert_int_equal(f->u.skf.total, 2);
    assert_int_equal(f->u.skf.data.len, 8 + 480 + 16);
    assert_int_equal(ike_verify_msg(&M, NULL, NULL), IKE_OK);
    assert_int_equal(ike_check_rules(&M, NULL, IKE_STAGE_ANY, NULL), IKE_RULE_OK);

    n = sample_delete_inner(buf, sizeof(buf));
    assert_int_equal(ike_decode_inner(buf, n, IKE_PL_DELETE, &IN), IKE_OK);
    assert_int_equal(IN.n_pl, 1);
    assert_int_equal(IN.pl[0].u.del.protocol, IKE_PROTO_ESP);
    assert_int_equal(IN.pl[0].u.del.n_spis, 2);
    assert_int_equal(IN.pl[0].u.del.spis.len, 8);
    assert_int_equal(IN.pl[0].u.del.spis.p[4], 0xc5);
    assert_int_equal(ike_verify_msg(&IN, NULL, NULL), IKE_OK);

    n = sample_eap_inner(buf, sizeof(buf));
    assert_int_equal(ike_decode_inner(buf, n, IKE_PL_EAP, &IN), IKE_OK);
    const struct ike_eap *e = &IN.pl[0].u.eap;
    assert_int_equal(e->code, IKE_EAP_RESPONSE);
    assert_int_equal(e->id, 7);
    assert_int_equal(e->length, 10);
    assert_int_equal(e->type, IKE_EAP_IDENTITY);
    assert_int_equal(e->data.len, 5);
    assert_memory_equal(e->data.p, "alice", 5);
    assert_int_equal(e->packet.len, 10);
    assert_ptr_equal(e->packet.p, buf + 4);
    assert_int_equal(ike_verify_msg(&IN, NULL, NULL), IKE_OK);
}

/* Decoding then building from the decoded payloads gives the same bytes. */
static size_t rebuild(const struct ike_msg *m, uint8_t *dst, size_t cap)
{
    struct ike_builder b;
    if (m->has_hdr)
        ike_build_init(&b, dst, cap, &m->hdr);
    else
        ike_build_init_inner(&b, dst, cap);
    for (size_t i = 0; i < m->n_pl; i++) {
        const struct ike_payload *p = &m->pl[i];
        if (p->type == IKE_PL_SK) {
            /* Opaque region: copy as built (no padding, no ICV added). */
            if (ike_sk_begin(&b, 0) != IKE_OK)
                return 0;
            wr_bytes(&b.w, p->u.sk.data.p, p->u.sk.data.len);
            b.w.p[b.sk_off] = p->u.sk.first;
            wr_patch_u16(&b.w, b.sk_off + 2, (uint16_t)(4 + p->u.sk.data.len));
            b.done = true;
        } else if (ike_put_payload(&b, p) != IKE_OK) {
            return 0;
        }
    }
    size_t n = ike_build_finish(&b);
    return m->has_hdr ? n : (b.err == IKE_OK ? b.w.len : 0);
}

static void test_roundtrip_samples(void **state)
{
    (void)state;
    size_t (*outer[])(uint8_t *, size_t) = {sample_ss_init_req, sample_init_resp,
                                            sample_cookie_resp, sample_auth_outer};
    for (size_t i = 0; i < sizeof(outer) / sizeof(outer[0]); i++) {
        size_t n = outer[i](buf, sizeof(buf));
        assert_int_equal(ike_decode(buf, n, &M), IKE_OK);
        size_t m = rebuild(&M, out, sizeof(out));
        assert_int_equal(m, n);
        assert_memory_equal(out, buf, n);
    }
    struct {
        size_t (*fn)(uint8_t *, size_t);
        uint8_t first;
    } inner[] = {{sample_ss_auth_inner, IKE_PL_IDI},
                 {sample_delete_inner, IKE_PL_DELETE},
                 {sample_eap_inner, IKE_PL_EAP}};
    for (size_t i = 0; i < sizeof(inner) / sizeof(inner[0]); i++) {
        size_t n = inner[i].fn(buf, sizeof(buf));
        assert_int_equal(ike_decode_inner(buf, n, inner[i].first, &IN), IKE_OK);
        struct ike_builder b;
        ike_build_init_inner(&b, out, sizeof(out));
        for (size_t j = 0; j < IN.n_pl; j++)
            assert_int_equal(ike_put_payload(&b, &IN.pl[j]), IKE_OK);
        assert_int_equal(b.first, inner[i].first);
        assert_int_equal(b.w.len, n);
        assert_memory_equal(out, buf, n);
    }
}

/* Every payload type through the builder's own calls, then decoded. */
static void test_roundtrip_every_type(void **state)
{
    (void)state;
    uint8_t nonce[40], ke[256], cert[300], sig[64], spi4[4] = {1, 2, 3, 4}, spi8[8] = {9};
    fill(nonce, sizeof(nonce), 1);
    fill(ke, sizeof(ke), 2);
    fill(cert, sizeof(cert), 3);
    fill(sig, sizeof(sig), 4);
    sig[0] = 15; /* RFC 7427: AlgorithmIdentifier length */
    struct ike_transform tr[] = {{IKE_TT_ENCR, IKE_ENCR_AES_GCM_16, 256, 0},
                                 {IKE_TT_PRF, IKE_PRF_HMAC_SHA2_384, 0, 0},
                                 {IKE_TT_DH, IKE_DH_MODP2048, 0, 0}};
    struct ike_proposal props[] = {{1, IKE_PROTO_IKE, {spi8, 8}, tr, 3},
                                   {2, IKE_PROTO_IKE, {spi8, 8}, tr, 1}};
    uint8_t a6s[16] = {0x20, 0x01, 0x0d, 0xb8}, a6e[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff};
    struct ike_ts ts[] = {{IKE_TS_IPV6_ADDR_RANGE, 6, 443, 443, {a6s, 16}, {a6e, 16}, {NULL, 0}},
                          {IKE_TS_SECLABEL, 0, 0, 0, {NULL, 0}, {NULL, 0}, {(uint8_t *)"lbl", 3}}};
    uint8_t ip4[4] = {10, 1, 0, 2}, ip6[17] = {0xfd, [16] = 64};
    struct ike_cp_attr attrs[] = {{IKE_CFG_INTERNAL_IP4_ADDRESS, {ip4, 4}},
                                  {IKE_CFG_INTERNAL_IP6_ADDRESS, {ip6, 17}},
                                  {IKE_CFG_APPLICATION_VERSION, {(uint8_t *)"isthmus", 7}}};
    static const uint8_t eap_ok[4] = {IKE_EAP_SUCCESS, 9, 0, 4};
    uint8_t redir[64];
    size_t rlen = ike_redirect_encode(redir, sizeof(redir), IKE_GW_FQDN,
                                      (const uint8_t *)"gw2.example", 11, nonce, 32);
    assert_int_equal(rlen, 2 + 11 + 32);

    struct ike_hdr h = {.spi_i = 1,
                        .spi_r = 2,
                        .exchange = IKE_EXCH_CREATE_CHILD_SA,
                        .flags = IKE_FLAG_RESPONSE,
                        .msg_id = 7};
    struct ike_builder b;
    ike_build_init(&b, buf, sizeof(buf), &h);
    assert_int_equal(ike_put_sa(&b, props, 2), IKE_OK);
    assert_int_equal(ike_put_ke(&b, IKE_DH_MODP2048, ke, 256), IKE_OK);
    assert_int_equal(ike_put_id(&b, IKE_PL_IDI, IKE_ID_RFC822_ADDR, (const uint8_t *)"a@b.c", 5),
                     IKE_OK);
    assert_int_equal(ike_put_id(&b, IKE_PL_IDR, IKE_ID_IPV4_ADDR, ip4, 4), IKE_OK);
    assert_int_equal(ike_put_cert(&b, IKE_PL_CERT, IKE_CERT_X509_SIGNATURE, cert, 300), IKE_OK);
    assert_int_equal(ike_put_cert(&b, IKE_PL_CERTREQ, IKE_CERT_X509_SIGNATURE, cert, 40), IKE_OK);
    assert_int_equal(ike_put_auth(&b, IKE_AUTH_DIGITAL_SIGNATURE, sig, 64), IKE_OK);
    assert_int_equal(ike_put_nonce(&b, nonce, 40), IKE_OK);
    assert_int_equal(ike_put_notify(&b, IKE_PROTO_ESP, IKE_N_REKEY_SA, spi4, 4, NULL, 0), IKE_OK);
    assert_int_equal(ike_put_notify(&b, 0, IKE_N_REDIRECT, NULL, 0, redir, rlen), IKE_OK);
    assert_int_equal(ike_put_delete(&b, IKE_PROTO_ESP, 4, spi8, 2), IKE_OK);
    assert_int_equal(ike_put_vendor(&b, (const uint8_t *)"isthmus", 7), IKE_OK);
    assert_int_equal(ike_put_ts(&b, IKE_PL_TSI, ts, 2), IKE_OK);
    assert_int_equal(ike_put_ts(&b, IKE_PL_TSR, ts, 1), IKE_OK);
    assert_int_equal(ike_put_cp(&b, IKE_CFG_REPLY, attrs, 3), IKE_OK);
    assert_int_equal(ike_put_eap(&b, eap_ok, 4), IKE_OK);
    struct ike_payload unknown = {.type = 200, .body = {(const uint8_t *)"xyz", 3}};
    assert_int_equal(ike_put_payload(&b, &unknown), IKE_OK);
    size_t n = ike_build_finish(&b);
    assert_true(n > 0);

    assert_int_equal(ike_decode(buf, n, &M), IKE_OK);
    assert_int_equal(M.hdr.length, n);
    assert_int_equal(M.hdr.msg_id, 7);
    assert_int_equal(M.hdr.flags, IKE_FLAG_RESPONSE);
    assert_int_equal(M.n_pl, 16);
    assert_int_equal(M.n_skipped, 1);
    const struct ike_sa *sa = &M.pl[0].u.sa;
    assert_int_equal(sa->n_proposals, 2);
    assert_int_equal(sa->proposals[0].spi.len, 8);
    assert_int_equal(sa->proposals[0].n_transforms, 3);
    assert_int_equal(sa->proposals[0].transforms[0].key_len, 256);
    assert_int_equal(sa->proposals[0].transforms[2].id, IKE_DH_MODP2048);
    assert_int_equal(sa->proposals[1].n_transforms, 1);
    assert_int_equal(M.pl[1].u.ke.data.len, 256);
    assert_memory_equal(M.pl[2].u.id.data.p, "a@b.c", 5);
    assert_int_equal(M.pl[3].u.id.type, IKE_ID_IPV4_ADDR);
    assert_int_equal(M.pl[4].u.cert.data.len, 300);
    assert_memory_equal(M.pl[4].u.cert.data.p, cert, 300);
    assert_int_equal(M.pl[5].type, IKE_PL_CERTREQ);
    assert_int_equal(M.pl[6].u.auth.method, IKE_AUTH_DIGITAL_SIGNATURE);
    assert_int_equal(M.pl[7].u.nonce.len, 40);
    assert_int_equal(M.pl[8].u.notify.spi.len, 4);
    assert_int_equal(M.pl[8].u.notify.protocol, IKE_PROTO_ESP);
    struct ike_redirect r;
    assert_int_equal(ike_notify_redirect(&M.pl[9].u.notify, &r), IKE_OK);
    assert_int_equal(r.gw_type, IKE_GW_FQDN);
    assert_memory_equal(r.gw.p, "gw2.example", 11);
    assert_int_equal(r.nonce.len, 32);
    assert_int_equal(M.pl[10].u.del.n_spis, 2);
    assert_memory_equal(M.pl[11].u.vendor.p, "isthmus", 7);
    const struct ike_ts_list *tl = &M.pl[12].u.ts;
    assert_int_equal(tl->n_ts, 2);
    assert_int_equal(tl->ts[0].proto, 6);
    assert_int_equal(tl->ts[0].start_port, 443);
    assert_memory_equal(tl->ts[0].end.p, a6e, 16);
    assert_int_equal(tl->ts[1].type, IKE_TS_SECLABEL);
    assert_memory_equal(tl->ts[1].other.p, "lbl", 3);
    assert_int_equal(M.pl[13].u.ts.n_ts, 1);
    assert_int_equal(M.pl[14].u.cp.n_attrs, 3);
    assert_memory_equal(M.pl[14].u.cp.attrs[1].value.p, ip6, 17);
    assert_int_equal(M.pl[15].u.eap.code, IKE_EAP_SUCCESS);
    assert_int_equal(M.pl[15].u.eap.type, 0);
    size_t bad = 0;
    const char *why = NULL;
    assert_int_equal(ike_verify_msg(&M, &bad, &why), IKE_OK);
}

static void test_builder_sk_and_skf(void **state)
{
    (void)state;
    struct ike_hdr h = {.spi_i = 5, .spi_r = 6, .exchange = IKE_EXCH_AUTH, .msg_id = 1};
    struct ike_builder b;
    struct ike_sk_region r;
    uint8_t sig[20];
    fill(sig, sizeof(sig), 8);
    ike_build_init(&b, buf, sizeof(buf), &h);
    assert_int_equal(ike_sk_begin(&b, 16), IKE_OK);
    assert_int_equal(ike_put_id(&b, IKE_PL_IDI, IKE_ID_FQDN, (const uint8_t *)"alice", 5), IKE_OK);
    assert_int_equal(ike_put_auth(&b, IKE_AUTH_SHARED_KEY_MIC, sig, 20), IKE_OK);
    assert_int_equal(ike_sk_end(&b, 16, 12, &r), IKE_OK);
    size_t n = ike_build_finish(&b);
    assert_int_equal(n, r.msg_len);
    assert_ptr_equal(r.msg, buf);
    assert_int_equal(r.aad_len, IKE_HDR_LEN + 4);
    assert_ptr_equal(r.iv, buf + IKE_HDR_LEN + 4);
    assert_int_equal(r.iv_len, 16);
    assert_ptr_equal(r.plain, r.iv + 16);
    assert_int_equal(r.plain_len % 16, 0);
    /* inner: IDi 4+4+5 = 13, AUTH 4+4+20 = 28: 41 + padding + 1 = 48 */
    assert_int_equal(r.plain_len, 48);
    assert_int_equal(r.plain[r.plain_len - 1], 6);
    assert_ptr_equal(r.icv, r.plain + r.plain_len);
    assert_int_equal(r.icv_len, 12);
    assert_int_equal(r.icv + 12 - buf, n);
    /* Nothing more can go in. */
    assert_int_equal(ike_put_nonce(&b, sig, 16), IKE_ERR_ARG);

    assert_int_equal(ike_decode(buf, n, &M), IKE_OK);
    const struct ike_payload *sk = ike_msg_encrypted(&M);
    assert_non_null(sk);
    assert_int_equal(sk->u.sk.first, IKE_PL_IDI);
    assert_int_equal(sk->u.sk.data.len, 16 + 48 + 12);
    size_t plen = 0;
    assert_int_equal(ike_sk_unpad(r.plain, r.plain_len, &plen), IKE_OK);
    assert_int_equal(plen, 41);
    assert_int_equal(ike_decode_inner(r.plain, plen, sk->u.sk.first, &IN), IKE_OK);
    assert_int_equal(IN.n_pl, 2);
    assert_int_equal(IN.pl[1].u.auth.method, IKE_AUTH_SHARED_KEY_MIC);
    assert_int_equal(ike_check_rules(&M, &IN, IKE_STAGE_ANY, NULL), IKE_RULE_OK);

    /* AEAD: no block padding, just the pad-length octet. */
    ike_build_init(&b, buf, sizeof(buf), &h);
    assert_int_equal(ike_sk_begin(&b, 8), IKE_OK);
    assert_int_equal(ike_sk_end(&b, 1, 16, &r), IKE_OK);
    assert_int_equal(r.plain_len, 1);
    assert_int_equal(r.plain[0], 0);
    assert_int_equal(buf[IKE_HDR_LEN], IKE_PL_NONE); /* empty SK: no inner payload */

    /* A separately built inner plaintext, wrapped. */
    struct ike_builder ib;
    ike_build_init_inner(&ib, out, sizeof(out));
    assert_int_equal(ike_put_nonce(&ib, sig, 16), IKE_OK);
    assert_int_equal(ib.first, IKE_PL_NONCE);
    ike_build_init(&b, buf, sizeof(buf), &h);
    assert_int_equal(ike_put_sk(&b, ib.first, 8, out, ib.w.len, 1, 16, &r), IKE_OK);
    assert_int_equal(ike_decode(buf, b.w.len, &M), IKE_OK);
    assert_int_equal(M.pl[0].u.sk.first, IKE_PL_NONCE);
    assert_memory_equal(r.plain, out, ib.w.len);

    /* Fragments: the first names the inner type, the others do not. */
    for (uint16_t num = 1; num <= 3; num++) {
        ike_build_init(&b, buf, sizeof(buf), &h);
        assert_int_equal(ike_put_skf(&b, IKE_PL_IDR, num, 3, 16, out, 100, 16, 16, &r), IKE_OK);
        assert_int_equal(r.aad_len, IKE_HDR_LEN + 8);
        assert_int_equal(r.plain_len, 112);
        assert_int_equal(ike_decode(buf, b.w.len, &M), IKE_OK);
        assert_int_equal(M.pl[0].u.skf.number, num);
        assert_int_equal(M.pl[0].u.skf.total, 3);
        assert_int_equal(M.pl[0].u.skf.first, num == 1 ? IKE_PL_IDR : IKE_PL_NONE);
        assert_int_equal(ike_verify_msg(&M, NULL, NULL), IKE_OK);
    }
    ike_build_init(&b, buf, sizeof(buf), &h);
    assert_int_equal(ike_put_skf(&b, IKE_PL_IDR, 4, 3, 16, out, 10, 16, 16, &r), IKE_ERR_ARG);
    ike_build_init(&b, buf, sizeof(buf), &h);
    assert_int_equal(ike_sk_end(&b, 16, 16, &r), IKE_ERR_ARG);
    assert_int_equal(ike_build_finish(&b), 0);
}

static void test_builder_errors(void **state)
{
    (void)state;
    struct ike_hdr h = {.exchange = IKE_EXCH_SA_INIT};
    struct ike_builder b;
    uint8_t small[40], n16[16] = {0};
    ike_build_init(&b, small, sizeof(small), &h);
    assert_int_equal(ike_put_nonce(&b, n16, 16), IKE_ERR_NOSPACE);
    assert_int_equal(ike_put_notify(&b, 0, IKE_N_COOKIE, NULL, 0, n16, 1), IKE_ERR_NOSPACE);
    assert_int_equal(ike_build_finish(&b), 0);

    ike_build_init(&b, buf, sizeof(buf), &h);
    assert_int_equal(ike_put_id(&b, IKE_PL_NONCE, IKE_ID_FQDN, n16, 1), IKE_ERR_ARG);
    ike_build_init(&b, buf, sizeof(buf), &h);
    assert_int_equal(ike_put_nonce(&b, NULL, 16), IKE_ERR_ARG);
    ike_build_init(&b, buf, sizeof(buf), &h);
    static const uint8_t bad_eap[5] = {2, 1, 0, 9, 1}; /* says 9, is 5 */
    assert_int_equal(ike_put_eap(&b, bad_eap, 5), IKE_ERR_ARG);
    ike_build_init(&b, buf, sizeof(buf), &h);
    struct ike_ts ts = {IKE_TS_IPV4_ADDR_RANGE, 0, 0, 65535, {n16, 16}, {n16, 4}, {NULL, 0}};
    assert_int_equal(ike_put_ts(&b, IKE_PL_TSI, &ts, 1), IKE_ERR_ARG);
    ike_build_init(&b, buf, sizeof(buf), &h);
    assert_int_equal(ike_sk_begin(&b, 8), IKE_OK);
    assert_int_equal(ike_build_finish(&b), 0); /* SK never closed */
    ike_build_init_inner(&b, buf, sizeof(buf));
    assert_int_equal(ike_sk_begin(&b, 8), IKE_ERR_ARG); /* no SK inside SK */
}

static size_t init_req_with_len(size_t n)
{
    wr_patch_u32(&(struct wr){buf, sizeof(buf), IKE_HDR_LEN, false}, 24, (uint32_t)n);
    return n;
}

static void test_truncated_and_oversized(void **state)
{
    (void)state;
    size_t n = sample_ss_init_req(buf, sizeof(buf));
    struct ike_hdr h;
    for (size_t len = 0; len < IKE_HDR_LEN; len++)
        assert_int_equal(ike_decode(buf, len, &M), IKE_ERR_TRUNCATED);
    /* Cut anywhere after the header: the header's length says more. */
    for (size_t len = IKE_HDR_LEN; len < n; len++)
        assert_int_equal(ike_decode(buf, len, &M), IKE_ERR_TRUNCATED);
    /* Cut, with the header's length agreeing: a payload runs past the end
     * (or its fixed fields are cut), never accepted. */
    for (size_t len = IKE_HDR_LEN; len < n; len++) {
        init_req_with_len(len);
        enum ike_err e = ike_decode(buf, len, &M);
        assert_true(e == IKE_ERR_TRUNCATED || e == IKE_ERR_LENGTH);
    }
    init_req_with_len(n);
    assert_int_equal(ike_decode(buf, n, &M), IKE_OK);

    /* A datagram longer than the message: refused. */
    buf[n] = 0;
    assert_int_equal(ike_decode(buf, n + 1, &M), IKE_ERR_LENGTH);
    /* Bytes after the last payload, counted in the length: refused. */
    init_req_with_len(n + 1);
    assert_int_equal(ike_decode(buf, n + 1, &M), IKE_ERR_LENGTH);
    init_req_with_len(n);
    /* Header length below 28. */
    init_req_with_len(20);
    assert_int_equal(ike_decode_header(buf, n, &h), IKE_ERR_LENGTH);
    init_req_with_len(n);
    /* Version 3.0: refused, but the SPIs are there for the reply. */
    buf[17] = 0x30;
    assert_int_equal(ike_decode(buf, n, &M), IKE_ERR_VERSION);
    assert_int_equal(ike_decode_header(buf, n, &h), IKE_ERR_VERSION);
    assert_true(h.spi_i == SAMPLE_SPI_I);
    assert_int_equal(h.major, 3);
    buf[17] = 0x21; /* minor versions are ignored */
    assert_int_equal(ike_decode(buf, n, &M), IKE_OK);
}

/* One malformed message per case, built by hand around a single payload. */
struct bad_case {
    const char *name;
    uint8_t type;
    bool critical;
    const uint8_t *body;
    size_t len;
    enum ike_err want;
};

static size_t one_payload(uint8_t type, bool critical, const uint8_t *body, size_t len)
{
    struct wr w = wr_init(buf, sizeof(buf));
    raw_hdr(&w, 0, type, IKE_EXCH_SA_INIT, IKE_FLAG_INITIATOR, 0);
    wr_u8(&w, 0);
    wr_u8(&w, critical ? 0x80 : 0);
    wr_u16(&w, (uint16_t)(4 + len));
    wr_bytes(&w, body, len);
    return raw_finish(&w);
}

static void test_malformed_payloads(void **state)
{
    (void)state;
    /* SA: proposal length 7 */
    static const uint8_t sa_short_prop[] = {0, 0, 0, 7, 1, 1, 0, 0};
    /* SA: proposal says 2 transforms, has 1 */
    static const uint8_t sa_count[] = {0, 0, 0, 16, 1, 1, 0, 2, 0, 0, 0, 8, 1, 0, 0, 12};
    /* SA: sole transform marked "more" (3) */
    static const uint8_t sa_more[] = {0, 0, 0, 16, 1, 1, 0, 1, 3, 0, 0, 8, 1, 0, 0, 12};
    /* SA: sole proposal marked "more" (2) */
    static const uint8_t sa_pmore[] = {2, 0, 0, 16, 1, 1, 0, 1, 0, 0, 0, 8, 1, 0, 0, 12};
    /* SA: SPI size 8 but proposal has only 4 bytes after the header */
    static const uint8_t sa_spi[] = {0, 0, 0, 12, 1, 3, 8, 0, 1, 2, 3, 4};
    /* SA: transform attribute TLV running past the transform */
    static const uint8_t sa_attr[] = {0, 0,  0, 20, 1, 1,  0, 1, 0, 0,
                                      0, 12, 1, 0,  0, 12, 0, 1, 0, 9};
    /* SA: transform length 6 */
    static const uint8_t sa_tlen[] = {0, 0, 0, 16, 1, 1, 0, 1, 0, 0, 0, 6, 1, 0, 0, 12};
    static const uint8_t ke_short[] = {0, 31, 0};
    static const uint8_t id_short[] = {2, 0};
    static const uint8_t auth_short[] = {2};
    static const uint8_t n_spi[] = {3, 4, 0x40, 0x09, 1, 2}; /* SPI size 4, 2 bytes */
    static const uint8_t d_count[] = {3, 4, 0, 2, 1, 2, 3, 4};
    static const uint8_t d_short[] = {3, 4};
    /* TS: one IPv4 selector with length 20 */
    static const uint8_t ts_len[] = {1, 0, 0, 0, 7, 0, 0, 20, 0, 0, 0xff, 0xff,
                                     0, 0, 0, 0, 1, 1, 1, 1,  9, 9, 9,    9};
    /* TS: says 2 selectors, has 1 */
    static const uint8_t ts_count[] = {2,    0,    0, 0, 7, 0, 0, 16, 0, 0,
                                       0xff, 0xff, 0, 0, 0, 0, 1, 1,  1, 1};
    /* TS: a byte after the last selector */
    static const uint8_t ts_extra[] = {1,    0, 0, 0, 7, 0, 0, 16, 0, 0, 0xff,
                                       0xff, 0, 0, 0, 0, 1, 1, 1,  1, 0};
    static const uint8_t ts_sel_short[] = {1, 0, 0, 0, 7, 0, 0, 3};
    static const uint8_t cp_attr[] = {1, 0, 0, 0, 0, 1, 0, 4, 10, 1};
    static const uint8_t eap_len[] = {2, 1, 0, 9, 1, 'a'};
    static const uint8_t eap_short[] = {2, 1, 0};
    static const uint8_t skf_short[] = {0, 1, 0};
    static const uint8_t junk[] = {1, 2, 3};
    const struct bad_case cases[] = {
        {"SA proposal length < 8", IKE_PL_SA, false, sa_short_prop, sizeof(sa_short_prop),
         IKE_ERR_LENGTH},
        {"SA transform count", IKE_PL_SA, false, sa_count, sizeof(sa_count), IKE_ERR_SYNTAX},
        {"SA transform last/more", IKE_PL_SA, false, sa_more, sizeof(sa_more), IKE_ERR_SYNTAX},
        {"SA proposal last/more", IKE_PL_SA, false, sa_pmore, sizeof(sa_pmore), IKE_ERR_SYNTAX},
        {"SA SPI past proposal", IKE_PL_SA, false, sa_spi, sizeof(sa_spi), IKE_ERR_LENGTH},
        {"SA attribute past transform", IKE_PL_SA, false, sa_attr, sizeof(sa_attr), IKE_ERR_LENGTH},
        {"SA transform length < 8", IKE_PL_SA, false, sa_tlen, sizeof(sa_tlen), IKE_ERR_LENGTH},
        {"KE shorter than its header", IKE_PL_KE, false, ke_short, sizeof(ke_short),
         IKE_ERR_LENGTH},
        {"ID shorter than its header", IKE_PL_IDI, false, id_short, sizeof(id_short),
         IKE_ERR_LENGTH},
        {"AUTH shorter than its header", IKE_PL_AUTH, false, auth_short, sizeof(auth_short),
         IKE_ERR_LENGTH},
        {"Notify SPI past payload", IKE_PL_NOTIFY, false, n_spi, sizeof(n_spi), IKE_ERR_LENGTH},
        {"Delete SPI count", IKE_PL_DELETE, false, d_count, sizeof(d_count), IKE_ERR_LENGTH},
        {"Delete header cut", IKE_PL_DELETE, false, d_short, sizeof(d_short), IKE_ERR_LENGTH},
        {"TS IPv4 selector length", IKE_PL_TSI, false, ts_len, sizeof(ts_len), IKE_ERR_LENGTH},
        {"TS count above selectors", IKE_PL_TSI, false, ts_count, sizeof(ts_count), IKE_ERR_LENGTH},
        {"TS trailing byte", IKE_PL_TSR, false, ts_extra, sizeof(ts_extra), IKE_ERR_SYNTAX},
        {"TS selector length < 4", IKE_PL_TSR, false, ts_sel_short, sizeof(ts_sel_short),
         IKE_ERR_LENGTH},
        {"CP attribute past payload", IKE_PL_CP, false, cp_attr, sizeof(cp_attr), IKE_ERR_LENGTH},
        {"EAP length field", IKE_PL_EAP, false, eap_len, sizeof(eap_len), IKE_ERR_LENGTH},
        {"EAP header cut", IKE_PL_EAP, false, eap_short, sizeof(eap_short), IKE_ERR_LENGTH},
        {"SKF header cut", IKE_PL_SKF, false, skf_short, sizeof(skf_short), IKE_ERR_LENGTH},
        {"unknown critical payload", 99, true, junk, sizeof(junk), IKE_ERR_CRITICAL},
        {"unknown type skipped", 99, false, junk, sizeof(junk), IKE_OK},
        {"known type with critical bit", IKE_PL_VENDOR, true, junk, sizeof(junk), IKE_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad_case *c = &cases[i];
        size_t n = one_payload(c->type, c->critical, c->body, c->len);
        enum ike_err e = ike_decode(buf, n, &M);
        if (e != c->want)
            fail_msg("%s: got %s, want %s", c->name, ike_err_name(e), ike_err_name(c->want));
        if (c->want != IKE_OK)
            assert_int_equal(M.err_type, c->type);
    }
    size_t n = one_payload(99, true, junk, sizeof(junk));
    assert_int_equal(ike_decode(buf, n, &M), IKE_ERR_CRITICAL);
    assert_int_equal(M.unsupported_critical, 99);
    assert_int_equal(M.err_offset, IKE_HDR_LEN);
    n = one_payload(99, false, junk, sizeof(junk));
    assert_int_equal(ike_decode(buf, n, &M), IKE_OK);
    assert_int_equal(M.n_pl, 0);
    assert_int_equal(M.n_skipped, 1);
}

static void test_chain_errors(void **state)
{
    (void)state;
    struct wr w;
    /* Payload length 3. */
    w = wr_init(buf, sizeof(buf));
    raw_hdr(&w, 0, IKE_PL_NONCE, IKE_EXCH_SA_INIT, 0, 0);
    wr_u8(&w, 0);
    wr_u8(&w, 0);
    wr_u16(&w, 3);
    size_t n = raw_finish(&w);
    assert_int_equal(ike_decode(buf, n, &M), IKE_ERR_LENGTH);
    /* Payload length past the message. */
    w = wr_init(buf, sizeof(buf));
    raw_hdr(&w, 0, IKE_PL_NONCE, IKE_EXCH_SA_INIT, 0, 0);
    wr_u8(&w, 0);
    wr_u8(&w, 0);
    wr_u16(&w, 40);
    wr_u32(&w, 0);
    n = raw_finish(&w);
    assert_int_equal(ike_decode(buf, n, &M), IKE_ERR_TRUNCATED);
    /* Chain names a next payload that is not there. */
    w = wr_init(buf, sizeof(buf));
    raw_hdr(&w, 0, IKE_PL_VENDOR, IKE_EXCH_SA_INIT, 0, 0);
    size_t o = raw_pl(&w, IKE_PL_VENDOR);
    wr_u8(&w, 1);
    raw_end(&w, o);
    n = raw_finish(&w);
    assert_int_equal(ike_decode(buf, n, &M), IKE_ERR_TRUNCATED);
    /* SK not last. */
    w = wr_init(buf, sizeof(buf));
    raw_hdr(&w, 1, IKE_PL_SK, IKE_EXCH_AUTH, 0, 1);
    o = raw_pl(&w, IKE_PL_IDI);
    wr_u32(&w, 0xdeadbeef);
    raw_end(&w, o);
    o = raw_pl(&w, IKE_PL_NONE);
    raw_end(&w, o);
    n = raw_finish(&w);
    assert_int_equal(ike_decode(buf, n, &M), IKE_ERR_SYNTAX);
    /* SK inside SK. */
    w = wr_init(buf, sizeof(buf));
    o = raw_pl(&w, IKE_PL_NONE);
    wr_u32(&w, 1);
    raw_end(&w, o);
    assert_int_equal(ike_decode_inner(buf, w.len, IKE_PL_SK, &IN), IKE_ERR_SYNTAX);
    assert_int_equal(ike_decode_inner(buf, w.len, IKE_PL_SKF, &IN), IKE_ERR_SYNTAX);
    /* An empty inner list is fine (e.g. a liveness check). */
    assert_int_equal(ike_decode_inner(buf, 0, IKE_PL_NONE, &IN), IKE_OK);
    assert_int_equal(IN.n_pl, 0);
    /* Inner bytes after the last payload. */
    assert_int_equal(ike_decode_inner(buf, w.len, IKE_PL_NONE, &IN), IKE_ERR_LENGTH);

    /* 64 payloads decode; 65 are refused. */
    for (int count = 64; count <= 65; count++) {
        w = wr_init(buf, sizeof(buf));
        raw_hdr(&w, 0, IKE_PL_VENDOR, IKE_EXCH_SA_INIT, 0, 0);
        for (int i = 0; i < count; i++) {
            o = raw_pl(&w, i + 1 == count ? IKE_PL_NONE : IKE_PL_VENDOR);
            wr_u8(&w, (uint8_t)i);
            raw_end(&w, o);
        }
        n = raw_finish(&w);
        assert_int_equal(ike_decode(buf, n, &M), count == 64 ? IKE_OK : IKE_ERR_TOO_MANY);
    }
    /* 65 unknown non-critical payloads: refused too (bounded work). */
    w = wr_init(buf, sizeof(buf));
    raw_hdr(&w, 0, 200, IKE_EXCH_SA_INIT, 0, 0);
    for (int i = 0; i < 65; i++) {
        o = raw_pl(&w, i + 1 == 65 ? IKE_PL_NONE : 200);
        raw_end(&w, o);
    }
    n = raw_finish(&w);
    assert_int_equal(ike_decode(buf, n, &M), IKE_ERR_TOO_MANY);
}

static void test_too_many_transforms(void **state)
{
    (void)state;
    static uint8_t big[16384];
    /* Three proposals of 200 transforms: 600 > IKE_MAX_TRANSFORMS. */
    struct sample_tr t[200];
    for (size_t i = 0; i < 200; i++)
        t[i] = (struct sample_tr){IKE_TT_DH, (uint16_t)i, 0};
    struct wr w = wr_init(big, sizeof(big));
    raw_hdr(&w, 0, IKE_PL_SA, IKE_EXCH_SA_INIT, 0, 0);
    size_t o = raw_pl(&w, IKE_PL_NONE);
    raw_prop(&w, false, 1, IKE_PROTO_IKE, NULL, 0, t, 200);
    raw_prop(&w, false, 2, IKE_PROTO_IKE, NULL, 0, t, 200);
    raw_prop(&w, true, 3, IKE_PROTO_IKE, NULL, 0, t, 200);
    raw_end(&w, o);
    size_t n = raw_finish(&w);
    assert_int_equal(ike_decode(big, n, &M), IKE_ERR_TOO_MANY);
    assert_int_equal(M.err_type, IKE_PL_SA);
}

/* Meaning checks: each case is one payload that decodes but must fail
 * verify, next to its nearest valid neighbour. */
static void test_verify(void **state)
{
    (void)state;
    uint8_t d[300];
    fill(d, sizeof(d), 1);
    struct ike_payload p;
    const char *why;
#define CHECK(want)                                                                                \
    do {                                                                                           \
        why = NULL;                                                                                \
        assert_int_equal(ike_verify_payload(&p, &why), (want));                                    \
        if ((want) != IKE_OK)                                                                      \
            assert_non_null(why);                                                                  \
    } while (0)

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_NONCE;
    p.u.nonce = (struct ike_data){d, 15};
    CHECK(IKE_ERR_INVALID);
    p.u.nonce.len = 16;
    CHECK(IKE_OK);
    p.u.nonce.len = 256;
    CHECK(IKE_OK);
    p.u.nonce.len = 257;
    CHECK(IKE_ERR_INVALID);

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_KE;
    p.u.ke = (struct ike_ke){IKE_DH_ECP256, {d, 64}};
    CHECK(IKE_OK);
    p.u.ke.data.len = 65;
    CHECK(IKE_ERR_INVALID);
    p.u.ke = (struct ike_ke){IKE_DH_CURVE25519, {d, 31}};
    CHECK(IKE_ERR_INVALID);
    p.u.ke = (struct ike_ke){IKE_DH_MODP3072, {d, 256}};
    CHECK(IKE_ERR_INVALID);
    p.u.ke = (struct ike_ke){IKE_DH_ML_KEM_768, {d, 100}}; /* not judged here */
    CHECK(IKE_OK);
    p.u.ke = (struct ike_ke){0, {d, 32}};
    CHECK(IKE_ERR_INVALID);
    assert_int_equal(ike_ke_len(IKE_DH_ECP521), 132);
    assert_int_equal(ike_ke_len(IKE_DH_MODP2048), 256);

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_SA;
    struct ike_transform tr = {IKE_TT_ENCR, IKE_ENCR_AES_CBC, 128, 0};
    struct ike_proposal pr[2] = {{1, IKE_PROTO_ESP, {d, 4}, &tr, 1},
                                 {2, IKE_PROTO_ESP, {d, 4}, &tr, 1}};
    p.u.sa = (struct ike_sa){pr, 2};
    CHECK(IKE_OK);
    pr[1].num = 3;
    CHECK(IKE_ERR_INVALID);
    pr[1].num = 2;
    pr[0].spi.len = 8;
    CHECK(IKE_ERR_INVALID);
    pr[0].spi.len = 4;
    pr[0].protocol = IKE_PROTO_IKE;
    CHECK(IKE_ERR_INVALID); /* IKE with a 4-byte SPI */
    pr[0].spi.len = 8;
    CHECK(IKE_OK);
    pr[0].protocol = 9;
    CHECK(IKE_ERR_INVALID);
    pr[0].protocol = IKE_PROTO_ESP;
    pr[0].spi.len = 4;
    tr.key_len = 100;
    CHECK(IKE_ERR_INVALID);
    tr.key_len = 128;
    pr[0].n_transforms = 0;
    CHECK(IKE_ERR_INVALID);
    pr[0].n_transforms = 1;
    p.u.sa = (struct ike_sa){&pr[1], 1}; /* a response's single proposal keeps its number */
    CHECK(IKE_OK);
    p.u.sa.n_proposals = 0;
    CHECK(IKE_ERR_INVALID);

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_IDI;
    p.u.id = (struct ike_id){IKE_ID_IPV4_ADDR, {d, 4}};
    CHECK(IKE_OK);
    p.u.id.data.len = 5;
    CHECK(IKE_ERR_INVALID);
    p.u.id = (struct ike_id){IKE_ID_FQDN, {d, 0}};
    CHECK(IKE_ERR_INVALID);
    p.u.id = (struct ike_id){IKE_ID_IPV6_ADDR, {d, 16}};
    CHECK(IKE_OK);
    p.u.id = (struct ike_id){IKE_ID_NULL, {NULL, 0}};
    CHECK(IKE_OK);

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_CERTREQ;
    p.u.cert = (struct ike_cert){IKE_CERT_X509_SIGNATURE, {d, 40}};
    CHECK(IKE_OK);
    p.u.cert.data.len = 41;
    CHECK(IKE_ERR_INVALID);
    p.type = IKE_PL_CERT;
    p.u.cert.data.len = 0;
    CHECK(IKE_ERR_INVALID);

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_AUTH;
    d[0] = 15;
    p.u.auth = (struct ike_auth){IKE_AUTH_DIGITAL_SIGNATURE, {d, 16}};
    CHECK(IKE_ERR_INVALID); /* AlgorithmIdentifier, no signature */
    p.u.auth.data.len = 80;
    CHECK(IKE_OK);
    p.u.auth = (struct ike_auth){IKE_AUTH_SHARED_KEY_MIC, {d, 0}};
    CHECK(IKE_ERR_INVALID);

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_NOTIFY;
    p.u.notify = (struct ike_notify){0, IKE_N_NAT_DETECTION_SOURCE_IP, {NULL, 0}, {d, 20}};
    CHECK(IKE_OK);
    p.u.notify.data.len = 19;
    CHECK(IKE_ERR_INVALID);
    p.u.notify = (struct ike_notify){IKE_PROTO_ESP, IKE_N_REKEY_SA, {d, 4}, {NULL, 0}};
    CHECK(IKE_OK);
    p.u.notify.spi.len = 0;
    CHECK(IKE_ERR_INVALID);
    p.u.notify = (struct ike_notify){IKE_PROTO_NONE, IKE_N_INITIAL_CONTACT, {d, 4}, {NULL, 0}};
    CHECK(IKE_ERR_INVALID); /* an SPI with no protocol */
    p.u.notify = (struct ike_notify){0, IKE_N_COOKIE, {NULL, 0}, {d, 65}};
    CHECK(IKE_ERR_INVALID);
    p.u.notify.data.len = 64;
    CHECK(IKE_OK);
    p.u.notify = (struct ike_notify){0, IKE_N_SIGNATURE_HASH_ALGORITHMS, {NULL, 0}, {d, 3}};
    CHECK(IKE_ERR_INVALID);
    p.u.notify = (struct ike_notify){0, IKE_N_INVALID_KE_PAYLOAD, {NULL, 0}, {d, 2}};
    CHECK(IKE_OK);
    p.u.notify = (struct ike_notify){0, IKE_N_ADDITIONAL_IP6_ADDRESS, {NULL, 0}, {d, 4}};
    CHECK(IKE_ERR_INVALID);
    uint8_t red[] = {IKE_GW_IPV4, 4, 192, 0, 2, 1};
    p.u.notify = (struct ike_notify){0, IKE_N_REDIRECTED_FROM, {NULL, 0}, {red, sizeof(red)}};
    CHECK(IKE_OK);
    red[1] = 5;
    CHECK(IKE_ERR_INVALID);
    red[1] = 4;
    red[0] = 7;
    CHECK(IKE_ERR_INVALID);

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_DELETE;
    p.u.del = (struct ike_delete){IKE_PROTO_IKE, 0, 0, {NULL, 0}};
    CHECK(IKE_OK);
    p.u.del = (struct ike_delete){IKE_PROTO_IKE, 8, 1, {d, 8}};
    CHECK(IKE_ERR_INVALID);
    p.u.del = (struct ike_delete){IKE_PROTO_ESP, 8, 1, {d, 8}};
    CHECK(IKE_ERR_INVALID);
    p.u.del = (struct ike_delete){IKE_PROTO_ESP, 4, 0, {NULL, 0}};
    CHECK(IKE_ERR_INVALID);

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_TSI;
    uint8_t lo[4] = {10, 0, 0, 0}, hi[4] = {10, 0, 0, 255};
    struct ike_ts ts = {IKE_TS_IPV4_ADDR_RANGE, 17, 500, 4500, {lo, 4}, {hi, 4}, {NULL, 0}};
    p.u.ts = (struct ike_ts_list){&ts, 1};
    CHECK(IKE_OK);
    ts.start_port = 4501;
    CHECK(IKE_ERR_INVALID);
    ts.start_port = 65535;
    ts.end_port = 0; /* OPAQUE */
    CHECK(IKE_OK);
    ts.start = (struct ike_data){hi, 4};
    ts.end = (struct ike_data){lo, 4};
    CHECK(IKE_ERR_INVALID);
    ts.start = (struct ike_data){lo, 4};
    ts.end = (struct ike_data){d, 16};
    CHECK(IKE_ERR_INVALID); /* IPv6-sized end in an IPv4 selector */
    p.u.ts.n_ts = 0;
    CHECK(IKE_ERR_INVALID);

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_CP;
    struct ike_cp_attr a = {IKE_CFG_INTERNAL_IP4_ADDRESS, {d, 3}};
    p.u.cp = (struct ike_cp){IKE_CFG_REPLY, &a, 1};
    CHECK(IKE_ERR_INVALID);
    a.value.len = 4;
    CHECK(IKE_OK);
    a.value.len = 0;
    CHECK(IKE_OK);
    a = (struct ike_cp_attr){IKE_CFG_INTERNAL_IP6_ADDRESS, {d, 16}};
    CHECK(IKE_ERR_INVALID);
    p.u.cp.type = 9;
    a.value.len = 17;
    CHECK(IKE_ERR_INVALID);

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_EAP;
    uint8_t s[5] = {IKE_EAP_SUCCESS, 1, 0, 5, 0};
    p.u.eap = (struct ike_eap){IKE_EAP_SUCCESS, 1, 5, 0, {NULL, 0}, {s, 5}};
    CHECK(IKE_ERR_INVALID);
    p.u.eap = (struct ike_eap){IKE_EAP_REQUEST, 1, 4, 0, {NULL, 0}, {s, 4}};
    CHECK(IKE_ERR_INVALID);
    p.u.eap = (struct ike_eap){9, 1, 4, 0, {NULL, 0}, {s, 4}};
    CHECK(IKE_ERR_INVALID);

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_SKF;
    p.u.skf = (struct ike_skf){IKE_PL_NONE, 3, 2, {d, 40}};
    CHECK(IKE_ERR_INVALID);
    p.u.skf = (struct ike_skf){IKE_PL_NONE, 0, 2, {d, 40}};
    CHECK(IKE_ERR_INVALID);
    p.u.skf = (struct ike_skf){IKE_PL_IDI, 2, 2, {d, 40}};
    CHECK(IKE_ERR_INVALID);
    p.u.skf = (struct ike_skf){IKE_PL_NONE, 2, 2, {d, 40}};
    CHECK(IKE_OK);

    memset(&p, 0, sizeof(p));
    p.type = IKE_PL_VENDOR;
    CHECK(IKE_ERR_INVALID);
#undef CHECK
}

static void test_helpers(void **state)
{
    (void)state;
    uint8_t pt[] = {1, 2, 3, 0xaa, 0xbb, 2};
    size_t n = 0;
    assert_int_equal(ike_sk_unpad(pt, sizeof(pt), &n), IKE_OK);
    assert_int_equal(n, 3);
    pt[5] = 6;
    assert_int_equal(ike_sk_unpad(pt, sizeof(pt), &n), IKE_ERR_LENGTH);
    assert_int_equal(ike_sk_unpad(pt, 0, &n), IKE_ERR_TRUNCATED);

    uint8_t d[4] = {0, 19, 0, 0};
    struct ike_notify nt = {0, IKE_N_INVALID_KE_PAYLOAD, {NULL, 0}, {d, 2}};
    uint16_t v16 = 0;
    assert_int_equal(ike_notify_u16(&nt, &v16), IKE_OK);
    assert_int_equal(v16, 19);
    nt.data.len = 3;
    assert_int_equal(ike_notify_u16(&nt, &v16), IKE_ERR_SYNTAX);
    uint32_t v32;
    nt.data.len = 4;
    assert_int_equal(ike_notify_u32(&nt, &v32), IKE_OK);
    assert_int_equal(v32, 0x00130000);

    uint8_t r[40];
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
    assert_int_equal(ike_redirect_encode(r, sizeof(r), IKE_GW_IPV6, v6, 16, NULL, 0), 18);
    assert_int_equal(ike_redirect_encode(r, sizeof(r), IKE_GW_IPV6, v6, 4, NULL, 0), 0);
    assert_int_equal(ike_redirect_encode(r, 10, IKE_GW_IPV6, v6, 16, NULL, 0), 0);
    assert_int_equal(ike_redirect_encode(r, sizeof(r), 9, v6, 16, NULL, 0), 0);
    assert_string_equal(ike_err_name(IKE_ERR_CRITICAL), "unsupported critical payload");
}

/* With IKE_CODEC_WRITE_SEEDS=DIR, writes the sample messages there as the
 * fuzzer's seed corpus (tests/fuzz/seeds/ike_decode) instead of testing. */
static int write_seeds(const char *dir)
{
    struct {
        const char *name;
        size_t (*fn)(uint8_t *, size_t);
    } s[] = {
        {"strongswan_init_req", sample_ss_init_req},
        {"init_resp", sample_init_resp},
        {"cookie_resp", sample_cookie_resp},
        {"auth_req_sk", sample_auth_outer},
        {"auth_resp_skf", sample_skf},
        {"auth_req_inner", sample_ss_auth_inner},
        {"delete_inner", sample_delete_inner},
        {"eap_inner", sample_eap_inner},
    };
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        size_t n = s[i].fn(buf, sizeof(buf));
        char path[512];
        snprintf(path, sizeof(path), "%s/%s.bin", dir, s[i].name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
            perror(path);
            return 1;
        }
    }
    /* An IKE_AUTH request whose SK holds the inner payloads in clear (no IV,
     * no ICV, pad length 0): the fuzzer reads SK data as plaintext. */
    struct ike_hdr h = {.spi_i = SAMPLE_SPI_I,
                        .spi_r = SAMPLE_SPI_R,
                        .exchange = IKE_EXCH_AUTH,
                        .flags = IKE_FLAG_INITIATOR,
                        .msg_id = 1};
    struct ike_builder b;
    size_t in = sample_ss_auth_inner(out, sizeof(out));
    ike_build_init(&b, buf, sizeof(buf), &h);
    if (ike_put_sk(&b, IKE_PL_IDI, 0, out, in, 0, 0, NULL) != IKE_OK)
        return 1;
    char path[512];
    snprintf(path, sizeof(path), "%s/auth_req_plain_sk.bin", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, b.w.len, f) != b.w.len || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

int main(void)
{
    const char *seeds = getenv("IKE_CODEC_WRITE_SEEDS");
    if (seeds)
        return write_seeds(seeds);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strongswan_init_request),
        cmocka_unit_test(test_init_responses),
        cmocka_unit_test(test_strongswan_auth_request),
        cmocka_unit_test(test_fragment_delete_eap),
        cmocka_unit_test(test_roundtrip_samples),
        cmocka_unit_test(test_roundtrip_every_type),
        cmocka_unit_test(test_builder_sk_and_skf),
        cmocka_unit_test(test_builder_errors),
        cmocka_unit_test(test_truncated_and_oversized),
        cmocka_unit_test(test_malformed_payloads),
        cmocka_unit_test(test_chain_errors),
        cmocka_unit_test(test_too_many_transforms),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
