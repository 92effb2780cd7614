/*
 * IKEv2 decoding: the header, the payload chain and each payload body, all
 * through wire.h's reader. Structure only; meaning is ike_codec_verify.c.
 */
#include "concentrator/ike_codec.h"

#include <string.h>

const char *ike_err_name(enum ike_err e)
{
    switch (e) {
    case IKE_OK:
        return "ok";
    case IKE_ERR_TRUNCATED:
        return "truncated";
    case IKE_ERR_LENGTH:
        return "bad length";
    case IKE_ERR_VERSION:
        return "unsupported major version";
    case IKE_ERR_TOO_MANY:
        return "too many elements";
    case IKE_ERR_CRITICAL:
        return "unsupported critical payload";
    case IKE_ERR_SYNTAX:
        return "malformed payload";
    case IKE_ERR_INVALID:
        return "invalid payload contents";
    case IKE_ERR_NOSPACE:
        return "no space";
    case IKE_ERR_ARG:
        return "bad argument";
    }
    return "unknown error";
}

static bool known_type(uint8_t t)
{
    return (t >= IKE_PL_SA && t <= IKE_PL_EAP) || t == IKE_PL_SKF;
}

enum ike_err ike_decode_header(const uint8_t *buf, size_t len, struct ike_hdr *h)
{
    struct rd r = rd_init(buf, len);
    memset(h, 0, sizeof(*h));
    h->spi_i = rd_u64(&r);
    h->spi_r = rd_u64(&r);
    h->next = rd_u8(&r);
    uint8_t ver = rd_u8(&r);
    h->major = ver >> 4;
    h->minor = ver & 0x0f;
    h->exchange = rd_u8(&r);
    h->flags = rd_u8(&r);
    h->msg_id = rd_u32(&r);
    h->length = rd_u32(&r);
    if (!rd_ok(&r))
        return IKE_ERR_TRUNCATED;
    if (h->major != IKE_MAJOR_VERSION)
        return IKE_ERR_VERSION;
    if (h->length < IKE_HDR_LEN)
        return IKE_ERR_LENGTH;
    if (h->length > len)
        return IKE_ERR_TRUNCATED;
    if (h->length < len)
        return IKE_ERR_LENGTH;
    return IKE_OK;
}

static enum ike_err decode_transform(struct rd *r, struct ike_msg *m)
{
    uint8_t last = rd_u8(r);
    rd_u8(r);
    uint16_t tlen = rd_u16(r);
    if (!rd_ok(r))
        return IKE_ERR_LENGTH;
    if (tlen < 8)
        return IKE_ERR_LENGTH;
    struct rd t = rd_sub(r, tlen - 4u);
    if (!rd_ok(r))
        return IKE_ERR_LENGTH;
    bool is_last = rd_left(r) == 0;
    if (m->n_transforms >= IKE_MAX_TRANSFORMS)
        return IKE_ERR_TOO_MANY;
    struct ike_transform *tr = &m->transforms[m->n_transforms];
    memset(tr, 0, sizeof(*tr));
    tr->type = rd_u8(&t);
    rd_u8(&t);
    tr->id = rd_u16(&t);
    while (rd_ok(&t) && rd_left(&t) > 0) {
        uint16_t at = rd_u16(&t);
        uint16_t av = rd_u16(&t);
        if (!(at & IKE_ATTR_TV_BIT))
            rd_skip(&t, av);
        if (!rd_ok(&t))
            return IKE_ERR_LENGTH;
        if (at == (IKE_ATTR_TV_BIT | IKE_ATTR_KEY_LENGTH) && tr->key_len == 0 && av != 0)
            tr->key_len = av;
        else if (tr->unknown_attrs < UINT8_MAX)
            tr->unknown_attrs++;
    }
    if (!rd_ok(&t))
        return IKE_ERR_LENGTH;
    /* RFC 7296 3.3.2: 0 (last) or 3 (more). */
    if (last != (is_last ? 0 : 3))
        return IKE_ERR_SYNTAX;
    m->n_transforms++;
    return IKE_OK;
}

