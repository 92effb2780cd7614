/*
 * Meaning checks, one per payload type: what a well-formed payload must also
 * satisfy before the engine acts on it (RFC 7296 section 3 and extensions).
 * A failure is a protocol error (INVALID_SYNTAX); a payload that is merely
 * unacceptable (an unknown transform, a selector we do not serve) passes
 * here and is refused by the engine with the specific notify.
 */
#include "concentrator/ike_codec.h"

#include <string.h>

#define BAD(s)                                                                                     \
    do {                                                                                           \
        *why = (s);                                                                                \
        return IKE_ERR_INVALID;                                                                    \
    } while (0)

size_t ike_ke_len(uint16_t group)
{
    switch (group) {
    case IKE_DH_MODP768:
        return 96;
    case IKE_DH_MODP1024:
    case IKE_DH_MODP1024_S160:
        return 128;
    case IKE_DH_MODP1536:
        return 192;
    case IKE_DH_MODP2048:
    case IKE_DH_MODP2048_S224:
    case IKE_DH_MODP2048_S256:
        return 256;
    case IKE_DH_MODP3072:
        return 384;
    case IKE_DH_MODP4096:
        return 512;
    case IKE_DH_MODP6144:
        return 768;
    case IKE_DH_MODP8192:
        return 1024;
    case IKE_DH_ECP192:
        return 48;
    case IKE_DH_ECP224:
    case IKE_DH_BRAINPOOL224:
        return 56;
    case IKE_DH_ECP256:
    case IKE_DH_BRAINPOOL256:
        return 64;
    case IKE_DH_ECP384:
    case IKE_DH_BRAINPOOL384:
        return 96;
    case IKE_DH_ECP521:
        return 132;
    case IKE_DH_BRAINPOOL512:
        return 128;
    case IKE_DH_CURVE25519:
        return 32;
    case IKE_DH_CURVE448:
        return 56;
    default:
        return 0; /* ML-KEM differs by direction; others unknown here */
    }
}

static enum ike_err verify_sa(const struct ike_sa *sa, const char **why)
{
    if (sa->n_proposals == 0)
        BAD("SA payload without proposals");
    for (size_t i = 0; i < sa->n_proposals; i++) {
        const struct ike_proposal *p = &sa->proposals[i];
        /* RFC 7296 3.3.1: the first is 1, each next one more. A response
         * carries the one chosen, with its number. */
        if (sa->n_proposals > 1 && p->num != i + 1)
            BAD("SA proposals not numbered 1, 2, 3, ...");
        if (p->num == 0)
            BAD("SA proposal number 0");
        switch (p->protocol) {
        case IKE_PROTO_IKE:
            /* 0 in IKE_SA_INIT, 8 when rekeying the IKE SA. */
            if (p->spi.len != 0 && p->spi.len != 8)
                BAD("IKE proposal SPI is neither 0 nor 8 bytes");
            break;
        case IKE_PROTO_AH:
        case IKE_PROTO_ESP:
            if (p->spi.len != 4)
                BAD("AH/ESP proposal SPI is not 4 bytes");
            break;
        default:
            BAD("SA proposal with an unknown protocol");
        }
        if (p->n_transforms == 0)
            BAD("SA proposal without transforms");
        for (size_t j = 0; j < p->n_transforms; j++) {
            const struct ike_transform *t = &p->transforms[j];
            if (t->key_len && (t->key_len % 8 != 0 || t->type != IKE_TT_ENCR))
                BAD("Key Length attribute not a whole number of bytes or not on ENCR");
        }
    }
    return IKE_OK;
}

static enum ike_err verify_id(const struct ike_id *id, const char **why)
{
    switch (id->type) {
    case IKE_ID_IPV4_ADDR:
        if (id->data.len != 4)
            BAD("ID_IPV4_ADDR is not 4 bytes");
        break;
    case IKE_ID_IPV6_ADDR:
        if (id->data.len != 16)
            BAD("ID_IPV6_ADDR is not 16 bytes");
        break;
    case IKE_ID_NULL:
        if (id->data.len != 0)
            BAD("ID_NULL with data");
        break;
    default:
        if (id->data.len == 0)
            BAD("empty identity");
        break;
    }
    return IKE_OK;
}

