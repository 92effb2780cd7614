/* The ESP control thread: tenant device changes queued by other threads,
 * and one summary line per drop reason every log_interval_s seconds. */
#define _GNU_SOURCE
#include "esp/esp_io_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concentrator/log.h"
#include "esp/esp_sadb.h"

enum cmd_op { CMD_UP, CMD_DOWN, CMD_SYNC };

struct tun_cmd {
    struct tun_cmd *next;
    enum cmd_op op;
    uint32_t tenant;
    struct esp_tun_spec *specs; /* one for UP, n for SYNC */
    size_t n;
};

static void cmd_free(struct tun_cmd *c)
{
    if (!c)
        return;
    free(c->specs);
    free(c);
}

static void enqueue(struct esp_io *io, struct tun_cmd *c)
{
    pthread_mutex_lock(&io->ctl_lock);
    if (io->cmd_tail)
        io->cmd_tail->next = c;
    else
        io->cmd_head = c;
    io->cmd_tail = c;
    io->cmd_busy++;
    pthread_cond_signal(&io->ctl_cond);
    pthread_mutex_unlock(&io->ctl_lock);
}

static struct tun_cmd *cmd_new(enum cmd_op op, const struct esp_tun_spec *specs, size_t n)
{
    struct tun_cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->op = op;
    c->n = n;
    if (n) {
        c->specs = malloc(n * sizeof(*specs));
        if (!c->specs) {
            free(c);
            return NULL;
        }
        memcpy(c->specs, specs, n * sizeof(*specs));
    }
    return c;
}

void esp_io_tenant_up(struct esp_io *io, const struct esp_tun_spec *spec)
{
    struct tun_cmd *c = cmd_new(CMD_UP, spec, 1);
    if (!c) {
        log_err("esp", "tenant %s: device not brought up: out of memory", spec->name);
        return;
    }
    enqueue(io, c);
}

void esp_io_tenant_down(struct esp_io *io, uint32_t tenant)
{
    struct tun_cmd *c = cmd_new(CMD_DOWN, NULL, 0);
    if (!c) {
        log_err("esp", "tenant %u: device not removed: out of memory", tenant);
        return;
    }
    c->tenant = tenant;
    enqueue(io, c);
}

void esp_io_tenant_sync(struct esp_io *io, const struct esp_tun_spec *specs, size_t n)
{
    struct tun_cmd *c = cmd_new(CMD_SYNC, specs, n);
    if (!c) {
        log_err("esp", "tenant devices not updated: out of memory");
        return;
    }
    enqueue(io, c);
}

int esp_io_tenant_settle(struct esp_io *io, unsigned timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    int rc = 0;
    pthread_mutex_lock(&io->ctl_lock);
    while (io->cmd_busy && rc == 0)
        if (pthread_cond_timedwait(&io->ctl_idle, &io->ctl_lock, &dl) == ETIMEDOUT)
            rc = io->cmd_busy ? -1 : 0;
    pthread_mutex_unlock(&io->ctl_lock);
    return rc;
}

static void run_cmd(struct esp_io *io, struct tun_cmd *c)
{
    char err[300];
    switch (c->op) {
    case CMD_UP:
        if (esp_tun_add(io, &c->specs[0], err, sizeof(err)) < 0) {
            struct log_ctx ctx = {c->specs[0].name, NULL, NULL};
            log_msg(LOG_LVL_ERROR, "esp", &ctx, "device %s not up: %s", c->specs[0].ifname, err);
        }
        break;
    case CMD_DOWN:
        esp_tun_remove(io, c->tenant);
        break;
    case CMD_SYNC:
        esp_tun_sync(io, c->specs, c->n);
        break;
    }
}

/* --- drop summaries ------------------------------------------------------ */

struct totals {
    uint64_t sadb[ESP_REASON_COUNT];
    uint64_t io[ESP_IO_COUNTER_COUNT];
};

