/*
 * IKEv2 message building through wire.h's writer: a header, then one call
 * per payload; the next-payload chain and the lengths are patched as the
 * message grows. See ike_codec.h for the SK/SKF skeleton.
 */
#include "concentrator/ike_codec.h"

#include <string.h>

#define NO_OFF SIZE_MAX

static enum ike_err fail(struct ike_builder *b, enum ike_err e)
{
    if (b->err == IKE_OK)
        b->err = e;
    return b->err;
}

static enum ike_err wr_status(struct ike_builder *b)
{
    if (b->err == IKE_OK && !wr_ok(&b->w))
        b->err = IKE_ERR_NOSPACE;
    return b->err;
}

/* Writes data of len bytes; NULL with len > 0 is an argument error. */
static void put_bytes(struct ike_builder *b, const uint8_t *p, size_t len)
{
    if (len && !p) {
        fail(b, IKE_ERR_ARG);
        return;
    }
    wr_bytes(&b->w, p, len);
}

static void put_zeros(struct ike_builder *b, size_t n)
{
    uint8_t *p = wr_reserve(&b->w, n);
    if (p && n)
        memset(p, 0, n);
}

void ike_build_init(struct ike_builder *b, void *buf, size_t cap, const struct ike_hdr *h)
{
    memset(b, 0, sizeof(*b));
    b->w = wr_init(buf, cap);
    b->sk_off = NO_OFF;
    b->next_off = NO_OFF;
    b->has_hdr = true;
    uint8_t major = h->major ? h->major : IKE_MAJOR_VERSION;
    wr_u64(&b->w, h->spi_i);
    wr_u64(&b->w, h->spi_r);
    b->next_off = b->w.len;
    wr_u8(&b->w, IKE_PL_NONE);
    wr_u8(&b->w, (uint8_t)(major << 4 | (h->minor & 0x0f)));
    wr_u8(&b->w, h->exchange);
    wr_u8(&b->w, h->flags);
    wr_u32(&b->w, h->msg_id);
    wr_u32(&b->w, 0);
    wr_status(b);
}

void ike_build_init_inner(struct ike_builder *b, void *buf, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->w = wr_init(buf, cap);
    b->sk_off = NO_OFF;
    b->next_off = NO_OFF;
}

size_t ike_build_finish(struct ike_builder *b)
{
    if (b->err != IKE_OK)
        return 0;
    if (b->sk_off != NO_OFF && !b->done) {
        fail(b, IKE_ERR_ARG); /* SK opened but never closed */
        return 0;
    }
    if (b->has_hdr)
        wr_patch_u32(&b->w, 24, (uint32_t)b->w.len);
    if (wr_status(b) != IKE_OK)
        return 0;
    return b->w.len;
}

/* Starts a payload: generic header with a zero length, chained to the
 * previous one. Returns its offset, or NO_OFF after an error. */
static size_t begin(struct ike_builder *b, uint8_t type, bool critical)
{
    if (b->err != IKE_OK)
        return NO_OFF;
    if (b->done) {
        fail(b, IKE_ERR_ARG);
        return NO_OFF;
    }
    size_t start = b->w.len;
    wr_u8(&b->w, IKE_PL_NONE);
    wr_u8(&b->w, critical ? IKE_PAYLOAD_CRITICAL : 0);
    wr_u16(&b->w, 0);
    if (wr_status(b) != IKE_OK)
        return NO_OFF;
    if (b->next_off != NO_OFF)
        b->w.p[b->next_off] = type;
    else if (b->first == IKE_PL_NONE)
        b->first = type;
    b->next_off = start;
    return start;
}

static enum ike_err end(struct ike_builder *b, size_t start)
{
    if (wr_status(b) != IKE_OK)
        return b->err;
    size_t len = b->w.len - start;
    if (len > UINT16_MAX)
        return fail(b, IKE_ERR_LENGTH);
    wr_patch_u16(&b->w, start + 2, (uint16_t)len);
    return wr_status(b);
}

