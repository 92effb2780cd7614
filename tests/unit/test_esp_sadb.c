/* The SA database as the IKE engine and the workers use it: a gateway and a
 * client database exchange packets for every transform; each refusal gives
 * its reason and is counted; rekey switches outbound traffic while the old
 * SA still decrypts; lifetimes and sequence exhaustion raise events once;
 * readers in threads keep working while the main thread installs, rekeys
 * and deletes. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "esp/esp_sa.h"
#include "esp/esp_sadb.h"
#include "esp/esp_xform.h"

#define BUFCAP 2048
#define HEAD   128

static const struct esp_addr vip4 = {4, {10, 1, 0, 2}};
static const struct esp_addr vip6 = {6, {0xfd, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
static const struct esp_addr lan4 = {4, {10, 0, 0, 1}};
static const struct esp_addr lan6 = {6, {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};

struct xf {
    uint16_t encr, bits, integ;
    size_t elen, ilen;
};

static const struct xf xforms[] = {
    {ESP_ENCR_AES_GCM_16, 128, ESP_INTEG_NONE, 20, 0},
    {ESP_ENCR_AES_GCM_16, 256, ESP_INTEG_NONE, 36, 0},
    {ESP_ENCR_CHACHA20_POLY1305, 256, ESP_INTEG_NONE, 36, 0},
    {ESP_ENCR_AES_CBC, 128, ESP_INTEG_HMAC_SHA2_256_128, 16, 32},
    {ESP_ENCR_AES_CBC, 256, ESP_INTEG_HMAC_SHA2_384_192, 32, 48},
    {ESP_ENCR_AES_CBC, 256, ESP_INTEG_HMAC_SHA2_512_256, 32, 64},
};

/* --- events --------------------------------------------------------------- */

struct evlog {
    pthread_mutex_t lock;
    struct esp_event ev[32];
    unsigned n;
};

static void on_event(void *arg, const struct esp_event *ev)
{
    struct evlog *l = arg;
    pthread_mutex_lock(&l->lock);
    if (l->n < 32)
        l->ev[l->n++] = *ev;
    pthread_mutex_unlock(&l->lock);
}

static unsigned count_events(struct evlog *l, enum esp_event_kind k, enum esp_dir d)
{
    unsigned n = 0;
    for (unsigned i = 0; i < l->n; i++)
        n += l->ev[i].kind == k && l->ev[i].dir == d;
    return n;
}

/* --- fixture -------------------------------------------------------------- */

struct fx {
    struct esp_sadb *gw, *cl;
    struct evlog gw_ev;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    pthread_mutex_init(&f->gw_ev.lock, NULL);
    struct esp_sadb_config c = {2, 6, on_event, &f->gw_ev};
    f->gw = esp_sadb_new(&c);
    struct esp_sadb_config cc = {1, 4, NULL, NULL};
    f->cl = esp_sadb_new(&cc);
    *state = f;
    return f->gw && f->cl ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    esp_sadb_free(f->gw);
    esp_sadb_free(f->cl);
    pthread_mutex_destroy(&f->gw_ev.lock);
    free(f);
    return 0;
}

static struct esp_prefix host(const struct esp_addr *a)
{
    struct esp_prefix p = {*a, (uint8_t)(a->family == 4 ? 32 : 128)};
    return p;
}

/* The gateway's side of a CHILD_SA for the client at vip4/vip6. */
static struct esp_sa_params gw_params(const struct xf *x, bool esn, uint32_t spi_in,
                                      uint32_t spi_out, uint32_t tenant, uint8_t keyseed)
{
    struct esp_sa_params p;
    memset(&p, 0, sizeof(p));
    p.spi_in = spi_in;
    p.spi_out = spi_out;
    p.protocol = ESP_PROTO_ESP;
    p.encr = x->encr;
    p.encr_key_bits = x->bits;
    p.integ = x->integ;
    p.encr_key_len = x->elen;
    p.integ_key_len = x->ilen;
    for (size_t i = 0; i < ESP_MAX_ENCR_KEY; i++) {
        p.encr_key_in[i] = (uint8_t)(keyseed + i);
        p.encr_key_out[i] = (uint8_t)(keyseed * 3 + i);
    }
    for (size_t i = 0; i < ESP_MAX_INTEG_KEY; i++) {
        p.integ_key_in[i] = (uint8_t)(keyseed ^ (i * 5));
        p.integ_key_out[i] = (uint8_t)(keyseed ^ (i * 7 + 1));
    }
    p.esn = esn;
    p.tenant = tenant;
    p.remote_ts[0] = host(&vip4);
    p.remote_ts[1] = host(&vip6);
    p.n_remote_ts = 2;
    p.local_ts[0] = (struct esp_prefix){{4, {10, 0, 0, 0}}, 16};
    p.local_ts[1] = (struct esp_prefix){{6, {0xfd, 0}}, 16};
    p.n_local_ts = 2;
    p.endpoint.local = (struct esp_addr){4, {203, 0, 113, 1}};
    p.endpoint.remote = (struct esp_addr){4, {198, 51, 100, 7}};
    p.endpoint.local_port = p.endpoint.remote_port = 4500;
    p.endpoint.udp_encap = true;
    return p;
}

