/*
 * The ESP worker pool with real TUN devices in network namespaces, driven
 * by tests/system/test_esp_io.py (which builds the namespaces and passes
 * their names in the environment). Skipped unless ESP_IO_LIVE is set, so
 * `make unit` runs this binary harmlessly.
 *
 * It runs in the gateway's namespace. The client's sockets are made in the
 * client's namespace (setns on this thread, then back), and the tenants'
 * kernels answer pings to their gateway address, so a ping travels: client
 * -> ESP in UDP (or raw ESP) -> worker -> TUN in the tenant namespace ->
 * the tenant's kernel -> TUN -> worker -> ESP -> client.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "esp/esp_io.h"
#include "esp/esp_sadb.h"
#include "tests/system/esp/esp_peer.h"

#define NATT_PORT 4500

static const uint8_t gw4[4] = {198, 51, 100, 1};
static const uint8_t cl4[4] = {198, 51, 100, 2};
static const uint8_t vip[4] = {10, 1, 0, 2};
static const uint8_t vip_raw[4] = {10, 1, 0, 3};
static const uint8_t vip6o[4] = {10, 1, 0, 4}; /* the client with an IPv6 outer path */
static const uint8_t tgw[4] = {10, 1, 0, 1};   /* the gateway address in every tenant */
static const uint8_t gw6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x0e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t cl6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x0e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

enum { SA_A = 0, SA_B, SA_RAW, SA_V6, N_SA };

struct live {
    const char *client_ns, *ns_a, *ns_b;
    int home; /* our own namespace */
    struct esp_sadb *db;
    struct esp_io *io;
    int udp4, udp6, raw4; /* the client's sockets */
    uint16_t port4, port6;
    struct esp_sa_params gw[N_SA];
    struct peer_sa peer[N_SA];
};

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int enter_ns(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "/var/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc;
}

static void leave_ns(struct live *l)
{
    assert_int_equal(setns(l->home, CLONE_NEWNET), 0);
}

/* A socket made in the client's namespace. */
static int client_socket(struct live *l, int family, int type, int proto, const void *addr,
                         uint16_t *port)
{
    assert_int_equal(enter_ns(l->client_ns), 0);
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    assert_true(fd >= 0);
    if (type == SOCK_DGRAM) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        socklen_t sl;
        if (family == AF_INET) {
            struct sockaddr_in *s = (struct sockaddr_in *)&ss;
            s->sin_family = AF_INET;
            memcpy(&s->sin_addr, addr, 4);
            sl = sizeof(*s);
        } else {
            struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
            s->sin6_family = AF_INET6;
            memcpy(&s->sin6_addr, addr, 16);
            sl = sizeof(*s);
        }
        assert_int_equal(bind(fd, (struct sockaddr *)&ss, sl), 0);
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                        : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    leave_ns(l);
    return fd;
}

static void spec(struct esp_tun_spec *s, uint32_t t, const char *name, const char *ifname,
                 const char *ns, unsigned mtu)
{
    memset(s, 0, sizeof(*s));
    s->tenant = t;
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->ifname, sizeof(s->ifname), "%s", ifname);
    snprintf(s->netns, sizeof(s->netns), "%s", ns);
    s->mtu = mtu;
    snprintf(s->nets[0].pool, sizeof(s->nets[0].pool), "10.1.0.0/24");
    snprintf(s->nets[0].gateway, sizeof(s->nets[0].gateway), "10.1.0.1");
    s->n_nets = 1;
}

static void install(struct live *l, int i, uint32_t tenant, const uint8_t *v, uint16_t cport,
                    bool udp)
{
    char err[200];
    peer_gw_params(&l->gw[i], tenant, 0x100 + (uint32_t)i, 0x200 + (uint32_t)i, v,
                   (uint8_t)(i * 31 + 5), gw4, cl4, NATT_PORT, cport, udp);
    assert_int_equal(esp_sadb_install(l->db, &l->gw[i], err, sizeof(err)), 0);
    assert_int_equal(peer_sa_init(&l->peer[i], &l->gw[i]), 0);
}