static void put_sa_body(struct ike_builder *b, const struct ike_sa *sa)
{
    if (sa->n_proposals && !sa->proposals) {
        fail(b, IKE_ERR_ARG);
        return;
    }
    for (size_t i = 0; i < sa->n_proposals && b->err == IKE_OK; i++) {
        const struct ike_proposal *pr = &sa->proposals[i];
        if (pr->spi.len > UINT8_MAX || pr->n_transforms > UINT8_MAX ||
            (pr->n_transforms && !pr->transforms)) {
            fail(b, IKE_ERR_ARG);
            return;
        }
        size_t ps = b->w.len;
        wr_u8(&b->w, i + 1 == sa->n_proposals ? 0 : 2);
        wr_u8(&b->w, 0);
        wr_u16(&b->w, 0);
        wr_u8(&b->w, pr->num);
        wr_u8(&b->w, pr->protocol);
        wr_u8(&b->w, (uint8_t)pr->spi.len);
        wr_u8(&b->w, (uint8_t)pr->n_transforms);
        put_bytes(b, pr->spi.p, pr->spi.len);
        for (size_t j = 0; j < pr->n_transforms; j++) {
            const struct ike_transform *t = &pr->transforms[j];
            wr_u8(&b->w, j + 1 == pr->n_transforms ? 0 : 3);
            wr_u8(&b->w, 0);
            wr_u16(&b->w, t->key_len ? 12 : 8);
            wr_u8(&b->w, t->type);
            wr_u8(&b->w, 0);
            wr_u16(&b->w, t->id);
            if (t->key_len) {
                wr_u16(&b->w, IKE_ATTR_TV_BIT | IKE_ATTR_KEY_LENGTH);
                wr_u16(&b->w, t->key_len);
            }
        }
        if (wr_status(b) != IKE_OK)
            return;
        size_t plen = b->w.len - ps;
        if (plen > UINT16_MAX) {
            fail(b, IKE_ERR_LENGTH);
            return;
        }
        wr_patch_u16(&b->w, ps + 2, (uint16_t)plen);
    }
}

static void put_ts_body(struct ike_builder *b, const struct ike_ts_list *l)
{
    if (l->n_ts > UINT8_MAX || (l->n_ts && !l->ts)) {
        fail(b, IKE_ERR_ARG);
        return;
    }
    wr_u8(&b->w, (uint8_t)l->n_ts);
    put_zeros(b, 3);
    for (size_t i = 0; i < l->n_ts && b->err == IKE_OK; i++) {
        const struct ike_ts *ts = &l->ts[i];
        wr_u8(&b->w, ts->type);
        wr_u8(&b->w, ts->proto);
        if (ts->type == IKE_TS_IPV4_ADDR_RANGE || ts->type == IKE_TS_IPV6_ADDR_RANGE) {
            size_t alen = ts->type == IKE_TS_IPV4_ADDR_RANGE ? 4 : 16;
            if (ts->start.len != alen || ts->end.len != alen) {
                fail(b, IKE_ERR_ARG);
                return;
            }
            wr_u16(&b->w, (uint16_t)(8 + 2 * alen));
            wr_u16(&b->w, ts->start_port);
            wr_u16(&b->w, ts->end_port);
            put_bytes(b, ts->start.p, alen);
            put_bytes(b, ts->end.p, alen);
        } else {
            if (ts->other.len > UINT16_MAX - 4u) {
                fail(b, IKE_ERR_LENGTH);
                return;
            }
            wr_u16(&b->w, (uint16_t)(4 + ts->other.len));
            put_bytes(b, ts->other.p, ts->other.len);
        }
    }
}

static void put_cp_body(struct ike_builder *b, const struct ike_cp *cp)
{
    if (cp->n_attrs && !cp->attrs) {
        fail(b, IKE_ERR_ARG);
        return;
    }
    wr_u8(&b->w, cp->type);
    put_zeros(b, 3);
    for (size_t i = 0; i < cp->n_attrs && b->err == IKE_OK; i++) {
        const struct ike_cp_attr *a = &cp->attrs[i];
        if (a->value.len > UINT16_MAX) {
            fail(b, IKE_ERR_LENGTH);
            return;
        }
        wr_u16(&b->w, a->type & 0x7fff);
        wr_u16(&b->w, (uint16_t)a->value.len);
        put_bytes(b, a->value.p, a->value.len);
    }
}