static enum ike_err verify_cert(uint8_t type, const struct ike_cert *c, const char **why)
{
    if (type == IKE_PL_CERTREQ) {
        /* A list of 20-byte SHA-1 hashes of CA public keys (may be empty). */
        if (c->encoding == IKE_CERT_X509_SIGNATURE && c->data.len % 20 != 0)
            BAD("CERTREQ X509 hash list not a multiple of 20 bytes");
        return IKE_OK;
    }
    if (c->data.len == 0)
        BAD("empty CERT");
    if ((c->encoding == IKE_CERT_HASH_URL_X509_CERT ||
         c->encoding == IKE_CERT_HASH_URL_X509_BUNDLE) &&
        c->data.len <= 20)
        BAD("Hash and URL CERT without a URL");
    return IKE_OK;
}

static enum ike_err verify_auth(const struct ike_auth *a, const char **why)
{
    if (a->data.len == 0)
        BAD("empty AUTH data");
    if (a->method == IKE_AUTH_DIGITAL_SIGNATURE) {
        /* RFC 7427 3: length octet, AlgorithmIdentifier, signature. */
        struct rd r = rd_init(a->data.p, a->data.len);
        uint8_t alen = rd_u8(&r);
        rd_skip(&r, alen);
        if (!rd_ok(&r) || alen == 0 || rd_left(&r) == 0)
            BAD("AUTH digital signature without AlgorithmIdentifier or signature");
    }
    return IKE_OK;
}

static enum ike_err verify_notify(const struct ike_notify *n, const char **why)
{
    size_t len = n->data.len;
    if (n->type == 0)
        BAD("Notify type 0");
    if (n->spi.len != 0) {
        bool child = n->protocol == IKE_PROTO_AH || n->protocol == IKE_PROTO_ESP;
        if (!(child && n->spi.len == 4) && !(n->protocol == IKE_PROTO_IKE && n->spi.len == 8))
            BAD("Notify SPI size does not fit its protocol");
    }
    switch (n->type) {
    case IKE_N_REKEY_SA:
        if (n->spi.len != 4)
            BAD("REKEY_SA without an AH/ESP SPI");
        break;
    case IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD:
        if (len != 1)
            BAD("UNSUPPORTED_CRITICAL_PAYLOAD data is not 1 byte");
        break;
    case IKE_N_INVALID_KE_PAYLOAD:
        if (len != 2)
            BAD("INVALID_KE_PAYLOAD data is not 2 bytes");
        break;
    case IKE_N_NAT_DETECTION_SOURCE_IP:
    case IKE_N_NAT_DETECTION_DESTINATION_IP:
        if (len != 20)
            BAD("NAT_DETECTION data is not a 20-byte SHA-1");
        break;
    case IKE_N_COOKIE:
        if (len < 1 || len > 64)
            BAD("COOKIE not 1 to 64 bytes");
        break;
    case IKE_N_COOKIE2:
        if (len < 8 || len > 64)
            BAD("COOKIE2 not 8 to 64 bytes");
        break;
    case IKE_N_SET_WINDOW_SIZE:
    case IKE_N_AUTH_LIFETIME:
        if (len != 4)
            BAD("SET_WINDOW_SIZE/AUTH_LIFETIME data is not 4 bytes");
        break;
    case IKE_N_ADDITIONAL_IP4_ADDRESS:
        if (len != 4)
            BAD("ADDITIONAL_IP4_ADDRESS is not 4 bytes");
        break;
    case IKE_N_ADDITIONAL_IP6_ADDRESS:
        if (len != 16)
            BAD("ADDITIONAL_IP6_ADDRESS is not 16 bytes");
        break;
    case IKE_N_SIGNATURE_HASH_ALGORITHMS:
        if (len == 0 || len % 2 != 0)
            BAD("SIGNATURE_HASH_ALGORITHMS not a list of 2-byte values");
        break;
    case IKE_N_IKEV2_MESSAGE_ID_SYNC:
        if (len != 12)
            BAD("IKEV2_MESSAGE_ID_SYNC data is not 12 bytes");
        break;
    case IKE_N_REDIRECT:
    case IKE_N_REDIRECTED_FROM: {
        struct ike_redirect r;
        if (ike_notify_redirect(n, &r) != IKE_OK)
            BAD("REDIRECT gateway identity malformed");
        if (n->type == IKE_N_REDIRECTED_FROM && r.nonce.len != 0)
            BAD("REDIRECTED_FROM with trailing data");
        if (n->type == IKE_N_REDIRECT && r.nonce.len != 0 &&
            (r.nonce.len < 16 || r.nonce.len > 256))
            BAD("REDIRECT nonce not 16 to 256 bytes");
        break;
    }
    default:
        break;
    }
    return IKE_OK;
}