/* The client's mirror image: in and out swapped; it sends from its virtual
 * address to the tenant LAN. */
static struct esp_sa_params client_of(const struct esp_sa_params *g)
{
    struct esp_sa_params p = *g;
    p.spi_in = g->spi_out;
    p.spi_out = g->spi_in;
    memcpy(p.encr_key_in, g->encr_key_out, sizeof(p.encr_key_in));
    memcpy(p.encr_key_out, g->encr_key_in, sizeof(p.encr_key_out));
    memcpy(p.integ_key_in, g->integ_key_out, sizeof(p.integ_key_in));
    memcpy(p.integ_key_out, g->integ_key_in, sizeof(p.integ_key_out));
    p.tenant = 0;
    p.remote_ts[0] = host(&lan4);
    p.remote_ts[1] = host(&lan6);
    p.remote_ts[2] = (struct esp_prefix){{4, {0}}, 0};
    p.remote_ts[3] = (struct esp_prefix){{6, {0}}, 0};
    p.n_remote_ts = 4;
    p.local_ts[0] = host(&vip4);
    p.local_ts[1] = host(&vip6);
    return p;
}

static void install(struct esp_sadb *db, const struct esp_sa_params *p)
{
    char err[200] = "";
    if (esp_sadb_install(db, p, err, sizeof(err)) != 0)
        fail_msg("install %08x: %s", p->spi_in, err);
}

/* An IPv4 or IPv6 UDP packet of len bytes, in buf's middle. */
static void make_packet(struct esp_buf *b, uint8_t *mem, const struct esp_addr *src,
                        const struct esp_addr *dst, size_t len, uint8_t fill)
{
    *b = (struct esp_buf){mem, BUFCAP, HEAD, len};
    uint8_t *p = mem + HEAD;
    memset(p, fill, len);
    if (src->family == 4) {
        memset(p, 0, 20);
        p[0] = 0x45;
        p[2] = (uint8_t)(len >> 8);
        p[3] = (uint8_t)len;
        p[8] = 64;
        p[9] = 17;
        memcpy(p + 12, src->bytes, 4);
        memcpy(p + 16, dst->bytes, 4);
    } else {
        memset(p, 0, 40);
        p[0] = 0x60;
        p[4] = (uint8_t)((len - 40) >> 8);
        p[5] = (uint8_t)(len - 40);
        p[6] = 17;
        p[7] = 64;
        memcpy(p + 8, src->bytes, 16);
        memcpy(p + 24, dst->bytes, 16);
    }
}

/* Moves an ESP packet into a fresh buffer (as the network would). */
static void carry(struct esp_buf *to, uint8_t *mem, const struct esp_buf *from)
{
    uint8_t tmp[BUFCAP];
    memcpy(tmp, esp_buf_data(from), from->len);
    *to = (struct esp_buf){mem, BUFCAP, HEAD, from->len};
    memcpy(mem + HEAD, tmp, from->len);
}

/* --- tests ---------------------------------------------------------------- */