static int group_setup(void **state)
{
    if (!env("ESP_IO_LIVE"))
        return 0;
    struct live *l = calloc(1, sizeof(*l));
    l->client_ns = env("EIO_CLIENT_NS");
    l->ns_a = env("EIO_TENANT_A_NS");
    l->ns_b = env("EIO_TENANT_B_NS");
    l->home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (!l->client_ns || !l->ns_a || !l->ns_b || l->home < 0)
        return -1;
    esp_rcu_register_writer();
    struct esp_sadb_config dc = {2, 8, NULL, NULL};
    l->db = esp_sadb_new(&dc);
    struct esp_io_config c;
    memset(&c, 0, sizeof(c));
    c.workers = 2;
    snprintf(c.listen[0], sizeof(c.listen[0]), "198.51.100.1");
    snprintf(c.listen[1], sizeof(c.listen[1]), "2001:db8:e10::1");
    c.n_listen = 2;
    c.natt_port = NATT_PORT;
    c.raw_esp = true;
    c.log_interval_s = 1;
    if (env("EIO_HOOK"))
        snprintf(c.tenant_hook, sizeof(c.tenant_hook), "%s", env("EIO_HOOK"));
    char err[300];
    l->io = esp_io_start(&c, l->db, err, sizeof(err));
    if (!l->io) {
        fprintf(stderr, "esp_io_start: %s\n", err);
        return -1;
    }
    struct esp_tun_spec a, b;
    spec(&a, 1, "tenant-a", "eioA", l->ns_a, 0);
    spec(&b, 2, "tenant-b", "eioB", l->ns_b, 1380);
    if (esp_tun_add(l->io, &a, err, sizeof(err)) < 0) {
        fprintf(stderr, "tenant a: %s\n", err);
        return -1;
    }
    /* B the way the daemon does it: queued to the control thread. */
    esp_io_tenant_up(l->io, &b);
    if (esp_io_tenant_settle(l->io, 20000) < 0)
        return -1;
    l->udp4 = client_socket(l, AF_INET, SOCK_DGRAM, 0, cl4, &l->port4);
    l->udp6 = client_socket(l, AF_INET6, SOCK_DGRAM, 0, cl6, &l->port6);
    l->raw4 = client_socket(l, AF_INET, SOCK_RAW, ESP_PROTO_ESP, NULL, NULL);
    *state = l;
    return 0;
}

static int group_teardown(void **state)
{
    struct live *l = *state;
    if (!l)
        return 0;
    esp_io_stop(l->io);
    esp_sadb_free(l->db);
    for (int i = 0; i < N_SA; i++)
        peer_sa_clear(&l->peer[i]);
    close(l->udp4);
    close(l->udp6);
    close(l->raw4);
    close(l->home);
    free(l);
    return 0;
}

#define NEED_LIVE()                                                                                \
    do {                                                                                           \
        if (!*state)                                                                               \
            skip();                                                                                \
    } while (0)

static void send_to(int fd, const uint8_t *buf, size_t len, int family, const uint8_t *addr,
                    uint16_t port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        memcpy(&s->sin_addr, addr, 4);
        sl = sizeof(*s);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        memcpy(&s->sin6_addr, addr, 16);
        sl = sizeof(*s);
    }
    assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len);
}

/* Sends an echo request from src to the tenant gateway through SA i. */
static void ping(struct live *l, int i, const uint8_t *src, uint16_t id, uint16_t seq)
{
    uint8_t inner[84], out[512];
    peer_icmp_echo(inner, sizeof(inner), 8, src, tgw, id, seq);
    size_t n = peer_encap(&l->peer[i], inner, sizeof(inner), out, sizeof(out));
    assert_true(n > 0);
    if (i == SA_RAW)
        send_to(l->raw4, out, n, AF_INET, gw4, 0);
    else if (i == SA_V6)
        send_to(l->udp6, out, n, AF_INET6, gw6, NATT_PORT);
    else
        send_to(l->udp4, out, n, AF_INET, gw4, NATT_PORT);
}

/* Waits for an ESP packet on fd (raw: after its IPv4 header) that SA i
 * decrypts into an echo reply to dst with id; returns 1 if one came. */
static int await_reply(struct live *l, int fd, int i, const uint8_t *dst, uint16_t id, int ms)
{
    uint8_t buf[2048];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        int left = ms - (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return 0;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            continue;
        uint8_t *pkt = buf;
        size_t len = (size_t)n;
        if (fd == l->raw4) {
            size_t ihl = (size_t)(buf[0] & 15) * 4;
            if (len < ihl)
                continue;
            pkt += ihl;
            len -= ihl;
        }
        size_t ilen;
        long off = peer_decap(&l->peer[i], pkt, len, &ilen);
        if (off < 0 || ilen < 28)
            continue;
        const uint8_t *ip = pkt + off;
        if (ip[9] == 1 && ip[20] == 0 && memcmp(ip + 16, dst, 4) == 0 &&
            memcmp(ip + 12, tgw, 4) == 0 && (ip[24] << 8 | ip[25]) == id)
            return 1;
    }
}

