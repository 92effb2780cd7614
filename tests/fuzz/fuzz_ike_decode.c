/*
 * libFuzzer target for the IKEv2 decoder: arbitrary bytes as a whole
 * message (decode, verify, rules for every stage, rebuild and decode
 * again), as the decrypted plaintext of the SK payload found, and as an
 * inner payload list starting with each payload type.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "concentrator/ike_codec.h"
#include "concentrator/ike_names.h"
#include "concentrator/ike_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ike_msg msg, inner, again;
static uint8_t out[65536 + 64];

static const enum ike_stage stages[] = {IKE_STAGE_ANY, IKE_STAGE_AUTH_FIRST, IKE_STAGE_AUTH_EAP,
                                        IKE_STAGE_AUTH_FINAL};

/* Rebuilds the payloads (all but SK/SKF) and checks that the result decodes
 * to the same payload types: the builder accepts what the decoder gives. */
static void rebuild(const struct ike_msg *m)
{
    struct ike_builder b;
    if (m->has_hdr)
        ike_build_init(&b, out, sizeof(out), &m->hdr);
    else
        ike_build_init_inner(&b, out, sizeof(out));
    size_t n = 0;
    for (size_t i = 0; i < m->n_pl; i++) {
        const struct ike_payload *p = &m->pl[i];
        if (p->type == IKE_PL_SK || p->type == IKE_PL_SKF)
            continue;
        if (ike_put_payload(&b, p) != IKE_OK)
            abort();
        n++;
    }
    size_t len = m->has_hdr ? ike_build_finish(&b) : b.w.len;
    if (b.err != IKE_OK || (m->has_hdr && len == 0))
        abort();
    enum ike_err e =
        m->has_hdr ? ike_decode(out, len, &again) : ike_decode_inner(out, len, b.first, &again);
    if (e != IKE_OK || again.n_pl != n)
        abort();
    for (size_t i = 0, j = 0; i < m->n_pl; i++) {
        if (m->pl[i].type == IKE_PL_SK || m->pl[i].type == IKE_PL_SKF)
            continue;
        if (again.pl[j++].type != m->pl[i].type)
            abort();
    }
}

static void check(const struct ike_msg *outer, const struct ike_msg *in)
{
    char line[160];
    size_t bad;
    const char *why;
    ike_verify_msg(in ? in : outer, &bad, &why);
    for (size_t s = 0; s < sizeof(stages) / sizeof(stages[0]); s++) {
        struct ike_rule_err e;
        ike_check_rules(outer, in, stages[s], &e);
        ike_rule_err_str(&e, line, sizeof(line));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ike_decode(data, size, &msg) == IKE_OK) {
        check(&msg, NULL);
        for (size_t i = 0; i < msg.n_pl; i++) {
            const struct ike_payload *p = &msg.pl[i];
            if (p->type == IKE_PL_NOTIFY) {
                uint16_t algs[8];
                size_t n;
                struct ike_redirect r;
                ike_notify_hash_algs(&p->u.notify, algs, 8, &n);
                ike_notify_redirect(&p->u.notify, &r);
            }
        }
        rebuild(&msg);
        /* The SK region as if it were the decrypted plaintext. */
        const struct ike_payload *sk = ike_msg_encrypted(&msg);
        if (sk) {
            const struct ike_data *d = sk->type == IKE_PL_SK ? &sk->u.sk.data : &sk->u.skf.data;
            uint8_t first = sk->type == IKE_PL_SK ? sk->u.sk.first : sk->u.skf.first;
            size_t plen;
            if (ike_sk_unpad(d->p, d->len, &plen) == IKE_OK &&
                ike_decode_inner(d->p, plen, first, &inner) == IKE_OK)
                check(&msg, &inner);
        }
    }
    /* The input as an inner payload list, with each first payload type. */
    for (unsigned t = IKE_PL_SA; t <= IKE_PL_SKF + 1; t++) {
        if (ike_decode_inner(data, size, (uint8_t)t, &inner) == IKE_OK) {
            ike_verify_msg(&inner, NULL, NULL);
            rebuild(&inner);
        }
    }
    return 0;
}