static void test_round_trip_every_transform(void **state)
{
    struct fx *f = *state;
    uint32_t spi = 0x1000;
    for (size_t x = 0; x < sizeof(xforms) / sizeof(xforms[0]); x++)
        for (int esn = 0; esn <= 1; esn++) {
            struct esp_sa_params g = gw_params(&xforms[x], esn, spi, spi + 1, 7, (uint8_t)x);
            struct esp_sa_params c = client_of(&g);
            spi += 2;
            install(f->gw, &g);
            install(f->cl, &c);
            if (esn) {
                /* Start both directions near the 2^32 boundary: a first
                 * packet the receiver accepts, then jump to the edge. */
                esp_sadb_set_seq_out(f->gw, g.spi_in, 0xfffff000ull);
                esp_sadb_set_seq_out(f->cl, c.spi_in, 0xfffff000ull);
            }
            for (int fam = 4; fam <= 6; fam += 2)
                for (int i = 0; i < 4; i++) {
                    uint8_t m1[BUFCAP], m2[BUFCAP], want[BUFCAP];
                    struct esp_buf b, r;
                    size_t len = 60 + (size_t)i * 333;
                    /* client -> gateway */
                    make_packet(&b, m1, fam == 4 ? &vip4 : &vip6, fam == 4 ? &lan4 : &lan6, len,
                                (uint8_t)i);
                    memcpy(want, esp_buf_data(&b), len);
                    struct esp_tx_info tx;
                    assert_int_equal(esp_sadb_encap(f->cl, 0, 0, &b, &tx), ESP_OK);
                    assert_int_equal(tx.spi_out, g.spi_in);
                    carry(&r, m2, &b);
                    struct esp_rx_info rx;
                    assert_int_equal(esp_sadb_decap(f->gw, 1, &r, &rx), ESP_OK);
                    assert_int_equal(rx.tenant, 7);
                    assert_int_equal(rx.family, fam);
                    assert_int_equal(rx.seq, tx.seq);
                    assert_int_equal(r.len, len);
                    assert_memory_equal(esp_buf_data(&r), want, len);
                    /* gateway -> client */
                    make_packet(&b, m1, fam == 4 ? &lan4 : &lan6, fam == 4 ? &vip4 : &vip6, len,
                                (uint8_t)(i + 1));
                    memcpy(want, esp_buf_data(&b), len);
                    assert_int_equal(esp_sadb_encap(f->gw, 0, 7, &b, &tx), ESP_OK);
                    assert_int_equal(tx.spi_out, c.spi_in);
                    assert_int_equal(tx.endpoint.remote.bytes[3], 7);
                    carry(&r, m2, &b);
                    assert_int_equal(esp_sadb_decap(f->cl, 0, &r, &rx), ESP_OK);
                    assert_memory_equal(esp_buf_data(&r), want, len);
                    if (esn && tx.seq > 0xffffffffull)
                        assert_true(rx.seq > 0xffffffffull);
                    if (esn && fam == 4 && i == 0) {
                        esp_sadb_set_seq_out(f->gw, g.spi_in, 0xfffffffdull);
                        esp_sadb_set_seq_out(f->cl, c.spi_in, 0xfffffffdull);
                    }
                }
            struct esp_sa_stats st;
            assert_int_equal(esp_sadb_sa_stats(f->gw, g.spi_in, &st), 0);
            assert_int_equal(st.packets_in, 8);
            assert_int_equal(st.packets_out, 8);
            assert_int_equal(st.bytes_in, 2 * (60 + 393 + 726 + 1059));
            assert_int_equal(st.seq_out, esn ? 0xfffffffdull + 7 : 8);
            assert_int_equal(esp_sadb_delete(f->gw, g.spi_in), 0);
            assert_int_equal(esp_sadb_delete(f->cl, c.spi_in), 0);
        }
    assert_int_equal(esp_sadb_count(f->gw), 0);
}

/* Seals a packet as the client would, with a chosen next header. */
static void client_seal(const struct esp_sa_params *g, uint64_t seq, uint8_t nh, struct esp_buf *b)
{
    struct esp_suite s;
    struct esp_cctx c;
    char err[100];
    assert_int_equal(esp_suite_init(&s, g->encr, g->encr_key_bits, g->integ, g->encr_key_len,
                                    g->integ_key_len, err, sizeof(err)),
                     0);
    assert_int_equal(esp_cctx_init(&c, &s, g->encr_key_in, g->integ_key_in, true), 0);
    assert_int_equal(esp_xform_encap(&c, g->spi_in, seq, g->esn, nh, b), ESP_OK);
    esp_cctx_clear(&c);
}