/* A device's counters in a namespace, from /proc/thread-self/net/dev. */
static unsigned long long rx_packets(struct live *l, const char *ns, const char *ifname)
{
    assert_int_equal(enter_ns(ns), 0);
    FILE *f = fopen("/proc/thread-self/net/dev", "r");
    unsigned long long rx = ~0ull;
    char line[512];
    while (f && fgets(line, sizeof(line), f)) {
        char name[32];
        unsigned long long bytes, pkts;
        if (sscanf(line, " %31[^:]: %llu %llu", name, &bytes, &pkts) == 3 &&
            strcmp(name, ifname) == 0)
            rx = pkts;
    }
    if (f)
        fclose(f);
    leave_ns(l);
    return rx;
}

static int mtu_of(struct live *l, const char *ns, const char *ifname)
{
    assert_int_equal(enter_ns(ns), 0);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    int mtu = ioctl(s, SIOCGIFMTU, &ifr) == 0 ? ifr.ifr_mtu : -1;
    close(s);
    leave_ns(l);
    return mtu;
}

static uint64_t drops(struct live *l, enum esp_reason r)
{
    uint64_t v[ESP_REASON_COUNT];
    esp_sadb_drops(l->db, v);
    return v[r];
}

static void test_devices_live_in_their_tenant_namespaces(void **state)
{
    NEED_LIVE();
    struct live *l = *state;
    assert_int_equal(mtu_of(l, l->ns_a, "eioA"), ESP_IO_DEFAULT_MTU);
    assert_int_equal(mtu_of(l, l->ns_b, "eioB"), 1380);
    assert_int_equal(mtu_of(l, l->ns_a, "eioB"), -1); /* not in A's namespace */
    assert_int_equal(rx_packets(l, l->ns_a, "eioA"), 0);
}

static void test_a_client_pings_its_tenant_gateway(void **state)
{
    NEED_LIVE();
    struct live *l = *state;
    install(l, SA_A, 1, vip, l->port4, true);
    for (uint16_t s = 1; s <= 3; s++) {
        ping(l, SA_A, vip, 0xa, s);
        assert_int_equal(await_reply(l, l->udp4, SA_A, vip, 0xa, 3000), 1);
    }
    assert_int_equal(rx_packets(l, l->ns_a, "eioA"), 3);
    struct esp_sa_stats st;
    assert_int_equal(esp_sadb_sa_stats(l->db, l->gw[SA_A].spi_in, &st), 0);
    assert_int_equal(st.packets_in, 3);
    assert_int_equal(st.packets_out, 3);
}

static void test_overlapping_tenants_stay_apart(void **state)
{
    NEED_LIVE();
    struct live *l = *state;
    /* B's client has the same virtual address as A's, from another port. */
    uint16_t port_b;
    int udp_b = client_socket(l, AF_INET, SOCK_DGRAM, 0, cl4, &port_b);
    install(l, SA_B, 2, vip, port_b, true);
    unsigned long long a0 = rx_packets(l, l->ns_a, "eioA");
    uint8_t inner[84], out[512];
    peer_icmp_echo(inner, sizeof(inner), 8, vip, tgw, 0xb, 1);
    size_t n = peer_encap(&l->peer[SA_B], inner, sizeof(inner), out, sizeof(out));
    send_to(udp_b, out, n, AF_INET, gw4, NATT_PORT);
    assert_int_equal(await_reply(l, udp_b, SA_B, vip, 0xb, 3000), 1);
    assert_int_equal(rx_packets(l, l->ns_b, "eioB"), 1);
    assert_int_equal(rx_packets(l, l->ns_a, "eioA"), a0); /* nothing reached A */
    /* And A's client still gets A's answers, on A's socket. */
    ping(l, SA_A, vip, 0xa, 9);
    assert_int_equal(await_reply(l, l->udp4, SA_A, vip, 0xa, 3000), 1);
    assert_int_equal(rx_packets(l, l->ns_b, "eioB"), 1);
    close(udp_b);
}

static void test_a_forged_inner_source_is_dropped_and_counted(void **state)
{
    NEED_LIVE();
    struct live *l = *state;
    unsigned long long a0 = rx_packets(l, l->ns_a, "eioA");
    uint64_t d0 = drops(l, ESP_DROP_SELECTOR);
    const uint8_t forged[4] = {10, 1, 0, 99};
    ping(l, SA_A, forged, 0xf, 1);
    assert_int_equal(await_reply(l, l->udp4, SA_A, forged, 0xf, 500), 0);
    assert_int_equal(drops(l, ESP_DROP_SELECTOR), d0 + 1);
    assert_int_equal(rx_packets(l, l->ns_a, "eioA"), a0);
}

static void test_raw_esp_without_udp_encapsulation(void **state)
{
    NEED_LIVE();
    struct live *l = *state;
    install(l, SA_RAW, 1, vip_raw, 0, false);
    ping(l, SA_RAW, vip_raw, 0x3, 1);
    assert_int_equal(await_reply(l, l->raw4, SA_RAW, vip_raw, 0x3, 3000), 1);
}

