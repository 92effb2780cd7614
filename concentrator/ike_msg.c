/* Protecting, sending and caching IKE messages; RFC 7383 fragments. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "concentrator/config.h"
#include "concentrator/event.h"
#include "concentrator/ike_crypto.h"
#include "concentrator/ike_engine.h"
#include "concentrator/ike_names.h"

/* Largest IKE message we send unfragmented once IKE_AUTH starts, when the
 * peer supports fragmentation: leaves room for IP, UDP and the non-ESP
 * marker under a 1280-byte path MTU. */
#define FRAG_THRESHOLD 1200

static void write_hdr(struct wr *w, const struct ikesa *sa, uint8_t next, uint8_t exchange,
                      uint8_t flags, uint32_t msg_id)
{
    /* spi_r is ours; it comes first where we are the original initiator. */
    wr_u64(w, sa->we_initiator ? sa->spi_r : sa->spi_i);
    wr_u64(w, sa->we_initiator ? sa->spi_i : sa->spi_r);
    wr_u8(w, next);
    wr_u8(w, IKE_MAJOR_VERSION << 4 | IKE_MINOR_VERSION);
    wr_u8(w, exchange);
    wr_u8(w, sa->we_initiator ? flags | IKE_FLAG_INITIATOR : flags);
    wr_u32(w, msg_id);
    wr_u32(w, 0); /* length: set by ike_sk_encrypt */
}

/* One encrypted datagram: header, SK or SKF header, the piece of inner
 * plaintext; returns a malloc'd buffer or NULL. */
static uint8_t *seal_one(struct ikesa *sa, uint8_t exchange, uint8_t flags, uint32_t msg_id,
                         bool skf, uint8_t first, uint16_t num, uint16_t total,
                         const uint8_t *piece, size_t piece_len, size_t *out_len)
{
    size_t hdr = IKE_HDR_LEN + (skf ? IKE_SKF_HDR_LEN : IKE_SK_HDR_LEN);
    size_t cap = hdr + piece_len + ike_sk_overhead_max(sa->sk_out);
    if (cap > IKE_MSG_MAX)
        return NULL;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return NULL;
    struct wr w = wr_init(buf, cap);
    write_hdr(&w, sa, skf ? IKE_PL_SKF : IKE_PL_SK, exchange, flags, msg_id);
    wr_u8(&w, first);
    wr_u8(&w, 0);
    wr_u16(&w, 0); /* payload length: set by ike_sk_encrypt */
    if (skf) {
        wr_u16(&w, num);
        wr_u16(&w, total);
    }
    wr_bytes(&w, piece, piece_len);
    size_t len = w.len;
    if (!wr_ok(&w) || ike_sk_encrypt(sa->sk_out, buf, cap, IKE_HDR_LEN, skf, &len) != IKE_SK_OK) {
        free(buf);
        return NULL;
    }
    *out_len = len;
    return buf;
}

/* Seals inner into c: one message, or fragments when it is too large. */
static int seal_into(struct ikesa *sa, struct ike_cached *c, uint8_t exchange, uint8_t flags,
                     uint32_t msg_id, const uint8_t *inner, size_t inner_len, uint8_t first)
{
    ike_cached_clear(c);
    c->msg_id = msg_id;
    size_t whole = IKE_HDR_LEN + IKE_SK_HDR_LEN + ike_sk_body_len(sa->sk_out, inner_len);
    if (whole <= FRAG_THRESHOLD || !sa->peer_frag || exchange == IKE_EXCH_SA_INIT) {
        c->d[0].buf = seal_one(sa, exchange, flags, msg_id, false, first, 0, 0, inner, inner_len,
                               &c->d[0].len);
        if (!c->d[0].buf)
            return -1;
        c->n = 1;
        c->valid = true;
        return 0;
    }
    size_t room = FRAG_THRESHOLD - IKE_HDR_LEN - IKE_SKF_HDR_LEN - ike_sk_overhead_max(sa->sk_out);
    size_t total = (inner_len + room - 1) / room;
    if (total > IKE_MAX_RESP_FRAGS)
        return -1;
    for (size_t i = 0; i < total; i++) {
        size_t off = i * room;
        size_t n = inner_len - off < room ? inner_len - off : room;
        c->d[i].buf = seal_one(sa, exchange, flags, msg_id, true, i == 0 ? first : 0,
                               (uint16_t)(i + 1), (uint16_t)total, inner + off, n, &c->d[i].len);
        if (!c->d[i].buf) {
            c->n = i;
            ike_cached_clear(c);
            return -1;
        }
        c->n = i + 1;
    }
    c->valid = true;
    return 0;
}