static void put_eap_body(struct ike_builder *b, const struct ike_eap *e)
{
    if (e->packet.len) {
        /* Relayed as is, but only if its own length field agrees. */
        struct rd r = rd_init(e->packet.p, e->packet.len);
        rd_skip(&r, 2);
        if (!e->packet.p || rd_u16(&r) != e->packet.len || !rd_ok(&r)) {
            fail(b, IKE_ERR_ARG);
            return;
        }
        put_bytes(b, e->packet.p, e->packet.len);
        return;
    }
    bool typed = e->code == IKE_EAP_REQUEST || e->code == IKE_EAP_RESPONSE;
    size_t len = 4 + (typed ? 1 + e->data.len : 0);
    if (len > UINT16_MAX) {
        fail(b, IKE_ERR_LENGTH);
        return;
    }
    wr_u8(&b->w, e->code);
    wr_u8(&b->w, e->id);
    wr_u16(&b->w, (uint16_t)len);
    if (typed) {
        wr_u8(&b->w, e->type);
        put_bytes(b, e->data.p, e->data.len);
    }
}

enum ike_err ike_put_payload(struct ike_builder *b, const struct ike_payload *p)
{
    if (b->err == IKE_OK && (p->type == IKE_PL_SK || p->type == IKE_PL_SKF || p->type == 0))
        return fail(b, IKE_ERR_ARG); /* ike_sk_begin(), ike_put_sk(), ike_put_skf() */
    size_t start = begin(b, p->type, p->critical);
    if (start == NO_OFF)
        return b->err;
    const struct ike_data *d = NULL;
    switch (p->type) {
    case IKE_PL_SA:
        put_sa_body(b, &p->u.sa);
        break;
    case IKE_PL_KE:
        wr_u16(&b->w, p->u.ke.group);
        wr_u16(&b->w, 0);
        d = &p->u.ke.data;
        break;
    case IKE_PL_IDI:
    case IKE_PL_IDR:
        wr_u8(&b->w, p->u.id.type);
        put_zeros(b, 3);
        d = &p->u.id.data;
        break;
    case IKE_PL_CERT:
    case IKE_PL_CERTREQ:
        wr_u8(&b->w, p->u.cert.encoding);
        d = &p->u.cert.data;
        break;
    case IKE_PL_AUTH:
        wr_u8(&b->w, p->u.auth.method);
        put_zeros(b, 3);
        d = &p->u.auth.data;
        break;
    case IKE_PL_NONCE:
        d = &p->u.nonce;
        break;
    case IKE_PL_NOTIFY:
        if (p->u.notify.spi.len > UINT8_MAX)
            return fail(b, IKE_ERR_ARG);
        wr_u8(&b->w, p->u.notify.protocol);
        wr_u8(&b->w, (uint8_t)p->u.notify.spi.len);
        wr_u16(&b->w, p->u.notify.type);
        put_bytes(b, p->u.notify.spi.p, p->u.notify.spi.len);
        d = &p->u.notify.data;
        break;
    case IKE_PL_DELETE:
        if (p->u.del.spis.len != (size_t)p->u.del.spi_size * p->u.del.n_spis)
            return fail(b, IKE_ERR_ARG);
        wr_u8(&b->w, p->u.del.protocol);
        wr_u8(&b->w, p->u.del.spi_size);
        wr_u16(&b->w, p->u.del.n_spis);
        d = &p->u.del.spis;
        break;
    case IKE_PL_VENDOR:
        d = &p->u.vendor;
        break;
    case IKE_PL_TSI:
    case IKE_PL_TSR:
        put_ts_body(b, &p->u.ts);
        break;
    case IKE_PL_CP:
        put_cp_body(b, &p->u.cp);
        break;
    case IKE_PL_EAP:
        put_eap_body(b, &p->u.eap);
        break;
    default:
        d = &p->body;
        break;
    }
    if (d)
        put_bytes(b, d->p, d->len);
    return end(b, start);
}

enum ike_err ike_put_sa(struct ike_builder *b, const struct ike_proposal *props, size_t n)
{
    struct ike_payload p = {.type = IKE_PL_SA};
    p.u.sa.proposals = props;
    p.u.sa.n_proposals = n;
    return ike_put_payload(b, &p);
}

enum ike_err ike_put_ke(struct ike_builder *b, uint16_t group, const uint8_t *data, size_t len)
{
    struct ike_payload p = {.type = IKE_PL_KE};
    p.u.ke.group = group;
    p.u.ke.data.p = data;
    p.u.ke.data.len = len;
    return ike_put_payload(b, &p);
}

