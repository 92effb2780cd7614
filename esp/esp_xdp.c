/* The XDP program of the AF_XDP receive path: see esp_xdp.h. */
#define _GNU_SOURCE
#include "esp/esp_xdp.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "concentrator/log.h"

#define PROG_NAME  "isthmus_esp" /* the function in esp_xdp.bpf.c */
#define MAX_QUEUES 64            /* the XSK map's size */

/* The compiled program (Makefile: ESP_XDP_OBJ) and its size, which the
 * assembler works out. */
__asm__(".section .rodata\n"
        ".balign 8\n"
        ".global esp_xdp_obj\n"
        "esp_xdp_obj:\n"
        ".incbin \"" ESP_XDP_OBJ "\"\n"
        "esp_xdp_obj_end:\n"
        ".balign 8\n"
        ".global esp_xdp_obj_size\n"
        "esp_xdp_obj_size:\n"
        ".quad esp_xdp_obj_end - esp_xdp_obj\n"
        ".previous\n");
extern const char esp_xdp_obj[];
extern const uint64_t esp_xdp_obj_size;

struct esp_xdp {
    char ifname[IF_NAMESIZE];
    unsigned ifindex;
    unsigned queues;
    uint32_t mode; /* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
    struct bpf_object *obj;
    int prog_fd, xsks_fd;
};

/* Receive queues per ETHTOOL_GCHANNELS; 1 when the driver does not say. */
static unsigned rx_queues(const char *ifname)
{
    struct ethtool_channels ch = {.cmd = ETHTOOL_GCHANNELS};
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    ifr.ifr_data = (void *)&ch;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    unsigned n = 1;
    if (fd >= 0 && ioctl(fd, SIOCETHTOOL, &ifr) == 0) {
        unsigned q = ch.rx_count > ch.combined_count ? ch.rx_count : ch.combined_count;
        if (q)
            n = q;
    }
    if (fd >= 0)
        close(fd);
    return n < MAX_QUEUES ? n : MAX_QUEUES;
}

/* libbpf refuses options whose bytes past the last field it knows are not
 * zero, padding included: an initializer does not clear padding. */
static void xdp_opts(struct bpf_xdp_attach_opts *o, int old_prog_fd)
{
    memset(o, 0, sizeof(*o));
    o->sz = sizeof(*o);
    o->old_prog_fd = old_prog_fd;
}

/* The fd of the program attached to ifindex in mode if it is one of ours
 * (a previous run's), else -1; *other says another program is there. */
static int ours_attached(unsigned ifindex, uint32_t mode, bool *other)
{
    uint32_t id = 0;
    *other = false;
    if (bpf_xdp_query_id((int)ifindex, (int)mode, &id) < 0 || !id)
        return -1;
    int fd = bpf_prog_get_fd_by_id(id);
    struct bpf_prog_info info;
    uint32_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
        strcmp(info.name, PROG_NAME) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    *other = true;
    return -1;
}

static int attach_mode(struct esp_xdp *x, uint32_t mode, char *err, size_t errlen)
{
    bool other;
    int old = ours_attached(x->ifindex, mode, &other);
    if (other) {
        snprintf(err, errlen, "%s already has another XDP program", x->ifname);
        return -1;
    }
    struct bpf_xdp_attach_opts opts;
    xdp_opts(&opts, old);
    uint32_t flags = mode | (old >= 0 ? XDP_FLAGS_REPLACE : XDP_FLAGS_UPDATE_IF_NOEXIST);
    int rc = bpf_xdp_attach((int)x->ifindex, x->prog_fd, flags, old >= 0 ? &opts : NULL);
    if (old >= 0)
        close(old);
    if (rc < 0) {
        snprintf(err, errlen, "cannot attach the XDP program to %s: %s", x->ifname, strerror(-rc));
        return -1;
    }
    x->mode = mode;
    return 0;
}

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    (void)level;
    (void)fmt;
    (void)ap;
    return 0;
}

struct esp_xdp *esp_xdp_attach(const char *ifname, uint16_t natt_port, char *err, size_t errlen)
{
    struct esp_xdp *x = calloc(1, sizeof(*x));
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->prog_fd = x->xsks_fd = -1;
    snprintf(x->ifname, sizeof(x->ifname), "%s", ifname);
    x->ifindex = if_nametoindex(ifname);
    if (!x->ifindex) {
        snprintf(err, errlen, "[esp] xdp: no interface '%s'", ifname);
        goto fail;
    }
    x->queues = rx_queues(ifname);
    libbpf_set_print(quiet_libbpf);
    x->obj = bpf_object__open_mem(esp_xdp_obj, (size_t)esp_xdp_obj_size, NULL);
    if (!x->obj || bpf_object__load(x->obj) < 0) {
        snprintf(err, errlen,
                 "cannot load the XDP program (kernel without BPF, or no "
                 "CAP_BPF/CAP_NET_ADMIN)");
        goto fail;
    }
    struct bpf_program *prog = bpf_object__find_program_by_name(x->obj, PROG_NAME);
    struct bpf_map *xsks = bpf_object__find_map_by_name(x->obj, "isthmus_xsks");
    struct bpf_map *cfg = bpf_object__find_map_by_name(x->obj, "isthmus_cfg");
    if (!prog || !xsks || !cfg) {
        snprintf(err, errlen, "the embedded XDP program is incomplete");
        goto fail;
    }
    x->prog_fd = bpf_program__fd(prog);
    x->xsks_fd = bpf_map__fd(xsks);
    uint32_t key = 0, port = htons(natt_port);
    if (bpf_map_update_elem(bpf_map__fd(cfg), &key, &port, BPF_ANY) < 0) {
        snprintf(err, errlen, "cannot configure the XDP program: %s", strerror(errno));
        goto fail;
    }
    char e1[160], e2[160];
    if (attach_mode(x, XDP_FLAGS_DRV_MODE, e1, sizeof(e1)) < 0 &&
        attach_mode(x, XDP_FLAGS_SKB_MODE, e2, sizeof(e2)) < 0) {
        snprintf(err, errlen, "native: %s; generic: %s", e1, e2);
        goto fail;
    }
    return x;
fail:
    esp_xdp_detach(x);
    return NULL;
}

void esp_xdp_detach(struct esp_xdp *x)
{
    if (!x)
        return;
    if (x->mode) {
        struct bpf_xdp_attach_opts opts;
        xdp_opts(&opts, x->prog_fd);
        int rc = bpf_xdp_detach((int)x->ifindex, x->mode | XDP_FLAGS_REPLACE, &opts);
        if (rc < 0)
            log_warn("esp", "cannot detach the XDP program from %s: %s", x->ifname, strerror(-rc));
    }
    bpf_object__close(x->obj);
    free(x);
}

unsigned esp_xdp_ifindex(const struct esp_xdp *x)
{
    return x->ifindex;
}

const char *esp_xdp_ifname(const struct esp_xdp *x)
{
    return x->ifname;
}

unsigned esp_xdp_queues(const struct esp_xdp *x)
{
    return x->queues;
}

bool esp_xdp_native(const struct esp_xdp *x)
{
    return x->mode == XDP_FLAGS_DRV_MODE;
}

int esp_xdp_bind_queue(struct esp_xdp *x, unsigned queue, int fd)
{
    uint32_t key = queue, val = (uint32_t)fd;
    return bpf_map_update_elem(x->xsks_fd, &key, &val, BPF_ANY) < 0 ? -1 : 0;
}