static enum ike_err decode_sa(struct rd *r, struct ike_payload *p, struct ike_msg *m)
{
    size_t first = m->n_proposals;
    while (rd_ok(r) && rd_left(r) > 0) {
        uint8_t last = rd_u8(r);
        rd_u8(r);
        uint16_t plen = rd_u16(r);
        if (!rd_ok(r))
            return IKE_ERR_LENGTH;
        if (plen < 8)
            return IKE_ERR_LENGTH;
        struct rd pr = rd_sub(r, plen - 4u);
        if (!rd_ok(r))
            return IKE_ERR_LENGTH;
        /* RFC 7296 3.3.1: 0 (last) or 2 (more). */
        if (last != (rd_left(r) == 0 ? 0 : 2))
            return IKE_ERR_SYNTAX;
        if (m->n_proposals >= IKE_MAX_PROPOSALS)
            return IKE_ERR_TOO_MANY;
        struct ike_proposal *prop = &m->proposals[m->n_proposals];
        memset(prop, 0, sizeof(*prop));
        prop->num = rd_u8(&pr);
        prop->protocol = rd_u8(&pr);
        uint8_t spi_size = rd_u8(&pr);
        uint8_t n_tr = rd_u8(&pr);
        prop->spi.p = rd_bytes(&pr, spi_size);
        prop->spi.len = spi_size;
        if (!rd_ok(&pr))
            return IKE_ERR_LENGTH;
        prop->transforms = &m->transforms[m->n_transforms];
        size_t tr_first = m->n_transforms;
        while (rd_left(&pr) > 0) {
            enum ike_err e = decode_transform(&pr, m);
            if (e != IKE_OK)
                return e;
        }
        prop->n_transforms = m->n_transforms - tr_first;
        if (prop->n_transforms != n_tr)
            return IKE_ERR_SYNTAX;
        m->n_proposals++;
    }
    if (!rd_ok(r))
        return IKE_ERR_LENGTH;
    p->u.sa.proposals = &m->proposals[first];
    p->u.sa.n_proposals = m->n_proposals - first;
    return IKE_OK;
}

static enum ike_err decode_ts(struct rd *r, struct ike_payload *p, struct ike_msg *m)
{
    uint8_t n = rd_u8(r);
    rd_skip(r, 3);
    if (!rd_ok(r))
        return IKE_ERR_LENGTH;
    size_t first = m->n_ts;
    for (unsigned i = 0; i < n; i++) {
        uint8_t type = rd_u8(r);
        uint8_t proto = rd_u8(r);
        uint16_t slen = rd_u16(r);
        if (!rd_ok(r))
            return IKE_ERR_LENGTH;
        if (slen < 4)
            return IKE_ERR_LENGTH;
        struct rd s = rd_sub(r, slen - 4u);
        if (!rd_ok(r))
            return IKE_ERR_LENGTH;
        if (m->n_ts >= IKE_MAX_TS)
            return IKE_ERR_TOO_MANY;
        struct ike_ts *ts = &m->ts[m->n_ts];
        memset(ts, 0, sizeof(*ts));
        ts->type = type;
        ts->proto = proto;
        if (type == IKE_TS_IPV4_ADDR_RANGE || type == IKE_TS_IPV6_ADDR_RANGE) {
            size_t alen = type == IKE_TS_IPV4_ADDR_RANGE ? 4 : 16;
            if (rd_left(&s) != 4 + 2 * alen)
                return IKE_ERR_LENGTH;
            ts->start_port = rd_u16(&s);
            ts->end_port = rd_u16(&s);
            ts->start.p = rd_bytes(&s, alen);
            ts->start.len = alen;
            ts->end.p = rd_bytes(&s, alen);
            ts->end.len = alen;
        } else {
            ts->other.p = rd_rest(&s, &ts->other.len);
        }
        m->n_ts++;
    }
    if (rd_left(r) != 0)
        return IKE_ERR_SYNTAX; /* bytes after the last selector */
    p->u.ts.ts = &m->ts[first];
    p->u.ts.n_ts = m->n_ts - first;
    return IKE_OK;
}