enum ike_err ike_put_id(struct ike_builder *b, uint8_t type, uint8_t id_type, const uint8_t *data,
                        size_t len)
{
    if (type != IKE_PL_IDI && type != IKE_PL_IDR)
        return fail(b, IKE_ERR_ARG);
    struct ike_payload p = {.type = type};
    p.u.id.type = id_type;
    p.u.id.data.p = data;
    p.u.id.data.len = len;
    return ike_put_payload(b, &p);
}

enum ike_err ike_put_cert(struct ike_builder *b, uint8_t type, uint8_t encoding,
                          const uint8_t *data, size_t len)
{
    if (type != IKE_PL_CERT && type != IKE_PL_CERTREQ)
        return fail(b, IKE_ERR_ARG);
    struct ike_payload p = {.type = type};
    p.u.cert.encoding = encoding;
    p.u.cert.data.p = data;
    p.u.cert.data.len = len;
    return ike_put_payload(b, &p);
}

enum ike_err ike_put_auth(struct ike_builder *b, uint8_t method, const uint8_t *data, size_t len)
{
    struct ike_payload p = {.type = IKE_PL_AUTH};
    p.u.auth.method = method;
    p.u.auth.data.p = data;
    p.u.auth.data.len = len;
    return ike_put_payload(b, &p);
}

enum ike_err ike_put_nonce(struct ike_builder *b, const uint8_t *data, size_t len)
{
    struct ike_payload p = {.type = IKE_PL_NONCE};
    p.u.nonce.p = data;
    p.u.nonce.len = len;
    return ike_put_payload(b, &p);
}

enum ike_err ike_put_notify(struct ike_builder *b, uint8_t protocol, uint16_t type,
                            const uint8_t *spi, size_t spi_len, const uint8_t *data, size_t len)
{
    struct ike_payload p = {.type = IKE_PL_NOTIFY};
    p.u.notify.protocol = protocol;
    p.u.notify.type = type;
    p.u.notify.spi.p = spi;
    p.u.notify.spi.len = spi_len;
    p.u.notify.data.p = data;
    p.u.notify.data.len = len;
    return ike_put_payload(b, &p);
}

enum ike_err ike_put_delete(struct ike_builder *b, uint8_t protocol, uint8_t spi_size,
                            const uint8_t *spis, uint16_t n_spis)
{
    struct ike_payload p = {.type = IKE_PL_DELETE};
    p.u.del.protocol = protocol;
    p.u.del.spi_size = spi_size;
    p.u.del.n_spis = n_spis;
    p.u.del.spis.p = spis;
    p.u.del.spis.len = (size_t)spi_size * n_spis;
    return ike_put_payload(b, &p);
}

enum ike_err ike_put_vendor(struct ike_builder *b, const uint8_t *data, size_t len)
{
    struct ike_payload p = {.type = IKE_PL_VENDOR};
    p.u.vendor.p = data;
    p.u.vendor.len = len;
    return ike_put_payload(b, &p);
}

enum ike_err ike_put_ts(struct ike_builder *b, uint8_t type, const struct ike_ts *ts, size_t n)
{
    if (type != IKE_PL_TSI && type != IKE_PL_TSR)
        return fail(b, IKE_ERR_ARG);
    struct ike_payload p = {.type = type};
    p.u.ts.ts = ts;
    p.u.ts.n_ts = n;
    return ike_put_payload(b, &p);
}

enum ike_err ike_put_cp(struct ike_builder *b, uint8_t cfg_type, const struct ike_cp_attr *attrs,
                        size_t n)
{
    struct ike_payload p = {.type = IKE_PL_CP};
    p.u.cp.type = cfg_type;
    p.u.cp.attrs = attrs;
    p.u.cp.n_attrs = n;
    return ike_put_payload(b, &p);
}

enum ike_err ike_put_eap(struct ike_builder *b, const uint8_t *packet, size_t len)
{
    if (len < 4)
        return fail(b, IKE_ERR_ARG);
    struct ike_payload p = {.type = IKE_PL_EAP};
    p.u.eap.packet.p = packet;
    p.u.eap.packet.len = len;
    return ike_put_payload(b, &p);
}

/* ---- SK and SKF ---- */