static void test_reasons_counted(void **state)
{
    struct fx *f = *state;
    struct esp_sa_params g = gw_params(&xforms[0], false, 0x2000, 0x2001, 3, 9);
    install(f->gw, &g);
    uint8_t m1[BUFCAP], m2[BUFCAP], keep[BUFCAP];
    struct esp_buf b, r;
    struct esp_rx_info rx;
    struct esp_tx_info tx;

    /* Unknown SPI. */
    make_packet(&b, m1, &vip4, &lan4, 80, 1);
    client_seal(&g, 1, ESP_NH_IPV4, &b);
    esp_buf_data(&b)[3] ^= 0xff;
    assert_int_equal(esp_sadb_decap(f->gw, 0, &b, &rx), ESP_DROP_UNKNOWN_SPI);

    /* A good packet, then the same again: replay. */
    make_packet(&b, m1, &vip4, &lan4, 80, 1);
    client_seal(&g, 1, ESP_NH_IPV4, &b);
    memcpy(keep, esp_buf_data(&b), b.len);
    size_t keep_len = b.len;
    carry(&r, m2, &b);
    assert_int_equal(esp_sadb_decap(f->gw, 0, &r, &rx), ESP_OK);
    r = (struct esp_buf){m2, BUFCAP, HEAD, keep_len};
    memcpy(m2 + HEAD, keep, keep_len);
    assert_int_equal(esp_sadb_decap(f->gw, 0, &r, &rx), ESP_DROP_REPLAY);

    /* Tampered: integrity; and the window did not move for it. */
    make_packet(&b, m1, &vip4, &lan4, 80, 1);
    client_seal(&g, 2, ESP_NH_IPV4, &b);
    memcpy(keep, esp_buf_data(&b), b.len);
    esp_buf_data(&b)[30] ^= 1;
    assert_int_equal(esp_sadb_decap(f->gw, 0, &b, &rx), ESP_DROP_INTEGRITY);
    b = (struct esp_buf){m1, BUFCAP, HEAD, keep_len};
    memcpy(m1 + HEAD, keep, keep_len);
    assert_int_equal(esp_sadb_decap(f->gw, 0, &b, &rx), ESP_OK);

    /* A client sending from an address that is not its own. */
    struct esp_addr spoof = {4, {10, 1, 0, 99}};
    make_packet(&b, m1, &spoof, &lan4, 80, 1);
    client_seal(&g, 3, ESP_NH_IPV4, &b);
    assert_int_equal(esp_sadb_decap(f->gw, 0, &b, &rx), ESP_DROP_SELECTOR);
    /* ... or to a destination outside the tenant's routes. */
    struct esp_addr outside = {4, {192, 0, 2, 1}};
    make_packet(&b, m1, &vip4, &outside, 80, 1);
    client_seal(&g, 4, ESP_NH_IPV4, &b);
    assert_int_equal(esp_sadb_decap(f->gw, 0, &b, &rx), ESP_DROP_SELECTOR);

    /* Next header: 59 is a dummy (dropped silently), 6 is not tunnel mode. */
    make_packet(&b, m1, &vip4, &lan4, 80, 1);
    client_seal(&g, 5, ESP_NH_DUMMY, &b);
    assert_int_equal(esp_sadb_decap(f->gw, 0, &b, &rx), ESP_DROP_DUMMY);
    make_packet(&b, m1, &vip4, &lan4, 80, 1);
    client_seal(&g, 6, 6, &b);
    assert_int_equal(esp_sadb_decap(f->gw, 0, &b, &rx), ESP_DROP_NEXT_HEADER);
    /* IPv6 said, IPv4 inside. */
    make_packet(&b, m1, &vip4, &lan4, 80, 1);
    client_seal(&g, 7, ESP_NH_IPV6, &b);
    assert_int_equal(esp_sadb_decap(f->gw, 0, &b, &rx), ESP_DROP_INNER_HEADER);

    /* Too short to hold a header. */
    b = (struct esp_buf){m1, BUFCAP, HEAD, 7};
    assert_int_equal(esp_sadb_decap(f->gw, 1, &b, &rx), ESP_DROP_MALFORMED);

    /* Outbound: nobody has this address in this tenant; another tenant's
     * identical address is not reachable. */
    make_packet(&b, m1, &lan4, &spoof, 80, 1);
    assert_int_equal(esp_sadb_encap(f->gw, 1, 3, &b, &tx), ESP_DROP_NO_SA);
    make_packet(&b, m1, &lan4, &vip4, 80, 1);
    assert_int_equal(esp_sadb_encap(f->gw, 1, 4, &b, &tx), ESP_DROP_NO_SA);
    /* From outside the tenant's routes. */
    make_packet(&b, m1, &outside, &vip4, 80, 1);
    assert_int_equal(esp_sadb_encap(f->gw, 1, 3, &b, &tx), ESP_DROP_SELECTOR);

    esp_sadb_count_drop(f->gw, 1, ESP_DROP_QUEUE_FULL);

    struct esp_sa_stats st;
    assert_int_equal(esp_sadb_sa_stats(f->gw, g.spi_in, &st), 0);
    assert_int_equal(st.packets_in, 2);
    assert_int_equal(st.drops[ESP_DROP_REPLAY], 1);
    assert_int_equal(st.drops[ESP_DROP_INTEGRITY], 1);
    assert_int_equal(st.drops[ESP_DROP_SELECTOR], 3);
    assert_int_equal(st.drops[ESP_DROP_DUMMY], 1);
    assert_int_equal(st.drops[ESP_DROP_NEXT_HEADER], 1);
    assert_int_equal(st.drops[ESP_DROP_INNER_HEADER], 1);
    uint64_t all[ESP_REASON_COUNT];
    esp_sadb_drops(f->gw, all);
    assert_int_equal(all[ESP_DROP_UNKNOWN_SPI], 1);
    assert_int_equal(all[ESP_DROP_NO_SA], 2);
    assert_int_equal(all[ESP_DROP_MALFORMED], 1);
    assert_int_equal(all[ESP_DROP_QUEUE_FULL], 1);
    assert_int_equal(all[ESP_DROP_SELECTOR], 3);
    /* Drops of a deleted SA stay counted once it is freed. */
    assert_int_equal(esp_sadb_delete(f->gw, g.spi_in), 0);
    rcu_barrier();
    esp_sadb_drops(f->gw, all);
    assert_int_equal(all[ESP_DROP_REPLAY], 1);
    assert_int_equal(all[ESP_DROP_SELECTOR], 3);
    assert_string_equal(esp_reason_name(ESP_DROP_SELECTOR), "selector_mismatch");
}