static enum ike_err decode_cp(struct rd *r, struct ike_payload *p, struct ike_msg *m)
{
    p->u.cp.type = rd_u8(r);
    rd_skip(r, 3);
    if (!rd_ok(r))
        return IKE_ERR_LENGTH;
    size_t first = m->n_cp_attrs;
    while (rd_left(r) > 0) {
        uint16_t type = rd_u16(r);
        uint16_t len = rd_u16(r);
        const uint8_t *v = rd_bytes(r, len);
        if (!rd_ok(r))
            return IKE_ERR_LENGTH;
        if (m->n_cp_attrs >= IKE_MAX_CP_ATTRS)
            return IKE_ERR_TOO_MANY;
        struct ike_cp_attr *a = &m->cp_attrs[m->n_cp_attrs++];
        a->type = type & 0x7fff;
        a->value.p = v;
        a->value.len = len;
    }
    p->u.cp.attrs = &m->cp_attrs[first];
    p->u.cp.n_attrs = m->n_cp_attrs - first;
    return IKE_OK;
}

static enum ike_err decode_eap(struct rd *r, struct ike_payload *p)
{
    struct ike_eap *e = &p->u.eap;
    e->packet.p = r->p;
    e->packet.len = rd_left(r);
    e->code = rd_u8(r);
    e->id = rd_u8(r);
    e->length = rd_u16(r);
    if (!rd_ok(r))
        return IKE_ERR_LENGTH;
    /* The EAP length must match the payload: the packet is relayed as is. */
    if (e->length != e->packet.len)
        return IKE_ERR_LENGTH;
    if ((e->code == IKE_EAP_REQUEST || e->code == IKE_EAP_RESPONSE) && rd_left(r) > 0) {
        e->type = rd_u8(r);
        e->data.p = rd_rest(r, &e->data.len);
    }
    return IKE_OK;
}

/* Body of one known payload; r covers exactly the body. */
static enum ike_err decode_body(struct rd *r, struct ike_payload *p, uint8_t nn, struct ike_msg *m)
{
    switch (p->type) {
    case IKE_PL_SA:
        return decode_sa(r, p, m);
    case IKE_PL_KE:
        p->u.ke.group = rd_u16(r);
        rd_skip(r, 2);
        p->u.ke.data.p = rd_rest(r, &p->u.ke.data.len);
        break;
    case IKE_PL_IDI:
    case IKE_PL_IDR:
        p->u.id.type = rd_u8(r);
        rd_skip(r, 3);
        p->u.id.data.p = rd_rest(r, &p->u.id.data.len);
        break;
    case IKE_PL_CERT:
    case IKE_PL_CERTREQ:
        p->u.cert.encoding = rd_u8(r);
        p->u.cert.data.p = rd_rest(r, &p->u.cert.data.len);
        break;
    case IKE_PL_AUTH:
        p->u.auth.method = rd_u8(r);
        rd_skip(r, 3);
        p->u.auth.data.p = rd_rest(r, &p->u.auth.data.len);
        break;
    case IKE_PL_NONCE:
        p->u.nonce.p = rd_rest(r, &p->u.nonce.len);
        break;
    case IKE_PL_NOTIFY: {
        p->u.notify.protocol = rd_u8(r);
        uint8_t spi_size = rd_u8(r);
        p->u.notify.type = rd_u16(r);
        p->u.notify.spi.p = rd_bytes(r, spi_size);
        p->u.notify.spi.len = spi_size;
        p->u.notify.data.p = rd_rest(r, &p->u.notify.data.len);
        break;
    }
    case IKE_PL_DELETE:
        p->u.del.protocol = rd_u8(r);
        p->u.del.spi_size = rd_u8(r);
        p->u.del.n_spis = rd_u16(r);
        if (!rd_ok(r))
            return IKE_ERR_LENGTH;
        if (rd_left(r) != (size_t)p->u.del.spi_size * p->u.del.n_spis)
            return IKE_ERR_LENGTH;
        p->u.del.spis.p = rd_rest(r, &p->u.del.spis.len);
        break;
    case IKE_PL_VENDOR:
        p->u.vendor.p = rd_rest(r, &p->u.vendor.len);
        break;
    case IKE_PL_TSI:
    case IKE_PL_TSR:
        return decode_ts(r, p, m);
    case IKE_PL_SK:
        p->u.sk.first = nn;
        p->u.sk.data.p = rd_rest(r, &p->u.sk.data.len);
        break;
    case IKE_PL_CP:
        return decode_cp(r, p, m);
    case IKE_PL_EAP:
        return decode_eap(r, p);
    case IKE_PL_SKF:
        p->u.skf.first = nn;
        p->u.skf.number = rd_u16(r);
        p->u.skf.total = rd_u16(r);
        p->u.skf.data.p = rd_rest(r, &p->u.skf.data.len);
        break;
    default:
        return IKE_ERR_SYNTAX;
    }
    /* rd_rest() of an empty body gives NULL with length 0: fine. */
    return rd_ok(r) ? IKE_OK : IKE_ERR_LENGTH;
}