static void test_ipv6_outer_addresses(void **state)
{
    NEED_LIVE();
    struct live *l = *state;
    char err[200];
    peer_gw_params(&l->gw[SA_V6], 1, 0x100 + SA_V6, 0x200 + SA_V6, vip6o, 77, gw4, cl4, NATT_PORT,
                   l->port6, true);
    l->gw[SA_V6].endpoint.local.family = l->gw[SA_V6].endpoint.remote.family = 6;
    memcpy(l->gw[SA_V6].endpoint.local.bytes, gw6, 16);
    memcpy(l->gw[SA_V6].endpoint.remote.bytes, cl6, 16);
    assert_int_equal(esp_sadb_install(l->db, &l->gw[SA_V6], err, sizeof(err)), 0);
    assert_int_equal(peer_sa_init(&l->peer[SA_V6], &l->gw[SA_V6]), 0);
    ping(l, SA_V6, vip6o, 0x6, 1);
    assert_int_equal(await_reply(l, l->udp6, SA_V6, vip6o, 0x6, 3000), 1);
}

static void test_ike_and_keepalives_on_the_natt_port(void **state)
{
    NEED_LIVE();
    struct live *l = *state;
    uint64_t c0[ESP_IO_COUNTER_COUNT], c1[ESP_IO_COUNTER_COUNT];
    esp_io_counters(l->io, c0);
    const uint8_t ka = 0xff;
    send_to(l->udp4, &ka, 1, AF_INET, gw4, NATT_PORT);
    uint8_t ike[32] = {0};
    send_to(l->udp4, ike, sizeof(ike), AF_INET, gw4, NATT_PORT);
    for (int i = 0; i < 200; i++) {
        esp_io_counters(l->io, c1);
        if (c1[ESP_IO_KEEPALIVES] > c0[ESP_IO_KEEPALIVES] &&
            c1[ESP_IO_DROP_IKE_QUEUE] > c0[ESP_IO_DROP_IKE_QUEUE])
            break;
        usleep(10000);
    }
    assert_int_equal(c1[ESP_IO_KEEPALIVES], c0[ESP_IO_KEEPALIVES] + 1);
    /* No IKE thread in this program (no wake-up given): counted as refused. */
    assert_int_equal(c1[ESP_IO_DROP_IKE_QUEUE], c0[ESP_IO_DROP_IKE_QUEUE] + 1);
}

static void test_a_tenant_taken_down_gets_nothing(void **state)
{
    NEED_LIVE();
    struct live *l = *state;
    esp_io_tenant_down(l->io, 2);
    assert_int_equal(esp_io_tenant_settle(l->io, 20000), 0);
    assert_int_equal(mtu_of(l, l->ns_b, "eioB"), -1); /* the device is gone */
    uint64_t c0[ESP_IO_COUNTER_COUNT], c1[ESP_IO_COUNTER_COUNT];
    esp_io_counters(l->io, c0);
    uint16_t port_b;
    int udp_b = client_socket(l, AF_INET, SOCK_DGRAM, 0, cl4, &port_b);
    assert_int_equal(
        esp_sadb_update_endpoint(l->db, l->gw[SA_B].spi_in,
                                 &(struct esp_endpoint){.local = {4, {198, 51, 100, 1}},
                                                        .remote = {4, {198, 51, 100, 2}},
                                                        .local_port = NATT_PORT,
                                                        .remote_port = port_b,
                                                        .udp_encap = true}),
        0);
    uint8_t inner[84], out[512];
    peer_icmp_echo(inner, sizeof(inner), 8, vip, tgw, 0xb, 2);
    size_t n = peer_encap(&l->peer[SA_B], inner, sizeof(inner), out, sizeof(out));
    send_to(udp_b, out, n, AF_INET, gw4, NATT_PORT);
    assert_int_equal(await_reply(l, udp_b, SA_B, vip, 0xb, 500), 0);
    esp_io_counters(l->io, c1);
    assert_int_equal(c1[ESP_IO_DROP_NO_TUN], c0[ESP_IO_DROP_NO_TUN] + 1);
    close(udp_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devices_live_in_their_tenant_namespaces),
        cmocka_unit_test(test_a_client_pings_its_tenant_gateway),
        cmocka_unit_test(test_overlapping_tenants_stay_apart),
        cmocka_unit_test(test_a_forged_inner_source_is_dropped_and_counted),
        cmocka_unit_test(test_raw_esp_without_udp_encapsulation),
        cmocka_unit_test(test_ipv6_outer_addresses),
        cmocka_unit_test(test_ike_and_keepalives_on_the_natt_port),
        cmocka_unit_test(test_a_tenant_taken_down_gets_nothing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