/* Pads the plaintext that starts at pt_off, reserves the ICV, patches the
 * encrypted payload's length and the message length, and fills r. */
static enum ike_err close_encrypted(struct ike_builder *b, size_t start, size_t aad_end,
                                    size_t iv_len, size_t block_len, size_t icv_len,
                                    struct ike_sk_region *r)
{
    if (wr_status(b) != IKE_OK)
        return b->err;
    size_t pt_off = aad_end + iv_len;
    size_t pt_len = b->w.len - pt_off;
    size_t pad = 0;
    if (block_len > 1)
        pad = (block_len - (pt_len + 1) % block_len) % block_len;
    if (pad > UINT8_MAX)
        return fail(b, IKE_ERR_ARG);
    put_zeros(b, pad);
    wr_u8(&b->w, (uint8_t)pad);
    size_t icv_off = b->w.len;
    put_zeros(b, icv_len);
    if (end(b, start) != IKE_OK)
        return b->err;
    b->done = true;
    if (!ike_build_finish(b))
        return b->err;
    if (r) {
        r->msg = b->w.p;
        r->msg_len = b->w.len;
        r->aad = b->w.p;
        r->aad_len = aad_end;
        r->iv = b->w.p + aad_end;
        r->iv_len = iv_len;
        r->plain = b->w.p + pt_off;
        r->plain_len = icv_off - pt_off;
        r->icv = b->w.p + icv_off;
        r->icv_len = icv_len;
    }
    return IKE_OK;
}

enum ike_err ike_sk_begin(struct ike_builder *b, size_t iv_len)
{
    if (b->err == IKE_OK && (!b->has_hdr || b->sk_off != NO_OFF))
        return fail(b, IKE_ERR_ARG);
    size_t start = begin(b, IKE_PL_SK, false);
    if (start == NO_OFF)
        return b->err;
    put_zeros(b, iv_len);
    b->sk_off = start;
    b->sk_iv_len = iv_len;
    /* begin() left next_off on the SK header: its next-payload field gets
     * the first inner payload's type. */
    return wr_status(b);
}

enum ike_err ike_sk_end(struct ike_builder *b, size_t block_len, size_t icv_len,
                        struct ike_sk_region *r)
{
    if (b->err == IKE_OK && (b->sk_off == NO_OFF || b->done))
        return fail(b, IKE_ERR_ARG);
    if (b->err != IKE_OK)
        return b->err;
    return close_encrypted(b, b->sk_off, b->sk_off + IKE_PAYLOAD_HDR_LEN, b->sk_iv_len, block_len,
                           icv_len, r);
}

enum ike_err ike_put_sk(struct ike_builder *b, uint8_t first, size_t iv_len, const uint8_t *inner,
                        size_t inner_len, size_t block_len, size_t icv_len, struct ike_sk_region *r)
{
    if (ike_sk_begin(b, iv_len) != IKE_OK)
        return b->err;
    put_bytes(b, inner, inner_len);
    if (wr_status(b) != IKE_OK)
        return b->err;
    b->w.p[b->sk_off] = inner_len ? first : IKE_PL_NONE;
    return ike_sk_end(b, block_len, icv_len, r);
}

enum ike_err ike_put_skf(struct ike_builder *b, uint8_t first, uint16_t number, uint16_t total,
                         size_t iv_len, const uint8_t *piece, size_t piece_len, size_t block_len,
                         size_t icv_len, struct ike_sk_region *r)
{
    if (b->err == IKE_OK &&
        (!b->has_hdr || b->sk_off != NO_OFF || number == 0 || total == 0 || number > total))
        return fail(b, IKE_ERR_ARG);
    size_t start = begin(b, IKE_PL_SKF, false);
    if (start == NO_OFF)
        return b->err;
    wr_u16(&b->w, number);
    wr_u16(&b->w, total);
    put_zeros(b, iv_len);
    put_bytes(b, piece, piece_len);
    if (wr_status(b) != IKE_OK)
        return b->err;
    b->w.p[start] = number == 1 ? first : IKE_PL_NONE;
    b->sk_off = start;
    b->sk_iv_len = iv_len;
    return close_encrypted(b, start, start + IKE_PAYLOAD_HDR_LEN + 4, iv_len, block_len, icv_len,
                           r);
}