static void send_along(struct ikesa *sa, const struct ike_cached *c, const struct ike_path *path)
{
    for (size_t i = 0; i < c->n; i++)
        ike_net_send(sa->eng->net, c->d[i].buf, c->d[i].len, path);
}

static void send_cached(struct ikesa *sa, const struct ike_cached *c)
{
    send_along(sa, c, &sa->path);
}

/* RFC 7296 2.11: a response goes back to where its request came from (with
 * MOBIKE that may not be the SA's path yet: the client probes new paths). */
static const struct ike_path *response_path(const struct ikesa *sa)
{
    return sa->rx_path.peer.ss_family ? &sa->rx_path : &sa->path;
}

int ike_send_response(struct ikesa *sa, uint8_t exchange, uint32_t msg_id, const uint8_t *inner,
                      size_t inner_len, uint8_t first)
{
    if (seal_into(sa, &sa->resp, exchange, IKE_FLAG_RESPONSE, msg_id, inner, inner_len, first) <
        0) {
        ikesa_log(sa, LOG_LVL_ERROR, "cannot build the %s response",
                  IKE_NAME(ike_exchange_name, exchange));
        return -1;
    }
    send_along(sa, &sa->resp, response_path(sa));
    return 0;
}

void ike_resend_cached(struct ikesa *sa)
{
    if (sa->resp.valid)
        send_along(sa, &sa->resp, response_path(sa));
}

static void on_retransmit(struct evl_timer *t, void *arg)
{
    (void)t;
    struct ikesa *sa = arg;
    if (!sa->our_pending)
        return;
    if (++sa->our_tries > sa->eng->cfg->retransmit_tries) {
        sa->our_pending = false;
        ikesa_destroy(sa, IKE_END_LOST,
                      sa->state == IKESA_DELETING
                          ? "the peer did not answer our Delete"
                          : "dead peer: it did not answer our liveness checks");
        return;
    }
    send_cached(sa, &sa->our_req);
    double next = sa->eng->cfg->retransmit_base_ms / 1000.0;
    for (unsigned i = 0; i < sa->our_tries; i++)
        next *= 1.8;
    evl_timer_start(sa->retransmit, next, 0);
}

int ike_send_request(struct ikesa *sa, uint8_t exchange, const uint8_t *inner, size_t inner_len,
                     uint8_t first)
{
    if (sa->our_pending)
        return -1; /* window of one: the caller queues or gives up */
    uint32_t id = sa->our_next_id++;
    if (seal_into(sa, &sa->our_req, exchange, 0, id, inner, inner_len, first) < 0)
        return -1;
    sa->our_pending = true;
    sa->our_tries = 0;
    if (!sa->retransmit)
        sa->retransmit = evl_timer_new(sa->eng->loop, on_retransmit, sa);
    if (sa->retransmit)
        evl_timer_start(sa->retransmit, sa->eng->cfg->retransmit_base_ms / 1000.0, 0);
    send_cached(sa, &sa->our_req);
    return 0;
}

static int decrypt_inner(struct ikesa *sa, uint8_t *buf, size_t len, size_t sk_off, bool skf,
                         size_t *plain_off, size_t *plain_len)
{
    enum ike_sk_status st = ike_sk_decrypt(sa->sk_in, buf, len, sk_off, skf, plain_off, plain_len);
    if (st != IKE_SK_OK) {
        ikesa_log(sa, LOG_LVL_WARN, "dropped a message that does not decrypt (%s)",
                  st == IKE_SK_ERR_ICV ? "integrity check failed" : "malformed encrypted payload");
        return -1;
    }
    return 0;
}