static enum ike_err verify_delete(const struct ike_delete *d, const char **why)
{
    if (d->spis.len != (size_t)d->spi_size * d->n_spis)
        BAD("Delete SPI list length disagrees with its count");
    switch (d->protocol) {
    case IKE_PROTO_IKE:
        if (d->spi_size != 0 || d->n_spis != 0)
            BAD("Delete of the IKE SA with SPIs");
        break;
    case IKE_PROTO_AH:
    case IKE_PROTO_ESP:
        if (d->spi_size != 4)
            BAD("Delete of AH/ESP with an SPI size other than 4");
        if (d->n_spis == 0)
            BAD("Delete of AH/ESP without SPIs");
        break;
    default:
        BAD("Delete with an unknown protocol");
    }
    return IKE_OK;
}

static enum ike_err verify_ts(const struct ike_ts_list *l, const char **why)
{
    if (l->n_ts == 0)
        BAD("TS payload without selectors");
    for (size_t i = 0; i < l->n_ts; i++) {
        const struct ike_ts *ts = &l->ts[i];
        size_t alen;
        switch (ts->type) {
        case IKE_TS_IPV4_ADDR_RANGE:
            alen = 4;
            break;
        case IKE_TS_IPV6_ADDR_RANGE:
            alen = 16;
            break;
        case IKE_TS_SECLABEL:
            if (ts->other.len == 0)
                BAD("empty TS_SECLABEL");
            continue;
        default:
            continue; /* not ours to judge: the engine answers TS_UNACCEPTABLE */
        }
        if (ts->start.len != alen || ts->end.len != alen || !ts->start.p || !ts->end.p)
            BAD("TS address length does not fit the TS type");
        /* RFC 7296 3.13.1: start 65535 and end 0 mean OPAQUE ports. */
        bool opaque = ts->start_port == 65535 && ts->end_port == 0;
        if (ts->start_port > ts->end_port && !opaque)
            BAD("TS start port above end port");
        if (memcmp(ts->start.p, ts->end.p, alen) > 0)
            BAD("TS start address above end address");
    }
    return IKE_OK;
}

static enum ike_err verify_cp(const struct ike_cp *cp, const char **why)
{
    if (cp->type < IKE_CFG_REQUEST || cp->type > IKE_CFG_ACK)
        BAD("CP with an unknown configuration type");
    for (size_t i = 0; i < cp->n_attrs; i++) {
        const struct ike_cp_attr *a = &cp->attrs[i];
        size_t len = a->value.len, want = 0;
        switch (a->type) {
        case IKE_CFG_INTERNAL_IP4_ADDRESS:
        case IKE_CFG_INTERNAL_IP4_NETMASK:
        case IKE_CFG_INTERNAL_IP4_DNS:
        case IKE_CFG_INTERNAL_IP4_NBNS:
        case IKE_CFG_INTERNAL_IP4_DHCP:
        case IKE_CFG_P_CSCF_IP4_ADDRESS:
            want = 4;
            break;
        case IKE_CFG_INTERNAL_IP6_DNS:
        case IKE_CFG_INTERNAL_IP6_DHCP:
        case IKE_CFG_P_CSCF_IP6_ADDRESS:
            want = 16;
            break;
        case IKE_CFG_INTERNAL_IP6_ADDRESS:
        case IKE_CFG_INTERNAL_IP6_SUBNET:
            want = 17;
            break;
        case IKE_CFG_INTERNAL_IP4_SUBNET:
            want = 8;
            break;
        case IKE_CFG_SUPPORTED_ATTRIBUTES:
            if (len % 2 != 0)
                BAD("SUPPORTED_ATTRIBUTES not a list of 2-byte values");
            break;
        default:
            break;
        }
        /* Empty in a request ("give me one"), the full value otherwise. */
        if (want && len != 0 && len != want)
            BAD("CP attribute value has the wrong length for its type");
    }
    return IKE_OK;
}