static bool io_is_drop(int c)
{
    return c == ESP_IO_DROP_IKE_QUEUE || c == ESP_IO_DROP_TUN_WRITE || c == ESP_IO_DROP_SEND ||
           c == ESP_IO_DROP_NO_TUN;
}

static void summarise(struct esp_io *io, struct totals *last)
{
    struct totals now = {0};
    esp_sadb_drops(io->db, now.sadb);
    esp_io_counters(io, now.io);
    for (int r = 1; r < ESP_REASON_COUNT; r++) {
        uint64_t d = now.sadb[r] - last->sadb[r];
        if (d && r != ESP_DROP_DUMMY)
            log_notice("esp", "dropped %llu packets in %u s: %s (%llu in all)",
                       (unsigned long long)d, io->cfg.log_interval_s,
                       esp_reason_name((enum esp_reason)r), (unsigned long long)now.sadb[r]);
    }
    for (int c = 0; c < ESP_IO_COUNTER_COUNT; c++) {
        uint64_t d = now.io[c] - last->io[c];
        if (d && io_is_drop(c))
            log_notice("esp", "dropped %llu packets in %u s: %s (%llu in all)",
                       (unsigned long long)d, io->cfg.log_interval_s,
                       esp_io_counter_name((enum esp_io_counter)c), (unsigned long long)now.io[c]);
    }
    uint64_t ka = now.io[ESP_IO_KEEPALIVES] - last->io[ESP_IO_KEEPALIVES];
    if (ka)
        log_debug("esp", "%llu NAT keepalives in %u s", (unsigned long long)ka,
                  io->cfg.log_interval_s);
    *last = now;
}

static void *ctl_main(void *arg)
{
    struct esp_io *io = arg;
    struct totals last;
    memset(&last, 0, sizeof(last));
    struct timespec next;
    clock_gettime(CLOCK_REALTIME, &next);
    next.tv_sec += io->cfg.log_interval_s;
    pthread_mutex_lock(&io->ctl_lock);
    while (!io->ctl_stop) {
        struct tun_cmd *c = io->cmd_head;
        if (c) {
            io->cmd_head = c->next;
            if (!io->cmd_head)
                io->cmd_tail = NULL;
            pthread_mutex_unlock(&io->ctl_lock);
            run_cmd(io, c);
            cmd_free(c);
            pthread_mutex_lock(&io->ctl_lock);
            if (--io->cmd_busy == 0)
                pthread_cond_broadcast(&io->ctl_idle);
            continue;
        }
        if (pthread_cond_timedwait(&io->ctl_cond, &io->ctl_lock, &next) == ETIMEDOUT) {
            pthread_mutex_unlock(&io->ctl_lock);
            summarise(io, &last);
            clock_gettime(CLOCK_REALTIME, &next);
            next.tv_sec += io->cfg.log_interval_s;
            pthread_mutex_lock(&io->ctl_lock);
        }
    }
    pthread_mutex_unlock(&io->ctl_lock);
    summarise(io, &last); /* what the last interval dropped */
    return NULL;
}

int esp_io_ctl_start(struct esp_io *io)
{
    if (pthread_create(&io->ctl_thread, NULL, ctl_main, io) != 0)
        return -1;
    io->ctl_started = true;
    return 0;
}

void esp_io_ctl_stop(struct esp_io *io)
{
    if (io->ctl_started) {
        pthread_mutex_lock(&io->ctl_lock);
        io->ctl_stop = true;
        pthread_cond_signal(&io->ctl_cond);
        pthread_mutex_unlock(&io->ctl_lock);
        pthread_join(io->ctl_thread, NULL);
        io->ctl_started = false;
    }
    while (io->cmd_head) {
        struct tun_cmd *c = io->cmd_head;
        io->cmd_head = c->next;
        cmd_free(c);
    }
    io->cmd_tail = NULL;
    io->cmd_busy = 0;
}