static void test_install_rekey_delete(void **state)
{
    struct fx *f = *state;
    char err[200];
    struct esp_sa_params a = gw_params(&xforms[2], true, 0x3000, 0x3001, 5, 1);
    struct esp_sa_params ca = client_of(&a);
    install(f->gw, &a);
    install(f->cl, &ca);

    /* Same inbound SPI, or the same client address in the same tenant: refused. */
    struct esp_sa_params dup = gw_params(&xforms[2], true, 0x3000, 0x3301, 5, 1);
    assert_int_equal(esp_sadb_install(f->gw, &dup, err, sizeof(err)), -1);
    dup.spi_in = 0x3300;
    assert_int_equal(esp_sadb_install(f->gw, &dup, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "00003000"));
    /* ... but the same address in another tenant is another client. */
    dup.tenant = 6;
    install(f->gw, &dup);
    assert_int_equal(esp_sadb_delete(f->gw, 0x3300), 0);
    /* Bad parameters. */
    struct esp_sa_params bad = gw_params(&xforms[0], false, 0x3400, 0x3401, 5, 1);
    bad.encr_key_len = 16;
    assert_int_equal(esp_sadb_install(f->gw, &bad, err, sizeof(err)), -1);
    bad = gw_params(&xforms[0], false, 0x3400, 0x3401, 5, 1);
    bad.protocol = 51;
    assert_int_equal(esp_sadb_install(f->gw, &bad, err, sizeof(err)), -1);
    bad = gw_params(&xforms[0], false, 0, 0x3401, 5, 1);
    assert_int_equal(esp_sadb_install(f->gw, &bad, err, sizeof(err)), -1);

    /* A packet the client sealed with the old SA, still in flight. */
    uint8_t m1[BUFCAP], m2[BUFCAP], m3[BUFCAP];
    struct esp_buf b, r, inflight;
    struct esp_tx_info tx;
    struct esp_rx_info rx;
    make_packet(&b, m1, &vip4, &lan4, 100, 1);
    assert_int_equal(esp_sadb_encap(f->cl, 0, 0, &b, &tx), ESP_OK);
    carry(&inflight, m3, &b);

    /* Rekey: the new SA takes the outbound route. */
    struct esp_sa_params n = gw_params(&xforms[0], false, 0x3100, 0x3101, 5, 2);
    struct esp_sa_params cn = client_of(&n);
    assert_int_equal(esp_sadb_rekey(f->cl, ca.spi_in, &cn, err, sizeof(err)), 0);
    struct esp_sa_params other_tenant = n;
    other_tenant.tenant = 9;
    assert_int_equal(esp_sadb_rekey(f->gw, 0x3000, &other_tenant, err, sizeof(err)), -1);
    assert_int_equal(esp_sadb_rekey(f->gw, 0x3999, &n, err, sizeof(err)), -1);
    assert_int_equal(esp_sadb_rekey(f->gw, 0x3000, &n, err, sizeof(err)), 0);
    assert_int_equal(esp_sadb_count(f->gw), 2);
    make_packet(&b, m1, &lan4, &vip4, 100, 2);
    assert_int_equal(esp_sadb_encap(f->gw, 0, 5, &b, &tx), ESP_OK);
    assert_int_equal(tx.spi_out, 0x3101);
    assert_int_equal(tx.seq, 1);
    carry(&r, m2, &b);
    assert_int_equal(esp_sadb_decap(f->cl, 0, &r, &rx), ESP_OK);
    /* The old SA still decrypts what was in flight. */
    assert_int_equal(esp_sadb_decap(f->gw, 0, &inflight, &rx), ESP_OK);
    assert_int_equal(rx.spi_in, 0x3000);

    /* Delete the old one: its SPI is unknown, the new one carries on. */
    assert_int_equal(esp_sadb_delete(f->gw, 0x3000), 0);
    assert_int_equal(esp_sadb_delete(f->gw, 0x3000), -1);
    make_packet(&b, m1, &vip4, &lan4, 100, 1);
    client_seal(&a, 50, ESP_NH_IPV4, &b); /* a late packet of the old SA */
    assert_int_equal(esp_sadb_decap(f->gw, 0, &b, &rx), ESP_DROP_UNKNOWN_SPI);
    make_packet(&b, m1, &vip4, &lan4, 100, 1);
    assert_int_equal(esp_sadb_encap(f->cl, 0, 0, &b, &tx), ESP_OK); /* client on the new */
    assert_int_equal(tx.spi_out, 0x3100);
    carry(&r, m2, &b);
    assert_int_equal(esp_sadb_decap(f->gw, 0, &r, &rx), ESP_OK);
    make_packet(&b, m1, &lan6, &vip6, 100, 2);
    assert_int_equal(esp_sadb_encap(f->gw, 0, 5, &b, &tx), ESP_OK);
    assert_int_equal(tx.spi_out, 0x3101);

    /* MOBIKE / NAT rebinding: a new endpoint, seen whole by the next packet. */
    struct esp_endpoint ep = {
        {4, {203, 0, 113, 1}}, {4, {198, 51, 100, 99}}, 4500, 61000, true, false};
    assert_int_equal(esp_sadb_update_endpoint(f->gw, 0x3100, &ep), 0);
    assert_int_equal(esp_sadb_update_endpoint(f->gw, 0x3999, &ep), -1);
    make_packet(&b, m1, &lan4, &vip4, 100, 2);
    assert_int_equal(esp_sadb_encap(f->gw, 0, 5, &b, &tx), ESP_OK);
    assert_int_equal(tx.endpoint.remote.bytes[3], 99);
    assert_int_equal(tx.endpoint.remote_port, 61000);

    /* Pinned (MOBIKE): ESP from another address is dropped before it is
     * decrypted; from the endpoint's address, or of unknown source, it
     * passes. */
    ep.pin_remote = true;
    assert_int_equal(esp_sadb_update_endpoint(f->gw, 0x3100, &ep), 0);
    struct esp_addr elsewhere = {4, {198, 51, 100, 10}}, there = {4, {198, 51, 100, 99}};
    make_packet(&b, m1, &vip4, &lan4, 100, 1);
    assert_int_equal(esp_sadb_encap(f->cl, 0, 0, &b, &tx), ESP_OK);
    carry(&r, m2, &b);
    assert_int_equal(esp_sadb_decap_from(f->gw, 0, &r, &elsewhere, &rx), ESP_DROP_PEER_ADDRESS);
    struct esp_sa_stats pst;
    assert_int_equal(esp_sadb_sa_stats(f->gw, 0x3100, &pst), 0);
    assert_int_equal(pst.drops[ESP_DROP_PEER_ADDRESS], 1);
    carry(&r, m2, &b);
    assert_int_equal(esp_sadb_decap_from(f->gw, 0, &r, &there, &rx), ESP_OK);
    make_packet(&b, m1, &vip4, &lan4, 100, 1);
    assert_int_equal(esp_sadb_encap(f->cl, 0, 0, &b, &tx), ESP_OK);
    carry(&r, m2, &b);
    assert_int_equal(esp_sadb_decap_from(f->gw, 0, &r, NULL, &rx), ESP_OK);
    assert_string_equal(esp_reason_name(ESP_DROP_PEER_ADDRESS), "peer_address");

    assert_int_equal(esp_sadb_delete(f->gw, 0x3100), 0);
    make_packet(&b, m1, &lan4, &vip4, 100, 2);
    assert_int_equal(esp_sadb_encap(f->gw, 0, 5, &b, &tx), ESP_DROP_NO_SA);
    assert_int_equal(esp_sadb_count(f->gw), 0);
}

