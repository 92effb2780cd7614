/* INFORMATIONAL exchanges (RFC 7296 1.4): Delete and liveness checks. */
#define _GNU_SOURCE
#include <string.h>

#include "concentrator/ike_engine.h"
#include "concentrator/ike_names.h"

void ike_info_request(struct ikesa *sa, const struct ike_msg *in, uint32_t msg_id)
{
    uint8_t inner[512];
    struct ike_builder b;
    ike_build_init_inner(&b, inner, sizeof(inner));
    bool delete_ike = false;
    for (size_t from = 0;;) {
        const struct ike_payload *p = ike_msg_find(in, IKE_PL_DELETE, &from);
        if (!p)
            break;
        const struct ike_delete *d = &p->u.del;
        if (d->protocol == IKE_PROTO_IKE) {
            delete_ike = true;
            continue;
        }
        if (d->protocol != IKE_PROTO_ESP || d->spi_size != 4)
            continue;
        for (uint16_t i = 0; i < d->n_spis; i++) {
            const uint8_t *s = d->spis.p + 4 * (size_t)i;
            uint32_t spi = (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3];
            uint32_t ours;
            if (!ike_child_delete_spi(sa, spi, &ours))
                continue;
            uint8_t o[4] = {(uint8_t)(ours >> 24), (uint8_t)(ours >> 16), (uint8_t)(ours >> 8),
                            (uint8_t)ours};
            ike_put_delete(&b, IKE_PROTO_ESP, 4, o, 1);
            ikesa_publish(sa);
        }
    }
    if (!delete_ike && sa->state == IKESA_ESTABLISHED)
        ike_mobike_info(sa, in, &b);
    size_t n = ike_build_finish(&b);
    sa->peer_next_id = msg_id + 1;
    ike_send_response(sa, IKE_EXCH_INFORMATIONAL, msg_id, inner, n, n ? b.first : IKE_PL_NONE);
    if (delete_ike)
        ikesa_destroy(sa, IKE_END_CLIENT,
                      sa->moved ? "the client deleted the rekeyed IKE_SA"
                                : "the client deleted the IKE_SA");
}

void ike_info_response(struct ikesa *sa, const struct ike_msg *in)
{
    (void)in;
    sa->our_pending = false;
    if (sa->state == IKESA_DELETING)
        ikesa_destroy(sa, IKE_END_GATEWAY, "our Delete was answered");
}