int ike_unprotect(struct ikesa *sa, uint8_t *buf, size_t len, struct ike_msg *outer)
{
    struct ike_engine *e = sa->eng;
    const struct ike_payload *enc = ike_msg_encrypted(outer);
    if (!enc || enc != &outer->pl[outer->n_pl - 1]) {
        ikesa_log(sa, LOG_LVL_WARN, "dropped an unencrypted %s message",
                  IKE_NAME(ike_exchange_name, outer->hdr.exchange));
        return -1;
    }
    size_t sk_off = (size_t)(enc->hdr - buf);
    size_t poff, plen;
    if (enc->type == IKE_PL_SK) {
        uint8_t first = enc->u.sk.first;
        if (decrypt_inner(sa, buf, len, sk_off, false, &poff, &plen) < 0)
            return -1;
        enum ike_err err = ike_decode_inner(buf + poff, plen, first, &e->inner);
        if (err != IKE_OK) {
            ikesa_log(sa, LOG_LVL_WARN, "dropped a message with malformed inner payloads (%s)",
                      ike_err_name(err));
            return -1;
        }
        return 1;
    }

    /* RFC 7383: each fragment is authenticated on its own, then the
     * plaintexts are joined. */
    uint16_t num = enc->u.skf.number, total = enc->u.skf.total;
    uint8_t first = enc->u.skf.first;
    struct ike_reasm *r = &sa->reasm;
    uint32_t id = outer->hdr.msg_id;
    if (num == 0 || total == 0 || num > total || total > IKE_FRAG_MAX) {
        ikesa_log(sa, LOG_LVL_WARN, "dropped fragment %u of %u: out of range", num, total);
        return -1;
    }
    if (decrypt_inner(sa, buf, len, sk_off, true, &poff, &plen) < 0)
        return -1;
    if (r->have && (r->msg_id != id || r->total != total)) {
        if (r->msg_id == id && total > r->total) {
            /* RFC 7383 2.6.2: the sender refragmented with more pieces. */
        } else if (r->msg_id == id) {
            return 0; /* fewer pieces than an earlier set: ignore */
        }
        for (size_t i = 0; i <= IKE_FRAG_MAX; i++) {
            free(r->piece[i]);
            r->piece[i] = NULL;
            r->piece_len[i] = 0;
        }
        r->have = r->bytes = 0;
    }
    r->msg_id = id;
    r->total = total;
    if (r->piece[num])
        return 0; /* duplicate */
    if (r->bytes + plen > IKE_REASM_MAX) {
        ikesa_log(sa, LOG_LVL_WARN, "dropped fragments: reassembled message over %d bytes",
                  IKE_REASM_MAX);
        return -1;
    }
    r->piece[num] = malloc(plen ? plen : 1);
    if (!r->piece[num])
        return -1;
    memcpy(r->piece[num], buf + poff, plen);
    r->piece_len[num] = plen;
    r->bytes += plen;
    r->have++;
    if (num == 1)
        r->first = first;
    if (r->have < total)
        return 0;
    size_t off = 0;
    for (uint16_t i = 1; i <= total; i++) {
        memcpy(e->work + off, r->piece[i], r->piece_len[i]);
        off += r->piece_len[i];
    }
    uint8_t first_type = r->first;
    for (size_t i = 0; i <= IKE_FRAG_MAX; i++) {
        free(r->piece[i]);
        r->piece[i] = NULL;
        r->piece_len[i] = 0;
    }
    r->have = r->bytes = 0;
    enum ike_err err = ike_decode_inner(e->work, off, first_type, &e->inner);
    if (err != IKE_OK) {
        ikesa_log(sa, LOG_LVL_WARN, "dropped a reassembled message with malformed payloads (%s)",
                  ike_err_name(err));
        return -1;
    }
    return 1;
}

void ike_send_plain_notify(struct ike_engine *e, const struct ike_hdr *req,
                           const struct ike_path *path, uint16_t type, const uint8_t *data,
                           size_t len)
{
    uint8_t buf[512];
    struct ike_hdr h = {
        .spi_i = req->spi_i,
        .spi_r = 0,
        .exchange = req->exchange,
        .flags = IKE_FLAG_RESPONSE,
        .msg_id = req->msg_id,
        .major = IKE_MAJOR_VERSION,
        .minor = IKE_MINOR_VERSION,
    };
    struct ike_builder b;
    ike_build_init(&b, buf, sizeof(buf), &h);
    ike_put_notify(&b, IKE_PROTO_NONE, type, NULL, 0, data, len);
    size_t n = ike_build_finish(&b);
    if (n)
        ike_net_send(e->net, buf, n, path);
}