static void test_lifetimes_and_exhaustion(void **state)
{
    struct fx *f = *state;
    struct esp_sa_params g = gw_params(&xforms[3], false, 0x4000, 0x4001, 1, 4);
    g.life_out.soft_packets = 3;
    g.life_out.hard_packets = 5;
    g.life_in.soft_bytes = 150;
    g.life_in.hard_bytes = 250;
    g.cookie = 0xc0ffee;
    install(f->gw, &g);
    uint8_t m1[BUFCAP];
    struct esp_buf b;
    struct esp_tx_info tx;
    struct esp_rx_info rx;
    for (int i = 1; i <= 7; i++) {
        make_packet(&b, m1, &lan4, &vip4, 60, 0);
        enum esp_reason want = i <= 5 ? ESP_OK : ESP_DROP_EXPIRED;
        assert_int_equal(esp_sadb_encap(f->gw, 0, 1, &b, &tx), want);
        assert_int_equal(count_events(&f->gw_ev, ESP_EV_SOFT_LIFETIME, ESP_DIR_OUT), i >= 3);
        assert_int_equal(count_events(&f->gw_ev, ESP_EV_HARD_LIFETIME, ESP_DIR_OUT), i >= 6);
    }
    assert_int_equal(f->gw_ev.ev[0].spi_in, 0x4000);
    assert_int_equal(f->gw_ev.ev[0].cookie, 0xc0ffee);
    /* Inbound bytes: 60 per packet; soft at 150, hard beyond 250. */
    for (uint64_t i = 1; i <= 5; i++) {
        make_packet(&b, m1, &vip4, &lan4, 60, 0);
        client_seal(&g, i, ESP_NH_IPV4, &b);
        enum esp_reason want = i <= 4 ? ESP_OK : ESP_DROP_EXPIRED;
        assert_int_equal(esp_sadb_decap(f->gw, 0, &b, &rx), want);
    }
    assert_int_equal(count_events(&f->gw_ev, ESP_EV_SOFT_LIFETIME, ESP_DIR_IN), 1);
    assert_int_equal(count_events(&f->gw_ev, ESP_EV_HARD_LIFETIME, ESP_DIR_IN), 1);
    assert_int_equal(esp_sadb_delete(f->gw, 0x4000), 0);

    /* Sequence numbers run out and never wrap: 32-bit, then ESN. */
    for (int esn = 0; esn <= 1; esn++) {
        f->gw_ev.n = 0;
        struct esp_sa_params s = gw_params(&xforms[0], esn, 0x4100, 0x4101, 1, 4);
        install(f->gw, &s);
        uint64_t max = esn ? UINT64_MAX : UINT32_MAX;
        assert_int_equal(esp_sadb_set_seq_out(f->gw, 0x4100, max - 1), 0);
        make_packet(&b, m1, &lan4, &vip4, 60, 0);
        assert_int_equal(esp_sadb_encap(f->gw, 0, 1, &b, &tx), ESP_OK);
        assert_true(tx.seq == max);
        assert_int_equal(count_events(&f->gw_ev, ESP_EV_SOFT_LIFETIME, ESP_DIR_OUT), 1);
        for (int i = 0; i < 3; i++) {
            make_packet(&b, m1, &lan4, &vip4, 60, 0);
            assert_int_equal(esp_sadb_encap(f->gw, 0, 1, &b, &tx), ESP_DROP_SEQ_EXHAUSTED);
        }
        assert_int_equal(count_events(&f->gw_ev, ESP_EV_SEQ_EXHAUSTED, ESP_DIR_OUT), 1);
        struct esp_sa_stats st;
        assert_int_equal(esp_sadb_sa_stats(f->gw, 0x4100, &st), 0);
        assert_true(st.seq_out == max);
        assert_int_equal(st.drops[ESP_DROP_SEQ_EXHAUSTED], 3);
        assert_int_equal(esp_sadb_delete(f->gw, 0x4100), 0);
    }
}

