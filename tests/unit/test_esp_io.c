/* The ESP worker pool without privileges: the buffer pool, what a NAT-T
 * datagram is, and the whole pool on loopback with SOCK_SEQPACKET socket
 * pairs standing in for the tenants' TUN queues: a client's ESP reaches its
 * tenant's queue decrypted, a packet written to a queue leaves encrypted
 * for the right client, batches keep every packet, IKE goes to the IKE
 * queue with its path, keepalives and junk are counted, a forged inner
 * source is dropped, and two tenants with the same client address stay
 * apart. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "esp/esp_io.h"
#include "esp/esp_pool.h"
#include "esp/esp_sadb.h"
#include "tests/system/esp/esp_peer.h"

/* --- buffer pool ---------------------------------------------------------- */

static void test_pool_take_and_give_back(void **state)
{
    (void)state;
    struct esp_pool *p = esp_pool_new(4);
    assert_non_null(p);
    assert_int_equal(esp_pool_size(p), 4);
    struct esp_buf b[5];
    for (int i = 0; i < 4; i++) {
        assert_true(esp_pool_get(p, &b[i]));
        assert_int_equal(b[i].off, ESP_POOL_HEADROOM);
        assert_int_equal(b[i].len, 0);
        assert_true(esp_buf_tailroom(&b[i]) >= ESP_POOL_DATA_MAX + ESP_TAILROOM);
        assert_true(esp_buf_headroom(&b[i]) >= ESP_HEADROOM);
        /* The whole buffer is writable and buffers do not overlap. */
        memset(b[i].base, i + 1, b[i].cap);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(b[i].base[b[i].cap - 1], i + 1);
    assert_int_equal(esp_pool_available(p), 0);
    assert_false(esp_pool_get(p, &b[4])); /* exhausted: no allocation */
    assert_true(esp_pool_put(p, &b[2]));
    assert_false(esp_pool_put(p, &b[2])); /* twice */
    assert_int_equal(esp_pool_available(p), 1);
    assert_true(esp_pool_get(p, &b[4]));
    assert_ptr_equal(b[4].base, b[2].base);
    for (int i = 0; i < 4; i++)
        if (i != 2)
            assert_true(esp_pool_put(p, &b[i]));
    assert_true(esp_pool_put(p, &b[4]));
    assert_int_equal(esp_pool_available(p), 4);
    esp_pool_free(p);
}

static void test_pool_refuses_foreign_buffers(void **state)
{
    (void)state;
    struct esp_pool *p = esp_pool_new(2), *q = esp_pool_new(2);
    assert_non_null(p);
    assert_non_null(q);
    struct esp_buf a, odd;
    assert_true(esp_pool_get(q, &a));
    assert_false(esp_pool_put(p, &a)); /* from another pool */
    assert_true(esp_pool_get(p, &odd));
    odd.base += 1; /* not a buffer's start */
    assert_false(esp_pool_put(p, &odd));
    odd.base -= 1;
    assert_true(esp_pool_put(p, &odd));
    struct esp_buf none = {0};
    assert_false(esp_pool_put(p, &none));
    assert_null(esp_pool_new(0));
    esp_pool_free(p);
    esp_pool_free(q);
    esp_pool_free(NULL);
}

/* --- classification --------------------------------------------------------- */

static void test_classify(void **state)
{
    (void)state;
    const uint8_t ka[] = {0xff};
    const uint8_t ike[] = {0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0};
    const uint8_t marker_only[] = {0, 0, 0, 0};
    const uint8_t esp[] = {0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1};
    const uint8_t esp_short[] = {0x12, 0x34, 0x56, 0x78, 0, 0, 0};
    const uint8_t not_ka[] = {0xfe};
    const uint8_t two_ff[] = {0xff, 0xff};
    assert_int_equal(esp_io_classify(ka, 1), ESP_IO_KIND_KEEPALIVE);
    assert_int_equal(esp_io_classify(ike, sizeof(ike)), ESP_IO_KIND_IKE);
    assert_int_equal(esp_io_classify(marker_only, 4), ESP_IO_KIND_IKE);
    assert_int_equal(esp_io_classify(esp, sizeof(esp)), ESP_IO_KIND_ESP);
    assert_int_equal(esp_io_classify(esp_short, sizeof(esp_short)), ESP_IO_KIND_MALFORMED);
    assert_int_equal(esp_io_classify(not_ka, 1), ESP_IO_KIND_MALFORMED);
    assert_int_equal(esp_io_classify(two_ff, 2), ESP_IO_KIND_MALFORMED);
    assert_int_equal(esp_io_classify(ka, 0), ESP_IO_KIND_MALFORMED);
}

static void test_workers_resolve(void **state)
{
    (void)state;
    assert_int_equal(esp_io_workers_resolve(3), 3);
    assert_true(esp_io_workers_resolve(0) >= 1);
    assert_int_equal(esp_io_workers_resolve(1000), ESP_IO_MAX_WORKERS);
}

/* --- the pool on loopback -------------------------------------------------- */

#define NW 2

static const uint8_t lo[4] = {127, 0, 0, 1};
static const uint8_t vip[4] = {10, 1, 0, 2};
static const uint8_t lan[4] = {10, 0, 0, 1};

struct fx {
    struct esp_sadb *db;
    struct esp_io *io;
    atomic_int wakes;
    int client;           /* the client's UDP socket */
    uint16_t client_port; /* its port */
    uint16_t port;        /* the gateway's NAT-T port */
    int tun[3][NW];       /* our ends of tenants 1 and 2's queues */
    struct esp_sa_params gw[3];
    struct peer_sa peer[3];
};

static void on_wake(void *arg)
{
    struct fx *f = arg;
    atomic_fetch_add(&f->wakes, 1);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void attach(struct fx *f, uint32_t tenant)
{
    int theirs[NW];
    for (int i = 0; i < NW; i++) {
        int sp[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp), 0);
        /* Room for a test's burst, as a TUN queue has (500 packets). */
        int big = 1 << 20;
        for (int k = 0; k < 2; k++)
            if (setsockopt(sp[k], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
                setsockopt(sp[k], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
        f->tun[tenant][i] = sp[0];
        theirs[i] = sp[1];
    }
    assert_int_equal(esp_io_tenant_attach(f->io, tenant, theirs, NW), 0);
}

static void install(struct fx *f, uint32_t tenant, uint32_t spi_in, uint32_t spi_out)
{
    char err[200];
    peer_gw_params(&f->gw[tenant], tenant, spi_in, spi_out, vip, (uint8_t)(tenant * 17), lo, lo,
                   f->port, f->client_port, true);
    assert_int_equal(esp_sadb_install(f->db, &f->gw[tenant], err, sizeof(err)), 0);
    assert_int_equal(peer_sa_init(&f->peer[tenant], &f->gw[tenant]), 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct esp_sadb_config dc = {NW, 8, NULL, NULL};
    f->db = esp_sadb_new(&dc);
    struct esp_io_config c;
    memset(&c, 0, sizeof(c));
    c.workers = NW;
    snprintf(c.listen[0], sizeof(c.listen[0]), "127.0.0.1");
    c.n_listen = 1;
    c.ike_wake = on_wake;
    c.ike_arg = f;
    char err[256] = "";
    f->io = esp_io_start(&c, f->db, err, sizeof(err));
    if (!f->io) {
        fprintf(stderr, "esp_io_start: %s\n", err);
        return -1;
    }
    f->port = esp_io_natt_port(f->io);
    f->client = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int big = 4 << 20;
    if (setsockopt(f->client, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
        setsockopt(f->client, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    if (bind(f->client, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        return -1;
    socklen_t sl = sizeof(sin);
    getsockname(f->client, (struct sockaddr *)&sin, &sl);
    f->client_port = ntohs(sin.sin_port);
    sin.sin_port = htons(f->port);
    if (connect(f->client, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    esp_io_stop(f->io);
    esp_sadb_free(f->db);
    close(f->client);
    for (int t = 0; t < 3; t++) {
        peer_sa_clear(&f->peer[t]);
        for (int i = 0; i < NW; i++)
            if (f->tun[t][i] > 0)
                close(f->tun[t][i]);
    }
    free(f);
    return 0;
}

static uint64_t counter(struct fx *f, enum esp_io_counter c)
{
    uint64_t v[ESP_IO_COUNTER_COUNT];
    esp_io_counters(f->io, v);
    return v[c];
}

static uint64_t sadb_drops(struct fx *f, enum esp_reason r)
{
    uint64_t v[ESP_REASON_COUNT];
    esp_sadb_drops(f->db, v);
    return v[r];
}

/* Waits (at most 2 s) until counter c reaches want. */
static bool wait_counter(struct fx *f, enum esp_io_counter c, uint64_t want)
{
    for (int64_t end = now_ms() + 2000; now_ms() < end;) {
        if (counter(f, c) >= want)
            return true;
        usleep(1000);
    }
    return false;
}

static bool wait_drop(struct fx *f, enum esp_reason r, uint64_t want)
{
    for (int64_t end = now_ms() + 2000; now_ms() < end;) {
        if (sadb_drops(f, r) >= want)
            return true;
        usleep(1000);
    }
    return false;
}

/* Reads one datagram from any of tenant t's queues within ms. */
static ssize_t read_tun(struct fx *f, uint32_t t, uint8_t *buf, size_t cap, int ms)
{
    struct pollfd p[NW];
    for (int i = 0; i < NW; i++)
        p[i] = (struct pollfd){f->tun[t][i], POLLIN, 0};
    if (poll(p, NW, ms) <= 0)
        return -1;
    for (int i = 0; i < NW; i++)
        if (p[i].revents & POLLIN)
            return read(f->tun[t][i], buf, cap);
    return -1;
}

static ssize_t read_client(struct fx *f, uint8_t *buf, size_t cap, int ms)
{
    struct pollfd p = {f->client, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0)
        return -1;
    return recv(f->client, buf, cap, 0);
}

static void send_esp(struct fx *f, uint32_t t, const uint8_t *inner, size_t len)
{
    uint8_t out[2048];
    size_t n = peer_encap(&f->peer[t], inner, len, out, sizeof(out));
    assert_true(n > 0);
    assert_int_equal(send(f->client, out, n, 0), (ssize_t)n);
}

struct got_ike {
    uint8_t buf[256];
    size_t len;
    struct esp_io_path path;
    int n;
};

static void take_ike(void *arg, uint8_t *buf, size_t len, const struct esp_io_path *path)
{
    struct got_ike *g = arg;
    g->n++;
    g->len = len < sizeof(g->buf) ? len : sizeof(g->buf);
    memcpy(g->buf, buf, g->len);
    g->path = *path;
}

static void test_ike_goes_to_the_ike_thread_with_its_path(void **state)
{
    struct fx *f = *state;
    uint8_t msg[40] = {0, 0, 0, 0};
    for (size_t i = 4; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(send(f->client, msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
    assert_true(wait_counter(f, ESP_IO_IKE_IN, 1));
    assert_true(atomic_load(&f->wakes) >= 1);
    struct got_ike g = {0};
    assert_int_equal(esp_io_ike_drain(f->io, take_ike, &g), 1);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.len, sizeof(msg)); /* marker kept, as ike_net_input expects */
    assert_memory_equal(g.buf, msg, sizeof(msg));
    const struct sockaddr_in *peer = (const struct sockaddr_in *)&g.path.peer;
    const struct sockaddr_in *local = (const struct sockaddr_in *)&g.path.local;
    assert_int_equal(peer->sin_family, AF_INET);
    assert_int_equal(ntohs(peer->sin_port), f->client_port);
    assert_int_equal(local->sin_family, AF_INET);
    assert_int_equal(ntohl(local->sin_addr.s_addr), 0x7f000001);
    assert_int_equal(ntohs(local->sin_port), f->port);
    assert_int_equal(esp_io_ike_drain(f->io, take_ike, &g), 0);

    /* And the IKE thread answers from the NAT-T port. */
    uint8_t answer[] = {0, 0, 0, 0, 'o', 'k'};
    assert_int_equal(esp_io_natt_send(f->io, answer, sizeof(answer), &g.path), 0);
    uint8_t in[64];
    assert_int_equal(read_client(f, in, sizeof(in), 2000), (ssize_t)sizeof(answer));
    assert_memory_equal(in, answer, sizeof(answer));
    assert_int_equal(counter(f, ESP_IO_IKE_OUT), 1);
}

static void test_keepalives_and_junk_are_counted(void **state)
{
    struct fx *f = *state;
    const uint8_t ka = 0xff, junk[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++)
        assert_int_equal(send(f->client, &ka, 1, 0), 1);
    assert_int_equal(send(f->client, junk, sizeof(junk), 0), 3);
    assert_true(wait_counter(f, ESP_IO_KEEPALIVES, 3));
    assert_true(wait_counter(f, ESP_IO_DROP_MALFORMED, 1));
    assert_int_equal(sadb_drops(f, ESP_DROP_MALFORMED), 1);
    assert_int_equal(counter(f, ESP_IO_IKE_IN), 0);
    /* ESP for an SPI nobody has. */
    const uint8_t stray[16] = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1};
    assert_int_equal(send(f->client, stray, sizeof(stray), 0), (ssize_t)sizeof(stray));
    assert_true(wait_drop(f, ESP_DROP_UNKNOWN_SPI, 1));
}

static void test_esp_both_ways(void **state)
{
    struct fx *f = *state;
    install(f, 1, 0x1000, 0x2000);
    attach(f, 1);
    uint8_t inner[100], got[2048];
    peer_icmp_echo(inner, sizeof(inner), 8, vip, lan, 7, 1);
    send_esp(f, 1, inner, sizeof(inner));
    ssize_t n = read_tun(f, 1, got, sizeof(got), 2000);
    assert_int_equal(n, (ssize_t)sizeof(inner));
    assert_memory_equal(got, inner, sizeof(inner));

    /* The answer, written to the tenant's queue, leaves encrypted. */
    peer_icmp_echo(inner, sizeof(inner), 0, lan, vip, 7, 1);
    assert_int_equal(write(f->tun[1][1], inner, sizeof(inner)), (ssize_t)sizeof(inner));
    n = read_client(f, got, sizeof(got), 2000);
    assert_true(n > (ssize_t)sizeof(inner));
    size_t ilen = 0;
    long off = peer_decap(&f->peer[1], got, (size_t)n, &ilen);
    assert_true(off >= 0);
    assert_int_equal(ilen, sizeof(inner));
    assert_memory_equal(got + off, inner, sizeof(inner));
}

static void test_batches_keep_every_packet(void **state)
{
    struct fx *f = *state;
    install(f, 1, 0x1001, 0x2001);
    attach(f, 1);
    enum { N = 200 };
    uint8_t inner[64], got[2048];
    /* Out: N packets on worker 0's queue, read in batches of 32. */
    for (int i = 0; i < N; i++) {
        peer_udp(inner, sizeof(inner), lan, vip, 1000, (uint16_t)(2000 + i));
        assert_int_equal(write(f->tun[1][0], inner, sizeof(inner)), (ssize_t)sizeof(inner));
    }
    int seen = 0;
    uint32_t last_port = 0;
    for (int i = 0; i < N; i++) {
        ssize_t n = read_client(f, got, sizeof(got), 2000);
        if (n <= 0)
            break;
        size_t ilen;
        long off = peer_decap(&f->peer[1], got, (size_t)n, &ilen);
        assert_true(off >= 0);
        uint32_t port = (uint32_t)(got[off + 22] << 8 | got[off + 23]);
        assert_true(port > last_port); /* in order */
        last_port = port;
        seen++;
    }
    assert_int_equal(seen, N);
    /* The worker counts after sendmmsg returns: the client may be faster. */
    assert_true(wait_counter(f, ESP_IO_TX_PACKETS, N));
    assert_int_equal(counter(f, ESP_IO_TUN_READ), N);
    assert_int_equal(counter(f, ESP_IO_TX_PACKETS), N);

    /* In: N packets from the client, every one delivered. */
    for (int i = 0; i < N; i++) {
        peer_udp(inner, sizeof(inner), vip, lan, 1000, (uint16_t)(3000 + i));
        send_esp(f, 1, inner, sizeof(inner));
    }
    seen = 0;
    for (int i = 0; i < N; i++) {
        if (read_tun(f, 1, got, sizeof(got), 2000) != (ssize_t)sizeof(inner))
            break;
        seen++;
    }
    assert_int_equal(counter(f, ESP_IO_DROP_TUN_WRITE), 0);
    assert_int_equal(seen, N);
    assert_true(wait_counter(f, ESP_IO_RX_ESP, N));
    assert_int_equal(counter(f, ESP_IO_RX_ESP), N);
}

static void test_forged_inner_source_is_dropped(void **state)
{
    struct fx *f = *state;
    install(f, 1, 0x1002, 0x2002);
    attach(f, 1);
    const uint8_t forged[4] = {10, 1, 0, 99};
    uint8_t inner[84], got[2048];
    peer_icmp_echo(inner, sizeof(inner), 8, forged, lan, 9, 1);
    send_esp(f, 1, inner, sizeof(inner));
    assert_true(wait_drop(f, ESP_DROP_SELECTOR, 1));
    assert_int_equal(read_tun(f, 1, got, sizeof(got), 100), -1);
    /* The SA still works for its own address. */
    peer_icmp_echo(inner, sizeof(inner), 8, vip, lan, 9, 2);
    send_esp(f, 1, inner, sizeof(inner));
    assert_int_equal(read_tun(f, 1, got, sizeof(got), 2000), (ssize_t)sizeof(inner));
}

static void test_tenants_with_the_same_addresses_stay_apart(void **state)
{
    struct fx *f = *state;
    install(f, 1, 0x1003, 0x2003);
    install(f, 2, 0x1004, 0x2004); /* the same client address, another tenant */
    attach(f, 1);
    attach(f, 2);
    uint8_t inner[84], got[2048];
    for (int round = 0; round < 3; round++) {
        for (uint32_t t = 1; t <= 2; t++) {
            peer_icmp_echo(inner, sizeof(inner), 8, vip, lan, (uint16_t)t, (uint16_t)round);
            send_esp(f, t, inner, sizeof(inner));
            ssize_t n = read_tun(f, t, got, sizeof(got), 2000);
            assert_int_equal(n, (ssize_t)sizeof(inner));
            assert_int_equal(got[24] << 8 | got[25], t); /* the ICMP id we sent */
            assert_int_equal(read_tun(f, 3 - t, got, sizeof(got), 20), -1);
        }
    }
    /* Outbound: tenant 2's queue uses tenant 2's SA only. */
    peer_icmp_echo(inner, sizeof(inner), 0, lan, vip, 2, 0);
    assert_int_equal(write(f->tun[2][0], inner, sizeof(inner)), (ssize_t)sizeof(inner));
    ssize_t n = read_client(f, got, sizeof(got), 2000);
    assert_true(n > 0);
    size_t ilen;
    assert_int_equal(peer_decap(&f->peer[1], got, (size_t)n, &ilen), -1);
    assert_true(peer_decap(&f->peer[2], got, (size_t)n, &ilen) >= 0);
    /* A tenant without a device: counted, not delivered elsewhere. */
    assert_int_equal(esp_tun_remove(f->io, 2), 0);
    peer_icmp_echo(inner, sizeof(inner), 8, vip, lan, 2, 9);
    send_esp(f, 2, inner, sizeof(inner));
    assert_true(wait_counter(f, ESP_IO_DROP_NO_TUN, 1));
    assert_int_equal(read_tun(f, 1, got, sizeof(got), 50), -1);
}

static void test_no_sa_for_destination(void **state)
{
    struct fx *f = *state;
    attach(f, 1);
    uint8_t inner[64];
    const uint8_t nobody[4] = {10, 1, 0, 77};
    peer_udp(inner, sizeof(inner), lan, nobody, 1, 2);
    assert_int_equal(write(f->tun[1][1], inner, sizeof(inner)), (ssize_t)sizeof(inner));
    assert_true(wait_drop(f, ESP_DROP_NO_SA, 1));
    assert_true(wait_counter(f, ESP_IO_TUN_READ, 1));
    assert_int_equal(counter(f, ESP_IO_TX_PACKETS), 0);
}

static void test_bad_config_refused(void **state)
{
    (void)state;
    struct esp_sadb_config dc = {1, 4, NULL, NULL};
    struct esp_sadb *db = esp_sadb_new(&dc);
    struct esp_io_config c;
    memset(&c, 0, sizeof(c));
    c.workers = 1;
    char err[256] = "";
    assert_null(esp_io_start(&c, db, err, sizeof(err))); /* no listen address */
    snprintf(c.listen[0], sizeof(c.listen[0]), "not-an-address");
    c.n_listen = 1;
    assert_null(esp_io_start(&c, db, err, sizeof(err)));
    assert_non_null(strstr(err, "not-an-address"));
    esp_sadb_free(db);
    esp_io_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_take_and_give_back),
        cmocka_unit_test(test_pool_refuses_foreign_buffers),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_workers_resolve),
        cmocka_unit_test(test_bad_config_refused),
        cmocka_unit_test_setup_teardown(test_ike_goes_to_the_ike_thread_with_its_path, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keepalives_and_junk_are_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_esp_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches_keep_every_packet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_inner_source_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenants_with_the_same_addresses_stay_apart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_sa_for_destination, setup, teardown),
    };
    esp_rcu_register_writer(); /* this thread installs SAs */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