static enum ike_err verify_eap(const struct ike_eap *e, const char **why)
{
    if (e->length != e->packet.len)
        BAD("EAP length disagrees with the payload");
    switch (e->code) {
    case IKE_EAP_REQUEST:
    case IKE_EAP_RESPONSE:
        if (e->length < 5)
            BAD("EAP Request/Response without a type");
        break;
    case IKE_EAP_SUCCESS:
    case IKE_EAP_FAILURE:
        if (e->length != 4)
            BAD("EAP Success/Failure with data");
        break;
    default:
        BAD("EAP with an unknown code");
    }
    return IKE_OK;
}

enum ike_err ike_verify_payload(const struct ike_payload *p, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    switch (p->type) {
    case IKE_PL_SA:
        return verify_sa(&p->u.sa, why);
    case IKE_PL_KE: {
        if (p->u.ke.group == IKE_DH_NONE)
            BAD("KE for group 0");
        if (p->u.ke.data.len == 0)
            BAD("KE without data");
        size_t want = ike_ke_len(p->u.ke.group);
        if (want && p->u.ke.data.len != want)
            BAD("KE data length does not match its group");
        return IKE_OK;
    }
    case IKE_PL_IDI:
    case IKE_PL_IDR:
        return verify_id(&p->u.id, why);
    case IKE_PL_CERT:
    case IKE_PL_CERTREQ:
        return verify_cert(p->type, &p->u.cert, why);
    case IKE_PL_AUTH:
        return verify_auth(&p->u.auth, why);
    case IKE_PL_NONCE:
        /* RFC 7296 3.9 */
        if (p->u.nonce.len < 16 || p->u.nonce.len > 256)
            BAD("nonce not 16 to 256 bytes");
        return IKE_OK;
    case IKE_PL_NOTIFY:
        return verify_notify(&p->u.notify, why);
    case IKE_PL_DELETE:
        return verify_delete(&p->u.del, why);
    case IKE_PL_VENDOR:
        if (p->u.vendor.len == 0)
            BAD("empty Vendor ID");
        return IKE_OK;
    case IKE_PL_TSI:
    case IKE_PL_TSR:
        return verify_ts(&p->u.ts, why);
    case IKE_PL_SK:
        if (p->u.sk.data.len == 0)
            BAD("empty Encrypted payload");
        return IKE_OK;
    case IKE_PL_CP:
        return verify_cp(&p->u.cp, why);
    case IKE_PL_EAP:
        return verify_eap(&p->u.eap, why);
    case IKE_PL_SKF: {
        const struct ike_skf *f = &p->u.skf;
        /* RFC 7383 2.5 */
        if (f->number == 0 || f->total == 0 || f->number > f->total)
            BAD("SKF fragment number outside 1..total");
        if (f->number != 1 && f->first != IKE_PL_NONE)
            BAD("SKF next payload set in a fragment other than the first");
        if (f->data.len == 0)
            BAD("empty Encrypted Fragment payload");
        return IKE_OK;
    }
    default:
        return IKE_OK;
    }
}

enum ike_err ike_verify_msg(const struct ike_msg *m, size_t *bad, const char **why)
{
    for (size_t i = 0; i < m->n_pl; i++) {
        enum ike_err e = ike_verify_payload(&m->pl[i], why);
        if (e != IKE_OK) {
            if (bad)
                *bad = i;
            return e;
        }
    }
    return IKE_OK;
}