/* --- concurrency ------------------------------------------------------------ */

#define SLOTS   4
#define TENANT  2
#define RUN_SEC 1

struct race {
    struct esp_sadb *db;
    _Atomic bool stop;
    unsigned worker;
    uint64_t ok, gone, late, bad;
    enum esp_reason last_bad;
};

static struct esp_addr slot_addr(unsigned i)
{
    struct esp_addr a = {4, {10, 9, 0, (uint8_t)(i + 1)}};
    return a;
}

/* Loopback SA: spi_in == spi_out and the same keys both ways, so a worker can
 * decap what it just encapsulated against the same database. */
static struct esp_sa_params loop_params(unsigned slot, uint32_t spi)
{
    struct esp_sa_params p = gw_params(&xforms[slot % 6], slot & 1, spi, spi, TENANT, (uint8_t)spi);
    memcpy(p.encr_key_out, p.encr_key_in, sizeof(p.encr_key_in));
    memcpy(p.integ_key_out, p.integ_key_in, sizeof(p.integ_key_in));
    p.remote_ts[0] = host(&(struct esp_addr){4, {10, 9, 0, (uint8_t)(slot + 1)}});
    p.n_remote_ts = 1;
    p.n_local_ts = 0;
    return p;
}

static void *reader(void *arg)
{
    struct race *rc = arg;
    esp_rcu_register();
    uint8_t m[BUFCAP], want[BUFCAP];
    for (unsigned i = 0; !atomic_load(&rc->stop) && i < 5000000; i++) {
        /* Even slots (32-bit sequence numbers) are shared by both workers;
         * each worker has its own ESN slot, because with ESN a packet that
         * fell behind the window (the other worker ran ahead meanwhile) is
         * read as the next span and fails integrity, by design. */
        unsigned pick[3] = {0, 2, 1 + 2 * rc->worker};
        unsigned slot = pick[i % 3];
        struct esp_addr a = slot_addr(slot);
        struct esp_buf b;
        make_packet(&b, m, &a, &a, 64 + (i % 200), (uint8_t)i);
        memcpy(want, esp_buf_data(&b), b.len);
        size_t len = b.len;
        struct esp_tx_info tx;
        enum esp_reason r = esp_sadb_encap(rc->db, rc->worker, TENANT, &b, &tx);
        if (r == ESP_OK) {
            struct esp_rx_info rx;
            r = esp_sadb_decap(rc->db, rc->worker, &b, &rx);
            if (r == ESP_OK && (b.len != len || memcmp(esp_buf_data(&b), want, len) != 0 ||
                                rx.spi_in != tx.spi_out))
                rc->bad++;
            else if (r == ESP_OK)
                rc->ok++;
            else if (r == ESP_DROP_UNKNOWN_SPI)
                rc->gone++; /* deleted between the two calls */
            else if (r == ESP_DROP_REPLAY && !(slot & 1))
                rc->late++; /* the other worker moved the window on meanwhile */
            else {
                rc->bad++;
                rc->last_bad = r;
                struct esp_sa_stats st;
                int found = esp_sadb_sa_stats(rc->db, tx.spi_out, &st);
                fprintf(stderr, "bad %s spi %x seq %llu found %d top %llu len %zu\n",
                        esp_reason_name(r), tx.spi_out, (unsigned long long)tx.seq, found,
                        (unsigned long long)st.seq_in_top, len);
            }
        } else if (r == ESP_DROP_NO_SA) {
            rc->gone++;
        } else {
            rc->bad++;
            rc->last_bad = r;
        }
        esp_rcu_quiescent(); /* end of this worker's "batch" */
    }
    esp_rcu_unregister();
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    struct esp_sadb_config c = {2, 3, NULL, NULL};
    struct esp_sadb *db = esp_sadb_new(&c);
    assert_non_null(db);
    struct race rc[2] = {{.db = db, .worker = 0}, {.db = db, .worker = 1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &rc[i]), 0);

    uint32_t cur[SLOTS] = {0};
    uint32_t next_spi = 0x10000;
    char err[200];
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned ops = 0;
    for (unsigned i = 0; ops < 200000; i++) {
        unsigned s = i % SLOTS;
        unsigned action = (i / SLOTS) % 4;
        if (cur[s] == 0) {
            struct esp_sa_params p = loop_params(s, next_spi);
            assert_int_equal(esp_sadb_install(db, &p, err, sizeof(err)), 0);
            cur[s] = next_spi++;
        } else if (action == 1) {
            struct esp_sa_params p = loop_params(s, next_spi);
            assert_int_equal(esp_sadb_rekey(db, cur[s], &p, err, sizeof(err)), 0);
            assert_int_equal(esp_sadb_delete(db, cur[s]), 0);
            cur[s] = next_spi++;
        } else if (action == 2) {
            struct esp_endpoint ep = {{4, {203, 0, 113, 1}},
                                      {4, {198, 51, 100, (uint8_t)i}},
                                      4500,
                                      (uint16_t)(1024 + i),
                                      true,
                                      false};
            assert_int_equal(esp_sadb_update_endpoint(db, cur[s], &ep), 0);
        } else if (action == 3) {
            assert_int_equal(esp_sadb_delete(db, cur[s]), 0);
            cur[s] = 0;
        }
        ops++;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= RUN_SEC)
            break;
    }
    for (int i = 0; i < 2; i++)
        atomic_store(&rc[i].stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        if (rc[i].bad)
            fail_msg("worker %d: %llu unexpected results, last %s", i,
                     (unsigned long long)rc[i].bad, esp_reason_name(rc[i].last_bad));
        assert_true(rc[i].ok > 0);
    }
    assert_true(ops > 100);
    esp_sadb_free(db);
}

int main(void)
{
    esp_rcu_register_writer();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_every_transform, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reasons_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_install_rekey_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifetimes_and_exhaustion, setup, teardown),
        cmocka_unit_test(test_concurrent_readers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    esp_rcu_unregister();
    return rc;
}