static enum ike_err decode_chain(struct rd *r, const uint8_t *base, uint8_t next, bool inner,
                                 struct ike_msg *m)
{
    while (next != IKE_PL_NONE) {
        m->err_type = next;
        m->err_offset = (size_t)(r->p - base);
        const uint8_t *hdr = r->p;
        uint8_t nn = rd_u8(r);
        uint8_t flags = rd_u8(r);
        uint16_t plen = rd_u16(r);
        if (!rd_ok(r))
            return IKE_ERR_TRUNCATED;
        if (plen < IKE_PAYLOAD_HDR_LEN)
            return IKE_ERR_LENGTH;
        struct rd body = rd_sub(r, plen - 4u);
        if (!rd_ok(r))
            return IKE_ERR_TRUNCATED;
        bool critical = (flags & IKE_PAYLOAD_CRITICAL) != 0;
        if (!known_type(next)) {
            /* RFC 7296 2.5: skip unknown payloads unless critical. */
            if (critical) {
                m->unsupported_critical = next;
                return IKE_ERR_CRITICAL;
            }
            if (++m->n_skipped > IKE_MAX_PAYLOADS)
                return IKE_ERR_TOO_MANY;
            next = nn;
            continue;
        }
        if (inner && (next == IKE_PL_SK || next == IKE_PL_SKF))
            return IKE_ERR_SYNTAX;
        if (m->n_pl >= IKE_MAX_PAYLOADS)
            return IKE_ERR_TOO_MANY;
        struct ike_payload *p = &m->pl[m->n_pl];
        memset(p, 0, sizeof(*p));
        p->type = next;
        p->next = nn;
        p->critical = critical;
        p->hdr = hdr;
        p->body.p = body.p;
        p->body.len = rd_left(&body);
        enum ike_err e = decode_body(&body, p, nn, m);
        if (e != IKE_OK)
            return e;
        m->n_pl++;
        if (next == IKE_PL_SK || next == IKE_PL_SKF) {
            /* RFC 7296 3.14, RFC 7383 2.5: it must be the last payload; its
             * next-payload field names the first inner payload. */
            if (rd_left(r) != 0)
                return IKE_ERR_SYNTAX;
            return IKE_OK;
        }
        next = nn;
    }
    if (rd_left(r) != 0)
        return IKE_ERR_LENGTH; /* bytes after the last payload */
    return IKE_OK;
}

static void msg_reset(struct ike_msg *m)
{
    memset(&m->hdr, 0, sizeof(m->hdr));
    m->has_hdr = false;
    m->raw.p = NULL;
    m->raw.len = 0;
    m->n_pl = 0;
    m->n_skipped = 0;
    m->unsupported_critical = 0;
    m->err_type = 0;
    m->err_offset = 0;
    m->n_proposals = 0;
    m->n_transforms = 0;
    m->n_ts = 0;
    m->n_cp_attrs = 0;
}

enum ike_err ike_decode(const uint8_t *buf, size_t len, struct ike_msg *msg)
{
    msg_reset(msg);
    enum ike_err e = ike_decode_header(buf, len, &msg->hdr);
    if (e != IKE_OK)
        return e;
    msg->has_hdr = true;
    msg->raw.p = buf;
    msg->raw.len = len;
    struct rd r = rd_init(buf, len);
    rd_skip(&r, IKE_HDR_LEN);
    return decode_chain(&r, buf, msg->hdr.next, false, msg);
}

enum ike_err ike_decode_inner(const uint8_t *buf, size_t len, uint8_t first, struct ike_msg *inner)
{
    msg_reset(inner);
    inner->raw.p = buf;
    inner->raw.len = len;
    struct rd r = rd_init(buf, len);
    return decode_chain(&r, buf, first, true, inner);
}

enum ike_err ike_sk_unpad(const uint8_t *pt, size_t len, size_t *payload_len)
{
    *payload_len = 0;
    if (len == 0 || !pt)
        return IKE_ERR_TRUNCATED;
    size_t pad = pt[len - 1];
    if (pad + 1 > len)
        return IKE_ERR_LENGTH;
    *payload_len = len - pad - 1;
    return IKE_OK;
}

