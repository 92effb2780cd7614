/* MOBIKE, responder side (RFC 4555): the client announces MOBIKE_SUPPORTED
 * in IKE_AUTH and we answer it; later it moves the IKE SA and its CHILD_SAs
 * to a new address with an INFORMATIONAL carrying UPDATE_SA_ADDRESSES, NAT
 * detection (redone for the new path) and COOKIE2 (echoed: its return
 * routability check). Without that authenticated update, nothing moves: not
 * the IKE SA (ike_mobike_may_follow) and not the data plane, whose SAs
 * accept ESP only from the address they were given (esp_endpoint.pin_remote). */
#define _GNU_SOURCE
#include <string.h>

#include "concentrator/ike_auth_calc.h"
#include "concentrator/ike_engine.h"
#include "concentrator/ike_names.h"

void ike_mobike_auth_request(struct ikesa *sa, const struct ike_msg *in)
{
    sa->mobike = ike_msg_find_notify(in, IKE_N_MOBIKE_SUPPORTED) != NULL;
}

void ike_mobike_put_supported(struct ikesa *sa, struct ike_builder *b)
{
    if (sa->mobike)
        ike_put_notify(b, IKE_PROTO_NONE, IKE_N_MOBIKE_SUPPORTED, NULL, 0, NULL, 0);
}

bool ike_mobike_may_follow(const struct ikesa *sa, const struct ike_path *path)
{
    if (!sa->mobike || sa->state != IKESA_ESTABLISHED)
        return true;
    /* A NAT that gave the client a new port keeps its address: followed,
     * as without MOBIKE (RFC 4555 3.5 leaves port changes behind a NAT to
     * RFC 7296 2.23). A new address waits for UPDATE_SA_ADDRESSES. */
    return (sa->nat_peer || sa->nat_local) && ike_addr_equal(&sa->path.peer, &path->peer, false);
}

static void natd(const struct ikesa *sa, const struct sockaddr_storage *ss,
                 uint8_t out[IKE_NATD_LEN])
{
    uint8_t a[8], b[8];
    struct wr w1 = wr_init(a, 8), w2 = wr_init(b, 8);
    wr_u64(&w1, sa->we_initiator ? sa->spi_r : sa->spi_i); /* header order */
    wr_u64(&w2, sa->we_initiator ? sa->spi_i : sa->spi_r);
    ike_natd_hash(a, b, (const struct sockaddr *)ss, out);
}

/* RFC 7296 2.23 for the path the update came along: is the client behind
 * a NAT (none of its source hashes matches what we see), are we (its
 * destination hash does not match our address). */
static void redo_nat_detection(struct ikesa *sa, const struct ike_msg *in, bool *peer, bool *local)
{
    uint8_t h[IKE_NATD_LEN];
    natd(sa, &sa->rx_path.peer, h);
    *peer = true;
    for (size_t from = 0;;) {
        const struct ike_payload *p = ike_msg_find(in, IKE_PL_NOTIFY, &from);
        if (!p)
            break;
        if (p->u.notify.type == IKE_N_NAT_DETECTION_SOURCE_IP &&
            p->u.notify.data.len == IKE_NATD_LEN &&
            memcmp(p->u.notify.data.p, h, IKE_NATD_LEN) == 0)
            *peer = false;
    }
    const struct ike_notify *dst = ike_msg_find_notify(in, IKE_N_NAT_DETECTION_DESTINATION_IP);
    natd(sa, &sa->rx_path.local, h);
    *local = !dst || dst->data.len != IKE_NATD_LEN || memcmp(dst->data.p, h, IKE_NATD_LEN) != 0;
}

static void update_addresses(struct ikesa *sa, const struct ike_msg *in, struct ike_builder *b)
{
    const struct ike_notify *src = ike_msg_find_notify(in, IKE_N_NAT_DETECTION_SOURCE_IP);
    const struct ike_notify *dst = ike_msg_find_notify(in, IKE_N_NAT_DETECTION_DESTINATION_IP);
    bool nat_peer = false, nat_local = false;
    if (src && dst)
        redo_nat_detection(sa, in, &nat_peer, &nat_local);
    char a[80], c[80];
    ike_addr_str(&sa->path.peer, a, sizeof(a));
    ike_addr_str(&sa->rx_path.peer, c, sizeof(c));
    bool moved = !ike_addr_equal(&sa->path.peer, &sa->rx_path.peer, true) ||
                 !ike_addr_equal(&sa->path.local, &sa->rx_path.local, false) ||
                 sa->path.natt != sa->rx_path.natt;
    sa->path = sa->rx_path;
    sa->nat_peer = nat_peer;
    sa->nat_local = nat_local;
    /* The data plane follows at once: one endpoint replaced per SA. */
    ike_child_update_endpoints(sa);
    ikesa_log(sa, LOG_LVL_NOTICE, "MOBIKE: %s %s to %s%s%s",
              moved ? "peer moved from" : "peer stays at", a, c,
              nat_peer ? ", peer behind NAT" : "", nat_local ? ", we are behind NAT" : "");
    ikesa_publish(sa);
    if (src && dst) {
        /* Our own hashes for the new path (RFC 4555 3.5). */
        uint8_t hs[IKE_NATD_LEN], hd[IKE_NATD_LEN];
        natd(sa, &sa->path.local, hs);
        natd(sa, &sa->path.peer, hd);
        ike_put_notify(b, IKE_PROTO_NONE, IKE_N_NAT_DETECTION_SOURCE_IP, NULL, 0, hs, IKE_NATD_LEN);
        ike_put_notify(b, IKE_PROTO_NONE, IKE_N_NAT_DETECTION_DESTINATION_IP, NULL, 0, hd,
                       IKE_NATD_LEN);
    }
}

void ike_mobike_info(struct ikesa *sa, const struct ike_msg *in, struct ike_builder *b)
{
    unsigned additional = 0;
    bool none = false;
    for (size_t from = 0;;) {
        const struct ike_payload *p = ike_msg_find(in, IKE_PL_NOTIFY, &from);
        if (!p)
            break;
        uint16_t t = p->u.notify.type;
        if (t == IKE_N_ADDITIONAL_IP4_ADDRESS || t == IKE_N_ADDITIONAL_IP6_ADDRESS)
            additional++;
        else if (t == IKE_N_NO_ADDITIONAL_ADDRESSES)
            none = true;
    }
    if (additional || none)
        /* Accepted and noted: as responder we never move the SA ourselves,
         * the client does (RFC 4555 3.6). */
        ikesa_log(sa, LOG_LVL_DEBUG, "MOBIKE: the client has %u additional address%s", additional,
                  additional == 1 ? "" : "es");
    if (ike_msg_find_notify(in, IKE_N_UPDATE_SA_ADDRESSES)) {
        if (sa->mobike)
            update_addresses(sa, in, b);
        else
            ikesa_log(sa, LOG_LVL_NOTICE, "ignored UPDATE_SA_ADDRESSES: MOBIKE was not negotiated");
    }
    const struct ike_notify *c2 = ike_msg_find_notify(in, IKE_N_COOKIE2);
    if (c2)
        ike_put_notify(b, IKE_PROTO_NONE, IKE_N_COOKIE2, NULL, 0, c2->data.p, c2->data.len);
}