const struct ike_payload *ike_msg_find(const struct ike_msg *m, uint8_t type, size_t *from)
{
    size_t i = from ? *from : 0;
    for (; i < m->n_pl; i++) {
        if (m->pl[i].type == type) {
            if (from)
                *from = i + 1;
            return &m->pl[i];
        }
    }
    if (from)
        *from = m->n_pl;
    return NULL;
}

const struct ike_notify *ike_msg_find_notify(const struct ike_msg *m, uint16_t type)
{
    for (size_t i = 0; i < m->n_pl; i++)
        if (m->pl[i].type == IKE_PL_NOTIFY && m->pl[i].u.notify.type == type)
            return &m->pl[i].u.notify;
    return NULL;
}

size_t ike_msg_count(const struct ike_msg *m, uint8_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_pl; i++)
        n += m->pl[i].type == type;
    return n;
}

const struct ike_payload *ike_msg_encrypted(const struct ike_msg *m)
{
    for (size_t i = 0; i < m->n_pl; i++)
        if (m->pl[i].type == IKE_PL_SK || m->pl[i].type == IKE_PL_SKF)
            return &m->pl[i];
    return NULL;
}

enum ike_err ike_notify_hash_algs(const struct ike_notify *n, uint16_t *out, size_t max,
                                  size_t *count)
{
    *count = 0;
    if (n->data.len % 2 != 0)
        return IKE_ERR_SYNTAX;
    struct rd r = rd_init(n->data.p, n->data.len);
    while (rd_left(&r) >= 2) {
        uint16_t v = rd_u16(&r);
        if (*count < max && out)
            out[*count] = v;
        (*count)++;
    }
    return IKE_OK;
}

static size_t gw_len_for(uint8_t type)
{
    switch (type) {
    case IKE_GW_IPV4:
        return 4;
    case IKE_GW_IPV6:
        return 16;
    default:
        return 0; /* FQDN: any non-zero */
    }
}

enum ike_err ike_notify_redirect(const struct ike_notify *n, struct ike_redirect *rd_out)
{
    memset(rd_out, 0, sizeof(*rd_out));
    struct rd r = rd_init(n->data.p, n->data.len);
    rd_out->gw_type = rd_u8(&r);
    uint8_t glen = rd_u8(&r);
    rd_out->gw.p = rd_bytes(&r, glen);
    rd_out->gw.len = glen;
    if (!rd_ok(&r) || glen == 0)
        return IKE_ERR_SYNTAX;
    size_t want = gw_len_for(rd_out->gw_type);
    if (rd_out->gw_type < IKE_GW_IPV4 || rd_out->gw_type > IKE_GW_FQDN || (want && glen != want))
        return IKE_ERR_SYNTAX;
    rd_out->nonce.p = rd_rest(&r, &rd_out->nonce.len);
    return IKE_OK;
}

size_t ike_redirect_encode(uint8_t *out, size_t cap, uint8_t gw_type, const uint8_t *gw,
                           size_t gw_len, const uint8_t *nonce, size_t nonce_len)
{
    size_t want = gw_len_for(gw_type);
    if (gw_type < IKE_GW_IPV4 || gw_type > IKE_GW_FQDN || gw_len == 0 || gw_len > 255 ||
        (want && gw_len != want) || (nonce_len && !nonce))
        return 0;
    struct wr w = wr_init(out, cap);
    wr_u8(&w, gw_type);
    wr_u8(&w, (uint8_t)gw_len);
    wr_bytes(&w, gw, gw_len);
    if (nonce_len)
        wr_bytes(&w, nonce, nonce_len);
    return wr_ok(&w) ? w.len : 0;
}

enum ike_err ike_notify_u16(const struct ike_notify *n, uint16_t *v)
{
    struct rd r = rd_init(n->data.p, n->data.len);
    *v = rd_u16(&r);
    return rd_ok(&r) && rd_left(&r) == 0 ? IKE_OK : IKE_ERR_SYNTAX;
}

enum ike_err ike_notify_u32(const struct ike_notify *n, uint32_t *v)
{
    struct rd r = rd_init(n->data.p, n->data.len);
    *v = rd_u32(&r);
    return rd_ok(&r) && rd_left(&r) == 0 ? IKE_OK : IKE_ERR_SYNTAX;
}
